#include "system/sysfs.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "temp_dir.hpp"

using namespace vaultd;
using testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string readLine(const fs::path& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

void writeFile(const fs::path& path, const std::string& text)
{
    fs::create_directories(path.parent_path());
    std::ofstream out(path);
    out << text << "\n";
    REQUIRE(out.good());
}

// One device directory as the kernel lays it out under devices/, linked from
// class/block/ the way sysfs links it.
fs::path addDevice(const fs::path& root, const std::string& devicePath, const std::string& devnum,
                   std::uint64_t sectors, bool readOnly = false)
{
    const fs::path dir = root / "devices" / devicePath;
    writeFile(dir / "dev", devnum);
    writeFile(dir / "size", std::to_string(sectors));
    writeFile(dir / "ro", readOnly ? "1" : "0");
    fs::create_directories(root / "class" / "block");
    fs::create_symlink(fs::relative(dir, root / "class" / "block"),
                       root / "class" / "block" / dir.filename());
    return dir;
}

// A sysfs tree with a disk and its partition, a dm-crypt mapping of the
// partition, and a read-only loop device with a backing file.
fs::path fakeSysfs(const TempDir& dir)
{
    const fs::path root = dir.path() / "sys";
    addDevice(root, "pci0000:00/0000:00:05.0/virtio2/block/vdb", "254:16", 2097152);
    const fs::path part =
        addDevice(root, "pci0000:00/0000:00:05.0/virtio2/block/vdb/vdb1", "254:17", 2095104);
    writeFile(part / "partition", "1");

    const fs::path dm = addDevice(root, "virtual/block/dm-0", "253:0", 2062336);
    writeFile(dm / "dm" / "name", "secure");
    writeFile(dm / "dm" / "uuid", "CRYPT-LUKS2-0b7f7a0e3f8e4c369d2a6f2b1c9e8d11-secure");
    fs::create_directories(dm / "slaves");
    fs::create_symlink(part, dm / "slaves" / "vdb1");
    fs::create_directories(part / "holders");
    fs::create_symlink(dm, part / "holders" / "dm-0");

    const fs::path loop = addDevice(root, "virtual/block/loop3", "7:3", 204800, true);
    writeFile(loop / "loop" / "backing_file", "/var/lib/images/test.img");
    addDevice(root, "virtual/block/loop4", "7:4", 0);
    return root;
}

}  // namespace

TEST_CASE("readTopology reads devices, sizes and partitions from a sysfs tree", "[host]")
{
    TempDir dir;
    const engine::Topology t = system::readTopology(fakeSysfs(dir).string());

    REQUIRE(t.nodes.size() == 5);
    const engine::BlockNode& vdb = t.nodes.at("vdb");
    CHECK(vdb.devnum == "254:16");
    CHECK(vdb.size == 2097152ull * 512);
    CHECK(vdb.parent.empty());
    CHECK_FALSE(vdb.readOnly);

    const engine::BlockNode& vdb1 = t.nodes.at("vdb1");
    CHECK(vdb1.devnum == "254:17");
    CHECK(vdb1.parent == "vdb");
    CHECK(vdb1.size == 2095104ull * 512);
}

TEST_CASE("readTopology reads device-mapper names, uuids and slaves", "[host]")
{
    TempDir dir;
    const engine::Topology t = system::readTopology(fakeSysfs(dir).string());

    const engine::BlockNode& dm = t.nodes.at("dm-0");
    CHECK(dm.dmName == "secure");
    CHECK(dm.dmUuid == "CRYPT-LUKS2-0b7f7a0e3f8e4c369d2a6f2b1c9e8d11-secure");
    CHECK(dm.slaves == std::vector<std::string>{"vdb1"});
    CHECK(t.nodes.at("vdb").dmName.empty());

    const engine::BlockNode* mapping = engine::luksMappingOf(t, "vdb1");
    REQUIRE(mapping != nullptr);
    CHECK(mapping->name == "dm-0");
}

TEST_CASE("a mapping whose device is gone, or was replaced, has lost its slave", "[host]")
{
    TempDir dir;
    const fs::path root = fakeSysfs(dir);
    // dm-1 was over vdc, detached: its slave link dangles.
    const fs::path dm1 = addDevice(root, "virtual/block/dm-1", "253:1", 2048);
    writeFile(dm1 / "dm" / "name", "gone");
    writeFile(dm1 / "dm" / "uuid", "CRYPT-LUKS2-11112222333344445555666677778888-gone");
    fs::create_directories(dm1 / "slaves");
    fs::create_symlink(root / "devices/pci0000:00/0000:00:09.0/virtio9/block/vdc",
                       dm1 / "slaves" / "vdc");
    // dm-2 was over a vdd that went; a new disk took the name and the place,
    // and does not list dm-2 as its holder.
    const fs::path vdd = addDevice(root, "pci0000:00/0000:00:0a.0/virtio10/block/vdd", "254:48", 8);
    const fs::path dm2 = addDevice(root, "virtual/block/dm-2", "253:2", 2048);
    writeFile(dm2 / "dm" / "name", "stale");
    writeFile(dm2 / "dm" / "uuid", "CRYPT-LUKS2-9999aaaabbbbccccddddeeeeffff0000-stale");
    fs::create_directories(dm2 / "slaves");
    fs::create_symlink(vdd, dm2 / "slaves" / "vdd");

    const engine::Topology t = system::readTopology(root.string());
    CHECK(t.nodes.at("dm-1").slaves.empty());
    CHECK(t.nodes.at("dm-1").lostSlaves == std::vector<std::string>{"vdc"});
    CHECK(t.nodes.at("dm-2").slaves.empty());
    CHECK(t.nodes.at("dm-2").lostSlaves == std::vector<std::string>{"vdd"});
    CHECK(engine::luksMappingOf(t, "vdd") == nullptr);
    CHECK(engine::holderOf(t, "vdd") == nullptr);
    // The live one is untouched.
    CHECK(t.nodes.at("dm-0").slaves == std::vector<std::string>{"vdb1"});

    std::set<std::string> lost;
    for (const auto* node : engine::lostMappings(t))
        lost.insert(node->dmName);
    CHECK(lost == std::set<std::string>{"gone", "stale"});
}

TEST_CASE("readTopology tells backed loop devices and read-only devices apart", "[host]")
{
    TempDir dir;
    const engine::Topology t = system::readTopology(fakeSysfs(dir).string());

    CHECK(t.nodes.at("loop3").loopBacked);
    CHECK(t.nodes.at("loop3").readOnly);
    CHECK_FALSE(t.nodes.at("loop4").loopBacked);
    CHECK(t.nodes.at("loop4").size == 0);
    CHECK_FALSE(t.nodes.at("vdb").loopBacked);
}

TEST_CASE("readTopology reads model and serial where each kind of disk keeps them", "[host]")
{
    TempDir dir;
    const fs::path root = dir.path() / "sys";
    // NVMe: the namespace's device link leads to its controller, which has
    // the padded model and serial; a partition reports its disk's.
    const fs::path ctrl = root / "devices/pci0000:00/0000:00:04.0/nvme/nvme0";
    writeFile(ctrl / "model", "Amazon Elastic Block Store              ");
    writeFile(ctrl / "serial", "vol0123456789abcdef0");
    const fs::path ns =
        addDevice(root, "pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1", "259:0", 2048);
    fs::create_symlink(ctrl, ns / "device");
    const fs::path part =
        addDevice(root, "pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1", "259:1", 1024);
    writeFile(part / "partition", "1");
    // virtio-blk: a serial beside the disk, no model.
    const fs::path vdc = addDevice(root, "pci0000:00/0000:00:06.0/virtio3/block/vdc", "254:32", 8);
    writeFile(vdc / "serial", "data-disk");
    // SCSI: the model with the device, the serial in VPD page 0x80.
    const fs::path sda =
        addDevice(root, "pci0000:00/0000:00:07.0/host0/target0:0:0/0:0:0:0/block/sda", "8:0", 8);
    const fs::path scsi = sda.parent_path().parent_path();
    writeFile(scsi / "model", "QEMU HARDDISK   ");
    fs::create_symlink(scsi, sda / "device");
    {
        std::ofstream vpd(scsi / "vpd_pg80", std::ios::binary);
        const char page[] = {0x00, (char)0x80, 0x00, 0x06, 's', 'c', 's', 'i', '-', '1'};
        vpd.write(page, sizeof page);
    }

    const engine::Topology t = system::readTopology(root.string());
    CHECK(t.nodes.at("nvme0n1").model == "Amazon Elastic Block Store              ");
    CHECK(t.nodes.at("nvme0n1").serial == "vol0123456789abcdef0");
    CHECK(t.nodes.at("nvme0n1p1").parent == "nvme0n1");
    CHECK(t.nodes.at("nvme0n1p1").serial == "vol0123456789abcdef0");
    CHECK(t.nodes.at("vdc").serial == "data-disk");
    CHECK(t.nodes.at("vdc").model.empty());
    CHECK(t.nodes.at("sda").model == "QEMU HARDDISK   ");
    CHECK(t.nodes.at("sda").serial == "scsi-1");
}

TEST_CASE("readTopology of a missing sysfs has no devices", "[host]")
{
    TempDir dir;
    const engine::Topology t = system::readTopology((dir.path() / "nothing").string());

    CHECK(t.nodes.empty());
}

TEST_CASE("readTopology of this host lists every block device with its devnum", "[host]")
{
    const engine::Topology t = system::readTopology();

    std::set<std::string> listed;
    for (const auto& entry : fs::directory_iterator("/sys/class/block"))
        listed.insert(entry.path().filename().string());
    std::set<std::string> read;
    for (const auto& [name, node] : t.nodes) {
        INFO(name);
        read.insert(name);
        CHECK(name == node.name);
        CHECK(std::regex_match(node.devnum, std::regex("[0-9]+:[0-9]+")));
        CHECK(node.devnum == readLine(fs::path("/sys/class/block") / name / "dev"));
        // Only device-mapper devices have a device-mapper name.
        CHECK(node.dmName.empty() == !name.starts_with("dm-"));
        if (!node.parent.empty())
            CHECK(t.nodes.count(node.parent) == 1);
    }
    CHECK(read == listed);
}

TEST_CASE("readTopology of this host lists the root mount and reserves its disk", "[host]")
{
    const engine::Topology t = system::readTopology();

    // Only mounts of block devices are listed: by devnum, or for btrfs's
    // anonymous devnums by a device path.
    for (const auto& m : t.mounts) {
        INFO(m.target);
        CHECK((!m.devnum.starts_with("0:") || m.source.starts_with("/dev/")));
    }

    struct stat st {};
    REQUIRE(stat("/", &st) == 0);
    if (major(st.st_dev) == 0) {
        WARN("/ is on a virtual filesystem here; nothing to reserve");
        return;
    }
    const std::string rootDevnum =
        std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    CHECK(std::any_of(t.mounts.begin(), t.mounts.end(), [&](const engine::MountEntry& m) {
        return m.devnum == rootDevnum && m.target == "/";
    }));

    for (const auto& [name, node] : t.nodes) {
        if (node.devnum == rootDevnum) {
            INFO(name);
            CHECK(engine::reservedBy(t, name).has_value());
        }
    }
}

TEST_CASE("readTopology of this host lists one devnum per active swap area", "[host]")
{
    const engine::Topology t = system::readTopology();

    std::ifstream swaps("/proc/swaps");
    std::string line;
    std::getline(swaps, line);
    std::size_t areas = 0;
    while (std::getline(swaps, line))
        areas += line.empty() ? 0 : 1;
    CHECK(t.swaps.size() == areas);
}
