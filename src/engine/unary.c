/* unary.c: elementwise math ops of one input that are not activations: Abs. */
#include "engine/ops.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

/* x, y (count); y may equal x. */
void
graft_abs_forward (size_t count, const float *x, float *y)
{
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t i = 0; i < count; i++)
    y[i] = fabsf (x[i]);
}

/* x, dy, dx (count): dx += sign(x) * dy, 0 at x == 0. */
void
graft_abs_backward (size_t count, const float *x, const float *dy, float *dx)
{
  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t i = 0; i < count; i++)
    dx[i] += x[i] > 0 ? dy[i] : x[i] < 0 ? -dy[i] : 0.0f;
}
