#include "engine/quote.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "bus/bus_error.hpp"
#include "bus/options.hpp"
#include "engine/validate.hpp"
#include "result_matchers.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;

namespace {

// Whether every byte sequence in @text is well-formed UTF-8 (no cut
// characters); enough for the prefixes these tests make.
bool wellFormed(const std::string& text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        if (i + len > text.size())
            return false;
        for (std::size_t k = 1; k < len; ++k) {
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
                return false;
        }
        i += len;
    }
    return true;
}

}  // namespace

TEST_CASE("a short string is quoted whole", "[unit]")
{
    CHECK(engine::quoted("/secure") == "'/secure'");
    CHECK(engine::quoted("") == "''");
    CHECK(engine::quoted(std::string(64, 'a')) == "'" + std::string(64, 'a') + "'");
}

TEST_CASE("a long string is cut and its length told", "[unit]")
{
    const std::string huge(32 << 20, 'x');
    const std::string q = engine::quoted(huge);
    CHECK(q == "'" + std::string(64, 'x') + "…' (33554432 bytes)");
}

TEST_CASE("a cut never splits a UTF-8 character", "[unit]")
{
    // 63 ASCII bytes then 'é' (2 bytes): byte 64 is in the middle of it.
    const std::string text = std::string(63, 'a') + "é" + std::string(10, 'b');
    CHECK(engine::clipped(text, 64) == std::string(63, 'a'));
    CHECK(wellFormed(engine::quoted(text)));

    // Only 4-byte characters: the cut lands on a multiple of 4.
    std::string emoji;
    for (int i = 0; i < 40; ++i)
        emoji += "\xF0\x9F\x94\x91";
    CHECK(engine::clipped(emoji, 64).size() == 64);
    CHECK(engine::clipped(emoji, 63).size() == 60);
    CHECK(wellFormed(std::string(engine::clipped(emoji, 63))));
}

TEST_CASE("a huge bad mount point gives a short message", "[unit]")
{
    const std::string relative(32 << 20, 'm');
    auto st = engine::checkMountPoint(relative);
    REQUIRE_THAT(st, FailsWith(ErrorCode::InvalidMountPoint));
    CHECK(st.error().message.size() < 200);
    CHECK(st.error().message.find("33554432 bytes") != std::string::npos);

    const std::string tooLong = "/secure/" + std::string(8000, 'n');
    st = engine::checkMountPoint(tooLong);
    REQUIRE_THAT(st, FailsWith(ErrorCode::InvalidMountPoint));
    CHECK(st.error().message.size() < 200);
    CHECK(st.error().message.find("too long") != std::string::npos);
}

TEST_CASE("a huge unknown option name gives a short message", "[unit]")
{
    bus::Options options{{std::string(1 << 20, 'k'), sdbus::Variant(true)}};
    auto request = bus::decodeUnlock("secure", options);
    REQUIRE_THAT(request, FailsWith(ErrorCode::InvalidArgument));
    CHECK(request.error().message.size() < 200);
}

TEST_CASE("an error reply is bounded whatever its message", "[unit]")
{
    const std::string message = std::string(4000, 'e') + "é";
    const sdbus::Error e =
        bus::toBusError(engine::makeError(ErrorCode::Failed, std::string(1023, 'e') + "é"));
    CHECK(e.getName() == "org.vaultd.Vault1.Error.Failed");
    CHECK(e.getMessage() == std::string(1023, 'e'));
    CHECK(bus::toBusError(engine::makeError(ErrorCode::Failed, message)).getMessage().size() ==
          1024);
}
