/* graft-results-page.h: the Results page: how the trained model does on the
 * validation images, its mistakes, the export of the model and of the run's curves,
 * and the runs of this session.
 *
 * When a run finishes (GraftTraining::finished without error, after at least one
 * epoch; a learning-rate sweep is not a run), the page keeps its own copy of the
 * trained model (so a later run, which frees the training's model, takes nothing
 * from under it), evaluates it on the validation images off the main thread
 * (graft_evaluate, with the run's preprocessing) and shows:
 *   - the headline figures: validation accuracy, macro F1, loss, images, mistakes;
 *   - the confusion matrix (GraftConfusionView); a cell filters the gallery;
 *   - precision, recall, F1 and support per class in a sortable GtkColumnView;
 *   - a gallery of the validation images it got wrong, most confident first, with
 *     thumbnails decoded off the main thread.
 *
 * Export writes the model as ONNX with graft.labels, graft.preprocessing,
 * graft.recipe and graft.validation_accuracy in its metadata, then verifies it: the
 * file is loaded back and run on the validation images, and its predictions are
 * compared with the app's (agreement, largest probability difference). Export Curves
 * writes the run's series as CSV in long form (one "series,epoch,value" row per
 * point) and, beside it, a PNG of the loss and accuracy curves.
 *
 * Actions (on the widget):
 *   results.export                  choose a file, then export the model
 *   results.export-curves           choose a file, then export the curves
 *   results.export-to (s)           export the model to that path, without a dialog
 *   results.export-curves-to (s)    export the curves to that CSV path (and .png)
 *   results.show-all-mistakes       clear the confusion cell filter
 *
 * Signals:
 *   toast (const char *message)     for the window to show in an AdwToast: an export
 *                                   verified or not, an error naming the file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-confusion-view.h"
#include "graft-image-viewer.h"
#include "graft-project-object.h"
#include "graft-session.h"
#include "graft-training.h"
#include "train/metrics.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_RESULTS_PAGE (graft_results_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftResultsPage, graft_results_page, GRAFT, RESULTS_PAGE, AdwBin)

GtkWidget *graft_results_page_new (GraftSession *session, GraftTraining *training);

GraftSession *graft_results_page_get_session (GraftResultsPage *self);
void graft_results_page_set_session (GraftResultsPage *self, GraftSession *session);
GraftTraining *graft_results_page_get_training (GraftResultsPage *self);
void graft_results_page_set_training (GraftResultsPage *self, GraftTraining *training);

/* "project-name": names the files the export dialogs propose
 * ("<project>-classifier.onnx", "<project>-curves.csv"); NULL: "graft". */
void graft_results_page_set_project_name (GraftResultsPage *self, const char *name);
const char *graft_results_page_get_project_name (GraftResultsPage *self);

/* Whether the page is evaluating a model or exporting one (tests wait on it). */
gboolean graft_results_page_is_busy (GraftResultsPage *self);
/* The metrics of the shown model on the validation images, as the page computed
 * them; NULL before, or without validation images. */
const GraftMetrics *graft_results_page_get_metrics (GraftResultsPage *self);
/* The gallery as shown: GObjects for the images that pass the filter (all mistakes, or
 * one confusion cell's images). */
GListModel *graft_results_page_get_gallery (GraftResultsPage *self);
/* Shows the images of one confusion cell in the gallery (and selects the cell);
 * -1, -1 shows every mistake. What a click on a cell does. */
void graft_results_page_filter_gallery (GraftResultsPage *self, int true_class, int predicted_class);
GraftConfusionView *graft_results_page_get_confusion_view (GraftResultsPage *self);
/* The window a click on a gallery image shows it in (one, reused; NULL before the first click). */
GraftImageViewer *graft_results_page_get_image_viewer (GraftResultsPage *self);
/* The runs listed: the project's stored runs, oldest first, then those ended since. */
guint graft_results_page_get_n_runs (GraftResultsPage *self);
/* Ticks a run (0 = the first) for the comparison. */
void graft_results_page_set_run_compared (GraftResultsPage *self, guint run, gboolean compared);

/* "project": the open project. Setting it drops every result and run shown, lists the
 * project's stored runs and opens the newest; the runs that end are stored there (by
 * the project object) and take their stored id. NULL: none (runs in memory only). */
void graft_results_page_set_project (GraftResultsPage *self, GraftProjectObject *project);
GraftProjectObject *graft_results_page_get_project (GraftResultsPage *self);
/* The stored id of a listed run (0 = the first), 0 when it is not stored (yet). */
gint64 graft_results_page_get_run_id (GraftResultsPage *self, guint run);
/* Shows a stored run: its model, read from the project, evaluated on the images it was
 * validated on (what its Open button does). FALSE when it has no model file. */
gboolean graft_results_page_open_run (GraftResultsPage *self, gint64 run_id);
/* The stored id of the run shown, 0 when none or not stored. */
gint64 graft_results_page_get_shown_run_id (GraftResultsPage *self);
/* The action "results.delete-run" (int64 run id) asks, then deletes the run. */

G_END_DECLS
