#include "cli.hpp"

#include "binding.hpp"
#include "errors.hpp"
#include "vaultd_config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace vaultctl {
namespace {

constexpr std::string_view programName = "vaultctl";

// CLI11 keeps pointers to these, so they live as long as the App does.
struct Targets {
    Invocation invocation;
    CLI::Option* mountOption = nullptr;
    std::string mountValue;
    bool token = false;
    bool noToken = false;
};

// Shape only: the daemon compares NODE and SIZE with the device it really has.
std::string checkForceValue(const std::string& value)
{
    auto colon = value.rfind(':');
    bool nodeOk = colon != std::string::npos && colon > 1 && value.front() == '/';
    bool sizeOk = nodeOk && colon + 1 < value.size() &&
                  std::all_of(value.begin() + static_cast<long>(colon) + 1, value.end(),
                              [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!sizeOk)
        return "must be NODE:SIZE, the device node and its size in bytes, e.g. /dev/vdb:1073741824";
    return {};
}

// A keyslot number as keyslot list shows it; whether it is in use is vaultd's to say.
std::string checkSlotValue(const std::string& value)
{
    bool digits = !value.empty() && value.size() <= 9 &&
                  std::all_of(value.begin(), value.end(),
                              [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!digits)
        return fmt::format("'{}' is not a keyslot number (0, 1, ...; see vaultctl keyslot list)",
                           value);
    return {};
}

// vaultd reads a configured volume from NAME.toml only when NAME passes its mapping name rule
// (daemon/engine/validate.cpp, checkMappingName), so no other NAME can ever be configured.
std::string checkVolumeName(const std::string& value)
{
    constexpr std::size_t maxName = 127;
    constexpr std::string_view punctuation = "-_.+=,@%";
    if (value.empty())
        return "the name is empty";
    if (value == "." || value == ".." || value == "control")
        return fmt::format("'{}' cannot name a configured volume", value);
    if (value.size() > maxName)
        return fmt::format("the name is {} bytes long, at most {} are allowed", value.size(),
                           maxName);
    // ASCII only, whatever the locale says a letter is.
    bool nameChars = std::all_of(value.begin(), value.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               punctuation.find(c) != std::string_view::npos;
    });
    if (!nameChars)
        return fmt::format(
            "'{}' cannot name a configured volume: a name may hold only letters, "
            "digits and -_.+=,@%",
            value);
    return {};
}

// Whole seconds, below a billion (some 31 years) so that they fit the field.
std::string checkSecondsValue(const std::string& value)
{
    bool digits = !value.empty() && value.size() <= 9 &&
                  std::all_of(value.begin(), value.end(),
                              [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!digits)
        return fmt::format("'{}' is not a number of seconds (0 waits for ever)", value);
    return {};
}

CLI::App* addVerb(CLI::App& app, Targets& targets, Verb verb, const std::string& description)
{
    CLI::App* sub = app.add_subcommand(std::string(verbName(verb)), description);
    sub->callback([&targets, verb] { targets.invocation.verb = verb; });
    return sub;
}

void addDevice(CLI::App* sub, Targets& targets, const std::string& description)
{
    sub->add_option("DEVICE", targets.invocation.device, description)->required()->type_name("");
}

void addKeyFile(CLI::App* sub, Targets& targets,
                const std::string& description =
                    "Read the passphrase from FILE, exact bytes; - is standard input")
{
    sub->add_option("--key-file", targets.invocation.keyFile, description)->type_name("FILE");
}

void addAllowWeak(CLI::App* sub, Targets& targets)
{
    sub->add_flag("--allow-weak-passphrase", targets.invocation.allowWeak,
                  "Accept a passphrase that vaultd's strength check finds weak");
}

CLI::App* addNested(CLI::App* group, Targets& targets, Verb verb, const std::string& description)
{
    std::string_view name = verbName(verb);
    CLI::App* sub =
        group->add_subcommand(std::string(name.substr(name.find(' ') + 1)), description);
    sub->callback([&targets, verb] { targets.invocation.verb = verb; });
    return sub;
}

// keyslot add and keyslot change: the secret that opens a slot now, and the new one.
void addKeyChange(CLI::App* sub, Targets& targets, const std::string& existing,
                  const std::string& added)
{
    addDevice(sub, targets, "The volume, or its mapping name");
    addKeyFile(sub, targets, existing);
    sub->add_option("--new-key-file", targets.invocation.newKeyFile, added)->type_name("FILE");
    addAllowWeak(sub, targets);
}

void addKeyslots(CLI::App& app, Targets& targets)
{
    CLI::App* keyslot = app.add_subcommand("keyslot", "The keyslots of a LUKS volume");
    keyslot->require_subcommand(1);

    addDevice(addNested(keyslot, targets, Verb::keyslotList,
                        "List a volume's keyslots: kind and key derivation cost"),
              targets, "The volume, or its mapping name");
    addKeyChange(addNested(keyslot, targets, Verb::keyslotAdd,
                           "Add a keyslot with a new passphrase or key file"),
                 targets,
                 "Read a passphrase that opens the volume now from FILE, exact bytes; - is "
                 "standard input",
                 "Read the new keyslot's key file from FILE, exact bytes; - is standard input "
                 "(default: ask for a new passphrase, twice)");
    addKeyChange(addNested(keyslot, targets, Verb::keyslotChange,
                           "Replace a passphrase (or key file) with a new one; its keyslot "
                           "keeps its kind"),
                 targets,
                 "Read the passphrase to replace from FILE, exact bytes; - is standard input",
                 "Read the new key file from FILE, exact bytes; - is standard input (default: "
                 "ask for a new passphrase, twice)");

    CLI::App* remove =
        addNested(keyslot, targets, Verb::keyslotRemove,
                  "Destroy a keyslot; the passphrase of another keyslot shows a way in remains");
    addDevice(remove, targets, "The volume, or its mapping name");
    remove->add_option("SLOT", targets.invocation.keyslot, "The keyslot number (keyslot list)")
        ->required()
        ->type_name("")
        ->check(CLI::Validator(checkSlotValue, ""));
    addKeyFile(remove, targets,
               "Read the passphrase of a keyslot that stays from FILE, exact bytes; - is "
               "standard input");
}

// CLI11 calls a validator with a std::string&; ours take a view.
CLI::Validator validator(std::string (*check)(std::string_view))
{
    return CLI::Validator([check](const std::string& value) { return check(value); }, "");
}

void addBinding(CLI::App& app, Targets& targets)
{
    Invocation& inv = targets.invocation;
    CLI::App* bind = addVerb(app, targets, Verb::bind,
                             "Bind a volume to a tang key server, as clevis does: a new keyslot "
                             "that opens while the server answers");
    addDevice(bind, targets, "The volume, or its mapping name");
    bind->add_option("PIN", inv.pin, "The clevis pin: tang, the only one supported")
        ->required()
        ->type_name("")
        ->check(validator(checkPin));
    bind->add_option("URL", inv.url, "The key server, http:// or https://, e.g. http://tang:7500")
        ->required()
        ->type_name("")
        ->check(validator(checkTangUrl));
    bind->add_option("--thumbprint", inv.thumbprint,
                     "The thumbprint of the server's signing key to trust (tang-show-keys on the "
                     "server prints it)")
        ->required()
        ->type_name("THP")
        ->check(validator(checkThumbprint));
    addKeyFile(bind, targets,
               "Read a passphrase that opens the volume now from FILE, exact bytes; - is "
               "standard input");

    CLI::App* unbind = addVerb(app, targets, Verb::unbind,
                               "Remove a volume's tang binding: its keyslot and clevis token");
    addDevice(unbind, targets, "The volume, or its mapping name");
    unbind
        ->add_option("SLOT", inv.boundKeyslot,
                     "The bound keyslot (default: the volume's one keyslot of kind token:clevis)")
        ->type_name("")
        ->check(CLI::Validator(checkSlotValue, ""));
    addKeyFile(unbind, targets,
               "Read the passphrase of a keyslot that stays from FILE, exact bytes; - is "
               "standard input");
}

void addFormat(CLI::App& app, Targets& targets)
{
    Invocation& inv = targets.invocation;
    CLI::App* sub =
        addVerb(app, targets, Verb::format,
                "Create a LUKS2 container and a filesystem in it; the volume stays locked");
    addDevice(sub, targets, "The device to format");
    sub->add_option("--fs", inv.filesystem, "The filesystem to make")
        ->type_name("FS")
        ->check(CLI::IsMember({"ext4", "xfs", "btrfs"}))
        ->capture_default_str();
    sub->add_option("--label", inv.label, "Label for the LUKS header and the filesystem")
        ->type_name("LABEL");
    sub->add_option("--force", inv.force,
                    "Destroy what the device holds; NODE:SIZE must name its node and size in bytes")
        ->type_name("NODE:SIZE")
        ->check(CLI::Validator(checkForceValue, ""));
    addKeyFile(sub, targets,
               "Read the key from FILE, exact bytes (a key file: no strength check); - is "
               "standard input");
    addAllowWeak(sub, targets);
    sub->add_flag_callback(
        "--keep-workqueues", [&inv] { inv.workqueues = true; },
        "Keep dm-crypt's read workqueue (by default the header says to bypass it)");
    sub->add_flag_callback(
        "--discard", [&inv] { inv.discard = true; },
        "Pass discards down to the device (the header stores allow_discards)");
    sub->add_flag("--erase", inv.erase,
                  "Write zeros through the new mapping over the whole device before making the "
                  "filesystem, so that old data and free space read as ciphertext (takes as long "
                  "as writing the disk; Ctrl-C on the terminal cancels)");
}

// "on" or "off", for tune.
void addSwitch(CLI::App* sub, const std::string& name, std::optional<bool>& into,
               const std::string& description)
{
    sub->add_option_function<std::string>(
           name, [&into](const std::string& value) { into = value == "on"; }, description)
        ->type_name("on|off")
        ->check(CLI::IsMember({"on", "off"}));
}

void addTune(CLI::App& app, Targets& targets)
{
    Invocation& inv = targets.invocation;
    CLI::App* sub = addVerb(app, targets, Verb::tune,
                            "Show or change the dm-crypt options a LUKS2 header keeps for every "
                            "unlock after this one");
    addDevice(sub, targets, "The volume, or its mapping name");
    addSwitch(sub, "--read-workqueue", inv.readWorkqueue,
              "on: decrypt reads on dm-crypt's workqueue; off: where they complete (vaultd's "
              "default)");
    addSwitch(sub, "--write-workqueue", inv.writeWorkqueue,
              "on: encrypt writes on dm-crypt's workqueue (vaultd's default); off: in the "
              "submitting context");
    addSwitch(sub, "--discard", inv.discard, "on: pass discards down to the device");
}

void addUnlock(CLI::App& app, Targets& targets)
{
    CLI::App* sub = addVerb(app, targets, Verb::unlock,
                            "Open the mapping of a volume, and mount it if asked; one bound to "
                            "tang (vaultctl bind) opens with the key server's key if it can, else "
                            "with the passphrase");
    addDevice(sub, targets, "The volume to unlock");
    sub->add_option(
           "--name", targets.invocation.mappingName,
           "The mapping name, /dev/mapper/NAME (default: the EBS volume id, else luks-KERNELNAME)")
        ->type_name("NAME");
    // An optional value: "--mount" alone means vaultd's default mount point. Give DEVICE first
    // or write --mount=PATH, since a bare word after --mount is taken as its PATH.
    targets.mountOption =
        sub->add_option("--mount", targets.mountValue,
                        "Mount after unlocking, at PATH (default /media/vault/NAME)")
            ->expected(0, 1)
            ->type_name("[=PATH]");
    addKeyFile(sub, targets,
               "Read the passphrase from FILE, exact bytes; - is standard input (no key server "
               "is asked)");
    sub->add_flag("--token", targets.token,
                  "Open only with the key the volume's clevis tokens get from their key server "
                  "(tang); never ask for the passphrase");
    sub->add_flag("--no-token", targets.noToken,
                  "Do not ask the key server; go straight to the passphrase");
}

void addMount(CLI::App& app, Targets& targets)
{
    CLI::App* sub =
        addVerb(app, targets, Verb::mount, "Mount the filesystem of an unlocked volume");
    addDevice(sub, targets, "The unlocked volume");
    sub->add_option("PATH", targets.invocation.mountPoint,
                    "Where to mount (default /media/vault/NAME)")
        ->type_name("");
}

void addWait(CLI::App& app, Targets& targets)
{
    Invocation& inv = targets.invocation;
    CLI::App* sub = addVerb(app, targets, Verb::wait,
                            "Wait until the device of a configured volume is mounted (or, with "
                            "--unlocked, unlocked), as vaultd opens it when it is attached");
    sub->add_option("NAME", inv.volumeName,
                    "The configured volume, /etc/vaultd/volumes.d/NAME.toml")
        ->required()
        ->type_name("")
        ->check(CLI::Validator(checkVolumeName, ""));
    sub->add_option("--timeout", inv.timeoutSeconds,
                    "Give up after SECONDS, and fail (default 0: wait for ever)")
        ->type_name("SECONDS")
        ->check(CLI::Validator(checkSecondsValue, ""));
    sub->add_flag("--unlocked", inv.unlocked, "Unlocked is enough: do not wait for the mount");
}

void buildApp(CLI::App& app, Targets& targets)
{
    app.set_version_flag("--version", std::string(programName) + " " + VAULTD_VERSION);
    app.add_flag("--json", targets.invocation.json,
                 "Print JSON on standard output, and failures as JSON on standard error");
    // A callback rather than a negated flag, which CLI11 would show as
    // "--no-ask-password{false}".
    app.add_flag_callback(
        "--no-ask-password", [&targets] { targets.invocation.askPassword = false; },
        "Never start a polkit agent to ask for an administrator's password");
    // So that "vaultctl list --json" works as well as "vaultctl --json list".
    app.fallthrough();
    app.require_subcommand(1);
    app.footer(exitCodeHelp());

    addVerb(app, targets, Verb::list, "List volumes");
    addDevice(addVerb(app, targets, Verb::status, "Show every property of a volume"), targets,
              "The volume");
    addFormat(app, targets);
    addUnlock(app, targets);
    addMount(app, targets);
    addDevice(addVerb(app, targets, Verb::unmount,
                      "Unmount the filesystem of a volume; the mapping stays open"),
              targets, "The mounted volume");
    CLI::App* lock =
        addVerb(app, targets, Verb::lock, "Unmount, close the mapping and forget the key");
    addDevice(lock, targets, "The volume, or its mapping name");
    lock->add_flag("--lazy", targets.invocation.lazy,
                   "Do not refuse while it is in use: detach the mounts now and close the mapping "
                   "when the last user lets go (the key stays in the kernel until then)");
    CLI::App* grow = addVerb(app, targets, Verb::grow,
                             "Enlarge an unlocked volume's mapping and filesystem to fill its "
                             "device, after the device grew; mounted or not");
    addDevice(grow, targets, "The unlocked volume, or its mapping name");

    CLI::App* header = app.add_subcommand("header", "LUKS header backups, restore and repair");
    header->require_subcommand(1);
    addNested(header, targets, Verb::headerList, "List the header backups vaultd keeps");
    CLI::App* backup = addNested(header, targets, Verb::headerBackup,
                                 "Write a backup of a volume's LUKS header to FILE");
    addDevice(backup, targets, "The volume, or its mapping name");
    backup
        ->add_option("FILE", targets.invocation.headerFile,
                     "The file to write; it must not exist yet (made with mode 0600)")
        ->required()
        ->type_name("");
    CLI::App* restore =
        addNested(header, targets, Verb::headerRestore,
                  "Write the header backup in FILE over a locked volume's header; the data is "
                  "not touched");
    addDevice(restore, targets, "The locked volume");
    restore->add_option("FILE", targets.invocation.headerFile, "The header backup to read")
        ->required()
        ->type_name("");
    restore
        ->add_option("--force", targets.invocation.force,
                     "Restore although the device names another LUKS UUID, or none; NODE:SIZE "
                     "must name its node and size in bytes")
        ->type_name("NODE:SIZE")
        ->check(CLI::Validator(checkForceValue, ""));
    addDevice(addNested(header, targets, Verb::headerRepair,
                        "Rewrite the damaged copy of a LUKS2 header from the intact one, after "
                        "keeping a backup"),
              targets, "The volume, or its mapping name");

    addKeyslots(app, targets);
    CLI::App* recovery = addVerb(app, targets, Verb::recoveryKey,
                                 "Make a recovery key in a keyslot of its own, and show it once");
    addDevice(recovery, targets, "The volume, or its mapping name");
    addKeyFile(recovery, targets,
               "Read a passphrase that opens the volume now from FILE, exact bytes; - is "
               "standard input");
    addBinding(app, targets);
    addVerb(app, targets, Verb::reload,
            "Read the configured volumes (/etc/vaultd/volumes.d) again, and open the attached "
            "ones they say to open; a file that cannot be used is reported and skipped");
    grow->add_option("--key-file", targets.invocation.keyFile,
                     "Read the passphrase from FILE if vaultd needs it (a volume it did not "
                     "unlock); - is standard input")
        ->type_name("FILE");
    addWait(app, targets);
    addTune(app, targets);
    addVerb(app, targets, Verb::doctor,
            "Check what vaultd needs here (dm-crypt, AES, the daemon, polkit, the group 'vault', "
            "memory for key derivation) and print a fix for each missing piece");
}

// CLI11 starts some messages with a capital; ours start lower case. Acronyms stay as they are.
std::string lowerFirst(std::string text)
{
    bool word =
        text.size() == 1 || (text.size() > 1 && !std::isupper(static_cast<unsigned char>(text[1])));
    if (word && std::isupper(static_cast<unsigned char>(text[0])))
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

// CLI11 asks for "a subcommand" when the first word is not one of ours; say which word.
std::string usageProblem(const CLI::App& app, const CLI::ParseError& error)
{
    if (app.get_subcommands().empty() && !app.remaining().empty())
        return fmt::format("unknown command '{}'", app.remaining().front());
    return lowerFirst(error.what());
}

// The deepest command given so far, e.g. "see 'vaultctl keyslot remove --help'".
std::string helpHint(const CLI::App& app)
{
    std::string command(programName);
    for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
        at = at->get_subcommands().front();
        command += " " + at->get_name();
    }
    return fmt::format("see '{} --help'", command);
}

ParseOutcome outcomeOfError(const CLI::App& app, const CLI::ParseError& error)
{
    ParseOutcome outcome;
    std::ostringstream out;
    std::ostringstream err;

    // Help and version arrive as "errors" with exit code 0; CLI11 formats those best itself.
    if (app.exit(error, out, err) == 0) {
        outcome.output = out.str();
        return outcome;
    }

    outcome.exitCode = exitUsage;
    outcome.error = fmt::format("{}: {}; {}", programName, usageProblem(app, error), helpHint(app));
    return outcome;
}

void finishUnlock(Targets& targets)
{
    Invocation& inv = targets.invocation;
    if (inv.verb != Verb::unlock || targets.mountOption->count() == 0)
        return;

    inv.mount = true;
    if (!targets.mountValue.empty())
        inv.mountPoint = targets.mountValue;
}

void finishToken(Targets& targets)
{
    if (targets.token)
        targets.invocation.tokenUse = TokenUse::only;
    else if (targets.noToken)
        targets.invocation.tokenUse = TokenUse::never;
}

// Standard input holds one secret: it cannot be both the one that opens the volume and the new.
// --token takes the key from the key server alone, so neither a key file nor --no-token goes
// with it.
std::string conflictingOptions(const Targets& targets)
{
    const Invocation& inv = targets.invocation;
    if (inv.keyFile == "-" && inv.newKeyFile == "-")
        return "--key-file and --new-key-file cannot both be - (standard input holds one secret)";
    if (targets.token && targets.noToken)
        return "--token and --no-token contradict each other";
    if (targets.token && inv.keyFile)
        return "--token and --key-file cannot be used together (with --token the key server "
               "gives the key)";
    return {};
}

}  // namespace

std::string_view verbName(Verb verb)
{
    switch (verb) {
    case Verb::list: return "list";
    case Verb::status: return "status";
    case Verb::format: return "format";
    case Verb::unlock: return "unlock";
    case Verb::mount: return "mount";
    case Verb::unmount: return "unmount";
    case Verb::lock: return "lock";
    case Verb::grow: return "grow";
    case Verb::headerList: return "header list";
    case Verb::headerBackup: return "header backup";
    case Verb::headerRestore: return "header restore";
    case Verb::headerRepair: return "header repair";
    case Verb::keyslotList: return "keyslot list";
    case Verb::keyslotAdd: return "keyslot add";
    case Verb::keyslotChange: return "keyslot change";
    case Verb::keyslotRemove: return "keyslot remove";
    case Verb::recoveryKey: return "recovery-key";
    case Verb::bind: return "bind";
    case Verb::unbind: return "unbind";
    case Verb::reload: return "reload";
    case Verb::wait: return "wait";
    case Verb::tune: return "tune";
    case Verb::doctor: return "doctor";
    }
    return "?";
}

ParseOutcome parseCommandLine(const std::vector<std::string>& args)
{
    CLI::App app{"Encrypted block storage through vaultd.", std::string(programName)};
    Targets targets;
    buildApp(app, targets);

    // CLI11 takes its arguments last first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& error) {
        ParseOutcome outcome = outcomeOfError(app, error);
        // A script that asked for JSON gets its usage errors so too, even when the line did not
        // parse far enough to reach the flag.
        outcome.json = std::find(args.begin(), args.end(), "--json") != args.end();
        return outcome;
    }

    finishUnlock(targets);
    finishToken(targets);
    if (auto problem = conflictingOptions(targets); !problem.empty()) {
        ParseOutcome outcome;
        outcome.exitCode = exitUsage;
        outcome.error = fmt::format("{}: {}; see '{} {} --help'", programName, problem, programName,
                                    verbName(targets.invocation.verb));
        outcome.json = targets.invocation.json;
        return outcome;
    }
    ParseOutcome outcome;
    outcome.invocation = std::move(targets.invocation);
    return outcome;
}

}  // namespace vaultctl
