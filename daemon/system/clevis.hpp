// The KeyServers port over clevis: `clevis encrypt tang` wraps a keyslot's
// key for a tang server, `clevis decrypt` asks the server to unwrap it. The
// JWE is kept in a LUKS2 token exactly as `clevis luks bind` keeps it (type
// "clevis", the JWE in its JSON form), so clevis's own tools and vaultd
// read each other's bindings. clevis runs without a terminal, its input in
// a sealed memory file, with a time limit; its stderr, summed up, is the
// error's message. Thread safe.
#pragma once

#include <chrono>

#include "engine/ports.hpp"

namespace vaultd::system {

class ClevisKeyServers final : public engine::KeyServers {
public:
    explicit ClevisKeyServers(std::chrono::milliseconds timeout) : timeout_(timeout) {}

    engine::Result<std::string> bindTang(const std::string& url, const std::string& thumbprint,
                                         const engine::SecretBuffer& key) override;
    engine::Status unwrap(const std::string& tokenJson, engine::SecretBuffer& key) override;

private:
    std::chrono::milliseconds timeout_;
};

// A JWE in compact form (five base64url parts joined by dots) as the JSON
// object clevis keeps in its LUKS2 token, and back; nullopt-like empty
// results for anything else.
std::string jweCompactToJson(const std::string& compact);
std::string jweJsonToCompact(const std::string& json);

// The first lines of a helper's stderr, for a message: at most 300 bytes.
std::string summarise(const std::string& errors);

}  // namespace vaultd::system
