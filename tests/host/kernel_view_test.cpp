#include "system/kernel_view.hpp"

#include <libcryptsetup.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "result_matchers.hpp"
#include "secret.hpp"
#include "system/crypt.hpp"
#include "system/sysfs.hpp"
#include "system/mkfs.hpp"
#include "system/spawn.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::secret;
using testing::Succeeds;
using testing::TempDir;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

void formatLuks(const std::string& image, const std::string& label)
{
    engine::LuksParams params;
    params.label = label;
    params.pbkdf.type = "pbkdf2";
    params.pbkdf.iterations = 1000;
    system::LibCrypt crypt;
    REQUIRE_THAT(crypt.format(image, params, secret("correct horse"), ""), Succeeds());
}

std::string luksUuid(const std::string& image)
{
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, decltype(&crypt_free)> owner(cd, &crypt_free);
    REQUIRE(crypt_load(cd, CRYPT_LUKS2, nullptr) == 0);
    return crypt_get_uuid(cd);
}

void mkfsExt4(const std::string& image, const std::vector<std::string>& extra = {})
{
    std::vector<std::string> args = {"-q", "-F"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image);
    auto run = system::runTool("mkfs.ext4", args);
    REQUIRE_THAT(run, Succeeds());
    INFO(run.value().output);
    REQUIRE(run.value().exitStatus == 0);
}

// A master boot record with one Linux partition from sector 2048 on, as
// fdisk would write it.
void writeMbr(const std::string& image)
{
    std::array<unsigned char, 512> mbr{};
    unsigned char* entry = mbr.data() + 446;
    entry[4] = 0x83;                     // Linux
    entry[8] = 0x00, entry[9] = 0x08;    // first sector 2048, little endian
    entry[12] = 0x00, entry[13] = 0x10;  // 4096 sectors
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(out.write(reinterpret_cast<const char*>(mbr.data()), mbr.size()));
}

engine::Signature probed(const std::string& image)
{
    system::SystemKernelView kernel;
    auto signature = kernel.probe(image);
    REQUIRE_THAT(signature, Succeeds());
    return signature.value();
}

}  // namespace

TEST_CASE("probing a blank image finds no signature", "[host]")
{
    TempDir dir;
    CHECK(probed(dir.image("blank.img", 64 * kMiB)).none());
}

TEST_CASE("probing a LUKS2 image finds its version, label and libcryptsetup's UUID", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", 64 * kMiB);
    formatLuks(image, "vault-test");

    const engine::Signature s = probed(image);

    CHECK(s.type == "crypto_LUKS");
    CHECK(s.isLuks());
    CHECK(s.usage == "crypto");
    CHECK(s.luksVersion == 2);
    CHECK(s.label == "vault-test");
    CHECK(s.uuid == luksUuid(image));
}

TEST_CASE("probing an image made by mkfs.ext4 finds an ext4 filesystem", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("ext4.img", 64 * kMiB);
    mkfsExt4(image, {"-L", "data"});

    const engine::Signature s = probed(image);

    CHECK(s.type == "ext4");
    CHECK(s.usage == "filesystem");
    CHECK(s.label == "data");
    CHECK_FALSE(s.uuid.empty());
    CHECK(s.luksVersion == 0);
}

TEST_CASE("probing an image with a DOS partition table reports the table", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("mbr.img", 64 * kMiB);
    writeMbr(image);

    const engine::Signature s = probed(image);

    CHECK(s.type == "dos");
    CHECK(s.usage == "partition table");
}

TEST_CASE("probing a missing image is no such device", "[host]")
{
    TempDir dir;
    system::SystemKernelView kernel;

    CHECK_THAT(kernel.probe(dir / "missing.img"), FailsWith(ErrorCode::NoSuchDevice));
}

TEST_CASE("wiping an ext4 image leaves nothing to probe", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("ext4.img", 64 * kMiB);
    mkfsExt4(image);
    system::SystemKernelView kernel;

    REQUIRE_THAT(kernel.wipeSignatures(image), Succeeds());

    CHECK(probed(image).none());
}

TEST_CASE("wiping a LUKS2 image leaves no header libcryptsetup can recover", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", 64 * kMiB);
    formatLuks(image, "");
    system::SystemKernelView kernel;

    REQUIRE_THAT(kernel.wipeSignatures(image), Succeeds());

    CHECK(probed(image).none());
    system::LibCrypt crypt;
    CHECK_THAT(crypt.activate(image, "", secret("correct horse"), engine::kAnyKeyslot),
               FailsWith(ErrorCode::NotLuks));
}

TEST_CASE("wiping an image with a partition table removes the table", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("mbr.img", 64 * kMiB);
    writeMbr(image);
    system::SystemKernelView kernel;

    REQUIRE_THAT(kernel.wipeSignatures(image), Succeeds());

    CHECK(probed(image).none());
}

TEST_CASE("wiping a blank image succeeds and changes nothing", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("blank.img", 64 * kMiB);
    system::SystemKernelView kernel;

    CHECK_THAT(kernel.wipeSignatures(image), Succeeds());
    CHECK(probed(image).none());
}

TEST_CASE("wiping a missing image is no such device", "[host]")
{
    TempDir dir;
    system::SystemKernelView kernel;

    CHECK_THAT(kernel.wipeSignatures(dir / "missing.img"), FailsWith(ErrorCode::NoSuchDevice));
}

TEST_CASE("SpawnedTools makes each filesystem with its label on an image", "[host]")
{
    TempDir dir;
    system::SpawnedTools tools;
    struct Case {
        engine::Filesystem fs;
        std::uint64_t size;
        const char* type;
    };
    for (const Case& c : {Case{engine::Filesystem::Ext4, 64 * kMiB, "ext4"},
                          Case{engine::Filesystem::Xfs, 300 * kMiB, "xfs"},
                          Case{engine::Filesystem::Btrfs, 109 * kMiB, "btrfs"}}) {
        INFO(c.type);
        const std::string image = dir.image(std::string(c.type) + ".img", c.size);

        REQUIRE_THAT(tools.make(c.fs, image, "vault"), Succeeds());

        const engine::Signature s = probed(image);
        CHECK(s.type == c.type);
        CHECK(s.usage == "filesystem");
        CHECK(s.label == "vault");
    }
}

TEST_CASE("the minimum sizes the engine assumes are enough for each mkfs", "[host]")
{
    TempDir dir;
    system::SpawnedTools tools;
    for (engine::Filesystem fs :
         {engine::Filesystem::Ext4, engine::Filesystem::Xfs, engine::Filesystem::Btrfs}) {
        const std::string name(engine::filesystemName(fs));
        INFO(name);
        const std::string image = dir.image(name + "-min.img", engine::minimumSize(fs));
        CHECK_THAT(tools.make(fs, image, ""), Succeeds());
    }
}

TEST_CASE("the minimum sizes the engine assumes are the least xfs and btrfs take", "[host]")
{
    TempDir dir;
    system::SpawnedTools tools;
    for (engine::Filesystem fs : {engine::Filesystem::Xfs, engine::Filesystem::Btrfs}) {
        const std::string name(engine::filesystemName(fs));
        INFO(name);
        const std::string image = dir.image(name + "-under.img", engine::minimumSize(fs) - kMiB);
        CHECK_THAT(tools.make(fs, image, ""), FailsWith(ErrorCode::Failed));
    }
}

TEST_CASE("a failing mkfs is reported with its last line of output", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("small.img", 64 * kMiB);
    system::SpawnedTools tools;

    auto made = tools.make(engine::Filesystem::Xfs, image, "");

    REQUIRE_THAT(made, FailsWith(ErrorCode::Failed));
    CHECK_THAT(made.error().message, Catch::StartsWith("mkfs.xfs failed on '" + image + "': "));
    CHECK(made.error().message.find('\n') == std::string::npos);
}

TEST_CASE("a device's identity is its numbers and the kernel's disk sequence", "[host]")
{
    system::SystemKernelView kernel;
    CHECK_THAT(kernel.identityOf("/etc/hostname"), FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(kernel.identityOf("/dev/vaultd-no-such-node"), FailsWith(ErrorCode::NoSuchDevice));

    // Any block device this host has (loop devices will do) against sysfs.
    const engine::Topology t = system::readTopology();
    std::size_t compared = 0;
    for (const auto& [name, node] : t.nodes) {
        auto id = kernel.identityOf("/dev/" + name);
        if (!id)
            continue;  // sysfs lists it, /dev has no node for it here
        INFO(name);
        CHECK(id.value().devnum == node.devnum);
        if (node.diskseq != 0)
            CHECK(id.value().diskseq == node.diskseq);
        ++compared;
    }
    if (compared == 0)
        WARN("no block device nodes on this host to compare");
}

TEST_CASE("an unmounted filesystem's size is what its superblock spans", "[host]")
{
    TempDir dir;
    system::SpawnedTools tools;
    system::SystemKernelView kernel;
    for (engine::Filesystem fs :
         {engine::Filesystem::Ext4, engine::Filesystem::Xfs, engine::Filesystem::Btrfs}) {
        const std::string name(engine::filesystemName(fs));
        INFO(name);
        const std::string image = dir.image(name + "-size.img", 512 * kMiB);
        REQUIRE_THAT(tools.make(fs, image, ""), Succeeds());
        auto size = kernel.filesystemSize(fs, image, "");
        REQUIRE_THAT(size, Succeeds());
        CHECK(size.value() == 512 * kMiB);
    }
    // Another filesystem's superblock is no answer.
    const std::string ext4 = (dir.path() / "ext4-size.img").string();
    CHECK_THAT(kernel.filesystemSize(engine::Filesystem::Xfs, ext4, ""),
               FailsWith(ErrorCode::Failed));
    CHECK_THAT(kernel.filesystemSize(engine::Filesystem::Btrfs, ext4, ""),
               FailsWith(ErrorCode::Failed));
}

TEST_CASE("an unmounted ext4 filesystem grows offline to fill its device", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("grow.img", 256 * kMiB);
    mkfsExt4(image);
    REQUIRE(truncate(image.c_str(), 640 * kMiB) == 0);
    system::SpawnedTools tools;

    REQUIRE_THAT(tools.grow(engine::Filesystem::Ext4, image, ""), Succeeds());

    system::SystemKernelView kernel;
    auto size = kernel.filesystemSize(engine::Filesystem::Ext4, image, "");
    REQUIRE_THAT(size, Succeeds());
    CHECK(size.value() == 640 * kMiB);
    // Again: nothing to do, and no complaint.
    CHECK_THAT(tools.grow(engine::Filesystem::Ext4, image, ""), Succeeds());
}

TEST_CASE("xfs and btrfs are not grown unmounted", "[host]")
{
    system::SpawnedTools tools;
    CHECK_THAT(tools.grow(engine::Filesystem::Xfs, "/dev/null", ""),
               FailsWith(ErrorCode::WrongState));
    CHECK_THAT(tools.grow(engine::Filesystem::Btrfs, "/dev/null", ""),
               FailsWith(ErrorCode::WrongState));
}

TEST_CASE("a mounted filesystem's size is df's total", "[host]")
{
    system::SystemKernelView kernel;
    struct statvfs st {};
    REQUIRE(statvfs("/", &st) == 0);
    auto size = kernel.filesystemSize(engine::Filesystem::Ext4, "/dev/null", "/");
    REQUIRE_THAT(size, Succeeds());
    CHECK(size.value() == static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize);
}
