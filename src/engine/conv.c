/* conv.c: Conv2d, the fast path.
 *
 * Dense convolutions (more than one input channel per group) are im2col + SGEMM,
 * per sample and group. A 1x1, stride 1, unpadded convolution needs no im2col:
 * the input plane already is the column matrix. When output planes are small (late
 * layers: 14x14, 7x7), several samples are laid side by side in one wide column
 * matrix, so that a GEMM has at least GEMM_MIN_COLUMNS columns and the weights are
 * packed once for all of them; the GEMM output then goes through scratch and is
 * scattered back to NCHW (and dy is gathered the same way for backward). On 1x1 planes
 * (squeeze-excite's convolutions) the batch already is an (N, C) matrix: one GEMM, with
 * no gathering or scattering.
 *
 * Depthwise convolutions (one input channel per group, any channel multiplier)
 * are direct loops over (sample, channel) planes; see the comment of that section.
 */
#include "engine/ops.h"
#include "engine/simd.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* Below this many floats touched, an OpenMP region costs more than it saves. */
#define PARALLEL_MIN_WORK 32768
/* Batched samples make GEMMs of at least this many columns (output positions). */
#define GEMM_MIN_COLUMNS 1024
/* The cost of one more GEMM call, in floats moved (thread wake-up, setup). */
#define GEMM_CALL_FLOATS 16384

/* What the fast path derives from the params. */
typedef struct {
  int cg, mg;          /* input and output channels per group */
  int k;               /* GEMM depth: cg * kh * kw */
  size_t hw, ohw;      /* input and output plane sizes */
  int batch;           /* samples per GEMM */
  bool direct_col;     /* 1x1, stride 1, unpadded: the input is the column matrix */
  bool rows;           /* direct_col on 1x1 planes, one group: x is an (N, K) matrix and y
                          (N, M), so one GEMM for the batch needs no gathering or scattering */
  bool depthwise;      /* one input channel per group, several groups */
  size_t col_floats;   /* scratch for the column matrix */
  size_t out_floats;   /* scratch for a batched GEMM output / gathered dy */
} conv_layout;

static bool
conv_layout_get (const graft_conv2d_params *p, conv_layout *l)
{
  size_t cols, k, t;

  memset (l, 0, sizeof *l);
  l->cg = p->c / p->groups;
  l->mg = p->m / p->groups;
  if (!graft_size_mul ((size_t) l->cg, (size_t) p->kh, &k) || !graft_size_mul (k, (size_t) p->kw, &k)
      || k > INT_MAX)
    return false;
  l->k = (int) k;
  if (!graft_size_mul ((size_t) p->h, (size_t) p->w, &l->hw)
      || !graft_size_mul ((size_t) p->oh, (size_t) p->ow, &l->ohw))
    return false;
  l->depthwise = l->cg == 1 && p->groups > 1;
  l->direct_col = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1
                  && p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0;
  if (l->depthwise)
    {
      l->batch = 1;
      return true;
    }
  /* Squeeze-excite's convolutions (and a head's on pooled features) read 1x1 planes: the
   * batch is already the rows of a matrix. */
  l->rows = l->direct_col && l->hw == 1 && p->groups == 1;
  if (l->rows)
    {
      l->batch = p->n;
      return true;
    }
  /* Batching samples costs copies: gathering the columns of a 1x1 conv (the im2col of
   * others is needed anyway) and scattering the outputs. A GEMM per sample costs packing
   * the weights once more, and the call. Batch small planes when the copies are cheaper. */
  l->batch = 1;
  if (l->ohw < GEMM_MIN_COLUMNS
      && (double) l->mg * l->k + GEMM_CALL_FLOATS > (double) (l->direct_col ? l->k + l->mg : l->mg) * l->ohw)
    {
      size_t b = (GEMM_MIN_COLUMNS + l->ohw - 1) / l->ohw;
      l->batch = b < (size_t) p->n ? (int) b : p->n;
    }
  cols = l->ohw * (size_t) l->batch;   /* < 2 * max(ohw, GEMM_MIN_COLUMNS) */
  if (!(l->batch == 1 && l->direct_col)
      && !graft_size_mul ((size_t) l->k, cols, &l->col_floats))
    return false;
  if (l->batch > 1 && !graft_size_mul ((size_t) l->mg, cols, &l->out_floats))
    return false;
  return graft_size_add (l->col_floats, l->out_floats, &t);
}

/* Checks a size as a number of floats that memory could hold. */
static bool
floats_fit (size_t count)
{
  size_t bytes;
  return graft_size_mul (count, sizeof (float), &bytes) && bytes <= SIZE_MAX - GRAFT_ALIGNMENT;
}

static graft_status
output_size (const char *axis, int in, int k, int stride, int dilation, int pad0, int pad1,
             int *out, graft_error *error)
{
  int64_t extent = (int64_t) dilation * (k - 1) + 1;
  int64_t padded = (int64_t) in + pad0 + pad1;
  int64_t size;

  if (extent > INT_MAX || padded > INT_MAX)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                            "conv: %s: padded input %lld or dilated kernel %lld is too large",
                            axis, (long long) padded, (long long) extent);
  if (padded < extent)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "conv: %s: dilated kernel %lld is larger than the padded input %lld",
                            axis, (long long) extent, (long long) padded);
  size = (padded - extent) / stride + 1;
  *out = (int) size;
  return GRAFT_OK;
}

graft_status
graft_conv2d_setup (graft_conv2d_params *p, graft_error *error)
{
  const struct { const char *name; int value; int min; } fields[] = {
    { "n", p->n, 1 }, { "c", p->c, 1 }, { "h", p->h, 1 }, { "w", p->w, 1 }, { "m", p->m, 1 },
    { "kh", p->kh, 1 }, { "kw", p->kw, 1 },
    { "stride_h", p->stride_h, 1 }, { "stride_w", p->stride_w, 1 },
    { "dilation_h", p->dilation_h, 1 }, { "dilation_w", p->dilation_w, 1 },
    { "pad_top", p->pad_top, 0 }, { "pad_left", p->pad_left, 0 },
    { "pad_bottom", p->pad_bottom, 0 }, { "pad_right", p->pad_right, 0 },
    { "groups", p->groups, 1 },
  };
  graft_status status;
  size_t count, t;
  conv_layout l;

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (fields[i].value < fields[i].min)
      return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "conv: %s is %d, must be >= %d",
                              fields[i].name, fields[i].value, fields[i].min);
  if (p->c % p->groups != 0 || p->m % p->groups != 0)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "conv: groups %d does not divide input channels %d and output channels %d",
                            p->groups, p->c, p->m);
  status = output_size ("height", p->h, p->kh, p->stride_h, p->dilation_h, p->pad_top, p->pad_bottom,
                        &p->oh, error);
  if (status != GRAFT_OK)
    return status;
  status = output_size ("width", p->w, p->kw, p->stride_w, p->dilation_w, p->pad_left, p->pad_right,
                        &p->ow, error);
  if (status != GRAFT_OK)
    return status;

  /* Every tensor must be addressable: x, y, w, and the scratch. */
  if (!graft_size_mul ((size_t) p->n, (size_t) p->c, &count)
      || !graft_size_mul (count, (size_t) p->h, &count)
      || !graft_size_mul (count, (size_t) p->w, &count) || !floats_fit (count))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "conv: input (%d, %d, %d, %d) is too large",
                            p->n, p->c, p->h, p->w);
  if (!graft_size_mul ((size_t) p->n, (size_t) p->m, &count)
      || !graft_size_mul (count, (size_t) p->oh, &count)
      || !graft_size_mul (count, (size_t) p->ow, &count) || !floats_fit (count))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "conv: output (%d, %d, %d, %d) is too large",
                            p->n, p->m, p->oh, p->ow);
  if (!graft_size_mul ((size_t) p->m, (size_t) (p->c / p->groups), &count)
      || !graft_size_mul (count, (size_t) p->kh, &count)
      || !graft_size_mul (count, (size_t) p->kw, &count) || !floats_fit (count))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "conv: weight (%d, %d, %d, %d) is too large",
                            p->m, p->c / p->groups, p->kh, p->kw);
  /* BLAS takes int sizes: the GEMM depth and the columns of one batched GEMM. */
  if (!graft_size_mul ((size_t) (p->c / p->groups), (size_t) p->kh, &count)
      || !graft_size_mul (count, (size_t) p->kw, &count) || count > INT_MAX
      || !graft_size_mul ((size_t) p->oh, (size_t) p->ow, &t) || t > INT_MAX / 2 - GEMM_MIN_COLUMNS)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED,
                            "conv: kernel (%d, %d, %d) or output plane (%d, %d) is too large for BLAS",
                            p->c / p->groups, p->kh, p->kw, p->oh, p->ow);
  if (!conv_layout_get (p, &l) || !floats_fit (l.col_floats + l.out_floats))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "conv: scratch space is too large");
  return GRAFT_OK;
}

/* The scratch of the fast path: the column matrix of one GEMM (K rows, batch * OH*OW
 * columns) plus, when samples are batched, the GEMM's output. Depthwise needs none.
 * Returns SIZE_MAX when that does not fit in a size_t or p is not valid; after a
 * successful setup it never does. */
size_t
graft_conv2d_scratch_floats (const graft_conv2d_params *p)
{
  conv_layout l;

  if (p->n < 1 || p->c < 1 || p->m < 1 || p->kh < 1 || p->kw < 1 || p->groups < 1
      || p->oh < 1 || p->ow < 1 || p->h < 1 || p->w < 1
      || p->c % p->groups != 0 || p->m % p->groups != 0)
    return SIZE_MAX;
  if (!conv_layout_get (p, &l))
    return SIZE_MAX;
  return l.col_floats + l.out_floats;
}

/* ------------------------------------------------------------------------ */
/* Helpers */

/* The range [lo, hi) of o in [0, count) for which o * stride + off lies in [0, size). */
static inline void
valid_range (int off, int stride, int size, int count, int *lo, int *hi)
{
  long l = off >= 0 ? 0 : ((long) -off + stride - 1) / stride;
  long h = (long) size - 1 - off < 0 ? 0 : ((long) size - 1 - off) / stride + 1;
  if (h > count)
    h = count;
  if (l > h)
    l = h;
  *lo = (int) l;
  *hi = (int) h;
}

/* Sum of count floats in a fixed order that still vectorises: 8 lanes, then the tail. */
static float
sum_floats (const float *restrict x, size_t count)
{
  float acc[8] = { 0 }, sum = 0;
  size_t i = 0;

  for (; i + 8 <= count; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += x[i + j];
  for (; i < count; i++)
    sum += x[i];
  for (int j = 0; j < 8; j++)
    sum += acc[j];
  return sum;
}

/* dbias[oc] += sum of dy over samples and positions; one channel per thread. */
GRAFT_SIMD_DISPATCH
static void
bias_backward (const graft_conv2d_params *p, size_t ohw, const float *dy, float *dbias)
{
  size_t work = (size_t) p->n * p->m * ohw;

#pragma omp parallel for schedule(static) if (work > PARALLEL_MIN_WORK)
  for (int oc = 0; oc < p->m; oc++)
    {
      double sum = 0;
      for (int n = 0; n < p->n; n++)
        sum += sum_floats (dy + ((size_t) n * p->m + oc) * ohw, ohw);
      dbias[oc] += (float) sum;
    }
}

/* ------------------------------------------------------------------------ */
/* Dense: im2col + SGEMM */

/* col (K rows of ldcol) receives, for samples side by side, the patches of x; x points
 * at the group's first channel of the first sample, samples are sample_stride apart. */
GRAFT_SIMD_DISPATCH
static void
im2col (const graft_conv2d_params *p, const conv_layout *l, const float *x, size_t sample_stride,
        int samples, float *col, size_t ldcol)
{
  long items = (long) l->k * samples;
  int oh = p->oh, ow = p->ow, kk = p->kh * p->kw;

#pragma omp parallel for schedule(static) if ((size_t) items * l->ohw > PARALLEL_MIN_WORK)
  for (long item = 0; item < items; item++)
    {
      int row = (int) (item / samples), b = (int) (item % samples);
      int cg = row / kk, ki = row % kk / p->kw, kj = row % p->kw;
      int off_y = ki * p->dilation_h - p->pad_top, off_x = kj * p->dilation_w - p->pad_left;
      const float *plane = x + b * sample_stride + cg * l->hw;
      float *dst = col + row * ldcol + b * l->ohw;
      int ylo, yhi, lo, hi, sw = p->stride_w;

      valid_range (off_y, p->stride_h, p->h, oh, &ylo, &yhi);
      valid_range (off_x, sw, p->w, ow, &lo, &hi);
      memset (dst, 0, (size_t) ylo * ow * sizeof (float));
      for (int oy = ylo; oy < yhi; oy++)
        {
          const float *restrict s = plane + (size_t) (oy * p->stride_h + off_y) * p->w;
          float *restrict d = dst + (size_t) oy * ow;
          for (int ox = 0; ox < lo; ox++)
            d[ox] = 0;
          if (sw == 1)
            for (int ox = lo; ox < hi; ox++)
              d[ox] = s[ox + off_x];
          else
            for (int ox = lo; ox < hi; ox++)
              d[ox] = s[ox * sw + off_x];
          for (int ox = hi; ox < ow; ox++)
            d[ox] = 0;
        }
      memset (dst + (size_t) yhi * ow, 0, (size_t) (oh - yhi) * ow * sizeof (float));
    }
}

/* dx += col2im (col): the adjoint of im2col. One (sample, channel) plane per item, so
 * every dx element is summed by one thread in a fixed order. */
GRAFT_SIMD_DISPATCH
static void
col2im_add (const graft_conv2d_params *p, const conv_layout *l, const float *col, size_t ldcol,
            int samples, float *dx, size_t sample_stride)
{
  long items = (long) l->cg * samples;
  int ow = p->ow, sw = p->stride_w;

#pragma omp parallel for schedule(static) if ((size_t) items * l->ohw * p->kh * p->kw > PARALLEL_MIN_WORK)
  for (long item = 0; item < items; item++)
    {
      int b = (int) (item / l->cg), cg = (int) (item % l->cg);
      float *plane = dx + b * sample_stride + cg * l->hw;

      for (int ki = 0; ki < p->kh; ki++)
        for (int kj = 0; kj < p->kw; kj++)
          {
            int off_y = ki * p->dilation_h - p->pad_top, off_x = kj * p->dilation_w - p->pad_left;
            const float *src = col + ((size_t) (cg * p->kh + ki) * p->kw + kj) * ldcol + b * l->ohw;
            int ylo, yhi, lo, hi;

            valid_range (off_y, p->stride_h, p->h, p->oh, &ylo, &yhi);
            valid_range (off_x, sw, p->w, ow, &lo, &hi);
            for (int oy = ylo; oy < yhi; oy++)
              {
                float *restrict d = plane + (size_t) (oy * p->stride_h + off_y) * p->w;
                const float *restrict s = src + (size_t) oy * ow;
                if (sw == 1)
                  for (int ox = lo; ox < hi; ox++)
                    d[ox + off_x] += s[ox];
                else
                  for (int ox = lo; ox < hi; ox++)
                    d[ox * sw + off_x] += s[ox];
              }
          }
    }
}

/* y rows of the group (mg channels of samples side by side in out) = out + bias; with
 * act, each plane then goes through it into z (in place when z is y). */
GRAFT_SIMD_DISPATCH
static void
scatter_output (const graft_conv2d_params *p, const conv_layout *l, const float *out, int samples,
                int n0, int g, const float *bias, const graft_activation_params *act, float *y, float *z)
{
  long items = (long) l->mg * samples;
  size_t ldo = (size_t) samples * l->ohw;

#pragma omp parallel for schedule(static) if ((size_t) items * l->ohw > PARALLEL_MIN_WORK)
  for (long item = 0; item < items; item++)
    {
      int j = (int) (item / samples), b = (int) (item % samples);
      int oc = g * l->mg + j;
      const float *restrict s = out + j * ldo + b * l->ohw;
      float *restrict d = y + ((size_t) (n0 + b) * p->m + oc) * l->ohw;
      float v = bias != NULL ? bias[oc] : 0.0f;
      for (size_t i = 0; i < l->ohw; i++)
        d[i] = s[i] + v;
      if (act != NULL)
        graft_activation_forward_serial (act, l->ohw, d, z + (d - y));
    }
}

/* z = act(y) over count floats that one GEMM has just written (z may be y). */
static void
activate_block (const graft_activation_params *act, size_t count, const float *y, float *z)
{
  const size_t chunk = 16384;
  size_t chunks = (count + chunk - 1) / chunk;

#pragma omp parallel for schedule(static) if (count > PARALLEL_MIN_WORK)
  for (size_t c = 0; c < chunks; c++)
    {
      size_t start = c * chunk;
      graft_activation_forward_serial (act, count - start < chunk ? count - start : chunk, y + start, z + start);
    }
}

/* The group's dy rows for samples side by side (mg rows of samples * OH*OW). */
static void
gather_dy (const graft_conv2d_params *p, const conv_layout *l, const float *dy, int samples,
           int n0, int g, float *out)
{
  long items = (long) l->mg * samples;
  size_t ldo = (size_t) samples * l->ohw;

#pragma omp parallel for schedule(static) if ((size_t) items * l->ohw > PARALLEL_MIN_WORK)
  for (long item = 0; item < items; item++)
    {
      int j = (int) (item / samples), b = (int) (item % samples);
      memcpy (out + j * ldo + b * l->ohw,
              dy + ((size_t) (n0 + b) * p->m + g * l->mg + j) * l->ohw, l->ohw * sizeof (float));
    }
}

/* Plane j of y = bias[j]. */
GRAFT_SIMD_DISPATCH
static void
fill_bias (const float *bias, int channels, size_t ohw, float *y)
{
  size_t work = (size_t) channels * ohw;

#pragma omp parallel for schedule(static) if (work > PARALLEL_MIN_WORK)
  for (int j = 0; j < channels; j++)
    {
      float *restrict d = y + j * ohw;
      for (size_t i = 0; i < ohw; i++)
        d[i] = bias[j];
    }
}

/* y = conv(x) + bias; with act, z = act(y) block by block (z may be y). */
static void
dense_forward (const graft_conv2d_params *p, const conv_layout *l, const float *x, const float *w,
               const float *bias, const graft_activation_params *act, float *y, float *z, float *scratch)
{
  size_t sample_stride = (size_t) p->c * l->hw;

  if (l->rows)
    {
      /* y (N, M) = x (N, K) w^T, on rows of bias. */
      if (bias != NULL)
        for (int n = 0; n < p->n; n++)
          memcpy (y + (size_t) n * p->m, bias, (size_t) p->m * sizeof (float));
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, p->n, p->m, l->k,
                   1.0f, x, l->k, w, l->k, bias != NULL ? 1.0f : 0.0f, y, p->m);
      if (act != NULL)
        activate_block (act, (size_t) p->n * p->m, y, z);
      return;
    }
  for (int n0 = 0; n0 < p->n; n0 += l->batch)
    {
      int nb = p->n - n0 < l->batch ? p->n - n0 : l->batch;
      int cols = (int) (nb * l->ohw);
      for (int g = 0; g < p->groups; g++)
        {
          const float *xg = x + n0 * sample_stride + (size_t) g * l->cg * l->hw;
          const float *wg = w + (size_t) g * l->mg * l->k;
          const float *col = scratch;

          if (nb == 1 && l->direct_col)
            col = xg;
          else
            im2col (p, l, xg, sample_stride, nb, scratch, cols);
          if (nb == 1)
            {
              /* Straight into y; bias first, then the GEMM adds to it. */
              float *yg = y + ((size_t) n0 * p->m + (size_t) g * l->mg) * l->ohw;
              if (bias != NULL)
                fill_bias (bias + g * l->mg, l->mg, l->ohw, yg);
              cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, l->mg, cols, l->k,
                           1.0f, wg, l->k, col, cols, bias != NULL ? 1.0f : 0.0f, yg, cols);
              if (act != NULL)
                activate_block (act, (size_t) l->mg * l->ohw, yg, z + (yg - y));
            }
          else
            {
              float *out = scratch + l->col_floats;
              cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, l->mg, cols, l->k,
                           1.0f, wg, l->k, col, cols, 0.0f, out, cols);
              scatter_output (p, l, out, nb, n0, g, bias, act, y, z);
            }
        }
    }
}

/* dW += dY col^T; dcol = W^T dY, then col2im adds it into dx. With samples batched, dY
 * is first gathered side by side like the columns. */
static void
dense_backward (const graft_conv2d_params *p, const conv_layout *l, const float *x, const float *w,
                const float *dy, float *dx, bool set_dx, float *dw, float *scratch)
{
  size_t sample_stride = (size_t) p->c * l->hw;

  if (l->rows)
    {
      /* dw (M, K) += dy^T x; dx (N, K) = dy w. */
      if (dw != NULL)
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, p->m, l->k, p->n,
                     1.0f, dy, p->m, x, l->k, 1.0f, dw, l->k);
      if (dx != NULL)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, p->n, l->k, p->m,
                     1.0f, dy, p->m, w, l->k, set_dx ? 0.0f : 1.0f, dx, l->k);
      return;
    }
  for (int n0 = 0; n0 < p->n; n0 += l->batch)
    {
      int nb = p->n - n0 < l->batch ? p->n - n0 : l->batch;
      int cols = (int) (nb * l->ohw);
      for (int g = 0; g < p->groups; g++)
        {
          const float *wg = w != NULL ? w + (size_t) g * l->mg * l->k : NULL;
          const float *dyg;
          size_t gofs = (size_t) g * l->cg * l->hw;

          if (nb == 1)
            dyg = dy + ((size_t) n0 * p->m + (size_t) g * l->mg) * l->ohw;
          else
            {
              gather_dy (p, l, dy, nb, n0, g, scratch + l->col_floats);
              dyg = scratch + l->col_floats;
            }
          if (dw != NULL)
            {
              const float *xg = x + n0 * sample_stride + gofs;
              const float *col = scratch;
              if (nb == 1 && l->direct_col)
                col = xg;
              else
                im2col (p, l, xg, sample_stride, nb, scratch, cols);
              cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, l->mg, l->k, cols,
                           1.0f, dyg, cols, col, cols, 1.0f, dw + (size_t) g * l->mg * l->k, l->k);
            }
          if (dx != NULL)
            {
              float *dxg = dx + n0 * sample_stride + gofs;
              if (nb == 1 && l->direct_col)
                cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, l->k, cols, l->mg,
                             1.0f, wg, l->k, dyg, cols, set_dx ? 0.0f : 1.0f, dxg, cols);
              else
                {
                  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, l->k, cols, l->mg,
                               1.0f, wg, l->k, dyg, cols, 0.0f, scratch, cols);
                  /* Cleared here, block by block, rather than all of dx beforehand. */
                  if (set_dx)
                    for (int b = 0; b < nb; b++)
                      memset (dxg + b * sample_stride, 0, (size_t) l->cg * l->hw * sizeof (float));
                  col2im_add (p, l, scratch, cols, nb, dxg, sample_stride);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Depthwise: direct loops
 *
 * Input planes are first copied into a small buffer with their zero padding, so that the
 * loops that follow have no bounds checks, and then each band of output rows (a whole
 * plane when it fits) is one flat loop over output positions t that vectorises, short
 * rows or not. Two layouts:
 *
 * - wrap (stride 1, output as wide as the input: 3x3 pad 1, 5x5 pad 2): the buffer holds
 *   whole input rows without column padding, so filling it is one contiguous copy, and
 *   output t = oy * w + ox, written straight into y, reads in[t + tap offset]. A tap that
 *   runs off the left or right end of a row would read the neighbouring row; a per-column
 *   test drops it. Zero guards before and after the rows keep every read in the buffer.
 * - padded (everything else): rows with their column padding; when the row and column
 *   strides agree, output t at row stride = padded row length reads in[t * stride + tap
 *   offset]; the outputs that fall in the padding are computed into scratch and dropped.
 *   Small planes of one channel are stacked, a sample after another, in one buffer.
 *   Wide rows (strided, or stride 1 from DW_FLAT_MAX_WIDTH on in the forward geometry)
 *   are computed a row at a time instead, straight into the output.
 *
 * dx is the correlation of dy, upsampled by the stride, with the flipped kernel and the
 * complementary padding: the same loops serve (for strided convs with wide rows, a row
 * gather that skips the zeros of the upsampling does less work). dw is a dot product
 * per tap over the same buffers. The backward handles dx, dw and dbias of a channel in
 * one pass over its planes. Buffers are per thread, on the stack (about 48 KiB). */

#define DW_BUFFER_FLOATS 4096
#define DW_MAX_TAPS 64
/* Up to this row length the wrap layout pays (no per-row work); beyond, its column tests
 * cost more than the per-row work of the padded layout. */
#define DW_WRAP_MAX_WIDTH 20
/* From this row length on, stride-1 planes that do not stack run row by row (forward_geometry). */
#define DW_FLAT_MAX_WIDTH 32

/* out[oy][ox] = sum over taps of k[ki][kj] * in'[oy * sh - pt + ki * dh][ox * sw - pl + kj * dw],
 * where in' is in upsampled by (uh, uw) (in'[u][v] = in[u / uh][v / uw] when both divide,
 * else 0) and is zero outside. Pads may be negative. */
typedef struct {
  int ih, iw, uh, uw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
  int cols;          /* padded row length: (ow - 1) * sw + (kw - 1) * dw + 1 */
  int reach;         /* padded rows under one output row: (kh - 1) * dh + 1 */
  bool flat;         /* one flat loop per stack or band (sh == sw, and stride 1 or narrow rows;
                        forward_geometry: not for wide rows of single planes) */
  int band;          /* output rows per band (oh when planes are stacked); 0: use the fallback */
  int stack;         /* planes per stack (1 for bands) */
  int plane_rows;    /* buffer rows between stacked planes, a multiple of sh when flat */
  bool wrap;         /* the wrap layout: cols == iw == ow, stride 1 */
  int guard;         /* wrap: zeros before and after the rows */
} dw_geometry;

static dw_geometry
dw_geometry_make (int ih, int iw, int uh, int uw, int oh, int ow, int kh, int kw, int sh, int sw,
                  int dh, int dw, int pt, int pl, int samples)
{
  dw_geometry g = { ih, iw, uh, uw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, 0, 0, false, 0, 1, 0,
                    false, 0 };
  long cols = (long) (ow - 1) * sw + (long) (kw - 1) * dw + 1;
  long reach = (long) (kh - 1) * dh + 1;
  long rows;

  if (kh * kw > DW_MAX_TAPS)
    return g;
  if (sh == 1 && sw == 1 && uh == 1 && uw == 1 && ow == iw && iw <= DW_WRAP_MAX_WIDTH)
    {
      /* Then pl and the right pad (kw - 1) * dw - pl are both >= 0. */
      long right = (long) (kw - 1) * dw - pl;
      long guard = pl > right ? pl : right;
      long fit = (DW_BUFFER_FLOATS - 2 * guard) / iw;   /* buffer rows */
      if (fit >= reach)
        {
          g.wrap = true;
          g.guard = (int) guard;
          g.cols = iw;
          g.reach = (int) reach;
          g.band = fit - reach + 1 < oh ? (int) (fit - reach + 1) : oh;
          return g;
        }
    }
  if (cols * reach > DW_BUFFER_FLOATS)
    return g;
  g.cols = (int) cols;
  g.reach = (int) reach;
  g.flat = sh == sw && (sw == 1 || ow < 16);
  rows = (long) (oh - 1) * sh + reach;
  if (g.flat)
    rows = (rows + sh - 1) / sh * sh;
  if (rows * cols <= DW_BUFFER_FLOATS)
    {
      long stack = DW_BUFFER_FLOATS / (rows * cols);
      g.band = oh;
      g.stack = stack < samples ? (int) stack : samples;
      g.plane_rows = (int) rows;
    }
  else
    {
      long band = (DW_BUFFER_FLOATS / cols - reach) / sh + 1;
      g.band = band < oh ? (int) band : oh;
    }
  return g;
}

/* Rows [r0, r0 + rows) of the padded (and upsampled) input plane into buf (rows x cols). */
GRAFT_SIMD_DISPATCH
static void
pad_band (const dw_geometry *g, const float *in, int r0, int rows, float *restrict buf)
{
  long vh = (long) (g->ih - 1) * g->uh + 1;
  /* Columns c = pl + v * uw for input columns v in [vlo, vhi) lie in [0, cols). */
  long vlo = g->pl >= 0 ? 0 : (-(long) g->pl + g->uw - 1) / g->uw;
  long vhi = g->cols - 1 - (long) g->pl < 0 ? 0 : ((long) g->cols - 1 - g->pl) / g->uw + 1;

  if (vhi > g->iw)
    vhi = g->iw;
  for (int r = 0; r < rows; r++)
    {
      float *restrict d = buf + (size_t) r * g->cols;
      long u = (long) r0 + r - g->pt;
      if (u < 0 || u >= vh || u % g->uh != 0 || vhi <= vlo)
        {
          for (int c = 0; c < g->cols; c++)
            d[c] = 0;
          continue;
        }
      const float *restrict s = in + u / g->uh * g->iw;
      if (g->uw == 1)
        {
          long lo = g->pl + vlo, hi = g->pl + vhi;
          for (long c = 0; c < lo; c++)
            d[c] = 0;
          for (long c = lo; c < hi; c++)
            d[c] = s[c - g->pl];
          for (long c = hi; c < g->cols; c++)
            d[c] = 0;
        }
      else
        {
          for (int c = 0; c < g->cols; c++)
            d[c] = 0;
          for (long v = vlo; v < vhi; v++)
            d[g->pl + v * g->uw] = s[v];
        }
    }
}

/* out[t] = bias + taps (or out[t] += taps when ACC) for t < len, where the taps of t read
 * in[ki * cols + t * SW + kj]: a KH x KW kernel, dilation 1, unrolled so the loop over t
 * vectorises. flip reverses the kernel (the transposed correlation). */
static inline __attribute__ ((always_inline)) void
corr_fixed (const float *restrict in, long cols, const float *restrict k, bool flip, float bias,
            float *restrict out, int len, const bool ACC, const int KH, const int KW, const int SW)
{
  float kv[25];

  for (int i = 0; i < KH * KW; i++)
    kv[i] = flip ? k[KH * KW - 1 - i] : k[i];
  for (int t = 0; t < len; t++)
    {
      float sum = ACC ? out[t] : bias;
      for (int ki = 0; ki < KH; ki++)
        for (int kj = 0; kj < KW; kj++)
          sum += kv[ki * KW + kj] * in[ki * cols + t * SW + kj];
      out[t] = sum;
    }
}

/* corr_fixed for any kernel, dilation and stride: tap by tap. */
GRAFT_SIMD_DISPATCH
static void
corr_generic (const dw_geometry *g, const float *restrict in, const float *restrict k, bool flip,
              float bias, bool acc, float *restrict out, int len)
{
  int kk = g->kh * g->kw, sw = g->sw;

  if (!acc)
    for (int t = 0; t < len; t++)
      out[t] = bias;
  for (int ki = 0; ki < g->kh; ki++)
    for (int kj = 0; kj < g->kw; kj++)
      {
        int tap = ki * g->kw + kj;
        float kv = k[flip ? kk - 1 - tap : tap];
        const float *restrict s = in + (long) ki * g->dh * g->cols + (long) kj * g->dw;
        if (sw == 1)
          for (int t = 0; t < len; t++)
            out[t] += kv * s[t];
        else
          for (int t = 0; t < len; t++)
            out[t] += kv * s[(long) t * sw];
      }
}

/* len outputs of the correlation from the padded input at in (stride sw along t). */
GRAFT_SIMD_DISPATCH
static void
corr_line (const dw_geometry *g, const float *in, const float *k, bool flip, float bias, bool acc,
           float *out, int len)
{
  long cols = g->cols;

  if (g->dh == 1 && g->dw == 1 && g->kh == g->kw)
    {
      if (g->kh == 3 && g->sw == 1)
        {
          if (acc)
            corr_fixed (in, cols, k, flip, bias, out, len, true, 3, 3, 1);
          else
            corr_fixed (in, cols, k, flip, bias, out, len, false, 3, 3, 1);
          return;
        }
      if (g->kh == 5 && g->sw == 1)
        {
          if (acc)
            corr_fixed (in, cols, k, flip, bias, out, len, true, 5, 5, 1);
          else
            corr_fixed (in, cols, k, flip, bias, out, len, false, 5, 5, 1);
          return;
        }
      if (g->kh == 3 && g->sw == 2 && !acc)
        {
          corr_fixed (in, cols, k, flip, bias, out, len, false, 3, 3, 2);
          return;
        }
      if (g->kh == 5 && g->sw == 2 && !acc)
        {
          corr_fixed (in, cols, k, flip, bias, out, len, false, 5, 5, 2);
          return;
        }
    }
  corr_generic (g, in, k, flip, bias, acc, out, len);
}

/* Where the rows of a band of nk planes are: the band starts at output row oy0 and has
 * hb rows; plane p starts at buffer row p * step. */
typedef struct {
  int oy0, hb, rows, step, nk;
} dw_band;

static dw_band
band_at (const dw_geometry *g, int oy0, int nk)
{
  dw_band b;
  b.oy0 = oy0;
  b.hb = g->oh - oy0 < g->band ? g->oh - oy0 : g->band;
  b.rows = (b.hb - 1) * g->sh + g->reach;
  b.step = nk > 1 ? g->plane_rows : b.rows;
  b.nk = nk;
  return b;
}

/* Pads the band of nk planes (plane_stride floats apart) into buf, one below the other. */
GRAFT_SIMD_DISPATCH
static void
pad_stack (const dw_geometry *g, const dw_band *b, const float *in, size_t plane_stride, float *buf)
{
  for (int p = 0; p < b->nk; p++)
    {
      float *d = buf + (size_t) p * b->step * g->cols;
      pad_band (g, in + p * plane_stride, b->oy0 * g->sh, b->rows, d);
      for (size_t i = (size_t) b->rows * g->cols; i < (size_t) b->step * g->cols; i++)
        d[i] = 0;
    }
}

/* The outputs of a flat loop over a stack: the first flat index of plane p, and the count. */
static size_t
flat_offset (const dw_geometry *g, const dw_band *b, int p)
{
  return (size_t) p * (b->step / g->sh) * g->cols;
}

static int
flat_length (const dw_geometry *g, const dw_band *b)
{
  return (int) (flat_offset (g, b, b->nk - 1) + (size_t) (b->hb - 1) * g->cols + g->ow);
}

/* out planes (plane_stride apart, at the band's first row) = bias + correlation of the
 * padded stack in buf with k. tmp is the flat scratch. */
GRAFT_SIMD_DISPATCH
static void
correlate_stack (const dw_geometry *g, const dw_band *b, const float *buf, const float *k, float bias,
                 float *out, size_t plane_stride, float *restrict tmp)
{
  if (g->flat)
    {
      corr_line (g, buf, k, false, bias, false, tmp, flat_length (g, b));
      for (int p = 0; p < b->nk; p++)
        for (int r = 0; r < b->hb; r++)
          {
            float *restrict d = out + p * plane_stride + (size_t) r * g->ow;
            const float *restrict s = tmp + flat_offset (g, b, p) + (size_t) r * g->cols;
            for (int ox = 0; ox < g->ow; ox++)
              d[ox] = s[ox];
          }
    }
  else
    for (int p = 0; p < b->nk; p++)
      for (int r = 0; r < b->hb; r++)
        corr_line (g, buf + ((size_t) p * b->step + (size_t) r * g->sh) * g->cols, k, false, bias, false,
                   out + p * plane_stride + (size_t) r * g->ow, g->ow);
}

/* Wrap layout: input rows [r0, r0 + rows) of the padded plane (row r is input row r - pt,
 * zero outside) into buf after guard zeros, and guard zeros after them. Returns where
 * row r0 starts. */
GRAFT_SIMD_DISPATCH
static float *
pad_wrap (const dw_geometry *g, const float *in, int r0, int rows, float *restrict buf)
{
  long u0 = (long) r0 - g->pt, u1 = u0 + rows;   /* input rows of the band */
  long lo = u0 < 0 ? 0 : u0, hi = u1 < g->ih ? u1 : g->ih;   /* the ones inside */
  float *rowsp = buf + g->guard;
  size_t total = (size_t) rows * g->iw, before = total, middle = 0;

  if (lo < hi)
    {
      before = (size_t) (lo - u0) * g->iw;
      middle = (size_t) (hi - lo) * g->iw;
    }

  for (int i = 0; i < g->guard; i++)
    buf[i] = 0;
  for (size_t i = 0; i < before; i++)
    rowsp[i] = 0;
  memcpy (rowsp + before, in + lo * g->iw, middle * sizeof (float));
  for (size_t i = before + middle; i < total + g->guard; i++)
    rowsp[i] = 0;
  return rowsp;
}

/* v when mask is all ones, +0 when it is zero. A bitwise and, not a branch or a select:
 * GCC will not turn a conditional float add into vector code under -ftrapping-math. */
static inline float
keep_if (float v, int32_t mask)
{
  int32_t bits;

  memcpy (&bits, &v, sizeof bits);
  bits &= mask;
  memcpy (&v, &bits, sizeof v);
  return v;
}

/* All ones when lo <= c < hi, else zero. */
static inline int32_t
column_mask (int32_t c, int lo, int hi)
{
  return -(int32_t) ((c >= lo) & (c < hi));
}

/* The columns [lo[kj], hi[kj]) where tap column kj lies inside the input row. */
static void
wrap_columns (const dw_geometry *g, int *lo, int *hi)
{
  for (int kj = 0; kj < g->kw; kj++)
    {
      int off = kj * g->dw - g->pl;
      lo[kj] = off < 0 ? -off : 0;
      hi[kj] = off > 0 ? g->iw - off : g->iw;
    }
}

/* out[t] = bias + taps (or += taps when ACC) for t < len: a KH x KW kernel, dilation 1, in
 * the wrap layout; col[t] is the column of output t. */
static inline __attribute__ ((always_inline)) void
corr_wrap_fixed (const dw_geometry *g, const float *restrict in, const float *restrict k, bool flip,
                 float bias, float *restrict out, int len, const int32_t *restrict col,
                 const bool ACC, const int KH, const int KW)
{
  float kv[25];
  int lo[5], hi[5];
  long iw = g->iw, pl = g->pl;

  for (int i = 0; i < KH * KW; i++)
    kv[i] = flip ? k[KH * KW - 1 - i] : k[i];
  wrap_columns (g, lo, hi);
  for (int t = 0; t < len; t++)
    {
      int cx = col[t];
      float sum = ACC ? out[t] : bias;
      for (int kj = 0; kj < KW; kj++)
        {
          float part = kv[kj] * in[t + kj - pl];
          for (int ki = 1; ki < KH; ki++)
            part += kv[ki * KW + kj] * in[t + ki * iw + kj - pl];
          sum += keep_if (part, column_mask (cx, lo[kj], hi[kj]));
        }
      out[t] = sum;
    }
}

GRAFT_SIMD_DISPATCH
static void
corr_wrap (const dw_geometry *g, const float *in, const float *k, bool flip, float bias, bool acc,
           float *out, int len, const int32_t *col)
{
  int lo[DW_MAX_TAPS], hi[DW_MAX_TAPS], kk = g->kh * g->kw;

  if (g->dh == 1 && g->dw == 1 && g->kh == g->kw && (g->kh == 3 || g->kh == 5))
    {
      if (g->kh == 3 && acc)
        corr_wrap_fixed (g, in, k, flip, bias, out, len, col, true, 3, 3);
      else if (g->kh == 3)
        corr_wrap_fixed (g, in, k, flip, bias, out, len, col, false, 3, 3);
      else if (acc)
        corr_wrap_fixed (g, in, k, flip, bias, out, len, col, true, 5, 5);
      else
        corr_wrap_fixed (g, in, k, flip, bias, out, len, col, false, 5, 5);
      return;
    }
  /* Any kernel and dilation: tap by tap. */
  wrap_columns (g, lo, hi);
  if (!acc)
    for (int t = 0; t < len; t++)
      out[t] = bias;
  for (int ki = 0; ki < g->kh; ki++)
    for (int kj = 0; kj < g->kw; kj++)
      {
        int tap = ki * g->kw + kj, l = lo[kj], h = hi[kj];
        float kv = k[flip ? kk - 1 - tap : tap];
        const float *restrict s = in + (long) ki * g->dh * g->iw + (long) kj * g->dw - g->pl;
        float *restrict o = out;
        for (int t = 0; t < len; t++)
          o[t] += keep_if (kv * s[t], column_mask (col[t], l, h));
      }
}

/* col[t] = t mod iw for every output a wrap band can have. */
static void
wrap_column_index (const dw_geometry *g, int32_t *col)
{
  int c = 0;

  for (int t = 0; t < DW_BUFFER_FLOATS; t++)
    {
      col[t] = c;
      if (++c == g->iw)
        c = 0;
    }
}

/* Fallbacks for rows too wide or kernels too large for the buffer: the same sums with
 * bounds checks, a row at a time (no upsampling: only the forward geometry uses them). */

static void
tap_range (const dw_geometry *g, int kj, int *lo, int *hi)
{
  valid_range (kj * g->dw - g->pl, g->sw, g->iw, g->ow, lo, hi);
}

GRAFT_SIMD_DISPATCH
static void
fallback_correlate_plane (const dw_geometry *g, const float *in, const float *k, float bias, float *out)
{
  for (int oy = 0; oy < g->oh; oy++)
    {
      float *restrict orow = out + (size_t) oy * g->ow;
      for (int ox = 0; ox < g->ow; ox++)
        orow[ox] = bias;
      for (int ki = 0; ki < g->kh; ki++)
        {
          long iy = (long) oy * g->sh - g->pt + (long) ki * g->dh;
          if (iy < 0 || iy >= g->ih)
            continue;
          const float *restrict irow = in + iy * g->iw;
          for (int kj = 0; kj < g->kw; kj++)
            {
              int off = kj * g->dw - g->pl, lo, hi;
              float kv = k[ki * g->kw + kj];
              tap_range (g, kj, &lo, &hi);
              for (int ox = lo; ox < hi; ox++)
                orow[ox] += kv * irow[(long) ox * g->sw + off];
            }
        }
    }
}

/* dx += the adjoint of the correlation: every dy element scatters into its taps. */
static void
fallback_scatter_plane (const dw_geometry *g, const float *dy, const float *k, float *dx)
{
  for (int oy = 0; oy < g->oh; oy++)
    {
      const float *restrict drow = dy + (size_t) oy * g->ow;
      for (int ki = 0; ki < g->kh; ki++)
        {
          long iy = (long) oy * g->sh - g->pt + (long) ki * g->dh;
          if (iy < 0 || iy >= g->ih)
            continue;
          float *restrict xrow = dx + iy * g->iw;
          for (int kj = 0; kj < g->kw; kj++)
            {
              int off = kj * g->dw - g->pl, lo, hi;
              float kv = k[ki * g->kw + kj];
              tap_range (g, kj, &lo, &hi);
              for (int ox = lo; ox < hi; ox++)
                xrow[(long) ox * g->sw + off] += kv * drow[ox];
            }
        }
    }
}

/* sums[tap] += sum over the plane of dy * x under that tap, in double. */
GRAFT_SIMD_DISPATCH
static void
fallback_weight_plane (const dw_geometry *g, const float *x, const float *dy, double *sums)
{
  for (int oy = 0; oy < g->oh; oy++)
    {
      const float *restrict drow = dy + (size_t) oy * g->ow;
      for (int ki = 0; ki < g->kh; ki++)
        {
          long iy = (long) oy * g->sh - g->pt + (long) ki * g->dh;
          if (iy < 0 || iy >= g->ih)
            continue;
          const float *restrict xrow = x + iy * g->iw;
          for (int kj = 0; kj < g->kw; kj++)
            {
              int off = kj * g->dw - g->pl, lo, hi;
              double sum = 0;
              tap_range (g, kj, &lo, &hi);
              for (int ox = lo; ox < hi; ox++)
                sum += (double) drow[ox] * xrow[(long) ox * g->sw + off];
              sums[ki * g->kw + kj] += sum;
            }
        }
    }
}

static dw_geometry
forward_geometry (const graft_conv2d_params *p)
{
  dw_geometry g = dw_geometry_make (p->h, p->w, 1, 1, p->oh, p->ow, p->kh, p->kw, p->stride_h, p->stride_w,
                                    p->dilation_h, p->dilation_w, p->pad_top, p->pad_left, p->n);
  /* Wide rows one plane at a time: a row per loop, straight into y, beats one flat loop
   * into scratch and a copy to y (MobileNetV2's 3x3 at 112 and 56: 30-40 % less time,
   * bench-kernels). The flat loop stays for stacks of small planes. */
  if (g.flat && g.sh == 1 && g.stack == 1 && g.ow >= DW_FLAT_MAX_WIDTH)
    g.flat = false;
  return g;
}

/* Work items of the forward and dx loops: (channel, run of g->stack samples). */
static void
item_planes (const graft_conv2d_params *p, const dw_geometry *g, long item, int *c, int *n0, int *nk)
{
  int runs = (p->n + g->stack - 1) / g->stack;
  *c = (int) (item / runs);
  *n0 = (int) (item % runs) * g->stack;
  *nk = p->n - *n0 < g->stack ? p->n - *n0 : g->stack;
}

/* z = act(y) on the planes of one depthwise item, just written: samples n0 .. n0+nk-1,
 * channels c * mult .. c * mult + mult-1. */
static inline void
activate_item (const graft_activation_params *act, const conv_layout *l, int c, int mult, int n0, int nk,
               size_t y_stride, const float *y, float *z)
{
  if (act == NULL)
    return;
  for (int i = 0; i < nk; i++)
    {
      size_t offset = (size_t) (n0 + i) * y_stride + (size_t) c * mult * l->ohw;
      graft_activation_forward_serial (act, (size_t) mult * l->ohw, y + offset, z + offset);
    }
}

/* y planes (n, c * mult + j) from the x planes (n, c): one padded stack serves all j;
 * with act, z = act(y) item by item (z may be y). */
GRAFT_SIMD_DISPATCH
static void
depthwise_forward (const graft_conv2d_params *p, const conv_layout *l, const float *x, const float *w,
                   const float *bias, const graft_activation_params *act, float *y, float *z)
{
  dw_geometry g = forward_geometry (p);
  int mult = p->m / p->c, kk = p->kh * p->kw;
  long items = (long) p->c * ((p->n + g.stack - 1) / g.stack);
  size_t x_stride = (size_t) p->c * l->hw, y_stride = (size_t) p->m * l->ohw;

#pragma omp parallel if ((size_t) p->n * p->m * (l->ohw * kk + l->hw) > PARALLEL_MIN_WORK)
  {
    float buf[DW_BUFFER_FLOATS], tmp[DW_BUFFER_FLOATS];
    int32_t col[DW_BUFFER_FLOATS];

    if (g.wrap)
      wrap_column_index (&g, col);
#pragma omp for schedule(static)
    for (long item = 0; item < items; item++)
      {
        int c, n0, nk;

        item_planes (p, &g, item, &c, &n0, &nk);
        const float *xp = x + n0 * x_stride + c * l->hw;
        if (g.band == 0)
          {
            for (int i = 0; i < nk; i++)
              for (int j = 0; j < mult; j++)
                {
                  int oc = c * mult + j;
                  fallback_correlate_plane (&g, xp + i * x_stride, w + (size_t) oc * kk,
                                            bias != NULL ? bias[oc] : 0.0f,
                                            y + (n0 + i) * y_stride + oc * l->ohw);
                }
            activate_item (act, l, c, mult, n0, nk, y_stride, y, z);
            continue;
          }
        for (int oy0 = 0; oy0 < g.oh; oy0 += g.band)
          {
            dw_band b = band_at (&g, oy0, nk);
            if (g.wrap)
              {
                /* One sample per item: write straight into y. */
                const float *in = pad_wrap (&g, xp, oy0, b.rows, buf);
                for (int j = 0; j < mult; j++)
                  {
                    int oc = c * mult + j;
                    corr_wrap (&g, in, w + (size_t) oc * kk, false, bias != NULL ? bias[oc] : 0.0f, false,
                               y + n0 * y_stride + oc * l->ohw + (size_t) oy0 * g.ow, b.hb * g.ow, col);
                  }
                continue;
              }
            pad_stack (&g, &b, xp, x_stride, buf);
            for (int j = 0; j < mult; j++)
              {
                int oc = c * mult + j;
                correlate_stack (&g, &b, buf, w + (size_t) oc * kk, bias != NULL ? bias[oc] : 0.0f,
                                 y + n0 * y_stride + oc * l->ohw + (size_t) oy0 * g.ow, y_stride, tmp);
              }
          }
        activate_item (act, l, c, mult, n0, nk, y_stride, y, z);
      }
  }
}

/* The dot products of dw and the interleaving of dx rows at stride 2 run on DOT_LANES
 * floats as one value (vector_size): one AVX-512 operation, two AVX2 or four SSE ones, the
 * same arithmetic lane by lane in every clone. With stride 2, even elements of two loads
 * are picked by one shuffle (vpermt2ps) instead of a gather. The lanes of a dot product
 * are summed in a fixed tree, then the tail. */
#define DOT_LANES 16
typedef float dot_vec __attribute__ ((vector_size (DOT_LANES * sizeof (float))));
typedef float dot_uvec __attribute__ ((vector_size (DOT_LANES * sizeof (float)), aligned (4), may_alias));
typedef int32_t dot_ivec __attribute__ ((vector_size (DOT_LANES * sizeof (int32_t))));
#define dot_load(p) (*(const dot_uvec *) (p))
typedef float dot_vec8 __attribute__ ((vector_size (8 * sizeof (float))));
typedef float dot_uvec8 __attribute__ ((vector_size (8 * sizeof (float)), aligned (4), may_alias));
typedef int32_t dot_ivec8 __attribute__ ((vector_size (8 * sizeof (int32_t))));
#define dot_load8(p) (*(const dot_uvec8 *) (p))

/* q[ox * sw + kj * dw] += k[kj] * d[ox]: one dy row scattered into a padded dx row. */
static void
scatter_row (const dw_geometry *g, const float *restrict d, const float *restrict k, float *restrict q)
{
  int ow = g->ow;

  if (g->sw == 2 && g->kw == 3 && g->dw == 1)
    {
      /* Even columns take taps 0 and 2, odd ones tap 1: two streams, no stride. */
      float k0 = k[0], k1 = k[1], k2 = k[2];
      q[0] += k0 * d[0];
      q[1] += k1 * d[0];
      for (int ox = 1; ox < ow; ox++)
        {
          q[2 * ox] += k0 * d[ox] + k2 * d[ox - 1];
          q[2 * ox + 1] += k1 * d[ox];
        }
      q[2 * ow] += k2 * d[ow - 1];
      return;
    }
  for (int kj = 0; kj < g->kw; kj++)
    {
      float kv = k[kj];
      float *restrict qj = q + (long) kj * g->dw;
      for (int ox = 0; ox < ow; ox++)
        qj[(long) ox * g->sw] += kv * d[ox];
    }
}

/* Stride 2, dilation 1: the even columns of the padded row (qe) take the even taps,
 * the odd ones (qo) the odd taps, each a contiguous run: qe[ox + kj / 2] or
 * qo[ox + kj / 2] += k[kj] * d[ox]. No strided stores (which vectorise badly, as
 * scatters); interleave_row puts the two halves back together. */
static inline __attribute__ ((always_inline)) void
scatter_row_even_odd (const dw_geometry *g, const float *restrict d, const float *restrict k,
                      float *restrict qe, float *restrict qo)
{
  const int ow = g->ow, kw = g->kw;

  for (int kj = 0; kj < kw; kj += 2)
    {
      const float kv = k[kj];
      float *restrict q = qe + kj / 2;
      for (int ox = 0; ox < ow; ox++)
        q[ox] += kv * d[ox];
    }
  for (int kj = 1; kj < kw; kj += 2)
    {
      const float kv = k[kj];
      float *restrict q = qo + kj / 2;
      for (int ox = 0; ox < ow; ox++)
        q[ox] += kv * d[ox];
    }
}

/* q[2j] = qe[j], q[2j + 1] = qo[j] for the cols floats of q. */
static inline __attribute__ ((always_inline)) void
interleave_row (const float *restrict qe, const float *restrict qo, int cols, float *restrict q)
{
  const dot_ivec lo = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23 };
  const dot_ivec hi = { 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
  int j = 0, pairs = cols / 2;

  for (; j + DOT_LANES <= pairs; j += DOT_LANES)
    {
      dot_vec e = dot_load (qe + j), o = dot_load (qo + j);
      dot_vec a = __builtin_shuffle (e, o, lo), b = __builtin_shuffle (e, o, hi);
      memcpy (q + 2 * j, &a, sizeof a);
      memcpy (q + 2 * j + DOT_LANES, &b, sizeof b);
    }
  for (; j < pairs; j++)
    {
      q[2 * j] = qe[j];
      q[2 * j + 1] = qo[j];
    }
  if (cols % 2 != 0)
    q[cols - 1] = qe[pairs];
}

/* dx += the transposed correlation of a strided conv with wide rows: each dx row gathers
 * the dy rows that reach it, each scattered along a padded row q, then added (or, with
 * set, stored: every element of the plane is written). Does a quarter of the
 * multiplications of the upsampled correlation at stride 2. q2 is scratch of cols floats. */
GRAFT_SIMD_DISPATCH
static void
dx_rows_strided (const dw_geometry *f, const float *k, const float *dy, float *dx, float *restrict q,
                 float *restrict q2, bool set)
{
  const long hi = (long) f->cols - f->pl < f->iw ? (long) f->cols - f->pl : f->iw;
  const bool even_odd = f->sw == 2 && f->dw == 1;
  const int cols = f->cols, iw = f->iw, pl = f->pl;
  float *qe = q2, *qo = q2 + (cols + 1) / 2;

  for (int iy = 0; iy < f->ih; iy++)
    {
      long r = (long) iy + f->pt;
      bool any = false;
      float *restrict z = even_odd ? q2 : q;
      for (int c = 0; c < cols; c++)
        z[c] = 0;
      for (int ki = 0; ki < f->kh; ki++)
        {
          long rr = r - (long) ki * f->dh;
          if (rr < 0 || rr % f->sh != 0 || rr / f->sh >= f->oh)
            continue;
          if (even_odd)
            scatter_row_even_odd (f, dy + (rr / f->sh) * f->ow, k + ki * f->kw, qe, qo);
          else
            scatter_row (f, dy + (rr / f->sh) * f->ow, k + ki * f->kw, q);
          any = true;
        }
      if (even_odd && (any || set))
        interleave_row (qe, qo, cols, q);
      float *restrict d = dx + (size_t) iy * iw;
      const float *restrict qs = q + pl;
      if (set)
        {
          /* Columns past the padded row (right padding cut off) get no tap. */
          for (long ix = 0; ix < hi; ix++)
            d[ix] = qs[ix];
          for (long ix = hi < 0 ? 0 : hi; ix < iw; ix++)
            d[ix] = 0;
          continue;
        }
      if (!any)
        continue;
      for (long ix = 0; ix < hi; ix++)
        d[ix] += qs[ix];
    }
}

/* dx planes of nk samples (x_stride apart) += the transposed correlation of their dy
 * planes (y_stride apart) with kernel k; with set, = instead of += (every element of the
 * planes written, none read: no clearing pass before). */
GRAFT_SIMD_DISPATCH
static void
dx_run (const dw_geometry *t, const dw_geometry *f, int nk, const float *k, const float *dyp,
        size_t y_stride, float *dxp, size_t x_stride, bool set, float *buf, float *tmp, const int32_t *col)
{
  if (t->band == 0)
    {
      for (int i = 0; i < nk; i++)
        {
          if (set)
            memset (dxp + i * x_stride, 0, (size_t) f->ih * f->iw * sizeof (float));
          fallback_scatter_plane (f, dyp + i * y_stride, k, dxp + i * x_stride);
        }
      return;
    }
  if ((f->sh > 1 || f->sw > 1) && f->band > 0 && f->ow >= 16)
    {
      for (int i = 0; i < nk; i++)
        dx_rows_strided (f, k, dyp + i * y_stride, dxp + i * x_stride, tmp, buf, set);
      return;
    }
  if (t->wrap)
    {
      for (int i = 0; i < nk; i++)
        for (int iy0 = 0; iy0 < t->oh; iy0 += t->band)
          {
            dw_band b = band_at (t, iy0, 1);
            const float *in = pad_wrap (t, dyp + i * y_stride, iy0, b.rows, buf);
            corr_wrap (t, in, k, true, 0.0f, !set, dxp + i * x_stride + (size_t) iy0 * t->ow,
                       b.hb * t->ow, col);
          }
      return;
    }
  for (int iy0 = 0; iy0 < t->oh; iy0 += t->band)
    {
      dw_band b = band_at (t, iy0, nk);
      pad_stack (t, &b, dyp, y_stride, buf);
      corr_line (t, buf, k, true, 0.0f, false, tmp, flat_length (t, &b));
      for (int i = 0; i < nk; i++)
        for (int r = 0; r < b.hb; r++)
          {
            float *restrict d = dxp + i * x_stride + (size_t) (iy0 + r) * t->ow;
            const float *restrict s = tmp + flat_offset (t, &b, i) + (size_t) r * t->cols;
            if (set)
              for (int ix = 0; ix < t->ow; ix++)
                d[ix] = s[ix];
            else
              for (int ix = 0; ix < t->ow; ix++)
                d[ix] += s[ix];
          }
    }
}

static inline __attribute__ ((always_inline)) float
dot_sum_lanes (dot_vec acc, dot_vec8 acc8, float tail)
{
  float s8[8], s4[4];
  for (int j = 0; j < 8; j++)
    s8[j] = (acc[j] + acc[j + 8]) + acc8[j];
  for (int j = 0; j < 4; j++)
    s4[j] = s8[j] + s8[j + 4];
  return ((s4[0] + s4[2]) + (s4[1] + s4[3])) + tail;
}

/* Lanes of b[t * SW] for t in [t0, t0 + DOT_LANES); SW 2 reads b[2 * t0 + 2 * DOT_LANES - 1],
 * one float past the last it uses: callers stop a lane group short of the end. */
#define dot_load_strided(b, t0, SW)                                                                     \
  ((SW) == 1 ? (dot_vec) dot_load ((b) + (t0))                                                          \
             : __builtin_shuffle ((dot_vec) dot_load ((b) + 2 * (long) (t0)),                             \
                                  (dot_vec) dot_load ((b) + 2 * (long) (t0) + DOT_LANES),                 \
                                  (dot_ivec) { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30 }))
/* The same for half as many lanes (short rows: 28 outputs are a group of 16, one of 8, 4 left). */
#define dot_load_strided8(b, t0, SW)                                                                    \
  ((SW) == 1 ? (dot_vec8) dot_load8 ((b) + (t0))                                                        \
             : __builtin_shuffle ((dot_vec8) dot_load8 ((b) + 2 * (long) (t0)),                           \
                                  (dot_vec8) dot_load8 ((b) + 2 * (long) (t0) + 8),                       \
                                  (dot_ivec8) { 0, 2, 4, 6, 8, 10, 12, 14 }))

/* Lane groups of a run of len that may be loaded whole (see dot_load_strided). */
static inline __attribute__ ((always_inline)) int
dot_groups_end (int len, const int SW)
{
  return SW == 1 ? len : len - 1;
}

/* Sum of a[t] * b[t * SW] for t < len in a fixed order: DOT_LANES lanes, then the tail. */
static inline __attribute__ ((always_inline)) float
dot_lanes (const float *restrict a, const float *restrict b, int len, const int SW)
{
  dot_vec acc = { 0 };
  dot_vec8 acc8 = { 0 };
  float tail = 0;
  int t = 0, end = dot_groups_end (len, SW);

  for (; t + DOT_LANES <= end; t += DOT_LANES)
    acc += (dot_vec) dot_load (a + t) * dot_load_strided (b, t, SW);
  for (; t + 8 <= end; t += 8)
    acc8 += (dot_vec8) dot_load8 (a + t) * dot_load_strided8 (b, t, SW);
  for (; t < len; t++)
    tail += a[t] * b[(long) t * SW];
  return dot_sum_lanes (acc, acc8, tail);
}

GRAFT_SIMD_DISPATCH
static float
dot_strided (const float *a, const float *b, int len, int sw)
{
  if (sw == 1)
    return dot_lanes (a, b, len, 1);
  if (sw == 2)
    return dot_lanes (a, b, len, 2);
  float sum = 0;
  for (int t = 0; t < len; t++)
    sum += a[t] * b[(long) t * sw];
  return sum;
}

/* Sum over rows r < rows and t < len of d[r * len + t] * s[r * s_stride + t * SW]: lanes
 * carried across rows, one reduction at the end, in a fixed order. */
static inline __attribute__ ((always_inline)) float
dot_rows_fixed (const float *restrict d, const float *restrict s, int rows, int len, size_t s_stride,
                const int SW)
{
  dot_vec acc = { 0 };
  dot_vec8 acc8 = { 0 };
  float tail = 0;
  int end = dot_groups_end (len, SW);

  for (int r = 0; r < rows; r++)
    {
      const float *restrict dr = d + (size_t) r * len, *restrict sr = s + r * s_stride;
      int t = 0;
      for (; t + DOT_LANES <= end; t += DOT_LANES)
        acc += (dot_vec) dot_load (dr + t) * dot_load_strided (sr, t, SW);
      for (; t + 8 <= end; t += 8)
        acc8 += (dot_vec8) dot_load8 (dr + t) * dot_load_strided8 (sr, t, SW);
      for (; t < len; t++)
        tail += dr[t] * sr[(long) t * SW];
    }
  return dot_sum_lanes (acc, acc8, tail);
}

GRAFT_SIMD_DISPATCH
static float
dot_rows (const float *d, const float *s, int rows, int len, size_t s_stride, int sw)
{
  if (sw == 1)
    return dot_rows_fixed (d, s, rows, len, s_stride, 1);
  if (sw == 2)
    return dot_rows_fixed (d, s, rows, len, s_stride, 2);
  float sum = 0;
  for (int r = 0; r < rows; r++)
    for (int t = 0; t < len; t++)
      sum += d[(size_t) r * len + t] * s[r * s_stride + (long) t * sw];
  return sum;
}

/* sums[tap] += sum over nk samples and all positions of dy * x under the tap, or, for
 * kernels too large for sums, dwk[tap] += that directly. */
GRAFT_SIMD_DISPATCH
static void
dw_run (const dw_geometry *g, int nk, const float *xp, size_t x_stride, const float *dyp,
        size_t y_stride, double *sums, float *dwk, float *buf, float *tmp, const int32_t *col)
{
  int kk = g->kh * g->kw;

  if (g->wrap)
    {
      int lo[DW_MAX_TAPS], hi[DW_MAX_TAPS];
      wrap_columns (g, lo, hi);
      for (int i = 0; i < nk; i++)
        for (int oy0 = 0; oy0 < g->oh; oy0 += g->band)
          {
            dw_band b = band_at (g, oy0, 1);
            const float *in = pad_wrap (g, xp + i * x_stride, oy0, b.rows, buf);
            const float *d = dyp + i * y_stride + (size_t) oy0 * g->ow;
            int len = b.hb * g->ow;
            for (int kj = 0; kj < g->kw; kj++)
              {
                /* dy with the columns where tap column kj falls off the row zeroed. */
                const float *dk = d;
                if (lo[kj] > 0 || hi[kj] < g->iw)
                  {
                    float *restrict m = tmp;
                    for (int t = 0; t < len; t++)
                      m[t] = keep_if (d[t], column_mask (col[t], lo[kj], hi[kj]));
                    dk = tmp;
                  }
                for (int ki = 0; ki < g->kh; ki++)
                  sums[ki * g->kw + kj] += dot_lanes (dk, in + (long) ki * g->dh * g->iw + (long) kj * g->dw
                                                      - g->pl, len, 1);
              }
          }
      return;
    }

  if (g->band == 0)
    {
      for (int i = 0; i < nk; i++)
        if (kk <= DW_MAX_TAPS)
          fallback_weight_plane (g, xp + i * x_stride, dyp + i * y_stride, sums);
        else
          for (int tap = 0; tap < kk; tap++)
            {
              /* Huge kernel: each tap is a 1x1 kernel with shifted pads. */
              double one = 0;
              dw_geometry single = *g;
              single.kh = 1, single.kw = 1;
              single.pt = g->pt - tap / g->kw * g->dh, single.pl = g->pl - tap % g->kw * g->dw;
              fallback_weight_plane (&single, xp + i * x_stride, dyp + i * y_stride, &one);
              dwk[tap] += (float) one;
            }
      return;
    }
  for (int oy0 = 0; oy0 < g->oh; oy0 += g->band)
    {
      dw_band b = band_at (g, oy0, nk);
      pad_stack (g, &b, xp, x_stride, buf);
      if (g->flat)
        {
          /* dy laid out like the flat output, zeros in between; then one dot product
           * per tap over the whole stack. */
          int len = flat_length (g, &b);
          for (int i = 0; i < len; i++)
            tmp[i] = 0;
          for (int i = 0; i < nk; i++)
            for (int r = 0; r < b.hb; r++)
              {
                float *restrict d = tmp + flat_offset (g, &b, i) + (size_t) r * g->cols;
                const float *restrict s = dyp + i * y_stride + (size_t) (oy0 + r) * g->ow;
                for (int ox = 0; ox < g->ow; ox++)
                  d[ox] = s[ox];
              }
          for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++)
              sums[ki * g->kw + kj] += dot_strided (tmp, buf + (long) ki * g->dh * g->cols
                                                   + (long) kj * g->dw, len, g->sw);
        }
      else
        for (int i = 0; i < nk; i++)
          for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++)
              {
                const float *s = buf + ((size_t) i * b.step + (size_t) ki * g->dh) * g->cols
                                 + (size_t) kj * g->dw;
                sums[ki * g->kw + kj] += dot_rows (dyp + i * y_stride + (size_t) oy0 * g->ow, s, b.hb,
                                                   g->ow, (size_t) g->sh * g->cols, g->sw);
              }
    }
}

/* dx, dw and dbias in one pass over the channels: for each input channel c and each of
 * its mult output channels, runs of samples are processed while their x, dy and dx
 * planes are in cache, for all three gradients. Samples in order inside an item and
 * sums in double: the result does not depend on the thread count. */
GRAFT_SIMD_DISPATCH
static void
depthwise_backward (const graft_conv2d_params *p, const conv_layout *l, const float *x, const float *w,
                    const float *dy, float *dx, bool set_dx, float *dw, float *dbias)
{
  dw_geometry f = forward_geometry (p);
  /* dx (h x w) from dy (oh x ow) upsampled by the stride: stride 1, flipped kernel. */
  dw_geometry t = dw_geometry_make (p->oh, p->ow, p->stride_h, p->stride_w, p->h, p->w, p->kh, p->kw,
                                    1, 1, p->dilation_h, p->dilation_w,
                                    (p->kh - 1) * p->dilation_h - p->pad_top,
                                    (p->kw - 1) * p->dilation_w - p->pad_left, p->n);
  int mult = p->m / p->c, kk = p->kh * p->kw;
  int run = dx == NULL ? f.stack : dw == NULL ? t.stack : f.stack < t.stack ? f.stack : t.stack;
  size_t x_stride = (size_t) p->c * l->hw, y_stride = (size_t) p->m * l->ohw;

#pragma omp parallel if ((size_t) p->n * p->m * (l->ohw * kk + l->hw) > PARALLEL_MIN_WORK)
  {
    float buf[DW_BUFFER_FLOATS], tmp[DW_BUFFER_FLOATS];
    int32_t col[DW_BUFFER_FLOATS];

    /* The wrap layouts of dx and dw have the same row length, ow == w. */
    if (f.wrap || t.wrap)
      wrap_column_index (f.wrap ? &f : &t, col);
#pragma omp for schedule(static)
    for (int c = 0; c < p->c; c++)
      for (int j = 0; j < mult; j++)
        {
          int oc = c * mult + j;
          const float *k = w != NULL ? w + (size_t) oc * kk : NULL;
          double sums[DW_MAX_TAPS] = { 0 }, bias_sum = 0;

          for (int n0 = 0; n0 < p->n; n0 += run)
            {
              int nk = p->n - n0 < run ? p->n - n0 : run;
              const float *dyp = dy + n0 * y_stride + oc * l->ohw;
              /* With set_dx, the first output channel of c writes dx, the others add. */
              if (dx != NULL)
                dx_run (&t, &f, nk, k, dyp, y_stride, dx + n0 * x_stride + c * l->hw, x_stride,
                        set_dx && j == 0, buf, tmp, col);
              if (dw != NULL)
                dw_run (&f, nk, x + n0 * x_stride + c * l->hw, x_stride, dyp, y_stride, sums,
                        dw + (size_t) oc * kk, buf, tmp, col);
              if (dbias != NULL)
                for (int i = 0; i < nk; i++)
                  bias_sum += sum_floats (dyp + i * y_stride, l->ohw);
            }
          if (dw != NULL && kk <= DW_MAX_TAPS)
            for (int tap = 0; tap < kk; tap++)
              dw[(size_t) oc * kk + tap] += (float) sums[tap];
          if (dbias != NULL)
            dbias[oc] += (float) bias_sum;
        }
  }
}

/* ------------------------------------------------------------------------ */

void
graft_conv2d_forward (const graft_conv2d_params *p, const float *x, const float *w,
                      const float *bias, float *y, float *scratch)
{
  graft_conv2d_forward_activation (p, x, w, bias, NULL, NULL, y, scratch);
}

void
graft_conv2d_forward_activation (const graft_conv2d_params *p, const float *x, const float *w,
                                 const float *bias, const graft_activation_params *act,
                                 float *pre, float *y, float *scratch)
{
  conv_layout l;
  /* The convolution writes out; the activation then reads it and writes y. */
  float *out = act != NULL && pre != NULL ? pre : y;

  conv_layout_get (p, &l);
  if (l.depthwise)
    depthwise_forward (p, &l, x, w, bias, act, out, y);
  else
    dense_forward (p, &l, x, w, bias, act, out, y, scratch);
}

static void
conv2d_backward (const graft_conv2d_params *p, const float *x, const float *w, const float *dy,
                 float *dx, bool set_dx, float *dw, float *dbias, float *scratch)
{
  conv_layout l;

  conv_layout_get (p, &l);
  if (l.depthwise)
    {
      if (dx != NULL || dw != NULL || dbias != NULL)
        depthwise_backward (p, &l, x, w, dy, dx, set_dx, dw, dbias);
      return;
    }
  if (dbias != NULL)
    bias_backward (p, l.ohw, dy, dbias);
  if (dx != NULL || dw != NULL)
    dense_backward (p, &l, x, w, dy, dx, set_dx, dw, scratch);
}

void
graft_conv2d_backward (const graft_conv2d_params *p, const float *x, const float *w,
                       const float *dy, float *dx, float *dw, float *dbias, float *scratch)
{
  conv2d_backward (p, x, w, dy, dx, false, dw, dbias, scratch);
}

void
graft_conv2d_backward_set_dx (const graft_conv2d_params *p, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *dbias, float *scratch)
{
  conv2d_backward (p, x, w, dy, dx, true, dw, dbias, scratch);
}
