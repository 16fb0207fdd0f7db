// The names vaultd gives systemd units, escaped as systemd-escape does.
#include "engine/unit_names.hpp"

#include <catch2/catch.hpp>

using namespace vaultd::engine;

TEST_CASE("unit strings keep letters, digits, colons, underscores and inner dots", "[unit]")
{
    CHECK(escapeUnitString("data") == "data");
    CHECK(escapeUnitString("Vol_1:a.b") == "Vol_1:a.b");
}

TEST_CASE("unit strings escape dashes, other punctuation and a leading dot", "[unit]")
{
    CHECK(escapeUnitString("my-data") == "my\\x2ddata");
    CHECK(escapeUnitString(".hidden") == "\\x2ehidden");
    CHECK(escapeUnitString("a+b=c,d@e%f") == "a\\x2bb\\x3dc\\x2cd\\x40e\\x25f");
    CHECK(escapeUnitString("caf\xc3\xa9") == "caf\\xc3\\xa9");
}

TEST_CASE("a volume's unit is an instance of vault-volume@.service", "[unit]")
{
    CHECK(volumeUnitName("data") == "vault-volume@data.service");
    CHECK(volumeUnitName("secure-data") == "vault-volume@secure\\x2ddata.service");
}
