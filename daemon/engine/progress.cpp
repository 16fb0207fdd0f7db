#include "engine/progress.hpp"

namespace vaultd::engine {
namespace {

class NoProgress final : public Progress {
public:
    void stage(std::string_view, double, double, std::chrono::milliseconds) override {}
    void bytes(std::uint64_t, std::uint64_t) override {}
    void setCancellable(bool) override {}
    bool cancelRequested() const override { return false; }
};

}  // namespace

Progress& Progress::none()
{
    static NoProgress none;
    return none;
}

}  // namespace vaultd::engine
