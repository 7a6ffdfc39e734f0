/* gelu-reference.c: GELU from its definition, in double; the backward is the
 * derivative worked by hand, which the tests check against finite differences. */
#include "engine/ops.h"

#include <math.h>

static double
gelu (graft_gelu_kind kind, double x)
{
  if (kind == GRAFT_GELU_ERF)
    return 0.5 * x * (1 + erf (x / sqrt (2.0)));
  return 0.5 * x * (1 + tanh (sqrt (2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double
gelu_derivative (graft_gelu_kind kind, double x)
{
  if (kind == GRAFT_GELU_ERF)
    return 0.5 * (1 + erf (x / sqrt (2.0))) + x * exp (-0.5 * x * x) / sqrt (2 * M_PI);
  double u = sqrt (2 / M_PI) * (x + 0.044715 * x * x * x), t = tanh (u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt (2 / M_PI) * (1 + 3 * 0.044715 * x * x);
}

void
graft_gelu_forward_reference (graft_gelu_kind kind, size_t count, const double *x, double *y)
{
  for (size_t i = 0; i < count; i++)
    y[i] = gelu (kind, x[i]);
}

void
graft_gelu_backward_reference (graft_gelu_kind kind, size_t count, const double *x, const double *dy,
                               double *dx)
{
  if (dx == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    dx[i] += dy[i] * gelu_derivative (kind, x[i]);
}
