// Reads a secret from a file descriptor a caller handed over, up to end of
// file, into a SecretBuffer. Waits at most @timeout for data, so a caller
// that never closes its pipe cannot hold a worker forever. Blocking; thread
// safe.
#pragma once

#include <chrono>
#include <string>

#include "engine/error.hpp"
#include "engine/secret_buffer.hpp"

namespace vaultd::system {

engine::Status readSecret(int fd, engine::SecretBuffer& into, std::chrono::milliseconds timeout);

// Reads the key file an administrator configured for a volume: a regular
// file (no symbolic link at its end), owned by root, that no one else may
// read or write; anything else is refused, since the key would not be
// secret. The path comes from root's configuration, never from a caller.
engine::Status readKeyFile(const std::string& path, engine::SecretBuffer& into);

}  // namespace vaultd::system
