/* parallel.h: the engine's threads.
 *
 * GEMMs run on OpenBLAS's threads; every other loop runs on OpenMP with the same
 * count. The two never nest: an OpenMP region never calls into BLAS, so threads
 * are never oversubscribed. Loops split their work statically and reduce in a
 * fixed order, so the same seed and thread count give the same bits.
 */
#pragma once

/* Sets the number of threads for OpenBLAS and OpenMP; n <= 0 means the number of
 * online CPUs. */
void graft_set_num_threads (int n);
int graft_get_num_threads (void);
