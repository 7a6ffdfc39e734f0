/* graft-image-cell.h: the Data page's grid cells: an image's thumbnail (loaded while
 * the cell shows it, cancelled when it is recycled first; a mark when the file is
 * missing or cannot be decoded), its label's chip in the class's colour, or the
 * model's suggestion with its confidence; a drag of image ids (GraftImageIds) and a
 * context menu, both through the host.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-project-object.h"

G_BEGIN_DECLS

/* Image ids (gint64), as a drag carries them from the grid to a class. */
typedef struct {
  GArray *ids;
} GraftImageIds;

GType graft_image_ids_get_type (void) G_GNUC_CONST;

/* What the cells ask of the grid's owner (its user_data first). */
typedef struct {
  /* The ids a drag from the cell at position carries; NULL: its image alone. */
  GArray *(*drag_ids) (gpointer user_data, guint position);
  /* A right click on the cell at position, at (x, y) in cell (nullable). */
  void (*context_menu) (gpointer user_data, guint position, GtkWidget *cell, double x, double y);
  /* The project the thumbnails come from (NULL: none). */
  GraftProjectObject *(*project) (gpointer user_data);
} GraftImageCellHost;

/* A factory of cells for a GtkGridView of GraftImageItems; host is not copied. */
GtkListItemFactory *graft_image_cell_factory_new (const GraftImageCellHost *host, gpointer user_data);

/* Gives widget the CSS class graft-<prefix>-<class_id> (the class's colour, from
 * graft_project_object_get_class_css) in place of another class's; 0: none. */
void graft_set_class_colour (GtkWidget *widget, const char *prefix, gint64 class_id);

G_END_DECLS
