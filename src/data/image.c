/* image.c: reading files, telling formats apart by their magic bytes, size limits and
 * EXIF orientation. The decoders are image-png.c and image-jpeg.c. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "base/regular-file.h"
#include "data/image-private.h"

/* Files larger than this are refused before reading: the file's bytes are held while
 * it is decoded, and count towards the memory limit of a decode. */
#define MAX_FILE_BYTES GRAFT_IMAGE_MEMORY_LIMIT

/* ------------------------------------------------------------------------ */
/* Memory budget                                                            */

/* One budget for the process: decode threads of the loader, the app's thumbnails and
 * anything else that decodes all draw on it. */
static GMutex budget_mutex;
static GCond budget_released;
static gsize budget_limit = GRAFT_IMAGE_MEMORY_LIMIT;
static gsize budget_total = GRAFT_IMAGE_MEMORY_TOTAL;
static gsize budget_in_use, budget_peak;

void
graft_image_set_memory_limits (gsize per_image, gsize total)
{
  g_mutex_lock (&budget_mutex);
  budget_limit = per_image > 0 ? per_image : GRAFT_IMAGE_MEMORY_LIMIT;
  budget_total = MAX (total > 0 ? total : GRAFT_IMAGE_MEMORY_TOTAL, budget_limit);
  g_cond_broadcast (&budget_released);
  g_mutex_unlock (&budget_mutex);
}

gsize
graft_image_memory_limit (void)
{
  g_mutex_lock (&budget_mutex);
  const gsize limit = budget_limit;
  g_mutex_unlock (&budget_mutex);
  return limit;
}

gsize
graft_image_memory_peak (gboolean reset)
{
  g_mutex_lock (&budget_mutex);
  const gsize peak = budget_peak;
  if (reset)
    budget_peak = budget_in_use;
  g_mutex_unlock (&budget_mutex);
  return peak;
}

void
graft_image_budget_hold (GraftImageBudget *budget, gsize bytes)
{
  g_mutex_lock (&budget_mutex);
  /* Waiting while holding nothing: a decode that waits never blocks the others, so
   * there is no deadlock. With nothing held by anyone a request always goes through
   * (bytes may exceed the total after the limits were lowered). */
  budget_in_use -= budget->held;
  budget->held = 0;
  if (bytes > 0)
    g_cond_broadcast (&budget_released);
  while (bytes > 0 && budget_in_use > 0 && budget_in_use + bytes > budget_total)
    g_cond_wait (&budget_released, &budget_mutex);
  budget_in_use += bytes;
  budget->held = bytes;
  budget_peak = MAX (budget_peak, budget_in_use);
  g_cond_broadcast (&budget_released);
  g_mutex_unlock (&budget_mutex);
}

void
graft_image_budget_release (GraftImageBudget *budget)
{
  graft_image_budget_hold (budget, 0);
}

/* "256 MB" (MiB, as the limit is set) from 10 MB up, "900 KB" below; need rounded up
 * and a limit down, so that a need over the limit never reads as equal to it. */
static char *
format_memory (gsize bytes, gboolean up)
{
  const gsize unit = bytes >= (gsize) 10 << 20 ? (gsize) 1 << 20 : 1024;
  const gsize value = up ? (bytes + unit - 1) / unit : bytes / unit;
  return g_strdup_printf ("%" G_GSIZE_FORMAT " %s", value, unit == 1024 ? "KB" : "MB");
}

void
graft_image_set_memory_error (GError **error, const char *name, long width, long height,
                              const char *what, gsize need)
{
  g_autofree char *need_text = format_memory (need, TRUE);
  g_autofree char *limit_text = format_memory (graft_image_memory_limit (), FALSE);
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
               _("%s: image too large to decode (%ldx%ld%s needs %s of memory even at the smallest "
               "size; the limit is %s)"), name, width, height, what, need_text, limit_text);
}

/* ------------------------------------------------------------------------ */

gboolean
graft_image_check_size (const char *name, long width, long height, GError **error)
{
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("%s: invalid dimensions %ldx%ld"), name, width, height);
      return FALSE;
    }
  if (width > GRAFT_IMAGE_MAX_SIDE || height > GRAFT_IMAGE_MAX_SIDE
      || (double) width * (double) height > GRAFT_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   _("%s: image too large (%ldx%ld; the limit is %d pixels a side and %d megapixels)"),
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
                   _("image: out of memory for %dx%d pixels"), width, height);
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
  if (orientation <= 4)
    {
      /* Mirrored, upside down, flipped: in place, by swapping pixels (no second image,
       * which the decoders' memory budget counts only for 5..8). */
      const gsize stride = (gsize) w * 3;
      const int rows = orientation == 2 ? h : (h + 1) / 2;
      for (int y = 0; y < rows; y++)
        {
          const int y2 = orientation == 2 ? y : h - 1 - y;
          guint8 *a = image->rgb + (gsize) y * stride, *b = image->rgb + (gsize) y2 * stride;
          /* 2: mirror each row; 3: row y mirrored against row y2; 4: rows swapped. The
           * middle row of an odd height is swapped with itself (3: mirrored once). */
          const int columns = orientation == 4 ? w : (orientation == 3 && y == y2 ? w / 2 : w);
          for (int x = 0; x < columns; x++)
            {
              const int x2 = orientation == 4 ? x : w - 1 - x;
              if (orientation == 2 && x >= x2)
                break;
              if (y == y2 && orientation == 4)
                break;
              for (int k = 0; k < 3; k++)
                {
                  const guint8 t = a[3 * x + k];
                  a[3 * x + k] = b[3 * x2 + k];
                  b[3 * x2 + k] = t;
                }
            }
        }
      return image;
    }

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

/* The decoders hold the memory they need in budget; what they hold stays held. */
static GraftImage *
decode_data (const guint8 *data, gsize size, const char *name, int min_side, GraftImageBudget *budget,
             GError **error)
{
  static const guint8 png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  if (name == NULL)
    name = "image";

  if (size == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                   _("%s: not a PNG or JPEG image (the file is empty)"), name);
      return NULL;
    }
  if (size >= sizeof png_magic && memcmp (data, png_magic, sizeof png_magic) == 0)
    return graft_image_decode_png (data, size, name, min_side, budget, error);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return graft_image_decode_jpeg (data, size, name, min_side, budget, error);

  const char *other = other_format_name (data, size);
  if (other != NULL)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                 _("%s: %s images are not supported (only PNG and JPEG)"), name, other);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                 _("%s: not a PNG or JPEG image"), name);
  return NULL;
}

GraftImage *
graft_image_load_from_data (const guint8 *data, gsize size, const char *name, int min_side,
                            GError **error)
{
  GraftImageBudget budget = { 0 };
  GraftImage *image = decode_data (data, size, name, min_side, &budget, error);
  graft_image_budget_release (&budget);
  return image;
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
                   _("%s: file too large (%lld bytes; the limit is %llu)"), name, (long long) st.st_size,
                   (unsigned long long) MAX_FILE_BYTES);
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
                           _("%s: file too large (the limit is %llu bytes)"), name,
                           (unsigned long long) MAX_FILE_BYTES);
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
graft_image_load_budgeted (const char *path, int min_side, GraftImageBudget *budget, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree char *name = g_filename_display_name (path);
  /* The file's bytes count from before they are read (its size now; the decoder
   * counts what was read). */
  GStatBuf st;
  if (g_stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0)
    graft_image_budget_hold (budget, MIN ((gsize) st.st_size, graft_image_memory_limit ()));
  gsize size = 0;
  guint8 *data = read_file (path, name, &size, error);
  GraftImage *image = NULL;
  if (data != NULL)
    image = decode_data (data, size, name, min_side, budget, error);
  g_free (data);
  /* Only the image is left of what the decode needed. */
  graft_image_budget_hold (budget, image != NULL ? (gsize) image->width * image->height * 3 : 0);
  return image;
}

GraftImage *
graft_image_load_at_least (const char *path, int min_side, GError **error)
{
  GraftImageBudget budget = { 0 };
  GraftImage *image = graft_image_load_budgeted (path, min_side, &budget, error);
  graft_image_budget_release (&budget);
  return image;
}

GraftImage *
graft_image_load (const char *path, GError **error)
{
  return graft_image_load_at_least (path, 0, error);
}
