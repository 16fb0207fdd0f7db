// Operations::unlockConfigured: a configured volume is opened only while the
// device is the one its file names, with the file's mapping name, mount
// point, owner and options.
#include "engine/operations.hpp"

#include <catch2/catch.hpp>

#include "fakes.hpp"
#include "result_matchers.hpp"

using namespace vaultd::engine;
using namespace vaultd::testing;

namespace {

const std::string kUuid = "0b7f7a0e-3f8e-4c36-9d2a-6f2b1c9e8d11";

struct ConfiguredFixture {
    FakeSystem sys;
    Operations ops{sys.ports(), EngineConfig{}};
    ConfiguredVolume c;

    ConfiguredFixture()
    {
        sys.attachLuks("vdb", kGiB, kUuid, filesystemSignature("ext4"));
        sys.kernel.signatures["/dev/vdb"].label = "data";
        c.name = "data";
        c.origin = "/etc/vaultd/volumes.d/data.toml";
        c.luksUuid = kUuid;
        c.label = "data";
        c.keySource = KeySource::KeyFile;
        c.keyFile = "/etc/vaultd/keys/data.key";
        c.mappingName = "secure-data";
        c.mountPoint = "/secure";
    }
};

}  // namespace

TEST_CASE("a configured volume opens under its file's name and mounts where it says", "[unit]")
{
    ConfiguredFixture f;
    f.c.hasOwner = true;
    f.c.ownerUid = 1000;
    f.c.ownerGid = 1000;
    f.c.mountOptions = "noatime";

    auto r = f.ops.unlockConfigured("vdb", f.c, secret("correct horse"));

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mappingName == "secure-data");
    CHECK(r.value().mountPoint == "/secure");
    REQUIRE(f.sys.mounter.mounts.size() == 1);
    CHECK(f.sys.mounter.mounts[0].target == "/secure");
    CHECK(f.sys.mounter.mounts[0].options == "nodev,nosuid,noatime");
    CHECK(f.sys.records.find("secure-data", kUuid) == std::optional<uid_t>(1000));
    CHECK(f.sys.mountPoints.owners.at("/secure") == 1000);
}

TEST_CASE("a configured volume's dm-crypt options reach the mapping; read-only mounts ro", "[unit]")
{
    ConfiguredFixture f;
    f.c.mapping.readOnly = true;
    f.c.mapping.noReadWorkqueue = true;
    f.c.mapping.noWriteWorkqueue = true;

    auto r = f.ops.unlockConfigured("vdb", f.c, secret("correct horse"));

    REQUIRE_THAT(r, Succeeds());
    REQUIRE(f.sys.crypt.activationOptions.size() == 1);
    const MappingOptions& o = f.sys.crypt.activationOptions[0];
    CHECK(o.readOnly);
    CHECK(o.noReadWorkqueue);
    CHECK(o.noWriteWorkqueue);
    CHECK_FALSE(o.discard);
    REQUIRE(f.sys.mounter.mounts.size() == 1);
    CHECK(f.sys.mounter.mounts[0].options == "nodev,nosuid,ro");
}

TEST_CASE("a device that is not the configured volume is never opened", "[unit]")
{
    ConfiguredFixture f;
    // The same label, another volume: a copy, or a stale link.
    f.c.luksUuid = "9c1e2f4a-0000-4000-8000-000000000001";

    auto r = f.ops.unlockConfigured("vdb", f.c, secret("correct horse"));

    REQUIRE_THAT(r, FailsWith(ErrorCode::NoSuchDevice));
    CHECK_THAT(r.error().message, Catch::Contains(f.c.origin));
    CHECK(f.sys.crypt.activations.empty());
    CHECK(f.sys.crypt.derivations.empty());
    CHECK(f.sys.mounter.mounts.empty());
}

TEST_CASE("a configured volume without a mount point is unlocked only", "[unit]")
{
    ConfiguredFixture f;
    f.c.mountPoint.clear();

    auto r = f.ops.unlockConfigured("vdb", f.c, secret("correct horse"));

    REQUIRE_THAT(r, Succeeds());
    CHECK(r.value().mountPoint.empty());
    CHECK(f.sys.mounter.mounts.empty());
    CHECK(f.sys.crypt.activations == std::vector<std::string>{"/dev/vdb secure-data"});
}

TEST_CASE("a configured volume's wrong key opens nothing", "[unit]")
{
    ConfiguredFixture f;

    auto r = f.ops.unlockConfigured("vdb", f.c, secret("not the key"));

    REQUIRE_THAT(r, FailsWith(ErrorCode::WrongPassphrase));
    CHECK(f.sys.crypt.activations.empty());
    CHECK(f.sys.mounter.mounts.empty());
}

TEST_CASE("an opened configured volume starts its unit; a failed one does not", "[unit]")
{
    ConfiguredFixture f;

    REQUIRE_THAT(f.ops.unlockConfigured("vdb", f.c, secret("wrong horse")),
                 FailsWith(ErrorCode::WrongPassphrase));
    CHECK(f.sys.units.running.empty());

    REQUIRE_THAT(f.ops.unlockConfigured("vdb", f.c, secret("correct horse")), Succeeds());
    CHECK(f.sys.units.running == std::set<std::string>{"secure-data"});
    CHECK(f.sys.log.back() == "start vault-volume@secure-data");
}
