#include "system/unlock_records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>

#include "engine/validate.hpp"
#include "system/log.hpp"

namespace vaultd::system {

RunDirUnlockRecords::RunDirUnlockRecords(std::string directory) : directory_(std::move(directory))
{
}

std::string RunDirUnlockRecords::pathOf(const std::string& mappingName) const
{
    // Mapping names vaultd opens pass engine::checkMappingName; a mapping
    // somebody else opened may hold anything, and gets no record.
    if (engine::checkMappingName(mappingName))
        return directory_ + "/" + mappingName;
    return {};
}

void RunDirUnlockRecords::record(const std::string& mappingName, const std::string& luksUuid,
                                 uid_t uid)
{
    const std::string path = pathOf(mappingName);
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    chmod(directory_.c_str(), 0700);
    bool written = false;
    if (!path.empty()) {
        std::ofstream out(path, std::ios::trunc);
        out << uid << ' ' << luksUuid << '\n';
        written = static_cast<bool>(out);
    }
    if (!written)
        log::warning("failed to record who unlocked a mapping, ignoring",
                     {{log::Field::Mapping, mappingName}, {log::Field::Uid, std::to_string(uid)}});
}

std::optional<uid_t> RunDirUnlockRecords::find(const std::string& mappingName,
                                               const std::string& luksUuid)
{
    const std::string path = pathOf(mappingName);
    if (path.empty())
        return std::nullopt;
    std::ifstream in(path);
    unsigned long uid = 0;
    std::string uuid;
    if (!(in >> uid >> uuid) || uuid != luksUuid)
        return std::nullopt;
    return static_cast<uid_t>(uid);
}

void RunDirUnlockRecords::forget(const std::string& mappingName)
{
    const std::string path = pathOf(mappingName);
    if (!path.empty())
        (void)unlink(path.c_str());
}

}  // namespace vaultd::system
