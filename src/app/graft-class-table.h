/* graft-class-table.h: the Results page's per-class table: precision, recall, F1 and
 * the number of validation images of each class, sortable by any column (the first
 * click on a figure sorts lowest first: the weakest classes on top).
 *
 * The table shows every class at its natural height inside the page's scrolling: it
 * has no scrolling of its own, so the scroll wheel over it scrolls the page.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "train/metrics.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_CLASS_TABLE (graft_class_table_get_type ())
G_DECLARE_FINAL_TYPE (GraftClassTable, graft_class_table, GRAFT, CLASS_TABLE, AdwBin)

GtkWidget *graft_class_table_new (void);
/* Shows the figures of metrics, class c named names[c]; NULL metrics empties the table. */
void graft_class_table_set_metrics (GraftClassTable *self, const GraftMetrics *metrics, const char *const *names);

G_END_DECLS
