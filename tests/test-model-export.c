/* ONNX export: graphs built in C go out as ONNX and come back through the importer
 * with the same structure, the same initializer bytes and bit-identical outputs; the
 * files pass onnx.checker and run in ONNX Runtime with Graft's numbers; saving never
 * leaves a half-written model behind. */
/* MobileNetV2 built by hand, with torchvision's names (bench/, not in libgraft). */
#include "../bench/mobilenet-v2.c"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model.h"
#include "model/model-private.h"
#include "model/npy.h"
#include "toy-network.h"

/* ------------------------------------------------------------------------ */
/* Models built by hand                                                      */

/* Wraps graph (which the model then owns) in a GraftModel as the importer would fill it. */
static GraftModel *
model_wrap (graft_graph *graph, int input, int output, int logits, const char *graph_name)
{
  g_autoptr (GError) error = NULL;
  GraftModel *model = graft_model_new ();
  model->graph = graph;
  model->input = input;
  model->output = output;
  model->logits = logits;
  model->input_name = g_strdup (graft_graph_value (graph, input)->name);
  model->output_name = g_strdup (graft_graph_value (graph, output)->name);
  model->ir_version = 7;
  model->opset = 13;
  model->producer_name = g_strdup ("Graft tests");
  model->producer_version = g_strdup ("0");
  model->graph_name = g_strdup (graph_name);
  g_assert_true (graft_model_analyse (model, &error));
  g_assert_no_error (error);
  return model;
}

static void
set_metadata (GraftModel *model, const char *key, const char *value)
{
  g_hash_table_replace (model->metadata, g_strdup (key), g_strdup (value));
}

/* Random values in every tensor, as training would leave them (BN variances positive). */
static void
randomise_tensors (graft_graph *graph, uint64_t seed)
{
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      float *data = graft_graph_tensor_data (graph, v);
      size_t count;
      if (data == NULL)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      if (g_str_has_suffix (value->name, "running_var"))
        test_fill_uniform_float (data, count, seed + (uint64_t) v, 0.5f, 1.5f);
      else if (g_str_has_suffix (value->name, ".weight") && value->shape.rank == 1)
        test_fill_uniform_float (data, count, seed + (uint64_t) v, 0.8f, 1.2f);
      else if (value->shape.rank <= 1)
        test_fill_uniform_float (data, count, seed + (uint64_t) v, -0.2f, 0.2f);
    }
}

static GraftModel *
toy_model_new (uint64_t seed)
{
  toy_network net;
  GraftModel *model;
  toy_network_build (&net, 0.3f, seed);
  randomise_tensors (net.graph, seed * 31);
  model = model_wrap (net.graph, net.input, net.logits, net.logits, "toy");
  set_metadata (model, GRAFT_METADATA_LABELS, "[\"bar\", \"pillar\", \"slash\"]");
  set_metadata (model, GRAFT_METADATA_PREPROCESSING,
                "{\"size\":8,\"mean\":[0.5,0.5,0.5],\"std\":[0.25,0.25,0.25],\"layout\":\"NCHW\"}");
  set_metadata (model, "zz.last", "ünïcødé ✓");
  set_metadata (model, "aa.first", "");
  return model;
}

static int
zoo_tensor (graft_graph *graph, const char *name, graft_value_kind kind, graft_shape shape, uint64_t seed)
{
  size_t count;
  float *data;
  int value;
  graft_shape_count (&shape, &count, NULL);
  data = test_floats (count);
  test_fill_uniform_float (data, count, seed, -0.5f, 0.5f);
  value = graft_graph_add_tensor (graph, name, kind, &shape, data, NULL);
  g_free (data);
  g_assert_cmpint (value, >=, 0);
  return value;
}

static int
zoo_node (graft_graph *graph, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    g_error ("op zoo: %s", error.message);
  return value;
}

/* The ops the toy network lacks: strided dilated Conv with asymmetric pads, Sigmoid,
 * HardSwish (so opset 14), AveragePool with ceil mode, a constant, Abs, Transpose, Reshape
 * (0 and -1), an identity Reshape, Flatten, Gemm with alpha/beta and transA, Softmax, and
 * a Dropout that is the model's output. */
static GraftModel *
zoo_model_new (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape input_shape = graft_shape_4d (1, 4, 9, 9);
  graft_node_attributes a;
  int x, c, s, h, m, p, t, r, g, pair[2], in3[3];
  int64_t offset_dims[3] = { 6, 1, 1 };
  GraftModel *model;

  x = graft_graph_add_input (graph, "pixels", &input_shape, NULL);
  a = (graft_node_attributes) { .op = GRAFT_OP_CONV };
  a.conv.kh = a.conv.kw = 3;
  a.conv.stride_h = 2, a.conv.stride_w = 2;
  a.conv.dilation_h = 2, a.conv.dilation_w = 2;
  a.conv.pad_top = 1, a.conv.pad_left = 2, a.conv.pad_bottom = 1, a.conv.pad_right = 0;
  a.conv.groups = 2;
  in3[0] = x;
  in3[1] = zoo_tensor (graph, "stem.weight", GRAFT_VALUE_PARAMETER, graft_shape_4d (6, 2, 3, 3), 1);
  in3[2] = zoo_tensor (graph, "stem.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 6 }), 2);
  c = zoo_node (graph, "stem", a, in3, 3);
  s = zoo_node (graph, "gate", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                         .activation = { GRAFT_ACTIVATION_SIGMOID } }, &c, 1);
  h = zoo_node (graph, "hswish", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                           .activation = { GRAFT_ACTIVATION_HARD_SWISH } }, &c, 1);
  pair[0] = s, pair[1] = h;
  m = zoo_node (graph, "gated", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_AVGPOOL };
  /* (4 + 1 - 2) / 2 is 1.5: ceil mode gives 3x3 where floor gives 2x2, and the padded
   * border windows tell count_include_pad apart. */
  a.pool.kh = a.pool.kw = 2;
  a.pool.stride_h = a.pool.stride_w = 2;
  a.pool.pad_top = 1, a.pool.pad_left = 1;
  a.pool.ceil_mode = true;
  a.pool.count_include_pad = false;
  p = zoo_node (graph, "avgpool", a, &m, 1);
  pair[0] = p;
  pair[1] = zoo_tensor (graph, "offset", GRAFT_VALUE_CONSTANT, graft_shape_make (3, offset_dims), 3);
  p = zoo_node (graph, "shifted", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  p = zoo_node (graph, "magnitude", (graft_node_attributes) { .op = GRAFT_OP_ABS }, &p, 1);
  a = (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { .perm = { 0, 2, 3, 1 } } };
  t = zoo_node (graph, "to_nhwc", a, &p, 1);
  a = (graft_node_attributes) { .op = GRAFT_OP_RESHAPE, .reshape = { .rank = 2, .dims = { 0, -1 } } };
  r = zoo_node (graph, "rows", a, &t, 1);
  a = (graft_node_attributes) { .op = GRAFT_OP_RESHAPE, .reshape = { .rank = -1 } };
  r = zoo_node (graph, "same", a, &r, 1);
  a = (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } };
  r = zoo_node (graph, "flat", a, &r, 1);
  {
    graft_shape rows = graft_graph_value (graph, r)->shape;
    /* transA: A is given transposed by a Transpose, so Gemm reads (K,M). */
    a = (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { .perm = { 1, 0 } } };
    t = zoo_node (graph, "columns", a, &r, 1);
    in3[0] = t;
    in3[1] = zoo_tensor (graph, "head.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (rows.dims[1], 5), 4);
    in3[2] = zoo_tensor (graph, "head.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 5 }), 5);
    a = (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { true, false, 0.5f, 2.0f } };
    g = zoo_node (graph, "head", a, in3, 3);
  }
  s = zoo_node (graph, "softmax", (graft_node_attributes) { .op = GRAFT_OP_SOFTMAX }, &g, 1);
  s = zoo_node (graph, "out", (graft_node_attributes) { .op = GRAFT_OP_DROPOUT, .dropout = { 0.5f } }, &s, 1);
  model = model_wrap (graph, x, s, g, "zoo");
  set_metadata (model, GRAFT_METADATA_VERSION, "9.9.9");
  return model;
}

/* A ShuffleNet V2 unit as the importer makes it from a torch export: a 1x1 conv, the
 * channels split in two by Slice nodes (ONNX Split), one half through a depthwise and
 * a 1x1 conv, the halves joined and shuffled (Reshape, Transpose, Reshape), then a
 * spatial mean and a Gemm. The second half is taken with a negative axis. */
static GraftModel *
shuffle_model_new (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape input_shape = graft_shape_4d (1, 3, 6, 6);
  graft_node_attributes a;
  int x, c, left, right, y, pair[2], in3[3];

  x = graft_graph_add_input (graph, "input", &input_shape, NULL);
  a = (graft_node_attributes) { .op = GRAFT_OP_CONV };
  a.conv.kh = a.conv.kw = 1;
  a.conv.stride_h = a.conv.stride_w = a.conv.dilation_h = a.conv.dilation_w = a.conv.groups = 1;
  in3[0] = x;
  in3[1] = zoo_tensor (graph, "stem.weight", GRAFT_VALUE_PARAMETER, graft_shape_4d (8, 3, 1, 1), 11);
  in3[2] = zoo_tensor (graph, "stem.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 8 }), 12);
  c = zoo_node (graph, "stem", a, in3, 3);
  left = zoo_node (graph, "split/0", (graft_node_attributes) { .op = GRAFT_OP_SLICE, .slice = { 1, 0, 4 } }, &c, 1);
  right = zoo_node (graph, "split/1", (graft_node_attributes) { .op = GRAFT_OP_SLICE, .slice = { -3, 4, 8 } }, &c, 1);
  a.conv.kh = a.conv.kw = 3;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = 1;
  a.conv.groups = 4;
  in3[0] = right;
  in3[1] = zoo_tensor (graph, "branch.depthwise.weight", GRAFT_VALUE_PARAMETER, graft_shape_4d (4, 1, 3, 3), 13);
  y = zoo_node (graph, "branch.depthwise", a, in3, 2);
  a.conv.kh = a.conv.kw = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = 0;
  a.conv.groups = 1;
  in3[0] = y;
  in3[1] = zoo_tensor (graph, "branch.pointwise.weight", GRAFT_VALUE_PARAMETER, graft_shape_4d (4, 4, 1, 1), 14);
  y = zoo_node (graph, "branch.pointwise", a, in3, 2);
  y = zoo_node (graph, "branch.relu", (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                                .activation = { GRAFT_ACTIVATION_RELU } }, &y, 1);
  pair[0] = left, pair[1] = y;
  y = zoo_node (graph, "join", (graft_node_attributes) { .op = GRAFT_OP_CONCAT, .concat = { 1 } }, pair, 2);
  y = zoo_node (graph, "groups", (graft_node_attributes) { .op = GRAFT_OP_RESHAPE,
                                                           .reshape = { 5, { 0, 2, 4, 6, 6 } } }, &y, 1);
  y = zoo_node (graph, "shuffle", (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE,
                                                            .transpose = { { 0, 2, 1, 3, 4 } } }, &y, 1);
  y = zoo_node (graph, "channels", (graft_node_attributes) { .op = GRAFT_OP_RESHAPE,
                                                             .reshape = { 4, { 0, -1, 6, 6 } } }, &y, 1);
  y = zoo_node (graph, "pool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL }, &y, 1);
  in3[0] = y;
  in3[1] = zoo_tensor (graph, "fc.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (5, 8), 15);
  in3[2] = zoo_tensor (graph, "fc.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 5 }), 16);
  y = zoo_node (graph, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } }, in3, 3);
  return model_wrap (graph, x, y, y, "shuffle");
}

/* Resize in every form the importer takes (nearest with each rounding, linear with each
 * coordinate transformation; up and down; scales that sizes give, 11/7 and 7/5) and
 * GELU's tanh form, which ONNX writes as nine ops. */
static GraftModel *
resize_model_new (void)
{
  static const struct {
    graft_resize_mode mode;
    graft_resize_coordinates coordinates;
    graft_resize_rounding rounding;
    int64_t out_h, out_w;
    double scale_h, scale_w;
  } resizes[] = {
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_HALF_PIXEL, GRAFT_RESIZE_ROUND_PREFER_CEIL, 11, 7, 11.0f / 7, 7.0f / 5 },
    { GRAFT_RESIZE_LINEAR, GRAFT_RESIZE_PYTORCH_HALF_PIXEL, 0, 5, 3, 0.5, 0.5 },
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_ASYMMETRIC, GRAFT_RESIZE_CEIL, 10, 6, 2, 2 },
    { GRAFT_RESIZE_LINEAR, GRAFT_RESIZE_ALIGN_CORNERS, 0, 15, 9, 1.5, 1.5 },
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_PYTORCH_HALF_PIXEL, GRAFT_RESIZE_ROUND_PREFER_FLOOR, 5, 3, 1.0f / 3, 1.0f / 3 },
    { GRAFT_RESIZE_LINEAR, GRAFT_RESIZE_HALF_PIXEL, 0, 7, 10, 1.4f, 10.0f / 3 },
    { GRAFT_RESIZE_NEAREST, GRAFT_RESIZE_ALIGN_CORNERS, GRAFT_RESIZE_FLOOR, 3, 3, 3.0f / 7, 0.3f },
  };
  graft_graph *graph = graft_graph_new ();
  graft_shape input_shape = graft_shape_4d (1, 3, 7, 5);
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  int x, y, in3[3];

  x = graft_graph_add_input (graph, "pixels", &input_shape, NULL);
  a.conv.kh = a.conv.kw = 3;
  a.conv.stride_h = a.conv.stride_w = a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = 1;
  a.conv.groups = 1;
  in3[0] = x;
  in3[1] = zoo_tensor (graph, "conv.weight", GRAFT_VALUE_PARAMETER, graft_shape_4d (4, 3, 3, 3), 31);
  y = zoo_node (graph, "conv", a, in3, 2);
  for (size_t k = 0; k < G_N_ELEMENTS (resizes); k++)
    {
      g_autofree char *name = g_strdup_printf ("resize%zu", k);
      a = (graft_node_attributes) { .op = GRAFT_OP_RESIZE };
      a.resize.mode = resizes[k].mode;
      a.resize.coordinates = resizes[k].coordinates;
      a.resize.rounding = resizes[k].rounding;
      a.resize.out_h = resizes[k].out_h, a.resize.out_w = resizes[k].out_w;
      a.resize.scale_h = resizes[k].scale_h, a.resize.scale_w = resizes[k].scale_w;
      y = zoo_node (graph, name, a, &y, 1);
      if (k == 0)
        y = zoo_node (graph, "gelu", (graft_node_attributes) { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_TANH } },
                      &y, 1);
    }
  y = zoo_node (graph, "pool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL }, &y, 1);
  in3[0] = y;
  in3[1] = zoo_tensor (graph, "fc.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (3, 4), 32);
  in3[2] = zoo_tensor (graph, "fc.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 3 }), 33);
  y = zoo_node (graph, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } }, in3, 3);
  return model_wrap (graph, x, y, y, "resize");
}

static GraftModel *
mobilenet_model_new (void)
{
  mobilenet_v2 net;
  GraftModel *model;
  mobilenet_v2_build (&net, 1000, 224, 2024);
  randomise_tensors (net.graph, 99);
  model = model_wrap (net.graph, net.input, net.logits, net.logits, "mobilenet_v2");
  set_metadata (model, GRAFT_METADATA_LABELS, "[\"tench\", \"goldfish\"]");
  return model;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

static void
fill_input (float *data, size_t count, uint64_t seed)
{
  test_fill_uniform_float (data, count, seed, -1.0f, 1.0f);
}

static size_t
input_count (GraftModel *model, int batch)
{
  graft_shape shape = graft_graph_value (model->graph, model->input)->shape;
  size_t count;
  shape.dims[0] = batch;
  g_assert_cmpint (graft_shape_count (&shape, &count, NULL), ==, GRAFT_OK);
  return count;
}

/* Runs an inference plan of the model on input at batch; returns the output (g_free). */
static float *
run_model (GraftModel *model, int value, int batch, const float *input, graft_shape *shape_out, size_t *count_out)
{
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = batch, .keep = &value, .n_keep = 1 };
  graft_error error;
  graft_plan *plan = graft_plan_new (model->graph, &options, &error);
  graft_shape shape;
  const float *data;
  size_t count;
  float *copy;

  if (plan == NULL)
    g_error ("plan at batch %d: %s", batch, error.message);
  if (graft_plan_set_input (plan, model->input, input, input_count (model, batch), &error) != GRAFT_OK
      || graft_plan_forward (plan, &error) != GRAFT_OK)
    g_error ("forward at batch %d: %s", batch, error.message);
  data = graft_plan_value_data (plan, value, &shape);
  g_assert_nonnull (data);
  graft_shape_count (&shape, &count, NULL);
  copy = g_memdup2 (data, count * sizeof (float));
  graft_plan_free (plan);
  if (shape_out != NULL)
    *shape_out = shape;
  if (count_out != NULL)
    *count_out = count;
  return copy;
}

static GraftModel *
reimport (GBytes *bytes, const char *name)
{
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GraftModel *model = graft_model_load_from_data (data, size, NULL, name, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static GBytes *
export_bytes (GraftModel *model, const GraftExportOptions *options)
{
  g_autoptr (GError) error = NULL;
  GBytes *bytes = graft_model_save_to_bytes (model, options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  return bytes;
}

/* ------------------------------------------------------------------------ */
/* Comparing graphs                                                          */

/* Nodes that are the identity at inference: Dropout and a Reshape of rank -1. */
static gboolean
node_is_alias (const graft_node *node)
{
  return node->attributes.op == GRAFT_OP_DROPOUT
         || (node->attributes.op == GRAFT_OP_RESHAPE && node->attributes.reshape.rank < 0);
}

/* The value that value stands for once aliases are seen through. */
static int
resolve (const graft_graph *graph, int value)
{
  for (;;)
    {
      const graft_value *v = graft_graph_value (graph, value);
      const graft_node *producer;
      if (v->kind != GRAFT_VALUE_ACTIVATION)
        return value;
      producer = graft_graph_node (graph, v->producer);
      if (!node_is_alias (producer))
        return value;
      value = producer->inputs[0];
    }
}

static const char *
resolved_name (const graft_graph *graph, int value)
{
  return graft_graph_value (graph, resolve (graph, value))->name;
}

static void
assert_same_attributes (const char *name, const graft_node_attributes *want, const graft_node_attributes *got)
{
  g_assert_cmpint (got->op, ==, want->op);
  switch (want->op)
    {
    case GRAFT_OP_CONV:
      g_assert_cmpmem (&got->conv, sizeof got->conv, &want->conv, sizeof want->conv);
      break;
    case GRAFT_OP_BATCHNORM:
      g_assert_cmpfloat (got->batchnorm.epsilon, ==, want->batchnorm.epsilon);
      break;
    case GRAFT_OP_ACTIVATION:
      g_assert_cmpint (got->activation.kind, ==, want->activation.kind);
      if (want->activation.kind != GRAFT_ACTIVATION_RELU && want->activation.kind != GRAFT_ACTIVATION_SIGMOID
          && want->activation.kind != GRAFT_ACTIVATION_HARD_SWISH)
        {
          g_assert_cmpfloat (got->activation.alpha, ==, want->activation.alpha);
          if (want->activation.kind != GRAFT_ACTIVATION_LEAKY_RELU)
            g_assert_cmpfloat (got->activation.beta, ==, want->activation.beta);
        }
      break;
    case GRAFT_OP_CONCAT:
      g_assert_cmpint (got->concat.axis, ==, want->concat.axis);
      break;
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      g_assert_cmpint (got->pool.kh, ==, want->pool.kh);
      g_assert_cmpint (got->pool.kw, ==, want->pool.kw);
      g_assert_cmpint (got->pool.stride_h, ==, want->pool.stride_h);
      g_assert_cmpint (got->pool.stride_w, ==, want->pool.stride_w);
      g_assert_cmpint (got->pool.pad_top, ==, want->pool.pad_top);
      g_assert_cmpint (got->pool.pad_left, ==, want->pool.pad_left);
      g_assert_cmpint (got->pool.pad_bottom, ==, want->pool.pad_bottom);
      g_assert_cmpint (got->pool.pad_right, ==, want->pool.pad_right);
      g_assert_cmpint (got->pool.ceil_mode, ==, want->pool.ceil_mode);
      if (want->op == GRAFT_OP_AVGPOOL)
        g_assert_cmpint (got->pool.count_include_pad, ==, want->pool.count_include_pad);
      break;
    case GRAFT_OP_MEAN_SPATIAL:
      g_assert_cmpint (got->mean_spatial.keep_dims, ==, want->mean_spatial.keep_dims);
      break;
    case GRAFT_OP_RESHAPE:
      g_assert_cmpint (got->reshape.rank, ==, want->reshape.rank);
      for (int d = 0; d < want->reshape.rank; d++)
        g_assert_cmpint (got->reshape.dims[d], ==, want->reshape.dims[d]);
      break;
    case GRAFT_OP_FLATTEN:
      g_assert_cmpint (got->flatten.axis, ==, want->flatten.axis);
      break;
    case GRAFT_OP_TRANSPOSE:
      g_assert_cmpmem (got->transpose.perm, sizeof got->transpose.perm, want->transpose.perm,
                       sizeof want->transpose.perm);
      break;
    case GRAFT_OP_SLICE:
      /* The axis comes back counted from the front. */
      g_assert_cmpint (got->slice.axis, >=, 0);
      g_assert_cmpint (got->slice.axis, ==, want->slice.axis < 0 ? want->slice.axis + 4 : want->slice.axis);
      g_assert_cmpint (got->slice.start, ==, want->slice.start);
      g_assert_cmpint (got->slice.end, ==, want->slice.end);
      break;
    case GRAFT_OP_GEMM:
      g_assert_cmpint (got->gemm.trans_a, ==, want->gemm.trans_a);
      g_assert_cmpint (got->gemm.trans_b, ==, want->gemm.trans_b);
      g_assert_cmpfloat (got->gemm.alpha, ==, want->gemm.alpha);
      g_assert_cmpfloat (got->gemm.beta, ==, want->gemm.beta);
      break;
    case GRAFT_OP_GELU:
      g_assert_cmpint (got->gelu.kind, ==, want->gelu.kind);
      break;
    case GRAFT_OP_RESIZE:
      g_assert_cmpint (got->resize.mode, ==, want->resize.mode);
      g_assert_cmpint (got->resize.coordinates, ==, want->resize.coordinates);
      if (want->resize.mode == GRAFT_RESIZE_NEAREST)
        g_assert_cmpint (got->resize.rounding, ==, want->resize.rounding);
      g_assert_cmpint (got->resize.out_h, ==, want->resize.out_h);
      g_assert_cmpint (got->resize.out_w, ==, want->resize.out_w);
      g_assert_cmpfloat ((float) got->resize.scale_h, ==, (float) want->resize.scale_h);
      g_assert_cmpfloat ((float) got->resize.scale_w, ==, (float) want->resize.scale_w);
      break;
    default:
      break;
    }
  (void) name;
}

/* The re-imported graph has the same ops on the same values, under the same names,
 * and the same tensors with the same bytes. Dropout and identity Reshapes may vanish
 * (they are the identity), and a spatial mean that drops H,W may come back as
 * GlobalAveragePool + Flatten. */
static void
assert_same_structure (GraftModel *want_model, GraftModel *got_model)
{
  graft_graph *want = want_model->graph, *got = got_model->graph;
  int expected_nodes = 0, got_nodes = 0;

  for (int v = 0; v < graft_graph_value_count (want); v++)
    {
      const graft_value *w = graft_graph_value (want, v);
      int index = graft_graph_find_value (got, w->name);
      const graft_value *g;
      size_t count;

      if (w->kind == GRAFT_VALUE_ACTIVATION && node_is_alias (graft_graph_node (want, w->producer)))
        continue;
      if (index < 0)
        g_error ("value '%s' is missing after the round trip", w->name);
      g = graft_graph_value (got, index);
      if (w->kind == GRAFT_VALUE_CONSTANT)
        g_assert_true (g->kind == GRAFT_VALUE_CONSTANT || g->kind == GRAFT_VALUE_PARAMETER);
      else
        g_assert_cmpint (g->kind, ==, w->kind);
      if (w->kind == GRAFT_VALUE_ACTIVATION)
        continue;
      g_assert_true (graft_shape_equal (&g->shape, &w->shape));
      if (w->kind == GRAFT_VALUE_INPUT)
        continue;
      graft_shape_count (&w->shape, &count, NULL);
      if (memcmp (graft_graph_tensor_data (got, index), graft_graph_tensor_data (want, v), count * sizeof (float)) != 0)
        g_error ("the data of '%s' changed in the round trip", w->name);
    }

  for (int i = 0; i < graft_graph_node_count (want); i++)
    {
      const graft_node *w = graft_graph_node (want, i);
      const char *output = graft_graph_value (want, w->output)->name;
      const graft_node *g;
      int index;

      if (node_is_alias (w))
        continue;
      expected_nodes++;
      index = graft_graph_find_value (got, output);
      g_assert_cmpint (index, >=, 0);
      g_assert_cmpint (graft_graph_value (got, index)->kind, ==, GRAFT_VALUE_ACTIVATION);
      g = graft_graph_node (got, graft_graph_value (got, index)->producer);
      if (w->attributes.op == GRAFT_OP_MEAN_SPATIAL && !w->attributes.mean_spatial.keep_dims
          && g->attributes.op == GRAFT_OP_FLATTEN)
        {
          /* GlobalAveragePool + Flatten(axis 1) */
          const graft_value *pooled = graft_graph_value (got, resolve (got, g->inputs[0]));
          g_assert_cmpint (g->attributes.flatten.axis, ==, 1);
          g_assert_cmpint (pooled->kind, ==, GRAFT_VALUE_ACTIVATION);
          g = graft_graph_node (got, pooled->producer);
          g_assert_cmpint (g->attributes.op, ==, GRAFT_OP_MEAN_SPATIAL);
          g_assert_true (g->attributes.mean_spatial.keep_dims);
          expected_nodes++;
        }
      else
        assert_same_attributes (w->name, &w->attributes, &g->attributes);
      g_assert_cmpint (g->n_inputs, ==, w->n_inputs);
      for (int k = 0; k < w->n_inputs; k++)
        g_assert_cmpstr (resolved_name (got, g->inputs[k]), ==, resolved_name (want, w->inputs[k]));
    }
  for (int i = 0; i < graft_graph_node_count (got); i++)
    got_nodes += !node_is_alias (graft_graph_node (got, i));
  g_assert_cmpint (got_nodes, ==, expected_nodes);

  g_assert_cmpstr (graft_graph_value (got, got_model->input)->name,
                   ==, graft_graph_value (want, want_model->input)->name);
  g_assert_cmpstr (resolved_name (got, got_model->output), ==, resolved_name (want, want_model->output));
  /* The importer finds the logits before a trailing Softmax, but not through an Identity
   * after it (the op zoo's output is a Dropout after its Softmax): then logits == output. */
  if (g_strcmp0 (resolved_name (got, got_model->logits), resolved_name (want, want_model->logits)) != 0)
    {
      g_test_message ("the importer took '%s' for the logits, not '%s'", resolved_name (got, got_model->logits),
                      resolved_name (want, want_model->logits));
      g_assert_cmpint (resolve (got, got_model->logits), ==, resolve (got, got_model->output));
      g_assert_cmpint (resolve (want, want_model->output), !=, want_model->output);
    }
}

static void
assert_same_metadata (GraftModel *want, GraftModel *got)
{
  GHashTableIter iter;
  gpointer key, value;
  g_assert_nonnull (got->metadata);
  g_hash_table_iter_init (&iter, want->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert_cmpstr (g_hash_table_lookup (got->metadata, key), ==, value);
  /* Graft's version is added unless the model had one. */
  g_assert_cmpuint (g_hash_table_size (got->metadata), ==,
                    g_hash_table_size (want->metadata)
                      + !g_hash_table_contains (want->metadata, GRAFT_METADATA_VERSION));
  if (!g_hash_table_contains (want->metadata, GRAFT_METADATA_VERSION))
    g_assert_cmpstr (g_hash_table_lookup (got->metadata, GRAFT_METADATA_VERSION), ==, GRAFT_VERSION);
}

/* Export, import, and check everything survived; outputs bit-identical at batch 1
 * and 5 (the batch is dynamic). */
static void
check_round_trip (GraftModel *model, int opset)
{
  g_autoptr (GBytes) bytes = export_bytes (model, NULL);
  g_autoptr (GraftModel) back = reimport (bytes, "round-trip.onnx");
  int batches[2] = { 5, 1 };

  assert_same_structure (model, back);
  assert_same_metadata (model, back);
  g_assert_cmpint (back->ir_version, ==, 7);
  g_assert_cmpint (back->opset, ==, opset);
  g_assert_cmpstr (back->producer_name, ==, "Graft");
  g_assert_cmpstr (back->producer_version, ==, GRAFT_VERSION);
  g_assert_cmpstr (back->graph_name, ==, model->graph_name);

  for (int b = 0; b < 2; b++)
    {
      size_t count = input_count (model, batches[b]), want_count, got_count;
      g_autofree float *input = test_floats (count);
      g_autofree float *want = NULL, *got = NULL;
      graft_shape want_shape, got_shape;
      fill_input (input, count, 77 + (uint64_t) b);
      want = run_model (model, model->output, batches[b], input, &want_shape, &want_count);
      got = run_model (back, back->output, batches[b], input, &got_shape, &got_count);
      g_assert_true (graft_shape_equal (&got_shape, &want_shape));
      g_assert_cmpint (got_shape.dims[0], ==, batches[b]);
      g_assert_cmpmem (got, got_count * sizeof (float), want, want_count * sizeof (float));
    }

  /* Exporting what came back gives the same file again, except that the importer
   * drops Identity nodes (an identity Reshape) that are not the output; from there on
   * it is a fixed point. */
  {
    g_autoptr (GBytes) again = export_bytes (back, NULL);
    g_autoptr (GraftModel) back_again = reimport (again, "round-trip-2.onnx");
    g_autoptr (GBytes) third = export_bytes (back_again, NULL);
    gboolean inner_identity = FALSE;
    for (int i = 0; i < graft_graph_node_count (model->graph); i++)
      {
        const graft_node *node = graft_graph_node (model->graph, i);
        inner_identity |= node->attributes.op == GRAFT_OP_RESHAPE && node->attributes.reshape.rank < 0
                          && node->output != model->output;
      }
    if (!inner_identity)
      g_assert_true (g_bytes_equal (again, bytes));
    g_assert_true (g_bytes_equal (third, again));
  }
}

static void
test_round_trip_toy (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  check_round_trip (model, 13);
}

static void
test_round_trip_shuffle (void)
{
  g_autoptr (GraftModel) model = shuffle_model_new ();
  check_round_trip (model, 13);
}

static void
test_round_trip_zoo (void)
{
  g_autoptr (GraftModel) model = zoo_model_new ();
  check_round_trip (model, 14);
}

static void
test_round_trip_resize (void)
{
  g_autoptr (GraftModel) model = resize_model_new ();
  check_round_trip (model, 13);
}

/* What training changed is what gets written: a few steps of SGD, then the exported
 * initializers hold the graph's new data, and the output follows. */
static void
test_exports_trained_values (void)
{
  g_autoptr (GraftModel) model = toy_model_new (11);
  g_autoptr (GBytes) before = export_bytes (model, NULL);
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GraftModel) back = NULL;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 8, .loss_logits = model->logits };
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  graft_optimizer_state *state;
  graft_error error;
  graft_plan *plan;
  size_t count = input_count (model, 8);
  g_autofree float *images = test_floats (count);
  int32_t labels[8];
  int fc_weight = graft_graph_find_value (model->graph, "fc.weight");

  config.learning_rate = 0.1f;
  plan = graft_plan_new (model->graph, &options, &error);
  g_assert_nonnull (plan);
  state = graft_optimizer_state_new (&config, &error);
  g_assert_nonnull (state);
  for (int step = 0; step < 3; step++)
    {
      float loss;
      toy_batch (8, (uint64_t) step, images, labels);
      g_assert_cmpint (graft_plan_set_input (plan, model->input, images, count, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_optimizer_state_step (state, plan, config.learning_rate, NULL, &error), ==, GRAFT_OK);
    }
  graft_plan_free (plan);
  graft_optimizer_state_free (state);

  after = export_bytes (model, NULL);
  g_assert_false (g_bytes_equal (before, after));
  back = reimport (after, "trained.onnx");
  assert_same_structure (model, back);
  {
    int index = graft_graph_find_value (back->graph, "fc.weight");
    g_assert_cmpmem (graft_graph_tensor_data (back->graph, index), 3 * 16 * sizeof (float),
                     graft_graph_tensor_data (model->graph, fc_weight), 3 * 16 * sizeof (float));
  }
}

/* The probabilities option: a Softmax named "probabilities" after the logits. */
static void
test_softmax_output (void)
{
  g_autoptr (GraftModel) model = toy_model_new (17);
  GraftExportOptions options = { .softmax_output = TRUE, .producer_version = "test-1" };
  g_autoptr (GBytes) bytes = export_bytes (model, &options);
  g_autoptr (GraftModel) back = reimport (bytes, "probabilities.onnx");
  size_t count = input_count (model, 6), n;
  g_autofree float *input = test_floats (count);
  g_autofree float *probabilities = NULL, *logits = NULL;
  graft_shape shape;

  g_assert_cmpstr (graft_graph_value (back->graph, back->output)->name, ==, "probabilities");
  g_assert_cmpstr (back->output_name, ==, "probabilities");
  g_assert_cmpstr (resolved_name (back->graph, back->logits), ==, "fc");
  g_assert_cmpstr (back->producer_version, ==, "test-1");
  fill_input (input, count, 3);
  probabilities = run_model (back, back->output, 6, input, &shape, &n);
  logits = run_model (model, model->logits, 6, input, NULL, NULL);
  g_assert_cmpint (shape.rank, ==, 2);
  g_assert_cmpint (shape.dims[0], ==, 6);
  g_assert_cmpint (shape.dims[1], ==, TOY_CLASSES);
  for (int i = 0; i < 6; i++)
    {
      double sum = 0;
      int best = 0, best_p = 0;
      for (int k = 0; k < TOY_CLASSES; k++)
        {
          float p = probabilities[i * TOY_CLASSES + k];
          g_assert_cmpfloat (p, >, 0.0f);
          g_assert_cmpfloat (p, <, 1.0f);
          sum += p;
          if (logits[i * TOY_CLASSES + k] > logits[i * TOY_CLASSES + best])
            best = k;
          if (p > probabilities[i * TOY_CLASSES + best_p])
            best_p = k;
        }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
      g_assert_cmpint (best_p, ==, best);
    }
}

/* ------------------------------------------------------------------------ */
/* onnx.checker and ONNX Runtime                                             */

static char *
test_temp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("graft-export-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
save_or_die (GraftModel *model, const char *path, const GraftExportOptions *options)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (graft_model_save (model, path, options, &error));
  g_assert_no_error (error);
}

/* Runs tests/check-onnx.py on path; NULL (and the test skipped) without Python's onnx. */
static JsonObject *
run_checker (const char *path)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "check-onnx.py", NULL);
  const char *argv[] = { "/usr/bin/python3", script, path, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  int status;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is missing");
      return NULL;
    }
  if (!g_file_test (script, G_FILE_TEST_EXISTS))
    g_error ("%s is missing (is G_TEST_SRCDIR set? meson test sets it)", script);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    {
      g_test_skip ("Python's onnx module is missing");
      return NULL;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("onnx.checker rejects %s: %s", path, err);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
assert_json_shape (JsonObject *io, const char *name, const char *first, gint64 rest0)
{
  JsonArray *shape = json_object_get_array_member (io, "shape");
  g_assert_cmpstr (json_object_get_string_member (io, "name"), ==, name);
  g_assert_cmpstr (json_array_get_string_element (shape, 0), ==, first);
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, rest0);
}

static void
assert_checker_metadata (JsonObject *report, GraftModel *model)
{
  JsonObject *props = json_object_get_object_member (report, "metadata_props");
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, model->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_assert_true (json_object_has_member (props, key));
      g_assert_cmpstr (json_object_get_string_member (props, key), ==, value);
    }
  if (!g_hash_table_contains (model->metadata, GRAFT_METADATA_VERSION))
    g_assert_cmpstr (json_object_get_string_member (props, GRAFT_METADATA_VERSION), ==, GRAFT_VERSION);
}

static void
test_checker_toy (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "toy.onnx", NULL);
  g_autoptr (JsonObject) report = NULL;
  JsonObject *ops;

  save_or_die (model, path, NULL);
  report = run_checker (path);
  if (report != NULL)
    {
      g_assert_cmpint (json_object_get_int_member (report, "ir_version"), ==, 7);
      g_assert_cmpint (json_object_get_int_member (report, "opset"), ==, 13);
      g_assert_cmpstr (json_object_get_string_member (report, "producer_name"), ==, "Graft");
      g_assert_cmpstr (json_object_get_string_member (report, "graph_name"), ==, "toy");
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "inputs"), 0),
                         "image", "N", TOY_CHANNELS);
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "outputs"), 0),
                         "fc", "N", TOY_CLASSES);
      ops = json_object_get_object_member (report, "op_counts");
      g_assert_cmpint (json_object_get_int_member (ops, "Conv"), ==, 5);
      g_assert_cmpint (json_object_get_int_member (ops, "BatchNormalization"), ==, 2);
      g_assert_cmpint (json_object_get_int_member (ops, "Clip"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (ops, "GlobalAveragePool"), ==, 2);
      g_assert_cmpint (json_object_get_int_member (ops, "Flatten"), ==, 1);
      g_assert_false (json_object_has_member (ops, "Dropout"));
      /* 18 tensors of the graph, plus the Clip bounds */
      g_assert_cmpint (json_object_get_int_member (report, "initializers"), ==,
                       (gint64) graft_graph_value_count (model->graph) - graft_graph_node_count (model->graph) - 1 + 2);
      assert_checker_metadata (report, model);
    }
  test_remove_tree (dir);
}

static void
test_checker_zoo (void)
{
  g_autoptr (GraftModel) model = zoo_model_new ();
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "zoo.onnx", NULL);
  GraftExportOptions options = { .softmax_output = TRUE };
  g_autoptr (JsonObject) report = NULL;

  save_or_die (model, path, NULL);
  report = run_checker (path);
  if (report != NULL)
    {
      JsonObject *ops = json_object_get_object_member (report, "op_counts");
      g_assert_cmpint (json_object_get_int_member (report, "opset"), ==, 14);
      g_assert_cmpint (json_object_get_int_member (ops, "HardSwish"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (ops, "Identity"), ==, 2); /* rank -1 Reshape, output Dropout */
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (report, "metadata_props"),
                                                      GRAFT_METADATA_VERSION), ==, "9.9.9");
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "outputs"), 0),
                         "out", "N", 5);
      json_object_unref (g_steal_pointer (&report));
      save_or_die (model, path, &options);
      report = run_checker (path);
      g_assert_nonnull (report);
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "outputs"), 0),
                         "probabilities", "N", 5);
    }
  test_remove_tree (dir);
}

/* The Slice nodes are ONNX Slice with starts, ends and axes as int64 initializers. */
static void
test_checker_shuffle (void)
{
  g_autoptr (GraftModel) model = shuffle_model_new ();
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "shuffle.onnx", NULL);
  g_autoptr (JsonObject) report = NULL;

  save_or_die (model, path, NULL);
  report = run_checker (path);
  if (report != NULL)
    {
      JsonObject *ops = json_object_get_object_member (report, "op_counts");
      g_assert_cmpint (json_object_get_int_member (report, "opset"), ==, 13);
      g_assert_cmpint (json_object_get_int_member (ops, "Slice"), ==, 2);
      g_assert_cmpint (json_object_get_int_member (ops, "Transpose"), ==, 1);
      /* 6 tensors of the graph, the two Reshape shapes, three per Slice */
      g_assert_cmpint (json_object_get_int_member (report, "initializers"), ==, 6 + 2 + 2 * 3);
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "outputs"), 0),
                         "fc", "N", 5);
    }
  test_remove_tree (dir);
}

/* Runs the model file in ONNX Runtime (node tests/ort/run.js) on input at batch;
 * NULL (and the test skipped) when onnxruntime-node is not installed. */
static float *
run_ort (const char *dir, const char *model_path, GraftModel *model, int batch, const float *input,
         graft_shape *shape)
{
  g_autofree char *ort = g_test_build_filename (G_TEST_DIST, "ort", "node_modules", "onnxruntime-node", NULL);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "ort", "run.js", NULL);
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *in_path = g_build_filename (dir, "in.npy", NULL);
  g_autofree char *out_path = g_build_filename (dir, "out.npy", NULL);
  graft_shape in_shape = graft_graph_value (model->graph, model->input)->shape;
  const char *argv[] = { node, script, model_path, in_path, out_path, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status;

  if (!g_file_test (ort, G_FILE_TEST_IS_DIR) || !g_file_test (script, G_FILE_TEST_EXISTS) || node == NULL)
    {
      g_test_skip ("ONNX Runtime is not installed (tests/ort/node_modules/onnxruntime-node)");
      return NULL;
    }
  float *output = NULL;

  in_shape.dims[0] = batch;
  g_assert_true (graft_npy_write (in_path, &in_shape, input, &error));
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("ONNX Runtime fails on %s: %s%s", model_path, out, err);
  g_test_message ("ONNX Runtime: %s", g_strchomp (out));
  g_assert_true (graft_npy_read (out_path, shape, &output, &error));
  g_assert_no_error (error);
  return output;
}

static void
check_against_ort (GraftModel *model, const GraftExportOptions *options, int batch, int value)
{
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  size_t count = input_count (model, batch), want_count;
  g_autofree float *input = test_floats (count);
  g_autofree float *want = NULL, *got = NULL;
  graft_shape want_shape, got_shape;
  double worst = 0;

  save_or_die (model, path, options);
  fill_input (input, count, 1234);
  got = run_ort (dir, path, model, batch, input, &got_shape);
  if (got != NULL)
    {
      want = run_model (model, value, batch, input, &want_shape, &want_count);
      g_assert_true (graft_shape_equal (&got_shape, &want_shape));
      for (size_t i = 0; i < want_count; i++)
        {
          double difference = fabs ((double) got[i] - want[i]);
          worst = MAX (worst, difference);
          if (difference > 1e-4)
            g_error ("ONNX Runtime gives %g at %zu where Graft gives %g", got[i], i, want[i]);
        }
      g_test_message ("ONNX Runtime vs Graft at batch %d: max |difference| %.3g", batch, worst);
    }
  test_remove_tree (dir);
}

static void
test_ort_toy (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  check_against_ort (model, NULL, 5, model->output);
}

static void
test_ort_shuffle (void)
{
  g_autoptr (GraftModel) model = shuffle_model_new ();
  check_against_ort (model, NULL, 4, model->output);
}

static void
test_ort_zoo (void)
{
  g_autoptr (GraftModel) model = zoo_model_new ();
  GraftExportOptions options = { .softmax_output = TRUE };
  check_against_ort (model, NULL, 3, model->output);
  /* The probabilities option: the Softmax of the logits, which here is the model's output too. */
  check_against_ort (model, &options, 2, model->output);
}

static void
test_ort_resize (void)
{
  g_autoptr (GraftModel) model = resize_model_new ();
  check_against_ort (model, NULL, 3, model->output);
}

/* ------------------------------------------------------------------------ */
/* Failures leave nothing behind                                             */

static char *
read_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static guint
count_entries (const char *dir)
{
  GDir *handle = g_dir_open (dir, 0, NULL);
  guint n = 0;
  g_assert_nonnull (handle);
  while (g_dir_read_name (handle) != NULL)
    n++;
  g_dir_close (handle);
  return n;
}

static void
assert_save_fails (GraftModel *model, const char *path, GraftModelError code)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *display = g_filename_display_name (path);
  g_assert_false (graft_model_save (model, path, NULL, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, (int) code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, display));
}

/* A path whose folder is a regular file (this fails even for root). */
static void
test_save_parent_is_file (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *file = g_build_filename (dir, "not-a-folder", NULL);
  g_autofree char *path = g_build_filename (file, "model.onnx", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  assert_save_fails (model, path, GRAFT_MODEL_ERROR_IO);
  test_remove_tree (dir);
}

/* A read-only folder with a model in it: saving over it fails and the old model stays. */
static void
test_save_read_only (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *contents = NULL;

  if (geteuid () == 0)
    {
      g_test_skip ("root ignores folder permissions (the full-disk test covers this as root)");
      test_remove_tree (dir);
      return;
    }
  g_assert_true (g_file_set_contents (path, "old model", -1, NULL));
  g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
  assert_save_fails (model, path, GRAFT_MODEL_ERROR_IO);
  g_chmod (dir, 0700);
  contents = read_file (path);
  g_assert_cmpstr (contents, ==, "old model");
  g_assert_cmpuint (count_entries (dir), ==, 1);
  test_remove_tree (dir);
}

/* A full disk (a file size limit, which binds root as well): the write fails with the
 * path in the message, the old model is untouched and no temporary file is left. */
static void
test_save_disk_full (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *contents = NULL;
  struct rlimit saved, small;
  void (*saved_handler) (int);

  g_assert_true (g_file_set_contents (path, "old model", -1, NULL));
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = 1024;
  saved_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  assert_save_fails (model, path, GRAFT_MODEL_ERROR_IO);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, saved_handler);

  contents = read_file (path);
  g_assert_cmpstr (contents, ==, "old model");
  g_assert_cmpuint (count_entries (dir), ==, 1);

  /* and with room again, it works */
  save_or_die (model, path, NULL);
  test_remove_tree (dir);
}

/* A model the exporter cannot write fails before touching the file. */
static void
test_save_invalid_model (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  int output = model->output;

  g_assert_true (g_file_set_contents (path, "old model", -1, NULL));
  model->output = graft_graph_value_count (model->graph) + 3;
  assert_save_fails (model, path, GRAFT_MODEL_ERROR_INVALID);
  g_assert_null (graft_model_save_to_bytes (model, NULL, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID);
  model->output = output;
  contents = read_file (path);
  g_assert_cmpstr (contents, ==, "old model");
  g_assert_cmpuint (count_entries (dir), ==, 1);
  test_remove_tree (dir);
}

/* The PID of a process that has ended (and been reaped). */
static pid_t
dead_pid (void)
{
  pid_t pid = fork ();
  int status;
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return pid;
}

static void
touch (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, "partial", -1, NULL));
}

static gboolean
exists_in (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Temporary files that killed saves left (our pattern, this host, a PID that is gone) are
 * removed by the next save into the folder; those of a running process, of another
 * host (a shared folder) and of other programs stay. */
static void
test_save_stale_temp (void)
{
  g_autoptr (GraftModel) model = toy_model_new (5);
  g_autoptr (GraftModel) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  const char *host = g_get_host_name ();
  pid_t dead = dead_pid ();
  g_autofree char *stale = g_strdup_printf ("model.onnx.graft-tmp.%s.%ld.a1B2c3", host, (long) dead);
  g_autofree char *stale_other = g_strdup_printf ("other.onnx.graft-tmp.%s.%ld.zzzzzz", host, (long) dead);
  g_autofree char *live = g_strdup_printf ("model.onnx.graft-tmp.%s.%ld.a1B2c3", host, (long) getppid ());
  g_autofree char *foreign = g_strdup_printf ("model.onnx.graft-tmp.%s.example.%ld.a1B2c3", host, (long) dead);
  const char *glib_style = "model.onnx.Q1W2E3";

  touch (dir, stale);
  touch (dir, stale_other);
  touch (dir, live);
  touch (dir, foreign);
  touch (dir, glib_style);
  save_or_die (model, path, NULL);
  g_assert_false (exists_in (dir, stale));
  g_assert_false (exists_in (dir, stale_other));
  g_assert_true (exists_in (dir, live));
  g_assert_true (exists_in (dir, foreign));
  g_assert_true (exists_in (dir, glib_style));
  g_assert_cmpuint (count_entries (dir), ==, 4);
  back = graft_model_load (path, &error);
  g_assert_no_error (error);
  test_remove_tree (dir);
}

/* kill -9 while saving, again and again: whatever moment the kill comes, the folder
 * holds the model or nothing, and temporary files at most until the next save (which
 * finds the folder holding only the model). Both ways of writing: under no name
 * (O_TMPFILE, graft_model_save) and the named temporary file it falls back to. Saving
 * once left model.onnx.XXXXXX files for good. */
static void
test_save_killed (void)
{
  g_autoptr (GraftModel) model = mobilenet_model_new ();
  g_autoptr (GBytes) bytes = export_bytes (model, NULL);
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);

  for (int named = 0; named < 2; named++)
    {
      guint left = 0;
      for (int round = 0; round < 12; round++)
        {
          pid_t pid = fork ();
          int status;
          g_assert_cmpint (pid, >=, 0);
          if (pid == 0)
            {
              for (;;)
                {
                  if (named)
                    graft_model_write_file (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), FALSE,
                                            NULL);
                  else
                    graft_model_save (model, path, NULL, NULL);
                }
            }
          g_usleep ((gulong) g_test_rand_int_range (5000, 60000));
          kill (pid, SIGKILL);
          g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
          g_assert_true (WIFSIGNALED (status));
          left += count_entries (dir) - (g_file_test (path, G_FILE_TEST_EXISTS) ? 1 : 0);
          if (g_file_test (path, G_FILE_TEST_EXISTS))
            {
              GStatBuf info;
              g_assert_cmpint (g_stat (path, &info), ==, 0);
              g_assert_cmpuint ((guint64) info.st_size, ==, g_bytes_get_size (bytes));
            }
        }
      g_test_message ("%s: temporary files seen after 12 kills: %u", named ? "named" : "O_TMPFILE", left);
      save_or_die (model, path, NULL);
      g_assert_cmpuint (count_entries (dir), ==, 1);
    }
  test_remove_tree (dir);
}

/* ------------------------------------------------------------------------ */
/* MobileNetV2: the real shape of work                                       */

static void
test_mobilenet_v2 (void)
{
  g_autoptr (GraftModel) model = mobilenet_model_new ();
  g_autofree char *dir = test_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "mobilenet_v2.onnx", NULL);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GraftModel) back = NULL;
  g_autoptr (JsonObject) report = NULL;
  gint64 start;
  double to_bytes_ms, to_file_ms;
  GStatBuf info;

  start = g_get_monotonic_time ();
  bytes = export_bytes (model, NULL);
  to_bytes_ms = (double) (g_get_monotonic_time () - start) / 1000;
  start = g_get_monotonic_time ();
  save_or_die (model, path, NULL);
  to_file_ms = (double) (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (g_stat (path, &info), ==, 0);
  g_assert_cmpuint ((guint64) info.st_size, ==, g_bytes_get_size (bytes));
  g_test_message ("MobileNetV2 (1000 classes): export to memory %.1f ms, to a file %.1f ms, %" G_GUINT64_FORMAT " bytes",
                  to_bytes_ms, to_file_ms, (guint64) info.st_size);
  /* 3.5 M parameters + BN statistics as float32, and little else */
  g_assert_cmpuint ((guint64) info.st_size, >, 4 * (guint64) graft_graph_parameter_count (model->graph, false));
  g_assert_cmpuint ((guint64) info.st_size, <, 4 * (guint64) graft_graph_parameter_count (model->graph, false) + 600000);

  back = reimport (bytes, "mobilenet_v2.onnx");
  assert_same_structure (model, back);
  assert_same_metadata (model, back);
  {
    size_t count = input_count (model, 2), n_want, n_got;
    g_autofree float *input = test_floats (count);
    g_autofree float *want = NULL, *got = NULL;
    fill_input (input, count, 8);
    want = run_model (model, model->output, 2, input, NULL, &n_want);
    got = run_model (back, back->output, 2, input, NULL, &n_got);
    g_assert_cmpmem (got, n_got * sizeof (float), want, n_want * sizeof (float));
  }

  report = run_checker (path);
  if (report != NULL)
    {
      JsonObject *ops = json_object_get_object_member (report, "op_counts");
      g_assert_cmpint (json_object_get_int_member (ops, "Conv"), ==, 52);
      g_assert_cmpint (json_object_get_int_member (ops, "BatchNormalization"), ==, 52);
      g_assert_cmpint (json_object_get_int_member (ops, "Clip"), ==, 35);
      g_assert_cmpint (json_object_get_int_member (ops, "Add"), ==, 10);
      g_assert_cmpint (json_object_get_int_member (ops, "GlobalAveragePool"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (ops, "Flatten"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (ops, "Gemm"), ==, 1);
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "inputs"), 0),
                         "input", "N", 3);
      assert_json_shape (json_array_get_object_element (json_object_get_array_member (report, "outputs"), 0),
                         "classifier.1", "N", 1000);
      assert_checker_metadata (report, model);
    }
  test_remove_tree (dir);
  check_against_ort (model, NULL, 2, model->output);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/export/round-trip/toy", test_round_trip_toy);
  g_test_add_func ("/model/export/round-trip/op-zoo", test_round_trip_zoo);
  g_test_add_func ("/model/export/round-trip/shuffle", test_round_trip_shuffle);
  g_test_add_func ("/model/export/round-trip/resize-gelu-tanh", test_round_trip_resize);
  g_test_add_func ("/model/export/trained-values", test_exports_trained_values);
  g_test_add_func ("/model/export/softmax-output", test_softmax_output);
  g_test_add_func ("/model/export/checker/toy", test_checker_toy);
  g_test_add_func ("/model/export/checker/op-zoo", test_checker_zoo);
  g_test_add_func ("/model/export/checker/shuffle", test_checker_shuffle);
  g_test_add_func ("/model/export/ort/toy", test_ort_toy);
  g_test_add_func ("/model/export/ort/op-zoo", test_ort_zoo);
  g_test_add_func ("/model/export/ort/shuffle", test_ort_shuffle);
  g_test_add_func ("/model/export/ort/resize-gelu-tanh", test_ort_resize);
  g_test_add_func ("/model/export/save/parent-is-file", test_save_parent_is_file);
  g_test_add_func ("/model/export/save/read-only", test_save_read_only);
  g_test_add_func ("/model/export/save/disk-full", test_save_disk_full);
  g_test_add_func ("/model/export/save/invalid-model", test_save_invalid_model);
  g_test_add_func ("/model/export/save/stale-temp", test_save_stale_temp);
  g_test_add_func ("/model/export/save/killed", test_save_killed);
  g_test_add_func ("/model/export/mobilenet-v2", test_mobilenet_v2);
  return g_test_run ();
}
