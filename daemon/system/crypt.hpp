// The real Crypt port over libcryptsetup. Each call makes its own
// crypt_device, and calls run one at a time process-wide: libcryptsetup's
// device-mapper backend is global state without locks, and the KDF can take
// a gigabyte per run. Opening a mapping keeps its volume key in vaultd's
// process keyring until the mapping is closed, for resize(). libcryptsetup
// is loaded by the first call that needs it; when it cannot be, that call
// fails saying why. Thread safe.
#pragma once

#include <memory>
#include <string>

#include "engine/ports.hpp"

namespace vaultd::system {

template <typename Api>
class LazyLibrary;
struct Cryptsetup;

class LibCrypt final : public engine::Crypt {
public:
    static constexpr const char* kLibrary = "libcryptsetup.so.12";

    // Make it before starting any thread that uses it (see the keyring).
    // @library is the soname libcryptsetup is loaded from.
    explicit LibCrypt(const std::string& library = kLibrary);
    ~LibCrypt() override;
    LibCrypt(const LibCrypt&) = delete;
    LibCrypt& operator=(const LibCrypt&) = delete;

    engine::Status format(const std::string& node, const engine::LuksParams& params,
                          const engine::SecretBuffer& passphrase,
                          const std::string& activateAs) override;
    // An empty @name only checks the passphrase against the keyslots.
    engine::Result<int> activate(const std::string& node, const std::string& name,
                                 const engine::SecretBuffer& passphrase, int keyslot,
                                 const engine::MappingOptions& options = {}) override;
    engine::Status deactivate(const std::string& name, Deactivate how) override;
    // False too when libcryptsetup cannot be loaded: whatever then tries to
    // open a mapping fails, saying why.
    bool mappingExists(const std::string& name) override;
    engine::Result<Mapping> mapping(const std::string& name) override;
    engine::Status resize(const std::string& name, const engine::SecretBuffer* passphrase) override;
    engine::Status backupHeader(const std::string& node, const std::string& file) override;
    engine::Result<engine::HeaderInfo> header(const std::string& fileOrNode) override;
    engine::Status restoreHeader(const std::string& node, const std::string& file) override;
    engine::Status repairHeader(const std::string& node) override;
    engine::Status erase(const std::string& node, engine::Progress& progress) override;
    engine::Status setHeaderFlags(const std::string& node,
                                  const engine::HeaderFlags& flags) override;
    engine::Result<int> addKeyslot(const std::string& node, const engine::SecretBuffer& existing,
                                   int existingSlot, const engine::SecretBuffer& added,
                                   const engine::PbkdfSettings& pbkdf,
                                   engine::KeyKind kind) override;
    engine::Result<int> changeKey(const std::string& node, const engine::SecretBuffer& old,
                                  int oldSlot, const engine::SecretBuffer& replacement,
                                  const engine::PbkdfSettings& pbkdf) override;
    engine::Status removeKeyslot(const std::string& node, int keyslot) override;
    engine::Result<std::vector<engine::TokenRecord>> tokens(const std::string& node) override;
    engine::Result<int> addBoundKeyslot(const std::string& node,
                                        const engine::SecretBuffer& existing, int existingSlot,
                                        const engine::SecretBuffer& added,
                                        const engine::PbkdfSettings& pbkdf,
                                        const std::string& tokenJson) override;

private:
    // libcryptsetup, loaded under libraryLock (see crypt.cpp); hold() keeps
    // the lock for the caller.
    struct Held;
    engine::Result<const Cryptsetup*> loaded();
    engine::Result<Held> hold();

    std::unique_ptr<LazyLibrary<Cryptsetup>> library_;
};

}  // namespace vaultd::system
