// One fuzzing run against a running vaultd: finds the target and the
// bystander on the bus; warms vaultd up (a round in each state of the
// target, then a sweep of every name, mount point and descriptor kind) and
// takes its memory baseline; sends the rest of the hostile calls round by
// round, steering the target into a state between rounds; prints the
// figures and writes them as key=value lines for the lab scenario.
// Not thread safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "daemon_probe.hpp"
#include "steering.hpp"
#include "tally.hpp"
#include "values.hpp"
#include "world.hpp"

namespace vaultd::fuzz {

struct RunOptions {
    std::uint64_t seed = 0x5eed'f00d'2024'0003ull;
    unsigned long calls = 10000;  // hostile calls that leave this process
    unsigned long warmup = 400;   // of them, at least this many before the baseline
    std::string target;           // kernel names
    std::string bystander;
    std::string sandbox;
    std::string report;  // key=value figures, if set
    unsigned floods = 3;
    unsigned slow = 4;
    bool busLimit = true;
    bool asciiHuge = false;  // see World::asciiHuge
};

class FuzzRun {
public:
    explicit FuzzRun(RunOptions options);

    // 0 when the run went through (findings or not), 2 when it could not.
    int run();

private:
    bool discover();
    void round(unsigned long index);
    Outcome sendHostile(Call& call);
    void warmUpAllocators();
    void sweep();
    void sendCostly();
    void sendBusLimit();
    void checkAfterMutation(const Call& call, const Outcome& out, const TargetView& before);
    void noteIfDaemonExited(const Call& call, const Outcome& out);
    DaemonSample sample();
    void plan();
    void beforeRound(unsigned long index);
    void finish();
    void printFigures() const;
    void printList(const char* title, const std::vector<std::string>& items) const;
    void writeReport() const;

    RunOptions options_;
    World world_;
    BusClient bus_;
    Tally tally_;
    Steering steering_;
    Pools pools_;
    std::unique_ptr<MountWatch> mounts_;
    pid_t pid_ = 0;
    DaemonSample start_, baseline_, final_;
    std::uint64_t peakRssKib_ = 0;
    std::vector<std::uint64_t> rssSeries_;  // after each round since the baseline
    bool baselineTaken_ = false;
    unsigned long rounds_ = 0;
    unsigned long warmupRounds_ = 0;
    unsigned long costlySpacing_ = 1;
    std::uint64_t floodBytesMax_ = 0;
    unsigned long stateReads_ = 0;
    std::vector<std::string> changedOnError_;
    // The last hostile calls and their replies, to name what killed vaultd.
    std::deque<std::string> recent_;
    bool daemonExited_ = false;
    std::set<std::string> reportedMounts_;
    bool alive_ = false;
    std::size_t managedAtEnd_ = 0;
    std::string versionAtEnd_;
    std::chrono::steady_clock::time_point started_;
    double wallSeconds_ = 0;
};

}  // namespace vaultd::fuzz
