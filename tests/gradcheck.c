#include "gradcheck.h"

#include <glib/gstdio.h>

#include <math.h>

static uint64_t
splitmix64 (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
uniform01 (uint64_t *state)
{
  return (double) (splitmix64 (state) >> 11) * (1.0 / 9007199254740992.0);
}

void
test_fill_uniform (double *x, size_t count, uint64_t seed, double lo, double hi)
{
  uint64_t state = seed;
  for (size_t i = 0; i < count; i++)
    x[i] = lo + (hi - lo) * uniform01 (&state);
}

void
test_fill_uniform_float (float *x, size_t count, uint64_t seed, float lo, float hi)
{
  uint64_t state = seed;
  for (size_t i = 0; i < count; i++)
    x[i] = (float) (lo + (hi - lo) * uniform01 (&state));
}

int
test_random_int (uint64_t *state, int lo, int hi)
{
  return lo + (int) (splitmix64 (state) % (uint64_t) (hi - lo + 1));
}

void
test_to_float (const double *x, float *y, size_t count)
{
  for (size_t i = 0; i < count; i++)
    y[i] = (float) x[i];
}

void
test_to_double (const float *x, double *y, size_t count)
{
  for (size_t i = 0; i < count; i++)
    y[i] = x[i];
}

double *
test_doubles (size_t count)
{
  return g_new0 (double, count ? count : 1);
}

float *
test_floats (size_t count)
{
  return g_new0 (float, count ? count : 1);
}

static void
assert_close (const char *what, size_t count, double atol, double rtol,
              double (*get) (const void *, size_t), const void *got, const double *want)
{
  for (size_t i = 0; i < count; i++)
    {
      double g = get (got, i);
      double limit = atol + rtol * fabs (want[i]);
      if (!(fabs (g - want[i]) <= limit))
        g_error ("%s: element %zu of %zu is %.9g, expected %.9g (difference %.3g > %.3g)",
                 what, i, count, g, want[i], fabs (g - want[i]), limit);
    }
}

static double
get_float (const void *data, size_t i)
{
  return ((const float *) data)[i];
}

static double
get_double (const void *data, size_t i)
{
  return ((const double *) data)[i];
}

void
test_assert_close (const char *what, const float *got, const double *want, size_t count,
                   double atol, double rtol)
{
  assert_close (what, count, atol, rtol, get_float, got, want);
}

void
test_assert_close_double (const char *what, const double *got, const double *want, size_t count,
                          double atol, double rtol)
{
  assert_close (what, count, atol, rtol, get_double, got, want);
}

double
test_dot (const double *a, const double *b, size_t count)
{
  double sum = 0;
  for (size_t i = 0; i < count; i++)
    sum += a[i] * b[i];
  return sum;
}

void
test_check_gradient (const char *what, double *x, size_t count, const double *analytic,
                     test_scalar_function f, void *ctx, double step, double tolerance)
{
  for (size_t i = 0; i < count; i++)
    {
      double saved = x[i], plus, minus, numeric, scale;
      x[i] = saved + step;
      plus = f (ctx);
      x[i] = saved - step;
      minus = f (ctx);
      x[i] = saved;
      numeric = (plus - minus) / (2 * step);
      scale = fmax (1.0, fmax (fabs (numeric), fabs (analytic[i])));
      if (!(fabs (numeric - analytic[i]) <= tolerance * scale))
        g_error ("%s: gradient element %zu of %zu is %.9g analytically, %.9g by finite differences",
                 what, i, count, analytic[i], numeric);
    }
}

void
test_remove_tree (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      GDir *dir;
      const char *name;
      g_chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          char *child = g_build_filename (path, name, NULL);
          test_remove_tree (child);
          g_free (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
    }
  g_remove (path);
}

char *
test_private_user_dirs (const char *template, gboolean data_home)
{
  static const char *const xdg_dirs[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME" };
  char *home = g_dir_make_tmp (template, NULL);

  g_assert_nonnull (home);
  for (guint i = 0; i < G_N_ELEMENTS (xdg_dirs); i++)
    {
      char *dir = data_home && i == 0 ? g_strdup (home) : g_build_filename (home, xdg_dirs[i], NULL);
      g_setenv (xdg_dirs[i], dir, TRUE);
      g_free (dir);
    }
  return home;
}

void
test_no_proxy (void)
{
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("https_proxy");
  g_unsetenv ("all_proxy");
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
}
