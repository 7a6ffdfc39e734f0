/* test-model-analysis: per-layer shapes, parameters and FLOPs, the blocks a person
 * freezes (by parameter name and by graph structure), and NumPy .npy files. */
#include "../bench/mobilenet-v2.c"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "model/model.h"
#include "model/model-private.h"
#include "model/npy.h"
#include "toy-network.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* A model around a graph built in C (the model takes the graph). */
static GraftModel *
model_wrap (graft_graph *graph, int input, int output)
{
  GraftModel *model = graft_model_new ();
  g_autoptr (GError) error = NULL;
  model->graph = graph;
  model->input = input;
  model->output = model->logits = output;
  model->input_name = g_strdup (graft_graph_value (graph, input)->name);
  model->output_name = g_strdup (graft_graph_value (graph, output)->name);
  g_assert_true (graft_model_analyse (model, &error));
  g_assert_no_error (error);
  return model;
}

static const GraftBlock *
block (const GraftModel *model, guint i)
{
  g_assert_cmpuint (i, <, model->blocks->len);
  return &g_array_index (model->blocks, GraftBlock, i);
}

static const GraftLayerInfo *
layer (const GraftModel *model, int i)
{
  g_assert_cmpint (i, <, (int) model->layers->len);
  return &g_array_index (model->layers, GraftLayerInfo, i);
}

/* Blocks cover every node once, in order, and their sums are the layers' sums. */
static void
check_blocks_cover (const GraftModel *model)
{
  int next = 0;
  guint64 parameters = 0;
  double flops = 0;
  g_assert_cmpuint (model->layers->len, ==, (guint) graft_graph_node_count (model->graph));
  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *blk = block (model, b);
      guint64 block_parameters = 0;
      double block_flops = 0;
      g_assert_cmpint (blk->first_node, ==, next);
      g_assert_cmpint (blk->last_node, >=, blk->first_node);
      for (int i = blk->first_node; i <= blk->last_node; i++)
        {
          block_parameters += layer (model, i)->parameters;
          block_flops += layer (model, i)->flops;
        }
      g_assert_cmpuint (blk->parameters, ==, block_parameters);
      g_assert_cmpfloat_with_epsilon (blk->flops, block_flops, 1e-6 * (block_flops + 1));
      parameters += blk->parameters;
      flops += blk->flops;
      next = blk->last_node + 1;
    }
  g_assert_cmpint (next, ==, graft_graph_node_count (model->graph));
  g_assert_cmpuint (parameters, ==, graft_graph_parameter_count (model->graph, false));
}

static void
check_block_names (const GraftModel *model, const char *const *names)
{
  guint n = g_strv_length ((char **) names);
  for (guint b = 0; b < model->blocks->len && b < n; b++)
    g_assert_cmpstr (block (model, b)->name, ==, names[b]);
  g_assert_cmpuint (model->blocks->len, ==, n);
}

static int
node_index (const GraftModel *model, const char *name)
{
  for (int i = 0; i < graft_graph_node_count (model->graph); i++)
    if (strcmp (graft_graph_node (model->graph, i)->name, name) == 0)
      return i;
  g_error ("no node %s", name);
  return -1;
}

/* A copy of graph with every parameter renamed by rename (NULL keeps the name); value
 * and node indices stay the same. */
static graft_graph *
copy_renamed (const graft_graph *source, char *(*rename) (const char *name, int index))
{
  graft_graph *graph = graft_graph_new ();
  graft_error error;
  for (int v = 0; v < graft_graph_value_count (source); v++)
    {
      const graft_value *value = graft_graph_value (source, v);
      int copy = -1;
      if (value->kind == GRAFT_VALUE_INPUT)
        copy = graft_graph_add_input (graph, value->name, &value->shape, &error);
      else if (value->kind == GRAFT_VALUE_ACTIVATION)
        {
          const graft_node *node = graft_graph_node (source, value->producer);
          copy = graft_graph_add_node (graph, node->name, &node->attributes, node->inputs, node->n_inputs,
                                       value->name, &error);
        }
      else
        {
          g_autofree char *name = value->kind == GRAFT_VALUE_PARAMETER ? rename (value->name, v) : NULL;
          copy = graft_graph_add_tensor (graph, name != NULL ? name : value->name, value->kind, &value->shape,
                                         value->data, &error);
        }
      if (copy != v)
        g_error ("copy: %s", error.message);
    }
  return graph;
}

/* ------------------------------------------------------------------------ */
/* A small ResNet, with torchvision's names or anonymous ones                 */

typedef struct {
  graft_graph *graph;
  gboolean anonymous;
  int counter;
  int input, logits;
} resnet_builder;

static int
resnet_tensor (resnet_builder *r, const char *name, graft_value_kind kind, graft_shape shape, float fill)
{
  g_autofree char *anonymous = NULL;
  g_autofree float *data = NULL;
  size_t count;
  int value;
  graft_shape_count (&shape, &count, NULL);
  data = g_new (float, count);
  for (size_t i = 0; i < count; i++)
    data[i] = fill != 0 ? fill : 0.01f * (float) ((i * 7919) % 17) - 0.08f;
  if (r->anonymous && kind == GRAFT_VALUE_PARAMETER)
    anonymous = g_strdup_printf ("onnx::Conv_%d", 100 + r->counter++);
  value = graft_graph_add_tensor (r->graph, anonymous != NULL ? anonymous : name, kind, &shape, data, NULL);
  g_assert_cmpint (value, >=, 0);
  return value;
}

static int
resnet_node (resnet_builder *r, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (r->graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    g_error ("resnet: %s", error.message);
  return value;
}

static int
resnet_conv (resnet_builder *r, const char *name, int x, int c, int m, int k, int stride)
{
  g_autofree char *weight = g_strdup_printf ("%s.weight", name);
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  int inputs[2];
  a.conv.kh = a.conv.kw = k;
  a.conv.stride_h = a.conv.stride_w = stride;
  a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = k / 2;
  a.conv.groups = 1;
  inputs[0] = x;
  inputs[1] = resnet_tensor (r, weight, GRAFT_VALUE_PARAMETER, graft_shape_4d (m, c, k, k), 0);
  return resnet_node (r, name, a, inputs, 2);
}

static int
resnet_bn (resnet_builder *r, const char *name, int x, int c)
{
  static const char *const suffixes[] = { "weight", "bias", "running_mean", "running_var" };
  int inputs[5] = { x };
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *tensor = g_strdup_printf ("%s.%s", name, suffixes[i]);
      inputs[i + 1] = resnet_tensor (r, tensor, i < 2 ? GRAFT_VALUE_PARAMETER : GRAFT_VALUE_BUFFER,
                                     graft_shape_make (1, (int64_t[]) { c }), i == 2 ? 0.0f : 1.0f);
    }
  return resnet_node (r, name, (graft_node_attributes) { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } },
                      inputs, 5);
}

static int
resnet_relu (resnet_builder *r, const char *name, int x)
{
  return resnet_node (r, name, (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                         .activation = { GRAFT_ACTIVATION_RELU } }, &x, 1);
}

/* torchvision's BasicBlock. */
static int
resnet_unit (resnet_builder *r, const char *prefix, int x, int c, int m, int stride)
{
  g_autofree char *conv1 = g_strdup_printf ("%s.conv1", prefix), *bn1 = g_strdup_printf ("%s.bn1", prefix);
  g_autofree char *relu1 = g_strdup_printf ("%s.relu1", prefix), *conv2 = g_strdup_printf ("%s.conv2", prefix);
  g_autofree char *bn2 = g_strdup_printf ("%s.bn2", prefix), *add = g_strdup_printf ("%s.add", prefix);
  g_autofree char *relu2 = g_strdup_printf ("%s.relu2", prefix);
  g_autofree char *down0 = g_strdup_printf ("%s.downsample.0", prefix);
  g_autofree char *down1 = g_strdup_printf ("%s.downsample.1", prefix);
  int y, skip = x, pair[2];
  /* The shortcut first, in the order PyTorch's exporter writes it (the starter model's
   * layer2.0: downsample.0, downsample.1, then conv1): a block that starts with
   * KEY.downsample is not a stage's downsampling step. */
  if (stride != 1 || c != m)
    {
      skip = resnet_conv (r, down0, x, c, m, 1, stride);
      skip = resnet_bn (r, down1, skip, m);
    }
  y = resnet_conv (r, conv1, x, c, m, 3, stride);
  y = resnet_bn (r, bn1, y, m);
  y = resnet_relu (r, relu1, y);
  y = resnet_conv (r, conv2, y, m, m, 3, 1);
  y = resnet_bn (r, bn2, y, m);
  pair[0] = y, pair[1] = skip;
  y = resnet_node (r, add, (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  return resnet_relu (r, relu2, y);
}

/* input_bn: a BatchNormalization straight on the input, as MXNet's pre-activation
 * ResNets have. */
static GraftModel *
resnet_build (gboolean anonymous, gboolean input_bn)
{
  resnet_builder r = { .graph = graft_graph_new (), .anonymous = anonymous };
  graft_shape input_shape = graft_shape_4d (1, 3, 32, 32);
  graft_node_attributes a;
  int x, inputs[3];

  r.input = graft_graph_add_input (r.graph, "input", &input_shape, NULL);
  x = input_bn ? resnet_bn (&r, "input_bn", r.input, 3) : r.input;
  x = resnet_conv (&r, "conv1", x, 3, 8, 3, 2);
  x = resnet_bn (&r, "bn1", x, 8);
  x = resnet_relu (&r, "relu", x);
  a = (graft_node_attributes) { .op = GRAFT_OP_MAXPOOL };
  a.pool.kh = a.pool.kw = 3;
  a.pool.stride_h = a.pool.stride_w = 2;
  a.pool.pad_top = a.pool.pad_left = a.pool.pad_bottom = a.pool.pad_right = 1;
  x = resnet_node (&r, "maxpool", a, &x, 1);
  x = resnet_unit (&r, "layer1.0", x, 8, 8, 1);
  x = resnet_unit (&r, "layer1.1", x, 8, 8, 1);
  x = resnet_unit (&r, "layer2.0", x, 8, 16, 2);
  x = resnet_unit (&r, "layer2.1", x, 16, 16, 1);
  x = resnet_node (&r, "avgpool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL,
                                                            .mean_spatial = { true } }, &x, 1);
  x = resnet_node (&r, "flatten", (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } }, &x, 1);
  /* torch keeps the classifier's names even in folded exports. */
  r.anonymous = FALSE;
  inputs[0] = x;
  inputs[1] = resnet_tensor (&r, "fc.weight", GRAFT_VALUE_PARAMETER, graft_shape_2d (10, 16), 0);
  inputs[2] = resnet_tensor (&r, "fc.bias", GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { 10 }), 0);
  r.logits = resnet_node (&r, "fc", (graft_node_attributes) { .op = GRAFT_OP_GEMM,
                                                              .gemm = { false, true, 1, 1 } }, inputs, 3);
  return model_wrap (r.graph, r.input, r.logits);
}

/* ------------------------------------------------------------------------ */
/* Layers                                                                    */

static double
conv_gemm_flops (const GraftModel *model)
{
  double flops = 0;
  for (int i = 0; i < graft_graph_node_count (model->graph); i++)
    {
      graft_op op = graft_graph_node (model->graph, i)->attributes.op;
      if (op == GRAFT_OP_CONV || op == GRAFT_OP_GEMM)
        flops += layer (model, i)->flops;
    }
  return flops;
}

static void
test_mobilenet_v2 (void)
{
  static const char *const names[] = {
    "features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6",
    "features.7", "features.8", "features.9", "features.10", "features.11", "features.12", "features.13",
    "features.14", "features.15", "features.16", "features.17", "features.18", "classifier.1", NULL,
  };
  mobilenet_v2 net;
  g_autoptr (GraftModel) model = NULL;
  guint64 parameters = 0;
  double flops = 0;
  char text[64];
  int first, pool;

  mobilenet_v2_build (&net, 1000, 224, 1);
  model = model_wrap (net.graph, net.input, net.logits);

  for (guint i = 0; i < model->layers->len; i++)
    {
      parameters += layer (model, (int) i)->parameters;
      flops += layer (model, (int) i)->flops;
    }
  /* torchvision's figures: 3,504,872 parameters; 300,774,272 multiply-adds in Conv and
   * Linear (counted with forward hooks on torchvision 0.14's mobilenet_v2). */
  g_assert_cmpuint (parameters, ==, 3504872);
  g_assert_cmpfloat (conv_gemm_flops (model), ==, 2.0 * 300774272);
  /* BatchNorm, Clip, Add and pooling add about 2% more. */
  g_assert_cmpfloat (flops, >, 2.0 * 300774272);
  g_assert_cmpfloat (flops, <, 1.03 * 2.0 * 300774272);

  /* Shapes at batch 1. */
  first = node_index (model, "features.0.0");
  graft_shape_format (&layer (model, first)->output_shape, text, sizeof text);
  g_assert_cmpstr (text, ==, "(1, 32, 112, 112)");
  g_assert_cmpuint (layer (model, first)->parameters, ==, 32 * 3 * 3 * 3);
  g_assert_cmpfloat (layer (model, first)->flops, ==, 2.0 * 32 * 112 * 112 * 27);
  pool = node_index (model, "pool");
  graft_shape_format (&layer (model, pool)->output_shape, text, sizeof text);
  g_assert_cmpstr (text, ==, "(1, 1280)");
  g_assert_cmpfloat (layer (model, pool)->flops, ==, 1280.0 * 7 * 7);
  /* A depthwise conv: C/g = 1. */
  g_assert_cmpfloat (layer (model, node_index (model, "features.1.conv.0.0"))->flops, ==,
                     2.0 * 32 * 112 * 112 * 9);

  /* Blocks by name: torchvision's features.N and the classifier; the pool and the
   * dropout join features.18, the block before them. */
  check_blocks_cover (model);
  check_block_names (model, names);
  g_assert_cmpuint (block (model, 0)->parameters, ==, 864 + 32 + 32);
  g_assert_cmpint (block (model, 18)->last_node, ==, node_index (model, "classifier.0"));
  g_assert_cmpuint (block (model, 19)->parameters, ==, 1281000);
  g_assert_cmpfloat (block (model, 19)->flops, ==, 2.0 * 1280 * 1000);
}

/* Layers at batch 1 even when the graph's input is declared at another batch. */
static void
test_batch_one (void)
{
  g_autoptr (GraftModel) model = NULL;
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_4d (4, 3, 8, 8);
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  int x, w, inputs[2];
  char text[64];

  x = graft_graph_add_input (graph, "x", &shape, NULL);
  w = graft_graph_add_tensor (graph, "w", GRAFT_VALUE_PARAMETER, (graft_shape[]) { graft_shape_4d (6, 1, 3, 3) },
                              NULL, NULL);
  a.conv.kh = a.conv.kw = 3;
  a.conv.stride_h = a.conv.stride_w = 2;
  a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.groups = 3;
  inputs[0] = x, inputs[1] = w;
  x = graft_graph_add_node (graph, "grouped", &a, inputs, 2, "grouped", NULL);
  a = (graft_node_attributes) { .op = GRAFT_OP_AVGPOOL };
  a.pool.kh = a.pool.kw = 2;
  a.pool.stride_h = a.pool.stride_w = 1;
  x = graft_graph_add_node (graph, "pool", &a, &x, 1, "pool", NULL);
  g_assert_cmpint (x, >=, 0);
  model = model_wrap (graph, 0, x);
  graft_shape_format (&layer (model, 0)->output_shape, text, sizeof text);
  g_assert_cmpstr (text, ==, "(1, 6, 3, 3)");
  /* 2 * M*OH*OW * (C/g)*KH*KW */
  g_assert_cmpfloat (layer (model, 0)->flops, ==, 2.0 * 6 * 3 * 3 * 1 * 3 * 3);
  g_assert_cmpuint (layer (model, 0)->parameters, ==, 54);
  /* A pool counts an op per window element. */
  g_assert_cmpfloat (layer (model, 1)->flops, ==, 6.0 * 2 * 2 * 4);
  check_blocks_cover (model);
  g_assert_cmpuint (model->blocks->len, ==, 1);
}

/* A parameter read by two nodes counts once. */
static void
test_shared_parameter (void)
{
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_2d (1, 4);
  g_autoptr (GraftModel) model = NULL;
  graft_node_attributes gemm = { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } };
  int x, w, inputs[2];

  x = graft_graph_add_input (graph, "x", &shape, NULL);
  w = graft_graph_add_tensor (graph, "tied.0.weight", GRAFT_VALUE_PARAMETER, (graft_shape[]) { graft_shape_2d (4, 4) },
                              NULL, NULL);
  inputs[0] = x, inputs[1] = w;
  x = graft_graph_add_node (graph, "first", &gemm, inputs, 2, "first", NULL);
  inputs[0] = x;
  x = graft_graph_add_node (graph, "second", &gemm, inputs, 2, "second", NULL);
  model = model_wrap (graph, 0, x);
  g_assert_cmpuint (layer (model, 0)->parameters, ==, 16);
  g_assert_cmpuint (layer (model, 1)->parameters, ==, 0);
  g_assert_cmpfloat (layer (model, 1)->flops, ==, 2.0 * 4 * 4);
  check_blocks_cover (model);
  g_assert_cmpuint (model->blocks->len, ==, 1);
  g_assert_cmpstr (block (model, 0)->name, ==, "tied.0");
}

/* ------------------------------------------------------------------------ */
/* Blocks                                                                    */

static void
test_resnet_names (void)
{
  static const char *const names[] = {
    "stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "fc", NULL,
  };
  g_autoptr (GraftModel) model = resnet_build (FALSE, FALSE);
  check_blocks_cover (model);
  check_block_names (model, names);
  /* The stem is conv1, bn1, relu and maxpool. */
  g_assert_cmpint (block (model, 0)->last_node, ==, node_index (model, "maxpool"));
  /* The relu after the residual Add belongs to its unit. */
  g_assert_cmpint (block (model, 1)->last_node, ==, node_index (model, "layer1.0.relu2"));
  /* The downsample branch is inside layer2.0. */
  g_assert_cmpint (block (model, 3)->last_node, ==, node_index (model, "layer2.0.relu2"));
  g_assert_cmpint (block (model, 4)->last_node, ==, node_index (model, "flatten"));
  g_assert_cmpuint (block (model, 5)->parameters, ==, 170);
}

static void
test_resnet_anonymous (void)
{
  static const char *const names[] = {
    "block 1", "block 2", "block 3", "block 4", "block 5", "head", NULL,
  };
  for (int input_bn = 0; input_bn < 2; input_bn++)
    {
      g_autoptr (GraftModel) model = resnet_build (TRUE, input_bn);
      check_blocks_cover (model);
      check_block_names (model, names);
      /* The stem ends at its pool; a BatchNorm on the input joins it (a block needs a
       * Conv or Gemm); each residual unit ends at its join. */
      g_assert_cmpint (block (model, 0)->first_node, ==, 0);
      g_assert_cmpint (block (model, 0)->last_node, ==, node_index (model, "maxpool"));
      g_assert_cmpint (block (model, 1)->last_node, ==, node_index (model, "layer1.0.add"));
      g_assert_cmpint (block (model, 2)->last_node, ==, node_index (model, "layer1.1.add"));
      /* layer2.0 downsamples on both branches: one block, not split at the strided convs. */
      g_assert_cmpint (block (model, 3)->last_node, ==, node_index (model, "layer2.0.add"));
      g_assert_cmpint (block (model, 4)->last_node, ==, node_index (model, "flatten"));
      g_assert_cmpint (block (model, 5)->first_node, ==, node_index (model, "fc"));
    }
}

static char *
rename_like_torch_folded (const char *name, int index)
{
  /* torch keeps the classifier's names and numbers the folded tensors. */
  if (g_str_has_prefix (name, "classifier."))
    return NULL;
  return g_strdup_printf ("onnx::Conv_%d", 300 + index);
}

static void
test_mobilenet_v2_anonymous (void)
{
  /* Where each structural block ends: residual joins, or the unit before a new stage's
   * strided conv when the block did not start at a join (only at the start). */
  static const char *const ends[] = {
    "features.2.conv.0.2",    /* features.0, 1 and the expansion of 2: split at the new stage */
    "features.3.add",         /* the rest of features.2, and features.3 */
    "features.5.add",         /* features.4 (strided, no join) and 5 */
    "features.6.add",
    "features.8.add",
    "features.9.add",
    "features.10.add",
    "features.12.add",
    "features.13.add",
    "features.15.add",
    "features.16.add",
    "classifier.0",           /* features.17, 18, the pool and the dropout */
    "classifier.1",           /* the head */
    NULL,
  };
  mobilenet_v2 net;
  graft_graph *graph;
  g_autoptr (GraftModel) model = NULL;

  mobilenet_v2_build (&net, 1000, 224, 1);
  graph = copy_renamed (net.graph, rename_like_torch_folded);
  mobilenet_v2_free (&net);
  model = model_wrap (graph, 0, graft_graph_value_count (graph) - 1);
  check_blocks_cover (model);
  g_assert_cmpuint (model->blocks->len, ==, g_strv_length ((char **) ends));
  for (guint b = 0; b < model->blocks->len; b++)
    {
      g_autofree char *name = g_strdup_printf ("block %u", b + 1);
      g_assert_cmpint (block (model, b)->last_node, ==, node_index (model, ends[b]));
      g_assert_cmpstr (block (model, b)->name, ==, ends[b + 1] == NULL ? "head" : name);
    }
}

/* The toy network's names have no index: structural. */
static void
test_toy_network (void)
{
  static const char *const names[] = { "block 1", "block 2", "block 3", "head", NULL };
  toy_network net;
  g_autoptr (GraftModel) model = NULL;
  toy_network_build (&net, 0.0f, 1);
  model = model_wrap (net.graph, net.input, net.logits);
  check_blocks_cover (model);
  check_block_names (model, names);
  g_assert_cmpint (block (model, 0)->last_node, ==, node_index (model, "residual"));
  g_assert_cmpint (block (model, 1)->last_node, ==, node_index (model, "pool"));
  g_assert_cmpint (block (model, 3)->first_node, ==, net.first_node_of_head + 1);
}

/* Keys that come back after another block start new blocks; a single leading block
 * without an index keeps its name. */
static void
test_key_rules (void)
{
  static const char *const names[] = { "embed", "encoder.0", "decoder.0", "encoder.0", "out", NULL };
  static const char *const params[] = {
    "embed.weight", "encoder.0.fc.weight", "decoder.0.fc.weight", "encoder.0.proj.weight", "out.weight",
  };
  graft_graph *graph = graft_graph_new ();
  graft_shape shape = graft_shape_2d (1, 4);
  g_autoptr (GraftModel) model = NULL;
  graft_node_attributes gemm = { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } };
  graft_node_attributes relu = { .op = GRAFT_OP_ACTIVATION, .activation = { GRAFT_ACTIVATION_RELU } };
  int x = graft_graph_add_input (graph, "x", &shape, NULL);

  /* A parameterless node first joins the first block. */
  x = graft_graph_add_node (graph, "relu0", &relu, &x, 1, "relu0", NULL);
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("gemm%d", i), *after = g_strdup_printf ("relu%d", i + 1);
      int inputs[2] = { x };
      inputs[1] = graft_graph_add_tensor (graph, params[i], GRAFT_VALUE_PARAMETER,
                                          (graft_shape[]) { graft_shape_2d (4, 4) }, NULL, NULL);
      x = graft_graph_add_node (graph, name, &gemm, inputs, 2, name, NULL);
      x = graft_graph_add_node (graph, after, &relu, &x, 1, after, NULL);
    }
  g_assert_cmpint (x, >=, 0);
  model = model_wrap (graph, 0, x);
  check_blocks_cover (model);
  check_block_names (model, names);
  g_assert_cmpint (block (model, 0)->first_node, ==, 0);
  g_assert_cmpint (block (model, 0)->last_node, ==, 2);
}

/* ------------------------------------------------------------------------ */
/* NumPy files                                                               */

static GBytes *
npy_bytes (const char *header, gsize data_size)
{
  GByteArray *array = g_byte_array_new ();
  gsize length = strlen (header);
  guint8 prefix[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, length & 0xff, length >> 8 };
  g_byte_array_append (array, prefix, sizeof prefix);
  g_byte_array_append (array, (const guint8 *) header, (guint) length);
  for (gsize i = 0; i < data_size; i++)
    g_byte_array_append (array, (const guint8 *) "\0", 1);
  return g_byte_array_free_to_bytes (array);
}

static void
expect_npy_error (GBytes *bytes, int code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  graft_shape shape;
  float *data = (float *) 1;
  gsize size;
  const guint8 *contents = g_bytes_get_data (bytes, &size);
  g_assert_false (graft_npy_read_from_data (contents, size, "bad.npy", &shape, &data, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, code);
  g_assert_null (data);
  g_assert_nonnull (strstr (error->message, "bad.npy"));
  if (strstr (error->message, fragment) == NULL)
    g_error ("'%s' does not say '%s'", error->message, fragment);
  g_bytes_unref (bytes);
}

static void
test_npy_round_trip (void)
{
  static const char numpy_header[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("graft-npy-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "x.npy", NULL);
  float values[6] = { 1, -2.5f, 3e-8f, 4e30f, 0, -0.0f };
  int64_t ranks[][6] = { { 0 }, { 6 }, { 2, 3 }, { 1, 2, 3 }, { 1, 1, 2, 1, 3, 1 }, { 0, 5 } };
  int rank_of[] = { 0, 1, 2, 3, 6, 2 };

  g_assert_no_error (error);
  for (guint t = 0; t < G_N_ELEMENTS (rank_of); t++)
    {
      graft_shape shape = graft_shape_make (rank_of[t], ranks[t]), read;
      g_autofree float *data = NULL;
      g_autoptr (GBytes) bytes = graft_npy_write_to_bytes (&shape, values, &error);
      size_t count;
      gsize size;
      const guint8 *contents;
      g_assert_no_error (error);
      contents = g_bytes_get_data (bytes, &size);
      /* Data starts at a multiple of 64, as numpy.save writes. */
      g_assert_cmpuint ((size - 10 - (contents[8] | contents[9] << 8)) % 4, ==, 0);
      g_assert_cmpuint ((10u + (contents[8] | contents[9] << 8)) % 64, ==, 0);
      g_assert_true (graft_npy_write (path, &shape, values, &error));
      g_assert_no_error (error);
      g_assert_true (graft_npy_read (path, &read, &data, &error));
      g_assert_no_error (error);
      g_assert_true (graft_shape_equal (&read, &shape));
      graft_shape_count (&shape, &count, NULL);
      g_assert_cmpmem (data, count * 4, values, count * 4);
      if (t == 2)
        {
          g_assert_cmpuint (size, ==, 128 + 24);
          g_assert_cmpmem (contents, sizeof numpy_header - 1, numpy_header, sizeof numpy_header - 1);
          g_assert_cmpint (contents[127], ==, '\n');
        }
    }
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_npy_reads_variants (void)
{
  static const char *const headers[] = {
    "{\"shape\": (2,3),\"descr\":\"<f4\",\"fortran_order\":False}\n",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }      \n",
    "{'descr':'<f4','fortran_order':False,'shape':(1L, 6L)}\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      g_autoptr (GBytes) bytes = npy_bytes (headers[i], 24);
      g_autoptr (GError) error = NULL;
      g_autofree float *data = NULL;
      graft_shape shape;
      gsize size;
      const guint8 *contents = g_bytes_get_data (bytes, &size);
      g_assert_true (graft_npy_read_from_data (contents, size, "ok.npy", &shape, &data, &error));
      g_assert_no_error (error);
      g_assert_cmpint (shape.dims[shape.rank - 1], ==, shape.rank == 1 ? 6 : i == 0 ? 3 : 6);
    }
}

static void
test_npy_rejects (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) good = NULL;
  graft_shape shape = graft_shape_2d (2, 3);
  float values[6] = { 0 };
  const guint8 *contents;
  gsize size;

  expect_npy_error (npy_bytes ("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24),
                    GRAFT_MODEL_ERROR_UNSUPPORTED, "big-endian");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24),
                    GRAFT_MODEL_ERROR_UNSUPPORTED, "Fortran");
  expect_npy_error (npy_bytes ("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", 48),
                    GRAFT_MODEL_ERROR_UNSUPPORTED, "'<f8'");
  expect_npy_error (npy_bytes ("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }\n", 6),
                    GRAFT_MODEL_ERROR_UNSUPPORTED, "float32");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 23),
                    GRAFT_MODEL_ERROR_PARSE, "truncated");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 28),
                    GRAFT_MODEL_ERROR_PARSE, "follow");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903, "
                               "4611686018427387903), }\n", 24),
                    GRAFT_MODEL_ERROR_INVALID, "more elements");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n",
                               24), GRAFT_MODEL_ERROR_PARSE, "shape");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 6), }\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "shape");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "shape");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,6), }\n", 24),
                    GRAFT_MODEL_ERROR_UNSUPPORTED, "dimensions");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "'descr'");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'shape': (6,)}\n", 24), GRAFT_MODEL_ERROR_PARSE, "fortran_order");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "'x'");
  expect_npy_error (npy_bytes ("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "header");
  expect_npy_error (npy_bytes ("{'descr': '<f4\0', 'fortran_order': False, 'shape': (6,)}\n", 24),
                    GRAFT_MODEL_ERROR_PARSE, "header");
  expect_npy_error (g_bytes_new_static ("\x93NUMPY\x01\x00\xff\x7f{", 11), GRAFT_MODEL_ERROR_PARSE, "truncated");
  expect_npy_error (g_bytes_new_static ("\x93NUMPY\x02\x00\xff\xff\xff\x7f{", 13), GRAFT_MODEL_ERROR_PARSE,
                    "absurd");
  expect_npy_error (g_bytes_new_static ("\x93NUMPY\x04\x00\x10\x00", 10), GRAFT_MODEL_ERROR_UNSUPPORTED,
                    "version 4.0");
  expect_npy_error (g_bytes_new_static ("PK\x03\x04 not numpy at all", 22), GRAFT_MODEL_ERROR_PARSE, "magic");
  expect_npy_error (g_bytes_new_static ("", 0), GRAFT_MODEL_ERROR_PARSE, "magic");

  /* Every truncation of a good file fails cleanly. */
  good = graft_npy_write_to_bytes (&shape, values, &error);
  g_assert_no_error (error);
  contents = g_bytes_get_data (good, &size);
  for (gsize cut = 0; cut < size; cut++)
    {
      g_autoptr (GError) cut_error = NULL;
      float *data = NULL;
      graft_shape read;
      g_assert_false (graft_npy_read_from_data (contents, cut, "cut.npy", &read, &data, &cut_error));
      g_assert_nonnull (cut_error);
      g_assert_null (data);
    }
}

static void
test_npy_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  float *data = NULL;
  graft_shape shape;
  g_assert_false (graft_npy_read ("/nonexistent/graft/x.npy", &shape, &data, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/graft/x.npy"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/analysis/mobilenet-v2", test_mobilenet_v2);
  g_test_add_func ("/model/analysis/batch-one", test_batch_one);
  g_test_add_func ("/model/analysis/shared-parameter", test_shared_parameter);
  g_test_add_func ("/model/analysis/blocks/resnet-names", test_resnet_names);
  g_test_add_func ("/model/analysis/blocks/resnet-anonymous", test_resnet_anonymous);
  g_test_add_func ("/model/analysis/blocks/mobilenet-v2-anonymous", test_mobilenet_v2_anonymous);
  g_test_add_func ("/model/analysis/blocks/toy-network", test_toy_network);
  g_test_add_func ("/model/analysis/blocks/key-rules", test_key_rules);
  g_test_add_func ("/model/npy/round-trip", test_npy_round_trip);
  g_test_add_func ("/model/npy/variants", test_npy_reads_variants);
  g_test_add_func ("/model/npy/rejects", test_npy_rejects);
  g_test_add_func ("/model/npy/missing-file", test_npy_missing_file);
  return g_test_run ();
}
