#include "doctor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace vaultctl;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

// A machine where everything is in place: what the lab guest shows after an unlock, for a user
// in the group.
Facts working()
{
    Facts f;
    f.kernelRelease = "6.1.0-57-amd64";
    f.dmCryptLoaded = true;
    f.modulesDep =
        "kernel/drivers/md/dm-crypt.ko.xz: kernel/drivers/md/dm-mod.ko.xz\n"
        "kernel/crypto/xts.ko.xz:\n";
    f.cpuinfo =
        "processor\t: 0\nflags\t\t: fpu vme de pse sse2 aes avx\n\n"
        "processor\t: 1\nflags\t\t: fpu vme de pse sse2 aes avx\n";
    f.crypto =
        "name         : xts(aes)\ndriver       : xts-aes-aesni\nmodule       : aesni_intel\n"
        "\nname         : aes\ndriver       : aes-aesni\n";
    f.meminfo =
        "MemTotal:        4017440 kB\nMemFree:         3600000 kB\n"
        "MemAvailable:    3800000 kB\n";
    f.daemon.reachable = true;
    f.daemon.version = "0.1.0";
    f.daemon.keyDerivationMemory = 160 * kMiB;
    f.busReachable = true;
    f.polkitOnBus = true;
    f.uid = 1000;
    f.userName = "ec2-user";
    f.groupExists = true;
    f.groupInProcess = true;
    f.groupInDatabase = true;
    return f;
}

const Finding& finding(const std::vector<Finding>& findings, const std::string& check)
{
    auto it = std::find_if(findings.begin(), findings.end(),
                           [&](const Finding& f) { return f.check == check; });
    REQUIRE(it != findings.end());
    return *it;
}

}  // namespace

TEST_CASE("doctor finds nothing to fix on a working machine", "[unit][client][doctor]")
{
    auto findings = diagnose(working());

    CHECK(healthy(findings));
    CHECK(findings.size() == 7);
    for (const Finding& f : findings) {
        INFO(f.check << ": " << f.detail);
        CHECK(f.verdict == Verdict::ok);
        CHECK(f.fix.empty());
    }
    CHECK(finding(findings, "dm-crypt").detail == "loaded in the kernel");
    CHECK(finding(findings, "memory").detail ==
          "3710 MiB available; unlocking a keyslot vaultd makes needs 160 MiB");
}

TEST_CASE("doctor tells a loadable dm-crypt from a missing one", "[unit][client][doctor]")
{
    Facts f = working();
    f.dmCryptLoaded = false;

    SECTION("a module of the running kernel is enough")
    {
        auto found = finding(diagnose(f), "dm-crypt");
        CHECK(found.verdict == Verdict::ok);
        CHECK(found.detail == "loadable: the kernel loads it at the first unlock");
    }
    SECTION("built in counts too, with - and _ taken as one")
    {
        f.modulesDep.clear();
        f.modulesBuiltin = "kernel/drivers/md/dm_crypt.ko\n";
        CHECK(finding(diagnose(f), "dm-crypt").detail == "built into the kernel");
    }
    SECTION("no modules for this kernel: missing, and the fix names the package")
    {
        f.modulesDep.clear();
        auto findings = diagnose(f);
        auto found = finding(findings, "dm-crypt");
        CHECK(found.verdict == Verdict::missing);
        CHECK(found.fix.find("linux-modules-extra-6.1.0-57-amd64") != std::string::npos);
        CHECK_FALSE(healthy(findings));
    }
}

TEST_CASE("doctor reads the CPU's AES flag on x86 and on arm64", "[unit][client][doctor]")
{
    Facts f = working();
    SECTION("arm64 calls them Features")
    {
        f.cpuinfo = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2\n";
        CHECK(finding(diagnose(f), "hardware AES").verdict == Verdict::ok);
    }
    SECTION("no aes word: a warning with a fix, which does not make the machine unhealthy")
    {
        f.cpuinfo = "processor\t: 0\nflags\t\t: fpu vme aesx sse2\n";
        auto findings = diagnose(f);
        auto found = finding(findings, "hardware AES");
        CHECK(found.verdict == Verdict::warning);
        CHECK_FALSE(found.fix.empty());
        CHECK(healthy(findings));
    }
}

TEST_CASE("doctor accepts ciphers the kernel can still load", "[unit][client][doctor]")
{
    Facts f = working();
    f.crypto = "name         : aes\ndriver       : aes-generic\n";
    SECTION("aes loaded and xts a module")
    {
        auto found = finding(diagnose(f), "ciphers");
        CHECK(found.verdict == Verdict::ok);
        CHECK(found.detail ==
              "aes and xts are there: the kernel makes xts(aes) at the first unlock");
    }
    SECTION("no xts anywhere")
    {
        f.modulesDep = "kernel/drivers/md/dm-crypt.ko.xz:\n";
        auto found = finding(diagnose(f), "ciphers");
        CHECK(found.verdict == Verdict::missing);
        CHECK(found.detail == "the kernel has no xts, which aes-xts-plain64 needs");
    }
}

TEST_CASE("doctor says how to start an unreachable vaultd and skips what needs it",
          "[unit][client][doctor]")
{
    Facts f = working();
    f.daemon = DaemonFacts{};
    f.daemon.problem = "The name org.vaultd.Vault1 was not provided by any .service files";

    auto findings = diagnose(f);
    auto vaultd = finding(findings, "vaultd");
    CHECK(vaultd.verdict == Verdict::missing);
    CHECK(vaultd.detail.find("not provided by any .service files") != std::string::npos);
    CHECK(vaultd.fix.starts_with("sudo systemctl enable --now vaultd"));
    CHECK(finding(findings, "memory").verdict == Verdict::skipped);
    CHECK_FALSE(healthy(findings));
}

TEST_CASE("doctor without a system bus says to start it, not to install polkit",
          "[unit][client][doctor]")
{
    Facts f = working();
    f.busReachable = false;
    f.daemon = DaemonFacts{};
    f.daemon.problem = "cannot connect to the system bus: No such file or directory";
    f.polkitOnBus = false;

    auto findings = diagnose(f);
    auto vaultd = finding(findings, "vaultd");
    CHECK(vaultd.verdict == Verdict::missing);
    CHECK(vaultd.fix.starts_with("start the system bus"));
    CHECK(finding(findings, "polkit").verdict == Verdict::skipped);
    CHECK(finding(findings, "memory").verdict == Verdict::skipped);
}

TEST_CASE("doctor checks the group 'vault' as the login has it", "[unit][client][doctor]")
{
    Facts f = working();
    SECTION("added after login: log in again")
    {
        f.groupInProcess = false;
        auto found = finding(diagnose(f), "group");
        CHECK(found.verdict == Verdict::warning);
        CHECK(found.fix.starts_with("log in again"));
    }
    SECTION("not a member: the usermod line for this user")
    {
        f.groupInProcess = false;
        f.groupInDatabase = false;
        auto found = finding(diagnose(f), "group");
        CHECK(found.verdict == Verdict::missing);
        CHECK(found.fix == "sudo usermod -aG vault ec2-user, then log in again");
    }
    SECTION("no such group")
    {
        f.groupExists = false;
        CHECK(finding(diagnose(f), "group").fix.starts_with("sudo systemd-sysusers"));
    }
    SECTION("root needs neither the group nor, to itself, polkit")
    {
        f.uid = 0;
        f.groupExists = false;
        f.polkitOnBus = false;
        auto findings = diagnose(f);
        CHECK(finding(findings, "group").verdict == Verdict::ok);
        CHECK(finding(findings, "polkit").verdict == Verdict::warning);
        CHECK(healthy(findings));
    }
    SECTION("without polkit a user is refused")
    {
        f.polkitOnBus = false;
        CHECK(finding(diagnose(f), "polkit").verdict == Verdict::missing);
    }
}

TEST_CASE("doctor compares free memory with what a key derivation needs", "[unit][client][doctor]")
{
    Facts f = working();
    f.meminfo = "MemTotal: 524288 kB\nMemAvailable: 102400 kB\n";

    auto found = finding(diagnose(f), "memory");
    CHECK(found.verdict == Verdict::missing);
    CHECK(found.detail ==
          "100 MiB available, and unlocking a keyslot vaultd makes needs 160 MiB: "
          "such an unlock is refused (InsufficientMemory)");
    CHECK(found.fix.find("pbkdf.smallest-instance-mib") != std::string::npos);
}

TEST_CASE("doctor prints a line a check and a fix under it, or JSON", "[unit][client][doctor]")
{
    Facts f = working();
    f.groupInProcess = false;
    f.groupInDatabase = false;
    auto findings = diagnose(f);

    std::string text = formatFindings(findings);
    CHECK(text.find("ok       dm-crypt      loaded in the kernel\n") != std::string::npos);
    CHECK(text.find("missing  group         ec2-user is not in the group 'vault'") !=
          std::string::npos);
    CHECK(text.find("\n                       fix: sudo usermod -aG vault ec2-user, then log in "
                    "again\n") != std::string::npos);

    auto json = findingsToJson(findings);
    CHECK(json["ok"] == false);
    REQUIRE(json["checks"].size() == 7);
    CHECK(json["checks"][5]["check"] == "group");
    CHECK(json["checks"][5]["result"] == "missing");
    CHECK(json["checks"][0]["fix"] == "");
}
