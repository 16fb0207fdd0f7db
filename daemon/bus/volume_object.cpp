#include "bus/volume_object.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "bus/bus_error.hpp"
#include "bus/options.hpp"
#include "bus/volume_service.hpp"
#include "engine/validate.hpp"
#include "engine/error.hpp"
#include "engine/keys.hpp"
#include "engine/secret_buffer.hpp"
#include "system/header_store.hpp"
#include "system/log.hpp"
#include "system/secret_reader.hpp"

namespace vaultd::bus {
namespace {

using log::Field;
using Clock = std::chrono::milliseconds;

constexpr std::chrono::seconds kSecretTimeout{10};
// No LUKS header backup, keyslot areas and all, comes near this.
constexpr std::uint64_t kMaxHeaderBytes = 160ull << 20;
constexpr const char* kInterface = org::vaultd::Vault1::Volume_adaptor::INTERFACE_NAME;

// Object paths allow only [A-Za-z0-9_]; anything else becomes _XX.
std::string escapePathElement(const std::string& name)
{
    std::string out;
    for (unsigned char c : name) {
        if (std::isalnum(c))
            out += static_cast<char>(c);
        else
            out += fmt::format("_{:02x}", c);
    }
    return out;
}

engine::Result<engine::SecretBuffer> readPassphrase(const sdbus::UnixFd& fd)
{
    engine::SecretBuffer secret;
    if (auto st = system::readSecret(fd.get(), secret, kSecretTimeout); !st)
        return st.error();
    return secret;
}

// Writes @key and a newline to @fd, the write end of the caller's pipe, in
// one go or not at all: vaultd never waits on a caller's pipe.
engine::Status deliverKey(int fd, const engine::SecretBuffer& key)
{
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return engine::makeError(engine::ErrorCode::InvalidArgument,
                                 "key_out must be the write end of a pipe");
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return engine::makeError(engine::ErrorCode::InvalidArgument, "key_out cannot be written");
    engine::SecretBuffer line(key.size() + 1);
    auto out = line.spare();
    std::memcpy(out.data(), key.data(), key.size());
    out[key.size()] = '\n';
    line.commit(key.size() + 1);
    const ssize_t n = write(fd, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()))
        return engine::makeError(engine::ErrorCode::InvalidArgument,
                                 "the recovery key could not be written to key_out (the pipe is "
                                 "full or closed); no keyslot was added");
    return engine::Done{};
}

// How long @count key derivations of the configured cost should take, for
// a job's estimate (none when the cost is a fixed count of iterations).
std::chrono::milliseconds keyDerivations(const engine::Operations& ops, int count)
{
    const engine::PbkdfSettings& p = ops.config().pbkdf;
    return std::chrono::milliseconds(p.iterations ? 0 : count * p.timeMs);
}

// Two secrets, each read from its descriptor; the first failure wins.
struct TwoSecrets {
    engine::SecretBuffer first, second;
};

engine::Result<TwoSecrets> readTwo(const sdbus::UnixFd& a, const sdbus::UnixFd& b)
{
    auto first = readPassphrase(a);
    if (!first)
        return first.error();
    auto second = readPassphrase(b);
    if (!second)
        return second.error();
    return TwoSecrets{std::move(first).value(), std::move(second).value()};
}

void logOutcome(const engine::Volume& v, std::string_view verb, const engine::Error* error)
{
    if (error)
        log::warning(fmt::format("failed to {} '{}': {}", verb, v.node, error->message),
                     {{Field::Volume, v.kernelName},
                      {Field::Device, v.node},
                      {Field::Operation, verb},
                      {Field::Error, engine::errorName(error->code)}});
    else
        log::info(
            fmt::format("{} '{}': done", verb, v.node),
            {{Field::Volume, v.kernelName}, {Field::Device, v.node}, {Field::Operation, verb}});
}

// Replies to @result from an engine Result, logging the outcome once. A
// reply sd-bus cannot send (it throws) is logged and answered with a plain
// Failed; it never unwinds into the event loop.
template <typename Reply, typename T, typename OnValue>
void reply(const engine::Volume& v, std::string_view verb, Reply& result,
           const engine::Result<T>& outcome, OnValue onValue)
{
    try {
        if (!outcome) {
            logOutcome(v, verb, &outcome.error());
            result.returnError(toBusError(outcome.error()));
            return;
        }
        logOutcome(v, verb, nullptr);
        onValue(outcome.value());
    } catch (const sdbus::Error& e) {
        log::error(fmt::format("cannot send the reply to {}: {}", verb, e.getMessage()),
                   {{Field::Volume, v.kernelName}, {Field::Operation, verb}});
        try {
            result.returnError(toBusError(
                engine::makeError(engine::ErrorCode::Failed,
                                  fmt::format("vaultd could not send its reply to {}", verb))));
        } catch (const sdbus::Error&) {
            // The caller is gone or the bus is; nothing more to tell anyone.
        }
    }
}

template <typename T>
engine::Status statusOf(const engine::Result<T>& r)
{
    if (!r)
        return r.error();
    return engine::Done{};
}

}  // namespace

std::string volumePath(const std::string& kernelName)
{
    return "/org/vaultd/Vault1/volume/" + escapePathElement(kernelName);
}

VolumeObject::VolumeObject(sdbus::IConnection& connection, VolumeService& service,
                           engine::Volume volume)
    : AdaptorInterfaces(connection, volumePath(volume.kernelName)),
      service_(service),
      volume_(std::move(volume))
{
    registerAdaptor();
}

VolumeObject::~VolumeObject()
{
    unregisterAdaptor();
}

std::string VolumeObject::LuksUuid()
{
    return volume_.signature.isLuks() ? volume_.signature.uuid : std::string();
}

std::string VolumeObject::Label()
{
    return volume_.signature.isLuks() ? volume_.signature.label : std::string();
}

void VolumeObject::update(engine::Volume v)
{
    std::vector<std::string> changed;
    auto note = [&changed](bool differs, const char* property) {
        if (differs)
            changed.emplace_back(property);
    };
    const engine::Volume& old = volume_;
    note(old.node != v.node, "Device");
    note(old.size != v.size, "Size");
    note(old.state != v.state, "State");
    note(old.signature.luksVersion != v.signature.luksVersion, "LuksVersion");
    note(old.signature.uuid != v.signature.uuid, "LuksUuid");
    note(old.signature.label != v.signature.label, "Label");
    note(old.mappingName != v.mappingName, "MappingName");
    note(old.mountPoint != v.mountPoint, "MountPoint");
    note(old.filesystemType != v.filesystemType, "FilesystemType");
    note(old.unlockedBy != v.unlockedBy, "UnlockedBy");
    note(old.links != v.links, "Links");
    note(old.identity.serial != v.identity.serial, "Serial");
    note(old.identity.model != v.identity.model, "Model");
    note(old.identity.ebsVolumeId != v.identity.ebsVolumeId, "EbsVolumeId");
    note(old.identity.requestedName != v.identity.requestedName, "RequestedName");
    note(old.identity.ephemeral != v.identity.ephemeral, "Ephemeral");
    note(old.duplicates != v.duplicates, "Duplicates");
    note(old.growableBy != v.growableBy, "GrowableBy");
    note(old.headerHealth != v.headerHealth, "HeaderHealth");
    note(old.failing != v.failing, "Failing");
    volume_ = std::move(v);
    if (!changed.empty())
        emitPropertiesChangedSignal(kInterface, changed);
}

void VolumeObject::setConfiguration(const std::string& name, const std::string& error)
{
    std::vector<std::string> changed;
    if (name != configuration_)
        changed.emplace_back("Configuration");
    if (error != configurationError_)
        changed.emplace_back("ConfigurationError");
    configuration_ = name;
    configurationError_ = error;
    if (!changed.empty())
        emitPropertiesChangedSignal(kInterface, changed);
}

std::map<std::string, std::string> VolumeObject::details(const Caller& caller) const
{
    return {{"device", volume_.node},
            {"volume", volume_.kernelName},
            {"uid", std::to_string(caller.uid)}};
}

template <typename Reply, typename Start>
void VolumeObject::authorized(Reply&& result, std::string_view verb, const std::string& action,
                              const engine::Status& request, const Options& options, Start start)
{
    auto caller = callerOf(getObject().getCurrentlyProcessedMessage());
    auto interactive = interactiveOf(options);
    for (const engine::Status& st : {statusOf(caller), request, statusOf(interactive)}) {
        if (!st) {
            reply(volume_, verb, result, st, [](auto&) {});
            return;
        }
    }
    AuthRequest auth{caller.value(), action, details(caller.value()), interactive.value()};
    // The object may be gone (detached) by the time polkit answers: the
    // continuation holds copies and the service, never this.
    auto pending = std::make_shared<Reply>(std::move(result));
    service_.authorizer().check(
        auth, [pending, v = volume_, verb = std::string(verb), who = caller.value(),
               start = std::move(start)](engine::Status st) mutable {
            if (!st) {
                reply(v, verb, *pending, st, [](auto&) {});
                return;
            }
            start(std::move(*pending), who);
        });
}

void VolumeObject::Format(sdbus::Result<>&& result, sdbus::UnixFd passphrase,
                          std::string filesystem, Options options)
{
    auto request = decodeFormat(filesystem, options);
    // Destroying what a device holds is a separate, stronger permission.
    const char* action = volume_.state == engine::VolumeState::Empty ? "org.vaultd.format"
                                                                     : "org.vaultd.format-destroy";
    authorized(
        std::move(result), "format", action, statusOf(request), options,
        [&service = service_, v = volume_, fd = std::move(passphrase),
         req = request ? request.value() : engine::FormatRequest{}](sdbus::Result<>&& result,
                                                                    const Caller& who) mutable {
            service.runJob<engine::FormatResult>(
                v.kernelName, {"format", who.uid},
                [name = v.kernelName, fd = std::move(fd), req = std::move(req)](
                    engine::Operations& ops,
                    engine::Progress& progress) -> engine::Result<engine::FormatResult> {
                    auto secret = readPassphrase(fd);
                    if (!secret)
                        return secret.error();
                    return ops.format(name, secret.value(), req, progress);
                },
                [result = std::move(result), v](engine::Result<engine::FormatResult> r) mutable {
                    if (r && !r.value().backupProblem.empty())
                        log::error(fmt::format("formatted '{}', but kept no backup of its "
                                               "header: {}",
                                               v.node, r.value().backupProblem),
                                   {{Field::Volume, v.kernelName}, {Field::Device, v.node}});
                    else if (r)
                        log::info(
                            fmt::format("header of '{}' backed up ({} bytes, LUKS "
                                        "UUID {})",
                                        v.node, r.value().backup.bytes, r.value().backup.luksUuid),
                            {{Field::Volume, v.kernelName}, {Field::Device, v.node}});
                    reply(v, "format", result, r, [&](auto&) { result.returnResults(); });
                });
        });
}

void VolumeObject::Unlock(sdbus::Result<std::string, std::string>&& result,
                          sdbus::UnixFd passphrase, std::string name, Options options)
{
    auto request = decodeUnlock(name, options);
    auto byToken = decodeByToken(options);
    authorized(
        std::move(result), "unlock", "org.vaultd.unlock",
        request ? statusOf(byToken) : statusOf(request), options,
        [&service = service_, v = volume_, fd = std::move(passphrase),
         req = request ? request.value() : engine::UnlockRequest{},
         token = byToken && byToken.value()](sdbus::Result<std::string, std::string>&& result,
                                             const Caller& who) mutable {
            req.owner = {who.uid, who.gid};
            service.runJob<engine::UnlockResult>(
                v.kernelName, {"unlock", who.uid},
                [kernel = v.kernelName, fd = std::move(fd), req = std::move(req), token](
                    engine::Operations& ops,
                    engine::Progress& progress) -> engine::Result<engine::UnlockResult> {
                    // The passphrase is not read: the key server gives the key.
                    if (token)
                        return ops.unlockByToken(kernel, req);
                    auto secret = readPassphrase(fd);
                    if (!secret)
                        return secret.error();
                    return ops.unlock(kernel, secret.value(), req, progress);
                },
                [result = std::move(result), v](engine::Result<engine::UnlockResult> r) mutable {
                    reply(v, "unlock", result, r, [&](const engine::UnlockResult& u) {
                        result.returnResults(u.mappingName, u.mountPoint);
                    });
                });
        });
}

void VolumeObject::Mount(sdbus::Result<std::string>&& result, std::string mountPoint,
                         Options options)
{
    authorized(
        std::move(result), "mount", "org.vaultd.mount", expectNoOptions(options), options,
        [&service = service_, v = volume_, mountPoint](sdbus::Result<std::string>&& result,
                                                       const Caller& who) mutable {
            service.run<std::string>(
                v.kernelName,
                [kernel = v.kernelName, mountPoint, owner = engine::Owner{who.uid, who.gid}](
                    engine::Operations& ops) { return ops.mount(kernel, mountPoint, owner); },
                [result = std::move(result), v](engine::Result<std::string> r) mutable {
                    reply(v, "mount", result, r,
                          [&](const std::string& at) { result.returnResults(at); });
                });
        });
}

void VolumeObject::Unmount(sdbus::Result<>&& result, Options options)
{
    authorized(
        std::move(result), "unmount", "org.vaultd.mount", expectNoOptions(options), options,
        [&service = service_, v = volume_](sdbus::Result<>&& result, const Caller&) mutable {
            service.run<engine::Changed>(
                v.kernelName,
                [kernel = v.kernelName](engine::Operations& ops) { return ops.unmount(kernel); },
                [result = std::move(result), v](engine::Result<engine::Changed> r) mutable {
                    reply(v, "unmount", result, r, [&](auto) { result.returnResults(); });
                });
        });
}

void VolumeObject::Lock(sdbus::Result<bool>&& result, Options options)
{
    // Locking what somebody else unlocked (or what vaultd did not unlock)
    // takes more than locking your own.
    auto caller = callerOf(getObject().getCurrentlyProcessedMessage());
    const bool own = caller && volume_.unlockedBy && *volume_.unlockedBy == caller.value().uid;
    const bool locked = volume_.mappingName.empty();
    const char* action = own || locked ? "org.vaultd.lock" : "org.vaultd.lock-others";
    auto request = decodeLock(options);
    authorized(
        std::move(result), "lock", action, statusOf(request), options,
        [&service = service_, v = volume_, req = request ? request.value() : engine::LockRequest{}](
            sdbus::Result<bool>&& result, const Caller&) mutable {
            service.run<engine::LockResult>(
                v.kernelName,
                [kernel = v.kernelName, req](engine::Operations& ops) {
                    return ops.lock(kernel, req);
                },
                [result = std::move(result), v](engine::Result<engine::LockResult> r) mutable {
                    reply(v, "lock", result, r,
                          [&](const engine::LockResult& l) { result.returnResults(l.deferred); });
                });
        });
}

void VolumeObject::Grow(
    sdbus::Result<std::vector<sdbus::Struct<std::string, uint64_t, uint64_t>>, bool>&& result,
    Options options)
{
    auto passphrase = decodeGrow(options);
    authorized(
        std::move(result), "grow", "org.vaultd.grow", statusOf(passphrase), options,
        [&service = service_, v = volume_,
         fd = passphrase ? passphrase.value() : std::optional<sdbus::UnixFd>{}](
            auto&& result, const Caller& who) mutable {
            service.runJob<engine::GrowResult>(
                v.kernelName, {"grow", who.uid},
                [kernel = v.kernelName, fd = std::move(fd)](
                    engine::Operations& ops,
                    engine::Progress& progress) -> engine::Result<engine::GrowResult> {
                    if (!fd)
                        return ops.grow(kernel, nullptr, progress);
                    auto secret = readPassphrase(*fd);
                    if (!secret)
                        return secret.error();
                    return ops.grow(kernel, &secret.value(), progress);
                },
                [result = std::move(result), v](engine::Result<engine::GrowResult> r) mutable {
                    reply(v, "grow", result, r, [&](const engine::GrowResult& g) {
                        std::vector<sdbus::Struct<std::string, uint64_t, uint64_t>> layers;
                        for (const auto& l : g.layers)
                            layers.emplace_back(l.layer, l.before, l.after);
                        result.returnResults(layers, g.changed == engine::Changed::Yes);
                    });
                });
        });
}

void VolumeObject::BackupHeader(sdbus::Result<std::string, uint64_t>&& result, sdbus::UnixFd file,
                                Options options)
{
    authorized(
        std::move(result), "back up the header of", "org.vaultd.header", expectNoOptions(options),
        options,
        [&service = service_, v = volume_, file = std::move(file)](auto&& result,
                                                                   const Caller&) mutable {
            service.run<engine::HeaderBackup>(
                v.kernelName,
                [kernel = v.kernelName, file = std::move(file)](engine::Operations& ops) {
                    return ops.exportHeader(kernel, file.get());
                },
                [result = std::move(result), v](engine::Result<engine::HeaderBackup> r) mutable {
                    reply(v, "back up the header of", result, r,
                          [&](const engine::HeaderBackup& b) {
                              result.returnResults(b.luksUuid, b.bytes);
                          });
                });
        });
}

void VolumeObject::ListKeyslots(
    sdbus::Result<uint32_t, std::vector<sdbus::Struct<uint32_t, std::string, std::string, uint32_t,
                                                      uint32_t, uint32_t>>>&& result,
    Options options)
{
    // What any header says to anyone who can read the device's metadata:
    // no secret, so no authorization; it runs on a worker like the rest.
    using Slots = std::vector<
        sdbus::Struct<uint32_t, std::string, std::string, uint32_t, uint32_t, uint32_t>>;
    // No polkit question, but the options are checked as every method's
    // are: "interactive" too must be a b.
    for (const engine::Status& st : {expectNoOptions(options), statusOf(interactiveOf(options))}) {
        if (!st) {
            reply(volume_, "list the keyslots of", result, st, [](auto&) {});
            return;
        }
    }
    service_.run<engine::HeaderInfo>(
        volume_.kernelName,
        [kernel = volume_.kernelName](engine::Operations& ops) { return ops.keyslots(kernel); },
        [result = std::move(result), v = volume_](engine::Result<engine::HeaderInfo> r) mutable {
            reply(v, "list the keyslots of", result, r, [&](const engine::HeaderInfo& h) {
                Slots slots;
                for (const auto& k : h.keyslots) {
                    std::string kind(engine::keyKindName(k.kind));
                    if (k.kind == engine::KeyKind::Token)
                        kind += ":" + k.tokenType;
                    slots.emplace_back(static_cast<uint32_t>(k.slot), kind, k.pbkdf, k.iterations,
                                       k.memoryKib, k.parallel);
                }
                result.returnResults(static_cast<uint32_t>(h.version), slots);
            });
        });
}

void VolumeObject::AddKeyslot(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing,
                              sdbus::UnixFd added, Options options)
{
    auto request = decodeKey(options);
    authorized(
        std::move(result), "add a keyslot to", "org.vaultd.manage-keys", statusOf(request), options,
        [&service = service_, v = volume_, existing = std::move(existing), added = std::move(added),
         req = request ? request.value() : engine::KeyRequest{}](auto&& result,
                                                                 const Caller& who) mutable {
            service.runJob<engine::KeyslotResult>(
                v.kernelName, {"add-keyslot", who.uid},
                [kernel = v.kernelName, existing = std::move(existing), added = std::move(added),
                 req](engine::Operations& ops,
                      engine::Progress& progress) -> engine::Result<engine::KeyslotResult> {
                    auto secrets = readTwo(existing, added);
                    if (!secrets)
                        return secrets.error();
                    progress.stage("deriving the keys", 0, 1, keyDerivations(ops, 2));
                    return ops.addKey(kernel, secrets.value().first, secrets.value().second, req);
                },
                [result = std::move(result), v](engine::Result<engine::KeyslotResult> r) mutable {
                    reply(v, "add a keyslot to", result, r, [&](const engine::KeyslotResult& k) {
                        result.returnResults(static_cast<uint32_t>(k.keyslot));
                    });
                });
        });
}

void VolumeObject::AddRecoveryKey(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing,
                                  sdbus::UnixFd keyOut, Options options)
{
    authorized(
        std::move(result), "add a recovery key to", "org.vaultd.manage-keys",
        expectNoOptions(options), options,
        [&service = service_, v = volume_, existing = std::move(existing),
         keyOut = std::move(keyOut)](auto&& result, const Caller&) mutable {
            service.run<engine::KeyslotResult>(
                v.kernelName,
                [kernel = v.kernelName, existing = std::move(existing), keyOut = std::move(keyOut)](
                    engine::Operations& ops) -> engine::Result<engine::KeyslotResult> {
                    auto secret = readPassphrase(existing);
                    if (!secret)
                        return secret.error();
                    // Delivered first: a key the caller never got must not
                    // sit in a keyslot.
                    const engine::SecretBuffer key = engine::makeRecoveryKey();
                    if (auto st = deliverKey(keyOut.get(), key); !st)
                        return st.error();
                    return ops.addRecoveryKey(kernel, secret.value(), key);
                },
                [result = std::move(result), v](engine::Result<engine::KeyslotResult> r) mutable {
                    reply(v, "add a recovery key to", result, r,
                          [&](const engine::KeyslotResult& k) {
                              result.returnResults(static_cast<uint32_t>(k.keyslot));
                          });
                });
        });
}

void VolumeObject::BindTang(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing,
                            std::string url, std::string thumbprint, Options options)
{
    // Checked before polkit is asked: a malformed address changes nothing.
    engine::Status valid = expectNoOptions(options);
    if (valid)
        valid = engine::checkTangUrl(url);
    if (valid)
        valid = engine::checkThumbprint(thumbprint);
    authorized(
        std::move(result), "bind to a key server", "org.vaultd.manage-keys", valid, options,
        [&service = service_, v = volume_, existing = std::move(existing), url = std::move(url),
         thumbprint = std::move(thumbprint)](auto&& result, const Caller&) mutable {
            service.run<engine::KeyslotResult>(
                v.kernelName,
                [kernel = v.kernelName, existing = std::move(existing), url,
                 thumbprint](engine::Operations& ops) -> engine::Result<engine::KeyslotResult> {
                    auto secret = readPassphrase(existing);
                    if (!secret)
                        return secret.error();
                    return ops.bindTang(kernel, secret.value(), url, thumbprint);
                },
                [result = std::move(result), v](engine::Result<engine::KeyslotResult> r) mutable {
                    reply(v, "bind to a key server", result, r,
                          [&](const engine::KeyslotResult& k) {
                              result.returnResults(static_cast<uint32_t>(k.keyslot));
                          });
                });
        });
}

void VolumeObject::ChangePassphrase(sdbus::Result<uint32_t>&& result, sdbus::UnixFd old,
                                    sdbus::UnixFd replacement, Options options)
{
    auto request = decodeKey(options);
    authorized(
        std::move(result), "change a passphrase of", "org.vaultd.manage-keys", statusOf(request),
        options,
        [&service = service_, v = volume_, old = std::move(old),
         replacement = std::move(replacement),
         req = request ? request.value() : engine::KeyRequest{}](auto&& result,
                                                                 const Caller& who) mutable {
            service.runJob<engine::KeyslotResult>(
                v.kernelName, {"change-passphrase", who.uid},
                [kernel = v.kernelName, old = std::move(old), replacement = std::move(replacement),
                 req](engine::Operations& ops,
                      engine::Progress& progress) -> engine::Result<engine::KeyslotResult> {
                    auto secrets = readTwo(old, replacement);
                    if (!secrets)
                        return secrets.error();
                    progress.stage("deriving the keys", 0, 1, keyDerivations(ops, 2));
                    return ops.changeKey(kernel, secrets.value().first, secrets.value().second,
                                         req);
                },
                [result = std::move(result), v](engine::Result<engine::KeyslotResult> r) mutable {
                    reply(v, "change a passphrase of", result, r,
                          [&](const engine::KeyslotResult& k) {
                              result.returnResults(static_cast<uint32_t>(k.keyslot));
                          });
                });
        });
}

void VolumeObject::RemoveKeyslot(sdbus::Result<>&& result, uint32_t keyslot,
                                 sdbus::UnixFd authorizing, Options options)
{
    engine::Status request = expectNoOptions(options);
    if (request && keyslot > 31)
        request =
            engine::makeError(engine::ErrorCode::InvalidArgument,
                              fmt::format("keyslot {} does not exist: LUKS has 0 to 31", keyslot));
    authorized(
        std::move(result), "remove a keyslot of", "org.vaultd.manage-keys", request, options,
        [&service = service_, v = volume_, keyslot, authorizing = std::move(authorizing)](
            auto&& result, const Caller&) mutable {
            service.run<engine::KeyslotResult>(
                v.kernelName,
                [kernel = v.kernelName, keyslot, authorizing = std::move(authorizing)](
                    engine::Operations& ops) -> engine::Result<engine::KeyslotResult> {
                    auto secret = readPassphrase(authorizing);
                    if (!secret)
                        return secret.error();
                    return ops.removeKey(kernel, static_cast<int>(keyslot), secret.value());
                },
                [result = std::move(result), v](engine::Result<engine::KeyslotResult> r) mutable {
                    reply(v, "remove a keyslot of", result, r,
                          [&](const engine::KeyslotResult&) { result.returnResults(); });
                });
        });
}

void VolumeObject::RestoreHeader(sdbus::Result<std::string, std::string>&& result,
                                 sdbus::UnixFd file, Options options)
{
    auto request = decodeRestore(options);
    authorized(
        std::move(result), "restore the header of", "org.vaultd.header", statusOf(request), options,
        [&service = service_, v = volume_, file = std::move(file),
         req = request ? request.value() : engine::RestoreRequest{}](auto&& result,
                                                                     const Caller& who) mutable {
            service.runJob<engine::RestoreResult>(
                v.kernelName, {"restore-header", who.uid},
                [kernel = v.kernelName, file = std::move(file), req](
                    engine::Operations& ops,
                    engine::Progress& progress) -> engine::Result<engine::RestoreResult> {
                    auto copy = system::copyToMemory(file.get(), kMaxHeaderBytes);
                    if (!copy)
                        return copy.error();
                    return ops.restoreHeader(kernel, system::memoryPath(copy.value()), req,
                                             progress);
                },
                [result = std::move(result), v](engine::Result<engine::RestoreResult> r) mutable {
                    reply(v, "restore the header of", result, r,
                          [&](const engine::RestoreResult& x) {
                              result.returnResults(x.backupUuid, x.deviceUuid);
                          });
                });
        });
}

void VolumeObject::RepairHeader(sdbus::Result<std::string>&& result, Options options)
{
    authorized(
        std::move(result), "repair the header of", "org.vaultd.header", expectNoOptions(options),
        options, [&service = service_, v = volume_](auto&& result, const Caller&) mutable {
            service.run<engine::RepairResult>(
                v.kernelName,
                [kernel = v.kernelName](engine::Operations& ops) {
                    return ops.repairHeader(kernel);
                },
                [result = std::move(result), v](engine::Result<engine::RepairResult> r) mutable {
                    reply(v, "repair the header of", result, r, [&](const engine::RepairResult& x) {
                        result.returnResults(std::string(engine::headerHealthName(x.before)));
                    });
                });
        });
}

namespace {

std::vector<std::string> flagNames(const engine::HeaderFlags& f)
{
    std::vector<std::string> names;
    if (f.noReadWorkqueue)
        names.emplace_back("no_read_workqueue");
    if (f.noWriteWorkqueue)
        names.emplace_back("no_write_workqueue");
    if (f.discard)
        names.emplace_back("allow_discards");
    return names;
}

}  // namespace

void VolumeObject::Tune(sdbus::Result<std::vector<std::string>>&& result, Options options)
{
    auto request = decodeTune(options);
    auto start = [&service = service_, v = volume_,
                  req = request ? request.value() : engine::TuneRequest{}](auto&& result,
                                                                           const Caller&) mutable {
        service.run<engine::TuneResult>(
            v.kernelName,
            [kernel = v.kernelName, req](engine::Operations& ops) { return ops.tune(kernel, req); },
            [result = std::move(result), v](engine::Result<engine::TuneResult> r) mutable {
                reply(v, "tune", result, r, [&](const engine::TuneResult& t) {
                    if (!t.backupProblem.empty())
                        log::warning(fmt::format("the header backup of '{}' was not refreshed: {}",
                                                 v.node, t.backupProblem),
                                     {{Field::Volume, v.kernelName}, {Field::Device, v.node}});
                    result.returnResults(flagNames(t.flags));
                });
            });
    };
    // Reading what the header keeps needs no authorization, as ListKeyslots.
    if (request && request.value().empty()) {
        if (auto st = statusOf(interactiveOf(options)); !st) {
            reply(volume_, "tune", result, st, [](auto&) {});
            return;
        }
        start(std::move(result), Caller{});
        return;
    }
    authorized(std::move(result), "tune", "org.vaultd.header", statusOf(request), options,
               std::move(start));
}

}  // namespace vaultd::bus
