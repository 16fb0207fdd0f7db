// Who a device is, the way EC2 names it. Pure functions over what the kernel
// reports (sysfs model and serial, udev links, the NVMe controller's
// identify data); the system layer gathers the inputs. Thread safe.
//
// An EBS volume attached as /dev/sdf appears as xvdf on Xen instances and as
// nvmeNn1 on Nitro ones, where the number follows discovery order. Its
// volume id is in the NVMe serial (vol0123... for vol-0123...), the name
// asked for at attach time in the controller's vendor-specific identify
// data, and EC2 images link /dev/sdf and /dev/xvdf to it with udev rules.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vaultd::engine {

inline constexpr std::string_view kEbsModel = "Amazon Elastic Block Store";
inline constexpr std::string_view kInstanceStoreModel = "Amazon EC2 NVMe Instance Storage";

// The size of an NVMe Identify Controller page, and where its
// vendor-specific area starts; EBS keeps the requested name in its first
// 32 bytes.
inline constexpr std::size_t kIdentifySize = 4096;
inline constexpr std::size_t kIdentifyVendorOffset = 3072;
inline constexpr std::size_t kIdentifyNameBytes = 32;

// Which models mean what. The lab adds QEMU's NVMe model to ebsModels,
// since QEMU can set a serial but not a model.
struct IdentityRules {
    std::vector<std::string> ebsModels = {std::string(kEbsModel)};
    std::vector<std::string> instanceStoreModels = {std::string(kInstanceStoreModel)};
};

// What sysfs and udev say, as read.
struct IdentityInput {
    std::string kernelName;
    bool partition = false;  // a partition shares its disk's model and serial, not its names
    std::string model;       // padded as the device reports it
    std::string serial;      // likewise
    std::vector<std::string> links;
    std::vector<std::uint8_t> identify;  // NVMe Identify Controller, or empty
};

struct Identity {
    std::string serial;
    std::string model;
    std::string ebsVolumeId;    // vol-0123456789abcdef0, or empty
    std::string requestedName;  // sdf (also spelt /dev/sdf, xvdf, /dev/xvdf), or empty
    bool ephemeral = false;     // instance store: lost when the instance stops
};

// @text without the spaces and NULs devices pad their fields with.
std::string trimField(std::string_view text);

// vol-<hex> for an EBS model's serial vol<hex>, else nothing.
std::optional<std::string> ebsVolumeId(std::string_view model, std::string_view serial,
                                       const IdentityRules& rules);

// A spelling of an EBS volume id (vol-0abc..., vol0abc..., any case) as
// vol-0abc..., or nothing when @text is not one.
std::optional<std::string> canonicalVolumeId(std::string_view text);

// A block-device name as EC2 takes it at attach time (sdf, /dev/sdf, xvdf,
// /dev/xvdf, padded or not) as its canonical sdf, or nothing.
std::optional<std::string> canonicalRequestedName(std::string_view text);

// The requested name in an Identify Controller page, or nothing when its
// vendor area holds none (every device but EBS).
std::optional<std::string> requestedNameFromIdentify(std::span<const std::uint8_t> identify);

// The requested name from udev links in /dev itself (/dev/sdf, /dev/xvdf),
// which EC2 images create for NVMe EBS volumes.
std::optional<std::string> requestedNameFromLinks(const std::vector<std::string>& links);

Identity identify(const IdentityInput& input, const IdentityRules& rules);

}  // namespace vaultd::engine
