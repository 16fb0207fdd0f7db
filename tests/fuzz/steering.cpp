#include "steering.hpp"

#include <chrono>

namespace vaultd::fuzz {
namespace {

using namespace std::chrono_literals;

// mkfs under qemu's TCG takes seconds; nothing here should take minutes.
constexpr auto kSteeringTimeout = 300s;
constexpr int kMaxSteps = 8;
constexpr const char* kMappingName = "fuzz-target";

std::string stringOf(const PropertyMap& props, const char* key)
{
    auto it = props.find(key);
    return it != props.end() && it->second.containsValueOfType<std::string>()
               ? it->second.get<std::string>()
               : std::string();
}

Arg noOptions()
{
    return arg(std::map<std::string, sdbus::Variant>{}, "{}");
}

}  // namespace

Steering::Steering(World& world, BusClient& bus, Tally& tally)
    : world_(world), bus_(bus), tally_(tally)
{
}

bool Steering::refresh()
{
    try {
        const PropertyMap props = bus_.getAll(world_.targetPath, kVolumeInterface);
        TargetView& v = world_.view;
        v.state = stringOf(props, "State");
        v.device = stringOf(props, "Device");
        v.mappingName = stringOf(props, "MappingName");
        v.mountPoint = stringOf(props, "MountPoint");
        v.luksUuid = stringOf(props, "LuksUuid");
        v.label = stringOf(props, "Label");
        auto size = props.find("Size");
        if (size != props.end() && size->second.containsValueOfType<std::uint64_t>())
            v.size = size->second.get<std::uint64_t>();
        return true;
    } catch (const sdbus::Error&) {
        world_.view = TargetView{};
        return false;
    }
}

bool Steering::step(const std::string& member, std::vector<Arg> args, std::shared_ptr<HostileFd> fd)
{
    Call c;
    c.category = kSteering;
    c.path = world_.targetPath;
    c.interface = kVolumeInterface;
    c.member = member;
    c.args = std::move(args);
    if (fd)
        c.fds.push_back(std::move(fd));
    const Outcome out = bus_.send(c, kSteeringTimeout);
    tally_.record(c, out);
    return out.kind == Outcome::Kind::Success;
}

bool Steering::format()
{
    // Whatever the passphrase was, it is ours again after this.
    auto fd = std::make_shared<HostileFd>(FdKind::Passphrase, world_.passphrase, world_.places);
    std::map<std::string, sdbus::Variant> options;
    if (world_.view.state != "empty")
        options["force"] = sdbus::Variant(world_.forceToken());
    return step("Format", {fdArg(fd), stringArg("ext4"), arg(options, "{force: token}")}, fd);
}

bool Steering::unlock()
{
    auto fd = std::make_shared<HostileFd>(FdKind::Passphrase, world_.passphrase, world_.places);
    return step("Unlock", {fdArg(fd), stringArg(kMappingName), noOptions()}, fd);
}

bool Steering::bringTo(const std::string& state)
{
    for (int i = 0; i < kMaxSteps; ++i) {
        if (!refresh())
            return false;
        const std::string now = world_.view.state;
        if (now == state)
            return true;
        if (now == "empty" || now == "data")
            format();
        else if (state == "locked")
            step("Lock", {noOptions()}, nullptr);
        else if (now == "locked" && !unlock())
            format();  // the passphrase is not what we think: start over
        else if (now == "mounted")
            step("Unmount", {noOptions()}, nullptr);
        else if (now == "unlocked")
            step("Mount", {stringArg(world_.sandbox + "/m/steer"), noOptions()}, nullptr);
    }
    return refresh() && world_.view.state == state;
}

}  // namespace vaultd::fuzz
