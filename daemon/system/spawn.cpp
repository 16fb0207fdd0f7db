#include "system/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "system/unique_fd.hpp"

extern char** environ;

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;

constexpr std::size_t kOutputCap = 16384;

std::string findTool(const std::string& tool)
{
    // A bare name only: "../x" must not walk out of the system directories.
    if (tool.empty() || tool.find('/') != std::string::npos)
        return {};
    for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
        std::string path = std::string(dir) + "/" + tool;
        if (access(path.c_str(), X_OK) == 0)
            return path;
    }
    return {};
}

std::string drain(int fd)
{
    std::string out;
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    while ((n = read(fd, buf.data(), buf.size())) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        // Keep reading past the cap so the tool never blocks on a full pipe.
        if (out.size() < kOutputCap)
            out.append(buf.data(), std::min<std::size_t>(n, kOutputCap - out.size()));
    }
    return out;
}

struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};

    SpawnSetup(int devNull, int outFd)
    {
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, devNull, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, outFd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, outFd, STDERR_FILENO);

        posix_spawnattr_init(&attr);
        sigset_t none;
        sigemptyset(&none);
        sigset_t defaults;
        sigemptyset(&defaults);
        for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
            sigaddset(&defaults, sig);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    ~SpawnSetup()
    {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

engine::Result<ToolRun> runTool(const std::string& tool, const std::vector<std::string>& args)
{
    const std::string path = findTool(tool);
    if (path.empty())
        return makeError(ErrorCode::Failed, fmt::format("'{}' is not installed", tool));

    UniqueFd devNull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int pipeFds[2];
    if (!devNull || pipe2(pipeFds, O_CLOEXEC) != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("failed to run '{}': {}", tool, std::strerror(errno)));
    UniqueFd readEnd(pipeFds[0]);
    UniqueFd writeEnd(pipeFds[1]);

    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char env0[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char env1[] = "LC_ALL=C";
    char* envp[] = {env0, env1, nullptr};

    pid_t pid = -1;
    int rc = 0;
    {
        SpawnSetup setup(devNull.get(), writeEnd.get());
        rc = posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv.data(), envp);
    }
    writeEnd.reset();
    if (rc != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("failed to run '{}': {}", tool, std::strerror(rc)));

    ToolRun run;
    run.output = drain(readEnd.get());
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    run.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

}  // namespace vaultd::system
