// What the kernel says about block devices and mounts at one moment: a plain
// snapshot read from sysfs, /proc/self/mountinfo and /proc/swaps by
// system::readTopology, and the pure decisions made from it (which devices
// are volumes, which mapping and mount belong to which). Values; thread safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vaultd::engine {

// What a disk's driver says of its health: the SCSI device's state (running,
// offline, blocked, ...) or the NVMe controller's (live, dead, ...), empty
// where the driver keeps none (virtio, loop). Not SCSI's ioerr_cnt: a
// healthy disk counts a few errors while it is probed at attachment.
struct DiskHealth {
    std::string deviceState;
};

struct BlockNode {
    std::string name;                  // kernel name: vdb, nvme0n1p1, dm-3
    std::string devnum;                // "major:minor"
    std::string parent;                // the disk of a partition, else empty
    std::vector<std::string> slaves;   // what a device-mapper device sits on, and is held by
    std::vector<std::string> holders;  // device-mapper devices sitting on this one
    // Slaves sysfs still lists but that are gone, or are a new device that
    // took a gone one's name (it does not list this mapping as a holder).
    std::vector<std::string> lostSlaves;
    std::string dmName;       // device-mapper name, for dm devices
    std::string dmUuid;       // device-mapper uuid, e.g. CRYPT-LUKS2-<hex>-name
    std::uint64_t size = 0;   // bytes
    bool loopBacked = false;  // a loop device with a backing file
    bool readOnly = false;
    // The disk's sequence number: never reused, so a device detached and
    // another attached under the same name and numbers still differ. 0 when
    // the kernel has none. A partition has its disk's.
    std::uint64_t diskseq = 0;
    std::string model;   // as sysfs gives it (padded); a partition's is its disk's
    std::string serial;  // likewise
    DiskHealth health;   // likewise
};

struct MountEntry {
    std::string devnum;    // "major:minor" of the device mounted (btrfs: its source's)
    std::string fsDevnum;  // what files on it report as st_dev (btrfs: anonymous 0:N)
    std::string target;
    std::string fstype;
    std::string source;  // the device path mountinfo names, e.g. /dev/mapper/x
};

// Where vaultd mounts a volume for itself, for the length of a call (to grow
// an unmounted xfs), in a directory only root may enter.
inline constexpr std::string_view kPrivateMounts = "/run/vaultd/grow";

struct Topology {
    std::map<std::string, BlockNode> nodes;  // by kernel name
    std::vector<MountEntry> mounts;
    std::vector<std::string> swaps;  // devnums backing active swap
};

// Whether a device could be a volume by its kind alone: a whole disk or a
// partition, not device-mapper, md, ram, zram or optical, of non-zero size;
// loop devices only with a backing file and when allowed.
bool isCandidate(const BlockNode& node, bool allowLoop);

// Why a device is reserved for the system and must never be a volume: it, or
// its disk, holds /, /boot, swap or a filesystem mounted other than through
// a LUKS mapping. Empty when the device is free to use.
std::optional<std::string> reservedBy(const Topology& topology, const std::string& name);

// The open LUKS mapping on a device, if any.
const BlockNode* luksMappingOf(const Topology& topology, const std::string& name);

// The device-mapper device (of any kind) holding a device, if any.
const BlockNode* holderOf(const Topology& topology, const std::string& name);

// Where a device is mounted; the first mount wins.
const MountEntry* mountOf(const Topology& topology, const BlockNode& node);

// Every mount of a device (bind mounts included), in the order to unmount
// them: the last mounted, which may sit on the others, first.
std::vector<const MountEntry*> mountsOf(const Topology& topology, const BlockNode& node);

// Takes out every node of a disk udev has reported removed (by its
// sequence number, which no later disk shares) while sysfs may still list
// it, and makes each mapping on one lose that slave. Returns the sequence
// numbers that were still listed; the others have left sysfs for good.
std::set<std::uint64_t> dropDeparted(Topology& topology, const std::set<std::uint64_t>& departed);

// LUKS mappings whose device is gone (detached under them): what is left
// to tear down.
std::vector<const BlockNode*> lostMappings(const Topology& topology);

// The device a mount comes from. btrfs reports an anonymous devnum, so the
// source path is the fallback.
const BlockNode* sourceOf(const Topology& topology, const MountEntry& mount);

}  // namespace vaultd::engine
