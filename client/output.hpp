// Text and JSON renderings of volumes and of what a command did. Pure functions of their
// arguments (no I/O); thread safe.
//
// JSON keys are the D-Bus property names in lowerCamel case (Device -> device, MountPoint ->
// mountPoint), the same keys in list, status and the objects printed on success (status adds
// configuration, configurationError and keyslots); sizes are numbers of bytes. A reload:
// {"volumes": [NAME...], "problems": ["FILE:LINE: reason"...]}. Keyslots: {"luksVersion": 2,
// "keyslots": [{"slot", "kind", "pbkdf", "iterations", "memoryKib", "parallel"}]}; a recovery key:
// {"keyslot", "recoveryKey"}; a bind: {"device", "keyslot", "pin", "url"}. Text output replaces
// control characters, since labels and mount points are chosen by whoever formatted or mounted the
// volume and must not drive the terminal.
#pragma once

#include "cli.hpp"
#include "secret_buffer.hpp"
#include "volume_properties.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vaultctl {

// What a mutating command did, for its one line of text or its JSON object.
struct ActionReport {
    Verb verb = Verb::lock;
    std::string device;
    std::string filesystem;          // format
    std::string label;               // format
    std::string mappingName;         // unlock; empty if not known
    std::string mountPoint;          // unlock (empty if not mounted), mount
    bool wasUnlocked = false;        // unlock: it was unlocked already, as mappingName
    bool deferred = false;           // lock --lazy: the mapping waits for its last user
    std::vector<LayerSize> layers;   // grow: device, mapping, filesystem
    bool changed = false;            // grow: any layer grew
    std::string luksUuid;            // header backup; header restore: the backup's
    std::uint64_t bytes = 0;         // header backup
    std::string file;                // header backup, header restore
    std::string previousLuksUuid;    // header restore: what the device named before, or empty
    std::string headerHealth;        // header repair: before the repair
    std::uint32_t keyslot = 0;       // keyslot add, change, remove; bind, unbind
    bool keyFile = false;            // keyslot add, change: the new secret is a key file
    std::string pin;                 // bind: the clevis pin, tang
    std::string url;                 // bind: the key server
    std::vector<std::string> flags;  // tune: the dm-crypt options the header keeps
};

// Binary units with one decimal, as lsblk: 512B, 1.0K, 1.5G.
std::string humanSize(std::uint64_t bytes);

// Control characters (C0, DEL and UTF-8 encoded C1) become \xNN.
std::string printable(std::string_view text);

// Orders by device node, with digit runs compared as numbers (nvme2n1 before nvme10n1).
bool deviceOrder(std::string_view left, std::string_view right);

// The list table, header included, sorted by device; each line ends in a newline.
std::string formatTable(std::vector<VolumeProperties> volumes);

// One "Key: value" line per property, keys as the D-Bus property names, and with @keyslots one
// "Keyslot N: ..." line per keyslot. Configuration and ConfigurationError only when not empty.
std::string formatStatus(const VolumeProperties& volume,
                         const std::optional<KeyslotList>& keyslots = std::nullopt);

// One volume as list --json shows it.
nlohmann::ordered_json volumeToJson(const VolumeProperties& volume);
// What status --json shows: volumeToJson's keys, then configuration and configurationError
// (always, "" for none), and with @keyslots a "keyslots" array as in keyslotsToJson.
nlohmann::ordered_json statusToJson(const VolumeProperties& volume,
                                    const std::optional<KeyslotList>& keyslots = std::nullopt);
// Sorted as formatTable.
nlohmann::ordered_json volumesToJson(std::vector<VolumeProperties> volumes);

// "configured volumes: cfg, data" (or "none"), then a "skipped: FILE:LINE: reason" line per
// file vaultd could not use and, when there are any, a line saying the others are in force.
std::string formatReload(const ConfigurationReload& reload);
nlohmann::ordered_json reloadToJson(const ConfigurationReload& reload);

// E.g. "unlocked /dev/vdb as storedev, mounted at /secure".
// The header backups vaultd keeps: a table, or "no header backups".
std::string formatHeaderBackups(const std::vector<HeaderBackupInfo>& backups);
nlohmann::ordered_json headerBackupsToJson(const std::vector<HeaderBackupInfo>& backups);

// A KDF's memory in KiB as a person reads it: "128 MiB", "1.5 GiB", "900 KiB"; "-" for 0.
std::string kibText(std::uint32_t kib);

// "passphrase, argon2id, 128 MiB, 2 threads, 4 iterations"; for pbkdf2 no memory or threads.
std::string keyslotSummary(const KeyslotInfo& keyslot);

// The keyslot list table (SLOT KIND PBKDF MEMORY THREADS ITERATIONS), or "no keyslots in use".
std::string formatKeyslots(const KeyslotList& list);
nlohmann::ordered_json keyslotsToJson(const KeyslotList& list);
nlohmann::ordered_json keyslotToJson(const KeyslotInfo& keyslot);

// What recovery-key prints: the key once, set apart, with which keyslot holds it and that it
// is not shown again; or the JSON object {"keyslot": N, "recoveryKey": "..."}. Into a wiped
// buffer, since it holds the key. @key has no newline and only the characters [0-9a-z-]
// (the caller checks), so it needs no escaping.
SecretBuffer renderRecoveryKey(const std::string& device, std::uint32_t keyslot,
                               std::span<const std::byte> key, bool json);

std::string formatReport(const ActionReport& report);
nlohmann::ordered_json reportToJson(const ActionReport& report);

// Indented, with invalid UTF-8 replaced rather than thrown on; ends in a newline.
std::string dumpJson(const nlohmann::ordered_json& value);

// A failure as --json prints it, on standard error: {"error", "message", "exitCode"}, the error
// being the D-Bus error's name, or "vaultctl.Error" when @errorName is empty (vaultctl's own).
std::string failureJson(const std::string& errorName, const std::string& message, int exitCode);
// A usage error ("vaultctl: ...") as such a failure.
std::string usageErrorJson(const std::string& error, int exitCode);

}  // namespace vaultctl
