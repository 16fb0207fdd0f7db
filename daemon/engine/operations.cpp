#include "engine/operations.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <utility>

#include "engine/keys.hpp"
#include "engine/quote.hpp"
#include "engine/validate.hpp"

namespace vaultd::engine {
namespace {

Error busy(std::string message)
{
    return makeError(ErrorCode::Busy, std::move(message));
}

// CRYPT-LUKS2-<32 hex digits>-<name>, as libcryptsetup names its mappings,
// to the UUID in the header, or empty.
std::string luksUuidOfDm(const std::string& dmUuid)
{
    std::string_view rest = dmUuid;
    for (std::string_view prefix : {"CRYPT-LUKS2-", "CRYPT-LUKS1-"}) {
        if (rest.starts_with(prefix)) {
            rest.remove_prefix(prefix.size());
            if (rest.size() < 32)
                return {};
            const std::string hex(rest.substr(0, 32));
            return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4),
                               hex.substr(12, 4), hex.substr(16, 4), hex.substr(20));
        }
    }
    return {};
}

// What a device that cannot be read held when it could be: the LUKS header
// its open mapping was made from, else what udev last found on it, else
// something vaultd cannot name (never "empty": that would invite a format).
Signature lastKnownSignature(const Topology& topology, const BlockNode& node,
                             const std::optional<KernelView::UdevRecord>& recorded)
{
    if (const BlockNode* mapping = luksMappingOf(topology, node.name))
        return Signature{"crypto_LUKS",
                         "crypto",
                         luksUuidOfDm(mapping->dmUuid),
                         {},
                         mapping->dmUuid.starts_with("CRYPT-LUKS1-") ? 1u : 2u};
    if (recorded && !recorded->signature.none())
        return recorded->signature;
    return Signature{"unreadable", "unknown", {}, {}, 0};
}

std::string describeSignature(const Signature& s)
{
    if (s.isLuks())
        return fmt::format("a LUKS{} header", s.luksVersion);
    if (s.usage == "partition table" || s.type == "gpt" || s.type == "dos")
        return fmt::format("a {} partition table", s.type);
    return fmt::format("{} {} signature", s.type == "ext4" || s.type == "xfs" ? "an" : "a", s.type);
}

}  // namespace

bool GrowPolicy::covers(const Volume& v) const
{
    if (all)
        return true;
    for (const auto& name : volumes) {
        if (name.empty())
            continue;
        if ((v.signature.isLuks() && (name == v.signature.uuid || name == v.signature.label)) ||
            name == v.identity.ebsVolumeId || name == v.mappingName)
            return true;
    }
    return false;
}

Operations::Operations(Ports ports, EngineConfig config) : ports_(ports), config_(std::move(config))
{
}

void Operations::noteDeparted(std::uint64_t diskseq)
{
    if (diskseq == 0)
        return;
    std::lock_guard hold(departedLock_);
    departed_.insert(diskseq);
}

Topology Operations::currentTopology()
{
    Topology topology = ports_.kernel.readTopology();
    std::lock_guard hold(departedLock_);
    if (!departed_.empty())
        departed_ = dropDeparted(topology, departed_);
    return topology;
}

ScanResult Operations::scan(ScanSource source)
{
    const Topology topology = currentTopology();
    ScanResult result;
    for (const auto& [name, node] : topology.nodes) {
        auto v = inspectIn(topology, name, source);
        if (v)
            result.volumes.push_back(std::move(v).value());
    }
    result.lost = lostIn(topology);
    // At start no format of this vaultd's can be under way yet.
    if (source == ScanSource::UdevDatabase) {
        for (const auto& [name, node] : topology.nodes) {
            if (node.dmName.starts_with(kFormatMappingPrefix))
                result.interruptedFormats.push_back(node.dmName);
        }
    }
    return result;
}

Status Operations::closeInterruptedFormat(const std::string& mappingName)
{
    if (!mappingName.starts_with(kFormatMappingPrefix))
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("'{}' is not a format's mapping", mappingName));
    return closeMapping(mappingName, Crypt::Deactivate::Deferred);
}

Identity Operations::identityOf(const BlockNode& node, const std::vector<std::string>& links)
{
    IdentityInput input{node.name, !node.parent.empty(), node.model, node.serial, links, {}};
    // Only an EBS controller is asked for its identify page: nothing else
    // keeps a name there, and no other device needs an admin command.
    if (!input.partition && node.name.starts_with("nvme") &&
        ebsVolumeId(node.model, node.serial, config_.identity))
        input.identify = ports_.kernel.nvmeIdentify("/dev/" + node.name);
    return identify(input, config_.identity);
}

Result<Signature> Operations::probeMapping(const BlockNode& mapping)
{
    std::shared_lock reading(mappingUse_);
    return ports_.kernel.probe("/dev/mapper/" + mapping.dmName);
}

Status Operations::closeMapping(const std::string& name, Crypt::Deactivate how)
{
    std::unique_lock closing(mappingUse_);
    return ports_.crypt.deactivate(name, how);
}

Result<Volume> Operations::inspect(const std::string& kernelName)
{
    return inspectIn(currentTopology(), kernelName);
}

Result<Volume> Operations::inspectIn(const Topology& topology, const std::string& kernelName,
                                     ScanSource source)
{
    auto it = topology.nodes.find(kernelName);
    if (it == topology.nodes.end() || !isCandidate(it->second, config_.allowLoop))
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("no device '{}' that vaultd manages", kernelName));
    if (auto reason = reservedBy(topology, kernelName))
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("'{}' is reserved for the system: {}", kernelName, *reason));

    const BlockNode& node = it->second;
    const bool fromUdev = source == ScanSource::UdevDatabase;
    auto recorded = fromUdev ? ports_.kernel.udevRecord(node.name) : std::nullopt;
    auto outer = recorded ? Result<Signature>(recorded->signature)
                          : ports_.kernel.probe("/dev/" + node.name);
    // A failing device stays listed, as the kernel shows it, and is read no
    // more than that: every read may wait for the driver to give up.
    std::string failing = failingReason(node.health);
    if (!outer) {
        if (outer.error().code != ErrorCode::DeviceFailing)
            return outer.error();
        failing = failing.empty() ? outer.error().message
                                  : fmt::format("{}; {}", failing, outer.error().message);
        if (!recorded)
            recorded = ports_.kernel.udevRecord(node.name);
        outer = lastKnownSignature(topology, node, recorded);
    }

    Signature inner;
    if (outer.value().isLuks()) {
        if (const BlockNode* mapping = luksMappingOf(topology, node.name)) {
            // Over a failing device, udev's record or nothing: no probe.
            std::optional<KernelView::UdevRecord> innerRecord;
            if (fromUdev || !failing.empty())
                innerRecord = ports_.kernel.udevRecord(mapping->name);
            if (innerRecord) {
                inner = std::move(innerRecord->signature);
            } else if (failing.empty()) {
                if (auto probed = probeMapping(*mapping))
                    inner = std::move(probed).value();
            }
        }
    }
    Volume v = describe(topology, node, outer.value(), inner);
    v.failing = std::move(failing);
    // A blank device, most of them at start, has no header copy to read:
    // libblkid would have reported a lone secondary as LUKS.
    if (!v.failing.empty())
        v.headerHealth = outer.value().isLuks() ? HeaderHealth::Unreadable : HeaderHealth::None;
    else
        v.headerHealth =
            judgeHeader(outer.value(),
                        outer.value().none() ? HeaderCopies{} : ports_.kernel.luksHeaders(v.node));
    v.links = recorded ? std::move(recorded->links) : ports_.kernel.links(node.name);
    v.identity = identityOf(node, v.links);
    if (!v.mappingName.empty()) {
        v.unlockedBy = ports_.records.find(v.mappingName, v.signature.uuid);
        if (auto m = ports_.crypt.mapping(v.mappingName); m && v.size > m.value().offset)
            v.growableBy =
                v.size - m.value().offset - std::min(m.value().size, v.size - m.value().offset);
    }
    return v;
}

Status Operations::checkFormatAllowed(const Topology& topology, const Volume& v,
                                      const FormatRequest& request, Filesystem fs)
{
    if (!v.mappingName.empty() || holderOf(topology, v.kernelName))
        return busy(fmt::format("'{}' is in use by a device-mapper device", v.node));
    // An exclusive open fails while anything claims the device or one of its
    // partitions: a mount, a mapping, swap, another tool.
    if (!ports_.kernel.canOpenExclusively(v.node))
        return busy(fmt::format("'{}' is in use (mounted, or open in another program)", v.node));

    if (!v.signature.none()) {
        const std::string token = forceToken(v.node, v.size);
        if (request.force.empty())
            return makeError(ErrorCode::NotEmpty,
                             fmt::format("'{}' holds {}; to destroy it, confirm with force '{}'",
                                         v.node, describeSignature(v.signature), token));
        if (request.force != token)
            return makeError(ErrorCode::NotEmpty,
                             fmt::format("force {} does not match '{}', which is '{}' now",
                                         quoted(request.force), v.node, token));
    }

    const std::uint64_t usable = v.size > kLuks2DataOffset ? v.size - kLuks2DataOffset : 0;
    if (usable < minimumSize(fs))
        return makeError(
            ErrorCode::TooSmall,
            fmt::format("'{}' leaves {} MiB after the LUKS2 header, {} needs {} MiB", v.node,
                        usable >> 20, filesystemName(fs), minimumSize(fs) >> 20));
    return Done{};
}

Result<FormatResult> Operations::format(const std::string& kernelName,
                                        const SecretBuffer& passphrase,
                                        const FormatRequest& request, Progress& progress)
{
    auto fs = parseFilesystem(request.filesystem);
    if (!fs)
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("unknown filesystem {}: use ext4, xfs or btrfs",
                                     quoted(request.filesystem)));
    if (auto st = checkLabel(request.label, *fs); !st)
        return st.error();
    if (passphrase.empty())
        return makeError(ErrorCode::InvalidArgument, "the passphrase is empty");
    if (auto st = checkStrength(passphrase, request.keyKind, request.acceptWeak); !st)
        return st.error();

    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (auto st = refuseIfFailing(v, "format it"); !st)
        return st.error();
    if (auto st = checkFormatAllowed(topology, v, request, *fs); !st)
        return st.error();

    if (auto st = stillTheDevice(v); !st)
        return st.error();
    if (!v.signature.none()) {
        if (auto st = ports_.kernel.wipeSignatures(v.node); !st)
            return st.error();
    }

    LuksParams params;
    params.label = request.label;
    // Never what this machine's memory allows: what the smallest instance
    // that may open the volume can afford.
    params.pbkdf = cappedFor(config_.pbkdf, config_.smallestInstanceMemory);
    params.keyKind = request.keyKind;
    params.flags.noReadWorkqueue = !request.workqueues;
    params.flags.discard = request.discard;
    // The filesystem is made through a short-lived mapping of our own, so the
    // volume is locked again when Format returns.
    const std::string temp = std::string(kFormatMappingPrefix) + v.kernelName;
    const std::string mapped = "/dev/mapper/" + temp;
    if (auto st = stillTheDevice(v); !st)
        return st.error();
    // The erase, when asked, is nearly all of the time.
    const double headerEnd = request.erase ? 0.02 : 0.5;
    const double eraseEnd = request.erase ? 0.97 : headerEnd;
    progress.stage("writing the header", 0, headerEnd,
                   std::chrono::milliseconds(params.pbkdf.iterations ? 0 : params.pbkdf.timeMs));
    if (auto st = ports_.crypt.format(v.node, params, passphrase, temp); !st)
        return st.error();

    if (request.erase) {
        progress.stage("erasing", headerEnd, eraseEnd);
        progress.setCancellable(true);
        Status erased = ports_.crypt.erase(mapped, progress);
        progress.setCancellable(false);
        if (!erased) {
            Status closed = closeMapping(temp, Crypt::Deactivate::Normal);
            if (erased.error().code != ErrorCode::Cancelled)
                return erased.error();
            return makeError(
                ErrorCode::Cancelled,
                fmt::format("the format of '{}' was cancelled while erasing: the device holds its "
                            "new LUKS header and keyslot, part of its data area erased, and no "
                            "filesystem{}; format it again (--force {}:{}) to start over",
                            v.node,
                            closed ? ""
                                   : fmt::format(" (and the mapping '{}' stays open: {})", temp,
                                                 closed.error().message),
                            v.node, v.size));
        }
    }

    // TODO: when mkfs fails the new header stays behind; wiping it again
    // would make a failed format leave the device as it was.
    progress.stage("making the filesystem", eraseEnd, 1);
    Status made = ports_.tools.make(*fs, mapped, request.label);
    Status closed = closeMapping(temp, Crypt::Deactivate::Normal);
    if (!made)
        return made.error();
    if (!closed)
        return closed.error();

    // The likeliest way to lose a volume is a damaged header: keep a copy
    // from the first moment.
    FormatResult result;
    auto written = ports_.kernel.probe(v.node);
    if (!written || !written.value().isLuks()) {
        result.backupProblem = fmt::format("'{}' does not read back as LUKS to back it up", v.node);
        return result;
    }
    auto kept = ports_.headers.save(
        v.node, {written.value().uuid, v.node, v.identity.ebsVolumeId, v.identity.serial, 0, 0});
    if (kept)
        result.backup = kept.value();
    else
        result.backupProblem = kept.error().message;
    return result;
}

Status Operations::stillTheDevice(const Volume& v)
{
    // The request was resolved to this device once; a node that now leads
    // to another (detached, and another attached under the name) is not it.
    auto now = ports_.kernel.identityOf(v.node);
    if (now && now.value().devnum == v.devnum &&
        (v.diskseq == 0 || now.value().diskseq == v.diskseq))
        return Done{};
    return makeError(ErrorCode::NoSuchDevice,
                     fmt::format("'{}' is no longer the device this request was for (it was "
                                 "detached, or replaced); nothing more was done",
                                 v.node));
}

Status Operations::checkRequestedMountPoint(const std::string& path) const
{
    if (auto st = checkMountPoint(path); !st)
        return st;
    if (!isUnderRoots(path, config_.mountRoots))
        return makeError(ErrorCode::InvalidMountPoint,
                         fmt::format("invalid mount point {}: it must be one of, or inside one "
                                     "of, the mount roots {}",
                                     quoted(path), fmt::join(config_.mountRoots, ", ")));
    return Done{};
}

Result<UnlockResult> Operations::unlock(const std::string& kernelName,
                                        const SecretBuffer& passphrase,
                                        const UnlockRequest& request, Progress& progress)
{
    return unlock(kernelName, passphrase, request, kAnyKeyslot, progress);
}

Result<UnlockResult> Operations::unlock(const std::string& kernelName,
                                        const SecretBuffer& passphrase,
                                        const UnlockRequest& request, int onlySlot,
                                        Progress& progress)
{
    if (auto st = checkMappingName(request.name); !st)
        return st.error();
    if (!request.mountPoint.empty()) {
        if (auto st = checkRequestedMountPoint(request.mountPoint); !st)
            return st.error();
    }

    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    Volume v = std::move(found).value();
    // libcryptsetup mends a damaged header copy when it loads one.
    if (auto st = refuseIfFailing(v, "unlock it"); !st)
        return st.error();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", v.node));

    const std::string& name = request.name;
    const bool wantMount = request.mount || !request.mountPoint.empty();

    UnlockResult result;
    bool opened = false;
    if (!v.mappingName.empty()) {
        // Unlocked already, by vaultd or by hand, under this name or another:
        // nothing to open, and the caller learns the name it has.
        result.mappingName = v.mappingName;
        result.wasUnlocked = true;
    } else {
        if (ports_.crypt.mappingExists(name))
            return nameInUse(topology, name);
        if (auto st = stillTheDevice(v); !st)
            return st.error();
        // A keyslot costs about the time it was made to cost.
        progress.stage("deriving the key", 0, wantMount ? 0.9 : 1,
                       std::chrono::milliseconds(config_.pbkdf.timeMs));
        if (auto st = openAffordably(v, name, passphrase, request.mapping, onlySlot); !st)
            return st.error();
        ports_.records.record(name, v.signature.uuid, request.owner.uid);
        result.mappingName = name;
        opened = true;
    }
    if (!wantMount)
        return result;

    // A read-only mapping mounts read-only, or not at all.
    const std::string options =
        joinMountOptions(request.mountOptions, request.mapping.readOnly ? "ro" : "");
    auto mounted = opened ? mountAfterUnlock(kernelName, request.mountPoint, request.owner, options)
                          : mountMapping(topology, v, request.mountPoint, request.owner, options);
    // A request that failed leaves things as they were: close what it opened.
    if (!mounted) {
        if (opened) {
            (void)closeMapping(name, Crypt::Deactivate::Normal);
            ports_.records.forget(name);
        }
        return mounted.error();
    }
    result.mountPoint = mounted.value();
    return result;
}

Result<Volume> Operations::configuredDevice(const std::string& kernelName,
                                            const ConfiguredVolume& c)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    if (!matches(c, found.value()))
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("'{}' is not the volume {} names (any more); nothing was "
                                     "opened",
                                     found.value().node, c.origin));
    return found;
}

namespace {

UnlockRequest requestFor(const ConfiguredVolume& c)
{
    UnlockRequest request;
    request.name = c.mappingName;
    request.mount = !c.mountPoint.empty();
    request.mountPoint = c.mountPoint;
    if (c.hasOwner)
        request.owner = {c.ownerUid, c.ownerGid};
    request.mapping = c.mapping;
    request.mountOptions = c.mountOptions;
    return request;
}

}  // namespace

Result<UnlockResult> Operations::unlockConfigured(const std::string& kernelName,
                                                  const ConfiguredVolume& c,
                                                  const SecretBuffer& secret)
{
    // Identity first: the device must still be the one the file names.
    if (auto found = configuredDevice(kernelName, c); !found)
        return found.error();
    auto unlocked = unlock(kernelName, secret, requestFor(c));
    if (unlocked)
        ports_.units.opened(c.mappingName);
    return unlocked;
}

Result<UnlockResult> Operations::unlockConfiguredByToken(const std::string& kernelName,
                                                         const ConfiguredVolume& c)
{
    if (auto found = configuredDevice(kernelName, c); !found)
        return found.error();
    auto unlocked = unlockByToken(kernelName, requestFor(c));
    if (unlocked)
        ports_.units.opened(c.mappingName);
    return unlocked;
}

Result<UnlockResult> Operations::unlockByToken(const std::string& kernelName,
                                               const UnlockRequest& request)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    if (!found.value().signature.isLuks())
        return makeError(ErrorCode::NotLuks,
                         fmt::format("'{}' holds no LUKS container", found.value().node));
    const std::string& node = found.value().node;
    auto tokens = ports_.crypt.tokens(node);
    if (!tokens)
        return tokens.error();
    std::vector<std::string> why;
    for (const TokenRecord& t : tokens.value()) {
        if (t.type != kClevisToken || t.keyslots.empty())
            continue;
        SecretBuffer key;
        if (auto st = ports_.keyServers.unwrap(t.json, key); !st) {
            why.push_back(fmt::format("token {}: {}", t.token, st.error().message));
            continue;
        }
        for (int slot : t.keyslots) {
            auto unlocked = unlock(kernelName, key, request, slot, Progress::none());
            if (unlocked)
                return unlocked;
            if (unlocked.error().code != ErrorCode::WrongPassphrase)
                return unlocked.error();
            why.push_back(fmt::format("token {}: its key does not open keyslot {}", t.token, slot));
        }
    }
    if (why.empty())
        return makeError(ErrorCode::CredentialRequired,
                         fmt::format("'{}' is bound to no key server (it has no clevis token); "
                                     "bind it with vaultctl bind, or unlock it by hand",
                                     node));
    return makeError(ErrorCode::KeyServerUnavailable,
                     fmt::format("no key server gave the key of '{}' ({}); unlock it by hand", node,
                                 fmt::join(why, "; ")));
}

Error Operations::nameInUse(const Topology& topology, const std::string& name) const
{
    for (const auto& [kernel, node] : topology.nodes) {
        if (node.dmName != name)
            continue;
        if (!node.slaves.empty())
            return makeError(
                ErrorCode::NameInUse,
                fmt::format("the mapping name '{}' is taken by the mapping of '/dev/{}'", name,
                            node.slaves.front()));
        break;
    }
    return makeError(ErrorCode::NameInUse,
                     fmt::format("the mapping name '{}' is taken by another mapping", name));
}

Result<std::string> Operations::mountAfterUnlock(const std::string& kernelName,
                                                 const std::string& mountPoint, const Owner& owner,
                                                 const std::string& extraOptions)
{
    // The mapping is new: look again to learn its node.
    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    if (found.value().mappingName.empty())
        return makeError(
            ErrorCode::Failed,
            fmt::format("the mapping of '{}' vanished after unlocking", found.value().node));
    return mountMapping(topology, found.value(), mountPoint, owner, extraOptions);
}

Result<std::string> Operations::mount(const std::string& kernelName, const std::string& mountPoint,
                                      const Owner& owner)
{
    if (!mountPoint.empty()) {
        if (auto st = checkRequestedMountPoint(mountPoint); !st)
            return st.error();
    }
    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (v.mappingName.empty())
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' is {}; unlock it first", v.node, stateName(v.state)));
    // Even a read-only mount replays the journal.
    if (auto st = refuseIfFailing(v, "mount it"); !st)
        return st.error();
    return mountMapping(topology, v, mountPoint, owner);
}

Status Operations::checkUniqueFilesystem(const Topology& topology, const Volume& v,
                                         const Signature& inner)
{
    if (inner.uuid.empty())
        return Done{};
    const BlockNode* ours = luksMappingOf(topology, v.kernelName);
    std::set<const BlockNode*> probed;
    for (const auto& m : topology.mounts) {
        const BlockNode* source = sourceOf(topology, m);
        if (!source || source == ours || !probed.insert(source).second)
            continue;
        const std::string node =
            source->dmName.empty() ? "/dev/" + source->name : mappingNode(*source);
        auto other = ports_.kernel.probe(node);
        if (other && other.value().uuid == inner.uuid)
            return makeError(
                ErrorCode::DuplicateFilesystemUuid,
                fmt::format("the filesystem in '{}' has UUID {}, as has the one from '{}' mounted "
                            "at '{}' (a copy of the same volume?); the kernel cannot tell them "
                            "apart",
                            v.node, inner.uuid, node, m.target));
    }
    return Done{};
}

Result<std::string> Operations::mountMapping(const Topology& topology, const Volume& v,
                                             const std::string& requested, const Owner& owner,
                                             const std::string& extraOptions)
{
    // Mounted already: that is the answer, unless the caller wanted it
    // somewhere else.
    if (!v.mountPoint.empty()) {
        if (requested.empty() || requested == v.mountPoint)
            return v.mountPoint;
        return busy(fmt::format("'{}' is already mounted at '{}'", v.node, v.mountPoint));
    }
    const std::string target =
        requested.empty() ? defaultMountPoint(config_.mountBase, v.mappingName) : requested;
    if (auto st = checkMountPoint(target); !st)
        return st.error();

    auto inner = ports_.kernel.probe(v.mappingNode);
    if (!inner)
        return inner.error();
    if (inner.value().usage != "filesystem")
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' holds no filesystem to mount", v.mappingNode));
    if (auto st = checkUniqueFilesystem(topology, v, inner.value()); !st)
        return st.error();

    auto prepared = ports_.mountPoints.prepare(target);
    if (!prepared)
        return prepared.error();
    const std::string options = joinMountOptions(config_.mountOptions, extraOptions);
    Status st = ports_.mounter.mount(v.mappingNode, target, inner.value().type, options);
    if (!st) {
        if (prepared.value() == Changed::Yes)
            ports_.mountPoints.remove(target);
        return st.error();
    }
    // The manual "chown ec2-user /secure" step, done once, on first mount.
    if (auto adopted = ports_.mountPoints.adopt(target, owner.uid, owner.gid); !adopted)
        return adopted.error();
    return target;
}

std::vector<std::string> Operations::holdersOf(const Topology& topology, const BlockNode& mapping,
                                               const std::vector<const MountEntry*>& mounts)
{
    std::vector<std::string> holders;
    if (const BlockNode* stacked = holderOf(topology, mapping.name))
        holders.push_back(fmt::format("the device-mapper device '{}' ({}) sits on it",
                                      stacked->dmName, stacked->name));
    // Another filesystem mounted inside one of ours pins it.
    for (const auto& m : topology.mounts) {
        if (sourceOf(topology, m) == &mapping)
            continue;
        for (const MountEntry* ours : mounts) {
            if (m.target.size() > ours->target.size() && m.target.starts_with(ours->target) &&
                (ours->target == "/" || m.target[ours->target.size()] == '/')) {
                holders.push_back(fmt::format("'{}' ({}) is mounted inside '{}'", m.target,
                                              m.fstype, ours->target));
                break;
            }
        }
    }
    std::vector<std::string> devnums = {mapping.devnum};
    for (const MountEntry* m : mounts)
        devnums.push_back(m->fsDevnum.empty() ? m->devnum : m->fsDevnum);
    for (const auto& user : ports_.processes.usersOf(devnums))
        holders.push_back(fmt::format("pid {} ({}) {}", user.pid, user.command, user.how));
    return holders;
}

Error Operations::inUse(const Volume& v, const std::vector<std::string>& holders, bool canBeLazy)
{
    constexpr std::size_t kShown = 8;
    std::vector<std::string> shown(holders.begin(),
                                   holders.begin() + std::min(holders.size(), kShown));
    std::string more;
    if (holders.size() > kShown)
        more = fmt::format("; and {} more", holders.size() - kShown);
    return busy(fmt::format("'{}' is in use: {}{}{}", v.node, fmt::join(shown, "; "), more,
                            canBeLazy ? "; lock it lazily to let it go when they are done" : ""));
}

Status Operations::refuseIfHeld(const Topology& topology, const Volume& v, const BlockNode& mapping,
                                bool canBeLazy)
{
    if (auto holders = holdersOf(topology, mapping, mountsOf(topology, mapping)); !holders.empty())
        return inUse(v, holders, canBeLazy);
    return Done{};
}

Result<Changed> Operations::unmountAll(const Topology& topology, const Volume& v,
                                       const BlockNode& mapping, bool lazy, bool canBeLazy)
{
    const auto mounts = mountsOf(topology, mapping);
    if (mounts.empty())
        return Changed::No;
    for (const MountEntry* m : mounts) {
        if (auto st = ports_.mounter.unmount(m->target, lazy); !st) {
            if (st.error().code == ErrorCode::Busy)
                return inUse(v, holdersOf(currentTopology(), mapping, mounts), canBeLazy);
            return st.error();
        }
        // Only the directories under our own base are ours to tidy away.
        if (m->target.starts_with(config_.mountBase + "/"))
            ports_.mountPoints.remove(m->target);
    }
    return Changed::Yes;
}

Result<Changed> Operations::unmount(const std::string& kernelName)
{
    return unmount(kernelName, UnitsStopped::No);
}

Result<Changed> Operations::unmount(const std::string& kernelName, UnitsStopped unitsStopped)
{
    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const BlockNode* mapping = luksMappingOf(topology, kernelName);
    if (!mapping || mountsOf(topology, *mapping).empty())
        return unitsStopped == UnitsStopped::Yes ? Changed::Yes : Changed::No;
    // The services that said they need the volume go first (which may
    // unmount it: a mount unit can depend on it); then look again.
    if (unitsStopped == UnitsStopped::No && ports_.units.closing(found.value().mappingName))
        return unmount(kernelName, UnitsStopped::Yes);
    // Refuse before anything changes, naming who is in the way.
    if (auto st = refuseIfHeld(topology, found.value(), *mapping, false); !st)
        return st.error();
    return unmountAll(topology, found.value(), *mapping, false, false);
}

Result<LockResult> Operations::lock(const std::string& kernelName, const LockRequest& request)
{
    return lock(kernelName, request, UnitsStopped::No);
}

Result<LockResult> Operations::lock(const std::string& kernelName, const LockRequest& request,
                                    UnitsStopped unitsStopped)
{
    const Topology topology = currentTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", v.node));
    const BlockNode* mapping = luksMappingOf(topology, kernelName);
    if (!mapping)
        return LockResult{};
    // As in unmount: the services that depend on the volume stop first.
    if (unitsStopped == UnitsStopped::No && ports_.units.closing(v.mappingName))
        return lock(kernelName, request, UnitsStopped::Yes);

    if (!request.lazy) {
        if (auto st = refuseIfHeld(topology, v, *mapping, true); !st)
            return st.error();
    }
    auto unmounted = unmountAll(topology, v, *mapping, request.lazy, true);
    if (!unmounted)
        return unmounted.error();

    const auto how = request.lazy ? Crypt::Deactivate::Deferred : Crypt::Deactivate::Normal;
    if (auto st = closeMapping(v.mappingName, how); !st) {
        if (st.error().code == ErrorCode::Busy)
            return inUse(v, holdersOf(currentTopology(), *mapping, {}), true);
        return st.error();
    }
    ports_.records.forget(v.mappingName);
    LockResult result;
    result.changed = Changed::Yes;
    // Deferred: the mapping, and its key, stay until the last user is gone.
    result.deferred = request.lazy && ports_.crypt.mappingExists(v.mappingName);
    return result;
}

std::vector<LostMapping> Operations::lostIn(const Topology& topology)
{
    std::vector<LostMapping> lost;
    for (const BlockNode* node : lostMappings(topology)) {
        LostMapping l;
        l.mappingName = node->dmName;
        l.device = "/dev/" + node->lostSlaves.front();
        l.luksUuid = luksUuidOfDm(node->dmUuid);
        for (const MountEntry* m : mountsOf(topology, *node))
            l.mountPoints.push_back(m->target);
        lost.push_back(std::move(l));
    }
    return lost;
}

Result<HeaderBackup> Operations::exportHeader(const std::string& kernelName, int fd)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS header", v.node));
    auto bytes = ports_.headers.exportTo(v.node, v.signature.uuid, fd);
    if (!bytes)
        return bytes.error();
    HeaderBackup b{v.signature.uuid, v.node, v.identity.ebsVolumeId, v.identity.serial, 0, 0};
    b.bytes = bytes.value();
    return b;
}

Result<LostMapping> Operations::tearDownLost(const std::string& mappingName)
{
    const Topology topology = currentTopology();
    std::vector<LostMapping> lost = lostIn(topology);
    auto it = std::find_if(lost.begin(), lost.end(),
                           [&](const LostMapping& l) { return l.mappingName == mappingName; });
    if (it == lost.end())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no lost mapping '{}'", mappingName));
    LostMapping l = std::move(*it);
    // Whatever said it needs the volume stops before its filesystem goes.
    ports_.units.closing(mappingName);

    // The device is gone: nothing can be written back, so nothing waits for
    // anybody. Detach every mount, then take the key out of the kernel (an
    // error table) and let the node go with its last user.
    for (const auto& target : l.mountPoints) {
        (void)ports_.mounter.unmount(target, true);
        if (target.starts_with(config_.mountBase + "/"))
            ports_.mountPoints.remove(target);
    }
    Status st = closeMapping(mappingName, Crypt::Deactivate::Force);
    if (!st && st.error().code == ErrorCode::Busy)
        st = closeMapping(mappingName, Crypt::Deactivate::Deferred);
    ports_.records.forget(mappingName);
    if (!st && st.error().code != ErrorCode::NoSuchDevice)
        return st.error();
    l.deferred = ports_.crypt.mappingExists(mappingName);
    return l;
}

namespace {

// What a filesystem leaves unused at the end of its device at most once it
// has grown: ext4 and xfs stop at a whole block, xfs at a whole minimum
// allocation group at worst.
constexpr std::uint64_t kGrowSlack = 1ull << 20;

}  // namespace

Result<GrowResult> Operations::grow(const std::string& kernelName, const SecretBuffer* passphrase,
                                    Progress& progress)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", v.node));
    if (auto st = refuseIfFailing(v, "grow it"); !st)
        return st.error();
    if (v.mappingName.empty())
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' is locked; unlock it (which opens it at its full size) "
                                     "and grow it then",
                                     v.node));
    auto before = ports_.crypt.mapping(v.mappingName);
    if (!before)
        return before.error();
    const Crypt::Mapping m = before.value();
    if (v.size < m.offset + m.size)
        return makeError(
            ErrorCode::WouldShrink,
            fmt::format("'{}' is {} bytes now, less than its mapping '{}' covers ({} bytes from "
                        "offset {}); vaultd never shrinks a volume, so nothing was changed",
                        v.node, v.size, v.mappingName, m.size, m.offset));

    auto fs = parseFilesystem(v.filesystemType);
    if (!fs)
        return makeError(
            ErrorCode::WrongState,
            fmt::format("'{}' holds {}, which vaultd does not grow", v.mappingNode,
                        v.filesystemType.empty() ? "no filesystem" : quoted(v.filesystemType)));

    GrowResult result;
    result.layers.push_back({"device", v.size, v.size});
    LayerSize mapping{"mapping", m.size, m.size};
    // dm-crypt maps whole encryption sectors; a tail smaller than one stays.
    const std::uint64_t sector = LuksParams{}.sectorSize;
    const std::uint64_t reachable = (v.size - m.offset) / sector * sector;
    if (reachable > m.size) {
        if (auto st = stillTheDevice(v); !st)
            return st.error();
        progress.stage("growing the mapping", 0, 0.1,
                       std::chrono::milliseconds(passphrase ? config_.pbkdf.timeMs : 0));
        if (auto st = ports_.crypt.resize(v.mappingName, passphrase); !st) {
            if (st.error().code == ErrorCode::CredentialRequired ||
                st.error().code == ErrorCode::WrongPassphrase)
                return st.error();
            return makeError(st.error().code,
                             fmt::format("the mapping did not grow: {}", st.error().message));
        }
        auto after = ports_.crypt.mapping(v.mappingName);
        if (!after)
            return after.error();
        mapping.after = after.value().size;
        if (mapping.after < reachable)
            return makeError(ErrorCode::Failed,
                             fmt::format("the mapping '{}' grew to {} bytes only, not to the {} "
                                         "bytes its device has room for",
                                         v.mappingName, mapping.after, reachable));
    }
    result.layers.push_back(mapping);

    progress.stage("growing the filesystem", 0.1, 1);
    auto filesystem = growFilesystem(v, *fs, mapping.after, mapping.after > mapping.before);
    if (!filesystem)
        return filesystem.error();
    result.layers.push_back(filesystem.value());
    for (const auto& layer : result.layers)
        if (layer.after != layer.before)
            result.changed = Changed::Yes;
    return result;
}

Result<LayerSize> Operations::growFilesystem(const Volume& v, Filesystem fs,
                                             std::uint64_t mappingSize, bool mappingGrew)
{
    const std::string name(filesystemName(fs));
    auto fail = [&](const Error& e) {
        return makeError(e.code,
                         fmt::format("the {} filesystem did not grow: {}", name, e.message));
    };
    LayerSize layer{"filesystem", 0, 0};

    if (!v.mountPoint.empty()) {
        // Mounted: the filesystem grows itself, online, and says by how much.
        auto before = ports_.kernel.filesystemSize(fs, v.mappingNode, v.mountPoint);
        if (!before)
            return fail(before.error());
        if (auto st = ports_.tools.grow(fs, v.mappingNode, v.mountPoint); !st)
            return fail(st.error());
        auto after = ports_.kernel.filesystemSize(fs, v.mappingNode, v.mountPoint);
        if (!after)
            return fail(after.error());
        layer.before = before.value();
        layer.after = after.value();
    } else {
        // Not mounted: its superblock says what it spans, and whether there
        // is anything to do.
        auto before = ports_.kernel.filesystemSize(fs, v.mappingNode, "");
        if (!before)
            return fail(before.error());
        layer.before = layer.after = before.value();
        if (before.value() + kGrowSlack >= mappingSize)
            return layer;
        if (fs == Filesystem::Ext4) {
            if (auto st = ports_.tools.grow(fs, v.mappingNode, ""); !st)
                return fail(st.error());
        } else {
            // xfs and btrfs grow only mounted: mount where only root can
            // look, for the length of the call.
            const std::string at = std::string(kPrivateMounts) + "/" + v.mappingName;
            auto prepared = ports_.mountPoints.preparePrivate(at);
            if (!prepared)
                return fail(prepared.error());
            Status st = ports_.mounter.mount(v.mappingNode, at, name, "nodev,nosuid,noexec");
            if (st) {
                st = ports_.tools.grow(fs, v.mappingNode, at);
                Status unmounted = ports_.mounter.unmount(at, false);
                if (st && !unmounted)
                    st = unmounted.error();
            }
            ports_.mountPoints.remove(at);
            if (!st)
                return fail(st.error());
        }
        auto after = ports_.kernel.filesystemSize(fs, v.mappingNode, "");
        if (!after)
            return fail(after.error());
        layer.after = after.value();
        if (layer.after + kGrowSlack < mappingSize)
            return makeError(ErrorCode::Failed,
                             fmt::format("the {} filesystem grew to {} bytes only, not to the {} "
                                         "bytes of its mapping",
                                         name, layer.after, mappingSize));
        return layer;
    }
    // Mounted, df's total falls short of the mapping by the filesystem's own
    // overhead; what shows it followed is that it grew when the mapping did.
    if (mappingGrew && layer.after <= layer.before)
        return makeError(ErrorCode::Failed,
                         fmt::format("the {} filesystem is still {} bytes after its mapping grew "
                                     "to {} bytes",
                                     name, layer.after, mappingSize));
    return layer;
}

}  // namespace vaultd::engine
