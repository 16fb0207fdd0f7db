#include "bus/volume_service.hpp"

#include <malloc.h>

#include <boost/asio/steady_timer.hpp>

#include <algorithm>

#include "engine/resolve.hpp"

#include "bus/volume_object.hpp"
#include "system/log.hpp"
#include "system/secret_reader.hpp"

namespace vaultd::bus {

using log::Field;

VolumeService::VolumeService(boost::asio::io_context& loop, sdbus::IConnection& connection,
                             engine::Operations& operations, BusLoop& busLoop)
    : loop_(loop),
      connection_(connection),
      operations_(operations),
      busLoop_(busLoop),
      authorizer_(connection),
      healthTimer_(loop)
{
}

VolumeService::~VolumeService()
{
    shutdown();
}

engine::Error VolumeService::busyWith(const std::string& kernelName) const
{
    return engine::makeError(engine::ErrorCode::Busy,
                             fmt::format("another operation is running on '{}'", kernelName));
}

void VolumeService::cancelJobs()
{
    // An erase stops at its next block; nothing else can stop safely.
    for (auto& [number, job] : jobs_)
        job->cancelIfPossible();
}

void VolumeService::shutdown()
{
    healthTimer_.cancel();
    cancelJobs();
    workers_.join();
    prober_.join();
}

void VolumeService::startWith(std::future<EarlyScan> first)
{
    early_ = std::move(first);
}

void VolumeService::whenReady(std::function<void(const FirstScan&)> ready)
{
    ready_ = std::move(ready);
}

void VolumeService::whenLost(std::function<void(const engine::LostMapping&)> lost)
{
    lost_ = std::move(lost);
}

void VolumeService::tearDown(const std::vector<engine::LostMapping>& lost)
{
    std::set<std::string> present;
    for (const auto& l : lost) {
        present.insert(l.mappingName);
        if (!lostHandled_.insert(l.mappingName).second)
            continue;
        // tearDownLost reads sysfs again before it touches anything: a
        // mapping being set up may look lost for an instant (its slave's
        // holder link not there yet), so nothing is said before it is sure.
        boost::asio::post(workers_, [this, name = l.mappingName] {
            auto done = operations_.tearDownLost(name);
            boost::asio::post(loop_, [this, name, done = std::move(done)]() mutable {
                if (!done && done.error().code == engine::ErrorCode::NoSuchDevice) {
                    log::debug(fmt::format("mapping '{}' looked lost while sysfs changed; it is "
                                           "not",
                                           name),
                               {{Field::Mapping, name}});
                } else if (!done) {
                    log::error(fmt::format("failed to tear down lost mapping '{}': {}", name,
                                           done.error().message),
                               {{Field::Mapping, name}});
                } else {
                    log::warning(fmt::format("lost volume: '{}' went away while unlocked as "
                                             "'{}'; its mounts were detached and its key dropped",
                                             done.value().device, name),
                                 {{Field::Device, done.value().device}, {Field::Mapping, name}});
                    log::info(fmt::format("lost mapping '{}': key dropped{}", name,
                                          done.value().deferred
                                              ? "; the node goes when its last user closes it"
                                              : ", mapping removed"),
                              {{Field::Mapping, name}, {Field::Device, done.value().device}});
                    engine::LostMapping lost = std::move(done).value();
                    if (auto ebs = goneWithMapping_.find(name); ebs != goneWithMapping_.end()) {
                        lost.ebsVolumeId = ebs->second;
                        goneWithMapping_.erase(ebs);
                    }
                    if (recentlyLost_.size() == 64)
                        recentlyLost_.erase(recentlyLost_.begin());
                    recentlyLost_.push_back(lost);
                    if (lost_)
                        lost_(lost);
                }
                afterOperation();
            });
        });
    }
    // Forget what is gone for good, so a new loss of the same name counts.
    for (auto it = lostHandled_.begin(); it != lostHandled_.end();) {
        if (present.count(*it))
            ++it;
        else
            it = lostHandled_.erase(it);
    }
}

void VolumeService::growAutomatically()
{
    const engine::GrowPolicy& policy = operations_.config().autoGrow;
    if (!policy.all && policy.volumes.empty())
        return;
    for (auto it = autoGrownAt_.begin(); it != autoGrownAt_.end();)
        it = objects_.count(it->first) ? std::next(it) : autoGrownAt_.erase(it);
    for (const auto& [name, object] : objects_) {
        const engine::Volume& v = object->volume();
        if (v.growableBy == 0 || busy_.count(name) || !policy.covers(v))
            continue;
        if (!autoGrownAt_.emplace(name, v.size).second) {
            if (autoGrownAt_[name] == v.size)
                continue;  // tried at this size already; it grows again when the device does
            autoGrownAt_[name] = v.size;
        }
        log::info(fmt::format("automatic growth: '{}' grew by {} bytes under its mapping '{}'; "
                              "growing the volume",
                              v.node, v.growableBy, v.mappingName),
                  {{Field::Volume, name}, {Field::Device, v.node}, {Field::Operation, "grow"}});
        run<engine::GrowResult>(
            name, [name](engine::Operations& ops) { return ops.grow(name, nullptr); },
            [node = v.node, name](engine::Result<engine::GrowResult> r) {
                if (!r) {
                    log::warning(
                        fmt::format("automatic growth of '{}' failed: {}", node, r.error().message),
                        {{Field::Volume, name},
                         {Field::Device, node},
                         {Field::Operation, "grow"},
                         {Field::Error, engine::errorName(r.error().code)}});
                    return;
                }
                std::string sizes;
                for (const auto& l : r.value().layers)
                    sizes += fmt::format("{}{} {} -> {}", sizes.empty() ? "" : ", ", l.layer,
                                         l.before, l.after);
                log::info(
                    fmt::format("automatic growth of '{}': done ({} bytes)", node, sizes),
                    {{Field::Volume, name}, {Field::Device, node}, {Field::Operation, "grow"}});
            });
    }
}

void VolumeService::closeInterruptedFormats(const std::vector<std::string>& mappings)
{
    for (const auto& name : mappings) {
        log::warning(fmt::format("an interrupted format left its mapping '{}' open: closing it; "
                                 "the device keeps the LUKS header that format wrote, maybe "
                                 "without a filesystem: format it again to start over",
                                 name),
                     {{Field::Mapping, name}, {Field::Operation, "format"}});
        boost::asio::post(workers_, [this, name] {
            auto closed = operations_.closeInterruptedFormat(name);
            boost::asio::post(loop_, [this, name, closed = std::move(closed)] {
                if (closed)
                    log::info(fmt::format("closed the interrupted format's mapping '{}' (at once, "
                                          "or when the last program using it ends)",
                                          name),
                              {{Field::Mapping, name}});
                else
                    log::error(fmt::format("failed to close the interrupted format's mapping "
                                           "'{}': {}",
                                           name, closed.error().message),
                               {{Field::Mapping, name}});
                afterOperation();
            });
        });
    }
}

void VolumeService::recogniseReturn(const engine::Volume& v)
{
    auto back = std::find_if(recentlyLost_.begin(), recentlyLost_.end(), [&](const auto& l) {
        return (v.signature.isLuks() && !l.luksUuid.empty() && l.luksUuid == v.signature.uuid) ||
               (!l.ebsVolumeId.empty() && l.ebsVolumeId == v.identity.ebsVolumeId);
    });
    if (back == recentlyLost_.end())
        return;
    log::info(fmt::format("recognised: the volume lost as '{}' (mapping '{}') is back as '{}'; "
                          "it can be unlocked again",
                          back->device, back->mappingName, v.node),
              {{Field::Volume, v.kernelName}, {Field::Device, v.node}});
    recentlyLost_.erase(back);
}

void VolumeService::requestScan()
{
    if (scanning_) {
        rescan_ = true;
        return;
    }
    scanning_ = true;
    const std::uint64_t startedAt = ++sequence_;
    // The first scan takes udev's word for what each device holds, so that
    // vaultd takes its name soon however many devices there are; a scan
    // that probes every device follows at once, and only what it finds is
    // acted on (volumes opened or grown by themselves).
    const auto source = ready_ ? engine::ScanSource::UdevDatabase : engine::ScanSource::Probe;
    boost::asio::post(prober_, [this, startedAt, source] {
        using Clock = std::chrono::steady_clock;
        engine::ScanResult scanned;
        FirstScan first;
        if (early_.valid()) {
            EarlyScan early = early_.get();
            scanned = std::move(early.result);
            first.scan = early.took;
        } else {
            scanned = operations_.scan(source);
        }
        first.volumes = scanned.volumes.size();
        boost::asio::post(loop_, [this, startedAt, source, first,
                                  scanned = std::move(scanned)]() mutable {
            const auto applyStart = Clock::now();
            engine::markDuplicates(scanned.volumes);
            apply(std::move(scanned.volumes), startedAt);
            first.objects =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - applyStart);
            tearDown(scanned.lost);
            closeInterruptedFormats(scanned.interruptedFormats);
            if (source == engine::ScanSource::Probe) {
                growAutomatically();
                openConfigured();
            } else {
                rescan_ = true;
            }
            scanning_ = false;
            if (ready_)
                std::exchange(ready_, nullptr)(first);
            // A scan of many devices leaves much freed behind it.
            malloc_trim(0);
            if (std::exchange(rescan_, false))
                requestScan();
            busLoop_.poke();
        });
    });
}

namespace {

void logFailing(const engine::Volume& v)
{
    log::warning(fmt::format("volume '{}' is failing: {}", v.kernelName, v.failing),
                 {{Field::Volume, v.kernelName}, {Field::Device, v.node}});
}

}  // namespace

void VolumeService::apply(std::vector<engine::Volume> volumes, std::uint64_t startedAt)
{
    std::set<std::string> seen;
    for (auto& v : volumes) {
        const std::string name = v.kernelName;
        seen.insert(name);
        auto it = objects_.find(name);
        // Said once, when a volume turns failing or appears so.
        const bool turnsFailing =
            !v.failing.empty() && (it == objects_.end() || it->second->volume().failing.empty());
        if (it != objects_.end()) {
            if (freshAt_[name] < startedAt) {
                if (turnsFailing)
                    logFailing(v);
                it->second->update(std::move(v));
            }
            continue;
        }
        log::info(fmt::format("attached volume '{}' ({})", name, engine::stateName(v.state)),
                  {{Field::Volume, name}, {Field::Device, v.node}});
        if (turnsFailing)
            logFailing(v);
        recogniseReturn(v);
        auto object = std::make_unique<VolumeObject>(connection_, *this, std::move(v));
        // Before the first scan ends vaultd owns no name, so nobody could
        // have asked for these signals: a client that finds the name asks
        // for the objects.
        if (!ready_)
            object->emitInterfacesAddedSignal();
        objects_.emplace(name, std::move(object));
    }

    for (auto it = objects_.begin(); it != objects_.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        log::info(fmt::format("detached volume '{}'", it->first), {{Field::Volume, it->first}});
        const engine::Volume& gone = it->second->volume();
        if (!gone.mappingName.empty() && !gone.identity.ebsVolumeId.empty() &&
            goneWithMapping_.size() < 64)
            goneWithMapping_[gone.mappingName] = gone.identity.ebsVolumeId;
        it->second->emitInterfacesRemovedSignal();
        freshAt_.erase(it->first);
        it = objects_.erase(it);
    }
    watchHealth();
}

void VolumeService::updateFromOperation(const std::string& kernelName,
                                        engine::Result<engine::Volume> fresh)
{
    auto it = objects_.find(kernelName);
    if (!fresh || it == objects_.end())
        return;  // gone or no longer a volume: the next scan removes it
    engine::Volume v = std::move(fresh).value();
    std::vector<const engine::Volume*> others;
    for (const auto& [name, object] : objects_)
        others.push_back(&object->volume());
    v.duplicates = engine::duplicatesOf(v, others);
    it->second->update(std::move(v));
    freshAt_[kernelName] = ++sequence_;
    watchHealth();
}

void VolumeService::watchHealth()
{
    constexpr std::chrono::seconds kHealthEvery{5};
    const bool anyUnlocked = std::any_of(objects_.begin(), objects_.end(), [](const auto& entry) {
        return !entry.second->volume().mappingName.empty();
    });
    if (watchingHealth_ || !anyUnlocked)
        return;
    watchingHealth_ = true;
    healthTimer_.expires_after(kHealthEvery);
    healthTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;  // shutting down: this may be gone
        watchingHealth_ = false;
        for (const auto& [name, object] : objects_) {
            const engine::Volume& v = object->volume();
            if (v.mappingName.empty() || !v.failing.empty())
                continue;
            // Two sysfs reads a volume, no read of the disk; the scan
            // logs what it finds.
            if (!operations_.driverSaysFailing(name).empty()) {
                requestScan();
                break;
            }
        }
        watchHealth();
    });
}

void VolumeService::afterOperation()
{
    // The kernel's view moved; udev will tell us too, but not about mounts
    // of a volume nor before its own queue drains.
    requestScan();
    busLoop_.poke();
    // An operation may have held large buffers (a caller's huge request, a
    // KDF's scratch); give the pages back rather than keep them forever.
    malloc_trim(0);
}

engine::Result<std::string> VolumeService::resolve(const std::string& spec) const
{
    std::vector<engine::Volume> volumes;
    volumes.reserve(objects_.size());
    for (const auto& [kernelName, object] : objects_)
        volumes.push_back(object->volume());
    auto kernelName = engine::resolve(volumes, spec);
    if (!kernelName)
        return kernelName.error();
    return volumePath(kernelName.value());
}

void VolumeService::setConfigurationLoader(std::function<engine::ConfiguredVolumes()> load)
{
    loadConfiguration_ = std::move(load);
}

void VolumeService::whenConfigured(ConfiguredUnlocked unlocked, ConfiguredFailed failed)
{
    configuredUnlocked_ = std::move(unlocked);
    configuredFailed_ = std::move(failed);
}

void VolumeService::reloadConfiguration(std::function<void(const engine::ConfiguredVolumes&)> done)
{
    if (!loadConfiguration_) {
        if (done)
            done({});
        return;
    }
    // Reading the files may ask NSS for the owners: off the loop thread.
    boost::asio::post(prober_, [this, done = std::move(done)]() mutable {
        engine::ConfiguredVolumes read = loadConfiguration_();
        boost::asio::post(loop_, [this, read = std::move(read), done = std::move(done)] {
            for (const auto& problem : read.problems)
                log::warning(fmt::format("configured volumes: skipped {}", problem));
            std::string names;
            for (const auto& c : read.volumes)
                names += (names.empty() ? "" : ", ") + c.name;
            log::info(fmt::format("configured volumes: {}", names.empty() ? "none" : names));
            configured_ = read.volumes;
            // A failure may have been the configuration's: try those again.
            for (auto it = attempted_.begin(); it != attempted_.end();)
                it = it->second.failed ? attempted_.erase(it) : std::next(it);
            openConfigured();
            if (done)
                done(read);
        });
    });
}

void VolumeService::openConfigured()
{
    for (auto it = attempted_.begin(); it != attempted_.end();) {
        auto object = objects_.find(it->first);
        const bool same =
            object != objects_.end() && object->second->volume().diskseq == it->second.diskseq;
        it = same ? std::next(it) : attempted_.erase(it);
    }
    for (const auto& [name, object] : objects_) {
        const engine::Volume& v = object->volume();
        const engine::ConfiguredVolume* match = nullptr;
        for (const auto& c : configured_) {
            if (engine::matches(c, v)) {
                match = &c;
                break;
            }
        }
        auto tried = attempted_.find(name);
        object->setConfiguration(
            match ? match->name : "",
            tried != attempted_.end() && tried->second.failed ? object->configurationError() : "");
        if (!match || !match->onAttach || v.state != engine::VolumeState::Locked ||
            tried != attempted_.end() || busy_.count(name))
            continue;
        // A copy of the volume (a snapshot) has its UUID and label: without
        // an EBS volume id, the file cannot say which of them it means.
        if (!v.duplicates.empty() && match->ebsVolumeId.empty()) {
            attempted_[name] = {v.diskseq, true};
            const std::string why =
                fmt::format("Ambiguous: {} and {} both fit {}; add the ebs-volume-id to it", v.node,
                            v.duplicates.front(), match->origin);
            log::warning(fmt::format("configured volume '{}' on '{}' was not unlocked: {}",
                                     match->name, v.node, why),
                         {{Field::Volume, name}, {Field::Device, v.node}});
            object->setConfiguration(match->name, why);
            continue;
        }
        openConfigured(name, v, *match);
    }
}

void VolumeService::openConfigured(const std::string& kernelName, const engine::Volume& v,
                                   const engine::ConfiguredVolume& c)
{
    attempted_[kernelName] = {v.diskseq, false};
    log::info(fmt::format("configured volume '{}' ({}) attached as '{}': unlocking it", c.name,
                          c.origin, v.node),
              {{Field::Volume, kernelName}, {Field::Device, v.node}, {Field::Operation, "unlock"}});
    run<engine::UnlockResult>(
        kernelName,
        [kernelName, c](engine::Operations& ops) -> engine::Result<engine::UnlockResult> {
            switch (c.keySource) {
            case engine::KeySource::None:
                return engine::makeError(engine::ErrorCode::CredentialRequired,
                                         "the configuration names no key; unlock it by hand");
            case engine::KeySource::Token: return ops.unlockConfiguredByToken(kernelName, c);
            case engine::KeySource::KeyFile: break;
            }
            engine::SecretBuffer key;
            if (auto st = system::readKeyFile(c.keyFile, key); !st)
                return st.error();
            return ops.unlockConfigured(kernelName, c, key);
        },
        [this, kernelName, c, node = v.node](engine::Result<engine::UnlockResult> r) {
            const std::string path = volumePath(kernelName);
            auto object = objects_.find(kernelName);
            if (!r) {
                const std::string why =
                    fmt::format("{}: {}", engine::errorName(r.error().code), r.error().message);
                log::warning(fmt::format("configured volume '{}' on '{}' was not unlocked: {}",
                                         c.name, node, r.error().message),
                             {{Field::Volume, kernelName},
                              {Field::Device, node},
                              {Field::Operation, "unlock"},
                              {Field::Error, engine::errorName(r.error().code)}});
                if (auto tried = attempted_.find(kernelName); tried != attempted_.end())
                    tried->second.failed = true;
                if (object != objects_.end())
                    object->second->setConfiguration(c.name, why);
                if (configuredFailed_)
                    configuredFailed_(path, c, r.error());
                return;
            }
            log::info(fmt::format("configured volume '{}' on '{}': unlocked as '{}'{}", c.name,
                                  node, r.value().mappingName,
                                  r.value().mountPoint.empty()
                                      ? std::string()
                                      : ", mounted at '" + r.value().mountPoint + "'"),
                      {{Field::Volume, kernelName},
                       {Field::Device, node},
                       {Field::Operation, "unlock"},
                       {Field::Mapping, r.value().mappingName}});
            if (object != objects_.end())
                object->second->setConfiguration(c.name, "");
            if (configuredUnlocked_)
                configuredUnlocked_(path, c, r.value());
        });
}

void VolumeService::lockAll(std::chrono::seconds limit, std::function<void()> done)
{
    cancelJobs();
    struct Stopping {
        std::size_t pending = 0;
        bool over = false;
        std::function<void()> done;
        std::set<std::string> left;
        std::unique_ptr<boost::asio::steady_timer> timer;
        void finish()
        {
            if (std::exchange(over, true))
                return;
            timer->cancel();
            done();
        }
    };
    auto stopping = std::make_shared<Stopping>();
    stopping->done = std::move(done);
    stopping->timer = std::make_unique<boost::asio::steady_timer>(loop_, limit);
    for (const auto& [name, object] : objects_) {
        const engine::Volume& v = object->volume();
        if (!v.unlockedBy || v.mappingName.empty())
            continue;
        ++stopping->pending;
        stopping->left.insert(name);
        log::info(fmt::format("stopping: locking '{}' ({})", v.node, v.mappingName),
                  {{Field::Volume, name}, {Field::Device, v.node}, {Field::Operation, "lock"}});
        run<engine::LockResult>(
            name, [name](engine::Operations& ops) { return ops.lock(name, {}); },
            [stopping, name, node = v.node](engine::Result<engine::LockResult> r) {
                if (!r)
                    log::warning(
                        fmt::format("stopping: '{}' stays unlocked: {}", node, r.error().message),
                        {{Field::Volume, name},
                         {Field::Device, node},
                         {Field::Operation, "lock"},
                         {Field::Error, engine::errorName(r.error().code)}});
                stopping->left.erase(name);
                if (--stopping->pending == 0)
                    stopping->finish();
            });
    }
    if (stopping->pending == 0) {
        stopping->finish();
        return;
    }
    stopping->timer->async_wait([stopping, limit](const boost::system::error_code& ec) {
        if (ec || stopping->over)
            return;
        std::string left;
        for (const auto& name : stopping->left)
            left += (left.empty() ? "" : ", ") + name;
        log::warning(fmt::format("stopping: not locked within {} s: {}; they stay as they are",
                                 limit.count(), left));
        stopping->finish();
    });
}

}  // namespace vaultd::bus
