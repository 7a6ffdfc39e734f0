/* zip-reader.c: see zip-reader.h. Layout (PKWARE APPNOTE 6.3): the end of central
 * directory record (signature 0x06054b50) in the last 64 KiB + 22 bytes gives the
 * central directory; each central header (0x02014b50) gives a member's method, sizes,
 * CRC and the offset of its local header (0x04034b50), after which the data starts
 * (30 bytes + name + extra field of the local header). */
#include "project/zip-reader.h"

#include "base/regular-file.h"

#include <gio/gio.h>
#include <string.h>

struct _GraftZip {
  char *path;
  GMappedFile *file;
  const guint8 *data;
  gsize size;
  GArray *entries;    /* GraftZipEntry */
};

static guint16
u16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static guint32
u32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

guint32
graft_crc32 (guint32 crc, const guint8 *data, gsize n)
{
  static guint32 table[256];
  static gsize initialised = 0;
  if (g_once_init_enter (&initialised))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;
          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&initialised, 1);
    }
  crc = ~crc;
  for (gsize i = 0; i < n; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void
entry_clear (GraftZipEntry *entry)
{
  g_free (entry->name);
}

void
graft_zip_free (GraftZip *zip)
{
  if (zip == NULL)
    return;
  if (zip->entries != NULL)
    g_array_unref (zip->entries);
  if (zip->file != NULL)
    g_mapped_file_unref (zip->file);
  g_free (zip->path);
  g_free (zip);
}

static GraftZip *
bad (GraftZip *zip, GError **error, const char *what)
{
  g_autofree char *display = g_filename_display_name (zip->path);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", display, what);
  graft_zip_free (zip);
  return NULL;
}

GraftZip *
graft_zip_open (const char *path, GError **error)
{
  GraftZip *zip = g_new0 (GraftZip, 1);
  zip->path = g_strdup (path);
  zip->file = graft_mapped_file_new (path, error);   /* never a FIFO: it would block */
  if (zip->file == NULL)
    {
      graft_zip_free (zip);
      return NULL;
    }
  zip->data = (const guint8 *) g_mapped_file_get_contents (zip->file);
  zip->size = g_mapped_file_get_length (zip->file);
  zip->entries = g_array_new (FALSE, TRUE, sizeof (GraftZipEntry));
  g_array_set_clear_func (zip->entries, (GDestroyNotify) entry_clear);

  if (zip->size < 22)
    return bad (zip, error, "not a ZIP archive (too short)");
  gssize eocd = -1;
  gsize lowest = zip->size > 22 + 65535 ? zip->size - 22 - 65535 : 0;
  for (gssize at = (gssize) zip->size - 22; at >= (gssize) lowest; at--)
    if (u32 (zip->data + at) == 0x06054b50)
      {
        eocd = at;
        break;
      }
  if (eocd < 0)
    return bad (zip, error, "not a ZIP archive (no end of central directory)");
  const guint8 *end = zip->data + eocd;
  if (u16 (end + 4) != 0 || u16 (end + 6) != 0)
    return bad (zip, error, "multi-disk ZIP archives are not supported");
  guint32 count = u16 (end + 10);
  guint32 cd_size = u32 (end + 12);
  guint32 cd_offset = u32 (end + 16);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu)
    return bad (zip, error, "ZIP64 archives are not supported");
  if ((guint64) cd_offset + cd_size > (guint64) eocd)
    return bad (zip, error, "damaged ZIP archive (central directory out of bounds)");

  gsize at = cd_offset;
  for (guint32 i = 0; i < count; i++)
    {
      if (at + 46 > (gsize) eocd || u32 (zip->data + at) != 0x02014b50)
        return bad (zip, error, "damaged ZIP archive (bad central directory entry)");
      const guint8 *h = zip->data + at;
      guint16 name_length = u16 (h + 28), extra_length = u16 (h + 30), comment_length = u16 (h + 32);
      if (at + 46 + name_length + extra_length + comment_length > (gsize) eocd)
        return bad (zip, error, "damaged ZIP archive (central directory entry out of bounds)");
      GraftZipEntry entry = {
        .flags = u16 (h + 8),
        .method = u16 (h + 10),
        .crc = u32 (h + 16),
        .compressed_size = u32 (h + 20),
        .size = u32 (h + 24),
        .local_offset = u32 (h + 42),
      };
      if (entry.compressed_size == 0xffffffffu || entry.size == 0xffffffffu || entry.local_offset == 0xffffffffu)
        return bad (zip, error, "ZIP64 archives are not supported");
      g_autofree char *raw = g_strndup ((const char *) h + 46, name_length);
      entry.name = g_utf8_make_valid (raw, -1);
      g_array_append_val (zip->entries, entry);
      at += 46 + name_length + extra_length + comment_length;
    }
  return zip;
}

guint
graft_zip_n_entries (const GraftZip *zip)
{
  return zip->entries->len;
}

const GraftZipEntry *
graft_zip_entry (const GraftZip *zip, guint i)
{
  g_return_val_if_fail (i < zip->entries->len, NULL);
  return &g_array_index (zip->entries, GraftZipEntry, i);
}

static GBytes *
member_error (GraftZip *zip, const GraftZipEntry *entry, GError **error, const char *what)
{
  g_autofree char *display = g_filename_display_name (zip->path);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s: %s", display, entry->name, what);
  return NULL;
}

GBytes *
graft_zip_read (GraftZip *zip, guint i, guint64 max_size, GError **error)
{
  const GraftZipEntry *entry = graft_zip_entry (zip, i);
  if (entry->flags & 1)
    return member_error (zip, entry, error, "encrypted members are not supported");
  if (entry->size > max_size)
    return member_error (zip, entry, error, "too large");
  if (entry->local_offset + 30 > zip->size || u32 (zip->data + entry->local_offset) != 0x04034b50)
    return member_error (zip, entry, error, "damaged archive (bad local header)");
  const guint8 *local = zip->data + entry->local_offset;
  guint64 start = entry->local_offset + 30 + u16 (local + 26) + u16 (local + 28);
  if (start + entry->compressed_size > zip->size)
    return member_error (zip, entry, error, "damaged archive (member out of bounds)");
  const guint8 *compressed = zip->data + start;

  guint8 *out = g_malloc (entry->size > 0 ? entry->size : 1);
  if (entry->method == 0)
    {
      if (entry->compressed_size != entry->size)
        {
          g_free (out);
          return member_error (zip, entry, error, "damaged archive (stored sizes differ)");
        }
      memcpy (out, compressed, entry->size);
    }
  else if (entry->method == 8)
    {
      g_autoptr (GZlibDecompressor) inflater = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
      gsize in_at = 0, out_at = 0;
      for (;;)
        {
          gsize read = 0, written = 0;
          g_autoptr (GError) local_error = NULL;
          /* one spare byte of room so that a member longer than it says is noticed */
          guint8 spare;
          gboolean full = out_at >= entry->size;
          GConverterResult result = g_converter_convert (G_CONVERTER (inflater), compressed + in_at,
                                                         entry->compressed_size - in_at,
                                                         full ? &spare : out + out_at,
                                                         full ? 1 : entry->size - out_at,
                                                         G_CONVERTER_INPUT_AT_END, &read, &written, &local_error);
          if (result == G_CONVERTER_ERROR)
            {
              g_free (out);
              return member_error (zip, entry, error, local_error->message);
            }
          in_at += read;
          if (full && written > 0)
            {
              g_free (out);
              return member_error (zip, entry, error, "damaged archive (member longer than stated)");
            }
          out_at += written;
          if (result == G_CONVERTER_FINISHED)
            break;
          if (read == 0 && written == 0)
            {
              g_free (out);
              return member_error (zip, entry, error, "damaged archive (truncated member)");
            }
        }
      if (out_at != entry->size)
        {
          g_free (out);
          return member_error (zip, entry, error, "damaged archive (member shorter than stated)");
        }
    }
  else
    {
      g_free (out);
      g_autofree char *what = g_strdup_printf ("compression method %u is not supported", entry->method);
      return member_error (zip, entry, error, what);
    }
  if (graft_crc32 (0, out, entry->size) != entry->crc)
    {
      g_free (out);
      return member_error (zip, entry, error, "damaged archive (CRC mismatch)");
    }
  return g_bytes_new_take (out, entry->size);
}
