// A small deterministic random source: the same seed gives the same calls on
// every platform and standard library, which std:: distributions do not
// promise. Not thread safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vaultd::fuzz {

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    // SplitMix64: tiny, fast, and good enough to pick test inputs.
    std::uint64_t next()
    {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

    // In [0, n); the modulo bias is irrelevant for the small n used here.
    std::size_t below(std::size_t n) { return n == 0 ? 0 : next() % n; }

    bool oneIn(std::size_t n) { return below(n) == 0; }

    template <typename T>
    const T& pick(const std::vector<T>& from)
    {
        return from[below(from.size())];
    }

private:
    std::uint64_t state_;
};

}  // namespace vaultd::fuzz
