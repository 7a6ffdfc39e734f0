/* resize.c: ONNX Resize of images (nearest and bilinear) on the last two axes, as
 * PyTorch exports F.interpolate and nn.Upsample, and its op-table descriptor.
 *
 * Source coordinates are computed in double from the scales the file gives, so that
 * rounding at exact halves follows the formula, not float error; each output pixel
 * reads at most four input pixels. Backward scatters each output gradient back onto
 * the pixels it read; planes are independent, so both split over planes and give the
 * same bits at any thread count.
 */
#include "engine/op-table.h"

#include <math.h>

/* Below this many output elements a loop runs on one thread. */
#define PARALLEL_THRESHOLD 32768

graft_status
graft_resize_setup (const graft_resize_params *p, graft_error *error)
{
  size_t count;

  if (p->planes < 1 || p->in_h < 1 || p->in_w < 1 || p->out_h < 1 || p->out_w < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "resize: planes (%zu), input (%zu x %zu) and output (%zu x %zu) must all be at least 1",
                            p->planes, p->in_h, p->in_w, p->out_h, p->out_w);
  if (!graft_size_mul (p->planes, p->in_h, &count) || !graft_size_mul (count, p->in_w, &count)
      || count > SIZE_MAX / sizeof (float) || !graft_size_mul (p->planes, p->out_h, &count)
      || !graft_size_mul (count, p->out_w, &count) || count > SIZE_MAX / sizeof (float))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "resize: the tensors are larger than memory can address");
  if (!(p->scale_h > 0) || !(p->scale_w > 0) || !isfinite (p->scale_h) || !isfinite (p->scale_w))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "resize: the scales (%g, %g) must be positive and finite", p->scale_h, p->scale_w);
  if ((int) p->mode < GRAFT_RESIZE_NEAREST || p->mode > GRAFT_RESIZE_LINEAR
      || (int) p->coordinates < GRAFT_RESIZE_HALF_PIXEL || p->coordinates > GRAFT_RESIZE_ALIGN_CORNERS
      || (int) p->rounding < GRAFT_RESIZE_ROUND_PREFER_FLOOR || p->rounding > GRAFT_RESIZE_CEIL)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "resize: unknown mode, coordinates or rounding");
  return GRAFT_OK;
}

/* The input pixels that output index o of an axis reads: i0 and i1 with weights 1 - w1
 * and w1 (nearest: i0 == i1, w1 0). */
typedef struct {
  size_t i0, i1;
  float w1;
} source;

static source
source_of (const graft_resize_params *p, size_t o, size_t in, size_t out, double scale)
{
  double x;
  source s;

  switch (p->coordinates)
    {
    case GRAFT_RESIZE_HALF_PIXEL:
      x = ((double) o + 0.5) / scale - 0.5;
      break;
    case GRAFT_RESIZE_PYTORCH_HALF_PIXEL:
      x = out > 1 ? ((double) o + 0.5) / scale - 0.5 : 0;
      break;
    case GRAFT_RESIZE_ASYMMETRIC:
      x = (double) o / scale;
      break;
    case GRAFT_RESIZE_ALIGN_CORNERS:
    default:
      x = out > 1 ? (double) o * (double) (in - 1) / (double) (out - 1) : 0;
      break;
    }
  if (p->mode == GRAFT_RESIZE_NEAREST)
    {
      double r;
      switch (p->rounding)
        {
        case GRAFT_RESIZE_ROUND_PREFER_FLOOR:
          r = x - floor (x) == 0.5 ? floor (x) : round (x);
          break;
        case GRAFT_RESIZE_ROUND_PREFER_CEIL:
          r = x - floor (x) == 0.5 ? ceil (x) : round (x);
          break;
        case GRAFT_RESIZE_FLOOR:
          r = floor (x);
          break;
        case GRAFT_RESIZE_CEIL:
        default:
          r = ceil (x);
          break;
        }
      r = r < 0 ? 0 : r > (double) (in - 1) ? (double) (in - 1) : r;
      s.i0 = s.i1 = (size_t) r;
      s.w1 = 0;
      return s;
    }
  x = x < 0 ? 0 : x > (double) (in - 1) ? (double) (in - 1) : x;
  s.i0 = (size_t) x;
  s.i1 = s.i0 + 1 < in ? s.i0 + 1 : s.i0;
  s.w1 = (float) (x - (double) s.i0);
  return s;
}

void
graft_resize_forward (const graft_resize_params *p, const float *x, float *y)
{
  size_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;

#pragma omp parallel for schedule(static) if (p->planes * out_plane > PARALLEL_THRESHOLD && p->planes > 1)
  for (size_t n = 0; n < p->planes; n++)
    {
      const float *xp = x + n * in_plane;
      float *yp = y + n * out_plane;
      for (size_t oy = 0; oy < p->out_h; oy++)
        {
          source sy = source_of (p, oy, p->in_h, p->out_h, p->scale_h);
          const float *r0 = xp + sy.i0 * p->in_w, *r1 = xp + sy.i1 * p->in_w;
          for (size_t ox = 0; ox < p->out_w; ox++)
            {
              source sx = source_of (p, ox, p->in_w, p->out_w, p->scale_w);
              float top = r0[sx.i0] + sx.w1 * (r0[sx.i1] - r0[sx.i0]);
              float bottom = r1[sx.i0] + sx.w1 * (r1[sx.i1] - r1[sx.i0]);
              yp[oy * p->out_w + ox] = top + sy.w1 * (bottom - top);
            }
        }
    }
}

void
graft_resize_backward (const graft_resize_params *p, const float *dy, float *dx)
{
  size_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static) if (p->planes * out_plane > PARALLEL_THRESHOLD && p->planes > 1)
  for (size_t n = 0; n < p->planes; n++)
    {
      float *dxp = dx + n * in_plane;
      const float *dyp = dy + n * out_plane;
      for (size_t oy = 0; oy < p->out_h; oy++)
        {
          source sy = source_of (p, oy, p->in_h, p->out_h, p->scale_h);
          float *r0 = dxp + sy.i0 * p->in_w, *r1 = dxp + sy.i1 * p->in_w;
          for (size_t ox = 0; ox < p->out_w; ox++)
            {
              source sx = source_of (p, ox, p->in_w, p->out_w, p->scale_w);
              float g = dyp[oy * p->out_w + ox];
              float top = g * (1 - sy.w1), bottom = g * sy.w1;
              r0[sx.i0] += top * (1 - sx.w1);
              r0[sx.i1] += top * sx.w1;
              r1[sx.i0] += bottom * (1 - sx.w1);
              r1[sx.i1] += bottom * sx.w1;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The descriptor: x (N,C,H,W) -> (N,C,out_h,out_w)                           */

static graft_status
resize_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  char text[160] = "";

  if (in[0]->rank != 4)
    {
      graft_shape_format (in[0], text, sizeof text);
      return graft_error_set (error, GRAFT_ERROR_SHAPE, "Resize node '%s': resizes images (N,C,H,W), not %s",
                              node->name, text);
    }
  if (a->resize.out_h < 1 || a->resize.out_w < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "Resize node '%s': output size %lld x %lld", node->name,
                            (long long) a->resize.out_h, (long long) a->resize.out_w);
  *out = graft_shape_4d (in[0]->dims[0], in[0]->dims[1], a->resize.out_h, a->resize.out_w);
  return GRAFT_OK;
}

static graft_status
resize_setup (graft_op_context *c, graft_error *error)
{
  const graft_node_attributes *a = &c->node->attributes;
  const graft_shape *x = c->input_shapes[0];
  graft_resize_params *p = &c->state->resize;

  p->planes = (size_t) x->dims[0] * (size_t) x->dims[1];
  p->in_h = (size_t) x->dims[2];
  p->in_w = (size_t) x->dims[3];
  p->out_h = (size_t) a->resize.out_h;
  p->out_w = (size_t) a->resize.out_w;
  p->scale_h = a->resize.scale_h;
  p->scale_w = a->resize.scale_w;
  p->mode = a->resize.mode;
  p->coordinates = a->resize.coordinates;
  p->rounding = a->resize.rounding;
  return graft_resize_setup (p, error);
}

static void
resize_forward (const graft_op_context *c)
{
  graft_resize_forward (&c->state->resize, c->inputs[0], c->output);
}

static void
resize_backward (const graft_op_context *c)
{
  graft_resize_backward (&c->state->resize, c->dy, c->gradients[0]);
}

const graft_op_descriptor graft_resize_descriptor = {
  .name = "Resize",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = resize_infer_shape,
  .setup = resize_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = resize_forward,
  .backward = resize_backward,
};
