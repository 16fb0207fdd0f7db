// Lock and unmount when something holds the volume, bind mounts, duplicate
// filesystems, and mappings whose device was detached from under them.
#include "engine/operations.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kPassphrase = "correct horse";

// vdb unlocked as "data" and mounted at the default place; the mapping is
// dm-0, 253:0.
struct MountedVolume {
    FakeSystem sys;
    Operations ops;

    MountedVolume() : ops(sys.ports(), {})
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4", "vault"));
        REQUIRE_THAT(
            ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {1000, 1000}, {}, {}}),
            Succeeds());
        REQUIRE(sys.kernel.dmNodeOf("data") == "dm-0");
        sys.log.clear();
    }

    bool stillMountedAndOpen()
    {
        auto v = ops.inspect("vdb");
        return v && v.value().state == VolumeState::Mounted && v.value().mappingName == "data";
    }

    // The disk vanishes under its mapping, as sysfs shows it afterwards.
    void detach()
    {
        sys.kernel.topology.nodes.erase("vdb");
        auto& dm = sys.kernel.topology.nodes.at("dm-0");
        dm.lostSlaves = dm.slaves;
        dm.slaves.clear();
        sys.kernel.signatures.erase("/dev/vdb");
    }
};

Signature ext4WithUuid(const std::string& uuid)
{
    Signature s = filesystemSignature("ext4");
    s.uuid = uuid;
    return s;
}

}  // namespace

TEST_CASE("lock refuses while a process uses the volume, naming it, and changes nothing", "[unit]")
{
    MountedVolume vol;
    vol.sys.processes.byDevnum["253:0"] = {{4242, "bash", "works in /media/vault/data"},
                                           {4343, "tail", "has /media/vault/data/log open"}};

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, FailsWith(ErrorCode::Busy));
    CHECK_THAT(locked.error().message,
               Catch::Contains("pid 4242 (bash) works in /media/vault/data") &&
                   Catch::Contains("pid 4343 (tail) has /media/vault/data/log open") &&
                   Catch::Contains("lock it lazily"));
    CHECK(vol.sys.log.empty());
    CHECK(vol.stillMountedAndOpen());
}

TEST_CASE("the processes asked about include the filesystem's own device number", "[unit]")
{
    // btrfs files report an anonymous device number, not the mapping's.
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("btrfs"));
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {}, {}, {}}),
                 Succeeds());
    const std::string anonymous = sys.kernel.topology.mounts.front().fsDevnum;
    REQUIRE(anonymous.starts_with("0:"));
    sys.processes.byDevnum[anonymous] = {{77, "vim", "has /media/vault/data/notes open"}};

    auto locked = ops.lock("vdb", {});

    REQUIRE_THAT(locked, FailsWith(ErrorCode::Busy));
    CHECK_THAT(locked.error().message, Catch::Contains("pid 77 (vim)"));
}

TEST_CASE("a lazy lock detaches the mounts and defers the mapping to its last user", "[unit]")
{
    MountedVolume vol;
    vol.sys.processes.byDevnum["253:0"] = {{4242, "bash", "works in /media/vault/data"}};
    vol.sys.crypt.held.insert("data");

    auto locked = vol.ops.lock("vdb", {true});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().changed == Changed::Yes);
    CHECK(locked.value().deferred);
    CHECK(vol.sys.log == CallLog{"unmount /media/vault/data lazy", "remove /media/vault/data",
                                 "deactivate data deferred"});
    CHECK(vol.sys.records.byMapping.empty());
}

TEST_CASE("a lazy lock of a volume nobody uses is an ordinary lock", "[unit]")
{
    MountedVolume vol;

    auto locked = vol.ops.lock("vdb", {true});

    REQUIRE_THAT(locked, Succeeds());
    CHECK_FALSE(locked.value().deferred);
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
}

TEST_CASE("lock unmounts every mount of the mapping, the last one first", "[unit]")
{
    MountedVolume vol;
    // A bind mount of it elsewhere, made after the first.
    addMount(vol.sys.kernel.topology, "253:0", "/mnt/bind", "ext4", "/dev/mapper/data");

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(vol.sys.log == CallLog{"unmount /mnt/bind", "unmount /media/vault/data",
                                 "remove /media/vault/data", "deactivate data"});
}

TEST_CASE("a filesystem mounted inside the volume's mount keeps it busy", "[unit]")
{
    MountedVolume vol;
    addMount(vol.sys.kernel.topology, "0:99", "/media/vault/data/cache", "tmpfs", "tmpfs");

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, FailsWith(ErrorCode::Busy));
    CHECK_THAT(locked.error().message,
               Catch::Contains("'/media/vault/data/cache' (tmpfs) is mounted inside"));
    CHECK(vol.sys.log.empty());
    // A sibling whose name merely starts the same is not inside.
    vol.sys.kernel.topology.mounts.pop_back();
    addMount(vol.sys.kernel.topology, "0:99", "/media/vault/database", "tmpfs", "tmpfs");
    CHECK_THAT(vol.ops.lock("vdb", {}), Succeeds());
}

TEST_CASE("a device-mapper device stacked on the mapping keeps it busy", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("LVM2_member"));
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", false, "", {}, {}, {}}),
                 Succeeds());
    addDmDevice(sys.kernel.topology, "dm-5", "253:5", "vg-lv", "LVM-abc", {"dm-0"});
    sys.log.clear();

    auto locked = ops.lock("vdb", {});

    REQUIRE_THAT(locked, FailsWith(ErrorCode::Busy));
    CHECK_THAT(locked.error().message,
               Catch::Contains("the device-mapper device 'vg-lv' (dm-5) sits on it"));
    CHECK(sys.log.empty());
}

TEST_CASE("unmount refuses while a process uses the volume, and unmounts nothing", "[unit]")
{
    MountedVolume vol;
    addMount(vol.sys.kernel.topology, "253:0", "/mnt/bind", "ext4", "/dev/mapper/data");
    vol.sys.processes.byDevnum["253:0"] = {{9, "less", "has /mnt/bind/x open"}};

    auto unmounted = vol.ops.unmount("vdb");

    REQUIRE_THAT(unmounted, FailsWith(ErrorCode::Busy));
    CHECK_THAT(unmounted.error().message, Catch::Contains("pid 9 (less)"));
    CHECK(vol.sys.log.empty());

    vol.sys.processes.byDevnum.clear();
    REQUIRE_THAT(vol.ops.unmount("vdb"), Succeeds());
    CHECK(vol.sys.log ==
          CallLog{"unmount /mnt/bind", "unmount /media/vault/data", "remove /media/vault/data"});
}

TEST_CASE("a filesystem whose UUID is mounted already from another device is refused", "[unit]")
{
    // A copy of a volume: the same LUKS UUID, the same filesystem inside.
    FakeSystem sys;
    const std::string fsUuid = "5c1e0a57-1111-4222-8333-944455556666";
    sys.attachLuks("vdb", kGiB, kUuid, ext4WithUuid(fsUuid));
    sys.attachLuks("vdc", kGiB, kUuid, ext4WithUuid(fsUuid));
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"original", true, "", {}, {}, {}}),
                 Succeeds());
    REQUIRE_THAT(ops.unlock("vdc", secret(kPassphrase), {"copy", false, "", {}, {}, {}}),
                 Succeeds());
    sys.log.clear();

    auto mounted = ops.mount("vdc", "", {});

    REQUIRE_THAT(mounted, FailsWith(ErrorCode::DuplicateFilesystemUuid));
    CHECK_THAT(mounted.error().message, Catch::Contains(fsUuid) &&
                                            Catch::Contains("'/dev/mapper/original'") &&
                                            Catch::Contains("/media/vault/original"));
    CHECK(sys.mounter.mounts.size() == 1);

    // Unlock with mount refuses the same way, and closes what it opened.
    REQUIRE_THAT(ops.lock("vdc", {}), Succeeds());
    auto unlocked = ops.unlock("vdc", secret(kPassphrase), {"copy", true, "", {}, {}, {}});
    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::DuplicateFilesystemUuid));
    CHECK_FALSE(sys.crypt.mappingExists("copy"));
}

TEST_CASE("a mapping whose device went away is reported lost, with where it was", "[unit]")
{
    MountedVolume vol;
    vol.detach();

    ScanResult scanned = vol.ops.scan();

    CHECK(scanned.volumes.empty());
    REQUIRE(scanned.lost.size() == 1);
    const LostMapping& lost = scanned.lost.front();
    CHECK(lost.mappingName == "data");
    CHECK(lost.device == "/dev/vdb");
    CHECK(lost.luksUuid == kUuid);
    CHECK(lost.mountPoints == std::vector<std::string>{"/media/vault/data"});
}

TEST_CASE("tearing down a lost mapping detaches its mounts and drops its key", "[unit]")
{
    MountedVolume vol;
    vol.detach();

    auto done = vol.ops.tearDownLost("data");

    REQUIRE_THAT(done, Succeeds());
    CHECK_FALSE(done.value().deferred);
    CHECK(vol.sys.log == CallLog{"unmount /media/vault/data lazy", "remove /media/vault/data",
                                 "deactivate data force"});
    CHECK(vol.sys.crypt.keysDropped.count("data"));
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
    CHECK(vol.sys.records.byMapping.empty());
    CHECK(vol.ops.scan().lost.empty());
}

TEST_CASE("a lost mapping a process still holds loses its key and goes later", "[unit]")
{
    MountedVolume vol;
    vol.detach();
    vol.sys.crypt.held.insert("data");

    auto done = vol.ops.tearDownLost("data");

    REQUIRE_THAT(done, Succeeds());
    CHECK(done.value().deferred);
    CHECK(vol.sys.crypt.deactivations == std::vector<std::string>{"data force", "data deferred"});
    CHECK(vol.sys.crypt.keysDropped.count("data"));
}

TEST_CASE("a new device under a lost mapping's old name is not its device", "[unit]")
{
    MountedVolume vol;
    vol.detach();
    // Another disk appears as vdb; the stale mapping is not its mapping.
    vol.sys.attach("vdb", 2 * kGiB);

    auto v = vol.ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().state == VolumeState::Empty);
    CHECK(v.value().mappingName.empty());
    CHECK(vol.ops.scan().lost.size() == 1);
}

TEST_CASE("a disk udev reports removed is gone, with its mapping lost, while sysfs lists it",
          "[unit]")
{
    // The remove event comes before the kernel takes the disk out of sysfs;
    // no later event says when it has.
    MountedVolume vol;
    const std::uint64_t diskseq = vol.sys.kernel.topology.nodes.at("vdb").diskseq;
    REQUIRE(diskseq != 0);

    vol.ops.noteDeparted(diskseq);

    ScanResult scanned = vol.ops.scan();
    CHECK(scanned.volumes.empty());
    REQUIRE(scanned.lost.size() == 1);
    CHECK(scanned.lost.front().device == "/dev/vdb");
    REQUIRE_THAT(vol.ops.tearDownLost("data"), Succeeds());
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
}

TEST_CASE("a new disk under a departed disk's name and device number is a volume", "[unit]")
{
    MountedVolume vol;
    const BlockNode old = vol.sys.kernel.topology.nodes.at("vdb");
    vol.ops.noteDeparted(old.diskseq);
    vol.detach();
    (void)vol.ops.scan();  // sysfs no longer lists it: vaultd forgets it

    vol.sys.attach("vdb", 2 * kGiB);
    BlockNode& fresh = vol.sys.kernel.topology.nodes.at("vdb");
    fresh.devnum = old.devnum;
    REQUIRE(fresh.diskseq != old.diskseq);

    auto v = vol.ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().state == VolumeState::Empty);
}

TEST_CASE("a name that is no lost mapping is not torn down", "[unit]")
{
    MountedVolume vol;
    CHECK_THAT(vol.ops.tearDownLost("data"), FailsWith(ErrorCode::NoSuchDevice));
    CHECK(vol.sys.log.empty());
}

TEST_CASE("a device that returns I/O errors is never formatted", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.kernel.failing.insert("/dev/vdb");
    Operations ops(sys.ports(), {});

    auto formatted = ops.format("vdb", secret(kPassphrase), {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::DeviceFailing));
    CHECK_THAT(formatted.error().message, Catch::Contains("Input/output error"));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a device replaced under a format is not written", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.kernel.topology.nodes.at("vdb").diskseq = 7;
    Operations ops(sys.ports(), {});
    // The name now leads to another disk with the same numbers (diskseq 8).
    sys.kernel.replacedBy["/dev/vdb"] = {sys.kernel.topology.nodes.at("vdb").devnum, 8};

    auto formatted = ops.format("vdb", secret(kPassphrase), {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(formatted.error().message, Catch::Contains("no longer the device"));
    CHECK(sys.nothingWritten());

    sys.kernel.replacedBy.clear();
    CHECK_THAT(ops.format("vdb", secret(kPassphrase), {"ext4", "", ""}), Succeeds());
}

TEST_CASE("a device gone before unlock opens nothing", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});
    sys.kernel.replacedBy["/dev/vdb"] = {"252:99", 0};

    auto unlocked = ops.unlock("vdb", secret(kPassphrase), {"data", false, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::NoSuchDevice));
    CHECK(sys.crypt.activations.empty());
}

TEST_CASE("lock stops the units that depend on the volume before it unmounts", "[unit]")
{
    MountedVolume vol;
    vol.sys.units.running.insert("data");
    // Without them, nothing holds the volume any more.
    vol.sys.processes.byDevnum["253:0"] = {{4242, "postgres", "has /media/vault/data/db open"}};
    vol.sys.units.onClose = [&](const std::string&) { vol.sys.processes.byDevnum.clear(); };

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(vol.sys.log == CallLog{"stop vault-volume@data", "unmount /media/vault/data",
                                 "remove /media/vault/data", "deactivate data"});
}

TEST_CASE("a filesystem a stopped mount unit unmounted is not unmounted again", "[unit]")
{
    // A generated mount unit requires vault-volume@data: stopping it
    // unmounts the filesystem, and lock finds only the mapping to close.
    MountedVolume vol;
    vol.sys.units.running.insert("data");
    vol.sys.units.onClose = [&](const std::string&) { vol.sys.kernel.topology.mounts.clear(); };

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().changed == Changed::Yes);
    CHECK(vol.sys.log == CallLog{"stop vault-volume@data", "deactivate data"});
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
}

TEST_CASE("unmount stops the units that depend on the volume first", "[unit]")
{
    MountedVolume vol;
    vol.sys.units.running.insert("data");
    vol.sys.units.onClose = [&](const std::string&) { vol.sys.kernel.topology.mounts.clear(); };

    auto unmounted = vol.ops.unmount("vdb");

    REQUIRE_THAT(unmounted, Succeeds());
    CHECK(unmounted.value() == Changed::Yes);
    CHECK(vol.sys.log == CallLog{"stop vault-volume@data"});
    CHECK(vol.sys.crypt.mappingExists("data"));
}

TEST_CASE("a volume busy after its units stopped is refused, naming who holds it", "[unit]")
{
    MountedVolume vol;
    vol.sys.units.running.insert("data");
    vol.sys.processes.byDevnum["253:0"] = {{4242, "bash", "works in /media/vault/data"}};

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, FailsWith(ErrorCode::Busy));
    CHECK_THAT(locked.error().message, Catch::Contains("pid 4242 (bash)"));
    CHECK(vol.sys.log == CallLog{"stop vault-volume@data"});
    CHECK(vol.stillMountedAndOpen());
}

TEST_CASE("a lost volume's units stop before its filesystem is detached", "[unit]")
{
    MountedVolume vol;
    vol.sys.units.running.insert("data");
    vol.detach();

    auto done = vol.ops.tearDownLost("data");

    REQUIRE_THAT(done, Succeeds());
    CHECK(vol.sys.log == CallLog{"stop vault-volume@data", "unmount /media/vault/data lazy",
                                 "remove /media/vault/data", "deactivate data force"});
}

TEST_CASE("a lock waits for a scan reading the mapping instead of racing it", "[unit]")
{
    // The kernel refuses to remove an open mapping, and libcryptsetup then
    // waits 200 ms before it tries again: vaultd's own scan must not be
    // what holds the mapping open when its lock closes it.
    MountedVolume vol;
    std::promise<void> scanReading;
    std::promise<void> scanMayGoOn;
    std::shared_future<void> goOn = scanMayGoOn.get_future().share();
    std::promise<void> scanDone;
    std::shared_future<void> scanFinished = scanDone.get_future().share();
    std::promise<void> closing;
    std::atomic<bool> held{false};
    vol.sys.kernel.onProbe = [&](const std::string& node) {
        if (node == "/dev/mapper/data" && !held.exchange(true)) {
            scanReading.set_value();
            goOn.wait();
        }
    };
    // The close goes on only after the scan is over, so that the two
    // threads never touch the fakes at once.
    vol.sys.crypt.onDeactivate = [&](const std::string&) {
        closing.set_value();
        scanFinished.wait();
    };

    std::thread scan([&] {
        (void)vol.ops.scan();
        scanDone.set_value();
    });
    scanReading.get_future().wait();
    std::future<Result<LockResult>> locked =
        std::async(std::launch::async, [&] { return vol.ops.lock("vdb", {}); });
    // The lock reaches the close only once the scan's read of the mapping
    // has ended; give it the time it would take if it did not wait.
    const bool closedWhileRead =
        closing.get_future().wait_for(std::chrono::milliseconds(300)) == std::future_status::ready;
    scanMayGoOn.set_value();
    scan.join();

    CHECK_FALSE(closedWhileRead);
    auto result = locked.get();
    REQUIRE_THAT(result, Succeeds());
    CHECK(result.value().changed == Changed::Yes);
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
}
