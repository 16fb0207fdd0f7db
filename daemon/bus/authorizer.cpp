#include "bus/authorizer.hpp"

#include <fmt/format.h>

namespace vaultd::bus {

engine::Status Authorizer::check(const sdbus::Message* call, std::string_view action) const
{
    if (!call)
        return engine::makeError(engine::ErrorCode::NotAuthorized, "no caller to authorize");
    uid_t uid = 0;
    try {
        uid = call->getCredsUid();
    } catch (const sdbus::Error&) {
        return engine::makeError(engine::ErrorCode::NotAuthorized, "cannot tell who the caller is");
    }
    // TODO: ask polkit's CheckAuthorization for @action instead of requiring
    // uid 0, so members of the vault group need no sudo (issue 3).
    if (uid != 0)
        return engine::makeError(engine::ErrorCode::NotAuthorized,
                                 fmt::format("'{}' needs root until polkit support lands", action));
    return engine::Done{};
}

}  // namespace vaultd::bus
