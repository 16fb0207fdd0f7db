// What a long operation says about itself while it runs (its stage, the
// bytes it has done) and how it hears that it is asked to stop. The thread
// running the operation calls it; implementations are read elsewhere at the
// same time and must allow that (see bus/job_object.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace vaultd::engine {

class Progress {
public:
    virtual ~Progress() = default;

    // A new stage, which spans [@from, @to] of the whole operation (0 to
    // 1). @expected is how long it should take, when that is known and no
    // bytes will be counted (a key derivation runs for its configured time).
    virtual void stage(std::string_view name, double from, double to,
                       std::chrono::milliseconds expected = {}) = 0;
    // Bytes done of the stage's @total.
    virtual void bytes(std::uint64_t done, std::uint64_t total) = 0;
    // Whether stopping now is safe; a request to stop counts only then.
    virtual void setCancellable(bool cancellable) = 0;
    virtual bool cancelRequested() const = 0;

    // Reports nowhere and is never cancelled.
    static Progress& none();
};

}  // namespace vaultd::engine
