// Hostile values for the slots of the Vault1 API. Each pool entry says
// whether the interface XML allows it, so a generator can tell a call that
// must fail from one that may really run; random arguments and option
// dictionaries come in any D-Bus type. Pools are built once per run.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <string>
#include <vector>

#include "call.hpp"
#include "world.hpp"

namespace vaultd::fuzz {

struct Sample {
    std::string value;
    bool valid;  // the interface XML allows it, whatever the target's state
};

struct Pools {
    std::vector<Sample> mappingNames;     // Unlock's name
    std::vector<Sample> mountPoints;      // Mount's mount_point, Unlock's mount-point
    std::vector<Sample> filesystems;      // Format's filesystem (on this target)
    std::vector<std::string> labels;      // judged with labelAllowed()
    std::vector<std::string> specs;       // Resolve's spec, judged by the runner
    std::vector<std::string> optionKeys;  // keys no method knows
    std::vector<std::string> strings;     // for arguments of the wrong type
};

// @sandbox holds what makeSandbox() created.
Pools makePools(const World& world);
// Lays out the sandbox: real-dir (empty), nonempty/, file, etc-link -> /etc,
// dir-link -> real-dir, m/ (for mount points that may really be used).
void makeSandbox(const std::string& sandbox);

bool labelAllowed(const std::string& label, const std::string& filesystem);

// A string of @size bytes that starts with @head and stays valid UTF-8
// (sd-bus refuses anything else client side); ASCII only if World::asciiHuge.
std::string hugeString(const World& world, std::size_t size, const std::string& head);

// The Volume methods the fuzzer calls with well-typed arguments; the key
// methods it calls only in ways that must fail, so that the target's
// passphrase stays what the fuzzer knows.
enum class Method {
    Format,
    Unlock,
    Mount,
    Unmount,
    Lock,
    Grow,
    ListKeyslots,
    RemoveKeyslot,
    BindTang,
    RestoreHeader,
    RepairHeader,
    Tune
};
const char* methodName(Method m);

struct OptionsDraft {
    std::map<std::string, sdbus::Variant> dict;
    std::string shown = "{}";
    bool wellFormed = true;  // only keys the method knows, with their types
    bool mount = false;
    std::string label, force, mountPoint;
    bool hasMountPoint = false;
};

// An a{sv} for @m: often empty or plausible, often with unknown keys,
// wrongly typed values, and t values of 0 and 2^64-1. Known keys are those
// the XML lists: interactive (b) everywhere, label and force (s) for Format,
// mount (b) and mount-point (s) for Unlock.
OptionsDraft hostileOptions(World& world, const Pools& pools, Method m);
Arg optionsArg(const OptionsDraft& draft);

// An argument of a random D-Bus type; fds it passes are added to @call.
Arg randomArg(World& world, const Pools& pools, Call& call);
// A Variant of a random type other than @avoid (a signature).
std::pair<sdbus::Variant, std::string> randomVariant(World& world, const Pools& pools,
                                                     const std::string& avoid);

}  // namespace vaultd::fuzz
