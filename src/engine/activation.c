/* activation.c: unary activations, forward and backward.
 *
 * Every kernel is a branch-free loop over a chunk (selects, not branches, so that
 * it vectorises); large tensors are split into chunks over OpenMP threads.
 * Forward may run in place (y == x): each element is read before it is written at
 * the same index, which "omp simd" allows, so the loops need no restrict.
 */
#include "engine/ops.h"
#include "engine/simd.h"
#include "engine/simd-math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Elements per chunk, and the count above which chunks go to several threads. */
#define CHUNK 16384
#define PARALLEL_THRESHOLD 65536

/* ------------------------------------------------------------------------ */
/* Forward kernels over one chunk. */

GRAFT_SIMD_DISPATCH
static void
forward_chunk (const graft_activation_params *p, size_t count, const float *x, float *y)
{
  const float alpha = p->alpha, beta = p->beta;

  switch (p->kind)
    {
    case GRAFT_ACTIVATION_RELU:
      /* x < 0 rather than x > 0 so that NaN propagates, as in PyTorch. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case GRAFT_ACTIVATION_CLIP:
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i] < alpha ? alpha : x[i];
          y[i] = v > beta ? beta : v;
        }
      break;
    case GRAFT_ACTIVATION_LEAKY_RELU:
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          /* max(x, 0) + alpha * min(x, 0): no multiply inside a select, which
           * gcc would not if-convert. */
          float v = x[i];
          float neg = v < 0.0f ? v : 0.0f;
          float pos = v < 0.0f ? 0.0f : v;
          y[i] = pos + alpha * neg;
        }
      break;
    case GRAFT_ACTIVATION_SIGMOID:
      /* With e = exp(-|x|) <= 1 nothing overflows: 1 / (1 + e) for x >= 0,
       * e / (1 + e) for x < 0 (no cancellation in 1 - s). */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float e = exp_nonpositive (-fabsf (v));
          y[i] = select_float (v < 0.0f, e, 1.0f) / (1.0f + e);
        }
      break;
    case GRAFT_ACTIVATION_HARD_SIGMOID:
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = alpha * x[i] + beta;
          v = v < 0.0f ? 0.0f : v;
          y[i] = v > 1.0f ? 1.0f : v;
        }
      break;
    case GRAFT_ACTIVATION_SWISH:
      /* The sigmoid above, then the product, each rounded as the Sigmoid and Mul
       * nodes it replaces round them: the same bits as those two passes. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float e = exp_nonpositive (-fabsf (v));
          float s = select_float (v < 0.0f, e, 1.0f) / (1.0f + e);
          y[i] = v * s;
        }
      break;
    case GRAFT_ACTIVATION_HARD_SWISH:
      /* PyTorch's form: x * clamp(x + 3, 0, 6) / 6. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i] + 3.0f;
          v = v < 0.0f ? 0.0f : v;
          v = v > 6.0f ? 6.0f : v;
          y[i] = x[i] * v * (1.0f / 6.0f);
        }
      break;
    }
}

/* ------------------------------------------------------------------------ */
/* Backward kernels over one chunk; x or y is NULL when the kind does not need it.
 * set: dx = f'(x) * dy instead of dx += (the first writer of dx); the two forms are
 * compiled apart (set is a constant in each), so neither tests it per element. 0 + v
 * is v, so both give the same values. */

#define WRITE_DX(i, v) (dx[i] = set ? (v) : dx[i] + (v))

static inline __attribute__ ((always_inline)) void
backward_kernel (const graft_activation_params *p, size_t count, const float *restrict x,
                 const float *restrict y, const float *restrict dy, float *restrict dx, const bool set)
{
  const float alpha = p->alpha, beta = p->beta;

  switch (p->kind)
    {
    case GRAFT_ACTIVATION_RELU:
      /* y > 0 exactly where x > 0; relu'(0) = 0. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float g = dy[i];
          WRITE_DX (i, y[i] > 0.0f ? g : 0.0f);
        }
      break;
    case GRAFT_ACTIVATION_CLIP:
      /* PyTorch clamp: the gradient passes where alpha <= x <= beta. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i], g = dy[i];
          WRITE_DX (i, (v >= alpha) & (v <= beta) ? g : 0.0f);
        }
      break;
    case GRAFT_ACTIVATION_LEAKY_RELU:
      /* PyTorch: slope alpha at x = 0. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float g = dy[i];
          WRITE_DX (i, select_float (x[i] > 0.0f, g, alpha * g));
        }
      break;
    case GRAFT_ACTIVATION_SIGMOID:
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        WRITE_DX (i, dy[i] * y[i] * (1.0f - y[i]));
      break;
    case GRAFT_ACTIVATION_HARD_SIGMOID:
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = alpha * x[i] + beta;
          WRITE_DX (i, select_float ((v > 0.0f) & (v < 1.0f), alpha * dy[i], 0.0f));
        }
      break;
    case GRAFT_ACTIVATION_HARD_SWISH:
      /* PyTorch: 0 for x < -3, x / 3 + 1/2 for -3 <= x <= 3 (both ends included), 1 above. */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float g = v * (1.0f / 3.0f) + 0.5f;
          g = select_float (v > 3.0f, 1.0f, g);
          g = select_float (v < -3.0f, 0.0f, g);
          WRITE_DX (i, g * dy[i]);
        }
      break;
    case GRAFT_ACTIVATION_SWISH:
      /* s + x s (1 - s). */
#pragma omp simd
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float e = exp_nonpositive (-fabsf (v));
          float s = select_float (v < 0.0f, e, 1.0f) / (1.0f + e);
          WRITE_DX (i, (s + v * s * (1.0f - s)) * dy[i]);
        }
      break;
    }
}

GRAFT_SIMD_DISPATCH
static void
backward_chunk_add (const graft_activation_params *p, size_t count, const float *x, const float *y,
                    const float *dy, float *dx)
{
  backward_kernel (p, count, x, y, dy, dx, false);
}

GRAFT_SIMD_DISPATCH
static void
backward_chunk_set (const graft_activation_params *p, size_t count, const float *x, const float *y,
                    const float *dy, float *dx)
{
  backward_kernel (p, count, x, y, dy, dx, true);
}

/* ------------------------------------------------------------------------ */

void
graft_activation_backward_needs (graft_activation_kind kind, bool *needs_x, bool *needs_y)
{
  /* Relu and sigmoid differentiate from y, so that their forward can run in place. */
  bool from_y = kind == GRAFT_ACTIVATION_RELU || kind == GRAFT_ACTIVATION_SIGMOID;
  if (needs_x != NULL)
    *needs_x = !from_y;
  if (needs_y != NULL)
    *needs_y = from_y;
}

void
graft_activation_forward_serial (const graft_activation_params *p, size_t count, const float *x, float *y)
{
  forward_chunk (p, count, x, y);
}

void
graft_activation_forward (const graft_activation_params *p, size_t count, const float *x, float *y)
{
  size_t chunks = count / CHUNK + (count % CHUNK != 0);

#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t c = 0; c < chunks; c++)
    {
      size_t start = c * CHUNK;
      size_t n = count - start < CHUNK ? count - start : CHUNK;
      forward_chunk (p, n, x + start, y + start);
    }
}

static void
activation_backward (const graft_activation_params *p, size_t count, const float *x, const float *y,
                     const float *dy, float *dx, bool set)
{
  size_t chunks = count / CHUNK + (count % CHUNK != 0);
  bool needs_x, needs_y;

  if (dx == NULL)
    return;
  graft_activation_backward_needs (p->kind, &needs_x, &needs_y);

#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t c = 0; c < chunks; c++)
    {
      size_t start = c * CHUNK;
      size_t n = count - start < CHUNK ? count - start : CHUNK;
      (set ? backward_chunk_set : backward_chunk_add) (p, n, needs_x ? x + start : NULL,
                                                       needs_y ? y + start : NULL, dy + start, dx + start);
    }
}

void
graft_activation_backward (const graft_activation_params *p, size_t count, const float *x,
                           const float *y, const float *dy, float *dx)
{
  activation_backward (p, count, x, y, dy, dx, false);
}

void
graft_activation_backward_set_dx (const graft_activation_params *p, size_t count, const float *x,
                                  const float *y, const float *dy, float *dx)
{
  activation_backward (p, count, x, y, dy, dx, true);
}
