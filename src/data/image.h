/* image.h: decoding PNG and JPEG files into 8-bit RGB.
 *
 * - The format is found from the first bytes, never from the file name.
 * - PNG (libpng): every colour type and depth. Palettes and grey are expanded to RGB,
 *   16-bit samples are scaled to 8 bits with rounding (v * 255 / 65535, libpng's
 *   png_set_scale_16), interlaced files are de-interlaced. Transparency (an alpha
 *   channel or tRNS) is composited on a neutral grey, 128, with integer rounding:
 *     out = (c * a + 128 * (255 - a) + 127) / 255
 *   so a transparent pixel reads as mid-grey whatever colour it hides. Gamma (gAMA)
 *   and colour profiles (iCCP) are ignored, as PIL and torchvision do. An eXIf chunk's
 *   orientation is honoured.
 * - JPEG (libjpeg-turbo): baseline, progressive, greyscale, RGB, CMYK and YCCK. CMYK
 *   is turned into RGB as r = (255 - c) * (255 - k) / 255 (rounded, PIL's formula);
 *   when the file has an Adobe APP14 marker the stored samples are inverted (Adobe
 *   convention, which is what Photoshop, ImageMagick, libjpeg and PIL write). DCT method
 *   and upsampling are libjpeg's defaults (islow, fancy), as in PIL, so the pixels match
 *   PIL's on the same libjpeg-turbo. A file that ends before its last scan is an error
 *   ("truncated"), not a grey-filled image.
 * - EXIF orientation (JPEG APP1 "Exif", PNG eXIf; tag 0x0112 in IFD0) is applied, so
 *   the image comes out upright; orientations 5..8 swap width and height.
 * - Dimensions beyond GRAFT_IMAGE_MAX_SIDE on a side, or GRAFT_IMAGE_MAX_PIXELS in all,
 *   are refused before any pixel memory is allocated.
 * - Memory: one decode (the file's bytes, the decoder's buffers and the image) is held
 *   to a limit, GRAFT_IMAGE_MEMORY_LIMIT by default. Its need is worked out from the
 *   header before any pixel memory is allocated; an image that would need more is
 *   decoded at a reduced size (PNG: an integer box filter applied as the rows arrive,
 *   so the full-size image never exists; JPEG: DCT scaling 1/2, 1/4, 1/8), and refused
 *   (GRAFT_DATA_ERROR_TOO_LARGE, naming the file, its dimensions and the limit) when
 *   even that does not fit (a progressive JPEG keeps every coefficient at full size).
 *   A file whose size cannot hold the pixels it declares (a PNG beyond deflate's
 *   1032:1, a Huffman-coded JPEG with less than a bit per block) is refused as
 *   truncated before decoding.
 * - All decodes running at once, on any thread, share a total budget
 *   (GRAFT_IMAGE_MEMORY_TOTAL by default): a decode that would take the total over it
 *   waits until others have finished.
 * - Errors are GRAFT_DATA_ERROR (data-error.h) and name the file; libpng's and
 *   libjpeg's own messages are caught through their error handlers (setjmp/longjmp),
 *   never exit(). Safe to call from any thread.
 */
#pragma once

#include <glib.h>

#include "data/data-error.h"

G_BEGIN_DECLS

#define GRAFT_IMAGE_MAX_SIDE 30000
#define GRAFT_IMAGE_MAX_PIXELS (200 * 1000 * 1000)
#define GRAFT_IMAGE_MEMORY_LIMIT ((gsize) 256 << 20)   /* one decode */
#define GRAFT_IMAGE_MEMORY_TOTAL ((gsize) 1 << 30)     /* all decodes at once */

typedef struct {
  int width, height;
  guint8 *rgb;        /* (height, width, 3), row-major, stride width * 3 */
} GraftImage;

/* A new image with uninitialised pixels; NULL (and error) beyond the limits. */
GraftImage *graft_image_new (int width, int height, GError **error);
void graft_image_free (GraftImage *image);

GraftImage *graft_image_load (const char *path, GError **error);

/* Sets the memory limit of one decode and the total of all decodes at once (0: the
 * default; total is raised to per_image if lower). For tests and for a program that
 * knows its memory; decodes already running keep what they hold. */
void graft_image_set_memory_limits (gsize per_image, gsize total);
/* The most memory decodes have held at once since the last reset (reset: start again
 * from what they hold now). For tests. */
gsize graft_image_memory_peak (gboolean reset);

/* Like graft_image_load, but the image may be decoded at a reduced size whose shorter
 * side is still >= min_side. JPEG: libjpeg's DCT scaling, 1/8, 1/4 or 1/2 (the scales
 * libjpeg-turbo has SIMD code for), the smallest that reaches min_side. A 4000x3000
 * photo for a 256-pixel side is then decoded at 1/8 (500x375): the IDCT and colour
 * conversion nearly vanish, the entropy decoding stays (bench-loader: about 2.3x less
 * CPU). The pixels are those of PIL's Image.draft() for the same scale. PNG: the
 * largest integer factor f that reaches min_side, each pixel the rounded mean of an
 * f x f box (PIL's Image.reduce(f); boxes at the right and bottom edges may be
 * smaller). min_side <= 0 means full size. The result's shorter side is >= min_side
 * unless the image itself is smaller, or the memory limit needs a smaller image. */
GraftImage *graft_image_load_at_least (const char *path, int min_side, GError **error);

/* Decodes from memory. name is used in messages only (NULL: "image"). min_side as in
 * graft_image_load_at_least (0: full size). */
GraftImage *graft_image_load_from_bytes (GBytes *bytes, const char *name, int min_side, GError **error);

/* Same, from a plain buffer. */
GraftImage *graft_image_load_from_data (const guint8 *data, gsize size, const char *name,
                                        int min_side, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImage, graft_image_free)

G_END_DECLS
