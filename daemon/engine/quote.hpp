// Callers' strings in messages. Anything a caller sends can be megabytes
// long; an error reply or a log line quotes at most a short, valid UTF-8
// prefix of it. sd-bus refuses to send a string that is not valid UTF-8,
// so a cut never falls inside a character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vaultd::engine {

inline constexpr std::size_t kQuotedBytes = 64;

// The longest prefix of @text of at most @max bytes that ends on a UTF-8
// character boundary.
std::string_view clipped(std::string_view text, std::size_t max);

// @text in single quotes, cut to kQuotedBytes with a trailing ellipsis and
// its full length when it is longer: 'aaaa…' (33554432 bytes).
std::string quoted(std::string_view text);

}  // namespace vaultd::engine
