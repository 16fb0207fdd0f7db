#include "engine/keys.hpp"

#include <sys/random.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vaultd::engine {
namespace {

// Crockford's base32 alphabet, lower case: no i, l, o or u.
constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t kGroups = 8, kGroupLength = 6;

}  // namespace

std::string_view keyKindName(KeyKind kind)
{
    switch (kind) {
    case KeyKind::Passphrase: return "passphrase";
    case KeyKind::KeyFile: return "keyfile";
    case KeyKind::Recovery: return "recovery";
    case KeyKind::Token: return "token";
    }
    return "passphrase";
}

PbkdfSettings cappedFor(const PbkdfSettings& configured, std::uint64_t smallestMemory)
{
    PbkdfSettings s = configured;
    if (s.type == "pbkdf2")
        return s;
    const std::uint64_t capKib = smallestMemory / 4 / 1024;
    const std::uint64_t threads = std::max<std::uint64_t>(1, smallestMemory / (256ull << 20));
    s.memoryKib = static_cast<std::uint32_t>(std::min<std::uint64_t>(s.memoryKib, capKib));
    s.parallel = static_cast<std::uint32_t>(std::min<std::uint64_t>(s.parallel, threads));
    return s;
}

PbkdfSettings forLuks1(const PbkdfSettings& settings)
{
    if (settings.type == "pbkdf2")
        return settings;
    PbkdfSettings s;
    s.type = "pbkdf2";
    s.timeMs = settings.timeMs;
    return s;
}

PbkdfSettings recoveryPbkdf(const PbkdfSettings& configured)
{
    PbkdfSettings s;
    s.type = "pbkdf2";
    s.hash = "sha256";
    s.timeMs = configured.timeMs;
    s.iterations = configured.type == "pbkdf2" ? configured.iterations : 0;
    return s;
}

std::uint64_t memoryNeed(const Keyslot& slot)
{
    return slot.pbkdf.starts_with("argon2") ? std::uint64_t{slot.memoryKib} * 1024 : 0;
}

std::uint64_t unlockMemoryNeed(const PbkdfSettings& settings)
{
    Keyslot slot;
    slot.pbkdf = settings.type;
    slot.memoryKib = settings.memoryKib;
    return memoryNeed(slot) + kDerivationHeadroom;
}

UnlockPlan planUnlock(const std::vector<Keyslot>& slots, std::uint64_t available)
{
    UnlockPlan plan;
    for (const Keyslot& slot : slots) {
        if (slot.ignored)
            continue;
        if (memoryNeed(slot) + kDerivationHeadroom <= available)
            plan.fit.push_back(slot);
        else
            plan.tooBig.push_back(slot);
    }
    auto order = [](const Keyslot& a, const Keyslot& b) {
        const bool aToken = a.kind == KeyKind::Token, bToken = b.kind == KeyKind::Token;
        if (aToken != bToken)
            return bToken;
        if (memoryNeed(a) != memoryNeed(b))
            return memoryNeed(a) < memoryNeed(b);
        return a.slot < b.slot;
    };
    std::stable_sort(plan.fit.begin(), plan.fit.end(), order);
    std::stable_sort(plan.tooBig.begin(), plan.tooBig.end(), order);
    return plan;
}

std::string humanBytes(std::uint64_t bytes)
{
    if (bytes >= (1ull << 30))
        return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ull << 30));
    if (bytes >= (1ull << 20))
        return fmt::format("{} MiB", bytes >> 20);
    return fmt::format("{} KiB", bytes >> 10);
}

std::string insufficientMemory(const std::string& node, const UnlockPlan& plan,
                               std::uint64_t available)
{
    std::string slots;
    for (const Keyslot& s : plan.tooBig)
        slots += fmt::format("{}keyslot {} needs {}", slots.empty() ? "" : ", ", s.slot,
                             humanBytes(memoryNeed(s)));
    std::string tried;
    for (const Keyslot& s : plan.fit)
        tried += fmt::format("{}{}", tried.empty() ? "" : ", ", s.slot);
    return fmt::format(
        "'{}': {} for its key derivation, and {} is available here (free memory and vaultd's "
        "cgroup limit; a derivation leaves {} to spare); {}. Unlock it on "
        "a larger machine and add a keyslot that needs less memory ('vaultctl keyslot add'; "
        "vaultd caps new keyslots for the smallest instance in its configuration), or a "
        "recovery key, which needs none",
        node, slots, humanBytes(available), humanBytes(kDerivationHeadroom),
        tried.empty()
            ? "no keyslot fits"
            : fmt::format("the passphrase opens none of the keyslots that fit ({})", tried));
}

SecretBuffer makeRecoveryKey()
{
    // 32 letters: each random byte's low 5 bits pick one, without bias.
    unsigned char random[kGroups * kGroupLength];
    std::size_t got = 0;
    while (got < sizeof random) {
        const ssize_t n = getrandom(random + got, sizeof random - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw std::runtime_error("the kernel gave no random bytes for a recovery key");
        got += static_cast<std::size_t>(n);
    }
    SecretBuffer key(kRecoveryKeyLength + 1);
    auto out = key.spare();
    std::size_t at = 0;
    for (std::size_t i = 0; i < sizeof random; ++i) {
        if (i && i % kGroupLength == 0)
            out[at++] = '-';
        out[at++] = kAlphabet[random[i] & 31];
    }
    key.commit(at);
    explicit_bzero(random, sizeof random);
    return key;
}

bool isRecoveryKey(std::string_view text)
{
    if (text.size() != kRecoveryKeyLength)
        return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash = (i + 1) % (kGroupLength + 1) == 0;
        if (dash ? text[i] != '-' : kAlphabet.find(text[i]) == std::string_view::npos)
            return false;
    }
    return true;
}

}  // namespace vaultd::engine
