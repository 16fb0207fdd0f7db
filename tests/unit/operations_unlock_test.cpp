#include "engine/operations.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kPassphrase = "correct horse";

// One locked LUKS volume vdb holding ext4, and an Operations over it.
struct LockedVolume {
    FakeSystem sys;
    Operations ops;

    explicit LockedVolume(EngineConfig config = {}) : ops(sys.ports(), std::move(config))
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4", "vault"));
    }

    // Where it got mounted, or empty.
    Result<std::string> unlock(const UnlockRequest& request,
                               const std::string& passphrase = kPassphrase)
    {
        auto r = ops.unlock("vdb", secret(passphrase), request);
        if (!r)
            return r.error();
        return r.value().mountPoint;
    }

    VolumeState state()
    {
        auto v = ops.inspect("vdb");
        REQUIRE_THAT(v, Succeeds());
        return v.value().state;
    }
};

}  // namespace

TEST_CASE("unlock opens the mapping under the requested name without mounting", "[unit]")
{
    LockedVolume vol;

    auto unlocked = vol.unlock({"data", false, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, Succeeds());
    CHECK(unlocked.value().empty());
    CHECK(vol.sys.log == CallLog{"activate /dev/vdb as data"});
    CHECK(vol.state() == VolumeState::Unlocked);
    auto v = vol.ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().mappingNode == "/dev/mapper/data");
    CHECK(v.value().filesystemType == "ext4");
}

TEST_CASE("unlock without a mapping name is refused", "[unit]")
{
    LockedVolume vol;

    CHECK_THAT(vol.unlock({"", true, "", {}, {}, {}}), FailsWith(ErrorCode::InvalidName));
    CHECK(vol.sys.log.empty());
}

TEST_CASE("unlocking a device that holds no LUKS container is refused", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    sys.attach("vdc", kGiB);
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", false, "", {}, {}, {}}),
               FailsWith(ErrorCode::NotLuks));
    CHECK_THAT(ops.unlock("vdc", secret(kPassphrase), {"data", false, "", {}, {}, {}}),
               FailsWith(ErrorCode::NotLuks));
    CHECK(sys.log.empty());
}

TEST_CASE("an invalid mapping name is refused before anything is opened", "[unit]")
{
    LockedVolume vol;

    for (const std::string& name :
         {std::string("../etc"), std::string("my data"), std::string("."), std::string(128, 'n')}) {
        INFO(name);
        CHECK_THAT(vol.unlock({name, false, "", {}, {}, {}}), FailsWith(ErrorCode::InvalidName));
    }
    CHECK(vol.sys.crypt.activations.empty());
    CHECK(vol.sys.log.empty());
}

TEST_CASE("a wrong passphrase is refused and leaves the volume locked", "[unit]")
{
    LockedVolume vol;

    auto unlocked = vol.unlock({"data", true, "", {}, {}, {}}, "wrong horse");

    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.state() == VolumeState::Locked);
    CHECK(vol.sys.mounter.mounts.empty());
}

TEST_CASE("a mapping name another device holds is in use", "[unit]")
{
    LockedVolume vol;
    vol.sys.crypt.foreignMappings.insert("data");

    auto unlocked = vol.unlock({"data", false, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::NameInUse));
    CHECK_THAT(unlocked.error().message, Catch::Contains("'data' is taken"));
    CHECK(vol.sys.crypt.activations.empty());
}

TEST_CASE("unlocking again under the same name is a no-op", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto again = vol.unlock({"data", false, "", {}, {}, {}});

    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value().empty());
    CHECK(vol.sys.log.empty());
    CHECK(vol.sys.crypt.activations.size() == 1);
}

TEST_CASE("unlocking a volume that is open under another name answers with that name", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto other =
        vol.ops.unlock("vdb", secret("not even the passphrase"), {"other", false, "", {}, {}, {}});

    REQUIRE_THAT(other, Succeeds());
    CHECK(other.value().mappingName == "data");
    CHECK(other.value().wasUnlocked);
    CHECK(vol.sys.log.empty());
    CHECK(vol.sys.crypt.activations.size() == 1);
}

TEST_CASE("a mapping opened by hand is unlocked under its name, and unlock mounts it", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));
    addLuksMapping(sys.kernel.topology, "dm-7", "253:7", "byhand", "vdb");
    sys.kernel.signatures["/dev/mapper/byhand"] = filesystemSignature("ext4");
    Operations ops(sys.ports(), {});

    auto v = ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().state == VolumeState::Unlocked);
    CHECK(v.value().mappingName == "byhand");
    CHECK_FALSE(v.value().unlockedBy.has_value());

    auto r = ops.unlock("vdb", secret(kPassphrase), {"mine", true, "", {}, {}, {}});
    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mappingName == "byhand");
    CHECK(r.value().mountPoint == "/media/vault/byhand");
    CHECK(sys.crypt.activations.empty());
}

TEST_CASE("unlock with mount mounts the inner filesystem at the default place", "[unit]")
{
    LockedVolume vol;

    auto unlocked = vol.unlock({"data", true, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, Succeeds());
    CHECK(unlocked.value() == "/media/vault/data");
    CHECK(vol.sys.log == CallLog{"activate /dev/vdb as data", "prepare /media/vault/data",
                                 "mount /dev/mapper/data on /media/vault/data"});
    REQUIRE(vol.sys.mounter.mounts.size() == 1);
    const FakeMounter::MountCall& call = vol.sys.mounter.mounts.front();
    CHECK(call.source == "/dev/mapper/data");
    CHECK(call.target == "/media/vault/data");
    CHECK(call.fstype == "ext4");
    CHECK(call.options == "nodev,nosuid");
    CHECK(vol.state() == VolumeState::Mounted);
}

TEST_CASE("unlock with a mount point mounts there, which implies mount", "[unit]")
{
    LockedVolume vol;

    auto unlocked = vol.unlock({"data", false, "/secure", {}, {}, {}});

    REQUIRE_THAT(unlocked, Succeeds());
    CHECK(unlocked.value() == "/secure");
    REQUIRE(vol.sys.mounter.mounts.size() == 1);
    CHECK(vol.sys.mounter.mounts.front().target == "/secure");
}

TEST_CASE("the configured mount base and options are used", "[unit]")
{
    EngineConfig config;
    config.mountBase = "/srv/vaults";
    config.mountOptions = "nodev,nosuid,noexec";
    LockedVolume vol(config);

    auto unlocked = vol.unlock({"data", true, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, Succeeds());
    CHECK(unlocked.value() == "/srv/vaults/data");
    REQUIRE(vol.sys.mounter.mounts.size() == 1);
    CHECK(vol.sys.mounter.mounts.front().options == "nodev,nosuid,noexec");
}

TEST_CASE("a bad mount point is refused before anything is opened or mounted", "[unit]")
{
    LockedVolume vol;

    for (const char* path : {"/etc/x", "relative", "/mnt/../etc", "/usr"}) {
        INFO(path);
        CHECK_THAT(vol.unlock({"data", true, path, {}, {}, {}}),
                   FailsWith(ErrorCode::InvalidMountPoint));
    }
    CHECK(vol.sys.log.empty());
    CHECK(vol.state() == VolumeState::Locked);
}

TEST_CASE("mount refuses a bad mount point with nothing mounted", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    CHECK_THAT(vol.ops.mount("vdb", "/run/x", {}), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK(vol.sys.log.empty());
    CHECK(vol.state() == VolumeState::Unlocked);
}

TEST_CASE("mounting a locked volume is the wrong state", "[unit]")
{
    LockedVolume vol;

    auto mounted = vol.ops.mount("vdb", "", {});

    REQUIRE_THAT(mounted, FailsWith(ErrorCode::WrongState));
    CHECK_THAT(mounted.error().message, Catch::Contains("is locked; unlock it first"));
    CHECK(vol.sys.log.empty());
}

TEST_CASE("mount of an unlocked volume mounts it, and again at the same place is a no-op", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());

    auto first = vol.ops.mount("vdb", "", {});
    REQUIRE_THAT(first, Succeeds());
    CHECK(first.value() == "/media/vault/data");

    auto second = vol.ops.mount("vdb", "/media/vault/data", {});
    REQUIRE_THAT(second, Succeeds());
    CHECK(second.value() == "/media/vault/data");
    CHECK(vol.sys.mounter.mounts.size() == 1);
}

TEST_CASE("mounting a mounted volume without a place returns where it is", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    REQUIRE_THAT(vol.ops.mount("vdb", "/secure", {}), Succeeds());

    auto again = vol.ops.mount("vdb", "", {});

    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value() == "/secure");
    CHECK(vol.sys.mounter.mounts.size() == 1);
}

TEST_CASE("mounting a mounted volume somewhere else is busy", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", true, "", {}, {}, {}}), Succeeds());

    auto elsewhere = vol.ops.mount("vdb", "/secure", {});

    REQUIRE_THAT(elsewhere, FailsWith(ErrorCode::Busy));
    CHECK_THAT(elsewhere.error().message, Catch::Contains("'/media/vault/data'"));
    CHECK(vol.sys.mounter.mounts.size() == 1);
}

TEST_CASE("a mapping without a filesystem is not mounted", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, Signature{});
    Operations ops(sys.ports(), {});

    auto unlocked = ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {}, {}, {}});

    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::WrongState));
    CHECK_THAT(unlocked.error().message, Catch::Contains("no filesystem"));
    CHECK(sys.mounter.mounts.empty());
    CHECK(sys.mountPoints.directories.empty());
}

TEST_CASE("a failed mount removes the mount point it created", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.mounter.failure = "failed to mount: wrong fs type";

    auto mounted = vol.ops.mount("vdb", "", {});

    REQUIRE_THAT(mounted, FailsWith(ErrorCode::Failed));
    CHECK(vol.sys.mountPoints.removed == std::vector<std::string>{"/media/vault/data"});
    CHECK(vol.sys.mountPoints.directories.empty());
}

TEST_CASE("a failed mount keeps a mount point that existed before", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.mountPoints.directories.insert("/secure");
    vol.sys.mounter.failure = "failed to mount: wrong fs type";

    CHECK_THAT(vol.ops.mount("vdb", "/secure", {}), FailsWith(ErrorCode::Failed));
    CHECK(vol.sys.mountPoints.removed.empty());
    CHECK(vol.sys.mountPoints.directories.count("/secure") == 1);
}

TEST_CASE("unmount of a default mount point removes the directory", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", true, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto unmounted = vol.ops.unmount("vdb");

    REQUIRE_THAT(unmounted, Succeeds());
    CHECK(unmounted.value() == Changed::Yes);
    CHECK(vol.sys.log == CallLog{"unmount /media/vault/data", "remove /media/vault/data"});
    CHECK(vol.sys.mountPoints.directories.empty());
    CHECK(vol.state() == VolumeState::Unlocked);
}

TEST_CASE("unmount keeps a mount point the caller chose", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", true, "/secure", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    REQUIRE_THAT(vol.ops.unmount("vdb"), Succeeds());
    CHECK(vol.sys.log == CallLog{"unmount /secure"});
    CHECK(vol.sys.mountPoints.removed.empty());
}

TEST_CASE("unmount of a volume that is not mounted changes nothing", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto unmounted = vol.ops.unmount("vdb");

    REQUIRE_THAT(unmounted, Succeeds());
    CHECK(unmounted.value() == Changed::No);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("lock of a mounted volume unmounts, then closes the mapping", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", true, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().changed == Changed::Yes);
    CHECK(vol.sys.log ==
          CallLog{"unmount /media/vault/data", "remove /media/vault/data", "deactivate data"});
    CHECK(vol.state() == VolumeState::Locked);
}

TEST_CASE("lock of a mounted btrfs volume unmounts it before closing the mapping", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("btrfs"));
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {}, {}, {}}),
                 Succeeds());
    REQUIRE(sys.kernel.topology.mounts.front().devnum.starts_with("0:"));
    sys.log.clear();

    auto locked = ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(sys.log ==
          CallLog{"unmount /media/vault/data", "remove /media/vault/data", "deactivate data"});
}

TEST_CASE("lock of an unlocked volume only closes the mapping", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", false, "", {}, {}, {}}), Succeeds());
    vol.sys.log.clear();

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().changed == Changed::Yes);
    CHECK(vol.sys.log == CallLog{"deactivate data"});
}

TEST_CASE("lock of a locked volume changes nothing", "[unit]")
{
    LockedVolume vol;

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().changed == Changed::No);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("lock of a device that holds no LUKS container is refused", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.lock("vdb", {}), FailsWith(ErrorCode::NotLuks));
    CHECK(sys.log.empty());
}

TEST_CASE("a volume locked and unlocked again comes back with its filesystem", "[unit]")
{
    LockedVolume vol;
    REQUIRE_THAT(vol.unlock({"data", true, "", {}, {}, {}}), Succeeds());
    REQUIRE_THAT(vol.ops.lock("vdb", {}), Succeeds());

    auto again = vol.unlock({"data", true, "", {}, {}, {}});

    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value() == "/media/vault/data");
    CHECK(vol.sys.mounter.mounts.size() == 2);
    CHECK(vol.sys.mounter.mounts.back().fstype == "ext4");
}

TEST_CASE("scan lists the devices that are volumes and skips the rest", "[unit]")
{
    FakeSystem sys;
    sys.attach("vda", 8 * kGiB, Signature{"gpt", "partition table", "", "", 0});
    addPartition(sys.kernel.topology, "vda1", "vda", "252:1", 8 * kGiB - kMiB);
    addMount(sys.kernel.topology, "252:1", "/", "ext4");
    sys.attachLuks("vdb", kGiB, kUuid);
    sys.attach("vdc", 2 * kGiB);
    addDisk(sys.kernel.topology, "sr0", "11:0", kGiB);
    addDisk(sys.kernel.topology, "loop0", "7:0", 0);
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", false, "", {}, {}, {}}),
                 Succeeds());

    std::vector<Volume> volumes = ops.scan().volumes;

    std::vector<std::string> names;
    for (const auto& v : volumes)
        names.push_back(v.kernelName);
    CHECK(names == std::vector<std::string>{"vdb", "vdc"});
    auto vdb = std::find_if(volumes.begin(), volumes.end(),
                            [](const Volume& v) { return v.kernelName == "vdb"; });
    REQUIRE(vdb != volumes.end());
    CHECK(vdb->state == VolumeState::Unlocked);
    CHECK(vdb->links == std::vector<std::string>{"/dev/disk/by-id/virtio-vdb"});
}

TEST_CASE("inspect of a reserved device says why it is not a volume", "[unit]")
{
    FakeSystem sys;
    sys.attach("vda", 8 * kGiB, filesystemSignature("ext4"));
    addMount(sys.kernel.topology, sys.kernel.topology.nodes.at("vda").devnum, "/", "ext4");
    Operations ops(sys.ports(), {});

    auto v = ops.inspect("vda");

    REQUIRE_THAT(v, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(v.error().message, Catch::Contains("reserved for the system"));
}

TEST_CASE("unlock remembers who unlocked the volume until it is locked", "[unit]")
{
    LockedVolume vol;

    REQUIRE_THAT(vol.unlock({"data", false, "", {1000, 1000}, {}, {}}), Succeeds());
    auto v = vol.ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().unlockedBy == std::optional<uid_t>(1000));

    REQUIRE_THAT(vol.ops.lock("vdb", {}), Succeeds());
    CHECK(vol.sys.records.byMapping.empty());
}

TEST_CASE("a mount point outside the mount roots is refused with nothing opened", "[unit]")
{
    LockedVolume vol;

    for (const std::string path : {"/srv/x", "/home/u/secure", "/securex", "/opt"}) {
        INFO(path);
        CHECK_THAT(vol.unlock({"data", true, path, {}, {}, {}}),
                   FailsWith(ErrorCode::InvalidMountPoint));
    }
    CHECK(vol.sys.log.empty());
    CHECK(vol.state() == VolumeState::Locked);
}

TEST_CASE("the first mount gives the filesystem's root to the caller", "[unit]")
{
    LockedVolume vol;

    auto mounted = vol.unlock({"data", true, "/secure", {1000, 1000}, {}, {}});

    REQUIRE_THAT(mounted, Succeeds());
    CHECK(mounted.value() == "/secure");
    CHECK(vol.sys.mountPoints.owners.at("/secure") == 1000);
}
