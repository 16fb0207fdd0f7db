#include "passphrase.hpp"

#include "errors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace vaultctl {
namespace {

constexpr std::string_view stdinPath = "-";
constexpr std::string_view ttyPath = "/dev/tty";
constexpr const char* noTerminal = "cannot open {} to ask for {}: {}; pass {}";
constexpr const char* notATerminal =
    "standard input is not a terminal; pass {} - to read {} from it";

std::string errnoText(int error)
{
    return std::strerror(error);
}

std::string keyFileName(std::string_view path)
{
    return fmt::format("key file '{}'", path);
}

std::string tooLarge(std::string_view source)
{
    return fmt::format("{} is larger than {} bytes", source, SecretBuffer::capacity);
}

// Called once the buffer is full: one byte more means the input is over the cap.
bool hasMoreInput(int fd, std::string_view source)
{
    std::byte probe{};
    for (;;) {
        ssize_t count = read(fd, &probe, 1);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            throw CommandError(exitFailure,
                               fmt::format("cannot read {}: {}", source, errnoText(errno)));
        explicit_bzero(&probe, sizeof probe);
        return count > 0;
    }
}

// The terminal's modes while echo is off, for the signal handler to put back.
int echoFd = -1;
termios savedModes{};

constexpr std::array promptSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void restoreEchoAndDie(int signal)
{
    // Only async-signal-safe calls. SA_RESETHAND made the action the default again, so the
    // re-raised signal, delivered once this returns, ends the process as it would have.
    tcsetattr(echoFd, TCSAFLUSH, &savedModes);
    raise(signal);
}

// Turns echo off on a terminal for its lifetime, and back on even if a signal ends the process.
class EchoOff {
public:
    explicit EchoOff(int fd) : fd_(fd)
    {
        if (tcgetattr(fd, &savedModes) != 0)
            throw CommandError(
                exitFailure, fmt::format("cannot read the terminal's modes: {}", errnoText(errno)));
        echoFd = fd;
        installHandlers();

        termios quiet = savedModes;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
            int error = errno;
            restoreHandlers();
            throw CommandError(exitFailure,
                               fmt::format("cannot turn off echo: {}", errnoText(error)));
        }
    }

    ~EchoOff()
    {
        // TCSANOW: keep whatever was typed ahead for the next prompt.
        tcsetattr(fd_, TCSANOW, &savedModes);
        restoreHandlers();
    }

    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;

private:
    void installHandlers()
    {
        struct sigaction action {};
        action.sa_handler = restoreEchoAndDie;
        action.sa_flags = SA_RESETHAND;
        sigemptyset(&action.sa_mask);
        for (std::size_t i = 0; i < promptSignals.size(); ++i) {
            sigaction(promptSignals[i], nullptr, &previous_[i]);
            // An ignored signal (nohup's SIGHUP) must stay ignored, not start to kill us.
            if (previous_[i].sa_handler != SIG_IGN)
                sigaction(promptSignals[i], &action, nullptr);
        }
    }

    void restoreHandlers()
    {
        for (std::size_t i = 0; i < promptSignals.size(); ++i)
            sigaction(promptSignals[i], &previous_[i], nullptr);
    }

    int fd_;
    std::array<struct sigaction, promptSignals.size()> previous_{};
};

// Prompts on the controlling terminal, which stays usable when output is redirected.
class TerminalPrompt {
public:
    explicit TerminalPrompt(const SecretPrompt& spec)
        : fd_(open(ttyPath.data(), O_RDWR | O_NOCTTY | O_CLOEXEC))
    {
        if (!fd_.valid())
            throw CommandError(exitUsage, fmt::format(noTerminal, ttyPath, spec.what,
                                                      errnoText(errno), spec.option));
    }

    SecretBuffer ask(std::string_view prompt)
    {
        SecretBuffer line = [&] {
            // Echo goes off before the prompt shows: turning it off flushes
            // pending input, which would eat an answer typed (or sent by a
            // program) right after the prompt appeared.
            EchoOff echoOff(fd_.get());
            write(prompt);
            return readLine();
        }();
        // Echo was off, so the user's Enter left the cursor on the prompt line.
        write("\n");
        return line;
    }

private:
    void write(std::string_view text)
    {
        // A prompt that does not show is not worth failing for: the read still works.
        if (::write(fd_.get(), text.data(), text.size()) < 0)
            return;
    }

    // One line, without its newline; end of file (Ctrl-D) ends it too.
    SecretBuffer readLine()
    {
        SecretBuffer line;
        for (;;) {
            std::span<std::byte> room = line.unused();
            if (room.empty())
                throw CommandError(exitUsage, tooLarge("the passphrase"));

            ssize_t count = read(fd_.get(), room.data(), room.size());
            if (count < 0 && errno == EINTR)
                continue;
            if (count < 0)
                throw CommandError(exitFailure,
                                   fmt::format("cannot read the passphrase: {}", errnoText(errno)));
            if (count == 0)
                return line;

            line.commit(static_cast<std::size_t>(count));
            if (line.bytes().back() == std::byte{'\n'}) {
                line.dropLast();
                return line;
            }
        }
    }

    UniqueFd fd_;
};

SecretBuffer promptSecret(const SecretPrompt& spec)
{
    // A pipe on standard input means a script meant to feed the passphrase; reading the
    // terminal instead would hang it or silently take a different secret.
    if (!spec.stdinTaken && !isatty(STDIN_FILENO))
        throw CommandError(exitUsage, fmt::format(notATerminal, spec.option, spec.what));

    TerminalPrompt prompt(spec);
    SecretBuffer passphrase = prompt.ask(spec.prompt);
    if (passphrase.empty())
        throw CommandError(exitUsage, fmt::format("{} is empty", spec.what));
    if (spec.repeat.empty())
        return passphrase;

    SecretBuffer repeated = prompt.ask(spec.repeat);
    if (!repeated.sameBytes(passphrase))
        throw CommandError(exitUsage, "passphrases do not match");
    return passphrase;
}

void writeAll(int fd, std::span<const std::byte> bytes)
{
    while (!bytes.empty()) {
        ssize_t count = write(fd, bytes.data(), bytes.size());
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            throw CommandError(
                exitFailure, fmt::format("cannot fill the passphrase memfd: {}", errnoText(errno)));
        bytes = bytes.subspan(static_cast<std::size_t>(count));
    }
}

bool isRecoveryKeyByte(std::byte b)
{
    auto c = static_cast<unsigned char>(b);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-';
}

}  // namespace

SecretBuffer readSecret(int fd, std::string_view source)
{
    SecretBuffer secret;
    for (;;) {
        std::span<std::byte> room = secret.unused();
        if (room.empty()) {
            if (hasMoreInput(fd, source))
                throw CommandError(exitUsage, tooLarge(source));
            return secret;
        }

        ssize_t count = read(fd, room.data(), room.size());
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            throw CommandError(exitFailure,
                               fmt::format("cannot read {}: {}", source, errnoText(errno)));
        if (count == 0)
            return secret;
        secret.commit(static_cast<std::size_t>(count));
    }
}

SecretBuffer readKeyFile(const std::string& path)
{
    std::string source = keyFileName(path);
    if (path == stdinPath)
        return readSecret(STDIN_FILENO, source);

    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid())
        throw CommandError(exitUsage, fmt::format("cannot open {}: {}", source, errnoText(errno)));
    return readSecret(fd.get(), source);
}

SecretBuffer obtainPassphrase(const std::optional<std::string>& keyFile, std::string_view device,
                              bool confirm)
{
    SecretPrompt spec;
    spec.prompt = fmt::format("Passphrase for {}: ", device);
    if (confirm)
        spec.repeat = "Repeat passphrase: ";
    return obtainSecret(keyFile, spec);
}

SecretBuffer obtainSecret(const std::optional<std::string>& keyFile, const SecretPrompt& prompt)
{
    if (!keyFile)
        return promptSecret(prompt);

    SecretBuffer secret = readKeyFile(*keyFile);
    if (secret.empty())
        throw CommandError(exitUsage, fmt::format("{} is empty", keyFileName(*keyFile)));
    return secret;
}

UniqueFd secretToMemfd(const SecretBuffer& secret)
{
    UniqueFd fd(memfd_create("vaultctl-passphrase", MFD_CLOEXEC));
    if (!fd.valid())
        throw CommandError(exitFailure,
                           fmt::format("cannot create the passphrase memfd: {}", errnoText(errno)));

    writeAll(fd.get(), secret.bytes());

    // vaultd reads through the same open file, so it must start where the secret does.
    if (lseek(fd.get(), 0, SEEK_SET) != 0)
        throw CommandError(exitFailure,
                           fmt::format("cannot rewind the passphrase memfd: {}", errnoText(errno)));
    return fd;
}

UniqueFd rewoundCopy(const UniqueFd& memfd)
{
    UniqueFd copy(fcntl(memfd.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy.valid() || lseek(copy.get(), 0, SEEK_SET) != 0)
        throw CommandError(exitFailure,
                           fmt::format("cannot reuse the passphrase memfd: {}", errnoText(errno)));
    return copy;
}

std::pair<UniqueFd, UniqueFd> recoveryKeyPipe()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw CommandError(exitFailure, fmt::format("cannot make a pipe for the recovery key: {}",
                                                    errnoText(errno)));
    UniqueFd readEnd(fds[0]);
    UniqueFd writeEnd(fds[1]);
    // Only the read end: the write end is vaultd's to write as it likes.
    int flags = fcntl(readEnd.get(), F_GETFL);
    if (flags < 0 || fcntl(readEnd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        throw CommandError(exitFailure, fmt::format("cannot make a pipe for the recovery key: {}",
                                                    errnoText(errno)));
    return {std::move(readEnd), std::move(writeEnd)};
}

SecretBuffer readRecoveryKey(int fd)
{
    SecretBuffer key;
    for (;;) {
        std::span<std::byte> room = key.unused();
        if (room.empty())
            break;
        ssize_t count = read(fd, room.data(), room.size());
        if (count < 0 && errno == EINTR)
            continue;
        // End of file, or (EAGAIN) nothing more for now: vaultd wrote it all before replying.
        if (count <= 0)
            break;
        key.commit(static_cast<std::size_t>(count));
        if (key.bytes().back() == std::byte{'\n'})
            break;
    }
    if (!key.empty() && key.bytes().back() == std::byte{'\n'})
        key.dropLast();
    if (key.full() || !std::all_of(key.bytes().begin(), key.bytes().end(), isRecoveryKeyByte))
        key.reset();
    return key;
}

}  // namespace vaultctl
