#include "system/spawn.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "result_matchers.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::Succeeds;
using testing::TempDir;

TEST_CASE("a failing tool's exit status and output are captured", "[host]")
{
    TempDir dir;
    const std::string missing = dir / "no-such-dir/disk.img";

    auto run = system::runTool("mkfs.ext4", {"-q", "-F", missing});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus != 0);
    CHECK(run.value().exitStatus != -1);
    CHECK_THAT(run.value().output, Catch::Contains(missing));
}

TEST_CASE("a tool that is not installed is a failure saying so", "[host]")
{
    auto run = system::runTool("vaultd-no-such-tool", {});

    REQUIRE_THAT(run, FailsWith(ErrorCode::Failed));
    CHECK(run.error().message == "'vaultd-no-such-tool' is not installed");
}

TEST_CASE("a tool is found by name, not by an absolute path", "[host]")
{
    CHECK_THAT(system::runTool("/bin/true", {}), FailsWith(ErrorCode::Failed));
    auto run = system::runTool("true", {});
    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
}

// TODO: findTool in spawn.cpp appends the name to each directory as given, so
// "../bin/true" resolves to /usr/bin/true and "../../tmp/x" to /tmp/x. Hidden
// until names with a slash are refused.
TEST_CASE("a tool name with a slash cannot climb out of the system directories", "[host]")
{
    CHECK_THAT(system::runTool("../bin/true", {}), FailsWith(ErrorCode::Failed));
}

TEST_CASE("arguments reach the tool verbatim, without a shell", "[host]")
{
    auto run = system::runTool("printf", {"%s|", "two words", "$HOME", "; true", "*", ""});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
    CHECK(run.value().output == "two words|$HOME|; true|*||");
}

TEST_CASE("a tool runs with a minimal environment", "[host]")
{
    auto run = system::runTool("env", {});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().output == "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n");
}

TEST_CASE("a tool reads end of file on standard input instead of waiting", "[host]")
{
    auto run = system::runTool("cat", {});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
    CHECK(run.value().output.empty());
}

TEST_CASE("standard error is captured with standard output", "[host]")
{
    auto run = system::runTool("sh", {"-c", "echo out; echo err >&2; exit 3"});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 3);
    CHECK(run.value().output == "out\nerr\n");
}

TEST_CASE("a tool killed by a signal has exit status -1", "[host]")
{
    auto run = system::runTool("sh", {"-c", "kill -9 $$"});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == -1);
}

TEST_CASE("a tool's output is capped but the tool still runs to its end", "[host]")
{
    auto run = system::runTool("head", {"-c", "1000000", "/dev/zero"});

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
    CHECK(run.value().output.size() == 16384);
}

TEST_CASE("a key helper reads its input from a sealed file and writes its output to a secret",
          "[host]")
{
    engine::SecretBuffer out;
    auto run = system::runKeyHelper("cat", {}, "the jwe.and.its.five.parts", out,
                                    std::chrono::seconds(10));

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
    CHECK(std::string(out.data(), out.size()) == "the jwe.and.its.five.parts");
}

TEST_CASE("a key helper's input is no terminal and cannot be written", "[host]")
{
    engine::SecretBuffer out;
    // stdin is not a terminal, and writing to it (opened read-only and
    // sealed) fails.
    auto run =
        system::runKeyHelper("sh", {"-c", "test ! -t 0 && ! (echo x >&0) 2>/dev/null && echo ok"},
                             "input", out, std::chrono::seconds(10));

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 0);
    CHECK(std::string(out.data(), out.size()) == "ok\n");
}

TEST_CASE("a failing key helper's stderr is kept and its output wiped", "[host]")
{
    engine::SecretBuffer out;
    auto run = system::runKeyHelper(
        "sh", {"-c", "echo half-a-key; echo 'Error communicating with server' >&2; exit 3"}, "",
        out, std::chrono::seconds(10));

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().exitStatus == 3);
    CHECK_FALSE(run.value().timedOut);
    CHECK(run.value().errors == "Error communicating with server\n");
    CHECK(out.empty());
}

TEST_CASE("a key helper that takes too long is killed with what it started", "[host]")
{
    engine::SecretBuffer out;
    const auto started = std::chrono::steady_clock::now();
    auto run = system::runKeyHelper("sh", {"-c", "sleep 30 & sleep 30; wait"}, "", out,
                                    std::chrono::milliseconds(300));

    REQUIRE_THAT(run, Succeeds());
    CHECK(run.value().timedOut);
    CHECK(run.value().exitStatus == -1);
    // The backgrounded sleep held the pipes open too: it went with the group.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}
