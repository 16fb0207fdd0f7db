// The real FilesystemTools: mkfs.ext4, mkfs.xfs and mkfs.btrfs to make,
// resize2fs (after e2fsck when offline), xfs_growfs and btrfs to grow, all
// through runTool. Thread safe.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class SpawnedTools final : public engine::FilesystemTools {
public:
    engine::Status make(engine::Filesystem fs, const std::string& node,
                        const std::string& label) override;
    engine::Status grow(engine::Filesystem fs, const std::string& node,
                        const std::string& mountPoint) override;
};

}  // namespace vaultd::system
