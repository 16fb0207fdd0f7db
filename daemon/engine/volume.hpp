// A volume as the kernel shows it now, derived from a Topology snapshot and
// the signatures libblkid finds. Values, rebuilt on every look; never cached
// on trust. Thread safe to copy.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/identity.hpp"
#include "engine/topology.hpp"

namespace vaultd::engine {

enum class VolumeState { Empty, Data, Locked, Unlocked, Mounted };

std::string_view stateName(VolumeState state);

// The outermost signature libblkid finds on a device. An empty type means
// none at all.
struct Signature {
    std::string type;   // crypto_LUKS, ext4, gpt, ...
    std::string usage;  // filesystem, crypto, raid, partition table, ...
    std::string uuid;
    std::string label;
    unsigned luksVersion = 0;

    bool none() const { return type.empty(); }
    bool isLuks() const { return type == "crypto_LUKS"; }
};

// The LUKS binary headers at the start of a device: LUKS2 keeps a primary
// at offset 0 and a secondary right after its header area; LUKS1 only a
// primary. Found by their magic and version (libcryptsetup checks the
// checksums when it loads them).
struct HeaderCopies {
    unsigned primary = 0;    // 1 or 2: the start holds a LUKS binary header of that version
    bool secondary = false;  // a LUKS2 secondary header is where one may be
    // When the primary is gone: what else libblkid finds at the start with
    // LUKS left out (it finds the secondary and calls the device LUKS).
    std::string foreign;
    // The LUKS UUID a binary header found names (the primary's, else the
    // secondary's), or empty; read even where the metadata no longer loads.
    std::string uuid;
};

// How the header of a device stands, as Status shows it.
enum class HeaderHealth {
    None,              // no LUKS header at all
    Valid,             // every copy there
    PrimaryDamaged,    // the primary is gone, the secondary is intact
    SecondaryDamaged,  // the primary is there, the secondary is gone
    Overwritten,  // another signature (a filesystem, ...) sits over it; the secondary is intact
    Unreadable,   // a LUKS volume whose device fails: its copies cannot be read
};

std::string_view headerHealthName(HeaderHealth health);

// Judges from what libblkid found on the device and the copies there.
HeaderHealth judgeHeader(const Signature& outer, const HeaderCopies& copies);

struct Volume {
    std::string kernelName;
    std::string node;                // /dev/vdb
    std::string devnum;              // "major:minor"
    std::uint64_t diskseq = 0;       // see BlockNode::diskseq
    std::vector<std::string> links;  // /dev/disk/by-id/...
    std::uint64_t size = 0;
    VolumeState state = VolumeState::Empty;
    Signature signature;
    std::string mappingName;          // open mapping, or empty
    std::string mappingNode;          // /dev/mapper/NAME (or /dev/dm-N), or empty
    std::string mountPoint;           // where the mapping is mounted, or empty
    std::string filesystemType;       // inside the mapping, or the foreign type
    std::optional<uid_t> unlockedBy;  // who unlocked it through vaultd, if known
    // How many bytes of the device the open mapping does not cover yet
    // (the device grew since it was opened): what Grow would add.
    std::uint64_t growableBy = 0;
    HeaderHealth headerHealth = HeaderHealth::None;
    Identity identity;  // serial, model, EBS volume id, requested name
    // Other devices with the same LUKS UUID (a volume and its copy from a
    // snapshot): neither can be chosen by the UUID alone.
    std::vector<std::string> duplicates;
    // Why the device is failing (its driver gave it up, it will not open or
    // be read), or empty. A failing volume is still listed with what the kernel shows
    // of it, and vaultd writes nothing to it: only unmount and lock work.
    std::string failing;
};

// Why a disk's driver says it is failing, or empty.
std::string failingReason(const DiskHealth& health);
// DeviceFailing when @v is failing: vaultd does not @doing ("format it",
// "unlock it", ...), since that writes, or may.
Status refuseIfFailing(const Volume& v, std::string_view doing);

// Fills each LUKS volume's duplicates from the others in @volumes.
void markDuplicates(std::vector<Volume>& volumes);

// The nodes among @others (not @v itself) whose LUKS UUID is @v's.
std::vector<std::string> duplicatesOf(const Volume& v, const std::vector<const Volume*>& others);

// The node to open a mapping by: /dev/mapper/NAME where udev keeps the name
// as it is, else the kernel's /dev/dm-N.
std::string mappingNode(const BlockNode& mapping);

VolumeState deriveState(const Signature& signature, bool mapped, bool mounted);

// Builds the view of one device. @inner is the signature inside the open
// mapping (none when there is no mapping).
Volume describe(const Topology& topology, const BlockNode& node, const Signature& outer,
                const Signature& inner);

}  // namespace vaultd::engine
