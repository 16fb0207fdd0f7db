#include "system/unlock_records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>

#include "system/log.hpp"

namespace vaultd::system {

RunDirUnlockRecords::RunDirUnlockRecords(std::string directory) : directory_(std::move(directory))
{
}

std::string RunDirUnlockRecords::pathOf(const std::string& luksUuid) const
{
    if (luksUuid.empty() || luksUuid.size() > 64)
        return {};
    for (char c : luksUuid) {
        if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-')
            return {};
    }
    return directory_ + "/" + luksUuid;
}

void RunDirUnlockRecords::record(const std::string& luksUuid, uid_t uid)
{
    const std::string path = pathOf(luksUuid);
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    chmod(directory_.c_str(), 0700);
    std::ofstream out(path, std::ios::trunc);
    out << uid << '\n';
    if (path.empty() || !out)
        log::warning(fmt::format("failed to record who unlocked '{}', ignoring", luksUuid),
                     {{log::Field::Uid, std::to_string(uid)}});
}

std::optional<uid_t> RunDirUnlockRecords::find(const std::string& luksUuid)
{
    const std::string path = pathOf(luksUuid);
    if (path.empty())
        return std::nullopt;
    std::ifstream in(path);
    unsigned long uid = 0;
    if (!(in >> uid))
        return std::nullopt;
    return static_cast<uid_t>(uid);
}

void RunDirUnlockRecords::forget(const std::string& luksUuid)
{
    const std::string path = pathOf(luksUuid);
    if (!path.empty())
        (void)unlink(path.c_str());
}

}  // namespace vaultd::system
