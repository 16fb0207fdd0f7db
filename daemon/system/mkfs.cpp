#include "system/mkfs.hpp"

#include <fmt/format.h>

#include "system/spawn.hpp"

namespace vaultd::system {
namespace {

std::string lastLine(const std::string& text)
{
    std::size_t end = text.find_last_not_of("\n ");
    if (end == std::string::npos)
        return "no output";
    std::size_t start = text.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    return text.substr(start, end - start + 1);
}

engine::Status ranWell(const std::string& tool, const std::string& subject,
                       const engine::Result<ToolRun>& run, int worstFine = 0)
{
    if (!run)
        return run.error();
    if (run.value().exitStatus < 0 || run.value().exitStatus > worstFine)
        return engine::makeError(
            engine::ErrorCode::Failed,
            fmt::format("{} failed on '{}': {}", tool, subject, lastLine(run.value().output)));
    return engine::Done{};
}

}  // namespace

engine::Status SpawnedTools::grow(engine::Filesystem fs, const std::string& node,
                                  const std::string& mountPoint)
{
    using engine::Filesystem;
    if (fs != Filesystem::Ext4 && mountPoint.empty())
        return engine::makeError(
            engine::ErrorCode::WrongState,
            fmt::format("{} grows only while mounted", engine::filesystemName(fs)));
    switch (fs) {
    case Filesystem::Ext4:
        if (mountPoint.empty()) {
            // resize2fs works offline only on a filesystem checked since it
            // was last mounted. e2fsck -p exits 1 when it fixed something.
            if (auto st = ranWell("e2fsck", node, runTool("e2fsck", {"-f", "-p", node}), 1); !st)
                return st;
        }
        // Mounted, resize2fs finds the mount itself and grows it online.
        return ranWell("resize2fs", node, runTool("resize2fs", {node}));
    case Filesystem::Xfs:
        // xfs_growfs takes the mount point and nothing else.
        return ranWell("xfs_growfs", mountPoint, runTool("xfs_growfs", {"-d", mountPoint}));
    case Filesystem::Btrfs:
        return ranWell("btrfs filesystem resize", mountPoint,
                       runTool("btrfs", {"filesystem", "resize", "max", mountPoint}));
    }
    return engine::makeError(engine::ErrorCode::Failed, "unknown filesystem");
}

engine::Status SpawnedTools::make(engine::Filesystem fs, const std::string& node,
                                  const std::string& label)
{
    const std::string tool = fmt::format("mkfs.{}", engine::filesystemName(fs));
    // The target is a mapping vaultd opened a moment ago over a freshly
    // written header, so forcing past stale-looking data is safe.
    std::vector<std::string> args = {"-q", fs == engine::Filesystem::Ext4 ? "-F" : "-f"};
    if (!label.empty()) {
        args.push_back("-L");
        args.push_back(label);
    }
    args.push_back(node);

    auto run = runTool(tool, args);
    if (!run)
        return run.error();
    if (run.value().exitStatus != 0)
        return engine::makeError(
            engine::ErrorCode::Failed,
            fmt::format("{} failed on '{}': {}", tool, node, lastLine(run.value().output)));
    return engine::Done{};
}

}  // namespace vaultd::system
