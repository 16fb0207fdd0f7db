#include "toml_text.hpp"

#include <algorithm>
#include <optional>
#include <string>

namespace vaultd {
namespace {

bool startsKey(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '"' || c == '\'';
}

// A table header ("[name]" or "[[name]]" at the start of a line) whose
// name does not start as a key does: toml++ asserts it does. A line inside
// a multi-line array may be taken for a header: vaultd's files need none.
bool badTableHeader(std::string_view rest, bool lastLine)
{
    if (!rest.empty() && rest.front() == '[')
        rest.remove_prefix(1);
    const auto name = rest.find_first_not_of(" \t");
    // At the end of the text toml++ refuses it; a line break would be taken
    // for the name's first character.
    if (name == std::string_view::npos)
        return !lastLine;
    return rest[name] != ']' && !startsKey(rest[name]);
}

// Digits, with '_' between them.
std::size_t digitsAt(std::string_view token, std::size_t i)
{
    const std::size_t start = i;
    while (i < token.size() &&
           ((token[i] >= '0' && token[i] <= '9') || (token[i] == '_' && i > start)))
        ++i;
    return i - start;
}

// An integer or a decimal float as TOML writes them ([+-]1_000, 1.5,
// 2e-3): toml++ refuses any that is still wrong (a leading zero, a '_' at
// the end) as it should.
bool isNumber(std::string_view token)
{
    std::size_t i = 0;
    if (i < token.size() && (token[i] == '+' || token[i] == '-'))
        ++i;
    std::size_t n = digitsAt(token, i);
    if (n == 0)
        return false;
    i += n;
    if (i < token.size() && token[i] == '.') {
        n = digitsAt(token, i + 1);
        if (n == 0)
            return false;
        i += 1 + n;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        if (i < token.size() && (token[i] == '+' || token[i] == '-'))
            ++i;
        n = digitsAt(token, i);
        if (n == 0)
            return false;
        i += n;
    }
    return i == token.size();
}

// One line's tokens after its first, outside quoted strings and comments:
// no braces (inline tables), and no value other than a quoted string, a
// number, true, false or a list of these. toml++ 3.3 fails
// assertions on a '}' where an array's value should be and while it scans
// some malformed dates and numbers; vaultd's files need none of them.
// @depth carries the arrays open at the line's end to the next line.
std::optional<std::string> unsafeTokens(std::string_view l, int& depth)
{
    bool valueNext = false;
    for (std::size_t i = 0; i < l.size(); ++i) {
        const char c = l[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
            continue;
        } else if (c == '#') {
            break;
        } else if (c == '"' || c == '\'') {
            // To the closing quote; a basic string's backslash escapes the
            // next character. Unclosed: toml++ refuses it.
            std::size_t j = i + 1;
            while (j < l.size() && l[j] != c)
                j += (c == '"' && l[j] == '\\') ? 2 : 1;
            i = j;
            valueNext = false;
        } else if (c == '=') {
            valueNext = true;
        } else if (c == '[') {
            ++depth;
            valueNext = false;
        } else if (c == ']') {
            depth = std::max(0, depth - 1);
        } else if (c == '{' || c == '}') {
            return "inline tables ({...}) are not used in vaultd's files";
        } else {
            // A value runs to what toml++ takes for its end (a quote does
            // not end it); a key to anything that is not a key's.
            const bool value = valueNext || depth > 0;
            const std::size_t end =
                std::min(l.find_first_of(value ? " \t\r,]}#" : " \t\r,[]=#\"'{}", i), l.size());
            const std::string_view token = l.substr(i, end - i);
            if (value && token != "true" && token != "false" && !isNumber(token))
                return "a value must be a quoted string, a number, true, false or a list of "
                       "these";
            valueNext = false;
            i = end - 1;
        }
    }
    return std::nullopt;
}

// What toml++ 3.3 cannot be given. Its check for Unicode whitespace is
// undefined behaviour for most non-ASCII characters, and it asks it of any
// character where whitespace may come, also while it looks ahead for the
// end of a malformed value: so non-ASCII text only in whole-line comments.
// Some values fail assertions (unsafeTokens), and so do the table headers
// above; vaultd's files need no multi-line strings either. The first such
// line and why, or nothing.
std::optional<TomlError> unsafeForToml(std::string_view text)
{
    if (const auto at = std::min(text.find("\"\"\""), text.find("'''"));
        at != std::string_view::npos)
        return TomlError{
            static_cast<std::size_t>(std::count(text.begin(), text.begin() + at, '\n')) + 1,
            "multi-line strings are not used in vaultd's files: write the value on one line"};
    std::size_t line = 1;
    int depth = 0;  // of the arrays a value is in, across lines
    for (std::size_t start = 0; start < text.size(); ++line) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        const std::string_view l = text.substr(start, end - start);
        start = end + 1;
        const auto first = l.find_first_not_of(" \t");
        if (first == std::string_view::npos || l[first] == '#')
            continue;  // a comment may hold anything
        if (std::any_of(l.begin(), l.end(),
                        [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
            return TomlError{line, "only ASCII text, apart from comments on lines of their own"};
        if (l[first] == '[' && depth == 0 &&
            badTableHeader(l.substr(first + 1), end == text.size()))
            return TomlError{line,
                             "a table header must name a table: letters, digits, '-', '_' or a "
                             "quoted name, as in [mount]"};
        if (l[first] == '[' && depth == 0)
            continue;  // a table header, checked above
        if (auto why = unsafeTokens(l.substr(first), depth))
            return TomlError{line, *why};
    }
    return std::nullopt;
}

}  // namespace

std::variant<toml::table, TomlError> parseToml(std::string_view text, std::string_view origin)
{
    if (auto unsafe = unsafeForToml(text))
        return *unsafe;
    try {
        return toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return TomlError{e.source().begin.line, std::string(e.description())};
    }
}

}  // namespace vaultd
