#include "engine/topology.hpp"

#include "engine/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

namespace vaultd::engine {
namespace {

constexpr std::array kNeverCandidates = {"dm-", "md", "ram", "zram", "sr", "nbd", "mtdblock"};

bool startsWithAny(std::string_view name)
{
    for (std::string_view prefix : kNeverCandidates) {
        if (name.starts_with(prefix))
            return true;
    }
    return false;
}

const BlockNode* find(const Topology& t, const std::string& name)
{
    auto it = t.nodes.find(name);
    return it == t.nodes.end() ? nullptr : &it->second;
}

const BlockNode* findByDevnum(const Topology& t, std::string_view devnum)
{
    for (const auto& [name, node] : t.nodes) {
        if (node.devnum == devnum)
            return &node;
    }
    return nullptr;
}

// The whole disks under a device, through partitions and device-mapper.
void collectDisks(const Topology& t, const BlockNode& node, std::set<std::string>& disks,
                  int depth = 0)
{
    if (depth > 16)  // a cycle would be a kernel bug; do not loop forever on it
        return;
    if (!node.slaves.empty()) {
        for (const auto& slave : node.slaves) {
            if (const BlockNode* s = find(t, slave))
                collectDisks(t, *s, disks, depth + 1);
        }
        return;
    }
    disks.insert(node.parent.empty() ? node.name : node.parent);
}

bool isLuksMapping(const BlockNode& node)
{
    return node.dmUuid.starts_with("CRYPT-LUKS") && node.slaves.size() == 1;
}

std::string diskOf(const Topology& t, const std::string& name)
{
    const BlockNode* node = find(t, name);
    if (node && !node->parent.empty())
        return node->parent;
    return name;
}

}  // namespace

bool isCandidate(const BlockNode& node, bool allowLoop)
{
    if (node.size == 0 || startsWithAny(node.name))
        return false;
    if (node.name.starts_with("loop"))
        return allowLoop && node.loopBacked;
    return true;
}

std::optional<std::string> reservedBy(const Topology& t, const std::string& name)
{
    const std::string disk = diskOf(t, name);

    for (const auto& m : t.mounts) {
        const BlockNode* source = sourceOf(t, m);
        if (!source)
            continue;
        // A filesystem inside a LUKS mapping of a volume is the volume's own
        // business, unless the system itself lives there; vaultd's private
        // mounts, under /run, are its own too.
        const bool privateMount = m.target.starts_with(std::string(kPrivateMounts) + "/");
        if (isLuksMapping(*source) && (privateMount || !isSystemDirectory(m.target)))
            continue;
        std::set<std::string> disks;
        collectDisks(t, *source, disks);
        if (disks.count(disk))
            return fmt::format("its disk '{}' holds the filesystem mounted at '{}'", disk,
                               m.target);
    }

    for (const auto& swap : t.swaps) {
        const BlockNode* node = findByDevnum(t, swap);
        if (!node)
            continue;
        std::set<std::string> disks;
        collectDisks(t, *node, disks);
        if (disks.count(disk))
            return fmt::format("its disk '{}' holds active swap", disk);
    }
    return std::nullopt;
}

const BlockNode* luksMappingOf(const Topology& t, const std::string& name)
{
    for (const auto& [n, node] : t.nodes) {
        if (isLuksMapping(node) && node.slaves.front() == name)
            return &node;
    }
    return nullptr;
}

const BlockNode* holderOf(const Topology& t, const std::string& name)
{
    for (const auto& [n, node] : t.nodes) {
        for (const auto& slave : node.slaves) {
            if (slave == name)
                return &node;
        }
    }
    return nullptr;
}

const BlockNode* sourceOf(const Topology& t, const MountEntry& mount)
{
    if (const BlockNode* node = findByDevnum(t, mount.devnum))
        return node;
    std::string_view source = mount.source;
    if (source.starts_with("/dev/mapper/")) {
        source.remove_prefix(12);
        for (const auto& [name, node] : t.nodes) {
            if (!node.dmName.empty() && node.dmName == source)
                return &node;
        }
        return nullptr;
    }
    if (source.starts_with("/dev/"))
        return find(t, std::string(source.substr(5)));
    return nullptr;
}

std::vector<const MountEntry*> mountsOf(const Topology& t, const BlockNode& node)
{
    std::vector<const MountEntry*> found;
    for (auto it = t.mounts.rbegin(); it != t.mounts.rend(); ++it) {
        if (sourceOf(t, *it) == &node)
            found.push_back(&*it);
    }
    return found;
}

std::set<std::uint64_t> dropDeparted(Topology& t, const std::set<std::uint64_t>& departed)
{
    std::set<std::uint64_t> listed;
    std::set<std::string> dropped;
    for (auto it = t.nodes.begin(); it != t.nodes.end();) {
        if (it->second.diskseq != 0 && departed.count(it->second.diskseq)) {
            listed.insert(it->second.diskseq);
            dropped.insert(it->first);
            it = t.nodes.erase(it);
        } else {
            ++it;
        }
    }
    if (dropped.empty())
        return listed;
    for (auto& [name, node] : t.nodes) {
        auto gone = std::stable_partition(node.slaves.begin(), node.slaves.end(),
                                          [&](const std::string& s) { return !dropped.count(s); });
        node.lostSlaves.insert(node.lostSlaves.end(), gone, node.slaves.end());
        node.slaves.erase(gone, node.slaves.end());
        std::erase_if(node.holders, [&](const std::string& h) { return dropped.count(h) > 0; });
    }
    return listed;
}

std::vector<const BlockNode*> lostMappings(const Topology& t)
{
    std::vector<const BlockNode*> lost;
    for (const auto& [name, node] : t.nodes) {
        if (node.dmUuid.starts_with("CRYPT-LUKS") && node.slaves.empty() &&
            !node.lostSlaves.empty())
            lost.push_back(&node);
    }
    return lost;
}

const MountEntry* mountOf(const Topology& t, const BlockNode& node)
{
    for (const auto& m : t.mounts) {
        if (sourceOf(t, m) == &node)
            return &m;
    }
    return nullptr;
}

}  // namespace vaultd::engine
