/* Tests of the unary activations: fast path against the double reference, reference
 * gradients against finite differences, accumulation, in-place forward, and the
 * gradients at the kinks (PyTorch's choices). */
#include "engine/ops.h"
#include "gradcheck.h"

#include <math.h>

typedef struct {
  const char *name;
  graft_activation_params params;
} activation_case;

static const activation_case cases[] = {
  { "relu", { GRAFT_ACTIVATION_RELU, 0, 0 } },
  { "relu6", { GRAFT_ACTIVATION_CLIP, 0, 6 } },
  { "clip", { GRAFT_ACTIVATION_CLIP, -1.5f, 2.25f } },
  { "leaky-relu", { GRAFT_ACTIVATION_LEAKY_RELU, 0.01f, 0 } },
  { "leaky-relu-0.2", { GRAFT_ACTIVATION_LEAKY_RELU, 0.2f, 0 } },
  { "sigmoid", { GRAFT_ACTIVATION_SIGMOID, 0, 0 } },
  { "hard-sigmoid", { GRAFT_ACTIVATION_HARD_SIGMOID, 0.2f, 0.5f } },
  { "hard-sigmoid-torch", { GRAFT_ACTIVATION_HARD_SIGMOID, 1.0f / 6.0f, 0.5f } },
  { "hard-swish", { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 } },
  { "swish", { GRAFT_ACTIVATION_SWISH, 0, 0 } },
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Odd sizes, one above the chunk size, one large enough to run on several threads. */
static const size_t counts[] = { 1, 3, 7, 13, 64, 1000, 16385, 200003 };
#define N_COUNTS (sizeof counts / sizeof counts[0])

/* The points where the derivative jumps; finite differences must stay away from them. */
static int
kinks (const graft_activation_params *p, double *k)
{
  switch (p->kind)
    {
    case GRAFT_ACTIVATION_RELU:
    case GRAFT_ACTIVATION_LEAKY_RELU:
      k[0] = 0;
      return 1;
    case GRAFT_ACTIVATION_CLIP:
      k[0] = p->alpha;
      k[1] = p->beta;
      return 2;
    case GRAFT_ACTIVATION_HARD_SIGMOID:
      k[0] = -(double) p->beta / p->alpha;
      k[1] = (1 - (double) p->beta) / p->alpha;
      return 2;
    case GRAFT_ACTIVATION_HARD_SWISH:
      k[0] = -3;
      k[1] = 3;
      return 2;
    case GRAFT_ACTIVATION_SIGMOID:
    case GRAFT_ACTIVATION_SWISH:
      break;
    }
  return 0;
}

static void
avoid_kinks (const graft_activation_params *p, double *x, size_t count)
{
  double k[2];
  int n = kinks (p, k);
  for (size_t i = 0; i < count; i++)
    for (int j = 0; j < n; j++)
      if (fabs (x[i] - k[j]) < 1e-3)
        x[i] = k[j] + (x[i] < k[j] ? -1e-3 : 1e-3);
}

/* Random inputs in [-8, 8) with the kinks themselves planted every few elements. */
static void
fill_with_kinks (const graft_activation_params *p, double *x, size_t count, uint64_t seed)
{
  double k[2];
  int n = kinks (p, k);
  test_fill_uniform (x, count, seed, -8, 8);
  for (size_t i = 0; n > 0 && i < count; i += 5)
    x[i] = (float) k[(i / 5) % n];
}

static void
test_forward (void)
{
  for (size_t c = 0; c < N_CASES; c++)
    for (size_t s = 0; s < N_COUNTS; s++)
      {
        const graft_activation_params *p = &cases[c].params;
        size_t count = counts[s];
        double *xd = test_doubles (count), *yd = test_doubles (count);
        float *x = test_floats (count), *y = test_floats (count);
        char what[128];

        fill_with_kinks (p, xd, count, 100 + s);
        test_to_float (xd, x, count);
        test_to_double (x, xd, count);
        graft_activation_forward_reference (p, count, xd, yd);
        graft_activation_forward (p, count, x, y);
        g_snprintf (what, sizeof what, "%s forward, count %zu", cases[c].name, count);
        test_assert_close (what, y, yd, count, 1e-6, 1e-5);

        /* In place gives the same bits. */
        graft_activation_forward (p, count, x, x);
        for (size_t i = 0; i < count; i++)
          g_assert_cmpfloat (x[i], ==, y[i]);

        g_free (xd);
        g_free (yd);
        g_free (x);
        g_free (y);
      }
}

typedef struct {
  const graft_activation_params *p;
  size_t count;
  double *x, *r, *y;
} loss_ctx;

static double
loss (void *data)
{
  loss_ctx *ctx = data;
  graft_activation_forward_reference (ctx->p, ctx->count, ctx->x, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->count);
}

static void
test_reference_gradient (void)
{
  for (size_t c = 0; c < N_CASES; c++)
    for (size_t s = 0; s < 6; s++)
      {
        const graft_activation_params *p = &cases[c].params;
        size_t count = counts[s];
        double *x = test_doubles (count), *r = test_doubles (count);
        double *y = test_doubles (count), *dx = test_doubles (count);
        loss_ctx ctx = { p, count, x, r, y };
        char what[128];

        test_fill_uniform (x, count, 200 + s, -8, 8);
        avoid_kinks (p, x, count);
        test_fill_uniform (r, count, 300 + s, -1, 1);
        graft_activation_backward_reference (p, count, x, r, dx);
        g_snprintf (what, sizeof what, "%s reference gradient, count %zu", cases[c].name, count);
        test_check_gradient (what, x, count, dx, loss, &ctx, 1e-6, 1e-6);

        g_free (x);
        g_free (r);
        g_free (y);
        g_free (dx);
      }
}

/* Fast backward against the reference, kinks included, with dx pre-filled (both
 * accumulate) and the unneeded forward tensor passed as NULL. */
static void
test_backward (void)
{
  for (size_t c = 0; c < N_CASES; c++)
    for (size_t s = 0; s < N_COUNTS; s++)
      {
        const graft_activation_params *p = &cases[c].params;
        size_t count = counts[s];
        double *xd = test_doubles (count), *dyd = test_doubles (count), *dxd = test_doubles (count);
        float *x = test_floats (count), *y = test_floats (count);
        float *dy = test_floats (count), *dx = test_floats (count);
        bool needs_x, needs_y;
        char what[128];

        fill_with_kinks (p, xd, count, 400 + s);
        test_to_float (xd, x, count);
        test_to_double (x, xd, count);
        test_fill_uniform_float (dy, count, 500 + s, -1, 1);
        test_to_double (dy, dyd, count);
        test_fill_uniform_float (dx, count, 600 + s, -2, 2);
        test_to_double (dx, dxd, count);

        graft_activation_forward (p, count, x, y);
        graft_activation_backward_needs (p->kind, &needs_x, &needs_y);
        graft_activation_backward (p, count, needs_x ? x : NULL, needs_y ? y : NULL, dy, dx);
        graft_activation_backward_reference (p, count, xd, dyd, dxd);
        g_snprintf (what, sizeof what, "%s backward, count %zu", cases[c].name, count);
        test_assert_close (what, dx, dxd, count, 1e-6, 1e-5);

        g_free (xd);
        g_free (dyd);
        g_free (dxd);
        g_free (x);
        g_free (y);
        g_free (dy);
        g_free (dx);
      }
}

static void
test_accumulate (void)
{
  for (size_t c = 0; c < N_CASES; c++)
    {
      const graft_activation_params *p = &cases[c].params;
      size_t count = 37;
      float x[37], y[37], dy[37], once[37], twice[37];
      double want[37];

      test_fill_uniform_float (x, count, 700, -8, 8);
      test_fill_uniform_float (dy, count, 701, -1, 1);
      graft_activation_forward (p, count, x, y);
      for (size_t i = 0; i < count; i++)
        once[i] = 0, twice[i] = 10.0f + (float) i;
      graft_activation_backward (p, count, x, y, dy, once);
      graft_activation_backward (p, count, x, y, dy, twice);
      for (size_t i = 0; i < count; i++)
        want[i] = 10.0 + (double) i + once[i];
      test_assert_close (cases[c].name, twice, want, count, 1e-6, 1e-6);

      /* No gradient wanted: nothing is touched, nothing crashes. */
      graft_activation_backward (p, count, x, y, dy, NULL);
    }
  {
    double x[2] = { 1, 2 }, dy[2] = { 1, 1 };
    graft_activation_backward_reference (&cases[0].params, 2, x, dy, NULL);
  }
}

static void
test_needs (void)
{
  static const struct { graft_activation_kind kind; bool x, y; } want[] = {
    { GRAFT_ACTIVATION_RELU, false, true },
    { GRAFT_ACTIVATION_CLIP, true, false },
    { GRAFT_ACTIVATION_LEAKY_RELU, true, false },
    { GRAFT_ACTIVATION_SIGMOID, false, true },
    { GRAFT_ACTIVATION_HARD_SIGMOID, true, false },
    { GRAFT_ACTIVATION_HARD_SWISH, true, false },
    { GRAFT_ACTIVATION_SWISH, true, false },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    {
      bool needs_x = !want[i].x, needs_y = !want[i].y;
      graft_activation_backward_needs (want[i].kind, &needs_x, &needs_y);
      g_assert_true (needs_x == want[i].x);
      g_assert_true (needs_y == want[i].y);
    }
}

/* Swish is the fused form of ONNX's Sigmoid and Mul (plan.c): the same bits as the
 * sigmoid followed by the product, which the plan's fused-matches-unfused tests need. */
static void
test_swish_is_sigmoid_times_x (void)
{
  const graft_activation_params swish = { GRAFT_ACTIVATION_SWISH, 0, 0 }, sigmoid = { GRAFT_ACTIVATION_SIGMOID, 0, 0 };
  size_t count = 200003;
  float *x = test_floats (count), *s = test_floats (count), *y = test_floats (count);

  test_fill_uniform_float (x, count, 7, -20, 20);
  x[0] = 0.0f;
  x[1] = -0.0f;
  x[2] = 100.0f;
  x[3] = -100.0f;
  graft_activation_forward (&sigmoid, count, x, s);
  graft_activation_forward (&swish, count, x, y);
  for (size_t i = 0; i < count; i++)
    if (!(y[i] == x[i] * s[i]))
      g_error ("swish(%.9g) = %.9g, x * sigmoid(x) = %.9g", x[i], y[i], x[i] * s[i]);
  g_free (x);
  g_free (s);
  g_free (y);
}

/* Gradients at the kinks, as torch 1.13 gives them:
 * relu'(0) = 0; clamp passes at both bounds; leaky_relu'(0) = alpha;
 * hardsigmoid'(+-3) = 0 (strict); hardswish'(-3) = -0.5, hardswish'(3) = 1.5. */
static void
test_kinks (void)
{
  static const struct { graft_activation_params p; float x, grad; } want[] = {
    { { GRAFT_ACTIVATION_RELU, 0, 0 }, 0.0f, 0.0f },
    { { GRAFT_ACTIVATION_RELU, 0, 0 }, -0.0f, 0.0f },
    { { GRAFT_ACTIVATION_CLIP, 0, 6 }, 0.0f, 1.0f },
    { { GRAFT_ACTIVATION_CLIP, 0, 6 }, 6.0f, 1.0f },
    { { GRAFT_ACTIVATION_CLIP, 0, 6 }, 6.5f, 0.0f },
    { { GRAFT_ACTIVATION_CLIP, 0, 6 }, -0.5f, 0.0f },
    { { GRAFT_ACTIVATION_LEAKY_RELU, 0.01f, 0 }, 0.0f, 0.01f },
    { { GRAFT_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f }, -2.0f, 0.0f },
    { { GRAFT_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f }, 2.0f, 0.0f },
    { { GRAFT_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f }, 1.0f, 0.25f },
    { { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 }, -3.0001f, 0.0f },
    { { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 }, -3.0f, -0.5f },
    { { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 }, 0.0f, 0.5f },
    { { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 }, 3.0f, 1.5f },
    { { GRAFT_ACTIVATION_HARD_SWISH, 0, 0 }, 3.0001f, 1.0f },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    {
      float x = want[i].x, y, dy = 1, dx = 0;
      double xd = x, dyd = 1, dxd = 0;
      graft_activation_forward (&want[i].p, 1, &x, &y);
      graft_activation_backward (&want[i].p, 1, &x, &y, &dy, &dx);
      graft_activation_backward_reference (&want[i].p, 1, &xd, &dyd, &dxd);
      g_assert_cmpfloat_with_epsilon (dx, want[i].grad, 1e-6);
      g_assert_cmpfloat_with_epsilon (dxd, want[i].grad, 1e-6);
    }
}

/* Sigmoid stays finite and exact at the extremes; NaN propagates through relu and sigmoid. */
static void
test_extremes (void)
{
  graft_activation_params sig = { GRAFT_ACTIVATION_SIGMOID, 0, 0 };
  graft_activation_params relu = { GRAFT_ACTIVATION_RELU, 0, 0 };
  float x[] = { -INFINITY, -1000, -100, -87.5f, -80, -30, -1e-20f, 0, 1e-20f, 30, 80, 100, 1000, INFINITY };
  size_t n = G_N_ELEMENTS (x);
  float y[G_N_ELEMENTS (x)], nan = NAN, out;

  graft_activation_forward (&sig, n, x, y);
  for (size_t i = 0; i < n; i++)
    {
      double want = 1 / (1 + exp (-(double) x[i]));
      g_assert_true (isfinite (y[i]));
      g_assert_cmpfloat (fabs (y[i] - want), <=, 1e-37 + 2e-7 * want);
    }
  g_assert_cmpfloat (y[0], ==, 0);
  g_assert_cmpfloat (y[n - 1], ==, 1);
  /* exp(-80) is about 1.8e-35: small results keep their relative accuracy. */
  g_assert_cmpfloat (fabs (y[4] / exp (-80.0) - 1), <, 1e-6);

  graft_activation_forward (&sig, 1, &nan, &out);
  g_assert_true (isnan (out));
  graft_activation_forward (&relu, 1, &nan, &out);
  g_assert_true (isnan (out));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/activation/forward", test_forward);
  g_test_add_func ("/engine/activation/reference-gradient", test_reference_gradient);
  g_test_add_func ("/engine/activation/backward", test_backward);
  g_test_add_func ("/engine/activation/accumulate", test_accumulate);
  g_test_add_func ("/engine/activation/needs", test_needs);
  g_test_add_func ("/engine/activation/swish-is-sigmoid-times-x", test_swish_is_sigmoid_times_x);
  g_test_add_func ("/engine/activation/kinks", test_kinks);
  g_test_add_func ("/engine/activation/extremes", test_extremes);
  return g_test_run ();
}
