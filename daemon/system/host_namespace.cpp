#include "system/host_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "system/log.hpp"

namespace vaultd::system {

namespace {

constexpr const char* kHostNamespace = "/proc/1/ns/mnt";
constexpr const char* kOwnNamespace = "/proc/self/ns/mnt";

// PID 1's mount namespace, open, when it is not ours; -1 otherwise. The
// open is a ptrace-style access to PID 1 (CAP_SYS_PTRACE, as for naming the
// processes that hold a volume).
int foreignHostNamespace()
{
    struct stat host {};
    struct stat own {};
    if (::stat(kHostNamespace, &host) != 0 || ::stat(kOwnNamespace, &own) != 0) {
        log::warning(
            fmt::format("cannot compare mount namespaces with PID 1's: {}", std::strerror(errno)));
        return -1;
    }
    if (host.st_dev == own.st_dev && host.st_ino == own.st_ino)
        return -1;
    const int fd = ::open(kHostNamespace, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        log::error(
            fmt::format("vaultd runs in a mount namespace of its own and cannot open "
                        "PID 1's ({}): its mounts will not be seen outside it",
                        std::strerror(errno)));
    return fd;
}

}  // namespace

HostNamespace::HostNamespace()
{
    const int fd = foreignHostNamespace();
    if (fd >= 0)
        thread_ = std::thread([this, fd] { serve(fd); });
}

HostNamespace::~HostNamespace()
{
    if (!thread_.joinable())
        return;
    {
        std::lock_guard guard(lock_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void HostNamespace::serve(int namespaceFd)
{
    // setns into a mount namespace needs a filesystem context of our own.
    const bool joined = ::unshare(CLONE_FS) == 0 && ::setns(namespaceFd, CLONE_NEWNS) == 0;
    if (!joined)
        log::error(
            fmt::format("cannot join PID 1's mount namespace ({}): vaultd's mounts will "
                        "not be seen outside its own",
                        std::strerror(errno)));
    else
        log::info("mounting in PID 1's mount namespace (vaultd's own is sandboxed)");
    ::close(namespaceFd);
    std::unique_lock guard(lock_);
    for (;;) {
        changed_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty())
            return;
        std::function<void()>* call = queue_.front();
        queue_.pop_front();
        guard.unlock();
        (*call)();
        guard.lock();
        *call = nullptr;  // done: the caller may go on
        changed_.notify_all();
    }
}

void HostNamespace::run(const std::function<void()>& call)
{
    if (!thread_.joinable()) {
        call();
        return;
    }
    std::function<void()> job = call;
    std::unique_lock guard(lock_);
    queue_.push_back(&job);
    changed_.notify_all();
    changed_.wait(guard, [&job] { return !job; });
}

engine::Status HostMounter::mount(const std::string& source, const std::string& target,
                                  const std::string& fstype, const std::string& options)
{
    std::optional<engine::Status> st;
    host_.run([&] { st = inner_.mount(source, target, fstype, options); });
    return std::move(*st);
}

engine::Status HostMounter::unmount(const std::string& target, bool lazy)
{
    std::optional<engine::Status> st;
    host_.run([&] { st = inner_.unmount(target, lazy); });
    return std::move(*st);
}

engine::Result<engine::Changed> HostMountPoints::prepare(const std::string& path)
{
    std::optional<engine::Result<engine::Changed>> r;
    host_.run([&] { r = inner_.prepare(path); });
    return std::move(*r);
}

engine::Result<engine::Changed> HostMountPoints::preparePrivate(const std::string& path)
{
    std::optional<engine::Result<engine::Changed>> r;
    host_.run([&] { r = inner_.preparePrivate(path); });
    return std::move(*r);
}

void HostMountPoints::remove(const std::string& path)
{
    host_.run([&] { inner_.remove(path); });
}

engine::Result<engine::Changed> HostMountPoints::adopt(const std::string& path, uid_t uid,
                                                       gid_t gid)
{
    std::optional<engine::Result<engine::Changed>> r;
    host_.run([&] { r = inner_.adopt(path, uid, gid); });
    return std::move(*r);
}

}  // namespace vaultd::system
