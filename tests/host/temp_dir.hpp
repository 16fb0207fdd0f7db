// A fresh directory under $TMPDIR (or /tmp) for one test, removed with
// everything in it when the TempDir dies; and sparse image files inside it.
// Not thread safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace vaultd::testing {

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

    // A sparse file of @size zero bytes, as a blank disk image.
    std::string image(const std::string& name, std::uint64_t size) const;

private:
    std::filesystem::path path_;
};

}  // namespace vaultd::testing
