// vaultd-bus-fuzz: sends thousands of malformed and hostile calls to a
// running vaultd on the system bus and reports what came back. Meant for the
// lab (tests/lab/scenarios/fuzz.sh): it really formats, unlocks and mounts
// the target volume. Only wiring lives here; see fuzz_run.hpp.
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <sdbus-c++/Error.h>

#include "fuzz_run.hpp"

namespace {

constexpr const char* kUsage =
    "usage: vaultd-bus-fuzz --target NAME --bystander NAME --sandbox DIR [--seed N]\n"
    "                       [--calls N] [--warmup N] [--floods N] [--slow N] [--no-bus-limit]\n"
    "                       [--ascii-huge] [--report FILE]\n"
    "  NAME is a kernel name (vdb). Everything the target holds is destroyed; the\n"
    "  bystander's object only ever gets Properties.Get and GetAll. DIR must lie in\n"
    "  one of vaultd's mount roots (by default /secure, /mnt, /media).\n"
    "  --ascii-huge keeps multi-byte characters out of huge strings, to get past a\n"
    "  vaultd that dies when it cuts one in half and fuzz the rest.\n";

bool parse(int argc, char** argv, vaultd::fuzz::RunOptions& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--no-bus-limit") {
            o.busLimit = false;
            continue;
        }
        if (flag == "--ascii-huge") {
            o.asciiHuge = true;
            continue;
        }
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[++i];
        if (flag == "--target")
            o.target = value;
        else if (flag == "--bystander")
            o.bystander = value;
        else if (flag == "--sandbox")
            o.sandbox = value;
        else if (flag == "--report")
            o.report = value;
        else if (flag == "--seed")
            o.seed = std::stoull(value, nullptr, 0);
        else if (flag == "--calls")
            o.calls = std::stoul(value);
        else if (flag == "--warmup")
            o.warmup = std::stoul(value);
        else if (flag == "--floods")
            o.floods = static_cast<unsigned>(std::stoul(value));
        else if (flag == "--slow")
            o.slow = static_cast<unsigned>(std::stoul(value));
        else
            return false;
    }
    return !o.target.empty() && !o.bystander.empty() && !o.sandbox.empty();
}

}  // namespace

int main(int argc, char** argv)
{
    vaultd::fuzz::RunOptions options;
    try {
        if (!parse(argc, argv, options)) {
            fmt::print(stderr, "{}", kUsage);
            return 2;
        }
    } catch (const std::exception&) {
        fmt::print(stderr, "{}", kUsage);
        return 2;
    }
    // Writers into pipes vaultd has hung up on get EPIPE instead of dying.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return vaultd::fuzz::FuzzRun(options).run();
    } catch (const std::logic_error& e) {
        fmt::print(stderr, "bus-fuzz: bug in the fuzzer: {}\n", e.what());
        return 3;
    } catch (const sdbus::Error& e) {
        fmt::print(stderr, "bus-fuzz: {}: {}\n", e.getName(), e.getMessage());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "bus-fuzz: {}\n", e.what());
        return 2;
    }
}
