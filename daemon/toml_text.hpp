// TOML text into a toml++ table, for the configuration and volume files.
// toml++ 3.3 (Debian 12's) has inputs it cannot take: a table header such
// as "[!x]" fails an assertion (vaultd would abort), and a non-ASCII
// character where whitespace may come reaches __builtin_unreachable. Both
// were found by tests/fuzz/parsers. Such text is refused here first, like
// any other error, with its line: non-ASCII text only in comments and
// one-line quoted strings, no multi-line strings. Thread safe.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace vaultd {

struct TomlError {
    std::size_t line = 0;  // 1-based; 0 when no line applies
    std::string description;
};

std::variant<toml::table, TomlError> parseToml(std::string_view text, std::string_view origin);

}  // namespace vaultd
