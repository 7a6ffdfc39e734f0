/* Tests of Add and Mul with numpy broadcasting: setup (output shapes, rejected
 * shapes), fast path against the double reference on many shape pairs, reference
 * gradients against finite differences, accumulation, NULL gradients, in-place
 * forward and thread-count independence of the reductions. */
#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

#include <math.h>
#include <string.h>

typedef struct {
  int ra;
  int64_t a[GRAFT_MAX_RANK];
  int rb;
  int64_t b[GRAFT_MAX_RANK];
  int ry;
  int64_t y[GRAFT_MAX_RANK];  /* what numpy gives */
} shape_pair;

static const shape_pair pairs[] = {
  /* equal shapes */
  { 4, { 2, 3, 4, 5 }, 4, { 2, 3, 4, 5 }, 4, { 2, 3, 4, 5 } },
  { 1, { 7 }, 1, { 7 }, 1, { 7 } },
  { 1, { 1 }, 1, { 1 }, 1, { 1 } },
  { 0, { 0 }, 0, { 0 }, 0, { 0 } },
  /* scalars, either side, rank 0 or all ones */
  { 4, { 2, 3, 5, 7 }, 1, { 1 }, 4, { 2, 3, 5, 7 } },
  { 4, { 2, 3, 5, 7 }, 0, { 0 }, 4, { 2, 3, 5, 7 } },
  { 1, { 1 }, 1, { 13 }, 1, { 13 } },
  { 4, { 1, 1, 1, 1 }, 3, { 3, 1, 7 }, 4, { 1, 3, 1, 7 } },
  /* squeeze-excite, both orders */
  { 4, { 2, 8, 1, 1 }, 4, { 2, 8, 7, 7 }, 4, { 2, 8, 7, 7 } },
  { 4, { 2, 8, 7, 7 }, 4, { 2, 8, 1, 1 }, 4, { 2, 8, 7, 7 } },
  { 4, { 3, 5, 13, 13 }, 4, { 3, 5, 1, 1 }, 4, { 3, 5, 13, 13 } },
  { 4, { 1, 3, 1, 1 }, 4, { 1, 3, 1, 1 }, 4, { 1, 3, 1, 1 } },
  /* per-channel vectors */
  { 4, { 1, 3, 1, 1 }, 4, { 2, 3, 5, 7 }, 4, { 2, 3, 5, 7 } },
  { 4, { 2, 3, 5, 7 }, 3, { 3, 1, 1 }, 4, { 2, 3, 5, 7 } },
  { 3, { 3, 1, 1 }, 4, { 1, 3, 4, 4 }, 4, { 1, 3, 4, 4 } },
  /* general */
  { 3, { 3, 1, 5 }, 3, { 1, 4, 1 }, 3, { 3, 4, 5 } },
  { 3, { 1, 4, 1 }, 3, { 3, 1, 5 }, 3, { 3, 4, 5 } },
  { 1, { 5 }, 3, { 2, 3, 5 }, 3, { 2, 3, 5 } },
  { 3, { 2, 3, 5 }, 1, { 5 }, 3, { 2, 3, 5 } },
  { 2, { 1, 9 }, 2, { 6, 9 }, 2, { 6, 9 } },
  { 2, { 6, 1 }, 2, { 6, 9 }, 2, { 6, 9 } },
  { 2, { 6, 1 }, 2, { 1, 9 }, 2, { 6, 9 } },
  { 6, { 2, 1, 3, 1, 2, 1 }, 6, { 1, 3, 1, 2, 1, 3 }, 6, { 2, 3, 3, 2, 2, 3 } },
  { 5, { 3, 1, 1, 2, 1 }, 2, { 1, 4 }, 5, { 3, 1, 1, 2, 4 } },
  { 5, { 3, 1, 4, 2, 1 }, 3, { 4, 1, 3 }, 5, { 3, 1, 4, 2, 3 } },
  { 5, { 3, 1, 4, 2, 1 }, 4, { 5, 1, 1, 1 }, 5, { 3, 5, 4, 2, 1 } },
  /* empty outputs */
  { 2, { 0, 3 }, 2, { 1, 3 }, 2, { 0, 3 } },
  { 1, { 1 }, 1, { 0 }, 1, { 0 } },
  /* large enough for several threads, and kept runs longer than one block */
  { 4, { 4, 64, 1, 1 }, 4, { 4, 64, 28, 28 }, 4, { 4, 64, 28, 28 } },
  { 4, { 4, 64, 28, 28 }, 4, { 1, 64, 1, 1 }, 4, { 4, 64, 28, 28 } },
  { 4, { 2, 32, 30, 30 }, 4, { 2, 32, 30, 30 }, 4, { 2, 32, 30, 30 } },
  { 2, { 1, 300 }, 2, { 700, 300 }, 2, { 700, 300 } },
  { 3, { 37, 1, 517 }, 3, { 1, 41, 1 }, 3, { 37, 41, 517 } },
  { 2, { 50000, 1 }, 1, { 3 }, 2, { 50000, 3 } },
  { 4, { 2, 48, 40, 40 }, 0, { 0 }, 4, { 2, 48, 40, 40 } },
};
#define N_PAIRS (sizeof pairs / sizeof pairs[0])

static size_t
elements (const graft_shape *s)
{
  size_t n = 1;
  for (int k = 0; k < s->rank; k++)
    n *= (size_t) s->dims[k];
  return n;
}

static graft_broadcast_params
setup_pair (const shape_pair *sp, char *name, size_t size)
{
  graft_broadcast_params p = { .a = graft_shape_make (sp->ra, sp->a), .b = graft_shape_make (sp->rb, sp->b) };
  graft_shape want = graft_shape_make (sp->ry, sp->y);
  graft_error error;
  char ta[128], tb[128];

  graft_error_clear (&error);
  graft_shape_format (&p.a, ta, sizeof ta);
  graft_shape_format (&p.b, tb, sizeof tb);
  g_snprintf (name, size, "%s with %s", ta, tb);
  if (graft_broadcast_setup (&p, &error) != GRAFT_OK)
    g_error ("%s: setup failed: %s", name, error.message);
  g_assert_true (graft_shape_equal (&p.y, &want));
  return p;
}

static void
test_setup (void)
{
  for (size_t i = 0; i < N_PAIRS; i++)
    {
      char name[300];
      setup_pair (&pairs[i], name, sizeof name);
    }
}

static void
expect_error (graft_shape a, graft_shape b, graft_status status, const char *needle1, const char *needle2)
{
  graft_broadcast_params p = { .a = a, .b = b };
  graft_error error;
  graft_error_clear (&error);
  g_assert_cmpint (graft_broadcast_setup (&p, &error), ==, status);
  g_assert_cmpint (error.status, ==, status);
  g_assert_cmpstr (error.message, !=, "");
  if (needle1 != NULL)
    g_assert_nonnull (strstr (error.message, needle1));
  if (needle2 != NULL)
    g_assert_nonnull (strstr (error.message, needle2));
  /* A NULL error is fine too. */
  g_assert_cmpint (graft_broadcast_setup (&p, NULL), ==, status);
}

static void
test_setup_rejects (void)
{
  int64_t big = (int64_t) 1 << 40;
  expect_error (graft_shape_2d (3, 4), graft_shape_make (1, (int64_t[]) { 5 }), GRAFT_ERROR_SHAPE,
                "(3, 4)", "(5)");
  expect_error (graft_shape_2d (2, 3), graft_shape_2d (3, 2), GRAFT_ERROR_SHAPE, "(2, 3)", "(3, 2)");
  expect_error (graft_shape_4d (2, 8, 7, 7), graft_shape_4d (2, 8, 1, 2), GRAFT_ERROR_SHAPE,
                "(2, 8, 7, 7)", "(2, 8, 1, 2)");
  expect_error (graft_shape_2d (0, 3), graft_shape_2d (2, 3), GRAFT_ERROR_SHAPE, "(0, 3)", "(2, 3)");
  expect_error (graft_shape_2d (-1, 3), graft_shape_2d (1, 3), GRAFT_ERROR_SHAPE, "(-1, 3)", NULL);
  expect_error (graft_shape_2d (2, 3), graft_shape_2d (2, -3), GRAFT_ERROR_SHAPE, "(2, -3)", NULL);
  {
    graft_shape bad_rank = { .rank = GRAFT_MAX_RANK + 1 };
    graft_shape negative_rank = { .rank = -1 };
    expect_error (bad_rank, graft_shape_2d (1, 1), GRAFT_ERROR_SHAPE, NULL, NULL);
    expect_error (graft_shape_2d (1, 1), negative_rank, GRAFT_ERROR_SHAPE, NULL, NULL);
  }
  /* Each input fits, the output does not. */
  expect_error (graft_shape_2d (big, 1), graft_shape_2d (1, big), GRAFT_ERROR_OVERFLOW, NULL, NULL);
  expect_error (graft_shape_2d (INT64_MAX, 2), graft_shape_2d (1, 2), GRAFT_ERROR_OVERFLOW, NULL, NULL);
}

typedef struct {
  float *a, *b, *y, *dy, *da, *db;
  double *ad, *bd, *yd, *dyd, *dad, *dbd;
  size_t na, nb, ny;
} buffers;

static void
buffers_init (buffers *t, const graft_broadcast_params *p, uint64_t seed)
{
  t->na = elements (&p->a);
  t->nb = elements (&p->b);
  t->ny = elements (&p->y);
  t->a = test_floats (t->na);
  t->b = test_floats (t->nb);
  t->da = test_floats (t->na);
  t->db = test_floats (t->nb);
  t->y = test_floats (t->ny);
  t->dy = test_floats (t->ny);
  t->ad = test_doubles (t->na);
  t->bd = test_doubles (t->nb);
  t->dad = test_doubles (t->na);
  t->dbd = test_doubles (t->nb);
  t->yd = test_doubles (t->ny);
  t->dyd = test_doubles (t->ny);
  test_fill_uniform_float (t->a, t->na, seed, -1, 1);
  test_fill_uniform_float (t->b, t->nb, seed + 1, -1, 1);
  test_fill_uniform_float (t->dy, t->ny, seed + 2, -1, 1);
  /* Gradients start non-zero: backward accumulates. */
  test_fill_uniform_float (t->da, t->na, seed + 3, -2, 2);
  test_fill_uniform_float (t->db, t->nb, seed + 4, -2, 2);
  test_to_double (t->a, t->ad, t->na);
  test_to_double (t->b, t->bd, t->nb);
  test_to_double (t->dy, t->dyd, t->ny);
  test_to_double (t->da, t->dad, t->na);
  test_to_double (t->db, t->dbd, t->nb);
}

static void
buffers_free (buffers *t)
{
  g_free (t->a); g_free (t->b); g_free (t->y); g_free (t->dy); g_free (t->da); g_free (t->db);
  g_free (t->ad); g_free (t->bd); g_free (t->yd); g_free (t->dyd); g_free (t->dad); g_free (t->dbd);
}

static void
test_forward (void)
{
  for (size_t i = 0; i < N_PAIRS; i++)
    for (int mul = 0; mul < 2; mul++)
      {
        char name[300], what[400];
        graft_broadcast_params p = setup_pair (&pairs[i], name, sizeof name);
        buffers t;
        buffers_init (&t, &p, 10 + i);
        if (mul)
          {
            graft_mul_forward (&p, t.a, t.b, t.y);
            graft_mul_forward_reference (&p, t.ad, t.bd, t.yd);
          }
        else
          {
            graft_add_forward (&p, t.a, t.b, t.y);
            graft_add_forward_reference (&p, t.ad, t.bd, t.yd);
          }
        g_snprintf (what, sizeof what, "%s forward, %s", mul ? "mul" : "add", name);
        test_assert_close (what, t.y, t.yd, t.ny, 1e-6, 1e-6);
        buffers_free (&t);
      }
}

/* y may be a when a has y's shape (and b likewise). */
static void
test_forward_in_place (void)
{
  graft_broadcast_params p = { .a = graft_shape_4d (2, 8, 7, 7), .b = graft_shape_4d (2, 8, 1, 1) };
  buffers t;
  g_assert_cmpint (graft_broadcast_setup (&p, NULL), ==, GRAFT_OK);
  buffers_init (&t, &p, 77);
  graft_mul_forward_reference (&p, t.ad, t.bd, t.yd);
  graft_mul_forward (&p, t.a, t.b, t.a);
  test_assert_close ("mul in place", t.a, t.yd, t.ny, 1e-6, 1e-6);
  buffers_free (&t);

  p.a = graft_shape_make (1, (int64_t[]) { 5 });
  p.b = graft_shape_make (3, (int64_t[]) { 2, 3, 5 });
  g_assert_cmpint (graft_broadcast_setup (&p, NULL), ==, GRAFT_OK);
  buffers_init (&t, &p, 78);
  graft_add_forward_reference (&p, t.ad, t.bd, t.yd);
  graft_add_forward (&p, t.a, t.b, t.b);
  test_assert_close ("add in place", t.b, t.yd, t.ny, 1e-6, 1e-6);
  buffers_free (&t);
}

typedef struct {
  const graft_broadcast_params *p;
  bool mul;
  double *a, *b, *r, *y;
} loss_ctx;

static double
loss (void *data)
{
  loss_ctx *ctx = data;
  if (ctx->mul)
    graft_mul_forward_reference (ctx->p, ctx->a, ctx->b, ctx->y);
  else
    graft_add_forward_reference (ctx->p, ctx->a, ctx->b, ctx->y);
  return test_dot (ctx->y, ctx->r, elements (&ctx->p->y));
}

static void
test_reference_gradient (void)
{
  for (size_t i = 0; i < N_PAIRS; i++)
    for (int mul = 0; mul < 2; mul++)
      {
        char name[300], what[400];
        graft_broadcast_params p = setup_pair (&pairs[i], name, sizeof name);
        size_t na = elements (&p.a), nb = elements (&p.b), ny = elements (&p.y);
        double *a, *b, *r, *y, *da, *db;
        loss_ctx ctx;

        if (ny > 2000)
          continue;
        a = test_doubles (na);
        b = test_doubles (nb);
        r = test_doubles (ny);
        y = test_doubles (ny);
        da = test_doubles (na);
        db = test_doubles (nb);
        test_fill_uniform (a, na, 20 + i, -1, 1);
        test_fill_uniform (b, nb, 30 + i, -1, 1);
        test_fill_uniform (r, ny, 40 + i, -1, 1);
        if (mul)
          graft_mul_backward_reference (&p, a, b, r, da, db);
        else
          graft_add_backward_reference (&p, r, da, db);
        ctx = (loss_ctx) { &p, mul, a, b, r, y };
        g_snprintf (what, sizeof what, "%s reference d/da, %s", mul ? "mul" : "add", name);
        test_check_gradient (what, a, na, da, loss, &ctx, 1e-6, 1e-6);
        g_snprintf (what, sizeof what, "%s reference d/db, %s", mul ? "mul" : "add", name);
        test_check_gradient (what, b, nb, db, loss, &ctx, 1e-6, 1e-6);
        g_free (a); g_free (b); g_free (r); g_free (y); g_free (da); g_free (db);
      }
}

/* Fast backward against the reference, from pre-filled gradients (accumulation),
 * for both gradients and with each one NULL in turn. */
static void
test_backward (void)
{
  for (size_t i = 0; i < N_PAIRS; i++)
    for (int mul = 0; mul < 2; mul++)
      for (int which = 0; which < 3; which++)
        {
          char name[300], what[400];
          graft_broadcast_params p = setup_pair (&pairs[i], name, sizeof name);
          bool want_a = which != 2, want_b = which != 1;
          buffers t;
          float *db_before;

          buffers_init (&t, &p, 50 + i);
          db_before = g_memdup2 (t.db, sizeof (float) * (t.nb ? t.nb : 1));
          if (mul)
            {
              graft_mul_backward (&p, t.a, t.b, t.dy, want_a ? t.da : NULL, want_b ? t.db : NULL);
              graft_mul_backward_reference (&p, t.ad, t.bd, t.dyd, want_a ? t.dad : NULL,
                                            want_b ? t.dbd : NULL);
            }
          else
            {
              graft_add_backward (&p, t.dy, want_a ? t.da : NULL, want_b ? t.db : NULL);
              graft_add_backward_reference (&p, t.dyd, want_a ? t.dad : NULL, want_b ? t.dbd : NULL);
            }
          /* An untouched gradient keeps its values exactly. */
          g_snprintf (what, sizeof what, "%s backward da, %s", mul ? "mul" : "add", name);
          test_assert_close (what, t.da, t.dad, t.na, want_a ? 1e-4 : 0, want_a ? 1e-5 : 0);
          g_snprintf (what, sizeof what, "%s backward db, %s", mul ? "mul" : "add", name);
          test_assert_close (what, t.db, t.dbd, t.nb, want_b ? 1e-4 : 0, want_b ? 1e-5 : 0);
          if (!want_b)
            g_assert_cmpmem (t.db, sizeof (float) * t.nb, db_before, sizeof (float) * t.nb);
          g_free (db_before);
          buffers_free (&t);
        }
}

/* Accumulation spelled out: running backward twice adds the gradient twice. */
static void
test_accumulate (void)
{
  graft_broadcast_params p = { .a = graft_shape_4d (2, 8, 1, 1), .b = graft_shape_4d (2, 8, 7, 7) };
  buffers t;
  float *da1, *db1;
  double *want_a, *want_b;

  g_assert_cmpint (graft_broadcast_setup (&p, NULL), ==, GRAFT_OK);
  buffers_init (&t, &p, 90);
  da1 = test_floats (t.na);
  db1 = test_floats (t.nb);
  want_a = test_doubles (t.na);
  want_b = test_doubles (t.nb);
  graft_mul_backward (&p, t.a, t.b, t.dy, da1, db1);          /* from zero */
  graft_mul_backward (&p, t.a, t.b, t.dy, t.da, t.db);        /* from the pre-fill */
  for (size_t i = 0; i < t.na; i++)
    want_a[i] = t.dad[i] + da1[i];
  for (size_t i = 0; i < t.nb; i++)
    want_b[i] = t.dbd[i] + db1[i];
  test_assert_close ("accumulated da", t.da, want_a, t.na, 1e-6, 1e-6);
  test_assert_close ("accumulated db", t.db, want_b, t.nb, 1e-6, 1e-6);
  /* Nothing wanted: nothing happens. */
  graft_mul_backward (&p, t.a, t.b, t.dy, NULL, NULL);
  graft_add_backward (&p, t.dy, NULL, NULL);
  graft_mul_backward_reference (&p, t.ad, t.bd, t.dyd, NULL, NULL);
  graft_add_backward_reference (&p, t.dyd, NULL, NULL);
  g_free (da1); g_free (db1); g_free (want_a); g_free (want_b);
  buffers_free (&t);
}

/* The reductions give the same bits on 1, 2 and 3 threads. */
static void
test_deterministic (void)
{
  static const int shapes[][2][4] = {
    { { 4, 64, 1, 1 }, { 4, 64, 28, 28 } },
    { { 1, 64, 1, 1 }, { 4, 64, 28, 28 } },
    { { 1, 1, 1, 300 }, { 1, 1, 700, 300 } },
  };
  int saved = graft_get_num_threads ();
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      graft_broadcast_params p = {
        .a = graft_shape_4d (shapes[s][0][0], shapes[s][0][1], shapes[s][0][2], shapes[s][0][3]),
        .b = graft_shape_4d (shapes[s][1][0], shapes[s][1][1], shapes[s][1][2], shapes[s][1][3]),
      };
      buffers t;
      float *da1, *db1;
      g_assert_cmpint (graft_broadcast_setup (&p, NULL), ==, GRAFT_OK);
      buffers_init (&t, &p, 100 + s);
      da1 = test_floats (t.na);
      db1 = test_floats (t.nb);
      graft_set_num_threads (1);
      graft_mul_backward (&p, t.a, t.b, t.dy, da1, NULL);
      graft_add_backward (&p, t.dy, NULL, db1);
      for (int threads = 2; threads <= 3; threads++)
        {
          float *da2 = test_floats (t.na), *db2 = test_floats (t.nb);
          graft_set_num_threads (threads);
          graft_mul_backward (&p, t.a, t.b, t.dy, da2, NULL);
          graft_add_backward (&p, t.dy, NULL, db2);
          g_assert_cmpmem (da1, sizeof (float) * t.na, da2, sizeof (float) * t.na);
          g_assert_cmpmem (db1, sizeof (float) * t.nb, db2, sizeof (float) * t.nb);
          g_free (da2);
          g_free (db2);
        }
      g_free (da1);
      g_free (db1);
      buffers_free (&t);
    }
  graft_set_num_threads (saved);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/elementwise/setup", test_setup);
  g_test_add_func ("/engine/elementwise/setup-rejects", test_setup_rejects);
  g_test_add_func ("/engine/elementwise/forward", test_forward);
  g_test_add_func ("/engine/elementwise/forward-in-place", test_forward_in_place);
  g_test_add_func ("/engine/elementwise/reference-gradient", test_reference_gradient);
  g_test_add_func ("/engine/elementwise/backward", test_backward);
  g_test_add_func ("/engine/elementwise/accumulate", test_accumulate);
  g_test_add_func ("/engine/elementwise/deterministic", test_deterministic);
  return g_test_run ();
}
