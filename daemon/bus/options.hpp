// Decodes the a{sv} options of the Volume methods into engine requests.
// Unknown keys and wrongly typed values are refused with InvalidArgument, so
// a client's typo never passes silently. Pure; thread safe.
#pragma once

#include <sdbus-c++/Types.h>

#include <map>
#include <optional>
#include <string>

#include "engine/error.hpp"
#include "engine/operations.hpp"

namespace vaultd::bus {

using Options = std::map<std::string, sdbus::Variant>;

engine::Result<engine::FormatRequest> decodeFormat(const std::string& filesystem,
                                                   const Options& options);
engine::Result<engine::UnlockRequest> decodeUnlock(const std::string& name, const Options& options);
// Unlock's token (b): open with the key the volume's clevis tokens give.
engine::Result<bool> decodeByToken(const Options& options);
engine::Result<engine::LockRequest> decodeLock(const Options& options);
// Grow's only option of its own: the passphrase's descriptor, if given.
engine::Result<std::optional<sdbus::UnixFd>> decodeGrow(const Options& options);
// AddKeyslot's and ChangePassphrase's: key-kind (s) and accept-weak (b).
engine::Result<engine::KeyRequest> decodeKey(const Options& options);
engine::Result<engine::RestoreRequest> decodeRestore(const Options& options);
// Tune's read-workqueue (b), write-workqueue (b) and discard (b); each
// absent one stays as it is.
engine::Result<engine::TuneRequest> decodeTune(const Options& options);
// For methods that take no options of their own yet.
engine::Status expectNoOptions(const Options& options);

// Every method takes "interactive" (b): the caller can answer a polkit
// authentication prompt, so vaultd lets polkit ask.
engine::Result<bool> interactiveOf(const Options& options);

}  // namespace vaultd::bus
