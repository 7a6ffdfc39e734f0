#include "toy-network.h"

#include <glib.h>
#include <math.h>

#include "gradcheck.h"

static int
parameter (toy_network *net, const char *name, graft_shape shape, float scale, uint64_t seed)
{
  size_t count;
  float *data;
  int value;
  graft_shape_count (&shape, &count, NULL);
  data = test_floats (count);
  test_fill_uniform_float (data, count, seed, -scale, scale);
  value = graft_graph_add_tensor (net->graph, name, GRAFT_VALUE_PARAMETER, &shape, data, NULL);
  g_free (data);
  g_assert_cmpint (value, >=, 0);
  return value;
}

static int
constant_fill (toy_network *net, const char *name, graft_value_kind kind, int64_t count, float fill)
{
  graft_shape shape = graft_shape_make (1, &count);
  float *data = test_floats ((size_t) count);
  int value;
  for (int64_t i = 0; i < count; i++)
    data[i] = fill;
  value = graft_graph_add_tensor (net->graph, name, kind, &shape, data, NULL);
  g_free (data);
  g_assert_cmpint (value, >=, 0);
  return value;
}

static int
node (toy_network *net, const char *name, graft_node_attributes attributes, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (net->graph, name, &attributes, inputs, n, name, &error);
  if (value < 0)
    g_error ("toy network: %s", error.message);
  return value;
}

static int
conv (toy_network *net, const char *name, int x, int c, int m, int k, int groups, bool bias, uint64_t seed,
      int *weight_out)
{
  char weight_name[64], bias_name[64];
  int inputs[3], n = 2;
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  a.conv.kh = a.conv.kw = k;
  a.conv.stride_h = a.conv.stride_w = 1;
  a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = k / 2;
  a.conv.groups = groups;
  g_snprintf (weight_name, sizeof weight_name, "%s.weight", name);
  g_snprintf (bias_name, sizeof bias_name, "%s.bias", name);
  inputs[0] = x;
  inputs[1] = parameter (net, weight_name, graft_shape_4d (m, c / groups, k, k),
                         (float) sqrt (3.0 / (c / groups * k * k)), seed);
  if (weight_out != NULL)
    *weight_out = inputs[1];
  if (bias)
    inputs[n++] = parameter (net, bias_name, graft_shape_make (1, (int64_t[]) { m }), 0.1f, seed + 1);
  return node (net, name, a, inputs, n);
}

static int
batchnorm (toy_network *net, const char *name, int x, int c, int *gamma_out)
{
  char n1[64], n2[64], n3[64], n4[64];
  graft_node_attributes a = { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } };
  int inputs[5];
  g_snprintf (n1, sizeof n1, "%s.weight", name);
  g_snprintf (n2, sizeof n2, "%s.bias", name);
  g_snprintf (n3, sizeof n3, "%s.running_mean", name);
  g_snprintf (n4, sizeof n4, "%s.running_var", name);
  inputs[0] = x;
  inputs[1] = constant_fill (net, n1, GRAFT_VALUE_PARAMETER, c, 1.0f);
  inputs[2] = constant_fill (net, n2, GRAFT_VALUE_PARAMETER, c, 0.0f);
  inputs[3] = constant_fill (net, n3, GRAFT_VALUE_BUFFER, c, 0.0f);
  inputs[4] = constant_fill (net, n4, GRAFT_VALUE_BUFFER, c, 1.0f);
  if (gamma_out != NULL)
    *gamma_out = inputs[1];
  return node (net, name, a, inputs, 5);
}

static int
activation (toy_network *net, const char *name, int x, graft_activation_kind kind, float alpha, float beta)
{
  graft_node_attributes a = { .op = GRAFT_OP_ACTIVATION, .activation = { kind, alpha, beta } };
  return node (net, name, a, &x, 1);
}

void
toy_network_build (toy_network *net, float dropout, uint64_t seed)
{
  graft_shape input_shape = graft_shape_4d (1, TOY_CHANNELS, TOY_SIZE, TOY_SIZE);
  graft_node_attributes a;
  int x, skip, gate, pooled, dw, both[2], pair[2];

  net->graph = graft_graph_new ();
  net->input = graft_graph_add_input (net->graph, "image", &input_shape, NULL);

  x = conv (net, "conv1", net->input, 3, 8, 3, 1, false, seed + 10, &net->conv1_weight);
  x = batchnorm (net, "bn1", x, 8, &net->bn1_gamma);
  skip = x = activation (net, "relu1", x, GRAFT_ACTIVATION_RELU, 0, 0);
  x = conv (net, "conv2", x, 8, 8, 3, 1, false, seed + 20, &net->conv2_weight);
  x = batchnorm (net, "bn2", x, 8, NULL);
  pair[0] = skip, pair[1] = x;
  x = node (net, "residual", (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
  x = activation (net, "relu2", x, GRAFT_ACTIVATION_LEAKY_RELU, 0.1f, 0);

  /* Squeeze-excite: (N,8,1,1) gate times (N,8,8,8). */
  a = (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { true } };
  gate = node (net, "se.pool", a, &x, 1);
  gate = conv (net, "se.reduce", gate, 8, 4, 1, 1, true, seed + 30, NULL);
  gate = activation (net, "se.relu", gate, GRAFT_ACTIVATION_RELU, 0, 0);
  gate = conv (net, "se.expand", gate, 4, 8, 1, 1, true, seed + 40, NULL);
  gate = activation (net, "se.gate", gate, GRAFT_ACTIVATION_HARD_SIGMOID, 1.0f / 6, 0.5f);
  pair[0] = x, pair[1] = gate;
  x = node (net, "se.scale", (graft_node_attributes) { .op = GRAFT_OP_MUL }, pair, 2);

  a = (graft_node_attributes) { .op = GRAFT_OP_MAXPOOL };
  a.pool.kh = a.pool.kw = 2;
  a.pool.stride_h = a.pool.stride_w = 2;
  pooled = node (net, "pool", a, &x, 1);
  dw = conv (net, "dwconv", pooled, 8, 8, 3, 8, true, seed + 50, NULL);
  dw = activation (net, "relu6", dw, GRAFT_ACTIVATION_CLIP, 0.0f, 6.0f);
  both[0] = dw, both[1] = pooled;
  a = (graft_node_attributes) { .op = GRAFT_OP_CONCAT, .concat = { 1 } };
  x = node (net, "concat", a, both, 2);
  a = (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { false } };
  net->features = x = node (net, "features", a, &x, 1);

  net->first_node_of_head = graft_graph_node_count (net->graph);
  a = (graft_node_attributes) { .op = GRAFT_OP_DROPOUT, .dropout = { dropout } };
  x = node (net, "dropout", a, &x, 1);
  {
    int inputs[3];
    inputs[0] = x;
    inputs[1] = net->fc_weight = parameter (net, "fc.weight", graft_shape_2d (TOY_CLASSES, 16), 0.25f, seed + 60);
    inputs[2] = net->fc_bias = parameter (net, "fc.bias", graft_shape_make (1, (int64_t[]) { TOY_CLASSES }),
                                          0.1f, seed + 61);
    a = (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1.0f, 1.0f } };
    net->logits = node (net, "fc", a, inputs, 3);
  }
}

void
toy_network_free (toy_network *net)
{
  graft_graph_free (net->graph);
  net->graph = NULL;
}

void
toy_network_freeze_backbone (toy_network *net)
{
  for (int v = 0; v < graft_graph_value_count (net->graph); v++)
    graft_graph_set_trainable (net->graph, v, v == net->fc_weight || v == net->fc_bias);
}

void
toy_batch (int n, uint64_t seed, float *images, int32_t *labels)
{
  uint64_t state = seed;
  size_t plane = TOY_SIZE * TOY_SIZE;
  test_fill_uniform_float (images, (size_t) n * TOY_CHANNELS * plane, seed * 7 + 1, -0.3f, 0.3f);
  for (int i = 0; i < n; i++)
    {
      int label = test_random_int (&state, 0, TOY_CLASSES - 1);
      int at = test_random_int (&state, 1, TOY_SIZE - 2);
      labels[i] = label;
      for (int c = 0; c < TOY_CHANNELS; c++)
        for (int t = 0; t < TOY_SIZE; t++)
          {
            int h = label == 0 ? at : t;
            int w = label == 1 ? at : t;
            images[((size_t) i * TOY_CHANNELS + c) * plane + (size_t) h * TOY_SIZE + w] += 1.0f;
          }
    }
}
