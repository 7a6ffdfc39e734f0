/* graft-plot.h: a plot of one or more GraftSeries, drawn with Cairo.
 *
 * Like Sysprof's charts, the plot never walks the data while drawing: when a series
 * changes (GraftSeries::changed) or the plot's size changes, it recomputes the axes
 * (nice 1/2/5 ticks, decades on a log scale), their labels and, for every series, a
 * cached path normalised to the plot area (points appended while the axes stay only
 * extend it). When points outnumber the plot's pixel columns, the path becomes one
 * span a column, from its lowest to its highest point, so spikes survive; NaN points
 * break the line. snapshot() only scales and strokes the cached paths.
 *
 * The pointer (or the arrow keys, when the plot has the keyboard focus) shows a
 * read-out: a vertical guide and the value of each series at that x.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-series.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_PLOT_LINE = 1 << 0,    /* points joined by a line */
  GRAFT_PLOT_POINTS = 1 << 1,  /* a dot at each point (left out when points are denser than 4 px) */
  GRAFT_PLOT_FAINT = 1 << 2,   /* thin and translucent: a noisy series under smoother ones */
} GraftPlotStyle;

/* A small palette after libadwaita's accent colours, in a lighter shade on dark
 * backgrounds and a deeper one on light backgrounds. */
typedef enum {
  GRAFT_PLOT_COLOR_BLUE,
  GRAFT_PLOT_COLOR_ORANGE,
  GRAFT_PLOT_COLOR_GREEN,
  GRAFT_PLOT_COLOR_PURPLE,
  GRAFT_PLOT_COLOR_RED,
  GRAFT_PLOT_COLOR_TEAL,
  GRAFT_PLOT_N_COLORS,
} GraftPlotColor;

#define GRAFT_TYPE_PLOT (graft_plot_get_type ())
G_DECLARE_FINAL_TYPE (GraftPlot, graft_plot, GRAFT, PLOT, GtkWidget)

GtkWidget *graft_plot_new (void);

/* Adds series (the plot keeps a reference) with the next colour of the palette;
 * returns its index in the plot. */
guint graft_plot_add_series (GraftPlot *self, GraftSeries *series, GraftPlotStyle style);
guint graft_plot_add_series_with_color (GraftPlot *self, GraftSeries *series, GraftPlotStyle style,
                                        GraftPlotColor color);
void graft_plot_remove_all_series (GraftPlot *self);
guint graft_plot_get_n_series (GraftPlot *self);
GraftSeries *graft_plot_get_series (GraftPlot *self, guint index);

/* Properties: "title", "x-label", "y-label" (with units: "Accuracy (%)"),
 * "placeholder-text" (shown without data; "No data yet" by default). */
void graft_plot_set_title (GraftPlot *self, const char *title);
const char *graft_plot_get_title (GraftPlot *self);
void graft_plot_set_x_label (GraftPlot *self, const char *label);
void graft_plot_set_y_label (GraftPlot *self, const char *label);
void graft_plot_set_placeholder_text (GraftPlot *self, const char *text);

/* "log-x", "log-y": logarithmic axes (points <= 0 are left out). */
void graft_plot_set_log_x (GraftPlot *self, gboolean log_x);
void graft_plot_set_log_y (GraftPlot *self, gboolean log_y);
/* "x-integer-ticks": ticks on whole numbers only (epochs). */
void graft_plot_set_x_integer_ticks (GraftPlot *self, gboolean integer_ticks);
/* "x-min", "x-max", "y-min", "y-max": values the axes always reach, whatever the data
 * (0 and 100 for a percentage; 0 and the epoch count for a run). Infinite (the
 * default) leaves the axis to the data. */
void graft_plot_set_x_range (GraftPlot *self, double x_min, double x_max);
void graft_plot_set_y_range (GraftPlot *self, double y_min, double y_max);
/* "y-factor": y values are shown multiplied by it (100 shows fractions as per cent). */
void graft_plot_set_y_factor (GraftPlot *self, double factor);

/* A labelled vertical line at x (a suggestion); NaN removes it. */
void graft_plot_set_marker (GraftPlot *self, double x, const char *label);

/* Shows the read-out at x (data units), as the pointer would; NaN hides it. */
void graft_plot_set_hover_x (GraftPlot *self, double x);
double graft_plot_get_hover_x (GraftPlot *self);

/* Draws the plot into cr at width x height (user units), as it would look on a light
 * background at that size (the curves as a picture: the Results page's Export Curves).
 * For a plot in no window: it allocates the plot that size. Main thread. */
void graft_plot_draw (GraftPlot *self, cairo_t *cr, int width, int height);

/* The cached path of series index: n_points (x, y) pairs normalised to the plot area
 * (0..1, y up; NaN pairs are breaks). NULL before the plot has a size. For tests. */
const float *graft_plot_get_path (GraftPlot *self, guint index, guint *n_points);
/* The pixel columns the paths were decimated for. */
int graft_plot_get_path_columns (GraftPlot *self);

/* Nice ticks for an axis over lo..hi: steps of 1, 2 or 5 times a power of ten (whole
 * numbers with integer_only), about target of them; on a log scale, decades (every
 * k-th decade when there are many) with minor ticks at 2..9. The axis range, extended
 * to whole ticks, comes back in axis_lo and axis_hi. Returns the major ticks; minor
 * ticks (log scale only) in minor when not NULL. Exposed for tests. */
GArray *graft_plot_compute_ticks (double lo, double hi, gboolean log_scale, gboolean integer_only, int target,
                                  double *axis_lo, double *axis_hi, GArray **minor);
/* A tick label for value on an axis whose major step is step (log: "10⁻³", "0.01"). */
char *graft_plot_format_tick (double value, double step, gboolean log_scale);

G_END_DECLS
