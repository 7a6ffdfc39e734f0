/* resize-reference.c: ONNX Resize written from the operator's definition, in double,
 * one output element at a time: the reference for resize.c. */
#include "engine/ops.h"

#include <math.h>

/* The input coordinate output index o maps to on an axis of in -> out. */
static double
coordinate (const graft_resize_params *p, size_t o, size_t in, size_t out, double scale)
{
  switch (p->coordinates)
    {
    case GRAFT_RESIZE_HALF_PIXEL:
      return ((double) o + 0.5) / scale - 0.5;
    case GRAFT_RESIZE_PYTORCH_HALF_PIXEL:
      return out > 1 ? ((double) o + 0.5) / scale - 0.5 : 0.0;
    case GRAFT_RESIZE_ASYMMETRIC:
      return (double) o / scale;
    case GRAFT_RESIZE_ALIGN_CORNERS:
      return out > 1 ? (double) o * (double) (in - 1) / (double) (out - 1) : 0.0;
    }
  return 0;
}

static double
clamp (double x, size_t in)
{
  return fmin (fmax (x, 0.0), (double) in - 1);
}

static size_t
nearest (const graft_resize_params *p, double x, size_t in)
{
  double f = floor (x), r = 0;
  switch (p->rounding)
    {
    case GRAFT_RESIZE_ROUND_PREFER_FLOOR:
      r = x - f == 0.5 ? f : floor (x + 0.5);
      break;
    case GRAFT_RESIZE_ROUND_PREFER_CEIL:
      r = x - f == 0.5 ? f + 1 : floor (x + 0.5);
      break;
    case GRAFT_RESIZE_FLOOR:
      r = f;
      break;
    case GRAFT_RESIZE_CEIL:
      r = ceil (x);
      break;
    }
  return (size_t) clamp (r, in);
}

/* Input index k's weight in output index o's value on one axis. */
static double
weight (const graft_resize_params *p, size_t o, size_t k, size_t in, size_t out, double scale)
{
  double x = coordinate (p, o, in, out, scale);
  double lo;

  if (p->mode == GRAFT_RESIZE_NEAREST)
    return nearest (p, x, in) == k ? 1.0 : 0.0;
  x = clamp (x, in);
  lo = floor (x);
  if ((double) k == lo)
    return (double) k + 1 < (double) in ? 1.0 - (x - lo) : 1.0;
  if ((double) k == lo + 1)
    return x - lo;
  return 0;
}

void
graft_resize_forward_reference (const graft_resize_params *p, const double *x, double *y)
{
  for (size_t n = 0; n < p->planes; n++)
    for (size_t oy = 0; oy < p->out_h; oy++)
      for (size_t ox = 0; ox < p->out_w; ox++)
        {
          double sum = 0;
          for (size_t iy = 0; iy < p->in_h; iy++)
            for (size_t ix = 0; ix < p->in_w; ix++)
              sum += weight (p, oy, iy, p->in_h, p->out_h, p->scale_h)
                     * weight (p, ox, ix, p->in_w, p->out_w, p->scale_w)
                     * x[(n * p->in_h + iy) * p->in_w + ix];
          y[(n * p->out_h + oy) * p->out_w + ox] = sum;
        }
}

void
graft_resize_backward_reference (const graft_resize_params *p, const double *dy, double *dx)
{
  if (dx == NULL)
    return;
  for (size_t n = 0; n < p->planes; n++)
    for (size_t iy = 0; iy < p->in_h; iy++)
      for (size_t ix = 0; ix < p->in_w; ix++)
        {
          double sum = 0;
          for (size_t oy = 0; oy < p->out_h; oy++)
            for (size_t ox = 0; ox < p->out_w; ox++)
              sum += weight (p, oy, iy, p->in_h, p->out_h, p->scale_h)
                     * weight (p, ox, ix, p->in_w, p->out_w, p->scale_w)
                     * dy[(n * p->out_h + oy) * p->out_w + ox];
          dx[(n * p->in_h + iy) * p->in_w + ix] += sum;
        }
}
