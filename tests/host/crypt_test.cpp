#include "system/crypt.hpp"

#include <libcryptsetup.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "engine/filesystem.hpp"
#include "quick_params.hpp"
#include "result_matchers.hpp"
#include "secret.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::quickParams;
using testing::secret;
using testing::Succeeds;
using testing::TempDir;

namespace {

constexpr std::uint64_t kImageSize = 64ull << 20;
const std::string kPassphrase = "correct horse battery staple";

struct CryptFree {
    void operator()(crypt_device* cd) const { crypt_free(cd); }
};

// The header on @path as libcryptsetup itself reads it.
std::unique_ptr<crypt_device, CryptFree> loadHeader(const std::string& path)
{
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, path.c_str()) == 0);
    std::unique_ptr<crypt_device, CryptFree> owner(cd);
    REQUIRE(crypt_load(cd, CRYPT_LUKS2, nullptr) == 0);
    return owner;
}

}  // namespace

TEST_CASE("LibCrypt formats an image as LUKS2 with the requested parameters", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    system::LibCrypt crypt;

    REQUIRE_THAT(crypt.format(image, quickParams("vault-test"), secret(kPassphrase), ""),
                 Succeeds());

    auto cd = loadHeader(image);
    CHECK(std::string(crypt_get_type(cd.get())) == CRYPT_LUKS2);
    CHECK(std::string(crypt_get_cipher(cd.get())) == "aes");
    CHECK(std::string(crypt_get_cipher_mode(cd.get())) == "xts-plain64");
    CHECK(crypt_get_volume_key_size(cd.get()) == 64);
    CHECK(crypt_get_sector_size(cd.get()) == 4096);
    CHECK(std::string(crypt_get_label(cd.get())) == "vault-test");
    CHECK(crypt_keyslot_status(cd.get(), 0) == CRYPT_SLOT_ACTIVE_LAST);
    CHECK(crypt_keyslot_status(cd.get(), 1) == CRYPT_SLOT_INACTIVE);

    crypt_pbkdf_type pbkdf{};
    REQUIRE(crypt_keyslot_get_pbkdf(cd.get(), 0, &pbkdf) == 0);
    CHECK(std::string(pbkdf.type) == CRYPT_KDF_PBKDF2);
    CHECK(std::string(pbkdf.hash) == "sha256");
    CHECK(pbkdf.iterations == 1000);
}

TEST_CASE("LibCrypt puts the data where the engine's size checks assume it starts", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;
    for (std::uint64_t size : {kImageSize, std::uint64_t{1} << 30}) {
        INFO(size);
        const std::string image = dir.image("vault-" + std::to_string(size) + ".img", size);
        REQUIRE_THAT(crypt.format(image, quickParams(), secret(kPassphrase), ""), Succeeds());

        auto cd = loadHeader(image);
        CHECK(crypt_get_data_offset(cd.get()) * 512 == engine::kLuks2DataOffset);
    }
}

TEST_CASE("LibCrypt formats without a label when none is asked for", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    system::LibCrypt crypt;

    REQUIRE_THAT(crypt.format(image, quickParams(), secret(kPassphrase), ""), Succeeds());

    auto cd = loadHeader(image);
    const char* label = crypt_get_label(cd.get());
    CHECK((label == nullptr || std::string(label).empty()));
}

TEST_CASE("LibCrypt checks a passphrase against the keyslots when given no name", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    system::LibCrypt crypt;
    REQUIRE_THAT(crypt.format(image, quickParams(), secret(kPassphrase), ""), Succeeds());

    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot), Succeeds());

    auto wrong =
        crypt.activate(image, "", secret("wrong horse battery staple"), engine::kAnyKeyslot);
    REQUIRE_THAT(wrong, FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(wrong.error().message, Catch::Contains(image));
    // A prefix of the right passphrase is a different passphrase.
    CHECK_THAT(crypt.activate(image, "", secret("correct horse"), engine::kAnyKeyslot),
               FailsWith(ErrorCode::WrongPassphrase));
}

TEST_CASE("LibCrypt finds no LUKS container on a blank image", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("blank.img", kImageSize);
    system::LibCrypt crypt;

    auto opened = crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot);

    REQUIRE_THAT(opened, FailsWith(ErrorCode::NotLuks));
    CHECK_THAT(opened.error().message, Catch::Contains(image));
}

TEST_CASE("LibCrypt formats with argon2id at a fixed small cost", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    engine::LuksParams params;
    params.pbkdf.type = "argon2id";
    params.pbkdf.iterations = 4;
    params.pbkdf.memoryKib = 32768;
    params.pbkdf.parallel = 1;
    system::LibCrypt crypt;

    REQUIRE_THAT(crypt.format(image, params, secret(kPassphrase), ""), Succeeds());

    auto cd = loadHeader(image);
    crypt_pbkdf_type pbkdf{};
    REQUIRE(crypt_keyslot_get_pbkdf(cd.get(), 0, &pbkdf) == 0);
    CHECK(std::string(pbkdf.type) == CRYPT_KDF_ARGON2ID);
    CHECK(pbkdf.iterations == 4);
    CHECK(pbkdf.max_memory_kb == 32768);
    CHECK(pbkdf.parallel_threads == 1);
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot), Succeeds());
}

TEST_CASE("LibCrypt refuses a pbkdf2 cost below libcryptsetup's minimum", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    engine::LuksParams params = quickParams();
    params.pbkdf.iterations = 999;
    system::LibCrypt crypt;

    auto formatted = crypt.format(image, params, secret(kPassphrase), "");

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::Failed));
    CHECK_THAT(formatted.error().message, Catch::Contains(image));
}

TEST_CASE("LibCrypt reports a missing image as no such device", "[host]")
{
    TempDir dir;
    system::LibCrypt crypt;

    CHECK_THAT(crypt.activate(dir / "missing.img", "", secret(kPassphrase), engine::kAnyKeyslot),
               FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(crypt.format(dir / "missing.img", quickParams(), secret(kPassphrase), ""),
               FailsWith(ErrorCode::NoSuchDevice));
}

TEST_CASE("LibCrypt knows no mapping by a name nobody opened and cannot close it", "[host]")
{
    system::LibCrypt crypt;
    const std::string name = "vaultd-host-test-no-such-mapping";

    CHECK_FALSE(crypt.mappingExists(name));
    using How = engine::Crypt::Deactivate;
    for (How how : {How::Normal, How::Deferred, How::Force}) {
        auto closed = crypt.deactivate(name, how);
        REQUIRE_THAT(closed, FailsWith(ErrorCode::NoSuchDevice));
        CHECK_THAT(closed.error().message, Catch::Contains("'" + name + "'"));
    }
}

TEST_CASE("LibCrypt stores the dm-crypt options in the header and changes only its own", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("vault.img", kImageSize);
    system::LibCrypt crypt;
    REQUIRE_THAT(crypt.format(image, quickParams(), secret(kPassphrase), ""), Succeeds());

    // The lab's and the cloud's kernels (5.9 and later) take the bypass;
    // quickParams keeps LuksParams' flags: reads bypass, writes do not.
    std::uint32_t flags = 0;
    {
        auto cd = loadHeader(image);
        REQUIRE(crypt_persistent_flags_get(cd.get(), CRYPT_FLAGS_ACTIVATION, &flags) == 0);
    }
    CHECK((flags & CRYPT_ACTIVATE_NO_READ_WORKQUEUE) != 0);
    CHECK((flags & CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE) == 0);
    CHECK((flags & CRYPT_ACTIVATE_ALLOW_DISCARDS) == 0);
    CHECK(crypt.header(image).value().flags == engine::HeaderFlags{true, false, false});
    REQUIRE_THAT(crypt.setHeaderFlags(image, {true, true, false}), Succeeds());
    CHECK(crypt.header(image).value().flags == engine::HeaderFlags{true, true, false});

    // A flag somebody else stored stays through vaultd's changes.
    {
        auto cd = loadHeader(image);
        REQUIRE(crypt_persistent_flags_set(cd.get(), CRYPT_FLAGS_ACTIVATION,
                                           flags | CRYPT_ACTIVATE_SAME_CPU_CRYPT) == 0);
    }
    REQUIRE_THAT(crypt.setHeaderFlags(image, {false, false, true}), Succeeds());

    {
        auto cd = loadHeader(image);
        REQUIRE(crypt_persistent_flags_get(cd.get(), CRYPT_FLAGS_ACTIVATION, &flags) == 0);
    }
    CHECK((flags & CRYPT_ACTIVATE_SAME_CPU_CRYPT) != 0);
    CHECK((flags & (CRYPT_ACTIVATE_NO_READ_WORKQUEUE | CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE)) == 0);
    CHECK((flags & CRYPT_ACTIVATE_ALLOW_DISCARDS) != 0);
    CHECK(crypt.header(image).value().flags == engine::HeaderFlags{false, false, true});
}

TEST_CASE("LibCrypt refuses to store dm-crypt options where there is no LUKS2 header", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("blank.img", kImageSize);
    system::LibCrypt crypt;
    REQUIRE_THAT(crypt.setHeaderFlags(image, {true, true, false}), FailsWith(ErrorCode::NotLuks));
}

namespace {

// Counts what an erase reports, and asks it to stop past @stopAt bytes.
class CountingProgress final : public engine::Progress {
public:
    explicit CountingProgress(std::uint64_t stopAt = 0) : stopAt_(stopAt) {}
    void stage(std::string_view, double, double, std::chrono::milliseconds) override {}
    void bytes(std::uint64_t done, std::uint64_t total) override
    {
        ++reports;
        last = done;
        this->total = total;
    }
    void setCancellable(bool) override {}
    bool cancelRequested() const override { return stopAt_ != 0 && last >= stopAt_; }

    int reports = 0;
    std::uint64_t last = 0, total = 0;

private:
    std::uint64_t stopAt_;
};

// Fills @path with 0xff bytes, so that zeros show where an erase went.
void fill(const std::string& path, std::uint64_t size)
{
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f != nullptr);
    std::string block(1u << 20, '\xff');
    for (std::uint64_t at = 0; at < size; at += block.size())
        REQUIRE(std::fwrite(block.data(), 1, block.size(), f) == block.size());
    std::fclose(f);
}

// The offset of the first byte that is not zero, or @size when all are.
std::uint64_t zerosUpTo(const std::string& path, std::uint64_t size)
{
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE(f != nullptr);
    std::string block(1u << 20, '\0');
    std::uint64_t at = 0;
    while (at < size) {
        const std::size_t n = std::fread(block.data(), 1, block.size(), f);
        REQUIRE(n > 0);
        for (std::size_t i = 0; i < n; ++i) {
            if (block[i] != '\0') {
                std::fclose(f);
                return at + i;
            }
        }
        at += n;
    }
    std::fclose(f);
    return at;
}

}  // namespace

TEST_CASE("LibCrypt erases a whole device with zeros, telling its progress", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("erase.img", kImageSize);
    fill(image, kImageSize);
    system::LibCrypt crypt;
    CountingProgress progress;

    REQUIRE_THAT(crypt.erase(image, progress), Succeeds());

    CHECK(zerosUpTo(image, kImageSize) == kImageSize);
    CHECK(progress.total == kImageSize);
    CHECK(progress.last == kImageSize);
    CHECK(progress.reports >= 16);  // a report per 4 MiB block at least
}

TEST_CASE("LibCrypt stops an erase when asked and says it was cancelled", "[host]")
{
    TempDir dir;
    const std::string image = dir.image("erase.img", kImageSize);
    fill(image, kImageSize);
    system::LibCrypt crypt;
    CountingProgress progress(8u << 20);

    auto erased = crypt.erase(image, progress);

    REQUIRE_THAT(erased, FailsWith(ErrorCode::Cancelled));
    const std::uint64_t reached = zerosUpTo(image, kImageSize);
    CHECK(reached >= (8u << 20));
    CHECK(reached < kImageSize);
}
