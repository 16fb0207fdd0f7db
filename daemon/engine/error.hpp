// Named failures of the engine, and the result type every operation returns.
// An Error carries a code (which the bus layer maps to a D-Bus error name) and
// a message with its context, ready to show to a person. Values; thread safe
// to copy.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vaultd::engine {

enum class ErrorCode {
    NotAuthorized,
    AuthenticationRequired,
    WrongPassphrase,
    CredentialRequired,
    NotLuks,
    Busy,
    NotEmpty,
    TooSmall,
    WouldShrink,
    NoSuchDevice,
    Ambiguous,
    NameInUse,
    DuplicateFilesystemUuid,
    InvalidName,
    InvalidArgument,
    InvalidMountPoint,
    WrongState,
    WeakPassphrase,
    NoFreeKeyslot,
    LastKeyslot,
    NotSupportedOnLuks1,
    InsufficientMemory,
    HeaderMismatch,
    KeyServerUnavailable,
    Cancelled,
    DeviceFailing,
    Failed,
};

// The stable name used on the bus: org.vaultd.Vault1.Error.<name>.
std::string_view errorName(ErrorCode code);

struct Error {
    ErrorCode code;
    std::string message;
};

// Whether a successful operation changed anything, so that a retried call
// is a harmless no-op that says so.
enum class Changed { No, Yes };

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }

    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    const Error& error() const { return std::get<Error>(v_); }

private:
    std::variant<T, Error> v_;
};

// For steps that only succeed or fail.
struct Done {};
using Status = Result<Done>;

inline Error makeError(ErrorCode code, std::string message)
{
    return Error{code, std::move(message)};
}

}  // namespace vaultd::engine
