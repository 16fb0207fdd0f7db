#include "system/lazy_library.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

namespace vaultd::system {
namespace {

engine::Error failedToLoad(const std::string& soname, const char* why)
{
    return engine::makeError(engine::ErrorCode::Failed,
                             fmt::format("failed to load '{}': {}", soname, why));
}

}  // namespace

engine::Status LazyFunctions::open(const std::string& soname)
{
    // RTLD_NOW binds everything the library itself needs at once: a library
    // whose own dependencies are missing or too old fails here, as an error,
    // rather than killing vaultd at some later call. RTLD_LOCAL keeps its
    // symbols out of the way of whatever is opened after it.
    void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        return failedToLoad(soname, dlerror());
    for (const Slot& slot : slots_) {
        void* address = dlsym(handle, slot.name);
        if (!address) {
            const char* why = dlerror();
            const std::string message = why ? why : fmt::format("it has no function {}", slot.name);
            for (const Slot& s : slots_)
                *s.address = nullptr;
            dlclose(handle);
            return failedToLoad(soname, message.c_str());
        }
        *slot.address = address;
    }
    // The handle is never closed: the functions stay valid for the life of
    // the process, and libraries such as libcrypto do not expect to be
    // unloaded.
    return engine::Done{};
}

}  // namespace vaultd::system
