// The root object, /org/vaultd/Vault1: org.vaultd.Vault1.Manager plus the
// standard ObjectManager under which every Volume object is announced.
// Loop thread only.
#pragma once

#include "bus/generated.hpp"
#include "engine/operations.hpp"

namespace vaultd::bus {

class VolumeService;

inline constexpr const char* kBusName = "org.vaultd.Vault1";
inline constexpr const char* kRootPath = "/org/vaultd/Vault1";

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::vaultd::Vault1::Manager_adaptor,
                                      sdbus::ObjectManager_adaptor, sdbus::Properties_adaptor> {
public:
    ManagerObject(sdbus::IConnection& connection, VolumeService& service);
    ~ManagerObject();

    // Tells the bus a volume was lost (VolumeLost).
    void announceLost(const engine::LostMapping& lost);
    // ConfiguredVolumeUnlocked and ConfiguredVolumeFailed.
    void announceConfigured(const std::string& path, const engine::ConfiguredVolume& c,
                            const engine::UnlockResult& r);
    void announceConfiguredFailed(const std::string& path, const engine::ConfiguredVolume& c,
                                  const engine::Error& e);

private:
    std::string Version() override;
    uint64_t KeyDerivationMemory() override;
    sdbus::ObjectPath Resolve(const std::string& spec) override;
    std::vector<
        sdbus::Struct<std::string, std::string, std::string, std::string, int64_t, uint64_t>>
    ListHeaderBackups() override;
    void ReloadConfiguration(
        sdbus::Result<std::vector<std::string>, std::vector<std::string>>&& result,
        std::map<std::string, sdbus::Variant> options) override;

    VolumeService& service_;
};

}  // namespace vaultd::bus
