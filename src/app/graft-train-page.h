/* graft-train-page.h: the Train page: what will run, start / pause / stop, progress,
 * the live curves, and the learning-rate finder.
 *
 * Actions (on the widget, so any button or shortcut inside the window reaches them):
 *   train.start              start a run on the session's model, spec and images
 *   train.pause              pause a running run, or resume a paused one
 *   train.stop               stop the run (the weights so far are kept)
 *   train.find-lr            sweep the learning rate (the LR finder)
 *   train.use-suggested-lr   set the spec's learning rate to the finder's suggestion
 *
 * Signals:
 *   toast (const char *message)   something the window should say in an AdwToast:
 *                                 a finished or stopped run, a failure, a new rate.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-plot.h"
#include "graft-session.h"
#include "graft-training.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_TRAIN_PAGE (graft_train_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftTrainPage, graft_train_page, GRAFT, TRAIN_PAGE, AdwBin)

GtkWidget *graft_train_page_new (GraftSession *session, GraftTraining *training);

GraftSession *graft_train_page_get_session (GraftTrainPage *self);
void graft_train_page_set_session (GraftTrainPage *self, GraftSession *session);
GraftTraining *graft_train_page_get_training (GraftTrainPage *self);
void graft_train_page_set_training (GraftTrainPage *self, GraftTraining *training);

/* The page's plots: "loss", "accuracy", "lr" and "lr-finder" (for the export of
 * curves, and tests). */
GraftPlot *graft_train_page_get_plot (GraftTrainPage *self, const char *name);

/* "about 2 min left", "less than a minute left"; NULL when seconds is not known. */
char *graft_format_time_left (double seconds);
/* A learning rate as people write it: "3.0e-3". */
char *graft_format_learning_rate (double lr);

G_END_DECLS
