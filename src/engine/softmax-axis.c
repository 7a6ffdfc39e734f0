/* softmax-axis.c: Softmax over any axis of a tensor seen as (outer, axis, inner):
 * attention's scores are softmaxed over their last axis (inner 1, the row form of
 * softmax.c), other exports over an inner one. Each (outer, inner) vector is strided
 * by inner; sums are taken in double, in axis order. */
#include "engine/ops.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

void
graft_softmax_axis_forward (size_t outer, size_t axis, size_t inner, const float *x, float *y)
{
  if (axis == 0)
    return;
  if (inner == 1)
    {
      graft_softmax_forward (outer, axis, x, y);
      return;
    }
#pragma omp parallel for schedule(static) if (outer * axis * inner > PARALLEL_THRESHOLD && outer > 1)
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      {
        const float *xv = x + o * axis * inner + i;
        float *yv = y + o * axis * inner + i;
        float max = xv[0], inv;
        double sum = 0;
        for (size_t j = 1; j < axis; j++)
          max = xv[j * inner] > max ? xv[j * inner] : max;
        for (size_t j = 0; j < axis; j++)
          {
            yv[j * inner] = expf (xv[j * inner] - max);
            sum += yv[j * inner];
          }
        inv = (float) (1.0 / sum);
        for (size_t j = 0; j < axis; j++)
          yv[j * inner] *= inv;
      }
}

void
graft_softmax_axis_backward (size_t outer, size_t axis, size_t inner, const float *y, const float *dy,
                             float *dx)
{
  if (dx == NULL || axis == 0)
    return;
  if (inner == 1)
    {
      graft_softmax_backward (outer, axis, y, dy, dx);
      return;
    }
#pragma omp parallel for schedule(static) if (outer * axis * inner > PARALLEL_THRESHOLD && outer > 1)
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      {
        size_t base = o * axis * inner + i;
        double dot = 0;
        float d;
        for (size_t j = 0; j < axis; j++)
          dot += (double) dy[base + j * inner] * y[base + j * inner];
        d = (float) dot;
        for (size_t j = 0; j < axis; j++)
          dx[base + j * inner] += y[base + j * inner] * (dy[base + j * inner] - d);
      }
}

/* The reference: each strided vector is gathered into a row and handed to the row
 * reference of softmax-reference.c, whose backward is the full Jacobian. */
void
graft_softmax_axis_forward_reference (size_t outer, size_t axis, size_t inner, const double *x, double *y)
{
  double row[axis > 0 ? axis : 1], out[axis > 0 ? axis : 1];
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      {
        size_t base = o * axis * inner + i;
        for (size_t j = 0; j < axis; j++)
          row[j] = x[base + j * inner];
        graft_softmax_forward_reference (1, axis, row, out);
        for (size_t j = 0; j < axis; j++)
          y[base + j * inner] = out[j];
      }
}

void
graft_softmax_axis_backward_reference (size_t outer, size_t axis, size_t inner, const double *y,
                                       const double *dy, double *dx)
{
  if (dx == NULL)
    return;
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      {
        size_t base = o * axis * inner + i;
        double yr[axis > 0 ? axis : 1], dyr[axis > 0 ? axis : 1], dxr[axis > 0 ? axis : 1];
        for (size_t j = 0; j < axis; j++)
          {
            yr[j] = y[base + j * inner];
            dyr[j] = dy[base + j * inner];
            dxr[j] = 0;
          }
        graft_softmax_backward_reference (1, axis, yr, dyr, dxr);
        for (size_t j = 0; j < axis; j++)
          dx[base + j * inner] += dxr[j];
      }
}
