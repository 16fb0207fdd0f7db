// Counts what came back: calls per category, replies per error name (and
// the first message seen with each), every success, and the findings: a
// success where the interface XML says an error is due, a call that got no
// reply in time, a mount where none belongs. Successes on the standard
// interfaces, which sd-bus serves, are kept apart from vaultd's own.
// Not thread safe.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "call.hpp"

namespace vaultd::fuzz {

inline constexpr const char* kSteering = "steering";

class Tally {
public:
    void record(const Call& call, const Outcome& out);
    void noteMountViolation(const std::string& what) { mountViolations_.push_back(what); }

    // Hostile calls that left this process (steering is not hostile).
    unsigned long hostileSent() const;
    unsigned long mustFailSuccesses() const { return mustFailSuccesses_.size(); }
    unsigned long hangs() const { return hangs_.size(); }
    unsigned long mountViolations() const { return mountViolations_.size(); }
    const std::vector<std::string>& steeringFailures() const { return steeringFailures_; }

    void print(std::FILE* out) const;

private:
    struct Category {
        unsigned long sent = 0;     // left this process, a reply expected or not
        unsigned long notSent = 0;  // refused by sd-bus while building
        unsigned long success = 0;
        unsigned long error = 0;
        unsigned long noReply = 0;  // NO_REPLY_EXPECTED
        unsigned long dropped = 0;  // the bus hung up on us instead
        double seconds = 0;
        std::map<std::string, unsigned long> errors;
    };

    std::map<std::string, Category> categories_;
    std::map<std::string, unsigned long> replies_;  // error name -> count, hostile calls
    std::map<std::string, std::string> firstMessage_;
    std::map<std::string, unsigned long> notSent_;  // client-side refusals by name
    std::map<std::string, std::string> firstNotSent_;
    std::map<std::string, unsigned long> successes_;        // "category member" -> count
    std::map<std::string, unsigned long> volumeSuccesses_;  // described call -> count
    std::vector<std::string> mustFailSuccesses_;
    std::vector<std::string> lenientStandard_;  // the same, on sd-bus's own interfaces
    std::vector<std::string> hangs_;
    std::vector<std::string> dropped_;
    std::vector<std::string> mountViolations_;
    std::vector<std::string> steeringFailures_;
};

}  // namespace vaultd::fuzz
