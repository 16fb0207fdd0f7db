#include "errors.hpp"

#include <catch2/catch.hpp>

using namespace vaultctl;

TEST_CASE("vaultd's named errors map to their exit codes", "[unit]")
{
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.NotAuthorized") == exitNotAuthorized);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.WrongPassphrase") == exitWrongPassphrase);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.Busy") == exitBusy);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.NotEmpty") == exitNotEmpty);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.NoSuchDevice") == exitNoSuchDevice);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.InvalidArgument") == exitUsage);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.InvalidName") == exitUsage);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.Failed") == exitFailure);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.TooSmall") == exitFailure);
}

TEST_CASE("unknown error names are generic failures", "[unit]")
{
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.SomethingNew") == exitFailure);
    CHECK(exitCodeForError("com.example.Error.Busy") == exitFailure);
    CHECK(exitCodeForError("") == exitFailure);
}

TEST_CASE("a missing service means vaultd is not running", "[unit]")
{
    CHECK(meansNotRunning("org.freedesktop.DBus.Error.ServiceUnknown"));
    CHECK(meansNotRunning("org.freedesktop.DBus.Error.NameHasNoOwner"));
    CHECK(exitCodeForError("org.freedesktop.DBus.Error.ServiceUnknown") == exitNotRunning);
    CHECK_FALSE(meansNotRunning("org.vaultd.Vault1.Error.Failed"));
}

TEST_CASE("the bus refusing a call counts as not authorized", "[unit]")
{
    CHECK(exitCodeForError("org.freedesktop.DBus.Error.AccessDenied") == exitNotAuthorized);
}

TEST_CASE("a volume object that vanished counts as no such device", "[unit]")
{
    CHECK(exitCodeForError("org.freedesktop.DBus.Error.UnknownObject") == exitNoSuchDevice);
}

TEST_CASE("the daemon's message is the cause when it sent one", "[unit]")
{
    CHECK(causeOfError("org.vaultd.Vault1.Error.WrongPassphrase", "bad key") == "bad key");
}

TEST_CASE("a known error without a message gets a fallback cause", "[unit]")
{
    CHECK(causeOfError("org.vaultd.Vault1.Error.WrongPassphrase", "") ==
          "no keyslot opens with that passphrase");
    CHECK(causeOfError("com.example.Odd", "") == "failed with com.example.Odd");
}

TEST_CASE("the exit code table is in the help text", "[unit]")
{
    std::string help = exitCodeHelp();
    for (const char* line :
         {"0  success", "2  usage", "4  wrong passphrase", "8  vaultd is not running"})
        CHECK(help.find(line) != std::string::npos);
}

TEST_CASE("the key and header errors map to the closest exit codes", "[unit]")
{
    // Refused input, nothing changed: usage.
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.WeakPassphrase") == exitUsage);
    // Needs a confirmation with --force NODE:SIZE, as a format over data does.
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.HeaderMismatch") == exitNotEmpty);
    // The volume or the machine is as it is: failures.
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.InsufficientMemory") == exitFailure);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.NoFreeKeyslot") == exitFailure);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.LastKeyslot") == exitFailure);
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.NotSupportedOnLuks1") == exitFailure);
}

TEST_CASE("the key errors say what to do once, the daemon's words or vaultctl's", "[unit]")
{
    // vaultd cannot know vaultctl's flag; vaultctl adds it.
    CHECK(causeOfError("org.vaultd.Vault1.Error.WeakPassphrase",
                       "it is based on a dictionary word") ==
          "it is based on a dictionary word; --allow-weak-passphrase accepts it");
    CHECK_THAT(
        causeOfError("org.vaultd.Vault1.Error.LastKeyslot", "keyslot 0 is the last"),
        Catch::StartsWith("keyslot 0 is the last; ") && Catch::Contains("vaultctl keyslot change"));
    // Their remedies are in vaultd's messages already: nothing is added.
    CHECK(causeOfError("org.vaultd.Vault1.Error.InsufficientMemory",
                       "keyslot 0 needs 1 GiB; add a keyslot that needs less") ==
          "keyslot 0 needs 1 GiB; add a keyslot that needs less");
    CHECK(causeOfError("org.vaultd.Vault1.Error.NoFreeKeyslot", "32 of 32; remove one first") ==
          "32 of 32; remove one first");
    CHECK(causeOfError("org.vaultd.Vault1.Error.NotSupportedOnLuks1", "convert it") ==
          "convert it");
    // The daemon's message names the force token to use.
    const std::string mismatch =
        "the backup is the header of 0b7f, and '/dev/vdb' holds the LUKS volume 9c1e; to write "
        "it there anyway, confirm with force '/dev/vdb:1073741824'";
    CHECK(causeOfError("org.vaultd.Vault1.Error.HeaderMismatch", mismatch) == mismatch);
}

TEST_CASE("a hinted error without a message gets its fallback and the hint", "[unit]")
{
    CHECK(causeOfError("org.vaultd.Vault1.Error.NoFreeKeyslot", "") == "every keyslot is in use");
    CHECK_THAT(causeOfError("org.vaultd.Vault1.Error.WeakPassphrase", ""),
               Catch::EndsWith("--allow-weak-passphrase accepts it"));
    // Errors without a hint are left as they were.
    CHECK(causeOfError("org.vaultd.Vault1.Error.Busy", "in use by pid 42") == "in use by pid 42");
}

TEST_CASE("the help's exit code table says 6 also means a header restore to confirm", "[unit]")
{
    CHECK_THAT(exitCodeHelp(), Catch::Contains("6  not empty, or another volume's header: "
                                               "confirm with --force NODE:SIZE"));
}

TEST_CASE("a key server that cannot be reached is a failure with a hint to check it", "[unit]")
{
    CHECK(exitCodeForError("org.vaultd.Vault1.Error.KeyServerUnavailable") == exitFailure);
    CHECK_FALSE(meansNotRunning("org.vaultd.Vault1.Error.KeyServerUnavailable"));
    CHECK_THAT(causeOfError("org.vaultd.Vault1.Error.KeyServerUnavailable",
                            "clevis: unable to fetch advertisement: 'http://tang/adv'"),
               Catch::StartsWith("clevis: unable to fetch advertisement: 'http://tang/adv'; ") &&
                   Catch::Contains("is the key server reachable from this instance"));
    CHECK_THAT(causeOfError("org.vaultd.Vault1.Error.KeyServerUnavailable", ""),
               Catch::StartsWith("the key server did not answer, or its keys do not match the "
                                 "thumbprint; is the key server reachable") &&
                   Catch::EndsWith("?"));
}
