/* graft-freeze-map.h: the network drawn as a column of blocks, bottom (input) to top
 * (the new head), coloured frozen / trainable / new head / removed above the cut.
 *
 * Click toggles a block, Shift+click sets the range from the last clicked block to the
 * same state, the cut handle drags to another block boundary. Keyboard: Up/Down select,
 * Space toggles, Shift+Up/Down extend, Ctrl+Up/Down move the cut.
 *
 * Actions (for menus, shortcuts and tests): "freeze-map.toggle" (i: block, as a click),
 * "freeze-map.extend" (i: block, as a Shift+click), "freeze-map.set-cut" (i: the block
 * the head is grafted on, as a drag of the cut), "freeze-map.select" (i).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-session.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_FREEZE_MAP_MEASURE_PARAMETERS,
  GRAFT_FREEZE_MAP_MEASURE_FLOPS,
} GraftFreezeMapMeasure;

/* How a block is drawn (also the index of its colours). */
typedef enum {
  GRAFT_FREEZE_MAP_FROZEN,
  GRAFT_FREEZE_MAP_TRAINABLE,
  GRAFT_FREEZE_MAP_HEAD,
  GRAFT_FREEZE_MAP_REMOVED,
} GraftFreezeMapState;

#define GRAFT_TYPE_FREEZE_MAP_MEASURE (graft_freeze_map_measure_get_type ())
GType graft_freeze_map_measure_get_type (void);

#define GRAFT_TYPE_FREEZE_MAP (graft_freeze_map_get_type ())
G_DECLARE_FINAL_TYPE (GraftFreezeMap, graft_freeze_map, GRAFT, FREEZE_MAP, GtkWidget)

GtkWidget *graft_freeze_map_new (void);

GraftSession *graft_freeze_map_get_session (GraftFreezeMap *self);
void graft_freeze_map_set_session (GraftFreezeMap *self, GraftSession *session);

/* What a block's height follows (square root of it, with a minimum height). */
GraftFreezeMapMeasure graft_freeze_map_get_measure (GraftFreezeMap *self);
void graft_freeze_map_set_measure (GraftFreezeMap *self, GraftFreezeMapMeasure measure);

/* The epoch (0-based) whose freeze state is shown. */
int graft_freeze_map_get_epoch (GraftFreezeMap *self);
void graft_freeze_map_set_epoch (GraftFreezeMap *self, int epoch);

/* The selected block: 0..n_blocks-1, n_blocks for the new head, -1 for none.
 * ::block-selected (int) follows every change. */
int graft_freeze_map_get_selected (GraftFreezeMap *self);
void graft_freeze_map_set_selected (GraftFreezeMap *self, int block);

/* Where block (n_blocks: the head) is drawn, in the widget's coordinates; FALSE when
 * there is no such block. */
gboolean graft_freeze_map_get_block_area (GraftFreezeMap *self, int block, graphene_rect_t *area);
/* The y of the cut handle's line; -1 without a model. */
double graft_freeze_map_get_cut_position (GraftFreezeMap *self);

/* A legend swatch for state, in the map's colours (which follow the style), size
 * pixels square at x, y. */
void graft_freeze_map_draw_swatch (GraftFreezeMap *self, cairo_t *cr, GraftFreezeMapState state, double x, double y,
                                   double size);

/* A block's BatchNorm policy in words ("BatchNorm: recalibrated"), translated. */
const char *graft_freeze_map_describe_batchnorm (GraftBatchNormPolicy policy);

/* What the new head sits on: the width of the cut value (features) and the number of
 * classes (the train dataset's, 2 when there is none). FALSE without a model. */
gboolean graft_freeze_map_head_inputs (GraftSession *session, guint64 *features, int *classes);

G_END_DECLS
