#include "config.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "result_matchers.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::Succeeds;

namespace {

engine::Result<engine::EngineConfig> parse(const std::string& text)
{
    return parseConfig(text, "test.conf");
}

// The message of a configuration that must be refused; empty if it was not.
std::string refusal(const std::string& text)
{
    auto parsed = parse(text);
    CHECK_THAT(parsed, FailsWith(ErrorCode::InvalidArgument));
    if (parsed.ok())
        return {};
    CHECK_THAT(parsed.error().message, Catch::StartsWith("test.conf: "));
    return parsed.error().message;
}

void requireDefaults(const engine::EngineConfig& c)
{
    CHECK_FALSE(c.allowLoop);
    CHECK(c.mountBase == "/media/vault");
    CHECK(c.mountOptions == "nodev,nosuid");
    CHECK(c.mountRoots == std::vector<std::string>{"/secure", "/mnt", "/media"});
    CHECK(c.pbkdf.type == "argon2id");
    CHECK(c.pbkdf.hash == "sha256");
    CHECK(c.pbkdf.timeMs == 2000);
    CHECK(c.pbkdf.iterations == 0);
    CHECK(c.pbkdf.memoryKib == 1048576);
    CHECK(c.pbkdf.parallel == 4);
    CHECK(c.identity.ebsModels == std::vector<std::string>{"Amazon Elastic Block Store"});
    CHECK(c.identity.instanceStoreModels ==
          std::vector<std::string>{"Amazon EC2 NVMe Instance Storage"});
    CHECK_FALSE(c.autoGrow.all);
    CHECK(c.autoGrow.volumes.empty());
}

}  // namespace

TEST_CASE("an empty configuration gives the defaults", "[unit]")
{
    auto parsed = parse("");
    REQUIRE_THAT(parsed, Succeeds());
    requireDefaults(parsed.value());
}

TEST_CASE("the shipped vaultd.conf spells out exactly the defaults", "[unit]")
{
    auto loaded = loadConfig(VAULTD_SOURCE_ROOT "/systemd/vaultd.conf", true);
    REQUIRE_THAT(loaded, Succeeds());
    requireDefaults(loaded.value());
}

TEST_CASE("a missing file at the default path means the defaults", "[unit]")
{
    auto loaded = loadConfig("/nonexistent/vaultd.conf", false);
    REQUIRE_THAT(loaded, Succeeds());
    requireDefaults(loaded.value());
}

TEST_CASE("a missing file given explicitly is an error naming it", "[unit]")
{
    auto loaded = loadConfig("/nonexistent/vaultd.conf", true);
    REQUIRE_THAT(loaded, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(loaded.error().message, Catch::Contains("'/nonexistent/vaultd.conf'"));
}

TEST_CASE("every setting is read from its table", "[unit]")
{
    auto parsed = parse(R"(
[devices]
allow-loop = true
ebs-models = ["Amazon Elastic Block Store", "QEMU NVMe Ctrl"]
instance-store-models = []

[grow]
automatic = true
volumes = ["vol-0123456789abcdef0", "secure"]

[mount]
base = "/srv/vaults"
roots = ["/srv", "/data"]
options = "nodev,nosuid,noexec"

[pbkdf]
type = "pbkdf2"
hash = "sha512"
time-ms = 500
iterations = 200000
memory-kib = 65536
parallel = 2
)");
    REQUIRE_THAT(parsed, Succeeds());
    const engine::EngineConfig& c = parsed.value();
    CHECK(c.allowLoop);
    CHECK(c.mountRoots == std::vector<std::string>{"/srv", "/data"});
    CHECK(c.mountBase == "/srv/vaults");
    CHECK(c.mountOptions == "nodev,nosuid,noexec");
    CHECK(c.pbkdf.type == "pbkdf2");
    CHECK(c.pbkdf.hash == "sha512");
    CHECK(c.pbkdf.timeMs == 500);
    CHECK(c.pbkdf.iterations == 200000);
    CHECK(c.pbkdf.memoryKib == 65536);
    CHECK(c.pbkdf.parallel == 2);
    CHECK(c.identity.ebsModels ==
          std::vector<std::string>{"Amazon Elastic Block Store", "QEMU NVMe Ctrl"});
    CHECK(c.identity.instanceStoreModels.empty());
    CHECK(c.autoGrow.all);
    CHECK(c.autoGrow.volumes == std::vector<std::string>{"vol-0123456789abcdef0", "secure"});
}

TEST_CASE("automatic growth is a switch and a list of volumes", "[unit]")
{
    CHECK_THAT(refusal("[grow]\nautomatic = \"yes\"\n"),
               Catch::Contains("'grow.automatic' has the wrong type"));
    CHECK_THAT(refusal("[grow]\nvolumes = \"secure\"\n"),
               Catch::Contains("'grow.volumes' must be a list"));
    CHECK_THAT(refusal("[grow]\nvolumes = [\"\"]\n"), Catch::Contains("1 to 128 bytes"));
}

TEST_CASE("device models must be a list of short strings", "[unit]")
{
    CHECK_THAT(refusal("[devices]\nebs-models = \"Amazon Elastic Block Store\"\n"),
               Catch::Contains("'devices.ebs-models' must be a list"));
    CHECK_THAT(refusal("[devices]\nebs-models = [1]\n"),
               Catch::Contains("device models of 1 to 64 bytes"));
    CHECK_THAT(refusal("[devices]\ninstance-store-models = [\"\"]\n"),
               Catch::Contains("'devices.instance-store-models' must hold"));
}

TEST_CASE("a fixed argon2 cost is accepted at its minimum", "[unit]")
{
    auto parsed = parse("[pbkdf]\ntype = \"argon2i\"\niterations = 4\nmemory-kib = 32\n");
    REQUIRE_THAT(parsed, Succeeds());
    CHECK(parsed.value().pbkdf.type == "argon2i");
    CHECK(parsed.value().pbkdf.iterations == 4);
    CHECK(parsed.value().pbkdf.memoryKib == 32);
}

TEST_CASE("an unknown setting is refused by its full name", "[unit]")
{
    CHECK_THAT(refusal("[mount]\nbse = \"/srv\"\n"), Catch::Contains("'mount.bse'"));
    CHECK_THAT(refusal("[disks]\nallow-loop = true\n"), Catch::Contains("'disks.allow-loop'"));
}

TEST_CASE("a setting outside any table is refused", "[unit]")
{
    CHECK_THAT(refusal("allow-loop = true\n"), Catch::Contains("'allow-loop' must be a table"));
}

TEST_CASE("a setting of the wrong type is refused by name", "[unit]")
{
    CHECK_THAT(refusal("[mount]\nbase = 5\n"), Catch::Contains("'mount.base'"));
    CHECK_THAT(refusal("[devices]\nallow-loop = \"yes\"\n"),
               Catch::Contains("'devices.allow-loop'"));
    CHECK_THAT(refusal("[pbkdf]\ntime-ms = \"2s\"\n"), Catch::Contains("'pbkdf.time-ms'"));
    CHECK_THAT(refusal("[pbkdf]\nparallel = 1.5\n"), Catch::Contains("'pbkdf.parallel'"));
}

// TODO: config.cpp reads values with toml++'s permissive node::value<T>(),
// which turns 1 into true and 2000.0 into 2000; value_exact<T>() would refuse
// them. Hidden until that is fixed.
TEST_CASE("a number where a boolean belongs is refused", "[unit]")
{
    CHECK_THAT(refusal("[devices]\nallow-loop = 1\n"), Catch::Contains("'devices.allow-loop'"));
    CHECK_THAT(refusal("[pbkdf]\ntime-ms = 2000.0\n"), Catch::Contains("'pbkdf.time-ms'"));
    CHECK_THAT(refusal("[pbkdf]\niterations = true\n"), Catch::Contains("'pbkdf.iterations'"));
}

TEST_CASE("pbkdf numbers outside 32 bits are refused", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\ntime-ms = -1\n"), Catch::Contains("between 0 and 4294967295"));
    CHECK_THAT(refusal("[pbkdf]\nmemory-kib = 4294967296\n"),
               Catch::Contains("between 0 and 4294967295"));
    CHECK_THAT(parse("[pbkdf]\ntime-ms = 4294967295\n"), Succeeds());
}

TEST_CASE("pbkdf2 with fewer than 1000 iterations is refused", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\ntype = \"pbkdf2\"\niterations = 999\n"),
               Catch::Contains("at least 1000"));
    CHECK_THAT(parse("[pbkdf]\ntype = \"pbkdf2\"\niterations = 1000\n"), Succeeds());
}

TEST_CASE("argon2 with a fixed cost below its minimum is refused", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\niterations = 3\n"), Catch::Contains("at least 4"));
    CHECK_THAT(refusal("[pbkdf]\niterations = 4\nmemory-kib = 31\n"), Catch::Contains("32"));
}

// TODO: checkValues in config.cpp bounds argon2's memory only for a fixed
// cost and never bounds parallel; libcryptsetup 2.6 refuses memory 0 or over
// 4194304 KiB and parallel 0, so every format would fail. Hidden until fixed.
TEST_CASE("argon2 settings libcryptsetup refuses are refused when read", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\nparallel = 0\n"), Catch::Contains("pbkdf.parallel"));
    CHECK_THAT(refusal("[pbkdf]\nmemory-kib = 0\n"), Catch::Contains("pbkdf.memory-kib"));
    CHECK_THAT(refusal("[pbkdf]\nmemory-kib = 4194305\n"), Catch::Contains("pbkdf.memory-kib"));
}

TEST_CASE("a pbkdf with neither a time nor an iteration count is refused", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\ntime-ms = 0\niterations = 0\n"),
               Catch::Contains("pbkdf.time-ms or pbkdf.iterations"));
}

TEST_CASE("an unknown pbkdf type is refused", "[unit]")
{
    CHECK_THAT(refusal("[pbkdf]\ntype = \"scrypt\"\n"), Catch::Contains("'scrypt'"));
    CHECK_THAT(refusal("[pbkdf]\ntype = \"Argon2id\"\n"), Catch::Contains("'Argon2id'"));
}

TEST_CASE("a mount base that is no valid mount point is refused", "[unit]")
{
    CHECK_THAT(refusal("[mount]\nbase = \"/etc/vault\"\n"), Catch::Contains("mount.base"));
    CHECK_THAT(refusal("[mount]\nbase = \"media/vault\"\n"), Catch::Contains("mount.base"));
    CHECK_THAT(refusal("[mount]\nbase = \"/media/vault/\"\n"), Catch::Contains("mount.base"));
}

TEST_CASE("a TOML syntax error names the line it is on", "[unit]")
{
    const std::string message = refusal("[mount]\noptions = \"nodev\"\nbase = \n");
    CHECK_THAT(message, Catch::Contains("line 3"));
}

TEST_CASE("a mount base outside the mount roots is refused", "[unit]")
{
    CHECK_THAT(parse("[mount]\nbase = \"/srv/v\"\n"), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(parse("[mount]\nroots = []\n"), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(parse("[mount]\nroots = [\"/etc\"]\n"), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(parse("[mount]\nroots = [1]\n"), FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("text that toml++ 3.3 cannot take is refused with its line, not a crash", "[unit]")
{
    // toml++ 3.3 fails an assertion or reaches __builtin_unreachable on these (found by
    // tests/fuzz/parsers).
    for (const std::string header : {"[!x]", "[.mount]", "[[ =]]", "[ \t{a}]", "[", "[[ \r"}) {
        INFO(header);
        CHECK_THAT(refusal("[pbkdf]\niterations = 1000\n" + header + "\nroots = []\n"),
                   Catch::Contains("line 3: a table header must name a table"));
    }
    CHECK_THAT(refusal("[mount]\nbase = \"/media/vault\"\u00e9\n"),
               Catch::Contains("line 2: only ASCII text"));
    CHECK_THAT(refusal("[mount]\nroots = [}\n"), Catch::Contains("line 2: inline tables"));
    CHECK_THAT(refusal("[mount]\noptions = \"\"\"\nnoatime\"\"\"\n"),
               Catch::Contains("line 2: multi-line strings are not used"));
    // Non-ASCII text in comments, and braces in strings, are as before.
    CHECK_THAT(parse("# donn\u00e9es chiffr\u00e9es\n[mount]\nbase = \"/media/vault\"\n"),
               Succeeds());
    CHECK_THAT(refusal("[mount]\nbase = \"/m\u00e9dia\"\n"), Catch::Contains("line 2: only ASCII"));
    CHECK_THAT(parse("[mount]\nbase = \"/media/{x}\"\nroots = [\"/media\"]\n"), Succeeds());
    // What toml++ itself refuses, and quoted names, are as before.
    CHECK_THAT(refusal("[]\n"), Catch::Contains("line 1"));
    CHECK_THAT(refusal("[\"mount\"]\nbase = \"/etc\"\n"), Catch::Contains("mount.base"));
}
