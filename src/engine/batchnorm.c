/* batchnorm.c: BatchNormalization, training and inference forms.
 *
 * Per-channel sums are reduced by one thread per channel, in a fixed order, into
 * double accumulators; the elementwise passes then run in parallel over (n, c)
 * planes, so that a layer with few channels and large planes still uses every core.
 */
#include "engine/ops.h"
#include "engine/simd.h"

#include <math.h>

/* Below this many elements a pass runs on one thread. */
#define PARALLEL_THRESHOLD 32768

/* Channels whose per-channel coefficients are kept on the stack at a time (ops do not allocate). */
#define CHANNEL_BLOCK 256

graft_status
graft_batchnorm_setup (graft_batchnorm_params *p, graft_error *error)
{
  size_t count;

  if (p->n <= 0 || p->c <= 0 || p->spatial == 0)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "batchnorm: sizes n %d, c %d, spatial %zu must all be positive",
                            p->n, p->c, p->spatial);
  if (!graft_size_mul ((size_t) p->n, (size_t) p->c, &count)
      || !graft_size_mul (count, p->spatial, &count)
      || count > SIZE_MAX / sizeof (float) - GRAFT_ALIGNMENT)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                            "batchnorm: input (%d, %d, %zu) has more elements than memory can address",
                            p->n, p->c, p->spatial);
  /* The negated comparisons also reject NaN. */
  if (!(p->epsilon > 0) || !isfinite (p->epsilon))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "batchnorm: epsilon %g must be positive and finite", (double) p->epsilon);
  if (!(p->momentum >= 0 && p->momentum <= 1))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "batchnorm: momentum %g is outside [0, 1]", (double) p->momentum);
  /* n * spatial == 1 is accepted: the variance is 0 and eps keeps the output finite.
   * The running variance then uses the biased value (0), as the unbiased one would
   * divide by zero (PyTorch refuses to train on this). */
  return GRAFT_OK;
}

/* The per-channel sums below run in double, in LANES partial sums that are always
 * combined the same way: lanes that vectorise (8 doubles: one AVX-512 vector, two AVX2
 * ones) without reassociating anything. */
#define LANES 8

static double
combine_lanes (const double *acc)
{
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* sum of row[0..len) in double. */
GRAFT_SIMD_DISPATCH
static double
sum_row (const float *restrict row, size_t len)
{
  double acc[LANES] = { 0 }, tail = 0;
  size_t i = 0;
  for (; i + LANES <= len; i += LANES)
    for (int j = 0; j < LANES; j++)
      acc[j] += row[i + j];
  for (; i < len; i++)
    tail += row[i];
  return combine_lanes (acc) + tail;
}

/* sum of (row[i] - mean)^2 in double. */
GRAFT_SIMD_DISPATCH
static double
sum_squared_deviation (const float *restrict row, size_t len, double mean)
{
  double acc[LANES] = { 0 }, tail = 0;
  size_t i = 0;
  for (; i + LANES <= len; i += LANES)
    for (int j = 0; j < LANES; j++)
      {
        double d = row[i + j] - mean;
        acc[j] += d * d;
      }
  for (; i < len; i++)
    {
      double d = row[i] - mean;
      tail += d * d;
    }
  return combine_lanes (acc) + tail;
}

/* sum of dy[i] and of dy[i] * (x[i] - mean), in double. */
GRAFT_SIMD_DISPATCH
static void
sum_dy_and_dy_centered (const float *restrict x, const float *restrict dy, size_t len, double mean,
                        double *sum_dy, double *sum_dy_centered)
{
  double a[LANES] = { 0 }, b[LANES] = { 0 }, a_tail = 0, b_tail = 0;
  size_t i = 0;
  for (; i + LANES <= len; i += LANES)
    for (int j = 0; j < LANES; j++)
      {
        a[j] += dy[i + j];
        b[j] += dy[i + j] * (x[i + j] - mean);
      }
  for (; i < len; i++)
    {
      a_tail += dy[i];
      b_tail += dy[i] * (x[i] - mean);
    }
  *sum_dy += combine_lanes (a) + a_tail;
  *sum_dy_centered += combine_lanes (b) + b_tail;
}

/* y = (x - center[k]) * scale[k] + shift[k] for channels c0 .. c0+cb-1 of every sample;
 * center, scale, shift are indexed by k. Centring first keeps the float rounding
 * relative to the spread of x, not to its mean. With act, the plane then goes through
 * the activation while it is in cache: into y, and pre keeps the normalised plane
 * (when pre is NULL the activation runs in place in y). */
GRAFT_SIMD_DISPATCH
static void
affine_block (const graft_batchnorm_params *p, int c0, int cb, const float *center,
              const float *scale, const float *shift, const graft_activation_params *act,
              const float *x, float *pre, float *y)
{
  const size_t spatial = p->spatial, plane_stride = (size_t) p->c * spatial;
  const size_t total = (size_t) p->n * (size_t) cb * spatial;
  const int n = p->n;
  float *out = act != NULL && pre != NULL ? pre : y;

#pragma omp parallel for collapse(2) schedule(static) if (total > PARALLEL_THRESHOLD)
  for (int ni = 0; ni < n; ni++)
    for (int k = 0; k < cb; k++)
      {
        const size_t offset = (size_t) ni * plane_stride + (size_t) (c0 + k) * spatial;
        const float *restrict xp = x + offset;
        float *restrict op = out + offset;
        const float m = center[k], a = scale[k], b = shift[k];
        for (size_t s = 0; s < spatial; s++)
          op[s] = (xp[s] - m) * a + b;
        if (act != NULL)
          graft_activation_forward_serial (act, spatial, op, y + offset);
      }
}

static int
block_size (int c, int c0)
{
  return c - c0 < CHANNEL_BLOCK ? c - c0 : CHANNEL_BLOCK;
}

/* x, y (N,C,S); gamma, beta, running_mean, running_var, saved_mean, saved_invstd (C). */
void
graft_batchnorm_forward_training (const graft_batchnorm_params *p, const float *x,
                                  const float *gamma, const float *beta,
                                  float *running_mean, float *running_var,
                                  float *y, float *saved_mean, float *saved_invstd)
{
  graft_batchnorm_forward_training_activation (p, x, gamma, beta, running_mean, running_var, NULL, NULL, y,
                                               saved_mean, saved_invstd);
}

void
graft_batchnorm_forward_training_activation (const graft_batchnorm_params *p, const float *x,
                                             const float *gamma, const float *beta,
                                             float *running_mean, float *running_var,
                                             const graft_activation_params *act, float *pre,
                                             float *y, float *saved_mean, float *saved_invstd)
{
  const size_t spatial = p->spatial, plane_stride = (size_t) p->c * spatial;
  const size_t count = (size_t) p->n * spatial;
  const int n = p->n, c = p->c;
  const double momentum = p->momentum, eps = p->epsilon;
  float scale[CHANNEL_BLOCK], shift[CHANNEL_BLOCK];

  for (int c0 = 0; c0 < c; c0 += CHANNEL_BLOCK)
    {
      const int cb = block_size (c, c0);
      const size_t block_total = count * (size_t) cb;

      /* Statistics: one thread per channel, two passes for an accurate variance. */
#pragma omp parallel for schedule(static) if (block_total > PARALLEL_THRESHOLD && cb > 1)
      for (int k = 0; k < cb; k++)
        {
          const int ci = c0 + k;
          const float *xc = x + (size_t) ci * spatial;
          double sum = 0, squares = 0, mean, var, unbiased, invstd;
          for (int ni = 0; ni < n; ni++)
            sum += sum_row (xc + (size_t) ni * plane_stride, spatial);
          mean = sum / (double) count;
          for (int ni = 0; ni < n; ni++)
            squares += sum_squared_deviation (xc + (size_t) ni * plane_stride, spatial, mean);
          var = squares / (double) count;
          /* A single value per channel has no unbiased variance: use the biased one (0). */
          unbiased = count > 1 ? squares / (double) (count - 1) : var;
          invstd = 1.0 / sqrt (var + eps);

          saved_mean[ci] = (float) mean;
          saved_invstd[ci] = (float) invstd;
          running_mean[ci] = (float) (running_mean[ci] * momentum + mean * (1 - momentum));
          running_var[ci] = (float) (running_var[ci] * momentum + unbiased * (1 - momentum));
          /* y is centred on the float mean; the shift corrects for its rounding, which
           * matters when the mean is large against the spread. */
          scale[k] = (float) (gamma[ci] * invstd);
          shift[k] = (float) (beta[ci] - (mean - saved_mean[ci]) * gamma[ci] * invstd);
        }

      affine_block (p, c0, cb, saved_mean + c0, scale, shift, act, x, pre, y);
    }
}

/* x, y (N,C,S); gamma, beta, running_mean, running_var (C). */
void
graft_batchnorm_forward_inference (const graft_batchnorm_params *p, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var, float *y)
{
  graft_batchnorm_forward_inference_activation (p, x, gamma, beta, running_mean, running_var, NULL, NULL, y);
}

void
graft_batchnorm_forward_inference_activation (const graft_batchnorm_params *p, const float *x,
                                              const float *gamma, const float *beta,
                                              const float *running_mean, const float *running_var,
                                              const graft_activation_params *act, float *pre, float *y)
{
  const double eps = p->epsilon;
  float scale[CHANNEL_BLOCK];

  for (int c0 = 0; c0 < p->c; c0 += CHANNEL_BLOCK)
    {
      const int cb = block_size (p->c, c0);
      for (int k = 0; k < cb; k++)
        scale[k] = (float) (gamma[c0 + k] / sqrt ((double) running_var[c0 + k] + eps));
      affine_block (p, c0, cb, running_mean + c0, scale, beta + c0, act, x, pre, y);
    }
}

/* Backward for channels c0 .. c0+cb-1; mean and invstd are indexed by k and hold the
 * statistics x was normalised with. training says whether they are batch statistics
 * (functions of x) or constants (running statistics). */
GRAFT_SIMD_DISPATCH
static void
backward_block (const graft_batchnorm_params *p, bool training, int c0, int cb,
                const float *x, const float *gamma, const float *mean, const float *invstd,
                const float *dy, float *dx, bool set_dx, float *dgamma, float *dbeta)
{
  const size_t spatial = p->spatial, plane_stride = (size_t) p->c * spatial;
  const size_t count = (size_t) p->n * spatial;
  const size_t total = count * (size_t) cb;
  const int n = p->n;
  double sum_dy[CHANNEL_BLOCK], sum_dy_xhat[CHANNEL_BLOCK];
  float dx_dy[CHANNEL_BLOCK], dx_x[CHANNEL_BLOCK], dx_mean_dy[CHANNEL_BLOCK];

  if (dgamma != NULL || dbeta != NULL || (dx != NULL && training))
    {
      /* Per-channel sums: one thread per channel, fixed order. */
#pragma omp parallel for schedule(static) if (total > PARALLEL_THRESHOLD && cb > 1)
      for (int k = 0; k < cb; k++)
        {
          const double m = mean[k];
          double sdy = 0, sdyc = 0;
          for (int ni = 0; ni < n; ni++)
            {
              const size_t offset = (size_t) ni * plane_stride + (size_t) (c0 + k) * spatial;
              sum_dy_and_dy_centered (x + offset, dy + offset, spatial, m, &sdy, &sdyc);
            }
          sum_dy[k] = sdy;
          sum_dy_xhat[k] = sdyc * invstd[k];
        }
      for (int k = 0; k < cb; k++)
        {
          if (dgamma != NULL)
            dgamma[c0 + k] += (float) sum_dy_xhat[k];
          if (dbeta != NULL)
            dbeta[c0 + k] += (float) sum_dy[k];
        }
    }

  if (dx == NULL)
    return;

  /* dx += a * (dy - mean_dy) + b * (x - mean), with a = gamma * invstd and
   * inference: mean_dy = b = 0;
   * training:  dx = a * (dy - sum_dy / M - xhat * sum_dy_xhat / M), xhat = (x - mean) * invstd.
   * Both differences are taken before scaling, where they cancel least. */
  for (int k = 0; k < cb; k++)
    {
      const double a = (double) gamma[c0 + k] * invstd[k];
      dx_dy[k] = (float) a;
      dx_x[k] = training ? (float) (-a * invstd[k] * sum_dy_xhat[k] / (double) count) : 0.0f;
      dx_mean_dy[k] = training ? (float) (sum_dy[k] / (double) count) : 0.0f;
    }

#pragma omp parallel for collapse(2) schedule(static) if (total > PARALLEL_THRESHOLD)
  for (int ni = 0; ni < n; ni++)
    for (int k = 0; k < cb; k++)
      {
        const size_t offset = (size_t) ni * plane_stride + (size_t) (c0 + k) * spatial;
        const float *restrict xp = x + offset;
        const float *restrict dyp = dy + offset;
        float *restrict dxp = dx + offset;
        const float a = dx_dy[k], b = dx_x[k], mdy = dx_mean_dy[k], m = mean[k];
        /* set_dx: the first writer of dx overwrites it (0 + v is v: the same values). */
        if (training && set_dx)
          for (size_t s = 0; s < spatial; s++)
            dxp[s] = a * (dyp[s] - mdy) + b * (xp[s] - m);
        else if (training)
          for (size_t s = 0; s < spatial; s++)
            dxp[s] += a * (dyp[s] - mdy) + b * (xp[s] - m);
        else if (set_dx)
          for (size_t s = 0; s < spatial; s++)
            dxp[s] = a * dyp[s];
        else
          for (size_t s = 0; s < spatial; s++)
            dxp[s] += a * dyp[s];
      }
}

/* x, dy, dx (N,C,S); gamma, saved_mean, saved_invstd, dgamma, dbeta (C). */
static void
backward_training (const graft_batchnorm_params *p, const float *x, const float *gamma,
                   const float *saved_mean, const float *saved_invstd, const float *dy,
                   float *dx, bool set_dx, float *dgamma, float *dbeta)
{
  if (dx == NULL && dgamma == NULL && dbeta == NULL)
    return;
  for (int c0 = 0; c0 < p->c; c0 += CHANNEL_BLOCK)
    backward_block (p, true, c0, block_size (p->c, c0), x, gamma, saved_mean + c0,
                    saved_invstd + c0, dy, dx, set_dx, dgamma, dbeta);
}

void
graft_batchnorm_backward_training (const graft_batchnorm_params *p, const float *x,
                                   const float *gamma, const float *saved_mean,
                                   const float *saved_invstd, const float *dy,
                                   float *dx, float *dgamma, float *dbeta)
{
  backward_training (p, x, gamma, saved_mean, saved_invstd, dy, dx, false, dgamma, dbeta);
}

void
graft_batchnorm_backward_training_set_dx (const graft_batchnorm_params *p, const float *x,
                                          const float *gamma, const float *saved_mean,
                                          const float *saved_invstd, const float *dy,
                                          float *dx, float *dgamma, float *dbeta)
{
  backward_training (p, x, gamma, saved_mean, saved_invstd, dy, dx, true, dgamma, dbeta);
}

/* x, dy, dx (N,C,S); gamma, running_mean, running_var, dgamma, dbeta (C). */
static void
backward_inference (const graft_batchnorm_params *p, const float *x, const float *gamma,
                    const float *running_mean, const float *running_var, const float *dy,
                    float *dx, bool set_dx, float *dgamma, float *dbeta)
{
  const double eps = p->epsilon;
  float invstd[CHANNEL_BLOCK];

  if (dx == NULL && dgamma == NULL && dbeta == NULL)
    return;
  for (int c0 = 0; c0 < p->c; c0 += CHANNEL_BLOCK)
    {
      const int cb = block_size (p->c, c0);
      for (int k = 0; k < cb; k++)
        invstd[k] = (float) (1.0 / sqrt ((double) running_var[c0 + k] + eps));
      backward_block (p, false, c0, cb, x, gamma, running_mean + c0, invstd,
                      dy, dx, set_dx, dgamma, dbeta);
    }
}

void
graft_batchnorm_backward_inference (const graft_batchnorm_params *p, const float *x,
                                    const float *gamma, const float *running_mean,
                                    const float *running_var, const float *dy,
                                    float *dx, float *dgamma, float *dbeta)
{
  backward_inference (p, x, gamma, running_mean, running_var, dy, dx, false, dgamma, dbeta);
}

void
graft_batchnorm_backward_inference_set_dx (const graft_batchnorm_params *p, const float *x,
                                           const float *gamma, const float *running_mean,
                                           const float *running_var, const float *dy,
                                           float *dx, float *dgamma, float *dbeta)
{
  backward_inference (p, x, gamma, running_mean, running_var, dy, dx, true, dgamma, dbeta);
}
