// A directory of its own under /tmp for a unit test, removed with its
// contents at the end of the test.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace vaultd::testing {

class ScratchDir {
public:
    ScratchDir()
    {
        std::string pattern = "/tmp/vaultd-unit-XXXXXX";
        if (!mkdtemp(pattern.data()))
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = pattern;
    }
    ~ScratchDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

    // Writes @name (its directories made as needed) holding @text.
    void write(const std::string& name, const std::string& text) const
    {
        std::filesystem::create_directories(std::filesystem::path(*this / name).parent_path());
        std::ofstream out(*this / name, std::ios::binary);
        out << text;
        REQUIRE(out.good());
    }

    // The file's contents, or "(missing)".
    std::string read(const std::string& name) const
    {
        std::ifstream in(*this / name, std::ios::binary);
        if (!in)
            return "(missing)";
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

private:
    std::string path_;
};

}  // namespace vaultd::testing
