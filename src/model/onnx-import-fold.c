/* onnx-import-fold.c: folding on constants, and the ops the ONNX importer folds at
 * import (see onnx-import.c). */
#include "model/onnx-import-private.h"

/* ------------------------------------------------------------------------ */
/* Folding on constants                                                      */

Tensor *
fold_reshape_to (Importer *im, const Tensor *in, const graft_shape *shape, GError **error)
{
  Tensor *out;
  size_t count;
  graft_error engine;

  if (graft_shape_count (shape, &count, &engine) != GRAFT_OK)
    return engine_error (im, error, &engine), NULL;
  if (count != in->count)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "reshapes %zu elements into a shape of %zu", in->count, count), NULL;
  out = tensor_copy (in);
  out->shape = *shape;
  return out;
}

/* Elementwise Add, Sub, Mul, Div with numpy broadcasting. */
Tensor *
fold_binary (Importer *im, char op, const Tensor *a, const Tensor *b, GError **error)
{
  g_autoptr (Tensor) out = NULL;
  graft_shape shape = { 0 };
  size_t stride_a[GRAFT_MAX_RANK], stride_b[GRAFT_MAX_RANK], out_strides[GRAFT_MAX_RANK];
  size_t sa[GRAFT_MAX_RANK], sb[GRAFT_MAX_RANK];

  if (a->type != b->type)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "mixes integer and float operands"), NULL;
  shape.rank = MAX (a->shape.rank, b->shape.rank);
  for (int d = 0; d < shape.rank; d++)
    {
      int da = d - (shape.rank - a->shape.rank), db = d - (shape.rank - b->shape.rank);
      gint64 x = da >= 0 ? a->shape.dims[da] : 1, y = db >= 0 ? b->shape.dims[db] : 1;
      if (x != y && x != 1 && y != 1)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "has operands whose shapes do not broadcast"), NULL;
      shape.dims[d] = x == 1 ? y : x;
    }
  out = tensor_new (im, a->type, &shape, error);
  if (out == NULL)
    return NULL;
  shape_strides (&a->shape, sa);
  shape_strides (&b->shape, sb);
  shape_strides (&shape, out_strides);
  for (int d = 0; d < shape.rank; d++)
    {
      int da = d - (shape.rank - a->shape.rank), db = d - (shape.rank - b->shape.rank);
      stride_a[d] = da >= 0 && a->shape.dims[da] != 1 ? sa[da] : 0;
      stride_b[d] = db >= 0 && b->shape.dims[db] != 1 ? sb[db] : 0;
    }
  for (size_t i = 0; i < out->count; i++)
    {
      size_t rest = i, ia = 0, ib = 0;
      for (int d = 0; d < shape.rank; d++)
        {
          size_t coordinate = rest / out_strides[d];
          rest %= out_strides[d];
          ia += coordinate * stride_a[d];
          ib += coordinate * stride_b[d];
        }
      if (a->type == TENSOR_FLOAT)
        {
          float x = a->floats[ia], y = b->floats[ib];
          out->floats[i] = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
        }
      else
        {
          gint64 x = a->ints[ia], y = b->ints[ib], r;
          gboolean overflow = FALSE;
          switch (op)
            {
            case '+': overflow = __builtin_add_overflow (x, y, &r); break;
            case '-': overflow = __builtin_sub_overflow (x, y, &r); break;
            case '*': overflow = __builtin_mul_overflow (x, y, &r); break;
            default:
              if (y == 0 || (x == G_MININT64 && y == -1))
                return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "divides an integer by zero"), NULL;
              r = x / y;
              break;
            }
          if (overflow)
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "overflows on integers"), NULL;
          out->ints[i] = r;
          out->flags[i] = a->flags[ia] != ELEMENT_STATIC || b->flags[ib] != ELEMENT_STATIC ? ELEMENT_DERIVED
                                                                                           : ELEMENT_STATIC;
          /* x * 1, x + 0 and friends keep the batch size as it is. */
          if ((op == '*' || op == '/') && b->flags[ib] == ELEMENT_STATIC && y == 1)
            out->flags[i] = a->flags[ia];
          else if ((op == '+' || op == '-') && b->flags[ib] == ELEMENT_STATIC && y == 0)
            out->flags[i] = a->flags[ia];
          else if (op == '*' && a->flags[ia] == ELEMENT_STATIC && x == 1)
            out->flags[i] = b->flags[ib];
          else if (op == '+' && a->flags[ia] == ELEMENT_STATIC && x == 0)
            out->flags[i] = b->flags[ib];
        }
    }
  return g_steal_pointer (&out);
}

static Tensor *
fold_gather (Importer *im, const Tensor *data, const Tensor *indices, gint64 axis_attribute, GError **error)
{
  g_autoptr (Tensor) out = NULL;
  graft_shape shape = { 0 };
  size_t outer = 1, inner = 1, axis_size;
  int axis;

  if (data->shape.rank < 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "gathers from a scalar"), NULL;
  if (!normalise_axis (im, axis_attribute, data->shape.rank, &axis, error))
    return NULL;
  if (indices->type != TENSOR_INT)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has indices that are not integers"), NULL;
  if (data->shape.rank - 1 + indices->shape.rank > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "makes a tensor of too high a rank"), NULL;
  for (int d = 0; d < axis; d++)
    shape.dims[shape.rank++] = data->shape.dims[d];
  for (int d = 0; d < indices->shape.rank; d++)
    shape.dims[shape.rank++] = indices->shape.dims[d];
  for (int d = axis + 1; d < data->shape.rank; d++)
    shape.dims[shape.rank++] = data->shape.dims[d];
  out = tensor_new (im, data->type, &shape, error);
  if (out == NULL)
    return NULL;
  for (int d = 0; d < axis; d++)
    outer *= (size_t) data->shape.dims[d];
  for (int d = axis + 1; d < data->shape.rank; d++)
    inner *= (size_t) data->shape.dims[d];
  axis_size = (size_t) data->shape.dims[axis];
  for (size_t o = 0; o < outer; o++)
    for (size_t j = 0; j < indices->count; j++)
      {
        gint64 index = indices->ints[j];
        if (index < 0)
          index += (gint64) axis_size;
        if (index < 0 || (size_t) index >= axis_size)
          return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "gathers the index %" G_GINT64_FORMAT " from an axis of size %zu",
                             indices->ints[j], axis_size), NULL;
        for (size_t k = 0; k < inner; k++)
          tensor_copy_element (out, (o * indices->count + j) * inner + k, data,
                               (o * axis_size + (size_t) index) * inner + k);
      }
  return g_steal_pointer (&out);
}

Tensor *
fold_concat (Importer *im, const Tensor *const *parts, size_t n, gint64 axis_attribute, GError **error)
{
  g_autoptr (Tensor) out = NULL;
  graft_shape shape;
  size_t outer = 1, offset = 0, total_inner = 0;
  int axis;

  shape = parts[0]->shape;
  if (shape.rank < 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "concatenates scalars"), NULL;
  if (!normalise_axis (im, axis_attribute, shape.rank, &axis, error))
    return NULL;
  shape.dims[axis] = 0;
  for (size_t i = 0; i < n; i++)
    {
      const Tensor *p = parts[i];
      if (p->type != parts[0]->type || p->shape.rank != shape.rank)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "concatenates tensors of different types or ranks"), NULL;
      for (int d = 0; d < shape.rank; d++)
        if (d != axis && p->shape.dims[d] != shape.dims[d])
          return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "concatenates tensors that differ off the axis"), NULL;
      if (__builtin_add_overflow (shape.dims[axis], p->shape.dims[axis], &shape.dims[axis]))
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "overflows on the axis"), NULL;
    }
  out = tensor_new (im, parts[0]->type, &shape, error);
  if (out == NULL)
    return NULL;
  for (int d = 0; d < axis; d++)
    outer *= (size_t) shape.dims[d];
  total_inner = outer > 0 ? out->count / outer : 0;
  for (size_t i = 0; i < n; i++)
    {
      const Tensor *p = parts[i];
      size_t inner = outer > 0 ? p->count / outer : 0;
      for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < inner; k++)
          tensor_copy_element (out, o * total_inner + offset + k, p, o * inner + k);
      offset += inner;
    }
  return g_steal_pointer (&out);
}

static Tensor *
fold_slice (Importer *im, const Tensor *data, const gint64 *starts, const gint64 *ends, const gint64 *axes,
            const gint64 *steps, size_t n, GError **error)
{
  g_autoptr (Tensor) out = NULL;
  gint64 start[GRAFT_MAX_RANK], step[GRAFT_MAX_RANK];
  gboolean seen[GRAFT_MAX_RANK] = { FALSE };
  graft_shape shape = data->shape;
  size_t in_strides[GRAFT_MAX_RANK], out_strides[GRAFT_MAX_RANK];

  for (int d = 0; d < shape.rank; d++)
    start[d] = 0, step[d] = 1;
  for (size_t i = 0; i < n; i++)
    {
      int axis;
      gint64 dim, s, e, st = steps != NULL ? steps[i] : 1, count;
      if (!normalise_axis (im, axes != NULL ? axes[i] : (gint64) i, shape.rank, &axis, error))
        return NULL;
      if (seen[axis])
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "slices the axis %d twice", axis), NULL;
      seen[axis] = TRUE;
      if (st == 0)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a step of 0"), NULL;
      dim = data->shape.dims[axis];
      s = starts[i], e = ends[i];
      if (s < 0)
        s += dim;
      if (e < 0)
        e += dim;
      if (st > 0)
        {
          s = CLAMP (s, 0, dim);
          e = CLAMP (e, 0, dim);
          count = e > s ? (e - s + st - 1) / st : 0;
        }
      else
        {
          s = CLAMP (s, 0, dim - 1);
          e = CLAMP (e, -1, dim - 1);
          count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        }
      start[axis] = s;
      step[axis] = st;
      shape.dims[axis] = count;
    }
  out = tensor_new (im, data->type, &shape, error);
  if (out == NULL)
    return NULL;
  shape_strides (&data->shape, in_strides);
  shape_strides (&shape, out_strides);
  for (size_t i = 0; i < out->count; i++)
    {
      size_t rest = i, from = 0;
      for (int d = 0; d < shape.rank; d++)
        {
          size_t coordinate = rest / out_strides[d];
          rest %= out_strides[d];
          from += (size_t) (start[d] + (gint64) coordinate * step[d]) * in_strides[d];
        }
      tensor_copy_element (out, i, data, from);
    }
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------------ */
/* Ops folded at import                                                      */

gboolean
all_inputs_constant (Importer *im, const Onnx__NodeProto *node)
{
  for (size_t i = 0; i < node->n_input; i++)
    {
      Entry *entry = input_entry (im, node, i);
      if (input_name (node, i) != NULL && !is_constant (entry))
        return FALSE;
    }
  return TRUE;
}

static gboolean
not_foldable (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                     "works on a tensor computed at run time; Graft supports %s only on constants "
                     "(shape computations), folded at import", op_type_of (node));
}

gboolean
import_constant (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Onnx__AttributeProto *a;
  const char *out = output_name (node, 0);
  Tensor *t = NULL;

  if (node->n_input != 0 || out == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "should have no inputs and one output");
  if ((a = find_attribute (node, "value")) != NULL)
    {
      if (!attribute_type_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) || a->t == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a 'value' attribute that is not a tensor");
      t = tensor_proto_decode (im, a->t, out, error);
      if (t == NULL)
        return FALSE;
    }
  else if ((a = find_attribute (node, "value_float")) != NULL || (a = find_attribute (node, "value_int")) != NULL)
    {
      gboolean is_float = strcmp (a->name, "value_float") == 0;
      graft_shape scalar = { 0 };
      if (!attribute_type_is (a, is_float ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
                                          : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' of the wrong type", a->name);
      t = tensor_new (im, is_float ? TENSOR_FLOAT : TENSOR_INT, &scalar, error);
      if (t == NULL)
        return FALSE;
      if (is_float)
        t->floats[0] = a->f;
      else
        t->ints[0] = a->i;
    }
  else if ((a = find_attribute (node, "value_floats")) != NULL || (a = find_attribute (node, "value_ints")) != NULL)
    {
      gboolean is_float = strcmp (a->name, "value_floats") == 0;
      graft_shape vector = { .rank = 1 };
      if (!attribute_type_is (a, is_float ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
                                          : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS))
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' of the wrong type", a->name);
      vector.dims[0] = (gint64) (is_float ? a->n_floats : a->n_ints);
      t = tensor_new (im, is_float ? TENSOR_FLOAT : TENSOR_INT, &vector, error);
      if (t == NULL)
        return FALSE;
      if (is_float && a->n_floats > 0)
        memcpy (t->floats, a->floats, a->n_floats * sizeof (float));
      else if (!is_float && a->n_ints > 0)
        memcpy (t->ints, a->ints, a->n_ints * sizeof (gint64));
    }
  else if (node->n_attribute > 0 && node->attribute[0]->name != NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has a '%s' attribute; Graft reads Constant values given as 'value', "
                       "'value_float(s)' or 'value_int(s)'", node->attribute[0]->name);
  else
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no value");
  define_constant (im, out, t);
  return TRUE;
}

/* Which dims of an engine value depend on the batch: the graph's shapes inferred again
 * with a batch of 2 are compared with those at batch 1. A dim that goes from 1 to 2 is
 * the batch, one that changes otherwise is derived from it (heads x batch in
 * attention), the others are static. The batch is not always dim 0: attention
 * transposes it to dim 1. FALSE when the graph does not infer at batch 2. */
gboolean
batch_dims (Importer *im, int value, const graft_shape *at_one, guint8 *flags)
{
  int n = graft_graph_value_count (im->graph);
  g_autofree graft_shape *shapes = g_new (graft_shape, (gsize) MAX (n, 1));
  const graft_shape *at_two;

  for (int v = 0; v < n; v++)
    {
      const graft_value *info = graft_graph_value (im->graph, v);
      shapes[v] = info->shape;
      if (info->kind == GRAFT_VALUE_INPUT && shapes[v].rank > 0)
        shapes[v].dims[0] = 2;
    }
  if (!graft_model_infer_shapes (im->graph, shapes, NULL))
    return FALSE;
  at_two = &shapes[value];
  if (at_two->rank != at_one->rank)
    return FALSE;
  for (int d = 0; d < at_one->rank; d++)
    flags[d] = at_two->dims[d] == at_one->dims[d] ? ELEMENT_STATIC
               : at_one->dims[d] == 1 && at_two->dims[d] == 2 ? ELEMENT_BATCH
                                                              : ELEMENT_DERIVED;
  return TRUE;
}

gboolean
import_shape (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  guint8 flags[GRAFT_MAX_RANK];
  gboolean known = FALSE;
  Entry *x;
  graft_shape shape, vector = { .rank = 1 };
  gboolean batch = FALSE;
  gint64 start, end;
  Tensor *t;

  if (!check_input_count (im, node, 1, 1, error))
    return FALSE;
  x = input_entry (im, node, 0);
  if (x->kind == ENTRY_CONSTANT)
    {
      const Tensor *data = entry_tensor (im, x, error);
      if (data == NULL)
        return FALSE;
      shape = data->shape;
    }
  else
    {
      shape = *value_shape (im, x->value);
      if (x->kind == ENTRY_PADDED)
        {
          shape.dims[2] += x->pads[0] + x->pads[2];
          shape.dims[3] += x->pads[1] + x->pads[3];
        }
      batch = shape.rank > 0;
      known = x->kind == ENTRY_VALUE && batch_dims (im, x->value, &shape, flags);
    }
  if (!attribute_int (im, node, "start", 0, &start, error)
      || !attribute_int (im, node, "end", shape.rank, &end, error))
    return FALSE;
  if (start < 0)
    start = MAX (start + shape.rank, 0);
  if (end < 0)
    end = MAX (end + shape.rank, 0);
  start = MIN (start, shape.rank);
  end = CLAMP (end, start, shape.rank);
  vector.dims[0] = end - start;
  t = tensor_new (im, TENSOR_INT, &vector, error);
  if (t == NULL)
    return FALSE;
  for (gint64 d = start; d < end; d++)
    {
      t->ints[d - start] = shape.dims[d];
      t->flags[d - start] = known ? flags[d] : batch && d == 0 ? ELEMENT_BATCH : ELEMENT_STATIC;
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

static gboolean slice_value (Importer *im, int x, int axis, gint64 start, gint64 end, gboolean whole_batch,
                             const char *suffix, const char *output, GError **error);

/* Gather of one index (a scalar, or one element) on an axis other than the batch of a
 * value computed at run time: ViT's class token, x[:, 0]. A Slice of that index, and
 * for a scalar index a Reshape that drops the axis. */
static gboolean
gather_runtime (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *indices;
  const gint64 *values;
  size_t n;
  gint64 axis_attribute, index;
  int x, axis;
  const graft_shape *shape;
  graft_node_attributes reshape = { .op = GRAFT_OP_RESHAPE };
  g_autofree char *sliced = NULL;
  guint8 flags[GRAFT_MAX_RANK];
  int v;

  if (!attribute_int (im, node, "axis", 0, &axis_attribute, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0
      || (indices = constant_input (im, node, 1, "indices", error)) == NULL)
    return FALSE;
  shape = value_shape (im, x);
  if (!normalise_axis (im, axis_attribute, shape->rank, &axis, error))
    return FALSE;
  /* Which axes depend on the batch: attention moves it (Swin's qkv[0] gathers on an
   * axis 0 of 3, the batch on axis 1). */
  if (!batch_dims (im, x, shape, flags))
    for (int d = 0; d < shape->rank; d++)
      flags[d] = d == 0 ? ELEMENT_BATCH : ELEMENT_STATIC;
  if (indices->type != TENSOR_INT || indices->count != 1 || indices->shape.rank > 1 || flags[axis] != ELEMENT_STATIC)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "gathers %zu indices on the axis %d of a tensor computed at run time; Graft gathers one "
                       "index of an axis other than the batch", indices->count, axis);
  if (!constant_ints (im, indices, "indices", &values, NULL, &n, error))
    return FALSE;
  index = values[0] < 0 ? values[0] + shape->dims[axis] : values[0];
  if (index < 0 || index >= shape->dims[axis])
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "gathers the index %" G_GINT64_FORMAT
                       " of an axis of size %" G_GINT64_FORMAT, values[0], shape->dims[axis]);
  if (axis == 0)
    {
      graft_node_attributes first = { .op = GRAFT_OP_SLICE, .slice = { 0, index, index + 1 } };
      sliced = g_strconcat (output_name (node, 0), indices->shape.rank == 1 ? "" : "/slice", NULL);
      if ((v = add_node (im, indices->shape.rank == 1 ? "" : "/slice", &first, &x, 1, sliced, error)) < 0)
        return FALSE;
      if (indices->shape.rank == 1)
        return TRUE;
    }
  else
    {
      if (indices->shape.rank == 1)
        return slice_value (im, x, axis, index, index + 1, FALSE, "", output_name (node, 0), error);
      sliced = g_strconcat (output_name (node, 0), "/slice", NULL);
      if (!slice_value (im, x, axis, index, index + 1, FALSE, "/slice", sliced, error))
        return FALSE;
      v = lookup (im, sliced)->value;
    }
  shape = value_shape (im, v);
  reshape.reshape.rank = shape->rank - 1;
  /* The batch's axis (or one derived from it) is inferred, the others are as they are. */
  for (int d = 0, k = 0, inferred = 0; d < shape->rank; d++)
    if (d != axis)
      {
        if (flags[d] != ELEMENT_STATIC && inferred++ > 0)
          return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "gathers from a tensor with two axes that depend on the batch size");
        reshape.reshape.dims[k++] = flags[d] != ELEMENT_STATIC ? -1 : shape->dims[d];
      }
  return add_node (im, "", &reshape, &v, 1, output_name (node, 0), error) >= 0;
}

gboolean
import_gather (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *data, *indices;
  gint64 axis;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  if (!is_constant (input_entry (im, node, 0)) && is_constant (input_entry (im, node, 1)))
    return gather_runtime (im, node, error);
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if (!attribute_int (im, node, "axis", 0, &axis, error)
      || (data = constant_input (im, node, 0, "data", error)) == NULL
      || (indices = constant_input (im, node, 1, "indices", error)) == NULL)
    return FALSE;
  /* A learned table (Swin's relative_position_bias_table) stays a parameter: gathered by
   * an engine node, it learns; folded, it would not. */
  if (data->type == TENSOR_FLOAT && indices->type == TENSOR_INT && input_entry (im, node, 0)->proto != NULL
      && is_parameter_name (input_name (node, 0)) && axis >= -data->shape.rank && axis < data->shape.rank)
    return gather_parameter (im, input_entry (im, node, 0), indices, (int) (axis < 0 ? axis + data->shape.rank : axis),
                             input_name (node, 1), output_name (node, 0), error) >= 0;
  t = fold_gather (im, data, indices, axis, error);
  if (t == NULL)
    return FALSE;
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

gboolean
import_cast (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  Entry *x;
  gint64 to;
  const Tensor *in;
  Tensor *t;

  if (!check_input_count (im, node, 1, 1, error) || !attribute_int (im, node, "to", 0, &to, error))
    return FALSE;
  x = input_entry (im, node, 0);
  if (x->kind != ENTRY_CONSTANT)
    {
      /* Everything computed at run time is float32 already. */
      if (to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return define_alias (im, "", x, output_name (node, 0), error);
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "casts a computed tensor to %s; Graft computes in float32", data_type_name ((gint32) to));
    }
  in = entry_tensor (im, x, error);
  if (in == NULL)
    return FALSE;
  switch (to)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
      t = tensor_new (im, TENSOR_FLOAT, &in->shape, error);
      if (t == NULL)
        return FALSE;
      for (size_t i = 0; i < in->count; i++)
        t->floats[i] = (float) tensor_get (in, i);
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
      if (in->type == TENSOR_INT)
        t = tensor_copy (in);
      else
        {
          t = tensor_new (im, TENSOR_INT, &in->shape, error);
          if (t == NULL)
            return FALSE;
          for (size_t i = 0; i < in->count; i++)
            {
              float v = in->floats[i];
              if (!(v > -9.2e18f && v < 9.2e18f))
                {
                  tensor_free (t);
                  return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                                     "casts %g to an integer", (double) v);
                }
              t->ints[i] = (gint64) v;
            }
        }
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
      /* Booleans are integers 0 and 1 here (Swin's mask: Cast of Not to bool). */
      t = tensor_new (im, TENSOR_INT, &in->shape, error);
      if (t == NULL)
        return FALSE;
      for (size_t i = 0; i < in->count; i++)
        {
          t->ints[i] = tensor_get (in, i) != 0;
          t->flags[i] = in->type == TENSOR_INT && in->flags[i] != ELEMENT_STATIC ? ELEMENT_DERIVED : ELEMENT_STATIC;
        }
      break;
    default:
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "casts to %s; Graft folds casts to float32, double, int32, int64 and bool",
                         data_type_name ((gint32) to));
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* The output of a node that takes [start, end) of one axis of the engine value x: an
 * engine Slice node, or x itself (an alias, or an identity node for a graph output)
 * when the range is the whole axis. The batch axis is symbolic, so only its whole
 * range can be taken; whole_batch says the node asked for all of it. */
static gboolean
slice_value (Importer *im, int x, int axis, gint64 start, gint64 end, gboolean whole_batch, const char *suffix,
             const char *output, GError **error)
{
  const graft_shape *shape = value_shape (im, x);
  graft_node_attributes a = { .op = GRAFT_OP_SLICE };

  if (axis == 0 && !whole_batch)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "takes part of the batch axis, whose size Graft only knows when it runs; "
                       "Graft slices and splits the other axes");
  if (axis != 0 && start == end)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "takes nothing of the axis %d (the range [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                       ")): Graft does not compute empty tensors", axis, start, end);
  if (axis == 0 || (start == 0 && end == shape->dims[axis]))
    {
      const Entry whole = { .kind = ENTRY_VALUE, .value = x };
      return define_alias (im, suffix, &whole, output, error);
    }
  a.slice.axis = axis;
  a.slice.start = start;
  a.slice.end = end;
  return add_node (im, suffix, &a, &x, 1, output, error) >= 0;
}

/* The element at phase of every step elements of the axis (its size a multiple of
 * step, not the batch's) of x: Reshape (..., size / step, step, ...), Slice of the
 * phase, Reshape back without the step axis. The new value, or -1. */
static int
stride_value (Importer *im, int x, int axis, gint64 step, gint64 phase, const char *suffix, const char *output,
              GError **error)
{
  graft_node_attributes split = { .op = GRAFT_OP_RESHAPE }, back = { .op = GRAFT_OP_RESHAPE };
  graft_node_attributes pick = { .op = GRAFT_OP_SLICE, .slice = { axis + 1, phase, phase + 1 } };
  graft_shape shape = *value_shape (im, x);
  guint8 flags[GRAFT_MAX_RANK];
  g_autofree char *split_name = g_strconcat (output, "/steps", NULL), *pick_name = g_strconcat (output, "/phase", NULL);
  g_autofree char *split_suffix = g_strconcat (suffix, "/steps", NULL);
  g_autofree char *pick_suffix = g_strconcat (suffix, "/phase", NULL);
  int inferred = 0, v;

  if (shape.rank >= GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "takes steps on a tensor of rank %d; Graft does so up to rank %d", shape.rank,
                       GRAFT_MAX_RANK - 1), -1;
  if (!batch_dims (im, x, &shape, flags))
    for (int d = 0; d < shape.rank; d++)
      flags[d] = d == 0 ? ELEMENT_BATCH : ELEMENT_STATIC;
  if (flags[axis] != ELEMENT_STATIC)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "takes steps on an axis whose size depends on the batch"), -1;
  split.reshape.rank = shape.rank + 1;
  back.reshape.rank = shape.rank;
  for (int d = 0, k = 0; d < shape.rank; d++)
    {
      gint64 dim = shape.dims[d];
      if (flags[d] != ELEMENT_STATIC)
        {
          if (inferred++ > 0)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "takes steps on a tensor with two axes that depend on the batch size"), -1;
          dim = -1;
        }
      back.reshape.dims[d] = d == axis ? shape.dims[d] / step : dim;
      split.reshape.dims[k++] = d == axis ? shape.dims[d] / step : dim;
      if (d == axis)
        split.reshape.dims[k++] = step;
    }
  if ((v = add_node (im, split_suffix, &split, &x, 1, split_name, error)) < 0
      || (v = add_node (im, pick_suffix, &pick, &v, 1, pick_name, error)) < 0)
    return -1;
  return add_node (im, suffix, &back, &v, 1, output, error);
}

/* Slice with step 1 on values computed at run time: one engine Slice per axis that
 * it narrows (several are chained through values named OUTPUT/axisK). */
static gboolean
slice_runtime (Importer *im, const Onnx__NodeProto *node, const gint64 *starts, const gint64 *ends,
               const gint64 *axes, const gint64 *steps, size_t n, GError **error)
{
  const char *output = output_name (node, 0);
  gint64 start[GRAFT_MAX_RANK], end[GRAFT_MAX_RANK], step[GRAFT_MAX_RANK] = { 0 }, phase[GRAFT_MAX_RANK] = { 0 };
  gboolean seen[GRAFT_MAX_RANK] = { FALSE }, whole_batch = TRUE, static_first = FALSE;
  int x, rank, last = -1;

  if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
    return FALSE;
  rank = value_shape (im, x)->rank;
  for (int d = 0; d < rank; d++)
    start[d] = 0, end[d] = value_shape (im, x)->dims[d];
  for (size_t i = 0; i < n; i++)
    {
      int axis;
      gint64 dim, s, e;
      if (!normalise_axis (im, axes != NULL ? axes[i] : (gint64) i, rank, &axis, error))
        return FALSE;
      if (seen[axis])
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "slices the axis %d twice", axis);
      seen[axis] = TRUE;
      if (steps != NULL && steps[i] != 1 && (steps[i] < 1 || axis == 0))
        return node_error (im, error, steps[i] == 0 ? GRAFT_MODEL_ERROR_INVALID : GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has the step %" G_GINT64_FORMAT " on the axis %d of a tensor computed at run time; "
                           "Graft slices computed tensors with positive steps on axes other than the batch",
                           steps[i], axis);
      dim = end[axis];
      s = starts[i] < 0 ? starts[i] + dim : starts[i];
      e = ends[i] < 0 ? ends[i] + dim : ends[i];
      s = CLAMP (s, 0, dim);
      e = CLAMP (e, s, dim);
      if (steps != NULL && steps[i] > 1 && e > s)
        {
          /* Every step-th element from s (Swin's patch merging, x[..., 0::2, 0::2, :]):
           * a range [a, a + count * step) that holds them at the phase s - a, then a
           * Reshape to (count, step), a Slice of the phase and a Reshape back. */
          gint64 count = (e - s + steps[i] - 1) / steps[i], a = MIN (s, dim - count * steps[i]);
          if (a < 0 || s - a >= steps[i])
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "takes every %" G_GINT64_FORMAT "th element of [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                               ") of an axis of %" G_GINT64_FORMAT ", which Graft cannot reshape into steps",
                               steps[i], s, e, dim);
          step[axis] = steps[i];
          phase[axis] = s - a;
          s = a;
          e = a + count * steps[i];
        }
      start[axis] = s;
      end[axis] = e;
      /* All of the batch: from its start (or before it) to past any batch size. */
      if (axis == 0)
        {
          guint8 flags[GRAFT_MAX_RANK];
          whole_batch = (starts[i] == 0 || starts[i] <= -(gint64) G_MAXINT32) && ends[i] >= G_MAXINT32;
          /* An axis 0 that is not the batch (attention moved it: Graft's own export of
           * Swin's qkv[0]) slices as any other. */
          static_first = !whole_batch && batch_dims (im, x, value_shape (im, x), flags) && flags[0] == ELEMENT_STATIC;
        }
    }
  if (static_first)
    {
      graft_node_attributes first = { .op = GRAFT_OP_SLICE, .slice = { 0, start[0], end[0] } };
      gboolean more = FALSE;
      g_autofree char *name = g_strconcat (output, "/axis0", NULL);
      for (int d = 1; d < rank; d++)
        more = more || start[d] != 0 || end[d] != value_shape (im, x)->dims[d] || step[d] > 1;
      if (start[0] == end[0])
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "takes nothing of the axis 0: Graft does not compute empty tensors");
      if ((x = add_node (im, more ? "/axis0" : "", &first, &x, 1, more ? name : output, error)) < 0)
        return FALSE;
      if (!more)
        return TRUE;
      whole_batch = TRUE;
    }
  for (int d = 0; d < rank; d++)
    if (d == 0 ? !whole_batch : start[d] != 0 || end[d] != value_shape (im, x)->dims[d] || step[d] > 1)
      last = d;
  if (last < 0)
    return slice_value (im, x, 0, 0, 0, TRUE, "", output, error);
  for (int d = 0; d <= last; d++)
    {
      g_autofree char *suffix = NULL, *name = NULL;
      Entry *entry;
      if (step[d] > 1)
        {
          if (start[d] != 0 || end[d] != value_shape (im, x)->dims[d])
            {
              g_autofree char *range = g_strdup_printf ("%s/axis%d/range", output, d);
              g_autofree char *range_suffix = g_strdup_printf ("/axis%d/range", d);
              if (!slice_value (im, x, d, start[d], end[d], whole_batch, range_suffix, range, error))
                return FALSE;
              x = lookup (im, range)->value;
            }
          suffix = d < last ? g_strdup_printf ("/axis%d", d) : NULL;
          name = d < last ? g_strconcat (output, suffix, NULL) : NULL;
          if ((x = stride_value (im, x, d, step[d], phase[d], suffix != NULL ? suffix : "",
                                 name != NULL ? name : output, error)) < 0)
            return FALSE;
          continue;
        }
      if (d == 0 ? whole_batch : start[d] == 0 && end[d] == value_shape (im, x)->dims[d])
        continue;
      if (d < last)
        {
          suffix = g_strdup_printf ("/axis%d", d);
          name = g_strconcat (output, suffix, NULL);
        }
      if (!slice_value (im, x, d, start[d], end[d], whole_batch, suffix != NULL ? suffix : "",
                        name != NULL ? name : output, error))
        return FALSE;
      entry = lookup (im, name != NULL ? name : output);
      x = entry->value;
    }
  return TRUE;
}

gboolean
import_slice (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *starts_t, *ends_t, *axes_t = NULL, *steps_t = NULL;
  const gint64 *starts, *ends, *axes = NULL, *steps = NULL;
  size_t n_starts, n_ends, n_axes = 0, n_steps = 0;
  const Tensor *data = NULL;
  Entry *data_entry;
  int rank;
  Tensor *t;

  if (im->opset < 10)
    {
      if (!check_input_count (im, node, 1, 1, error)
          || !attribute_ints (im, node, "starts", &starts, &n_starts, error)
          || !attribute_ints (im, node, "ends", &ends, &n_ends, error)
          || !attribute_ints (im, node, "axes", &axes, &n_axes, error))
        return FALSE;
      if (starts == NULL || ends == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "needs the attributes 'starts' and 'ends'");
    }
  else
    {
      if (!check_input_count (im, node, 3, 5, error))
        return FALSE;
      if ((starts_t = constant_input (im, node, 1, "starts", error)) == NULL
          || (ends_t = constant_input (im, node, 2, "ends", error)) == NULL
          || !constant_ints (im, starts_t, "starts", &starts, NULL, &n_starts, error)
          || !constant_ints (im, ends_t, "ends", &ends, NULL, &n_ends, error))
        return FALSE;
      if (input_name (node, 3) != NULL
          && ((axes_t = constant_input (im, node, 3, "axes", error)) == NULL
              || !constant_ints (im, axes_t, "axes", &axes, NULL, &n_axes, error)))
        return FALSE;
      if (input_name (node, 4) != NULL
          && ((steps_t = constant_input (im, node, 4, "steps", error)) == NULL
              || !constant_ints (im, steps_t, "steps", &steps, NULL, &n_steps, error)))
        return FALSE;
    }
  data_entry = input_entry (im, node, 0);
  if (is_constant (data_entry))
    {
      if ((data = entry_tensor (im, data_entry, error)) == NULL)
        return FALSE;
      rank = data->shape.rank;
    }
  else if (data_entry->kind == ENTRY_VALUE)
    rank = value_shape (im, data_entry->value)->rank;
  else
    return value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error) >= 0;  /* a pending Pad: its message */
  if (n_starts != n_ends || (axes != NULL && n_axes != n_starts) || (steps != NULL && n_steps != n_starts)
      || n_starts > (size_t) rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "has starts, ends, axes and steps of different lengths");
  if (data == NULL)
    return slice_runtime (im, node, starts, ends, axes, steps, n_starts, error);
  t = fold_slice (im, data, starts, ends, axes, steps, n_starts, error);
  if (t == NULL)
    return FALSE;
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* Split into consecutive parts along one axis: the sizes in the 'split' attribute
 * (before opset 13) or the optional constant input 'split' (from 13), equal parts
 * when absent. One engine Slice per output that something reads. */
gboolean
import_split (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const gint64 *sizes = NULL;
  size_t n_sizes = 0, n_outputs = node->n_output;
  gint64 axis_attribute, dim, offset = 0;
  const Tensor *data = NULL;
  graft_shape shape;
  Entry *entry;
  int axis, x = -1;
  gboolean batch_axis = FALSE;

  if (!check_input_count (im, node, 1, im->opset >= 13 ? 2 : 1, error)
      || !attribute_int (im, node, "axis", 0, &axis_attribute, error))
    return FALSE;
  for (size_t i = 0; i < n_outputs; i++)
    if (output_name (node, i) == NULL)
      return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an empty output %zu", i);
  if (im->opset >= 13)
    {
      const Tensor *t;
      if (find_attribute (node, "split") != NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "has a 'split' attribute, which is an input from opset 13 (this file's opset is %"
                           G_GINT64_FORMAT ")", im->opset);
      if (input_name (node, 1) != NULL
          && ((t = constant_input (im, node, 1, "split sizes", error)) == NULL
              || !constant_ints (im, t, "split sizes", &sizes, NULL, &n_sizes, error)))
        return FALSE;
    }
  else if (!attribute_ints (im, node, "split", &sizes, &n_sizes, error))
    return FALSE;

  entry = input_entry (im, node, 0);
  if (is_constant (entry))
    {
      if ((data = entry_tensor (im, entry, error)) == NULL)
        return FALSE;
      shape = data->shape;
    }
  else
    {
      if ((x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
        return FALSE;
      shape = *value_shape (im, x);
    }
  if (shape.rank < 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "splits a scalar");
  if (!normalise_axis (im, axis_attribute, shape.rank, &axis, error))
    return FALSE;
  dim = shape.dims[axis];
  /* Axis 0 of a run-time value is the batch, unless attention moved it: timm's
   * qkv.permute(2, 0, 3, 1, 4).unbind(0) splits q, k and v on an axis 0 of 3. */
  if (x >= 0 && axis == 0)
    {
      guint8 flags[GRAFT_MAX_RANK];
      batch_axis = !batch_dims (im, x, &shape, flags) || flags[0] != ELEMENT_STATIC;
    }
  if (sizes != NULL)
    {
      gint64 total = 0;
      if (n_sizes != n_outputs)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has %zu split sizes for %zu outputs",
                           n_sizes, n_outputs);
      for (size_t i = 0; i < n_sizes; i++)
        if (sizes[i] < 0 || __builtin_add_overflow (total, sizes[i], &total))
          return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the split size %" G_GINT64_FORMAT,
                             sizes[i]);
      if (total != dim && !batch_axis)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "has split sizes that add up to %" G_GINT64_FORMAT ", but the axis %d it splits "
                           "has %" G_GINT64_FORMAT, total, axis, dim);
    }
  else if (dim % (gint64) n_outputs != 0 && !batch_axis)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "splits an axis of %" G_GINT64_FORMAT " into %zu equal parts", dim, n_outputs);
  if (batch_axis && n_outputs > 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "splits the batch axis, whose size Graft only knows when it runs; "
                       "Graft splits the other axes");

  for (size_t i = 0; i < n_outputs; i++)
    {
      const char *output = output_name (node, i);
      gint64 size = sizes != NULL ? sizes[i] : dim / (gint64) n_outputs;
      gint64 start = offset, end = offset + size, axis64 = axis;
      g_autofree char *suffix = n_outputs > 1 ? g_strdup_printf ("/%zu", i) : g_strdup ("");
      offset = end;
      if (data != NULL)
        {
          Tensor *t = fold_slice (im, data, &start, &end, &axis64, NULL, 1, error);
          if (t == NULL)
            return FALSE;
          define_constant (im, output, t);
        }
      else if (use_count (im, output) > 0 && axis == 0 && !batch_axis)
        {
          graft_node_attributes a = { .op = GRAFT_OP_SLICE, .slice = { 0, start, end } };
          if (add_node (im, suffix, &a, &x, 1, output, error) < 0)
            return FALSE;
        }
      else if (use_count (im, output) > 0
               && !slice_value (im, x, axis, start, end, TRUE, suffix, output, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
import_constant_of_shape (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Onnx__AttributeProto *a;
  const Tensor *shape_t;
  g_autoptr (Tensor) value = NULL;
  const gint64 *dims;
  size_t n;
  graft_shape shape = { 0 };
  Tensor *t;

  if (!check_input_count (im, node, 1, 1, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((shape_t = constant_input (im, node, 0, "shape", error)) == NULL
      || !constant_ints (im, shape_t, "shape", &dims, NULL, &n, error))
    return FALSE;
  if (n > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "makes a tensor of rank %zu", n);
  shape.rank = (int) n;
  for (size_t d = 0; d < n; d++)
    shape.dims[d] = dims[d];
  if ((a = find_attribute (node, "value")) != NULL)
    {
      if (a->t == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a 'value' attribute that is not a tensor");
      value = tensor_proto_decode (im, a->t, output_name (node, 0), error);
      if (value == NULL)
        return FALSE;
      if (value->count != 1)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a 'value' attribute of more than one element");
    }
  t = tensor_new (im, value != NULL ? value->type : TENSOR_FLOAT, &shape, error);
  if (t == NULL)
    return FALSE;
  for (size_t i = 0; value != NULL && i < t->count; i++)
    tensor_copy_element (t, i, value, 0);
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Swin's shifted-window mask                                                */

/* torchvision's Swin builds the attention mask of its shifted windows at run time from
 * the feature map's size: Range, Mod, ScatterND into zeros, Not of an Equal, and Pad
 * of the map to a multiple of the window. For a fixed input size all of it is constant
 * and folds here. */

/* The flag of an element computed from elements flagged a and b. */
static guint8
derived_flag (guint8 a, guint8 b)
{
  return a == ELEMENT_STATIC && b == ELEMENT_STATIC ? ELEMENT_STATIC : ELEMENT_DERIVED;
}

gboolean
import_mod (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *a, *b;
  const graft_shape *shapes[2];
  graft_shape shape;
  gint64 fmod;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error) || !attribute_int (im, node, "fmod", 0, &fmod, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((a = constant_input (im, node, 0, "A", error)) == NULL || (b = constant_input (im, node, 1, "B", error)) == NULL)
    return FALSE;
  if (a->type != b->type)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "mixes integer and float operands");
  if (a->type == TENSOR_FLOAT && fmod != 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "takes floats with fmod %" G_GINT64_FORMAT
                       " (ONNX requires fmod 1 for floats)", fmod);
  shapes[0] = &a->shape;
  shapes[1] = &b->shape;
  if (!broadcast_shape (im, shapes, 2, &shape, error) || (t = tensor_new (im, a->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    {
      size_t ia = broadcast_index (&shape, &a->shape, i), ib = broadcast_index (&shape, &b->shape, i);
      if (a->type == TENSOR_FLOAT)
        {
          t->floats[i] = fmodf (a->floats[ia], b->floats[ib]);
          continue;
        }
      {
        gint64 x = a->ints[ia], y = b->ints[ib], r;
        if (y == 0)
          {
            tensor_free (t);
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "divides an integer by zero");
          }
        r = y == -1 ? 0 : x % y;
        /* fmod 0: the result takes the divisor's sign, as Python's %. */
        if (fmod == 0 && r != 0 && ((r < 0) != (y < 0)))
          r += y;
        t->ints[i] = r;
        t->flags[i] = derived_flag (a->flags[ia], b->flags[ib]);
      }
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

gboolean
import_not (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *x;
  Tensor *t;

  if (!check_input_count (im, node, 1, 1, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((x = constant_input (im, node, 0, "X", error)) == NULL)
    return FALSE;
  if ((t = tensor_new (im, TENSOR_INT, &x->shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    {
      t->ints[i] = tensor_get (x, i) == 0;
      t->flags[i] = element_flag (x, i) == ELEMENT_STATIC ? ELEMENT_STATIC : ELEMENT_DERIVED;
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

gboolean
import_range (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *start_t, *limit_t, *delta_t;
  double start, limit, delta, steps;
  graft_shape shape = { .rank = 1 };
  Tensor *t;

  if (!check_input_count (im, node, 3, 3, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((start_t = constant_input (im, node, 0, "start", error)) == NULL
      || (limit_t = constant_input (im, node, 1, "limit", error)) == NULL
      || (delta_t = constant_input (im, node, 2, "delta", error)) == NULL
      || !constant_scalar (im, start_t, "start", &start, error)
      || !constant_scalar (im, limit_t, "limit", &limit, error)
      || !constant_scalar (im, delta_t, "delta", &delta, error))
    return FALSE;
  if (start_t->type != limit_t->type || start_t->type != delta_t->type)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "mixes integer and float operands");
  if (delta == 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a delta of 0");
  steps = ceil ((limit - start) / delta);
  if (!(steps <= (double) MAX_ACTIVATION_ELEMENTS))
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "makes a range of %.0f elements", steps);
  shape.dims[0] = steps > 0 ? (gint64) steps : 0;
  if ((t = tensor_new (im, start_t->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    if (t->type == TENSOR_FLOAT)
      t->floats[i] = (float) (start + (double) i * delta);
    else
      {
        t->ints[i] = start_t->ints[0] + (gint64) i * delta_t->ints[0];
        t->flags[i] = derived_flag (derived_flag (start_t->flags[0], limit_t->flags[0]), delta_t->flags[0]);
      }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

gboolean
import_scatter_nd (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *data, *indices, *updates;
  g_autofree char *reduction = NULL;
  size_t k, n_index, slice = 1, strides[GRAFT_MAX_RANK];
  Tensor *t;

  if (!check_input_count (im, node, 3, 3, error)
      || !attribute_string (im, node, "reduction", "none", &reduction, error))
    return FALSE;
  if (strcmp (reduction, "none") != 0)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has the reduction '%s'; Graft folds ScatterND without reduction only", reduction);
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((data = constant_input (im, node, 0, "data", error)) == NULL
      || (indices = constant_input (im, node, 1, "indices", error)) == NULL
      || (updates = constant_input (im, node, 2, "updates", error)) == NULL)
    return FALSE;
  if (indices->type != TENSOR_INT || indices->shape.rank < 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has indices that are not integers of rank 1 or more");
  if (updates->type != data->type)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has updates of another type than its data");
  k = (size_t) indices->shape.dims[indices->shape.rank - 1];
  if (k < 1 || k > (size_t) data->shape.rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has index tuples of %zu elements into a tensor of rank %d",
                       k, data->shape.rank);
  for (int d = (int) k; d < data->shape.rank; d++)
    slice *= (size_t) data->shape.dims[d];
  n_index = k > 0 ? indices->count / k : 0;
  if (updates->count != n_index * slice)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has %zu updates for %zu indices of %zu elements",
                       updates->count, n_index, slice);
  shape_strides (&data->shape, strides);
  t = tensor_copy (data);
  for (size_t i = 0; i < n_index; i++)
    {
      size_t offset = 0;
      for (size_t d = 0; d < k; d++)
        {
          gint64 index = indices->ints[i * k + d], dim = data->shape.dims[d];
          if (index < 0)
            index += dim;
          if (index < 0 || index >= dim)
            {
              tensor_free (t);
              return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has the index %" G_GINT64_FORMAT
                                 " on an axis of %" G_GINT64_FORMAT, indices->ints[i * k + d], dim);
            }
          offset += (size_t) index * strides[d];
        }
      for (size_t e = 0; e < slice; e++)
        tensor_copy_element (t, offset + e, updates, i * slice + e);
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* Pad of a constant (mode 'constant', pads at the start of each axis then at its end,
 * none negative). */
gboolean
fold_pad (Importer *im, const Onnx__NodeProto *node, const Tensor *x, const gint64 *pads, size_t n, double value,
          GError **error)
{
  graft_shape shape = x->shape;
  size_t in_strides[GRAFT_MAX_RANK], out_strides[GRAFT_MAX_RANK];
  int rank = x->shape.rank;
  Tensor *t;

  if (n != 2 * (size_t) rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has %zu pads for a tensor of rank %d", n, rank);
  for (int d = 0; d < rank; d++)
    {
      if (pads[d] < 0 || pads[rank + d] < 0 || pads[d] > G_MAXINT / 4 || pads[rank + d] > G_MAXINT / 4)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "has a negative or huge pad on axis %d", d);
      shape.dims[d] += pads[d] + pads[rank + d];
    }
  if ((t = tensor_new (im, x->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    if (t->type == TENSOR_FLOAT)
      t->floats[i] = (float) value;
    else
      {
        t->ints[i] = (gint64) value;
        t->flags[i] = ELEMENT_STATIC;
      }
  shape_strides (&x->shape, in_strides);
  shape_strides (&shape, out_strides);
  for (size_t i = 0; i < x->count; i++)
    {
      size_t rest = i, to = 0;
      for (int d = 0; d < rank; d++)
        {
          size_t coordinate = rest / in_strides[d];
          rest %= in_strides[d];
          to += (coordinate + (size_t) pads[d]) * out_strides[d];
        }
      tensor_copy_element (t, to, x, i);
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* Transpose of a constant (perm NULL: the axes reversed). */
gboolean
fold_transpose (Importer *im, const Onnx__NodeProto *node, const Tensor *x, const gint64 *perm, size_t n,
                GError **error)
{
  int rank = x->shape.rank, axes[GRAFT_MAX_RANK];
  graft_shape shape = { .rank = rank };
  size_t in_strides[GRAFT_MAX_RANK], out_strides[GRAFT_MAX_RANK];
  gboolean seen[GRAFT_MAX_RANK] = { 0 };
  Tensor *t;

  if (perm != NULL && n != (size_t) rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a perm of %zu axes for a rank-%d tensor", n, rank);
  for (int d = 0; d < rank; d++)
    {
      gint64 p = perm != NULL ? perm[d] : rank - 1 - d;
      if (p < 0 || p >= rank || seen[p])
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a perm that is not a permutation");
      seen[p] = TRUE;
      axes[d] = (int) p;
      shape.dims[d] = x->shape.dims[p];
    }
  if ((t = tensor_new (im, x->type, &shape, error)) == NULL)
    return FALSE;
  shape_strides (&x->shape, in_strides);
  shape_strides (&shape, out_strides);
  for (size_t i = 0; i < t->count; i++)
    {
      size_t rest = i, from = 0;
      for (int d = 0; d < rank; d++)
        {
          size_t coordinate = rest / out_strides[d];
          rest %= out_strides[d];
          from += coordinate * in_strides[axes[d]];
        }
      tensor_copy_element (t, i, x, from);
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* Pow of constants: the scale of Swin's attention, head_dim ** -0.5 computed from the
 * shape. (PyTorch's LayerNorm chain has its own Pow, fused with the chain.) */
gboolean
import_pow (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *a, *b;
  const graft_shape *shapes[2];
  graft_shape shape;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((a = constant_input (im, node, 0, "X", error)) == NULL || (b = constant_input (im, node, 1, "Y", error)) == NULL)
    return FALSE;
  shapes[0] = &a->shape;
  shapes[1] = &b->shape;
  if (!broadcast_shape (im, shapes, 2, &shape, error) || (t = tensor_new (im, a->type, &shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    {
      size_t ia = broadcast_index (&shape, &a->shape, i), ib = broadcast_index (&shape, &b->shape, i);
      double r = pow (tensor_get (a, ia), tensor_get (b, ib));
      if (t->type == TENSOR_FLOAT)
        t->floats[i] = (float) r;
      else
        {
          if (!(fabs (r) < 9.2e18))
            {
              tensor_free (t);
              return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "overflows on integers");
            }
          t->ints[i] = (gint64) r;
          t->flags[i] = derived_flag (a->flags[ia], element_flag (b, ib));
        }
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

/* Sqrt of constants: PyTorch 2.1 exports scaled_dot_product_attention's scale as
 * 1 / Sqrt(Cast(Slice(Shape(q)))) and multiplies q and k each by its Sqrt, three Sqrt
 * per attention layer (the ONNX Model Zoo's ViT exports), all on the shape. The
 * LayerNorm chain's Sqrt is fused with the chain and never gets here. */
gboolean
import_sqrt (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *x;
  Tensor *t;

  if (!check_input_count (im, node, 1, 1, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if ((x = constant_input (im, node, 0, "X", error)) == NULL)
    return FALSE;
  if (x->type != TENSOR_FLOAT)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "takes integers (ONNX's Sqrt takes floats)");
  if ((t = tensor_new (im, TENSOR_FLOAT, &x->shape, error)) == NULL)
    return FALSE;
  for (size_t i = 0; i < t->count; i++)
    t->floats[i] = sqrtf (x->floats[i]);
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}
