// VolumeProperties: a copy of one volume's org.vaultd.Vault1.Volume properties, as read from
// vaultd at one moment. A plain value; the meaning of each field is documented in
// proto/org.vaultd.Vault1.Volume.xml under the property of the same name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vaultctl {

// One layer of a volume (device, mapping, filesystem) in a Grow reply.
struct LayerSize {
    std::string layer;
    std::uint64_t before = 0;
    std::uint64_t after = 0;
};

// One header backup vaultd keeps (Manager.ListHeaderBackups).
struct HeaderBackupInfo {
    std::string luksUuid;
    std::string device;
    std::string ebsVolumeId;
    std::string serial;
    std::int64_t savedAt = 0;
    std::uint64_t bytes = 0;
};

// One keyslot in use (Volume.ListKeyslots).
struct KeyslotInfo {
    std::uint32_t slot = 0;
    std::string kind;   // passphrase, keyfile, recovery or token:TYPE
    std::string pbkdf;  // argon2id, argon2i or pbkdf2
    std::uint32_t iterations = 0;
    std::uint32_t memoryKib = 0;  // 0 for pbkdf2
    std::uint32_t threads = 0;    // 0 for pbkdf2
};

// A volume's LUKS version and its keyslots in use, by slot number.
struct KeyslotList {
    std::uint32_t luksVersion = 0;
    std::vector<KeyslotInfo> keyslots;
};

struct VolumeProperties {
    std::string device;
    std::string kernelName;
    std::uint64_t size = 0;
    std::string state;
    std::uint32_t luksVersion = 0;
    std::string luksUuid;
    std::string label;
    std::string mappingName;
    std::string mountPoint;
    std::string filesystemType;
    std::uint32_t unlockedBy = 4294967295u;  // nobody known
    std::vector<std::string> links;
    std::string serial;
    std::string model;
    std::string ebsVolumeId;
    std::string requestedName;
    bool ephemeral = false;
    std::vector<std::string> duplicates;  // other devices with the same LUKS UUID
    std::uint64_t growableBy = 0;         // device bytes the open mapping does not cover
    std::string headerHealth;             // valid, primary-damaged, ..., none
    std::string failing;                  // why the device is failing, or empty
    // Empty from a vaultd older than configured volumes, as for none.
    std::string configuration;       // the configured volume this device is, or empty
    std::string configurationError;  // "ErrorName: message" of a failed automatic unlock
};

// What Manager.ReloadConfiguration answers.
struct ConfigurationReload {
    std::vector<std::string> volumes;   // the configured volumes now in force
    std::vector<std::string> problems;  // one "FILE:LINE: reason" per file skipped
};

}  // namespace vaultctl
