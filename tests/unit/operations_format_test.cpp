#include "engine/operations.hpp"

#include <catch2/catch.hpp>

#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kPassphrase = "correct horse";

EngineConfig testConfig()
{
    EngineConfig config;
    config.pbkdf.type = "pbkdf2";
    config.pbkdf.iterations = 1000;
    return config;
}

Result<FormatResult> format(FakeSystem& sys, const std::string& device,
                            const FormatRequest& request,
                            const std::string& passphrase = kPassphrase)
{
    Operations ops(sys.ports(), testConfig());
    return ops.format(device, secret(passphrase), request);
}

}  // namespace

TEST_CASE("formatting an empty device makes the filesystem through a temporary mapping", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);

    auto formatted = format(sys, "vdb", {"ext4", "vault", ""});

    REQUIRE_THAT(formatted, Succeeds());
    CHECK(sys.log ==
          CallLog{"format /dev/vdb open vaultd-format-vdb",
                  "mkfs ext4 /dev/mapper/vaultd-format-vdb", "deactivate vaultd-format-vdb",
                  "back up the header of /dev/vdb as 5e1f0000-0000-4000-8000-000000000001"});
    CHECK(sys.kernel.dmNodeOf("vaultd-format-vdb").empty());
}

TEST_CASE("format writes the LUKS2 parameters, label, passphrase and configured KDF", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);

    REQUIRE_THAT(format(sys, "vdb", {"btrfs", "vault", ""}), Succeeds());

    REQUIRE(sys.crypt.formats.size() == 1);
    const FakeCrypt::FormatCall& call = sys.crypt.formats.front();
    CHECK(call.node == "/dev/vdb");
    CHECK(call.passphrase == kPassphrase);
    CHECK(call.params.cipher == "aes");
    CHECK(call.params.mode == "xts-plain64");
    CHECK(call.params.keyBytes == 64);
    CHECK(call.params.sectorSize == 4096);
    CHECK(call.params.label == "vault");
    CHECK(call.params.pbkdf.type == "pbkdf2");
    CHECK(call.params.pbkdf.iterations == 1000);

    REQUIRE(sys.tools.made.size() == 1);
    CHECK(sys.tools.made.front().fs == Filesystem::Btrfs);
    CHECK(sys.tools.made.front().label == "vault");
}

TEST_CASE("a formatted volume is locked and opens to the new filesystem", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), testConfig());
    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), {"xfs", "vault", ""}), Succeeds());

    auto locked = ops.inspect("vdb");
    REQUIRE_THAT(locked, Succeeds());
    CHECK(locked.value().state == VolumeState::Locked);
    CHECK(locked.value().signature.label == "vault");

    REQUIRE_THAT(ops.unlock("vdb", secret(kPassphrase), {"data", false, "", {}, {}, {}}),
                 Succeeds());
    auto unlocked = ops.inspect("vdb");
    REQUIRE_THAT(unlocked, Succeeds());
    CHECK(unlocked.value().state == VolumeState::Unlocked);
    CHECK(unlocked.value().filesystemType == "xfs");
}

TEST_CASE("a device holding ext4 is not formatted without force", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));

    auto formatted = format(sys, "vdb", {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::NotEmpty));
    CHECK_THAT(formatted.error().message,
               Catch::Contains("an ext4 signature") && Catch::Contains("'/dev/vdb:1073741824'"));
    CHECK(sys.nothingWritten());
    CHECK(sys.log.empty());
}

TEST_CASE("a device holding a partition table names it when refusing", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, Signature{"gpt", "partition table", "", "", 0});

    auto formatted = format(sys, "vdb", {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::NotEmpty));
    CHECK_THAT(formatted.error().message, Catch::Contains("a gpt partition table"));
    CHECK(sys.nothingWritten());
}

TEST_CASE("format with the right force token wipes the old signatures first", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));

    auto formatted = format(sys, "vdb", {"ext4", "", "/dev/vdb:1073741824"});

    REQUIRE_THAT(formatted, Succeeds());
    CHECK(sys.log ==
          CallLog{"wipe /dev/vdb", "format /dev/vdb open vaultd-format-vdb",
                  "mkfs ext4 /dev/mapper/vaultd-format-vdb", "deactivate vaultd-format-vdb",
                  "back up the header of /dev/vdb as 5e1f0000-0000-4000-8000-000000000001"});
}

TEST_CASE("a force token for another device or size writes nothing", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, luksSignature("0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11"));

    for (const char* token : {"/dev/vdc:1073741824", "/dev/vdb:1073741823", "/dev/vdb", "yes"}) {
        INFO(token);
        auto formatted = format(sys, "vdb", {"ext4", "", token});
        REQUIRE_THAT(formatted, FailsWith(ErrorCode::NotEmpty));
        CHECK_THAT(formatted.error().message,
                   Catch::Contains("does not match") && Catch::Contains("'/dev/vdb:1073741824'"));
    }
    CHECK(sys.nothingWritten());
}

TEST_CASE("a device somebody holds open is busy and not formatted", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.kernel.heldOpen.insert("/dev/vdb");

    auto formatted = format(sys, "vdb", {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::Busy));
    CHECK(sys.nothingWritten());
}

TEST_CASE("an unlocked volume is busy and not formatted, even with force", "[unit]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", kGiB, "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11");
    addLuksMapping(sys.kernel.topology, "dm-0", "253:0", "data", "vdb");

    auto formatted = format(sys, "vdb", {"ext4", "", "/dev/vdb:1073741824"});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::Busy));
    CHECK_THAT(formatted.error().message, Catch::Contains("device-mapper"));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a device under another device-mapper device is busy and not formatted", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, Signature{"LVM2_member", "raid", "", "", 0});
    addDmDevice(sys.kernel.topology, "dm-0", "253:0", "vg-lv", "LVM-abcdef", {"vdb"});

    auto formatted = format(sys, "vdb", {"ext4", "", "/dev/vdb:1073741824"});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::Busy));
    CHECK(sys.nothingWritten());
}

TEST_CASE("btrfs does not fit on 100 MiB after the header but fits on 126 MiB", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", 100 * kMiB);
    sys.attach("vdc", 126 * kMiB);

    auto small = format(sys, "vdb", {"btrfs", "", ""});
    REQUIRE_THAT(small, FailsWith(ErrorCode::TooSmall));
    CHECK_THAT(small.error().message,
               Catch::Contains("84 MiB") && Catch::Contains("btrfs needs 109 MiB"));
    CHECK(sys.nothingWritten());

    CHECK_THAT(format(sys, "vdc", {"btrfs", "", ""}), Succeeds());
    CHECK(sys.tools.made.size() == 1);
}

TEST_CASE("xfs does not fit on a 300 MiB device", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", 300 * kMiB);

    CHECK_THAT(format(sys, "vdb", {"xfs", "", ""}), FailsWith(ErrorCode::TooSmall));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a device no larger than the LUKS2 header is too small for anything", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", 16 * kMiB);

    CHECK_THAT(format(sys, "vdb", {"ext4", "", ""}), FailsWith(ErrorCode::TooSmall));
    CHECK(sys.nothingWritten());
}

TEST_CASE("an unknown filesystem is refused before the device is looked at", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);

    auto formatted = format(sys, "vdb", {"vfat", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(formatted.error().message, Catch::Contains("'vfat'"));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a label too long for the filesystem is refused", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);

    CHECK_THAT(format(sys, "vdb", {"xfs", "thirteen-long", ""}),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK(sys.nothingWritten());
}

TEST_CASE("an empty passphrase is refused for format", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);

    auto formatted = format(sys, "vdb", {"ext4", "", ""}, "");

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(formatted.error().message, Catch::Contains("passphrase is empty"));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a reserved or unknown device cannot be formatted", "[unit]")
{
    FakeSystem sys;
    sys.attach("vda", 8 * kGiB, filesystemSignature("ext4"));
    addMount(sys.kernel.topology, sys.kernel.topology.nodes.at("vda").devnum, "/", "ext4");
    addDisk(sys.kernel.topology, "sr0", "11:0", kGiB);

    auto reserved = format(sys, "vda", {"ext4", "", "/dev/vda:8589934592"});
    REQUIRE_THAT(reserved, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(reserved.error().message, Catch::Contains("reserved for the system"));

    CHECK_THAT(format(sys, "vdz", {"ext4", "", ""}), FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(format(sys, "sr0", {"ext4", "", ""}), FailsWith(ErrorCode::NoSuchDevice));
    CHECK(sys.nothingWritten());
}

TEST_CASE("a loop device is formatted only when the configuration allows loops", "[unit]")
{
    FakeSystem sys;
    addDisk(sys.kernel.topology, "loop3", "7:3", kGiB).loopBacked = true;

    Operations strict(sys.ports(), testConfig());
    CHECK_THAT(strict.format("loop3", secret(kPassphrase), {"ext4", "", ""}),
               FailsWith(ErrorCode::NoSuchDevice));
    CHECK(sys.nothingWritten());

    EngineConfig loops = testConfig();
    loops.allowLoop = true;
    Operations lenient(sys.ports(), loops);
    CHECK_THAT(lenient.format("loop3", secret(kPassphrase), {"ext4", "", ""}), Succeeds());
}

TEST_CASE("a failed mkfs still closes the temporary mapping and reports the mkfs error", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.tools.failure = "mkfs.ext4 failed on '/dev/mapper/vaultd-format-vdb': no space";

    auto formatted = format(sys, "vdb", {"ext4", "", ""});

    REQUIRE_THAT(formatted, FailsWith(ErrorCode::Failed));
    CHECK_THAT(formatted.error().message, Catch::Contains("no space"));
    CHECK(sys.log.back() == "deactivate vaultd-format-vdb");
    CHECK(sys.kernel.dmNodeOf("vaultd-format-vdb").empty());
}

TEST_CASE("format keeps a backup of the new header, named by its UUID, with where it came from",
          "[unit]")
{
    FakeSystem sys;
    sys.attach("nvme1n1", kGiB);
    Operations ops(sys.ports(), testConfig());

    auto formatted = ops.format("nvme1n1", secret(kPassphrase), {"ext4", "", ""});

    REQUIRE_THAT(formatted, Succeeds());
    CHECK(formatted.value().backupProblem.empty());
    const std::string uuid = sys.kernel.signatures.at("/dev/nvme1n1").uuid;
    REQUIRE(sys.headers.kept.count(uuid));
    CHECK(sys.headers.kept.at(uuid).device == "/dev/nvme1n1");
    CHECK(formatted.value().backup.luksUuid == uuid);
}

TEST_CASE("a header backup that cannot be kept is reported, and the format stands", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    sys.headers.failure = "cannot create '/var/lib/vaultd/headers': No space left on device";

    auto formatted = format(sys, "vdb", {"ext4", "", ""});

    REQUIRE_THAT(formatted, Succeeds());
    CHECK_THAT(formatted.value().backupProblem, Catch::Contains("No space left"));
    CHECK(sys.kernel.signatures.at("/dev/vdb").isLuks());
}

// ---------------------------------------------------------------------------
// Erasing, and what a long format says while it runs

namespace {

// Records what an operation reports, and asks it to stop once @cancelAt
// bytes of a stage are done (0: never).
class RecordingProgress final : public Progress {
public:
    explicit RecordingProgress(std::uint64_t cancelAt = 0) : cancelAt_(cancelAt) {}

    void stage(std::string_view name, double from, double to,
               std::chrono::milliseconds expected) override
    {
        stages.push_back(std::string(name));
        spans.emplace_back(from, to);
        expectations.push_back(expected);
    }
    void bytes(std::uint64_t done, std::uint64_t total) override
    {
        lastDone = done;
        lastTotal = total;
    }
    void setCancellable(bool can) override
    {
        cancellable = can;
        cancellableEver = cancellableEver || can;
    }
    bool cancelRequested() const override
    {
        return cancellable && cancelAt_ != 0 && lastDone >= cancelAt_;
    }

    std::vector<std::string> stages;
    std::vector<std::pair<double, double>> spans;
    std::vector<std::chrono::milliseconds> expectations;
    std::uint64_t lastDone = 0, lastTotal = 0;
    bool cancellable = false, cancellableEver = false;

private:
    std::uint64_t cancelAt_;
};

FormatRequest erasing(const std::string& fs = "ext4")
{
    FormatRequest r{fs, "", ""};
    r.erase = true;
    return r;
}

}  // namespace

TEST_CASE("format without erase never erases and reports its two stages", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), EngineConfig{});
    RecordingProgress progress;

    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), {"ext4", "", ""}, progress), Succeeds());

    CHECK(progress.stages ==
          std::vector<std::string>{"writing the header", "making the filesystem"});
    CHECK(progress.spans.front().first == 0);
    CHECK(progress.spans.back().second == 1);
    // The configured KDF benchmarks to 2 s: the header stage expects that.
    CHECK(progress.expectations.front() == std::chrono::milliseconds(2000));
    CHECK(sys.crypt.erased.empty());
    CHECK_FALSE(progress.cancellableEver);
}

TEST_CASE("format with erase writes zeros through its mapping before mkfs", "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), testConfig());
    RecordingProgress progress;

    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), erasing(), progress), Succeeds());

    CHECK(sys.crypt.erased == std::vector<std::string>{"/dev/mapper/vaultd-format-vdb"});
    const int erased = logIndex(sys.log, "erase /dev/mapper/vaultd-format-vdb");
    const int formatted = logIndex(sys.log, "format /dev/vdb open vaultd-format-vdb");
    const int made = logIndex(sys.log, "mkfs ext4 /dev/mapper/vaultd-format-vdb");
    CHECK(formatted >= 0);
    CHECK(erased > formatted);
    CHECK(made > erased);
    CHECK(progress.stages ==
          std::vector<std::string>{"writing the header", "erasing", "making the filesystem"});
    // Fixed iterations: no time to expect.
    CHECK(progress.expectations.front() == std::chrono::milliseconds(0));
    // The erase is most of the whole, and only it may be cancelled.
    CHECK(progress.spans[1].second - progress.spans[1].first > 0.9);
    CHECK(progress.cancellableEver);
    CHECK_FALSE(progress.cancellable);
    CHECK(progress.lastDone == progress.lastTotal);
    CHECK(sys.kernel.dmNodeOf("vaultd-format-vdb").empty());
}

TEST_CASE("a cancelled erase closes the mapping, makes no filesystem and says what is left",
          "[unit]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), testConfig());
    RecordingProgress progress(4u << 20);

    auto r = ops.format("vdb", secret(kPassphrase), erasing(), progress);

    REQUIRE_THAT(r, FailsWith(ErrorCode::Cancelled));
    CHECK_THAT(r.error().message, Catch::Contains("new LUKS header and keyslot"));
    CHECK_THAT(r.error().message, Catch::Contains("--force /dev/vdb:1073741824"));
    CHECK(logHas(sys.log, "erase of /dev/mapper/vaultd-format-vdb cancelled at 4194304"));
    CHECK_FALSE(logHas(sys.log, "mkfs"));
    CHECK(logHas(sys.log, "deactivate vaultd-format-vdb"));
    CHECK(sys.kernel.dmNodeOf("vaultd-format-vdb").empty());
    CHECK_FALSE(progress.cancellable);
    // What is on the device now is a LUKS volume, which format can redo.
    auto v = ops.inspect("vdb");
    REQUIRE_THAT(v, Succeeds());
    CHECK(v.value().signature.isLuks());
    FormatRequest again{"ext4", "", "/dev/vdb:1073741824"};
    CHECK_THAT(ops.format("vdb", secret(kPassphrase), again), Succeeds());
}
