// The real KernelView: sysfs and mountinfo for topology, libblkid for
// signatures (and for wiping them), libudev for device links. Each call
// makes its own library contexts, so calls from several workers are safe.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class SystemKernelView final : public engine::KernelView {
public:
    engine::Topology readTopology() override;
    engine::DiskHealth diskHealth(const std::string& kernelName) override;
    engine::Result<engine::Signature> probe(const std::string& node) override;
    std::optional<UdevRecord> udevRecord(const std::string& kernelName) override;
    std::vector<std::string> links(const std::string& kernelName) override;
    std::vector<std::uint8_t> nvmeIdentify(const std::string& node) override;
    engine::Result<DeviceIdentity> identityOf(const std::string& node) override;
    bool canOpenExclusively(const std::string& node) override;
    engine::Status wipeSignatures(const std::string& node) override;
    engine::HeaderCopies luksHeaders(const std::string& node) override;
    engine::Result<std::uint64_t> filesystemSize(engine::Filesystem fs, const std::string& node,
                                                 const std::string& mountPoint) override;
    std::uint64_t memoryAvailable() override;
};

}  // namespace vaultd::system
