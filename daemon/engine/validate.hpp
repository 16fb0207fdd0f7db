// Checks for everything a caller can name: mapping names, mount points,
// labels, and the force confirmation of a destructive format. Pure functions
// of their arguments (no filesystem access); thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/filesystem.hpp"

namespace vaultd::engine {

inline constexpr std::size_t kMaxMappingName = 127;
inline constexpr std::size_t kMaxPathLength = 4095;

// 1 to 127 bytes of letters, digits and -_.+=,@% ; not "." or "..".
Status checkMappingName(std::string_view name);

// An absolute, normalised path (no ".", "..", empty components or trailing
// slash) that is not a system directory nor inside one.
Status checkMountPoint(std::string_view path);

// The root, /home itself, or a directory in one of the system's own trees
// (/etc, /usr, /var, /run, ...): never a place for a volume.
bool isSystemDirectory(std::string_view path);

// Whether @path is one of @roots or inside one.
bool isUnderRoots(std::string_view path, const std::vector<std::string>& roots);

// A UUID as libcryptsetup writes one: 8-4-4-4-12 hexadecimal digits.
bool isUuid(std::string_view text);

// A key server's address: http:// or https://, a host of letters, digits,
// dots and dashes (or a bracketed IPv6 address), an optional port and path;
// at most 255 bytes, nothing a shell or JSON would read differently.
Status checkTangUrl(std::string_view url);

// A JWK thumbprint: 16 to 128 characters of base64url.
Status checkThumbprint(std::string_view thumbprint);

// Printable ASCII without quotes or backslashes, within the filesystem's limit.
Status checkLabel(std::string_view label, Filesystem fs);

// The confirmation a destructive format needs: "NODE:SIZE" of the device as
// it is now, so a request aimed at one disk cannot destroy another.
std::string forceToken(std::string_view node, std::uint64_t size);

// Where a mapping is mounted when the caller names no mount point.
std::string defaultMountPoint(std::string_view base, std::string_view mappingName);

}  // namespace vaultd::engine
