// Looks at vaultd from outside: its resident memory, descriptors and threads
// from /proc/PID, and which mounts appeared since the run began. Reads only;
// not thread safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace vaultd::fuzz {

struct DaemonSample {
    bool alive = false;
    std::uint64_t rssKib = 0;  // VmRSS
    unsigned fds = 0;
    unsigned threads = 0;
};

DaemonSample sampleDaemon(pid_t pid);

class MountWatch {
public:
    // A mount of a device-mapper node under one of @allowedRoots is expected
    // (the target's filesystem); every other new mount is not.
    explicit MountWatch(std::vector<std::string> allowedRoots);

    // New mounts since construction, as "TARGET (SOURCE)".
    std::vector<std::string> added() const;
    std::vector<std::string> unexpected() const;

private:
    struct Mount {
        std::string target;
        std::string source;
        auto operator<=>(const Mount&) const = default;
    };
    static std::set<Mount> read();
    bool expected(const Mount& m) const;

    std::set<Mount> before_;
    std::vector<std::string> roots_;
};

}  // namespace vaultd::fuzz
