// JobProgressView shows, on the terminal, how the vaultd job of a call is
// getting on while the call waits for its reply: it watches the Job objects
// vaultd announces on a bus connection and a thread of its own, finds the
// one for its volume and operation, and after a moment draws one line on
// standard error (stage, bar, percentage, bytes, rate, time left), cleared
// when the job ends. Ctrl-C meanwhile cancels the job when it can be
// cancelled (an erase), and otherwise ends vaultctl as usual. Construct it
// before the call, on the main thread; it must not outlive the call.
#pragma once

#include <signal.h>

#include <sdbus-c++/IConnection.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vaultctl {

// What a job says about itself, as its properties give it.
struct JobState {
    std::string stage;
    double fraction = 0;
    std::uint64_t bytesDone = 0, bytesTotal = 0, rate = 0;
    std::uint64_t expectedEndUs = 0;  // microseconds since the epoch; 0 unknown
    bool cancellable = false;
};

// The line drawn for @job at @nowUs (microseconds since the epoch), at most
// @width columns, no newline: "erasing [#####.....] 48% 492.0M of 1.0G
// 61.2M/s 0:08 left".
std::string progressLine(const JobState& job, std::uint64_t nowUs, std::size_t width);

class JobProgressView {
public:
    // Whether to show progress at all: a terminal on standard error, and
    // no --json.
    static bool wanted(bool json);

    // @volumePath: the Volume object; @operation: the job's Operation.
    JobProgressView(std::string volumePath, std::string operation);
    ~JobProgressView();
    JobProgressView(const JobProgressView&) = delete;
    JobProgressView& operator=(const JobProgressView&) = delete;

private:
    void watch();
    void onObjects(sdbus::Message& message);
    void onProperties(sdbus::Message& message);
    void onSigint();
    void draw(bool force);
    void clear();

    std::string volumePath_;
    std::string operation_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::vector<sdbus::Slot> matches_;
    sigset_t oldMask_{};
    int signalFd_ = -1;
    int stopFd_ = -1;
    std::thread thread_;

    // The thread's own, after construction.
    std::string jobPath_;
    JobState job_;
    std::chrono::steady_clock::time_point seen_{};
    bool drawn_ = false;
    bool cancelAsked_ = false;
    bool completed_ = false;
};

}  // namespace vaultctl
