/* softmax.c: Softmax along the last axis, softmax cross-entropy, inverted dropout
 * (with random.h's generator).
 */
#include "engine/ops.h"
#include "engine/random.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

/* x, y (rows, cols): y = exp(x - max) / sum per row; dx += y * (dy - sum(dy * y)).
 * The row form of softmax-axis.c, whose vectorised row kernels both ops share. */
void
graft_softmax_forward (size_t rows, size_t cols, const float *x, float *y)
{
  graft_softmax_axis_forward (rows, cols, 1, x, y);
}

void
graft_softmax_backward (size_t rows, size_t cols, const float *y, const float *dy, float *dx)
{
  graft_softmax_axis_backward (rows, cols, 1, y, dy, dx);
}

/* Every label in 0..classes-1. */
static bool
labels_valid (const graft_cross_entropy_params *p, const int32_t *labels)
{
  for (int i = 0; i < p->n; i++)
    if (labels[i] < 0 || labels[i] >= p->classes)
      return false;
  return true;
}

static double
class_weight (const graft_cross_entropy_params *p, int k)
{
  return p->class_weights != NULL ? p->class_weights[k] : 1.0;
}

/* logits, probs (N,K); labels (N).
 * A label outside 0..K-1 (PyTorch's ignore_index included) makes the loss NAN, and
 * nothing is read at that index or written to probs: bad data shows up as a
 * non-finite loss instead of an out-of-bounds read.
 * Runs on one thread: N*K is a batch times the classes, small next to the network,
 * and one thread sums the rows in a fixed order without any scratch. */
float
graft_cross_entropy_forward (const graft_cross_entropy_params *p, const float *logits,
                             const int32_t *labels, float *probs)
{
  const int n = p->n, classes = p->classes;
  const double eps = p->label_smoothing;
  double total = 0, weight_total = 0;

  if (!labels_valid (p, labels))
    return NAN;

  for (int i = 0; i < n; i++)
    {
      const float *restrict x = logits + (size_t) i * classes;
      float *restrict pr = probs + (size_t) i * classes;
      const int label = labels[i];
      float max = x[0];
      double sum = 0, lse, smooth = 0, wy;

      for (int k = 1; k < classes; k++)
        max = x[k] > max ? x[k] : max;
      for (int k = 0; k < classes; k++)
        {
          pr[k] = expf (x[k] - max);
          sum += pr[k];
        }
      lse = max + log (sum);
      {
        const float inv = (float) (1.0 / sum);
        for (int k = 0; k < classes; k++)
          pr[k] *= inv;
      }
      /* -log p[k] = lse - x[k], never through log(probs), which underflow. */
      if (eps != 0)
        for (int k = 0; k < classes; k++)
          smooth += class_weight (p, k) * (lse - x[k]);
      wy = class_weight (p, label);
      total += (1 - eps) * wy * (lse - x[label]) + eps / classes * smooth;
      weight_total += wy;
    }
  return (float) (total / weight_total);
}

/* probs, dlogits (N,K); labels (N). With W = sum_i w[y_i] and S = sum_k w[k],
 *   d loss / d logit[i][k] = ((1 - eps) w[y_i] (p[i][k] - [k == y_i]) + eps / K (S p[i][k] - w[k])) / W.
 * A label out of range adds NAN everywhere, matching the NAN loss. */
void
graft_cross_entropy_backward (const graft_cross_entropy_params *p, const float *probs,
                              const int32_t *labels, float dloss, float *dlogits)
{
  const int n = p->n, classes = p->classes;
  const double eps = p->label_smoothing;
  const size_t total = (size_t) n * (size_t) classes;
  double weight_total = 0, weight_sum = 0, scale;

  if (dlogits == NULL)
    return;
  if (!labels_valid (p, labels))
    {
      for (size_t i = 0; i < total; i++)
        dlogits[i] += NAN;
      return;
    }
  for (int i = 0; i < n; i++)
    weight_total += class_weight (p, labels[i]);
  for (int k = 0; k < classes; k++)
    weight_sum += class_weight (p, k);
  scale = dloss / weight_total;

#pragma omp parallel for schedule(static) if (total > PARALLEL_THRESHOLD && n > 1)
  for (int i = 0; i < n; i++)
    {
      const float *restrict pr = probs + (size_t) i * classes;
      float *restrict d = dlogits + (size_t) i * classes;
      const int label = labels[i];
      /* d[k] += a * p[k] - smooth * w[k], with a the same for every k of the row; the
       * label's element, where p is near 1 and the terms cancel, is redone in double. */
      const double wy = class_weight (p, label);
      const double a_d = scale * ((1 - eps) * wy + eps / classes * weight_sum);
      const double smooth_d = scale * eps / classes;
      const float a = (float) a_d, smooth = (float) smooth_d, before = d[label];
      if (p->class_weights != NULL)
        {
          const float *restrict w = p->class_weights;
          for (int k = 0; k < classes; k++)
            d[k] += a * pr[k] - smooth * w[k];
        }
      else
        for (int k = 0; k < classes; k++)
          d[k] += a * pr[k] - smooth;
      d[label] = before + (float) (a_d * pr[label] - smooth_d * wy - scale * (1 - eps) * wy);
    }
}

/* x, y (count) floats, mask (count) bytes; y may equal x. mask may be NULL when the
 * caller does not need it for backward. ratio >= 1 (outside the contract) drops
 * everything instead of dividing by zero. */
void
graft_dropout_forward (float ratio, uint64_t seed, size_t count, const float *x, float *y, uint8_t *mask)
{
  const float scale = ratio < 1 ? 1.0f / (1.0f - ratio) : 0.0f;
  const uint64_t key = graft_random_key (seed);

#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t i = 0; i < count; i++)
    {
      /* graft_random_uniform (seed, i), with the seed mixed once. */
      const float u = graft_random_uniform_keyed (key, i);
      const bool keep = u >= ratio;
      /* Selects rather than branches: the outcome is random, a branch mispredicts. */
      y[i] = x[i] * (keep ? scale : 0.0f);
      if (mask != NULL)
        mask[i] = keep;
    }
}

/* mask, dy, dx (count): dx += dy * mask / (1 - ratio). */
void
graft_dropout_backward (float ratio, size_t count, const uint8_t *mask, const float *dy, float *dx)
{
  const float scale = ratio < 1 ? 1.0f / (1.0f - ratio) : 0.0f;

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static) if (count > PARALLEL_THRESHOLD)
  for (size_t i = 0; i < count; i++)
    dx[i] += dy[i] * (mask[i] ? scale : 0.0f);
}
