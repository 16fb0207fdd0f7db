#include "temp_dir.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>

namespace vaultd::testing {

TempDir::TempDir()
{
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/vaultd-host-XXXXXX";
    if (!mkdtemp(pattern.data()))
        throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = pattern;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::image(const std::string& name, std::uint64_t size) const
{
    const std::string file = (path_ / name).string();
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "create " + file);
    const int rc = ftruncate(fd, static_cast<off_t>(size));
    const int err = errno;
    close(fd);
    if (rc != 0)
        throw std::system_error(err, std::generic_category(), "truncate " + file);
    return file;
}

}  // namespace vaultd::testing
