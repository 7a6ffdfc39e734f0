/* test-engine-resize.c: ONNX Resize (nearest and bilinear, every coordinate
 * transformation PyTorch exports): the fast path against the double reference (forward,
 * backward into zeroed and pre-filled gradients), the reference's backward against
 * central finite differences of its forward, values worked out by hand and PyTorch's
 * F.interpolate, and the setup's refusals. */
#include "engine/ops.h"
#include "gradcheck.h"

#include <string.h>

static void
fill_pair (double *d, float *f, size_t count, uint64_t seed, double lo, double hi)
{
  test_fill_uniform (d, count, seed, lo, hi);
  test_to_float (d, f, count);
  test_to_double (f, d, count);
}

typedef struct {
  size_t in_h, in_w, out_h, out_w;
  double scale_h, scale_w;
} resize_case;

/* Upsampling by 2 and by 1.5, downsampling by 2 and by sizes (scale out / in), axes of
 * one pixel in and out, and planes enough for the parallel path (160 of 16 x 16). */
static const resize_case resize_cases[] = {
  { 4, 6, 8, 12, 2, 2 },
  { 4, 6, 6, 9, 1.5, 1.5 },
  { 8, 6, 4, 3, 0.5, 0.5 },
  { 5, 7, 3, 11, 3.0 / 5, 11.0 / 7 },
  { 1, 5, 3, 1, 3, 0.2 },
  { 3, 1, 1, 4, 1.0 / 3, 4 },
  { 4, 4, 16, 16, 4, 4 },
};

static graft_resize_params
params_for (const resize_case *rc, size_t planes, int mode, int coordinates, int rounding)
{
  graft_resize_params p = {
    .planes = planes, .in_h = rc->in_h, .in_w = rc->in_w, .out_h = rc->out_h, .out_w = rc->out_w,
    .scale_h = rc->scale_h, .scale_w = rc->scale_w,
    .mode = mode, .coordinates = coordinates, .rounding = rounding,
  };
  return p;
}

static void
test_resize_forward_backward (void)
{
  for (size_t k = 0; k < G_N_ELEMENTS (resize_cases); k++)
    for (int mode = GRAFT_RESIZE_NEAREST; mode <= GRAFT_RESIZE_LINEAR; mode++)
      for (int coordinates = GRAFT_RESIZE_HALF_PIXEL; coordinates <= GRAFT_RESIZE_ALIGN_CORNERS; coordinates++)
        for (int rounding = GRAFT_RESIZE_ROUND_PREFER_FLOOR;
             rounding <= (mode == GRAFT_RESIZE_NEAREST ? GRAFT_RESIZE_CEIL : GRAFT_RESIZE_ROUND_PREFER_FLOOR);
             rounding++)
          {
            const resize_case *rc = &resize_cases[k];
            size_t planes = rc->out_h == 16 ? 160 : 3;
            graft_resize_params p = params_for (rc, planes, mode, coordinates, rounding);
            size_t nx = planes * rc->in_h * rc->in_w, ny = planes * rc->out_h * rc->out_w;
            double *x = test_doubles (nx), *dy = test_doubles (ny), *want_y = test_doubles (ny);
            double *want_dx = test_doubles (nx);
            float *xf = test_floats (nx), *dyf = test_floats (ny), *y = test_floats (ny), *dx = test_floats (nx);
            graft_error error = { 0 };
            char what[96];

            g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_OK);
            fill_pair (x, xf, nx, 300 + k, -2, 2);
            fill_pair (dy, dyf, ny, 310 + k, -1, 1);
            g_snprintf (what, sizeof what, "resize y (case %zu, mode %d, coordinates %d, rounding %d)", k, mode,
                        coordinates, rounding);
            graft_resize_forward (&p, xf, y);
            graft_resize_forward_reference (&p, x, want_y);
            test_assert_close (what, y, want_y, ny, 1e-6, 1e-5);

            graft_resize_backward_reference (&p, dy, want_dx);
            graft_resize_backward (&p, dyf, dx);
            g_snprintf (what, sizeof what, "resize dx (case %zu, mode %d, coordinates %d, rounding %d)", k, mode,
                        coordinates, rounding);
            test_assert_close (what, dx, want_dx, nx, 1e-5, 1e-5);
            /* Accumulates; NULL dx is skipped. */
            graft_resize_backward (&p, dyf, dx);
            for (size_t i = 0; i < nx; i++)
              want_dx[i] *= 2;
            test_assert_close ("resize accumulated dx", dx, want_dx, nx, 2e-5, 1e-5);
            graft_resize_backward (&p, dyf, NULL);
            g_free (x); g_free (dy); g_free (want_y); g_free (want_dx);
            g_free (xf); g_free (dyf); g_free (y); g_free (dx);
          }
}

typedef struct {
  graft_resize_params p;
  double *x, *y, *r;
} resize_ctx;

static double
resize_loss (void *data)
{
  resize_ctx *ctx = data;
  graft_resize_forward_reference (&ctx->p, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->p.planes * ctx->p.out_h * ctx->p.out_w);
}

/* Linear resize is linear in x, so finite differences are exact up to rounding; nearest
 * too (the indices do not depend on x). */
static void
test_resize_gradient (void)
{
  for (size_t k = 0; k < 4; k++)
    for (int mode = GRAFT_RESIZE_NEAREST; mode <= GRAFT_RESIZE_LINEAR; mode++)
      for (int coordinates = GRAFT_RESIZE_HALF_PIXEL; coordinates <= GRAFT_RESIZE_ALIGN_CORNERS; coordinates++)
        {
          const resize_case *rc = &resize_cases[k];
          resize_ctx ctx = { params_for (rc, 2, mode, coordinates, GRAFT_RESIZE_FLOOR) };
          size_t nx = 2 * rc->in_h * rc->in_w, ny = 2 * rc->out_h * rc->out_w;
          double *dx = test_doubles (nx);

          ctx.x = test_doubles (nx), ctx.y = test_doubles (ny), ctx.r = test_doubles (ny);
          test_fill_uniform (ctx.x, nx, 320 + k, -2, 2);
          test_fill_uniform (ctx.r, ny, 330 + k, -1, 1);
          graft_resize_backward_reference (&ctx.p, ctx.r, dx);
          test_check_gradient ("resize dx", ctx.x, nx, dx, resize_loss, &ctx, 1e-4, 1e-7);
          g_free (ctx.x); g_free (ctx.y); g_free (ctx.r); g_free (dx);
        }
}

/* Values from the definition, and PyTorch 1.13's F.interpolate of
 * [[0, 1, 2, 3]] (1x1x1x4) to width 6 (scale 1.5). */
static void
test_resize_values (void)
{
  static const struct {
    int mode, coordinates, rounding;
    float want[6];
  } cases[] = {
    /* F.interpolate (mode='nearest'): asymmetric, floor: indices 0 0 1 2 2 3 */
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_ASYMMETRIC, GRAFT_RESIZE_FLOOR, { 0, 0, 1, 2, 2, 3 } },
    /* half_pixel, round_prefer_floor: coordinates -1/6, 0.5, 7/6, 11/6, 2.5, 19/6 */
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_HALF_PIXEL, GRAFT_RESIZE_ROUND_PREFER_FLOOR, { 0, 0, 1, 2, 2, 3 } },
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_HALF_PIXEL, GRAFT_RESIZE_ROUND_PREFER_CEIL, { 0, 1, 1, 2, 3, 3 } },
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_ASYMMETRIC, GRAFT_RESIZE_CEIL, { 0, 1, 2, 2, 3, 3 } },
    /* F.interpolate (mode='bilinear', align_corners=False), clamped at 0 */
    { GRAFT_RESIZE_LINEAR, GRAFT_RESIZE_HALF_PIXEL, 0, { 0, 0.5f, 7.0f / 6, 11.0f / 6, 2.5f, 3 } },
    /* F.interpolate (mode='bilinear', align_corners=True): 0, 0.6, ... 3 */
    { GRAFT_RESIZE_LINEAR, GRAFT_RESIZE_ALIGN_CORNERS, 0, { 0, 0.6f, 1.2f, 1.8f, 2.4f, 3 } },
  };
  const float x[4] = { 0, 1, 2, 3 };

  for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      graft_resize_params p = {
        .planes = 1, .in_h = 1, .in_w = 4, .out_h = 1, .out_w = 6, .scale_h = 1, .scale_w = 1.5,
        .mode = cases[k].mode, .coordinates = cases[k].coordinates, .rounding = cases[k].rounding,
      };
      float y[6];
      graft_resize_forward (&p, x, y);
      for (int i = 0; i < 6; i++)
        g_assert_cmpfloat_with_epsilon (y[i], cases[k].want[i], 1e-6);
    }
}

static void
test_resize_setup (void)
{
  graft_resize_params good = {
    .planes = 1, .in_h = 2, .in_w = 2, .out_h = 4, .out_w = 4, .scale_h = 2, .scale_w = 2,
  };
  graft_resize_params p;
  graft_error error = { 0 };

  g_assert_cmpint (graft_resize_setup (&good, &error), ==, GRAFT_OK);
  p = good, p.out_w = 0;
  g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_ERROR_SHAPE);
  p = good, p.scale_h = 0;
  g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  p = good, p.scale_w = 1.0 / 0.0;
  g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  p = good, p.mode = 7;
  g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_ERROR_INVALID_ARGUMENT);
  p = good, p.planes = SIZE_MAX / 2;
  g_assert_cmpint (graft_resize_setup (&p, &error), ==, GRAFT_ERROR_OVERFLOW);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/resize/forward-backward", test_resize_forward_backward);
  g_test_add_func ("/engine/resize/gradient", test_resize_gradient);
  g_test_add_func ("/engine/resize/values", test_resize_values);
  g_test_add_func ("/engine/resize/setup", test_resize_setup);
  return g_test_run ();
}
