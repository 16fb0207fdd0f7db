#include "engine/resolve.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "engine/quote.hpp"

namespace vaultd::engine {
namespace {

bool equalNoCase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::size_t editDistance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// How a volume is best introduced in a message: its kernel name and what
// else it answers to.
std::string introduce(const Volume& v)
{
    std::vector<std::string> also;
    if (!v.identity.requestedName.empty())
        also.push_back("was attached as " + v.identity.requestedName);
    if (!v.identity.ebsVolumeId.empty())
        also.push_back("is " + v.identity.ebsVolumeId);
    if (!v.mappingName.empty())
        also.push_back("is unlocked as " + v.mappingName);
    if (also.empty())
        return v.kernelName;
    return fmt::format("{} {}", v.kernelName, fmt::join(also, " and "));
}

// The names a volume answers to, for suggestions.
std::vector<std::string> namesOf(const Volume& v)
{
    std::vector<std::string> names = {v.kernelName, v.node};
    for (const auto& n :
         {v.identity.requestedName, v.identity.ebsVolumeId, v.mappingName, v.signature.label}) {
        if (!n.empty())
            names.push_back(n);
    }
    if (!v.identity.requestedName.empty())
        names.push_back("xvd" + v.identity.requestedName.substr(2));
    return names;
}

Error noSuchDevice(const std::vector<Volume>& volumes, std::string_view spec)
{
    // Near misses first (a typo, a letter off); otherwise, when there are
    // few volumes, all of them, so the message says what to type instead.
    std::vector<std::string> close;
    for (const auto& v : volumes) {
        for (const auto& name : namesOf(v)) {
            // One edit is a typo in a short name; longer ones may take two.
            const std::size_t slack = name.size() <= 5 ? 1 : 2;
            if (editDistance(name, spec) <= slack ||
                (spec.size() >= 4 && name.find(spec) != std::string::npos)) {
                close.push_back(introduce(v));
                break;
            }
        }
    }
    if (close.empty() && volumes.size() <= 4) {
        for (const auto& v : volumes)
            close.push_back(introduce(v));
    }
    if (close.size() > 4)
        close.resize(4);
    if (close.empty())
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("{} not found: vaultd sees no volumes", quoted(spec)));
    return makeError(ErrorCode::NoSuchDevice,
                     fmt::format("{} not found; {}", quoted(spec), fmt::join(close, "; ")));
}

}  // namespace

std::vector<std::string> howItMatches(const Volume& v, std::string_view spec)
{
    std::vector<std::string> how;
    if (spec == v.kernelName)
        how.emplace_back("kernel name");
    if (spec == v.node)
        how.emplace_back("device node");
    if (std::find(v.links.begin(), v.links.end(), spec) != v.links.end())
        how.emplace_back("device link");
    if (!v.identity.requestedName.empty() &&
        canonicalRequestedName(spec) == v.identity.requestedName)
        how.emplace_back("requested name " + v.identity.requestedName);
    if (!v.identity.ebsVolumeId.empty() && canonicalVolumeId(spec) == v.identity.ebsVolumeId)
        how.emplace_back("EBS volume id");
    if (v.signature.isLuks() && !v.signature.uuid.empty() && equalNoCase(spec, v.signature.uuid))
        how.emplace_back("LUKS UUID");
    if (v.signature.isLuks() && !v.signature.label.empty() && spec == v.signature.label)
        how.emplace_back("LUKS label");
    if (!v.mappingName.empty() && (spec == v.mappingName || spec == "/dev/mapper/" + v.mappingName))
        how.emplace_back("mapping name");
    return how;
}

Result<std::string> resolve(const std::vector<Volume>& volumes, std::string_view spec)
{
    if (spec.empty() || spec.size() > kMaxSpecLength)
        return makeError(ErrorCode::InvalidArgument,
                         "name a device, e.g. /dev/nvme1n1, sdf, vol-0123456789abcdef0 or vdb");
    // A device node is one device by definition, and the way out of any
    // ambiguity: it wins over another volume's alias of the same spelling.
    for (const auto& v : volumes) {
        if (spec == v.node)
            return v.kernelName;
    }
    std::vector<std::pair<const Volume*, std::vector<std::string>>> found;
    for (const auto& v : volumes) {
        auto how = howItMatches(v, spec);
        if (!how.empty())
            found.emplace_back(&v, std::move(how));
    }
    if (found.size() == 1)
        return found.front().first->kernelName;
    if (found.empty())
        return noSuchDevice(volumes, spec);

    std::vector<std::string> which;
    for (const auto& [v, how] : found)
        which.push_back(fmt::format("{} ({})", v->node, fmt::join(how, ", ")));
    return makeError(ErrorCode::Ambiguous,
                     fmt::format("{} matches {} devices: {}; name one by its device node",
                                 quoted(spec), found.size(), fmt::join(which, "; ")));
}

}  // namespace vaultd::engine
