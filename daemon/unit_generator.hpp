// The systemd generator's logic: from the configured volumes to the unit
// files that let a service say RequiresMountsFor=/secure/data (or
// Requires=vault-volume@data.service) and be ordered after, and stopped
// with, a volume vaultd unlocks and mounts. The unit texts come from pure
// functions; generate() alone reads and writes files. Thread safe as far as
// the UserLookup given is.
//
// systemd gives a mount unit's dependents Requires= only when the unit has
// a fragment file, hence a generated one per mount point. vaultd does the
// mounting: by the time systemd runs the mount unit's start job (after
// vault-volume@NAME.service, which waits for the volume) it is mounted
// already, and systemd does nothing.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/configured.hpp"
#include "engine/error.hpp"
#include "volume_config.hpp"

namespace vaultd {

// What the units depend on besides the volume itself.
struct GeneratorSettings {
    std::string volumesDirectory = "/etc/vaultd/volumes.d";  // vaultd.conf's volumes.directory
    std::string mountOptions = "nodev,nosuid";               // and its mount.options
    std::string vaultctl = "/usr/bin/vaultctl";
};

// One file to write, @path relative to the generator's output directory.
struct GeneratedFile {
    std::string path;
    std::string contents;
};

// A path as a unit name, as systemd-escape --path spells it (without the
// suffix): "/secure/data" is "secure-data", "/a-b" is "a\x2db". Leading,
// trailing and repeated slashes are dropped; "/" is "-". Names of other
// strings, vault-volume@NAME.service among them, are in engine/unit_names.hpp.
std::string escapePath(std::string_view path);

// The options vaultd mounts @c with: @base (vaultd.conf's mount.options),
// then the file's own, then "ro" for a read-only mapping. Mirrors
// Operations::unlock and mountMapping.
std::string mountOptionsFor(const engine::ConfiguredVolume& c, std::string_view base);

// The files for @c, read from @sourcePath: a mount unit when it has a mount
// point, a drop-in for its mapping's device unit and one for its
// vault-volume@MAPPING service (the instance vaultd starts). InvalidArgument
// when a value cannot be written into a unit file unchanged, or a unit name
// would be too long.
engine::Result<std::vector<GeneratedFile>> unitsFor(const engine::ConfiguredVolume& c,
                                                    const std::string& sourcePath,
                                                    const GeneratorSettings& settings);

// Writes @files under @outputDir, each to a temporary name renamed into
// place, so systemd never reads half a unit.
engine::Status writeUnits(const std::string& outputDir, const std::vector<GeneratedFile>& files);

// The whole generator: reads the volume files in settings.volumesDirectory
// (owned by @owner, see loadVolumeDirectory) and writes every usable
// volume's units under @outputDir. Returns the problems, one line each; a
// volume with a problem gets no units, the others are unaffected.
std::vector<std::string> generate(const GeneratorSettings& settings, const std::string& outputDir,
                                  const UserLookup& users, uid_t owner = 0);

}  // namespace vaultd
