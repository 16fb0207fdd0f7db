#include "system/sysfs.hpp"

#include <libmount/libmount.h>
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

namespace vaultd::system {
namespace fs = std::filesystem;
namespace {

// The first line of a small sysfs attribute. Plain read(2): a scan reads a
// dozen of these per block device, several times per operation, and an
// ifstream (a filebuf, a locale) costs several times the read itself.
std::string readLine(const fs::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    char buffer[4096];
    ssize_t n;
    do
        n = ::read(fd, buffer, sizeof buffer);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n <= 0)
        return {};
    std::string_view text(buffer, static_cast<std::size_t>(n));
    return std::string(text.substr(0, text.find('\n')));
}

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
std::string readVpdSerial(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (page.size() <= 4)
        return {};
    return page.substr(4);
}

// A disk's sequence number, model and serial: NVMe and SCSI keep the last
// two with the device, virtio-blk its serial beside the disk.
void readDiskFacts(const fs::path& disk, engine::BlockNode& node)
{
    std::error_code ec;
    node.diskseq = std::strtoull(readLine(disk / "diskseq").c_str(), nullptr, 10);
    node.model = readLine(disk / "device" / "model");
    node.serial = readLine(disk / "device" / "serial");
    if (node.serial.empty() && fs::exists(disk / "serial", ec))
        node.serial = readLine(disk / "serial");
    if (node.serial.empty() && fs::exists(disk / "device" / "vpd_pg80", ec))
        node.serial = readVpdSerial(disk / "device" / "vpd_pg80");
}

engine::BlockNode readNode(const fs::directory_entry& entry)
{
    std::error_code ec;
    const fs::path dir = entry.path();
    engine::BlockNode node;
    node.name = dir.filename().string();
    node.devnum = readLine(dir / "dev");
    node.size = std::strtoull(readLine(dir / "size").c_str(), nullptr, 10) * 512;
    node.readOnly = readLine(dir / "ro") == "1";
    node.loopBacked = fs::exists(dir / "loop" / "backing_file", ec);
    if (fs::exists(dir / "partition", ec)) {
        const fs::path disk = fs::canonical(dir, ec).parent_path();
        node.parent = disk.filename().string();
        readDiskFacts(disk, node);
    } else {
        readDiskFacts(dir, node);
    }
    if (fs::is_directory(dir / "dm", ec)) {
        node.dmName = unmangle(readLine(dir / "dm" / "name"));
        node.dmUuid = readLine(dir / "dm" / "uuid");
    }
    for (const auto& slave : fs::directory_iterator(dir / "slaves", ec))
        node.slaves.push_back(slave.path().filename().string());
    for (const auto& holder : fs::directory_iterator(dir / "holders", ec))
        node.holders.push_back(holder.path().filename().string());
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
