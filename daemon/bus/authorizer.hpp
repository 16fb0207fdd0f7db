// Decides whether the sender of a bus call may perform a polkit action, by
// asking org.freedesktop.PolicyKit1.Authority.CheckAuthorization on the same
// connection, asynchronously: the loop never waits for polkit (which may be
// waiting for a person typing a password). Loop thread only.
#pragma once

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/error.hpp"

namespace vaultd::bus {

struct Caller {
    std::string busName;  // the unique name polkit is asked about
    uid_t uid = 0;
    gid_t gid = 0;
};

// Who sent @call, from the bus's own credentials.
engine::Result<Caller> callerOf(const sdbus::Message* call);

struct AuthRequest {
    Caller caller;
    std::string action;  // e.g. org.vaultd.unlock
    std::map<std::string, std::string> details;
    bool interactive = false;  // the caller can answer an authentication prompt
};

class Authorizer {
public:
    explicit Authorizer(sdbus::IConnection& connection);
    ~Authorizer();

    // Calls @done with Done when allowed, NotAuthorized when refused, and
    // AuthenticationRequired when polkit would allow it after a password and
    // the caller did not ask for interaction.
    void check(const AuthRequest& request, std::function<void(engine::Status)> done);

private:
    std::unique_ptr<sdbus::IProxy> polkit_;
};

}  // namespace vaultd::bus
