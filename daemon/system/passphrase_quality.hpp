// The real PassphraseQuality port over libpwquality, with the system's
// settings (/etc/security/pwquality.conf) and cracklib's dictionary.
// libpwquality is loaded, and its settings read, by the first check; when it
// cannot be loaded, that check fails saying why, and the next one tries
// again. Thread safe (checks run one at a time: cracklib keeps state).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "engine/ports.hpp"

struct pwquality_settings;

namespace vaultd::system {

template <typename Api>
class LazyLibrary;
struct Pwquality;

class PwQuality final : public engine::PassphraseQuality {
public:
    static constexpr const char* kLibrary = "libpwquality.so.1";

    // @library is the soname libpwquality is loaded from.
    explicit PwQuality(const std::string& library = kLibrary);
    ~PwQuality() override;
    PwQuality(const PwQuality&) = delete;
    PwQuality& operator=(const PwQuality&) = delete;

    engine::Status check(const engine::SecretBuffer& passphrase) override;

private:
    // The settings, read on the first check; under lock_.
    engine::Result<pwquality_settings*> readSettings(const Pwquality& pw);

    std::mutex lock_;
    std::unique_ptr<LazyLibrary<Pwquality>> library_;
    pwquality_settings* settings_ = nullptr;
};

}  // namespace vaultd::system
