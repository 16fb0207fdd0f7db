// Reads a secret from a file descriptor a caller handed over, up to end of
// file, into a SecretBuffer. Waits at most @timeout for data, so a caller
// that never closes its pipe cannot hold a worker forever. Blocking; thread
// safe.
#pragma once

#include <chrono>

#include "engine/error.hpp"
#include "engine/secret_buffer.hpp"

namespace vaultd::system {

engine::Status readSecret(int fd, engine::SecretBuffer& into, std::chrono::milliseconds timeout);

}  // namespace vaultd::system
