/* onnx-export.c: writes a GraftModel as an ONNX ModelProto (protobuf-c).
 *
 * The engine graph maps back to ONNX opset 13 (14 when a HardSwish is present, since
 * HardSwish only exists from 14; 17 with IR 8 for LayerNormalization), IR 7:
 * - every parameter, buffer and constant becomes a float32 initializer with raw_data,
 *   under its own name and in value order, so names survive a round trip;
 * - BatchNormalization is written in inference form (one output, no training_mode);
 * - Dropout is left out (it is the identity at inference) and its readers are rewired;
 * - a GlobalAveragePool that drops the spatial axes is GlobalAveragePool + Flatten;
 * - Clip bounds and Reshape shapes become small initializers named after the node;
 * - a Slice (one part of an imported Split, or an imported Slice) is an ONNX Slice
 *   with its starts, ends and axes as such initializers (inputs since opset 10);
 * - the batch dimension of the input and the output is the symbol "N".
 * - GELU (erf form) is PyTorch's Div/Erf/Add/Mul/Mul; MatMul and Softmax on an axis are
 *   themselves.
 *
 * The protobuf structs do not own what they point at: strings and tensor data point
 * into the graph where they can, everything else is allocated by the exporter and
 * freed with it once the message is packed.
 */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "model/model.h"
#include "model/model-private.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "model/onnx.pb-c.h"

#ifndef GRAFT_VERSION
#define GRAFT_VERSION "unknown"
#endif

#define EXPORT_IR_VERSION 7
#define EXPORT_OPSET 13
#define EXPORT_OPSET_HARD_SWISH 14
#define EXPORT_OPSET_LAYERNORM 17
#define MAX_NODE_ATTRIBUTES 8
/* protobuf messages (and so ONNX files without external data) are limited to 2 GiB. */
#define MAX_MODEL_BYTES ((gsize) G_MAXINT32)

typedef struct {
  GraftModel *model;
  graft_graph *graph;
  const char *what;          /* the file name, or a description, for messages */
  GPtrArray *allocations;    /* everything below that is not the graph's: g_free */
  GHashTable *used_names;    /* every value name in the ONNX graph (borrowed strings) */
  const char **value_names;  /* per engine value: the ONNX name it is read under */
  GPtrArray *nodes;          /* Onnx__NodeProto * */
  GPtrArray *initializers;   /* Onnx__TensorProto * */
  int graph_output;          /* engine value written as the graph output, -1 when it is the appended Softmax */
} Exporter;

static gpointer
exporter_alloc (Exporter *ex, gsize size)
{
  gpointer memory = g_malloc0 (size);
  g_ptr_array_add (ex->allocations, memory);
  return memory;
}

static gpointer
exporter_alloc_n (Exporter *ex, gsize count, gsize size)
{
  gpointer memory = g_malloc0_n (count, size);
  g_ptr_array_add (ex->allocations, memory);
  return memory;
}

static char *
exporter_strdup (Exporter *ex, const char *text)
{
  char *copy = g_strdup (text);
  g_ptr_array_add (ex->allocations, copy);
  return copy;
}

/* A value name not used yet: base, or base.1, base.2 ... */
static const char *
exporter_unique_name (Exporter *ex, const char *base)
{
  char *name;
  if (!g_hash_table_contains (ex->used_names, base))
    name = exporter_strdup (ex, base);
  else
    {
      for (guint i = 1;; i++)
        {
          g_autofree char *candidate = g_strdup_printf ("%s.%u", base, i);
          if (!g_hash_table_contains (ex->used_names, candidate))
            {
              name = exporter_strdup (ex, candidate);
              break;
            }
        }
    }
  g_hash_table_add (ex->used_names, name);
  return name;
}

static void
exporter_clear (Exporter *ex)
{
  g_clear_pointer (&ex->nodes, g_ptr_array_unref);
  g_clear_pointer (&ex->initializers, g_ptr_array_unref);
  g_clear_pointer (&ex->used_names, g_hash_table_unref);
  g_clear_pointer (&ex->value_names, g_free);
  g_clear_pointer (&ex->allocations, g_ptr_array_unref);
}

/* ------------------------------------------------------------------------ */
/* Nodes and attributes                                                      */

static Onnx__NodeProto *
exporter_add_node (Exporter *ex, const char *op_type, const char *name, const char *const *inputs,
                   int n_inputs, const char *output)
{
  Onnx__NodeProto *node = exporter_alloc (ex, sizeof *node);
  onnx__node_proto__init (node);
  node->op_type = (char *) op_type;
  node->name = (char *) name;
  node->n_input = (size_t) n_inputs;
  node->input = exporter_alloc_n (ex, (gsize) MAX (n_inputs, 1), sizeof (char *));
  for (int i = 0; i < n_inputs; i++)
    node->input[i] = (char *) inputs[i];
  node->n_output = 1;
  node->output = exporter_alloc (ex, sizeof (char *));
  node->output[0] = (char *) output;
  node->attribute = exporter_alloc_n (ex, MAX_NODE_ATTRIBUTES, sizeof (Onnx__AttributeProto *));
  g_ptr_array_add (ex->nodes, node);
  return node;
}

static Onnx__AttributeProto *
node_add_attribute (Exporter *ex, Onnx__NodeProto *node, const char *name,
                    Onnx__AttributeProto__AttributeType type)
{
  Onnx__AttributeProto *attribute = exporter_alloc (ex, sizeof *attribute);
  g_assert (node->n_attribute < MAX_NODE_ATTRIBUTES);
  onnx__attribute_proto__init (attribute);
  attribute->name = (char *) name;
  attribute->has_type = TRUE;
  attribute->type = type;
  node->attribute[node->n_attribute++] = attribute;
  return attribute;
}

static void
node_add_int (Exporter *ex, Onnx__NodeProto *node, const char *name, int64_t value)
{
  Onnx__AttributeProto *attribute = node_add_attribute (ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  attribute->has_i = TRUE;
  attribute->i = value;
}

static void
node_add_float (Exporter *ex, Onnx__NodeProto *node, const char *name, float value)
{
  Onnx__AttributeProto *attribute = node_add_attribute (ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  attribute->has_f = TRUE;
  attribute->f = value;
}

static void
node_add_string (Exporter *ex, Onnx__NodeProto *node, const char *name, const char *value)
{
  Onnx__AttributeProto *attribute = node_add_attribute (ex, node, name,
                                                        ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  attribute->has_s = TRUE;
  attribute->s.data = (uint8_t *) value;
  attribute->s.len = strlen (value);
}

static void
node_add_ints (Exporter *ex, Onnx__NodeProto *node, const char *name, const int64_t *values, int count)
{
  Onnx__AttributeProto *attribute = node_add_attribute (ex, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  attribute->n_ints = (size_t) count;
  attribute->ints = exporter_alloc_n (ex, (gsize) MAX (count, 1), sizeof (int64_t));
  memcpy (attribute->ints, values, (size_t) count * sizeof (int64_t));
}

/* ------------------------------------------------------------------------ */
/* Initializers                                                              */

static Onnx__TensorProto *
exporter_add_initializer (Exporter *ex, const char *name, int32_t data_type, const graft_shape *shape)
{
  Onnx__TensorProto *tensor = exporter_alloc (ex, sizeof *tensor);
  onnx__tensor_proto__init (tensor);
  tensor->name = (char *) name;
  tensor->has_data_type = TRUE;
  tensor->data_type = data_type;
  tensor->n_dims = (size_t) shape->rank;
  tensor->dims = exporter_alloc_n (ex, (gsize) MAX (shape->rank, 1), sizeof (int64_t));
  for (int d = 0; d < shape->rank; d++)
    tensor->dims[d] = shape->dims[d];
  tensor->has_raw_data = TRUE;
  g_ptr_array_add (ex->initializers, tensor);
  return tensor;
}

/* float32 raw_data is little-endian: on big-endian hosts the data is copied and swapped. */
static void
tensor_set_floats (Exporter *ex, Onnx__TensorProto *tensor, const float *data, size_t count)
{
  tensor->raw_data.len = count * sizeof (float);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (count == 0)
    tensor->raw_data.data = NULL;
  else
    tensor->raw_data.data = (uint8_t *) data;
#else
  {
    guint32 *swapped = exporter_alloc_n (ex, MAX (count, 1), sizeof (guint32));
    for (size_t i = 0; i < count; i++)
      {
        guint32 bits;
        memcpy (&bits, &data[i], sizeof bits);
        swapped[i] = GUINT32_TO_LE (bits);
      }
    tensor->raw_data.data = (uint8_t *) swapped;
  }
#endif
}

static const char *
exporter_add_scalar (Exporter *ex, const char *base, float value)
{
  const char *name = exporter_unique_name (ex, base);
  graft_shape scalar = { .rank = 0 };
  float *data = exporter_alloc (ex, sizeof (float));
  Onnx__TensorProto *tensor = exporter_add_initializer (ex, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &scalar);
  *data = value;
  tensor_set_floats (ex, tensor, data, 1);
  return name;
}

static const char *
exporter_add_int64s (Exporter *ex, const char *base, const int64_t *values, int count)
{
  const char *name = exporter_unique_name (ex, base);
  int64_t dims[1] = { count };
  graft_shape shape = graft_shape_make (1, dims);
  gint64 *data = exporter_alloc_n (ex, (gsize) MAX (count, 1), sizeof (gint64));
  Onnx__TensorProto *tensor = exporter_add_initializer (ex, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &shape);
  for (int i = 0; i < count; i++)
    data[i] = GINT64_TO_LE (values[i]);
  tensor->raw_data.data = (uint8_t *) data;
  tensor->raw_data.len = (size_t) count * sizeof (gint64);
  return name;
}

/* ------------------------------------------------------------------------ */
/* Value infos                                                               */

/* dynamic[d]: dim d is a symbol (the batch "N" for d == 0). */
static Onnx__ValueInfoProto *
exporter_value_info (Exporter *ex, const char *name, const graft_shape *shape, const gboolean *dynamic)
{
  Onnx__ValueInfoProto *info = exporter_alloc (ex, sizeof *info);
  Onnx__TypeProto *type = exporter_alloc (ex, sizeof *type);
  Onnx__TypeProto__Tensor *tensor_type = exporter_alloc (ex, sizeof *tensor_type);
  Onnx__TensorShapeProto *tensor_shape = exporter_alloc (ex, sizeof *tensor_shape);

  onnx__value_info_proto__init (info);
  onnx__type_proto__init (type);
  onnx__type_proto__tensor__init (tensor_type);
  onnx__tensor_shape_proto__init (tensor_shape);

  tensor_shape->n_dim = (size_t) shape->rank;
  tensor_shape->dim = exporter_alloc_n (ex, (gsize) MAX (shape->rank, 1), sizeof (Onnx__TensorShapeProto__Dimension *));
  for (int d = 0; d < shape->rank; d++)
    {
      Onnx__TensorShapeProto__Dimension *dim = exporter_alloc (ex, sizeof *dim);
      onnx__tensor_shape_proto__dimension__init (dim);
      if (dynamic[d])
        {
          dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
          if (d == 0)
            dim->dim_param = (char *) "N";
          else
            {
              dim->dim_param = g_strdup_printf ("N%d", d);
              g_ptr_array_add (ex->allocations, dim->dim_param);
            }
        }
      else
        {
          dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
          dim->dim_value = shape->dims[d];
        }
      tensor_shape->dim[d] = dim;
    }
  tensor_type->has_elem_type = TRUE;
  tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tensor_type->shape = tensor_shape;
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tensor_type;
  info->name = (char *) name;
  info->type = type;
  return info;
}

/* The shape of every value at the declared batch B (as the graph stores them) and at
 * B + 1: a dim that differs follows the batch. Fills dynamic (rank of value's shape)
 * for value; when shapes cannot be inferred at B + 1 (a Reshape with fixed sizes),
 * only dim 0 is taken as the batch. */
static void
output_dynamic_dims (Exporter *ex, int value, gboolean *dynamic)
{
  int n_values = graft_graph_value_count (ex->graph);
  const graft_value *target = graft_graph_value (ex->graph, value);
  g_autofree graft_shape *shapes = g_new0 (graft_shape, (gsize) MAX (n_values, 1));
  gboolean inferred;

  for (int v = 0; v < n_values; v++)
    {
      const graft_value *info = graft_graph_value (ex->graph, v);
      shapes[v] = info->shape;
      if (info->kind == GRAFT_VALUE_INPUT && info->shape.rank > 0 && info->shape.dims[0] < G_MAXINT32)
        shapes[v].dims[0] = info->shape.dims[0] + 1;
    }
  inferred = graft_model_infer_shapes (ex->graph, shapes, NULL);

  for (int d = 0; d < target->shape.rank; d++)
    dynamic[d] = inferred ? shapes[value].rank != target->shape.rank || shapes[value].dims[d] != target->shape.dims[d]
                          : d == 0;
}

/* ------------------------------------------------------------------------ */
/* The graph                                                                  */

static gboolean
export_error (Exporter *ex, GError **error, GraftModelError code, const char *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
export_error (Exporter *ex, GError **error, GraftModelError code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_MODEL_ERROR, code, _("Cannot export %s: %s"), ex->what, message);
  return FALSE;
}

/* GELU's tanh form as PyTorch exports it below opset 20, which has no Gelu op:
 * 0.5 * (x * (1 + tanh (sqrt(2/pi) * (x + 0.044715 * (x * (x * x)))))). The first node
 * has the engine node's name, which the importer gives the GELU it recognises there, so
 * a file exported again is the same file. */
static gboolean
export_gelu_tanh (Exporter *ex, const char *name, const char *x, const char *output)
{
  static const char *const suffixes[] = { "square", "cube", "scaled_cube", "inner", "scaled", "tanh", "add",
                                          "mul" };
  static const char *const ops[] = { "Mul", "Mul", "Mul", "Add", "Mul", "Tanh", "Add", "Mul" };
  const char *steps[G_N_ELEMENTS (suffixes)], *operands[2];
  g_autofree char *base = g_strconcat (name, ".", NULL);
  /* The other operand of each step: x, a constant, or none (Tanh). */
  const char *others[G_N_ELEMENTS (suffixes)] = {
    x, x, exporter_add_scalar (ex, "gelu.cube_factor", 0.044715f), x,
    exporter_add_scalar (ex, "gelu.sqrt_2_over_pi", 0.7978845608f), NULL, exporter_add_scalar (ex, "gelu.one", 1.0f),
    x,
  };

  for (size_t k = 0; k < G_N_ELEMENTS (suffixes); k++)
    {
      g_autofree char *step = g_strconcat (base, suffixes[k], NULL);
      steps[k] = exporter_unique_name (ex, step);
      operands[0] = k == 0 ? x : steps[k - 1];
      operands[1] = others[k];
      exporter_add_node (ex, ops[k], k == 0 ? name : exporter_strdup (ex, steps[k]), operands,
                         others[k] != NULL ? 2 : 1, steps[k]);
    }
  operands[0] = steps[G_N_ELEMENTS (suffixes) - 1];
  operands[1] = exporter_add_scalar (ex, "gelu.half", 0.5f);
  {
    g_autofree char *half = g_strconcat (base, "half", NULL);
    const char *half_name = exporter_unique_name (ex, half);
    exporter_add_node (ex, "Mul", exporter_strdup (ex, half_name), operands, 2, output);
  }
  return TRUE;
}

/* Resize-13 with scales (X, roi "", scales): the sizes form would need the batch. A
 * scale is the file's output / input; where float rounding of it would give an output
 * one pixel short (floor (in * scale) < out, as ONNX Runtime sizes it), it is raised by
 * the least step, which moves the coordinate transformation by under 1e-7. */
static gboolean
export_resize (Exporter *ex, const graft_node *node, const char *name, const char *x, const char *output,
               GError **error)
{
  static const char *const coordinates[] = {
    [GRAFT_RESIZE_HALF_PIXEL] = "half_pixel",
    [GRAFT_RESIZE_PYTORCH_HALF_PIXEL] = "pytorch_half_pixel",
    [GRAFT_RESIZE_ASYMMETRIC] = "asymmetric",
    [GRAFT_RESIZE_ALIGN_CORNERS] = "align_corners",
  };
  static const char *const roundings[] = {
    [GRAFT_RESIZE_ROUND_PREFER_FLOOR] = "round_prefer_floor",
    [GRAFT_RESIZE_ROUND_PREFER_CEIL] = "round_prefer_ceil",
    [GRAFT_RESIZE_FLOOR] = "floor",
    [GRAFT_RESIZE_CEIL] = "ceil",
  };
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *in = &graft_graph_value (ex->graph, node->inputs[0])->shape;
  int64_t dims[1] = { 4 };
  graft_shape shape = graft_shape_make (1, dims);
  g_autofree char *scales_base = g_strconcat (name, ".scales", NULL);
  const char *scales_name = exporter_unique_name (ex, scales_base);
  Onnx__TensorProto *tensor = exporter_add_initializer (ex, scales_name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &shape);
  float *scales = exporter_alloc_n (ex, 4, sizeof (float));
  const char *inputs[3] = { x, "", scales_name };
  Onnx__NodeProto *out;

  if ((unsigned) a->resize.coordinates >= G_N_ELEMENTS (coordinates)
      || (unsigned) a->resize.rounding >= G_N_ELEMENTS (roundings) || in->rank != 4)
    return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "node '%s' (Resize) has unknown attributes", name);
  scales[0] = scales[1] = 1;
  scales[2] = (float) a->resize.scale_h;
  scales[3] = (float) a->resize.scale_w;
  for (int d = 2; d < 4; d++)
    {
      int64_t want = d == 2 ? a->resize.out_h : a->resize.out_w;
      for (int step = 0; step < 8 && (int64_t) floorf (scales[d] * (float) in->dims[d]) < want; step++)
        scales[d] = nextafterf (scales[d], INFINITY);
    }
  tensor_set_floats (ex, tensor, scales, 4);
  out = exporter_add_node (ex, "Resize", name, inputs, 3, output);
  node_add_string (ex, out, "mode", a->resize.mode == GRAFT_RESIZE_LINEAR ? "linear" : "nearest");
  node_add_string (ex, out, "coordinate_transformation_mode", coordinates[a->resize.coordinates]);
  if (a->resize.mode == GRAFT_RESIZE_NEAREST)
    node_add_string (ex, out, "nearest_mode", roundings[a->resize.rounding]);
  return TRUE;
}

static gboolean
export_node (Exporter *ex, int index, GError **error)
{
  const graft_node *node = graft_graph_node (ex->graph, index);
  const graft_node_attributes *a = &node->attributes;
  const char *output = graft_graph_value (ex->graph, node->output)->name;
  const char *name = node->name != NULL && node->name[0] != '\0' ? node->name : output;
  const char *stack_inputs[8];
  g_autofree const char **heap_inputs = NULL;
  const char **inputs = stack_inputs;
  Onnx__NodeProto *out;

  if (node->n_inputs < 1)
    return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "node '%s' (%s) has no inputs",
                         name, graft_op_name (a->op));
  if (node->n_inputs > (int) G_N_ELEMENTS (stack_inputs))
    inputs = heap_inputs = g_new (const char *, (gsize) node->n_inputs + 2);
  for (int k = 0; k < node->n_inputs; k++)
    {
      int v = node->inputs[k];
      if (v < 0 || v >= graft_graph_value_count (ex->graph) || ex->value_names[v] == NULL)
        return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID,
                             "node '%s' (%s) reads a value that does not exist before it",
                             name, graft_op_name (a->op));
      inputs[k] = ex->value_names[v];
    }
  ex->value_names[node->output] = output;

  switch (a->op)
    {
    case GRAFT_OP_CONV:
      {
        int64_t kernel[2] = { a->conv.kh, a->conv.kw };
        int64_t strides[2] = { a->conv.stride_h, a->conv.stride_w };
        int64_t dilations[2] = { a->conv.dilation_h, a->conv.dilation_w };
        int64_t pads[4] = { a->conv.pad_top, a->conv.pad_left, a->conv.pad_bottom, a->conv.pad_right };
        out = exporter_add_node (ex, "Conv", name, inputs, node->n_inputs, output);
        node_add_ints (ex, out, "kernel_shape", kernel, 2);
        node_add_ints (ex, out, "strides", strides, 2);
        node_add_ints (ex, out, "dilations", dilations, 2);
        node_add_ints (ex, out, "pads", pads, 4);
        node_add_int (ex, out, "group", a->conv.groups);
        return TRUE;
      }
    case GRAFT_OP_BATCHNORM:
      out = exporter_add_node (ex, "BatchNormalization", name, inputs, node->n_inputs, output);
      node_add_float (ex, out, "epsilon", a->batchnorm.epsilon);
      node_add_float (ex, out, "momentum", a->batchnorm.momentum);
      return TRUE;
    case GRAFT_OP_ACTIVATION:
      switch (a->activation.kind)
        {
        case GRAFT_ACTIVATION_RELU:
          exporter_add_node (ex, "Relu", name, inputs, 1, output);
          return TRUE;
        case GRAFT_ACTIVATION_CLIP:
          {
            g_autofree char *min_name = g_strconcat (name, ".min", NULL);
            g_autofree char *max_name = g_strconcat (name, ".max", NULL);
            inputs[1] = exporter_add_scalar (ex, min_name, a->activation.alpha);
            inputs[2] = exporter_add_scalar (ex, max_name, a->activation.beta);
            exporter_add_node (ex, "Clip", name, inputs, 3, output);
            return TRUE;
          }
        case GRAFT_ACTIVATION_LEAKY_RELU:
          out = exporter_add_node (ex, "LeakyRelu", name, inputs, 1, output);
          node_add_float (ex, out, "alpha", a->activation.alpha);
          return TRUE;
        case GRAFT_ACTIVATION_SIGMOID:
          exporter_add_node (ex, "Sigmoid", name, inputs, 1, output);
          return TRUE;
        case GRAFT_ACTIVATION_HARD_SIGMOID:
          out = exporter_add_node (ex, "HardSigmoid", name, inputs, 1, output);
          node_add_float (ex, out, "alpha", a->activation.alpha);
          node_add_float (ex, out, "beta", a->activation.beta);
          return TRUE;
        case GRAFT_ACTIVATION_HARD_SWISH:
          exporter_add_node (ex, "HardSwish", name, inputs, 1, output);
          return TRUE;
        case GRAFT_ACTIVATION_SWISH: /* only a plan's fused form; no graph node holds it */
          break;
        }
      return export_error (ex, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "node '%s' has an activation (kind %d) that has no ONNX form",
                           name, (int) a->activation.kind);
    case GRAFT_OP_ADD:
      exporter_add_node (ex, "Add", name, inputs, 2, output);
      return TRUE;
    case GRAFT_OP_MUL:
      exporter_add_node (ex, "Mul", name, inputs, 2, output);
      return TRUE;
    case GRAFT_OP_CONCAT:
      out = exporter_add_node (ex, "Concat", name, inputs, node->n_inputs, output);
      node_add_int (ex, out, "axis", a->concat.axis);
      return TRUE;
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      {
        int64_t kernel[2] = { a->pool.kh, a->pool.kw };
        int64_t strides[2] = { a->pool.stride_h, a->pool.stride_w };
        int64_t pads[4] = { a->pool.pad_top, a->pool.pad_left, a->pool.pad_bottom, a->pool.pad_right };
        gboolean max = a->op == GRAFT_OP_MAXPOOL;
        out = exporter_add_node (ex, max ? "MaxPool" : "AveragePool", name, inputs, 1, output);
        node_add_ints (ex, out, "kernel_shape", kernel, 2);
        node_add_ints (ex, out, "strides", strides, 2);
        node_add_ints (ex, out, "pads", pads, 4);
        node_add_int (ex, out, "ceil_mode", a->pool.ceil_mode ? 1 : 0);
        if (!max)
          node_add_int (ex, out, "count_include_pad", a->pool.count_include_pad ? 1 : 0);
        return TRUE;
      }
    case GRAFT_OP_MEAN_SPATIAL:
      if (a->mean_spatial.keep_dims)
        exporter_add_node (ex, "GlobalAveragePool", name, inputs, 1, output);
      else
        {
          g_autofree char *pooled_base = g_strconcat (name, ".pooled", NULL);
          g_autofree char *flatten_name = g_strconcat (name, ".flatten", NULL);
          const char *pooled = exporter_unique_name (ex, pooled_base);
          exporter_add_node (ex, "GlobalAveragePool", name, inputs, 1, pooled);
          out = exporter_add_node (ex, "Flatten", exporter_strdup (ex, flatten_name), &pooled, 1, output);
          node_add_int (ex, out, "axis", 1);
        }
      return TRUE;
    case GRAFT_OP_RESHAPE:
      if (a->reshape.rank < 0)
        exporter_add_node (ex, "Identity", name, inputs, 1, output);
      else
        {
          g_autofree char *shape_name = g_strconcat (name, ".shape", NULL);
          if (a->reshape.rank > GRAFT_MAX_RANK)
            return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "node '%s' (Reshape) has rank %d",
                                 name, a->reshape.rank);
          inputs[1] = exporter_add_int64s (ex, shape_name, a->reshape.dims, a->reshape.rank);
          exporter_add_node (ex, "Reshape", name, inputs, 2, output);
        }
      return TRUE;
    case GRAFT_OP_FLATTEN:
      out = exporter_add_node (ex, "Flatten", name, inputs, 1, output);
      node_add_int (ex, out, "axis", a->flatten.axis);
      return TRUE;
    case GRAFT_OP_TRANSPOSE:
      {
        int rank = graft_graph_value (ex->graph, node->inputs[0])->shape.rank;
        int64_t perm[GRAFT_MAX_RANK];
        if (rank < 0 || rank > GRAFT_MAX_RANK)
          return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "node '%s' (Transpose) reads rank %d",
                               name, rank);
        for (int d = 0; d < rank; d++)
          perm[d] = a->transpose.perm[d];
        out = exporter_add_node (ex, "Transpose", name, inputs, 1, output);
        node_add_ints (ex, out, "perm", perm, rank);
        return TRUE;
      }
    case GRAFT_OP_SLICE:
      {
        int rank = graft_graph_value (ex->graph, node->inputs[0])->shape.rank;
        int64_t axis = a->slice.axis < 0 ? a->slice.axis + rank : a->slice.axis;
        g_autofree char *starts_name = g_strconcat (name, ".starts", NULL);
        g_autofree char *ends_name = g_strconcat (name, ".ends", NULL);
        g_autofree char *axes_name = g_strconcat (name, ".axes", NULL);
        if (axis < 0 || axis >= rank)
          return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "node '%s' (Slice) has the axis %d for rank %d",
                               name, a->slice.axis, rank);
        inputs[1] = exporter_add_int64s (ex, starts_name, &a->slice.start, 1);
        inputs[2] = exporter_add_int64s (ex, ends_name, &a->slice.end, 1);
        inputs[3] = exporter_add_int64s (ex, axes_name, &axis, 1);
        exporter_add_node (ex, "Slice", name, inputs, 4, output);
        return TRUE;
      }
    case GRAFT_OP_GEMM:
      out = exporter_add_node (ex, "Gemm", name, inputs, node->n_inputs, output);
      node_add_float (ex, out, "alpha", a->gemm.alpha);
      node_add_float (ex, out, "beta", a->gemm.beta);
      node_add_int (ex, out, "transA", a->gemm.trans_a ? 1 : 0);
      node_add_int (ex, out, "transB", a->gemm.trans_b ? 1 : 0);
      return TRUE;
    case GRAFT_OP_DROPOUT:
      /* The identity at inference: readers read the input instead, unless the value is
       * the graph output, whose name must stay. */
      if (node->output == ex->graph_output)
        exporter_add_node (ex, "Identity", name, inputs, 1, output);
      else
        ex->value_names[node->output] = inputs[0];
      return TRUE;
    case GRAFT_OP_ABS:
      exporter_add_node (ex, "Abs", name, inputs, 1, output);
      return TRUE;
    case GRAFT_OP_SOFTMAX:
      out = exporter_add_node (ex, "Softmax", name, inputs, 1, output);
      node_add_int (ex, out, "axis", -1);
      return TRUE;
    case GRAFT_OP_MATMUL:
      exporter_add_node (ex, "MatMul", name, inputs, 2, output);
      return TRUE;
    case GRAFT_OP_SOFTMAX_AXIS:
      out = exporter_add_node (ex, "Softmax", name, inputs, 1, output);
      node_add_int (ex, out, "axis", a->softmax_axis.axis);
      return TRUE;
    case GRAFT_OP_LAYERNORM:
      /* LayerNormalization-17 (the opset is raised for it); its scale is required. */
      if (node->n_inputs < 2)
        break;
      out = exporter_add_node (ex, "LayerNormalization", name, inputs, node->n_inputs, output);
      node_add_int (ex, out, "axis", a->layernorm.axis);
      node_add_float (ex, out, "epsilon", a->layernorm.epsilon);
      return TRUE;
    case GRAFT_OP_GELU:
      if (a->gelu.kind == GRAFT_GELU_ERF)
        {
          /* x * 0.5 * (1 + erf(x / sqrt 2)), as PyTorch exports it. */
          g_autofree char *base = g_strconcat (name, ".", NULL);
          const char *steps[4], *operands[2];
          static const char *const suffixes[] = { "div", "erf", "add", "mul" };
          for (int k = 0; k < 4; k++)
            {
              g_autofree char *step = g_strconcat (base, suffixes[k], NULL);
              steps[k] = exporter_unique_name (ex, step);
            }
          operands[0] = inputs[0];
          operands[1] = exporter_add_scalar (ex, "gelu.sqrt2", (float) G_SQRT2);
          exporter_add_node (ex, "Div", exporter_strdup (ex, steps[0]), operands, 2, steps[0]);
          exporter_add_node (ex, "Erf", exporter_strdup (ex, steps[1]), &steps[0], 1, steps[1]);
          operands[0] = steps[1];
          operands[1] = exporter_add_scalar (ex, "gelu.one", 1.0f);
          exporter_add_node (ex, "Add", exporter_strdup (ex, steps[2]), operands, 2, steps[2]);
          operands[0] = inputs[0];
          operands[1] = steps[2];
          exporter_add_node (ex, "Mul", exporter_strdup (ex, steps[3]), operands, 2, steps[3]);
          operands[0] = steps[3];
          operands[1] = exporter_add_scalar (ex, "gelu.half", 0.5f);
          exporter_add_node (ex, "Mul", name, operands, 2, output);
          return TRUE;
        }
      return export_gelu_tanh (ex, name, inputs[0], output);
    case GRAFT_OP_RESIZE:
      return export_resize (ex, node, name, inputs[0], output, error);
    case GRAFT_OP_GATHER:
      out = exporter_add_node (ex, "Gather", name, inputs, 2, output);
      node_add_int (ex, out, "axis", a->gather.axis);
      return TRUE;
    case GRAFT_OP_COUNT:
      break;
    }
  return export_error (ex, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "node '%s' has an op (%d) that has no ONNX form",
                       name, (int) a->op);
}

static gboolean
check_value_index (Exporter *ex, int value, const char *role, GError **error)
{
  if (value < 0 || value >= graft_graph_value_count (ex->graph))
    return export_error (ex, error, GRAFT_MODEL_ERROR_INVALID, "the model's %s (value %d) is not in its graph",
                         role, value);
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GBytes *
export_model (GraftModel *model, const GraftExportOptions *options, const char *what, GError **error)
{
  static const GraftExportOptions default_options = { 0 };
  Exporter ex = { 0 };
  Onnx__ModelProto proto = ONNX__MODEL_PROTO__INIT;
  Onnx__GraphProto graph_proto = ONNX__GRAPH_PROTO__INIT;
  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  Onnx__OperatorSetIdProto *opsets[1] = { &opset };
  g_autoptr (GPtrArray) inputs = g_ptr_array_new ();
  g_autoptr (GPtrArray) metadata = g_ptr_array_new ();
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  Onnx__ValueInfoProto *outputs[1];
  int n_values, n_nodes, opset_version = EXPORT_OPSET, logits_value, output_value;
  const char *graph_output_name;
  graft_shape output_shape;
  g_autofree gboolean *output_dynamic = NULL;
  g_autofree gboolean *read = NULL;
  g_autofree gboolean *gather_indices = NULL;
  size_t packed_size, written;
  guint8 *buffer;

  if (options == NULL)
    options = &default_options;
  ex.what = what;
  if (model == NULL || model->graph == NULL)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "there is no model graph");
      return NULL;
    }
  ex.model = model;
  ex.graph = model->graph;
  ex.allocations = g_ptr_array_new_with_free_func (g_free);
  ex.used_names = g_hash_table_new (g_str_hash, g_str_equal);
  ex.nodes = g_ptr_array_new ();
  ex.initializers = g_ptr_array_new ();
  n_values = graft_graph_value_count (ex.graph);
  n_nodes = graft_graph_node_count (ex.graph);
  ex.value_names = g_new0 (const char *, (gsize) MAX (n_values, 1));

  if (!check_value_index (&ex, model->input, "input", error)
      || !check_value_index (&ex, model->output, "output", error)
      || !check_value_index (&ex, model->logits, "logits", error))
    goto fail;
  if (graft_graph_value (ex.graph, model->input)->kind != GRAFT_VALUE_INPUT)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "the model's input '%s' is not a graph input",
                    graft_graph_value (ex.graph, model->input)->name);
      goto fail;
    }
  logits_value = model->logits;
  output_value = options->softmax_output ? logits_value : model->output;
  ex.graph_output = options->softmax_output ? -1 : model->output;

  /* Names. */
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (ex.graph, v);
      if (value->name == NULL || value->name[0] == '\0')
        {
          export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "value %d has no name", v);
          goto fail;
        }
      g_hash_table_add (ex.used_names, value->name);
      if (value->kind != GRAFT_VALUE_ACTIVATION)
        ex.value_names[v] = value->name;
    }
  /* Which values nodes read, and which opset: HardSwish needs 14. */
  read = g_new0 (gboolean, (gsize) MAX (n_values, 1));
  gather_indices = g_new0 (gboolean, (gsize) MAX (n_values, 1));
  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (ex.graph, i);
      if (node->attributes.op == GRAFT_OP_ACTIVATION && node->attributes.activation.kind == GRAFT_ACTIVATION_HARD_SWISH)
        opset_version = MAX (opset_version, EXPORT_OPSET_HARD_SWISH);
      if (node->attributes.op == GRAFT_OP_LAYERNORM)
        opset_version = EXPORT_OPSET_LAYERNORM;
      for (int k = 0; k < node->n_inputs; k++)
        if (node->inputs[k] >= 0 && node->inputs[k] < n_values)
          read[node->inputs[k]] = TRUE;
      if (node->attributes.op == GRAFT_OP_GATHER && node->n_inputs == 2 && node->inputs[1] >= 0
          && node->inputs[1] < n_values)
        gather_indices[node->inputs[1]] = TRUE;
    }

  /* Graph inputs: the model's input first, then any other that a node reads (batch
   * dim "N" for all). */
  for (int pass = 0; pass < 2; pass++)
    for (int v = 0; v < n_values; v++)
      {
        const graft_value *value = graft_graph_value (ex.graph, v);
        gboolean dynamic[GRAFT_MAX_RANK] = { TRUE };
        if (value->kind != GRAFT_VALUE_INPUT || (pass == 0) != (v == model->input) || (pass == 1 && !read[v]))
          continue;
        if (value->shape.rank < 1 || value->shape.rank > GRAFT_MAX_RANK)
          {
            export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "the input '%s' has rank %d",
                          value->name, value->shape.rank);
            goto fail;
          }
        g_ptr_array_add (inputs, exporter_value_info (&ex, value->name, &value->shape, dynamic));
      }

  /* Initializers: parameters, buffers and constants, in value order. */
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (ex.graph, v);
      Onnx__TensorProto *tensor;
      const float *data;
      size_t count, bytes;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER
          && value->kind != GRAFT_VALUE_CONSTANT)
        continue;
      data = graft_graph_tensor_data (ex.graph, v);
      if (graft_shape_count (&value->shape, &count, NULL) != GRAFT_OK
          || !graft_size_mul (count, sizeof (float), &bytes) || bytes > MAX_MODEL_BYTES)
        {
          export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID,
                        "the tensor '%s' is too large for an ONNX file without external data", value->name);
          goto fail;
        }
      if (data == NULL && count > 0)
        {
          export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "the tensor '%s' has no data", value->name);
          goto fail;
        }
      if (gather_indices[v])
        {
          /* Gather's indices are integers in ONNX (whole numbers in the engine's floats). */
          gint64 *ints = exporter_alloc_n (&ex, MAX (count, 1), sizeof (gint64));
          tensor = exporter_add_initializer (&ex, value->name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &value->shape);
          for (size_t k = 0; k < count; k++)
            ints[k] = GINT64_TO_LE ((gint64) data[k]);
          tensor->raw_data.data = (uint8_t *) ints;
          tensor->raw_data.len = count * sizeof (gint64);
          continue;
        }
      tensor = exporter_add_initializer (&ex, value->name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &value->shape);
      tensor_set_floats (&ex, tensor, data, count);
    }

  for (int i = 0; i < n_nodes; i++)
    if (!export_node (&ex, i, error))
      goto fail;

  /* The graph output. */
  output_shape = graft_graph_value (ex.graph, output_value)->shape;
  if (output_shape.rank < 0 || output_shape.rank > GRAFT_MAX_RANK)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "the output has rank %d", output_shape.rank);
      goto fail;
    }
  output_dynamic = g_new0 (gboolean, GRAFT_MAX_RANK);
  output_dynamic_dims (&ex, output_value, output_dynamic);
  if (ex.value_names[output_value] == NULL)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID, "the output '%s' is never computed",
                    graft_graph_value (ex.graph, output_value)->name);
      goto fail;
    }
  if (options->softmax_output)
    {
      const char *probabilities = exporter_unique_name (&ex, "probabilities");
      const char *logits_name = ex.value_names[logits_value];
      Onnx__NodeProto *softmax = exporter_add_node (&ex, "Softmax", probabilities, &logits_name, 1, probabilities);
      node_add_int (&ex, softmax, "axis", -1);
      graph_output_name = probabilities;
    }
  else if (graft_graph_value (ex.graph, output_value)->kind == GRAFT_VALUE_ACTIVATION)
    graph_output_name = graft_graph_value (ex.graph, output_value)->name;
  else
    {
      /* An output that is the input or a tensor: ONNX wants a node to produce it. */
      const char *source = ex.value_names[output_value];
      graph_output_name = exporter_unique_name (&ex, "output");
      exporter_add_node (&ex, "Identity", graph_output_name, &source, 1, graph_output_name);
    }
  outputs[0] = exporter_value_info (&ex, graph_output_name, &output_shape, output_dynamic);

  /* Metadata, sorted by key, with Graft's version unless it is there already. */
  if (model->metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key;
      g_hash_table_iter_init (&iter, model->metadata);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (keys, key);
    }
  if (model->metadata == NULL || !g_hash_table_contains (model->metadata, GRAFT_METADATA_VERSION))
    g_ptr_array_add (keys, (gpointer) GRAFT_METADATA_VERSION);
  g_ptr_array_sort (keys, compare_strings);
  for (guint i = 0; i < keys->len; i++)
    {
      Onnx__StringStringEntryProto *entry = exporter_alloc (&ex, sizeof *entry);
      const char *key = g_ptr_array_index (keys, i);
      const char *value = model->metadata != NULL ? g_hash_table_lookup (model->metadata, key) : NULL;
      onnx__string_string_entry_proto__init (entry);
      entry->key = (char *) key;
      entry->value = (char *) (value != NULL ? value : strcmp (key, GRAFT_METADATA_VERSION) == 0 ? GRAFT_VERSION : "");
      g_ptr_array_add (metadata, entry);
    }

  graph_proto.name = (char *) (model->graph_name != NULL && model->graph_name[0] != '\0' ? model->graph_name : "graft");
  graph_proto.n_node = ex.nodes->len;
  graph_proto.node = (Onnx__NodeProto **) ex.nodes->pdata;
  graph_proto.n_initializer = ex.initializers->len;
  graph_proto.initializer = (Onnx__TensorProto **) ex.initializers->pdata;
  graph_proto.n_input = inputs->len;
  graph_proto.input = (Onnx__ValueInfoProto **) inputs->pdata;
  graph_proto.n_output = 1;
  graph_proto.output = outputs;

  opset.domain = (char *) "";
  opset.has_version = TRUE;
  opset.version = opset_version;

  proto.has_ir_version = TRUE;
  /* Opset 17 (LayerNormalization) came with IR 8. */
  proto.ir_version = opset_version >= EXPORT_OPSET_LAYERNORM ? 8 : EXPORT_IR_VERSION;
  proto.n_opset_import = 1;
  proto.opset_import = opsets;
  proto.producer_name = (char *) "Graft";
  proto.producer_version = (char *) (options->producer_version != NULL ? options->producer_version : GRAFT_VERSION);
  proto.graph = &graph_proto;
  proto.n_metadata_props = metadata->len;
  proto.metadata_props = (Onnx__StringStringEntryProto **) metadata->pdata;

  packed_size = onnx__model_proto__get_packed_size (&proto);
  if (packed_size > MAX_MODEL_BYTES)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_INVALID,
                    "the model takes %" G_GSIZE_FORMAT " bytes, more than the 2 GiB an ONNX file can hold "
                    "without external data", (gsize) packed_size);
      goto fail;
    }
  buffer = g_try_malloc (MAX (packed_size, 1));
  if (buffer == NULL)
    {
      export_error (&ex, error, GRAFT_MODEL_ERROR_IO, "out of memory for %" G_GSIZE_FORMAT " bytes",
                    (gsize) packed_size);
      goto fail;
    }
  written = onnx__model_proto__pack (&proto, buffer);
  exporter_clear (&ex);
  if (written != packed_size)
    {
      g_free (buffer);
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   "Cannot export %s: the encoder wrote %" G_GSIZE_FORMAT " bytes instead of %" G_GSIZE_FORMAT,
                   what, (gsize) written, (gsize) packed_size);
      return NULL;
    }
  return g_bytes_new_take (buffer, packed_size);

fail:
  exporter_clear (&ex);
  return NULL;
}

GBytes *
graft_model_save_to_bytes (GraftModel *model, const GraftExportOptions *options, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return export_model (model, options, "the model", error);
}

/* ------------------------------------------------------------------------ */
/* Writing the file whole or not at all                                     */

/* Temporary files are named NAME.graft-tmp.HOST.PID.XXXXXX beside NAME, so that the
 * next save into the folder can tell one left by a process that was killed (same host,
 * PID no longer running) from one being written right now, and remove it. */
#define TEMP_MARK ".graft-tmp."

static char *
temp_template (const char *path)
{
  return g_strdup_printf ("%s" TEMP_MARK "%s.%ld.XXXXXX", path, g_get_host_name (), (long) getpid ());
}

/* Whether name (in a folder) is a temporary file of ours whose process is gone. */
static gboolean
is_stale_temp (const char *name)
{
  const char *mark = strstr (name, TEMP_MARK), *host, *last_dot;
  g_autofree char *rest = NULL;
  char *pid_text, *end;
  gsize length;
  long pid;

  if (mark == NULL)
    return FALSE;
  host = mark + strlen (TEMP_MARK);
  /* HOST.PID.XXXXXX: the host may hold dots, the PID and the suffix do not. */
  length = strlen (host);
  if (length < 9 || host[length - 7] != '.')
    return FALSE;
  rest = g_strndup (host, length - 7);
  last_dot = strrchr (rest, '.');
  if (last_dot == NULL)
    return FALSE;
  pid_text = (char *) last_dot + 1;
  errno = 0;
  pid = strtol (pid_text, &end, 10);
  if (end == pid_text || *end != '\0' || errno != 0 || pid <= 0 || pid == (long) getpid ())
    return FALSE;
  rest[last_dot - rest] = '\0';
  if (strcmp (rest, g_get_host_name ()) != 0)
    return FALSE; /* another machine's (a shared folder): its PIDs mean nothing here */
  return kill ((pid_t) pid, 0) != 0 && errno == ESRCH;
}

/* Removes the temporary files that killed saves left in folder. */
static void
remove_stale_temps (const char *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (is_stale_temp (name))
      {
        g_autofree char *stale = g_build_filename (folder, name, NULL);
        g_unlink (stale);
      }
}

static gboolean
write_all (int fd, const char *data, gsize size)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, MIN (size, (gsize) 1 << 30));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = EIO;
          return FALSE;
        }
      data += n;
      size -= (gsize) n;
    }
  return TRUE;
}

static void
sync_folder (const char *folder)
{
  int fd = open (folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* path's temporary name with a random suffix. */
static char *
temp_name (const char *path)
{
  static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  char *name = temp_template (path);
  char *suffix = name + strlen (name) - 6;
  for (int i = 0; i < 6; i++)
    suffix[i] = letters[g_random_int_range (0, (gint32) sizeof letters - 1)];
  return name;
}

static void
set_errno_error (GError **error, int saved_errno)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "%s", g_strerror (saved_errno));
}

/* Renames temp over path, or removes it. */
static gboolean
rename_into_place (const char *temp, const char *path, GError **error)
{
  if (g_rename (temp, path) != 0)
    {
      int saved_errno = errno;
      g_unlink (temp);
      set_errno_error (error, saved_errno);
      return FALSE;
    }
  return TRUE;
}

/* O_TMPFILE: a file without a name until it is complete and synced, so that a kill
 * before leaves nothing. Then it is linked to a temporary name and renamed over path
 * (linkat cannot replace a file). -1 when this file system (or kernel) has no O_TMPFILE
 * or the file cannot be linked: the caller writes a named temporary file instead; 0 on
 * an error, set; 1 when written. */
static int
write_anonymous (const char *path, const char *folder, const char *data, gsize size, GError **error)
{
  g_autofree char *temp = NULL;
  char proc_path[64];
  int fd = open (folder, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666), saved_errno;

  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == EOPNOTSUPP || saved_errno == EISDIR || saved_errno == EINVAL || saved_errno == ENOSYS)
        return -1;
      set_errno_error (error, saved_errno);
      return 0;
    }
  if (!write_all (fd, data, size) || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      set_errno_error (error, saved_errno);
      return 0;
    }
  /* linkat (fd, "", ..., AT_EMPTY_PATH) needs a capability; the /proc link does not. */
  g_snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  for (int attempt = 0; attempt < 100; attempt++)
    {
      g_free (temp);
      temp = temp_name (path);
      if (linkat (AT_FDCWD, proc_path, AT_FDCWD, temp, AT_SYMLINK_FOLLOW) == 0)
        break;
      saved_errno = errno;
      g_clear_pointer (&temp, g_free);
      if (saved_errno != EEXIST)
        break;
    }
  close (fd);
  if (temp == NULL)
    return -1; /* no /proc, say */
  return rename_into_place (temp, path, error) ? 1 : 0;
}

/* A named temporary file beside path (NAME.graft-tmp.HOST.PID.XXXXXX), renamed over it
 * once complete and synced; removed on failure, and by the next save when the process
 * was killed. */
static gboolean
write_named (const char *path, const char *data, gsize size, GError **error)
{
  g_autofree char *temp = temp_template (path);
  /* 0666 less the umask, as any file the user makes (mkstemp alone makes 0600). */
  int fd = g_mkstemp_full (temp, O_WRONLY | O_CLOEXEC, 0666), saved_errno;

  if (fd < 0)
    {
      set_errno_error (error, errno);
      return FALSE;
    }
  if (!write_all (fd, data, size) || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_unlink (temp);
      set_errno_error (error, saved_errno);
      return FALSE;
    }
  if (close (fd) != 0)
    {
      saved_errno = errno;
      g_unlink (temp);
      set_errno_error (error, saved_errno);
      return FALSE;
    }
  return rename_into_place (temp, path, error);
}

gboolean
graft_model_write_file (const char *path, const void *data, gsize size, gboolean anonymous_first, GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);
  int written = -1;

  remove_stale_temps (folder);
  if (anonymous_first)
    written = write_anonymous (path, folder, data, size, error);
  if (written < 0)
    written = write_named (path, data, size, error) ? 1 : 0;
  if (written == 1)
    sync_folder (folder);
  return written == 1;
}

gboolean
graft_model_save (GraftModel *model, const char *path, const GraftExportOptions *options, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *what = NULL;
  g_autofree char *display = NULL;
  gsize size;
  const char *data;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  display = g_filename_display_name (path);
  what = g_strdup_printf ("“%s”", display);
  bytes = export_model (model, options, what, error);
  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &size);
  /* Whole or not at all: written and synced under no name (or a temporary one),
   * then renamed over path; a crash or a kill cannot leave a partial or empty file. */
  if (!graft_model_write_file (path, data, size, TRUE, &local_error))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO, _("Cannot write the model to “%s”: %s"),
                   display, local_error->message);
      return FALSE;
    }
  return TRUE;
}
