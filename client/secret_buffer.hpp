// SecretBuffer holds a passphrase or key file's bytes: allocated once at its cap, never grown,
// never copied, wiped over its whole capacity when reset or destroyed. Locked into memory and
// kept out of core dumps where the kernel allows. Move-only; not thread safe (one owner).
#pragma once

#include <cstddef>
#include <span>

namespace vaultctl {

class SecretBuffer {
public:
    // Matches the daemon's cap on what it reads from a passphrase descriptor.
    static constexpr std::size_t capacity = 65536;

    // Throws std::bad_alloc when the pages cannot be mapped.
    SecretBuffer();
    ~SecretBuffer();

    SecretBuffer(SecretBuffer&& other) noexcept;
    SecretBuffer& operator=(SecretBuffer&& other) noexcept;
    SecretBuffer(const SecretBuffer&) = delete;
    SecretBuffer& operator=(const SecretBuffer&) = delete;

    // The secret so far. Empty for a moved-from buffer.
    std::span<const std::byte> bytes() const;
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool full() const { return size_ == capacity; }

    // The writable room after the secret: write into it, then commit() what was written.
    std::span<std::byte> unused();
    // Precondition: count <= unused().size().
    void commit(std::size_t count);

    // Removes the last byte (the newline of a typed line). Precondition: !empty().
    void dropLast();

    // Wipes the whole capacity and empties the buffer; it stays usable.
    void reset();

    bool sameBytes(const SecretBuffer& other) const;

private:
    void release();

    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace vaultctl
