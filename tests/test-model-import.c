/* test-model-import.c: ONNX import. Small models from tests/data/onnx (written by
 * make-small.py, with an input and the expected output computed in Python) are
 * imported, checked for structure and run with an inference plan; hostile files built
 * here with protobuf-c must give the right error, never a crash. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/plan.h"
#include "model/model.h"
#include "model/onnx.pb-c.h"

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static char *
data_path (const char *file)
{
  const char *dir = g_getenv ("GRAFT_TEST_DATA");
  if (dir != NULL)
    return g_build_filename (dir, "onnx", file, NULL);
  return g_test_build_filename (G_TEST_DIST, "data", "onnx", file, NULL);
}

/* A minimal reader of the float32 .npy files numpy.save writes. */
static float *
read_npy (const char *file, graft_shape *shape)
{
  g_autofree char *path = data_path (file);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize size, header_length, offset, count = 1;
  const char *header, *p;
  float *data;

  if (!g_file_get_contents (path, &contents, &size, &error))
    g_error ("%s", error->message);
  g_assert_cmpuint (size, >=, 10);
  g_assert_true (memcmp (contents, "\x93NUMPY", 6) == 0);
  if (contents[6] == 1)
    header_length = (guint8) contents[8] | (gsize) (guint8) contents[9] << 8, offset = 10;
  else
    header_length = (guint8) contents[8] | (gsize) (guint8) contents[9] << 8
                    | (gsize) (guint8) contents[10] << 16 | (gsize) (guint8) contents[11] << 24, offset = 12;
  g_assert_cmpuint (offset + header_length, <=, size);
  header = contents + offset;
  g_assert_nonnull (g_strstr_len (header, (gssize) header_length, "'descr': '<f4'"));
  g_assert_nonnull (g_strstr_len (header, (gssize) header_length, "'fortran_order': False"));
  p = g_strstr_len (header, (gssize) header_length, "'shape': (");
  g_assert_nonnull (p);
  p += strlen ("'shape': (");
  shape->rank = 0;
  while (*p != ')')
    {
      char *end;
      gint64 dim = g_ascii_strtoll (p, &end, 10);
      if (end == p)
        break;
      shape->dims[shape->rank++] = dim;
      count *= (gsize) dim;
      p = end;
      while (*p == ',' || *p == ' ')
        p++;
    }
  offset += header_length;
  g_assert_cmpuint (size - offset, ==, count * sizeof (float));
  data = g_new (float, MAX (count, 1));
  memcpy (data, contents + offset, count * sizeof (float));
  return data;
}

static GraftModel *
load_data_model (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".onnx", NULL);
  g_autofree char *path = data_path (file);
  g_autoptr (GError) error = NULL;
  GraftModel *model = graft_model_load (path, &error);

  if (model == NULL)
    g_error ("%s", error->message);
  return model;
}

/* Runs the model on NAME[.bB].input.npy and compares with NAME[.bB].output.npy. */
static void
check_numbers (GraftModel *model, const char *name, int batch)
{
  g_autofree char *suffix = batch == 1 ? g_strdup ("") : g_strdup_printf (".b%d", batch);
  g_autofree char *input_file = g_strconcat (name, suffix, ".input.npy", NULL);
  g_autofree char *output_file = g_strconcat (name, suffix, ".output.npy", NULL);
  g_autofree float *input = NULL, *expected = NULL;
  graft_shape input_shape, expected_shape, got_shape;
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = batch };
  graft_plan *plan;
  graft_error error;
  const float *got;
  size_t count, input_count;
  double max_abs = 0, worst = 0;

  input = read_npy (input_file, &input_shape);
  expected = read_npy (output_file, &expected_shape);
  g_assert_cmpint (input_shape.dims[0], ==, batch);
  options.keep = &model->output;
  options.n_keep = 1;
  plan = graft_plan_new (model->graph, &options, &error);
  if (plan == NULL)
    g_error ("%s: %s", name, error.message);
  g_assert_cmpint (graft_shape_count (&input_shape, &input_count, NULL), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_set_input (plan, model->input, input, input_count, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  got = graft_plan_value_data (plan, model->output, &got_shape);
  g_assert_nonnull (got);
  if (!graft_shape_equal (&got_shape, &expected_shape))
    {
      char a[160], b[160];
      graft_shape_format (&got_shape, a, sizeof a);
      graft_shape_format (&expected_shape, b, sizeof b);
      g_error ("%s at batch %d: output shape %s, expected %s", name, batch, a, b);
    }
  graft_shape_count (&expected_shape, &count, NULL);
  for (size_t i = 0; i < count; i++)
    max_abs = MAX (max_abs, fabs (expected[i]));
  for (size_t i = 0; i < count; i++)
    {
      double diff = fabs ((double) got[i] - expected[i]);
      worst = MAX (worst, diff);
      if (diff > 1e-5 * MAX (max_abs, 1e-3))
        g_error ("%s at batch %d: element %zu is %.9g, expected %.9g (largest magnitude %.4g)",
                 name, batch, i, got[i], expected[i], max_abs);
    }
  g_test_message ("%s at batch %d: %zu outputs, largest difference %.3g (largest magnitude %.3g)",
                  name, batch, count, worst, max_abs);
  graft_plan_free (plan);
}

static int
find_node (GraftModel *model, const char *name)
{
  for (int i = 0; i < graft_graph_node_count (model->graph); i++)
    if (strcmp (graft_graph_node (model->graph, i)->name, name) == 0)
      return i;
  g_error ("no node '%s'", name);
  return -1;
}

static const graft_node *
node_named (GraftModel *model, const char *name)
{
  return graft_graph_node (model->graph, find_node (model, name));
}

static const graft_value *
value_named (GraftModel *model, const char *name)
{
  int v = graft_graph_find_value (model->graph, name);
  if (v < 0)
    g_error ("no value '%s'", name);
  return graft_graph_value (model->graph, v);
}

static int
count_ops (GraftModel *model, graft_op op)
{
  int n = 0;
  for (int i = 0; i < graft_graph_node_count (model->graph); i++)
    n += graft_graph_node (model->graph, i)->attributes.op == op;
  return n;
}

/* Each small model at batch 1, and at batch 3 where make-small.py wrote it. */
static void
test_numbers (gconstpointer data)
{
  const char *name = data;
  g_autoptr (GraftModel) model = load_data_model (name);
  g_autofree char *b3_file = g_strconcat (name, ".b3.input.npy", NULL);
  g_autofree char *b3 = data_path (b3_file);

  check_numbers (model, name, 1);
  if (g_file_test (b3, G_FILE_TEST_EXISTS))
    check_numbers (model, name, 3);
  g_assert_nonnull (model->layers);
  g_assert_cmpuint (model->layers->len, ==, (guint) graft_graph_node_count (model->graph));
}

/* ------------------------------------------------------------------------ */
/* Structure of the small models                                             */

static void
test_conv_attributes (void)
{
  g_autoptr (GraftModel) model = load_data_model ("conv-relu");
  const graft_node *conv1 = node_named (model, "conv1"), *conv2 = node_named (model, "conv2");

  g_assert_cmpint (graft_graph_node_count (model->graph), ==, 4);
  g_assert_cmpint (conv1->attributes.conv.pad_top, ==, 1);
  g_assert_cmpint (conv1->attributes.conv.pad_left, ==, 0);
  g_assert_cmpint (conv1->attributes.conv.pad_bottom, ==, 2);
  g_assert_cmpint (conv1->attributes.conv.pad_right, ==, 1);
  g_assert_cmpint (conv1->attributes.conv.stride_h, ==, 2);
  g_assert_cmpint (conv1->n_inputs, ==, 3);
  /* No kernel_shape attribute: the weight says 3x3. */
  g_assert_cmpint (conv2->attributes.conv.kh, ==, 3);
  g_assert_cmpint (conv2->attributes.conv.groups, ==, 4);
  g_assert_cmpint (conv2->attributes.conv.dilation_w, ==, 2);
  g_assert_cmpint (value_named (model, "conv1.weight")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "conv1.bias")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "c1")->kind, ==, GRAFT_VALUE_ACTIVATION);
  g_assert_cmpfloat_with_epsilon (node_named (model, "leaky")->attributes.activation.alpha, 0.2, 1e-7);

  g_assert_cmpstr (model->input_name, ==, "x");
  g_assert_cmpstr (model->output_name, ==, "y");
  g_assert_cmpint (model->output, ==, graft_graph_find_value (model->graph, "y"));
  g_assert_cmpint (model->logits, ==, model->output);
  g_assert_cmpint (model->ir_version, ==, 8);
  g_assert_cmpint (model->opset, ==, 13);
  g_assert_cmpstr (model->producer_name, ==, "make-small.py");
  g_assert_cmpstr (model->producer_version, ==, "1");
  g_assert_cmpstr (model->graph_name, ==, "conv-relu");
  g_assert_false (model->input_nhwc);
  g_assert_cmpstr (g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS), ==, "[\"cat\", \"dog\", \"bird\", \"fish\"]");
  g_assert_cmpstr (g_hash_table_lookup (model->metadata, "author"), ==, "make-small.py");
  /* A symbolic batch is declared as 1. */
  g_assert_cmpint (graft_graph_value (model->graph, model->input)->shape.dims[0], ==, 1);
}

static void
test_autopad (void)
{
  g_autoptr (GraftModel) model = load_data_model ("conv-autopad");
  const graft_node *upper = node_named (model, "same_upper"), *lower = node_named (model, "same_lower");

  /* 8x7 input, k3 s2: out 4x4, total pad 1 in both: SAME_UPPER puts it at the end. */
  g_assert_cmpint (upper->attributes.conv.pad_top, ==, 0);
  g_assert_cmpint (upper->attributes.conv.pad_bottom, ==, 1);
  g_assert_cmpint (upper->attributes.conv.pad_left, ==, 1);
  g_assert_cmpint (upper->attributes.conv.pad_right, ==, 1);
  /* k2 s1: total 1, SAME_LOWER puts it at the start. */
  g_assert_cmpint (lower->attributes.conv.pad_top, ==, 1);
  g_assert_cmpint (lower->attributes.conv.pad_bottom, ==, 0);
  g_assert_cmpint (node_named (model, "valid")->attributes.conv.pad_top, ==, 0);
}

static void
test_batchnorm_ir3 (void)
{
  g_autoptr (GraftModel) model = load_data_model ("bn-opset7");
  const graft_node *bn = node_named (model, "bn0"), *reshape = node_named (model, "flatten0");

  /* IR 3: every initializer is listed in graph.input too, but the input is 'data'. */
  g_assert_cmpint (model->ir_version, ==, 3);
  g_assert_cmpint (model->opset, ==, 7);
  g_assert_cmpstr (model->input_name, ==, "data");
  g_assert_cmpint (graft_graph_value (model->graph, model->input)->kind, ==, GRAFT_VALUE_INPUT);
  g_assert_cmpint (count_ops (model, GRAFT_OP_BATCHNORM), ==, 2);
  g_assert_cmpfloat_with_epsilon (bn->attributes.batchnorm.epsilon, 1e-3, 1e-9);
  g_assert_cmpfloat_with_epsilon (bn->attributes.batchnorm.momentum, 0.99, 1e-7);
  g_assert_cmpint (value_named (model, "bn0_gamma")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "bn0_beta")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "bn0_moving_mean")->kind, ==, GRAFT_VALUE_BUFFER);
  g_assert_cmpint (value_named (model, "bn0_moving_var")->kind, ==, GRAFT_VALUE_BUFFER);
  g_assert_cmpint (value_named (model, "dense0_weight")->kind, ==, GRAFT_VALUE_PARAMETER);
  /* int64_data [0, -1] */
  g_assert_cmpint (reshape->attributes.op, ==, GRAFT_OP_RESHAPE);
  g_assert_cmpint (reshape->attributes.reshape.rank, ==, 2);
  g_assert_cmpint (reshape->attributes.reshape.dims[0], ==, 0);
  g_assert_cmpint (reshape->attributes.reshape.dims[1], ==, -1);
  g_assert_cmpint (graft_graph_find_value (model->graph, "reshape_attr_tensor"), <, 0);
  g_assert_cmpint (node_named (model, "dropout0")->attributes.op, ==, GRAFT_OP_DROPOUT);
  g_assert_cmpfloat_with_epsilon (node_named (model, "dropout0")->attributes.dropout.ratio, 0.25, 1e-7);
}

static void
test_batchnorm_opset14 (void)
{
  g_autoptr (GraftModel) model = load_data_model ("bn-opset14");

  g_assert_cmpint (value_named (model, "features.1.weight")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "features.1.running_var")->kind, ==, GRAFT_VALUE_BUFFER);
  g_assert_cmpint (node_named (model, "flatten")->attributes.op, ==, GRAFT_OP_FLATTEN);
  g_assert_true (node_named (model, "fc")->attributes.gemm.trans_b);
}

static void
test_torch_bn (void)
{
  g_autoptr (GraftModel) model = load_data_model ("torch-bn");

  /* TrainingMode.PRESERVE, no folding: BN unfolded under the state_dict names. */
  g_assert_cmpint (count_ops (model, GRAFT_OP_BATCHNORM), ==, 1);
  g_assert_cmpint (value_named (model, "bn1.running_mean")->kind, ==, GRAFT_VALUE_BUFFER);
  g_assert_cmpint (value_named (model, "conv1.weight")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpstr (model->output_name, ==, "logits");
}

static void
test_clip_forms (void)
{
  g_autoptr (GraftModel) attrs = load_data_model ("clip-opset10");
  g_autoptr (GraftModel) inputs = load_data_model ("clip-opset11");
  const graft_activation_params *p;

  p = &node_named (attrs, "relu6")->attributes.activation;
  g_assert_cmpint (p->kind, ==, GRAFT_ACTIVATION_CLIP);
  g_assert_cmpfloat (p->alpha, ==, 0);
  g_assert_cmpfloat (p->beta, ==, 6);
  p = &node_named (attrs, "cap")->attributes.activation;
  g_assert_true (isinf (p->alpha) && p->alpha < 0);
  g_assert_cmpfloat (p->beta, ==, 2.5);

  p = &node_named (inputs, "relu6")->attributes.activation;
  g_assert_cmpfloat (p->alpha, ==, 0);
  g_assert_cmpfloat (p->beta, ==, 6);
  p = &node_named (inputs, "floor")->attributes.activation;
  g_assert_cmpfloat (p->alpha, ==, 0.5);
  g_assert_true (isinf (p->beta) && p->beta > 0);
  p = &node_named (inputs, "cap")->attributes.activation;
  g_assert_true (isinf (p->alpha) && p->alpha < 0);
  g_assert_cmpfloat (p->beta, ==, 3);
  p = &node_named (inputs, "unbounded")->attributes.activation;
  g_assert_true (isinf (p->alpha) && isinf (p->beta));
  /* The bounds are folded: no Constant values in the graph. */
  g_assert_cmpint (graft_graph_find_value (inputs->graph, "zero"), <, 0);
  g_assert_cmpint (graft_graph_node_count (inputs->graph), ==, 5);
}

static void
test_activations (void)
{
  g_autoptr (GraftModel) model = load_data_model ("activations");

  g_assert_cmpint (node_named (model, "hardswish")->attributes.activation.kind, ==, GRAFT_ACTIVATION_HARD_SWISH);
  g_assert_cmpfloat_with_epsilon (node_named (model, "se.gate")->attributes.activation.alpha, 1.0 / 6, 1e-7);
  g_assert_cmpfloat_with_epsilon (node_named (model, "se.gate")->attributes.activation.beta, 0.5, 1e-7);
  g_assert_cmpfloat_with_epsilon (node_named (model, "hardsigmoid")->attributes.activation.alpha, 0.2, 1e-7);
  /* A bias after a Conv learns; a per-channel scale and shift elsewhere do not. */
  g_assert_cmpint (value_named (model, "se.bias")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "scale")->kind, ==, GRAFT_VALUE_CONSTANT);
  g_assert_cmpint (value_named (model, "shift")->kind, ==, GRAFT_VALUE_CONSTANT);
}

static void
test_pools (void)
{
  g_autoptr (GraftModel) model = load_data_model ("pools");
  const graft_node *mp = node_named (model, "maxpool"), *ap = node_named (model, "avgpool");
  const graft_node *ap2 = node_named (model, "avgpool_pad"), *same = node_named (model, "maxpool_same");

  g_assert_true (mp->attributes.pool.ceil_mode);
  g_assert_cmpint (mp->attributes.pool.pad_top, ==, 1);
  g_assert_false (ap->attributes.pool.count_include_pad);
  g_assert_true (ap2->attributes.pool.count_include_pad);
  g_assert_cmpint (ap2->attributes.pool.pad_bottom, ==, 2);
  g_assert_cmpint (same->attributes.pool.pad_bottom, ==, 1);
  g_assert_cmpint (same->attributes.pool.pad_top, ==, 0);
  g_assert_cmpint (node_named (model, "mean")->attributes.op, ==, GRAFT_OP_MEAN_SPATIAL);
  g_assert_false (node_named (model, "mean")->attributes.mean_spatial.keep_dims);
}

static void
test_softmax_output (void)
{
  g_autoptr (GraftModel) model = load_data_model ("gemm-softmax");
  const graft_node *fc1 = node_named (model, "fc1");

  g_assert_cmpstr (model->output_name, ==, "probs");
  g_assert_cmpint (model->logits, ==, graft_graph_find_value (model->graph, "logits"));
  g_assert_cmpint (model->output, !=, model->logits);
  g_assert_cmpfloat (fc1->attributes.gemm.alpha, ==, 0.5);
  g_assert_cmpfloat (fc1->attributes.gemm.beta, ==, 2);
  g_assert_true (fc1->attributes.gemm.trans_b);
  g_assert_false (fc1->attributes.gemm.trans_a);
}

static void
test_flatten_chain (void)
{
  const char *names[] = { "flatten-chain-opset10", "flatten-chain-opset13", "torch-old-flatten" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GraftModel) model = load_data_model (names[i]);
      const graft_node *reshape = NULL;

      /* Shape, Gather, Unsqueeze, Concat and the Constants are folded away. */
      g_assert_cmpint (count_ops (model, GRAFT_OP_RESHAPE), ==, 1);
      for (int n = 0; n < graft_graph_node_count (model->graph); n++)
        if (graft_graph_node (model->graph, n)->attributes.op == GRAFT_OP_RESHAPE)
          reshape = graft_graph_node (model->graph, n);
      g_assert_cmpint (reshape->attributes.reshape.rank, ==, 2);
      g_assert_cmpint (reshape->attributes.reshape.dims[0], ==, 0);
      g_assert_cmpint (reshape->attributes.reshape.dims[1], ==, -1);
      g_assert_cmpint (count_ops (model, GRAFT_OP_GEMM), ==, 1);
    }
}

static void
test_squeeze_forms (void)
{
  const char *names[] = { "squeeze-opset11", "squeeze-opset13" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GraftModel) model = load_data_model (names[i]);
      const graft_node *squeeze = node_named (model, "squeeze"), *unsqueeze = node_named (model, "unsqueeze");
      const graft_node *all = node_named (model, "squeeze_all");

      g_assert_cmpint (squeeze->attributes.op, ==, GRAFT_OP_RESHAPE);
      g_assert_cmpint (squeeze->attributes.reshape.rank, ==, 2);
      g_assert_cmpint (squeeze->attributes.reshape.dims[0], ==, 0);
      g_assert_cmpint (squeeze->attributes.reshape.dims[1], ==, 3);
      g_assert_cmpint (unsqueeze->attributes.reshape.rank, ==, 4);
      g_assert_cmpint (unsqueeze->attributes.reshape.dims[0], ==, 0);
      g_assert_cmpint (unsqueeze->attributes.reshape.dims[1], ==, 1);
      g_assert_cmpint (unsqueeze->attributes.reshape.dims[2], ==, 3);
      g_assert_cmpint (unsqueeze->attributes.reshape.dims[3], ==, 1);
      /* Squeeze without axes keeps the batch dimension even at batch 1. */
      g_assert_cmpint (all->attributes.reshape.rank, ==, 2);
    }
}

static void
test_nhwc_matmul (void)
{
  g_autoptr (GraftModel) model = load_data_model ("nhwc");
  const graft_node *gemm;

  g_assert_true (model->input_nhwc);
  g_assert_cmpint (graft_graph_value (model->graph, model->input)->shape.dims[3], ==, 3);
  /* MatMul + Add is one Gemm with C, named by the Add's output. */
  g_assert_cmpint (count_ops (model, GRAFT_OP_GEMM), ==, 1);
  g_assert_cmpint (count_ops (model, GRAFT_OP_ADD), ==, 0);
  gemm = node_named (model, "dense/MatMul");
  g_assert_cmpint (gemm->n_inputs, ==, 3);
  g_assert_cmpstr (graft_graph_value (model->graph, gemm->output)->name, ==, "logits:0");
  g_assert_false (gemm->attributes.gemm.trans_b);
  g_assert_cmpint (value_named (model, "dense/bias")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (value_named (model, "dense/kernel")->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (model->logits, ==, gemm->output);
  g_assert_cmpstr (model->output_name, ==, "Softmax:0");
  g_assert_cmpstr (model->producer_name, ==, "tf2onnx");
}

static void
test_identity_constant (void)
{
  g_autoptr (GraftModel) model = load_data_model ("identity-constant");
  int bias1 = graft_graph_find_value (model->graph, "onnx::Conv_7");
  int bias2 = graft_graph_find_value (model->graph, "onnx::Conv_8");

  /* A Constant node read as a weight learns like an initializer. */
  g_assert_cmpint (value_named (model, "conv1.weight")->kind, ==, GRAFT_VALUE_PARAMETER);
  /* One initializer behind two Identity nodes: each Conv gets its own bias. */
  g_assert_cmpint (bias1, >=, 0);
  g_assert_cmpint (bias2, >=, 0);
  g_assert_cmpint (bias1, !=, bias2);
  g_assert_cmpint (graft_graph_value (model->graph, bias1)->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (graft_graph_find_value (model->graph, "shared_bias"), <, 0);
  /* Identity of an activation is an alias... */
  g_assert_cmpint (graft_graph_find_value (model->graph, "c1_alias"), <, 0);
  g_assert_cmpint (node_named (model, "conv2")->inputs[0], ==, graft_graph_find_value (model->graph, "c1"));
  /* ...except where it names the graph output. */
  g_assert_cmpstr (graft_graph_value (model->graph, model->output)->name, ==, "y");
  g_assert_cmpint (value_named (model, "half")->kind, ==, GRAFT_VALUE_CONSTANT);
  g_assert_cmpint (value_named (model, "offsets3")->kind, ==, GRAFT_VALUE_CONSTANT);
  g_assert_cmpint (value_named (model, "offsets3")->shape.rank, ==, 3);
}

static void
test_normalise (void)
{
  g_autoptr (GraftModel) model = load_data_model ("normalise");
  const graft_node *sub = node_named (model, "sub_mean"), *div = node_named (model, "div_std");
  const graft_value *mean, *std;

  g_assert_cmpint (sub->attributes.op, ==, GRAFT_OP_ADD);
  g_assert_cmpint (div->attributes.op, ==, GRAFT_OP_MUL);
  mean = graft_graph_value (model->graph, sub->inputs[1]);
  std = graft_graph_value (model->graph, div->inputs[1]);
  g_assert_cmpfloat_with_epsilon (mean->data[0], -0.485, 1e-6);
  g_assert_cmpfloat_with_epsilon (std->data[2], 1 / 0.225, 1e-4);
  g_assert_cmpint (mean->kind, ==, GRAFT_VALUE_CONSTANT);
  /* A double initializer is read as float32. */
  g_assert_cmpint (value_named (model, "b")->kind, ==, GRAFT_VALUE_PARAMETER);
}

static void
test_pad_folded (void)
{
  g_autoptr (GraftModel) model = load_data_model ("pad-conv");
  const graft_node *conv = node_named (model, "conv"), *pool = node_named (model, "avgpool");

  g_assert_cmpint (graft_graph_node_count (model->graph), ==, 3);
  g_assert_cmpint (conv->attributes.conv.pad_top, ==, 1);
  g_assert_cmpint (conv->attributes.conv.pad_left, ==, 2);
  g_assert_cmpint (conv->attributes.conv.pad_bottom, ==, 2);
  g_assert_cmpint (conv->attributes.conv.pad_right, ==, 1);
  g_assert_cmpint (pool->attributes.pool.pad_top, ==, 1);
  g_assert_cmpint (pool->attributes.pool.pad_right, ==, 1);
  g_assert_true (pool->attributes.pool.count_include_pad);
  g_assert_cmpfloat_with_epsilon (node_named (model, "dropout")->attributes.dropout.ratio, 0.1, 1e-7);
}

static void
test_load_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = data_path ("");
  g_autofree char *text = data_path ("make-small.py");

  g_assert_null (graft_model_load ("/nonexistent/model.onnx", &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model.onnx"));
  g_clear_error (&error);
  g_assert_null (graft_model_load (dir, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO);
  g_clear_error (&error);
  /* A Python script is not a protobuf. */
  g_assert_null (graft_model_load (text, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == GRAFT_MODEL_ERROR);
  g_assert_true (error->code == GRAFT_MODEL_ERROR_PARSE || error->code == GRAFT_MODEL_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "make-small.py"));
}

/* ------------------------------------------------------------------------ */
/* Models built here with protobuf-c                                         */

typedef struct {
  GPtrArray *garbage;
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset;
  Onnx__OperatorSetIdProto *opsets[1];
  GPtrArray *nodes, *initializers, *inputs, *outputs;
} Builder;

static gpointer
keep (Builder *b, gpointer p)
{
  g_ptr_array_add (b->garbage, p);
  return p;
}

static char *
keep_string (Builder *b, const char *s)
{
  return keep (b, g_strdup (s));
}

static Builder *
builder_new (gint64 opset)
{
  Builder *b = g_new0 (Builder, 1);

  b->garbage = g_ptr_array_new_with_free_func (g_free);
  b->nodes = g_ptr_array_new ();
  b->initializers = g_ptr_array_new ();
  b->inputs = g_ptr_array_new ();
  b->outputs = g_ptr_array_new ();
  onnx__model_proto__init (&b->model);
  onnx__graph_proto__init (&b->graph);
  onnx__operator_set_id_proto__init (&b->opset);
  b->model.has_ir_version = TRUE;
  b->model.ir_version = 8;
  b->opset.domain = keep_string (b, "");
  b->opset.has_version = TRUE;
  b->opset.version = opset;
  b->opsets[0] = &b->opset;
  b->model.n_opset_import = 1;
  b->model.opset_import = b->opsets;
  b->model.producer_name = keep_string (b, "test-model-import");
  b->graph.name = keep_string (b, "hostile");
  b->model.graph = &b->graph;
  return b;
}

static void
builder_free (Builder *b)
{
  g_ptr_array_unref (b->garbage);
  g_ptr_array_unref (b->nodes);
  g_ptr_array_unref (b->initializers);
  g_ptr_array_unref (b->inputs);
  g_ptr_array_unref (b->outputs);
  g_free (b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Builder, builder_free)

static Onnx__ValueInfoProto *
value_info (Builder *b, const char *name, int rank, const gint64 *dims)
{
  Onnx__ValueInfoProto *v = keep (b, g_new (Onnx__ValueInfoProto, 1));
  Onnx__TypeProto *type = keep (b, g_new (Onnx__TypeProto, 1));
  Onnx__TypeProto__Tensor *tensor = keep (b, g_new (Onnx__TypeProto__Tensor, 1));
  Onnx__TensorShapeProto *shape = keep (b, g_new (Onnx__TensorShapeProto, 1));

  onnx__value_info_proto__init (v);
  onnx__type_proto__init (type);
  onnx__type_proto__tensor__init (tensor);
  onnx__tensor_shape_proto__init (shape);
  v->name = keep_string (b, name);
  v->type = type;
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tensor;
  tensor->has_elem_type = TRUE;
  tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  if (rank >= 0)
    {
      tensor->shape = shape;
      shape->n_dim = (size_t) rank;
      shape->dim = keep (b, g_new (Onnx__TensorShapeProto__Dimension *, MAX (rank, 1)));
      for (int d = 0; d < rank; d++)
        {
          Onnx__TensorShapeProto__Dimension *dim = keep (b, g_new (Onnx__TensorShapeProto__Dimension, 1));
          onnx__tensor_shape_proto__dimension__init (dim);
          if (dims[d] < 0)
            {
              dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
              dim->dim_param = keep_string (b, "N");
            }
          else
            {
              dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
              dim->dim_value = dims[d];
            }
          shape->dim[d] = dim;
        }
    }
  return v;
}

/* dims: -1 is a symbolic dimension. */
static Onnx__ValueInfoProto *
add_input (Builder *b, const char *name, int rank, const gint64 *dims)
{
  Onnx__ValueInfoProto *v = value_info (b, name, rank, dims);
  g_ptr_array_add (b->inputs, v);
  return v;
}

static void
add_output (Builder *b, const char *name)
{
  g_ptr_array_add (b->outputs, value_info (b, name, -1, NULL));
}

/* inputs and outputs: comma-separated names ("" entries are absent optional ones). */
static Onnx__NodeProto *
add_node (Builder *b, const char *op_type, const char *name, const char *inputs, const char *outputs)
{
  Onnx__NodeProto *node = keep (b, g_new (Onnx__NodeProto, 1));
  char **in = keep (b, g_strsplit (inputs, ",", -1)), **out = keep (b, g_strsplit (outputs, ",", -1));

  onnx__node_proto__init (node);
  for (int i = 0; in[i] != NULL; i++)
    keep (b, in[i]);
  for (int i = 0; out[i] != NULL; i++)
    keep (b, out[i]);
  node->op_type = keep_string (b, op_type);
  node->name = keep_string (b, name);
  node->n_input = inputs[0] != '\0' ? g_strv_length (in) : 0;
  node->input = in;
  node->n_output = g_strv_length (out);
  node->output = out;
  g_ptr_array_add (b->nodes, node);
  return node;
}

static Onnx__AttributeProto *
add_attribute (Builder *b, Onnx__NodeProto *node, const char *name, Onnx__AttributeProto__AttributeType type)
{
  Onnx__AttributeProto *a = keep (b, g_new (Onnx__AttributeProto, 1));
  Onnx__AttributeProto **all = keep (b, g_new (Onnx__AttributeProto *, node->n_attribute + 1));

  onnx__attribute_proto__init (a);
  a->name = keep_string (b, name);
  a->has_type = TRUE;
  a->type = type;
  if (node->n_attribute > 0)
    memcpy (all, node->attribute, node->n_attribute * sizeof *all);
  all[node->n_attribute++] = a;
  node->attribute = all;
  return a;
}

static void
attribute_int (Builder *b, Onnx__NodeProto *node, const char *name, gint64 value)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = TRUE;
  a->i = value;
}

static void
attribute_ints (Builder *b, Onnx__NodeProto *node, const char *name, int n, const gint64 *values)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = (size_t) n;
  a->ints = keep (b, g_memdup2 (values, (gsize) MAX (n, 1) * sizeof (gint64)));
}

static Onnx__TensorProto *
tensor (Builder *b, const char *name, gint32 data_type, int rank, const gint64 *dims)
{
  Onnx__TensorProto *t = keep (b, g_new (Onnx__TensorProto, 1));

  onnx__tensor_proto__init (t);
  t->name = keep_string (b, name);
  t->has_data_type = TRUE;
  t->data_type = data_type;
  t->n_dims = (size_t) rank;
  t->dims = keep (b, g_memdup2 (dims, (gsize) MAX (rank, 1) * sizeof (gint64)));
  return t;
}

/* A float32 initializer in raw_data, filled with value (count from dims, which must be small). */
static Onnx__TensorProto *
add_float_initializer (Builder *b, const char *name, int rank, const gint64 *dims, float value)
{
  Onnx__TensorProto *t = tensor (b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, dims);
  gsize count = 1;
  float *data;

  for (int d = 0; d < rank; d++)
    count *= (gsize) dims[d];
  data = keep (b, g_new (float, MAX (count, 1)));
  for (gsize i = 0; i < count; i++)
    data[i] = value;
  t->has_raw_data = TRUE;
  t->raw_data.len = count * sizeof (float);
  t->raw_data.data = (guint8 *) data;
  g_ptr_array_add (b->initializers, t);
  return t;
}

static Onnx__TensorProto *
add_int_initializer (Builder *b, const char *name, int n, const gint64 *values)
{
  gint64 dims[1] = { n };
  Onnx__TensorProto *t = tensor (b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, dims);
  t->n_int64_data = (size_t) n;
  t->int64_data = keep (b, g_memdup2 (values, (gsize) MAX (n, 1) * sizeof (gint64)));
  g_ptr_array_add (b->initializers, t);
  return t;
}

static GBytes *
builder_pack (Builder *b)
{
  gsize size;
  guint8 *buffer;

  b->graph.n_node = b->nodes->len;
  b->graph.node = (Onnx__NodeProto **) b->nodes->pdata;
  b->graph.n_initializer = b->initializers->len;
  b->graph.initializer = (Onnx__TensorProto **) b->initializers->pdata;
  b->graph.n_input = b->inputs->len;
  b->graph.input = (Onnx__ValueInfoProto **) b->inputs->pdata;
  b->graph.n_output = b->outputs->len;
  b->graph.output = (Onnx__ValueInfoProto **) b->outputs->pdata;
  size = onnx__model_proto__get_packed_size (&b->model);
  buffer = g_malloc (MAX (size, 1));
  onnx__model_proto__pack (&b->model, buffer);
  return g_bytes_new_take (buffer, size);
}

static GraftModel *
builder_load (Builder *b, const char *base_dir, GError **error)
{
  g_autoptr (GBytes) bytes = builder_pack (b);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  return graft_model_load_from_data (data, size, base_dir, "hostile.onnx", error);
}

/* A small valid model: x (N,2,4,4) -> Conv (w 3x2x3x3, pads 1) -> Relu -> y. */
static Builder *
builder_conv_relu (gint64 opset)
{
  Builder *b = builder_new (opset);
  static const gint64 x_dims[] = { -1, 2, 4, 4 }, w_dims[] = { 3, 2, 3, 3 }, pads[] = { 1, 1, 1, 1 };
  Onnx__NodeProto *conv;

  add_input (b, "x", 4, x_dims);
  add_float_initializer (b, "w", 4, w_dims, 0.1f);
  conv = add_node (b, "Conv", "conv", "x,w", "c");
  attribute_ints (b, conv, "pads", 4, pads);
  add_node (b, "Relu", "relu", "c", "y");
  add_output (b, "y");
  return b;
}

/* Loads b and checks that it fails with code and a message containing every one of
 * the NULL-terminated strings. */
static void
expect_error (Builder *b, const char *base_dir, GraftModelError code, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = builder_load (b, base_dir, &error);
  va_list args;
  const char *part;

  if (model != NULL)
    g_error ("the model loaded, but should fail with code %d", code);
  g_test_message ("%s", error->message);
  g_assert_error (error, GRAFT_MODEL_ERROR, (gint) code);
  g_assert_true (g_str_has_prefix (error->message, "hostile.onnx: "));
  va_start (args, code);
  while ((part = va_arg (args, const char *)) != NULL)
    if (strstr (error->message, part) == NULL)
      g_error ("the message \"%s\" does not mention \"%s\"", error->message, part);
  va_end (args);
}

static void
test_builder_valid (void)
{
  g_autoptr (Builder) b = builder_conv_relu (13);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = builder_load (b, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (graft_graph_node_count (model->graph), ==, 2);
}

/* A Cast to float32 of a computed tensor is an alias, except where it names the graph
 * output: then, as for Identity, a node carries the file's output name. */
static void
test_cast_output (void)
{
  for (int last = 0; last <= 1; last++)
    {
      g_autoptr (Builder) b = builder_conv_relu (13);
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftModel) model = NULL;
      Onnx__NodeProto *cast = add_node (b, "Cast", "cast", "y", "f");

      attribute_int (b, cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
      if (last)
        b->outputs->pdata[0] = value_info (b, "f", -1, NULL);
      else
        {
          add_node (b, "Relu", "relu2", "f", "z");
          b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
        }
      model = builder_load (b, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (graft_graph_node_count (model->graph), ==, 3);
      g_assert_cmpstr (model->output_name, ==, last ? "f" : "z");
      g_assert_cmpstr (graft_graph_value (model->graph, model->output)->name, ==, last ? "f" : "z");
      /* The alias: the second Relu reads the first one's output. */
      if (!last)
        g_assert_cmpint (node_named (model, "relu2")->inputs[0], ==, graft_graph_find_value (model->graph, "y"));
    }
}

/* Dropout at opset 13 with its ratio and training_mode as initializers, the mode a
 * bool (as PyTorch exports it): false imports (inference: identity), true is refused,
 * in raw bytes or in int32_data alike. */
static void
test_dropout_bool_mode (void)
{
  for (int mode = 0; mode <= 1; mode++)
    for (int raw = 0; raw <= 1; raw++)
      {
        g_autoptr (Builder) b = builder_conv_relu (13);
        g_autoptr (GError) error = NULL;
        g_autoptr (GraftModel) model = NULL;
        Onnx__TensorProto *t = tensor (b, "mode", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL);
        static const guint8 bytes[2] = { 0, 1 };
        static const gint32 ints[2] = { 0, 1 };

        add_float_initializer (b, "ratio", 0, NULL, 0.25f);
        if (raw)
          {
            t->has_raw_data = TRUE;
            t->raw_data.len = 1;
            t->raw_data.data = (guint8 *) &bytes[mode];
          }
        else
          {
            t->n_int32_data = 1;
            t->int32_data = (gint32 *) &ints[mode];
          }
        g_ptr_array_add (b->initializers, t);
        add_node (b, "Dropout", "drop", "y,ratio,mode", "d");
        b->outputs->pdata[0] = value_info (b, "d", -1, NULL);
        model = builder_load (b, NULL, &error);
        if (mode == 0)
          {
            g_assert_no_error (error);
            g_assert_nonnull (model);
          }
        else
          {
            g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED);
            g_assert_nonnull (strstr (error->message, "training mode"));
          }
      }
}

/* A static batch dimension is declared as the file says (ONNX's own node tests use
 * inputs whose first dimension is not a batch). */
static void
test_builder_static_batch (void)
{
  g_autoptr (Builder) b = builder_new (13);
  static const gint64 x_dims[] = { 2, 6 }, shape[] = { 2, 3, 2 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;
  const graft_node *reshape;

  add_input (b, "x", 2, x_dims);
  add_int_initializer (b, "shape", 3, shape);
  add_node (b, "Reshape", "reshape", "x,shape", "y");
  add_output (b, "y");
  model = builder_load (b, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_graph_value (model->graph, model->input)->shape.dims[0], ==, 2);
  reshape = graft_graph_node (model->graph, 0);
  /* The literal 2 is the file's batch: it is copied, so other batches work too. */
  g_assert_cmpint (reshape->attributes.reshape.dims[0], ==, 0);
  g_assert_cmpint (graft_graph_value (model->graph, model->output)->shape.dims[0], ==, 2);
}

static void
test_hostile_empty_and_random (void)
{
  g_autoptr (GError) error = NULL;
  guint64 state = 12345;

  g_assert_null (graft_model_load_from_data ((const guint8 *) "", 0, NULL, "empty.onnx", &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "empty.onnx"));
  g_clear_error (&error);

  for (int round = 0; round < 400; round++)
    {
      gsize size = 1 + (gsize) (round * 7 % 2000);
      g_autofree guint8 *bytes = g_malloc (size);
      GraftModel *model;
      for (gsize i = 0; i < size; i++)
        {
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          bytes[i] = (guint8) (state >> 56);
        }
      model = graft_model_load_from_data (bytes, size, NULL, "random.onnx", &error);
      g_assert_null (model);
      g_assert_nonnull (error);
      g_assert_true (error->domain == GRAFT_MODEL_ERROR);
      g_assert_true (error->code == GRAFT_MODEL_ERROR_PARSE || error->code == GRAFT_MODEL_ERROR_INVALID
                     || error->code == GRAFT_MODEL_ERROR_UNSUPPORTED);
      g_clear_error (&error);
    }
}

/* Every prefix of real files must fail cleanly or load. */
static void
test_hostile_truncated (void)
{
  const char *names[] = { "conv-relu.onnx", "bn-opset7.onnx", "flatten-chain-opset13.onnx" };

  for (guint n = 0; n < G_N_ELEMENTS (names); n++)
    {
      g_autofree char *path = data_path (names[n]);
      g_autofree char *contents = NULL;
      gsize size;
      int failed = 0, loaded = 0;

      g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
      for (gsize cut = 0; cut < size; cut++)
        {
          g_autoptr (GError) error = NULL;
          g_autofree guint8 *copy = g_memdup2 (contents, MAX (cut, 1));
          GraftModel *model = graft_model_load_from_data (copy, cut, NULL, names[n], &error);
          if (model != NULL)
            {
              loaded++;
              graft_model_free (model);
              continue;
            }
          failed++;
          g_assert_true (error->domain == GRAFT_MODEL_ERROR);
          g_assert_true (g_str_has_prefix (error->message, names[n]));
        }
      g_test_message ("%s: %d prefixes failed, %d loaded", names[n], failed, loaded);
      g_assert_cmpint (failed, >, 0);
    }
}

/* Random byte changes in a real file: errors or models, never crashes. */
static void
test_hostile_mutations (void)
{
  g_autofree char *path = data_path ("bn-opset7.onnx");
  g_autofree char *contents = NULL;
  gsize size;
  guint64 state = 777;
  int failed = 0;

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  for (int round = 0; round < 1500; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (contents, size);
      g_autoptr (GError) error = NULL;
      GraftModel *model;
      int changes = 1 + round % 4;
      for (int c = 0; c < changes; c++)
        {
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          copy[(state >> 33) % size] = (guint8) (state >> 13);
        }
      model = graft_model_load_from_data (copy, size, NULL, "mutated.onnx", &error);
      if (model == NULL)
        {
          g_assert_true (error->domain == GRAFT_MODEL_ERROR);
          failed++;
        }
      graft_model_free (model);
    }
  g_test_message ("%d of 1500 mutated files failed to load", failed);
}

static void
test_hostile_versions (void)
{
  {
    g_autoptr (Builder) b = builder_conv_relu (18);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "opset 18", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (6);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "opset 6", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    b->model.ir_version = 10;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "IR version 10", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    b->model.has_ir_version = FALSE;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "IR version", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    b->opset.domain = keep_string (b, "ai.onnx.ml");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "opset", NULL);
  }
  {
    /* "ai.onnx" is the default domain too. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    b->opset.domain = keep_string (b, "ai.onnx");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (model->opset, ==, 13);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    b->model.graph = NULL;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "no graph", NULL);
  }
}

static void
test_hostile_unsupported_ops (void)
{
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    ((Onnx__NodeProto *) b->nodes->pdata[1])->op_type = keep_string (b, "Elu");
    ((Onnx__NodeProto *) b->nodes->pdata[1])->name = keep_string (b, "elu1");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "node 'elu1'", "ONNX op 'Elu'", "opset 13", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    ((Onnx__NodeProto *) b->nodes->pdata[1])->domain = keep_string (b, "com.microsoft");
    ((Onnx__NodeProto *) b->nodes->pdata[1])->op_type = keep_string (b, "FusedRelu");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'FusedRelu'", "'com.microsoft'", NULL);
  }
  {
    /* A 1-D convolution. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { 1, 2, 8 }, w_dims[] = { 3, 2, 3 };
    add_input (b, "x", 3, x_dims);
    add_float_initializer (b, "w", 3, w_dims, 1);
    add_node (b, "Conv", "conv1d", "x,w", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "conv1d", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dilations[] = { 2, 2 }, kernel[] = { 2, 2 };
    Onnx__NodeProto *pool = add_node (b, "MaxPool", "pool", "y", "p");
    attribute_ints (b, pool, "kernel_shape", 2, kernel);
    attribute_ints (b, pool, "dilations", 2, dilations);
    b->outputs->pdata[0] = value_info (b, "p", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'pool'", "dilations", NULL);
  }
  {
    /* MaxPool's Indices output in use. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 kernel[] = { 2, 2 };
    Onnx__NodeProto *pool = add_node (b, "MaxPool", "pool", "y", "p,indices");
    attribute_ints (b, pool, "kernel_shape", 2, kernel);
    add_node (b, "Relu", "reads_indices", "indices", "z");
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'pool'", "indices", NULL);
  }
  {
    /* Dropout's mask in use. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Dropout", "drop", "y", "d,mask");
    b->outputs->pdata[0] = value_info (b, "mask", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'drop'", "mask", NULL);
  }
  {
    /* Softmax along the channels at opset 13 is the engine's SoftmaxAxis (it was refused
     * before Graft had one). */
    g_autoptr (Builder) b = builder_conv_relu (13);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    Onnx__NodeProto *softmax = add_node (b, "Softmax", "softmax", "y", "s");
    attribute_int (b, softmax, "axis", 1);
    b->outputs->pdata[0] = value_info (b, "s", -1, NULL);
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (node_named (model, "softmax")->attributes.op, ==, GRAFT_OP_SOFTMAX_AXIS);
    g_assert_cmpint (node_named (model, "softmax")->attributes.softmax_axis.axis, ==, 1);
  }
  {
    /* c - x has no engine form. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 one[] = { 1 };
    add_float_initializer (b, "k", 1, one, 1);
    add_node (b, "Sub", "reverse_sub", "k,y", "s");
    b->outputs->pdata[0] = value_info (b, "s", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'reverse_sub'", NULL);
  }
  {
    /* Squeezing the batch away. */
    g_autoptr (Builder) b = builder_conv_relu (11);
    static const gint64 axes[] = { 0 };
    Onnx__NodeProto *squeeze = add_node (b, "Squeeze", "squeeze0", "y", "s");
    attribute_ints (b, squeeze, "axes", 1, axes);
    b->outputs->pdata[0] = value_info (b, "s", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'squeeze0'", "batch", NULL);
  }
  {
    /* Reflect padding. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 pads[] = { 0, 0, 1, 1, 0, 0, 1, 1 };
    Onnx__NodeProto *pad;
    add_int_initializer (b, "pads", 8, pads);
    pad = add_node (b, "Pad", "reflect", "y,pads", "p");
    add_attribute (b, pad, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)->s =
      (ProtobufCBinaryData) { 7, (guint8 *) "reflect" };
    pad->attribute[0]->has_s = TRUE;
    b->outputs->pdata[0] = value_info (b, "p", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'reflect'", NULL);
  }
}

static void
test_hostile_batchnorm (void)
{
  static const gint64 c3[] = { 3 };

  for (int form = 0; form < 3; form++)
    {
      g_autoptr (Builder) b = builder_conv_relu (form == 0 ? 7 : 14);
      Onnx__NodeProto *bn;
      add_float_initializer (b, "g", 1, c3, 1);
      add_float_initializer (b, "be", 1, c3, 0);
      add_float_initializer (b, "m", 1, c3, 0);
      add_float_initializer (b, "v", 1, c3, 1);
      if (form == 2)
        {
          /* The training form: running statistics are outputs, and used. */
          bn = add_node (b, "BatchNormalization", "bn", "y,g,be,m,v", "z,running_mean,running_var");
          add_node (b, "Relu", "reads_stats", "running_mean", "r");
          b->outputs->pdata[0] = value_info (b, "r", -1, NULL);
          expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'bn'", "training-mode graph", NULL);
          continue;
        }
      bn = add_node (b, "BatchNormalization", "bn", "y,g,be,m,v", "z");
      attribute_int (b, bn, form == 0 ? "spatial" : "training_mode", form == 0 ? 0 : 1);
      b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
      expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'bn'", form == 0 ? "spatial=0" : "training-mode graph",
                    NULL);
    }
}

static void
test_hostile_tensors (void)
{
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 huge[] = { (gint64) 1 << 40, (gint64) 1 << 40, (gint64) 1 << 40 };
    Onnx__TensorProto *t = b->initializers->pdata[0];
    t->n_dims = 3;
    t->dims = (gint64 *) huge;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'w'", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 big[] = { (gint64) 1 << 20, (gint64) 1 << 20 };
    Onnx__TensorProto *t = b->initializers->pdata[0];
    t->n_dims = 2;
    t->dims = (gint64 *) big;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'w'", "raw data", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 negative[] = { 3, -2, 3, 3 };
    ((Onnx__TensorProto *) b->initializers->pdata[0])->dims = (gint64 *) negative;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'w'", "negative", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    ((Onnx__TensorProto *) b->initializers->pdata[0])->raw_data.len -= 4;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'w'", "raw data", NULL);
  }
  {
    /* float_data one short. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    Onnx__TensorProto *t = b->initializers->pdata[0];
    t->has_raw_data = FALSE;
    t->n_float_data = 53;
    t->float_data = keep (b, g_new0 (float, 53));
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'w'", "54", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    ((Onnx__TensorProto *) b->initializers->pdata[0])->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'w'", "float16", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { 1, 1, 1, 1, 1, 1, 1 };
    Onnx__TensorProto *t = b->initializers->pdata[0];
    t->n_dims = 7;
    t->dims = (gint64 *) dims;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'w'", "7 dimensions", NULL);
  }
  {
    /* A weight that is an integer tensor. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { 1, 4 }, w_values[] = { 1, 2, 3, 4 };
    add_input (b, "x", 2, x_dims);
    add_int_initializer (b, "w", 4, w_values);
    add_node (b, "Mul", "mul", "x,w", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'mul'", "'w'", "integer", NULL);
  }
  {
    /* Folding that would allocate far too much. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 shape[] = { 100000, 100000 };
    add_int_initializer (b, "shape", 2, shape);
    add_node (b, "ConstantOfShape", "fill", "shape", "big");
    add_node (b, "Add", "add_big", "y,big", "z");
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'fill'", NULL);
  }
  {
    /* Gather out of range. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 index[] = { 7 }, minus_one[] = { -1 };
    add_int_initializer (b, "index", 1, index);
    add_int_initializer (b, "minus_one", 1, minus_one);
    add_node (b, "Shape", "shape", "y", "s");
    add_node (b, "Gather", "gather", "s,index", "g");
    add_node (b, "Concat", "cat", "g,minus_one", "target");
    attribute_int (b, (Onnx__NodeProto *) b->nodes->pdata[b->nodes->len - 1], "axis", 0);
    add_node (b, "Reshape", "reshape", "y,target", "z");
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'gather'", "7", NULL);
  }
}

static void
test_hostile_graph (void)
{
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Relu", "haunted", "ghost", "z");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "node 'haunted' (Relu) reads 'ghost', which nothing produces",
                  NULL);
  }
  {
    /* a -> b -> c -> a, fed by x. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { 1, 4 };
    add_input (b, "x", 2, x_dims);
    add_node (b, "Add", "first", "x,c_out", "a_out");
    add_node (b, "Relu", "second", "a_out", "b_out");
    add_node (b, "Relu", "third", "b_out", "c_out");
    add_node (b, "Relu", "outside", "b_out", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "cycle", NULL);
  }
  {
    /* Nodes out of order are sorted. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    gpointer first = b->nodes->pdata[0];
    b->nodes->pdata[0] = b->nodes->pdata[1];
    b->nodes->pdata[1] = first;
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (graft_graph_node (model->graph, 0)->name, ==, "conv");
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Relu", "again", "c", "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'y'", "'relu'", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Relu", "overwrites", "c", "w");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'overwrites'", "'w'", "initializer", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { 1 };
    add_float_initializer (b, "w", 1, dims, 0);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "two initializers named 'w'", NULL);
  }
  {
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { 1, 4 };
    add_input (b, "x", 2, x_dims);
    add_output (b, "x");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "no nodes", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    g_ptr_array_set_size (b->outputs, 0);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "no graph output", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    b->outputs->pdata[0] = value_info (b, "nowhere", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'nowhere'", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { 1, 4 };
    add_input (b, "second_input", 2, dims);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "2 graph inputs", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    g_ptr_array_set_size (b->inputs, 0);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "no graph input", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { -1, 2, -1, 4 };
    b->inputs->pdata[0] = value_info (b, "x", 4, dims);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'x'", "symbolic", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { 1, 2, 0, 4 };
    b->inputs->pdata[0] = value_info (b, "x", 4, dims);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'x'", NULL);
  }
  {
    /* A node with a million inputs. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    Onnx__NodeProto *cat = add_node (b, "Concat", "wide", "y", "z");
    char **inputs = keep (b, g_new (char *, 1000000));
    for (int i = 0; i < 1000000; i++)
      inputs[i] = cat->input[0];
    cat->input = inputs;
    cat->n_input = 1000000;
    attribute_int (b, cat, "axis", 1);
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'wide'", "1000000 inputs", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Add", "three", "y,y,y", "z");
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'three'", "takes 2 inputs, not 3", NULL);
  }
  {
    /* The output does not depend on the input. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    add_node (b, "Identity", "just_weights", "w", "z");
    b->outputs->pdata[0] = value_info (b, "z", -1, NULL);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'z'", NULL);
  }
  {
    /* Padding that makes a tensor far too large for any plan. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 pads[] = { 5000, 5000, 5000, 5000 };
    ((Onnx__NodeProto *) b->nodes->pdata[0])->attribute[0]->ints = (gint64 *) pads;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'conv'", "larger than Graft accepts", NULL);
  }
  {
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 pads[] = { 100000, 100000, 100000, 100000 };
    ((Onnx__NodeProto *) b->nodes->pdata[0])->attribute[0]->ints = (gint64 *) pads;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'conv'", "too large", NULL);
  }
  {
    /* Shapes that do not fit: the engine's message, with the node's name. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    static const gint64 dims[] = { 3, 5, 3, 3 };
    ((Onnx__TensorProto *) b->initializers->pdata[0])->dims = (gint64 *) dims;
    ((Onnx__TensorProto *) b->initializers->pdata[0])->raw_data.len = 3 * 5 * 9 * 4;
    ((Onnx__TensorProto *) b->initializers->pdata[0])->raw_data.data = keep (b, g_malloc0 (3 * 5 * 9 * 4));
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'conv'", NULL);
  }
}

/* A model path that is a FIFO (or a device) is refused, not waited on. */
static void
test_model_not_regular (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-import-XXXXXX", &error);
  g_autofree char *pipe = g_build_filename (root, "model.onnx", NULL);
  g_assert_no_error (error);
  g_assert_cmpint (mkfifo (pipe, 0600), ==, 0);

  alarm (30);   /* a regression blocks in open() for ever: SIGALRM fails the test instead */
  g_autoptr (GraftModel) model = graft_model_load (pipe, &error);
  g_assert_null (model);
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, pipe));
  g_assert_nonnull (strstr (error->message, "not a regular file (a FIFO)"));
  g_clear_error (&error);

  g_assert_null (graft_model_load ("/dev/zero", &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file (a character device)"));
  alarm (0);

  g_unlink (pipe);
  g_rmdir (root);
}

/* External data: inside the folder it loads; outside it is refused. */
static void
test_external_data (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-import-XXXXXX", &error);
  g_autofree char *folder = g_build_filename (root, "model", NULL);
  g_autofree char *inside = g_build_filename (folder, "weights.bin", NULL);
  g_autofree char *outside = g_build_filename (root, "secret.bin", NULL);
  g_autofree char *link_out = g_build_filename (folder, "link-out.bin", NULL);
  g_autofree char *link_in = g_build_filename (folder, "link-in.bin", NULL);
  g_autofree char *pipe = g_build_filename (folder, "pipe.bin", NULL);
  float weights[2 + 54];
  struct {
    const char *location, *offset, *length;
    GraftModelError code;
    const char *message;
  } cases[] = {
    { "weights.bin", "8", NULL, -1, NULL },
    { "link-in.bin", "8", "216", -1, NULL },
    { "../secret.bin", "8", NULL, GRAFT_MODEL_ERROR_INVALID, "outside the model's folder" },
    { "sub/../../secret.bin", "8", NULL, GRAFT_MODEL_ERROR_INVALID, "outside the model's folder" },
    { "/etc/passwd", NULL, NULL, GRAFT_MODEL_ERROR_INVALID, "absolute path" },
    { "link-out.bin", "8", NULL, GRAFT_MODEL_ERROR_INVALID, "resolves outside" },
    { "missing.bin", NULL, NULL, GRAFT_MODEL_ERROR_IO, "missing.bin" },
    /* A FIFO with no writer: opening it for reading would wait for ever. */
    { "pipe.bin", "8", NULL, GRAFT_MODEL_ERROR_IO, "not a regular file (a FIFO)" },
    { "weights.bin", "16", NULL, GRAFT_MODEL_ERROR_INVALID, "has only 224" },
    { "weights.bin", "-8", NULL, GRAFT_MODEL_ERROR_INVALID, "offset" },
    { "weights.bin", "0", "100", GRAFT_MODEL_ERROR_INVALID, "100 bytes" },
    { "weights.bin", "99999999999999999999", NULL, GRAFT_MODEL_ERROR_INVALID, "offset" },
    { "", NULL, NULL, GRAFT_MODEL_ERROR_INVALID, "location" },
  };

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  for (int i = 0; i < 56; i++)
    weights[i] = (float) i;
  g_assert_true (g_file_set_contents (inside, (const char *) weights, sizeof weights, NULL));
  g_assert_true (g_file_set_contents (outside, (const char *) weights, sizeof weights, NULL));
  g_assert_cmpint (symlink (outside, link_out), ==, 0);
  g_assert_cmpint (symlink ("weights.bin", link_in), ==, 0);
  g_assert_cmpint (mkfifo (pipe, 0600), ==, 0);

  alarm (60);   /* a regression blocks on the FIFO: SIGALRM fails the test instead */
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (Builder) b = builder_conv_relu (13);
      Onnx__TensorProto *t = b->initializers->pdata[0];
      const char *keys[] = { "location", "offset", "length" };
      const char *values[] = { cases[c].location, cases[c].offset, cases[c].length };
      t->has_raw_data = FALSE;
      t->has_data_location = TRUE;
      t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
      t->external_data = keep (b, g_new0 (Onnx__StringStringEntryProto *, 3));
      for (int k = 0; k < 3; k++)
        if (values[k] != NULL)
          {
            Onnx__StringStringEntryProto *e = keep (b, g_new (Onnx__StringStringEntryProto, 1));
            onnx__string_string_entry_proto__init (e);
            e->key = (char *) keys[k];
            e->value = (char *) values[k];
            t->external_data[t->n_external_data++] = e;
          }
      if (cases[c].message == NULL)
        {
          g_autoptr (GraftModel) model = builder_load (b, folder, &error);
          const graft_value *w;
          g_assert_no_error (error);
          w = graft_graph_value (model->graph, graft_graph_find_value (model->graph, "w"));
          g_assert_cmpfloat (w->data[0], ==, 2.0f);
          g_assert_cmpfloat (w->data[53], ==, 55.0f);
          continue;
        }
      g_test_message ("external data '%s'", cases[c].location);
      expect_error (b, folder, cases[c].code, "'w'", cases[c].message, NULL);
    }
  {
    /* From memory without a folder: refused. */
    g_autoptr (Builder) b = builder_conv_relu (13);
    Onnx__TensorProto *t = b->initializers->pdata[0];
    Onnx__StringStringEntryProto *e = keep (b, g_new (Onnx__StringStringEntryProto, 1));
    onnx__string_string_entry_proto__init (e);
    e->key = (char *) "location";
    e->value = (char *) "weights.bin";
    t->has_raw_data = FALSE;
    t->has_data_location = TRUE;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = 1;
    t->external_data = keep (b, g_new (Onnx__StringStringEntryProto *, 1));
    t->external_data[0] = e;
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'w'", "external", NULL);
  }
  alarm (0);

  g_unlink (pipe);
  g_unlink (link_in);
  g_unlink (link_out);
  g_unlink (inside);
  g_unlink (outside);
  g_rmdir (folder);
  g_rmdir (root);
}

/* The folded flatten chain also runs at batch 16, beyond what the file was made at. */
static void
test_flatten_batch16 (void)
{
  g_autoptr (GraftModel) model = load_data_model ("flatten-chain-opset13");
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = 16, .keep = &model->output, .n_keep = 1 };
  graft_plan *plan = graft_plan_new (model->graph, &options, NULL);
  graft_shape shape;

  g_assert_nonnull (plan);
  g_assert_cmpint (graft_plan_forward (plan, NULL), ==, GRAFT_OK);
  g_assert_nonnull (graft_plan_value_data (plan, model->output, &shape));
  g_assert_cmpint (shape.rank, ==, 2);
  g_assert_cmpint (shape.dims[0], ==, 16);
  g_assert_cmpint (shape.dims[1], ==, 5);
  graft_plan_free (plan);
}

/* ------------------------------------------------------------------------ */
/* Split and Slice on computed tensors                                       */

/* Runs model at batch on input; returns a copy of the output and its shape. */
static float *
run_output (GraftModel *model, int batch, const float *input, graft_shape *shape)
{
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = batch, .keep = &model->output, .n_keep = 1 };
  graft_shape in_shape = graft_graph_value (model->graph, model->input)->shape;
  graft_error error;
  graft_plan *plan = graft_plan_new (model->graph, &options, &error);
  size_t in_count, count;
  const float *data;
  float *copy;

  if (plan == NULL)
    g_error ("plan: %s", error.message);
  in_shape.dims[0] = batch;
  graft_shape_count (&in_shape, &in_count, NULL);
  if (graft_plan_set_input (plan, model->input, input, in_count, &error) != GRAFT_OK
      || graft_plan_forward (plan, &error) != GRAFT_OK)
    g_error ("forward: %s", error.message);
  data = graft_plan_value_data (plan, model->output, shape);
  g_assert_nonnull (data);
  graft_shape_count (shape, &count, NULL);
  copy = g_memdup2 (data, MAX (count, 1) * sizeof (float));
  graft_plan_free (plan);
  return copy;
}

/* x[n][c][s] = 1000 n + 10 c + s for an (N,C,S...) input of count elements. */
static float *
numbered_input (int batch, int channels, int spatial)
{
  float *x = g_new (float, (gsize) batch * channels * spatial);
  for (int n = 0; n < batch; n++)
    for (int c = 0; c < channels; c++)
      for (int k = 0; k < spatial; k++)
        x[(n * channels + c) * spatial + k] = (float) (1000 * n + 10 * c + k);
  return x;
}

/* Asserts that y (N, len(order), S) holds the channels order[] of numbered_input. */
static void
assert_channels (const float *y, const graft_shape *shape, int batch, const int *order, int n_order, int spatial)
{
  g_assert_cmpint (shape->dims[0], ==, batch);
  g_assert_cmpint (shape->dims[1], ==, n_order);
  for (int n = 0; n < batch; n++)
    for (int c = 0; c < n_order; c++)
      for (int k = 0; k < spatial; k++)
        if (y[(n * n_order + c) * spatial + k] != (float) (1000 * n + 10 * order[c] + k))
          g_error ("channel %d of image %d holds %g, not input channel %d", c, n,
                   (double) y[(n * n_order + c) * spatial + k], order[c]);
}

/* Replaces the inputs of node (comma-separated names, "" for an absent one). */
static void
set_inputs (Builder *b, Onnx__NodeProto *node, const char *inputs)
{
  char **in = keep (b, g_strsplit (inputs, ",", -1));
  for (int i = 0; in[i] != NULL; i++)
    keep (b, in[i]);
  node->input = in;
  node->n_input = g_strv_length (in);
}

/* x (N,6,2,2) split along the channels, the parts joined again in reverse order. */
static Builder *
builder_split (gint64 opset, const char *outputs, const char *concat_inputs)
{
  Builder *b = builder_new (opset);
  static const gint64 x_dims[] = { -1, 6, 2, 2 };
  Onnx__NodeProto *concat;

  add_input (b, "x", 4, x_dims);
  add_node (b, "Split", "split", "x", outputs);
  concat = add_node (b, "Concat", "join", concat_inputs, "y");
  attribute_int (b, concat, "axis", 1);
  add_output (b, "y");
  return b;
}

static void
test_split_forms (void)
{
  static const int two_four[] = { 2, 3, 4, 5, 0, 1 }, thirds[] = { 4, 5, 2, 3, 0, 1 };
  static const int halves[] = { 3, 4, 5, 0, 1, 2 };
  g_autofree float *x = numbered_input (3, 6, 4);
  static const struct {
    gint64 opset;
    const char *form;
  } forms[] = {
    { 11, "attribute [2, 4]" }, { 11, "no attribute: three equal parts, axis -3" },
    { 13, "input [2, 4]" }, { 13, "no input: two equal parts" }, { 13, "empty input name: three equal parts" },
    { 7, "attribute [2, 4]" }, { 17, "input [2, 4]" },
  };

  for (guint f = 0; f < G_N_ELEMENTS (forms); f++)
    {
      g_autoptr (Builder) b = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftModel) model = NULL;
      g_autofree float *y = NULL;
      Onnx__NodeProto *split;
      const int *order;
      int parts;
      graft_shape shape;
      static const gint64 sizes[] = { 2, 4 };

      g_test_message ("Split at opset %" G_GINT64_FORMAT ", %s", forms[f].opset, forms[f].form);
      if (strstr (forms[f].form, "[2, 4]") != NULL)
        {
          b = builder_split (forms[f].opset, "a,b", "b,a");
          split = b->nodes->pdata[0];
          if (forms[f].opset >= 13)
            {
              add_int_initializer (b, "sizes", 2, sizes);
              set_inputs (b, split, "x,sizes");
            }
          else
            attribute_ints (b, split, "split", 2, sizes);
          attribute_int (b, split, "axis", 1);
          order = two_four, parts = 2;
        }
      else if (strstr (forms[f].form, "three") != NULL)
        {
          b = builder_split (forms[f].opset, "a,b,c", "c,b,a");
          split = b->nodes->pdata[0];
          attribute_int (b, split, "axis", -3);
          if (strstr (forms[f].form, "empty input") != NULL)
            {
              set_inputs (b, split, "x,");
            }
          order = thirds, parts = 3;
        }
      else
        {
          b = builder_split (forms[f].opset, "a,b", "b,a");
          attribute_int (b, b->nodes->pdata[0], "axis", 1);
          order = halves, parts = 2;
        }
      model = builder_load (b, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (count_ops (model, GRAFT_OP_SLICE), ==, parts);
      g_assert_cmpint (node_named (model, "split/0")->attributes.slice.axis, ==, 1);
      g_assert_cmpint (node_named (model, "split/0")->attributes.slice.start, ==, 0);
      g_assert_cmpint (node_named (model, "split/1")->attributes.slice.start, ==, order == two_four ? 2 : 6 / parts);
      g_assert_cmpint (value_named (model, "b")->shape.dims[1], ==, order == two_four ? 4 : 6 / parts);
      /* At batch 3, beyond the file's batch 1. */
      y = run_output (model, 3, x, &shape);
      assert_channels (y, &shape, 3, order, 6, 4);
    }
}

/* Split of a constant is folded; outputs nothing reads are not computed; a Split of
 * the whole axis into one part is the tensor itself. */
static void
test_split_folded_and_unused (void)
{
  {
    g_autoptr (Builder) b = builder_new (11);
    static const gint64 x_dims[] = { -1, 4 }, c_dims[] = { 6 }, sizes[] = { 2, 4 };
    static const float values[] = { 0, 1, 2, 3, 4, 5 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *y = NULL;
    float x[8] = { 10, 20, 30, 40, 50, 60, 70, 80 };
    Onnx__TensorProto *c = tensor (b, "c", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, c_dims);
    graft_shape shape;

    c->n_float_data = 6;
    c->float_data = (float *) values;
    g_ptr_array_add (b->initializers, c);
    add_input (b, "x", 2, x_dims);
    attribute_ints (b, add_node (b, "Split", "split_constant", "c", "c0,c1"), "split", 2, sizes);
    add_node (b, "Add", "add", "x,c1", "y");
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (count_ops (model, GRAFT_OP_SLICE), ==, 0);
    y = run_output (model, 2, x, &shape);
    for (int i = 0; i < 8; i++)
      g_assert_cmpfloat (y[i], ==, x[i] + (float) (2 + i % 4));
  }
  {
    /* Three parts, only the middle one read (and it is the graph's output). */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { -1, 6, 2, 2 };
    static const int middle[] = { 2, 3 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (2, 6, 4), *y = NULL;
    graft_shape shape;

    add_input (b, "x", 4, x_dims);
    attribute_int (b, add_node (b, "Split", "split", "x", "a,b,c"), "axis", 1);
    add_output (b, "b");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (graft_graph_node_count (model->graph), ==, 1);
    g_assert_cmpstr (model->output_name, ==, "b");
    y = run_output (model, 2, x, &shape);
    assert_channels (y, &shape, 2, middle, 2, 4);
  }
  {
    /* One part: the whole axis, no copy. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 x_dims[] = { -1, 6, 2, 2 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    Onnx__NodeProto *concat;

    add_input (b, "x", 4, x_dims);
    attribute_int (b, add_node (b, "Split", "split", "x", "whole"), "axis", 1);
    concat = add_node (b, "Concat", "join", "whole,x", "y");
    attribute_int (b, concat, "axis", 1);
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (count_ops (model, GRAFT_OP_SLICE), ==, 0);
    g_assert_cmpint (graft_graph_node_count (model->graph), ==, 1);
    g_assert_cmpint (value_named (model, "y")->shape.dims[1], ==, 12);
  }
}

static void
test_split_errors (void)
{
  static const gint64 bad_sum[] = { 2, 3 }, three[] = { 2, 2, 2 }, negative[] = { 7, -1 };
  {
    /* Sizes that do not add up to the axis. */
    g_autoptr (Builder) b = builder_split (11, "a,b", "b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_ints (b, b->nodes->pdata[0], "split", 2, bad_sum);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "node 'split' (Split)", "add up to 5", "has 6", NULL);
  }
  {
    g_autoptr (Builder) b = builder_split (11, "a,b", "b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_ints (b, b->nodes->pdata[0], "split", 2, negative);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'split'", "split size -1", NULL);
  }
  {
    /* As many sizes as outputs. */
    g_autoptr (Builder) b = builder_split (11, "a,b", "b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_ints (b, b->nodes->pdata[0], "split", 3, three);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'split'", "3 split sizes for 2 outputs", NULL);
  }
  {
    /* Equal parts that do not divide the axis. */
    g_autoptr (Builder) b = builder_split (13, "a,b,c,d", "d,c,b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'split'", "axis of 6 into 4 equal parts", NULL);
  }
  {
    /* Sizes computed at run time (here: the input itself). */
    g_autoptr (Builder) b = builder_split (13, "a,b", "b,a");
    Onnx__NodeProto *split = b->nodes->pdata[0];
    set_inputs (b, split, "x,x");
    attribute_int (b, split, "axis", 1);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "node 'split' (Split)", "split sizes 'x' computed at run time",
                  NULL);
  }
  {
    /* A part of size 0 that something reads. */
    g_autoptr (Builder) b = builder_split (11, "a,b", "b,a");
    static const gint64 sizes[] = { 0, 6 };
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_ints (b, b->nodes->pdata[0], "split", 2, sizes);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'split'", "[0, 0)", "empty tensors", NULL);
  }
  {
    /* Opset 13 moved the sizes to an input. */
    g_autoptr (Builder) b = builder_split (13, "a,b", "b,a");
    static const gint64 sizes[] = { 3, 3 };
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_ints (b, b->nodes->pdata[0], "split", 2, sizes);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'split'", "'split' attribute", "opset is 13", NULL);
  }
  {
    /* The batch axis (the default axis 0). */
    g_autoptr (Builder) b = builder_split (13, "a,b", "b,a");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'split'", "batch axis", NULL);
  }
  {
    g_autoptr (Builder) b = builder_split (13, "a,b", "b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 4);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "'split'", "axis 4", NULL);
  }
  {
    /* Opset 18 (num_outputs) is beyond what Graft reads at all. */
    g_autoptr (Builder) b = builder_split (18, "a,b", "b,a");
    attribute_int (b, b->nodes->pdata[0], "axis", 1);
    attribute_int (b, b->nodes->pdata[0], "num_outputs", 2);
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "opset 18", NULL);
  }
}

/* Slice with step 1 on a computed tensor: one engine Slice per axis it narrows;
 * the whole batch passes; part of the batch, or other steps, are refused. */
static void
test_slice_computed (void)
{
  static const gint64 x_dims[] = { -1, 6, 2, 2 };
  {
    /* Channels 1..3, and the last row dropped ([0, -1) of H): two chained slices. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 starts[] = { 0, 1, 0 }, ends[] = { G_MAXINT64, 4, -1 }, axes[] = { 0, 1, -2 };
    static const int channels[] = { 1, 2, 3 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (2, 6, 4), *y = NULL;
    graft_shape shape;

    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "starts", 3, starts);
    add_int_initializer (b, "ends", 3, ends);
    add_int_initializer (b, "axes", 3, axes);
    add_node (b, "Slice", "slice", "x,starts,ends,axes", "y");
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (count_ops (model, GRAFT_OP_SLICE), ==, 2);
    g_assert_cmpint (node_named (model, "slice/axis1")->attributes.slice.end, ==, 4);
    g_assert_cmpint (node_named (model, "slice")->attributes.slice.axis, ==, 2);
    y = run_output (model, 2, x, &shape);
    g_assert_cmpint (shape.rank, ==, 4);
    g_assert_cmpint (shape.dims[2], ==, 1);
    g_assert_cmpint (shape.dims[3], ==, 2);
    /* Row 0 of each channel: spatial elements 0 and 1. */
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 3; c++)
        for (int k = 0; k < 2; k++)
          g_assert_cmpfloat (y[(n * 3 + c) * 2 + k], ==, (float) (1000 * n + 10 * channels[c] + k));
  }
  {
    /* Opset 9: attributes; ends past the axis are clamped. */
    g_autoptr (Builder) b = builder_new (9);
    static const gint64 starts[] = { 4 }, ends[] = { 100 }, axes[] = { 1 };
    static const int channels[] = { 4, 5 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (3, 6, 4), *y = NULL;
    Onnx__NodeProto *slice;
    graft_shape shape;

    add_input (b, "x", 4, x_dims);
    slice = add_node (b, "Slice", "slice", "x", "y");
    attribute_ints (b, slice, "starts", 1, starts);
    attribute_ints (b, slice, "ends", 1, ends);
    attribute_ints (b, slice, "axes", 1, axes);
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    y = run_output (model, 3, x, &shape);
    assert_channels (y, &shape, 3, channels, 2, 4);
  }
  {
    /* Part of the batch. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 starts[] = { 0 }, ends[] = { 1 };
    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "starts", 1, starts);
    add_int_initializer (b, "ends", 1, ends);
    add_node (b, "Slice", "first_image", "x,starts,ends", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "node 'first_image' (Slice)", "batch axis", NULL);
  }
  {
    /* Every other channel backwards (forwards: test_slice_steps). */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 starts[] = { 5 }, ends[] = { 0 }, axes[] = { 1 }, steps[] = { -2 };
    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "starts", 1, starts);
    add_int_initializer (b, "ends", 1, ends);
    add_int_initializer (b, "axes", 1, axes);
    add_int_initializer (b, "steps", 1, steps);
    add_node (b, "Slice", "strided", "x,starts,ends,axes,steps", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'strided'", "step -2", NULL);
  }
  {
    /* Nothing left: starts past the axis. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 starts[] = { 10 }, ends[] = { 20 }, axes[] = { 1 };
    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "starts", 1, starts);
    add_int_initializer (b, "ends", 1, ends);
    add_int_initializer (b, "axes", 1, axes);
    add_node (b, "Slice", "empty", "x,starts,ends,axes", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'empty'", "[6, 6)", "empty tensors", NULL);
  }
  {
    /* Starts computed at run time. */
    g_autoptr (Builder) b = builder_new (13);
    static const gint64 ends[] = { 6 };
    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "ends", 1, ends);
    add_node (b, "Slice", "dynamic", "x,x,ends", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "'dynamic'", "starts", "run time", NULL);
  }
}

/* ------------------------------------------------------------------------ */
/* Swin's shape logic, folded                                                */

/* A rank-0 int64 initializer. */
static void
add_int_scalar (Builder *b, const char *name, gint64 value)
{
  Onnx__TensorProto *t = tensor (b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL);
  t->n_int64_data = 1;
  t->int64_data = keep (b, g_memdup2 (&value, sizeof value));
  g_ptr_array_add (b->initializers, t);
}

/* Range, Mod, ScatterND, Equal, Not, Where, Cast, Pad, Pow and Transpose on constants,
 * as Swin's shifted-window mask uses them, fold into one constant added to x; a Pad
 * of nothing on x is x. */
static void
test_fold_swin_ops (void)
{
  static const gint64 x_dims[] = { -1, 7 }, zeros[] = { 0, 0, 0, 0 }, updates[] = { 7, 9 };
  static const gint64 index_dims[] = { 2, 1 }, indices[] = { 1, 3 }, pads[] = { 1, 2 }, no_pads[] = { 0, 0, 0, 0 };
  static const gint64 column[] = { 7, 1 };
  /* m = Mod ([-2, -1, 0, 1], 3) = [1, 2, 0, 1] (the divisor's sign, as Python's %);
   * s = ScatterND ([0, 0, 0, 0], [[1], [3]], [7, 9]) = [0, 7, 0, 9];
   * w = Where (Not (Equal (m, 1)), m + s, Range (0, 4, 1)) = [0, 9, 0, 3];
   * Pad (w, [1, 2], 5) = [5, 0, 9, 0, 3, 5, 5], squared. */
  static const float want[] = { 25, 0, 81, 0, 9, 25, 25 };
  g_autoptr (Builder) b = builder_new (14);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autofree float *x = numbered_input (2, 7, 1), *y = NULL;
  Onnx__TensorProto *index;
  Onnx__NodeProto *node;
  graft_shape shape;
  float five = 5, two = 2;
  gint64 scalar_dims[1] = { 0 };

  add_input (b, "x", 2, x_dims);
  add_int_scalar (b, "minus2", -2);
  add_int_scalar (b, "zero", 0);
  add_int_scalar (b, "one", 1);
  add_int_scalar (b, "two_i", 2);
  add_int_scalar (b, "three", 3);
  add_int_scalar (b, "four", 4);
  add_int_initializer (b, "zeros", 4, zeros);
  add_int_initializer (b, "updates", 2, updates);
  index = tensor (b, "indices", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 2, index_dims);
  index->n_int64_data = 2;
  index->int64_data = keep (b, g_memdup2 (indices, sizeof indices));
  g_ptr_array_add (b->initializers, index);
  add_int_initializer (b, "pads", 2, pads);
  add_int_initializer (b, "no_pads", 4, no_pads);
  add_int_initializer (b, "column", 2, column);
  add_float_initializer (b, "five", 0, scalar_dims, five);
  add_float_initializer (b, "two", 0, scalar_dims, two);

  add_node (b, "Range", "range", "minus2,two_i,one", "r");
  add_node (b, "Mod", "mod", "r,three", "m");
  add_node (b, "ScatterND", "scatter", "zeros,indices,updates", "s");
  add_node (b, "Equal", "equal", "m,one", "e");
  add_node (b, "Not", "not", "e", "n");
  node = add_node (b, "Cast", "to_bool", "n", "nb");
  attribute_int (b, node, "to", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL);
  add_node (b, "Add", "sum", "m,s", "ms");
  add_node (b, "Range", "range4", "zero,four,one", "r4");
  add_node (b, "Where", "where", "nb,ms,r4", "w");
  node = add_node (b, "Cast", "to_float", "w", "wf");
  attribute_int (b, node, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
  add_node (b, "Pad", "pad", "wf,pads,five", "p");
  add_node (b, "Pow", "square", "p,two", "q");
  add_node (b, "Reshape", "as_column", "q,column", "qc");
  add_node (b, "Transpose", "as_row", "qc", "qr");
  add_node (b, "Pad", "pad_nothing", "x,no_pads", "xp");
  add_node (b, "Add", "add", "xp,qr", "y");
  add_output (b, "y");
  model = builder_load (b, NULL, &error);
  g_assert_no_error (error);
  /* Only the Add runs: everything else folded (or was nothing). */
  g_assert_cmpint (graft_graph_node_count (model->graph), ==, 1);
  y = run_output (model, 2, x, &shape);
  g_assert_cmpint (shape.rank, ==, 2);
  g_assert_cmpint (shape.dims[1], ==, 7);
  for (int n = 0; n < 2; n++)
    for (int k = 0; k < 7; k++)
      g_assert_cmpfloat (y[n * 7 + k], ==, x[n * 7 + k] + want[k]);
}

/* The folded ops refuse tensors computed at run time and bad constants, saying which. */
static void
test_fold_swin_errors (void)
{
  static const gint64 x_dims[] = { -1, 4 };
  {
    g_autoptr (Builder) b = builder_new (14);
    add_input (b, "x", 2, x_dims);
    add_float_initializer (b, "three", 0, x_dims, 3);
    add_node (b, "Mod", "mod", "x,three", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "node 'mod' (Mod)", "computed at run time", NULL);
  }
  {
    g_autoptr (Builder) b = builder_new (14);
    add_input (b, "x", 2, x_dims);
    add_int_scalar (b, "zero", 0);
    add_int_scalar (b, "four", 4);
    add_node (b, "Range", "range", "zero,four,zero", "r");
    add_node (b, "Add", "add", "x,r", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "node 'range' (Range)", "delta of 0", NULL);
  }
  {
    static const gint64 data[] = { 0, 0 }, index[] = { 5 }, update[] = { 1 };
    g_autoptr (Builder) b = builder_new (14);
    Onnx__TensorProto *t;
    gint64 dims[2] = { 1, 1 };
    add_input (b, "x", 2, x_dims);
    add_int_initializer (b, "data", 2, data);
    t = tensor (b, "index", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 2, dims);
    t->n_int64_data = 1;
    t->int64_data = keep (b, g_memdup2 (index, sizeof index));
    g_ptr_array_add (b->initializers, t);
    add_int_initializer (b, "update", 1, update);
    add_node (b, "ScatterND", "scatter", "data,index,update", "s");
    add_node (b, "Add", "add", "x,s", "y");
    add_output (b, "y");
    expect_error (b, NULL, GRAFT_MODEL_ERROR_INVALID, "node 'scatter' (ScatterND)", "index 5 on an axis of 2", NULL);
  }
  {
    /* Zero padding of a computed tensor that no Conv or pool reads (Swin's map padded to
     * whole windows) is made of zeros and Concat: one in front of each row, two after. */
    static const gint64 pads[] = { 0, 1, 0, 2 };
    g_autoptr (Builder) b = builder_new (14);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (2, 4, 1), *y = NULL;
    graft_shape shape;
    add_input (b, "x", 2, x_dims);
    add_int_initializer (b, "pads", 4, pads);
    add_node (b, "Pad", "pad", "x,pads", "y");
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    y = run_output (model, 2, x, &shape);
    g_assert_cmpint (shape.rank, ==, 2);
    g_assert_cmpint (shape.dims[1], ==, 7);
    for (int n = 0; n < 2; n++)
      for (int k = 0; k < 7; k++)
        g_assert_cmpfloat (y[n * 7 + k], ==, k >= 1 && k <= 4 ? x[n * 4 + k - 1] : 0);
  }
  {
    /* ... but not of the batch, by more than the axis holds, or with another value. */
    static const gint64 batch_pads[] = { 1, 0, 0, 0 }, wide_pads[] = { 0, 0, 0, 5 }, one_pads[] = { 0, 1, 0, 0 };
    const gint64 *cases[] = { batch_pads, wide_pads, one_pads };
    const char *why[] = { "axis 0", "by 5", "value 2" };
    for (int k = 0; k < 3; k++)
      {
        g_autoptr (Builder) b = builder_new (14);
        add_input (b, "x", 2, x_dims);
        add_int_initializer (b, "pads", 4, cases[k]);
        add_float_initializer (b, "two", 0, x_dims, 2);
        add_node (b, "Pad", "pad", k == 2 ? "x,pads,two" : "x,pads", "y");
        add_output (b, "y");
        expect_error (b, NULL, GRAFT_MODEL_ERROR_UNSUPPORTED, "node 'pad' (Pad)", why[k], NULL);
      }
  }
}

/* Slice with step 2 on a computed tensor (Swin's patch merging, x[..., 1::2, :]):
 * every other element from the start; and Gather of one index of an axis 0 that is
 * not the batch (attention's qkv[1], after a Transpose). */
static void
test_slice_steps (void)
{
  static const gint64 x_dims[] = { -1, 6, 2, 2 };
  static const gint64 starts[] = { 1, 0 }, ends[] = { G_MAXINT64, G_MAXINT64 }, axes[] = { 1, 3 }, steps[] = { 2, 2 };
  static const gint64 perm[] = { 1, 0, 2, 3 };
  static const int channels[] = { 1, 3, 5 };
  {
    g_autoptr (Builder) b = builder_new (13);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (2, 6, 4), *y = NULL;
    graft_shape shape;

    add_input (b, "x", 4, x_dims);
    add_int_initializer (b, "starts", 2, starts);
    add_int_initializer (b, "ends", 2, ends);
    add_int_initializer (b, "axes", 2, axes);
    add_int_initializer (b, "steps", 2, steps);
    add_node (b, "Slice", "slice", "x,starts,ends,axes,steps", "y");
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    y = run_output (model, 2, x, &shape);
    g_assert_cmpint (shape.rank, ==, 4);
    g_assert_cmpint (shape.dims[1], ==, 3);
    g_assert_cmpint (shape.dims[2], ==, 2);
    g_assert_cmpint (shape.dims[3], ==, 1);
    /* Channels 1, 3, 5; of each 2x2 map the column 0: spatial elements 0 and 2. */
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 3; c++)
        for (int r = 0; r < 2; r++)
          g_assert_cmpfloat (y[(n * 3 + c) * 2 + r], ==, x[(n * 6 + channels[c]) * 4 + 2 * r]);
  }
  {
    g_autoptr (Builder) b = builder_new (13);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftModel) model = NULL;
    g_autofree float *x = numbered_input (2, 6, 4), *y = NULL;
    graft_shape shape;
    Onnx__NodeProto *node;

    add_input (b, "x", 4, x_dims);
    node = add_node (b, "Transpose", "move_batch", "x", "t");
    attribute_ints (b, node, "perm", 4, perm);
    add_int_scalar (b, "four", 4);
    add_node (b, "Gather", "qkv", "t,four", "y");
    add_output (b, "y");
    model = builder_load (b, NULL, &error);
    g_assert_no_error (error);
    y = run_output (model, 2, x, &shape);
    g_assert_cmpint (shape.rank, ==, 3);
    g_assert_cmpint (shape.dims[0], ==, 2);
    for (int n = 0; n < 2; n++)
      for (int k = 0; k < 4; k++)
        g_assert_cmpfloat (y[n * 4 + k], ==, x[(n * 6 + 4) * 4 + k]);
  }
}

int
main (int argc, char **argv)
{
  static const char *const numeric[] = {
    "conv-relu", "conv-autopad", "bn-opset7", "bn-opset14", "clip-opset10", "clip-opset11",
    "activations", "pools", "gemm-softmax", "softmax-4d", "flatten-chain-opset10",
    "flatten-chain-opset13", "squeeze-opset11", "squeeze-opset13", "nhwc", "identity-constant",
    "normalise", "external", "pad-conv", "reshape-literal", "torch-old-flatten", "torch-bn",
    "upsample-opset7", "upsample-opset9", "resize-opset10",
  };

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (numeric); i++)
    {
      g_autofree char *path = g_strconcat ("/model/import/numbers/", numeric[i], NULL);
      g_test_add_data_func (path, numeric[i], test_numbers);
    }
  g_test_add_func ("/model/import/conv-attributes", test_conv_attributes);
  g_test_add_func ("/model/import/conv-autopad", test_autopad);
  g_test_add_func ("/model/import/batchnorm-ir3-initializers-in-inputs", test_batchnorm_ir3);
  g_test_add_func ("/model/import/batchnorm-opset14", test_batchnorm_opset14);
  g_test_add_func ("/model/import/torch-batchnorm-unfolded", test_torch_bn);
  g_test_add_func ("/model/import/clip-attributes-and-inputs", test_clip_forms);
  g_test_add_func ("/model/import/activations", test_activations);
  g_test_add_func ("/model/import/pools", test_pools);
  g_test_add_func ("/model/import/softmax-output", test_softmax_output);
  g_test_add_func ("/model/import/flatten-chain", test_flatten_chain);
  g_test_add_func ("/model/import/flatten-chain-batch16", test_flatten_batch16);
  g_test_add_func ("/model/import/squeeze-unsqueeze", test_squeeze_forms);
  g_test_add_func ("/model/import/nhwc-matmul-add", test_nhwc_matmul);
  g_test_add_func ("/model/import/identity-constant", test_identity_constant);
  g_test_add_func ("/model/import/normalise-sub-div", test_normalise);
  g_test_add_func ("/model/import/pad-folded", test_pad_folded);
  g_test_add_func ("/model/import/external-data", test_external_data);
  g_test_add_func ("/model/import/not-regular", test_model_not_regular);
  g_test_add_func ("/model/import/load-errors", test_load_errors);
  g_test_add_func ("/model/import/builder-valid", test_builder_valid);
  g_test_add_func ("/model/import/cast-output", test_cast_output);
  g_test_add_func ("/model/import/dropout-bool-mode", test_dropout_bool_mode);
  g_test_add_func ("/model/import/static-batch", test_builder_static_batch);
  g_test_add_func ("/model/import/split/forms", test_split_forms);
  g_test_add_func ("/model/import/split/folded-and-unused", test_split_folded_and_unused);
  g_test_add_func ("/model/import/split/errors", test_split_errors);
  g_test_add_func ("/model/import/slice-computed", test_slice_computed);
  g_test_add_func ("/model/import/slice-steps", test_slice_steps);
  g_test_add_func ("/model/import/fold-swin-ops", test_fold_swin_ops);
  g_test_add_func ("/model/import/fold-swin-errors", test_fold_swin_errors);
  g_test_add_func ("/model/import/hostile/empty-and-random", test_hostile_empty_and_random);
  g_test_add_func ("/model/import/hostile/truncated", test_hostile_truncated);
  g_test_add_func ("/model/import/hostile/mutations", test_hostile_mutations);
  g_test_add_func ("/model/import/hostile/versions", test_hostile_versions);
  g_test_add_func ("/model/import/hostile/unsupported-ops", test_hostile_unsupported_ops);
  g_test_add_func ("/model/import/hostile/batchnorm", test_hostile_batchnorm);
  g_test_add_func ("/model/import/hostile/tensors", test_hostile_tensors);
  g_test_add_func ("/model/import/hostile/graph", test_hostile_graph);
  return g_test_run ();
}
