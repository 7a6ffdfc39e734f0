/* Tests of layout.c: Concat, Transpose and Slice against the double-precision
 * references, finite differences, and hand-computed permutations and ranges. */
#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Concat                                                                    */

typedef struct {
  int n_inputs;
  size_t outer;
  size_t inner[5];
} concat_case;

static const concat_case concat_cases[] = {
  { 1, 1, { 1 } },
  { 2, 3, { 7, 13 } },
  { 3, 7, { 1, 3, 7 } },
  { 3, 13, { 5, 0, 3 } },  /* an empty input */
  { 5, 2, { 13, 1, 7, 3, 2 } },
  { 2, 1, { 64 * 56 * 56, 64 * 56 * 56 } },  /* batch 1: the threads split the inputs */
  { 4, 8, { 128 * 28 * 28, 32 * 28 * 28, 32 * 28 * 28, 32 * 28 * 28 } },  /* DenseNet-like */
};

static size_t
concat_total (const concat_case *k)
{
  size_t total = 0;
  for (int i = 0; i < k->n_inputs; i++)
    total += k->inner[i];
  return total;
}

static void
test_concat_forward (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (concat_cases); c++)
    {
      const concat_case *k = &concat_cases[c];
      size_t count = k->outer * concat_total (k);
      float *xs[5];
      double *xds[5];
      float *y = test_floats (count);
      double *yd = test_doubles (count);

      for (int i = 0; i < k->n_inputs; i++)
        {
          size_t n = k->outer * k->inner[i];
          xds[i] = test_doubles (n);
          xs[i] = test_floats (n);
          test_fill_uniform (xds[i], n, 10 * c + i, -1, 1);
          test_to_float (xds[i], xs[i], n);
          test_to_double (xs[i], xds[i], n);
        }
      graft_concat_forward (k->n_inputs, k->outer, k->inner, (const float *const *) xs, y);
      graft_concat_forward_reference (k->n_inputs, k->outer, k->inner, (const double *const *) xds, yd);
      test_assert_close ("concat forward", y, yd, count, 0, 0);
      for (int i = 0; i < k->n_inputs; i++)
        {
          g_free (xs[i]);
          g_free (xds[i]);
        }
      g_free (y);
      g_free (yd);
    }
  /* No inputs, or no rows: nothing happens. */
  graft_concat_forward (0, 5, NULL, NULL, NULL);
  graft_concat_forward (2, 0, concat_cases[1].inner, NULL, NULL);
}

typedef struct {
  const concat_case *k;
  double **xs;
  double *y;
  const double *r;
} concat_ctx;

static double
concat_loss (void *data)
{
  concat_ctx *ctx = data;
  graft_concat_forward_reference (ctx->k->n_inputs, ctx->k->outer, ctx->k->inner,
                                  (const double *const *) ctx->xs, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->k->outer * concat_total (ctx->k));
}

static void
test_concat_gradient (void)
{
  for (size_t c = 0; c < 5; c++)
    {
      const concat_case *k = &concat_cases[c];
      size_t count = k->outer * concat_total (k);
      double *xs[5], *dxs[5];
      double *y = test_doubles (count), *r = test_doubles (count);
      concat_ctx ctx = { k, xs, y, r };

      test_fill_uniform (r, count, 100 + c, -1, 1);
      for (int i = 0; i < k->n_inputs; i++)
        {
          size_t n = k->outer * k->inner[i];
          xs[i] = test_doubles (n);
          dxs[i] = test_doubles (n);
          test_fill_uniform (xs[i], n, 200 + 10 * c + i, -1, 1);
        }
      graft_concat_backward_reference (k->n_inputs, k->outer, k->inner, r, dxs);
      for (int i = 0; i < k->n_inputs; i++)
        test_check_gradient ("concat reference", xs[i], k->outer * k->inner[i], dxs[i], concat_loss, &ctx,
                             1e-6, 1e-6);
      for (int i = 0; i < k->n_inputs; i++)
        {
          g_free (xs[i]);
          g_free (dxs[i]);
        }
      g_free (y);
      g_free (r);
    }
}

/* Fast vs reference backward onto prefilled gradients, first with every gradient,
 * then with input 1 NULL: the others get the same values. */
static void
test_concat_backward (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (concat_cases); c++)
    for (int skip = -1; skip < 2; skip += 2)
      {
        const concat_case *k = &concat_cases[c];
        size_t count = k->outer * concat_total (k);
        float *dxs[5], *dy = test_floats (count), *dy_copy;
        double *dxds[5], *dyd = test_doubles (count);

        test_fill_uniform (dyd, count, 300 + c, -1, 1);
        test_to_float (dyd, dy, count);
        test_to_double (dy, dyd, count);
        dy_copy = g_memdup2 (dy, count * sizeof *dy);
        for (int i = 0; i < k->n_inputs; i++)
          {
            size_t n = k->outer * k->inner[i];
            dxs[i] = NULL;
            dxds[i] = NULL;
            if (i == skip)
              continue;
            dxs[i] = test_floats (n);
            dxds[i] = test_doubles (n);
            test_fill_uniform (dxds[i], n, 400 + 10 * c + i, -2, 2);
            test_to_float (dxds[i], dxs[i], n);
            test_to_double (dxs[i], dxds[i], n);
          }
        graft_concat_backward (k->n_inputs, k->outer, k->inner, dy, dxs);
        graft_concat_backward_reference (k->n_inputs, k->outer, k->inner, dyd, dxds);
        for (int i = 0; i < k->n_inputs; i++)
          if (dxs[i] != NULL)
            test_assert_close ("concat backward", dxs[i], dxds[i], k->outer * k->inner[i], 1e-6, 1e-6);
        g_assert_cmpmem (dy, count * sizeof *dy, dy_copy, count * sizeof *dy);
        for (int i = 0; i < k->n_inputs; i++)
          {
            g_free (dxs[i]);
            g_free (dxds[i]);
          }
        g_free (dy);
        g_free (dyd);
        g_free (dy_copy);
      }
}

/* ------------------------------------------------------------------------ */
/* Transpose                                                                 */

static graft_transpose_params
make_transpose (int rank, const int64_t *dims, const int *perm)
{
  graft_transpose_params p = { .x = graft_shape_make (rank, dims) };
  graft_error error;

  for (int k = 0; k < rank; k++)
    p.perm[k] = perm[k];
  graft_error_clear (&error);
  if (graft_transpose_setup (&p, &error) != GRAFT_OK)
    g_error ("transpose setup failed: %s", error.message);
  return p;
}

static size_t
shape_count (const graft_shape *s)
{
  size_t count = 1;
  for (int k = 0; k < s->rank; k++)
    count *= (size_t) s->dims[k];
  return count;
}

static void
random_perm (uint64_t *state, int rank, int *perm)
{
  for (int k = 0; k < rank; k++)
    perm[k] = k;
  for (int k = rank - 1; k > 0; k--)
    {
      int j = test_random_int (state, 0, k);
      int t = perm[k];
      perm[k] = perm[j];
      perm[j] = t;
    }
}

/* Random rank 0..6, sizes from {1, 2, 3, 5, 7, 13}, at most max_count elements. */
static graft_transpose_params
random_transpose (uint64_t *state, size_t max_count)
{
  static const int64_t sizes[] = { 1, 2, 3, 5, 7, 13 };
  int64_t dims[GRAFT_MAX_RANK];
  int perm[GRAFT_MAX_RANK];
  int rank = test_random_int (state, 0, GRAFT_MAX_RANK);
  size_t count = 1;

  for (int k = 0; k < rank; k++)
    {
      do
        dims[k] = sizes[test_random_int (state, 0, G_N_ELEMENTS (sizes) - 1)];
      while (count * (size_t) dims[k] > max_count && dims[k] > 1);
      count *= (size_t) dims[k];
    }
  random_perm (state, rank, perm);
  return make_transpose (rank, dims, perm);
}

/* Bigger cases the fast paths are for. */
static const struct {
  int rank;
  int64_t dims[GRAFT_MAX_RANK];
  int perm[GRAFT_MAX_RANK];
} transpose_cases[] = {
  { 4, { 8, 56, 56, 64 }, { 0, 3, 1, 2 } },        /* NHWC -> NCHW */
  { 4, { 8, 64, 56, 56 }, { 0, 2, 3, 1 } },        /* NCHW -> NHWC */
  { 4, { 1, 3, 224, 224 }, { 0, 2, 3, 1 } },
  { 5, { 4, 2, 58, 28, 28 }, { 0, 2, 1, 3, 4 } },  /* ShuffleNet channel shuffle */
  { 5, { 1, 4, 60, 7, 7 }, { 0, 2, 1, 3, 4 } },
  { 2, { 1000, 777 }, { 1, 0 } },
  { 5, { 3, 5, 7, 11, 13 }, { 4, 2, 0, 3, 1 } },
  { 6, { 2, 3, 4, 5, 6, 7 }, { 5, 4, 3, 2, 1, 0 } },
  { 6, { 3, 1, 4, 1, 5, 9 }, { 1, 3, 0, 2, 4, 5 } },
  { 3, { 3, 0, 5 }, { 2, 0, 1 } },                 /* empty */
};

static void
check_transpose_forward (const graft_transpose_params *p, uint64_t seed)
{
  size_t count = shape_count (&p->x);
  double *xd = test_doubles (count), *yd = test_doubles (count);
  float *x = test_floats (count), *y = test_floats (count);

  test_fill_uniform (xd, count, seed, -1, 1);
  test_to_float (xd, x, count);
  test_to_double (x, xd, count);
  graft_transpose_forward (p, x, y);
  graft_transpose_forward_reference (p, xd, yd);
  test_assert_close ("transpose forward", y, yd, count, 0, 0);
  g_free (xd);
  g_free (yd);
  g_free (x);
  g_free (y);
}

static void
check_transpose_backward (const graft_transpose_params *p, uint64_t seed)
{
  size_t count = shape_count (&p->x);
  double *dyd = test_doubles (count), *dxd = test_doubles (count);
  float *dy = test_floats (count), *dx = test_floats (count), *dy_copy;

  test_fill_uniform (dyd, count, seed, -1, 1);
  test_to_float (dyd, dy, count);
  test_to_double (dy, dyd, count);
  /* Prefilled: backward accumulates. */
  test_fill_uniform (dxd, count, seed + 1, -2, 2);
  test_to_float (dxd, dx, count);
  test_to_double (dx, dxd, count);
  dy_copy = g_memdup2 (dy, count * sizeof *dy);
  graft_transpose_backward (p, dy, dx);
  graft_transpose_backward_reference (p, dyd, dxd);
  test_assert_close ("transpose backward", dx, dxd, count, 1e-6, 1e-6);
  graft_transpose_backward (p, dy, NULL);
  graft_transpose_backward_reference (p, dyd, NULL);
  g_assert_cmpmem (dy, count * sizeof *dy, dy_copy, count * sizeof *dy);
  g_free (dyd);
  g_free (dxd);
  g_free (dy);
  g_free (dx);
  g_free (dy_copy);
}

static void
test_transpose_setup (void)
{
  static const struct {
    int rank;
    int64_t dims[GRAFT_MAX_RANK];
    int perm[GRAFT_MAX_RANK];
  } bad[] = {
    { 3, { 2, 3, 4 }, { 0, 1, 3 } },     /* out of range */
    { 3, { 2, 3, 4 }, { 0, -1, 2 } },
    { 3, { 2, 3, 4 }, { 0, 1, 1 } },     /* not a permutation */
    { 2, { 2, -3 }, { 1, 0 } },          /* negative dim */
    { 4, { 1 << 20, 1 << 20, 1 << 20, 1 << 20 }, { 3, 2, 1, 0 } },  /* overflow */
  };
  graft_transpose_params p;
  graft_error error;

  p = make_transpose (4, (const int64_t[]) { 2, 3, 5, 7 }, (const int[]) { 0, 3, 1, 2 });
  g_assert_cmpint (p.y.rank, ==, 4);
  g_assert_cmpint (p.y.dims[0], ==, 2);
  g_assert_cmpint (p.y.dims[1], ==, 7);
  g_assert_cmpint (p.y.dims[2], ==, 3);
  g_assert_cmpint (p.y.dims[3], ==, 5);

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      graft_status status;
      p = (graft_transpose_params) { .x = graft_shape_make (bad[i].rank, bad[i].dims) };
      memcpy (p.perm, bad[i].perm, sizeof p.perm);
      graft_error_clear (&error);
      status = graft_transpose_setup (&p, &error);
      if (status == GRAFT_OK)
        g_error ("bad transpose %zu was accepted", i);
      g_assert_cmpint (error.status, ==, status);
      g_assert_cmpuint (strlen (error.message), >, 0);
      g_assert_cmpint (graft_transpose_setup (&p, NULL), ==, status);
    }
  /* Rank 7 is too many. */
  p = (graft_transpose_params) { .x = { .rank = 7 } };
  g_assert_cmpint (graft_transpose_setup (&p, &error), !=, GRAFT_OK);
  p = (graft_transpose_params) { .x = { .rank = -1 } };
  g_assert_cmpint (graft_transpose_setup (&p, &error), !=, GRAFT_OK);
}

static void
test_transpose_forward (void)
{
  uint64_t state = 42;
  for (int i = 0; i < 300; i++)
    {
      graft_transpose_params p = random_transpose (&state, 5000);
      check_transpose_forward (&p, 1000 + i);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (transpose_cases); i++)
    {
      graft_transpose_params p = make_transpose (transpose_cases[i].rank, transpose_cases[i].dims,
                                                 transpose_cases[i].perm);
      check_transpose_forward (&p, 2000 + i);
    }
}

typedef struct {
  const graft_transpose_params *p;
  double *x, *y;
  const double *r;
} transpose_ctx;

static double
transpose_loss (void *data)
{
  transpose_ctx *ctx = data;
  graft_transpose_forward_reference (ctx->p, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, shape_count (&ctx->p->y));
}

static void
test_transpose_gradient (void)
{
  uint64_t state = 43;
  for (int i = 0; i < 30; i++)
    {
      graft_transpose_params p = random_transpose (&state, 300);
      size_t count = shape_count (&p.x);
      double *x = test_doubles (count), *y = test_doubles (count);
      double *r = test_doubles (count), *dx = test_doubles (count);
      transpose_ctx ctx = { &p, x, y, r };

      test_fill_uniform (x, count, 3000 + i, -1, 1);
      test_fill_uniform (r, count, 4000 + i, -1, 1);
      graft_transpose_backward_reference (&p, r, dx);
      test_check_gradient ("transpose reference", x, count, dx, transpose_loss, &ctx, 1e-6, 1e-6);
      g_free (x);
      g_free (y);
      g_free (r);
      g_free (dx);
    }
}

static void
test_transpose_backward (void)
{
  uint64_t state = 44;
  for (int i = 0; i < 300; i++)
    {
      graft_transpose_params p = random_transpose (&state, 5000);
      check_transpose_backward (&p, 5000 + 2 * i);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (transpose_cases); i++)
    {
      graft_transpose_params p = make_transpose (transpose_cases[i].rank, transpose_cases[i].dims,
                                                 transpose_cases[i].perm);
      check_transpose_backward (&p, 6000 + 2 * i);
    }
}

/* ShuffleNet: (N, g, C/g, H, W) with perm (0, 2, 1, 3, 4) interleaves the groups. */
static void
test_channel_shuffle (void)
{
  /* g = 2, C/g = 3: output channel k comes from input channel order[k]. */
  static const int order[] = { 0, 3, 1, 4, 2, 5 };
  graft_transpose_params p = make_transpose (5, (const int64_t[]) { 2, 2, 3, 5, 7 }, (const int[]) { 0, 2, 1, 3, 4 });
  float x[2 * 6 * 35], y[2 * 6 * 35], dx[2 * 6 * 35];

  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 6; c++)
      for (int s = 0; s < 35; s++)
        x[(n * 6 + c) * 35 + s] = (float) (n * 10000 + c * 100 + s);
  graft_transpose_forward (&p, x, y);
  for (int n = 0; n < 2; n++)
    for (int k = 0; k < 6; k++)
      for (int s = 0; s < 35; s++)
        g_assert_cmpfloat (y[(n * 6 + k) * 35 + s], ==, (float) (n * 10000 + order[k] * 100 + s));
  /* Backward sends each gradient back to its channel. */
  memset (dx, 0, sizeof dx);
  graft_transpose_backward (&p, y, dx);
  g_assert_cmpmem (dx, sizeof dx, x, sizeof x);
}

/* NHWC -> NCHW and back with the inverse permutation gives the input bit for bit. */
static void
test_nhwc_round_trip (void)
{
  static const int64_t shapes[][4] = {
    { 2, 7, 13, 3 }, { 1, 1, 1, 5 }, { 3, 5, 1, 1 }, { 1, 56, 56, 64 }, { 2, 33, 31, 65 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      graft_transpose_params to_nchw = make_transpose (4, shapes[i], (const int[]) { 0, 3, 1, 2 });
      graft_transpose_params to_nhwc = make_transpose (4, to_nchw.y.dims, (const int[]) { 0, 2, 3, 1 });
      size_t count = shape_count (&to_nchw.x);
      float *x = test_floats (count), *y = test_floats (count), *z = test_floats (count);
      int64_t n = shapes[i][0], h = shapes[i][1], w = shapes[i][2], c = shapes[i][3];

      g_assert_true (graft_shape_equal (&to_nhwc.y, &to_nchw.x));
      test_fill_uniform_float (x, count, 7000 + i, -1, 1);
      graft_transpose_forward (&to_nchw, x, y);
      /* y[n][c][h][w] = x[n][h][w][c] */
      for (int64_t a = 0; a < n; a++)
        for (int64_t b = 0; b < c; b++)
          for (int64_t r = 0; r < h; r++)
            for (int64_t s = 0; s < w; s++)
              g_assert_true (y[((a * c + b) * h + r) * w + s] == x[((a * h + r) * w + s) * c + b]);
      graft_transpose_forward (&to_nhwc, y, z);
      g_assert_cmpmem (z, count * sizeof *z, x, count * sizeof *x);
      g_free (x);
      g_free (y);
      g_free (z);
    }
}

/* ------------------------------------------------------------------------ */
/* Slice                                                                     */

static graft_slice_params
make_slice (int rank, const int64_t *dims, int axis, int64_t start, int64_t end)
{
  graft_slice_params p = { .x = graft_shape_make (rank, dims), .axis = axis, .start = start, .end = end };
  graft_error error;

  graft_error_clear (&error);
  if (graft_slice_setup (&p, &error) != GRAFT_OK)
    g_error ("slice setup failed: %s", error.message);
  return p;
}

/* Random rank 1..6, sizes from {1, 2, 3, 5, 7, 13}, at most max_count elements; a
 * random axis (negative half the time) and a random range in it, empty sometimes. */
static graft_slice_params
random_slice (uint64_t *state, size_t max_count)
{
  static const int64_t sizes[] = { 1, 2, 3, 5, 7, 13 };
  int64_t dims[GRAFT_MAX_RANK];
  int rank = test_random_int (state, 1, GRAFT_MAX_RANK);
  int axis = test_random_int (state, 0, rank - 1);
  int64_t start, end;
  size_t count = 1;

  for (int k = 0; k < rank; k++)
    {
      do
        dims[k] = sizes[test_random_int (state, 0, G_N_ELEMENTS (sizes) - 1)];
      while (count * (size_t) dims[k] > max_count && dims[k] > 1);
      count *= (size_t) dims[k];
    }
  start = test_random_int (state, 0, (int) dims[axis]);
  end = test_random_int (state, (int) start, (int) dims[axis]);
  if (test_random_int (state, 0, 1))
    axis -= rank;
  return make_slice (rank, dims, axis, start, end);
}

/* Bigger cases: ShuffleNet's channel split, both halves, at batch 1 and 8 (threads
 * split the rows), and a split of the last axis. */
static const struct {
  int rank;
  int64_t dims[GRAFT_MAX_RANK];
  int axis;
  int64_t start, end;
} slice_cases[] = {
  { 4, { 8, 116, 28, 28 }, 1, 0, 58 },
  { 4, { 8, 116, 28, 28 }, 1, 58, 116 },
  { 4, { 1, 232, 14, 14 }, 1, 116, 232 },
  { 4, { 8, 464, 7, 7 }, -3, 0, 232 },
  { 2, { 1000, 777 }, 1, 100, 677 },
  { 3, { 3, 0, 5 }, 2, 1, 4 },  /* empty input */
  { 1, { 17 }, 0, 3, 3 },       /* empty range */
};

static void
check_slice_forward (const graft_slice_params *p, uint64_t seed)
{
  size_t x_count = shape_count (&p->x), y_count = shape_count (&p->y);
  double *xd = test_doubles (x_count), *yd = test_doubles (y_count);
  float *x = test_floats (x_count), *y = test_floats (y_count);

  test_fill_uniform (xd, x_count, seed, -1, 1);
  test_to_float (xd, x, x_count);
  test_to_double (x, xd, x_count);
  graft_slice_forward (p, x, y);
  graft_slice_forward_reference (p, xd, yd);
  test_assert_close ("slice forward", y, yd, y_count, 0, 0);
  g_free (xd);
  g_free (yd);
  g_free (x);
  g_free (y);
}

/* Fast vs reference backward onto a prefilled dx: only the range changes, by dy. */
static void
check_slice_backward (const graft_slice_params *p, uint64_t seed)
{
  size_t x_count = shape_count (&p->x), y_count = shape_count (&p->y);
  double *dyd = test_doubles (y_count), *dxd = test_doubles (x_count);
  float *dy = test_floats (y_count), *dx = test_floats (x_count), *dy_copy;

  test_fill_uniform (dyd, y_count, seed, -1, 1);
  test_to_float (dyd, dy, y_count);
  test_to_double (dy, dyd, y_count);
  test_fill_uniform (dxd, x_count, seed + 1, -2, 2);
  test_to_float (dxd, dx, x_count);
  test_to_double (dx, dxd, x_count);
  dy_copy = g_memdup2 (dy, MAX (y_count, 1) * sizeof *dy);
  graft_slice_backward (p, dy, dx);
  graft_slice_backward_reference (p, dyd, dxd);
  test_assert_close ("slice backward", dx, dxd, x_count, 1e-6, 1e-6);
  graft_slice_backward (p, dy, NULL);
  graft_slice_backward_reference (p, dyd, NULL);
  g_assert_cmpmem (dy, y_count * sizeof *dy, dy_copy, y_count * sizeof *dy);
  g_free (dyd);
  g_free (dxd);
  g_free (dy);
  g_free (dx);
  g_free (dy_copy);
}

static void
test_slice_setup (void)
{
  static const struct {
    int rank;
    int64_t dims[GRAFT_MAX_RANK];
    int axis;
    int64_t start, end;
  } bad[] = {
    { 3, { 2, 6, 4 }, 3, 0, 1 },                 /* axis out of range */
    { 3, { 2, 6, 4 }, -4, 0, 1 },
    { 3, { 2, 6, 4 }, 1, -1, 3 },                /* negative start */
    { 3, { 2, 6, 4 }, 1, 4, 3 },                 /* start after end */
    { 3, { 2, 6, 4 }, 1, 3, 7 },                 /* end past the axis */
    { 2, { 2, -6 }, 1, 0, 1 },                   /* negative dim */
    { 4, { 1 << 20, 1 << 20, 1 << 20, 1 << 20 }, 1, 0, 1 },  /* overflow */
    { 0, { 0 }, 0, 0, 0 },                       /* a scalar has no axis */
  };
  graft_slice_params p;
  graft_error error;

  p = make_slice (4, (const int64_t[]) { 2, 6, 5, 7 }, -3, 3, 6);
  g_assert_cmpint (p.axis, ==, 1);
  g_assert_cmpint (p.y.rank, ==, 4);
  g_assert_cmpint (p.y.dims[0], ==, 2);
  g_assert_cmpint (p.y.dims[1], ==, 3);
  g_assert_cmpint (p.y.dims[2], ==, 5);
  g_assert_cmpint (p.y.dims[3], ==, 7);
  g_assert_cmpuint (p.outer, ==, 2);
  g_assert_cmpuint (p.inner, ==, 35);

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      graft_status status;
      p = (graft_slice_params) { .x = graft_shape_make (bad[i].rank, bad[i].dims), .axis = bad[i].axis,
                                 .start = bad[i].start, .end = bad[i].end };
      graft_error_clear (&error);
      status = graft_slice_setup (&p, &error);
      if (status == GRAFT_OK)
        g_error ("bad slice %zu was accepted", i);
      g_assert_cmpint (error.status, ==, status);
      g_assert_cmpuint (strlen (error.message), >, 0);
      p = (graft_slice_params) { .x = graft_shape_make (bad[i].rank, bad[i].dims), .axis = bad[i].axis,
                                 .start = bad[i].start, .end = bad[i].end };
      g_assert_cmpint (graft_slice_setup (&p, NULL), ==, status);
    }
  p = (graft_slice_params) { .x = { .rank = 7 }, .axis = 0 };
  g_assert_cmpint (graft_slice_setup (&p, &error), !=, GRAFT_OK);
}

static void
test_slice_forward (void)
{
  uint64_t state = 45;
  for (int i = 0; i < 300; i++)
    {
      graft_slice_params p = random_slice (&state, 5000);
      check_slice_forward (&p, 8000 + i);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (slice_cases); i++)
    {
      graft_slice_params p = make_slice (slice_cases[i].rank, slice_cases[i].dims, slice_cases[i].axis,
                                         slice_cases[i].start, slice_cases[i].end);
      check_slice_forward (&p, 9000 + i);
    }
}

typedef struct {
  const graft_slice_params *p;
  double *x, *y;
  const double *r;
} slice_ctx;

static double
slice_loss (void *data)
{
  slice_ctx *ctx = data;
  graft_slice_forward_reference (ctx->p, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, shape_count (&ctx->p->y));
}

/* The reference backward against central finite differences of the reference
 * forward: 1 inside the range, 0 outside. */
static void
test_slice_gradient (void)
{
  uint64_t state = 46;
  for (int i = 0; i < 30; i++)
    {
      graft_slice_params p = random_slice (&state, 300);
      size_t x_count = shape_count (&p.x), y_count = shape_count (&p.y);
      double *x = test_doubles (x_count), *y = test_doubles (MAX (y_count, 1));
      double *r = test_doubles (MAX (y_count, 1)), *dx = test_doubles (x_count);
      slice_ctx ctx = { &p, x, y, r };

      test_fill_uniform (x, x_count, 10000 + i, -1, 1);
      test_fill_uniform (r, y_count, 11000 + i, -1, 1);
      graft_slice_backward_reference (&p, r, dx);
      test_check_gradient ("slice reference", x, x_count, dx, slice_loss, &ctx, 1e-6, 1e-6);
      g_free (x);
      g_free (y);
      g_free (r);
      g_free (dx);
    }
}

static void
test_slice_backward (void)
{
  uint64_t state = 47;
  for (int i = 0; i < 300; i++)
    {
      graft_slice_params p = random_slice (&state, 5000);
      check_slice_backward (&p, 12000 + 2 * i);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (slice_cases); i++)
    {
      graft_slice_params p = make_slice (slice_cases[i].rank, slice_cases[i].dims, slice_cases[i].axis,
                                         slice_cases[i].start, slice_cases[i].end);
      check_slice_backward (&p, 13000 + 2 * i);
    }
}

/* ShuffleNet's channel split, by hand: the two halves of (2,6,5,7) along C are
 * channels 0..2 and 3..5; the backward of both halves onto one dx gives dy back, in
 * place, and adds to what dx held. */
static void
test_slice_channel_split (void)
{
  const int64_t dims[] = { 2, 6, 5, 7 };
  graft_slice_params halves[2] = { make_slice (4, dims, 1, 0, 3), make_slice (4, dims, 1, 3, 6) };
  float x[2 * 6 * 35], y[2][2 * 3 * 35], dx[2 * 6 * 35];

  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 6; c++)
      for (int s = 0; s < 35; s++)
        x[(n * 6 + c) * 35 + s] = (float) (n * 10000 + c * 100 + s);
  for (int h = 0; h < 2; h++)
    {
      g_assert_cmpint (halves[h].y.dims[1], ==, 3);
      graft_slice_forward (&halves[h], x, y[h]);
      for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
          for (int s = 0; s < 35; s++)
            g_assert_cmpfloat (y[h][(n * 3 + c) * 35 + s], ==, (float) (n * 10000 + (3 * h + c) * 100 + s));
    }
  for (size_t i = 0; i < G_N_ELEMENTS (dx); i++)
    dx[i] = 0.5f;
  graft_slice_backward (&halves[1], y[1], dx);
  graft_slice_backward (&halves[0], y[0], dx);
  for (size_t i = 0; i < G_N_ELEMENTS (dx); i++)
    g_assert_cmpfloat (dx[i], ==, x[i] + 0.5f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (0);
  g_test_add_func ("/engine/layout/concat/forward", test_concat_forward);
  g_test_add_func ("/engine/layout/concat/gradient", test_concat_gradient);
  g_test_add_func ("/engine/layout/concat/backward", test_concat_backward);
  g_test_add_func ("/engine/layout/transpose/setup", test_transpose_setup);
  g_test_add_func ("/engine/layout/transpose/forward", test_transpose_forward);
  g_test_add_func ("/engine/layout/transpose/gradient", test_transpose_gradient);
  g_test_add_func ("/engine/layout/transpose/backward", test_transpose_backward);
  g_test_add_func ("/engine/layout/transpose/channel-shuffle", test_channel_shuffle);
  g_test_add_func ("/engine/layout/transpose/nhwc-round-trip", test_nhwc_round_trip);
  g_test_add_func ("/engine/layout/slice/setup", test_slice_setup);
  g_test_add_func ("/engine/layout/slice/forward", test_slice_forward);
  g_test_add_func ("/engine/layout/slice/gradient", test_slice_gradient);
  g_test_add_func ("/engine/layout/slice/backward", test_slice_backward);
  g_test_add_func ("/engine/layout/slice/channel-split", test_slice_channel_split);
  return g_test_run ();
}
