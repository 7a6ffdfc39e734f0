/* image-png.c: PNG through libpng, from memory, errors caught with setjmp/longjmp.
 *
 * Rows are read one at a time (png_read_row) and go straight into the image, or, at a
 * reduced size, are added into the boxes of the image they belong to, so the
 * full-size image never exists: memory is the file, one row, the (reduced) image and,
 * when reducing, one row of sums (the whole image's sums for an interlaced file, whose
 * passes visit the rows several times). What that takes is worked out from the header
 * and held in the shared budget before any pixel memory is allocated.
 *
 * Everything that changes between setjmp and a longjmp lives in a heap-allocated
 * PngDecode, so it is well defined when the error handler jumps back. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

#include "data/image-private.h"

/* deflate's best ratio is 1032:1 (a 258-byte match in 2 bits): a file that holds fewer
 * bytes than this fraction of its pixels' is certain to end early. */
#define DEFLATE_MAX_RATIO 1032
/* libpng's own buffers besides the rows (zlib's window and state, chunk buffers). All
 * of libpng's allocations go through png_alloc and stop there: an ancillary chunk that
 * declares 600 MB is skipped (libpng would allocate its length before reading it). */
#define LIBPNG_OVERHEAD ((gsize) 1 << 20)
/* The largest box: the sum of its 4096 x 4096 samples of 255 fits in 32 bits. A larger
 * factor would save nothing (the image is a few pixels by then). */
#define MAX_FACTOR 4096

typedef struct {
  jmp_buf jump;
  const guint8 *data;
  gsize size, position;
  gboolean truncated;     /* the reader ran out of bytes */
  gboolean rows_done;     /* every pixel is in: a later error (in the trailer) is ignored */
  char message[256];
  png_structp png;
  png_infop info;
  guint8 *row;            /* one row after libpng's transforms (3 or 4 channels) */
  guint32 *sums;          /* reducing: per output pixel and channel, the sum of its box */
  GraftImage *image;
  gsize libpng_allowed;   /* what libpng may allocate at once, counted in the decode's need */
  gsize libpng_allocated;
} PngDecode;

/* Each block is preceded by its size, for png_free_cb. */
#define ALLOC_HEADER 16

static png_voidp
png_alloc (png_structp png, png_alloc_size_t size)
{
  PngDecode *decode = png_get_mem_ptr (png);
  if (size > decode->libpng_allowed - decode->libpng_allocated)
    return NULL;   /* libpng reports it (a chunk too large to read is skipped) */
  guint8 *block = g_try_malloc (size + ALLOC_HEADER);
  if (block == NULL)
    return NULL;
  memcpy (block, &size, sizeof size);
  decode->libpng_allocated += size;
  return block + ALLOC_HEADER;
}

static void
png_free_cb (png_structp png, png_voidp pointer)
{
  if (pointer == NULL)
    return;
  PngDecode *decode = png_get_mem_ptr (png);
  guint8 *block = (guint8 *) pointer - ALLOC_HEADER;
  png_alloc_size_t size;
  memcpy (&size, block, sizeof size);
  decode->libpng_allocated -= size;
  g_free (block);
}

static void
on_png_error (png_structp png, png_const_charp message)
{
  PngDecode *decode = png_get_error_ptr (png);
  g_strlcpy (decode->message, message != NULL ? message : "unknown error", sizeof decode->message);
  longjmp (decode->jump, 1);
}

static void
on_png_warning (png_structp png, png_const_charp message)
{
  /* Warnings (a bad CRC in an ancillary chunk, an unknown chunk) do not stop decoding. */
}

static void
on_png_read (png_structp png, png_bytep out, size_t count)
{
  PngDecode *decode = png_get_io_ptr (png);
  if (count > decode->size - decode->position)
    {
      decode->truncated = TRUE;
      png_error (png, "truncated");
    }
  memcpy (out, decode->data + decode->position, count);
  decode->position += count;
}

static int
orientation_of (PngDecode *decode)
{
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 exif_size = 0;
  png_bytep exif = NULL;
  if (png_get_eXIf_1 (decode->png, decode->info, &exif_size, &exif) != 0 && exif != NULL)
    return graft_exif_orientation_from_tiff (exif, exif_size);
#endif
  return 0;   /* no eXIf (yet) */
}

/* Alpha over grey 128, rounded: (c * a + 128 * (255 - a) + 127) / 255. */
static inline void
composite (const guint8 *src, int channels, guint out[3])
{
  if (channels == 3)
    {
      out[0] = src[0];
      out[1] = src[1];
      out[2] = src[2];
      return;
    }
  const guint a = src[3], background = 128 * (255 - a) + 127;
  out[0] = (src[0] * a + background) / 255;
  out[1] = (src[1] * a + background) / 255;
  out[2] = (src[2] * a + background) / 255;
}

/* Output rows y0..y0 + n - 1 from their sums: each pixel the rounded mean of its box
 * (factor x factor, smaller at the right and bottom edges). */
static void
finish_rows (GraftImage *image, const guint32 *sums, int y0, int n, int factor, int width, int height)
{
  for (int j = 0; j < n; j++)
    {
      const int y = y0 + j;
      const guint rows = (guint) (MIN ((y + 1) * factor, height) - y * factor);
      const guint32 *s = sums + (gsize) j * image->width * 3;
      guint8 *dst = image->rgb + (gsize) y * image->width * 3;
      for (int x = 0; x < image->width; x++)
        {
          const guint count = rows * (guint) (MIN ((x + 1) * factor, width) - x * factor);
          for (int k = 0; k < 3; k++)
            dst[3 * x + k] = (guint8) ((s[3 * x + k] + count / 2) / count);
        }
    }
}

GraftImage *
graft_image_decode_png (const guint8 *data, gsize size, const char *name, int min_side,
                        GraftImageBudget *budget, GError **error)
{
  PngDecode *decode = g_new0 (PngDecode, 1);
  GraftImage *image = NULL;
  int orientation = 1;

  decode->data = data;
  decode->size = size;
  /* Until the header is read: the structures, zlib and chunks before the image data. */
  decode->libpng_allowed = LIBPNG_OVERHEAD;
  decode->png = png_create_read_struct_2 (PNG_LIBPNG_VER_STRING, decode, on_png_error, on_png_warning,
                                          decode, png_alloc, png_free_cb);
  if (decode->png != NULL)
    decode->info = png_create_info_struct (decode->png);
  if (decode->png == NULL || decode->info == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: cannot start the PNG decoder"), name);
      goto out;
    }

  if (setjmp (decode->jump))
    {
      if (!decode->rows_done)
        {
          if (decode->truncated)
            g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: truncated PNG file"), name);
          else
            g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: corrupt PNG file (%s)"),
                         name, decode->message);
          goto out;
        }
      /* The pixels are all in; the trailer (after the image data) is damaged or
       * missing. Keep the image, as other viewers do. */
      goto done;
    }

  png_set_read_fn (decode->png, decode, on_png_read);
  /* Our own limit is checked below with a clearer message; libpng's must not be lower. */
  png_set_user_limits (decode->png, 0x7fffffff, 0x7fffffff);
  png_read_info (decode->png, decode->info);

  png_uint_32 width, height;
  int bit_depth, color_type, interlace;
  png_get_IHDR (decode->png, decode->info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
  if (!graft_image_check_size (name, (long) width, (long) height, error))
    goto out;

  /* Fewer bytes than deflate could possibly expand to the pixels: truncated, said
   * before any work (a 4 KB file declaring 30000x6600 would otherwise be decoded up to
   * its end). */
  const double pixel_bytes = (double) width * height * png_get_channels (decode->png, decode->info) * bit_depth / 8;
  if (pixel_bytes > (double) size * DEFLATE_MAX_RATIO)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("%s: truncated PNG file (%ux%u pixels cannot fit in %llu bytes)"),
                   name, (unsigned) width, (unsigned) height, (unsigned long long) size);
      goto out;
    }

  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (decode->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8 (decode->png);
  if (png_get_valid (decode->png, decode->info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha (decode->png);
  if (bit_depth == 16)
    png_set_scale_16 (decode->png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb (decode->png);
  /* No png_set_interlace_handling: each pass's rows come as they are stored (only
   * that pass's pixels), and are put in place here, so no full-size buffer is needed. */
  png_read_update_info (decode->png, decode->info);

  const int channels = png_get_channels (decode->png, decode->info);
  const gsize row_bytes = png_get_rowbytes (decode->png, decode->info);
  if ((channels != 3 && channels != 4) || row_bytes != (gsize) width * channels)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                   _("%s: unsupported PNG layout (%d channels of %d bits)"), name, channels, bit_depth);
      goto out;
    }
  const gboolean interlaced = interlace != PNG_INTERLACE_NONE;

  /* An eXIf chunk before the image data tells the orientation now; without one, a
   * later chunk may still ask for a turn, which copies the image. */
  const int early_orientation = orientation_of (decode);
  const gboolean may_copy = early_orientation == 0 || early_orientation >= 5;

  /* The factor: the largest that keeps the shorter side >= min_side, then larger
   * while the decode would not fit in the memory limit. */
  const gsize limit = graft_image_memory_limit ();
  const guint shorter = MIN (width, height);
  guint factor = min_side > 0 ? CLAMP (shorter / (guint) min_side, 1, MAX_FACTOR) : 1;
  gsize need = 0;
  for (;; factor++)
    {
      const gsize ow = (width + factor - 1) / factor, oh = (height + factor - 1) / factor;
      const gsize out_bytes = ow * oh * 3;
      const gsize sums = factor == 1 ? 0 : ow * (interlaced ? oh : 1) * 3 * sizeof (guint32);
      /* libpng reads a row before its transforms: at most 8 bytes a pixel, twice. */
      const gsize rows = row_bytes + 2 * ((gsize) width * 8 + 1) + LIBPNG_OVERHEAD;
      need = size + out_bytes + MAX (sums + rows, may_copy ? out_bytes : 0);
      if (need <= limit || factor >= MIN (MAX (width, height), MAX_FACTOR))
        break;
    }
  if (need > limit)
    {
      graft_image_set_memory_error (error, name, (long) width, (long) height, "", need);
      goto out;
    }
  graft_image_budget_hold (budget, need);
  decode->libpng_allowed = 2 * ((gsize) width * 8 + 1) + LIBPNG_OVERHEAD;

  const int ow = (int) ((width + factor - 1) / factor), oh = (int) ((height + factor - 1) / factor);
  decode->image = graft_image_new (ow, oh, error);
  decode->row = g_try_malloc (row_bytes);
  if (factor > 1)
    decode->sums = g_try_malloc0 ((gsize) ow * (interlaced ? oh : 1) * 3 * sizeof (guint32));
  if (decode->image == NULL || decode->row == NULL || (factor > 1 && decode->sums == NULL))
    {
      if (decode->image != NULL)
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                     _("%s: out of memory for %ux%u pixels"), name, (unsigned) width, (unsigned) height);
      goto out;
    }

  for (int pass = 0; pass < (interlaced ? 7 : 1); pass++)
    {
      const png_uint_32 pass_width = interlaced ? PNG_PASS_COLS (width, pass) : width;
      const png_uint_32 pass_height = interlaced ? PNG_PASS_ROWS (height, pass) : height;
      if (pass_width == 0 || pass_height == 0)
        continue;   /* libpng skips empty passes */
      for (png_uint_32 py = 0; py < pass_height; py++)
        {
          const png_uint_32 y = interlaced ? PNG_ROW_FROM_PASS_ROW (py, pass) : py;
          if (factor == 1 && !interlaced && channels == 3)
            {
              png_read_row (decode->png, decode->image->rgb + (gsize) y * ow * 3, NULL);
              continue;
            }
          png_read_row (decode->png, decode->row, NULL);
          const guint8 *src = decode->row;
          if (factor == 1)
            {
              guint8 *dst = decode->image->rgb + (gsize) y * ow * 3;
              for (png_uint_32 px = 0; px < pass_width; px++, src += channels)
                {
                  const png_uint_32 x = interlaced ? PNG_COL_FROM_PASS_COL (px, pass) : px;
                  guint c[3];
                  composite (src, channels, c);
                  dst[3 * x] = (guint8) c[0];
                  dst[3 * x + 1] = (guint8) c[1];
                  dst[3 * x + 2] = (guint8) c[2];
                }
              continue;
            }
          guint32 *sums = decode->sums + (interlaced ? (gsize) (y / factor) * ow * 3 : 0);
          for (png_uint_32 px = 0; px < pass_width; px++, src += channels)
            {
              const png_uint_32 x = interlaced ? PNG_COL_FROM_PASS_COL (px, pass) : px;
              guint c[3];
              composite (src, channels, c);
              guint32 *s = sums + (gsize) (x / factor) * 3;
              s[0] += c[0];
              s[1] += c[1];
              s[2] += c[2];
            }
          /* The last row of a box (or of the image): that output row is complete. */
          if (!interlaced && ((y + 1) % factor == 0 || y + 1 == height))
            {
              finish_rows (decode->image, decode->sums, (int) (y / factor), 1, (int) factor, (int) width,
                           (int) height);
              memset (decode->sums, 0, (gsize) ow * 3 * sizeof (guint32));
            }
        }
    }
  if (interlaced && factor > 1)
    finish_rows (decode->image, decode->sums, 0, oh, (int) factor, (int) width, (int) height);
  g_clear_pointer (&decode->sums, g_free);
  decode->rows_done = TRUE;
  /* Reads the chunks after the image data too: an eXIf chunk may be there. */
  png_read_end (decode->png, decode->info);

done:
  orientation = orientation_of (decode);
  image = decode->image;
  decode->image = NULL;

out:
  if (decode->png != NULL)
    png_destroy_read_struct (&decode->png, decode->info != NULL ? &decode->info : NULL, NULL);
  graft_image_free (decode->image);
  g_free (decode->row);
  g_free (decode->sums);
  g_free (decode);
  if (image != NULL && orientation > 1)
    image = graft_image_apply_orientation (image, orientation, error);
  return image;
}
