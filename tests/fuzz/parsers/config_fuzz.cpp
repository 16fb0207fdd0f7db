// libFuzzer target: the daemon's configuration file (vaultd.conf, TOML).
// Any text gives a configuration or an error with a message; what it
// accepts holds only valid mount roots with the base inside one, and a key
// derivation within the bounds the parser promises.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.hpp"
#include "engine/validate.hpp"
#include "property.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = vaultd::parseConfig(text, "fuzz.conf");
    if (!parsed) {
        FUZZ_REQUIRE(!parsed.error().message.empty());
        return 0;
    }
    using namespace vaultd::engine;
    const auto& config = parsed.value();
    FUZZ_REQUIRE(!config.mountRoots.empty());
    for (const auto& root : config.mountRoots)
        FUZZ_REQUIRE(checkMountPoint(root));
    FUZZ_REQUIRE(checkMountPoint(config.mountBase));
    FUZZ_REQUIRE(isUnderRoots(config.mountBase, config.mountRoots));
    FUZZ_REQUIRE(!config.volumesDirectory.empty() && config.volumesDirectory.front() == '/');
    FUZZ_REQUIRE(config.smallestInstanceMemory >= (128ull << 20) &&
                 config.smallestInstanceMemory <= (1ull << 40));
    for (const auto& volume : config.autoGrow.volumes)
        FUZZ_REQUIRE(!volume.empty() && volume.size() <= 128);
    for (const auto& model : config.identity.ebsModels)
        FUZZ_REQUIRE(!model.empty() && model.size() <= 64);
    const PbkdfSettings& p = config.pbkdf;
    FUZZ_REQUIRE(p.type == "argon2id" || p.type == "argon2i" || p.type == "pbkdf2");
    FUZZ_REQUIRE(p.iterations != 0 || p.timeMs != 0);
    if (p.type == "pbkdf2")
        FUZZ_REQUIRE(p.iterations == 0 || p.iterations >= 1000);
    else
        FUZZ_REQUIRE(p.parallel >= 1 && p.memoryKib >= 32 && p.memoryKib <= 4194304 &&
                     (p.iterations == 0 || p.iterations >= 4));
    return 0;
}
