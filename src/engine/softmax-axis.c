/* softmax-axis.c: Softmax over any axis of a tensor seen as (outer, axis, inner):
 * attention's scores are softmaxed over their last axis (inner 1, rows), other
 * exports over an inner one. Each (outer, inner) vector is strided by inner; sums are
 * taken in double, in axis order.
 *
 * Rows (ViT-B/16: 16 images x 12 heads x 197 rows of 197 scores per layer, which the
 * importer makes softmax.c's last-axis Softmax, whose kernels call these) have their
 * own vectorised loops, with simd-math.h's expf (glibc's is a scalar call); their sums
 * are in double lanes, so they round as the vector width says, the same on a given
 * machine whatever the thread count. */
#include "engine/ops.h"
#include "engine/simd.h"
#include "engine/simd-math.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

/* y = exp(x - max) / sum for each of rows rows; x - max <= 0, so the expf of
 * simd-math.h applies. */
GRAFT_SIMD_DISPATCH
static void
softmax_rows (size_t rows, size_t cols, const float *x, float *y)
{
  for (size_t i = 0; i < rows; i++)
    {
      const float *restrict xr = x + i * cols;
      float *restrict yr = y + i * cols;
      float max = xr[0], inv;
      double sum = 0;

#pragma omp simd reduction(max : max)
      for (size_t j = 0; j < cols; j++)
        max = xr[j] > max ? xr[j] : max;
#pragma omp simd reduction(+ : sum)
      for (size_t j = 0; j < cols; j++)
        {
          float e = exp_nonpositive (xr[j] - max);
          yr[j] = e;
          sum += e;
        }
      inv = (float) (1.0 / sum);
#pragma omp simd
      for (size_t j = 0; j < cols; j++)
        yr[j] *= inv;
    }
}

/* dx += y (dy - sum (dy y)) for each row. */
GRAFT_SIMD_DISPATCH
static void
softmax_rows_backward (size_t rows, size_t cols, const float *y, const float *dy, float *dx)
{
  for (size_t i = 0; i < rows; i++)
    {
      const float *restrict yr = y + i * cols, *restrict dyr = dy + i * cols;
      float *restrict dxr = dx + i * cols;
      double dot = 0;
      float d;

#pragma omp simd reduction(+ : dot)
      for (size_t j = 0; j < cols; j++)
        dot += (double) dyr[j] * yr[j];
      d = (float) dot;
#pragma omp simd
      for (size_t j = 0; j < cols; j++)
        dxr[j] += yr[j] * (dyr[j] - d);
    }
}

/* Rows in blocks over threads: each thread runs one dispatched call per block. */
#define ROW_BLOCK 64

void
graft_softmax_axis_forward (size_t outer, size_t axis, size_t inner, const float *x, float *y)
{
  if (axis == 0)
    return;
  if (inner == 1)
    {
      size_t blocks = (outer + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for schedule(static) if (outer * axis > PARALLEL_THRESHOLD && blocks > 1)
      for (size_t b = 0; b < blocks; b++)
        {
          size_t first = b * ROW_BLOCK, n = outer - first < ROW_BLOCK ? outer - first : ROW_BLOCK;
          softmax_rows (n, axis, x + first * axis, y + first * axis);
        }
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
      size_t blocks = (outer + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for schedule(static) if (outer * axis > PARALLEL_THRESHOLD && blocks > 1)
      for (size_t b = 0; b < blocks; b++)
        {
          size_t first = b * ROW_BLOCK, n = outer - first < ROW_BLOCK ? outer - first : ROW_BLOCK;
          softmax_rows_backward (n, axis, y + first * axis, dy + first * axis, dx + first * axis);
        }
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
