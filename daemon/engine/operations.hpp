// The operations on volumes: scan, format, unlock, mount, unmount, lock.
// Every call reads the device's state afresh from the kernel, checks the
// request against it, and only then changes anything; a refused request
// writes nothing. Blocking: call from a worker, never from the bus loop.
// Thread safe for different volumes; the caller serialises calls on one.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/configured.hpp"
#include "engine/error.hpp"
#include "engine/ports.hpp"
#include "engine/secret_buffer.hpp"
#include "engine/volume.hpp"

namespace vaultd::engine {

// Which volumes grow by themselves when their device grows (while unlocked
// through vaultd, whose key it holds): all, or those named by LUKS UUID,
// LUKS label, EBS volume id or mapping name.
struct GrowPolicy {
    bool all = false;
    std::vector<std::string> volumes;

    bool covers(const Volume& v) const;
};

struct EngineConfig {
    bool allowLoop = false;
    std::string mountBase = "/media/vault";
    // A mount point a caller names must be one of these or inside one.
    std::vector<std::string> mountRoots = {"/secure", "/mnt", "/media"};
    std::string mountOptions = "nodev,nosuid";
    GrowPolicy autoGrow;
    PbkdfSettings pbkdf;
    // The least memory of any instance that may open a volume vaultd
    // formats: new keyslots' argon2 costs are capped to suit it.
    std::uint64_t smallestInstanceMemory = 512ull << 20;
    IdentityRules identity;
    // Where the configured volumes are described, one file each.
    std::string volumesDirectory = "/etc/vaultd/volumes.d";
    // Lock what vaultd unlocked when it stops (SIGTERM, systemctl stop).
    bool lockOnStop = true;
};

// What a format did: the header backup it kept, or why it could not (the
// volume is formatted either way).
struct FormatResult {
    HeaderBackup backup;
    std::string backupProblem;
};

struct FormatRequest {
    std::string filesystem;
    std::string label;
    std::string force;                      // "NODE:SIZE" of the device, to destroy what it holds
    KeyKind keyKind = KeyKind::Passphrase;  // a passphrase's strength is checked
    bool acceptWeak = false;                // skip that check
    bool workqueues = false;                // keep the read workqueue (vaultd bypasses it)
    bool discard = false;                   // store allow_discards in the header
    bool erase = false;                     // write zeros through the mapping over the whole device
};

// Changes to the dm-crypt options a LUKS2 header keeps; what is unset stays.
struct TuneRequest {
    std::optional<bool> readWorkqueue;   // false: bypass dm-crypt's read workqueue
    std::optional<bool> writeWorkqueue;  // and its write workqueue
    std::optional<bool> discard;         // pass discards down
    bool empty() const { return !readWorkqueue && !writeWorkqueue && !discard; }
};

struct TuneResult {
    HeaderFlags flags;  // as the header keeps them now
    bool changed = false;
    std::string backupProblem;
};

// A new secret for a keyslot: a passphrase (its strength checked unless
// @acceptWeak) or a key file's bytes.
struct KeyRequest {
    KeyKind kind = KeyKind::Passphrase;
    bool acceptWeak = false;
};

// What a keyslot change did: the slot that holds the new secret, and why
// the header backup could not be refreshed, if it could not.
struct KeyslotResult {
    int keyslot = 0;
    std::string backupProblem;
};

struct RestoreRequest {
    // "NODE:SIZE" of the device: restore although the UUID on the device
    // differs from the backup's, or none can be read there.
    std::string force;
};

struct RestoreResult {
    std::string backupUuid;  // the header written
    std::string deviceUuid;  // the one the device named before, or empty
};

struct RepairResult {
    HeaderHealth before = HeaderHealth::None;
    HeaderBackup backup;  // taken before the repair
};

// The caller an unlock or mount is for: who is recorded as having unlocked
// it, and who gets the root of a freshly made filesystem.
struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct UnlockRequest {
    std::string name;  // the mapping name; required
    bool mount = false;
    std::string mountPoint;  // empty: the default under mountBase
    Owner owner;
    MappingOptions mapping;    // dm-crypt's activation options
    std::string mountOptions;  // added to the configured ones (from a configured volume)
};

// What an unlock found or did: the mapping's name (the one asked for, or
// the one it was unlocked under already) and where it is mounted.
struct UnlockResult {
    std::string mappingName;
    std::string mountPoint;
    bool wasUnlocked = false;
};

struct LockRequest {
    // Detach the mounts and remove the mapping when its last user lets go,
    // instead of refusing while anything uses it.
    bool lazy = false;
};

struct LockResult {
    Changed changed = Changed::No;
    bool deferred = false;  // the mapping, and its key, stay until its last user is gone
};

// A LUKS mapping whose device was detached from under it.
struct LostMapping {
    std::string mappingName;
    std::string device;  // the node it had: /dev/vdb
    std::string luksUuid;
    std::string ebsVolumeId;  // filled by whoever knew the device (the kernel no longer does)
    std::vector<std::string> mountPoints;
    bool deferred = false;  // after tearing down: still held by a process
};

// What Grow did to each layer of a volume, outermost first: "device",
// "mapping", "filesystem", with its size in bytes before and after.
struct LayerSize {
    std::string layer;
    std::uint64_t before = 0;
    std::uint64_t after = 0;
};

struct GrowResult {
    std::vector<LayerSize> layers;
    Changed changed = Changed::No;
};

// A format makes the filesystem through a short-lived mapping of its own,
// named this and the device's kernel name.
inline constexpr std::string_view kFormatMappingPrefix = "vaultd-format-";

struct ScanResult {
    std::vector<Volume> volumes;
    std::vector<LostMapping> lost;
    // The first scan only: format mappings that a vaultd before this one
    // left open (it was killed, or stopped, in the middle of a format).
    std::vector<std::string> interruptedFormats;
};

// Where a scan learns what each device holds. The first scan at start takes
// udev's word for the devices udev has probed (no read of the disks, so a
// start with many devices answers soon); every other look probes the device
// itself with libblkid, as every operation does before it acts.
enum class ScanSource {
    Probe,
    UdevDatabase,
};

class Operations {
public:
    Operations(Ports ports, EngineConfig config);

    // Every device that is a volume now, and every mapping whose device is gone.
    ScanResult scan(ScanSource source = ScanSource::Probe);

    // One volume, or NoSuchDevice if it is gone or not eligible.
    Result<Volume> inspect(const std::string& kernelName);
    // Why the driver of @kernelName's disk says it is failing, or empty:
    // sysfs only, no read of the device, for the loop thread's look every
    // few seconds.
    std::string driverSaysFailing(const std::string& kernelName)
    {
        return failingReason(ports_.kernel.diskHealth(kernelName));
    }

    // Also keeps a backup of the new header (see HeaderStore). With
    // request.erase, zeros go through the new mapping over the whole device
    // first; a cancelled erase leaves the header with its keyslot and no
    // filesystem, and is Cancelled. @progress hears each stage.
    Result<FormatResult> format(const std::string& kernelName, const SecretBuffer& passphrase,
                                const FormatRequest& request,
                                Progress& progress = Progress::none());
    Result<UnlockResult> unlock(const std::string& kernelName, const SecretBuffer& passphrase,
                                const UnlockRequest& request,
                                Progress& progress = Progress::none());
    // Where the filesystem is mounted: the mount point it has already, if any.
    Result<std::string> mount(const std::string& kernelName, const std::string& mountPoint,
                              const Owner& owner);
    // Unmounts every mount of the mapping, the innermost first; Busy, naming
    // who holds it, with nothing changed, while anything does.
    Result<Changed> unmount(const std::string& kernelName);
    // Unmounts, then closes the mapping (the key leaves the kernel).
    Result<LockResult> lock(const std::string& kernelName, const LockRequest& request);
    // Enlarges an unlocked volume's mapping to fill its device, then its
    // filesystem to fill the mapping, mounted or not. @passphrase (may be
    // null) is needed only when vaultd does not hold the volume key.
    // Refuses a device smaller than its mapping with WouldShrink.
    Result<GrowResult> grow(const std::string& kernelName, const SecretBuffer* passphrase,
                            Progress& progress = Progress::none());
    // Writes a backup of the volume's LUKS header to @fd (a file the caller
    // opened). Reads the device only.
    Result<HeaderBackup> exportHeader(const std::string& kernelName, int fd);
    // The volume's LUKS header: version, UUID, keyslots and their costs.
    Result<HeaderInfo> keyslots(const std::string& kernelName);
    // Adds a keyslot for @added, authorized by @existing, with the capped
    // key derivation; refreshes the kept header backup.
    Result<KeyslotResult> addKey(const std::string& kernelName, const SecretBuffer& existing,
                                 const SecretBuffer& added, const KeyRequest& request);
    // Adds @recoveryKey (from makeRecoveryKey) in a keyslot of its own.
    Result<KeyslotResult> addRecoveryKey(const std::string& kernelName,
                                         const SecretBuffer& existing,
                                         const SecretBuffer& recoveryKey);
    Result<KeyslotResult> changeKey(const std::string& kernelName, const SecretBuffer& old,
                                    const SecretBuffer& replacement, const KeyRequest& request);
    // Removes @keyslot. @authorizing must open another keyslot, which shows
    // that one that works stays; the last keyslot is never removed.
    Result<KeyslotResult> removeKey(const std::string& kernelName, int keyslot,
                                    const SecretBuffer& authorizing);
    // Writes the header in @file (a private copy of the caller's backup)
    // over the locked volume's; see RestoreRequest.
    Result<RestoreResult> restoreHeader(const std::string& kernelName, const std::string& file,
                                        const RestoreRequest& request,
                                        Progress& progress = Progress::none());
    // The dm-crypt options the volume's header keeps, after changing them as
    // @request says (nothing, when it is empty); later unlocks use them.
    Result<TuneResult> tune(const std::string& kernelName, const TuneRequest& request);
    // Rewrites the damaged copy of a LUKS2 header from the intact one,
    // after keeping a backup.
    Result<RepairResult> repairHeader(const std::string& kernelName);
    // Binds the volume to the tang server at @url (whose key has
    // @thumbprint): a new keyslot for a random key, kept wrapped by the
    // server in a clevis token. @existing authorizes it.
    Result<KeyslotResult> bindTang(const std::string& kernelName, const SecretBuffer& existing,
                                   const std::string& url, const std::string& thumbprint);
    // Unlocks a configured volume with the key its clevis tokens' servers
    // give (the identity checked first, as in unlockConfigured);
    // KeyServerUnavailable, saying why for each token, when none does: the
    // volume then waits for an unlock by hand.
    Result<UnlockResult> unlockConfiguredByToken(const std::string& kernelName,
                                                 const ConfiguredVolume& c);
    // As unlock, with the key the volume's clevis tokens' servers give
    // instead of a passphrase.
    Result<UnlockResult> unlockByToken(const std::string& kernelName, const UnlockRequest& request);
    // Unlocks (and mounts, if it says where) a configured volume with
    // @secret, after checking that the device is still the volume @c names:
    // a stale link or a wrong device is refused before anything is opened.
    Result<UnlockResult> unlockConfigured(const std::string& kernelName, const ConfiguredVolume& c,
                                          const SecretBuffer& secret);
    // The header backups vaultd keeps.
    std::vector<HeaderBackup> headerBackups() { return ports_.headers.list(); }
    // Detaches a lost mapping's mounts and takes its key out of the kernel.
    Result<LostMapping> tearDownLost(const std::string& mappingName);
    // Closes the format mapping an interrupted format left (a first scan's
    // interruptedFormats), once its last user is gone: an mkfs the killed
    // vaultd started may be writing through it still. The device keeps the
    // header that format wrote, with or without a filesystem; format it
    // again to start over. Only such a mapping: any other name is refused.
    Status closeInterruptedFormat(const std::string& mappingName);

    // udev reported the disk with this sequence number removed: from now on
    // it, its partitions and anything it held count as gone, even while
    // sysfs lists them still (the event comes before the kernel is done).
    void noteDeparted(std::uint64_t diskseq);

    const EngineConfig& config() const { return config_; }

private:
    // The kernel's view now, without the disks known to have departed.
    Topology currentTopology();
    Result<Volume> inspectIn(const Topology& topology, const std::string& kernelName,
                             ScanSource source = ScanSource::Probe);
    Identity identityOf(const BlockNode& node, const std::vector<std::string>& links);
    Status checkFormatAllowed(const Topology& topology, const Volume& v,
                              const FormatRequest& request, Filesystem fs);
    Status checkRequestedMountPoint(const std::string& path) const;
    Status stillTheDevice(const Volume& v);
    Result<std::string> mountMapping(const Topology& topology, const Volume& v,
                                     const std::string& requested, const Owner& owner,
                                     const std::string& extraOptions = "");
    Result<std::string> mountAfterUnlock(const std::string& kernelName,
                                         const std::string& mountPoint, const Owner& owner,
                                         const std::string& extraOptions);
    Status checkUniqueFilesystem(const Topology& topology, const Volume& v, const Signature& inner);
    Error nameInUse(const Topology& topology, const std::string& name) const;
    // What keeps a mapping from being let go: a device on top, a mount
    // inside its mounts, processes using it. Empty when nothing does.
    std::vector<std::string> holdersOf(const Topology& topology, const BlockNode& mapping,
                                       const std::vector<const MountEntry*>& mounts);
    Error inUse(const Volume& v, const std::vector<std::string>& holders, bool canBeLazy);
    // Busy, naming every holder, when anything holds the mapping; checked
    // before anything changes.
    Status refuseIfHeld(const Topology& topology, const Volume& v, const BlockNode& mapping,
                        bool canBeLazy);
    // Unmounts every mount of the mapping, the last first; checks nothing.
    Result<Changed> unmountAll(const Topology& topology, const Volume& v, const BlockNode& mapping,
                               bool lazy, bool canBeLazy);
    std::vector<LostMapping> lostIn(const Topology& topology);
    // The filesystem step of grow(): through its mount point, offline for
    // ext4, or through a private mount made for the purpose.
    // Opens (or with an empty @name, checks) @passphrase on the keyslots
    // whose derivation fits in memory now, the cheapest first.
    // With @onlySlot, only that keyslot is tried.
    Result<int> openAffordably(const Volume& v, const std::string& name,
                               const SecretBuffer& passphrase, const MappingOptions& options,
                               int onlySlot = kAnyKeyslot);
    Result<UnlockResult> unlock(const std::string& kernelName, const SecretBuffer& passphrase,
                                const UnlockRequest& request, int onlySlot, Progress& progress);
    // The device, if it is still the volume @c names.
    Result<Volume> configuredDevice(const std::string& kernelName, const ConfiguredVolume& c);
    Result<Volume> luksVolume(const std::string& kernelName);
    // A LUKS volume, its header, and the key derivation a new keyslot of it gets.
    struct KeyTarget {
        Volume volume;
        HeaderInfo header;
        PbkdfSettings pbkdf;
    };
    Result<KeyTarget> keyTarget(const std::string& kernelName);
    Status roomForKeyslot(const KeyTarget& t);
    // Adds @added in a new keyslot, authorized by @existing on an affordable slot.
    // With @tokenJson, the slot is added with that token (a key server's).
    Result<KeyslotResult> newKeyslot(const KeyTarget& t, const SecretBuffer& existing,
                                     const SecretBuffer& added, const PbkdfSettings& pbkdf,
                                     KeyKind kind, const std::string& tokenJson = {});
    std::string refreshBackup(const Volume& v);
    Status checkStrength(const SecretBuffer& secret, KeyKind kind, bool acceptWeak);
    Result<LayerSize> growFilesystem(const Volume& v, Filesystem fs, std::uint64_t mappingSize,
                                     bool mappingGrew);

    enum class UnitsStopped { No, Yes };
    Result<Changed> unmount(const std::string& kernelName, UnitsStopped unitsStopped);
    Result<LockResult> lock(const std::string& kernelName, const LockRequest& request,
                            UnitsStopped unitsStopped);

    // vaultd's own reads of a mapping (a scan probing its filesystem) and
    // its closing of one exclude each other. The kernel refuses to remove
    // a mapping that is open, and libcryptsetup then waits 200 ms before
    // it tries again: a scan that happened to be reading the mapping made
    // one lock in two take that long.
    Result<Signature> probeMapping(const BlockNode& mapping);
    Status closeMapping(const std::string& name, Crypt::Deactivate how);

    Ports ports_;
    EngineConfig config_;
    std::shared_mutex mappingUse_;
    std::mutex departedLock_;
    std::set<std::uint64_t> departed_;
};

}  // namespace vaultd::engine
