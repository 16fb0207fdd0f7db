// Growing a volume after its device grew: the mapping, then the filesystem,
// mounted or not, without the passphrase when vaultd holds the volume key.
#include "engine/operations.hpp"

#include <catch2/catch.hpp>

#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kPassphrase = "correct horse";
constexpr std::uint64_t kData = kLuks2DataOffset;

// vdb, 1 GiB, holding @fs, unlocked as "data" (mounted if asked).
struct UnlockedVolume {
    FakeSystem sys;
    Operations ops;

    explicit UnlockedVolume(const std::string& fs = "ext4", bool mount = true)
        : ops(sys.ports(), {})
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature(fs));
        REQUIRE_THAT(
            ops.unlock("vdb", secret(kPassphrase), {"data", mount, "", {1000, 1000}, {}, {}}),
            Succeeds());
        sys.log.clear();
    }

    void deviceGrowsTo(std::uint64_t size) { sys.kernel.topology.nodes.at("vdb").size = size; }
    std::uint64_t filesystem() { return sys.kernel.filesystemSizes.at("/dev/mapper/data"); }
};

const LayerSize& layer(const GrowResult& r, const std::string& name)
{
    for (const auto& l : r.layers)
        if (l.layer == name)
            return l;
    FAIL("no layer " << name);
    return r.layers.front();
}

}  // namespace

TEST_CASE("a mounted volume grows to fill its grown device, layer by layer, with no passphrase",
          "[unit]")
{
    UnlockedVolume vol;
    vol.deviceGrowsTo(2 * kGiB);
    REQUIRE_THAT(vol.ops.inspect("vdb"), Succeeds());
    CHECK(vol.ops.inspect("vdb").value().growableBy == kGiB);

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, Succeeds());
    const GrowResult& r = grown.value();
    CHECK(r.changed == Changed::Yes);
    CHECK(layer(r, "device").before == 2 * kGiB);
    CHECK(layer(r, "device").after == 2 * kGiB);
    CHECK(layer(r, "mapping").before == kGiB - kData);
    CHECK(layer(r, "mapping").after == 2 * kGiB - kData);
    // Mounted, the filesystem's size is df's, short of the mapping by its overhead.
    CHECK(layer(r, "filesystem").before == (kGiB - kData) / 100 * 95);
    CHECK(layer(r, "filesystem").after == (2 * kGiB - kData) / 100 * 95);
    CHECK(vol.sys.log == CallLog{"resize data", "grow ext4 /dev/mapper/data at /media/vault/data"});
    CHECK(vol.sys.crypt.resizes == std::vector<std::string>{"data"});
    CHECK(vol.ops.inspect("vdb").value().growableBy == 0);
}

TEST_CASE("growing again with nothing to do succeeds and changes nothing", "[unit]")
{
    UnlockedVolume vol;
    vol.deviceGrowsTo(2 * kGiB);
    REQUIRE_THAT(vol.ops.grow("vdb", nullptr), Succeeds());
    vol.sys.log.clear();

    auto again = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value().changed == Changed::No);
    for (const auto& l : again.value().layers)
        CHECK(l.before == l.after);
    // The mapping is not touched; the mounted filesystem is asked, and has nothing to do.
    CHECK(vol.sys.log == CallLog{"grow ext4 /dev/mapper/data at /media/vault/data"});
}

TEST_CASE("a device smaller than its mapping is refused, and nothing is touched", "[unit]")
{
    UnlockedVolume vol;
    vol.deviceGrowsTo(kGiB / 2);

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, FailsWith(ErrorCode::WouldShrink));
    CHECK_THAT(grown.error().message, Catch::Contains("never shrinks"));
    CHECK(vol.sys.log.empty());
}

TEST_CASE("a locked volume is not grown: unlocking opens it at its full size", "[unit]")
{
    FakeSystem sys;
    Operations ops(sys.ports(), {});
    sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));

    auto grown = ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, FailsWith(ErrorCode::WrongState));
    CHECK_THAT(grown.error().message, Catch::Contains("locked"));
    CHECK(sys.log.empty());
}

TEST_CASE("an unlocked, unmounted ext4 volume grows offline", "[unit]")
{
    UnlockedVolume vol("ext4", false);
    vol.deviceGrowsTo(2 * kGiB);

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, Succeeds());
    CHECK(vol.sys.log == CallLog{"resize data", "grow ext4 /dev/mapper/data"});
    // Not mounted, the superblock's size: the whole mapping.
    CHECK(layer(grown.value(), "filesystem").before == kGiB - kData);
    CHECK(layer(grown.value(), "filesystem").after == 2 * kGiB - kData);
    CHECK(vol.filesystem() == 2 * kGiB - kData);
}

TEST_CASE("an unmounted xfs volume is mounted privately for growing, and unmounted again", "[unit]")
{
    UnlockedVolume vol("xfs", false);
    vol.deviceGrowsTo(2 * kGiB);

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, Succeeds());
    CHECK(vol.sys.log == CallLog{"resize data", "prepare private /run/vaultd/grow/data",
                                 "mount /dev/mapper/data on /run/vaultd/grow/data",
                                 "grow xfs /dev/mapper/data at /run/vaultd/grow/data",
                                 "unmount /run/vaultd/grow/data", "remove /run/vaultd/grow/data"});
    CHECK(vol.sys.mounter.mounts.back().options == "nodev,nosuid,noexec");
    CHECK(vol.sys.kernel.topology.mounts.empty());
    CHECK(vol.filesystem() == 2 * kGiB - kData);
    CHECK(vol.ops.inspect("vdb").value().state == VolumeState::Unlocked);
}

TEST_CASE("an unmounted xfs volume that fills its mapping is not mounted to find out", "[unit]")
{
    UnlockedVolume vol("xfs", false);

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, Succeeds());
    CHECK(grown.value().changed == Changed::No);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("a mapping whose key vaultd does not hold needs the passphrase", "[unit]")
{
    UnlockedVolume vol;
    vol.sys.crypt.keptKeys.clear();  // opened by hand, or before vaultd restarted
    vol.deviceGrowsTo(2 * kGiB);

    auto asked = vol.ops.grow("vdb", nullptr);
    REQUIRE_THAT(asked, FailsWith(ErrorCode::CredentialRequired));
    CHECK(vol.sys.log.empty());

    auto wrong = secret("wrong horse");
    CHECK_THAT(vol.ops.grow("vdb", &wrong), FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.sys.log.empty());

    auto right = secret(kPassphrase);
    auto grown = vol.ops.grow("vdb", &right);
    REQUIRE_THAT(grown, Succeeds());
    CHECK(layer(grown.value(), "mapping").after == 2 * kGiB - kData);
    // The key is kept from then on.
    vol.deviceGrowsTo(3 * kGiB);
    REQUIRE_THAT(vol.ops.grow("vdb", nullptr), Succeeds());
}

TEST_CASE("a filesystem that fails to grow fails the call, naming that layer", "[unit]")
{
    UnlockedVolume vol("btrfs");
    vol.deviceGrowsTo(2 * kGiB);
    vol.sys.tools.growFailure = "ERROR: unable to resize";

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, FailsWith(ErrorCode::Failed));
    CHECK_THAT(grown.error().message, Catch::Contains("the btrfs filesystem did not grow") &&
                                          Catch::Contains("unable to resize"));
}

TEST_CASE("a filesystem tool that succeeds without growing is not taken at its word", "[unit]")
{
    UnlockedVolume vol;
    vol.deviceGrowsTo(2 * kGiB);
    vol.sys.tools.growStuck = true;

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, FailsWith(ErrorCode::Failed));
    CHECK_THAT(grown.error().message, Catch::Contains("is still"));
    // A later call, once the tool works, finishes the job.
    vol.sys.tools.growStuck = false;
    auto again = vol.ops.grow("vdb", nullptr);
    REQUIRE_THAT(again, Succeeds());
    CHECK(layer(again.value(), "filesystem").after == (2 * kGiB - kData) / 100 * 95);
}

TEST_CASE("an unmounted ext4 volume the tool leaves short fails the call", "[unit]")
{
    UnlockedVolume vol("ext4", false);
    vol.deviceGrowsTo(2 * kGiB);
    vol.sys.tools.growStuck = true;

    auto grown = vol.ops.grow("vdb", nullptr);

    REQUIRE_THAT(grown, FailsWith(ErrorCode::Failed));
    CHECK_THAT(grown.error().message, Catch::Contains("grew to") && Catch::Contains("only"));
}

TEST_CASE("the automatic growth policy covers all volumes, or those it names", "[unit]")
{
    Volume v;
    v.signature = luksSignature(kUuid, "secure");
    v.mappingName = "data";
    v.identity.ebsVolumeId = "vol-0123456789abcdef0";

    CHECK_FALSE(GrowPolicy{}.covers(v));
    CHECK(GrowPolicy{true, {}}.covers(v));
    for (const std::string& name :
         {kUuid, std::string("secure"), std::string("data"), std::string("vol-0123456789abcdef0")})
        CHECK(GrowPolicy{false, {"other", name}}.covers(v));
    CHECK_FALSE(GrowPolicy{false, {"vol-0fedcba987654321f", "other"}}.covers(v));
}
