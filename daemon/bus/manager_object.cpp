#include "bus/manager_object.hpp"

#include <fmt/format.h>

#include "bus/authorizer.hpp"
#include "bus/bus_error.hpp"
#include "bus/options.hpp"
#include "bus/volume_service.hpp"
#include "engine/keys.hpp"
#include "system/log.hpp"
#include "vaultd_config.h"

namespace vaultd::bus {

ManagerObject::ManagerObject(sdbus::IConnection& connection, VolumeService& service)
    : AdaptorInterfaces(connection, kRootPath), service_(service)
{
    registerAdaptor();
}

ManagerObject::~ManagerObject()
{
    unregisterAdaptor();
}

void ManagerObject::announceLost(const engine::LostMapping& lost)
{
    emitVolumeLost(lost.device, lost.mappingName, lost.luksUuid, lost.mountPoints, lost.deferred);
}

void ManagerObject::announceConfigured(const std::string& path, const engine::ConfiguredVolume& c,
                                       const engine::UnlockResult& r)
{
    emitConfiguredVolumeUnlocked(sdbus::ObjectPath(path), c.name, r.mappingName, r.mountPoint);
}

void ManagerObject::announceConfiguredFailed(const std::string& path,
                                             const engine::ConfiguredVolume& c,
                                             const engine::Error& e)
{
    emitConfiguredVolumeFailed(sdbus::ObjectPath(path), c.name,
                               std::string(engine::errorName(e.code)), e.message);
}

void ManagerObject::ReloadConfiguration(
    sdbus::Result<std::vector<std::string>, std::vector<std::string>>&& result,
    std::map<std::string, sdbus::Variant> options)
{
    auto refuse = [&result](const engine::Error& e) { result.returnError(toBusError(e)); };
    auto caller = callerOf(getObject().getCurrentlyProcessedMessage());
    if (!caller)
        return refuse(caller.error());
    if (auto st = expectNoOptions(options); !st)
        return refuse(st.error());
    auto interactive = interactiveOf(options);
    if (!interactive)
        return refuse(interactive.error());
    AuthRequest auth{caller.value(),
                     "org.vaultd.configure",
                     {{"uid", std::to_string(caller.value().uid)}},
                     interactive.value()};
    auto pending = std::make_shared<std::remove_reference_t<decltype(result)>>(std::move(result));
    service_.authorizer().check(auth, [this, pending](engine::Status st) {
        if (!st) {
            pending->returnError(toBusError(st.error()));
            return;
        }
        service_.reloadConfiguration([pending](const engine::ConfiguredVolumes& read) {
            std::vector<std::string> names;
            for (const auto& c : read.volumes)
                names.push_back(c.name);
            try {
                pending->returnResults(names, read.problems);
            } catch (const sdbus::Error& e) {
                log::error("cannot send the reply to ReloadConfiguration: " + e.getMessage());
            }
        });
    });
}

std::string ManagerObject::Version()
{
    return VAULTD_VERSION;
}

uint64_t ManagerObject::KeyDerivationMemory()
{
    const engine::EngineConfig& config = service_.config();
    return engine::unlockMemoryNeed(engine::cappedFor(config.pbkdf, config.smallestInstanceMemory));
}

sdbus::ObjectPath ManagerObject::Resolve(const std::string& spec)
{
    auto path = service_.resolve(spec);
    if (!path)
        throw toBusError(path.error());
    return sdbus::ObjectPath(path.value());
}

std::vector<sdbus::Struct<std::string, std::string, std::string, std::string, int64_t, uint64_t>>
ManagerObject::ListHeaderBackups()
{
    std::vector<
        sdbus::Struct<std::string, std::string, std::string, std::string, int64_t, uint64_t>>
        out;
    for (const auto& b : service_.headerBackups())
        out.emplace_back(b.luksUuid, b.device, b.ebsVolumeId, b.serial, b.savedAt, b.bytes);
    return out;
}

}  // namespace vaultd::bus
