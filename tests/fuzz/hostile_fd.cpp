#include "hostile_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vaultd::fuzz {
namespace {

constexpr std::size_t kSecretCap = 65536;
constexpr std::uint64_t kGigabyte = 1ull << 30;

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

int openOrThrow(const std::string& path, int flags)
{
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0)
        fail(path);
    return fd;
}

// The highest descriptor number the limit allows that is not open: far
// above anything this process opens, so it stays closed while we use it.
int closedNumber()
{
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    int fd = static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1 << 20)) - 1;
    while (fd > 3 && ::fcntl(fd, F_GETFD) != -1)
        --fd;
    return fd;
}

// What vaultd reads from a readable kind; empty for the others.
std::string readableBytes(FdKind kind, const std::string& passphrase)
{
    switch (kind) {
    case FdKind::Passphrase:
    case FdKind::PipePassphrase:
    case FdKind::SocketPassphrase: return passphrase;
    case FdKind::OtherPassphrase: return "not the passphrase";
    case FdKind::AtCap: return std::string(kSecretCap, 'k');
    case FdKind::NulBytes: return std::string("nul\0inside", 10);
    default: return std::string();
    }
}

void writeAll(int fd, const std::string& bytes)
{
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("write");
        done += static_cast<std::size_t>(n);
    }
}

void closeIfOpen(int& fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

}  // namespace

const std::vector<FdKindInfo>& fdKinds()
{
    static const std::vector<FdKindInfo> kinds = {
        {FdKind::Passphrase, "passphrase", true, Pace::Fast},
        {FdKind::OtherPassphrase, "other-passphrase", true, Pace::Fast},
        {FdKind::AtCap, "65536-bytes", true, Pace::Fast},
        {FdKind::NulBytes, "nul-inside", true, Pace::Fast},
        {FdKind::Empty, "empty-memfd", true, Pace::Fast},
        {FdKind::DevNull, "dev-null", true, Pace::Fast},
        {FdKind::PipeEmpty, "pipe-closed-empty", true, Pace::Fast},
        {FdKind::PipePassphrase, "pipe-passphrase", true, Pace::Fast},
        {FdKind::SocketPeerClosed, "socket-peer-closed", true, Pace::Fast},
        {FdKind::SocketPassphrase, "socket-passphrase", true, Pace::Fast},
        {FdKind::OverCap, "65537-bytes", false, Pace::Fast},
        {FdKind::SparseGigabyte, "sparse-1GiB-memfd", false, Pace::Fast},
        {FdKind::DevZero, "dev-zero", false, Pace::Fast},
        {FdKind::DevUrandom, "dev-urandom", false, Pace::Fast},
        {FdKind::Directory, "directory", false, Pace::Fast},
        {FdKind::PathOnly, "o-path", false, Pace::Fast},
        {FdKind::WriteOnly, "write-only", false, Pace::Fast},
        {FdKind::TargetDevice, "target-block-device", false, Pace::Fast},
        {FdKind::Closed, "closed", false, Pace::Fast},
        {FdKind::PipeFlood, "pipe-flood", false, Pace::Flood},
        {FdKind::PipeSilent, "pipe-silent", false, Pace::Slow},
        {FdKind::PipeTrickle, "pipe-trickle", false, Pace::Slow},
        {FdKind::SocketSilent, "socket-silent", false, Pace::Slow},
        {FdKind::EventfdZero, "eventfd-zero", false, Pace::Slow},
    };
    return kinds;
}

const FdKindInfo& infoOf(FdKind kind)
{
    for (const auto& info : fdKinds()) {
        if (info.kind == kind)
            return info;
    }
    throw std::logic_error("an FdKind is missing from fdKinds()");
}

HostileFd::HostileFd(FdKind kind, const std::string& passphrase, const FdPlaces& places)
    : kind_(kind), content_(readableBytes(kind, passphrase))
{
    const std::string file = places.scratch + "/fd-file";
    switch (kind) {
    case FdKind::Passphrase:
    case FdKind::OtherPassphrase:
    case FdKind::AtCap:
    case FdKind::NulBytes:
    case FdKind::Empty: openMemfd(content_, 0); break;
    case FdKind::DevNull: fd_ = openOrThrow("/dev/null", O_RDONLY); break;
    case FdKind::PipeEmpty:
    case FdKind::PipePassphrase: openPipe(content_, true); break;
    case FdKind::SocketPeerClosed:
    case FdKind::SocketPassphrase: openSocket(content_, true); break;
    case FdKind::OverCap: openMemfd(std::string(kSecretCap + 1, 'k'), 0); break;
    case FdKind::SparseGigabyte: openMemfd("", kGigabyte); break;
    case FdKind::DevZero: fd_ = openOrThrow("/dev/zero", O_RDONLY); break;
    case FdKind::DevUrandom: fd_ = openOrThrow("/dev/urandom", O_RDONLY); break;
    case FdKind::Directory: fd_ = openOrThrow(places.scratch, O_RDONLY | O_DIRECTORY); break;
    case FdKind::PathOnly:
        ::close(openOrThrow(file, O_WRONLY | O_CREAT));
        fd_ = openOrThrow(file, O_PATH);
        break;
    case FdKind::WriteOnly: fd_ = openOrThrow(file, O_WRONLY | O_CREAT); break;
    case FdKind::TargetDevice: fd_ = openOrThrow(places.targetNode, O_RDONLY); break;
    case FdKind::Closed: fd_ = closedNumber(); break;
    case FdKind::PipeFlood:
        openPipe("", false);
        startWriter(false);
        break;
    case FdKind::PipeSilent: openPipe("", false); break;
    case FdKind::PipeTrickle:
        openPipe("", false);
        startWriter(true);
        break;
    case FdKind::SocketSilent: openSocket("", false); break;
    case FdKind::EventfdZero:
        fd_ = ::eventfd(0, EFD_CLOEXEC);
        if (fd_ < 0)
            fail("eventfd");
        break;
    }
}

HostileFd::~HostileFd()
{
    stop_ = true;
    if (writer_.joinable())
        writer_.join();
    closeIfOpen(far_);
    if (kind_ != FdKind::Closed)
        closeIfOpen(fd_);
}

void HostileFd::openMemfd(const std::string& bytes, std::uint64_t size)
{
    fd_ = ::memfd_create("vaultd-bus-fuzz", MFD_CLOEXEC);
    if (fd_ < 0)
        fail("memfd_create");
    writeAll(fd_, bytes);
    if (size > 0 && ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
        fail("ftruncate");
    // vaultd reads from the shared file offset.
    if (::lseek(fd_, 0, SEEK_SET) != 0)
        fail("lseek");
}

void HostileFd::openPipe(const std::string& bytes, bool closeWriter)
{
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
        fail("pipe2");
    fd_ = ends[0];
    far_ = ends[1];
    writeAll(far_, bytes);
    if (closeWriter)
        closeIfOpen(far_);
}

void HostileFd::openSocket(const std::string& bytes, bool closePeer)
{
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0)
        fail("socketpair");
    fd_ = ends[0];
    far_ = ends[1];
    writeAll(far_, bytes);
    if (closePeer)
        closeIfOpen(far_);
}

void HostileFd::startWriter(bool trickle)
{
    // Non-blocking, so the writer can notice stop_ while the pipe is full.
    ::fcntl(far_, F_SETFL, ::fcntl(far_, F_GETFL) | O_NONBLOCK);
    writer_ = std::thread([this, trickle] { writeLoop(trickle); });
}

void HostileFd::writeLoop(bool trickle)
{
    using namespace std::chrono_literals;
    const std::string chunk(trickle ? 1 : 1 << 16, 'z');
    while (!stop_) {
        if (trickle) {
            std::this_thread::sleep_for(200ms);
        } else {
            pollfd p{far_, POLLOUT, 0};
            if (::poll(&p, 1, 100) <= 0)
                continue;  // full and vaultd is not reading: look at stop_ again
        }
        const ssize_t n = ::write(far_, chunk.data(), chunk.size());
        if (n > 0)
            written_ += static_cast<std::uint64_t>(n);
        // EPIPE: every reader is gone, vaultd has hung up (SIGPIPE is ignored).
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
}

}  // namespace vaultd::fuzz
