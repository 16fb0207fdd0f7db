// The real FilesystemTools: mkfs.ext4, mkfs.xfs and mkfs.btrfs through
// runTool. Thread safe.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class SpawnedTools final : public engine::FilesystemTools {
public:
    engine::Status make(engine::Filesystem fs, const std::string& node,
                        const std::string& label) override;
};

}  // namespace vaultd::system
