// libFuzzer target: a volume file (/etc/vaultd/volumes.d/NAME.toml). The
// input's first line is the file's stem, the rest its text. Whatever the
// text, a volume it accepts names itself by a valid identity, opens under a
// valid mapping name, mounts (if at all) at a valid mount point with only
// the options the parser allows, and has an owner only if the user exists.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/identity.hpp"
#include "engine/validate.hpp"
#include "property.hpp"
#include "volume_config.hpp"

namespace {

struct OneUser final : vaultd::UserLookup {
    std::optional<std::pair<uid_t, gid_t>> find(const std::string& name) const override
    {
        if (name == "ec2-user")
            return std::pair<uid_t, gid_t>{1000, 1000};
        return std::nullopt;
    }
};

bool allowedOptions(std::string_view options)
{
    constexpr std::array<std::string_view, 6> allowed = {"noatime",  "relatime", "nodiratime",
                                                         "lazytime", "ro",       "sync"};
    while (!options.empty()) {
        const auto comma = options.find(',');
        const std::string_view option = options.substr(0, comma);
        if (std::find(allowed.begin(), allowed.end(), option) == allowed.end())
            return false;
        options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace vaultd::engine;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = input.find('\n');
    if (newline == std::string_view::npos || newline > 200)
        return 0;
    const std::string_view stem = input.substr(0, newline);
    const std::string_view text = input.substr(newline + 1);

    auto parsed = vaultd::parseVolumeFile(text, "fuzz.toml", stem, OneUser{});
    if (!parsed) {
        FUZZ_REQUIRE(!parsed.error().message.empty());
        return 0;
    }
    const ConfiguredVolume& v = parsed.value();
    FUZZ_REQUIRE(v.name == stem);
    FUZZ_REQUIRE(checkMappingName(v.name));
    FUZZ_REQUIRE(checkMappingName(v.mappingName));
    FUZZ_REQUIRE(!v.ebsVolumeId.empty() || !v.luksUuid.empty() || !v.label.empty());
    if (!v.ebsVolumeId.empty())
        FUZZ_REQUIRE(canonicalVolumeId(v.ebsVolumeId) == v.ebsVolumeId);
    if (!v.luksUuid.empty())
        FUZZ_REQUIRE(isUuid(v.luksUuid) &&
                     std::none_of(v.luksUuid.begin(), v.luksUuid.end(),
                                  [](char c) { return c >= 'A' && c <= 'F'; }));
    FUZZ_REQUIRE(v.label.size() <= 47);
    FUZZ_REQUIRE((v.keySource == KeySource::KeyFile) == !v.keyFile.empty());
    if (!v.keyFile.empty())
        FUZZ_REQUIRE(v.keyFile.front() == '/');
    if (!v.mountPoint.empty())
        FUZZ_REQUIRE(checkMountPoint(v.mountPoint));
    else
        FUZZ_REQUIRE(v.mountOptions.empty() && !v.hasOwner);
    FUZZ_REQUIRE(allowedOptions(v.mountOptions));
    if (v.hasOwner)
        FUZZ_REQUIRE(v.ownerName == "ec2-user" && v.ownerUid == 1000 && v.ownerGid == 1000);
    return 0;
}
