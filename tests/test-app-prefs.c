/* Preferences and opening files, through the application object (registered, not run;
 * GSettings in memory, the schema compiled in the build tree): the preferences window
 * writes the settings it shows, a changed cache folder reaches the window's session, the
 * space used is measured and the cache cleared, a lower size limit trims the cache, the
 * thread count reaches the engine; g_application_open with an ONNX model loads it into
 * the session (kept while the start screen shows, the Model page shown when a project
 * opens), with a project folder (or its project.db, or a file inside it) opens it in the
 * window on the start screen, then in a new window, never twice.
 * With GRAFT_SHOTS set, it saves preferences-{light,dark}.png and open-model-welcome.png
 * (the start screen with the toast) there. */
#include <adwaita.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app-test-helpers.h"
#include "engine/parallel.h"
#include "graft-application.h"
#include "graft-preferences-window.h"
#include "graft-project-object.h"
#include "graft-training.h"
#include "graft-window.h"
#include "toy-images.h"
#include "train/embedding-cache.h"
#include "gradcheck.h"

#define PREPROCESSING "{\"size\":224}"

static char *home;
static GraftApplication *application;

static gboolean
measured (gpointer data)
{
  return !graft_preferences_window_get_measuring (data);
}

static gboolean
file_gone (gpointer data)
{
  return !g_file_test (data, G_FILE_TEST_EXISTS);
}

/* A closed cache file of `records` embeddings of 4096 floats (16 KiB each), last used
 * `age` seconds ago; returns its path. */
static char *
make_cache_file (const char *folder, const char *model, int records, int age)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, model, "features", PREPROCESSING,
                                                                      4096, &error);
  g_autofree float *values = g_new0 (float, 4096);
  char *path;

  g_assert_no_error (error);
  for (int i = 0; i < records; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s %d", model, i);
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
      values[0] = (float) i;
      g_assert_true (graft_embedding_cache_insert (cache, hash, values, &error));
      g_assert_no_error (error);
    }
  path = g_strdup (graft_embedding_cache_path (cache));
  g_clear_pointer (&cache, graft_embedding_cache_free);
  {
    struct timespec times[2] = { { time (NULL) - age, 0 }, { time (NULL) - age, 0 } };
    g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
  }
  return path;
}

static GList *
main_windows (void)
{
  GList *windows = NULL;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (application)); l != NULL; l = l->next)
    if (GRAFT_IS_WINDOW (l->data))
      windows = g_list_append (windows, l->data);
  return windows;
}

static guint
n_main_windows (void)
{
  g_autoptr (GList) windows = main_windows ();
  return g_list_length (windows);
}

static GraftWindow *
first_main_window (void)
{
  g_autoptr (GList) windows = main_windows ();
  return windows != NULL ? windows->data : NULL;
}

static GraftPreferencesWindow *
find_preferences (void)
{
  g_autoptr (GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (GRAFT_IS_PREFERENCES_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static void
on_trimmed (GraftApplication *app, guint64 freed, gboolean *done)
{
  *done = TRUE;
}

static void
test_preferences (void)
{
  GSettings *settings = graft_application_get_settings (application);
  g_autofree char *default_folder = g_build_filename (g_get_user_cache_dir (), "graft", "embeddings", NULL);
  g_autofree char *custom = g_build_filename (home, "elsewhere", NULL);
  g_autofree char *old = NULL, *recent = NULL;
  g_autofree char *expected = NULL;
  GraftPreferencesWindow *preferences;
  GraftWindow *window;
  GtkSpinButton *threads, *cache_size;
  AdwActionRow *folder_row;
  guint64 bytes = 0;
  guint files = 0;

  window = graft_window_new (application);
  gtk_window_present (GTK_WINDOW (window));
  app_test_iterate_for (300);
  /* The default folder, before anything is chosen. */
  g_assert_cmpstr (graft_session_get_cache_folder (graft_window_get_session (window)), ==, default_folder);

  /* Two files in the default folder, to show something. */
  old = make_cache_file (default_folder, "model a", 40, 600);
  recent = make_cache_file (default_folder, "model b", 30, 60);
  g_assert_true (graft_embedding_cache_measure (default_folder, &bytes, &files, NULL));
  g_assert_cmpuint (files, ==, 2);

  /* app.preferences (Ctrl+comma) opens it. */
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (application), "preferences"));
  {
    g_auto (GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (application), "app.preferences");
    g_assert_cmpstr (accels[0], ==, "<Control>comma");
  }
  g_action_group_activate_action (G_ACTION_GROUP (application), "preferences", NULL);
  preferences = find_preferences ();
  g_assert_nonnull (preferences);
  g_assert_true (app_test_wait_until (measured, preferences, 10));
  {
    g_autofree char *size = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
    expected = g_strdup_printf ("%s in 2 files", size);
  }
  g_assert_cmpstr (graft_preferences_window_get_usage (preferences), ==, expected);

  threads = GTK_SPIN_BUTTON (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "threads_spin"));
  cache_size = GTK_SPIN_BUTTON (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "cache_size_spin"));
  folder_row = ADW_ACTION_ROW (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "folder_row"));

  /* The defaults, as the schema has them, read as words. */
  g_assert_cmpint (gtk_spin_button_get_value_as_int (threads), ==, 0);
  {
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    g_autofree char *automatic = g_strdup_printf (cores == 1 ? "Automatic (%ld core)" : "Automatic (%ld cores)", cores);
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (threads)), ==, automatic);
  }
  g_assert_cmpint (gtk_spin_button_get_value_as_int (cache_size), ==, 2048);
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (folder_row), default_folder));
  g_assert_true (g_str_has_suffix (adw_action_row_get_subtitle (folder_row), "(default)"));
  g_assert_false (gtk_widget_is_sensitive (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "reset_folder_button")));

  app_test_iterate_for (600);   /* past the header's transitions */
  app_test_save_light_and_dark (GTK_WIDGET (preferences), "preferences");

  /* Threads: the setting, and the engine. */
  gtk_spin_button_set_value (threads, 1);
  g_assert_cmpint (g_settings_get_int (settings, "threads"), ==, 1);
  app_test_iterate_for (50);
  g_assert_cmpint (graft_training_get_threads (), ==, 1);
  g_assert_cmpint (graft_get_num_threads (), ==, 1);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (threads)), ==, "1");
  /* Typed in. */
  gtk_editable_set_text (GTK_EDITABLE (threads), "3");
  gtk_spin_button_update (threads);
  g_assert_cmpint (g_settings_get_int (settings, "threads"), ==, 3);
  g_assert_cmpint (graft_get_num_threads (), ==, 3);
  /* And the other way: a setting changed elsewhere shows. */
  g_settings_set_int (settings, "threads", 0);
  app_test_iterate_for (50);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (threads), ==, 0);
  g_assert_cmpint (graft_training_get_threads (), ==, 0);
  g_assert_cmpint (graft_get_num_threads (), ==, (int) sysconf (_SC_NPROCESSORS_ONLN));

  /* The size limit: below what the cache takes, the least recently used file goes
   * (after a second's pause, so that stepping through values deletes nothing). */
  {
    gboolean trimmed = FALSE;
    gulong id = g_signal_connect (application, "cache-trimmed", G_CALLBACK (on_trimmed), &trimmed);
    /* 40 + 30 records of 16 KiB: about 1.1 MiB; a limit of 1 MiB drops "model a". */
    gtk_spin_button_set_value (cache_size, 1);
    g_assert_cmpint (g_settings_get_int (settings, "cache-size-mb"), ==, 1);
    g_assert_true (g_file_test (old, G_FILE_TEST_EXISTS));
    g_assert_true (app_test_wait_until (app_test_flag_set, &trimmed, 10));
    g_signal_handler_disconnect (application, id);
  }
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (recent, G_FILE_TEST_EXISTS));
  /* The window measures again after the trim. */
  app_test_iterate_for (100);
  g_assert_true (app_test_wait_until (measured, preferences, 10));
  g_assert_true (g_str_has_suffix (graft_preferences_window_get_usage (preferences), "in 1 file"));
  /* 0 reads "No limit". */
  gtk_spin_button_set_value (cache_size, 0);
  g_assert_cmpint (g_settings_get_int (settings, "cache-size-mb"), ==, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (cache_size)), ==, "No limit");
  gtk_spin_button_set_value (cache_size, 4096);
  g_assert_cmpint (g_settings_get_int (settings, "cache-size-mb"), ==, 4096);

  /* Another folder: it shows, it reaches the session, and it is measured. */
  g_assert_cmpint (g_mkdir_with_parents (custom, 0755), ==, 0);
  g_settings_set_string (settings, "cache-folder", custom);
  app_test_iterate_for (50);
  g_assert_cmpstr (adw_action_row_get_subtitle (folder_row), ==, custom);
  g_assert_true (gtk_widget_is_sensitive (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "reset_folder_button")));
  g_assert_cmpstr (graft_session_get_cache_folder (graft_window_get_session (window)), ==, custom);
  g_assert_true (app_test_wait_until (measured, preferences, 10));
  g_assert_cmpstr (graft_preferences_window_get_usage (preferences), ==, "Empty");
  g_assert_false (gtk_widget_is_sensitive (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "clear_button")));
  {
    g_autofree char *a = make_cache_file (custom, "model c", 3, 10);
    g_autofree char *b = make_cache_file (custom, "model d", 3, 20);
    graft_preferences_window_measure (preferences);
    g_assert_true (app_test_wait_until (measured, preferences, 10));
    g_assert_true (g_str_has_suffix (graft_preferences_window_get_usage (preferences), "in 2 files"));
    /* Clear Cache empties it (but for other files: none here). */
    g_assert_true (gtk_widget_is_sensitive (app_test_template_child (preferences, GRAFT_TYPE_PREFERENCES_WINDOW, "clear_button")));
    gtk_widget_activate_action (GTK_WIDGET (preferences), "preferences.clear-cache", NULL);
    g_assert_true (app_test_wait_until (file_gone, a, 10));
    g_assert_true (app_test_wait_until (file_gone, b, 10));
    app_test_iterate_for (50);
    g_assert_true (app_test_wait_until (measured, preferences, 10));
    g_assert_cmpstr (graft_preferences_window_get_usage (preferences), ==, "Empty");
  }
  /* A project opened in the window keeps the folder of the settings. */
  {
    g_autofree char *folder = g_build_filename (home, "Cache test.graft", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftProjectObject) made = graft_project_object_create (folder, "Cache test", &error);
    g_assert_no_error (error);
    g_clear_object (&made);
    g_assert_true (graft_window_open_project (window, folder, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (graft_window_get_project_folder (window), ==, folder);
    g_assert_cmpstr (graft_session_get_cache_folder (graft_window_get_session (window)), ==, custom);
  }

  /* Back to the default. */
  gtk_widget_activate_action (GTK_WIDGET (preferences), "preferences.reset-folder", NULL);
  app_test_iterate_for (50);
  g_assert_cmpstr (g_settings_get_string (settings, "cache-folder"), ==, "");
  g_assert_cmpstr (graft_session_get_cache_folder (graft_window_get_session (window)), ==, default_folder);
  g_assert_true (g_str_has_suffix (adw_action_row_get_subtitle (folder_row), "(default)"));

  gtk_window_destroy (GTK_WINDOW (preferences));
  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (100);
  g_assert_cmpuint (n_main_windows (), ==, 0);
}

static gboolean
model_loaded (gpointer data)
{
  GraftWindow *window = GRAFT_WINDOW (((gpointer *) data)[0]);
  const char *path = ((gpointer *) data)[1];

  return g_strcmp0 (graft_session_get_model_path (graft_window_get_session (window)), path) == 0;
}

static GFile *
file_for (const char *path)
{
  return g_file_new_for_path (path);
}

static void
open_path (const char *path)
{
  g_autoptr (GFile) file = file_for (path);

  g_application_open (G_APPLICATION (application), &file, 1, "");
  app_test_iterate_for (100);
}

static void
test_open (void)
{
  g_autofree char *starter = g_test_build_filename (G_TEST_DIST, "..", "data", "models", "graft-starter.onnx", NULL);
  g_autofree char *models = g_build_filename (home, "models", NULL);
  g_autofree char *model = g_build_filename (models, "My Model.onnx", NULL);
  g_autofree char *first = g_build_filename (home, "First.graft", NULL);
  g_autofree char *second = g_build_filename (home, "Second.graft", NULL);
  g_autofree char *inside = g_build_filename (second, "images", "note.txt", NULL);
  g_autofree char *text = g_build_filename (home, "notes.txt", NULL);
  g_autoptr (GError) error = NULL;
  GraftWindow *window, *other;
  gpointer wait[2];

  g_assert_cmpuint (n_main_windows (), ==, 0);

  /* The model, with no window yet: a window opens on the start screen, the model loads
   * into its session. */
  {
    g_autofree char *contents = NULL;
    gsize length;
    g_assert_true (g_file_get_contents (starter, &contents, &length, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
    g_assert_true (g_file_set_contents (model, contents, (gssize) length, &error));
    g_assert_no_error (error);
  }
  open_path (model);
  g_assert_cmpuint (n_main_windows (), ==, 1);
  window = first_main_window ();
  wait[0] = window;
  wait[1] = model;
  g_assert_true (app_test_wait_until (model_loaded, wait, 30));
  g_assert_nonnull (graft_session_get_model (graft_window_get_session (window)));
  app_test_iterate_for (50);
  g_assert_cmpstr (app_test_visible_page (window), ==, "welcome");
  g_assert_null (graft_window_get_project_folder (window));
  if (g_getenv ("GRAFT_SHOTS") != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (window), 1280, 820);
      app_test_iterate_for (600);
      app_test_save_shot (GTK_WIDGET (window), "open-model-welcome.png");
    }

  /* Something else: a toast, nothing opened, the model kept. */
  g_assert_true (g_file_set_contents (text, "hello", -1, &error));
  g_assert_no_error (error);
  open_path (text);
  g_assert_cmpuint (n_main_windows (), ==, 1);
  g_assert_null (graft_window_get_project_folder (window));
  g_assert_cmpstr (graft_session_get_model_path (graft_window_get_session (window)), ==, model);

  /* A project: in the window on the start screen, which then shows the model. */
  {
    g_autoptr (GraftProjectObject) a = graft_project_object_create (first, "First", &error);
    g_assert_no_error (error);
    g_autoptr (GraftProjectObject) b = graft_project_object_create (second, "Second", &error);
    g_assert_no_error (error);
  }
  open_path (first);
  g_assert_cmpuint (n_main_windows (), ==, 1);
  g_assert_cmpstr (graft_window_get_project_folder (window), ==, first);
  g_assert_cmpstr (app_test_visible_page (window), ==, "model");
  g_assert_cmpstr (graft_session_get_model_path (graft_window_get_session (window)), ==, model);

  /* The same project again, or its project.db: the same window. */
  {
    g_autofree char *db = g_build_filename (first, "project.db", NULL);
    open_path (first);
    open_path (db);
    g_assert_cmpuint (n_main_windows (), ==, 1);
  }

  /* Another project, through a file inside it: a new window. */
  {
    g_autofree char *images = g_path_get_dirname (inside);
    g_assert_cmpint (g_mkdir_with_parents (images, 0755), ==, 0);
  }
  g_assert_true (g_file_set_contents (inside, "x", -1, &error));
  g_assert_no_error (error);
  open_path (inside);
  g_assert_cmpuint (n_main_windows (), ==, 2);
  {
    g_autoptr (GList) windows = main_windows ();
    other = NULL;
    for (GList *l = windows; l != NULL; l = l->next)
      if (l->data != window)
        other = l->data;
  }
  g_assert_nonnull (other);
  g_assert_cmpstr (graft_window_get_project_folder (other), ==, second);
  g_assert_cmpstr (app_test_visible_page (other), ==, "data");
  g_assert_cmpstr (graft_window_get_project_folder (window), ==, first);

  /* A model for a window with a project (the one focused last): the Model page shows. */
  {
    g_autofree char *copy = g_build_filename (models, "Copy.onnx", NULL);
    g_autoptr (GFile) from = g_file_new_for_path (model);
    g_autoptr (GFile) to = g_file_new_for_path (copy);
    GraftWindow *target = first_main_window ();

    g_assert_true (g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    graft_window_show_page (target, "data");
    open_path (copy);
    wait[0] = target;
    wait[1] = copy;
    g_assert_true (app_test_wait_until (model_loaded, wait, 30));
    app_test_iterate_for (50);
    g_assert_cmpstr (app_test_visible_page (target), ==, "model");
  }
  g_assert_cmpuint (n_main_windows (), ==, 2);

  /* A damaged model: a toast, the session keeps what it had. */
  {
    g_autofree char *broken = g_build_filename (models, "broken.onnx", NULL);
    GraftWindow *target = first_main_window ();
    const char *before = graft_session_get_model_path (graft_window_get_session (target));
    g_autofree char *kept = g_strdup (before);
    g_assert_true (g_file_set_contents (broken, "not a model", -1, &error));
    g_assert_no_error (error);
    open_path (broken);
    app_test_iterate_for (500);
    g_assert_cmpstr (graft_session_get_model_path (graft_window_get_session (target)), ==, kept);
  }

  gtk_window_destroy (GTK_WINDOW (other));
  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (100);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  /* Before anything asks GLib for them: a temporary home for caches and data. */
  home = test_private_user_dirs ("graft-prefs-XXXXXX", FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();

  application = app_test_application_new ();
  if (graft_application_get_settings (application) == NULL)
    {
      g_print ("1..0 # SKIP the GSettings schema is not compiled\n");
      return 0;
    }
  /* The app holds itself while windows are open; keep it alive between tests too. */
  g_application_hold (G_APPLICATION (application));

  g_test_add_func ("/app/prefs/preferences", test_preferences);
  g_test_add_func ("/app/prefs/open", test_open);
  status = g_test_run ();

  g_application_release (G_APPLICATION (application));
  g_object_unref (application);
  test_remove_tree (home);
  g_free (home);
  return status;
}
