// Header backups on image files: written whole or not at all, verified by
// loading them back, and good enough to bring a destroyed header back.
#include "system/header_store.hpp"

#include <libcryptsetup.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "result_matchers.hpp"
#include "secret.hpp"
#include "system/crypt.hpp"
#include "system/kernel_view.hpp"
#include "system/spawn.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::secret;
using testing::Succeeds;
using testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kPassphrase = "correct horse battery staple";

struct CryptFree {
    void operator()(crypt_device* cd) const { crypt_free(cd); }
};

// A LUKS2 image with the cheapest KDF; returns its UUID.
std::string makeLuks(system::LibCrypt& crypt, const std::string& image)
{
    engine::LuksParams params;
    params.pbkdf.type = "pbkdf2";
    params.pbkdf.iterations = 1000;
    REQUIRE_THAT(crypt.format(image, params, secret(kPassphrase), ""), Succeeds());
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, CryptFree> owner(cd);
    REQUIRE(crypt_load(cd, CRYPT_LUKS2, nullptr) == 0);
    return crypt_get_uuid(cd);
}

mode_t modeOf(const std::string& path)
{
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void zero(const std::string& image, std::size_t bytes)
{
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    const std::string zeros(bytes, '\0');
    REQUIRE(out.write(zeros.data(), static_cast<std::streamsize>(zeros.size())));
}

}  // namespace

TEST_CASE("a header backup is kept whole, private, and loads back with its UUID", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", 64ull << 20);
    const std::string uuid = makeLuks(crypt, image);
    const std::string store = dir / "state/headers";
    system::DirHeaderStore headers(store, crypt);

    auto kept = headers.save(image, {uuid, "/dev/nvme1n1", "vol-0123456789abcdef0", "s1", 0, 0});

    REQUIRE_THAT(kept, Succeeds());
    CHECK(kept.value().bytes == fs::file_size(store + "/" + uuid + ".img"));
    CHECK(kept.value().bytes >= (16ull << 20));  // binary headers, metadata, keyslot areas
    CHECK(kept.value().savedAt > 0);
    CHECK(modeOf(store) == 0700);
    CHECK(modeOf(store + "/" + uuid + ".img") == 0600);
    CHECK(modeOf(store + "/" + uuid + ".json") == 0600);
    CHECK_FALSE(fs::exists(store + "/" + uuid + ".img.new"));
    CHECK(crypt.header(store + "/" + uuid + ".img").value().uuid == uuid);

    auto listed = headers.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed.front().luksUuid == uuid);
    CHECK(listed.front().device == "/dev/nvme1n1");
    CHECK(listed.front().ebsVolumeId == "vol-0123456789abcdef0");
    CHECK(listed.front().bytes == kept.value().bytes);

    // Saved again, it replaces the one before.
    REQUIRE_THAT(headers.save(image, {uuid, "/dev/nvme2n1", "", "", 0, 0}), Succeeds());
    listed = headers.list();
    REQUIRE(listed.size() == 1);
    CHECK(listed.front().device == "/dev/nvme2n1");
}

TEST_CASE("a header that does not load back as the UUID asked for is not kept", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", 64ull << 20);
    const std::string uuid = makeLuks(crypt, image);
    const std::string other = dir.image("other.img", 64ull << 20);
    makeLuks(crypt, other);
    const std::string store = dir / "headers";
    system::DirHeaderStore headers(store, crypt);
    REQUIRE_THAT(headers.save(image, {uuid, "/dev/vdb", "", "", 0, 0}), Succeeds());
    const auto before = fs::last_write_time(store + "/" + uuid + ".img");

    // The device under the name is another container now.
    auto wrong = headers.save(other, {uuid, "/dev/vdb", "", "", 0, 0});

    REQUIRE_THAT(wrong, FailsWith(ErrorCode::Failed));
    CHECK_THAT(wrong.error().message, Catch::Contains("not " + uuid));
    CHECK(fs::last_write_time(store + "/" + uuid + ".img") == before);
    CHECK(crypt.header(store + "/" + uuid + ".img").value().uuid == uuid);
    CHECK_FALSE(fs::exists(store + "/" + uuid + ".img.new"));
    CHECK_FALSE(fs::exists(store + "/" + uuid + ".json.new"));
}

TEST_CASE("a backup is refused for what is not LUKS, and for a name that is no UUID", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string blank = dir.image("blank.img", 64ull << 20);
    system::DirHeaderStore headers(dir / "headers", crypt);

    CHECK_THAT(headers.save(blank, {"0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11", "", "", "", 0, 0}),
               FailsWith(ErrorCode::NotLuks));
    CHECK_THAT(headers.save(blank, {"../../etc/passwd", "", "", "", 0, 0}),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK(headers.list().empty());
}

TEST_CASE("a kept backup brings back a header whose both copies were destroyed", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", 64ull << 20);
    const std::string uuid = makeLuks(crypt, image);
    system::DirHeaderStore headers(dir / "headers", crypt);
    REQUIRE_THAT(headers.save(image, {uuid, "/dev/vdb", "", "", 0, 0}), Succeeds());

    zero(image, 32 << 10);  // the primary and the secondary binary header
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot),
               FailsWith(ErrorCode::NotLuks));

    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, CryptFree> owner(cd);
    REQUIRE(crypt_header_restore(cd, CRYPT_LUKS2, (dir / "headers/" + uuid + ".img").c_str()) == 0);
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot), Succeeds());
}

namespace {

engine::HeaderHealth healthOf(const std::string& image)
{
    system::SystemKernelView kernel;
    auto outer = kernel.probe(image);
    REQUIRE_THAT(outer, Succeeds());
    return engine::judgeHeader(outer.value(), kernel.luksHeaders(image));
}

void zeroAt(const std::string& image, std::size_t offset, std::size_t bytes)
{
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(offset));
    const std::string zeros(bytes, '\0');
    REQUIRE(out.write(zeros.data(), static_cast<std::streamsize>(zeros.size())));
}

// Whether the first @bytes of @image are all zero: nothing repaired them.
bool stillZero(const std::string& image, std::size_t bytes)
{
    std::ifstream in(image, std::ios::binary);
    std::string start(bytes, '\1');
    in.read(start.data(), static_cast<std::streamsize>(bytes));
    return in && start.find_first_not_of('\0') == std::string::npos;
}

}  // namespace

TEST_CASE("a header's health is read from its copies, and reading writes nothing", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", 64ull << 20);
    makeLuks(crypt, image);
    CHECK(healthOf(image) == engine::HeaderHealth::Valid);

    const std::string copy = dir.image("copy.img", 0);
    fs::copy_file(image, copy, fs::copy_options::overwrite_existing);
    zeroAt(copy, 16 << 10, 4096);  // the secondary
    CHECK(healthOf(copy) == engine::HeaderHealth::SecondaryDamaged);

    zeroAt(image, 0, 4096);  // the primary
    CHECK(healthOf(image) == engine::HeaderHealth::PrimaryDamaged);
    CHECK(stillZero(image, 4096));
    // libcryptsetup opens it from the secondary, and repairs nothing.
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot), Succeeds());
    CHECK(healthOf(image) == engine::HeaderHealth::PrimaryDamaged);
    CHECK(stillZero(image, 4096));

    zeroAt(image, 0, 32 << 10);  // both
    CHECK(healthOf(image) == engine::HeaderHealth::None);
}

TEST_CASE("a filesystem written over a LUKS2 header is told apart from no header", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", 64ull << 20);
    makeLuks(crypt, image);
    // The first 4 KiB of a fresh ext4 image (its superblock) over the primary.
    const std::string ext4 = dir.image("ext4.img", 64ull << 20);
    auto made = system::runTool("mkfs.ext4", {"-q", "-F", ext4});
    REQUIRE_THAT(made, Succeeds());
    REQUIRE(made.value().exitStatus == 0);
    std::ifstream in(ext4, std::ios::binary);
    std::string start(4096, '\0');
    REQUIRE(in.read(start.data(), 4096));
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(out.write(start.data(), 4096));
    out.close();

    // libblkid itself still calls it LUKS, from the secondary.
    system::SystemKernelView kernel;
    CHECK(kernel.luksHeaders(image).foreign == "ext4");
    CHECK(healthOf(image) == engine::HeaderHealth::Overwritten);
}
