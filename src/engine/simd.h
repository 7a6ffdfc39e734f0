/* simd.h: runtime dispatch of the engine's hot loops to wider vector units.
 *
 * The engine is compiled for the baseline of its architecture (x86-64: SSE2, four
 * floats a vector), so that one build runs on every CPU. GRAFT_SIMD_DISPATCH in front
 * of a function makes GCC compile it three times, for x86-64-v4 (AVX-512), x86-64-v3
 * (AVX2, FMA) and the baseline, and pick one when the program loads (an ifunc); the
 * loops OpenMP outlines from it are cloned with it. Put it on the functions whose loops
 * are the time: a clone is not inlined into its callers, and a plain helper it calls
 * is inlined into each clone only when GCC decides to (use always_inline for those
 * that matter).
 *
 * -ffp-contract=off holds in every clone (no FMA contraction), so a clone computes
 * what the baseline computes, with wider vectors: reductions whose order follows the
 * vector width (omp simd reduction) may round differently from one clone to another,
 * but a given machine always runs the same clone, so a seed and a thread count still
 * give the same bits there.
 *
 * Elsewhere (aarch64, where NEON is the baseline; clang; other compilers) it expands to
 * nothing. */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 \
    && defined(__ELF__) && defined(__linux__)
#define GRAFT_SIMD_CLONES 1
#define GRAFT_SIMD_DISPATCH __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GRAFT_SIMD_CLONES 0
#define GRAFT_SIMD_DISPATCH
#endif

/* Which of the clones this CPU runs: "x86-64-v4 (AVX-512)", "x86-64-v3 (AVX2)",
 * "x86-64 baseline (SSE2)", or the architecture's name where nothing is dispatched. */
const char *graft_simd_level (void);
