#include "secret_buffer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

using vaultctl::SecretBuffer;

namespace {

void fill(SecretBuffer& buffer, std::string_view text)
{
    std::span<std::byte> room = buffer.unused();
    REQUIRE(room.size() >= text.size());
    std::memcpy(room.data(), text.data(), text.size());
    buffer.commit(text.size());
}

bool allZero(std::span<const std::byte> bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

TEST_CASE("a new client secret buffer is empty with its whole capacity free", "[unit]")
{
    SecretBuffer buffer;
    CHECK(buffer.empty());
    CHECK(buffer.unused().size() == SecretBuffer::capacity);
    CHECK(SecretBuffer::capacity == 65536);
}

TEST_CASE("committed bytes become the secret", "[unit]")
{
    SecretBuffer buffer;
    fill(buffer, "hunter2");
    REQUIRE(buffer.size() == 7);
    CHECK(std::memcmp(buffer.bytes().data(), "hunter2", 7) == 0);
    CHECK(buffer.unused().size() == SecretBuffer::capacity - 7);
}

TEST_CASE("reset wipes every byte that was written", "[unit]")
{
    SecretBuffer buffer;
    fill(buffer, "correct horse battery staple");
    buffer.reset();

    CHECK(buffer.empty());
    REQUIRE(buffer.unused().size() == SecretBuffer::capacity);
    CHECK(allZero(buffer.unused()));
}

TEST_CASE("reset wipes the whole capacity, not just the current secret", "[unit]")
{
    SecretBuffer buffer;
    std::span<std::byte> room = buffer.unused();
    std::fill(room.begin(), room.end(), std::byte{0xAA});
    buffer.commit(3);  // a short secret in front of bytes a longer one left behind
    buffer.reset();

    CHECK(allZero(buffer.unused()));
}

TEST_CASE("dropping the last byte wipes it", "[unit]")
{
    SecretBuffer buffer;
    fill(buffer, "pass\n");
    buffer.dropLast();
    REQUIRE(buffer.size() == 4);
    CHECK(buffer.unused()[0] == std::byte{0});
}

TEST_CASE("moving a client secret buffer leaves the source empty", "[unit]")
{
    SecretBuffer source;
    fill(source, "secret");
    SecretBuffer target = std::move(source);

    CHECK(target.size() == 6);
    CHECK(source.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    CHECK(source.unused().empty());

    SecretBuffer other;
    other = std::move(target);
    CHECK(other.size() == 6);
    CHECK(std::memcmp(other.bytes().data(), "secret", 6) == 0);
}

TEST_CASE("client secret buffers compare by their bytes", "[unit]")
{
    SecretBuffer a;
    SecretBuffer b;
    fill(a, "same");
    fill(b, "same");
    CHECK(a.sameBytes(b));
    fill(b, "!");
    CHECK_FALSE(a.sameBytes(b));
    CHECK(SecretBuffer().sameBytes(SecretBuffer()));
}
