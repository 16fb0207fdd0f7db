// Runs one of the filesystem tools that have no library (mkfs.*, resize2fs,
// xfs_growfs, btrfs): found in the system's sbin and bin directories only,
// started without a shell, stdin from /dev/null, a minimal environment, and
// its output collected for the error message. Blocks until the tool exits;
// thread safe.
#pragma once

#include <string>
#include <vector>

#include "engine/error.hpp"

namespace vaultd::system {

struct ToolRun {
    int exitStatus = -1;  // the exit code, or -1 if killed by a signal
    std::string output;   // stdout and stderr, capped
};

engine::Result<ToolRun> runTool(const std::string& tool, const std::vector<std::string>& args);

}  // namespace vaultd::system
