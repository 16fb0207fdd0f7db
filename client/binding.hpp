// The rules of vaultctl bind and unbind that need no bus: the shape of a tang URL and of a key
// thumbprint, checked before vaultd checks them again, and which keyslot unbind removes. Pure
// functions of their arguments; thread safe.
#pragma once

#include "volume_properties.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vaultctl {

// The kind ListKeyslots reports for a keyslot that a clevis token names.
inline constexpr std::string_view clevisKind = "token:clevis";

// The one clevis pin vaultd binds with.
inline constexpr std::string_view tangPin = "tang";

// Each returns why @value is refused, or an empty string when it is accepted.
// A URL: http:// or https://, a host of letters, digits, dots and dashes (or a bracketed IPv6
// address), an optional port and path; at most 255 bytes of ASCII, with no whitespace, quotes,
// backticks, backslashes or control characters. The same rule as vaultd's.
std::string checkTangUrl(std::string_view value);
// A thumbprint: 16 to 128 characters of base64url (A-Z a-z 0-9 - _), no padding.
std::string checkThumbprint(std::string_view value);
std::string checkPin(std::string_view value);

// The slots of @list whose kind is clevisKind, in slot order.
std::vector<std::uint32_t> clevisKeyslots(const KeyslotList& list);

// The keyslot unbind removes from the volume @device: @requested when it is a clevis slot,
// else the only clevis slot there is. Throws CommandError when there is none, when there are
// several and none was requested, and when @requested is not a clevis slot.
std::uint32_t unbindKeyslot(const KeyslotList& list, std::optional<std::uint32_t> requested,
                            const std::string& device);

}  // namespace vaultctl
