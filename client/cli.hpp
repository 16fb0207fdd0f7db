// Parses vaultctl's command line into a plain Invocation, with no bus and no terminal involved,
// so every rule about arguments is testable on its own. Pure; thread safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vaultctl {

enum class Verb {
    list,
    status,
    format,
    unlock,
    mount,
    unmount,
    lock,
    grow,
    headerList,
    headerBackup,
    headerRestore,
    headerRepair,
    keyslotList,
    keyslotAdd,
    keyslotChange,
    keyslotRemove,
    recoveryKey,
    bind,
    unbind,
    reload,
    wait,
    tune,
    doctor
};

// unlock: whether to open with the key the volume's clevis tokens get from their key server.
enum class TokenUse {
    automatic,  // try it first when the volume has a clevis keyslot (and no --key-file)
    only,       // --token: that key or nothing
    never       // --no-token
};

// The command word as typed, e.g. "unlock".
std::string_view verbName(Verb verb);

struct Invocation {
    Verb verb = Verb::list;
    bool json = false;
    bool askPassword = true;  // --no-ask-password turns the polkit agent off
    // DEVICE as typed; vaultd resolves it (Resolve). Empty for list, header list and reload.
    std::string device;

    // format
    std::string filesystem = "ext4";
    std::optional<std::string> label;
    std::optional<std::string> force;  // "NODE:SIZE"; also header restore's

    // format, unlock, grow, the keyslot commands, bind and unbind; "-" means standard input. For
    // the keyslot commands, recovery-key, bind and unbind it is the secret that opens a keyslot
    // already (for keyslot remove and unbind, one that stays).
    std::optional<std::string> keyFile;

    // keyslot add and keyslot change: the new secret's key file; unset, it is prompted for.
    std::optional<std::string> newKeyFile;
    // format, keyslot add and keyslot change: accept a passphrase vaultd finds weak.
    bool allowWeak = false;

    // keyslot remove
    std::uint32_t keyslot = 0;

    // format: store allow_discards, keep dm-crypt's workqueues. tune: set each to on or off;
    // unset leaves it as the header has it.
    std::optional<bool> discard;
    std::optional<bool> workqueues;      // format only
    std::optional<bool> readWorkqueue;   // tune only
    std::optional<bool> writeWorkqueue;  // tune only
    bool erase = false;  // format: zeros through the new mapping over the whole device

    // bind: the clevis pin (only tang), the key server's URL and its signing key's thumbprint.
    std::string pin;
    std::string url;
    std::string thumbprint;
    // unbind: the keyslot to remove; unset, the volume's one clevis keyslot.
    std::optional<std::uint32_t> boundKeyslot;

    // unlock
    std::optional<std::string> mappingName;  // unset: the EBS volume id, else luks-<kernel name>
    bool mount = false;                      // unlock --mount, with or without a path
    TokenUse tokenUse = TokenUse::automatic;

    // lock
    bool lazy = false;

    // header backup: the file to create (it must not exist); header restore: the file to read.
    std::string headerFile;

    // unlock --mount PATH and mount DEVICE PATH; unset means vaultd's default place.
    std::optional<std::string> mountPoint;

    // wait: the configured volume (/etc/vaultd/volumes.d/NAME.toml), checked as a mapping name.
    std::string volumeName;
    std::uint32_t timeoutSeconds = 0;  // 0 waits for ever
    bool unlocked = false;             // unlocked is enough; mounted is not needed
};

// What main does after parsing: run the invocation, or print and exit.
struct ParseOutcome {
    std::optional<Invocation> invocation;
    int exitCode = 0;
    std::string output;  // --help or --version text, for standard output
    std::string error;   // one "vaultctl: ..." line, for standard error
    bool json = false;   // --json was given: the error goes out as JSON (usageErrorJson)
};

// @args is argv without the program name.
ParseOutcome parseCommandLine(const std::vector<std::string>& args);

}  // namespace vaultctl
