#include "engine/parallel.h"
#include "engine/simd.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* OpenBLAS's own prototypes; cblas.h does not declare them in every version. */
void openblas_set_num_threads (int num_threads);
int openblas_get_parallel (void);
char *openblas_get_config (void);
char *openblas_get_corename (void);

static int num_threads = 0;

void
graft_set_num_threads (int n)
{
  if (n <= 0)
    {
      long online = sysconf (_SC_NPROCESSORS_ONLN);
      n = online > 0 ? (int) online : 1;
    }
  num_threads = n;
  omp_set_num_threads (n);
  openblas_set_num_threads (n);
}

int
graft_get_num_threads (void)
{
  if (num_threads == 0)
    graft_set_num_threads (0);
  return num_threads;
}

void
graft_prefer_passive_wait (char **argv)
{
  if (getenv ("OMP_WAIT_POLICY") != NULL || argv == NULL || argv[0] == NULL)
    return;
  if (setenv ("OMP_WAIT_POLICY", "passive", 1) != 0)
    return;
  execv ("/proc/self/exe", argv);
  /* No /proc (or no exec): carry on with the policy libgomp already read. */
}

const char *
graft_openblas_threading (void)
{
  switch (openblas_get_parallel ())
    {
    case 0:
      return "sequential";
    case 1:
      return "pthreads";
    case 2:
      return "OpenMP";
    default:
      return "unknown";
    }
}

const char *
graft_openblas_description (void)
{
  static char line[256];
  snprintf (line, sizeof line, "%s; core %s; %s threads", openblas_get_config (), openblas_get_corename (),
            graft_openblas_threading ());
  return line;
}

const char *
graft_simd_level (void)
{
#if GRAFT_SIMD_CLONES
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("x86-64-v4"))
    return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports ("x86-64-v3"))
    return "x86-64-v3 (AVX2)";
  return "x86-64 baseline (SSE2)";
#elif defined(__aarch64__)
  return "aarch64 (NEON, no dispatch)";
#else
  return "baseline (no dispatch)";
#endif
}
