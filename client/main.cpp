// vaultctl: the unprivileged command line client of vaultd.
#include "cli.hpp"
#include "command_runner.hpp"
#include "output.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    vaultctl::ParseOutcome parsed = vaultctl::parseCommandLine(args);
    if (!parsed.invocation) {
        std::cout << parsed.output;
        if (parsed.json && !parsed.error.empty())
            std::cerr << vaultctl::usageErrorJson(parsed.error, parsed.exitCode);
        else if (!parsed.error.empty())
            std::cerr << parsed.error << '\n';
        return parsed.exitCode;
    }

    return vaultctl::CommandRunner(std::cout, std::cerr).run(*parsed.invocation);
}
