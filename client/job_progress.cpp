#include "job_progress.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>
#include <sdbus-c++/Types.h>

#include <fmt/format.h>

#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "output.hpp"

namespace vaultctl {
namespace {

using Clock = std::chrono::steady_clock;
using Properties = std::map<std::string, sdbus::Variant>;

constexpr const char* kJobInterface = "org.vaultd.Vault1.Job";
constexpr auto kQuiet = std::chrono::seconds(1);  // shorter jobs draw nothing
constexpr auto kRedraw = std::chrono::milliseconds(200);
constexpr const char* objectsMatch =
    "type='signal',sender='org.vaultd.Vault1',path='/org/vaultd/Vault1',"
    "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'";
constexpr const char* jobsMatch =
    "type='signal',sender='org.vaultd.Vault1',path_namespace='/org/vaultd/Vault1/job'";

std::uint64_t nowMicroseconds()
{
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

template <typename T>
void take(const Properties& p, const char* name, T& into)
{
    if (auto it = p.find(name); it != p.end() && it->second.containsValueOfType<T>())
        into = it->second.get<T>();
}

void applyTo(const Properties& p, JobState& job)
{
    take(p, "Stage", job.stage);
    take(p, "Fraction", job.fraction);
    take(p, "BytesDone", job.bytesDone);
    take(p, "BytesTotal", job.bytesTotal);
    take(p, "Rate", job.rate);
    take(p, "ExpectedEnd", job.expectedEndUs);
    take(p, "Cancellable", job.cancellable);
}

std::string timeLeft(std::uint64_t seconds)
{
    if (seconds >= 3600)
        return fmt::format("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    return fmt::format("{}:{:02}", seconds / 60, seconds % 60);
}

}  // namespace

std::string progressLine(const JobState& job, std::uint64_t nowUs, std::size_t width)
{
    const double fraction = std::clamp(job.fraction, 0.0, 1.0);
    constexpr std::size_t bar = 20;
    const auto filled = static_cast<std::size_t>(std::floor(fraction * bar));
    std::string line =
        fmt::format("{} [{}{}] {:3}%", printable(job.stage), std::string(filled, '#'),
                    std::string(bar - filled, '.'), static_cast<int>(std::floor(fraction * 100)));
    // The rest in the order shown, each kept only if it fits, the most
    // telling first: how to cancel, the time left, the bytes, the rate.
    enum Part { bytes, rate, left, hint, parts };
    std::array<std::string, parts> text;
    if (job.bytesTotal > 0)
        text[bytes] = fmt::format(" {} of {}", humanSize(job.bytesDone), humanSize(job.bytesTotal));
    if (job.rate > 0)
        text[rate] = fmt::format(" {}/s", humanSize(job.rate));
    if (job.expectedEndUs > nowUs)
        text[left] =
            fmt::format(" {} left", timeLeft((job.expectedEndUs - nowUs + 999999) / 1000000));
    if (job.cancellable)
        text[hint] = " (Ctrl-C cancels)";
    std::array<bool, parts> shown{};
    std::size_t used = line.size();
    for (Part p : {hint, left, bytes, rate}) {
        if (!text[p].empty() && used + text[p].size() <= width) {
            shown[p] = true;
            used += text[p].size();
        }
    }
    for (std::size_t p = 0; p < parts; ++p)
        if (shown[p])
            line += text[p];
    if (line.size() > width)
        line.resize(width);
    return line;
}

bool JobProgressView::wanted(bool json)
{
    return !json && isatty(STDERR_FILENO);
}

JobProgressView::JobProgressView(std::string volumePath, std::string operation)
    : volumePath_(std::move(volumePath)), operation_(std::move(operation))
{
    connection_ = sdbus::createSystemBusConnection();
    // addMatch returns once the bus has the rule: no job of the call that
    // follows can be missed.
    matches_.push_back(
        connection_->addMatch(objectsMatch, [this](sdbus::Message& m) { onObjects(m); }));
    matches_.push_back(
        connection_->addMatch(jobsMatch, [this](sdbus::Message& m) { onProperties(m); }));

    // Ctrl-C goes to the watching thread (through a signalfd), which decides
    // whether it cancels the job or ends vaultctl.
    sigset_t sigint;
    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigint, &oldMask_);
    signalFd_ = signalfd(-1, &sigint, SFD_CLOEXEC | SFD_NONBLOCK);
    stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { watch(); });
}

JobProgressView::~JobProgressView()
{
    const std::uint64_t one = 1;
    if (write(stopFd_, &one, sizeof one) < 0) {
        // The thread then ends at its next wake-up; nothing else to do.
    }
    thread_.join();
    close(stopFd_);
    close(signalFd_);
    pthread_sigmask(SIG_SETMASK, &oldMask_, nullptr);
}

void JobProgressView::watch()
{
    try {
        for (;;) {
            while (connection_->processPendingRequest()) {}
            draw(false);
            sdbus::IConnection::PollData data = connection_->getEventLoopPollData();
            int timeout = static_cast<int>(kRedraw.count());
            if (int busTimeout = data.getPollTimeout(); busTimeout >= 0)
                timeout = std::min(timeout, busTimeout);
            pollfd fds[] = {
                {data.fd, data.events, 0}, {signalFd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
            if (poll(fds, 3, timeout) < 0 && errno != EINTR)
                break;
            if (fds[2].revents & POLLIN)
                break;
            if (fds[1].revents & POLLIN) {
                signalfd_siginfo info{};
                while (read(signalFd_, &info, sizeof info) == sizeof info)
                    onSigint();
            }
        }
    } catch (const sdbus::Error&) {
        // Progress is a courtesy: the call itself still gets its answer.
    }
    clear();
}

void JobProgressView::onObjects(sdbus::Message& message)
{
    if (!jobPath_.empty())
        return;
    sdbus::ObjectPath path;
    std::map<std::string, Properties> interfaces;
    message >> path >> interfaces;
    auto it = interfaces.find(kJobInterface);
    if (it == interfaces.end())
        return;
    sdbus::ObjectPath volume;
    std::string operation;
    take(it->second, "Volume", volume);
    take(it->second, "Operation", operation);
    if (volume != volumePath_ || operation != operation_)
        return;
    jobPath_ = path;
    seen_ = Clock::now();
    applyTo(it->second, job_);
}

void JobProgressView::onProperties(sdbus::Message& message)
{
    if (jobPath_.empty() || message.getPath() != jobPath_)
        return;
    const std::string member = message.getMemberName();
    if (member == "Completed") {
        completed_ = true;
        clear();
        return;
    }
    if (member != "PropertiesChanged")
        return;
    std::string interface;
    Properties changed;
    message >> interface >> changed;
    if (interface == kJobInterface)
        applyTo(changed, job_);
}

void JobProgressView::onSigint()
{
    auto endNow = [this] {
        clear();
        sigset_t sigint;
        sigemptyset(&sigint);
        sigaddset(&sigint, SIGINT);
        signal(SIGINT, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &sigint, nullptr);
        raise(SIGINT);
    };
    if (cancelAsked_ || completed_ || jobPath_.empty() || !job_.cancellable)
        return endNow();
    cancelAsked_ = true;
    clear();
    try {
        auto job = sdbus::createProxy(*connection_, "org.vaultd.Vault1", jobPath_);
        job->callMethod("Cancel").onInterface(kJobInterface).withArguments(Properties{});
        fmt::print(stderr, "cancelling {} (Ctrl-C again ends vaultctl without waiting)\n",
                   printable(job_.stage));
    } catch (const sdbus::Error& e) {
        fmt::print(stderr, "cannot cancel: {}\n", printable(e.getMessage()));
    }
}

void JobProgressView::draw(bool force)
{
    if (jobPath_.empty() || completed_ || (!force && Clock::now() - seen_ < kQuiet))
        return;
    winsize size{};
    const std::size_t columns =
        ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
    // One column short of the edge, so the cursor never wraps.
    fmt::print(stderr, "\r\033[K{}", progressLine(job_, nowMicroseconds(), columns - 1));
    std::fflush(stderr);
    drawn_ = true;
}

void JobProgressView::clear()
{
    if (!drawn_)
        return;
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
}

}  // namespace vaultctl
