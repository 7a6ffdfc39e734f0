/* graft-schedule-timeline.c: the schedule timeline.
 *
 * Two caches, so that snapshot() only paints:
 *  - the plan (graft_schedule_timeline_recompute, on the session's signals): which cell
 *    trains, each row's learning-rate multiplier and intensity, the multiplier groups,
 *    and the base learning-rate curve (graft_session_spec_lr_at at every preview step,
 *    as log10) with its range in whole decades;
 *  - the geometry (graft_schedule_timeline_relayout, on size changes and after the plan):
 *    rectangles of runs of equal cells, one path a group (the base curve shifted by the
 *    group's log multiplier, decimated to the first, lowest, highest and last point of
 *    each pixel column, broken where the group does not train), ticks and text layouts.
 *
 * Layout, top to bottom: the plot's title, the plot, the stage strip (a band a stage,
 * with its name, and the grips of the boundaries), the grid (the head's row first), the
 * epoch axis. The row names sit left of the grid, each row's multiplier right of it; the
 * plot and the grid share their x axis, so an epoch is the same column in both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-colors.h"
#include "graft-schedule-timeline.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define STEPS GRAFT_SCHEDULE_TIMELINE_PREVIEW_STEPS
#define PADDING 12.0
#define LABEL_GAP 8.0
#define TITLE_GAP 6.0
#define STRIP_GAP 6.0
#define STRIP_HEIGHT 24.0
#define AXIS_GAP 4.0
#define MIN_ROW_HEIGHT 10.0
#define NATURAL_ROW_HEIGHT 20.0
#define MAX_ROW_HEIGHT 26.0
#define MIN_PLOT_HEIGHT 90.0
#define NATURAL_PLOT_HEIGHT 170.0
#define MAX_PLOT_HEIGHT 220.0
#define MIN_GRID_WIDTH 160.0
#define HANDLE_GRAB 6.0
#define EDGE_GRAB 5.0
#define GRIP_WIDTH 10.0
#define GRIP_HEIGHT 18.0

typedef enum {
  CELL_FROZEN,
  CELL_TRAINS,
  CELL_HEAD,
  CELL_REMOVED,
} CellKind;

typedef struct {
  double multiplier;
  double t;               /* intensity, 0 (lowest multiplier) .. 1 */
  gboolean head;
  int first_block, last_block;
  guint8 *trains;         /* per epoch: some block of the group trains */
  GArray *points;         /* graphene_point_t in pixels; a NaN x breaks the line */
} Group;

typedef struct {
  float x, y, w, h;
  int block;              /* n_blocks: the head */
  CellKind kind;
} CellRun;

typedef struct {
  double position;        /* pixels */
  PangoLayout *label;
} Tick;

struct _GraftScheduleTimeline
{
  GtkWidget parent_instance;

  GraftSession *session;
  gulong model_changed_id;
  gulong spec_changed_id;

  /* The plan. */
  int n_blocks;           /* 0: no model */
  int epochs;
  int cut;                /* blocks above it are removed */
  int n_stages;
  GraftUnfreezeStage stages[GRAFT_MAX_STAGES];
  guint8 *cells;          /* CellKind, (n_blocks + 1) rows × epochs, row = block */
  double *row_multiplier; /* n_blocks + 1 */
  double *row_t;
  int *row_group;         /* -1: not in a group (removed) */
  GArray *groups;         /* Group, lowest multiplier first, the head last */
  double *base_log;       /* epochs * STEPS + 1 points: log10 of the base lr, NaN where <= 0 */
  double y_min, y_max;    /* log10, whole decades */

  /* The geometry. */
  double plot_x, plot_y, plot_w, plot_h;
  double strip_y;
  double grid_x, grid_y, grid_w, grid_h, row_h, col_w;
  double axis_y;
  double min_height, natural_height, min_width;
  GArray *runs;           /* CellRun */
  GPtrArray *row_names;   /* PangoLayout, by block (the head last) */
  GPtrArray *row_values;  /* PangoLayout, by block */
  GArray *x_ticks;        /* Tick */
  GArray *y_ticks;        /* Tick */
  GPtrArray *stage_labels; /* PangoLayout or NULL, by stage */
  PangoLayout *plot_title;
  /* The legend, right of the title: the head's line, then the blocks' colour ramp from
   * the lowest multiplier to the highest. */
  PangoLayout *legend_head;
  PangoLayout *legend_blocks;
  PangoLayout *legend_low;
  PangoLayout *legend_high;
  double legend_x;
  int n_block_groups;
  PangoLayout *axis_title;
  PangoLayout *placeholder;

  int selected;
  int hover_handle;       /* stage whose start the pointer is on; -1 */
  int hover_edge;         /* stage whose unfreeze edge the pointer is on; -1 */

  /* Dragging. */
  enum { DRAG_NONE, DRAG_BOUNDARY, DRAG_EDGE } drag;
  int drag_stage;
  double drag_start_x, drag_start_y;

  GtkWidget *menu;
};

G_DEFINE_FINAL_TYPE (GraftScheduleTimeline, graft_schedule_timeline, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SESSION, PROP_SELECTED_STAGE, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void graft_schedule_timeline_recompute (GraftScheduleTimeline *self);
static void graft_schedule_timeline_relayout (GraftScheduleTimeline *self);

/* ------------------------------------------------------------------------ */
/* Editing the spec. Each returns whether the spec changed.                  */

static gboolean
edit_move_stage (GraftSessionSpec *spec, int stage, int epoch)
{
  int low, high;

  if (stage < 1 || stage >= spec->n_stages)
    return FALSE;
  low = spec->stages[stage - 1].epoch + 1;
  high = stage + 1 < spec->n_stages ? spec->stages[stage + 1].epoch - 1 : MAX (low, spec->epochs - 1);
  epoch = CLAMP (epoch, low, high);
  if (epoch == spec->stages[stage].epoch)
    return FALSE;
  spec->stages[stage].epoch = epoch;
  return TRUE;
}

static gboolean
edit_set_unfreeze (GraftSessionSpec *spec, int stage, int trainable_from, int n_blocks)
{
  if (stage < 0 || stage >= spec->n_stages)
    return FALSE;
  trainable_from = CLAMP (trainable_from, 0, n_blocks);
  if (trainable_from == spec->stages[stage].trainable_from)
    return FALSE;
  spec->stages[stage].trainable_from = trainable_from;
  return TRUE;
}

/* Splits the stage in force at epoch there; returns the new stage, or -1. */
static int
edit_add_stage (GraftSessionSpec *spec, int epoch)
{
  int s = 0;

  if (epoch < 1 || epoch >= spec->epochs || spec->n_stages >= GRAFT_MAX_STAGES)
    return -1;
  while (s + 1 < spec->n_stages && spec->stages[s + 1].epoch <= epoch)
    s++;
  if (spec->stages[s].epoch == epoch)
    return -1;
  memmove (&spec->stages[s + 2], &spec->stages[s + 1], (spec->n_stages - s - 1) * sizeof spec->stages[0]);
  spec->stages[s + 1] = spec->stages[s];
  spec->stages[s + 1].epoch = epoch;
  spec->n_stages++;
  return s + 1;
}

static gboolean
edit_remove_stage (GraftSessionSpec *spec, int stage)
{
  if (stage < 1 || stage >= spec->n_stages)
    return FALSE;
  memmove (&spec->stages[stage], &spec->stages[stage + 1], (spec->n_stages - stage - 1) * sizeof spec->stages[0]);
  spec->n_stages--;
  return TRUE;
}

static GraftSessionSpec *
editable_spec (GraftScheduleTimeline *self)
{
  if (self->session == NULL || self->n_blocks == 0)
    return NULL;
  return graft_session_get_spec (self->session);
}

static void
set_selected (GraftScheduleTimeline *self, int stage)
{
  int n = self->n_blocks > 0 ? self->n_stages : 0;
  stage = n > 0 ? CLAMP (stage, 0, n - 1) : -1;
  if (stage == self->selected)
    return;
  self->selected = stage;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED_STAGE]);
}

static void
move_stage (GraftScheduleTimeline *self, int stage, int epoch)
{
  GraftSessionSpec *spec = editable_spec (self);
  if (spec != NULL && edit_move_stage (spec, stage, epoch))
    graft_session_spec_changed (self->session);
}

static void
set_unfreeze (GraftScheduleTimeline *self, int stage, int trainable_from)
{
  GraftSessionSpec *spec = editable_spec (self);
  if (spec != NULL && edit_set_unfreeze (spec, stage, trainable_from, self->n_blocks))
    graft_session_spec_changed (self->session);
}

static void
add_stage (GraftScheduleTimeline *self, int epoch)
{
  GraftSessionSpec *spec = editable_spec (self);
  int stage = spec != NULL ? edit_add_stage (spec, epoch) : -1;
  if (stage < 0)
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  graft_session_spec_changed (self->session);
  set_selected (self, stage);
}

static void
remove_stage (GraftScheduleTimeline *self, int stage)
{
  GraftSessionSpec *spec = editable_spec (self);
  if (spec == NULL || !edit_remove_stage (spec, stage))
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  graft_session_spec_changed (self->session);
  set_selected (self, stage - 1);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */

static PangoLayout *
make_layout (GraftScheduleTimeline *self, const char *text, double scale, gboolean bold)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attributes = pango_attr_list_new ();

  if (scale != 1.0)
    pango_attr_list_insert (attributes, pango_attr_scale_new (scale));
  if (bold)
    pango_attr_list_insert (attributes, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  pango_attr_list_insert (attributes, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attributes);
  pango_attr_list_unref (attributes);
  return layout;
}

static double
layout_width (PangoLayout *layout)
{
  int w, h;
  pango_layout_get_pixel_size (layout, &w, &h);
  return w;
}

static double
layout_height (PangoLayout *layout)
{
  int w, h;
  pango_layout_get_pixel_size (layout, &w, &h);
  return h;
}

/* "⁻¹²" */
static void
append_superscript (GString *out, int value)
{
  static const char *const digits[] = { "⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹" };
  char text[16];
  g_snprintf (text, sizeof text, "%d", value);
  for (const char *c = text; *c != '\0'; c++)
    g_string_append (out, *c == '-' ? "⁻" : digits[*c - '0']);
}

/* "10⁻³" */
static char *
format_decade (int exponent)
{
  GString *out = g_string_new ("10");
  append_superscript (out, exponent);
  return g_string_free (out, FALSE);
}

/* A multiplier for people: "×1", "×0.38", "×2.4·10⁻³". */
static char *
format_multiplier (double value)
{
  GString *out;
  int exponent;

  if (value >= 0.01)
    /* Translators: a learning-rate multiplier, "×0.38". */
    return g_strdup_printf (_("×%.2g"), value);
  exponent = (int) floor (log10 (value));
  out = g_string_new (NULL);
  /* Translators: the mantissa of a small learning-rate multiplier, "×2.4", followed
   * by "·10⁻³". */
  g_string_printf (out, _("×%.1f"), value / pow (10, exponent));
  g_string_append (out, "·10");
  append_superscript (out, exponent);
  return g_string_free (out, FALSE);
}

/* A block as the rows name it ("layer4.0"); its number from 1 without a session. */
static char *
block_label (GraftScheduleTimeline *self, int block)
{
  const char *name = self->session != NULL && block >= 0 && block < self->n_blocks
                       ? graft_session_get_block (self->session, block)->name
                       : NULL;
  /* Translators: a block of the network by its number, counted from 1 at the bottom. */
  return name != NULL && *name != '\0' ? g_strdup (name) : g_strdup_printf (_("block %d"), block + 1);
}

/* "Stage 2 from epoch 3: layer3.0 to layer4.0 and the head train." */
static char *
describe_stage (GraftScheduleTimeline *self, int s)
{
  const GraftUnfreezeStage *stage = &self->stages[s];
  int top = self->cut + 1, first = stage->trainable_from + 1;
  g_autofree char *what = NULL;

  if (first > top)
    what = g_strdup (_("only the head trains"));
  else
    {
      /* The rows' names: the text said "block 5" beside a row called layer4.0. */
      g_autofree char *bottom = block_label (self, first - 1);
      g_autofree char *upper = block_label (self, top - 1);
      if (first == top)
        /* Translators: %s is a block's name, such as "layer4.0". */
        what = g_strdup_printf (_("%s and the head train"), bottom);
      else
        /* Translators: two blocks' names, such as "layer3.0 to layer4.0". */
        what = g_strdup_printf (_("%s to %s and the head train"), bottom, upper);
    }
  if (stage->epoch >= self->epochs)
    /* Translators: a stage that starts after the run ends: stage, epoch, what trains. */
    return g_strdup_printf (_("Stage %d from epoch %d, after the last epoch: %s."), s + 1, stage->epoch + 1, what);
  /* Translators: stage number, first epoch (both from 1), what trains. */
  return g_strdup_printf (_("Stage %d from epoch %d: %s."), s + 1, stage->epoch + 1, what);
}

char *
graft_schedule_timeline_describe (GraftScheduleTimeline *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), NULL);

  if (self->n_blocks == 0)
    {
      g_string_append (out, _("No model is loaded."));
      return g_string_free (out, FALSE);
    }
  for (int s = 0; s < self->n_stages; s++)
    {
      g_autofree char *sentence = describe_stage (self, s);
      if (s > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, sentence);
    }
  return g_string_free (out, FALSE);
}

char *
graft_schedule_timeline_describe_stage (GraftScheduleTimeline *self, int stage)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), NULL);
  if (self->n_blocks == 0 || stage < 0 || stage >= self->n_stages)
    return NULL;
  return describe_stage (self, stage);
}

static void
update_accessible (GraftScheduleTimeline *self)
{
  g_autofree char *schedule = graft_schedule_timeline_describe (self);
  g_autofree char *description = NULL;

  if (self->n_blocks == 0)
    {
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, schedule, -1);
      return;
    }
  description = g_strdup_printf ("%s %s", schedule,
                                 _("Control with Left or Right selects a stage; Left and Right move its start; "
                                   "Up and Down move its unfreeze edge; Insert splits it; Delete removes it."));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description, -1);
}

/* ------------------------------------------------------------------------ */
/* The plan                                                                  */

static void
group_clear (Group *group)
{
  g_clear_pointer (&group->trains, g_free);
  g_clear_pointer (&group->points, g_array_unref);
}

static void
tick_clear (Tick *tick)
{
  g_clear_object (&tick->label);
}

static void
unref_if_set (gpointer object)
{
  if (object != NULL)
    g_object_unref (object);
}

static gboolean
same_multiplier (double a, double b)
{
  return fabs (a - b) <= 1e-6 * MAX (fabs (a), fabs (b));
}

static void
graft_schedule_timeline_recompute (GraftScheduleTimeline *self)
{
  GraftSessionSpec *spec;
  double low = INFINITY, high = -INFINITY, lo_log = INFINITY, hi_log = -INFINITY;
  int rows, n_points;

  g_clear_pointer (&self->cells, g_free);
  g_clear_pointer (&self->row_multiplier, g_free);
  g_clear_pointer (&self->row_t, g_free);
  g_clear_pointer (&self->row_group, g_free);
  g_clear_pointer (&self->base_log, g_free);
  g_array_set_size (self->groups, 0);
  self->n_blocks = self->session != NULL ? graft_session_get_n_blocks (self->session) : 0;
  self->n_stages = 0;
  self->epochs = 0;

  if (self->n_blocks > 0)
    {
      spec = graft_session_get_spec (self->session);
      self->epochs = MAX (spec->epochs, 1);
      self->cut = CLAMP (graft_session_get_cut_block (self->session), 0, self->n_blocks - 1);
      self->n_stages = CLAMP (spec->n_stages, 1, GRAFT_MAX_STAGES);
      memcpy (self->stages, spec->stages, self->n_stages * sizeof self->stages[0]);
      rows = self->n_blocks + 1;

      /* Cells and multipliers. */
      self->cells = g_new0 (guint8, (gsize) rows * self->epochs);
      self->row_multiplier = g_new0 (double, rows);
      self->row_t = g_new0 (double, rows);
      self->row_group = g_new (int, rows);
      for (int b = 0; b < self->n_blocks; b++)
        {
          self->row_multiplier[b] = graft_session_spec_block_lr_factor (
              spec, 0, b, graft_session_get_block (self->session, b)->name, self->n_blocks);
          if (b <= self->cut && self->row_multiplier[b] > 0)
            {
              low = MIN (low, self->row_multiplier[b]);
              high = MAX (high, self->row_multiplier[b]);
            }
          for (int e = 0; e < self->epochs; e++)
            {
              CellKind kind = b > self->cut ? CELL_REMOVED
                              : graft_session_get_block_trains (self->session, b, e) ? CELL_TRAINS : CELL_FROZEN;
              self->cells[(gsize) b * self->epochs + e] = kind;
            }
        }
      self->row_multiplier[self->n_blocks] = 1.0;
      self->row_t[self->n_blocks] = 1.0;
      memset (self->cells + (gsize) self->n_blocks * self->epochs, CELL_HEAD, self->epochs);
      for (int b = 0; b < self->n_blocks; b++)
        self->row_t[b] = high > low ? (log (self->row_multiplier[b]) - log (low)) / (log (high) - log (low)) : 1.0;

      /* Groups: consecutive blocks with one multiplier (monotonic in the block unless a
       * block has its own factor),
       * lowest first; the head last, alone. */
      for (int b = 0; b <= self->n_blocks; b++)
        {
          Group *group;
          self->row_group[b] = -1;
          if (b < self->n_blocks && (b > self->cut || !(self->row_multiplier[b] > 0)))
            continue;
          group = self->groups->len > 0 ? &g_array_index (self->groups, Group, self->groups->len - 1) : NULL;
          if (b == self->n_blocks || group == NULL || group->head
              || !same_multiplier (group->multiplier, self->row_multiplier[b]))
            {
              Group added = {
                .multiplier = self->row_multiplier[b], .t = self->row_t[b], .head = b == self->n_blocks,
                .first_block = b, .last_block = b, .trains = g_new0 (guint8, self->epochs),
                .points = g_array_new (FALSE, FALSE, sizeof (graphene_point_t)),
              };
              g_array_append_val (self->groups, added);
              group = &g_array_index (self->groups, Group, self->groups->len - 1);
            }
          group->last_block = b;
          self->row_group[b] = (int) self->groups->len - 1;
          for (int e = 0; e < self->epochs; e++)
            if (self->cells[(gsize) b * self->epochs + e] != CELL_FROZEN)
              group->trains[e] = 1;
        }
      /* Groups that never train draw no curve. */
      for (guint g = 0; g < self->groups->len;)
        {
          Group *group = &g_array_index (self->groups, Group, g);
          gboolean any = FALSE;
          for (int e = 0; e < self->epochs && !any; e++)
            any = group->trains[e];
          if (any)
            {
              g++;
              continue;
            }
          for (int b = group->first_block; b <= group->last_block; b++)
            self->row_group[b] = -1;
          for (int b = 0; b <= self->n_blocks; b++)
            if (self->row_group[b] > (int) g)
              self->row_group[b]--;
          g_array_remove_index (self->groups, g);
        }

      /* The base curve, and the range of every group's curve where it trains. */
      n_points = self->epochs * STEPS + 1;
      self->base_log = g_new (double, n_points);
      for (int i = 0; i < n_points; i++)
        {
          int e = MIN (i / STEPS, self->epochs - 1), k = i < n_points - 1 ? i % STEPS : STEPS - 1;
          double lr = graft_session_spec_lr_at (spec, e, k, STEPS);
          self->base_log[i] = lr > 0 && isfinite (lr) ? log10 (lr) : NAN;
        }
      for (guint g = 0; g < self->groups->len; g++)
        {
          const Group *group = &g_array_index (self->groups, Group, g);
          double shift = log10 (group->multiplier);
          for (int i = 0; i < n_points; i++)
            if (group->trains[MIN (i / STEPS, self->epochs - 1)] && !isnan (self->base_log[i]))
              {
                lo_log = MIN (lo_log, self->base_log[i] + shift);
                hi_log = MAX (hi_log, self->base_log[i] + shift);
              }
        }
      if (!isfinite (lo_log))
        {
          lo_log = -4;
          hi_log = -2;
        }
      self->y_min = floor (lo_log + 1e-9);
      self->y_max = ceil (hi_log - 1e-9);
      if (self->y_max - self->y_min < 1)
        self->y_max = self->y_min + 1;
    }
  if (self->selected >= self->n_stages || (self->selected < 0 && self->n_stages > 0))
    set_selected (self, self->n_stages > 0 ? MIN (MAX (self->selected, 0), self->n_stages - 1) : -1);
  update_accessible (self);
}

/* ------------------------------------------------------------------------ */
/* The geometry                                                              */

static double
epoch_x (GraftScheduleTimeline *self, double epoch)
{
  return self->grid_x + epoch * self->col_w;
}

/* The top of block's row (n_blocks: the head, the top row). */
static double
row_y (GraftScheduleTimeline *self, int block)
{
  return self->grid_y + (self->n_blocks - block) * self->row_h;
}

/* The line between blocks below trainable_from (frozen) and the rest. */
static double
edge_y (GraftScheduleTimeline *self, int trainable_from)
{
  return self->grid_y + (self->n_blocks - trainable_from + 1) * self->row_h;
}

/* Where stage's unfreeze edge shows: blocks above the cut are removed, so "from a block
 * above the cut" is drawn (and edited) as "from the cut up": the head only. */
static int
shown_trainable_from (GraftScheduleTimeline *self, int stage)
{
  return MIN (self->stages[stage].trainable_from, self->cut + 1);
}

static double
value_y (GraftScheduleTimeline *self, double log_value)
{
  return self->plot_y + self->plot_h * (self->y_max - log_value) / (self->y_max - self->y_min);
}

static int
stage_end (GraftScheduleTimeline *self, int s)
{
  return s + 1 < self->n_stages ? MIN (self->stages[s + 1].epoch, self->epochs) : self->epochs;
}

/* Points of group: the first, lowest, highest and last of each pixel column. */
static void
build_curve (GraftScheduleTimeline *self, Group *group)
{
  int n_points = self->epochs * STEPS + 1;
  double shift = log10 (group->multiplier);
  double per_pixel = n_points / MAX (self->plot_w, 1.0);
  gboolean decimate = per_pixel > 1.5;
  graphene_point_t gap = { NAN, NAN };
  int column = -1, first = -1, low = -1, high = -1, last = -1;
  gboolean open = FALSE;

  g_array_set_size (group->points, 0);
#define EMIT(i) G_STMT_START { \
    graphene_point_t p = { (float) epoch_x (self, (double) (i) / STEPS), \
                           (float) value_y (self, self->base_log[i] + shift) }; \
    g_array_append_val (group->points, p); \
  } G_STMT_END
#define FLUSH() G_STMT_START { \
    if (first >= 0) \
      { \
        int order[4] = { first, MIN (low, high), MAX (low, high), last }; \
        for (int o = 0; o < 4; o++) \
          if (o == 0 || order[o] != order[o - 1]) \
            EMIT (order[o]); \
      } \
    first = low = high = last = -1; \
  } G_STMT_END

  for (int i = 0; i < n_points; i++)
    {
      gboolean on = group->trains[MIN (i / STEPS, self->epochs - 1)] && !isnan (self->base_log[i]);
      /* The point closing an epoch belongs to it too, so that runs join up. */
      if (!on && i > 0 && i % STEPS == 0 && group->trains[i / STEPS - 1] && !isnan (self->base_log[i]))
        on = TRUE;
      if (!on)
        {
          if (open)
            {
              if (decimate)
                FLUSH ();
              g_array_append_val (group->points, gap);
              open = FALSE;
            }
          continue;
        }
      open = TRUE;
      if (!decimate)
        {
          EMIT (i);
          continue;
        }
      {
        int c = (int) floor (i / per_pixel);
        if (c != column)
          {
            FLUSH ();
            column = c;
          }
        if (first < 0)
          first = low = high = i;
        if (self->base_log[i] < self->base_log[low])
          low = i;
        if (self->base_log[i] > self->base_log[high])
          high = i;
        last = i;
      }
    }
  if (decimate)
    FLUSH ();
#undef EMIT
#undef FLUSH
}

/* Whole decades, every `every` of them so that labels keep their distance. */
static void
build_y_ticks (GraftScheduleTimeline *self)
{
  int decades = (int) (self->y_max - self->y_min);
  double per_decade = self->plot_h / MAX (decades, 1);
  int every = 1;

  while (per_decade * every < 22 && every < decades)
    every++;
  g_array_set_size (self->y_ticks, 0);
  for (int d = (int) self->y_max; d >= (int) self->y_min; d--)
    {
      g_autofree char *text = NULL;
      Tick tick;
      if (((int) self->y_max - d) % every != 0)
        continue;
      text = format_decade (d);
      tick.position = value_y (self, d);
      tick.label = make_layout (self, text, 0.8, FALSE);
      g_array_append_val (self->y_ticks, tick);
    }
}

/* Epochs numbered from 1, at their column's centre, every 1, 2, 5, 10, 20, ... */
static void
build_x_ticks (GraftScheduleTimeline *self)
{
  static const int steps[] = { 1, 2, 5 };
  g_autofree char *widest = g_strdup_printf ("%d", self->epochs);
  g_autoptr (PangoLayout) probe = make_layout (self, widest, 0.8, FALSE);
  double need = layout_width (probe) + 10;
  int every = 1;

  for (int scale = 1; every * self->col_w < need && every < self->epochs; scale *= 10)
    for (int i = 0; i < 3; i++)
      {
        every = steps[i] * scale;
        if (every * self->col_w >= need)
          break;
      }
  g_array_set_size (self->x_ticks, 0);
  for (int e = 0; e < self->epochs; e++)
    {
      g_autofree char *text = NULL;
      Tick tick;
      /* Epoch 1, then the multiples of the step. */
      if (e != 0 && (e + 1) % every != 0)
        continue;
      text = g_strdup_printf ("%d", e + 1);
      tick.position = epoch_x (self, e + 0.5);
      tick.label = make_layout (self, text, 0.8, FALSE);
      g_array_append_val (self->x_ticks, tick);
    }
  /* Epoch 1 and the first multiple may overlap. */
  if (self->x_ticks->len >= 2)
    {
      Tick *a = &g_array_index (self->x_ticks, Tick, 0), *b = &g_array_index (self->x_ticks, Tick, 1);
      if (b->position - a->position < need)
        g_array_remove_index (self->x_ticks, 1);
    }
}

static void
build_runs (GraftScheduleTimeline *self)
{
  /* Cells apart by a hairline while they are wide enough; runs of equal cells merge
   * when they are not, so a long run draws a handful of rectangles. */
  double gap_x = self->col_w >= 16 ? 2.0 : self->col_w >= 8 ? 1.0 : 0.0;
  double gap_y = self->row_h >= 16 ? 2.0 : self->row_h >= 12 ? 1.0 : 0.0;

  g_array_set_size (self->runs, 0);
  for (int b = 0; b <= self->n_blocks; b++)
    {
      double y = row_y (self, b);
      for (int e = 0; e < self->epochs;)
        {
          CellKind kind = self->cells[(gsize) b * self->epochs + e];
          int end = e + 1;
          CellRun run;
          if (gap_x == 0)
            while (end < self->epochs && self->cells[(gsize) b * self->epochs + end] == kind)
              end++;
          run = (CellRun) { (float) (epoch_x (self, e) + gap_x / 2), (float) (y + gap_y / 2),
                            (float) ((end - e) * self->col_w - gap_x), (float) (self->row_h - gap_y), b, kind };
          g_array_append_val (self->runs, run);
          e = end;
        }
    }
}

#define LEGEND_LINE 16.0
#define LEGEND_RAMP 44.0
#define LEGEND_GAP 4.0
#define LEGEND_SPACE 14.0

static double
legend_width (GraftScheduleTimeline *self)
{
  double w = 0;
  if (self->legend_head != NULL)
    w += LEGEND_LINE + LEGEND_GAP + layout_width (self->legend_head);
  if (self->legend_blocks != NULL)
    {
      w += (w > 0 ? LEGEND_SPACE : 0) + layout_width (self->legend_blocks) + LEGEND_GAP;
      if (self->legend_low != NULL)
        w += layout_width (self->legend_low) + LEGEND_GAP + LEGEND_RAMP + LEGEND_GAP + layout_width (self->legend_high);
      else
        w += LEGEND_LINE;
    }
  return w;
}

static void
build_legend (GraftScheduleTimeline *self)
{
  double low = INFINITY, high = -INFINITY;

  self->n_block_groups = 0;
  for (guint g = 0; g < self->groups->len; g++)
    {
      const Group *group = &g_array_index (self->groups, Group, g);
      if (group->head)
        continue;
      self->n_block_groups++;
      low = MIN (low, group->multiplier);
      high = MAX (high, group->multiplier);
    }
  self->legend_head = make_layout (self, _("New head"), 0.8, FALSE);
  if (self->n_block_groups > 0)
    /* Translators: the legend of the backbone blocks' curves. */
    self->legend_blocks = make_layout (self, _("Blocks"), 0.8, FALSE);
  if (self->n_block_groups > 1)
    {
      g_autofree char *a = format_multiplier (low);
      g_autofree char *b = format_multiplier (high);
      self->legend_low = make_layout (self, a, 0.8, FALSE);
      self->legend_high = make_layout (self, b, 0.8, FALSE);
    }
  self->legend_x = self->plot_x + self->plot_w - legend_width (self);
  /* No room beside the title: the ramp goes, then the whole legend. */
  if (self->legend_x < PADDING + layout_width (self->plot_title) + 24 && self->legend_low != NULL)
    {
      g_clear_object (&self->legend_low);
      g_clear_object (&self->legend_high);
      self->legend_x = self->plot_x + self->plot_w - legend_width (self);
    }
  if (self->legend_x < PADDING + layout_width (self->plot_title) + 24)
    {
      g_clear_object (&self->legend_head);
      g_clear_object (&self->legend_blocks);
    }
}

static void
clear_layouts (GraftScheduleTimeline *self)
{
  g_ptr_array_set_size (self->row_names, 0);
  g_ptr_array_set_size (self->row_values, 0);
  g_ptr_array_set_size (self->stage_labels, 0);
  g_array_set_size (self->x_ticks, 0);
  g_array_set_size (self->y_ticks, 0);
  g_array_set_size (self->runs, 0);
  g_clear_object (&self->plot_title);
  g_clear_object (&self->legend_head);
  g_clear_object (&self->legend_blocks);
  g_clear_object (&self->legend_low);
  g_clear_object (&self->legend_high);
  g_clear_object (&self->axis_title);
  g_clear_object (&self->placeholder);
}

static void
graft_schedule_timeline_relayout (GraftScheduleTimeline *self)
{
  double width = gtk_widget_get_width (GTK_WIDGET (self));
  double height = gtk_widget_get_height (GTK_WIDGET (self));
  double names_w = 0, values_w = 0, ticks_w = 0, axis_h, title_h, fixed, rows_h, plot_h;
  int rows = self->n_blocks + 1;

  clear_layouts (self);
  if (self->n_blocks == 0)
    {
      self->placeholder = make_layout (self, _("Load a model to plan its unfreezing schedule"), 1.0, FALSE);
      self->min_height = self->natural_height = 120;
      self->min_width = 200;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  if (width <= 1)
    width = 640;
  if (height <= 1)
    height = 480;

  /* Text at the sides. */
  for (int b = 0; b <= self->n_blocks; b++)
    {
      g_autofree char *value = NULL;
      PangoLayout *name;
      if (b == self->n_blocks)
        name = make_layout (self, _("New head"), 0.8, TRUE);
      else
        name = make_layout (self, graft_session_get_block (self->session, b)->name, 0.8, FALSE);
      names_w = MAX (names_w, layout_width (name));
      g_ptr_array_add (self->row_names, name);
      if (self->row_group[b] >= 0)
        {
          PangoLayout *layout;
          value = format_multiplier (self->row_multiplier[b]);
          layout = make_layout (self, value, 0.8, FALSE);
          values_w = MAX (values_w, layout_width (layout));
          g_ptr_array_add (self->row_values, layout);
        }
      else
        g_ptr_array_add (self->row_values, NULL);
    }
  {
    g_autofree char *a = format_decade ((int) self->y_min);
    g_autofree char *b = format_decade ((int) self->y_max);
    g_autoptr (PangoLayout) la = make_layout (self, a, 0.8, FALSE);
    g_autoptr (PangoLayout) lb = make_layout (self, b, 0.8, FALSE);
    ticks_w = MAX (layout_width (la), layout_width (lb));
  }
  {
    self->plot_title = make_layout (self, _("Learning rate by block group (log scale)"), 0.8, TRUE);
  }
  self->axis_title = make_layout (self, _("Epoch"), 0.8, FALSE);
  title_h = layout_height (self->plot_title);
  axis_h = AXIS_GAP + 2 * layout_height (self->axis_title) + 2;

  /* Columns. */
  self->grid_x = PADDING + MAX (names_w, ticks_w) + LABEL_GAP;
  self->grid_w = MAX (width - self->grid_x - LABEL_GAP - values_w - PADDING, MIN_GRID_WIDTH);
  self->col_w = self->grid_w / self->epochs;
  self->plot_x = self->grid_x;
  self->plot_w = self->grid_w;
  self->min_width = self->grid_x + MIN_GRID_WIDTH + LABEL_GAP + values_w + PADDING;

  /* Rows: the plot gets a share of the height, the rows the rest. */
  fixed = PADDING + title_h + TITLE_GAP + STRIP_GAP + STRIP_HEIGHT + axis_h + PADDING;
  self->min_height = fixed + MIN_PLOT_HEIGHT + rows * MIN_ROW_HEIGHT;
  self->natural_height = fixed + NATURAL_PLOT_HEIGHT + rows * NATURAL_ROW_HEIGHT;
  plot_h = CLAMP ((height - fixed) * 0.32, MIN_PLOT_HEIGHT, MAX_PLOT_HEIGHT);
  rows_h = height - fixed - plot_h;
  self->row_h = floor (CLAMP (rows_h / rows, MIN_ROW_HEIGHT, MAX_ROW_HEIGHT));
  /* Height the rows cannot use goes to the plot, whatever it comes to: the timeline
   * fills the height it is given, leaving no empty band below the epoch axis. */
  plot_h = MAX (height - fixed - rows * self->row_h, MIN_PLOT_HEIGHT);
  self->plot_y = PADDING + title_h + TITLE_GAP;
  self->plot_h = plot_h;
  self->strip_y = self->plot_y + self->plot_h + STRIP_GAP;
  self->grid_y = self->strip_y + STRIP_HEIGHT;
  self->grid_h = rows * self->row_h;
  self->axis_y = self->grid_y + self->grid_h + AXIS_GAP;

  build_legend (self);
  build_runs (self);
  build_x_ticks (self);
  build_y_ticks (self);
  for (guint g = 0; g < self->groups->len; g++)
    build_curve (self, &g_array_index (self->groups, Group, g));

  /* Stage names, as long as they fit their band. */
  for (int s = 0; s < self->n_stages; s++)
    {
      double band = (stage_end (self, s) - MIN (self->stages[s].epoch, self->epochs)) * self->col_w - GRIP_WIDTH - 6;
      g_autofree char *full = g_strdup_printf (_("Stage %d"), s + 1);
      g_autofree char *number = g_strdup_printf ("%d", s + 1);
      PangoLayout *layout = make_layout (self, full, 0.8, FALSE);
      if (layout_width (layout) > band)
        {
          g_object_unref (layout);
          layout = make_layout (self, number, 0.8, FALSE);
          if (layout_width (layout) > band)
            g_clear_object (&layout);
        }
      g_ptr_array_add (self->stage_labels, layout);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
refresh (GraftScheduleTimeline *self)
{
  double before = self->natural_height, before_min = self->min_height, before_w = self->min_width;
  graft_schedule_timeline_recompute (self);
  graft_schedule_timeline_relayout (self);
  if (before != self->natural_height || before_min != self->min_height || before_w != self->min_width)
    gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* ------------------------------------------------------------------------ */
/* Painting                                                                  */

typedef struct {
  GdkRGBA fg;
  GdkRGBA bg;
  GdkRGBA frozen;
  GdkRGBA removed;
  GdkRGBA low, high;      /* trainable cells, lowest and highest multiplier */
  GdkRGBA line_low, line_high;
  GdkRGBA head, head_line;
  GdkRGBA accent, accent_bg, accent_fg;
} Palette;

/* From libadwaita's named colours, blended with the background, so that light and dark
 * styles both read well; the same hues as the freeze map (green trains, purple head). */
static void
get_palette (GraftScheduleTimeline *self, Palette *p)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  G_GNUC_END_IGNORE_DEPRECATIONS
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  GdkRGBA slate, green_light, green, green_dark, purple, purple_dark;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (context, &p->fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  p->bg = graft_color_named (context, "view_bg_color", dark ? "#1e1e1e" : "#ffffff");
  gdk_rgba_parse (&slate, dark ? "#8197ae" : "#5d7691");
  green_light = graft_color_named (context, "green_2", "#57e389");
  green = graft_color_named (context, "green_4", "#2ec27e");
  green_dark = graft_color_named (context, "green_5", "#26a269");
  purple = graft_color_named (context, "purple_2", "#c061cb");
  purple_dark = graft_color_named (context, "purple_3", "#9141ac");
  p->accent = graft_color_named (context, "accent_color", "#1c71d8");
  p->accent_bg = graft_color_named (context, "accent_bg_color", "#3584e4");
  p->accent_fg = graft_color_named (context, "accent_fg_color", "#ffffff");

  p->frozen = graft_color_mix (&p->bg, &slate, dark ? 0.20f : 0.13f);
  p->removed = p->bg;
  if (dark)
    {
      p->low = graft_color_mix (&p->bg, &green_dark, 0.30f);
      p->high = graft_color_mix (&p->bg, &green, 0.92f);
      p->line_low = graft_color_mix (&p->bg, &green_dark, 0.55f);
      p->line_high = green_light;
      p->head = graft_color_mix (&p->bg, &purple_dark, 0.85f);
      p->head_line = purple;
    }
  else
    {
      p->low = graft_color_mix (&p->bg, &green, 0.22f);
      p->high = green_dark;
      p->line_low = graft_color_mix (&p->bg, &green, 0.50f);
      p->line_high = graft_color_mix (&green_dark, &p->fg, 0.25f);
      p->head = graft_color_mix (&p->bg, &purple, 0.75f);
      p->head_line = purple_dark;
    }
}

static GdkRGBA
cell_color (const Palette *p, double t)
{
  return graft_color_mix (&p->low, &p->high, (float) t);
}

static GdkRGBA
group_color (const Palette *p, const Group *group)
{
  if (group->head)
    return p->head_line;
  return graft_color_mix (&p->line_low, &p->line_high, (float) group->t);
}

static void
show_layout (cairo_t *cr, PangoLayout *layout, double x, double y)
{
  cairo_move_to (cr, x, y);
  pango_cairo_show_layout (cr, layout);
}

static void
legend_line (cairo_t *cr, const GdkRGBA *color, double x, double y, double w)
{
  cairo_set_line_width (cr, 2);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  graft_color_set_source (cr, color, 1);
  cairo_move_to (cr, x + 1, y);
  cairo_line_to (cr, x + w - 1, y);
  cairo_stroke (cr);
}

static void
draw_legend (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p)
{
  double x = self->legend_x, cy = PADDING + layout_height (self->plot_title) / 2;

  if (self->legend_head == NULL)
    return;
  legend_line (cr, &p->head_line, x, cy, LEGEND_LINE);
  x += LEGEND_LINE + LEGEND_GAP;
  graft_color_set_source (cr, &p->fg, 0.8);
  show_layout (cr, self->legend_head, x, cy - layout_height (self->legend_head) / 2);
  x += layout_width (self->legend_head);
  if (self->legend_blocks == NULL)
    return;
  x += LEGEND_SPACE;
  graft_color_set_source (cr, &p->fg, 0.8);
  show_layout (cr, self->legend_blocks, x, cy - layout_height (self->legend_blocks) / 2);
  x += layout_width (self->legend_blocks) + LEGEND_GAP;
  if (self->legend_low == NULL)
    {
      GdkRGBA color = p->line_high;
      for (guint g = 0; g < self->groups->len; g++)
        if (!g_array_index (self->groups, Group, g).head)
          color = group_color (p, &g_array_index (self->groups, Group, g));
      legend_line (cr, &color, x, cy, LEGEND_LINE);
      return;
    }
  graft_color_set_source (cr, &p->fg, 0.6);
  show_layout (cr, self->legend_low, x, cy - layout_height (self->legend_low) / 2);
  x += layout_width (self->legend_low) + LEGEND_GAP;
  {
    cairo_pattern_t *ramp = cairo_pattern_create_linear (x, 0, x + LEGEND_RAMP, 0);
    cairo_pattern_add_color_stop_rgba (ramp, 0, p->line_low.red, p->line_low.green, p->line_low.blue, p->line_low.alpha);
    cairo_pattern_add_color_stop_rgba (ramp, 1, p->line_high.red, p->line_high.green, p->line_high.blue,
                                       p->line_high.alpha);
    graft_rounded_rectangle (cr, x, cy - 4, LEGEND_RAMP, 8, 3);
    cairo_set_source (cr, ramp);
    cairo_fill (cr);
    cairo_pattern_destroy (ramp);
  }
  x += LEGEND_RAMP + LEGEND_GAP;
  graft_color_set_source (cr, &p->fg, 0.6);
  show_layout (cr, self->legend_high, x, cy - layout_height (self->legend_high) / 2);
}

static void
draw_plot (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p)
{
  double right = self->plot_x + self->plot_w;
  gboolean head_shared = FALSE;

  graft_color_set_source (cr, &p->fg, 1);
  show_layout (cr, self->plot_title, PADDING, PADDING);
  draw_legend (self, cr, p);

  /* Decades. */
  cairo_set_line_width (cr, 1);
  for (guint i = 0; i < self->y_ticks->len; i++)
    {
      const Tick *tick = &g_array_index (self->y_ticks, Tick, i);
      double y = round (tick->position) + 0.5;
      graft_color_set_source (cr, &p->fg, 0.10);
      cairo_move_to (cr, self->plot_x, y);
      cairo_line_to (cr, right, y);
      cairo_stroke (cr);
      graft_color_set_source (cr, &p->fg, 0.65);
      show_layout (cr, tick->label, self->grid_x - LABEL_GAP - layout_width (tick->label),
                   tick->position - layout_height (tick->label) / 2);
    }
  /* Epochs, faintly, where the grid has room for them. */
  if (self->col_w >= 6)
    {
      graft_color_set_source (cr, &p->fg, 0.05);
      for (int e = 1; e < self->epochs; e++)
        {
          double x = round (epoch_x (self, e)) + 0.5;
          cairo_move_to (cr, x, self->plot_y);
          cairo_line_to (cr, x, self->plot_y + self->plot_h);
        }
      cairo_stroke (cr);
    }
  graft_color_set_source (cr, &p->fg, 0.25);
  cairo_move_to (cr, self->plot_x, round (self->plot_y + self->plot_h) + 0.5);
  cairo_line_to (cr, right, round (self->plot_y + self->plot_h) + 0.5);
  cairo_stroke (cr);

  /* The curves, lowest multiplier first; the head over them, dashed when a block
   * group shares its multiplier (the lines would cover each other). */
  cairo_save (cr);
  cairo_rectangle (cr, self->plot_x, self->plot_y - 2, self->plot_w, self->plot_h + 4);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (guint g = 0; g < self->groups->len; g++)
    {
      const Group *group = &g_array_index (self->groups, Group, g);
      GdkRGBA color = group_color (p, group);
      gboolean pen = FALSE;

      if (group->head)
        for (guint o = 0; o < self->groups->len; o++)
          if (o != g && same_multiplier (g_array_index (self->groups, Group, o).multiplier, group->multiplier))
            head_shared = TRUE;
      for (guint i = 0; i < group->points->len; i++)
        {
          const graphene_point_t *pt = &g_array_index (group->points, graphene_point_t, i);
          if (isnan (pt->x))
            {
              pen = FALSE;
              continue;
            }
          if (pen)
            cairo_line_to (cr, pt->x, pt->y);
          else
            cairo_move_to (cr, pt->x, pt->y);
          pen = TRUE;
        }
      if (group->head && head_shared)
        {
          static const double dashes[] = { 6, 5 };
          cairo_set_dash (cr, dashes, 2, 0);
        }
      cairo_set_line_width (cr, group->head ? 2.0 : 1.75);
      graft_color_set_source (cr, &color, 1);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
    }
  cairo_restore (cr);
}

static void
draw_strip (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p, gboolean focused)
{
  for (int s = 0; s < self->n_stages; s++)
    {
      int start = self->stages[s].epoch, end = stage_end (self, s);
      PangoLayout *label = g_ptr_array_index (self->stage_labels, s);
      double x0, x1;

      if (start >= self->epochs)
        continue;
      x0 = epoch_x (self, start);
      x1 = epoch_x (self, end);
      graft_rounded_rectangle (cr, x0 + 1, self->strip_y + 2, x1 - x0 - 2, STRIP_HEIGHT - 6, 5);
      if (s == self->selected)
        graft_color_set_source (cr, &p->accent_bg, focused ? 0.30 : 0.18);
      else
        graft_color_set_source (cr, &p->fg, s % 2 == 0 ? 0.06 : 0.10);
      cairo_fill (cr);
      if (label != NULL)
        {
          double lx = x0 + (x1 - x0 - layout_width (label)) / 2;
          graft_color_set_source (cr, s == self->selected ? &p->accent : &p->fg, s == self->selected ? 1.0 : 0.75);
          show_layout (cr, label, lx, self->strip_y + (STRIP_HEIGHT - 4 - layout_height (label)) / 2);
        }
    }
}

static void
draw_grid (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p)
{
  double radius = MIN (self->col_w, self->row_h) >= 12 ? 3 : 0;

  for (guint i = 0; i < self->runs->len; i++)
    {
      const CellRun *run = &g_array_index (self->runs, CellRun, i);
      GdkRGBA color;
      switch (run->kind)
        {
        case CELL_FROZEN:
          color = p->frozen;
          break;
        case CELL_TRAINS:
          color = cell_color (p, self->row_t[run->block]);
          break;
        case CELL_HEAD:
          color = p->head;
          break;
        case CELL_REMOVED:
        default:
          color = p->removed;
          break;
        }
      graft_rounded_rectangle (cr, run->x, run->y, run->w, run->h, radius);
      graft_color_set_source (cr, &color, 1);
      if (run->kind == CELL_REMOVED)
        {
          cairo_set_line_width (cr, 1);
          graft_color_set_source (cr, &p->fg, 0.15);
          cairo_stroke (cr);
        }
      else
        cairo_fill (cr);
    }
}

/* The unfreeze edges: a staircase between the trainable blocks (above) and the frozen
 * ones (below), the selected stage's step in the accent colour, with a grip. */
static void
draw_edges (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p, gboolean focused)
{
  double previous_y = NAN;

  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (int s = 0; s < self->n_stages; s++)
    {
      int start = self->stages[s].epoch;
      double x0, y;
      if (start >= self->epochs)
        break;
      x0 = epoch_x (self, start);
      y = round (edge_y (self, shown_trainable_from (self, s)));
      if (!isnan (previous_y) && previous_y != y)
        {
          graft_color_set_source (cr, &p->fg, 0.55);
          cairo_set_line_width (cr, 2);
          cairo_move_to (cr, x0, previous_y);
          cairo_line_to (cr, x0, y);
          cairo_stroke (cr);
        }
      previous_y = y;
    }
  for (int s = 0; s < self->n_stages; s++)
    {
      int start = self->stages[s].epoch, end = stage_end (self, s);
      gboolean selected = s == self->selected, hover = s == self->hover_edge || (self->drag == DRAG_EDGE && s == self->drag_stage);
      double x0, x1, y;
      if (start >= self->epochs)
        break;
      x0 = epoch_x (self, start);
      x1 = epoch_x (self, end);
      y = round (edge_y (self, shown_trainable_from (self, s)));
      cairo_set_line_width (cr, selected || hover ? 3 : 2);
      if (selected)
        graft_color_set_source (cr, &p->accent, focused ? 1 : 0.8);
      else
        graft_color_set_source (cr, &p->fg, hover ? 0.85 : 0.55);
      cairo_move_to (cr, x0, y);
      cairo_line_to (cr, x1, y);
      cairo_stroke (cr);
      if (selected || hover)
        {
          double gw = MIN (22, MAX (x1 - x0 - 4, 8)), gx = (x0 + x1) / 2 - gw / 2;
          graft_rounded_rectangle (cr, gx, y - 3.5, gw, 7, 3.5);
          graft_color_set_source (cr, selected ? &p->accent_bg : &p->fg, 1);
          cairo_fill_preserve (cr);
          graft_color_set_source (cr, &p->bg, 1);
          cairo_set_line_width (cr, 1.5);
          cairo_stroke (cr);
        }
    }
}

/* Boundaries: a line through the plot and the grid, and a grip in the strip. */
static void
draw_handles (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p, gboolean focused)
{
  for (int s = 1; s < self->n_stages; s++)
    {
      gboolean selected = s == self->selected;
      gboolean active = s == self->hover_handle || (self->drag == DRAG_BOUNDARY && s == self->drag_stage);
      double x;
      if (self->stages[s].epoch >= self->epochs)
        break;
      x = round (epoch_x (self, self->stages[s].epoch));
      cairo_set_line_width (cr, selected || active ? 2 : 1);
      if (selected)
        graft_color_set_source (cr, &p->accent, focused ? 0.9 : 0.7);
      else
        graft_color_set_source (cr, &p->fg, active ? 0.6 : 0.28);
      cairo_move_to (cr, x, self->plot_y);
      cairo_line_to (cr, x, self->grid_y + self->grid_h);
      cairo_stroke (cr);

      graft_rounded_rectangle (cr, x - GRIP_WIDTH / 2, self->strip_y + (STRIP_HEIGHT - 4 - GRIP_HEIGHT) / 2, GRIP_WIDTH,
                         GRIP_HEIGHT, 3);
      if (selected)
        graft_color_set_source (cr, &p->accent_bg, 1);
      else
        graft_color_set_source (cr, &p->bg, 1);
      cairo_fill_preserve (cr);
      cairo_set_line_width (cr, 1);
      if (selected)
        graft_color_set_source (cr, &p->accent_bg, 1);
      else
        graft_color_set_source (cr, &p->fg, active ? 0.7 : 0.4);
      cairo_stroke (cr);
      /* Two ridges on the grip. */
      graft_color_set_source (cr, selected ? &p->accent_fg : &p->fg, selected ? 0.9 : 0.5);
      for (int r = -1; r <= 1; r += 2)
        {
          double rx = x + r * 1.5 + 0.5 * r;
          double cy = self->strip_y + (STRIP_HEIGHT - 4) / 2;
          cairo_move_to (cr, round (rx) + 0.5, cy - 4);
          cairo_line_to (cr, round (rx) + 0.5, cy + 4);
        }
      cairo_stroke (cr);
    }
}

static void
draw_labels (GraftScheduleTimeline *self, cairo_t *cr, const Palette *p)
{
  double values_x = self->grid_x + self->grid_w + LABEL_GAP;

  for (int b = 0; b <= self->n_blocks; b++)
    {
      PangoLayout *name = g_ptr_array_index (self->row_names, b);
      PangoLayout *value = g_ptr_array_index (self->row_values, b);
      double y = row_y (self, b) + self->row_h / 2;
      gboolean removed = b < self->n_blocks && b > self->cut;
      /* Rows too short for every name show every other one. */
      if (self->row_h < layout_height (name) - 2 && b != self->n_blocks && (self->n_blocks - 1 - b) % 2 != 0)
        continue;
      graft_color_set_source (cr, &p->fg, removed ? 0.4 : 0.85);
      show_layout (cr, name, self->grid_x - LABEL_GAP - layout_width (name), y - layout_height (name) / 2);
      if (value != NULL)
        {
          graft_color_set_source (cr, &p->fg, 0.6);
          show_layout (cr, value, values_x, y - layout_height (value) / 2);
        }
    }
  graft_color_set_source (cr, &p->fg, 0.65);
  for (guint i = 0; i < self->x_ticks->len; i++)
    {
      const Tick *tick = &g_array_index (self->x_ticks, Tick, i);
      show_layout (cr, tick->label, tick->position - layout_width (tick->label) / 2, self->axis_y);
    }
  graft_color_set_source (cr, &p->fg, 0.85);
  if (self->x_ticks->len > 0)
    {
      PangoLayout *tick = g_array_index (self->x_ticks, Tick, 0).label;
      show_layout (cr, self->axis_title, self->grid_x + (self->grid_w - layout_width (self->axis_title)) / 2,
                   self->axis_y + layout_height (tick) + 2);
    }
}

static void
graft_schedule_timeline_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (widget);
  double width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  gboolean focused = gtk_widget_has_focus (widget);
  Palette p;
  cairo_t *cr;

  get_palette (self, &p);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, (float) width, (float) height));
  if (self->n_blocks == 0 || self->row_names->len == 0)
    {
      if (self->placeholder != NULL)
        {
          graft_color_set_source (cr, &p.fg, 0.55);
          show_layout (cr, self->placeholder, (width - layout_width (self->placeholder)) / 2,
                       (height - layout_height (self->placeholder)) / 2);
        }
      cairo_destroy (cr);
      return;
    }
  draw_plot (self, cr, &p);
  draw_strip (self, cr, &p, focused);
  draw_grid (self, cr, &p);
  draw_edges (self, cr, &p, focused);
  draw_handles (self, cr, &p, focused);
  draw_labels (self, cr, &p);
  cairo_destroy (cr);
}

static void
graft_schedule_timeline_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                                 int *natural, int *minimum_baseline, int *natural_baseline)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = (int) ceil (self->min_width);
      *natural = MAX (*minimum, 640);
    }
  else
    {
      *minimum = (int) ceil (self->min_height);
      *natural = MAX (*minimum, (int) ceil (self->natural_height));
    }
}

static void
graft_schedule_timeline_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (widget);

  graft_schedule_timeline_relayout (self);
  if (self->menu != NULL)
    gtk_popover_present (GTK_POPOVER (self->menu));
}

static void
graft_schedule_timeline_system_setting_changed (GtkWidget *widget, GtkSystemSetting setting)
{
  GTK_WIDGET_CLASS (graft_schedule_timeline_parent_class)->system_setting_changed (widget, setting);
  if (setting == GTK_SYSTEM_SETTING_FONT_NAME || setting == GTK_SYSTEM_SETTING_FONT_CONFIG
      || setting == GTK_SYSTEM_SETTING_DPI)
    {
      graft_schedule_timeline_relayout (GRAFT_SCHEDULE_TIMELINE (widget));
      gtk_widget_queue_resize (widget);
    }
}

/* ------------------------------------------------------------------------ */
/* Pointer                                                                   */

static int
handle_at (GraftScheduleTimeline *self, double x, double y)
{
  int best = -1;
  double best_distance = HANDLE_GRAB + 1;

  if (y < self->plot_y || y > self->grid_y + self->grid_h)
    return -1;
  for (int s = 1; s < self->n_stages; s++)
    {
      double distance;
      if (self->stages[s].epoch >= self->epochs)
        break;
      distance = fabs (x - epoch_x (self, self->stages[s].epoch));
      if (distance <= HANDLE_GRAB && distance < best_distance)
        {
          best = s;
          best_distance = distance;
        }
    }
  return best;
}

static int
epoch_at (GraftScheduleTimeline *self, double x)
{
  if (self->col_w <= 0)
    return -1;
  return CLAMP ((int) floor ((x - self->grid_x) / self->col_w), 0, self->epochs - 1);
}

static int
stage_at_epoch (GraftScheduleTimeline *self, int epoch)
{
  int s = 0;
  while (s + 1 < self->n_stages && self->stages[s + 1].epoch <= epoch)
    s++;
  return s;
}

static int
edge_at (GraftScheduleTimeline *self, double x, double y)
{
  int s;
  if (x < self->grid_x || x >= self->grid_x + self->grid_w || y < self->grid_y - EDGE_GRAB
      || y > self->grid_y + self->grid_h + EDGE_GRAB)
    return -1;
  s = stage_at_epoch (self, epoch_at (self, x));
  if (fabs (y - edge_y (self, shown_trainable_from (self, s))) <= EDGE_GRAB)
    return s;
  return -1;
}

/* The block row under y (n_blocks: the head), -1 outside the grid. */
static int
block_at (GraftScheduleTimeline *self, double y)
{
  int row;
  if (y < self->grid_y || y >= self->grid_y + self->grid_h)
    return -1;
  row = (int) floor ((y - self->grid_y) / self->row_h);
  return self->n_blocks - row;
}

static gboolean
in_timeline (GraftScheduleTimeline *self, double x, double y)
{
  return x >= self->grid_x && x < self->grid_x + self->grid_w && y >= self->plot_y
         && y < self->grid_y + self->grid_h;
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, GraftScheduleTimeline *self)
{
  int handle, edge;

  self->drag = DRAG_NONE;
  if (self->n_blocks == 0)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_widget_grab_focus (GTK_WIDGET (self));
  handle = handle_at (self, x, y);
  edge = handle < 0 ? edge_at (self, x, y) : -1;
  self->drag_start_x = x;
  self->drag_start_y = y;
  if (handle >= 0)
    {
      self->drag = DRAG_BOUNDARY;
      self->drag_stage = handle;
    }
  else if (edge >= 0)
    {
      self->drag = DRAG_EDGE;
      self->drag_stage = edge;
    }
  else
    {
      if (in_timeline (self, x, y))
        set_selected (self, stage_at_epoch (self, epoch_at (self, x)));
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  set_selected (self, self->drag_stage);
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, GraftScheduleTimeline *self)
{
  double x = self->drag_start_x + dx, y = self->drag_start_y + dy;

  if (self->drag == DRAG_BOUNDARY)
    move_stage (self, self->drag_stage, (int) round ((x - self->grid_x) / self->col_w));
  else if (self->drag == DRAG_EDGE)
    {
      int trainable_from = self->n_blocks + 1 - (int) round ((y - self->grid_y) / self->row_h);
      trainable_from = CLAMP (trainable_from, 0, self->cut + 1);
      if (trainable_from != shown_trainable_from (self, self->drag_stage))
        set_unfreeze (self, self->drag_stage, trainable_from);
    }
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, GraftScheduleTimeline *self)
{
  self->drag = DRAG_NONE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
update_cursor (GraftScheduleTimeline *self)
{
  const char *name = NULL;
  if (self->hover_handle >= 0 || (self->drag == DRAG_BOUNDARY))
    name = "col-resize";
  else if (self->hover_edge >= 0 || self->drag == DRAG_EDGE)
    name = "row-resize";
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), name);
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, GraftScheduleTimeline *self)
{
  int handle = self->n_blocks > 0 ? handle_at (self, x, y) : -1;
  int edge = self->n_blocks > 0 && handle < 0 ? edge_at (self, x, y) : -1;

  if (handle != self->hover_handle || edge != self->hover_edge)
    {
      self->hover_handle = handle;
      self->hover_edge = edge;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  update_cursor (self);
}

static void
on_leave (GtkEventControllerMotion *controller, GraftScheduleTimeline *self)
{
  if (self->hover_handle >= 0 || self->hover_edge >= 0)
    {
      self->hover_handle = self->hover_edge = -1;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  update_cursor (self);
}

static void
on_double_click (GtkGestureClick *gesture, int n_press, double x, double y, GraftScheduleTimeline *self)
{
  int epoch;
  if (n_press != 2 || self->n_blocks == 0 || !in_timeline (self, x, y) || handle_at (self, x, y) >= 0)
    return;
  epoch = epoch_at (self, x);
  add_stage (self, epoch);
}

/* The context menu of a stage, pointing at (x, y); epoch: where "Split Stage Here" splits. */
static void
popup_menu (GraftScheduleTimeline *self, int stage, int epoch, double x, double y)
{
  g_autoptr (GMenu) menu = g_menu_new ();
  g_autoptr (GMenu) section = g_menu_new ();
  g_autoptr (GMenuItem) item = NULL;
  g_autofree char *remove_label = NULL;

  if (self->menu == NULL)
    {
      self->menu = gtk_popover_menu_new_from_model (NULL);
      gtk_widget_set_parent (self->menu, GTK_WIDGET (self));
      gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), TRUE);
      gtk_widget_set_halign (self->menu, GTK_ALIGN_START);
    }
  item = g_menu_item_new (_("_Split Stage Here"), NULL);
  g_menu_item_set_action_and_target_value (item, "timeline.add-stage", g_variant_new_int32 (epoch));
  g_menu_append_item (section, item);
  g_clear_object (&item);
  if (stage >= 1)
    {
      /* Translators: removes the stage with this number. */
      remove_label = g_strdup_printf (_("_Remove Stage %d"), stage + 1);
      item = g_menu_item_new (remove_label, NULL);
      g_menu_item_set_action_and_target_value (item, "timeline.remove-stage", g_variant_new_int32 (stage));
      g_menu_append_item (section, item);
    }
  g_menu_append_section (menu, NULL, G_MENU_MODEL (section));
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->menu), G_MENU_MODEL (menu));
  gtk_popover_set_pointing_to (GTK_POPOVER (self->menu), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->menu));
}

static void
on_secondary_click (GtkGestureClick *gesture, int n_press, double x, double y, GraftScheduleTimeline *self)
{
  int handle, stage, epoch;

  if (self->n_blocks == 0 || !in_timeline (self, x, y))
    return;
  gtk_widget_grab_focus (GTK_WIDGET (self));
  handle = handle_at (self, x, y);
  epoch = epoch_at (self, x);
  stage = handle >= 0 ? handle : stage_at_epoch (self, epoch);
  set_selected (self, stage);
  popup_menu (self, stage, handle >= 0 ? self->stages[handle].epoch : epoch, x, y);
}

static gboolean
graft_schedule_timeline_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (widget);
  g_autofree char *text = NULL;
  int handle, edge, block, epoch;

  if (self->n_blocks == 0)
    return FALSE;
  if (keyboard)
    {
      if (self->selected < 0)
        return FALSE;
      text = describe_stage (self, self->selected);
      gtk_tooltip_set_text (tooltip, text);
      return TRUE;
    }
  handle = handle_at (self, x, y);
  edge = handle < 0 ? edge_at (self, x, y) : -1;
  if (handle >= 0)
    /* Translators: the tooltip of a stage boundary. */
    text = g_strdup_printf (_("Stage %d starts at epoch %d. Drag to move it; right-click or press Delete to "
                              "remove it."), handle + 1, self->stages[handle].epoch + 1);
  else if (edge >= 0)
    {
      g_autofree char *stage = describe_stage (self, edge);
      text = g_strdup_printf ("%s\n%s", stage, _("Drag up to freeze more blocks, down to unfreeze more."));
    }
  else if (in_timeline (self, x, y) && (block = block_at (self, y)) >= 0)
    {
      const char *name = block == self->n_blocks ? _("New head") : graft_session_get_block (self->session, block)->name;
      CellKind kind;
      epoch = epoch_at (self, x);
      kind = self->cells[(gsize) block * self->epochs + epoch];
      if (kind == CELL_REMOVED)
        /* Translators: a block above the cut, removed with the old classifier. */
        text = g_strdup_printf (_("%s is above the cut and removed"), name);
      else if (kind == CELL_FROZEN)
        /* Translators: block name, epoch. */
        text = g_strdup_printf (_("%s is frozen at epoch %d"), name, epoch + 1);
      else
        {
          g_autofree char *multiplier = format_multiplier (self->row_multiplier[block]);
          /* Translators: block name, epoch, learning-rate multiplier ("×0.38"). */
          text = g_strdup_printf (_("%s trains at epoch %d, learning rate %s"), name, epoch + 1, multiplier);
        }
    }
  else
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Keyboard                                                                  */

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
                GraftScheduleTimeline *self)
{
  gboolean control = (state & GDK_CONTROL_MASK) != 0;
  int s = self->selected;

  if (self->n_blocks == 0 || s < 0)
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Left:
    case GDK_KEY_KP_Left:
    case GDK_KEY_Right:
    case GDK_KEY_KP_Right:
      {
        int step = keyval == GDK_KEY_Left || keyval == GDK_KEY_KP_Left ? -1 : 1;
        if (gtk_widget_get_direction (GTK_WIDGET (self)) == GTK_TEXT_DIR_RTL && control)
          step = -step;
        if (control)
          set_selected (self, s + step);
        else if (s >= 1)
          {
            int before = self->stages[s].epoch;
            move_stage (self, s, before + step);
            if (self->stages[s].epoch == before)
              gtk_widget_error_bell (GTK_WIDGET (self));
          }
        else
          gtk_widget_error_bell (GTK_WIDGET (self));
        return TRUE;
      }
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
    case GDK_KEY_Down:
    case GDK_KEY_KP_Down:
      {
        int step = keyval == GDK_KEY_Up || keyval == GDK_KEY_KP_Up ? 1 : -1;
        int before = shown_trainable_from (self, s), after = before + step;
        if (after < 0 || after > self->cut + 1)
          gtk_widget_error_bell (GTK_WIDGET (self));
        else
          set_unfreeze (self, s, after);
        return TRUE;
      }
    case GDK_KEY_Home:
      set_selected (self, 0);
      return TRUE;
    case GDK_KEY_End:
      set_selected (self, self->n_stages - 1);
      return TRUE;
    case GDK_KEY_Insert:
    case GDK_KEY_KP_Insert:
    case GDK_KEY_plus:
    case GDK_KEY_KP_Add:
      {
        int start = self->stages[s].epoch, end = stage_end (self, s);
        add_stage (self, start + MAX (1, (end - start) / 2));
        return TRUE;
      }
    case GDK_KEY_Delete:
    case GDK_KEY_KP_Delete:
    case GDK_KEY_BackSpace:
      remove_stage (self, s);
      return TRUE;
    case GDK_KEY_Menu:
    case GDK_KEY_F10:
      if (keyval == GDK_KEY_F10 && !(state & GDK_SHIFT_MASK))
        return FALSE;
      if (self->stages[s].epoch < self->epochs)
        {
          double x = s >= 1 ? epoch_x (self, self->stages[s].epoch)
                            : epoch_x (self, (self->stages[s].epoch + stage_end (self, s)) / 2.0);
          popup_menu (self, s, self->stages[s].epoch + (stage_end (self, s) - self->stages[s].epoch) / 2, x,
                      self->strip_y + STRIP_HEIGHT / 2);
        }
      return TRUE;
    default:
      return FALSE;
    }
}

static void
on_focus_changed (GtkEventControllerFocus *controller, GraftScheduleTimeline *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                   */

static void
action_move_stage (GtkWidget *widget, const char *name, GVariant *parameter)
{
  int stage, epoch;
  g_variant_get (parameter, "(ii)", &stage, &epoch);
  move_stage (GRAFT_SCHEDULE_TIMELINE (widget), stage, epoch);
}

static void
action_set_unfreeze (GtkWidget *widget, const char *name, GVariant *parameter)
{
  int stage, trainable_from;
  g_variant_get (parameter, "(ii)", &stage, &trainable_from);
  set_unfreeze (GRAFT_SCHEDULE_TIMELINE (widget), stage, trainable_from);
}

static void
action_add_stage (GtkWidget *widget, const char *name, GVariant *parameter)
{
  add_stage (GRAFT_SCHEDULE_TIMELINE (widget), g_variant_get_int32 (parameter));
}

static void
action_remove_stage (GtkWidget *widget, const char *name, GVariant *parameter)
{
  remove_stage (GRAFT_SCHEDULE_TIMELINE (widget), g_variant_get_int32 (parameter));
}

static void
action_select_stage (GtkWidget *widget, const char *name, GVariant *parameter)
{
  set_selected (GRAFT_SCHEDULE_TIMELINE (widget), g_variant_get_int32 (parameter));
}

/* ------------------------------------------------------------------------ */
/* Object                                                                    */

static void
on_session_changed (GraftScheduleTimeline *self)
{
  refresh (self);
}

static void
disconnect_session (GraftScheduleTimeline *self)
{
  if (self->session == NULL)
    return;
  g_clear_signal_handler (&self->model_changed_id, self->session);
  g_clear_signal_handler (&self->spec_changed_id, self->session);
  g_clear_object (&self->session);
}

GraftSession *
graft_schedule_timeline_get_session (GraftScheduleTimeline *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), NULL);
  return self->session;
}

void
graft_schedule_timeline_set_session (GraftScheduleTimeline *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  disconnect_session (self);
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed", G_CALLBACK (on_session_changed), self);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (on_session_changed), self);
    }
  self->selected = -1;
  refresh (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

int
graft_schedule_timeline_get_selected_stage (GraftScheduleTimeline *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), -1);
  return self->selected;
}

void
graft_schedule_timeline_set_selected_stage (GraftScheduleTimeline *self, int stage)
{
  g_return_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self));
  set_selected (self, stage);
}

gboolean
graft_schedule_timeline_cell_trains (GraftScheduleTimeline *self, int block, int epoch)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), FALSE);
  if (self->n_blocks == 0 || block < 0 || block > self->n_blocks || epoch < 0 || epoch >= self->epochs)
    return FALSE;
  switch (self->cells[(gsize) block * self->epochs + epoch])
    {
    case CELL_TRAINS:
    case CELL_HEAD:
      return TRUE;
    default:
      return FALSE;
    }
}

double
graft_schedule_timeline_cell_multiplier (GraftScheduleTimeline *self, int block, int epoch)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), 0);
  if (!graft_schedule_timeline_cell_trains (self, block, epoch))
    return 0;
  return self->row_multiplier[block];
}

gboolean
graft_schedule_timeline_get_stage_handles (GraftScheduleTimeline *self, int stage, graphene_point_t *boundary,
                                           graphene_point_t *edge)
{
  int start, end;

  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), FALSE);
  if (self->n_blocks == 0 || self->row_names->len == 0 || stage < 0 || stage >= self->n_stages
      || self->stages[stage].epoch >= self->epochs)
    return FALSE;
  start = self->stages[stage].epoch;
  end = stage_end (self, stage);
  if (boundary != NULL)
    *boundary = GRAPHENE_POINT_INIT ((float) epoch_x (self, start), (float) (self->strip_y + (STRIP_HEIGHT - 4) / 2));
  if (edge != NULL)
    *edge = GRAPHENE_POINT_INIT ((float) epoch_x (self, (start + end) / 2.0),
                                 (float) edge_y (self, shown_trainable_from (self, stage)));
  return TRUE;
}

gboolean
graft_schedule_timeline_get_cell_center (GraftScheduleTimeline *self, int block, int epoch, graphene_point_t *center)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), FALSE);
  if (self->n_blocks == 0 || self->row_names->len == 0 || block < 0 || block > self->n_blocks || epoch < 0
      || epoch >= self->epochs)
    return FALSE;
  *center = GRAPHENE_POINT_INIT ((float) epoch_x (self, epoch + 0.5), (float) (row_y (self, block) + self->row_h / 2));
  return TRUE;
}

int
graft_schedule_timeline_get_n_curves (GraftScheduleTimeline *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_TIMELINE (self), 0);
  return (int) self->groups->len;
}

GtkWidget *
graft_schedule_timeline_new (void)
{
  return g_object_new (GRAFT_TYPE_SCHEDULE_TIMELINE, NULL);
}

static void
graft_schedule_timeline_dispose (GObject *object)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (object);

  disconnect_session (self);
  g_clear_pointer (&self->menu, gtk_widget_unparent);
  G_OBJECT_CLASS (graft_schedule_timeline_parent_class)->dispose (object);
}

static void
graft_schedule_timeline_finalize (GObject *object)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (object);

  clear_layouts (self);
  g_free (self->cells);
  g_free (self->row_multiplier);
  g_free (self->row_t);
  g_free (self->row_group);
  g_free (self->base_log);
  g_array_unref (self->groups);
  g_array_unref (self->runs);
  g_array_unref (self->x_ticks);
  g_array_unref (self->y_ticks);
  g_ptr_array_unref (self->row_names);
  g_ptr_array_unref (self->row_values);
  g_ptr_array_unref (self->stage_labels);
  G_OBJECT_CLASS (graft_schedule_timeline_parent_class)->finalize (object);
}

static void
graft_schedule_timeline_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_SELECTED_STAGE:
      g_value_set_int (value, self->selected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_schedule_timeline_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftScheduleTimeline *self = GRAFT_SCHEDULE_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_schedule_timeline_set_session (self, g_value_get_object (value));
      break;
    case PROP_SELECTED_STAGE:
      graft_schedule_timeline_set_selected_stage (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_schedule_timeline_class_init (GraftScheduleTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_schedule_timeline_dispose;
  object_class->finalize = graft_schedule_timeline_finalize;
  object_class->get_property = graft_schedule_timeline_get_property;
  object_class->set_property = graft_schedule_timeline_set_property;

  widget_class->snapshot = graft_schedule_timeline_snapshot;
  widget_class->measure = graft_schedule_timeline_measure;
  widget_class->size_allocate = graft_schedule_timeline_size_allocate;
  widget_class->query_tooltip = graft_schedule_timeline_query_tooltip;
  widget_class->system_setting_changed = graft_schedule_timeline_system_setting_changed;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SELECTED_STAGE] = g_param_spec_int ("selected-stage", NULL, NULL, -1, GRAFT_MAX_STAGES - 1, -1,
                                                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                                                        | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "timeline.move-stage", "(ii)", action_move_stage);
  gtk_widget_class_install_action (widget_class, "timeline.set-unfreeze", "(ii)", action_set_unfreeze);
  gtk_widget_class_install_action (widget_class, "timeline.add-stage", "i", action_add_stage);
  gtk_widget_class_install_action (widget_class, "timeline.remove-stage", "i", action_remove_stage);
  gtk_widget_class_install_action (widget_class, "timeline.select-stage", "i", action_select_stage);

  gtk_widget_class_set_css_name (widget_class, "scheduletimeline");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_WIDGET);
}

static void
graft_schedule_timeline_init (GraftScheduleTimeline *self)
{
  GtkGesture *drag, *click;
  GtkEventController *controller;

  self->selected = -1;
  self->hover_handle = self->hover_edge = -1;
  self->groups = g_array_new (FALSE, TRUE, sizeof (Group));
  g_array_set_clear_func (self->groups, (GDestroyNotify) group_clear);
  self->runs = g_array_new (FALSE, FALSE, sizeof (CellRun));
  self->x_ticks = g_array_new (FALSE, TRUE, sizeof (Tick));
  g_array_set_clear_func (self->x_ticks, (GDestroyNotify) tick_clear);
  self->y_ticks = g_array_new (FALSE, TRUE, sizeof (Tick));
  g_array_set_clear_func (self->y_ticks, (GDestroyNotify) tick_clear);
  self->row_names = g_ptr_array_new_with_free_func (g_object_unref);
  self->row_values = g_ptr_array_new_with_free_func (unref_if_set);
  self->stage_labels = g_ptr_array_new_with_free_func (unref_if_set);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focus_on_click (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Unfreezing schedule"), -1);

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_double_click), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_secondary_click), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (controller, "enter", G_CALLBACK (on_motion), self);
  g_signal_connect (controller, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_key_new ();
  g_signal_connect (controller, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_focus_new ();
  g_signal_connect (controller, "enter", G_CALLBACK (on_focus_changed), self);
  g_signal_connect (controller, "leave", G_CALLBACK (on_focus_changed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  refresh (self);
}
