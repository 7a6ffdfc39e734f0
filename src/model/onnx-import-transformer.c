/* onnx-import-transformer.c: the ops of vision transformers and ConvNeXt (see
 * onnx-import.c).
 *
 * PyTorch 1.13 exports nn.LayerNorm and F.layer_norm below opset 17 as a chain,
 *   m = ReduceMean(x, last axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2));
 *   y = Div(d, Sqrt(Add(v, eps))) [* scale] [+ bias]
 * and nn.GELU as y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), its tanh form
 * (approximate='tanh', which ONNX has no op for before opset 20) as
 *   y = Mul(0.5, Mul(x, Add(1, Tanh(Mul(sqrt(2/pi), Add(x, Mul(0.044715, Mul(x, Mul(x, x)))))))))
 * All are recognised from their first node (ReduceMean, Div, Mul(x, x)) and become one
 * engine node; the other nodes of
 * the chain are marked folded. A chain whose intermediate tensors are read elsewhere,
 * or whose constants differ, is imported node by node as before (and then refused
 * where an op has no engine form).
 */
#include "model/onnx-import-private.h"

#define MAX_CONSUMERS 4

/* The nodes (file indices) reading name, up to max; the count, or -1 when more, or
 * when name is a graph output (its value must stay as it is). */
static int
consumers_of (Importer *im, const char *name, int *out, int max)
{
  const Onnx__GraphProto *g = im->graph_proto;
  int n = 0;

  if (name == NULL || is_graph_output (im, name))
    return -1;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      if (g_strcmp0 (input_name (g->node[i], k), name) == 0)
        {
          if (n == max)
            return -1;
          out[n++] = (int) i;
          break;
        }
  return n;
}

/* The one node reading name, of op type op_type (default domain, not yet imported);
 * -1 otherwise. */
static int
only_consumer (Importer *im, const char *name, const char *op_type)
{
  int readers[1];
  const Onnx__NodeProto *node;

  if (consumers_of (im, name, readers, 1) != 1)
    return -1;
  node = im->graph_proto->node[readers[0]];
  if (strcmp (node->op_type, op_type) != 0 || !is_default_domain (node->domain) || im->folded[readers[0]]
      || readers[0] == im->current)
    return -1;
  return readers[0];
}

/* The input of node that is not name (for commutative ops with two inputs), or NULL. */
static const char *
other_input (const Onnx__NodeProto *node, const char *name)
{
  if (node->n_input != 2 || input_name (node, 0) == NULL || input_name (node, 1) == NULL)
    return NULL;
  if (strcmp (node->input[0], name) == 0)
    return node->input[1];
  if (strcmp (node->input[1], name) == 0)
    return node->input[0];
  return NULL;
}

/* The entry of name when it is a constant. A Constant node later in the file than the
 * chain's first node (PyTorch writes each next to its reader) is not imported yet: it
 * is imported now, and marked done. */
static Entry *
constant_entry (Importer *im, const char *name)
{
  Entry *entry = name != NULL ? lookup (im, name) : NULL;
  int producer, current = im->current;
  const Onnx__NodeProto *node;
  GError *ignored = NULL;

  if (entry != NULL || name == NULL)
    return entry != NULL && is_constant (entry) ? entry : NULL;
  producer = GPOINTER_TO_INT (g_hash_table_lookup (im->producers, name)) - 1;
  if (producer < 0 || im->folded[producer])
    return NULL;
  node = im->graph_proto->node[producer];
  if (strcmp (node->op_type, "Constant") != 0 || !is_default_domain (node->domain))
    return NULL;
  im->current = producer;
  if (!import_constant (im, node, &ignored))
    {
      g_clear_error (&ignored);
      im->current = current;
      return NULL;
    }
  im->current = current;
  im->folded[producer] = TRUE;
  entry = lookup (im, name);
  return entry != NULL && is_constant (entry) ? entry : NULL;
}

/* A float constant of one element, or NAN when name is not one. */
static double
scalar_constant (Importer *im, const char *name)
{
  Entry *entry = constant_entry (im, name);
  const Tensor *t;
  GError *ignored = NULL;

  if (entry == NULL || !is_constant (entry))
    return NAN;
  t = entry_tensor (im, entry, &ignored);
  g_clear_error (&ignored);
  if (t == NULL || t->count != 1)
    return NAN;
  return tensor_get (t, 0);
}

/* A float constant of count elements (a LayerNorm's scale or bias), or NULL. */
static Entry *
vector_constant (Importer *im, const char *name, size_t count)
{
  Entry *entry = constant_entry (im, name);
  const Tensor *t;
  GError *ignored = NULL;

  if (entry == NULL || !is_constant (entry))
    return NULL;
  t = entry_tensor (im, entry, &ignored);
  g_clear_error (&ignored);
  return t != NULL && t->type == TENSOR_FLOAT && t->count == count ? entry : NULL;
}

/* The first of the trailing axes a ReduceMean with keepdims averages over, or -1 when
 * its axes are not the last ones of x. */
static int
trailing_axes (Importer *im, const Onnx__NodeProto *node, int rank)
{
  const gint64 *axes;
  size_t n_axes;
  gboolean present, seen[GRAFT_MAX_RANK] = { FALSE };
  gint64 keep_dims;
  GError *ignored = NULL;
  int first;

  if (node->n_input < 1 || node->n_input > 2 || !axes_argument (im, node, FALSE, &axes, &n_axes, &present, &ignored)
      || !attribute_int (im, node, "keepdims", 1, &keep_dims, &ignored) || !present || keep_dims == 0
      || n_axes < 1 || (int) n_axes >= rank)
    {
      g_clear_error (&ignored);
      return -1;
    }
  for (size_t i = 0; i < n_axes; i++)
    {
      int axis;
      if (!normalise_axis (im, axes[i], rank, &axis, &ignored))
        {
          g_clear_error (&ignored);
          return -1;
        }
      seen[axis] = TRUE;
    }
  first = rank - (int) n_axes;
  for (int d = first; d < rank; d++)
    if (!seen[d])
      return -1;
  return first;
}

/* Adds the LayerNorm node for x (engine value) normalised from axis, with optional
 * scale and bias entries (parameters), as output. */
static gboolean
add_layernorm (Importer *im, int x, int axis, double epsilon, Entry *scale, Entry *bias, const char *output,
               GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_LAYERNORM, .layernorm = { axis, (float) epsilon } };
  int inputs[3] = { x }, n = 1;

  if (!(epsilon > 0) || !isfinite (epsilon))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "normalises with epsilon %g, which is not positive",
                       epsilon);
  if (scale != NULL && (inputs[n++] = materialise (im, scale, GRAFT_VALUE_PARAMETER, error)) < 0)
    return FALSE;
  if (bias != NULL)
    {
      if (scale == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "has a LayerNorm bias without a scale");
      if ((inputs[n++] = materialise (im, bias, GRAFT_VALUE_PARAMETER, error)) < 0)
        return FALSE;
    }
  return add_node (im, "", &a, inputs, n, output, error) >= 0;
}

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                  */

gboolean
import_layer_normalization (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  gint64 axis, stash;
  float epsilon;
  int x, k, rank;
  size_t cols = 1;
  Entry *scale, *bias = NULL;
  const graft_shape *shape;

  if (!check_input_count (im, node, 2, 3, error) || !check_extra_outputs (im, node, 1, "its mean and deviation", error)
      || !attribute_int (im, node, "axis", -1, &axis, error)
      || !attribute_float (im, node, "epsilon", 1e-5f, &epsilon, error)
      || !attribute_int (im, node, "stash_type", 1, &stash, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  shape = value_shape (im, x);
  rank = shape->rank;
  if (!normalise_axis (im, axis, rank, &k, error))
    return FALSE;
  if (k == 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "normalises over every axis, the batch included, which Graft does not support");
  for (int d = k; d < rank; d++)
    cols *= (size_t) shape->dims[d];
  scale = vector_constant (im, input_name (node, 1), cols);
  if (input_name (node, 2) != NULL && (bias = vector_constant (im, input_name (node, 2), cols)) == NULL)
    scale = NULL;
  if (scale == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has a scale or bias that is not a constant of %zu values, one per normalised element", cols);
  return add_layernorm (im, x, k - rank, epsilon, scale, bias, output_name (node, 0), error);
}

/* Recognises PyTorch's LayerNorm chain from its first ReduceMean (see the top). */
gboolean
import_reduce_mean_or_layernorm (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const char *x_name = input_name (node, 0), *d_name, *out;
  Entry *x_entry = x_name != NULL ? lookup (im, x_name) : NULL;
  const Onnx__NodeProto *sub, *pow, *mean2, *add, *sqrt_node, *div, *mul = NULL, *bias_add = NULL;
  int readers[MAX_CONSUMERS], n, first, rank, chain[8], n_chain = 0, div_index = -1, pow_index = -1, i;
  size_t cols = 1;
  double two, epsilon;
  Entry *scale = NULL, *bias = NULL;
  const graft_shape *shape;

  if (x_entry == NULL || x_entry->kind != ENTRY_VALUE)
    return import_reduce_mean (im, node, error);
  shape = value_shape (im, x_entry->value);
  rank = shape->rank;
  if ((first = trailing_axes (im, node, rank)) < 1)
    return import_reduce_mean (im, node, error);
  for (int d = first; d < rank; d++)
    cols *= (size_t) shape->dims[d];

  /* d = x - mean, read by the Pow and the Div only. */
  if ((i = only_consumer (im, output_name (node, 0), "Sub")) < 0)
    return import_reduce_mean (im, node, error);
  sub = im->graph_proto->node[i];
  chain[n_chain++] = i;
  if (sub->n_input != 2 || g_strcmp0 (input_name (sub, 0), x_name) != 0)
    return import_reduce_mean (im, node, error);
  d_name = output_name (sub, 0);
  n = consumers_of (im, d_name, readers, MAX_CONSUMERS);
  if (n != 2)
    return import_reduce_mean (im, node, error);
  for (int k = 0; k < 2; k++)
    {
      const Onnx__NodeProto *r = im->graph_proto->node[readers[k]];
      if (strcmp (r->op_type, "Pow") == 0 && g_strcmp0 (input_name (r, 0), d_name) == 0)
        pow_index = readers[k];
      else if (strcmp (r->op_type, "Div") == 0 && g_strcmp0 (input_name (r, 0), d_name) == 0)
        div_index = readers[k];
    }
  if (pow_index < 0 || div_index < 0)
    return import_reduce_mean (im, node, error);
  pow = im->graph_proto->node[pow_index];
  div = im->graph_proto->node[div_index];
  two = scalar_constant (im, input_name (pow, 1));
  if (two != 2)
    return import_reduce_mean (im, node, error);
  chain[n_chain++] = pow_index;
  /* variance = ReduceMean(d^2) over the same axes; + eps; Sqrt; the Div's divisor. */
  if ((i = only_consumer (im, output_name (pow, 0), "ReduceMean")) < 0)
    return import_reduce_mean (im, node, error);
  mean2 = im->graph_proto->node[i];
  chain[n_chain++] = i;
  if (trailing_axes (im, mean2, rank) != first || (i = only_consumer (im, output_name (mean2, 0), "Add")) < 0)
    return import_reduce_mean (im, node, error);
  add = im->graph_proto->node[i];
  chain[n_chain++] = i;
  epsilon = scalar_constant (im, other_input (add, output_name (mean2, 0)));
  if (isnan (epsilon) || (i = only_consumer (im, output_name (add, 0), "Sqrt")) < 0)
    return import_reduce_mean (im, node, error);
  sqrt_node = im->graph_proto->node[i];
  chain[n_chain++] = i;
  if (g_strcmp0 (input_name (div, 1), output_name (sqrt_node, 0)) != 0
      || only_consumer (im, output_name (sqrt_node, 0), "Div") != div_index)
    return import_reduce_mean (im, node, error);
  chain[n_chain++] = div_index;
  out = output_name (div, 0);
  /* Then the affine part, when its constants have one value per normalised element. */
  if ((i = only_consumer (im, out, "Mul")) >= 0
      && (scale = vector_constant (im, other_input (im->graph_proto->node[i], out), cols)) != NULL)
    {
      mul = im->graph_proto->node[i];
      chain[n_chain++] = i;
      out = output_name (mul, 0);
      if ((i = only_consumer (im, out, "Add")) >= 0
          && (bias = vector_constant (im, other_input (im->graph_proto->node[i], out), cols)) != NULL)
        {
          bias_add = im->graph_proto->node[i];
          chain[n_chain++] = i;
          out = output_name (bias_add, 0);
        }
    }
  for (int k = 0; k < n_chain; k++)
    im->folded[chain[k]] = TRUE;
  return add_layernorm (im, x_entry->value, first - rank, epsilon, scale, bias, out, error);
}

/* ------------------------------------------------------------------------ */
/* GELU                                                                       */

/* Recognises PyTorch's exact GELU from its Div by sqrt 2 (see the top). */
gboolean
import_div_or_gelu (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const char *x_name = input_name (node, 0), *name;
  Entry *x_entry = x_name != NULL ? lookup (im, x_name) : NULL;
  const Onnx__NodeProto *erf, *add, *mul, *half;
  int chain[4], i;
  graft_node_attributes a = { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_ERF } };

  if (x_entry == NULL || x_entry->kind != ENTRY_VALUE || node->n_input != 2
      || fabs (scalar_constant (im, input_name (node, 1)) - G_SQRT2) > 1e-6
      || (chain[0] = only_consumer (im, output_name (node, 0), "Erf")) < 0)
    return import_binary (im, node, '/', error);
  erf = im->graph_proto->node[chain[0]];
  if ((chain[1] = only_consumer (im, output_name (erf, 0), "Add")) < 0)
    return import_binary (im, node, '/', error);
  add = im->graph_proto->node[chain[1]];
  if (scalar_constant (im, other_input (add, output_name (erf, 0))) != 1
      || (chain[2] = only_consumer (im, output_name (add, 0), "Mul")) < 0)
    return import_binary (im, node, '/', error);
  mul = im->graph_proto->node[chain[2]];
  if (g_strcmp0 (other_input (mul, output_name (add, 0)), x_name) != 0
      || (chain[3] = only_consumer (im, output_name (mul, 0), "Mul")) < 0)
    return import_binary (im, node, '/', error);
  half = im->graph_proto->node[chain[3]];
  if (scalar_constant (im, other_input (half, output_name (mul, 0))) != 0.5)
    return import_binary (im, node, '/', error);
  for (i = 0; i < 4; i++)
    im->folded[chain[i]] = TRUE;
  name = output_name (half, 0);
  return add_node (im, "", &a, &x_entry->value, 1, name, error) >= 0;
}

/* The next node of a chain: the one node of op_type reading prev's output, whose other
 * input is other (a tensor name) or, when other is NULL, the scalar constant scalar
 * (within 1e-6); -1 when there is none. */
static int
chain_next (Importer *im, const Onnx__NodeProto *prev, const char *op_type, const char *other, double scalar)
{
  const char *out = output_name (prev, 0);
  int next = only_consumer (im, out, op_type);
  const Onnx__NodeProto *node;

  if (next < 0)
    return -1;
  node = im->graph_proto->node[next];
  if (strcmp (op_type, "Tanh") == 0)
    return node->n_input == 1 ? next : -1;
  if (other != NULL)
    return g_strcmp0 (other_input (node, out), other) == 0 ? next : -1;
  return fabs (scalar_constant (im, other_input (node, out)) - scalar) <= 1e-6 ? next : -1;
}

/* Recognises PyTorch's tanh GELU from its Mul(x, x) (see the top). */
gboolean
import_mul_or_gelu (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  static const struct {
    const char *op_type;
    gboolean reads_x;
    double scalar;
  } steps[] = {
    { "Mul", TRUE, 0 },                    /* x^3 */
    { "Mul", FALSE, 0.044715 },
    { "Add", TRUE, 0 },                    /* x + 0.044715 x^3 */
    { "Mul", FALSE, 0.7978845608028654 },  /* sqrt (2 / pi) */
    { "Tanh", FALSE, 0 },
    { "Add", FALSE, 1 },
    { "Mul", TRUE, 0 },
    { "Mul", FALSE, 0.5 },
  };
  const char *x_name = input_name (node, 0);
  Entry *x_entry = x_name != NULL ? lookup (im, x_name) : NULL;
  const Onnx__NodeProto *prev = node;
  int chain[G_N_ELEMENTS (steps)];
  graft_node_attributes a = { .op = GRAFT_OP_GELU, .gelu = { GRAFT_GELU_TANH } };

  if (x_entry == NULL || x_entry->kind != ENTRY_VALUE || node->n_input != 2
      || g_strcmp0 (input_name (node, 1), x_name) != 0)
    return import_binary (im, node, '*', error);
  for (size_t i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      chain[i] = chain_next (im, prev, steps[i].op_type, steps[i].reads_x ? x_name : NULL, steps[i].scalar);
      if (chain[i] < 0)
        return import_binary (im, node, '*', error);
      prev = im->graph_proto->node[chain[i]];
    }
  for (size_t i = 0; i < G_N_ELEMENTS (steps); i++)
    im->folded[chain[i]] = TRUE;
  return add_node (im, "", &a, &x_entry->value, 1, output_name (prev, 0), error) >= 0;
}

/* ------------------------------------------------------------------------ */
/* Swin's relative-position bias                                              */

/* A PyTorch state_dict name (features.1.0.attn.relative_position_bias_table), not one
 * of torch's anonymous constants (onnx::Add_12). */
gboolean
is_parameter_name (const char *name)
{
  return name != NULL && strchr (name, '.') != NULL && !g_str_has_prefix (name, "onnx::");
}

/* An engine Gather of table (an initializer, made a parameter) by constant indices on
 * axis; the indices become a float constant named indices_name. Returns the output value
 * or -1 with error set. */
int
gather_parameter (Importer *im, Entry *table, const Tensor *indices, int axis, const char *indices_name,
                  const char *output, GError **error)
{
  graft_node_attributes a = { .op = GRAFT_OP_GATHER, .gather = { axis } };
  const graft_shape *shape;
  g_autofree float *floats = NULL;
  graft_error engine;
  int inputs[2];

  if ((inputs[0] = materialise (im, table, GRAFT_VALUE_PARAMETER, error)) < 0)
    return -1;
  shape = value_shape (im, inputs[0]);
  floats = g_new (float, MAX (indices->count, 1));
  for (size_t k = 0; k < indices->count; k++)
    {
      gint64 i = indices->ints[k] < 0 ? indices->ints[k] + shape->dims[axis] : indices->ints[k];
      if (i < 0 || i >= shape->dims[axis])
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "gathers the index %" G_GINT64_FORMAT
                           " of an axis of size %" G_GINT64_FORMAT, indices->ints[k], shape->dims[axis]), -1;
      floats[k] = (float) i;
    }
  inputs[1] = graft_graph_find_value (im->graph, indices_name);
  if (inputs[1] >= 0 && (graft_graph_value (im->graph, inputs[1])->kind != GRAFT_VALUE_CONSTANT
                         || !graft_shape_equal (value_shape (im, inputs[1]), &indices->shape)
                         || memcmp (graft_graph_tensor_data (im->graph, inputs[1]), floats,
                                    indices->count * sizeof (float)) != 0))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "gathers by '%s', a name Graft already uses",
                       indices_name), -1;
  if (inputs[1] < 0
      && (inputs[1] = graft_graph_add_tensor (im->graph, indices_name, GRAFT_VALUE_CONSTANT, &indices->shape, floats,
                                              &engine)) < 0)
    return engine_error (im, error, &engine), -1;
  return add_node (im, "/gather", &a, inputs, 2, output, error);
}

/* torchvision's Swin adds to each window's attention scores (B*nW, heads, N, N) a bias
 * gathered from a learned table of (2 Wh - 1)(2 Ww - 1) rows by a constant index of
 * relative positions. torch.onnx.export folds that Gather (the table is gone from the
 * file) and writes the bias as an anonymous constant (1, heads, N, N). When the constant
 * is exactly such a gather for a square window (every entry the table row its index
 * says), the table is taken back from it and the bias becomes
 * Reshape (Transpose (Reshape (Gather (table, index)))) again, so that it learns, under
 * the name the table has in PyTorch (the node's scope: features.1.0.attn.). Returns the
 * bias value, -1 when the constant is not such a bias, or -2 with error set. */
int
swin_relative_bias (Importer *im, const Onnx__NodeProto *node, Entry *bias, Entry *scores, GError **error)
{
  const Tensor *t;
  const graft_shape *s;
  GError *ignored = NULL;
  gint64 heads, n, window, rows;
  g_autofree gint64 *index = NULL;
  g_autofree float *table = NULL;
  g_autofree char *scope = NULL, *table_name = NULL, *index_name = NULL, *gathered = NULL, *square = NULL;
  g_autofree char *moved = NULL, *learned = NULL;
  g_autoptr (Tensor) index_tensor = NULL;
  Entry *table_entry;
  graft_shape table_shape, index_shape;
  graft_node_attributes reshape = { .op = GRAFT_OP_RESHAPE }, transpose = { .op = GRAFT_OP_TRANSPOSE };
  graft_error engine;
  int v;

  if (bias->proto == NULL || is_parameter_name (bias->name) || scores == NULL || scores->kind != ENTRY_VALUE)
    return -1;
  t = entry_tensor (im, bias, &ignored);
  g_clear_error (&ignored);
  if (t == NULL || t->type != TENSOR_FLOAT || t->shape.rank != 4 || t->shape.dims[0] != 1)
    return -1;
  heads = t->shape.dims[1], n = t->shape.dims[2];
  s = value_shape (im, scores->value);
  for (window = 1; window * window < n; window++)
    ;
  if (n < 4 || t->shape.dims[3] != n || window * window != n || n > 4096 || s->rank != 4 || s->dims[1] != heads
      || s->dims[2] != n || s->dims[3] != n)
    return -1;
  /* torchvision's relative_position_index: (dy + W - 1) (2 W - 1) + dx + W - 1. */
  rows = (2 * window - 1) * (2 * window - 1);
  index = g_new (gint64, (gsize) (n * n));
  for (gint64 i = 0; i < n; i++)
    for (gint64 j = 0; j < n; j++)
      index[i * n + j] = (i / window - j / window + window - 1) * (2 * window - 1) + i % window - j % window + window - 1;
  table = g_new (float, (gsize) (rows * heads));
  for (gint64 k = 0; k < rows * heads; k++)
    table[k] = NAN;
  for (gint64 h = 0; h < heads; h++)
    for (gint64 ij = 0; ij < n * n; ij++)
      {
        float value = t->floats[h * n * n + ij], *slot = &table[index[ij] * heads + h];
        if (isnan (*slot))
          *slot = value;
        else if (memcmp (slot, &value, sizeof value) != 0)
          return -1;
      }
  for (gint64 k = 0; k < rows * heads; k++)
    if (isnan (table[k]))
      return -1;

  /* The table's name: the node's scope (/features/features.1/features.1.0/attn/Add_1). */
  if (node->name != NULL && node->name[0] == '/')
    {
      g_auto (GStrv) parts = g_strsplit (node->name + 1, "/", -1);
      guint count = g_strv_length (parts), first = 0;
      for (guint i = 0; i + 1 < count; i++)
        if (strchr (parts[i], '.') != NULL)
          first = i;
      if (count > 1 && strchr (parts[first], '.') != NULL)
        {
          g_free (parts[count - 1]);
          parts[count - 1] = NULL;
          scope = g_strjoinv (".", parts + first);
        }
    }
  if (scope == NULL)
    scope = g_strdup (bias->name);
  table_name = g_strconcat (scope, ".relative_position_bias_table", NULL);
  index_name = g_strconcat (scope, ".relative_position_index", NULL);
  if (lookup (im, table_name) != NULL || graft_graph_find_value (im->graph, table_name) >= 0)
    return -1;
  table_shape = graft_shape_2d (rows, heads);
  table_entry = define_entry (im, table_name, ENTRY_CONSTANT);
  table_entry->tensor = tensor_new (im, TENSOR_FLOAT, &table_shape, error);
  if (table_entry->tensor == NULL)
    return -2;
  memcpy (table_entry->tensor->floats, table, (size_t) (rows * heads) * sizeof (float));
  index_shape = (graft_shape) { 1, { n * n } };
  if ((index_tensor = tensor_new (im, TENSOR_INT, &index_shape, error)) == NULL)
    return -2;
  memcpy (index_tensor->ints, index, (size_t) (n * n) * sizeof (gint64));
  gathered = g_strconcat (bias->name, "/gathered", NULL);
  square = g_strconcat (bias->name, "/square", NULL);
  moved = g_strconcat (bias->name, "/heads_first", NULL);
  learned = g_strconcat (bias->name, "/learned", NULL);
  if ((v = gather_parameter (im, table_entry, index_tensor, 0, index_name, gathered, error)) < 0)
    return -2;
  reshape.reshape.rank = 3;
  reshape.reshape.dims[0] = n, reshape.reshape.dims[1] = n, reshape.reshape.dims[2] = heads;
  if ((v = add_node (im, "/bias_square", &reshape, &v, 1, square, error)) < 0)
    return -2;
  transpose.transpose.perm[0] = 2, transpose.transpose.perm[1] = 0, transpose.transpose.perm[2] = 1;
  if ((v = add_node (im, "/bias_heads_first", &transpose, &v, 1, moved, error)) < 0)
    return -2;
  reshape.reshape.rank = 4;
  reshape.reshape.dims[0] = 1, reshape.reshape.dims[1] = heads, reshape.reshape.dims[2] = n;
  reshape.reshape.dims[3] = n;
  if ((v = add_node (im, "/bias", &reshape, &v, 1, learned, error)) < 0)
    return -2;
  (void) engine;
  return v;
}

/* ------------------------------------------------------------------------ */
/* The shape logic of ViT's class token                                      */

/* torchvision's ViT expands its class token to the batch with
 *   Expand(class_token, Where(Equal(s, -1 * ConstantOfShape(Shape(s))), ones, s))
 * where s = [N, -1, -1] comes from Shape(x). Equal and Where fold here (on constants,
 * keeping the batch flags), and an Expand of a constant over the batch becomes an
 * engine Add of the constant to zeros taken from the input, so that the class token
 * stays a learning parameter. */

/* The flat index into a tensor of shape in, broadcast to out, of out's flat index i. */
size_t
broadcast_index (const graft_shape *out, const graft_shape *in, size_t i)
{
  size_t index = 0, stride = 1;
  for (int d = out->rank - 1; d >= 0; d--)
    {
      size_t coordinate = i % (size_t) out->dims[d];
      int k = d - (out->rank - in->rank);
      i /= (size_t) out->dims[d];
      if (k < 0)
        continue;
      if (in->dims[k] != 1)
        index += coordinate * stride;
      stride *= (size_t) in->dims[k];
    }
  return index;
}

gboolean
broadcast_shape (Importer *im, const graft_shape *const *in, int n, graft_shape *out, GError **error)
{
  *out = (graft_shape) { 0 };
  for (int k = 0; k < n; k++)
    out->rank = MAX (out->rank, in[k]->rank);
  for (int d = 0; d < out->rank; d++)
    {
      out->dims[d] = 1;
      for (int k = 0; k < n; k++)
        {
          int j = d - (out->rank - in[k]->rank);
          gint64 x = j >= 0 ? in[k]->dims[j] : 1;
          if (x != 1 && out->dims[d] != 1 && x != out->dims[d])
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has operands whose shapes do not broadcast");
          if (x != 1)
            out->dims[d] = x;
        }
    }
  return TRUE;
}

guint8
element_flag (const Tensor *t, size_t i)
{
  return t->type == TENSOR_INT ? t->flags[i] : ELEMENT_STATIC;
}

gboolean
import_equal (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *a, *b;
  const graft_shape *shapes[2];
  graft_shape shape;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "compares tensors computed at run time; Graft folds Equal on constants only");
  if ((a = constant_input (im, node, 0, "A", error)) == NULL || (b = constant_input (im, node, 1, "B", error)) == NULL)
    return FALSE;
  shapes[0] = &a->shape;
  shapes[1] = &b->shape;
  if (!broadcast_shape (im, shapes, 2, &shape, error) || (t = tensor_new (im, TENSOR_INT, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    {
      size_t ia = broadcast_index (&shape, &a->shape, i), ib = broadcast_index (&shape, &b->shape, i);
      guint8 fa = element_flag (a, ia), fb = element_flag (b, ib);
      double x = tensor_get (a, ia), y = tensor_get (b, ib);
      t->ints[i] = x == y;
      /* A batch size is never 0 or negative: comparing it with such a constant gives
       * the same answer at every batch. */
      if (fa == ELEMENT_STATIC && fb == ELEMENT_STATIC)
        t->flags[i] = ELEMENT_STATIC;
      else if ((fa == ELEMENT_BATCH && fb == ELEMENT_STATIC && y <= 0)
               || (fb == ELEMENT_BATCH && fa == ELEMENT_STATIC && x <= 0))
        t->flags[i] = ELEMENT_STATIC;
      else
        t->flags[i] = ELEMENT_DERIVED;
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

gboolean
import_where (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *c, *x, *y;
  const graft_shape *shapes[3];
  graft_shape shape;
  Tensor *t;

  if (!check_input_count (im, node, 3, 3, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "selects between tensors computed at run time; Graft folds Where on constants only");
  if ((c = constant_input (im, node, 0, "condition", error)) == NULL
      || (x = constant_input (im, node, 1, "X", error)) == NULL
      || (y = constant_input (im, node, 2, "Y", error)) == NULL)
    return FALSE;
  if (x->type != y->type)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "mixes integer and float operands");
  shapes[0] = &c->shape;
  shapes[1] = &x->shape;
  shapes[2] = &y->shape;
  if (!broadcast_shape (im, shapes, 3, &shape, error) || (t = tensor_new (im, x->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    {
      size_t ic = broadcast_index (&shape, &c->shape, i);
      gboolean take_x = tensor_get (c, ic) != 0;
      const Tensor *from = take_x ? x : y;
      size_t k = broadcast_index (&shape, &from->shape, i);
      tensor_copy_element (t, i, from, k);
      if (t->type == TENSOR_INT && element_flag (c, ic) != ELEMENT_STATIC)
        t->flags[i] = ELEMENT_DERIVED;
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* zeros of shape (N, 1, ..., 1) (rank dims) from the graph input, as engine nodes. */
static int
batch_zeros (Importer *im, int rank, GError **error)
{
  graft_node_attributes first = { .op = GRAFT_OP_SLICE, .slice = { 1, 0, 1 } };
  graft_node_attributes flatten = { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } };
  graft_node_attributes column = { .op = GRAFT_OP_SLICE, .slice = { 1, 0, 1 } };
  graft_node_attributes reshape = { .op = GRAFT_OP_RESHAPE, .reshape = { rank, { 0 } } };
  graft_node_attributes times = { .op = GRAFT_OP_MUL };
  graft_shape scalar = { .rank = 0 };
  float zero = 0;
  g_autofree char *base = g_strconcat (output_name (im->graph_proto->node[im->current], 0), "/zeros", NULL);
  g_autofree char *a = g_strconcat (base, "/channel", NULL), *b = g_strconcat (base, "/flat", NULL);
  g_autofree char *c = g_strconcat (base, "/column", NULL), *d = g_strconcat (base, "/shaped", NULL);
  g_autofree char *z = g_strconcat (base, "/zero", NULL);
  graft_error engine;
  int v, inputs[2];

  for (int k = 1; k < rank; k++)
    reshape.reshape.dims[k] = 1;
  if ((v = add_node (im, "/zeros/channel", &first, &im->input_value, 1, a, error)) < 0
      || (v = add_node (im, "/zeros/flat", &flatten, &v, 1, b, error)) < 0
      || (v = add_node (im, "/zeros/column", &column, &v, 1, c, error)) < 0
      || (v = add_node (im, "/zeros/shaped", &reshape, &v, 1, d, error)) < 0)
    return -1;
  inputs[0] = v;
  inputs[1] = graft_graph_add_tensor (im->graph, z, GRAFT_VALUE_CONSTANT, &scalar, &zero, &engine);
  if (inputs[1] < 0)
    return engine_error (im, error, &engine), -1;
  return add_node (im, "/zeros", &times, inputs, 2, base, error);
}

gboolean
import_expand (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  Entry *x;
  const Tensor *data, *shape_t;
  const gint64 *dims;
  const guint8 *flags;
  size_t n;
  graft_shape target = { 0 }, shape;
  const graft_shape *shapes[2];
  gboolean batch = FALSE;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error)
      || (shape_t = constant_input (im, node, 1, "shape", error)) == NULL
      || !constant_ints (im, shape_t, "shape", &dims, &flags, &n, error))
    return FALSE;
  if (n > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "makes a tensor of rank %zu", n);
  target.rank = (int) n;
  for (size_t d = 0; d < n; d++)
    target.dims[d] = dims[d];
  x = input_entry (im, node, 0);
  if (!is_constant (x))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "expands a tensor computed at run time; Graft expands constants only");
  if ((data = entry_tensor (im, x, error)) == NULL)
    return FALSE;
  shapes[0] = &data->shape;
  shapes[1] = &target;
  if (!broadcast_shape (im, shapes, 2, &shape, error))
    return FALSE;
  for (size_t d = 0; d < n; d++)
    if (flags != NULL && flags[d] != ELEMENT_STATIC)
      {
        int k = (int) d - (shape.rank - data->shape.rank);
        if (d != 0 || flags[d] != ELEMENT_BATCH || (k >= 0 && data->shape.dims[k] != 1))
          return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "expands to a shape computed from the batch size other than on its first axis");
        batch = TRUE;
      }
  /* The zoo's TurnkeyML exports (a fixed input batch of 1) write timm's
   * cls_token.expand(x.shape[0], -1, -1) with the size folded to [1, -1, -1]: a literal
   * equal to the file's batch first, on a float (1, T, C) constant, is the batch there,
   * as it is first in a Reshape's shape. */
  if (!batch && n == 3 && data->type == TENSOR_FLOAT && data->shape.rank == 3 && data->shape.dims[0] == 1
      && im->fixed_batch && im->file_batch == 1 && dims[0] == 1)
    batch = TRUE;
  if (batch && data->type == TENSOR_FLOAT && shape.rank == data->shape.rank && shape.dims[0] == 1)
    {
      /* Over the batch: the constant (a parameter: ViT's class token) plus zeros. */
      graft_node_attributes add = { .op = GRAFT_OP_ADD };
      int inputs[2];
      for (int d = 1; d < shape.rank; d++)
        if (shape.dims[d] != data->shape.dims[d])
          return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "expands a constant on other axes than the batch");
      if ((inputs[0] = batch_zeros (im, shape.rank, error)) < 0
          || (inputs[1] = materialise (im, x, GRAFT_VALUE_PARAMETER, error)) < 0)
        return FALSE;
      return add_node (im, "", &add, inputs, 2, output_name (node, 0), error) >= 0;
    }
  if (batch)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "expands a tensor over the batch in a way Graft does not support");
  if ((t = tensor_new (im, data->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    tensor_copy_element (t, i, data, broadcast_index (&shape, &data->shape, i));
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}
