/* test-engine-gather.c: ONNX Gather by constant indices (Swin's relative-position bias
 * table): the fast path against the double reference (forward; backward into zeroed and
 * pre-filled gradients, with repeated, negative and out-of-range indices), the
 * reference's backward against central finite differences, and a plan in which the
 * gathered table is a parameter that gets its gradient. */
#include "engine/graph.h"
#include "engine/plan.h"
#include "gradcheck.h"

#include <math.h>
#include <string.h>

static void
fill_pair (double *d, float *f, size_t count, uint64_t seed, double lo, double hi)
{
  test_fill_uniform (d, count, seed, lo, hi);
  test_to_float (d, f, count);
  test_to_double (f, d, count);
}

/* Indices with repeats, negatives and two outside the axis (which give zeros). */
static void
fill_indices (float *indices, size_t count, size_t axis, uint64_t seed)
{
  uint64_t state = seed;
  for (size_t k = 0; k < count; k++)
    indices[k] = (float) test_random_int (&state, -(int) axis, (int) axis - 1);
  if (count > 3)
    {
      indices[1] = (float) axis;
      indices[3] = -(float) axis - 1;
    }
}

static const graft_gather_params gather_cases[] = {
  { 1, 1, 1, 1 }, { 1, 169, 3, 2401 }, { 2, 7, 5, 11 }, { 3, 4, 1, 9 }, { 1, 5, 8, 0 },
};

static void
test_gather_forward_backward (void)
{
  for (size_t c = 0; c < G_N_ELEMENTS (gather_cases); c++)
    {
      const graft_gather_params *p = &gather_cases[c];
      size_t nd = p->outer * p->axis * p->inner, ny = p->outer * p->count * p->inner;
      double *data = test_doubles (nd), *dy = test_doubles (MAX (ny, 1)), *want = test_doubles (MAX (ny, 1));
      double *want_dd = test_doubles (nd);
      float *dataf = test_floats (nd), *dyf = test_floats (MAX (ny, 1)), *y = test_floats (MAX (ny, 1));
      float *dd = test_floats (nd), *indices = test_floats (MAX (p->count, 1));
      graft_error error;

      g_assert_cmpint (graft_gather_setup (p, &error), ==, GRAFT_OK);
      fill_pair (data, dataf, nd, 400 + c, -2, 2);
      fill_pair (dy, dyf, ny, 410 + c, -1, 1);
      fill_indices (indices, p->count, p->axis, 420 + c);
      graft_gather_forward (p, dataf, indices, y);
      graft_gather_forward_reference (p, data, indices, want);
      test_assert_close ("gather y", y, want, ny, 0, 0);
      graft_gather_backward_reference (p, indices, dy, want_dd);
      graft_gather_backward (p, indices, dyf, dd);
      test_assert_close ("gather ddata", dd, want_dd, nd, 1e-6, 1e-6);
      graft_gather_backward (p, indices, dyf, dd);
      for (size_t i = 0; i < nd; i++)
        want_dd[i] *= 2;
      test_assert_close ("gather accumulated ddata", dd, want_dd, nd, 2e-6, 1e-6);
      graft_gather_backward (p, indices, dyf, NULL);
      g_free (data); g_free (dy); g_free (want); g_free (want_dd);
      g_free (dataf); g_free (dyf); g_free (y); g_free (dd); g_free (indices);
    }
  {
    /* Known values: rows 2, 0, 2 and -1 (the last) of a 3 x 2 table. */
    const float table[6] = { 1, 2, 3, 4, 5, 6 }, indices[4] = { 2, 0, 2, -1 };
    const float want[8] = { 5, 6, 1, 2, 5, 6, 5, 6 };
    graft_gather_params p = { 1, 3, 2, 4 };
    float y[8], dtable[6] = { 0 };
    const float dy[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    graft_gather_forward (&p, table, indices, y);
    g_assert_cmpmem (y, sizeof y, want, sizeof want);
    graft_gather_backward (&p, indices, dy, dtable);
    g_assert_cmpfloat (dtable[4], ==, 3);
    g_assert_cmpfloat (dtable[0], ==, 1);
    g_assert_cmpfloat (dtable[2], ==, 0);
  }
}

typedef struct {
  graft_gather_params p;
  const float *indices;
  double *data, *y, *r;
} gather_ctx;

static double
gather_loss (void *data)
{
  gather_ctx *ctx = data;
  graft_gather_forward_reference (&ctx->p, ctx->data, ctx->indices, ctx->y);
  return test_dot (ctx->y, ctx->r, ctx->p.outer * ctx->p.count * ctx->p.inner);
}

static void
test_gather_gradient (void)
{
  gather_ctx ctx = { { 2, 7, 5, 11 } };
  size_t nd = 2 * 7 * 5, ny = 2 * 11 * 5;
  float indices[11];
  double *dd = test_doubles (nd);

  fill_indices (indices, 11, 7, 430);
  ctx.indices = indices;
  ctx.data = test_doubles (nd), ctx.y = test_doubles (ny), ctx.r = test_doubles (ny);
  test_fill_uniform (ctx.data, nd, 431, -2, 2);
  test_fill_uniform (ctx.r, ny, 432, -1, 1);
  graft_gather_backward_reference (&ctx.p, indices, ctx.r, dd);
  test_check_gradient ("gather ddata", ctx.data, nd, dd, gather_loss, &ctx, 1e-4, 1e-7);
  g_free (ctx.data); g_free (ctx.y); g_free (ctx.r); g_free (dd);
}

/* A graph adds a table gathered by constant indices to its input, as Swin adds its
 * relative-position bias to the attention scores: in a training plan the table, a
 * parameter, gets the gradient of the rows it gave (cross-entropy's, summed over the
 * batch), and the row it did not give none. */
static void
test_gather_plan (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape x_shape = graft_shape_2d (2, 4), table_shape = graft_shape_2d (3, 2), index_shape = { 1, { 2 } };
  const float table[6] = { 1, 2, 3, 4, 5, 6 }, index[2] = { 2, 0 };
  graft_node_attributes gather = { .op = GRAFT_OP_GATHER, .gather = { 0 } };
  graft_node_attributes reshape = { .op = GRAFT_OP_RESHAPE, .reshape = { 2, { 1, 4 } } };
  graft_node_attributes add = { .op = GRAFT_OP_ADD };
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 2 };
  const float x[8] = { 0, 0, 0, 0, 1, -1, 0.5f, 2 };
  const int32_t labels[2] = { 1, 3 };
  double g[2][4], want[6] = { 0 };
  graft_error error;
  graft_plan *plan;
  const float *y, *dtable;
  graft_shape shape;
  float loss;
  int in[2], x_value, table_value, rows, bias, out;

  x_value = graft_graph_add_input (graph, "x", &x_shape, &error);
  table_value = graft_graph_add_tensor (graph, "attn.relative_position_bias_table", GRAFT_VALUE_PARAMETER,
                                        &table_shape, table, &error);
  in[0] = table_value;
  in[1] = graft_graph_add_tensor (graph, "attn.relative_position_index", GRAFT_VALUE_CONSTANT, &index_shape, index,
                                  &error);
  g_assert_cmpint ((rows = graft_graph_add_node (graph, "gather", &gather, in, 2, "rows", &error)), >=, 0);
  g_assert_cmpint ((bias = graft_graph_add_node (graph, "flat", &reshape, &rows, 1, "bias", &error)), >=, 0);
  in[0] = x_value, in[1] = bias;
  g_assert_cmpint ((out = graft_graph_add_node (graph, "add", &add, in, 2, "y", &error)), >=, 0);
  options.loss_logits = out;
  options.keep = &out, options.n_keep = 1;
  plan = graft_plan_new (graph, &options, &error);
  if (plan == NULL)
    g_error ("%s", error.message);
  g_assert_cmpint (graft_plan_set_input (plan, x_value, x, 8, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  y = graft_plan_value_data (plan, out, &shape);
  g_assert_nonnull (y);
  /* The bias row is table rows 2 and 0: 5 6 1 2. */
  g_assert_cmpfloat (y[0], ==, 5);
  g_assert_cmpfloat (y[3], ==, 2);
  g_assert_cmpfloat (y[5], ==, 5);
  /* The cross-entropy gradient of each logit, (softmax - one-hot) / batch. */
  for (int n = 0; n < 2; n++)
    {
      double sum = 0;
      for (int j = 0; j < 4; j++)
        sum += exp (y[n * 4 + j]);
      for (int j = 0; j < 4; j++)
        g[n][j] = (exp (y[n * 4 + j]) / sum - (j == labels[n])) / 2;
    }
  for (int n = 0; n < 2; n++)
    {
      want[4] += g[n][0], want[5] += g[n][1];
      want[0] += g[n][2], want[1] += g[n][3];
    }
  g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &error), ==, GRAFT_OK);
  dtable = graft_plan_gradient (plan, table_value);
  g_assert_nonnull (dtable);
  test_assert_close ("table gradient", dtable, want, 6, 1e-6, 1e-5);
  g_assert_cmpfloat (dtable[2], ==, 0);
  graft_plan_free (plan);
  graft_graph_free (graph);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/gather/forward-backward", test_gather_forward_backward);
  g_test_add_func ("/engine/gather/gradient", test_gather_gradient);
  g_test_add_func ("/engine/gather/plan", test_gather_plan);
  return g_test_run ();
}
