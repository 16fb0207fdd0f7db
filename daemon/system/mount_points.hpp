// The real MountPoints: directories prepared component by component with
// O_NOFOLLOW, so a symbolic link planted in the path cannot redirect a mount
// into the system's own trees. Thread safe.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class DirMountPoints final : public engine::MountPoints {
public:
    engine::Result<engine::Changed> prepare(const std::string& path) override;
    engine::Result<engine::Changed> preparePrivate(const std::string& path) override;
    void remove(const std::string& path) override;
    engine::Result<engine::Changed> adopt(const std::string& path, uid_t uid, gid_t gid) override;

private:
    // Directories it creates get @mode.
    engine::Result<engine::Changed> prepareWith(const std::string& path, mode_t mode);
};

}  // namespace vaultd::system
