#include "bus/job_object.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bus/authorizer.hpp"
#include "bus/bus_error.hpp"
#include "engine/error.hpp"

namespace vaultd::bus {
namespace {

constexpr auto kRefresh = std::chrono::milliseconds(250);
constexpr const char* kInterface = org::vaultd::Vault1::Job_adaptor::INTERFACE_NAME;

std::uint64_t microsecondsSinceEpoch(std::chrono::system_clock::time_point t)
{
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

}  // namespace

void JobProgress::stage(std::string_view name, double from, double to,
                        std::chrono::milliseconds expected)
{
    std::lock_guard hold(lock_);
    now_.stage = name;
    now_.from = std::clamp(from, 0.0, 1.0);
    now_.to = std::clamp(to, now_.from, 1.0);
    now_.expected = expected;
    now_.stageStart = Clock::now();
    now_.done = now_.total = 0;
}

void JobProgress::bytes(std::uint64_t done, std::uint64_t total)
{
    std::lock_guard hold(lock_);
    now_.done = std::min(done, total);
    now_.total = total;
}

void JobProgress::setCancellable(bool cancellable)
{
    std::lock_guard hold(lock_);
    now_.cancellable = cancellable;
    if (!cancellable)
        cancel_ = false;  // a request made too late does not carry over
}

bool JobProgress::requestCancel()
{
    std::lock_guard hold(lock_);
    if (!now_.cancellable)
        return false;
    cancel_ = true;
    return true;
}

JobProgress::Snapshot JobProgress::snapshot() const
{
    std::lock_guard hold(lock_);
    return now_;
}

JobFigures figuresOf(const JobProgress::Snapshot& s, JobProgress::Clock::time_point now,
                     std::chrono::system_clock::time_point wallNow)
{
    using namespace std::chrono;
    JobFigures f;
    f.stage = s.stage;
    f.cancellable = s.cancellable;
    const double span = s.to - s.from;
    const auto elapsed = duration_cast<milliseconds>(now - s.stageStart);
    double within = 0;
    if (s.total > 0) {
        within = static_cast<double>(s.done) / static_cast<double>(s.total);
        f.bytesDone = s.done;
        f.bytesTotal = s.total;
        if (elapsed.count() > 0 && s.done > 0) {
            f.rate = static_cast<std::uint64_t>(static_cast<double>(s.done) * 1000.0 /
                                                static_cast<double>(elapsed.count()));
            if (f.rate > 0)
                f.expectedEnd = wallNow + milliseconds((s.total - s.done) * 1000 / f.rate);
        }
    } else if (s.expected.count() > 0) {
        // Never past the stage's share: a derivation may take longer.
        within = std::min(
            0.99, static_cast<double>(elapsed.count()) / static_cast<double>(s.expected.count()));
        if (elapsed < s.expected)
            f.expectedEnd = wallNow + (s.expected - elapsed);
    }
    f.fraction = s.from + span * within;
    return f;
}

std::string jobPath(std::uint64_t number)
{
    return fmt::format("/org/vaultd/Vault1/job/{}", number);
}

JobObject::JobObject(sdbus::IConnection& connection, boost::asio::io_context& loop,
                     std::uint64_t number, std::string operation, std::string volume,
                     uid_t startedBy, std::function<void()> poke)
    : AdaptorInterfaces(connection, jobPath(number)),
      timer_(loop),
      poke_(std::move(poke)),
      operation_(std::move(operation)),
      volume_(std::move(volume)),
      startedBy_(startedBy),
      startTime_(microsecondsSinceEpoch(std::chrono::system_clock::now()))
{
    registerAdaptor();
    emitInterfacesAddedSignal();
    tick();
}

JobObject::~JobObject()
{
    timer_.cancel();
    try {
        emitInterfacesRemovedSignal();
    } catch (const sdbus::Error&) {
        // The bus is gone; nobody is left to tell.
    }
    unregisterAdaptor();
}

uint64_t JobObject::ExpectedEnd()
{
    if (shown_.expectedEnd == std::chrono::system_clock::time_point{})
        return 0;
    return microsecondsSinceEpoch(shown_.expectedEnd);
}

void JobObject::tick()
{
    timer_.expires_after(kRefresh);
    timer_.async_wait([this](const boost::system::error_code& error) {
        if (error || done_)
            return;
        refresh();
        tick();
    });
}

void JobObject::refresh()
{
    JobFigures now = figuresOf(progress_->snapshot(), JobProgress::Clock::now(),
                               std::chrono::system_clock::now());
    std::vector<std::string> changed;
    auto note = [&changed](bool differs, const char* property) {
        if (differs)
            changed.emplace_back(property);
    };
    note(now.stage != shown_.stage, "Stage");
    note(now.fraction != shown_.fraction, "Fraction");
    note(now.bytesDone != shown_.bytesDone, "BytesDone");
    note(now.bytesTotal != shown_.bytesTotal, "BytesTotal");
    note(now.rate != shown_.rate, "Rate");
    note(now.expectedEnd != shown_.expectedEnd, "ExpectedEnd");
    note(now.cancellable != shown_.cancellable, "Cancellable");
    shown_ = std::move(now);
    if (changed.empty())
        return;
    try {
        emitPropertiesChangedSignal(kInterface, changed);
    } catch (const sdbus::Error&) {
        return;
    }
    poke_();
}

void JobObject::complete(bool success, const std::string& message)
{
    refresh();
    done_ = true;
    timer_.cancel();
    if (success && shown_.fraction != 1.0) {
        shown_.fraction = 1.0;
        shown_.cancellable = false;
        try {
            emitPropertiesChangedSignal(kInterface, {"Fraction", "Cancellable"});
        } catch (const sdbus::Error&) {
        }
    }
    try {
        emitCompleted(success, message);
    } catch (const sdbus::Error&) {
    }
    poke_();
}

void JobObject::Cancel(const std::map<std::string, sdbus::Variant>& options)
{
    auto fail = [](engine::ErrorCode code, std::string message) {
        throw toBusError(engine::makeError(code, std::move(message)));
    };
    for (const auto& [key, value] : options) {
        if (key != "interactive")
            fail(engine::ErrorCode::InvalidArgument, fmt::format("unknown option '{}'", key));
    }
    auto caller = callerOf(getObject().getCurrentlyProcessedMessage());
    if (!caller)
        throw toBusError(caller.error());
    if (caller.value().uid != 0 && caller.value().uid != startedBy_)
        fail(engine::ErrorCode::NotAuthorized,
             fmt::format("only the caller that started this {} (uid {}) or root may cancel it",
                         operation_, startedBy_));
    if (done_ || !progress_->requestCancel())
        fail(engine::ErrorCode::WrongState,
             fmt::format("this {} cannot be cancelled now ({}); only erasing can stop safely",
                         operation_, shown_.stage.empty() ? "starting" : shown_.stage));
    // The next tick shows it: poking the bus from inside its own callback
    // would process it re-entrantly.
}

}  // namespace vaultd::bus
