#include "binding.hpp"

#include "errors.hpp"
#include "output.hpp"

#include <fmt/format.h>
#include <sdbus-c++/Error.h>

#include <algorithm>
#include <ostream>

namespace vaultctl {
namespace {

constexpr std::size_t maxUrlBytes = 255;
constexpr std::size_t minThumbprint = 16;
constexpr std::size_t maxThumbprint = 128;

// Whitespace and control characters would split or garble clevis's configuration, and quotes,
// backticks and backslashes its JSON or a shell; a URL never needs them, nor bytes beyond ASCII
// (a host in another script is written in punycode).
bool forbiddenInUrl(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '`' || c == '\\';
}

bool hostCharacter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

// Why the host in what follows the scheme is refused, or empty. It ends at a port or a path;
// an IPv6 literal is in brackets, colons and all.
std::string hostProblem(std::string_view rest)
{
    if (rest.starts_with('[')) {
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return "its IPv6 address lacks the closing bracket";
        return close == 1 ? "it names no host" : "";
    }
    std::string_view host = rest.substr(0, rest.find_first_of(":/"));
    if (host.empty())
        return "it names no host";
    if (!std::all_of(host.begin(), host.end(), hostCharacter))
        return "its host may hold only letters, digits, dots and dashes";
    return {};
}

bool base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

std::string slotList(const std::vector<std::uint32_t>& slots)
{
    return fmt::format("{}", fmt::join(slots, ", "));
}

const KeyslotInfo* findSlot(const KeyslotList& list, std::uint32_t slot)
{
    auto found = std::find_if(list.keyslots.begin(), list.keyslots.end(),
                              [slot](const KeyslotInfo& k) { return k.slot == slot; });
    return found == list.keyslots.end() ? nullptr : &*found;
}

// A SLOT that was typed: it must be one of the clevis slots, or unbind would remove a
// passphrase and call it a binding.
std::uint32_t requestedSlot(const KeyslotList& list, std::uint32_t slot, const std::string& device)
{
    const KeyslotInfo* found = findSlot(list, slot);
    if (found == nullptr)
        throw CommandError(exitUsage, fmt::format("keyslot {} of '{}' is not in use (see vaultctl "
                                                  "keyslot list {})",
                                                  slot, printable(device), printable(device)));
    if (found->kind != clevisKind)
        throw CommandError(exitUsage,
                           fmt::format("keyslot {} of '{}' is not bound to a key server (its kind "
                                       "is {}); vaultctl keyslot remove removes any keyslot",
                                       slot, printable(device), printable(found->kind)));
    return slot;
}

}  // namespace

std::string checkTangUrl(std::string_view value)
{
    if (value.size() > maxUrlBytes)
        return fmt::format("the URL is {} bytes long, at most {} are allowed", value.size(),
                           maxUrlBytes);
    // Not echoed: the reason may be a character that must not reach the terminal.
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return forbiddenInUrl(static_cast<unsigned char>(c)); }))
        return "the URL holds whitespace, a quote, a backslash, a control character or a byte "
               "beyond ASCII";

    std::string_view rest;
    if (value.starts_with("http://"))
        rest = value.substr(7);
    else if (value.starts_with("https://"))
        rest = value.substr(8);
    else
        return fmt::format("'{}' is not a key server's URL: it must start with http:// or https://",
                           value);
    if (std::string problem = hostProblem(rest); !problem.empty())
        return fmt::format("'{}' is not a key server's URL: {}", value, problem);
    return {};
}

std::string checkThumbprint(std::string_view value)
{
    if (value.size() < minThumbprint || value.size() > maxThumbprint)
        return fmt::format(
            "the thumbprint is {} characters long; a key's thumbprint has {} to {} "
            "(tang-show-keys on the server prints it)",
            value.size(), minThumbprint, maxThumbprint);
    if (!std::all_of(value.begin(), value.end(), base64url))
        return "the thumbprint may hold only base64url characters (A-Z a-z 0-9 - _), as "
               "tang-show-keys prints it";
    return {};
}

std::string checkPin(std::string_view value)
{
    if (value != tangPin)
        return fmt::format("'{}' is not a pin vaultd binds with: only tang is supported",
                           printable(value));
    return {};
}

std::vector<std::uint32_t> clevisKeyslots(const KeyslotList& list)
{
    std::vector<std::uint32_t> slots;
    for (const KeyslotInfo& k : list.keyslots) {
        if (k.kind == clevisKind)
            slots.push_back(k.slot);
    }
    std::sort(slots.begin(), slots.end());
    return slots;
}

std::uint32_t unbindKeyslot(const KeyslotList& list, std::optional<std::uint32_t> requested,
                            const std::string& device)
{
    if (requested)
        return requestedSlot(list, *requested, device);

    std::vector<std::uint32_t> slots = clevisKeyslots(list);
    if (slots.empty())
        throw CommandError(exitFailure,
                           fmt::format("'{}' is not bound to a key server (no keyslot is of kind "
                                       "{})",
                                       printable(device), clevisKind));
    if (slots.size() > 1)
        throw CommandError(exitUsage,
                           fmt::format("'{}' is bound to key servers in keyslots {}; "
                                       "name the one to remove: vaultctl unbind {} SLOT",
                                       printable(device), slotList(slots), printable(device)));
    return slots.front();
}

bool tokenChoiceNeedsKeyslots(const Invocation& invocation)
{
    return invocation.tokenUse == TokenUse::automatic && !invocation.keyFile;
}

TokenAttempt tokenAttempt(const Invocation& invocation, const std::optional<KeyslotList>& keyslots)
{
    if (invocation.tokenUse == TokenUse::only)
        return TokenAttempt::only;
    if (!tokenChoiceNeedsKeyslots(invocation) || !keyslots)
        return TokenAttempt::none;
    return clevisKeyslots(*keyslots).empty() ? TokenAttempt::none : TokenAttempt::first;
}

bool passphraseMayFollow(std::string_view errorName)
{
    return errorName == "org.vaultd.Vault1.Error.KeyServerUnavailable" ||
           errorName == "org.vaultd.Vault1.Error.CredentialRequired";
}

std::string tokenFallbackNote(std::string_view device, std::string_view message)
{
    // One line, whatever vaultd's message holds: it may give one reason per token.
    return fmt::format(
        "vaultctl: the key server did not give the key of {} ({}); asking for the passphrase",
        printable(device), message.empty() ? "vaultd gave no reason" : printable(message));
}

UnlockReply unlockTokenFirst(TokenAttempt attempt, std::string_view device,
                             const std::function<UnlockReply()>& byToken,
                             const std::function<UnlockReply()>& byPassphrase, std::ostream& err)
{
    if (attempt == TokenAttempt::none)
        return byPassphrase();
    if (attempt == TokenAttempt::only)
        return byToken();

    try {
        return byToken();
    } catch (const sdbus::Error& error) {
        if (!passphraseMayFollow(error.getName()))
            throw;
        // Flushed, so that the line comes before the prompt on the terminal.
        err << tokenFallbackNote(device, error.getMessage()) << std::endl;
    }
    return byPassphrase();
}

}  // namespace vaultctl
