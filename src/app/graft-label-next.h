/* graft-label-next.h: "Label next": one large image at a time from the active-learning
 * queue (graft_active_project_queue: the most uncertain predictions first, spread out by
 * their embeddings; without predictions, the unlabelled images in order), its suggested
 * class and confidence, and keys to answer:
 *   Enter       accept the suggestion
 *   1 … 9       label with that class
 *   Space       skip (shown again after the others)
 *   Ctrl+Z      undo the last label and show that image again
 *   Escape      leave (::done)
 * The progress line counts the labels given since the page was shown.
 *
 * With a session whose model is loaded, every RETRAIN_EVERY new labels (once each class
 * has at least three), the head is retrained from the embedding cache in the background
 * (a feature-extraction run on a copy of the session's spec) and its predictions for the
 * unlabelled images are stored in the project, so suggestions and the queue improve as
 * labels arrive (property "retraining" while it runs; graft_label_next_retrain_now starts
 * one at once).
 *
 * Actions (group "label-next"): accept, label (i: the number key), skip, undo, leave.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"
#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_LABEL_NEXT_RETRAIN_EVERY 10

#define GRAFT_TYPE_LABEL_NEXT (graft_label_next_get_type ())
G_DECLARE_FINAL_TYPE (GraftLabelNext, graft_label_next, GRAFT, LABEL_NEXT, AdwBin)

GtkWidget *graft_label_next_new (void);

GraftProjectObject *graft_label_next_get_project (GraftLabelNext *self);
void graft_label_next_set_project (GraftLabelNext *self, GraftProjectObject *project);
GraftSession *graft_label_next_get_session (GraftLabelNext *self);
void graft_label_next_set_session (GraftLabelNext *self, GraftSession *session);

/* The image shown (0: none: nothing left to label). */
gint64 graft_label_next_get_current (GraftLabelNext *self);
/* Labels given since the page was last shown (property "labelled"). */
guint graft_label_next_get_labelled (GraftLabelNext *self);
/* Starts over: counts from zero, skipped images come back, the queue is read again. */
void graft_label_next_restart (GraftLabelNext *self);

gboolean graft_label_next_get_retraining (GraftLabelNext *self);
/* Starts a background retraining of the head now; FALSE (and why, in error) when it
 * cannot: no session or model, too few labels, already running. */
gboolean graft_label_next_retrain_now (GraftLabelNext *self, GError **error);

G_END_DECLS
