// libFuzzer target: what identifies a device, from what the device itself
// reports: the NVMe Identify Controller page (any bytes, any length), the
// model and serial sysfs gives, and udev's links. Whatever a device says,
// the names vaultd takes from it are canonical ones: an EBS volume id
// vol-<hex>, and a requested name like sdf that no path can hide in.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/identity.hpp"
#include "property.hpp"

namespace {

using namespace vaultd::engine;

void requireCanonicalName(const std::string& name)
{
    FUZZ_REQUIRE(!name.empty() && name.size() <= kIdentifyNameBytes);
    FUZZ_REQUIRE(name.find('/') == std::string::npos && name.find('\0') == std::string::npos);
    FUZZ_REQUIRE(canonicalRequestedName(name) == name);
}

void requireCanonicalId(const std::string& id)
{
    FUZZ_REQUIRE(canonicalVolumeId(id) == id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto name = requestedNameFromIdentify(bytes))
        requireCanonicalName(*name);

    // The same bytes as sysfs and udev would hand them over: model, serial
    // and links, split at the first two NULs and then at newlines.
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = text.find('\0');
    const auto second = first == std::string_view::npos ? first : text.find('\0', first + 1);
    IdentityInput input;
    input.kernelName = "nvme1n1";
    input.model = std::string(text.substr(0, first));
    if (first != std::string_view::npos)
        input.serial = std::string(text.substr(first + 1, second - first - 1));
    if (second != std::string_view::npos) {
        std::string_view rest = text.substr(second + 1);
        while (!rest.empty()) {
            const auto end = rest.find('\n');
            input.links.emplace_back(rest.substr(0, end));
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        }
    }
    if (size >= kIdentifySize)
        input.identify.assign(data, data + kIdentifySize);

    IdentityRules rules;
    rules.ebsModels.push_back("QEMU NVMe Ctrl");
    if (auto id = ebsVolumeId(input.model, input.serial, rules))
        requireCanonicalId(*id);
    if (auto name = requestedNameFromLinks(input.links))
        requireCanonicalName(*name);

    const Identity identity = identify(input, rules);
    if (!identity.ebsVolumeId.empty())
        requireCanonicalId(identity.ebsVolumeId);
    if (!identity.requestedName.empty())
        requireCanonicalName(identity.requestedName);
    FUZZ_REQUIRE(identity.model == trimField(identity.model));
    FUZZ_REQUIRE(identity.serial == trimField(identity.serial));
    return 0;
}
