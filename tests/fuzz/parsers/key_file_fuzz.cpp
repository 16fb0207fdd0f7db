// libFuzzer target: the secret reader, which takes a passphrase from the
// descriptor a caller passed over the bus, and the key-file reader built on
// it. The input's first byte picks the buffer's capacity (1 to 256 bytes),
// the rest is what the caller wrote. Through a pipe, a memfd and (as root)
// a key file: a secret that fits reads back byte for byte; one that does
// not is refused and leaves the buffer empty.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/secret_buffer.hpp"
#include "property.hpp"
#include "system/secret_reader.hpp"

namespace {

using vaultd::engine::SecretBuffer;

void writeAll(int fd, std::string_view bytes)
{
    while (!bytes.empty()) {
        const ssize_t n = write(fd, bytes.data(), bytes.size());
        FUZZ_REQUIRE(n > 0);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void requireRead(const vaultd::engine::Status& read, const SecretBuffer& buffer,
                 std::string_view secret)
{
    if (secret.size() <= buffer.capacity()) {
        FUZZ_REQUIRE(read);
        FUZZ_REQUIRE(std::string_view(buffer.data(), buffer.size()) == secret);
    } else {
        FUZZ_REQUIRE(!read);
        FUZZ_REQUIRE(!read.error().message.empty());
        FUZZ_REQUIRE(buffer.empty());
    }
}

void throughPipe(std::size_t capacity, std::string_view secret)
{
    int ends[2];
    FUZZ_REQUIRE(pipe2(ends, O_CLOEXEC) == 0);
    // Inputs are at most a few KiB: a pipe holds them without a reader.
    writeAll(ends[1], secret);
    close(ends[1]);
    SecretBuffer buffer(capacity);
    const auto read = vaultd::system::readSecret(ends[0], buffer, std::chrono::seconds(5));
    close(ends[0]);
    requireRead(read, buffer, secret);
}

void throughMemfd(std::size_t capacity, std::string_view secret)
{
    const int fd = memfd_create("fuzz-secret", MFD_CLOEXEC);
    FUZZ_REQUIRE(fd >= 0);
    writeAll(fd, secret);
    FUZZ_REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    SecretBuffer buffer(capacity);
    const auto read = vaultd::system::readSecret(fd, buffer, std::chrono::seconds(5));
    close(fd);
    requireRead(read, buffer, secret);
}

void throughKeyFile(std::size_t capacity, std::string_view secret)
{
    // The reader accepts only a file of root's that no one else may read.
    if (geteuid() != 0)
        return;
    char path[] = "/tmp/vaultd-fuzz-key-XXXXXX";
    const int fd = mkstemp(path);
    FUZZ_REQUIRE(fd >= 0);
    FUZZ_REQUIRE(fchmod(fd, 0600) == 0);
    writeAll(fd, secret);
    close(fd);
    SecretBuffer buffer(capacity);
    const auto read = vaultd::system::readKeyFile(path, buffer);
    unlink(path);
    requireRead(read, buffer, secret);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::size_t capacity = 1 + data[0];
    const std::string_view secret(reinterpret_cast<const char*>(data + 1), size - 1);
    throughPipe(capacity, secret);
    throughMemfd(capacity, secret);
    throughKeyFile(capacity, secret);
    return 0;
}
