#include "output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <ctime>
#include <stdexcept>

namespace vaultctl {
namespace {

constexpr std::string_view emptyField = "-";
constexpr std::string_view columnGap = "  ";

std::string field(std::string_view value)
{
    return value.empty() ? std::string(emptyField) : printable(value);
}

// Terminal columns of UTF-8 text, near enough: one per code point (continuation bytes are free).
std::size_t displayWidth(std::string_view text)
{
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

using Row = std::vector<std::string>;

// EC2's names get their columns only where some volume has one.
Row tableRow(const VolumeProperties& volume, bool ec2)
{
    Row row{field(volume.device)};
    if (ec2) {
        row.push_back(field(volume.ebsVolumeId));
        row.push_back(field(volume.requestedName));
    }
    const std::string state =
        volume.failing.empty() ? field(volume.state) : field(volume.state) + ",failing";
    for (std::string value : {humanSize(volume.size), state, field(volume.mappingName),
                              field(volume.mountPoint), field(volume.label)})
        row.push_back(std::move(value));
    return row;
}

std::string renderRows(const std::vector<Row>& rows)
{
    std::vector<std::size_t> widths(rows.front().size());
    for (const Row& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], displayWidth(row[i]));
    }

    std::string text;
    for (const Row& row : rows) {
        // The last column is not padded, so no line ends in blanks.
        for (std::size_t i = 0; i + 1 < row.size(); ++i) {
            text += row[i];
            text.append(widths[i] - displayWidth(row[i]), ' ');
            text += columnGap;
        }
        text += row.back();
        text += '\n';
    }
    return text;
}

void sortByDevice(std::vector<VolumeProperties>& volumes)
{
    std::sort(volumes.begin(), volumes.end(),
              [](const VolumeProperties& a, const VolumeProperties& b) {
                  return deviceOrder(a.device, b.device);
              });
}

bool isDigit(char c)
{
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Splits off the digit run at the front of @text; leading zeros do not count.
std::string_view takeNumber(std::string_view& text)
{
    std::size_t end = 0;
    while (end < text.size() && isDigit(text[end]))
        ++end;
    std::string_view number = text.substr(0, end);
    text.remove_prefix(end);
    while (number.size() > 1 && number.front() == '0')
        number.remove_prefix(1);
    return number;
}

unsigned byteAt(std::string_view text, std::size_t index)
{
    return static_cast<unsigned char>(text[index]);
}

bool isC0Control(unsigned byte)
{
    return byte < 0x20 || byte == 0x7F;
}

// U+0080..U+009F in UTF-8: a terminal takes U+009B as CSI, the start of an escape sequence.
bool isC1Control(std::string_view text)
{
    return text.size() >= 2 && byteAt(text, 0) == 0xC2 && byteAt(text, 1) >= 0x80 &&
           byteAt(text, 1) <= 0x9F;
}

std::string singleQuoted(std::string_view value)
{
    return value.empty() ? std::string() : fmt::format("'{}'", value);
}

// @lead and @value, or nothing when there is no value to tell.
std::string suffix(std::string_view lead, std::string_view value)
{
    return value.empty() ? std::string() : std::string(lead) + printable(value);
}

}  // namespace

std::string humanSize(std::uint64_t bytes)
{
    constexpr std::array units{'K', 'M', 'G', 'T', 'P', 'E'};
    if (bytes < 1024)
        return fmt::format("{}B", bytes);

    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    // Compare the rounded value, or 1048575 bytes would print as "1024.0K".
    while (unit + 1 < units.size() && std::round(value * 10) / 10 >= 1024) {
        value /= 1024;
        ++unit;
    }
    return fmt::format("{:.1f}{}", value, units[unit]);
}

std::string printable(std::string_view text)
{
    std::string result;
    result.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (isC1Control(text.substr(i))) {
            result += fmt::format("\\x{:02x}\\x{:02x}", byteAt(text, i), byteAt(text, i + 1));
            ++i;
        } else if (isC0Control(byteAt(text, i))) {
            result += fmt::format("\\x{:02x}", byteAt(text, i));
        } else {
            result += text[i];
        }
    }
    return result;
}

bool deviceOrder(std::string_view left, std::string_view right)
{
    while (!left.empty() && !right.empty()) {
        if (isDigit(left.front()) && isDigit(right.front())) {
            std::string_view a = takeNumber(left);
            std::string_view b = takeNumber(right);
            if (a.size() != b.size())
                return a.size() < b.size();
            if (a != b)
                return a < b;
            continue;
        }
        if (left.front() != right.front())
            return left.front() < right.front();
        left.remove_prefix(1);
        right.remove_prefix(1);
    }
    return left.size() < right.size();
}

std::string formatTable(std::vector<VolumeProperties> volumes)
{
    sortByDevice(volumes);

    const bool ec2 = std::any_of(volumes.begin(), volumes.end(), [](const VolumeProperties& v) {
        return !v.ebsVolumeId.empty() || !v.requestedName.empty();
    });
    std::vector<Row> rows;
    if (ec2)
        rows.push_back(
            {"DEVICE", "EBS VOLUME", "AS", "SIZE", "STATE", "MAPPING", "MOUNT POINT", "LABEL"});
    else
        rows.push_back({"DEVICE", "SIZE", "STATE", "MAPPING", "MOUNT POINT", "LABEL"});
    for (const VolumeProperties& volume : volumes)
        rows.push_back(tableRow(volume, ec2));
    return renderRows(rows);
}

// What a HeaderHealth means, and what to do about it.
std::string headerHealthText(const std::string& health)
{
    if (health == "valid")
        return "valid";
    if (health == "primary-damaged")
        return "primary-damaged (the first copy is gone; the second still opens it: take a "
               "header backup now)";
    if (health == "secondary-damaged")
        return "secondary-damaged (the second copy is gone; take a header backup now)";
    if (health == "unreadable")
        return "unreadable (the device is failing)";
    if (health == "overwritten")
        return "overwritten (another signature was written over the LUKS header; a second copy "
               "is intact underneath: do not format, restore the header from a backup)";
    return printable(health);
}

std::string formatStatus(const VolumeProperties& volume, const std::optional<KeyslotList>& keyslots)
{
    std::string text;
    auto line = [&text](std::string_view key, const std::string& value) {
        text += fmt::format("{}: {}\n", key, value);
    };

    line("Device", field(volume.device));
    line("KernelName", field(volume.kernelName));
    line("Size", fmt::format("{} ({} bytes)", humanSize(volume.size), volume.size));
    line("State", field(volume.state));
    if (!volume.failing.empty())
        line("Failing", printable(volume.failing) +
                            " (vaultd writes nothing to it: unmount and lock it, copy what it "
                            "holds to a new volume)");
    line("LuksVersion", std::to_string(volume.luksVersion));
    line("LuksUuid", field(volume.luksUuid));
    if (!volume.headerHealth.empty() && volume.headerHealth != "none")
        line("Header", headerHealthText(volume.headerHealth));
    if (keyslots) {
        for (const KeyslotInfo& k : keyslots->keyslots)
            line(fmt::format("Keyslot {}", k.slot), keyslotSummary(k));
    }
    line("Label", field(volume.label));
    line("MappingName", field(volume.mappingName));
    line("MountPoint", field(volume.mountPoint));
    // Only for a device that a file in volumes.d names, and only after a failed automatic unlock.
    if (!volume.configuration.empty())
        line("Configuration", printable(volume.configuration));
    if (!volume.configurationError.empty())
        line("ConfigurationError", printable(volume.configurationError));
    line("FilesystemType", field(volume.filesystemType));
    line("UnlockedBy", volume.unlockedBy == 4294967295u ? std::string(emptyField)
                                                        : std::to_string(volume.unlockedBy));
    line("EbsVolumeId", field(volume.ebsVolumeId));
    line("RequestedName", field(volume.requestedName));
    line("Serial", field(volume.serial));
    line("Model", field(volume.model));
    line("Ephemeral",
         volume.ephemeral ? "yes (instance store: lost when the instance stops)" : "no");
    if (!volume.duplicates.empty())
        line("Duplicates", printable(fmt::format("{} (the same LUKS UUID: a copy?)",
                                                 fmt::join(volume.duplicates, " "))));
    if (volume.growableBy > 0)
        line("GrowableBy", fmt::format("{} ({} bytes: the device grew; vaultctl grow adds it)",
                                       humanSize(volume.growableBy), volume.growableBy));
    line("Links", volume.links.empty()
                      ? std::string(emptyField)
                      : printable(fmt::format("{}", fmt::join(volume.links, " "))));
    return text;
}

nlohmann::ordered_json volumeToJson(const VolumeProperties& volume)
{
    nlohmann::ordered_json object{
        {"device", volume.device},
        {"kernelName", volume.kernelName},
        {"size", volume.size},
        {"state", volume.state},
        {"luksVersion", volume.luksVersion},
        {"luksUuid", volume.luksUuid},
        {"label", volume.label},
        {"mappingName", volume.mappingName},
        {"mountPoint", volume.mountPoint},
        {"filesystemType", volume.filesystemType},
        {"unlockedBy", volume.unlockedBy},
        {"ebsVolumeId", volume.ebsVolumeId},
        {"requestedName", volume.requestedName},
        {"serial", volume.serial},
        {"model", volume.model},
        {"ephemeral", volume.ephemeral},
        {"links", volume.links},
        {"duplicates", volume.duplicates},
        {"growableBy", volume.growableBy},
        {"headerHealth", volume.headerHealth},
        {"failing", volume.failing},
    };
    return object;
}

nlohmann::ordered_json statusToJson(const VolumeProperties& volume,
                                    const std::optional<KeyslotList>& keyslots)
{
    nlohmann::ordered_json object = volumeToJson(volume);
    object["configuration"] = volume.configuration;
    object["configurationError"] = volume.configurationError;
    if (keyslots)
        object["keyslots"] = keyslotsToJson(*keyslots)["keyslots"];
    return object;
}

nlohmann::ordered_json volumesToJson(std::vector<VolumeProperties> volumes)
{
    sortByDevice(volumes);

    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const VolumeProperties& volume : volumes)
        array.push_back(volumeToJson(volume));
    return array;
}

// "grew /dev/vdb: mapping 1008M -> 2.0G, filesystem 950M -> 1.9G", each
// layer that changed; or that nothing did, with the sizes as they are.
std::string formatGrowth(const std::string& device, const ActionReport& report)
{
    std::vector<std::string> parts;
    for (const auto& l : report.layers) {
        if (report.changed && l.before != l.after)
            parts.push_back(
                fmt::format("{} {} -> {}", l.layer, humanSize(l.before), humanSize(l.after)));
        else if (!report.changed)
            parts.push_back(fmt::format("{} {}", l.layer, humanSize(l.after)));
    }
    if (report.changed)
        return fmt::format("grew {}: {}", device, fmt::join(parts, ", "));
    return fmt::format("no change: {} fills its device already ({})", device,
                       fmt::join(parts, ", "));
}

std::string formatHeaderBackups(const std::vector<HeaderBackupInfo>& backups)
{
    if (backups.empty())
        return "no header backups\n";
    std::vector<Row> rows{{"LUKS UUID", "DEVICE", "EBS VOLUME", "SIZE", "SAVED"}};
    for (const auto& b : backups) {
        char when[32] = "-";
        const std::time_t t = static_cast<std::time_t>(b.savedAt);
        std::tm tm{};
        if (b.savedAt > 0 && gmtime_r(&t, &tm))
            std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        rows.push_back({printable(b.luksUuid), field(b.device), field(b.ebsVolumeId),
                        humanSize(b.bytes), when});
    }
    return renderRows(rows);
}

std::string formatReload(const ConfigurationReload& reload)
{
    std::vector<std::string> names;
    for (const std::string& name : reload.volumes)
        names.push_back(printable(name));
    std::string text = fmt::format(
        "configured volumes: {}\n",
        names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
    for (const std::string& problem : reload.problems)
        text += fmt::format("skipped: {}\n", printable(problem));
    // Not a failure: the files that could be used are in force. But a person should not miss it.
    const std::size_t skipped = reload.problems.size();
    if (skipped == 1)
        text += "1 file skipped, the others are in force; fix it and run vaultctl reload again\n";
    else if (skipped > 1)
        text += fmt::format(
            "{} files skipped, the others are in force; fix them and run vaultctl "
            "reload again\n",
            skipped);
    return text;
}

nlohmann::ordered_json reloadToJson(const ConfigurationReload& reload)
{
    return {{"volumes", reload.volumes}, {"problems", reload.problems}};
}

nlohmann::ordered_json headerBackupsToJson(const std::vector<HeaderBackupInfo>& backups)
{
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const auto& b : backups)
        array.push_back({{"luksUuid", b.luksUuid},
                         {"device", b.device},
                         {"ebsVolumeId", b.ebsVolumeId},
                         {"serial", b.serial},
                         {"savedAt", b.savedAt},
                         {"bytes", b.bytes}});
    return array;
}

std::string kibText(std::uint32_t kib)
{
    if (kib == 0)
        return std::string(emptyField);
    constexpr std::array units{"KiB", "MiB", "GiB"};
    std::size_t unit = 0;
    std::uint64_t divisor = 1;
    while (unit + 1 < units.size() && kib >= divisor * 1024) {
        divisor *= 1024;
        ++unit;
    }
    if (kib % divisor == 0)
        return fmt::format("{} {}", kib / divisor, units[unit]);
    return fmt::format("{:.1f} {}", static_cast<double>(kib) / static_cast<double>(divisor),
                       units[unit]);
}

namespace {

std::string counted(std::uint32_t count, std::string_view one, std::string_view many)
{
    return fmt::format("{} {}", count, count == 1 ? one : many);
}

// pbkdf2 has neither memory nor threads; vaultd sends 0 for both.
bool hasMemoryCost(const KeyslotInfo& k)
{
    return k.pbkdf != "pbkdf2" && k.memoryKib != 0;
}

void append(SecretBuffer& buffer, std::span<const std::byte> bytes)
{
    std::span<std::byte> room = buffer.unused();
    if (bytes.size() > room.size())
        throw std::length_error("the recovery key's text does not fit its buffer");
    std::copy(bytes.begin(), bytes.end(), room.begin());
    buffer.commit(bytes.size());
}

void append(SecretBuffer& buffer, std::string_view text)
{
    append(buffer, std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

std::string keyslotSummary(const KeyslotInfo& k)
{
    std::vector<std::string> parts{field(k.kind), field(k.pbkdf)};
    if (hasMemoryCost(k)) {
        parts.push_back(kibText(k.memoryKib));
        parts.push_back(counted(k.threads, "thread", "threads"));
    }
    parts.push_back(counted(k.iterations, "iteration", "iterations"));
    return fmt::format("{}", fmt::join(parts, ", "));
}

std::string formatKeyslots(const KeyslotList& list)
{
    if (list.keyslots.empty())
        return "no keyslots in use\n";
    std::vector<Row> rows{{"SLOT", "KIND", "PBKDF", "MEMORY", "THREADS", "ITERATIONS"}};
    for (const KeyslotInfo& k : list.keyslots)
        rows.push_back({std::to_string(k.slot), field(k.kind), field(k.pbkdf),
                        hasMemoryCost(k) ? kibText(k.memoryKib) : std::string(emptyField),
                        hasMemoryCost(k) ? std::to_string(k.threads) : std::string(emptyField),
                        std::to_string(k.iterations)});
    return renderRows(rows);
}

nlohmann::ordered_json keyslotToJson(const KeyslotInfo& k)
{
    return {{"slot", k.slot},           {"kind", k.kind},
            {"pbkdf", k.pbkdf},         {"iterations", k.iterations},
            {"memoryKib", k.memoryKib}, {"parallel", k.threads}};
}

nlohmann::ordered_json keyslotsToJson(const KeyslotList& list)
{
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const KeyslotInfo& k : list.keyslots)
        array.push_back(keyslotToJson(k));
    return {{"luksVersion", list.luksVersion}, {"keyslots", array}};
}

SecretBuffer renderRecoveryKey(const std::string& device, std::uint32_t keyslot,
                               std::span<const std::byte> key, bool json)
{
    SecretBuffer text;
    if (json) {
        append(text, fmt::format("{{\n  \"keyslot\": {},\n  \"recoveryKey\": \"", keyslot));
        append(text, key);
        append(text, "\"\n}\n");
        return text;
    }
    append(text, fmt::format("made a recovery key for {}, in keyslot {}:\n\n    ",
                             printable(device), keyslot));
    append(text, key);
    append(text,
           "\n\n"
           "It is shown only this once: store it offline now (on paper, or in a password\n"
           "manager away from this machine). vaultd keeps no copy. It opens the volume\n"
           "wherever a passphrase is asked for, on any instance.\n");
    return text;
}

std::string formatReport(const ActionReport& report)
{
    std::string device = printable(report.device);
    switch (report.verb) {
    case Verb::format:
        return fmt::format("formatted {} as LUKS2 with {}{}", device, report.filesystem,
                           suffix(", label ", singleQuoted(report.label)));
    case Verb::unlock:
        return fmt::format("{} {}{}{}", report.wasUnlocked ? "already unlocked:" : "unlocked",
                           device, suffix(" as ", report.mappingName),
                           suffix(", mounted at ", report.mountPoint));
    case Verb::mount: return fmt::format("mounted {} at {}", device, printable(report.mountPoint));
    case Verb::unmount: return fmt::format("unmounted {}", device);
    case Verb::lock:
        if (report.deferred)
            return fmt::format(
                "locking {} when its last user lets go: its mounts are detached, "
                "and the key stays in the kernel until then",
                device);
        return fmt::format("locked {}", device);
    case Verb::grow: return formatGrowth(device, report);
    case Verb::headerBackup:
        return fmt::format(
            "wrote the header of {} (LUKS UUID {}, {}) to {}; keep it as safe as "
            "the data",
            device, printable(report.luksUuid), humanSize(report.bytes), printable(report.file));
    case Verb::headerRestore: {
        std::string before;
        if (report.previousLuksUuid.empty())
            before = "; the device named no LUKS volume before";
        else if (report.previousLuksUuid != report.luksUuid)
            before = fmt::format("; the device named LUKS UUID {} before",
                                 printable(report.previousLuksUuid));
        return fmt::format("restored the header of {} from {} (UUID {}){}", device,
                           printable(report.file), printable(report.luksUuid), before);
    }
    case Verb::headerRepair:
        return fmt::format("repaired the header of {} (it was {}); a backup was kept first", device,
                           printable(report.headerHealth));
    case Verb::keyslotAdd: return fmt::format("added keyslot {} to {}", report.keyslot, device);
    case Verb::keyslotChange:
        return fmt::format("keyslot {} of {} now holds the new {}", report.keyslot, device,
                           report.keyFile ? "key file" : "passphrase");
    case Verb::keyslotRemove:
        return fmt::format("removed keyslot {} from {}", report.keyslot, device);
    case Verb::bind:
        return fmt::format("bound {} to {} at {}: keyslot {}", device, printable(report.pin),
                           printable(report.url), report.keyslot);
    case Verb::unbind:
        return fmt::format("unbound {}: keyslot {} and its clevis token removed", device,
                           report.keyslot);
    case Verb::tune: {
        std::string kept;
        for (const auto& f : report.flags)
            kept += (kept.empty() ? "" : " ") + printable(f);
        if (kept.empty())
            kept = "no dm-crypt options";
        return fmt::format("the header of {} keeps {}{}", device, kept,
                           report.changed ? "; unlocks from now on use them" : "");
    }
    case Verb::headerList:
    case Verb::keyslotList:
    case Verb::recoveryKey:
    case Verb::reload:
    case Verb::list:
    case Verb::status:
    case Verb::wait:
    case Verb::doctor: break;
    }
    return device;
}

nlohmann::ordered_json reportToJson(const ActionReport& report)
{
    nlohmann::ordered_json object{{"device", report.device}};
    switch (report.verb) {
    case Verb::format:
        object["filesystemType"] = report.filesystem;
        object["label"] = report.label;
        break;
    case Verb::unlock:
        object["mappingName"] = report.mappingName;
        object["mountPoint"] = report.mountPoint;
        object["wasUnlocked"] = report.wasUnlocked;
        break;
    case Verb::mount: object["mountPoint"] = report.mountPoint; break;
    case Verb::unmount:
    case Verb::lock: object["deferred"] = report.deferred; break;
    case Verb::headerBackup:
        object["luksUuid"] = report.luksUuid;
        object["bytes"] = report.bytes;
        object["file"] = report.file;
        break;
    case Verb::headerRestore:
        object["file"] = report.file;
        object["luksUuid"] = report.luksUuid;
        object["previousLuksUuid"] = report.previousLuksUuid;
        break;
    case Verb::headerRepair: object["headerHealthBefore"] = report.headerHealth; break;
    case Verb::keyslotAdd:
    case Verb::keyslotChange:
        object["keyslot"] = report.keyslot;
        object["keyKind"] = report.keyFile ? "keyfile" : "passphrase";
        break;
    case Verb::keyslotRemove:
    case Verb::unbind: object["keyslot"] = report.keyslot; break;
    case Verb::bind:
        object["keyslot"] = report.keyslot;
        object["pin"] = report.pin;
        object["url"] = report.url;
        break;
    case Verb::headerList:
    case Verb::keyslotList:
    case Verb::recoveryKey:
    case Verb::reload: break;
    case Verb::grow: {
        object["changed"] = report.changed;
        nlohmann::ordered_json layers = nlohmann::ordered_json::array();
        for (const auto& l : report.layers)
            layers.push_back({{"layer", l.layer}, {"before", l.before}, {"after", l.after}});
        object["layers"] = layers;
        break;
    }
    case Verb::tune: object["flags"] = report.flags; break;
    case Verb::list:
    case Verb::status:
    case Verb::wait:
    case Verb::doctor: break;
    }
    return object;
}

std::string dumpJson(const nlohmann::ordered_json& value)
{
    return value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

std::string failureJson(const std::string& errorName, const std::string& message, int exitCode)
{
    return dumpJson({{"error", errorName.empty() ? "vaultctl.Error" : errorName},
                     {"message", message},
                     {"exitCode", exitCode}});
}

std::string usageErrorJson(const std::string& error, int exitCode)
{
    constexpr std::string_view prefix = "vaultctl: ";
    return failureJson({}, error.starts_with(prefix) ? error.substr(prefix.size()) : error,
                       exitCode);
}

}  // namespace vaultctl
