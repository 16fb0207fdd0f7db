// Rules about keys that need no system: how much a key derivation may cost,
// which keyslots an unlock tries and in what order, and recovery keys.
// Pure functions (but makeRecoveryKey, which reads the kernel's random
// source); thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ports.hpp"
#include "engine/secret_buffer.hpp"

namespace vaultd::engine {

// What a key derivation needs beyond its own memory: the daemon's working
// set while it runs, and slack for the rest of the system.
constexpr std::uint64_t kDerivationHeadroom = 32ull << 20;

// The settings a new keyslot gets: the configured ones, with argon2's
// memory capped at a quarter of @smallestMemory (the least memory of any
// instance that may open the volume) and its threads at one per 256 MiB of
// it, so that such an instance can derive the key next to its workload.
PbkdfSettings cappedFor(const PbkdfSettings& configured, std::uint64_t smallestMemory);

// LUKS1 knows pbkdf2 only: the same time target (or iteration count).
PbkdfSettings forLuks1(const PbkdfSettings& settings);

// A recovery key has its strength in its randomness, not in its key
// derivation: pbkdf2, which needs no memory, so that it opens the volume on
// any instance.
PbkdfSettings recoveryPbkdf(const PbkdfSettings& configured);

// The memory a keyslot's key derivation takes, in bytes.
std::uint64_t memoryNeed(const Keyslot& slot);

// The free memory, in bytes, an unlock needs to derive the key of a keyslot
// made with @settings: the derivation's memory and kDerivationHeadroom.
std::uint64_t unlockMemoryNeed(const PbkdfSettings& settings);

// Which keyslots an unlock tries, the cheapest first: those whose
// derivation fits in @available bytes (headroom included), the others
// apart. Slots of priority "ignore" are left out; slots bound to another
// program's token come last.
struct UnlockPlan {
    std::vector<Keyslot> fit;
    std::vector<Keyslot> tooBig;
};
UnlockPlan planUnlock(const std::vector<Keyslot>& slots, std::uint64_t available);

// "1.5 GiB", "512 MiB", "900 KiB": for messages.
std::string humanBytes(std::uint64_t bytes);

// The message of an unlock that found no keyslot it could afford.
std::string insufficientMemory(const std::string& node, const UnlockPlan& plan,
                               std::uint64_t available);

// A recovery key: 8 groups of 6 characters from a 32-letter alphabet with
// no look-alikes (240 bits), joined by dashes: "k7hq2m-...". Lower case.
constexpr std::size_t kRecoveryKeyLength = 8 * 6 + 7;
SecretBuffer makeRecoveryKey();
bool isRecoveryKey(std::string_view text);

}  // namespace vaultd::engine
