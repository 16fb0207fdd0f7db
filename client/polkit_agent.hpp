// A polkit text authentication agent for this process only, as udisksctl
// does: pkttyagent, registered for our pid, asks for a password on the
// terminal when vaultd's polkit check needs one. Started on demand, stopped
// when the object dies. Not thread safe.
#pragma once

#include <sys/types.h>

namespace vaultctl {

class PolkitAgent {
public:
    // Starts pkttyagent and waits until it has registered; throws
    // CommandError when it cannot.
    PolkitAgent();
    ~PolkitAgent();
    PolkitAgent(const PolkitAgent&) = delete;
    PolkitAgent& operator=(const PolkitAgent&) = delete;

    // Whether a person could answer a prompt: there is a terminal to ask on.
    static bool canAsk();

private:
    pid_t pid_ = -1;
};

}  // namespace vaultctl
