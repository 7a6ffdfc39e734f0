#include "engine/graph.h"

#include "engine/op-table.h"

#include <stdlib.h>
#include <string.h>

struct graft_graph {
  graft_value *values;
  int n_values, values_capacity;
  graft_node *nodes;
  int n_nodes, nodes_capacity;
  float *arena;       /* after graft_graph_pack, every tensor's data; NULL while unpacked */
};

const char *
graft_op_name (graft_op op)
{
  const graft_op_descriptor *descriptor = graft_op_descriptor_for (op);
  return descriptor != NULL && descriptor->name != NULL ? descriptor->name : "unknown";
}

const char *
graft_node_op_name (const graft_node *node)
{
  if (node->attributes.op != GRAFT_OP_ACTIVATION)
    return graft_op_name (node->attributes.op);
  switch (node->attributes.activation.kind)
    {
    case GRAFT_ACTIVATION_RELU: return "Relu";
    case GRAFT_ACTIVATION_CLIP: return "Clip";
    case GRAFT_ACTIVATION_LEAKY_RELU: return "LeakyRelu";
    case GRAFT_ACTIVATION_SIGMOID: return "Sigmoid";
    case GRAFT_ACTIVATION_HARD_SIGMOID: return "HardSigmoid";
    case GRAFT_ACTIVATION_HARD_SWISH: return "HardSwish";
    case GRAFT_ACTIVATION_SWISH: return "Swish";
    }
  return graft_op_name (node->attributes.op);
}

graft_graph *
graft_graph_new (void)
{
  return calloc (1, sizeof (graft_graph));
}

static bool
tensor_kind (graft_value_kind kind)
{
  return kind == GRAFT_VALUE_PARAMETER || kind == GRAFT_VALUE_BUFFER || kind == GRAFT_VALUE_CONSTANT;
}

void
graft_graph_free (graft_graph *graph)
{
  if (graph == NULL)
    return;
  for (int i = 0; i < graph->n_values; i++)
    {
      graft_value *value = &graph->values[i];
      if (tensor_kind (value->kind) && graph->arena == NULL)
        graft_floats_free (value->data);
      free (value->name);
    }
  for (int i = 0; i < graph->n_nodes; i++)
    {
      free (graph->nodes[i].name);
      free (graph->nodes[i].inputs);
    }
  graft_floats_free (graph->arena);
  free (graph->values);
  free (graph->nodes);
  free (graph);
}

int
graft_graph_value_count (const graft_graph *graph)
{
  return graph->n_values;
}

int
graft_graph_node_count (const graft_graph *graph)
{
  return graph->n_nodes;
}

const graft_value *
graft_graph_value (const graft_graph *graph, int index)
{
  return index >= 0 && index < graph->n_values ? &graph->values[index] : NULL;
}

const graft_node *
graft_graph_node (const graft_graph *graph, int index)
{
  return index >= 0 && index < graph->n_nodes ? &graph->nodes[index] : NULL;
}

int
graft_graph_find_value (const graft_graph *graph, const char *name)
{
  for (int i = 0; i < graph->n_values; i++)
    if (strcmp (graph->values[i].name, name) == 0)
      return i;
  return -1;
}

float *
graft_graph_tensor_data (graft_graph *graph, int value)
{
  if (value < 0 || value >= graph->n_values || !tensor_kind (graph->values[value].kind))
    return NULL;
  return graph->values[value].data;
}

void
graft_graph_set_trainable (graft_graph *graph, int value, bool trainable)
{
  if (value >= 0 && value < graph->n_values && graph->values[value].kind == GRAFT_VALUE_PARAMETER)
    graph->values[value].trainable = trainable;
}

void
graft_graph_set_lr_multiplier (graft_graph *graph, int value, float multiplier)
{
  if (value >= 0 && value < graph->n_values && graph->values[value].kind == GRAFT_VALUE_PARAMETER)
    graph->values[value].lr_multiplier = multiplier;
}

void
graft_graph_set_batchnorm_batch_statistics (graft_graph *graph, int node, bool batch_statistics)
{
  if (node >= 0 && node < graph->n_nodes)
    graph->nodes[node].batchnorm_batch_statistics = batch_statistics;
}

size_t
graft_graph_parameter_count (const graft_graph *graph, bool trainable_only)
{
  size_t total = 0, count;
  for (int i = 0; i < graph->n_values; i++)
    {
      const graft_value *value = &graph->values[i];
      if (value->kind != GRAFT_VALUE_PARAMETER || (trainable_only && !value->trainable))
        continue;
      if (graft_shape_count (&value->shape, &count, NULL) == GRAFT_OK)
        total += count;
    }
  return total;
}

static graft_value *
append_value (graft_graph *graph, const char *name, graft_error *error)
{
  graft_value *value;

  if (name == NULL || name[0] == '\0')
    {
      graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "a value needs a name");
      return NULL;
    }
  if (graft_graph_find_value (graph, name) >= 0)
    {
      graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "value '%s' is defined twice", name);
      return NULL;
    }
  if (graph->n_values == graph->values_capacity)
    {
      int capacity = graph->values_capacity ? graph->values_capacity * 2 : 64;
      graft_value *values = realloc (graph->values, (size_t) capacity * sizeof *values);
      if (values == NULL)
        {
          graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory adding value '%s'", name);
          return NULL;
        }
      graph->values = values;
      graph->values_capacity = capacity;
    }
  value = &graph->values[graph->n_values];
  memset (value, 0, sizeof *value);
  value->name = strdup (name);
  if (value->name == NULL)
    {
      graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory adding value '%s'", name);
      return NULL;
    }
  value->producer = -1;
  value->lr_multiplier = 1.0f;
  graph->n_values++;
  return value;
}

int
graft_graph_add_input (graft_graph *graph, const char *name, const graft_shape *shape, graft_error *error)
{
  size_t count;
  graft_value *value;

  if (shape->rank < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "input '%s' needs a batch dimension", name), -1;
  if (graft_shape_count (shape, &count, error) != GRAFT_OK)
    return -1;
  value = append_value (graph, name, error);
  if (value == NULL)
    return -1;
  value->kind = GRAFT_VALUE_INPUT;
  value->shape = *shape;
  return graph->n_values - 1;
}

int
graft_graph_add_tensor (graft_graph *graph, const char *name, graft_value_kind kind,
                        const graft_shape *shape, const float *data, graft_error *error)
{
  size_t count;
  float *copy;
  graft_value *value;

  if (!tensor_kind (kind))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "'%s': only parameters, buffers and constants carry data", name), -1;
  if (graft_shape_count (shape, &count, error) != GRAFT_OK)
    return -1;
  copy = graft_floats_alloc (count);
  if (copy == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY,
                            "out of memory for the %zu values of '%s'", count, name), -1;
  if (data != NULL && count > 0)
    memcpy (copy, data, count * sizeof (float));
  value = append_value (graph, name, error);
  if (value == NULL)
    {
      graft_floats_free (copy);
      return -1;
    }
  if (graph->arena != NULL)
    {
      /* The graph is no longer in one piece: give every tensor its own copy again. */
      for (int i = 0; i < graph->n_values - 1; i++)
        if (tensor_kind (graph->values[i].kind))
          {
            size_t n = 0;
            float *own;
            graft_shape_count (&graph->values[i].shape, &n, NULL);
            own = graft_floats_alloc (n);
            if (own == NULL)
              {
                graph->n_values--;
                free (value->name);
                graft_floats_free (copy);
                return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory unpacking parameters"), -1;
              }
            if (n > 0)
              memcpy (own, graph->values[i].data, n * sizeof (float));
            graph->values[i].data = own;
          }
      graft_floats_free (graph->arena);
      graph->arena = NULL;
    }
  value->kind = kind;
  value->shape = *shape;
  value->data = copy;
  value->trainable = kind == GRAFT_VALUE_PARAMETER;
  return graph->n_values - 1;
}

graft_status
graft_graph_pack (graft_graph *graph, graft_error *error)
{
  size_t total = 0, count, offset = 0;
  float *arena;

  if (graph->arena != NULL)
    return GRAFT_OK;
  for (int i = 0; i < graph->n_values; i++)
    if (tensor_kind (graph->values[i].kind))
      {
        if (graft_shape_count (&graph->values[i].shape, &count, error) != GRAFT_OK
            || !graft_size_align_floats (count, &count) || !graft_size_add (total, count, &total))
          return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "the parameters do not fit in memory");
      }
  arena = graft_floats_alloc (total);
  if (arena == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY,
                            "out of memory for %zu parameter values", total);
  for (int i = 0; i < graph->n_values; i++)
    {
      graft_value *value = &graph->values[i];
      if (!tensor_kind (value->kind))
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      if (count > 0)
        memcpy (arena + offset, value->data, count * sizeof (float));
      graft_floats_free (value->data);
      value->data = arena + offset;
      graft_size_align_floats (count, &count);
      offset += count;
    }
  graph->arena = arena;
  return GRAFT_OK;
}

/* ------------------------------------------------------------------------ */
/* Shape inference                                                           */

graft_conv2d_params
graft_node_conv2d_params (const graft_node *node, const graft_shape *x, const graft_shape *w)
{
  const graft_node_attributes *a = &node->attributes;
  return (graft_conv2d_params) {
    .n = (int) x->dims[0], .c = (int) x->dims[1], .h = (int) x->dims[2], .w = (int) x->dims[3],
    .m = (int) w->dims[0], .kh = a->conv.kh, .kw = a->conv.kw,
    .stride_h = a->conv.stride_h, .stride_w = a->conv.stride_w,
    .dilation_h = a->conv.dilation_h, .dilation_w = a->conv.dilation_w,
    .pad_top = a->conv.pad_top, .pad_left = a->conv.pad_left,
    .pad_bottom = a->conv.pad_bottom, .pad_right = a->conv.pad_right,
    .groups = a->conv.groups,
  };
}

graft_pool2d_params
graft_node_pool2d_params (const graft_node *node, const graft_shape *x)
{
  const graft_node_attributes *a = &node->attributes;
  return (graft_pool2d_params) {
    .n = (int) x->dims[0], .c = (int) x->dims[1], .h = (int) x->dims[2], .w = (int) x->dims[3],
    .kh = a->pool.kh, .kw = a->pool.kw, .stride_h = a->pool.stride_h, .stride_w = a->pool.stride_w,
    .pad_top = a->pool.pad_top, .pad_left = a->pool.pad_left,
    .pad_bottom = a->pool.pad_bottom, .pad_right = a->pool.pad_right,
    .ceil_mode = a->pool.ceil_mode, .count_include_pad = a->pool.count_include_pad,
  };
}

graft_status
graft_node_infer_shape (const graft_node *node, const graft_shape *const *in,
                        graft_shape *out, graft_error *error)
{
  const graft_op_descriptor *descriptor = graft_op_descriptor_for (node->attributes.op);
  size_t count;

  if (descriptor == NULL)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "node '%s' has an unknown op", node->name);
  for (int i = 0; i < node->n_inputs; i++)
    if (graft_shape_count (in[i], &count, error) != GRAFT_OK)
      return GRAFT_ERROR_SHAPE;
  return descriptor->infer_shape (node, in, out, error);
}

static bool
arity_ok (const graft_op_descriptor *descriptor, int n)
{
  return n >= descriptor->min_inputs && (descriptor->max_inputs == GRAFT_OP_ANY_INPUTS || n <= descriptor->max_inputs);
}

int
graft_graph_add_node (graft_graph *graph, const char *name, const graft_node_attributes *attributes,
                      const int *inputs, int n_inputs, const char *output_name, graft_error *error)
{
  graft_node *node;
  const graft_shape *shapes[64];
  const graft_shape **input_shapes = shapes;
  graft_shape output_shape;
  graft_value *output;
  graft_status status;
  const graft_op_descriptor *descriptor = graft_op_descriptor_for (attributes->op);

  if (descriptor == NULL)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "node '%s' has an unknown op", name), -1;
  if (!arity_ok (descriptor, n_inputs))
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "%s node '%s' cannot take %d inputs",
                            graft_op_name (attributes->op), name, n_inputs), -1;
  for (int i = 0; i < n_inputs; i++)
    if (inputs[i] < 0 || inputs[i] >= graph->n_values)
      return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                              "%s node '%s' reads input %d, which does not exist",
                              graft_op_name (attributes->op), name, i), -1;

  if (graph->n_nodes == graph->nodes_capacity)
    {
      int capacity = graph->nodes_capacity ? graph->nodes_capacity * 2 : 64;
      graft_node *nodes = realloc (graph->nodes, (size_t) capacity * sizeof *nodes);
      if (nodes == NULL)
        return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory adding node '%s'", name), -1;
      graph->nodes = nodes;
      graph->nodes_capacity = capacity;
    }
  node = &graph->nodes[graph->n_nodes];
  memset (node, 0, sizeof *node);
  node->attributes = *attributes;
  node->n_inputs = n_inputs;
  node->batchnorm_batch_statistics = true;
  node->name = strdup (name != NULL ? name : output_name);
  node->inputs = malloc ((size_t) n_inputs * sizeof (int));
  if (n_inputs > 64)
    input_shapes = malloc ((size_t) n_inputs * sizeof *input_shapes);
  if (node->name == NULL || node->inputs == NULL || input_shapes == NULL)
    {
      status = graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory adding node '%s'", name);
      goto fail;
    }
  memcpy (node->inputs, inputs, (size_t) n_inputs * sizeof (int));
  for (int i = 0; i < n_inputs; i++)
    input_shapes[i] = &graph->values[inputs[i]].shape;
  status = graft_node_infer_shape (node, input_shapes, &output_shape, error);
  if (status != GRAFT_OK)
    goto fail;
  output = append_value (graph, output_name, error);
  if (output == NULL)
    {
      status = GRAFT_ERROR_INVALID_ARGUMENT;
      goto fail;
    }
  output->kind = GRAFT_VALUE_ACTIVATION;
  output->shape = output_shape;
  output->producer = graph->n_nodes;
  node->output = graph->n_values - 1;
  graph->n_nodes++;
  if (input_shapes != shapes)
    free (input_shapes);
  return node->output;

fail:
  free (node->name);
  free (node->inputs);
  if (input_shapes != shapes)
    free (input_shapes);
  return -1;
}
