#include "system/passphrase_quality.hpp"

#include <pwquality.h>

#include <fmt/format.h>

#include <cstring>

#include "system/lazy_library.hpp"
#include "system/log.hpp"

namespace vaultd::system {

// The functions of libpwquality that vaultd calls, found when it is loaded.
struct Pwquality : LazyFunctions {
    VAULTD_LAZY_FUNCTION(pwquality_check);
    VAULTD_LAZY_FUNCTION(pwquality_default_settings);
    VAULTD_LAZY_FUNCTION(pwquality_free_settings);
    VAULTD_LAZY_FUNCTION(pwquality_read_config);
    VAULTD_LAZY_FUNCTION(pwquality_strerror);
};

PwQuality::PwQuality(const std::string& library)
    : library_(std::make_unique<LazyLibrary<Pwquality>>(library))
{
}

PwQuality::~PwQuality()
{
    // Settings exist only once the library was loaded, so get() cannot fail.
    if (settings_)
        if (auto pw = library_->get())
            pw.value()->pwquality_free_settings(settings_);
}

engine::Result<pwquality_settings*> PwQuality::readSettings(const Pwquality& pw)
{
    if (settings_)
        return settings_;
    settings_ = pw.pwquality_default_settings();
    if (!settings_)
        return engine::makeError(engine::ErrorCode::Failed,
                                 "libpwquality gave no settings to check the passphrase with");
    void* aux = nullptr;
    if (pw.pwquality_read_config(settings_, nullptr, &aux) != 0)
        log::warning("cannot read the libpwquality configuration; using its defaults");
    return settings_;
}

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
    // libpwquality wants a C string: a wiped copy with its terminator.
    engine::SecretBuffer text(passphrase.size() + 1);
    auto out = text.spare();
    std::memcpy(out.data(), passphrase.data(), passphrase.size());
    out[passphrase.size()] = '\0';
    text.commit(passphrase.size() + 1);

    std::lock_guard hold(lock_);
    auto loaded = library_->get();
    if (!loaded)
        return loaded.error();
    const Pwquality& pw = *loaded.value();
    auto settings = readSettings(pw);
    if (!settings)
        return settings.error();
    void* aux = nullptr;
    const int score = pw.pwquality_check(settings.value(), text.data(), nullptr, nullptr, &aux);
    if (score >= 0)
        return engine::Done{};
    // The message names the rule, never the passphrase.
    char message[PWQ_MAX_ERROR_MESSAGE_LEN];
    const char* reason = pw.pwquality_strerror(message, sizeof message, score, aux);
    std::string why = reason ? reason : "libpwquality refused it";
    if (!why.empty())
        why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    return weak(why);
}

}  // namespace vaultd::system
