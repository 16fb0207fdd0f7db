#include "engine/quote.hpp"

#include <fmt/format.h>

namespace vaultd::engine {

std::string_view clipped(std::string_view text, std::size_t max)
{
    if (text.size() <= max)
        return text;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;
    return text.substr(0, end);
}

std::string quoted(std::string_view text)
{
    if (text.size() <= kQuotedBytes)
        return fmt::format("'{}'", text);
    return fmt::format("'{}…' ({} bytes)", clipped(text, kQuotedBytes), text.size());
}

}  // namespace vaultd::engine
