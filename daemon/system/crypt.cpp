#include "system/crypt.hpp"

#include <libcryptsetup.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "system/log.hpp"

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;

std::mutex kdfMutex;

struct CryptFree {
    void operator()(crypt_device* cd) const { crypt_free(cd); }
};
using CryptPtr = std::unique_ptr<crypt_device, CryptFree>;

void logFromLibrary(int level, const char* msg, void*)
{
    // libcryptsetup never passes secrets to its log; keep its words for
    // debugging, our own message is what callers see.
    if (level == CRYPT_LOG_ERROR || level == CRYPT_LOG_DEBUG_JSON || level == CRYPT_LOG_DEBUG)
        log::debug(fmt::format("libcryptsetup: {}", msg ? msg : ""));
}

engine::Error failure(const char* what, const std::string& subject, int rc)
{
    return makeError(ErrorCode::Failed,
                     fmt::format("failed to {} '{}': {}", what, subject, std::strerror(-rc)));
}

engine::Result<CryptPtr> initDevice(const std::string& node)
{
    crypt_device* cd = nullptr;
    const int rc = crypt_init(&cd, node.c_str());
    if (rc < 0) {
        if (rc == -ENOENT || rc == -ENXIO || rc == -ENOTBLK)
            return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
        return failure("open", node, rc);
    }
    return CryptPtr(cd);
}

crypt_pbkdf_type toPbkdf(const engine::PbkdfSettings& s)
{
    crypt_pbkdf_type p{};
    p.type = s.type.c_str();
    p.hash = s.hash.c_str();
    p.time_ms = s.timeMs;
    p.iterations = s.iterations;
    // libcryptsetup refuses memory and thread settings for pbkdf2.
    const bool argon = s.type != CRYPT_KDF_PBKDF2;
    p.max_memory_kb = argon ? s.memoryKib : 0;
    p.parallel_threads = argon ? s.parallel : 0;
    p.flags = s.iterations ? CRYPT_PBKDF_NO_BENCHMARK : 0;
    return p;
}

// libcryptsetup hands a LUKS2 volume key to dm-crypt through the calling
// thread's keyring and leaves it linked there after a successful activation.
// A command-line tool exits and its keyring dies with it; our worker threads
// live on, so the key would stay in the kernel after the mapping is closed.
// dm-crypt keeps its own copy, so the link can go as soon as the call returns.
class ThreadKeyringScrub {
public:
    ThreadKeyringScrub() = default;
    ~ThreadKeyringScrub() { syscall(SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_THREAD_KEYRING); }
    ThreadKeyringScrub(const ThreadKeyringScrub&) = delete;
    ThreadKeyringScrub& operator=(const ThreadKeyringScrub&) = delete;
};

}  // namespace

LibCrypt::LibCrypt()
{
    crypt_set_log_callback(nullptr, &logFromLibrary, nullptr);
}

engine::Status LibCrypt::format(const std::string& node, const engine::LuksParams& params,
                                const engine::SecretBuffer& passphrase,
                                const std::string& activateAs)
{
    auto cd = initDevice(node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();

    crypt_pbkdf_type pbkdf = toPbkdf(params.pbkdf);
    crypt_params_luks2 luks2{};
    luks2.pbkdf = &pbkdf;
    luks2.sector_size = params.sectorSize;
    luks2.label = params.label.empty() ? nullptr : params.label.c_str();

    int rc = crypt_format(c, CRYPT_LUKS2, params.cipher.c_str(), params.mode.c_str(), nullptr,
                          nullptr, params.keyBytes, &luks2);
    if (rc < 0)
        return failure("write a LUKS2 header on", node, rc);

    {
        std::lock_guard lock(kdfMutex);
        rc = crypt_keyslot_add_by_volume_key(c, CRYPT_ANY_SLOT, nullptr, 0, passphrase.data(),
                                             passphrase.size());
    }
    if (rc < 0)
        return failure("add a keyslot to", node, rc);

    if (!activateAs.empty()) {
        ThreadKeyringScrub scrub;
        rc = crypt_activate_by_volume_key(c, activateAs.c_str(), nullptr, 0, 0);
        if (rc < 0)
            return failure("open a mapping of", node, rc);
    }
    return engine::Done{};
}

engine::Status LibCrypt::activate(const std::string& node, const std::string& name,
                                  const engine::SecretBuffer& passphrase)
{
    auto cd = initDevice(node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();

    int rc = crypt_load(c, CRYPT_LUKS, nullptr);
    if (rc < 0)
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", node));

    {
        ThreadKeyringScrub scrub;
        std::lock_guard lock(kdfMutex);
        rc = crypt_activate_by_passphrase(c, name.empty() ? nullptr : name.c_str(), CRYPT_ANY_SLOT,
                                          passphrase.data(), passphrase.size(), 0);
    }
    if (rc == -EPERM)
        return makeError(ErrorCode::WrongPassphrase,
                         fmt::format("no keyslot of '{}' opens with that passphrase", node));
    if (rc == -EEXIST || rc == -EBUSY)
        return makeError(
            ErrorCode::Busy,
            fmt::format("cannot open '{}' as '{}': the device or the name is in use", node, name));
    if (rc < 0)
        return failure("unlock", node, rc);
    return engine::Done{};
}

engine::Status LibCrypt::deactivate(const std::string& name, Deactivate how)
{
    if (crypt_status(nullptr, name.c_str()) < CRYPT_ACTIVE)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    std::uint32_t flags = 0;
    if (how == Deactivate::Deferred)
        flags = CRYPT_DEACTIVATE_DEFERRED;
    else if (how == Deactivate::Force)
        flags = CRYPT_DEACTIVATE_FORCE;
    // Without a context: a mapping whose device is gone may not give one.
    const int rc = crypt_deactivate_by_name(nullptr, name.c_str(), flags);
    if (rc == -EBUSY)
        return makeError(ErrorCode::Busy, fmt::format("the mapping '{}' is still in use", name));
    if (rc < 0)
        return failure("close the mapping", name, rc);
    return engine::Done{};
}

bool LibCrypt::mappingExists(const std::string& name)
{
    const crypt_status_info st = crypt_status(nullptr, name.c_str());
    return st == CRYPT_ACTIVE || st == CRYPT_BUSY;
}

}  // namespace vaultd::system
