// Keyslots, header restore and repair, passphrase strength and recovery keys
// on image files, through the real libcryptsetup, libpwquality and /proc.
// Every KDF is the cheapest libcryptsetup takes, so the file runs in seconds.
#include <libcryptsetup.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/filesystem.hpp"
#include "engine/keys.hpp"
#include "result_matchers.hpp"
#include "secret.hpp"
#include "system/crypt.hpp"
#include "system/kernel_view.hpp"
#include "system/passphrase_quality.hpp"
#include "system/spawn.hpp"
#include "temp_dir.hpp"

using namespace vaultd;
using engine::ErrorCode;
using engine::KeyKind;
using testing::FailsWith;
using testing::secret;
using testing::Succeeds;
using testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kImageSize = 64ull << 20;
const std::string kPassphrase = "correct horse battery staple";

engine::PbkdfSettings quickPbkdf()
{
    engine::PbkdfSettings p;
    p.type = "pbkdf2";
    p.iterations = 1000;
    return p;
}

// Argon2id as small as still says something about memory and threads.
engine::PbkdfSettings smallArgon()
{
    engine::PbkdfSettings p;
    p.type = "argon2id";
    p.iterations = 4;
    p.memoryKib = 32768;
    p.parallel = 1;
    return p;
}

// A LUKS2 image with kPassphrase in keyslot 0; returns its UUID.
std::string makeLuks2(system::LibCrypt& crypt, const std::string& image,
                      const engine::PbkdfSettings& pbkdf = quickPbkdf(),
                      const std::string& label = "")
{
    engine::LuksParams params;
    params.label = label;
    params.pbkdf = pbkdf;
    REQUIRE_THAT(crypt.format(image, params, secret(kPassphrase), ""), Succeeds());
    // As libcryptsetup itself reads it, to hold header() against.
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, decltype(&crypt_free)> owner(cd, &crypt_free);
    REQUIRE(crypt_load(cd, CRYPT_LUKS2, nullptr) == 0);
    return crypt_get_uuid(cd);
}

// LUKS1, which vaultd never writes but must handle; made with
// libcryptsetup directly.
void makeLuks1(const std::string& image)
{
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, decltype(&crypt_free)> owner(cd, &crypt_free);
    crypt_pbkdf_type pbkdf{};
    pbkdf.type = CRYPT_KDF_PBKDF2;
    pbkdf.hash = "sha256";
    pbkdf.iterations = 1000;
    pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
    REQUIRE(crypt_set_pbkdf_type(cd, &pbkdf) == 0);
    crypt_params_luks1 luks1{};
    luks1.hash = "sha256";
    REQUIRE(crypt_format(cd, CRYPT_LUKS1, "aes", "xts-plain64", nullptr, nullptr, 64, &luks1) == 0);
    REQUIRE(crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, nullptr, 0, kPassphrase.data(),
                                            kPassphrase.size()) == 0);
}

std::vector<int> slotsOf(const engine::HeaderInfo& info)
{
    std::vector<int> slots;
    for (const auto& k : info.keyslots)
        slots.push_back(k.slot);
    return slots;
}

std::vector<int> slotsOf(system::LibCrypt& crypt, const std::string& image)
{
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    return slotsOf(header.value());
}

engine::Keyslot slotIn(system::LibCrypt& crypt, const std::string& image, int slot)
{
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    for (const auto& k : header.value().keyslots)
        if (k.slot == slot)
            return k;
    FAIL("keyslot " << slot << " is not in the header");
    return {};
}

// vaultd's notes as libcryptsetup itself reads the tokens, not through the
// code that wrote them.
struct Note {
    std::vector<int> slots;
    std::string kind;
};

std::vector<Note> vaultdNotes(const std::string& image)
{
    crypt_device* cd = nullptr;
    REQUIRE(crypt_init(&cd, image.c_str()) == 0);
    std::unique_ptr<crypt_device, decltype(&crypt_free)> owner(cd, &crypt_free);
    REQUIRE(crypt_load(cd, CRYPT_LUKS2, nullptr) == 0);
    std::vector<Note> notes;
    for (int token = 0; token < 32; ++token) {
        const char* text = nullptr;
        if (crypt_token_json_get(cd, token, &text) < 0)
            continue;
        const auto json = nlohmann::json::parse(text);
        if (json.value("type", "") != "vaultd-keyslot")
            continue;
        Note note;
        for (const auto& s : json.at("keyslots"))
            note.slots.push_back(std::stoi(s.get<std::string>()));
        note.kind = json.value("kind", "");
        notes.push_back(note);
    }
    return notes;
}

// The kind each note gives each slot; a slot named twice, or a note naming
// none, is a stale note and shows up as its own entry.
std::multiset<std::string> notesOf(const std::string& image)
{
    std::multiset<std::string> out;
    for (const Note& n : vaultdNotes(image)) {
        if (n.slots.empty())
            out.insert("none:" + n.kind);
        for (int s : n.slots)
            out.insert(std::to_string(s) + ":" + n.kind);
    }
    return out;
}

std::string readAt(const std::string& image, std::uint64_t offset, std::size_t bytes)
{
    std::ifstream in(image, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string data(bytes, '\0');
    REQUIRE(in.read(data.data(), static_cast<std::streamsize>(bytes)));
    return data;
}

void writeAt(const std::string& image, std::uint64_t offset, const std::string& data)
{
    std::fstream out(image, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(offset));
    REQUIRE(out.write(data.data(), static_cast<std::streamsize>(data.size())));
}

void zeroAt(const std::string& image, std::uint64_t offset, std::size_t bytes)
{
    writeAt(image, offset, std::string(bytes, '\0'));
}

// Everything LUKS2 keeps before the data: both headers and the keyslots.
std::string headerArea(const std::string& image)
{
    return readAt(image, 0, engine::kLuks2DataOffset);
}

int opens(system::LibCrypt& crypt, const std::string& image, const std::string& secretText,
          int slot = engine::kAnyKeyslot)
{
    auto opened = crypt.activate(image, "", secret(secretText), slot);
    REQUIRE_THAT(opened, Succeeds());
    return opened.value();
}

void opensNothing(system::LibCrypt& crypt, const std::string& image, const std::string& secretText)
{
    CHECK_THAT(crypt.activate(image, "", secret(secretText), engine::kAnyKeyslot),
               FailsWith(ErrorCode::WrongPassphrase));
}

std::string text(const engine::SecretBuffer& buffer)
{
    return std::string(buffer.data(), buffer.size());
}

}  // namespace

// header()

TEST_CASE("header() lists a fresh LUKS2 image's keyslot, UUID, label and layout", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image, smallArgon(), "vault-keys");

    auto header = crypt.header(image);

    REQUIRE_THAT(header, Succeeds());
    const engine::HeaderInfo& h = header.value();
    CHECK(h.version == 2);
    CHECK(h.uuid == uuid);
    CHECK(h.uuid.size() == 36);
    CHECK(h.label == "vault-keys");
    CHECK(h.dataOffset == engine::kLuks2DataOffset);
    CHECK(h.maxKeyslots == 32);
    REQUIRE(h.keyslots.size() == 1);
    const engine::Keyslot& k = h.keyslots.front();
    CHECK(k.slot == 0);
    CHECK(k.kind == KeyKind::Passphrase);
    CHECK(k.pbkdf == "argon2id");
    CHECK(k.iterations == 4);
    CHECK(k.memoryKib == 32768);
    CHECK(k.parallel == 1);
    CHECK_FALSE(k.ignored);
    // A passphrase is what nothing says anything about: no note for it.
    CHECK(vaultdNotes(image).empty());
}

TEST_CASE("header() reads a header backup like the device it came from", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image, quickPbkdf(), "backed-up");
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret("a key file's bytes"),
                                  quickPbkdf(), KeyKind::KeyFile),
                 Succeeds());
    const std::string backup = dir / "vol.header";

    REQUIRE_THAT(crypt.backupHeader(image, backup), Succeeds());

    auto fromFile = crypt.header(backup);
    REQUIRE_THAT(fromFile, Succeeds());
    CHECK(fromFile.value().uuid == uuid);
    CHECK(fromFile.value().label == "backed-up");
    CHECK(slotsOf(fromFile.value()) == std::vector<int>{0, 1});
    CHECK(fromFile.value().keyslots.at(1).kind == KeyKind::KeyFile);
    // The backup is a new file; one already there is left alone, and that
    // is no reason to call the device anything but LUKS.
    const auto size = fs::file_size(backup);
    auto again = crypt.backupHeader(image, backup);
    REQUIRE_THAT(again, FailsWith(ErrorCode::Failed));
    CHECK_THAT(again.error().message, Catch::Contains(backup));
    CHECK(fs::file_size(backup) == size);
    CHECK_THAT(crypt.backupHeader(image, dir / "no/such/dir/vol.header"),
               FailsWith(ErrorCode::Failed));
    CHECK_THAT(crypt.backupHeader(dir.image("blank.img", kImageSize), dir / "blank.header"),
               FailsWith(ErrorCode::NotLuks));
    CHECK_FALSE(fs::exists(dir / "blank.header"));
}

TEST_CASE("header() finds no LUKS header on a blank image or an ext4 one", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string blank = dir.image("blank.img", kImageSize);
    const std::string ext4 = dir.image("ext4.img", kImageSize);
    auto made = system::runTool("mkfs.ext4", {"-q", "-F", ext4});
    REQUIRE_THAT(made, Succeeds());
    REQUIRE(made.value().exitStatus == 0);

    for (const std::string& image : {blank, ext4}) {
        INFO(image);
        auto header = crypt.header(image);
        REQUIRE_THAT(header, FailsWith(ErrorCode::NotLuks));
        CHECK_THAT(header.error().message, Catch::Contains(image));
    }
    CHECK_THAT(crypt.header(dir / "missing.img"), FailsWith(ErrorCode::NoSuchDevice));
}

// addKeyslot()

TEST_CASE("a keyslot added with the right passphrase opens, with the KDF asked for", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);

    auto added =
        crypt.addKeyslot(image, secret(kPassphrase), engine::kAnyKeyslot,
                         secret("second passphrase here"), smallArgon(), KeyKind::Passphrase);

    REQUIRE_THAT(added, Succeeds());
    CHECK(added.value() == 1);
    CHECK(opens(crypt, image, "second passphrase here", 1) == 1);
    CHECK(opens(crypt, image, "second passphrase here") == 1);
    CHECK(opens(crypt, image, kPassphrase) == 0);
    const engine::Keyslot k = slotIn(crypt, image, 1);
    CHECK(k.kind == KeyKind::Passphrase);
    CHECK(k.pbkdf == "argon2id");
    CHECK(k.memoryKib == 32768);
    CHECK(k.iterations == 4);
    CHECK(k.parallel == 1);
    // Slot 0 keeps what it was formatted with.
    CHECK(slotIn(crypt, image, 0).pbkdf == "pbkdf2");
    CHECK(vaultdNotes(image).empty());
}

TEST_CASE("a key file's and a recovery key's keyslots are recorded as such in tokens",
          "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);

    auto keyFile = crypt.addKeyslot(image, secret(kPassphrase), 0,
                                    secret("key\nfile\x01"
                                           "bytes"),
                                    quickPbkdf(), KeyKind::KeyFile);
    REQUIRE_THAT(keyFile, Succeeds());
    const std::string recoveryKey = text(engine::makeRecoveryKey());
    auto recovery = crypt.addKeyslot(image, secret(kPassphrase), 0, secret(recoveryKey),
                                     quickPbkdf(), KeyKind::Recovery);
    REQUIRE_THAT(recovery, Succeeds());

    CHECK(keyFile.value() == 1);
    CHECK(recovery.value() == 2);
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    REQUIRE(slotsOf(header.value()) == std::vector<int>{0, 1, 2});
    CHECK(header.value().keyslots[0].kind == KeyKind::Passphrase);
    CHECK(header.value().keyslots[1].kind == KeyKind::KeyFile);
    CHECK(header.value().keyslots[2].kind == KeyKind::Recovery);
    CHECK(notesOf(image) == std::multiset<std::string>{"1:keyfile", "2:recovery"});
    CHECK(opens(crypt, image,
                "key\nfile\x01"
                "bytes",
                1) == 1);
    CHECK(opens(crypt, image, recoveryKey, 2) == 2);
}

TEST_CASE("a wrong passphrase adds no keyslot and leaves the header as it was", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret("the second one"),
                                  quickPbkdf(), KeyKind::Passphrase),
                 Succeeds());
    const std::string before = headerArea(image);

    auto wrong = crypt.addKeyslot(image, secret("wrong horse battery staple"), engine::kAnyKeyslot,
                                  secret("never added"), quickPbkdf(), KeyKind::Recovery);
    REQUIRE_THAT(wrong, FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(wrong.error().message, Catch::Contains(image));

    // The right passphrase, tried on a slot it is not in.
    auto elsewhere = crypt.addKeyslot(image, secret(kPassphrase), 1, secret("never added"),
                                      quickPbkdf(), KeyKind::KeyFile);
    REQUIRE_THAT(elsewhere, FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(elsewhere.error().message, Catch::Contains("keyslot 1"));

    CHECK(headerArea(image) == before);
    CHECK(slotsOf(crypt, image) == std::vector<int>{0, 1});
    opensNothing(crypt, image, "never added");
}

TEST_CASE("a header with all 32 keyslots in use has no room for another", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    for (int n = 1; n < 32; ++n) {
        INFO("keyslot " << n);
        auto added = crypt.addKeyslot(image, secret(kPassphrase), 0,
                                      secret("key number " + std::to_string(n)), quickPbkdf(),
                                      n % 2 ? KeyKind::KeyFile : KeyKind::Passphrase);
        REQUIRE_THAT(added, Succeeds());
        CHECK(added.value() == n);
    }
    REQUIRE(slotsOf(crypt, image).size() == 32);
    const std::string before = headerArea(image);

    auto full = crypt.addKeyslot(image, secret(kPassphrase), 0, secret("one too many"),
                                 quickPbkdf(), KeyKind::Passphrase);

    REQUIRE_THAT(full, FailsWith(ErrorCode::NoFreeKeyslot));
    CHECK_THAT(full.error().message, Catch::Contains("32 of 32"));
    CHECK_THAT(full.error().message, Catch::Contains(image));
    CHECK(headerArea(image) == before);
    CHECK(opens(crypt, image, "key number 31") == 31);
    CHECK(slotIn(crypt, image, 31).kind == KeyKind::KeyFile);
    CHECK(slotIn(crypt, image, 30).kind == KeyKind::Passphrase);
}

// changeKey()

TEST_CASE("a changed key is in a new keyslot and the old secret opens nothing", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);

    auto changed = crypt.changeKey(image, secret(kPassphrase), engine::kAnyKeyslot,
                                   secret("a brand new passphrase"), smallArgon());

    REQUIRE_THAT(changed, Succeeds());
    const int slot = changed.value();
    CHECK(slotsOf(crypt, image) == std::vector<int>{slot});
    opensNothing(crypt, image, kPassphrase);
    CHECK(opens(crypt, image, "a brand new passphrase", slot) == slot);
    const engine::Keyslot k = slotIn(crypt, image, slot);
    CHECK(k.kind == KeyKind::Passphrase);
    CHECK(k.pbkdf == "argon2id");
    CHECK(k.memoryKib == 32768);
    CHECK(vaultdNotes(image).empty());
}

TEST_CASE("a key is not changed by a secret that does not open it", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret("the second one"),
                                  quickPbkdf(), KeyKind::Passphrase),
                 Succeeds());
    const std::string before = headerArea(image);

    CHECK_THAT(crypt.changeKey(image, secret("wrong horse battery staple"), engine::kAnyKeyslot,
                               secret("replacement"), quickPbkdf()),
               FailsWith(ErrorCode::WrongPassphrase));
    CHECK_THAT(crypt.changeKey(image, secret(kPassphrase), 1, secret("replacement"), quickPbkdf()),
               FailsWith(ErrorCode::WrongPassphrase));

    CHECK(headerArea(image) == before);
    opensNothing(crypt, image, "replacement");
}

TEST_CASE("a recovery keyslot is still one after its key changes, noted once", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    const std::string oldKey = text(engine::makeRecoveryKey());
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret(oldKey), quickPbkdf(),
                                  KeyKind::Recovery),
                 Succeeds());
    REQUIRE(notesOf(image) == std::multiset<std::string>{"1:recovery"});
    const std::string newKey = text(engine::makeRecoveryKey());

    auto changed =
        crypt.changeKey(image, secret(oldKey), engine::kAnyKeyslot, secret(newKey), quickPbkdf());

    REQUIRE_THAT(changed, Succeeds());
    const int slot = changed.value();
    CHECK(slot == 2);  // the lowest free one; slot 1 goes only once it is written
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    REQUIRE(slotsOf(header.value()) == std::vector<int>{0, slot});
    CHECK(header.value().keyslots[0].kind == KeyKind::Passphrase);
    CHECK(header.value().keyslots[1].kind == KeyKind::Recovery);
    // No note left on slot 1, and none that libcryptsetup stripped of its slot.
    CHECK(notesOf(image) == std::multiset<std::string>{std::to_string(slot) + ":recovery"});
    opensNothing(crypt, image, oldKey);
    CHECK(opens(crypt, image, newKey) == slot);

    // And back to slot 1, now free again.
    auto again = crypt.changeKey(image, secret(newKey), slot, secret(oldKey), quickPbkdf());
    REQUIRE_THAT(again, Succeeds());
    CHECK(again.value() == 1);
    CHECK(notesOf(image) == std::multiset<std::string>{"1:recovery"});
    CHECK(slotIn(crypt, image, 1).kind == KeyKind::Recovery);
}

TEST_CASE("a key changes in place when the header is full", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    for (int n = 1; n < 32; ++n)
        REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0,
                                      secret("key number " + std::to_string(n)), quickPbkdf(),
                                      n == 7 ? KeyKind::Recovery : KeyKind::Passphrase),
                     Succeeds());
    REQUIRE(slotsOf(crypt, image).size() == 32);

    auto changed = crypt.changeKey(image, secret("key number 7"), engine::kAnyKeyslot,
                                   secret("key number seven"), quickPbkdf());

    REQUIRE_THAT(changed, Succeeds());
    CHECK(changed.value() == 7);
    CHECK(slotsOf(crypt, image).size() == 32);
    opensNothing(crypt, image, "key number 7");
    CHECK(opens(crypt, image, "key number seven", 7) == 7);
    CHECK(opens(crypt, image, "key number seven") == 7);
    CHECK(slotIn(crypt, image, 7).kind == KeyKind::Recovery);
    CHECK(notesOf(image) == std::multiset<std::string>{"7:recovery"});
    // The others are untouched.
    CHECK(opens(crypt, image, "key number 8") == 8);
    CHECK(opens(crypt, image, kPassphrase) == 0);
}

// removeKeyslot()

TEST_CASE("a removed keyslot is gone, with vaultd's note on it", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret("key file one"),
                                  quickPbkdf(), KeyKind::KeyFile),
                 Succeeds());
    REQUIRE_THAT(crypt.addKeyslot(image, secret(kPassphrase), 0, secret("key file two"),
                                  quickPbkdf(), KeyKind::KeyFile),
                 Succeeds());
    REQUIRE(notesOf(image) == std::multiset<std::string>{"1:keyfile", "2:keyfile"});

    REQUIRE_THAT(crypt.removeKeyslot(image, 1), Succeeds());

    CHECK(slotsOf(crypt, image) == std::vector<int>{0, 2});
    opensNothing(crypt, image, "key file one");
    CHECK(opens(crypt, image, "key file two") == 2);
    CHECK(notesOf(image) == std::multiset<std::string>{"2:keyfile"});

    // A passphrase slot has no note; removing it leaves the others' alone.
    REQUIRE_THAT(crypt.removeKeyslot(image, 0), Succeeds());
    CHECK(slotsOf(crypt, image) == std::vector<int>{2});
    opensNothing(crypt, image, kPassphrase);
    CHECK(notesOf(image) == std::multiset<std::string>{"2:keyfile"});
}

// LUKS1

TEST_CASE("a LUKS1 header is listed, takes passphrases, and no kinds", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("luks1.img", kImageSize);
    makeLuks1(image);

    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    CHECK(header.value().version == 1);
    CHECK(header.value().maxKeyslots == 8);
    CHECK(header.value().label.empty());
    CHECK(header.value().uuid.size() == 36);
    REQUIRE(slotsOf(header.value()) == std::vector<int>{0});
    CHECK(header.value().keyslots[0].pbkdf == "pbkdf2");
    CHECK(header.value().keyslots[0].iterations == 1000);
    CHECK(header.value().keyslots[0].kind == KeyKind::Passphrase);
    const engine::HeaderCopies copies = system::SystemKernelView().luksHeaders(image);
    CHECK(copies.primary == 1);
    CHECK_FALSE(copies.secondary);
    CHECK(copies.uuid == header.value().uuid);

    auto added = crypt.addKeyslot(image, secret(kPassphrase), engine::kAnyKeyslot,
                                  secret("a LUKS1 passphrase"), engine::forLuks1(quickPbkdf()),
                                  KeyKind::Passphrase);
    REQUIRE_THAT(added, Succeeds());
    CHECK(added.value() == 1);
    CHECK(opens(crypt, image, "a LUKS1 passphrase", 1) == 1);
    CHECK(slotIn(crypt, image, 1).pbkdf == "pbkdf2");

    const std::string before = readAt(image, 0, 2 << 20);
    for (KeyKind kind : {KeyKind::Recovery, KeyKind::KeyFile}) {
        INFO(std::string(engine::keyKindName(kind)));
        auto refused = crypt.addKeyslot(image, secret(kPassphrase), engine::kAnyKeyslot,
                                        secret("never added"), quickPbkdf(), kind);
        REQUIRE_THAT(refused, FailsWith(ErrorCode::NotSupportedOnLuks1));
        CHECK_THAT(refused.error().message, Catch::Contains(image));
    }
    CHECK(readAt(image, 0, 2 << 20) == before);
    CHECK(slotsOf(crypt, image) == std::vector<int>{0, 1});
}

// restoreHeader()

TEST_CASE("a backup brings back a header whose primary was zeroed", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    system::SystemKernelView kernel;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image);
    const std::string backup = dir / "vol.header";
    REQUIRE_THAT(crypt.backupHeader(image, backup), Succeeds());

    zeroAt(image, 0, 4096);
    engine::HeaderCopies copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 0);
    CHECK(copies.secondary);
    CHECK(copies.uuid == uuid);
    CHECK(copies.foreign.empty());

    REQUIRE_THAT(crypt.restoreHeader(image, backup), Succeeds());

    copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 2);
    CHECK(copies.secondary);
    CHECK(copies.uuid == uuid);
    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    CHECK(header.value().uuid == uuid);
    CHECK(opens(crypt, image, kPassphrase) == 0);
}

TEST_CASE("a backup brings back a header whose both binary headers were zeroed", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    system::SystemKernelView kernel;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image);
    const std::string backup = dir / "vol.header";
    REQUIRE_THAT(crypt.backupHeader(image, backup), Succeeds());
    // The secondary follows the primary's header area, whose size (big
    // endian at offset 8) the primary gives.
    const std::string start = readAt(image, 0, 16);
    std::uint64_t secondaryAt = 0;
    for (int i = 8; i < 16; ++i)
        secondaryAt = secondaryAt << 8 | static_cast<unsigned char>(start[i]);
    REQUIRE(secondaryAt == 16384);
    REQUIRE(readAt(image, secondaryAt, 6) == "SKUL\xba\xbe");

    zeroAt(image, 0, 4096);
    zeroAt(image, secondaryAt, 4096);

    engine::HeaderCopies copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 0);
    CHECK_FALSE(copies.secondary);
    CHECK(copies.uuid.empty());
    CHECK_THAT(crypt.header(image), FailsWith(ErrorCode::NotLuks));
    CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot),
               FailsWith(ErrorCode::NotLuks));

    REQUIRE_THAT(crypt.restoreHeader(image, backup), Succeeds());

    copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 2);
    CHECK(copies.secondary);
    CHECK(copies.uuid == uuid);
    CHECK(crypt.header(image).value().uuid == uuid);
    CHECK(opens(crypt, image, kPassphrase) == 0);
}

TEST_CASE("a backup brings back a header an ext4 superblock was written over", "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    system::SystemKernelView kernel;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image);
    const std::string backup = dir / "vol.header";
    REQUIRE_THAT(crypt.backupHeader(image, backup), Succeeds());

    SECTION("ext4's magic alone, inside the primary binary header")
    {
        writeAt(image, 1024 + 56, "\x53\xef");

        // The magics are all luksHeaders looks at, and libblkid's LUKS
        // prober wins over a bare ext2 superblock...
        const engine::HeaderCopies copies = kernel.luksHeaders(image);
        CHECK(copies.primary == 2);
        CHECK(copies.secondary);
        CHECK(copies.uuid == uuid);
        CHECK(kernel.probe(image).value().type == "crypto_LUKS");
        // ...but the primary's checksum is broken, and libcryptsetup will not
        // fall back on the secondary while another signature is there.
        CHECK_THAT(crypt.header(image), FailsWith(ErrorCode::NotLuks));
        CHECK_THAT(crypt.activate(image, "", secret(kPassphrase), engine::kAnyKeyslot),
                   FailsWith(ErrorCode::NotLuks));
    }

    SECTION("a fresh ext4 image's first 4 KiB over the primary")
    {
        const std::string ext4 = dir.image("ext4.img", kImageSize);
        auto made = system::runTool("mkfs.ext4", {"-q", "-F", ext4});
        REQUIRE_THAT(made, Succeeds());
        REQUIRE(made.value().exitStatus == 0);
        writeAt(image, 0, readAt(ext4, 0, 4096));

        const engine::HeaderCopies copies = kernel.luksHeaders(image);
        CHECK(copies.primary == 0);
        CHECK(copies.secondary);
        CHECK(copies.foreign == "ext4");
        CHECK(copies.uuid == uuid);
        CHECK_THAT(crypt.header(image), FailsWith(ErrorCode::NotLuks));
    }

    SECTION("mkfs.ext4 over the whole device")
    {
        auto made = system::runTool("mkfs.ext4", {"-q", "-F", image});
        REQUIRE_THAT(made, Succeeds());
        REQUIRE(made.value().exitStatus == 0);

        // mke2fs discards the device first: the secondary goes too.
        const engine::HeaderCopies copies = kernel.luksHeaders(image);
        CHECK(copies.primary == 0);
        CHECK_FALSE(copies.secondary);
        CHECK(copies.uuid.empty());
        CHECK(kernel.probe(image).value().type == "ext4");
        CHECK_THAT(crypt.header(image), FailsWith(ErrorCode::NotLuks));
    }

    REQUIRE_THAT(crypt.restoreHeader(image, backup), Succeeds());

    CHECK(opens(crypt, image, kPassphrase) == 0);
    CHECK(crypt.header(image).value().uuid == uuid);
    const auto probed = kernel.probe(image);
    REQUIRE_THAT(probed, Succeeds());
    CHECK(probed.value().type == "crypto_LUKS");
    CHECK(probed.value().uuid == uuid);
    const engine::HeaderCopies copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 2);
    CHECK(copies.secondary);
    CHECK(copies.uuid == uuid);
    CHECK(copies.foreign.empty());
}

// repairHeader()

TEST_CASE("a damaged primary is loaded from the secondary, and repaired only when asked",
          "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    system::SystemKernelView kernel;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image);
    zeroAt(image, 0, 4096);
    const std::string zeros(4096, '\0');

    auto header = crypt.header(image);
    REQUIRE_THAT(header, Succeeds());
    CHECK(header.value().uuid == uuid);
    CHECK(opens(crypt, image, kPassphrase) == 0);
    CHECK(readAt(image, 0, 4096) == zeros);
    CHECK(kernel.luksHeaders(image).primary == 0);

    REQUIRE_THAT(crypt.repairHeader(image), Succeeds());

    CHECK(readAt(image, 0, 6) == "LUKS\xba\xbe");
    const engine::HeaderCopies copies = kernel.luksHeaders(image);
    CHECK(copies.primary == 2);
    CHECK(copies.secondary);
    CHECK(copies.uuid == uuid);
    CHECK(opens(crypt, image, kPassphrase) == 0);
    CHECK(crypt.header(image).value().uuid == uuid);
}

TEST_CASE("a repair brings back a header libcryptsetup would not load for a stray magic",
          "[host][keys]")
{
    TempDir dir;
    system::LibCrypt crypt;
    system::SystemKernelView kernel;
    const std::string image = dir.image("vol.img", kImageSize);
    const std::string uuid = makeLuks2(crypt, image);
    writeAt(image, 1024 + 56, "\x53\xef");
    REQUIRE_THAT(crypt.header(image), FailsWith(ErrorCode::NotLuks));

    // A repair loads the header without the signature check, and rewrites
    // the primary (the magic goes with it) from the secondary.
    REQUIRE_THAT(crypt.repairHeader(image), Succeeds());

    CHECK(readAt(image, 1024 + 56, 2) == std::string(2, '\0'));
    CHECK(crypt.header(image).value().uuid == uuid);
    CHECK(opens(crypt, image, kPassphrase) == 0);
    CHECK(kernel.luksHeaders(image).primary == 2);
}

// PwQuality

TEST_CASE("libpwquality passes a long passphrase and refuses common ones", "[host][keys]")
{
    system::PwQuality quality;

    CHECK_THAT(quality.check(secret("correct horse battery staple")), Succeeds());
    for (const std::string weak : {"password1", "abcdefgh12"}) {
        INFO(weak);
        auto refused = quality.check(secret(weak));
        REQUIRE_THAT(refused, FailsWith(ErrorCode::WeakPassphrase));
        CHECK_THAT(refused.error().message, !Catch::Contains(weak));
        CHECK_THAT(refused.error().message, Catch::StartsWith("the passphrase is too weak: "));
    }
}

TEST_CASE("a passphrase with a NUL byte is refused", "[host][keys]")
{
    system::PwQuality quality;
    const std::string withNul("correct horse\0battery staple", 28);

    auto refused = quality.check(secret(withNul));

    REQUIRE_THAT(refused, FailsWith(ErrorCode::WeakPassphrase));
    CHECK_THAT(refused.error().message, Catch::Contains("NUL"));
    CHECK_THAT(refused.error().message, !Catch::Contains("battery"));
}

// memoryAvailable()

TEST_CASE("the memory available to a key derivation is some, and no more than the machine's",
          "[host][keys]")
{
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    std::uint64_t totalKib = 0;
    while (std::getline(meminfo, line)) {
        std::istringstream fields(line);
        std::string name;
        if (fields >> name >> totalKib && name == "MemTotal:")
            break;
        totalKib = 0;
    }
    REQUIRE(totalKib > 0);
    system::SystemKernelView kernel;

    const std::uint64_t available = kernel.memoryAvailable();

    CHECK(available > 0);
    CHECK(available <= totalKib * 1024);
}

// Recovery keys

TEST_CASE("a recovery key has 8 groups of 6, is new each time, and opens its keyslot",
          "[host][keys]")
{
    const std::string key = text(engine::makeRecoveryKey());
    CHECK(engine::isRecoveryKey(key));
    CHECK(key.size() == 55);
    CHECK(key.size() == engine::kRecoveryKeyLength);
    std::vector<std::string> groups;
    std::stringstream split(key);
    for (std::string g; std::getline(split, g, '-');)
        groups.push_back(g);
    CHECK(groups.size() == 8);
    for (const auto& g : groups)
        CHECK(g.size() == 6);
    CHECK(text(engine::makeRecoveryKey()) != key);
    CHECK_FALSE(engine::isRecoveryKey(key.substr(1)));

    TempDir dir;
    system::LibCrypt crypt;
    const std::string image = dir.image("vol.img", kImageSize);
    makeLuks2(crypt, image);
    const engine::PbkdfSettings pbkdf = engine::recoveryPbkdf(quickPbkdf());
    auto added = crypt.addKeyslot(image, secret(kPassphrase), engine::kAnyKeyslot, secret(key),
                                  pbkdf, KeyKind::Recovery);
    REQUIRE_THAT(added, Succeeds());
    CHECK(opens(crypt, image, key, added.value()) == added.value());
    const engine::Keyslot k = slotIn(crypt, image, added.value());
    CHECK(k.kind == KeyKind::Recovery);
    CHECK(k.pbkdf == "pbkdf2");
    CHECK(k.memoryKib == 0);
    // It authorizes like any passphrase.
    auto another =
        crypt.addKeyslot(image, secret(key), engine::kAnyKeyslot,
                         secret("added with the recovery key"), quickPbkdf(), KeyKind::Passphrase);
    REQUIRE_THAT(another, Succeeds());
    CHECK(opens(crypt, image, "added with the recovery key") == another.value());
}
