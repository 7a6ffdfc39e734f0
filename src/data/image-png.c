/* image-png.c: PNG through libpng, from memory, errors caught with setjmp/longjmp.
 *
 * Everything that changes between setjmp and a longjmp lives in a heap-allocated
 * PngDecode, so it is well defined when the error handler jumps back. */
#include <png.h>
#include <setjmp.h>
#include <string.h>

#include "data/image-private.h"

typedef struct {
  jmp_buf jump;
  const guint8 *data;
  gsize size, position;
  gboolean truncated;     /* the reader ran out of bytes */
  gboolean rows_done;     /* every pixel is in: a later error (in the trailer) is ignored */
  char message[256];
  png_structp png;
  png_infop info;
  guint8 *pixels;         /* (height, width, channels) after libpng's transforms */
  png_bytep *rows;
} PngDecode;

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

GraftImage *
graft_image_decode_png (const guint8 *data, gsize size, const char *name, GError **error)
{
  PngDecode *decode = g_new0 (PngDecode, 1);
  GraftImage *image = NULL;
  int orientation = 1;

  decode->data = data;
  decode->size = size;
  decode->png = png_create_read_struct (PNG_LIBPNG_VER_STRING, decode, on_png_error, on_png_warning);
  if (decode->png != NULL)
    decode->info = png_create_info_struct (decode->png);
  if (decode->png == NULL || decode->info == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, "%s: cannot start the PNG decoder", name);
      goto out;
    }

  if (setjmp (decode->jump))
    {
      if (!decode->rows_done)
        {
          if (decode->truncated)
            g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, "%s: truncated PNG file", name);
          else
            g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, "%s: corrupt PNG file (%s)",
                         name, decode->message);
          goto out;
        }
      /* The pixels are all in; the trailer (after the image data) is damaged or
       * missing. Keep the image, as other viewers do. */
      goto convert;
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
  png_set_interlace_handling (decode->png);
  png_read_update_info (decode->png, decode->info);

  const int channels = png_get_channels (decode->png, decode->info);
  const gsize row_bytes = png_get_rowbytes (decode->png, decode->info);
  if ((channels != 3 && channels != 4) || row_bytes != (gsize) width * channels)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                   "%s: unsupported PNG layout (%d channels of %d bits)", name, channels, bit_depth);
      goto out;
    }

  decode->pixels = g_try_malloc (row_bytes * height);
  decode->rows = g_try_new (png_bytep, height);
  if (decode->pixels == NULL || decode->rows == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "%s: out of memory for %ux%u pixels", name, (unsigned) width, (unsigned) height);
      goto out;
    }
  for (png_uint_32 y = 0; y < height; y++)
    decode->rows[y] = decode->pixels + row_bytes * y;
  png_read_image (decode->png, decode->rows);
  decode->rows_done = TRUE;
  /* Reads the chunks after the image data too: an eXIf chunk may be there. */
  png_read_end (decode->png, decode->info);

convert:
  {
    png_uint_32 w = png_get_image_width (decode->png, decode->info);
    png_uint_32 h = png_get_image_height (decode->png, decode->info);
    const int ch = png_get_channels (decode->png, decode->info);

#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 exif_size = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1 (decode->png, decode->info, &exif_size, &exif) != 0 && exif != NULL)
      orientation = graft_exif_orientation_from_tiff (exif, exif_size);
#endif

    image = graft_image_new ((int) w, (int) h, error);
    if (image == NULL)
      goto out;
    const gsize count = (gsize) w * h;
    if (ch == 3)
      memcpy (image->rgb, decode->pixels, count * 3);
    else
      {
        /* Alpha over grey 128, rounded: (c * a + 128 * (255 - a) + 127) / 255. */
        const guint8 *src = decode->pixels;
        guint8 *dst = image->rgb;
        for (gsize i = 0; i < count; i++, src += 4, dst += 3)
          {
            const guint a = src[3], background = 128 * (255 - a) + 127;
            dst[0] = (guint8) ((src[0] * a + background) / 255);
            dst[1] = (guint8) ((src[1] * a + background) / 255);
            dst[2] = (guint8) ((src[2] * a + background) / 255);
          }
      }
  }

out:
  if (decode->png != NULL)
    png_destroy_read_struct (&decode->png, decode->info != NULL ? &decode->info : NULL, NULL);
  g_free (decode->pixels);
  g_free (decode->rows);
  g_free (decode);
  if (image != NULL && orientation != 1)
    image = graft_image_apply_orientation (image, orientation, error);
  return image;
}
