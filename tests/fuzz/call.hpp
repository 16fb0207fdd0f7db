// One call as a generator means it: where it goes, its arguments (any types,
// any count), and what the interface XML lets us expect of the reply. Plain
// data; not thread safe.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hostile_fd.hpp"

namespace vaultd::fuzz {

inline constexpr const char* kService = "org.vaultd.Vault1";
inline constexpr const char* kManagerPath = "/org/vaultd/Vault1";
inline constexpr const char* kManagerInterface = "org.vaultd.Vault1.Manager";
inline constexpr const char* kVolumeInterface = "org.vaultd.Vault1.Volume";
inline constexpr const char* kPropertiesInterface = "org.freedesktop.DBus.Properties";

struct Arg {
    std::string signature;  // D-Bus signature of what put() appends
    std::string shown;      // for the report, already short
    std::function<void(sdbus::Message&)> put;
};

// An argument of any type sdbus-c++ can serialise.
template <typename T>
Arg arg(T value, std::string shown)
{
    return Arg{sdbus::signature_of<T>::str(), std::move(shown),
               [value = std::move(value)](sdbus::Message& m) { m << value; }};
}

// A passphrase argument; the descriptor lives as long as the Call.
Arg fdArg(const std::shared_ptr<HostileFd>& fd);
// A string argument, shown quoted, escaped and cut short.
Arg stringArg(const std::string& value);

struct Call {
    std::string category;
    std::string path;
    std::string interface;
    std::string member;
    std::vector<Arg> args;
    // The interface XML says this must fail: a success reply is a finding.
    bool mustFail = false;
    // Sent with NO_REPLY_EXPECTED; only that it went out is counted.
    bool noReply = false;
    // Changes the target (a Volume method on it): look at it again after success.
    bool mutating = false;
    // Run on a success reply, e.g. a Format that set a new passphrase.
    std::function<void()> onSuccess;
    // Descriptors (and their writer threads) that must outlive the reply.
    std::vector<std::shared_ptr<HostileFd>> fds;

    // Served by sd-bus itself (Properties, Introspectable, Peer, ObjectManager).
    bool standard() const { return interface.starts_with("org.freedesktop.DBus."); }
    std::string signature() const;
    std::string describe() const;
};

// @s quoted for a report: non-printable bytes as \xNN, long ones cut with
// their length noted.
std::string shownString(const std::string& s);

}  // namespace vaultd::fuzz
