/* batchnorm-reference.c: BatchNormalization straight from the definition, in double. */
#include "engine/ops.h"

#include <math.h>

static size_t
index_of (const graft_batchnorm_params *p, int ni, int ci, size_t s)
{
  return ((size_t) ni * (size_t) p->c + (size_t) ci) * p->spatial + s;
}

/* Batch mean and biased variance of channel ci. */
static void
channel_statistics (const graft_batchnorm_params *p, const double *x, int ci,
                    double *mean, double *var)
{
  const double count = (double) p->n * (double) p->spatial;
  double sum = 0, squares = 0;
  for (int ni = 0; ni < p->n; ni++)
    for (size_t s = 0; s < p->spatial; s++)
      sum += x[index_of (p, ni, ci, s)];
  *mean = sum / count;
  for (int ni = 0; ni < p->n; ni++)
    for (size_t s = 0; s < p->spatial; s++)
      {
        double d = x[index_of (p, ni, ci, s)] - *mean;
        squares += d * d;
      }
  *var = squares / count;
}

/* x, y (N,C,S); gamma, beta (C). */
void
graft_batchnorm_forward_training_reference (const graft_batchnorm_params *p, const double *x,
                                            const double *gamma, const double *beta, double *y)
{
  for (int ci = 0; ci < p->c; ci++)
    {
      double mean, var;
      channel_statistics (p, x, ci, &mean, &var);
      for (int ni = 0; ni < p->n; ni++)
        for (size_t s = 0; s < p->spatial; s++)
          {
            size_t i = index_of (p, ni, ci, s);
            y[i] = gamma[ci] * (x[i] - mean) / sqrt (var + (double) p->epsilon) + beta[ci];
          }
    }
}

/* x, y (N,C,S); gamma, beta, running_mean, running_var (C). */
void
graft_batchnorm_forward_inference_reference (const graft_batchnorm_params *p, const double *x,
                                             const double *gamma, const double *beta,
                                             const double *running_mean, const double *running_var,
                                             double *y)
{
  for (int ci = 0; ci < p->c; ci++)
    for (int ni = 0; ni < p->n; ni++)
      for (size_t s = 0; s < p->spatial; s++)
        {
          size_t i = index_of (p, ni, ci, s);
          y[i] = gamma[ci] * (x[i] - running_mean[ci])
                 / sqrt (running_var[ci] + (double) p->epsilon) + beta[ci];
        }
}

/* With M = N*S, xhat = (x - mean) / sqrt(var + eps), the chain rule through mean and var gives
 *   dgamma = sum dy * xhat, dbeta = sum dy,
 *   dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat)). */
void
graft_batchnorm_backward_training_reference (const graft_batchnorm_params *p, const double *x,
                                             const double *gamma, const double *dy,
                                             double *dx, double *dgamma, double *dbeta)
{
  const double count = (double) p->n * (double) p->spatial;
  for (int ci = 0; ci < p->c; ci++)
    {
      double mean, var, invstd, sum_dy = 0, sum_dy_xhat = 0;
      channel_statistics (p, x, ci, &mean, &var);
      invstd = 1 / sqrt (var + (double) p->epsilon);
      for (int ni = 0; ni < p->n; ni++)
        for (size_t s = 0; s < p->spatial; s++)
          {
            size_t i = index_of (p, ni, ci, s);
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * (x[i] - mean) * invstd;
          }
      if (dgamma != NULL)
        dgamma[ci] += sum_dy_xhat;
      if (dbeta != NULL)
        dbeta[ci] += sum_dy;
      if (dx != NULL)
        for (int ni = 0; ni < p->n; ni++)
          for (size_t s = 0; s < p->spatial; s++)
            {
              size_t i = index_of (p, ni, ci, s);
              double xhat = (x[i] - mean) * invstd;
              dx[i] += gamma[ci] * invstd * (dy[i] - sum_dy / count - xhat * sum_dy_xhat / count);
            }
    }
}

/* The running statistics are constants: y is affine in x, gamma and beta. */
void
graft_batchnorm_backward_inference_reference (const graft_batchnorm_params *p, const double *x,
                                              const double *gamma, const double *running_mean,
                                              const double *running_var, const double *dy,
                                              double *dx, double *dgamma, double *dbeta)
{
  for (int ci = 0; ci < p->c; ci++)
    {
      double invstd = 1 / sqrt (running_var[ci] + (double) p->epsilon);
      for (int ni = 0; ni < p->n; ni++)
        for (size_t s = 0; s < p->spatial; s++)
          {
            size_t i = index_of (p, ni, ci, s);
            if (dx != NULL)
              dx[i] += gamma[ci] * invstd * dy[i];
            if (dgamma != NULL)
              dgamma[ci] += dy[i] * (x[i] - running_mean[ci]) * invstd;
            if (dbeta != NULL)
              dbeta[ci] += dy[i];
          }
    }
}
