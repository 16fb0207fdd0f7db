#include "fakes.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace vaultd::testing {
namespace {

using engine::ErrorCode;
using engine::makeError;

constexpr std::string_view kDev = "/dev/";
constexpr std::string_view kMapper = "/dev/mapper/";

std::string kernelNameOf(const std::string& node)
{
    return node.starts_with(kDev) ? node.substr(kDev.size()) : node;
}

}  // namespace

engine::BlockNode& addDisk(engine::Topology& t, const std::string& name, const std::string& devnum,
                           std::uint64_t size)
{
    engine::BlockNode node;
    node.name = name;
    node.devnum = devnum;
    node.size = size;
    return t.nodes[name] = node;
}

engine::BlockNode& addPartition(engine::Topology& t, const std::string& name,
                                const std::string& disk, const std::string& devnum,
                                std::uint64_t size)
{
    engine::BlockNode& node = addDisk(t, name, devnum, size);
    node.parent = disk;
    return node;
}

engine::BlockNode& addDmDevice(engine::Topology& t, const std::string& name,
                               const std::string& devnum, const std::string& dmName,
                               const std::string& dmUuid, std::vector<std::string> slaves)
{
    engine::BlockNode& node = addDisk(t, name, devnum, 0);
    node.dmName = dmName;
    node.dmUuid = dmUuid;
    node.slaves = std::move(slaves);
    if (!node.slaves.empty() && t.nodes.count(node.slaves.front()))
        node.size = t.nodes.at(node.slaves.front()).size;
    return node;
}

engine::BlockNode& addLuksMapping(engine::Topology& t, const std::string& name,
                                  const std::string& devnum, const std::string& mappingName,
                                  const std::string& slave)
{
    engine::BlockNode& node =
        addDmDevice(t, name, devnum, mappingName,
                    "CRYPT-LUKS2-0b7f7a0e3f8e4c369d2a6f2b1c9e8d11-" + mappingName, {slave});
    node.size = node.size > engine::kLuks2DataOffset ? node.size - engine::kLuks2DataOffset : 0;
    return node;
}

void addMount(engine::Topology& t, const std::string& devnum, const std::string& target,
              const std::string& fstype, const std::string& source)
{
    engine::MountEntry entry;
    entry.devnum = devnum;
    entry.fsDevnum = devnum;
    entry.target = target;
    entry.fstype = fstype;
    entry.source = source;
    t.mounts.push_back(entry);
}

engine::Signature luksSignature(const std::string& uuid, const std::string& label)
{
    return engine::Signature{"crypto_LUKS", "crypto", uuid, label, 2};
}

engine::Signature filesystemSignature(const std::string& type, const std::string& label)
{
    return engine::Signature{type, "filesystem", "f5b6c3d2-0000-4000-8000-" + type, label, 0};
}

engine::SecretBuffer secret(std::string_view text)
{
    engine::SecretBuffer buffer;
    std::memcpy(buffer.spare().data(), text.data(), text.size());
    buffer.commit(text.size());
    return buffer;
}

// FakeKernel

engine::Result<engine::Signature> FakeKernel::probe(const std::string& node)
{
    if (onProbe)
        onProbe(node);
    probed.push_back(node);
    const bool present = node.starts_with(kMapper) ? !dmNodeOf(node.substr(kMapper.size())).empty()
                                                   : topology.nodes.count(kernelNameOf(node)) > 0;
    if (!present)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
    if (failing.count(node))
        return makeError(ErrorCode::DeviceFailing,
                         fmt::format("reading '{}' fails: Input/output error", node));
    auto it = signatures.find(node);
    return it == signatures.end() ? engine::Signature{} : it->second;
}

engine::DiskHealth FakeKernel::diskHealth(const std::string& kernelName)
{
    auto it = topology.nodes.find(kernelName);
    if (it == topology.nodes.end())
        return {};
    const std::string& disk = it->second.parent.empty() ? kernelName : it->second.parent;
    auto d = topology.nodes.find(disk);
    return d == topology.nodes.end() ? engine::DiskHealth{} : d->second.health;
}

std::optional<engine::KernelView::UdevRecord> FakeKernel::udevRecord(const std::string& kernelName)
{
    auto it = udevRecords.find(kernelName);
    if (it == udevRecords.end())
        return std::nullopt;
    return UdevRecord{it->second, links(kernelName)};
}

std::vector<std::string> FakeKernel::links(const std::string& kernelName)
{
    std::vector<std::string> result = {"/dev/disk/by-id/virtio-" + kernelName};
    if (auto it = extraLinks.find(kernelName); it != extraLinks.end())
        result.insert(result.end(), it->second.begin(), it->second.end());
    return result;
}

engine::Result<engine::KernelView::DeviceIdentity> FakeKernel::identityOf(const std::string& node)
{
    if (auto it = replacedBy.find(node); it != replacedBy.end())
        return it->second;
    auto it = topology.nodes.find(kernelNameOf(node));
    if (it == topology.nodes.end())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
    return DeviceIdentity{it->second.devnum, it->second.diskseq};
}

std::vector<std::uint8_t> FakeKernel::nvmeIdentify(const std::string& node)
{
    identifyAsked.push_back(node);
    auto it = identifyPages.find(node);
    return it == identifyPages.end() ? std::vector<std::uint8_t>{} : it->second;
}

bool FakeKernel::canOpenExclusively(const std::string& node)
{
    return heldOpen.count(node) == 0;
}

engine::Status FakeKernel::wipeSignatures(const std::string& node)
{
    log_.push_back("wipe " + node);
    wipes.push_back(node);
    signatures.erase(node);
    return engine::Done{};
}

std::string FakeKernel::dmNodeOf(const std::string& mappingName) const
{
    for (const auto& [name, node] : topology.nodes) {
        if (!node.dmName.empty() && node.dmName == mappingName)
            return name;
    }
    return {};
}

engine::Result<std::uint64_t> FakeKernel::filesystemSize(engine::Filesystem,
                                                         const std::string& node,
                                                         const std::string& mountPoint)
{
    auto it = filesystemSizes.find(node);
    if (it == filesystemSizes.end())
        return makeError(ErrorCode::Failed, fmt::format("no filesystem on '{}'", node));
    return mountPoint.empty() ? it->second : it->second / 100 * 95;
}

engine::HeaderCopies FakeKernel::luksHeaders(const std::string& node)
{
    headersRead.push_back(node);
    if (auto it = headerCopies.find(node); it != headerCopies.end())
        return it->second;
    auto it = signatures.find(node);
    if (it == signatures.end() || !it->second.isLuks())
        return {};
    const unsigned version = it->second.luksVersion ? it->second.luksVersion : 2;
    return {version, version == 2, "", it->second.uuid};
}

// FakeCrypt

engine::Status FakeCrypt::format(const std::string& node, const engine::LuksParams& params,
                                 const engine::SecretBuffer& passphrase,
                                 const std::string& activateAs)
{
    log_.push_back(activateAs.empty() ? "format " + node
                                      : fmt::format("format {} open {}", node, activateAs));
    formats.push_back(
        {node, params, std::string(passphrase.data(), passphrase.size()), activateAs});
    kernel_.signatures[node] =
        luksSignature(fmt::format("5e1f0000-0000-4000-8000-{:012}", formats.size()), params.label);
    contents[node] = engine::Signature{};
    headerFlags[node] = params.flags;
    if (!activateAs.empty())
        open(node, activateAs);
    return engine::Done{};
}

std::vector<FakeCrypt::Slot>& FakeCrypt::slotsOf(const std::string& node)
{
    auto it = keyslots.find(node);
    if (it == keyslots.end())
        it = keyslots.emplace(node, std::vector<Slot>{Slot{0, rightPassphrase}}).first;
    return it->second;
}

engine::Result<int> FakeCrypt::match(const std::string& node, const engine::SecretBuffer& secret,
                                     int keyslot)
{
    auto outer = kernel_.signatures.find(node);
    if (outer == kernel_.signatures.end() || !outer->second.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", node));
    const std::string_view given(secret.data(), secret.size());
    for (const Slot& s : slotsOf(node)) {
        if (keyslot != engine::kAnyKeyslot ? s.slot != keyslot : s.ignored)
            continue;
        derivations.push_back(fmt::format("{} {}", node, s.slot));
        if (s.secret == given)
            return s.slot;
    }
    return makeError(ErrorCode::WrongPassphrase,
                     fmt::format("no keyslot of '{}' opens with that passphrase", node));
}

int FakeCrypt::freeSlot(const std::string& node)
{
    const auto& slots = slotsOf(node);
    for (int n = 0; n < maxKeyslots; ++n)
        if (std::none_of(slots.begin(), slots.end(), [&](const Slot& s) { return s.slot == n; }))
            return n;
    return -1;
}

engine::Result<int> FakeCrypt::activate(const std::string& node, const std::string& name,
                                        const engine::SecretBuffer& passphrase, int keyslot,
                                        const engine::MappingOptions& options)
{
    auto slot = match(node, passphrase, keyslot);
    if (!slot || name.empty())
        return slot;
    if (mappingExists(name))
        return makeError(ErrorCode::Busy, fmt::format("the name '{}' is in use", name));
    if (!activateFailure.empty())
        return makeError(ErrorCode::Failed, activateFailure);
    log_.push_back(fmt::format("activate {} as {}", node, name));
    activations.push_back(fmt::format("{} {}", node, name));
    activationOptions.push_back(options);
    open(node, name);
    keptKeys.insert(name);
    return slot;
}

void FakeCrypt::open(const std::string& node, const std::string& name)
{
    const int minor = nextMinor_++;
    addLuksMapping(kernel_.topology, fmt::format("dm-{}", minor), fmt::format("253:{}", minor),
                   name, kernelNameOf(node));
    const engine::Signature inner = contents[node];
    if (!inner.none())
        kernel_.signatures[std::string(kMapper) + name] = inner;
    // A filesystem already inside fills the mapping, as mkfs left it.
    if (inner.usage == "filesystem")
        kernel_.filesystemSizes.try_emplace(
            std::string(kMapper) + name,
            kernel_.topology.nodes.at(fmt::format("dm-{}", minor)).size);
}

engine::Status FakeCrypt::deactivate(const std::string& name, Deactivate how)
{
    if (onDeactivate)
        onDeactivate(name);
    const char* suffix = how == Deactivate::Deferred ? " deferred"
                         : how == Deactivate::Force  ? " force"
                                                     : "";
    log_.push_back("deactivate " + name + suffix);
    deactivations.push_back(name + suffix);
    const std::string dm = kernel_.dmNodeOf(name);
    if (dm.empty())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    const engine::BlockNode& node = kernel_.topology.nodes.at(dm);
    bool busy = held.count(name) > 0;
    for (const auto& m : kernel_.topology.mounts)
        busy = busy || m.devnum == node.devnum || m.source == std::string(kMapper) + name;
    if (how == Deactivate::Force)
        keysDropped.insert(name);
    if (busy) {
        if (how == Deactivate::Deferred)
            return engine::Done{};  // goes when the last user lets go
        return makeError(ErrorCode::Busy, fmt::format("the mapping '{}' is in use", name));
    }
    keptKeys.erase(name);
    if (node.slaves.empty()) {  // lost: its device is gone already
        kernel_.signatures.erase(std::string(kMapper) + name);
        kernel_.topology.nodes.erase(dm);
        return engine::Done{};
    }

    const std::string mapper = std::string(kMapper) + name;
    const std::string slave = std::string(kDev) + node.slaves.front();
    auto inner = kernel_.signatures.find(mapper);
    contents[slave] = inner == kernel_.signatures.end() ? engine::Signature{} : inner->second;
    kernel_.signatures.erase(mapper);
    kernel_.topology.nodes.erase(dm);
    return engine::Done{};
}

bool FakeCrypt::mappingExists(const std::string& name)
{
    return !kernel_.dmNodeOf(name).empty() || foreignMappings.count(name) > 0;
}

engine::Result<engine::Crypt::Mapping> FakeCrypt::mapping(const std::string& name)
{
    const std::string dm = kernel_.dmNodeOf(name);
    if (dm.empty())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    return Mapping{engine::kLuks2DataOffset, kernel_.topology.nodes.at(dm).size,
                   keptKeys.count(name) > 0};
}

engine::Status FakeCrypt::resize(const std::string& name, const engine::SecretBuffer* passphrase)
{
    const std::string dm = kernel_.dmNodeOf(name);
    if (dm.empty())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    if (!keptKeys.count(name)) {
        if (!passphrase)
            return makeError(ErrorCode::CredentialRequired,
                             fmt::format("the volume key of '{}' is not at hand", name));
        if (std::string_view(passphrase->data(), passphrase->size()) != rightPassphrase)
            return makeError(ErrorCode::WrongPassphrase, "no keyslot opens with that passphrase");
        keptKeys.insert(name);
    }
    engine::BlockNode& node = kernel_.topology.nodes.at(dm);
    const std::uint64_t device = kernel_.topology.nodes.at(node.slaves.front()).size;
    log_.push_back("resize " + name);
    resizes.push_back(passphrase ? name + " with passphrase" : name);
    node.size = (device - engine::kLuks2DataOffset) / 4096 * 4096;
    return engine::Done{};
}

engine::Status FakeCrypt::backupHeader(const std::string& node, const std::string& file)
{
    auto outer = kernel_.signatures.find(node);
    if (outer == kernel_.signatures.end() || !outer->second.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS header", node));
    headerFiles[file] = outer->second.uuid;
    return engine::Done{};
}

engine::Result<engine::HeaderInfo> FakeCrypt::header(const std::string& fileOrNode)
{
    engine::HeaderInfo info;
    info.dataOffset = engine::kLuks2DataOffset;
    info.maxKeyslots = maxKeyslots;
    if (auto it = headerFiles.find(fileOrNode); it != headerFiles.end()) {
        info.uuid = it->second;
        return info;
    }
    auto outer = kernel_.signatures.find(fileOrNode);
    if (outer == kernel_.signatures.end() || !outer->second.isLuks())
        return makeError(ErrorCode::NotLuks,
                         fmt::format("'{}' holds no valid LUKS header", fileOrNode));
    info.uuid = outer->second.uuid;
    info.version = outer->second.luksVersion == 1 ? 1 : 2;
    if (auto f = headerFlags.find(fileOrNode); f != headerFlags.end())
        info.flags = f->second;
    for (const Slot& s : slotsOf(fileOrNode)) {
        engine::Keyslot k;
        k.slot = s.slot;
        k.kind = s.kind;
        k.pbkdf = s.pbkdf;
        k.memoryKib = s.memoryKib;
        k.ignored = s.ignored;
        info.keyslots.push_back(k);
    }
    std::sort(info.keyslots.begin(), info.keyslots.end(),
              [](const auto& a, const auto& b) { return a.slot < b.slot; });
    return info;
}

engine::Status FakeCrypt::restoreHeader(const std::string& node, const std::string& file)
{
    log_.push_back(fmt::format("restore the header of {} from {}", node, file));
    auto it = headerFiles.find(file);
    if (it == headerFiles.end())
        return makeError(ErrorCode::Failed, "no such header file");
    kernel_.signatures[node] = luksSignature(it->second);
    kernel_.headerCopies.erase(node);
    return engine::Done{};
}

engine::Status FakeCrypt::repairHeader(const std::string& node)
{
    log_.push_back("repair the header of " + node);
    kernel_.headerCopies.erase(node);
    return engine::Done{};
}

engine::Status FakeCrypt::erase(const std::string& node, engine::Progress& progress)
{
    constexpr std::uint64_t kBlock = 1u << 20;
    const std::uint64_t total = eraseBlocks * kBlock;
    log_.push_back("erase " + node);
    for (std::uint64_t done = 0; done < total;) {
        done += kBlock;
        progress.bytes(done, total);
        if (progress.cancelRequested() && done < total) {
            log_.push_back(fmt::format("erase of {} cancelled at {}", node, done));
            return makeError(ErrorCode::Cancelled, "the erase was cancelled");
        }
    }
    erased.push_back(node);
    return engine::Done{};
}

engine::Status FakeCrypt::setHeaderFlags(const std::string& node, const engine::HeaderFlags& flags)
{
    log_.push_back(fmt::format("store flags{}{}{} in {}", flags.noReadWorkqueue ? " no-read" : "",
                               flags.noWriteWorkqueue ? " no-write" : "",
                               flags.discard ? " discard" : "", node));
    headerFlags[node] = flags;
    return engine::Done{};
}

engine::Result<int> FakeCrypt::addKeyslot(const std::string& node,
                                          const engine::SecretBuffer& existing, int existingSlot,
                                          const engine::SecretBuffer& added,
                                          const engine::PbkdfSettings& pbkdf, engine::KeyKind kind)
{
    auto from = match(node, existing, existingSlot);
    if (!from)
        return from;
    const int slot = freeSlot(node);
    if (slot < 0)
        return makeError(ErrorCode::NoFreeKeyslot, "no free keyslot");
    log_.push_back(fmt::format("add keyslot {} to {}", slot, node));
    pbkdfsUsed.push_back(pbkdf);
    slotsOf(node).push_back(
        Slot{slot, std::string(added.data(), added.size()), kind, pbkdf.type, pbkdf.memoryKib});
    return slot;
}

engine::Result<int> FakeCrypt::changeKey(const std::string& node, const engine::SecretBuffer& old,
                                         int oldSlot, const engine::SecretBuffer& replacement,
                                         const engine::PbkdfSettings& pbkdf)
{
    auto from = match(node, old, oldSlot);
    if (!from)
        return from;
    auto& slots = slotsOf(node);
    const int to = freeSlot(node) < 0 ? from.value() : freeSlot(node);
    log_.push_back(fmt::format("move keyslot {} of {} to {}", from.value(), node, to));
    pbkdfsUsed.push_back(pbkdf);
    for (Slot& s : slots) {
        if (s.slot == from.value()) {
            s.slot = to;
            s.secret = std::string(replacement.data(), replacement.size());
            s.pbkdf = pbkdf.type;
            s.memoryKib = pbkdf.memoryKib;
        }
    }
    return to;
}

engine::Status FakeCrypt::removeKeyslot(const std::string& node, int keyslot)
{
    log_.push_back(fmt::format("remove keyslot {} of {}", keyslot, node));
    auto& slots = slotsOf(node);
    std::erase_if(slots, [&](const Slot& s) { return s.slot == keyslot; });
    return engine::Done{};
}

engine::Result<std::vector<engine::TokenRecord>> FakeCrypt::tokens(const std::string& node)
{
    auto it = tokensOf.find(node);
    return it == tokensOf.end() ? std::vector<engine::TokenRecord>{} : it->second;
}

engine::Result<int> FakeCrypt::addBoundKeyslot(const std::string& node,
                                               const engine::SecretBuffer& existing,
                                               int existingSlot, const engine::SecretBuffer& added,
                                               const engine::PbkdfSettings& pbkdf,
                                               const std::string& tokenJson)
{
    auto slot = addKeyslot(node, existing, existingSlot, added, pbkdf, engine::KeyKind::Token);
    if (!slot)
        return slot;
    auto& tokens = tokensOf[node];
    tokens.push_back({static_cast<int>(tokens.size()), "clevis", {slot.value()}, tokenJson});
    log_.push_back(fmt::format("add a clevis token for keyslot {} of {}", slot.value(), node));
    return slot;
}

engine::Result<std::string> FakeKeyServers::bindTang(const std::string& url,
                                                     const std::string& thumbprint,
                                                     const engine::SecretBuffer& key)
{
    log_.push_back(fmt::format("bind to {} trusting {}", url, thumbprint));
    if (!up)
        return makeError(ErrorCode::KeyServerUnavailable, "the tang server does not answer");
    return "wrapped:" + std::string(key.data(), key.size());
}

engine::Status FakeKeyServers::unwrap(const std::string& tokenJson, engine::SecretBuffer& key)
{
    asked.push_back(tokenJson);
    if (!up)
        return makeError(ErrorCode::KeyServerUnavailable,
                         "clevis decrypt failed: Error communicating with server");
    if (!tokenJson.starts_with("wrapped:"))
        return makeError(ErrorCode::Failed, "not a token this server made");
    const std::string k = tokenJson.substr(8);
    std::copy(k.begin(), k.end(), key.spare().begin());
    key.commit(k.size());
    return engine::Done{};
}

engine::Status FakeQuality::check(const engine::SecretBuffer& passphrase)
{
    const std::string text(passphrase.data(), passphrase.size());
    checked.push_back(text);
    if (weak.count(text))
        return makeError(ErrorCode::WeakPassphrase, "the passphrase is too weak: fake rule");
    return engine::Done{};
}

// FakeHeaderStore

engine::Result<engine::HeaderBackup> FakeHeaderStore::save(const std::string& node,
                                                           engine::HeaderBackup about)
{
    log_.push_back(fmt::format("back up the header of {} as {}", node, about.luksUuid));
    if (!failure.empty())
        return makeError(ErrorCode::Failed, failure);
    about.bytes = 16 << 20;
    about.savedAt = 1;
    kept[about.luksUuid] = about;
    return about;
}

std::vector<engine::HeaderBackup> FakeHeaderStore::list()
{
    std::vector<engine::HeaderBackup> all;
    for (const auto& [uuid, b] : kept)
        all.push_back(b);
    return all;
}

engine::Result<std::uint64_t> FakeHeaderStore::exportTo(const std::string& node,
                                                        const std::string& luksUuid, int fd)
{
    log_.push_back(fmt::format("export the header of {} as {}", node, luksUuid));
    const std::string text = "header " + luksUuid;
    if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return makeError(ErrorCode::Failed, "cannot write");
    return text.size();
}

// FakeMounter

engine::Status FakeMounter::mount(const std::string& source, const std::string& target,
                                  const std::string& fstype, const std::string& options)
{
    log_.push_back(fmt::format("mount {} on {}", source, target));
    mounts.push_back({source, target, fstype, options});
    if (!failure.empty())
        return makeError(ErrorCode::Failed, failure);
    if (!source.starts_with(kMapper))
        return makeError(ErrorCode::Failed, fmt::format("'{}' is not a mapping", source));
    const std::string dm = kernel_.dmNodeOf(source.substr(kMapper.size()));
    if (dm.empty())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", source));
    const std::string devnum = fstype == "btrfs" ? fmt::format("0:{}", nextAnonymous_++)
                                                 : kernel_.topology.nodes.at(dm).devnum;
    addMount(kernel_.topology, devnum, target, fstype, source);
    return engine::Done{};
}

engine::Status FakeMounter::unmount(const std::string& target, bool lazy)
{
    log_.push_back("unmount " + target + (lazy ? " lazy" : ""));
    unmounts.push_back(target);
    if (!lazy && busyTargets.count(target))
        return makeError(ErrorCode::Busy, fmt::format("'{}' is still in use", target));
    auto& table = kernel_.topology.mounts;
    auto it = std::find_if(table.begin(), table.end(),
                           [&](const engine::MountEntry& m) { return m.target == target; });
    if (it == table.end())
        return makeError(ErrorCode::Failed, fmt::format("nothing is mounted at '{}'", target));
    table.erase(it);
    return engine::Done{};
}

// FakeMountPoints

engine::Result<engine::Changed> FakeMountPoints::prepare(const std::string& path)
{
    log_.push_back("prepare " + path);
    return directories.insert(path).second ? engine::Changed::Yes : engine::Changed::No;
}

engine::Result<engine::Changed> FakeMountPoints::preparePrivate(const std::string& path)
{
    log_.push_back("prepare private " + path);
    return directories.insert(path).second ? engine::Changed::Yes : engine::Changed::No;
}

void FakeMountPoints::remove(const std::string& path)
{
    log_.push_back("remove " + path);
    removed.push_back(path);
    directories.erase(path);
}

engine::Result<engine::Changed> FakeMountPoints::adopt(const std::string& path, uid_t uid, gid_t)
{
    // Like the real one: a directory is given away once, on first mount.
    if (owners.count(path))
        return engine::Changed::No;
    owners[path] = uid;
    return engine::Changed::Yes;
}

std::optional<uid_t> FakeUnlockRecords::find(const std::string& mappingName,
                                             const std::string& luksUuid)
{
    auto it = byMapping.find(mappingName);
    if (it == byMapping.end() || it->second.first != luksUuid)
        return std::nullopt;
    return it->second.second;
}

// FakeTools

engine::Status FakeTools::make(engine::Filesystem fs, const std::string& node,
                               const std::string& label)
{
    const std::string type(engine::filesystemName(fs));
    log_.push_back(fmt::format("mkfs {} {}", type, node));
    made.push_back({fs, node, label});
    if (!failure.empty())
        return makeError(ErrorCode::Failed, failure);
    kernel_.signatures[node] = filesystemSignature(type, label);
    const std::string dm =
        node.starts_with(kMapper) ? kernel_.dmNodeOf(node.substr(kMapper.size())) : std::string();
    if (!dm.empty())
        kernel_.filesystemSizes[node] = kernel_.topology.nodes.at(dm).size;
    return engine::Done{};
}

engine::Status FakeTools::grow(engine::Filesystem fs, const std::string& node,
                               const std::string& mountPoint)
{
    const std::string type(engine::filesystemName(fs));
    log_.push_back(mountPoint.empty() ? fmt::format("grow {} {}", type, node)
                                      : fmt::format("grow {} {} at {}", type, node, mountPoint));
    if (!growFailure.empty())
        return makeError(ErrorCode::Failed, growFailure);
    if (growStuck)
        return engine::Done{};
    const std::string dm =
        node.starts_with(kMapper) ? kernel_.dmNodeOf(node.substr(kMapper.size())) : std::string();
    if (dm.empty())
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is no mapping", node));
    kernel_.filesystemSizes[node] = kernel_.topology.nodes.at(dm).size;
    return engine::Done{};
}

// FakeSystem

void FakeSystem::attach(const std::string& name, std::uint64_t size, engine::Signature outer)
{
    // Like the kernel, every disk attached gets a sequence number of its own.
    addDisk(kernel.topology, name, fmt::format("252:{}", 16 * nextMinor_), size).diskseq =
        static_cast<std::uint64_t>(nextMinor_) + 1;
    ++nextMinor_;
    if (!outer.none())
        kernel.signatures["/dev/" + name] = outer;
}

void FakeSystem::attachLuks(const std::string& name, std::uint64_t size, const std::string& uuid,
                            engine::Signature inner)
{
    attach(name, size, luksSignature(uuid));
    crypt.contents["/dev/" + name] = inner;
}

bool FakeSystem::nothingWritten() const
{
    return crypt.formats.empty() && kernel.wipes.empty() && tools.made.empty();
}

}  // namespace vaultd::testing
