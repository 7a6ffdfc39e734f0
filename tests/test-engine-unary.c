/* Tests of Abs: the fast path against the double reference, accumulation and in-place
 * forward, the gradient at 0 (PyTorch's 0), the reference gradient against finite
 * differences, and Abs in a training plan through its op-table descriptor. */
#include "engine/plan.h"
#include "gradcheck.h"

#include <math.h>
#include <string.h>

/* Odd sizes, and one large enough to run on several threads. */
static const size_t counts[] = { 1, 3, 13, 1000, 200003 };

static void
test_abs_forward (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (counts); c++)
    {
      size_t n = counts[c];
      g_autofree double *x = test_doubles (n), *want = test_doubles (n);
      g_autofree float *xf = test_floats (n), *y = test_floats (n);

      test_fill_uniform (x, n, 1 + c, -4, 4);
      for (size_t i = 0; i < n; i += 7)
        x[i] = i % 2 ? 0.0 : -0.0;
      test_to_float (x, xf, n);
      test_to_double (xf, x, n);
      graft_abs_forward_reference (n, x, want);
      graft_abs_forward (n, xf, y);
      test_assert_close ("abs forward", y, want, n, 0, 0);
      /* In place. */
      graft_abs_forward (n, xf, xf);
      test_assert_close ("abs forward in place", xf, want, n, 0, 0);
      for (size_t i = 0; i < n; i++)
        g_assert_false (signbit (y[i]));
    }
}

static void
test_abs_backward (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (counts); c++)
    {
      size_t n = counts[c];
      g_autofree double *x = test_doubles (n), *dy = test_doubles (n), *dx = test_doubles (n);
      g_autofree float *xf = test_floats (n), *dyf = test_floats (n), *dxf = test_floats (n);

      test_fill_uniform (x, n, 10 + c, -4, 4);
      for (size_t i = 0; i < n; i += 5)
        x[i] = 0;
      test_fill_uniform (dy, n, 20 + c, -1, 1);
      /* Backward accumulates: dx starts non-zero. */
      test_fill_uniform (dx, n, 30 + c, -1, 1);
      test_to_float (x, xf, n);
      test_to_double (xf, x, n);
      test_to_float (dy, dyf, n);
      test_to_double (dyf, dy, n);
      test_to_float (dx, dxf, n);
      test_to_double (dxf, dx, n);
      graft_abs_backward_reference (n, x, dy, dx);
      graft_abs_backward (n, xf, dyf, dxf);
      test_assert_close ("abs backward", dxf, dx, n, 1e-7, 1e-6);
      /* At 0 the gradient is 0: dx keeps what it held. */
      for (size_t i = 0; i < n; i += 5)
        {
          float before = dxf[i];
          graft_abs_backward (1, &xf[i], &dyf[i], &dxf[i]);
          g_assert_cmpfloat (dxf[i], ==, before);
        }
      /* dx NULL: nothing to do, no crash. */
      graft_abs_backward (n, xf, dyf, NULL);
    }
}

typedef struct {
  size_t n;
  double *x, *r, *y;
} abs_fd;

static double
abs_objective (void *data)
{
  abs_fd *f = data;
  graft_abs_forward_reference (f->n, f->x, f->y);
  return test_dot (f->y, f->r, f->n);
}

static void
test_abs_gradient (void)
{
  size_t n = 64;
  g_autofree double *x = test_doubles (n), *r = test_doubles (n), *y = test_doubles (n), *dx = test_doubles (n);
  abs_fd f = { n, x, r, y };

  test_fill_uniform (x, n, 40, -3, 3);
  /* Finite differences stay away from the kink. */
  for (size_t i = 0; i < n; i++)
    if (fabs (x[i]) < 1e-3)
      x[i] = x[i] < 0 ? -1e-3 : 1e-3;
  test_fill_uniform (r, n, 41, -1, 1);
  graft_abs_backward_reference (n, x, r, dx);
  test_check_gradient ("abs", x, n, dx, abs_objective, &f, 1e-6, 1e-6);
}

/* logits = |x w^T| in a training plan: the weight's gradient against the references
 * (cross-entropy, then Abs, then Gemm, in double). */
static void
test_abs_in_plan (void)
{
  enum { N = 5, K = 4, CLASSES = 3 };
  graft_graph *graph = graft_graph_new ();
  graft_shape xs = graft_shape_2d (N, K), ws = graft_shape_2d (CLASSES, K);
  graft_node_attributes gemm = { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } };
  graft_node_attributes abs_op = { .op = GRAFT_OP_ABS };
  float xf[N * K], wf[CLASSES * K];
  double x[N * K], w[CLASSES * K], z[N * CLASSES], logits[N * CLASSES], dlogits[N * CLASSES] = { 0 };
  double dz[N * CLASSES] = { 0 }, dw[CLASSES * K] = { 0 };
  int32_t labels[N] = { 0, 2, 1, 1, 0 };
  graft_gemm_params gp = { .m = N, .n = CLASSES, .k = K, .trans_b = true, .alpha = 1, .beta = 1 };
  graft_cross_entropy_params cp = { .n = N, .classes = CLASSES };
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = N };
  graft_plan *plan;
  graft_error error;
  int input, weight, inputs[2], out;
  float loss;

  test_fill_uniform_float (xf, N * K, 50, -1, 1);
  test_fill_uniform_float (wf, CLASSES * K, 51, -1, 1);
  test_to_double (xf, x, N * K);
  test_to_double (wf, w, CLASSES * K);
  input = graft_graph_add_input (graph, "x", &xs, &error);
  weight = graft_graph_add_tensor (graph, "w", GRAFT_VALUE_PARAMETER, &ws, wf, &error);
  inputs[0] = input, inputs[1] = weight;
  g_assert_cmpint (graft_graph_add_node (graph, "fc", &gemm, inputs, 2, "z", &error), >=, 0);
  out = graft_graph_add_node (graph, "abs", &abs_op, inputs, 2, "never", &error);
  g_assert_cmpint (out, ==, -1); /* Abs takes one input */
  inputs[0] = graft_graph_find_value (graph, "z");
  out = graft_graph_add_node (graph, "abs", &abs_op, inputs, 1, "logits", &error);
  g_assert_cmpint (out, >=, 0);
  g_assert_cmpstr (graft_op_name (GRAFT_OP_ABS), ==, "Abs");

  options.loss_logits = out;
  plan = graft_plan_new (graph, &options, &error);
  if (plan == NULL)
    g_error ("%s", error.message);
  g_assert_true (graft_plan_node_runs_backward (plan, 1));
  g_assert_cmpint (graft_plan_set_input (plan, input, xf, N * K, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &error), ==, GRAFT_OK);

  graft_gemm_forward_reference (&gp, x, w, NULL, z);
  graft_abs_forward_reference (N * CLASSES, z, logits);
  g_assert_cmpfloat_with_epsilon (loss, graft_cross_entropy_forward_reference (&cp, logits, labels), 1e-5);
  graft_cross_entropy_backward_reference (&cp, logits, labels, 1.0, dlogits);
  graft_abs_backward_reference (N * CLASSES, z, dlogits, dz);
  graft_gemm_backward_reference (&gp, x, w, dz, NULL, dw, NULL);
  test_assert_close ("dw through Abs", graft_plan_gradient (plan, weight), dw, CLASSES * K, 1e-6, 1e-5);
  graft_plan_free (plan);
  graft_graph_free (graph);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/unary/abs-forward", test_abs_forward);
  g_test_add_func ("/engine/unary/abs-backward", test_abs_backward);
  g_test_add_func ("/engine/unary/abs-gradient", test_abs_gradient);
  g_test_add_func ("/engine/unary/abs-in-plan", test_abs_in_plan);
  return g_test_run ();
}
