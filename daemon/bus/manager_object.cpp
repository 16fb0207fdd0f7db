#include "bus/manager_object.hpp"

#include <fmt/format.h>

#include "bus/bus_error.hpp"
#include "bus/volume_service.hpp"
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

std::string ManagerObject::Version()
{
    return VAULTD_VERSION;
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
