// Keeps the Volume objects in step with the kernel and runs operations on
// them. Scans run on a prober thread and are coalesced (one at a time, one
// more queued if anything changed meanwhile); operations run on a worker pool,
// at most one per volume; every result comes back to the loop thread, which
// alone touches objects and the bus. Loop thread only, except where noted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bus/authorizer.hpp"
#include "bus/bus_loop.hpp"
#include "bus/job_object.hpp"
#include "bus/volume_object.hpp"
#include "engine/operations.hpp"

namespace sdbus {
class IConnection;
}

namespace vaultd::bus {

class VolumeObject;

class VolumeService {
public:
    VolumeService(boost::asio::io_context& loop, sdbus::IConnection& connection,
                  engine::Operations& operations, BusLoop& busLoop);
    ~VolumeService();

    // Re-reads every device; safe to call as often as events arrive. The
    // first scan reads udev's database, the others probe each device.
    void requestScan();
    // A listing of a few small files; quick enough for the loop thread.
    std::vector<engine::HeaderBackup> headerBackups() { return operations_.headerBackups(); }
    const engine::EngineConfig& config() const { return operations_.config(); }
    // Called once, after the first scan's objects exist.
    // What the first scan found and what it took, for the log line that
    // says vaultd is ready.
    struct FirstScan {
        std::size_t volumes = 0;
        std::chrono::milliseconds scan{0};     // reading the devices (startWith's scan)
        std::chrono::milliseconds objects{0};  // making their bus objects (the loop)
    };
    void whenReady(std::function<void(const FirstScan&)> ready);
    // The first scan (udev's database), started before the service existed
    // so that it runs while vaultd connects to the bus: the first
    // requestScan() takes its result instead of scanning.
    struct EarlyScan {
        engine::ScanResult result;
        std::chrono::milliseconds took{0};
    };
    void startWith(std::future<EarlyScan> first);
    // Called on the loop thread for each lost volume, once torn down.
    void whenLost(std::function<void(const engine::LostMapping&)> lost);
    // Stops the workers; pending replies are dropped.
    void shutdown();

    // How to read the configured volumes (the files in volumes.d); called
    // on the prober thread.
    void setConfigurationLoader(std::function<engine::ConfiguredVolumes()> load);
    // Reads them again (at start, on SIGHUP, on ReloadConfiguration), logs
    // each problem, puts them in force and opens those due; then @done,
    // with what was read.
    void reloadConfiguration(std::function<void(const engine::ConfiguredVolumes&)> done = {});
    // Called on the loop thread when vaultd unlocked a configured volume by
    // itself, or failed to.
    using ConfiguredUnlocked = std::function<void(
        const std::string& path, const engine::ConfiguredVolume&, const engine::UnlockResult&)>;
    using ConfiguredFailed = std::function<void(
        const std::string& path, const engine::ConfiguredVolume&, const engine::Error&)>;
    void whenConfigured(ConfiguredUnlocked unlocked, ConfiguredFailed failed);
    // Locks every volume vaultd unlocked, giving up on what is not locked
    // within @limit (it is logged); then @done. For stopping.
    void lockAll(std::chrono::seconds limit, std::function<void()> done);

    // The object path of the volume a person means by @spec (see
    // engine/resolve.hpp), or why there is not exactly one.
    engine::Result<std::string> resolve(const std::string& spec) const;

    Authorizer& authorizer() { return authorizer_; }

    // Runs @work(Operations&) on a worker and then @finish(Result) on the loop
    // thread. A second operation on a volume that has one running is Busy.
    template <typename T, typename Work, typename Finish>
    void run(const std::string& kernelName, Work work, Finish finish);

    // A long operation: as run, with a Job object that shows it while
    // @work(Operations&, Progress&) runs, and sends Completed before
    // @finish. A caller that hangs up does not stop it.
    struct JobSpec {
        std::string operation;  // "format", "unlock", ...
        uid_t startedBy = 0;
    };
    template <typename T, typename Work, typename Finish>
    void runJob(const std::string& kernelName, JobSpec spec, Work work, Finish finish);

private:
    engine::Error busyWith(const std::string& kernelName) const;
    // Asks each running job to stop where it safely can (an erase).
    void cancelJobs();
    void apply(std::vector<engine::Volume> volumes, std::uint64_t startedAt);
    // Tears down mappings whose device is gone, each once.
    void tearDown(const std::vector<engine::LostMapping>& lost);
    // Closes what formats of an earlier vaultd left open (the first scan's).
    void closeInterruptedFormats(const std::vector<std::string>& mappings);
    void recogniseReturn(const engine::Volume& v);
    void updateFromOperation(const std::string& kernelName, engine::Result<engine::Volume> fresh);
    void afterOperation();
    // Grows, once per device size, each volume the policy covers whose
    // device grew under its open mapping.
    void growAutomatically();
    // Unlocks each locked volume a configuration says to open on attach,
    // once per attachment (and again after a reload, if it failed).
    void openConfigured();
    void openConfigured(const std::string& kernelName, const engine::Volume& v,
                        const engine::ConfiguredVolume& c);
    // While a volume is unlocked, asks its disk's driver every few seconds
    // whether it gave the disk up (no event tells vaultd), and rescans when
    // one turns failing.
    void watchHealth();

    boost::asio::io_context& loop_;
    sdbus::IConnection& connection_;
    engine::Operations& operations_;
    BusLoop& busLoop_;
    Authorizer authorizer_;
    boost::asio::steady_timer healthTimer_;
    bool watchingHealth_ = false;
    boost::asio::thread_pool workers_{2};
    boost::asio::thread_pool prober_{1};

    std::map<std::string, std::unique_ptr<VolumeObject>> objects_;
    std::set<std::string> busy_;
    std::uint64_t lastJob_ = 0;
    std::map<std::uint64_t, std::unique_ptr<JobObject>> jobs_;
    std::function<engine::ConfiguredVolumes()> loadConfiguration_;
    std::vector<engine::ConfiguredVolume> configured_;
    // The volumes vaultd tried to open by itself: kernel name to the disk
    // sequence number of the attachment tried, and whether it failed.
    struct Attempt {
        std::uint64_t diskseq = 0;
        bool failed = false;
    };
    std::map<std::string, Attempt> attempted_;
    ConfiguredUnlocked configuredUnlocked_;
    ConfiguredFailed configuredFailed_;
    // The device size each volume last grew automatically to (or tried to).
    std::map<std::string, std::uint64_t> autoGrownAt_;
    // Orders views: a scan that started before an operation's fresh look
    // must not overwrite it with what it saw earlier.
    std::uint64_t sequence_ = 0;
    std::map<std::string, std::uint64_t> freshAt_;
    bool scanning_ = false;
    bool rescan_ = false;
    std::function<void(const FirstScan&)> ready_;
    std::future<EarlyScan> early_;  // taken by the prober
    std::function<void(const engine::LostMapping&)> lost_;
    // Lost mappings being torn down, or torn down and still held by a
    // process (so still seen by scans): not to be handled again.
    std::set<std::string> lostHandled_;
    // Volumes lost lately, to recognise them (by LUKS UUID or EBS volume id)
    // when they return; the oldest go first.
    std::vector<engine::LostMapping> recentlyLost_;
    // The EBS volume ids of volumes that went away while open, by mapping.
    std::map<std::string, std::string> goneWithMapping_;
};

template <typename T, typename Work, typename Finish>
void VolumeService::run(const std::string& kernelName, Work work, Finish finish)
{
    if (busy_.count(kernelName)) {
        finish(engine::Result<T>(busyWith(kernelName)));
        return;
    }
    busy_.insert(kernelName);
    auto task = [this, kernelName, work = std::move(work), finish = std::move(finish)]() mutable {
        engine::Result<T> result = work(operations_);
        // A fresh look before replying, so a caller that reads the
        // properties after the reply sees what the operation did.
        auto fresh = operations_.inspect(kernelName);
        auto done = [this, kernelName, result = std::move(result), fresh = std::move(fresh),
                     finish = std::move(finish)]() mutable {
            busy_.erase(kernelName);
            updateFromOperation(kernelName, std::move(fresh));
            finish(std::move(result));
            afterOperation();
        };
        boost::asio::post(loop_, std::move(done));
    };
    boost::asio::post(workers_, std::move(task));
}

template <typename T, typename Work, typename Finish>
void VolumeService::runJob(const std::string& kernelName, JobSpec spec, Work work, Finish finish)
{
    if (busy_.count(kernelName)) {
        finish(engine::Result<T>(busyWith(kernelName)));
        return;
    }
    const std::uint64_t number = ++lastJob_;
    auto& job = jobs_[number];
    job = std::make_unique<JobObject>(connection_, loop_, number, spec.operation,
                                      volumePath(kernelName), spec.startedBy,
                                      [this] { busLoop_.poke(); });
    run<T>(
        kernelName,
        [work = std::move(work), progress = job->progress()](engine::Operations& ops) mutable {
            return work(ops, *progress);
        },
        [this, number, finish = std::move(finish)](engine::Result<T> result) mutable {
            if (auto it = jobs_.find(number); it != jobs_.end()) {
                it->second->complete(result.ok(), result.ok() ? "" : result.error().message);
                jobs_.erase(it);
            }
            finish(std::move(result));
        });
}

}  // namespace vaultd::bus
