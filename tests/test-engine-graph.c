/* Graphs and plans: shape inference, errors, memory sharing, where backward stops,
 * and the gradient of a whole network against finite differences. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "engine/op-table.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "toy-network.h"

static void
test_errors (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (1, 3, 8, 8);
  graft_shape wrong = graft_shape_4d (4, 2, 3, 3);
  graft_node_attributes conv = { .op = GRAFT_OP_CONV };
  graft_error error;
  int x, w, inputs[2];

  conv.conv.kh = conv.conv.kw = 3;
  conv.conv.stride_h = conv.conv.stride_w = conv.conv.dilation_h = conv.conv.dilation_w = 1;
  conv.conv.groups = 1;
  x = graft_graph_add_input (graph, "x", &shape, &error);
  g_assert_cmpint (graft_graph_add_input (graph, "x", &shape, &error), ==, -1);
  g_assert_nonnull (strstr (error.message, "defined twice"));

  w = graft_graph_add_tensor (graph, "w", GRAFT_VALUE_PARAMETER, &wrong, NULL, &error);
  inputs[0] = x, inputs[1] = w;
  g_assert_cmpint (graft_graph_add_node (graph, "c", &conv, inputs, 2, "y", &error), ==, -1);
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "'c'"));

  g_assert_cmpint (graft_graph_add_node (graph, "c", &conv, inputs, 1, "y", &error), ==, -1);
  g_assert_nonnull (strstr (error.message, "inputs"));
  inputs[1] = 99;
  g_assert_cmpint (graft_graph_add_node (graph, "c", &conv, inputs, 2, "y", &error), ==, -1);
  g_assert_nonnull (strstr (error.message, "does not exist"));

  /* An absurd shape is an error, not a crash. */
  shape = graft_shape_4d (INT64_C (1) << 40, INT64_C (1) << 40, 1 << 20, 3);
  g_assert_cmpint (graft_graph_add_tensor (graph, "huge", GRAFT_VALUE_PARAMETER, &shape, NULL, &error), ==, -1);
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_OVERFLOW);
  g_assert_cmpint (graft_graph_node_count (graph), ==, 0);
  graft_graph_free (graph);
}

static void
test_reshape_inference (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (2, 6, 4, 5);
  graft_node_attributes a = { .op = GRAFT_OP_RESHAPE };
  graft_error error;
  int x = graft_graph_add_input (graph, "x", &shape, NULL), y;

  a.reshape.rank = 2;
  a.reshape.dims[0] = 0, a.reshape.dims[1] = -1;
  y = graft_graph_add_node (graph, "r", &a, &x, 1, "r", &error);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (graft_graph_value (graph, y)->shape.dims[1], ==, 120);

  a.reshape.dims[0] = 7;
  g_assert_cmpint (graft_graph_add_node (graph, "bad", &a, &x, 1, "bad", &error), ==, -1);

  a = (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 2 } };
  y = graft_graph_add_node (graph, "f", &a, &x, 1, "f", &error);
  g_assert_cmpint (graft_graph_value (graph, y)->shape.dims[0], ==, 12);
  g_assert_cmpint (graft_graph_value (graph, y)->shape.dims[1], ==, 20);
  graft_graph_free (graph);
}

/* A deep chain: at inference only a couple of activations are alive at once. */
static void
test_inference_memory (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (1, 16, 32, 32);
  graft_node_attributes relu = { .op = GRAFT_OP_ACTIVATION, .activation = { GRAFT_ACTIVATION_RELU } };
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = 4 };
  graft_plan_memory memory;
  graft_error error;
  graft_plan *plan;
  int x = graft_graph_add_input (graph, "x", &shape, NULL);
  float *input;
  const float *out;
  graft_shape out_shape;

  for (int i = 0; i < 20; i++)
    {
      char name[16];
      g_snprintf (name, sizeof name, "relu%d", i);
      x = graft_graph_add_node (graph, name, &relu, &x, 1, name, &error);
    }
  options.keep = &x, options.n_keep = 1;
  plan = graft_plan_new (graph, &options, &error);
  g_assert_nonnull (plan);
  graft_plan_memory_usage (plan, &memory);
  /* 21 buffers of 4*16*32*32 floats without sharing, 2 live at a time with it. */
  g_assert_cmpuint (memory.activation_floats_unshared, ==, 21 * 4 * 16 * 32 * 32);
  g_assert_cmpuint (memory.activation_floats, ==, 2 * 4 * 16 * 32 * 32);

  input = test_floats (4 * 16 * 32 * 32);
  test_fill_uniform_float (input, 4 * 16 * 32 * 32, 1, -1, 1);
  g_assert_cmpint (graft_plan_set_input (plan, 0, input, 4 * 16 * 32 * 32, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_set_input (plan, 0, input, 17, &error), ==, GRAFT_ERROR_SHAPE);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  out = graft_plan_value_data (plan, x, &out_shape);
  g_assert_nonnull (out);
  g_assert_cmpint (out_shape.dims[0], ==, 4);
  for (int i = 0; i < 4 * 16 * 32 * 32; i++)
    g_assert_cmpfloat (out[i], ==, input[i] > 0 ? input[i] : 0.0f);
  /* An intermediate value that was not kept cannot be read. */
  g_assert_null (graft_plan_value_data (plan, x - 1, NULL));
  g_free (input);
  graft_plan_free (plan);
  graft_graph_free (graph);
}

/* Packing moves every tensor into one block, keeping its data; a tensor added later
 * unpacks the graph again (each tensor its own copy), and the next plan packs it anew. */
static void
test_pack (void)
{
  toy_network net;
  graft_plan_options inference = { .mode = GRAFT_PLAN_INFERENCE, .batch = 2 };
  graft_shape shape = graft_shape_2d (3, 5);
  float extra[15];
  g_autofree float *weight = NULL;
  const float *packed_weight;
  uintptr_t packed_at;
  graft_error error;
  graft_plan *plan;
  int added;

  toy_network_build (&net, 0.0f, 5);
  inference.keep = &net.logits, inference.n_keep = 1;
  weight = g_memdup2 (graft_graph_tensor_data (net.graph, net.fc_weight), 48 * sizeof (float));

  plan = graft_plan_new (net.graph, &inference, &error);
  g_assert_nonnull (plan);
  graft_plan_free (plan);
  packed_weight = graft_graph_tensor_data (net.graph, net.fc_weight);
  g_assert_cmpmem (packed_weight, 48 * sizeof (float), weight, 48 * sizeof (float));
  /* Packed: the tensors lie in one block, 64-byte aligned, one after another. */
  g_assert_true (graft_graph_tensor_data (net.graph, net.fc_bias) > packed_weight);
  g_assert_cmpuint ((uintptr_t) packed_weight % 64, ==, 0);
  g_assert_cmpint (graft_graph_pack (net.graph, &error), ==, GRAFT_OK);
  g_assert_true (graft_graph_tensor_data (net.graph, net.fc_weight) == packed_weight);
  packed_at = (uintptr_t) packed_weight;

  test_fill_uniform_float (extra, 15, 6, -1, 1);
  added = graft_graph_add_tensor (net.graph, "extra", GRAFT_VALUE_CONSTANT, &shape, extra, &error);
  g_assert_cmpint (added, >=, 0);
  g_assert_cmpuint ((uintptr_t) graft_graph_tensor_data (net.graph, net.fc_weight), !=, packed_at);
  g_assert_cmpmem (graft_graph_tensor_data (net.graph, net.fc_weight), 48 * sizeof (float),
                   weight, 48 * sizeof (float));
  g_assert_cmpmem (graft_graph_tensor_data (net.graph, added), sizeof extra, extra, sizeof extra);

  plan = graft_plan_new (net.graph, &inference, &error);
  g_assert_nonnull (plan);
  g_assert_cmpmem (graft_graph_tensor_data (net.graph, net.fc_weight), 48 * sizeof (float),
                   weight, 48 * sizeof (float));
  g_assert_cmpmem (graft_graph_tensor_data (net.graph, added), sizeof extra, extra, sizeof extra);
  graft_plan_free (plan);
  toy_network_free (&net);
}

/* With only the head trainable, backward runs only the head; the backbone keeps no
 * activation for backward and gets no gradient. */
static void
test_backward_stops (void)
{
  toy_network net;
  graft_plan_options inference = { .mode = GRAFT_PLAN_INFERENCE, .batch = 8 };
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = 8 };
  graft_plan_memory head_only, full, forward_only;
  graft_error error;
  graft_plan *plan;

  toy_network_build (&net, 0.0f, 3);
  inference.keep = &net.logits, inference.n_keep = 1;
  training.loss_logits = net.logits;

  plan = graft_plan_new (net.graph, &inference, &error);
  graft_plan_memory_usage (plan, &forward_only);
  graft_plan_free (plan);

  plan = graft_plan_new (net.graph, &training, &error);
  g_assert_nonnull (plan);
  graft_plan_memory_usage (plan, &full);
  g_assert_cmpint (full.backward_nodes, ==, graft_graph_node_count (net.graph));
  g_assert_nonnull (graft_plan_gradient (plan, net.conv1_weight));
  graft_plan_free (plan);

  toy_network_freeze_backbone (&net);
  plan = graft_plan_new (net.graph, &training, &error);
  g_assert_nonnull (plan);
  graft_plan_memory_usage (plan, &head_only);
  g_assert_cmpint (head_only.backward_nodes, ==, 1); /* the Gemm; dropout's input needs no gradient */
  for (int i = 0; i < graft_graph_node_count (net.graph); i++)
    g_assert_cmpint (graft_plan_node_runs_backward (plan, i), ==,
                     graft_graph_node (net.graph, i)->output == net.logits);
  g_assert_null (graft_plan_gradient (plan, net.conv1_weight));
  g_assert_null (graft_plan_gradient (plan, net.bn1_gamma));
  g_assert_nonnull (graft_plan_gradient (plan, net.fc_weight));
  g_assert_cmpuint (head_only.gradient_floats, <, 64 + 16);
  /* Only the head's input and the loss are kept beyond inference's needs. */
  g_assert_cmpuint (head_only.activation_floats, <, full.activation_floats / 2);
  g_assert_cmpuint (head_only.activation_floats, <=, forward_only.activation_floats + 4 * 64 * 8);
  graft_plan_free (plan);

  /* Unfreezing conv2 runs backward from the head down to conv2, not below. */
  graft_graph_set_trainable (net.graph, net.conv2_weight, true);
  plan = graft_plan_new (net.graph, &training, &error);
  g_assert_nonnull (graft_plan_gradient (plan, net.conv2_weight));
  g_assert_null (graft_plan_gradient (plan, net.conv1_weight));
  for (int i = 0; i < graft_graph_node_count (net.graph); i++)
    {
      const graft_node *node = graft_graph_node (net.graph, i);
      if (strcmp (node->name, "conv1") == 0 || strcmp (node->name, "bn1") == 0
          || strcmp (node->name, "relu1") == 0)
        g_assert_false (graft_plan_node_runs_backward (plan, i));
      if (strcmp (node->name, "conv2") == 0)
        g_assert_true (graft_plan_node_runs_backward (plan, i));
    }
  graft_plan_free (plan);
  toy_network_free (&net);
}

/* A training plan and the batch its loss is taken on. */
typedef struct {
  graft_graph *graph;
  graft_plan *plan;
  int input;
  const float *images;
  const int32_t *labels;
  size_t count;
} loss_context;

static double
plan_loss (loss_context *ctx)
{
  float loss;
  graft_error error;
  g_assert_cmpint (graft_plan_set_input (ctx->plan, ctx->input, ctx->images, ctx->count, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (ctx->plan, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (ctx->plan, ctx->labels, &loss, &error), ==, GRAFT_OK);
  return loss;
}

/* Every parameter's gradient, at every (1 + size / spacing)-th element, against
 * central finite differences of the loss in float: |numeric - analytic| <= 2e-2 *
 * max(floor, |numeric|). Returns how many elements were checked. */
static int
check_parameter_gradients (loss_context *ctx, size_t spacing, double floor)
{
  int checked = 0;

  for (int v = 0; v < graft_graph_value_count (ctx->graph); v++)
    {
      const graft_value *value = graft_graph_value (ctx->graph, v);
      size_t size;
      float *data;
      g_autofree float *analytic = NULL;
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      graft_shape_count (&value->shape, &size, NULL);
      data = graft_graph_tensor_data (ctx->graph, v);
      plan_loss (ctx);
      analytic = g_memdup2 (graft_plan_gradient (ctx->plan, v), size * sizeof (float));
      for (size_t i = 0; i < size; i += 1 + size / spacing)
        {
          float saved = data[i], step = 2e-3f;
          double plus, minus, numeric;
          data[i] = saved + step;
          plus = plan_loss (ctx);
          data[i] = saved - step;
          minus = plan_loss (ctx);
          data[i] = saved;
          numeric = (plus - minus) / (2.0 * step);
          if (fabs (numeric - analytic[i]) > 2e-2 * fmax (floor, fabs (numeric)))
            g_error ("%s[%zu]: gradient %.6g, finite differences %.6g", value->name, i, analytic[i], numeric);
          checked++;
        }
    }
  return checked;
}

/* The whole network's parameter gradients against float finite differences: checks
 * the wiring (fan-out sums, broadcast, concat, BN with batch statistics). */
static void
test_network_gradient (void)
{
  toy_network net;
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = 4, .label_smoothing = 0.1f };
  graft_error error;
  int n = 4;
  size_t count = (size_t) n * TOY_CHANNELS * TOY_SIZE * TOY_SIZE;
  float *images = test_floats (count);
  int32_t labels[4];
  loss_context ctx;

  toy_network_build (&net, 0.0f, 11);
  toy_batch (n, 5, images, labels);
  training.loss_logits = net.logits;
  ctx = (loss_context) { net.graph, graft_plan_new (net.graph, &training, &error), net.input, images, labels, count };
  g_assert_nonnull (ctx.plan);
  g_assert_cmpint (check_parameter_gradients (&ctx, 5, 0.05), >, 40);
  graft_plan_free (ctx.plan);
  toy_network_free (&net);
  g_free (images);
}

/* A ShuffleNet V2 unit: a 1x1 conv, its channels split in two by Slice nodes, one half
 * through a conv, the halves joined again and shuffled (Reshape, Transpose, Reshape),
 * then pooled into a Gemm. Both Slice backwards accumulate into the first conv's output
 * gradient, a range each; the parameter gradients of the whole network must match
 * finite differences. */
static int
split_tensor (graft_graph *graph, const char *name, graft_shape shape, uint64_t seed)
{
  size_t count;
  g_autofree float *data = NULL;
  graft_shape_count (&shape, &count, NULL);
  data = test_floats (count);
  test_fill_uniform_float (data, count, seed, -0.6f, 0.6f);
  return graft_graph_add_tensor (graph, name, GRAFT_VALUE_PARAMETER, &shape, data, NULL);
}

static int
split_node (graft_graph *graph, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    g_error ("%s", error.message);
  return value;
}

/* x * Sigmoid (x) as two nodes (sigmoid_first: Mul reads the sigmoid first). */
static int
swish_nodes (graft_graph *graph, const char *name, int x, bool sigmoid_first)
{
  char sigmoid_name[64];
  int s, in2[2];
  g_snprintf (sigmoid_name, sizeof sigmoid_name, "%s.sigmoid", name);
  s = split_node (graph, sigmoid_name, (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                                 .activation = { GRAFT_ACTIVATION_SIGMOID } }, &x, 1);
  in2[0] = sigmoid_first ? s : x;
  in2[1] = sigmoid_first ? x : s;
  return split_node (graph, name, (graft_node_attributes) { .op = GRAFT_OP_MUL }, in2, 2);
}

/* BatchNormalization of c channels with random gamma, beta and running statistics
 * (a positive variance). */
static int
batchnorm_node (graft_graph *graph, const char *name, int x, int c, uint64_t seed)
{
  static const char *const suffixes[4] = { "weight", "bias", "running_mean", "running_var" };
  graft_shape shape = graft_shape_make (1, (int64_t[]) { c });
  int inputs[5] = { x };
  for (int k = 0; k < 4; k++)
    {
      g_autofree char *tensor = g_strdup_printf ("%s.%s", name, suffixes[k]);
      g_autofree float *data = test_floats ((size_t) c);
      test_fill_uniform_float (data, (size_t) c, seed + (uint64_t) k, k == 3 ? 0.5f : -0.6f, k == 3 ? 1.5f : 0.6f);
      inputs[k + 1] = graft_graph_add_tensor (graph, tensor, k < 2 ? GRAFT_VALUE_PARAMETER : GRAFT_VALUE_BUFFER,
                                              &shape, data, NULL);
    }
  return split_node (graph, name, (graft_node_attributes) { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } },
                     inputs, 5);
}

static void
test_split_gradient (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (1, 4, 5, 5);
  graft_node_attributes conv = { .op = GRAFT_OP_CONV };
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = 3 };
  graft_error error;
  int x, c, halves[2], y, pair[2], in3[3], logits;
  size_t count = 3 * 4 * 5 * 5;
  g_autofree float *images = test_floats (count);
  int32_t labels[3] = { 0, 2, 1 };
  loss_context ctx;

  conv.conv.stride_h = conv.conv.stride_w = conv.conv.dilation_h = conv.conv.dilation_w = 1;
  conv.conv.groups = 1;
  conv.conv.kh = conv.conv.kw = 1;
  x = graft_graph_add_input (graph, "x", &shape, NULL);
  in3[0] = x;
  in3[1] = split_tensor (graph, "stem.weight", graft_shape_4d (4, 4, 1, 1), 1);
  in3[2] = split_tensor (graph, "stem.bias", graft_shape_make (1, (int64_t[]) { 4 }), 2);
  c = split_node (graph, "stem", conv, in3, 3);
  halves[0] = split_node (graph, "left", (graft_node_attributes) { .op = GRAFT_OP_SLICE, .slice = { 1, 0, 2 } }, &c, 1);
  halves[1] = split_node (graph, "right", (graft_node_attributes) { .op = GRAFT_OP_SLICE, .slice = { -3, 2, 4 } },
                          &c, 1);
  g_assert_cmpint (graft_graph_value (graph, halves[1])->shape.dims[1], ==, 2);
  conv.conv.kh = conv.conv.kw = 3;
  conv.conv.pad_top = conv.conv.pad_left = conv.conv.pad_bottom = conv.conv.pad_right = 1;
  in3[0] = halves[1];
  in3[1] = split_tensor (graph, "branch.weight", graft_shape_4d (2, 2, 3, 3), 3);
  y = split_node (graph, "branch", conv, in3, 2);
  /* Smooth, so that finite differences do not cross a kink. */
  y = split_node (graph, "branch.act", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                                  .activation = { GRAFT_ACTIVATION_SIGMOID } }, &y, 1);
  pair[0] = halves[0], pair[1] = y;
  y = split_node (graph, "join", (graft_node_attributes) { .op = GRAFT_OP_CONCAT, .concat = { 1 } }, pair, 2);
  y = split_node (graph, "groups", (graft_node_attributes) { .op = GRAFT_OP_RESHAPE,
                                                             .reshape = { 5, { 0, 2, 2, 5, 5 } } }, &y, 1);
  y = split_node (graph, "shuffle", (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE,
                                                              .transpose = { { 0, 2, 1, 3, 4 } } }, &y, 1);
  y = split_node (graph, "channels", (graft_node_attributes) { .op = GRAFT_OP_RESHAPE,
                                                               .reshape = { 4, { 0, -1, 5, 5 } } }, &y, 1);
  y = split_node (graph, "pool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL }, &y, 1);
  in3[0] = y;
  in3[1] = split_tensor (graph, "fc.weight", graft_shape_2d (3, 4), 4);
  in3[2] = split_tensor (graph, "fc.bias", graft_shape_make (1, (int64_t[]) { 3 }), 5);
  logits = split_node (graph, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } },
                       in3, 3);

  /* A range outside the input is refused, by name. */
  g_assert_cmpint (graft_graph_add_node (graph, "too_far", &(graft_node_attributes) { .op = GRAFT_OP_SLICE,
                                                                                      .slice = { 1, 2, 5 } },
                                         &c, 1, "too_far", &error), ==, -1);
  g_assert_cmpint (error.status, ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "'too_far'"));
  g_assert_cmpint (graft_graph_add_node (graph, "no_axis", &(graft_node_attributes) { .op = GRAFT_OP_SLICE,
                                                                                      .slice = { 4, 0, 1 } },
                                         &c, 1, "no_axis", &error), ==, -1);

  test_fill_uniform_float (images, count, 21, -1, 1);
  training.loss_logits = logits;
  ctx = (loss_context) { graph, graft_plan_new (graph, &training, &error), x, images, labels, count };
  if (ctx.plan == NULL)
    g_error ("%s", error.message);
  g_assert_cmpint (check_parameter_gradients (&ctx, 7, 0.02), >, 20);
  /* The stem's gradient is not zero: both halves send theirs back. */
  {
    const float *g = graft_plan_gradient (ctx.plan, graft_graph_find_value (graph, "stem.weight"));
    double norm = 0;
    g_assert_nonnull (g);
    for (int i = 0; i < 16; i++)
      norm += fabs (g[i]);
    g_assert_cmpfloat (norm, >, 1e-6);
  }
  graft_plan_free (ctx.plan);
  graft_graph_free (graph);
}

/* Forward fuses Conv -> Activation and BatchNorm -> Activation into one pass; with
 * options.unfused each node runs alone. Both must give the same outputs, gradients and
 * running statistics: the fused passes do the same arithmetic, and an activation whose
 * backward reads its input (Clip, HardSigmoid) still finds it. The toy network has
 * BN -> Relu (the BN output is never written), Conv -> Relu, Conv -> HardSigmoid and
 * depthwise Conv -> Clip (kept); a wide network (40x40 outputs: one GEMM per sample, not
 * samples batched) adds Conv -> Clip, Conv -> Relu, depthwise Conv -> Clip and 1x1 Conv ->
 * HardSwish on that path. The unfused plan also clears each gradient buffer before its
 * first writer adds to it, where the other lets that writer overwrite it: conv (im2col,
 * 1x1 and depthwise), BatchNorm and activation backwards are first writers here. Each
 * plan gets its own copy of the graph, as training forward updates BN's running statistics. */
static int
wide_network (graft_graph **out, int *input)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (1, 3, 40, 40);
  graft_node_attributes conv = { .op = GRAFT_OP_CONV };
  int x, c3, in3[3];

  conv.conv.stride_h = conv.conv.stride_w = conv.conv.dilation_h = conv.conv.dilation_w = 1;
  conv.conv.groups = 1;
  conv.conv.kh = conv.conv.kw = 3;
  conv.conv.pad_top = conv.conv.pad_left = conv.conv.pad_bottom = conv.conv.pad_right = 1;
  *input = x = graft_graph_add_input (graph, "x", &shape, NULL);
  in3[0] = x;
  in3[1] = split_tensor (graph, "c1.weight", graft_shape_4d (4, 3, 3, 3), 31);
  in3[2] = split_tensor (graph, "c1.bias", graft_shape_make (1, (int64_t[]) { 4 }), 32);
  x = split_node (graph, "c1", conv, in3, 3);
  x = split_node (graph, "c1.act", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                             .activation = { GRAFT_ACTIVATION_CLIP, 0, 0.5f } }, &x, 1);
  in3[0] = x;
  in3[1] = split_tensor (graph, "c2.weight", graft_shape_4d (4, 4, 3, 3), 33);
  in3[2] = split_tensor (graph, "c2.bias", graft_shape_make (1, (int64_t[]) { 4 }), 34);
  x = split_node (graph, "c2", conv, in3, 3);
  x = split_node (graph, "c2.act", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                             .activation = { GRAFT_ACTIVATION_RELU } }, &x, 1);
  /* Depthwise (its backward is the first writer of c2.act's gradient), then a 1x1 conv
   * (one GEMM straight into dx). */
  conv.conv.groups = 4;
  in3[0] = x;
  in3[1] = split_tensor (graph, "dw.weight", graft_shape_4d (4, 1, 3, 3), 37);
  x = split_node (graph, "dw", conv, in3, 2);
  x = split_node (graph, "dw.act", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                             .activation = { GRAFT_ACTIVATION_CLIP, 0, 0.3f } }, &x, 1);
  conv.conv.groups = 1;
  conv.conv.kh = conv.conv.kw = 1;
  conv.conv.pad_top = conv.conv.pad_left = conv.conv.pad_bottom = conv.conv.pad_right = 0;
  in3[0] = x;
  in3[1] = split_tensor (graph, "c3.weight", graft_shape_4d (4, 4, 1, 1), 38);
  in3[2] = split_tensor (graph, "c3.bias", graft_shape_make (1, (int64_t[]) { 4 }), 39);
  x = split_node (graph, "c3", conv, in3, 3);
  c3 = x = split_node (graph, "c3.act", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                                  .activation = { GRAFT_ACTIVATION_HARD_SWISH } }, &x, 1);
  /* Swish as ONNX writes it, Sigmoid then Mul, after a Conv and after a BatchNorm (the
   * product's operands the other way round): one pass in the inference plan. */
  in3[0] = x;
  in3[1] = split_tensor (graph, "c4.weight", graft_shape_4d (4, 4, 1, 1), 42);
  in3[2] = split_tensor (graph, "c4.bias", graft_shape_make (1, (int64_t[]) { 4 }), 43);
  x = split_node (graph, "c4", conv, in3, 3);
  x = swish_nodes (graph, "c4.swish", x, false);
  /* BatchNorm, a residual Add and ReLU (one pass in the oneDNN backend). */
  in3[0] = batchnorm_node (graph, "res.bn", x, 4, 45);
  in3[1] = c3;
  x = split_node (graph, "residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in3, 2);
  x = split_node (graph, "residual.relu", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                                    .activation = { GRAFT_ACTIVATION_RELU } }, &x, 1);
  /* A residual Add and ReLU after a Conv (without BatchNorm: a folded export), in the
   * Conv's pass on oneDNN. */
  in3[0] = x;
  in3[1] = split_tensor (graph, "c5.weight", graft_shape_4d (4, 4, 3, 3), 46);
  in3[2] = split_tensor (graph, "c5.bias", graft_shape_make (1, (int64_t[]) { 4 }), 47);
  conv.conv.kh = conv.conv.kw = 3;
  conv.conv.pad_top = conv.conv.pad_left = conv.conv.pad_bottom = conv.conv.pad_right = 1;
  in3[1] = split_node (graph, "c5", conv, in3, 3);
  x = split_node (graph, "c5.residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in3, 2);
  x = split_node (graph, "c5.relu", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                              .activation = { GRAFT_ACTIVATION_RELU } }, &x, 1);
  /* Squeeze-excite's channel scale, Mul of x by Sigmoid (its global average): in
   * inference the product takes x's memory, as nothing reads x after it; the second's
   * input is also read by the Add after it, so it must not be written over. */
  for (int k = 0; k < 2; k++)
    {
      graft_node_attributes pool = { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { .keep_dims = true } };
      graft_node_attributes sigmoid = { .op = GRAFT_OP_ACTIVATION, .activation = { GRAFT_ACTIVATION_SIGMOID } };
      int s = split_node (graph, k ? "se2.pool" : "se1.pool", pool, &x, 1);
      s = split_node (graph, k ? "se2.sigmoid" : "se1.sigmoid", sigmoid, &s, 1);
      in3[0] = k ? s : x;
      in3[1] = k ? x : s;
      in3[0] = split_node (graph, k ? "se2.scale" : "se1.scale", (graft_node_attributes) { .op = GRAFT_OP_MUL },
                           in3, 2);
      if (k == 0)
        x = in3[0];
      else
        {
          in3[1] = x;
          x = split_node (graph, "se2.add", (graft_node_attributes) { .op = GRAFT_OP_ADD }, in3, 2);
        }
    }
  x = batchnorm_node (graph, "bn", x, 4, 44);
  x = swish_nodes (graph, "bn.swish", x, true);
  x = split_node (graph, "pool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL }, &x, 1);
  in3[0] = x;
  in3[1] = split_tensor (graph, "fc.weight", graft_shape_2d (3, 4), 35);
  in3[2] = split_tensor (graph, "fc.bias", graft_shape_make (1, (int64_t[]) { 3 }), 36);
  *out = graph;
  return split_node (graph, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } },
                     in3, 3);
}

static void
assert_same_floats (const float *a, const float *b, size_t count, const char *what)
{
  for (size_t i = 0; i < count; i++)
    if (!(a[i] == b[i]))
      g_error ("%s differs at %zu: %.9g fused, %.9g unfused", what, i, a[i], b[i]);
}

static void
compare_fused (bool wide, graft_plan_mode mode)
{
  graft_graph *graphs[2];
  graft_plan *plans[2];
  int input = 0, logits = 0, batch = 3;
  int32_t labels[3] = { 0, 2, 1 };
  float loss[2];
  size_t count = 0;
  float *images = NULL;
  graft_error error;

  for (int r = 0; r < 2; r++)
    {
      graft_plan_options options = { .mode = mode, .batch = batch, .unfused = r == 1 };
      toy_network net;
      if (wide)
        logits = wide_network (&graphs[r], &input);
      else
        {
          toy_network_build (&net, 0.0f, 17);
          graphs[r] = net.graph, input = net.input, logits = net.logits;
        }
      if (images == NULL)
        {
          graft_shape_count (&graft_graph_value (graphs[r], input)->shape, &count, NULL);
          count *= (size_t) batch;
          images = test_floats (count);
          test_fill_uniform_float (images, count, 41, -1, 1);
        }
      options.loss_logits = logits;
      options.keep = &logits;
      options.n_keep = 1;
      plans[r] = graft_plan_new (graphs[r], &options, &error);
      if (plans[r] == NULL)
        g_error ("%s", error.message);
      /* The wide network's four Activations after a Conv, the residual Adds and the ReLUs
       * after them in res.bn's and c5's passes on oneDNN (the portable kernels run them
       * alone); in inference also both Swishes (Sigmoid and Mul each), which run backward
       * in training. */
      if (wide)
        g_assert_cmpint (graft_plan_fused_nodes (plans[r]), ==,
                         r == 1 ? 0
                                : (mode == GRAFT_PLAN_TRAINING ? 4 : 8)
                                    + 4 * g_str_equal (graft_plan_kernels_name (plans[r]), "onednn"));
      g_assert_cmpint (graft_plan_set_input (plans[r], input, images, count, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[r], &error), ==, GRAFT_OK);
      if (mode == GRAFT_PLAN_TRAINING)
        g_assert_cmpint (graft_plan_backward (plans[r], labels, &loss[r], &error), ==, GRAFT_OK);
    }
  /* oneDNN's convolution applies a fused Swish with its own exp (onednn.c,
   * graft_onednn_conv_fuses), which rounds otherwise than the Sigmoid and Mul passes: the
   * wide network's inference logits on that backend agree within float rounding, not in
   * every bit. Everything else, and the portable kernels, must match exactly. */
  if (wide && mode == GRAFT_PLAN_INFERENCE && g_str_equal (graft_plan_kernels_name (plans[0]), "onednn"))
    {
      double want[3 * 3];
      const float *got = graft_plan_value_data (plans[0], logits, NULL);
      for (int i = 0; i < batch * 3; i++)
        want[i] = graft_plan_value_data (plans[1], logits, NULL)[i];
      test_assert_close ("logits", got, want, (size_t) batch * 3, 1e-6, 1e-5);
    }
  else
    assert_same_floats (graft_plan_value_data (plans[0], logits, NULL), graft_plan_value_data (plans[1], logits, NULL),
                        (size_t) batch * 3, "logits");
  /* A fused producer's own output is not written where the activation's backward does
   * not read it, nor a fused Swish's sigmoid: they take no memory. */
  if (wide && mode == GRAFT_PLAN_INFERENCE)
    {
      graft_plan_memory memory[2];
      for (int r = 0; r < 2; r++)
        graft_plan_memory_usage (plans[r], &memory[r]);
      g_assert_cmpuint (memory[0].activation_floats_unshared, <, memory[1].activation_floats_unshared);
    }
  for (int v = 0; v < graft_graph_value_count (graphs[0]); v++)
    {
      const graft_value *value = graft_graph_value (graphs[0], v);
      size_t n;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &n, NULL);
      assert_same_floats (value->data, graft_graph_value (graphs[1], v)->data, n, value->name);
      if (mode == GRAFT_PLAN_TRAINING && graft_plan_gradient (plans[0], v) != NULL)
        assert_same_floats (graft_plan_gradient (plans[0], v), graft_plan_gradient (plans[1], v), n, value->name);
    }
  for (int r = 0; r < 2; r++)
    {
      graft_plan_free (plans[r]);
      graft_graph_free (graphs[r]);
    }
  g_free (images);
}

static void
test_fused_matches_unfused (void)
{
  compare_fused (false, GRAFT_PLAN_TRAINING);
  compare_fused (false, GRAFT_PLAN_INFERENCE);
  compare_fused (true, GRAFT_PLAN_TRAINING);
  compare_fused (true, GRAFT_PLAN_INFERENCE);
}

/* Every op has a complete descriptor: a table entry left out is a NULL here (the static
 * assertion in op-table.c only catches a table shorter than the enum). */
static void
test_op_table (void)
{
  for (int op = 0; op < GRAFT_OP_COUNT; op++)
    {
      const graft_op_descriptor *d = graft_op_descriptor_for ((graft_op) op);
      if (d == NULL || d->name == NULL || d->name[0] == '\0')
        g_error ("op %d has no descriptor in op-table.c", op);
      g_assert_cmpstr (graft_op_name ((graft_op) op), ==, d->name);
      if (d->infer_shape == NULL || d->backward_needs == NULL || d->forward == NULL || d->backward == NULL)
        g_error ("the descriptor of %s lacks a function", d->name);
      g_assert_cmpint (d->min_inputs, >=, 1);
      g_assert_true (d->max_inputs == GRAFT_OP_ANY_INPUTS || d->max_inputs >= d->min_inputs);
      for (int other = 0; other < op; other++)
        g_assert_cmpstr (graft_op_descriptor_for ((graft_op) other)->name, !=, d->name);
    }
  g_assert_null (graft_op_descriptor_for (GRAFT_OP_COUNT));
  g_assert_null (graft_op_descriptor_for ((graft_op) -1));
  g_assert_cmpstr (graft_op_name (GRAFT_OP_COUNT), ==, "unknown");
}

/* A second backend: the plan asks it for each node's descriptor and runs the ones it
 * gives. This one takes the activations, counting its calls, and runs them with the
 * built-in kernels, so the results must not change. */
static int backend_forwards, backend_backwards;
static graft_op_descriptor backend_activation;

static void
counting_forward (const graft_op_context *c)
{
  backend_forwards++;
  graft_op_descriptor_for (GRAFT_OP_ACTIVATION)->forward (c);
}

static void
counting_backward (const graft_op_context *c)
{
  backend_backwards++;
  graft_op_descriptor_for (GRAFT_OP_ACTIVATION)->backward (c);
}

static const graft_op_descriptor *
activations_only (const graft_op_backend *backend, const graft_node *node, const graft_shape *const *input_shapes)
{
  (void) backend;
  g_assert_nonnull (input_shapes[0]);
  return node->attributes.op == GRAFT_OP_ACTIVATION ? &backend_activation : NULL;
}

static void
test_backend (void)
{
  graft_op_backend backend = { .name = "counting", .descriptor_for = activations_only };
  float results[2][3 * TOY_CLASSES], images[3 * TOY_CHANNELS * TOY_SIZE * TOY_SIZE], loss[2];
  int32_t labels[3];
  int activations = 0;
  graft_error error;

  backend_activation = *graft_op_descriptor_for (GRAFT_OP_ACTIVATION);
  backend_activation.forward = counting_forward;
  backend_activation.backward = counting_backward;
  toy_batch (3, 5, images, labels);
  for (int r = 0; r < 2; r++)
    {
      toy_network net;
      graft_plan *plan;
      /* The built-in kernels both times (not oneDNN's under GRAFT_ENGINE_BACKEND). */
      graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 3, .unfused = true,
                                     .backend = r == 1 ? &backend : NULL, .kernels = GRAFT_PLAN_KERNELS_PORTABLE };
      toy_network_build (&net, 0.0f, 17);
      options.loss_logits = net.logits;
      options.keep = &net.logits;
      options.n_keep = 1;
      plan = graft_plan_new (net.graph, &options, &error);
      if (plan == NULL)
        g_error ("%s", error.message);
      g_assert_cmpint (graft_plan_set_input (plan, net.input, images, G_N_ELEMENTS (images), &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plan, labels, &loss[r], &error), ==, GRAFT_OK);
      memcpy (results[r], graft_plan_value_data (plan, net.logits, NULL), sizeof results[r]);
      activations = 0;
      for (int i = 0; i < graft_graph_node_count (net.graph); i++)
        activations += graft_graph_node (net.graph, i)->attributes.op == GRAFT_OP_ACTIVATION;
      graft_plan_free (plan);
      toy_network_free (&net);
    }
  g_assert_cmpint (activations, >, 0);
  g_assert_cmpint (backend_forwards, ==, activations);
  g_assert_cmpint (backend_backwards, >, 0);
  g_assert_cmpfloat (loss[0], ==, loss[1]);
  g_assert_cmpmem (results[0], sizeof results[0], results[1], sizeof results[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/graph/errors", test_errors);
  g_test_add_func ("/engine/graph/reshape-inference", test_reshape_inference);
  g_test_add_func ("/engine/graph/inference-memory", test_inference_memory);
  g_test_add_func ("/engine/graph/pack", test_pack);
  g_test_add_func ("/engine/graph/backward-stops", test_backward_stops);
  g_test_add_func ("/engine/graph/network-gradient", test_network_gradient);
  g_test_add_func ("/engine/graph/split-gradient", test_split_gradient);
  g_test_add_func ("/engine/graph/fused-matches-unfused", test_fused_matches_unfused);
  g_test_add_func ("/engine/graph/op-table", test_op_table);
  g_test_add_func ("/engine/graph/backend", test_backend);
  return g_test_run ();
}
