/* gradcheck.h: what every engine test needs: seeded random data, closeness
 * assertions that say where they fail, and a central finite-difference checker. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* Fills x with uniform values in [lo, hi) from a seeded generator (same seed, same values). */
void test_fill_uniform (double *x, size_t count, uint64_t seed, double lo, double hi);
void test_fill_uniform_float (float *x, size_t count, uint64_t seed, float lo, float hi);
/* A seeded integer in [lo, hi]. */
int test_random_int (uint64_t *state, int lo, int hi);

void test_to_float (const double *x, float *y, size_t count);
void test_to_double (const float *x, double *y, size_t count);
double *test_doubles (size_t count);  /* g_new0 (double, count) */
float *test_floats (size_t count);    /* g_new0 (float, count) */

/* Asserts |got[i] - want[i]| <= atol + rtol * |want[i]| for every i, and on failure
 * reports what, the first bad index and both values. */
void test_assert_close (const char *what, const float *got, const double *want, size_t count,
                        double atol, double rtol);
void test_assert_close_double (const char *what, const double *got, const double *want, size_t count,
                               double atol, double rtol);

/* sum_i a[i] * b[i] */
double test_dot (const double *a, const double *b, size_t count);

/* A scalar function of the current contents of some input (the caller's ctx knows
 * which): typically dot(forward(x), r) for a fixed random r. */
typedef double (*test_scalar_function) (void *ctx);

/* Central finite differences: for every i, perturbs x[i] by +-step in place, calls f,
 * restores x[i], and compares (f+ - f-) / (2 step) with analytic[i]
 * (|fd - analytic| <= tolerance * max(1, |fd|, |analytic|)). */
void test_check_gradient (const char *what, double *x, size_t count, const double *analytic,
                          test_scalar_function f, void *ctx, double step, double tolerance);

/* Deletes path and, when it is a folder, everything below it (symbolic links are
 * removed, not followed; write permission is restored on folders a test took it
 * from). Missing paths are fine. */
void test_remove_tree (const char *path);

/* A new temporary folder (template as for g_dir_make_tmp) holding the user folders,
 * with XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME and XDG_STATE_HOME pointing
 * into it (data_home: as is, the folder itself, for tests that want the data folder
 * plain). Call before anything reads them: GLib caches them. */
char *test_private_user_dirs (const char *template, gboolean data_home);
/* No proxy from the environment or the desktop: for tests that talk to a loopback
 * server. */
void test_no_proxy (void);
