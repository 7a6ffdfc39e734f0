/* graft-model-chooser.h: the "Choose a Model" dialog: the bundled starter model, every
 * model of the catalog (src/catalog) with its size, cost and licence, and a way to
 * import an ONNX file.
 *
 * A catalog model that is not on this computer yet has a Download button; while it
 * downloads, its row shows the progress (bytes, rate, time left) and a Cancel button;
 * a failed download shows why, in the row, with Retry (a cancelled or broken download
 * keeps its .part file and resumes); a downloaded model has Use and Remove. Downloads
 * belong to the dialog and go on while it is hidden: closing it only hides it, so its
 * owner (the Model page) keeps one dialog for the life of the page.
 *
 * Signals:
 *   ::model-chosen (const char *path): the person chose a model on this computer (the
 *     starter model, or a verified catalog download); the dialog has hidden itself.
 *   ::import-requested: the person wants to import an ONNX file of their own.
 *   ::toast (const char *message): a download ended while the dialog was hidden.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_MODEL_CHOOSER (graft_model_chooser_get_type ())
G_DECLARE_FINAL_TYPE (GraftModelChooser, graft_model_chooser, GRAFT, MODEL_CHOOSER, AdwWindow)

/* Reads the catalog (graft_catalog_load; the bundled one alone, with a note in the
 * dialog, when the user's catalog file is broken). */
GtkWidget *graft_model_chooser_new (void);

/* The row of the catalog model named name (for tests and for scrolling to it); NULL
 * when the catalog has no such model. */
GtkWidget *graft_model_chooser_get_row (GraftModelChooser *self, const char *name);
/* Downloads running now. */
guint graft_model_chooser_get_n_downloads (GraftModelChooser *self);

G_END_DECLS
