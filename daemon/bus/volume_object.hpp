// The org.vaultd.Vault1.Volume object of one device. Thin: decodes
// arguments, asks the Authorizer, hands the work to the VolumeService and
// maps the outcome to a reply or a named error. Loop thread only.
#pragma once

#include <string>

#include "bus/authorizer.hpp"
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
    // Which configured volume this is, and why vaultd's own unlock of it
    // failed last (both may be empty); announced when they change.
    void setConfiguration(const std::string& name, const std::string& error);
    const std::string& configurationError() const { return configurationError_; }

private:
    using Options = std::map<std::string, sdbus::Variant>;

    void Format(sdbus::Result<>&& result, sdbus::UnixFd passphrase, std::string filesystem,
                Options options) override;
    void Unlock(sdbus::Result<std::string, std::string>&& result, sdbus::UnixFd passphrase,
                std::string name, Options options) override;
    void Mount(sdbus::Result<std::string>&& result, std::string mountPoint,
               Options options) override;
    void Unmount(sdbus::Result<>&& result, Options options) override;
    void Lock(sdbus::Result<bool>&& result, Options options) override;
    void BackupHeader(sdbus::Result<std::string, uint64_t>&& result, sdbus::UnixFd file,
                      Options options) override;
    void Grow(
        sdbus::Result<std::vector<sdbus::Struct<std::string, uint64_t, uint64_t>>, bool>&& result,
        Options options) override;
    void ListKeyslots(
        sdbus::Result<uint32_t, std::vector<sdbus::Struct<uint32_t, std::string, std::string,
                                                          uint32_t, uint32_t, uint32_t>>>&& result,
        Options options) override;
    void BindTang(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing, std::string url,
                  std::string thumbprint, Options options) override;
    void AddKeyslot(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing, sdbus::UnixFd added,
                    Options options) override;
    void AddRecoveryKey(sdbus::Result<uint32_t>&& result, sdbus::UnixFd existing,
                        sdbus::UnixFd keyOut, Options options) override;
    void ChangePassphrase(sdbus::Result<uint32_t>&& result, sdbus::UnixFd old,
                          sdbus::UnixFd replacement, Options options) override;
    void RemoveKeyslot(sdbus::Result<>&& result, uint32_t keyslot, sdbus::UnixFd authorizing,
                       Options options) override;
    void RestoreHeader(sdbus::Result<std::string, std::string>&& result, sdbus::UnixFd file,
                       Options options) override;
    void RepairHeader(sdbus::Result<std::string>&& result, Options options) override;
    void Tune(sdbus::Result<std::vector<std::string>>&& result, Options options) override;

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
    uint32_t UnlockedBy() override { return volume_.unlockedBy.value_or(kNobody); }
    std::vector<std::string> Links() override { return volume_.links; }
    std::string Serial() override { return volume_.identity.serial; }
    std::string Model() override { return volume_.identity.model; }
    std::string EbsVolumeId() override { return volume_.identity.ebsVolumeId; }
    std::string RequestedName() override { return volume_.identity.requestedName; }
    bool Ephemeral() override { return volume_.identity.ephemeral; }
    std::vector<std::string> Duplicates() override { return volume_.duplicates; }
    uint64_t GrowableBy() override { return volume_.growableBy; }
    std::string HeaderHealth() override
    {
        return std::string(engine::headerHealthName(volume_.headerHealth));
    }
    std::string Failing() override { return volume_.failing; }
    std::string Configuration() override { return configuration_; }
    std::string ConfigurationError() override { return configurationError_; }

    static constexpr uint32_t kNobody = 4294967295u;

    std::map<std::string, std::string> details(const Caller& caller) const;

    // Checks the caller, the decoded @request and the options, asks polkit
    // for @action, and then calls @start(result, caller); on any refusal it
    // replies with the named error instead.
    template <typename Reply, typename Start>
    void authorized(Reply&& result, std::string_view verb, const std::string& action,
                    const engine::Status& request, const Options& options, Start start);

    VolumeService& service_;
    engine::Volume volume_;
    std::string configuration_;
    std::string configurationError_;
};

}  // namespace vaultd::bus
