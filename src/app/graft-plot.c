/* graft-plot.c
 *
 * Three caches, each recomputed only when what it depends on changes:
 *   bounds  per series, extended with the new points on ::changed (a cleared or
 *           shortened series is scanned again);
 *   layout  the axis ranges, ticks, text layouts and the plot area: on a data change,
 *           a size change, a property or a style change;
 *   paths   per series, normalised to the plot area and decimated to its pixel
 *           columns: extended with the points appended to its series (its last
 *           column read again), recomputed when the ranges, the width or the
 *           y-factor change.
 * snapshot() draws from them; it recomputes only a cache found invalid (after a
 * style change, which cannot recompute on the spot).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-colors.h"
#include "graft-plot.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define PADDING 12.0
#define GAP 6.0
#define LEGEND_SWATCH 18.0
#define READOUT_PADDING 8.0

typedef struct {
  GraftPlot *plot;
  GraftSeries *series;
  gulong changed_id;
  GraftPlotStyle style;
  GraftPlotColor color;

  /* Bounds of the points seen so far that the axes can show (finite; positive on a
   * log axis), in data units (before y-factor). */
  guint n_seen;
  guint n_valid;
  gboolean sorted;             /* x never decreases */
  double x_min, x_max, y_min, y_max;
  double last_x, last_y;

  /* The cached path: (x, y) float pairs in 0..1 over the plot area, NaN pairs break;
   * with spans, pairs of pairs: a column's lowest and highest point. It covers the
   * series' first path_seen points; appended points extend it from where its last
   * point (or column) began, with the decimation's state as it was there. */
  GArray *path;
  gboolean spans;
  gboolean path_valid;
  guint path_seen;
  guint resume_index, resume_length;
  gboolean resume_joined;
  double resume_previous_last;

  /* The read-out: the point nearest the hover x, or -1. */
  int hover_index;
  PangoLayout *readout_layout;
} PlotSeries;

struct _GraftPlot
{
  GtkWidget parent_instance;

  GPtrArray *series;           /* PlotSeries */
  guint next_color;
  GtkCssProvider *light_provider; /* graft_plot_draw's colours */

  char *title;
  char *x_label;
  char *y_label;
  char *placeholder_text;
  gboolean log_x, log_y, x_integer_ticks;
  double x_min_hint, x_max_hint, y_min_hint, y_max_hint;
  double y_factor;
  double marker_x;
  char *marker_label;
  double hover_x;              /* data units; NaN: no read-out */

  /* Layout: valid for this size. */
  gboolean layout_valid;
  int width, height;
  gboolean has_data;
  graphene_rect_t area;        /* the plot area, widget coordinates */
  double ax_lo, ax_hi, ay_lo, ay_hi; /* axis ranges, in axis units (log10 on a log axis) */
  GArray *x_ticks, *y_ticks;   /* data units */
  GArray *x_minor, *y_minor;
  GPtrArray *x_tick_layouts, *y_tick_layouts;
  PangoLayout *title_layout, *x_label_layout, *y_label_layout, *placeholder_layout, *marker_layout;
  GPtrArray *legend_layouts;   /* one per series */
  GArray *legend_positions;    /* graphene_point_t, the swatch's left, the line's middle */
  PangoLayout *readout_header;

  /* Paths: valid for these ranges, columns and y-factor. */
  int path_columns;
  double path_ranges[5];

  char *accessible_description;
  guint description_timeout_id;
  gboolean description_dirty;
  double tick_height;          /* of a tick label; 0: to measure again */
};

G_DEFINE_FINAL_TYPE (GraftPlot, graft_plot, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_X_LABEL,
  PROP_Y_LABEL,
  PROP_PLACEHOLDER_TEXT,
  PROP_LOG_X,
  PROP_LOG_Y,
  PROP_X_INTEGER_TICKS,
  PROP_X_MIN,
  PROP_X_MAX,
  PROP_Y_MIN,
  PROP_Y_MAX,
  PROP_Y_FACTOR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void update_layout (GraftPlot *self);
static void update_readout (GraftPlot *self);
static void write_accessible_description (GraftPlot *self);

/* Palette: libadwaita's accent colours, deep shades for light backgrounds and light
 * shades for dark ones. */
static const char *const palette_light[GRAFT_PLOT_N_COLORS] = {
  "#1c71d8", "#e66100", "#26a269", "#813d9c", "#c01c28", "#1f8a9e",
};
static const char *const palette_dark[GRAFT_PLOT_N_COLORS] = {
  "#78aeed", "#ffa348", "#57e389", "#dc8add", "#f66151", "#5bc8dd",
};

/* --- numbers ----------------------------------------------------------------- */

static const char *const superscripts[] = { "⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹" };

static void
append_superscript (GString *out, int exponent)
{
  char digits[16];
  if (exponent < 0)
    g_string_append (out, "⁻");
  g_snprintf (digits, sizeof digits, "%d", ABS (exponent));
  for (const char *d = digits; *d; d++)
    g_string_append (out, superscripts[*d - '0']);
}

/* Minus signs as U+2212, as typography wants. */
static char *
with_minus_sign (char *text)
{
  if (strchr (text, '-') == NULL)
    return text;
  GString *out = g_string_new (NULL);
  for (const char *c = text; *c; c++)
    if (*c == '-')
      g_string_append (out, "−");
    else
      g_string_append_c (out, *c);
  g_free (text);
  return g_string_free (out, FALSE);
}

/* A value for the read-out and the accessible description: 3 significant digits. */
static char *
format_value (double value)
{
  double magnitude;
  if (isnan (value))
    return g_strdup ("—");
  if (value == 0)
    return g_strdup ("0");
  magnitude = fabs (value);
  if (magnitude >= 1e-3 && magnitude < 1e6)
    {
      int decimals = MAX (0, 2 - (int) floor (log10 (magnitude)));
      return with_minus_sign (g_strdup_printf ("%.*f", decimals, value));
    }
  /* 3.2e-5: short, and what ML people write. */
  int exponent = (int) floor (log10 (magnitude));
  double mantissa = value / pow (10, exponent);
  if (fabs (mantissa) >= 9.95)
    {
      mantissa /= 10;
      exponent++;
    }
  return with_minus_sign (g_strdup_printf ("%.1fe%d", mantissa, exponent));
}

static double
nice_step (double raw)
{
  double magnitude = pow (10, floor (log10 (raw)));
  double r = raw / magnitude;
  double nice = r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10;
  return nice * magnitude;
}

GArray *
graft_plot_compute_ticks (double lo, double hi, gboolean log_scale, gboolean integer_only, int target,
                          double *axis_lo, double *axis_hi, GArray **minor)
{
  GArray *ticks = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *minors = g_array_new (FALSE, FALSE, sizeof (double));

  target = MAX (target, 1);
  if (hi < lo)
    {
      double t = lo;
      lo = hi;
      hi = t;
    }
  if (log_scale)
    {
      int dlo, dhi, every, n_decades;
      if (!(lo > 0))
        lo = hi > 0 ? hi / 10 : 1;
      if (!(hi > 0))
        hi = lo * 10;
      /* With some slack: 1e-6 in single precision is a hair below 1e-6. */
      dlo = (int) floor (log10 (lo) + 1e-6);
      dhi = (int) ceil (log10 (hi) - 1e-6);
      if (dhi <= dlo)
        dhi = dlo + 1;
      n_decades = dhi - dlo;
      every = MAX (1, (n_decades + target - 1) / target);
      /* Whole groups of decades, aligned on multiples of every. */
      if (every > 1)
        {
          dlo = (int) floor ((double) dlo / every) * every;
          dhi = (int) ceil ((double) dhi / every) * every;
        }
      for (int d = dlo; d <= dhi; d++)
        {
          double decade = pow (10, d);
          if ((d - dlo) % every == 0)
            g_array_append_val (ticks, decade);
          else
            g_array_append_val (minors, decade);
          if (d == dhi || every > 1)
            continue;
          for (int m = 2; m <= 9; m++)
            {
              double v = m * decade;
              /* When there is room, 2 and 5 get labels too; when there is little,
               * they are the only minor ticks. */
              if (3 * n_decades + 1 <= target + 2 && (m == 2 || m == 5))
                g_array_append_val (ticks, v);
              else if (2 * n_decades <= target || m == 2 || m == 5)
                g_array_append_val (minors, v);
            }
        }
      *axis_lo = pow (10, dlo);
      *axis_hi = pow (10, dhi);
    }
  else
    {
      double span = hi - lo, step;
      gint64 first, last;
      if (!(span > 0))
        {
          span = fabs (lo) > 0 ? fabs (lo) * 0.2 : 1;
          lo -= span / 2;
          hi += span / 2;
        }
      step = nice_step (span / target);
      if (integer_only && step < 1)
        step = 1;
      first = (gint64) floor (lo / step + 1e-9);
      last = (gint64) ceil (hi / step - 1e-9);
      if (last <= first)
        last = first + 1;
      for (gint64 k = first; k <= last; k++)
        {
          double v = k * step;
          if (fabs (v) < step * 1e-9)
            v = 0;
          g_array_append_val (ticks, v);
        }
      *axis_lo = first * step;
      *axis_hi = last * step;
    }
  if (minor != NULL)
    *minor = minors;
  else
    g_array_unref (minors);
  return ticks;
}

/* Labels for an axis's ticks, in one style: plain numbers with as many decimals as
 * the step needs, or powers of ten on a log axis that goes beyond 0.001..1000. */
static char **
format_ticks (GArray *ticks, gboolean log_scale)
{
  char **labels = g_new0 (char *, ticks->len + 1);
  gboolean powers = FALSE;
  double step = ticks->len > 1 ? fabs (g_array_index (ticks, double, 1) - g_array_index (ticks, double, 0)) : 1;

  if (log_scale)
    for (guint i = 0; i < ticks->len; i++)
      {
        double v = g_array_index (ticks, double, i);
        if (v < 0.9999e-3 || v > 1.0001e4)
          powers = TRUE;
      }
  for (guint i = 0; i < ticks->len; i++)
    {
      double v = g_array_index (ticks, double, i);
      if (log_scale && powers)
        {
          int exponent = (int) floor (log10 (v) + 1e-9);
          double mantissa = v / pow (10, exponent);
          GString *out = g_string_new (NULL);
          if (fabs (mantissa - 1) > 1e-6)
            g_string_append_printf (out, "%.0f×", mantissa);
          g_string_append (out, "10");
          append_superscript (out, exponent);
          labels[i] = g_string_free (out, FALSE);
        }
      else if (log_scale)
        {
          int decimals = MAX (0, -(int) floor (log10 (v) + 1e-9));
          labels[i] = g_strdup_printf ("%.*f", decimals, v);
        }
      else if (fabs (v) >= 1e6 || (step < 1e-4 && v != 0))
        labels[i] = with_minus_sign (g_strdup_printf ("%.1e", v));
      else if (v == 0)
        labels[i] = g_strdup ("0");
      else
        {
          int decimals = step >= 1 ? 0 : (int) ceil (-log10 (step) - 1e-9);
          labels[i] = with_minus_sign (g_strdup_printf ("%.*f", decimals, v));
        }
    }
  return labels;
}

char *
graft_plot_format_tick (double value, double step, gboolean log_scale)
{
  g_autoptr (GArray) ticks = g_array_new (FALSE, FALSE, sizeof (double));
  g_auto (GStrv) labels = NULL;
  char *label;
  double next = log_scale ? value * 10 : value + step;

  g_array_append_val (ticks, value);
  g_array_append_val (ticks, next);
  labels = format_ticks (ticks, log_scale);
  label = labels[0];
  labels[0] = g_strdup ("");
  return label;
}

/* --- series bounds ----------------------------------------------------------- */

static gboolean
point_valid (GraftPlot *self, double x, double y)
{
  return isfinite (x) && isfinite (y) && (!self->log_x || x > 0) && (!self->log_y || y > 0);
}

static void
plot_series_reset_bounds (PlotSeries *ps)
{
  ps->n_seen = ps->n_valid = 0;
  ps->sorted = TRUE;
  ps->x_min = ps->y_min = INFINITY;
  ps->x_max = ps->y_max = -INFINITY;
  ps->last_x = ps->last_y = NAN;
}

/* Extends the bounds with the points appended since the last call: O(new points). */
static void
plot_series_update_bounds (PlotSeries *ps)
{
  GraftPlot *self = ps->plot;
  guint n = graft_series_get_length (ps->series);
  const double *xs = graft_series_get_x (ps->series);
  const double *ys = graft_series_get_y (ps->series);

  if (n < ps->n_seen)
    plot_series_reset_bounds (ps);
  for (guint i = ps->n_seen; i < n; i++)
    {
      if (i > 0 && xs[i] < xs[i - 1])
        ps->sorted = FALSE;
      if (!point_valid (self, xs[i], ys[i]))
        continue;
      ps->n_valid++;
      ps->x_min = MIN (ps->x_min, xs[i]);
      ps->x_max = MAX (ps->x_max, xs[i]);
      ps->y_min = MIN (ps->y_min, ys[i]);
      ps->y_max = MAX (ps->y_max, ys[i]);
      ps->last_x = xs[i];
      ps->last_y = ys[i];
    }
  ps->n_seen = n;
}

/* --- paths --------------------------------------------------------------------- */

typedef struct {
  float x, y;
} PathPoint;

static inline double
axis_x (GraftPlot *self, double x)
{
  return self->log_x ? log10 (x) : x;
}

static inline double
axis_y (GraftPlot *self, double y)
{
  return self->log_y ? log10 (y * self->y_factor) : y * self->y_factor;
}

static inline void
path_break (GArray *path)
{
  if (path->len > 0 && !isnan (g_array_index (path, PathPoint, path->len - 1).x))
    g_array_append_vals (path, &(PathPoint) { NAN, NAN }, 1);
}

static inline void
path_trim (GArray *path)
{
  if (path->len > 0 && isnan (g_array_index (path, PathPoint, path->len - 1).x))
    g_array_set_size (path, path->len - 1);
}

/* The path of a series over the current ranges. When the points outnumber the pixel
 * columns, it becomes one vertical span per column, from the column's lowest to its
 * highest point (stretched to reach the previous column's last point, so the spans
 * join up like a line): spikes survive, and drawing costs one rectangle a column.
 *
 * A valid path is only extended: it is cut back to where its last point (or column)
 * began and the series is read on from there, so a growing series costs the points
 * appended, not all of them. */
static void
plot_series_update_path (PlotSeries *ps)
{
  GraftPlot *self = ps->plot;
  guint n = graft_series_get_length (ps->series);
  const double *xs = graft_series_get_x (ps->series);
  const double *ys = graft_series_get_y (ps->series);
  int columns = self->path_columns;
  double sx = 1.0 / (self->ax_hi - self->ax_lo), sy = 1.0 / (self->ay_hi - self->ay_lo);
  GArray *path = ps->path;
  gboolean spans = n > (guint) columns;
  int column = G_MININT;
  gboolean open = FALSE, joined;
  double low = 0, high = 0, last = 0, previous_last;

  if (ps->path_valid && spans == ps->spans && n == ps->path_seen)
    return;
  if (!ps->path_valid || spans != ps->spans || n < ps->path_seen)
    {
      ps->resume_index = ps->resume_length = 0;
      ps->resume_joined = FALSE;
      ps->resume_previous_last = 0;
    }
  g_array_set_size (path, ps->resume_length);
  joined = ps->resume_joined;
  previous_last = ps->resume_previous_last;
  ps->path_valid = TRUE;
  ps->path_seen = n;
  ps->spans = spans;
  if (!spans)
    {
      for (guint i = ps->resume_index; i < n; i++)
        {
          if (!point_valid (self, xs[i], ys[i]))
            {
              path_break (path);
              continue;
            }
          PathPoint p = { (axis_x (self, xs[i]) - self->ax_lo) * sx, (axis_y (self, ys[i]) - self->ay_lo) * sy };
          ps->resume_index = i;
          ps->resume_length = path->len;
          g_array_append_val (path, p);
        }
      path_trim (path);
      return;
    }

#define FLUSH()                                                                      \
  G_STMT_START                                                                       \
  {                                                                                  \
    if (open)                                                                        \
      {                                                                              \
        float x = (column + 0.5) / columns;                                          \
        if (joined)                                                                  \
          {                                                                          \
            low = MIN (low, previous_last);                                          \
            high = MAX (high, previous_last);                                        \
          }                                                                          \
        g_array_append_vals (path, (PathPoint[]) { { x, low }, { x, high } }, 2);   \
        previous_last = last;                                                        \
        joined = TRUE;                                                               \
        open = FALSE;                                                                \
      }                                                                              \
  }                                                                                  \
  G_STMT_END

  for (guint i = ps->resume_index; i < n; i++)
    {
      double y;
      int c;
      if (!point_valid (self, xs[i], ys[i]))
        {
          FLUSH ();
          path_break (path);
          joined = FALSE;
          continue;
        }
      c = (int) floor ((axis_x (self, xs[i]) - self->ax_lo) * sx * columns);
      c = CLAMP (c, 0, columns - 1);
      y = (axis_y (self, ys[i]) - self->ay_lo) * sy;
      if (open && c != column)
        FLUSH ();
      if (!open)
        {
          /* Where a later call goes on from: this column may get more points. */
          ps->resume_index = i;
          ps->resume_length = path->len;
          ps->resume_joined = joined;
          ps->resume_previous_last = previous_last;
          open = TRUE;
          column = c;
          low = high = last = y;
          continue;
        }
      low = MIN (low, y);
      high = MAX (high, y);
      last = y;
    }
  FLUSH ();
#undef FLUSH
  path_trim (path);
}

/* --- layout ------------------------------------------------------------------ */

static PangoAttrList *
small_numbers_attributes (void)
{
  PangoAttrList *attrs = pango_attr_list_new ();
  pango_attr_list_insert (attrs, pango_attr_scale_new (0.8333));
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  return attrs;
}

static PangoLayout *
ensure_text_layout (GraftPlot *self, PangoLayout **layout, const char *text, gboolean bold, gboolean small)
{
  if (text == NULL || *text == '\0')
    {
      g_clear_object (layout);
      return NULL;
    }
  if (*layout == NULL)
    {
      *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
      if (bold || small)
        {
          PangoAttrList *attrs = small ? small_numbers_attributes () : pango_attr_list_new ();
          if (bold)
            pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
          pango_layout_set_attributes (*layout, attrs);
          pango_attr_list_unref (attrs);
        }
    }
  if (g_strcmp0 (pango_layout_get_text (*layout), text) != 0)
    pango_layout_set_text (*layout, text, -1);
  return *layout;
}

/* Reuses the tick label layouts whose text is the same. */
static void
set_tick_layouts (GraftPlot *self, GPtrArray *layouts, char **labels)
{
  guint n = g_strv_length (labels);
  while (layouts->len < n)
    {
      PangoLayout *layout = NULL;
      ensure_text_layout (self, &layout, " ", FALSE, TRUE);
      g_ptr_array_add (layouts, layout);
    }
  g_ptr_array_set_size (layouts, n);
  for (guint i = 0; i < n; i++)
    {
      PangoLayout *layout = g_ptr_array_index (layouts, i);
      if (g_strcmp0 (pango_layout_get_text (layout), labels[i]) != 0)
        pango_layout_set_text (layout, labels[i], -1);
    }
}

static double
layout_width (PangoLayout *layout)
{
  int w = 0, h = 0;
  if (layout != NULL)
    pango_layout_get_pixel_size (layout, &w, &h);
  return w;
}

static double
layout_height (PangoLayout *layout)
{
  int w = 0, h = 0;
  if (layout != NULL)
    pango_layout_get_pixel_size (layout, &w, &h);
  return h;
}

/* The range of the data on each axis (after y-factor), with the hints; FALSE without data. */
static gboolean
data_ranges (GraftPlot *self, double *x_lo, double *x_hi, double *y_lo, double *y_hi)
{
  gboolean any = FALSE;
  *x_lo = *y_lo = INFINITY;
  *x_hi = *y_hi = -INFINITY;
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      if (ps->n_valid == 0)
        continue;
      any = TRUE;
      *x_lo = MIN (*x_lo, ps->x_min);
      *x_hi = MAX (*x_hi, ps->x_max);
      *y_lo = MIN (*y_lo, ps->y_min * self->y_factor);
      *y_hi = MAX (*y_hi, ps->y_max * self->y_factor);
    }
  if (!any)
    return FALSE;
  /* Hints widen the axes (a hint a log axis cannot show is left out). */
  if (isfinite (self->x_min_hint) && (!self->log_x || self->x_min_hint > 0))
    *x_lo = MIN (*x_lo, self->x_min_hint);
  if (isfinite (self->x_max_hint) && (!self->log_x || self->x_max_hint > 0))
    *x_hi = MAX (*x_hi, self->x_max_hint);
  if (isfinite (self->y_min_hint) && (!self->log_y || self->y_min_hint > 0))
    *y_lo = MIN (*y_lo, self->y_min_hint);
  if (isfinite (self->y_max_hint) && (!self->log_y || self->y_max_hint > 0))
    *y_hi = MAX (*y_hi, self->y_max_hint);
  return TRUE;
}

static void
update_legend (GraftPlot *self)
{
  gboolean show = self->series->len > 1;
  g_ptr_array_set_size (self->legend_layouts, 0);
  if (!show)
    return;
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      PangoLayout *layout = NULL;
      ensure_text_layout (self, &layout, graft_series_get_label (ps->series), FALSE, TRUE);
      g_ptr_array_add (self->legend_layouts, layout);
    }
}

/* Places the legend's entries from the right end of the title line, flowing onto
 * more lines when they do not fit; returns the height below top they take. */
static double
place_legend (GraftPlot *self, double top, double title_width, double line_height)
{
  double right = self->width - PADDING;
  double available = self->width - 2 * PADDING;
  double widths[64];
  guint n = MIN (self->legend_layouts->len, G_N_ELEMENTS (widths));
  double total = 0, y = top, used = 0;
  guint start = 0;

  g_array_set_size (self->legend_positions, 0);
  if (n == 0)
    return 0;
  for (guint i = 0; i < n; i++)
    {
      widths[i] = LEGEND_SWATCH + 4 + layout_width (g_ptr_array_index (self->legend_layouts, i));
      total += widths[i] + (i > 0 ? 12 : 0);
    }
  /* On the title's line when everything fits beside it. */
  if (title_width + 24 + total <= available)
    {
      double x = right - total;
      for (guint i = 0; i < n; i++)
        {
          graphene_point_t p = GRAPHENE_POINT_INIT (x, top + line_height / 2);
          g_array_append_val (self->legend_positions, p);
          x += widths[i] + 12;
        }
      return 0;
    }
  /* Otherwise on lines of their own, under the title, from the left. */
  y = top + (title_width > 0 ? line_height + 4 : 0);
  while (start < n)
    {
      double x = PADDING, line = 0;
      guint end = start;
      while (end < n && (end == start || line + 12 + widths[end] <= available))
        {
          line += (end > start ? 12 : 0) + widths[end];
          end++;
        }
      for (guint i = start; i < end; i++)
        {
          graphene_point_t p = GRAPHENE_POINT_INIT (x, y + line_height / 2);
          g_array_append_val (self->legend_positions, p);
          x += widths[i] + 12;
        }
      y += line_height + 2;
      start = end;
    }
  used = y - top - (title_width > 0 ? line_height + 4 : 0);
  return used + 2;
}

static gboolean on_description_timeout (gpointer user_data);

/* The description follows the data, at most once a second (a screen reader need not
 * hear of every training step). */
static void
update_accessible_description (GraftPlot *self)
{
  if (self->description_timeout_id != 0)
    {
      self->description_dirty = TRUE;
      return;
    }
  write_accessible_description (self);
  self->description_dirty = FALSE;
  self->description_timeout_id = g_timeout_add_seconds (1, on_description_timeout, self);
}

static gboolean
on_description_timeout (gpointer user_data)
{
  GraftPlot *self = user_data;
  if (!self->description_dirty)
    {
      self->description_timeout_id = 0;
      return G_SOURCE_REMOVE;
    }
  write_accessible_description (self);
  self->description_dirty = FALSE;
  return G_SOURCE_CONTINUE;
}

static void
write_accessible_description (GraftPlot *self)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      g_autofree char *y = NULL;
      g_autofree char *x = NULL;
      if (ps->n_valid == 0)
        continue;
      y = format_value (ps->last_y * self->y_factor);
      x = format_value (ps->last_x);
      if (text->len > 0)
        g_string_append (text, "; ");
      if (self->x_label != NULL)
        /* Translators: the latest value of a plotted series: "Validation loss: 0.231 at Epoch 4" */
        g_string_append_printf (text, _("%s: %s at %s %s"), graft_series_get_label (ps->series), y, self->x_label,
                                x);
      else
        g_string_append_printf (text, _("%s: %s"), graft_series_get_label (ps->series), y);
    }
  if (text->len == 0)
    g_string_append (text, self->placeholder_text != NULL ? self->placeholder_text : "");
  if (g_strcmp0 (text->str, self->accessible_description) != 0)
    {
      g_free (self->accessible_description);
      self->accessible_description = g_string_free (text, FALSE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                      self->accessible_description, -1);
    }
  else
    g_string_free (text, TRUE);
}

/* Recomputes the ranges, ticks, text and plot area for the current size, and the
 * paths that they invalidate. */
static void
update_layout (GraftPlot *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  double x_lo, x_hi, y_lo, y_hi, alo, ahi;
  double top, bottom, left, right, line_height, tick_height, title_width;
  g_auto (GStrv) x_labels = NULL;
  g_auto (GStrv) y_labels = NULL;
  int columns;

  self->width = gtk_widget_get_width (widget);
  self->height = gtk_widget_get_height (widget);
  self->layout_valid = TRUE;
  update_accessible_description (self);
  if (self->width <= 0 || self->height <= 0)
    {
      self->layout_valid = FALSE;
      return;
    }

  ensure_text_layout (self, &self->title_layout, self->title, TRUE, FALSE);
  ensure_text_layout (self, &self->x_label_layout, self->x_label, FALSE, TRUE);
  ensure_text_layout (self, &self->y_label_layout, self->y_label, FALSE, TRUE);
  ensure_text_layout (self, &self->placeholder_layout, self->placeholder_text, FALSE, FALSE);
  ensure_text_layout (self, &self->marker_layout, self->marker_label, FALSE, TRUE);
  update_legend (self);

  self->has_data = data_ranges (self, &x_lo, &x_hi, &y_lo, &y_hi);
  if (!self->has_data)
    return;

  /* Rows from the top: title (and legend), the plot area, tick labels, the x label. */
  line_height = MAX (layout_height (self->title_layout), 16);
  if (self->tick_height <= 0)
    {
      PangoLayout *probe = NULL;
      ensure_text_layout (self, &probe, "0", FALSE, TRUE);
      self->tick_height = layout_height (probe);
      g_object_unref (probe);
    }
  tick_height = self->tick_height;
  title_width = layout_width (self->title_layout);
  top = PADDING;
  if (self->title_layout != NULL || self->legend_layouts->len > 0)
    {
      double legend_height = place_legend (self, top, title_width, line_height);
      top += (self->title_layout != NULL ? line_height : 0) + legend_height + GAP + tick_height / 2;
    }
  else
    top += tick_height / 2;
  bottom = self->height - PADDING - tick_height - 4;
  if (self->x_label_layout != NULL)
    bottom -= layout_height (self->x_label_layout) + 2;
  left = PADDING;
  if (self->y_label_layout != NULL)
    left += layout_height (self->y_label_layout) + GAP;
  right = self->width - PADDING;

  /* y ticks first: their labels' width decides where the plot area starts. */
  g_clear_pointer (&self->y_ticks, g_array_unref);
  g_clear_pointer (&self->y_minor, g_array_unref);
  self->y_ticks = graft_plot_compute_ticks (y_lo, y_hi, self->log_y, FALSE, MAX (2, (int) ((bottom - top) / 36)),
                                            &alo, &ahi, &self->y_minor);
  self->ay_lo = self->log_y ? log10 (alo) : alo;
  self->ay_hi = self->log_y ? log10 (ahi) : ahi;
  y_labels = format_ticks (self->y_ticks, self->log_y);
  set_tick_layouts (self, self->y_tick_layouts, y_labels);
  {
    double widest = 0;
    for (guint i = 0; i < self->y_tick_layouts->len; i++)
      widest = MAX (widest, layout_width (g_ptr_array_index (self->y_tick_layouts, i)));
    left += widest + GAP;
  }

  /* x: the axis spans the data (with hints); ticks inside it. A log axis spans whole decades. */
  g_clear_pointer (&self->x_ticks, g_array_unref);
  g_clear_pointer (&self->x_minor, g_array_unref);
  self->x_ticks = graft_plot_compute_ticks (x_lo, x_hi, self->log_x, self->x_integer_ticks,
                                            MAX (2, (int) ((right - left) / 90)), &alo, &ahi, &self->x_minor);
  if (self->log_x)
    {
      self->ax_lo = log10 (alo);
      self->ax_hi = log10 (ahi);
    }
  else
    {
      if (!(x_hi > x_lo))
        {
          x_lo = alo;
          x_hi = ahi;
        }
      self->ax_lo = x_lo;
      self->ax_hi = x_hi;
      /* Only the ticks within the data's range. */
      for (guint i = self->x_ticks->len; i-- > 0;)
        {
          double v = g_array_index (self->x_ticks, double, i);
          if (v < x_lo - 1e-9 * (x_hi - x_lo) || v > x_hi + 1e-9 * (x_hi - x_lo))
            g_array_remove_index (self->x_ticks, i);
        }
    }
  x_labels = format_ticks (self->x_ticks, self->log_x);
  set_tick_layouts (self, self->x_tick_layouts, x_labels);
  /* Room for the last x label to be centred on its tick. */
  if (self->x_tick_layouts->len > 0)
    right -= layout_width (g_ptr_array_index (self->x_tick_layouts, self->x_tick_layouts->len - 1)) / 2;

  /* On whole pixels, so that each pixel column is one column of the paths. */
  left = ceil (left);
  top = round (top);
  self->area = GRAPHENE_RECT_INIT (left, top, MAX (1, floor (right - left)), MAX (1, floor (bottom - top)));

  /* Paths: all again when the ranges, the columns or the y-factor changed; otherwise
   * extended with the points appended since. */
  columns = MAX (1, (int) self->area.size.width);
  if (columns != self->path_columns || self->path_ranges[0] != self->ax_lo || self->path_ranges[1] != self->ax_hi
      || self->path_ranges[2] != self->ay_lo || self->path_ranges[3] != self->ay_hi
      || self->path_ranges[4] != self->y_factor)
    {
      self->path_columns = columns;
      self->path_ranges[0] = self->ax_lo;
      self->path_ranges[1] = self->ax_hi;
      self->path_ranges[2] = self->ay_lo;
      self->path_ranges[3] = self->ay_hi;
      self->path_ranges[4] = self->y_factor;
      for (guint i = 0; i < self->series->len; i++)
        ((PlotSeries *) g_ptr_array_index (self->series, i))->path_valid = FALSE;
    }
  for (guint i = 0; i < self->series->len; i++)
    plot_series_update_path (g_ptr_array_index (self->series, i));
}

static void
invalidate_all (GraftPlot *self)
{
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      plot_series_reset_bounds (ps);
      plot_series_update_bounds (ps);
      ps->path_valid = FALSE;
    }
  update_layout (self);
  update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_series_changed (GraftSeries *series, PlotSeries *ps)
{
  GraftPlot *self = ps->plot;
  plot_series_update_bounds (ps);
  /* Appended points extend the path; a cleared series starts it again. */
  if (graft_series_get_length (series) < ps->path_seen)
    ps->path_valid = FALSE;
  update_layout (self);
  if (!isnan (self->hover_x))
    update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* --- the read-out -------------------------------------------------------------- */

/* The index of the valid point nearest x, or -1. */
static int
nearest_point (GraftPlot *self, PlotSeries *ps, double x)
{
  guint n = graft_series_get_length (ps->series);
  const double *xs = graft_series_get_x (ps->series);
  const double *ys = graft_series_get_y (ps->series);
  int best = -1;
  double best_distance = INFINITY;

  if (n == 0 || ps->n_valid == 0)
    return -1;
  if (ps->sorted)
    {
      /* First index with xs >= x, then the nearest valid point around it. */
      guint lo = 0, hi = n;
      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;
          if (xs[mid] < x)
            lo = mid + 1;
          else
            hi = mid;
        }
      for (int i = (int) lo; i < (int) n && i < (int) lo + 256; i++)
        if (point_valid (self, xs[i], ys[i]))
          {
            best = i;
            best_distance = fabs (axis_x (self, xs[i]) - axis_x (self, x));
            break;
          }
      for (int i = (int) lo - 1; i >= 0 && i >= (int) lo - 256; i--)
        if (point_valid (self, xs[i], ys[i]))
          {
            if (fabs (axis_x (self, xs[i]) - axis_x (self, x)) <= best_distance)
              best = i;
            break;
          }
      return best;
    }
  for (guint i = 0; i < n; i++)
    if (point_valid (self, xs[i], ys[i]) && fabs (axis_x (self, xs[i]) - axis_x (self, x)) < best_distance)
      {
        best = i;
        best_distance = fabs (axis_x (self, xs[i]) - axis_x (self, x));
      }
  return best;
}

static void
update_readout (GraftPlot *self)
{
  g_autofree char *x_text = NULL;
  g_autofree char *header = NULL;

  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      ps->hover_index = isnan (self->hover_x) ? -1 : nearest_point (self, ps, self->hover_x);
      if (ps->hover_index >= 0)
        {
          g_autofree char *value =
            format_value (graft_series_get_y (ps->series)[ps->hover_index] * self->y_factor);
          g_autofree char *row = g_strdup_printf ("%s  %s", graft_series_get_label (ps->series), value);
          ensure_text_layout (self, &ps->readout_layout, row, FALSE, TRUE);
        }
    }
  if (isnan (self->hover_x))
    return;
  x_text = format_value (self->hover_x);
  header = self->x_label != NULL ? g_strdup_printf ("%s  %s", self->x_label, x_text) : g_strdup (x_text);
  ensure_text_layout (self, &self->readout_header, header, TRUE, TRUE);
}

void
graft_plot_set_hover_x (GraftPlot *self, double x)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  if (isnan (x) && isnan (self->hover_x))
    return;
  self->hover_x = x;
  update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
graft_plot_get_hover_x (GraftPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), NAN);
  return self->hover_x;
}

static double
pixel_to_x (GraftPlot *self, double px)
{
  double t = self->ax_lo + (px - self->area.origin.x) / self->area.size.width * (self->ax_hi - self->ax_lo);
  return self->log_x ? pow (10, t) : t;
}

static double
x_to_pixel (GraftPlot *self, double x)
{
  return self->area.origin.x + (axis_x (self, x) - self->ax_lo) / (self->ax_hi - self->ax_lo) * self->area.size.width;
}

static double
y_to_pixel (GraftPlot *self, double y)
{
  return self->area.origin.y + self->area.size.height
         - (axis_y (self, y) - self->ay_lo) / (self->ay_hi - self->ay_lo) * self->area.size.height;
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, GraftPlot *self)
{
  if (!self->layout_valid || !self->has_data)
    return;
  if (x < self->area.origin.x - 4 || x > self->area.origin.x + self->area.size.width + 4
      || y < self->area.origin.y - 4 || y > self->area.origin.y + self->area.size.height + 4)
    {
      graft_plot_set_hover_x (self, NAN);
      return;
    }
  x = CLAMP (x, self->area.origin.x, self->area.origin.x + self->area.size.width);
  graft_plot_set_hover_x (self, pixel_to_x (self, x));
}

static void
on_leave (GtkEventControllerMotion *controller, GraftPlot *self)
{
  if (!gtk_widget_has_focus (GTK_WIDGET (self)))
    graft_plot_set_hover_x (self, NAN);
}

/* The series the arrow keys step through: the one with the most points. */
static PlotSeries *
anchor_series (GraftPlot *self)
{
  PlotSeries *best = NULL;
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      if (ps->n_valid > 0 && (best == NULL || ps->n_valid > best->n_valid))
        best = ps;
    }
  return best;
}

/* Moves the read-out to the next point (direction +1) or the previous one (-1) at
 * least a pixel away, so dense series step a pixel column at a time. */
static void
step_hover (GraftPlot *self, int direction, int times)
{
  PlotSeries *ps = anchor_series (self);
  const double *xs, *ys;
  int n, i;

  if (ps == NULL || !self->layout_valid)
    return;
  xs = graft_series_get_x (ps->series);
  ys = graft_series_get_y (ps->series);
  n = graft_series_get_length (ps->series);
  if (isnan (self->hover_x))
    {
      i = direction > 0 ? 0 : n - 1;
      while (i >= 0 && i < n && !point_valid (self, xs[i], ys[i]))
        i += direction;
      if (i >= 0 && i < n)
        graft_plot_set_hover_x (self, xs[i]);
      return;
    }
  i = nearest_point (self, ps, self->hover_x);
  for (int t = 0; t < times && i >= 0; t++)
    {
      double from = x_to_pixel (self, xs[i]);
      int j = i + direction;
      while (j >= 0 && j < n && (!point_valid (self, xs[j], ys[j]) || fabs (x_to_pixel (self, xs[j]) - from) < 1))
        j += direction;
      if (j < 0 || j >= n)
        break;
      i = j;
    }
  if (i >= 0)
    graft_plot_set_hover_x (self, xs[i]);
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
                GraftPlot *self)
{
  int times = (state & GDK_SHIFT_MASK) ? 10 : 1;
  switch (keyval)
    {
    case GDK_KEY_Left:
    case GDK_KEY_KP_Left:
      step_hover (self, -1, times);
      return TRUE;
    case GDK_KEY_Right:
    case GDK_KEY_KP_Right:
      step_hover (self, +1, times);
      return TRUE;
    case GDK_KEY_Home:
      graft_plot_set_hover_x (self, NAN);
      step_hover (self, +1, 1);
      return TRUE;
    case GDK_KEY_End:
      graft_plot_set_hover_x (self, NAN);
      step_hover (self, -1, 1);
      return TRUE;
    case GDK_KEY_Escape:
      if (isnan (self->hover_x))
        return FALSE;
      graft_plot_set_hover_x (self, NAN);
      return TRUE;
    default:
      return FALSE;
    }
}

static void
on_focus_leave (GtkEventControllerFocus *controller, GraftPlot *self)
{
  graft_plot_set_hover_x (self, NAN);
}

static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y, GraftPlot *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

/* --- drawing ------------------------------------------------------------------- */

static gboolean
is_dark (const GdkRGBA *foreground)
{
  return 0.2126 * foreground->red + 0.7152 * foreground->green + 0.0722 * foreground->blue > 0.5;
}

static void
series_color (GraftPlotColor color, gboolean dark, GdkRGBA *rgba)
{
  gdk_rgba_parse (rgba, (dark ? palette_dark : palette_light)[color % GRAFT_PLOT_N_COLORS]);
}

static void
append_layout (GtkSnapshot *snapshot, PangoLayout *layout, double x, double y, const GdkRGBA *color, double alpha)
{
  GdkRGBA c = *color;
  c.alpha *= alpha;
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (round (x), round (y)));
  gtk_snapshot_append_layout (snapshot, layout, &c);
  gtk_snapshot_restore (snapshot);
}

static void
draw_swatch (cairo_t *cr, PlotSeries *ps, const GdkRGBA *color, double x, double y)
{
  graft_color_set_source (cr, color, (ps->style & GRAFT_PLOT_FAINT) ? 0.6 : 1.0);
  if (ps->style & GRAFT_PLOT_LINE || !(ps->style & GRAFT_PLOT_POINTS))
    {
      cairo_set_line_width (cr, (ps->style & GRAFT_PLOT_FAINT) ? 1.5 : 2.0);
      cairo_move_to (cr, x, y);
      cairo_line_to (cr, x + LEGEND_SWATCH, y);
      cairo_stroke (cr);
    }
  if (ps->style & GRAFT_PLOT_POINTS)
    {
      cairo_arc (cr, x + LEGEND_SWATCH / 2, y, 3, 0, 2 * G_PI);
      cairo_fill (cr);
    }
}

/* Draws a cached path, scaled to the plot area. Cairo's stroker slows down a lot on
 * long self-crossing lines (a noisy loss), so lines are stroked a few segments at a
 * time, and a translucent line is drawn opaque into a group first so that the joins
 * do not show. Spans are filled as one rectangle each. */
#define SEGMENTS_PER_STROKE 16

static void
draw_series (cairo_t *cr, GraftPlot *self, PlotSeries *ps, const GdkRGBA *color)
{
  const PathPoint *points = (const PathPoint *) ps->path->data;
  guint n = ps->path->len;
  double ox = self->area.origin.x, oy = self->area.origin.y + self->area.size.height;
  double w = self->area.size.width, h = self->area.size.height;
  gboolean faint = (ps->style & GRAFT_PLOT_FAINT) != 0;
  gboolean line = (ps->style & GRAFT_PLOT_LINE) || !(ps->style & GRAFT_PLOT_POINTS);
  gboolean dots = FALSE;
  double line_width = faint ? 1.0 : 2.0;
  double alpha = faint ? 0.45 : 1.0;

  if (n == 0)
    return;
  /* Dots only where they stand apart (6 px or more between points on average). */
  if ((ps->style & GRAFT_PLOT_POINTS) && !ps->spans)
    {
      guint first = 0, last = n - 1;
      while (first < n && isnan (points[first].x))
        first++;
      while (last > first && isnan (points[last].x))
        last--;
      dots = first >= last || (points[last].x - points[first].x) * w / (last - first) >= 6;
    }
  if (ps->spans)
    {
      double column_width = w / self->path_columns;
      graft_color_set_source (cr, color, alpha);
      for (guint i = 0; i + 1 < n; i += 2)
        {
          if (isnan (points[i].x))
            {
              i--; /* a break is one pair */
              continue;
            }
          double x = round (ox + points[i].x * w - column_width / 2);
          double top = oy - points[i + 1].y * h - line_width / 2;
          double bottom = oy - points[i].y * h + line_width / 2;
          cairo_rectangle (cr, x, top, MAX (1, round (column_width)), bottom - top);
        }
      cairo_fill (cr);
      return;
    }
  if (line)
    {
      int segments = 0;
      gboolean pen_down = FALSE;
      if (alpha < 1)
        cairo_push_group (cr);
      graft_color_set_source (cr, color, 1.0);
      cairo_set_line_width (cr, line_width);
      cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
      cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
      for (guint i = 0; i < n; i++)
        {
          if (isnan (points[i].x))
            {
              pen_down = FALSE;
              continue;
            }
          double x = ox + points[i].x * w, y = oy - points[i].y * h;
          if (pen_down && segments < SEGMENTS_PER_STROKE)
            {
              cairo_line_to (cr, x, y);
              segments++;
            }
          else if (pen_down)
            {
              /* Stroke what there is, and go on from here. */
              cairo_line_to (cr, x, y);
              cairo_stroke (cr);
              cairo_move_to (cr, x, y);
              segments = 0;
            }
          else
            {
              /* A point alone between breaks still shows, as a dot. */
              gboolean alone = i + 1 >= n || isnan (points[i + 1].x);
              if (alone && !dots)
                {
                  cairo_stroke (cr); /* what came before the break */
                  cairo_new_sub_path (cr);
                  cairo_arc (cr, x, y, line_width + 0.5, 0, 2 * G_PI);
                  cairo_fill (cr);
                }
              cairo_move_to (cr, x, y);
              pen_down = TRUE;
              segments = 0;
            }
        }
      cairo_stroke (cr);
      if (alpha < 1)
        {
          cairo_pop_group_to_source (cr);
          cairo_paint_with_alpha (cr, alpha);
        }
    }
  if (dots)
    {
      graft_color_set_source (cr, color, alpha);
      for (guint i = 0; i < n; i++)
        {
          if (isnan (points[i].x))
            continue;
          cairo_new_sub_path (cr);
          cairo_arc (cr, ox + points[i].x * w, oy - points[i].y * h, 3.0, 0, 2 * G_PI);
        }
      cairo_fill (cr);
    }
}

static void
graft_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  GraftPlot *self = GRAFT_PLOT (widget);
  GtkStyleContext *style = gtk_widget_get_style_context (widget);
  GdkRGBA fg, accent, popover_bg;
  gboolean dark;
  double width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  const graphene_rect_t *a = &self->area;
  cairo_t *cr;

  /* Recomputed here only when a style change left the layout invalid. */
  if (!self->layout_valid || self->width != (int) width || self->height != (int) height)
    update_layout (self);
  if (!self->layout_valid)
    return;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (style, &fg);
  accent = graft_color_named (style, "accent_color", "#3584e4");
  if (!gtk_style_context_lookup_color (style, "popover_bg_color", &popover_bg))
    popover_bg = (GdkRGBA) { 1 - fg.red, 1 - fg.green, 1 - fg.blue, 1 };
  G_GNUC_END_IGNORE_DEPRECATIONS
  dark = is_dark (&fg);

  if (self->title_layout != NULL)
    append_layout (snapshot, self->title_layout, PADDING, PADDING, &fg, 1.0);

  if (gtk_widget_has_visible_focus (widget))
    {
      cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
      graft_color_set_source (cr, &accent, 0.5);
      cairo_set_line_width (cr, 2);
      graft_rounded_rectangle (cr, 1, 1, width - 2, height - 2, 11);
      cairo_stroke (cr);
      cairo_destroy (cr);
    }

  if (!self->has_data)
    {
      if (self->placeholder_layout != NULL)
        {
          double pw = layout_width (self->placeholder_layout), ph = layout_height (self->placeholder_layout);
          append_layout (snapshot, self->placeholder_layout, (width - pw) / 2, (height - ph) / 2, &fg, 0.55);
        }
      return;
    }

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  /* Grid: minor ticks faint, major ticks light, the frame's bottom and left a little stronger. */
  cairo_set_line_width (cr, 1);
  graft_color_set_source (cr, &fg, 0.05);
  for (guint i = 0; self->y_minor != NULL && i < self->y_minor->len; i++)
    {
      double y = round (y_to_pixel (self, g_array_index (self->y_minor, double, i) / self->y_factor)) + 0.5;
      if (y >= a->origin.y && y <= a->origin.y + a->size.height)
        {
          cairo_move_to (cr, a->origin.x, y);
          cairo_line_to (cr, a->origin.x + a->size.width, y);
        }
    }
  for (guint i = 0; self->x_minor != NULL && i < self->x_minor->len; i++)
    {
      double x = round (x_to_pixel (self, g_array_index (self->x_minor, double, i))) + 0.5;
      if (x >= a->origin.x && x <= a->origin.x + a->size.width)
        {
          cairo_move_to (cr, x, a->origin.y);
          cairo_line_to (cr, x, a->origin.y + a->size.height);
        }
    }
  cairo_stroke (cr);
  graft_color_set_source (cr, &fg, 0.12);
  for (guint i = 0; i < self->y_ticks->len; i++)
    {
      double y = round (y_to_pixel (self, g_array_index (self->y_ticks, double, i) / self->y_factor)) + 0.5;
      cairo_move_to (cr, a->origin.x, y);
      cairo_line_to (cr, a->origin.x + a->size.width, y);
    }
  for (guint i = 0; i < self->x_ticks->len; i++)
    {
      double x = round (x_to_pixel (self, g_array_index (self->x_ticks, double, i))) + 0.5;
      cairo_move_to (cr, x, a->origin.y);
      cairo_line_to (cr, x, a->origin.y + a->size.height + 4);
    }
  cairo_stroke (cr);
  graft_color_set_source (cr, &fg, 0.35);
  cairo_move_to (cr, round (a->origin.x) + 0.5, a->origin.y);
  cairo_line_to (cr, round (a->origin.x) + 0.5, round (a->origin.y + a->size.height) + 0.5);
  cairo_line_to (cr, a->origin.x + a->size.width, round (a->origin.y + a->size.height) + 0.5);
  cairo_stroke (cr);

  /* The marker, dashed. */
  if (isfinite (self->marker_x) && (!self->log_x || self->marker_x > 0))
    {
      double x = round (x_to_pixel (self, self->marker_x)) + 0.5;
      if (x >= a->origin.x && x <= a->origin.x + a->size.width)
        {
          graft_color_set_source (cr, &fg, 0.6);
          cairo_set_dash (cr, (double[]) { 4, 3 }, 2, 0);
          cairo_move_to (cr, x, a->origin.y);
          cairo_line_to (cr, x, a->origin.y + a->size.height);
          cairo_stroke (cr);
          cairo_set_dash (cr, NULL, 0, 0);
        }
    }

  /* The series, clipped to the plot area (with room for dots on its edges). */
  cairo_save (cr);
  cairo_rectangle (cr, a->origin.x - 4, a->origin.y - 4, a->size.width + 8, a->size.height + 8);
  cairo_clip (cr);
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      GdkRGBA color;
      series_color (ps->color, dark, &color);
      draw_series (cr, self, ps, &color);
    }
  cairo_restore (cr);

  /* Legend swatches. */
  for (guint i = 0; i < self->legend_positions->len && i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      graphene_point_t *p = &g_array_index (self->legend_positions, graphene_point_t, i);
      GdkRGBA color;
      series_color (ps->color, dark, &color);
      draw_swatch (cr, ps, &color, p->x, p->y);
    }

  /* The read-out: a guide, the points, and a box with the values. */
  double box_x = 0, box_y = 0, box_w = 0, row_h = 0;
  gboolean readout = !isnan (self->hover_x) && self->readout_header != NULL;
  if (readout)
    {
      double gx = round (CLAMP (x_to_pixel (self, self->hover_x), a->origin.x, a->origin.x + a->size.width)) + 0.5;
      double box_h;
      int rows = 0;

      graft_color_set_source (cr, &fg, 0.45);
      cairo_set_line_width (cr, 1);
      cairo_move_to (cr, gx, a->origin.y);
      cairo_line_to (cr, gx, a->origin.y + a->size.height);
      cairo_stroke (cr);
      for (guint i = 0; i < self->series->len; i++)
        {
          PlotSeries *ps = g_ptr_array_index (self->series, i);
          GdkRGBA color;
          if (ps->hover_index < 0)
            continue;
          rows++;
          series_color (ps->color, dark, &color);
          double px = x_to_pixel (self, graft_series_get_x (ps->series)[ps->hover_index]);
          double py = y_to_pixel (self, graft_series_get_y (ps->series)[ps->hover_index]);
          if (py < a->origin.y - 1 || py > a->origin.y + a->size.height + 1)
            continue;
          graft_color_set_source (cr, &popover_bg, 1.0);
          cairo_arc (cr, px, py, 4.5, 0, 2 * G_PI);
          cairo_fill_preserve (cr);
          graft_color_set_source (cr, &color, 1.0);
          cairo_set_line_width (cr, 2);
          cairo_stroke (cr);
          cairo_set_line_width (cr, 1);
        }

      box_w = layout_width (self->readout_header);
      row_h = layout_height (self->readout_header);
      for (guint i = 0; i < self->series->len; i++)
        {
          PlotSeries *ps = g_ptr_array_index (self->series, i);
          if (ps->hover_index >= 0 && ps->readout_layout != NULL)
            box_w = MAX (box_w, 14 + layout_width (ps->readout_layout));
        }
      box_w += 2 * READOUT_PADDING;
      box_h = 2 * READOUT_PADDING + row_h * (1 + rows) + 2 * rows;
      box_x = gx + 10;
      if (box_x + box_w > a->origin.x + a->size.width)
        box_x = gx - 10 - box_w;
      box_x = MAX (box_x, 1);
      box_y = a->origin.y + 6;
      graft_color_set_source (cr, &popover_bg, 0.96);
      graft_rounded_rectangle (cr, round (box_x) + 0.5, round (box_y) + 0.5, round (box_w), round (box_h), 6);
      cairo_fill_preserve (cr);
      graft_color_set_source (cr, &fg, 0.15);
      cairo_stroke (cr);
      double y = box_y + READOUT_PADDING + row_h + 2;
      for (guint i = 0; i < self->series->len; i++)
        {
          PlotSeries *ps = g_ptr_array_index (self->series, i);
          GdkRGBA color;
          if (ps->hover_index < 0)
            continue;
          series_color (ps->color, dark, &color);
          graft_color_set_source (cr, &color, 1.0);
          cairo_arc (cr, box_x + READOUT_PADDING + 4, y + row_h / 2, 4, 0, 2 * G_PI);
          cairo_fill (cr);
          y += row_h + 2;
        }
    }
  cairo_destroy (cr);

  /* Text, drawn by GSK over the Cairo node. */
  for (guint i = 0; i < self->y_ticks->len && i < self->y_tick_layouts->len; i++)
    {
      PangoLayout *layout = g_ptr_array_index (self->y_tick_layouts, i);
      double y = y_to_pixel (self, g_array_index (self->y_ticks, double, i) / self->y_factor);
      append_layout (snapshot, layout, a->origin.x - GAP - layout_width (layout), y - layout_height (layout) / 2,
                     &fg, 0.7);
    }
  for (guint i = 0; i < self->x_ticks->len && i < self->x_tick_layouts->len; i++)
    {
      PangoLayout *layout = g_ptr_array_index (self->x_tick_layouts, i);
      double x = x_to_pixel (self, g_array_index (self->x_ticks, double, i));
      append_layout (snapshot, layout, x - layout_width (layout) / 2, a->origin.y + a->size.height + 4, &fg, 0.7);
    }
  if (self->x_label_layout != NULL)
    append_layout (snapshot, self->x_label_layout,
                   a->origin.x + (a->size.width - layout_width (self->x_label_layout)) / 2,
                   height - PADDING - layout_height (self->x_label_layout), &fg, 0.7);
  if (self->y_label_layout != NULL)
    {
      double lw = layout_width (self->y_label_layout);
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot,
                              &GRAPHENE_POINT_INIT (PADDING, round (a->origin.y + (a->size.height + lw) / 2)));
      gtk_snapshot_rotate (snapshot, -90);
      append_layout (snapshot, self->y_label_layout, 0, 0, &fg, 0.7);
      gtk_snapshot_restore (snapshot);
    }
  for (guint i = 0; i < self->legend_positions->len && i < self->legend_layouts->len; i++)
    {
      PangoLayout *layout = g_ptr_array_index (self->legend_layouts, i);
      graphene_point_t *p = &g_array_index (self->legend_positions, graphene_point_t, i);
      append_layout (snapshot, layout, p->x + LEGEND_SWATCH + 4, p->y - layout_height (layout) / 2, &fg, 0.85);
    }
  if (self->marker_layout != NULL && isfinite (self->marker_x) && (!self->log_x || self->marker_x > 0))
    {
      double x = x_to_pixel (self, self->marker_x), lw = layout_width (self->marker_layout);
      double lx = x + 4 + lw > a->origin.x + a->size.width ? x - 4 - lw : x + 4;
      append_layout (snapshot, self->marker_layout, lx, a->origin.y + 2, &fg, 0.8);
    }
  if (readout)
    {
      double y = box_y + READOUT_PADDING;
      append_layout (snapshot, self->readout_header, box_x + READOUT_PADDING, y, &fg, 1.0);
      y += row_h + 2;
      for (guint i = 0; i < self->series->len; i++)
        {
          PlotSeries *ps = g_ptr_array_index (self->series, i);
          if (ps->hover_index < 0 || ps->readout_layout == NULL)
            continue;
          append_layout (snapshot, ps->readout_layout, box_x + READOUT_PADDING + 14, y, &fg, 0.9);
          y += row_h + 2;
        }
    }
}

/* --- widget ------------------------------------------------------------------- */

static void
graft_plot_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  GraftPlot *self = GRAFT_PLOT (widget);
  if (width != self->width || height != self->height || !self->layout_valid)
    {
      update_layout (self);
      update_readout (self);
    }
}

static void
graft_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                    int *minimum_baseline, int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 180;
      *natural = 420;
    }
  else
    {
      *minimum = 140;
      *natural = 240;
    }
}

static void
relayout_text (GraftPlot *self)
{
  PangoLayout *layouts[] = { self->title_layout, self->x_label_layout, self->y_label_layout,
                             self->placeholder_layout, self->marker_layout, self->readout_header };
  for (gsize i = 0; i < G_N_ELEMENTS (layouts); i++)
    if (layouts[i] != NULL)
      pango_layout_context_changed (layouts[i]);
  for (guint i = 0; i < self->x_tick_layouts->len; i++)
    pango_layout_context_changed (g_ptr_array_index (self->x_tick_layouts, i));
  for (guint i = 0; i < self->y_tick_layouts->len; i++)
    pango_layout_context_changed (g_ptr_array_index (self->y_tick_layouts, i));
  for (guint i = 0; i < self->legend_layouts->len; i++)
    pango_layout_context_changed (g_ptr_array_index (self->legend_layouts, i));
  for (guint i = 0; i < self->series->len; i++)
    {
      PlotSeries *ps = g_ptr_array_index (self->series, i);
      if (ps->readout_layout != NULL)
        pango_layout_context_changed (ps->readout_layout);
    }
  /* Fonts may have changed: the layout is recomputed before the next draw. */
  self->tick_height = 0;
  self->layout_valid = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
graft_plot_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  GTK_WIDGET_CLASS (graft_plot_parent_class)->css_changed (widget, change);
  relayout_text (GRAFT_PLOT (widget));
}

static void
graft_plot_system_setting_changed (GtkWidget *widget, GtkSystemSetting setting)
{
  GTK_WIDGET_CLASS (graft_plot_parent_class)->system_setting_changed (widget, setting);
  relayout_text (GRAFT_PLOT (widget));
}

static void
plot_series_free (gpointer data)
{
  PlotSeries *ps = data;
  g_clear_signal_handler (&ps->changed_id, ps->series);
  g_clear_object (&ps->series);
  g_clear_object (&ps->readout_layout);
  g_array_unref (ps->path);
  g_free (ps);
}

static void
graft_plot_dispose (GObject *object)
{
  GraftPlot *self = GRAFT_PLOT (object);

  g_ptr_array_set_size (self->series, 0);
  g_clear_handle_id (&self->description_timeout_id, g_source_remove);

  G_OBJECT_CLASS (graft_plot_parent_class)->dispose (object);
}

static void
graft_plot_finalize (GObject *object)
{
  GraftPlot *self = GRAFT_PLOT (object);

  g_ptr_array_unref (self->series);
  g_clear_object (&self->light_provider);
  g_free (self->title);
  g_free (self->x_label);
  g_free (self->y_label);
  g_free (self->placeholder_text);
  g_free (self->marker_label);
  g_free (self->accessible_description);
  g_clear_pointer (&self->x_ticks, g_array_unref);
  g_clear_pointer (&self->y_ticks, g_array_unref);
  g_clear_pointer (&self->x_minor, g_array_unref);
  g_clear_pointer (&self->y_minor, g_array_unref);
  g_ptr_array_unref (self->x_tick_layouts);
  g_ptr_array_unref (self->y_tick_layouts);
  g_ptr_array_unref (self->legend_layouts);
  g_array_unref (self->legend_positions);
  g_clear_object (&self->title_layout);
  g_clear_object (&self->x_label_layout);
  g_clear_object (&self->y_label_layout);
  g_clear_object (&self->placeholder_layout);
  g_clear_object (&self->marker_layout);
  g_clear_object (&self->readout_header);

  G_OBJECT_CLASS (graft_plot_parent_class)->finalize (object);
}

static void
graft_plot_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftPlot *self = GRAFT_PLOT (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_X_LABEL:
      g_value_set_string (value, self->x_label);
      break;
    case PROP_Y_LABEL:
      g_value_set_string (value, self->y_label);
      break;
    case PROP_PLACEHOLDER_TEXT:
      g_value_set_string (value, self->placeholder_text);
      break;
    case PROP_LOG_X:
      g_value_set_boolean (value, self->log_x);
      break;
    case PROP_LOG_Y:
      g_value_set_boolean (value, self->log_y);
      break;
    case PROP_X_INTEGER_TICKS:
      g_value_set_boolean (value, self->x_integer_ticks);
      break;
    case PROP_X_MIN:
      g_value_set_double (value, self->x_min_hint);
      break;
    case PROP_X_MAX:
      g_value_set_double (value, self->x_max_hint);
      break;
    case PROP_Y_MIN:
      g_value_set_double (value, self->y_min_hint);
      break;
    case PROP_Y_MAX:
      g_value_set_double (value, self->y_max_hint);
      break;
    case PROP_Y_FACTOR:
      g_value_set_double (value, self->y_factor);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
set_string (char **field, const char *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = (value != NULL && *value != '\0') ? g_strdup (value) : NULL;
  return TRUE;
}

static void
set_double (GraftPlot *self, double *field, double value, int prop)
{
  if (*field == value)
    return;
  *field = value;
  /* The bounds stay; the ranges, and with them the paths, follow. */
  update_layout (self);
  update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_boolean (GraftPlot *self, gboolean *field, gboolean value, int prop)
{
  value = !!value;
  if (*field == value)
    return;
  *field = value;
  invalidate_all (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
graft_plot_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftPlot *self = GRAFT_PLOT (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      graft_plot_set_title (self, g_value_get_string (value));
      break;
    case PROP_X_LABEL:
      graft_plot_set_x_label (self, g_value_get_string (value));
      break;
    case PROP_Y_LABEL:
      graft_plot_set_y_label (self, g_value_get_string (value));
      break;
    case PROP_PLACEHOLDER_TEXT:
      graft_plot_set_placeholder_text (self, g_value_get_string (value));
      break;
    case PROP_LOG_X:
      set_boolean (self, &self->log_x, g_value_get_boolean (value), PROP_LOG_X);
      break;
    case PROP_LOG_Y:
      set_boolean (self, &self->log_y, g_value_get_boolean (value), PROP_LOG_Y);
      break;
    case PROP_X_INTEGER_TICKS:
      set_boolean (self, &self->x_integer_ticks, g_value_get_boolean (value), PROP_X_INTEGER_TICKS);
      break;
    case PROP_X_MIN:
      set_double (self, &self->x_min_hint, g_value_get_double (value), PROP_X_MIN);
      break;
    case PROP_X_MAX:
      set_double (self, &self->x_max_hint, g_value_get_double (value), PROP_X_MAX);
      break;
    case PROP_Y_MIN:
      set_double (self, &self->y_min_hint, g_value_get_double (value), PROP_Y_MIN);
      break;
    case PROP_Y_MAX:
      set_double (self, &self->y_max_hint, g_value_get_double (value), PROP_Y_MAX);
      break;
    case PROP_Y_FACTOR:
      graft_plot_set_y_factor (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_plot_class_init (GraftPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = graft_plot_dispose;
  object_class->finalize = graft_plot_finalize;
  object_class->get_property = graft_plot_get_property;
  object_class->set_property = graft_plot_set_property;
  widget_class->snapshot = graft_plot_snapshot;
  widget_class->size_allocate = graft_plot_size_allocate;
  widget_class->measure = graft_plot_measure;
  widget_class->css_changed = graft_plot_css_changed;
  widget_class->system_setting_changed = graft_plot_system_setting_changed;

  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, flags);
  properties[PROP_X_LABEL] = g_param_spec_string ("x-label", NULL, NULL, NULL, flags);
  properties[PROP_Y_LABEL] = g_param_spec_string ("y-label", NULL, NULL, NULL, flags);
  properties[PROP_PLACEHOLDER_TEXT] = g_param_spec_string ("placeholder-text", NULL, NULL, NULL, flags);
  properties[PROP_LOG_X] = g_param_spec_boolean ("log-x", NULL, NULL, FALSE, flags);
  properties[PROP_LOG_Y] = g_param_spec_boolean ("log-y", NULL, NULL, FALSE, flags);
  properties[PROP_X_INTEGER_TICKS] = g_param_spec_boolean ("x-integer-ticks", NULL, NULL, FALSE, flags);
  properties[PROP_X_MIN] = g_param_spec_double ("x-min", NULL, NULL, -INFINITY, INFINITY, INFINITY, flags);
  properties[PROP_X_MAX] = g_param_spec_double ("x-max", NULL, NULL, -INFINITY, INFINITY, -INFINITY, flags);
  properties[PROP_Y_MIN] = g_param_spec_double ("y-min", NULL, NULL, -INFINITY, INFINITY, INFINITY, flags);
  properties[PROP_Y_MAX] = g_param_spec_double ("y-max", NULL, NULL, -INFINITY, INFINITY, -INFINITY, flags);
  properties[PROP_Y_FACTOR] = g_param_spec_double ("y-factor", NULL, NULL, 1e-300, G_MAXDOUBLE, 1, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "graftplot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
graft_plot_init (GraftPlot *self)
{
  GtkEventController *controller;
  GtkGesture *click;

  self->series = g_ptr_array_new_with_free_func (plot_series_free);
  self->placeholder_text = g_strdup (_("No data yet"));
  self->x_min_hint = self->y_min_hint = INFINITY;
  self->x_max_hint = self->y_max_hint = -INFINITY;
  self->y_factor = 1;
  self->marker_x = NAN;
  self->hover_x = NAN;
  self->x_tick_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->y_tick_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->legend_layouts = g_ptr_array_new_with_free_func (g_object_unref);
  self->legend_positions = g_array_new (FALSE, FALSE, sizeof (graphene_point_t));

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (controller, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_key_new ();
  g_signal_connect (controller, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_focus_new ();
  g_signal_connect (controller, "leave", G_CALLBACK (on_focus_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  update_accessible_description (self);
}

GtkWidget *
graft_plot_new (void)
{
  return g_object_new (GRAFT_TYPE_PLOT, NULL);
}

guint
graft_plot_add_series_with_color (GraftPlot *self, GraftSeries *series, GraftPlotStyle style, GraftPlotColor color)
{
  PlotSeries *ps;

  g_return_val_if_fail (GRAFT_IS_PLOT (self), 0);
  g_return_val_if_fail (GRAFT_IS_SERIES (series), 0);

  ps = g_new0 (PlotSeries, 1);
  ps->plot = self;
  ps->series = g_object_ref (series);
  ps->style = style != 0 ? style : GRAFT_PLOT_LINE;
  ps->color = color;
  ps->path = g_array_new (FALSE, FALSE, sizeof (PathPoint));
  ps->hover_index = -1;
  plot_series_reset_bounds (ps);
  plot_series_update_bounds (ps);
  ps->changed_id = g_signal_connect (series, "changed", G_CALLBACK (on_series_changed), ps);
  g_ptr_array_add (self->series, ps);
  self->next_color = (color + 1) % GRAFT_PLOT_N_COLORS;

  update_layout (self);
  update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return self->series->len - 1;
}

guint
graft_plot_add_series (GraftPlot *self, GraftSeries *series, GraftPlotStyle style)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), 0);
  return graft_plot_add_series_with_color (self, series, style, self->next_color);
}

void
graft_plot_remove_all_series (GraftPlot *self)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  g_ptr_array_set_size (self->series, 0);
  self->next_color = 0;
  update_layout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
graft_plot_get_n_series (GraftPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), 0);
  return self->series->len;
}

GraftSeries *
graft_plot_get_series (GraftPlot *self, guint index)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), NULL);
  g_return_val_if_fail (index < self->series->len, NULL);
  return ((PlotSeries *) g_ptr_array_index (self->series, index))->series;
}

void
graft_plot_set_title (GraftPlot *self, const char *title)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  if (!set_string (&self->title, title))
    return;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  self->title != NULL ? self->title : "", -1);
  self->layout_valid = FALSE;
  update_layout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

const char *
graft_plot_get_title (GraftPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), NULL);
  return self->title;
}

void
graft_plot_set_x_label (GraftPlot *self, const char *label)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  if (!set_string (&self->x_label, label))
    return;
  update_layout (self);
  update_readout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_X_LABEL]);
}

void
graft_plot_set_y_label (GraftPlot *self, const char *label)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  if (!set_string (&self->y_label, label))
    return;
  update_layout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_Y_LABEL]);
}

void
graft_plot_set_placeholder_text (GraftPlot *self, const char *text)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  if (!set_string (&self->placeholder_text, text))
    return;
  update_layout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PLACEHOLDER_TEXT]);
}

void
graft_plot_set_log_x (GraftPlot *self, gboolean log_x)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  set_boolean (self, &self->log_x, log_x, PROP_LOG_X);
}

void
graft_plot_set_log_y (GraftPlot *self, gboolean log_y)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  set_boolean (self, &self->log_y, log_y, PROP_LOG_Y);
}

void
graft_plot_set_x_integer_ticks (GraftPlot *self, gboolean integer_ticks)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  set_boolean (self, &self->x_integer_ticks, integer_ticks, PROP_X_INTEGER_TICKS);
}

void
graft_plot_set_x_range (GraftPlot *self, double x_min, double x_max)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  g_object_freeze_notify (G_OBJECT (self));
  set_double (self, &self->x_min_hint, x_min, PROP_X_MIN);
  set_double (self, &self->x_max_hint, x_max, PROP_X_MAX);
  g_object_thaw_notify (G_OBJECT (self));
}

void
graft_plot_set_y_range (GraftPlot *self, double y_min, double y_max)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  g_object_freeze_notify (G_OBJECT (self));
  set_double (self, &self->y_min_hint, y_min, PROP_Y_MIN);
  set_double (self, &self->y_max_hint, y_max, PROP_Y_MAX);
  g_object_thaw_notify (G_OBJECT (self));
}

void
graft_plot_set_y_factor (GraftPlot *self, double factor)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  g_return_if_fail (factor > 0);
  set_double (self, &self->y_factor, factor, PROP_Y_FACTOR);
}

void
graft_plot_set_marker (GraftPlot *self, double x, const char *label)
{
  g_return_if_fail (GRAFT_IS_PLOT (self));
  self->marker_x = x;
  set_string (&self->marker_label, isnan (x) ? NULL : label);
  update_layout (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
graft_plot_draw (GraftPlot *self, cairo_t *cr, int width, int height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GtkSnapshot *snapshot;
  GskRenderNode *node;
  int minimum, natural;

  g_return_if_fail (GRAFT_IS_PLOT (self));
  g_return_if_fail (gtk_widget_get_parent (widget) == NULL);

  if (self->light_provider == NULL)
    {
      /* The theme's colours are the desktop's, dark or light; a picture for a report
       * is drawn dark on light whatever the desktop. */
      self->light_provider = gtk_css_provider_new ();
      gtk_css_provider_load_from_data (self->light_provider, "graftplot { color: rgba(0, 0, 0, 0.8); }", -1);
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      gtk_style_context_add_provider (gtk_widget_get_style_context (widget),
                                      GTK_STYLE_PROVIDER (self->light_provider),
                                      GTK_STYLE_PROVIDER_PRIORITY_APPLICATION + 1);
      G_GNUC_END_IGNORE_DEPRECATIONS
    }
  gtk_widget_measure (widget, GTK_ORIENTATION_HORIZONTAL, -1, &minimum, &natural, NULL, NULL);
  gtk_widget_measure (widget, GTK_ORIENTATION_VERTICAL, width, &minimum, &natural, NULL, NULL);
  gtk_widget_size_allocate (widget, &(GtkAllocation) { 0, 0, width, height }, -1);
  snapshot = gtk_snapshot_new ();
  graft_plot_snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node != NULL)
    {
      gsk_render_node_draw (node, cr);
      gsk_render_node_unref (node);
    }
}

const float *
graft_plot_get_path (GraftPlot *self, guint index, guint *n_points)
{
  PlotSeries *ps;

  g_return_val_if_fail (GRAFT_IS_PLOT (self), NULL);
  g_return_val_if_fail (index < self->series->len, NULL);
  ps = g_ptr_array_index (self->series, index);
  if (!self->layout_valid)
    update_layout (self);
  if (!self->layout_valid || !ps->path_valid)
    {
      *n_points = 0;
      return NULL;
    }
  *n_points = ps->path->len;
  return (const float *) ps->path->data;
}

int
graft_plot_get_path_columns (GraftPlot *self)
{
  g_return_val_if_fail (GRAFT_IS_PLOT (self), 0);
  return self->layout_valid ? self->path_columns : 0;
}
