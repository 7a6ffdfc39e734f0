/* batchnorm.c: BatchNormalization, training and inference forms.
 *
 * Per-channel sums are reduced by one thread per channel, in a fixed order, block
 * by block into double accumulators (training statistics in one pass over x, with
 * Chan's merge of block moments); the elementwise passes then run in parallel over
 * (n, c) planes, so that a layer with few channels and large planes still uses every core.
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

/* The per-channel sums below are taken block by block: SUM_BLOCK floats of a row at a
 * time are summed in float, in LANES partial sums (one AVX-512 vector, two AVX2 ones,
 * four SSE ones: every clone adds the same numbers in the same order, so all give the
 * same bits), and each block's sum is then added to a double accumulator. Float
 * arithmetic keeps the loops at memory speed (converting every element to double cost
 * twice the time of the pass that follows); the error of a block sum is relative to
 * that block alone, and across blocks the accumulation is in double. */
#define LANES 16
#define SUM_BLOCK 256

/* LANES floats as one value: GCC emits one AVX-512 operation for it, two AVX2 or four
 * SSE ones, the same arithmetic lane by lane in every clone. load_lanes reads one from
 * any float address. */
typedef float lanes __attribute__ ((vector_size (LANES * sizeof (float))));
typedef float unaligned_lanes __attribute__ ((vector_size (LANES * sizeof (float)), aligned (4), may_alias));
#define load_lanes(p) (*(const unaligned_lanes *) (p))

/* The lanes' sum plus tail, in double, in a fixed tree. */
static inline __attribute__ ((always_inline)) double
combine_lanes (lanes acc, float tail)
{
  double s[LANES / 2];
  for (int j = 0; j < LANES / 2; j++)
    s[j] = (double) acc[j] + (double) acc[j + LANES / 2];
  return (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) + (double) tail;
}

/* Count, mean and sum of squared deviations of the values seen so far (Chan et al.'s
 * pairwise update merges a block into them without cancellation). */
typedef struct {
  double count, mean, m2;
} moments;

static inline void
moments_merge (moments *acc, double count, double mean, double m2)
{
  double total = acc->count + count, delta = mean - acc->mean;

  acc->mean += delta * (count / total);
  acc->m2 += m2 + delta * delta * (acc->count * count / total);
  acc->count = total;
}

/* Merges the values of row[0..len) into acc, a block at a time: the block's sum gives
 * a float centre, then its deviations from the centre (summed and squared, while the
 * block is in L1) give its exact mean and squared deviations. One pass over memory, as
 * accurate as two. */
GRAFT_SIMD_DISPATCH
static void
row_moments (const float *restrict row, size_t len, moments *acc)
{
  for (size_t i0 = 0; i0 < len; i0 += SUM_BLOCK)
    {
      const float *restrict b = row + i0;
      const size_t n = len - i0 < SUM_BLOCK ? len - i0 : SUM_BLOCK;
      lanes s = { 0 }, d1 = { 0 }, d2 = { 0 }, c;
      float s_tail = 0, d1_tail = 0, d2_tail = 0, centre;
      double sd, sd2;
      size_t i = 0;

      for (; i + LANES <= n; i += LANES)
        s += load_lanes (b + i);
      for (; i < n; i++)
        s_tail += b[i];
      centre = (float) (combine_lanes (s, s_tail) / (double) n);
      c = centre - (lanes) { 0 };
      for (i = 0; i + LANES <= n; i += LANES)
        {
          lanes d = load_lanes (b + i) - c;
          d1 += d;
          d2 += d * d;
        }
      for (; i < n; i++)
        {
          float d = b[i] - centre;
          d1_tail += d;
          d2_tail += d * d;
        }
      sd = combine_lanes (d1, d1_tail);
      sd2 = combine_lanes (d2, d2_tail) - sd * sd / (double) n;
      moments_merge (acc, (double) n, (double) centre + sd / (double) n, sd2 > 0 ? sd2 : 0);
    }
}

/* sum of dy[i] and of dy[i] * (x[i] - mean), block by block. */
GRAFT_SIMD_DISPATCH
static void
sum_dy_and_dy_centered (const float *restrict x, const float *restrict dy, size_t len, float mean,
                        double *sum_dy, double *sum_dy_centered)
{
  const lanes m = mean - (lanes) { 0 };
  double a_total = 0, b_total = 0;

  for (size_t i0 = 0; i0 < len; i0 += SUM_BLOCK)
    {
      const float *restrict xb = x + i0, *restrict db = dy + i0;
      const size_t n = len - i0 < SUM_BLOCK ? len - i0 : SUM_BLOCK;
      lanes a = { 0 }, b = { 0 };
      float a_tail = 0, b_tail = 0;
      size_t i = 0;

      for (; i + LANES <= n; i += LANES)
        {
          lanes d = load_lanes (db + i);
          a += d;
          b += d * (load_lanes (xb + i) - m);
        }
      for (; i < n; i++)
        {
          a_tail += db[i];
          b_tail += db[i] * (xb[i] - mean);
        }
      a_total += combine_lanes (a, a_tail);
      b_total += combine_lanes (b, b_tail);
    }
  *sum_dy += a_total;
  *sum_dy_centered += b_total;
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

      /* Statistics: one thread per channel, one pass (row_moments). */
#pragma omp parallel for schedule(static) if (block_total > PARALLEL_THRESHOLD && cb > 1)
      for (int k = 0; k < cb; k++)
        {
          const int ci = c0 + k;
          const float *xc = x + (size_t) ci * spatial;
          moments acc = { 0, 0, 0 };
          double squares, mean, var, unbiased, invstd;
          for (int ni = 0; ni < n; ni++)
            row_moments (xc + (size_t) ni * plane_stride, spatial, &acc);
          mean = acc.mean;
          squares = acc.m2;
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
          const float m = mean[k];
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
