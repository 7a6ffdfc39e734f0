/* layernorm.c: LayerNormalization over the last axes (rows of cols), with per-column
 * scale and bias: ViT, Swin and ConvNeXt (channels last) normalise this way.
 *
 * Row statistics are summed in double (in vector lanes, dispatched by simd.h), so a
 * row of 768 or 3072 features keeps float precision; the scale and bias gradients are
 * column sums over the rows, each column summed in row order by one thread, so a
 * thread count gives the same bits as any other.
 */
#include "engine/ops.h"
#include "engine/simd.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

graft_status
graft_layernorm_setup (const graft_layernorm_params *p, graft_error *error)
{
  size_t count;

  if (p->rows < 1 || p->cols < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "layernorm: rows (%zu) and cols (%zu) must both be at least 1", p->rows, p->cols);
  if (!graft_size_mul (p->rows, p->cols, &count) || count > SIZE_MAX / sizeof (float))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                            "layernorm: %zu rows of %zu are larger than memory can address", p->rows, p->cols);
  if (!(p->epsilon > 0) || !isfinite (p->epsilon))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "layernorm: epsilon (%g) must be positive and finite", (double) p->epsilon);
  return GRAFT_OK;
}

/* One row: the mean and variance in double lanes (two passes, as the reference), then
 * (x - mean) * rstd * scale + bias in float. */
GRAFT_SIMD_DISPATCH
static void
layernorm_rows (size_t rows, size_t cols, float epsilon, const float *x, const float *scale, const float *bias,
                float *y, float *mean, float *rstd)
{
  for (size_t i = 0; i < rows; i++)
    {
      const float *restrict xr = x + i * cols;
      float *restrict yr = y + i * cols;
      double sum = 0, sq = 0;
      float mu, r;

#pragma omp simd reduction(+ : sum)
      for (size_t j = 0; j < cols; j++)
        sum += xr[j];
      mu = (float) (sum / (double) cols);
#pragma omp simd reduction(+ : sq)
      for (size_t j = 0; j < cols; j++)
        {
          double d = (double) xr[j] - mu;
          sq += d * d;
        }
      r = (float) (1.0 / sqrt (sq / (double) cols + epsilon));
      if (scale != NULL && bias != NULL)
        {
#pragma omp simd
          for (size_t j = 0; j < cols; j++)
            yr[j] = (xr[j] - mu) * r * scale[j] + bias[j];
        }
      else if (scale != NULL)
        {
#pragma omp simd
          for (size_t j = 0; j < cols; j++)
            yr[j] = (xr[j] - mu) * r * scale[j];
        }
      else if (bias != NULL)
        {
#pragma omp simd
          for (size_t j = 0; j < cols; j++)
            yr[j] = (xr[j] - mu) * r + bias[j];
        }
      else
        {
#pragma omp simd
          for (size_t j = 0; j < cols; j++)
            yr[j] = (xr[j] - mu) * r;
        }
      if (mean != NULL)
        mean[i] = mu;
      if (rstd != NULL)
        rstd[i] = r;
    }
}

/* Rows handed to a dispatched call at once. */
#define ROW_BLOCK 16

void
graft_layernorm_forward (const graft_layernorm_params *p, const float *x, const float *scale,
                         const float *bias, float *y, float *mean, float *rstd)
{
  size_t rows = p->rows, cols = p->cols, blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;

#pragma omp parallel for schedule(static) if (rows * cols > PARALLEL_THRESHOLD && blocks > 1)
  for (size_t b = 0; b < blocks; b++)
    {
      size_t first = b * ROW_BLOCK, n = rows - first < ROW_BLOCK ? rows - first : ROW_BLOCK;
      layernorm_rows (n, cols, p->epsilon, x + first * cols, scale, bias, y + first * cols,
                      mean != NULL ? mean + first : NULL, rstd != NULL ? rstd + first : NULL);
    }
}

/* With g = dy * scale and xhat = (x - mean) * rstd:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dscale = sum over rows of dy * xhat, dbias = sum over rows of dy. */
void
graft_layernorm_backward (const graft_layernorm_params *p, const float *x, const float *scale,
                          const float *mean, const float *rstd, const float *dy, float *dx,
                          float *dscale, float *dbias)
{
  size_t rows = p->rows, cols = p->cols;
  bool parallel = rows * cols > PARALLEL_THRESHOLD;

  if (dx != NULL)
    {
#pragma omp parallel for schedule(static) if (parallel && rows > 1)
      for (size_t i = 0; i < rows; i++)
        {
          const float *restrict xr = x + i * cols, *restrict dyr = dy + i * cols;
          float *restrict dxr = dx + i * cols;
          float mu = mean[i], r = rstd[i];
          double sum_g = 0, sum_gx = 0;
          float mean_g, mean_gx;

          for (size_t j = 0; j < cols; j++)
            {
              float g = scale != NULL ? dyr[j] * scale[j] : dyr[j];
              sum_g += g;
              sum_gx += (double) g * ((xr[j] - mu) * r);
            }
          mean_g = (float) (sum_g / (double) cols);
          mean_gx = (float) (sum_gx / (double) cols);
          for (size_t j = 0; j < cols; j++)
            {
              float g = scale != NULL ? dyr[j] * scale[j] : dyr[j];
              float xhat = (xr[j] - mu) * r;
              dxr[j] += r * (g - mean_g - xhat * mean_gx);
            }
        }
    }
  if (dscale == NULL && dbias == NULL)
    return;
#pragma omp parallel for schedule(static) if (parallel && cols > 1)
  for (size_t j = 0; j < cols; j++)
    {
      double ds = 0, db = 0;
      for (size_t i = 0; i < rows; i++)
        {
          float d = dy[i * cols + j];
          ds += (double) d * ((x[i * cols + j] - mean[i]) * rstd[i]);
          db += d;
        }
      if (dscale != NULL)
        dscale[j] += (float) ds;
      if (dbias != NULL)
        dbias[j] += (float) db;
    }
}
