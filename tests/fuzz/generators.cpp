#include "generators.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <set>
#include <stdexcept>

namespace vaultd::fuzz {
namespace {

constexpr const char* kPeerInterface = "org.freedesktop.DBus.Peer";
constexpr const char* kIntrospectable = "org.freedesktop.DBus.Introspectable";
constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";

const std::vector<std::string> kVolumeProperties = {
    "Device",   "KernelName", "Size",        "State",      "LuksVersion",
    "LuksUuid", "Label",      "MappingName", "MountPoint", "FilesystemType"};

struct Secret {
    std::shared_ptr<HostileFd> fd;
    bool readable;
};

Secret secret(World& w, Call& c, FdKind kind)
{
    auto fd = std::make_shared<HostileFd>(kind, w.passphrase, w.places);
    c.fds.push_back(fd);
    return {fd, infoOf(kind).readable};
}

FdKind fastKind(Rng& r)
{
    std::vector<FdKind> fast;
    for (const auto& info : fdKinds()) {
        if (info.pace == Pace::Fast)
            fast.push_back(info.kind);
    }
    return r.pick(fast);
}

void onTarget(World& w, Call& c, Method m)
{
    c.path = w.targetPath;
    c.interface = kVolumeInterface;
    c.member = methodName(m);
    c.mutating = true;
}

// The XML's rules for Format on the target as it is now. A call that may
// succeed really formats, so a success sets the target's new passphrase.
void judgeFormat(World& w, Call& c, const Secret& s, const Sample& filesystem,
                 const OptionsDraft& o)
{
    const bool fine = s.readable && !s.fd->content().empty() && filesystem.valid && o.wellFormed &&
                      labelAllowed(o.label, filesystem.value) && !w.isOpen() &&
                      (w.view.state == "empty" || o.force == w.forceToken());
    c.mustFail = !fine;
    c.onSuccess = [&w, content = s.fd->content()] { w.passphrase = content; };
}

bool mountMaySucceed(const World& w, const std::string& mappingName, const Sample& point)
{
    if (!point.valid)
        return false;
    // Mounted already: no place asked for gets where it is.
    if (w.view.state == "mounted" && point.value.empty())
        return true;
    const std::string want = point.value.empty() ? "/media/vault/" + mappingName : point.value;
    return w.view.state != "mounted" || w.view.mountPoint == want;
}

void judgeUnlock(World& w, Call& c, const Secret& s, const Sample& name, const OptionsDraft& o,
                 const Sample& point)
{
    bool fine = s.readable && name.valid && o.wellFormed && w.isLuks();
    // Open already (under any name): it answers with the name it has.
    if (!w.isOpen())
        fine = fine && s.fd->content() == w.passphrase;  // else WrongPassphrase
    const std::string& mapping = w.isOpen() ? w.view.mappingName : name.value;
    // vaultd takes an empty mount-point for none given (the XML does not say).
    if (o.hasMountPoint && !o.mountPoint.empty())
        fine = fine && mountMaySucceed(w, mapping, point);
    c.mustFail = !fine;
}

// --- wrong-signature: real members, arguments of other types and counts.

struct Member {
    const char* interface;
    const char* member;
    const char* signature;
    bool onTarget;  // else on the manager
};

// clang-format off
const std::vector<Member> kMembers = {
    {kVolumeInterface, "Format", "hsa{sv}", true},
    {kVolumeInterface, "Unlock", "hsa{sv}", true},
    {kVolumeInterface, "Mount", "sa{sv}", true},
    {kVolumeInterface, "Unmount", "a{sv}", true},
    {kVolumeInterface, "Lock", "a{sv}", true},
    {kVolumeInterface, "Grow", "a{sv}", true},
    {kVolumeInterface, "BackupHeader", "ha{sv}", true},
    {kVolumeInterface, "ListKeyslots", "a{sv}", true},
    {kVolumeInterface, "AddKeyslot", "hha{sv}", true},
    {kVolumeInterface, "AddRecoveryKey", "hha{sv}", true},
    {kVolumeInterface, "ChangePassphrase", "hha{sv}", true},
    {kVolumeInterface, "RemoveKeyslot", "uha{sv}", true},
    {kVolumeInterface, "BindTang", "hssa{sv}", true},
    {kVolumeInterface, "RestoreHeader", "ha{sv}", true},
    {kVolumeInterface, "RepairHeader", "a{sv}", true},
    {kVolumeInterface, "Tune", "a{sv}", true},
    {kManagerInterface, "Resolve", "s", false},
    {kManagerInterface, "ReloadConfiguration", "a{sv}", false},
    {kPropertiesInterface, "Get", "ss", true},
    {kPropertiesInterface, "GetAll", "s", false},
    {kPropertiesInterface, "Set", "ssv", true},
    {kIntrospectable, "Introspect", "", true},
    {kObjectManager, "GetManagedObjects", "", false},
};
// clang-format on

// Well-formed arguments for @signature, to perturb one at a time.
std::vector<Arg> rightArgs(World& w, Call& c, const std::string& signature)
{
    std::vector<Arg> args;
    for (std::size_t i = 0; i < signature.size(); ++i) {
        if (signature[i] == 'h') {
            args.push_back(fdArg(secret(w, c, FdKind::Passphrase).fd));
        } else if (signature[i] == 's') {
            args.push_back(stringArg(w.rng.pick(std::vector<std::string>{
                "ext4", "fuzz-sig", w.sandbox + "/m/sig", kVolumeInterface, "State"})));
        } else if (signature[i] == 'u') {
            args.push_back(arg(std::uint32_t{7}, "u:7"));
        } else if (signature[i] == 'v') {
            args.push_back(arg(sdbus::Variant(std::string("empty")), "v:s"));
        } else if (signature.compare(i, 5, "a{sv}") == 0) {
            args.push_back(arg(std::map<std::string, sdbus::Variant>{}, "{}"));
            i += 4;
        }
    }
    return args;
}

Arg lookalike(World& w, const Arg& right)
{
    Rng& r = w.rng;
    if (right.signature == "h")
        return r.oneIn(2) ? arg(std::int32_t{0}, "i:0 (fd as a number)")
                          : arg(std::numeric_limits<std::uint64_t>::max(), "t:2^64-1");
    if (right.signature == "u")
        return arg(std::string("7"), "s:7");
    if (right.signature == "s")
        return r.oneIn(2) ? arg(sdbus::ObjectPath("/etc"), "o:/etc")
                          : arg(std::vector<std::string>{"ext4"}, "as");
    std::map<std::string, std::string> strings{{"mount", "true"}};
    return r.oneIn(2) ? arg(strings, "a{ss}") : arg(sdbus::Variant(true), "v:b");
}

void wrongSignature(World& w, const Pools& pools, Call& c)
{
    Rng& r = w.rng;
    const Member& m = r.pick(kMembers);
    c.path = m.onTarget ? w.targetPath : kManagerPath;
    c.interface = m.interface;
    c.member = m.member;
    c.mutating = c.interface == kVolumeInterface;
    if (r.oneIn(2)) {
        for (std::size_t n = r.below(6); n > 0; --n)
            c.args.push_back(randomArg(w, pools, c));
    } else {
        c.args = rightArgs(w, c, m.signature);
        const std::size_t at = r.below(c.args.size() + 1);
        switch (r.below(3)) {
        case 0:  // one too few (or one too many when there are none)
            if (at < c.args.size())
                c.args.erase(c.args.begin() + static_cast<long>(at));
            else
                c.args.push_back(randomArg(w, pools, c));
            break;
        case 1:  // one too many
            c.args.insert(c.args.begin() + static_cast<long>(at), randomArg(w, pools, c));
            break;
        default:  // one of a type that looks right
            if (at < c.args.size())
                c.args[at] = lookalike(w, c.args[at]);
            else
                c.args.push_back(arg(std::uint64_t{0}, "t:0"));
            break;
        }
    }
    // Every property is read-only, so Set fails whatever it carries.
    c.mustFail = c.signature() != m.signature || c.member == "Set";
}

// --- unknown-target: objects, interfaces and members that do not exist.

void unknownTarget(World& w, const Pools&, Call& c)
{
    Rng& r = w.rng;
    const std::string base = "/org/vaultd/Vault1/volume/";
    std::vector<std::string> paths = {
        base + "nosuch", base + "vda", base + "vdz", base + "sda", base + "loop0", base + "dm_2d0",
        base + "_2e_2e", base + std::string(200, 'a'), w.targetPath + "/sub",
        "/org/vaultd/Vault1/volume", "/org/vaultd/Vault1/Volume/" + w.targetName,
        "/org/vaultd/Vault2", "/org/vaultd", "/",
        // Refused by sd-bus before sending: not object paths.
        "", "relative", base + "vd-b", base + "../x", "/trailing/", "//double", base + "\u00fc"};
    std::erase_if(paths, [&w](const std::string& p) {
        return p == w.targetPath || w.protectedPaths.count(p) > 0;
    });
    const std::vector<std::string> interfaces = {
        "org.vaultd.Vault1.Volume2", "org.vaultd.Vault2.Volume", "com.example.Evil",
        "org.vaultd.Vault1.Error", "org.vaultd.Vault1.Manager.Volume",
        // Not interface names: refused client side.
        "", "noDots", "org..vaultd", "org.vaultd.1Vault", std::string(300, 'i') + ".x"};
    const std::vector<std::string> members = {
        "Format2", "format", "FORMAT", "Delete", "Resize", "Wipe", "Erase", "Reencrypt", "AddKey",
        "ChangePassphrase", "Exec", "Shutdown", "Introspect", "Version",
        // Not member names: refused client side.
        "", "1Format", "For-mat", "Format.x", std::string(300, 'm')};

    switch (r.below(4)) {
    case 0:  // a real call on an object that does not exist
        c.path = r.pick(paths);
        c.interface = kVolumeInterface;
        c.member = "Lock";
        c.args.push_back(arg(std::map<std::string, sdbus::Variant>{}, "{}"));
        break;
    case 1:
        c.path = r.pick(paths);
        c.interface = kPropertiesInterface;
        c.member = "Get";
        c.args = {stringArg(kVolumeInterface), stringArg("State")};
        break;
    case 2:  // an interface the object does not have
        c.path = r.oneIn(2) ? w.targetPath : kManagerPath;
        c.interface = r.oneIn(3) ? (c.path == kManagerPath ? kVolumeInterface : kManagerInterface)
                                 : r.pick(interfaces);
        c.member = r.oneIn(2) ? "Lock" : "Resolve";
        c.args.push_back(c.member == "Lock" ? arg(std::map<std::string, sdbus::Variant>{}, "{}")
                                            : stringArg(w.targetName));
        break;
    default:  // a member the interface does not have
        c.path = r.oneIn(2) ? w.targetPath : kManagerPath;
        c.interface = c.path == kManagerPath ? kManagerInterface : kVolumeInterface;
        c.member = r.pick(members);
        c.args.push_back(arg(std::map<std::string, sdbus::Variant>{}, "{}"));
        break;
    }
    c.mustFail = true;
}

// --- huge-strings: every string slot, from just over a limit to 1 MiB.

void hugeStrings(World& w, const Pools&, Call& c)
{
    // Mostly just over the limits; 1 MiB rarely, since refusals may quote
    // the string back and vaultd's log would swallow it all.
    const std::size_t roll = w.rng.below(20);
    const std::size_t n = roll < 8 ? 4097 : roll < 16 ? 65536 : roll < 19 ? 1 << 18 : 1 << 20;
    hugeStringCall(w, n, static_cast<unsigned>(w.rng.below(kHugeStringSlots)), c);
}

// --- hostile-fds: every kind of quick descriptor as the passphrase.

void hostileFds(World& w, const Pools&, Call& c)
{
    Rng& r = w.rng;
    const FdKind kind = fastKind(r);
    // Rarely the real force: a format that may succeed costs a mkfs.
    if (r.oneIn(2))
        passphraseCall(w, kind, Method::Format, r.oneIn(12), c);
    else
        passphraseCall(w, kind, Method::Unlock, false, c);
}

// --- hostile-names: mapping names, device specs, filesystems, labels.

bool findable(const World& w, const std::string& spec)
{
    std::set<std::string> names = w.otherNames;
    names.insert(w.targetName);
    names.insert(w.view.mappingName);
    names.erase("");
    for (const auto& name : names) {
        if (spec == name || spec == "/dev/" + name || spec == "/dev/mapper/" + name)
            return true;
    }
    if (!w.view.label.empty() && spec == w.view.label)
        return true;
    if (!w.view.luksUuid.empty() && spec.size() == w.view.luksUuid.size() &&
        std::equal(
            spec.begin(), spec.end(), w.view.luksUuid.begin(),
            [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); }))
        return true;
    return spec.starts_with("/dev/disk/");
}

void hostileNames(World& w, const Pools& pools, Call& c)
{
    Rng& r = w.rng;
    switch (r.below(3)) {
    case 0: unlockAs(w, r.pick(pools.mappingNames), c); break;
    case 1: {
        c.path = kManagerPath;
        c.interface = kManagerInterface;
        c.member = "Resolve";
        const std::string& spec = r.pick(pools.specs);
        c.args = {stringArg(spec)};
        c.mustFail = !findable(w, spec);
        break;
    }
    default: {
        onTarget(w, c, Method::Format);
        const Secret s = secret(w, c, FdKind::Passphrase);
        const Sample& filesystem = r.pick(pools.filesystems);
        OptionsDraft o;
        o.label = r.pick(pools.labels);
        o.dict["label"] = sdbus::Variant(o.label);
        if (r.oneIn(12)) {
            o.force = w.forceToken();
            o.dict["force"] = sdbus::Variant(o.force);
        }
        o.shown = fmt::format("{{label: {}{}}}", shownString(o.label),
                              o.force.empty() ? "" : ", force: token");
        c.args = {fdArg(s.fd), stringArg(filesystem.value), optionsArg(o)};
        judgeFormat(w, c, s, filesystem, o);
        break;
    }
    }
}

// --- mount-points: traversal, symbolic links, system trees, odd bytes.

void mountPoints(World& w, const Pools& pools, Call& c)
{
    Rng& r = w.rng;
    const Sample& point = r.pick(pools.mountPoints);
    if (r.oneIn(3)) {
        onTarget(w, c, Method::Unlock);
        const Secret s = secret(w, c, FdKind::Passphrase);
        const Sample name{"fuzz-mp", true};
        OptionsDraft o;
        o.dict["mount-point"] = sdbus::Variant(point.value);
        o.hasMountPoint = true;
        o.mountPoint = point.value;
        o.shown = "{mount-point: " + shownString(point.value) + "}";
        c.args = {fdArg(s.fd), stringArg(name.value), optionsArg(o)};
        judgeUnlock(w, c, s, name, o, point);
        return;
    }
    mountAt(w, point, c);
}

// --- options: unknown keys, wrong value types, t values of 0 and 2^64-1.

void hostileOptionsCall(World& w, const Pools& pools, Call& c)
{
    Rng& r = w.rng;
    static const std::array methods = {
        Method::Format,   Method::Unlock,        Method::Mount,        Method::Unmount,
        Method::Lock,     Method::Grow,          Method::ListKeyslots, Method::RemoveKeyslot,
        Method::BindTang, Method::RestoreHeader, Method::RepairHeader, Method::Tune};
    const Method m = methods[r.below(methods.size())];
    const OptionsDraft o = hostileOptions(w, pools, m);
    onTarget(w, c, m);
    switch (m) {
    case Method::Format: {
        const Secret s = secret(w, c, FdKind::Passphrase);
        c.args = {fdArg(s.fd), stringArg("ext4"), optionsArg(o)};
        judgeFormat(w, c, s, {"ext4", true}, o);
        break;
    }
    case Method::Unlock: {
        const Secret s = secret(w, c, FdKind::Passphrase);
        const Sample name{"fuzz-opt", true};
        Sample point{o.mountPoint, true};
        for (const auto& p : pools.mountPoints) {
            if (p.value == o.mountPoint)
                point = p;
        }
        c.args = {fdArg(s.fd), stringArg(name.value), optionsArg(o)};
        judgeUnlock(w, c, s, name, o, point);
        break;
    }
    case Method::Mount:
        c.args = {stringArg(""), optionsArg(o)};
        c.mustFail =
            !o.wellFormed || !w.isOpen() || !mountMaySucceed(w, w.view.mappingName, {"", true});
        break;
    case Method::Unmount:
        c.args = {optionsArg(o)};
        c.mustFail = !o.wellFormed;
        break;
    case Method::Lock:
        c.args = {optionsArg(o)};
        c.mustFail = !o.wellFormed || !w.isLuks();
        break;
    case Method::Grow:
        // Nothing ever grows the fuzzer's disk: an open volume has nothing
        // to do, anything else is refused.
        c.args = {optionsArg(o)};
        c.mustFail = !o.wellFormed || !w.isOpen();
        break;
    case Method::ListKeyslots:
        c.args = {optionsArg(o)};
        c.mustFail = !o.wellFormed || !w.isLuks();
        break;
    case Method::RemoveKeyslot: {
        // Slot 31 is never in use on the fuzzer's volume.
        const Secret s = secret(w, c, FdKind::Passphrase);
        c.args = {arg(std::uint32_t{31}, "u:31"), fdArg(s.fd), optionsArg(o)};
        c.mustFail = true;
        break;
    }
    case Method::BindTang: {
        // No key server listens on port 9, and the rest are no addresses or
        // no thumbprints: every bind fails, and no keyslot is ever added.
        const Secret s = secret(w, c, FdKind::Passphrase);
        static const std::array<const char*, 5> urls = {
            "http://127.0.0.1:9", "ftp://127.0.0.1", "http://a b", "http://a\"b", "http://$(id)"};
        static const std::array<const char*, 3> thumbprints = {"AAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                                               "short", "not+base64/url=="};
        c.args = {fdArg(s.fd), stringArg(urls[r.below(urls.size())]),
                  stringArg(thumbprints[r.below(thumbprints.size())]), optionsArg(o)};
        c.mustFail = true;
        break;
    }
    case Method::RestoreHeader: {
        // A passphrase is no header backup.
        const Secret s = secret(w, c, FdKind::Passphrase);
        c.args = {fdArg(s.fd), optionsArg(o)};
        c.mustFail = true;
        break;
    }
    case Method::RepairHeader:
        // The fuzzer's volume has a whole header, or none.
        c.args = {optionsArg(o)};
        c.mustFail = true;
        break;
    case Method::Tune:
        // The fuzzer never sends a change (workqueues, discard), so a
        // well-formed call only reads the header.
        c.args = {optionsArg(o)};
        c.mustFail = !o.wellFormed || !w.isLuks();
        break;
    }
}

// --- properties: reads anywhere (the bystander included), writes nowhere.

void properties(World& w, const Pools& pools, Call& c)
{
    Rng& r = w.rng;
    const std::vector<std::string> readable = {kManagerPath, w.targetPath, w.bystanderPath};
    c.path = r.pick(readable);
    c.interface = kPropertiesInterface;
    const bool manager = c.path == kManagerPath;
    const std::string realInterface = manager ? kManagerInterface : kVolumeInterface;
    switch (r.below(6)) {
    case 0:
    case 1: {
        const std::vector<std::string> interfaces = {
            realInterface, realInterface, kPropertiesInterface, "", "org.vaultd.Vault1.Nope"};
        std::vector<std::string> props = {"Nope", "", "state", std::string(4096, 'p')};
        for (int i = 0; i < 3; ++i)
            props.push_back(manager ? "Version" : r.pick(kVolumeProperties));
        const std::string& iface = r.pick(interfaces);
        const std::string& prop = r.pick(props);
        c.member = "Get";
        c.args = {stringArg(iface), stringArg(prop)};
        const bool real = manager ? prop == "Version"
                                  : std::find(kVolumeProperties.begin(), kVolumeProperties.end(),
                                              prop) != kVolumeProperties.end();
        c.mustFail = !iface.empty() && !(iface == realInterface && real);
        break;
    }
    case 2:
        c.member = "GetAll";
        c.args = {stringArg(r.pick(std::vector<std::string>{realInterface, "", "x.y"}))};
        break;
    case 3: {
        // Never on the bystander: Set is a write, even a refused one.
        c.path = r.oneIn(2) ? kManagerPath : w.targetPath;
        c.member = "Set";
        const std::string prop = c.path == kManagerPath ? "Version" : r.pick(kVolumeProperties);
        auto [value, what] = randomVariant(w, pools, "");
        c.args = {stringArg(c.path == kManagerPath ? kManagerInterface : kVolumeInterface),
                  stringArg(prop), arg(value, "v:" + what)};
        c.mustFail = true;
        break;
    }
    case 4:
        c.path = r.oneIn(2) ? kManagerPath : w.targetPath;
        c.interface = r.oneIn(2) ? kIntrospectable : kPeerInterface;
        c.member = c.interface == kIntrospectable ? "Introspect" : "Ping";
        break;
    default:
        c.path = kManagerPath;
        c.interface = kObjectManager;
        c.member = "GetManagedObjects";
        break;
    }
}

// --- no-reply: cheap must-fail calls sent without waiting, back to back.

void noReply(World& w, const Pools& pools, Call& c)
{
    // Redrawn until it fails before any work starts: these go unobserved.
    for (;;) {
        Call draft;
        if (w.rng.oneIn(2))
            wrongSignature(w, pools, draft);
        else
            unknownTarget(w, pools, draft);
        if (draft.mustFail && draft.member != "Set") {
            draft.category = c.category;
            c = std::move(draft);
            break;
        }
    }
    c.noReply = true;
}

}  // namespace

const std::vector<Generator>& generators()
{
    static const std::vector<Generator> table = {
        {"wrong-signature", 14, wrongSignature},
        {"unknown-target", 10, unknownTarget},
        {"huge-strings", 5, hugeStrings},
        {"hostile-fds", 12, hostileFds},
        {"hostile-names", 14, hostileNames},
        {"mount-points", 14, mountPoints},
        {"options", 16, hostileOptionsCall},
        {"properties", 10, properties},
        {"no-reply", 5, noReply},
    };
    return table;
}

const Generator& drawGenerator(Rng& rng)
{
    unsigned total = 0;
    for (const auto& g : generators())
        total += g.weight;
    std::size_t ticket = rng.below(total);
    for (const auto& g : generators()) {
        if (ticket < g.weight)
            return g;
        ticket -= g.weight;
    }
    return generators().back();
}

void hugeStringCall(World& w, std::size_t n, unsigned slot, Call& c)
{
    Rng& r = w.rng;
    c.category = "huge-strings";
    const std::string absolute = hugeString(w, n, w.sandbox + "/m/");
    OptionsDraft none;
    switch (slot) {
    case 0:
        c.path = kManagerPath;
        c.interface = kManagerInterface;
        c.member = "Resolve";
        c.args = {stringArg(hugeString(w, n, "/dev/"))};
        break;
    case 1:
        onTarget(w, c, Method::Unlock);
        c.args = {fdArg(secret(w, c, FdKind::Passphrase).fd), stringArg(hugeString(w, n, "n")),
                  optionsArg(none)};
        break;
    case 2:
        onTarget(w, c, Method::Format);
        c.args = {fdArg(secret(w, c, FdKind::Passphrase).fd), stringArg(hugeString(w, n, "ext4")),
                  optionsArg(none)};
        break;
    case 3:
    case 4: {
        // A label is refused whatever the state; force only where there is
        // something to destroy.
        const bool label = r.oneIn(2);
        onTarget(w, c, Method::Format);
        OptionsDraft o;
        o.dict[label ? "label" : "force"] = sdbus::Variant(hugeString(w, n, "/dev/"));
        o.shown = label ? "{label: huge}" : "{force: huge}";
        c.args = {fdArg(secret(w, c, FdKind::Passphrase).fd), stringArg("ext4"), optionsArg(o)};
        c.mustFail = true;
        if (!label && w.view.state == "empty")
            c.mustFail = false;
        return;
    }
    case 5:
        onTarget(w, c, Method::Mount);
        c.args = {stringArg(r.oneIn(2) ? absolute : hugeString(w, n, "relative/")),
                  optionsArg(none)};
        break;
    case 6: {
        onTarget(w, c, Method::Lock);
        OptionsDraft o;
        o.dict[hugeString(w, n, "key-")] = sdbus::Variant(true);
        o.shown = "{huge key: b}";
        c.args = {optionsArg(o)};
        break;
    }
    case 7: {
        onTarget(w, c, Method::Unlock);
        OptionsDraft o;
        o.dict["mount-point"] = sdbus::Variant(absolute);
        o.shown = "{mount-point: huge}";
        c.args = {fdArg(secret(w, c, FdKind::Passphrase).fd), stringArg("fuzz-huge"),
                  optionsArg(o)};
        break;
    }
    default:
        c.path = w.targetPath;
        c.interface = kPropertiesInterface;
        c.member = "Get";
        c.args = {stringArg(kVolumeInterface), stringArg(hugeString(w, n, "State"))};
        break;
    }
    c.mustFail = true;
}

void passphraseCall(World& w, FdKind kind, Method m, bool force, Call& c)
{
    c.category = "hostile-fds";
    const Secret s = secret(w, c, kind);
    OptionsDraft o;
    if (m == Method::Format) {
        onTarget(w, c, Method::Format);
        if (force) {
            o.force = w.forceToken();
            o.dict["force"] = sdbus::Variant(o.force);
            o.shown = "{force: token}";
        }
        c.args = {fdArg(s.fd), stringArg("ext4"), optionsArg(o)};
        judgeFormat(w, c, s, {"ext4", true}, o);
    } else {
        onTarget(w, c, Method::Unlock);
        const Sample name{"fuzz-fd", true};
        c.args = {fdArg(s.fd), stringArg(name.value), optionsArg(o)};
        judgeUnlock(w, c, s, name, o, {});
    }
}

void unlockAs(World& w, const Sample& name, Call& c)
{
    c.category = "hostile-names";
    onTarget(w, c, Method::Unlock);
    const Secret s = secret(w, c, FdKind::Passphrase);
    c.args = {fdArg(s.fd), stringArg(name.value), optionsArg({})};
    judgeUnlock(w, c, s, name, {}, {});
}

void mountAt(World& w, const Sample& point, Call& c)
{
    c.category = "mount-points";
    onTarget(w, c, Method::Mount);
    c.args = {stringArg(point.value), optionsArg({})};
    c.mustFail = !w.isOpen() || !mountMaySucceed(w, w.view.mappingName, point);
}

void costlyFdCall(World& w, const Pools&, Call& c)
{
    static const std::array floods = {FdKind::PipeFlood};
    static const std::array slow = {FdKind::PipeSilent, FdKind::PipeTrickle, FdKind::SocketSilent,
                                    FdKind::EventfdZero};
    FdKind kind;
    if (w.floodsLeft > 0) {
        kind = floods[--w.floodsLeft % floods.size()];
        c.category = "flood-fds";
    } else if (w.slowLeft > 0) {
        kind = slow[--w.slowLeft % slow.size()];
        c.category = "slow-fds";
    } else {
        throw std::logic_error("costlyFdCall with no budget left");
    }
    const Secret s = secret(w, c, kind);
    if (w.rng.oneIn(2)) {
        onTarget(w, c, Method::Format);
        c.args = {fdArg(s.fd), stringArg("ext4"), optionsArg({})};
    } else {
        onTarget(w, c, Method::Unlock);
        c.args = {fdArg(s.fd), stringArg("fuzz-slow"), optionsArg({})};
    }
    c.mustFail = true;
}

void busLimitCall(World& w, std::size_t bytes, bool asOptionKey, Call& c)
{
    c.category = "bus-limit";
    if (asOptionKey) {
        onTarget(w, c, Method::Lock);
        OptionsDraft o;
        o.dict[hugeString(w, bytes, "key-")] = sdbus::Variant(true);
        o.shown = fmt::format("{{key of {} bytes: b}}", bytes);
        c.args = {optionsArg(o)};
    } else {
        // Relative, so the refusal quotes the whole path back.
        onTarget(w, c, Method::Mount);
        c.args = {stringArg(hugeString(w, bytes, "relative/")), optionsArg({})};
    }
    c.mustFail = true;
}

}  // namespace vaultd::fuzz
