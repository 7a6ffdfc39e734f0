/* npy.c: NumPy .npy files of float32 (see npy.h).
 *
 * The format: the magic "\x93NUMPY", major and minor version bytes, the header length
 * (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), then the header: a Python
 * dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline so that the data starts at a multiple of 64 bytes,
 * then the data. The header comes from the file, so it is parsed by hand, strictly:
 * exactly the three keys, each once, no expressions.
 */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "model/npy.h"

#include <string.h>

#include "base/regular-file.h"
#include "model/model.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_SIZE 6
#define MAX_HEADER_SIZE (1 << 20)

typedef struct {
  const char *text;
  gsize size;
  gsize at;
} Parser;

static void
skip_space (Parser *p)
{
  while (p->at < p->size && (p->text[p->at] == ' ' || p->text[p->at] == '\t' || p->text[p->at] == '\n'
                             || p->text[p->at] == '\r'))
    p->at++;
}

static gboolean
expect (Parser *p, char c)
{
  skip_space (p);
  if (p->at < p->size && p->text[p->at] == c)
    {
      p->at++;
      return TRUE;
    }
  return FALSE;
}

static gboolean
peek (Parser *p, char c)
{
  skip_space (p);
  return p->at < p->size && p->text[p->at] == c;
}

/* A quoted string without escapes, at most size - 1 characters. */
static gboolean
parse_string (Parser *p, char *out, gsize size)
{
  char quote;
  gsize n = 0;
  skip_space (p);
  if (p->at >= p->size || (p->text[p->at] != '\'' && p->text[p->at] != '"'))
    return FALSE;
  quote = p->text[p->at++];
  while (p->at < p->size && p->text[p->at] != quote)
    {
      char c = p->text[p->at++];
      if (c == '\\' || c == '\n' || n + 1 >= size)
        return FALSE;
      out[n++] = c;
    }
  if (p->at >= p->size)
    return FALSE;
  p->at++;
  out[n] = '\0';
  return TRUE;
}

static gboolean
parse_word (Parser *p, const char *word)
{
  gsize length = strlen (word);
  skip_space (p);
  if (p->size - p->at < length || memcmp (p->text + p->at, word, length) != 0)
    return FALSE;
  p->at += length;
  return TRUE;
}

/* A non-negative integer below 2^62 (Python 2 wrote a trailing L). */
static gboolean
parse_dim (Parser *p, gint64 *value)
{
  gint64 v = 0;
  gsize start;
  skip_space (p);
  start = p->at;
  while (p->at < p->size && g_ascii_isdigit (p->text[p->at]))
    {
      if (v > (G_GINT64_CONSTANT (1) << 62) / 10)
        return FALSE;
      v = v * 10 + (p->text[p->at++] - '0');
    }
  if (p->at == start)
    return FALSE;
  if (p->at < p->size && p->text[p->at] == 'L')
    p->at++;
  *value = v;
  return TRUE;
}

/* (), (5,), (2, 3) */
static gboolean
parse_shape (Parser *p, graft_shape *shape, const char *name, GError **error)
{
  shape->rank = 0;
  if (!expect (p, '('))
    goto bad;
  if (expect (p, ')'))
    return TRUE;
  for (;;)
    {
      gint64 dim;
      if (!parse_dim (p, &dim))
        goto bad;
      if (shape->rank == GRAFT_MAX_RANK)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       _("%s: the array has more than %d dimensions"), name, GRAFT_MAX_RANK);
          return FALSE;
        }
      shape->dims[shape->rank++] = dim;
      if (expect (p, ','))
        {
          if (expect (p, ')'))
            break;
          continue;
        }
      /* A one-element tuple needs its comma in Python: "(5)" is a number, not a shape. */
      if (shape->rank > 1 && expect (p, ')'))
        break;
      goto bad;
    }
  return TRUE;

bad:
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
               _("%s: the header's shape is not a tuple of non-negative integers"), name);
  return FALSE;
}

static gboolean
parse_header (const char *text, gsize size, const char *name, graft_shape *shape, GError **error)
{
  Parser p = { text, size, 0 };
  gboolean have_descr = FALSE, have_order = FALSE, have_shape = FALSE;

  for (gsize i = 0; i < size; i++)
    if ((guchar) text[i] < 0x20 && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
      goto bad;
  if (!expect (&p, '{'))
    goto bad;
  while (!peek (&p, '}'))
    {
      char key[32];
      if (!parse_string (&p, key, sizeof key) || !expect (&p, ':'))
        goto bad;
      if (strcmp (key, "descr") == 0 && !have_descr)
        {
          char descr[32];
          have_descr = TRUE;
          if (!parse_string (&p, descr, sizeof descr))
            goto bad;
          if (strcmp (descr, "<f4") != 0)
            {
              g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           _("%s: the array's type is '%s'; Graft reads only little-endian float32 ('<f4')%s"),
                           name, descr, strcmp (descr, ">f4") == 0 ? " (this one is big-endian)" : "");
              return FALSE;
            }
        }
      else if (strcmp (key, "fortran_order") == 0 && !have_order)
        {
          have_order = TRUE;
          if (parse_word (&p, "True"))
            {
              g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           _("%s: the array is in Fortran order; Graft reads only C order "
                           "(save numpy.ascontiguousarray(x))"), name);
              return FALSE;
            }
          if (!parse_word (&p, "False"))
            goto bad;
        }
      else if (strcmp (key, "shape") == 0 && !have_shape)
        {
          have_shape = TRUE;
          if (!parse_shape (&p, shape, name, error))
            return FALSE;
        }
      else
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
                       _("%s: the header has an unexpected or repeated key '%s'"), name, key);
          return FALSE;
        }
      if (!expect (&p, ','))
        break;
    }
  if (!expect (&p, '}'))
    goto bad;
  skip_space (&p);
  if (p.at != p.size)
    goto bad;
  if (!have_descr || !have_order || !have_shape)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
                   _("%s: the header lacks '%s'"), name,
                   !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
      return FALSE;
    }
  return TRUE;

bad:
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
               _("%s: the header is not the dictionary NumPy writes"), name);
  return FALSE;
}

gboolean
graft_npy_read_from_data (const guint8 *bytes, gsize size, const char *name,
                          graft_shape *shape, float **data, GError **error)
{
  guint8 major;
  gsize header_size, prefix;
  size_t count, data_size;
  graft_error engine_error;
  float *out;

  g_return_val_if_fail (shape != NULL && data != NULL, FALSE);
  *data = NULL;
  if (name == NULL)
    name = "array";
  if (size < MAGIC_SIZE + 4 || memcmp (bytes, MAGIC, MAGIC_SIZE) != 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
                   _("%s: not a NumPy .npy file (no \\x93NUMPY magic)"), name);
      return FALSE;
    }
  major = bytes[MAGIC_SIZE];
  if (major == 1)
    {
      header_size = (gsize) bytes[8] | (gsize) bytes[9] << 8;
      prefix = 10;
    }
  else if (major == 2 || major == 3)
    {
      if (size < 12)
        goto truncated;
      header_size = (gsize) bytes[8] | (gsize) bytes[9] << 8 | (gsize) bytes[10] << 16
                    | (gsize) bytes[11] << 24;
      prefix = 12;
    }
  else
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                   _("%s: .npy format version %d.%d is not one Graft reads (1.0, 2.0, 3.0)"), name, major,
                   bytes[MAGIC_SIZE + 1]);
      return FALSE;
    }
  if (header_size > MAX_HEADER_SIZE)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
                   "%s: the header claims %" G_GSIZE_FORMAT " bytes, which is absurd", name, header_size);
      return FALSE;
    }
  if (size - prefix < header_size)
    goto truncated;
  if (!parse_header ((const char *) bytes + prefix, header_size, name, shape, error))
    return FALSE;
  if (graft_shape_count (shape, &count, &engine_error) != GRAFT_OK)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, "%s: %s", name, engine_error.message);
      return FALSE;
    }
  data_size = count * sizeof (float); /* graft_shape_count checked the size in bytes */
  if (size - prefix - header_size < data_size)
    goto truncated;
  if (size - prefix - header_size > data_size)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE,
                   "%s: %" G_GSIZE_FORMAT " bytes follow the data of the shape in the header", name,
                   size - prefix - header_size - data_size);
      return FALSE;
    }
  out = g_try_malloc (MAX (data_size, 1));
  if (out == NULL)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO, _("%s: out of memory reading the array"), name);
      return FALSE;
    }
  memcpy (out, bytes + prefix + header_size, data_size);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (size_t i = 0; i < count; i++)
    {
      guint32 bits;
      memcpy (&bits, &out[i], 4);
      bits = GUINT32_SWAP_LE_BE (bits);
      memcpy (&out[i], &bits, 4);
    }
#endif
  *data = out;
  return TRUE;

truncated:
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_PARSE, _("%s: the file is truncated"), name);
  return FALSE;
}

gboolean
graft_npy_read (const char *path, graft_shape *shape, float **data, GError **error)
{
  g_autoptr (GMappedFile) file = NULL;
  g_autoptr (GError) local_error = NULL;

  file = graft_mapped_file_new (path, &local_error);
  if (file == NULL)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  return graft_npy_read_from_data ((const guint8 *) g_mapped_file_get_contents (file),
                                   g_mapped_file_get_length (file), path, shape, data, error);
}

GBytes *
graft_npy_write_to_bytes (const graft_shape *shape, const float *data, GError **error)
{
  g_autoptr (GString) header = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");
  graft_error engine_error;
  size_t count, data_size;
  gsize prefix = 10, total;
  guint8 *out;

  if (shape->rank < 0 || shape->rank > GRAFT_MAX_RANK
      || graft_shape_count (shape, &count, &engine_error) != GRAFT_OK)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("cannot write an array of this shape: %s"),
                   shape->rank < 0 || shape->rank > GRAFT_MAX_RANK ? "bad rank" : engine_error.message);
      return NULL;
    }
  data_size = count * sizeof (float);
  for (int d = 0; d < shape->rank; d++)
    g_string_append_printf (header, d == 0 ? "%" G_GINT64_FORMAT : ", %" G_GINT64_FORMAT, shape->dims[d]);
  g_string_append (header, shape->rank == 1 ? ",), }" : "), }");
  if (header->len + 1 + prefix > G_MAXUINT16)
    prefix = 12;
  while ((prefix + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');

  if (!g_size_checked_add (&total, prefix + header->len, data_size))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("the array is too large to write"));
      return NULL;
    }
  out = g_try_malloc (total);
  if (out == NULL)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO, _("out of memory writing an array"));
      return NULL;
    }
  memcpy (out, MAGIC, MAGIC_SIZE);
  out[6] = prefix == 10 ? 1 : 2;
  out[7] = 0;
  out[8] = header->len & 0xff;
  out[9] = (header->len >> 8) & 0xff;
  if (prefix == 12)
    {
      out[10] = (header->len >> 16) & 0xff;
      out[11] = (header->len >> 24) & 0xff;
    }
  memcpy (out + prefix, header->str, header->len);
  if (data_size > 0)
    memcpy (out + prefix + header->len, data, data_size);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (size_t i = 0; i < count; i++)
    {
      guint8 *p = out + prefix + header->len + i * 4, t;
      t = p[0], p[0] = p[3], p[3] = t;
      t = p[1], p[1] = p[2], p[2] = t;
    }
#endif
  return g_bytes_new_take (out, total);
}

gboolean
graft_npy_write (const char *path, const graft_shape *shape, const float *data, GError **error)
{
  g_autoptr (GBytes) bytes = graft_npy_write_to_bytes (shape, data, error);
  g_autoptr (GError) local_error = NULL;
  gsize size;
  const char *contents;

  if (bytes == NULL)
    return FALSE;
  contents = g_bytes_get_data (bytes, &size);
  if (!g_file_set_contents (path, contents, (gssize) size, &local_error))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  return TRUE;
}
