// VaultClient is vaultctl's one connection to vaultd on the system bus: it resolves what the
// user typed to a volume object, reads volumes' properties and calls their methods, returning
// plain values. Failures throw sdbus::Error carrying the daemon's error name and message.
// Not thread safe: one caller at a time on one connection.
#pragma once

#include "unique_fd.hpp"
#include "volume_properties.hpp"
#include "volume_watch.hpp"

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/Types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vaultctl {

// The options of Volume.Format; unset fields are not sent.
struct FormatRequest {
    std::string filesystem;
    std::optional<std::string> label;
    std::optional<std::string> force;
    std::optional<std::string> keyKind;  // "passphrase" or "keyfile"
    bool acceptWeak = false;             // sent only when true
    bool keepWorkqueues = false;         // sent only when true
    bool discard = false;                // sent only when true
    bool erase = false;                  // sent only when true
};

// Volume.Tune's changes; unset ones are not sent.
struct TuneRequest {
    std::optional<bool> readWorkqueue;
    std::optional<bool> writeWorkqueue;
    std::optional<bool> discard;
};

// What a new secret is, for Volume.AddKeyslot and Volume.ChangePassphrase.
struct KeyRequest {
    std::string keyKind = "passphrase";  // or "keyfile"
    bool acceptWeak = false;             // sent only when true
};

// What Volume.RestoreHeader answers.
struct RestoreReply {
    std::string backupUuid;
    std::string deviceUuid;  // what the device named before; empty for nothing
};

// The options of Volume.Unlock.
struct UnlockRequest {
    std::string mappingName;
    bool mount = false;
    std::optional<std::string> mountPoint;  // implies mount
    // Open with the key the volume's clevis tokens give; the passphrase is not read. Sent only
    // when true.
    bool token = false;
};

// What Volume.Unlock answers: the mapping's name (the one asked for, or the
// one it had already) and where it is mounted, if it is.
struct UnlockReply {
    std::string mappingName;
    std::string mountPoint;
};

// What Volume.Grow answers: each layer's size before and after, outermost
// first, and whether any grew.
struct GrowReply {
    std::vector<LayerSize> layers;
    bool changed = false;
};

using PropertyMap = std::map<std::string, sdbus::Variant>;

// Properties missing from @properties keep their defaults; unknown ones are ignored, so a newer
// vaultd with more properties still works. A known one with the wrong type throws sdbus::Error.
VolumeProperties volumeFromProperties(const PropertyMap& properties);

// The dictionaries sent as a{sv}, holding only the keys the request sets.
PropertyMap formatOptions(const FormatRequest& request);
PropertyMap unlockOptions(const UnlockRequest& request);
PropertyMap keyOptions(const KeyRequest& request);
// force only when it is set.
PropertyMap restoreOptions(const std::optional<std::string>& force);

// ListKeyslots' reply as plain values, sorted by slot number.
KeyslotList keyslotsFromReply(
    std::uint32_t luksVersion,
    const std::vector<sdbus::Struct<std::uint32_t, std::string, std::string, std::uint32_t,
                                    std::uint32_t, std::uint32_t>>& keyslots);

class VaultClient {
public:
    // Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured).
    static VaultClient connectSystemBus();

    explicit VaultClient(std::unique_ptr<sdbus::IConnection> connection);

    std::vector<VolumeProperties> listVolumes();
    // Subscribes to vaultd's changes to its volumes on this connection; see VolumeWatch. The
    // watch borrows the connection, so it must not outlive this client.
    VolumeWatch watchVolumes() { return VolumeWatch(*connection_); }

    // @spec as the user typed it; returns the volume's object path.
    std::string resolve(const std::string& spec);
    VolumeProperties volume(const std::string& path);

    void format(const std::string& path, UniqueFd passphrase, const FormatRequest& request);
    // Returns where the filesystem was mounted, or empty.
    UnlockReply unlock(const std::string& path, UniqueFd passphrase, const UnlockRequest& request);
    // Empty @mountPoint means vaultd's default; returns where it is mounted.
    std::string mount(const std::string& path, const std::string& mountPoint);
    void unmount(const std::string& path);
    // True when a lazy lock left the mapping for its last user to release.
    bool lock(const std::string& path, bool lazy);
    // The passphrase only when vaultd asked for it (CredentialRequired).
    GrowReply grow(const std::string& path, std::optional<UniqueFd> passphrase);
    // Writes the header to @file; returns the LUKS UUID and the bytes written.
    std::pair<std::string, std::uint64_t> backupHeader(const std::string& path, UniqueFd file);
    std::vector<HeaderBackupInfo> headerBackups();
    // Manager.ReloadConfiguration: the configured volumes now in force, and the files skipped.
    ConfigurationReload reloadConfiguration();
    RestoreReply restoreHeader(const std::string& path, UniqueFd file,
                               const std::optional<std::string>& force);
    // Returns HeaderHealth as it was before the repair.
    std::string repairHeader(const std::string& path);
    // The dm-crypt options the header keeps, after the changes asked for.
    std::vector<std::string> tune(const std::string& path, const TuneRequest& request);

    KeyslotList listKeyslots(const std::string& path);
    // Each returns the keyslot that holds the new secret.
    std::uint32_t addKeyslot(const std::string& path, UniqueFd existing, UniqueFd added,
                             const KeyRequest& request);
    std::uint32_t changePassphrase(const std::string& path, UniqueFd old, UniqueFd replacement,
                                   const KeyRequest& request);
    // @keyOut: the write end of a pipe, which vaultd writes the key to.
    std::uint32_t addRecoveryKey(const std::string& path, UniqueFd existing, UniqueFd keyOut);
    void removeKeyslot(const std::string& path, std::uint32_t keyslot, UniqueFd authorizing);
    // Volume.BindTang; returns the new keyslot, which a clevis token names.
    std::uint32_t bindTang(const std::string& path, UniqueFd existing, const std::string& url,
                           const std::string& thumbprint);

    // From now on, tell vaultd that a person can answer a polkit prompt (a
    // text agent is running for this process).
    void allowInteraction() { interactive_ = true; }

private:
    PropertyMap withInteraction(PropertyMap options) const;

    std::unique_ptr<sdbus::IConnection> connection_;
    bool interactive_ = false;
};

}  // namespace vaultctl
