#include "bus/options.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "result_matchers.hpp"

using namespace vaultd;
using engine::ErrorCode;
using testing::FailsWith;
using testing::Succeeds;

TEST_CASE("format options decode label and force", "[unit]")
{
    bus::Options options{{"label", sdbus::Variant(std::string("vault"))},
                         {"force", sdbus::Variant(std::string("/dev/vdb:1073741824"))}};

    auto request = bus::decodeFormat("xfs", options);
    REQUIRE_THAT(request, Succeeds());
    CHECK(request.value().filesystem == "xfs");
    CHECK(request.value().label == "vault");
    CHECK(request.value().force == "/dev/vdb:1073741824");
}

TEST_CASE("format without options asks for no label and no force", "[unit]")
{
    auto request = bus::decodeFormat("ext4", {});
    REQUIRE_THAT(request, Succeeds());
    CHECK(request.value().filesystem == "ext4");
    CHECK(request.value().label.empty());
    CHECK(request.value().force.empty());
}

TEST_CASE("an unknown format option is refused by name", "[unit]")
{
    bus::Options options{{"lable", sdbus::Variant(std::string("vault"))}};

    auto request = bus::decodeFormat("ext4", options);
    REQUIRE_THAT(request, FailsWith(ErrorCode::InvalidArgument));
    CHECK(request.error().message == "unknown option 'lable'");
}

TEST_CASE("a format option of the wrong type is refused with the expected type", "[unit]")
{
    bus::Options options{{"force", sdbus::Variant(true)}};

    auto request = bus::decodeFormat("ext4", options);
    REQUIRE_THAT(request, FailsWith(ErrorCode::InvalidArgument));
    CHECK(request.error().message == "option 'force' must be of type 's'");
}

TEST_CASE("unlock options decode mount and mount-point", "[unit]")
{
    bus::Options options{{"mount", sdbus::Variant(true)},
                         {"mount-point", sdbus::Variant(std::string("/secure"))}};

    auto request = bus::decodeUnlock("secure", options);
    REQUIRE_THAT(request, Succeeds());
    CHECK(request.value().name == "secure");
    CHECK(request.value().mount);
    CHECK(request.value().mountPoint == "/secure");
}

TEST_CASE("unlock without options only opens the mapping", "[unit]")
{
    auto request = bus::decodeUnlock("", {});
    REQUIRE_THAT(request, Succeeds());
    CHECK(request.value().name.empty());
    CHECK_FALSE(request.value().mount);
    CHECK(request.value().mountPoint.empty());
}

TEST_CASE("unlock's token option asks for the key server's key, and only as a boolean", "[unit]")
{
    const bus::Options byToken = {{"token", sdbus::Variant(true)}};
    REQUIRE_THAT(bus::decodeUnlock("data", byToken), Succeeds());
    auto token = bus::decodeByToken(byToken);
    REQUIRE_THAT(token, Succeeds());
    CHECK(token.value());

    auto none = bus::decodeByToken({});
    REQUIRE_THAT(none, Succeeds());
    CHECK_FALSE(none.value());

    auto wrong = bus::decodeByToken({{"token", sdbus::Variant(std::string("yes"))}});
    REQUIRE_THAT(wrong, FailsWith(ErrorCode::InvalidArgument));
    CHECK(wrong.error().message == "option 'token' must be of type 'b'");
}

TEST_CASE("unlock refuses format's options and mistyped mount options", "[unit]")
{
    CHECK_THAT(bus::decodeUnlock("", {{"label", sdbus::Variant(std::string("x"))}}),
               FailsWith(ErrorCode::InvalidArgument));

    auto wrongMount = bus::decodeUnlock("", {{"mount", sdbus::Variant(std::string("yes"))}});
    REQUIRE_THAT(wrongMount, FailsWith(ErrorCode::InvalidArgument));
    CHECK(wrongMount.error().message == "option 'mount' must be of type 'b'");

    auto wrongPoint = bus::decodeUnlock("", {{"mount-point", sdbus::Variant(std::uint32_t{1})}});
    REQUIRE_THAT(wrongPoint, FailsWith(ErrorCode::InvalidArgument));
    CHECK(wrongPoint.error().message == "option 'mount-point' must be of type 's'");
}

TEST_CASE("methods without options refuse any option", "[unit]")
{
    CHECK_THAT(bus::expectNoOptions({}), Succeeds());
    CHECK_THAT(bus::expectNoOptions({{"force", sdbus::Variant(true)}}),
               FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("an empty mount-point option is refused, not taken as the default", "[unit]")
{
    bus::Options options{{"mount-point", sdbus::Variant(std::string())}};
    CHECK_THAT(bus::decodeUnlock("data", options), FailsWith(ErrorCode::InvalidMountPoint));
}

TEST_CASE("format's workqueues and discard options are booleans, off when absent", "[unit]")
{
    auto plain = bus::decodeFormat("ext4", {});
    REQUIRE_THAT(plain, Succeeds());
    CHECK_FALSE(plain.value().workqueues);
    CHECK_FALSE(plain.value().discard);

    bus::Options options{{"workqueues", sdbus::Variant(true)}, {"discard", sdbus::Variant(true)}};
    auto asked = bus::decodeFormat("ext4", options);
    REQUIRE_THAT(asked, Succeeds());
    CHECK(asked.value().workqueues);
    CHECK(asked.value().discard);

    bus::Options wrong{{"discard", sdbus::Variant(std::string("yes"))}};
    REQUIRE_THAT(bus::decodeFormat("ext4", wrong), FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("tune options change only what they name", "[unit]")
{
    auto none = bus::decodeTune({{"interactive", sdbus::Variant(true)}});
    REQUIRE_THAT(none, Succeeds());
    CHECK(none.value().empty());

    auto one = bus::decodeTune({{"write-workqueue", sdbus::Variant(false)}});
    REQUIRE_THAT(one, Succeeds());
    REQUIRE(one.value().writeWorkqueue.has_value());
    CHECK_FALSE(*one.value().writeWorkqueue);
    CHECK_FALSE(one.value().readWorkqueue.has_value());
    CHECK_FALSE(one.value().discard.has_value());

    auto both = bus::decodeTune(
        {{"read-workqueue", sdbus::Variant(true)}, {"discard", sdbus::Variant(true)}});
    REQUIRE_THAT(both, Succeeds());
    CHECK(both.value().readWorkqueue == true);
    CHECK(both.value().discard == true);

    REQUIRE_THAT(bus::decodeTune({{"workqueues", sdbus::Variant(false)}}),
                 FailsWith(ErrorCode::InvalidArgument));
    REQUIRE_THAT(bus::decodeTune({{"read-workqueue", sdbus::Variant(std::string("on"))}}),
                 FailsWith(ErrorCode::InvalidArgument));
    REQUIRE_THAT(bus::decodeTune({{"discard", sdbus::Variant(std::uint32_t{1})}}),
                 FailsWith(ErrorCode::InvalidArgument));
}

TEST_CASE("format's erase option is a boolean, off when absent", "[unit]")
{
    CHECK_FALSE(bus::decodeFormat("ext4", {}).value().erase);
    auto asked = bus::decodeFormat("ext4", {{"erase", sdbus::Variant(true)}});
    REQUIRE_THAT(asked, Succeeds());
    CHECK(asked.value().erase);
    REQUIRE_THAT(bus::decodeFormat("ext4", {{"erase", sdbus::Variant(std::string("all"))}}),
                 FailsWith(ErrorCode::InvalidArgument));
}
