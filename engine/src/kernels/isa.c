/*
 * isa.c - the one rule for choosing SIMD kernel sets (see isa.h).
 */
#include "core/lore_int.h"
#include "kernels/isa.h"

#include <string.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LORE__HAVE_VALGRIND 1
#endif

static bool under_valgrind(void)
{
#ifdef LORE__HAVE_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

/* __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0). */
static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

static bool cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           cpu_has_avx2();
#else
    return false;
#endif
}

lore__isa lore__isa_parse(const char *name)
{
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0)
            return (lore__isa)i;
    return LORE__ISA_UNKNOWN;
}

bool lore__isa_runnable(lore__isa isa)
{
    switch (isa) {
    case LORE__ISA_SCALAR:
        return true;
    case LORE__ISA_AVX2:
        return cpu_has_avx2();
    case LORE__ISA_AVX512:
        return cpu_has_avx512() && !under_valgrind();
    case LORE__ISA_UNKNOWN:
        break;
    }
    return false;
}
