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
