// Maps engine errors to the named D-Bus errors documented in proto/.
// Pure; thread safe.
#pragma once

#include <sdbus-c++/Error.h>

#include "engine/error.hpp"

namespace vaultd::bus {

inline constexpr const char* kErrorPrefix = "org.vaultd.Vault1.Error.";

sdbus::Error toBusError(const engine::Error& error);

}  // namespace vaultd::bus
