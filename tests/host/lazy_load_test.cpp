// libcryptsetup and libpwquality loaded on first use (system/lazy_library.hpp),
// for real: this executable links neither, so each is mapped only when a
// LibCrypt or PwQuality call loads it; and sonames that cannot be loaded, or
// name a library without the functions, fail the call that needed them.
// Keep anything that loads libcryptsetup or libpwquality by other means out
// of this file: the first two tests look at what the process has mapped.
#include <dlfcn.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "engine/progress.hpp"
#include "quick_params.hpp"
#include "result_matchers.hpp"
#include "secret.hpp"
#include "system/crypt.hpp"
#include "system/passphrase_quality.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::quickParams;
using testing::secret;
using testing::Succeeds;
using testing::TempDir;

namespace {

constexpr std::uint64_t kImageSize = 32ull << 20;
const std::string kPassphrase = "correct horse battery staple";
const std::string kAbsent = "libvaultd-absent.so.0";

// Whether @soname is mapped into this process (RTLD_NOLOAD opens nothing).
bool mapped(const char* soname)
{
    void* handle = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return false;
    dlclose(handle);
    return true;
}

}  // namespace

TEST_CASE("libcryptsetup is mapped by the first LibCrypt call, and works as if linked",
          "[host][lazy]")
{
    TempDir dir;
    const std::string image = dir.image("disk.img", kImageSize);
    REQUIRE_FALSE(mapped(system::LibCrypt::kLibrary));

    system::LibCrypt crypt;
    CHECK_FALSE(mapped(system::LibCrypt::kLibrary));
    REQUIRE_THAT(crypt.format(image, quickParams(), secret(kPassphrase), ""), Succeeds());

    CHECK(mapped(system::LibCrypt::kLibrary));
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    CHECK(header.value().version == 2);
    REQUIRE(header.value().keyslots.size() == 1);
    CHECK(header.value().keyslots[0].pbkdf == "pbkdf2");
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), -1), Succeeds());
    CHECK_THAT(crypt.activate(image, "", secret("not the passphrase"), -1),
               FailsWith(ErrorCode::WrongPassphrase));
}

TEST_CASE("libpwquality is mapped by the first check, and judges as if linked", "[host][lazy]")
{
    REQUIRE_FALSE(mapped(system::PwQuality::kLibrary));

    system::PwQuality quality;
    CHECK_FALSE(mapped(system::PwQuality::kLibrary));
    CHECK_THAT(quality.check(secret(kPassphrase)), Succeeds());

    CHECK(mapped(system::PwQuality::kLibrary));
    CHECK_THAT(quality.check(secret("password1")), FailsWith(ErrorCode::WeakPassphrase));
}

TEST_CASE("every LibCrypt call fails, naming the library, when libcryptsetup cannot be loaded",
          "[host][lazy]")
{
    TempDir dir;
    const std::string image = dir.image("disk.img", kImageSize);
    system::LibCrypt crypt(kAbsent);

    std::vector<engine::Status> statuses;
    statuses.push_back(crypt.format(image, quickParams(), secret(kPassphrase), ""));
    statuses.push_back(crypt.deactivate("vaultd-lazy", engine::Crypt::Deactivate::Normal));
    statuses.push_back(crypt.erase(image, engine::Progress::none()));
    statuses.push_back(crypt.repairHeader(image));
    auto header = crypt.header(image);
    auto opened = crypt.activate(image, "", secret(kPassphrase), -1);
    auto mapping = crypt.mapping("vaultd-lazy");

    for (const auto& st : statuses) {
        REQUIRE_THAT(st, FailsWith(ErrorCode::Failed));
        CHECK_THAT(st.error().message, Catch::StartsWith("failed to load '" + kAbsent + "': "));
    }
    REQUIRE_THAT(header, FailsWith(ErrorCode::Failed));
    CHECK_THAT(header.error().message, Catch::Contains(kAbsent));
    REQUIRE_THAT(opened, FailsWith(ErrorCode::Failed));
    CHECK_THAT(opened.error().message, Catch::Contains(kAbsent));
    REQUIRE_THAT(mapping, FailsWith(ErrorCode::Failed));
    CHECK_THAT(mapping.error().message, Catch::Contains(kAbsent));
    CHECK_FALSE(crypt.mappingExists("vaultd-lazy"));
}

TEST_CASE("a library without libcryptsetup's functions is refused, naming the one it lacks",
          "[host][lazy]")
{
    TempDir dir;
    const std::string image = dir.image("disk.img", kImageSize);
    // Loadable, and certainly without crypt_*.
    system::LibCrypt crypt("libc.so.6");

    for (int attempt = 0; attempt < 2; ++attempt) {
        auto header = crypt.header(image);
        REQUIRE_THAT(header, FailsWith(ErrorCode::Failed));
        CHECK_THAT(header.error().message, Catch::StartsWith("failed to load 'libc.so.6': "));
        CHECK_THAT(header.error().message, Catch::Contains("crypt_"));
    }
}

TEST_CASE("a check fails, naming the library, when libpwquality cannot be loaded", "[host][lazy]")
{
    system::PwQuality quality(kAbsent);

    for (int attempt = 0; attempt < 2; ++attempt) {
        auto checked = quality.check(secret(kPassphrase));
        REQUIRE_THAT(checked, FailsWith(ErrorCode::Failed));
        CHECK_THAT(checked.error().message,
                   Catch::StartsWith("failed to load '" + kAbsent + "': "));
    }
}

TEST_CASE("threads that make the first LibCrypt calls together all get the library", "[host][lazy]")
{
    TempDir dir;
    const std::string image = dir.image("disk.img", kImageSize);
    REQUIRE_THAT(system::LibCrypt().format(image, quickParams(), secret(kPassphrase), ""),
                 Succeeds());
    // A new LibCrypt loads anew, whatever the process has mapped already.
    system::LibCrypt crypt;
    constexpr int kThreads = 8;
    std::latch start(kThreads);
    std::atomic<int> read{0};

    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&] {
            start.arrive_and_wait();
            if (auto header = crypt.header(image); header && header.value().version == 2)
                ++read;
        });
    for (auto& t : threads)
        t.join();

    CHECK(read == kThreads);
}
