#include "engine/topology.hpp"

#include <catch2/catch.hpp>

#include "fakes.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

BlockNode node(const std::string& name, std::uint64_t size = kGiB)
{
    BlockNode n;
    n.name = name;
    n.devnum = "8:0";
    n.size = size;
    return n;
}

// A small machine: vda holds the system on vda1, vdb and vdc are spare.
Topology machine()
{
    Topology t;
    addDisk(t, "vda", "254:0", 8 * kGiB);
    addPartition(t, "vda1", "vda", "254:1", 8 * kGiB - kMiB);
    addDisk(t, "vdb", "254:16", kGiB);
    addDisk(t, "vdc", "254:32", kGiB);
    addMount(t, "254:1", "/", "ext4");
    return t;
}

}  // namespace

TEST_CASE("whole disks and partitions are volume candidates", "[unit]")
{
    CHECK(isCandidate(node("vdb"), false));
    CHECK(isCandidate(node("nvme0n1p1"), false));
    CHECK(isCandidate(node("xvdf"), false));
}

TEST_CASE("device-mapper, optical and zero-sized devices are never candidates", "[unit]")
{
    CHECK_FALSE(isCandidate(node("dm-0"), true));
    CHECK_FALSE(isCandidate(node("sr0"), true));
    CHECK_FALSE(isCandidate(node("md127"), true));
    CHECK_FALSE(isCandidate(node("zram0"), true));
    CHECK_FALSE(isCandidate(node("vdb", 0), true));
}

TEST_CASE("a loop device is a candidate only with a backing file and when allowed", "[unit]")
{
    BlockNode backed = node("loop3");
    backed.loopBacked = true;
    BlockNode unbacked = node("loop4");

    CHECK(isCandidate(backed, true));
    CHECK_FALSE(isCandidate(backed, false));
    CHECK_FALSE(isCandidate(unbacked, true));
    CHECK_FALSE(isCandidate(unbacked, false));
}

TEST_CASE("the disk whose partition holds / is reserved, other disks are free", "[unit]")
{
    const Topology t = machine();

    auto reason = reservedBy(t, "vda");
    REQUIRE(reason.has_value());
    CHECK_THAT(*reason, Catch::Contains("'vda'") && Catch::Contains("'/'"));
    CHECK(reservedBy(t, "vda1").has_value());
    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a disk holding active swap is reserved, found by its devnum", "[unit]")
{
    Topology t = machine();
    addPartition(t, "vdc2", "vdc", "254:34", 512 * kMiB);
    t.swaps.push_back("254:34");

    auto reason = reservedBy(t, "vdc");
    REQUIRE(reason.has_value());
    CHECK_THAT(*reason, Catch::Contains("swap"));
    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a disk under LVM whose logical volume holds / is reserved", "[unit]")
{
    Topology t;
    addDisk(t, "vda", "254:0", 8 * kGiB);
    addPartition(t, "vda2", "vda", "254:2", 7 * kGiB);
    addDisk(t, "vdb", "254:16", kGiB);
    addDmDevice(t, "dm-0", "253:0", "vg0-root", "LVM-abcdef", {"vda2"});
    addMount(t, "253:0", "/", "xfs");

    CHECK(reservedBy(t, "vda").has_value());
    CHECK(reservedBy(t, "vda2").has_value());
    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a logical volume spanning two disks reserves both", "[unit]")
{
    Topology t;
    addDisk(t, "vdb", "254:16", kGiB);
    addDisk(t, "vdc", "254:32", kGiB);
    addDmDevice(t, "dm-1", "253:1", "vg1-data", "LVM-123456", {"vdb", "vdc"});
    addMount(t, "253:1", "/srv", "ext4");

    CHECK(reservedBy(t, "vdb").has_value());
    CHECK(reservedBy(t, "vdc").has_value());
}

TEST_CASE("a disk with a plain filesystem mounted at /data is reserved", "[unit]")
{
    Topology t = machine();
    addMount(t, "254:16", "/data", "ext4");

    auto reason = reservedBy(t, "vdb");
    REQUIRE(reason.has_value());
    CHECK_THAT(*reason, Catch::Contains("/data"));
}

TEST_CASE("a LUKS mapping of a volume mounted at /secure leaves the volume free", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "253:0", "/secure", "ext4");

    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("vaultd's own private mount of a mapping under /run leaves the volume free", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-0", "253:0", "data", "vdb");
    addMount(t, "253:0", "/run/vaultd/grow/data", "xfs");
    CHECK_FALSE(reservedBy(t, "vdb").has_value());

    // Anywhere else under /run it is the system's.
    t.mounts.clear();
    addMount(t, "253:0", "/run/vaultd/growth", "xfs");
    CHECK(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a LUKS mapping that holds / reserves its disk", "[unit]")
{
    Topology t;
    addDisk(t, "vda", "254:0", 8 * kGiB);
    addPartition(t, "vda3", "vda", "254:3", 7 * kGiB);
    addLuksMapping(t, "dm-0", "253:0", "root", "vda3");
    addMount(t, "253:0", "/", "ext4");

    CHECK(reservedBy(t, "vda").has_value());
    CHECK(reservedBy(t, "vda3").has_value());
}

TEST_CASE("encrypted swap on a LUKS mapping reserves its disk", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-2", "253:2", "cryptswap", "vdc");
    t.swaps.push_back("253:2");

    CHECK(reservedBy(t, "vdc").has_value());
}

TEST_CASE("a mount of a device the topology does not list reserves nothing", "[unit]")
{
    Topology t = machine();
    addMount(t, "259:9", "/gone", "ext4");

    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("the LUKS mapping of a device is found by its slave", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");

    const BlockNode* mapping = luksMappingOf(t, "vdb");
    REQUIRE(mapping != nullptr);
    CHECK(mapping->name == "dm-0");
    CHECK(mapping->dmName == "secure");
    CHECK(luksMappingOf(t, "vdc") == nullptr);
}

TEST_CASE("a device-mapper device that is not LUKS is no LUKS mapping", "[unit]")
{
    Topology t = machine();
    addDmDevice(t, "dm-0", "253:0", "vg-lv", "LVM-abcdef", {"vdb"});
    addDmDevice(t, "dm-1", "253:1", "plain", "CRYPT-PLAIN-plain", {"vdc"});

    CHECK(luksMappingOf(t, "vdb") == nullptr);
    CHECK(luksMappingOf(t, "vdc") == nullptr);
}

TEST_CASE("the holder of a device is any device-mapper device on it", "[unit]")
{
    Topology t = machine();
    addDmDevice(t, "dm-0", "253:0", "vg-lv", "LVM-abcdef", {"vdb", "vdc"});

    const BlockNode* holderB = holderOf(t, "vdb");
    const BlockNode* holderC = holderOf(t, "vdc");
    REQUIRE(holderB != nullptr);
    REQUIRE(holderC != nullptr);
    CHECK(holderB->name == "dm-0");
    CHECK(holderC->name == "dm-0");
    CHECK(holderOf(t, "vda") == nullptr);
}

TEST_CASE("a device's mount is found by devnum and the first one wins", "[unit]")
{
    Topology t = machine();
    addMount(t, "254:16", "/data", "ext4", "/dev/vdb");
    addMount(t, "254:16", "/data-bind", "ext4", "/dev/vdb");

    const MountEntry* mount = mountOf(t, t.nodes.at("vdb"));
    REQUIRE(mount != nullptr);
    CHECK(mount->target == "/data");
    CHECK(mount->fstype == "ext4");
    CHECK(mountOf(t, t.nodes.at("vdc")) == nullptr);
}

TEST_CASE("a btrfs mount with an anonymous devnum is traced by its source path", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "0:45", "/secure", "btrfs", "/dev/mapper/secure");
    addMount(t, "0:46", "/srv", "btrfs", "/dev/vdc");

    const MountEntry* secure = mountOf(t, t.nodes.at("dm-0"));
    REQUIRE(secure != nullptr);
    CHECK(secure->target == "/secure");
    CHECK(sourceOf(t, t.mounts.at(1)) == &t.nodes.at("dm-0"));
    CHECK(sourceOf(t, t.mounts.at(2)) == &t.nodes.at("vdc"));
}

TEST_CASE("a mount from no device the topology lists has no source", "[unit]")
{
    Topology t = machine();
    addMount(t, "0:51", "/run/user/1000", "tmpfs", "tmpfs");
    addMount(t, "0:52", "/gone", "btrfs", "/dev/mapper/gone");
    addMount(t, "0:53", "/old", "btrfs", "/dev/vdq");

    CHECK(sourceOf(t, t.mounts.at(1)) == nullptr);
    CHECK(sourceOf(t, t.mounts.at(2)) == nullptr);
    CHECK(sourceOf(t, t.mounts.at(3)) == nullptr);
}

TEST_CASE("a disk whose partition holds a btrfs / is reserved", "[unit]")
{
    Topology t;
    addDisk(t, "vda", "254:0", 8 * kGiB);
    addPartition(t, "vda3", "vda", "254:3", 7 * kGiB);
    addDisk(t, "vdb", "254:16", kGiB);
    addMount(t, "0:30", "/", "btrfs", "/dev/vda3");
    addMount(t, "0:30", "/home", "btrfs", "/dev/vda3");

    CHECK(reservedBy(t, "vda").has_value());
    CHECK(reservedBy(t, "vda3").has_value());
    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a btrfs filesystem inside a volume's LUKS mapping leaves the volume free", "[unit]")
{
    Topology t = machine();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "0:45", "/secure", "btrfs", "/dev/mapper/secure");

    CHECK_FALSE(reservedBy(t, "vdb").has_value());
}

TEST_CASE("a departed disk leaves with its partitions, and its mapping loses that slave", "[unit]")
{
    Topology t = machine();
    t.nodes.at("vdb").diskseq = 7;
    addPartition(t, "vdb1", "vdb", "254:17", kGiB - kMiB).diskseq = 7;  // a disk's number
    t.nodes.at("vdb1").holders = {"dm-0"};
    addDmDevice(t, "dm-0", "253:0", "data", "CRYPT-LUKS2-0b7f-data", {"vdb1"});
    t.nodes.at("vdc").diskseq = 8;

    CHECK(dropDeparted(t, {7, 9}) == std::set<std::uint64_t>{7});

    CHECK_FALSE(t.nodes.count("vdb"));
    CHECK_FALSE(t.nodes.count("vdb1"));
    CHECK(t.nodes.count("vdc"));
    const BlockNode& dm = t.nodes.at("dm-0");
    CHECK(dm.slaves.empty());
    CHECK(dm.lostSlaves == std::vector<std::string>{"vdb1"});
    REQUIRE(lostMappings(t).size() == 1);
    // Once sysfs no longer lists it, nothing is left to drop.
    CHECK(dropDeparted(t, {7}).empty());
}
