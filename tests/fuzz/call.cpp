#include "call.hpp"

#include <fmt/format.h>

namespace vaultd::fuzz {
namespace {

constexpr std::size_t kShownBytes = 48;

}  // namespace

std::string shownString(const std::string& s)
{
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < kShownBytes; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
            out += fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    out += "'";
    if (s.size() > kShownBytes)
        out += fmt::format("...({} bytes)", s.size());
    return out;
}

Arg fdArg(const std::shared_ptr<HostileFd>& fd)
{
    // sdbus::UnixFd dups the number; a closed one becomes -1, which sd-bus
    // refuses to send.
    return Arg{"h", fmt::format("h:{}", infoOf(fd->kind()).name),
               [fd](sdbus::Message& m) { m << sdbus::UnixFd(fd->fd()); }};
}

Arg stringArg(const std::string& value)
{
    return arg(value, shownString(value));
}

std::string Call::signature() const
{
    std::string sig;
    for (const auto& a : args)
        sig += a.signature;
    return sig;
}

std::string Call::describe() const
{
    std::string shown;
    for (const auto& a : args)
        shown += (shown.empty() ? "" : ", ") + a.shown;
    return fmt::format("{} {} {}.{}({})", category, path, interface, member, shown);
}

}  // namespace vaultd::fuzz
