// The real Mounter over libmount, without mount helpers and without mtab, so
// what happens is exactly the mount(2) we ask for. Thread safe (one libmount
// context per call).
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class LibMounter final : public engine::Mounter {
public:
    engine::Status mount(const std::string& source, const std::string& target,
                         const std::string& fstype, const std::string& options) override;
    engine::Status unmount(const std::string& target, bool lazy) override;
};

}  // namespace vaultd::system
