#include "daemon_probe.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vaultd::fuzz {
namespace {

namespace fs = std::filesystem;

// mountinfo writes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& field)
{
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            out += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

bool under(const std::string& path, const std::string& root)
{
    return path == root || path.starts_with(root + "/");
}

}  // namespace

DaemonSample sampleDaemon(pid_t pid)
{
    DaemonSample s;
    const fs::path proc = fmt::format("/proc/{}", pid);
    std::ifstream status(proc / "status");
    std::string line;
    while (std::getline(status, line)) {
        s.alive = true;
        std::istringstream words(line);
        std::string key;
        words >> key;
        if (key == "VmRSS:")
            words >> s.rssKib;
        else if (key == "Threads:")
            words >> s.threads;
    }
    std::error_code ec;
    for (auto it = fs::directory_iterator(proc / "fd", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        ++s.fds;
    return s;
}

MountWatch::MountWatch(std::vector<std::string> allowedRoots)
    : before_(read()), roots_(std::move(allowedRoots))
{
}

std::set<MountWatch::Mount> MountWatch::read()
{
    std::set<Mount> mounts;
    std::ifstream info("/proc/self/mountinfo");
    std::string line;
    while (std::getline(info, line)) {
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string w; words >> w;)
            fields.push_back(w);
        // ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        std::size_t dash = 6;
        while (dash < fields.size() && fields[dash] != "-")
            ++dash;
        if (fields.size() < 5 || dash + 2 >= fields.size())
            continue;
        mounts.insert({unescape(fields[4]), unescape(fields[dash + 2])});
    }
    return mounts;
}

bool MountWatch::expected(const Mount& m) const
{
    const bool mapping = m.source.starts_with("/dev/mapper/") || m.source.starts_with("/dev/dm-");
    for (const auto& root : roots_) {
        if (mapping && under(m.target, root))
            return true;
    }
    return false;
}

std::vector<std::string> MountWatch::added() const
{
    std::vector<std::string> out;
    for (const auto& m : read()) {
        if (!before_.count(m))
            out.push_back(fmt::format("{} ({})", m.target, m.source));
    }
    return out;
}

std::vector<std::string> MountWatch::unexpected() const
{
    std::vector<std::string> out;
    for (const auto& m : read()) {
        if (!before_.count(m) && !expected(m))
            out.push_back(fmt::format("{} ({})", m.target, m.source));
    }
    return out;
}

}  // namespace vaultd::fuzz
