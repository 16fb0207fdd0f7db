// A device that fails under a volume: its driver gives it up or it returns
// errors. The volume stays listed as the kernel shows it, nothing that
// writes is done to it, and it can still be unmounted and locked.
#include <catch2/catch.hpp>

#include "engine/operations.hpp"
#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kPassphrase = "correct horse";
const std::string kBackupFile = "/run/vaultd/restore/header-1";

// vdb unlocked as "data" and mounted; then its disk goes the way @fail says.
struct FailingVolume {
    FakeSystem sys;
    Operations ops{sys.ports(), {}};

    FailingVolume()
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4", "vault"));
        sys.crypt.headerFiles[kBackupFile] = kUuid;
        REQUIRE_THAT(
            ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {1000, 1000}, {}, {}}),
            Succeeds());
        sys.log.clear();
    }

    // The SCSI disk offline: its node no longer opens, sysfs says so;
    // udev's database keeps what it found at the attachment.
    void goOffline()
    {
        sys.kernel.udevRecords["vdb"] = luksSignature(kUuid);
        sys.kernel.topology.nodes.at("vdb").health.deviceState = "offline";
        sys.kernel.failing.insert("/dev/vdb");
        sys.kernel.probed.clear();
        sys.kernel.headersRead.clear();
    }
};

}  // namespace

TEST_CASE("a volume whose disk goes offline stays listed, mounted, as the kernel shows it",
          "[unit]")
{
    FailingVolume vol;
    vol.goOffline();

    ScanResult scanned = vol.ops.scan();

    REQUIRE(scanned.volumes.size() == 1);
    const Volume& v = scanned.volumes.front();
    CHECK(v.state == VolumeState::Mounted);
    CHECK(v.mappingName == "data");
    CHECK_FALSE(v.mountPoint.empty());
    // What the open mapping was made from, since the disk cannot be read.
    CHECK(v.signature.isLuks());
    CHECK(v.signature.uuid == kUuid);
    CHECK(v.headerHealth == HeaderHealth::Unreadable);
    CHECK_THAT(v.failing, Catch::Contains("its disk is offline"));
    CHECK_THAT(v.failing, Catch::Contains("Input/output error"));
    // Read once, no more: no header copies, no probe of the mapping.
    CHECK(vol.sys.kernel.headersRead.empty());
    CHECK(std::count(vol.sys.kernel.probed.begin(), vol.sys.kernel.probed.end(),
                     "/dev/mapper/data") == 0);
}

TEST_CASE("nothing that writes is done to a failing volume, and nothing changes", "[unit]")
{
    FailingVolume vol;
    vol.goOffline();
    const std::string force = "/dev/vdb:" + std::to_string(kGiB);

    std::vector<std::pair<std::string, Status>> refused;
    auto status = [](const auto& result) -> Status {
        if (result)
            return Done{};
        return result.error();
    };
    refused.emplace_back("format",
                         status(vol.ops.format("vdb", secret(kPassphrase), {"ext4", "", force})));
    refused.emplace_back("grow", status(vol.ops.grow("vdb", nullptr)));
    refused.emplace_back("add a key", status(vol.ops.addKey("vdb", secret(kPassphrase),
                                                            secret("battery staple"), {})));
    refused.emplace_back("restore", status(vol.ops.restoreHeader("vdb", kBackupFile, {force})));
    refused.emplace_back("repair", status(vol.ops.repairHeader("vdb")));
    refused.emplace_back("tune", status(vol.ops.tune("vdb", {true, {}, {}})));

    for (const auto& [what, result] : refused) {
        INFO(what);
        REQUIRE_THAT(result, FailsWith(ErrorCode::DeviceFailing));
        CHECK_THAT(result.error().message, Catch::Contains("is failing (its disk is offline"));
    }
    CHECK(vol.sys.log.empty());
    CHECK(vol.sys.nothingWritten());
}

TEST_CASE("a failing volume still unmounts and locks", "[unit]")
{
    FailingVolume vol;
    vol.goOffline();

    auto locked = vol.ops.lock("vdb", {});

    REQUIRE_THAT(locked, Succeeds());
    CHECK(logHas(vol.sys.log, "unmount "));
    CHECK(logHas(vol.sys.log, "deactivate data"));
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
    // Locked, it cannot be unlocked or mounted again while it fails.
    auto v = vol.ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().state == VolumeState::Locked);
    auto unlocked =
        vol.ops.unlock("vdb", secret(kPassphrase), {"data", true, "", {1000, 1000}, {}, {}});
    REQUIRE_THAT(unlocked, FailsWith(ErrorCode::DeviceFailing));
    CHECK_FALSE(logHas(vol.sys.log, "activate"));
}

TEST_CASE("a failing disk with no mapping is listed as holding something unknown", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.kernel.failing.insert("/dev/vdb");
    Operations ops(sys.ports(), {});

    auto v = ops.inspect("vdb");

    REQUIRE_THAT(v, Succeeds());
    // Never "empty", which would invite a format.
    CHECK(v.value().state == VolumeState::Data);
    CHECK(v.value().signature.type == "unreadable");
    CHECK_THAT(v.value().failing, Catch::Contains("Input/output error"));
    CHECK(v.value().headerHealth == HeaderHealth::None);
}

TEST_CASE("a disk whose controller is dead is failing although its cache still reads", "[unit]")
{
    FailingVolume vol;
    vol.sys.kernel.topology.nodes.at("vdb").health.deviceState = "dead";
    REQUIRE_THAT(vol.ops.unmount("vdb"), Succeeds());

    auto v = vol.ops.inspect("vdb");

    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().failing == "its disk is dead");
    CHECK(v.value().state == VolumeState::Unlocked);
    CHECK(v.value().headerHealth == HeaderHealth::Unreadable);
    CHECK(vol.ops.driverSaysFailing("vdb") == "its disk is dead");
    CHECK_THAT(vol.ops.mount("vdb", "", {1000, 1000}), FailsWith(ErrorCode::DeviceFailing));
}

TEST_CASE("a disk whose driver says it runs is not failing", "[unit]")
{
    for (const char* state : {"running", "live", ""}) {
        INFO(state);
        CHECK(failingReason({state}).empty());
    }
    CHECK(failingReason({"blocked"}) == "its disk is blocked");
    CHECK(failingReason({"offline"}) == "its disk is offline");
}
