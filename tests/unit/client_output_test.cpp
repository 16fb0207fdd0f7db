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
                                         {"headerHealth", ""}});
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
