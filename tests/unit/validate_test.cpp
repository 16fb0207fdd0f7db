#include "engine/validate.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "result_matchers.hpp"

using namespace vaultd::engine;
using vaultd::testing::FailsWith;
using vaultd::testing::Succeeds;

TEST_CASE("an empty mapping name is refused", "[unit]")
{
    CHECK_THAT(checkMappingName(""), FailsWith(ErrorCode::InvalidName));
}

TEST_CASE("the mapping names '.' and '..' are refused", "[unit]")
{
    CHECK_THAT(checkMappingName("."), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName(".."), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName("..."), Succeeds());
}

TEST_CASE("a mapping name may be 127 bytes long but not 128", "[unit]")
{
    CHECK_THAT(checkMappingName(std::string(127, 'a')), Succeeds());

    Status tooLong = checkMappingName(std::string(128, 'a'));
    CHECK_THAT(tooLong, FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(tooLong.error().message, Catch::Contains("128") && Catch::Contains("127"));
}

TEST_CASE("a mapping name may hold letters, digits and each of -_.+=,@%", "[unit]")
{
    CHECK_THAT(checkMappingName("Data01"), Succeeds());
    for (char c : std::string("-_.+=,@%")) {
        const std::string name = std::string("vault") + c + "x";
        INFO(name);
        CHECK_THAT(checkMappingName(name), Succeeds());
    }
}

TEST_CASE("a mapping name with a slash, a space or non-ASCII bytes is refused", "[unit]")
{
    CHECK_THAT(checkMappingName("a/b"), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName("../x"), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName("my data"), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName("d\xc3\xa4ta"), FailsWith(ErrorCode::InvalidName));
    CHECK_THAT(checkMappingName("tab\tname"), FailsWith(ErrorCode::InvalidName));
}

TEST_CASE("a relative or empty mount point is refused", "[unit]")
{
    CHECK_THAT(checkMountPoint(""), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("mnt/x"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("./x"), FailsWith(ErrorCode::InvalidMountPoint));
}

TEST_CASE("the root directory is never a mount point", "[unit]")
{
    CHECK_THAT(checkMountPoint("/"), FailsWith(ErrorCode::InvalidMountPoint));
}

TEST_CASE("a mount point must be normalised", "[unit]")
{
    CHECK_THAT(checkMountPoint("/mnt/x/"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("//mnt"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/mnt//x"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/a/./b"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/a/../b"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/mnt/.."), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/mnt/..x"), Succeeds());
}

TEST_CASE("a mount point with a control character is refused", "[unit]")
{
    CHECK_THAT(checkMountPoint("/mnt/a\nb"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/mnt/a\tb"), FailsWith(ErrorCode::InvalidMountPoint));
    CHECK_THAT(checkMountPoint("/mnt/a\x7f"), FailsWith(ErrorCode::InvalidMountPoint));
}

TEST_CASE("a mount point longer than PATH_MAX is refused", "[unit]")
{
    const std::string component = "/" + std::string(254, 'a');
    std::string path;
    while (path.size() + component.size() <= kMaxPathLength)
        path += component;
    CHECK_THAT(checkMountPoint(path), Succeeds());
    path += std::string(kMaxPathLength + 1 - path.size(), 'b');
    CHECK_THAT(checkMountPoint(path), FailsWith(ErrorCode::InvalidMountPoint));
}

TEST_CASE("no mount point may be a system directory or inside one", "[unit]")
{
    for (std::string tree : {"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
                             "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var"}) {
        INFO(tree);
        CHECK_THAT(checkMountPoint(tree), FailsWith(ErrorCode::InvalidMountPoint));
        CHECK_THAT(checkMountPoint(tree + "/x"), FailsWith(ErrorCode::InvalidMountPoint));
    }
    Status inEtc = checkMountPoint("/etc/x");
    REQUIRE_FALSE(inEtc.ok());
    CHECK(inEtc.error().message ==
          "invalid mount point '/etc/x': it is inside the system "
          "directory '/etc'");
}

TEST_CASE("a directory that only shares a prefix with a system tree is allowed", "[unit]")
{
    CHECK_THAT(checkMountPoint("/etcetera"), Succeeds());
    CHECK_THAT(checkMountPoint("/usr2/x"), Succeeds());
    CHECK_THAT(checkMountPoint("/variable"), Succeeds());
}

TEST_CASE("mount points outside the system trees are allowed", "[unit]")
{
    for (const char* path : {"/secure", "/mnt/x", "/media/vault/x", "/home/u/s", "/srv/data",
                             "/opt/app/data", "/data"}) {
        INFO(path);
        CHECK_THAT(checkMountPoint(path), Succeeds());
    }
}

TEST_CASE("labels may fill each filesystem's limit but not exceed it", "[unit]")
{
    CHECK_THAT(checkLabel(std::string(16, 'e'), Filesystem::Ext4), Succeeds());
    CHECK_THAT(checkLabel(std::string(17, 'e'), Filesystem::Ext4),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(checkLabel(std::string(12, 'x'), Filesystem::Xfs), Succeeds());
    CHECK_THAT(checkLabel(std::string(13, 'x'), Filesystem::Xfs),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(checkLabel(std::string(255, 'b'), Filesystem::Btrfs), Succeeds());
    CHECK_THAT(checkLabel(std::string(256, 'b'), Filesystem::Btrfs),
               FailsWith(ErrorCode::InvalidArgument));

    Status xfs = checkLabel("thirteen-long", Filesystem::Xfs);
    REQUIRE_FALSE(xfs.ok());
    CHECK_THAT(xfs.error().message, Catch::Contains("xfs") && Catch::Contains("12"));
}

TEST_CASE("an empty label is allowed", "[unit]")
{
    CHECK_THAT(checkLabel("", Filesystem::Ext4), Succeeds());
}

TEST_CASE("labels with quotes, backslashes, control or non-ASCII bytes are refused", "[unit]")
{
    CHECK_THAT(checkLabel("my data-1", Filesystem::Ext4), Succeeds());
    for (const char* label : {"a\"b", "a'b", "a\\b", "a\nb", "a\x7f", "d\xc3\xa4ta"}) {
        INFO(label);
        CHECK_THAT(checkLabel(label, Filesystem::Btrfs), FailsWith(ErrorCode::InvalidArgument));
    }
}

TEST_CASE("the force token is the device node and its size in bytes", "[unit]")
{
    CHECK(forceToken("/dev/vdb", 1073741824) == "/dev/vdb:1073741824");
}

TEST_CASE("the default mount point is the mapping name under the base", "[unit]")
{
    CHECK(defaultMountPoint("/media/vault", "data") == "/media/vault/data");
}
