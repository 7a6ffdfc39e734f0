/* graft-freeze-map.c: the freeze map.
 *
 * Geometry: the rows (the model's backbone blocks and the new head) share the height
 * left after the fixed parts (gaps, the cut, the input label). Every row gets
 * MIN_ROW_HEIGHT, so that the smallest block stays readable and clickable; what is left
 * is shared in proportion to the square root of the row's parameters (or FLOPs). A square
 * root keeps MobileNetV2's 900-parameter stem and its 470 K-parameter top blocks on the
 * same page while still showing which blocks are heavy. The extra height is capped
 * (MAX_EXTRA_PER_ROW a row on average), so a three-block network does not turn into three
 * walls.
 *
 * Everything that depends on the size, the model or the spec (row rectangles, text
 * layouts, states) is computed in graft_freeze_map_relayout, called on size allocation
 * and on the session's signals; snapshot only paints.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-colors.h"
#include "graft-format.h"
#include "graft-freeze-map.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <math.h>

#include "model/surgery.h"

#define PADDING 8.0
#define MIN_ROW_HEIGHT 22.0
#define MAX_EXTRA_PER_ROW 48.0
#define MIN_EXTRA_PER_ROW 12.0
#define DETAIL_MIN_HEIGHT 42.0   /* rows this tall show a second line */
#define BLOCK_GAP 2.0
#define HEAD_GAP 10.0
#define CUT_GAP 24.0
#define INPUT_GAP 4.0
#define LEFT_MARGIN 6.0
#define RIGHT_MARGIN 22.0        /* the connector from the cut to the head runs here */
#define RADIUS 6.0
#define ICON_SIZE 16.0
#define ROW_PADDING 10.0
#define PILL_HEIGHT 22.0

typedef struct {
  int index;              /* the block; n_blocks for the head */
  double y, height;
  PangoLayout *name;
  PangoLayout *detail;    /* second line, only for tall rows */
  PangoLayout *value;     /* parameters (and FLOPs) at the right */
  gboolean trains;
  gboolean removed;
  GraftBatchNormPolicy batchnorm; /* the block's, when it has a BatchNorm; else the default */
  double weight;          /* sqrt of the measure */
} Row;

struct _GraftFreezeMap
{
  GtkWidget parent_instance;

  GraftSession *session;
  gulong model_changed_id;
  gulong spec_changed_id;
  gulong datasets_changed_id;

  GraftFreezeMapMeasure measure;
  int epoch;
  int selected;           /* -1: none */
  int anchor;             /* last toggled block, where a Shift range starts; -1 */
  int hover;              /* row under the pointer; -1 */

  /* The layout (graft_freeze_map_relayout). */
  int n_blocks;
  int cut;                /* the block the head is grafted on */
  GArray *rows;           /* Row, rows[i].index == i, the head last */
  double *boundary_y;     /* n_blocks entries: middle of the gap above block b */
  double column_x, column_width;
  PangoLayout *input_label;
  PangoLayout *cut_label;
  double input_y;
  double content_height;  /* for measure(): every row at its minimum */
  double minimum_extra;   /* height the rows get at least beyond their minimum, shared by weight */
  GtkIconPaintable *frozen_icon;
  GtkIconPaintable *trains_icon;
  GtkIconPaintable *removed_icon;
  GtkIconPaintable *cut_icon;
  GtkIconPaintable *head_icon;
  char *accessible_description; /* the last one set */

  /* Pointer. */
  gboolean dragging_cut;
  double drag_start_x, drag_start_y;
  double drag_y;
  int preview_cut;
  int pressed_row;
};

G_DEFINE_FINAL_TYPE (GraftFreezeMap, graft_freeze_map, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SESSION, PROP_MEASURE, PROP_EPOCH, PROP_SELECTED, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { BLOCK_SELECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void graft_freeze_map_relayout (GraftFreezeMap *self);

GType
graft_freeze_map_measure_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GRAFT_FREEZE_MAP_MEASURE_PARAMETERS, "GRAFT_FREEZE_MAP_MEASURE_PARAMETERS", "parameters" },
    { GRAFT_FREEZE_MAP_MEASURE_FLOPS, "GRAFT_FREEZE_MAP_MEASURE_FLOPS", "flops" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static (g_intern_static_string ("GraftFreezeMapMeasure"), values));
  return type;
}

gboolean
graft_freeze_map_head_inputs (GraftSession *session, guint64 *features, int *classes)
{
  GraftModel *model = session != NULL ? graft_session_get_model (session) : NULL;
  GraftSessionSpec *spec;
  GraftDataset *train;
  int cut = -1;

  *features = 0;
  *classes = 2;
  if (session == NULL)
    return FALSE;
  train = graft_session_get_train_dataset (session);
  if (train != NULL && train->classes->len > 0)
    *classes = (int) train->classes->len;
  if (model == NULL)
    return FALSE;
  spec = graft_session_get_spec (session);
  if (spec->cut != NULL)
    cut = graft_graph_find_value (model->graph, spec->cut);
  if (cut < 0)
    cut = graft_model_default_cut (model);
  if (cut >= 0)
    {
      const graft_value *value = graft_graph_value (model->graph, cut);
      if (value->shape.rank >= 2)
        *features = (guint64) MAX (value->shape.dims[1], 0);
    }
  return TRUE;
}

static void
row_clear (Row *row)
{
  g_clear_object (&row->name);
  g_clear_object (&row->detail);
  g_clear_object (&row->value);
}

/* Colours, from libadwaita's named colours, blended with the window background so that
 * they suit the light and the dark style alike. */
typedef struct {
  GdkRGBA fg;
  GdkRGBA fill[4];        /* frozen, trainable, head, removed */
  GdkRGBA border[4];
  GdkRGBA accent;
  GdkRGBA accent_bg;
  GdkRGBA accent_fg;
} Palette;

static void
get_palette (GraftFreezeMap *self, Palette *p)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  G_GNUC_END_IGNORE_DEPRECATIONS
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  GdkRGBA bg = graft_color_named (context, "window_bg_color", dark ? "#242424" : "#fafafa");
  GdkRGBA slate, green, green_dark, purple, purple_dark;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (context, &p->fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  gdk_rgba_parse (&slate, dark ? "#8197ae" : "#5d7691");
  green = graft_color_named (context, "green_4", "#2ec27e");
  green_dark = graft_color_named (context, "green_5", "#26a269");
  purple = graft_color_named (context, "purple_2", "#c061cb");
  purple_dark = graft_color_named (context, "purple_3", "#9141ac");
  p->accent = graft_color_named (context, "accent_color", "#1c71d8");
  p->accent_bg = graft_color_named (context, "accent_bg_color", "#3584e4");
  p->accent_fg = graft_color_named (context, "accent_fg_color", "#ffffff");

  p->fill[0] = graft_color_mix (&bg, &slate, dark ? 0.30f : 0.20f);
  p->border[0] = graft_color_mix (&bg, &slate, dark ? 0.62f : 0.55f);
  p->fill[1] = graft_color_mix (&bg, dark ? &green_dark : &green, dark ? 0.58f : 0.48f);
  p->border[1] = dark ? green : green_dark;
  p->fill[2] = graft_color_mix (&bg, dark ? &purple_dark : &purple, dark ? 0.62f : 0.40f);
  p->border[2] = dark ? purple : purple_dark;
  p->fill[3] = bg;
  p->border[3] = p->fg;
  p->border[3].alpha *= 0.30f;
}

static GtkIconPaintable *
lookup_icon (GraftFreezeMap *self, const char *name)
{
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (self)));
  return gtk_icon_theme_lookup_icon (theme, name, NULL, (int) ICON_SIZE, gtk_widget_get_scale_factor (GTK_WIDGET (self)),
                                     gtk_widget_get_direction (GTK_WIDGET (self)), 0);
}

static PangoLayout *
make_layout (GraftFreezeMap *self, const char *text, double scale, gboolean bold, double width)
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
  if (width > 0)
    {
      pango_layout_set_width (layout, (int) (width * PANGO_SCALE));
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
    }
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

static double
gap_above (GraftFreezeMap *self, int block)
{
  if (block == self->cut)
    return CUT_GAP;
  if (block == self->n_blocks - 1)
    return HEAD_GAP;
  return BLOCK_GAP;
}

static const char *
head_kind (const GraftHeadSpec *head)
{
  return head->n_hidden == 0 ? _("Linear") : _("MLP");
}

/* The measure of block b (n_blocks: the head). */
static double
row_measure (GraftFreezeMap *self, int b, guint64 head_parameters)
{
  if (b == self->n_blocks)
    return self->measure == GRAFT_FREEZE_MAP_MEASURE_FLOPS ? 2.0 * (double) head_parameters : (double) head_parameters;
  {
    const GraftBlock *block = graft_session_get_block (self->session, b);
    return self->measure == GRAFT_FREEZE_MAP_MEASURE_FLOPS ? block->flops : (double) block->parameters;
  }
}

/* Whether block b has a BatchNorm (its policy then matters). */
static gboolean
block_has_batchnorm (GraftFreezeMap *self, int b)
{
  GraftModel *model = graft_session_get_model (self->session);
  const GraftBlock *block = graft_session_get_block (self->session, b);
  for (int n = block != NULL ? block->first_node : 0; block != NULL && n <= block->last_node; n++)
    if (graft_graph_node (model->graph, n)->attributes.op == GRAFT_OP_BATCHNORM)
      return TRUE;
  return FALSE;
}

/* The block's BatchNorm policy in words, for the map and its description. */
const char *
graft_freeze_map_describe_batchnorm (GraftBatchNormPolicy policy)
{
  switch (policy)
    {
    case GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS:
      return _("BatchNorm: batch statistics");
    case GRAFT_BATCHNORM_RECALIBRATE:
      return _("BatchNorm: recalibrated");
    case GRAFT_BATCHNORM_FROZEN_INFERENCE:
    default:
      return _("BatchNorm: running statistics");
    }
}

static char *
describe_value (GraftFreezeMap *self, guint64 parameters, double flops)
{
  g_autofree char *p = graft_format_count ((double) parameters);
  g_autofree char *f = graft_format_count (flops);

  if (self->measure == GRAFT_FREEZE_MAP_MEASURE_FLOPS)
    /* Translators: parameters · FLOPs of a block, "474 K · 46.2 MFLOPs" (the
     * FLOPs count already has its prefix and a space: "46.2 M"). */
    return g_strdup_printf (_("%s · %sFLOPs"), p, f);
  return g_steal_pointer (&p);
}

static void
set_accessible_description (GraftFreezeMap *self, const char *description)
{
  if (g_strcmp0 (self->accessible_description, description) == 0)
    return;
  g_free (self->accessible_description);
  self->accessible_description = g_strdup (description);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description, -1);
}

static void
update_accessible (GraftFreezeMap *self)
{
  g_autoptr (GString) description = g_string_new (NULL);
  int trainable = 0;

  if (self->session == NULL || self->n_blocks == 0)
    {
      set_accessible_description (self, _("No model is loaded."));
      return;
    }
  for (guint i = 0; i < self->rows->len; i++)
    {
      const Row *row = &g_array_index (self->rows, Row, i);
      if (row->index < self->n_blocks && row->trains && !row->removed)
        trainable++;
    }
  if (self->selected >= 0 && self->selected < self->n_blocks)
    {
      const GraftBlock *block = graft_session_get_block (self->session, self->selected);
      const Row *row = &g_array_index (self->rows, Row, self->selected);
      g_autofree char *count = graft_format_count ((double) block->parameters);
      const char *state = row->removed ? _("removed, above the cut") : row->trains ? _("trainable") : _("frozen");
      /* Translators: the selected block: name, parameter count, state. */
      g_string_append_printf (description, _("Selected: %s, %s parameters, %s."), block->name, count, state);
      g_string_append_c (description, ' ');
      if (block_has_batchnorm (self, self->selected))
        {
          g_string_append (description, graft_freeze_map_describe_batchnorm (graft_session_spec_block_batchnorm (
                                            graft_session_get_spec (self->session), block->name)));
          g_string_append (description, ". ");
        }
    }
  else if (self->selected == self->n_blocks)
    {
      g_string_append (description, _("Selected: the new head, which always trains."));
      g_string_append_c (description, ' ');
    }
  g_string_append_printf (description,
                          /* Translators: the whole map: trainable blocks, blocks, the block the head sits on. */
                          g_dngettext (GETTEXT_PACKAGE, "%d of %d block trainable; the new head is grafted after %s.",
                                       "%d of %d blocks trainable; the new head is grafted after %s.", self->cut + 1),
                          trainable,
                          self->cut + 1, graft_session_get_block (self->session, self->cut)->name);
  g_string_append_c (description, ' ');
  g_string_append (description, _("Up and Down select a block, Space freezes or unfreezes it, Shift extends the "
                                  "selection, Control with Up or Down moves the cut, B changes how its BatchNorm "
                                  "normalises."));
  set_accessible_description (self, description->str);
}

/* Recomputes rows, text and states for the current size, model and spec. */
static void
graft_freeze_map_relayout (GraftFreezeMap *self)
{
  double width = gtk_widget_get_width (GTK_WIDGET (self));
  double height = gtk_widget_get_height (GTK_WIDGET (self));
  GraftSessionSpec *spec;
  GraftModel *model;
  guint64 features = 0, head_parameters;
  int classes = 2;
  double fixed, extra, sum_weight = 0, max_weight = 0, y, text_width;

  g_array_set_size (self->rows, 0);
  g_clear_pointer (&self->boundary_y, g_free);
  g_clear_object (&self->input_label);
  g_clear_object (&self->cut_label);
  self->n_blocks = self->session != NULL ? graft_session_get_n_blocks (self->session) : 0;
  self->content_height = 0;
  if (self->n_blocks == 0)
    {
      update_accessible (self);
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  if (width <= 1)
    width = 360;
  model = graft_session_get_model (self->session);
  spec = graft_session_get_spec (self->session);
  self->cut = CLAMP (graft_session_get_cut_block (self->session), 0, self->n_blocks - 1);
  if (self->selected > self->n_blocks)
    self->selected = -1;
  graft_freeze_map_head_inputs (self->session, &features, &classes);
  head_parameters = graft_head_parameter_count (&spec->head, features, classes);

  self->column_x = LEFT_MARGIN;
  self->column_width = MAX (width - LEFT_MARGIN - RIGHT_MARGIN, 120);
  text_width = self->column_width - 2 * ROW_PADDING - ICON_SIZE - 8;

  /* The input label, at the bottom. */
  {
    const graft_value *input = graft_graph_value (model->graph, model->input);
    g_autofree char *text = NULL;
    if (input->shape.rank == 4)
      {
        gint64 c = model->input_nhwc ? input->shape.dims[3] : input->shape.dims[1];
        gint64 h = model->input_nhwc ? input->shape.dims[1] : input->shape.dims[2];
        gint64 w = model->input_nhwc ? input->shape.dims[2] : input->shape.dims[3];
        /* Translators: the model's input image: width × height, channels. */
        text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Input: %d × %d pixels, %d channel",
                                                     "Input: %d × %d pixels, %d channels", (gulong) c),
                                (int) w, (int) h, (int) c);
      }
    else
      text = g_strdup (_("Input"));
    self->input_label = make_layout (self, text, 0.85, FALSE, self->column_width);
    pango_layout_set_alignment (self->input_label, PANGO_ALIGN_CENTER);
  }
  /* Translators: the handle that marks where the network is cut. */
  self->cut_label = make_layout (self, C_("freeze map", "Cut"), 0.85, TRUE, -1);

  /* Rows: blocks, then the head. */
  for (int b = 0; b <= self->n_blocks; b++)
    {
      Row row = { .index = b };
      row.weight = sqrt (MAX (row_measure (self, b, head_parameters), 0.0));
      sum_weight += row.weight;
      max_weight = MAX (max_weight, row.weight);
      g_array_append_val (self->rows, row);
    }
  fixed = 2 * PADDING + INPUT_GAP + layout_height (self->input_label);
  for (int b = 0; b < self->n_blocks; b++)
    fixed += gap_above (self, b);
  fixed += (self->n_blocks + 1) * MIN_ROW_HEIGHT;
  self->content_height = fixed;
  /* At the least, enough extra height for the heaviest row to be two and a half times
   * the minimum (so that sizes show), within MIN_EXTRA_PER_ROW a row. */
  self->minimum_extra = max_weight > 0 ? 1.5 * MIN_ROW_HEIGHT * sum_weight / max_weight : 0;
  self->minimum_extra = round (MIN (self->minimum_extra, MIN_EXTRA_PER_ROW * (self->n_blocks + 1)));
  extra = MAX (height - fixed, self->minimum_extra);
  extra = MIN (extra, MAX_EXTRA_PER_ROW * (self->n_blocks + 1));

  /* Top to bottom: the head, then blocks n-1 .. 0. */
  self->boundary_y = g_new0 (double, self->n_blocks);
  y = PADDING;
  for (int b = self->n_blocks; b >= 0; b--)
    {
      Row *row = &g_array_index (self->rows, Row, b);
      row->height = MIN_ROW_HEIGHT + (sum_weight > 0 ? extra * row->weight / sum_weight : extra / (self->n_blocks + 1));
      row->height = round (row->height);
      row->y = y;
      y += row->height;
      if (b > 0)
        {
          double gap = gap_above (self, b - 1);
          self->boundary_y[b - 1] = y + gap / 2;
          y += gap;
        }
    }
  self->input_y = y + INPUT_GAP;

  /* Text and state. */
  for (int b = 0; b <= self->n_blocks; b++)
    {
      Row *row = &g_array_index (self->rows, Row, b);
      g_autofree char *value = NULL;
      g_autofree char *detail = NULL;
      g_autofree char *name_text = NULL;
      const char *name;
      double value_width;

      if (b == self->n_blocks)
        {
          name = _("New head");
          row->trains = TRUE;
          row->removed = FALSE;
          value = describe_value (self, head_parameters, 2.0 * (double) head_parameters);
          {
            g_autoptr (GString) sizes = g_string_new (NULL);
            g_string_append_printf (sizes, "%d", (int) features);
            for (int i = 0; i < spec->head.n_hidden; i++)
              g_string_append_printf (sizes, " → %d", spec->head.hidden[i]);
            /* Translators: the new head: kind, sizes, classes: "MLP, 1280 → 256 → 2 classes". */
            detail = g_strdup_printf (ngettext ("%s, %s → %d class", "%s, %s → %d classes", classes),
                                      head_kind (&spec->head), sizes->str, classes);
          }
        }
      else
        {
          const GraftBlock *block = graft_session_get_block (self->session, b);
          int layers = block->last_node - block->first_node + 1;
          g_autofree char *flops = graft_format_count (block->flops);
          name = block->name;
          row->removed = b > self->cut;
          row->trains = graft_session_get_block_trains (self->session, b, self->epoch);
          value = describe_value (self, block->parameters, block->flops);
          if (self->measure == GRAFT_FREEZE_MAP_MEASURE_FLOPS)
            detail = g_strdup_printf (ngettext ("%d layer", "%d layers", layers), layers);
          else
            /* Translators: "9 layers · 46.2 MFLOPs"; the FLOPs count has its prefix: "46.2 M". */
            detail = g_strdup_printf (ngettext ("%d layer · %sFLOPs", "%d layers · %sFLOPs", layers), layers, flops);
          /* A block whose BatchNorm does not keep its running statistics says so on its row. */
          row->batchnorm = GRAFT_BATCHNORM_FROZEN_INFERENCE;
          if (!row->removed && block_has_batchnorm (self, b))
            row->batchnorm = graft_session_spec_block_batchnorm (spec, block->name);
          if (row->batchnorm != GRAFT_BATCHNORM_FROZEN_INFERENCE)
            {
              char *with = g_strdup_printf ("%s · %s", detail, graft_freeze_map_describe_batchnorm (row->batchnorm));
              g_free (detail);
              detail = with;
              /* A row too short for its detail line says it after the name. */
              if (row->height < DETAIL_MIN_HEIGHT)
                {
                  /* Translators: after a block's name on the freeze map when its BatchNorm does not
                   * keep its running statistics: "features.12 · BN recalibrated". */
                  name_text = g_strdup_printf ("%s · %s", block->name,
                                               row->batchnorm == GRAFT_BATCHNORM_RECALIBRATE ? _("BN recalibrated")
                                                                                             : _("BN batch"));
                  name = name_text;
                }
            }
        }
      row->value = make_layout (self, value, 0.9, FALSE, -1);
      value_width = layout_width (row->value);
      row->name = make_layout (self, name, 1.0, b == self->n_blocks, text_width - value_width - 12);
      if (row->height >= DETAIL_MIN_HEIGHT)
        row->detail = make_layout (self, detail, 0.8, FALSE, text_width);
    }

  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The session changed the model: the minimum height may change too. */
static void
on_model_changed (GraftFreezeMap *self)
{
  self->selected = -1;
  self->anchor = -1;
  self->hover = -1;
  graft_freeze_map_relayout (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
on_spec_changed (GraftFreezeMap *self)
{
  double before = self->content_height + self->minimum_extra;
  graft_freeze_map_relayout (self);
  if (before != self->content_height + self->minimum_extra)
    gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* Painting. */

static void
hatch (cairo_t *cr, double x, double y, double w, double h, const GdkRGBA *color)
{
  cairo_save (cr);
  graft_rounded_rectangle (cr, x, y, w, h, RADIUS);
  cairo_clip (cr);
  graft_color_set_source (cr, color, 0.13);
  cairo_set_line_width (cr, 1.5);
  for (double d = -h; d < w; d += 8)
    {
      cairo_move_to (cr, x + d, y + h);
      cairo_line_to (cr, x + d + h, y);
    }
  cairo_stroke (cr);
  cairo_restore (cr);
}

static void
snapshot_icon (GtkSnapshot *snapshot, GtkIconPaintable *icon, double x, double y, const GdkRGBA *color)
{
  GdkRGBA colors[4] = { *color, *color, *color, *color };
  if (icon == NULL)
    return;
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((float) x, (float) y));
  gtk_symbolic_paintable_snapshot_symbolic (GTK_SYMBOLIC_PAINTABLE (icon), snapshot, ICON_SIZE, ICON_SIZE, colors, 4);
  gtk_snapshot_restore (snapshot);
}

static void
graft_freeze_map_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);
  double width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  int cut = self->dragging_cut ? self->preview_cut : self->cut;
  gboolean focused = gtk_widget_has_focus (widget);
  const Row *head;
  double x = self->column_x, w = self->column_width;
  double cut_y, pill_w, pill_x;
  Palette p;
  cairo_t *cr;

  if (self->n_blocks == 0 || self->rows->len == 0)
    return;
  get_palette (self, &p);
  head = &g_array_index (self->rows, Row, self->n_blocks);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, (float) width, (float) height));

  /* The connector: the head is grafted on the cut, past the removed blocks. */
  cut_y = self->boundary_y[cut];
  if (self->dragging_cut)
    cut_y = CLAMP (self->drag_y, self->boundary_y[self->n_blocks - 1], self->boundary_y[0]);
  pill_w = ICON_SIZE + 6 + layout_width (self->cut_label) + 2 * 10;
  pill_x = x + w - pill_w - 8;
  {
    double cx = x + w + RIGHT_MARGIN / 2;
    graft_color_set_source (cr, &p.border[GRAFT_FREEZE_MAP_HEAD], 1);
    cairo_set_line_width (cr, 2);
    cairo_move_to (cr, x + w, head->y + head->height / 2);
    cairo_line_to (cr, cx - 4, head->y + head->height / 2);
    cairo_arc (cr, cx - 4, head->y + head->height / 2 + 4, 4, -G_PI / 2, 0);
    cairo_line_to (cr, cx, cut_y - 4);
    cairo_arc (cr, cx - 4, cut_y - 4, 4, 0, G_PI / 2);
    cairo_line_to (cr, pill_x + pill_w, cut_y);
    cairo_stroke (cr);
  }

  /* The rows. */
  for (guint i = 0; i < self->rows->len; i++)
    {
      const Row *row = &g_array_index (self->rows, Row, i);
      gboolean removed = row->index < self->n_blocks && row->index > cut;
      GraftFreezeMapState kind = row->index == self->n_blocks ? GRAFT_FREEZE_MAP_HEAD
                                 : removed                    ? GRAFT_FREEZE_MAP_REMOVED
                                 : row->trains                ? GRAFT_FREEZE_MAP_TRAINABLE
                                                              : GRAFT_FREEZE_MAP_FROZEN;
      double ry = row->y, rh = row->height;
      double text_alpha = kind == GRAFT_FREEZE_MAP_REMOVED ? 0.5 : 1.0;
      double tx = x + ROW_PADDING + ICON_SIZE + 8;
      double name_h = layout_height (row->name);
      double line_y;

      graft_rounded_rectangle (cr, x + 0.5, ry + 0.5, w - 1, rh - 1, RADIUS);
      graft_color_set_source (cr, &p.fill[kind], 1);
      cairo_fill_preserve (cr);
      if ((int) i == self->hover && !self->dragging_cut)
        {
          graft_color_set_source (cr, &p.fg, 0.07);
          cairo_fill_preserve (cr);
        }
      graft_color_set_source (cr, &p.border[kind], 1);
      cairo_set_line_width (cr, 1);
      if (kind == GRAFT_FREEZE_MAP_REMOVED)
        {
          static const double dashes[] = { 4, 3 };
          cairo_set_dash (cr, dashes, 2, 0);
          cairo_stroke (cr);
          cairo_set_dash (cr, NULL, 0, 0);
          hatch (cr, x, ry, w, rh, &p.fg);
        }
      else
        cairo_stroke (cr);

      if ((int) i == self->selected)
        {
          /* The selection: an accent outline; with the keyboard focus, a wider halo too. */
          if (focused)
            {
              graft_rounded_rectangle (cr, x - 2.5, ry - 2.5, w + 5, rh + 5, RADIUS + 2.5);
              graft_color_set_source (cr, &p.accent, 0.35);
              cairo_set_line_width (cr, 3);
              cairo_stroke (cr);
            }
          graft_rounded_rectangle (cr, x + 1, ry + 1, w - 2, rh - 2, RADIUS - 1);
          graft_color_set_source (cr, &p.accent, 1.0);
          cairo_set_line_width (cr, 2);
          cairo_stroke (cr);
        }

      /* Name (and detail) at the left, the value at the right, centred vertically. */
      line_y = row->detail != NULL ? ry + (rh - name_h - layout_height (row->detail) - 1) / 2 : ry + (rh - name_h) / 2;
      graft_color_set_source (cr, &p.fg, text_alpha);
      cairo_move_to (cr, tx, line_y);
      pango_cairo_show_layout (cr, row->name);
      cairo_move_to (cr, x + w - ROW_PADDING - layout_width (row->value),
                     line_y + (name_h - layout_height (row->value)) / 2);
      graft_color_set_source (cr, &p.fg, text_alpha * 0.75);
      pango_cairo_show_layout (cr, row->value);
      if (row->detail != NULL)
        {
          graft_color_set_source (cr, &p.fg, text_alpha * 0.7);
          cairo_move_to (cr, tx, line_y + name_h + 1);
          pango_cairo_show_layout (cr, row->detail);
        }
    }

  /* The cut handle. */
  {
    static const double dashes[] = { 6, 4 };
    double ph = PILL_HEIGHT;
    graft_color_set_source (cr, &p.accent, 1);
    cairo_set_line_width (cr, 2);
    cairo_set_dash (cr, dashes, 2, 0);
    cairo_move_to (cr, x + 2, cut_y);
    cairo_line_to (cr, pill_x, cut_y);
    cairo_stroke (cr);
    cairo_set_dash (cr, NULL, 0, 0);
    graft_rounded_rectangle (cr, pill_x, cut_y - ph / 2, pill_w, ph, ph / 2);
    graft_color_set_source (cr, &p.accent_bg, 1);
    cairo_fill (cr);
    graft_color_set_source (cr, &p.accent_fg, 1);
    cairo_move_to (cr, pill_x + 10 + ICON_SIZE + 6, cut_y - layout_height (self->cut_label) / 2);
    pango_cairo_show_layout (cr, self->cut_label);
  }

  /* The input, under the first block. */
  graft_color_set_source (cr, &p.fg, 0.6);
  cairo_move_to (cr, x, self->input_y);
  pango_cairo_show_layout (cr, self->input_label);
  cairo_destroy (cr);

  /* Icons, over the cairo drawing. */
  for (guint i = 0; i < self->rows->len; i++)
    {
      const Row *row = &g_array_index (self->rows, Row, i);
      gboolean removed = row->index < self->n_blocks && row->index > cut;
      GtkIconPaintable *icon;
      GdkRGBA color = p.fg;
      double line_y;
      if (row->index == self->n_blocks)
        icon = self->head_icon;
      else
        icon = removed ? self->removed_icon : row->trains ? self->trains_icon : self->frozen_icon;
      if (removed)
        color.alpha *= 0.5;
      line_y = row->detail != NULL
                   ? row->y + (row->height - layout_height (row->name) - layout_height (row->detail) - 1) / 2
                   : row->y + (row->height - layout_height (row->name)) / 2;
      snapshot_icon (snapshot, icon, x + ROW_PADDING, line_y + (layout_height (row->name) - ICON_SIZE) / 2, &color);
    }
  snapshot_icon (snapshot, self->cut_icon, pill_x + 10, cut_y - ICON_SIZE / 2, &p.accent_fg);
}

/* Sizing. */

static void
graft_freeze_map_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                          int *natural, int *minimum_baseline, int *natural_baseline)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 260;
      *natural = 380;
      return;
    }
  if (self->n_blocks == 0)
    {
      *minimum = *natural = 0;
      return;
    }
  /* content_height is the height with every row at its minimum; relayout keeps it. */
  *minimum = (int) ceil (self->content_height + self->minimum_extra);
  *natural = MAX (*minimum, (int) ceil (self->content_height + MAX_EXTRA_PER_ROW / 2 * (self->n_blocks + 1)));
}

static void
graft_freeze_map_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  graft_freeze_map_relayout (GRAFT_FREEZE_MAP (widget));
}

static void
graft_freeze_map_realize_icons (GraftFreezeMap *self)
{
  g_clear_object (&self->frozen_icon);
  g_clear_object (&self->trains_icon);
  g_clear_object (&self->removed_icon);
  g_clear_object (&self->cut_icon);
  g_clear_object (&self->head_icon);
  self->head_icon = lookup_icon (self, "list-add-symbolic");
  self->frozen_icon = lookup_icon (self, "changes-prevent-symbolic");
  self->trains_icon = lookup_icon (self, "object-select-symbolic");
  self->removed_icon = lookup_icon (self, "edit-cut-symbolic");
  self->cut_icon = lookup_icon (self, "edit-cut-symbolic");
}

static void
graft_freeze_map_root (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (graft_freeze_map_parent_class)->root (widget);
  graft_freeze_map_realize_icons (GRAFT_FREEZE_MAP (widget));
  /* The Pango context may have changed with the root. */
  graft_freeze_map_relayout (GRAFT_FREEZE_MAP (widget));
}

/* Hit testing and editing. */

static int
row_at (GraftFreezeMap *self, double x, double y)
{
  if (x < self->column_x - 2 || x > self->column_x + self->column_width + 2)
    return -1;
  for (guint i = 0; i < self->rows->len; i++)
    {
      const Row *row = &g_array_index (self->rows, Row, i);
      if (y >= row->y - BLOCK_GAP / 2 && y < row->y + row->height + BLOCK_GAP / 2)
        return (int) i;
    }
  return -1;
}

static gboolean
on_cut_handle (GraftFreezeMap *self, double x, double y)
{
  if (self->n_blocks == 0)
    return FALSE;
  return fabs (y - self->boundary_y[self->cut]) <= CUT_GAP / 2 && x >= self->column_x
         && x <= self->column_x + self->column_width + RIGHT_MARGIN;
}

static int
nearest_boundary (GraftFreezeMap *self, double y)
{
  int best = self->cut;
  double best_distance = G_MAXDOUBLE;
  for (int b = 0; b < self->n_blocks; b++)
    if (fabs (y - self->boundary_y[b]) < best_distance)
      {
        best_distance = fabs (y - self->boundary_y[b]);
        best = b;
      }
  return best;
}

/* Scrolls the row into view when the map is the child of a GtkViewport (as in a
 * GtkScrolledWindow); the arithmetic uses the adjustment, not the allocation, which lags
 * a frame behind a scroll. */
static void
scroll_to_row (GraftFreezeMap *self, int index)
{
  GtkWidget *viewport = gtk_widget_get_parent (GTK_WIDGET (self));
  GtkAdjustment *adjustment;
  const Row *row;
  double top, bottom, value, page;

  if (!GTK_IS_VIEWPORT (viewport) || index < 0 || index >= (int) self->rows->len)
    return;
  adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (viewport));
  if (adjustment == NULL)
    return;
  row = &g_array_index (self->rows, Row, index);
  top = gtk_widget_get_margin_top (GTK_WIDGET (self)) + row->y - 6;
  bottom = gtk_widget_get_margin_top (GTK_WIDGET (self)) + row->y + row->height + 6;
  value = gtk_adjustment_get_value (adjustment);
  page = gtk_adjustment_get_page_size (adjustment);
  if (top < value)
    gtk_adjustment_set_value (adjustment, top);
  else if (bottom > value + page)
    gtk_adjustment_set_value (adjustment, bottom - page);
}

void
graft_freeze_map_set_selected (GraftFreezeMap *self, int block)
{
  g_return_if_fail (GRAFT_IS_FREEZE_MAP (self));

  if (block < -1 || block > self->n_blocks)
    block = -1;
  if (self->selected == block)
    return;
  self->selected = block;
  scroll_to_row (self, block);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED]);
  g_signal_emit (self, signals[BLOCK_SELECTED], 0, block);
}

/* Parameter overrides of the block's layers give way to a whole-block toggle. */
static void
clear_parameter_overrides (GraftFreezeMap *self, int first, int last)
{
  GraftModel *model = graft_session_get_model (self->session);
  GraftSessionSpec *spec = graft_session_get_spec (self->session);

  for (int b = MIN (first, last); b <= MAX (first, last); b++)
    {
      const GraftBlock *block = graft_session_get_block (self->session, b);
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (model->graph, n);
          for (int i = 0; i < node->n_inputs; i++)
            {
              const graft_value *value = graft_graph_value (model->graph, node->inputs[i]);
              if (value->kind == GRAFT_VALUE_PARAMETER)
                g_hash_table_remove (spec->parameter_overrides, value->name);
            }
        }
    }
}

static gboolean
block_editable (GraftFreezeMap *self, int block)
{
  return self->session != NULL && block >= 0 && block < self->n_blocks && block <= self->cut;
}

static void
toggle_block (GraftFreezeMap *self, int block)
{
  gboolean trains;
  if (!block_editable (self, block))
    return;
  trains = !graft_session_get_block_trains (self->session, block, self->epoch);
  self->anchor = block;
  clear_parameter_overrides (self, block, block);
  graft_session_set_block_trains (self->session, block, trains);
}

/* Blocks from the anchor to block take the anchor's state. */
static void
extend_to (GraftFreezeMap *self, int block)
{
  int last = MIN (block, self->cut);
  gboolean trains;

  if (!block_editable (self, self->anchor))
    {
      toggle_block (self, block);
      return;
    }
  if (last < 0 || self->anchor == last)
    return;
  trains = graft_session_get_block_trains (self->session, self->anchor, self->epoch);
  clear_parameter_overrides (self, self->anchor, last);
  graft_session_set_block_range_trains (self->session, self->anchor, last, trains);
}

static void
set_cut (GraftFreezeMap *self, int block)
{
  if (self->session == NULL || self->n_blocks == 0)
    return;
  block = CLAMP (block, 0, self->n_blocks - 1);
  if (block == graft_session_get_cut_block (self->session))
    return;
  graft_session_set_cut_block (self->session, block);
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, GraftFreezeMap *self)
{
  if (self->n_blocks == 0)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_widget_grab_focus (GTK_WIDGET (self));
  self->drag_start_x = x;
  self->drag_start_y = y;
  self->pressed_row = -1;
  if (on_cut_handle (self, x, y))
    {
      self->dragging_cut = TRUE;
      self->preview_cut = self->cut;
      self->drag_y = y;
      gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "grabbing");
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  else
    self->pressed_row = row_at (self, x, y);
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, GraftFreezeMap *self)
{
  if (!self->dragging_cut)
    return;
  self->drag_y = self->drag_start_y + dy;
  self->preview_cut = nearest_boundary (self, self->drag_y);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, GraftFreezeMap *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));

  if (self->dragging_cut)
    {
      int cut = nearest_boundary (self, self->drag_start_y + dy);
      self->dragging_cut = FALSE;
      gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "grab");
      set_cut (self, cut);
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  if (self->pressed_row < 0 || fabs (dx) > 8 || fabs (dy) > 8
      || row_at (self, self->drag_start_x + dx, self->drag_start_y + dy) != self->pressed_row)
    return;
  graft_freeze_map_set_selected (self, self->pressed_row);
  if ((state & GDK_SHIFT_MASK) != 0)
    extend_to (self, self->pressed_row);
  else
    toggle_block (self, self->pressed_row);
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, GraftFreezeMap *self)
{
  int hover = self->dragging_cut ? -1 : row_at (self, x, y);

  if (!self->dragging_cut)
    gtk_widget_set_cursor_from_name (GTK_WIDGET (self), on_cut_handle (self, x, y) ? "grab"
                                                        : hover >= 0 ? "pointer" : NULL);
  if (hover != self->hover)
    {
      self->hover = hover;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void
on_leave (GtkEventControllerMotion *controller, GraftFreezeMap *self)
{
  if (self->hover != -1)
    {
      self->hover = -1;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void cycle_batchnorm (GraftFreezeMap *self, int block);

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
                GraftFreezeMap *self)
{
  gboolean shift = (state & GDK_SHIFT_MASK) != 0;
  gboolean control = (state & GDK_CONTROL_MASK) != 0;
  int target;

  if (self->n_blocks == 0)
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
    case GDK_KEY_Down:
    case GDK_KEY_KP_Down:
      {
        int step = keyval == GDK_KEY_Up || keyval == GDK_KEY_KP_Up ? 1 : -1;
        if (control)
          {
            set_cut (self, self->cut + step);
            return TRUE;
          }
        if (self->selected < 0)
          target = step > 0 ? 0 : self->n_blocks;
        else
          target = CLAMP (self->selected + step, 0, self->n_blocks);
        if (shift && self->anchor < 0 && block_editable (self, self->selected))
          self->anchor = self->selected;
        graft_freeze_map_set_selected (self, target);
        if (shift)
          extend_to (self, target);
        return TRUE;
      }
    case GDK_KEY_Home:
    case GDK_KEY_KP_Home:
      graft_freeze_map_set_selected (self, self->n_blocks);
      return TRUE;
    case GDK_KEY_End:
    case GDK_KEY_KP_End:
      graft_freeze_map_set_selected (self, 0);
      return TRUE;
    case GDK_KEY_space:
    case GDK_KEY_KP_Space:
    case GDK_KEY_Return:
    case GDK_KEY_KP_Enter:
      if (self->selected < 0)
        return FALSE;
      toggle_block (self, self->selected);
      return TRUE;
    case GDK_KEY_b:
    case GDK_KEY_B:
      if (self->selected < 0 || control)
        return FALSE;
      cycle_batchnorm (self, self->selected);
      return TRUE;
    default:
      return FALSE;
    }
}

static void
on_focus_enter (GtkEventControllerFocus *controller, GraftFreezeMap *self)
{
  if (self->selected < 0 && self->n_blocks > 0)
    graft_freeze_map_set_selected (self, self->cut);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_focus_leave (GtkEventControllerFocus *controller, GraftFreezeMap *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
graft_freeze_map_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);
  int index = keyboard ? self->selected : row_at (self, x, y);
  g_autofree char *text = NULL;
  const Row *row;

  if (!keyboard && on_cut_handle (self, x, y))
    {
      gtk_tooltip_set_text (tooltip, _("Drag to cut the network at another block: the blocks above the cut are "
                                       "removed and the new head is grafted on the block below it"));
      return TRUE;
    }
  if (index < 0 || index >= (int) self->rows->len)
    return FALSE;
  row = &g_array_index (self->rows, Row, index);
  if (index == self->n_blocks)
    text = g_strdup (_("The new head, grafted on the cut; it always trains"));
  else
    {
      const GraftBlock *block = graft_session_get_block (self->session, index);
      g_autofree char *flops = graft_format_count (block->flops);
      g_autofree char *exact = NULL;
      const char *state, *hint;
      if (row->removed)
        {
          state = _("Removed: it is above the cut");
          hint = _("Drag the cut above it to keep it");
        }
      else if (row->trains)
        {
          state = _("Trainable");
          hint = _("Click to freeze it, Shift+click to freeze a range");
        }
      else
        {
          state = _("Frozen");
          hint = _("Click to train it, Shift+click to train a range");
        }
      /* Translators: tooltip of a block: name, exact parameter count, FLOPs, state, hint. */
      exact = graft_format_count_exact (block->parameters);
      text = g_strdup_printf (_("%s\n%s parameters, %sFLOPs per image\n%s\n%s"), block->name, exact, flops, state,
                              hint);
    }
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* Actions. */

static void
action_toggle (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);
  int block = g_variant_get_int32 (parameter);
  graft_freeze_map_set_selected (self, block);
  toggle_block (self, block);
}

static void
action_extend (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);
  int block = g_variant_get_int32 (parameter);
  graft_freeze_map_set_selected (self, block);
  extend_to (self, block);
}

static void
action_set_cut (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  set_cut (GRAFT_FREEZE_MAP (widget), g_variant_get_int32 (parameter));
}

/* The next BatchNorm policy of block: running statistics, batch statistics, recalibrate. */
static void
cycle_batchnorm (GraftFreezeMap *self, int block)
{
  const GraftBlock *b = self->session != NULL ? graft_session_get_block (self->session, block) : NULL;
  GraftSessionSpec *spec;
  GraftBatchNormPolicy policy;

  if (b == NULL || block >= self->n_blocks || !block_has_batchnorm (self, block))
    return;
  spec = graft_session_get_spec (self->session);
  policy = (graft_session_spec_block_batchnorm (spec, b->name) + 1) % (GRAFT_BATCHNORM_RECALIBRATE + 1);
  graft_session_spec_set_block_batchnorm (spec, b->name, policy);
  graft_session_spec_changed (self->session);
}

static void
action_cycle_batchnorm (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (widget);
  int block = g_variant_get_int32 (parameter);
  graft_freeze_map_set_selected (self, block);
  cycle_batchnorm (self, block);
}

static void
action_select (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_freeze_map_set_selected (GRAFT_FREEZE_MAP (widget), g_variant_get_int32 (parameter));
}

/* GObject. */

static void
disconnect_session (GraftFreezeMap *self)
{
  if (self->session == NULL)
    return;
  g_clear_signal_handler (&self->model_changed_id, self->session);
  g_clear_signal_handler (&self->spec_changed_id, self->session);
  g_clear_signal_handler (&self->datasets_changed_id, self->session);
  g_clear_object (&self->session);
}

void
graft_freeze_map_set_session (GraftFreezeMap *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_FREEZE_MAP (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  disconnect_session (self);
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed", G_CALLBACK (on_model_changed), self);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (on_spec_changed), self);
      self->datasets_changed_id = g_signal_connect_swapped (session, "datasets-changed", G_CALLBACK (on_spec_changed), self);
    }
  on_model_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftSession *
graft_freeze_map_get_session (GraftFreezeMap *self)
{
  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), NULL);
  return self->session;
}

GraftFreezeMapMeasure
graft_freeze_map_get_measure (GraftFreezeMap *self)
{
  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), GRAFT_FREEZE_MAP_MEASURE_PARAMETERS);
  return self->measure;
}

void
graft_freeze_map_set_measure (GraftFreezeMap *self, GraftFreezeMapMeasure measure)
{
  g_return_if_fail (GRAFT_IS_FREEZE_MAP (self));
  if (self->measure == measure)
    return;
  self->measure = measure;
  graft_freeze_map_relayout (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MEASURE]);
}

int
graft_freeze_map_get_epoch (GraftFreezeMap *self)
{
  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), 0);
  return self->epoch;
}

void
graft_freeze_map_set_epoch (GraftFreezeMap *self, int epoch)
{
  g_return_if_fail (GRAFT_IS_FREEZE_MAP (self));
  epoch = MAX (epoch, 0);
  if (self->epoch == epoch)
    return;
  self->epoch = epoch;
  graft_freeze_map_relayout (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCH]);
}

int
graft_freeze_map_get_selected (GraftFreezeMap *self)
{
  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), -1);
  return self->selected;
}

void
graft_freeze_map_draw_swatch (GraftFreezeMap *self, cairo_t *cr, GraftFreezeMapState state, double x, double y,
                              double size)
{
  Palette p;

  g_return_if_fail (GRAFT_IS_FREEZE_MAP (self));
  state = CLAMP (state, GRAFT_FREEZE_MAP_FROZEN, GRAFT_FREEZE_MAP_REMOVED);
  get_palette (self, &p);
  graft_rounded_rectangle (cr, x + 0.5, y + 0.5, size - 1, size - 1, 3);
  graft_color_set_source (cr, &p.fill[state], 1);
  cairo_fill_preserve (cr);
  graft_color_set_source (cr, &p.border[state], 1);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);
  if (state == GRAFT_FREEZE_MAP_REMOVED)
    hatch (cr, x, y, size, size, &p.fg);
}

gboolean
graft_freeze_map_get_block_area (GraftFreezeMap *self, int block, graphene_rect_t *area)
{
  const Row *row;

  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), FALSE);
  if (block < 0 || block >= (int) self->rows->len)
    return FALSE;
  row = &g_array_index (self->rows, Row, block);
  graphene_rect_init (area, (float) self->column_x, (float) row->y, (float) self->column_width, (float) row->height);
  return TRUE;
}

double
graft_freeze_map_get_cut_position (GraftFreezeMap *self)
{
  g_return_val_if_fail (GRAFT_IS_FREEZE_MAP (self), -1);
  if (self->n_blocks == 0 || self->boundary_y == NULL)
    return -1;
  return self->boundary_y[self->cut];
}

GtkWidget *
graft_freeze_map_new (void)
{
  return g_object_new (GRAFT_TYPE_FREEZE_MAP, NULL);
}

static void
graft_freeze_map_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_MEASURE:
      g_value_set_enum (value, self->measure);
      break;
    case PROP_EPOCH:
      g_value_set_int (value, self->epoch);
      break;
    case PROP_SELECTED:
      g_value_set_int (value, self->selected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_freeze_map_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_freeze_map_set_session (self, g_value_get_object (value));
      break;
    case PROP_MEASURE:
      graft_freeze_map_set_measure (self, g_value_get_enum (value));
      break;
    case PROP_EPOCH:
      graft_freeze_map_set_epoch (self, g_value_get_int (value));
      break;
    case PROP_SELECTED:
      graft_freeze_map_set_selected (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_freeze_map_dispose (GObject *object)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (object);

  disconnect_session (self);
  g_clear_object (&self->frozen_icon);
  g_clear_object (&self->trains_icon);
  g_clear_object (&self->removed_icon);
  g_clear_object (&self->cut_icon);
  g_clear_object (&self->head_icon);
  G_OBJECT_CLASS (graft_freeze_map_parent_class)->dispose (object);
}

static void
graft_freeze_map_finalize (GObject *object)
{
  GraftFreezeMap *self = GRAFT_FREEZE_MAP (object);

  g_array_unref (self->rows);
  g_free (self->boundary_y);
  g_clear_object (&self->input_label);
  g_clear_object (&self->cut_label);
  g_free (self->accessible_description);
  G_OBJECT_CLASS (graft_freeze_map_parent_class)->finalize (object);
}

static void
graft_freeze_map_class_init (GraftFreezeMapClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = graft_freeze_map_get_property;
  object_class->set_property = graft_freeze_map_set_property;
  object_class->dispose = graft_freeze_map_dispose;
  object_class->finalize = graft_freeze_map_finalize;
  widget_class->snapshot = graft_freeze_map_snapshot;
  widget_class->measure = graft_freeze_map_measure;
  widget_class->size_allocate = graft_freeze_map_size_allocate;
  widget_class->root = graft_freeze_map_root;
  widget_class->query_tooltip = graft_freeze_map_query_tooltip;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MEASURE] = g_param_spec_enum ("measure", NULL, NULL, GRAFT_TYPE_FREEZE_MAP_MEASURE,
                                                GRAFT_FREEZE_MAP_MEASURE_PARAMETERS,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_EPOCH] = g_param_spec_int ("epoch", NULL, NULL, 0, G_MAXINT, 0,
                                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SELECTED] = g_param_spec_int ("selected", NULL, NULL, -1, G_MAXINT, -1,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftFreezeMap::block-selected:
   * @block: the block, n_blocks for the new head, -1 for none
   */
  signals[BLOCK_SELECTED] = g_signal_new ("block-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);

  gtk_widget_class_install_action (widget_class, "freeze-map.toggle", "i", action_toggle);
  gtk_widget_class_install_action (widget_class, "freeze-map.extend", "i", action_extend);
  gtk_widget_class_install_action (widget_class, "freeze-map.set-cut", "i", action_set_cut);
  gtk_widget_class_install_action (widget_class, "freeze-map.select", "i", action_select);
  gtk_widget_class_install_action (widget_class, "freeze-map.cycle-batchnorm", "i", action_cycle_batchnorm);

  gtk_widget_class_set_css_name (widget_class, "freezemap");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_WIDGET);
}

static void
graft_freeze_map_init (GraftFreezeMap *self)
{
  GtkEventController *controller;
  GtkGesture *drag;

  self->selected = -1;
  self->anchor = -1;
  self->hover = -1;
  self->pressed_row = -1;
  self->rows = g_array_new (FALSE, TRUE, sizeof (Row));
  g_array_set_clear_func (self->rows, (GDestroyNotify) row_clear);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focus_on_click (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (controller, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_key_new ();
  g_signal_connect (controller, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_focus_new ();
  g_signal_connect (controller, "enter", G_CALLBACK (on_focus_enter), self);
  g_signal_connect (controller, "leave", G_CALLBACK (on_focus_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Freeze map"), -1);
  update_accessible (self);
}
