// The real Crypt port over libcryptsetup. Each call makes its own
// crypt_device; KDF work (keyslot creation, passphrase checks) is serialised
// process-wide, because a memory-hard KDF can take a gigabyte per run.
// Opening a mapping keeps its volume key in vaultd's process keyring until
// the mapping is closed, for resize(). Thread safe.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class LibCrypt final : public engine::Crypt {
public:
    LibCrypt();

    engine::Status format(const std::string& node, const engine::LuksParams& params,
                          const engine::SecretBuffer& passphrase,
                          const std::string& activateAs) override;
    // An empty @name only checks the passphrase against the keyslots.
    engine::Status activate(const std::string& node, const std::string& name,
                            const engine::SecretBuffer& passphrase) override;
    engine::Status deactivate(const std::string& name, Deactivate how) override;
    bool mappingExists(const std::string& name) override;
    engine::Result<Mapping> mapping(const std::string& name) override;
    engine::Status resize(const std::string& name, const engine::SecretBuffer* passphrase) override;
};

}  // namespace vaultd::system
