// What vaultctl tells a person (one sentence) and a script (the exit code) when something fails.
// CommandError carries a failure vaultctl found itself; the functions map the daemon's named
// D-Bus errors. Pure functions; thread safe.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace vaultctl {

// Exit codes, part of the command's interface: scripts branch on them, so never renumber.
//   0  success
//   1  any other failure (the daemon's Failed, NotLuks, WrongState, TooSmall, ...)
//   2  usage: bad arguments or input, refused before anything changed
//   3  not authorized (polkit or the bus policy said no)
//   4  wrong passphrase: no keyslot opens with it
//   5  busy: the device, mapping, filesystem or mount point is in use
//   6  not empty: the device holds data; format needs --force NODE:SIZE. Also a header
//      restore over another volume's header, or over none, which needs it too
//   7  no such device: nothing matches, or the device went away
//   8  vaultd is not running, or the system bus cannot be reached
// The key errors fall in these classes: a weak passphrase is 2 (input refused, nothing
// changed); no free keyslot, the last keyslot, LUKS1, too little memory for a key
// derivation and a key server that cannot be reached (or whose keys do not match the
// thumbprint) are 1.
enum ExitCode : int {
    exitOk = 0,
    exitFailure = 1,
    exitUsage = 2,
    exitNotAuthorized = 3,
    exitWrongPassphrase = 4,
    exitBusy = 5,
    exitNotEmpty = 6,
    exitNoSuchDevice = 7,
    exitNotRunning = 8,
};

// The same table, for the end of --help.
std::string exitCodeHelp();

class CommandError : public std::runtime_error {
public:
    // @message is the whole sentence printed after "vaultctl: ": lower case, no final period.
    // @errorName: the D-Bus error it stands for, when it restates one.
    CommandError(int exitCode, const std::string& message, std::string errorName = {})
        : std::runtime_error(message), exitCode_(exitCode), errorName_(std::move(errorName))
    {
    }

    int exitCode() const { return exitCode_; }
    const std::string& errorName() const { return errorName_; }

private:
    int exitCode_;
    std::string errorName_;
};

// @name is a D-Bus error name, e.g. org.vaultd.Vault1.Error.Busy.
int exitCodeForError(std::string_view name);

// True when the failure means nobody owns org.vaultd.Vault1 (and activation did not start it).
bool meansNotRunning(std::string_view name);

// The cause to print: the daemon's own message, or a fallback sentence when it sent none,
// followed by "; " and what to do for the errors that have a hint (WeakPassphrase, ...).
std::string causeOfError(std::string_view name, std::string_view message);

}  // namespace vaultctl
