#include "system/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
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

// The whole environment a tool or helper gets.
char kPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
char kLocale[] = "LC_ALL=C";
std::array<char*, 3> kEnvironment = {kPath, kLocale, nullptr};

std::vector<char*> argvOf(const std::string& path, const std::vector<std::string>& args)
{
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    return argv;
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

// @input in a memory file sealed against any change, read from its start.
UniqueFd sealedInput(std::string_view input)
{
    UniqueFd fd(memfd_create("vaultd-helper-input", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd)
        return fd;
    std::size_t done = 0;
    while (done < input.size()) {
        const ssize_t n = write(fd.get(), input.data() + done, input.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return UniqueFd();
        done += static_cast<std::size_t>(n);
    }
    if (lseek(fd.get(), 0, SEEK_SET) != 0 ||
        fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
        return UniqueFd();
    return fd;
}

}  // namespace

engine::Result<HelperRun> runKeyHelper(const std::string& tool,
                                       const std::vector<std::string>& args, std::string_view input,
                                       engine::SecretBuffer& output,
                                       std::chrono::milliseconds timeout)
{
    const std::string path = findTool(tool);
    if (path.empty())
        return makeError(ErrorCode::Failed, fmt::format("'{}' is not installed", tool));
    UniqueFd in = sealedInput(input);
    int outFds[2];
    int errFds[2];
    if (!in || pipe2(outFds, O_CLOEXEC) != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("failed to run '{}': {}", tool, std::strerror(errno)));
    UniqueFd outRead(outFds[0]);
    UniqueFd outWrite(outFds[1]);
    if (pipe2(errFds, O_CLOEXEC) != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("failed to run '{}': {}", tool, std::strerror(errno)));
    UniqueFd errRead(errFds[0]);
    UniqueFd errWrite(errFds[1]);

    std::vector<char*> argv = argvOf(path, args);

    pid_t pid = -1;
    int rc = 0;
    {
        SpawnSetup setup(in.get(), outWrite.get());
        posix_spawn_file_actions_adddup2(&setup.actions, errWrite.get(), STDERR_FILENO);
        // Its own process group, so that a timeout kills what it started too.
        short flags = 0;
        posix_spawnattr_getflags(&setup.attr, &flags);
        posix_spawnattr_setflags(&setup.attr, flags | POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&setup.attr, 0);
        rc = posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv.data(),
                         kEnvironment.data());
    }
    outWrite.reset();
    errWrite.reset();
    if (rc != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("failed to run '{}': {}", tool, std::strerror(rc)));

    HelperRun run;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool outOpen = true;
    bool errOpen = true;
    std::array<char, 4096> buf{};
    while (outOpen || errOpen) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            run.timedOut = true;
            kill(-pid, SIGKILL);
            break;
        }
        pollfd fds[2] = {{outOpen ? outRead.get() : -1, POLLIN, 0},
                         {errOpen ? errRead.get() : -1, POLLIN, 0}};
        const int ready = poll(fds, 2, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            break;
        if (fds[0].revents) {
            // Straight into the wiped buffer; more than it holds is refused.
            std::span<char> spare = output.spare();
            if (spare.empty()) {
                kill(-pid, SIGKILL);
                output.wipe();
                break;
            }
            const ssize_t n = read(outRead.get(), spare.data(), spare.size());
            if (n > 0)
                output.commit(static_cast<std::size_t>(n));
            else if (n == 0 || errno != EINTR)
                outOpen = false;
        }
        if (fds[1].revents) {
            const ssize_t n = read(errRead.get(), buf.data(), buf.size());
            if (n > 0 && run.errors.size() < kOutputCap)
                run.errors.append(buf.data(),
                                  std::min<std::size_t>(n, kOutputCap - run.errors.size()));
            else if (n == 0 || (n < 0 && errno != EINTR))
                errOpen = false;
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    // What it started may linger on a pipe we no longer read.
    kill(-pid, SIGKILL);
    run.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (run.exitStatus != 0)
        output.wipe();
    return run;
}

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

    std::vector<char*> argv = argvOf(path, args);

    pid_t pid = -1;
    int rc = 0;
    {
        SpawnSetup setup(devNull.get(), writeEnd.get());
        rc = posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv.data(),
                         kEnvironment.data());
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
