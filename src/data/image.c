/* image.c: reading files, telling formats apart by their magic bytes, size limits and
 * EXIF orientation. The decoders are image-png.c and image-jpeg.c. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "base/regular-file.h"
#include "data/image-private.h"

/* Files larger than this are refused before reading: no PNG or JPEG within the pixel
 * limits needs more (a 200-megapixel PNG compresses far below it). */
#define MAX_FILE_BYTES ((gsize) 1 << 30)

gboolean
graft_image_check_size (const char *name, long width, long height, GError **error)
{
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s: invalid dimensions %ldx%ld", name, width, height);
      return FALSE;
    }
  if (width > GRAFT_IMAGE_MAX_SIDE || height > GRAFT_IMAGE_MAX_SIDE
      || (double) width * (double) height > GRAFT_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "%s: image too large (%ldx%ld; the limit is %d pixels a side and %d megapixels)",
                   name, width, height, GRAFT_IMAGE_MAX_SIDE, GRAFT_IMAGE_MAX_PIXELS / 1000000);
      return FALSE;
    }
  return TRUE;
}

GraftImage *
graft_image_new (int width, int height, GError **error)
{
  if (!graft_image_check_size ("image", width, height, error))
    return NULL;

  GraftImage *image = g_new0 (GraftImage, 1);
  image->width = width;
  image->height = height;
  image->rgb = g_try_malloc ((gsize) width * (gsize) height * 3);
  if (image->rgb == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "image: out of memory for %dx%d pixels", width, height);
      g_free (image);
      return NULL;
    }
  return image;
}

void
graft_image_free (GraftImage *image)
{
  if (image == NULL)
    return;
  g_free (image->rgb);
  g_free (image);
}

/* Orientation as in the EXIF specification (TIFF 6.0): which corner row 0 / column 0
 * of the stored image is, seen upright. For output pixel (ox, oy) of the upright image
 * (width ow, height oh), the source pixel in the stored image (w x h). */
GraftImage *
graft_image_apply_orientation (GraftImage *image, int orientation, GError **error)
{
  if (orientation < 2 || orientation > 8)
    return image;

  const int w = image->width, h = image->height;
  const gboolean swap = orientation >= 5;
  GraftImage *out = graft_image_new (swap ? h : w, swap ? w : h, error);
  if (out == NULL)
    {
      graft_image_free (image);
      return NULL;
    }

  const int ow = out->width, oh = out->height;
  for (int oy = 0; oy < oh; oy++)
    {
      guint8 *dst = out->rgb + (gsize) oy * ow * 3;
      for (int ox = 0; ox < ow; ox++)
        {
          int sx, sy;
          switch (orientation)
            {
            case 2: sx = w - 1 - ox; sy = oy; break;              /* mirrored */
            case 3: sx = w - 1 - ox; sy = h - 1 - oy; break;      /* upside down */
            case 4: sx = ox; sy = h - 1 - oy; break;              /* flipped vertically */
            case 5: sx = oy; sy = ox; break;                      /* transposed */
            case 6: sx = oy; sy = h - 1 - ox; break;              /* rotate 90 clockwise to view */
            case 7: sx = w - 1 - oy; sy = h - 1 - ox; break;      /* transversed */
            default: sx = w - 1 - oy; sy = ox; break;             /* 8: rotate 90 anticlockwise */
            }
          const guint8 *src = image->rgb + ((gsize) sy * w + sx) * 3;
          dst[0] = src[0];
          dst[1] = src[1];
          dst[2] = src[2];
          dst += 3;
        }
    }
  graft_image_free (image);
  return out;
}

static gboolean
has_prefix (const guint8 *data, gsize size, gsize offset, const char *magic)
{
  const gsize n = strlen (magic);
  return size >= offset + n && memcmp (data + offset, magic, n) == 0;
}

/* Names formats we recognise but do not decode, for a clearer message. */
static const char *
other_format_name (const guint8 *data, gsize size)
{
  if (has_prefix (data, size, 0, "GIF87a") || has_prefix (data, size, 0, "GIF89a"))
    return "GIF";
  if (has_prefix (data, size, 0, "RIFF") && has_prefix (data, size, 8, "WEBP"))
    return "WebP";
  if (has_prefix (data, size, 0, "BM"))
    return "BMP";
  if (has_prefix (data, size, 0, "II*") || has_prefix (data, size, 0, "MM\0*"))
    return "TIFF";
  if (has_prefix (data, size, 4, "ftypheic") || has_prefix (data, size, 4, "ftypheix")
      || has_prefix (data, size, 4, "ftypmif1") || has_prefix (data, size, 4, "ftypavif"))
    return "HEIF/AVIF";
  return NULL;
}

GraftImage *
graft_image_load_from_data (const guint8 *data, gsize size, const char *name, int min_side,
                            GError **error)
{
  static const guint8 png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  if (name == NULL)
    name = "image";

  if (size == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                   "%s: not a PNG or JPEG image (the file is empty)", name);
      return NULL;
    }
  if (size >= sizeof png_magic && memcmp (data, png_magic, sizeof png_magic) == 0)
    return graft_image_decode_png (data, size, name, error);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return graft_image_decode_jpeg (data, size, name, min_side, error);

  const char *other = other_format_name (data, size);
  if (other != NULL)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                 "%s: %s images are not supported (only PNG and JPEG)", name, other);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                 "%s: not a PNG or JPEG image", name);
  return NULL;
}

GraftImage *
graft_image_load_from_bytes (GBytes *bytes, const char *name, int min_side, GError **error)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  return graft_image_load_from_data (data, size, name, min_side, error);
}

static void
set_io_error (GError **error, const char *name, const char *what, int saved_errno)
{
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_IO,
               "%s: %s: %s", name, what, g_strerror (saved_errno));
}

/* The whole file in memory (one read for a local file), so that both decoders work
 * from a buffer and "truncated" is simply running out of it. */
static guint8 *
read_file (const char *path, const char *name, gsize *size_out, GError **error)
{
  /* Never a FIFO (open() would wait for a writer) or a device (reads never end). */
  struct stat st;
  g_autoptr (GError) local = NULL;
  int fd = graft_open_regular (path, &st, &local);
  if (fd < 0)
    {
      /* The message names the file: "x.png is not a regular file (a FIFO)". */
      g_set_error_literal (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_IO, local->message);
      return NULL;
    }
  if (st.st_size < 0 || (guint64) st.st_size > MAX_FILE_BYTES)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "%s: file too large (%" G_GINT64_FORMAT " bytes; the limit is %" G_GSIZE_FORMAT ")",
                   name, (gint64) st.st_size, MAX_FILE_BYTES);
      close (fd);
      return NULL;
    }

  /* The size fstat reports; a file that grows while we read is read on, to the limit. */
  gsize capacity = st.st_size > 0 ? (gsize) st.st_size : 65536;
  gsize size = 0;
  guint8 *data = g_malloc (capacity);
  for (;;)
    {
      if (size == capacity)
        {
          if (capacity >= MAX_FILE_BYTES)
            {
              g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                           "%s: file too large (the limit is %" G_GSIZE_FORMAT " bytes)", name, MAX_FILE_BYTES);
              g_free (data);
              close (fd);
              return NULL;
            }
          /* A regular file that grew while we read it: read on. */
          capacity = MIN (capacity * 2, MAX_FILE_BYTES);
          data = g_realloc (data, capacity);
        }
      ssize_t n = read (fd, data + size, capacity - size);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          set_io_error (error, name, "cannot read", errno);
          g_free (data);
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      size += (gsize) n;
    }
  close (fd);
  *size_out = size;
  return data;
}

GraftImage *
graft_image_load_at_least (const char *path, int min_side, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree char *name = g_filename_display_name (path);
  gsize size = 0;
  g_autofree guint8 *data = read_file (path, name, &size, error);
  if (data == NULL)
    return NULL;
  return graft_image_load_from_data (data, size, name, min_side, error);
}

GraftImage *
graft_image_load (const char *path, GError **error)
{
  return graft_image_load_at_least (path, 0, error);
}
