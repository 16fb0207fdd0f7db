#include "engine/filesystem.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace vaultd::engine;

TEST_CASE("the three filesystem names parse and print back the same", "[unit]")
{
    for (const char* name : {"ext4", "xfs", "btrfs"}) {
        INFO(name);
        auto fs = parseFilesystem(name);
        REQUIRE(fs.has_value());
        CHECK(filesystemName(*fs) == name);
    }
}

TEST_CASE("filesystem names are exact and case sensitive", "[unit]")
{
    CHECK_FALSE(parseFilesystem("").has_value());
    CHECK_FALSE(parseFilesystem("EXT4").has_value());
    CHECK_FALSE(parseFilesystem("ext3").has_value());
    CHECK_FALSE(parseFilesystem("ext4 ").has_value());
    CHECK_FALSE(parseFilesystem("vfat").has_value());
}
