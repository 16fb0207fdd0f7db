// The real UnlockRecords: one small file per unlocked volume, named by its
// LUKS UUID, holding the uid that unlocked it, in a root-only directory under
// /run (gone at reboot, like the mappings it describes). Thread safe.
#pragma once

#include <string>

#include "engine/ports.hpp"

namespace vaultd::system {

class RunDirUnlockRecords final : public engine::UnlockRecords {
public:
    explicit RunDirUnlockRecords(std::string directory = "/run/vaultd/unlocked");

    void record(const std::string& luksUuid, uid_t uid) override;
    std::optional<uid_t> find(const std::string& luksUuid) override;
    void forget(const std::string& luksUuid) override;

private:
    // Empty for a UUID that could name anything but a plain file here.
    std::string pathOf(const std::string& luksUuid) const;

    std::string directory_;
};

}  // namespace vaultd::system
