#include "passphrase.hpp"

#include "errors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace vaultctl {
namespace {

constexpr std::string_view stdinPath = "-";
constexpr std::string_view ttyPath = "/dev/tty";
constexpr const char* noTerminal = "cannot open {} to ask for the passphrase: {}; pass --key-file";
constexpr const char* notATerminal =
    "standard input is not a terminal; pass --key-file - to read the passphrase from it";

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
    TerminalPrompt() : fd_(open(ttyPath.data(), O_RDWR | O_NOCTTY | O_CLOEXEC))
    {
        if (!fd_.valid())
            throw CommandError(exitUsage, fmt::format(noTerminal, ttyPath, errnoText(errno)));
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

SecretBuffer promptPassphrase(std::string_view device, bool confirm)
{
    // A pipe on standard input means a script meant to feed the passphrase; reading the
    // terminal instead would hang it or silently take a different secret.
    if (!isatty(STDIN_FILENO))
        throw CommandError(exitUsage, notATerminal);

    TerminalPrompt prompt;
    SecretBuffer passphrase = prompt.ask(fmt::format("Passphrase for {}: ", device));
    if (passphrase.empty())
        throw CommandError(exitUsage, "the passphrase is empty");
    if (!confirm)
        return passphrase;

    SecretBuffer repeated = prompt.ask("Repeat passphrase: ");
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
    if (!keyFile)
        return promptPassphrase(device, confirm);

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

}  // namespace vaultctl
