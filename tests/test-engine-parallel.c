/* The engine's threads: one pool for OpenBLAS and the engine's loops. */
#include <glib.h>
#include <omp.h>
#include <string.h>

#include "engine/parallel.h"

int openblas_get_num_threads (void);

/* Where the build found Debian's OpenMP OpenBLAS (meson.build), the process must have
 * loaded it through the run path, not the pthreads build the system alternative picks:
 * otherwise two thread pools fight over the cores again. */
static void
test_openblas_openmp (void)
{
#ifdef GRAFT_OPENBLAS_OPENMP
  g_test_message ("%s", graft_openblas_description ());
  g_assert_cmpstr (graft_openblas_threading (), ==, "OpenMP");
#else
  g_test_skip ("meson found no OpenMP build of OpenBLAS (Debian: libopenblas0-openmp); "
               "the OpenBLAS that was loaded runs on its own threads");
#endif
}

/* graft_set_num_threads sets one count for both: OpenBLAS's GEMMs and OpenMP's loops. */
static void
test_thread_counts (void)
{
  for (int n = 1; n <= 2; n++)
    {
      graft_set_num_threads (n);
      g_assert_cmpint (graft_get_num_threads (), ==, n);
      g_assert_cmpint (omp_get_max_threads (), ==, n);
      g_assert_cmpint (openblas_get_num_threads (), ==, n);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/parallel/openblas-openmp", test_openblas_openmp);
  g_test_add_func ("/engine/parallel/thread-counts", test_thread_counts);
  return g_test_run ();
}
