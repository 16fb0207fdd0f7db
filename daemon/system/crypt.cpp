#include "system/crypt.hpp"

#include <libcryptsetup.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <sys/stat.h>

#include "system/lazy_library.hpp"
#include "system/log.hpp"

namespace vaultd::system {

// The functions of libcryptsetup that vaultd calls, found when it is loaded.
struct Cryptsetup : LazyFunctions {
    VAULTD_LAZY_FUNCTION(crypt_activate_by_passphrase);
    VAULTD_LAZY_FUNCTION(crypt_activate_by_volume_key);
    VAULTD_LAZY_FUNCTION(crypt_deactivate_by_name);
    VAULTD_LAZY_FUNCTION(crypt_format);
    VAULTD_LAZY_FUNCTION(crypt_free);
    VAULTD_LAZY_FUNCTION(crypt_get_active_device);
    VAULTD_LAZY_FUNCTION(crypt_get_data_offset);
    VAULTD_LAZY_FUNCTION(crypt_get_label);
    VAULTD_LAZY_FUNCTION(crypt_get_type);
    VAULTD_LAZY_FUNCTION(crypt_get_uuid);
    VAULTD_LAZY_FUNCTION(crypt_header_backup);
    VAULTD_LAZY_FUNCTION(crypt_header_restore);
    VAULTD_LAZY_FUNCTION(crypt_init);
    VAULTD_LAZY_FUNCTION(crypt_init_by_name);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_add_by_volume_key);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_change_by_passphrase);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_destroy);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_get_pbkdf);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_get_priority);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_max);
    VAULTD_LAZY_FUNCTION(crypt_keyslot_status);
    VAULTD_LAZY_FUNCTION(crypt_load);
    VAULTD_LAZY_FUNCTION(crypt_metadata_locking);
    VAULTD_LAZY_FUNCTION(crypt_persistent_flags_get);
    VAULTD_LAZY_FUNCTION(crypt_persistent_flags_set);
    VAULTD_LAZY_FUNCTION(crypt_repair);
    VAULTD_LAZY_FUNCTION(crypt_resize);
    VAULTD_LAZY_FUNCTION(crypt_set_log_callback);
    VAULTD_LAZY_FUNCTION(crypt_set_pbkdf_type);
    VAULTD_LAZY_FUNCTION(crypt_status);
    VAULTD_LAZY_FUNCTION(crypt_token_json_get);
    VAULTD_LAZY_FUNCTION(crypt_token_json_set);
    VAULTD_LAZY_FUNCTION(crypt_volume_key_get);
    VAULTD_LAZY_FUNCTION(crypt_wipe);
};

namespace {

using engine::ErrorCode;
using engine::makeError;

// libcryptsetup's device-mapper backend is process-wide state without
// locks (a use count, a current context, libdevmapper's control descriptor,
// which the last crypt_free closes): two threads using it at once close
// each other's descriptors. Every use, from crypt_init to crypt_free, holds
// this. It also serialises the KDF, which can take a gigabyte per run.
std::mutex libraryLock;

struct CryptFree {
    const Cryptsetup* cs;
    void operator()(crypt_device* cd) const { cs->crypt_free(cd); }
};
using CryptPtr = std::unique_ptr<crypt_device, CryptFree>;

void logFromLibrary(int level, const char* msg, void*)
{
    // libcryptsetup never passes secrets to its log; keep its words for
    // debugging, our own message is what callers see.
    if (level == CRYPT_LOG_ERROR || level == CRYPT_LOG_DEBUG_JSON || level == CRYPT_LOG_DEBUG)
        log::debug(fmt::format("libcryptsetup: {}", msg ? msg : ""));
}

// Once, when libcryptsetup is loaded (under libraryLock), before any other call.
void configure(const Cryptsetup& cs)
{
    cs.crypt_set_log_callback(nullptr, &logFromLibrary, nullptr);
    // libcryptsetup repairs a damaged LUKS2 header copy from the other one
    // whenever it loads a header, unless metadata locking is off: vaultd
    // never writes to a device by looking at it (a repair is for the user
    // to ask, after a backup). Its own calls are serialised (libraryLock).
    cs.crypt_metadata_locking(nullptr, 0);
}

engine::Error failure(const char* what, const std::string& subject, int rc)
{
    return makeError(ErrorCode::Failed,
                     fmt::format("failed to {} '{}': {}", what, subject, std::strerror(-rc)));
}

engine::Error wrongPassphrase(const std::string& node)
{
    return makeError(ErrorCode::WrongPassphrase,
                     fmt::format("no keyslot of '{}' opens with that passphrase", node));
}

engine::Error outOfMemory(const std::string& subject, int keyslot)
{
    return makeError(ErrorCode::InsufficientMemory,
                     keyslot == CRYPT_ANY_SLOT
                         ? fmt::format("the key derivation for '{}' ran out of memory", subject)
                         : fmt::format("the key derivation of keyslot {} of '{}' ran out of memory",
                                       keyslot, subject));
}

// What a passphrase tried on a keyslot (or any) came to.
engine::Error derivationFailure(const std::string& subject, int keyslot, int rc)
{
    if (rc == -EPERM)
        return keyslot == CRYPT_ANY_SLOT
                   ? wrongPassphrase(subject)
                   : makeError(ErrorCode::WrongPassphrase,
                               fmt::format("keyslot {} of '{}' does not open with that passphrase",
                                           keyslot, subject));
    if (rc == -ENOMEM)
        return outOfMemory(subject, keyslot);
    return failure("read the volume key of", subject, rc);
}

struct OpenedKey {
    engine::SecretBuffer key;
    int keyslot = 0;
};

// The volume key a passphrase opens, from @keyslot or whichever keyslot
// takes it (the KDF runs here).
engine::Result<OpenedKey> volumeKeyFor(const Cryptsetup& cs, crypt_device* cd,
                                       const engine::SecretBuffer& passphrase,
                                       const std::string& subject, int keyslot = CRYPT_ANY_SLOT)
{
    engine::SecretBuffer key(512);
    std::size_t keyBytes = key.capacity();
    const int rc = cs.crypt_volume_key_get(cd, keyslot, key.spare().data(), &keyBytes,
                                           passphrase.data(), passphrase.size());
    if (rc < 0)
        return derivationFailure(subject, keyslot, rc);
    key.commit(keyBytes);
    return OpenedKey{std::move(key), rc};
}

engine::Status loadLuks(const Cryptsetup& cs, crypt_device* cd, const std::string& subject)
{
    if (cs.crypt_load(cd, CRYPT_LUKS, nullptr) < 0)
        return makeError(ErrorCode::NotLuks,
                         fmt::format("'{}' holds no valid LUKS header", subject));
    return engine::Done{};
}

bool isLuks2(const Cryptsetup& cs, crypt_device* cd)
{
    const char* type = cs.crypt_get_type(cd);
    return type && std::strcmp(type, CRYPT_LUKS2) == 0;
}

constexpr std::uint32_t kWorkqueueFlags =
    CRYPT_ACTIVATE_NO_READ_WORKQUEUE | CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE;
constexpr std::uint32_t kOurFlags = kWorkqueueFlags | CRYPT_ACTIVATE_ALLOW_DISCARDS;

std::uint32_t toActivationFlags(const engine::HeaderFlags& f)
{
    return (f.noReadWorkqueue ? CRYPT_ACTIVATE_NO_READ_WORKQUEUE : 0) |
           (f.noWriteWorkqueue ? CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE : 0) |
           (f.discard ? CRYPT_ACTIVATE_ALLOW_DISCARDS : 0);
}

engine::HeaderFlags fromActivationFlags(std::uint32_t flags)
{
    return {(flags & CRYPT_ACTIVATE_NO_READ_WORKQUEUE) != 0,
            (flags & CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE) != 0,
            (flags & CRYPT_ACTIVATE_ALLOW_DISCARDS) != 0};
}

// A volume file's options for one unlock, added to what the header keeps.
std::uint32_t activationFlags(const engine::MappingOptions& o)
{
    return (o.readOnly ? CRYPT_ACTIVATE_READONLY : 0) |
           toActivationFlags({o.noReadWorkqueue, o.noWriteWorkqueue, o.discard});
}

// dm-crypt took no_read_workqueue and no_write_workqueue in Linux 5.9; an
// older one refuses a table that has them, so a header must not ask.
bool kernelBypassesWorkqueues()
{
    utsname u{};
    int major = 0, minor = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return false;
    return major > 5 || (major == 5 && minor >= 9);
}

// Replaces vaultd's flags among @c's persistent ones, keeping the rest.
int storeFlags(const Cryptsetup& cs, crypt_device* c, const engine::HeaderFlags& flags)
{
    std::uint32_t stored = 0;
    if (int rc = cs.crypt_persistent_flags_get(c, CRYPT_FLAGS_ACTIVATION, &stored); rc < 0)
        return rc;
    std::uint32_t wanted = (stored & ~kOurFlags) | toActivationFlags(flags);
    if (!kernelBypassesWorkqueues())
        wanted &= ~kWorkqueueFlags;
    if (wanted == stored)
        return 0;
    return cs.crypt_persistent_flags_set(c, CRYPT_FLAGS_ACTIVATION, wanted);
}

// vaultd's note on a keyslot, kept in the LUKS2 header with the volume:
// a token of this type naming the slot and what it holds. Other programs
// skip token types they do not know.
constexpr const char* kKindToken = "vaultd-keyslot";
constexpr int kMaxTokens = 32;  // LUKS2's

struct TokenNote {
    engine::KeyKind kind = engine::KeyKind::Passphrase;
    std::string type;  // a foreign token's
};

std::optional<engine::KeyKind> kindFromName(const std::string& name)
{
    for (auto k : {engine::KeyKind::KeyFile, engine::KeyKind::Recovery})
        if (engine::keyKindName(k) == name)
            return k;
    return std::nullopt;
}

// Calls @f(token, type, keyslots, json) for every token of a LUKS2 header.
template <typename F>
void forEachToken(const Cryptsetup& cs, crypt_device* cd, F&& f)
{
    if (!isLuks2(cs, cd))
        return;
    for (int token = 0; token < kMaxTokens; ++token) {
        const char* text = nullptr;
        if (cs.crypt_token_json_get(cd, token, &text) < 0 || !text)
            continue;
        auto json = nlohmann::json::parse(text, nullptr, false);
        if (!json.is_object() || !json.contains("type") || !json["type"].is_string())
            continue;
        std::vector<int> slots;
        if (json.contains("keyslots") && json["keyslots"].is_array())
            for (const auto& k : json["keyslots"])
                if (k.is_string())
                    try {
                        slots.push_back(std::stoi(k.get<std::string>()));
                    } catch (const std::exception&) {
                    }
        f(token, json["type"].get<std::string>(), slots, json);
    }
}

// What the tokens say about each keyslot; a foreign token's binding wins
// over vaultd's own note.
std::map<int, TokenNote> tokenNotes(const Cryptsetup& cs, crypt_device* cd)
{
    std::map<int, TokenNote> notes;
    forEachToken(cs, cd,
                 [&](int, const std::string& type, const std::vector<int>& slots,
                     const nlohmann::json& json) {
                     for (int slot : slots) {
                         TokenNote& note = notes[slot];
                         if (type != kKindToken) {
                             note.kind = engine::KeyKind::Token;
                             note.type = type;
                         } else if (note.kind != engine::KeyKind::Token && json.contains("kind") &&
                                    json["kind"].is_string()) {
                             note.kind = kindFromName(json["kind"].get<std::string>())
                                             .value_or(engine::KeyKind::Passphrase);
                         }
                     }
                 });
    return notes;
}

// Removes vaultd's notes on @keyslot, and any left naming no keyslot (a
// destroyed keyslot's tokens lose it); and another program's token that
// names @keyslot alone (clevis's), which would open nothing after it.
void forgetKind(const Cryptsetup& cs, crypt_device* cd, int keyslot)
{
    std::vector<int> ours;
    forEachToken(cs, cd,
                 [&](int token, const std::string& type, const std::vector<int>& slots,
                     const nlohmann::json&) {
                     const bool names =
                         std::find(slots.begin(), slots.end(), keyslot) != slots.end();
                     if (type == kKindToken && (slots.empty() || names))
                         ours.push_back(token);
                     else if (type != kKindToken && names && slots.size() == 1)
                         ours.push_back(token);
                 });
    for (int token : ours)
        cs.crypt_token_json_set(cd, token, nullptr);
}

int noteKind(const Cryptsetup& cs, crypt_device* cd, int keyslot, engine::KeyKind kind)
{
    if (kind == engine::KeyKind::Passphrase || kind == engine::KeyKind::Token)
        return 0;
    const nlohmann::json note = {{"type", kKindToken},
                                 {"keyslots", {std::to_string(keyslot)}},
                                 {"kind", std::string(engine::keyKindName(kind))}};
    return cs.crypt_token_json_set(cd, CRYPT_ANY_TOKEN, note.dump().c_str());
}

engine::Error noFreeKeyslot(const std::string& node, int used, int max)
{
    return makeError(ErrorCode::NoFreeKeyslot,
                     fmt::format("'{}' has no free keyslot: {} of {} are in use; remove one "
                                 "first",
                                 node, used, max));
}

int activeKeyslots(const Cryptsetup& cs, crypt_device* cd, int max)
{
    int used = 0;
    for (int slot = 0; slot < max; ++slot) {
        const crypt_keyslot_info st = cs.crypt_keyslot_status(cd, slot);
        used += st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST;
    }
    return used;
}

// libcryptsetup takes metadata locks only while this is in scope; a
// repair writes only under them (see configure()).
class MetadataLocking {
public:
    explicit MetadataLocking(const Cryptsetup& cs) : cs_(cs)
    {
        // Its lock files for block devices live there; made here so that a
        // repair never depends on whether this libcryptsetup makes it.
        mkdir("/run/cryptsetup", 0700);
        cs.crypt_metadata_locking(nullptr, 1);
    }
    ~MetadataLocking() { cs_.crypt_metadata_locking(nullptr, 0); }
    MetadataLocking(const MetadataLocking&) = delete;
    MetadataLocking& operator=(const MetadataLocking&) = delete;

private:
    const Cryptsetup& cs_;
};

engine::Result<CryptPtr> initMapping(const Cryptsetup& cs, const std::string& name)
{
    crypt_device* cd = nullptr;
    if (cs.crypt_init_by_name(&cd, name.c_str()) < 0)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    return CryptPtr(cd, CryptFree{&cs});
}

engine::Result<CryptPtr> initDevice(const Cryptsetup& cs, const std::string& node)
{
    crypt_device* cd = nullptr;
    const int rc = cs.crypt_init(&cd, node.c_str());
    if (rc < 0) {
        if (rc == -ENOENT || rc == -ENXIO || rc == -ENOTBLK)
            return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
        return failure("open", node, rc);
    }
    return CryptPtr(cd, CryptFree{&cs});
}

// A context for @node with its LUKS header loaded; NotLuks without one.
engine::Result<CryptPtr> openLuks(const Cryptsetup& cs, const std::string& node)
{
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    if (auto st = loadLuks(cs, cd.value().get(), node); !st)
        return st.error();
    return cd;
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

// The volume keys of the mappings vaultd opened, so that it can reload a
// mapping (to grow it) without asking for the passphrase again. Each is a
// "user" key in vaultd's own process keyring: not in vaultd's memory, not
// in any other process's keyrings, readable only by its possessor, and gone
// when vaultd exits. Lock drops it. See README "Growing a volume".
namespace kept {

// <keyutils.h> has these; the kernel headers do not.
constexpr std::uint32_t kPossessorAll = 0x3f000000;

long keyctl(int op, unsigned long a = 0, unsigned long b = 0, unsigned long c = 0,
            unsigned long d = 0)
{
    return syscall(SYS_keyctl, op, a, b, c, d);
}

std::string description(const std::string& name)
{
    return "vaultd:" + name;
}

long find(const std::string& name)
{
    return keyctl(KEYCTL_SEARCH, static_cast<unsigned long>(KEY_SPEC_PROCESS_KEYRING),
                  reinterpret_cast<unsigned long>("user"),
                  reinterpret_cast<unsigned long>(description(name).c_str()), 0);
}

void forget(const std::string& name)
{
    // Invalidation destroys the key at once, wherever it is linked.
    for (long id = find(name); id >= 0; id = find(name))
        if (keyctl(KEYCTL_INVALIDATE, static_cast<unsigned long>(id)) < 0)
            return;
}

void keep(const std::string& name, const char* key, std::size_t bytes)
{
    forget(name);
    // Made with a placeholder, closed to everyone but its possessor, and
    // only then given the key: it is never readable by anybody else.
    const char placeholder = 0;
    const long id = syscall(SYS_add_key, "user", description(name).c_str(), &placeholder,
                            std::size_t{1}, KEY_SPEC_PROCESS_KEYRING);
    if (id < 0) {
        log::warning(
            fmt::format("cannot keep the volume key of '{}': {}; growing it will need "
                        "the passphrase",
                        name, std::strerror(errno)));
        return;
    }
    if (keyctl(KEYCTL_SETPERM, static_cast<unsigned long>(id), kPossessorAll) < 0 ||
        keyctl(KEYCTL_UPDATE, static_cast<unsigned long>(id), reinterpret_cast<unsigned long>(key),
               bytes) < 0) {
        keyctl(KEYCTL_INVALIDATE, static_cast<unsigned long>(id));
        log::warning(
            fmt::format("cannot keep the volume key of '{}': {}", name, std::strerror(errno)));
    }
}

// The key, or nothing when vaultd has none for @name.
std::optional<engine::SecretBuffer> read(const std::string& name)
{
    const long id = find(name);
    if (id < 0)
        return std::nullopt;
    engine::SecretBuffer key(512);
    const long n = keyctl(KEYCTL_READ, static_cast<unsigned long>(id),
                          reinterpret_cast<unsigned long>(key.spare().data()), key.capacity());
    if (n <= 0 || static_cast<std::size_t>(n) > key.capacity())
        return std::nullopt;
    key.commit(static_cast<std::size_t>(n));
    return key;
}

}  // namespace kept

}  // namespace

// libcryptsetup, loaded, for this caller alone until it is dropped.
struct LibCrypt::Held {
    const Cryptsetup& cs;
    std::unique_lock<std::mutex> lock;
};

LibCrypt::LibCrypt(const std::string& library)
    : library_(std::make_unique<LazyLibrary<Cryptsetup>>(library, &configure))
{
    // A thread that makes the process keyring has it alone; threads started
    // afterwards share it. So it is made now, before the workers start.
    if (kept::keyctl(KEYCTL_GET_KEYRING_ID, static_cast<unsigned long>(KEY_SPEC_PROCESS_KEYRING),
                     1) < 0)
        log::warning(
            fmt::format("no process keyring ({}): growing a volume will need its "
                        "passphrase",
                        std::strerror(errno)));
}

LibCrypt::~LibCrypt() = default;

engine::Result<const Cryptsetup*> LibCrypt::loaded()
{
    std::lock_guard hold(libraryLock);
    return library_->get();
}

engine::Result<LibCrypt::Held> LibCrypt::hold()
{
    // Taken first, so that libcryptsetup is also loaded and configured
    // while no other thread uses it.
    std::unique_lock lock(libraryLock);
    auto cs = library_->get();
    if (!cs)
        return cs.error();
    return Held{*cs.value(), std::move(lock)};
}

engine::Status LibCrypt::format(const std::string& node, const engine::LuksParams& params,
                                const engine::SecretBuffer& passphrase,
                                const std::string& activateAs)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();

    crypt_pbkdf_type pbkdf = toPbkdf(params.pbkdf);
    crypt_params_luks2 luks2{};
    luks2.pbkdf = &pbkdf;
    luks2.sector_size = params.sectorSize;
    luks2.label = params.label.empty() ? nullptr : params.label.c_str();

    int rc = cs.crypt_format(c, CRYPT_LUKS2, params.cipher.c_str(), params.mode.c_str(), nullptr,
                             nullptr, params.keyBytes, &luks2);
    if (rc < 0)
        return failure("write a LUKS2 header on", node, rc);

    rc = cs.crypt_keyslot_add_by_volume_key(c, CRYPT_ANY_SLOT, nullptr, 0, passphrase.data(),
                                            passphrase.size());
    if (rc < 0)
        return failure("add a keyslot to", node, rc);
    if (int noted = noteKind(cs, c, rc, params.keyKind); noted < 0)
        return failure("record the kind of the first keyslot of", node, noted);
    if (int stored = storeFlags(cs, c, params.flags); stored < 0)
        return failure("store the dm-crypt options in the header of", node, stored);

    if (!activateAs.empty()) {
        ThreadKeyringScrub scrub;
        rc = cs.crypt_activate_by_volume_key(c, activateAs.c_str(), nullptr, 0, 0);
        if (rc < 0)
            return failure("open a mapping of", node, rc);
    }
    return engine::Done{};
}

engine::Result<int> LibCrypt::activate(const std::string& node, const std::string& name,
                                       const engine::SecretBuffer& passphrase, int keyslot,
                                       const engine::MappingOptions& options)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();

    if (cs.crypt_load(c, CRYPT_LUKS, nullptr) < 0)
        return makeError(ErrorCode::NotLuks, fmt::format("'{}' holds no LUKS container", node));

    if (name.empty()) {
        const int rc = cs.crypt_activate_by_passphrase(c, nullptr, keyslot, passphrase.data(),
                                                       passphrase.size(), 0);
        if (rc < 0)
            return derivationFailure(node, keyslot, rc);
        return rc;
    }

    // The passphrase gives the volume key once; it opens the mapping and is
    // kept for growing it later (see kept::).
    auto opened = volumeKeyFor(cs, c, passphrase, node, keyslot);
    if (!opened)
        return opened.error();
    const engine::SecretBuffer& key = opened.value().key;
    int rc = 0;
    {
        ThreadKeyringScrub scrub;
        rc = cs.crypt_activate_by_volume_key(c, name.c_str(), key.data(), key.size(),
                                             activationFlags(options));
    }
    if (rc == -EEXIST || rc == -EBUSY)
        return makeError(
            ErrorCode::Busy,
            fmt::format("cannot open '{}' as '{}': the device or the name is in use", node, name));
    if (rc < 0)
        return failure("unlock", node, rc);
    kept::keep(name, key.data(), key.size());
    return opened.value().keyslot;
}

engine::Status LibCrypt::deactivate(const std::string& name, Deactivate how)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    if (cs.crypt_status(nullptr, name.c_str()) < CRYPT_ACTIVE) {
        kept::forget(name);
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    }
    std::uint32_t flags = 0;
    if (how == Deactivate::Deferred)
        flags = CRYPT_DEACTIVATE_DEFERRED;
    else if (how == Deactivate::Force)
        flags = CRYPT_DEACTIVATE_FORCE;
    // Without a context: a mapping whose device is gone may not give one.
    const int rc = cs.crypt_deactivate_by_name(nullptr, name.c_str(), flags);
    if (rc == -EBUSY)
        return makeError(ErrorCode::Busy, fmt::format("the mapping '{}' is still in use", name));
    if (rc < 0)
        return failure("close the mapping", name, rc);
    kept::forget(name);
    return engine::Done{};
}

bool LibCrypt::mappingExists(const std::string& name)
{
    auto held = hold();
    if (!held)
        return false;
    const Cryptsetup& cs = held.value().cs;
    const crypt_status_info st = cs.crypt_status(nullptr, name.c_str());
    return st == CRYPT_ACTIVE || st == CRYPT_BUSY;
}

engine::Result<engine::Crypt::Mapping> LibCrypt::mapping(const std::string& name)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = initMapping(cs, name);
    if (!cd)
        return cd.error();
    crypt_active_device active{};
    if (cs.crypt_get_active_device(cd.value().get(), name.c_str(), &active) < 0)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));
    Mapping m;
    m.offset = active.offset * 512;
    m.size = active.size * 512;
    // Without a keyring key the table itself holds the key, and a reload
    // reads it from there.
    m.keyAtHand = !(active.flags & CRYPT_ACTIVATE_KEYRING_KEY) || kept::find(name) >= 0;
    return m;
}

engine::Status LibCrypt::resize(const std::string& name, const engine::SecretBuffer* passphrase)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = initMapping(cs, name);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    crypt_active_device active{};
    if (cs.crypt_get_active_device(c, name.c_str(), &active) < 0)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("no mapping '{}'", name));

    // dm-crypt takes a keyring key from the keyrings of whoever loads the
    // table, so the reload must run with the key in this thread's keyring.
    ThreadKeyringScrub scrub;
    if (active.flags & CRYPT_ACTIVATE_KEYRING_KEY) {
        int rc = -ENOKEY;
        if (auto key = kept::read(name))
            rc = cs.crypt_activate_by_volume_key(c, nullptr, key->data(), key->size(),
                                                 CRYPT_ACTIVATE_KEYRING_KEY);
        if (rc < 0 && passphrase) {
            auto opened = volumeKeyFor(cs, c, *passphrase, name);
            if (!opened)
                return opened.error();
            const engine::SecretBuffer& key = opened.value().key;
            rc = cs.crypt_activate_by_volume_key(c, nullptr, key.data(), key.size(),
                                                 CRYPT_ACTIVATE_KEYRING_KEY);
            if (rc >= 0)
                kept::keep(name, key.data(), key.size());
        }
        if (rc < 0 && !passphrase) {
            if (kept::find(name) >= 0)
                log::warning(fmt::format("the volume key kept for '{}' did not load: {}", name,
                                         std::strerror(-rc)));
            return makeError(ErrorCode::CredentialRequired,
                             fmt::format("the volume key of '{}' is in the kernel only (it was "
                                         "opened by another program, or before vaultd last "
                                         "started); the passphrase is needed to grow it",
                                         name));
        }
        if (rc < 0)
            return failure("load the volume key of", name, rc);
    }
    const int rc = cs.crypt_resize(c, name.c_str(), 0);
    if (rc < 0)
        return failure("resize the mapping", name, rc);
    return engine::Done{};
}

engine::Status LibCrypt::backupHeader(const std::string& node, const std::string& file)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    // libcryptsetup says EINVAL both for a device without a header and for a
    // backup file it cannot create (one is there, or its directory is not
    // writable); loading the header first tells them apart.
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    const int rc = cs.crypt_header_backup(c, nullptr, file.c_str());
    if (rc == -EINVAL)
        return makeError(ErrorCode::Failed,
                         fmt::format("cannot create the header backup '{}' of '{}': it exists "
                                     "already, or its directory cannot be written",
                                     file, node));
    if (rc < 0)
        return failure("back up the header of", node, rc);
    return engine::Done{};
}

engine::Result<engine::HeaderInfo> LibCrypt::header(const std::string& fileOrNode)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = openLuks(cs, fileOrNode);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();

    engine::HeaderInfo info;
    info.version = isLuks2(cs, c) ? 2 : 1;
    const char* uuid = cs.crypt_get_uuid(c);
    info.uuid = uuid ? uuid : "";
    const char* label = info.version == 2 ? cs.crypt_get_label(c) : nullptr;
    info.label = label ? label : "";
    info.dataOffset = cs.crypt_get_data_offset(c) * 512;
    info.maxKeyslots = cs.crypt_keyslot_max(cs.crypt_get_type(c));
    if (std::uint32_t flags = 0;
        info.version == 2 && cs.crypt_persistent_flags_get(c, CRYPT_FLAGS_ACTIVATION, &flags) == 0)
        info.flags = fromActivationFlags(flags);
    const auto notes = tokenNotes(cs, c);
    for (int slot = 0; slot < info.maxKeyslots; ++slot) {
        const crypt_keyslot_info st = cs.crypt_keyslot_status(c, slot);
        if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST)
            continue;
        engine::Keyslot k;
        k.slot = slot;
        if (auto it = notes.find(slot); it != notes.end()) {
            k.kind = it->second.kind;
            k.tokenType = it->second.type;
        }
        crypt_pbkdf_type p{};
        if (cs.crypt_keyslot_get_pbkdf(c, slot, &p) == 0) {
            k.pbkdf = p.type ? p.type : "";
            k.hash = p.hash ? p.hash : "";
            k.iterations = p.iterations;
            k.memoryKib = p.max_memory_kb;
            k.parallel = p.parallel_threads;
        }
        k.ignored = cs.crypt_keyslot_get_priority(c, slot) == CRYPT_SLOT_PRIORITY_IGNORE;
        info.keyslots.push_back(std::move(k));
    }
    return info;
}

engine::Status LibCrypt::restoreHeader(const std::string& node, const std::string& file)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    const int rc = cs.crypt_header_restore(cd.value().get(), CRYPT_LUKS, file.c_str());
    if (rc < 0)
        return failure("restore the header of", node, rc);
    return engine::Done{};
}

engine::Status LibCrypt::repairHeader(const std::string& node)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    MetadataLocking locking(cs);
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    const int rc = cs.crypt_repair(cd.value().get(), CRYPT_LUKS, nullptr);
    if (rc < 0)
        return failure("repair the header of", node, rc);
    return engine::Done{};
}

namespace {

struct Extent {
    std::uint64_t size = 0;
    bool blockDevice = false;
};

// The size of a block device, or of a file (the host tests erase images).
engine::Result<Extent> extentOf(const std::string& node)
{
    const int fd = open(node.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return makeError(errno == ENOENT ? ErrorCode::NoSuchDevice : ErrorCode::Failed,
                         fmt::format("cannot open '{}': {}", node, std::strerror(errno)));
    std::uint64_t size = 0;
    struct stat st {};
    bool known = fstat(fd, &st) == 0 &&
                 (S_ISBLK(st.st_mode) ? ioctl(fd, BLKGETSIZE64, &size) == 0
                                      : (size = static_cast<std::uint64_t>(st.st_size), true));
    const int error = errno;
    close(fd);
    if (!known)
        return makeError(ErrorCode::Failed, fmt::format("cannot read the size of '{}': {}", node,
                                                        std::strerror(error)));
    return Extent{size, S_ISBLK(st.st_mode)};
}

int reportWiped(std::uint64_t size, std::uint64_t offset, void* progress)
{
    auto* p = static_cast<engine::Progress*>(progress);
    p->bytes(offset, size);
    return p->cancelRequested() ? 1 : 0;
}

}  // namespace

engine::Status LibCrypt::erase(const std::string& node, engine::Progress& progress)
{
    // libraryLock only to load libcryptsetup: writing a device's blocks
    // touches no device-mapper state, and an erase may take hours that other
    // volumes must not wait.
    auto library = loaded();
    if (!library)
        return library.error();
    const Cryptsetup& cs = *library.value();
    auto extent = extentOf(node);
    if (!extent)
        return extent.error();
    const std::uint64_t size = extent.value().size;
    auto cd = initDevice(cs, node);
    if (!cd)
        return cd.error();
    constexpr std::size_t kBlock = 4u << 20;
    progress.bytes(0, size);
    // Past the page cache on a device; a file (an image) may not allow it.
    const std::uint32_t flags = extent.value().blockDevice ? 0 : CRYPT_WIPE_NO_DIRECT_IO;
    const int rc = cs.crypt_wipe(cd.value().get(), nullptr, CRYPT_WIPE_ZERO, 0, size, kBlock, flags,
                                 reportWiped, &progress);
    if (rc == -EINTR || (rc < 0 && progress.cancelRequested()))
        return makeError(ErrorCode::Cancelled,
                         fmt::format("the erase of '{}' was cancelled", node));
    if (rc < 0)
        return failure("erase", node, rc);
    progress.bytes(size, size);
    return engine::Done{};
}

engine::Status LibCrypt::setHeaderFlags(const std::string& node, const engine::HeaderFlags& flags)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    if (!isLuks2(cs, c))
        return makeError(
            ErrorCode::NotSupportedOnLuks1,
            fmt::format("'{}' is LUKS1, whose header keeps no dm-crypt options", node));
    if (int rc = storeFlags(cs, c, flags); rc < 0)
        return failure("store the dm-crypt options in the header of", node, rc);
    return engine::Done{};
}

namespace {

// A new keyslot for @added, authorized by @existing, with @pbkdf; then
// @record(c, slot) notes what it is in a token. A slot whose note cannot be
// written is destroyed again.
template <typename Record>
engine::Result<int> addRecordedKeyslot(const Cryptsetup& cs, const std::string& node,
                                       const engine::SecretBuffer& existing, int existingSlot,
                                       const engine::SecretBuffer& added,
                                       const engine::PbkdfSettings& pbkdf, bool needsTokens,
                                       Record&& record)
{
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    if (!isLuks2(cs, c) && needsTokens)
        return makeError(ErrorCode::NotSupportedOnLuks1,
                         fmt::format("'{}' is LUKS1, which has no tokens to record a keyslot's "
                                     "kind in",
                                     node));
    const int max = cs.crypt_keyslot_max(cs.crypt_get_type(c));
    const int used = activeKeyslots(cs, c, max);
    if (used >= max)
        return noFreeKeyslot(node, used, max);

    auto opened = volumeKeyFor(cs, c, existing, node, existingSlot);
    if (!opened)
        return opened.error();
    crypt_pbkdf_type p = toPbkdf(pbkdf);
    if (int rc = cs.crypt_set_pbkdf_type(c, &p); rc < 0)
        return failure("set the key derivation for", node, rc);
    const engine::SecretBuffer& key = opened.value().key;
    const int slot = cs.crypt_keyslot_add_by_volume_key(c, CRYPT_ANY_SLOT, key.data(), key.size(),
                                                        added.data(), added.size());
    // The slots' key material must also fit in the header's keyslot area.
    if (slot == -ENOSPC)
        return noFreeKeyslot(node, used, max);
    if (slot == -ENOMEM)
        return outOfMemory(node, CRYPT_ANY_SLOT);
    if (slot < 0)
        return failure("add a keyslot to", node, slot);
    if (int rc = record(c, slot); rc < 0) {
        cs.crypt_keyslot_destroy(c, slot);
        return failure("record the new keyslot in a token of", node, rc);
    }
    return slot;
}

}  // namespace

engine::Result<int> LibCrypt::addKeyslot(const std::string& node,
                                         const engine::SecretBuffer& existing, int existingSlot,
                                         const engine::SecretBuffer& added,
                                         const engine::PbkdfSettings& pbkdf, engine::KeyKind kind)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    return addRecordedKeyslot(
        cs, node, existing, existingSlot, added, pbkdf, kind != engine::KeyKind::Passphrase,
        [&cs, kind](crypt_device* c, int slot) { return noteKind(cs, c, slot, kind); });
}

engine::Result<int> LibCrypt::addBoundKeyslot(const std::string& node,
                                              const engine::SecretBuffer& existing,
                                              int existingSlot, const engine::SecretBuffer& added,
                                              const engine::PbkdfSettings& pbkdf,
                                              const std::string& tokenJson)
{
    auto token = nlohmann::json::parse(tokenJson, nullptr, false);
    if (!token.is_object() || !token.contains("type") || !token["type"].is_string())
        return makeError(ErrorCode::Failed, "the key server's token is not a LUKS2 token");
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    return addRecordedKeyslot(cs, node, existing, existingSlot, added, pbkdf, true,
                              [&cs, &token](crypt_device* c, int slot) {
                                  token["keyslots"] = {std::to_string(slot)};
                                  return cs.crypt_token_json_set(c, CRYPT_ANY_TOKEN,
                                                                 token.dump().c_str());
                              });
}

engine::Result<std::vector<engine::TokenRecord>> LibCrypt::tokens(const std::string& node)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    std::vector<engine::TokenRecord> found;
    forEachToken(cs, cd.value().get(),
                 [&](int token, const std::string& type, const std::vector<int>& slots,
                     const nlohmann::json& json) {
                     found.push_back({token, type, slots, json.dump()});
                 });
    return found;
}

engine::Result<int> LibCrypt::changeKey(const std::string& node, const engine::SecretBuffer& old,
                                        int oldSlot, const engine::SecretBuffer& replacement,
                                        const engine::PbkdfSettings& pbkdf)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    // Which slot @old opens, so that its kind moves with it.
    auto opened = volumeKeyFor(cs, c, old, node, oldSlot);
    if (!opened)
        return opened.error();
    const int from = opened.value().keyslot;
    const auto notes = tokenNotes(cs, c);
    const auto note = notes.find(from);
    const engine::KeyKind kind =
        note == notes.end() ? engine::KeyKind::Passphrase : note->second.kind;

    crypt_pbkdf_type p = toPbkdf(pbkdf);
    if (int rc = cs.crypt_set_pbkdf_type(c, &p); rc < 0)
        return failure("set the key derivation for", node, rc);
    const engine::SecretBuffer& key = opened.value().key;
    const int max = cs.crypt_keyslot_max(cs.crypt_get_type(c));
    int to = 0;
    if (activeKeyslots(cs, c, max) < max) {
        // The new secret goes in a new slot first; only then does the old
        // one go: a failure in between leaves both working, never neither.
        to = cs.crypt_keyslot_add_by_volume_key(c, CRYPT_ANY_SLOT, key.data(), key.size(),
                                                replacement.data(), replacement.size());
        if (to < 0)
            return to == -ENOMEM ? outOfMemory(node, CRYPT_ANY_SLOT)
                                 : failure("add a keyslot to", node, to);
        if (int rc = cs.crypt_keyslot_destroy(c, from); rc < 0)
            return failure(fmt::format("remove the old keyslot {} of", from).c_str(), node, rc);
    } else {
        // A full header: libcryptsetup rewrites the slot in place.
        to = cs.crypt_keyslot_change_by_passphrase(c, from, from, old.data(), old.size(),
                                                   replacement.data(), replacement.size());
        if (to < 0)
            return derivationFailure(node, from, to);
    }
    if (to != from) {
        forgetKind(cs, c, from);
        if (noteKind(cs, c, to, kind) < 0)
            log::warning(fmt::format("keyslot {} of '{}' lost its note as a {}", to, node,
                                     engine::keyKindName(kind)));
    }
    return to;
}

engine::Status LibCrypt::removeKeyslot(const std::string& node, int keyslot)
{
    auto held = hold();
    if (!held)
        return held.error();
    const Cryptsetup& cs = held.value().cs;
    auto cd = openLuks(cs, node);
    if (!cd)
        return cd.error();
    crypt_device* c = cd.value().get();
    forgetKind(cs, c, keyslot);
    const int rc = cs.crypt_keyslot_destroy(c, keyslot);
    if (rc < 0)
        return failure(fmt::format("remove keyslot {} of", keyslot).c_str(), node, rc);
    return engine::Done{};
}

}  // namespace vaultd::system
