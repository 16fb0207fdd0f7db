// The daemon's configuration file (TOML), turned into the engine's settings.
// Unknown keys and bad values are errors, so a typo never silently weakens
// the KDF. Pure apart from reading the file; thread safe.
#pragma once

#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/operations.hpp"

namespace vaultd {

engine::Result<engine::EngineConfig> parseConfig(std::string_view text, std::string_view origin);

// A missing file at the default path means the defaults; a path given
// explicitly must exist.
engine::Result<engine::EngineConfig> loadConfig(const std::string& path, bool mustExist);

}  // namespace vaultd
