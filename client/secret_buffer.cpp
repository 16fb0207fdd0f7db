#include "secret_buffer.hpp"

#include <sys/mman.h>

#include <cassert>
#include <cstring>
#include <new>
#include <utility>

namespace vaultctl {

SecretBuffer::SecretBuffer()
{
    // Whole pages of our own, so that mlock and MADV_DONTDUMP cover exactly the secret and
    // no allocator ever hands a copy of these bytes to somebody else.
    void* pages =
        mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED)
        throw std::bad_alloc();

    // Both are best effort: RLIMIT_MEMLOCK may be too small, and the secret is still wiped.
    (void)mlock(pages, capacity);
    (void)madvise(pages, capacity, MADV_DONTDUMP);
    data_ = static_cast<std::byte*>(pages);
}

SecretBuffer::~SecretBuffer()
{
    release();
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0))
{
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept
{
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

std::span<const std::byte> SecretBuffer::bytes() const
{
    return {data_, size_};
}

std::span<std::byte> SecretBuffer::unused()
{
    if (data_ == nullptr)
        return {};
    return {data_ + size_, capacity - size_};
}

void SecretBuffer::commit(std::size_t count)
{
    assert(data_ != nullptr && count <= capacity - size_);
    size_ += count;
}

void SecretBuffer::dropLast()
{
    assert(size_ > 0);
    --size_;
    explicit_bzero(data_ + size_, 1);
}

void SecretBuffer::reset()
{
    if (data_ != nullptr)
        explicit_bzero(data_, capacity);
    size_ = 0;
}

bool SecretBuffer::sameBytes(const SecretBuffer& other) const
{
    return size_ == other.size_ && (size_ == 0 || std::memcmp(data_, other.data_, size_) == 0);
}

void SecretBuffer::release()
{
    if (data_ == nullptr)
        return;

    // The whole capacity, not just size_: a shorter secret may have replaced a longer one.
    explicit_bzero(data_, capacity);
    munlock(data_, capacity);
    munmap(data_, capacity);
    data_ = nullptr;
    size_ = 0;
}

}  // namespace vaultctl
