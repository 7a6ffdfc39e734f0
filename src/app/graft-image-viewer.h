/* graft-image-viewer.h: one validation image, large, in the app (the Results page
 * opens its mistakes here, one window reused, instead of an external viewer per
 * click): the image, its label and the model's prediction, and when the image is in
 * the open project, a button per class that relabels it (one undo step, as a number
 * key on the Data page).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_IMAGE_VIEWER (graft_image_viewer_get_type ())
G_DECLARE_FINAL_TYPE (GraftImageViewer, graft_image_viewer, GRAFT, IMAGE_VIEWER, AdwWindow)

GraftImageViewer *graft_image_viewer_new (GtkWindow *parent);
/* Shows the image at path with what the model made of it; project (nullable): where it
 * can be relabelled. Does not present the window. */
void graft_image_viewer_show (GraftImageViewer *self, GraftProjectObject *project, const char *path,
                              const char *true_name, const char *predicted_name, double confidence);
/* The file shown (NULL: none). */
const char *graft_image_viewer_get_path (GraftImageViewer *self);

G_END_DECLS
