#include "binding.hpp"
#include "errors.hpp"

#include <catch2/catch.hpp>

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
