#include "system/secret_reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <fmt/format.h>

#include "system/unique_fd.hpp"

#include <cerrno>
#include <cstdint>

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;
using Clock = std::chrono::steady_clock;

bool waitReadable(int fd, Clock::time_point deadline)
{
    for (;;) {
        // Rounded up, so the wait never ends before the deadline.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return false;
        pollfd p{fd, POLLIN, 0};
        const int rc = poll(&p, 1, static_cast<int>(left.count()));
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            return true;  // let read() report the error
    }
}

}  // namespace

engine::Status readSecret(int fd, engine::SecretBuffer& into, std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    into.wipe();
    for (;;) {
        if (!waitReadable(fd, deadline)) {
            into.wipe();
            return makeError(
                ErrorCode::InvalidArgument,
                "timed out reading the passphrase: close the descriptor after writing");
        }
        auto spare = into.spare();
        char probe = 0;
        // A full buffer reads one byte more, only to learn whether there is more.
        const bool full = spare.empty();
        const ssize_t n = full ? read(fd, &probe, 1) : read(fd, spare.data(), spare.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            into.wipe();
            return makeError(ErrorCode::InvalidArgument,
                             fmt::format("cannot read the passphrase: {}", strerror(errno)));
        }
        if (n == 0)
            return engine::Done{};
        if (full) {
            explicit_bzero(&probe, sizeof(probe));
            into.wipe();
            return makeError(
                ErrorCode::InvalidArgument,
                fmt::format("the passphrase is longer than {} bytes", into.capacity()));
        }
        into.commit(static_cast<std::size_t>(n));
    }
}

engine::Status readKeyFile(const std::string& path, engine::SecretBuffer& into)
{
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        return makeError(ErrorCode::Failed,
                         fmt::format("cannot open the key file '{}': {}", path, strerror(errno)));
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return makeError(ErrorCode::Failed,
                         fmt::format("the key file '{}' is not a regular file", path));
    if (st.st_uid != 0 || (st.st_mode & 077) != 0)
        return makeError(ErrorCode::Failed,
                         fmt::format("the key file '{}' must be owned by root and readable by "
                                     "root alone (mode 0600 or 0400); it is mode {:04o}, owner "
                                     "{}",
                                     path, st.st_mode & 07777, st.st_uid));
    if (static_cast<std::uint64_t>(st.st_size) > into.capacity())
        return makeError(ErrorCode::Failed, fmt::format("the key file '{}' is larger than {} bytes",
                                                        path, into.capacity()));
    return readSecret(fd.get(), into, std::chrono::seconds(5));
}

}  // namespace vaultd::system
