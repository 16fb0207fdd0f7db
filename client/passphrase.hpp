// Where a passphrase comes from (a key file read as exact bytes as the calling user, or the
// terminal with echo off) and how it reaches vaultd (a memfd, never a string or a path).
// Failures throw CommandError. Not thread safe: the prompt changes terminal modes and signal
// dispositions while it waits.
#pragma once

#include "secret_buffer.hpp"
#include "unique_fd.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace vaultctl {

// Reads @fd up to end of file, refusing more than SecretBuffer::capacity bytes.
// @source names the input in messages, e.g. "key file 'k'".
SecretBuffer readSecret(int fd, std::string_view source);

// @path "-" means standard input. Nothing is stripped: a final newline is part of the key.
SecretBuffer readKeyFile(const std::string& path);

// The key file if one is given, else prompts on the terminal ("Passphrase for DEVICE: "),
// twice when @confirm. Refuses an empty secret, and a piped standard input without a key file.
SecretBuffer obtainPassphrase(const std::optional<std::string>& keyFile, std::string_view device,
                              bool confirm);

// An unnamed memory file holding exactly @secret, positioned at its start, for passing as `h`.
UniqueFd secretToMemfd(const SecretBuffer& secret);

// A second descriptor for the same memfd, rewound, so a call that must be
// retried (after authentication) can send the passphrase again.
UniqueFd rewoundCopy(const UniqueFd& memfd);

}  // namespace vaultctl
