#include "bus/manager_object.hpp"
#include "engine/quote.hpp"

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

std::string ManagerObject::Version()
{
    return VAULTD_VERSION;
}

sdbus::ObjectPath ManagerObject::FindVolume(const std::string& spec)
{
    using engine::ErrorCode;
    if (spec.empty() || spec.size() > 4096)
        throw toBusError(
            engine::makeError(ErrorCode::InvalidArgument, "name a device, e.g. /dev/vdb or vdb"));
    auto path = service_.find(spec);
    if (!path)
        throw toBusError(engine::makeError(
            ErrorCode::NoSuchDevice,
            fmt::format("no volume {}: see 'vaultctl list'", engine::quoted(spec))));
    return sdbus::ObjectPath(*path);
}

}  // namespace vaultd::bus
