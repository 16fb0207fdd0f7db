// A SecretBuffer holding @text, for host tests that pass passphrases.
#pragma once

#include <cstring>
#include <string_view>

#include "engine/secret_buffer.hpp"

namespace vaultd::testing {

inline engine::SecretBuffer secret(std::string_view text)
{
    engine::SecretBuffer buffer;
    std::memcpy(buffer.spare().data(), text.data(), text.size());
    buffer.commit(text.size());
    return buffer;
}

}  // namespace vaultd::testing
