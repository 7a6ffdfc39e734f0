/* activation-reference.c: the activations straight from their definitions, in double.
 * Gradients at the kinks follow PyTorch (see activation.c). */
#include "engine/ops.h"

#include <math.h>

static double
forward_one (const graft_activation_params *p, double x)
{
  double alpha = p->alpha, beta = p->beta;

  switch (p->kind)
    {
    case GRAFT_ACTIVATION_RELU:
      return x > 0 ? x : 0;
    case GRAFT_ACTIVATION_CLIP:
      return fmin (fmax (x, alpha), beta);
    case GRAFT_ACTIVATION_LEAKY_RELU:
      return x >= 0 ? x : alpha * x;
    case GRAFT_ACTIVATION_SIGMOID:
      return 1 / (1 + exp (-x));
    case GRAFT_ACTIVATION_HARD_SIGMOID:
      return fmax (0, fmin (1, alpha * x + beta));
    case GRAFT_ACTIVATION_HARD_SWISH:
      return x * fmax (0, fmin (1, x / 6 + 0.5));
    case GRAFT_ACTIVATION_SWISH:
      return x / (1 + exp (-x));
    }
  return 0;
}

static double
derivative_one (const graft_activation_params *p, double x)
{
  double alpha = p->alpha, beta = p->beta;

  switch (p->kind)
    {
    case GRAFT_ACTIVATION_RELU:
      return x > 0 ? 1 : 0;
    case GRAFT_ACTIVATION_CLIP:
      return x >= alpha && x <= beta ? 1 : 0;
    case GRAFT_ACTIVATION_LEAKY_RELU:
      return x > 0 ? 1 : alpha;
    case GRAFT_ACTIVATION_SIGMOID:
      {
        double s = 1 / (1 + exp (-x));
        return s * (1 - s);
      }
    case GRAFT_ACTIVATION_HARD_SIGMOID:
      {
        double v = alpha * x + beta;
        return v > 0 && v < 1 ? alpha : 0;
      }
    case GRAFT_ACTIVATION_HARD_SWISH:
      if (x < -3)
        return 0;
      if (x > 3)
        return 1;
      return x / 3 + 0.5;
    case GRAFT_ACTIVATION_SWISH:
      {
        double s = 1 / (1 + exp (-x));
        return s + x * s * (1 - s);
      }
    }
  return 0;
}

void
graft_activation_forward_reference (const graft_activation_params *p, size_t count,
                                    const double *x, double *y)
{
  for (size_t i = 0; i < count; i++)
    y[i] = forward_one (p, x[i]);
}

void
graft_activation_backward_reference (const graft_activation_params *p, size_t count,
                                     const double *x, const double *dy, double *dx)
{
  if (dx == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    dx[i] += derivative_one (p, x[i]) * dy[i];
}
