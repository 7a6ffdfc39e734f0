/* graft-confusion-view.h: a confusion matrix drawn as a heat map.
 *
 * Rows are the true classes, columns the predicted ones. A cell's colour follows the
 * fraction of its row (how much of the true class went there): correct cells (the
 * diagonal) in the accent colour, mistakes in the error colour, so a class that is
 * often confused with another shows up at a glance. Counts (and, in large cells, the
 * row percentage) are written in the cells when they fit; class names run along both
 * axes, elided, and the column names turn vertical when the columns are narrow.
 *
 * Everything that costs (text layouts, what fits, the label spacing) is prepared when
 * the matrix or the size changes; snapshot() only draws.
 *
 * The pointer highlights the cell under it (and its row and column names) with a
 * tooltip; a click activates the cell. With the keyboard focus, the arrow keys (Home,
 * End, Page Up, Page Down) move a cursor over the cells and Enter or Space activates
 * the cursor's cell. The accessible description summarises the matrix and names the
 * cursor's cell.
 *
 * Actions (for key bindings and tests):
 *   confusion.move (ii)      moves the cursor by (columns, rows), clamped to the grid
 *   confusion.activate       activates the cursor's cell
 *
 * Signals:
 *   cell-activated (int true_class, int predicted_class)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_CONFUSION_VIEW (graft_confusion_view_get_type ())
G_DECLARE_FINAL_TYPE (GraftConfusionView, graft_confusion_view, GRAFT, CONFUSION_VIEW, GtkWidget)

GtkWidget *graft_confusion_view_new (void);

/* counts is (classes, classes), row = true class, column = predicted; names has classes
 * entries. Both are copied. classes 0 (or counts NULL) clears the view. The selection
 * is cleared and the cursor goes to the first cell. */
void graft_confusion_view_set_matrix (GraftConfusionView *self, const guint64 *counts, int classes,
                                      const char *const *names);
int graft_confusion_view_get_classes (GraftConfusionView *self);
guint64 graft_confusion_view_get_count (GraftConfusionView *self, int true_class, int predicted_class);
/* The sum of all cells. */
guint64 graft_confusion_view_get_total (GraftConfusionView *self);

/* The selected cell is drawn with an outline (the page selects the cell whose images
 * it shows); -1, -1 for none. */
void graft_confusion_view_set_selected (GraftConfusionView *self, int true_class, int predicted_class);
gboolean graft_confusion_view_get_selected (GraftConfusionView *self, int *true_class, int *predicted_class);

/* The keyboard cursor. */
void graft_confusion_view_get_cursor (GraftConfusionView *self, int *true_class, int *predicted_class);

/* The cell at a point in widget coordinates, after the widget has a size (tests). */
gboolean graft_confusion_view_cell_at (GraftConfusionView *self, double x, double y, int *true_class,
                                       int *predicted_class);
/* The side of a cell in pixels (0 before the first allocation), and whether counts are
 * written in the cells at that size. */
double graft_confusion_view_get_cell_size (GraftConfusionView *self);
gboolean graft_confusion_view_get_shows_counts (GraftConfusionView *self);

G_END_DECLS
