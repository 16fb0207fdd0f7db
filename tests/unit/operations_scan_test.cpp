#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/operations.hpp"
#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "5d1e0c52-8a3b-4f0e-9c61-2b7d4e8f1a93";

const Volume& named(const std::vector<Volume>& volumes, const std::string& kernelName)
{
    auto it = std::find_if(volumes.begin(), volumes.end(),
                           [&](const Volume& v) { return v.kernelName == kernelName; });
    REQUIRE(it != volumes.end());
    return *it;
}

bool has(const std::vector<std::string>& nodes, const std::string& node)
{
    return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

}  // namespace

TEST_CASE("the first scan takes udev's word for the devices udev has probed, and probes the rest",
          "[unit][scan]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid);
    sys.attach("vdc", kGiB);
    sys.attach("vdd", kGiB, filesystemSignature("ext4", "logs"));
    sys.kernel.udevRecords["vdb"] = luksSignature(kUuid, "secure");
    sys.kernel.udevRecords["vdc"] = {};  // probed by udev, nothing found
    Operations ops(sys.ports(), {});

    std::vector<Volume> volumes = ops.scan(ScanSource::UdevDatabase).volumes;

    // Only vdd, which udev has not processed yet, is read.
    CHECK(sys.kernel.probed == std::vector<std::string>{"/dev/vdd"});
    CHECK(named(volumes, "vdb").state == VolumeState::Locked);
    CHECK(named(volumes, "vdb").signature.uuid == kUuid);
    CHECK(named(volumes, "vdb").signature.label == "secure");
    CHECK(named(volumes, "vdb").headerHealth == HeaderHealth::Valid);
    CHECK(named(volumes, "vdb").links == std::vector<std::string>{"/dev/disk/by-id/virtio-vdb"});
    CHECK(named(volumes, "vdc").state == VolumeState::Empty);
    CHECK(named(volumes, "vdd").state == VolumeState::Data);
    CHECK(named(volumes, "vdd").filesystemType == "ext4");
}

TEST_CASE("an ordinary scan probes every device and ignores udev's database", "[unit][scan]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid);
    sys.attach("vdc", kGiB, filesystemSignature("xfs"));
    // What udev saw before somebody wrote to the disks.
    sys.kernel.udevRecords["vdb"] = {};
    sys.kernel.udevRecords["vdc"] = {};
    Operations ops(sys.ports(), {});

    std::vector<Volume> volumes = ops.scan().volumes;

    CHECK(has(sys.kernel.probed, "/dev/vdb"));
    CHECK(has(sys.kernel.probed, "/dev/vdc"));
    CHECK(named(volumes, "vdb").state == VolumeState::Locked);
    CHECK(named(volumes, "vdc").state == VolumeState::Data);
}

TEST_CASE("what udev's database says never lets format past a signature on the disk",
          "[unit][scan]")
{
    FakeSystem sys;
    sys.attach("vdc", kGiB, filesystemSignature("ext4"));
    sys.kernel.udevRecords["vdc"] = {};  // stale: written since udev looked
    Operations ops(sys.ports(), {});
    REQUIRE(named(ops.scan(ScanSource::UdevDatabase).volumes, "vdc").state == VolumeState::Empty);

    auto formatted = ops.format("vdc", secret("correct horse"), {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::NotEmpty));
    CHECK(sys.nothingWritten());
}

TEST_CASE("the first scan reads an open volume's filesystem from udev's record of its mapping",
          "[unit][scan]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(ops.unlock("vdb", secret("correct horse"), {"data", false, "", {}, {}, {}}),
                 Succeeds());
    const std::string dm = sys.kernel.dmNodeOf("data");
    REQUIRE_FALSE(dm.empty());
    sys.kernel.udevRecords["vdb"] = luksSignature(kUuid);
    // Told apart from what the mapping holds, to show where it came from.
    sys.kernel.udevRecords[dm] = filesystemSignature("xfs");
    sys.kernel.probed.clear();

    std::vector<Volume> volumes = ops.scan(ScanSource::UdevDatabase).volumes;

    CHECK(sys.kernel.probed.empty());
    CHECK(named(volumes, "vdb").state == VolumeState::Unlocked);
    CHECK(named(volumes, "vdb").filesystemType == "xfs");
}

TEST_CASE("a blank device's header copies are not read; every other device's are", "[unit][scan]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid);
    sys.attach("vdc", kGiB);
    sys.attach("vdd", kGiB, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});

    (void)ops.scan();

    CHECK(has(sys.kernel.headersRead, "/dev/vdb"));
    CHECK(has(sys.kernel.headersRead, "/dev/vdd"));  // a filesystem may lie over a header
    CHECK_FALSE(has(sys.kernel.headersRead, "/dev/vdc"));
}

TEST_CASE("the first scan finds the mapping an interrupted format left, and only it is closed",
          "[unit][scan]")
{
    // A vaultd killed while mkfs ran left its format mapping open (and the
    // mkfs, maybe, still writing through it); the user's own mapping of
    // another volume is no business of this.
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));
    sys.attachLuks("vdc", kGiB, "1c2d3e4f-0000-4000-8000-00000000000c");
    Operations ops(sys.ports(), {});
    REQUIRE_THAT(
        ops.unlock("vdb", secret("correct horse"), {"vaultd-format-vdb", false, "", {}, {}, {}}),
        Succeeds());
    REQUIRE_THAT(ops.unlock("vdc", secret("correct horse"), {"mine", false, "", {}, {}, {}}),
                 Succeeds());
    sys.crypt.held.insert("vaultd-format-vdb");  // the mkfs

    CHECK(ops.scan().interruptedFormats.empty());  // later scans: a format may be running
    auto found = ops.scan(ScanSource::UdevDatabase).interruptedFormats;
    REQUIRE(found == std::vector<std::string>{"vaultd-format-vdb"});

    sys.log.clear();
    REQUIRE_THAT(ops.closeInterruptedFormat(found.front()), Succeeds());
    // Deferred: it goes when the mkfs lets go.
    CHECK(sys.log == CallLog{"deactivate vaultd-format-vdb deferred"});

    REQUIRE_THAT(ops.closeInterruptedFormat("mine"), FailsWith(ErrorCode::InvalidArgument));
    CHECK(sys.crypt.mappingExists("mine"));
}
