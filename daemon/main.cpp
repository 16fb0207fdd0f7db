// vaultd: wiring only. Parses the command line, loads the configuration and
// runs the Daemon.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <sdbus-c++/Error.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>

#include "config.hpp"
#include "daemon.hpp"
#include "system/log.hpp"
#include "vaultd_config.h"

int main(int argc, char** argv)
{
    const auto started = std::chrono::steady_clock::now();
    // A long-lived daemon with a few short-lived jobs: glibc's per-thread
    // arenas would each keep the memory a job freed, and resident memory
    // would creep with every worker that ever ran one.
    // One arena, measured: the few threads rarely allocate at once, and a
    // second arena kept a scan's results resident on pages of its own.
    mallopt(M_ARENA_MAX, 1);
    // A client that closes its end of a pipe vaultd writes to (a recovery
    // key's) is an error for that call, never the end of the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"vaultd: encrypted block storage as a service"};
    std::string configPath = VAULTD_CONFIG_PATH;
    bool debug = false;
    auto* configOption = app.add_option("--config", configPath, "configuration file");
    app.add_flag("--debug", debug, "log debug messages");
    app.set_version_flag("--version", VAULTD_VERSION);
    CLI11_PARSE(app, argc, argv);

    vaultd::log::setDebug(debug);
    auto config = vaultd::loadConfig(configPath, configOption->count() > 0);
    if (!config) {
        vaultd::log::error(config.error().message);
        return 1;
    }

    try {
        vaultd::Daemon daemon(std::move(config).value(), started);
        return daemon.run();
    } catch (const sdbus::Error& e) {
        vaultd::log::error("stopped: " + e.getMessage(),
                           {{vaultd::log::Field::Error, e.getName()}});
    } catch (const std::exception& e) {
        vaultd::log::error(std::string("stopped: ") + e.what());
    }
    return 1;
}
