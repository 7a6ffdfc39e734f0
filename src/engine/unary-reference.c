/* unary-reference.c: the double-precision references of unary.c. */
#include "engine/ops.h"

#include <math.h>

void
graft_abs_forward_reference (size_t count, const double *x, double *y)
{
  for (size_t i = 0; i < count; i++)
    y[i] = fabs (x[i]);
}

void
graft_abs_backward_reference (size_t count, const double *x, const double *dy, double *dx)
{
  for (size_t i = 0; i < count; i++)
    dx[i] += (x[i] > 0 ? 1.0 : x[i] < 0 ? -1.0 : 0.0) * dy[i];
}
