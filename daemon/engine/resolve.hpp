// From what a person types to one volume. A name may be any of: the device
// node or kernel name, a /dev/disk/... link, the name EC2 was asked to
// attach it as (sdf, /dev/sdf, xvdf, /dev/xvdf), its EBS volume id (with or
// without the dash), its LUKS UUID or label, or its mapping name (storedev,
// /dev/mapper/storedev). Every kind is tried against every volume: a name
// that fits two devices is ambiguous, however it fits each, and a request
// never picks one of them; only a device node wins outright. Pure; thread
// safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/volume.hpp"

namespace vaultd::engine {

inline constexpr std::size_t kMaxSpecLength = 4096;

// How @spec fits @v ("kernel name", "EBS volume id", ...); empty when not.
std::vector<std::string> howItMatches(const Volume& v, std::string_view spec);

// The kernel name of the one volume @spec names. NoSuchDevice (with the
// closest candidates) when none fits, Ambiguous (listing them) when several
// do, InvalidArgument for an empty or overlong @spec.
Result<std::string> resolve(const std::vector<Volume>& volumes, std::string_view spec);

}  // namespace vaultd::engine
