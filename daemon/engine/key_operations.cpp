// The operations on a volume's keys and header: keyslots, recovery keys,
// restore and repair. Part of Operations (see operations.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "engine/keys.hpp"
#include "engine/operations.hpp"
#include "engine/topology.hpp"
#include "engine/validate.hpp"

namespace vaultd::engine {
namespace {

Error wrongPassphrase(const std::string& node)
{
    return makeError(ErrorCode::WrongPassphrase,
                     fmt::format("no keyslot of '{}' opens with that passphrase", node));
}

// Runs @attempt(keyslot) on the keyslots that fit in memory, the cheapest
// first, until one takes the secret; with nothing too big for memory and no
// slot excluded, lets libcryptsetup try them all in one call.
template <typename T, typename F>
Result<T> onAffordableSlots(const std::string& node, const HeaderInfo& header,
                            std::uint64_t available, int except, F&& attempt)
{
    std::vector<Keyslot> slots;
    for (const Keyslot& s : header.keyslots)
        if (s.slot != except)
            slots.push_back(s);
    const UnlockPlan plan = planUnlock(slots, available);
    if (plan.tooBig.empty() && except == kAnyKeyslot && plan.fit.size() == slots.size())
        return attempt(kAnyKeyslot);
    for (const Keyslot& s : plan.fit) {
        Result<T> r = attempt(s.slot);
        if (r || r.error().code != ErrorCode::WrongPassphrase)
            return r;
    }
    // A slot only a token opens takes no passphrase: one too big for
    // memory is no reason to say the passphrase may have been right.
    if (std::any_of(plan.tooBig.begin(), plan.tooBig.end(),
                    [](const Keyslot& s) { return s.kind != KeyKind::Token; }))
        return makeError(ErrorCode::InsufficientMemory, insufficientMemory(node, plan, available));
    return wrongPassphrase(node);
}

}  // namespace

Result<Volume> Operations::luksVolume(const std::string& kernelName)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    if (!found.value().signature.isLuks())
        return makeError(ErrorCode::NotLuks,
                         fmt::format("'{}' holds no LUKS header", found.value().node));
    return found;
}

Status Operations::checkStrength(const SecretBuffer& secret, KeyKind kind, bool acceptWeak)
{
    if (secret.empty())
        return makeError(ErrorCode::InvalidArgument, "the new passphrase is empty");
    if (kind != KeyKind::Passphrase || acceptWeak)
        return Done{};
    return ports_.quality.check(secret);
}

std::string Operations::refreshBackup(const Volume& v)
{
    auto header = ports_.crypt.header(v.node);
    if (!header)
        return header.error().message;
    auto kept = ports_.headers.save(
        v.node, {header.value().uuid, v.node, v.identity.ebsVolumeId, v.identity.serial, 0, 0});
    return kept ? std::string() : kept.error().message;
}

Result<int> Operations::openAffordably(const Volume& v, const std::string& name,
                                       const SecretBuffer& passphrase,
                                       const MappingOptions& options, int onlySlot)
{
    // A token's key is for the keyslot the token names, and no other.
    if (onlySlot != kAnyKeyslot)
        return ports_.crypt.activate(v.node, name, passphrase, onlySlot, options);
    auto header = ports_.crypt.header(v.node);
    if (!header)
        return header.error();
    return onAffordableSlots<int>(
        v.node, header.value(), ports_.kernel.memoryAvailable(), kAnyKeyslot,
        [&](int slot) { return ports_.crypt.activate(v.node, name, passphrase, slot, options); });
}

Result<HeaderInfo> Operations::keyslots(const std::string& kernelName)
{
    auto v = luksVolume(kernelName);
    if (!v)
        return v.error();
    return ports_.crypt.header(v.value().node);
}

Result<Operations::KeyTarget> Operations::keyTarget(const std::string& kernelName)
{
    auto found = luksVolume(kernelName);
    if (!found)
        return found.error();
    if (auto st = refuseIfFailing(found.value(), "change its keyslots"); !st)
        return st.error();
    auto header = ports_.crypt.header(found.value().node);
    if (!header)
        return header.error();
    KeyTarget t{std::move(found).value(), std::move(header).value(), {}};
    const PbkdfSettings capped = cappedFor(config_.pbkdf, config_.smallestInstanceMemory);
    t.pbkdf = t.header.version == 1 ? forLuks1(capped) : capped;
    return t;
}

Status Operations::roomForKeyslot(const KeyTarget& t)
{
    const HeaderInfo& h = t.header;
    if (static_cast<int>(h.keyslots.size()) < h.maxKeyslots)
        return Done{};
    return makeError(ErrorCode::NoFreeKeyslot,
                     fmt::format("'{}' has no free keyslot: {} of {} are in use; remove one first",
                                 t.volume.node, h.keyslots.size(), h.maxKeyslots));
}

Result<KeyslotResult> Operations::newKeyslot(const KeyTarget& t, const SecretBuffer& existing,
                                             const SecretBuffer& added, const PbkdfSettings& pbkdf,
                                             KeyKind kind, const std::string& tokenJson)
{
    if (auto st = roomForKeyslot(t); !st)
        return st.error();
    if (auto st = stillTheDevice(t.volume); !st)
        return st.error();
    const std::string& node = t.volume.node;
    auto slot = onAffordableSlots<int>(
        node, t.header, ports_.kernel.memoryAvailable(), kAnyKeyslot, [&](int existingSlot) {
            if (!tokenJson.empty())
                return ports_.crypt.addBoundKeyslot(node, existing, existingSlot, added, pbkdf,
                                                    tokenJson);
            return ports_.crypt.addKeyslot(node, existing, existingSlot, added, pbkdf, kind);
        });
    if (!slot)
        return slot.error();
    return KeyslotResult{slot.value(), refreshBackup(t.volume)};
}

Result<KeyslotResult> Operations::bindTang(const std::string& kernelName,
                                           const SecretBuffer& existing, const std::string& url,
                                           const std::string& thumbprint)
{
    if (auto st = checkTangUrl(url); !st)
        return st.error();
    if (auto st = checkThumbprint(thumbprint); !st)
        return st.error();
    auto t = keyTarget(kernelName);
    if (!t)
        return t.error();
    if (t.value().header.version == 1)
        return makeError(ErrorCode::NotSupportedOnLuks1,
                         fmt::format("'{}' is LUKS1, which has no tokens to keep a key server's "
                                     "binding in; convert the volume to LUKS2 first",
                                     t.value().volume.node));
    // Before the server is asked: a full header would waste its answer.
    if (auto st = roomForKeyslot(t.value()); !st)
        return st.error();
    // As random as a recovery key, and as printable: clevis passes it on
    // through its shell pipes.
    const SecretBuffer key = makeRecoveryKey();
    auto token = ports_.keyServers.bindTang(url, thumbprint, key);
    if (!token)
        return token.error();
    return newKeyslot(t.value(), existing, key, recoveryPbkdf(config_.pbkdf), KeyKind::Token,
                      token.value());
}

Result<KeyslotResult> Operations::addKey(const std::string& kernelName,
                                         const SecretBuffer& existing, const SecretBuffer& added,
                                         const KeyRequest& request)
{
    if (request.kind != KeyKind::Passphrase && request.kind != KeyKind::KeyFile)
        return makeError(ErrorCode::InvalidArgument,
                         "a new keyslot holds a passphrase or a key file");
    if (auto st = checkStrength(added, request.kind, request.acceptWeak); !st)
        return st.error();
    auto t = keyTarget(kernelName);
    if (!t)
        return t.error();
    if (t.value().header.version == 1 && request.kind != KeyKind::Passphrase)
        return makeError(ErrorCode::NotSupportedOnLuks1,
                         fmt::format("'{}' is LUKS1, whose header cannot record a key file's "
                                     "keyslot as one; add it as a passphrase, or convert the "
                                     "volume to LUKS2",
                                     t.value().volume.node));
    return newKeyslot(t.value(), existing, added, t.value().pbkdf, request.kind);
}

Result<KeyslotResult> Operations::addRecoveryKey(const std::string& kernelName,
                                                 const SecretBuffer& existing,
                                                 const SecretBuffer& recoveryKey)
{
    if (!isRecoveryKey({recoveryKey.data(), recoveryKey.size()}))
        return makeError(ErrorCode::InvalidArgument, "that is not a recovery key vaultd made");
    auto t = keyTarget(kernelName);
    if (!t)
        return t.error();
    if (t.value().header.version == 1)
        return makeError(ErrorCode::NotSupportedOnLuks1,
                         fmt::format("'{}' is LUKS1, whose header cannot record a recovery "
                                     "key's keyslot as one; convert the volume to LUKS2 first",
                                     t.value().volume.node));
    return newKeyslot(t.value(), existing, recoveryKey, recoveryPbkdf(config_.pbkdf),
                      KeyKind::Recovery);
}

Result<KeyslotResult> Operations::changeKey(const std::string& kernelName, const SecretBuffer& old,
                                            const SecretBuffer& replacement,
                                            const KeyRequest& request)
{
    if (request.kind != KeyKind::Passphrase && request.kind != KeyKind::KeyFile)
        return makeError(ErrorCode::InvalidArgument,
                         "a keyslot's new secret is a passphrase or a key file");
    if (auto st = checkStrength(replacement, request.kind, request.acceptWeak); !st)
        return st.error();
    auto t = keyTarget(kernelName);
    if (!t)
        return t.error();
    const std::string& node = t.value().volume.node;
    if (auto st = stillTheDevice(t.value().volume); !st)
        return st.error();
    auto slot = onAffordableSlots<int>(
        node, t.value().header, ports_.kernel.memoryAvailable(), kAnyKeyslot, [&](int oldSlot) {
            return ports_.crypt.changeKey(node, old, oldSlot, replacement, t.value().pbkdf);
        });
    if (!slot)
        return slot.error();
    return KeyslotResult{slot.value(), refreshBackup(t.value().volume)};
}

Result<KeyslotResult> Operations::removeKey(const std::string& kernelName, int keyslot,
                                            const SecretBuffer& authorizing)
{
    auto t = keyTarget(kernelName);
    if (!t)
        return t.error();
    const Volume& v = t.value().volume;
    const HeaderInfo& h = t.value().header;
    bool exists = false;
    for (const Keyslot& s : h.keyslots)
        exists = exists || s.slot == keyslot;
    if (!exists)
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("keyslot {} of '{}' is not in use", keyslot, v.node));
    if (h.keyslots.size() == 1)
        return makeError(ErrorCode::LastKeyslot,
                         fmt::format("keyslot {} is the last keyslot of '{}'; without it nothing "
                                     "opens the volume, so it stays",
                                     keyslot, v.node));
    // The header read above says which slots to try; no second read.
    auto other = onAffordableSlots<int>(
        v.node, h, ports_.kernel.memoryAvailable(), keyslot,
        [&](int slot) { return ports_.crypt.activate(v.node, "", authorizing, slot); });
    if (!other) {
        if (other.error().code != ErrorCode::WrongPassphrase)
            return other.error();
        return makeError(ErrorCode::WrongPassphrase,
                         fmt::format("that passphrase opens no keyslot of '{}' but keyslot {}; "
                                     "give the passphrase of a keyslot that stays, which shows "
                                     "that a way in remains",
                                     v.node, keyslot));
    }
    if (auto st = stillTheDevice(v); !st)
        return st.error();
    if (auto st = ports_.crypt.removeKeyslot(v.node, keyslot); !st)
        return st.error();
    return KeyslotResult{keyslot, refreshBackup(v)};
}

Result<RestoreResult> Operations::restoreHeader(const std::string& kernelName,
                                                const std::string& file,
                                                const RestoreRequest& request, Progress& progress)
{
    progress.stage("checking the backup", 0, 0.3);
    auto backup = ports_.crypt.header(file);
    if (!backup)
        return makeError(ErrorCode::InvalidArgument, "the file holds no valid LUKS header backup");
    const HeaderInfo& b = backup.value();

    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (auto st = refuseIfFailing(v, "restore a header to it"); !st)
        return st.error();
    if (!v.mappingName.empty())
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' is unlocked as '{}'; lock it before restoring its "
                                     "header",
                                     v.node, v.mappingName));
    if (holderOf(topology, v.kernelName) || !ports_.kernel.canOpenExclusively(v.node))
        return makeError(
            ErrorCode::Busy,
            fmt::format("'{}' is in use (mounted, or open in another program)", v.node));
    if (v.size < b.dataOffset)
        return makeError(ErrorCode::TooSmall,
                         fmt::format("the backup's header spans {} bytes, more than the {} "
                                     "bytes of '{}'; it is not this volume's",
                                     b.dataOffset, v.size, v.node));

    RestoreResult result{b.uuid, ports_.kernel.luksHeaders(v.node).uuid};
    if (result.deviceUuid.empty() && v.signature.isLuks())
        result.deviceUuid = v.signature.uuid;
    if (result.deviceUuid != b.uuid) {
        const std::string token = forceToken(v.node, v.size);
        const std::string what =
            result.deviceUuid.empty()
                ? fmt::format("nothing on '{}' names the volume it holds", v.node)
                : fmt::format("'{}' holds the LUKS volume {}", v.node, result.deviceUuid);
        if (request.force.empty())
            return makeError(ErrorCode::HeaderMismatch,
                             fmt::format("the backup is the header of {}, and {}; to write it "
                                         "there anyway, confirm with force '{}'",
                                         b.uuid, what, token));
        if (request.force != token)
            return makeError(ErrorCode::HeaderMismatch,
                             fmt::format("force '{}' does not match '{}', which is '{}' now",
                                         request.force, v.node, token));
    }
    if (auto st = stillTheDevice(v); !st)
        return st.error();
    progress.stage("writing the header", 0.3, 0.9);
    if (auto st = ports_.crypt.restoreHeader(v.node, file); !st)
        return st.error();
    progress.stage("reading it back", 0.9, 1);
    auto now = ports_.crypt.header(v.node);
    if (!now || now.value().uuid != b.uuid)
        return makeError(ErrorCode::Failed,
                         fmt::format("the header of '{}' does not read back as {} after the "
                                     "restore",
                                     v.node, b.uuid));
    return result;
}

Result<TuneResult> Operations::tune(const std::string& kernelName, const TuneRequest& request)
{
    auto found = luksVolume(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (auto st = refuseIfFailing(v, "change its dm-crypt options"); !st)
        return st.error();
    auto header = ports_.crypt.header(v.node);
    if (!header)
        return header.error();
    TuneResult result{header.value().flags, false, {}};
    if (request.empty())
        return result;
    if (header.value().version != 2)
        return makeError(
            ErrorCode::NotSupportedOnLuks1,
            fmt::format("'{}' is LUKS1, whose header keeps no dm-crypt options", v.node));
    if (v.headerHealth != HeaderHealth::Valid)
        return makeError(ErrorCode::WrongState,
                         fmt::format("the header of '{}' is {}; repair or restore it before "
                                     "changing it",
                                     v.node, headerHealthName(v.headerHealth)));
    HeaderFlags wanted = result.flags;
    if (request.readWorkqueue)
        wanted.noReadWorkqueue = !*request.readWorkqueue;
    if (request.writeWorkqueue)
        wanted.noWriteWorkqueue = !*request.writeWorkqueue;
    if (request.discard)
        wanted.discard = *request.discard;
    if (wanted == result.flags)
        return result;
    if (auto st = stillTheDevice(v); !st)
        return st.error();
    if (auto st = ports_.crypt.setHeaderFlags(v.node, wanted); !st)
        return st.error();
    auto after = ports_.crypt.header(v.node);
    if (!after)
        return after.error();
    result.flags = after.value().flags;
    result.changed = true;
    result.backupProblem = refreshBackup(v);
    return result;
}

Result<RepairResult> Operations::repairHeader(const std::string& kernelName)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (auto st = refuseIfFailing(v, "repair its header"); !st)
        return st.error();
    RepairResult result;
    result.before = v.headerHealth;
    switch (v.headerHealth) {
    case HeaderHealth::None:
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS header", v.node));
    case HeaderHealth::Valid:
        return makeError(
            ErrorCode::WrongState,
            fmt::format("the header of '{}' is intact; there is nothing to repair", v.node));
    case HeaderHealth::Overwritten:
        return makeError(
            ErrorCode::WrongState,
            fmt::format("a {} signature sits over the header of '{}': whatever "
                        "wrote it may hold data now, and a repair would destroy "
                        "it; restore a header backup instead ('vaultctl header "
                        "restore', which asks to confirm)",
                        v.filesystemType.empty() ? "foreign" : v.filesystemType, v.node));
    case HeaderHealth::Unreadable:  // refused above: only a failing device has it
        return makeError(ErrorCode::DeviceFailing,
                         fmt::format("the header of '{}' cannot be read", v.node));
    case HeaderHealth::PrimaryDamaged:
    case HeaderHealth::SecondaryDamaged: break;
    }
    const std::string uuid = ports_.kernel.luksHeaders(v.node).uuid;
    auto kept = ports_.headers.save(v.node, {uuid.empty() ? v.signature.uuid : uuid, v.node,
                                             v.identity.ebsVolumeId, v.identity.serial, 0, 0});
    if (!kept)
        return makeError(kept.error().code,
                         fmt::format("no repair without a backup first, and the backup failed: "
                                     "{}",
                                     kept.error().message));
    result.backup = kept.value();
    if (auto st = stillTheDevice(v); !st)
        return st.error();
    if (auto st = ports_.crypt.repairHeader(v.node); !st)
        return st.error();
    auto after = inspect(kernelName);
    if (!after)
        return after.error();
    if (after.value().headerHealth != HeaderHealth::Valid)
        return makeError(ErrorCode::Failed,
                         fmt::format("the header of '{}' is {} after the repair", v.node,
                                     headerHealthName(after.value().headerHealth)));
    return result;
}

}  // namespace vaultd::engine
