// The VolumeUnits port over systemd's D-Bus API: starts
// vault-volume@NAME.service when vaultd has opened a configured volume, and
// stops it (with everything that requires it, a generated mount unit
// included) before vaultd unmounts or closes the volume. Does nothing when
// systemd is not the init system. Thread safe: calls run one at a time, on a
// connection of their own, from the worker threads (never the bus loop).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include <sdbus-c++/sdbus-c++.h>

#include "engine/ports.hpp"

namespace vaultd::bus {

class SystemdUnits final : public engine::VolumeUnits {
public:
    // @stopLimit: how long closing() waits for the units to stop.
    explicit SystemdUnits(std::chrono::milliseconds stopLimit);
    ~SystemdUnits() override;

    void opened(const std::string& mappingName) override;
    bool closing(const std::string& mappingName) override;

private:
    sdbus::IConnection* connection();
    std::string activeState(const std::string& unit);

    const std::chrono::milliseconds stopLimit_;
    const bool underSystemd_;
    std::mutex lock_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
};

}  // namespace vaultd::bus
