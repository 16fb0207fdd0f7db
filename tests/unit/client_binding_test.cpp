#include "binding.hpp"
#include "errors.hpp"

#include <catch2/catch.hpp>
#include <sdbus-c++/Error.h>

#include <sstream>

using namespace vaultctl;

namespace {

KeyslotInfo slot(std::uint32_t number, std::string kind)
{
    bool bound = kind.starts_with("token:");
    return {number, std::move(kind),      bound ? "pbkdf2" : "argon2id",
            1000,   bound ? 0u : 131072u, bound ? 0u : 2u};
}

// The CommandError unbindKeyslot throws, so that its exit code and message can be checked.
CommandError refusal(const KeyslotList& list, std::optional<std::uint32_t> requested)
{
    try {
        unbindKeyslot(list, requested, "/dev/vdb");
    } catch (const CommandError& error) {
        return error;
    }
    FAIL("unbindKeyslot chose a keyslot");
    return CommandError(exitOk, "");
}

}  // namespace

TEST_CASE("a key server's URL is http or https with a host, port and path optional", "[unit]")
{
    for (const char* url :
         {"http://tang", "https://tang.example.com", "http://10.0.0.5:7500", "http://tang:7500/",
          "https://tang/some/path", "http://[fd00::7]:80", "http://my-tang.internal/adv"})
        CHECK(checkTangUrl(url).empty());
}

TEST_CASE("a URL without the scheme or the host is refused, saying which", "[unit]")
{
    CHECK_THAT(checkTangUrl("tang:7500"), Catch::Contains("must start with http:// or https://"));
    CHECK_THAT(checkTangUrl("file:///etc/passwd"), Catch::Contains("http:// or https://"));
    CHECK_THAT(checkTangUrl("http://"), Catch::Contains("names no host"));
    CHECK_THAT(checkTangUrl("http://:7500"), Catch::Contains("names no host"));
    CHECK_THAT(checkTangUrl("https:///path"), Catch::Contains("names no host"));
    CHECK_THAT(checkTangUrl("http://[]:80"), Catch::Contains("names no host"));
    CHECK_THAT(checkTangUrl("http://[fd00::7"), Catch::Contains("closing bracket"));
    CHECK_THAT(checkTangUrl("http://user@tang"), Catch::Contains("letters, digits, dots"));
}

TEST_CASE("a URL with characters clevis's JSON or a shell would misread is refused", "[unit]")
{
    for (const char* url :
         {"http://tang /", "http://tang/\"", "http://tang/'", "http://tang/`id`",
          "http://tang/a\\b", "http://tang/\n", "http://tang/\x7f", "http://t\xc3\xa4ng"})
        CHECK_THAT(checkTangUrl(url), Catch::StartsWith("the URL holds "));
}

TEST_CASE("a URL may be 255 bytes long and no longer", "[unit]")
{
    const std::string prefix = "http://tang/";
    CHECK(checkTangUrl(prefix + std::string(255 - prefix.size(), 'p')).empty());
    CHECK(checkTangUrl(prefix + std::string(256 - prefix.size(), 'p')) ==
          "the URL is 256 bytes long, at most 255 are allowed");
}

TEST_CASE("a thumbprint is 16 to 128 characters of base64url", "[unit]")
{
    CHECK(checkThumbprint("x3EYD_RPeKN1vMgz7yAvjnMeQ1Q").empty());
    CHECK(checkThumbprint(std::string(16, '-')).empty());
    CHECK(checkThumbprint(std::string(128, 'Z')).empty());
    CHECK_THAT(checkThumbprint(std::string(15, 'a')), Catch::Contains("15 characters long"));
    CHECK_THAT(checkThumbprint(std::string(129, 'a')), Catch::Contains("129 characters long"));
    for (const char* thp : {"x3EYD+RPeKN1vMgz7yAv", "x3EYD/RPeKN1vMgz7yAv",
                            "x3EYD_RPeKN1vMgz7y==", "x3EYD.RPeKN1vMgz7yAv"})
        CHECK_THAT(checkThumbprint(thp), Catch::Contains("base64url"));
}

TEST_CASE("tang is the only pin", "[unit]")
{
    CHECK(checkPin("tang").empty());
    CHECK_THAT(checkPin("tpm2"), Catch::Contains("'tpm2'") && Catch::Contains("only tang"));
    CHECK_THAT(checkPin("ta\x1bng"), Catch::Contains("ta\\x1bng"));
}

TEST_CASE("unbind removes the one clevis keyslot, whatever else the volume has", "[unit]")
{
    KeyslotList list{2,
                     {slot(0, "passphrase"), slot(1, "recovery"), slot(2, "token:clevis"),
                      slot(3, "token:systemd-tpm2"), slot(4, "keyfile")}};
    CHECK(clevisKeyslots(list) == std::vector<std::uint32_t>{2});
    CHECK(unbindKeyslot(list, std::nullopt, "/dev/vdb") == 2);
    CHECK(unbindKeyslot(list, 2, "/dev/vdb") == 2);
}

TEST_CASE("unbind without a clevis keyslot says the volume is not bound", "[unit]")
{
    KeyslotList list{2, {slot(0, "passphrase"), slot(3, "token:systemd-tpm2"), slot(5, "clevis")}};
    CHECK(clevisKeyslots(list).empty());
    CommandError error = refusal(list, std::nullopt);
    CHECK(error.exitCode() == exitFailure);
    CHECK_THAT(error.what(), Catch::StartsWith("'/dev/vdb' is not bound to a key server"));
    CHECK(refusal({2, {}}, std::nullopt).exitCode() == exitFailure);
}

TEST_CASE("unbind with several clevis keyslots lists them and asks for one", "[unit]")
{
    KeyslotList list{2, {slot(4, "token:clevis"), slot(0, "passphrase"), slot(1, "token:clevis")}};
    CHECK(clevisKeyslots(list) == std::vector<std::uint32_t>{1, 4});
    CommandError error = refusal(list, std::nullopt);
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()) ==
          "'/dev/vdb' is bound to key servers in keyslots 1, 4; name the one to remove: "
          "vaultctl unbind /dev/vdb SLOT");
    CHECK(unbindKeyslot(list, 4, "/dev/vdb") == 4);
    CHECK(unbindKeyslot(list, 1, "/dev/vdb") == 1);
}

TEST_CASE("unbind refuses a named keyslot that is not a clevis one", "[unit]")
{
    KeyslotList list{2, {slot(0, "passphrase"), slot(2, "token:clevis")}};
    CommandError passphrase = refusal(list, 0);
    CHECK(passphrase.exitCode() == exitUsage);
    CHECK_THAT(passphrase.what(), Catch::Contains("keyslot 0 of '/dev/vdb' is not bound") &&
                                      Catch::Contains("its kind is passphrase") &&
                                      Catch::Contains("vaultctl keyslot remove"));
    CommandError unused = refusal(list, 7);
    CHECK(unused.exitCode() == exitUsage);
    CHECK_THAT(unused.what(), Catch::Contains("keyslot 7 of '/dev/vdb' is not in use"));
}

namespace {

Invocation unlockOf(TokenUse use, std::optional<std::string> keyFile = std::nullopt)
{
    Invocation invocation;
    invocation.verb = Verb::unlock;
    invocation.device = "vdb";
    invocation.tokenUse = use;
    invocation.keyFile = std::move(keyFile);
    return invocation;
}

// The two ways to unlock, as unlockTokenFirst runs them: each counts its calls, and the token
// attempt fails with @tokenError when it is set.
struct UnlockCalls {
    std::optional<sdbus::Error> tokenError;
    int tokenCalls = 0;
    int passphraseCalls = 0;
    std::ostringstream err;

    UnlockReply run(TokenAttempt attempt)
    {
        return unlockTokenFirst(
            attempt, "/dev/vdb",
            [this] {
                ++tokenCalls;
                if (tokenError)
                    throw *tokenError;
                return UnlockReply{"storedev", "by-token"};
            },
            [this] {
                ++passphraseCalls;
                return UnlockReply{"storedev", "by-passphrase"};
            },
            err);
    }
};

constexpr const char* keyServerUnavailable = "org.vaultd.Vault1.Error.KeyServerUnavailable";

}  // namespace

TEST_CASE("unlock tries the token first only for a volume with a clevis keyslot", "[unit]")
{
    Invocation automatic = unlockOf(TokenUse::automatic);
    CHECK(tokenChoiceNeedsKeyslots(automatic));
    KeyslotList bound{2, {slot(0, "passphrase"), slot(1, "token:clevis")}};
    KeyslotList unbound{2, {slot(0, "passphrase"), slot(3, "token:systemd-tpm2")}};
    CHECK(tokenAttempt(automatic, bound) == TokenAttempt::first);
    CHECK(tokenAttempt(automatic, unbound) == TokenAttempt::none);
    CHECK(tokenAttempt(automatic, KeyslotList{}) == TokenAttempt::none);
    // ListKeyslots failed: the passphrase, as for a volume never bound.
    CHECK(tokenAttempt(automatic, std::nullopt) == TokenAttempt::none);
}

TEST_CASE("--token, --no-token and --key-file decide without the keyslots", "[unit]")
{
    KeyslotList bound{2, {slot(1, "token:clevis")}};
    Invocation only = unlockOf(TokenUse::only);
    CHECK_FALSE(tokenChoiceNeedsKeyslots(only));
    CHECK(tokenAttempt(only, std::nullopt) == TokenAttempt::only);
    CHECK(tokenAttempt(only, KeyslotList{2, {slot(0, "passphrase")}}) == TokenAttempt::only);

    Invocation never = unlockOf(TokenUse::never);
    CHECK_FALSE(tokenChoiceNeedsKeyslots(never));
    CHECK(tokenAttempt(never, bound) == TokenAttempt::none);

    Invocation keyFile = unlockOf(TokenUse::automatic, "/root/key");
    CHECK_FALSE(tokenChoiceNeedsKeyslots(keyFile));
    CHECK(tokenAttempt(keyFile, bound) == TokenAttempt::none);
}

TEST_CASE("only a missing key server's key or token gives way to the passphrase", "[unit]")
{
    CHECK(passphraseMayFollow(keyServerUnavailable));
    CHECK(passphraseMayFollow("org.vaultd.Vault1.Error.CredentialRequired"));
    for (const char* name :
         {"org.vaultd.Vault1.Error.NotAuthorized", "org.vaultd.Vault1.Error.NameInUse",
          "org.vaultd.Vault1.Error.AuthenticationRequired", "org.vaultd.Vault1.Error.Failed",
          "org.freedesktop.DBus.Error.NoReply", "KeyServerUnavailable"})
        CHECK_FALSE(passphraseMayFollow(name));
}

TEST_CASE("the fallback note names the device and vaultd's reason on one line", "[unit]")
{
    CHECK(tokenFallbackNote("/dev/vdb", "token 1: tang at http://tang:7500 did not answer") ==
          "vaultctl: the key server did not give the key of /dev/vdb (token 1: tang at "
          "http://tang:7500 did not answer); asking for the passphrase");
    CHECK(tokenFallbackNote("/dev/vdb", "token 1: down\ntoken 2: down") ==
          "vaultctl: the key server did not give the key of /dev/vdb (token 1: down\\x0atoken 2: "
          "down); asking for the passphrase");
    CHECK_THAT(tokenFallbackNote("/dev/vdb", ""), Catch::Contains("(vaultd gave no reason)"));
}

TEST_CASE("a token attempt that gets no key from the server falls back to the passphrase", "[unit]")
{
    UnlockCalls calls;
    calls.tokenError = sdbus::Error(keyServerUnavailable, "token 1: tang did not answer");
    UnlockReply reply = calls.run(TokenAttempt::first);
    CHECK(reply.mountPoint == "by-passphrase");
    CHECK(calls.tokenCalls == 1);
    CHECK(calls.passphraseCalls == 1);
    CHECK(calls.err.str() ==
          "vaultctl: the key server did not give the key of /dev/vdb (token 1: tang did not "
          "answer); asking for the passphrase\n");

    UnlockCalls noToken;
    noToken.tokenError =
        sdbus::Error("org.vaultd.Vault1.Error.CredentialRequired", "the volume has no token");
    CHECK(noToken.run(TokenAttempt::first).mountPoint == "by-passphrase");
    CHECK(noToken.passphraseCalls == 1);
}

TEST_CASE("a token attempt that opens the volume asks for no passphrase", "[unit]")
{
    UnlockCalls calls;
    CHECK(calls.run(TokenAttempt::first).mountPoint == "by-token");
    CHECK(calls.passphraseCalls == 0);
    CHECK(calls.err.str().empty());
}

TEST_CASE("other failures of the token attempt are the command's, with no prompt", "[unit]")
{
    for (const char* name :
         {"org.vaultd.Vault1.Error.NotAuthorized", "org.vaultd.Vault1.Error.NameInUse"}) {
        UnlockCalls calls;
        calls.tokenError = sdbus::Error(name, "refused");
        CHECK_THROWS_WITH(calls.run(TokenAttempt::first), Catch::Contains("refused"));
        CHECK(calls.passphraseCalls == 0);
        CHECK(calls.err.str().empty());
    }
}

TEST_CASE("--token's failure is the command's; without a token only the passphrase runs", "[unit]")
{
    UnlockCalls only;
    only.tokenError = sdbus::Error(keyServerUnavailable, "token 1: tang did not answer");
    CHECK_THROWS_AS(only.run(TokenAttempt::only), sdbus::Error);
    CHECK(only.passphraseCalls == 0);
    CHECK(only.err.str().empty());

    UnlockCalls none;
    CHECK(none.run(TokenAttempt::none).mountPoint == "by-passphrase");
    CHECK(none.tokenCalls == 0);
}
