/* test-engine-conv.c: Conv2d fast path against the double reference, the reference
 * against finite differences, gradient accumulation, NULL gradients, setup checks. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

typedef struct {
  const char *name;
  int n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
} conv_case;

static const conv_case fixed_cases[] = {
  /* name                      n  c   h   w   m  kh kw sh sw dh dw pt pl pb pr g */
  { "1x1 single",              1, 1,  1,  1,  1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "1x1 s1 direct",           2, 5,  7,  9,  3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "1x1 s1 direct big",       3, 8, 24, 25,  6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "1x1 s2",                  2, 4, 13, 13,  5, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1 },
  { "1x1 padded",              2, 3,  5,  4,  2, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1, 1 },
  { "3x3 s1 p1",               2, 3,  7,  7,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  { "3x3 s2 p1",               3, 3, 13, 13,  4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1 },
  { "3x3 s2 asym",             2, 2, 12, 11,  3, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 1 },
  { "7x7 s2 p3 stem",          2, 3, 17, 19,  4, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1 },
  { "3x2 strides 2,3",         2, 4, 11, 14,  3, 3, 2, 2, 3, 1, 1, 1, 0, 2, 1, 1 },
  { "dilated 3x3",             2, 3, 13, 11,  2, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, 1 },
  { "dilated strided",         2, 2, 15, 15,  2, 3, 3, 2, 2, 2, 2, 1, 0, 3, 2, 1 },
  { "kernel = input",          2, 3,  5,  4,  2, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "big pads",                1, 2,  3,  3,  2, 3, 3, 1, 1, 1, 1, 4, 3, 2, 5, 1 },
  { "groups 2",                2, 4,  9,  9,  6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "groups 3 1x1",            2, 6,  5,  7,  9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 3 },
  { "groups 2 s2 asym",        3, 6, 10,  9,  4, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, 2 },
  { "c 1 dense",               2, 1,  9,  8,  5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  { "dw 3x3 s1",               2, 5, 13, 13,  5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5 },
  { "dw 3x3 s2",               2, 5, 13, 13,  5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5 },
  { "dw 3x3 s2 even",          2, 3, 14, 12,  3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 3 },
  { "dw 3x3 s1 asym",          2, 3,  9, 10,  3, 3, 3, 1, 1, 1, 1, 0, 2, 2, 0, 3 },
  { "dw 3x3 s1 nopad",         1, 2,  7,  9,  2, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 2 },
  { "dw 3x3 s1 big pads",      1, 2,  4,  5,  2, 3, 3, 1, 1, 1, 1, 3, 4, 3, 2, 2 },
  { "dw 5x5 s1",               2, 3, 11, 12,  3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 3 },
  { "dw 5x5 s2",               2, 3, 15, 14,  3, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 3 },
  { "dw 3x3 tiny",             2, 4,  1,  1,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4 },
  { "dw 3x3 narrow",           1, 2, 13,  2,  2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "dw multiplier 2",         2, 3,  9,  9,  6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3 },
  { "dw multiplier 3 s2",      2, 2, 11,  9,  6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  { "dw dilated",              2, 3, 11, 11,  3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 3 },
  { "dw 3x1 s 1,2",            2, 3,  9, 10,  3, 3, 1, 1, 2, 1, 1, 1, 0, 1, 0, 3 },
  { "dw 7x7 s1",               1, 2, 12, 12,  4, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 2 },
  { "dw wide row",             1, 2,  3, 700, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "dw huge kernel",          1, 2, 40, 40,  2, 23, 23, 1, 1, 1, 1, 0, 0, 0, 0, 2 },
  { "dw 9x9 s2 mult 2",        1, 2, 20, 19,  4, 9, 9, 2, 2, 1, 1, 4, 3, 4, 2, 2 },
  { "dw too wide s1",          1, 2,  5, 1500, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "dw too wide s2",          1, 2,  6, 2100, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  { "dw tall s1 bands",        1, 2, 100, 100, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "dw tall s2 bands",        1, 2, 200, 60, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  { "dw 5x5 s1 bands mult",    1, 2, 90, 80,  4, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2 },
  { "dw s 2,1",                2, 3, 12, 11,  3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 3 },
  { "dw s 1,2 dilated",        2, 3, 12, 11,  3, 3, 3, 1, 2, 2, 2, 2, 1, 2, 1, 3 },
  { "dw s3 5x5",               2, 2, 17, 16,  2, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2 },
  { "dw s2 wide 3x3 mult",     1, 2, 9, 70,   4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  { "dw s2 dilated",           2, 2, 13, 40,  2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2 },
  { "dw stacks of 2, 2, 1",    5, 3, 40, 40,  3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3 },
  { "dw s2 stacks mult",       7, 2, 27, 25,  4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  { "dw 7x7 planes batch",     9, 4,  7,  7,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4 },
  { "dw tall narrow bands",    2, 2, 300, 12, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
  { "dw tall narrow 5x5 mult", 2, 2, 200, 17, 4, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2 },
  { "dw wrap asym pads",       2, 2, 9, 10,   2, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, 2 },
  { "dw wrap huge top pad",    1, 2, 5, 20,   2, 3, 3, 1, 1, 1, 1, 300, 1, 0, 1, 2 },
  { "dw wrap huge bottom pad", 1, 2, 5, 20,   2, 3, 3, 1, 1, 1, 1, 0, 1, 300, 1, 2 },
  { "dw huge pads s2",         1, 2, 4, 30,   2, 3, 3, 2, 2, 1, 1, 200, 1, 190, 1, 2 },
  { "dw s2 narrow tall bands", 1, 2, 400, 21, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  /* Stride-2 rows of 17 and 24 outputs: the weight gradient's dot products end with a
   * group of 16 lanes, or 16 + tail, where a group of 16 would read past the row. */
  { "dw s2 rows of 17",        2, 3, 9, 33,   3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3 },
  { "dw s2 rows of 24",        2, 3, 31, 47,  3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3 },
  /* dx of wide strided rows: 5x5 taps split into even and odd columns, an odd padded
   * row length, asymmetric pads; and a row stride of 2 with a column stride of 1. */
  { "dw 5x5 s2 wide asym",     2, 3, 9, 41,   3, 5, 5, 2, 2, 1, 1, 2, 1, 1, 2, 3 },
  { "dw s 2,1 wide",           1, 2, 9, 40,   2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 2 },
  /* Small planes: samples are batched into one GEMM, with a partial last batch. */
  { "batched 3x3 7x7",         5, 6,  7,  7,  8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  { "batched 1x1 20x20",       5, 6, 20, 20,  4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "batched 1x1 24x25",       3, 5, 24, 25,  4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "batched groups",          3, 4,  6,  6,  4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2 },
  /* 1x1 planes (squeeze-excite, a head on pooled features): one GEMM of the batch's rows. */
  { "rows 1x1 planes",         5, 12, 1,  1,  7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "rows wide",               3, 40, 1,  1, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  { "1x1 planes groups 2",     3, 6,  1,  1,  4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2 },
  /* Larger column matrices. */
  { "large 3x3 16 channels",   2, 16, 64, 64,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  { "large 5x5 s2 asym",       1, 8, 150, 151, 3, 5, 5, 2, 2, 1, 1, 2, 1, 0, 3, 1 },
  /* Large. */
  { "large 3x3",               2, 16, 36, 36, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  { "large dw 3x3 s2",         2, 24, 40, 40, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 24 },
  { "large dw 3x3 s1",         2, 24, 40, 41, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 24 },
};

static graft_conv2d_params
params_of (const conv_case *k)
{
  graft_conv2d_params p = {
    .n = k->n, .c = k->c, .h = k->h, .w = k->w, .m = k->m, .kh = k->kh, .kw = k->kw,
    .stride_h = k->sh, .stride_w = k->sw, .dilation_h = k->dh, .dilation_w = k->dw,
    .pad_top = k->pt, .pad_left = k->pl, .pad_bottom = k->pb, .pad_right = k->pr,
    .groups = k->groups,
  };
  return p;
}

/* Random valid shapes, odd sizes included. */
static conv_case
random_case (uint64_t *state)
{
  conv_case k = { .name = "random" };
  for (;;)
    {
      int kind = test_random_int (state, 0, 2);
      k.n = test_random_int (state, 1, 3);
      k.groups = kind == 0 ? 1 : test_random_int (state, 1, 4);
      k.c = k.groups * test_random_int (state, 1, kind == 2 ? 1 : 3);
      k.m = k.groups * test_random_int (state, 1, 3);
      if (kind == 2)
        k.groups = k.c;
      k.h = test_random_int (state, 1, 13);
      k.w = test_random_int (state, 1, 13);
      k.kh = test_random_int (state, 1, 5);
      k.kw = test_random_int (state, 1, 5);
      k.sh = test_random_int (state, 1, 3);
      k.sw = test_random_int (state, 1, 3);
      k.dh = test_random_int (state, 1, 2);
      k.dw = test_random_int (state, 1, 2);
      k.pt = test_random_int (state, 0, 3);
      k.pl = test_random_int (state, 0, 3);
      k.pb = test_random_int (state, 0, 3);
      k.pr = test_random_int (state, 0, 3);
      if (k.h + k.pt + k.pb >= k.dh * (k.kh - 1) + 1 && k.w + k.pl + k.pr >= k.dw * (k.kw - 1) + 1)
        return k;
    }
}

/* Tensors of one case: doubles for the reference, the same values as floats. */
typedef struct {
  graft_conv2d_params p;
  size_t nx, nw, ny, nb, nscratch;
  double *x, *w, *b, *r;
  float *xf, *wf, *bf, *rf, *scratch;
} conv_data;

static void
conv_data_init (conv_data *d, const conv_case *k, uint64_t seed)
{
  graft_error error;

  memset (d, 0, sizeof *d);
  d->p = params_of (k);
  if (graft_conv2d_setup (&d->p, &error) != GRAFT_OK)
    g_error ("%s: setup failed: %s", k->name, error.message);
  d->nx = (size_t) d->p.n * d->p.c * d->p.h * d->p.w;
  d->nw = (size_t) d->p.m * (d->p.c / d->p.groups) * d->p.kh * d->p.kw;
  d->ny = (size_t) d->p.n * d->p.m * d->p.oh * d->p.ow;
  d->nb = (size_t) d->p.m;
  d->nscratch = graft_conv2d_scratch_floats (&d->p);
  g_assert_cmpuint (d->nscratch, !=, SIZE_MAX);
  d->x = test_doubles (d->nx);
  d->w = test_doubles (d->nw);
  d->b = test_doubles (d->nb);
  d->r = test_doubles (d->ny);
  test_fill_uniform (d->x, d->nx, seed, -1, 1);
  test_fill_uniform (d->w, d->nw, seed + 1, -1, 1);
  test_fill_uniform (d->b, d->nb, seed + 2, -1, 1);
  test_fill_uniform (d->r, d->ny, seed + 3, -1, 1);
  d->xf = test_floats (d->nx);
  d->wf = test_floats (d->nw);
  d->bf = test_floats (d->nb);
  d->rf = test_floats (d->ny);
  test_to_float (d->x, d->xf, d->nx);
  test_to_float (d->w, d->wf, d->nw);
  test_to_float (d->b, d->bf, d->nb);
  test_to_float (d->r, d->rf, d->ny);
  /* The reference sees exactly the float values. */
  test_to_double (d->xf, d->x, d->nx);
  test_to_double (d->wf, d->w, d->nw);
  test_to_double (d->bf, d->b, d->nb);
  test_to_double (d->rf, d->r, d->ny);
  /* Scratch holds garbage: the fast path must not rely on its contents. */
  d->scratch = graft_floats_alloc (d->nscratch);
  g_assert_nonnull (d->scratch);
  for (size_t i = 0; i < d->nscratch; i++)
    d->scratch[i] = NAN;
}

static void
conv_data_clear (conv_data *d)
{
  g_free (d->x);
  g_free (d->w);
  g_free (d->b);
  g_free (d->r);
  g_free (d->xf);
  g_free (d->wf);
  g_free (d->bf);
  g_free (d->rf);
  graft_floats_free (d->scratch);
}

/* Absolute tolerance for a float sum of `terms` products of values in [-1, 1]. */
static double
tolerance (size_t terms)
{
  return 2e-6 * (1.0 + sqrt ((double) terms)) + 1e-7 * (double) terms;
}

static void
check_forward (const conv_case *k, uint64_t seed)
{
  conv_data d;
  conv_data_init (&d, k, seed);
  size_t terms = (size_t) (d.p.c / d.p.groups) * d.p.kh * d.p.kw;
  double *want = test_doubles (d.ny);
  float *got = test_floats (d.ny);
  char what[160];

  for (int with_bias = 0; with_bias < 2; with_bias++)
    {
      for (size_t i = 0; i < d.ny; i++)
        got[i] = NAN;
      graft_conv2d_forward_reference (&d.p, d.x, d.w, with_bias ? d.b : NULL, want);
      graft_conv2d_forward (&d.p, d.xf, d.wf, with_bias ? d.bf : NULL, got, d.scratch);
      g_snprintf (what, sizeof what, "%s forward%s", k->name, with_bias ? " with bias" : "");
      test_assert_close (what, got, want, d.ny, tolerance (terms), 1e-5);
    }
  g_free (want);
  g_free (got);
  conv_data_clear (&d);
}

static void
test_forward (void)
{
  uint64_t state = 42;

  for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
    check_forward (&fixed_cases[i], 100 + i);
  for (int i = 0; i < 60; i++)
    {
      conv_case k = random_case (&state);
      check_forward (&k, 1000 + i);
    }
}

/* Finite differences of the reference: loss = dot (forward (x, w, b), r). */
typedef struct {
  conv_data *d;
  double *y;
} loss_ctx;

static double
reference_loss (void *data)
{
  loss_ctx *ctx = data;
  graft_conv2d_forward_reference (&ctx->d->p, ctx->d->x, ctx->d->w, ctx->d->b, ctx->y);
  return test_dot (ctx->y, ctx->d->r, ctx->d->ny);
}

static void
check_gradient (const conv_case *k, uint64_t seed)
{
  conv_data d;
  conv_data_init (&d, k, seed);
  double *dx = test_doubles (d.nx), *dw = test_doubles (d.nw), *db = test_doubles (d.nb);
  loss_ctx ctx = { &d, test_doubles (d.ny) };
  char what[160];

  graft_conv2d_backward_reference (&d.p, d.x, d.w, d.r, dx, dw, db);
  g_snprintf (what, sizeof what, "%s dx", k->name);
  test_check_gradient (what, d.x, d.nx, dx, reference_loss, &ctx, 1e-6, 1e-6);
  g_snprintf (what, sizeof what, "%s dw", k->name);
  test_check_gradient (what, d.w, d.nw, dw, reference_loss, &ctx, 1e-6, 1e-6);
  g_snprintf (what, sizeof what, "%s dbias", k->name);
  test_check_gradient (what, d.b, d.nb, db, reference_loss, &ctx, 1e-6, 1e-6);
  g_free (dx);
  g_free (dw);
  g_free (db);
  g_free (ctx.y);
  conv_data_clear (&d);
}

static void
test_gradcheck (void)
{
  static const conv_case cases[] = {
    /* name                n  c  h  w  m  kh kw sh sw dh dw pt pl pb pr g */
    { "grad 3x3",          2, 2, 5, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
    { "grad strided asym", 2, 2, 7, 6, 2, 3, 2, 2, 3, 1, 1, 0, 1, 2, 1, 1 },
    { "grad dilated",      1, 2, 7, 7, 2, 3, 3, 2, 1, 2, 2, 1, 2, 1, 0, 1 },
    { "grad groups",       2, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2 },
    { "grad depthwise",    2, 3, 6, 5, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 3 },
    { "grad 1x1",          2, 3, 3, 4, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    check_gradient (&cases[i], 200 + i);
}

/* Fast backward against the reference, with gradients pre-filled (accumulation). */
static void
check_backward (const conv_case *k, uint64_t seed, bool prefill)
{
  conv_data d;
  conv_data_init (&d, k, seed);
  double *dx = test_doubles (d.nx), *dw = test_doubles (d.nw), *db = test_doubles (d.nb);
  float *dxf = test_floats (d.nx), *dwf = test_floats (d.nw), *dbf = test_floats (d.nb);
  size_t terms_x = (size_t) d.p.m / d.p.groups * d.p.kh * d.p.kw;
  size_t terms_w = (size_t) d.p.n * d.p.oh * d.p.ow;
  char what[160];

  if (prefill)
    {
      test_fill_uniform_float (dxf, d.nx, seed + 10, -2, 2);
      test_fill_uniform_float (dwf, d.nw, seed + 11, -2, 2);
      test_fill_uniform_float (dbf, d.nb, seed + 12, -2, 2);
      test_to_double (dxf, dx, d.nx);
      test_to_double (dwf, dw, d.nw);
      test_to_double (dbf, db, d.nb);
    }
  graft_conv2d_backward_reference (&d.p, d.x, d.w, d.r, dx, dw, db);
  graft_conv2d_backward (&d.p, d.xf, d.wf, d.rf, dxf, dwf, dbf, d.scratch);
  g_snprintf (what, sizeof what, "%s dx%s", k->name, prefill ? " accumulated" : "");
  test_assert_close (what, dxf, dx, d.nx, tolerance (terms_x) + 1e-6, 1e-5);
  g_snprintf (what, sizeof what, "%s dw%s", k->name, prefill ? " accumulated" : "");
  test_assert_close (what, dwf, dw, d.nw, tolerance (terms_w) + 1e-6, 1e-5);
  g_snprintf (what, sizeof what, "%s dbias%s", k->name, prefill ? " accumulated" : "");
  test_assert_close (what, dbf, db, d.nb, tolerance (terms_w) + 1e-6, 1e-5);
  g_free (dx);
  g_free (dw);
  g_free (db);
  g_free (dxf);
  g_free (dwf);
  g_free (dbf);
  conv_data_clear (&d);
}

static void
test_backward (void)
{
  uint64_t state = 4242;

  for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
    check_backward (&fixed_cases[i], 300 + i, false);
  for (int i = 0; i < 60; i++)
    {
      conv_case k = random_case (&state);
      check_backward (&k, 3000 + i, false);
    }
}

static void
test_accumulate (void)
{
  uint64_t state = 777;

  for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
    check_backward (&fixed_cases[i], 400 + i, true);
  for (int i = 0; i < 20; i++)
    {
      conv_case k = random_case (&state);
      check_backward (&k, 4000 + i, true);
    }
}

/* backward_set_dx overwrites every element of dx (here NaN before), with the bits
 * backward adds to a zeroed dx; dw and dbias still accumulate. */
static void
check_set_dx (const conv_case *k, uint64_t seed)
{
  conv_data d;
  conv_data_init (&d, k, seed);
  float *dx_add = test_floats (d.nx), *dx_set = test_floats (d.nx);
  float *dw_add = test_floats (d.nw), *dw_set = test_floats (d.nw);
  float *db_add = test_floats (d.nb), *db_set = test_floats (d.nb);
  double *want = test_doubles (MAX (d.nx, MAX (d.nw, d.nb)));
  char what[160];

  for (size_t i = 0; i < d.nx; i++)
    {
      dx_add[i] = 0.0f;
      dx_set[i] = NAN;
    }
  test_fill_uniform_float (dw_add, d.nw, seed + 30, -1, 1);
  test_fill_uniform_float (dw_set, d.nw, seed + 30, -1, 1);
  test_fill_uniform_float (db_add, d.nb, seed + 31, -1, 1);
  test_fill_uniform_float (db_set, d.nb, seed + 31, -1, 1);
  graft_conv2d_backward (&d.p, d.xf, d.wf, d.rf, dx_add, dw_add, db_add, d.scratch);
  graft_conv2d_backward_set_dx (&d.p, d.xf, d.wf, d.rf, dx_set, dw_set, db_set, d.scratch);
  g_snprintf (what, sizeof what, "%s set_dx dx", k->name);
  test_to_double (dx_add, want, d.nx);
  test_assert_close (what, dx_set, want, d.nx, 0, 0);
  g_snprintf (what, sizeof what, "%s set_dx dw", k->name);
  test_to_double (dw_add, want, d.nw);
  test_assert_close (what, dw_set, want, d.nw, 0, 0);
  g_snprintf (what, sizeof what, "%s set_dx dbias", k->name);
  test_to_double (db_add, want, d.nb);
  test_assert_close (what, db_set, want, d.nb, 0, 0);
  g_free (dx_add); g_free (dx_set); g_free (dw_add); g_free (dw_set); g_free (db_add); g_free (db_set);
  g_free (want);
  conv_data_clear (&d);
}

static void
test_set_dx (void)
{
  uint64_t state = 4242;

  for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
    check_set_dx (&fixed_cases[i], 700 + i);
  for (int i = 0; i < 30; i++)
    {
      conv_case k = random_case (&state);
      check_set_dx (&k, 7000 + i);
    }
}

/* Every subset of NULL gradients: the others get the same values as with all three,
 * and x (or w) is not read when only the gradient that does not need it is asked for. */
static void
check_null_gradients (const conv_case *k, uint64_t seed)
{
  conv_data d;
  conv_data_init (&d, k, seed);
  float *full[3], *part[3];
  size_t sizes[3] = { d.nx, d.nw, d.nb };
  char what[160];

  for (int i = 0; i < 3; i++)
    {
      full[i] = test_floats (sizes[i]);
      part[i] = test_floats (sizes[i]);
      test_fill_uniform_float (full[i], sizes[i], seed + 20 + i, -1, 1);
    }
  graft_conv2d_backward (&d.p, d.xf, d.wf, d.rf, full[0], full[1], full[2], d.scratch);
  for (int mask = 0; mask < 8; mask++)
    {
      for (int i = 0; i < 3; i++)
        test_fill_uniform_float (part[i], sizes[i], seed + 20 + i, -1, 1);
      graft_conv2d_backward (&d.p, (mask & 2) ? d.xf : NULL, (mask & 1) ? d.wf : NULL, d.rf,
                             (mask & 1) ? part[0] : NULL, (mask & 2) ? part[1] : NULL,
                             (mask & 4) ? part[2] : NULL, d.scratch);
      for (int i = 0; i < 3; i++)
        {
          double *want = test_doubles (sizes[i]);
          if (mask & (1 << i))
            test_to_double (full[i], want, sizes[i]);   /* same operations, same bits */
          else
            {
              /* Not asked for: untouched. */
              float *initial = test_floats (sizes[i]);
              test_fill_uniform_float (initial, sizes[i], seed + 20 + i, -1, 1);
              test_to_double (initial, want, sizes[i]);
              g_free (initial);
            }
          g_snprintf (what, sizeof what, "%s mask %d gradient %d", k->name, mask, i);
          test_assert_close (what, part[i], want, sizes[i], 0, 0);
          g_free (want);
        }
    }
  for (int i = 0; i < 3; i++)
    {
      g_free (full[i]);
      g_free (part[i]);
    }
  conv_data_clear (&d);
}

static void
test_null_gradients (void)
{
  static const char *names[] = {
    "3x3 s2 p1", "1x1 s1 direct", "dw 3x3 s1", "dw multiplier 3 s2", "batched 3x3 7x7",
    "groups 2 s2 asym",
  };

  for (size_t j = 0; j < G_N_ELEMENTS (names); j++)
    for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
      if (strcmp (fixed_cases[i].name, names[j]) == 0)
        check_null_gradients (&fixed_cases[i], 500 + i);
}

/* Depthwise loops are ours: the same bits whatever the thread count. */
static void
test_thread_determinism (void)
{
  static const char *names[] = { "large dw 3x3 s1", "large dw 3x3 s2", "dw multiplier 2" };
  int saved = graft_get_num_threads ();

  for (size_t j = 0; j < G_N_ELEMENTS (names); j++)
    for (size_t i = 0; i < G_N_ELEMENTS (fixed_cases); i++)
      if (strcmp (fixed_cases[i].name, names[j]) == 0)
        {
          conv_data d;
          conv_data_init (&d, &fixed_cases[i], 600 + i);
          float *dx[2], *dw[2], *db[2], *y[2];
          for (int t = 0; t < 2; t++)
            {
              graft_set_num_threads (t == 0 ? 1 : 3);
              y[t] = test_floats (d.ny);
              dx[t] = test_floats (d.nx);
              dw[t] = test_floats (d.nw);
              db[t] = test_floats (d.nb);
              graft_conv2d_forward (&d.p, d.xf, d.wf, d.bf, y[t], d.scratch);
              graft_conv2d_backward (&d.p, d.xf, d.wf, d.rf, dx[t], dw[t], db[t], d.scratch);
            }
          g_assert_true (memcmp (y[0], y[1], d.ny * sizeof (float)) == 0);
          g_assert_true (memcmp (dx[0], dx[1], d.nx * sizeof (float)) == 0);
          g_assert_true (memcmp (dw[0], dw[1], d.nw * sizeof (float)) == 0);
          g_assert_true (memcmp (db[0], db[1], d.nb * sizeof (float)) == 0);
          for (int t = 0; t < 2; t++)
            {
              g_free (y[t]);
              g_free (dx[t]);
              g_free (dw[t]);
              g_free (db[t]);
            }
          conv_data_clear (&d);
        }
  graft_set_num_threads (saved);
}

static void
expect_setup_error (graft_conv2d_params p, graft_status expected, const char *what)
{
  graft_error error;
  graft_status status;

  graft_error_clear (&error);
  status = graft_conv2d_setup (&p, &error);
  if (status != expected)
    g_error ("setup of %s returned \"%s\", expected \"%s\" (%s)", what, graft_status_name (status),
             graft_status_name (expected), error.message);
  g_assert_cmpint (error.status, ==, expected);
  g_assert_cmpuint (strlen (error.message), >, 0);
  g_test_message ("%s: %s", what, error.message);
}

static void
test_setup (void)
{
  graft_conv2d_params good = {
    .n = 2, .c = 4, .h = 10, .w = 9, .m = 6, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 1,
    .dilation_h = 1, .dilation_w = 2, .pad_top = 1, .pad_left = 0, .pad_bottom = 0, .pad_right = 2,
    .groups = 2,
  };
  graft_conv2d_params p = good, q;
  graft_error error;

  g_assert_cmpint (graft_conv2d_setup (&p, &error), ==, GRAFT_OK);
  g_assert_cmpint (p.oh, ==, 5);   /* (10 + 1 - 3) / 2 + 1 */
  g_assert_cmpint (p.ow, ==, 7);   /* (9 + 2 - 5) / 1 + 1 */
  g_assert_cmpuint (graft_conv2d_scratch_floats (&p), !=, SIZE_MAX);

  /* Every field below its minimum. */
#define BAD(field, value, status)                \
  q = good;                                      \
  q.field = value;                               \
  expect_setup_error (q, status, #field " = " #value)
  BAD (n, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (n, -1, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (c, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (h, -3, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (w, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (m, -6, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (kh, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (kw, -1, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (stride_h, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (stride_w, -2, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (dilation_h, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (dilation_w, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (pad_top, -1, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (pad_left, -1, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (pad_bottom, INT_MIN, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (pad_right, -5, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (groups, 0, GRAFT_ERROR_INVALID_ARGUMENT);
  BAD (groups, -2, GRAFT_ERROR_INVALID_ARGUMENT);
  /* Groups must divide both channel counts. */
  BAD (groups, 3, GRAFT_ERROR_SHAPE);
  BAD (m, 5, GRAFT_ERROR_SHAPE);
  BAD (c, 3, GRAFT_ERROR_SHAPE);
  /* Kernel larger than the padded input. */
  BAD (kh, 12, GRAFT_ERROR_SHAPE);
  BAD (dilation_w, 6, GRAFT_ERROR_SHAPE);
  /* Sizes that overflow. */
  BAD (dilation_h, INT_MAX, GRAFT_ERROR_OVERFLOW);
  BAD (pad_top, INT_MAX, GRAFT_ERROR_OVERFLOW);
#undef BAD
  q = good;
  q.n = INT_MAX, q.c = INT_MAX - 1, q.h = 1 << 20, q.w = 1 << 20, q.groups = 1;
  expect_setup_error (q, GRAFT_ERROR_OVERFLOW, "huge input");
  q = good;
  q.n = 1, q.m = 1 << 30, q.h = 1 << 20, q.w = 1 << 20, q.groups = 1;
  expect_setup_error (q, GRAFT_ERROR_OVERFLOW, "huge output");
  q = good;
  q.n = 1, q.c = 1 << 20, q.h = 1 << 12, q.w = 1 << 12, q.m = 1 << 30, q.kh = 1 << 12, q.kw = 1 << 12,
  q.dilation_w = 1, q.groups = 1;
  expect_setup_error (q, GRAFT_ERROR_OVERFLOW, "huge weight");

  /* The scratch of unvalidated params is SIZE_MAX, not a crash. */
  q = good;
  q.oh = 0;
  g_assert_cmpuint (graft_conv2d_scratch_floats (&q), ==, SIZE_MAX);
  q = good;
  q.groups = 0;
  g_assert_cmpuint (graft_conv2d_scratch_floats (&q), ==, SIZE_MAX);
  /* Depthwise needs no scratch. */
  q = good;
  q.groups = 4, q.m = 8;
  g_assert_cmpint (graft_conv2d_setup (&q, &error), ==, GRAFT_OK);
  g_assert_cmpuint (graft_conv2d_scratch_floats (&q), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/conv/setup", test_setup);
  g_test_add_func ("/engine/conv/forward", test_forward);
  g_test_add_func ("/engine/conv/gradcheck", test_gradcheck);
  g_test_add_func ("/engine/conv/backward", test_backward);
  g_test_add_func ("/engine/conv/accumulate", test_accumulate);
  g_test_add_func ("/engine/conv/set-dx", test_set_dx);
  g_test_add_func ("/engine/conv/null-gradients", test_null_gradients);
  g_test_add_func ("/engine/conv/thread-determinism", test_thread_determinism);
  return g_test_run ();
}
