// A shared library opened with dlopen() the first time vaultd needs it, not
// at start: an idle vaultd calls neither libcryptsetup nor libpwquality, but
// linked they would stay mapped, with all they bring, for its whole life.
// Api is a struct deriving from LazyFunctions that declares each function
// with VAULTD_LAZY_FUNCTION(name), typed by decltype of the prototype in the
// library's own header, so the compiler checks every call as if it were
// direct. LazyLibrary<Api>::get() is thread safe and hands out the functions
// only once every one of them was found; they stay valid for the life of the
// process.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace vaultd::system {

template <typename Fn>
class LazyFunction;

// The functions of one library, each found by name when it is opened.
class LazyFunctions {
public:
    LazyFunctions() = default;
    // Each LazyFunction member registered its own address with this object.
    LazyFunctions(const LazyFunctions&) = delete;
    LazyFunctions& operator=(const LazyFunctions&) = delete;

    // Opens @soname and finds every function in it; Failed, naming @soname
    // with dlerror()'s words, when it cannot be opened or lacks one (and then
    // every function is left unset). Not thread safe: see LazyLibrary.
    engine::Status open(const std::string& soname);

protected:
    ~LazyFunctions() = default;

private:
    template <typename Fn>
    friend class LazyFunction;

    struct Slot {
        const char* name;
        void** address;
    };
    std::vector<Slot> slots_;
};

// One function of a library, called with the parameter types of its
// prototype, so arguments convert exactly as in a direct call. Calling it
// before its LazyFunctions was opened is a bug; LazyLibrary makes that hard.
template <typename R, typename... Args>
class LazyFunction<R (*)(Args...)> {
public:
    LazyFunction(LazyFunctions& functions, const char* name)
    {
        functions.slots_.push_back({name, &address_});
    }
    LazyFunction(const LazyFunction&) = delete;
    LazyFunction& operator=(const LazyFunction&) = delete;

    R operator()(Args... args) const { return reinterpret_cast<R (*)(Args...)>(address_)(args...); }

private:
    void* address_ = nullptr;
};

// Declares the member @name of an Api: the function of that name, of the
// type its header gives it. A name the header lacks does not compile; a
// function of the header that the library lacks fails get().
#define VAULTD_LAZY_FUNCTION(name)                         \
    ::vaultd::system::LazyFunction<decltype(&::name)> name \
    {                                                      \
        *this, #name                                       \
    }

template <typename Api>
class LazyLibrary {
public:
    // @configure, when given, runs once, after every function was found and
    // before get() gives them to anybody: for the library's global settings.
    explicit LazyLibrary(std::string soname, void (*configure)(const Api&) = nullptr)
        : soname_(std::move(soname)), configure_(configure)
    {
    }
    LazyLibrary(const LazyLibrary&) = delete;
    LazyLibrary& operator=(const LazyLibrary&) = delete;

    // The library's functions, opening it on the first call. Failed when it
    // cannot be opened or lacks a function; the next call tries again, so a
    // library installed meanwhile is found without a restart.
    engine::Result<const Api*> get()
    {
        if (loaded_.load(std::memory_order_acquire))
            return &api_;
        std::lock_guard hold(lock_);
        if (!loaded_.load(std::memory_order_relaxed)) {
            if (auto st = api_.open(soname_); !st)
                return st.error();
            if (configure_)
                configure_(api_);
            loaded_.store(true, std::memory_order_release);
        }
        return &api_;
    }

private:
    const std::string soname_;
    void (*const configure_)(const Api&);
    Api api_;
    std::mutex lock_;
    std::atomic<bool> loaded_{false};
};

}  // namespace vaultd::system
