#include "command_runner.hpp"

#include "errors.hpp"
#include "passphrase.hpp"
#include "polkit_agent.hpp"

#include <fmt/format.h>

#include <ostream>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vaultctl {
namespace {

// Completes "cannot ...".
std::string actionPhrase(const Invocation& invocation)
{
    switch (invocation.verb) {
    case Verb::list: return "list volumes";
    case Verb::headerList: return "list header backups";
    case Verb::headerBackup: return fmt::format("back up the header of '{}'", invocation.device);
    case Verb::status: return fmt::format("get the status of '{}'", invocation.device);
    default: return fmt::format("{} '{}'", verbName(invocation.verb), invocation.device);
    }
}

// sdbus-c++ says "Failed to open bus (No such file or directory)"; the part in parentheses is
// the cause, and our sentence already says what failed.
std::string connectionCause(const std::string& message)
{
    auto open = message.rfind(" (");
    if (open == std::string::npos || message.back() != ')')
        return message;
    return message.substr(open + 2, message.size() - open - 3);
}

VaultClient connect()
{
    try {
        return VaultClient::connectSystemBus();
    } catch (const sdbus::Error& error) {
        throw CommandError(
            exitNotRunning,
            fmt::format("vaultd is not running (cannot connect to the system bus: {})",
                        connectionCause(error.getMessage())));
    }
}

// The device node for prompts and reports, or what the user typed if vaultd gave none.
std::string deviceName(const VolumeProperties& volume, const Invocation& invocation)
{
    return volume.device.empty() ? invocation.device : volume.device;
}

ActionReport actionOn(Verb verb, const std::string& device)
{
    ActionReport action;
    action.verb = verb;
    action.device = device;
    return action;
}

// vaultd requires a mapping name. The default is the EBS volume id, which
// names one volume for its life, else luks-<kernel name>; never the LUKS
// UUID alone, which a volume made from a snapshot shares with its original.
// An explicit --name, even an empty one, goes to vaultd as typed, which is
// the one to judge it.
std::string mappingNameFor(const Invocation& invocation, const VolumeProperties& volume)
{
    if (invocation.mappingName)
        return *invocation.mappingName;
    if (!volume.ebsVolumeId.empty())
        return volume.ebsVolumeId;
    return "luks-" + volume.kernelName;
}

}  // namespace

int CommandRunner::run(const Invocation& invocation)
{
    try {
        VaultClient client = connect();
        dispatch(client, invocation);
        return exitOk;
    } catch (const CommandError& error) {
        return fail(invocation, error.exitCode(), error.errorName(), error.what());
    } catch (const sdbus::Error& error) {
        return failFromBus(invocation, error);
    } catch (const std::exception& error) {
        return fail(invocation, exitFailure, "",
                    fmt::format("cannot {}: {}", actionPhrase(invocation), error.what()));
    }
}

void CommandRunner::dispatch(VaultClient& client, const Invocation& invocation)
{
    switch (invocation.verb) {
    case Verb::list: return list(client, invocation);
    case Verb::status: return status(client, invocation);
    case Verb::format: return format(client, invocation);
    case Verb::unlock: return unlock(client, invocation);
    case Verb::mount: return mount(client, invocation);
    case Verb::unmount: return unmount(client, invocation);
    case Verb::lock: return lock(client, invocation);
    case Verb::grow: return grow(client, invocation);
    case Verb::headerList: return headerList(client, invocation);
    case Verb::headerBackup: return headerBackup(client, invocation);
    }
}

void CommandRunner::list(VaultClient& client, const Invocation& invocation)
{
    std::vector<VolumeProperties> volumes = client.listVolumes();
    out_ << (invocation.json ? dumpJson(volumesToJson(std::move(volumes)))
                             : formatTable(std::move(volumes)));
}

void CommandRunner::status(VaultClient& client, const Invocation& invocation)
{
    VolumeProperties volume = client.volume(client.resolve(invocation.device));
    out_ << (invocation.json ? dumpJson(volumeToJson(volume)) : formatStatus(volume));
}

template <typename Call>
auto CommandRunner::authenticating(VaultClient& client, const Invocation& invocation, Call call)
{
    try {
        return call();
    } catch (const sdbus::Error& error) {
        if (error.getName() != "org.vaultd.Vault1.Error.AuthenticationRequired" ||
            !invocation.askPassword || !PolkitAgent::canAsk())
            throw;
    }
    PolkitAgent agent;
    client.allowInteraction();
    return call();
}

void CommandRunner::format(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    VolumeProperties volume = client.volume(path);

    std::string device = deviceName(volume, invocation);
    // The buffer is wiped as soon as the memfd holds the passphrase.
    UniqueFd passphrase = secretToMemfd(obtainPassphrase(invocation.keyFile, device, true));
    authenticating(client, invocation, [&] {
        client.format(path, rewoundCopy(passphrase),
                      {invocation.filesystem, invocation.label, invocation.force});
    });

    ActionReport action = actionOn(Verb::format, device);
    action.filesystem = invocation.filesystem;
    action.label = invocation.label.value_or("");
    report(invocation, action);
}

void CommandRunner::unlock(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    VolumeProperties volume = client.volume(path);

    std::string device = deviceName(volume, invocation);
    std::string name = mappingNameFor(invocation, volume);
    bool newline = false;
    UniqueFd passphrase = [&] {
        SecretBuffer secret = obtainPassphrase(invocation.keyFile, device, false);
        // Key files are used byte for byte, as cryptsetup does; a trailing
        // newline an editor added is the usual reason one does not open.
        newline = invocation.keyFile && !secret.bytes().empty() &&
                  secret.bytes().back() == std::byte{'\n'};
        return secretToMemfd(secret);
    }();
    UnlockReply reply;
    try {
        reply = authenticating(client, invocation, [&] {
            return client.unlock(path, rewoundCopy(passphrase),
                                 {name, invocation.mount, invocation.mountPoint});
        });
    } catch (const sdbus::Error& error) {
        if (!newline || error.getName() != "org.vaultd.Vault1.Error.WrongPassphrase")
            throw;
        throw CommandError(exitWrongPassphrase,
                           fmt::format("cannot unlock '{}': {}; the key file ends with a newline, "
                                       "which counts as part of the passphrase",
                                       invocation.device, error.getMessage()),
                           error.getName());
    }

    ActionReport action = actionOn(Verb::unlock, device);
    action.mappingName = reply.mappingName;
    action.mountPoint = reply.mountPoint;
    action.wasUnlocked = !volume.mappingName.empty() || reply.mappingName != name;
    report(invocation, action);
}

void CommandRunner::mount(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    std::string mountPoint = authenticating(
        client, invocation, [&] { return client.mount(path, invocation.mountPoint.value_or("")); });

    ActionReport action = actionOn(Verb::mount, device);
    action.mountPoint = mountPoint;
    report(invocation, action);
}

void CommandRunner::unmount(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    authenticating(client, invocation, [&] { client.unmount(path); });

    report(invocation, actionOn(Verb::unmount, device));
}

void CommandRunner::lock(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    ActionReport action = actionOn(Verb::lock, device);
    action.deferred =
        authenticating(client, invocation, [&] { return client.lock(path, invocation.lazy); });
    report(invocation, action);
}

void CommandRunner::grow(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    // vaultd holds the key of what it unlocked; the passphrase is read only
    // when it says it does not (a volume opened some other way).
    GrowReply reply;
    try {
        reply = authenticating(client, invocation, [&] { return client.grow(path, std::nullopt); });
    } catch (const sdbus::Error& error) {
        if (error.getName() != "org.vaultd.Vault1.Error.CredentialRequired")
            throw;
        // Nobody to ask and no file to read: say what vaultd said, and how.
        if (!invocation.keyFile && !isatty(STDIN_FILENO))
            throw CommandError(exitCodeForError(error.getName()),
                               fmt::format("cannot grow '{}': {}; pass --key-file FILE (or - for "
                                           "standard input)",
                                           invocation.device, error.getMessage()),
                               error.getName());
        UniqueFd passphrase = secretToMemfd(obtainPassphrase(invocation.keyFile, device, false));
        reply = authenticating(client, invocation,
                               [&] { return client.grow(path, rewoundCopy(passphrase)); });
    }
    ActionReport action = actionOn(Verb::grow, device);
    action.layers = reply.layers;
    action.changed = reply.changed;
    report(invocation, action);
}

void CommandRunner::headerList(VaultClient& client, const Invocation& invocation)
{
    auto backups = client.headerBackups();
    out_ << (invocation.json ? dumpJson(headerBackupsToJson(backups))
                             : formatHeaderBackups(backups));
}

void CommandRunner::headerBackup(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    // Never over anything: a backup is a secret worth as much as the data.
    UniqueFd file(open(invocation.headerFile.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file.valid())
        throw CommandError(exitUsage, fmt::format("cannot create '{}': {}", invocation.headerFile,
                                                  std::strerror(errno)));
    try {
        auto [uuid, bytes] = authenticating(client, invocation, [&] {
            return client.backupHeader(path, UniqueFd(dup(file.get())));
        });
        ActionReport action = actionOn(Verb::headerBackup, device);
        action.luksUuid = uuid;
        action.bytes = bytes;
        action.file = invocation.headerFile;
        report(invocation, action);
    } catch (...) {
        unlink(invocation.headerFile.c_str());  // nothing half written stays
        throw;
    }
}

void CommandRunner::report(const Invocation& invocation, const ActionReport& action)
{
    if (invocation.json)
        out_ << dumpJson(reportToJson(action));
    else
        out_ << formatReport(action) << '\n';
}

int CommandRunner::fail(const Invocation& invocation, int exitCode, const std::string& errorName,
                        const std::string& message)
{
    out_.flush();
    // A script asked for JSON: give it the daemon's error name to branch on,
    // and the same sentence a person would read.
    if (invocation.json)
        err_ << dumpJson({{"error", errorName.empty() ? "vaultctl.Error" : errorName},
                          {"message", message},
                          {"exitCode", exitCode}});
    else
        err_ << "vaultctl: " << message << '\n';
    return exitCode;
}

int CommandRunner::failFromBus(const Invocation& invocation, const sdbus::Error& error)
{
    if (meansNotRunning(error.getName()))
        return fail(invocation, exitNotRunning, error.getName(), "vaultd is not running");

    std::string cause = causeOfError(error.getName(), error.getMessage());
    return fail(invocation, exitCodeForError(error.getName()), error.getName(),
                fmt::format("cannot {}: {}", actionPhrase(invocation), cause));
}

}  // namespace vaultctl
