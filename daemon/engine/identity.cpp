#include "engine/identity.hpp"

#include <algorithm>
#include <cctype>

namespace vaultd::engine {
namespace {

bool isHex(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

bool isLower(std::string_view s)
{
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

std::string lowered(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool listed(const std::vector<std::string>& models, std::string_view model)
{
    return std::find(models.begin(), models.end(), model) != models.end();
}

}  // namespace

std::string trimField(std::string_view text)
{
    auto padding = [](char c) { return c == ' ' || c == '\0' || c == '\t' || c == '\n'; };
    while (!text.empty() && padding(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && padding(text.back()))
        text.remove_suffix(1);
    return std::string(text);
}

std::optional<std::string> canonicalVolumeId(std::string_view text)
{
    const std::string id = lowered(trimField(text));
    std::string_view rest = id;
    if (!rest.starts_with("vol"))
        return std::nullopt;
    rest.remove_prefix(3);
    if (rest.starts_with("-"))
        rest.remove_prefix(1);
    // EBS ids are vol- and 8 (old) or 17 hex digits.
    if ((rest.size() != 8 && rest.size() != 17) || !isHex(rest))
        return std::nullopt;
    return "vol-" + std::string(rest);
}

std::optional<std::string> ebsVolumeId(std::string_view model, std::string_view serial,
                                       const IdentityRules& rules)
{
    if (!listed(rules.ebsModels, trimField(model)))
        return std::nullopt;
    const std::string s = trimField(serial);
    // The serial has no dash; a dashed one is not what EBS reports.
    if (!s.starts_with("vol") || s.find('-') != std::string::npos)
        return std::nullopt;
    return canonicalVolumeId(s);
}

std::optional<std::string> canonicalRequestedName(std::string_view text)
{
    std::string_view name = text;
    std::string trimmed = trimField(name);
    name = trimmed;
    if (name.starts_with("/dev/"))
        name.remove_prefix(5);
    std::string_view letters;
    if (name.starts_with("xvd"))
        letters = name.substr(3);
    else if (name.starts_with("sd"))
        letters = name.substr(2);
    else
        return std::nullopt;
    if (letters.size() > 2 || !isLower(letters))
        return std::nullopt;
    return "sd" + std::string(letters);
}

std::optional<std::string> requestedNameFromIdentify(std::span<const std::uint8_t> identify)
{
    if (identify.size() < kIdentifyVendorOffset + kIdentifyNameBytes)
        return std::nullopt;
    const auto* start = reinterpret_cast<const char*>(identify.data() + kIdentifyVendorOffset);
    return canonicalRequestedName(std::string_view(start, kIdentifyNameBytes));
}

std::optional<std::string> requestedNameFromLinks(const std::vector<std::string>& links)
{
    for (const auto& link : links) {
        std::string_view l = link;
        if (!l.starts_with("/dev/") || l.find('/', 5) != std::string_view::npos)
            continue;
        if (auto name = canonicalRequestedName(l))
            return name;
    }
    return std::nullopt;
}

Identity identify(const IdentityInput& input, const IdentityRules& rules)
{
    Identity id;
    id.serial = trimField(input.serial);
    id.model = trimField(input.model);
    id.ephemeral = listed(rules.instanceStoreModels, id.model);
    // The volume id and the requested name are the disk's; a partition
    // answering to them would make every such name ambiguous.
    if (input.partition)
        return id;
    if (auto vol = ebsVolumeId(id.model, id.serial, rules))
        id.ebsVolumeId = *vol;

    if (input.kernelName.starts_with("xvd")) {
        // Xen: the kernel names the device after what was asked for.
        if (auto name = canonicalRequestedName(input.kernelName))
            id.requestedName = *name;
    } else if (!id.ebsVolumeId.empty()) {
        auto name = requestedNameFromIdentify(input.identify);
        if (!name)
            name = requestedNameFromLinks(input.links);
        if (name)
            id.requestedName = *name;
    }
    return id;
}

}  // namespace vaultd::engine
