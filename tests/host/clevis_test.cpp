// The clevis adapter's pure parts: JWEs between their compact form (what
// clevis encrypt prints and clevis decrypt reads) and the JSON object kept
// in a clevis LUKS2 token, and the summary of a helper's stderr.
#include "system/clevis.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace vaultd;

TEST_CASE("a compact JWE becomes the JSON clevis keeps in its token, and back", "[host]")
{
    const std::string compact = "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn";

    const std::string json = system::jweCompactToJson(compact);

    const auto parsed = nlohmann::json::parse(json);
    CHECK(parsed["protected"] == "eyJhbGciOiJkaXIifQ");
    CHECK(parsed["encrypted_key"] == "");
    CHECK(parsed["iv"] == "aXY");
    CHECK(parsed["ciphertext"] == "Y2lwaGVy");
    CHECK(parsed["tag"] == "dGFn");
    CHECK(system::jweJsonToCompact(json) == compact);
}

TEST_CASE("a token JWE without encrypted_key (tang's) still makes five parts", "[host]")
{
    const std::string json = R"({"protected":"cA","iv":"aQ","ciphertext":"Yw","tag":"dA"})";
    CHECK(system::jweJsonToCompact(json) == "cA..aQ.Yw.dA");
}

TEST_CASE("what is not a JWE converts to nothing", "[host]")
{
    CHECK(system::jweCompactToJson("a.b.c.d").empty());
    CHECK(system::jweCompactToJson("a.b.c.d.e.f").empty());
    CHECK(system::jweCompactToJson("a.b.c.d.e f").empty());
    CHECK(system::jweJsonToCompact("[]").empty());
    CHECK(system::jweJsonToCompact(R"({"protected":"cA","iv":"aQ","ciphertext":"Yw"})").empty());
    CHECK(system::jweJsonToCompact(R"({"protected":1,"iv":"aQ","ciphertext":"Yw","tag":"d"})")
              .empty());
    CHECK(system::jweJsonToCompact(R"({"protected":"c.A","iv":"a","ciphertext":"Y","tag":"d"})")
              .empty());
}

TEST_CASE("a helper's stderr is summed up on one line, without control characters", "[host]")
{
    CHECK(system::summarise("\nError communicating with server\n\nhttp://x\n") ==
          "Error communicating with server / http://x");
    CHECK(system::summarise("a\x1b[31mred\n") == "a?[31mred");
    const std::string longer = system::summarise(std::string(1000, 'x'));
    CHECK(longer.size() == 300);
    CHECK(longer.ends_with("..."));
    CHECK(system::summarise("").empty());
}
