// What the fuzzer knows of the lab: the one volume it may hit (the target),
// the volume objects it must leave alone but for property reads, and the
// target's state as last read. Generators read it; the runner and Steering
// keep it current. Not thread safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "hostile_fd.hpp"
#include "rng.hpp"

namespace vaultd::fuzz {

// The target's properties as last read.
struct TargetView {
    std::string state;  // empty, data, locked, unlocked or mounted
    std::string device;
    std::uint64_t size = 0;
    std::string mappingName;
    std::string mountPoint;
    std::string luksUuid;  // Resolve finds a LUKS volume by these too
    std::string label;
};

struct World {
    explicit World(std::uint64_t seed) : rng(seed) {}

    Rng rng;
    std::string targetName;     // kernel name, e.g. vdb
    std::string targetPath;     // its object path
    std::string bystanderPath;  // read-only property reads, nothing else
    // Every volume object but the target: no method call may name them
    // except Properties.Get and GetAll.
    std::set<std::string> protectedPaths;
    // Their kernel and mapping names: Resolve may rightly resolve these.
    std::set<std::string> otherNames;
    // A directory of our own inside one of vaultd's mount roots: mount
    // points that may really be used live here, next to a symbolic link to
    // /etc and other traps.
    std::string sandbox;
    FdPlaces places;
    // What keyslot 0 of the target holds; a successful Format changes it.
    std::string passphrase = "fuzz: correct horse battery staple";
    TargetView view;
    // Huge strings without multi-byte characters: a way past a vaultd that
    // dies when it cuts one in half, to fuzz the rest.
    bool asciiHuge = false;
    // Descriptors that cost time are rationed; the runner schedules them.
    unsigned floodsLeft = 0;
    unsigned slowLeft = 0;

    bool isLuks() const { return view.state == "locked" || isOpen(); }
    bool isOpen() const { return view.state == "unlocked" || view.state == "mounted"; }
    std::string forceToken() const { return view.device + ":" + std::to_string(view.size); }
};

}  // namespace vaultd::fuzz
