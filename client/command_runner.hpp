// CommandRunner carries out one parsed Invocation against vaultd and prints the result to its
// output stream; every failure becomes one "vaultctl: ..." line on its error stream and an exit
// code (see errors.hpp). Not thread safe.
#pragma once

#include "cli.hpp"
#include "output.hpp"
#include "vault_client.hpp"

#include <sdbus-c++/Error.h>

#include <iosfwd>
#include <string>

namespace vaultctl {

class CommandRunner {
public:
    CommandRunner(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

    // Connects to the system bus and runs @invocation. Never throws; returns the exit code.
    int run(const Invocation& invocation);

private:
    void dispatch(VaultClient& client, const Invocation& invocation);
    void list(VaultClient& client, const Invocation& invocation);
    void status(VaultClient& client, const Invocation& invocation);
    // Runs @call; if vaultd answers that authentication would allow it and a
    // person can be asked, starts a polkit text agent and runs @call again.
    template <typename Call>
    auto authenticating(VaultClient& client, const Invocation& invocation, Call call);

    void format(VaultClient& client, const Invocation& invocation);
    void unlock(VaultClient& client, const Invocation& invocation);
    void mount(VaultClient& client, const Invocation& invocation);
    void unmount(VaultClient& client, const Invocation& invocation);
    void lock(VaultClient& client, const Invocation& invocation);
    void grow(VaultClient& client, const Invocation& invocation);
    void headerList(VaultClient& client, const Invocation& invocation);
    void headerBackup(VaultClient& client, const Invocation& invocation);
    void headerRestore(VaultClient& client, const Invocation& invocation);
    void headerRepair(VaultClient& client, const Invocation& invocation);
    void tune(VaultClient& client, const Invocation& invocation);
    void keyslotList(VaultClient& client, const Invocation& invocation);
    void keyslotAdd(VaultClient& client, const Invocation& invocation);
    void keyslotChange(VaultClient& client, const Invocation& invocation);
    using KeyslotCall = std::uint32_t (VaultClient::*)(const std::string&, UniqueFd, UniqueFd,
                                                       const KeyRequest&);
    void keyslotWithNewSecret(VaultClient& client, const Invocation& invocation,
                              const char* openingWord, KeyslotCall call);
    void keyslotRemove(VaultClient& client, const Invocation& invocation);
    void recoveryKey(VaultClient& client, const Invocation& invocation);
    void bind(VaultClient& client, const Invocation& invocation);
    void unbind(VaultClient& client, const Invocation& invocation);
    void reload(VaultClient& client, const Invocation& invocation);
    void wait(VaultClient& client, const Invocation& invocation);
    // Needs no vaultd: a missing one is one of the findings. Returns the exit code.
    int doctor(const Invocation& invocation);

    void report(const Invocation& invocation, const ActionReport& action);
    // Prints one failure: a sentence, or with --json an object that also
    // names the D-Bus error (empty @errorName: vaultctl's own).
    int fail(const Invocation& invocation, int exitCode, const std::string& errorName,
             const std::string& message);
    int failFromBus(const Invocation& invocation, const sdbus::Error& error);

    std::ostream& out_;
    std::ostream& err_;
};

}  // namespace vaultctl
