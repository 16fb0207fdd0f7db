#include "system/mounter.hpp"

#include <libmount/libmount.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "engine/quote.hpp"

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;

using ContextPtr = std::unique_ptr<libmnt_context, decltype(&mnt_free_context)>;

ContextPtr newContext()
{
    ContextPtr cxt(mnt_new_context(), &mnt_free_context);
    if (cxt) {
        mnt_context_disable_helpers(cxt.get(), 1);
        mnt_context_disable_mtab(cxt.get(), 1);
        // Take our arguments literally: no fstab lookups, no guessing.
        mnt_context_disable_swapmatch(cxt.get(), 1);
    }
    return cxt;
}

std::string explain(libmnt_context* cxt, int rc)
{
    char buf[512] = {};
    mnt_context_get_excode(cxt, rc, buf, sizeof(buf));
    if (buf[0])
        return buf;
    const int err = mnt_context_get_syscall_errno(cxt);
    return std::strerror(err ? err : (rc < 0 ? -rc : EIO));
}

}  // namespace

engine::Status LibMounter::mount(const std::string& source, const std::string& target,
                                 const std::string& fstype, const std::string& options)
{
    ContextPtr cxt = newContext();
    if (!cxt)
        return makeError(ErrorCode::Failed, "failed to create a libmount context");
    mnt_context_set_source(cxt.get(), source.c_str());
    mnt_context_set_target(cxt.get(), target.c_str());
    mnt_context_set_fstype(cxt.get(), fstype.c_str());
    mnt_context_set_options(cxt.get(), options.c_str());

    const int rc = mnt_context_mount(cxt.get());
    if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
        const int err = mnt_context_get_syscall_errno(cxt.get());
        const ErrorCode code = err == EBUSY ? ErrorCode::Busy : ErrorCode::Failed;
        return makeError(code, fmt::format("failed to mount '{}' at {}: {}", source,
                                           engine::quoted(target), explain(cxt.get(), rc)));
    }
    return engine::Done{};
}

engine::Status LibMounter::unmount(const std::string& target, bool lazy)
{
    // A probe that udev starts when a file on it is closed can hold a
    // filesystem for a moment: a few tries, then it is really busy.
    constexpr int kTries = 3;
    constexpr auto kPause = std::chrono::milliseconds(100);
    int rc = 0;
    int err = 0;
    ContextPtr cxt(nullptr, &mnt_free_context);
    for (int attempt = 1; attempt <= kTries; ++attempt) {
        cxt = newContext();
        if (!cxt)
            return makeError(ErrorCode::Failed, "failed to create a libmount context");
        mnt_context_set_target(cxt.get(), target.c_str());
        if (lazy)
            mnt_context_enable_lazy(cxt.get(), 1);
        rc = mnt_context_umount(cxt.get());
        if (rc == 0 && mnt_context_get_status(cxt.get()) == 1)
            return engine::Done{};
        err = mnt_context_get_syscall_errno(cxt.get());
        if (err != EBUSY || attempt == kTries)
            break;
        std::this_thread::sleep_for(kPause);
    }
    if (err == EBUSY)
        return makeError(ErrorCode::Busy, fmt::format("'{}' is still in use by a process", target));
    return makeError(ErrorCode::Failed,
                     fmt::format("failed to unmount '{}': {}", target, explain(cxt.get(), rc)));
}

}  // namespace vaultd::system
