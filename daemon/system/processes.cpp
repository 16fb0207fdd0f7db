#include "system/processes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "system/sysfs.hpp"

namespace vaultd::system {
namespace {

namespace fs = std::filesystem;

std::string readLink(const fs::path& path)
{
    std::error_code ec;
    auto target = fs::read_symlink(path, ec);
    return ec ? std::string() : target.string();
}

// /proc/PID/maps gives a mapping's device as hex "major:minor".
std::string mapsDevnum(const std::string& field)
{
    const auto colon = field.find(':');
    if (colon == std::string::npos)
        return {};
    const unsigned long major = std::strtoul(field.substr(0, colon).c_str(), nullptr, 16);
    const unsigned long minor = std::strtoul(field.substr(colon + 1).c_str(), nullptr, 16);
    return std::to_string(major) + ":" + std::to_string(minor);
}

class Scan {
public:
    Scan(const fs::path& dir, int pid, const std::set<std::string>& devnums)
        : dir_(dir), pid_(pid), devnums_(devnums)
    {
    }

    void run(std::vector<engine::DeviceUser>& out)
    {
        std::string command;
        std::getline(std::ifstream(dir_ / "comm"), command);
        auto add = [&](std::string how) {
            if (seen_.insert(how).second)
                out.push_back({pid_, command, std::move(how)});
        };
        struct stat st {};
        if (stat((dir_ / "cwd").c_str(), &st) == 0 && devnums_.count(devnumOf(st.st_dev)))
            add(fmt::format("works in {}", readLink(dir_ / "cwd")));
        if (stat((dir_ / "root").c_str(), &st) == 0 && devnums_.count(devnumOf(st.st_dev)) &&
            readLink(dir_ / "root") != "/")
            add(fmt::format("has its root in {}", readLink(dir_ / "root")));
        std::error_code ec;
        for (const auto& fd : fs::directory_iterator(dir_ / "fd", ec)) {
            if (stat(fd.path().c_str(), &st) != 0)
                continue;
            if (S_ISBLK(st.st_mode) && devnums_.count(devnumOf(st.st_rdev)))
                add(fmt::format("has {} open", readLink(fd.path())));
            else if (devnums_.count(devnumOf(st.st_dev)))
                add(fmt::format("has {} open", readLink(fd.path())));
        }
        // "RANGE PERMS OFFSET DEV INODE PATH": split by hand, an
        // istringstream per line costs more than all the rest of the scan.
        std::ifstream maps(dir_ / "maps");
        std::string line;
        while (std::getline(maps, line)) {
            std::string_view rest(line);
            std::string_view field[5];
            bool complete = true;
            for (auto& f : field) {
                const auto start = rest.find_first_not_of(' ');
                if (start == std::string_view::npos) {
                    complete = false;
                    break;
                }
                rest.remove_prefix(start);
                const auto end = std::min(rest.find(' '), rest.size());
                f = rest.substr(0, end);
                rest.remove_prefix(end);
            }
            if (!complete || field[4] == "0" || !devnums_.count(mapsDevnum(std::string(field[3]))))
                continue;
            const auto path = rest.find_first_not_of(' ');
            add(fmt::format("maps {}", path == std::string_view::npos ? std::string_view()
                                                                      : rest.substr(path)));
        }
    }

private:
    fs::path dir_;
    int pid_;
    const std::set<std::string>& devnums_;
    std::set<std::string> seen_;
};

}  // namespace

ProcProcesses::ProcProcesses(std::string procRoot) : procRoot_(std::move(procRoot)) {}

std::vector<engine::DeviceUser> ProcProcesses::usersOf(const std::vector<std::string>& devnums)
{
    const std::set<std::string> wanted(devnums.begin(), devnums.end());
    std::vector<engine::DeviceUser> users;
    const int self = getpid();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(procRoot_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
            continue;
        const int pid = std::atoi(name.c_str());
        if (pid == self)
            continue;
        Scan(entry.path(), pid, wanted).run(users);
    }
    return users;
}

}  // namespace vaultd::system
