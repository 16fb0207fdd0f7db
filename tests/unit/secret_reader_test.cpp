#include "system/secret_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "result_matchers.hpp"
#include "system/unique_fd.hpp"

using namespace std::chrono_literals;
using vaultd::engine::ErrorCode;
using vaultd::engine::SecretBuffer;
using vaultd::system::readSecret;
using vaultd::system::UniqueFd;
using vaultd::testing::FailsWith;
using vaultd::testing::Succeeds;

namespace {

struct Pipe {
    UniqueFd readEnd;
    UniqueFd writeEnd;
};

Pipe makePipe()
{
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A pipe that already holds @content and whose writer is closed, as a
// client leaves it. @content must fit the pipe buffer (64 KiB by default).
UniqueFd filledPipe(std::string_view content)
{
    Pipe p = makePipe();
    REQUIRE(write(p.writeEnd.get(), content.data(), content.size()) ==
            static_cast<ssize_t>(content.size()));
    return std::move(p.readEnd);
}

std::string_view contents(const SecretBuffer& buffer)
{
    return {buffer.data(), buffer.size()};
}

}  // namespace

TEST_CASE("a secret is read from a pipe as its exact bytes", "[unit]")
{
    const std::string secret("pass\0word\n", 10);
    UniqueFd fd = filledPipe(secret);
    SecretBuffer buffer;

    REQUIRE_THAT(readSecret(fd.get(), buffer, 1000ms), Succeeds());
    CHECK(buffer.size() == 10);
    CHECK(contents(buffer) == secret);
}

TEST_CASE("a secret of exactly the cap is accepted", "[unit]")
{
    const std::string secret(4096, 's');
    UniqueFd fd = filledPipe(secret);
    SecretBuffer buffer(4096);

    REQUIRE_THAT(readSecret(fd.get(), buffer, 1000ms), Succeeds());
    CHECK(contents(buffer) == secret);
}

TEST_CASE("a secret one byte over the cap is refused and nothing kept", "[unit]")
{
    UniqueFd fd = filledPipe(std::string(4097, 's'));
    SecretBuffer buffer(4096);

    auto read = readSecret(fd.get(), buffer, 1000ms);
    REQUIRE_THAT(read, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(read.error().message, Catch::Contains("longer than 4096 bytes"));
    CHECK(buffer.empty());
    CHECK(buffer.data()[0] == '\0');
}

TEST_CASE("an empty pipe gives an empty secret", "[unit]")
{
    UniqueFd fd = filledPipe("");
    SecretBuffer buffer;

    REQUIRE_THAT(readSecret(fd.get(), buffer, 1000ms), Succeeds());
    CHECK(buffer.size() == 0);
}

TEST_CASE("reading a secret replaces what the buffer held", "[unit]")
{
    UniqueFd fd = filledPipe("new");
    SecretBuffer buffer(64);
    std::string_view old = "old secret";
    std::copy(old.begin(), old.end(), buffer.spare().begin());
    buffer.commit(old.size());

    REQUIRE_THAT(readSecret(fd.get(), buffer, 1000ms), Succeeds());
    CHECK(contents(buffer) == "new");
}

TEST_CASE("a pipe whose writer never closes times out at the deadline", "[unit]")
{
    Pipe p = makePipe();
    REQUIRE(write(p.writeEnd.get(), "partial", 7) == 7);
    SecretBuffer buffer;

    const auto start = std::chrono::steady_clock::now();
    auto read = readSecret(p.readEnd.get(), buffer, 200ms);
    const auto waited = std::chrono::steady_clock::now() - start;

    REQUIRE_THAT(read, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(read.error().message, Catch::Contains("timed out"));
    CHECK(buffer.empty());
    // poll() rounds the deadline to whole milliseconds, so allow a little slack.
    CHECK(waited >= 190ms);
    CHECK(waited < 5s);
}

TEST_CASE("a descriptor open only for writing is refused with the cause", "[unit]")
{
    UniqueFd fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    REQUIRE(fd);
    SecretBuffer buffer;

    auto read = readSecret(fd.get(), buffer, 1000ms);
    REQUIRE_THAT(read, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(read.error().message, Catch::Contains("cannot read the passphrase"));
}
