// systemd's names for what vaultd provides: the unit that stands for a
// configured volume being unlocked and mounted, and the escaping systemd uses
// to put a string in a unit name.
#pragma once

#include <string>
#include <string_view>

namespace vaultd::engine {

// As systemd-escape does: every byte outside [A-Za-z0-9:_.] (and a leading
// '.') becomes \xNN, so "my-data" is "my\x2ddata".
std::string escapeUnitString(std::string_view s);

// vault-volume@NAME.service for the mapping NAME, escaped.
std::string volumeUnitName(std::string_view mappingName);

}  // namespace vaultd::engine
