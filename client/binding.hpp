// The rules of vaultctl bind and unbind that need no bus: the shape of a tang URL and of a key
// thumbprint, checked before vaultd checks them again, and which keyslot unbind removes; and
// whether unlock tries the key of a volume's clevis tokens before the passphrase. Pure
// functions of their arguments, except unlockTokenFirst, which runs the calls it is given;
// thread safe.
#pragma once

#include "cli.hpp"
#include "vault_client.hpp"
#include "volume_properties.hpp"

#include <cstdint>
#include <functional>
#include <iosfwd>
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

// How unlock uses the key that a volume's clevis tokens get from their key server.
enum class TokenAttempt {
    none,   // the passphrase (or key file) only
    first,  // the token's key, then the passphrase if no key server gave it
    only    // the token's key, and its failure is the command's
};

// Whether the choice depends on the volume's keyslots: only when neither --token, --no-token
// nor --key-file settles it, so that only then is ListKeyslots called.
bool tokenChoiceNeedsKeyslots(const Invocation& invocation);

// What unlock tries for @invocation. @keyslots matter only when tokenChoiceNeedsKeyslots; then
// the token comes first when they hold a clevis keyslot, and never when they are nullopt
// (ListKeyslots failed).
TokenAttempt tokenAttempt(const Invocation& invocation, const std::optional<KeyslotList>& keyslots);

// The D-Bus errors after which a token attempt gives way to the passphrase: no key server gave
// the key (KeyServerUnavailable), or the volume has no clevis token (CredentialRequired).
bool passphraseMayFollow(std::string_view errorName);

// The line for standard error when the passphrase is asked for after all; @message is vaultd's.
std::string tokenFallbackNote(std::string_view device, std::string_view message);

// Unlocks as @attempt says: @byToken, @byPassphrase, or @byToken and, when it throws an
// sdbus::Error that passphraseMayFollow, the note on @err and then @byPassphrase. Anything else
// @byToken throws goes to the caller.
UnlockReply unlockTokenFirst(TokenAttempt attempt, std::string_view device,
                             const std::function<UnlockReply()>& byToken,
                             const std::function<UnlockReply()>& byPassphrase, std::ostream& err);

}  // namespace vaultctl
