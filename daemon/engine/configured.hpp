// Configured volumes: what an administrator wrote in /etc/vaultd/volumes.d
// about a volume vaultd should open by itself. Values and pure rules;
// thread safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/volume.hpp"

namespace vaultd::engine {

// Where the secret that opens a configured volume comes from.
enum class KeySource {
    None,     // unlocked by hand only
    KeyFile,  // a file only root may read, named by the administrator
    Token,    // the volume's LUKS2 tokens (clevis: tang, tpm2, sss)
};

// dm-crypt's activation options, kept for the mapping's life.
struct MappingOptions {
    bool readOnly = false;
    bool discard = false;           // pass discards down (off unless asked)
    bool noReadWorkqueue = false;   // dm-crypt's no_read_workqueue
    bool noWriteWorkqueue = false;  // and no_write_workqueue
};

struct ConfiguredVolume {
    std::string name;    // the file's stem: /etc/vaultd/volumes.d/data.toml is "data"
    std::string origin;  // the file, for messages

    // Identity: every one given must match the device; at least one is given.
    std::string ebsVolumeId;  // canonical vol-0123...
    std::string luksUuid;     // lower case, as libcryptsetup writes it
    std::string label;        // the LUKS label

    KeySource keySource = KeySource::None;
    std::string keyFile;  // for KeyFile: an absolute path

    std::string mappingName;   // defaults to name
    std::string mountPoint;    // empty: not mounted
    std::string mountOptions;  // added to vaultd's own (nodev,nosuid)
    bool hasOwner = false;
    uid_t ownerUid = 0;  // who gets a fresh filesystem's root, and is recorded as unlocking it
    gid_t ownerGid = 0;
    std::string ownerName;
    MappingOptions mapping;
    bool onAttach = true;  // unlock (and mount) as soon as it is attached
};

// What reading the volume files gave: the volumes, and for each file that
// could not be used, "FILE:LINE: reason" (LINE when the parser knows it).
struct ConfiguredVolumes {
    std::vector<ConfiguredVolume> volumes;
    std::vector<std::string> problems;
};

// Whether @v is the volume @c names: every identity @c gives must match
// what the device says about itself now.
bool matches(const ConfiguredVolume& c, const Volume& v);

// Mount options @options with @more after them (either may be empty).
std::string joinMountOptions(std::string_view options, std::string_view more);

// What a configured volume's filesystem is mounted with: vaultd's own
// (@base, mount.options), the file's, and ro for a read-only mapping. The
// daemon mounts with these; the generator's mount units say the same.
std::string configuredMountOptions(std::string_view base, const ConfiguredVolume& c);

}  // namespace vaultd::engine
