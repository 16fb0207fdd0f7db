// In-memory stand-ins for the engine's ports, coherent with each other: a
// mapping FakeCrypt opens appears in FakeKernel's topology, a filesystem
// FakeTools makes is what FakeKernel probes inside it, a FakeMounter mount
// shows in the mount table. Every call that would touch the system is
// appended to one shared log, so a test can assert exactly what happened and
// in which order. Not thread safe; one FakeSystem per test.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/operations.hpp"
#include "engine/ports.hpp"

namespace vaultd::testing {

using CallLog = std::vector<std::string>;

// The index of the first log entry that starts with @prefix, or -1.
inline int logIndex(const CallLog& log, const std::string& prefix)
{
    for (std::size_t i = 0; i < log.size(); ++i)
        if (log[i].starts_with(prefix))
            return static_cast<int>(i);
    return -1;
}

inline bool logHas(const CallLog& log, const std::string& prefix)
{
    return logIndex(log, prefix) >= 0;
}

inline constexpr std::uint64_t kMiB = 1ull << 20;
inline constexpr std::uint64_t kGiB = 1ull << 30;

// Builders for topologies as sysfs and mountinfo would show them.
engine::BlockNode& addDisk(engine::Topology& t, const std::string& name, const std::string& devnum,
                           std::uint64_t size);
engine::BlockNode& addPartition(engine::Topology& t, const std::string& name,
                                const std::string& disk, const std::string& devnum,
                                std::uint64_t size);
engine::BlockNode& addDmDevice(engine::Topology& t, const std::string& name,
                               const std::string& devnum, const std::string& dmName,
                               const std::string& dmUuid, std::vector<std::string> slaves);
// A dm-crypt mapping of @slave as cryptsetup names it: CRYPT-LUKS2-<hex>-<name>.
engine::BlockNode& addLuksMapping(engine::Topology& t, const std::string& name,
                                  const std::string& devnum, const std::string& mappingName,
                                  const std::string& slave);
// @source is the device path mountinfo names; btrfs gives an anonymous devnum
// (0:N), so there the source is all that ties the mount to its device.
void addMount(engine::Topology& t, const std::string& devnum, const std::string& target,
              const std::string& fstype, const std::string& source = "");

engine::Signature luksSignature(const std::string& uuid, const std::string& label = "");
engine::Signature filesystemSignature(const std::string& type, const std::string& label = "");

engine::SecretBuffer secret(std::string_view text);

class FakeKernel final : public engine::KernelView {
public:
    explicit FakeKernel(CallLog& log) : log_(log) {}

    engine::Topology topology;
    std::map<std::string, engine::Signature> signatures;  // by node: /dev/vdb, /dev/mapper/x
    std::set<std::string> heldOpen;                       // nodes an exclusive open fails on
    std::set<std::string> failing;                        // nodes whose reads fail (EIO)
    std::vector<std::string> wipes;
    std::map<std::string, std::vector<std::string>> extraLinks;      // by kernel name
    std::map<std::string, std::vector<std::uint8_t>> identifyPages;  // by node
    std::vector<std::string> identifyAsked;                          // nodes, in order

    // What udev's database says of each device, by kernel name; a device
    // not here is one udev has not processed yet.
    std::map<std::string, engine::Signature> udevRecords;
    std::vector<std::string> probed;       // nodes probe() read, in order
    std::vector<std::string> headersRead;  // nodes luksHeaders() read, in order
    // Called first by probe(), on the caller's thread: a test of two
    // threads can hold a probe here.
    std::function<void(const std::string& node)> onProbe;

    engine::Topology readTopology() override { return topology; }
    engine::DiskHealth diskHealth(const std::string& kernelName) override;
    engine::Result<engine::Signature> probe(const std::string& node) override;
    std::optional<UdevRecord> udevRecord(const std::string& kernelName) override;
    std::vector<std::string> links(const std::string& kernelName) override;
    std::vector<std::uint8_t> nvmeIdentify(const std::string& node) override;
    // The node's devnum from the topology (what sysfs says), unless the
    // test says it leads elsewhere now.
    std::map<std::string, DeviceIdentity> replacedBy;  // by node
    engine::Result<DeviceIdentity> identityOf(const std::string& node) override;
    bool canOpenExclusively(const std::string& node) override;
    engine::Status wipeSignatures(const std::string& node) override;
    // A LUKS signature has both copies of its header, unless set here.
    std::map<std::string, engine::HeaderCopies> headerCopies;  // by node
    engine::HeaderCopies luksHeaders(const std::string& node) override;
    // What each filesystem's superblock spans, by node; mounted, df shows
    // 5 % less (the filesystem's own overhead).
    std::map<std::string, std::uint64_t> filesystemSizes;
    engine::Result<std::uint64_t> filesystemSize(engine::Filesystem fs, const std::string& node,
                                                 const std::string& mountPoint) override;
    std::uint64_t memory = 8ull << 30;
    std::uint64_t memoryAvailable() override { return memory; }

    // The kernel name of the dm device carrying mapping @name, or empty.
    std::string dmNodeOf(const std::string& mappingName) const;

private:
    CallLog& log_;
};

// Knows one right passphrase; a LUKS container "holds" whatever signature
// was inside its mapping when it was last closed.
class FakeCrypt final : public engine::Crypt {
public:
    FakeCrypt(FakeKernel& kernel, CallLog& log) : kernel_(kernel), log_(log) {}

    struct FormatCall {
        std::string node;
        engine::LuksParams params;
        std::string passphrase;
        std::string activateAs;
    };

    std::string rightPassphrase = "correct horse";
    std::set<std::string> foreignMappings;              // names other devices' mappings hold
    std::map<std::string, engine::Signature> contents;  // inside each container, by node
    std::vector<FormatCall> formats;
    std::vector<std::string> activations;    // "NODE NAME" for every successful open
    std::vector<std::string> deactivations;  // "NAME", "NAME deferred" or "NAME force"
    std::set<std::string> held;              // mappings a process holds open
    std::set<std::string> keysDropped;       // forced: the table is an error target
    std::set<std::string> keptKeys;          // mappings whose volume key vaultd holds
    std::vector<std::string> resizes;        // "NAME" or "NAME with passphrase"
    // When set, activate() with a mapping name fails with it (Failed) once
    // the secret matched, as a device-mapper error would.
    std::string activateFailure;
    // Called first by deactivate(), on the caller's thread.
    std::function<void(const std::string& name)> onDeactivate;

    engine::Status format(const std::string& node, const engine::LuksParams& params,
                          const engine::SecretBuffer& passphrase,
                          const std::string& activateAs) override;
    // A LUKS node's keyslots; one without an entry has slot 0, a passphrase
    // of 128 MiB argon2id cost that rightPassphrase opens.
    struct Slot {
        int slot = 0;
        std::string secret;
        engine::KeyKind kind = engine::KeyKind::Passphrase;
        std::string pbkdf = "argon2id";
        std::uint32_t memoryKib = 131072;
        bool ignored = false;
    };
    std::map<std::string, std::vector<Slot>> keyslots;  // by node
    int maxKeyslots = 32;
    std::vector<std::string> derivations;  // "NODE SLOT" for each secret tried on a slot
    std::vector<Slot>& slotsOf(const std::string& node);

    engine::Result<int> activate(const std::string& node, const std::string& name,
                                 const engine::SecretBuffer& passphrase, int keyslot,
                                 const engine::MappingOptions& options = {}) override;
    std::vector<engine::MappingOptions> activationOptions;  // of every successful open
    engine::Status deactivate(const std::string& name, Deactivate how) override;
    bool mappingExists(const std::string& name) override;
    engine::Result<Mapping> mapping(const std::string& name) override;
    engine::Status resize(const std::string& name, const engine::SecretBuffer* passphrase) override;
    // A header "file" holds the UUID of the container it was taken from.
    std::map<std::string, std::string> headerFiles;
    engine::Status backupHeader(const std::string& node, const std::string& file) override;
    engine::Result<engine::HeaderInfo> header(const std::string& fileOrNode) override;
    engine::Status restoreHeader(const std::string& node, const std::string& file) override;
    engine::Status repairHeader(const std::string& node) override;
    // Erases "write" eraseBlocks blocks of 1 MiB, telling the progress
    // after each and stopping when it asks; erased lists each node erased.
    std::uint64_t eraseBlocks = 16;
    std::vector<std::string> erased;
    engine::Status erase(const std::string& node, engine::Progress& progress) override;
    std::map<std::string, engine::HeaderFlags> headerFlags;  // by node, once stored
    engine::Status setHeaderFlags(const std::string& node,
                                  const engine::HeaderFlags& flags) override;
    engine::Result<int> addKeyslot(const std::string& node, const engine::SecretBuffer& existing,
                                   int existingSlot, const engine::SecretBuffer& added,
                                   const engine::PbkdfSettings& pbkdf,
                                   engine::KeyKind kind) override;
    engine::Result<int> changeKey(const std::string& node, const engine::SecretBuffer& old,
                                  int oldSlot, const engine::SecretBuffer& replacement,
                                  const engine::PbkdfSettings& pbkdf) override;
    engine::Status removeKeyslot(const std::string& node, int keyslot) override;
    std::vector<engine::PbkdfSettings> pbkdfsUsed;  // of every keyslot added
    // Tokens by node; a bound keyslot's token gets its slot number.
    std::map<std::string, std::vector<engine::TokenRecord>> tokensOf;
    engine::Result<std::vector<engine::TokenRecord>> tokens(const std::string& node) override;
    engine::Result<int> addBoundKeyslot(const std::string& node,
                                        const engine::SecretBuffer& existing, int existingSlot,
                                        const engine::SecretBuffer& added,
                                        const engine::PbkdfSettings& pbkdf,
                                        const std::string& tokenJson) override;

private:
    // The slot of @node that @secret opens (only @keyslot, unless any).
    engine::Result<int> match(const std::string& node, const engine::SecretBuffer& secret,
                              int keyslot);
    int freeSlot(const std::string& node);
    void open(const std::string& node, const std::string& name);

    FakeKernel& kernel_;
    CallLog& log_;
    int nextMinor_ = 0;
};

// Mounts show in the mount table as the kernel lists them: by the mapping's
// devnum, except btrfs, which gets an anonymous devnum and only the source.
class FakeMounter final : public engine::Mounter {
public:
    FakeMounter(FakeKernel& kernel, CallLog& log) : kernel_(kernel), log_(log) {}

    struct MountCall {
        std::string source;
        std::string target;
        std::string fstype;
        std::string options;
    };

    std::vector<MountCall> mounts;
    std::vector<std::string> unmounts;
    std::string failure;                // when set, mount() records the call and fails with it
    std::set<std::string> busyTargets;  // a plain unmount of these fails with Busy

    engine::Status mount(const std::string& source, const std::string& target,
                         const std::string& fstype, const std::string& options) override;
    engine::Status unmount(const std::string& target, bool lazy) override;

private:
    FakeKernel& kernel_;
    CallLog& log_;
    int nextAnonymous_ = 40;
};

class FakeProcesses final : public engine::Processes {
public:
    std::map<std::string, std::vector<engine::DeviceUser>> byDevnum;
    std::vector<std::vector<std::string>> asked;

    std::vector<engine::DeviceUser> usersOf(const std::vector<std::string>& devnums) override
    {
        asked.push_back(devnums);
        std::vector<engine::DeviceUser> users;
        for (const auto& d : devnums) {
            auto it = byDevnum.find(d);
            if (it != byDevnum.end())
                users.insert(users.end(), it->second.begin(), it->second.end());
        }
        return users;
    }
};

class FakeMountPoints final : public engine::MountPoints {
public:
    explicit FakeMountPoints(CallLog& log) : log_(log) {}

    std::set<std::string> directories;  // the empty directories that exist
    std::vector<std::string> removed;

    std::map<std::string, uid_t> owners;  // who adopt() gave each directory to

    engine::Result<engine::Changed> prepare(const std::string& path) override;
    engine::Result<engine::Changed> preparePrivate(const std::string& path) override;
    void remove(const std::string& path) override;
    engine::Result<engine::Changed> adopt(const std::string& path, uid_t uid, gid_t gid) override;

private:
    CallLog& log_;
};

class FakeHeaderStore final : public engine::HeaderStore {
public:
    explicit FakeHeaderStore(CallLog& log) : log_(log) {}

    std::map<std::string, engine::HeaderBackup> kept;  // by LUKS UUID
    std::string failure;                               // when set, save() fails with it

    engine::Result<engine::HeaderBackup> save(const std::string& node,
                                              engine::HeaderBackup about) override;
    std::vector<engine::HeaderBackup> list() override;
    // Writes "header UUID" to @fd.
    engine::Result<std::uint64_t> exportTo(const std::string& node, const std::string& luksUuid,
                                           int fd) override;

private:
    CallLog& log_;
};

// Weak: the passphrases listed.
class FakeQuality final : public engine::PassphraseQuality {
public:
    std::set<std::string> weak = {"password1"};
    std::vector<std::string> checked;
    engine::Status check(const engine::SecretBuffer& passphrase) override;
};

// A tang server: bindTang wraps a key as the token JSON "wrapped:KEY"
// (for a url it knows), unwrap gives the key back while the server is up.
class FakeKeyServers final : public engine::KeyServers {
public:
    explicit FakeKeyServers(CallLog& log) : log_(log) {}
    bool up = true;
    std::vector<std::string> asked;  // the tokens unwrap was given

    engine::Result<std::string> bindTang(const std::string& url, const std::string& thumbprint,
                                         const engine::SecretBuffer& key) override;
    engine::Status unwrap(const std::string& tokenJson, engine::SecretBuffer& key) override;

private:
    CallLog& log_;
};

// vault-volume@NAME units: running once opened, until closing stops them;
// onClose stands for what stopping does (a mount unit unmounting, say).
class FakeUnits final : public engine::VolumeUnits {
public:
    explicit FakeUnits(CallLog& log) : log_(log) {}
    std::set<std::string> running;
    std::function<void(const std::string&)> onClose;

    void opened(const std::string& mappingName) override
    {
        log_.push_back("start vault-volume@" + mappingName);
        running.insert(mappingName);
    }
    bool closing(const std::string& mappingName) override
    {
        if (running.erase(mappingName) == 0)
            return false;
        log_.push_back("stop vault-volume@" + mappingName);
        if (onClose)
            onClose(mappingName);
        return true;
    }

private:
    CallLog& log_;
};

class FakeUnlockRecords final : public engine::UnlockRecords {
public:
    std::map<std::string, std::pair<std::string, uid_t>> byMapping;  // to LUKS UUID and uid

    void record(const std::string& mappingName, const std::string& luksUuid, uid_t uid) override
    {
        byMapping[mappingName] = {luksUuid, uid};
    }
    std::optional<uid_t> find(const std::string& mappingName, const std::string& luksUuid) override;
    void forget(const std::string& mappingName) override { byMapping.erase(mappingName); }
};

class FakeTools final : public engine::FilesystemTools {
public:
    FakeTools(FakeKernel& kernel, CallLog& log) : kernel_(kernel), log_(log) {}

    struct MakeCall {
        engine::Filesystem fs;
        std::string node;
        std::string label;
    };

    std::vector<MakeCall> made;
    std::string failure;      // when set, make() records the call and fails with it
    std::string growFailure;  // the same for grow()
    bool growStuck = false;   // grow() succeeds and changes nothing

    engine::Status make(engine::Filesystem fs, const std::string& node,
                        const std::string& label) override;
    // Grows the filesystem to its mapping's size, as the tools do.
    engine::Status grow(engine::Filesystem fs, const std::string& node,
                        const std::string& mountPoint) override;

private:
    FakeKernel& kernel_;
    CallLog& log_;
};

// All the fakes wired together, and an Operations over them.
struct FakeSystem {
    CallLog log;
    FakeKernel kernel{log};
    FakeCrypt crypt{kernel, log};
    FakeMounter mounter{kernel, log};
    FakeMountPoints mountPoints{log};
    FakeTools tools{kernel, log};
    FakeUnlockRecords records;
    FakeProcesses processes;
    FakeHeaderStore headers{log};
    FakeQuality quality;
    FakeUnits units{log};
    FakeKeyServers keyServers{log};

    engine::Ports ports()
    {
        return {kernel,    crypt,   mounter, mountPoints, tools,     records,
                processes, headers, quality, units,       keyServers};
    }

    // A free disk /dev/<name> (devnum 252:<n>) holding @outer.
    void attach(const std::string& name, std::uint64_t size, engine::Signature outer = {});
    // A LUKS volume whose container holds @inner; locked.
    void attachLuks(const std::string& name, std::uint64_t size, const std::string& uuid,
                    engine::Signature inner = filesystemSignature("ext4"));

    // True when no header, signature wipe or filesystem was written.
    bool nothingWritten() const;

private:
    int nextMinor_ = 0;
};

}  // namespace vaultd::testing
