#include "vault_client.hpp"

#include "manager_proxy.h"
#include "volume_proxy.h"

#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace vaultctl {
namespace {

constexpr const char* busName = "org.vaultd.Vault1";
constexpr const char* rootPath = "/org/vaultd/Vault1";
constexpr const char* objectManagerInterface = "org.freedesktop.DBus.ObjectManager";
constexpr const char* propertiesInterface = "org.freedesktop.DBus.Properties";
constexpr const char* volumeInterface = org::vaultd::Vault1::Volume_proxy::INTERFACE_NAME;

// Format runs a memory-hard KDF and mkfs before it replies; unlock runs the KDF too. sd-bus's
// default of 25 seconds would give up on a large or slow disk while vaultd is still working.
constexpr auto methodCallTimeout = std::chrono::minutes(15);

using ManagedObjects = std::map<sdbus::ObjectPath, std::map<std::string, PropertyMap>>;

// The proxies only borrow the connection, and live for one call or a few.
class ManagerProxy final : public sdbus::ProxyInterfaces<org::vaultd::Vault1::Manager_proxy> {
public:
    explicit ManagerProxy(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, busName, rootPath)
    {
        // Not registered: registering would add (and removing it drop) a
        // match rule per signal, six round trips with the bus for signals
        // this one-call proxy never waits for. Method calls need none.
    }

    // vaultctl makes one call and goes; it does not follow signals.
    void onVolumeLost(const std::string&, const std::string&, const std::string&,
                      const std::vector<std::string>&, const bool&) override
    {
    }
    void onConfiguredVolumeUnlocked(const sdbus::ObjectPath&, const std::string&,
                                    const std::string&, const std::string&) override
    {
    }
    void onConfiguredVolumeFailed(const sdbus::ObjectPath&, const std::string&, const std::string&,
                                  const std::string&) override
    {
    }

    ManagedObjects managedObjects()
    {
        ManagedObjects objects;
        getProxy()
            .callMethod("GetManagedObjects")
            .onInterface(objectManagerInterface)
            .storeResultsTo(objects);
        return objects;
    }
};

class VolumeProxy final : public sdbus::ProxyInterfaces<org::vaultd::Vault1::Volume_proxy> {
public:
    VolumeProxy(sdbus::IConnection& connection, const std::string& path)
        : ProxyInterfaces(connection, busName, path)
    {
        registerProxy();
    }

    ~VolumeProxy() { unregisterProxy(); }

    // One round trip instead of one per property, and one consistent view of the volume.
    PropertyMap allProperties()
    {
        PropertyMap properties;
        getProxy()
            .callMethod("GetAll")
            .onInterface(propertiesInterface)
            .withArguments(std::string(volumeInterface))
            .storeResultsTo(properties);
        return properties;
    }
};

template <typename T>
void assign(const PropertyMap& properties, const char* name, T& target)
{
    auto found = properties.find(name);
    if (found != properties.end())
        target = found->second.get<T>();
}

sdbus::UnixFd toUnixFd(UniqueFd fd)
{
    return sdbus::UnixFd(fd.release(), sdbus::adopt_fd);
}

}  // namespace

VolumeProperties volumeFromProperties(const PropertyMap& properties)
{
    VolumeProperties volume;
    assign(properties, "Device", volume.device);
    assign(properties, "KernelName", volume.kernelName);
    assign(properties, "Size", volume.size);
    assign(properties, "State", volume.state);
    assign(properties, "LuksVersion", volume.luksVersion);
    assign(properties, "LuksUuid", volume.luksUuid);
    assign(properties, "Label", volume.label);
    assign(properties, "MappingName", volume.mappingName);
    assign(properties, "MountPoint", volume.mountPoint);
    assign(properties, "FilesystemType", volume.filesystemType);
    assign(properties, "UnlockedBy", volume.unlockedBy);
    assign(properties, "Links", volume.links);
    assign(properties, "Serial", volume.serial);
    assign(properties, "Model", volume.model);
    assign(properties, "EbsVolumeId", volume.ebsVolumeId);
    assign(properties, "RequestedName", volume.requestedName);
    assign(properties, "Ephemeral", volume.ephemeral);
    assign(properties, "Duplicates", volume.duplicates);
    assign(properties, "GrowableBy", volume.growableBy);
    assign(properties, "HeaderHealth", volume.headerHealth);
    assign(properties, "Failing", volume.failing);
    assign(properties, "Configuration", volume.configuration);
    assign(properties, "ConfigurationError", volume.configurationError);
    return volume;
}

PropertyMap formatOptions(const FormatRequest& request)
{
    PropertyMap options;
    if (request.label)
        options.emplace("label", sdbus::Variant(*request.label));
    if (request.force)
        options.emplace("force", sdbus::Variant(*request.force));
    if (request.keyKind)
        options.emplace("key-kind", sdbus::Variant(*request.keyKind));
    if (request.acceptWeak)
        options.emplace("accept-weak", sdbus::Variant(true));
    if (request.keepWorkqueues)
        options.emplace("workqueues", sdbus::Variant(true));
    if (request.discard)
        options.emplace("discard", sdbus::Variant(true));
    if (request.erase)
        options.emplace("erase", sdbus::Variant(true));
    return options;
}

PropertyMap keyOptions(const KeyRequest& request)
{
    PropertyMap options{{"key-kind", sdbus::Variant(request.keyKind)}};
    if (request.acceptWeak)
        options.emplace("accept-weak", sdbus::Variant(true));
    return options;
}

PropertyMap restoreOptions(const std::optional<std::string>& force)
{
    PropertyMap options;
    if (force)
        options.emplace("force", sdbus::Variant(*force));
    return options;
}

KeyslotList keyslotsFromReply(
    std::uint32_t luksVersion,
    const std::vector<sdbus::Struct<std::uint32_t, std::string, std::string, std::uint32_t,
                                    std::uint32_t, std::uint32_t>>& keyslots)
{
    KeyslotList list{luksVersion, {}};
    for (const auto& k : keyslots)
        list.keyslots.push_back(
            {k.get<0>(), k.get<1>(), k.get<2>(), k.get<3>(), k.get<4>(), k.get<5>()});
    std::sort(list.keyslots.begin(), list.keyslots.end(),
              [](const KeyslotInfo& a, const KeyslotInfo& b) { return a.slot < b.slot; });
    return list;
}

PropertyMap unlockOptions(const UnlockRequest& request)
{
    PropertyMap options;
    // mount-point implies mount, so one key says it all.
    if (request.mountPoint)
        options.emplace("mount-point", sdbus::Variant(*request.mountPoint));
    else if (request.mount)
        options.emplace("mount", sdbus::Variant(true));
    if (request.token)
        options.emplace("token", sdbus::Variant(true));
    return options;
}

VaultClient VaultClient::connectSystemBus()
{
    return VaultClient(sdbus::createSystemBusConnection());
}

VaultClient::VaultClient(std::unique_ptr<sdbus::IConnection> connection)
    : connection_(std::move(connection))
{
    connection_->setMethodCallTimeout(methodCallTimeout);
}

std::vector<VolumeProperties> VaultClient::listVolumes()
{
    std::vector<VolumeProperties> volumes;
    for (const auto& [path, interfaces] : ManagerProxy(*connection_).managedObjects()) {
        auto found = interfaces.find(volumeInterface);
        if (found != interfaces.end())
            volumes.push_back(volumeFromProperties(found->second));
    }
    return volumes;
}

std::string VaultClient::resolve(const std::string& spec)
{
    return ManagerProxy(*connection_).Resolve(spec);
}

VolumeProperties VaultClient::volume(const std::string& path)
{
    return volumeFromProperties(VolumeProxy(*connection_, path).allProperties());
}

void VaultClient::format(const std::string& path, UniqueFd passphrase, const FormatRequest& request)
{
    VolumeProxy(*connection_, path)
        .Format(toUnixFd(std::move(passphrase)), request.filesystem,
                withInteraction(formatOptions(request)));
}

UnlockReply VaultClient::unlock(const std::string& path, UniqueFd passphrase,
                                const UnlockRequest& request)
{
    auto [mapping, mountPoint] = VolumeProxy(*connection_, path)
                                     .Unlock(toUnixFd(std::move(passphrase)), request.mappingName,
                                             withInteraction(unlockOptions(request)));
    return {mapping, mountPoint};
}

std::string VaultClient::mount(const std::string& path, const std::string& mountPoint)
{
    return VolumeProxy(*connection_, path).Mount(mountPoint, withInteraction({}));
}

void VaultClient::unmount(const std::string& path)
{
    VolumeProxy(*connection_, path).Unmount(withInteraction({}));
}

bool VaultClient::lock(const std::string& path, bool lazy)
{
    PropertyMap options;
    if (lazy)
        options.emplace("lazy", sdbus::Variant(true));
    return VolumeProxy(*connection_, path).Lock(withInteraction(std::move(options)));
}

GrowReply VaultClient::grow(const std::string& path, std::optional<UniqueFd> passphrase)
{
    PropertyMap options;
    if (passphrase)
        options.emplace("passphrase", sdbus::Variant(toUnixFd(std::move(*passphrase))));
    auto [layers, changed] =
        VolumeProxy(*connection_, path).Grow(withInteraction(std::move(options)));
    GrowReply reply;
    reply.changed = changed;
    for (const auto& layer : layers)
        reply.layers.push_back({layer.get<0>(), layer.get<1>(), layer.get<2>()});
    return reply;
}

std::pair<std::string, std::uint64_t> VaultClient::backupHeader(const std::string& path,
                                                                UniqueFd file)
{
    auto [uuid, bytes] = VolumeProxy(*connection_, path)
                             .BackupHeader(toUnixFd(std::move(file)), withInteraction({}));
    return {uuid, bytes};
}

std::vector<HeaderBackupInfo> VaultClient::headerBackups()
{
    std::vector<HeaderBackupInfo> out;
    for (const auto& b : ManagerProxy(*connection_).ListHeaderBackups())
        out.push_back({b.get<0>(), b.get<1>(), b.get<2>(), b.get<3>(), b.get<4>(), b.get<5>()});
    return out;
}

ConfigurationReload VaultClient::reloadConfiguration()
{
    auto [volumes, problems] = ManagerProxy(*connection_).ReloadConfiguration(withInteraction({}));
    return {std::move(volumes), std::move(problems)};
}

RestoreReply VaultClient::restoreHeader(const std::string& path, UniqueFd file,
                                        const std::optional<std::string>& force)
{
    auto [backupUuid, deviceUuid] =
        VolumeProxy(*connection_, path)
            .RestoreHeader(toUnixFd(std::move(file)), withInteraction(restoreOptions(force)));
    return {backupUuid, deviceUuid};
}

std::string VaultClient::repairHeader(const std::string& path)
{
    return VolumeProxy(*connection_, path).RepairHeader(withInteraction({}));
}

std::vector<std::string> VaultClient::tune(const std::string& path, const TuneRequest& request)
{
    PropertyMap options;
    if (request.readWorkqueue)
        options.emplace("read-workqueue", sdbus::Variant(*request.readWorkqueue));
    if (request.writeWorkqueue)
        options.emplace("write-workqueue", sdbus::Variant(*request.writeWorkqueue));
    if (request.discard)
        options.emplace("discard", sdbus::Variant(*request.discard));
    return VolumeProxy(*connection_, path).Tune(withInteraction(std::move(options)));
}

KeyslotList VaultClient::listKeyslots(const std::string& path)
{
    auto [version, keyslots] = VolumeProxy(*connection_, path).ListKeyslots(withInteraction({}));
    return keyslotsFromReply(version, keyslots);
}

std::uint32_t VaultClient::addKeyslot(const std::string& path, UniqueFd existing, UniqueFd added,
                                      const KeyRequest& request)
{
    return VolumeProxy(*connection_, path)
        .AddKeyslot(toUnixFd(std::move(existing)), toUnixFd(std::move(added)),
                    withInteraction(keyOptions(request)));
}

std::uint32_t VaultClient::changePassphrase(const std::string& path, UniqueFd old,
                                            UniqueFd replacement, const KeyRequest& request)
{
    return VolumeProxy(*connection_, path)
        .ChangePassphrase(toUnixFd(std::move(old)), toUnixFd(std::move(replacement)),
                          withInteraction(keyOptions(request)));
}

std::uint32_t VaultClient::addRecoveryKey(const std::string& path, UniqueFd existing,
                                          UniqueFd keyOut)
{
    // The sdbus::UnixFd temporaries, and with them this process's copy of the write end, are
    // closed when the call returns, so vaultd's copy is the only writer left.
    return VolumeProxy(*connection_, path)
        .AddRecoveryKey(toUnixFd(std::move(existing)), toUnixFd(std::move(keyOut)),
                        withInteraction({}));
}

void VaultClient::removeKeyslot(const std::string& path, std::uint32_t keyslot,
                                UniqueFd authorizing)
{
    VolumeProxy(*connection_, path)
        .RemoveKeyslot(keyslot, toUnixFd(std::move(authorizing)), withInteraction({}));
}

std::uint32_t VaultClient::bindTang(const std::string& path, UniqueFd existing,
                                    const std::string& url, const std::string& thumbprint)
{
    return VolumeProxy(*connection_, path)
        .BindTang(toUnixFd(std::move(existing)), url, thumbprint, withInteraction({}));
}

PropertyMap VaultClient::withInteraction(PropertyMap options) const
{
    if (interactive_)
        options.emplace("interactive", sdbus::Variant(true));
    return options;
}

}  // namespace vaultctl
