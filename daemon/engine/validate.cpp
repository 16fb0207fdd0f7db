#include "engine/validate.hpp"

#include <cctype>

#include "engine/quote.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>

namespace vaultd::engine {
namespace {

bool isNameChar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("-_.+=,@%").find(c) != std::string_view::npos;
}

// Trees a volume must never be mounted over or inside: the system's own.
// /media, /mnt, /srv, /home and /opt (and anything not listed) remain open.
constexpr std::array kSystemTrees = {
    "/bin",  "/boot", "/dev", "/etc",  "/lib", "/lib32", "/lib64", "/libx32",
    "/proc", "/root", "/run", "/sbin", "/sys", "/usr",   "/var",
};

bool isInside(std::string_view path, std::string_view tree)
{
    if (!path.starts_with(tree))
        return false;
    return path.size() == tree.size() || path[tree.size()] == '/';
}

std::optional<std::string_view> systemTreeOf(std::string_view path)
{
    for (std::string_view tree : kSystemTrees) {
        if (isInside(path, tree))
            return tree;
    }
    return std::nullopt;
}

Error badMountPoint(std::string_view path, std::string_view why)
{
    return makeError(ErrorCode::InvalidMountPoint,
                     fmt::format("invalid mount point {}: {}", quoted(path), why));
}

}  // namespace

Status checkMappingName(std::string_view name)
{
    if (name.empty())
        return makeError(ErrorCode::InvalidName, "the mapping name is empty");
    // /dev/mapper/control is device-mapper's own node.
    if (name == "." || name == ".." || name == "control")
        return makeError(ErrorCode::InvalidName, fmt::format("'{}' is not a mapping name", name));
    if (name.size() > kMaxMappingName)
        return makeError(ErrorCode::InvalidName,
                         fmt::format("the mapping name is {} bytes long, at most {} are allowed",
                                     name.size(), kMaxMappingName));
    for (char c : name) {
        if (!isNameChar(c))
            return makeError(ErrorCode::InvalidName,
                             "a mapping name may hold only letters, digits and -_.+=,@%");
    }
    return Done{};
}

Status checkTangUrl(std::string_view url)
{
    auto bad = [&](std::string_view why) {
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("{} is not a key server's address: {}", quoted(url), why));
    };
    if (url.size() > 255)
        return bad("it is longer than 255 bytes");
    std::string_view rest;
    if (url.starts_with("http://"))
        rest = url.substr(7);
    else if (url.starts_with("https://"))
        rest = url.substr(8);
    else
        return bad("it must start with http:// or https://");
    const std::size_t hostEnd = rest.find_first_of(":/");
    const std::string_view host = rest.substr(0, hostEnd);
    const bool ipv6 = rest.starts_with('[');
    if (!ipv6 && host.empty())
        return bad("it names no host");
    for (char c : rest) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '\'' || c == '`')
            return bad("it holds a space, a quote, a backslash or a control character");
    }
    if (!ipv6) {
        for (char c : host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
                return bad("its host may hold only letters, digits, dots and dashes");
    } else if (rest.find(']') == std::string_view::npos) {
        return bad("its IPv6 address lacks the closing bracket");
    }
    return Done{};
}

Status checkThumbprint(std::string_view thumbprint)
{
    if (thumbprint.size() < 16 || thumbprint.size() > 128)
        return makeError(
            ErrorCode::InvalidArgument,
            fmt::format("a key thumbprint has 16 to 128 characters, not {}", thumbprint.size()));
    for (char c : thumbprint)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
            return makeError(ErrorCode::InvalidArgument,
                             "a key thumbprint is base64url: letters, digits, - and _ only");
    return Done{};
}

Status checkMountPoint(std::string_view path)
{
    if (path.empty() || path.front() != '/')
        return badMountPoint(path, "it must be an absolute path");
    if (path.size() > kMaxPathLength)
        return badMountPoint(path, "it is too long");
    if (path.back() == '/')
        return badMountPoint(path, "it ends with a slash");

    std::size_t start = 1;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos)
            end = path.size();
        std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            return badMountPoint(path, "it must be normalised (no '.', '..' or '//')");
        for (char c : part) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return badMountPoint(path, "it holds a control character");
        }
        start = end + 1;
    }

    if (path == "/")
        return badMountPoint(path, "it is the root directory");
    if (path == "/home")
        return badMountPoint(path, "it would hide every home directory");
    if (auto tree = systemTreeOf(path))
        return badMountPoint(path, fmt::format("it is inside the system directory '{}'", *tree));
    return Done{};
}

bool isUnderRoots(std::string_view path, const std::vector<std::string>& roots)
{
    for (const auto& root : roots) {
        if (isInside(path, root))
            return true;
    }
    return false;
}

bool isSystemDirectory(std::string_view path)
{
    return path == "/" || path == "/home" || systemTreeOf(path).has_value();
}

Status checkLabel(std::string_view label, Filesystem fs)
{
    if (label.size() > maximumLabel(fs))
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("the label is {} bytes long, {} takes at most {}",
                                     label.size(), filesystemName(fs), maximumLabel(fs)));
    for (char c : label) {
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\'' || c == '\\')
            return makeError(ErrorCode::InvalidArgument,
                             "a label may hold only printable ASCII without quotes or backslashes");
    }
    return Done{};
}

std::string forceToken(std::string_view node, std::uint64_t size)
{
    return fmt::format("{}:{}", node, size);
}

std::string defaultMountPoint(std::string_view base, std::string_view mappingName)
{
    return fmt::format("{}/{}", base, mappingName);
}

bool isUuid(std::string_view text)
{
    if (text.size() != 36)
        return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (dash ? c != '-' : !std::isxdigit(c))
            return false;
    }
    return true;
}

}  // namespace vaultd::engine
