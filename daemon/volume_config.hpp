// Volume files: what an administrator writes in /etc/vaultd/volumes.d, one
// TOML file per volume, turned into the engine's ConfiguredVolume. As strict
// as the main configuration: an unknown key, a wrong type or an unsafe value
// refuses the file, so a typo never leaves a volume unlocked with looser
// options than meant. Pure apart from reading files and the user database;
// thread safe as far as the UserLookup given is.
//
// The file's stem is the volume's name ("data" below) and must itself be a
// valid mapping name, since it is the default one:
//
//   # /etc/vaultd/volumes.d/data.toml
//   [match]            # required; every key given must match the device
//   ebs-volume-id = "vol-0123456789abcdef0"  # any spelling: vol0123..., upper case
//   luks-uuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11"
//   label = "data"     # the LUKS2 label, 1 to 47 bytes
//
//   [unlock]           # optional, the defaults are shown
//   key = "none"       # "keyfile", "token" (LUKS2 tokens: clevis) or "none" (by hand)
//   key-file = "/etc/vaultd/keys/data.key"  # with "keyfile" only, then required:
//                                           # absolute, normalised
//   name = "data"      # the mapping name, /dev/mapper/data
//   on-attach = true   # unlock as soon as attached, when the key source allows it
//   read-only = false
//   discard = false
//   no-read-workqueue = false
//   no-write-workqueue = false
//
//   [mount]            # optional; without it the volume is unlocked, not mounted
//   point = "/secure"  # required in [mount]; absolute, normalised, no system directory
//   options = "noatime"  # comma separated, added to nodev,nosuid: only noatime,
//                        # relatime, nodiratime, lazytime, ro and sync
//   owner = "ec2-user"   # a user name, resolved when the file is read
//
// Errors read "FILE:LINE: reason", or "FILE: reason" where no line applies.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/configured.hpp"
#include "engine/error.hpp"

namespace vaultd {

// The user database, behind an interface so tests need no real accounts.
struct UserLookup {
    virtual ~UserLookup() = default;
    // The uid and primary gid of the user called @name, or nothing.
    virtual std::optional<std::pair<uid_t, gid_t>> find(const std::string& name) const = 0;
};

// The system's users through getpwnam_r (so NSS: files, userdb, ...).
struct SystemUsers final : UserLookup {
    std::optional<std::pair<uid_t, gid_t>> find(const std::string& name) const override;
};

// Files bigger than this are refused unread: no volume file needs it.
inline constexpr std::size_t kMaxVolumeFileSize = 64 * 1024;

// @name is the file's stem, @origin what messages call the file.
engine::Result<engine::ConfiguredVolume> parseVolumeFile(std::string_view text,
                                                         std::string_view origin,
                                                         std::string_view name,
                                                         const UserLookup& users);

// Every regular *.toml file in @dir (symbolic links followed, so a link to
// /dev/null masks a file), in byte order of their names. A missing directory
// holds no volumes. A file that cannot be used is a problem and never stops
// the others, nor does a file that repeats an earlier one's mapping name,
// mount point or identity (they agree on every identity both give, at least
// one: a device could then match both); the earlier one is kept.
// Only files owned by @owner (root) and writable by it alone are read: whoever
// may write one chooses a key file, a mount point and an owner for a volume.
engine::ConfiguredVolumes loadVolumeDirectory(const std::string& dir, const UserLookup& users,
                                              uid_t owner = 0);

}  // namespace vaultd
