// Moves the target between states with the calls a well-behaved client
// makes (its passphrase, a plain mapping name, a mount point in the
// sandbox), so that hostile calls meet it locked, unlocked and mounted; and
// reads its properties back into World::view. Its calls are counted in the
// Tally as "steering". Not thread safe.
#pragma once

#include <string>

#include "bus_client.hpp"
#include "tally.hpp"
#include "world.hpp"

namespace vaultd::fuzz {

class Steering {
public:
    Steering(World& world, BusClient& bus, Tally& tally);

    // Reads the target's properties into World::view; false if it cannot.
    bool refresh();
    // Brings the target to @state: locked, unlocked or mounted.
    bool bringTo(const std::string& state);

private:
    bool step(const std::string& member, std::vector<Arg> args, std::shared_ptr<HostileFd> fd);
    bool format();
    bool unlock();

    World& world_;
    BusClient& bus_;
    Tally& tally_;
};

}  // namespace vaultd::fuzz
