#include "system/sysfs.hpp"

#include <libmount/libmount.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string_view>
#include <filesystem>
#include <fstream>
#include <memory>
#include <iterator>
#include <sstream>
#include <vector>

namespace vaultd::system {
namespace fs = std::filesystem;
namespace {

// A small sysfs attribute, @name relative to the directory @dir (a
// descriptor), whole or its first line: a path from /sys/class/block would go
// through the class's symbolic link again at every open, and a scan reads
// a dozen of these per block device, several times per operation. Plain
// read(2): an ifstream (a filebuf, a locale) costs several times the read.
ssize_t readAttribute(int dir, const char* name, char* buffer, std::size_t size)
{
    const int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = ::read(fd, buffer, size);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    return n;
}

std::string readLine(int dir, const char* name)
{
    char buffer[4096];
    const ssize_t n = readAttribute(dir, name, buffer, sizeof buffer);
    if (n <= 0)
        return {};
    std::string_view text(buffer, static_cast<std::size_t>(n));
    return std::string(text.substr(0, text.find('\n')));
}

bool has(int dir, const char* name)
{
    return ::faccessat(dir, name, F_OK, 0) == 0;
}

// The names in the directory @name under @dir (holders/, slaves/).
std::vector<std::string> entries(int dir, const char* name)
{
    std::vector<std::string> names;
    const int fd = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return names;
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return names;
    }
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.')
            names.emplace_back(e->d_name);
    }
    ::closedir(d);
    return names;
}

// An open directory, closed with it.
class DirFd {
public:
    explicit DirFd(const fs::path& path)
        : fd_(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
    {
    }
    ~DirFd()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// libdevmapper stores a name with characters outside udev's safe set as
// \xNN escapes ("a,b" becomes "a\x2cb"); callers use the name as given.
std::string unmangle(const std::string& name)
{
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 3 < name.size() && name[i + 1] == 'x' &&
            std::isxdigit(static_cast<unsigned char>(name[i + 2])) &&
            std::isxdigit(static_cast<unsigned char>(name[i + 3]))) {
            out += static_cast<char>(std::stoi(name.substr(i + 2, 2), nullptr, 16));
            i += 3;
        } else {
            out += name[i];
        }
    }
    return out;
}

// A SCSI disk's serial is in its Unit Serial Number VPD page: four bytes of
// header, then the serial.
std::string readVpdSerial(int disk)
{
    char buffer[512];
    const ssize_t n = readAttribute(disk, "device/vpd_pg80", buffer, sizeof buffer);
    if (n <= 4)
        return {};
    return std::string(buffer + 4, static_cast<std::size_t>(n) - 4);
}

engine::DiskHealth readHealth(int disk)
{
    engine::DiskHealth health;
    health.deviceState = readLine(disk, "device/state");
    return health;
}

// A disk's sequence number, model, serial and health: NVMe and SCSI keep
// all but the first with the device (NVMe's state is its controller's),
// virtio-blk its serial beside the disk. A disk with no device (loop, zram,
// device-mapper) has no model.
void readDiskFacts(int disk, engine::BlockNode& node)
{
    node.diskseq = std::strtoull(readLine(disk, "diskseq").c_str(), nullptr, 10);
    const bool device = has(disk, "device");
    if (device) {
        node.model = readLine(disk, "device/model");
        node.serial = readLine(disk, "device/serial");
        node.health = readHealth(disk);
    }
    if (node.serial.empty())
        node.serial = readLine(disk, "serial");
    if (node.serial.empty() && device)
        node.serial = readVpdSerial(disk);
}

engine::BlockNode readNode(const fs::directory_entry& entry)
{
    std::error_code ec;
    const fs::path path = entry.path();
    engine::BlockNode node;
    node.name = path.filename().string();
    const DirFd dir(path);
    if (dir.get() < 0)
        return node;
    node.devnum = readLine(dir.get(), "dev");
    node.size = std::strtoull(readLine(dir.get(), "size").c_str(), nullptr, 10) * 512;
    node.readOnly = readLine(dir.get(), "ro") == "1";
    node.loopBacked = has(dir.get(), "loop/backing_file");
    if (has(dir.get(), "partition")) {
        const fs::path disk = fs::canonical(path, ec).parent_path();
        node.parent = disk.filename().string();
        const DirFd diskDir(disk);
        readDiskFacts(diskDir.get(), node);
    } else {
        readDiskFacts(dir.get(), node);
    }
    if (has(dir.get(), "dm")) {
        node.dmName = unmangle(readLine(dir.get(), "dm/name"));
        node.dmUuid = readLine(dir.get(), "dm/uuid");
    }
    node.slaves = entries(dir.get(), "slaves");
    node.holders = entries(dir.get(), "holders");
    return node;
}

void readMounts(engine::Topology& t)
{
    std::unique_ptr<libmnt_table, decltype(&mnt_unref_table)> table(
        mnt_new_table_from_file("/proc/self/mountinfo"), &mnt_unref_table);
    if (!table)
        return;
    std::unique_ptr<libmnt_iter, decltype(&mnt_free_iter)> it(mnt_new_iter(MNT_ITER_FORWARD),
                                                              &mnt_free_iter);
    libmnt_fs* fsEntry = nullptr;
    while (mnt_table_next_fs(table.get(), it.get(), &fsEntry) == 0) {
        dev_t dev = mnt_fs_get_devno(fsEntry);
        const char* source = mnt_fs_get_source(fsEntry);
        const std::string sourcePath = source ? source : "";
        // Virtual filesystems (proc, tmpfs, 9p, overlay...) have neither a
        // device number nor a device path. btrfs reports an anonymous device
        // number, so its source path tells which device it is.
        const std::string fsDevnum = devnumOf(dev);
        if (major(dev) == 0) {
            if (!sourcePath.starts_with("/dev/"))
                continue;
            struct stat st {};
            if (stat(sourcePath.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
                dev = st.st_rdev;
        }
        const char* target = mnt_fs_get_target(fsEntry);
        const char* type = mnt_fs_get_fstype(fsEntry);
        t.mounts.push_back(
            {devnumOf(dev), fsDevnum, target ? target : "", type ? type : "", sourcePath});
    }
}

void readSwaps(engine::Topology& t)
{
    std::ifstream in("/proc/swaps");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string path;
        fields >> path;
        struct stat st {};
        if (path.empty() || stat(path.c_str(), &st) != 0)
            continue;
        // A swap partition is itself the device; a swap file lives on one.
        t.swaps.push_back(devnumOf(S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev));
    }
}

}  // namespace

std::string devnumOf(dev_t dev)
{
    return std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
}

engine::DiskHealth readDiskHealth(const std::string& kernelName, const std::string& sysRoot)
{
    // A disk without a device (loop, dm) has no state to read: empty.
    std::error_code ec;
    const fs::path path = fs::path(sysRoot) / "class" / "block" / kernelName;
    const DirFd dir(path);
    if (dir.get() < 0)
        return {};
    if (!has(dir.get(), "partition"))
        return readHealth(dir.get());
    const DirFd disk(fs::canonical(path, ec).parent_path());
    return readHealth(disk.get());
}

engine::Topology readTopology(const std::string& sysRoot)
{
    engine::Topology t;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(sysRoot) / "class" / "block", ec)) {
        engine::BlockNode node = readNode(entry);
        t.nodes.emplace(node.name, std::move(node));
    }
    // A mapping's slave link outlives its device, and may lead to a new
    // device that took the same name; only a slave that lists the mapping
    // among its holders is really under it. The kernel makes the holder
    // link before the slave link: a mapping set up while the nodes were
    // read shows its slave now but may not have shown its holder then, so
    // a slave that did not list it is asked again.
    const fs::path blockDir = fs::path(sysRoot) / "class" / "block";
    for (auto& [name, node] : t.nodes) {
        std::vector<std::string> live;
        for (auto& slave : node.slaves) {
            auto it = t.nodes.find(slave);
            bool mutual = it != t.nodes.end() &&
                          std::find(it->second.holders.begin(), it->second.holders.end(), name) !=
                              it->second.holders.end();
            if (!mutual && it != t.nodes.end() &&
                fs::exists(blockDir / slave / "holders" / name, ec)) {
                it->second.holders.push_back(name);
                mutual = true;
            }
            (mutual ? live : node.lostSlaves).push_back(std::move(slave));
        }
        node.slaves = std::move(live);
    }
    readMounts(t);
    readSwaps(t);
    return t;
}

}  // namespace vaultd::system
