#include "doctor.hpp"

#include <fmt/format.h>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace vaultctl {
namespace {

constexpr const char* kPolkitName = "org.freedesktop.PolicyKit1";

std::vector<std::string_view> lines(std::string_view text)
{
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto end = text.find('\n');
        out.push_back(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    return out;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// "key : value" lines (/proc/cpuinfo, /proc/crypto): the values of every line with @key.
std::vector<std::string_view> valuesOf(std::string_view text, std::string_view key)
{
    std::vector<std::string_view> out;
    for (std::string_view line : lines(text)) {
        auto colon = line.find(':');
        if (colon != std::string_view::npos && trim(line.substr(0, colon)) == key)
            out.push_back(trim(line.substr(colon + 1)));
    }
    return out;
}

bool hasWord(std::string_view words, std::string_view word)
{
    std::istringstream in{std::string(words)};
    std::string w;
    while (in >> w)
        if (w == word)
            return true;
    return false;
}

// The modules a modules.builtin or modules.dep lists, by name: "kernel/drivers/md/dm-crypt.ko.xz:
// ..." is dm_crypt (the kernel takes - and _ in module names as one).
std::set<std::string> moduleNames(std::string_view list)
{
    std::set<std::string> names;
    for (std::string_view line : lines(list)) {
        line = line.substr(0, line.find(':'));
        auto slash = line.rfind('/');
        std::string_view file = slash == std::string_view::npos ? line : line.substr(slash + 1);
        auto ko = file.find(".ko");
        if (ko == std::string_view::npos)
            continue;
        std::string name(file.substr(0, ko));
        std::replace(name.begin(), name.end(), '-', '_');
        names.insert(std::move(name));
    }
    return names;
}

bool anyOf(const std::set<std::string>& names, std::initializer_list<const char*> wanted)
{
    return std::any_of(wanted.begin(), wanted.end(),
                       [&](const char* name) { return names.count(name) != 0; });
}

// @what: what is missing, for the sentence.
std::string installModulesFix(const Facts& facts, std::string_view what)
{
    return fmt::format(
        "install the kernel modules of the running kernel {0}, where {1} is (on Ubuntu the package "
        "linux-modules-extra-{0}; Debian's and Amazon Linux's kernel packages have it), or boot a "
        "kernel that has them",
        facts.kernelRelease, what);
}

Finding dmCrypt(const Facts& facts)
{
    const char* check = "dm-crypt";
    if (facts.dmCryptLoaded)
        return {check, Verdict::ok, "loaded in the kernel"};
    if (moduleNames(facts.modulesBuiltin).count("dm_crypt") != 0)
        return {check, Verdict::ok, "built into the kernel"};
    if (moduleNames(facts.modulesDep).count("dm_crypt") != 0)
        return {check, Verdict::ok, "loadable: the kernel loads it at the first unlock"};
    return {check, Verdict::missing,
            fmt::format("kernel {} has no dm-crypt: not loaded, not built in, no module",
                        facts.kernelRelease),
            installModulesFix(facts, "dm-crypt")};
}

Finding hardwareAes(const Facts& facts)
{
    const char* check = "hardware AES";
    // x86 lists its CPU features as "flags", arm64 as "Features".
    for (const char* key : {"flags", "Features"})
        for (std::string_view words : valuesOf(facts.cpuinfo, key))
            if (hasWord(words, "aes"))
                return {check, Verdict::ok, "the CPU has AES instructions"};
    return {check, Verdict::warning,
            "the CPU shows no AES instructions: dm-crypt encrypts in software, several times "
            "slower",
            "choose an instance type whose CPU has AES instructions (every current x86 and "
            "Graviton type has them)"};
}

// vaultd formats with aes-xts-plain64, which dm-crypt asks the kernel for as xts(aes).
Finding ciphers(const Facts& facts)
{
    const char* check = "ciphers";
    std::set<std::string> inKernel;
    for (std::string_view name : valuesOf(facts.crypto, "name"))
        inKernel.emplace(name);
    if (inKernel.count("xts(aes)") != 0)
        return {check, Verdict::ok, "the kernel has xts(aes), for aes-xts-plain64"};

    std::set<std::string> modules = moduleNames(facts.modulesBuiltin);
    modules.merge(moduleNames(facts.modulesDep));
    bool aes = inKernel.count("aes") != 0 ||
               anyOf(modules, {"aes_generic", "aesni_intel", "aes_ce_blk", "aes_neon_blk"});
    bool xts = modules.count("xts") != 0 ||
               std::any_of(inKernel.begin(), inKernel.end(),
                           [](const std::string& name) { return name.starts_with("xts("); });
    if (aes && xts)
        return {check, Verdict::ok,
                "aes and xts are there: the kernel makes xts(aes) at the first unlock"};
    return {check, Verdict::missing,
            fmt::format("the kernel has no {}, which aes-xts-plain64 needs",
                        aes ? "xts" : (xts ? "aes" : "aes and no xts")),
            installModulesFix(facts, aes ? "xts" : "aes")};
}

Finding daemon(const Facts& facts)
{
    const char* check = "vaultd";
    if (!facts.busReachable)
        return {check, Verdict::missing,
                fmt::format("there is no system bus to ask: {}", facts.daemon.problem),
                "start the system bus (sudo systemctl start dbus); vaultd and polkit answer on it"};
    if (facts.daemon.reachable)
        return {check, Verdict::ok,
                fmt::format("vaultd {} answers on the system bus", facts.daemon.version)};
    return {check, Verdict::missing,
            fmt::format("vaultd does not answer on the system bus: {}", facts.daemon.problem),
            "sudo systemctl enable --now vaultd; if it does not start, journalctl -u vaultd "
            "says why"};
}

Finding polkit(const Facts& facts)
{
    const char* check = "polkit";
    if (!facts.busReachable)
        return {check, Verdict::skipped, "polkit answers on the system bus, which is not there"};
    if (facts.polkitOnBus)
        return {check, Verdict::ok, "polkit answers on the system bus"};
    const char* fix =
        "install polkit (Debian and Ubuntu: apt install polkitd; Amazon Linux and "
        "Fedora: dnf install polkit)";
    // vaultd lets root through without asking polkit; everyone else is refused without it.
    if (facts.uid == 0)
        return {check, Verdict::warning,
                "polkit is not on the system bus: root may still do everything, every other "
                "user is refused",
                fix};
    return {check, Verdict::missing, "polkit is not on the system bus", fix};
}

Finding group(const Facts& facts)
{
    const char* check = "group";
    if (facts.uid == 0)
        return {check, Verdict::ok, "root may do everything without the group 'vault'"};
    if (!facts.groupExists)
        return {check, Verdict::missing, "there is no group 'vault'",
                "sudo systemd-sysusers (vaultd's sysusers.d file makes it), or sudo groupadd "
                "--system vault; then add the users who may use vaultd to it"};
    if (facts.groupInProcess)
        return {check, Verdict::ok,
                fmt::format("{} is in the group 'vault': unlock, mount and lock need no "
                            "password",
                            facts.userName)};
    if (facts.groupInDatabase)
        return {
            check, Verdict::warning,
            fmt::format("{} was added to the group 'vault' after this login began", facts.userName),
            "log in again (or run newgrp vault) so that this session has the group"};
    return {check, Verdict::missing,
            fmt::format("{} is not in the group 'vault': every change asks for an "
                        "administrator's password",
                        facts.userName),
            fmt::format("sudo usermod -aG vault {}, then log in again", facts.userName)};
}

std::optional<std::uint64_t> memAvailable(std::string_view meminfo)
{
    for (std::string_view value : valuesOf(meminfo, "MemAvailable")) {
        std::uint64_t kib = 0;
        std::istringstream in{std::string(value)};
        if (in >> kib)
            return kib * 1024;
    }
    return std::nullopt;
}

std::string mib(std::uint64_t bytes)
{
    return fmt::format("{} MiB", bytes >> 20);
}

Finding memory(const Facts& facts)
{
    const char* check = "memory";
    auto available = memAvailable(facts.meminfo);
    if (!available)
        return {check, Verdict::skipped, "/proc/meminfo has no MemAvailable"};
    if (!facts.daemon.keyDerivationMemory)
        return {check, Verdict::skipped,
                "vaultd, which says what a key derivation costs, did not answer"};
    std::uint64_t need = *facts.daemon.keyDerivationMemory;
    if (*available >= need)
        return {check, Verdict::ok,
                fmt::format("{} available; unlocking a keyslot vaultd makes needs {}",
                            mib(*available), mib(need))};
    return {check, Verdict::missing,
            fmt::format("{} available, and unlocking a keyslot vaultd makes needs {}: such an "
                        "unlock is refused (InsufficientMemory)",
                        mib(*available), mib(need)),
            "free memory, or use a larger instance; pbkdf.smallest-instance-mib in "
            "/etc/vaultd/vaultd.conf sets the cost of the keyslots made from then on"};
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool exists(const std::string& path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

void readGroup(Facts& facts)
{
    facts.uid = ::getuid();
    const passwd* pw = ::getpwuid(facts.uid);
    facts.userName = pw ? pw->pw_name : std::to_string(facts.uid);
    const struct group* gr = ::getgrnam(kVaultGroup);
    facts.groupExists = gr != nullptr;
    if (!gr)
        return;
    const gid_t vault = gr->gr_gid;

    std::vector<gid_t> groups(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
    int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
    groups.resize(static_cast<std::size_t>(std::max(n, 0)));
    facts.groupInProcess =
        ::getegid() == vault || std::find(groups.begin(), groups.end(), vault) != groups.end();

    if (!pw)
        return;
    int count = 64;
    std::vector<gid_t> listed(static_cast<std::size_t>(count));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, listed.data(), &count) < 0) {
        listed.resize(static_cast<std::size_t>(count));
        ::getgrouplist(pw->pw_name, pw->pw_gid, listed.data(), &count);
    }
    listed.resize(static_cast<std::size_t>(std::max(count, 0)));
    facts.groupInDatabase = std::find(listed.begin(), listed.end(), vault) != listed.end();
}

void readBus(Facts& facts, sdbus::IConnection& bus)
{
    auto dbus = sdbus::createProxy(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool owned = false;
    dbus->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(kPolkitName))
        .storeResultsTo(owned);
    std::vector<std::string> activatable;
    if (!owned)
        dbus->callMethod("ListActivatableNames")
            .onInterface("org.freedesktop.DBus")
            .storeResultsTo(activatable);
    facts.polkitOnBus = owned || std::find(activatable.begin(), activatable.end(), kPolkitName) !=
                                     activatable.end();

    // Reading a property starts vaultd by D-Bus activation when it is not running.
    auto vaultd = sdbus::createProxy(bus, "org.vaultd.Vault1", "/org/vaultd/Vault1");
    try {
        facts.daemon.version = vaultd->getProperty("Version")
                                   .onInterface("org.vaultd.Vault1.Manager")
                                   .get<std::string>();
        facts.daemon.reachable = true;
        facts.daemon.keyDerivationMemory = vaultd->getProperty("KeyDerivationMemory")
                                               .onInterface("org.vaultd.Vault1.Manager")
                                               .get<std::uint64_t>();
    } catch (const sdbus::Error& e) {
        if (!facts.daemon.reachable)
            facts.daemon.problem = e.getMessage();
    }
}

}  // namespace

std::vector<Finding> diagnose(const Facts& facts)
{
    return {dmCrypt(facts), hardwareAes(facts), ciphers(facts), daemon(facts),
            polkit(facts),  group(facts),       memory(facts)};
}

bool healthy(const std::vector<Finding>& findings)
{
    return std::none_of(findings.begin(), findings.end(),
                        [](const Finding& f) { return f.verdict == Verdict::missing; });
}

Facts gatherFacts(sdbus::IConnection* bus, const std::string& busProblem)
{
    Facts facts;
    utsname un{};
    if (::uname(&un) == 0)
        facts.kernelRelease = un.release;
    const std::string modules = "/lib/modules/" + facts.kernelRelease;
    facts.dmCryptLoaded = exists("/sys/module/dm_crypt");
    facts.modulesBuiltin = readFile(modules + "/modules.builtin");
    facts.modulesDep = readFile(modules + "/modules.dep");
    facts.cpuinfo = readFile("/proc/cpuinfo");
    facts.crypto = readFile("/proc/crypto");
    facts.meminfo = readFile("/proc/meminfo");
    readGroup(facts);

    facts.daemon.problem = busProblem;
    facts.busReachable = bus != nullptr;
    if (bus) {
        try {
            readBus(facts, *bus);
        } catch (const sdbus::Error& e) {
            facts.daemon.problem = e.getMessage();
        }
    }
    return facts;
}

std::string_view verdictName(Verdict verdict)
{
    switch (verdict) {
    case Verdict::ok: return "ok";
    case Verdict::warning: return "warning";
    case Verdict::missing: return "missing";
    case Verdict::skipped: return "skipped";
    }
    return "?";
}

std::string formatFindings(const std::vector<Finding>& findings)
{
    std::size_t width = 0;
    for (const Finding& f : findings)
        width = std::max(width, f.check.size());
    std::string out;
    for (const Finding& f : findings) {
        out += fmt::format("{:<8} {:<{}}  {}\n", verdictName(f.verdict), f.check, width, f.detail);
        if (!f.fix.empty())
            out += fmt::format("{:<8} {:<{}}  fix: {}\n", "", "", width, f.fix);
    }
    return out;
}

nlohmann::ordered_json findingsToJson(const std::vector<Finding>& findings)
{
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const Finding& f : findings)
        checks.push_back({{"check", f.check},
                          {"result", verdictName(f.verdict)},
                          {"detail", f.detail},
                          {"fix", f.fix}});
    return {{"ok", healthy(findings)}, {"checks", std::move(checks)}};
}

}  // namespace vaultctl
