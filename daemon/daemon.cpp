#include "daemon.hpp"

#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <fmt/format.h>
#include <sdbus-c++/sdbus-c++.h>

#include <ctime>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>

#include "bus/bus_loop.hpp"
#include "bus/manager_object.hpp"
#include "bus/systemd_units.hpp"
#include "system/processes.hpp"
#include "bus/volume_service.hpp"
#include "system/clevis.hpp"
#include "system/crypt.hpp"
#include "system/header_store.hpp"
#include "system/host_namespace.hpp"
#include "system/kernel_view.hpp"
#include "system/log.hpp"
#include "system/mkfs.hpp"
#include "system/mount_points.hpp"
#include "system/mounter.hpp"
#include "system/passphrase_quality.hpp"
#include "volume_config.hpp"
#include "system/udev_monitor.hpp"
#include "system/unlock_records.hpp"

namespace vaultd {
namespace {

namespace asio = boost::asio;

// Calls @onReadable each time a descriptor that some library owns becomes
// readable. The descriptor is duplicated so Asio never closes the library's.
class ReadWatch {
public:
    ReadWatch(asio::io_context& io, int fd, std::function<void()> onReadable)
        : descriptor_(io, ::dup(fd)), onReadable_(std::move(onReadable))
    {
        wait();
    }

private:
    void wait()
    {
        descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                               [this](const boost::system::error_code& ec) {
                                   if (ec)
                                       return;
                                   onReadable_();
                                   wait();
                               });
    }

    asio::posix::stream_descriptor descriptor_;
    std::function<void()> onReadable_;
};

// How long before @mainStarted the process began (exec, the dynamic linker,
// static constructors), from /proc/self/stat's start time: clock ticks
// since boot, so to a tick (10 ms).
std::optional<std::chrono::milliseconds> sinceExec(
    std::chrono::steady_clock::time_point mainStarted)
{
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // The command name, in parentheses, may hold spaces: count fields after it.
    const auto close = text.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    // Field 22 of the line is the start time; the state is field 3.
    for (int i = 3; i < 22 && fields >> field; ++i) {}
    unsigned long long ticks = 0;
    timespec boot{};
    if (!(fields >> ticks) || clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
        return std::nullopt;
    const long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return std::nullopt;
    using namespace std::chrono;
    const auto started = milliseconds(ticks * 1000 / static_cast<unsigned long long>(hz));
    const auto now = duration_cast<milliseconds>(seconds(boot.tv_sec) + nanoseconds(boot.tv_nsec));
    const auto atMain = now - duration_cast<milliseconds>(steady_clock::now() - mainStarted);
    if (atMain < started)
        return milliseconds(0);
    return atMain - started;
}

}  // namespace

struct Daemon::Parts {
    explicit Parts(engine::EngineConfig config)
        : operations({kernel, crypt, hostMounter, hostMountPoints, tools, records, processes,
                      headers, quality, units, keyServers},
                     std::move(config)),
          firstScan(std::async(std::launch::async,
                               [this] {
                                   const auto started = std::chrono::steady_clock::now();
                                   bus::VolumeService::EarlyScan early{
                                       operations.scan(engine::ScanSource::UdevDatabase), {}};
                                   early.took =
                                       std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started);
                                   return early;
                               })),
          connection(sdbus::createSystemBusConnection()),
          busLoop(io, *connection),
          service(io, *connection, operations, busLoop),
          manager(*connection, service),
          udevWatch(io, udevMonitor.fd(), [this] { onDeviceEvents(); }),
          mountWatch(io, mountMonitor.fd(), [this] { onMountChange(); }),
          signals(io, SIGTERM, SIGINT, SIGHUP)
    {
    }

    void onDeviceEvents()
    {
        for (const auto& e : udevMonitor.drain()) {
            log::debug(fmt::format("udev: {} {}", e.action, e.name));
            // Only a whole disk's removal: a partition goes whenever its
            // table is re-read, and its event may carry the disk's number.
            if (e.action == "remove" && e.disk)
                operations.noteDeparted(e.diskseq);
        }
        service.requestScan();
    }

    void onMountChange()
    {
        if (mountMonitor.drain())
            service.requestScan();
    }

    asio::io_context io;
    system::SystemKernelView kernel;
    system::LibCrypt crypt;
    system::LibMounter mounter;
    system::DirMountPoints mountPoints;
    system::HostNamespace host;
    system::HostMounter hostMounter{host, mounter};
    system::HostMountPoints hostMountPoints{host, mountPoints};
    system::SpawnedTools tools;
    system::RunDirUnlockRecords records;
    system::ProcProcesses processes;
    system::DirHeaderStore headers{"/var/lib/vaultd/headers", crypt};
    system::PwQuality quality;
    bus::SystemdUnits units{kUnitStopLimit};
    system::ClevisKeyServers keyServers{kKeyServerLimit};
    engine::Operations operations;
    // Listening before the first scan reads anything, so that no change is
    // missed between the two; the scan runs while vaultd connects to the bus.
    system::UdevMonitor udevMonitor;
    system::MountMonitor mountMonitor;
    std::future<bus::VolumeService::EarlyScan> firstScan;
    std::unique_ptr<sdbus::IConnection> connection;
    bus::BusLoop busLoop;
    bus::VolumeService service;
    bus::ManagerObject manager;
    ReadWatch udevWatch;
    ReadWatch mountWatch;
    asio::signal_set signals;
};

Daemon::Daemon(engine::EngineConfig config, Clock::time_point mainStarted)
    : mainStarted_(mainStarted), parts_(std::make_unique<Parts>(std::move(config)))
{
    setUp_ = Clock::now() - mainStarted_;
}

Daemon::~Daemon() = default;

void Daemon::waitForSignals()
{
    Parts& p = *parts_;
    p.signals.async_wait([this, &p](const boost::system::error_code& ec, int signal) {
        if (ec)
            return;
        if (signal == SIGHUP) {
            log::info("reloading the configured volumes on SIGHUP");
            p.service.reloadConfiguration();
            waitForSignals();
            return;
        }
        if (stopping_ || !p.operations.config().lockOnStop) {
            log::info(fmt::format("stopping on signal {}", signal));
            p.io.stop();
            return;
        }
        // A second signal stops at once.
        stopping_ = true;
        waitForSignals();
        log::info(fmt::format("stopping on signal {}: locking what vaultd unlocked", signal));
        p.service.lockAll(kLockOnStopLimit, [&p] { p.io.stop(); });
    });
}

int Daemon::run()
{
    Parts& p = *parts_;
    waitForSignals();
    p.service.setConfigurationLoader([dir = p.operations.config().volumesDirectory] {
        return loadVolumeDirectory(dir, SystemUsers{});
    });
    p.service.whenConfigured(
        [&p](const std::string& path, const engine::ConfiguredVolume& c,
             const engine::UnlockResult& r) { p.manager.announceConfigured(path, c, r); },
        [&p](const std::string& path, const engine::ConfiguredVolume& c, const engine::Error& e) {
            p.manager.announceConfiguredFailed(path, c, e);
        });
    // Read before the first scan ends (both run on the prober), so that the
    // volumes attached at start are opened like those attached later.
    p.service.reloadConfiguration();

    // The name is taken only once the first scan's objects exist, so a client
    // that finds the name also finds every volume.
    p.service.whenLost([&p](const engine::LostMapping& lost) { p.manager.announceLost(lost); });
    p.service.whenReady([this, &p](const bus::VolumeService::FirstScan& first) {
        p.connection->requestName(bus::kBusName);
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        const auto sinceMain = duration_cast<milliseconds>(Clock::now() - mainStarted_);
        const auto exec = sinceExec(mainStarted_);
        const std::string beforeMain =
            exec ? fmt::format(" (and about {} ms from exec to main)", exec->count()) : "";
        log::info(
            fmt::format("ready: owns {} with {} volumes, {} ms after main{}: set-up {} ms, "
                        "first scan {} ms (beside the set-up), its objects {} ms",
                        bus::kBusName, first.volumes, sinceMain.count(), beforeMain,
                        duration_cast<milliseconds>(setUp_).count(), first.scan.count(),
                        first.objects.count()));
        sd_notify(0, "READY=1");
    });
    p.service.startWith(std::move(p.firstScan));
    p.service.requestScan();
    p.busLoop.start();
    p.io.run();

    sd_notify(0, "STOPPING=1");
    p.service.shutdown();
    return 0;
}

}  // namespace vaultd
