#include "errors.hpp"
#include "passphrase.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

using namespace vaultctl;

namespace {

// A file under $TMPDIR holding @content, removed again at the end of the test.
class TempFile {
public:
    explicit TempFile(std::string_view content)
    {
        const char* dir = std::getenv("TMPDIR");
        path_ = std::string(dir != nullptr ? dir : "/tmp") + "/vaultctl-test-XXXXXX";
        int fd = mkstemp(path_.data());
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        close(fd);
    }

    ~TempFile() { unlink(path_.c_str()); }

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Puts a pipe holding @content (write end closed) on standard input while it lives.
class StdinFromPipe {
public:
    explicit StdinFromPipe(std::string_view content) : saved_(dup(STDIN_FILENO))
    {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        REQUIRE(write(fds[1], content.data(), content.size()) ==
                static_cast<ssize_t>(content.size()));
        close(fds[1]);
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
    }

    ~StdinFromPipe()
    {
        dup2(saved_, STDIN_FILENO);
        close(saved_);
    }

private:
    int saved_;
};

std::string asString(const SecretBuffer& secret)
{
    return {reinterpret_cast<const char*>(secret.bytes().data()), secret.size()};
}

template <typename F>
CommandError failureOf(F&& call)
{
    try {
        call();
    } catch (const CommandError& error) {
        return error;
    }
    FAIL("no CommandError was thrown");
    return CommandError(0, "");
}

}  // namespace

TEST_CASE("a key file is read as its exact bytes, NUL and final newline included", "[unit]")
{
    const std::string content("line one\n\0binary\xff\n", 18);
    TempFile file(content);

    SecretBuffer secret = readKeyFile(file.path());
    CHECK(secret.size() == content.size());
    CHECK(asString(secret) == content);
}

TEST_CASE("a key file of exactly the cap is accepted", "[unit]")
{
    TempFile file(std::string(SecretBuffer::capacity, 'k'));
    CHECK(readKeyFile(file.path()).full());
}

TEST_CASE("a key file over the cap is refused", "[unit]")
{
    TempFile file(std::string(SecretBuffer::capacity + 1, 'k'));

    CommandError error = failureOf([&] { readKeyFile(file.path()); });
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()) == "key file '" + file.path() + "' is larger than 65536 bytes");
}

TEST_CASE("a missing key file is refused with the path quoted", "[unit]")
{
    CommandError error = failureOf([] { readKeyFile("/nonexistent/key"); });
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()) ==
          "cannot open key file '/nonexistent/key': No such file or directory");
}

TEST_CASE("an empty key file is refused", "[unit]")
{
    TempFile file("");
    CommandError error = failureOf([&] { obtainPassphrase(file.path(), "/dev/vdb", true); });
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()) == "key file '" + file.path() + "' is empty");
}

TEST_CASE("key file - reads standard input to its end without stripping", "[unit]")
{
    StdinFromPipe input("from a pipe\n\n");
    SecretBuffer secret = obtainPassphrase(std::string("-"), "/dev/vdb", false);
    CHECK(asString(secret) == "from a pipe\n\n");
}

TEST_CASE("a piped standard input without a key file is refused, not read", "[unit]")
{
    StdinFromPipe input("hunter2\n");
    CommandError error = failureOf([] { obtainPassphrase(std::nullopt, "/dev/vdb", false); });
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()).find("pass --key-file -") != std::string::npos);
}

TEST_CASE("the memfd holds exactly the secret and starts at its beginning", "[unit]")
{
    const std::string content("pass\0word\n", 10);
    TempFile file(content);
    SecretBuffer secret = readKeyFile(file.path());

    UniqueFd fd = secretToMemfd(secret);
    REQUIRE(fd.valid());
    CHECK((fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);

    std::string readBack(content.size() + 1, '\0');
    ssize_t count = read(fd.get(), readBack.data(), readBack.size());
    REQUIRE(count == static_cast<ssize_t>(content.size()));
    readBack.resize(static_cast<std::size_t>(count));
    CHECK(readBack == content);
}

TEST_CASE("a new secret without a terminal names --new-key-file", "[unit]")
{
    StdinFromPipe input("hunter2\n");
    SecretPrompt prompt;
    prompt.prompt = "New passphrase for /dev/vdb: ";
    prompt.repeat = "Repeat new passphrase: ";
    prompt.what = "the new passphrase";
    prompt.option = "--new-key-file";
    CommandError error = failureOf([&] { obtainSecret(std::nullopt, prompt); });
    CHECK(error.exitCode() == exitUsage);
    CHECK(std::string(error.what()) ==
          "standard input is not a terminal; pass --new-key-file - to read the new passphrase "
          "from it");
}

TEST_CASE("a new secret from a key file is read as exact bytes, without a prompt", "[unit]")
{
    TempFile file("new key\n");
    SecretPrompt prompt;
    prompt.option = "--new-key-file";
    CHECK(asString(obtainSecret(file.path(), prompt)) == "new key\n");
}

TEST_CASE("the recovery key is read from its pipe without its newline", "[unit]")
{
    const std::string key = "k7hq2m-a3bcde-fghjkm-npqrst-vwxyz2-345678-9abcde-fghjkm";
    auto [readEnd, writeEnd] = recoveryKeyPipe();
    CHECK((fcntl(readEnd.get(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(writeEnd.get(), F_GETFL) & O_NONBLOCK) == 0);
    CHECK((fcntl(readEnd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(write(writeEnd.get(), (key + "\n").data(), key.size() + 1) ==
            static_cast<ssize_t>(key.size() + 1));
    // vaultd may still hold its write end: what is there is read, without waiting for more.
    SecretBuffer read = readRecoveryKey(readEnd.get());
    CHECK(asString(read) == key);
}

TEST_CASE("what is not a recovery key is not taken for one", "[unit]")
{
    for (const std::string& sent :
         {std::string(), std::string("\n"), std::string("ABC-DEF\n"), std::string("abc\x1b[2J\n"),
          std::string("abc\ndef\n"), std::string("{\"x\"}")}) {
        INFO(sent);
        auto [readEnd, writeEnd] = recoveryKeyPipe();
        if (!sent.empty())
            REQUIRE(write(writeEnd.get(), sent.data(), sent.size()) ==
                    static_cast<ssize_t>(sent.size()));
        writeEnd = UniqueFd();
        CHECK(readRecoveryKey(readEnd.get()).empty());
    }
}
