/* gelu.c: GELU, exact (erf) and tanh forms, as PyTorch's nn.GELU computes them. */
#include "engine/ops.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

#define GELU_SQRT1_2 0.70710678118654752440f      /* 1 / sqrt 2 */
#define GELU_INV_SQRT_2PI 0.39894228040143267794f /* 1 / sqrt (2 pi) */
#define GELU_SQRT_2_PI 0.79788456080286535588f    /* sqrt (2 / pi) */
#define GELU_CUBIC 0.044715f

void
graft_gelu_forward (graft_gelu_kind kind, size_t count, const float *x, float *y)
{
  if (kind == GRAFT_GELU_ERF)
    {
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
      for (size_t i = 0; i < count; i++)
        y[i] = 0.5f * x[i] * (1 + erff (x[i] * GELU_SQRT1_2));
    }
  else
    {
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          y[i] = 0.5f * v * (1 + tanhf (GELU_SQRT_2_PI * (v + GELU_CUBIC * v * v * v)));
        }
    }
}

/* erf form: gelu'(x) = Phi(x) + x phi(x); tanh form: with u = sqrt(2/pi) (x + c x^3),
 * gelu'(x) = (1 + tanh u) / 2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 c x^2). */
void
graft_gelu_backward (graft_gelu_kind kind, size_t count, const float *x, const float *dy, float *dx)
{
  if (dx == NULL)
    return;
  if (kind == GRAFT_GELU_ERF)
    {
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float cdf = 0.5f * (1 + erff (v * GELU_SQRT1_2));
          float pdf = GELU_INV_SQRT_2PI * expf (-0.5f * v * v);
          dx[i] += dy[i] * (cdf + v * pdf);
        }
    }
  else
    {
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
      for (size_t i = 0; i < count; i++)
        {
          float v = x[i];
          float t = tanhf (GELU_SQRT_2_PI * (v + GELU_CUBIC * v * v * v));
          float d = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * GELU_SQRT_2_PI * (1 + 3 * GELU_CUBIC * v * v);
          dx[i] += dy[i] * d;
        }
    }
}
