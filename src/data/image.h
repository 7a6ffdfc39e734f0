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

typedef struct {
  int width, height;
  guint8 *rgb;        /* (height, width, 3), row-major, stride width * 3 */
} GraftImage;

/* A new image with uninitialised pixels; NULL (and error) beyond the limits. */
GraftImage *graft_image_new (int width, int height, GError **error);
void graft_image_free (GraftImage *image);

GraftImage *graft_image_load (const char *path, GError **error);

/* Like graft_image_load, but a JPEG may be decoded at a reduced scale (libjpeg's DCT
 * scaling: 1/8, 1/4 or 1/2, the scales libjpeg-turbo has SIMD code for), the smallest
 * whose shorter side is still >= min_side. A 4000x3000 photo for a 256-pixel side is
 * then decoded at 1/8 (500x375): the IDCT and colour conversion nearly vanish, the
 * entropy decoding stays (bench-loader: about 2.3x less CPU). The pixels are those of
 * PIL's Image.draft() for the same scale. PNG is always decoded at full size.
 * min_side <= 0 means full size. The result's shorter side is >= min_side unless the
 * image itself is smaller. */
GraftImage *graft_image_load_at_least (const char *path, int min_side, GError **error);

/* Decodes from memory. name is used in messages only (NULL: "image"). min_side as in
 * graft_image_load_at_least (0: full size). */
GraftImage *graft_image_load_from_bytes (GBytes *bytes, const char *name, int min_side, GError **error);

/* Same, from a plain buffer. */
GraftImage *graft_image_load_from_data (const guint8 *data, gsize size, const char *name,
                                        int min_side, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImage, graft_image_free)

G_END_DECLS
