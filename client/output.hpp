// Text and JSON renderings of volumes and of what a command did. Pure functions of their
// arguments (no I/O); thread safe.
//
// JSON keys are the D-Bus property names in lowerCamel case (Device -> device, MountPoint ->
// mountPoint), the same keys in list, status and the objects printed on success; sizes are
// numbers of bytes. Text output replaces control characters, since labels and mount points
// are chosen by whoever formatted or mounted the volume and must not drive the terminal.
#pragma once

#include "cli.hpp"
#include "volume_properties.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vaultctl {

// What a mutating command did, for its one line of text or its JSON object.
struct ActionReport {
    Verb verb = Verb::lock;
    std::string device;
    std::string filesystem;         // format
    std::string label;              // format
    std::string mappingName;        // unlock; empty if not known
    std::string mountPoint;         // unlock (empty if not mounted), mount
    bool wasUnlocked = false;       // unlock: it was unlocked already, as mappingName
    bool deferred = false;          // lock --lazy: the mapping waits for its last user
    std::vector<LayerSize> layers;  // grow: device, mapping, filesystem
    bool changed = false;           // grow: any layer grew
    std::string luksUuid;           // header backup
    std::uint64_t bytes = 0;        // header backup
    std::string file;               // header backup
};

// Binary units with one decimal, as lsblk: 512B, 1.0K, 1.5G.
std::string humanSize(std::uint64_t bytes);

// Control characters (C0, DEL and UTF-8 encoded C1) become \xNN.
std::string printable(std::string_view text);

// Orders by device node, with digit runs compared as numbers (nvme2n1 before nvme10n1).
bool deviceOrder(std::string_view left, std::string_view right);

// The list table, header included, sorted by device; each line ends in a newline.
std::string formatTable(std::vector<VolumeProperties> volumes);

// One "Key: value" line per property, keys as the D-Bus property names.
std::string formatStatus(const VolumeProperties& volume);

nlohmann::ordered_json volumeToJson(const VolumeProperties& volume);
// Sorted as formatTable.
nlohmann::ordered_json volumesToJson(std::vector<VolumeProperties> volumes);

// E.g. "unlocked /dev/vdb as storedev, mounted at /secure".
// The header backups vaultd keeps: a table, or "no header backups".
std::string formatHeaderBackups(const std::vector<HeaderBackupInfo>& backups);
nlohmann::ordered_json headerBackupsToJson(const std::vector<HeaderBackupInfo>& backups);

std::string formatReport(const ActionReport& report);
nlohmann::ordered_json reportToJson(const ActionReport& report);

// Indented, with invalid UTF-8 replaced rather than thrown on; ends in a newline.
std::string dumpJson(const nlohmann::ordered_json& value);

}  // namespace vaultctl
