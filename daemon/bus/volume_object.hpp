// The org.vaultd.Vault1.Volume object of one device. Thin: decodes
// arguments, asks the Authorizer, hands the work to the VolumeService and
// maps the outcome to a reply or a named error. Loop thread only.
#pragma once

#include <string>

#include "bus/generated.hpp"
#include "engine/error.hpp"
#include "engine/volume.hpp"

namespace vaultd::bus {

class VolumeService;

std::string volumePath(const std::string& kernelName);

class VolumeObject final
    : public sdbus::AdaptorInterfaces<org::vaultd::Vault1::Volume_adaptor,
                                      sdbus::ManagedObject_adaptor, sdbus::Properties_adaptor> {
public:
    VolumeObject(sdbus::IConnection& connection, VolumeService& service, engine::Volume volume);
    ~VolumeObject();

    const engine::Volume& volume() const { return volume_; }
    // Stores the new view and announces the properties that changed.
    void update(engine::Volume volume);

private:
    using Options = std::map<std::string, sdbus::Variant>;

    void Format(sdbus::Result<>&& result, sdbus::UnixFd passphrase, std::string filesystem,
                Options options) override;
    void Unlock(sdbus::Result<std::string>&& result, sdbus::UnixFd passphrase, std::string name,
                Options options) override;
    void Mount(sdbus::Result<std::string>&& result, std::string mountPoint,
               Options options) override;
    void Unmount(sdbus::Result<>&& result, Options options) override;
    void Lock(sdbus::Result<>&& result, Options options) override;

    std::string Device() override { return volume_.node; }
    std::string KernelName() override { return volume_.kernelName; }
    uint64_t Size() override { return volume_.size; }
    std::string State() override { return std::string(engine::stateName(volume_.state)); }
    uint32_t LuksVersion() override { return volume_.signature.luksVersion; }
    std::string LuksUuid() override;
    std::string Label() override;
    std::string MappingName() override { return volume_.mappingName; }
    std::string MountPoint() override { return volume_.mountPoint; }
    std::string FilesystemType() override { return volume_.filesystemType; }

    // Replies with an error and returns true if the caller may not do
    // @action or the decoded @request was refused.
    template <typename Reply>
    bool refused(Reply& result, std::string_view verb, std::string_view action,
                 const engine::Status& request);

    VolumeService& service_;
    engine::Volume volume_;
};

}  // namespace vaultd::bus
