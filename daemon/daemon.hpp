// The running daemon: the system ports, the engine, the bus objects and the
// event sources, wired into one io_context on one thread. run() returns when
// SIGTERM or SIGINT arrives. Not thread safe; construct and run on one thread.
#pragma once

#include <memory>

#include "engine/operations.hpp"

namespace vaultd {

class Daemon {
public:
    explicit Daemon(engine::EngineConfig config);
    ~Daemon();

    int run();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace vaultd
