#include "readiness.hpp"

#include <catch2/catch.hpp>

using namespace vaultctl;

namespace {

VolumeProperties configured(const std::string& kernelName, const std::string& configuration,
                            const std::string& state)
{
    VolumeProperties volume;
    volume.device = "/dev/" + kernelName;
    volume.kernelName = kernelName;
    volume.state = state;
    volume.configuration = configuration;
    if (state == "unlocked" || state == "mounted")
        volume.mappingName = configuration;
    if (state == "mounted")
        volume.mountPoint = "/secure/" + configuration;
    return volume;
}

const WaitTarget data{"data", false};
const WaitTarget dataUnlocked{"data", true};

}  // namespace

TEST_CASE("a configured volume is ready when its device is mounted", "[unit]")
{
    std::vector<VolumeProperties> volumes{configured("vdb", "logs", "locked"),
                                          configured("nvme1n1", "data", "mounted")};
    Readiness readiness = readinessOf(volumes, data);
    CHECK(readiness.ready);
    REQUIRE(readiness.volume);
    CHECK(readiness.volume->device == "/dev/nvme1n1");
    CHECK(formatReady(data, *readiness.volume) == "data: mounted at /secure/data (/dev/nvme1n1)");
}

TEST_CASE("unlocked is not ready unless --unlocked, which mounted satisfies too", "[unit]")
{
    std::vector<VolumeProperties> unlocked{configured("nvme1n1", "data", "unlocked")};
    CHECK_FALSE(readinessOf(unlocked, data).ready);
    Readiness readiness = readinessOf(unlocked, dataUnlocked);
    CHECK(readiness.ready);
    CHECK(formatReady(dataUnlocked, *readiness.volume) ==
          "data: unlocked as /dev/mapper/data (/dev/nvme1n1)");

    std::vector<VolumeProperties> mounted{configured("nvme1n1", "data", "mounted")};
    CHECK(readinessOf(mounted, dataUnlocked).ready);
    CHECK(formatReady(dataUnlocked, *readinessOf(mounted, dataUnlocked).volume) ==
          "data: mounted at /secure/data (/dev/nvme1n1)");
}

TEST_CASE("only the volume's own Configuration counts, not its mapping name or label", "[unit]")
{
    VolumeProperties other = configured("vdb", "", "mounted");
    other.mappingName = "data";
    other.label = "data";
    Readiness readiness = readinessOf({other, configured("vdc", "database", "mounted")}, data);
    CHECK_FALSE(readiness.ready);
    CHECK_FALSE(readiness.volume);
    CHECK(lastSeen(data, readiness) == "no attached device is configured as data");
    CHECK_FALSE(readinessOf({}, data).volume);
}

TEST_CASE("of several devices configured as one volume the one furthest along counts", "[unit]")
{
    std::vector<VolumeProperties> volumes{configured("vdd", "data", "locked"),
                                          configured("vdc", "data", "mounted"),
                                          configured("vdb", "data", "unlocked")};
    CHECK(readinessOf(volumes, data).volume->device == "/dev/vdc");

    std::vector<VolumeProperties> locked{configured("vdc", "data", "locked"),
                                         configured("vdb", "data", "locked"),
                                         configured("vde", "data", "data")};
    CHECK(readinessOf(locked, data).volume->device == "/dev/vdb");
}

TEST_CASE("the timeout names what was awaited and the last state seen", "[unit]")
{
    CHECK(timeoutMessage(data, 30, readinessOf({}, data), true) ==
          "data: not mounted after 30 s (no attached device is configured as data)");

    VolumeProperties locked = configured("nvme1n1", "data", "locked");
    locked.configurationError = "WrongPassphrase: no keyslot opens with /etc/vaultd/keys/data";
    CHECK(timeoutMessage(data, 30, readinessOf({locked}, data), true) ==
          "data: not mounted after 30 s (locked: WrongPassphrase: no keyslot opens with "
          "/etc/vaultd/keys/data)");

    CHECK(timeoutMessage(dataUnlocked, 5, readinessOf({configured("vdb", "data", "locked")}, data),
                         true) == "data: not unlocked after 5 s (locked)");
    CHECK(timeoutMessage(data, 1, readinessOf({configured("vdb", "data", "unlocked")}, data),
                         false) == "data: not mounted after 1 s (unlocked; vaultd is not running)");
}

TEST_CASE("wait --json names the volume, its state, device, mapping and mount point", "[unit]")
{
    nlohmann::ordered_json object = readyToJson(data, configured("nvme1n1", "data", "mounted"));
    CHECK(object.dump() == R"({"configuration":"data","state":"mounted","device":"/dev/nvme1n1",)"
                           R"("mappingName":"data","mountPoint":"/secure/data"})");
    CHECK(readyToJson(dataUnlocked, configured("vdb", "data", "unlocked"))["mountPoint"] == "");
}

TEST_CASE("a configuration error is noted once, and again only when it changes", "[unit]")
{
    WaitNotes notes("data");
    CHECK_FALSE(notes.update(readinessOf({}, data), true));

    VolumeProperties locked = configured("vdb", "data", "locked");
    CHECK_FALSE(notes.update(readinessOf({locked}, data), true));

    locked.configurationError = "WrongPassphrase: no keyslot opens with the key file";
    CHECK(notes.update(readinessOf({locked}, data), true) ==
          "data: waiting: WrongPassphrase: no keyslot opens with the key file");
    CHECK_FALSE(notes.update(readinessOf({locked}, data), true));

    locked.configurationError = "Busy: /secure/data is in use";
    CHECK(notes.update(readinessOf({locked}, data), true) ==
          "data: waiting: Busy: /secure/data is in use");

    CHECK(notes.update(readinessOf({locked}, data), false) ==
          "data: waiting: vaultd is not running");
    CHECK_FALSE(notes.update(readinessOf({locked}, data), false));
    CHECK(notes.update(readinessOf({locked}, data), true) ==
          "data: waiting: Busy: /secure/data is in use");

    locked.configurationError.clear();
    CHECK_FALSE(notes.update(readinessOf({locked}, data), true));
    locked.configurationError = "Busy: /secure/data is in use";
    CHECK(notes.update(readinessOf({locked}, data), true));
}

TEST_CASE("what vaultd reports cannot drive the terminal", "[unit]")
{
    VolumeProperties mounted = configured("vdb", "data", "mounted");
    mounted.mountPoint = "/secure/\x1b[2Jdata";
    CHECK(formatReady(data, mounted) == "data: mounted at /secure/\\x1b[2Jdata (/dev/vdb)");

    VolumeProperties locked = configured("vdb", "data", "locked");
    locked.configurationError = "Failed: \x1b]0;owned\x07";
    CHECK(lastSeen(data, readinessOf({locked}, data)) == "locked: Failed: \\x1b]0;owned\\x07");
    WaitNotes notes("data");
    CHECK(notes.update(readinessOf({locked}, data), true) ==
          "data: waiting: Failed: \\x1b]0;owned\\x07");
}
