/* graft-window.h: the main window: a start screen, then the workspace of pages (Data,
 * Model, Schedule, Train, Results) that share one session and one training.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-application.h"
#include "graft-session.h"
#include "graft-training.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_WINDOW (graft_window_get_type ())

G_DECLARE_FINAL_TYPE (GraftWindow, graft_window, GRAFT, WINDOW, AdwApplicationWindow)

GraftWindow *graft_window_new (GraftApplication *application);

GraftSession *graft_window_get_session (GraftWindow *self);
GraftTraining *graft_window_get_training (GraftWindow *self);
/* Shows the workspace at a page ("data", "model", "schedule", "train", "results"). */
void graft_window_show_page (GraftWindow *self, const char *name);
void graft_window_show_welcome (GraftWindow *self);
/* Shows a message in a toast. */
void graft_window_toast (GraftWindow *self, const char *message);
/* Opens the bundled sample: the starter model and the sample images. */
void graft_window_open_sample (GraftWindow *self);
/* Opens the project in folder (an error is also a toast) and shows its images. */
gboolean graft_window_open_project (GraftWindow *self, const char *folder, GError **error);
/* The folder of the project the window shows, NULL before one is opened. */
const char *graft_window_get_project_folder (GraftWindow *self);
/* Whether a project is being opened (the sample is being prepared). */
gboolean graft_window_is_opening (GraftWindow *self);
/* Loads an ONNX model into the session off the main thread, then shows the Model page;
 * before any project is open, the start screen stays, a toast says the model is ready,
 * and the next project opened shows it. A failure is a toast. */
void graft_window_open_model (GraftWindow *self, const char *path);
/* The "Stop training and close?" dialog while it is shown (closing during a run), else NULL. */
AdwMessageDialog *graft_window_get_close_dialog (GraftWindow *self);

G_END_DECLS
