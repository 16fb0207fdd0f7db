// The engine's only ways to touch the system: small interfaces over the
// kernel's views, libcryptsetup, libmount, the mount point directories and
// the spawned filesystem tools. system/ has the real ones; tests have fakes.
// Implementations must be safe to call from several worker threads at once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/configured.hpp"
#include "engine/error.hpp"
#include "engine/progress.hpp"
#include "engine/filesystem.hpp"
#include "engine/secret_buffer.hpp"
#include "engine/topology.hpp"
#include "engine/volume.hpp"

namespace vaultd::engine {

struct PbkdfSettings {
    std::string type = "argon2id";  // argon2id, argon2i or pbkdf2
    std::string hash = "sha256";    // for pbkdf2
    std::uint32_t timeMs = 2000;    // benchmark target when iterations is 0
    std::uint32_t iterations = 0;   // fixed cost; 0 means benchmark to timeMs
    std::uint32_t memoryKib = 1048576;
    std::uint32_t parallel = 4;
};

// How a keyslot's secret is meant to be used, as vaultd recorded it in a
// LUKS2 token when it added the slot; a slot nothing says anything about is
// a passphrase. Token: bound to a token of another program (clevis, systemd).
enum class KeyKind { Passphrase, KeyFile, Recovery, Token };
std::string_view keyKindName(KeyKind kind);

struct Keyslot {
    int slot = 0;
    KeyKind kind = KeyKind::Passphrase;
    std::string tokenType;  // for Token: "clevis", "systemd-tpm2", ...
    std::string pbkdf;      // argon2id, argon2i or pbkdf2
    std::string hash;       // pbkdf2's
    std::uint32_t iterations = 0;
    std::uint32_t memoryKib = 0;  // argon2's
    std::uint32_t parallel = 0;   // argon2's
    bool ignored = false;         // priority "ignore": tried only when named
};

// What a LUKS header says about itself and its keyslots.
// The LUKS2 token type clevis keeps its JWE in.
inline constexpr const char* kClevisToken = "clevis";

// A LUKS2 token: its number, type ("clevis", "systemd-tpm2", ...), the
// keyslots it names and its JSON.
struct TokenRecord {
    int token = -1;
    std::string type;
    std::vector<int> keyslots;
    std::string json;
};

// dm-crypt options a LUKS2 header keeps (its persistent flags), which
// every activation uses, by vaultd or by cryptsetup.
struct HeaderFlags {
    bool noReadWorkqueue = false;   // decrypt reads in the caller's context
    bool noWriteWorkqueue = false;  // and encrypt writes so
    bool discard = false;           // pass discards down
    bool operator==(const HeaderFlags&) const = default;
};

struct HeaderInfo {
    int version = 2;  // 1 or 2
    std::string uuid;
    std::string label;
    std::uint64_t dataOffset = 0;  // bytes from the start of the device
    int maxKeyslots = 32;
    std::vector<Keyslot> keyslots;  // the active ones, by number
    HeaderFlags flags;              // none for LUKS1
};

constexpr int kAnyKeyslot = -1;

struct LuksParams {
    std::string cipher = "aes";
    std::string mode = "xts-plain64";
    std::size_t keyBytes = 64;
    std::uint32_t sectorSize = 4096;
    std::string label;
    PbkdfSettings pbkdf;
    KeyKind keyKind = KeyKind::Passphrase;  // of the first keyslot's secret
    // Stored in the header. The workqueue flags are dropped on a kernel
    // whose dm-crypt lacks them (before 5.9), which would refuse to open.
    // Reads bypass their workqueue; writes keep theirs, which spreads the
    // encryption of deep queues over the CPUs (bench-io measured deep and
    // sequential writes at two thirds of plain cryptsetup's without it).
    HeaderFlags flags{true, false, false};
};

class KernelView {
public:
    virtual ~KernelView() = default;
    virtual Topology readTopology() = 0;
    // The driver's word on the disk under one device (BlockNode::health),
    // without reading the topology: cheap enough to ask every few seconds.
    virtual DiskHealth diskHealth(const std::string& kernelName) = 0;
    // The outermost signature on a device node; none when it holds nothing.
    virtual Result<Signature> probe(const std::string& node) = 0;
    // What udev's database says of the device: what libblkid found when
    // udev last probed it (after its attachment or the last close of a
    // writer), and its links; nothing while udev has not processed the
    // device. Cheap (no read of the device), but as old as udev's last look:
    // only for the first scan.
    struct UdevRecord {
        Signature signature;
        std::vector<std::string> links;
    };
    virtual std::optional<UdevRecord> udevRecord(const std::string& kernelName) = 0;
    virtual std::vector<std::string> links(const std::string& kernelName) = 0;
    // The NVMe Identify Controller page (4096 bytes) of an NVMe namespace's
    // controller, or empty when the device is not NVMe or will not say.
    virtual std::vector<std::uint8_t> nvmeIdentify(const std::string& node) = 0;
    // What the node is now: its device number and disk sequence number, or
    // NoSuchDevice when it is gone.
    struct DeviceIdentity {
        std::string devnum;
        std::uint64_t diskseq = 0;
    };
    virtual Result<DeviceIdentity> identityOf(const std::string& node) = 0;
    // False when somebody holds the device open exclusively (a mount, a
    // mapping, another tool).
    virtual bool canOpenExclusively(const std::string& node) = 0;
    // The LUKS binary headers found at the start of @node, read past the
    // page cache; nothing found when it cannot be read. Not needed where
    // probe() finds nothing: libblkid (2.33 and later) reports a LUKS2
    // secondary header without its primary as LUKS itself.
    virtual HeaderCopies luksHeaders(const std::string& node) = 0;
    // Erases every signature libblkid finds, so no old filesystem, partition
    // table or header survives a forced format.
    virtual Status wipeSignatures(const std::string& node) = 0;
    // How big a filesystem is: mounted at @mountPoint, its total as df shows
    // it; not mounted (empty @mountPoint), what its superblock on @node spans.
    virtual Result<std::uint64_t> filesystemSize(Filesystem fs, const std::string& node,
                                                 const std::string& mountPoint) = 0;
    // The memory this process could take now without pushing anything out:
    // the kernel's MemAvailable, less where its cgroups' limits are closer.
    virtual std::uint64_t memoryAvailable() = 0;
};

class Crypt {
public:
    virtual ~Crypt() = default;
    // Writes a LUKS2 header with @passphrase in keyslot 0; if @activateAs is
    // not empty, opens that mapping with the fresh volume key too.
    virtual Status format(const std::string& node, const LuksParams& params,
                          const SecretBuffer& passphrase, const std::string& activateAs) = 0;
    // Opens @node as mapping @name with @passphrase tried on @keyslot, or on
    // every keyslot with kAnyKeyslot; an empty @name only checks it. Returns
    // the keyslot that took it.
    virtual Result<int> activate(const std::string& node, const std::string& name,
                                 const SecretBuffer& passphrase, int keyslot,
                                 const MappingOptions& options = {}) = 0;
    // Normal fails with Busy while anything holds the mapping. Deferred
    // removes it when the last user lets go (the key stays in the kernel
    // until then). Force replaces its table with an error target first, so
    // the key leaves the kernel at once; for a mapping whose device is gone.
    // A successful deactivation also forgets the volume key kept for it.
    enum class Deactivate { Normal, Deferred, Force };
    virtual Status deactivate(const std::string& name, Deactivate how) = 0;
    virtual bool mappingExists(const std::string& name) = 0;

    // An open mapping as device-mapper has it: where its data starts on the
    // device, how long it is, and whether the volume key to reload it is at
    // hand (vaultd kept it when it opened the mapping, or the mapping holds
    // it in its table). NoSuchDevice when there is no such mapping.
    struct Mapping {
        std::uint64_t offset = 0;  // bytes
        std::uint64_t size = 0;    // bytes
        bool keyAtHand = false;
    };
    virtual Result<Mapping> mapping(const std::string& name) = 0;
    // Enlarges the mapping to the end of its device. The key comes from where
    // mapping() says it is at hand, else from @passphrase, which then also
    // keeps it for next time; without either, CredentialRequired.
    virtual Status resize(const std::string& name, const SecretBuffer* passphrase) = 0;

    // Writes the LUKS header of @node (binary headers, metadata, keyslot
    // areas) to a new file @file, which must not exist; never writes @node.
    virtual Status backupHeader(const std::string& node, const std::string& file) = 0;
    // The header in @file (a backup) or on a device, loaded as libcryptsetup
    // would use it; NotLuks if it holds no valid header.
    virtual Result<HeaderInfo> header(const std::string& fileOrNode) = 0;
    // Writes the header in @file over @node's; what follows it is untouched.
    virtual Status restoreHeader(const std::string& node, const std::string& file) = 0;
    // Rewrites a damaged copy of @node's LUKS2 header from the intact one.
    virtual Status repairHeader(const std::string& node) = 0;
    // Writes zeros over the whole of @node, an open mapping (so the disk
    // below gets ciphertext), telling @progress; stops with Cancelled,
    // saying how far it came, when @progress asks. Other calls may run
    // meanwhile.
    virtual Status erase(const std::string& node, Progress& progress) = 0;
    // Stores @flags in @node's LUKS2 header, keeping any other persistent
    // flag it has; later activations use them.
    virtual Status setHeaderFlags(const std::string& node, const HeaderFlags& flags) = 0;

    // A new keyslot for @added, authorized by @existing tried on
    // @existingSlot (or kAnyKeyslot), with @pbkdf; records @kind. Returns
    // its number. NoFreeKeyslot when the header has no room for another.
    virtual Result<int> addKeyslot(const std::string& node, const SecretBuffer& existing,
                                   int existingSlot, const SecretBuffer& added,
                                   const PbkdfSettings& pbkdf, KeyKind kind) = 0;
    // Moves the secret @old opens (on @oldSlot, or kAnyKeyslot) to
    // @replacement, keeping its kind; @old no longer opens anything.
    // Returns the keyslot that holds it now.
    virtual Result<int> changeKey(const std::string& node, const SecretBuffer& old, int oldSlot,
                                  const SecretBuffer& replacement, const PbkdfSettings& pbkdf) = 0;
    // Destroys @keyslot, whatever vaultd recorded about it, and any token
    // (clevis's) that opened it alone.
    virtual Status removeKeyslot(const std::string& node, int keyslot) = 0;

    // The LUKS2 header's tokens (none for LUKS1).
    virtual Result<std::vector<TokenRecord>> tokens(const std::string& node) = 0;
    // As addKeyslot, and imports @tokenJson (a LUKS2 token, its keyslots
    // set to the new slot's) with it; no slot is left if the token cannot
    // be imported.
    virtual Result<int> addBoundKeyslot(const std::string& node, const SecretBuffer& existing,
                                        int existingSlot, const SecretBuffer& added,
                                        const PbkdfSettings& pbkdf,
                                        const std::string& tokenJson) = 0;
};

// Keys a key server holds, through clevis: a LUKS2 token of type "clevis"
// keeps a JWE that only the server (tang) can help decrypt into the
// passphrase of the keyslot the token names.
class KeyServers {
public:
    virtual ~KeyServers() = default;
    // A clevis token (LUKS2 token JSON, keyslots still empty) whose JWE
    // wraps @key for the tang server at @url, whose signing key must have
    // @thumbprint. KeyServerUnavailable when the server cannot be reached
    // or does not match.
    virtual Result<std::string> bindTang(const std::string& url, const std::string& thumbprint,
                                         const SecretBuffer& key) = 0;
    // The key the clevis token @tokenJson wraps, into @key.
    virtual Status unwrap(const std::string& tokenJson, SecretBuffer& key) = 0;
};

// Whether a passphrase is good enough to protect a volume (libpwquality).
class PassphraseQuality {
public:
    virtual ~PassphraseQuality() = default;
    // WeakPassphrase, with the reason, when it is not.
    virtual Status check(const SecretBuffer& passphrase) = 0;
};

class Mounter {
public:
    virtual ~Mounter() = default;
    virtual Status mount(const std::string& source, const std::string& target,
                         const std::string& fstype, const std::string& options) = 0;
    // @lazy detaches the mount now and lets it go when it is no longer
    // busy (MNT_DETACH).
    virtual Status unmount(const std::string& target, bool lazy) = 0;
};

class MountPoints {
public:
    virtual ~MountPoints() = default;
    // Makes sure @path is an empty directory that nothing is mounted on,
    // creating it (and missing parents) if absent. Changed::Yes if created.
    virtual Result<Changed> prepare(const std::string& path) = 0;
    // The same, for vaultd's own use: whatever it creates only root may enter.
    virtual Result<Changed> preparePrivate(const std::string& path) = 0;
    // Removes a directory vaultd made, if it is empty; failures are ignored.
    virtual void remove(const std::string& path) = 0;
    // Gives a freshly made filesystem's root directory (owned by root, holding
    // nothing but lost+found) to @owner; leaves any other as it is.
    virtual Result<Changed> adopt(const std::string& path, uid_t uid, gid_t gid) = 0;
};

// Who unlocked each mapping vaultd opened, kept where a restarted daemon
// finds it. Keyed by the mapping name, which is unique while it is open
// (a LUKS UUID is not: copies of a volume share it); a record answers only
// for the LUKS UUID it was written for.
class UnlockRecords {
public:
    virtual ~UnlockRecords() = default;
    virtual void record(const std::string& mappingName, const std::string& luksUuid, uid_t uid) = 0;
    virtual std::optional<uid_t> find(const std::string& mappingName,
                                      const std::string& luksUuid) = 0;
    virtual void forget(const std::string& mappingName) = 0;
};

// A process using a device: an open file on its filesystem, the device node
// itself, a working or root directory there, or a mapped file.
struct DeviceUser {
    int pid = 0;
    std::string command;  // its comm
    std::string how;      // "has /secure/log open", "works in /secure", ...
};

class Processes {
public:
    virtual ~Processes() = default;
    // Every process (but vaultd) using any of @devnums ("major:minor").
    virtual std::vector<DeviceUser> usersOf(const std::vector<std::string>& devnums) = 0;
};

class FilesystemTools {
public:
    virtual ~FilesystemTools() = default;
    virtual Status make(Filesystem fs, const std::string& node, const std::string& label) = 0;
    // Grows the filesystem on @node to fill it: through @mountPoint when it
    // is mounted (xfs and btrfs must be), else offline (ext4 only).
    virtual Status grow(Filesystem fs, const std::string& node, const std::string& mountPoint) = 0;
};

// What is known about a header backup vaultd keeps.
struct HeaderBackup {
    std::string luksUuid;
    std::string device;       // the node it was taken from: /dev/nvme1n1
    std::string ebsVolumeId;  // of that device, if it is an EBS volume
    std::string serial;
    std::int64_t savedAt = 0;  // seconds since the epoch
    std::uint64_t bytes = 0;
};

// The header backups vaultd keeps, one per LUKS UUID, in its state
// directory (/var/lib/vaultd/headers), readable by root alone.
class HeaderStore {
public:
    virtual ~HeaderStore() = default;
    // Keeps @node's header as the backup of @about.luksUuid, replacing any
    // older one only once the new one is written in full and loads back
    // with that UUID. Returns what was kept, savedAt and bytes filled in.
    virtual Result<HeaderBackup> save(const std::string& node, HeaderBackup about) = 0;
    virtual std::vector<HeaderBackup> list() = 0;
    // Writes a fresh backup of @node's header, checked to load back as
    // @luksUuid, to @fd (a file the caller opened); returns its size.
    virtual Result<std::uint64_t> exportTo(const std::string& node, const std::string& luksUuid,
                                           int fd) = 0;
};

// The systemd units that stand for a configured volume being there
// (vault-volume@NAME.service) and whatever depends on them. Told when vaultd
// has opened such a volume, and asked to stop them before it unmounts or
// closes one, so that no service is left holding a filesystem that goes.
class VolumeUnits {
public:
    virtual ~VolumeUnits() = default;
    virtual void opened(const std::string& mappingName) = 0;
    // Returns once the units are stopped (or a bounded time has passed):
    // true when something was running and was stopped, which may have
    // unmounted the filesystem (a mount unit that depends on the volume).
    virtual bool closing(const std::string& mappingName) = 0;
};

struct Ports {
    KernelView& kernel;
    Crypt& crypt;
    Mounter& mounter;
    MountPoints& mountPoints;
    FilesystemTools& tools;
    UnlockRecords& records;
    Processes& processes;
    HeaderStore& headers;
    PassphraseQuality& quality;
    VolumeUnits& units;
    KeyServers& keyServers;
};

}  // namespace vaultd::engine
