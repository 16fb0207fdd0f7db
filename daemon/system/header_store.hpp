// The real HeaderStore: a directory (/var/lib/vaultd/headers) holding, per
// LUKS UUID, UUID.img (the header, as libcryptsetup backs it up) and
// UUID.json (where it came from, when). Both are written under temporary
// names, synced and renamed into place, so a crash leaves the old backup or
// the new one, never half of either. Files are 0600 and the directory 0700.
// Thread safe: saves of one UUID are serialised.
#pragma once

#include <mutex>
#include <string>

#include "engine/ports.hpp"
#include "system/unique_fd.hpp"

namespace vaultd::system {

class DirHeaderStore final : public engine::HeaderStore {
public:
    DirHeaderStore(std::string dir, engine::Crypt& crypt) : dir_(std::move(dir)), crypt_(crypt) {}

    engine::Result<engine::HeaderBackup> save(const std::string& node,
                                              engine::HeaderBackup about) override;
    std::vector<engine::HeaderBackup> list() override;
    engine::Result<std::uint64_t> exportTo(const std::string& node, const std::string& luksUuid,
                                           int fd) override;

private:
    // The store's directory, 0700, with its parents.
    engine::Status makeDirectory();
    // Backs @node's header up to the new file @file and checks it loads back
    // as @luksUuid; removes the file on failure.
    engine::Status writeVerified(const std::string& node, const std::string& luksUuid,
                                 const std::string& file);

    std::string dir_;
    engine::Crypt& crypt_;
    std::mutex lock_;
};

// A private, sealed copy of the header backup a caller passed as @fd (at
// most @maxBytes, read within a few seconds), in memory: checked and
// restored from it, it cannot change in between. Its path for libcryptsetup
// is memoryPath() of the descriptor.
engine::Result<UniqueFd> copyToMemory(int fd, std::uint64_t maxBytes);
std::string memoryPath(const UniqueFd& fd);

}  // namespace vaultd::system
