/* image-jpeg.c: JPEG through libjpeg(-turbo), from memory.
 *
 * libjpeg's default error_exit prints and calls exit(): it is replaced by one that
 * formats the message and longjmps back here. Its "Premature end of JPEG file"
 * warning (it then pads the image with grey) is turned into an error, as is a file
 * with an absurd number of progressive scans (a known way to make a tiny file take
 * minutes to decode). Everything that changes between setjmp and longjmp lives in a
 * heap-allocated JpegDecode.
 *
 * Memory: the scale is chosen from the header so that the file, libjpeg's buffers (the
 * whole image's coefficients for a progressive or multi-scan file, at full size whatever
 * the scale) and the image fit in the memory limit; libjpeg's max_memory_to_use holds
 * it to what was counted for it. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "data/image-private.h"

/* libjpeg-turbo's fuzzers and tjDecompress use a limit of this order. */
#define MAX_SCANS 500
/* libjpeg's buffers besides the coefficients: a few rows of MCUs, per byte of width of
 * each component (context rows for upsampling, the colour converter's rows). */
#define ROW_BUFFER_BYTES 64
#define LIBJPEG_OVERHEAD ((gsize) 1 << 20)

typedef struct {
  struct jpeg_error_mgr manager;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  gboolean truncated, too_many_scans;
  gboolean created, rows_done;
  struct jpeg_decompress_struct info;
  guint8 *row;          /* one row of output_components samples, when not RGB */
  GraftImage *image;
} JpegDecode;

static void
on_jpeg_error (j_common_ptr info)
{
  JpegDecode *decode = (JpegDecode *) info->err;
  info->err->format_message (info, decode->message);
  longjmp (decode->jump, 1);
}

static void
on_jpeg_message (j_common_ptr info, int level)
{
  JpegDecode *decode = (JpegDecode *) info->err;
  if (level < 0)
    {
      if (info->err->msg_code == JWRN_JPEG_EOF)
        {
          decode->truncated = TRUE;
          info->err->format_message (info, decode->message);
          longjmp (decode->jump, 1);
        }
      /* Other warnings ("Corrupt JPEG data: N extraneous bytes before marker") are
       * common in real photos and harmless: counted, not printed. */
      info->err->num_warnings++;
    }
}

static void
on_jpeg_output (j_common_ptr info)
{
  /* Nothing goes to stderr. */
}

static void
on_jpeg_progress (j_common_ptr common)
{
  if (!common->is_decompressor)
    return;
  j_decompress_ptr info = (j_decompress_ptr) common;
  JpegDecode *decode = (JpegDecode *) info->err;
  if (info->input_scan_number > MAX_SCANS)
    {
      decode->too_many_scans = TRUE;
      g_strlcpy (decode->message, "too many scans", sizeof decode->message);
      longjmp (decode->jump, 1);
    }
}

/* CMYK to RGB, PIL's rounding: r = (255 - k) - round(c * (255 - k) / 255). */
static inline guint8
cmyk_channel (guint c, guint k)
{
  const guint nk = 255 - k;
  const guint t = c * nk + 128;
  return (guint8) (nk - ((t >> 8) + t) / 256);
}

/* The bytes of the whole image's coefficients (64 of 2 bytes a block, every block of
 * every component, rows of blocks rounded up to the sampling factor), which libjpeg
 * keeps when a file has several scans; 0 for a single-scan file. */
static gsize
coefficient_bytes (j_decompress_ptr info)
{
  if (!info->progressive_mode && info->comps_in_scan >= info->num_components)
    return 0;
  gsize total = 0;
  for (int c = 0; c < info->num_components; c++)
    {
      const jpeg_component_info *comp = &info->comp_info[c];
      const gsize rows = ((gsize) comp->height_in_blocks + comp->v_samp_factor - 1) / comp->v_samp_factor
                         * comp->v_samp_factor;
      const gsize columns = ((gsize) comp->width_in_blocks + comp->h_samp_factor - 1) / comp->h_samp_factor
                            * comp->h_samp_factor;
      total += rows * columns * DCTSIZE2 * sizeof (JCOEF);
    }
  return total;
}

/* Huffman coding spends at least one bit on each block of the first scan (its DC
 * difference, or a refinement bit): fewer bytes than that and the file ends early. */
static gboolean
too_short (j_decompress_ptr info, gsize size)
{
  if (info->arith_code || info->Ss != 0)
    return FALSE;
  double blocks = 0;
  for (int c = 0; c < info->comps_in_scan; c++)
    blocks += (double) info->cur_comp_info[c]->width_in_blocks * info->cur_comp_info[c]->height_in_blocks;
  return blocks / 8 > (double) size;
}

GraftImage *
graft_image_decode_jpeg (const guint8 *data, gsize size, const char *name, int min_side,
                         GraftImageBudget *budget, GError **error)
{
  JpegDecode *decode = g_new0 (JpegDecode, 1);
  GraftImage *result = NULL;
  int orientation = 1;

  decode->info.err = jpeg_std_error (&decode->manager);
  decode->manager.error_exit = on_jpeg_error;
  decode->manager.emit_message = on_jpeg_message;
  decode->manager.output_message = on_jpeg_output;

  if (setjmp (decode->jump))
    {
      if (decode->rows_done)
        goto done;   /* all pixels are in; only the end of the file is damaged */
      if (decode->truncated)
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: truncated JPEG file"), name);
      else
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: corrupt JPEG file (%s)"),
                     name, decode->message);
      goto out;
    }

  jpeg_create_decompress (&decode->info);
  decode->created = TRUE;
  decode->progress.progress_monitor = on_jpeg_progress;
  decode->info.progress = &decode->progress;
  jpeg_mem_src (&decode->info, data, (unsigned long) size);
  jpeg_save_markers (&decode->info, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header (&decode->info, TRUE);

  const long full_width = (long) decode->info.image_width, full_height = (long) decode->info.image_height;
  if (!graft_image_check_size (name, full_width, full_height, error))
    goto out;
  if (too_short (&decode->info, size))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   _("%s: truncated JPEG file (%ldx%ld pixels cannot fit in %llu bytes)"),
                   name, full_width, full_height, (unsigned long long) size);
      goto out;
    }

  for (jpeg_saved_marker_ptr marker = decode->info.marker_list; marker != NULL; marker = marker->next)
    if (marker->marker == JPEG_APP0 + 1)
      {
        const int o = graft_exif_orientation_from_app1 (marker->data, marker->data_length);
        if (o > 0)
          {
            orientation = o;
            break;
          }
      }

  gboolean cmyk = FALSE;
  switch (decode->info.jpeg_color_space)
    {
    case JCS_GRAYSCALE:
      decode->info.out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      decode->info.out_color_space = JCS_CMYK;   /* libjpeg turns YCCK into CMYK */
      cmyk = TRUE;
      break;
    default:
      decode->info.out_color_space = JCS_RGB;
      break;
    }

  /* The smallest of 1/8, 1/4, 1/2 whose shorter side still reaches min_side, else
   * full size. libjpeg-turbo also offers 3/8, 5/8, 6/8, 7/8, but has SIMD code only
   * for these (bench-loader: a 640x480 decode at 5/8 costs more CPU than at 8/8). */
  decode->info.scale_num = 1;
  decode->info.scale_denom = 1;
  if (min_side > 0)
    for (unsigned denom = 8; denom >= 2; denom /= 2)
      {
        decode->info.scale_denom = denom;
        jpeg_calc_output_dimensions (&decode->info);
        if (MIN (decode->info.output_width, decode->info.output_height) >= (JDIMENSION) min_side)
          break;
        decode->info.scale_denom = 1;
      }

  /* Larger scales while the decode would not fit in the memory limit. */
  const gsize limit = graft_image_memory_limit ();
  const gsize coefficients = coefficient_bytes (&decode->info);
  const gsize rows = (gsize) (decode->info.image_width + 2 * DCTSIZE) * decode->info.num_components
                     * ROW_BUFFER_BYTES + LIBJPEG_OVERHEAD;
  gsize need = 0, libjpeg = 0;
  for (;;)
    {
      jpeg_calc_output_dimensions (&decode->info);
      const gsize out_bytes = (gsize) decode->info.output_width * decode->info.output_height * 3;
      const gsize row = (gsize) decode->info.output_width * 4;
      libjpeg = coefficients + rows;
      /* A turn (orientation 5..8) copies the image at the end, after libjpeg is done.
       * The file counts twice: libjpeg keeps a copy of every APP1 marker (EXIF). */
      need = 2 * size + out_bytes + MAX (libjpeg + row, orientation >= 5 ? out_bytes : 0);
      if (need <= limit || decode->info.scale_denom >= 8)
        break;
      decode->info.scale_denom *= 2;
    }
  if (need > limit)
    {
      graft_image_set_memory_error (error, name, full_width, full_height,
                                    coefficients > 0 ? ", progressive or multi-scan," : "", need);
      goto out;
    }
  graft_image_budget_hold (budget, need);
  /* libjpeg's large buffers beyond what was counted for them (its buffers and the saved
   * markers, which it counts as allocated too) are refused (as "backing store not
   * supported") rather than allocated. */
  decode->info.mem->max_memory_to_use = (long) MIN (libjpeg + size, (gsize) G_MAXLONG);

  jpeg_start_decompress (&decode->info);

  const int width = (int) decode->info.output_width, height = (int) decode->info.output_height;
  const int components = decode->info.output_components;
  if (!(components == 3 || (components == 1 && !cmyk) || (components == 4 && cmyk)))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT,
                   _("%s: unsupported JPEG colour layout (%d components)"), name, components);
      goto out;
    }
  decode->image = graft_image_new (width, height, error);
  if (decode->image == NULL)
    goto out;
  if (components != 3)
    decode->row = g_malloc ((gsize) width * components);

  /* Adobe's APP14 marker means inverted CMYK samples (Photoshop's convention). */
  const gboolean inverted = cmyk && decode->info.saw_Adobe_marker;

  while (decode->info.output_scanline < decode->info.output_height)
    {
      guint8 *dst = decode->image->rgb + (gsize) decode->info.output_scanline * width * 3;
      JSAMPROW row = components == 3 ? dst : decode->row;
      if (jpeg_read_scanlines (&decode->info, &row, 1) != 1)
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT, _("%s: truncated JPEG file"), name);
          goto out;
        }
      if (components == 1)
        for (int x = 0; x < width; x++)
          dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = decode->row[x];
      else if (components == 4)
        for (int x = 0; x < width; x++)
          {
            const guint8 *s = decode->row + 4 * x;
            guint c = s[0], m = s[1], y = s[2], k = s[3];
            if (inverted)
              c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
            dst[3 * x] = cmyk_channel (c, k);
            dst[3 * x + 1] = cmyk_channel (m, k);
            dst[3 * x + 2] = cmyk_channel (y, k);
          }
    }
  decode->rows_done = TRUE;
  jpeg_finish_decompress (&decode->info);

done:
  result = decode->image;
  decode->image = NULL;

out:
  if (decode->created)
    jpeg_destroy_decompress (&decode->info);
  graft_image_free (decode->image);
  g_free (decode->row);
  g_free (decode);
  if (result != NULL && orientation != 1)
    result = graft_image_apply_orientation (result, orientation, error);
  return result;
}
