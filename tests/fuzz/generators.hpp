// The fuzzer's table: one generator per category of hostile call. Each fills
// a Call for the target, the manager or an object that does not exist, and
// judges from the interface XML (and the target's state as last read)
// whether the call must fail. Generators never address a protected path
// but with Properties.Get or GetAll. Not thread safe.
#pragma once

#include <cstddef>
#include <vector>

#include "call.hpp"
#include "values.hpp"
#include "world.hpp"

namespace vaultd::fuzz {

using Generate = void (*)(World&, const Pools&, Call&);

struct Generator {
    const char* category;
    unsigned weight;  // relative share of the drawn calls
    Generate make;
};

const std::vector<Generator>& generators();
const Generator& drawGenerator(Rng& rng);

// Single calls the runner's sweeps use, to try every value of a pool once in
// the state where it matters most; the drawn generators use them too.
// Format or Unlock (as fuzz-fd) with a descriptor of @kind as the passphrase.
void passphraseCall(World& world, FdKind kind, Method m, bool force, Call& call);
// Unlock the target as @name with its passphrase.
void unlockAs(World& world, const Sample& name, Call& call);
// Mount the target at @point.
void mountAt(World& world, const Sample& point, Call& call);

// Scheduled by the runner rather than drawn, because each costs time: a
// descriptor that holds vaultd until its read deadline or floods it.
// Uses up World::floodsLeft first, then World::slowLeft.
void costlyFdCall(World& world, const Pools& pools, Call& call);
// A string of @bytes in one of the kHugeStringSlots string slots of the API.
inline constexpr unsigned kHugeStringSlots = 9;
void hugeStringCall(World& world, std::size_t bytes, unsigned slot, Call& call);
// A call of about @bytes in one string, near D-Bus's 32 MiB message limit.
void busLimitCall(World& world, std::size_t bytes, bool asOptionKey, Call& call);

}  // namespace vaultd::fuzz
