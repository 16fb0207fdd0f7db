// Network-bound keys: binding a volume to a tang server (a random key in a
// keyslot of its own, wrapped by the server in a clevis token), and opening
// a configured volume with the key its token's server gives back.
#include "engine/operations.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "engine/keys.hpp"
#include "engine/validate.hpp"
#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kNode = "/dev/vdb";
const std::string kUrl = "http://127.0.0.1:7500";
const std::string kThumbprint = "uRsjSc9TsBpQPsNzAW3Lx5L1FOg";

struct TangVolume {
    FakeSystem sys;
    Operations ops{sys.ports(), EngineConfig{}};
    ConfiguredVolume c;

    TangVolume()
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4", "data"));
        c.name = "data";
        c.origin = "/etc/vaultd/volumes.d/data.toml";
        c.luksUuid = kUuid;
        c.keySource = KeySource::Token;
        c.mappingName = "data";
        c.mountPoint = "/secure";
    }

    Result<KeyslotResult> bind(const std::string& existing = std::string("correct horse"))
    {
        return ops.bindTang("vdb", secret(existing), kUrl, kThumbprint);
    }

    const FakeCrypt::Slot* slot(int n)
    {
        for (const FakeCrypt::Slot& s : sys.crypt.slotsOf(kNode))
            if (s.slot == n)
                return &s;
        return nullptr;
    }
};

}  // namespace

TEST_CASE("binding adds a pbkdf2 keyslot whose random key the server wraps in a token", "[unit]")
{
    TangVolume vol;

    auto bound = vol.bind();

    REQUIRE_THAT(bound, Succeeds());
    const int n = bound.value().keyslot;
    REQUIRE(vol.slot(n));
    CHECK(vol.slot(n)->pbkdf == "pbkdf2");
    CHECK(vol.slot(n)->kind == KeyKind::Token);
    const std::string key = vol.slot(n)->secret;
    CHECK(isRecoveryKey(key));
    REQUIRE(vol.sys.crypt.tokensOf[kNode].size() == 1);
    CHECK(vol.sys.crypt.tokensOf[kNode][0].json == "wrapped:" + key);
    CHECK(vol.sys.crypt.tokensOf[kNode][0].keyslots == std::vector<int>{n});
    CHECK(vol.sys.log.front() == "bind to " + kUrl + " trusting " + kThumbprint);
    // The header backup follows the new slot.
    CHECK(std::find(vol.sys.log.begin(), vol.sys.log.end(),
                    "back up the header of /dev/vdb as " + kUuid) != vol.sys.log.end());

    auto again = vol.bind();
    REQUIRE_THAT(again, Succeeds());
    CHECK(vol.slot(again.value().keyslot)->secret != key);
}

TEST_CASE("a malformed server address or thumbprint binds nothing and asks no server", "[unit]")
{
    TangVolume vol;

    CHECK_THAT(
        vol.ops.bindTang("vdb", secret(std::string("correct horse")), "ftp://x", kThumbprint),
        FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(vol.ops.bindTang("vdb", secret(std::string("correct horse")), kUrl, "short"),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK(vol.sys.log.empty());
    CHECK(vol.sys.crypt.slotsOf(kNode).size() == 1);
}

TEST_CASE("a server that does not answer binds nothing", "[unit]")
{
    TangVolume vol;
    vol.sys.keyServers.up = false;

    auto bound = vol.bind();

    REQUIRE_THAT(bound, FailsWith(ErrorCode::KeyServerUnavailable));
    CHECK(vol.sys.crypt.slotsOf(kNode).size() == 1);
    CHECK(vol.sys.crypt.tokensOf[kNode].empty());
}

TEST_CASE("a wrong existing secret binds nothing", "[unit]")
{
    TangVolume vol;

    REQUIRE_THAT(vol.bind("wrong"), FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.sys.crypt.slotsOf(kNode).size() == 1);
    CHECK(vol.sys.crypt.tokensOf[kNode].empty());
}

TEST_CASE("LUKS1 and full headers are refused before the server is asked", "[unit]")
{
    SECTION("LUKS1 has no tokens")
    {
        TangVolume vol;
        vol.sys.kernel.signatures.at(kNode).luksVersion = 1;
        REQUIRE_THAT(vol.bind(), FailsWith(ErrorCode::NotSupportedOnLuks1));
        CHECK(vol.sys.log.empty());
    }
    SECTION("no free keyslot")
    {
        TangVolume vol;
        vol.sys.crypt.maxKeyslots = 1;
        REQUIRE_THAT(vol.bind(), FailsWith(ErrorCode::NoFreeKeyslot));
        CHECK(vol.sys.log.empty());
    }
}

TEST_CASE("a bound configured volume opens with the server's key, on its keyslot only", "[unit]")
{
    TangVolume vol;
    auto bound = vol.bind();
    REQUIRE_THAT(bound, Succeeds());
    vol.sys.crypt.derivations.clear();

    auto r = vol.ops.unlockConfiguredByToken("vdb", vol.c);

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mappingName == "data");
    CHECK(r.value().mountPoint == "/secure");
    CHECK(vol.sys.crypt.derivations ==
          std::vector<std::string>{fmt::format("{} {}", kNode, bound.value().keyslot)});
    CHECK(vol.sys.units.running == std::set<std::string>{"data"});
}

TEST_CASE("a configured volume whose server is down stays locked and says why", "[unit]")
{
    TangVolume vol;
    REQUIRE_THAT(vol.bind(), Succeeds());
    vol.sys.keyServers.up = false;

    auto r = vol.ops.unlockConfiguredByToken("vdb", vol.c);

    REQUIRE_THAT(r, FailsWith(ErrorCode::KeyServerUnavailable));
    CHECK_THAT(r.error().message, Catch::Contains("Error communicating with server") &&
                                      Catch::Contains("unlock it by hand"));
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
    CHECK(vol.sys.units.running.empty());
}

TEST_CASE("a configured volume bound to no server needs its passphrase", "[unit]")
{
    TangVolume vol;

    auto r = vol.ops.unlockConfiguredByToken("vdb", vol.c);

    REQUIRE_THAT(r, FailsWith(ErrorCode::CredentialRequired));
    CHECK_THAT(r.error().message, Catch::Contains("vaultctl bind"));
    CHECK(vol.sys.keyServers.asked.empty());
}

TEST_CASE("a device that is not the configured volume asks no key server", "[unit]")
{
    TangVolume vol;
    REQUIRE_THAT(vol.bind(), Succeeds());
    vol.c.luksUuid = "11111111-2222-3333-4444-555555555555";

    auto r = vol.ops.unlockConfiguredByToken("vdb", vol.c);

    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK(vol.sys.keyServers.asked.empty());
    CHECK_FALSE(vol.sys.crypt.mappingExists("data"));
}

TEST_CASE("key server addresses are http or https with a plain host", "[unit]")
{
    for (const char* good : {"http://tang.example.com", "https://10.0.0.5:7500/x",
                             "http://[fe80::1]:80", "http://tang-1.internal/adv"})
        CHECK_THAT(checkTangUrl(good), Succeeds());
    for (const char* bad :
         {"", "tang.example.com", "ftp://x", "http://", "http://a b", "http://a\"b", "http://a\\b",
          "http://a$(x)", "http://[fe80::1", "http://x\n"})
        CHECK_THAT(checkTangUrl(bad), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(checkTangUrl("http://" + std::string(250, 'a')),
               FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("thumbprints are 16 to 128 characters of base64url", "[unit]")
{
    CHECK_THAT(checkThumbprint(kThumbprint), Succeeds());
    CHECK_THAT(checkThumbprint("abc"), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(checkThumbprint(std::string(129, 'a')), FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(checkThumbprint("uRsjSc9TsBpQPsNz+W3Lx5L1FOg"),
               FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("an unlock by token opens where the request says, with the server's key", "[unit]")
{
    TangVolume vol;
    REQUIRE_THAT(vol.bind(), Succeeds());

    auto r = vol.ops.unlockByToken("vdb", {"byhand", true, "", {1000, 1000}, {}, {}});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mappingName == "byhand");
    CHECK(vol.sys.crypt.mappingExists("byhand"));
    // Only configured volumes stand for a unit.
    CHECK(vol.sys.units.running.empty());
}

TEST_CASE("an unlock by token of a volume that is not LUKS asks no server", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdc", kGiB, filesystemSignature("ext4"));
    Operations ops{sys.ports(), EngineConfig{}};

    REQUIRE_THAT(ops.unlockByToken("vdc", {"x", false, "", {}, {}, {}}),
                 FailsWith(ErrorCode::NotLuks));
    CHECK(sys.keyServers.asked.empty());
}
