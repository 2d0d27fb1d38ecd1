/*
 * isa.h - which SIMD kernel sets this process can run. Every kernel family
 * (nn.c, distance.c) picks its variant through here, so the rule lives in one
 * place: AVX-512 (F, DQ, BW, VL) when the CPU has it and the process is not
 * under valgrind (valgrind 3.19 cannot decode AVX-512 and dies with SIGILL),
 * AVX2 with FMA when the CPU has it, scalar always.
 */
#ifndef LORE_KERNELS_ISA_H
#define LORE_KERNELS_ISA_H

#include <stdbool.h>

typedef enum lore__isa {
    LORE__ISA_SCALAR = 0,
    LORE__ISA_AVX2 = 1,
    LORE__ISA_AVX512 = 2,
    LORE__ISA_UNKNOWN = 3,
} lore__isa;

/* The ISA named name ("scalar", "avx2", "avx512"), or LORE__ISA_UNKNOWN (also for NULL). */
lore__isa lore__isa_parse(const char *name);

/* Whether this process can run kernels of isa. */
bool lore__isa_runnable(lore__isa isa);

#endif
