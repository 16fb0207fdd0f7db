#include "bus_client.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace vaultd::fuzz {
namespace {

constexpr const char* kBus = "org.freedesktop.DBus";
constexpr const char* kBusPath = "/org/freedesktop/DBus";

bool isHangUp(const std::string& name)
{
    return name == "org.freedesktop.DBus.Error.Disconnected" || name == "System.Error.ENOTCONN" ||
           name == "System.Error.ECONNRESET" || name == "System.Error.EPIPE";
}

// What a success carried, for the report: Resolve's path, Mount's point.
std::string firstValue(sdbus::MethodReply& reply)
{
    std::string type, contents;
    reply.peekType(type, contents);
    std::string value;
    if (type == "s") {
        reply >> value;
    } else if (type == "o") {
        sdbus::ObjectPath path;
        reply >> path;
        value = path;
    }
    return value;
}

// Errors that may mean our connection is gone rather than a reply.
bool mayBeDropped(const std::string& name)
{
    return name.starts_with("System.Error.") || name.find("Disconnected") != std::string::npos ||
           name.find("NoReply") != std::string::npos ||
           name.find("LimitsExceeded") != std::string::npos;
}

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BusClient::BusClient() : connection_(sdbus::createSystemBusConnection()) {}

void BusClient::guard(const Call& call) const
{
    if (!protected_.count(call.path))
        return;
    if (call.interface == kPropertiesInterface && (call.member == "Get" || call.member == "GetAll"))
        return;
    throw std::logic_error("refusing to send to a protected object: " + call.describe());
}

sdbus::IProxy& BusClient::proxyFor(const std::string& destination, const std::string& path)
{
    auto key = std::make_pair(destination, path);
    auto it = proxies_.find(key);
    if (it == proxies_.end()) {
        // Throws for a string that is not an object path; nothing is cached then.
        auto proxy = sdbus::createProxy(*connection_, destination, path);
        it = proxies_.emplace(key, std::move(proxy)).first;
    }
    return *it->second;
}

Outcome BusClient::send(const Call& call, std::chrono::microseconds timeout)
{
    guard(call);
    Outcome out = exchange(call, timeout);
    // Only now: the message is gone, and it must not outlive its connection.
    // A call sent without a reply cannot tell us the bus hung up on it, so
    // ask the bus right away, or the next call would take the blame.
    const bool doubtful = out.kind == Outcome::Kind::Sent ||
                          (out.kind == Outcome::Kind::Error && mayBeDropped(out.errorName));
    if (doubtful && reconnectIfDropped()) {
        out.kind = Outcome::Kind::Dropped;
        if (out.errorName.empty())
            out.errorName = "org.freedesktop.DBus.Error.Disconnected";
    } else if (out.kind == Outcome::Kind::Error && isHangUp(out.errorName)) {
        out.kind = Outcome::Kind::Dropped;
    }
    return out;
}

Outcome BusClient::exchange(const Call& call, std::chrono::microseconds timeout)
{
    Outcome out;
    sdbus::MethodCall message;
    try {
        message = proxyFor(kService, call.path).createMethodCall(call.interface, call.member);
        for (const auto& a : call.args)
            a.put(message);
        if (call.noReply)
            message.dontExpectReply();
    } catch (const sdbus::Error& e) {
        out.kind = Outcome::Kind::NotSent;
        out.errorName = e.getName();
        out.errorMessage = e.getMessage();
        return out;
    }

    const auto start = std::chrono::steady_clock::now();
    try {
        auto reply = message.send(static_cast<std::uint64_t>(timeout.count()));
        out.kind = call.noReply ? Outcome::Kind::Sent : Outcome::Kind::Success;
        if (!call.noReply)
            out.value = firstValue(reply);
    } catch (const sdbus::Error& e) {
        out.kind = Outcome::Kind::Error;
        out.errorName = e.getName();
        out.errorMessage = e.getMessage();
    }
    out.seconds = secondsSince(start);
    return out;
}

bool BusClient::reconnectIfDropped()
{
    // GetId, not Peer.Ping: the system bus's default policy refuses the latter.
    try {
        auto ask = proxyFor(kBus, kBusPath).createMethodCall(kBus, "GetId");
        (void)ask.send(5'000'000);
        return false;
    } catch (const sdbus::Error& e) {
        if (!isHangUp(e.getName()))
            return false;  // refused, but connected
    }
    proxies_.clear();
    connection_ = sdbus::createSystemBusConnection();
    ++reconnects_;
    return true;
}

PropertyMap BusClient::getAll(const std::string& path, const std::string& interface)
{
    PropertyMap props;
    proxyFor(kService, path)
        .callMethod("GetAll")
        .onInterface(kPropertiesInterface)
        .withArguments(interface)
        .storeResultsTo(props);
    return props;
}

ManagedObjects BusClient::managedObjects()
{
    ManagedObjects objects;
    proxyFor(kService, kManagerPath)
        .callMethod("GetManagedObjects")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .storeResultsTo(objects);
    return objects;
}

std::string BusClient::version()
{
    sdbus::Variant v;
    proxyFor(kService, kManagerPath)
        .callMethod("Get")
        .onInterface(kPropertiesInterface)
        .withArguments(std::string(kManagerInterface), std::string("Version"))
        .storeResultsTo(v);
    return v.get<std::string>();
}

pid_t BusClient::daemonPid()
{
    std::uint32_t pid = 0;
    proxyFor(kBus, kBusPath)
        .callMethod("GetConnectionUnixProcessID")
        .onInterface(kBus)
        .withArguments(std::string(kService))
        .storeResultsTo(pid);
    return static_cast<pid_t>(pid);
}

}  // namespace vaultd::fuzz
