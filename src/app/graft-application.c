/* graft-application.c: the Graft application object.
 *
 * Owns the settings, installs the application actions (quit, about) and their
 * shortcuts, and opens the main window.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "graft-application.h"
#include "graft-window.h"

struct _GraftApplication
{
  AdwApplication parent_instance;

  GSettings *settings; /* NULL when the schema is not installed */
  gboolean open_sample; /* --sample */
};

G_DEFINE_FINAL_TYPE (GraftApplication, graft_application, ADW_TYPE_APPLICATION)

/* The installed schema is looked up first. An uninstalled build (build/src/app/graft)
 * falls back to the schema compiled in the build tree. Without either, the app
 * still runs; it just does not remember the window size. */
static GSettings *
graft_application_create_settings (void)
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

  if (schema == NULL)
    {
      g_message ("GSettings schema %s is not installed; window size will not be remembered",
                 APPLICATION_ID);
      return NULL;
    }

  return g_settings_new_full (schema, NULL, NULL);
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

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = graft_application_quit },
  { .name = "about", .activate = graft_application_about },
};

static void
graft_application_startup (GApplication *application)
{
  GraftApplication *self = GRAFT_APPLICATION (application);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };

  G_APPLICATION_CLASS (graft_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  self->settings = graft_application_create_settings ();
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
  application_class->handle_local_options = graft_application_handle_local_options;
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
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/graftlab/Graft",
                       NULL);
}

GSettings *
graft_application_get_settings (GraftApplication *self)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);

  return self->settings;
}
