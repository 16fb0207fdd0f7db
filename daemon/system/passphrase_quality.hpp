// The real PassphraseQuality port over libpwquality, with the system's
// settings (/etc/security/pwquality.conf) and cracklib's dictionary.
// Thread safe (checks run one at a time: cracklib keeps state).
#pragma once

#include <memory>
#include <mutex>

#include "engine/ports.hpp"

struct pwquality_settings;

namespace vaultd::system {

class PwQuality final : public engine::PassphraseQuality {
public:
    PwQuality();
    ~PwQuality() override;
    PwQuality(const PwQuality&) = delete;
    PwQuality& operator=(const PwQuality&) = delete;

    engine::Status check(const engine::SecretBuffer& passphrase) override;

private:
    struct FreeSettings {
        void operator()(pwquality_settings* s) const;
    };
    std::mutex lock_;
    std::unique_ptr<pwquality_settings, FreeSettings> settings_;
};

}  // namespace vaultd::system
