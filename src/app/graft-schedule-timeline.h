/* graft-schedule-timeline.h: the unfreezing schedule drawn as a grid of blocks × epochs,
 * with the learning-rate curve of every block group previewed above it.
 *
 * Rows are the model's backbone blocks (the bottom block at the bottom) with the new
 * head on top; columns are the epochs of the run. A cell is coloured where its block
 * trains at that epoch, more intense the higher the block's learning-rate multiplier
 * (discriminative factor × backbone fraction; the head has 1). Above the grid, the
 * learning rate of each group of blocks that share a multiplier (schedule × multiplier,
 * at 20 steps an epoch, on a log axis) in the colour of its cells, drawn where the
 * group trains.
 *
 * Stage boundaries are handles: drag one to another epoch (stages stay strictly
 * increasing, stage 1 starts at epoch 1), drag a stage's unfreeze edge (the line
 * between its trainable and frozen blocks) up or down, double-click an epoch to split
 * the stage there, right-click a stage for its menu.
 *
 * Keyboard: Control+Left/Right selects the previous/next stage, Left/Right moves the
 * selected stage's start, Up/Down moves its unfreeze edge (Down unfreezes one more
 * block), Insert splits the selected stage, Delete removes it, Menu or Shift+F10 opens
 * its menu.
 *
 * Actions (for menus, shortcuts and tests): "timeline.move-stage" ((ii): stage, epoch),
 * "timeline.set-unfreeze" ((ii): stage, first trainable block; n_blocks: the head only),
 * "timeline.add-stage" (i: epoch where the stage in force is split),
 * "timeline.remove-stage" (i: stage, 1 or more), "timeline.select-stage" (i).
 * Stages and epochs are 0-based in the API, 1-based on screen.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-session.h"

G_BEGIN_DECLS

/* Steps per epoch the learning-rate preview assumes. */
#define GRAFT_SCHEDULE_TIMELINE_PREVIEW_STEPS 20

#define GRAFT_TYPE_SCHEDULE_TIMELINE (graft_schedule_timeline_get_type ())
G_DECLARE_FINAL_TYPE (GraftScheduleTimeline, graft_schedule_timeline, GRAFT, SCHEDULE_TIMELINE, GtkWidget)

GtkWidget *graft_schedule_timeline_new (void);

GraftSession *graft_schedule_timeline_get_session (GraftScheduleTimeline *self);
void graft_schedule_timeline_set_session (GraftScheduleTimeline *self, GraftSession *session);

/* The selected stage (0-based; "selected-stage" property), -1 without a model. */
int graft_schedule_timeline_get_selected_stage (GraftScheduleTimeline *self);
void graft_schedule_timeline_set_selected_stage (GraftScheduleTimeline *self, int stage);

/* What the grid shows, for tests and read-outs: whether the cell of block (0 = bottom;
 * n_blocks = the head) at epoch is coloured as training; blocks above the cut, removed
 * with the old classifier, never train. */
gboolean graft_schedule_timeline_cell_trains (GraftScheduleTimeline *self, int block, int epoch);
/* The cell's learning-rate multiplier (1 for the head), 0 where it does not train. */
double graft_schedule_timeline_cell_multiplier (GraftScheduleTimeline *self, int block, int epoch);
/* The number of learning-rate curves previewed (distinct multiplier groups that train,
 * the head included). */
int graft_schedule_timeline_get_n_curves (GraftScheduleTimeline *self);

/* Where stage's handles are, in widget coordinates, after the widget has a size: the
 * grip of its start boundary (stage >= 1) and the middle of its unfreeze edge. FALSE for
 * no such stage or one that starts after the last epoch. For tests and popovers. */
gboolean graft_schedule_timeline_get_stage_handles (GraftScheduleTimeline *self, int stage,
                                                    graphene_point_t *boundary, graphene_point_t *edge);
/* The middle of the cell of block (n_blocks: the head) at epoch. */
gboolean graft_schedule_timeline_get_cell_center (GraftScheduleTimeline *self, int block, int epoch,
                                                  graphene_point_t *center);

/* One sentence a stage: "Stage 2 from epoch 3: blocks 15 to 19 and the head train."
 * (also the widget's accessible description, with the keyboard help). */
char *graft_schedule_timeline_describe (GraftScheduleTimeline *self);
/* The sentence of one stage (0-based); NULL without a model or for no such stage. */
char *graft_schedule_timeline_describe_stage (GraftScheduleTimeline *self, int stage);

G_END_DECLS
