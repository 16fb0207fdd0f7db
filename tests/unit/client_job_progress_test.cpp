// The progress line vaultctl draws for a vaultd job.
#include "job_progress.hpp"

#include <catch2/catch.hpp>

using vaultctl::JobState;
using vaultctl::progressLine;

TEST_CASE("an erase shows its bar, bytes, rate, time left and how to cancel", "[unit]")
{
    JobState job;
    job.stage = "erasing";
    job.fraction = 0.5;
    job.bytesDone = 512u << 20;
    job.bytesTotal = 1024u << 20;
    job.rate = 64u << 20;
    job.expectedEndUs = 1'000'000'000 + 8'000'000;
    job.cancellable = true;

    CHECK(progressLine(job, 1'000'000'000, 200) ==
          "erasing [##########..........]  50% 512.0M of 1.0G 64.0M/s 0:08 left (Ctrl-C cancels)");
}

TEST_CASE("a key derivation shows its bar and time left only", "[unit]")
{
    JobState job;
    job.stage = "deriving the key";
    job.fraction = 0.251;
    job.expectedEndUs = 3'600'000'000ull + 62'500'000;

    CHECK(progressLine(job, 3'600'000'000ull, 200) ==
          "deriving the key [#####...............]  25% 1:03 left");
}

TEST_CASE("the line fits its width, and a stage name cannot drive the terminal", "[unit]")
{
    JobState job;
    job.stage = "erasing\x1b[2J";
    job.fraction = 1.5;  // never past full
    const std::string line = progressLine(job, 0, 30);
    CHECK(line.size() == 30);
    CHECK(line.find('\x1b') == std::string::npos);
    CHECK(line.rfind("erasing\\x1b[2J [", 0) == 0);
    CHECK(progressLine(job, 0, 200).find("100%") != std::string::npos);
}

TEST_CASE("a narrow terminal keeps how to cancel, then the time left, then what fits", "[unit]")
{
    JobState job;
    job.stage = "erasing";
    job.fraction = 0.125;
    job.bytesDone = 126u << 20;
    job.bytesTotal = 1008u << 20;
    job.rate = 33u << 20;
    job.expectedEndUs = 27'000'000;
    job.cancellable = true;

    CHECK(progressLine(job, 0, 100) ==
          "erasing [##..................]  12% 126.0M of 1008.0M "
          "33.0M/s 0:27 left (Ctrl-C cancels)");
    // The bytes do not fit in 79 columns; the shorter rate does.
    CHECK(progressLine(job, 0, 79) ==
          "erasing [##..................]  12% 33.0M/s 0:27 left (Ctrl-C cancels)");
    CHECK(progressLine(job, 0, 55) == "erasing [##..................]  12% (Ctrl-C cancels)");
}
