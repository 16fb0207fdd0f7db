// libFuzzer target: the checks every name and path from the bus passes
// (mapping names, mount points, labels, key-server addresses, thumbprints,
// UUIDs, EBS volume ids and device names), and systemd's escaping of a
// mapping name. What a check accepts keeps the shape it promises, and an
// escaped name reads back as the name.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/identity.hpp"
#include "engine/unit_names.hpp"
#include "engine/validate.hpp"
#include "property.hpp"

namespace {

using namespace vaultd::engine;

bool isHex(char c)
{
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// systemd-escape --unescape, for the property that escaping loses nothing.
std::string unescape(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && isHex(s[i + 2]) &&
            isHex(s[i + 3])) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 2, 2)), nullptr, 16));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

void mappingName(std::string_view text)
{
    if (!checkMappingName(text))
        return;
    FUZZ_REQUIRE(!text.empty() && text.size() <= kMaxMappingName);
    FUZZ_REQUIRE(text != "." && text != "..");
    FUZZ_REQUIRE(text.find('/') == std::string_view::npos);
    for (char c : text)
        FUZZ_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) ||
                     std::string_view("-_.+=,@%").find(c) != std::string_view::npos);
    const std::string unit = escapeUnitString(text);
    for (char c : unit)
        FUZZ_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) ||
                     std::string_view(":_.\\").find(c) != std::string_view::npos);
    FUZZ_REQUIRE(unescape(unit) == text);
    FUZZ_REQUIRE(checkMountPoint(defaultMountPoint("/media/vault", text)));
}

void mountPoint(std::string_view text)
{
    if (!checkMountPoint(text))
        return;
    FUZZ_REQUIRE(!text.empty() && text.front() == '/' && text.size() <= kMaxPathLength);
    FUZZ_REQUIRE(text.find("//") == std::string_view::npos);
    FUZZ_REQUIRE(text.find('\0') == std::string_view::npos);
    FUZZ_REQUIRE(text.size() == 1 || text.back() != '/');
    FUZZ_REQUIRE(std::string("/" + std::string(text) + "/").find("/../") == std::string::npos);
    FUZZ_REQUIRE(std::string("/" + std::string(text) + "/").find("/./") == std::string::npos);
    FUZZ_REQUIRE(!isSystemDirectory(text));
    FUZZ_REQUIRE(isUnderRoots(text, {std::string(text)}));
}

void label(std::string_view text)
{
    for (Filesystem fs : {Filesystem::Ext4, Filesystem::Xfs, Filesystem::Btrfs}) {
        if (!checkLabel(text, fs))
            continue;
        for (char c : text)
            FUZZ_REQUIRE(c >= 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '\\');
    }
}

void keyServer(std::string_view text)
{
    if (checkTangUrl(text)) {
        FUZZ_REQUIRE(text.size() <= 255);
        FUZZ_REQUIRE(text.starts_with("http://") || text.starts_with("https://"));
        for (char c : text)
            FUZZ_REQUIRE(c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '\'' && c != '`');
    }
    if (checkThumbprint(text)) {
        FUZZ_REQUIRE(text.size() >= 16 && text.size() <= 128);
        for (char c : text)
            FUZZ_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    }
}

void identities(std::string_view text)
{
    if (isUuid(text)) {
        FUZZ_REQUIRE(text.size() == 36);
        for (std::size_t i = 0; i < text.size(); ++i)
            FUZZ_REQUIRE((i == 8 || i == 13 || i == 18 || i == 23) ? text[i] == '-'
                                                                   : isHex(text[i]));
    }
    if (auto id = canonicalVolumeId(text)) {
        FUZZ_REQUIRE(id->starts_with("vol-") && id->size() > 4);
        for (char c : id->substr(4))
            FUZZ_REQUIRE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        FUZZ_REQUIRE(canonicalVolumeId(*id) == id);
    }
    if (auto name = canonicalRequestedName(text)) {
        FUZZ_REQUIRE(!name->empty() && name->find('/') == std::string::npos);
        FUZZ_REQUIRE(canonicalRequestedName(*name) == name);
        FUZZ_REQUIRE(canonicalRequestedName("/dev/" + *name) == name);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    mappingName(text);
    mountPoint(text);
    label(text);
    keyServer(text);
    identities(text);
    return 0;
}
