/* onnx-import-ops.c: the ONNX ops that become engine nodes, and the table of every
 * op the importer knows (see onnx-import.c). */
#include "model/onnx-import-private.h"

/* ------------------------------------------------------------------------ */
/* Ops that become engine nodes                                              */

/* Pads for auto_pad SAME_UPPER / SAME_LOWER on one axis. */
static gboolean
same_padding (Importer *im, gint64 in, int kernel, int stride, int dilation, gboolean upper,
              int *begin, int *end, GError **error)
{
  gint64 out = (in + stride - 1) / stride;
  gint64 total = (out - 1) * stride + (gint64) (kernel - 1) * dilation + 1 - in;

  if (total < 0)
    total = 0;
  if (total > G_MAXINT / 2)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "needs more padding than Graft can hold");
  *begin = upper ? (int) (total / 2) : (int) (total - total / 2);
  *end = (int) total - *begin;
  return TRUE;
}

/* auto_pad, pads: fills pads[4] = top, left, bottom, right for input spatial size (h, w). */
static gboolean
window_padding (Importer *im, const Onnx__NodeProto *node, gint64 h, gint64 w, const int *kernel,
                const int *strides, const int *dilations, int *pads, GError **error)
{
  g_autofree char *auto_pad = NULL;

  if (!attribute_string (im, node, "auto_pad", "NOTSET", &auto_pad, error))
    return FALSE;
  if (strcmp (auto_pad, "NOTSET") == 0 || auto_pad[0] == '\0')
    return attribute_int_list (im, node, "pads", 4, 0, 0, G_MAXINT / 4, pads, NULL, error);
  if (strcmp (auto_pad, "VALID") == 0)
    {
      pads[0] = pads[1] = pads[2] = pads[3] = 0;
      return TRUE;
    }
  if (strcmp (auto_pad, "SAME_UPPER") == 0 || strcmp (auto_pad, "SAME_LOWER") == 0)
    {
      gboolean upper = strcmp (auto_pad, "SAME_UPPER") == 0;
      return same_padding (im, h, kernel[0], strides[0], dilations[0], upper, &pads[0], &pads[2], error)
             && same_padding (im, w, kernel[1], strides[1], dilations[1], upper, &pads[1], &pads[3], error);
    }
  return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an unknown auto_pad '%s'", auto_pad);
}

/* The (N,C,H,W) input of a Conv or pool, with the padding of a folded Pad. */
static gboolean
spatial_input (Importer *im, const Onnx__NodeProto *node, int *value, int *pre_pads, GError **error)
{
  Entry *x = input_entry (im, node, 0);
  const graft_shape *shape;

  memset (pre_pads, 0, 4 * sizeof (int));
  if (x->kind == ENTRY_PADDED)
    {
      *value = x->value;
      memcpy (pre_pads, x->pads, 4 * sizeof (int));
    }
  else if ((*value = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  shape = value_shape (im, *value);
  if (shape->rank != 4)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "reads a rank-%d tensor; Graft supports 2-D images (N,C,H,W) here", shape->rank);
  return TRUE;
}

static gboolean
import_conv (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_CONV };
  Entry *w_entry;
  const Tensor *w;
  const graft_shape *x_shape;
  int kernel[2], strides[2], dilations[2], pads[4], pre_pads[4], inputs[3], n_inputs = 2;
  gboolean has_kernel;
  gint64 group;

  if (!check_input_count (im, node, 2, 3, error) || !spatial_input (im, node, &inputs[0], pre_pads, error))
    return FALSE;
  x_shape = value_shape (im, inputs[0]);
  w_entry = input_entry (im, node, 1);
  if (!is_constant (w_entry))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has its weight '%s' computed at run time; Graft needs an initializer", w_entry->name);
  if ((w = entry_tensor (im, w_entry, error)) == NULL)
    return FALSE;
  if (w->shape.rank != 4)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has a rank-%d weight; Graft supports 2-D convolutions (rank-4 weights) only",
                       w->shape.rank);
  if (w->shape.dims[2] > G_MAXINT || w->shape.dims[3] > G_MAXINT)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an absurd kernel size");
  if (!attribute_int_list (im, node, "kernel_shape", 2, 0, 1, G_MAXINT, kernel, &has_kernel, error)
      || !attribute_int_list (im, node, "strides", 2, 1, 1, G_MAXINT, strides, NULL, error)
      || !attribute_int_list (im, node, "dilations", 2, 1, 1, G_MAXINT, dilations, NULL, error)
      || !attribute_int (im, node, "group", 1, &group, error))
    return FALSE;
  if (has_kernel && (kernel[0] != w->shape.dims[2] || kernel[1] != w->shape.dims[3]))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "has kernel_shape (%d, %d) but a weight of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                       kernel[0], kernel[1], w->shape.dims[2], w->shape.dims[3]);
  kernel[0] = (int) w->shape.dims[2];
  kernel[1] = (int) w->shape.dims[3];
  if (group < 1 || group > G_MAXINT)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has group %" G_GINT64_FORMAT, group);
  if (!window_padding (im, node, x_shape->dims[2] + pre_pads[0] + pre_pads[2],
                       x_shape->dims[3] + pre_pads[1] + pre_pads[3], kernel, strides, dilations, pads, error))
    return FALSE;
  a.conv.kh = kernel[0], a.conv.kw = kernel[1];
  a.conv.stride_h = strides[0], a.conv.stride_w = strides[1];
  a.conv.dilation_h = dilations[0], a.conv.dilation_w = dilations[1];
  a.conv.pad_top = pads[0] + pre_pads[0];
  a.conv.pad_left = pads[1] + pre_pads[1];
  a.conv.pad_bottom = pads[2] + pre_pads[2];
  a.conv.pad_right = pads[3] + pre_pads[3];
  a.conv.groups = (int) group;
  if ((inputs[1] = materialise (im, w_entry, GRAFT_VALUE_PARAMETER, error)) < 0)
    return FALSE;
  if (input_name (node, 2) != NULL)
    {
      if ((inputs[2] = value_input (im, node, 2, GRAFT_VALUE_PARAMETER, error)) < 0)
        return FALSE;
      n_inputs = 3;
    }
  return add_node (im, "", &a, inputs, n_inputs, output_name (node, 0), error) >= 0;
}

static gboolean
import_batchnorm (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_BATCHNORM };
  static const char *const roles[] = { "input", "scale", "bias", "mean", "variance" };
  gint64 training_mode, spatial;
  int inputs[5];

  if (!check_input_count (im, node, 5, 5, error)
      || !attribute_int (im, node, "training_mode", 0, &training_mode, error)
      || !attribute_int (im, node, "spatial", 1, &spatial, error)
      || !attribute_float (im, node, "epsilon", 1e-5f, &a.batchnorm.epsilon, error)
      || !attribute_float (im, node, "momentum", 0.9f, &a.batchnorm.momentum, error))
    return FALSE;
  if (training_mode != 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "is in training mode (training_mode=1): this is a training-mode graph; "
                       "export the model for inference");
  for (size_t i = 1; i < node->n_output; i++)
    if (output_name (node, i) != NULL && use_count (im, output_name (node, i)) > 0)
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "uses its running statistics outputs: this is a training-mode graph; "
                         "export the model for inference");
  if (spatial == 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has spatial=0 (statistics per element, an old MXNet form); Graft supports "
                       "per-channel BatchNormalization only");
  /* The engine needs epsilon > 0 (it divides by sqrt (var + epsilon)) and a momentum
   * that averages, in [0, 1]: refuse others here, where the message names the node. */
  if (!(a.batchnorm.epsilon > 0.0f) || !isfinite (a.batchnorm.epsilon)
      || !(a.batchnorm.momentum >= 0.0f && a.batchnorm.momentum <= 1.0f))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a bad epsilon or momentum");
  if ((inputs[0] = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  for (int i = 1; i < 5; i++)
    {
      Entry *entry = input_entry (im, node, (size_t) i);
      if (!is_constant (entry))
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has its %s '%s' computed at run time; Graft needs an initializer",
                           roles[i], entry->name);
      inputs[i] = materialise (im, entry, i <= 2 ? GRAFT_VALUE_PARAMETER : GRAFT_VALUE_BUFFER, error);
      if (inputs[i] < 0)
        return FALSE;
    }
  return add_node (im, "", &a, inputs, 5, output_name (node, 0), error) >= 0;
}

static gboolean
activation (Importer *im, const Onnx__NodeProto *node, graft_activation_kind kind, float alpha, float beta,
            GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_ACTIVATION, .activation = { kind, alpha, beta } };
  int x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error);

  return x >= 0 && add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* Relu, Sigmoid, HardSwish: activations without attributes. */
static gboolean
import_plain_activation (Importer *im, const Onnx__NodeProto *node, int kind, GError **error)
{
  return check_input_count (im, node, 1, 1, error)
         && activation (im, node, (graft_activation_kind) kind, 0, 0, error);
}

/* Abs: one input, no attributes. */
static gboolean
import_abs (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_ABS };
  int x;

  return check_input_count (im, node, 1, 1, error)
         && (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) >= 0
         && add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

static gboolean
import_leaky_relu (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  float alpha;

  return check_input_count (im, node, 1, 1, error)
         && attribute_float (im, node, "alpha", 0.01f, &alpha, error)
         && activation (im, node, GRAFT_ACTIVATION_LEAKY_RELU, alpha, 0, error);
}

static gboolean
import_hard_sigmoid (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  float alpha, beta;

  return check_input_count (im, node, 1, 1, error)
         && attribute_float (im, node, "alpha", 0.2f, &alpha, error)
         && attribute_float (im, node, "beta", 0.5f, &beta, error)
         && activation (im, node, GRAFT_ACTIVATION_HARD_SIGMOID, alpha, beta, error);
}

static gboolean
import_clip (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  float low = -INFINITY, high = INFINITY;

  if (im->opset < 11)
    {
      if (!check_input_count (im, node, 1, 1, error)
          || !attribute_float (im, node, "min", -INFINITY, &low, error)
          || !attribute_float (im, node, "max", INFINITY, &high, error))
        return FALSE;
    }
  else
    {
      if (!check_input_count (im, node, 1, 3, error))
        return FALSE;
      for (size_t i = 1; i < 3; i++)
        {
          const Tensor *t;
          double bound;
          if (input_name (node, i) == NULL)
            continue;
          t = constant_input (im, node, i, i == 1 ? "min" : "max", error);
          if (t == NULL || !constant_scalar (im, t, i == 1 ? "min" : "max", &bound, error))
            return FALSE;
          if (i == 1)
            low = (float) bound;
          else
            high = (float) bound;
        }
    }
  if (isnan (low) || isnan (high))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a bound that is not a number");
  return activation (im, node, GRAFT_ACTIVATION_CLIP, low, high, error);
}

/* The engine op producing value, or GRAFT_OP_COUNT for inputs and tensors. */
static graft_op
producer_op (Importer *im, int value)
{
  const graft_value *v = graft_graph_value (im->graph, value);
  return v != NULL && v->producer >= 0 ? graft_graph_node (im->graph, v->producer)->attributes.op
                                       : GRAFT_OP_COUNT;
}

/* Whether the output of node is read once, by an Add of it and another run-time value:
 * a residual branch's join. */
static gboolean
feeds_residual_add (Importer *im, const Onnx__NodeProto *node)
{
  const Onnx__GraphProto *g = im->graph_proto;
  const char *out = output_name (node, 0);
  const Onnx__NodeProto *reader = NULL;

  if (out == NULL || is_graph_output (im, out))
    return FALSE;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      if (g_strcmp0 (input_name (g->node[i], k), out) == 0)
        {
          if (reader != NULL)
            return FALSE;
          reader = g->node[i];
          break;
        }
  if (reader == NULL || strcmp (reader->op_type, "Add") != 0 || !is_default_domain (reader->domain)
      || reader->n_input != 2)
    return FALSE;
  for (size_t k = 0; k < 2; k++)
    {
      const char *name = input_name (reader, k);
      Entry *entry;
      if (g_strcmp0 (name, out) == 0)
        continue;
      entry = name != NULL ? lookup (im, name) : NULL;
      return name != NULL && !g_hash_table_contains (im->initializers, name) && (entry == NULL || !is_constant (entry));
    }
  return FALSE;
}

/* Whether c, an initializer that multiplies the run-time value other in node, is a layer
 * scale: timm's ConvNeXt multiplies its blocks' branch by gamma.reshape(1, -1, 1, 1),
 * which torch folds into an anonymous initializer ("onnx::Mul_1234"), so its name cannot
 * say it is a parameter. One axis longer than 1, the channel axis of other (1 or the
 * last, never the batch); values that differ (a constant factor repeats one value); a
 * layer with parameters before it (an input normalisation's 1/std comes first); and the
 * product joins a residual Add (a per-channel scale and shift elsewhere stay constants). */
static gboolean
is_layer_scale (Importer *im, const Onnx__NodeProto *node, const Entry *entry, const Tensor *c, const Entry *other)
{
  const graft_shape *x;
  int axis = -1, offset, n = graft_graph_value_count (im->graph);
  gboolean varies = FALSE, after_layer = FALSE;

  if (entry->name == NULL || !g_hash_table_contains (im->initializers, entry->name) || c->type != TENSOR_FLOAT
      || c->count < 2 || other->kind != ENTRY_VALUE || !feeds_residual_add (im, node))
    return FALSE;
  x = value_shape (im, other->value);
  if (c->shape.rank > x->rank)
    return FALSE;
  offset = x->rank - c->shape.rank;
  for (int d = 0; d < c->shape.rank; d++)
    if (c->shape.dims[d] != 1)
      {
        if (axis >= 0)
          return FALSE;
        axis = d + offset;
      }
  if (axis <= 0 || (axis != 1 && axis != x->rank - 1) || x->dims[axis] != (gint64) c->count)
    return FALSE;
  for (size_t k = 1; k < c->count && !varies; k++)
    varies = c->floats[k] != c->floats[0];
  for (int v = 0; v < n && !after_layer; v++)
    after_layer = graft_graph_value (im->graph, v)->kind == GRAFT_VALUE_PARAMETER;
  return varies && after_layer;
}

/* Whether c, an initializer added to the run-time value other, is a learned embedding
 * under a top-level state_dict name without a dot (timm's ViT adds "pos_embed", (1, T,
 * C), to its tokens): c has other's shape with 1 for the batch, two axes or more longer
 * than 1 (a per-channel shift has one), a name torch did not make up ("onnx::Add_12"),
 * and a layer with parameters before it. */
static gboolean
is_embedding (Importer *im, const Entry *entry, const Tensor *c, const Entry *other)
{
  const graft_shape *x;
  int long_axes = 0, n = graft_graph_value_count (im->graph);
  gboolean after_layer = FALSE;

  if (entry->name == NULL || g_str_has_prefix (entry->name, "onnx::")
      || !g_hash_table_contains (im->initializers, entry->name) || c->type != TENSOR_FLOAT
      || other->kind != ENTRY_VALUE)
    return FALSE;
  x = value_shape (im, other->value);
  if (c->shape.rank != x->rank || x->rank < 3 || c->shape.dims[0] != 1)
    return FALSE;
  for (int d = 1; d < x->rank; d++)
    {
      if (c->shape.dims[d] != x->dims[d])
        return FALSE;
      long_axes += c->shape.dims[d] > 1;
    }
  for (int v = 0; v < n && !after_layer; v++)
    after_layer = graft_graph_value (im->graph, v)->kind == GRAFT_VALUE_PARAMETER;
  return long_axes >= 2 && after_layer;
}

/* Add, Sub, Mul, Div (op '+', '-', '*', '/'). Sub and Div need a constant second operand:
 * x - c is x + (-c), x / c is x * (1/c). */
gboolean
import_binary (Importer *im, const Onnx__NodeProto *node, int op, GError **error)
{
  graft_node_attributes a = { .op = op == '+' || op == '-' ? GRAFT_OP_ADD : GRAFT_OP_MUL };
  Entry *entries[2];
  int inputs[2];

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  entries[0] = input_entry (im, node, 0);
  entries[1] = input_entry (im, node, 1);
  if (is_constant (entries[0]) && is_constant (entries[1]))
    {
      const Tensor *x = entry_tensor (im, entries[0], error), *y;
      Tensor *t;
      if (x == NULL || (y = entry_tensor (im, entries[1], error)) == NULL)
        return FALSE;
      if ((t = fold_binary (im, op, x, y, error)) == NULL)
        return FALSE;
      define_constant (im, output_name (node, 0), t);
      return TRUE;
    }
  if ((op == '-' || op == '/') && !is_constant (entries[1]))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "%s a tensor computed at run time; Graft supports %s only by a constant",
                       op == '-' ? "subtracts" : "divides by", op_type_of (node));
  for (int i = 0; i < 2; i++)
    {
      Entry *entry = entries[i];
      if (!is_constant (entry))
        {
          if ((inputs[i] = value_input (im, node, (size_t) i, GRAFT_VALUE_CONSTANT, error)) < 0)
            return FALSE;
          continue;
        }
      if (op == '-' || op == '/')
        {
          /* A transformed copy; the original name when nothing else reads it. */
          const Tensor *c = entry_tensor (im, entry, error);
          g_autoptr (Tensor) t = NULL;
          g_autofree char *name = NULL;
          graft_error engine;
          if (c == NULL)
            return FALSE;
          if (c->type != TENSOR_FLOAT)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "reads '%s', an integer tensor, where Graft needs float32 values", entry->name);
          t = tensor_copy (c);
          for (size_t k = 0; k < t->count; k++)
            t->floats[k] = op == '-' ? -t->floats[k] : 1.0f / t->floats[k];
          name = use_count (im, entry->name) == 1 && entry->value < 0
                   ? g_strdup (entry->name)
                   : g_strconcat (entry->name, op == '-' ? "/negated" : "/reciprocal", NULL);
          inputs[i] = graft_graph_find_value (im->graph, name);
          if (inputs[i] < 0 || strcmp (name, entry->name) == 0)
            inputs[i] = graft_graph_add_tensor (im->graph, name, GRAFT_VALUE_CONSTANT, &t->shape, t->floats,
                                                &engine);
          if (inputs[i] < 0)
            return engine_error (im, error, &engine);
        }
      else if (op == '+' && (inputs[i] = swin_relative_bias (im, node, entry, entries[1 - i], error)) != -1)
        {
          if (inputs[i] < -1)
            return FALSE;
        }
      else
        {
          /* A bias after a Conv or a MatMul learns; scalars and other operands do not. */
          const Tensor *c = entry_tensor (im, entry, error);
          graft_value_kind kind = GRAFT_VALUE_CONSTANT;
          if (c == NULL)
            return FALSE;
          if (op == '+' && entry->proto != NULL && c->count > 1 && !is_constant (entries[1 - i]))
            {
              Entry *other = entries[1 - i];
              graft_op before = other->kind == ENTRY_VALUE ? producer_op (im, other->value) : GRAFT_OP_COUNT;
              if (before == GRAFT_OP_CONV || before == GRAFT_OP_GEMM || before == GRAFT_OP_MATMUL)
                kind = GRAFT_VALUE_PARAMETER;
            }
          /* A per-channel scale or an embedding under a PyTorch state_dict name
           * (ConvNeXt's layer_scale, ViT's pos_embedding) learns too; torch's anonymous
           * constants ("onnx::Mul_12") do not. */
          if ((op == '*' || op == '+') && entry->proto != NULL && c->count > 1 && !is_constant (entries[1 - i])
              && strchr (entry->name, '.') != NULL && !g_str_has_prefix (entry->name, "onnx::"))
            kind = GRAFT_VALUE_PARAMETER;
          if (op == '*' && kind == GRAFT_VALUE_CONSTANT && is_layer_scale (im, node, entry, c, entries[1 - i]))
            kind = GRAFT_VALUE_PARAMETER;
          if (op == '+' && kind == GRAFT_VALUE_CONSTANT && is_embedding (im, entry, c, entries[1 - i]))
            kind = GRAFT_VALUE_PARAMETER;
          if ((inputs[i] = materialise (im, entry, kind, error)) < 0)
            return FALSE;
        }
    }
  return add_node (im, "", &a, inputs, 2, output_name (node, 0), error) >= 0;
}

static gboolean
import_concat (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_CONCAT };
  g_autofree int *inputs = NULL;
  gint64 axis;

  if (!check_input_count (im, node, 1, MAX_NODE_INPUTS, error))
    return FALSE;
  if (find_attribute (node, "axis") == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no axis");
  if (!attribute_int (im, node, "axis", 0, &axis, error))
    return FALSE;
  for (size_t i = 0; i < node->n_input; i++)
    if (input_name (node, i) == NULL)
      return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an empty input %zu", i);
  if (all_inputs_constant (im, node))
    {
      g_autofree const Tensor **parts = g_new (const Tensor *, node->n_input);
      Tensor *t;
      for (size_t i = 0; i < node->n_input; i++)
        if ((parts[i] = entry_tensor (im, input_entry (im, node, i), error)) == NULL)
          return FALSE;
      if ((t = fold_concat (im, parts, node->n_input, axis, error)) == NULL)
        return FALSE;
      define_constant (im, output_name (node, 0), t);
      return TRUE;
    }
  if (axis < -GRAFT_MAX_RANK || axis >= GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the axis %" G_GINT64_FORMAT, axis);
  a.concat.axis = (int) axis;
  inputs = g_new (int, node->n_input);
  for (size_t i = 0; i < node->n_input; i++)
    if ((inputs[i] = value_input (im, node, i, GRAFT_VALUE_CONSTANT, error)) < 0)
      return FALSE;
  return add_node (im, "", &a, inputs, (int) node->n_input, output_name (node, 0), error) >= 0;
}

/* MaxPool (max) and AveragePool. */
static gboolean
import_pool (Importer *im, const Onnx__NodeProto *node, int max, GError **error)
{
  graft_node_attributes a = { .op = max ? GRAFT_OP_MAXPOOL : GRAFT_OP_AVGPOOL };
  const graft_shape *x_shape;
  int kernel[2], strides[2], dilations[2], pads[4], pre_pads[4], x;
  gint64 ceil_mode, count_include_pad, storage_order;
  gboolean has_kernel;
  static const int ones[2] = { 1, 1 };

  if (!check_input_count (im, node, 1, 1, error)
      || !check_extra_outputs (im, node, 1, "the pooled values, not the Indices output", error)
      || !spatial_input (im, node, &x, pre_pads, error))
    return FALSE;
  x_shape = value_shape (im, x);
  if (!attribute_int_list (im, node, "kernel_shape", 2, 0, 1, G_MAXINT, kernel, &has_kernel, error)
      || !attribute_int_list (im, node, "strides", 2, 1, 1, G_MAXINT, strides, NULL, error)
      || !attribute_int_list (im, node, "dilations", 2, 1, 1, G_MAXINT, dilations, NULL, error)
      || !attribute_int (im, node, "ceil_mode", 0, &ceil_mode, error)
      || !attribute_int (im, node, "count_include_pad", 0, &count_include_pad, error)
      || !attribute_int (im, node, "storage_order", 0, &storage_order, error))
    return FALSE;
  if (!has_kernel)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no kernel_shape");
  if (dilations[0] != 1 || dilations[1] != 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has dilations (%d, %d); Graft supports pooling without dilation",
                       dilations[0], dilations[1]);
  if (!window_padding (im, node, x_shape->dims[2] + pre_pads[0] + pre_pads[2],
                       x_shape->dims[3] + pre_pads[1] + pre_pads[3], kernel, strides, ones, pads, error))
    return FALSE;
  if (pre_pads[0] || pre_pads[1] || pre_pads[2] || pre_pads[3])
    {
      /* Zero padding counts in an average; it is only exact when the pool counts pads too. */
      if (max)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "reads a zero-padded tensor; Graft folds Pad into Conv and AveragePool only");
      if (!count_include_pad && (pads[0] || pads[1] || pads[2] || pads[3]))
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "mixes a Pad before it with its own padding that does not count");
      count_include_pad = 1;
    }
  a.pool.kh = kernel[0], a.pool.kw = kernel[1];
  a.pool.stride_h = strides[0], a.pool.stride_w = strides[1];
  a.pool.pad_top = pads[0] + pre_pads[0];
  a.pool.pad_left = pads[1] + pre_pads[1];
  a.pool.pad_bottom = pads[2] + pre_pads[2];
  a.pool.pad_right = pads[3] + pre_pads[3];
  a.pool.ceil_mode = ceil_mode != 0;
  a.pool.count_include_pad = count_include_pad != 0;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

static gboolean
import_global_average_pool (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { TRUE } };
  int x;

  if (!check_input_count (im, node, 1, 1, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  if (value_shape (im, x)->rank != 4)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "reads a rank-%d tensor; Graft supports 2-D images (N,C,H,W) here", value_shape (im, x)->rank);
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

static gboolean
import_global_max_pool (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_MAXPOOL };
  const graft_shape *shape;
  int x;

  if (!check_input_count (im, node, 1, 1, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  shape = value_shape (im, x);
  if (shape->rank != 4 || shape->dims[2] > G_MAXINT || shape->dims[3] > G_MAXINT)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "reads a rank-%d tensor; Graft supports 2-D images (N,C,H,W) here", shape->rank);
  a.pool.kh = (int) shape->dims[2], a.pool.kw = (int) shape->dims[3];
  a.pool.stride_h = a.pool.stride_w = 1;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

gboolean
import_reduce_mean (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_MEAN_SPATIAL };
  const gint64 *axes;
  size_t n_axes;
  gboolean present, seen[4] = { FALSE };
  gint64 keep_dims;
  int x, rank;

  if (!check_input_count (im, node, 1, 1, error)
      || !axes_argument (im, node, FALSE, &axes, &n_axes, &present, error)
      || !attribute_int (im, node, "keepdims", 1, &keep_dims, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  rank = value_shape (im, x)->rank;
  for (size_t i = 0; present && rank == 4 && i < n_axes; i++)
    {
      int axis;
      if (!normalise_axis (im, axes[i], rank, &axis, error))
        return FALSE;
      seen[axis] = TRUE;
    }
  if (rank != 4 || n_axes != 2 || !seen[2] || !seen[3])
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "averages over other axes than (H, W) of an (N,C,H,W) tensor, which Graft does not support");
  a.mean_spatial.keep_dims = keep_dims != 0;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

static gboolean
import_flatten (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_FLATTEN };
  Entry *entry;
  gint64 axis;
  int x;

  if (!check_input_count (im, node, 1, 1, error) || !attribute_int (im, node, "axis", 1, &axis, error))
    return FALSE;
  entry = input_entry (im, node, 0);
  if (is_constant (entry))
    {
      const Tensor *in = entry_tensor (im, entry, error);
      graft_shape shape = { .rank = 2, .dims = { 1, 1 } };
      int k;
      Tensor *t;
      if (in == NULL)
        return FALSE;
      if (axis < -in->shape.rank || axis > in->shape.rank)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the axis %" G_GINT64_FORMAT, axis);
      k = (int) (axis < 0 ? axis + in->shape.rank : axis);
      for (int d = 0; d < in->shape.rank; d++)
        if (__builtin_mul_overflow (shape.dims[d < k ? 0 : 1], in->shape.dims[d], &shape.dims[d < k ? 0 : 1]))
          return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "overflows flattening its input");
      if ((t = fold_reshape_to (im, in, &shape, error)) == NULL)
        return FALSE;
      define_constant (im, output_name (node, 0), t);
      return TRUE;
    }
  if (axis < -GRAFT_MAX_RANK || axis > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the axis %" G_GINT64_FORMAT, axis);
  a.flatten.axis = (int) axis;
  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* Whether dim 0 of value x is the batch (or cannot be told apart from it): not so for
 * a value computed from parameters alone, such as Swin's learned relative-position
 * bias, which a literal 1 in a Reshape's first place then keeps at 1. */
static gboolean
batch_leads (Importer *im, int x)
{
  int n = graft_graph_value_count (im->graph);
  g_autofree graft_shape *shapes = g_new (graft_shape, (gsize) MAX (n, 1));

  /* The shapes again with one more in every input's first dim. */
  for (int v = 0; v < n; v++)
    {
      const graft_value *info = graft_graph_value (im->graph, v);
      shapes[v] = info->shape;
      if (info->kind == GRAFT_VALUE_INPUT && shapes[v].rank > 0)
        shapes[v].dims[0]++;
    }
  return !graft_model_infer_shapes (im->graph, shapes, NULL) || shapes[x].rank < 1
         || shapes[x].dims[0] != value_shape (im, x)->dims[0];
}

static gboolean
import_reshape (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_RESHAPE };
  const Tensor *shape_t;
  const gint64 *dims;
  const guint8 *flags;
  size_t n;
  gint64 allow_zero;
  Entry *entry;
  int x, inferred = -1;
  gboolean copy_batch = TRUE;

  if (!check_input_count (im, node, 2, 2, error)
      || !attribute_int (im, node, "allowzero", 0, &allow_zero, error)
      || (shape_t = constant_input (im, node, 1, "shape", error)) == NULL
      || !constant_ints (im, shape_t, "shape", &dims, &flags, &n, error))
    return FALSE;
  if (n > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "makes a tensor of rank %zu; Graft supports at most %d", n, GRAFT_MAX_RANK);
  entry = input_entry (im, node, 0);
  if (is_constant (entry))
    {
      const Tensor *in = entry_tensor (im, entry, error);
      graft_shape shape = { .rank = (int) n };
      size_t known = 1;
      Tensor *t;
      if (in == NULL)
        return FALSE;
      for (size_t d = 0; d < n; d++)
        {
          gint64 dim = dims[d];
          if (dim == 0 && !allow_zero)
            {
              if ((int) d >= in->shape.rank)
                return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "copies a dimension its input lacks");
              dim = in->shape.dims[d];
            }
          if (dim == -1)
            {
              if (inferred >= 0)
                return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "infers more than one dimension");
              inferred = (int) d;
              continue;
            }
          if (dim < 0 || !graft_size_mul (known, (size_t) dim, &known))
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a bad dimension %" G_GINT64_FORMAT, dim);
          shape.dims[d] = dim;
        }
      if (inferred >= 0)
        {
          if (known == 0 || in->count % known != 0)
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "cannot infer a dimension");
          shape.dims[inferred] = (gint64) (in->count / known);
        }
      if ((t = fold_reshape_to (im, in, &shape, error)) == NULL)
        return FALSE;
      define_constant (im, output_name (node, 0), t);
      return TRUE;
    }

  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  /* Keep the batch symbolic: the batch element becomes 0 (copy) at position 0, -1
   * elsewhere; a literal equal to the file's batch (1 when symbolic) in position 0 is
   * the batch too. */
  a.reshape.rank = (int) n;
  for (size_t d = 0; d < n; d++)
    if (flags[d] == ELEMENT_STATIC && dims[d] == -1)
      inferred = (int) d;
  if (n > 0 && flags[0] == ELEMENT_BATCH)
    {
      /* Copying the input's dim 0 keeps the batch only where that dim is the batch:
       * Swin's window reverse reshapes (batch x windows, ...) to (batch, ...). */
      guint8 in_flags[GRAFT_MAX_RANK];
      const graft_shape *in_shape = value_shape (im, x);
      copy_batch = in_shape->rank > 0 && (!batch_dims (im, x, in_shape, in_flags) || in_flags[0] == ELEMENT_BATCH);
    }
  for (size_t d = 0; d < n; d++)
    {
      gint64 dim = dims[d];
      if (flags[d] == ELEMENT_BATCH && d == 0 && copy_batch)
        dim = 0;
      else if (flags[d] != ELEMENT_STATIC)
        {
          if (inferred >= 0 && inferred != (int) d)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "has a target shape that depends on the batch size in a way Graft "
                               "cannot keep (dimension %zu)", d);
          inferred = (int) d;
          dim = -1;
        }
      else if (dim == 0 && allow_zero)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "makes an empty tensor (allowzero)");
      else if (d == 0 && dim == im->file_batch && value_shape (im, x)->rank > 0 && batch_leads (im, x))
        dim = 0;
      else if (dim < -1)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the dimension %" G_GINT64_FORMAT, dim);
      a.reshape.dims[d] = dim;
    }
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* A Reshape for a new shape at batch 1 where input dim 0 (the batch) ended up at
 * position `moved` (-1: gone). */
static gboolean
reshape_to (Importer *im, int x, const graft_shape *shape, int moved, const char *output, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_RESHAPE };

  a.reshape.rank = shape->rank;
  for (int d = 0; d < shape->rank; d++)
    a.reshape.dims[d] = shape->dims[d];
  if (moved == 0)
    a.reshape.dims[0] = 0;
  else if (moved > 0)
    a.reshape.dims[moved] = -1;
  return add_node (im, "", &a, &x, 1, output, error) >= 0;
}

static gboolean
import_squeeze_unsqueeze (Importer *im, const Onnx__NodeProto *node, int squeeze, GError **error)
{
  const gint64 *axes;
  size_t n_axes;
  gboolean present;
  graft_shape shape;
  Entry *entry;
  int x, moved = 0;

  if (!check_input_count (im, node, 1, im->opset >= 13 ? 2 : 1, error)
      || !axes_argument (im, node, im->opset >= 13, &axes, &n_axes, &present, error))
    return FALSE;
  if (!squeeze && !present)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no axes");
  entry = input_entry (im, node, 0);
  if (is_constant (entry))
    {
      const Tensor *in = entry_tensor (im, entry, error);
      Tensor *t;
      if (in == NULL)
        return FALSE;
      if (squeeze ? !squeeze_shape (im, &in->shape, axes, n_axes, present, FALSE, &shape, error)
                  : !unsqueeze_shape (im, &in->shape, axes, n_axes, &shape, &moved, error))
        return FALSE;
      if ((t = fold_reshape_to (im, in, &shape, error)) == NULL)
        return FALSE;
      define_constant (im, output_name (node, 0), t);
      return TRUE;
    }
  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  if (squeeze && present && n_axes == 1 && (axes[0] == 0 || axes[0] == -value_shape (im, x)->rank))
    {
      /* Dim 0 is the batch unless attention moved it: timm's q, k, v = qkv.unbind(0)
       * after permute(2, 0, 3, 1, 4) squeeze an axis 0 of size 1; the batch, now dim 0
       * of the result, stays symbolic. */
      guint8 flags[GRAFT_MAX_RANK];
      const graft_shape *in = value_shape (im, x);
      graft_node_attributes a = { .op = GRAFT_OP_RESHAPE };
      if (in->rank > 1 && in->dims[0] == 1 && batch_dims (im, x, in, flags) && flags[0] == ELEMENT_STATIC)
        {
          a.reshape.rank = in->rank - 1;
          for (int d = 1, inferred = 0; d < in->rank; d++)
            {
              if (flags[d] != ELEMENT_STATIC && inferred++ > 0)
                return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                                   "squeezes a tensor with two axes that depend on the batch size");
              a.reshape.dims[d - 1] = flags[d] != ELEMENT_STATIC ? -1 : in->dims[d];
            }
          return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
        }
    }
  if (squeeze ? !squeeze_shape (im, value_shape (im, x), axes, n_axes, present, TRUE, &shape, error)
              : !unsqueeze_shape (im, value_shape (im, x), axes, n_axes, &shape, &moved, error))
    return FALSE;
  return reshape_to (im, x, &shape, moved, output_name (node, 0), error);
}

static gboolean
import_transpose (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_TRANSPOSE };
  const gint64 *perm;
  size_t n;
  int x, rank;

  if (!check_input_count (im, node, 1, 1, error)
      || !attribute_ints (im, node, "perm", &perm, &n, error))
    return FALSE;
  if (is_constant (input_entry (im, node, 0)))
    {
      /* Shape computations (the pads torch's F.pad computes at run time) fold. */
      const Tensor *t = entry_tensor (im, input_entry (im, node, 0), error);
      return t != NULL && fold_transpose (im, node, t, perm, n, error);
    }
  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  rank = value_shape (im, x)->rank;
  if (perm != NULL && n != (size_t) rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a perm of %zu axes for a rank-%d tensor", n, rank);
  for (int d = 0; d < rank; d++)
    {
      gint64 p = perm != NULL ? perm[d] : rank - 1 - d;
      if (p < 0 || p >= rank)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a perm that is not a permutation");
      a.transpose.perm[d] = (int) p;
    }
  if (x == im->input_value && rank == 4 && a.transpose.perm[0] == 0 && a.transpose.perm[1] == 3
      && a.transpose.perm[2] == 1 && a.transpose.perm[3] == 2)
    im->model->input_nhwc = TRUE;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* A weight (or bias) of Gemm: a parameter when it is a constant. */
static int
weight_input (Importer *im, const Onnx__NodeProto *node, size_t i, GError **error)
{
  return value_input (im, node, i, GRAFT_VALUE_PARAMETER, error);
}

static gboolean
import_gemm (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_GEMM };
  gint64 trans_a, trans_b;
  int inputs[3], n_inputs = 2;

  if (!check_input_count (im, node, 2, 3, error)
      || !attribute_int (im, node, "transA", 0, &trans_a, error)
      || !attribute_int (im, node, "transB", 0, &trans_b, error)
      || !attribute_float (im, node, "alpha", 1.0f, &a.gemm.alpha, error)
      || !attribute_float (im, node, "beta", 1.0f, &a.gemm.beta, error))
    return FALSE;
  a.gemm.trans_a = trans_a != 0;
  a.gemm.trans_b = trans_b != 0;
  if ((inputs[0] = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0
      || (inputs[1] = weight_input (im, node, 1, error)) < 0)
    return FALSE;
  if (input_name (node, 2) != NULL)
    {
      if ((inputs[2] = weight_input (im, node, 2, error)) < 0)
        return FALSE;
      n_inputs = 3;
    }
  return add_node (im, "", &a, inputs, n_inputs, output_name (node, 0), error) >= 0;
}

/* MatMul of a (N,K) activation by a (K,M) constant is a Gemm; when its only reader is an
 * Add of a (M) or (1,M) constant, that Add becomes the Gemm's C. */
static gboolean
import_matmul (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_GEMM, .gemm = { FALSE, FALSE, 1.0f, 1.0f } };
  const char *out = output_name (node, 0);
  Use *use;
  int inputs[3], n_inputs = 2, folded_add = -1;
  Entry *bias = NULL;

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  if ((inputs[0] = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0
      || (inputs[1] = weight_input (im, node, 1, error)) < 0)
    return FALSE;
  if (value_shape (im, inputs[0])->rank < 2 || value_shape (im, inputs[1])->rank < 2)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "multiplies rank-%d by rank-%d tensors; Graft supports MatMul of matrices and their batches",
                       value_shape (im, inputs[0])->rank, value_shape (im, inputs[1])->rank);
  /* Batches of matrices (attention, Linear layers on tokens or channels-last maps) and
   * products of two activations are the engine's MatMul; its bias is a learning Add. */
  if (value_shape (im, inputs[0])->rank != 2 || value_shape (im, inputs[1])->rank != 2
      || !is_constant (input_entry (im, node, 1)))
    {
      graft_node_attributes matmul = { .op = GRAFT_OP_MATMUL };
      return add_node (im, "", &matmul, inputs, 2, out, error) >= 0;
    }

  use = g_hash_table_lookup (im->uses, out);
  if (use != NULL && use->count == 1 && use->last_consumer >= 0)
    {
      const Onnx__NodeProto *next = im->graph_proto->node[use->last_consumer];
      if (g_strcmp0 (next->op_type, "Add") == 0 && is_default_domain (next->domain)
          && next->n_input == 2 && output_name (next, 0) != NULL && input_name (next, 0) != NULL
          && input_name (next, 1) != NULL && strcmp (next->input[0], next->input[1]) != 0)
        {
          Entry *other = lookup (im, strcmp (next->input[0], out) == 0 ? next->input[1] : next->input[0]);
          gint64 m = value_shape (im, inputs[1])->dims[1];
          if (is_constant (other))
            {
              const Tensor *c = entry_tensor (im, other, error);
              if (c == NULL)
                return FALSE;
              if (c->type == TENSOR_FLOAT && ((c->shape.rank == 1 && c->shape.dims[0] == m)
                                              || (c->shape.rank == 2 && c->shape.dims[0] == 1
                                                  && c->shape.dims[1] == m)))
                {
                  bias = other;
                  folded_add = use->last_consumer;
                }
            }
        }
    }
  if (bias != NULL)
    {
      if ((inputs[2] = materialise (im, bias, GRAFT_VALUE_PARAMETER, error)) < 0)
        return FALSE;
      n_inputs = 3;
      out = output_name (im->graph_proto->node[folded_add], 0);
      im->folded[folded_add] = TRUE;
    }
  return add_node (im, "", &a, inputs, n_inputs, out, error) >= 0;
}

static gboolean
import_dropout (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_DROPOUT, .dropout = { 0.5f } };
  int x;

  if (!check_input_count (im, node, 1, im->opset >= 12 ? 3 : 1, error)
      || !check_extra_outputs (im, node, 1, "the output, not the mask", error))
    return FALSE;
  if (im->opset < 12)
    {
      if (!attribute_float (im, node, "ratio", 0.5f, &a.dropout.ratio, error))
        return FALSE;
    }
  else
    {
      double value;
      const Tensor *t;
      if (input_name (node, 1) != NULL)
        {
          if ((t = constant_input (im, node, 1, "ratio", error)) == NULL
              || !constant_scalar (im, t, "ratio", &value, error))
            return FALSE;
          a.dropout.ratio = (float) value;
        }
      if (input_name (node, 2) != NULL)
        {
          if ((t = constant_input (im, node, 2, "training_mode", error)) == NULL
              || !constant_scalar (im, t, "training_mode", &value, error))
            return FALSE;
          /* Swin's F.dropout (attn, p=0.0) is in training mode, and drops nothing. */
          if (value != 0 && a.dropout.ratio != 0)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "is in training mode: this is a training-mode graph; export the model for inference");
        }
    }
  if (!(a.dropout.ratio >= 0.0f && a.dropout.ratio < 1.0f))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the ratio %g, outside [0, 1)",
                       (double) a.dropout.ratio);
  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

static gboolean
import_identity (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const char *out;
  Entry *x;

  if (!check_input_count (im, node, 1, 1, error))
    return FALSE;
  out = output_name (node, 0);
  x = input_entry (im, node, 0);
  if (x->kind == ENTRY_CONSTANT)
    {
      /* A copy under its own name: torch deduplicates equal initializers (untrained
       * BatchNorm biases) behind Identity nodes, and each reader should keep its own. */
      const Tensor *t = entry_tensor (im, x, error);
      if (t == NULL)
        return FALSE;
      define_constant (im, out, tensor_copy (t));
      return TRUE;
    }
  return define_alias (im, "", x, out, error);
}

static gboolean
import_softmax (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_SOFTMAX };
  const graft_shape *shape;
  gint64 axis;
  int x, rank, k;

  if (!check_input_count (im, node, 1, 1, error)
      || !attribute_int (im, node, "axis", im->opset >= 13 ? -1 : 1, &axis, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  shape = value_shape (im, x);
  rank = shape->rank;
  if (!normalise_axis (im, axis, rank, &k, error))
    return FALSE;
  if (k == rank - 1)
    return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
  if (im->opset < 13)
    {
      /* Before opset 13, Softmax flattens to (before axis, from axis) first. */
      graft_node_attributes flatten = { .op = GRAFT_OP_FLATTEN, .flatten = { k } };
      graft_shape original = *shape;
      g_autofree char *flat_name = g_strconcat (output_name (node, 0), "/flat", NULL);
      g_autofree char *soft_name = g_strconcat (output_name (node, 0), "/softmax", NULL);
      int flat, soft;
      if ((flat = add_node (im, "/flatten", &flatten, &x, 1, flat_name, error)) < 0
          || (soft = add_node (im, "/softmax", &a, &flat, 1, soft_name, error)) < 0)
        return FALSE;
      return reshape_to (im, soft, &original, k > 0 ? 0 : -1, output_name (node, 0), error);
    }
  a = (graft_node_attributes) { .op = GRAFT_OP_SOFTMAX_AXIS, .softmax_axis = { k } };
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* Whether every node reading name is a Conv or a pool, which take a pending Pad (an
 * ENTRY_PADDED) as their own padding. */
static gboolean
only_windows_read (Importer *im, const char *name)
{
  const Onnx__GraphProto *g = im->graph_proto;

  if (name == NULL || is_graph_output (im, name))
    return FALSE;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      if (g_strcmp0 (input_name (g->node[i], k), name) == 0)
        {
          const char *op = g->node[i]->op_type;
          if (strcmp (op, "Conv") != 0 && strcmp (op, "AveragePool") != 0 && strcmp (op, "MaxPool") != 0)
            return FALSE;
        }
  return TRUE;
}

/* Zero padding of an activation that something other than a Conv or a pool reads
 * (Swin pads its (N, H, W, C) map to whole windows): per padded axis, zeros made from a
 * slice of x times 0 are concatenated before and after it. Axis 0 (the batch) is not
 * padded; a pad wider than the axis is refused. */
static gboolean
pad_with_zeros (Importer *im, const Onnx__NodeProto *node, int x, const gint64 *pads, size_t n, double value,
                GError **error)
{
  const graft_shape *shape = value_shape (im, x);
  graft_node_attributes concat = { .op = GRAFT_OP_CONCAT }, times = { .op = GRAFT_OP_MUL };
  const char *output = output_name (node, 0);
  graft_shape scalar = { .rank = 0 };
  float zero = 0;
  int rank = shape->rank, zero_value = -1, steps = 0, last_axis = -1, last_side = -1;
  graft_error engine;

  if (value != 0 || (size_t) rank * 2 != n)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "pads with the value %g or with %zu pads for rank %d; Graft pads with zeros", value, n, rank);
  for (int d = 0; d < rank; d++)
    for (int side = 0; side < 2; side++)
      {
        gint64 p = pads[side * rank + d];
        if (p == 0)
          continue;
        if (d == 0 || p < 0 || p > shape->dims[d])
          return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "pads the axis %d by %" G_GINT64_FORMAT "; Graft pads axes other than the batch by at "
                             "most their size", d, p);
        last_axis = d, last_side = side;
      }
  for (int d = 1; d < rank; d++)
    for (int side = 0; side < 2; side++)
      {
        gint64 p = pads[side * rank + d];
        graft_node_attributes slice = { .op = GRAFT_OP_SLICE, .slice = { d, 0, p } };
        g_autofree char *prefix = g_strdup_printf ("/pad%d", steps++);
        g_autofree char *sliced = g_strconcat (output, prefix, "/part", NULL);
        g_autofree char *zeros = g_strconcat (output, prefix, "/zeros", NULL);
        g_autofree char *joined = d == last_axis && side == last_side ? g_strdup (output)
                                                                     : g_strconcat (output, prefix, NULL);
        g_autofree char *suffix_part = g_strconcat (prefix, "/part", NULL);
        g_autofree char *suffix_zeros = g_strconcat (prefix, "/zeros", NULL);
        int inputs[2], z;
        if (p == 0)
          continue;
        if (zero_value < 0)
          {
            g_autofree char *zero_name = g_strconcat (output, "/zero", NULL);
            zero_value = graft_graph_add_tensor (im->graph, zero_name, GRAFT_VALUE_CONSTANT, &scalar, &zero, &engine);
            if (zero_value < 0)
              return engine_error (im, error, &engine);
          }
        if ((z = add_node (im, suffix_part, &slice, &x, 1, sliced, error)) < 0)
          return FALSE;
        inputs[0] = z, inputs[1] = zero_value;
        if ((z = add_node (im, suffix_zeros, &times, inputs, 2, zeros, error)) < 0)
          return FALSE;
        inputs[side] = z, inputs[1 - side] = x;
        concat.concat.axis = d;
        if ((x = add_node (im, d == last_axis && side == last_side ? "" : prefix, &concat, inputs, 2, joined, error)) < 0)
          return FALSE;
      }
  return TRUE;
}

static gboolean
import_pad (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  g_autofree char *mode = NULL;
  const gint64 *pads;
  size_t n;
  double value = 0;
  float value_attribute;
  Entry *x, *padded;

  if (!check_input_count (im, node, 1, im->opset >= 11 ? 3 : 1, error)
      || !attribute_string (im, node, "mode", "constant", &mode, error))
    return FALSE;
  if (strcmp (mode, "constant") != 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "pads in mode '%s'; Graft supports zero padding only", mode);
  if (im->opset < 11)
    {
      if (!attribute_ints (im, node, "pads", &pads, &n, error)
          || !attribute_float (im, node, "value", 0.0f, &value_attribute, error))
        return FALSE;
      value = value_attribute;
    }
  else
    {
      const Tensor *t;
      if ((t = constant_input (im, node, 1, "pads", error)) == NULL
          || !constant_ints (im, t, "pads", &pads, NULL, &n, error))
        return FALSE;
      if (input_name (node, 2) != NULL
          && ((t = constant_input (im, node, 2, "constant_value", error)) == NULL
              || !constant_scalar (im, t, "constant_value", &value, error)))
        return FALSE;
    }
  x = input_entry (im, node, 0);
  if (is_constant (x))
    {
      const Tensor *t = entry_tensor (im, x, error);
      return t != NULL && fold_pad (im, node, t, pads, n, value, error);
    }
  if (x->kind == ENTRY_VALUE)
    {
      /* Swin pads its feature map to a multiple of its window: nothing, at sizes that
       * are multiples already. */
      gboolean none = TRUE;
      for (size_t i = 0; i < n; i++)
        none = none && pads[i] == 0;
      if (none)
        return define_alias (im, "", x, output_name (node, 0), error);
      if (!only_windows_read (im, output_name (node, 0)))
        return pad_with_zeros (im, node, x->value, pads, n, value, error);
    }
  if (x->kind != ENTRY_VALUE || value_shape (im, x->value)->rank != 4 || n != 8)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "pads something other than an (N,C,H,W) tensor computed at run time");
  if (value != 0 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "pads with a value other than zero, or along N or C; Graft folds zero padding of H and W "
                       "into a following Conv or AveragePool");
  for (int i = 2; i < 8; i++)
    if ((i == 2 || i == 3 || i == 6 || i == 7) && (pads[i] < 0 || pads[i] > G_MAXINT / 4))
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "has the pad %" G_GINT64_FORMAT, pads[i]);
  padded = define_entry (im, output_name (node, 0), ENTRY_PADDED);
  padded->value = x->value;
  padded->pads[0] = (int) pads[2];
  padded->pads[1] = (int) pads[3];
  padded->pads[2] = (int) pads[6];
  padded->pads[3] = (int) pads[7];
  return TRUE;
}


/* ------------------------------------------------------------------------ */
/* Resize                                                                     */

/* The index of text in names (n of them), or -1. */
static int
name_index (const char *text, const char *const *names, int n)
{
  for (int i = 0; i < n; i++)
    if (strcmp (text, names[i]) == 0)
      return i;
  return -1;
}

/* The image a Resize or Upsample reads, (N,C,H,W), and its shape; -1 if it is not one. */
static int
resize_input (Importer *im, const Onnx__NodeProto *node, const graft_shape **x_shape, GError **error)
{
  int x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error);
  if (x < 0)
    return -1;
  *x_shape = value_shape (im, x);
  if ((*x_shape)->rank != 4)
    {
      node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "resizes a rank-%d tensor; Graft resizes images (N,C,H,W)",
                  (*x_shape)->rank);
      return -1;
    }
  return x;
}

/* The output size of a Resize of x_shape (N,C,H,W) by the scales s: ONNX's floor
 * (input * scale), the scale as given, in float; H and W only. */
static gboolean
resize_by_scales (Importer *im, const graft_shape *x_shape, const double s[4], graft_node_attributes *a,
                  GError **error)
{
  if (s[0] != 1 || s[1] != 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "resizes the batch or the channels; Graft resizes H and W only");
  if (!(s[2] > 0) || !(s[3] > 0) || !isfinite (s[2]) || !isfinite (s[3])
      || floor (s[2] * (double) x_shape->dims[2]) < 1 || floor (s[3] * (double) x_shape->dims[3]) < 1
      || s[2] * (double) x_shape->dims[2] > G_MAXINT || s[3] * (double) x_shape->dims[3] > G_MAXINT)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the scales %g and %g for an image of %"
                       G_GINT64_FORMAT " x %" G_GINT64_FORMAT, s[2], s[3], x_shape->dims[2], x_shape->dims[3]);
  a->resize.out_h = (gint64) floorf ((float) s[2] * (float) x_shape->dims[2]);
  a->resize.out_w = (gint64) floorf ((float) s[3] * (float) x_shape->dims[3]);
  a->resize.scale_h = s[2];
  a->resize.scale_w = s[3];
  return TRUE;
}

/* Upsample-7 (scales in an attribute), Upsample-9 and -10 and Resize-10 (scales in the
 * second input): nearest or linear by scales known at import. These versions have no
 * coordinate transformation: an output pixel maps to out / scale in the input
 * (asymmetric), nearest rounds that down, as ONNX Runtime does and as PyTorch's nearest
 * is (its exports at opsets 7 to 10). PyTorch's bilinear is not that mapping (half
 * pixels): its exports at these opsets differ from PyTorch already, and run here as
 * ONNX defines them. */
static gboolean
import_upsample (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_RESIZE };
  g_autofree char *mode = NULL;
  const gboolean is_upsample = strcmp (op_type_of (node), "Upsample") == 0;
  const gboolean scales_attribute = is_upsample && im->opset < 9;
  const graft_shape *x_shape;
  double s[4];
  int x, k;

  if (!check_input_count (im, node, 1, scales_attribute ? 1 : 2, error)
      || !check_extra_outputs (im, node, 1, op_type_of (node), error)
      || !attribute_string (im, node, "mode", "nearest", &mode, error))
    return FALSE;
  if ((k = name_index (mode, (const char *const[]) { "nearest", "linear", "bilinear" }, 3)) < 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "resizes with mode '%s'; Graft resizes with nearest and linear", mode);
  a.resize.mode = k == 0 ? GRAFT_RESIZE_NEAREST : GRAFT_RESIZE_LINEAR;
  a.resize.coordinates = GRAFT_RESIZE_ASYMMETRIC;
  a.resize.rounding = GRAFT_RESIZE_FLOOR;
  if ((x = resize_input (im, node, &x_shape, error)) < 0)
    return FALSE;
  if (scales_attribute)
    {
      const Onnx__AttributeProto *attribute = find_attribute (node, "scales");
      if (attribute == NULL || !attribute_type_is (attribute, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
          || attribute->n_floats != 4)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "needs the attribute 'scales' with 4 floats for a rank-4 input");
      for (int d = 0; d < 4; d++)
        s[d] = attribute->floats[d];
    }
  else
    {
      const Tensor *scales = constant_input (im, node, 1, "scales", error);
      if (scales == NULL)
        return FALSE;
      if (scales->type != TENSOR_FLOAT || scales->count != 4)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "needs 4 float scales for a rank-4 input");
      for (int d = 0; d < 4; d++)
        s[d] = tensor_get (scales, (size_t) d);
    }
  /* Upsample's scales are at least 1. Resize-10 may shrink, but runtimes round a
   * shrinking nearest differently (ONNX Runtime rounds up there), so Graft takes
   * only the linear one. */
  if (is_upsample && (s[2] < 1 || s[3] < 1))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "has the scales %g and %g; Upsample's are at least 1", s[2], s[3]);
  if (a.resize.mode == GRAFT_RESIZE_NEAREST && (s[2] < 1 || s[3] < 1))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "shrinks by nearest with the scales %g and %g at opset %" G_GINT64_FORMAT
                       ", which runtimes round differently; Graft reads that from opset 11", s[2], s[3], im->opset);
  if (!resize_by_scales (im, x_shape, s, &a, error))
    return FALSE;
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* Resize-11 to -13 on (N,C,H,W) as PyTorch exports F.interpolate and nn.Upsample:
 * nearest or linear, with the scales or the sizes known at import (PyTorch computes
 * sizes from Shape, which folds), scaling H and W only. Resize-10 is Upsample's. */
static gboolean
import_resize (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  static const char *const coordinate_names[] = {
    [GRAFT_RESIZE_HALF_PIXEL] = "half_pixel",
    [GRAFT_RESIZE_PYTORCH_HALF_PIXEL] = "pytorch_half_pixel",
    [GRAFT_RESIZE_ASYMMETRIC] = "asymmetric",
    [GRAFT_RESIZE_ALIGN_CORNERS] = "align_corners",
  };
  static const char *const rounding_names[] = {
    [GRAFT_RESIZE_ROUND_PREFER_FLOOR] = "round_prefer_floor",
    [GRAFT_RESIZE_ROUND_PREFER_CEIL] = "round_prefer_ceil",
    [GRAFT_RESIZE_FLOOR] = "floor",
    [GRAFT_RESIZE_CEIL] = "ceil",
  };
  graft_node_attributes a = { .op = GRAFT_OP_RESIZE };
  g_autofree char *mode = NULL, *coordinates = NULL, *rounding = NULL;
  const graft_shape *x_shape;
  const Tensor *scales = NULL, *sizes = NULL;
  gint64 exclude_outside, antialias;
  int x, k;

  if (im->opset < 11)
    return import_upsample (im, node, error);
  if (!check_input_count (im, node, 1, 4, error) || !check_extra_outputs (im, node, 1, "Resize", error)
      || !attribute_string (im, node, "mode", "nearest", &mode, error)
      || !attribute_string (im, node, "coordinate_transformation_mode", "half_pixel", &coordinates, error)
      || !attribute_string (im, node, "nearest_mode", "round_prefer_floor", &rounding, error)
      || !attribute_int (im, node, "exclude_outside", 0, &exclude_outside, error)
      || !attribute_int (im, node, "antialias", 0, &antialias, error))
    return FALSE;
  if ((k = name_index (mode, (const char *const[]) { "nearest", "linear" }, 2)) < 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "resizes with mode '%s'; Graft resizes with nearest and linear", mode);
  a.resize.mode = k == 0 ? GRAFT_RESIZE_NEAREST : GRAFT_RESIZE_LINEAR;
  if ((k = name_index (coordinates, coordinate_names, G_N_ELEMENTS (coordinate_names))) < 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has the coordinate transformation '%s'; Graft takes half_pixel, pytorch_half_pixel, "
                       "asymmetric and align_corners", coordinates);
  a.resize.coordinates = (graft_resize_coordinates) k;
  if ((k = name_index (rounding, rounding_names, G_N_ELEMENTS (rounding_names))) < 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the nearest_mode '%s'", rounding);
  a.resize.rounding = (graft_resize_rounding) k;
  if (exclude_outside != 0 || antialias != 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "resizes with exclude_outside or antialias, which Graft does not do");
  if ((x = resize_input (im, node, &x_shape, error)) < 0)
    return FALSE;
  if (input_name (node, 2) != NULL && (scales = constant_input (im, node, 2, "scales", error)) == NULL)
    return FALSE;
  if (scales != NULL && scales->count == 0)
    scales = NULL;
  if (input_name (node, 3) != NULL && (sizes = constant_input (im, node, 3, "sizes", error)) == NULL)
    return FALSE;
  if ((scales == NULL) == (sizes == NULL))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "needs either scales or sizes, and not both");
  if (sizes != NULL)
    {
      const gint64 *values;
      const guint8 *flags;
      size_t count;
      if (!constant_ints (im, sizes, "sizes", &values, &flags, &count, error))
        return FALSE;
      if (count != 4)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has %zu sizes for a rank-4 input", count);
      if (values[1] != x_shape->dims[1] || flags[1] != ELEMENT_STATIC
          || (flags[0] != ELEMENT_BATCH && !(flags[0] == ELEMENT_STATIC && values[0] == x_shape->dims[0])))
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "resizes the batch or the channels; Graft resizes H and W only");
      if (flags[2] != ELEMENT_STATIC || flags[3] != ELEMENT_STATIC || values[2] < 1 || values[3] < 1
          || values[2] > G_MAXINT || values[3] > G_MAXINT)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the output size %" G_GINT64_FORMAT " x %"
                           G_GINT64_FORMAT, values[2], values[3]);
      a.resize.out_h = values[2];
      a.resize.out_w = values[3];
      /* The scale in float, as ONNX Runtime takes it (and as the exporter writes it back). */
      a.resize.scale_h = (float) ((double) values[2] / (double) x_shape->dims[2]);
      a.resize.scale_w = (float) ((double) values[3] / (double) x_shape->dims[3]);
    }
  else
    {
      double s[4];
      if (scales->type != TENSOR_FLOAT || scales->count != 4)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "needs 4 float scales for a rank-4 input");
      for (int d = 0; d < 4; d++)
        s[d] = tensor_get (scales, (size_t) d);
      if (!resize_by_scales (im, x_shape, s, &a, error))
        return FALSE;
    }
  return add_node (im, "", &a, &x, 1, output_name (node, 0), error) >= 0;
}

/* Each op with either its own importer or a shared one and the variant to pass it. */
const OpImporter node_importers[] = {
  { "Conv", import_conv },
  { "BatchNormalization", import_batchnorm },
  { "Relu", NULL, import_plain_activation, GRAFT_ACTIVATION_RELU },
  { "Sigmoid", NULL, import_plain_activation, GRAFT_ACTIVATION_SIGMOID },
  { "LeakyRelu", import_leaky_relu },
  { "HardSigmoid", import_hard_sigmoid },
  { "HardSwish", NULL, import_plain_activation, GRAFT_ACTIVATION_HARD_SWISH },
  { "Clip", import_clip },
  { "Abs", import_abs },
  { "Add", NULL, import_binary, '+' },
  { "Sub", NULL, import_binary, '-' },
  { "Mul", import_mul_or_gelu },
  { "Div", import_div_or_gelu },
  { "Concat", import_concat },
  { "MaxPool", NULL, import_pool, TRUE },
  { "AveragePool", NULL, import_pool, FALSE },
  { "GlobalAveragePool", import_global_average_pool },
  { "GlobalMaxPool", import_global_max_pool },
  { "ReduceMean", import_reduce_mean_or_layernorm },
  { "LayerNormalization", import_layer_normalization },
  { "Equal", import_equal },
  { "Where", import_where },
  { "Expand", import_expand },
  { "Flatten", import_flatten },
  { "Reshape", import_reshape },
  { "Squeeze", NULL, import_squeeze_unsqueeze, TRUE },
  { "Unsqueeze", NULL, import_squeeze_unsqueeze, FALSE },
  { "Transpose", import_transpose },
  { "Gemm", import_gemm },
  { "MatMul", import_matmul },
  { "Dropout", import_dropout },
  { "Identity", import_identity },
  { "Softmax", import_softmax },
  { "Pad", import_pad },
  { "Resize", import_resize },
  { "Upsample", import_upsample },
  { "Constant", import_constant },
  { "Shape", import_shape },
  { "Gather", import_gather },
  { "Cast", import_cast },
  { "Slice", import_slice },
  { "Split", import_split },
  { "ConstantOfShape", import_constant_of_shape },
  { "Mod", import_mod },
  { "Not", import_not },
  { "Pow", import_pow },
  { "Sqrt", import_sqrt },
  { "Range", import_range },
  { "ScatterND", import_scatter_nd },
};

const size_t n_node_importers = G_N_ELEMENTS (node_importers);
