#include "tally.hpp"

#include <fmt/format.h>

namespace vaultd::fuzz {
namespace {

constexpr std::size_t kListed = 40;

bool isHang(const std::string& name)
{
    return name == "org.freedesktop.DBus.Error.NoReply" ||
           name == "org.freedesktop.DBus.Error.Timeout" || name == "System.Error.ETIMEDOUT";
}

std::string replyText(const Outcome& out)
{
    if (out.kind == Outcome::Kind::Success)
        return out.value.empty() ? "success" : "success: " + shownString(out.value);
    return fmt::format("{}: {}", out.errorName, out.errorMessage.substr(0, 200));
}

void printList(std::FILE* f, const char* title, const std::vector<std::string>& items)
{
    fmt::print(f, "{}: {}\n", title, items.size());
    for (std::size_t i = 0; i < items.size() && i < kListed; ++i)
        fmt::print(f, "  {}\n", items[i]);
    if (items.size() > kListed)
        fmt::print(f, "  ... and {} more\n", items.size() - kListed);
}

}  // namespace

void Tally::record(const Call& call, const Outcome& out)
{
    Category& c = categories_[call.category];
    const bool steering = call.category == kSteering;
    switch (out.kind) {
    case Outcome::Kind::NotSent:
        ++c.notSent;
        ++notSent_[out.errorName];
        firstNotSent_.try_emplace(out.errorName, out.errorMessage + " [" + call.describe() + "]");
        return;
    case Outcome::Kind::Sent:
        ++c.sent;
        ++c.noReply;
        return;
    case Outcome::Kind::Dropped:
        ++c.dropped;
        dropped_.push_back(call.describe() + " -> " + out.errorName + ": " + out.errorMessage);
        return;
    case Outcome::Kind::Success:
        ++c.sent;
        ++c.success;
        ++successes_[call.category + " " + call.member];
        if (call.interface == kVolumeInterface)
            ++volumeSuccesses_[call.describe()];
        if (call.mustFail)
            (call.standard() ? lenientStandard_ : mustFailSuccesses_)
                .push_back(call.describe() + " -> " + replyText(out));
        break;
    case Outcome::Kind::Error:
        ++c.sent;
        ++c.error;
        ++c.errors[out.errorName];
        if (!steering) {
            ++replies_[out.errorName];
            firstMessage_.try_emplace(out.errorName, out.errorMessage.substr(0, 160));
        }
        if (isHang(out.errorName))
            hangs_.push_back(call.describe() + " -> " + replyText(out));
        if (steering)
            steeringFailures_.push_back(call.describe() + " -> " + replyText(out));
        break;
    }
    c.seconds += out.seconds;
}

unsigned long Tally::hostileSent() const
{
    unsigned long n = 0;
    for (const auto& [name, c] : categories_) {
        if (name != kSteering)
            n += c.sent;
    }
    return n;
}

void Tally::print(std::FILE* f) const
{
    fmt::print(f,
               "calls per category (sent: reached the bus and got a reply, or needed none; "
               "not-sent: refused by sd-bus client side; dropped: dbus-daemon hung up on us "
               "instead):\n");
    fmt::print(f, "  {:<16} {:>7} {:>9} {:>8} {:>8} {:>7} {:>9} {:>9}\n", "category", "sent",
               "not-sent", "dropped", "success", "error", "no-reply", "seconds");
    for (const auto& [name, c] : categories_)
        fmt::print(f, "  {:<16} {:>7} {:>9} {:>8} {:>8} {:>7} {:>9} {:>9.1f}\n", name, c.sent,
                   c.notSent, c.dropped, c.success, c.error, c.noReply, c.seconds);

    fmt::print(f, "replies per error name (hostile calls), with the first message seen:\n");
    for (const auto& [name, n] : replies_)
        fmt::print(f, "  {:>6}  {}  e.g. \"{}\"\n", n, name, firstMessage_.at(name));

    fmt::print(f, "errors per category:\n");
    for (const auto& [name, c] : categories_) {
        for (const auto& [error, n] : c.errors)
            fmt::print(f, "  {:<16} {:>6}  {}\n", name, n, error);
    }

    fmt::print(f, "refused client side by sd-bus (never sent), per error name:\n");
    for (const auto& [name, n] : notSent_)
        fmt::print(f, "  {:>6}  {}  e.g. \"{}\"\n", n, name, firstNotSent_.at(name).substr(0, 200));

    fmt::print(f, "success replies per category and member:\n");
    for (const auto& [what, n] : successes_)
        fmt::print(f, "  {:>6}  {}\n", n, what);
    fmt::print(f, "success replies to Volume methods (distinct calls: {}):\n",
               volumeSuccesses_.size());
    std::size_t shown = 0;
    for (const auto& [what, n] : volumeSuccesses_) {
        if (++shown > 2 * kListed) {
            fmt::print(f, "  ... and {} more distinct calls\n",
                       volumeSuccesses_.size() - shown + 1);
            break;
        }
        fmt::print(f, "  {:>4}x {}\n", n, what);
    }

    printList(f, "FINDING success where the interface XML says an error is due",
              mustFailSuccesses_);
    printList(f, "calls dbus-daemon hung up on (never reached vaultd)", dropped_);
    printList(f, "sd-bus's standard interfaces accepted calls the D-Bus spec would refuse",
              lenientStandard_);
    printList(f, "FINDING no reply in time", hangs_);
    printList(f, "FINDING mount outside the expected places", mountViolations_);
    printList(f, "steering calls that failed", steeringFailures_);
}

}  // namespace vaultd::fuzz
