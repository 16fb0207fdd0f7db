#include "values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>

namespace vaultd::fuzz {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxT = std::numeric_limits<std::uint64_t>::max();

// Non-ASCII, control characters, shell metacharacters and path tricks: the
// same troublemakers for every string slot.
// clang-format off
const std::vector<std::string> kTroublemakers = {
    // empty, blank, control characters
    "", " ", "a b", " lead", "trail ", "tab\tx", "new\nline", "\x7f", "a\001b",
    // shell metacharacters and quotes
    "$(reboot)", "`id`", ";rm -rf /", "a|b", "a&b", "a>b", "a<b", "*", "?", "~root", "#", "!",
    "(x)", "[x]", "{x}", "'q'", "\"dq\"", "back\\slash", "a:b",
    // non-ASCII (valid UTF-8: sd-bus refuses anything else client side)
    "\u00fc", "\u540d\u524d", "\U0001F600", "a\u200bb",
    // paths
    "a/b", "/", "../x", ".", "..",
};
// clang-format on

std::vector<Sample> mappingNames(const World& w)
{
    // clang-format off
    std::vector<Sample> names = {
        {"fuzz-name", true},
        {"-rf", true},
        {"--help", true},
        {"...", true},
        {"..a", true},
        {"%s%n%x", true},
        {"@", true},
        {"=,+", true},
        {"a.b_c-d+e=f,g@h%i", true},
        {std::string(127, 'n'), true},
        // The device-mapper control node is /dev/mapper/control.
        {"control", true},
        // The name Format uses for its short-lived mapping.
        {"vaultd-format-" + w.targetName, true},
        {"luks-00000000-0000-0000-0000-000000000000", true},
        {std::string(128, 'n'), false},
        {std::string(4097, 'n'), false},
        {"/dev/mapper/x", false},
        {"../control", false},
    };
    for (const auto& t : kTroublemakers)
        names.push_back({t, false});
    return names;
    // clang-format on
}

std::string repeat(const std::string& piece, std::size_t times)
{
    std::string out;
    for (std::size_t i = 0; i < times; ++i)
        out += piece;
    return out;
}

std::vector<Sample> mountPoints(const World& w)
{
    // clang-format off
    const std::string s = w.sandbox;
    return {
        // Allowed: absolute, normalised, outside the system's trees and
        // inside a mount root, where the sandbox is.
        {"", true},
        {s + "/m/one", true},
        {s + "/m/two", true},
        {s + "/m/sp ace", true},
        {s + "/m/$(id)", true},
        {s + "/m/;reboot", true},
        {s + "/m/\u00fc", true},
        {s + "/m/" + std::string(200, 'x'), true},
        {s + "/real-dir", true},
        // A symbolic link on the way, even to a harmless place.
        {s + "/dir-link", false},
        {s + "/dir-link/sub", false},
        // Through the link to /etc: would create or cover /etc/vault.
        {s + "/etc-link", false},
        {s + "/etc-link/vault", false},
        {s + "/etc-link/../m/x", false},
        {s + "/file", false},
        {s + "/nonempty", false},
        {s + "/m/one/", false},
        {s + "/m/./one", false},
        {s + "/m//one", false},
        {s + "/m/ctl\x01", false},
        {s + "/m/new\nline", false},
        {s + "/m/\x7f", false},
        {s + "/" + std::string(4096, 'y'), false},
        {"/" + std::string(4095, 'x'), false},
        {"/etc", false},
        {"/etc/vault", false},
        {"/etc/../tmp/x", false},
        // Outside the mount roots (by default /secure, /mnt and /media).
        {"/srv/vault", false},
        {"/opt/vault", false},
        {"/tmp/vault", false},
        {"/mnt/../etc", false},
        {"/", false},
        {"/home", false},
        {"/usr/local/vault", false},
        {"/var/tmp/vault", false},
        {"/run/vault", false},
        {"/dev/shm/vault", false},
        {"/proc/self/root/etc", false},
        {"/sys/fs/vault", false},
        {"/boot/vault", false},
        {"/root/vault", false},
        {"/bin", false},
        {"/lib/x", false},
        {"/media/vault/../../etc", false},
        {"/media/vault/./x", false},
        {"//etc", false},
        {"/tmp/../etc", false},
        {"relative/vault", false},
        {"./vault", false},
        {"../vault", false},
        {"~/vault", false},
        {"vault", false},
        {"$(reboot)", false},
        // Refused, and quoted in vaultd's log: must not start a line there.
        {s + "/m/x\nvaultd: forged line", false},
        // Too long, and vaultd quotes its first 64 bytes: they end inside a
        // character, which is no longer valid UTF-8.
        {"/" + repeat(w.asciiHuge ? "ue" : "\u00fc", 2100), false},
    };
    // clang-format on
}

std::vector<Sample> filesystems()
{
    std::vector<Sample> out = {{"ext4", true}, {"btrfs", true}, {"xfs", false} /* too small */};
    for (const char* bad : {"EXT4", "Ext4", "ext4 ", " ext4", "ext4\n", "ext4;reboot", "ext4$(id)",
                            "../../sbin/mkfs.ext4", "/sbin/mkfs.ext4", "ext3", "ext2", "vfat",
                            "ntfs", "swap", "zfs", "-V", "--help"})
        out.push_back({bad, false});
    for (const auto& t : kTroublemakers)
        out.push_back({t, false});
    out.push_back({std::string(65536, 'e'), false});
    out.push_back({"ext4\nvaultd: forged line", false});
    return out;
}

std::vector<std::string> labels()
{
    // clang-format off
    // A shell would run the first two: the overlay check would find /pwn*.
    return {"", "fuzz", "$(touch /pwn1)", "`touch /pwn2`", ";reboot;", "a|b&c>d<e", "-L", "--",
            "-V", "--help", " ", "16bytes-label-xx", "%n%n%n%n", std::string(17, 'l'),
            std::string(255, 'l'), std::string(256, 'l'), "quote'd", "dq\"", "back\\", "tab\t",
            "new\nl", "\u00fc", "\x7f", std::string(4096, 'l')};
    // clang-format on
}

std::vector<std::string> specs(const World& w)
{
    const std::string& t = w.targetName;
    // clang-format off
    std::vector<std::string> out = {
        t, "/dev/" + t, "/dev/", "/dev/../dev/" + t, "/dev//" + t, t + "/", " " + t, t + "\n",
        "/dev/mapper/", "/dev/mapper/../" + t, "/dev/disk/by-id/../../" + t, "vd?", "sda",
        "loop0", "dm-0", "/dev/mapper/control", "/etc/passwd", "/proc/self/fd/0",
        std::string(4096, 's'), std::string(4097, 's'), std::string(1 << 20, 's'),
    };
    // clang-format on
    for (const auto& k : kTroublemakers)
        out.push_back(k);
    return out;
}

// a{sv} inside a variant, @levels deep.
sdbus::Variant nestedVariant(unsigned levels)
{
    sdbus::Variant v(std::string("bottom"));
    for (unsigned i = 0; i < levels; ++i)
        v = sdbus::Variant(std::map<std::string, sdbus::Variant>{{"deeper", v}});
    return v;
}

}  // namespace

void makeSandbox(const std::string& sandbox)
{
    const fs::path s(sandbox);
    fs::create_directories(s / "real-dir");
    fs::create_directories(s / "nonempty");
    fs::create_directories(s / "m");
    std::ofstream(s / "nonempty" / "keep") << "not empty\n";
    std::ofstream(s / "file") << "a regular file\n";
    if (!fs::is_symlink(s / "etc-link"))
        fs::create_directory_symlink("/etc", s / "etc-link");
    if (!fs::is_symlink(s / "dir-link"))
        fs::create_directory_symlink(s / "real-dir", s / "dir-link");
}

Pools makePools(const World& world)
{
    Pools p;
    p.mappingNames = mappingNames(world);
    p.mountPoints = mountPoints(world);
    p.filesystems = filesystems();
    p.labels = labels();
    p.specs = specs(world);
    // clang-format off
    p.optionKeys = {
        "", " ", "Label", "LABEL", "label ", "mount_point", "mountpoint", "mount-point/",
        "force\n", "\u00fc", "$(id)", "../label", std::string(4096, 'k'),
        // what an attacker might hope vaultd quietly supports
        "pbkdf", "cipher", "keyslot", "uid", "offset", "size", "timeout", "allow-discards",
        "readonly", "mount-options", "fstype",
    };
    // clang-format on
    p.strings = kTroublemakers;
    p.strings.push_back(world.targetName);
    p.strings.push_back("ext4");
    p.strings.push_back(std::string(300, 'a'));
    return p;
}

bool labelAllowed(const std::string& label, const std::string& filesystem)
{
    const std::size_t max = filesystem == "ext4" ? 16 : filesystem == "xfs" ? 12 : 255;
    if (label.size() > max)
        return false;
    for (char c : label) {
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\'' || c == '\\')
            return false;
    }
    return true;
}

std::string hugeString(const World& world, std::size_t size, const std::string& head)
{
    // 8 bytes a round, one character of two bytes among them unless ASCII
    // only; the end never falls inside a character.
    const std::string pattern = world.asciiHuge ? "fuzz-ue-" : "fuzz-\u00fc-";
    std::string s = head.substr(0, size);
    while (s.size() + pattern.size() <= size)
        s += pattern;
    s.append(size - s.size(), 'a');
    return s;
}

const char* methodName(Method m)
{
    switch (m) {
    case Method::Format: return "Format";
    case Method::Unlock: return "Unlock";
    case Method::Mount: return "Mount";
    case Method::Unmount: return "Unmount";
    case Method::Lock: return "Lock";
    case Method::Grow: return "Grow";
    case Method::ListKeyslots: return "ListKeyslots";
    case Method::RemoveKeyslot: return "RemoveKeyslot";
    case Method::BindTang: return "BindTang";
    case Method::RestoreHeader: return "RestoreHeader";
    case Method::RepairHeader: return "RepairHeader";
    case Method::Tune: return "Tune";
    }
    return "Lock";
}

std::pair<sdbus::Variant, std::string> randomVariant(World& world, const Pools& pools,
                                                     const std::string& avoid)
{
    using V = std::pair<sdbus::Variant, std::string>;
    Rng& r = world.rng;
    for (;;) {
        V v;
        switch (r.below(15)) {
        case 0: v = {sdbus::Variant(r.oneIn(2)), "b"}; break;
        case 1: v = {sdbus::Variant(std::uint8_t{255}), "y:255"}; break;
        case 2: v = {sdbus::Variant(std::int32_t{-1}), "i:-1"}; break;
        case 3: v = {sdbus::Variant(std::uint32_t{1}), "u:1"}; break;
        case 4: v = {sdbus::Variant(std::uint64_t{0}), "t:0"}; break;
        case 5: v = {sdbus::Variant(kMaxT), "t:2^64-1"}; break;
        case 6: v = {sdbus::Variant(std::nan("")), "d:nan"}; break;
        case 7: {
            const auto& s = r.pick(pools.strings);
            v = {sdbus::Variant(s), "s:" + shownString(s)};
            break;
        }
        case 8: v = {sdbus::Variant(sdbus::ObjectPath(world.targetPath)), "o:target"}; break;
        case 9: v = {sdbus::Variant(sdbus::Signature("a{sv}")), "g:a{sv}"}; break;
        case 10: v = {sdbus::Variant(std::vector<std::string>{"a", "b"}), "as"}; break;
        case 11: v = {sdbus::Variant(std::vector<std::uint8_t>(4096, 0xff)), "ay:4096"}; break;
        case 12: {
            std::map<std::string, sdbus::Variant> inner{{"mount", sdbus::Variant(true)}};
            v = {sdbus::Variant(inner), "a{sv}"};
            break;
        }
        case 13: {
            std::vector<sdbus::Variant> inner{sdbus::Variant(kMaxT),
                                              sdbus::Variant(std::string("x"))};
            v = {sdbus::Variant(inner), "av"};
            break;
        }
        default: {
            sdbus::Struct<std::string, std::uint64_t> st{"x", kMaxT};
            v = {sdbus::Variant(st), "(st)"};
            break;
        }
        }
        if (v.first.peekValueType() != avoid)
            return v;
    }
}

OptionsDraft hostileOptions(World& world, const Pools& pools, Method m)
{
    // The keys the XML lists for @m, with their types.
    using KnownKey = std::pair<std::string, std::string>;
    std::vector<KnownKey> known = {{"interactive", "b"}};
    if (m == Method::Format)
        known.insert(known.end(), {{"label", "s"}, {"force", "s"}});
    if (m == Method::Unlock)
        known.insert(known.end(), {{"mount", "b"}, {"mount-point", "s"}});
    if (m == Method::RestoreHeader)
        known.push_back({"force", "s"});
    // Grow's passphrase is a descriptor, which no value here is: always of
    // the wrong type (the lab's grow scenarios pass real ones).
    if (m == Method::Grow)
        known.push_back({"passphrase", "h"});

    OptionsDraft d;
    Rng& r = world.rng;
    // Like the dict, a key given twice keeps its last value.
    std::map<std::string, std::string> shown;
    const std::size_t entries = r.oneIn(4) ? 0 : 1 + r.below(3);
    for (std::size_t i = 0; i < entries; ++i) {
        const std::size_t how = r.below(5);
        if (how <= 1) {
            // A known key with the type it takes: only the value is hostile.
            const auto& [key, sig] = r.pick(known);
            if (key == "passphrase") {
                auto [value, what] = randomVariant(world, pools, sig);
                d.dict[key] = value;
                shown[key] = key + ":" + what;
                continue;
            }
            if (key == "label") {
                d.label = r.pick(pools.labels);
                d.dict[key] = sdbus::Variant(d.label);
            } else if (key == "force") {
                const std::vector<std::string> forces = {
                    world.forceToken(),
                    "",
                    world.view.device + ":0",
                    world.view.device + ":18446744073709551615",
                    world.forceToken() + " ",
                    "/dev/disk/by-id/x:" + std::to_string(world.view.size),
                    "$(id)",
                    hugeString(world, 1 << 16, "/dev/"),
                };
                d.force = r.pick(forces);
                d.dict[key] = sdbus::Variant(d.force);
            } else if (key == "mount" || key == "interactive") {
                const bool on = r.oneIn(2);
                d.mount = d.mount || (key == "mount" && on);
                d.dict[key] = sdbus::Variant(on);
            } else {
                const Sample& mp = r.pick(pools.mountPoints);
                d.mountPoint = mp.value;
                d.hasMountPoint = true;
                d.dict[key] = sdbus::Variant(mp.value);
            }
            shown[key] = key + ":" + sig;
        } else if (how == 2) {
            const auto& [key, sig] = r.pick(known);
            auto [value, what] = randomVariant(world, pools, sig);
            d.dict[key] = value;
            shown[key] = key + ":" + what;
        } else if (how == 3 && r.oneIn(40)) {
            // Each level is an array, a dict entry and a variant: 10 levels
            // stay within D-Bus's total depth of 64, 25 do not.
            const unsigned levels = r.oneIn(2) ? 10 : 25;
            d.dict["nested"] = nestedVariant(levels);
            shown["nested"] = fmt::format("nested:{} levels of a{{sv}}", levels);
        } else if (how == 3) {
            const std::string& key = r.pick(pools.optionKeys);
            auto [value, what] = randomVariant(world, pools, "");
            d.dict[key] = value;
            shown[key] = shownString(key) + ":" + what;
        } else {
            // Numbers at both ends of t, under keys known and unknown.
            std::vector<std::string> keys = {"size", "offset", "keyslot", "timeout", "uid"};
            for (const auto& k : known)
                keys.push_back(k.first);
            const std::string& key = r.pick(keys);
            const bool top = r.oneIn(2);
            d.dict[key] = sdbus::Variant(top ? kMaxT : std::uint64_t{0});
            shown[key] = key + (top ? ":t:2^64-1" : ":t:0");
        }
    }
    for (const auto& [key, value] : d.dict) {
        const auto k = std::find_if(known.begin(), known.end(),
                                    [&key](const KnownKey& k) { return k.first == key; });
        d.wellFormed = d.wellFormed && k != known.end() && value.peekValueType() == k->second;
    }
    std::string joined;
    for (const auto& [key, text] : shown)
        joined += (joined.empty() ? "" : ", ") + text;
    d.shown = "{" + joined + "}";
    return d;
}

Arg optionsArg(const OptionsDraft& draft)
{
    return arg(draft.dict, draft.shown);
}

Arg randomArg(World& world, const Pools& pools, Call& call)
{
    Rng& r = world.rng;
    switch (r.below(18)) {
    case 0: return arg(r.oneIn(2), "b");
    case 1: return arg(std::uint8_t{0}, "y:0");
    case 2: return arg(std::int16_t{-32768}, "n:-32768");
    case 3: return arg(std::int32_t{3}, "i:3 (an fd number as a number)");
    case 4: return arg(std::int64_t{std::numeric_limits<std::int64_t>::min()}, "x:min");
    case 5: return arg(std::uint64_t{0}, "t:0");
    case 6: return arg(kMaxT, "t:2^64-1");
    case 7: return arg(std::numeric_limits<double>::infinity(), "d:inf");
    case 8: return stringArg(r.pick(pools.strings));
    case 9: return arg(sdbus::ObjectPath(world.targetPath), "o:target");
    case 10: return arg(sdbus::Signature("a{sv}h"), "g:a{sv}h");
    case 11: {
        auto [value, what] = randomVariant(world, pools, "");
        return arg(value, "v:" + what);
    }
    case 12: return arg(std::vector<std::string>(3, "x"), "as");
    case 13: return arg(std::vector<std::uint8_t>(1 + r.below(1 << 16), 0), "ay");
    case 14: {
        static const std::vector<FdKind> cheap = {FdKind::Passphrase, FdKind::Empty,
                                                  FdKind::DevNull,    FdKind::Directory,
                                                  FdKind::PipeEmpty,  FdKind::SocketPeerClosed,
                                                  FdKind::DevZero,    FdKind::Closed};
        auto fd = std::make_shared<HostileFd>(r.pick(cheap), world.passphrase, world.places);
        call.fds.push_back(fd);
        return fdArg(fd);
    }
    case 15: {
        auto draft = hostileOptions(world, pools, Method::Unlock);
        return optionsArg(draft);
    }
    case 16: {
        std::map<std::int32_t, std::string> m{{-1, "x"}, {0, ""}};
        return arg(m, "a{is}");
    }
    default: {
        sdbus::Struct<std::string, std::uint64_t> st{"x", 0};
        return arg(st, "(st)");
    }
    }
}

}  // namespace vaultd::fuzz
