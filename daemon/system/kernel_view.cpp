#include "system/kernel_view.hpp"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <libudev.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "engine/identity.hpp"
#include "engine/validate.hpp"
#include "system/sysfs.hpp"
#include "system/unique_fd.hpp"

namespace vaultd::system {
namespace {

using engine::ErrorCode;
using engine::makeError;

constexpr std::uint8_t kNvmeAdminIdentify = 0x06;
constexpr std::uint32_t kIdentifyController = 1;  // CNS 01h

using ProbePtr = std::unique_ptr<blkid_struct_probe, decltype(&blkid_free_probe)>;

std::string lookup(blkid_probe pr, const char* name)
{
    const char* value = nullptr;
    if (blkid_probe_lookup_value(pr, name, &value, nullptr) == 0 && value)
        return value;
    return {};
}

engine::Signature readSignature(blkid_probe pr)
{
    engine::Signature s;
    s.type = lookup(pr, "TYPE");
    s.usage = lookup(pr, "USAGE");
    if (s.type.empty()) {
        s.type = lookup(pr, "PTTYPE");
        if (!s.type.empty())
            s.usage = "partition table";
    }
    s.uuid = lookup(pr, "UUID");
    s.label = lookup(pr, "LABEL");
    if (s.isLuks())
        s.luksVersion = static_cast<unsigned>(std::atoi(lookup(pr, "VERSION").c_str()));
    return s;
}

void enableAll(blkid_probe pr, int superblockFlags)
{
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(pr, superblockFlags);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
}

engine::Error deviceError(const std::string& node, const char* what, int err)
{
    if (err == ENOENT || err == ENXIO || err == ENODEV)
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
    return makeError(ErrorCode::Failed,
                     fmt::format("failed to {} '{}': {}", what, node, std::strerror(err)));
}

std::uint64_t le(const unsigned char* p, int bytes)
{
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
        v = v << 8 | p[i];
    return v;
}

std::uint64_t be(const unsigned char* p, int bytes)
{
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v = v << 8 | p[i];
    return v;
}

// Reads 4 KiB at @offset past the page cache: a filesystem that was just
// unmounted wrote its superblock with its own I/O, which a cached page of
// the device from before would not show.
bool readBlock(const std::string& node, std::uint64_t offset, unsigned char* block)
{
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
    if (!fd && errno == EINVAL)  // an image file on a filesystem without O_DIRECT
        fd = UniqueFd(open(node.c_str(), O_RDONLY | O_CLOEXEC));
    return fd && pread(fd.get(), block, 4096, static_cast<off_t>(offset)) == 4096;
}

// A 4 KiB block aligned for O_DIRECT.
struct AlignedBlock {
    AlignedBlock()
    {
        void* raw = nullptr;
        if (posix_memalign(&raw, 4096, 4096) == 0)
            data = static_cast<unsigned char*>(raw);
    }
    ~AlignedBlock() { std::free(data); }
    AlignedBlock(const AlignedBlock&) = delete;
    AlignedBlock& operator=(const AlignedBlock&) = delete;
    unsigned char* data = nullptr;
};

// What the filesystem's primary superblock says it spans, in bytes; 0 when
// it is not the filesystem expected.
std::uint64_t superblockSize(engine::Filesystem fs, const std::string& node)
{
    AlignedBlock block;
    unsigned char* b = block.data;
    if (!b)
        return 0;
    switch (fs) {
    case engine::Filesystem::Ext4: {
        if (!readBlock(node, 0, b))
            return 0;
        const unsigned char* sb = b + 1024;
        if (le(sb + 56, 2) != 0xef53)
            return 0;
        std::uint64_t blocks = le(sb + 4, 4);
        if (le(sb + 96, 4) & 0x80)  // 64bit: the high half of the count
            blocks |= le(sb + 0x150, 4) << 32;
        return blocks * (1024ull << le(sb + 24, 4));
    }
    case engine::Filesystem::Xfs:
        if (!readBlock(node, 0, b) || be(b, 4) != 0x58465342)  // "XFSB"
            return 0;
        return be(b + 8, 8) * be(b + 4, 4);  // data blocks times block size
    case engine::Filesystem::Btrfs:
        if (!readBlock(node, 65536, b) || std::memcmp(b + 0x40, "_BHRfS_M", 8) != 0)
            return 0;
        return le(b + 0x70, 8);  // total_bytes
    }
    return 0;
}

}  // namespace

engine::Topology SystemKernelView::readTopology()
{
    return system::readTopology();
}

engine::DiskHealth SystemKernelView::diskHealth(const std::string& kernelName)
{
    return system::readDiskHealth(kernelName);
}

namespace {

// A node that is there but will not open or be read: a disk whose driver
// gave it up (ENXIO from an offline SCSI disk) or that returns errors.
engine::Error failingDevice(const std::string& node, const char* what, int err)
{
    return makeError(ErrorCode::DeviceFailing,
                     fmt::format("{} '{}' fails: {}", what, node, std::strerror(err)));
}

}  // namespace

engine::Result<engine::Signature> SystemKernelView::probe(const std::string& node)
{
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT)
            return deviceError(node, "open", errno);
        return failingDevice(node, "opening", errno);
    }
    ProbePtr pr(blkid_new_probe(), &blkid_free_probe);
    if (!pr || blkid_probe_set_device(pr.get(), fd.get(), 0, 0) != 0)
        return failingDevice(node, "reading", EIO);
    enableAll(pr.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_UUID |
                            BLKID_SUBLKS_LABEL | BLKID_SUBLKS_VERSION);

    const int rc = blkid_do_safeprobe(pr.get());
    if (rc == 1)
        return engine::Signature{};
    if (rc == -2)  // several signatures that contradict each other: surely data
        return engine::Signature{"ambivalent", "other", {}, {}, 0};
    if (rc < 0)
        return failingDevice(node, "reading", EIO);
    return readSignature(pr.get());
}

namespace {

using UdevPtr = std::unique_ptr<udev, decltype(&udev_unref)>;
using UdevDevicePtr = std::unique_ptr<udev_device, decltype(&udev_device_unref)>;

// The block device @kernelName in udev's view (null when udev has no
// context or no such device); @ctx must outlive it.
UdevDevicePtr udevDevice(const UdevPtr& ctx, const std::string& kernelName)
{
    return UdevDevicePtr(
        ctx ? udev_device_new_from_subsystem_sysname(ctx.get(), "block", kernelName.c_str())
            : nullptr,
        &udev_device_unref);
}

// A property as udev's blkid builtin writes its _ENC form: bytes that are
// not plain ASCII (and the backslash) as \xNN.
std::string decodedProperty(udev_device* dev, const char* name)
{
    auto hex = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10;
    };
    auto isHex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    const char* value = udev_device_get_property_value(dev, name);
    std::string out;
    for (const char* p = value; p && *p; ++p) {
        if (p[0] == '\\' && p[1] == 'x' && isHex(p[2]) && isHex(p[3])) {
            out.push_back(static_cast<char>(hex(p[2]) << 4 | hex(p[3])));
            p += 3;
        } else {
            out.push_back(*p);
        }
    }
    return out;
}

std::string property(udev_device* dev, const char* name)
{
    const char* value = udev_device_get_property_value(dev, name);
    return value ? value : "";
}

std::vector<std::string> linksOf(udev_device* dev)
{
    std::vector<std::string> result;
    udev_list_entry* entry = nullptr;
    udev_list_entry_foreach(entry, udev_device_get_devlinks_list_entry(dev))
        result.emplace_back(udev_list_entry_get_name(entry));
    return result;
}

}  // namespace

std::optional<engine::KernelView::UdevRecord> SystemKernelView::udevRecord(
    const std::string& kernelName)
{
    UdevPtr ctx(udev_new(), &udev_unref);
    UdevDevicePtr dev = udevDevice(ctx, kernelName);
    // Not yet through udev's rules: its database says nothing yet.
    if (!dev || !udev_device_get_is_initialized(dev.get()))
        return std::nullopt;
    // The names libblkid's values get in udev's database (see
    // readSignature): TYPE, USAGE, UUID, LABEL, VERSION, PTTYPE.
    UdevRecord record;
    engine::Signature& s = record.signature;
    s.type = property(dev.get(), "ID_FS_TYPE");
    s.usage = property(dev.get(), "ID_FS_USAGE");
    // A partition inherits its disk's table type: only a disk holds one.
    if (s.type.empty() && !udev_device_get_property_value(dev.get(), "ID_PART_ENTRY_NUMBER")) {
        s.type = property(dev.get(), "ID_PART_TABLE_TYPE");
        if (!s.type.empty())
            s.usage = "partition table";
    }
    s.uuid = decodedProperty(dev.get(), "ID_FS_UUID_ENC");
    s.label = decodedProperty(dev.get(), "ID_FS_LABEL_ENC");
    if (s.isLuks())
        s.luksVersion =
            static_cast<unsigned>(std::atoi(property(dev.get(), "ID_FS_VERSION").c_str()));
    record.links = linksOf(dev.get());
    return record;
}

std::vector<std::string> SystemKernelView::links(const std::string& kernelName)
{
    UdevPtr ctx(udev_new(), &udev_unref);
    UdevDevicePtr dev = udevDevice(ctx, kernelName);
    return dev ? linksOf(dev.get()) : std::vector<std::string>{};
}

std::vector<std::uint8_t> SystemKernelView::nvmeIdentify(const std::string& node)
{
    // Read-only and without O_EXCL: asking never disturbs whoever uses it.
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd)
        return {};
    std::vector<std::uint8_t> page(engine::kIdentifySize);
    nvme_admin_cmd cmd{};
    cmd.opcode = kNvmeAdminIdentify;
    cmd.addr = reinterpret_cast<std::uintptr_t>(page.data());
    cmd.data_len = static_cast<std::uint32_t>(page.size());
    cmd.cdw10 = kIdentifyController;
    if (ioctl(fd.get(), NVME_IOCTL_ADMIN_CMD, &cmd) != 0)
        return {};
    return page;
}

engine::Result<engine::KernelView::DeviceIdentity> SystemKernelView::identityOf(
    const std::string& node)
{
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (!fd || fstat(fd.get(), &st) != 0 || !S_ISBLK(st.st_mode))
        return makeError(ErrorCode::NoSuchDevice, fmt::format("'{}' is gone", node));
    DeviceIdentity id;
    id.devnum = devnumOf(st.st_rdev);
    std::uint64_t seq = 0;
    if (ioctl(fd.get(), BLKGETDISKSEQ, &seq) == 0)
        id.diskseq = seq;
    return id;
}

bool SystemKernelView::canOpenExclusively(const std::string& node)
{
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK));
    return static_cast<bool>(fd);
}

engine::Status SystemKernelView::wipeSignatures(const std::string& node)
{
    UniqueFd fd(open(node.c_str(), O_RDWR | O_EXCL | O_CLOEXEC));
    if (!fd)
        return deviceError(node, "open for wiping", errno);
    ProbePtr pr(blkid_new_probe(), &blkid_free_probe);
    if (!pr || blkid_probe_set_device(pr.get(), fd.get(), 0, 0) != 0)
        return deviceError(node, "probe", EIO);
    enableAll(pr.get(), BLKID_SUBLKS_MAGIC);

    while (blkid_do_probe(pr.get()) == 0) {
        if (blkid_do_wipe(pr.get(), 0) != 0)
            return deviceError(node, "wipe a signature on", errno ? errno : EIO);
    }
    if (fsync(fd.get()) != 0)
        return deviceError(node, "flush", errno);
    // The kernel still lists the old partitions; drop them. Refused for
    // files and for disks without partitions, which is fine.
    (void)ioctl(fd.get(), BLKRRPART);
    return engine::Done{};
}

engine::Result<std::uint64_t> SystemKernelView::filesystemSize(engine::Filesystem fs,
                                                               const std::string& node,
                                                               const std::string& mountPoint)
{
    if (!mountPoint.empty()) {
        struct statvfs st {};
        if (statvfs(mountPoint.c_str(), &st) != 0)
            return engine::makeError(
                engine::ErrorCode::Failed,
                fmt::format("cannot ask '{}' its size: {}", mountPoint, std::strerror(errno)));
        return static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize;
    }
    const std::uint64_t size = superblockSize(fs, node);
    if (size == 0)
        return engine::makeError(
            engine::ErrorCode::Failed,
            fmt::format("cannot read the {} superblock on '{}'", engine::filesystemName(fs), node));
    return size;
}

namespace {

// The type of a signature other than LUKS on @node, or empty.
std::string foreignOver(const std::string& node)
{
    UniqueFd fd(open(node.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd)
        return {};
    ProbePtr pr(blkid_new_probe(), &blkid_free_probe);
    if (!pr || blkid_probe_set_device(pr.get(), fd.get(), 0, 0) != 0)
        return {};
    enableAll(pr.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
    char luks[] = "crypto_LUKS";
    char* notLuks[] = {luks, nullptr};
    blkid_probe_filter_superblocks_type(pr.get(), BLKID_FLTR_NOTIN, notLuks);
    if (blkid_do_safeprobe(pr.get()) != 0)
        return {};
    return readSignature(pr.get()).type;
}

}  // namespace

engine::HeaderCopies SystemKernelView::luksHeaders(const std::string& node)
{
    // "LUKS\xba\xbe" starts a primary, "SKUL\xba\xbe" a LUKS2 secondary; a
    // big-endian version follows.
    static constexpr unsigned char primaryMagic[] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
    static constexpr unsigned char secondaryMagic[] = {'S', 'K', 'U', 'L', 0xba, 0xbe};
    engine::HeaderCopies copies;
    AlignedBlock block;
    unsigned char* b = block.data;
    if (!b || !readBlock(node, 0, b))
        return copies;
    if (std::memcmp(b, primaryMagic, 6) == 0 && (be(b + 6, 2) == 1 || be(b + 6, 2) == 2))
        copies.primary = static_cast<unsigned>(be(b + 6, 2));
    // Both versions keep the UUID as 40 bytes of text at 168 (LUKS1 after
    // the cipher and digest fields, LUKS2 after the label, checksum
    // algorithm and salt), in the secondary as in the primary.
    auto uuidIn = [&] {
        const char* text = reinterpret_cast<const char*>(b + 168);
        std::string uuid(text, strnlen(text, 40));
        return engine::isUuid(uuid) ? uuid : std::string();
    };
    if (copies.primary)
        copies.uuid = uuidIn();
    if (copies.primary == 1)
        return copies;
    // The secondary follows the primary's header area, whose size the
    // primary gives; without one, every size LUKS2 allows is tried.
    std::vector<std::uint64_t> offsets;
    if (copies.primary == 2)
        offsets.push_back(be(b + 8, 8));
    else
        for (std::uint64_t at = 16 << 10; at <= 4 << 20; at *= 2)
            offsets.push_back(at);
    for (std::uint64_t at : offsets) {
        if (at % 4096 == 0 && readBlock(node, at, b) && std::memcmp(b, secondaryMagic, 6) == 0 &&
            be(b + 6, 2) == 2) {
            copies.secondary = true;
            if (copies.uuid.empty())
                copies.uuid = uuidIn();
            break;
        }
    }
    if (copies.primary == 0 && copies.secondary)
        copies.foreign = foreignOver(node);
    return copies;
}

namespace {

// The first number after "@key" in a file of "key value" lines, or nothing.
std::optional<std::uint64_t> fieldOf(const std::string& path, const std::string& key)
{
    std::ifstream in(path);
    std::string name;
    std::uint64_t value = 0;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        if (fields >> name >> value && (name == key || name == key + ":"))
            return value;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> numberIn(const std::string& path)
{
    std::ifstream in(path);
    std::uint64_t value = 0;
    if (in >> value)
        return value;
    return std::nullopt;  // "max", or no such file
}

}  // namespace

std::uint64_t SystemKernelView::memoryAvailable()
{
    std::uint64_t available = std::numeric_limits<std::uint64_t>::max();
    if (auto kib = fieldOf("/proc/meminfo", "MemAvailable"))
        available = *kib * 1024;
    // cgroup v2 ("0::/system.slice/vaultd.service"): every level's limit
    // counts, less what it holds already (but its reclaimable page cache).
    std::ifstream self("/proc/self/cgroup");
    std::string line;
    while (std::getline(self, line)) {
        if (!line.starts_with("0::/"))
            continue;
        std::string dir = "/sys/fs/cgroup" + line.substr(3);
        while (dir.size() > std::string("/sys/fs/cgroup").size()) {
            auto max = numberIn(dir + "/memory.max");
            auto current = numberIn(dir + "/memory.current");
            if (max && current) {
                const std::uint64_t cache =
                    fieldOf(dir + "/memory.stat", "inactive_file").value_or(0);
                const std::uint64_t used = *current > cache ? *current - cache : 0;
                available = std::min(available, *max > used ? *max - used : 0);
            }
            dir.erase(dir.rfind('/'));
        }
    }
    return available;
}

}  // namespace vaultd::system
