/* take-screenshots.c: the screenshots of data/screenshots/, taken from the real app.
 *
 * Starts Graft as `graft --sample` would (the starter model and the sample images),
 * sizes the window (1000 × 700 unless told otherwise), trains the sample once so the
 * Train page has curves, and saves each page of the workspace and the start screen as
 * PNG: the window alone, drawn by GTK itself (no window manager, no desktop, no
 * pointer).
 *
 *   take-screenshots [--output DIR] [--size 1000x700] [--strategy NAME] [--dark]
 *                    [--no-train] [PAGE...]
 *
 * The strategy (feature-extraction, replace-top, fine-tune, ulmfit, fastai; default
 * ulmfit) is chosen as with the Model page's presets before anything is taken: the
 * progressive schedule shows the most of what Graft does.
 *
 * PAGE is a page name ("model", "schedule", "train", "data", "results"), "welcome" or
 * "catalog" (the model chooser, taken only when named); without any, every page of the
 * window is taken, then the start screen.
 * Files are DIR/PAGE.png (DIR/PAGE-dark.png with --dark). tools/take-screenshots.sh
 * runs it under Xvfb with a private D-Bus session and the memory settings backend.
 *
 * Not installed: a tool for the people who make releases.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "graft-application.h"
#include "graft-window.h"

static char *output_dir;
static char *size_text;
static char *strategy_text;
static gboolean dark;
static gboolean no_train;
static char **page_names;
static int failures;

static void
iterate_for (int milliseconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) milliseconds * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
}

/* Runs the main loop until *flag is set or the time is up; returns *flag. */
static gboolean
wait_for_flag (const gboolean *flag, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
  return *flag;
}

static GtkWidget *
find_widget (GtkWidget *root, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type);
      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct {
  GtkWidget *window;
  const char *path;
  gboolean done;
  gboolean saved;
} Shot;

/* Right after a frame, when every widget has its allocation and has drawn. The
 * widget paintable draws the window with its background, clipped to the window: no
 * shadow. (Rounded corners come out transparent only on a display with an alpha
 * visual; on plain Xvfb they are square.) */
static void
take_shot (GdkFrameClock *clock, Shot *shot)
{
  int width = gtk_widget_get_width (shot->window);
  int height = gtk_widget_get_height (shot->window);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GtkSnapshot *snapshot;

  if (shot->done)
    return;
  shot->done = TRUE;
  paintable = gtk_widget_paintable_new (shot->window);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    return;
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (shot->window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  shot->saved = gdk_texture_save_to_png (texture, shot->path);
}

static gboolean
spinning (GtkWidget *widget)
{
  gboolean spins = FALSE;

  if (!gtk_widget_get_mapped (widget))
    return FALSE;
  if (GTK_IS_SPINNER (widget))
    g_object_get (widget, "spinning", &spins, NULL);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL && !spins;
       child = gtk_widget_get_next_sibling (child))
    spins = spinning (child);
  return spins;
}

/* A page that is still working (a spinner on screen) is waited for, up to 5 min. */
static void
wait_until_idle (GtkWidget *window)
{
  gint64 deadline = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;

  while (spinning (window) && g_get_monotonic_time () < deadline)
    iterate_for (100);
  if (spinning (window))
    g_printerr ("take-screenshots: still busy after 5 minutes; taken as it is\n");
  iterate_for (300);
}

static void
save_window (GtkWidget *window, const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s%s.png", name, dark ? "-dark" : "");
  g_autofree char *path = g_build_filename (output_dir, file, NULL);
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);
  Shot shot = { window, path, FALSE, FALSE };
  gulong id;

  wait_until_idle (window);
  id = g_signal_connect (clock, "after-paint", G_CALLBACK (take_shot), &shot);
  gtk_widget_queue_draw (window);
  wait_for_flag (&shot.done, 10000);
  g_signal_handler_disconnect (clock, id);
  if (shot.saved)
    g_print ("%s: %d × %d\n", path, gtk_widget_get_width (window), gtk_widget_get_height (window));
  else
    {
      g_printerr ("take-screenshots: could not save %s\n", path);
      failures++;
    }
}

static void
on_training_finished (GraftTraining *training, GError *error, gboolean *finished)
{
  if (error != NULL)
    g_printerr ("take-screenshots: the sample run failed: %s\n", error->message);
  *finished = TRUE;
}

/* Trains the sample once, as a person would with the Train page's Start button. */
static void
train_sample (GraftWindow *window, GtkWidget *train_page)
{
  GraftTraining *training = graft_window_get_training (window);
  gboolean finished = FALSE;
  gulong id;

  if (training == NULL || train_page == NULL)
    return;
  id = g_signal_connect (training, "finished", G_CALLBACK (on_training_finished), &finished);
  if (!gtk_widget_activate_action (train_page, "train.start", NULL))
    g_printerr ("take-screenshots: the Train page has no train.start action\n");
  else if (!wait_for_flag (&finished, 900000))
    {
      g_printerr ("take-screenshots: the sample run took more than 15 minutes; stopping it\n");
      graft_training_stop (training);
      wait_for_flag (&finished, 30000);
    }
  g_signal_handler_disconnect (training, id);
  /* Let the toast that says the run finished time out (5 s). */
  iterate_for (6000);
}

static gboolean
model_loaded (GraftWindow *window)
{
  GraftSession *session = graft_window_get_session (window);
  return session != NULL && graft_session_get_model_path (session) != NULL;
}

static gboolean
wanted (const char *name)
{
  return page_names == NULL || g_strv_contains ((const char *const *) page_names, name);
}

static const struct {
  const char *name;
  GraftStrategy strategy;
} strategies[] = {
  { "feature-extraction", GRAFT_STRATEGY_FEATURE_EXTRACTION },
  { "replace-top", GRAFT_STRATEGY_REPLACE_TOP },
  { "fine-tune", GRAFT_STRATEGY_FINE_TUNE },
  { "ulmfit", GRAFT_STRATEGY_PROGRESSIVE_ULMFIT },
  { "fastai", GRAFT_STRATEGY_PROGRESSIVE_FASTAI },
};
static GraftStrategy strategy = GRAFT_STRATEGY_PROGRESSIVE_ULMFIT;

static void
take_all (GraftWindow *window)
{
  AdwViewStack *stack = ADW_VIEW_STACK (find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK));
  g_autoptr (GtkSelectionModel) pages = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  /* graft --sample loads the starter model in a worker. */
  while (!model_loaded (window) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
  if (!model_loaded (window))
    {
      g_printerr ("take-screenshots: the sample did not open within a minute\n");
      failures++;
      return;
    }
  graft_session_set_strategy (graft_window_get_session (window), strategy);
  iterate_for (1000);

  if (stack == NULL)
    {
      g_printerr ("take-screenshots: the window has no page stack\n");
      failures++;
      return;
    }
  pages = adw_view_stack_get_pages (stack);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (pages)); i++)
    {
      g_autoptr (AdwViewStackPage) page = g_list_model_get_item (G_LIST_MODEL (pages), i);
      if (adw_view_stack_page_get_name (page) != NULL)
        g_ptr_array_add (names, g_strdup (adw_view_stack_page_get_name (page)));
    }

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];

      if (!wanted (name))
        continue;
      if (g_str_equal (name, "train") && !no_train)
        train_sample (window, adw_view_stack_get_child_by_name (stack, "train"));
      graft_window_show_page (window, name);
      iterate_for (1500);
      save_window (GTK_WIDGET (window), name);
    }
  if (page_names != NULL && wanted ("catalog"))
    {
      /* The model chooser over the Model page: the catalog's entries as a person sees them. */
      GtkWidget *model_page = adw_view_stack_get_child_by_name (stack, "model");
      GList *toplevels;
      graft_window_show_page (window, "model");
      iterate_for (500);
      if (model_page == NULL || !gtk_widget_activate_action (model_page, "model-page.choose", NULL))
        {
          g_printerr ("take-screenshots: the Model page has no model-page.choose action\n");
          failures++;
        }
      iterate_for (1500);
      toplevels = gtk_window_list_toplevels ();
      for (GList *l = toplevels; l != NULL; l = l->next)
        if (l->data != (gpointer) window && gtk_widget_get_visible (l->data))
          {
            /* Its end too, where the largest models (ConvNeXt, ViT) are. */
            GtkWidget *scrolled = find_widget (l->data, GTK_TYPE_SCROLLED_WINDOW);
            save_window (l->data, "catalog");
            if (scrolled != NULL)
              {
                GtkAdjustment *v = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
                gtk_adjustment_set_value (v, gtk_adjustment_get_upper (v) - gtk_adjustment_get_page_size (v));
                iterate_for (500);
                save_window (l->data, "catalog-end");
              }
            gtk_window_close (l->data);
            break;
          }
      g_list_free (toplevels); /* the windows are not ours */
    }
  if (wanted ("welcome"))
    {
      graft_window_show_welcome (window);
      iterate_for (1500);
      save_window (GTK_WIDGET (window), "welcome");
    }
}

static void
on_activate (GApplication *application, gpointer user_data)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (application));
  int width = 1000, height = 700;

  if (sscanf (size_text, "%dx%d", &width, &height) != 2 || width < 360 || height < 294)
    {
      g_printerr ("take-screenshots: --size wants WIDTHxHEIGHT, like 1000x700\n");
      failures++;
      return;
    }
  if (window == NULL || !GRAFT_IS_WINDOW (window))
    {
      g_printerr ("take-screenshots: the application opened no window\n");
      failures++;
      return;
    }
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  if (dark)
    adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
  gtk_window_unmaximize (window);
  gtk_window_set_default_size (window, width, height);
  gtk_window_present (window);
  /* Without a window manager the widget comes out a little smaller than the default
   * size (the frame's resize borders): ask for the difference too. */
  for (int attempt = 0; attempt < 3; attempt++)
    {
      int got_width, got_height;
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      iterate_for (300);
      while (!gtk_widget_get_mapped (GTK_WIDGET (window)) && g_get_monotonic_time () < deadline)
        iterate_for (50);
      got_width = gtk_widget_get_width (GTK_WIDGET (window));
      got_height = gtk_widget_get_height (GTK_WIDGET (window));
      if (got_width == width && got_height == height)
        break;
      if (got_width > 0 && got_height > 0)
        {
          int asked_width, asked_height;
          gtk_window_get_default_size (window, &asked_width, &asked_height);
          gtk_window_set_default_size (window, asked_width + width - got_width, asked_height + height - got_height);
        }
    }

  g_application_hold (application);
  take_all (GRAFT_WINDOW (window));
  g_application_release (application);
  /* Whatever a page still runs (a thumbnailer, a worker), the pictures are taken. */
  g_application_quit (application);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftApplication) application = NULL;
  char *app_argv[] = { argv[0], (char *) "--sample", NULL };
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir, "Where the PNG files go (default: .)", "DIR" },
    { "size", 's', 0, G_OPTION_ARG_STRING, &size_text, "Window size (default: 1000x700)", "WxH" },
    { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy_text, "feature-extraction, replace-top, fine-tune, ulmfit (default), fastai", "NAME" },
    { "dark", 0, 0, G_OPTION_ARG_NONE, &dark, "Dark style; files get a -dark suffix", NULL },
    { "no-train", 0, 0, G_OPTION_ARG_NONE, &no_train, "Do not train the sample before the Train page", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &page_names, NULL, "[PAGE…]" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("GRAFT_LOCALE_DIR") != NULL ? g_getenv ("GRAFT_LOCALE_DIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new ("— screenshots of Graft for its metainfo");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("take-screenshots: %s\n", error->message);
      return 2;
    }
  if (output_dir == NULL)
    output_dir = g_strdup (".");
  if (size_text == NULL)
    size_text = g_strdup ("1000x700");
  if (strategy_text != NULL)
    {
      gboolean known = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (strategies); i++)
        if (g_str_equal (strategy_text, strategies[i].name))
          {
            strategy = strategies[i].strategy;
            known = TRUE;
          }
      if (!known)
        {
          g_printerr ("take-screenshots: unknown strategy %s\n", strategy_text);
          return 2;
        }
    }
  if (g_mkdir_with_parents (output_dir, 0755) != 0)
    {
      g_printerr ("take-screenshots: cannot make %s: %s\n", output_dir, g_strerror (errno));
      return 1;
    }
  /* Drawn by GTK's Cairo renderer: the same pixels on every machine, GL or not. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);

  application = graft_application_new ();
  /* Not the single instance a running Graft would be: a separate process. */
  g_application_set_flags (G_APPLICATION (application),
                           g_application_get_flags (G_APPLICATION (application)) | G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (application, "activate", G_CALLBACK (on_activate), NULL);
  g_application_run (G_APPLICATION (application), 2, app_argv);

  g_free (output_dir);
  g_free (size_text);
  g_free (strategy_text);
  g_strfreev (page_names);
  return failures == 0 ? 0 : 1;
}
