/* onnx-import.c: an ONNX ModelProto becomes a GraftModel.
 *
 * The file is not trusted. In order:
 *  1. protobuf-c unpacks it; IR version, default-domain opset and the graph are checked.
 *  2. Every initializer is inspected (type, dims, data length, external file) without
 *     being decoded; data is decoded when a node needs it.
 *  3. The one real graph input (a graph input without an initializer) becomes the
 *     engine input, declared at batch 1.
 *  4. Nodes are sorted topologically (Kahn, keeping file order where it is free), after
 *     checking that every tensor is produced once and every input exists.
 *  5. Each node is either folded at import (Constant, Shape, Gather, ... on constants:
 *     the tensors that describe shapes), or mapped to engine nodes. Folded shape
 *     tensors remember, per element, whether it is the batch size, so that a Reshape
 *     built from Shape(x) keeps working at any batch (it becomes 0 or -1).
 *  6. The model's fields are filled and graft_model_analyse runs.
 *
 * Constants (initializers, Constant nodes, folded results) enter the engine graph only
 * when a node reads them as a tensor, and with the kind that use gives them: weights
 * of Conv, Gemm and BatchNorm scale/bias are parameters, BatchNorm statistics are
 * buffers, other operands are constants. Initializer names are kept.
 */
#include "base/regular-file.h"
#include "model/model.h"
#include "model/model-private.h"
#include "model/onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_IR_VERSION 3
#define MAX_IR_VERSION 9
#define MIN_OPSET 7
#define MAX_OPSET 17
#define MAX_NODE_INPUTS 65536
#define MAX_FOLDED_ELEMENTS ((size_t) 1 << 24)
/* Per image: no real image model comes near this (a 1 GiB tensor), and a plan would
 * try to allocate it. */
#define MAX_ACTIVATION_ELEMENTS ((size_t) 1 << 28)
/* Decoded initializers larger than this are dropped once the engine has its copy. */
#define KEEP_DECODED_ELEMENTS 4096

/* Per element of an integer constant: what it is at batch sizes other than 1. */
enum {
  ELEMENT_STATIC,   /* the same at every batch size */
  ELEMENT_BATCH,    /* the batch size itself */
  ELEMENT_DERIVED,  /* computed from the batch size */
};

typedef enum {
  TENSOR_FLOAT,
  TENSOR_INT,
} TensorType;

typedef struct {
  TensorType type;
  graft_shape shape;
  size_t count;
  float *floats;   /* TENSOR_FLOAT */
  gint64 *ints;    /* TENSOR_INT */
  guint8 *flags;   /* TENSOR_INT: ELEMENT_* per element */
} Tensor;

typedef enum {
  ENTRY_VALUE,     /* an engine value: the input or an activation */
  ENTRY_CONSTANT,  /* known at import */
  ENTRY_PADDED,    /* an engine value with zero padding still to apply (Pad before Conv) */
} EntryKind;

typedef struct {
  EntryKind kind;
  char *name;                      /* the ONNX tensor name */
  int value;                       /* VALUE, PADDED: the engine value; CONSTANT: once materialised, else -1 */
  int pads[4];                     /* PADDED: top, left, bottom, right */
  const Onnx__TensorProto *proto;  /* CONSTANT from an initializer or a Constant node: decoded on demand */
  Tensor *tensor;                  /* CONSTANT: the data, when decoded */
} Entry;

typedef struct {
  guint count;        /* node inputs and graph outputs that read the tensor */
  int last_consumer;  /* file index of the last node reading it; -1 for a graph output */
} Use;

typedef struct {
  const char *name;        /* for messages */
  const char *base_dir;    /* external data; NULL refuses it */
  gint64 opset;
  const Onnx__GraphProto *graph_proto;
  GraftModel *model;
  graft_graph *graph;
  GHashTable *entries;     /* ONNX name -> Entry */
  GHashTable *uses;        /* ONNX name -> Use */
  GHashTable *producers;   /* ONNX name -> GINT_TO_POINTER (file index + 1) */
  GHashTable *initializers; /* ONNX name -> const Onnx__TensorProto */
  char **node_names;       /* per file index: the node's name, or op_type + index */
  gboolean *folded;        /* per file index: already imported with an earlier node */
  int current;             /* file index of the node being imported, -1 outside nodes */
  int input_value;
  gint64 file_batch;       /* the batch size the file declares (1 when symbolic) */
} Importer;

typedef gboolean (*NodeImporter) (Importer *im, const Onnx__NodeProto *node, GError **error);
/* One importer for several ops: variant says which (an activation kind, '+' for Add...). */
typedef gboolean (*VariantImporter) (Importer *im, const Onnx__NodeProto *node, int variant, GError **error);

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

static gboolean G_GNUC_PRINTF (4, 5)
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

static const char *
op_type_of (const Onnx__NodeProto *node)
{
  return node->op_type != NULL ? node->op_type : "";
}

static gboolean
is_default_domain (const char *domain)
{
  return domain == NULL || domain[0] == '\0' || strcmp (domain, "ai.onnx") == 0;
}

static gboolean G_GNUC_PRINTF (4, 5)
node_error (Importer *im, GError **error, GraftModelError code, const char *format, ...)
{
  const Onnx__NodeProto *node = im->graph_proto->node[im->current];
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_MODEL_ERROR, code, "%s: node '%s' (%s) %s", im->name,
               im->node_names[im->current], op_type_of (node), message);
  return FALSE;
}

static gboolean
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

static const char *
data_type_name (gint32 type)
{
  static const char *const names[] = {
    "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
    "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
  };
  return type >= 0 && type < (gint32) G_N_ELEMENTS (names) ? names[type] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Tensors known at import                                                   */

static void
tensor_free (Tensor *t)
{
  if (t == NULL)
    return;
  g_free (t->floats);
  g_free (t->ints);
  g_free (t->flags);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Tensor, tensor_free)

/* A zero-filled tensor of shape, for folding: refuses more than MAX_FOLDED_ELEMENTS. */
static Tensor *
tensor_new (Importer *im, TensorType type, const graft_shape *shape, GError **error)
{
  Tensor *t;
  size_t count;
  graft_error engine;

  if (graft_shape_count (shape, &count, &engine) != GRAFT_OK)
    return engine_error (im, error, &engine), NULL;
  if (count > MAX_FOLDED_ELEMENTS)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "would make a constant of %zu elements if folded", count), NULL;
  t = g_new0 (Tensor, 1);
  t->type = type;
  t->shape = *shape;
  t->count = count;
  if (type == TENSOR_FLOAT)
    t->floats = g_new0 (float, MAX (count, 1));
  else
    {
      t->ints = g_new0 (gint64, MAX (count, 1));
      t->flags = g_new0 (guint8, MAX (count, 1));
    }
  return t;
}

static Tensor *
tensor_copy (const Tensor *t)
{
  Tensor *copy = g_new0 (Tensor, 1);

  *copy = *t;
  if (t->type == TENSOR_FLOAT)
    {
      copy->floats = g_new (float, MAX (t->count, 1));
      memcpy (copy->floats, t->floats, t->count * sizeof (float));
      copy->ints = NULL;
      copy->flags = NULL;
    }
  else
    {
      copy->ints = g_new (gint64, MAX (t->count, 1));
      copy->flags = g_new (guint8, MAX (t->count, 1));
      memcpy (copy->ints, t->ints, t->count * sizeof (gint64));
      memcpy (copy->flags, t->flags, t->count);
      copy->floats = NULL;
    }
  return copy;
}

static double
tensor_get (const Tensor *t, size_t i)
{
  return t->type == TENSOR_FLOAT ? (double) t->floats[i] : (double) t->ints[i];
}

/* Row-major strides of shape (in elements). */
static void
shape_strides (const graft_shape *shape, size_t *strides)
{
  size_t stride = 1;
  for (int d = shape->rank - 1; d >= 0; d--)
    {
      strides[d] = stride;
      stride *= (size_t) shape->dims[d];
    }
}

/* Copies element `from` of src into element `to` of dst (same type). */
static void
tensor_copy_element (Tensor *dst, size_t to, const Tensor *src, size_t from)
{
  if (dst->type == TENSOR_FLOAT)
    dst->floats[to] = src->floats[from];
  else
    {
      dst->ints[to] = src->ints[from];
      dst->flags[to] = src->flags[from];
    }
}

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

static const Onnx__AttributeProto *
find_attribute (const Onnx__NodeProto *node, const char *name)
{
  for (size_t i = 0; i < node->n_attribute; i++)
    if (node->attribute[i]->name != NULL && strcmp (node->attribute[i]->name, name) == 0)
      return node->attribute[i];
  return NULL;
}

static gboolean
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

static gboolean
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

static gboolean
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
static gboolean
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
static gboolean
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
static gboolean
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
/* Decoding TensorProto                                                      */

typedef struct {
  TensorType type;
  gint32 data_type;
  graft_shape shape;
  size_t count;
  size_t element_size;   /* bytes per element in raw or external data */
} TensorInfo;

static gboolean
read_external_data (Importer *im, const Onnx__TensorProto *t, const char *tensor_name,
                    const TensorInfo *info, guint8 **bytes_out, GError **error)
{
  const char *location = NULL, *offset_text = NULL, *length_text = NULL;
  guint64 offset = 0, length, expected, end;
  g_autofree char *full = NULL, *real_base = NULL, *real_file = NULL, *prefix = NULL;
  g_autoptr (GError) open_error = NULL;
  g_auto (GStrv) parts = NULL;
  g_autofree guint8 *bytes = NULL;
  struct stat st;
  size_t done = 0;
  int fd;

  for (size_t i = 0; i < t->n_external_data; i++)
    {
      const Onnx__StringStringEntryProto *e = t->external_data[i];
      if (e->key == NULL)
        continue;
      if (strcmp (e->key, "location") == 0)
        location = e->value;
      else if (strcmp (e->key, "offset") == 0)
        offset_text = e->value;
      else if (strcmp (e->key, "length") == 0)
        length_text = e->value;
    }
  if (im->base_dir == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "tensor '%s' keeps its data in an external file, which cannot be read "
                         "for a model loaded from memory", tensor_name);
  if (location == NULL || location[0] == '\0')
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' has external data without a location", tensor_name);
  /* Only files inside the model's folder: no absolute paths, no "..", no links out. */
  if (g_path_is_absolute (location) || location[0] == '/' || location[0] == '\\')
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' refers to external data '%s' by an absolute path; it must "
                         "be inside the model's folder", tensor_name, location);
  parts = g_strsplit_set (location, "/\\", -1);
  for (int i = 0; parts[i] != NULL; i++)
    if (strcmp (parts[i], "..") == 0)
      return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "tensor '%s' refers to external data '%s' outside the model's folder",
                           tensor_name, location);
  if (offset_text != NULL
      && !g_ascii_string_to_unsigned (offset_text, 10, 0, G_MAXINT64, &offset, NULL))
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' has an external data offset '%s' that is not a number",
                         tensor_name, offset_text);
  if (!graft_size_mul (info->count, info->element_size, &done) || done > G_MAXINT64)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "tensor '%s' is too large", tensor_name);
  expected = done;
  done = 0;
  length = expected;
  if (length_text != NULL
      && !g_ascii_string_to_unsigned (length_text, 10, 0, G_MAXINT64, &length, NULL))
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' has an external data length '%s' that is not a number",
                         tensor_name, length_text);
  if (length != expected)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' has %" G_GUINT64_FORMAT " bytes of external data; its shape "
                         "needs %" G_GUINT64_FORMAT, tensor_name, length, expected);

  full = g_build_filename (im->base_dir, location, NULL);
  real_base = realpath (im->base_dir, NULL);
  real_file = realpath (full, NULL);
  if (real_base == NULL || real_file == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_IO,
                         "cannot read the external data of tensor '%s' from '%s': %s",
                         tensor_name, location, g_strerror (errno));
  prefix = g_str_has_suffix (real_base, "/") ? g_strdup (real_base) : g_strconcat (real_base, "/", NULL);
  if (!g_str_has_prefix (real_file, prefix))
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' refers to external data '%s', which resolves outside the "
                         "model's folder", tensor_name, location);

  /* Not a FIFO or a device: opening one would block, reading one would never end. */
  fd = graft_open_regular (real_file, &st, &open_error);
  if (fd < 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_IO,
                         "cannot read the external data of tensor '%s' ('%s'): %s",
                         tensor_name, location, open_error->message);
  if (__builtin_add_overflow (offset, length, &end) || end > (guint64) st.st_size)
    {
      close (fd);
      return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "tensor '%s' reads bytes %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                           " of '%s', which has only %" G_GUINT64_FORMAT, tensor_name, offset,
                           offset + length, location, (guint64) st.st_size);
    }
  if (bytes_out == NULL)
    {
      close (fd);
      return TRUE;
    }
  bytes = g_try_malloc (MAX (length, 1));
  if (bytes == NULL)
    {
      close (fd);
      return import_error (im, error, GRAFT_MODEL_ERROR_IO, "out of memory reading tensor '%s'", tensor_name);
    }
  while (done < length)
    {
      ssize_t n = pread (fd, bytes + done, length - done, (off_t) (offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          return import_error (im, error, GRAFT_MODEL_ERROR_IO,
                               "cannot read the external data of tensor '%s' ('%s'): %s", tensor_name,
                               location, n < 0 ? g_strerror (saved) : "the file is shorter than it was");
        }
      done += (size_t) n;
    }
  close (fd);
  *bytes_out = g_steal_pointer (&bytes);
  return TRUE;
}

/* Checks a TensorProto without decoding it: type, dims, and that its data is exactly as
 * long as its shape says (an external file is opened and range-checked). external: NULL
 * to check only; else it gets the bytes of external data, read in the same go (NULL when
 * the data is in the proto). */
static gboolean
tensor_proto_inspect (Importer *im, const Onnx__TensorProto *t, const char *tensor_name,
                      TensorInfo *info, guint8 **external, GError **error)
{
  size_t n_typed;

  memset (info, 0, sizeof *info);
  info->data_type = t->has_data_type ? t->data_type : 0;
  switch (info->data_type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
      info->type = TENSOR_FLOAT, info->element_size = 4, n_typed = t->n_float_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
      info->type = TENSOR_FLOAT, info->element_size = 8, n_typed = t->n_double_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
      info->type = TENSOR_INT, info->element_size = 8, n_typed = t->n_int64_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
      info->type = TENSOR_INT, info->element_size = 4, n_typed = t->n_int32_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
      /* Dropout's training_mode, for one: one byte each raw, int32_data otherwise. */
      info->type = TENSOR_INT, info->element_size = 1, n_typed = t->n_int32_data;
      break;
    default:
      return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "tensor '%s' holds values of type %s; Graft reads float32, double, int32, int64 and bool tensors",
                           tensor_name, data_type_name (info->data_type));
    }
  if (t->n_dims > GRAFT_MAX_RANK)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "tensor '%s' has %zu dimensions; Graft supports at most %d",
                         tensor_name, t->n_dims, GRAFT_MAX_RANK);
  info->shape.rank = (int) t->n_dims;
  info->count = 1;
  for (size_t d = 0; d < t->n_dims; d++)
    {
      if (t->dims[d] < 0)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "tensor '%s' has a negative dimension (%" G_GINT64_FORMAT ")",
                             tensor_name, t->dims[d]);
      info->shape.dims[d] = t->dims[d];
      if ((guint64) t->dims[d] > G_MAXSIZE || !graft_size_mul (info->count, (size_t) t->dims[d], &info->count)
          || info->count > G_MAXSIZE / 16)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "tensor '%s' claims more elements than memory can hold", tensor_name);
    }

  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return read_external_data (im, t, tensor_name, info, external, error);
  if (t->has_raw_data)
    {
      if (t->raw_data.len / info->element_size != info->count || t->raw_data.len % info->element_size != 0)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "tensor '%s' has %zu bytes of raw data; its shape needs %zu elements of %zu bytes",
                             tensor_name, t->raw_data.len, info->count, info->element_size);
      return TRUE;
    }
  if (n_typed != info->count)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                         "tensor '%s' has %zu values; its shape needs %zu",
                         tensor_name, n_typed, info->count);
  return TRUE;
}

static Tensor *
tensor_proto_decode (Importer *im, const Onnx__TensorProto *t, const char *tensor_name, GError **error)
{
  g_autofree guint8 *external = NULL;
  g_autoptr (Tensor) tensor = NULL;
  const guint8 *raw = NULL;
  TensorInfo info;

  if (!tensor_proto_inspect (im, t, tensor_name, &info, &external, error))
    return NULL;
  if (external != NULL)
    raw = external;
  else if (t->has_raw_data)
    raw = t->raw_data.data;

  tensor = g_new0 (Tensor, 1);
  tensor->type = info.type;
  tensor->shape = info.shape;
  tensor->count = info.count;
  if (info.type == TENSOR_FLOAT)
    {
      tensor->floats = g_try_new (float, MAX (info.count, 1));
      if (tensor->floats == NULL)
        return import_error (im, error, GRAFT_MODEL_ERROR_IO, "out of memory for tensor '%s'", tensor_name), NULL;
    }
  else
    {
      tensor->ints = g_try_new (gint64, MAX (info.count, 1));
      tensor->flags = g_try_new0 (guint8, MAX (info.count, 1));
      if (tensor->ints == NULL || tensor->flags == NULL)
        return import_error (im, error, GRAFT_MODEL_ERROR_IO, "out of memory for tensor '%s'", tensor_name), NULL;
    }

  for (size_t i = 0; i < info.count; i++)
    {
      switch (info.data_type)
        {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
          if (raw != NULL)
            {
              guint32 bits;
              memcpy (&bits, raw + 4 * i, 4);
              bits = GUINT32_FROM_LE (bits);
              memcpy (&tensor->floats[i], &bits, 4);
            }
          else
            tensor->floats[i] = t->float_data[i];
          break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
          if (raw != NULL)
            {
              guint64 bits;
              double value;
              memcpy (&bits, raw + 8 * i, 8);
              bits = GUINT64_FROM_LE (bits);
              memcpy (&value, &bits, 8);
              tensor->floats[i] = (float) value;
            }
          else
            tensor->floats[i] = (float) t->double_data[i];
          break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
          if (raw != NULL)
            {
              guint64 bits;
              memcpy (&bits, raw + 8 * i, 8);
              tensor->ints[i] = (gint64) GUINT64_FROM_LE (bits);
            }
          else
            tensor->ints[i] = t->int64_data[i];
          break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
          if (raw != NULL)
            {
              guint32 bits;
              memcpy (&bits, raw + 4 * i, 4);
              tensor->ints[i] = (gint32) GUINT32_FROM_LE (bits);
            }
          else
            tensor->ints[i] = t->int32_data[i];
          break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
          tensor->ints[i] = (raw != NULL ? raw[i] : t->int32_data[i]) != 0;
          break;
        default:
          break;
        }
    }
  return g_steal_pointer (&tensor);
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                   */

static void
entry_free (Entry *entry)
{
  g_free (entry->name);
  tensor_free (entry->tensor);
  g_free (entry);
}

static Entry *
lookup (Importer *im, const char *name)
{
  return name != NULL && name[0] != '\0' ? g_hash_table_lookup (im->entries, name) : NULL;
}

static Entry *
define_entry (Importer *im, const char *name, EntryKind kind)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->kind = kind;
  entry->name = g_strdup (name);
  entry->value = -1;
  g_hash_table_replace (im->entries, entry->name, entry);
  return entry;
}

static void
define_value (Importer *im, const char *name, int value)
{
  define_entry (im, name, ENTRY_VALUE)->value = value;
}

static void
define_constant (Importer *im, const char *name, Tensor *tensor)
{
  define_entry (im, name, ENTRY_CONSTANT)->tensor = tensor;
}

/* The data of a constant entry, decoding it if needed. */
static const Tensor *
entry_tensor (Importer *im, Entry *entry, GError **error)
{
  g_assert (entry->kind == ENTRY_CONSTANT);
  if (entry->tensor == NULL)
    entry->tensor = tensor_proto_decode (im, entry->proto, entry->name, error);
  return entry->tensor;
}

/* The input name at index i, or NULL when absent (past the end or ""). */
static const char *
input_name (const Onnx__NodeProto *node, size_t i)
{
  return i < node->n_input && node->input[i] != NULL && node->input[i][0] != '\0' ? node->input[i] : NULL;
}

static const char *
output_name (const Onnx__NodeProto *node, size_t i)
{
  return i < node->n_output && node->output[i] != NULL && node->output[i][0] != '\0' ? node->output[i] : NULL;
}

static guint
use_count (Importer *im, const char *name)
{
  Use *use = name != NULL ? g_hash_table_lookup (im->uses, name) : NULL;
  return use != NULL ? use->count : 0;
}

static gboolean
is_graph_output (Importer *im, const char *name)
{
  for (size_t i = 0; i < im->graph_proto->n_output; i++)
    if (g_strcmp0 (im->graph_proto->output[i]->name, name) == 0)
      return TRUE;
  return FALSE;
}

/* The entry of input i; present must hold for required inputs (checked by the caller's
 * input count), so NULL here means an absent optional input. */
static Entry *
input_entry (Importer *im, const Onnx__NodeProto *node, size_t i)
{
  return lookup (im, input_name (node, i));
}

static gboolean
is_constant (Entry *entry)
{
  return entry != NULL && entry->kind == ENTRY_CONSTANT;
}

static gboolean
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
static gboolean
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
static int
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
static int
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
static const Tensor *
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

static const graft_shape *
value_shape (Importer *im, int value)
{
  return &graft_graph_value (im->graph, value)->shape;
}

/* Adds an engine node named after the ONNX node (plus suffix) whose output is the ONNX
 * tensor output; defines the entry. */
static int
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
static gboolean
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
static gboolean
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
static gboolean
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
static gboolean
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

static gboolean
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
static gboolean
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
static gboolean
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

/* ------------------------------------------------------------------------ */
/* Folding on constants                                                      */

static Tensor *
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
static Tensor *
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

static Tensor *
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

static gboolean
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

static gboolean
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

static gboolean
import_shape (Importer *im, const Onnx__NodeProto *node, GError **error)
{
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
      t->flags[d - start] = batch && d == 0 ? ELEMENT_BATCH : ELEMENT_STATIC;
    }
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

static gboolean
import_gather (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const Tensor *data, *indices;
  gint64 axis;
  Tensor *t;

  if (!check_input_count (im, node, 2, 2, error))
    return FALSE;
  if (!all_inputs_constant (im, node))
    return not_foldable (im, node, error);
  if (!attribute_int (im, node, "axis", 0, &axis, error)
      || (data = constant_input (im, node, 0, "data", error)) == NULL
      || (indices = constant_input (im, node, 1, "indices", error)) == NULL)
    return FALSE;
  t = fold_gather (im, data, indices, axis, error);
  if (t == NULL)
    return FALSE;
  define_constant (im, output_name (node, 0), t);
  return TRUE;
}

static gboolean
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
    default:
      return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "casts to %s; Graft folds casts to float32, double, int32 and int64",
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

/* Slice with step 1 on values computed at run time: one engine Slice per axis that
 * it narrows (several are chained through values named OUTPUT/axisK). */
static gboolean
slice_runtime (Importer *im, const Onnx__NodeProto *node, const gint64 *starts, const gint64 *ends,
               const gint64 *axes, const gint64 *steps, size_t n, GError **error)
{
  const char *output = output_name (node, 0);
  gint64 start[GRAFT_MAX_RANK], end[GRAFT_MAX_RANK];
  gboolean seen[GRAFT_MAX_RANK] = { FALSE }, whole_batch = TRUE;
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
      if (steps != NULL && steps[i] != 1)
        return node_error (im, error, steps[i] == 0 ? GRAFT_MODEL_ERROR_INVALID : GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has the step %" G_GINT64_FORMAT " on a tensor computed at run time; Graft slices "
                           "computed tensors with step 1 only", steps[i]);
      dim = end[axis];
      s = starts[i] < 0 ? starts[i] + dim : starts[i];
      e = ends[i] < 0 ? ends[i] + dim : ends[i];
      s = CLAMP (s, 0, dim);
      e = CLAMP (e, s, dim);
      start[axis] = s;
      end[axis] = e;
      /* All of the batch: from its start (or before it) to past any batch size. */
      if (axis == 0)
        whole_batch = (starts[i] == 0 || starts[i] <= -(gint64) G_MAXINT32) && ends[i] >= G_MAXINT32;
    }
  for (int d = 0; d < rank; d++)
    if (d == 0 ? !whole_batch : start[d] != 0 || end[d] != value_shape (im, x)->dims[d])
      last = d;
  if (last < 0)
    return slice_value (im, x, 0, 0, 0, TRUE, "", output, error);
  for (int d = 0; d <= last; d++)
    {
      g_autofree char *suffix = NULL, *name = NULL;
      Entry *entry;
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

static gboolean
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
static gboolean
import_split (Importer *im, const Onnx__NodeProto *node, GError **error)
{
  const gint64 *sizes = NULL;
  size_t n_sizes = 0, n_outputs = node->n_output;
  gint64 axis_attribute, dim, offset = 0;
  const Tensor *data = NULL;
  graft_shape shape;
  Entry *entry;
  int axis, x = -1;

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
      if (total != dim && !(x >= 0 && axis == 0))
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                           "has split sizes that add up to %" G_GINT64_FORMAT ", but the axis %d it splits "
                           "has %" G_GINT64_FORMAT, total, axis, dim);
    }
  else if (dim % (gint64) n_outputs != 0 && !(x >= 0 && axis == 0))
    return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                       "splits an axis of %" G_GINT64_FORMAT " into %zu equal parts", dim, n_outputs);
  if (x >= 0 && axis == 0 && n_outputs > 1)
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
      else if (use_count (im, output) > 0
               && !slice_value (im, x, axis, start, end, TRUE, suffix, output, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
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

/* Add, Sub, Mul, Div (op '+', '-', '*', '/'). Sub and Div need a constant second operand:
 * x - c is x + (-c), x / c is x * (1/c). */
static gboolean
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
              if (before == GRAFT_OP_CONV || before == GRAFT_OP_GEMM)
                kind = GRAFT_VALUE_PARAMETER;
            }
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

static gboolean
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
  for (size_t d = 0; d < n; d++)
    {
      gint64 dim = dims[d];
      if (flags[d] == ELEMENT_BATCH && d == 0)
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
      else if (d == 0 && dim == im->file_batch && value_shape (im, x)->rank > 0)
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
      || !attribute_ints (im, node, "perm", &perm, &n, error)
      || (x = value_input (im, node, 0, GRAFT_VALUE_CONSTANT, error)) < 0)
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
  if (value_shape (im, inputs[0])->rank != 2 || value_shape (im, inputs[1])->rank != 2)
    return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "multiplies rank-%d by rank-%d tensors; Graft supports MatMul of matrices only",
                       value_shape (im, inputs[0])->rank, value_shape (im, inputs[1])->rank);

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
          if (value != 0)
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
  return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                     "normalises along the axis %d of a rank-%d tensor; Graft supports Softmax along the last axis",
                     k, rank);
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

/* Each op with either its own importer or a shared one and the variant to pass it. */
typedef struct {
  const char *op_type;
  NodeImporter import;
  VariantImporter import_variant;
  int variant;
} OpImporter;

static const OpImporter node_importers[] = {
  { "Conv", import_conv },
  { "BatchNormalization", import_batchnorm },
  { "Relu", NULL, import_plain_activation, GRAFT_ACTIVATION_RELU },
  { "Sigmoid", NULL, import_plain_activation, GRAFT_ACTIVATION_SIGMOID },
  { "LeakyRelu", import_leaky_relu },
  { "HardSigmoid", import_hard_sigmoid },
  { "HardSwish", NULL, import_plain_activation, GRAFT_ACTIVATION_HARD_SWISH },
  { "Clip", import_clip },
  { "Add", NULL, import_binary, '+' },
  { "Sub", NULL, import_binary, '-' },
  { "Mul", NULL, import_binary, '*' },
  { "Div", NULL, import_binary, '/' },
  { "Concat", import_concat },
  { "MaxPool", NULL, import_pool, TRUE },
  { "AveragePool", NULL, import_pool, FALSE },
  { "GlobalAveragePool", import_global_average_pool },
  { "GlobalMaxPool", import_global_max_pool },
  { "ReduceMean", import_reduce_mean },
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
  { "Constant", import_constant },
  { "Shape", import_shape },
  { "Gather", import_gather },
  { "Cast", import_cast },
  { "Slice", import_slice },
  { "Split", import_split },
  { "ConstantOfShape", import_constant_of_shape },
};

/* ------------------------------------------------------------------------ */
/* The graph: names, inputs, order                                           */

static gboolean
check_model (Importer *im, const Onnx__ModelProto *proto, GError **error)
{
  gboolean found = FALSE;

  if (!proto->has_ir_version && proto->graph == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_PARSE, "is not an ONNX model (no IR version, no graph)");
  if (!proto->has_ir_version)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no IR version");
  if (proto->ir_version < MIN_IR_VERSION || proto->ir_version > MAX_IR_VERSION)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has IR version %" G_GINT64_FORMAT "; Graft reads IR versions %d to %d",
                         proto->ir_version, MIN_IR_VERSION, MAX_IR_VERSION);
  for (size_t i = 0; i < proto->n_opset_import; i++)
    {
      const Onnx__OperatorSetIdProto *o = proto->opset_import[i];
      if (!is_default_domain (o->domain))
        continue;
      if (found)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "imports the default ONNX opset twice");
      found = TRUE;
      im->opset = o->has_version ? o->version : 0;
    }
  if (!found)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "imports no opset of the default ONNX domain");
  if (im->opset < MIN_OPSET || im->opset > MAX_OPSET)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "uses ONNX opset %" G_GINT64_FORMAT "; Graft supports opsets %d to %d",
                         im->opset, MIN_OPSET, MAX_OPSET);
  if (proto->graph == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no graph");
  return TRUE;
}

static gboolean
read_initializers (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;

  for (size_t i = 0; i < g->n_initializer; i++)
    {
      const Onnx__TensorProto *t = g->initializer[i];
      TensorInfo info;
      Entry *entry;
      if (t->name == NULL || t->name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an initializer without a name (number %zu)", i);
      if (g_hash_table_contains (im->initializers, t->name))
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has two initializers named '%s'", t->name);
      if (!tensor_proto_inspect (im, t, t->name, &info, NULL, error))
        return FALSE;
      g_hash_table_insert (im->initializers, t->name, (gpointer) t);
      entry = define_entry (im, t->name, ENTRY_CONSTANT);
      entry->proto = t;
    }
  return TRUE;
}

static gboolean
read_input (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  const Onnx__ValueInfoProto *input = NULL;
  const Onnx__TensorShapeProto *shape_proto;
  graft_shape shape = { 0 };
  graft_error engine;
  int count = 0;

  for (size_t i = 0; i < g->n_input; i++)
    {
      const Onnx__ValueInfoProto *v = g->input[i];
      if (v->name == NULL || v->name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a graph input without a name");
      /* IR 3 lists initializers as inputs too: those are constants. */
      if (g_hash_table_contains (im->initializers, v->name))
        continue;
      for (size_t j = 0; j < i; j++)
        if (g_strcmp0 (g->input[j]->name, v->name) == 0)
          return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "lists the input '%s' twice", v->name);
      input = v;
      count++;
    }
  if (count == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, g->n_input == 0 ? "has no graph input"
                         : "has no graph input: every input it lists has an initializer");
  if (count > 1)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has %d graph inputs; Graft supports models with one input", count);
  if (input->type == NULL || input->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || input->type->tensor_type == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "input '%s' is not a tensor", input->name);
  if (input->type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' holds values of type %s; Graft supports float32 inputs",
                         input->name, data_type_name (input->type->tensor_type->elem_type));
  shape_proto = input->type->tensor_type->shape;
  if (shape_proto == NULL || shape_proto->n_dim == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' has no shape; Graft needs the input's size", input->name);
  if (shape_proto->n_dim > GRAFT_MAX_RANK)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' has %zu dimensions; Graft supports at most %d",
                         input->name, shape_proto->n_dim, GRAFT_MAX_RANK);
  shape.rank = (int) shape_proto->n_dim;
  for (int d = 0; d < shape.rank; d++)
    {
      const Onnx__TensorShapeProto__Dimension *dim = shape_proto->dim[d];
      gboolean known = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      if (d == 0)
        {
          /* The batch: as the file says, or 1 when symbolic. Plans replace it. */
          if (known && (dim->dim_value < 0 || dim->dim_value > G_MAXINT32))
            return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                                 "input '%s' has the batch size %" G_GINT64_FORMAT, input->name, dim->dim_value);
          if (known && dim->dim_value == 0)
            return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                                 "input '%s' is empty (batch size 0), which Graft cannot run", input->name);
          im->file_batch = known ? dim->dim_value : 1;
          shape.dims[0] = im->file_batch;
          continue;
        }
      if (!known)
        return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "input '%s' has a symbolic dimension %d ('%s'); Graft needs a fixed size "
                             "for every dimension but the batch", input->name, d,
                             dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                 && dim->dim_param != NULL ? dim->dim_param : "");
      if (dim->dim_value < 1 || dim->dim_value > G_MAXINT32)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "input '%s' has the size %" G_GINT64_FORMAT " in dimension %d",
                             input->name, dim->dim_value, d);
      shape.dims[d] = dim->dim_value;
    }
  im->input_value = graft_graph_add_input (im->graph, input->name, &shape, &engine);
  if (im->input_value < 0)
    return engine_error (im, error, &engine);
  define_value (im, input->name, im->input_value);
  im->model->input = im->input_value;
  im->model->input_name = g_strdup (input->name);
  return TRUE;
}

static gboolean
is_known_tensor (Importer *im, const char *name)
{
  return g_hash_table_contains (im->producers, name) || g_hash_table_contains (im->entries, name);
}

/* Producers, uses, and the checks that make the order well defined. */
static gboolean
index_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;

  for (size_t i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *node = g->node[i];
      im->current = (int) i;
      if (node->op_type == NULL || node->op_type[0] == '\0')
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no op_type");
      if (node->n_input > MAX_NODE_INPUTS)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has %zu inputs; Graft accepts at most %d", node->n_input, MAX_NODE_INPUTS);
      if (node->n_output > MAX_NODE_INPUTS)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has %zu outputs; Graft accepts at most %d", node->n_output, MAX_NODE_INPUTS);
      if (output_name (node, 0) == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no output");
      for (size_t k = 0; k < node->n_output; k++)
        {
          const char *name = output_name (node, k);
          gpointer other;
          if (name == NULL)
            continue;
          if ((other = g_hash_table_lookup (im->producers, name)) != NULL)
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                               "writes '%s', which node '%s' writes too", name,
                               im->node_names[GPOINTER_TO_INT (other) - 1]);
          if (g_hash_table_contains (im->entries, name))
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                               "writes '%s', which is also a graph input or an initializer", name);
          g_hash_table_insert (im->producers, (gpointer) name, GINT_TO_POINTER ((int) i + 1));
        }
    }
  for (size_t i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *node = g->node[i];
      im->current = (int) i;
      for (size_t k = 0; k < node->n_input; k++)
        {
          const char *name = input_name (node, k);
          Use *use;
          if (name == NULL)
            continue;
          if (!is_known_tensor (im, name))
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "reads '%s', which nothing produces", name);
          use = g_hash_table_lookup (im->uses, name);
          if (use == NULL)
            {
              use = g_new0 (Use, 1);
              g_hash_table_insert (im->uses, (gpointer) name, use);
            }
          use->count++;
          use->last_consumer = (int) i;
        }
    }
  im->current = -1;
  if (g->n_output == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "declares no graph output");
  if (g->n_output > 1)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has %zu graph outputs; Graft supports models with one output", g->n_output);
  for (size_t i = 0; i < g->n_output; i++)
    {
      const char *name = g->output[i]->name;
      Use *use;
      if (name == NULL || name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a graph output without a name");
      if (!is_known_tensor (im, name))
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "declares the output '%s', which nothing produces", name);
      use = g_hash_table_lookup (im->uses, name);
      if (use == NULL)
        {
          use = g_new0 (Use, 1);
          use->last_consumer = -1;
          g_hash_table_insert (im->uses, (gpointer) name, use);
        }
      use->count++;
      use->last_consumer = -1;
    }
  if (g->n_node == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an empty graph (no nodes)");
  return TRUE;
}

/* A min-heap of node indices, so that the order follows the file where it may. */
static void
heap_push (int *heap, int *n, int value)
{
  int i = (*n)++;
  heap[i] = value;
  while (i > 0 && heap[(i - 1) / 2] > heap[i])
    {
      int parent = (i - 1) / 2, swap = heap[parent];
      heap[parent] = heap[i];
      heap[i] = swap;
      i = parent;
    }
}

static int
heap_pop (int *heap, int *n)
{
  int top = heap[0], i = 0;

  heap[0] = heap[--(*n)];
  for (;;)
    {
      int left = 2 * i + 1, right = left + 1, smallest = i, swap;
      if (left < *n && heap[left] < heap[smallest])
        smallest = left;
      if (right < *n && heap[right] < heap[smallest])
        smallest = right;
      if (smallest == i)
        break;
      swap = heap[i];
      heap[i] = heap[smallest];
      heap[smallest] = swap;
      i = smallest;
    }
  return top;
}

static int
producer_of (Importer *im, const char *name)
{
  gpointer p = name != NULL ? g_hash_table_lookup (im->producers, name) : NULL;
  return p != NULL ? GPOINTER_TO_INT (p) - 1 : -1;
}

/* Kahn's algorithm; a cycle names one of its nodes. */
static int *
sort_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  int n = (int) g->n_node, n_heap = 0, n_sorted = 0;
  g_autofree int *pending = g_new0 (int, n), *first = g_new0 (int, n + 1), *heap = g_new (int, n);
  g_autofree int *edges = NULL, *fill = NULL;
  g_autofree int *order = g_new (int, n);
  size_t n_edges = 0;

  /* Edges producer -> consumer in CSR form. */
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      {
        int p = producer_of (im, input_name (g->node[i], k));
        if (p >= 0)
          {
            first[p + 1]++;
            pending[i]++;
            n_edges++;
          }
      }
  for (int i = 0; i < n; i++)
    first[i + 1] += first[i];
  edges = g_new (int, MAX (n_edges, 1));
  fill = g_memdup2 (first, (gsize) n * sizeof (int));
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      {
        int p = producer_of (im, input_name (g->node[i], k));
        if (p >= 0)
          edges[fill[p]++] = i;
      }

  for (int i = 0; i < n; i++)
    if (pending[i] == 0)
      heap_push (heap, &n_heap, i);
  while (n_heap > 0)
    {
      int i = heap_pop (heap, &n_heap);
      order[n_sorted++] = i;
      for (int e = first[i]; e < first[i + 1]; e++)
        if (--pending[edges[e]] == 0)
          heap_push (heap, &n_heap, edges[e]);
    }
  if (n_sorted < n)
    {
      /* Walk back from a node left over along left-over producers until one repeats:
       * that one is on a cycle. */
      g_autofree gboolean *visited = g_new0 (gboolean, n);
      int i = 0;
      while (pending[i] == 0)
        i++;
      while (!visited[i])
        {
          visited[i] = TRUE;
          for (size_t k = 0; k < g->node[i]->n_input; k++)
            {
              int p = producer_of (im, input_name (g->node[i], k));
              if (p >= 0 && pending[p] > 0)
                {
                  i = p;
                  break;
                }
            }
        }
      im->current = i;
      node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "is part of a cycle: the graph is not acyclic");
      im->current = -1;
      return NULL;
    }
  return g_steal_pointer (&order);
}

static gboolean
import_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  g_autofree int *order = sort_nodes (im, error);

  if (order == NULL)
    return FALSE;
  for (size_t k = 0; k < g->n_node; k++)
    {
      int i = order[k];
      const Onnx__NodeProto *node = g->node[i];
      const OpImporter *importer = NULL;
      gboolean ok;

      if (im->folded[i])
        continue;
      im->current = i;
      if (!is_default_domain (node->domain))
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "uses op '%s' of the domain '%s', which Graft does not support",
                           node->op_type, node->domain);
      for (size_t j = 0; j < G_N_ELEMENTS (node_importers) && importer == NULL; j++)
        if (strcmp (node_importers[j].op_type, node->op_type) == 0)
          importer = &node_importers[j];
      if (importer == NULL)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "%s: node '%s' uses ONNX op '%s' (opset %" G_GINT64_FORMAT "), which Graft does not support",
                       im->name, im->node_names[i], node->op_type, im->opset);
          return FALSE;
        }
      for (size_t k = 0; k < node->n_input; k++)
        {
          const char *name = input_name (node, k);
          if (name != NULL && lookup (im, name) == NULL)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "reads '%s', an output of node '%s' that Graft does not compute", name,
                               im->node_names[producer_of (im, name) >= 0 ? producer_of (im, name) : i]);
        }
      ok = importer->import != NULL ? importer->import (im, node, error)
                                    : importer->import_variant (im, node, importer->variant, error);
      if (!ok)
        return FALSE;
    }
  im->current = -1;
  return TRUE;
}

static gboolean
finish_model (Importer *im, const Onnx__ModelProto *proto, GError **error)
{
  GraftModel *model = im->model;
  const char *name = im->graph_proto->output[0]->name;
  Entry *out = lookup (im, name);
  const graft_value *value;

  if (out == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "never computes its output '%s'", name);
  if (out->kind == ENTRY_CONSTANT)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has an output '%s' that does not depend on its input", name);
  if (out->kind == ENTRY_PADDED)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "ends with a Pad ('%s'), which Graft can only fold into a following Conv", name);
  value = graft_graph_value (im->graph, out->value);
  if (value->kind == GRAFT_VALUE_INPUT)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "computes nothing: its output is its input");
  model->output = out->value;
  model->output_name = g_strdup (name);
  model->logits = model->output;
  /* The logits are what a trailing Softmax reads (seen through identities). */
  while (value->producer >= 0)
    {
      const graft_node *last = graft_graph_node (im->graph, value->producer);
      if (last->attributes.op == GRAFT_OP_SOFTMAX)
        {
          model->logits = last->inputs[0];
          break;
        }
      if (!(last->attributes.op == GRAFT_OP_RESHAPE && last->attributes.reshape.rank < 0)
          && last->attributes.op != GRAFT_OP_DROPOUT)
        break;
      value = graft_graph_value (im->graph, last->inputs[0]);
    }

  model->ir_version = proto->ir_version;
  model->opset = im->opset;
  model->producer_name = g_strdup (proto->producer_name);
  model->producer_version = g_strdup (proto->producer_version);
  model->graph_name = g_strdup (im->graph_proto->name);
  for (size_t i = 0; i < proto->n_metadata_props; i++)
    {
      const Onnx__StringStringEntryProto *e = proto->metadata_props[i];
      if (e->key != NULL)
        g_hash_table_replace (model->metadata, g_strdup (e->key), g_strdup (e->value != NULL ? e->value : ""));
    }
  return TRUE;
}

GraftModel *
graft_model_load_from_data (const guint8 *data, gsize size, const char *base_dir, const char *name,
                            GError **error)
{
  Importer im = { 0 };
  Onnx__ModelProto *proto;
  GraftModel *model = NULL;
  gboolean ok;
  g_autoptr (GError) analyse_error = NULL;

  im.name = name != NULL ? name : "model";
  im.base_dir = base_dir;
  im.current = -1;
  im.input_value = -1;
  im.file_batch = 1;

  if (data == NULL || size == 0)
    {
      import_error (&im, error, GRAFT_MODEL_ERROR_PARSE, "is empty, not an ONNX model");
      return NULL;
    }
  proto = onnx__model_proto__unpack (NULL, size, data);
  if (proto == NULL)
    {
      import_error (&im, error, GRAFT_MODEL_ERROR_PARSE, "is not an ONNX model or is truncated");
      return NULL;
    }
  if (!check_model (&im, proto, error))
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      return NULL;
    }

  im.graph_proto = proto->graph;
  im.model = model = graft_model_new ();
  im.graph = model->graph = graft_graph_new ();
  im.entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  im.uses = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  im.producers = g_hash_table_new (g_str_hash, g_str_equal);
  im.initializers = g_hash_table_new (g_str_hash, g_str_equal);
  im.node_names = g_new0 (char *, im.graph_proto->n_node + 1);
  im.folded = g_new0 (gboolean, im.graph_proto->n_node + 1);
  for (size_t i = 0; i < im.graph_proto->n_node; i++)
    {
      const Onnx__NodeProto *node = im.graph_proto->node[i];
      im.node_names[i] = node->name != NULL && node->name[0] != '\0'
                           ? g_strdup (node->name)
                           : g_strdup_printf ("%s_%zu", node->op_type != NULL ? node->op_type : "node", i);
    }

  ok = model->graph != NULL
       && read_initializers (&im, error)
       && read_input (&im, error)
       && index_nodes (&im, error)
       && import_nodes (&im, error)
       && finish_model (&im, proto, error);

  g_hash_table_unref (im.entries);
  g_hash_table_unref (im.uses);
  g_hash_table_unref (im.producers);
  g_hash_table_unref (im.initializers);
  g_strfreev (im.node_names);
  g_free (im.folded);
  onnx__model_proto__free_unpacked (proto, NULL);

  if (ok && !graft_model_analyse (model, &analyse_error))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, analyse_error->code, "%s: %s", im.name, analyse_error->message);
      ok = FALSE;
    }
  if (!ok)
    {
      graft_model_free (model);
      return NULL;
    }
  return model;
}
