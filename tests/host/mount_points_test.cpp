#include "system/mount_points.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "result_matchers.hpp"
#include "system/unlock_records.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::Changed;
using engine::ErrorCode;
using testing::FailsWith;
using testing::Succeeds;
using testing::TempDir;
namespace fs = std::filesystem;

TEST_CASE("prepare creates a missing mount point and its parents", "[host]")
{
    TempDir dir;
    const std::string path = dir / "media/vault/data";
    system::DirMountPoints mountPoints;

    auto prepared = mountPoints.prepare(path);

    REQUIRE_THAT(prepared, Succeeds());
    CHECK(prepared.value() == Changed::Yes);
    CHECK(fs::is_directory(path));
    CHECK(fs::is_empty(path));
}

TEST_CASE("a private mount point and the parents made for it admit only their owner", "[host]")
{
    TempDir dir;
    const std::string path = dir / "run/vaultd/grow/data";
    ::umask(022);
    fs::create_directories(dir / "run");
    system::DirMountPoints mountPoints;

    REQUIRE_THAT(mountPoints.preparePrivate(path), Succeeds());

    for (const std::string& made : {dir / "run/vaultd", dir / "run/vaultd/grow", path}) {
        INFO(made);
        struct stat st {};
        REQUIRE(stat(made.c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0700);
    }
    struct stat existing {};
    REQUIRE(stat((dir / "run").c_str(), &existing) == 0);
    CHECK((existing.st_mode & 07777) == 0755);  // what was there stays as it was
}

TEST_CASE("prepare accepts an existing empty directory without changing it", "[host]")
{
    TempDir dir;
    const std::string path = dir / "secure";
    fs::create_directory(path);
    system::DirMountPoints mountPoints;

    auto prepared = mountPoints.prepare(path);

    REQUIRE_THAT(prepared, Succeeds());
    CHECK(prepared.value() == Changed::No);
}

TEST_CASE("prepare refuses a directory that is not empty", "[host]")
{
    TempDir dir;
    const std::string path = dir / "secure";
    fs::create_directory(path);
    std::ofstream(path + "/precious.txt") << "data\n";
    system::DirMountPoints mountPoints;

    auto prepared = mountPoints.prepare(path);

    REQUIRE_THAT(prepared, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(prepared.error().message, Catch::Contains("not empty"));
    CHECK(fs::exists(path + "/precious.txt"));
}

TEST_CASE("prepare refuses a path through a symbolic link and creates nothing there", "[host]")
{
    TempDir dir;
    fs::create_directory(dir / "target");
    fs::create_directory_symlink(dir / "target", dir / "link");
    system::DirMountPoints mountPoints;

    auto through = mountPoints.prepare(dir / "link/data");
    REQUIRE_THAT(through, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(through.error().message, Catch::Contains("symbolic link"));
    CHECK_FALSE(fs::exists(dir / "target/data"));

    CHECK_THAT(mountPoints.prepare(dir / "link"), FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("prepare refuses a path through a regular file", "[host]")
{
    TempDir dir;
    std::ofstream(dir / "file") << "x\n";
    system::DirMountPoints mountPoints;

    CHECK_THAT(mountPoints.prepare(dir / "file"), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(mountPoints.prepare(dir / "file/data"), FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("prepare refuses a directory something is mounted on", "[host]")
{
    system::DirMountPoints mountPoints;

    // /proc is always a mount point; prepare only looks, it creates nothing.
    CHECK_THAT(mountPoints.prepare("/proc"), FailsWith(ErrorCode::Busy));
}

TEST_CASE("remove deletes an empty mount point and keeps one with contents", "[host]")
{
    TempDir dir;
    fs::create_directory(dir / "empty");
    fs::create_directory(dir / "full");
    std::ofstream(dir / "full/precious.txt") << "data\n";
    system::DirMountPoints mountPoints;

    mountPoints.remove(dir / "empty");
    mountPoints.remove(dir / "full");
    mountPoints.remove(dir / "missing");

    CHECK_FALSE(fs::exists(dir / "empty"));
    CHECK(fs::exists(dir / "full/precious.txt"));
}

namespace {

uid_t ownerOf(const std::string& path)
{
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_uid;
}

}  // namespace

TEST_CASE("adopt gives a fresh root directory to the caller, once", "[host]")
{
    TempDir dir;
    const std::string root = dir / "fresh";
    fs::create_directories(root + "/lost+found");
    system::DirMountPoints mountPoints;

    auto adopted = mountPoints.adopt(root, 1000, 1000);

    REQUIRE_THAT(adopted, Succeeds());
    CHECK(adopted.value() == Changed::Yes);
    CHECK(ownerOf(root) == 1000);
    auto again = mountPoints.adopt(root, 2000, 2000);
    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value() == Changed::No);
    CHECK(ownerOf(root) == 1000);
}

TEST_CASE("adopt leaves a root directory that already holds files alone", "[host]")
{
    TempDir dir;
    const std::string root = dir / "used";
    fs::create_directories(root);
    std::ofstream(root + "/notes.txt") << "mine";
    system::DirMountPoints mountPoints;

    auto adopted = mountPoints.adopt(root, 1000, 1000);

    REQUIRE_THAT(adopted, Succeeds());
    CHECK(adopted.value() == Changed::No);
    CHECK(ownerOf(root) == 0);
}

TEST_CASE("unlock records survive a new reader and are forgotten on request", "[host]")
{
    TempDir dir;
    const std::string uuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
    system::RunDirUnlockRecords(dir / "unlocked").record("original", uuid, 1000);
    // A copy of the volume (same UUID) unlocked under another name by another user.
    system::RunDirUnlockRecords(dir / "unlocked").record("copy", uuid, 1001);

    // A restarted daemon is a new object over the same directory.
    system::RunDirUnlockRecords restarted(dir / "unlocked");
    CHECK(restarted.find("original", uuid) == std::optional<uid_t>(1000));
    CHECK(restarted.find("copy", uuid) == std::optional<uid_t>(1001));
    // A mapping of that name over another volume is not the one recorded.
    CHECK_FALSE(restarted.find("original", "11111111-2222-3333-4444-555555555555").has_value());
    CHECK_FALSE(restarted.find("../../etc/passwd", uuid).has_value());
    CHECK_FALSE(restarted.find(".", uuid).has_value());
    restarted.forget("copy");
    CHECK_FALSE(restarted.find("copy", uuid).has_value());
    CHECK(restarted.find("original", uuid) == std::optional<uid_t>(1000));
}
