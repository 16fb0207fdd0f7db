#include "engine/configured.hpp"

#include <algorithm>
#include <cctype>

namespace vaultd::engine {
namespace {

// An identity the file does not give constrains nothing.
bool agrees(const std::string& wanted, const std::string& actual)
{
    return wanted.empty() || wanted == actual;
}

// libblkid reports the UUID as the header spells it, and an administrator
// may have copied it in either case.
bool agreesIgnoringCase(const std::string& wanted, const std::string& actual)
{
    const auto same = [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
    };
    return wanted.empty() ||
           std::equal(wanted.begin(), wanted.end(), actual.begin(), actual.end(), same);
}

}  // namespace

bool matches(const ConfiguredVolume& c, const Volume& v)
{
    if (!v.signature.isLuks())
        return false;
    // A file naming nothing would match every LUKS volume.
    if (c.ebsVolumeId.empty() && c.luksUuid.empty() && c.label.empty())
        return false;
    return agrees(c.ebsVolumeId, v.identity.ebsVolumeId) &&
           agreesIgnoringCase(c.luksUuid, v.signature.uuid) && agrees(c.label, v.signature.label);
}

std::string joinMountOptions(std::string_view options, std::string_view more)
{
    if (options.empty())
        return std::string(more);
    if (more.empty())
        return std::string(options);
    return std::string(options) + "," + std::string(more);
}

std::string configuredMountOptions(std::string_view base, const ConfiguredVolume& c)
{
    return joinMountOptions(base, joinMountOptions(c.mountOptions, c.mapping.readOnly ? "ro" : ""));
}

}  // namespace vaultd::engine
