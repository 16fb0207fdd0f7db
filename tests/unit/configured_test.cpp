#include "engine/configured.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace vaultd::engine;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kEbsId = "vol-0123456789abcdef0";

// An EBS volume formatted with LUKS, as describe() would show it.
Volume luksVolume()
{
    Volume v;
    v.kernelName = "nvme1n1";
    v.node = "/dev/nvme1n1";
    v.signature.type = "crypto_LUKS";
    v.signature.usage = "crypto";
    v.signature.uuid = kUuid;
    v.signature.label = "payroll";
    v.signature.luksVersion = 2;
    v.identity.ebsVolumeId = kEbsId;
    v.state = VolumeState::Locked;
    return v;
}

ConfiguredVolume configured()
{
    ConfiguredVolume c;
    c.name = "payroll";
    c.origin = "payroll.toml";
    c.mappingName = "payroll";
    return c;
}

}  // namespace

TEST_CASE("a configured volume matches by its EBS volume id", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.ebsVolumeId = kEbsId;
    CHECK(matches(c, luksVolume()));

    c.ebsVolumeId = "vol-0123456789abcdef1";
    CHECK_FALSE(matches(c, luksVolume()));
}

TEST_CASE("a configured volume matches by its LUKS UUID", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.luksUuid = kUuid;
    CHECK(matches(c, luksVolume()));

    c.luksUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d12";
    CHECK_FALSE(matches(c, luksVolume()));
}

TEST_CASE("a LUKS UUID matches in either case", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.luksUuid = "0B7F7A0E-3F8E-4C36-9D2A-6F2B1C9E8D11";
    CHECK(matches(c, luksVolume()));

    Volume v = luksVolume();
    v.signature.uuid = "0B7F7A0E-3F8E-4C36-9D2A-6F2B1C9E8D11";
    c.luksUuid = kUuid;
    CHECK(matches(c, v));

    c.luksUuid = kUuid.substr(0, 35);
    CHECK_FALSE(matches(c, luksVolume()));
}

TEST_CASE("a configured volume matches by its label, case and all", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.label = "payroll";
    CHECK(matches(c, luksVolume()));

    c.label = "Payroll";
    CHECK_FALSE(matches(c, luksVolume()));
}

TEST_CASE("every identity a configured volume gives must match", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.ebsVolumeId = kEbsId;
    c.luksUuid = kUuid;
    c.label = "payroll";
    CHECK(matches(c, luksVolume()));

    // The attack the identity check is for: the right EBS volume id, but the
    // LUKS header of another volume (a stale link, a swapped disk).
    Volume other = luksVolume();
    other.signature.uuid = "11111111-2222-3333-4444-555555555555";
    CHECK_FALSE(matches(c, other));

    Volume relabelled = luksVolume();
    relabelled.signature.label = "scratch";
    CHECK_FALSE(matches(c, relabelled));

    Volume elsewhere = luksVolume();
    elsewhere.identity.ebsVolumeId.clear();
    CHECK_FALSE(matches(c, elsewhere));
}

TEST_CASE("a configured volume naming no identity matches nothing", "[unit][configured]")
{
    CHECK_FALSE(matches(configured(), luksVolume()));
}

TEST_CASE("a device that is not LUKS never matches", "[unit][configured]")
{
    ConfiguredVolume c = configured();
    c.ebsVolumeId = kEbsId;
    c.luksUuid = kUuid;
    c.label = "payroll";

    for (const char* type : {"", "ext4", "xfs", "crypto_LUKS2", "crypto_luks"}) {
        CAPTURE(type);
        Volume v = luksVolume();
        v.signature.type = type;
        CHECK_FALSE(matches(c, v));
    }

    // Only the EBS volume id given, and it is right: still not a volume
    // vaultd can unlock.
    ConfiguredVolume byId = configured();
    byId.ebsVolumeId = kEbsId;
    Volume plain = luksVolume();
    plain.signature = Signature{"ext4", "filesystem", kUuid, "payroll", 0};
    CHECK_FALSE(matches(byId, plain));
}
