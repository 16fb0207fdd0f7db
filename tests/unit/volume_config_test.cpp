#include "volume_config.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>

#include "result_matchers.hpp"
#include "scratch_dir.hpp"

using vaultd::testing::ScratchDir;

using namespace vaultd;
using engine::ConfiguredVolume;
using engine::ErrorCode;
using engine::KeySource;
using testing::FailsWith;
using testing::Succeeds;

namespace {

// Users as a test declares them, so no test depends on the host's accounts.
class FakeUsers final : public UserLookup {
public:
    std::optional<std::pair<uid_t, gid_t>> find(const std::string& name) const override
    {
        auto it = users_.find(name);
        if (it == users_.end())
            return std::nullopt;
        return it->second;
    }

private:
    std::map<std::string, std::pair<uid_t, gid_t>> users_ = {{"ec2-user", {1000, 1001}}};
};

const FakeUsers kUsers;

engine::Result<ConfiguredVolume> parse(const std::string& text, std::string_view name = "data")
{
    return parseVolumeFile(text, "data.toml", name, kUsers);
}

// The message of a file that must be refused; empty if it was not.
std::string refusal(const std::string& text, std::string_view name = "data")
{
    auto parsed = parse(text, name);
    CHECK_THAT(parsed, FailsWith(ErrorCode::InvalidArgument));
    if (parsed.ok())
        return {};
    CHECK_THAT(parsed.error().message, Catch::StartsWith("data.toml"));
    return parsed.error().message;
}

const std::string kMatch = "[match]\nlabel = \"data\"\n";

}  // namespace

TEST_CASE("a volume file giving every setting is read in full", "[unit][configured]")
{
    auto parsed = parse(R"(# the payroll disk
[match]
ebs-volume-id = "vol-0123456789abcdef0"
luks-uuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11"
label = "payroll"

[unlock]
key = "keyfile"
key-file = "/etc/vaultd/keys/data.key"
name = "payroll-db"
on-attach = false
read-only = true
discard = true
no-read-workqueue = true
no-write-workqueue = true

[mount]
point = "/secure/payroll"
options = "noatime,lazytime"
owner = "ec2-user"
)");
    REQUIRE_THAT(parsed, Succeeds());
    const auto& c = parsed.value();
    CHECK(c.name == "data");
    CHECK(c.origin == "data.toml");
    CHECK(c.ebsVolumeId == "vol-0123456789abcdef0");
    CHECK(c.luksUuid == "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11");
    CHECK(c.label == "payroll");
    CHECK(c.keySource == KeySource::KeyFile);
    CHECK(c.keyFile == "/etc/vaultd/keys/data.key");
    CHECK(c.mappingName == "payroll-db");
    CHECK_FALSE(c.onAttach);
    CHECK(c.mapping.readOnly);
    CHECK(c.mapping.discard);
    CHECK(c.mapping.noReadWorkqueue);
    CHECK(c.mapping.noWriteWorkqueue);
    CHECK(c.mountPoint == "/secure/payroll");
    CHECK(c.mountOptions == "noatime,lazytime");
    CHECK(c.hasOwner);
    CHECK(c.ownerName == "ec2-user");
    CHECK(c.ownerUid == 1000);
    CHECK(c.ownerGid == 1001);
}

TEST_CASE("a volume file naming only its volume gets the defaults", "[unit][configured]")
{
    auto parsed = parse(kMatch);
    REQUIRE_THAT(parsed, Succeeds());
    const auto& c = parsed.value();
    CHECK(c.label == "data");
    CHECK(c.ebsVolumeId.empty());
    CHECK(c.luksUuid.empty());
    CHECK(c.keySource == KeySource::None);
    CHECK(c.keyFile.empty());
    CHECK(c.mappingName == "data");
    CHECK(c.onAttach);
    CHECK_FALSE(c.mapping.readOnly);
    CHECK_FALSE(c.mapping.discard);
    CHECK_FALSE(c.mapping.noReadWorkqueue);
    CHECK_FALSE(c.mapping.noWriteWorkqueue);
    CHECK(c.mountPoint.empty());
    CHECK(c.mountOptions.empty());
    CHECK_FALSE(c.hasOwner);
}

TEST_CASE("identities are kept in the spelling the device reports", "[unit][configured]")
{
    auto parsed = parse(R"([match]
ebs-volume-id = "VOL0123456789ABCDEF0"
luks-uuid = "0B7F7A0E-3F8E-4C36-9D2A-6F2B1C9E8D11"
)");
    REQUIRE_THAT(parsed, Succeeds());
    CHECK(parsed.value().ebsVolumeId == "vol-0123456789abcdef0");
    CHECK(parsed.value().luksUuid == "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11");
}

TEST_CASE("the token key source needs no key file", "[unit][configured]")
{
    auto parsed = parse(kMatch + "[unlock]\nkey = \"token\"\n");
    REQUIRE_THAT(parsed, Succeeds());
    CHECK(parsed.value().keySource == KeySource::Token);
}

TEST_CASE("a mount without options or owner is fine", "[unit][configured]")
{
    auto parsed = parse(kMatch + "[mount]\npoint = \"/secure\"\noptions = \"\"\n");
    REQUIRE_THAT(parsed, Succeeds());
    CHECK(parsed.value().mountPoint == "/secure");
    CHECK(parsed.value().mountOptions.empty());
    CHECK_FALSE(parsed.value().hasOwner);
}

TEST_CASE("every safe mount option is accepted", "[unit][configured]")
{
    auto parsed = parse(kMatch +
                        "[mount]\npoint = \"/secure\"\noptions = "
                        "\"noatime,relatime,nodiratime,lazytime,ro,sync\"\n");
    REQUIRE_THAT(parsed, Succeeds());
}

TEST_CASE("unknown tables and settings are refused with their line", "[unit][configured]")
{
    CHECK(refusal(kMatch + "[mounts]\npoint = \"/secure\"\n") ==
          "data.toml:3: unknown table 'mounts'");
    CHECK(refusal(kMatch + "[unlock]\nkey = \"none\"\nkeyfile = \"/k\"\n") ==
          "data.toml:5: unknown setting 'unlock.keyfile'");
    CHECK(refusal("[match]\nuuid = \"x\"\n") == "data.toml:2: unknown setting 'match.uuid'");
    CHECK(refusal("label = \"data\"\n" + kMatch) == "data.toml:1: unknown table 'label'");
    CHECK(refusal("match = \"data\"\n") == "data.toml:1: 'match' must be a table");
}

TEST_CASE("values of the wrong type are refused with their line", "[unit][configured]")
{
    CHECK(refusal(kMatch + "[unlock]\non-attach = \"yes\"\n") ==
          "data.toml:4: 'unlock.on-attach' must be true or false");
    CHECK(refusal(kMatch + "[unlock]\nread-only = 1\n") ==
          "data.toml:4: 'unlock.read-only' must be true or false");
    CHECK(refusal("[match]\nlabel = 7\n") == "data.toml:2: 'match.label' must be a string");
    CHECK(refusal(kMatch + "[unlock]\nkey = \"keyfile\"\nkey-file = [\"/k\"]\n") ==
          "data.toml:5: 'unlock.key-file' must be a string");
    CHECK(refusal(kMatch + "[mount]\npoint = \"/secure\"\nowner = 1000\n") ==
          "data.toml:5: 'mount.owner' must be a string");
}

TEST_CASE("a file that does not name its volume is refused", "[unit][configured]")
{
    CHECK_THAT(refusal("[match]\n"),
               Catch::StartsWith("data.toml:1: [match] must name the volume by "));
    CHECK_THAT(refusal("[unlock]\nkey = \"none\"\n"),
               Catch::StartsWith("data.toml: [match] must name the volume by "));
    CHECK_THAT(refusal(""), Catch::StartsWith("data.toml: [match] must name the volume by "));
}

TEST_CASE("identities that are not one are refused", "[unit][configured]")
{
    CHECK_THAT(refusal("[match]\nebs-volume-id = \"vol-123\"\n"),
               Catch::StartsWith("data.toml:2: match.ebs-volume-id 'vol-123' is not an EBS "));
    CHECK_THAT(refusal("[match]\nebs-volume-id = \"snap-0123456789abcdef0\"\n"),
               Catch::StartsWith("data.toml:2: match.ebs-volume-id "));
    CHECK_THAT(refusal("[match]\nluks-uuid = \"0b7f7a0e3f8e4c369d2a6f2b1c9e8d11\"\n"),
               Catch::StartsWith("data.toml:2: match.luks-uuid '0b7f7a0e3f8e4c369d2a6f2b1c9e8d11' "
                                 "is not a UUID"));
    CHECK_THAT(refusal("[match]\nluks-uuid = \"\"\n"),
               Catch::StartsWith("data.toml:2: match.luks-uuid '' is not a UUID"));
    CHECK_THAT(refusal("[match]\nlabel = \"\"\n"),
               Catch::StartsWith("data.toml:2: match.label '' must be 1 to 47 bytes"));
    CHECK_THAT(refusal("[match]\nlabel = \"" + std::string(48, 'x') + "\"\n"),
               Catch::StartsWith("data.toml:2: match.label "));
    CHECK_THAT(refusal("[match]\nlabel = \"da\\nta\"\n"),
               Catch::StartsWith("data.toml:2: match.label "));
}

TEST_CASE("an unknown key source is refused", "[unit][configured]")
{
    CHECK(refusal(kMatch + "[unlock]\nkey = \"passphrase\"\n") ==
          "data.toml:4: unlock.key 'passphrase' must be \"keyfile\", \"token\" or \"none\"");
}

TEST_CASE("a key file must be given with keyfile and only with it", "[unit][configured]")
{
    CHECK(refusal(kMatch + "[unlock]\nkey = \"keyfile\"\n") ==
          "data.toml:4: key = \"keyfile\" needs unlock.key-file");
    CHECK(refusal(kMatch + "[unlock]\nkey = \"token\"\nkey-file = \"/etc/vaultd/k\"\n") ==
          "data.toml:5: unlock.key-file is only for key = \"keyfile\"");
    CHECK(refusal(kMatch + "[unlock]\nkey-file = \"/etc/vaultd/k\"\n") ==
          "data.toml:4: unlock.key-file is only for key = \"keyfile\"");
}

TEST_CASE("a key file path must be absolute and normalised", "[unit][configured]")
{
    const auto withKeyFile = [](const std::string& path) {
        return refusal(kMatch + "[unlock]\nkey = \"keyfile\"\nkey-file = \"" + path + "\"\n");
    };
    CHECK(withKeyFile("keys/data.key") ==
          "data.toml:5: unlock.key-file 'keys/data.key' is refused: it must be an absolute path");
    CHECK(withKeyFile("") ==
          "data.toml:5: unlock.key-file '' is refused: it must be an absolute path");
    CHECK_THAT(withKeyFile("/etc/vaultd/../shadow"),
               Catch::EndsWith("it must be normalised (no '.', '..' or '//')"));
    CHECK_THAT(withKeyFile("/etc/vaultd/keys/.."),
               Catch::EndsWith("it must be normalised (no '.', '..' or '//')"));
    CHECK_THAT(withKeyFile("/etc/./vaultd/k"), Catch::Contains("normalised"));
    CHECK_THAT(withKeyFile("/etc//vaultd/k"), Catch::Contains("normalised"));
    CHECK_THAT(withKeyFile("/etc/vaultd/keys/"), Catch::EndsWith("it ends with a slash"));
    CHECK_THAT(withKeyFile("/etc/vaultd/k\\u0000x"),
               Catch::EndsWith("it holds a control character"));
}

TEST_CASE("a bad mapping name is refused", "[unit][configured]")
{
    CHECK_THAT(refusal(kMatch + "[unlock]\nname = \"a/b\"\n"),
               Catch::StartsWith("data.toml:4: unlock.name: a mapping name may hold only "));
    CHECK_THAT(refusal(kMatch + "[unlock]\nname = \"control\"\n"),
               Catch::StartsWith("data.toml:4: unlock.name: "));
    CHECK_THAT(refusal(kMatch + "[unlock]\nname = \"\"\n"),
               Catch::StartsWith("data.toml:4: unlock.name: "));
}

TEST_CASE("a file whose name is no mapping name is refused, even naming another",
          "[unit][configured]")
{
    CHECK_THAT(refusal(kMatch, "my data"),
               Catch::StartsWith("data.toml: the file's name 'my data' must be a mapping name: "));
    CHECK_THAT(refusal(kMatch + "[unlock]\nname = \"data\"\n", "my data"),
               Catch::StartsWith("data.toml: the file's name 'my data' "));
    CHECK_THAT(refusal(kMatch, ""), Catch::StartsWith("data.toml: the file's name '' "));
}

TEST_CASE("a bad mount point is refused", "[unit][configured]")
{
    const auto at = [](const std::string& point) {
        return refusal(kMatch + "[mount]\npoint = \"" + point + "\"\n");
    };
    CHECK_THAT(at("secure"), Catch::StartsWith("data.toml:4: mount.point: invalid mount point "));
    CHECK_THAT(at("/etc/secure"), Catch::Contains("system directory '/etc'"));
    CHECK_THAT(at("/"), Catch::StartsWith("data.toml:4: mount.point: invalid mount point '/': "));
    CHECK_THAT(at("/secure/../etc"), Catch::Contains("normalised"));
}

TEST_CASE("a mount section without its point is refused", "[unit][configured]")
{
    CHECK(refusal(kMatch + "[mount]\nowner = \"ec2-user\"\n") ==
          "data.toml:3: [mount] needs a point");
}

TEST_CASE("mount options that could loosen the mount are refused", "[unit][configured]")
{
    const auto with = [](const std::string& options) {
        return refusal(kMatch + "[mount]\npoint = \"/secure\"\noptions = \"" + options + "\"\n");
    };
    for (const char* option : {"suid", "dev", "exec", "defaults", "rw", "remount", "user",
                               "context=system_u:object_r:tmp_t:s0", "uid=0", "NOATIME"}) {
        CAPTURE(option);
        CHECK_THAT(with(option), Catch::StartsWith(std::string("data.toml:5: mount.options: '") +
                                                   option + "' is refused"));
    }
    CHECK_THAT(with("noatime,suid"), Catch::Contains("'suid' is refused"));
    CHECK_THAT(with("noatime,,ro"), Catch::Contains("'' is refused"));
    CHECK_THAT(with("noatime,"), Catch::Contains("'' is refused"));
    CHECK_THAT(with("noatime, ro"), Catch::Contains("' ro' is refused"));
}

TEST_CASE("an owner who is no known user is refused", "[unit][configured]")
{
    const auto owner = [](const std::string& name) {
        return refusal(kMatch + "[mount]\npoint = \"/secure\"\nowner = \"" + name + "\"\n");
    };
    CHECK(owner("nobody-here") == "data.toml:5: mount.owner 'nobody-here' is not a known user");
    CHECK(owner("") == "data.toml:5: mount.owner '' is not a user name");
    // The C library would stop at the NUL and find ec2-user.
    CHECK_THAT(owner("ec2-user\\u0000x"), Catch::EndsWith("is not a user name"));
}

TEST_CASE("a TOML syntax error is refused with its line", "[unit][configured]")
{
    CHECK_THAT(refusal(kMatch + "[unlock]\nkey = = \"none\"\n"),
               Catch::StartsWith("data.toml:4: "));
    CHECK_THAT(refusal("[match]\nlabel = \"data\"\nlabel = \"again\"\n"),
               Catch::StartsWith("data.toml:3: "));
    CHECK_THAT(refusal("[match\n"), Catch::StartsWith("data.toml:1: "));
}

TEST_CASE("the system's user database knows root", "[unit][configured]")
{
    const SystemUsers users;
    auto root = users.find("root");
    REQUIRE(root.has_value());
    CHECK(root->first == 0);
    CHECK(root->second == 0);
    CHECK_FALSE(users.find("vaultd-no-such-user-at-all").has_value());
}

TEST_CASE("a missing volume directory holds no volumes and no problems", "[unit][configured]")
{
    auto loaded = loadVolumeDirectory("/nonexistent/volumes.d", kUsers);
    CHECK(loaded.volumes.empty());
    CHECK(loaded.problems.empty());
}

TEST_CASE("a bad volume file is reported and the good ones are still loaded", "[unit][configured]")
{
    ScratchDir dir;
    dir.write("good.toml", kMatch + "[mount]\npoint = \"/secure\"\n");
    dir.write("bad.toml", "[match]\nlabel = \"bad\"\n[unlock]\nread-only = \"yes\"\n");
    dir.write("README", "not a volume file");
    dir.write("good.toml.orig", "[match\n");
    std::filesystem::create_directory(dir / "sub.toml");
    std::filesystem::create_symlink("/dev/null", dir / "masked.toml");

    auto loaded = loadVolumeDirectory(dir.path(), kUsers, getuid());
    REQUIRE(loaded.volumes.size() == 1);
    CHECK(loaded.volumes[0].name == "good");
    CHECK(loaded.volumes[0].origin == dir / "good.toml");
    CHECK(loaded.volumes[0].mappingName == "good");
    CHECK(loaded.volumes[0].mountPoint == "/secure");
    REQUIRE(loaded.problems.size() == 1);
    CHECK(loaded.problems[0] == dir / "bad.toml" + ":4: 'unlock.read-only' must be true or false");
}

TEST_CASE("volume files are read in the order of their names", "[unit][configured]")
{
    ScratchDir dir;
    dir.write("b.toml", "[match]\nlabel = \"b\"\n");
    dir.write("c.toml", "[match]\nlabel = \"c\"\n");
    dir.write("a.toml", "[match]\nlabel = \"a\"\n");

    auto loaded = loadVolumeDirectory(dir.path(), kUsers, getuid());
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.volumes.size() == 3);
    CHECK(loaded.volumes[0].name == "a");
    CHECK(loaded.volumes[1].name == "b");
    CHECK(loaded.volumes[2].name == "c");
}

TEST_CASE("a later file repeating a mapping name, mount point or volume is refused",
          "[unit][configured]")
{
    ScratchDir dir;
    dir.write("a.toml",
              "[match]\nebs-volume-id = \"vol-0123456789abcdef0\"\n"
              "[mount]\npoint = \"/secure\"\n");
    dir.write("b.toml", "[match]\nlabel = \"b\"\n[unlock]\nname = \"a\"\n");
    dir.write("c.toml", "[match]\nlabel = \"c\"\n[mount]\npoint = \"/secure\"\n");
    dir.write("d.toml", "[match]\nebs-volume-id = \"vol0123456789ABCDEF0\"\nlabel = \"d\"\n");
    // Only the device can tell whether a UUID and an EBS id name the same
    // volume, so this is left to matching.
    dir.write("e.toml", "[match]\nluks-uuid = \"0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11\"\n");
    dir.write("f.toml", "[match]\nebs-volume-id = \"vol-0123456789abcdef1\"\n");

    auto loaded = loadVolumeDirectory(dir.path(), kUsers, getuid());
    REQUIRE(loaded.volumes.size() == 3);
    CHECK(loaded.volumes[0].name == "a");
    CHECK(loaded.volumes[1].name == "e");
    CHECK(loaded.volumes[2].name == "f");
    REQUIRE(loaded.problems.size() == 3);
    CHECK(loaded.problems[0] ==
          dir / "b.toml" + ": mapping name 'a' is taken by " + dir / "a.toml");
    CHECK(loaded.problems[1] ==
          dir / "c.toml" + ": mount point '/secure' is taken by " + dir / "a.toml");
    CHECK(loaded.problems[2] ==
          dir / "d.toml" + ": [match] could name the same volume as " + dir / "a.toml");
}

TEST_CASE("a volume file larger than 64 KiB is refused unread", "[unit][configured]")
{
    ScratchDir dir;
    dir.write("big.toml", kMatch + std::string(64 * 1024, '#') + "\n");

    auto loaded = loadVolumeDirectory(dir.path(), kUsers, getuid());
    CHECK(loaded.volumes.empty());
    REQUIRE(loaded.problems.size() == 1);
    CHECK_THAT(loaded.problems[0], Catch::StartsWith(dir / "big.toml" + ": larger than 64 KiB"));
}

TEST_CASE("a volume file others may write is refused, and so is one of another owner",
          "[unit][configured]")
{
    ScratchDir dir;
    dir.write("open.toml", kMatch);
    dir.write("theirs.toml", "[match]\nlabel = \"theirs\"\n");
    REQUIRE(chmod((dir / "open.toml").c_str(), 0666) == 0);

    // theirs.toml belongs to this test's user: read as if root alone may own them.
    const uid_t someoneElse = getuid() + 1;
    auto strict = loadVolumeDirectory(dir.path(), kUsers, someoneElse);
    CHECK(strict.volumes.empty());
    REQUIRE(strict.problems.size() == 2);
    CHECK_THAT(strict.problems[0], Catch::StartsWith(dir / "open.toml" + ": must be owned by"));

    auto own = loadVolumeDirectory(dir.path(), kUsers, getuid());
    REQUIRE(own.volumes.size() == 1);
    CHECK(own.volumes[0].name == "theirs");
    REQUIRE(own.problems.size() == 1);
    CHECK_THAT(own.problems[0], Catch::Contains("mode 0666"));
}

TEST_CASE("a volume file whose table header names no table is refused, not a crash",
          "[unit][configured]")
{
    CHECK_THAT(refusal(kMatch + "[!d = \"vol0123\"\n"),
               Catch::StartsWith("data.toml:3: a table header must name a table"));
}
