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

}  // namespace

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
