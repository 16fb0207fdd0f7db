#include "volume_watch.hpp"

#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

namespace vaultctl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* busName = "org.vaultd.Vault1";

// Only for signals lost on the way, which the bus does not do; the normal path is the signals.
constexpr auto rereadInterval = std::chrono::seconds(5);

// The ObjectManager sits at vaultd's root object, the volumes below it.
constexpr const char* objectsMatch =
    "type='signal',sender='org.vaultd.Vault1',path='/org/vaultd/Vault1',"
    "interface='org.freedesktop.DBus.ObjectManager'";
constexpr const char* propertiesMatch =
    "type='signal',sender='org.vaultd.Vault1',path_namespace='/org/vaultd/Vault1',"
    "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
    "arg0='org.vaultd.Vault1.Volume'";
constexpr const char* ownerMatch =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.vaultd.Vault1'";

// Milliseconds for poll(2), rounded up so that the deadline has passed when poll returns.
int millisecondsUntil(Clock::time_point until)
{
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    return static_cast<int>(std::clamp<decltype(left)>(left, 0, 60 * 60 * 1000));
}

}  // namespace

VolumeWatch::VolumeWatch(sdbus::IConnection& connection) : connection_(connection)
{
    // addMatch returns once the bus has confirmed the rule.
    auto noteChange = [this](sdbus::Message&) { changed_ = true; };
    matches_.push_back(connection_.addMatch(objectsMatch, noteChange));
    matches_.push_back(connection_.addMatch(propertiesMatch, noteChange));
    matches_.push_back(
        connection_.addMatch(ownerMatch, [this](sdbus::Message& m) { onOwnerChanged(m); }));
}

bool VolumeWatch::waitForChange(const Deadline& deadline)
{
    Clock::time_point reread = Clock::now() + rereadInterval;
    for (;;) {
        while (connection_.processPendingRequest()) {}
        if (changed_) {
            changed_ = false;
            return true;
        }

        Clock::time_point now = Clock::now();
        if (deadline && now >= *deadline)
            return false;
        if (now >= reread) {
            // Asking the bus, unlike calling vaultd, does not start vaultd.
            if (running_ || vaultdHasOwner()) {
                running_ = true;
                changed_ = false;
                return true;
            }
            reread = now + rereadInterval;
        }
        pollUntil(deadline ? std::min(reread, *deadline) : reread);
    }
}

void VolumeWatch::onOwnerChanged(sdbus::Message& message)
{
    std::string name;
    std::string oldOwner;
    std::string newOwner;
    message >> name >> oldOwner >> newOwner;
    // Leaving is a change too, for the caller to say so; a new vaultd has its volumes afresh.
    running_ = !newOwner.empty();
    changed_ = true;
}

bool VolumeWatch::vaultdHasOwner()
{
    auto bus = sdbus::createProxy(connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool owned = false;
    bus->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(busName))
        .storeResultsTo(owned);
    return owned;
}

void VolumeWatch::pollUntil(Clock::time_point until)
{
    sdbus::IConnection::PollData data = connection_.getEventLoopPollData();
    int timeout = millisecondsUntil(until);
    int busTimeout = data.getPollTimeout();
    if (busTimeout >= 0)
        timeout = std::min(timeout, busTimeout);

    pollfd descriptor{data.fd, data.events, 0};
    if (poll(&descriptor, 1, timeout) < 0 && errno != EINTR)
        throw std::system_error(errno, std::generic_category(), "cannot wait for the bus");
}

}  // namespace vaultctl
