#include "errors.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace vaultctl {
namespace {

constexpr std::string_view vaultdErrorPrefix = "org.vaultd.Vault1.Error.";

struct KnownError {
    std::string_view name;
    int exitCode;
    std::string_view fallback;   // used only when the error comes without a message
    std::string_view hint = {};  // what to do, after the cause
};

// vaultd's errors by their short name, then the bus's own errors we can explain.
constexpr std::array vaultdErrors{
    KnownError{"NotAuthorized", exitNotAuthorized, "not authorized"},
    KnownError{"AuthenticationRequired", exitNotAuthorized, "authentication is required"},
    KnownError{"InvalidMountPoint", exitUsage, "invalid mount point"},
    KnownError{"WrongPassphrase", exitWrongPassphrase, "no keyslot opens with that passphrase"},
    KnownError{"CredentialRequired", exitWrongPassphrase,
               "the volume key is not at hand; the passphrase is needed"},
    KnownError{"Busy", exitBusy, "the device is in use"},
    KnownError{"NotEmpty", exitNotEmpty,
               "the device is not empty; to destroy what it holds, pass --force NODE:SIZE"},
    KnownError{"NoSuchDevice", exitNoSuchDevice, "no such device"},
    KnownError{"NameInUse", exitBusy, "the mapping name is taken by another device"},
    KnownError{"DuplicateFilesystemUuid", exitBusy,
               "a filesystem with the same UUID is mounted already"},
    KnownError{"Ambiguous", exitUsage, "the name matches several devices; name one exactly"},
    KnownError{"InvalidArgument", exitUsage, "invalid argument"},
    KnownError{"InvalidName", exitUsage, "invalid mapping name"},
    KnownError{"NotLuks", exitFailure, "the device holds no LUKS container"},
    KnownError{"WrongState", exitFailure, "the volume is not in the right state"},
    KnownError{"TooSmall", exitFailure, "the device is too small"},
    KnownError{"WouldShrink", exitFailure,
               "the device is smaller than the volume; vaultd never shrinks"},
    KnownError{"Failed", exitFailure, "the operation failed"},
    // vaultd's own messages for these say what to do; a hint would say it twice.
    KnownError{"WeakPassphrase", exitUsage, "the passphrase is too weak",
               "--allow-weak-passphrase accepts it"},
    KnownError{"InsufficientMemory", exitFailure,
               "no keyslot that opens with it fits in this machine's memory"},
    KnownError{"NoFreeKeyslot", exitFailure, "every keyslot is in use"},
    KnownError{"LastKeyslot", exitFailure, "that is the last keyslot",
               "to replace its passphrase use vaultctl keyslot change, or add another keyslot "
               "first (vaultctl keyslot add)"},
    KnownError{"NotSupportedOnLuks1", exitFailure, "a LUKS1 header cannot record that"},
    KnownError{"HeaderMismatch", exitNotEmpty,
               "the backup is not the header of the volume on the device"},
    // Reachability and a thumbprint mismatch share the error, so the hint asks about both.
    KnownError{"KeyServerUnavailable", exitFailure,
               "the key server did not answer, or its keys do not match the thumbprint",
               "is the key server reachable from this instance, and is the thumbprint the one "
               "tang-show-keys prints there?"},
    KnownError{"Cancelled", exitFailure, "the operation was cancelled"},
    KnownError{"DeviceFailing", exitFailure, "the device is failing; vaultd writes nothing to it"},
};

constexpr std::array busErrors{
    KnownError{"org.freedesktop.DBus.Error.ServiceUnknown", exitNotRunning,
               "vaultd is not running"},
    KnownError{"org.freedesktop.DBus.Error.NameHasNoOwner", exitNotRunning,
               "vaultd is not running"},
    KnownError{"org.freedesktop.DBus.Error.AccessDenied", exitNotAuthorized, "not authorized"},
    KnownError{"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", exitNotAuthorized,
               "not authorized without authentication"},
    // A volume object vanishes when its device is detached between Resolve and the call.
    KnownError{"org.freedesktop.DBus.Error.UnknownObject", exitNoSuchDevice,
               "the device went away"},
    KnownError{"org.freedesktop.DBus.Error.NoReply", exitFailure, "vaultd did not reply in time"},
    KnownError{"org.freedesktop.DBus.Error.Timeout", exitFailure, "vaultd did not reply in time"},
};

// For --help; errors.hpp says more about each.
constexpr std::array<std::pair<int, std::string_view>, 9> exitCodeMeanings{{
    {exitOk, "success"},
    {exitFailure, "failure"},
    {exitUsage, "usage: bad arguments or input, nothing was changed"},
    {exitNotAuthorized, "not authorized"},
    {exitWrongPassphrase, "wrong passphrase"},
    {exitBusy, "busy: the device or filesystem is in use"},
    {exitNotEmpty, "not empty, or another volume's header: confirm with --force NODE:SIZE"},
    {exitNoSuchDevice, "no such device"},
    {exitNotRunning, "vaultd is not running"},
}};

const KnownError* findKnown(std::string_view name)
{
    if (name.starts_with(vaultdErrorPrefix)) {
        std::string_view shortName = name.substr(vaultdErrorPrefix.size());
        for (const auto& known : vaultdErrors) {
            if (known.name == shortName)
                return &known;
        }
        return nullptr;
    }

    for (const auto& known : busErrors) {
        if (known.name == name)
            return &known;
    }
    return nullptr;
}

}  // namespace

std::string exitCodeHelp()
{
    std::string help = "Exit status:";
    for (const auto& [code, meaning] : exitCodeMeanings)
        help += fmt::format("\n  {}  {}", code, meaning);
    return help;
}

int exitCodeForError(std::string_view name)
{
    const KnownError* known = findKnown(name);
    return known != nullptr ? known->exitCode : exitFailure;
}

bool meansNotRunning(std::string_view name)
{
    return exitCodeForError(name) == exitNotRunning;
}

std::string causeOfError(std::string_view name, std::string_view message)
{
    const KnownError* known = findKnown(name);
    std::string cause(message);
    if (cause.empty())
        cause =
            known != nullptr ? std::string(known->fallback) : "failed with " + std::string(name);
    if (known != nullptr && !known->hint.empty())
        cause += fmt::format("; {}", known->hint);
    return cause;
}

}  // namespace vaultctl
