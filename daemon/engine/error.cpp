#include "engine/error.hpp"

namespace vaultd::engine {

std::string_view errorName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::NotAuthorized: return "NotAuthorized";
    case ErrorCode::AuthenticationRequired: return "AuthenticationRequired";
    case ErrorCode::WrongPassphrase: return "WrongPassphrase";
    case ErrorCode::CredentialRequired: return "CredentialRequired";
    case ErrorCode::NotLuks: return "NotLuks";
    case ErrorCode::Busy: return "Busy";
    case ErrorCode::NotEmpty: return "NotEmpty";
    case ErrorCode::TooSmall: return "TooSmall";
    case ErrorCode::WouldShrink: return "WouldShrink";
    case ErrorCode::NoSuchDevice: return "NoSuchDevice";
    case ErrorCode::Ambiguous: return "Ambiguous";
    case ErrorCode::NameInUse: return "NameInUse";
    case ErrorCode::DuplicateFilesystemUuid: return "DuplicateFilesystemUuid";
    case ErrorCode::InvalidName: return "InvalidName";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::InvalidMountPoint: return "InvalidMountPoint";
    case ErrorCode::WrongState: return "WrongState";
    case ErrorCode::WeakPassphrase: return "WeakPassphrase";
    case ErrorCode::NoFreeKeyslot: return "NoFreeKeyslot";
    case ErrorCode::LastKeyslot: return "LastKeyslot";
    case ErrorCode::NotSupportedOnLuks1: return "NotSupportedOnLuks1";
    case ErrorCode::InsufficientMemory: return "InsufficientMemory";
    case ErrorCode::HeaderMismatch: return "HeaderMismatch";
    case ErrorCode::KeyServerUnavailable: return "KeyServerUnavailable";
    case ErrorCode::Cancelled: return "Cancelled";
    case ErrorCode::DeviceFailing: return "DeviceFailing";
    case ErrorCode::Failed: return "Failed";
    }
    return "Failed";
}

}  // namespace vaultd::engine
