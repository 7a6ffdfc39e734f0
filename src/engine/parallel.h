/* parallel.h: the engine's threads.
 *
 * GEMMs run on OpenBLAS's threads; every other loop runs on OpenMP with the same
 * count. Where OpenBLAS is built on OpenMP (Debian's libopenblas0-openmp, which the
 * build links with a run path, and the Flatpak's USE_OPENMP=1) the two are one pool:
 * libgomp's threads run the GEMMs and the loops in turn, and no second set of workers
 * spins while the other works. The two never nest: an OpenMP region never calls into
 * BLAS (an OpenMP OpenBLAS would run such a call on one thread; a pthreads one would
 * oversubscribe). Loops split their work statically and reduce in a fixed order, and
 * OpenBLAS splits a GEMM by the thread count alone, so the same seed and thread count
 * give the same bits.
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

/* How the OpenBLAS that was loaded runs its threads: "OpenMP", "pthreads" or
 * "sequential" (openblas_get_parallel), and a line that says which OpenBLAS it is
 * (its build configuration and the core it picked), for benchmarks' reports. */
const char *graft_openblas_threading (void);
const char *graft_openblas_description (void);
