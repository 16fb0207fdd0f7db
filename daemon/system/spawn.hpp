// Runs one of the filesystem tools that have no library (mkfs.*, resize2fs,
// xfs_growfs, btrfs), or clevis for network-bound keys: found in the system's sbin and bin
// directories only, started without a shell, stdin from /dev/null, a minimal environment, and its
// output collected for the error message. Blocks until the tool exits; thread safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/secret_buffer.hpp"

namespace vaultd::system {

struct ToolRun {
    int exitStatus = -1;  // the exit code, or -1 if killed by a signal
    std::string output;   // stdout and stderr, capped
};

engine::Result<ToolRun> runTool(const std::string& tool, const std::vector<std::string>& args);

// A key helper (clevis) run: its exit code and its stderr, capped.
struct HelperRun {
    int exitStatus = -1;  // -1 if killed by a signal (or for taking too long)
    bool timedOut = false;
    std::string errors;
};

// Runs a key helper found as runTool finds tools, without a shell or a
// terminal: stdin is @input in a sealed memory file (nothing can write to
// it; never a terminal), stdout goes into @output (a wiped buffer: it may be
// a key) and stderr is kept for the message. The helper and what it starts
// are killed after @timeout.
engine::Result<HelperRun> runKeyHelper(const std::string& tool,
                                       const std::vector<std::string>& args, std::string_view input,
                                       engine::SecretBuffer& output,
                                       std::chrono::milliseconds timeout);

}  // namespace vaultd::system
