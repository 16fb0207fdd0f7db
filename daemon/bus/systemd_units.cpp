#include "bus/systemd_units.hpp"

#include <thread>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "engine/unit_names.hpp"
#include "system/log.hpp"

namespace vaultd::bus {

namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitInterface = "org.freedesktop.systemd1.Unit";
constexpr const char* kNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit";
// How often closing() looks whether the stop job is done.
constexpr auto kStopPoll = std::chrono::milliseconds(50);

}  // namespace

SystemdUnits::SystemdUnits(std::chrono::milliseconds stopLimit)
    : stopLimit_(stopLimit), underSystemd_(sd_booted() > 0)
{
}

SystemdUnits::~SystemdUnits() = default;

sdbus::IConnection* SystemdUnits::connection()
{
    if (!underSystemd_)
        return nullptr;
    if (!connection_) {
        try {
            connection_ = sdbus::createSystemBusConnection();
            manager_ = sdbus::createProxy(*connection_, kSystemd, kManagerPath);
        } catch (const sdbus::Error& e) {
            log::warning("cannot reach systemd: " + e.getMessage());
            connection_.reset();
            return nullptr;
        }
    }
    return connection_.get();
}

void SystemdUnits::opened(const std::string& mappingName)
{
    std::lock_guard guard(lock_);
    if (!connection())
        return;
    const std::string unit = engine::volumeUnitName(mappingName);
    try {
        // Queued, not waited for: its ExecStart asks vaultd, which must be
        // free to answer.
        sdbus::ObjectPath job;
        manager_->callMethod("StartUnit")
            .onInterface(kManagerInterface)
            .withArguments(unit, "replace")
            .storeResultsTo(job);
        log::debug("started " + unit, {{log::Field::Mapping, mappingName}});
    } catch (const sdbus::Error& e) {
        // Installed without its units (a build directory): nothing needs it.
        log::warning(fmt::format("cannot start {}: {}", unit, e.getMessage()),
                     {{log::Field::Mapping, mappingName}});
    }
}

std::string SystemdUnits::activeState(const std::string& unit)
{
    sdbus::ObjectPath path;
    try {
        manager_->callMethod("GetUnit")
            .onInterface(kManagerInterface)
            .withArguments(unit)
            .storeResultsTo(path);
    } catch (const sdbus::Error& e) {
        if (e.getName() == kNoSuchUnit)
            return "inactive";  // not loaded: nothing runs
        throw;
    }
    auto proxy = sdbus::createProxy(*connection_, kSystemd, path);
    return proxy->getProperty("ActiveState").onInterface(kUnitInterface).get<std::string>();
}

bool SystemdUnits::closing(const std::string& mappingName)
{
    std::lock_guard guard(lock_);
    if (!connection())
        return false;
    const std::string unit = engine::volumeUnitName(mappingName);
    try {
        const std::string state = activeState(unit);
        if (state == "inactive" || state == "failed")
            return false;
        sdbus::ObjectPath job;
        manager_->callMethod("StopUnit")
            .onInterface(kManagerInterface)
            .withArguments(unit, "replace")
            .storeResultsTo(job);
        // systemd stops what requires the unit first; the unit itself is
        // inactive once all of that is done.
        const auto deadline = std::chrono::steady_clock::now() + stopLimit_;
        for (;;) {
            const std::string now = activeState(unit);
            if (now == "inactive" || now == "failed")
                break;
            if (std::chrono::steady_clock::now() >= deadline) {
                log::warning(
                    fmt::format(
                        "{} did not stop within {} s; going on", unit,
                        std::chrono::duration_cast<std::chrono::seconds>(stopLimit_).count()),
                    {{log::Field::Mapping, mappingName}});
                break;
            }
            std::this_thread::sleep_for(kStopPoll);
        }
        log::info("stopped " + unit + " and what depends on it",
                  {{log::Field::Mapping, mappingName}});
        return true;
    } catch (const sdbus::Error& e) {
        log::warning(fmt::format("cannot stop {}: {}", unit, e.getMessage()),
                     {{log::Field::Mapping, mappingName}});
        return false;
    }
}

}  // namespace vaultd::bus
