/* pool.c: MaxPool2d, AveragePool2d and the spatial mean (GlobalAveragePool).
 *
 * Sizes follow PyTorch (and ONNX where the two agree): with ceil_mode the output
 * rounds up, but a window that would start in the bottom/right padding is dropped;
 * AveragePool with count_include_pad divides by the window clipped to the padded
 * input. Setup requires pad < kernel, so every window holds at least one input
 * element.
 *
 * The fast paths work one (n, c) plane per OpenMP iteration, so each output and
 * each gradient element is computed by one thread in a fixed order. Within a row
 * of output, the "interior" columns, whose windows lie wholly inside the input
 * horizontally, run as loops over the output column with a compile-time stride
 * (1, 2 or any), which the compiler vectorises; the few border columns take a
 * plain clipped loop.
 */
#include "engine/ops.h"

#include <limits.h>
#include <math.h>

/* Below this many touched elements, threads cost more than they save. */
#define POOL_PARALLEL_THRESHOLD 32768

#define ALWAYS_INLINE inline __attribute__ ((always_inline))

/* One axis of the pooling window: checks it and computes its output size. */
static graft_status
pool_axis_setup (const char *axis, int size, int k, int stride, int pad0, int pad1,
                 bool ceil_mode, int *out, graft_error *error)
{
  int64_t padded, o;

  if (size < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "pool: input %s %d must be at least 1", axis, size);
  if (k < 1)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "pool: kernel %s %d must be at least 1", axis, k);
  if (stride < 1)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "pool: stride %s %d must be at least 1",
                            axis, stride);
  if (pad0 < 0 || pad1 < 0)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "pool: pads along %s (%d, %d) must not be negative",
                            axis, pad0, pad1);
  if (pad0 >= k || pad1 >= k)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "pool: pads along %s (%d, %d) must be smaller than the kernel (%d)",
                            axis, pad0, pad1, k);
  padded = (int64_t) size + pad0 + pad1;
  if (padded > INT_MAX)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "pool: padded %s %lld is too large",
                            axis, (long long) padded);
  if (padded < k)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "pool: kernel %s %d is larger than the padded input (%lld), no output",
                            axis, k, (long long) padded);
  if (ceil_mode)
    {
      o = (padded - k + stride - 1) / stride + 1;
      /* PyTorch's rule: the last window must start inside the input or the leading pad. */
      while (o > 1 && (o - 1) * stride >= (int64_t) size + pad0)
        o--;
    }
  else
    o = (padded - k) / stride + 1;
  *out = (int) o;
  return GRAFT_OK;
}

graft_status
graft_pool2d_setup (graft_pool2d_params *p, graft_error *error)
{
  graft_status status;
  graft_shape shape;
  size_t count;

  if (p->n < 1 || p->c < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "pool: batch %d and channels %d must be at least 1",
                            p->n, p->c);
  status = pool_axis_setup ("height", p->h, p->kh, p->stride_h, p->pad_top, p->pad_bottom,
                            p->ceil_mode, &p->oh, error);
  if (status != GRAFT_OK)
    return status;
  status = pool_axis_setup ("width", p->w, p->kw, p->stride_w, p->pad_left, p->pad_right,
                            p->ceil_mode, &p->ow, error);
  if (status != GRAFT_OK)
    return status;
  /* argmax stores h*W+w as int32. */
  if ((int64_t) p->h * p->w > INT32_MAX)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "pool: plane %dx%d is too large", p->h, p->w);
  shape = graft_shape_4d (p->n, p->c, p->h, p->w);
  status = graft_shape_count (&shape, &count, error);
  if (status != GRAFT_OK)
    return status;
  shape = graft_shape_4d (p->n, p->c, p->oh, p->ow);
  return graft_shape_count (&shape, &count, error);
}

/* What window o covers along one axis: the input indices [r0, r1), never empty,
 * and how many positions of the padded input (for count_include_pad). */
typedef struct {
  int r0, r1;
  int padded;
} pool_span;

static ALWAYS_INLINE pool_span
pool_window_span (int o, int size, int k, int stride, int pad0, int pad1)
{
  pool_span r;
  int64_t start = (int64_t) o * stride - pad0;
  int64_t end = start + k;
  int64_t padded_end = end < (int64_t) size + pad1 ? end : (int64_t) size + pad1;
  r.r0 = start < 0 ? 0 : (int) start;
  r.r1 = end > size ? size : (int) end;
  r.padded = (int) (padded_end - start);
  return r;
}

/* The output columns [lo, hi) whose windows lie wholly inside the input. */
static void
pool_interior (int size, int k, int stride, int pad0, int out, int *lo, int *hi)
{
  int64_t l = ((int64_t) pad0 + stride - 1) / stride;
  int64_t h = (int64_t) size + pad0 - k < 0 ? 0 : ((int64_t) size + pad0 - k) / stride + 1;
  if (h > out)
    h = out;
  if (l > h)
    l = h;
  *lo = (int) l;
  *hi = (int) h;
}

/* ------------------------------------------------------------------------ */
/* MaxPool                                                                  */

/* A NaN wins over numbers, as in PyTorch; otherwise the first maximum wins. */
#define MAX_TAKES(v, best) ((v) > (best) || (v) != (v))

/* One output element over input rows [r0, r1), columns [c0, c1). */
static void
maxpool_window (const float *restrict x, int w, int r0, int r1, int c0, int c1,
                float *restrict y, int32_t *restrict argmax)
{
  float best = x[(size_t) r0 * w + c0];
  int32_t index = r0 * w + c0;
  for (int r = r0; r < r1; r++)
    for (int c = c0; c < c1; c++)
      {
        float v = x[(size_t) r * w + c];
        if (MAX_TAKES (v, best))
          {
            best = v;
            index = r * w + c;
          }
      }
  *y = best;
  if (argmax != NULL)
    *argmax = index;
}

/* Output columns [lo, hi) of one row, all windows inside horizontally. Each column
 * visits its window in row-major order, so ties go to the first element. */
static ALWAYS_INLINE void
maxpool_interior_row (const float *restrict x, int w, int r0, int r1, int kw, int stride,
                      int pad_left, int lo, int hi, float *restrict y, int32_t *restrict argmax)
{
  ptrdiff_t first = (ptrdiff_t) r0 * w - pad_left;

  for (int o = lo; o < hi; o++)
    y[o] = x[first + (ptrdiff_t) o * stride];
  if (argmax != NULL)
    {
      for (int o = lo; o < hi; o++)
        argmax[o] = (int32_t) (first + (ptrdiff_t) o * stride);
      for (int r = r0; r < r1; r++)
        for (int j = 0; j < kw; j++)
          {
            ptrdiff_t off = (ptrdiff_t) r * w + j - pad_left;
            for (int o = lo; o < hi; o++)
              {
                float v = x[off + (ptrdiff_t) o * stride];
                bool take = MAX_TAKES (v, y[o]);
                y[o] = take ? v : y[o];
                argmax[o] = take ? (int32_t) (off + (ptrdiff_t) o * stride) : argmax[o];
              }
          }
    }
  else
    {
      for (int r = r0; r < r1; r++)
        for (int j = 0; j < kw; j++)
          {
            ptrdiff_t off = (ptrdiff_t) r * w + j - pad_left;
            for (int o = lo; o < hi; o++)
              {
                float v = x[off + (ptrdiff_t) o * stride];
                y[o] = MAX_TAKES (v, y[o]) ? v : y[o];
              }
          }
    }
}

static void
maxpool_plane (const graft_pool2d_params *p, int lo, int hi, const float *restrict x,
               float *restrict y, int32_t *restrict argmax)
{
  for (int oh = 0; oh < p->oh; oh++)
    {
      pool_span rows = pool_window_span (oh, p->h, p->kh, p->stride_h, p->pad_top, p->pad_bottom);
      float *yrow = y + (size_t) oh * p->ow;
      int32_t *arow = argmax != NULL ? argmax + (size_t) oh * p->ow : NULL;

      for (int ow = 0; ow < p->ow; ow++)
        {
          pool_span cols;
          if (ow == lo)
            ow = hi; /* the interior is done below */
          if (ow >= p->ow)
            break;
          cols = pool_window_span (ow, p->w, p->kw, p->stride_w, p->pad_left, p->pad_right);
          maxpool_window (x, p->w, rows.r0, rows.r1, cols.r0, cols.r1, yrow + ow,
                          arow != NULL ? arow + ow : NULL);
        }
      if (p->stride_w == 1)
        maxpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, 1, p->pad_left, lo, hi, yrow, arow);
      else if (p->stride_w == 2)
        maxpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, 2, p->pad_left, lo, hi, yrow, arow);
      else
        maxpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, p->stride_w, p->pad_left, lo, hi, yrow, arow);
    }
}

/* x is (N,C,H,W), y and argmax (N,C,OH,OW) */
void
graft_maxpool2d_forward (const graft_pool2d_params *p, const float *x, float *y, int32_t *argmax)
{
  size_t planes = (size_t) p->n * p->c;
  size_t in_plane = (size_t) p->h * p->w, out_plane = (size_t) p->oh * p->ow;
  size_t work = planes * (out_plane * (size_t) p->kh * p->kw + in_plane);
  int lo, hi;

  pool_interior (p->w, p->kw, p->stride_w, p->pad_left, p->ow, &lo, &hi);
#pragma omp parallel for schedule(static) if (work > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    maxpool_plane (p, lo, hi, x + i * in_plane, y + i * out_plane,
                   argmax != NULL ? argmax + i * out_plane : NULL);
}

/* dy, argmax (N,C,OH,OW); dx (N,C,H,W) accumulates through argmax. */
void
graft_maxpool2d_backward (const graft_pool2d_params *p, const int32_t *argmax, const float *dy, float *dx)
{
  size_t planes = (size_t) p->n * p->c;
  size_t in_plane = (size_t) p->h * p->w, out_plane = (size_t) p->oh * p->ow;

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static) if (planes * out_plane > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    {
      const int32_t *restrict a = argmax + i * out_plane;
      const float *restrict g = dy + i * out_plane;
      float *restrict d = dx + i * in_plane;
      /* Windows overlap, so this scatter stays sequential within a plane. */
      for (size_t o = 0; o < out_plane; o++)
        d[a[o]] += g[o];
    }
}

/* ------------------------------------------------------------------------ */
/* AveragePool                                                              */

static ALWAYS_INLINE int
avgpool_count (const graft_pool2d_params *p, pool_span r)
{
  return p->count_include_pad ? r.padded : r.r1 - r.r0;
}

static ALWAYS_INLINE void
avgpool_interior_row (const float *restrict x, int w, int r0, int r1, int kw, int stride,
                      int pad_left, int lo, int hi, float scale, float *restrict y)
{
  for (int o = lo; o < hi; o++)
    y[o] = 0;
  for (int r = r0; r < r1; r++)
    for (int j = 0; j < kw; j++)
      {
        ptrdiff_t off = (ptrdiff_t) r * w + j - pad_left;
        for (int o = lo; o < hi; o++)
          y[o] += x[off + (ptrdiff_t) o * stride];
      }
  for (int o = lo; o < hi; o++)
    y[o] *= scale;
}

static void
avgpool_plane (const graft_pool2d_params *p, int lo, int hi, const float *restrict x, float *restrict y)
{
  for (int oh = 0; oh < p->oh; oh++)
    {
      pool_span rows = pool_window_span (oh, p->h, p->kh, p->stride_h, p->pad_top, p->pad_bottom);
      int row_count = avgpool_count (p, rows);
      float *yrow = y + (size_t) oh * p->ow;
      /* Interior windows have kw columns either way. */
      float scale = (float) (1.0 / ((double) row_count * p->kw));

      for (int ow = 0; ow < p->ow; ow++)
        {
          pool_span cols;
          float sum = 0;
          if (ow == lo)
            ow = hi;
          if (ow >= p->ow)
            break;
          cols = pool_window_span (ow, p->w, p->kw, p->stride_w, p->pad_left, p->pad_right);
          for (int r = rows.r0; r < rows.r1; r++)
            for (int c = cols.r0; c < cols.r1; c++)
              sum += x[(size_t) r * p->w + c];
          yrow[ow] = (float) (sum / ((double) row_count * avgpool_count (p, cols)));
        }
      if (p->stride_w == 1)
        avgpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, 1, p->pad_left, lo, hi, scale, yrow);
      else if (p->stride_w == 2)
        avgpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, 2, p->pad_left, lo, hi, scale, yrow);
      else
        avgpool_interior_row (x, p->w, rows.r0, rows.r1, p->kw, p->stride_w, p->pad_left, lo, hi, scale, yrow);
    }
}

/* x is (N,C,H,W), y (N,C,OH,OW) */
void
graft_avgpool2d_forward (const graft_pool2d_params *p, const float *x, float *y)
{
  size_t planes = (size_t) p->n * p->c;
  size_t in_plane = (size_t) p->h * p->w, out_plane = (size_t) p->oh * p->ow;
  size_t work = planes * (out_plane * (size_t) p->kh * p->kw + in_plane);
  int lo, hi;

  pool_interior (p->w, p->kw, p->stride_w, p->pad_left, p->ow, &lo, &hi);
#pragma omp parallel for schedule(static) if (work > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    avgpool_plane (p, lo, hi, x + i * in_plane, y + i * out_plane);
}

static ALWAYS_INLINE void
avgpool_interior_row_backward (const float *restrict dy, int w, int r0, int r1, int kw, int stride,
                               int pad_left, int lo, int hi, float scale, float *restrict dx)
{
  for (int r = r0; r < r1; r++)
    for (int j = 0; j < kw; j++)
      {
        ptrdiff_t off = (ptrdiff_t) r * w + j - pad_left;
        /* For a fixed j the columns o touch distinct elements, so this vectorises. */
        for (int o = lo; o < hi; o++)
          dx[off + (ptrdiff_t) o * stride] += dy[o] * scale;
      }
}

static void
avgpool_plane_backward (const graft_pool2d_params *p, int lo, int hi, const float *restrict dy,
                        float *restrict dx)
{
  for (int oh = 0; oh < p->oh; oh++)
    {
      pool_span rows = pool_window_span (oh, p->h, p->kh, p->stride_h, p->pad_top, p->pad_bottom);
      int row_count = avgpool_count (p, rows);
      const float *dyrow = dy + (size_t) oh * p->ow;
      float scale = (float) (1.0 / ((double) row_count * p->kw));

      for (int ow = 0; ow < p->ow; ow++)
        {
          pool_span cols;
          float g;
          if (ow == lo)
            ow = hi;
          if (ow >= p->ow)
            break;
          cols = pool_window_span (ow, p->w, p->kw, p->stride_w, p->pad_left, p->pad_right);
          g = (float) (dyrow[ow] / ((double) row_count * avgpool_count (p, cols)));
          for (int r = rows.r0; r < rows.r1; r++)
            for (int c = cols.r0; c < cols.r1; c++)
              dx[(size_t) r * p->w + c] += g;
        }
      if (p->stride_w == 1)
        avgpool_interior_row_backward (dyrow, p->w, rows.r0, rows.r1, p->kw, 1, p->pad_left, lo, hi, scale, dx);
      else if (p->stride_w == 2)
        avgpool_interior_row_backward (dyrow, p->w, rows.r0, rows.r1, p->kw, 2, p->pad_left, lo, hi, scale, dx);
      else
        avgpool_interior_row_backward (dyrow, p->w, rows.r0, rows.r1, p->kw, p->stride_w, p->pad_left, lo, hi,
                                       scale, dx);
    }
}

/* dy (N,C,OH,OW); dx (N,C,H,W) accumulates. */
void
graft_avgpool2d_backward (const graft_pool2d_params *p, const float *dy, float *dx)
{
  size_t planes = (size_t) p->n * p->c;
  size_t in_plane = (size_t) p->h * p->w, out_plane = (size_t) p->oh * p->ow;
  size_t work = planes * (out_plane * (size_t) p->kh * p->kw + in_plane);
  int lo, hi;

  if (dx == NULL)
    return;
  pool_interior (p->w, p->kw, p->stride_w, p->pad_left, p->ow, &lo, &hi);
#pragma omp parallel for schedule(static) if (work > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    avgpool_plane_backward (p, lo, hi, dy + i * out_plane, dx + i * in_plane);
}

/* ------------------------------------------------------------------------ */
/* Spatial mean                                                             */

/* Sum in double over eight interleaved partial sums: vectorisable, and the same
 * order every time. */
static double
plane_sum (const float *restrict x, size_t count)
{
  double acc[8] = { 0 };
  double tail = 0;
  size_t i = 0;

  for (; i + 8 <= count; i += 8)
    for (int k = 0; k < 8; k++)
      acc[k] += x[i + k];
  for (; i < count; i++)
    tail += x[i];
  return (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail;
}

/* x is (planes, spatial), y (planes) */
void
graft_mean_spatial_forward (size_t planes, size_t spatial, const float *x, float *y)
{
  if (spatial == 0)
    {
      /* The mean of nothing: 0 rather than NaN. */
      for (size_t i = 0; i < planes; i++)
        y[i] = 0;
      return;
    }
#pragma omp parallel for schedule(static) if (planes * spatial > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    y[i] = (float) (plane_sum (x + i * spatial, spatial) / (double) spatial);
}

/* dy (planes); dx (planes, spatial) accumulates dy / spatial. */
void
graft_mean_spatial_backward (size_t planes, size_t spatial, const float *dy, float *dx)
{
  if (dx == NULL || spatial == 0)
    return;
#pragma omp parallel for schedule(static) if (planes * spatial > POOL_PARALLEL_THRESHOLD)
  for (size_t i = 0; i < planes; i++)
    {
      float g = (float) (dy[i] / (double) spatial);
      float *restrict d = dx + i * spatial;
      for (size_t s = 0; s < spatial; s++)
        d[s] += g;
    }
}
