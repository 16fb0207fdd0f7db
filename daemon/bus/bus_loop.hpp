// Runs an sd-bus connection inside a Boost.Asio io_context: waits on the
// connection's descriptor and timeout as sd-bus asks, and processes what
// arrives. Loop thread only. Call poke() after sending a reply or a signal
// from outside a bus callback, so queued output is flushed and the wait
// re-armed.
#pragma once

#include <sdbus-c++/IConnection.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>

namespace vaultd::bus {

class BusLoop {
public:
    BusLoop(boost::asio::io_context& io, sdbus::IConnection& connection);
    ~BusLoop();
    BusLoop(const BusLoop&) = delete;
    BusLoop& operator=(const BusLoop&) = delete;

    void start();
    void poke();

private:
    void arm();
    void onReady(std::uint64_t generation);

    sdbus::IConnection& connection_;
    boost::asio::posix::stream_descriptor descriptor_;
    boost::asio::steady_timer timer_;
    std::uint64_t generation_ = 0;
};

}  // namespace vaultd::bus
