// The filesystems vaultd makes inside a volume, and what each needs. Pure
// values; thread safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vaultd::engine {

enum class Filesystem { Ext4, Xfs, Btrfs };

std::optional<Filesystem> parseFilesystem(std::string_view name);
std::string_view filesystemName(Filesystem fs);

// The smallest filesystem its mkfs accepts (measured: btrfs-progs 6.2,
// xfsprogs 6.1; ext4 has no practical floor, 1 MiB keeps it meaningful).
std::uint64_t minimumSize(Filesystem fs);

// The longest label each filesystem stores, in bytes.
std::size_t maximumLabel(Filesystem fs);

// Where the data starts in a LUKS2 container made with the default
// metadata and keyslot areas; what is left for the filesystem.
inline constexpr std::uint64_t kLuks2DataOffset = 16ull << 20;

}  // namespace vaultd::engine
