/* pool-reference.c: naive double-precision pooling, straight from the definitions,
 * used only by tests to check pool.c. */
#include "engine/ops.h"

#include <math.h>

/* The position (h, w) of the maximum of window (oh, ow) in plane x (the first one in
 * row-major order; a NaN wins over numbers, as in PyTorch). Every window holds at
 * least one input element, setup makes sure of that. */
static void
reference_argmax (const graft_pool2d_params *p, const double *x, int oh, int ow, int *best_h, int *best_w)
{
  double best = 0;
  bool found = false;

  for (int i = 0; i < p->kh; i++)
    for (int j = 0; j < p->kw; j++)
      {
        long h = (long) oh * p->stride_h - p->pad_top + i;
        long w = (long) ow * p->stride_w - p->pad_left + j;
        double v;
        if (h < 0 || h >= p->h || w < 0 || w >= p->w)
          continue; /* padding never wins */
        v = x[h * p->w + w];
        if (!found || v > best || isnan (v))
          {
            best = v;
            *best_h = (int) h;
            *best_w = (int) w;
            found = true;
          }
      }
}

/* Number of positions of a window that start at start (in input coordinates) and has
 * size k, either counting padding up to the padded extent or only real input. */
static long
reference_window_count (long start, int k, int size, int pad_end, bool include_pad)
{
  long count = 0;
  for (long i = start; i < start + k; i++)
    if (include_pad ? i < size + pad_end : (i >= 0 && i < size))
      count++;
  return count;
}

/* x is (N,C,H,W), y (N,C,OH,OW) */
void
graft_maxpool2d_forward_reference (const graft_pool2d_params *p, const double *x, double *y)
{
  long planes = (long) p->n * p->c;
  for (long plane = 0; plane < planes; plane++)
    {
      const double *xp = x + plane * p->h * p->w;
      double *yp = y + plane * p->oh * p->ow;
      for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++)
          {
            int h = 0, w = 0;
            reference_argmax (p, xp, oh, ow, &h, &w);
            yp[oh * p->ow + ow] = xp[h * p->w + w];
          }
    }
}

/* dy is (N,C,OH,OW); dx (N,C,H,W) accumulates at the argmax of each window of x. */
void
graft_maxpool2d_backward_reference (const graft_pool2d_params *p, const double *x, const double *dy, double *dx)
{
  long planes = (long) p->n * p->c;
  if (dx == NULL)
    return;
  for (long plane = 0; plane < planes; plane++)
    {
      const double *xp = x + plane * p->h * p->w;
      const double *dyp = dy + plane * p->oh * p->ow;
      double *dxp = dx + plane * p->h * p->w;
      for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++)
          {
            int h = 0, w = 0;
            reference_argmax (p, xp, oh, ow, &h, &w);
            dxp[h * p->w + w] += dyp[oh * p->ow + ow];
          }
    }
}

/* The divisor of window (oh, ow): with count_include_pad the window clipped to the
 * padded input (the part hanging past the bottom/right padding in ceil mode is not
 * counted, as in PyTorch), without it the number of real input elements. */
static double
reference_divisor (const graft_pool2d_params *p, int oh, int ow)
{
  long h0 = (long) oh * p->stride_h - p->pad_top;
  long w0 = (long) ow * p->stride_w - p->pad_left;
  return (double) reference_window_count (h0, p->kh, p->h, p->pad_bottom, p->count_include_pad)
         * (double) reference_window_count (w0, p->kw, p->w, p->pad_right, p->count_include_pad);
}

/* x is (N,C,H,W), y (N,C,OH,OW) */
void
graft_avgpool2d_forward_reference (const graft_pool2d_params *p, const double *x, double *y)
{
  long planes = (long) p->n * p->c;
  for (long plane = 0; plane < planes; plane++)
    {
      const double *xp = x + plane * p->h * p->w;
      double *yp = y + plane * p->oh * p->ow;
      for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++)
          {
            double sum = 0;
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++)
                {
                  long h = (long) oh * p->stride_h - p->pad_top + i;
                  long w = (long) ow * p->stride_w - p->pad_left + j;
                  if (h >= 0 && h < p->h && w >= 0 && w < p->w)
                    sum += xp[h * p->w + w]; /* padding adds zero */
                }
            yp[oh * p->ow + ow] = sum / reference_divisor (p, oh, ow);
          }
    }
}

/* dy is (N,C,OH,OW); dx (N,C,H,W) accumulates. */
void
graft_avgpool2d_backward_reference (const graft_pool2d_params *p, const double *dy, double *dx)
{
  long planes = (long) p->n * p->c;
  if (dx == NULL)
    return;
  for (long plane = 0; plane < planes; plane++)
    {
      const double *dyp = dy + plane * p->oh * p->ow;
      double *dxp = dx + plane * p->h * p->w;
      for (int oh = 0; oh < p->oh; oh++)
        for (int ow = 0; ow < p->ow; ow++)
          {
            double g = dyp[oh * p->ow + ow] / reference_divisor (p, oh, ow);
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++)
                {
                  long h = (long) oh * p->stride_h - p->pad_top + i;
                  long w = (long) ow * p->stride_w - p->pad_left + j;
                  if (h >= 0 && h < p->h && w >= 0 && w < p->w)
                    dxp[h * p->w + w] += g;
                }
          }
    }
}

/* x is (planes, spatial), y (planes) */
void
graft_mean_spatial_forward_reference (size_t planes, size_t spatial, const double *x, double *y)
{
  for (size_t i = 0; i < planes; i++)
    {
      double sum = 0;
      for (size_t s = 0; s < spatial; s++)
        sum += x[i * spatial + s];
      y[i] = spatial ? sum / (double) spatial : 0;
    }
}

/* dy is (planes); dx (planes, spatial) accumulates. */
void
graft_mean_spatial_backward_reference (size_t planes, size_t spatial, const double *dy, double *dx)
{
  if (dx == NULL)
    return;
  for (size_t i = 0; i < planes; i++)
    for (size_t s = 0; s < spatial; s++)
      dx[i * spatial + s] += dy[i] / (double) spatial;
}
