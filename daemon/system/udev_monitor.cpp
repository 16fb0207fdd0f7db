#include "system/udev_monitor.hpp"

#include <libmount/libmount.h>
#include <libudev.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace vaultd::system {

UdevMonitor::UdevMonitor()
{
    udev_ = udev_new();
    if (!udev_)
        throw std::runtime_error("failed to create a udev context");
    monitor_ = udev_monitor_new_from_netlink(udev_, "udev");
    if (!monitor_ ||
        udev_monitor_filter_add_match_subsystem_devtype(monitor_, "block", nullptr) < 0 ||
        udev_monitor_enable_receiving(monitor_) < 0) {
        if (monitor_)
            udev_monitor_unref(monitor_);
        udev_unref(udev_);
        throw std::runtime_error("failed to listen to udev");
    }
}

UdevMonitor::~UdevMonitor()
{
    udev_monitor_unref(monitor_);
    udev_unref(udev_);
}

int UdevMonitor::fd() const
{
    return udev_monitor_get_fd(monitor_);
}

std::vector<DeviceEvent> UdevMonitor::drain()
{
    std::vector<DeviceEvent> events;
    while (udev_device* dev = udev_monitor_receive_device(monitor_)) {
        const char* action = udev_device_get_action(dev);
        const char* name = udev_device_get_sysname(dev);
        const char* devtype = udev_device_get_devtype(dev);
        const char* diskseq = udev_device_get_property_value(dev, "DISKSEQ");
        events.push_back({action ? action : "", name ? name : "",
                          devtype && std::string_view(devtype) == "disk",
                          diskseq ? std::strtoull(diskseq, nullptr, 10) : 0});
        udev_device_unref(dev);
    }
    return events;
}

MountMonitor::MountMonitor()
{
    monitor_ = mnt_new_monitor();
    if (!monitor_ || mnt_monitor_enable_kernel(monitor_, 1) != 0) {
        mnt_unref_monitor(monitor_);
        throw std::runtime_error("failed to watch the mount table");
    }
}

MountMonitor::~MountMonitor()
{
    mnt_unref_monitor(monitor_);
}

int MountMonitor::fd() const
{
    return mnt_monitor_get_fd(monitor_);
}

bool MountMonitor::drain()
{
    bool changed = false;
    while (mnt_monitor_next_change(monitor_, nullptr, nullptr) == 0)
        changed = true;
    return changed;
}

}  // namespace vaultd::system
