// A move-only holder for a passphrase or key file. Its storage is allocated
// once at the cap, locked in memory where the kernel allows it, never grown,
// and wiped over its whole capacity when the holder dies. Not thread safe;
// owned by one operation at a time.
#pragma once

#include <cstddef>
#include <span>

namespace vaultd::engine {

class SecretBuffer {
public:
    static constexpr std::size_t kDefaultCap = 65536;

    explicit SecretBuffer(std::size_t cap = kDefaultCap);
    ~SecretBuffer();

    SecretBuffer(SecretBuffer&& other) noexcept;
    SecretBuffer& operator=(SecretBuffer&& other) noexcept;
    SecretBuffer(const SecretBuffer&) = delete;
    SecretBuffer& operator=(const SecretBuffer&) = delete;

    std::size_t capacity() const { return cap_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const char* data() const { return data_; }

    // The unused tail, for a reader to fill; commit() records what it wrote.
    std::span<char> spare();
    void commit(std::size_t bytes);

    // Wipes every byte of the capacity and forgets the contents.
    void wipe();

private:
    void release();

    char* data_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t size_ = 0;
};

}  // namespace vaultd::engine
