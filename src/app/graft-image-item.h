/* graft-image-item.h: one image of a project, as the grid and Label next show it.
 *
 * Items are made by GraftProjectObject's image lists as rows scroll in, and kept up to
 * date by it: when a label, a class or a prediction changes, every live item is refreshed
 * and emits ::changed once (after the notify:: of each property that changed). The
 * thumbnail arrives later, off the main thread (graft_project_object_load_thumbnail),
 * as the paintable property.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "data/image.h"
#include "project/project.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_IMAGE_ITEM (graft_image_item_get_type ())
G_DECLARE_FINAL_TYPE (GraftImageItem, graft_image_item, GRAFT, IMAGE_ITEM, GObject)

/* A new item for info (the class and suggestion names and colours are set by
 * graft_image_item_update). */
GraftImageItem *graft_image_item_new (const GraftImageInfo *info);

/* Takes what changed from info (same image id) and the names and colours of its class and
 * suggested class (NULL when none); emits notify:: for each property that changed, then
 * ::changed if any did. */
void graft_image_item_update (GraftImageItem *self, const GraftImageInfo *info, const char *class_name,
                              const char *class_colour, const char *suggestion_name, const char *suggestion_colour);

gint64 graft_image_item_get_id (GraftImageItem *self);
const char *graft_image_item_get_path (GraftImageItem *self);
/* The file name, for display. */
const char *graft_image_item_get_name (GraftImageItem *self);
/* The content hash (SHA-256 hex), NULL until the store has hashed the file. */
const char *graft_image_item_get_hash (GraftImageItem *self);
gboolean graft_image_item_get_missing (GraftImageItem *self);

/* The label: class id (0: unlabelled), its name and "#rrggbb" colour (NULL when unlabelled). */
gint64 graft_image_item_get_class_id (GraftImageItem *self);
const char *graft_image_item_get_class_name (GraftImageItem *self);
const char *graft_image_item_get_class_colour (GraftImageItem *self);
GraftLabelSource graft_image_item_get_label_source (GraftImageItem *self);
GraftSplit graft_image_item_get_split (GraftImageItem *self);

/* A model's suggestion: class id (0: none), name, colour and confidence (0..1). */
gint64 graft_image_item_get_suggestion_id (GraftImageItem *self);
const char *graft_image_item_get_suggestion_name (GraftImageItem *self);
const char *graft_image_item_get_suggestion_colour (GraftImageItem *self);
double graft_image_item_get_confidence (GraftImageItem *self);

/* The thumbnail, NULL until it has loaded (or when it cannot be made: see
 * graft_image_item_get_thumbnail_failed). */
GdkPaintable *graft_image_item_get_paintable (GraftImageItem *self);
void graft_image_item_set_paintable (GraftImageItem *self, GdkPaintable *paintable);
gboolean graft_image_item_get_thumbnail_failed (GraftImageItem *self);
void graft_image_item_set_thumbnail_failed (GraftImageItem *self, gboolean failed);

/* A short description for screen readers and tooltips: "0042.png, labelled Shirt". */
char *graft_image_item_describe (GraftImageItem *self);

/* ---- Pixels to show (the grid's thumbnails, Label next's image) --------------------- */

/* image enlarged factor times without smoothing, so that a tiny image (MNIST-size) shows
 * its pixels instead of a blur; NULL when the result would be too large. Pure: any thread. */
GraftImage *graft_image_enlarge_nearest (const GraftImage *image, int factor);
/* A texture of image's pixels; takes image (freed with the texture). */
GdkTexture *graft_texture_new_for_image (GraftImage *image);

G_END_DECLS
