#include "polkit_agent.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.hpp"
#include "unique_fd.hpp"

extern char** environ;

namespace vaultctl {
namespace {

constexpr const char* agentPath = "/usr/bin/pkttyagent";
constexpr int notifyFd = 3;
constexpr int registerTimeoutMs = 10000;

// pkttyagent closes its notify descriptor once it is registered.
bool waitRegistered(int readEnd)
{
    pollfd p{readEnd, POLLIN, 0};
    for (;;) {
        int rc = poll(&p, 1, registerTimeoutMs);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        char byte = 0;
        ssize_t n = read(readEnd, &byte, 1);
        if (n == 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

}  // namespace

bool PolkitAgent::canAsk()
{
    UniqueFd tty(open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
    return tty.valid() && access(agentPath, X_OK) == 0;
}

PolkitAgent::PolkitAgent()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw CommandError(exitFailure,
                           fmt::format("cannot start pkttyagent: {}", std::strerror(errno)));
    UniqueFd readEnd(fds[0]);
    UniqueFd writeEnd(fds[1]);

    // Not --fallback: polkitd uses a fallback agent only for a subject it can
    // place in a login session, and an SSH or cron caller often has none. This
    // agent is scoped to our own process and lives only for this call.
    const std::string pid = std::to_string(getpid());
    const std::string fd = std::to_string(notifyFd);
    char* argv[] = {const_cast<char*>(agentPath),   const_cast<char*>("--process"),
                    const_cast<char*>(pid.c_str()), const_cast<char*>("--notify-fd"),
                    const_cast<char*>(fd.c_str()),  nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), notifyFd);
    const int rc = posix_spawn(&pid_, agentPath, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    writeEnd = UniqueFd();
    if (rc != 0) {
        pid_ = -1;
        throw CommandError(exitFailure,
                           fmt::format("cannot start {}: {}", agentPath, std::strerror(rc)));
    }
    if (!waitRegistered(readEnd.get())) {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        throw CommandError(exitFailure, "the polkit agent did not register in time");
    }
}

PolkitAgent::~PolkitAgent()
{
    if (pid_ <= 0)
        return;
    kill(pid_, SIGTERM);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {}
}

}  // namespace vaultctl
