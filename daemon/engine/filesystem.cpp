#include "engine/filesystem.hpp"

namespace vaultd::engine {

std::optional<Filesystem> parseFilesystem(std::string_view name)
{
    if (name == "ext4")
        return Filesystem::Ext4;
    if (name == "xfs")
        return Filesystem::Xfs;
    if (name == "btrfs")
        return Filesystem::Btrfs;
    return std::nullopt;
}

std::string_view filesystemName(Filesystem fs)
{
    switch (fs) {
    case Filesystem::Ext4: return "ext4";
    case Filesystem::Xfs: return "xfs";
    case Filesystem::Btrfs: return "btrfs";
    }
    return "ext4";
}

std::uint64_t minimumSize(Filesystem fs)
{
    switch (fs) {
    case Filesystem::Ext4: return 1ull << 20;
    case Filesystem::Xfs: return 300ull << 20;
    case Filesystem::Btrfs: return 109ull << 20;
    }
    return 0;
}

std::size_t maximumLabel(Filesystem fs)
{
    switch (fs) {
    case Filesystem::Ext4: return 16;
    case Filesystem::Xfs: return 12;
    case Filesystem::Btrfs: return 255;
    }
    return 0;
}

}  // namespace vaultd::engine
