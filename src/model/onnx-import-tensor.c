/* onnx-import-tensor.c: tensors known at import, and decoding TensorProto (raw, typed
 * and external data) for the ONNX importer (see onnx-import.c). */
#include "base/regular-file.h"
#include "model/onnx-import-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Tensors known at import                                                   */

void
tensor_free (Tensor *t)
{
  if (t == NULL)
    return;
  g_free (t->floats);
  g_free (t->ints);
  g_free (t->flags);
  g_free (t);
}

/* A zero-filled tensor of shape, for folding: refuses more than MAX_FOLDED_ELEMENTS. */
Tensor *
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

Tensor *
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

double
tensor_get (const Tensor *t, size_t i)
{
  return t->type == TENSOR_FLOAT ? (double) t->floats[i] : (double) t->ints[i];
}

/* Row-major strides of shape (in elements). */
void
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
void
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
/* Decoding TensorProto                                                      */

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
gboolean
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

Tensor *
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
