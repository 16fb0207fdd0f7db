// Catch2 matchers for engine results, so a failed check prints the error
// name and message: CHECK_THAT(r, Succeeds()), CHECK_THAT(r, FailsWith(Busy)).
// Header only; used by the unit and host tests.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "engine/error.hpp"

namespace Catch {

template <typename T>
struct StringMaker<vaultd::engine::Result<T>> {
    static std::string convert(const vaultd::engine::Result<T>& result)
    {
        if (result.ok())
            return "success";
        return std::string(vaultd::engine::errorName(result.error().code)) + " \"" +
               result.error().message + "\"";
    }
};

}  // namespace Catch

namespace vaultd::testing {

class Succeeds final : public Catch::Matchers::Impl::MatcherUntypedBase {
public:
    template <typename T>
    bool match(const engine::Result<T>& result) const
    {
        return result.ok();
    }
    std::string describe() const override { return "succeeds"; }
};

class FailsWith final : public Catch::Matchers::Impl::MatcherUntypedBase {
public:
    explicit FailsWith(engine::ErrorCode code) : code_(code) {}

    template <typename T>
    bool match(const engine::Result<T>& result) const
    {
        return !result.ok() && result.error().code == code_;
    }
    std::string describe() const override
    {
        return "fails with " + std::string(engine::errorName(code_));
    }

private:
    engine::ErrorCode code_;
};

}  // namespace vaultd::testing
