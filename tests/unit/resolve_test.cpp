#include "engine/resolve.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "result_matchers.hpp"

using namespace vaultd::engine;
using vaultd::testing::FailsWith;
using vaultd::testing::Succeeds;

namespace {

Volume volume(const std::string& kernelName)
{
    Volume v;
    v.kernelName = kernelName;
    v.node = "/dev/" + kernelName;
    v.links = {"/dev/disk/by-id/virtio-" + kernelName};
    return v;
}

Volume ebs(const std::string& kernelName, const std::string& id, const std::string& requested)
{
    Volume v = volume(kernelName);
    v.identity.ebsVolumeId = id;
    v.identity.requestedName = requested;
    return v;
}

Volume luks(const std::string& kernelName, const std::string& uuid, const std::string& label)
{
    Volume v = volume(kernelName);
    v.signature.type = "crypto_LUKS";
    v.signature.uuid = uuid;
    v.signature.label = label;
    v.state = VolumeState::Locked;
    return v;
}

std::string resolved(const std::vector<Volume>& volumes, std::string_view spec)
{
    auto r = resolve(volumes, spec);
    REQUIRE_THAT(r, Succeeds());
    return r.value();
}

}  // namespace

TEST_CASE("a volume answers to every one of its names", "[unit]")
{
    Volume nitro = ebs("nvme1n1", "vol-0123456789abcdef0", "sdf");
    nitro.signature = luks("x", "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11", "payroll").signature;
    nitro.mappingName = "storedev";
    const std::vector<Volume> volumes = {volume("vdb"), nitro};

    for (const char* spec :
         {"nvme1n1", "/dev/nvme1n1", "/dev/disk/by-id/virtio-nvme1n1", "sdf", "/dev/sdf", "xvdf",
          "/dev/xvdf", "vol-0123456789abcdef0", "vol0123456789abcdef0",
          "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11", "0B7F7A0E-3F8E-4C36-9D2A-6F2B1C9E8D11", "payroll",
          "storedev", "/dev/mapper/storedev"}) {
        INFO(spec);
        CHECK(resolved(volumes, spec) == "nvme1n1");
    }
    CHECK(resolved(volumes, "vdb") == "vdb");
}

TEST_CASE("a name that fits nothing names the closest candidates", "[unit]")
{
    const std::vector<Volume> volumes = {ebs("nvme1n1", "vol-0123456789abcdef0", "sdf"),
                                         volume("vdb")};
    auto r = resolve(volumes, "xvdg");
    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK(r.error().message ==
          "'xvdg' not found; nvme1n1 was attached as sdf and is vol-0123456789abcdef0");

    // A typo in a volume id still finds its volume.
    r = resolve(volumes, "vol-0123456789abcdef1");
    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(r.error().message, Catch::Contains("nvme1n1 was attached as sdf"));

    // Nothing close, few volumes: all of them.
    r = resolve(volumes, "payroll");
    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(r.error().message, Catch::Contains("nvme1n1 was attached as sdf"));
    CHECK_THAT(r.error().message, Catch::Contains("; vdb"));

    r = resolve({}, "sdf");
    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK(r.error().message == "'sdf' not found: vaultd sees no volumes");
}

TEST_CASE("a name that fits several devices is ambiguous and names them all", "[unit]")
{
    // A SCSI disk whose kernel name is another volume's requested name.
    const std::vector<Volume> volumes = {volume("sdf"),
                                         ebs("nvme1n1", "vol-0123456789abcdef0", "sdf")};
    auto r = resolve(volumes, "sdf");
    REQUIRE_THAT(r, FailsWith(ErrorCode::Ambiguous));
    CHECK(r.error().message ==
          "'sdf' matches 2 devices: /dev/sdf (kernel name); /dev/nvme1n1 (requested name sdf); "
          "name one by its device node");
    CHECK(resolved(volumes, "/dev/nvme1n1") == "nvme1n1");
    CHECK(resolved(volumes, "/dev/sdf") == "sdf");
}

TEST_CASE("a LUKS UUID two devices share selects neither", "[unit]")
{
    // A volume made from a snapshot of another attached volume.
    const std::string uuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    const std::vector<Volume> volumes = {luks("vdb", uuid, "data"), luks("vdc", uuid, "data")};
    for (const std::string& spec : {uuid, std::string("data")}) {
        auto r = resolve(volumes, spec);
        REQUIRE_THAT(r, FailsWith(ErrorCode::Ambiguous));
        CHECK_THAT(r.error().message, Catch::Contains("/dev/vdb"));
        CHECK_THAT(r.error().message, Catch::Contains("/dev/vdc"));
    }
    CHECK(resolved(volumes, "vdc") == "vdc");
}

TEST_CASE("names that are no name are refused or match nothing", "[unit]")
{
    Volume mapped = volume("vdb");
    mapped.mappingName = "secure";
    const std::vector<Volume> volumes = {mapped, volume("vdc")};
    REQUIRE_THAT(resolve(volumes, ""), FailsWith(ErrorCode::InvalidArgument));
    REQUIRE_THAT(resolve(volumes, std::string(4097, 'v')), FailsWith(ErrorCode::InvalidArgument));
    for (const char* spec : {"/dev/", "/dev/mapper/", "/dev/mapper", "sd", "vol-", "/", "vd"})
        CHECK_THAT(resolve(volumes, spec), FailsWith(ErrorCode::NoSuchDevice));
    // A label or UUID only counts on a LUKS volume, and an empty one never.
    Volume foreign = volume("vdd");
    foreign.signature.type = "ext4";
    foreign.signature.label = "data";
    CHECK_THAT(resolve({foreign}, "data"), FailsWith(ErrorCode::NoSuchDevice));
}

TEST_CASE("a huge name is quoted short in the error", "[unit]")
{
    auto r = resolve({volume("vdb")}, std::string(4096, 'q'));
    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK(r.error().message.size() < 300);
}

TEST_CASE("volumes that share a LUKS UUID name each other as duplicates", "[unit]")
{
    const std::string uuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    std::vector<Volume> volumes = {luks("vdb", uuid, ""), volume("vdc"), luks("sda", uuid, ""),
                                   luks("vdd", "11111111-2222-3333-4444-555555555555", "")};
    markDuplicates(volumes);
    CHECK(volumes[0].duplicates == std::vector<std::string>{"/dev/sda"});
    CHECK(volumes[1].duplicates.empty());
    CHECK(volumes[2].duplicates == std::vector<std::string>{"/dev/vdb"});
    CHECK(volumes[3].duplicates.empty());
}
