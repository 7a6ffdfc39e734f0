/* Tests of pool.c: MaxPool2d, AveragePool2d and the spatial mean, against the
 * double-precision references, finite differences and values computed by PyTorch. */
#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

#include <math.h>
#include <string.h>

typedef struct {
  int n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
  bool ceil_mode, count_include_pad;
} pool_config;

/* Odd sizes, stride 1/2/3, asymmetric pads, both rounding modes, both divisors, the
 * window dropped by ceil mode (6x6 k2 s4 p1), and two network-sized cases. */
static const pool_config configs[] = {
  { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, false },
  { 1, 1, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, false, true },
  { 2, 3, 7, 7, 3, 3, 2, 2, 0, 0, 0, 0, true, false },
  { 1, 2, 13, 13, 3, 3, 2, 2, 0, 0, 0, 0, true, true },
  { 2, 2, 7, 13, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
  { 1, 3, 13, 7, 2, 3, 1, 2, 1, 0, 0, 2, true, true },
  { 1, 2, 7, 7, 3, 2, 3, 1, 2, 1, 1, 0, true, false },
  { 1, 1, 13, 13, 5, 5, 3, 3, 2, 2, 2, 2, true, true },
  { 1, 3, 3, 7, 3, 3, 1, 1, 1, 1, 1, 1, false, true },
  { 2, 1, 6, 6, 2, 2, 4, 4, 1, 1, 1, 1, true, true },
  { 1, 1, 1, 13, 1, 3, 1, 2, 0, 1, 0, 1, true, false },
  { 1, 2, 9, 11, 4, 3, 3, 2, 3, 0, 1, 2, true, true },
  { 2, 16, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, false, true },
  { 1, 8, 55, 55, 3, 3, 2, 2, 0, 0, 0, 0, true, false },
  { 1, 4, 32, 32, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static graft_pool2d_params
make_params (const pool_config *k)
{
  graft_pool2d_params p = {
    .n = k->n, .c = k->c, .h = k->h, .w = k->w, .kh = k->kh, .kw = k->kw,
    .stride_h = k->sh, .stride_w = k->sw,
    .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr,
    .ceil_mode = k->ceil_mode, .count_include_pad = k->count_include_pad,
  };
  graft_error error;
  graft_error_clear (&error);
  if (graft_pool2d_setup (&p, &error) != GRAFT_OK)
    g_error ("setup failed: %s", error.message);
  return p;
}

static size_t
in_count (const graft_pool2d_params *p)
{
  return (size_t) p->n * p->c * p->h * p->w;
}

static size_t
out_count (const graft_pool2d_params *p)
{
  return (size_t) p->n * p->c * p->oh * p->ow;
}

/* Distinct values, at least 1/count apart, in a scrambled order: no ties, and no
 * maximum changes under a finite-difference step. */
static void
fill_distinct (double *x, size_t count, uint64_t seed)
{
  uint64_t state = seed;
  for (size_t i = 0; i < count; i++)
    x[i] = (double) i / (double) count - 0.5;
  for (size_t i = count; i > 1; i--)
    {
      size_t j = (size_t) test_random_int (&state, 0, (int) (i - 1));
      double t = x[i - 1];
      x[i - 1] = x[j];
      x[j] = t;
    }
}

/* The input pattern of the PyTorch tests: ((i * 37) % 101) / 10, distinct below 101 elements. */
static void
fill_pattern (float *x, size_t count)
{
  for (size_t i = 0; i < count; i++)
    x[i] = (float) ((double) ((i * 37) % 101) / 10.0);
}

/* ------------------------------------------------------------------------ */

static void
test_setup (void)
{
  static const struct {
    pool_config k;
    int oh, ow;
  } good[] = {
    /* SqueezeNet: torch.nn.functional.max_pool2d (torch.zeros (1, 1, 111, 111), 3, 2, 0, ceil_mode=True).shape */
    { { 1, 96, 111, 111, 3, 3, 2, 2, 0, 0, 0, 0, true, false }, 55, 55 },
    { { 1, 256, 55, 55, 3, 3, 2, 2, 0, 0, 0, 0, true, false }, 27, 27 },
    { { 1, 1, 56, 56, 3, 3, 2, 2, 0, 0, 0, 0, true, false }, 28, 28 },
    { { 1, 1, 56, 56, 3, 3, 2, 2, 0, 0, 0, 0, false, false }, 27, 27 },
    /* ResNet: max_pool2d (torch.zeros (1, 1, 112, 112), 3, 2, 1).shape; 57 with ceil_mode */
    { { 1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, false, false }, 56, 56 },
    { { 1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, true, false }, 57, 57 },
    /* max_pool2d (torch.zeros (1, 1, 6, 6), 2, 4, 1, ceil_mode=True).shape: the third window would start in the pad */
    { { 1, 1, 6, 6, 2, 2, 4, 4, 1, 1, 1, 1, true, false }, 2, 2 },
    /* Global pooling as a window. */
    { { 1, 1, 7, 5, 7, 5, 1, 1, 0, 0, 0, 0, false, false }, 1, 1 },
    /* Asymmetric: (5 + 0 + 2 - 3) / 2 + 1 = 3, (6 + 1 + 0 - 3) / 2 + 1 = 3 */
    { { 1, 1, 5, 6, 3, 3, 2, 2, 0, 1, 2, 0, false, false }, 3, 3 },
  };
  static const pool_config bad[] = {
    { 0, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, -3, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 0, 4, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 4, -1, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 0, 2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 2, -2, 2, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 2, 2, 0, 2, 0, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 2, 2, 2, -1, 0, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 2, 2, 2, 2, -1, 0, 0, 0, false, false },
    { 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, -1, false, false },
    { 1, 1, 4, 4, 2, 2, 2, 2, 2, 0, 0, 0, false, false },   /* pad == kernel */
    { 1, 1, 4, 4, 3, 3, 1, 1, 0, 0, 0, 5, false, false },   /* pad > kernel */
    { 1, 1, 4, 4, 5, 2, 1, 1, 0, 0, 0, 0, false, false },   /* kernel larger than the input */
    { 1, 1, 4, 4, 2, 7, 1, 1, 0, 1, 1, 0, true, false },
    { 1, 1, G_MAXINT, 4, 2, 2, 1, 1, 1, 0, 1, 0, false, false },         /* padded size overflows int */
    { 1, 1, 65536, 65536, 2, 2, 1, 1, 0, 0, 0, 0, false, false },        /* h*w overflows argmax */
    { G_MAXINT, G_MAXINT, 1024, 1024, 2, 2, 1, 1, 0, 0, 0, 0, false, false }, /* element count overflows */
  };

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      graft_pool2d_params p = make_params (&good[i].k);
      g_assert_cmpint (p.oh, ==, good[i].oh);
      g_assert_cmpint (p.ow, ==, good[i].ow);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const pool_config *k = &bad[i];
      graft_pool2d_params p = {
        .n = k->n, .c = k->c, .h = k->h, .w = k->w, .kh = k->kh, .kw = k->kw,
        .stride_h = k->sh, .stride_w = k->sw,
        .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr,
        .ceil_mode = k->ceil_mode,
      };
      graft_error error;
      graft_status status;
      graft_error_clear (&error);
      status = graft_pool2d_setup (&p, &error);
      if (status == GRAFT_OK)
        g_error ("bad pooling parameters %zu were accepted", i);
      g_assert_cmpint (error.status, ==, status);
      g_assert_cmpuint (strlen (error.message), >, 0);
      /* NULL error is allowed too. */
      g_assert_cmpint (graft_pool2d_setup (&p, NULL), ==, status);
    }
}

/* The expected values below are PyTorch's, for the input fill_pattern. */
static void
check_torch (const pool_config *k, bool max, const double *want, size_t count)
{
  graft_pool2d_params p = make_params (k);
  float *x = test_floats (in_count (&p)), *y = test_floats (out_count (&p));
  double *xd = test_doubles (in_count (&p)), *yd = test_doubles (out_count (&p));

  g_assert_cmpuint (out_count (&p), ==, count);
  fill_pattern (x, in_count (&p));
  test_to_double (x, xd, in_count (&p));
  if (max)
    {
      graft_maxpool2d_forward (&p, x, y, NULL);
      graft_maxpool2d_forward_reference (&p, xd, yd);
    }
  else
    {
      graft_avgpool2d_forward (&p, x, y);
      graft_avgpool2d_forward_reference (&p, xd, yd);
    }
  test_assert_close ("torch vs fast", y, want, count, 1e-5, 1e-6);
  test_assert_close_double ("torch vs reference", yd, want, count, 1e-6, 1e-6);
  g_free (x);
  g_free (y);
  g_free (xd);
  g_free (yd);
}

static void
test_torch (void)
{
  /* x = torch.tensor ([((i * 37) % 101) / 10.0 for i in range (64)], dtype=torch.float64).reshape (1, 1, 8, 8) */
  static const pool_config squeeze = { 1, 1, 8, 8, 3, 3, 2, 2, 0, 0, 0, 0, true, true };
  /* F.max_pool2d (x, 3, 2, 0, ceil_mode=True) */
  static const double squeeze_max[] = { 9.4, 9.7, 8.4, 5.7, 8.7, 9.7, 10, 10, 9.6, 8.3, 9.3, 9.3, 9.6, 9.9, 9.9, 7.9 };
  /* F.avg_pool2d (x, 3, 2, 0, ceil_mode=True) */
  static const double squeeze_avg[] = { 5.24444444, 4.78888889, 4.33333333, 3.15, 4.96666667, 5.63333333,
                                        5.17777778, 5.11666667, 4.68888889, 4.23333333, 4.9, 5.4,
                                        5.88333333, 4.86666667, 5.53333333, 4.35 };
  /* x = (the same pattern, range (36)).reshape (1, 1, 6, 6) */
  static const pool_config resnet_cip = { 1, 1, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, true, true };
  static const pool_config resnet = { 1, 1, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, true, false };
  /* F.max_pool2d (x, 3, 2, 1, ceil_mode=True) */
  static const double resnet_max[] = { 5.7, 9.4, 8.4, 8.4, 9.7, 9.7, 8.7, 4.3, 10, 9.7, 9, 8.3, 10, 7.3, 8.3, 8.3 };
  /* F.max_pool2d (x, 3, 2, 1, ceil_mode=True, return_indices=True)[1] */
  static const int32_t resnet_argmax[] = { 7, 8, 5, 5, 19, 19, 16, 23, 30, 19, 27, 35, 30, 32, 35, 35 };
  /* F.max_pool2d (torch.zeros (1, 1, 6, 6), 3, 2, 1, ceil_mode=True, return_indices=True)[1]: ties */
  static const int32_t resnet_ties[] = { 0, 1, 3, 5, 6, 7, 9, 11, 18, 19, 21, 23, 30, 31, 33, 35 };
  /* F.avg_pool2d (x, 3, 2, 1, ceil_mode=True, count_include_pad=True) */
  static const double resnet_avg_cip[] = { 1.26666667, 3.35555556, 2.67777778, 1.45, 3.9, 5.78888889,
                                           4.21111111, 1.15, 4.32222222, 5.3, 4.84444444, 3.15,
                                           2.26666667, 1.96666667, 2.3, 2.075 };
  /* F.avg_pool2d (x, 3, 2, 1, ceil_mode=True, count_include_pad=False) */
  static const double resnet_avg[] = { 2.85, 5.03333333, 4.01666667, 4.35, 5.85, 5.78888889,
                                       4.21111111, 2.3, 6.48333333, 5.3, 4.84444444, 6.3,
                                       6.8, 3.93333333, 4.6, 8.3 };
  /* F.max_pool2d (x, 2, 4, 1, ceil_mode=True) and F.avg_pool2d (x, 2, 4, 1, ceil_mode=True) */
  static const pool_config drop = { 1, 1, 6, 6, 2, 2, 4, 4, 1, 1, 1, 1, true, true };
  static const double drop_max[] = { 0, 4.7, 8, 9 };
  static const double drop_avg[] = { 0, 1.425, 3.5, 4.8 };
  /* x = (the same pattern, range (30)).reshape (1, 1, 5, 6), pads top 0, left 1, bottom 2, right 0:
   * F.max_pool2d (F.pad (x, (1, 0, 0, 2), value=-math.inf), 3, 2) and
   * F.avg_pool2d (F.pad (x, (1, 0, 0, 2)), 3, 2) */
  static const pool_config asym = { 1, 1, 5, 6, 3, 3, 2, 2, 0, 1, 2, 0, false, true };
  static const double asym_max[] = { 7.7, 9.4, 8.7, 9.7, 9.7, 9, 8, 9, 9 };
  static const double asym_avg[] = { 2.56666667, 4.91111111, 4.45555556, 4.11111111, 5.54444444, 5.08888889,
                                     1.06666667, 1.76666667, 1.98888889 };
  graft_pool2d_params p;
  float x[36], y[16];
  int32_t argmax[16];

  check_torch (&squeeze, true, squeeze_max, G_N_ELEMENTS (squeeze_max));
  check_torch (&squeeze, false, squeeze_avg, G_N_ELEMENTS (squeeze_avg));
  check_torch (&resnet, true, resnet_max, G_N_ELEMENTS (resnet_max));
  check_torch (&resnet_cip, false, resnet_avg_cip, G_N_ELEMENTS (resnet_avg_cip));
  check_torch (&resnet, false, resnet_avg, G_N_ELEMENTS (resnet_avg));
  check_torch (&drop, true, drop_max, G_N_ELEMENTS (drop_max));
  check_torch (&drop, false, drop_avg, G_N_ELEMENTS (drop_avg));
  check_torch (&asym, true, asym_max, G_N_ELEMENTS (asym_max));
  check_torch (&asym, false, asym_avg, G_N_ELEMENTS (asym_avg));

  p = make_params (&resnet);
  fill_pattern (x, 36);
  graft_maxpool2d_forward (&p, x, y, argmax);
  g_assert_cmpmem (argmax, sizeof argmax, resnet_argmax, sizeof resnet_argmax);
  memset (x, 0, sizeof x);
  graft_maxpool2d_forward (&p, x, y, argmax);
  g_assert_cmpmem (argmax, sizeof argmax, resnet_ties, sizeof resnet_ties);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  const graft_pool2d_params *p;
  bool max;
  double *x, *y;
  const double *r;
} pool_ctx;

static double
pool_loss (void *data)
{
  pool_ctx *ctx = data;
  if (ctx->max)
    graft_maxpool2d_forward_reference (ctx->p, ctx->x, ctx->y);
  else
    graft_avgpool2d_forward_reference (ctx->p, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, out_count (ctx->p));
}

static void
check_forward (bool max)
{
  for (size_t i = 0; i < N_CONFIGS; i++)
    {
      graft_pool2d_params p = make_params (&configs[i]);
      size_t nin = in_count (&p), nout = out_count (&p);
      double *xd = test_doubles (nin), *yd = test_doubles (nout);
      float *x = test_floats (nin), *y = test_floats (nout);
      int32_t *argmax = g_new0 (int32_t, nout);

      test_fill_uniform (xd, nin, 100 + i, -1, 1);
      test_to_float (xd, x, nin);
      test_to_double (x, xd, nin);
      if (max)
        {
          graft_maxpool2d_forward_reference (&p, xd, yd);
          graft_maxpool2d_forward (&p, x, y, argmax);
          /* Max is exact. */
          test_assert_close ("maxpool forward", y, yd, nout, 0, 0);
          for (size_t o = 0; o < nout; o++)
            {
              size_t plane = o / ((size_t) p.oh * p.ow);
              g_assert_cmpint (argmax[o], >=, 0);
              g_assert_cmpint (argmax[o], <, p.h * p.w);
              g_assert_true (x[plane * p.h * p.w + argmax[o]] == y[o]);
            }
          /* Without argmax (inference), the same values. */
          memset (y, 0, nout * sizeof *y);
          graft_maxpool2d_forward (&p, x, y, NULL);
          test_assert_close ("maxpool forward without argmax", y, yd, nout, 0, 0);
        }
      else
        {
          graft_avgpool2d_forward_reference (&p, xd, yd);
          graft_avgpool2d_forward (&p, x, y);
          test_assert_close ("avgpool forward", y, yd, nout, 1e-6, 1e-5);
        }
      g_free (xd);
      g_free (yd);
      g_free (x);
      g_free (y);
      g_free (argmax);
    }
}

static void
test_max_forward (void)
{
  check_forward (true);
}

static void
test_avg_forward (void)
{
  check_forward (false);
}

static void
check_gradient (bool max)
{
  for (size_t i = 0; i < N_CONFIGS; i++)
    {
      graft_pool2d_params p = make_params (&configs[i]);
      size_t nin = in_count (&p), nout = out_count (&p);
      double *x, *y, *r, *dx;
      pool_ctx ctx;

      if (nin > 2000)
        continue; /* finite differences of the big cases take too long */
      x = test_doubles (nin);
      y = test_doubles (nout);
      r = test_doubles (nout);
      dx = test_doubles (nin);
      fill_distinct (x, nin, 200 + i);
      test_fill_uniform (r, nout, 300 + i, -1, 1);
      if (max)
        graft_maxpool2d_backward_reference (&p, x, r, dx);
      else
        graft_avgpool2d_backward_reference (&p, r, dx);
      ctx = (pool_ctx) { &p, max, x, y, r };
      test_check_gradient (max ? "maxpool reference" : "avgpool reference", x, nin, dx, pool_loss, &ctx,
                           1e-6, 1e-6);
      g_free (x);
      g_free (y);
      g_free (r);
      g_free (dx);
    }
}

static void
test_max_gradient (void)
{
  check_gradient (true);
}

static void
test_avg_gradient (void)
{
  check_gradient (false);
}

/* Fast backward vs reference backward, accumulating onto prefilled buffers; and a
 * NULL dx is accepted and leaves dy alone. */
static void
check_backward (bool max)
{
  for (size_t i = 0; i < N_CONFIGS; i++)
    {
      graft_pool2d_params p = make_params (&configs[i]);
      size_t nin = in_count (&p), nout = out_count (&p);
      double *xd = test_doubles (nin), *dyd = test_doubles (nout), *dxd = test_doubles (nin);
      float *x = test_floats (nin), *y = test_floats (nout), *dy = test_floats (nout);
      float *dx = test_floats (nin), *dy_copy;
      int32_t *argmax = g_new0 (int32_t, nout);

      fill_distinct (xd, nin, 400 + i);
      test_to_float (xd, x, nin);
      test_to_double (x, xd, nin);
      test_fill_uniform (dyd, nout, 500 + i, -1, 1);
      test_to_float (dyd, dy, nout);
      test_to_double (dy, dyd, nout);
      /* Accumulation: start both from the same known values. */
      test_fill_uniform (dxd, nin, 600 + i, -2, 2);
      test_to_float (dxd, dx, nin);
      test_to_double (dx, dxd, nin);
      dy_copy = g_memdup2 (dy, nout * sizeof *dy);

      if (max)
        {
          graft_maxpool2d_forward (&p, x, y, argmax);
          graft_maxpool2d_backward (&p, argmax, dy, dx);
          graft_maxpool2d_backward_reference (&p, xd, dyd, dxd);
          test_assert_close ("maxpool backward", dx, dxd, nin, 1e-6, 1e-6);
          graft_maxpool2d_backward (&p, argmax, dy, NULL);
          graft_maxpool2d_backward_reference (&p, xd, dyd, NULL);
        }
      else
        {
          graft_avgpool2d_backward (&p, dy, dx);
          graft_avgpool2d_backward_reference (&p, dyd, dxd);
          test_assert_close ("avgpool backward", dx, dxd, nin, 1e-5, 1e-5);
          graft_avgpool2d_backward (&p, dy, NULL);
          graft_avgpool2d_backward_reference (&p, dyd, NULL);
        }
      g_assert_cmpmem (dy, nout * sizeof *dy, dy_copy, nout * sizeof *dy);
      g_free (xd);
      g_free (dyd);
      g_free (dxd);
      g_free (x);
      g_free (y);
      g_free (dy);
      g_free (dx);
      g_free (dy_copy);
      g_free (argmax);
    }
}

static void
test_max_backward (void)
{
  check_backward (true);
}

static void
test_avg_backward (void)
{
  check_backward (false);
}

/* Accumulation in its plainest form: backward twice from zero is twice backward once
 * (up to rounding, as contributions are summed in a different grouping). */
static void
check_twice (const float *once, const float *twice, size_t count)
{
  double *want = test_doubles (count);
  for (size_t i = 0; i < count; i++)
    want[i] = 2.0 * once[i];
  test_assert_close ("backward twice", twice, want, count, 1e-6, 1e-6);
  g_free (want);
}

static void
test_accumulate (void)
{
  const pool_config *k = &configs[7];
  graft_pool2d_params p = make_params (k);
  size_t nin = in_count (&p), nout = out_count (&p);
  float *x = test_floats (nin), *y = test_floats (nout), *dy = test_floats (nout);
  float *once = test_floats (nin), *twice = test_floats (nin);
  int32_t *argmax = g_new0 (int32_t, nout);

  test_fill_uniform_float (x, nin, 7, -1, 1);
  test_fill_uniform_float (dy, nout, 8, -1, 1);
  graft_maxpool2d_forward (&p, x, y, argmax);
  graft_maxpool2d_backward (&p, argmax, dy, once);
  graft_maxpool2d_backward (&p, argmax, dy, twice);
  graft_maxpool2d_backward (&p, argmax, dy, twice);
  check_twice (once, twice, nin);
  memset (once, 0, nin * sizeof *once);
  memset (twice, 0, nin * sizeof *twice);
  graft_avgpool2d_backward (&p, dy, once);
  graft_avgpool2d_backward (&p, dy, twice);
  graft_avgpool2d_backward (&p, dy, twice);
  check_twice (once, twice, nin);
  g_free (x);
  g_free (y);
  g_free (dy);
  g_free (once);
  g_free (twice);
  g_free (argmax);
}

/* A NaN in a window comes out of max pooling (as in PyTorch), not hidden by it. */
static void
test_max_nan (void)
{
  static const pool_config k = { 1, 1, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, false, false };
  graft_pool2d_params p = make_params (&k);
  float x[49], y[16];
  int32_t argmax[16];

  test_fill_uniform_float (x, 49, 9, -1, 1);
  x[3 * 7 + 3] = NAN;  /* in windows (1..2, 1..2) */
  x[0] = NAN;          /* a border window */
  graft_maxpool2d_forward (&p, x, y, argmax);
  for (int oh = 0; oh < 4; oh++)
    for (int ow = 0; ow < 4; ow++)
      {
        bool center = oh >= 1 && oh <= 2 && ow >= 1 && ow <= 2;
        bool corner = oh == 0 && ow == 0;
        g_assert_cmpint (isnan (y[oh * 4 + ow]), ==, center || corner);
        if (center)
          g_assert_cmpint (argmax[oh * 4 + ow], ==, 3 * 7 + 3);
      }
}

/* The same bits with one thread and with several. */
static void
test_threads (void)
{
  const pool_config *k = &configs[12];
  graft_pool2d_params p = make_params (k);
  size_t nin = in_count (&p), nout = out_count (&p), planes = (size_t) p.n * p.c;
  float *x = test_floats (nin), *dy = test_floats (nout);
  float *y[2], *dx[2], *mean[2];
  int32_t *argmax = g_new0 (int32_t, nout);
  int threads = graft_get_num_threads ();

  test_fill_uniform_float (x, nin, 10, -1, 1);
  test_fill_uniform_float (dy, nout, 11, -1, 1);
  for (int t = 0; t < 2; t++)
    {
      y[t] = test_floats (2 * nout);
      dx[t] = test_floats (2 * nin);
      mean[t] = test_floats (planes);
      graft_set_num_threads (t == 0 ? 1 : (threads > 1 ? threads : 4));
      graft_avgpool2d_forward (&p, x, y[t]);
      graft_avgpool2d_backward (&p, dy, dx[t]);
      graft_maxpool2d_forward (&p, x, y[t] + nout, argmax);
      graft_maxpool2d_backward (&p, argmax, dy, dx[t] + nin);
      graft_mean_spatial_forward (planes, (size_t) p.h * p.w, x, mean[t]);
    }
  graft_set_num_threads (threads);
  g_assert_cmpmem (y[0], 2 * nout * sizeof (float), y[1], 2 * nout * sizeof (float));
  g_assert_cmpmem (dx[0], 2 * nin * sizeof (float), dx[1], 2 * nin * sizeof (float));
  g_assert_cmpmem (mean[0], planes * sizeof (float), mean[1], planes * sizeof (float));
  for (int t = 0; t < 2; t++)
    {
      g_free (y[t]);
      g_free (dx[t]);
      g_free (mean[t]);
    }
  g_free (x);
  g_free (dy);
  g_free (argmax);
}

/* ------------------------------------------------------------------------ */
/* Spatial mean                                                              */

static const struct {
  size_t planes, spatial;
} mean_shapes[] = {
  { 1, 1 }, { 3, 7 }, { 13, 1 }, { 7, 13 }, { 2, 49 }, { 64, 49 }, { 1, 9 }, { 512, 196 }, { 3, 50177 },
};

typedef struct {
  size_t planes, spatial;
  double *x, *y;
  const double *r;
} mean_ctx;

static double
mean_loss (void *data)
{
  mean_ctx *ctx = data;
  graft_mean_spatial_forward_reference (ctx->planes, ctx->spatial, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->planes);
}

static void
test_mean_forward (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (mean_shapes); i++)
    {
      size_t planes = mean_shapes[i].planes, spatial = mean_shapes[i].spatial;
      size_t count = planes * spatial;
      double *xd = test_doubles (count), *yd = test_doubles (planes);
      float *x = test_floats (count), *y = test_floats (planes);

      /* An offset tests that the sum does not lose the small part. */
      test_fill_uniform (xd, count, 700 + i, 99, 101);
      test_to_float (xd, x, count);
      test_to_double (x, xd, count);
      graft_mean_spatial_forward (planes, spatial, x, y);
      graft_mean_spatial_forward_reference (planes, spatial, xd, yd);
      /* Summed in double, so only the final rounding to float differs. */
      test_assert_close ("mean_spatial forward", y, yd, planes, 0, 1e-7);
      g_free (xd);
      g_free (yd);
      g_free (x);
      g_free (y);
    }
}

static void
test_mean_gradient (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (mean_shapes); i++)
    {
      size_t planes = mean_shapes[i].planes, spatial = mean_shapes[i].spatial;
      size_t count = planes * spatial;
      double *x, *y, *r, *dx;
      mean_ctx ctx;

      if (count > 2000)
        continue;
      x = test_doubles (count);
      y = test_doubles (planes);
      r = test_doubles (planes);
      dx = test_doubles (count);
      test_fill_uniform (x, count, 800 + i, -1, 1);
      test_fill_uniform (r, planes, 900 + i, -1, 1);
      graft_mean_spatial_backward_reference (planes, spatial, r, dx);
      ctx = (mean_ctx) { planes, spatial, x, y, r };
      test_check_gradient ("mean_spatial reference", x, count, dx, mean_loss, &ctx, 1e-6, 1e-6);
      g_free (x);
      g_free (y);
      g_free (r);
      g_free (dx);
    }
}

static void
test_mean_backward (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (mean_shapes); i++)
    {
      size_t planes = mean_shapes[i].planes, spatial = mean_shapes[i].spatial;
      size_t count = planes * spatial;
      double *dyd = test_doubles (planes), *dxd = test_doubles (count);
      float *dy = test_floats (planes), *dx = test_floats (count), *dy_copy;

      test_fill_uniform (dyd, planes, 1000 + i, -1, 1);
      test_to_float (dyd, dy, planes);
      test_to_double (dy, dyd, planes);
      test_fill_uniform (dxd, count, 1100 + i, -2, 2);
      test_to_float (dxd, dx, count);
      test_to_double (dx, dxd, count);
      dy_copy = g_memdup2 (dy, planes * sizeof *dy);
      graft_mean_spatial_backward (planes, spatial, dy, dx);
      graft_mean_spatial_backward_reference (planes, spatial, dyd, dxd);
      test_assert_close ("mean_spatial backward", dx, dxd, count, 1e-6, 1e-6);
      graft_mean_spatial_backward (planes, spatial, dy, NULL);
      graft_mean_spatial_backward_reference (planes, spatial, dyd, NULL);
      g_assert_cmpmem (dy, planes * sizeof *dy, dy_copy, planes * sizeof *dy);
      g_free (dyd);
      g_free (dxd);
      g_free (dy);
      g_free (dx);
      g_free (dy_copy);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (0);
  g_test_add_func ("/engine/pool/setup", test_setup);
  g_test_add_func ("/engine/pool/torch", test_torch);
  g_test_add_func ("/engine/pool/max/forward", test_max_forward);
  g_test_add_func ("/engine/pool/max/gradient", test_max_gradient);
  g_test_add_func ("/engine/pool/max/backward", test_max_backward);
  g_test_add_func ("/engine/pool/max/nan", test_max_nan);
  g_test_add_func ("/engine/pool/avg/forward", test_avg_forward);
  g_test_add_func ("/engine/pool/avg/gradient", test_avg_gradient);
  g_test_add_func ("/engine/pool/avg/backward", test_avg_backward);
  g_test_add_func ("/engine/pool/accumulate", test_accumulate);
  g_test_add_func ("/engine/pool/threads", test_threads);
  g_test_add_func ("/engine/pool/mean-spatial/forward", test_mean_forward);
  g_test_add_func ("/engine/pool/mean-spatial/gradient", test_mean_gradient);
  g_test_add_func ("/engine/pool/mean-spatial/backward", test_mean_backward);
  return g_test_run ();
}
