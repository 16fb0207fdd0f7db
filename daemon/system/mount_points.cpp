#include "system/mount_points.hpp"
#include "engine/quote.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <string_view>
#include <cstring>

#include "system/unique_fd.hpp"

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;

engine::Error refuse(const std::string& path, const std::string& why)
{
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("cannot use {} as a mount point: {}", engine::quoted(path), why));
}

// Whether a directory holds nothing but the names in @allowed.
bool holdsOnly(int dirFd, std::initializer_list<std::string_view> allowed)
{
    const int copy = openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (copy < 0)
        return false;
    DIR* dir = fdopendir(copy);
    if (!dir) {
        close(copy);
        return false;
    }
    bool only = true;
    while (dirent* e = readdir(dir)) {
        const std::string_view name = e->d_name;
        if (name != "." && name != ".." &&
            std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            only = false;
            break;
        }
    }
    closedir(dir);
    return only;
}

bool isEmptyDirectory(int dirFd)
{
    return holdsOnly(dirFd, {});
}

// A filesystem that mkfs just made: nothing at its root but ext4's lost+found.
bool holdsOnlyLostFound(int dirFd)
{
    return holdsOnly(dirFd, {"lost+found"});
}

}  // namespace

// TODO: the directory is checked here and mounted by path later; mounting
// through the descriptor (fsmount/move_mount) would close that window.
engine::Result<engine::Changed> DirMountPoints::prepare(const std::string& path)
{
    return prepareWith(path, 0755);
}

engine::Result<engine::Changed> DirMountPoints::preparePrivate(const std::string& path)
{
    return prepareWith(path, 0700);
}

engine::Result<engine::Changed> DirMountPoints::prepareWith(const std::string& path, mode_t mode)
{
    UniqueFd dir(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat parentSt {};
    bool created = false;

    std::size_t start = 1;
    while (start < path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        const std::string part = path.substr(start, end - start);
        fstat(dir.get(), &parentSt);

        UniqueFd next(
            openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next && errno == ENOENT) {
            if (mkdirat(dir.get(), part.c_str(), mode) != 0 && errno != EEXIST)
                return refuse(path, fmt::format("cannot create it: {}", std::strerror(errno)));
            created = true;
            next = UniqueFd(
                openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        }
        if (!next) {
            if (errno == ELOOP || errno == ENOTDIR)
                return refuse(path, "it passes through a symbolic link or a file");
            return refuse(path, std::strerror(errno));
        }
        dir = std::move(next);
        start = end + 1;
    }

    struct stat st {};
    fstat(dir.get(), &st);
    if (st.st_dev != parentSt.st_dev)
        return makeError(ErrorCode::Busy,
                         fmt::format("something is mounted at {} already", engine::quoted(path)));
    if (!isEmptyDirectory(dir.get()))
        return refuse(path, "the directory is not empty");
    return created ? engine::Changed::Yes : engine::Changed::No;
}

engine::Result<engine::Changed> DirMountPoints::adopt(const std::string& path, uid_t uid, gid_t gid)
{
    UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!dir || fstat(dir.get(), &st) != 0)
        return makeError(ErrorCode::Failed, fmt::format("cannot open the mounted '{}': {}", path,
                                                        std::strerror(errno)));
    if (st.st_uid == uid || st.st_uid != 0 || st.st_gid != 0 || !holdsOnlyLostFound(dir.get()))
        return engine::Changed::No;
    if (fchown(dir.get(), uid, gid) != 0)
        return makeError(ErrorCode::Failed, fmt::format("cannot give '{}' to uid {}: {}", path, uid,
                                                        std::strerror(errno)));
    return engine::Changed::Yes;
}

void DirMountPoints::remove(const std::string& path)
{
    (void)rmdir(path.c_str());
}

}  // namespace vaultd::system
