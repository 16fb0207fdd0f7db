#include "cli.hpp"
#include "errors.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

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

TEST_CASE("a usage error says whether --json was asked for", "[unit]")
{
    CHECK(refused({"--json", "frob"}).json);
    CHECK(refused({"lock", "--json"}).json);
    CHECK(refused({"format", "vdb", "--fs", "zfs", "--json"}).json);
    CHECK(refused({"--json", "unlock", "vdb", "--token", "--no-token"}).json);
    CHECK_FALSE(refused({"frob"}).json);
}

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

TEST_CASE("unlock leaves the token to the volume unless --token or --no-token says", "[unit]")
{
    CHECK(parsed({"unlock", "vdb"}).tokenUse == vaultctl::TokenUse::automatic);
    CHECK(parsed({"unlock", "vdb", "--key-file", "k"}).tokenUse == vaultctl::TokenUse::automatic);
    CHECK(parsed({"unlock", "--token", "vdb", "--mount"}).tokenUse == vaultctl::TokenUse::only);
    CHECK(parsed({"unlock", "vdb", "--no-token"}).tokenUse == vaultctl::TokenUse::never);
    CHECK(parsed({"unlock", "vdb", "--no-token", "--key-file", "-"}).tokenUse ==
          vaultctl::TokenUse::never);
}

TEST_CASE("unlock --token refuses --key-file and --no-token", "[unit]")
{
    CHECK(refused({"unlock", "vdb", "--token", "--key-file", "k"}).error ==
          "vaultctl: --token and --key-file cannot be used together (with --token the key "
          "server gives the key); see 'vaultctl unlock --help'");
    CHECK(refused({"unlock", "--key-file=-", "--token", "vdb"}).error.find("--key-file") !=
          std::string::npos);
    CHECK(refused({"unlock", "vdb", "--no-token", "--token"}).error ==
          "vaultctl: --token and --no-token contradict each other; see 'vaultctl unlock --help'");
}

TEST_CASE("only unlock takes --token and --no-token", "[unit]")
{
    refused({"mount", "vdb", "--token"});
    refused({"grow", "vdb", "--no-token"});
    refused({"bind", "vdb", "tang", "http://tang", "--thumbprint", "0123456789abcdef", "--token"});
}

TEST_CASE("unlock's help says a bound volume tries its key server first", "[unit]")
{
    ParseOutcome help = parseCommandLine({"unlock", "--help"});
    CHECK(help.exitCode == 0);
    CHECK_THAT(help.output, Catch::Contains("--token") && Catch::Contains("--no-token") &&
                                Catch::Contains("key server's key if it can"));
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
    refused({"header", "frobnicate", "vdb"});
}

TEST_CASE("header restore takes VOLUME FILE and an optional NODE:SIZE force", "[unit]")
{
    Invocation inv = parsed({"header", "restore", "vdb", "/root/vdb.header"});
    CHECK(inv.verb == Verb::headerRestore);
    CHECK(inv.device == "vdb");
    CHECK(inv.headerFile == "/root/vdb.header");
    CHECK_FALSE(inv.force.has_value());
    CHECK(parsed({"header", "restore", "vdb", "f", "--force", "/dev/vdb:1073741824"}).force ==
          "/dev/vdb:1073741824");
    CHECK(parsed({"header", "restore", "--force=/dev/vdb:1073741824", "vdb", "f"}).force ==
          "/dev/vdb:1073741824");

    CHECK_THAT(refused({"header", "restore", "vdb"}).error,
               Catch::Contains("FILE is required") &&
                   Catch::Contains("see 'vaultctl header restore --help'"));
    CHECK_THAT(refused({"header", "restore", "vdb", "f", "--force", "/dev/vdb"}).error,
               Catch::Contains("NODE:SIZE"));
    refused({"header", "restore", "vdb", "f", "--key-file", "-"});
}

TEST_CASE("header repair takes the volume and nothing else", "[unit]")
{
    Invocation inv = parsed({"header", "repair", "storedev"});
    CHECK(inv.verb == Verb::headerRepair);
    CHECK(inv.device == "storedev");
    CHECK_THAT(refused({"header", "repair"}).error, Catch::Contains("DEVICE is required"));
    refused({"header", "repair", "vdb", "extra"});
    refused({"header", "repair", "vdb", "--force", "/dev/vdb:1073741824"});
}

TEST_CASE("keyslot list takes the volume, with --json before or after", "[unit]")
{
    Invocation inv = parsed({"keyslot", "list", "vdb"});
    CHECK(inv.verb == Verb::keyslotList);
    CHECK(inv.device == "vdb");
    CHECK_FALSE(inv.json);
    CHECK(parsed({"keyslot", "list", "vdb", "--json"}).json);
    CHECK(parsed({"--json", "keyslot", "list", "vdb"}).json);
    CHECK_THAT(refused({"keyslot"}).error, Catch::Contains("see 'vaultctl keyslot --help'"));
    CHECK_THAT(refused({"keyslot", "list"}).error,
               Catch::Contains("DEVICE is required") &&
                   Catch::Contains("see 'vaultctl keyslot list --help'"));
    refused({"keyslot", "frobnicate", "vdb"});
}

TEST_CASE("keyslot add and change read the old and the new secret as told", "[unit]")
{
    for (const char* word : {"add", "change"}) {
        INFO(word);
        const Verb verb = std::string(word) == "add" ? Verb::keyslotAdd : Verb::keyslotChange;

        Invocation prompted = parsed({"keyslot", word, "vdb"});
        CHECK(prompted.verb == verb);
        CHECK(prompted.device == "vdb");
        CHECK_FALSE(prompted.keyFile.has_value());
        CHECK_FALSE(prompted.newKeyFile.has_value());
        CHECK_FALSE(prompted.allowWeak);

        Invocation files = parsed({"keyslot", word, "vdb", "--key-file", "/root/old",
                                   "--new-key-file", "-", "--allow-weak-passphrase"});
        CHECK(files.keyFile == "/root/old");
        CHECK(files.newKeyFile == "-");
        CHECK(files.allowWeak);
        CHECK(parsed({"keyslot", word, "--new-key-file=/root/new", "vdb"}).newKeyFile ==
              "/root/new");

        CHECK_THAT(refused({"keyslot", word}).error, Catch::Contains("DEVICE is required"));
        refused({"keyslot", word, "vdb", "3"});
        refused({"keyslot", word, "vdb", "--new-key-file"});
    }
}

TEST_CASE("standard input cannot give both the old secret and the new", "[unit]")
{
    CHECK(refused({"keyslot", "add", "vdb", "--key-file", "-", "--new-key-file", "-"}).error ==
          "vaultctl: --key-file and --new-key-file cannot both be - (standard input holds one "
          "secret); see 'vaultctl keyslot add --help'");
    refused({"keyslot", "change", "vdb", "--key-file", "-", "--new-key-file", "-"});
    // One of them from standard input, the other from a file or the terminal, is fine.
    CHECK(parsed({"keyslot", "add", "vdb", "--key-file", "-"}).keyFile == "-");
    CHECK(parsed({"keyslot", "add", "vdb", "--key-file", "k", "--new-key-file", "-"}).newKeyFile ==
          "-");
}

TEST_CASE("keyslot remove takes the volume and a slot number", "[unit]")
{
    Invocation inv = parsed({"keyslot", "remove", "vdb", "3"});
    CHECK(inv.verb == Verb::keyslotRemove);
    CHECK(inv.device == "vdb");
    CHECK(inv.keyslot == 3);
    CHECK_FALSE(inv.keyFile.has_value());
    CHECK(parsed({"keyslot", "remove", "vdb", "0", "--key-file", "-"}).keyFile == "-");
    CHECK(parsed({"keyslot", "remove", "vdb", "31"}).keyslot == 31);

    CHECK_THAT(refused({"keyslot", "remove", "vdb"}).error,
               Catch::Contains("SLOT is required") &&
                   Catch::Contains("see 'vaultctl keyslot remove --help'"));
    CHECK_THAT(refused({"keyslot", "remove"}).error, Catch::Contains("is required"));
    for (const char* bad : {"abc", "-1", "1.5", "0x1", "", "3a", "99999999999"}) {
        INFO(bad);
        CHECK_THAT(refused({"keyslot", "remove", "vdb", bad}).error,
                   Catch::Contains("is not a keyslot number"));
    }
    refused({"keyslot", "remove", "vdb", "1", "2"});
    refused({"keyslot", "remove", "vdb", "1", "--new-key-file", "k"});
    refused({"keyslot", "remove", "vdb", "1", "--allow-weak-passphrase"});
}

TEST_CASE("recovery-key takes the volume and the key file of an existing keyslot", "[unit]")
{
    Invocation inv = parsed({"recovery-key", "vdb"});
    CHECK(inv.verb == Verb::recoveryKey);
    CHECK(inv.device == "vdb");
    CHECK_FALSE(inv.keyFile.has_value());
    CHECK(parsed({"recovery-key", "vdb", "--key-file", "-", "--json"}).keyFile == "-");
    CHECK(parsed({"--json", "recovery-key", "vdb"}).json);
    CHECK_THAT(refused({"recovery-key"}).error,
               Catch::Contains("DEVICE is required") &&
                   Catch::Contains("see 'vaultctl recovery-key --help'"));
    refused({"recovery-key", "vdb", "--new-key-file", "k"});
}

TEST_CASE("format takes --allow-weak-passphrase; unlock and grow do not", "[unit]")
{
    CHECK_FALSE(parsed({"format", "vdb"}).allowWeak);
    CHECK(parsed({"format", "vdb", "--allow-weak-passphrase"}).allowWeak);
    refused({"unlock", "vdb", "--allow-weak-passphrase"});
    refused({"grow", "vdb", "--allow-weak-passphrase"});
    refused({"format", "vdb", "--new-key-file", "k"});
}

TEST_CASE("the help lists the key and header commands", "[unit]")
{
    ParseOutcome help = parseCommandLine({"--help"});
    CHECK_THAT(help.output, Catch::Contains("keyslot") && Catch::Contains("recovery-key") &&
                                Catch::Contains("header"));
    ParseOutcome keyslot = parseCommandLine({"keyslot", "--help"});
    CHECK(keyslot.exitCode == 0);
    CHECK_THAT(keyslot.output, Catch::Contains("list") && Catch::Contains("add") &&
                                   Catch::Contains("change") && Catch::Contains("remove"));
    ParseOutcome header = parseCommandLine({"header", "--help"});
    CHECK_THAT(header.output, Catch::Contains("restore") && Catch::Contains("repair"));
}

TEST_CASE("every command's name is what is typed for it", "[unit]")
{
    CHECK(vaultctl::verbName(Verb::keyslotRemove) == "keyslot remove");
    CHECK(vaultctl::verbName(Verb::headerRestore) == "header restore");
    CHECK(vaultctl::verbName(Verb::recoveryKey) == "recovery-key");
}

TEST_CASE("reload takes no device, and --json before or after it", "[unit]")
{
    Invocation inv = parsed({"reload"});
    CHECK(inv.verb == Verb::reload);
    CHECK(inv.device.empty());
    CHECK_FALSE(inv.json);
    CHECK(inv.askPassword);
    CHECK(parsed({"reload", "--json"}).json);
    CHECK(parsed({"--json", "reload"}).json);
    CHECK_FALSE(parsed({"--no-ask-password", "reload"}).askPassword);
    CHECK(vaultctl::verbName(Verb::reload) == "reload");
}

TEST_CASE("reload refuses arguments it does not take", "[unit]")
{
    CHECK_THAT(
        refused({"reload", "vdb"}).error,
        Catch::Contains("not expected: vdb") && Catch::Contains("see 'vaultctl reload --help'"));
    refused({"reload", "cfg", "data"});
    refused({"reload", "--key-file", "-"});
    refused({"reload", "--force", "/dev/vdb:1073741824"});
    CHECK_THAT(parseCommandLine({"--help"}).output, Catch::Contains("reload"));
    ParseOutcome help = parseCommandLine({"reload", "--help"});
    CHECK(help.exitCode == 0);
    CHECK_THAT(help.output, Catch::Contains("volumes.d"));
}

TEST_CASE("wait takes a configured volume's name, a timeout and --unlocked", "[unit]")
{
    Invocation inv = parsed({"wait", "data"});
    CHECK(inv.verb == Verb::wait);
    CHECK(inv.volumeName == "data");
    CHECK(inv.device.empty());
    CHECK(inv.timeoutSeconds == 0);
    CHECK_FALSE(inv.unlocked);

    Invocation timed = parsed({"wait", "--timeout", "30", "--unlocked", "db-1.x_y+z=a,b@c%d"});
    CHECK(timed.volumeName == "db-1.x_y+z=a,b@c%d");
    CHECK(timed.timeoutSeconds == 30);
    CHECK(timed.unlocked);
    CHECK(parsed({"wait", "data", "--timeout=0"}).timeoutSeconds == 0);
    CHECK(parsed({"wait", "data", "--timeout", "999999999"}).timeoutSeconds == 999999999);
    CHECK(parsed({"--json", "wait", "data"}).json);
    CHECK(parsed({"wait", "data", "--json"}).json);
    CHECK(parsed({"wait", std::string(127, 'n')}).volumeName.size() == 127);
    CHECK(vaultctl::verbName(Verb::wait) == "wait");
}

TEST_CASE("wait refuses a name vaultd could never have configured", "[unit]")
{
    CHECK_THAT(refused({"wait"}).error, Catch::Contains("NAME is required") &&
                                            Catch::Contains("see 'vaultctl wait --help'"));
    CHECK_THAT(refused({"wait", ""}).error, Catch::Contains("the name is empty"));
    for (const char* bad : {".", "..", "control"}) {
        INFO(bad);
        CHECK_THAT(refused({"wait", bad}).error,
                   Catch::Contains(fmt::format("'{}' cannot name a configured volume", bad)));
    }
    for (const char* bad : {"a/b", "data.toml/", "da ta", "dätä", "a:b", "*"}) {
        INFO(bad);
        CHECK_THAT(refused({"wait", bad}).error,
                   Catch::Contains("cannot name a configured volume: a name may hold only "
                                   "letters, digits and -_.+=,@%"));
    }
    CHECK_THAT(refused({"wait", std::string(128, 'n')}).error,
               Catch::Contains("the name is 128 bytes long, at most 127 are allowed"));
    refused({"wait", "data", "other"});
    refused({"wait", "data", "--key-file", "-"});
}

TEST_CASE("wait refuses a timeout that is not whole seconds", "[unit]")
{
    for (const char* bad : {"abc", "-1", "1.5", "30s", "0x10", "1000000000"}) {
        INFO(bad);
        CHECK_THAT(refused({"wait", "data", std::string("--timeout=") + bad}).error,
                   Catch::Contains(
                       fmt::format("'{}' is not a number of seconds (0 waits for ever)", bad)) &&
                       Catch::Contains("see 'vaultctl wait --help'"));
    }
    CHECK_THAT(refused({"wait", "data", "--timeout"}).error, Catch::Contains("--timeout"));
    CHECK_THAT(refused({"wait", "data", "--timeout="}).error, Catch::Contains("--timeout"));
}

TEST_CASE("the help lists wait and what it waits for", "[unit]")
{
    CHECK_THAT(parseCommandLine({"--help"}).output, Catch::Contains("wait"));
    ParseOutcome help = parseCommandLine({"wait", "--help"});
    CHECK(help.exitCode == 0);
    CHECK_THAT(help.output, Catch::Contains("--timeout") && Catch::Contains("--unlocked") &&
                                Catch::Contains("volumes.d/NAME.toml"));
}

TEST_CASE("bind takes the volume, the tang pin, the URL and the thumbprint", "[unit]")
{
    Invocation inv = parsed({"bind", "nvme1n1", "tang", "http://tang.internal:7500", "--thumbprint",
                             "x3EYD_RPeKN1vMgz7yAvjnMeQ1Q"});
    CHECK(inv.verb == Verb::bind);
    CHECK(inv.device == "nvme1n1");
    CHECK(inv.pin == "tang");
    CHECK(inv.url == "http://tang.internal:7500");
    CHECK(inv.thumbprint == "x3EYD_RPeKN1vMgz7yAvjnMeQ1Q");
    CHECK_FALSE(inv.keyFile.has_value());
    CHECK_FALSE(inv.json);

    Invocation json = parsed({"bind", "vdb", "tang", "https://[fd00::7]/tang",
                              "--thumbprint=" + std::string(16, 'A'), "--key-file", "-", "--json"});
    CHECK(json.url == "https://[fd00::7]/tang");
    CHECK(json.keyFile == "-");
    CHECK(json.json);
    CHECK(parsed({"--json", "bind", "vdb", "tang", "http://10.0.0.5", "--thumbprint",
                  std::string(128, '_')})
              .json);
}

TEST_CASE("bind refuses any pin but tang", "[unit]")
{
    for (const char* pin : {"tpm2", "sss", "TANG", ""}) {
        INFO(pin);
        CHECK_THAT(
            refused({"bind", "vdb", pin, "http://tang", "--thumbprint", std::string(20, 'a')})
                .error,
            Catch::Contains("only tang is supported") &&
                Catch::Contains("see 'vaultctl bind --help'"));
    }
}

TEST_CASE("bind needs the thumbprint and the URL", "[unit]")
{
    CHECK_THAT(refused({"bind", "vdb", "tang", "http://tang"}).error,
               Catch::Contains("--thumbprint is required") &&
                   Catch::Contains("see 'vaultctl bind --help'"));
    CHECK_THAT(refused({"bind", "vdb", "tang", "--thumbprint", std::string(20, 'a')}).error,
               Catch::Contains("URL is required"));
    CHECK_THAT(refused({"bind", "vdb"}).error, Catch::Contains("is required"));
    refused({"bind", "vdb", "tang", "http://tang", "--thumbprint"});
    refused({"bind", "vdb", "tang", "http://tang", "http://other", "--thumbprint",
             std::string(20, 'a')});
    refused({"bind", "vdb", "tang", "http://tang", "--thumbprint", std::string(20, 'a'),
             "--new-key-file", "k"});
}

TEST_CASE("bind refuses a URL that is not a key server's", "[unit]")
{
    const std::string thp(20, 'a');
    for (const std::string& url : std::vector<std::string>{
             "tang.internal", "ftp://tang", "HTTP://tang", "http://", "https://:7500",
             "http:///tang", "http://ta ng", "http://tang/\"x\"", "http://tang/a\\b",
             "http://tang/'", "http://tang\t", "http://tang/\x1b[2J", "http://t\xc3\xa4ng",
             "http://tang_1", "http://[fd00::7", "http://" + std::string(249, 'a')}) {
        INFO(url);
        CHECK_THAT(
            refused({"bind", "vdb", "tang", url, "--thumbprint", thp}).error,
            Catch::StartsWith("vaultctl: URL: ") && Catch::Contains("see 'vaultctl bind --help'"));
    }
    // A control character is named, not echoed to the terminal.
    CHECK(refused({"bind", "vdb", "tang", "http://tang/\x1b[2J", "--thumbprint", thp})
              .error.find('\x1b') == std::string::npos);
    CHECK(parsed({"bind", "vdb", "tang", "http://" + std::string(248, 'a'), "--thumbprint", thp})
              .url.size() == 255);
}

TEST_CASE("bind refuses a thumbprint that is not 16 to 128 characters of base64url", "[unit]")
{
    for (const std::string& thp : std::vector<std::string>{
             std::string(15, 'a'), std::string(129, 'a'), std::string(), "x3EYD+RPeKN1vMgz7yAv",
             "x3EYD/RPeKN1vMgz7yAv", "x3EYD_RPeKN1vMgz7yAv=", "x3EYD RPeKN1vMgz7yAv"}) {
        INFO(thp);
        CHECK_THAT(refused({"bind", "vdb", "tang", "http://tang", "--thumbprint", thp}).error,
                   Catch::StartsWith("vaultctl: --thumbprint: ") &&
                       Catch::Contains("see 'vaultctl bind --help'"));
    }
    CHECK(parsed({"bind", "vdb", "tang", "http://tang", "--thumbprint", "0123456789-_abcXYZ"})
              .thumbprint == "0123456789-_abcXYZ");
}

TEST_CASE("unbind takes the volume, an optional slot and the key file of one that stays", "[unit]")
{
    Invocation inv = parsed({"unbind", "vdb"});
    CHECK(inv.verb == Verb::unbind);
    CHECK(inv.device == "vdb");
    CHECK_FALSE(inv.boundKeyslot.has_value());
    CHECK_FALSE(inv.keyFile.has_value());

    Invocation slot = parsed({"unbind", "vdb", "2", "--key-file", "/root/key", "--json"});
    CHECK(slot.boundKeyslot == 2u);
    CHECK(slot.keyFile == "/root/key");
    CHECK(slot.json);

    CHECK_THAT(refused({"unbind"}).error, Catch::Contains("DEVICE is required") &&
                                              Catch::Contains("see 'vaultctl unbind --help'"));
    CHECK_THAT(refused({"unbind", "vdb", "two"}).error, Catch::Contains("is not a keyslot number"));
    refused({"unbind", "vdb", "-1"});
    refused({"unbind", "vdb", "1", "2"});
    refused({"unbind", "vdb", "--thumbprint", std::string(20, 'a')});
}

TEST_CASE("the help lists bind and unbind", "[unit]")
{
    ParseOutcome help = parseCommandLine({"--help"});
    CHECK_THAT(help.output, Catch::Contains("bind") && Catch::Contains("unbind"));
    ParseOutcome bind = parseCommandLine({"bind", "--help"});
    CHECK(bind.exitCode == 0);
    CHECK_THAT(bind.output, Catch::Contains("PIN") && Catch::Contains("URL") &&
                                Catch::Contains("--thumbprint") && Catch::Contains("--key-file"));
    ParseOutcome unbind = parseCommandLine({"unbind", "--help"});
    CHECK_THAT(unbind.output, Catch::Contains("SLOT") && Catch::Contains("--key-file"));
    CHECK(vaultctl::verbName(Verb::bind) == "bind");
    CHECK(vaultctl::verbName(Verb::unbind) == "unbind");
}

TEST_CASE("format keeps the workqueues or stores discards only when asked", "[unit]")
{
    Invocation plain = parsed({"format", "vdb"});
    CHECK_FALSE(plain.workqueues.has_value());
    CHECK_FALSE(plain.discard.has_value());

    Invocation asked = parsed({"format", "vdb", "--keep-workqueues", "--discard"});
    CHECK(asked.workqueues == true);
    CHECK(asked.discard == true);
}

TEST_CASE("tune without switches only shows; each switch is on or off", "[unit]")
{
    Invocation show = parsed({"tune", "vdb"});
    CHECK(show.verb == Verb::tune);
    CHECK(show.device == "vdb");
    CHECK_FALSE(show.readWorkqueue.has_value());
    CHECK_FALSE(show.writeWorkqueue.has_value());
    CHECK_FALSE(show.discard.has_value());

    Invocation change = parsed({"tune", "vdb", "--read-workqueue", "on", "--discard=off"});
    CHECK(change.readWorkqueue == true);
    CHECK_FALSE(change.writeWorkqueue.has_value());
    CHECK(change.discard == false);
    CHECK(parsed({"tune", "vdb", "--write-workqueue", "off"}).writeWorkqueue == false);

    CHECK(refused({"tune", "vdb", "--read-workqueue", "yes"}).error.find("--read-workqueue") !=
          std::string::npos);
    CHECK(refused({"tune"}).error.find("DEVICE") != std::string::npos);
}

TEST_CASE("format erases only with --erase", "[unit]")
{
    CHECK_FALSE(parsed({"format", "vdb"}).erase);
    CHECK(parsed({"format", "vdb", "--erase"}).erase);
}
