/* test-engine-transformer.c: the ops of vision transformers and ConvNeXt: LayerNorm,
 * GELU (erf and tanh), batched MatMul with broadcasting, Softmax on any axis. For each:
 * the fast path against the double reference (forward, and backward on zeroed and
 * pre-filled gradients), the reference backward against central finite differences of
 * the reference forward, and the setup's refusals. */
#include "engine/matmul.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/plan.h"
#include "gradcheck.h"

#include <math.h>
#include <string.h>

/* Random data rounded to float, in both precisions. */
static void
fill_pair (double *d, float *f, size_t count, uint64_t seed, double lo, double hi)
{
  test_fill_uniform (d, count, seed, lo, hi);
  test_to_float (d, f, count);
  test_to_double (f, d, count);
}

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                  */

typedef struct {
  graft_layernorm_params p;
  double *x, *scale, *bias, *y, *r;
} layernorm_ctx;

static double
layernorm_loss (void *data)
{
  layernorm_ctx *ctx = data;
  graft_layernorm_forward_reference (&ctx->p, ctx->x, ctx->scale, ctx->bias, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->p.rows * ctx->p.cols);
}

/* Rows of one column (normalised to the bias), odd sizes, ViT-B's 768 features, and
 * enough rows for the parallel path. */
static const size_t layernorm_shapes[][2] = { { 1, 1 }, { 3, 7 }, { 5, 768 }, { 197, 192 }, { 64, 1001 } };

static void
test_layernorm_forward_backward (void)
{
  for (size_t s = 0; s < G_N_ELEMENTS (layernorm_shapes); s++)
    for (int affine = 0; affine < 2; affine++)
      {
        graft_layernorm_params p = { layernorm_shapes[s][0], layernorm_shapes[s][1], 1e-6f };
        size_t rows = p.rows, cols = p.cols, count = rows * cols;
        double *x = test_doubles (count), *dy = test_doubles (count), *want = test_doubles (count);
        double *scale = test_doubles (cols), *bias = test_doubles (cols);
        double *want_ds = test_doubles (cols), *want_db = test_doubles (cols), *prefill = test_doubles (count);
        float *xf = test_floats (count), *dyf = test_floats (count), *y = test_floats (count);
        float *dx = test_floats (count), *scalef = test_floats (cols), *biasf = test_floats (cols);
        float *ds = test_floats (cols), *db = test_floats (cols), *mean = test_floats (rows), *rstd = test_floats (rows);

        g_assert_cmpint (graft_layernorm_setup (&p, NULL), ==, GRAFT_OK);
        /* An offset, so that the mean matters. */
        fill_pair (x, xf, count, 100 + s, -2, 5);
        fill_pair (scale, scalef, cols, 110 + s, 0.5, 1.5);
        fill_pair (bias, biasf, cols, 120 + s, -1, 1);
        fill_pair (dy, dyf, count, 130 + s, -1, 1);
        graft_layernorm_forward (&p, xf, affine ? scalef : NULL, affine ? biasf : NULL, y, mean, rstd);
        graft_layernorm_forward_reference (&p, x, affine ? scale : NULL, affine ? bias : NULL, want);
        test_assert_close ("layernorm y", y, want, count, 1e-5, 1e-5);

        memset (want, 0, count * sizeof (double));
        graft_layernorm_backward_reference (&p, x, affine ? scale : NULL, dy, want, want_ds, want_db);
        graft_layernorm_backward (&p, xf, affine ? scalef : NULL, mean, rstd, dyf, dx, ds, db);
        test_assert_close ("layernorm dx", dx, want, count, 1e-4, 1e-4);
        test_assert_close ("layernorm dscale", ds, want_ds, cols, 1e-4, 1e-4);
        test_assert_close ("layernorm dbias", db, want_db, cols, 1e-4, 1e-4);

        /* Accumulation into dx, and NULL gradients skipped. */
        fill_pair (prefill, dx, count, 140 + s, -2, 2);
        memset (want, 0, count * sizeof (double));
        graft_layernorm_backward_reference (&p, x, affine ? scale : NULL, dy, want, NULL, NULL);
        for (size_t i = 0; i < count; i++)
          want[i] += prefill[i];
        graft_layernorm_backward (&p, xf, affine ? scalef : NULL, mean, rstd, dyf, dx, NULL, NULL);
        test_assert_close ("layernorm accumulated dx", dx, want, count, 1e-4, 1e-4);

        g_free (x); g_free (dy); g_free (want); g_free (scale); g_free (bias); g_free (want_ds);
        g_free (want_db); g_free (prefill); g_free (xf); g_free (dyf); g_free (y); g_free (dx);
        g_free (scalef); g_free (biasf); g_free (ds); g_free (db); g_free (mean); g_free (rstd);
      }
}

static void
test_layernorm_gradient (void)
{
  static const size_t small[][2] = { { 1, 2 }, { 3, 5 }, { 2, 9 } };
  for (size_t s = 0; s < G_N_ELEMENTS (small); s++)
    {
      layernorm_ctx ctx = { { small[s][0], small[s][1], 1e-5f } };
      size_t count = ctx.p.rows * ctx.p.cols, cols = ctx.p.cols;
      double *dx = test_doubles (count), *ds = test_doubles (cols), *db = test_doubles (cols);

      ctx.x = test_doubles (count);
      ctx.y = test_doubles (count);
      ctx.r = test_doubles (count);
      ctx.scale = test_doubles (cols);
      ctx.bias = test_doubles (cols);
      test_fill_uniform (ctx.x, count, 150 + s, -2, 2);
      test_fill_uniform (ctx.r, count, 160 + s, -1, 1);
      test_fill_uniform (ctx.scale, cols, 170 + s, 0.5, 2);
      test_fill_uniform (ctx.bias, cols, 180 + s, -1, 1);
      graft_layernorm_backward_reference (&ctx.p, ctx.x, ctx.scale, ctx.r, dx, ds, db);
      test_check_gradient ("layernorm dx", ctx.x, count, dx, layernorm_loss, &ctx, 1e-6, 1e-6);
      test_check_gradient ("layernorm dscale", ctx.scale, cols, ds, layernorm_loss, &ctx, 1e-6, 1e-6);
      test_check_gradient ("layernorm dbias", ctx.bias, cols, db, layernorm_loss, &ctx, 1e-6, 1e-6);
      g_free (ctx.x); g_free (ctx.y); g_free (ctx.r); g_free (ctx.scale); g_free (ctx.bias);
      g_free (dx); g_free (ds); g_free (db);
    }
}

static void
test_layernorm_setup (void)
{
  graft_layernorm_params zero_rows = { 0, 4, 1e-5f }, bad_eps = { 2, 4, 0 }, nan_eps = { 2, 4, NAN };
  graft_layernorm_params huge = { SIZE_MAX / 2, 4, 1e-5f };
  graft_error error = { 0 };

  g_assert_cmpint (graft_layernorm_setup (&zero_rows, &error), ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "rows"));
  g_assert_cmpint (graft_layernorm_setup (&bad_eps, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (graft_layernorm_setup (&nan_eps, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (graft_layernorm_setup (&huge, &error), ==, GRAFT_ERROR_OVERFLOW);
}

/* ------------------------------------------------------------------------ */
/* GELU                                                                       */

typedef struct {
  graft_gelu_kind kind;
  size_t count;
  double *x, *y, *r;
} gelu_ctx;

static double
gelu_loss (void *data)
{
  gelu_ctx *ctx = data;
  graft_gelu_forward_reference (ctx->kind, ctx->count, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->count);
}

static void
test_gelu (void)
{
  for (int kind = GRAFT_GELU_ERF; kind <= GRAFT_GELU_TANH; kind++)
    for (size_t count = 1; count <= 100003; count = count * 37 + 2)
      {
        double *x = test_doubles (count), *want = test_doubles (count), *dy = test_doubles (count);
        float *xf = test_floats (count), *y = test_floats (count), *dyf = test_floats (count);
        float *dx = test_floats (count);

        fill_pair (x, xf, count, 200 + count, -6, 6);
        fill_pair (dy, dyf, count, 210 + count, -1, 1);
        graft_gelu_forward (kind, count, xf, y);
        graft_gelu_forward_reference (kind, count, x, want);
        test_assert_close ("gelu y", y, want, count, 1e-6, 1e-5);
        memset (want, 0, count * sizeof (double));
        graft_gelu_backward_reference (kind, count, x, dy, want);
        graft_gelu_backward (kind, count, xf, dyf, dx);
        test_assert_close ("gelu dx", dx, want, count, 1e-6, 1e-5);
        /* Accumulates; NULL dx is skipped. */
        graft_gelu_backward (kind, count, xf, dyf, dx);
        for (size_t i = 0; i < count; i++)
          want[i] *= 2;
        test_assert_close ("gelu accumulated dx", dx, want, count, 2e-6, 1e-5);
        graft_gelu_backward (kind, count, xf, dyf, NULL);
        g_free (x); g_free (want); g_free (dy); g_free (xf); g_free (y); g_free (dyf); g_free (dx);
      }
  /* Known values: PyTorch's F.gelu(1.0) and F.gelu(1.0, approximate='tanh'). */
  {
    float one = 1, y;
    graft_gelu_forward (GRAFT_GELU_ERF, 1, &one, &y);
    g_assert_cmpfloat_with_epsilon (y, 0.8413447, 1e-6);
    graft_gelu_forward (GRAFT_GELU_TANH, 1, &one, &y);
    g_assert_cmpfloat_with_epsilon (y, 0.8411920, 1e-6);
  }
}

static void
test_gelu_gradient (void)
{
  for (int kind = GRAFT_GELU_ERF; kind <= GRAFT_GELU_TANH; kind++)
    {
      gelu_ctx ctx = { kind, 40, test_doubles (40), test_doubles (40), test_doubles (40) };
      double *dx = test_doubles (40);
      test_fill_uniform (ctx.x, 40, 220 + kind, -4, 4);
      test_fill_uniform (ctx.r, 40, 230 + kind, -1, 1);
      graft_gelu_backward_reference (kind, 40, ctx.x, ctx.r, dx);
      test_check_gradient ("gelu dx", ctx.x, 40, dx, gelu_loss, &ctx, 1e-6, 1e-6);
      g_free (ctx.x); g_free (ctx.y); g_free (ctx.r); g_free (dx);
    }
}

/* ------------------------------------------------------------------------ */
/* Batched MatMul                                                             */

typedef struct {
  int a_rank, b_rank;
  int64_t a[GRAFT_MAX_RANK], b[GRAFT_MAX_RANK];
} matmul_case;

/* Plain 2-D; a Linear layer on tokens and on channels-last maps (B without batch:
 * folded into rows); attention's Q K^T (4-D, same batch); both operands broadcast;
 * A broadcast over B's batch; ranks 5 and 6 (Swin's windows). */
static const matmul_case matmul_cases[] = {
  { 2, 2, { 3, 4 }, { 4, 5 } },
  { 3, 2, { 2, 7, 6 }, { 6, 5 } },
  { 4, 2, { 2, 3, 3, 8 }, { 8, 4 } },
  { 4, 4, { 2, 3, 5, 4 }, { 2, 3, 4, 5 } },
  { 4, 3, { 2, 1, 3, 4 }, { 3, 4, 2 } },
  { 2, 3, { 3, 4 }, { 2, 4, 5 } },
  { 5, 5, { 2, 1, 2, 3, 4 }, { 1, 3, 1, 4, 2 } },
  { 6, 2, { 1, 2, 1, 2, 3, 4 }, { 4, 3 } },
  /* Enough batch indices for threads: attention's (each operand its own matrices),
   * and B broadcast over a dim (its gradient summed in order). */
  { 4, 4, { 2, 6, 5, 4 }, { 2, 6, 4, 3 } },
  { 4, 4, { 3, 4, 5, 2 }, { 3, 1, 2, 6 } },
};

typedef struct {
  graft_matmul_params p;
  double *a, *b, *y, *r;
  size_t y_count;
} matmul_ctx;

static double
matmul_loss (void *data)
{
  matmul_ctx *ctx = data;
  graft_matmul_forward_reference (&ctx->p, ctx->a, ctx->b, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->y_count);
}

static size_t
shape_elements (const graft_shape *s)
{
  size_t n = 1;
  for (int d = 0; d < s->rank; d++)
    n *= (size_t) s->dims[d];
  return n;
}

/* The kernels: OpenBLAS's sgemm, and oneDNN's for the oneDNN backend. */
typedef struct {
  const char *name;
  void (*forward) (const graft_matmul_params *p, const float *a, const float *b, float *y);
  void (*backward) (const graft_matmul_params *p, const float *a, const float *b, const float *dy, float *da,
                    float *db);
} matmul_kernels;

static const matmul_kernels matmul_kernel_sets[] = {
  { "openblas", graft_matmul_forward, graft_matmul_backward },
#ifdef GRAFT_HAVE_ONEDNN
  { "onednn", graft_matmul_forward_onednn, graft_matmul_backward_onednn },
#endif
};

static void
test_matmul (void)
{
  for (size_t kset = 0; kset < G_N_ELEMENTS (matmul_kernel_sets); kset++)
  for (size_t c = 0; c < G_N_ELEMENTS (matmul_cases); c++)
    {
      const matmul_kernels *kernels = &matmul_kernel_sets[kset];
      g_test_message ("matmul on %s's sgemm, case %zu", kernels->name, c);
      matmul_ctx ctx = { { graft_shape_make (matmul_cases[c].a_rank, matmul_cases[c].a),
                           graft_shape_make (matmul_cases[c].b_rank, matmul_cases[c].b) } };
      size_t na, nb, ny;
      double *da, *db, *want_da, *want_db, *want_y;
      float *af, *bf, *yf, *rf, *daf, *dbf;

      g_assert_cmpint (graft_matmul_setup (&ctx.p, NULL), ==, GRAFT_OK);
      na = shape_elements (&ctx.p.a);
      nb = shape_elements (&ctx.p.b);
      ny = ctx.y_count = shape_elements (&ctx.p.y);
      g_assert_cmpuint (ny, ==, ctx.p.batch * ctx.p.m * ctx.p.n);
      ctx.a = test_doubles (na); ctx.b = test_doubles (nb); ctx.y = test_doubles (ny); ctx.r = test_doubles (ny);
      da = test_doubles (na); db = test_doubles (nb); want_da = test_doubles (na); want_db = test_doubles (nb);
      want_y = test_doubles (ny);
      af = test_floats (na); bf = test_floats (nb); yf = test_floats (ny); rf = test_floats (ny);
      daf = test_floats (na); dbf = test_floats (nb);
      fill_pair (ctx.a, af, na, 300 + c, -1, 1);
      fill_pair (ctx.b, bf, nb, 310 + c, -1, 1);
      fill_pair (ctx.r, rf, ny, 320 + c, -1, 1);

      graft_matmul_forward_reference (&ctx.p, ctx.a, ctx.b, want_y);
      kernels->forward (&ctx.p, af, bf, yf);
      test_assert_close ("matmul y", yf, want_y, ny, 1e-5, 1e-5);

      graft_matmul_backward_reference (&ctx.p, ctx.a, ctx.b, ctx.r, want_da, want_db);
      kernels->backward (&ctx.p, af, bf, rf, daf, dbf);
      test_assert_close ("matmul da", daf, want_da, na, 1e-5, 1e-5);
      test_assert_close ("matmul db", dbf, want_db, nb, 1e-5, 1e-5);
      /* Accumulates (a second pass doubles), and NULL gradients are skipped. */
      kernels->backward (&ctx.p, af, bf, rf, daf, NULL);
      kernels->backward (&ctx.p, af, bf, rf, NULL, dbf);
      for (size_t i = 0; i < na; i++)
        want_da[i] *= 2;
      for (size_t i = 0; i < nb; i++)
        want_db[i] *= 2;
      test_assert_close ("matmul accumulated da", daf, want_da, na, 1e-5, 1e-5);
      test_assert_close ("matmul accumulated db", dbf, want_db, nb, 1e-5, 1e-5);

      graft_matmul_backward_reference (&ctx.p, ctx.a, ctx.b, ctx.r, da, db);
      test_check_gradient ("matmul da", ctx.a, na, da, matmul_loss, &ctx, 1e-6, 1e-6);
      test_check_gradient ("matmul db", ctx.b, nb, db, matmul_loss, &ctx, 1e-6, 1e-6);

      g_free (ctx.a); g_free (ctx.b); g_free (ctx.y); g_free (ctx.r); g_free (da); g_free (db);
      g_free (want_da); g_free (want_db); g_free (want_y); g_free (af); g_free (bf); g_free (yf);
      g_free (rf); g_free (daf); g_free (dbf);
    }
}

/* The result's shape, and the refusals: K mismatch, batch dims that do not broadcast,
 * rank 1, an empty dim. */
static void
test_matmul_setup (void)
{
  int64_t a4[] = { 2, 1, 3, 4 }, b3[] = { 5, 4, 6 }, bad_k[] = { 5, 6 }, bad_batch[] = { 3, 4, 6 };
  int64_t one[] = { 4 }, empty[] = { 0, 4 };
  graft_matmul_params p = { graft_shape_make (4, a4), graft_shape_make (3, b3) };
  graft_error error = { 0 };

  g_assert_cmpint (graft_matmul_setup (&p, &error), ==, GRAFT_OK);
  g_assert_cmpint (p.y.rank, ==, 4);
  g_assert_cmpint (p.y.dims[0], ==, 2);
  g_assert_cmpint (p.y.dims[1], ==, 5);
  g_assert_cmpint (p.y.dims[2], ==, 3);
  g_assert_cmpint (p.y.dims[3], ==, 6);
  g_assert_cmpuint (p.batch, ==, 10);

  p.b = graft_shape_make (2, bad_k);
  g_assert_cmpint (graft_matmul_setup (&p, &error), ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "columns"));
  p.a = graft_shape_make (4, (int64_t[]) { 2, 2, 3, 4 });
  p.b = graft_shape_make (3, bad_batch);
  g_assert_cmpint (graft_matmul_setup (&p, &error), ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "broadcast"));
  p.b = graft_shape_make (1, one);
  g_assert_cmpint (graft_matmul_setup (&p, &error), ==, GRAFT_ERROR_SHAPE);
  p.b = graft_shape_make (2, empty);
  g_assert_cmpint (graft_matmul_setup (&p, &error), ==, GRAFT_ERROR_SHAPE);
}

/* ------------------------------------------------------------------------ */
/* Softmax on any axis                                                        */

typedef struct {
  size_t outer, axis, inner;
  double *x, *y, *r;
} softmax_axis_ctx;

static double
softmax_axis_loss (void *data)
{
  softmax_axis_ctx *ctx = data;
  graft_softmax_axis_forward_reference (ctx->outer, ctx->axis, ctx->inner, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->outer * ctx->axis * ctx->inner);
}

static void
test_softmax_axis (void)
{
  /* inner 1 (the row form), an inner axis, one element, and large ones (parallel):
   * attention's rows of 197 scores (vector tails) in blocks of rows over threads. */
  static const size_t shapes[][3] = { { 3, 7, 1 }, { 2, 5, 3 }, { 1, 1, 4 }, { 4, 3, 197 }, { 12, 197, 17 },
                                      { 2 * 3 * 197, 197, 1 } };
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      size_t outer = shapes[s][0], axis = shapes[s][1], inner = shapes[s][2], count = outer * axis * inner;
      double *x = test_doubles (count), *y = test_doubles (count), *dy = test_doubles (count);
      double *want = test_doubles (count);
      float *xf = test_floats (count), *yf = test_floats (count), *dyf = test_floats (count);
      float *dx = test_floats (count);

      fill_pair (x, xf, count, 400 + s, -6, 6);
      fill_pair (dy, dyf, count, 410 + s, -1, 1);
      graft_softmax_axis_forward_reference (outer, axis, inner, x, y);
      graft_softmax_axis_forward (outer, axis, inner, xf, yf);
      test_assert_close ("softmax axis y", yf, y, count, 1e-7, 1e-5);
      /* The sum over the axis is 1. */
      for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++)
          {
            double sum = 0;
            for (size_t j = 0; j < axis; j++)
              sum += yf[(o * axis + j) * inner + i];
            g_assert_cmpfloat_with_epsilon (sum, 1, 1e-5);
          }
      test_to_double (yf, y, count);
      graft_softmax_axis_backward_reference (outer, axis, inner, y, dy, want);
      graft_softmax_axis_backward (outer, axis, inner, yf, dyf, dx);
      test_assert_close ("softmax axis dx", dx, want, count, 1e-6, 1e-5);
      graft_softmax_axis_backward (outer, axis, inner, yf, dyf, dx);
      for (size_t i = 0; i < count; i++)
        want[i] *= 2;
      test_assert_close ("softmax axis accumulated dx", dx, want, count, 1e-6, 1e-5);
      graft_softmax_axis_backward (outer, axis, inner, yf, dyf, NULL);
      g_free (x); g_free (y); g_free (dy); g_free (want); g_free (xf); g_free (yf); g_free (dyf); g_free (dx);
    }
}

static void
test_softmax_axis_gradient (void)
{
  static const size_t shapes[][3] = { { 2, 4, 3 }, { 1, 5, 1 }, { 3, 2, 2 } };
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      softmax_axis_ctx ctx = { shapes[s][0], shapes[s][1], shapes[s][2] };
      size_t count = ctx.outer * ctx.axis * ctx.inner;
      double *dx = test_doubles (count);
      ctx.x = test_doubles (count);
      ctx.y = test_doubles (count);
      ctx.r = test_doubles (count);
      test_fill_uniform (ctx.x, count, 420 + s, -3, 3);
      test_fill_uniform (ctx.r, count, 430 + s, -1, 1);
      graft_softmax_axis_forward_reference (ctx.outer, ctx.axis, ctx.inner, ctx.x, ctx.y);
      graft_softmax_axis_backward_reference (ctx.outer, ctx.axis, ctx.inner, ctx.y, ctx.r, dx);
      test_check_gradient ("softmax axis dx", ctx.x, count, dx, softmax_axis_loss, &ctx, 1e-6, 1e-6);
      g_free (ctx.x); g_free (ctx.y); g_free (ctx.r); g_free (dx);
    }
}

/* ------------------------------------------------------------------------ */
/* A transformer block as a graph                                             */

static int
block_tensor (graft_graph *graph, const char *name, graft_shape shape, uint64_t seed, float lo, float hi)
{
  size_t count;
  g_autofree float *data = NULL;
  graft_shape_count (&shape, &count, NULL);
  data = test_floats (count);
  test_fill_uniform_float (data, count, seed, lo, hi);
  return graft_graph_add_tensor (graph, name, GRAFT_VALUE_PARAMETER, &shape, data, NULL);
}

static int
block_node (graft_graph *graph, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    g_error ("%s", error.message);
  return value;
}

typedef struct {
  graft_plan *plan;
  int input;
  const float *tokens;
  const int32_t *labels;
  size_t count;
} block_loss_ctx;

static double
block_loss (block_loss_ctx *ctx)
{
  float loss;
  graft_error error;
  g_assert_cmpint (graft_plan_set_input (ctx->plan, ctx->input, ctx->tokens, ctx->count, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (ctx->plan, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (ctx->plan, ctx->labels, &loss, &error), ==, GRAFT_OK);
  return loss;
}

/* Pre-norm attention with one head and a GELU MLP, as in ViT's encoder layer: the
 * plan's gradient of every parameter against finite differences of its loss (in float),
 * which checks the descriptors' wiring (what backward reads and saves, broadcast
 * gradients summed, SoftmaxAxis reading its output). */
static void
test_block_gradient (void)
{
  enum { N = 3, T = 5, D = 4, H = 8, K = 3 };
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_make (3, (int64_t[]) { N, T, D });
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = N };
  graft_error error;
  int x, in[3], ln, q, k, kt, scores, probs, att, h, o, r, logits;
  size_t count = N * T * D;
  g_autofree float *tokens = test_floats (count);
  int32_t labels[N] = { 0, 2, 1 };
  block_loss_ctx ctx;
  int checked = 0;

  x = graft_graph_add_input (graph, "x", &shape, NULL);
  in[0] = x;
  in[1] = block_tensor (graph, "ln.weight", graft_shape_make (1, (int64_t[]) { D }), 1, 0.5f, 1.5f);
  in[2] = block_tensor (graph, "ln.bias", graft_shape_make (1, (int64_t[]) { D }), 2, -0.5f, 0.5f);
  ln = block_node (graph, "ln", (graft_node_attributes) { .op = GRAFT_OP_LAYERNORM, .layernorm = { -1, 1e-5f } },
                   in, 3);
  in[0] = ln;
  in[1] = block_tensor (graph, "q.weight", graft_shape_2d (D, D), 3, -0.8f, 0.8f);
  q = block_node (graph, "q", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[1] = block_tensor (graph, "k.weight", graft_shape_2d (D, D), 4, -0.8f, 0.8f);
  k = block_node (graph, "k", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  kt = block_node (graph, "kt", (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { { 0, 2, 1 } } },
                   &k, 1);
  in[0] = q, in[1] = kt;
  scores = block_node (graph, "scores", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  probs = block_node (graph, "probs", (graft_node_attributes) { .op = GRAFT_OP_SOFTMAX_AXIS, .softmax_axis = { -1 } },
                      &scores, 1);
  in[0] = probs, in[1] = ln;
  att = block_node (graph, "att", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[0] = att;
  in[1] = block_tensor (graph, "fc1.weight", graft_shape_2d (D, H), 5, -0.8f, 0.8f);
  h = block_node (graph, "fc1", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  h = block_node (graph, "gelu", (graft_node_attributes) { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_ERF } }, &h, 1);
  in[0] = h;
  in[1] = block_tensor (graph, "fc2.weight", graft_shape_2d (H, D), 6, -0.8f, 0.8f);
  o = block_node (graph, "fc2", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[0] = o, in[1] = x;
  r = block_node (graph, "residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  r = block_node (graph, "flat", (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } }, &r, 1);
  in[0] = r;
  in[1] = block_tensor (graph, "head.weight", graft_shape_2d (K, T * D), 7, -0.5f, 0.5f);
  in[2] = block_tensor (graph, "head.bias", graft_shape_make (1, (int64_t[]) { K }), 8, -0.1f, 0.1f);
  logits = block_node (graph, "head", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } },
                       in, 3);

  /* A LayerNorm scale of the wrong size and a MatMul whose sizes disagree are refused. */
  in[0] = x;
  in[1] = block_tensor (graph, "bad.weight", graft_shape_make (1, (int64_t[]) { D + 1 }), 9, 0, 1);
  g_assert_cmpint (graft_graph_add_node (graph, "bad_ln", &(graft_node_attributes) { .op = GRAFT_OP_LAYERNORM,
                                                                                     .layernorm = { -1, 1e-5f } },
                                         in, 2, "bad_ln", &error), ==, -1);
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_SHAPE);
  in[1] = block_tensor (graph, "bad.matrix", graft_shape_2d (D + 1, 2), 10, 0, 1);
  g_assert_cmpint (graft_graph_add_node (graph, "bad_mm", &(graft_node_attributes) { .op = GRAFT_OP_MATMUL },
                                         in, 2, "bad_mm", &error), ==, -1);
  g_assert_nonnull (strstr (error.message, "'bad_mm'"));

  test_fill_uniform_float (tokens, count, 11, -1, 1);
  training.loss_logits = logits;
  ctx = (block_loss_ctx) { graft_plan_new (graph, &training, &error), x, tokens, labels, count };
  if (ctx.plan == NULL)
    g_error ("%s", error.message);
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      size_t size;
      float *data;
      g_autofree float *analytic = NULL;
      if (value->kind != GRAFT_VALUE_PARAMETER || g_str_has_prefix (value->name, "bad."))
        continue;
      graft_shape_count (&value->shape, &size, NULL);
      data = graft_graph_tensor_data (graph, v);
      block_loss (&ctx);
      analytic = g_memdup2 (graft_plan_gradient (ctx.plan, v), size * sizeof (float));
      for (size_t i = 0; i < size; i++)
        {
          float saved = data[i], step = 2e-3f;
          double plus, minus, numeric;
          data[i] = saved + step;
          plus = block_loss (&ctx);
          data[i] = saved - step;
          minus = block_loss (&ctx);
          data[i] = saved;
          numeric = (plus - minus) / (2.0 * step);
          if (fabs (numeric - analytic[i]) > 2e-2 * fmax (0.02, fabs (numeric)))
            g_error ("%s[%zu]: gradient %.6g, finite differences %.6g", value->name, i, analytic[i], numeric);
          checked++;
        }
    }
  g_assert_cmpint (checked, ==, 2 * D + 2 * D * D + 2 * D * H + K * T * D + K);
  graft_plan_free (ctx.plan);
  graft_graph_free (graph);
}

/* ConvNeXt's and ViT's MLP as the importer writes it, MatMul, bias Add, Gelu, MatMul,
 * bias Add (the second with the bias first), on enough rows for the blocked pass on two
 * threads: an inference plan runs the Adds and the Gelu in the MatMuls' passes, with the
 * outputs of the unfused plan (its separate Add and Gelu kernels); a training plan, whose
 * Adds run backward, fuses nothing. */
static void
test_linear_fused (void)
{
  enum { N = 2, T = 300, D = 24, H = 96 };
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_make (3, (int64_t[]) { N, T, D });
  graft_error error;
  int x, in[2], out, flat;
  size_t count = N * T * D;
  g_autofree float *tokens = test_floats (count);
  graft_plan_kernels kernels[] = {
    GRAFT_PLAN_KERNELS_PORTABLE,
#ifdef GRAFT_HAVE_ONEDNN
    GRAFT_PLAN_KERNELS_ONEDNN,
#endif
  };
  int threads = graft_get_num_threads ();

  graft_set_num_threads (2);
  x = graft_graph_add_input (graph, "x", &shape, NULL);
  in[0] = x;
  in[1] = block_tensor (graph, "fc1.weight", graft_shape_2d (D, H), 1, -0.5f, 0.5f);
  in[0] = block_node (graph, "fc1", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[1] = block_tensor (graph, "fc1.bias", graft_shape_make (1, (int64_t[]) { H }), 2, -1.0f, 1.0f);
  in[0] = block_node (graph, "fc1.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  in[0] = block_node (graph, "gelu", (graft_node_attributes) { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_ERF } },
                      in, 1);
  in[1] = block_tensor (graph, "fc2.weight", graft_shape_2d (H, D), 3, -0.5f, 0.5f);
  in[1] = block_node (graph, "fc2", (graft_node_attributes) { .op = GRAFT_OP_MATMUL }, in, 2);
  in[0] = block_tensor (graph, "fc2.bias", graft_shape_make (2, (int64_t[]) { 1, D }), 4, -1.0f, 1.0f);
  out = block_node (graph, "fc2.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in, 2);
  flat = block_node (graph, "flat", (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } }, &out, 1);
  test_fill_uniform_float (tokens, count, 5, -2, 2);

  for (size_t k = 0; k < G_N_ELEMENTS (kernels); k++)
    {
      graft_plan *plans[2];
      const float *y[2];
      for (int unfused = 0; unfused < 2; unfused++)
        {
          graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = N, .keep = &out, .n_keep = 1,
                                         .kernels = kernels[k], .unfused = unfused };
          plans[unfused] = graft_plan_new (graph, &options, &error);
          if (plans[unfused] == NULL)
            g_error ("%s", error.message);
          g_assert_cmpint (graft_plan_set_input (plans[unfused], x, tokens, count, &error), ==, GRAFT_OK);
          g_assert_cmpint (graft_plan_forward (plans[unfused], &error), ==, GRAFT_OK);
          y[unfused] = graft_plan_value_data (plans[unfused], out, NULL);
        }
      g_assert_cmpint (graft_plan_fused_nodes (plans[0]), ==, 3);
      g_assert_cmpint (graft_plan_fused_nodes (plans[1]), ==, 0);
      for (size_t i = 0; i < count; i++)
        if (fabsf (y[0][i] - y[1][i]) > 1e-5f * fmaxf (1.0f, fabsf (y[1][i])))
          g_error ("%s: output %zu is %.9g fused, %.9g unfused", graft_plan_kernels_name (plans[0]), i, y[0][i],
                   y[1][i]);
      graft_plan_free (plans[0]);
      graft_plan_free (plans[1]);

      {
        graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = N, .kernels = kernels[k] };
        graft_plan *training;
        options.loss_logits = flat;
        training = graft_plan_new (graph, &options, &error);
        if (training == NULL)
          g_error ("%s", error.message);
        g_assert_cmpint (graft_plan_fused_nodes (training), ==, 0);
        graft_plan_free (training);
      }
    }
  graft_set_num_threads (threads);
  graft_graph_free (graph);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/layernorm/forward-backward", test_layernorm_forward_backward);
  g_test_add_func ("/engine/layernorm/gradient", test_layernorm_gradient);
  g_test_add_func ("/engine/layernorm/setup", test_layernorm_setup);
  g_test_add_func ("/engine/gelu/forward-backward", test_gelu);
  g_test_add_func ("/engine/gelu/gradient", test_gelu_gradient);
  g_test_add_func ("/engine/matmul/forward-backward-gradient", test_matmul);
  g_test_add_func ("/engine/matmul/setup", test_matmul_setup);
  g_test_add_func ("/engine/softmax-axis/forward-backward", test_softmax_axis);
  g_test_add_func ("/engine/softmax-axis/gradient", test_softmax_axis_gradient);
  g_test_add_func ("/engine/transformer/block-gradient", test_block_gradient);
  g_test_add_func ("/engine/transformer/linear-fused", test_linear_fused);
  return g_test_run ();
}
