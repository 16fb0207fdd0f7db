#include "engine/unit_names.hpp"

#include <fmt/format.h>

namespace vaultd::engine {

namespace {

bool keptAsIs(char c, bool first)
{
    if (c >= 'a' && c <= 'z')
        return true;
    if (c >= 'A' && c <= 'Z')
        return true;
    if (c >= '0' && c <= '9')
        return true;
    return c == ':' || c == '_' || (c == '.' && !first);
}

}  // namespace

std::string escapeUnitString(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (keptAsIs(s[i], i == 0))
            out += s[i];
        else
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
    }
    return out;
}

std::string volumeUnitName(std::string_view mappingName)
{
    return "vault-volume@" + escapeUnitString(mappingName) + ".service";
}

}  // namespace vaultd::engine
