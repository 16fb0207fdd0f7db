#include "engine/volume.hpp"

#include <fmt/format.h>

#include <cctype>

namespace vaultd::engine {

std::string_view stateName(VolumeState state)
{
    switch (state) {
    case VolumeState::Empty: return "empty";
    case VolumeState::Data: return "data";
    case VolumeState::Locked: return "locked";
    case VolumeState::Unlocked: return "unlocked";
    case VolumeState::Mounted: return "mounted";
    }
    return "data";
}

std::string mappingNode(const BlockNode& mapping)
{
    // udev escapes any other character in the /dev/mapper link (',' becomes
    // \x2c), so such names are reached through the kernel's own node.
    constexpr std::string_view kept = "#+-.:=@_";
    for (char c : mapping.dmName) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && kept.find(c) == std::string_view::npos)
            return "/dev/" + mapping.name;
    }
    return "/dev/mapper/" + mapping.dmName;
}

std::string_view headerHealthName(HeaderHealth health)
{
    switch (health) {
    case HeaderHealth::None: return "none";
    case HeaderHealth::Valid: return "valid";
    case HeaderHealth::PrimaryDamaged: return "primary-damaged";
    case HeaderHealth::SecondaryDamaged: return "secondary-damaged";
    case HeaderHealth::Overwritten: return "overwritten";
    case HeaderHealth::Unreadable: return "unreadable";
    }
    return "none";
}

std::string failingReason(const DiskHealth& health)
{
    // Transient states (blocked, resetting) count too: I/O waits or fails
    // while they last.
    const std::string& state = health.deviceState;
    if (!state.empty() && state != "running" && state != "live")
        return fmt::format("its disk is {}", state);
    return {};
}

Status refuseIfFailing(const Volume& v, std::string_view doing)
{
    if (v.failing.empty())
        return Done{};
    const char* next = v.mappingName.empty()
                           ? "replace the disk; what can be saved is a header backup and a copy "
                             "of the disk made once it reads again"
                           : "lock it (vaultctl lock works), and copy what it still holds to a "
                             "new volume";
    return makeError(ErrorCode::DeviceFailing,
                     fmt::format("'{}' is failing ({}): vaultd will not {}; {}", v.node, v.failing,
                                 doing, next));
}

HeaderHealth judgeHeader(const Signature& outer, const HeaderCopies& copies)
{
    if (copies.primary == 1 && outer.isLuks())
        return HeaderHealth::Valid;  // LUKS1 has no second copy
    if (copies.primary == 2)
        return copies.secondary ? HeaderHealth::Valid : HeaderHealth::SecondaryDamaged;
    if (!copies.secondary)
        return HeaderHealth::None;
    // Only the secondary is left: over the primary lies either damage or
    // another signature.
    const bool foreign = !copies.foreign.empty() || (!outer.none() && !outer.isLuks());
    return foreign ? HeaderHealth::Overwritten : HeaderHealth::PrimaryDamaged;
}

VolumeState deriveState(const Signature& signature, bool mapped, bool mounted)
{
    if (signature.none())
        return VolumeState::Empty;
    if (!signature.isLuks())
        return VolumeState::Data;
    if (!mapped)
        return VolumeState::Locked;
    return mounted ? VolumeState::Mounted : VolumeState::Unlocked;
}

Volume describe(const Topology& topology, const BlockNode& node, const Signature& outer,
                const Signature& inner)
{
    Volume v;
    v.kernelName = node.name;
    v.node = "/dev/" + node.name;
    v.devnum = node.devnum;
    v.diskseq = node.diskseq;
    v.size = node.size;
    v.signature = outer;

    const BlockNode* mapping = outer.isLuks() ? luksMappingOf(topology, node.name) : nullptr;
    const MountEntry* mount = mapping ? mountOf(topology, *mapping) : nullptr;
    if (mapping) {
        v.mappingName = mapping->dmName;
        v.mappingNode = mappingNode(*mapping);
        v.filesystemType = inner.type;
    }
    if (mount) {
        v.mountPoint = mount->target;
        if (v.filesystemType.empty())
            v.filesystemType = mount->fstype;
    }
    if (!outer.isLuks())
        v.filesystemType = outer.type;

    v.state = deriveState(outer, mapping != nullptr, mount != nullptr);
    return v;
}

std::vector<std::string> duplicatesOf(const Volume& v, const std::vector<const Volume*>& others)
{
    std::vector<std::string> nodes;
    if (!v.signature.isLuks() || v.signature.uuid.empty())
        return nodes;
    for (const Volume* o : others) {
        if (o->node != v.node && o->signature.isLuks() && o->signature.uuid == v.signature.uuid)
            nodes.push_back(o->node);
    }
    return nodes;
}

void markDuplicates(std::vector<Volume>& volumes)
{
    std::vector<const Volume*> all;
    for (const auto& v : volumes)
        all.push_back(&v);
    std::vector<std::vector<std::string>> found;
    for (const auto& v : volumes)
        found.push_back(duplicatesOf(v, all));
    for (std::size_t i = 0; i < volumes.size(); ++i)
        volumes[i].duplicates = std::move(found[i]);
}

}  // namespace vaultd::engine
