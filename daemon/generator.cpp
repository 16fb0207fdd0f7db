// vaultd-generator: wiring only. systemd runs it at boot and on every
// daemon-reload with its normal, early and late output directories; the
// units go to the normal one. A bad volume file must never fail the boot:
// each problem is one line on stderr (the journal) and the exit is 0.
#include <cstdio>
#include <string>

#include "config.hpp"
#include "unit_generator.hpp"
#include "vaultd_config.h"
#include "volume_config.hpp"

int main(int argc, char** argv)
{
    if (argc != 2 && argc != 4) {
        std::fprintf(stderr, "usage: vaultd-generator NORMAL-DIR [EARLY-DIR LATE-DIR]\n");
        return 1;
    }

    // vaultd would not start with a broken configuration either.
    auto config = vaultd::loadConfig(VAULTD_CONFIG_PATH, false);
    if (!config) {
        std::fprintf(stderr, "%s, generating no units\n", config.error().message.c_str());
        return 0;
    }

    vaultd::GeneratorSettings settings;
    settings.volumesDirectory = config.value().volumesDirectory;
    settings.mountOptions = config.value().mountOptions;
    settings.vaultctl = std::string(VAULTD_BINDIR) + "/vaultctl";
    const vaultd::SystemUsers users;
    for (const auto& problem : vaultd::generate(settings, argv[1], users))
        std::fprintf(stderr, "%s\n", problem.c_str());
    return 0;
}
