// Reads the kernel's block device topology: sysfs for devices, holders and
// device-mapper names, libmount for /proc/self/mountinfo, /proc/swaps for
// swap. Stateless; thread safe.
#pragma once

#include <sys/types.h>

#include <string>

#include "engine/topology.hpp"

namespace vaultd::system {

engine::Topology readTopology(const std::string& sysRoot = "/sys");

// A device number as sysfs and mountinfo spell it: "major:minor".
std::string devnumOf(dev_t dev);

}  // namespace vaultd::system
