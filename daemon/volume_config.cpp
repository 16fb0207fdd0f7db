#include "volume_config.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <variant>
#include <vector>

#include "engine/identity.hpp"
#include "engine/quote.hpp"
#include "engine/validate.hpp"
#include "toml_text.hpp"

namespace vaultd {
namespace {

using engine::ConfiguredVolume;
using engine::ErrorCode;
using engine::makeError;

// Every key a volume file may hold, by table.
const std::map<std::string, std::set<std::string, std::less<>>, std::less<>> kKnownKeys = {
    {"match", {"ebs-volume-id", "luks-uuid", "label"}},
    {"unlock",
     {"key", "key-file", "name", "on-attach", "read-only", "discard", "no-read-workqueue",
      "no-write-workqueue"}},
    {"mount", {"point", "options", "owner"}},
};

// Options that only tighten or tune a mount. Anything else could undo the
// nodev,nosuid vaultd mounts with (dev, suid, defaults, remount, ...) or
// reach into filesystem internals, so it is refused rather than filtered.
constexpr std::array<std::string_view, 6> kSafeMountOptions = {
    "noatime", "relatime", "nodiratime", "lazytime", "ro", "sync",
};

// The LUKS2 binary header keeps the label in 48 bytes, NUL included.
constexpr std::size_t kMaxLuksLabel = 47;

bool hasControlCharacter(std::string_view text)
{
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string lowered(std::string_view text)
{
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

template <typename T>
constexpr std::string_view typeName()
{
    if constexpr (std::is_same_v<T, bool>)
        return "true or false";
    else
        return "a string";
}

// One parsed file and where its values came from, so that every refusal
// can name the line.
class VolumeFile {
public:
    VolumeFile(const toml::table& root, std::string_view origin) : root_(root), origin_(origin) {}

    const toml::table& root() const { return root_; }

    engine::Error bad(const toml::source_region& at, std::string_view reason) const
    {
        if (at.begin.line == 0)
            return bad(reason);
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("{}:{}: {}", origin_, at.begin.line, reason));
    }

    engine::Error bad(const toml::node* at, std::string_view reason) const
    {
        return at ? bad(at->source(), reason) : bad(reason);
    }

    engine::Error bad(std::string_view reason) const
    {
        return makeError(ErrorCode::InvalidArgument, fmt::format("{}: {}", origin_, reason));
    }

    const toml::node* find(std::string_view table, std::string_view key) const
    {
        const auto* t = root_[table].as_table();
        return t ? t->get(key) : nullptr;
    }

    // Reads table.key into @into when the file gives it, and says in @at
    // where (null when it does not).
    template <typename T>
    engine::Status read(std::string_view table, std::string_view key, T& into,
                        const toml::node** at = nullptr) const
    {
        const toml::node* node = find(table, key);
        if (at)
            *at = node;
        if (!node)
            return engine::Done{};
        auto value = node->value_exact<T>();
        if (!value)
            return bad(node, fmt::format("'{}.{}' must be {}", table, key, typeName<T>()));
        into = *value;
        return engine::Done{};
    }

private:
    const toml::table& root_;
    std::string_view origin_;
};

engine::Status checkKeys(const VolumeFile& file)
{
    for (const auto& [name, node] : file.root()) {
        const auto known = kKnownKeys.find(name.str());
        if (known == kKnownKeys.end())
            return file.bad(name.source(),
                            fmt::format("unknown table {}", engine::quoted(name.str())));
        const auto* table = node.as_table();
        if (!table)
            return file.bad(&node, fmt::format("{} must be a table", engine::quoted(name.str())));
        for (const auto& [key, value] : *table) {
            if (!known->second.count(key.str()))
                return file.bad(
                    key.source(),
                    fmt::format("unknown setting {}",
                                engine::quoted(fmt::format("{}.{}", name.str(), key.str()))));
        }
    }
    return engine::Done{};
}

engine::Status readEbsVolumeId(const VolumeFile& file, ConfiguredVolume& c)
{
    std::string text;
    const toml::node* at = nullptr;
    if (auto st = file.read("match", "ebs-volume-id", text, &at); !st || !at)
        return st;
    auto id = engine::canonicalVolumeId(text);
    if (!id)
        return file.bad(at, fmt::format("match.ebs-volume-id {} is not an EBS volume id "
                                        "(vol- and 8 or 17 hexadecimal digits)",
                                        engine::quoted(text)));
    c.ebsVolumeId = *id;
    return engine::Done{};
}

engine::Status readLuksUuid(const VolumeFile& file, ConfiguredVolume& c)
{
    std::string text;
    const toml::node* at = nullptr;
    if (auto st = file.read("match", "luks-uuid", text, &at); !st || !at)
        return st;
    if (!engine::isUuid(text))
        return file.bad(at, fmt::format("match.luks-uuid {} is not a UUID (8-4-4-4-12 "
                                        "hexadecimal digits)",
                                        engine::quoted(text)));
    // libcryptsetup writes UUIDs in lower case; keeping that spelling lets
    // files be compared with one another as plain strings.
    c.luksUuid = lowered(text);
    return engine::Done{};
}

engine::Status readLabel(const VolumeFile& file, ConfiguredVolume& c)
{
    const toml::node* at = nullptr;
    if (auto st = file.read("match", "label", c.label, &at); !st || !at)
        return st;
    if (c.label.empty() || c.label.size() > kMaxLuksLabel || hasControlCharacter(c.label))
        return file.bad(at, fmt::format("match.label {} must be 1 to {} bytes without control "
                                        "characters",
                                        engine::quoted(c.label), kMaxLuksLabel));
    return engine::Done{};
}

engine::Status readMatch(const VolumeFile& file, ConfiguredVolume& c)
{
    for (auto step : {readEbsVolumeId, readLuksUuid, readLabel}) {
        if (auto st = step(file, c); !st)
            return st;
    }
    if (c.ebsVolumeId.empty() && c.luksUuid.empty() && c.label.empty())
        return file.bad(file.root().get("match"),
                        "[match] must name the volume by ebs-volume-id, luks-uuid or label");
    return engine::Done{};
}

// The key file is named by root, so any place is fine, but only spelt one
// way: the path logged is then the path opened.
std::optional<std::string_view> keyFileProblem(std::string_view path)
{
    if (path.empty() || path.front() != '/')
        return "it must be an absolute path";
    if (path.size() > engine::kMaxPathLength)
        return "it is too long";
    if (path.back() == '/')
        return "it ends with a slash";
    if (hasControlCharacter(path))
        return "it holds a control character";
    std::size_t start = 1;
    while (start <= path.size()) {
        std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            return "it must be normalised (no '.', '..' or '//')";
        start = end + 1;
    }
    return std::nullopt;
}

engine::Status readKey(const VolumeFile& file, ConfiguredVolume& c)
{
    std::string source = "none";
    const toml::node* sourceAt = nullptr;
    if (auto st = file.read("unlock", "key", source, &sourceAt); !st)
        return st;
    if (source == "keyfile")
        c.keySource = engine::KeySource::KeyFile;
    else if (source == "token")
        c.keySource = engine::KeySource::Token;
    else if (source == "none")
        c.keySource = engine::KeySource::None;
    else
        return file.bad(sourceAt, fmt::format("unlock.key {} must be \"keyfile\", \"token\" or "
                                              "\"none\"",
                                              engine::quoted(source)));

    const toml::node* fileAt = nullptr;
    if (auto st = file.read("unlock", "key-file", c.keyFile, &fileAt); !st)
        return st;
    const bool wantsFile = c.keySource == engine::KeySource::KeyFile;
    if (!wantsFile && fileAt)
        return file.bad(fileAt, "unlock.key-file is only for key = \"keyfile\"");
    if (wantsFile && !fileAt)
        return file.bad(sourceAt, "key = \"keyfile\" needs unlock.key-file");
    if (!wantsFile)
        return engine::Done{};
    if (auto problem = keyFileProblem(c.keyFile))
        return file.bad(fileAt, fmt::format("unlock.key-file {} is refused: {}",
                                            engine::quoted(c.keyFile), *problem));
    return engine::Done{};
}

engine::Status readMapping(const VolumeFile& file, ConfiguredVolume& c)
{
    const toml::node* nameAt = nullptr;
    c.mappingName = c.name;
    auto& m = c.mapping;
    for (auto st : {
             file.read("unlock", "name", c.mappingName, &nameAt),
             file.read("unlock", "on-attach", c.onAttach),
             file.read("unlock", "read-only", m.readOnly),
             file.read("unlock", "discard", m.discard),
             file.read("unlock", "no-read-workqueue", m.noReadWorkqueue),
             file.read("unlock", "no-write-workqueue", m.noWriteWorkqueue),
         }) {
        if (!st)
            return st;
    }
    if (auto st = engine::checkMappingName(c.mappingName); !st)
        return file.bad(nameAt, "unlock.name: " + st.error().message);
    return engine::Done{};
}

engine::Status checkMountOptions(const VolumeFile& file, const toml::node* at,
                                 std::string_view options)
{
    if (options.empty())
        return engine::Done{};
    std::size_t start = 0;
    while (start <= options.size()) {
        const std::size_t end = std::min(options.find(',', start), options.size());
        const std::string_view option = options.substr(start, end - start);
        if (std::find(kSafeMountOptions.begin(), kSafeMountOptions.end(), option) ==
            kSafeMountOptions.end())
            return file.bad(at, fmt::format("mount.options: {} is refused; only noatime, "
                                            "relatime, nodiratime, lazytime, ro and sync are "
                                            "allowed",
                                            engine::quoted(option)));
        start = end + 1;
    }
    return engine::Done{};
}

engine::Status readOwner(const VolumeFile& file, ConfiguredVolume& c, const UserLookup& users)
{
    const toml::node* at = nullptr;
    if (auto st = file.read("mount", "owner", c.ownerName, &at); !st || !at)
        return st;
    // getpwnam_r stops at a NUL, so such a name would find someone else.
    if (c.ownerName.empty() || hasControlCharacter(c.ownerName))
        return file.bad(
            at, fmt::format("mount.owner {} is not a user name", engine::quoted(c.ownerName)));
    auto ids = users.find(c.ownerName);
    if (!ids)
        return file.bad(
            at, fmt::format("mount.owner {} is not a known user", engine::quoted(c.ownerName)));
    c.hasOwner = true;
    c.ownerUid = ids->first;
    c.ownerGid = ids->second;
    return engine::Done{};
}

engine::Status readMount(const VolumeFile& file, ConfiguredVolume& c, const UserLookup& users)
{
    const toml::node* table = file.root().get("mount");
    if (!table)
        return engine::Done{};
    const toml::node* pointAt = nullptr;
    const toml::node* optionsAt = nullptr;
    for (auto st : {
             file.read("mount", "point", c.mountPoint, &pointAt),
             file.read("mount", "options", c.mountOptions, &optionsAt),
         }) {
        if (!st)
            return st;
    }
    // Owner and options alone would be silently unused.
    if (!pointAt)
        return file.bad(table, "[mount] needs a point");
    if (auto st = engine::checkMountPoint(c.mountPoint); !st)
        return file.bad(pointAt, "mount.point: " + st.error().message);
    if (auto st = checkMountOptions(file, optionsAt, c.mountOptions); !st)
        return st;
    return readOwner(file, c, users);
}

engine::Error badFile(std::string_view origin, std::string_view reason)
{
    return makeError(ErrorCode::InvalidArgument, fmt::format("{}: {}", origin, reason));
}

// The file's bytes, refusing anything but a regular file of at most
// kMaxVolumeFileSize that only root may change. O_NONBLOCK so that a FIFO put there cannot hang the
// daemon in open.
engine::Result<std::string> readSmallFile(const std::string& path, uid_t owner)
{
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return badFile(path, fmt::format("cannot open: {}", std::strerror(errno)));
    struct stat st {};
    std::string text;
    std::string problem;
    if (fstat(fd, &st) != 0)
        problem = fmt::format("cannot stat: {}", std::strerror(errno));
    else if (!S_ISREG(st.st_mode))
        problem = "not a regular file";
    // Whoever may write the file chooses a key file, a mount point and an
    // owner for the volume: that must be root alone.
    else if (st.st_uid != owner || (st.st_mode & 022) != 0)
        problem = fmt::format(
            "must be owned by uid {} and writable by it alone; it is mode "
            "{:04o}, owner {}",
            owner, st.st_mode & 07777, st.st_uid);
    char buffer[8192];
    while (problem.empty()) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            problem = fmt::format("cannot read: {}", std::strerror(errno));
        if (n <= 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxVolumeFileSize)
            problem = fmt::format("larger than {} KiB, refusing it", kMaxVolumeFileSize / 1024);
    }
    close(fd);
    if (!problem.empty())
        return badFile(path, problem);
    return text;
}

// Whether one device could match both: they agree on every identity both
// give, and both give at least one of the same kind.
bool couldNameSameVolume(const ConfiguredVolume& a, const ConfiguredVolume& b)
{
    int shared = 0;
    for (auto [x, y] : {std::pair{&a.ebsVolumeId, &b.ebsVolumeId},
                        std::pair{&a.luksUuid, &b.luksUuid}, std::pair{&a.label, &b.label}}) {
        if (x->empty() || y->empty())
            continue;
        if (*x != *y)
            return false;
        ++shared;
    }
    return shared > 0;
}

// Why @c cannot join @taken, or nothing.
std::optional<std::string> conflict(const ConfiguredVolume& c,
                                    const std::vector<ConfiguredVolume>& taken)
{
    for (const auto& other : taken) {
        if (c.mappingName == other.mappingName)
            return fmt::format("{}: mapping name '{}' is taken by {}", c.origin, c.mappingName,
                               other.origin);
        if (!c.mountPoint.empty() && c.mountPoint == other.mountPoint)
            return fmt::format("{}: mount point '{}' is taken by {}", c.origin, c.mountPoint,
                               other.origin);
        if (couldNameSameVolume(c, other))
            return fmt::format("{}: [match] could name the same volume as {}", c.origin,
                               other.origin);
    }
    return std::nullopt;
}

// The *.toml files in @dir, sorted; not-regular ones left out.
std::vector<std::string> volumeFileNames(const std::string& dir, std::vector<std::string>& problems)
{
    namespace fs = std::filesystem;
    std::vector<std::string> names;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec == std::errc::no_such_file_or_directory)
        return names;
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::error_code typeError;
        if (name.ends_with(".toml") && it->is_regular_file(typeError))
            names.push_back(name);
    }
    if (ec)
        problems.push_back(fmt::format("{}: cannot list the directory: {}", dir, ec.message()));
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

std::optional<std::pair<uid_t, gid_t>> SystemUsers::find(const std::string& name) const
{
    const long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : 1024);
    for (;;) {
        passwd entry{};
        passwd* found = nullptr;
        const int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        // Entries from NSS modules can outgrow the hint; 1 MiB is beyond any real one.
        if (rc == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (rc != 0 || !found)
            return std::nullopt;
        return std::pair{found->pw_uid, found->pw_gid};
    }
}

engine::Result<ConfiguredVolume> parseVolumeFile(std::string_view text, std::string_view origin,
                                                 std::string_view name, const UserLookup& users)
{
    auto parsed = parseToml(text, origin);
    if (const auto* e = std::get_if<TomlError>(&parsed)) {
        if (e->line == 0)
            return badFile(origin, e->description);
        return badFile(fmt::format("{}:{}", origin, e->line), e->description);
    }
    toml::table& root = std::get<toml::table>(parsed);
    if (auto st = engine::checkMappingName(name); !st)
        return badFile(origin, fmt::format("the file's name {} must be a mapping name: {}",
                                           engine::quoted(name), st.error().message));

    const VolumeFile file(root, origin);
    ConfiguredVolume c;
    c.name = std::string(name);
    c.origin = std::string(origin);
    if (auto st = checkKeys(file); !st)
        return st.error();
    if (auto st = readMatch(file, c); !st)
        return st.error();
    if (auto st = readKey(file, c); !st)
        return st.error();
    if (auto st = readMapping(file, c); !st)
        return st.error();
    // Last, so that the user database is asked only about an otherwise
    // sound file.
    if (auto st = readMount(file, c, users); !st)
        return st.error();
    return c;
}

engine::ConfiguredVolumes loadVolumeDirectory(const std::string& dir, const UserLookup& users,
                                              uid_t owner)
{
    engine::ConfiguredVolumes out;
    for (const auto& fileName : volumeFileNames(dir, out.problems)) {
        const std::string path = (std::filesystem::path(dir) / fileName).string();
        auto text = readSmallFile(path, owner);
        if (!text) {
            out.problems.push_back(text.error().message);
            continue;
        }
        const std::string_view stem = std::string_view(fileName).substr(0, fileName.size() - 5);
        auto parsed = parseVolumeFile(text.value(), path, stem, users);
        if (!parsed) {
            out.problems.push_back(parsed.error().message);
            continue;
        }
        if (auto why = conflict(parsed.value(), out.volumes)) {
            out.problems.push_back(*why);
            continue;
        }
        out.volumes.push_back(std::move(parsed).value());
    }
    return out;
}

}  // namespace vaultd
