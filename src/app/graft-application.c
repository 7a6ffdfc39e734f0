/* graft-application.c: the Graft application object.
 *
 * Owns the settings, installs the application actions (quit, preferences, about) and
 * their shortcuts, and opens the main window. It applies the settings the whole
 * process shares: the engine's thread count, and the feature cache's size limit (the
 * cache is trimmed when the limit or the folder changes, and after every run). It opens
 * what a file manager or the command line hands it: a project in a window of its own
 * (or the one on the start screen), an ONNX model into the current window's session.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "graft-application.h"
#include "graft-preferences-window.h"
#include "graft-training.h"
#include "graft-window.h"
#include "project/project.h"
#include "train/embedding-cache.h"

/* Seconds between the last change of the size limit and the trim, so that stepping
 * through values on the way to the one wanted deletes nothing. */
#define TRIM_DELAY_SECONDS 1

struct _GraftApplication
{
  AdwApplication parent_instance;

  GSettings *settings; /* NULL when the schema is not installed */
  gboolean open_sample; /* --sample */
  guint trim_source;
  GtkWindow *preferences; /* weak */
};

G_DEFINE_FINAL_TYPE (GraftApplication, graft_application, ADW_TYPE_APPLICATION)

enum { CACHE_TRIMMED, N_SIGNALS };

static guint signals[N_SIGNALS];

/* The installed schema is looked up first. An uninstalled build (build/src/app/graft)
 * falls back to the schema compiled in the build tree. */
GSettings *
graft_application_new_settings (void)
{
  GSettingsSchemaSource *default_source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (default_source != NULL)
    schema = g_settings_schema_source_lookup (default_source, APPLICATION_ID, TRUE);

#ifdef GRAFT_BUILD_SCHEMA_DIR
  if (schema == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSettingsSchemaSource) build_source =
        g_settings_schema_source_new_from_directory (GRAFT_BUILD_SCHEMA_DIR, default_source,
                                                     FALSE, &error);

      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, APPLICATION_ID, FALSE);
      else
        g_debug ("No schemas in %s: %s", GRAFT_BUILD_SCHEMA_DIR, error->message);
    }
#endif

  return schema != NULL ? g_settings_new_full (schema, NULL, NULL) : NULL;
}

static void
graft_application_quit (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       user_data)
{
  GraftApplication *self = user_data;
  g_autoptr(GList) windows = NULL;

  /* Close rather than destroy, so each window saves its state on close-request.
   * The application exits when its last window is gone. */
  windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
}

static void
graft_application_about (GSimpleAction *action,
                         GVariant      *parameter,
                         gpointer       user_data)
{
  GraftApplication *self = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", window,
                        "application-name", "Graft",
                        "application-icon", APPLICATION_ID,
                        "developer-name", _("The Graft developers"),
                        "version", PACKAGE_VERSION,
                        "comments", _("Transfer learning for images, on your own computer: "
                                      "teach a pretrained model your own categories."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

/* The main windows, most recently focused first (dialogs are not the application's). */
static GraftWindow *
graft_application_get_main_window (GraftApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (GRAFT_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static void
graft_application_preferences (GSimpleAction *action,
                               GVariant      *parameter,
                               gpointer       user_data)
{
  GraftApplication *self = user_data;

  if (self->settings == NULL)
    return;
  if (self->preferences == NULL)
    {
      self->preferences = GTK_WINDOW (graft_preferences_window_new (self));
      g_object_add_weak_pointer (G_OBJECT (self->preferences), (gpointer *) &self->preferences);
    }
  gtk_window_set_transient_for (self->preferences, GTK_WINDOW (graft_application_get_main_window (self)));
  gtk_window_present (self->preferences);
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = graft_application_quit },
  { .name = "preferences", .activate = graft_application_preferences },
  { .name = "about", .activate = graft_application_about },
};

/* ---- Settings the whole process shares ------------------------------------------- */

static void
on_threads_changed (GSettings *settings, const char *key, GraftApplication *self)
{
  graft_training_set_threads (g_settings_get_int (settings, "threads"));
}

char *
graft_application_get_cache_folder (GraftApplication *self)
{
  g_autofree char *folder = NULL;

  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);

  if (self->settings != NULL)
    folder = g_settings_get_string (self->settings, "cache-folder");
  if (folder == NULL || folder[0] == '\0')
    return graft_session_get_default_cache_folder ();
  return g_steal_pointer (&folder);
}

typedef struct {
  char *folder;
  guint64 max_bytes;
} TrimData;

static void
trim_data_free (gpointer data)
{
  TrimData *trim = data;

  g_free (trim->folder);
  g_free (trim);
}

static void
trim_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  TrimData *trim = task_data;
  GError *error = NULL;
  guint64 freed = 0;

  /* The files of a run in progress are never deleted (see embedding-cache.h). */
  if (graft_embedding_cache_trim (trim->folder, trim->max_bytes, NULL, &freed, &error))
    g_task_return_int (task, (gssize) MIN (freed, (guint64) G_MAXSSIZE));
  else
    g_task_return_error (task, error);
}

static void
on_trimmed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftApplication *self = GRAFT_APPLICATION (source);
  g_autoptr (GError) error = NULL;
  gssize freed = g_task_propagate_int (G_TASK (result), &error);

  if (error != NULL)
    g_message ("Could not trim the feature cache: %s", error->message);
  g_signal_emit (self, signals[CACHE_TRIMMED], 0, (guint64) MAX (freed, 0));
}

void
graft_application_trim_cache (GraftApplication *self)
{
  g_autoptr (GTask) task = NULL;
  TrimData *trim;
  int limit_mb;

  g_return_if_fail (GRAFT_IS_APPLICATION (self));

  if (self->settings == NULL)
    return;
  limit_mb = g_settings_get_int (self->settings, "cache-size-mb");
  if (limit_mb <= 0)
    return;   /* no limit */
  trim = g_new0 (TrimData, 1);
  trim->folder = graft_application_get_cache_folder (self);
  trim->max_bytes = (guint64) limit_mb * 1024 * 1024;
  task = g_task_new (self, NULL, on_trimmed, NULL);
  g_task_set_source_tag (task, graft_application_trim_cache);
  g_task_set_task_data (task, trim, trim_data_free);
  g_task_run_in_thread (task, trim_thread);
}

static gboolean
trim_later (gpointer user_data)
{
  GraftApplication *self = user_data;

  self->trim_source = 0;
  graft_application_trim_cache (self);
  return G_SOURCE_REMOVE;
}

static void
on_cache_setting_changed (GSettings *settings, const char *key, GraftApplication *self)
{
  g_clear_handle_id (&self->trim_source, g_source_remove);
  self->trim_source = g_timeout_add_seconds (TRIM_DELAY_SECONDS, trim_later, self);
}

static void
graft_application_startup (GApplication *application)
{
  GraftApplication *self = GRAFT_APPLICATION (application);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };

  G_APPLICATION_CLASS (graft_application_parent_class)->startup (application);

  /* Without settings the app still runs; it just does not remember the window size. */
  self->settings = graft_application_new_settings ();
  if (self->settings == NULL)
    g_message ("GSettings schema %s is not installed; window size will not be remembered", APPLICATION_ID);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "preferences")),
                               self->settings != NULL);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  if (self->settings != NULL)
    {
      g_signal_connect_object (self->settings, "changed::threads", G_CALLBACK (on_threads_changed), self, 0);
      g_signal_connect_object (self->settings, "changed::cache-size-mb", G_CALLBACK (on_cache_setting_changed),
                               self, 0);
      g_signal_connect_object (self->settings, "changed::cache-folder", G_CALLBACK (on_cache_setting_changed),
                               self, 0);
      on_threads_changed (self->settings, "threads", self);
    }
}

/* ---- Opening files ------------------------------------------------------------------ */

typedef enum {
  TARGET_PROJECT,   /* a project folder, its project.db, or anything inside one */
  TARGET_MODEL,     /* an .onnx file */
  TARGET_OTHER,
  TARGET_MISSING,
  TARGET_REMOTE,    /* not a local file */
} TargetKind;

/* What file is; *path gets the project folder or the model's path. */
static TargetKind
classify_target (GFile *file, char **path)
{
  g_autofree char *local = g_file_get_path (file);
  g_autofree char *folder = NULL;

  *path = NULL;
  if (local == NULL)
    return TARGET_REMOTE;
  if (!g_file_test (local, G_FILE_TEST_EXISTS))
    return TARGET_MISSING;

  if (!g_file_test (local, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *lower = g_utf8_strdown (local, -1);
      if (g_str_has_suffix (lower, ".onnx"))
        {
          *path = g_steal_pointer (&local);
          return TARGET_MODEL;
        }
    }

  /* The folder itself, or the nearest folder above that holds a project.db (a file
   * manager hands Graft the project.db; an image of the project leads there too). */
  folder = g_file_test (local, G_FILE_TEST_IS_DIR) ? g_strdup (local) : g_path_get_dirname (local);
  for (;;)
    {
      g_autofree char *parent = NULL;

      if (graft_project_folder_has_project (folder))
        {
          *path = g_steal_pointer (&folder);
          return TARGET_PROJECT;
        }
      parent = g_path_get_dirname (folder);
      if (g_str_equal (parent, folder))
        break;
      g_free (folder);
      folder = g_steal_pointer (&parent);
    }

  /* A NAME.graft folder without its database: opening it says what is wrong. */
  if (g_file_test (local, G_FILE_TEST_IS_DIR) && g_str_has_suffix (local, ".graft"))
    {
      *path = g_steal_pointer (&local);
      return TARGET_PROJECT;
    }
  return TARGET_OTHER;
}

static GraftWindow *
new_main_window (GraftApplication *self)
{
  GraftWindow *window = graft_window_new (self);

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/* The window showing the project in folder, else one on the start screen with no
 * project yet, else a new one. */
static GraftWindow *
window_for_project (GraftApplication *self, const char *folder)
{
  g_autofree char *wanted = g_canonicalize_filename (folder, NULL);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    {
      const char *shown;
      g_autofree char *canonical = NULL;

      if (!GRAFT_IS_WINDOW (l->data) || (shown = graft_window_get_project_folder (l->data)) == NULL)
        continue;
      canonical = g_canonicalize_filename (shown, NULL);
      if (g_str_equal (canonical, wanted))
        return l->data;
    }
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (GRAFT_IS_WINDOW (l->data) && graft_window_get_project_folder (l->data) == NULL
        && !graft_window_is_opening (l->data))
      return l->data;
  return new_main_window (self);
}

static void
graft_application_open_file (GraftApplication *self, GFile *file)
{
  g_autofree char *path = NULL;
  TargetKind kind = classify_target (file, &path);
  GraftWindow *window;

  switch (kind)
    {
    case TARGET_PROJECT:
      window = window_for_project (self, path);
      {
        const char *shown = graft_window_get_project_folder (window);
        g_autofree char *canonical = g_canonicalize_filename (path, NULL);
        g_autofree char *shown_canonical = shown != NULL ? g_canonicalize_filename (shown, NULL) : NULL;

        if (g_strcmp0 (canonical, shown_canonical) != 0)
          graft_window_open_project (window, path, NULL);   /* an error is a toast */
      }
      break;
    case TARGET_MODEL:
      window = graft_application_get_main_window (self);
      if (window == NULL)
        window = new_main_window (self);
      graft_window_open_model (window, path);
      break;
    case TARGET_OTHER:
    case TARGET_MISSING:
    case TARGET_REMOTE:
    default:
      {
        g_autofree char *name = g_file_get_parse_name (file);
        g_autofree char *message = NULL;

        window = graft_application_get_main_window (self);
        if (window == NULL)
          window = new_main_window (self);
        if (kind == TARGET_REMOTE)
          message = g_strdup (_("Graft can only open files stored on this computer"));
        else if (kind == TARGET_MISSING)
          message = g_strdup_printf (_("“%s” does not exist"), name);
        else
          message = g_strdup_printf (_("Graft opens projects and ONNX models: “%s” is neither"), name);
        graft_window_toast (window, message);
      }
      break;
    }
  gtk_window_present (GTK_WINDOW (window));
}

static void
graft_application_open (GApplication *application, GFile **files, int n_files, const char *hint)
{
  GraftApplication *self = GRAFT_APPLICATION (application);

  for (int i = 0; i < n_files; i++)
    graft_application_open_file (self, files[i]);
}

static void
graft_application_activate (GApplication *application)
{
  GraftApplication *self = GRAFT_APPLICATION (application);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      window = GTK_WINDOW (graft_window_new (self));
      if (self->open_sample)
        graft_window_open_sample (GRAFT_WINDOW (window));
    }

  gtk_window_present (window);
}

static int
graft_application_handle_local_options (GApplication *application, GVariantDict *options)
{
  GraftApplication *self = GRAFT_APPLICATION (application);

  self->open_sample = g_variant_dict_contains (options, "sample");
  return -1;
}

static void
graft_application_dispose (GObject *object)
{
  GraftApplication *self = GRAFT_APPLICATION (object);

  g_clear_handle_id (&self->trim_source, g_source_remove);
  if (self->preferences != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->preferences), (gpointer *) &self->preferences);
      self->preferences = NULL;
    }
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (graft_application_parent_class)->dispose (object);
}

static void
graft_application_class_init (GraftApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = graft_application_dispose;
  application_class->startup = graft_application_startup;
  application_class->activate = graft_application_activate;
  application_class->open = graft_application_open;
  application_class->handle_local_options = graft_application_handle_local_options;

  /* (freed bytes) after the feature cache was trimmed to its size limit. */
  signals[CACHE_TRIMMED] = g_signal_new ("cache-trimmed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                         NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
}

static void
graft_application_init (GraftApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "sample", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE,
                                 _("Open the sample project: the starter model and the sample images"), NULL);
}

char *
graft_application_find_data (const char *relative)
{
  const char *env = g_getenv ("GRAFT_DATA_DIR");
  const char *const *dirs = g_get_system_data_dirs ();

  if (env != NULL)
    {
      char *path = g_build_filename (env, relative, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return path;
      g_free (path);
    }
  for (int i = 0; dirs[i] != NULL; i++)
    {
      char *path = g_build_filename (dirs[i], "graft", relative, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return path;
      g_free (path);
    }
#ifdef GRAFT_SOURCE_DATA_DIR
  {
    char *path = g_build_filename (GRAFT_SOURCE_DATA_DIR, relative, NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return path;
    g_free (path);
  }
#endif
  return NULL;
}

GraftApplication *
graft_application_new (void)
{
  return g_object_new (GRAFT_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/graftlab/Graft",
                       NULL);
}

GSettings *
graft_application_get_settings (GraftApplication *self)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);

  return self->settings;
}
