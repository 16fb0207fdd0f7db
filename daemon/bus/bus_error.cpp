#include "bus/bus_error.hpp"

#include <string>

namespace vaultd::bus {

sdbus::Error toBusError(const engine::Error& error)
{
    return sdbus::Error(kErrorPrefix + std::string(engine::errorName(error.code)), error.message);
}

}  // namespace vaultd::bus
