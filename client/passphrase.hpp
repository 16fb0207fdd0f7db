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
#include <utility>

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

// How to ask for a secret that has no key file.
struct SecretPrompt {
    std::string prompt;                   // e.g. "New passphrase for /dev/vdb: "
    std::string repeat;                   // the second prompt; empty: asked once
    std::string what = "the passphrase";  // in messages: "{what} is empty"
    std::string option = "--key-file";    // the option that would give it instead
    // Another secret of the same command came from standard input, so a pipe there says
    // nothing about this one: ask the terminal.
    bool stdinTaken = false;
};

// The key file if one is given, else asks on the terminal as @prompt says.
SecretBuffer obtainSecret(const std::optional<std::string>& keyFile, const SecretPrompt& prompt);

// An unnamed memory file holding exactly @secret, positioned at its start, for passing as `h`.
UniqueFd secretToMemfd(const SecretBuffer& secret);

// A pipe for vaultd to write a recovery key into (Volume.AddRecoveryKey's key_out): the read
// end first, and it does not block, since the key is in the pipe by the time vaultd replies.
std::pair<UniqueFd, UniqueFd> recoveryKeyPipe();

// The recovery key vaultd wrote to @fd: one line, read to its newline, the end of file or what
// the pipe holds now, returned without the newline. Empty when that is not a recovery key
// (nothing, or anything but 0-9, a-z and dashes).
SecretBuffer readRecoveryKey(int fd);

// A second descriptor for the same memfd, rewound, so a call that must be
// retried (after authentication) can send the passphrase again.
UniqueFd rewoundCopy(const UniqueFd& memfd);

}  // namespace vaultctl
