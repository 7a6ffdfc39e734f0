/* GraftPlot: nice ticks, min/max decimation (spikes survive, NaN breaks the line),
 * incremental updates (an extended path is the path computed afresh), the read-out from the keyboard, its speed at 100,000 points,
 * and screenshots in light and dark style (saved when GRAFT_SHOTS names a folder).
 *
 * Run under a display: xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- meson test app-plot */
#include <adwaita.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "app-test-helpers.h"
#include "graft-plot.h"

static gboolean have_display;

/* CPU time of this thread, in microseconds: what the work costs, whatever else the
 * (shared, loaded) test machine does. */
static gint64
thread_time (void)
{
  struct timespec t;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * G_USEC_PER_SEC + t.tv_nsec / 1000;
}

static GdkTexture *
render (GtkWidget *widget)
{
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr (GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  /* The window's background, then the widget's own snapshot (a GtkWidgetPaintable has
   * nothing to give right after a queue_draw). */
  if (GTK_IS_WINDOW (widget))
    {
      GdkRGBA background;
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (widget), "window_bg_color", &background))
        gdk_rgba_parse (&background, "#fafafa");
      G_GNUC_END_IGNORE_DEPRECATIONS
      gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
    }
  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

static void
save_shot (GtkWidget *widget, const char *name)
{
  const char *folder = g_getenv ("GRAFT_SHOTS");
  g_autoptr (GdkTexture) texture = render (widget);
  g_autofree char *path = NULL;

  if (folder == NULL)
    return;
  g_mkdir_with_parents (folder, 0755);
  path = g_build_filename (folder, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("saved %s", path);
}

static void
test_ticks (void)
{
  double lo, hi;
  g_autoptr (GArray) minor = NULL;
  g_autoptr (GArray) t = graft_plot_compute_ticks (0, 1, FALSE, FALSE, 5, &lo, &hi, NULL);
  g_autofree char *label = NULL;

  g_assert_cmpuint (t->len, ==, 6);
  g_assert_cmpfloat_with_epsilon (g_array_index (t, double, 1), 0.2, 1e-12);
  g_assert_cmpfloat (lo, ==, 0);
  g_assert_cmpfloat_with_epsilon (hi, 1, 1e-12);
  g_array_unref (t);

  /* Steps of 1, 2 or 5, whole numbers on an epoch axis. */
  t = graft_plot_compute_ticks (0, 7.3, FALSE, TRUE, 5, &lo, &hi, NULL);
  g_assert_cmpfloat (g_array_index (t, double, 1) - g_array_index (t, double, 0), ==, 2);
  g_assert_cmpfloat (hi, ==, 8);
  g_array_unref (t);
  t = graft_plot_compute_ticks (0, 0.9, FALSE, TRUE, 10, &lo, &hi, NULL);
  g_assert_cmpfloat (g_array_index (t, double, 1) - g_array_index (t, double, 0), ==, 1);
  g_array_unref (t);
  t = graft_plot_compute_ticks (-3.2, 41, FALSE, FALSE, 6, &lo, &hi, NULL);
  g_assert_cmpfloat (g_array_index (t, double, 1) - g_array_index (t, double, 0), ==, 10);
  g_assert_cmpfloat (lo, ==, -10);
  g_assert_cmpfloat (hi, ==, 50);
  g_array_unref (t);

  /* Log: decades, with 2 and 5 labelled when the range is narrow. */
  t = graft_plot_compute_ticks (0.03, 2.5, TRUE, FALSE, 10, &lo, &hi, &minor);
  g_assert_cmpfloat_with_epsilon (lo, 0.01, 1e-12);
  g_assert_cmpfloat_with_epsilon (hi, 10, 1e-12);
  g_assert_cmpuint (t->len, ==, 10); /* 0.01 0.02 0.05 0.1 0.2 0.5 1 2 5 10 */
  g_assert_cmpuint (minor->len, ==, 3 * 6);
  g_array_unref (t);
  g_clear_pointer (&minor, g_array_unref);
  t = graft_plot_compute_ticks (0.03, 2.5, TRUE, FALSE, 6, &lo, &hi, &minor);
  g_assert_cmpuint (t->len, ==, 4);  /* 0.01 0.1 1 10 */
  g_assert_cmpuint (minor->len, ==, 3 * 8);
  g_array_unref (t);
  g_clear_pointer (&minor, g_array_unref);
  /* Less room: the minor ticks only at 2 and 5. */
  t = graft_plot_compute_ticks (0.03, 2.5, TRUE, FALSE, 4, &lo, &hi, &minor);
  g_assert_cmpuint (t->len, ==, 4);
  g_assert_cmpuint (minor->len, ==, 3 * 2);
  g_array_unref (t);
  g_clear_pointer (&minor, g_array_unref);
  t = graft_plot_compute_ticks (0.2, 0.9, TRUE, FALSE, 5, &lo, &hi, &minor);
  g_assert_cmpuint (t->len, ==, 4);  /* 0.1 0.2 0.5 1 */
  g_assert_cmpuint (minor->len, ==, 6);
  g_array_unref (t);
  g_clear_pointer (&minor, g_array_unref);

  /* Many decades: every other one. */
  t = graft_plot_compute_ticks (1e-6, 10, TRUE, FALSE, 4, &lo, &hi, &minor);
  g_assert_cmpfloat_with_epsilon (lo, 1e-6, 1e-18);
  g_assert_cmpfloat_with_epsilon (hi, 100, 1e-9);
  g_assert_cmpuint (t->len, ==, 5);

  label = graft_plot_format_tick (0.5, 0.1, FALSE);
  g_assert_cmpstr (label, ==, "0.5");
  g_free (label);
  label = graft_plot_format_tick (-2, 1, FALSE);
  g_assert_cmpstr (label, ==, "−2");
  g_free (label);
  label = graft_plot_format_tick (1e-4, 0, TRUE);
  g_assert_cmpstr (label, ==, "10⁻⁴");
  g_free (label);
  label = graft_plot_format_tick (0.01, 0, TRUE);
  g_assert_cmpstr (label, ==, "0.01");
}

/* 100,000 points with one spike and a run of NaN: the path keeps at most four points
 * a column, the spike, and a break where the NaN were. */
static void
test_decimation (void)
{
  g_autoptr (GraftSeries) series = graft_series_new ("s", "Series");
  GtkWidget *plot, *window;
  const float *path;
  guint n, breaks = 0;
  float top = -1, second = -1;
  int columns;
  const guint N = 100000;
  g_autofree double *x = g_new (double, N);
  g_autofree double *y = g_new (double, N);

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  for (guint i = 0; i < N; i++)
    {
      x[i] = i;
      y[i] = 1 + 0.5 * sin (i * 0.001);
    }
  y[50017] = 100;        /* one spike, one point wide */
  for (guint i = 70000; i < 70100; i++)
    y[i] = NAN;
  graft_series_append_many (series, x, y, N);

  plot = graft_plot_new ();
  graft_plot_add_series (GRAFT_PLOT (plot), series, GRAFT_PLOT_LINE);
  window = app_test_show_in_window (plot, 600, 300);
  columns = graft_plot_get_path_columns (GRAFT_PLOT (plot));
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_nonnull (path);
  g_assert_cmpint (columns, >, 100);
  g_assert_cmpint (columns, <=, 600);
  g_test_message ("%u points drawn as %u for %d columns", N, n, columns);
  g_assert_cmpuint (n, <=, 4 * (guint) columns + 2);
  for (guint i = 0; i < n; i++)
    {
      float py = path[2 * i + 1];
      if (isnan (path[2 * i]))
        {
          breaks++;
          continue;
        }
      g_assert_cmpfloat (path[2 * i], >=, -1e-6);
      g_assert_cmpfloat (path[2 * i], <=, 1 + 1e-6);
      if (py > top)
        {
          second = top;
          top = py;
        }
      else if (py > second)
        second = py;
    }
  g_assert_cmpuint (breaks, ==, 1);
  /* The spike is there, far above everything else. */
  g_assert_cmpfloat (top, >, 0.9);
  g_assert_cmpfloat (second, <, 0.1);

  /* Narrower: fewer columns, fewer points. */
  gtk_window_set_default_size (GTK_WINDOW (window), 300, 300);
  app_test_iterate_for (200);
  g_assert_cmpint (graft_plot_get_path_columns (GRAFT_PLOT (plot)), <, columns);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, <=, 4 * (guint) graft_plot_get_path_columns (GRAFT_PLOT (plot)) + 2);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Appends move the path without a redraw, the axis grows, and clearing empties it. */
static void
test_incremental (void)
{
  g_autoptr (GraftSeries) series = graft_series_new ("s", "Series");
  GtkWidget *plot, *window;
  const float *path;
  guint n;

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  plot = graft_plot_new ();
  graft_plot_add_series (GRAFT_PLOT (plot), series, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS);
  graft_plot_set_x_range (GRAFT_PLOT (plot), 0, 10);
  window = app_test_show_in_window (plot, 500, 300);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 0);

  graft_series_append (series, 1, 0.5);
  graft_series_append (series, 2, 0.25);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 2);
  /* The x hint holds the axis at 0..10. */
  g_assert_cmpfloat_with_epsilon (path[0], 0.1, 1e-6);
  g_assert_cmpfloat_with_epsilon (path[2], 0.2, 1e-6);
  graft_series_append (series, 20, 1);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpfloat_with_epsilon (path[4], 1.0, 1e-6);
  graft_series_append (series, 21, NAN);
  graft_series_append (series, 22, 0.5);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 5);
  g_assert_true (isnan (path[6]));

  /* Log y leaves out what it cannot show. */
  graft_series_append (series, 23, 0);
  graft_plot_set_log_y (GRAFT_PLOT (plot), TRUE);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 5);

  graft_series_clear (series);
  path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
  g_assert_cmpuint (n, ==, 0);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The path as a copy (NaN compared as NaN). */
static GArray *
path_copy (GraftPlot *plot)
{
  guint n = 0;
  const float *path = graft_plot_get_path (plot, 0, &n);
  GArray *copy = g_array_new (FALSE, FALSE, sizeof (float));
  if (path != NULL)
    g_array_append_vals (copy, path, 2 * n);
  return copy;
}

static void
assert_same_path (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      float x = g_array_index (a, float, i), y = g_array_index (b, float, i);
      if (isnan (x) || isnan (y))
        g_assert_true (isnan (x) && isnan (y));
      else
        g_assert_cmpfloat (x, ==, y);
    }
}

/* A path extended point by point (the ranges held by hints) is the path computed from
 * all the points at once: a few points, then more than there are columns (spans), with
 * breaks, spikes and chunks that end inside a column; and a cleared series starts
 * again. Also how long growing one point at a time takes. */
static void
test_extended_path (void)
{
  g_autoptr (GraftSeries) series = graft_series_new ("s", "Series");
  GtkWidget *plot, *window;
  const guint N = 20000;
  guint added = 0, chunk = 1;
  gint64 start, elapsed;

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  plot = graft_plot_new ();
  graft_plot_add_series (GRAFT_PLOT (plot), series, GRAFT_PLOT_LINE);
  graft_plot_set_x_range (GRAFT_PLOT (plot), 0, N);
  graft_plot_set_y_range (GRAFT_PLOT (plot), 0, 2);
  window = app_test_show_in_window (plot, 600, 300);
  g_assert_cmpint (graft_plot_get_path_columns (GRAFT_PLOT (plot)), <, 600);

  start = thread_time ();
  while (added < N)
    {
      g_autofree double *x = g_new (double, chunk);
      g_autofree double *y = g_new (double, chunk);
      guint n = MIN (chunk, N - added);
      for (guint i = 0; i < n; i++)
        {
          guint k = added + i;
          x[i] = k;
          y[i] = (k % 1000) >= 700 && (k % 1000) < 710 ? NAN : k % 997 == 0 ? 1.9 : 1 + 0.5 * sin (k * 0.01);
        }
      graft_series_append_many (series, x, y, n);
      added += n;
      /* Now and then, the path so far against one computed afresh. */
      if (added < 40 || added % 4999 < chunk)
        {
          g_autoptr (GArray) extended = path_copy (GRAFT_PLOT (plot));
          g_autoptr (GArray) fresh = NULL;
          graft_plot_set_log_x (GRAFT_PLOT (plot), TRUE);
          graft_plot_set_log_x (GRAFT_PLOT (plot), FALSE);
          fresh = path_copy (GRAFT_PLOT (plot));
          g_assert_cmpuint (extended->len, >, 0);
          assert_same_path (extended, fresh);
        }
      chunk = added < 100 ? 1 : 1 + added % 7;
    }
  elapsed = thread_time () - start;
  g_test_message ("%u points appended in chunks of 1 to 7, the path kept up: %.1f ms CPU", N, elapsed / 1000.0);
  g_print ("# %u points appended a few at a time, path kept up: %.1f ms CPU\n", N, elapsed / 1000.0);
  {
    g_autoptr (GArray) extended = path_copy (GRAFT_PLOT (plot));
    g_autoptr (GArray) fresh = NULL;
    graft_plot_set_log_x (GRAFT_PLOT (plot), TRUE);
    graft_plot_set_log_x (GRAFT_PLOT (plot), FALSE);
    fresh = path_copy (GRAFT_PLOT (plot));
    assert_same_path (extended, fresh);
  }

  /* Cleared, then refilled past its old length with other values. */
  graft_series_clear (series);
  for (guint k = 0; k < N + 10; k += 10)
    {
      double x[10], y[10];
      for (guint i = 0; i < 10; i++)
        {
          x[i] = (k + i) * (double) N / (N + 10);
          y[i] = 0.5 + 0.25 * cos ((k + i) * 0.003);
        }
      graft_series_append_many (series, x, y, 10);
    }
  {
    g_autoptr (GArray) extended = path_copy (GRAFT_PLOT (plot));
    g_autoptr (GArray) fresh = NULL;
    graft_plot_set_log_x (GRAFT_PLOT (plot), TRUE);
    graft_plot_set_log_x (GRAFT_PLOT (plot), FALSE);
    fresh = path_copy (GRAFT_PLOT (plot));
    assert_same_path (extended, fresh);
  }

  /* A new y-factor moves the path, even when the hints hold the axes where they were. */
  graft_series_clear (series);
  graft_series_append (series, 10, 0.25);
  graft_series_append (series, 20, 0.5);
  graft_plot_set_y_range (GRAFT_PLOT (plot), 0, 100);
  {
    guint n;
    const float *path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
    g_assert_cmpuint (n, ==, 2);
    g_assert_cmpfloat_with_epsilon (path[1], 0.0025, 1e-6);
    graft_plot_set_y_factor (GRAFT_PLOT (plot), 100);
    path = graft_plot_get_path (GRAFT_PLOT (plot), 0, &n);
    g_assert_cmpuint (n, ==, 2);
    g_assert_cmpfloat_with_epsilon (path[1], 0.25, 1e-6);
    g_assert_cmpfloat_with_epsilon (path[3], 0.5, 1e-6);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
send_key (GtkWidget *widget, guint keyval)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);
      gboolean handled = FALSE;
      if (!GTK_IS_EVENT_CONTROLLER_KEY (controller))
        continue;
      g_signal_emit_by_name (controller, "key-pressed", keyval, 0, 0, &handled);
      return handled;
    }
  return FALSE;
}

/* The arrow keys move the read-out point by point, Escape hides it. */
static void
test_keyboard (void)
{
  g_autoptr (GraftSeries) series = graft_series_new ("s", "Series");
  GtkWidget *plot, *window;

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  plot = graft_plot_new ();
  for (int i = 1; i <= 5; i++)
    graft_series_append (series, i, i * i);
  graft_plot_add_series (GRAFT_PLOT (plot), series, GRAFT_PLOT_LINE);
  window = app_test_show_in_window (plot, 500, 300);
  g_assert_true (gtk_widget_get_focusable (plot));
  g_assert_true (isnan (graft_plot_get_hover_x (GRAFT_PLOT (plot))));
  g_assert_true (send_key (plot, GDK_KEY_Right));
  g_assert_cmpfloat (graft_plot_get_hover_x (GRAFT_PLOT (plot)), ==, 1);
  g_assert_true (send_key (plot, GDK_KEY_Right));
  g_assert_cmpfloat (graft_plot_get_hover_x (GRAFT_PLOT (plot)), ==, 2);
  g_assert_true (send_key (plot, GDK_KEY_End));
  g_assert_cmpfloat (graft_plot_get_hover_x (GRAFT_PLOT (plot)), ==, 5);
  g_assert_true (send_key (plot, GDK_KEY_Left));
  g_assert_cmpfloat (graft_plot_get_hover_x (GRAFT_PLOT (plot)), ==, 4);
  g_assert_true (send_key (plot, GDK_KEY_Escape));
  g_assert_true (isnan (graft_plot_get_hover_x (GRAFT_PLOT (plot))));
  g_assert_false (send_key (plot, GDK_KEY_Escape));
  gtk_window_destroy (GTK_WINDOW (window));
}

typedef struct {
  GraftSeries *series;
  guint appended;
  guint target, chunk;
  gint64 last_frame;
  GArray *intervals;   /* gint64 microseconds between frames */
  gboolean done;
} Streaming;

static gboolean
stream_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  Streaming *s = user_data;
  gint64 now = g_get_monotonic_time ();
  if (s->last_frame > 0)
    {
      gint64 interval = now - s->last_frame;
      g_array_append_val (s->intervals, interval);
    }
  s->last_frame = now;
  if (s->appended >= s->target)
    {
      s->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  {
    double x[4096], y[4096];
    for (guint i = 0; i < s->chunk; i++)
      {
        guint k = s->appended + i;
        x[i] = k;
        y[i] = 1 + 0.5 * sin (k * 0.001) + 0.1 * ((k * 2654435761u) % 1000) / 1000.0;
      }
    graft_series_append_many (s->series, x, y, s->chunk);
    s->appended += s->chunk;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
redraw_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  Streaming *s = user_data;
  gint64 now = g_get_monotonic_time ();
  if (s->last_frame > 0)
    {
      gint64 interval = now - s->last_frame;
      g_array_append_val (s->intervals, interval);
    }
  s->last_frame = now;
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* 100,000 points streamed in, 1,000 a frame, then drawn again and again: the time per
 * frame, and what snapshot + render cost at 100,000 points. */
static void
test_performance (void)
{
  g_autoptr (GraftSeries) series = graft_series_new ("loss", "Training loss");
  g_autoptr (GraftSeries) other = graft_series_new ("val", "Validation loss");
  GtkWidget *plot, *window;
  Streaming s = { .series = series, .target = 100000, .chunk = 1000 };
  gint64 start, append_time;
  const int frames = 30;
  gint64 median, worst;

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  plot = graft_plot_new ();
  graft_plot_set_title (GRAFT_PLOT (plot), "Loss");
  graft_plot_set_x_label (GRAFT_PLOT (plot), "Step");
  graft_plot_set_log_y (GRAFT_PLOT (plot), TRUE);
  graft_plot_add_series (GRAFT_PLOT (plot), series, GRAFT_PLOT_LINE | GRAFT_PLOT_FAINT);
  graft_plot_add_series (GRAFT_PLOT (plot), other, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS);
  for (int e = 1; e <= 100; e++)
    graft_series_append (other, e * 1000.0, 1.2 - e * 0.003);
  window = app_test_show_in_window (plot, 1000, 400);

  /* The same window redrawn every frame with no new data, for comparison. */
  s.intervals = g_array_new (FALSE, FALSE, sizeof (gint64));
  s.target = 0;
  s.chunk = 0;
  {
    guint id = gtk_widget_add_tick_callback (plot, redraw_tick, &s, NULL);
    start = g_get_monotonic_time ();
    while (s.intervals->len < 60 && g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC)
      g_main_context_iteration (NULL, TRUE);
    gtk_widget_remove_tick_callback (plot, id);
  }
  g_array_sort (s.intervals, compare_int64);
  g_print ("# redrawing with no new data: median frame %.1f ms, worst %.1f ms\n",
           g_array_index (s.intervals, gint64, s.intervals->len / 2) / 1000.0,
           g_array_index (s.intervals, gint64, s.intervals->len - 1) / 1000.0);
  g_array_unref (s.intervals);
  s.last_frame = 0;
  s.target = 100000;
  s.chunk = 1000;

  /* Streaming, frame by frame. */
  s.intervals = g_array_new (FALSE, FALSE, sizeof (gint64));
  gtk_widget_add_tick_callback (plot, stream_tick, &s, NULL);
  start = g_get_monotonic_time ();
  while (!s.done && g_get_monotonic_time () - start < 60 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (s.done);
  g_array_sort (s.intervals, compare_int64);
  median = g_array_index (s.intervals, gint64, s.intervals->len / 2);
  worst = g_array_index (s.intervals, gint64, s.intervals->len - 1);
  g_test_message ("streaming 100 x 1000 points: %u frames, median frame interval %.1f ms, worst %.1f ms "
                  "(Xvfb, Cairo renderer)",
                  s.intervals->len, median / 1000.0, worst / 1000.0);
  g_print ("# streaming 100,000 points at 1,000 a frame: median frame %.1f ms, worst %.1f ms\n", median / 1000.0,
           worst / 1000.0);

  /* One more append at 100,000 points: the recompute it triggers. */
  start = thread_time ();
  for (int i = 0; i < 10; i++)
    graft_series_append (series, 100000 + i, 1.0);
  append_time = (thread_time () - start) / 10;

  /* Drawing the full plot, with the read-out on: each frame's snapshot (the plot's own
   * drawing code) and render (Cairo rasterising it, as GSK's Cairo renderer does). */
  graft_plot_set_hover_x (GRAFT_PLOT (plot), 50000);
  {
    g_autoptr (GArray) snapshots = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_autoptr (GArray) renders = g_array_new (FALSE, FALSE, sizeof (gint64));
    gint64 snapshot_median, render_median;
    for (int f = 0; f < frames; f++)
      {
        GtkSnapshot *snapshot = gtk_snapshot_new ();
        g_autoptr (GskRenderNode) node = NULL;
        g_autoptr (GdkTexture) texture = NULL;
        GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (plot));
        int w = gtk_widget_get_width (plot), h = gtk_widget_get_height (plot);
        gint64 elapsed;

        start = thread_time ();
        GTK_WIDGET_GET_CLASS (plot)->snapshot (plot, snapshot);
        node = gtk_snapshot_free_to_node (snapshot);
        elapsed = thread_time () - start;
        g_array_append_val (snapshots, elapsed);
        start = thread_time ();
        texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
        elapsed = thread_time () - start;
        g_array_append_val (renders, elapsed);
      }
    g_array_sort (snapshots, compare_int64);
    g_array_sort (renders, compare_int64);
    snapshot_median = g_array_index (snapshots, gint64, frames / 2);
    render_median = g_array_index (renders, gint64, frames / 2);
    g_test_message ("100,000 points, 1000x400: append+recompute %.2f ms, snapshot %.2f ms, render %.2f ms a frame",
                    append_time / 1000.0, snapshot_median / 1000.0, render_median / 1000.0);
    g_print ("# 100,000 points, 1000x400 px: append and recompute %.2f ms; a frame (median of %d): "
             "snapshot %.2f ms + render %.2f ms (CPU time)\n",
             append_time / 1000.0, frames, snapshot_median / 1000.0, render_median / 1000.0);
    /* Smooth: inside a 60 Hz frame (with room for a loaded test machine). */
    g_assert_cmpfloat ((snapshot_median + render_median) / 1000.0, <, 16.0);
    g_assert_cmpfloat (append_time / 1000.0, <, 16.0);
  }
  save_shot (plot, "plot-100k.png");
  g_array_unref (s.intervals);
  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWidget *
card (GtkWidget *child)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_add_css_class (box, "card");
  gtk_widget_set_hexpand (child, TRUE);
  gtk_widget_set_vexpand (child, TRUE);
  gtk_box_append (GTK_BOX (box), child);
  return box;
}

/* The kinds of plot the app shows, in light and dark style. */
static void
test_screenshots (void)
{
  g_autoptr (GraftSeries) steps = graft_series_new ("train-loss", "Training loss");
  g_autoptr (GraftSeries) epoch_loss = graft_series_new ("train-loss-epoch", "Training loss (epoch)");
  g_autoptr (GraftSeries) val_loss = graft_series_new ("validation-loss", "Validation loss");
  g_autoptr (GraftSeries) finder = graft_series_new ("lr-finder", "Loss by learning rate");
  g_autoptr (GraftSeries) empty = graft_series_new ("empty", "Nothing");
  GtkWidget *grid, *window;
  GtkWidget *loss, *lr, *placeholder;
  GRand *rand = g_rand_new_with_seed (7);
  AdwStyleManager *style;

  if (!have_display)
    {
      g_test_skip ("no display");
      return;
    }
  style = adw_style_manager_get_default ();
  grid = gtk_grid_new ();
  loss = graft_plot_new ();
  lr = graft_plot_new ();
  placeholder = graft_plot_new ();
  for (int i = 0; i < 600; i++)
    {
      double x = (i + 1) / 60.0;
      graft_series_append (steps, x, 1.1 * exp (-x / 3) + 0.05 + 0.15 * g_rand_double (rand) * exp (-x / 5));
    }
  for (int e = 1; e <= 10; e++)
    {
      graft_series_append (epoch_loss, e, 1.1 * exp (-e / 3.0) + 0.1);
      graft_series_append (val_loss, e, e == 4 ? NAN : 1.0 * exp (-e / 3.5) + 0.18);
    }
  for (int i = 0; i < 100; i++)
    {
      double lr_value = 1e-6 * pow (1e7, i / 99.0);
      double l = 1.1 - 0.9 / (1 + exp (-(log10 (lr_value) + 3.5) * 2.5)) + (lr_value > 0.05 ? (lr_value - 0.05) * 4 : 0);
      graft_series_append (finder, lr_value, l);
    }
  g_rand_free (rand);

  graft_plot_set_title (GRAFT_PLOT (loss), "Loss");
  graft_plot_set_x_label (GRAFT_PLOT (loss), "Epoch");
  graft_plot_set_y_label (GRAFT_PLOT (loss), "Cross-entropy (log scale)");
  graft_plot_set_log_y (GRAFT_PLOT (loss), TRUE);
  graft_plot_set_x_integer_ticks (GRAFT_PLOT (loss), TRUE);
  graft_plot_set_x_range (GRAFT_PLOT (loss), 0, 10);
  graft_plot_add_series_with_color (GRAFT_PLOT (loss), steps, GRAFT_PLOT_LINE | GRAFT_PLOT_FAINT, GRAFT_PLOT_COLOR_BLUE);
  graft_plot_add_series_with_color (GRAFT_PLOT (loss), epoch_loss, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS,
                                    GRAFT_PLOT_COLOR_BLUE);
  graft_plot_add_series_with_color (GRAFT_PLOT (loss), val_loss, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS,
                                    GRAFT_PLOT_COLOR_ORANGE);

  graft_plot_set_title (GRAFT_PLOT (lr), "Learning Rate Finder");
  graft_plot_set_x_label (GRAFT_PLOT (lr), "Learning rate (log scale)");
  graft_plot_set_y_label (GRAFT_PLOT (lr), "Smoothed loss");
  graft_plot_set_log_x (GRAFT_PLOT (lr), TRUE);
  graft_plot_add_series_with_color (GRAFT_PLOT (lr), finder, GRAFT_PLOT_LINE, GRAFT_PLOT_COLOR_PURPLE);
  graft_plot_set_marker (GRAFT_PLOT (lr), 3e-4, "Suggested: 3.0e-4");

  graft_plot_set_title (GRAFT_PLOT (placeholder), "Accuracy");
  graft_plot_add_series (GRAFT_PLOT (placeholder), empty, GRAFT_PLOT_LINE);

  gtk_grid_set_row_spacing (GTK_GRID (grid), 18);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 18);
  gtk_widget_set_margin_top (grid, 18);
  gtk_widget_set_margin_bottom (grid, 18);
  gtk_widget_set_margin_start (grid, 18);
  gtk_widget_set_margin_end (grid, 18);
  gtk_grid_attach (GTK_GRID (grid), card (loss), 0, 0, 2, 1);
  gtk_grid_attach (GTK_GRID (grid), card (lr), 0, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), card (placeholder), 1, 1, 1, 1);
  window = app_test_show_in_window (grid, 1000, 720);
  /* The keyboard focus shows on the LR finder's plot; the pointer is over the loss. */
  gtk_widget_grab_focus (lr);
  gtk_window_set_focus_visible (GTK_WINDOW (window), TRUE);
  g_assert_true (gtk_widget_has_focus (lr));
  graft_plot_set_hover_x (GRAFT_PLOT (loss), 6.02);
  app_test_iterate_for (100);
  g_test_message ("focus visible: %d", gtk_widget_has_visible_focus (lr));

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  app_test_iterate_for (300);
  save_shot (window, "plot-light.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  app_test_iterate_for (300);
  save_shot (window, "plot-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_test_init (&argc, &argv, NULL);
  have_display = gtk_init_check ();
  if (have_display)
    adw_init ();
  g_test_add_func ("/app/plot/ticks", test_ticks);
  g_test_add_func ("/app/plot/decimation", test_decimation);
  g_test_add_func ("/app/plot/incremental", test_incremental);
  g_test_add_func ("/app/plot/extended-path", test_extended_path);
  g_test_add_func ("/app/plot/keyboard", test_keyboard);
  g_test_add_func ("/app/plot/performance", test_performance);
  g_test_add_func ("/app/plot/screenshots", test_screenshots);
  return g_test_run ();
}
