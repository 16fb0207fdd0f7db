// UniqueFd owns one file descriptor and closes it on destruction. Move-only; not thread safe.
// A negative value means "no descriptor".
#pragma once

namespace vaultctl {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd();

    UniqueFd(UniqueFd&& other) noexcept;
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    // Gives up ownership: the caller closes the returned descriptor.
    int release();

private:
    void close();

    int fd_ = -1;
};

}  // namespace vaultctl
