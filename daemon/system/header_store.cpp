#include "system/header_store.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/validate.hpp"
#include "system/unique_fd.hpp"

namespace vaultd::system {
namespace {

namespace fs = std::filesystem;
using engine::ErrorCode;
using engine::makeError;

engine::Error failed(const std::string& what, const std::string& path)
{
    return makeError(ErrorCode::Failed,
                     fmt::format("cannot {} '{}': {}", what, path, std::strerror(errno)));
}

// Makes the data of @path and its directory entry durable.
engine::Status syncFile(const std::string& path)
{
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || fsync(fd.get()) != 0)
        return failed("sync", path);
    return engine::Done{};
}

engine::Status syncDirectory(const std::string& dir)
{
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || fsync(fd.get()) != 0)
        return failed("sync", dir);
    return engine::Done{};
}

engine::Status writeNew(const std::string& path, const std::string& text)
{
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        return failed("create", path);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return failed("write", path);
        done += static_cast<std::size_t>(n);
    }
    if (fsync(fd.get()) != 0)
        return failed("sync", path);
    return engine::Done{};
}

}  // namespace

engine::Status DirHeaderStore::makeDirectory()
{
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec || chmod(dir_.c_str(), 0700) != 0)
        return makeError(ErrorCode::Failed, fmt::format("cannot make '{}': {}", dir_,
                                                        ec ? ec.message() : std::strerror(errno)));
    return engine::Done{};
}

engine::Status DirHeaderStore::writeVerified(const std::string& node, const std::string& luksUuid,
                                             const std::string& file)
{
    auto fail = [&](engine::Error e) {
        unlink(file.c_str());
        return e;
    };
    if (auto st = crypt_.backupHeader(node, file); !st)
        return fail(st.error());
    if (chmod(file.c_str(), 0600) != 0)
        return fail(failed("protect", file));
    if (auto st = syncFile(file); !st)
        return fail(st.error());
    // Verified the way it would be used: loaded back as a header.
    auto loaded = crypt_.header(file);
    if (!loaded)
        return fail(makeError(ErrorCode::Failed,
                              fmt::format("the header saved from '{}' does not load back: {}", node,
                                          loaded.error().message)));
    if (loaded.value().uuid != luksUuid)
        return fail(makeError(ErrorCode::Failed,
                              fmt::format("the header read back from '{}' has UUID {}, not {}; "
                                          "the device changed while it was saved",
                                          node, loaded.value().uuid, luksUuid)));
    return engine::Done{};
}

engine::Result<engine::HeaderBackup> DirHeaderStore::save(const std::string& node,
                                                          engine::HeaderBackup about)
{
    // The UUID names files: it must be one, not a path.
    if (!engine::isUuid(about.luksUuid))
        return makeError(ErrorCode::InvalidArgument,
                         fmt::format("'{}' is no LUKS UUID to name a backup by", about.luksUuid));
    std::lock_guard hold(lock_);
    if (auto st = makeDirectory(); !st)
        return st.error();

    const std::string base = dir_ + "/" + about.luksUuid;
    const std::string image = base + ".img", meta = base + ".json";
    const std::string newImage = base + ".img.new", newMeta = base + ".json.new";
    // Left by a save that died half way: not a backup.
    unlink(newImage.c_str());
    unlink(newMeta.c_str());

    auto abandon = [&](engine::Error e) {
        unlink(newImage.c_str());
        unlink(newMeta.c_str());
        return e;
    };
    if (auto st = writeVerified(node, about.luksUuid, newImage); !st)
        return abandon(st.error());

    struct stat st {};
    stat(newImage.c_str(), &st);
    about.bytes = static_cast<std::uint64_t>(st.st_size);
    about.savedAt = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const nlohmann::json j{{"luksUuid", about.luksUuid},       {"device", about.device},
                           {"ebsVolumeId", about.ebsVolumeId}, {"serial", about.serial},
                           {"savedAt", about.savedAt},         {"bytes", about.bytes}};
    if (auto st2 = writeNew(newMeta, j.dump(2) + "\n"); !st2)
        return abandon(st2.error());
    if (rename(newImage.c_str(), image.c_str()) != 0)
        return abandon(failed("replace", image));
    if (rename(newMeta.c_str(), meta.c_str()) != 0)
        return abandon(failed("replace", meta));
    if (auto st2 = syncDirectory(dir_); !st2)
        return st2.error();
    return about;
}

std::vector<engine::HeaderBackup> DirHeaderStore::list()
{
    std::vector<engine::HeaderBackup> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        const fs::path p = entry.path();
        if (p.extension() != ".json" || !engine::isUuid(p.stem().string()))
            continue;
        if (!fs::exists(fs::path(p).replace_extension(".img"), ec))
            continue;
        std::ifstream in(p);
        const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
        if (!j.is_object())
            continue;
        engine::HeaderBackup b;
        b.luksUuid = p.stem().string();
        b.device = j.value("device", "");
        b.ebsVolumeId = j.value("ebsVolumeId", "");
        b.serial = j.value("serial", "");
        b.savedAt = j.value("savedAt", std::int64_t{0});
        b.bytes = j.value("bytes", std::uint64_t{0});
        found.push_back(std::move(b));
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.luksUuid < b.luksUuid; });
    return found;
}

engine::Result<std::uint64_t> DirHeaderStore::exportTo(const std::string& node,
                                                       const std::string& luksUuid, int fd)
{
    if (!engine::isUuid(luksUuid))
        return makeError(ErrorCode::InvalidArgument, fmt::format("'{}' is no LUKS UUID", luksUuid));
    std::lock_guard hold(lock_);
    if (auto st = makeDirectory(); !st)
        return st.error();
    const std::string file = dir_ + "/" + luksUuid + ".export";
    unlink(file.c_str());
    if (auto st = writeVerified(node, luksUuid, file); !st)
        return st.error();
    UniqueFd in(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    unlink(file.c_str());
    if (!in)
        return failed("read", file);
    // The caller's descriptor may be a pipe nobody drains: give up after a
    // while rather than hold a worker forever.
    std::uint64_t total = 0;
    char buffer[65536];
    for (;;) {
        const ssize_t n = read(in.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return failed("read", file);
        if (n == 0)
            break;
        ssize_t done = 0;
        while (done < n) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, 30000) != 1 || !(p.revents & POLLOUT))
                return makeError(ErrorCode::Failed,
                                 "the file given for the backup took no data for 30 s");
            const ssize_t w = write(fd, buffer + done, static_cast<std::size_t>(n - done));
            if (w < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (w <= 0)
                return makeError(ErrorCode::Failed,
                                 fmt::format("cannot write the backup to the file given: {}",
                                             std::strerror(errno)));
            done += w;
        }
        total += static_cast<std::uint64_t>(n);
    }
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        return makeError(ErrorCode::Failed,
                         fmt::format("cannot sync the backup: {}", std::strerror(errno)));
    return total;
}

engine::Result<UniqueFd> copyToMemory(int fd, std::uint64_t maxBytes)
{
    UniqueFd copy(memfd_create("vaultd-header", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!copy)
        return failed("make a private copy of", "the header backup");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::vector<char> buffer(1 << 16);
    std::uint64_t total = 0;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        const int ready = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return makeError(ErrorCode::InvalidArgument,
                             "the header backup did not arrive within 10 seconds");
        const ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return makeError(
                ErrorCode::InvalidArgument,
                fmt::format("cannot read the header backup: {}", std::strerror(errno)));
        if (n == 0)
            break;
        total += static_cast<std::uint64_t>(n);
        if (total > maxBytes)
            return makeError(ErrorCode::InvalidArgument,
                             fmt::format("the header backup is larger than {} MiB, which no "
                                         "LUKS header is",
                                         maxBytes >> 20));
        for (ssize_t done = 0; done < n;) {
            const ssize_t w =
                write(copy.get(), buffer.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return failed("copy", "the header backup");
            done += w;
        }
    }
    if (fcntl(copy.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
        0)
        return failed("seal", "the copy of the header backup");
    return copy;
}

std::string memoryPath(const UniqueFd& fd)
{
    return fmt::format("/proc/self/fd/{}", fd.get());
}

}  // namespace vaultd::system
