/* resample.c: PIL's antialiased bilinear resize, in float, on a window of the output. */
#include <math.h>
#include <string.h>

#include "data/resample.h"

typedef struct {
  int taps;          /* weights per output pixel (the longest filter; shorter ones are zero-padded) */
  int *first;        /* (n) first source index, absolute */
  float *weights;    /* (n, taps) */
} AxisFilter;

static double
triangle (double x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* The filter for output pixels start..start+n-1 of an axis that maps in_len source
 * pixels (from in0) to out_len. PIL's precompute_coeffs, clamped to [in0, in0 + in_len). */
static void
axis_filter_init (AxisFilter *f, int in0, int in_len, int out_len, int start, int n)
{
  const double scale = (double) in_len / out_len;
  const double filter_scale = MAX (scale, 1.0);
  const double support = 1.0 * filter_scale;   /* the triangle's support is 1 */

  f->taps = (int) ceil (support) * 2 + 1;
  f->first = g_new (int, n);
  f->weights = g_new0 (float, (gsize) n * f->taps);

  double *w = g_new (double, f->taps);
  for (int i = 0; i < n; i++)
    {
      const double center = (start + i + 0.5) * scale;
      int xmin = (int) (center - support + 0.5);
      int xmax = (int) (center + support + 0.5);
      if (xmin < 0)
        xmin = 0;
      if (xmax > in_len)
        xmax = in_len;
      int count = xmax - xmin;
      if (count > f->taps)
        count = f->taps;
      if (count < 1)
        {
          /* Cannot happen for a valid window; keep the nearest pixel rather than nothing. */
          xmin = CLAMP ((int) center, 0, in_len - 1);
          count = 1;
          w[0] = 1.0;
        }
      double total = 0.0;
      for (int x = 0; x < count; x++)
        {
          w[x] = triangle ((x + xmin - center + 0.5) / filter_scale);
          total += w[x];
        }
      if (total == 0.0)
        {
          w[0] = 1.0;
          total = 1.0;
        }
      for (int x = 0; x < count; x++)
        f->weights[(gsize) i * f->taps + x] = (float) (w[x] / total);
      f->first[i] = in0 + xmin;
    }
  g_free (w);
}

static void
axis_filter_clear (AxisFilter *f)
{
  g_free (f->first);
  g_free (f->weights);
}

/* The taps of output i that are inside the source: weights past the clamped count are
 * zero, but their indices may point past the rectangle, so the loops stop at the end. */
static inline int
taps_inside (const AxisFilter *f, int i, int end)
{
  return MIN (f->taps, end - f->first[i]);
}

void
graft_resample_window (const GraftImage *image, int sx, int sy, int sw, int sh,
                       int dw, int dh, int wx, int wy, int ww, int wh, float *out)
{
  AxisFilter h, v;
  axis_filter_init (&h, sx, sw, dw, wx, ww);
  axis_filter_init (&v, sy, sh, dh, wy, wh);

  /* The horizontal pass runs on source rows as the vertical pass asks for them and
   * keeps them in a ring of v.taps rows (row r in slot r % v.taps): output row j reads
   * rows first[j] .. first[j] + taps - 1, which never share a slot, and first[] never
   * decreases, so each row is filtered once. Memory is the filter's height in rows,
   * not the source rectangle's (a 30000-row image would otherwise take 30000 rows of
   * ww floats). */
  const int ring = v.taps;
  const int row_floats = ww * 3;
  float *tmp = g_new (float, (gsize) ring * row_floats);
  int *held = g_new (int, ring);
  for (int i = 0; i < ring; i++)
    held[i] = -1;
  const gsize stride = (gsize) image->width * 3;

  for (int j = 0; j < wh; j++)
    {
      const float *w = v.weights + (gsize) j * v.taps;
      const int n = taps_inside (&v, j, sy + sh);
      float *dst = out + (gsize) j * row_floats;
      memset (dst, 0, sizeof (float) * row_floats);
      for (int k = 0; k < n; k++)
        {
          const int r = v.first[j] + k, slot = r % ring;
          float *row = tmp + (gsize) slot * row_floats;
          if (held[slot] != r)
            {
              /* Horizontal pass of source row r: (ww, 3). */
              const guint8 *src = image->rgb + (gsize) r * stride;
              for (int i = 0; i < ww; i++)
                {
                  const float *hw = h.weights + (gsize) i * h.taps;
                  const guint8 *p = src + (gsize) h.first[i] * 3;
                  const int m = taps_inside (&h, i, sx + sw);
                  float a0 = 0, a1 = 0, a2 = 0;
                  for (int t = 0; t < m; t++)
                    {
                      a0 += hw[t] * p[3 * t];
                      a1 += hw[t] * p[3 * t + 1];
                      a2 += hw[t] * p[3 * t + 2];
                    }
                  row[3 * i] = a0;
                  row[3 * i + 1] = a1;
                  row[3 * i + 2] = a2;
                }
              held[slot] = r;
            }
          const float wk = w[k];
          for (int x = 0; x < row_floats; x++)
            dst[x] += wk * row[x];
        }
    }

  g_free (held);
  g_free (tmp);
  axis_filter_clear (&h);
  axis_filter_clear (&v);
}

int
graft_centre_offset (int difference)
{
  const int half = difference / 2;
  if (difference % 2 == 0)
    return half;
  /* x.5: to the even neighbour. */
  return half % 2 == 0 ? half : half + 1;
}
