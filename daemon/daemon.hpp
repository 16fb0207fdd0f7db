// The running daemon: the system ports, the engine, the bus objects and the
// event sources, wired into one io_context on one thread. run() returns when
// SIGTERM or SIGINT arrives (after locking what vaultd unlocked, if so
// configured); SIGHUP reloads the configured volumes. Not thread safe;
// construct and run on one thread.
#pragma once

#include <chrono>
#include <memory>

#include "engine/operations.hpp"

namespace vaultd {

class Daemon {
public:
    using Clock = std::chrono::steady_clock;
    // @mainStarted: when main() began, for the log line that says how long
    // the start took.
    Daemon(engine::EngineConfig config, Clock::time_point mainStarted);
    ~Daemon();

    int run();

private:
    // How long stopping waits for the volumes to lock.
    static constexpr std::chrono::seconds kLockOnStopLimit{30};
    // How long a lock waits for the services that depend on a volume to stop.
    static constexpr std::chrono::seconds kUnitStopLimit{20};
    // How long clevis may take to reach a key server.
    static constexpr std::chrono::seconds kKeyServerLimit{30};

    void waitForSignals();

    Clock::time_point mainStarted_;
    Clock::duration setUp_{};  // constructing the parts: the bus connection, udev, ...
    struct Parts;
    std::unique_ptr<Parts> parts_;
    bool stopping_ = false;
};

}  // namespace vaultd
