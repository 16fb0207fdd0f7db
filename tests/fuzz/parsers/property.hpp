// For the libFuzzer targets: a property of a parser's answer that must hold
// for every input. A broken one aborts with what broke, so libFuzzer keeps
// the input that broke it (as it does for a crash the sanitizers catch).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_REQUIRE(condition)                                                                   \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)
