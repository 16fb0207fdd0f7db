#include "vault_client.hpp"

#include <catch2/catch.hpp>

using namespace vaultctl;

TEST_CASE("volume properties are read from a property map by their D-Bus names", "[unit]")
{
    PropertyMap properties{
        {"Device", sdbus::Variant(std::string("/dev/vdb"))},
        {"KernelName", sdbus::Variant(std::string("vdb"))},
        {"Size", sdbus::Variant(std::uint64_t{1073741824})},
        {"State", sdbus::Variant(std::string("unlocked"))},
        {"LuksVersion", sdbus::Variant(std::uint32_t{2})},
        {"LuksUuid", sdbus::Variant(std::string("0b7f7a0e"))},
        {"Label", sdbus::Variant(std::string("data"))},
        {"MappingName", sdbus::Variant(std::string("storedev"))},
        {"MountPoint", sdbus::Variant(std::string(""))},
        {"FilesystemType", sdbus::Variant(std::string("ext4"))},
    };

    VolumeProperties volume = volumeFromProperties(properties);
    CHECK(volume.device == "/dev/vdb");
    CHECK(volume.kernelName == "vdb");
    CHECK(volume.size == 1073741824);
    CHECK(volume.state == "unlocked");
    CHECK(volume.luksVersion == 2);
    CHECK(volume.luksUuid == "0b7f7a0e");
    CHECK(volume.label == "data");
    CHECK(volume.mappingName == "storedev");
    CHECK(volume.mountPoint.empty());
    CHECK(volume.filesystemType == "ext4");
}

TEST_CASE("missing properties keep defaults and unknown ones are ignored", "[unit]")
{
    PropertyMap properties{
        {"Device", sdbus::Variant(std::string("/dev/vdc"))},
        {"EbsVolumeId", sdbus::Variant(std::string("vol-0123"))},
    };

    VolumeProperties volume = volumeFromProperties(properties);
    CHECK(volume.device == "/dev/vdc");
    CHECK(volume.size == 0);
    CHECK(volume.state.empty());
}

TEST_CASE("a property of the wrong type is an error, not a silent default", "[unit]")
{
    PropertyMap properties{{"Size", sdbus::Variant(std::string("1G"))}};
    CHECK_THROWS_AS(volumeFromProperties(properties), sdbus::Error);
}

TEST_CASE("format options hold only the keys that were given", "[unit]")
{
    CHECK(formatOptions({"ext4", std::nullopt, std::nullopt, std::nullopt, false}).empty());

    PropertyMap options =
        formatOptions({"xfs", "data", "/dev/vdb:1073741824", std::nullopt, false});
    REQUIRE(options.size() == 2);
    CHECK(options.at("label").get<std::string>() == "data");
    CHECK(options.at("force").get<std::string>() == "/dev/vdb:1073741824");
}

TEST_CASE("unlock options say mount, or where to mount, or nothing", "[unit]")
{
    CHECK(unlockOptions({"storedev", false, std::nullopt}).empty());

    PropertyMap mount = unlockOptions({"", true, std::nullopt});
    REQUIRE(mount.size() == 1);
    CHECK(mount.at("mount").get<bool>());

    PropertyMap mountAt = unlockOptions({"", true, "/secure"});
    REQUIRE(mountAt.size() == 1);
    CHECK(mountAt.at("mount-point").get<std::string>() == "/secure");
}

TEST_CASE("an unlock by token says token, beside the mount options", "[unit]")
{
    UnlockRequest request{"storedev", true, std::nullopt};
    request.token = true;
    PropertyMap options = unlockOptions(request);
    REQUIRE(options.size() == 2);
    CHECK(options.at("token").get<bool>());
    CHECK(options.at("mount").get<bool>());

    request.token = false;
    CHECK(unlockOptions(request).count("token") == 0);
}

TEST_CASE("format says what the secret is, and accepts a weak one only when asked", "[unit]")
{
    FormatRequest request{"ext4", std::nullopt, std::nullopt, "keyfile", false};
    PropertyMap keyfile = formatOptions(request);
    REQUIRE(keyfile.size() == 1);
    CHECK(keyfile.at("key-kind").get<std::string>() == "keyfile");

    request.keyKind = "passphrase";
    request.acceptWeak = true;
    PropertyMap weak = formatOptions(request);
    REQUIRE(weak.size() == 2);
    CHECK(weak.at("key-kind").get<std::string>() == "passphrase");
    CHECK(weak.at("accept-weak").get<bool>());
}

TEST_CASE("keyslot options name the new secret's kind; accept-weak only when asked", "[unit]")
{
    PropertyMap plain = keyOptions({});
    REQUIRE(plain.size() == 1);
    CHECK(plain.at("key-kind").get<std::string>() == "passphrase");

    PropertyMap file = keyOptions({"keyfile", true});
    REQUIRE(file.size() == 2);
    CHECK(file.at("key-kind").get<std::string>() == "keyfile");
    CHECK(file.at("accept-weak").get<bool>());
}

TEST_CASE("restore options hold force only when it is given", "[unit]")
{
    CHECK(restoreOptions(std::nullopt).empty());
    PropertyMap forced = restoreOptions(std::string("/dev/vdb:1073741824"));
    REQUIRE(forced.size() == 1);
    CHECK(forced.at("force").get<std::string>() == "/dev/vdb:1073741824");
}

TEST_CASE("ListKeyslots' reply becomes keyslots in slot order", "[unit]")
{
    using Slot = sdbus::Struct<std::uint32_t, std::string, std::string, std::uint32_t,
                               std::uint32_t, std::uint32_t>;
    std::vector<Slot> reply{
        Slot{std::uint32_t{3}, std::string("recovery"), std::string("pbkdf2"), std::uint32_t{1000},
             std::uint32_t{0}, std::uint32_t{0}},
        Slot{std::uint32_t{0}, std::string("passphrase"), std::string("argon2id"), std::uint32_t{4},
             std::uint32_t{131072}, std::uint32_t{2}}};
    KeyslotList list = keyslotsFromReply(2, reply);
    CHECK(list.luksVersion == 2);
    REQUIRE(list.keyslots.size() == 2);
    CHECK(list.keyslots[0].slot == 0);
    CHECK(list.keyslots[0].kind == "passphrase");
    CHECK(list.keyslots[0].pbkdf == "argon2id");
    CHECK(list.keyslots[0].iterations == 4);
    CHECK(list.keyslots[0].memoryKib == 131072);
    CHECK(list.keyslots[0].threads == 2);
    CHECK(list.keyslots[1].slot == 3);
    CHECK(list.keyslots[1].kind == "recovery");
}

TEST_CASE("a volume's configuration and its last automatic unlock's error are read", "[unit]")
{
    PropertyMap properties{
        {"Device", sdbus::Variant(std::string("/dev/vdb"))},
        {"Configuration", sdbus::Variant(std::string("cfg"))},
        {"ConfigurationError", sdbus::Variant(std::string("WrongPassphrase: no keyslot opens"))},
    };
    VolumeProperties volume = volumeFromProperties(properties);
    CHECK(volume.configuration == "cfg");
    CHECK(volume.configurationError == "WrongPassphrase: no keyslot opens");
}

TEST_CASE("a vaultd without configured volumes leaves the configuration empty", "[unit]")
{
    VolumeProperties volume =
        volumeFromProperties({{"Device", sdbus::Variant(std::string("/dev/vdb"))},
                              {"HeaderHealth", sdbus::Variant(std::string("valid"))}});
    CHECK(volume.configuration.empty());
    CHECK(volume.configurationError.empty());
    CHECK_THROWS_AS(volumeFromProperties({{"Configuration", sdbus::Variant(std::uint32_t{1})}}),
                    sdbus::Error);
}
