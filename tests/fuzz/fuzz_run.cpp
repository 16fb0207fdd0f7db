#include "fuzz_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "generators.hpp"

namespace vaultd::fuzz {
namespace {

using namespace std::chrono_literals;

constexpr unsigned long kRoundCalls = 100;
// Longer than vaultd's 10 s read deadline plus a mkfs under TCG.
constexpr auto kCallTimeout = 120s;
constexpr std::size_t kBusLimit = 32u << 20;  // dbus-daemon's max_message_size
constexpr std::size_t kRecentCalls = 5;

// The daemon's own rule: [A-Za-z0-9] stays, every other byte becomes _xx.
std::string volumePath(const std::string& kernelName)
{
    std::string path = "/org/vaultd/Vault1/volume/";
    for (unsigned char c : kernelName)
        path += std::isalnum(c) ? std::string(1, static_cast<char>(c)) : fmt::format("_{:02x}", c);
    return path;
}

std::string replyText(const Outcome& out)
{
    switch (out.kind) {
    case Outcome::Kind::Success: return out.value.empty() ? "success" : "success: " + out.value;
    case Outcome::Kind::Sent: return "sent, no reply expected";
    case Outcome::Kind::NotSent: return "not sent: " + out.errorName + ": " + out.errorMessage;
    case Outcome::Kind::Dropped:
        return "the bus hung up: " + out.errorName + ": " + out.errorMessage;
    case Outcome::Kind::Error: break;
    }
    return out.errorName + ": " + out.errorMessage.substr(0, 160);
}

double secondsSince(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

FuzzRun::FuzzRun(RunOptions options)
    : options_(std::move(options)), world_(options_.seed), steering_(world_, bus_, tally_)
{
    world_.floodsLeft = options_.floods;
    world_.slowLeft = options_.slow;
    world_.asciiHuge = options_.asciiHuge;
}

bool FuzzRun::discover()
{
    world_.targetName = options_.target;
    world_.targetPath = volumePath(options_.target);
    world_.bystanderPath = volumePath(options_.bystander);
    bool haveTarget = false;
    bool haveBystander = false;
    for (const auto& [path, interfaces] : bus_.managedObjects()) {
        if (!interfaces.count(kVolumeInterface))
            continue;
        haveTarget = haveTarget || path == world_.targetPath;
        haveBystander = haveBystander || path == world_.bystanderPath;
        if (path == world_.targetPath)
            continue;
        world_.protectedPaths.insert(path);
        const auto& props = interfaces.at(kVolumeInterface);
        for (const char* name : {"KernelName", "MappingName"}) {
            auto it = props.find(name);
            if (it != props.end() && it->second.containsValueOfType<std::string>())
                world_.otherNames.insert(it->second.get<std::string>());
        }
    }
    if (!haveTarget || !haveBystander || world_.targetPath == world_.bystanderPath) {
        fmt::print(stderr, "bus-fuzz: no volume objects {} and {} to work with\n",
                   world_.targetPath, world_.bystanderPath);
        return false;
    }
    bus_.protect(world_.protectedPaths);

    world_.sandbox = std::filesystem::absolute(options_.sandbox).lexically_normal().string();
    makeSandbox(world_.sandbox);
    world_.places.scratch = world_.sandbox + "/scratch";
    std::filesystem::create_directories(world_.places.scratch);
    world_.places.targetNode = "/dev/" + world_.targetName;
    pools_ = makePools(world_);
    pid_ = bus_.daemonPid();
    mounts_ =
        std::make_unique<MountWatch>(std::vector<std::string>{world_.sandbox, "/media/vault"});
    return steering_.refresh();
}

Outcome FuzzRun::sendHostile(Call& call)
{
    const TargetView before = world_.view;
    const Outcome out = bus_.send(call, kCallTimeout);
    tally_.record(call, out);
    noteIfDaemonExited(call, out);
    if (out.kind == Outcome::Kind::Success && call.onSuccess)
        call.onSuccess();
    const bool reached = out.kind != Outcome::Kind::NotSent && out.kind != Outcome::Kind::Dropped;
    if (call.mutating && !call.noReply && reached)
        checkAfterMutation(call, out, before);
    return out;
}

void FuzzRun::noteIfDaemonExited(const Call& call, const Outcome& out)
{
    if (out.kind == Outcome::Kind::NotSent)
        return;
    recent_.push_back(call.describe() + " -> " + replyText(out).substr(0, 300));
    if (recent_.size() > kRecentCalls)
        recent_.pop_front();
    // A call vaultd never answers, or a bus that no longer knows the name.
    const bool suspicious = out.errorName == "org.freedesktop.DBus.Error.NoReply" ||
                            out.errorName == "org.freedesktop.DBus.Error.ServiceUnknown" ||
                            out.errorName == "org.freedesktop.DBus.Error.NameHasNoOwner";
    if (daemonExited_ || !suspicious || sampleDaemon(pid_).alive)
        return;
    daemonExited_ = true;
    fmt::print("bus-fuzz: FINDING vaultd (pid {}) has exited; the last calls, oldest first:\n",
               pid_);
    for (const auto& line : recent_)
        fmt::print("  {}\n", line);
}

void FuzzRun::checkAfterMutation(const Call& call, const Outcome& out, const TargetView& before)
{
    steering_.refresh();
    ++stateReads_;
    const TargetView& now = world_.view;
    if (out.kind == Outcome::Kind::Error &&
        (now.state != before.state || now.mappingName != before.mappingName ||
         now.mountPoint != before.mountPoint))
        changedOnError_.push_back(fmt::format("{} -> {}; state {} '{}' '{}' -> {} '{}' '{}'",
                                              call.describe(), replyText(out), before.state,
                                              before.mappingName, before.mountPoint, now.state,
                                              now.mappingName, now.mountPoint));
    for (const auto& m : mounts_->unexpected()) {
        if (reportedMounts_.insert(m).second)
            tally_.noteMountViolation(m + ", seen after " + call.describe());
    }
}

void FuzzRun::round(unsigned long index)
{
    // The first rounds meet every state once, so the warm-up covers them.
    static const std::vector<std::string> states = {"", "locked", "unlocked", "mounted"};
    const std::string& state = index < states.size() ? states[index] : world_.rng.pick(states);
    if (!state.empty() && !steering_.bringTo(state))
        fmt::print("bus-fuzz: round {}: could not bring the target to '{}' (it is '{}')\n", index,
                   state, world_.view.state);
    if (index < states.size())
        warmUpAllocators();
    for (unsigned long i = 0;
         i < kRoundCalls && tally_.hostileSent() < options_.calls && !daemonExited_; ++i) {
        const Generator& g = drawGenerator(world_.rng);
        Call call;
        call.category = g.category;
        g.make(world_, pools_, call);
        sendHostile(call);
    }
}

void FuzzRun::warmUpAllocators()
{
    // The largest strings in every slot, in every state: glibc raises its
    // mmap threshold after freeing a big block and keeps per-thread arenas,
    // so vaultd's VmRSS settles only once it has seen the biggest inputs on
    // each of its threads. The baseline comes after this.
    for (unsigned slot = 0; slot < kHugeStringSlots && !daemonExited_; ++slot) {
        Call call;
        hugeStringCall(world_, 1 << 20, slot, call);
        sendHostile(call);
    }
}

void FuzzRun::sweep()
{
    // Chance alone may never try "control" on a locked target, or the link
    // to /etc on an unlocked one: try every value once where it matters.
    // Invalid UTF-8 cannot even be sent: sd-bus refuses such strings client
    // side. Three kinds of bad sequence are tried once, here, not drawn.
    for (const std::string bad : {"\xff\xfe-not-utf8", "\xc3(", "\xed\xa0\x80"}) {
        Call call;
        unlockAs(world_, {bad, false}, call);
        sendHostile(call);
    }
    for (const Sample& name : pools_.mappingNames) {
        if (daemonExited_)
            return;
        steering_.bringTo("locked");
        Call call;
        unlockAs(world_, name, call);
        sendHostile(call);
    }
    for (const Sample& point : pools_.mountPoints) {
        if (daemonExited_)
            return;
        steering_.bringTo("unlocked");
        Call call;
        mountAt(world_, point, call);
        sendHostile(call);
    }
    for (const auto& info : fdKinds()) {
        if (info.pace != Pace::Fast)
            continue;
        for (Method m : {Method::Unlock, Method::Format}) {
            if (daemonExited_)
                return;
            steering_.bringTo("locked");
            Call call;
            passphraseCall(world_, info.kind, m, true, call);
            sendHostile(call);
        }
    }
    fmt::print(
        "bus-fuzz: swept every mapping name, mount point and descriptor kind once, "
        "{} hostile calls so far\n",
        tally_.hostileSent());
}

void FuzzRun::sendCostly()
{
    Call call;
    costlyFdCall(world_, pools_, call);
    const auto fd = call.fds.front();
    const auto t = std::chrono::steady_clock::now();
    const Outcome out = sendHostile(call);
    const double took = secondsSince(t);
    call.fds.clear();  // hangs up our ends; the writer thread stops
    floodBytesMax_ = std::max(floodBytesMax_, fd->bytesWritten());
    fmt::print("bus-fuzz: {} -> {} after {:.1f} s; {} bytes written into it\n", call.describe(),
               replyText(out), took, fd->bytesWritten());
}

void FuzzRun::sendBusLimit()
{
    // Just under the limit, as a path and as an option key vaultd quotes
    // back in its error; then just over it, which dbus-daemon refuses.
    const std::vector<std::pair<std::size_t, bool>> shots = {
        {kBusLimit - 4096, false}, {kBusLimit - 4096, true}, {kBusLimit + (1u << 20), false}};
    for (const auto& [bytes, asKey] : shots) {
        Call call;
        busLimitCall(world_, bytes, asKey, call);
        const auto t = std::chrono::steady_clock::now();
        const Outcome out = sendHostile(call);
        fmt::print("bus-fuzz: {} -> {} after {:.1f} s\n", call.describe(),
                   replyText(out).substr(0, 200), secondsSince(t));
    }
}

DaemonSample FuzzRun::sample()
{
    const DaemonSample s = sampleDaemon(pid_);
    peakRssKib_ = std::max(peakRssKib_, s.rssKib);
    if (baselineTaken_)
        rssSeries_.push_back(s.rssKib);
    return s;
}

void FuzzRun::plan()
{
    rounds_ = (options_.calls + kRoundCalls - 1) / kRoundCalls;
    warmupRounds_ = (options_.warmup + kRoundCalls - 1) / kRoundCalls;
    // The costly descriptors spread evenly over the rounds after the warm-up.
    const unsigned long costly = options_.floods + options_.slow;
    costlySpacing_ =
        std::max<unsigned long>(1, (rounds_ - std::min(rounds_, warmupRounds_)) / (costly + 1));
}

void FuzzRun::beforeRound(unsigned long index)
{
    // The sweep ends the warm-up: it formats and mounts more than chance does.
    if (index == warmupRounds_)
        sweep();
    if (!baselineTaken_ && tally_.hostileSent() >= options_.warmup) {
        baseline_ = sampleDaemon(pid_);
        baselineTaken_ = true;
        fmt::print("bus-fuzz: baseline after {} calls: VmRSS {} kB, {} fds, {} threads\n",
                   tally_.hostileSent(), baseline_.rssKib, baseline_.fds, baseline_.threads);
    }
    const bool afterWarmup = index >= warmupRounds_;
    if (afterWarmup && (index - warmupRounds_) % costlySpacing_ == costlySpacing_ - 1 &&
        world_.floodsLeft + world_.slowLeft > 0)
        sendCostly();
    if (options_.busLimit && index == std::max(warmupRounds_, rounds_ / 2))
        sendBusLimit();
}

int FuzzRun::run()
{
    started_ = std::chrono::steady_clock::now();
    if (!discover())
        return 2;
    start_ = sampleDaemon(pid_);
    fmt::print(
        "bus-fuzz: seed {:#x}, {} hostile calls ({} of them warm-up), target {} ({}), "
        "bystander {} (property reads only), sandbox {}, vaultd pid {}\n",
        options_.seed, options_.calls, options_.warmup, world_.targetPath, world_.view.state,
        world_.bystanderPath, world_.sandbox, pid_);

    plan();
    // Once vaultd is gone every call fails alike: nothing more to learn.
    for (unsigned long index = 0; tally_.hostileSent() < options_.calls && !daemonExited_;
         ++index) {
        beforeRound(index);
        round(index);
        const DaemonSample s = sample();
        if (index % 10 == 9)
            fmt::print("bus-fuzz: {} hostile calls after {:.0f} s, VmRSS {} kB\n",
                       tally_.hostileSent(), secondsSince(started_), s.rssKib);
        std::fflush(stdout);
    }
    if (!baselineTaken_)
        baseline_ = start_;
    finish();
    tally_.print(stdout);
    printFigures();
    writeReport();
    return 0;
}

void FuzzRun::finish()
{
    // Leave the target locked, with nothing mounted.
    if (!steering_.bringTo("locked"))
        fmt::print("bus-fuzz: could not lock the target at the end (it is '{}')\n",
                   world_.view.state);
    try {
        versionAtEnd_ = bus_.version();
        managedAtEnd_ = bus_.managedObjects().size();
        alive_ = true;
    } catch (const sdbus::Error& e) {
        fmt::print("bus-fuzz: vaultd does not answer at the end: {}: {}\n", e.getName(),
                   e.getMessage());
    }
    final_ = sample();
    wallSeconds_ = secondsSince(started_);
}

void FuzzRun::printFigures() const
{
    printList("FINDING error reply but the target changed", changedOnError_);
    const auto added = mounts_->added();
    printList("mounts present at the end that were not there at the start", added);
    fmt::print("vaultd at the end: {}, Version '{}', {} managed objects\n",
               alive_ ? "answers" : "DOES NOT ANSWER", versionAtEnd_, managedAtEnd_);
    fmt::print(
        "vaultd VmRSS: start {} kB, baseline {} kB, end {} kB ({:+.1f} % of baseline), "
        "peak {} kB\n",
        start_.rssKib, baseline_.rssKib, final_.rssKib,
        baseline_.rssKib
            ? 100.0 * (double(final_.rssKib) - double(baseline_.rssKib)) / double(baseline_.rssKib)
            : 0.0,
        peakRssKib_);
    if (!rssSeries_.empty())
        fmt::print("vaultd VmRSS after each round since the baseline: min {} kB, max {} kB\n",
                   *std::min_element(rssSeries_.begin(), rssSeries_.end()),
                   *std::max_element(rssSeries_.begin(), rssSeries_.end()));
    fmt::print("vaultd descriptors: baseline {}, end {}; threads: baseline {}, end {}\n",
               baseline_.fds, final_.fds, baseline_.threads, final_.threads);
    fmt::print(
        "hostile calls sent: {}; target state reads: {}; reconnects: {}; wall time {:.1f} s; "
        "seed {:#x}\n",
        tally_.hostileSent(), stateReads_, bus_.reconnects(), wallSeconds_, options_.seed);
}

void FuzzRun::printList(const char* title, const std::vector<std::string>& items) const
{
    fmt::print("{}: {}\n", title, items.size());
    for (const auto& item : items)
        fmt::print("  {}\n", item);
}

void FuzzRun::writeReport() const
{
    if (options_.report.empty())
        return;
    std::ofstream out(options_.report);
    auto put = [&out](const char* key, auto value) { out << key << '=' << value << '\n'; };
    put("seed", fmt::format("{:#x}", options_.seed));
    put("hostile_calls", tally_.hostileSent());
    put("must_fail_successes", tally_.mustFailSuccesses());
    put("hangs", tally_.hangs());
    put("mount_violations", tally_.mountViolations());
    put("changed_on_error", changedOnError_.size());
    put("steering_failures", tally_.steeringFailures().size());
    put("mounts_left", mounts_->added().size());
    put("reconnects", bus_.reconnects());
    put("alive", alive_ ? 1 : 0);
    put("daemon_exited", daemonExited_ ? 1 : 0);
    put("daemon_pid", pid_);
    put("rss_start_kib", start_.rssKib);
    put("rss_baseline_kib", baseline_.rssKib);
    put("rss_final_kib", final_.rssKib);
    put("rss_peak_kib", peakRssKib_);
    put("fds_baseline", baseline_.fds);
    put("fds_final", final_.fds);
    put("threads_baseline", baseline_.threads);
    put("threads_final", final_.threads);
    put("flood_bytes_max", floodBytesMax_);
    put("wall_seconds", fmt::format("{:.1f}", wallSeconds_));
}

}  // namespace vaultd::fuzz
