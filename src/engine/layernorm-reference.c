/* layernorm-reference.c: LayerNormalization straight from the definition, in double. */
#include "engine/ops.h"

#include <math.h>

static void
row_stats (size_t cols, const double *x, double epsilon, double *mean, double *rstd)
{
  double sum = 0, sq = 0;
  for (size_t j = 0; j < cols; j++)
    sum += x[j];
  *mean = sum / (double) cols;
  for (size_t j = 0; j < cols; j++)
    sq += (x[j] - *mean) * (x[j] - *mean);
  *rstd = 1 / sqrt (sq / (double) cols + epsilon);
}

void
graft_layernorm_forward_reference (const graft_layernorm_params *p, const double *x, const double *scale,
                                   const double *bias, double *y)
{
  for (size_t i = 0; i < p->rows; i++)
    {
      const double *xr = x + i * p->cols;
      double mean, rstd;
      row_stats (p->cols, xr, p->epsilon, &mean, &rstd);
      for (size_t j = 0; j < p->cols; j++)
        y[i * p->cols + j] = (xr[j] - mean) * rstd * (scale != NULL ? scale[j] : 1)
                             + (bias != NULL ? bias[j] : 0);
    }
}

/* Each output y[j] = s[j] xhat[j] + b[j] with xhat[j] = (x[j] - mean) rstd, and
 * d xhat[j] / d x[k] = rstd ([j == k] - 1/C - xhat[j] xhat[k] / C): the full Jacobian,
 * summed with dy. */
void
graft_layernorm_backward_reference (const graft_layernorm_params *p, const double *x, const double *scale,
                                    const double *dy, double *dx, double *dscale, double *dbias)
{
  size_t cols = p->cols;
  for (size_t i = 0; i < p->rows; i++)
    {
      const double *xr = x + i * cols, *dyr = dy + i * cols;
      double mean, rstd;
      row_stats (cols, xr, p->epsilon, &mean, &rstd);
      for (size_t j = 0; j < cols; j++)
        {
          double xhat_j = (xr[j] - mean) * rstd;
          if (dscale != NULL)
            dscale[j] += dyr[j] * xhat_j;
          if (dbias != NULL)
            dbias[j] += dyr[j];
        }
      if (dx == NULL)
        continue;
      for (size_t k = 0; k < cols; k++)
        {
          double xhat_k = (xr[k] - mean) * rstd, g = 0;
          for (size_t j = 0; j < cols; j++)
            {
              double xhat_j = (xr[j] - mean) * rstd;
              double jac = rstd * ((j == k ? 1.0 : 0.0) - 1.0 / (double) cols - xhat_j * xhat_k / (double) cols);
              g += dyr[j] * (scale != NULL ? scale[j] : 1) * jac;
            }
          dx[i * cols + k] += g;
        }
    }
}
