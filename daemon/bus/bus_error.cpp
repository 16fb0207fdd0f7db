#include "bus/bus_error.hpp"

#include <string>

#include "engine/quote.hpp"

namespace vaultd::bus {

sdbus::Error toBusError(const engine::Error& error)
{
    // Messages quote callers' strings through engine::quoted; this bound is
    // for any that slipped through, so no reply grows with its request.
    constexpr std::size_t kMaxMessage = 1024;
    return sdbus::Error(kErrorPrefix + std::string(engine::errorName(error.code)),
                        std::string(engine::clipped(error.message, kMaxMessage)));
}

}  // namespace vaultd::bus
