#include "errors.hpp"
#include "output.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace vaultctl;

namespace {

VolumeProperties lockedVdb()
{
    VolumeProperties volume;
    volume.device = "/dev/vdb";
    volume.kernelName = "vdb";
    volume.size = 1073741824;
    volume.state = "locked";
    volume.luksVersion = 2;
    volume.luksUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    volume.label = "data";
    volume.filesystemType = "";
    return volume;
}

VolumeProperties mountedNvme(const std::string& kernelName)
{
    VolumeProperties volume;
    volume.device = "/dev/" + kernelName;
    volume.kernelName = kernelName;
    volume.size = 10ULL << 30;
    volume.state = "mounted";
    volume.luksVersion = 2;
    volume.mappingName = "storedev";
    volume.mountPoint = "/secure";
    volume.filesystemType = "ext4";
    return volume;
}

}  // namespace

TEST_CASE("sizes under a kibibyte are printed in bytes", "[unit]")
{
    CHECK(humanSize(0) == "0B");
    CHECK(humanSize(512) == "512B");
    CHECK(humanSize(1023) == "1023B");
}

TEST_CASE("larger sizes use binary units with one decimal", "[unit]")
{
    CHECK(humanSize(1024) == "1.0K");
    CHECK(humanSize(1536) == "1.5K");
    CHECK(humanSize(1073741824) == "1.0G");
    CHECK(humanSize(1610612736) == "1.5G");
    CHECK(humanSize(10ULL << 40) == "10.0T");
    CHECK(humanSize(std::numeric_limits<std::uint64_t>::max()) == "16.0E");
}

TEST_CASE("a size that rounds up to 1024 of a unit moves to the next unit", "[unit]")
{
    CHECK(humanSize(1048575) == "1.0M");
    CHECK(humanSize((1ULL << 30) - 1) == "1.0G");
}

TEST_CASE("devices sort with their numbers compared as numbers", "[unit]")
{
    CHECK(deviceOrder("/dev/nvme2n1", "/dev/nvme10n1"));
    CHECK_FALSE(deviceOrder("/dev/nvme10n1", "/dev/nvme2n1"));
    CHECK(deviceOrder("/dev/nvme1n1", "/dev/nvme1n2"));
    CHECK(deviceOrder("/dev/vda", "/dev/vdb"));
    CHECK(deviceOrder("/dev/sd", "/dev/sda"));
    CHECK_FALSE(deviceOrder("/dev/vdb", "/dev/vdb"));
}

TEST_CASE("the table has a header, aligned columns and rows sorted by device", "[unit]")
{
    std::string table = formatTable({lockedVdb(), mountedNvme("nvme10n1"), mountedNvme("nvme2n1")});
    CHECK(table ==
          "DEVICE         SIZE   STATE    MAPPING   MOUNT POINT  LABEL\n"
          "/dev/nvme2n1   10.0G  mounted  storedev  /secure      -\n"
          "/dev/nvme10n1  10.0G  mounted  storedev  /secure      -\n"
          "/dev/vdb       1.0G   locked   -         -            data\n");
}

TEST_CASE("with no volumes the table is only its header", "[unit]")
{
    CHECK(formatTable({}) == "DEVICE  SIZE  STATE  MAPPING  MOUNT POINT  LABEL\n");
}

TEST_CASE("control characters in labels cannot reach the terminal", "[unit]")
{
    VolumeProperties volume = lockedVdb();
    volume.label = "evil\x1b]0;pwned\x07\xc2\x9b";
    std::string table = formatTable({volume});
    CHECK(table.find('\x1b') == std::string::npos);
    CHECK(table.find("evil\\x1b]0;pwned\\x07\\xc2\\x9b") != std::string::npos);
    CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("status prints every property as Key: value", "[unit]")
{
    CHECK(formatStatus(lockedVdb()) ==
          "Device: /dev/vdb\n"
          "KernelName: vdb\n"
          "Size: 1.0G (1073741824 bytes)\n"
          "State: locked\n"
          "LuksVersion: 2\n"
          "LuksUuid: 0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11\n"
          "Label: data\n"
          "MappingName: -\n"
          "MountPoint: -\n"
          "FilesystemType: -\n"
          "UnlockedBy: -\n"
          "EbsVolumeId: -\n"
          "RequestedName: -\n"
          "Serial: -\n"
          "Model: -\n"
          "Ephemeral: no\n"
          "Links: -\n");
}

TEST_CASE("status shows what EC2 calls a volume", "[unit]")
{
    VolumeProperties volume = mountedNvme("nvme1n1");
    volume.ebsVolumeId = "vol-0123456789abcdef0";
    volume.requestedName = "sdf";
    volume.serial = "vol0123456789abcdef0";
    volume.model = "Amazon Elastic Block Store";
    volume.links = {"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0",
                    "/dev/sdf"};
    const std::string status = formatStatus(volume);
    CHECK_THAT(status, Catch::Contains("EbsVolumeId: vol-0123456789abcdef0\n"));
    CHECK_THAT(status, Catch::Contains("RequestedName: sdf\n"));
    CHECK_THAT(status, Catch::Contains("Model: Amazon Elastic Block Store\n"));
    CHECK_THAT(status,
               Catch::Contains(
                   "Links: /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0 "
                   "/dev/sdf\n"));

    VolumeProperties store = lockedVdb();
    store.ephemeral = true;
    CHECK_THAT(formatStatus(store), Catch::Contains("Ephemeral: yes (instance store"));
}

TEST_CASE("the table gets EC2 columns only when a volume has EC2 names", "[unit]")
{
    VolumeProperties ebs = mountedNvme("nvme1n1");
    ebs.ebsVolumeId = "vol-0123456789abcdef0";
    ebs.requestedName = "sdf";
    CHECK(
        formatTable({lockedVdb(), ebs}) ==
        "DEVICE        EBS VOLUME             AS   SIZE   STATE    MAPPING   MOUNT POINT  LABEL\n"
        "/dev/nvme1n1  vol-0123456789abcdef0  sdf  10.0G  mounted  storedev  /secure      -\n"
        "/dev/vdb      -                      -    1.0G   locked   -         -            data\n");
}

TEST_CASE("a volume's json has every property under lowerCamel keys", "[unit]")
{
    nlohmann::ordered_json json = volumeToJson(mountedNvme("nvme1n1"));
    CHECK(json == nlohmann::ordered_json{{"device", "/dev/nvme1n1"},
                                         {"kernelName", "nvme1n1"},
                                         {"size", 10ULL << 30},
                                         {"state", "mounted"},
                                         {"luksVersion", 2},
                                         {"luksUuid", ""},
                                         {"label", ""},
                                         {"mappingName", "storedev"},
                                         {"mountPoint", "/secure"},
                                         {"filesystemType", "ext4"},
                                         {"unlockedBy", 4294967295u},
                                         {"ebsVolumeId", ""},
                                         {"requestedName", ""},
                                         {"serial", ""},
                                         {"model", ""},
                                         {"ephemeral", false},
                                         {"links", nlohmann::ordered_json::array()},
                                         {"duplicates", nlohmann::ordered_json::array()},
                                         {"growableBy", 0},
                                         {"headerHealth", ""},
                                         {"failing", ""}});
}

TEST_CASE("the list json is an array sorted by device", "[unit]")
{
    nlohmann::ordered_json json = volumesToJson({lockedVdb(), mountedNvme("nvme0n1")});
    REQUIRE(json.is_array());
    REQUIRE(json.size() == 2);
    CHECK(json[0]["device"] == "/dev/nvme0n1");
    CHECK(json[1]["device"] == "/dev/vdb");
    CHECK(volumesToJson({}).dump() == "[]");
}

TEST_CASE("json output survives bytes that are not UTF-8", "[unit]")
{
    VolumeProperties volume = lockedVdb();
    volume.label = "bad\xff";
    std::string text = dumpJson(volumeToJson(volume));
    CHECK(text.back() == '\n');
    CHECK(nlohmann::ordered_json::parse(text)["label"] == "bad\xef\xbf\xbd");
}

TEST_CASE("a successful unlock reads as one line", "[unit]")
{
    ActionReport report;
    report.verb = Verb::unlock;
    report.device = "/dev/vdb";
    report.mappingName = "storedev";
    report.mountPoint = "/secure";
    CHECK(formatReport(report) == "unlocked /dev/vdb as storedev, mounted at /secure");

    report.mountPoint.clear();
    CHECK(formatReport(report) == "unlocked /dev/vdb as storedev");
    CHECK(reportToJson(report) == nlohmann::ordered_json{{"device", "/dev/vdb"},
                                                         {"mappingName", "storedev"},
                                                         {"mountPoint", ""},
                                                         {"wasUnlocked", false}});

    report.wasUnlocked = true;
    report.mappingName = "byhand";
    CHECK(formatReport(report) == "already unlocked: /dev/vdb as byhand");
}

TEST_CASE("the other commands report what they did", "[unit]")
{
    ActionReport report;
    report.device = "/dev/vdb";
    report.verb = Verb::format;
    report.filesystem = "xfs";
    CHECK(formatReport(report) == "formatted /dev/vdb as LUKS2 with xfs");
    report.label = "data";
    CHECK(formatReport(report) == "formatted /dev/vdb as LUKS2 with xfs, label 'data'");
    CHECK(reportToJson(report) == nlohmann::ordered_json{{"device", "/dev/vdb"},
                                                         {"filesystemType", "xfs"},
                                                         {"label", "data"}});

    report.verb = Verb::mount;
    report.mountPoint = "/media/vault/storedev";
    CHECK(formatReport(report) == "mounted /dev/vdb at /media/vault/storedev");

    report.verb = Verb::unmount;
    CHECK(formatReport(report) == "unmounted /dev/vdb");
    report.verb = Verb::lock;
    CHECK(formatReport(report) == "locked /dev/vdb");
    CHECK(reportToJson(report) ==
          nlohmann::ordered_json{{"device", "/dev/vdb"}, {"deferred", false}});
    report.deferred = true;
    CHECK_THAT(formatReport(report),
               Catch::StartsWith("locking /dev/vdb when its last user lets go") &&
                   Catch::Contains("the key stays in the kernel until then"));
}

TEST_CASE("a grow reports the layers that grew, or that nothing had to", "[unit]")
{
    ActionReport report;
    report.verb = Verb::grow;
    report.device = "/dev/vdb";
    report.changed = true;
    report.layers = {{"device", 2ull << 30, 2ull << 30},
                     {"mapping", (1ull << 30) - (16ull << 20), (2ull << 30) - (16ull << 20)},
                     {"filesystem", 950ull << 20, 1946ull << 20}};
    CHECK(formatReport(report) ==
          "grew /dev/vdb: mapping 1008.0M -> 2.0G, filesystem 950.0M -> 1.9G");
    auto json = reportToJson(report);
    CHECK(json["changed"] == true);
    REQUIRE(json["layers"].size() == 3);
    CHECK(json["layers"][1] == nlohmann::ordered_json{{"layer", "mapping"},
                                                      {"before", (1ull << 30) - (16ull << 20)},
                                                      {"after", (2ull << 30) - (16ull << 20)}});

    report.changed = false;
    report.layers = {{"device", 2ull << 30, 2ull << 30},
                     {"mapping", 2032ull << 20, 2032ull << 20},
                     {"filesystem", 1946ull << 20, 1946ull << 20}};
    CHECK(formatReport(report) ==
          "no change: /dev/vdb fills its device already (device 2.0G, "
          "mapping 2.0G, filesystem 1.9G)");
}

TEST_CASE("header backups list as a table, or say there are none", "[unit]")
{
    CHECK(formatHeaderBackups({}) == "no header backups\n");
    std::vector<HeaderBackupInfo> backups{{"0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11", "/dev/nvme1n1",
                                           "vol-0123456789abcdef0", "vol0123456789abcdef0",
                                           1796300000, 16ull << 20}};
    const std::string table = formatHeaderBackups(backups);
    CHECK_THAT(table, Catch::StartsWith("LUKS UUID") &&
                          Catch::Contains("0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11  /dev/nvme1n1  "
                                          "vol-0123456789abcdef0  16.0M") &&
                          Catch::Contains("2026-12-03"));
    auto json = headerBackupsToJson(backups);
    REQUIRE(json.size() == 1);
    CHECK(json[0]["savedAt"] == 1796300000);
    CHECK(json[0]["ebsVolumeId"] == "vol-0123456789abcdef0");

    ActionReport report;
    report.verb = Verb::headerBackup;
    report.device = "/dev/nvme1n1";
    report.luksUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    report.bytes = 16ull << 20;
    report.file = "/root/nvme1n1.header";
    CHECK(formatReport(report) ==
          "wrote the header of /dev/nvme1n1 (LUKS UUID 0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11, "
          "16.0M) to /root/nvme1n1.header; keep it as safe as the data");
}

TEST_CASE("status names a damaged header and what to do", "[unit]")
{
    VolumeProperties v;
    v.device = "/dev/vdb";
    v.headerHealth = "none";
    CHECK_THAT(formatStatus(v), !Catch::Contains("Header:"));
    v.headerHealth = "valid";
    CHECK_THAT(formatStatus(v), Catch::Contains("Header: valid\n"));
    v.headerHealth = "overwritten";
    CHECK_THAT(formatStatus(v), Catch::Contains("Header: overwritten (") &&
                                    Catch::Contains("restore the header from a backup"));
    v.headerHealth = "primary-damaged";
    CHECK_THAT(formatStatus(v), Catch::Contains("take a header backup now"));
}

namespace {

KeyslotList threeSlots()
{
    return {2,
            {{0, "passphrase", "argon2id", 4, 131072, 2},
             {1, "recovery", "pbkdf2", 1000, 0, 0},
             {2, "token:systemd-tpm2", "argon2i", 1, 1048576, 1}}};
}

std::string asString(const SecretBuffer& buffer)
{
    return {reinterpret_cast<const char*>(buffer.bytes().data()), buffer.size()};
}

std::span<const std::byte> bytesOf(std::string_view text)
{
    return std::as_bytes(std::span(text.data(), text.size()));
}

constexpr std::string_view recoveryKey = "k7hq2m-a3bcde-fghjkm-npqrst-vwxyz2-345678-9abcde-fghjkm";

}  // namespace

TEST_CASE("a key derivation's memory reads in binary units", "[unit]")
{
    CHECK(kibText(0) == "-");
    CHECK(kibText(900) == "900 KiB");
    CHECK(kibText(1024) == "1 MiB");
    CHECK(kibText(131072) == "128 MiB");
    CHECK(kibText(1048576) == "1 GiB");
    CHECK(kibText(1572864) == "1.5 GiB");
    CHECK(kibText(100000) == "97.7 MiB");
}

TEST_CASE("one keyslot reads as kind, key derivation and its costs", "[unit]")
{
    const KeyslotList list = threeSlots();
    CHECK(keyslotSummary(list.keyslots[0]) ==
          "passphrase, argon2id, 128 MiB, 2 threads, 4 iterations");
    CHECK(keyslotSummary(list.keyslots[1]) == "recovery, pbkdf2, 1000 iterations");
    CHECK(keyslotSummary(list.keyslots[2]) ==
          "token:systemd-tpm2, argon2i, 1 GiB, 1 thread, 1 iteration");
}

TEST_CASE("keyslot list is a table with - where pbkdf2 has no cost", "[unit]")
{
    CHECK(formatKeyslots(threeSlots()) ==
          "SLOT  KIND                PBKDF     MEMORY   THREADS  ITERATIONS\n"
          "0     passphrase          argon2id  128 MiB  2        4\n"
          "1     recovery            pbkdf2    -        -        1000\n"
          "2     token:systemd-tpm2  argon2i   1 GiB    1        1\n");
    CHECK(formatKeyslots({2, {}}) == "no keyslots in use\n");

    KeyslotList hostile{2, {{0, "token:\x1b[31mred", "argon2id", 4, 131072, 2}}};
    CHECK_THAT(formatKeyslots(hostile), !Catch::Contains("\x1b") && Catch::Contains("\\x1b[31m"));
}

TEST_CASE("keyslot list --json gives the LUKS version and every slot", "[unit]")
{
    nlohmann::ordered_json json = keyslotsToJson(threeSlots());
    CHECK(json.dump() ==
          R"({"luksVersion":2,"keyslots":[)"
          R"({"slot":0,"kind":"passphrase","pbkdf":"argon2id","iterations":4,)"
          R"("memoryKib":131072,"parallel":2},)"
          R"({"slot":1,"kind":"recovery","pbkdf":"pbkdf2","iterations":1000,)"
          R"("memoryKib":0,"parallel":0},)"
          R"({"slot":2,"kind":"token:systemd-tpm2","pbkdf":"argon2i","iterations":1,)"
          R"("memoryKib":1048576,"parallel":1}]})");
    CHECK(keyslotsToJson({1, {}}).dump() == R"({"luksVersion":1,"keyslots":[]})");
}

TEST_CASE("status shows the keyslots after the header, when it has them", "[unit]")
{
    VolumeProperties v = lockedVdb();
    v.headerHealth = "valid";
    const std::string status = formatStatus(v, threeSlots());
    CHECK_THAT(status,
               Catch::Contains("Header: valid\n"
                               "Keyslot 0: passphrase, argon2id, 128 MiB, 2 threads, 4 iterations\n"
                               "Keyslot 1: recovery, pbkdf2, 1000 iterations\n"
                               "Keyslot 2: token:systemd-tpm2, argon2i, 1 GiB, 1 thread, 1 "
                               "iteration\n"
                               "Label: data\n"));
    // ListKeyslots failed (or an older vaultd): everything else, and no keyslot lines.
    CHECK(formatStatus(v, std::nullopt) == formatStatus(v));
    CHECK_THAT(formatStatus(v), !Catch::Contains("Keyslot"));
}

TEST_CASE("status --json has a keyslots array when the keyslots are known", "[unit]")
{
    nlohmann::ordered_json json = statusToJson(lockedVdb(), threeSlots());
    REQUIRE(json.contains("keyslots"));
    REQUIRE(json["keyslots"].size() == 3);
    CHECK(json["keyslots"][0] == nlohmann::ordered_json{{"slot", 0},
                                                        {"kind", "passphrase"},
                                                        {"pbkdf", "argon2id"},
                                                        {"iterations", 4},
                                                        {"memoryKib", 131072},
                                                        {"parallel", 2}});
    CHECK(statusToJson(lockedVdb(), KeyslotList{})["keyslots"] == nlohmann::ordered_json::array());
    CHECK_FALSE(statusToJson(lockedVdb()).contains("keyslots"));
    // list --json is unchanged: no keyslots there.
    CHECK_FALSE(volumesToJson({lockedVdb()})[0].contains("keyslots"));
}

TEST_CASE("a recovery key is shown once, set apart, with its keyslot", "[unit]")
{
    const std::string text =
        asString(renderRecoveryKey("/dev/vdb", 1, bytesOf(recoveryKey), false));
    CHECK_THAT(text, Catch::StartsWith("made a recovery key for /dev/vdb, in keyslot 1:\n\n    " +
                                       std::string(recoveryKey) + "\n\n"));
    CHECK_THAT(text, Catch::Contains("shown only this once") && Catch::Contains("offline"));
    CHECK(text.back() == '\n');
    // Exactly once.
    CHECK(text.find(recoveryKey) == text.rfind(recoveryKey));
}

TEST_CASE("a recovery key's json has its keyslot and the key", "[unit]")
{
    const std::string text = asString(renderRecoveryKey("/dev/vdb", 3, bytesOf(recoveryKey), true));
    CHECK(text.back() == '\n');
    nlohmann::ordered_json json = nlohmann::ordered_json::parse(text);
    CHECK(json == nlohmann::ordered_json{{"keyslot", 3}, {"recoveryKey", recoveryKey}});
    // Laid out as dumpJson lays out everything else.
    CHECK(text == dumpJson(json));
}

TEST_CASE("the key and header commands report what they did", "[unit]")
{
    ActionReport report;
    report.device = "/dev/vdb";

    report.verb = Verb::keyslotAdd;
    report.keyslot = 2;
    CHECK(formatReport(report) == "added keyslot 2 to /dev/vdb");
    CHECK(reportToJson(report) == nlohmann::ordered_json{{"device", "/dev/vdb"},
                                                         {"keyslot", 2},
                                                         {"keyKind", "passphrase"}});

    report.verb = Verb::keyslotChange;
    CHECK(formatReport(report) == "keyslot 2 of /dev/vdb now holds the new passphrase");
    report.keyFile = true;
    CHECK(formatReport(report) == "keyslot 2 of /dev/vdb now holds the new key file");
    CHECK(reportToJson(report)["keyKind"] == "keyfile");

    report.verb = Verb::keyslotRemove;
    CHECK(formatReport(report) == "removed keyslot 2 from /dev/vdb");
    CHECK(reportToJson(report) == nlohmann::ordered_json{{"device", "/dev/vdb"}, {"keyslot", 2}});

    report.verb = Verb::headerRepair;
    report.headerHealth = "primary-damaged";
    CHECK(formatReport(report) ==
          "repaired the header of /dev/vdb (it was primary-damaged); a backup was kept first");
    CHECK(
        reportToJson(report) ==
        nlohmann::ordered_json{{"device", "/dev/vdb"}, {"headerHealthBefore", "primary-damaged"}});
}

TEST_CASE("a header restore says when the device named another volume, or none", "[unit]")
{
    ActionReport report;
    report.verb = Verb::headerRestore;
    report.device = "/dev/vdb";
    report.file = "/root/vdb.header";
    report.luksUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    report.previousLuksUuid = report.luksUuid;
    CHECK(formatReport(report) ==
          "restored the header of /dev/vdb from /root/vdb.header (UUID "
          "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11)");

    report.previousLuksUuid = "9c1e0000-0000-4000-8000-000000000000";
    CHECK_THAT(formatReport(report),
               Catch::EndsWith("; the device named LUKS UUID 9c1e0000-0000-4000-8000-000000000000 "
                               "before"));
    report.previousLuksUuid.clear();
    CHECK_THAT(formatReport(report), Catch::EndsWith("; the device named no LUKS volume before"));
    CHECK(reportToJson(report) ==
          nlohmann::ordered_json{{"device", "/dev/vdb"},
                                 {"file", "/root/vdb.header"},
                                 {"luksUuid", "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11"},
                                 {"previousLuksUuid", ""}});
}

namespace {

VolumeProperties configuredVdb()
{
    VolumeProperties volume = lockedVdb();
    volume.configuration = "cfg";
    volume.configurationError =
        "KeyFileUnsafe: '/etc/vaultd/keys/cfg.key' must be readable by root alone (it is 0644)";
    return volume;
}

}  // namespace

TEST_CASE("status names the configured volume a device is, and why it did not open", "[unit]")
{
    const std::string status = formatStatus(configuredVdb());
    CHECK_THAT(status, Catch::Contains("MountPoint: -\n"
                                       "Configuration: cfg\n"
                                       "ConfigurationError: KeyFileUnsafe: "
                                       "'/etc/vaultd/keys/cfg.key' must be readable by root alone "
                                       "(it is 0644)\n"
                                       "FilesystemType: -\n"));

    // Configured, and the automatic unlock worked (or was not tried): no error line.
    VolumeProperties opened = configuredVdb();
    opened.configurationError.clear();
    CHECK_THAT(formatStatus(opened),
               Catch::Contains("Configuration: cfg\n") && !Catch::Contains("ConfigurationError"));

    // Not configured: neither line, exactly as before.
    CHECK_THAT(formatStatus(lockedVdb()), !Catch::Contains("Configuration"));
}

TEST_CASE("status escapes control characters in the configuration and its error", "[unit]")
{
    VolumeProperties volume = configuredVdb();
    volume.configuration = "cfg\x1b[2J";
    volume.configurationError = "Failed: bad\nline\xc2\x9b";
    const std::string status = formatStatus(volume);
    CHECK_THAT(status, !Catch::Contains("\x1b") &&
                           Catch::Contains("Configuration: cfg\\x1b[2J\n") &&
                           Catch::Contains("ConfigurationError: Failed: bad\\x0aline\\xc2\\x9b\n"));
}

TEST_CASE("status --json always has configuration and configurationError", "[unit]")
{
    nlohmann::ordered_json plain = statusToJson(lockedVdb());
    REQUIRE(plain.contains("configuration"));
    REQUIRE(plain.contains("configurationError"));
    CHECK(plain["configuration"] == "");
    CHECK(plain["configurationError"] == "");

    nlohmann::ordered_json configured = statusToJson(configuredVdb(), threeSlots());
    CHECK(configured["configuration"] == "cfg");
    CHECK(configured["configurationError"] ==
          "KeyFileUnsafe: '/etc/vaultd/keys/cfg.key' must be readable by root alone (it is 0644)");
    // Every property list --json has, in the same order, then the status-only keys.
    nlohmann::ordered_json expected = volumeToJson(configuredVdb());
    expected["configuration"] = "cfg";
    expected["configurationError"] = configured["configurationError"];
    expected["keyslots"] = keyslotsToJson(threeSlots())["keyslots"];
    CHECK(configured.dump() == expected.dump());

    // list --json is unchanged.
    CHECK_FALSE(volumesToJson({configuredVdb()})[0].contains("configuration"));
    CHECK_FALSE(volumeToJson(configuredVdb()).contains("configurationError"));
}

TEST_CASE("a reload names the configured volumes in force", "[unit]")
{
    CHECK(formatReload({{"cfg", "data"}, {}}) == "configured volumes: cfg, data\n");
    CHECK(formatReload({{"cfg"}, {}}) == "configured volumes: cfg\n");
    CHECK(formatReload({}) == "configured volumes: none\n");
    CHECK(dumpJson(reloadToJson({{"cfg", "data"}, {}})) ==
          "{\n"
          "  \"volumes\": [\n"
          "    \"cfg\",\n"
          "    \"data\"\n"
          "  ],\n"
          "  \"problems\": []\n"
          "}\n");
    CHECK(reloadToJson({}).dump() == R"({"volumes":[],"problems":[]})");
}

TEST_CASE("a reload lists each skipped file and says the others are in force", "[unit]")
{
    ConfigurationReload one{{"cfg"},
                            {"/etc/vaultd/volumes.d/broken.toml:2: expected a key, found '['"}};
    CHECK(formatReload(one) ==
          "configured volumes: cfg\n"
          "skipped: /etc/vaultd/volumes.d/broken.toml:2: expected a key, found '['\n"
          "1 file skipped, the others are in force; fix it and run vaultctl reload again\n");
    CHECK(reloadToJson(one) ==
          nlohmann::ordered_json{
              {"volumes", {"cfg"}},
              {"problems", {"/etc/vaultd/volumes.d/broken.toml:2: expected a key, found '['"}}});

    ConfigurationReload two{{},
                            {"/etc/vaultd/volumes.d/a.toml:1: unknown key 'colour'",
                             "/etc/vaultd/volumes.d/b.toml:4: no identity to match a device by"}};
    CHECK(formatReload(two) ==
          "configured volumes: none\n"
          "skipped: /etc/vaultd/volumes.d/a.toml:1: unknown key 'colour'\n"
          "skipped: /etc/vaultd/volumes.d/b.toml:4: no identity to match a device by\n"
          "2 files skipped, the others are in force; fix them and run vaultctl reload again\n");
    CHECK(reloadToJson(two)["volumes"] == nlohmann::ordered_json::array());
    CHECK(reloadToJson(two)["problems"].size() == 2);
}

TEST_CASE("a reload report cannot drive the terminal", "[unit]")
{
    // The reason quotes what the file holds, and file and volume names are an admin's choice.
    ConfigurationReload hostile{{"ev\x1b]0;il\x07"},
                                {"/etc/vaultd/volumes.d/x\x1b[2J.toml:3: unexpected '\x1b[31m'\n"
                                 "forged line\xc2\x9b"}};
    const std::string text = formatReload(hostile);
    CHECK_THAT(text, !Catch::Contains("\x1b") && !Catch::Contains("\x07") &&
                         !Catch::Contains("\xc2\x9b") && !Catch::Contains("\nforged"));
    CHECK_THAT(text, Catch::StartsWith("configured volumes: ev\\x1b]0;il\\x07\n"
                                       "skipped: /etc/vaultd/volumes.d/x\\x1b[2J.toml:3: "
                                       "unexpected '\\x1b[31m'\\x0aforged line\\xc2\\x9b\n"));
    // JSON carries the bytes as they are (escaped by the JSON encoder).
    CHECK(reloadToJson(hostile)["problems"][0] == hostile.problems[0]);
    CHECK_THAT(dumpJson(reloadToJson(hostile)), !Catch::Contains("\x1b"));
}

TEST_CASE("bind and unbind report the keyslot, and bind the key server", "[unit]")
{
    ActionReport report;
    report.device = "/dev/nvme1n1";
    report.verb = Verb::bind;
    report.keyslot = 2;
    report.pin = "tang";
    report.url = "http://tang.internal:7500";
    CHECK(formatReport(report) ==
          "bound /dev/nvme1n1 to tang at http://tang.internal:7500: keyslot 2");
    const nlohmann::ordered_json bound = reportToJson(report);
    CHECK(bound == nlohmann::ordered_json{{"device", "/dev/nvme1n1"},
                                          {"keyslot", 2},
                                          {"pin", "tang"},
                                          {"url", "http://tang.internal:7500"}});
    CHECK(dumpJson(bound) ==
          "{\n  \"device\": \"/dev/nvme1n1\",\n  \"keyslot\": 2,\n  \"pin\": \"tang\",\n  "
          "\"url\": \"http://tang.internal:7500\"\n}\n");

    report.verb = Verb::unbind;
    CHECK(formatReport(report) == "unbound /dev/nvme1n1: keyslot 2 and its clevis token removed");
    CHECK(reportToJson(report) ==
          nlohmann::ordered_json{{"device", "/dev/nvme1n1"}, {"keyslot", 2}});
}

TEST_CASE("a bind report cannot drive the terminal", "[unit]")
{
    ActionReport report;
    report.verb = Verb::bind;
    report.device = "/dev/vdb\x1b";
    report.pin = "tang";
    report.url = "http://tang/\x07";
    CHECK(formatReport(report) == "bound /dev/vdb\\x1b to tang at http://tang/\\x07: keyslot 0");
}

TEST_CASE("tune reports the dm-crypt options the header keeps", "[unit]")
{
    ActionReport report;
    report.verb = Verb::tune;
    report.device = "/dev/nvme1n1";
    report.flags = {"no_read_workqueue", "no_write_workqueue"};
    CHECK(formatReport(report) ==
          "the header of /dev/nvme1n1 keeps no_read_workqueue no_write_workqueue");
    CHECK(reportToJson(report) ==
          nlohmann::ordered_json{{"device", "/dev/nvme1n1"},
                                 {"flags", {"no_read_workqueue", "no_write_workqueue"}}});

    report.flags.clear();
    report.changed = true;
    CHECK(formatReport(report) ==
          "the header of /dev/nvme1n1 keeps no dm-crypt options; unlocks from now on use them");
    CHECK(reportToJson(report) ==
          nlohmann::ordered_json{{"device", "/dev/nvme1n1"},
                                 {"flags", nlohmann::ordered_json::array()}});
}

TEST_CASE("a usage error with --json is the failure object scripts already parse", "[unit]")
{
    auto json = nlohmann::json::parse(
        usageErrorJson("vaultctl: unknown command 'frob'; see 'vaultctl --help'", exitUsage));
    CHECK(json["error"] == "vaultctl.Error");
    CHECK(json["message"] == "unknown command 'frob'; see 'vaultctl --help'");
    CHECK(json["exitCode"] == exitUsage);
}
