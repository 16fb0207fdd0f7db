#include "engine/secret_buffer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

using vaultd::engine::SecretBuffer;

namespace {

void append(SecretBuffer& buffer, std::string_view text)
{
    std::span<char> room = buffer.spare();
    REQUIRE(room.size() >= text.size());
    std::memcpy(room.data(), text.data(), text.size());
    buffer.commit(text.size());
}

std::string_view contents(const SecretBuffer& buffer)
{
    return {buffer.data(), buffer.size()};
}

}  // namespace

TEST_CASE("an engine secret buffer starts empty with its whole cap spare", "[unit]")
{
    SecretBuffer standard;
    CHECK(standard.capacity() == SecretBuffer::kDefaultCap);
    CHECK(standard.empty());
    CHECK(standard.spare().size() == SecretBuffer::kDefaultCap);

    SecretBuffer small(32);
    CHECK(small.capacity() == 32);
    CHECK(small.spare().size() == 32);
}

TEST_CASE("an engine secret buffer grows by what is committed into its spare room", "[unit]")
{
    SecretBuffer buffer(32);
    append(buffer, "correct ");
    append(buffer, "horse");

    CHECK(contents(buffer) == "correct horse");
    CHECK(buffer.spare().size() == 32 - 13);
    CHECK(buffer.spare().data() == buffer.data() + 13);
}

TEST_CASE("an engine secret buffer takes exactly its cap", "[unit]")
{
    SecretBuffer buffer(16);
    append(buffer, std::string(16, 'k'));

    CHECK(buffer.size() == 16);
    CHECK(buffer.spare().empty());
}

TEST_CASE("committing past the cap throws and keeps what was there", "[unit]")
{
    SecretBuffer buffer(8);
    append(buffer, "12345");

    CHECK_THROWS_AS(buffer.commit(4), std::length_error);
    CHECK(contents(buffer) == "12345");
    CHECK_NOTHROW(buffer.commit(3));
    CHECK(buffer.size() == 8);
}

TEST_CASE("wiping an engine secret buffer zeroes its whole capacity", "[unit]")
{
    SecretBuffer buffer(4096);
    std::span<char> room = buffer.spare();
    std::fill(room.begin(), room.end(), '\xAA');
    buffer.commit(10);  // the rest was written too, only not committed

    buffer.wipe();

    CHECK(buffer.empty());
    CHECK(buffer.capacity() == 4096);
    // The mapping stays allocated after a wipe, so all of it can be read.
    const char* bytes = buffer.data();
    CHECK(std::all_of(bytes, bytes + 4096, [](char c) { return c == '\0'; }));
}

TEST_CASE("moving an engine secret buffer leaves the source empty", "[unit]")
{
    SecretBuffer source(64);
    append(source, "hunter2");
    const char* storage = source.data();

    SecretBuffer target(std::move(source));
    CHECK(contents(target) == "hunter2");
    CHECK(target.data() == storage);
    CHECK(target.capacity() == 64);
    // Reading the moved-from buffer is the point here.
    CHECK(source.empty());
    CHECK(source.capacity() == 0);
    CHECK(source.data() == nullptr);
    CHECK(source.spare().empty());
}

TEST_CASE("move-assigning an engine secret buffer takes over the other's secret", "[unit]")
{
    SecretBuffer source(64);
    append(source, "new");
    SecretBuffer target(128);
    append(target, "old secret");

    target = std::move(source);

    CHECK(contents(target) == "new");
    CHECK(target.capacity() == 64);
    CHECK(source.empty());
    CHECK(source.capacity() == 0);
}
