/* graft-class-row.h: a class in the Data page's sidebar: its colour, name, image count
 * and number key (kept up to date from the GraftClassItem, with an accessible
 * description), a drop target for images from the grid (GraftImageIds) and for files,
 * and a context menu, the last three through the host.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-project-object.h"

G_BEGIN_DECLS

/* What a class row asks of the sidebar's owner (its user_data first). */
typedef struct {
  /* Images dropped on the row (ids: gint64): label them with klass. */
  gboolean (*label_dropped) (gpointer user_data, GraftClassItem *klass, GArray *ids);
  /* Files (GFile) dropped on the row: import them labelled with klass. */
  gboolean (*import_dropped) (gpointer user_data, GraftClassItem *klass, GSList *files);
  /* A right click on the row, at (x, y) in it. */
  void (*context_menu) (gpointer user_data, GtkWidget *list_row, double x, double y);
} GraftClassRowHost;

/* A GtkListBoxRow for klass; host is not copied. */
GtkWidget *graft_class_row_new (GraftClassItem *klass, const GraftClassRowHost *host, gpointer user_data);
/* The class of a row made by graft_class_row_new (NULL for another row). */
GraftClassItem *graft_class_row_get_class (GtkWidget *list_row);

G_END_DECLS
