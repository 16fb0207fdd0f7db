#include "bus/authorizer.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <fmt/format.h>

#include <chrono>

#include "system/log.hpp"

namespace vaultd::bus {
namespace {

using engine::ErrorCode;
using engine::makeError;

constexpr const char* kPolkitName = "org.freedesktop.PolicyKit1";
constexpr const char* kPolkitPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kPolkitInterface = "org.freedesktop.PolicyKit1.Authority";
constexpr std::uint32_t kAllowUserInteraction = 1;
// Long enough for a person to type a password into an agent.
constexpr std::chrono::minutes kInteractiveTimeout{5};
constexpr std::chrono::seconds kTimeout{25};

using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
using AuthResult = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

// The actions systemd/polkit/50-vaultd.rules grants the group 'vault'; for
// the others, joining it would not help, and the messages must not say so.
bool grantedToGroup(const std::string& action)
{
    for (const char* everyday : {"org.vaultd.format", "org.vaultd.unlock", "org.vaultd.mount",
                                 "org.vaultd.lock", "org.vaultd.grow"}) {
        if (action == everyday)
            return true;
    }
    return false;
}

std::string refusal(const AuthRequest& r)
{
    if (!grantedToGroup(r.action))
        return fmt::format("'{}' is not allowed for uid {}: it is for administrators", r.action,
                           r.caller.uid);
    return fmt::format(
        "'{}' is not allowed for uid {}: join the group 'vault' to unlock, mount and lock "
        "without a password, or ask an administrator",
        r.action, r.caller.uid);
}

engine::Status decide(const AuthRequest& request, const sdbus::Error* error,
                      const AuthResult& result)
{
    if (error) {
        // Without polkit only root may act: a minimal system keeps working,
        // and nobody else gains anything.
        if (request.caller.uid == 0) {
            log::warning(fmt::format("polkit did not answer ({}); allowing root", error->getName()),
                         {{log::Field::Uid, "0"}});
            return engine::Done{};
        }
        return makeError(ErrorCode::NotAuthorized,
                         fmt::format("cannot check '{}': polkit did not answer ({})",
                                     request.action, error->getMessage()));
    }
    const bool authorized = std::get<0>(result);
    const bool challenge = std::get<1>(result);
    if (authorized)
        return engine::Done{};
    if (challenge && !request.interactive)
        return makeError(ErrorCode::AuthenticationRequired,
                         fmt::format("'{}' needs authentication: run vaultctl on a terminal to "
                                     "be asked for a password{}",
                                     request.action,
                                     grantedToGroup(request.action)
                                         ? ", or join the group 'vault'"
                                         : " (an administrator's; the group 'vault' does not "
                                           "grant it)"));
    return makeError(ErrorCode::NotAuthorized, refusal(request));
}

}  // namespace

engine::Result<Caller> callerOf(const sdbus::Message* call)
{
    if (!call)
        return makeError(ErrorCode::NotAuthorized, "no caller to authorize");
    try {
        return Caller{call->getSender(), call->getCredsUid(), call->getCredsGid()};
    } catch (const sdbus::Error&) {
        return makeError(ErrorCode::NotAuthorized, "cannot tell who the caller is");
    }
}

Authorizer::Authorizer(sdbus::IConnection& connection)
    : polkit_(sdbus::createProxy(connection, kPolkitName, kPolkitPath))
{
}

Authorizer::~Authorizer() = default;

void Authorizer::check(const AuthRequest& request, std::function<void(engine::Status)> done)
{
    // polkitd authorizes uid 0 for every action without consulting its rules
    // ("root is always authorized"), so asking costs a round trip to it (and
    // its own to the bus) for a known answer. The uid is the bus daemon's.
    if (request.caller.uid == 0) {
        done(engine::Done{});
        return;
    }
    Subject subject{"system-bus-name", {{"name", sdbus::Variant(request.caller.busName)}}};
    const std::uint32_t flags = request.interactive ? kAllowUserInteraction : 0;
    auto timeout = request.interactive ? std::chrono::microseconds(kInteractiveTimeout)
                                       : std::chrono::microseconds(kTimeout);
    polkit_->callMethodAsync("CheckAuthorization")
        .onInterface(kPolkitInterface)
        .withTimeout(timeout)
        .withArguments(subject, request.action, request.details, flags, std::string())
        .uponReplyInvoke(
            [request, done = std::move(done)](const sdbus::Error* error, AuthResult result) {
                done(decide(request, error, result));
            });
}

}  // namespace vaultd::bus
