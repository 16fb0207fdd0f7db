// Mounts that are the host's, even when vaultd runs in a mount namespace of
// its own (systemd's ProtectSystem= and ProtectHome= give it one, in which
// mounts made would stay invisible to everyone else).
//
// When vaultd's mount namespace is not PID 1's, one thread leaves the
// process's shared filesystem context (unshare(CLONE_FS)) and joins PID 1's
// mount namespace (setns); mounting, unmounting and preparing mount points
// run there, so they happen where users and systemd see them, and the rest
// of vaultd keeps the read-only view of the system its unit gives it. Mounts
// made there propagate into vaultd's own namespace (systemd makes it a
// slave of the host's), so reading /proc/self/mountinfo still sees them.
// When the namespaces are the same (no sandbox), calls run in the caller's
// thread. Thread safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/ports.hpp"

namespace vaultd::system {

class HostNamespace {
public:
    HostNamespace();
    ~HostNamespace();
    HostNamespace(const HostNamespace&) = delete;
    HostNamespace& operator=(const HostNamespace&) = delete;

    // Runs @call in the host's mount namespace and returns when it has.
    void run(const std::function<void()>& call);
    bool separate() const { return thread_.joinable(); }

private:
    void serve(int namespaceFd);

    std::mutex lock_;
    std::condition_variable changed_;
    std::deque<std::function<void()>*> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

// The Mounter and MountPoints ports, each call run in the host's namespace.
class HostMounter final : public engine::Mounter {
public:
    HostMounter(HostNamespace& host, engine::Mounter& inner) : host_(host), inner_(inner) {}
    engine::Status mount(const std::string& source, const std::string& target,
                         const std::string& fstype, const std::string& options) override;
    engine::Status unmount(const std::string& target, bool lazy) override;

private:
    HostNamespace& host_;
    engine::Mounter& inner_;
};

class HostMountPoints final : public engine::MountPoints {
public:
    HostMountPoints(HostNamespace& host, engine::MountPoints& inner) : host_(host), inner_(inner) {}
    engine::Result<engine::Changed> prepare(const std::string& path) override;
    engine::Result<engine::Changed> preparePrivate(const std::string& path) override;
    void remove(const std::string& path) override;
    engine::Result<engine::Changed> adopt(const std::string& path, uid_t uid, gid_t gid) override;

private:
    HostNamespace& host_;
    engine::MountPoints& inner_;
};

}  // namespace vaultd::system
