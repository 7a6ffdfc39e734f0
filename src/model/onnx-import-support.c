/* onnx-import-support.c: messages, attributes, entries and shape helpers of the ONNX
 * importer (see onnx-import.c). */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "model/onnx-import-private.h"

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

gboolean
import_error (Importer *im, GError **error, GraftModelError code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_MODEL_ERROR, code, "%s: %s", im->name, message);
  return FALSE;
}

const char *
op_type_of (const Onnx__NodeProto *node)
{
  return node->op_type != NULL ? node->op_type : "";
}

gboolean
is_default_domain (const char *domain)
{
  return domain == NULL || domain[0] == '\0' || strcmp (domain, "ai.onnx") == 0;
}

gboolean
node_error (Importer *im, GError **error, GraftModelError code, const char *format, ...)
{
  const Onnx__NodeProto *node = im->graph_proto->node[im->current];
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_MODEL_ERROR, code, _("%s: node '%s' (%s) %s"), im->name,
               im->node_names[im->current], op_type_of (node), message);
  return FALSE;
}

gboolean
engine_error (Importer *im, GError **error, const graft_error *engine)
{
  GraftModelError code = engine->status == GRAFT_ERROR_UNSUPPORTED ? GRAFT_MODEL_ERROR_UNSUPPORTED
                                                                   : GRAFT_MODEL_ERROR_INVALID;
  /* Messages from graft_graph_add_node name the node already. */
  g_autofree char *quoted = im->current >= 0 ? g_strdup_printf ("'%s'", im->node_names[im->current]) : NULL;

  if (quoted != NULL && strstr (engine->message, quoted) == NULL)
    {
      const Onnx__NodeProto *node = im->graph_proto->node[im->current];
      return import_error (im, error, code, "node '%s' (%s): %s", im->node_names[im->current],
                           op_type_of (node), engine->message);
    }
  return import_error (im, error, code, "%s", engine->message);
}

const char *
data_type_name (gint32 type)
{
  static const char *const names[] = {
    "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
    "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
  };
  return type >= 0 && type < (gint32) G_N_ELEMENTS (names) ? names[type] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

const Onnx__AttributeProto *
find_attribute (const Onnx__NodeProto *node, const char *name)
{
  for (size_t i = 0; i < node->n_attribute; i++)
    if (node->attribute[i]->name != NULL && strcmp (node->attribute[i]->name, name) == 0)
      return node->attribute[i];
  return NULL;
}

gboolean
attribute_type_is (const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType type)
{
  if (a->has_type)
    return a->type == type;
  /* Old writers leave the type out: go by which field is set. */
  switch (type)
    {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return a->has_i;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return a->has_f;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return a->has_s;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return a->t != NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return a->n_ints > 0 || (a->n_floats == 0 && !a->has_i);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return a->n_floats > 0 || (a->n_ints == 0 && !a->has_f);
    default: return FALSE;
    }
}

gboolean
attribute_int (Importer *im, const Onnx__NodeProto *node, const char *name, gint64 fallback,
               gint64 *out, GError **error)
{
  const Onnx__AttributeProto *a = find_attribute (node, name);

  *out = fallback;
  if (a == NULL)
    return TRUE;
  if (!attribute_type_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' that should be an integer", name);
  *out = a->i;
  return TRUE;
}

gboolean
attribute_float (Importer *im, const Onnx__NodeProto *node, const char *name, float fallback,
                 float *out, GError **error)
{
  const Onnx__AttributeProto *a = find_attribute (node, name);

  *out = fallback;
  if (a == NULL)
    return TRUE;
  if (!attribute_type_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' that should be a float", name);
  *out = a->f;
  return TRUE;
}

/* *values is NULL and *count 0 when the attribute is absent. */
gboolean
attribute_ints (Importer *im, const Onnx__NodeProto *node, const char *name, const gint64 **values,
                size_t *count, GError **error)
{
  const Onnx__AttributeProto *a = find_attribute (node, name);

  *values = NULL;
  *count = 0;
  if (a == NULL)
    return TRUE;
  if (!attribute_type_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' that should be a list of integers", name);
  *values = a->ints;
  *count = a->n_ints;
  return TRUE;
}

/* A copy of a string attribute (g_free), or of fallback. */
gboolean
attribute_string (Importer *im, const Onnx__NodeProto *node, const char *name, const char *fallback,
                  char **out, GError **error)
{
  const Onnx__AttributeProto *a = find_attribute (node, name);

  *out = NULL;
  if (a == NULL)
    {
      *out = g_strdup (fallback);
      return TRUE;
    }
  if (!attribute_type_is (a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an attribute '%s' that should be a string", name);
  *out = a->s.data != NULL ? g_strndup ((const char *) a->s.data, a->s.len) : g_strdup ("");
  return TRUE;
}

/* Reads an INTS attribute of exactly n values into out, each in lo..hi, or fills
 * fallback when absent. */
gboolean
attribute_int_list (Importer *im, const Onnx__NodeProto *node, const char *name, size_t n,
                    int fallback, int lo, int hi, int *out, gboolean *present, GError **error)
{
  const gint64 *values;
  size_t count;

  for (size_t i = 0; i < n; i++)
    out[i] = fallback;
  if (present != NULL)
    *present = FALSE;
  if (!attribute_ints (im, node, name, &values, &count, error))
    return FALSE;
  if (present != NULL)
    *present = values != NULL;
  if (values == NULL)
    return TRUE;
  if (count != n)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "has %zu values in attribute '%s'; a 2-D operation needs %zu", count, name, n);
  for (size_t i = 0; i < n; i++)
    {
      if (values[i] < lo || values[i] > hi)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "has the value %" G_GINT64_FORMAT " in attribute '%s', outside %d..%d",
                           values[i], name, lo, hi);
      out[i] = (int) values[i];
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                   */

void
entry_free (Entry *entry)
{
  g_free (entry->name);
  tensor_free (entry->tensor);
  g_free (entry);
}

Entry *
lookup (Importer *im, const char *name)
{
  return name != NULL && name[0] != '\0' ? g_hash_table_lookup (im->entries, name) : NULL;
}

Entry *
define_entry (Importer *im, const char *name, EntryKind kind)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->kind = kind;
  entry->name = g_strdup (name);
  entry->value = -1;
  g_hash_table_replace (im->entries, entry->name, entry);
  return entry;
}

void
define_value (Importer *im, const char *name, int value)
{
  define_entry (im, name, ENTRY_VALUE)->value = value;
}

void
define_constant (Importer *im, const char *name, Tensor *tensor)
{
  define_entry (im, name, ENTRY_CONSTANT)->tensor = tensor;
}

/* The data of a constant entry, decoding it if needed. */
const Tensor *
entry_tensor (Importer *im, Entry *entry, GError **error)
{
  g_assert (entry->kind == ENTRY_CONSTANT);
  if (entry->tensor == NULL)
    entry->tensor = tensor_proto_decode (im, entry->proto, entry->name, error);
  return entry->tensor;
}

/* The input name at index i, or NULL when absent (past the end or ""). */
const char *
input_name (const Onnx__NodeProto *node, size_t i)
{
  return i < node->n_input && node->input[i] != NULL && node->input[i][0] != '\0' ? node->input[i] : NULL;
}

const char *
output_name (const Onnx__NodeProto *node, size_t i)
{
  return i < node->n_output && node->output[i] != NULL && node->output[i][0] != '\0' ? node->output[i] : NULL;
}

guint
use_count (Importer *im, const char *name)
{
  Use *use = name != NULL ? g_hash_table_lookup (im->uses, name) : NULL;
  return use != NULL ? use->count : 0;
}

gboolean
is_graph_output (Importer *im, const char *name)
{
  for (size_t i = 0; i < im->graph_proto->n_output; i++)
    if (g_strcmp0 (im->graph_proto->output[i]->name, name) == 0)
      return TRUE;
  return FALSE;
}

/* The entry of input i; present must hold for required inputs (checked by the caller's
 * input count), so NULL here means an absent optional input. */
Entry *
input_entry (Importer *im, const Onnx__NodeProto *node, size_t i)
{
  return lookup (im, input_name (node, i));
}

gboolean
is_constant (Entry *entry)
{
  return entry != NULL && entry->kind == ENTRY_CONSTANT;
}

gboolean
check_input_count (Importer *im, const Onnx__NodeProto *node, size_t min, size_t max, GError **error)
{
  if (node->n_input < min || node->n_input > max)
    {
      if (min == max)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "takes %zu input%s, not %zu",
                           min, min == 1 ? "" : "s", node->n_input);
      return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "takes %zu to %zu inputs, not %zu",
                         min, max, node->n_input);
    }
  for (size_t i = 0; i < min; i++)
    if (input_name (node, i) == NULL)
      return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no input %zu, which is required", i);
  if (output_name (node, 0) == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no output");
  return TRUE;
}

/* Outputs past the first `computed` must be unused. */
gboolean
check_extra_outputs (Importer *im, const Onnx__NodeProto *node, size_t computed, const char *what,
                     GError **error)
{
  for (size_t i = computed; i < node->n_output; i++)
    {
      const char *name = output_name (node, i);
      if (name != NULL && use_count (im, name) > 0)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has its output %zu ('%s') in use, but Graft computes only %s",
                           i, name, what);
    }
  return TRUE;
}

/* An engine value for a constant entry, with the kind its use gives it; added to the
 * engine graph the first time (under the entry's name), reused after. */
int
materialise (Importer *im, Entry *entry, graft_value_kind kind, GError **error)
{
  const Tensor *t;
  graft_error engine;
  int value;

  if (entry->value >= 0)
    return entry->value;
  t = entry_tensor (im, entry, error);
  if (t == NULL)
    return -1;
  if (t->type != TENSOR_FLOAT)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "reads '%s', an integer tensor, where Graft needs float32 values", entry->name), -1;
  value = graft_graph_add_tensor (im->graph, entry->name, kind, &t->shape, t->floats, &engine);
  if (value < 0)
    return engine_error (im, error, &engine), -1;
  entry->value = value;
  /* The engine has its copy; big weights are not needed here any more. */
  if (entry->proto != NULL && t->count > KEEP_DECODED_ELEMENTS)
    g_clear_pointer (&entry->tensor, tensor_free);
  return value;
}

/* An engine value for input i: an activation as it is, a constant materialised with
 * constant_kind. A pending Pad cannot be read here. */
int
value_input (Importer *im, const Onnx__NodeProto *node, size_t i, graft_value_kind constant_kind,
             GError **error)
{
  Entry *entry = input_entry (im, node, i);

  if (entry == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no input %zu", i), -1;
  switch (entry->kind)
    {
    case ENTRY_VALUE:
      return entry->value;
    case ENTRY_CONSTANT:
      return materialise (im, entry, constant_kind, error);
    case ENTRY_PADDED:
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "reads '%s', the output of a Pad, which Graft can only fold into a "
                         "following Conv or AveragePool", entry->name), -1;
    }
  return -1;
}

/* A constant input's data; refuses tensors computed at run time. */
const Tensor *
constant_input (Importer *im, const Onnx__NodeProto *node, size_t i, const char *role, GError **error)
{
  Entry *entry = input_entry (im, node, i);

  if (entry == NULL)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no %s", role), NULL;
  if (entry->kind != ENTRY_CONSTANT)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "has its %s '%s' computed at run time; Graft needs it to be a constant",
                       role, entry->name), NULL;
  return entry_tensor (im, entry, error);
}

const graft_shape *
value_shape (Importer *im, int value)
{
  return &graft_graph_value (im->graph, value)->shape;
}

/* Adds an engine node named after the ONNX node (plus suffix) whose output is the ONNX
 * tensor output; defines the entry. */
int
add_node (Importer *im, const char *suffix, const graft_node_attributes *attributes, const int *inputs,
          int n_inputs, const char *output, GError **error)
{
  g_autofree char *name = g_strconcat (im->node_names[im->current], suffix, NULL);
  graft_error engine;
  size_t count;
  int value;

  value = graft_graph_add_node (im->graph, name, attributes, inputs, n_inputs, output, &engine);
  if (value < 0)
    return engine_error (im, error, &engine), -1;
  if (graft_shape_count (value_shape (im, value), &count, NULL) != GRAFT_OK || count > MAX_ACTIVATION_ELEMENTS)
    {
      char text[160];
      graft_shape_format (value_shape (im, value), text, sizeof text);
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "makes a tensor of shape %s for one image, larger than Graft accepts", text), -1;
    }
  define_value (im, output, value);
  return value;
}

/* Makes output another name for x (an engine value, or one with a Pad pending): an alias,
 * or an identity node named after the ONNX node (plus suffix) when output is the graph
 * output, whose name must survive. */
gboolean
define_alias (Importer *im, const char *suffix, const Entry *x, const char *output, GError **error)
{
  Entry *alias;

  if (x->kind == ENTRY_VALUE && is_graph_output (im, output))
    {
      graft_node_attributes identity = { .op = GRAFT_OP_RESHAPE, .reshape = { .rank = -1 } };
      return add_node (im, suffix, &identity, &x->value, 1, output, error) >= 0;
    }
  alias = define_entry (im, output, x->kind);
  alias->value = x->value;
  memcpy (alias->pads, x->pads, sizeof alias->pads);
  return TRUE;
}

/* Integer values of a 0-D or 1-D constant (axes, shapes, pads), with their flags. */
gboolean
constant_ints (Importer *im, const Tensor *t, const char *role, const gint64 **values,
               const guint8 **flags, size_t *count, GError **error)
{
  *values = NULL;
  *count = 0;
  if (flags != NULL)
    *flags = NULL;
  if (t->type != TENSOR_INT || t->shape.rank > 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "needs its %s to be a 1-D tensor of integers", role);
  *values = t->ints;
  if (flags != NULL)
    *flags = t->flags;
  *count = t->count;
  return TRUE;
}

/* A single float from a constant of one element (Clip bounds, Dropout ratio). */
gboolean
constant_scalar (Importer *im, const Tensor *t, const char *role, double *out, GError **error)
{
  *out = 0;
  if (t->count != 1)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "needs its %s to have one element, not %zu", role, t->count);
  *out = tensor_get (t, 0);
  return TRUE;
}

/* The axes of Squeeze/Unsqueeze/ReduceMean: an attribute before opset 13 (18 for
 * ReduceMean), an optional input after. */
gboolean
axes_argument (Importer *im, const Onnx__NodeProto *node, gboolean from_input, const gint64 **axes,
               size_t *n_axes, gboolean *present, GError **error)
{
  *axes = NULL;
  *n_axes = 0;
  *present = FALSE;
  if (from_input)
    {
      const Tensor *t;
      if (input_name (node, 1) == NULL)
        return TRUE;
      t = constant_input (im, node, 1, "axes", error);
      if (t == NULL || !constant_ints (im, t, "axes", axes, NULL, n_axes, error))
        return FALSE;
      *present = TRUE;
      return TRUE;
    }
  if (!attribute_ints (im, node, "axes", axes, n_axes, error))
    return FALSE;
  *present = *axes != NULL;
  return TRUE;
}

gboolean
normalise_axis (Importer *im, gint64 axis, int rank, int *out, GError **error)
{
  *out = 0;
  if (axis < -rank || axis >= rank)
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "has the axis %" G_GINT64_FORMAT ", outside a rank-%d tensor", axis, rank);
  *out = (int) (axis < 0 ? axis + rank : axis);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Shape computations shared by constants and activations                   */

/* Unsqueeze: out gets the new shape; *moved is where input dim 0 ends up. */
gboolean
unsqueeze_shape (Importer *im, const graft_shape *in, const gint64 *axes, size_t n_axes,
                 graft_shape *out, int *moved, GError **error)
{
  gboolean inserted[GRAFT_MAX_RANK] = { FALSE };
  int rank, next = 0;

  if ((size_t) in->rank + n_axes > GRAFT_MAX_RANK)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "would make a tensor of rank %zu; Graft supports at most %d",
                       (size_t) in->rank + n_axes, GRAFT_MAX_RANK);
  rank = in->rank + (int) n_axes;
  for (size_t i = 0; i < n_axes; i++)
    {
      int axis;
      if (!normalise_axis (im, axes[i], rank, &axis, error))
        return FALSE;
      if (inserted[axis])
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "repeats the axis %d", axis);
      inserted[axis] = TRUE;
    }
  out->rank = rank;
  *moved = -1;
  for (int d = 0; d < rank; d++)
    {
      if (inserted[d])
        out->dims[d] = 1;
      else
        {
          if (next == 0)
            *moved = d;
          out->dims[d] = in->dims[next++];
        }
    }
  return TRUE;
}

/* Squeeze: axes, or every dim of size 1 when absent (except dim 0 when keep_first). */
gboolean
squeeze_shape (Importer *im, const graft_shape *in, const gint64 *axes, size_t n_axes, gboolean present,
               gboolean keep_first, graft_shape *out, GError **error)
{
  gboolean removed[GRAFT_MAX_RANK] = { FALSE };

  if (present)
    for (size_t i = 0; i < n_axes; i++)
      {
        int axis;
        if (!normalise_axis (im, axes[i], in->rank, &axis, error))
          return FALSE;
        if (in->dims[axis] != 1)
          return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "squeezes the axis %d, whose size is %" G_GINT64_FORMAT ", not 1",
                             axis, in->dims[axis]);
        if (axis == 0 && keep_first)
          return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "squeezes away the batch dimension, which Graft keeps");
        removed[axis] = TRUE;
      }
  else
    for (int d = keep_first ? 1 : 0; d < in->rank; d++)
      removed[d] = in->dims[d] == 1;
  out->rank = 0;
  for (int d = 0; d < in->rank; d++)
    if (!removed[d])
      out->dims[out->rank++] = in->dims[d];
  return TRUE;
}
