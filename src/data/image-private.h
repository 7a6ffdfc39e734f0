/* image-private.h: what the PNG and JPEG decoders share with image.c; also the EXIF
 * parser, exposed for tests. Not for use outside src/data/ and its tests. */
#pragma once

#include <glib.h>

#include "data/image.h"

G_BEGIN_DECLS

/* Checks width x height against the limits; the message names name. */
gboolean graft_image_check_size (const char *name, long width, long height, GError **error);

GraftImage *graft_image_decode_png (const guint8 *data, gsize size, const char *name, GError **error);
GraftImage *graft_image_decode_jpeg (const guint8 *data, gsize size, const char *name,
                                     int min_side, GError **error);

/* The orientation (1..8) in a TIFF structure (the payload of an EXIF block after
 * "Exif\0\0", or a PNG eXIf chunk): IFD0 tag 0x0112, type SHORT, count 1. Every
 * offset and count is bounds-checked against size; anything malformed, missing or out
 * of range gives 1 (as is). */
int graft_exif_orientation_from_tiff (const guint8 *data, gsize size);
/* Same for a JPEG APP1 payload: must start with "Exif\0\0"; anything else gives 0
 * (meaning "not EXIF", so a caller can look at the next APP1). */
int graft_exif_orientation_from_app1 (const guint8 *data, gsize size);

/* A new image: image turned upright for EXIF orientation (1..8). Returns image
 * itself (not a copy) for 1 or an invalid value. Frees image otherwise. */
GraftImage *graft_image_apply_orientation (GraftImage *image, int orientation, GError **error);

G_END_DECLS
