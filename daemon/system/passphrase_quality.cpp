#include "system/passphrase_quality.hpp"

#include <pwquality.h>

#include <fmt/format.h>

#include <cstring>

#include "system/log.hpp"

namespace vaultd::system {

void PwQuality::FreeSettings::operator()(pwquality_settings* s) const
{
    pwquality_free_settings(s);
}

PwQuality::PwQuality() : settings_(pwquality_default_settings())
{
    void* aux = nullptr;
    if (settings_ && pwquality_read_config(settings_.get(), nullptr, &aux) != 0)
        log::warning("cannot read the libpwquality configuration; using its defaults");
}

PwQuality::~PwQuality() = default;

engine::Status PwQuality::check(const engine::SecretBuffer& passphrase)
{
    auto weak = [](const std::string& why) {
        return engine::makeError(
            engine::ErrorCode::WeakPassphrase,
            fmt::format("the passphrase is too weak: {}; choose a longer one that is no "
                        "dictionary word, or accept a weak one explicitly (accept-weak)",
                        why));
    };
    if (std::memchr(passphrase.data(), 0, passphrase.size()))
        return weak("it holds a NUL byte, which a passphrase cannot; give it as a key file");
    if (!settings_)
        return engine::makeError(engine::ErrorCode::Failed,
                                 "libpwquality is unavailable to check the passphrase");
    // libpwquality wants a C string: a wiped copy with its terminator.
    engine::SecretBuffer text(passphrase.size() + 1);
    auto out = text.spare();
    std::memcpy(out.data(), passphrase.data(), passphrase.size());
    out[passphrase.size()] = '\0';
    text.commit(passphrase.size() + 1);

    std::lock_guard hold(lock_);
    void* aux = nullptr;
    const int score = pwquality_check(settings_.get(), text.data(), nullptr, nullptr, &aux);
    if (score >= 0)
        return engine::Done{};
    // The message names the rule, never the passphrase.
    char message[PWQ_MAX_ERROR_MESSAGE_LEN];
    const char* reason = pwquality_strerror(message, sizeof message, score, aux);
    std::string why = reason ? reason : "libpwquality refused it";
    if (!why.empty())
        why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    return weak(why);
}

}  // namespace vaultd::system
