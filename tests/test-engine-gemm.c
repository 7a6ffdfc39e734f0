/* Tests of Gemm: fast path against the double reference, the reference backward
 * against finite differences, accumulation, NULL gradients and setup errors. */
#include <glib.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "engine/ops.h"
#include "gradcheck.h"

typedef struct {
  int m, n, k;
} gemm_size;

/* Odd sizes, ones in every position, and a larger one. */
static const gemm_size sizes[] = {
  { 1, 1, 1 }, { 3, 7, 13 }, { 13, 1, 7 }, { 7, 13, 1 }, { 1, 13, 3 }, { 64, 100, 129 },
  { 200, 301, 17 }, /* over the threshold of the OpenMP loops, and more than one column block */
};

/* C shapes as (rows, cols); -1 stands for M or N. */
static const int c_shapes[][2] = { { 0, 0 }, { 1, 1 }, { 1, -1 }, { -1, 1 }, { -1, -1 } };

/* A test case: params and inputs, held in float and as the same values in double. */
typedef struct {
  graft_gemm_params p;
  size_t a_count, b_count, c_count, y_count;
  float *a, *b, *c, *dy;
  double *ad, *bd, *cd, *dyd;
} gemm_case;

static void
case_init (gemm_case *t, gemm_size size, bool trans_a, bool trans_b, const int c_shape[2], uint64_t seed)
{
  graft_error error;

  memset (t, 0, sizeof *t);
  t->p = (graft_gemm_params) {
    .m = size.m, .n = size.n, .k = size.k, .trans_a = trans_a, .trans_b = trans_b,
    .alpha = 0.75f, .beta = -1.25f,
    .c_rows = c_shape[0] < 0 ? size.m : c_shape[0],
    .c_cols = c_shape[1] < 0 ? size.n : c_shape[1],
  };
  g_assert_cmpint (graft_gemm_setup (&t->p, &error), ==, GRAFT_OK);
  t->a_count = (size_t) size.m * size.k;
  t->b_count = (size_t) size.k * size.n;
  t->c_count = (size_t) t->p.c_rows * t->p.c_cols;
  t->y_count = (size_t) size.m * size.n;
  t->a = test_floats (t->a_count);
  t->b = test_floats (t->b_count);
  t->c = test_floats (t->c_count);
  t->dy = test_floats (t->y_count);
  test_fill_uniform_float (t->a, t->a_count, seed, -1, 1);
  test_fill_uniform_float (t->b, t->b_count, seed + 1, -1, 1);
  test_fill_uniform_float (t->c, t->c_count, seed + 2, -1, 1);
  test_fill_uniform_float (t->dy, t->y_count, seed + 3, -1, 1);
  /* The reference sees exactly the float values. */
  t->ad = test_doubles (t->a_count);
  t->bd = test_doubles (t->b_count);
  t->cd = test_doubles (t->c_count);
  t->dyd = test_doubles (t->y_count);
  test_to_double (t->a, t->ad, t->a_count);
  test_to_double (t->b, t->bd, t->b_count);
  test_to_double (t->c, t->cd, t->c_count);
  test_to_double (t->dy, t->dyd, t->y_count);
}

static void
case_clear (gemm_case *t)
{
  g_free (t->a);
  g_free (t->b);
  g_free (t->c);
  g_free (t->dy);
  g_free (t->ad);
  g_free (t->bd);
  g_free (t->cd);
  g_free (t->dyd);
}

static const float *
case_c (const gemm_case *t)
{
  return t->c_count ? t->c : NULL;
}

static const double *
case_cd (const gemm_case *t)
{
  return t->c_count ? t->cd : NULL;
}

static char *
case_name (const gemm_case *t, const char *what)
{
  return g_strdup_printf ("gemm %s M=%d N=%d K=%d trans_a=%d trans_b=%d C=(%d,%d)", what,
                          t->p.m, t->p.n, t->p.k, t->p.trans_a, t->p.trans_b, t->p.c_rows, t->p.c_cols);
}

/* Float error of a sum of count products of values in [-1, 1]. */
static double
sum_atol (int count)
{
  return 2e-6 * (count + 1);
}

static void
test_forward (void)
{
  uint64_t seed = 100;
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int trans = 0; trans < 4; trans++)
      for (size_t cs = 0; cs < G_N_ELEMENTS (c_shapes); cs++)
        for (int zero_beta = 0; zero_beta < 2; zero_beta++)
          {
            gemm_case t;
            float *y;
            double *want;
            char *name;

            case_init (&t, sizes[s], trans & 1, trans & 2, c_shapes[cs], seed++);
            if (zero_beta)
              t.p.beta = 0.0f;
            y = test_floats (t.y_count);
            want = test_doubles (t.y_count);
            /* Y is an output only: whatever it held must not leak through. */
            for (size_t i = 0; i < t.y_count; i++)
              y[i] = NAN;
            graft_gemm_forward (&t.p, t.a, t.b, case_c (&t), y);
            graft_gemm_forward_reference (&t.p, t.ad, t.bd, case_cd (&t), want);
            name = case_name (&t, zero_beta ? "forward (beta 0)" : "forward");
            test_assert_close (name, y, want, t.y_count, sum_atol (t.p.k), 1e-5);
            g_free (name);
            g_free (y);
            g_free (want);
            case_clear (&t);
          }
}

/* loss = dot (forward_reference (a, b, c), r) */
typedef struct {
  const gemm_case *t;
  double *y;
} gemm_loss_ctx;

static double
gemm_loss (void *data)
{
  gemm_loss_ctx *ctx = data;
  graft_gemm_forward_reference (&ctx->t->p, ctx->t->ad, ctx->t->bd, case_cd (ctx->t), ctx->y);
  return test_dot (ctx->y, ctx->t->dyd, ctx->t->y_count);
}

static void
test_reference_gradient (void)
{
  /* Finite differences are O(size) evaluations each: small sizes only. */
  static const gemm_size small[] = { { 1, 1, 1 }, { 3, 7, 5 }, { 5, 1, 3 }, { 4, 3, 1 } };
  uint64_t seed = 200;

  for (size_t s = 0; s < G_N_ELEMENTS (small); s++)
    for (int trans = 0; trans < 4; trans++)
      for (size_t cs = 0; cs < G_N_ELEMENTS (c_shapes); cs++)
        {
          gemm_case t;
          gemm_loss_ctx ctx;
          double *da, *db, *dc;
          char *name;

          case_init (&t, small[s], trans & 1, trans & 2, c_shapes[cs], seed++);
          da = test_doubles (t.a_count);
          db = test_doubles (t.b_count);
          dc = test_doubles (t.c_count);
          graft_gemm_backward_reference (&t.p, t.ad, t.bd, t.dyd, da, db, dc);
          ctx.t = &t;
          ctx.y = test_doubles (t.y_count);
          name = case_name (&t, "reference dA");
          test_check_gradient (name, t.ad, t.a_count, da, gemm_loss, &ctx, 1e-6, 1e-6);
          g_free (name);
          name = case_name (&t, "reference dB");
          test_check_gradient (name, t.bd, t.b_count, db, gemm_loss, &ctx, 1e-6, 1e-6);
          g_free (name);
          name = case_name (&t, "reference dC");
          test_check_gradient (name, t.cd, t.c_count, dc, gemm_loss, &ctx, 1e-6, 1e-6);
          g_free (name);
          g_free (ctx.y);
          g_free (da);
          g_free (db);
          g_free (dc);
          case_clear (&t);
        }
}

/* Fast backward into buffers pre-filled with known values must give those values
 * plus the reference gradient (computed from zero): checks the fast path and
 * accumulation together. */
static void
test_backward (void)
{
  uint64_t seed = 300;
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int trans = 0; trans < 4; trans++)
      for (size_t cs = 0; cs < G_N_ELEMENTS (c_shapes); cs++)
        {
          gemm_case t;
          float *da, *db, *dc;
          double *want_a, *want_b, *want_c;
          char *name;

          case_init (&t, sizes[s], trans & 1, trans & 2, c_shapes[cs], seed++);
          da = test_floats (t.a_count);
          db = test_floats (t.b_count);
          dc = test_floats (t.c_count);
          want_a = test_doubles (t.a_count);
          want_b = test_doubles (t.b_count);
          want_c = test_doubles (t.c_count);
          graft_gemm_backward_reference (&t.p, t.ad, t.bd, t.dyd, want_a, want_b, want_c);
          test_fill_uniform_float (da, t.a_count, seed + 1000, -2, 2);
          test_fill_uniform_float (db, t.b_count, seed + 2000, -2, 2);
          test_fill_uniform_float (dc, t.c_count, seed + 3000, -2, 2);
          for (size_t i = 0; i < t.a_count; i++)
            want_a[i] += da[i];
          for (size_t i = 0; i < t.b_count; i++)
            want_b[i] += db[i];
          for (size_t i = 0; i < t.c_count; i++)
            want_c[i] += dc[i];
          graft_gemm_backward (&t.p, t.a, t.b, t.dy, da, db, t.c_count ? dc : NULL);
          /* dA sums over N, dB over M; dC is summed in double. */
          name = case_name (&t, "dA");
          test_assert_close (name, da, want_a, t.a_count, sum_atol (t.p.n), 1e-5);
          g_free (name);
          name = case_name (&t, "dB");
          test_assert_close (name, db, want_b, t.b_count, sum_atol (t.p.m), 1e-5);
          g_free (name);
          name = case_name (&t, "dC");
          test_assert_close (name, dc, want_c, t.c_count, 1e-5, 1e-6);
          g_free (name);
          g_free (da);
          g_free (db);
          g_free (dc);
          g_free (want_a);
          g_free (want_b);
          g_free (want_c);
          case_clear (&t);
        }
}

/* Every subset of {dA, dB, dC} may be NULL; the requested ones get the same values
 * as when all are requested, and A (B) is not read when dB (dA) is not wanted. */
static void
test_null_gradients (void)
{
  static const gemm_size size = { 5, 7, 3 };
  static const int full_c[2] = { 1, -1 };
  uint64_t seed = 400;

  for (int trans = 0; trans < 4; trans++)
    {
      gemm_case t;
      float *all_a, *all_b, *all_c;

      case_init (&t, size, trans & 1, trans & 2, full_c, seed++);
      all_a = test_floats (t.a_count);
      all_b = test_floats (t.b_count);
      all_c = test_floats (t.c_count);
      graft_gemm_backward (&t.p, t.a, t.b, t.dy, all_a, all_b, all_c);
      for (int mask = 0; mask < 8; mask++)
        {
          float *da = (mask & 1) ? test_floats (t.a_count) : NULL;
          float *db = (mask & 2) ? test_floats (t.b_count) : NULL;
          float *dc = (mask & 4) ? test_floats (t.c_count) : NULL;

          graft_gemm_backward (&t.p, db ? t.a : NULL, da ? t.b : NULL, t.dy, da, db, dc);
          if (da)
            g_assert_cmpmem (da, t.a_count * sizeof (float), all_a, t.a_count * sizeof (float));
          if (db)
            g_assert_cmpmem (db, t.b_count * sizeof (float), all_b, t.b_count * sizeof (float));
          if (dc)
            g_assert_cmpmem (dc, t.c_count * sizeof (float), all_c, t.c_count * sizeof (float));
          g_free (da);
          g_free (db);
          g_free (dc);
        }
      g_free (all_a);
      g_free (all_b);
      g_free (all_c);
      case_clear (&t);
    }
}

static void
expect_setup_error (graft_gemm_params p, graft_status status)
{
  graft_error error;
  graft_error_clear (&error);
  g_assert_cmpint (graft_gemm_setup (&p, &error), ==, status);
  g_assert_cmpint (error.status, ==, status);
  g_assert_cmpuint (strlen (error.message), >, 0);
  g_test_message ("%s", error.message);
  /* A NULL error is fine too. */
  g_assert_cmpint (graft_gemm_setup (&p, NULL), ==, status);
}

static void
test_setup (void)
{
  const graft_gemm_params good = { .m = 3, .n = 4, .k = 5, .alpha = 1, .beta = 1, .c_rows = 3, .c_cols = 4 };
  graft_gemm_params p;
  graft_error error;

  p = good;
  g_assert_cmpint (graft_gemm_setup (&p, &error), ==, GRAFT_OK);
  for (int rows = 0; rows <= 5; rows++)
    for (int cols = 0; cols <= 5; cols++)
      {
        bool valid = (rows == 0 && cols == 0)
                     || ((rows == 1 || rows == 3) && (cols == 1 || cols == 4));
        p = good;
        p.c_rows = rows;
        p.c_cols = cols;
        if (valid)
          g_assert_cmpint (graft_gemm_setup (&p, &error), ==, GRAFT_OK);
        else
          expect_setup_error (p, GRAFT_ERROR_SHAPE);
      }

  p = good;
  p.m = 0;
  expect_setup_error (p, GRAFT_ERROR_SHAPE);
  p = good;
  p.n = -1;
  expect_setup_error (p, GRAFT_ERROR_SHAPE);
  p = good;
  p.k = INT_MIN;
  expect_setup_error (p, GRAFT_ERROR_SHAPE);
  p = good;
  p.c_rows = -3;
  expect_setup_error (p, GRAFT_ERROR_SHAPE);

  /* A, B and Y of INT_MAX^2 floats each do not fit in the address space together. */
  p = good;
  p.m = p.n = p.k = INT_MAX;
  p.c_rows = 0;
  p.c_cols = 0;
  expect_setup_error (p, GRAFT_ERROR_OVERFLOW);

  p = good;
  p.alpha = NAN;
  expect_setup_error (p, GRAFT_ERROR_INVALID_ARGUMENT);
  p = good;
  p.beta = INFINITY;
  expect_setup_error (p, GRAFT_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gemm/forward", test_forward);
  g_test_add_func ("/engine/gemm/reference-gradient", test_reference_gradient);
  g_test_add_func ("/engine/gemm/backward", test_backward);
  g_test_add_func ("/engine/gemm/null-gradients", test_null_gradients);
  g_test_add_func ("/engine/gemm/setup", test_setup);
  return g_test_run ();
}
