#include "engine/graph.h"

#include <stdlib.h>
#include <string.h>

struct graft_graph {
  graft_value *values;
  int n_values, values_capacity;
  graft_node *nodes;
  int n_nodes, nodes_capacity;
  float *arena;       /* after graft_graph_pack, every tensor's data; NULL while unpacked */
};

static const char *const op_names[GRAFT_OP_COUNT] = {
  [GRAFT_OP_CONV] = "Conv",
  [GRAFT_OP_BATCHNORM] = "BatchNormalization",
  [GRAFT_OP_ACTIVATION] = "Activation",
  [GRAFT_OP_ADD] = "Add",
  [GRAFT_OP_MUL] = "Mul",
  [GRAFT_OP_CONCAT] = "Concat",
  [GRAFT_OP_MAXPOOL] = "MaxPool",
  [GRAFT_OP_AVGPOOL] = "AveragePool",
  [GRAFT_OP_MEAN_SPATIAL] = "GlobalAveragePool",
  [GRAFT_OP_RESHAPE] = "Reshape",
  [GRAFT_OP_FLATTEN] = "Flatten",
  [GRAFT_OP_TRANSPOSE] = "Transpose",
  [GRAFT_OP_GEMM] = "Gemm",
  [GRAFT_OP_DROPOUT] = "Dropout",
  [GRAFT_OP_SOFTMAX] = "Softmax",
  [GRAFT_OP_SLICE] = "Slice",
};

const char *
graft_op_name (graft_op op)
{
  return op >= 0 && op < GRAFT_OP_COUNT ? op_names[op] : "unknown";
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

static graft_status
shape_error (graft_error *error, const graft_node *node, const char *what, const graft_shape *shape)
{
  char text[160] = "";
  if (shape != NULL)
    graft_shape_format (shape, text, sizeof text);
  return graft_error_set (error, GRAFT_ERROR_SHAPE, "%s node '%s': %s %s",
                          graft_op_name (node->attributes.op), node->name, what, text);
}

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

static bool
expect_count (const graft_shape *shape, int64_t count)
{
  return shape->rank == 1 && shape->dims[0] == count;
}

graft_status
graft_node_infer_shape (const graft_node *node, const graft_shape *const *in,
                        graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *x = in[0];
  size_t count;

  for (int i = 0; i < node->n_inputs; i++)
    if (graft_shape_count (in[i], &count, error) != GRAFT_OK)
      return GRAFT_ERROR_SHAPE;

  switch (a->op)
    {
    case GRAFT_OP_CONV:
      {
        const graft_shape *w = in[1];
        graft_conv2d_params p;
        if (x->rank != 4 || x->dims[1] > INT32_MAX || x->dims[2] > INT32_MAX || x->dims[3] > INT32_MAX
            || x->dims[0] > INT32_MAX)
          return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
        if (w->rank != 4 || w->dims[0] > INT32_MAX || w->dims[2] != a->conv.kh || w->dims[3] != a->conv.kw
            || a->conv.groups < 1 || w->dims[1] * a->conv.groups != x->dims[1])
          return shape_error (error, node, "has a weight that does not fit its input:", w);
        if (node->n_inputs == 3 && !expect_count (in[2], w->dims[0]))
          return shape_error (error, node, "has a bias of the wrong size:", in[2]);
        p = graft_node_conv2d_params (node, x, w);
        if (graft_conv2d_setup (&p, error) != GRAFT_OK)
          return GRAFT_ERROR_SHAPE;
        *out = graft_shape_4d (p.n, p.m, p.oh, p.ow);
        return GRAFT_OK;
      }
    case GRAFT_OP_BATCHNORM:
      if (x->rank < 2)
        return shape_error (error, node, "expects an (N,C,...) input, not", x);
      for (int i = 1; i < 5; i++)
        if (!expect_count (in[i], x->dims[1]))
          return shape_error (error, node, "has a parameter that does not match the channels:", in[i]);
      *out = *x;
      return GRAFT_OK;
    case GRAFT_OP_ACTIVATION:
    case GRAFT_OP_DROPOUT:
      *out = *x;
      return GRAFT_OK;
    case GRAFT_OP_SOFTMAX:
      if (x->rank < 1)
        return shape_error (error, node, "needs at least one axis, not", x);
      *out = *x;
      return GRAFT_OK;
    case GRAFT_OP_ADD:
    case GRAFT_OP_MUL:
      {
        graft_broadcast_params p = { .a = *in[0], .b = *in[1] };
        if (graft_broadcast_setup (&p, error) != GRAFT_OK)
          return GRAFT_ERROR_SHAPE;
        *out = p.y;
        return GRAFT_OK;
      }
    case GRAFT_OP_CONCAT:
      {
        int axis = a->concat.axis < 0 ? a->concat.axis + x->rank : a->concat.axis;
        graft_shape y = *x;
        if (axis < 0 || axis >= x->rank)
          return shape_error (error, node, "has an axis outside the input's rank:", x);
        for (int i = 1; i < node->n_inputs; i++)
          {
            if (in[i]->rank != x->rank)
              return shape_error (error, node, "joins inputs of different ranks:", in[i]);
            for (int d = 0; d < x->rank; d++)
              if (d != axis && in[i]->dims[d] != x->dims[d])
                return shape_error (error, node, "joins inputs that differ off the axis:", in[i]);
            if (__builtin_add_overflow (y.dims[axis], in[i]->dims[axis], &y.dims[axis]))
              return shape_error (error, node, "overflows on the axis:", in[i]);
          }
        *out = y;
        return GRAFT_OK;
      }
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      {
        graft_pool2d_params p;
        if (x->rank != 4 || x->dims[0] > INT32_MAX || x->dims[1] > INT32_MAX || x->dims[2] > INT32_MAX
            || x->dims[3] > INT32_MAX)
          return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
        p = graft_node_pool2d_params (node, x);
        if (graft_pool2d_setup (&p, error) != GRAFT_OK)
          return GRAFT_ERROR_SHAPE;
        *out = graft_shape_4d (p.n, p.c, p.oh, p.ow);
        return GRAFT_OK;
      }
    case GRAFT_OP_MEAN_SPATIAL:
      if (x->rank != 4)
        return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
      *out = a->mean_spatial.keep_dims ? graft_shape_4d (x->dims[0], x->dims[1], 1, 1)
                                       : graft_shape_2d (x->dims[0], x->dims[1]);
      return GRAFT_OK;
    case GRAFT_OP_RESHAPE:
      {
        graft_shape y = { .rank = a->reshape.rank };
        size_t total, known = 1;
        int infer = -1;
        if (a->reshape.rank < 0)
          {
            *out = *x;
            return GRAFT_OK;
          }
        if (a->reshape.rank > GRAFT_MAX_RANK)
          return shape_error (error, node, "has too many dimensions for", x);
        graft_shape_count (x, &total, NULL);
        for (int d = 0; d < y.rank; d++)
          {
            int64_t dim = a->reshape.dims[d];
            if (dim == 0)
              {
                if (d >= x->rank)
                  return shape_error (error, node, "copies a dimension its input lacks:", x);
                dim = x->dims[d];
              }
            else if (dim == -1)
              {
                if (infer >= 0)
                  return shape_error (error, node, "infers more than one dimension for", x);
                infer = d;
                y.dims[d] = 1;
                continue;
              }
            else if (dim < 0)
              return shape_error (error, node, "has a negative dimension for", x);
            y.dims[d] = dim;
            if (!graft_size_mul (known, (size_t) dim, &known))
              return shape_error (error, node, "overflows reshaping", x);
          }
        if (infer >= 0)
          {
            if (known == 0 || total % known != 0)
              return shape_error (error, node, "cannot infer a dimension reshaping", x);
            y.dims[infer] = (int64_t) (total / known);
          }
        else if (known != total)
          return shape_error (error, node, "changes the number of elements of", x);
        *out = y;
        return GRAFT_OK;
      }
    case GRAFT_OP_FLATTEN:
      {
        int axis = a->flatten.axis < 0 ? a->flatten.axis + x->rank : a->flatten.axis;
        size_t outer = 1, inner = 1;
        if (axis < 0 || axis > x->rank)
          return shape_error (error, node, "has an axis outside the rank of", x);
        for (int d = 0; d < x->rank; d++)
          {
            if (d < axis)
              outer *= (size_t) x->dims[d];
            else
              inner *= (size_t) x->dims[d];
          }
        *out = graft_shape_2d ((int64_t) outer, (int64_t) inner);
        return GRAFT_OK;
      }
    case GRAFT_OP_TRANSPOSE:
      {
        graft_transpose_params p = { .x = *x };
        memcpy (p.perm, a->transpose.perm, sizeof p.perm);
        if (graft_transpose_setup (&p, error) != GRAFT_OK)
          return GRAFT_ERROR_SHAPE;
        *out = p.y;
        return GRAFT_OK;
      }
    case GRAFT_OP_SLICE:
      {
        graft_slice_params p = { .x = *x, .axis = a->slice.axis, .start = a->slice.start, .end = a->slice.end };
        if (graft_slice_setup (&p, NULL) != GRAFT_OK)
          {
            char text[160];
            graft_shape_format (x, text, sizeof text);
            return graft_error_set (error, GRAFT_ERROR_SHAPE, "%s node '%s': the range [%lld, %lld) of axis %d "
                                    "is not inside its input %s", graft_op_name (a->op), node->name,
                                    (long long) a->slice.start, (long long) a->slice.end, a->slice.axis, text);
          }
        *out = p.y;
        return GRAFT_OK;
      }
    case GRAFT_OP_GEMM:
      {
        const graft_shape *b = in[1];
        int64_t m, k, k2, n;
        if (x->rank != 2 || b->rank != 2)
          return shape_error (error, node, "multiplies matrices only; got", x->rank != 2 ? x : b);
        m = a->gemm.trans_a ? x->dims[1] : x->dims[0];
        k = a->gemm.trans_a ? x->dims[0] : x->dims[1];
        k2 = a->gemm.trans_b ? b->dims[1] : b->dims[0];
        n = a->gemm.trans_b ? b->dims[0] : b->dims[1];
        if (k != k2)
          return shape_error (error, node, "has inner dimensions that differ; B is", b);
        if (node->n_inputs == 3)
          {
            const graft_shape *c = in[2];
            int64_t rows = c->rank == 2 ? c->dims[0] : 1;
            int64_t cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
            if (c->rank > 2 || (rows != 1 && rows != m) || (cols != 1 && cols != n))
              return shape_error (error, node, "has a C that does not broadcast to (M,N):", c);
          }
        *out = graft_shape_2d (m, n);
        return GRAFT_OK;
      }
    case GRAFT_OP_COUNT:
      break;
    }
  return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "node '%s' has an unknown op", node->name);
}

static bool
arity_ok (graft_op op, int n)
{
  switch (op)
    {
    case GRAFT_OP_CONV: return n == 2 || n == 3;
    case GRAFT_OP_BATCHNORM: return n == 5;
    case GRAFT_OP_ADD: case GRAFT_OP_MUL: return n == 2;
    case GRAFT_OP_CONCAT: return n >= 1;
    case GRAFT_OP_GEMM: return n == 2 || n == 3;
    default: return n == 1;
    }
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

  if (attributes->op < 0 || attributes->op >= GRAFT_OP_COUNT)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "node '%s' has an unknown op", name), -1;
  if (!arity_ok (attributes->op, n_inputs))
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
