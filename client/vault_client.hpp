// VaultClient is vaultctl's one connection to vaultd on the system bus: it resolves what the
// user typed to a volume object, reads volumes' properties and calls their methods, returning
// plain values. Failures throw sdbus::Error carrying the daemon's error name and message.
// Not thread safe: one caller at a time on one connection.
#pragma once

#include "unique_fd.hpp"
#include "volume_properties.hpp"

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
};

// The options of Volume.Unlock.
struct UnlockRequest {
    std::string mappingName;
    bool mount = false;
    std::optional<std::string> mountPoint;  // implies mount
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

class VaultClient {
public:
    // Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured).
    static VaultClient connectSystemBus();

    explicit VaultClient(std::unique_ptr<sdbus::IConnection> connection);

    std::vector<VolumeProperties> listVolumes();

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

    // From now on, tell vaultd that a person can answer a polkit prompt (a
    // text agent is running for this process).
    void allowInteraction() { interactive_ = true; }

private:
    PropertyMap withInteraction(PropertyMap options) const;

    std::unique_ptr<sdbus::IConnection> connection_;
    bool interactive_ = false;
};

}  // namespace vaultctl
