// The real UnlockRecords: one small file per mapping vaultd opened, named by
// the mapping, holding the uid that unlocked it and the volume's LUKS UUID,
// in a root-only directory under /run (gone at reboot, like the mappings it
// describes). Thread safe.
#pragma once

#include <string>

#include "engine/ports.hpp"

namespace vaultd::system {

class RunDirUnlockRecords final : public engine::UnlockRecords {
public:
    explicit RunDirUnlockRecords(std::string directory = "/run/vaultd/unlocked");

    void record(const std::string& mappingName, const std::string& luksUuid, uid_t uid) override;
    std::optional<uid_t> find(const std::string& mappingName, const std::string& luksUuid) override;
    void forget(const std::string& mappingName) override;

private:
    // Empty for a name that could be anything but a plain file here.
    std::string pathOf(const std::string& mappingName) const;

    std::string directory_;
};

}  // namespace vaultd::system
