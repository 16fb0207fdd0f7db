// The org.vaultd.Vault1.Job object of one long operation, and the Progress
// the operation reports to. The worker running the operation writes the
// progress; the loop thread reads it on a timer (four times a second) and
// announces what changed, so a fast operation costs no signals per block.
// JobObject: loop thread only. JobProgress: any thread.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "bus/generated.hpp"
#include "engine/progress.hpp"

namespace vaultd::bus {

class JobProgress final : public engine::Progress {
public:
    using Clock = std::chrono::steady_clock;

    struct Snapshot {
        std::string stage;
        double from = 0, to = 0;
        std::chrono::milliseconds expected{0};
        Clock::time_point stageStart = Clock::now();
        std::uint64_t done = 0, total = 0;
        bool cancellable = false;
    };

    void stage(std::string_view name, double from, double to,
               std::chrono::milliseconds expected) override;
    void bytes(std::uint64_t done, std::uint64_t total) override;
    void setCancellable(bool cancellable) override;
    bool cancelRequested() const override { return cancel_.load(); }

    // False, and no request noted, when the operation cannot stop now.
    bool requestCancel();
    Snapshot snapshot() const;

private:
    mutable std::mutex lock_;
    Snapshot now_;
    std::atomic<bool> cancel_{false};
};

// What a job shows, computed from a snapshot at @now.
struct JobFigures {
    std::string stage;
    double fraction = 0;
    std::uint64_t bytesDone = 0, bytesTotal = 0, rate = 0;
    std::chrono::system_clock::time_point expectedEnd{};  // epoch: unknown
    bool cancellable = false;
    bool operator==(const JobFigures&) const = default;
};
JobFigures figuresOf(const JobProgress::Snapshot& s, JobProgress::Clock::time_point now,
                     std::chrono::system_clock::time_point wallNow);

std::string jobPath(std::uint64_t number);

class JobObject final
    : public sdbus::AdaptorInterfaces<org::vaultd::Vault1::Job_adaptor,
                                      sdbus::ManagedObject_adaptor, sdbus::Properties_adaptor> {
public:
    // @poke flushes signals sent outside a bus callback (BusLoop::poke);
    // never called from inside one.
    JobObject(sdbus::IConnection& connection, boost::asio::io_context& loop, std::uint64_t number,
              std::string operation, std::string volume, uid_t startedBy,
              std::function<void()> poke);
    ~JobObject();

    std::shared_ptr<JobProgress> progress() const { return progress_; }
    // The work is done: final figures, Completed; the owner then drops it.
    void complete(bool success, const std::string& message);
    // For stopping vaultd: asks the work to stop where it safely can.
    void cancelIfPossible() { progress_->requestCancel(); }

private:
    void Cancel(const std::map<std::string, sdbus::Variant>& options) override;
    std::string Operation() override { return operation_; }
    sdbus::ObjectPath Volume() override { return volume_; }
    uint32_t StartedBy() override { return startedBy_; }
    uint64_t StartTime() override { return startTime_; }
    std::string Stage() override { return shown_.stage; }
    double Fraction() override { return shown_.fraction; }
    uint64_t BytesDone() override { return shown_.bytesDone; }
    uint64_t BytesTotal() override { return shown_.bytesTotal; }
    uint64_t Rate() override { return shown_.rate; }
    uint64_t ExpectedEnd() override;
    bool Cancellable() override { return shown_.cancellable; }

    void tick();
    void refresh();

    boost::asio::steady_timer timer_;
    std::function<void()> poke_;
    std::string operation_;
    std::string volume_;
    uid_t startedBy_;
    uint64_t startTime_;
    std::shared_ptr<JobProgress> progress_ = std::make_shared<JobProgress>();
    JobFigures shown_;
    bool done_ = false;
};

}  // namespace vaultd::bus
