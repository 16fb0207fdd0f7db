// Block device events from udev, after udev has processed them (so links and
// properties are in place). Non-blocking: wait for fd() to be readable, then
// call drain(). Not thread safe; lives on the loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct udev;
struct udev_monitor;
struct libmnt_monitor;

namespace vaultd::system {

struct DeviceEvent {
    std::string action;  // add, change, remove, ...
    std::string name;    // kernel name
    // A whole disk (a partition's event may carry its disk's DISKSEQ too).
    bool disk = false;
    // The disk's sequence number: 0 if absent.
    std::uint64_t diskseq = 0;
};

class UdevMonitor {
public:
    UdevMonitor();
    ~UdevMonitor();
    UdevMonitor(const UdevMonitor&) = delete;
    UdevMonitor& operator=(const UdevMonitor&) = delete;

    int fd() const;
    std::vector<DeviceEvent> drain();

private:
    udev* udev_ = nullptr;
    udev_monitor* monitor_ = nullptr;
};

// Changes to the mount table, from libmount's monitor. Same contract.
class MountMonitor {
public:
    MountMonitor();
    ~MountMonitor();
    MountMonitor(const MountMonitor&) = delete;
    MountMonitor& operator=(const MountMonitor&) = delete;

    int fd() const;
    // True if anything changed since the last call.
    bool drain();

private:
    libmnt_monitor* monitor_ = nullptr;
};

}  // namespace vaultd::system
