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

/* OpenMP threads that wait for work by spinning take the CPU from everything else:
 * on a 2-core laptop beside a desktop, or beside OpenBLAS's own threads, a training
 * step ran 2-6x slower with GNU OpenMP's default policy than with OMP_WAIT_POLICY=passive
 * (graft-cli bench, MobileNetV2, batch 8, while another build ran). libgomp reads the
 * variable once, when it is loaded, before main: so when the user has not set it,
 * this sets it and executes the program again (/proc/self/exe, same arguments).
 * Returns only when nothing was to be done or the exec failed. Call first in main. */
void graft_prefer_passive_wait (char **argv);
