// VolumeWatch follows what vaultd signals about its volumes on one bus connection: volume
// objects added and removed, their properties changed, and vaultd leaving the bus or coming
// back. It reads no volumes itself: after each change it reports, the caller reads them again.
// The subscriptions are in place when the constructor returns, so a read made after it misses
// no later change. Borrows the connection, which must outlive it; not thread safe, and it runs
// the connection's callbacks on the caller's thread.
#pragma once

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/TypeTraits.h>

#include <chrono>
#include <optional>
#include <vector>

namespace vaultctl {

class VolumeWatch {
public:
    using Deadline = std::optional<std::chrono::steady_clock::time_point>;

    explicit VolumeWatch(sdbus::IConnection& connection);
    // The match callbacks point at this object.
    VolumeWatch(const VolumeWatch&) = delete;
    VolumeWatch& operator=(const VolumeWatch&) = delete;

    // Returns true when something changed since the last call, vaultd leaving the bus and
    // coming back included, or when a slow periodic re-read is due (a safety net, should a
    // signal be lost); false once @deadline passes (never, when it is unset). While vaultd is
    // not on the bus no re-read is due: reading would start it again.
    bool waitForChange(const Deadline& deadline);

    // As far as the signals read so far tell.
    bool vaultdRunning() const { return running_; }

private:
    void onOwnerChanged(sdbus::Message& message);
    bool vaultdHasOwner();
    void pollUntil(std::chrono::steady_clock::time_point until);

    sdbus::IConnection& connection_;
    std::vector<sdbus::Slot> matches_;
    bool changed_ = false;
    bool running_ = true;
};

}  // namespace vaultctl
