// vaultctl doctor: the pieces a working setup needs, each checked, with a fix for each one
// missing. diagnose() is a pure function of Facts, so every rule is testable without the system;
// gatherFacts() reads them from the kernel's files, the user database and the system bus.
// Not thread safe.
#pragma once

#include <sdbus-c++/IConnection.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace vaultctl {

enum class Verdict {
    ok,
    warning,  // works, but not as well as it could, or not yet for this login
    missing,  // something a working setup needs; the finding says how to fix it
    skipped   // could not be checked, because something it needs is missing
};

struct Finding {
    Finding(std::string check, Verdict verdict, std::string detail, std::string fix = {})
        : check(std::move(check)), verdict(verdict), detail(std::move(detail)), fix(std::move(fix))
    {
    }

    std::string check;  // "dm-crypt", "hardware AES", ...
    Verdict verdict;
    std::string detail;  // what was found
    std::string fix;     // what to do; empty when nothing is to be done
};

// What vaultd said on the bus, or why it said nothing.
struct DaemonFacts {
    bool reachable = false;
    std::string version;
    std::string problem;                               // when not reachable
    std::optional<std::uint64_t> keyDerivationMemory;  // Manager.KeyDerivationMemory, bytes
};

struct Facts {
    std::string kernelRelease;   // uname -r
    bool dmCryptLoaded = false;  // /sys/module/dm_crypt
    // The module lists of the running kernel: /lib/modules/RELEASE/modules.builtin and
    // modules.dep; empty when the kernel's modules are not installed.
    std::string modulesBuiltin;
    std::string modulesDep;
    std::string cpuinfo;  // /proc/cpuinfo
    std::string crypto;   // /proc/crypto
    std::string meminfo;  // /proc/meminfo

    bool busReachable = false;  // the system bus answered at all
    DaemonFacts daemon;
    bool polkitOnBus = false;  // org.freedesktop.PolicyKit1 owned or activatable

    uid_t uid = 0;
    std::string userName;
    bool groupExists = false;      // the group 'vault'
    bool groupInProcess = false;   // this process has it (the login has it)
    bool groupInDatabase = false;  // the user database lists the user in it
};

// The group whose members may unlock, mount and lock without a password.
inline constexpr const char* kVaultGroup = "vault";

std::vector<Finding> diagnose(const Facts& facts);

// True when no finding is missing: what vaultctl doctor's exit code says.
bool healthy(const std::vector<Finding>& findings);

// Reads the facts. @bus is the system bus, or null when none could be reached (@busProblem says
// why); vaultd is started by D-Bus activation if it is not running.
Facts gatherFacts(sdbus::IConnection* bus, const std::string& busProblem);

std::string_view verdictName(Verdict verdict);
// One line a finding ("ok       dm-crypt      loaded"), and "fix: ..." under those that have one.
std::string formatFindings(const std::vector<Finding>& findings);
// {"ok": bool, "checks": [{"check", "result", "detail", "fix"}]}
nlohmann::ordered_json findingsToJson(const std::vector<Finding>& findings);

}  // namespace vaultctl
