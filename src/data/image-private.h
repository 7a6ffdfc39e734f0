/* image-private.h: what the PNG and JPEG decoders share with image.c; also the EXIF
 * parser, exposed for tests. Not for use outside src/data/ and its tests. */
#pragma once

#include <glib.h>

#include "data/image.h"

G_BEGIN_DECLS

/* Checks width x height against the limits; the message names name. */
gboolean graft_image_check_size (const char *name, long width, long height, GError **error);

/* What one decode holds of the shared memory budget (image.h). */
typedef struct {
  gsize held;
} GraftImageBudget;

/* The memory limit of one decode. */
gsize graft_image_memory_limit (void);
/* Makes budget hold bytes (instead of what it held): waits, holding nothing, while the
 * decodes of other threads hold too much for bytes to fit in the total. Shrinking
 * never waits. */
void graft_image_budget_hold (GraftImageBudget *budget, gsize bytes);
void graft_image_budget_release (GraftImageBudget *budget);

/* The refusal of a decode that does not fit in the limit: names the file, its
 * dimensions and the limit. */
void graft_image_set_memory_error (GError **error, const char *name, long width, long height,
                                   const char *what, gsize need);

/* The decoders. The memory they need (data's size included) is held in budget before
 * pixel memory is allocated, and is still held when they return: the caller shrinks
 * or releases it. */
GraftImage *graft_image_decode_png (const guint8 *data, gsize size, const char *name, int min_side,
                                    GraftImageBudget *budget, GError **error);
GraftImage *graft_image_decode_jpeg (const guint8 *data, gsize size, const char *name, int min_side,
                                     GraftImageBudget *budget, GError **error);

/* graft_image_load_at_least, with the image's bytes still held in budget on success
 * (nothing on failure), so that a caller that works on the image goes on counting it
 * until it calls graft_image_budget_release (the loader does). */
GraftImage *graft_image_load_budgeted (const char *path, int min_side, GraftImageBudget *budget,
                                       GError **error);

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
