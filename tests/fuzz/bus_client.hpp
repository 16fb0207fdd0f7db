// The fuzzer's end of the system bus: sends a Call to vaultd and says what
// came back, with the few well-behaved reads the runner needs. Refuses, by
// throwing std::logic_error, any call that names a protected object with
// anything but Properties.Get or GetAll, so no generator can touch the
// bystander by mistake. Reconnects when the bus has dropped the connection
// (as dbus-daemon does to a client that sends an oversized message).
// Not thread safe.
#pragma once

#include <sdbus-c++/sdbus-c++.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "call.hpp"

namespace vaultd::fuzz {

struct Outcome {
    enum class Kind {
        Success,
        Error,    // an error reply, or a failure to get one
        NotSent,  // refused while building the message (sd-bus checks)
        Sent,     // NO_REPLY_EXPECTED: nothing comes back
        Dropped,  // the bus hung up on us (oversized or invalid message)
    };
    Kind kind = Kind::Error;
    std::string errorName;
    std::string errorMessage;
    std::string value;  // a success's first value, when it is a string or path
    double seconds = 0;
};

using PropertyMap = std::map<std::string, sdbus::Variant>;
using ManagedObjects =
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;

class BusClient {
public:
    BusClient();

    // Objects that take nothing but Properties.Get and GetAll.
    void protect(std::set<std::string> paths) { protected_ = std::move(paths); }

    Outcome send(const Call& call, std::chrono::microseconds timeout);

    // Well-behaved reads; they throw sdbus::Error.
    PropertyMap getAll(const std::string& path, const std::string& interface);
    ManagedObjects managedObjects();
    std::string version();
    pid_t daemonPid();

    unsigned reconnects() const { return reconnects_; }

private:
    void guard(const Call& call) const;
    Outcome exchange(const Call& call, std::chrono::microseconds timeout);
    sdbus::IProxy& proxyFor(const std::string& destination, const std::string& path);
    // True if the connection was gone and has been replaced.
    bool reconnectIfDropped();

    std::unique_ptr<sdbus::IConnection> connection_;
    std::map<std::pair<std::string, std::string>, std::unique_ptr<sdbus::IProxy>> proxies_;
    std::set<std::string> protected_;
    unsigned reconnects_ = 0;
};

}  // namespace vaultd::fuzz
