// Keys and headers: the pure rules of keys.hpp (PBKDF caps, the unlock plan,
// recovery keys), unlocking within the memory at hand, the passphrase
// strength check of format and addKey, keyslot changes, and header restore
// and repair.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/keys.hpp"
#include "engine/operations.hpp"
#include "engine/validate.hpp"
#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";
const std::string kOtherUuid = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const std::string kPassphrase = "correct horse";
const std::string kNode = "/dev/vdb";
const std::string kBackupFile = "/run/vaultd/restore/header-1";
constexpr std::uint32_t kGiBKib = 1048576;  // 1 GiB, in KiB
constexpr std::uint32_t kMiB64Kib = 65536;  // 64 MiB, in KiB

Keyslot keyslot(int n, const std::string& pbkdf, std::uint32_t memoryKib,
                KeyKind kind = KeyKind::Passphrase)
{
    Keyslot k;
    k.slot = n;
    k.kind = kind;
    k.pbkdf = pbkdf;
    k.memoryKib = memoryKib;
    return k;
}

FakeCrypt::Slot fakeSlot(int n, const std::string& secretText, std::uint32_t memoryKib,
                         const std::string& pbkdf = "argon2id")
{
    FakeCrypt::Slot s;
    s.slot = n;
    s.secret = secretText;
    s.pbkdf = pbkdf;
    s.memoryKib = memoryKib;
    return s;
}

std::vector<int> numbers(const std::vector<Keyslot>& slots)
{
    std::vector<int> n;
    for (const Keyslot& s : slots)
        n.push_back(s.slot);
    return n;
}

std::string text(const SecretBuffer& buffer)
{
    return std::string(buffer.data(), buffer.size());
}

// vdb, 1 GiB, a locked LUKS2 volume holding ext4, and an Operations over it.
// Until a test sets its keyslots, slot 0 holds kPassphrase at 128 MiB.
struct KeyVolume {
    FakeSystem sys;
    Operations ops;

    explicit KeyVolume(EngineConfig config = {}) : ops(sys.ports(), std::move(config))
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4", "vault"));
    }

    std::vector<FakeCrypt::Slot>& slots() { return sys.crypt.slotsOf(kNode); }

    const FakeCrypt::Slot* slot(int n)
    {
        for (const FakeCrypt::Slot& s : slots())
            if (s.slot == n)
                return &s;
        return nullptr;
    }

    // Whether any keyslot of vdb holds @secretText (asked of the fake
    // directly, so that nothing is logged).
    bool opensWith(const std::string& secretText)
    {
        const auto& all = slots();
        return std::any_of(all.begin(), all.end(),
                           [&](const FakeCrypt::Slot& s) { return s.secret == secretText; });
    }

    void makeLuks1() { sys.kernel.signatures.at(kNode).luksVersion = 1; }

    // Slot 0: 1 GiB argon2id, "alpha"; slot 1: 64 MiB argon2id, "bravo".
    void bigAndSmallSlots()
    {
        sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kGiBKib),
                                     fakeSlot(1, "bravo", kMiB64Kib)};
    }

    Result<UnlockResult> unlock(const std::string& passphrase, const std::string& name = "data")
    {
        return ops.unlock("vdb", secret(passphrase), {name, false, "", {}, {}, {}});
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// keys.hpp: the pure rules

TEST_CASE("cappedFor caps argon2 memory at a quarter of the smallest instance", "[unit][keys]")
{
    const PbkdfSettings configured;  // argon2id, 1 GiB, 4 threads, 2 s
    REQUIRE(configured.type == "argon2id");
    REQUIRE(configured.memoryKib == kGiBKib);
    REQUIRE(configured.parallel == 4);

    SECTION("512 MiB: 128 MiB and 2 threads")
    {
        const PbkdfSettings s = cappedFor(configured, 512 * kMiB);
        CHECK(s.type == "argon2id");
        CHECK(s.memoryKib == 131072);
        CHECK(s.parallel == 2);
        CHECK(s.timeMs == configured.timeMs);
        CHECK(s.iterations == configured.iterations);
    }
    SECTION("4 GiB: the configured 1 GiB, its quarter, and the configured 4 threads")
    {
        const PbkdfSettings s = cappedFor(configured, 4 * kGiB);
        CHECK(s.memoryKib == kGiBKib);
        CHECK(s.parallel == 4);
    }
    SECTION("16 GiB: never more than configured")
    {
        const PbkdfSettings s = cappedFor(configured, 16 * kGiB);
        CHECK(s.memoryKib == kGiBKib);
        CHECK(s.parallel == 4);
    }
    SECTION("128 MiB: 32 MiB and at least one thread")
    {
        const PbkdfSettings s = cappedFor(configured, 128 * kMiB);
        CHECK(s.memoryKib == 32768);
        CHECK(s.parallel == 1);
    }
    SECTION("argon2i is capped the same way")
    {
        PbkdfSettings argon2i = configured;
        argon2i.type = "argon2i";
        const PbkdfSettings s = cappedFor(argon2i, 512 * kMiB);
        CHECK(s.type == "argon2i");
        CHECK(s.memoryKib == 131072);
        CHECK(s.parallel == 2);
    }
}

TEST_CASE("an unlock of a new keyslot needs its argon2 memory and the headroom", "[unit][keys]")
{
    const PbkdfSettings capped = cappedFor(PbkdfSettings{}, 512 * kMiB);
    CHECK(unlockMemoryNeed(capped) == 128 * kMiB + kDerivationHeadroom);

    PbkdfSettings pbkdf2;
    pbkdf2.type = "pbkdf2";
    CHECK(unlockMemoryNeed(pbkdf2) == kDerivationHeadroom);
}

TEST_CASE("cappedFor leaves pbkdf2 settings untouched", "[unit][keys]")
{
    PbkdfSettings pbkdf2;
    pbkdf2.type = "pbkdf2";
    pbkdf2.hash = "sha512";
    pbkdf2.iterations = 1000;
    pbkdf2.timeMs = 1500;

    const PbkdfSettings s = cappedFor(pbkdf2, 512 * kMiB);

    CHECK(s.type == "pbkdf2");
    CHECK(s.hash == "sha512");
    CHECK(s.iterations == 1000);
    CHECK(s.timeMs == 1500);
    CHECK(s.memoryKib == pbkdf2.memoryKib);
    CHECK(s.parallel == pbkdf2.parallel);
}

TEST_CASE("forLuks1 turns argon2 into pbkdf2 with the same time target", "[unit][keys]")
{
    PbkdfSettings argon;
    argon.timeMs = 3000;
    argon.iterations = 4;  // argon2's time cost: no pbkdf2 iteration count

    const PbkdfSettings s = forLuks1(argon);

    CHECK(s.type == "pbkdf2");
    CHECK(s.timeMs == 3000);
    CHECK(s.iterations == 0);

    PbkdfSettings pbkdf2;
    pbkdf2.type = "pbkdf2";
    pbkdf2.hash = "sha512";
    pbkdf2.iterations = 5000;
    const PbkdfSettings kept = forLuks1(pbkdf2);
    CHECK(kept.type == "pbkdf2");
    CHECK(kept.hash == "sha512");
    CHECK(kept.iterations == 5000);
}

TEST_CASE("recoveryPbkdf is pbkdf2, keeping iterations only from pbkdf2 settings", "[unit][keys]")
{
    PbkdfSettings argon;
    argon.timeMs = 2500;
    argon.iterations = 4;
    const PbkdfSettings fromArgon = recoveryPbkdf(argon);
    CHECK(fromArgon.type == "pbkdf2");
    CHECK(fromArgon.timeMs == 2500);
    CHECK(fromArgon.iterations == 0);
    CHECK(memoryNeed(keyslot(0, fromArgon.type, fromArgon.memoryKib)) == 0);

    PbkdfSettings pbkdf2;
    pbkdf2.type = "pbkdf2";
    pbkdf2.iterations = 200000;
    const PbkdfSettings fromPbkdf2 = recoveryPbkdf(pbkdf2);
    CHECK(fromPbkdf2.type == "pbkdf2");
    CHECK(fromPbkdf2.iterations == 200000);
}

TEST_CASE("memoryNeed counts argon2's memory only", "[unit][keys]")
{
    CHECK(memoryNeed(keyslot(0, "argon2id", kGiBKib)) == kGiB);
    CHECK(memoryNeed(keyslot(0, "argon2i", kMiB64Kib)) == 64 * kMiB);
    CHECK(memoryNeed(keyslot(0, "pbkdf2", kGiBKib)) == 0);
}

TEST_CASE("planUnlock tries the cheapest first and puts the slots too big apart", "[unit][keys]")
{
    const std::vector<Keyslot> slots = {
        keyslot(0, "argon2id", kGiBKib),
        keyslot(1, "argon2id", kMiB64Kib),
        keyslot(2, "pbkdf2", 0),
        keyslot(3, "argon2id", 262144),
        keyslot(4, "argon2id", 2 * kGiBKib),
    };

    const UnlockPlan plan = planUnlock(slots, 512 * kMiB);

    CHECK(numbers(plan.fit) == std::vector<int>{2, 1, 3});
    CHECK(numbers(plan.tooBig) == std::vector<int>{0, 4});
}

TEST_CASE("planUnlock counts the derivation headroom", "[unit][keys]")
{
    const std::vector<Keyslot> slots = {keyslot(0, "argon2id", kMiB64Kib)};

    const UnlockPlan exact = planUnlock(slots, 64 * kMiB + kDerivationHeadroom);
    CHECK(numbers(exact.fit) == std::vector<int>{0});
    CHECK(exact.tooBig.empty());

    const UnlockPlan short1 = planUnlock(slots, 64 * kMiB + kDerivationHeadroom - 1);
    CHECK(short1.fit.empty());
    CHECK(numbers(short1.tooBig) == std::vector<int>{0});

    // The memory alone is not enough.
    const UnlockPlan bare = planUnlock(slots, 64 * kMiB);
    CHECK(bare.fit.empty());
}

TEST_CASE("planUnlock leaves ignored slots out and tries token slots last", "[unit][keys]")
{
    Keyslot ignored = keyslot(0, "pbkdf2", 0);
    ignored.ignored = true;
    Keyslot token = keyslot(1, "pbkdf2", 0, KeyKind::Token);
    token.tokenType = "clevis";
    const std::vector<Keyslot> slots = {ignored, token, keyslot(2, "argon2id", 262144),
                                        keyslot(3, "argon2id", kMiB64Kib),
                                        keyslot(4, "argon2id", kGiBKib, KeyKind::Token)};

    const UnlockPlan plan = planUnlock(slots, 8 * kGiB);

    CHECK(numbers(plan.fit) == std::vector<int>{3, 2, 1, 4});
    CHECK(plan.tooBig.empty());

    const UnlockPlan small = planUnlock(slots, 512 * kMiB);
    CHECK(numbers(small.fit) == std::vector<int>{3, 2, 1});
    CHECK(numbers(small.tooBig) == std::vector<int>{4});
}

TEST_CASE("humanBytes writes sizes for messages", "[unit][keys]")
{
    CHECK(humanBytes(kGiB) == "1.0 GiB");
    CHECK(humanBytes(3 * kGiB / 2) == "1.5 GiB");
    CHECK(humanBytes(512 * kMiB) == "512 MiB");
    CHECK(humanBytes(900 * 1024) == "900 KiB");
}

TEST_CASE("insufficientMemory names the slot, its need, what is available and the remedy",
          "[unit][keys]")
{
    const std::vector<Keyslot> slots = {keyslot(0, "argon2id", kGiBKib),
                                        keyslot(1, "argon2id", kMiB64Kib)};
    const UnlockPlan plan = planUnlock(slots, 512 * kMiB);
    REQUIRE(numbers(plan.tooBig) == std::vector<int>{0});

    const std::string msg = insufficientMemory(kNode, plan, 512 * kMiB);

    CHECK_THAT(msg, Catch::Contains("'/dev/vdb'"));
    CHECK_THAT(msg, Catch::Contains("keyslot 0 needs 1.0 GiB"));
    CHECK_THAT(msg, Catch::Contains("512 MiB is available"));
    CHECK_THAT(msg, Catch::Contains("leaves 32 MiB to spare"));
    CHECK_THAT(msg, Catch::Contains("opens none of the keyslots that fit (1)"));
    CHECK_THAT(msg, Catch::Contains("add a keyslot that needs less memory"));
    CHECK_THAT(msg, Catch::Contains("recovery key"));

    const UnlockPlan none = planUnlock({keyslot(0, "argon2id", kGiBKib)}, 512 * kMiB);
    CHECK_THAT(insufficientMemory(kNode, none, 512 * kMiB), Catch::Contains("no keyslot fits"));
}

TEST_CASE("makeRecoveryKey makes keys isRecoveryKey accepts", "[unit][keys]")
{
    std::vector<std::string> made;
    for (int i = 0; i < 20; ++i) {
        const SecretBuffer key = makeRecoveryKey();
        const std::string k = text(key);
        INFO(k);
        CHECK(k.size() == kRecoveryKeyLength);
        CHECK(isRecoveryKey(k));
        CHECK(std::count(k.begin(), k.end(), '-') == 7);
        for (std::size_t at = 6; at < k.size(); at += 7)
            CHECK(k[at] == '-');
        CHECK(k.find_first_of("ilouABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos);
        made.push_back(k);
    }
    std::sort(made.begin(), made.end());
    CHECK(std::adjacent_find(made.begin(), made.end()) == made.end());
}

TEST_CASE("isRecoveryKey rejects what makeRecoveryKey would never make", "[unit][keys]")
{
    const std::string good = "k7hq2m-0abcde-fghjkm-npqrst-vwxyz0-123456-789abc-defghj";
    REQUIRE(good.size() == kRecoveryKeyLength);
    REQUIRE(isRecoveryKey(good));

    CHECK_FALSE(isRecoveryKey(""));
    CHECK_FALSE(isRecoveryKey(good.substr(0, good.size() - 1)));  // too short
    CHECK_FALSE(isRecoveryKey(good + "a"));                       // too long
    CHECK_FALSE(isRecoveryKey(good + "-"));
    CHECK_FALSE(isRecoveryKey(good.substr(0, 6) + good.substr(7) + "a"));  // a dash missing

    std::string upper = good;
    upper[0] = 'K';
    CHECK_FALSE(isRecoveryKey(upper));

    for (char lookAlike : {'i', 'l', 'o', 'u'}) {
        std::string k = good;
        k[1] = lookAlike;
        INFO(k);
        CHECK_FALSE(isRecoveryKey(k));
    }

    std::string shifted = good;  // the first dash one place early
    std::swap(shifted[5], shifted[6]);
    CHECK_FALSE(isRecoveryKey(shifted));

    std::string spaced = good;
    spaced[13] = ' ';
    CHECK_FALSE(isRecoveryKey(spaced));

    std::string noDashes = good;
    std::replace(noDashes.begin(), noDashes.end(), '-', 'a');
    CHECK_FALSE(isRecoveryKey(noDashes));
}

// ---------------------------------------------------------------------------
// Unlock within the memory at hand

TEST_CASE("unlock opens a keyslot that fits without deriving the one too big", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.unlock("bravo");

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mappingName == "data");
    CHECK(vol.sys.crypt.activations == std::vector<std::string>{"/dev/vdb data"});
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 1"});
}

TEST_CASE("unlock with the passphrase of a keyslot too big for memory fails naming it",
          "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.unlock("alpha");

    REQUIRE_THAT(r, FailsWith(ErrorCode::InsufficientMemory));
    CHECK_THAT(r.error().message, Catch::Contains("keyslot 0 needs 1.0 GiB"));
    CHECK_THAT(r.error().message, Catch::Contains("512 MiB is available"));
    CHECK(vol.sys.crypt.activations.empty());
    CHECK(std::find(vol.sys.crypt.derivations.begin(), vol.sys.crypt.derivations.end(),
                    "/dev/vdb 0") == vol.sys.crypt.derivations.end());
    CHECK(vol.sys.kernel.dmNodeOf("data").empty());
}

TEST_CASE("unlock with enough memory opens the big keyslot", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.kernel.memory = 8 * kGiB;

    auto r = vol.unlock("alpha");

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.sys.crypt.activations == std::vector<std::string>{"/dev/vdb data"});
}

TEST_CASE("unlock with no keyslot that fits in memory says so", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kGiBKib)};
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.unlock("alpha");

    REQUIRE_THAT(r, FailsWith(ErrorCode::InsufficientMemory));
    CHECK_THAT(r.error().message, Catch::Contains("no keyslot fits"));
    CHECK_THAT(r.error().message, Catch::Contains("keyslot 0"));
    CHECK(vol.sys.crypt.derivations.empty());
    CHECK(vol.sys.crypt.activations.empty());
}

TEST_CASE("unlock with a wrong passphrase when every keyslot fits is WrongPassphrase",
          "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.kernel.memory = 8 * kGiB;

    auto r = vol.unlock("charlie");

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.sys.crypt.activations.empty());
}

TEST_CASE("unlock tries the keyslots that fit the cheapest first", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kGiBKib),
                                     fakeSlot(1, "bravo", 262144),  // 256 MiB
                                     fakeSlot(2, "charlie", kMiB64Kib)};
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.unlock("bravo");

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 2", "/dev/vdb 1"});
}

TEST_CASE("unlock stops at a keyslot that took the passphrase but failed to open", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kMiB64Kib),
                                     fakeSlot(1, "bravo", kMiB64Kib),
                                     fakeSlot(2, "charlie", kGiBKib)};
    vol.sys.kernel.memory = 512 * kMiB;
    vol.sys.crypt.activateFailure = "device-mapper: reload ioctl failed";

    auto r = vol.unlock("alpha");

    REQUIRE_THAT(r, FailsWith(ErrorCode::Failed));
    CHECK_THAT(r.error().message, Catch::Contains("reload ioctl failed"));
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 0"});
    CHECK(vol.sys.crypt.activations.empty());
}

// ---------------------------------------------------------------------------
// Format: the capped PBKDF and the strength check

TEST_CASE("format caps the configured PBKDF for the smallest instance", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    EngineConfig config;  // argon2id 1 GiB, 4 threads
    config.smallestInstanceMemory = 512 * kMiB;
    Operations ops(sys.ports(), config);

    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), {"ext4", "vault", ""}), Succeeds());

    REQUIRE(sys.crypt.formats.size() == 1);
    const PbkdfSettings& pbkdf = sys.crypt.formats.back().params.pbkdf;
    CHECK(pbkdf.type == "argon2id");
    CHECK(pbkdf.memoryKib == 131072);
    CHECK(pbkdf.parallel == 2);
    CHECK(sys.quality.checked == std::vector<std::string>{kPassphrase});
    CHECK(sys.crypt.formats.back().params.keyKind == KeyKind::Passphrase);
}

TEST_CASE("format refuses a weak passphrase and writes nothing", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), {});

    auto r = ops.format("vdb", secret("password1"), {"ext4", "vault", ""});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WeakPassphrase));
    CHECK(sys.nothingWritten());
    CHECK(sys.log.empty());
}

TEST_CASE("format with acceptWeak takes a weak passphrase", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), {});

    FormatRequest request{"ext4", "vault", ""};
    request.acceptWeak = true;
    auto r = ops.format("vdb", secret("password1"), request);

    REQUIRE_THAT(r, Succeeds());
    REQUIRE(sys.crypt.formats.size() == 1);
    CHECK(sys.crypt.formats.back().passphrase == "password1");
}

TEST_CASE("format with a key file skips the strength check", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), {});

    FormatRequest request{"ext4", "vault", ""};
    request.keyKind = KeyKind::KeyFile;
    auto r = ops.format("vdb", secret("password1"), request);

    REQUIRE_THAT(r, Succeeds());
    CHECK(sys.quality.checked.empty());
    REQUIRE(sys.crypt.formats.size() == 1);
    CHECK(sys.crypt.formats.back().params.keyKind == KeyKind::KeyFile);
}

// ---------------------------------------------------------------------------
// keyslots

TEST_CASE("keyslots reports the header's version, UUID and keyslots", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();

    auto h = vol.ops.keyslots("vdb");

    REQUIRE_THAT(h, Succeeds());
    CHECK(h.value().version == 2);
    CHECK(h.value().uuid == kUuid);
    REQUIRE(h.value().keyslots.size() == 2);
    CHECK(h.value().keyslots[0].memoryKib == kGiBKib);
    CHECK(h.value().keyslots[1].memoryKib == kMiB64Kib);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("keyslots of a device without LUKS is NotLuks", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.keyslots("vdb"), FailsWith(ErrorCode::NotLuks));
}

// ---------------------------------------------------------------------------
// addKey

TEST_CASE("addKey adds a keyslot with the capped PBKDF and refreshes the header backup",
          "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.addKey("vdb", secret(kPassphrase), secret("battery staple"), {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().keyslot == 1);
    CHECK(r.value().backupProblem.empty());
    REQUIRE(vol.slot(1) != nullptr);
    CHECK(vol.slot(1)->secret == "battery staple");
    CHECK(vol.slot(1)->kind == KeyKind::Passphrase);
    REQUIRE(vol.sys.crypt.pbkdfsUsed.size() == 1);
    CHECK(vol.sys.crypt.pbkdfsUsed.back().type == "argon2id");
    CHECK(vol.sys.crypt.pbkdfsUsed.back().memoryKib == 131072);
    CHECK(vol.sys.crypt.pbkdfsUsed.back().parallel == 2);
    CHECK(vol.sys.headers.kept.count(kUuid) == 1);
    const int added = logIndex(vol.sys.log, "add keyslot 1 to /dev/vdb");
    const int backedUp = logIndex(vol.sys.log, "back up the header of /dev/vdb as " + kUuid);
    CHECK(added >= 0);
    CHECK(backedUp > added);
    CHECK(vol.sys.quality.checked == std::vector<std::string>{"battery staple"});
}

TEST_CASE("addKey refuses a weak new passphrase and adds nothing", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.addKey("vdb", secret(kPassphrase), secret("password1"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WeakPassphrase));
    CHECK(vol.slots().size() == 1);
    CHECK(vol.sys.crypt.pbkdfsUsed.empty());
    CHECK(vol.sys.log.empty());
}

TEST_CASE("addKey with acceptWeak takes a weak passphrase", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.addKey("vdb", secret(kPassphrase), secret("password1"),
                            {.kind = KeyKind::Passphrase, .acceptWeak = true});

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.opensWith("password1"));
    CHECK(vol.sys.quality.checked.empty());
}

TEST_CASE("addKey of a key file skips the strength check and records its kind", "[unit][keys]")
{
    KeyVolume vol;

    auto r =
        vol.ops.addKey("vdb", secret(kPassphrase), secret("password1"), {.kind = KeyKind::KeyFile});

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.sys.quality.checked.empty());
    REQUIRE(vol.slot(r.value().keyslot) != nullptr);
    CHECK(vol.slot(r.value().keyslot)->kind == KeyKind::KeyFile);
}

TEST_CASE("addKey refuses a recovery or token kind and an empty secret", "[unit][keys]")
{
    KeyVolume vol;

    CHECK_THAT(vol.ops.addKey("vdb", secret(kPassphrase), secret("battery staple"),
                              {.kind = KeyKind::Recovery}),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(vol.ops.addKey("vdb", secret(kPassphrase), secret("battery staple"),
                              {.kind = KeyKind::Token}),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(vol.ops.addKey("vdb", secret(kPassphrase), secret(""), {}),
               FailsWith(ErrorCode::InvalidArgument));
    CHECK(vol.slots().size() == 1);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("addKey with a wrong existing passphrase adds nothing", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.addKey("vdb", secret("wrong horse"), secret("battery staple"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.slots().size() == 1);
    CHECK_FALSE(vol.opensWith("battery staple"));
    CHECK(vol.sys.crypt.pbkdfsUsed.empty());
    CHECK_FALSE(logHas(vol.sys.log, "back up the header"));
}

TEST_CASE("addKey authorized by a keyslot too big for memory is InsufficientMemory", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.ops.addKey("vdb", secret("alpha"), secret("battery staple"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::InsufficientMemory));
    CHECK_THAT(r.error().message, Catch::Contains("keyslot 0"));
    CHECK(vol.slots().size() == 2);

    // The small slot authorizes it without deriving the big one.
    vol.sys.crypt.derivations.clear();
    REQUIRE_THAT(vol.ops.addKey("vdb", secret("bravo"), secret("battery staple"), {}), Succeeds());
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 1"});
}

TEST_CASE("addKey to a full header is NoFreeKeyslot with the count", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.crypt.maxKeyslots = 2;

    auto r = vol.ops.addKey("vdb", secret("bravo"), secret("battery staple"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::NoFreeKeyslot));
    CHECK_THAT(r.error().message, Catch::Contains("2 of 2"));
    CHECK(vol.slots().size() == 2);
    CHECK(vol.sys.crypt.derivations.empty());
}

TEST_CASE("addKey to a LUKS1 volume takes a passphrase with pbkdf2, not a key file", "[unit][keys]")
{
    KeyVolume vol;
    vol.makeLuks1();

    auto keyFile = vol.ops.addKey("vdb", secret(kPassphrase), secret("key file bytes"),
                                  {.kind = KeyKind::KeyFile});
    REQUIRE_THAT(keyFile, FailsWith(ErrorCode::NotSupportedOnLuks1));
    CHECK(vol.slots().size() == 1);

    auto passphrase = vol.ops.addKey("vdb", secret(kPassphrase), secret("battery staple"), {});
    REQUIRE_THAT(passphrase, Succeeds());
    REQUIRE(vol.sys.crypt.pbkdfsUsed.size() == 1);
    const PbkdfSettings& used = vol.sys.crypt.pbkdfsUsed.back();
    CHECK(used.type == "pbkdf2");
    CHECK(used.timeMs == EngineConfig{}.pbkdf.timeMs);
    CHECK(used.iterations == 0);
    CHECK(vol.opensWith("battery staple"));
}

TEST_CASE("addKey to a device without LUKS is NotLuks", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.addKey("vdb", secret(kPassphrase), secret("battery staple"), {}),
               FailsWith(ErrorCode::NotLuks));
    CHECK(sys.crypt.pbkdfsUsed.empty());
    CHECK(sys.log.empty());
}

TEST_CASE("addKey whose header backup fails adds the key and says why", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.headers.failure = "the state directory is read-only";

    auto r = vol.ops.addKey("vdb", secret(kPassphrase), secret("battery staple"), {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.opensWith("battery staple"));
    CHECK_THAT(r.value().backupProblem, Catch::Contains("the state directory is read-only"));
}

// ---------------------------------------------------------------------------
// addRecoveryKey

TEST_CASE("addRecoveryKey adds a recovery keyslot with pbkdf2", "[unit][keys]")
{
    KeyVolume vol;
    const SecretBuffer key = makeRecoveryKey();

    auto r = vol.ops.addRecoveryKey("vdb", secret(kPassphrase), key);

    REQUIRE_THAT(r, Succeeds());
    REQUIRE(vol.slot(r.value().keyslot) != nullptr);
    const FakeCrypt::Slot& added = *vol.slot(r.value().keyslot);
    CHECK(added.kind == KeyKind::Recovery);
    CHECK(added.pbkdf == "pbkdf2");
    CHECK(added.secret == text(key));
    REQUIRE(vol.sys.crypt.pbkdfsUsed.size() == 1);
    CHECK(vol.sys.crypt.pbkdfsUsed.back().type == "pbkdf2");
    CHECK(vol.sys.quality.checked.empty());
    CHECK(logHas(vol.sys.log, "back up the header of /dev/vdb as " + kUuid));

    // It needs no memory: it opens where nothing else fits.
    vol.sys.crypt.keyslots[kNode][0].memoryKib = kGiBKib;
    vol.sys.kernel.memory = 256 * kMiB;
    CHECK_THAT(vol.unlock(text(key)), Succeeds());
}

TEST_CASE("addRecoveryKey refuses what is not a recovery key", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.addRecoveryKey("vdb", secret(kPassphrase), secret("battery staple"));

    REQUIRE_THAT(r, FailsWith(ErrorCode::InvalidArgument));
    CHECK(vol.slots().size() == 1);
    CHECK(vol.sys.log.empty());
}

TEST_CASE("addRecoveryKey to a LUKS1 volume is NotSupportedOnLuks1", "[unit][keys]")
{
    KeyVolume vol;
    vol.makeLuks1();

    auto r = vol.ops.addRecoveryKey("vdb", secret(kPassphrase), makeRecoveryKey());

    REQUIRE_THAT(r, FailsWith(ErrorCode::NotSupportedOnLuks1));
    CHECK(vol.slots().size() == 1);
    CHECK(vol.sys.crypt.pbkdfsUsed.empty());
}

// ---------------------------------------------------------------------------
// changeKey

TEST_CASE("changeKey moves the secret to the replacement", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.changeKey("vdb", secret(kPassphrase), secret("battery staple"), {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().keyslot == 1);
    REQUIRE(vol.slot(1) != nullptr);
    CHECK(vol.slot(1)->secret == "battery staple");
    CHECK_FALSE(vol.opensWith(kPassphrase));
    CHECK(vol.slots().size() == 1);
    REQUIRE(vol.sys.crypt.pbkdfsUsed.size() == 1);
    CHECK(vol.sys.crypt.pbkdfsUsed.back().memoryKib == 131072);
    CHECK(logHas(vol.sys.log, "back up the header of /dev/vdb as " + kUuid));

    CHECK_THAT(vol.unlock(kPassphrase), FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(vol.unlock("battery staple"), Succeeds());
}

TEST_CASE("changeKey refuses a weak replacement and keeps the old secret", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.changeKey("vdb", secret(kPassphrase), secret("password1"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WeakPassphrase));
    CHECK(vol.opensWith(kPassphrase));
    CHECK_FALSE(vol.opensWith("password1"));
    CHECK(vol.sys.log.empty());
}

TEST_CASE("changeKey with a wrong old passphrase changes nothing", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.changeKey("vdb", secret("wrong horse"), secret("battery staple"), {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongPassphrase));
    CHECK(vol.opensWith(kPassphrase));
    CHECK_FALSE(vol.opensWith("battery staple"));
}

// ---------------------------------------------------------------------------
// removeKey

TEST_CASE("removeKey removes a keyslot authorized by another", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();

    auto r = vol.ops.removeKey("vdb", 1, secret("alpha"));

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().keyslot == 1);
    CHECK(vol.slot(1) == nullptr);
    CHECK(vol.slot(0) != nullptr);
    CHECK(logHas(vol.sys.log, "remove keyslot 1 of /dev/vdb"));
    CHECK(logHas(vol.sys.log, "back up the header of /dev/vdb as " + kUuid));
    // The passphrase was checked on slot 0 only, never on the one removed.
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 0"});
}

TEST_CASE("removeKey authorized by a small keyslot leaves the big one underived", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kGiBKib), fakeSlot(1, "bravo", kMiB64Kib),
                                     fakeSlot(2, "charlie", kMiB64Kib)};
    vol.sys.kernel.memory = 512 * kMiB;

    auto r = vol.ops.removeKey("vdb", 2, secret("bravo"));

    REQUIRE_THAT(r, Succeeds());
    CHECK(vol.slot(2) == nullptr);
    CHECK(vol.sys.crypt.derivations == std::vector<std::string>{"/dev/vdb 1"});
}

TEST_CASE("removeKey never removes the last keyslot", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.removeKey("vdb", 0, secret(kPassphrase));

    REQUIRE_THAT(r, FailsWith(ErrorCode::LastKeyslot));
    CHECK(vol.slot(0) != nullptr);
    CHECK_FALSE(logHas(vol.sys.log, "remove keyslot"));
}

TEST_CASE("removeKey authorized only by the keyslot it removes is WrongPassphrase", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();

    auto r = vol.ops.removeKey("vdb", 1, secret("bravo"));

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(r.error().message, Catch::Contains("a keyslot that stays"));
    CHECK_THAT(r.error().message, Catch::Contains("keyslot 1"));
    CHECK(vol.slot(1) != nullptr);
    CHECK_FALSE(logHas(vol.sys.log, "remove keyslot"));
    CHECK(std::find(vol.sys.crypt.derivations.begin(), vol.sys.crypt.derivations.end(),
                    "/dev/vdb 1") == vol.sys.crypt.derivations.end());
}

TEST_CASE("removeKey of a keyslot not in use is InvalidArgument", "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();

    auto r = vol.ops.removeKey("vdb", 5, secret("alpha"));

    REQUIRE_THAT(r, FailsWith(ErrorCode::InvalidArgument));
    CHECK_THAT(r.error().message, Catch::Contains("keyslot 5"));
    CHECK(vol.slots().size() == 2);
    CHECK_FALSE(logHas(vol.sys.log, "remove keyslot"));
}

// ---------------------------------------------------------------------------
// restoreHeader

TEST_CASE("restoreHeader refuses an unlocked volume", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;
    REQUIRE_THAT(vol.unlock(kPassphrase), Succeeds());

    auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongState));
    CHECK_THAT(r.error().message, Catch::Contains("'data'"));
    CHECK_FALSE(logHas(vol.sys.log, "restore"));
}

TEST_CASE("restoreHeader refuses a device held open", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;
    vol.sys.kernel.heldOpen.insert(kNode);

    auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::Busy));
    CHECK_FALSE(logHas(vol.sys.log, "restore"));
}

TEST_CASE("restoreHeader refuses a file that holds no header", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.restoreHeader("vdb", "/run/vaultd/restore/not-a-header", {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::InvalidArgument));
    CHECK_FALSE(logHas(vol.sys.log, "restore"));
}

TEST_CASE("restoreHeader over another volume's header asks for force", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFiles[kBackupFile] = kOtherUuid;
    const std::string token = forceToken(kNode, kGiB);

    SECTION("without force")
    {
        auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

        REQUIRE_THAT(r, FailsWith(ErrorCode::HeaderMismatch));
        CHECK_THAT(r.error().message, Catch::Contains(kOtherUuid));
        CHECK_THAT(r.error().message, Catch::Contains(kUuid));
        CHECK_THAT(r.error().message, Catch::Contains(token));
        CHECK_FALSE(logHas(vol.sys.log, "restore"));
        CHECK(vol.sys.kernel.signatures.at(kNode).uuid == kUuid);
    }
    SECTION("with the wrong force")
    {
        auto r = vol.ops.restoreHeader("vdb", kBackupFile, {"/dev/vdb:1"});

        REQUIRE_THAT(r, FailsWith(ErrorCode::HeaderMismatch));
        CHECK_FALSE(logHas(vol.sys.log, "restore"));
    }
    SECTION("with the force token of the device")
    {
        auto r = vol.ops.restoreHeader("vdb", kBackupFile, {token});

        REQUIRE_THAT(r, Succeeds());
        CHECK(r.value().backupUuid == kOtherUuid);
        CHECK(r.value().deviceUuid == kUuid);
        CHECK(logHas(vol.sys.log, "restore the header of /dev/vdb from " + kBackupFile));
        CHECK(vol.sys.kernel.signatures.at(kNode).uuid == kOtherUuid);
    }
}

TEST_CASE("restoreHeader reads the device's UUID from its binary headers first", "[unit][keys]")
{
    KeyVolume vol;
    // libblkid still says kUuid, the binary header found says another.
    vol.sys.kernel.headerCopies[kNode] = {2, true, "", kOtherUuid};
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;

    auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

    REQUIRE_THAT(r, FailsWith(ErrorCode::HeaderMismatch));
    CHECK_THAT(r.error().message, Catch::Contains(kOtherUuid));
    CHECK_FALSE(logHas(vol.sys.log, "restore"));
}

TEST_CASE("restoreHeader of the volume's own backup needs no force", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.kernel.headerCopies[kNode] = {0, true, "", kUuid};  // the primary is damaged
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;

    auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().backupUuid == kUuid);
    CHECK(r.value().deviceUuid == kUuid);
    CHECK(logHas(vol.sys.log, "restore the header of /dev/vdb from " + kBackupFile));
    CHECK(vol.sys.crypt.formats.empty());
    CHECK(vol.sys.kernel.wipes.empty());
}

TEST_CASE("restoreHeader onto a device that names no volume needs force", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    sys.kernel.headerCopies[kNode] = {};
    sys.crypt.headerFiles[kBackupFile] = kUuid;
    Operations ops(sys.ports(), {});

    auto refused = ops.restoreHeader("vdb", kBackupFile, {});
    REQUIRE_THAT(refused, FailsWith(ErrorCode::HeaderMismatch));
    CHECK_THAT(refused.error().message, Catch::Contains("nothing on '/dev/vdb' names"));
    CHECK_FALSE(logHas(sys.log, "restore"));

    auto forced = ops.restoreHeader("vdb", kBackupFile, {forceToken(kNode, kGiB)});
    REQUIRE_THAT(forced, Succeeds());
    CHECK(forced.value().backupUuid == kUuid);
    CHECK(forced.value().deviceUuid.empty());
    CHECK(sys.kernel.signatures.at(kNode).uuid == kUuid);
}

TEST_CASE("restoreHeader refuses a backup whose header is bigger than the device", "[unit][keys]")
{
    FakeSystem sys;
    sys.attachLuks("vdb", 8 * kMiB, kUuid);
    sys.crypt.headerFiles[kBackupFile] = kUuid;
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.restoreHeader("vdb", kBackupFile, {}), FailsWith(ErrorCode::TooSmall));
    CHECK_FALSE(logHas(sys.log, "restore"));
}

TEST_CASE(
    "restoreHeader takes the device's UUID from its LUKS signature when no binary header "
    "reads",
    "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.kernel.headerCopies[kNode] = {};  // libblkid says kUuid, the raw read finds nothing
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;

    auto r = vol.ops.restoreHeader("vdb", kBackupFile, {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().deviceUuid == kUuid);
    CHECK(logHas(vol.sys.log, "restore the header of /dev/vdb"));
}

// ---------------------------------------------------------------------------
// repairHeader

TEST_CASE("repairHeader of an intact header is WrongState", "[unit][keys]")
{
    KeyVolume vol;

    auto r = vol.ops.repairHeader("vdb");

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongState));
    CHECK_FALSE(logHas(vol.sys.log, "repair"));
    CHECK_FALSE(logHas(vol.sys.log, "back up"));
}

TEST_CASE("repairHeader backs the header up, then repairs a damaged primary", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.kernel.headerCopies[kNode] = {0, true, "", kUuid};
    REQUIRE(vol.ops.inspect("vdb").value().headerHealth == HeaderHealth::PrimaryDamaged);

    auto r = vol.ops.repairHeader("vdb");

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().before == HeaderHealth::PrimaryDamaged);
    CHECK(r.value().backup.luksUuid == kUuid);
    const int backedUp = logIndex(vol.sys.log, "back up the header of /dev/vdb as " + kUuid);
    const int repaired = logIndex(vol.sys.log, "repair the header of /dev/vdb");
    CHECK(backedUp >= 0);
    CHECK(repaired > backedUp);
    CHECK(vol.ops.inspect("vdb").value().headerHealth == HeaderHealth::Valid);
}

TEST_CASE("repairHeader repairs a damaged secondary", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.kernel.headerCopies[kNode] = {2, false, "", kUuid};

    auto r = vol.ops.repairHeader("vdb");

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().before == HeaderHealth::SecondaryDamaged);
    CHECK(logHas(vol.sys.log, "repair the header of /dev/vdb"));
}

TEST_CASE("repairHeader does not repair when the backup fails", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.kernel.headerCopies[kNode] = {0, true, "", kUuid};
    vol.sys.headers.failure = "the state directory is full";

    auto r = vol.ops.repairHeader("vdb");

    REQUIRE_THAT(r, FailsWith(ErrorCode::Failed));
    CHECK_THAT(r.error().message, Catch::Contains("the state directory is full"));
    CHECK(logHas(vol.sys.log, "back up the header"));
    CHECK_FALSE(logHas(vol.sys.log, "repair"));
}

TEST_CASE("repairHeader refuses a header another signature overwrote", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    sys.kernel.headerCopies[kNode] = {0, true, "ext4", kUuid};
    Operations ops(sys.ports(), {});
    REQUIRE(ops.inspect("vdb").value().headerHealth == HeaderHealth::Overwritten);

    auto r = ops.repairHeader("vdb");

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongState));
    CHECK_THAT(r.error().message, Catch::Contains("restore a header backup"));
    CHECK(sys.nothingWritten());
    CHECK_FALSE(logHas(sys.log, "repair"));
    CHECK_FALSE(logHas(sys.log, "back up"));
}

TEST_CASE("repairHeader of a device without LUKS is NotLuks", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB, filesystemSignature("ext4"));
    Operations ops(sys.ports(), {});

    CHECK_THAT(ops.repairHeader("vdb"), FailsWith(ErrorCode::NotLuks));
    CHECK(sys.log.empty());
}

// ---------------------------------------------------------------------------
// A device replaced under the same node while a request was under way

TEST_CASE("keyslot and header changes stop when the node leads to another device now",
          "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.keyslots[kNode] = {fakeSlot(0, "alpha", kMiB64Kib),
                                     fakeSlot(1, "bravo", kMiB64Kib)};
    vol.sys.crypt.headerFiles[kBackupFile] = kUuid;
    vol.sys.kernel.replacedBy[kNode] = {"252:99", 77};

    CHECK_THAT(vol.ops.addKey("vdb", secret("alpha"), secret("battery staple"), {}),
               FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(vol.ops.addRecoveryKey("vdb", secret("alpha"), makeRecoveryKey()),
               FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(vol.ops.changeKey("vdb", secret("alpha"), secret("battery staple"), {}),
               FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(vol.ops.removeKey("vdb", 1, secret("alpha")), FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(vol.ops.restoreHeader("vdb", kBackupFile, {}), FailsWith(ErrorCode::NoSuchDevice));
    CHECK(vol.slots().size() == 2);
    CHECK(vol.sys.crypt.pbkdfsUsed.empty());
    CHECK_FALSE(logHas(vol.sys.log, "remove keyslot"));
    CHECK_FALSE(logHas(vol.sys.log, "restore"));

    vol.sys.kernel.headerCopies[kNode] = {0, true, "", kUuid};
    CHECK_THAT(vol.ops.repairHeader("vdb"), FailsWith(ErrorCode::NoSuchDevice));
    CHECK_FALSE(logHas(vol.sys.log, "repair"));
}

TEST_CASE("a keyslot only a token opens, too big for memory, leaves a wrong passphrase wrong",
          "[unit][keys]")
{
    KeyVolume vol;
    vol.bigAndSmallSlots();
    vol.sys.crypt.keyslots[kNode][0].kind = KeyKind::Token;
    vol.sys.kernel.memory = 512 * kMiB;

    CHECK_THAT(vol.unlock("wrong horse"), FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(vol.unlock("bravo"), Succeeds());
}

TEST_CASE("changeKey takes a passphrase or a key file, nothing else", "[unit][keys]")
{
    KeyVolume vol;
    KeyRequest recovery;
    recovery.kind = KeyKind::Recovery;

    auto r = vol.ops.changeKey("vdb", secret(kPassphrase), secret("battery staple"), recovery);

    REQUIRE_THAT(r, FailsWith(ErrorCode::InvalidArgument));
    CHECK(vol.opensWith(kPassphrase));
    CHECK(vol.sys.log.empty());
}

// ---------------------------------------------------------------------------
// The dm-crypt options a header keeps

TEST_CASE(
    "format stores the read workqueue bypass in the header, keeps the write one, no "
    "discards",
    "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), EngineConfig{});

    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), {"ext4", "", ""}), Succeeds());

    const HeaderFlags stored = sys.crypt.formats.back().params.flags;
    CHECK(stored.noReadWorkqueue);
    CHECK_FALSE(stored.noWriteWorkqueue);
    CHECK_FALSE(stored.discard);
    CHECK(sys.crypt.formats.back().params.sectorSize == 4096);
}

TEST_CASE("format asked to keep the workqueues and to discard stores only discard", "[unit][keys]")
{
    FakeSystem sys;
    sys.attach("vdb", kGiB);
    Operations ops(sys.ports(), EngineConfig{});
    FormatRequest request{"ext4", "", ""};
    request.workqueues = true;
    request.discard = true;

    REQUIRE_THAT(ops.format("vdb", secret(kPassphrase), request), Succeeds());

    CHECK(sys.crypt.formats.back().params.flags == HeaderFlags{false, false, true});
}

TEST_CASE("tune with no change reads the flags and writes nothing", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFlags[kNode] = {true, true, false};

    auto r = vol.ops.tune("vdb", {});

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().flags == HeaderFlags{true, true, false});
    CHECK_FALSE(r.value().changed);
    CHECK_FALSE(logHas(vol.sys.log, "store flags"));
    CHECK_FALSE(logHas(vol.sys.log, "back up"));
}

TEST_CASE("tune turns the workqueues back on, keeps discard, refreshes the backup", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFlags[kNode] = {true, true, true};
    TuneRequest request;
    request.readWorkqueue = true;
    request.writeWorkqueue = true;

    auto r = vol.ops.tune("vdb", request);

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().changed);
    CHECK(r.value().flags == HeaderFlags{false, false, true});
    CHECK(vol.sys.crypt.headerFlags[kNode] == HeaderFlags{false, false, true});
    const int stored = logIndex(vol.sys.log, "store flags discard in /dev/vdb");
    const int backedUp = logIndex(vol.sys.log, "back up the header of /dev/vdb as " + kUuid);
    CHECK(stored >= 0);
    CHECK(backedUp > stored);
}

TEST_CASE("tune to what the header keeps already writes nothing", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFlags[kNode] = {true, true, false};
    TuneRequest request;
    request.readWorkqueue = false;
    request.writeWorkqueue = false;
    request.discard = false;

    auto r = vol.ops.tune("vdb", request);

    REQUIRE_THAT(r, Succeeds());
    CHECK_FALSE(r.value().changed);
    CHECK_FALSE(logHas(vol.sys.log, "store flags"));
}

TEST_CASE("tune refuses LUKS1, a damaged header and a device without LUKS", "[unit][keys]")
{
    TuneRequest request;
    request.discard = true;
    SECTION("LUKS1")
    {
        KeyVolume vol;
        vol.makeLuks1();
        REQUIRE_THAT(vol.ops.tune("vdb", request), FailsWith(ErrorCode::NotSupportedOnLuks1));
        CHECK_FALSE(logHas(vol.sys.log, "store flags"));
    }
    SECTION("a damaged primary header")
    {
        KeyVolume vol;
        vol.sys.kernel.headerCopies[kNode] = {0, true, "", kUuid};
        auto r = vol.ops.tune("vdb", request);
        REQUIRE_THAT(r, FailsWith(ErrorCode::WrongState));
        CHECK_THAT(r.error().message, Catch::Contains("repair"));
        CHECK_FALSE(logHas(vol.sys.log, "store flags"));
    }
    SECTION("no LUKS")
    {
        FakeSystem sys;
        sys.attach("vdb", kGiB);
        Operations ops(sys.ports(), EngineConfig{});
        REQUIRE_THAT(ops.tune("vdb", request), FailsWith(ErrorCode::NotLuks));
    }
}

TEST_CASE("tune switches the read and write workqueues one at a time", "[unit][keys]")
{
    KeyVolume vol;
    vol.sys.crypt.headerFlags[kNode] = {true, false, false};
    TuneRequest request;
    request.writeWorkqueue = false;

    auto r = vol.ops.tune("vdb", request);

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().flags == HeaderFlags{true, true, false});

    TuneRequest back;
    back.readWorkqueue = true;
    REQUIRE_THAT(vol.ops.tune("vdb", back), Succeeds());
    CHECK(vol.sys.crypt.headerFlags[kNode] == HeaderFlags{false, true, false});
}
