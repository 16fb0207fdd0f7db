#include "system/mount_points.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "result_matchers.hpp"
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
