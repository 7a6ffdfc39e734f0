/* graft-data-page.h: the Data page: the classes in a sidebar (with All images,
 * Unlabelled and Suggested), the images of the chosen one in a grid of thumbnails, and
 * everything that labels them: number keys, drag and drop onto a class, a context menu,
 * the selection bar; undo and redo; imports (menu, or files dropped on the page) with a
 * report of what was skipped; and Label next (GraftLabelNext) for one image at a time.
 *
 * Actions (group "data"):
 *   label (i)              the selection gets the class of number key 1..9; 0 clears
 *   label-class (x)        the selection gets that class (id); 0 clears
 *   accept-suggestions     the selection gets its suggested classes
 *   remove-images          the selection leaves the project (undoable)
 *   undo, redo             Ctrl+Z, Ctrl+Shift+Z
 *   import (s)             "folder", "image-folder", "csv" or "files": a file chooser
 *   add-class; rename-class, recolour-class, merge-class, delete-class (x: class id)
 *   label-next, show-grid  switch between the grid and Label next
 * Keys: 1–9 label the selection, 0 and Backspace clear its labels.
 *
 * Signal ::toast (const char *message): a message for the window's toast overlay. Toasts
 * with a button (Undo after deleting a class, Details after an import that skipped files)
 * are shown by the page itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-label-next.h"
#include "graft-project-object.h"
#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_DATA_PAGE (graft_data_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftDataPage, graft_data_page, GRAFT, DATA_PAGE, AdwBin)

GtkWidget *graft_data_page_new (void);

/* Property "project". When the page has a session too, the project's session is set to it. */
GraftProjectObject *graft_data_page_get_project (GraftDataPage *self);
void graft_data_page_set_project (GraftDataPage *self, GraftProjectObject *project);
/* Property "session" (also Label next's, for its retraining). */
GraftSession *graft_data_page_get_session (GraftDataPage *self);
void graft_data_page_set_session (GraftDataPage *self, GraftSession *session);

/* What the grid shows: GRAFT_FILTER_ALL, _UNLABELLED, _SUGGESTED or _CLASS (class_id). */
void graft_data_page_set_filter (GraftDataPage *self, GraftImageFilter filter, gint64 class_id);
GraftImageFilter graft_data_page_get_filter (GraftDataPage *self, gint64 *class_id);

/* The grid's selection model (a GtkMultiSelection over GraftImageItem). */
GtkSelectionModel *graft_data_page_get_selection (GraftDataPage *self);
GtkGridView *graft_data_page_get_grid_view (GraftDataPage *self);
GraftLabelNext *graft_data_page_get_label_next (GraftDataPage *self);

/* Imports paths (files and folders, as dropped) off the main thread, labelled with
 * class_id (0: none); a toast reports the result. */
void graft_data_page_import_files (GraftDataPage *self, const char *const *paths, gint64 class_id);
/* A dialog listing what an import skipped and why (what the import toast's Details
 * button shows). */
void graft_data_page_show_import_report (GraftDataPage *self, const GraftImportReport *report);
/* Whether an import is running (property "importing"). */
gboolean graft_data_page_get_importing (GraftDataPage *self);

/* Installs the page's style sheet on the default display (chips, swatches, key caps),
 * for widgets that use its classes outside the page. Called by the page itself. */
void graft_data_page_ensure_style (void);

G_END_DECLS
