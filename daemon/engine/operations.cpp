#include "engine/operations.hpp"
#include "engine/quote.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "engine/validate.hpp"

namespace vaultd::engine {
namespace {

Error busy(std::string message)
{
    return makeError(ErrorCode::Busy, std::move(message));
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

Operations::Operations(Ports ports, EngineConfig config) : ports_(ports), config_(std::move(config))
{
}

std::vector<Volume> Operations::scan()
{
    const Topology topology = ports_.kernel.readTopology();
    std::vector<Volume> volumes;
    for (const auto& [name, node] : topology.nodes) {
        auto v = inspectIn(topology, name);
        if (v)
            volumes.push_back(std::move(v).value());
    }
    return volumes;
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

Result<Volume> Operations::inspect(const std::string& kernelName)
{
    return inspectIn(ports_.kernel.readTopology(), kernelName);
}

Result<Volume> Operations::inspectIn(const Topology& topology, const std::string& kernelName)
{
    auto it = topology.nodes.find(kernelName);
    if (it == topology.nodes.end() || !isCandidate(it->second, config_.allowLoop))
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("no device '{}' that vaultd manages", kernelName));
    if (auto reason = reservedBy(topology, kernelName))
        return makeError(ErrorCode::NoSuchDevice,
                         fmt::format("'{}' is reserved for the system: {}", kernelName, *reason));

    const BlockNode& node = it->second;
    auto outer = ports_.kernel.probe("/dev/" + node.name);
    if (!outer)
        return outer.error();

    Signature inner;
    if (outer.value().isLuks()) {
        if (const BlockNode* mapping = luksMappingOf(topology, node.name)) {
            auto probed = ports_.kernel.probe("/dev/mapper/" + mapping->dmName);
            if (probed)
                inner = std::move(probed).value();
        }
    }
    Volume v = describe(topology, node, outer.value(), inner);
    v.links = ports_.kernel.links(node.name);
    v.identity = identityOf(node, v.links);
    if (!v.mappingName.empty())
        v.unlockedBy = ports_.records.find(v.mappingName, v.signature.uuid);
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

Result<Changed> Operations::format(const std::string& kernelName, const SecretBuffer& passphrase,
                                   const FormatRequest& request)
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

    const Topology topology = ports_.kernel.readTopology();
    auto found = inspectIn(topology, kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (auto st = checkFormatAllowed(topology, v, request, *fs); !st)
        return st.error();

    if (!v.signature.none()) {
        if (auto st = ports_.kernel.wipeSignatures(v.node); !st)
            return st.error();
    }

    LuksParams params;
    params.label = request.label;
    params.pbkdf = config_.pbkdf;
    // The filesystem is made through a short-lived mapping of our own, so the
    // volume is locked again when Format returns.
    const std::string temp = "vaultd-format-" + v.kernelName;
    if (auto st = ports_.crypt.format(v.node, params, passphrase, temp); !st)
        return st.error();

    // TODO: when mkfs fails the new header stays behind; wiping it again
    // would make a failed format leave the device as it was.
    Status made = ports_.tools.make(*fs, "/dev/mapper/" + temp, request.label);
    Status closed = ports_.crypt.deactivate(temp);
    if (!made)
        return made.error();
    if (!closed)
        return closed.error();
    return Changed::Yes;
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

Result<std::string> Operations::unlock(const std::string& kernelName,
                                       const SecretBuffer& passphrase, const UnlockRequest& request)
{
    if (auto st = checkMappingName(request.name); !st)
        return st.error();
    if (!request.mountPoint.empty()) {
        if (auto st = checkRequestedMountPoint(request.mountPoint); !st)
            return st.error();
    }

    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    Volume v = std::move(found).value();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", v.node));

    const std::string& name = request.name;
    const bool wantMount = request.mount || !request.mountPoint.empty();

    bool opened = false;
    if (!v.mappingName.empty()) {
        if (v.mappingName != name)
            return busy(fmt::format("'{}' is already unlocked as '{}'", v.node, v.mappingName));
    } else {
        if (ports_.crypt.mappingExists(name))
            return busy(fmt::format("the mapping name '{}' is taken by another device", name));
        if (auto st = ports_.crypt.activate(v.node, name, passphrase); !st)
            return st.error();
        ports_.records.record(name, v.signature.uuid, request.owner.uid);
        opened = true;
    }
    if (!wantMount)
        return std::string();

    auto mounted = opened ? mountAfterUnlock(kernelName, request.mountPoint, request.owner)
                          : mountMapping(v, request.mountPoint, request.owner);
    // A request that failed leaves things as they were: close what it opened.
    if (!mounted && opened) {
        (void)ports_.crypt.deactivate(name);
        ports_.records.forget(name);
    }
    return mounted;
}

Result<std::string> Operations::mountAfterUnlock(const std::string& kernelName,
                                                 const std::string& mountPoint, const Owner& owner)
{
    // The mapping is new: look again to learn its node.
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    if (found.value().mappingName.empty())
        return makeError(
            ErrorCode::Failed,
            fmt::format("the mapping of '{}' vanished after unlocking", found.value().node));
    return mountMapping(found.value(), mountPoint, owner);
}

Result<std::string> Operations::mount(const std::string& kernelName, const std::string& mountPoint,
                                      const Owner& owner)
{
    if (!mountPoint.empty()) {
        if (auto st = checkRequestedMountPoint(mountPoint); !st)
            return st.error();
    }
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (v.mappingName.empty())
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' is {}; unlock it first", v.node, stateName(v.state)));
    return mountMapping(v, mountPoint, owner);
}

Result<std::string> Operations::mountMapping(const Volume& v, const std::string& requested,
                                             const Owner& owner)
{
    const std::string target =
        requested.empty() ? defaultMountPoint(config_.mountBase, v.mappingName) : requested;
    if (!v.mountPoint.empty()) {
        if (v.mountPoint == target)
            return target;
        return busy(fmt::format("'{}' is already mounted at '{}'", v.node, v.mountPoint));
    }
    if (auto st = checkMountPoint(target); !st)
        return st.error();

    auto inner = ports_.kernel.probe(v.mappingNode);
    if (!inner)
        return inner.error();
    if (inner.value().usage != "filesystem")
        return makeError(ErrorCode::WrongState,
                         fmt::format("'{}' holds no filesystem to mount", v.mappingNode));

    auto prepared = ports_.mountPoints.prepare(target);
    if (!prepared)
        return prepared.error();
    Status st =
        ports_.mounter.mount(v.mappingNode, target, inner.value().type, config_.mountOptions);
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

Result<Changed> Operations::unmountVolume(const Volume& v)
{
    if (v.mountPoint.empty())
        return Changed::No;
    if (auto st = ports_.mounter.unmount(v.mountPoint); !st)
        return st.error();
    // Only the directories under our own base are ours to tidy away.
    if (v.mountPoint.starts_with(config_.mountBase + "/"))
        ports_.mountPoints.remove(v.mountPoint);
    return Changed::Yes;
}

Result<Changed> Operations::unmount(const std::string& kernelName)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    return unmountVolume(found.value());
}

Result<Changed> Operations::lock(const std::string& kernelName)
{
    auto found = inspect(kernelName);
    if (!found)
        return found.error();
    const Volume& v = found.value();
    if (!v.signature.isLuks())
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", v.node));

    auto unmounted = unmountVolume(v);
    if (!unmounted)
        return unmounted.error();
    if (v.mappingName.empty())
        return unmounted;
    if (auto st = ports_.crypt.deactivate(v.mappingName); !st)
        return st.error();
    ports_.records.forget(v.mappingName);
    return Changed::Yes;
}

}  // namespace vaultd::engine
