#include "config.hpp"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>
#include <variant>

#include "engine/validate.hpp"
#include "toml_text.hpp"

namespace vaultd {
namespace {

using engine::ErrorCode;
using engine::makeError;

engine::Error bad(std::string_view origin, std::string message)
{
    return makeError(ErrorCode::InvalidArgument, fmt::format("{}: {}", origin, message));
}

// Every key the file may hold, as "table.key".
const std::set<std::string> kKnownKeys = {
    "devices.allow-loop", "devices.ebs-models",   "devices.instance-store-models",
    "grow.automatic",     "grow.volumes",         "mount.base",
    "mount.roots",        "mount.options",        "pbkdf.type",
    "pbkdf.hash",         "pbkdf.time-ms",        "pbkdf.iterations",
    "pbkdf.memory-kib",   "pbkdf.parallel",       "pbkdf.smallest-instance-mib",
    "volumes.directory",  "volumes.lock-on-stop",
};

engine::Status checkKeys(const toml::table& root, std::string_view origin)
{
    for (const auto& [table, node] : root) {
        const auto* sub = node.as_table();
        if (!sub)
            return bad(origin, fmt::format("'{}' must be a table", table.str()));
        for (const auto& [key, value] : *sub) {
            const std::string full = fmt::format("{}.{}", table.str(), key.str());
            if (!kKnownKeys.count(full))
                return bad(origin, fmt::format("unknown setting '{}'", full));
        }
    }
    return engine::Done{};
}

template <typename T>
engine::Status read(const toml::table& root, std::string_view path, T& into,
                    std::string_view origin)
{
    const auto node = root.at_path(path);
    if (!node)
        return engine::Done{};
    auto value = node.value_exact<T>();
    if (!value)
        return bad(origin, fmt::format("'{}' has the wrong type", path));
    into = *value;
    return engine::Done{};
}

engine::Status readRoots(const toml::table& root, std::vector<std::string>& into,
                         std::string_view origin)
{
    const auto node = root.at_path("mount.roots");
    if (!node)
        return engine::Done{};
    const auto* array = node.as_array();
    if (!array || array->empty())
        return bad(origin, "'mount.roots' must be a non-empty list of directories");
    std::vector<std::string> roots;
    for (const auto& element : *array) {
        auto value = element.value_exact<std::string>();
        if (!value)
            return bad(origin, "'mount.roots' must hold only strings");
        if (auto st = engine::checkMountPoint(*value); !st)
            return bad(origin, "mount.roots: " + st.error().message);
        roots.push_back(*value);
    }
    into = std::move(roots);
    return engine::Done{};
}

// The volumes that grow by themselves: LUKS UUIDs, labels, EBS volume ids
// or mapping names.
engine::Status readGrowVolumes(const toml::table& root, std::vector<std::string>& into,
                               std::string_view origin)
{
    const auto node = root.at_path("grow.volumes");
    if (!node)
        return engine::Done{};
    const auto* array = node.as_array();
    if (!array)
        return bad(origin, "'grow.volumes' must be a list of volumes");
    std::vector<std::string> volumes;
    for (const auto& element : *array) {
        auto value = element.value_exact<std::string>();
        if (!value || value->empty() || value->size() > 128)
            return bad(origin,
                       "'grow.volumes' must hold LUKS UUIDs, labels, EBS volume ids or mapping "
                       "names of 1 to 128 bytes");
        volumes.push_back(*value);
    }
    into = std::move(volumes);
    return engine::Done{};
}

// A list of device models, as sysfs gives them without their padding.
engine::Status readModels(const toml::table& root, std::string_view path,
                          std::vector<std::string>& into, std::string_view origin)
{
    const auto node = root.at_path(path);
    if (!node)
        return engine::Done{};
    const auto* array = node.as_array();
    if (!array)
        return bad(origin, fmt::format("'{}' must be a list of device models", path));
    std::vector<std::string> models;
    for (const auto& element : *array) {
        auto value = element.value_exact<std::string>();
        if (!value || value->empty() || value->size() > 64)
            return bad(origin, fmt::format("'{}' must hold device models of 1 to 64 bytes", path));
        models.push_back(*value);
    }
    into = std::move(models);
    return engine::Done{};
}

engine::Status readAll(const toml::table& root, engine::EngineConfig& c, std::string_view origin)
{
    int64_t time = c.pbkdf.timeMs, iter = c.pbkdf.iterations, mem = c.pbkdf.memoryKib,
            par = c.pbkdf.parallel;
    int64_t smallest = static_cast<int64_t>(c.smallestInstanceMemory >> 20);
    for (auto step : {
             read(root, "devices.allow-loop", c.allowLoop, origin),
             readModels(root, "devices.ebs-models", c.identity.ebsModels, origin),
             readModels(root, "devices.instance-store-models", c.identity.instanceStoreModels,
                        origin),
             read(root, "grow.automatic", c.autoGrow.all, origin),
             readGrowVolumes(root, c.autoGrow.volumes, origin),
             read(root, "mount.base", c.mountBase, origin),
             read(root, "mount.options", c.mountOptions, origin),
             readRoots(root, c.mountRoots, origin),
             read(root, "pbkdf.type", c.pbkdf.type, origin),
             read(root, "pbkdf.hash", c.pbkdf.hash, origin),
             read(root, "pbkdf.time-ms", time, origin),
             read(root, "pbkdf.iterations", iter, origin),
             read(root, "pbkdf.memory-kib", mem, origin),
             read(root, "pbkdf.parallel", par, origin),
             read(root, "pbkdf.smallest-instance-mib", smallest, origin),
             read(root, "volumes.directory", c.volumesDirectory, origin),
             read(root, "volumes.lock-on-stop", c.lockOnStop, origin),
         }) {
        if (!step)
            return step;
    }
    for (int64_t v : {time, iter, mem, par}) {
        if (v < 0 || v > UINT32_MAX)
            return bad(origin, "pbkdf numbers must be between 0 and 4294967295");
    }
    c.pbkdf.timeMs = static_cast<uint32_t>(time);
    c.pbkdf.iterations = static_cast<uint32_t>(iter);
    c.pbkdf.memoryKib = static_cast<uint32_t>(mem);
    c.pbkdf.parallel = static_cast<uint32_t>(par);
    // Below 128 MiB no instance runs; above 1 TiB the cap means nothing.
    if (smallest < 128 || smallest > (1 << 20))
        return bad(origin, "pbkdf.smallest-instance-mib must be between 128 and 1048576");
    c.smallestInstanceMemory = static_cast<std::uint64_t>(smallest) << 20;
    return engine::Done{};
}

engine::Status checkValues(const engine::EngineConfig& c, std::string_view origin)
{
    const auto& p = c.pbkdf;
    if (p.type != "argon2id" && p.type != "argon2i" && p.type != "pbkdf2")
        return bad(origin,
                   fmt::format("pbkdf.type '{}' is not argon2id, argon2i or pbkdf2", p.type));
    if (p.type == "pbkdf2" && p.iterations != 0 && p.iterations < 1000)
        return bad(origin, "pbkdf.iterations must be at least 1000 for pbkdf2");
    // The bounds libcryptsetup 2.6 enforces, checked here so a bad file fails
    // at start rather than at every format.
    const bool argon = p.type != "pbkdf2";
    if (argon && (p.parallel < 1 || p.memoryKib < 32 || p.memoryKib > 4194304))
        return bad(origin,
                   "argon2 needs pbkdf.parallel of at least 1 and pbkdf.memory-kib between 32 and "
                   "4194304");
    if (argon && p.iterations != 0 && p.iterations < 4)
        return bad(origin, "argon2 needs pbkdf.iterations of at least 4");
    if (p.iterations == 0 && p.timeMs == 0)
        return bad(origin, "set pbkdf.time-ms or pbkdf.iterations");
    if (c.volumesDirectory.empty() || c.volumesDirectory.front() != '/')
        return bad(origin, "volumes.directory must be an absolute path");
    if (auto st = engine::checkMountPoint(c.mountBase); !st)
        return bad(origin, "mount.base: " + st.error().message);
    if (!engine::isUnderRoots(c.mountBase, c.mountRoots))
        return bad(origin,
                   fmt::format("mount.base '{}' is not inside any of mount.roots", c.mountBase));
    return engine::Done{};
}

}  // namespace

engine::Result<engine::EngineConfig> parseConfig(std::string_view text, std::string_view origin)
{
    auto parsed = parseToml(text, origin);
    if (const auto* e = std::get_if<TomlError>(&parsed))
        return bad(origin, fmt::format("line {}: {}", e->line, e->description));
    toml::table& root = std::get<toml::table>(parsed);
    engine::EngineConfig config;
    if (auto st = checkKeys(root, origin); !st)
        return st.error();
    if (auto st = readAll(root, config, origin); !st)
        return st.error();
    if (auto st = checkValues(config, origin); !st)
        return st.error();
    return config;
}

engine::Result<engine::EngineConfig> loadConfig(const std::string& path, bool mustExist)
{
    std::ifstream in(path);
    if (!in) {
        if (mustExist)
            return makeError(ErrorCode::InvalidArgument, fmt::format("cannot read '{}'", path));
        return engine::EngineConfig{};
    }
    std::stringstream text;
    text << in.rdbuf();
    return parseConfig(text.str(), path);
}

}  // namespace vaultd
