// What a job shows from what its operation reports: the fraction across
// stages, bytes, rate and expected end, the time-based estimate of a key
// derivation, and when a cancel request counts.
#include "bus/job_object.hpp"

#include <catch2/catch.hpp>

using namespace vaultd::bus;
using namespace std::chrono_literals;
using Clock = JobProgress::Clock;
using Wall = std::chrono::system_clock;

TEST_CASE("a byte-counting stage moves the fraction within its share", "[unit][jobs]")
{
    JobProgress p;
    p.stage("erasing", 0.1, 0.9, 0ms);
    p.bytes(256u << 20, 1024u << 20);
    JobProgress::Snapshot s = p.snapshot();
    const Wall::time_point wall{};

    JobFigures f = figuresOf(s, s.stageStart + 2s, wall + 1000s);

    CHECK(f.stage == "erasing");
    CHECK(f.fraction == Approx(0.1 + 0.8 * 0.25));
    CHECK(f.bytesDone == 256u << 20);
    CHECK(f.bytesTotal == 1024u << 20);
    CHECK(f.rate == (128u << 20));  // 256 MiB in 2 s
    // 768 MiB left at 128 MiB/s.
    CHECK(f.expectedEnd == wall + 1000s + 6s);
}

TEST_CASE("a stage with an expected time moves by the clock and stops short of its end",
          "[unit][jobs]")
{
    JobProgress p;
    p.stage("deriving the key", 0, 0.5, 2000ms);
    JobProgress::Snapshot s = p.snapshot();
    const Wall::time_point wall{};

    JobFigures half = figuresOf(s, s.stageStart + 1s, wall + 50s);
    CHECK(half.fraction == Approx(0.25));
    CHECK(half.rate == 0);
    CHECK(half.bytesTotal == 0);
    CHECK(half.expectedEnd == wall + 51s);

    JobFigures late = figuresOf(s, s.stageStart + 10s, wall + 60s);
    CHECK(late.fraction == Approx(0.5 * 0.99));
    CHECK(late.expectedEnd == Wall::time_point{});  // no telling any more
}

TEST_CASE("a stage that counts nothing stays at its start", "[unit][jobs]")
{
    JobProgress p;
    p.stage("making the filesystem", 0.97, 1, 0ms);
    JobProgress::Snapshot s = p.snapshot();
    JobFigures f = figuresOf(s, s.stageStart + 5s, Wall::time_point{} + 1s);
    CHECK(f.fraction == Approx(0.97));
    CHECK(f.expectedEnd == Wall::time_point{});
}

TEST_CASE("a new stage forgets the bytes of the last", "[unit][jobs]")
{
    JobProgress p;
    p.stage("erasing", 0, 0.9, 0ms);
    p.bytes(10, 10);
    p.stage("making the filesystem", 0.9, 1, 0ms);
    JobProgress::Snapshot s = p.snapshot();
    CHECK(s.done == 0);
    CHECK(s.total == 0);
}

TEST_CASE("a cancel request counts only while the operation can stop", "[unit][jobs]")
{
    JobProgress p;
    CHECK_FALSE(p.requestCancel());
    CHECK_FALSE(p.cancelRequested());

    p.setCancellable(true);
    CHECK(p.snapshot().cancellable);
    CHECK(p.requestCancel());
    CHECK(p.cancelRequested());

    // Stopping over (the erase ended): a late request does not linger.
    p.setCancellable(false);
    CHECK_FALSE(p.cancelRequested());
    CHECK_FALSE(p.requestCancel());
}

TEST_CASE("job paths are numbered under the service root", "[unit][jobs]")
{
    CHECK(jobPath(1) == "/org/vaultd/Vault1/job/1");
    CHECK(jobPath(42) == "/org/vaultd/Vault1/job/42");
}
