// The operations on volumes: scan, format, unlock, mount, unmount, lock.
// Every call reads the device's state afresh from the kernel, checks the
// request against it, and only then changes anything; a refused request
// writes nothing. Blocking: call from a worker, never from the bus loop.
// Thread safe for different volumes; the caller serialises calls on one.
#pragma once

#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/ports.hpp"
#include "engine/secret_buffer.hpp"
#include "engine/volume.hpp"

namespace vaultd::engine {

struct EngineConfig {
    bool allowLoop = false;
    std::string mountBase = "/media/vault";
    // A mount point a caller names must be one of these or inside one.
    std::vector<std::string> mountRoots = {"/secure", "/mnt", "/media"};
    std::string mountOptions = "nodev,nosuid";
    PbkdfSettings pbkdf;
    IdentityRules identity;
};

struct FormatRequest {
    std::string filesystem;
    std::string label;
    std::string force;  // "NODE:SIZE" of the device, to destroy what it holds
};

// The caller an unlock or mount is for: who is recorded as having unlocked
// it, and who gets the root of a freshly made filesystem.
struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct UnlockRequest {
    std::string name;  // the mapping name; required
    bool mount = false;
    std::string mountPoint;  // empty: the default under mountBase
    Owner owner;
};

class Operations {
public:
    Operations(Ports ports, EngineConfig config);

    // Every device that is a volume now.
    std::vector<Volume> scan();

    // One volume, or NoSuchDevice if it is gone or not eligible.
    Result<Volume> inspect(const std::string& kernelName);

    Result<Changed> format(const std::string& kernelName, const SecretBuffer& passphrase,
                           const FormatRequest& request);
    // Returns where the filesystem is mounted, or empty.
    Result<std::string> unlock(const std::string& kernelName, const SecretBuffer& passphrase,
                               const UnlockRequest& request);
    Result<std::string> mount(const std::string& kernelName, const std::string& mountPoint,
                              const Owner& owner);
    Result<Changed> unmount(const std::string& kernelName);
    Result<Changed> lock(const std::string& kernelName);

    const EngineConfig& config() const { return config_; }

private:
    Result<Volume> inspectIn(const Topology& topology, const std::string& kernelName);
    Identity identityOf(const BlockNode& node, const std::vector<std::string>& links);
    Status checkFormatAllowed(const Topology& topology, const Volume& v,
                              const FormatRequest& request, Filesystem fs);
    Status checkRequestedMountPoint(const std::string& path) const;
    Result<std::string> mountMapping(const Volume& v, const std::string& requested,
                                     const Owner& owner);
    Result<std::string> mountAfterUnlock(const std::string& kernelName,
                                         const std::string& mountPoint, const Owner& owner);
    Result<Changed> unmountVolume(const Volume& v);

    Ports ports_;
    EngineConfig config_;
};

}  // namespace vaultd::engine
