/* graft-confusion-view.c
 *
 * Geometry, from the left: the "True class" title (vertical), the row names (right
 * aligned, elided), the grid. From the top: the "Predicted class" title, the column
 * names (horizontal when they fit in a column, vertical otherwise), the grid. The grid
 * is square; its cells are as large as the width allows, up to MAX_CELL, and the widget
 * asks for its height from its width. When cells are smaller than a line of text, only
 * every k-th name is written.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-colors.h"
#include "graft-confusion-view.h"

#include <glib/gi18n.h>
#include <math.h>

#define MAX_CELL 72.0
#define MIN_CELL 4.0
#define MAX_ROW_LABEL 160
#define MIN_ROW_LABEL 48
#define MAX_COLUMN_LABEL 120
#define PAD 6.0
/* Above this many classes, counts are never written (cells are too small anyway). */
#define MAX_CLASSES_WITH_COUNTS 48

struct _GraftConfusionView
{
  GtkWidget parent_instance;

  int classes;
  guint64 *counts;           /* (classes, classes) */
  guint64 *row_totals;
  guint64 total, correct;
  GPtrArray *names;          /* char * */

  /* Made when the matrix changes. */
  GPtrArray *row_layouts;    /* PangoLayout, one per class */
  GPtrArray *column_layouts;
  GPtrArray *count_layouts;  /* classes x classes, empty above MAX_CLASSES_WITH_COUNTS */
  GPtrArray *percent_layouts;
  PangoLayout *true_title;
  PangoLayout *predicted_title;
  int line_height;           /* pixels */
  int name_width;            /* the widest name, pixels */
  int count_width, count_height;
  int percent_width, percent_height;
  int title_width, title_height;

  /* Made when the size changes. */
  double cell;
  double grid_x, grid_y;
  double row_label_width;
  double column_band;
  gboolean columns_vertical;
  int label_step;
  gboolean shows_counts;
  gboolean shows_percent;
  int laid_out_row_width;    /* the ellipsis widths the layouts were set to */
  int laid_out_column_width;
  guint context_serial;      /* of the Pango context the layouts were made with */

  int hover_true, hover_predicted;
  int selected_true, selected_predicted;
  int cursor_true, cursor_predicted;
};

G_DEFINE_FINAL_TYPE (GraftConfusionView, graft_confusion_view, GTK_TYPE_WIDGET)

enum { CELL_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* --- words --------------------------------------------------------------------- */

static char *
format_percent (double fraction)
{
  /* Translators: a share of a class's images, such as "94 %" */
  return g_strdup_printf (_("%.0f %%"), 100 * fraction);
}

static double
cell_fraction (GraftConfusionView *self, int t, int p)
{
  guint64 row = self->row_totals[t];
  return row > 0 ? (double) self->counts[(gsize) t * self->classes + p] / row : 0;
}

static char *
describe_cell (GraftConfusionView *self, int t, int p)
{
  guint64 count = self->counts[(gsize) t * self->classes + p];
  const char *true_name = g_ptr_array_index (self->names, t);
  const char *predicted_name = g_ptr_array_index (self->names, p);
  g_autofree char *percent = format_percent (cell_fraction (self, t, p));
  g_autofree char *images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image", "%u images", (gulong) count),
                                             (guint) count);

  if (t == p)
    /* Translators: a cell of the confusion matrix: "cat classified correctly: 12 images, 94 % of cat" */
    return g_strdup_printf (_("%s classified correctly: %s, %s of %s"), true_name, images, percent, true_name);
  /* Translators: a cell of the confusion matrix: "cat classified as dog: 2 images, 6 % of cat" */
  return g_strdup_printf (_("%s classified as %s: %s, %s of %s"), true_name, predicted_name, images, percent,
                          true_name);
}

static void
update_accessible (GraftConfusionView *self)
{
  GString *text = g_string_new (NULL);
  guint64 worst = 0;
  int worst_t = -1, worst_p = -1;

  if (self->classes == 0)
    {
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                      _("No results yet"), -1);
      g_string_free (text, TRUE);
      return;
    }
  g_string_append_printf (text,
                          /* Translators: the summary of a confusion matrix for screen readers */
                          g_dngettext (GETTEXT_PACKAGE, "%d classes, %u image, %u classified correctly.",
                                       "%d classes, %u images, %u classified correctly.", (gulong) self->total),
                          self->classes, (guint) self->total, (guint) self->correct);
  for (int t = 0; t < self->classes; t++)
    for (int p = 0; p < self->classes; p++)
      if (t != p && self->counts[(gsize) t * self->classes + p] > worst)
        {
          worst = self->counts[(gsize) t * self->classes + p];
          worst_t = t;
          worst_p = p;
        }
  if (worst_t >= 0)
    {
      g_autofree char *cell = describe_cell (self, worst_t, worst_p);
      g_string_append_c (text, ' ');
      /* Translators: followed by a cell such as "cat classified as dog: 2 images, 6 % of cat" */
      g_string_append_printf (text, _("Most frequent mistake: %s."), cell);
    }
  if (self->cursor_true >= 0)
    {
      g_autofree char *cell = describe_cell (self, self->cursor_true, self->cursor_predicted);
      g_string_append_c (text, ' ');
      /* Translators: the cell under the keyboard cursor of the confusion matrix */
      g_string_append_printf (text, _("Current cell: %s. Arrow keys move, Enter shows its images."), cell);
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text->str, -1);
  g_string_free (text, TRUE);
}

/* --- layouts (when the matrix changes) ------------------------------------------ */

static PangoLayout *
make_layout (GraftConfusionView *self, const char *text, double scale, gboolean bold, gboolean numeric)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();

  if (scale != 1.0)
    pango_attr_list_insert (attrs, pango_attr_scale_new (scale));
  if (bold)
    pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  if (numeric)
    pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  return layout;
}

static void
pixel_size (PangoLayout *layout, int *width, int *height)
{
  pango_layout_get_pixel_size (layout, width, height);
}

static void
rebuild_layouts (GraftConfusionView *self)
{
  int w, h;

  g_ptr_array_set_size (self->row_layouts, 0);
  g_ptr_array_set_size (self->column_layouts, 0);
  g_ptr_array_set_size (self->count_layouts, 0);
  g_ptr_array_set_size (self->percent_layouts, 0);
  g_clear_object (&self->true_title);
  g_clear_object (&self->predicted_title);
  self->laid_out_row_width = self->laid_out_column_width = -1;
  self->name_width = self->count_width = self->count_height = 0;
  self->percent_width = self->percent_height = 0;

  self->context_serial = pango_context_get_serial (gtk_widget_get_pango_context (GTK_WIDGET (self)));
  self->true_title = make_layout (self, _("True class"), 0.9, TRUE, FALSE);
  self->predicted_title = make_layout (self, _("Predicted class"), 0.9, TRUE, FALSE);
  pixel_size (self->true_title, &self->title_width, &self->title_height);
  pixel_size (self->predicted_title, &w, &h);
  self->title_height = MAX (self->title_height, h);
  self->line_height = self->title_height;

  for (int c = 0; c < self->classes; c++)
    {
      const char *name = g_ptr_array_index (self->names, c);
      PangoLayout *row = make_layout (self, name, 0.9, FALSE, FALSE);
      PangoLayout *column = make_layout (self, name, 0.9, FALSE, FALSE);

      pango_layout_set_ellipsize (row, PANGO_ELLIPSIZE_END);
      pango_layout_set_alignment (row, PANGO_ALIGN_RIGHT);
      pango_layout_set_ellipsize (column, PANGO_ELLIPSIZE_END);
      pixel_size (row, &w, &h);
      self->name_width = MAX (self->name_width, w);
      self->line_height = MAX (self->line_height, h);
      g_ptr_array_add (self->row_layouts, row);
      g_ptr_array_add (self->column_layouts, column);
    }

  if (self->classes > 0 && self->classes <= MAX_CLASSES_WITH_COUNTS)
    for (int t = 0; t < self->classes; t++)
      for (int p = 0; p < self->classes; p++)
        {
          guint64 count = self->counts[(gsize) t * self->classes + p];
          g_autofree char *number = g_strdup_printf ("%" G_GUINT64_FORMAT, count);
          g_autofree char *percent = format_percent (cell_fraction (self, t, p));
          PangoLayout *count_layout = make_layout (self, number, 1.0, t == p, TRUE);
          PangoLayout *percent_layout = make_layout (self, percent, 0.75, FALSE, TRUE);

          pixel_size (count_layout, &w, &h);
          self->count_width = MAX (self->count_width, w);
          self->count_height = MAX (self->count_height, h);
          pixel_size (percent_layout, &w, &h);
          self->percent_width = MAX (self->percent_width, w);
          self->percent_height = MAX (self->percent_height, h);
          g_ptr_array_add (self->count_layouts, count_layout);
          g_ptr_array_add (self->percent_layouts, percent_layout);
        }
}

/* The widget's font comes from its style, which may change (or arrive after init). */
static void
ensure_layouts (GraftConfusionView *self)
{
  if (pango_context_get_serial (gtk_widget_get_pango_context (GTK_WIDGET (self))) != self->context_serial)
    rebuild_layouts (self);
}

/* --- geometry (when the size changes) --------------------------------------------- */

static double
row_label_width_for (GraftConfusionView *self, int width)
{
  double available = MAX (MIN_ROW_LABEL, width * 0.3);
  return MIN (MIN ((double) self->name_width, MAX_ROW_LABEL), available);
}

static double
left_band (GraftConfusionView *self, double row_label_width)
{
  return self->title_height + PAD + row_label_width + PAD;
}

static gboolean
columns_fit_horizontally (GraftConfusionView *self, double cell)
{
  return self->name_width + 6 <= cell;
}

static double
column_band_for (GraftConfusionView *self, double cell)
{
  if (columns_fit_horizontally (self, cell))
    return self->line_height;
  return MIN (self->name_width, MAX_COLUMN_LABEL);
}

static double
top_band (GraftConfusionView *self, double cell)
{
  return self->title_height + PAD + column_band_for (self, cell) + PAD;
}

static double
cell_for_width (GraftConfusionView *self, int width)
{
  double left = left_band (self, row_label_width_for (self, width));
  double cell = floor ((width - left) / MAX (1, self->classes));
  return CLAMP (cell, MIN_CELL, MAX_CELL);
}

static double
preferred_cell (GraftConfusionView *self)
{
  return CLAMP (floor (420.0 / MAX (1, self->classes)), 28, 64);
}

static void
graft_confusion_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                              int *natural, int *minimum_baseline, int *natural_baseline)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);
  int n = self->classes;

  ensure_layouts (self);
  if (n == 0)
    {
      *minimum = *natural = 0;
      return;
    }
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      double natural_width = left_band (self, MIN (self->name_width, MAX_ROW_LABEL)) + n * preferred_cell (self);
      *minimum = (int) ceil (left_band (self, MIN (self->name_width, MIN_ROW_LABEL)) + n * MIN_CELL);
      *natural = MAX (*minimum, (int) ceil (natural_width));
    }
  else
    {
      int width = for_size;
      double cell;

      if (width < 0)
        width = (int) ceil (left_band (self, MIN (self->name_width, MAX_ROW_LABEL)) + n * preferred_cell (self));
      cell = cell_for_width (self, width);
      *minimum = *natural = (int) ceil (top_band (self, cell) + n * cell + 2);
    }
}

static GtkSizeRequestMode
graft_confusion_view_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
graft_confusion_view_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);
  int n = self->classes;
  double cell, left, total_width;

  ensure_layouts (self);
  if (n == 0)
    {
      self->cell = 0;
      return;
    }
  self->row_label_width = row_label_width_for (self, width);
  left = left_band (self, self->row_label_width);
  cell = cell_for_width (self, width);
  /* The height may be smaller than asked: then the cells shrink to it (twice, as the
   * column names may turn vertical with smaller cells). */
  for (int i = 0; i < 2; i++)
    {
      double fit = floor ((height - top_band (self, cell) - 2) / n);
      if (fit < cell)
        cell = MAX (MIN_CELL, fit);
    }
  self->cell = cell;
  self->columns_vertical = !columns_fit_horizontally (self, cell);
  self->column_band = column_band_for (self, cell);
  total_width = left + n * cell;
  self->grid_x = floor (MAX (0, (width - total_width) / 2) + left);
  self->grid_y = floor (top_band (self, cell));
  self->label_step = cell >= self->line_height ? 1 : (int) ceil (self->line_height / cell);
  self->shows_counts = self->count_layouts->len > 0 && self->count_width + 6 <= cell
                       && self->count_height + 2 <= cell;
  self->shows_percent = self->shows_counts && self->percent_width + 8 <= cell
                        && self->count_height + self->percent_height + 8 <= cell;

  /* Elision widths, only when they change. */
  if (self->laid_out_row_width != (int) self->row_label_width)
    {
      self->laid_out_row_width = (int) self->row_label_width;
      for (guint i = 0; i < self->row_layouts->len; i++)
        pango_layout_set_width (g_ptr_array_index (self->row_layouts, i), self->laid_out_row_width * PANGO_SCALE);
    }
  {
    int column_width = self->columns_vertical ? MAX_COLUMN_LABEL : (int) cell - 4;
    if (self->laid_out_column_width != column_width)
      {
        self->laid_out_column_width = column_width;
        for (guint i = 0; i < self->column_layouts->len; i++)
          pango_layout_set_width (g_ptr_array_index (self->column_layouts, i), column_width * PANGO_SCALE);
      }
  }
}

/* --- drawing ---------------------------------------------------------------------- */

static double
cell_gap (GraftConfusionView *self)
{
  return self->cell >= 16 ? 2 : self->cell >= 8 ? 1 : 0;
}

static void
cell_rectangle (GraftConfusionView *self, int t, int p, double inset, graphene_rect_t *rect)
{
  double gap = cell_gap (self) / 2 + inset;
  graphene_rect_init (rect, self->grid_x + p * self->cell + gap, self->grid_y + t * self->cell + gap,
                      self->cell - 2 * gap, self->cell - 2 * gap);
}

static void
outline_cell (GraftConfusionView *self, cairo_t *cr, int t, int p, double inset, double line_width)
{
  graphene_rect_t r;
  cell_rectangle (self, t, p, inset, &r);
  graft_rounded_rectangle (cr, r.origin.x, r.origin.y, r.size.width, r.size.height, MIN (6, self->cell * 0.15) + 1);
  cairo_set_line_width (cr, line_width);
  cairo_stroke (cr);
}

/* The fill strength of a cell: 0 for an empty cell, then from 0.22 (so a single
 * mistake shows) to 1 for the whole row. */
static double
cell_strength (GraftConfusionView *self, int t, int p)
{
  if (self->counts[(gsize) t * self->classes + p] == 0)
    return 0;
  return 0.22 + 0.78 * cell_fraction (self, t, p);
}

static void
graft_confusion_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);
  int n = self->classes;
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  double cell = self->cell, grid_w = n * cell, radius = MIN (6, cell * 0.15);
  GtkStyleContext *style;
  GdkRGBA fg, accent, accent_fg, error, error_fg, focus;
  gboolean focus_visible;
  cairo_t *cr;

  if (n == 0 || cell <= 0)
    return;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  style = gtk_widget_get_style_context (widget);
  gtk_style_context_get_color (style, &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  accent = graft_color_named (style, "accent_bg_color", "#3584e4");
  accent_fg = graft_color_named (style, "accent_fg_color", "#ffffff");
  error = graft_color_named (style, "error_bg_color", "#e01b24");
  error_fg = graft_color_named (style, "error_fg_color", "#ffffff");
  focus = graft_color_named (style, "accent_color", "#1c71d8");
  focus_visible = gtk_widget_has_focus (widget)
                  && (gtk_widget_get_state_flags (widget) & GTK_STATE_FLAG_FOCUS_VISIBLE) != 0;

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  /* Titles. */
  {
    int w, h;
    pixel_size (self->predicted_title, &w, &h);
    graft_color_set_source (cr, &fg, 0.7);
    cairo_move_to (cr, self->grid_x + MAX (0, (grid_w - w) / 2), 0);
    pango_cairo_show_layout (cr, self->predicted_title);
    pixel_size (self->true_title, &w, &h);
    cairo_save (cr);
    cairo_translate (cr, self->grid_x - self->row_label_width - 2 * PAD - h,
                     self->grid_y + MAX (w, (n * cell + w) / 2));
    cairo_rotate (cr, -G_PI / 2);
    cairo_move_to (cr, 0, 0);
    pango_cairo_show_layout (cr, self->true_title);
    cairo_restore (cr);
  }

  /* Names. The row and column under the pointer (or the cursor) are written darker. */
  for (int c = 0; c < n; c++)
    {
      PangoLayout *row = g_ptr_array_index (self->row_layouts, c);
      PangoLayout *column = g_ptr_array_index (self->column_layouts, c);
      gboolean row_hot = c == self->hover_true || (focus_visible && c == self->cursor_true);
      gboolean column_hot = c == self->hover_predicted || (focus_visible && c == self->cursor_predicted);
      int w, h;

      if (c % self->label_step != 0 && !row_hot && !column_hot)
        continue;
      if (c % self->label_step == 0 || row_hot)
        {
          pixel_size (row, &w, &h);
          graft_color_set_source (cr, &fg, row_hot ? 1.0 : 0.75);
          cairo_move_to (cr, self->grid_x - PAD - self->row_label_width, self->grid_y + (c + 0.5) * cell - h / 2.0);
          pango_cairo_show_layout (cr, row);
        }
      if (c % self->label_step == 0 || column_hot)
        {
          pixel_size (column, &w, &h);
          graft_color_set_source (cr, &fg, column_hot ? 1.0 : 0.75);
          if (self->columns_vertical)
            {
              cairo_save (cr);
              cairo_translate (cr, self->grid_x + (c + 0.5) * cell - h / 2.0, self->grid_y - PAD);
              cairo_rotate (cr, -G_PI / 2);
              cairo_move_to (cr, 0, 0);
              pango_cairo_show_layout (cr, column);
              cairo_restore (cr);
            }
          else
            {
              cairo_move_to (cr, self->grid_x + (c + 0.5) * cell - w / 2.0, self->grid_y - PAD - h);
              pango_cairo_show_layout (cr, column);
            }
        }
    }

  /* Cells. */
  for (int t = 0; t < n; t++)
    for (int p = 0; p < n; p++)
      {
        double strength = cell_strength (self, t, p);
        graphene_rect_t r;

        cell_rectangle (self, t, p, 0, &r);
        graft_rounded_rectangle (cr, r.origin.x, r.origin.y, r.size.width, r.size.height, radius);
        if (strength == 0)
          graft_color_set_source (cr, &fg, 0.06);
        else
          graft_color_set_source (cr, t == p ? &accent : &error, strength);
        cairo_fill (cr);

        if (self->shows_counts)
          {
            PangoLayout *count = g_ptr_array_index (self->count_layouts, (gsize) t * n + p);
            const GdkRGBA *ink = strength > 0.55 ? (t == p ? &accent_fg : &error_fg) : &fg;
            double cx = r.origin.x + r.size.width / 2, cy = r.origin.y + r.size.height / 2;
            int w, h, pw = 0, ph = 0;

            pixel_size (count, &w, &h);
            if (self->shows_percent && strength > 0)
              pixel_size (g_ptr_array_index (self->percent_layouts, (gsize) t * n + p), &pw, &ph);
            graft_color_set_source (cr, ink, strength == 0 ? 0.45 : 1.0);
            cairo_move_to (cr, cx - w / 2.0, cy - (h + ph) / 2.0);
            pango_cairo_show_layout (cr, count);
            if (ph > 0)
              {
                graft_color_set_source (cr, ink, 0.8);
                cairo_move_to (cr, cx - pw / 2.0, cy - (h + ph) / 2.0 + h);
                pango_cairo_show_layout (cr, g_ptr_array_index (self->percent_layouts, (gsize) t * n + p));
              }
          }
      }

  /* The selected cell, the one under the pointer, and the keyboard cursor. */
  if (self->selected_true >= 0)
    {
      graft_color_set_source (cr, &fg, 0.9);
      outline_cell (self, cr, self->selected_true, self->selected_predicted, -1, 2.5);
    }
  if (self->hover_true >= 0)
    {
      graft_color_set_source (cr, &fg, 0.45);
      outline_cell (self, cr, self->hover_true, self->hover_predicted, 1, 1.5);
    }
  if (focus_visible && self->cursor_true >= 0)
    {
      graft_color_set_source (cr, &focus, 0.8);
      outline_cell (self, cr, self->cursor_true, self->cursor_predicted, -2.5, 2);
    }
  cairo_destroy (cr);
}

/* --- input ------------------------------------------------------------------------ */

gboolean
graft_confusion_view_cell_at (GraftConfusionView *self, double x, double y, int *true_class, int *predicted_class)
{
  int p, t;

  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), FALSE);
  if (self->classes == 0 || self->cell <= 0 || x < self->grid_x || y < self->grid_y)
    return FALSE;
  p = (int) floor ((x - self->grid_x) / self->cell);
  t = (int) floor ((y - self->grid_y) / self->cell);
  if (p < 0 || t < 0 || p >= self->classes || t >= self->classes)
    return FALSE;
  if (true_class != NULL)
    *true_class = t;
  if (predicted_class != NULL)
    *predicted_class = p;
  return TRUE;
}

static void
set_hover (GraftConfusionView *self, int t, int p)
{
  if (self->hover_true == t && self->hover_predicted == p)
    return;
  self->hover_true = t;
  self->hover_predicted = p;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, GraftConfusionView *self)
{
  int t = -1, p = -1;
  if (!graft_confusion_view_cell_at (self, x, y, &t, &p))
    t = p = -1;
  set_hover (self, t, p);
}

static void
on_leave (GtkEventControllerMotion *controller, GraftConfusionView *self)
{
  set_hover (self, -1, -1);
}

static void
set_cursor (GraftConfusionView *self, int t, int p)
{
  if (self->classes == 0)
    return;
  t = CLAMP (t, 0, self->classes - 1);
  p = CLAMP (p, 0, self->classes - 1);
  if (self->cursor_true == t && self->cursor_predicted == p)
    return;
  self->cursor_true = t;
  self->cursor_predicted = p;
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_released (GtkGestureClick *gesture, int n_press, double x, double y, GraftConfusionView *self)
{
  int t, p;

  if (!graft_confusion_view_cell_at (self, x, y, &t, &p))
    return;
  set_cursor (self, t, p);
  g_signal_emit (self, signals[CELL_ACTIVATED], 0, t, p);
}

static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y, GraftConfusionView *self)
{
  if (gtk_widget_get_focusable (GTK_WIDGET (self)))
    gtk_widget_grab_focus (GTK_WIDGET (self));
}

static gboolean
graft_confusion_view_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);
  int t, p;
  g_autofree char *text = NULL;

  if (keyboard)
    {
      if (self->cursor_true < 0)
        return FALSE;
      t = self->cursor_true;
      p = self->cursor_predicted;
    }
  else if (!graft_confusion_view_cell_at (self, x, y, &t, &p))
    return FALSE;
  text = describe_cell (self, t, p);
  gtk_tooltip_set_text (tooltip, text);
  {
    graphene_rect_t r;
    cell_rectangle (self, t, p, 0, &r);
    gtk_tooltip_set_tip_area (tooltip, &(GdkRectangle) { (int) r.origin.x, (int) r.origin.y, (int) r.size.width,
                                                         (int) r.size.height });
  }
  return TRUE;
}

static void
action_move (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);
  int dx, dy;

  g_variant_get (parameter, "(ii)", &dx, &dy);
  set_cursor (self, MAX (0, self->cursor_true) + dy, MAX (0, self->cursor_predicted) + dx);
}

static void
action_activate (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (widget);

  if (self->classes == 0 || self->cursor_true < 0)
    return;
  g_signal_emit (self, signals[CELL_ACTIVATED], 0, self->cursor_true, self->cursor_predicted);
}

/* --- public ------------------------------------------------------------------------ */

void
graft_confusion_view_set_matrix (GraftConfusionView *self, const guint64 *counts, int classes,
                                 const char *const *names)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_VIEW (self));

  if (counts == NULL || classes < 0)
    classes = 0;
  g_clear_pointer (&self->counts, g_free);
  g_clear_pointer (&self->row_totals, g_free);
  g_ptr_array_set_size (self->names, 0);
  self->classes = classes;
  self->total = self->correct = 0;
  if (classes > 0)
    {
      self->counts = g_memdup2 (counts, sizeof (guint64) * classes * classes);
      self->row_totals = g_new0 (guint64, classes);
      for (int t = 0; t < classes; t++)
        {
          for (int p = 0; p < classes; p++)
            self->row_totals[t] += counts[(gsize) t * classes + p];
          self->total += self->row_totals[t];
          self->correct += counts[(gsize) t * classes + t];
          g_ptr_array_add (self->names, g_strdup (names != NULL && names[t] != NULL ? names[t] : "?"));
        }
    }
  self->hover_true = self->hover_predicted = -1;
  self->selected_true = self->selected_predicted = -1;
  self->cursor_true = self->cursor_predicted = classes > 0 ? 0 : -1;
  rebuild_layouts (self);
  update_accessible (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

int
graft_confusion_view_get_classes (GraftConfusionView *self)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), 0);
  return self->classes;
}

guint64
graft_confusion_view_get_count (GraftConfusionView *self, int true_class, int predicted_class)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), 0);
  if (true_class < 0 || predicted_class < 0 || true_class >= self->classes || predicted_class >= self->classes)
    return 0;
  return self->counts[(gsize) true_class * self->classes + predicted_class];
}

guint64
graft_confusion_view_get_total (GraftConfusionView *self)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), 0);
  return self->total;
}

void
graft_confusion_view_set_selected (GraftConfusionView *self, int true_class, int predicted_class)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_VIEW (self));

  if (true_class < 0 || predicted_class < 0 || true_class >= self->classes || predicted_class >= self->classes)
    true_class = predicted_class = -1;
  if (self->selected_true == true_class && self->selected_predicted == predicted_class)
    return;
  self->selected_true = true_class;
  self->selected_predicted = predicted_class;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
graft_confusion_view_get_selected (GraftConfusionView *self, int *true_class, int *predicted_class)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), FALSE);
  if (true_class != NULL)
    *true_class = self->selected_true;
  if (predicted_class != NULL)
    *predicted_class = self->selected_predicted;
  return self->selected_true >= 0;
}

void
graft_confusion_view_get_cursor (GraftConfusionView *self, int *true_class, int *predicted_class)
{
  g_return_if_fail (GRAFT_IS_CONFUSION_VIEW (self));
  if (true_class != NULL)
    *true_class = self->cursor_true;
  if (predicted_class != NULL)
    *predicted_class = self->cursor_predicted;
}

double
graft_confusion_view_get_cell_size (GraftConfusionView *self)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), 0);
  return self->cell;
}

gboolean
graft_confusion_view_get_shows_counts (GraftConfusionView *self)
{
  g_return_val_if_fail (GRAFT_IS_CONFUSION_VIEW (self), FALSE);
  return self->shows_counts;
}

GtkWidget *
graft_confusion_view_new (void)
{
  return g_object_new (GRAFT_TYPE_CONFUSION_VIEW, NULL);
}

/* --- class ------------------------------------------------------------------------ */

static void
graft_confusion_view_state_flags_changed (GtkWidget *widget, GtkStateFlags previous)
{
  /* The cursor shows with the keyboard focus. */
  if (((previous ^ gtk_widget_get_state_flags (widget)) & (GTK_STATE_FLAG_FOCUS_VISIBLE | GTK_STATE_FLAG_FOCUSED)) != 0)
    gtk_widget_queue_draw (widget);
  GTK_WIDGET_CLASS (graft_confusion_view_parent_class)->state_flags_changed (widget, previous);
}

static void
graft_confusion_view_finalize (GObject *object)
{
  GraftConfusionView *self = GRAFT_CONFUSION_VIEW (object);

  g_free (self->counts);
  g_free (self->row_totals);
  g_ptr_array_unref (self->names);
  g_ptr_array_unref (self->row_layouts);
  g_ptr_array_unref (self->column_layouts);
  g_ptr_array_unref (self->count_layouts);
  g_ptr_array_unref (self->percent_layouts);
  g_clear_object (&self->true_title);
  g_clear_object (&self->predicted_title);

  G_OBJECT_CLASS (graft_confusion_view_parent_class)->finalize (object);
}

static void
add_move_binding (GtkWidgetClass *widget_class, guint key, GdkModifierType modifiers, int dx, int dy)
{
  gtk_widget_class_add_binding_action (widget_class, key, modifiers, "confusion.move", "(ii)", dx, dy);
}

static void
graft_confusion_view_class_init (GraftConfusionViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  const int far = 1 << 20;

  object_class->finalize = graft_confusion_view_finalize;
  widget_class->measure = graft_confusion_view_measure;
  widget_class->get_request_mode = graft_confusion_view_get_request_mode;
  widget_class->size_allocate = graft_confusion_view_size_allocate;
  widget_class->snapshot = graft_confusion_view_snapshot;
  widget_class->query_tooltip = graft_confusion_view_query_tooltip;
  widget_class->state_flags_changed = graft_confusion_view_state_flags_changed;

  /* (true_class, predicted_class): a cell was clicked, or Enter pressed on it. */
  signals[CELL_ACTIVATED] = g_signal_new ("cell-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  gtk_widget_class_install_action (widget_class, "confusion.move", "(ii)", action_move);
  gtk_widget_class_install_action (widget_class, "confusion.activate", NULL, action_activate);
  add_move_binding (widget_class, GDK_KEY_Up, 0, 0, -1);
  add_move_binding (widget_class, GDK_KEY_KP_Up, 0, 0, -1);
  add_move_binding (widget_class, GDK_KEY_Down, 0, 0, 1);
  add_move_binding (widget_class, GDK_KEY_KP_Down, 0, 0, 1);
  add_move_binding (widget_class, GDK_KEY_Left, 0, -1, 0);
  add_move_binding (widget_class, GDK_KEY_KP_Left, 0, -1, 0);
  add_move_binding (widget_class, GDK_KEY_Right, 0, 1, 0);
  add_move_binding (widget_class, GDK_KEY_KP_Right, 0, 1, 0);
  add_move_binding (widget_class, GDK_KEY_Home, 0, -far, 0);
  add_move_binding (widget_class, GDK_KEY_End, 0, far, 0);
  add_move_binding (widget_class, GDK_KEY_Home, GDK_CONTROL_MASK, -far, -far);
  add_move_binding (widget_class, GDK_KEY_End, GDK_CONTROL_MASK, far, far);
  add_move_binding (widget_class, GDK_KEY_Page_Up, 0, 0, -far);
  add_move_binding (widget_class, GDK_KEY_Page_Down, 0, 0, far);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, 0, "confusion.activate", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, 0, "confusion.activate", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, 0, "confusion.activate", NULL);

  gtk_widget_class_set_css_name (widget_class, "confusionview");
}

static void
graft_confusion_view_init (GraftConfusionView *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();
  GtkGesture *click = gtk_gesture_click_new ();

  self->names = g_ptr_array_new_with_free_func (g_free);
  self->row_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->column_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->count_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->percent_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->hover_true = self->hover_predicted = -1;
  self->selected_true = self->selected_predicted = -1;
  self->cursor_true = self->cursor_predicted = -1;
  rebuild_layouts (self);

  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  g_signal_connect (click, "released", G_CALLBACK (on_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Confusion matrix"), -1);
  update_accessible (self);
}
