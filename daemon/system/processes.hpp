// The real Processes: walks /proc for processes whose open files, working
// or root directory, or mapped files are on given devices, or that hold the
// device nodes themselves open. Stateless; thread safe. What a process
// closes or opens while we look may be missed or seen; callers act on the
// answer only to refuse, never to proceed.
#pragma once

#include "engine/ports.hpp"

namespace vaultd::system {

class ProcProcesses final : public engine::Processes {
public:
    explicit ProcProcesses(std::string procRoot = "/proc");
    std::vector<engine::DeviceUser> usersOf(const std::vector<std::string>& devnums) override;

private:
    std::string procRoot_;
};

}  // namespace vaultd::system
