#include "engine/identity.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace vaultd::engine;

namespace {

// An NVMe Identify Controller page laid out as the NVMe base specification
// gives it (VID at 0, SN at 4, MN at 24, vendor-specific area from 3072),
// with fields space-padded the way controllers report them. EBS puts the
// requested block-device name in the first 32 bytes of the vendor area.
std::vector<std::uint8_t> identifyPage(std::string_view serial, std::string_view model,
                                       std::string_view vendorName)
{
    std::vector<std::uint8_t> page(kIdentifySize, 0);
    auto put = [&page](std::size_t offset, std::size_t width, std::string_view text) {
        std::memset(page.data() + offset, ' ', width);
        std::memcpy(page.data() + offset, text.data(), std::min(width, text.size()));
    };
    page[0] = 0x0f;  // PCI vendor 0x1d0f, Amazon
    page[1] = 0x1d;
    put(4, 20, serial);
    put(24, 40, model);
    if (!vendorName.empty())
        put(kIdentifyVendorOffset, kIdentifyNameBytes, vendorName);
    return page;
}

}  // namespace

TEST_CASE("device fields lose their padding", "[unit]")
{
    CHECK(trimField("Amazon Elastic Block Store              ") == "Amazon Elastic Block Store");
    CHECK(trimField(std::string("sdf\0\0\0", 6)) == "sdf");
    CHECK(trimField("  vol0123456789abcdef0\n") == "vol0123456789abcdef0");
    CHECK(trimField("   ").empty());
}

TEST_CASE("an EBS serial is the volume id without its dash", "[unit]")
{
    IdentityRules rules;
    CHECK(ebsVolumeId("Amazon Elastic Block Store              ", "vol0123456789abcdef0", rules) ==
          "vol-0123456789abcdef0");
    // The old 8-digit ids.
    CHECK(ebsVolumeId("Amazon Elastic Block Store", "vol0a1b2c3d", rules) == "vol-0a1b2c3d");
    // Another model's serial that happens to look like one is not.
    CHECK_FALSE(ebsVolumeId("QEMU NVMe Ctrl", "vol0123456789abcdef0", rules));
    CHECK_FALSE(ebsVolumeId("Amazon EC2 NVMe Instance Storage", "AWS1234567890ABCDEF", rules));
    // Not hex, the wrong length, or a dash EBS never reports.
    CHECK_FALSE(ebsVolumeId("Amazon Elastic Block Store", "vol0123456789abcdefg", rules));
    CHECK_FALSE(ebsVolumeId("Amazon Elastic Block Store", "vol0123", rules));
    CHECK_FALSE(ebsVolumeId("Amazon Elastic Block Store", "vol-0123456789abcdef0", rules));

    rules.ebsModels.push_back("QEMU NVMe Ctrl");
    CHECK(ebsVolumeId("QEMU NVMe Ctrl", "vol0123456789abcdef0", rules) == "vol-0123456789abcdef0");
}

TEST_CASE("volume ids are accepted with or without the dash, in any case", "[unit]")
{
    CHECK(canonicalVolumeId("vol-0123456789abcdef0") == "vol-0123456789abcdef0");
    CHECK(canonicalVolumeId("vol0123456789abcdef0") == "vol-0123456789abcdef0");
    CHECK(canonicalVolumeId("VOL-0123456789ABCDEF0") == "vol-0123456789abcdef0");
    CHECK_FALSE(canonicalVolumeId("vol--0123456789abcdef0"));
    CHECK_FALSE(canonicalVolumeId("volume-0123456789abcdef0"));
    CHECK_FALSE(canonicalVolumeId("vol-0123456789abcdef"));
    CHECK_FALSE(canonicalVolumeId(""));
}

TEST_CASE("every spelling of a requested name is one name", "[unit]")
{
    for (const char* spelling : {"sdf", "/dev/sdf", "xvdf", "/dev/xvdf", "  /dev/sdf  ", "sdf\n"})
        CHECK(canonicalRequestedName(spelling) == "sdf");
    CHECK(canonicalRequestedName("xvdba") == "sdba");
    for (const char* not_one : {"", "sd", "xvd", "sdf1", "/dev/nvme1n1", "vdb", "/dev/disk/sdf",
                                "sdabc", "SDF", "/dev/mapper/sdf"})
        CHECK_FALSE(canonicalRequestedName(not_one));
}

TEST_CASE("the requested name is read from the identify page's vendor area", "[unit]")
{
    // EBS has been seen to write both spellings; either is the same name.
    CHECK(requestedNameFromIdentify(
              identifyPage("vol0123456789abcdef0", "Amazon Elastic Block Store", "sdf")) == "sdf");
    CHECK(requestedNameFromIdentify(identifyPage(
              "vol0123456789abcdef0", "Amazon Elastic Block Store", "/dev/xvdg")) == "sdg");
    // QEMU's controller leaves the area zeroed; a short page is nothing.
    CHECK_FALSE(
        requestedNameFromIdentify(identifyPage("vol0123456789abcdef0", "QEMU NVMe Ctrl", "")));
    CHECK_FALSE(requestedNameFromIdentify(std::vector<std::uint8_t>(100, ' ')));
    CHECK_FALSE(requestedNameFromIdentify(identifyPage("x", "y", "not a device name")));
}

TEST_CASE("the requested name falls back to EC2's udev links in /dev", "[unit]")
{
    CHECK(requestedNameFromLinks(
              {"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123", "/dev/xvdh"}) == "sdh");
    CHECK(requestedNameFromLinks({"/dev/sdh"}) == "sdh");
    CHECK_FALSE(requestedNameFromLinks({"/dev/disk/by-id/sdh", "/dev/disk/by-label/xvdh"}));
    CHECK_FALSE(requestedNameFromLinks({}));
}

TEST_CASE("identify puts the pieces together", "[unit]")
{
    IdentityRules rules;
    SECTION("Nitro EBS: id from the serial, name from the identify page before links")
    {
        IdentityInput in{"nvme1n1",
                         false,
                         "Amazon Elastic Block Store",
                         "vol0123456789abcdef0",
                         {"/dev/xvdz"},
                         identifyPage("vol0123456789abcdef0", "Amazon Elastic Block Store", "sdf")};
        Identity id = identify(in, rules);
        CHECK(id.ebsVolumeId == "vol-0123456789abcdef0");
        CHECK(id.requestedName == "sdf");
        CHECK(id.model == "Amazon Elastic Block Store");
        CHECK(id.serial == "vol0123456789abcdef0");
        CHECK_FALSE(id.ephemeral);
    }
    SECTION("no identify page: the link")
    {
        IdentityInput in{"nvme1n1",    false, "Amazon Elastic Block Store", "vol0123456789abcdef0",
                         {"/dev/sdf"}, {}};
        CHECK(identify(in, rules).requestedName == "sdf");
    }
    SECTION("Xen: the kernel name is the requested name")
    {
        IdentityInput in{"xvdf", false, "", "", {}, {}};
        Identity id = identify(in, rules);
        CHECK(id.requestedName == "sdf");
        CHECK(id.ebsVolumeId.empty());
    }
    SECTION("instance store is ephemeral and has no EBS names")
    {
        IdentityInput in{"nvme2n1",     false,        "Amazon EC2 NVMe Instance Storage",
                         "AWS2B2D1234", {"/dev/sdb"}, {}};
        Identity id = identify(in, rules);
        CHECK(id.ephemeral);
        CHECK(id.ebsVolumeId.empty());
        CHECK(id.requestedName.empty());
    }
    SECTION("a partition has its disk's serial but not its names")
    {
        IdentityInput in{"nvme1n1p1",   true, "Amazon Elastic Block Store", "vol0123456789abcdef0",
                         {"/dev/sdf1"}, {}};
        Identity id = identify(in, rules);
        CHECK(id.serial == "vol0123456789abcdef0");
        CHECK(id.ebsVolumeId.empty());
        CHECK(id.requestedName.empty());
    }
    SECTION("a plain virtio disk: only what it reports")
    {
        IdentityInput in{"vdb", false, "", "data-disk", {"/dev/disk/by-id/virtio-data-disk"}, {}};
        Identity id = identify(in, rules);
        CHECK(id.serial == "data-disk");
        CHECK(id.ebsVolumeId.empty());
        CHECK(id.requestedName.empty());
    }
}
