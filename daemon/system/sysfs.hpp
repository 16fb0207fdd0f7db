// Reads the kernel's block device topology: sysfs for devices, holders and
// device-mapper names, libmount for /proc/self/mountinfo, /proc/swaps for
// swap. Stateless; thread safe.
#pragma once

#include <sys/types.h>

#include <string>

#include "engine/topology.hpp"

namespace vaultd::system {

engine::Topology readTopology(const std::string& sysRoot = "/sys");

// What the driver of the disk under block device @kernelName says of its
// health (a partition's is its disk's): two small reads, for a look every
// few seconds.
engine::DiskHealth readDiskHealth(const std::string& kernelName,
                                  const std::string& sysRoot = "/sys");

// A device number as sysfs and mountinfo spell it: "major:minor".
std::string devnumOf(dev_t dev);

}  // namespace vaultd::system
