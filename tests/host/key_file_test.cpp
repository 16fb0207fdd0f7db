// readKeyFile: a configured volume's key file is read only when it is root's
// alone; anything another user could read or swap is refused unread. Runs
// as root, like the rest of the host tier.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "result_matchers.hpp"
#include "system/secret_reader.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::Succeeds;
using testing::TempDir;

namespace {

std::string keyFile(const TempDir& dir, const std::string& name, const std::string& bytes,
                    mode_t mode)
{
    const std::string path = dir / name;
    std::ofstream(path, std::ios::binary) << bytes;
    REQUIRE(chmod(path.c_str(), mode) == 0);
    return path;
}

}  // namespace

TEST_CASE("a key file only root may read is read byte for byte", "[host]")
{
    TempDir dir;
    const std::string bytes("key\0with a NUL\n", 15);
    const std::string path = keyFile(dir, "data.key", bytes, 0600);

    engine::SecretBuffer key;
    REQUIRE_THAT(system::readKeyFile(path, key), Succeeds());
    CHECK(std::string(key.data(), key.size()) == bytes);

    engine::SecretBuffer readOnly;
    CHECK_THAT(system::readKeyFile(keyFile(dir, "ro.key", "k", 0400), readOnly), Succeeds());
}

TEST_CASE("a key file others may read, or a link, is refused unread", "[host]")
{
    TempDir dir;
    engine::SecretBuffer key;

    auto open = system::readKeyFile(keyFile(dir, "open.key", "secret", 0644), key);
    REQUIRE_THAT(open, FailsWith(ErrorCode::Failed));
    CHECK_THAT(open.error().message, Catch::Contains("readable by root alone"));
    CHECK_THAT(open.error().message, Catch::Contains("0644"));
    CHECK(key.empty());

    CHECK_THAT(system::readKeyFile(keyFile(dir, "group.key", "secret", 0640), key),
               FailsWith(ErrorCode::Failed));

    const std::string target = keyFile(dir, "target.key", "secret", 0600);
    std::filesystem::create_symlink(target, dir / "link.key");
    CHECK_THAT(system::readKeyFile(dir / "link.key", key), FailsWith(ErrorCode::Failed));

    std::filesystem::create_directory(dir / "dir.key");
    CHECK_THAT(system::readKeyFile(dir / "dir.key", key), FailsWith(ErrorCode::Failed));
    CHECK_THAT(system::readKeyFile(dir / "missing.key", key), FailsWith(ErrorCode::Failed));
    CHECK(key.empty());
}

TEST_CASE("a key file owned by another user is refused", "[host]")
{
    TempDir dir;
    const std::string path = keyFile(dir, "theirs.key", "secret", 0600);
    REQUIRE(chown(path.c_str(), 65534, 65534) == 0);
    engine::SecretBuffer key;
    auto r = system::readKeyFile(path, key);
    REQUIRE_THAT(r, FailsWith(ErrorCode::Failed));
    CHECK_THAT(r.error().message, Catch::Contains("owner 65534"));
}
