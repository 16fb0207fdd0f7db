#include "cli.hpp"
#include "errors.hpp"

#include <catch2/catch.hpp>

using vaultctl::Invocation;
using vaultctl::parseCommandLine;
using vaultctl::ParseOutcome;
using vaultctl::Verb;

namespace {

Invocation parsed(const std::vector<std::string>& args)
{
    ParseOutcome outcome = parseCommandLine(args);
    INFO(outcome.error);
    REQUIRE(outcome.invocation.has_value());
    return *outcome.invocation;
}

ParseOutcome refused(const std::vector<std::string>& args)
{
    ParseOutcome outcome = parseCommandLine(args);
    REQUIRE_FALSE(outcome.invocation.has_value());
    CHECK(outcome.exitCode == vaultctl::exitUsage);
    CHECK(outcome.error.rfind("vaultctl: ", 0) == 0);
    return outcome;
}

}  // namespace

TEST_CASE("list takes no device and json may come before or after it", "[unit]")
{
    CHECK(parsed({"list"}).verb == Verb::list);
    CHECK_FALSE(parsed({"list"}).json);
    CHECK(parsed({"--json", "list"}).json);
    CHECK(parsed({"list", "--json"}).json);
}

TEST_CASE("status passes the device through as typed", "[unit]")
{
    Invocation invocation = parsed({"status", "vdb"});
    CHECK(invocation.verb == Verb::status);
    CHECK(invocation.device == "vdb");
    CHECK(parsed({"status", "/dev/disk/by-id/nvme-vol0123"}).device ==
          "/dev/disk/by-id/nvme-vol0123");
}

TEST_CASE("a missing device is a usage error naming the command", "[unit]")
{
    for (const char* verb : {"status", "format", "unlock", "mount", "unmount", "lock"}) {
        ParseOutcome outcome = refused({verb});
        CHECK(outcome.error.find("DEVICE is required") != std::string::npos);
        CHECK(outcome.error.find(std::string("vaultctl ") + verb + " --help") != std::string::npos);
    }
}

TEST_CASE("no command and an unknown command are usage errors", "[unit]")
{
    CHECK(refused({}).error.find("a subcommand is required") != std::string::npos);
    CHECK(refused({"frobnicate"}).error ==
          "vaultctl: unknown command 'frobnicate'; see 'vaultctl --help'");
    CHECK(refused({"list", "vdb"}).error.find("not expected: vdb") != std::string::npos);
}

TEST_CASE("format makes ext4 unless --fs names another known filesystem", "[unit]")
{
    CHECK(parsed({"format", "vdb"}).filesystem == "ext4");
    CHECK(parsed({"format", "vdb", "--fs", "xfs"}).filesystem == "xfs");
    CHECK(parsed({"format", "--fs=btrfs", "vdb"}).filesystem == "btrfs");
    CHECK(refused({"format", "vdb", "--fs", "ext5"}).error.find("ext5") != std::string::npos);
}

TEST_CASE("format sends label and force only when they are given", "[unit]")
{
    Invocation plain = parsed({"format", "vdb"});
    CHECK_FALSE(plain.label.has_value());
    CHECK_FALSE(plain.force.has_value());
    CHECK_FALSE(plain.keyFile.has_value());

    Invocation full = parsed(
        {"format", "vdb", "--label", "data", "--force", "/dev/vdb:1073741824", "--key-file", "-"});
    CHECK(full.label == "data");
    CHECK(full.force == "/dev/vdb:1073741824");
    CHECK(full.keyFile == "-");
}

TEST_CASE("format refuses a force value that is not NODE:SIZE", "[unit]")
{
    for (const char* bad : {"vdb", "/dev/vdb", "/dev/vdb:", "/dev/vdb:1G", "vdb:1024", ":1024"}) {
        INFO(bad);
        CHECK(refused({"format", "vdb", "--force", bad}).error.find("NODE:SIZE") !=
              std::string::npos);
    }
}

TEST_CASE("unlock --mount without a path asks for the default mount point", "[unit]")
{
    for (const auto& args : std::vector<std::vector<std::string>>{{"unlock", "vdb", "--mount"},
                                                                  {"unlock", "--mount", "vdb"},
                                                                  {"unlock", "vdb", "--mount="}}) {
        Invocation invocation = parsed(args);
        CHECK(invocation.device == "vdb");
        CHECK(invocation.mount);
        CHECK_FALSE(invocation.mountPoint.has_value());
    }
}

TEST_CASE("unlock --mount with a path asks for that mount point", "[unit]")
{
    Invocation after = parsed({"unlock", "vdb", "--mount", "/secure"});
    CHECK(after.mount);
    CHECK(after.mountPoint == "/secure");

    Invocation before = parsed({"unlock", "--mount=/secure", "vdb"});
    CHECK(before.device == "vdb");
    CHECK(before.mountPoint == "/secure");
}

TEST_CASE("unlock without --mount only opens the mapping", "[unit]")
{
    Invocation invocation = parsed({"unlock", "vdb", "--name", "storedev"});
    CHECK(invocation.mappingName == "storedev");
    CHECK_FALSE(invocation.mount);
    CHECK_FALSE(invocation.mountPoint.has_value());
    CHECK_FALSE(parsed({"unlock", "vdb"}).mappingName.has_value());
    CHECK(parsed({"unlock", "vdb", "--name", ""}).mappingName == std::string());
}

TEST_CASE("mount takes an optional path", "[unit]")
{
    CHECK_FALSE(parsed({"mount", "vdb"}).mountPoint.has_value());
    CHECK(parsed({"mount", "vdb", "/secure"}).mountPoint == "/secure");
}

TEST_CASE("unmount and lock take a device or mapping name", "[unit]")
{
    CHECK(parsed({"unmount", "vdb"}).verb == Verb::unmount);
    Invocation lock = parsed({"lock", "storedev"});
    CHECK(lock.verb == Verb::lock);
    CHECK(lock.device == "storedev");
}

TEST_CASE("help and version print to standard output and succeed", "[unit]")
{
    ParseOutcome help = parseCommandLine({"--help"});
    CHECK_FALSE(help.invocation.has_value());
    CHECK(help.exitCode == 0);
    CHECK(help.output.find("unlock") != std::string::npos);
    CHECK(help.output.find("Exit status:") != std::string::npos);

    ParseOutcome version = parseCommandLine({"--version"});
    CHECK(version.exitCode == 0);
    CHECK(version.output.rfind("vaultctl ", 0) == 0);
}

TEST_CASE("--no-ask-password turns the polkit agent off, before or after the command", "[unit]")
{
    CHECK(parsed({"list"}).askPassword);
    CHECK_FALSE(parsed({"--no-ask-password", "lock", "vdb"}).askPassword);
    CHECK_FALSE(parsed({"lock", "vdb", "--no-ask-password"}).askPassword);
}

TEST_CASE("grow takes the volume and, for when vaultd asks, a key file", "[unit]")
{
    Invocation inv = parsed({"grow", "secure"});
    CHECK(inv.verb == Verb::grow);
    CHECK(inv.device == "secure");
    CHECK_FALSE(inv.keyFile);
    CHECK(parsed({"grow", "vdb", "--key-file", "-"}).keyFile == "-");
    refused({"grow"});
    refused({"grow", "vdb", "--lazy"});
}

TEST_CASE("lock takes --lazy", "[unit]")
{
    CHECK_FALSE(parsed({"lock", "vdb"}).lazy);
    CHECK(parsed({"lock", "vdb", "--lazy"}).lazy);
    refused({"unlock", "vdb", "--lazy"});
}

TEST_CASE("header list and header backup VOLUME FILE", "[unit]")
{
    CHECK(parsed({"header", "list"}).verb == Verb::headerList);
    Invocation inv = parsed({"header", "backup", "vdb", "/root/vdb.header"});
    CHECK(inv.verb == Verb::headerBackup);
    CHECK(inv.device == "vdb");
    CHECK(inv.headerFile == "/root/vdb.header");
    refused({"header"});
    refused({"header", "backup", "vdb"});
    refused({"header", "restore", "vdb", "file"});
}
