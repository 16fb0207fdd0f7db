#include "bus/bus_loop.hpp"

#include <poll.h>
#include <unistd.h>

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
    while (connection_.processPendingRequest()) {}
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
