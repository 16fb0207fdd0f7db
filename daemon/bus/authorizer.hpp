// Decides whether the sender of a bus call may perform an action. For now
// only uid 0 may change anything; polkit replaces this rule (issue 3).
// Loop thread only.
#pragma once

#include <sdbus-c++/Message.h>

#include <string_view>

#include "engine/error.hpp"

namespace vaultd::bus {

class Authorizer {
public:
    // @action is the polkit action the call maps to, e.g. org.vaultd.unlock.
    engine::Status check(const sdbus::Message* call, std::string_view action) const;
};

}  // namespace vaultd::bus
