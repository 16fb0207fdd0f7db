// LUKS parameters with the cheapest KDF libcryptsetup accepts, so that host
// tests spend no time in it.
#pragma once

#include <string>

#include "engine/ports.hpp"

namespace vaultd::testing {

inline engine::LuksParams quickParams(const std::string& label = "")
{
    engine::LuksParams params;
    params.label = label;
    params.pbkdf.type = "pbkdf2";
    params.pbkdf.iterations = 1000;
    return params;
}

}  // namespace vaultd::testing
