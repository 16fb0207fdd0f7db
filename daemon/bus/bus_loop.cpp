#include "bus/bus_loop.hpp"

#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include <exception>

#include "system/log.hpp"

namespace vaultd::bus {

BusLoop::BusLoop(boost::asio::io_context& io, sdbus::IConnection& connection)
    : connection_(connection),
      // A duplicate, so Asio may close its own copy without closing sd-bus's.
      descriptor_(io, ::dup(connection.getEventLoopPollData().fd)),
      timer_(io)
{
}

BusLoop::~BusLoop() = default;

void BusLoop::start()
{
    poke();
}

void BusLoop::poke()
{
    // A handler that throws must cost one message, not the bus: sdbus-c++
    // turns an sdbus::Error from a method into an error reply, but anything
    // else, or a failure to send, comes out here.
    // A connection that is gone fails every time: after a run of failures
    // the error goes on up, and the daemon stops rather than spin.
    constexpr int kMaxFailuresInARow = 16;
    int failures = 0;
    for (;;) {
        try {
            if (!connection_.processPendingRequest())
                break;
            failures = 0;
        } catch (const std::exception& e) {
            log::error(fmt::format("a bus message failed: {}", e.what()));
            if (++failures == kMaxFailuresInARow)
                throw;
        }
    }
    arm();
}

void BusLoop::arm()
{
    // Stale waits still complete (cancelled or not); the generation tells
    // them apart from the current ones.
    const std::uint64_t generation = ++generation_;
    descriptor_.cancel();
    timer_.cancel();

    const auto poll = connection_.getEventLoopPollData();
    auto handler = [this, generation](const boost::system::error_code& ec) {
        if (!ec)
            onReady(generation);
    };
    if (poll.events & POLLIN)
        descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read, handler);
    if (poll.events & POLLOUT)
        descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_write, handler);
    if (auto timeout = poll.getRelativeTimeout()) {
        timer_.expires_after(*timeout);
        timer_.async_wait(handler);
    }
}

void BusLoop::onReady(std::uint64_t generation)
{
    if (generation == generation_)
        poke();
}

}  // namespace vaultd::bus
