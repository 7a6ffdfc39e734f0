#include "mobilenet-v2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t
next (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int
tensor (graft_graph *graph, const char *name, graft_value_kind kind, graft_shape shape,
        float scale, float fill, uint64_t *state)
{
  size_t count;
  float *data;
  int value;
  graft_shape_count (&shape, &count, NULL);
  data = malloc (count * sizeof (float));
  for (size_t i = 0; i < count; i++)
    data[i] = scale > 0 ? scale * (2.0f * (float) (next (state) >> 40) / (float) (1 << 24) - 1.0f) : fill;
  value = graft_graph_add_tensor (graph, name, kind, &shape, data, NULL);
  free (data);
  return value;
}

static int
add (graft_graph *graph, const char *name, graft_node_attributes a, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (graph, name, &a, inputs, n, name, &error);
  if (value < 0)
    {
      fprintf (stderr, "mobilenet_v2: %s\n", error.message);
      exit (1);
    }
  return value;
}

/* Conv (no bias) + BN [+ ReLU6], named like torchvision's Conv2dNormActivation. */
static int
conv_bn (graft_graph *graph, const char *prefix, int x, int c, int m, int k, int stride, int groups,
         bool relu6, uint64_t *state)
{
  char name[128], out[128];
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  int inputs[5];

  a.conv.kh = a.conv.kw = k;
  a.conv.stride_h = a.conv.stride_w = stride;
  a.conv.dilation_h = a.conv.dilation_w = 1;
  a.conv.pad_top = a.conv.pad_left = a.conv.pad_bottom = a.conv.pad_right = k / 2;
  a.conv.groups = groups;
  snprintf (name, sizeof name, "%s.0.weight", prefix);
  inputs[0] = x;
  inputs[1] = tensor (graph, name, GRAFT_VALUE_PARAMETER, graft_shape_4d (m, c / groups, k, k),
                      sqrtf (3.0f / (float) (c / groups * k * k)), 0, state);
  snprintf (out, sizeof out, "%s.0", prefix);
  x = add (graph, out, a, inputs, 2);

  inputs[0] = x;
  snprintf (name, sizeof name, "%s.1.weight", prefix);
  inputs[1] = tensor (graph, name, GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { m }), 0, 1, state);
  snprintf (name, sizeof name, "%s.1.bias", prefix);
  inputs[2] = tensor (graph, name, GRAFT_VALUE_PARAMETER, graft_shape_make (1, (int64_t[]) { m }), 0, 0, state);
  snprintf (name, sizeof name, "%s.1.running_mean", prefix);
  inputs[3] = tensor (graph, name, GRAFT_VALUE_BUFFER, graft_shape_make (1, (int64_t[]) { m }), 0, 0, state);
  snprintf (name, sizeof name, "%s.1.running_var", prefix);
  inputs[4] = tensor (graph, name, GRAFT_VALUE_BUFFER, graft_shape_make (1, (int64_t[]) { m }), 0, 1, state);
  snprintf (out, sizeof out, "%s.1", prefix);
  x = add (graph, out, (graft_node_attributes) { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } },
           inputs, 5);
  if (relu6)
    {
      snprintf (out, sizeof out, "%s.2", prefix);
      x = add (graph, out, (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                                     .activation = { GRAFT_ACTIVATION_CLIP, 0, 6 } }, &x, 1);
    }
  return x;
}

void
mobilenet_v2_build (mobilenet_v2 *net, int classes, int size, uint64_t seed)
{
  static const int settings[7][4] = {
    { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
    { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
  };
  graft_shape input_shape = graft_shape_4d (1, 3, size, size);
  uint64_t state = seed;
  int x, c = 32, block = 1;
  char prefix[64];

  net->graph = graft_graph_new ();
  net->input = graft_graph_add_input (net->graph, "input", &input_shape, NULL);
  x = conv_bn (net->graph, "features.0", net->input, 3, 32, 3, 2, 1, true, &state);
  for (int s = 0; s < 7; s++)
    for (int i = 0; i < settings[s][2]; i++, block++)
      {
        int t = settings[s][0], out = settings[s][1], stride = i == 0 ? settings[s][3] : 1;
        int hidden = c * t, y = x, layer = 0;
        if (t != 1)
          {
            snprintf (prefix, sizeof prefix, "features.%d.conv.%d", block, layer++);
            y = conv_bn (net->graph, prefix, y, c, hidden, 1, 1, 1, true, &state);
          }
        snprintf (prefix, sizeof prefix, "features.%d.conv.%d", block, layer++);
        y = conv_bn (net->graph, prefix, y, hidden, hidden, 3, stride, hidden, true, &state);
        /* The projection: conv.{layer} is the 1x1 conv and conv.{layer+1} its BN in
         * torchvision; the shared helper names them {prefix}.0 and {prefix}.1. */
        snprintf (prefix, sizeof prefix, "features.%d.conv.%d", block, layer);
        y = conv_bn (net->graph, prefix, y, hidden, out, 1, 1, 1, false, &state);
        if (stride == 1 && c == out)
          {
            int pair[2] = { x, y };
            snprintf (prefix, sizeof prefix, "features.%d.add", block);
            y = add (net->graph, prefix, (graft_node_attributes) { .op = GRAFT_OP_ADD }, pair, 2);
          }
        x = y;
        c = out;
      }
  x = conv_bn (net->graph, "features.18", x, c, 1280, 1, 1, 1, true, &state);
  net->features = x = add (net->graph, "pool",
                           (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { false } },
                           &x, 1);
  x = add (net->graph, "classifier.0", (graft_node_attributes) { .op = GRAFT_OP_DROPOUT, .dropout = { 0.2f } },
           &x, 1);
  {
    int inputs[3] = { x };
    inputs[1] = net->head_weight = tensor (net->graph, "classifier.1.weight", GRAFT_VALUE_PARAMETER,
                                           graft_shape_2d (classes, 1280), 0.03f, 0, &state);
    inputs[2] = net->head_bias = tensor (net->graph, "classifier.1.bias", GRAFT_VALUE_PARAMETER,
                                         graft_shape_make (1, (int64_t[]) { classes }), 0.03f, 0, &state);
    net->logits = add (net->graph, "classifier.1",
                       (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } }, inputs, 3);
  }
}

void
mobilenet_v2_free (mobilenet_v2 *net)
{
  graft_graph_free (net->graph);
}
