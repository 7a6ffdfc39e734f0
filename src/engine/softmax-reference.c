/* softmax-reference.c: Softmax and softmax cross-entropy straight from the
 * definitions, in double. */
#include "engine/ops.h"

#include <math.h>

/* x, y (rows, cols): y = exp(x - max) / sum exp(x - max). */
void
graft_softmax_forward_reference (size_t rows, size_t cols, const double *x, double *y)
{
  for (size_t i = 0; i < rows; i++)
    {
      const double *xr = x + i * cols;
      double *yr = y + i * cols;
      double max = -INFINITY, sum = 0;
      for (size_t j = 0; j < cols; j++)
        max = fmax (max, xr[j]);
      for (size_t j = 0; j < cols; j++)
        sum += exp (xr[j] - max);
      for (size_t j = 0; j < cols; j++)
        yr[j] = exp (xr[j] - max) / sum;
    }
}

/* dx[j] += sum_k dy[k] * dy[k]/dx[j] = sum_k dy[k] * y[k] * ([j == k] - y[j]). */
void
graft_softmax_backward_reference (size_t rows, size_t cols, const double *y, const double *dy, double *dx)
{
  if (dx == NULL)
    return;
  for (size_t i = 0; i < rows; i++)
    {
      const double *yr = y + i * cols, *dyr = dy + i * cols;
      double *dxr = dx + i * cols;
      for (size_t j = 0; j < cols; j++)
        {
          double g = 0;
          for (size_t k = 0; k < cols; k++)
            g += dyr[k] * yr[k] * ((j == k ? 1.0 : 0.0) - yr[j]);
          dxr[j] += g;
        }
    }
}

static double
weight_of (const graft_cross_entropy_params *p, int k)
{
  return p->class_weights != NULL ? p->class_weights[k] : 1.0;
}

/* log sum_k exp(x[k]), with the row max factored out; log p[k] = x[k] - this. */
static double
log_sum_exp (int classes, const double *x)
{
  double max = -INFINITY, sum = 0;
  for (int k = 0; k < classes; k++)
    max = fmax (max, x[k]);
  for (int k = 0; k < classes; k++)
    sum += exp (x[k] - max);
  return max + log (sum);
}

static bool
labels_valid (const graft_cross_entropy_params *p, const int32_t *labels)
{
  for (int i = 0; i < p->n; i++)
    if (labels[i] < 0 || labels[i] >= p->classes)
      return false;
  return true;
}

/* loss = sum_i ((1 - eps) w[y_i] (-log p[i][y_i]) + eps / K sum_k w[k] (-log p[i][k])) / sum_i w[y_i].
 * NAN for a label out of range, like the fast path. */
double
graft_cross_entropy_forward_reference (const graft_cross_entropy_params *p, const double *logits,
                                       const int32_t *labels)
{
  const double eps = p->label_smoothing;
  double total = 0, weight_total = 0;

  if (!labels_valid (p, labels))
    return NAN;
  for (int i = 0; i < p->n; i++)
    {
      const double *x = logits + (size_t) i * p->classes;
      double lse = log_sum_exp (p->classes, x), smooth = 0;
      int y = labels[i];
      for (int k = 0; k < p->classes; k++)
        smooth += weight_of (p, k) * -(x[k] - lse);
      total += (1 - eps) * weight_of (p, y) * -(x[y] - lse) + eps / p->classes * smooth;
      weight_total += weight_of (p, y);
    }
  return total / weight_total;
}

/* With d(-log p[k]) / d x[j] = p[j] - [j == k]:
 * dlogits[i][j] += dloss / W * ((1 - eps) w[y_i] (p[j] - [j == y_i]) + eps / K sum_k w[k] (p[j] - [j == k])). */
void
graft_cross_entropy_backward_reference (const graft_cross_entropy_params *p, const double *logits,
                                        const int32_t *labels, double dloss, double *dlogits)
{
  const double eps = p->label_smoothing;
  double weight_total = 0;

  if (dlogits == NULL)
    return;
  if (!labels_valid (p, labels))
    {
      for (size_t i = 0; i < (size_t) p->n * (size_t) p->classes; i++)
        dlogits[i] += NAN;
      return;
    }
  for (int i = 0; i < p->n; i++)
    weight_total += weight_of (p, labels[i]);
  for (int i = 0; i < p->n; i++)
    {
      const double *x = logits + (size_t) i * p->classes;
      double lse = log_sum_exp (p->classes, x);
      int y = labels[i];
      for (int j = 0; j < p->classes; j++)
        {
          double pj = exp (x[j] - lse), smooth = 0, g;
          for (int k = 0; k < p->classes; k++)
            smooth += weight_of (p, k) * (pj - (j == k ? 1.0 : 0.0));
          g = (1 - eps) * weight_of (p, y) * (pj - (j == y ? 1.0 : 0.0)) + eps / p->classes * smooth;
          dlogits[(size_t) i * p->classes + j] += dloss / weight_total * g;
        }
    }
}
