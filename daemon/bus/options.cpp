#include "bus/options.hpp"
#include "engine/quote.hpp"

#include <fmt/format.h>

#include <initializer_list>
#include <string_view>
#include <utility>

namespace vaultd::bus {
namespace {

using engine::ErrorCode;
using engine::makeError;

engine::Status onlyKnown(const Options& options, std::initializer_list<std::string_view> known)
{
    for (const auto& [key, value] : options) {
        bool found = false;
        for (auto k : known)
            found = found || key == k;
        if (!found)
            return makeError(ErrorCode::InvalidArgument,
                             fmt::format("unknown option {}", engine::quoted(key)));
    }
    return engine::Done{};
}

template <typename T>
engine::Status take(const Options& options, const std::string& key, T& into)
{
    auto it = options.find(key);
    if (it == options.end())
        return engine::Done{};
    if (!it->second.containsValueOfType<T>())
        return makeError(
            ErrorCode::InvalidArgument,
            fmt::format("option '{}' must be of type '{}'", key, sdbus::signature_of<T>::str()));
    into = it->second.get<T>();
    return engine::Done{};
}

// "key-kind": what a secret is, "passphrase" when absent.
engine::Status takeKind(const Options& options, engine::KeyKind& kind)
{
    std::string name = "passphrase";
    if (auto st = take(options, "key-kind", name); !st)
        return st;
    if (name == "passphrase")
        kind = engine::KeyKind::Passphrase;
    else if (name == "keyfile")
        kind = engine::KeyKind::KeyFile;
    else
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("option 'key-kind' must be 'passphrase' or 'keyfile', not {}",
                                     engine::quoted(name)));
    return engine::Done{};
}

}  // namespace

engine::Result<engine::FormatRequest> decodeFormat(const std::string& filesystem,
                                                   const Options& options)
{
    engine::FormatRequest r;
    r.filesystem = filesystem;
    for (auto st : {onlyKnown(options, {"label", "force", "key-kind", "accept-weak", "workqueues",
                                        "discard", "erase", "interactive"}),
                    take(options, "label", r.label), take(options, "force", r.force),
                    takeKind(options, r.keyKind), take(options, "accept-weak", r.acceptWeak),
                    take(options, "workqueues", r.workqueues), take(options, "discard", r.discard),
                    take(options, "erase", r.erase)}) {
        if (!st)
            return st.error();
    }
    return r;
}

engine::Result<engine::KeyRequest> decodeKey(const Options& options)
{
    engine::KeyRequest r;
    for (auto st : {onlyKnown(options, {"key-kind", "accept-weak", "interactive"}),
                    takeKind(options, r.kind), take(options, "accept-weak", r.acceptWeak)}) {
        if (!st)
            return st.error();
    }
    return r;
}

engine::Result<engine::TuneRequest> decodeTune(const Options& options)
{
    engine::TuneRequest r;
    if (auto st =
            onlyKnown(options, {"read-workqueue", "write-workqueue", "discard", "interactive"});
        !st)
        return st.error();
    for (auto [key, into] :
         {std::pair{"read-workqueue", &r.readWorkqueue},
          std::pair{"write-workqueue", &r.writeWorkqueue}, std::pair{"discard", &r.discard}}) {
        if (!options.count(key))
            continue;
        bool value = false;
        if (auto st = take(options, key, value); !st)
            return st.error();
        *into = value;
    }
    return r;
}

engine::Result<engine::RestoreRequest> decodeRestore(const Options& options)
{
    engine::RestoreRequest r;
    for (auto st :
         {onlyKnown(options, {"force", "interactive"}), take(options, "force", r.force)}) {
        if (!st)
            return st.error();
    }
    return r;
}

engine::Result<engine::UnlockRequest> decodeUnlock(const std::string& name, const Options& options)
{
    engine::UnlockRequest r;
    r.name = name;
    // Present but empty is a mistake, not a request for the default.
    if (auto it = options.find("mount-point"); it != options.end() &&
                                               it->second.containsValueOfType<std::string>() &&
                                               it->second.get<std::string>().empty())
        return makeError(ErrorCode::InvalidMountPoint,
                         "invalid mount point '': leave the option out for the default");
    for (auto st : {onlyKnown(options, {"mount", "mount-point", "token", "interactive"}),
                    take(options, "mount", r.mount), take(options, "mount-point", r.mountPoint)}) {
        if (!st)
            return st.error();
    }
    return r;
}

engine::Result<bool> decodeByToken(const Options& options)
{
    bool byToken = false;
    if (auto st = take(options, "token", byToken); !st)
        return st.error();
    return byToken;
}

engine::Result<engine::LockRequest> decodeLock(const Options& options)
{
    engine::LockRequest r;
    for (auto st : {onlyKnown(options, {"lazy", "interactive"}), take(options, "lazy", r.lazy)}) {
        if (!st)
            return st.error();
    }
    return r;
}

engine::Result<std::optional<sdbus::UnixFd>> decodeGrow(const Options& options)
{
    if (auto st = onlyKnown(options, {"passphrase", "interactive"}); !st)
        return st.error();
    auto it = options.find("passphrase");
    if (it == options.end())
        return std::optional<sdbus::UnixFd>{};
    if (!it->second.containsValueOfType<sdbus::UnixFd>())
        return makeError(ErrorCode::InvalidArgument, "option 'passphrase' must be of type 'h'");
    return std::optional<sdbus::UnixFd>(it->second.get<sdbus::UnixFd>());
}

engine::Status expectNoOptions(const Options& options)
{
    return onlyKnown(options, {"interactive"});
}

engine::Result<bool> interactiveOf(const Options& options)
{
    bool interactive = false;
    if (auto st = take(options, "interactive", interactive); !st)
        return st.error();
    return interactive;
}

}  // namespace vaultd::bus
