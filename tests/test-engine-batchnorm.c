/* test-engine-batchnorm.c: BatchNormalization, fast path against the double reference,
 * the reference against finite differences, and against PyTorch. */
#include "engine/ops.h"
#include "engine/parallel.h"
#include "gradcheck.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  int n, c;
  size_t spatial;
} shape3;

/* Odd sizes, a single value per channel, an (N,C) input, more channels than one
 * stack block (256), a large one that takes the parallel paths, and rows of 300: a
 * block of 256 summed, then 44 (two lane groups and a tail). */
static const shape3 shapes[] = {
  { 1, 1, 1 }, { 1, 7, 1 }, { 2, 3, 7 }, { 3, 1, 13 }, { 13, 5, 1 },
  { 7, 3, 13 }, { 2, 300, 9 }, { 8, 32, 3136 }, { 3, 4, 300 },
};

static graft_batchnorm_params
make_params (int n, int c, size_t spatial)
{
  graft_batchnorm_params p = { .n = n, .c = c, .spatial = spatial,
                               .epsilon = 1e-5f, .momentum = 0.9f };
  graft_error error;
  g_assert_cmpint (graft_batchnorm_setup (&p, &error), ==, GRAFT_OK);
  return p;
}

static size_t
count_of (const graft_batchnorm_params *p)
{
  return (size_t) p->n * (size_t) p->c * p->spatial;
}

/* Every input of one case, in double (for the reference) and in float (for the fast path). */
typedef struct {
  graft_batchnorm_params p;
  size_t count;
  double *x, *gamma, *beta, *rmean, *rvar, *dy;
  float *xf, *gammaf, *betaf, *rmeanf, *rvarf, *dyf;
} bn_case;

static void
case_init (bn_case *t, int n, int c, size_t spatial, uint64_t seed)
{
  t->p = make_params (n, c, spatial);
  t->count = count_of (&t->p);
  t->x = test_doubles (t->count);
  t->dy = test_doubles (t->count);
  t->gamma = test_doubles (c);
  t->beta = test_doubles (c);
  t->rmean = test_doubles (c);
  t->rvar = test_doubles (c);
  test_fill_uniform (t->x, t->count, seed, -1.0, 2.0);
  test_fill_uniform (t->dy, t->count, seed + 1, -1.0, 1.0);
  test_fill_uniform (t->gamma, c, seed + 2, 0.5, 1.5);
  test_fill_uniform (t->beta, c, seed + 3, -0.5, 0.5);
  test_fill_uniform (t->rmean, c, seed + 4, -0.5, 0.5);
  test_fill_uniform (t->rvar, c, seed + 5, 0.5, 2.0);
  /* Round the doubles to float values so both paths see the same numbers. */
  t->xf = test_floats (t->count);
  t->dyf = test_floats (t->count);
  t->gammaf = test_floats (c);
  t->betaf = test_floats (c);
  t->rmeanf = test_floats (c);
  t->rvarf = test_floats (c);
  test_to_float (t->x, t->xf, t->count);
  test_to_float (t->dy, t->dyf, t->count);
  test_to_float (t->gamma, t->gammaf, c);
  test_to_float (t->beta, t->betaf, c);
  test_to_float (t->rmean, t->rmeanf, c);
  test_to_float (t->rvar, t->rvarf, c);
  test_to_double (t->xf, t->x, t->count);
  test_to_double (t->dyf, t->dy, t->count);
  test_to_double (t->gammaf, t->gamma, c);
  test_to_double (t->betaf, t->beta, c);
  test_to_double (t->rmeanf, t->rmean, c);
  test_to_double (t->rvarf, t->rvar, c);
}

static void
case_clear (bn_case *t)
{
  g_free (t->x); g_free (t->dy); g_free (t->gamma); g_free (t->beta);
  g_free (t->rmean); g_free (t->rvar);
  g_free (t->xf); g_free (t->dyf); g_free (t->gammaf); g_free (t->betaf);
  g_free (t->rmeanf); g_free (t->rvarf);
}

/* Batch statistics of the double input, for checking saved and running values. */
static void
batch_statistics (const graft_batchnorm_params *p, const double *x, int ci,
                  double *mean, double *biased, double *unbiased)
{
  size_t m = (size_t) p->n * p->spatial;
  double sum = 0, squares = 0;
  for (int ni = 0; ni < p->n; ni++)
    for (size_t s = 0; s < p->spatial; s++)
      sum += x[((size_t) ni * p->c + ci) * p->spatial + s];
  *mean = sum / m;
  for (int ni = 0; ni < p->n; ni++)
    for (size_t s = 0; s < p->spatial; s++)
      {
        double d = x[((size_t) ni * p->c + ci) * p->spatial + s] - *mean;
        squares += d * d;
      }
  *biased = squares / m;
  *unbiased = m > 1 ? squares / (m - 1) : *biased;
}

static void
test_setup (void)
{
  struct { int n, c; size_t spatial; float eps, momentum; graft_status want; } cases[] = {
    { 2, 3, 4, 1e-5f, 0.9f, GRAFT_OK },
    { 1, 1, 1, 1e-5f, 0.9f, GRAFT_OK },      /* one value per channel: allowed */
    { 2, 3, 4, 1e-5f, 0.0f, GRAFT_OK },
    { 2, 3, 4, 1e-5f, 1.0f, GRAFT_OK },
    { -1, 3, 4, 1e-5f, 0.9f, GRAFT_ERROR_SHAPE },
    { 2, -3, 4, 1e-5f, 0.9f, GRAFT_ERROR_SHAPE },
    { 0, 3, 4, 1e-5f, 0.9f, GRAFT_ERROR_SHAPE },
    { 2, 0, 4, 1e-5f, 0.9f, GRAFT_ERROR_SHAPE },
    { 2, 3, 0, 1e-5f, 0.9f, GRAFT_ERROR_SHAPE },
    { INT32_MAX, INT32_MAX, SIZE_MAX / 2, 1e-5f, 0.9f, GRAFT_ERROR_OVERFLOW },
    { 2, 2, SIZE_MAX / 8, 1e-5f, 0.9f, GRAFT_ERROR_OVERFLOW },  /* elements fit, bytes do not */
    { 2, 3, 4, 0.0f, 0.9f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, -1e-5f, 0.9f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, NAN, 0.9f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, INFINITY, 0.9f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, 1e-5f, -0.1f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, 1e-5f, 1.1f, GRAFT_ERROR_INVALID_ARGUMENT },
    { 2, 3, 4, 1e-5f, NAN, GRAFT_ERROR_INVALID_ARGUMENT },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      graft_batchnorm_params p = { .n = cases[i].n, .c = cases[i].c, .spatial = cases[i].spatial,
                                   .epsilon = cases[i].eps, .momentum = cases[i].momentum };
      graft_error error;
      graft_error_clear (&error);
      g_assert_cmpint (graft_batchnorm_setup (&p, &error), ==, cases[i].want);
      if (cases[i].want != GRAFT_OK)
        {
          g_assert_cmpint (error.status, ==, cases[i].want);
          g_assert_cmpstr (error.message, !=, "");
        }
      /* A NULL error is accepted too. */
      g_assert_cmpint (graft_batchnorm_setup (&p, NULL), ==, cases[i].want);
    }
}

static void
test_forward_training (void)
{
  for (size_t k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      bn_case t;
      float *y, *saved_mean, *saved_invstd, *rmean, *rvar;
      double *want;
      int c = shapes[k].c;

      case_init (&t, shapes[k].n, c, shapes[k].spatial, 100 + k);
      y = test_floats (t.count);
      want = test_doubles (t.count);
      saved_mean = test_floats (c);
      saved_invstd = test_floats (c);
      rmean = g_memdup2 (t.rmeanf, c * sizeof (float));
      rvar = g_memdup2 (t.rvarf, c * sizeof (float));

      graft_batchnorm_forward_training (&t.p, t.xf, t.gammaf, t.betaf, rmean, rvar,
                                        y, saved_mean, saved_invstd);
      graft_batchnorm_forward_training_reference (&t.p, t.x, t.gamma, t.beta, want);
      test_assert_close ("batchnorm training y", y, want, t.count, 2e-5, 2e-5);

      for (int ci = 0; ci < c; ci++)
        {
          double mean, biased, unbiased;
          double want_invstd, want_rmean, want_rvar;
          batch_statistics (&t.p, t.x, ci, &mean, &biased, &unbiased);
          want_invstd = 1 / sqrt (biased + (double) 1e-5f);
          want_rmean = t.rmean[ci] * (double) 0.9f + mean * (1 - (double) 0.9f);
          want_rvar = t.rvar[ci] * (double) 0.9f + unbiased * (1 - (double) 0.9f);
          test_assert_close ("batchnorm saved mean", &saved_mean[ci], &mean, 1, 1e-6, 1e-6);
          test_assert_close ("batchnorm saved invstd", &saved_invstd[ci], &want_invstd, 1, 0, 1e-6);
          test_assert_close ("batchnorm running mean", &rmean[ci], &want_rmean, 1, 1e-6, 1e-6);
          test_assert_close ("batchnorm running var", &rvar[ci], &want_rvar, 1, 1e-6, 1e-6);
        }

      g_free (y); g_free (want); g_free (saved_mean); g_free (saved_invstd);
      g_free (rmean); g_free (rvar);
      case_clear (&t);
    }
}

/* A large mean over a small spread: the double accumulators and the centring keep
 * the normalised output accurate. */
static void
test_forward_training_offset (void)
{
  bn_case t;
  float *y, saved_mean[3], saved_invstd[3], rmean[3] = { 0 }, rvar[3] = { 1, 1, 1 };
  double *want;

  case_init (&t, 16, 3, 1000, 7);
  for (size_t i = 0; i < t.count; i++)
    {
      t.xf[i] = 1000.0f + t.xf[i] * 0.01f;
      t.x[i] = t.xf[i];
    }
  y = test_floats (t.count);
  want = test_doubles (t.count);
  graft_batchnorm_forward_training (&t.p, t.xf, t.gammaf, t.betaf, rmean, rvar,
                                    y, saved_mean, saved_invstd);
  graft_batchnorm_forward_training_reference (&t.p, t.x, t.gamma, t.beta, want);
  /* The saved mean is rounded to float (3e-5 at 1000, against a spread of 0.01): the
   * fast path must correct for that rounding to stay this close. */
  test_assert_close ("batchnorm offset y", y, want, t.count, 2e-5, 2e-5);
  g_free (y);
  g_free (want);
  case_clear (&t);
}

static void
test_forward_inference (void)
{
  for (size_t k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      bn_case t;
      float *y;
      double *want;

      case_init (&t, shapes[k].n, shapes[k].c, shapes[k].spatial, 200 + k);
      y = test_floats (t.count);
      want = test_doubles (t.count);
      graft_batchnorm_forward_inference (&t.p, t.xf, t.gammaf, t.betaf, t.rmeanf, t.rvarf, y);
      graft_batchnorm_forward_inference_reference (&t.p, t.x, t.gamma, t.beta, t.rmean, t.rvar, want);
      test_assert_close ("batchnorm inference y", y, want, t.count, 1e-5, 1e-5);
      g_free (y);
      g_free (want);
      case_clear (&t);
    }
}

/* loss = dot(forward_reference(x, gamma, beta), r); which input varies is up to the caller. */
typedef struct {
  bn_case *t;
  bool training;
  double *y;
} loss_ctx;

static double
reference_loss (void *data)
{
  loss_ctx *ctx = data;
  bn_case *t = ctx->t;
  if (ctx->training)
    graft_batchnorm_forward_training_reference (&t->p, t->x, t->gamma, t->beta, ctx->y);
  else
    graft_batchnorm_forward_inference_reference (&t->p, t->x, t->gamma, t->beta,
                                                 t->rmean, t->rvar, ctx->y);
  return test_dot (ctx->y, t->dy, t->count);
}

static void
check_reference_gradient (bool training)
{
  static const shape3 small[] = { { 2, 3, 5 }, { 1, 2, 3 }, { 4, 1, 1 }, { 3, 2, 1 } };
  for (size_t k = 0; k < G_N_ELEMENTS (small); k++)
    {
      bn_case t;
      double *dx, *dgamma, *dbeta;
      loss_ctx ctx;
      int c = small[k].c;

      case_init (&t, small[k].n, c, small[k].spatial, 300 + k);
      dx = test_doubles (t.count);
      dgamma = test_doubles (c);
      dbeta = test_doubles (c);
      ctx.t = &t;
      ctx.training = training;
      ctx.y = test_doubles (t.count);
      if (training)
        graft_batchnorm_backward_training_reference (&t.p, t.x, t.gamma, t.dy, dx, dgamma, dbeta);
      else
        graft_batchnorm_backward_inference_reference (&t.p, t.x, t.gamma, t.rmean, t.rvar,
                                                      t.dy, dx, dgamma, dbeta);
      test_check_gradient ("batchnorm dx", t.x, t.count, dx, reference_loss, &ctx, 1e-6, 1e-6);
      test_check_gradient ("batchnorm dgamma", t.gamma, c, dgamma, reference_loss, &ctx, 1e-6, 1e-6);
      test_check_gradient ("batchnorm dbeta", t.beta, c, dbeta, reference_loss, &ctx, 1e-6, 1e-6);
      g_free (dx); g_free (dgamma); g_free (dbeta); g_free (ctx.y);
      case_clear (&t);
    }
}

static void
test_gradient_training (void)
{
  check_reference_gradient (true);
}

static void
test_gradient_inference (void)
{
  check_reference_gradient (false);
}

/* Runs the fast backward of one form; saved statistics come from the fast forward. */
static void
fast_backward (bn_case *t, bool training, float *dx, float *dgamma, float *dbeta)
{
  if (training)
    {
      int c = t->p.c;
      float *y = test_floats (t->count), *mean = test_floats (c), *invstd = test_floats (c);
      float *rmean = test_floats (c), *rvar = test_floats (c);
      graft_batchnorm_forward_training (&t->p, t->xf, t->gammaf, t->betaf, rmean, rvar,
                                        y, mean, invstd);
      graft_batchnorm_backward_training (&t->p, t->xf, t->gammaf, mean, invstd, t->dyf,
                                         dx, dgamma, dbeta);
      g_free (y); g_free (mean); g_free (invstd); g_free (rmean); g_free (rvar);
    }
  else
    graft_batchnorm_backward_inference (&t->p, t->xf, t->gammaf, t->rmeanf, t->rvarf, t->dyf,
                                        dx, dgamma, dbeta);
}

static void
reference_backward (bn_case *t, bool training, double *dx, double *dgamma, double *dbeta)
{
  if (training)
    graft_batchnorm_backward_training_reference (&t->p, t->x, t->gamma, t->dy, dx, dgamma, dbeta);
  else
    graft_batchnorm_backward_inference_reference (&t->p, t->x, t->gamma, t->rmean, t->rvar,
                                                  t->dy, dx, dgamma, dbeta);
}

static void
check_fast_backward (bool training)
{
  for (size_t k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      bn_case t;
      int c = shapes[k].c;
      float *dx, *dgamma, *dbeta;
      double *want_dx, *want_dgamma, *want_dbeta, sum_scale;

      case_init (&t, shapes[k].n, c, shapes[k].spatial, 400 + k);
      dx = test_floats (t.count);
      dgamma = test_floats (c);
      dbeta = test_floats (c);
      want_dx = test_doubles (t.count);
      want_dgamma = test_doubles (c);
      want_dbeta = test_doubles (c);
      fast_backward (&t, training, dx, dgamma, dbeta);
      reference_backward (&t, training, want_dx, want_dgamma, want_dbeta);
      /* dgamma and dbeta are sums of n*spatial terms of size ~1. */
      sum_scale = sqrt ((double) t.p.n * (double) t.p.spatial);
      test_assert_close ("batchnorm fast dx", dx, want_dx, t.count, 2e-5, 1e-4);
      test_assert_close ("batchnorm fast dgamma", dgamma, want_dgamma, c, 1e-5 * sum_scale, 1e-5);
      test_assert_close ("batchnorm fast dbeta", dbeta, want_dbeta, c, 1e-5 * sum_scale, 1e-5);
      g_free (dx); g_free (dgamma); g_free (dbeta);
      g_free (want_dx); g_free (want_dgamma); g_free (want_dbeta);
      case_clear (&t);
    }
}

static void
test_backward_training (void)
{
  check_fast_backward (true);
}

static void
test_backward_inference (void)
{
  check_fast_backward (false);
}

/* Gradient buffers pre-filled with known values end up as those values plus the
 * gradient, for the fast path and the reference, in both forms. */
static void
test_accumulate (void)
{
  for (int training = 0; training <= 1; training++)
    {
      bn_case t;
      int c = 5;
      float *dx, *dgamma, *dbeta;
      double *g_dx, *g_dgamma, *g_dbeta, *r_dx, *r_dgamma, *r_dbeta;
      double *want_dx, *want_dgamma, *want_dbeta;

      case_init (&t, 3, c, 7, 500 + training);
      dx = test_floats (t.count); dgamma = test_floats (c); dbeta = test_floats (c);
      g_dx = test_doubles (t.count); g_dgamma = test_doubles (c); g_dbeta = test_doubles (c);
      r_dx = test_doubles (t.count); r_dgamma = test_doubles (c); r_dbeta = test_doubles (c);
      want_dx = test_doubles (t.count); want_dgamma = test_doubles (c); want_dbeta = test_doubles (c);

      /* The plain gradient, from zero. */
      reference_backward (&t, training, g_dx, g_dgamma, g_dbeta);
      /* Known starting values. */
      for (size_t i = 0; i < t.count; i++)
        r_dx[i] = dx[i] = 0.25f + 0.125f * (float) (i % 7);
      for (int i = 0; i < c; i++)
        {
          r_dgamma[i] = dgamma[i] = -1.5f + 0.5f * (float) i;
          r_dbeta[i] = dbeta[i] = 2.0f - 0.25f * (float) i;
        }
      for (size_t i = 0; i < t.count; i++)
        want_dx[i] = dx[i] + g_dx[i];
      for (int i = 0; i < c; i++)
        {
          want_dgamma[i] = dgamma[i] + g_dgamma[i];
          want_dbeta[i] = dbeta[i] + g_dbeta[i];
        }

      fast_backward (&t, training, dx, dgamma, dbeta);
      reference_backward (&t, training, r_dx, r_dgamma, r_dbeta);
      test_assert_close ("batchnorm accumulated dx", dx, want_dx, t.count, 1e-5, 1e-5);
      test_assert_close ("batchnorm accumulated dgamma", dgamma, want_dgamma, c, 1e-5, 1e-5);
      test_assert_close ("batchnorm accumulated dbeta", dbeta, want_dbeta, c, 1e-5, 1e-5);
      test_assert_close_double ("batchnorm reference accumulated dx", r_dx, want_dx, t.count, 1e-12, 1e-12);
      test_assert_close_double ("batchnorm reference accumulated dgamma", r_dgamma, want_dgamma, c, 1e-12, 1e-12);
      test_assert_close_double ("batchnorm reference accumulated dbeta", r_dbeta, want_dbeta, c, 1e-12, 1e-12);

      g_free (dx); g_free (dgamma); g_free (dbeta);
      g_free (g_dx); g_free (g_dgamma); g_free (g_dbeta);
      g_free (r_dx); g_free (r_dgamma); g_free (r_dbeta);
      g_free (want_dx); g_free (want_dgamma); g_free (want_dbeta);
      case_clear (&t);
    }
}

/* Every subset of NULL gradient outputs: the others get the same values as with all
 * three requested. */
static void
test_null_gradients (void)
{
  for (int training = 0; training <= 1; training++)
    {
      bn_case t;
      int c = 4;
      float *full_dx, *full_dgamma, *full_dbeta;
      double *ref_dx, *ref_dgamma, *ref_dbeta;

      case_init (&t, 2, c, 9, 600 + training);
      full_dx = test_floats (t.count); full_dgamma = test_floats (c); full_dbeta = test_floats (c);
      ref_dx = test_doubles (t.count); ref_dgamma = test_doubles (c); ref_dbeta = test_doubles (c);
      fast_backward (&t, training, full_dx, full_dgamma, full_dbeta);
      reference_backward (&t, training, ref_dx, ref_dgamma, ref_dbeta);

      for (int mask = 0; mask < 8; mask++)
        {
          float *dx = mask & 1 ? test_floats (t.count) : NULL;
          float *dgamma = mask & 2 ? test_floats (c) : NULL;
          float *dbeta = mask & 4 ? test_floats (c) : NULL;
          double *rdx = mask & 1 ? test_doubles (t.count) : NULL;
          double *rdgamma = mask & 2 ? test_doubles (c) : NULL;
          double *rdbeta = mask & 4 ? test_doubles (c) : NULL;
          double *want;

          fast_backward (&t, training, dx, dgamma, dbeta);
          reference_backward (&t, training, rdx, rdgamma, rdbeta);
          if (dx != NULL)
            {
              want = test_doubles (t.count);
              test_to_double (full_dx, want, t.count);
              test_assert_close ("batchnorm dx alone", dx, want, t.count, 0, 0);
              test_assert_close_double ("batchnorm reference dx alone", rdx, ref_dx, t.count, 0, 0);
              g_free (want);
            }
          if (dgamma != NULL)
            {
              want = test_doubles (c);
              test_to_double (full_dgamma, want, c);
              test_assert_close ("batchnorm dgamma alone", dgamma, want, c, 0, 0);
              test_assert_close_double ("batchnorm reference dgamma alone", rdgamma, ref_dgamma, c, 0, 0);
              g_free (want);
            }
          if (dbeta != NULL)
            {
              want = test_doubles (c);
              test_to_double (full_dbeta, want, c);
              test_assert_close ("batchnorm dbeta alone", dbeta, want, c, 0, 0);
              test_assert_close_double ("batchnorm reference dbeta alone", rdbeta, ref_dbeta, c, 0, 0);
              g_free (want);
            }
          g_free (dx); g_free (dgamma); g_free (dbeta);
          g_free (rdx); g_free (rdgamma); g_free (rdbeta);
        }
      g_free (full_dx); g_free (full_dgamma); g_free (full_dbeta);
      g_free (ref_dx); g_free (ref_dgamma); g_free (ref_dbeta);
      case_clear (&t);
    }
}

/* Two training steps, running statistics worked out by hand:
 * running = running * momentum + batch * (1 - momentum), unbiased batch variance. */
static void
test_running_statistics (void)
{
  /* (N=2, C=1, S=2): step 1 values {1, 3, 5, 7}, step 2 {0, 0, 2, 2}. */
  static const float x1[] = { 1, 3, 5, 7 }, x2[] = { 0, 0, 2, 2 };
  graft_batchnorm_params p = make_params (2, 1, 2);
  float gamma = 1, beta = 0, rmean = 0, rvar = 1, y[4], mean, invstd;
  double want;

  /* Step 1: mean 4, squares 9+1+1+9 = 20, biased 5, unbiased 20/3.
   * running mean = 0 * 0.9 + 4 * 0.1 = 0.4; running var = 1 * 0.9 + 20/3 * 0.1 = 1.5666... */
  graft_batchnorm_forward_training (&p, x1, &gamma, &beta, &rmean, &rvar, y, &mean, &invstd);
  want = 4;
  test_assert_close ("step 1 saved mean", &mean, &want, 1, 0, 1e-7);
  want = 1 / sqrt (5 + (double) 1e-5f);
  test_assert_close ("step 1 saved invstd", &invstd, &want, 1, 0, 1e-7);
  want = 0.4;
  test_assert_close ("step 1 running mean", &rmean, &want, 1, 0, 1e-6);
  want = 0.9 + 20.0 / 3 * 0.1;
  test_assert_close ("step 1 running var", &rvar, &want, 1, 0, 1e-6);

  /* Step 2: mean 1, squares 4 * 1 = 4, unbiased 4/3.
   * running mean = 0.4 * 0.9 + 1 * 0.1 = 0.46; running var = 1.5666... * 0.9 + 4/3 * 0.1. */
  graft_batchnorm_forward_training (&p, x2, &gamma, &beta, &rmean, &rvar, y, &mean, &invstd);
  want = 0.46;
  test_assert_close ("step 2 running mean", &rmean, &want, 1, 0, 1e-6);
  want = (0.9 + 20.0 / 3 * 0.1) * 0.9 + 4.0 / 3 * 0.1;
  test_assert_close ("step 2 running var", &rvar, &want, 1, 0, 1e-6);

  /* Momentum 1 keeps the running statistics; momentum 0 replaces them by the batch's. */
  p.momentum = 1;
  rmean = 0.25f;
  rvar = 2;
  graft_batchnorm_forward_training (&p, x1, &gamma, &beta, &rmean, &rvar, y, &mean, &invstd);
  g_assert_cmpfloat (rmean, ==, 0.25f);
  g_assert_cmpfloat (rvar, ==, 2.0f);
  p.momentum = 0;
  graft_batchnorm_forward_training (&p, x1, &gamma, &beta, &rmean, &rvar, y, &mean, &invstd);
  g_assert_cmpfloat (rmean, ==, 4.0f);
  want = 20.0 / 3;
  test_assert_close ("momentum 0 running var", &rvar, &want, 1, 0, 1e-7);

  /* One value per channel: variance 0, y = beta, the running variance takes the
   * biased value 0 (the unbiased one does not exist). */
  {
    graft_batchnorm_params one = make_params (1, 2, 1);
    float x[2] = { 3, -2 }, g[2] = { 2, 3 }, b[2] = { 0.5f, -0.25f };
    float rm[2] = { 0, 0 }, rv[2] = { 1, 1 }, yy[2], m[2], is[2];
    graft_batchnorm_forward_training (&one, x, g, b, rm, rv, yy, m, is);
    g_assert_cmpfloat (yy[0], ==, 0.5f);
    g_assert_cmpfloat (yy[1], ==, -0.25f);
    g_assert_cmpfloat_with_epsilon (rm[0], 0.3f, 1e-7);
    g_assert_cmpfloat_with_epsilon (rv[0], 0.9f, 1e-7);
    g_assert_cmpfloat_with_epsilon (rv[1], 0.9f, 1e-7);
  }
}

/* Against torch.nn.BatchNorm2d(2, eps=1e-5, momentum=0.1) (momentum = 1 - ONNX momentum 0.9),
 * on a (2,2,1,3) input; regenerate with:
 * /usr/bin/python3 -c 'import torch; x1=torch.tensor([[[[0.5,-1.0,2.0]],[[3.0,1.5,-0.5]]],[[[1.0,0.25,-2.0]],[[0.0,2.5,1.0]]]],dtype=torch.float64,requires_grad=True); x2=torch.tensor([[[[1.5,0.0,-1.0]],[[2.0,-3.0,0.5]]],[[[0.75,2.0,1.0]],[[-1.0,1.0,4.0]]]],dtype=torch.float64); bn=torch.nn.BatchNorm2d(2,eps=1e-5,momentum=0.1).double(); bn.weight.data=torch.tensor([1.5,-0.5],dtype=torch.float64); bn.bias.data=torch.tensor([0.25,1.0],dtype=torch.float64); y=bn(x1); r=torch.tensor([[[[1.0,-2.0,0.5]],[[0.25,1.0,-1.5]]],[[[2.0,0.5,-1.0]],[[-0.5,1.5,3.0]]]],dtype=torch.float64); (y*r).sum().backward(); print(y.flatten().tolist(), x1.grad.flatten().tolist(), bn.weight.grad.tolist(), bn.bias.grad.tolist(), bn.running_mean.tolist(), bn.running_var.tolist()); bn(x2); print(bn.running_mean.tolist(), bn.running_var.tolist())'
 */
static void
test_pytorch (void)
{
  static const float x1[] = { 0.5f, -1.0f, 2.0f, 3.0f, 1.5f, -0.5f, 1.0f, 0.25f, -2.0f, 0.0f, 2.5f, 1.0f };
  static const float x2[] = { 1.5f, 0.0f, -1.0f, 2.0f, -3.0f, 0.5f, 0.75f, 2.0f, 1.0f, -1.0f, 1.0f, 4.0f };
  static const float r[] = { 1.0f, -2.0f, 0.5f, 0.25f, 1.0f, -1.5f, 2.0f, 0.5f, -1.0f, -0.5f, 1.5f, 3.0f };
  static const double torch_y[] = {
    0.6810205629699063, -1.0430616889097188, 2.4051028148495317, 0.3000022399892482,
    0.9000003199984641, 1.699997760010752, 1.2557146469297815, 0.3936735209899688,
    -2.192449856829469, 1.49999840000768, 0.5000015999923202, 1.0999996800015361,
  };
  static const double torch_dx[] = {
    0.6414799633788789, -1.541310500830053, -1.198588160131314, 0.5279958912313342,
    -0.09600003839815681, 0.47200090878402573, 1.3690767847818561, 0.2776815526773902,
    0.45166036012324207, 0.18000115198617608, -0.08000147198464011, -1.003996441618739,
  };
  static const double torch_dgamma[] = { 5.74694083959875, 4.0499870400622076 };
  static const double torch_dbeta[] = { 1.0, 3.75 };
  static const double torch_rmean1[] = { 0.0125, 0.125 }, torch_rvar1[] = { 1.104375, 1.0875 };
  static const double torch_rmean2[] = { 0.08208333333333334, 0.17083333333333334 };
  static const double torch_rvar2[] = { 1.1099791666666667, 1.5629166666666667 };
  graft_batchnorm_params p = make_params (2, 2, 3);
  float gamma[] = { 1.5f, -0.5f }, beta[] = { 0.25f, 1.0f };
  float rmean[] = { 0, 0 }, rvar[] = { 1, 1 };
  float y[12], mean[2], invstd[2], dx[12] = { 0 }, dgamma[2] = { 0 }, dbeta[2] = { 0 };
  double xd[12], gammad[2], betad[2], rd[12], yd[12], dxd[12] = { 0 }, dgd[2] = { 0 }, dbd[2] = { 0 };

  graft_batchnorm_forward_training (&p, x1, gamma, beta, rmean, rvar, y, mean, invstd);
  test_assert_close ("torch y", y, torch_y, 12, 1e-6, 1e-6);
  test_assert_close ("torch running mean 1", rmean, torch_rmean1, 2, 1e-7, 1e-6);
  test_assert_close ("torch running var 1", rvar, torch_rvar1, 2, 1e-7, 1e-6);
  graft_batchnorm_backward_training (&p, x1, gamma, mean, invstd, r, dx, dgamma, dbeta);
  test_assert_close ("torch dx", dx, torch_dx, 12, 1e-6, 1e-6);
  test_assert_close ("torch dgamma", dgamma, torch_dgamma, 2, 1e-6, 1e-6);
  test_assert_close ("torch dbeta", dbeta, torch_dbeta, 2, 1e-6, 1e-6);
  graft_batchnorm_forward_training (&p, x2, gamma, beta, rmean, rvar, y, mean, invstd);
  test_assert_close ("torch running mean 2", rmean, torch_rmean2, 2, 1e-7, 1e-6);
  test_assert_close ("torch running var 2", rvar, torch_rvar2, 2, 1e-7, 1e-6);

  /* The reference agrees to double precision. */
  test_to_double (x1, xd, 12);
  test_to_double (gamma, gammad, 2);
  test_to_double (beta, betad, 2);
  test_to_double (r, rd, 12);
  graft_batchnorm_forward_training_reference (&p, xd, gammad, betad, yd);
  /* torch used eps = 1e-5 in double, we use (double) 1e-5f: a 1e-13 relative difference. */
  test_assert_close_double ("torch reference y", yd, torch_y, 12, 1e-10, 1e-10);
  graft_batchnorm_backward_training_reference (&p, xd, gammad, rd, dxd, dgd, dbd);
  test_assert_close_double ("torch reference dx", dxd, torch_dx, 12, 1e-10, 1e-10);
  test_assert_close_double ("torch reference dgamma", dgd, torch_dgamma, 2, 1e-10, 1e-10);
  test_assert_close_double ("torch reference dbeta", dbd, torch_dbeta, 2, 1e-10, 1e-10);
}

/* The same bits whatever the thread count: every reduction is done by one thread. */
static void
test_deterministic (void)
{
  bn_case t;
  int c = 6, threads = graft_get_num_threads ();
  float *y[2], *dx[2], dg[2][6], db[2][6], mean[2][6], invstd[2][6], rm[2][6], rv[2][6];

  case_init (&t, 4, c, 4099, 700);
  for (int run = 0; run < 2; run++)
    {
      graft_set_num_threads (run == 0 ? 1 : 3);
      y[run] = test_floats (t.count);
      dx[run] = test_floats (t.count);
      memset (dg[run], 0, sizeof dg[run]);
      memset (db[run], 0, sizeof db[run]);
      memcpy (rm[run], t.rmeanf, sizeof rm[run]);
      memcpy (rv[run], t.rvarf, sizeof rv[run]);
      graft_batchnorm_forward_training (&t.p, t.xf, t.gammaf, t.betaf, rm[run], rv[run],
                                        y[run], mean[run], invstd[run]);
      graft_batchnorm_backward_training (&t.p, t.xf, t.gammaf, mean[run], invstd[run], t.dyf,
                                         dx[run], dg[run], db[run]);
    }
  graft_set_num_threads (threads);
  g_assert_cmpmem (y[0], t.count * sizeof (float), y[1], t.count * sizeof (float));
  g_assert_cmpmem (dx[0], t.count * sizeof (float), dx[1], t.count * sizeof (float));
  g_assert_cmpmem (dg[0], sizeof dg[0], dg[1], sizeof dg[1]);
  g_assert_cmpmem (db[0], sizeof db[0], db[1], sizeof db[1]);
  g_assert_cmpmem (rm[0], sizeof rm[0], rm[1], sizeof rm[1]);
  g_assert_cmpmem (rv[0], sizeof rv[0], rv[1], sizeof rv[1]);
  for (int run = 0; run < 2; run++)
    {
      g_free (y[run]);
      g_free (dx[run]);
    }
  case_clear (&t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/batchnorm/setup", test_setup);
  g_test_add_func ("/engine/batchnorm/forward-training", test_forward_training);
  g_test_add_func ("/engine/batchnorm/forward-training-offset", test_forward_training_offset);
  g_test_add_func ("/engine/batchnorm/forward-inference", test_forward_inference);
  g_test_add_func ("/engine/batchnorm/gradient-training", test_gradient_training);
  g_test_add_func ("/engine/batchnorm/gradient-inference", test_gradient_inference);
  g_test_add_func ("/engine/batchnorm/backward-training", test_backward_training);
  g_test_add_func ("/engine/batchnorm/backward-inference", test_backward_inference);
  g_test_add_func ("/engine/batchnorm/accumulate", test_accumulate);
  g_test_add_func ("/engine/batchnorm/null-gradients", test_null_gradients);
  g_test_add_func ("/engine/batchnorm/running-statistics", test_running_statistics);
  g_test_add_func ("/engine/batchnorm/pytorch", test_pytorch);
  g_test_add_func ("/engine/batchnorm/deterministic", test_deterministic);
  return g_test_run ();
}
