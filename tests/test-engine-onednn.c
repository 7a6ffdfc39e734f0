/* test-engine-onednn.c: every operator of the oneDNN backend, in blocked layout,
 * against the double references of the portable kernels: forward (with fused
 * activations), backward data and weights, overwriting and accumulating, the running
 * statistics; odd channel counts (3, 17, 96 + 5) whose last block is padded, strides,
 * groups, depthwise, asymmetric pads, ceil_mode pooling. Skips where the engine was
 * built without oneDNN or the CPU has neither AVX2 nor AVX-512. */
#include <math.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/plan.h"
#include "gradcheck.h"

#ifdef GRAFT_HAVE_ONEDNN
#include "engine/onednn-backend.h"
#include "engine/onednn.h"
#include "engine/parallel.h"
#include "engine/plan.h"

/* A blocked copy of a plain (N,C,H,W) tensor, in memory that held NaN before. */
static float *
to_blocked (int n, int c, int h, int w, const float *plain)
{
  size_t count = graft_onednn_blocked_floats (n, c, h, w);
  float *blocked = graft_floats_alloc (count);
  for (size_t i = 0; i < count; i++)
    blocked[i] = NAN;
  graft_onednn_to_blocked (n, c, h, w, plain, blocked);
  return blocked;
}

static float *
nan_floats (size_t count)
{
  float *data = graft_floats_alloc (count ? count : 1);
  for (size_t i = 0; i < count; i++)
    data[i] = NAN;
  return data;
}

/* Asserts that the padding channels of a blocked tensor are zeros. */
static void
assert_padding_zero (const char *what, int n, int c, int h, int w, const float *blocked)
{
  int b = graft_onednn_block ();
  int blocks = (c + b - 1) / b;
  size_t hw = (size_t) h * (size_t) w;
  for (int i = 0; i < n; i++)
    for (size_t s = 0; s < hw; s++)
      for (int ch = c; ch < blocks * b; ch++)
        {
          float v = blocked[(((size_t) i * blocks + (size_t) (ch / b)) * hw + s) * (size_t) b + (size_t) (ch % b)];
          if (v != 0)
            g_error ("%s: padding channel %d of sample %d at %zu holds %g, not 0", what, ch, i, s, v);
        }
}

/* Compares a blocked tensor with a plain double one, padding included. */
static void
assert_blocked_close (const char *what, int n, int c, int h, int w, const float *blocked, const double *want,
                      double atol, double rtol)
{
  size_t count = (size_t) n * c * h * w;
  float *plain = test_floats (count);
  graft_onednn_to_plain (n, c, h, w, blocked, plain, false);
  test_assert_close (what, plain, want, count, atol, rtol);
  assert_padding_zero (what, n, c, h, w, blocked);
  g_free (plain);
}

static double *
random_doubles (size_t count, uint64_t seed)
{
  double *x = test_doubles (count);
  float *f = test_floats (count);
  test_fill_uniform (x, count, seed, -1, 1);
  /* Exactly representable in float, so that both sides see the same values. */
  test_to_float (x, f, count);
  test_to_double (f, x, count);
  g_free (f);
  return x;
}

static float *
floats_of (const double *x, size_t count)
{
  float *f = test_floats (count);
  test_to_float (x, f, count);
  return f;
}

/* A blocked copy of a plain double tensor. */
static float *
blocked_of (int n, int c, int h, int w, const double *x)
{
  float *f = floats_of (x, (size_t) n * c * h * w);
  float *blocked = to_blocked (n, c, h, w, f);
  g_free (f);
  return blocked;
}

static double
sum_tolerance (size_t terms)
{
  return 4e-6 * (1.0 + sqrt ((double) terms)) + 2e-7 * (double) terms;
}

static void
test_layout (void)
{
  int n = 2, c = 21, h = 3, w = 5;
  size_t count = (size_t) n * c * h * w;
  double *x = random_doubles (count, 1);
  float *xf = floats_of (x, count), *back = test_floats (count);
  float *blocked = to_blocked (n, c, h, w, xf);
  int b = graft_onednn_block ();

  g_assert_true (b == 8 || b == 16);
  g_assert_cmpuint (graft_onednn_blocked_floats (n, c, h, w), ==, (size_t) n * ((c + b - 1) / b * b) * h * w);
  /* Channel 1 of sample 0 at (0, 1) sits in lane 1 of the first block, position 1. */
  g_assert_cmpfloat (blocked[1 * b + 1], ==, xf[(0 * c + 1) * h * w + 1]);
  assert_blocked_close ("layout round trip", n, c, h, w, blocked, x, 0, 0);
  /* Accumulating into plain adds. */
  memcpy (back, xf, count * sizeof (float));
  graft_onednn_to_plain (n, c, h, w, blocked, back, true);
  for (size_t i = 0; i < count; i++)
    g_assert_cmpfloat (back[i], ==, 2 * xf[i]);
  g_test_message ("oneDNN %s, blocks of %d channels", graft_onednn_describe (), b);
  g_free (x);
  g_free (xf);
  g_free (back);
  graft_floats_free (blocked);
}

/* ------------------------------------------------------------------------ */
/* Conv2d                                                                    */

typedef struct {
  const char *name;
  int n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
  bool plain_src;  /* the image at the stem */
  int activation;  /* -1: none, else a graft_activation_kind fused in forward */
} conv_case;

static const conv_case conv_cases[] = {
  /* name                    n  c    h   w   m  kh kw sh sw dh dw pt pl pb pr g   plain act */
  { "stem 3x3 s2 c3",        2, 3,  17, 15, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1,  true, GRAFT_ACTIVATION_CLIP },
  { "stem 7x7 s2 c3",        2, 3,  19, 21, 20, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1,  true, -1 },
  { "1x1 17 -> 24",          2, 17,  7,  9, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,  false, -1 },
  { "1x1 32 -> 101 relu",    2, 32,  6,  5, 101, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, false, GRAFT_ACTIVATION_RELU },
  { "1x1 101 -> 17",         3, 101, 5,  4, 17, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,  false, -1 },
  { "1x1 s2 16 -> 32",       2, 16, 13, 13, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1,  false, -1 },
  /* The weight gradient added through oneDNN's reorder (a 1x1 kernel large enough for
   * threads), and by parallel tiles (3x3). */
  { "1x1 160 -> 130",        2, 160, 5,  4, 130, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, false, -1 },
  { "3x3 48 -> 40",          2, 48,  6,  7, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,  false, -1 },
  { "3x3 16 -> 16",          2, 16, 11, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,  false, GRAFT_ACTIVATION_RELU },
  { "3x3 s2 asym 17 -> 33",  2, 17, 12, 11, 33, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 1,  false, -1 },
  { "3x3 dilated 24 -> 8",   2, 24, 13, 11,  8, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1,  false, -1 },
  { "3x2 strides 2,3",       2, 16, 11, 14, 16, 3, 2, 2, 3, 1, 1, 1, 0, 2, 1, 1,  false, GRAFT_ACTIVATION_LEAKY_RELU },
  { "groups 2 32 -> 32",     2, 32,  9,  9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2,  false, -1 },
  { "dw 3x3 s1 32",          2, 32, 13, 13, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, false, GRAFT_ACTIVATION_CLIP },
  { "dw 3x3 s2 101",         2, 101, 14, 12, 101, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 101, false, -1 },
  { "dw 5x5 s2 24 asym",     2, 24, 15, 14, 24, 5, 5, 2, 2, 1, 1, 2, 1, 1, 2, 24, false, -1 },
  { "dw 3x3 17",             3, 17,  9, 10, 17, 3, 3, 1, 1, 1, 1, 0, 2, 2, 0, 17, false, -1 },
  /* oneDNN 2.6 has no jit weight gradient for these: the engine's kernel computes it. */
  { "dw 5x5 s1 48",          2, 48,  9,  9, 48, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 48, false, -1 },
  { "dw 5x5 s2 40",          2, 40, 14, 14, 40, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 40, false, -1 },
};

static void
check_conv (const conv_case *k, uint64_t seed)
{
  graft_conv2d_params p = {
    .n = k->n, .c = k->c, .h = k->h, .w = k->w, .m = k->m, .kh = k->kh, .kw = k->kw,
    .stride_h = k->sh, .stride_w = k->sw, .dilation_h = k->dh, .dilation_w = k->dw,
    .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr, .groups = k->groups,
  };
  graft_activation_params act = { .kind = k->activation, .alpha = 0, .beta = 6 };
  graft_error error;
  char what[200];

  if (k->activation == GRAFT_ACTIVATION_LEAKY_RELU)
    act.alpha = 0.1f;
  if (graft_conv2d_setup (&p, &error) != GRAFT_OK)
    g_error ("%s: %s", k->name, error.message);

  size_t nx = (size_t) p.n * p.c * p.h * p.w, ny = (size_t) p.n * p.m * p.oh * p.ow;
  size_t nw = (size_t) p.m * (p.c / p.groups) * p.kh * p.kw, terms = (size_t) (p.c / p.groups) * p.kh * p.kw;
  double *x = random_doubles (nx, seed), *wt = random_doubles (nw, seed + 1), *b = random_doubles (p.m, seed + 2);
  double *dy = random_doubles (ny, seed + 3), *y = test_doubles (ny);
  double *dx = test_doubles (nx), *dw = test_doubles (nw), *db = test_doubles (p.m);
  double *dx0 = random_doubles (nx, seed + 4), *dw0 = random_doubles (nw, seed + 5), *db0 = random_doubles (p.m, seed + 6);
  float *xf = floats_of (x, nx), *wf = floats_of (wt, nw), *bf = floats_of (b, p.m), *dyf = floats_of (dy, ny);
  float *xin = k->plain_src ? xf : to_blocked (p.n, p.c, p.h, p.w, xf);
  float *dyb = to_blocked (p.n, p.m, p.oh, p.ow, dyf);
  float *yb = nan_floats (graft_onednn_blocked_floats (p.n, p.m, p.oh, p.ow));
  size_t src_floats = k->plain_src ? nx : graft_onednn_blocked_floats (p.n, p.c, p.h, p.w);

  for (int with_activation = 0; with_activation < 2; with_activation++)
    {
      graft_onednn_conv_config config = {
        .src_blocked = !k->plain_src, .dst_blocked = true, .bias = true,
        .activation = with_activation ? &act : NULL,
        .backward_data = !with_activation && !k->plain_src, .backward_weights = !with_activation,
      };
      graft_onednn_conv *conv;
      float *scratch;

      if (with_activation && k->activation < 0)
        continue;
      conv = graft_onednn_conv_new (&p, &config, &error);
      if (conv == NULL)
        g_error ("%s: %s", k->name, error.message);
      g_test_message ("%s: %s", k->name, graft_onednn_conv_implementation (conv));
      scratch = nan_floats (graft_onednn_conv_scratch_floats (conv));

      graft_conv2d_forward_reference (&p, x, wt, b, y);
      if (with_activation)
        graft_activation_forward_reference (&act, ny, y, y);
      graft_onednn_conv_forward (conv, xin, wf, bf, yb, scratch);
      g_snprintf (what, sizeof what, "%s forward%s", k->name, with_activation ? " with activation" : "");
      assert_blocked_close (what, p.n, p.m, p.oh, p.ow, yb, y, sum_tolerance (terms), 1e-5);

      if (!with_activation)
        {
          float *dxb = NULL, *dwf = floats_of (dw0, nw), *dbf = floats_of (db0, p.m);
          memset (dx, 0, nx * sizeof (double));
          memset (dw, 0, nw * sizeof (double));
          memset (db, 0, p.m * sizeof (double));
          graft_conv2d_backward_reference (&p, x, wt, dy, dx, dw, db);
          if (config.backward_data)
            {
              /* Overwriting, into memory that held NaN. */
              dxb = nan_floats (src_floats);
              graft_onednn_conv_backward (conv, xin, wf, dyb, dxb, true, NULL, NULL, scratch);
              g_snprintf (what, sizeof what, "%s backward dx", k->name);
              assert_blocked_close (what, p.n, p.c, p.h, p.w, dxb, dx, sum_tolerance (p.m / p.groups * p.kh * p.kw),
                                    1e-5);
              graft_floats_free (dxb);
              /* Accumulating. */
              float *dx0f = floats_of (dx0, nx);
              dxb = to_blocked (p.n, p.c, p.h, p.w, dx0f);
              g_free (dx0f);
              for (size_t i = 0; i < nx; i++)
                dx[i] += dx0[i];
            }
          graft_onednn_conv_backward (conv, xin, wf, dyb, dxb, false, dwf, dbf, scratch);
          for (size_t i = 0; i < nw; i++)
            dw[i] += dw0[i];
          for (int i = 0; i < p.m; i++)
            db[i] += db0[i];
          if (dxb != NULL)
            {
              g_snprintf (what, sizeof what, "%s backward dx accumulated", k->name);
              assert_blocked_close (what, p.n, p.c, p.h, p.w, dxb, dx, sum_tolerance (p.m / p.groups * p.kh * p.kw),
                                    1e-5);
            }
          g_snprintf (what, sizeof what, "%s backward dw accumulated", k->name);
          test_assert_close (what, dwf, dw, nw, sum_tolerance ((size_t) p.n * p.oh * p.ow), 1e-5);
          g_snprintf (what, sizeof what, "%s backward dbias accumulated", k->name);
          test_assert_close (what, dbf, db, p.m, sum_tolerance ((size_t) p.n * p.oh * p.ow), 1e-5);
          graft_floats_free (dxb);
          g_free (dwf);
          g_free (dbf);
        }
      graft_floats_free (scratch);
      graft_onednn_conv_free (conv);
    }
  g_free (x);
  g_free (wt);
  g_free (b);
  g_free (dy);
  g_free (y);
  g_free (dx);
  g_free (dw);
  g_free (db);
  g_free (dx0);
  g_free (dw0);
  g_free (db0);
  g_free (xf);
  g_free (wf);
  g_free (bf);
  g_free (dyf);
  if (!k->plain_src)
    graft_floats_free (xin);
  graft_floats_free (dyb);
  graft_floats_free (yb);
}

static void
test_conv (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (conv_cases); i++)
    check_conv (&conv_cases[i], 100 + 10 * i);
}

/* Weight gradients with enough output pixels per slice of the batch run one one-thread
 * primitive per thread, the slices' gradients added in slice order (3x3 from 6272
 * pixels a slice, 1x1 from 1568): each slice must be added once, over what dw held,
 * and the same call must give the same bits again. With 2 and 4 threads (batch 4: one
 * sample a slice). */
static const conv_case split_cases[] = {
  /* name                    n  c    h   w   m  kh kw sh sw dh dw pt pl pb pr g   plain act */
  { "3x3 split 16 -> 24",    4, 16, 80, 79, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,  false, -1 },
  { "1x1 split 40 -> 24",    4, 40, 40, 40, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,  false, -1 },
  { "stem 7x7 split",        4, 3, 223, 223, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, true, -1 },
};

static void
test_conv_split (void)
{
  int threads = graft_get_num_threads ();
  for (int t = 2; t <= 4; t += 2)
    {
      graft_set_num_threads (t);
      for (size_t i = 0; i < G_N_ELEMENTS (split_cases); i++)
        {
          const conv_case *k = &split_cases[i];
          graft_conv2d_params p = {
            .n = k->n, .c = k->c, .h = k->h, .w = k->w, .m = k->m, .kh = k->kh, .kw = k->kw,
            .stride_h = k->sh, .stride_w = k->sw, .dilation_h = 1, .dilation_w = 1,
            .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr, .groups = 1,
          };
          graft_onednn_conv_config config = { .src_blocked = !k->plain_src, .dst_blocked = true, .bias = true,
                                              .backward_weights = true };
          graft_error error;
          graft_onednn_conv *conv;
          size_t nx, ny, nw;
          double *rx, *rdy;
          float *xf, *dyf, *x, *dy, *w, *dw1, *dw2, *db1, *db2, *scratch;

          g_assert_cmpint (graft_conv2d_setup (&p, &error), ==, GRAFT_OK);
          conv = graft_onednn_conv_new (&p, &config, &error);
          g_assert_nonnull (conv);
          g_test_message ("%s, %d threads: %s", k->name, t, graft_onednn_conv_implementation (conv));
          g_assert_nonnull (strstr (graft_onednn_conv_implementation (conv), "per thread"));
          check_conv (k, 700 + 10 * i);
          /* The same bits from the same inputs, over the same dw. */
          nx = (size_t) p.n * p.c * p.h * p.w;
          ny = (size_t) p.n * p.m * p.oh * p.ow;
          nw = (size_t) p.m * p.c * p.kh * p.kw;
          rx = random_doubles (nx, 800 + i);
          rdy = random_doubles (ny, 810 + i);
          xf = floats_of (rx, nx);
          dyf = floats_of (rdy, ny);
          x = k->plain_src ? xf : to_blocked (p.n, p.c, p.h, p.w, xf);
          dy = to_blocked (p.n, p.m, p.oh, p.ow, dyf);
          w = test_floats (nw);
          dw1 = floats_of (rx, nw);
          dw2 = g_memdup2 (dw1, nw * sizeof (float));
          db1 = test_floats (p.m);
          db2 = g_memdup2 (db1, p.m * sizeof (float));
          scratch = nan_floats (graft_onednn_conv_scratch_floats (conv));
          graft_onednn_conv_backward (conv, x, w, dy, NULL, false, dw1, db1, scratch);
          graft_onednn_conv_backward (conv, x, w, dy, NULL, false, dw2, db2, scratch);
          g_assert_cmpmem (dw1, nw * sizeof (float), dw2, nw * sizeof (float));
          g_assert_cmpmem (db1, p.m * sizeof (float), db2, p.m * sizeof (float));
          graft_floats_free (scratch);
          if (!k->plain_src)
            graft_floats_free (x);
          graft_floats_free (dy);
          g_free (rx);
          g_free (rdy);
          g_free (xf);
          g_free (dyf);
          g_free (w);
          g_free (dw1);
          g_free (dw2);
          g_free (db1);
          g_free (db2);
          graft_onednn_conv_free (conv);
        }
    }
  graft_set_num_threads (threads);
}

/* Constant weights are reordered once: a change of the weights afterwards is not
 * seen (what the plan relies on being told), while the default reorders each time,
 * into scratch. */
static void
test_conv_constant_weights (void)
{
  graft_conv2d_params p = { .n = 1, .c = 16, .h = 5, .w = 5, .m = 16, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1,
                            .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
                            .pad_right = 1, .groups = 1 };
  graft_error error;
  size_t nx = 16 * 25, nw = 16 * 16 * 9, ny = graft_onednn_blocked_floats (1, 16, 5, 5);
  double *x = random_doubles (nx, 7), *wt = random_doubles (nw, 8);
  float *xf = floats_of (x, nx), *wf = floats_of (wt, nw), *xb = to_blocked (1, 16, 5, 5, xf);
  float *y1 = nan_floats (ny), *y2 = nan_floats (ny);

  g_assert_cmpint (graft_conv2d_setup (&p, &error), ==, GRAFT_OK);
  for (int constant = 0; constant < 2; constant++)
    {
      graft_onednn_conv_config config = { .src_blocked = true, .dst_blocked = true, .constant_weights = constant };
      graft_onednn_conv *conv = graft_onednn_conv_new (&p, &config, &error);
      float *scratch;
      g_assert_nonnull (conv);
      /* Only constant weights keep a reordered copy between steps; the others are
       * reordered into scratch (here the blocked format differs from the plain one). */
      if (constant)
        g_assert_cmpuint (graft_onednn_conv_held_floats (conv), >=, nw);
      else
        g_assert_cmpuint (graft_onednn_conv_held_floats (conv), ==, 0);
      scratch = nan_floats (graft_onednn_conv_scratch_floats (conv));
      graft_onednn_conv_forward (conv, xb, wf, NULL, y1, scratch);
      for (size_t i = 0; i < nw; i++)
        wf[i] *= 2;
      graft_onednn_conv_forward (conv, xb, wf, NULL, y2, scratch);
      for (size_t i = 0; i < nw; i++)
        wf[i] /= 2;
      for (size_t i = 0; i < ny; i++)
        if (constant)
          g_assert_cmpfloat (y2[i], ==, y1[i]);
        else
          g_assert_cmpfloat_with_epsilon (y2[i], 2 * y1[i], 1e-5 * (1 + fabsf (y1[i])));
      graft_floats_free (scratch);
      graft_onednn_conv_free (conv);
    }
  g_free (x);
  g_free (wt);
  g_free (xf);
  g_free (wf);
  graft_floats_free (xb);
  graft_floats_free (y1);
  graft_floats_free (y2);
}

/* Scratch holds a whole dx only for a convolution whose backward may accumulate into
 * it: the others overwrite dx, and a network's largest activation (MobileNetV2's,
 * 73.5 MiB at batch 16) need not sit in the plan's scratch for them. */
static void
test_conv_scratch (void)
{
  graft_conv2d_params p = { .n = 4, .c = 32, .h = 16, .w = 16, .m = 32, .kh = 3, .kw = 3, .stride_h = 1,
                            .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1,
                            .pad_bottom = 1, .pad_right = 1, .groups = 1 };
  size_t dx = graft_onednn_blocked_floats (4, 32, 16, 16);
  graft_error error;

  g_assert_cmpint (graft_conv2d_setup (&p, &error), ==, GRAFT_OK);
  for (int accumulate = 0; accumulate < 2; accumulate++)
    {
      graft_onednn_conv_config config = { .src_blocked = true, .dst_blocked = true, .backward_data = true,
                                          .accumulate_dx = accumulate };
      graft_onednn_conv *conv = graft_onednn_conv_new (&p, &config, &error);
      g_assert_nonnull (conv);
      if (accumulate)
        g_assert_cmpuint (graft_onednn_conv_scratch_floats (conv), >=, dx);
      else
        g_assert_cmpuint (graft_onednn_conv_scratch_floats (conv), <, dx);
      graft_onednn_conv_free (conv);
    }
  /* The weight gradients oneDNN 2.6 leaves to its reference loops (depthwise 5x5) are
   * the engine's, from plain copies of a quarter of the batch at a time. */
  {
    graft_conv2d_params dw = { .n = 8, .c = 32, .h = 16, .w = 16, .m = 32, .kh = 5, .kw = 5, .stride_h = 2,
                               .stride_w = 2, .dilation_h = 1, .dilation_w = 1, .pad_top = 2, .pad_left = 2,
                               .pad_bottom = 2, .pad_right = 2, .groups = 32 };
    graft_onednn_conv_config config = { .src_blocked = true, .dst_blocked = true, .backward_weights = true };
    graft_onednn_conv *conv;
    g_assert_cmpint (graft_conv2d_setup (&dw, &error), ==, GRAFT_OK);
    conv = graft_onednn_conv_new (&dw, &config, &error);
    g_assert_nonnull (conv);
    if (strstr (graft_onednn_conv_implementation (conv), "graft portable") != NULL)
      g_assert_cmpuint (graft_onednn_conv_scratch_floats (conv), <,
                        (size_t) dw.n * dw.c * dw.h * dw.w + (size_t) dw.n * dw.m * dw.oh * dw.ow);
    else
      g_test_message ("oneDNN computes this depthwise 5x5 weight gradient itself: %s",
                      graft_onednn_conv_implementation (conv));
    graft_onednn_conv_free (conv);
  }
}

/* ------------------------------------------------------------------------ */
/* BatchNormalization                                                        */

static void
check_batchnorm (int n, int c, int h, int w, bool batch_statistics, uint64_t seed)
{
  graft_batchnorm_params p = { .n = n, .c = c, .spatial = (size_t) h * w, .epsilon = 1e-5f, .momentum = 0.9f };
  graft_error error;
  size_t count = (size_t) n * c * h * w, blocked = graft_onednn_blocked_floats (n, c, h, w);
  double *x = random_doubles (count, seed), *gamma = random_doubles (c, seed + 1), *beta = random_doubles (c, seed + 2);
  double *rmean = random_doubles (c, seed + 3), *rvar = random_doubles (c, seed + 4), *dy = random_doubles (count, seed + 5);
  double *y = test_doubles (count), *dx = test_doubles (count), *dgamma = test_doubles (c), *dbeta = test_doubles (c);
  double *dx0 = random_doubles (count, seed + 6);
  float *xf, *gf, *bf, *mf, *vf, *dyf, *xb, *dyb, *yb = nan_floats (blocked), *dxb = nan_floats (blocked);
  float *saved = nan_floats (2 * (size_t) c), *dgf = test_floats (c), *dbf = test_floats (c), *scratch;
  graft_onednn_batchnorm *bn;
  char what[160];

  for (int i = 0; i < c; i++)
    rvar[i] = fabs (rvar[i]) + 0.25;
  for (size_t i = 0; i < count; i++)
    x[i] = x[i] * 2 + 0.5;  /* a mean and a variance away from 0 and 1 */
  xf = floats_of (x, count);
  test_to_double (xf, x, count);
  gf = floats_of (gamma, c);
  bf = floats_of (beta, c);
  mf = floats_of (rmean, c);
  vf = floats_of (rvar, c);
  test_to_double (vf, rvar, c);
  dyf = floats_of (dy, count);
  xb = to_blocked (n, c, h, w, xf);
  dyb = to_blocked (n, c, h, w, dyf);

  g_assert_cmpint (graft_batchnorm_setup (&p, &error), ==, GRAFT_OK);
  bn = graft_onednn_batchnorm_new (&p, h, w, batch_statistics, true, &error);
  if (bn == NULL)
    g_error ("batchnorm: %s", error.message);
  scratch = nan_floats (graft_onednn_batchnorm_scratch_floats (bn));

  graft_onednn_batchnorm_forward (bn, xb, gf, bf, mf, vf, NULL, NULL, NULL, yb, saved);
  if (batch_statistics)
    {
      graft_batchnorm_forward_training_reference (&p, x, gamma, beta, y);
      graft_batchnorm_backward_training_reference (&p, x, gamma, dy, dx, dgamma, dbeta);
      /* The running statistics: momentum, and the unbiased variance. */
      for (int ch = 0; ch < c; ch++)
        {
          double sum = 0, squares = 0, m = (double) n * h * w, want_mean, want_var;
          for (int i = 0; i < n; i++)
            for (size_t s = 0; s < p.spatial; s++)
              sum += x[((size_t) i * c + ch) * p.spatial + s];
          for (int i = 0; i < n; i++)
            for (size_t s = 0; s < p.spatial; s++)
              {
                double d = x[((size_t) i * c + ch) * p.spatial + s] - sum / m;
                squares += d * d;
              }
          want_mean = rmean[ch] * 0.9 + sum / m * 0.1;
          want_var = rvar[ch] * 0.9 + squares / (m - 1) * 0.1;
          test_assert_close ("batchnorm running mean", &mf[ch], &want_mean, 1, 1e-6, 1e-5);
          test_assert_close ("batchnorm running var", &vf[ch], &want_var, 1, 1e-6, 1e-5);
        }
    }
  else
    {
      graft_batchnorm_forward_inference_reference (&p, x, gamma, beta, rmean, rvar, y);
      graft_batchnorm_backward_inference_reference (&p, x, gamma, rmean, rvar, dy, dx, dgamma, dbeta);
    }
  g_snprintf (what, sizeof what, "batchnorm %d,%d,%d,%d %s forward", n, c, h, w,
              batch_statistics ? "training" : "inference");
  assert_blocked_close (what, n, c, h, w, yb, y, 2e-5, 2e-5);

  graft_onednn_batchnorm_backward (bn, xb, gf, mf, vf, saved, dyb, dxb, true, dgf, dbf, scratch);
  g_snprintf (what, sizeof what, "batchnorm %d,%d,%d,%d %s dx", n, c, h, w, batch_statistics ? "training" : "inference");
  assert_blocked_close (what, n, c, h, w, dxb, dx, 2e-5, 1e-4);
  test_assert_close ("batchnorm dgamma", dgf, dgamma, c, 1e-5 * sqrt ((double) count / c) * 4, 1e-5);
  test_assert_close ("batchnorm dbeta", dbf, dbeta, c, 1e-5 * sqrt ((double) count / c) * 4, 1e-5);
  /* Accumulating dx, dgamma and dbeta. */
  graft_floats_free (dxb);
  {
    float *dx0f = floats_of (dx0, count);
    dxb = to_blocked (n, c, h, w, dx0f);
    g_free (dx0f);
  }
  for (size_t i = 0; i < count; i++)
    dx[i] += dx0[i];
  for (int i = 0; i < c; i++)
    {
      dgamma[i] *= 2;
      dbeta[i] *= 2;
    }
  graft_onednn_batchnorm_backward (bn, xb, gf, mf, vf, saved, dyb, dxb, false, dgf, dbf, scratch);
  assert_blocked_close ("batchnorm dx accumulated", n, c, h, w, dxb, dx, 2e-5, 1e-4);
  test_assert_close ("batchnorm dgamma accumulated", dgf, dgamma, c, 2e-5 * sqrt ((double) count / c) * 4, 1e-5);
  test_assert_close ("batchnorm dbeta accumulated", dbf, dbeta, c, 2e-5 * sqrt ((double) count / c) * 4, 1e-5);

  /* With an activation in the same pass, and the BatchNorm output beside it. */
  if (!batch_statistics)
    {
      graft_activation_params clip = { .kind = GRAFT_ACTIVATION_CLIP, .alpha = 0, .beta = 0.5f };
      float *pre = nan_floats (blocked);
      graft_batchnorm_forward_inference_reference (&p, x, gamma, beta, rmean, rvar, y);
      graft_onednn_batchnorm_forward (bn, xb, gf, bf, mf, vf, NULL, &clip, pre, yb, saved);
      assert_blocked_close ("batchnorm output beside its activation", n, c, h, w, pre, y, 2e-5, 2e-5);
      graft_activation_forward_reference (&clip, count, y, y);
      assert_blocked_close ("batchnorm with its activation", n, c, h, w, yb, y, 2e-5, 2e-5);
      graft_floats_free (pre);
    }
  graft_onednn_batchnorm_free (bn);
  graft_floats_free (scratch);
  g_free (x);
  g_free (gamma);
  g_free (beta);
  g_free (rmean);
  g_free (rvar);
  g_free (dy);
  g_free (y);
  g_free (dx);
  g_free (dgamma);
  g_free (dbeta);
  g_free (dx0);
  g_free (xf);
  g_free (gf);
  g_free (bf);
  g_free (mf);
  g_free (vf);
  g_free (dyf);
  g_free (dgf);
  g_free (dbf);
  graft_floats_free (xb);
  graft_floats_free (dyb);
  graft_floats_free (yb);
  graft_floats_free (dxb);
  graft_floats_free (saved);
}

static void
test_batchnorm (void)
{
  static const int shapes[][4] = { { 2, 3, 5, 7 }, { 3, 17, 6, 5 }, { 2, 101, 4, 4 }, { 4, 32, 7, 7 } };
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    for (int batch_statistics = 0; batch_statistics < 2; batch_statistics++)
      check_batchnorm (shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], batch_statistics, 300 + 10 * i);
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                   */

typedef struct {
  const char *name;
  bool max;
  int n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
  bool ceil_mode, count_include_pad;
} pool_case;

static const pool_case pool_cases[] = {
  { "max 3x3 s2 p1 (ResNet)", true,  2, 17, 15, 15, 3, 3, 2, 2, 1, 1, 1, 1, false, false },
  { "max 2x2 s2",             true,  2, 16,  8,  9, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
  { "max 3x3 s2 ceil",        true,  2, 101, 10, 12, 3, 3, 2, 2, 0, 0, 0, 0, true, false },
  { "max 3x2 asym pads",      true,  3, 3,  9, 10, 3, 2, 1, 2, 1, 0, 2, 1, false, false },
  { "avg 3x3 s1 p1 incl",     false, 2, 17,  7,  8, 3, 3, 1, 1, 1, 1, 1, 1, false, true },
  { "avg 3x3 s1 p1 excl",     false, 2, 17,  7,  8, 3, 3, 1, 1, 1, 1, 1, 1, false, false },
  { "avg 2x2 s2",             false, 2, 32,  8,  8, 2, 2, 2, 2, 0, 0, 0, 0, false, false },
  { "avg 3x3 s2 ceil excl",   false, 2, 24, 10, 11, 3, 3, 2, 2, 1, 0, 1, 0, true, false },
  { "avg 3x3 s2 ceil incl",   false, 2, 24, 10, 10, 3, 3, 2, 2, 1, 1, 1, 1, true, true },
};

static void
check_pool (const pool_case *k, uint64_t seed)
{
  graft_pool2d_params p = {
    .n = k->n, .c = k->c, .h = k->h, .w = k->w, .kh = k->kh, .kw = k->kw, .stride_h = k->sh, .stride_w = k->sw,
    .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr,
    .ceil_mode = k->ceil_mode, .count_include_pad = k->count_include_pad,
  };
  graft_error error;
  graft_onednn_pool *pool;
  char what[160];

  g_assert_cmpint (graft_pool2d_setup (&p, &error), ==, GRAFT_OK);
  pool = graft_onednn_pool_new (&p, k->max, true, &error);
  if (pool == NULL)
    {
      /* The one form oneDNN has not: an average counting the padding whose last ceil
       * window passes it. */
      g_assert_cmpint (error.status, ==, GRAFT_ERROR_UNSUPPORTED);
      g_assert_true (!k->max && k->ceil_mode && k->count_include_pad);
      g_test_message ("%s: %s", k->name, error.message);
      return;
    }
  size_t nx = (size_t) p.n * p.c * p.h * p.w, ny = (size_t) p.n * p.c * p.oh * p.ow;
  double *x = random_doubles (nx, seed), *dy = random_doubles (ny, seed + 1), *y = test_doubles (ny);
  double *dx = test_doubles (nx), *dx0 = random_doubles (nx, seed + 2);
  float *xf = floats_of (x, nx), *dyf = floats_of (dy, ny), *xb = to_blocked (p.n, p.c, p.h, p.w, xf);
  float *dyb = to_blocked (p.n, p.c, p.oh, p.ow, dyf), *yb = nan_floats (graft_onednn_blocked_floats (p.n, p.c, p.oh, p.ow));
  float *dxb = nan_floats (graft_onednn_blocked_floats (p.n, p.c, p.h, p.w));
  float *scratch = nan_floats (graft_onednn_pool_scratch_floats (pool)), *dx0f = floats_of (dx0, nx);

  if (k->max)
    {
      graft_maxpool2d_forward_reference (&p, x, y);
      graft_maxpool2d_backward_reference (&p, x, dy, dx);
    }
  else
    {
      graft_avgpool2d_forward_reference (&p, x, y);
      graft_avgpool2d_backward_reference (&p, dy, dx);
    }
  graft_onednn_pool_forward (pool, xb, yb);
  g_snprintf (what, sizeof what, "%s forward", k->name);
  assert_blocked_close (what, p.n, p.c, p.oh, p.ow, yb, y, 1e-6, 1e-5);
  graft_onednn_pool_backward (pool, dyb, dxb, true, scratch);
  g_snprintf (what, sizeof what, "%s backward", k->name);
  assert_blocked_close (what, p.n, p.c, p.h, p.w, dxb, dx, 1e-5, 1e-5);
  graft_floats_free (dxb);
  dxb = to_blocked (p.n, p.c, p.h, p.w, dx0f);
  for (size_t i = 0; i < nx; i++)
    dx[i] += dx0[i];
  graft_onednn_pool_backward (pool, dyb, dxb, false, scratch);
  g_snprintf (what, sizeof what, "%s backward accumulated", k->name);
  assert_blocked_close (what, p.n, p.c, p.h, p.w, dxb, dx, 1e-5, 1e-5);

  graft_onednn_pool_free (pool);
  g_free (x);
  g_free (dy);
  g_free (y);
  g_free (dx);
  g_free (dx0);
  g_free (xf);
  g_free (dyf);
  g_free (dx0f);
  graft_floats_free (xb);
  graft_floats_free (dyb);
  graft_floats_free (yb);
  graft_floats_free (dxb);
  graft_floats_free (scratch);
}

static void
test_pool (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (pool_cases); i++)
    check_pool (&pool_cases[i], 500 + 10 * i);
}

/* ------------------------------------------------------------------------ */
/* The loops: global average, channel scale, Concat                          */

static void
test_mean_spatial (void)
{
  int n = 3, c = 101, h = 5, w = 7;
  size_t count = (size_t) n * c * h * w, planes = (size_t) n * c;
  double *x = random_doubles (count, 11), *y = test_doubles (planes), *dy = random_doubles (planes, 12);
  double *dx = random_doubles (count, 13);
  float *xf = floats_of (x, count), *xb = to_blocked (n, c, h, w, xf), *yf = nan_floats (planes);
  float *dyf = floats_of (dy, planes), *dxb = blocked_of (n, c, h, w, dx);

  graft_mean_spatial_forward_reference (planes, (size_t) h * w, x, y);
  graft_onednn_mean_spatial_forward (n, c, (size_t) h * w, xb, yf);
  test_assert_close ("blocked mean_spatial forward", yf, y, planes, 1e-6, 1e-5);
  graft_mean_spatial_backward_reference (planes, (size_t) h * w, dy, dx);
  graft_onednn_mean_spatial_backward (n, c, (size_t) h * w, dyf, dxb);
  assert_blocked_close ("blocked mean_spatial backward", n, c, h, w, dxb, dx, 1e-6, 1e-5);
  g_free (x);
  g_free (y);
  g_free (dy);
  g_free (dx);
  g_free (xf);
  g_free (dyf);
  graft_floats_free (xb);
  graft_floats_free (yf);
  graft_floats_free (dxb);
}

static void
test_scale_channels (void)
{
  int n = 2, c = 40, h = 6, w = 5;
  size_t count = (size_t) n * c * h * w, planes = (size_t) n * c;
  graft_broadcast_params p = { .a = graft_shape_4d (n, c, h, w), .b = graft_shape_4d (n, c, 1, 1) };
  graft_error error;
  double *x = random_doubles (count, 21), *s = random_doubles (planes, 22), *y = test_doubles (count);
  double *dy = random_doubles (count, 23), *dx = random_doubles (count, 24), *ds = random_doubles (planes, 25);
  float *xb = blocked_of (n, c, h, w, x), *sf = floats_of (s, planes);
  float *yb = nan_floats (graft_onednn_blocked_floats (n, c, h, w)), *dyb = blocked_of (n, c, h, w, dy);
  float *dxb = blocked_of (n, c, h, w, dx), *dsf = floats_of (ds, planes);

  g_assert_cmpint (graft_broadcast_setup (&p, &error), ==, GRAFT_OK);
  graft_mul_forward_reference (&p, x, s, y);
  graft_onednn_scale_channels_forward (n, c, (size_t) h * w, xb, sf, yb);
  assert_blocked_close ("blocked channel scale forward", n, c, h, w, yb, y, 1e-7, 1e-6);
  graft_mul_backward_reference (&p, x, s, dy, dx, ds);
  graft_onednn_scale_channels_backward (n, c, (size_t) h * w, xb, sf, dyb, dxb, dsf);
  assert_blocked_close ("blocked channel scale dx", n, c, h, w, dxb, dx, 1e-6, 1e-5);
  test_assert_close ("blocked channel scale ds", dsf, ds, planes, 1e-5, 1e-5);
  g_free (x);
  g_free (s);
  g_free (y);
  g_free (dy);
  g_free (dx);
  g_free (ds);
  g_free (sf);
  g_free (dsf);
  graft_floats_free (xb);
  graft_floats_free (yb);
  graft_floats_free (dyb);
  graft_floats_free (dxb);
}

static void
test_concat (void)
{
  int b = graft_onednn_block ();
  int n = 2, h = 3, w = 4, c[3] = { b, 2 * b, 5 };
  int total = c[0] + c[1] + c[2];
  size_t hw = (size_t) h * w, inner[3];
  double *xs[3], *y, *dy, *dxs[3];
  const double *cxs[3];
  float *xb[3], *dxb[3], *yb, *dyb;
  const float *cxb[3];

  for (int j = 0; j < 3; j++)
    {
      size_t count = (size_t) n * c[j] * hw;
      inner[j] = (size_t) c[j] * hw;
      xs[j] = random_doubles (count, 30 + j);
      cxs[j] = xs[j];
      dxs[j] = random_doubles (count, 40 + j);
      xb[j] = blocked_of (n, c[j], h, w, xs[j]);
      cxb[j] = xb[j];
      dxb[j] = blocked_of (n, c[j], h, w, dxs[j]);
    }
  y = test_doubles ((size_t) n * total * hw);
  dy = random_doubles ((size_t) n * total * hw, 50);
  yb = nan_floats (graft_onednn_blocked_floats (n, total, h, w));
  dyb = blocked_of (n, total, h, w, dy);
  graft_concat_forward_reference (3, (size_t) n, inner, cxs, y);
  graft_onednn_concat_forward (n, hw, 3, c, cxb, yb);
  assert_blocked_close ("blocked concat forward", n, total, h, w, yb, y, 0, 0);
  graft_concat_backward_reference (3, (size_t) n, inner, dy, dxs);
  graft_onednn_concat_backward (n, hw, 3, c, dyb, dxb);
  for (int j = 0; j < 3; j++)
    {
      assert_blocked_close ("blocked concat backward", n, c[j], h, w, dxb[j], dxs[j], 1e-7, 1e-7);
      g_free (xs[j]);
      g_free (dxs[j]);
      graft_floats_free (xb[j]);
      graft_floats_free (dxb[j]);
    }
  g_free (y);
  g_free (dy);
  graft_floats_free (yb);
  graft_floats_free (dyb);
}

/* ------------------------------------------------------------------------ */
/* Plans on the backend: a small network with every blocked op                */

typedef struct {
  graft_graph *graph;
  int input, kept, logits;
} net;

static int
net_tensor (net *t, const char *name, graft_value_kind kind, graft_shape shape, float lo, float hi, uint64_t seed)
{
  size_t count;
  float *data;
  int value;
  graft_shape_count (&shape, &count, NULL);
  data = test_floats (count);
  test_fill_uniform_float (data, count, seed, lo, hi);
  value = graft_graph_add_tensor (t->graph, name, kind, &shape, data, NULL);
  g_free (data);
  g_assert_cmpint (value, >=, 0);
  return value;
}

static int
net_node (net *t, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (t->graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    g_error ("test network: %s", error.message);
  return value;
}

/* The classifier every test network ends with: "fc", a Gemm of x's features to 5
 * classes (weights in [-range, range] from seed, biases in [-0.1, 0.1] from seed + 1),
 * whose output is t's logits. */
static void
net_fc (net *t, int x, int features, float range, uint64_t seed)
{
  int gemm[3] = { x };
  gemm[1] = net_tensor (t, "fc.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (5, features), -range, range, seed);
  gemm[2] = net_tensor (t, "fc.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 5 }), -0.1f, 0.1f,
                        seed + 1);
  t->logits = net_node (t, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1.0f, 1.0f } },
                        gemm, 3);
}

static int
net_conv (net *t, const char *name, int x, int c, int m, int k, int stride, int groups, bool bias, uint64_t seed)
{
  char buffer[64];
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  int inputs[3], n = 2;
  float scale = (float) sqrt (3.0 / (c / groups * k * k));
  a.conv.kh = a.conv.kw = k;
  a.conv.stride_h = a.conv.stride_w = stride;
  a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = k / 2;
  a.conv.groups = groups;
  inputs[0] = x;
  g_snprintf (buffer, sizeof buffer, "%s.weight", name);
  inputs[1] = net_tensor (t, buffer, GRAFT_VALUE_PARAMETER, graft_shape_4d (m, c / groups, k, k), -scale, scale, seed);
  if (bias)
    {
      g_snprintf (buffer, sizeof buffer, "%s.bias", name);
      inputs[n++] = net_tensor (t, buffer, GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { m }), -0.1f,
                                0.1f, seed + 1);
    }
  return net_node (t, name, a, inputs, n);
}

static int
net_batchnorm (net *t, const char *name, int x, int c, uint64_t seed)
{
  char buffer[64];
  graft_node_attributes a = { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } };
  int inputs[5] = { x };
  graft_shape shape = graft_shape_make (1, (int64_t[]) { c });
  g_snprintf (buffer, sizeof buffer, "%s.weight", name);
  inputs[1] = net_tensor (t, buffer, GRAFT_VALUE_PARAMETER, shape, 0.5f, 1.5f, seed);
  g_snprintf (buffer, sizeof buffer, "%s.bias", name);
  inputs[2] = net_tensor (t, buffer, GRAFT_VALUE_PARAMETER, shape, -0.2f, 0.2f, seed + 1);
  g_snprintf (buffer, sizeof buffer, "%s.running_mean", name);
  inputs[3] = net_tensor (t, buffer, GRAFT_VALUE_BUFFER, shape, -0.1f, 0.1f, seed + 2);
  g_snprintf (buffer, sizeof buffer, "%s.running_var", name);
  inputs[4] = net_tensor (t, buffer, GRAFT_VALUE_BUFFER, shape, 0.8f, 1.2f, seed + 3);
  return net_node (t, name, a, inputs, 5);
}

static int
net_activation (net *t, const char *name, int x, graft_activation_kind kind, float alpha, float beta)
{
  graft_node_attributes a = { .op = GRAFT_OP_ACTIVATION, .activation = { kind, alpha, beta } };
  return net_node (t, name, a, &x, 1);
}

static int
net_pool (net *t, const char *name, graft_op op, int x, int k, int stride, int pad, bool ceil_mode)
{
  graft_node_attributes a = { .op = op };
  a.pool.kh = a.pool.kw = k;
  a.pool.stride_h = a.pool.stride_w = stride;
  a.pool.pad_top = a.pool.pad_left = a.pool.pad_bottom = a.pool.pad_right = pad;
  a.pool.ceil_mode = ceil_mode;
  return net_node (t, name, a, &x, 1);
}

/* A stem on the plain image, inverted residual blocks with BatchNorm (kept), a residual
 * Add, HardSwish, squeeze-excite, pooling with ceil_mode, Swish (x * sigmoid(x)), an odd
 * channel count (17), an aligned Concat, the global average and a Gemm head. */
static void
net_build (net *t, uint64_t seed)
{
  graft_shape input_shape = graft_shape_4d (1, 3, 15, 15);
  int x, skip, gate, pair[2];
  graft_node_attributes a;

  t->graph = graft_graph_new ();
  t->input = graft_graph_add_input (t->graph, "image", &input_shape, NULL);
  x = net_conv (t, "stem", t->input, 3, 16, 3, 2, 1, false, seed);
  x = net_batchnorm (t, "stem.bn", x, 16, seed + 10);
  x = net_activation (t, "stem.relu6", x, GRAFT_ACTIVATION_CLIP, 0, 6);
  x = net_conv (t, "dw", x, 16, 16, 3, 1, 16, false, seed + 20);
  x = net_batchnorm (t, "dw.bn", x, 16, seed + 30);
  x = net_activation (t, "dw.relu", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "project", x, 16, 24, 1, 1, 1, false, seed + 40);
  skip = x = net_batchnorm (t, "project.bn", x, 24, seed + 50);
  x = net_conv (t, "expand", x, 24, 24, 1, 1, 1, true, seed + 60);
  x = net_batchnorm (t, "expand.bn", x, 24, seed + 70);
  pair[0] = skip, pair[1] = x;
  x = net_node (t, "residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  t->kept = x = net_activation (t, "hswish", x, GRAFT_ACTIVATION_HARD_SWISH, 0, 0);
  x = net_pool (t, "maxpool", GRAFT_OP_MAXPOOL, x, 3, 2, 0, true);
  a = (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { true } };
  gate = net_node (t, "se.pool", a, &x, 1);
  gate = net_conv (t, "se.reduce", gate, 24, 8, 1, 1, 1, true, seed + 80);
  gate = net_activation (t, "se.relu", gate, GRAFT_ACTIVATION_RELU, 0, 0);
  gate = net_conv (t, "se.expand", gate, 8, 24, 1, 1, 1, true, seed + 90);
  gate = net_activation (t, "se.gate", gate, GRAFT_ACTIVATION_SIGMOID, 0, 0);
  pair[0] = x, pair[1] = gate;
  x = net_node (t, "se.scale", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);
  skip = net_conv (t, "wide", x, 24, 32, 1, 1, 1, false, seed + 100);
  gate = net_activation (t, "wide.sigmoid", skip, GRAFT_ACTIVATION_SIGMOID, 0, 0);
  pair[0] = skip, pair[1] = gate;
  skip = net_node (t, "wide.swish", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);
  x = net_conv (t, "odd", x, 24, 17, 3, 1, 1, true, seed + 110);
  x = net_activation (t, "odd.leaky", x, GRAFT_ACTIVATION_LEAKY_RELU, 0.1f, 0);
  /* Swish after a BatchNorm of 17 channels (a padded block), the sigmoid first in the
   * product: BatchNorm's blocked loop applies it in inference. */
  x = net_batchnorm (t, "odd.bn", x, 17, seed + 115);
  gate = net_activation (t, "odd.sigmoid", x, GRAFT_ACTIVATION_SIGMOID, 0, 0);
  pair[0] = gate, pair[1] = x;
  x = net_node (t, "odd.swish", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);
  /* A residual Add and ReLU after a Conv of 17 channels (oneDNN's binary post-op). */
  pair[0] = net_conv (t, "odd.conv", x, 17, 17, 3, 1, 1, true, seed + 116);
  pair[1] = x;
  x = net_node (t, "odd.residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  x = net_activation (t, "odd.relu", x, GRAFT_ACTIVATION_RELU, 0, 0);
  pair[0] = skip, pair[1] = x;
  a = (graft_node_attributes) { .op = GRAFT_OP_CONCAT, .concat = { 1 } };
  x = net_node (t, "concat", a, pair, 2);
  x = net_pool (t, "avgpool", GRAFT_OP_AVGPOOL, x, 3, 1, 1, false);
  a = (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { false } };
  x = net_node (t, "gap", a, &x, 1);
  net_fc (t, x, 49, 0.3f, seed + 120);
}

static graft_plan *
net_plan_precision (net *t, graft_plan_mode mode, graft_plan_kernels kernels, graft_plan_precision precision,
                    int batch)
{
  int keep[] = { t->kept, t->logits };
  graft_plan_options options = {
    .mode = mode, .batch = batch, .keep = keep, .n_keep = 2, .loss_logits = t->logits, .kernels = kernels,
    .precision = precision,
  };
  graft_error error;
  graft_plan *plan = graft_plan_new (t->graph, &options, &error);
  if (plan == NULL)
    g_error ("plan: %s", error.message);
  return plan;
}

static graft_plan *
net_plan (net *t, graft_plan_mode mode, graft_plan_kernels kernels, int batch)
{
  return net_plan_precision (t, mode, kernels, GRAFT_PLAN_PRECISION_FP32, batch);
}

static void
net_batch (int batch, uint64_t seed, float *images, int32_t *labels)
{
  test_fill_uniform_float (images, (size_t) batch * 3 * 15 * 15, seed, -1, 1);
  for (int i = 0; i < batch; i++)
    labels[i] = (int32_t) ((seed + (uint64_t) i * 7) % 5);
}

/* The layout decision blocks what runs in the backend and leaves the edges plain. */
static void
test_plan_layouts (void)
{
  net t;
  int keep[] = { 0 };
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 2, .keep = keep, .n_keep = 1 };
  graft_error error;
  graft_onednn_backend *backend;

  net_build (&t, 1);
  keep[0] = t.kept;
  options.loss_logits = t.logits;
  backend = graft_onednn_backend_new (t.graph, &options, &error);
  g_assert_nonnull (backend);
  for (int v = 0; v < graft_graph_value_count (t.graph); v++)
    {
      const char *name = graft_graph_value (t.graph, v)->name;
      bool blocked = graft_onednn_backend_blocked (backend, v);
      /* Plain: the image, the 1x1 planes of squeeze-excite and what the head reads. */
      bool plain = v == t.input || g_str_has_prefix (name, "se.pool") || g_str_has_prefix (name, "se.reduce")
                   || g_str_has_prefix (name, "se.relu") || g_str_has_prefix (name, "se.expand")
                   || g_str_has_prefix (name, "se.gate") || g_str_equal (name, "gap") || g_str_equal (name, "fc")
                   || graft_graph_value (t.graph, v)->kind != GRAFT_VALUE_ACTIVATION;
      if (v == t.input)
        g_assert_false (blocked);
      if (blocked == plain)
        g_error ("value '%s' is %s", name, blocked ? "blocked" : "plain");
    }
  graft_onednn_backend_free (backend);
  graft_graph_free (t.graph);
}

static void
assert_values_close (const char *what, const float *got, const float *want, size_t count, double atol, double rtol)
{
  double *w = test_doubles (count);
  test_to_double (want, w, count);
  test_assert_close (what, got, w, count, atol, rtol);
  g_free (w);
}

/* A training step's results on the portable kernels (plans[0]) and oneDNN (plans[1]):
 * the loss, the kept value, the logits and the running statistics, and every
 * parameter's gradient, within float tolerances. */
static void
assert_plans_agree (net nets[2], graft_plan *plans[2], const float loss[2])
{
  g_assert_cmpfloat_with_epsilon (loss[1], loss[0], 1e-5 * (1 + fabsf (loss[0])));
  for (int v = 0; v < graft_graph_value_count (nets[0].graph); v++)
    {
      const graft_value *value = graft_graph_value (nets[0].graph, v);
      graft_shape shape;
      size_t count;
      char what[160];
      const float *want, *got;

      if (v == nets[0].kept || v == nets[0].logits || value->kind == GRAFT_VALUE_BUFFER)
        {
          want = graft_plan_value_data (plans[0], v, &shape);
          got = graft_plan_value_data (plans[1], v, NULL);
          graft_shape_count (&shape, &count, NULL);
          g_snprintf (what, sizeof what, "%s on oneDNN", value->name);
          assert_values_close (what, got, want, count, 1e-5, 1e-4);
        }
      if (value->kind == GRAFT_VALUE_PARAMETER)
        {
          graft_shape_count (&value->shape, &count, NULL);
          want = graft_plan_gradient (plans[0], v);
          got = graft_plan_gradient (plans[1], v);
          g_assert_nonnull (want);
          g_assert_nonnull (got);
          g_snprintf (what, sizeof what, "gradient of %s on oneDNN", value->name);
          assert_values_close (what, got, want, count, 1e-5, 1e-3);
        }
    }
}

/* A training step on each backend: the same logits, kept value, loss and gradients
 * within float tolerances, and the same running statistics. */
static void
test_plan_matches_portable (void)
{
  int batch = 3;
  float images[3 * 3 * 15 * 15];
  int32_t labels[3];
  net nets[2];
  graft_plan *plans[2];
  float loss[2];
  graft_error error;

  net_batch (batch, 5, images, labels);
  for (int k = 0; k < 2; k++)
    {
      net_build (&nets[k], 3);
      plans[k] = net_plan (&nets[k], GRAFT_PLAN_TRAINING, k ? GRAFT_PLAN_KERNELS_ONEDNN : GRAFT_PLAN_KERNELS_PORTABLE,
                           batch);
      g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                       GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plans[k], labels, &loss[k], &error), ==, GRAFT_OK);
    }
  g_assert_cmpstr (graft_plan_kernels_name (plans[0]), ==, "portable");
  g_assert_cmpstr (graft_plan_kernels_name (plans[1]), ==, "onednn");
  assert_plans_agree (nets, plans, loss);
  for (int k = 0; k < 2; k++)
    {
      graft_plan_free (plans[k]);
      graft_graph_free (nets[k].graph);
    }
}

/* The same seed and thread count give the same bits: two runs of a few training steps
 * with an optimizer, at a precision. */
static void
assert_steps_deterministic (graft_plan_precision precision)
{
  int batch = 4;
  float images[4 * 3 * 15 * 15];
  int32_t labels[4];
  net nets[2];
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_error error;

  for (int k = 0; k < 2; k++)
    {
      graft_plan *plan;
      graft_optimizer_state *state = graft_optimizer_state_new (&config, &error);
      net_build (&nets[k], 9);
      plan = net_plan_precision (&nets[k], GRAFT_PLAN_TRAINING, GRAFT_PLAN_KERNELS_ONEDNN, precision, batch);
      for (int step = 0; step < 3; step++)
        {
          float loss;
          net_batch (batch, 100 + step, images, labels);
          g_assert_cmpint (graft_plan_set_input (plan, nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                           GRAFT_OK);
          g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
          g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &error), ==, GRAFT_OK);
          g_assert_cmpint (graft_optimizer_state_step (state, plan, 1e-2f, NULL, &error), ==, GRAFT_OK);
        }
      graft_plan_free (plan);
      graft_optimizer_state_free (state);
    }
  for (int v = 0; v < graft_graph_value_count (nets[0].graph); v++)
    {
      const graft_value *a = graft_graph_value (nets[0].graph, v), *b = graft_graph_value (nets[1].graph, v);
      size_t count;
      if (a->kind != GRAFT_VALUE_PARAMETER && a->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&a->shape, &count, NULL);
      if (memcmp (a->data, b->data, count * sizeof (float)) != 0)
        g_error ("%s differs between two %s runs of the same steps", a->name,
                 precision == GRAFT_PLAN_PRECISION_BF16 ? "bf16" : "f32");
    }
  for (int k = 0; k < 2; k++)
    graft_graph_free (nets[k].graph);
}

static void
test_plan_deterministic (void)
{
  assert_steps_deterministic (GRAFT_PLAN_PRECISION_FP32);
}

/* Plain readers of blocked values (a broadcast Add, a Concat of channel counts that
 * are not multiples of the block, a Flatten) in the middle of a network, and a blocked
 * Mul by a constant per-channel factor shared by the samples: a stem
 * branch, a shifted 1x1 branch concatenated with it, a convolution and a Gemm head on
 * the flattened map. */
static void
edge_net_build (net *t, uint64_t seed)
{
  graft_shape input_shape = graft_shape_4d (1, 3, 9, 9);
  int x, branch, pair[2];
  graft_node_attributes a;

  t->graph = graft_graph_new ();
  t->input = graft_graph_add_input (t->graph, "image", &input_shape, NULL);
  x = net_conv (t, "stem", t->input, 3, 12, 3, 1, 1, false, seed);
  x = net_batchnorm (t, "stem.bn", x, 12, seed + 10);
  x = net_activation (t, "stem.relu", x, GRAFT_ACTIVATION_RELU, 0, 0);
  branch = net_conv (t, "branch", x, 12, 12, 1, 1, 1, true, seed + 20);
  branch = net_activation (t, "branch.hswish", branch, GRAFT_ACTIVATION_HARD_SWISH, 0, 0);
  pair[0] = branch;
  pair[1] = net_tensor (t, "shift", GRAFT_VALUE_PARAMETER, graft_shape_4d (1, 12, 1, 1), -0.5f, 0.5f, seed + 30);
  branch = net_node (t, "shifted", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  pair[0] = x, pair[1] = branch;
  a = (graft_node_attributes) { .op = GRAFT_OP_CONCAT, .concat = { 1 } };
  x = net_node (t, "concat", a, pair, 2);
  x = net_conv (t, "reduce", x, 24, 8, 3, 2, 1, true, seed + 40);
  t->kept = x = net_activation (t, "reduce.relu6", x, GRAFT_ACTIVATION_CLIP, 0, 6);
  /* A constant (1,C,1,1) factor is no per-sample scale at a batch above 1: the layer
   * scale's kernel (mul_scale_descriptor) copies it for each sample. */
  pair[0] = x;
  pair[1] = net_tensor (t, "gain", GRAFT_VALUE_CONSTANT, graft_shape_4d (1, 8, 1, 1), 0.5f, 1.5f, seed + 45);
  x = net_node (t, "gained", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } };
  x = net_node (t, "flatten", a, &x, 1);
  net_fc (t, x, 8 * 5 * 5, 0.1f, seed + 50);
}

/* Where a node that runs plain reads a blocked value, the value is reordered for it
 * and its producers stay blocked (the plain layout no longer spreads up from the
 * Concat and the Flatten to the stem), and a training step still matches the
 * portable kernels: values, loss, every gradient, running statistics. */
static void
test_plan_edges (void)
{
  int batch = 3;
  float images[3 * 3 * 9 * 9];
  int32_t labels[3];
  net nets[2];
  graft_plan *plans[2];
  float loss[2];
  graft_error error;
  graft_onednn_backend *backend;
  int keep[] = { 0 };
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 2, .keep = keep, .n_keep = 1 };

  edge_net_build (&nets[0], 7);
  options.loss_logits = nets[0].logits;
  backend = graft_onednn_backend_new (nets[0].graph, &options, &error);
  g_assert_nonnull (backend);
  for (int v = 0; v < graft_graph_value_count (nets[0].graph); v++)
    {
      const char *name = graft_graph_value (nets[0].graph, v)->name;
      bool blocked = graft_onednn_backend_blocked (backend, v);
      bool want = g_str_has_prefix (name, "stem") || g_str_has_prefix (name, "branch")
                  || g_str_has_prefix (name, "reduce") || g_str_equal (name, "gained");
      if (graft_graph_value (nets[0].graph, v)->kind != GRAFT_VALUE_ACTIVATION)
        want = false;
      if (blocked != want)
        g_error ("value '%s' is %s", name, blocked ? "blocked" : "plain");
    }
  graft_onednn_backend_free (backend);
  graft_graph_free (nets[0].graph);

  test_fill_uniform_float (images, G_N_ELEMENTS (images), 11, -1, 1);
  for (int i = 0; i < batch; i++)
    labels[i] = (int32_t) ((i * 3 + 1) % 5);
  for (int k = 0; k < 2; k++)
    {
      edge_net_build (&nets[k], 7);
      plans[k] = net_plan (&nets[k], GRAFT_PLAN_TRAINING, k ? GRAFT_PLAN_KERNELS_ONEDNN : GRAFT_PLAN_KERNELS_PORTABLE,
                           batch);
      g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                       GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plans[k], labels, &loss[k], &error), ==, GRAFT_OK);
    }
  assert_plans_agree (nets, plans, loss);
  for (int k = 0; k < 2; k++)
    {
      graft_plan_free (plans[k]);
      graft_graph_free (nets[k].graph);
    }
}

/* ConvNeXt's block as torchvision exports it: a depthwise convolution (blocked), a
 * Transpose to channels last, LayerNorm, the MLP (MatMul, bias Add, Gelu, MatMul, bias
 * Add), a Transpose back, the layer scale (a Mul by a (C,1,1) parameter) and the
 * residual Add; 20 channels, so that the last block is partly padding. */
static void
convnext_net_build (net *t, uint64_t seed)
{
  enum { C = 20, H = 80 };
  graft_shape input_shape = graft_shape_4d (1, 3, 9, 9);
  int x, y, in[3];
  graft_node_attributes a;

  t->graph = graft_graph_new ();
  t->input = graft_graph_add_input (t->graph, "image", &input_shape, NULL);
  x = net_conv (t, "stem", t->input, 3, C, 3, 1, 1, true, seed);
  y = net_conv (t, "dw", x, C, C, 7, 1, C, true, seed + 10);
  a = (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { { 0, 2, 3, 1 } } };
  t->kept = y = net_node (t, "to_nhwc", a, &y, 1);
  in[0] = y;
  in[1] = net_tensor (t, "ln.weight", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { C }), 0.5f, 1.5f,
                      seed + 20);
  in[2] = net_tensor (t, "ln.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { C }), -0.5f, 0.5f,
                      seed + 21);
  y = net_node (t, "ln", (graft_node_attributes) { .op = GRAFT_OP_LAYERNORM, .layernorm = { -1, 1e-6f } }, in, 3);
  in[0] = y;
  in[1] = net_tensor (t, "fc1.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (C, H), -0.3f, 0.3f, seed + 30);
  in[0] = net_node (t, "fc1", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[1] = net_tensor (t, "fc1.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { H }), -0.5f, 0.5f,
                      seed + 31);
  in[0] = net_node (t, "fc1.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  in[0] = net_node (t, "gelu", (graft_node_attributes) { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_ERF } }, in, 1);
  in[1] = net_tensor (t, "fc2.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (H, C), -0.3f, 0.3f, seed + 40);
  in[0] = net_node (t, "fc2", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[1] = net_tensor (t, "fc2.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { C }), -0.5f, 0.5f,
                      seed + 41);
  y = net_node (t, "fc2.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { { 0, 3, 1, 2 } } };
  in[0] = net_node (t, "to_nchw", a, &y, 1);
  in[1] = net_tensor (t, "layer_scale", GRAFT_VALUE_PARAMETER, graft_shape_make (3, (int64_t[]) { C, 1, 1 }), 0.5f,
                      1.5f, seed + 50);
  in[0] = net_node (t, "scaled", (graft_node_attributes) { .op = GRAFT_OP_MUL }, in, 2);
  in[1] = x;
  x = net_node (t, "residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } };
  net_fc (t, net_node (t, "flatten", a, &x, 1), C * 9 * 9, 0.05f, seed + 60);
}

/* The ConvNeXt block on oneDNN: the Transpose back from channels last writes the
 * blocked layout, and the layer scale, the residual Add and the convolutions stay
 * blocked; the MLP is plain. Against the portable kernels: a training step (the
 * Transposes' and the layer scale's backward through blocked values), and inference,
 * where the channels-last Transpose reads the blocked convolution output directly and
 * the MLP runs its bias Adds and Gelu in the MatMuls' passes; the layer scale runs the
 * residual Add in its pass. */
static void
test_plan_convnext (void)
{
  int batch = 3;
  float images[3 * 3 * 9 * 9];
  int32_t labels[3] = { 1, 4, 0 };
  net nets[2];
  graft_plan *plans[2];
  float loss[2];
  graft_error error;
  graft_onednn_backend *backend;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 2 };

  convnext_net_build (&nets[0], 31);
  options.loss_logits = nets[0].logits;
  backend = graft_onednn_backend_new (nets[0].graph, &options, &error);
  g_assert_nonnull (backend);
  for (int v = 0; v < graft_graph_value_count (nets[0].graph); v++)
    {
      const char *name = graft_graph_value (nets[0].graph, v)->name;
      bool blocked = graft_onednn_backend_blocked (backend, v);
      bool want = g_str_equal (name, "stem") || g_str_equal (name, "dw") || g_str_equal (name, "to_nchw")
                  || g_str_equal (name, "scaled") || g_str_equal (name, "residual");
      if (blocked != want)
        g_error ("value '%s' is %s", name, blocked ? "blocked" : "plain");
    }
  graft_onednn_backend_free (backend);
  graft_graph_free (nets[0].graph);

  test_fill_uniform_float (images, G_N_ELEMENTS (images), 13, -1, 1);
  for (int mode = 0; mode < 2; mode++)
    {
      for (int k = 0; k < 2; k++)
        {
          convnext_net_build (&nets[k], 31);
          plans[k] = net_plan (&nets[k], mode ? GRAFT_PLAN_INFERENCE : GRAFT_PLAN_TRAINING,
                               k ? GRAFT_PLAN_KERNELS_ONEDNN : GRAFT_PLAN_KERNELS_PORTABLE, batch);
          g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                           GRAFT_OK);
          g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
          if (!mode)
            g_assert_cmpint (graft_plan_backward (plans[k], labels, &loss[k], &error), ==, GRAFT_OK);
          /* In the MatMuls' passes in inference: fc1.add, gelu and fc2.add; on oneDNN, the
           * residual Add in the layer scale's, in both modes. */
          g_assert_cmpint (graft_plan_fused_nodes (plans[k]), ==, (mode ? 3 : 0) + k);
        }
      if (!mode)
        assert_plans_agree (nets, plans, loss);
      else
        {
          graft_shape shape;
          size_t count;
          const float *want = graft_plan_value_data (plans[0], nets[0].kept, &shape);
          graft_shape_count (&shape, &count, NULL);
          assert_values_close ("channels-last value on oneDNN", graft_plan_value_data (plans[1], nets[1].kept, NULL),
                               want, count, 1e-5, 1e-4);
          want = graft_plan_value_data (plans[0], nets[0].logits, &shape);
          graft_shape_count (&shape, &count, NULL);
          assert_values_close ("logits on oneDNN", graft_plan_value_data (plans[1], nets[1].logits, NULL), want,
                               count, 1e-5, 1e-4);
        }
      for (int k = 0; k < 2; k++)
        {
          graft_plan_free (plans[k]);
          graft_graph_free (nets[k].graph);
        }
    }
}

/* A ResNet of odd widths (19 and 21 channels, padded blocks) on a 3x11x11 image: a stem
 * BatchNorm and ReLU, an identity block (its input read by conv1 and the residual Add,
 * whose gradients add up), a downsampling block whose shortcut BatchNorm adds the main
 * branch (the Add's other gradient goes to a BatchNorm without activation), and a
 * BatchNorm and Add without ReLU whose other operand another Add reads after it. */
static void
resnet_build (net *t, uint64_t seed)
{
  graft_shape input_shape = graft_shape_4d (1, 3, 11, 11);
  int x, y, skip, pair[2];
  graft_node_attributes a;

  t->graph = graft_graph_new ();
  t->input = graft_graph_add_input (t->graph, "image", &input_shape, NULL);
  x = net_conv (t, "stem", t->input, 3, 19, 3, 1, 1, false, seed);
  x = net_batchnorm (t, "stem.bn", x, 19, seed + 10);
  skip = x = net_activation (t, "stem.relu", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "a.conv1", x, 19, 19, 3, 1, 1, false, seed + 20);
  x = net_batchnorm (t, "a.bn1", x, 19, seed + 30);
  x = net_activation (t, "a.relu1", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "a.conv2", x, 19, 19, 3, 1, 1, false, seed + 40);
  pair[0] = net_batchnorm (t, "a.bn2", x, 19, seed + 50);
  pair[1] = skip;
  x = net_node (t, "a.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  t->kept = skip = x = net_activation (t, "a.relu2", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "b.conv1", x, 19, 21, 3, 2, 1, false, seed + 60);
  x = net_batchnorm (t, "b.bn1", x, 21, seed + 70);
  x = net_activation (t, "b.relu1", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "b.conv2", x, 21, 21, 3, 1, 1, false, seed + 80);
  y = net_batchnorm (t, "b.bn2", x, 21, seed + 90);
  x = net_conv (t, "b.down", skip, 19, 21, 1, 2, 1, false, seed + 100);
  pair[0] = y;
  pair[1] = net_batchnorm (t, "b.down.bn", x, 21, seed + 110);
  x = net_node (t, "b.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  skip = x = net_activation (t, "b.relu2", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = net_conv (t, "c.conv", x, 21, 21, 1, 1, 1, true, seed + 120);
  pair[0] = skip;
  pair[1] = net_batchnorm (t, "c.bn", x, 21, seed + 130);
  x = net_node (t, "c.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  /* skip's gradient, written by d.add first, is added to in c.bn's pass. */
  pair[0] = x, pair[1] = skip;
  x = net_node (t, "d.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { false } };
  x = net_node (t, "gap", a, &x, 1);
  net_fc (t, x, 21, 0.3f, seed + 140);
}

/* BatchNorm's backward runs the ReLU's and the residual Add's after it in its pass
 * (the ReLU's mask from its output, the Add's other gradient written or added to): the
 * same bits as the separate passes of an unfused plan on oneDNN, and the portable
 * kernels' results within float tolerances. */
static void
test_plan_fused_backward (void)
{
  int batch = 3;
  float images[3 * 3 * 11 * 11];
  int32_t labels[3];
  net nets[3];
  graft_plan *plans[3];
  float loss[3];
  graft_error error;

  test_fill_uniform_float (images, G_N_ELEMENTS (images), 23, -1, 1);
  for (int i = 0; i < batch; i++)
    labels[i] = (int32_t) ((i * 2 + 3) % 5);
  for (int k = 0; k < 3; k++)
    {
      int keep[2];
      graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = batch, .keep = keep, .n_keep = 2,
                                     .kernels = k ? GRAFT_PLAN_KERNELS_ONEDNN : GRAFT_PLAN_KERNELS_PORTABLE,
                                     .unfused = k == 2 };
      resnet_build (&nets[k], 31);
      keep[0] = nets[k].kept, keep[1] = nets[k].logits;
      options.loss_logits = nets[k].logits;
      plans[k] = graft_plan_new (nets[k].graph, &options, &error);
      if (plans[k] == NULL)
        g_error ("plan: %s", error.message);
      g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                       GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plans[k], labels, &loss[k], &error), ==, GRAFT_OK);
    }
  /* The ReLUs after stem.bn, a.bn1 and b.bn1; a.add and a.relu2, b.add and b.relu2
   * (in b.down.bn's pass); c.add. */
  g_assert_cmpint (graft_plan_fused_backward_nodes (plans[0]), ==, 0);
  g_assert_cmpint (graft_plan_fused_backward_nodes (plans[1]), ==, 8);
  g_assert_cmpint (graft_plan_fused_backward_nodes (plans[2]), ==, 0);
  assert_plans_agree (nets, plans, loss);
  g_assert_cmpfloat (loss[1], ==, loss[2]);
  for (int v = 0; v < graft_graph_value_count (nets[1].graph); v++)
    {
      const graft_value *value = graft_graph_value (nets[1].graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      if (memcmp (graft_plan_gradient (plans[1], v), graft_plan_gradient (plans[2], v), count * sizeof (float)) != 0)
        g_error ("the gradient of %s differs between the fused and the unfused backward", value->name);
    }
  for (int k = 0; k < 3; k++)
    {
      graft_plan_free (plans[k]);
      graft_graph_free (nets[k].graph);
    }
}

/* An inference plan: the same outputs as the portable kernels, and a frozen training
 * plan reorders its weights once but still sees the graph's weights. */
static void
test_plan_inference (void)
{
  int batch = 2;
  float images[2 * 3 * 15 * 15];
  int32_t labels[2];
  net nets[2];
  graft_plan *plans[2];
  graft_error error;

  net_batch (batch, 11, images, labels);
  for (int k = 0; k < 2; k++)
    {
      net_build (&nets[k], 21);
      plans[k] = net_plan (&nets[k], GRAFT_PLAN_INFERENCE, k ? GRAFT_PLAN_KERNELS_ONEDNN : GRAFT_PLAN_KERNELS_PORTABLE,
                           batch);
      g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                       GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
      /* Run in their producer's pass on both backends: stem.relu6, dw.relu, se.relu,
       * se.gate, odd.leaky, and the Swishes (Sigmoid and Mul) of wide (the convolution's
       * post-op on oneDNN) and odd.bn (BatchNorm's loop); on oneDNN also the residual Add
       * and hswish in expand.bn's loop, and odd.residual and odd.relu as odd.conv's
       * post-ops. */
      g_assert_cmpint (graft_plan_fused_nodes (plans[k]), ==, k ? 13 : 9);
    }
  {
    graft_shape shape;
    size_t count;
    const float *want = graft_plan_value_data (plans[0], nets[0].kept, &shape);
    graft_shape_count (&shape, &count, NULL);
    assert_values_close ("inference kept value on oneDNN", graft_plan_value_data (plans[1], nets[1].kept, NULL), want,
                         count, 1e-5, 1e-4);
    want = graft_plan_value_data (plans[0], nets[0].logits, &shape);
    graft_shape_count (&shape, &count, NULL);
    assert_values_close ("inference logits on oneDNN", graft_plan_value_data (plans[1], nets[1].logits, NULL), want,
                         count, 1e-5, 1e-4);
  }
  for (int k = 0; k < 2; k++)
    {
      graft_plan_free (plans[k]);
      graft_graph_free (nets[k].graph);
    }
}

/* ------------------------------------------------------------------------ */
/* bf16 mixed precision                                                      */
/* Tolerances. bf16 keeps 8 significant bits, so rounding x (or dy) and the weights
 * each moves a product by at most 2^-9 relative, 2^-8 together; with f32 accumulation
 * one convolution's results move by about 2^-9 in relative 2-norm (test_bf16_conv
 * measures 1.4e-3 to 2.2e-3 for y, dx, dw and dbias), and the errors of the layers on a
 * path add up at worst: the test network has 7 convolutions on its longest path, so
 * its values (the kept activation, the logits) may move by 8 x 2^-8 = 0.031 (measured:
 * 0.004-0.006). Gradients below BatchNorm move more: its backward subtracts from dy
 * its mean and its projection on the normalised x, nearly equal terms over a small
 * batch, which multiplies relative errors; the f32 comparison of the two backends above
 * needs 100x more room for the gradients (1e-3) than for the values (1e-5) for that
 * reason. Measured here: 0.002-0.16 at batch 4 (the stem's and the first blocks'
 * gradients, under four BatchNorms), so the bound is 64 x 2^-8 = 0.25; a gradient
 * computed wrong (a lost accumulation, a stale bf16 copy of x or dy) is off by O(1).
 * At the other end, two f32 runs differ by about 1e-7 relative (summation order): a
 * value closer than 1e-5 to f32's means nothing was rounded to bf16, i.e. the plan ran
 * f32 under bf16's name. */
#define BF16_TOLERANCE (8.0 / 256.0)
#define BF16_GRADIENT_TOLERANCE (64.0 / 256.0)
#define BF16_MIN_DISTANCE 1e-5

/* ||got - want|| / ||want||, asserting every value of got is finite. */
static double
relative_distance (const char *what, const float *got, const float *want, size_t count)
{
  double diff = 0, norm = 0;
  for (size_t i = 0; i < count; i++)
    {
      if (!isfinite (got[i]))
        g_error ("%s[%zu] is %g", what, i, got[i]);
      diff += ((double) got[i] - want[i]) * ((double) got[i] - want[i]);
      norm += (double) want[i] * want[i];
    }
  return norm > 0 ? sqrt (diff / norm) : sqrt (diff);
}


/* One convolution (64 -> 32 channels, 3x3, with bias) in bf16, forward and backward:
 * oneDNN's bf16 kernels run (not its f32 ones, nor its reference loops), and y, dx, dw
 * and dbias are within bf16's rounding of the f32 object's (2^-8 relative, in norm: both
 * factors rounded) and not equal to them. */
static void
test_bf16_conv (void)
{
  graft_conv2d_params p = { .n = 2, .c = 64, .h = 12, .w = 12, .m = 32, .kh = 3, .kw = 3, .stride_h = 1,
                            .stride_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1,
                            .dilation_h = 1, .dilation_w = 1, .groups = 1 };
  graft_onednn_conv_config config = { .src_blocked = true, .dst_blocked = true, .bias = true,
                                      .backward_data = true, .backward_weights = true };
  graft_onednn_conv *convs[2];
  float *x, *w, *bias, *dy, *y[2], *dx[2], *dw[2], *dbias[2], *scratch[2];
  size_t x_floats, y_floats, w_floats = (size_t) 32 * 64 * 9;
  graft_error error;

  g_assert_cmpint (graft_conv2d_setup (&p, &error), ==, GRAFT_OK);
  x_floats = graft_onednn_blocked_floats (p.n, p.c, p.h, p.w);
  y_floats = graft_onednn_blocked_floats (p.n, p.m, p.oh, p.ow);
  x = test_floats (x_floats);
  w = test_floats (w_floats);
  bias = test_floats (p.m);
  dy = test_floats (y_floats);
  test_fill_uniform_float (x, x_floats, 1, -1, 1);
  test_fill_uniform_float (w, w_floats, 2, -0.1f, 0.1f);
  test_fill_uniform_float (bias, p.m, 3, -0.1f, 0.1f);
  test_fill_uniform_float (dy, y_floats, 4, -1, 1);
  for (int k = 0; k < 2; k++)
    {
      config.bf16 = k == 1;
      convs[k] = graft_onednn_conv_new (&p, &config, &error);
      g_assert_nonnull (convs[k]);
      g_assert_cmpint (graft_onednn_conv_is_bf16 (convs[k]), ==, k == 1);
      y[k] = test_floats (y_floats);
      dx[k] = test_floats (x_floats);
      dw[k] = g_new0 (float, w_floats);
      dbias[k] = g_new0 (float, p.m);
      scratch[k] = graft_floats_alloc (graft_onednn_conv_scratch_floats (convs[k]) + 1);
      graft_onednn_conv_forward (convs[k], x, w, bias, y[k], scratch[k]);
      graft_onednn_conv_backward (convs[k], x, w, dy, dx[k], true, dw[k], dbias[k], scratch[k]);
    }
  if (strstr (graft_onednn_conv_implementation (convs[1]), "bf16") == NULL)
    g_error ("the bf16 convolution runs %s", graft_onednn_conv_implementation (convs[1]));
  {
    const char *names[] = { "y", "dx", "dw", "dbias" };
    const float *got[] = { y[1], dx[1], dw[1], dbias[1] }, *want[] = { y[0], dx[0], dw[0], dbias[0] };
    size_t counts[] = { y_floats, x_floats, w_floats, (size_t) p.m };
    for (int i = 0; i < 4; i++)
      {
        double distance = relative_distance (names[i], got[i], want[i], counts[i]);
        g_test_message ("bf16 convolution's %s: relative distance %.2e", names[i], distance);
        if (distance > 1.0 / 256 || (i < 3 && distance < BF16_MIN_DISTANCE))
          g_error ("the bf16 convolution's %s is %.3g from f32's (relative 2-norm)", names[i], distance);
      }
  }
  for (int k = 0; k < 2; k++)
    {
      graft_onednn_conv_free (convs[k]);
      graft_floats_free (scratch[k]);
      g_free (y[k]);
      g_free (dx[k]);
      g_free (dw[k]);
      g_free (dbias[k]);
    }
  g_free (x);
  g_free (w);
  g_free (bias);
  g_free (dy);
}

/* A training step in bf16 against the same step in f32 (both on oneDNN): the loss, the
 * kept value, the logits and every gradient finite and within BF16_TOLERANCE, and the
 * logits not within f32's rounding (bf16 ran). */
static void
test_bf16_step (void)
{
  int batch = 4;
  float images[4 * 3 * 15 * 15];
  int32_t labels[4];
  net nets[2];
  graft_plan *plans[2];
  float loss[2], zeros[32 * 24 * 9];   /* as many as the largest parameter */
  graft_error error;

  memset (zeros, 0, sizeof zeros);
  net_batch (batch, 5, images, labels);
  for (int k = 0; k < 2; k++)
    {
      net_build (&nets[k], 3);
      plans[k] = net_plan_precision (&nets[k], GRAFT_PLAN_TRAINING, GRAFT_PLAN_KERNELS_ONEDNN,
                                     k ? GRAFT_PLAN_PRECISION_BF16 : GRAFT_PLAN_PRECISION_FP32, batch);
      g_assert_cmpint (graft_plan_set_input (plans[k], nets[k].input, images, G_N_ELEMENTS (images), &error), ==,
                       GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[k], &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plans[k], labels, &loss[k], &error), ==, GRAFT_OK);
    }
  g_assert_cmpint (graft_plan_bf16_nodes (plans[0]), ==, 0);
  /* All 9 but squeeze-excite's two on 1x1 planes, which the built-in kernels run (f32). */
  g_assert_cmpint (graft_plan_bf16_nodes (plans[1]), ==, 7);
  g_assert_true (isfinite (loss[1]));
  g_assert_cmpfloat (fabs (loss[1] - loss[0]), <=, BF16_TOLERANCE * fabs (loss[0]));
  for (int v = 0; v < graft_graph_value_count (nets[0].graph); v++)
    {
      const graft_value *value = graft_graph_value (nets[0].graph, v);
      const float *want, *got;
      graft_shape shape;
      size_t count;
      double distance, tolerance;

      if (v == nets[0].kept || v == nets[0].logits)
        {
          want = graft_plan_value_data (plans[0], v, &shape);
          got = graft_plan_value_data (plans[1], v, NULL);
        }
      else if (value->kind == GRAFT_VALUE_PARAMETER)
        {
          shape = value->shape;
          want = graft_plan_gradient (plans[0], v);
          got = graft_plan_gradient (plans[1], v);
        }
      else
        continue;
      graft_shape_count (&shape, &count, NULL);
      tolerance = value->kind == GRAFT_VALUE_PARAMETER ? BF16_GRADIENT_TOLERANCE : BF16_TOLERANCE;
      if (value->kind == GRAFT_VALUE_PARAMETER && relative_distance (value->name, want, zeros, count) < 1e-5)
        {
          /* expand.bias, before a BatchNorm with batch statistics: its gradient is zero
           * but for rounding. In bf16 it is the sum of dy rounded to bf16 over
           * N x H x W = 900 positions: about 2^-9 x 30 x |dy| (measured 2.8e-4). */
          g_assert_cmpfloat (relative_distance (value->name, got, zeros, count), <, 2e-3);
          continue;
        }
      distance = relative_distance (value->name, got, want, count);
      g_test_message ("%s%s: relative distance %.2e", value->kind == GRAFT_VALUE_PARAMETER ? "gradient of " : "",
                      value->name, distance);
      if (distance > tolerance)
        g_error ("%s%s in bf16 is %.3g away from f32 (relative 2-norm), more than %.3g",
                 value->kind == GRAFT_VALUE_PARAMETER ? "the gradient of " : "", value->name, distance, tolerance);
      if (v == nets[0].logits && distance < BF16_MIN_DISTANCE)
        g_error ("the logits in bf16 are %.3g from f32's: bf16 did not run", distance);
    }
  for (int k = 0; k < 2; k++)
    {
      graft_plan_free (plans[k]);
      graft_graph_free (nets[k].graph);
    }
}

/* bf16 steps are as deterministic as f32's: two runs of three steps with an optimizer
 * give the same bits. */
static void
test_bf16_deterministic (void)
{
  assert_steps_deterministic (GRAFT_PLAN_PRECISION_BF16);
}
#endif

/* The portable kernels refuse bf16 (they have no bf16 path) instead of running f32
 * under its name; so does oneDNN on a CPU without AVX512_BF16 or AMX. */
static void
test_bf16_refused (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_2d (1, 4);
  int input = graft_graph_add_input (graph, "x", &shape, NULL);
  graft_node_attributes a = { .op = GRAFT_OP_ACTIVATION, .activation = { GRAFT_ACTIVATION_RELU, 0, 0 } };
  int output = graft_graph_add_node (graph, "relu", &a, &input, 1, "relu", NULL);
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = 1, .keep = &output, .n_keep = 1,
                                 .kernels = GRAFT_PLAN_KERNELS_PORTABLE, .precision = GRAFT_PLAN_PRECISION_BF16 };
  graft_error error = { 0 };

  g_assert_cmpint (output, >=, 0);
  g_assert_null (graft_plan_new (graph, &options, &error));
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error.message, "bf16"));
  if (!graft_plan_bf16_supported ())
    {
      options.kernels = GRAFT_PLAN_KERNELS_AUTO;
      g_assert_null (graft_plan_new (graph, &options, &error));
      g_assert_cmpint (error.status, ==, GRAFT_ERROR_UNSUPPORTED);
    }
  graft_graph_free (graph);
}

static void
test_skipped (gconstpointer reason)
{
  g_test_skip (reason);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/onednn/bf16/refused", test_bf16_refused);
#ifdef GRAFT_HAVE_ONEDNN
  if (!graft_onednn_available ())
    {
      g_test_add_data_func ("/engine/onednn/skipped", "oneDNN does not run blocked layouts on this CPU "
                            "(it has neither AVX2 nor AVX-512)", test_skipped);
      return g_test_run ();
    }
  g_test_add_func ("/engine/onednn/layout", test_layout);
  g_test_add_func ("/engine/onednn/conv", test_conv);
  g_test_add_func ("/engine/onednn/conv-split", test_conv_split);
  g_test_add_func ("/engine/onednn/conv-constant-weights", test_conv_constant_weights);
  g_test_add_func ("/engine/onednn/conv-scratch", test_conv_scratch);
  g_test_add_func ("/engine/onednn/batchnorm", test_batchnorm);
  g_test_add_func ("/engine/onednn/pool", test_pool);
  g_test_add_func ("/engine/onednn/mean-spatial", test_mean_spatial);
  g_test_add_func ("/engine/onednn/scale-channels", test_scale_channels);
  g_test_add_func ("/engine/onednn/concat", test_concat);
  g_test_add_func ("/engine/onednn/plan-layouts", test_plan_layouts);
  g_test_add_func ("/engine/onednn/plan-matches-portable", test_plan_matches_portable);
  g_test_add_func ("/engine/onednn/plan-deterministic", test_plan_deterministic);
  g_test_add_func ("/engine/onednn/plan-inference", test_plan_inference);
  g_test_add_func ("/engine/onednn/plan-edges", test_plan_edges);
  g_test_add_func ("/engine/onednn/plan-fused-backward", test_plan_fused_backward);
  g_test_add_func ("/engine/onednn/plan-convnext", test_plan_convnext);
  if (graft_onednn_bf16_available ())
    {
      g_test_add_func ("/engine/onednn/bf16/conv", test_bf16_conv);
      g_test_add_func ("/engine/onednn/bf16/step", test_bf16_step);
      g_test_add_func ("/engine/onednn/bf16/deterministic", test_bf16_deterministic);
    }
  else
    g_test_add_data_func ("/engine/onednn/bf16/skipped", "this CPU has neither AVX512_BF16 nor AMX "
                          "(oneDNN's effective ISA), so bf16 precision cannot run", test_skipped);
#else
  g_test_add_data_func ("/engine/onednn/skipped", "the engine is built without oneDNN (meson option onednn)",
                        test_skipped);
#endif
  return g_test_run ();
}
