#include "command_runner.hpp"

#include "binding.hpp"
#include "doctor.hpp"
#include "errors.hpp"
#include "job_progress.hpp"
#include "passphrase.hpp"
#include "polkit_agent.hpp"
#include "readiness.hpp"

#include <fmt/format.h>

#include <ostream>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

namespace vaultctl {
namespace {

// The progress line of the call about to be made, on a terminal only.
std::unique_ptr<JobProgressView> progressView(const Invocation& invocation,
                                              const std::string& volumePath,
                                              const std::string& operation)
{
    if (!JobProgressView::wanted(invocation.json))
        return nullptr;
    try {
        return std::make_unique<JobProgressView>(volumePath, operation);
    } catch (const sdbus::Error&) {
        return nullptr;  // no progress then; the call goes ahead
    }
}

// Completes "cannot ...".
std::string actionPhrase(const Invocation& invocation)
{
    switch (invocation.verb) {
    case Verb::list: return "list volumes";
    case Verb::headerList: return "list header backups";
    case Verb::reload: return "reload the configured volumes";
    case Verb::headerBackup: return fmt::format("back up the header of '{}'", invocation.device);
    case Verb::headerRestore: return fmt::format("restore the header of '{}'", invocation.device);
    case Verb::headerRepair: return fmt::format("repair the header of '{}'", invocation.device);
    case Verb::keyslotList: return fmt::format("list the keyslots of '{}'", invocation.device);
    case Verb::keyslotAdd: return fmt::format("add a keyslot to '{}'", invocation.device);
    case Verb::keyslotChange: return fmt::format("change a key of '{}'", invocation.device);
    case Verb::keyslotRemove:
        return fmt::format("remove keyslot {} from '{}'", invocation.keyslot, invocation.device);
    case Verb::recoveryKey: return fmt::format("make a recovery key for '{}'", invocation.device);
    case Verb::bind:
        return fmt::format("bind '{}' to tang at {}", invocation.device, invocation.url);
    case Verb::unbind: return fmt::format("unbind '{}'", invocation.device);
    case Verb::status: return fmt::format("get the status of '{}'", invocation.device);
    case Verb::wait: return fmt::format("wait for '{}'", invocation.volumeName);
    case Verb::tune: return fmt::format("tune '{}'", invocation.device);
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

constexpr const char* wrongPassphraseError = "org.vaultd.Vault1.Error.WrongPassphrase";

// A secret that opens a keyslot, in its memfd, and whether it came from a key file that ends
// in a newline (the usual reason a key file opens nothing).
struct OpeningSecret {
    UniqueFd memfd;
    bool newline = false;
};

OpeningSecret openingSecret(const std::optional<std::string>& keyFile, const SecretPrompt& prompt)
{
    // The buffer is wiped as soon as the memfd holds the secret.
    SecretBuffer secret = obtainSecret(keyFile, prompt);
    bool newline = keyFile && !secret.bytes().empty() && secret.bytes().back() == std::byte{'\n'};
    return {secretToMemfd(secret), newline};
}

// Runs @call; a WrongPassphrase for a key file that ends with a newline says so.
template <typename Call>
auto notingNewline(const Invocation& invocation, const OpeningSecret& secret, Call call)
{
    try {
        return call();
    } catch (const sdbus::Error& error) {
        if (!secret.newline || error.getName() != wrongPassphraseError)
            throw;
        throw CommandError(exitWrongPassphrase,
                           fmt::format("cannot {}: {}; the key file ends with a newline, "
                                       "which counts as part of the passphrase",
                                       actionPhrase(invocation), error.getMessage()),
                           error.getName());
    }
}

// @lead: "Passphrase", "Current passphrase", ... The passphrase that opens a keyslot now.
SecretPrompt openingPrompt(std::string_view lead, const std::string& device,
                           const Invocation& invocation, std::string_view tail = "")
{
    SecretPrompt prompt;
    prompt.prompt = fmt::format("{} for {}{}: ", lead, device, tail);
    prompt.stdinTaken = invocation.newKeyFile == "-";
    return prompt;
}

// The new secret of keyslot add and change, asked twice.
SecretPrompt newSecretPrompt(const std::string& device, const Invocation& invocation)
{
    SecretPrompt prompt;
    prompt.prompt = fmt::format("New passphrase for {}: ", device);
    prompt.repeat = "Repeat new passphrase: ";
    prompt.what = "the new passphrase";
    prompt.option = "--new-key-file";
    prompt.stdinTaken = invocation.keyFile == "-";
    return prompt;
}

KeyRequest keyRequestFor(const Invocation& invocation)
{
    return {invocation.newKeyFile ? "keyfile" : "passphrase", invocation.allowWeak};
}

// A descriptor of the header backup for one call, read from its start.
UniqueFd rewoundFile(const UniqueFd& file)
{
    UniqueFd copy(fcntl(file.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy.valid())
        throw CommandError(exitFailure,
                           fmt::format("cannot pass the header backup: {}", std::strerror(errno)));
    // A pipe or FIFO cannot seek, and needs not: it is read once.
    (void)lseek(copy.get(), 0, SEEK_SET);
    return copy;
}

// A read while waiting that failed because vaultd went away (or was going): the watch hears
// when it is back.
bool meansVaultdGone(const sdbus::Error& error)
{
    return meansNotRunning(error.getName()) ||
           error.getName() == "org.freedesktop.DBus.Error.NoReply";
}

// The passphrase descriptor of an unlock by token, which vaultd does not read.
UniqueFd nullPassphrase()
{
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid())
        throw CommandError(exitFailure,
                           fmt::format("cannot open /dev/null: {}", std::strerror(errno)));
    return fd;
}

// The keyslots, when whether to try the token depends on them. They only help choose, so a
// vaultd or a header that cannot list them means the passphrase alone, as before tokens.
std::optional<KeyslotList> keyslotsForToken(VaultClient& client, const std::string& path,
                                            const Invocation& invocation)
{
    if (!tokenChoiceNeedsKeyslots(invocation))
        return std::nullopt;
    try {
        return client.listKeyslots(path);
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
}

VolumeWatch::Deadline waitDeadline(const Invocation& invocation)
{
    if (invocation.timeoutSeconds == 0)
        return std::nullopt;
    return std::chrono::steady_clock::now() + std::chrono::seconds(invocation.timeoutSeconds);
}

}  // namespace

int CommandRunner::run(const Invocation& invocation)
{
    if (invocation.verb == Verb::doctor)
        return doctor(invocation);
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
    case Verb::headerRestore: return headerRestore(client, invocation);
    case Verb::headerRepair: return headerRepair(client, invocation);
    case Verb::keyslotList: return keyslotList(client, invocation);
    case Verb::keyslotAdd: return keyslotAdd(client, invocation);
    case Verb::keyslotChange: return keyslotChange(client, invocation);
    case Verb::keyslotRemove: return keyslotRemove(client, invocation);
    case Verb::recoveryKey: return recoveryKey(client, invocation);
    case Verb::bind: return bind(client, invocation);
    case Verb::unbind: return unbind(client, invocation);
    case Verb::reload: return reload(client, invocation);
    case Verb::wait: return wait(client, invocation);
    case Verb::tune: return tune(client, invocation);
    case Verb::doctor: return;  // run() does it without vaultd
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
    std::string path = client.resolve(invocation.device);
    VolumeProperties volume = client.volume(path);
    // The keyslots are extra: a vaultd without ListKeyslots, or a header it cannot read,
    // still leaves the properties to show.
    std::optional<KeyslotList> keyslots;
    if (volume.luksVersion == 0) {
        keyslots = KeyslotList{};
    } else {
        try {
            keyslots = client.listKeyslots(path);
        } catch (const sdbus::Error&) {
        }
    }
    out_ << (invocation.json ? dumpJson(statusToJson(volume, keyslots))
                             : formatStatus(volume, keyslots));
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
    FormatRequest request{invocation.filesystem,
                          invocation.label,
                          invocation.force,
                          invocation.keyFile ? "keyfile" : "passphrase",
                          invocation.allowWeak,
                          invocation.workqueues.value_or(false),
                          invocation.discard.value_or(false),
                          invocation.erase};
    authenticating(client, invocation, [&] {
        auto view = progressView(invocation, path, "format");
        client.format(path, rewoundCopy(passphrase), request);
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
    UnlockRequest request{name, invocation.mount, invocation.mountPoint};
    auto byToken = [&] {
        UnlockRequest byKeyServer = request;
        byKeyServer.token = true;
        return authenticating(client, invocation, [&] {
            auto view = progressView(invocation, path, "unlock");
            return client.unlock(path, nullPassphrase(), byKeyServer);
        });
    };
    // Asks for the passphrase only when it runs, so after a token attempt that got no key.
    auto byPassphrase = [&] {
        // Key files are used byte for byte, as cryptsetup does; a trailing
        // newline an editor added is the usual reason one does not open.
        OpeningSecret passphrase =
            openingSecret(invocation.keyFile, openingPrompt("Passphrase", device, invocation));
        return notingNewline(invocation, passphrase, [&] {
            return authenticating(client, invocation, [&] {
                auto view = progressView(invocation, path, "unlock");
                return client.unlock(path, rewoundCopy(passphrase.memfd), request);
            });
        });
    };
    TokenAttempt attempt = tokenAttempt(invocation, keyslotsForToken(client, path, invocation));
    UnlockReply reply = unlockTokenFirst(attempt, device, byToken, byPassphrase, err_);

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
        reply = authenticating(client, invocation, [&] {
            auto view = progressView(invocation, path, "grow");
            return client.grow(path, std::nullopt);
        });
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
        reply = authenticating(client, invocation, [&] {
            auto view = progressView(invocation, path, "grow");
            return client.grow(path, rewoundCopy(passphrase));
        });
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

void CommandRunner::headerRestore(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    // Read only, and a symbolic link is as good a name for the backup as any.
    UniqueFd file(open(invocation.headerFile.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!file.valid())
        throw CommandError(exitUsage, fmt::format("cannot open '{}': {}", invocation.headerFile,
                                                  std::strerror(errno)));
    RestoreReply reply = authenticating(client, invocation, [&] {
        auto view = progressView(invocation, path, "restore-header");
        return client.restoreHeader(path, rewoundFile(file), invocation.force);
    });
    ActionReport action = actionOn(Verb::headerRestore, device);
    action.file = invocation.headerFile;
    action.luksUuid = reply.backupUuid;
    action.previousLuksUuid = reply.deviceUuid;
    report(invocation, action);
}

void CommandRunner::headerRepair(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    ActionReport action = actionOn(Verb::headerRepair, device);
    action.headerHealth =
        authenticating(client, invocation, [&] { return client.repairHeader(path); });
    report(invocation, action);
}

void CommandRunner::tune(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    ActionReport action = actionOn(Verb::tune, device);
    action.changed = invocation.readWorkqueue || invocation.writeWorkqueue || invocation.discard;
    action.flags = authenticating(client, invocation, [&] {
        return client.tune(
            path, {invocation.readWorkqueue, invocation.writeWorkqueue, invocation.discard});
    });
    report(invocation, action);
}

void CommandRunner::keyslotList(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    KeyslotList list =
        authenticating(client, invocation, [&] { return client.listKeyslots(path); });
    out_ << (invocation.json ? dumpJson(keyslotsToJson(list)) : formatKeyslots(list));
}

void CommandRunner::keyslotAdd(VaultClient& client, const Invocation& invocation)
{
    keyslotWithNewSecret(client, invocation, "Passphrase", &VaultClient::addKeyslot);
}

void CommandRunner::keyslotChange(VaultClient& client, const Invocation& invocation)
{
    keyslotWithNewSecret(client, invocation, "Current passphrase", &VaultClient::changePassphrase);
}

// keyslot add and change: a secret that opens the volume now, a new one,
// and the call that takes both.
void CommandRunner::keyslotWithNewSecret(VaultClient& client, const Invocation& invocation,
                                         const char* openingWord, KeyslotCall call)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    OpeningSecret opening =
        openingSecret(invocation.keyFile, openingPrompt(openingWord, device, invocation));
    UniqueFd added =
        secretToMemfd(obtainSecret(invocation.newKeyFile, newSecretPrompt(device, invocation)));
    ActionReport action = actionOn(invocation.verb, device);
    action.keyFile = invocation.newKeyFile.has_value();
    action.keyslot = notingNewline(invocation, opening, [&] {
        return authenticating(client, invocation, [&] {
            auto view = progressView(
                invocation, path,
                invocation.verb == Verb::keyslotAdd ? "add-keyslot" : "change-passphrase");
            return (client.*call)(path, rewoundCopy(opening.memfd), rewoundCopy(added),
                                  keyRequestFor(invocation));
        });
    });
    report(invocation, action);
}

void CommandRunner::keyslotRemove(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    // Not the slot's own passphrase: one that still opens the volume afterwards.
    OpeningSecret authorizing = openingSecret(
        invocation.keyFile,
        openingPrompt("Passphrase", device, invocation, " (of a keyslot that stays)"));
    notingNewline(invocation, authorizing, [&] {
        authenticating(client, invocation, [&] {
            client.removeKeyslot(path, invocation.keyslot, rewoundCopy(authorizing.memfd));
        });
    });
    ActionReport action = actionOn(Verb::keyslotRemove, device);
    action.keyslot = invocation.keyslot;
    report(invocation, action);
}

void CommandRunner::recoveryKey(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    OpeningSecret existing =
        openingSecret(invocation.keyFile, openingPrompt("Passphrase", device, invocation));
    // A fresh pipe for every attempt. The write end goes to vaultd with the call, and this
    // process's copy is closed when the call returns; the key is read only after a success,
    // and on a failure whatever vaultd wrote is dropped unread with the read end.
    UniqueFd readEnd;
    std::uint32_t keyslot = notingNewline(invocation, existing, [&] {
        return authenticating(client, invocation, [&] {
            auto [readSide, writeSide] = recoveryKeyPipe();
            readEnd = std::move(readSide);
            return client.addRecoveryKey(path, rewoundCopy(existing.memfd), std::move(writeSide));
        });
    });
    SecretBuffer key = readRecoveryKey(readEnd.get());
    readEnd = UniqueFd();
    if (key.empty())
        throw CommandError(exitFailure,
                           fmt::format("vaultd made a recovery key in keyslot {} of {}, but what "
                                       "it sent is not one; remove that keyslot (vaultctl "
                                       "keyslot remove {} {}) and make another",
                                       keyslot, device, invocation.device, keyslot));
    SecretBuffer text = renderRecoveryKey(device, keyslot, key.bytes(), invocation.json);
    key.reset();
    out_.write(reinterpret_cast<const char*>(text.bytes().data()),
               static_cast<std::streamsize>(text.size()));
    out_.flush();
}

void CommandRunner::bind(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    OpeningSecret existing =
        openingSecret(invocation.keyFile, openingPrompt("Passphrase", device, invocation));
    ActionReport action = actionOn(Verb::bind, device);
    action.pin = invocation.pin;
    action.url = invocation.url;
    action.keyslot = notingNewline(invocation, existing, [&] {
        return authenticating(client, invocation, [&] {
            return client.bindTang(path, rewoundCopy(existing.memfd), invocation.url,
                                   invocation.thumbprint);
        });
    });
    report(invocation, action);
}

// The slot is chosen before the passphrase is asked for, so a volume with nothing to unbind
// costs no prompt.
void CommandRunner::unbind(VaultClient& client, const Invocation& invocation)
{
    std::string path = client.resolve(invocation.device);
    std::string device = deviceName(client.volume(path), invocation);
    KeyslotList keyslots =
        authenticating(client, invocation, [&] { return client.listKeyslots(path); });
    std::uint32_t keyslot = unbindKeyslot(keyslots, invocation.boundKeyslot, device);
    OpeningSecret authorizing = openingSecret(
        invocation.keyFile,
        openingPrompt("Passphrase", device, invocation, " (of a keyslot that stays)"));
    notingNewline(invocation, authorizing, [&] {
        authenticating(client, invocation, [&] {
            client.removeKeyslot(path, keyslot, rewoundCopy(authorizing.memfd));
        });
    });
    ActionReport action = actionOn(Verb::unbind, device);
    action.keyslot = keyslot;
    report(invocation, action);
}

// Exit 0 with problems too: the files that could be used are in force, and the report says
// which were skipped.
void CommandRunner::reload(VaultClient& client, const Invocation& invocation)
{
    ConfigurationReload reply =
        authenticating(client, invocation, [&] { return client.reloadConfiguration(); });
    out_ << (invocation.json ? dumpJson(reloadToJson(reply)) : formatReload(reply));
}

int CommandRunner::doctor(const Invocation& invocation)
{
    std::unique_ptr<sdbus::IConnection> bus;
    std::string busProblem;
    try {
        bus = sdbus::createSystemBusConnection();
    } catch (const sdbus::Error& error) {
        busProblem = fmt::format("cannot connect to the system bus: {}",
                                 connectionCause(error.getMessage()));
    }
    std::vector<Finding> findings = diagnose(gatherFacts(bus.get(), busProblem));
    out_ << (invocation.json ? dumpJson(findingsToJson(findings)) : formatFindings(findings));
    return healthy(findings) ? exitOk : exitFailure;
}

// The first read is an ordinary call, which starts vaultd if it is not running, and fails as
// any command does if it cannot; later reads that find vaultd gone wait for it to come back.
void CommandRunner::wait(VaultClient& client, const Invocation& invocation)
{
    WaitTarget target{invocation.volumeName, invocation.unlocked};
    VolumeWatch::Deadline deadline = waitDeadline(invocation);
    // Before the first read, so that no change after it goes unheard.
    VolumeWatch watch = client.watchVolumes();
    Readiness readiness = readinessOf(client.listVolumes(), target);
    WaitNotes notes(target.name);
    while (!readiness.ready) {
        // The journal's record, when this runs in a unit, of why the volume is not there yet.
        if (auto note = notes.update(readiness, watch.vaultdRunning()))
            err_ << *note << std::endl;
        if (!watch.waitForChange(deadline))
            throw CommandError(exitFailure, timeoutMessage(target, invocation.timeoutSeconds,
                                                           readiness, watch.vaultdRunning()));
        if (!watch.vaultdRunning())
            continue;
        try {
            readiness = readinessOf(client.listVolumes(), target);
        } catch (const sdbus::Error& error) {
            if (!meansVaultdGone(error))
                throw;
        }
    }
    out_ << (invocation.json ? dumpJson(readyToJson(target, *readiness.volume))
                             : formatReady(target, *readiness.volume) + '\n');
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
        err_ << failureJson(errorName, message, exitCode);
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
