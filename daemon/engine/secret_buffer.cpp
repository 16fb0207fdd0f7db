#include "engine/secret_buffer.hpp"

#include <string.h>
#include <sys/mman.h>

#include <new>
#include <stdexcept>
#include <utility>

namespace vaultd::engine {

SecretBuffer::SecretBuffer(std::size_t cap) : cap_(cap)
{
    // An anonymous mapping rather than the heap: it can be locked and marked
    // so a core dump or a fork never carries the secret.
    void* p = mmap(nullptr, cap_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    (void)mlock(data_, cap_);  // best effort: RLIMIT_MEMLOCK may refuse
    (void)madvise(data_, cap_, MADV_DONTDUMP);
    (void)madvise(data_, cap_, MADV_WIPEONFORK);
}

SecretBuffer::~SecretBuffer()
{
    release();
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      cap_(std::exchange(other.cap_, 0)),
      size_(std::exchange(other.size_, 0))
{
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept
{
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        cap_ = std::exchange(other.cap_, 0);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

std::span<char> SecretBuffer::spare()
{
    return {data_ + size_, cap_ - size_};
}

void SecretBuffer::commit(std::size_t bytes)
{
    if (bytes > cap_ - size_)
        throw std::length_error("secret buffer commit past its capacity");
    size_ += bytes;
}

void SecretBuffer::wipe()
{
    if (data_)
        explicit_bzero(data_, cap_);
    size_ = 0;
}

void SecretBuffer::release()
{
    if (!data_)
        return;
    wipe();
    munlock(data_, cap_);
    munmap(data_, cap_);
    data_ = nullptr;
    cap_ = 0;
}

}  // namespace vaultd::engine
