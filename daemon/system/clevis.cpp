#include "system/clevis.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <sstream>

#include "system/spawn.hpp"

namespace vaultd::system {

namespace {

using engine::ErrorCode;
using engine::makeError;

// The parts of a compact JWE, in order, by their JSON names.
constexpr std::array<const char*, 5> kJweParts = {"protected", "encrypted_key", "iv", "ciphertext",
                                                  "tag"};
constexpr std::size_t kSummaryCap = 300;
constexpr std::size_t kJweCap = 65536;

bool isBase64Url(const std::string& s)
{
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
            return false;
    return true;
}

std::string failedRun(const HelperRun& run, const char* what)
{
    if (run.timedOut)
        return fmt::format("clevis {} took too long (no answer from the key server?)", what);
    const std::string said = summarise(run.errors);
    return fmt::format(
        "clevis {} failed ({}){}{}", what,
        run.exitStatus < 0 ? std::string("killed") : fmt::format("exit status {}", run.exitStatus),
        said.empty() ? "" : ": ", said);
}

}  // namespace

std::string summarise(const std::string& errors)
{
    std::istringstream in(errors);
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
            line.pop_back();
        if (line.empty())
            continue;
        for (char& c : line)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                c = '?';
        if (!out.empty())
            out += " / ";
        out += line;
        if (out.size() >= kSummaryCap) {
            out.resize(kSummaryCap - 3);
            out += "...";
            break;
        }
    }
    return out;
}

std::string jweCompactToJson(const std::string& compact)
{
    nlohmann::json jwe = nlohmann::json::object();
    std::size_t start = 0;
    for (std::size_t i = 0; i < kJweParts.size(); ++i) {
        const std::size_t dot = compact.find('.', start);
        const bool last = i + 1 == kJweParts.size();
        if (last != (dot == std::string::npos))
            return {};
        std::string part = compact.substr(start, last ? std::string::npos : dot - start);
        if (!isBase64Url(part))
            return {};
        jwe[kJweParts[i]] = std::move(part);
        start = dot + 1;
    }
    return jwe.dump();
}

std::string jweJsonToCompact(const std::string& json)
{
    const auto jwe = nlohmann::json::parse(json, nullptr, false);
    if (!jwe.is_object())
        return {};
    std::string compact;
    for (std::size_t i = 0; i < kJweParts.size(); ++i) {
        // A JWE with one recipient: encrypted_key may be absent (tang's is).
        std::string part;
        if (jwe.contains(kJweParts[i])) {
            if (!jwe[kJweParts[i]].is_string())
                return {};
            part = jwe[kJweParts[i]].get<std::string>();
        } else if (std::string_view(kJweParts[i]) != "encrypted_key") {
            return {};
        }
        if (!isBase64Url(part))
            return {};
        if (i > 0)
            compact += '.';
        compact += part;
    }
    return compact;
}

engine::Result<std::string> ClevisKeyServers::bindTang(const std::string& url,
                                                       const std::string& thumbprint,
                                                       const engine::SecretBuffer& key)
{
    const std::string config = nlohmann::json{{"url", url}, {"thp", thumbprint}}.dump();
    engine::SecretBuffer jwe(kJweCap);
    auto run = runKeyHelper("clevis", {"encrypt", "tang", config}, {key.data(), key.size()}, jwe,
                            timeout_);
    if (!run)
        return run.error();
    if (run.value().exitStatus != 0)
        return makeError(ErrorCode::KeyServerUnavailable, failedRun(run.value(), "encrypt"));
    std::string compact(jwe.data(), jwe.size());
    while (!compact.empty() && (compact.back() == '\n' || compact.back() == ' '))
        compact.pop_back();
    const std::string json = jweCompactToJson(compact);
    if (json.empty())
        return makeError(ErrorCode::Failed, "clevis encrypt gave something that is not a JWE");
    nlohmann::json token = {{"type", engine::kClevisToken},
                            {"keyslots", nlohmann::json::array()},
                            {"jwe", nlohmann::json::parse(json)}};
    return token.dump();
}

engine::Status ClevisKeyServers::unwrap(const std::string& tokenJson, engine::SecretBuffer& key)
{
    const auto token = nlohmann::json::parse(tokenJson, nullptr, false);
    if (!token.is_object() || !token.contains("jwe"))
        return makeError(ErrorCode::Failed, "the clevis token holds no JWE");
    const std::string compact = jweJsonToCompact(token["jwe"].dump());
    if (compact.empty())
        return makeError(ErrorCode::Failed, "the clevis token's JWE is malformed");
    auto run = runKeyHelper("clevis", {"decrypt"}, compact, key, timeout_);
    if (!run)
        return run.error();
    if (run.value().exitStatus != 0)
        return makeError(ErrorCode::KeyServerUnavailable, failedRun(run.value(), "decrypt"));
    if (key.empty())
        return makeError(ErrorCode::KeyServerUnavailable, "clevis decrypt gave an empty key");
    return engine::Done{};
}

}  // namespace vaultd::system
