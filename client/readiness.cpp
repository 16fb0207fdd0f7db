#include "readiness.hpp"

#include "output.hpp"

#include <fmt/format.h>

namespace vaultctl {
namespace {

// How far along the way to mounted a volume is; the states of proto/org.vaultd.Vault1.Volume.xml.
int progress(const std::string& state)
{
    if (state == "mounted")
        return 3;
    if (state == "unlocked")
        return 2;
    if (state == "locked")
        return 1;
    return 0;
}

int progressNeeded(const WaitTarget& target)
{
    return target.unlockedEnough ? progress("unlocked") : progress("mounted");
}

bool isFurther(const VolumeProperties& candidate, const VolumeProperties& best)
{
    int a = progress(candidate.state);
    int b = progress(best.state);
    return a != b ? a > b : deviceOrder(candidate.device, best.device);
}

std::string deviceSuffix(const VolumeProperties& volume)
{
    return volume.device.empty() ? std::string() : fmt::format(" ({})", printable(volume.device));
}

}  // namespace

Readiness readinessOf(const std::vector<VolumeProperties>& volumes, const WaitTarget& target)
{
    Readiness readiness;
    for (const VolumeProperties& volume : volumes) {
        if (volume.configuration != target.name)
            continue;
        if (!readiness.volume || isFurther(volume, *readiness.volume))
            readiness.volume = volume;
    }
    readiness.ready =
        readiness.volume && progress(readiness.volume->state) >= progressNeeded(target);
    return readiness;
}

std::string formatReady(const WaitTarget& target, const VolumeProperties& volume)
{
    std::string name = printable(target.name);
    if (volume.state == "mounted")
        return fmt::format("{}: mounted at {}{}", name, printable(volume.mountPoint),
                           deviceSuffix(volume));
    std::string mapping = volume.mappingName.empty()
                              ? std::string()
                              : " as /dev/mapper/" + printable(volume.mappingName);
    return fmt::format("{}: {}{}{}", name, printable(volume.state), mapping, deviceSuffix(volume));
}

nlohmann::ordered_json readyToJson(const WaitTarget& target, const VolumeProperties& volume)
{
    return {{"configuration", target.name},
            {"state", volume.state},
            {"device", volume.device},
            {"mappingName", volume.mappingName},
            {"mountPoint", volume.mountPoint}};
}

std::string lastSeen(const WaitTarget& target, const Readiness& readiness)
{
    if (!readiness.volume)
        return fmt::format("no attached device is configured as {}", printable(target.name));
    const VolumeProperties& volume = *readiness.volume;
    std::string state = volume.state.empty() ? "in no known state" : printable(volume.state);
    if (volume.configurationError.empty())
        return state;
    return fmt::format("{}: {}", state, printable(volume.configurationError));
}

std::string timeoutMessage(const WaitTarget& target, std::uint32_t seconds,
                           const Readiness& readiness, bool vaultdRunning)
{
    return fmt::format("{}: not {} after {} s ({}{})", printable(target.name),
                       target.unlockedEnough ? "unlocked" : "mounted", seconds,
                       lastSeen(target, readiness), vaultdRunning ? "" : "; vaultd is not running");
}

std::optional<std::string> WaitNotes::update(const Readiness& readiness, bool vaultdRunning)
{
    std::string cause;
    if (!vaultdRunning)
        cause = "vaultd is not running";
    else if (readiness.volume)
        cause = readiness.volume->configurationError;

    bool changed = cause != lastCause_;
    lastCause_ = cause;
    if (!changed || cause.empty())
        return std::nullopt;
    return fmt::format("{}: waiting: {}", printable(name_), printable(cause));
}

}  // namespace vaultctl
