// What vaultctl wait decides each time it reads the volumes: whether the device of a configured
// volume is ready, the line or JSON object that says so, and the notes and the timeout message
// that say what it is still waiting for. Pure functions of their arguments (no I/O) and a small
// value class; thread safe.
#pragma once

#include "volume_properties.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vaultctl {

struct WaitTarget {
    std::string name;             // the configured volume, as its Configuration property names it
    bool unlockedEnough = false;  // wait --unlocked
};

struct Readiness {
    bool ready = false;
    // The volume configured as the target furthest along (mounted, then unlocked, then locked,
    // then any other state; the first by device among equals), or none when no attached device
    // is configured as it. Several can be, e.g. a volume and a copy made from its snapshot.
    std::optional<VolumeProperties> volume;
};

Readiness readinessOf(const std::vector<VolumeProperties>& volumes, const WaitTarget& target);

// "data: mounted at /secure/data (/dev/nvme1n1)" or "data: unlocked as /dev/mapper/data
// (/dev/nvme1n1)", after its state, for a ready volume.
std::string formatReady(const WaitTarget& target, const VolumeProperties& volume);
// {"configuration", "state", "device", "mappingName", "mountPoint"}.
nlohmann::ordered_json readyToJson(const WaitTarget& target, const VolumeProperties& volume);

// What the wait saw last, for its timeout message: "no attached device is configured as data",
// or the state of the volume and, when it has one, its ConfigurationError ("locked: ...").
std::string lastSeen(const WaitTarget& target, const Readiness& readiness);

// "data: not mounted after 30 s (locked: ...)"; @vaultdRunning false adds that vaultd is not.
std::string timeoutMessage(const WaitTarget& target, std::uint32_t seconds,
                           const Readiness& readiness, bool vaultdRunning);

// The lines "data: waiting: CAUSE" a wait prints on standard error, each once: the CAUSE is the
// volume's ConfigurationError, or that vaultd is not running, and is printed when it is not
// empty and differs from the one before (an empty one in between counts, so the same failure
// again after a success is printed again).
class WaitNotes {
public:
    explicit WaitNotes(std::string name) : name_(std::move(name)) {}

    // The line to print after a read (none while the cause is the same or there is none).
    std::optional<std::string> update(const Readiness& readiness, bool vaultdRunning);

private:
    std::string name_;
    std::string lastCause_;
};

}  // namespace vaultctl
