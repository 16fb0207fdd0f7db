// Descriptors to pass where vaultd expects a passphrase (the h arguments of
// Format and Unlock): a table of kinds, saying whether vaultd can read a
// secret from each and whether it holds vaultd until its 10 s read deadline,
// and HostileFd, which owns one such descriptor together with whatever keeps
// its far end behaving as promised (an open write end, a writer thread).
// Destroy a HostileFd only after the call's reply. Not thread safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace vaultd::fuzz {

enum class FdKind {
    // Readable: vaultd gets a secret of at most 65536 bytes.
    Passphrase,       // a memfd with the target's passphrase
    OtherPassphrase,  // a memfd with some other passphrase
    AtCap,            // exactly 65536 bytes: the largest secret allowed
    NulBytes,         // a passphrase with a NUL byte inside
    Empty,            // an empty memfd
    DevNull,
    PipeEmpty,         // a pipe whose write end is closed
    PipePassphrase,    // the passphrase through a pipe, write end closed
    SocketPeerClosed,  // a socket whose peer hung up without a word
    SocketPassphrase,  // the passphrase through a socket, peer closed
    // Unreadable, and quick to refuse.
    OverCap,         // 65537 bytes
    SparseGigabyte,  // a 1 GiB memfd of zeros
    DevZero,         // an endless stream, no thread needed
    DevUrandom,
    Directory,
    PathOnly,      // O_PATH: read() fails with EBADF
    WriteOnly,     // O_WRONLY: read() fails with EBADF
    TargetDevice,  // the target's own block device
    Closed,        // a descriptor number that is not open: refused client side
    // Unreadable, budgeted: a thread writes into a pipe until vaultd hangs up.
    PipeFlood,
    // Unreadable, budgeted: each holds vaultd for its whole 10 s deadline.
    PipeSilent,    // the write end stays open, nothing is written
    PipeTrickle,   // one byte every 200 ms, forever
    SocketSilent,  // the peer stays open and says nothing
    EventfdZero,   // never becomes readable
};

enum class Pace { Fast, Flood, Slow };

struct FdKindInfo {
    FdKind kind;
    const char* name;
    bool readable;  // vaultd can read a secret from it
    Pace pace;
};

const std::vector<FdKindInfo>& fdKinds();
const FdKindInfo& infoOf(FdKind kind);

// Where HostileFd may create files and which device node TargetDevice opens.
struct FdPlaces {
    std::string scratch;
    std::string targetNode;
};

class HostileFd {
public:
    HostileFd(FdKind kind, const std::string& passphrase, const FdPlaces& places);
    ~HostileFd();
    HostileFd(const HostileFd&) = delete;
    HostileFd& operator=(const HostileFd&) = delete;

    FdKind kind() const { return kind_; }
    // The descriptor to send; for Closed, a number that is not open.
    int fd() const { return fd_; }
    // What vaultd reads from a readable kind.
    const std::string& content() const { return content_; }
    // Bytes a writer thread got into the pipe before vaultd hung up.
    std::uint64_t bytesWritten() const { return written_.load(); }

private:
    void openMemfd(const std::string& bytes, std::uint64_t size);
    void openPipe(const std::string& bytes, bool closeWriter);
    void openSocket(const std::string& bytes, bool closePeer);
    void startWriter(bool trickle);
    void writeLoop(bool trickle);

    FdKind kind_;
    std::string content_;
    int fd_ = -1;
    int far_ = -1;  // a write end or peer kept open on purpose
    std::thread writer_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> written_{0};
};

}  // namespace vaultd::fuzz
