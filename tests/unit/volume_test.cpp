#include "engine/volume.hpp"

#include <catch2/catch.hpp>

#include "fakes.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";

Topology oneDisk()
{
    Topology t;
    addDisk(t, "vdb", "254:16", kGiB);
    return t;
}

}  // namespace

TEST_CASE("a device without any signature is empty", "[unit]")
{
    CHECK(deriveState(Signature{}, false, false) == VolumeState::Empty);
}

TEST_CASE("a device with a signature that is not LUKS holds data", "[unit]")
{
    CHECK(deriveState(filesystemSignature("ext4"), false, false) == VolumeState::Data);
    CHECK(deriveState(Signature{"gpt", "partition table", "", "", 0}, false, false) ==
          VolumeState::Data);
}

TEST_CASE("a LUKS device is locked, unlocked or mounted by its mapping and mount", "[unit]")
{
    const Signature luks = luksSignature(kUuid);
    CHECK(deriveState(luks, false, false) == VolumeState::Locked);
    CHECK(deriveState(luks, true, false) == VolumeState::Unlocked);
    CHECK(deriveState(luks, true, true) == VolumeState::Mounted);
}

TEST_CASE("an empty device is described with its node and size only", "[unit]")
{
    const Topology t = oneDisk();
    const Volume v = describe(t, t.nodes.at("vdb"), Signature{}, Signature{});

    CHECK(v.kernelName == "vdb");
    CHECK(v.node == "/dev/vdb");
    CHECK(v.size == kGiB);
    CHECK(v.state == VolumeState::Empty);
    CHECK(v.mappingName.empty());
    CHECK(v.mappingNode.empty());
    CHECK(v.mountPoint.empty());
    CHECK(v.filesystemType.empty());
}

TEST_CASE("a device holding a foreign filesystem is described as data of that type", "[unit]")
{
    const Topology t = oneDisk();
    const Volume v = describe(t, t.nodes.at("vdb"), filesystemSignature("xfs", "old"), Signature{});

    CHECK(v.state == VolumeState::Data);
    CHECK(v.filesystemType == "xfs");
    CHECK(v.signature.label == "old");
    CHECK(v.mappingName.empty());
}

TEST_CASE("a locked volume is described without mapping, mount or filesystem", "[unit]")
{
    const Topology t = oneDisk();
    const Volume v = describe(t, t.nodes.at("vdb"), luksSignature(kUuid, "vault"), Signature{});

    CHECK(v.state == VolumeState::Locked);
    CHECK(v.signature.uuid == kUuid);
    CHECK(v.signature.label == "vault");
    CHECK(v.mappingName.empty());
    CHECK(v.mappingNode.empty());
    CHECK(v.mountPoint.empty());
    CHECK(v.filesystemType.empty());
}

TEST_CASE("an unlocked volume is described with its mapping and inner filesystem", "[unit]")
{
    Topology t = oneDisk();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    const Volume v =
        describe(t, t.nodes.at("vdb"), luksSignature(kUuid), filesystemSignature("btrfs"));

    CHECK(v.state == VolumeState::Unlocked);
    CHECK(v.mappingName == "secure");
    CHECK(v.mappingNode == "/dev/mapper/secure");
    CHECK(v.mountPoint.empty());
    CHECK(v.filesystemType == "btrfs");
}

TEST_CASE("a mounted volume is described with its mount point", "[unit]")
{
    Topology t = oneDisk();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "253:0", "/secure", "ext4");
    const Volume v =
        describe(t, t.nodes.at("vdb"), luksSignature(kUuid), filesystemSignature("ext4"));

    CHECK(v.state == VolumeState::Mounted);
    CHECK(v.mappingName == "secure");
    CHECK(v.mappingNode == "/dev/mapper/secure");
    CHECK(v.mountPoint == "/secure");
    CHECK(v.filesystemType == "ext4");
}

TEST_CASE("a mounted volume whose inside could not be probed takes the mount's type", "[unit]")
{
    Topology t = oneDisk();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "253:0", "/secure", "xfs");
    const Volume v = describe(t, t.nodes.at("vdb"), luksSignature(kUuid), Signature{});

    CHECK(v.state == VolumeState::Mounted);
    CHECK(v.filesystemType == "xfs");
}

TEST_CASE("a mounted btrfs volume is found mounted through the mapping's path", "[unit]")
{
    Topology t = oneDisk();
    addLuksMapping(t, "dm-0", "253:0", "secure", "vdb");
    addMount(t, "0:45", "/secure", "btrfs", "/dev/mapper/secure");
    const Volume v =
        describe(t, t.nodes.at("vdb"), luksSignature(kUuid), filesystemSignature("btrfs"));

    CHECK(v.state == VolumeState::Mounted);
    CHECK(v.mountPoint == "/secure");
    CHECK(v.filesystemType == "btrfs");
}

TEST_CASE("a mount of the raw device does not count as the volume being mounted", "[unit]")
{
    Topology t = oneDisk();
    addMount(t, "254:16", "/data", "ext4");
    const Volume v = describe(t, t.nodes.at("vdb"), filesystemSignature("ext4"), Signature{});

    CHECK(v.state == VolumeState::Data);
    CHECK(v.mountPoint.empty());
}

TEST_CASE("a header's health follows from its copies and what lies over it", "[unit]")
{
    const Signature luks2 = luksSignature("0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11");
    Signature luks1 = luks2;
    luks1.luksVersion = 1;
    const Signature ext4 = filesystemSignature("ext4");

    CHECK(judgeHeader(luks2, {2, true, "", ""}) == HeaderHealth::Valid);
    CHECK(judgeHeader(luks1, {1, false, "", ""}) == HeaderHealth::Valid);
    CHECK(judgeHeader(luks2, {2, false, "", ""}) == HeaderHealth::SecondaryDamaged);
    // libblkid finds the secondary and says LUKS, or finds nothing at all.
    CHECK(judgeHeader(luks2, {0, true, "", ""}) == HeaderHealth::PrimaryDamaged);
    CHECK(judgeHeader(Signature{}, {0, true, "", ""}) == HeaderHealth::PrimaryDamaged);
    // Something else at the start, with LUKS left out of the probe.
    CHECK(judgeHeader(luks2, {0, true, "swap", ""}) == HeaderHealth::Overwritten);
    CHECK(judgeHeader(ext4, {0, true, "", ""}) == HeaderHealth::Overwritten);
    CHECK(judgeHeader(ext4, {}) == HeaderHealth::None);
    CHECK(judgeHeader(Signature{}, {}) == HeaderHealth::None);
    CHECK(headerHealthName(HeaderHealth::PrimaryDamaged) == "primary-damaged");
}
