/* graft-welcome-page.c: the start screen (see graft-welcome-page.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <string.h>

#include "graft-application.h"
#include "graft-welcome-page.h"
#include "project/import.h"

#define RECENT_KEY "recent-projects"
#define RECENT_MAX 10

struct _GraftWelcomePage
{
  AdwBin parent_instance;

  GtkButton *sample_button;
  GtkSpinner *sample_spinner;
  GtkLabel *sample_label;
  AdwPreferencesGroup *recent_group;
  GtkListBox *recent_list;

  GraftSession *session;
  GSettings *settings;
  gulong settings_changed_id;
  GtkFileChooserNative *chooser;
  GCancellable *cancellable;
  gboolean busy;
};

G_DEFINE_FINAL_TYPE (GraftWelcomePage, graft_welcome_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, PROP_SETTINGS, PROP_BUSY, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { PROJECT_OPENED, TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
toast (GraftWelcomePage *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

/* The application's settings when it has them; else the schema installed or compiled in
 * the build tree (tests, a page shown outside the app). */
static GSettings *
find_settings (void)
{
  GApplication *application = g_application_get_default ();

  if (GRAFT_IS_APPLICATION (application) && graft_application_get_settings (GRAFT_APPLICATION (application)) != NULL)
    return g_object_ref (graft_application_get_settings (GRAFT_APPLICATION (application)));
  return graft_application_new_settings ();
}

static char *
display_path (const char *path)
{
  const char *home = g_get_home_dir ();
  g_autofree char *display = g_filename_display_name (path);

  if (home != NULL && g_str_has_prefix (path, home) && (path[strlen (home)] == '/' || path[strlen (home)] == '\0'))
    {
      g_autofree char *rest = g_filename_display_name (path + strlen (home));
      return g_strconcat ("~", rest, NULL);
    }
  return g_steal_pointer (&display);
}

static char *
project_display_name (const char *folder)
{
  g_autofree char *base = g_path_get_basename (folder);

  if (g_str_has_suffix (base, ".graft") && strlen (base) > strlen (".graft"))
    base[strlen (base) - strlen (".graft")] = '\0';
  return g_filename_display_name (base);
}

static GtkWidget *
make_recent_row (const char *folder)
{
  g_autofree char *name = project_display_name (folder);
  g_autofree char *path = display_path (folder);
  gboolean found = graft_project_folder_has_project (folder);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *remove, *icon;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  if (found)
    {
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), path);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (row), "welcome.open-recent");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (row), "s", folder);
      icon = gtk_image_new_from_icon_name ("go-next-symbolic");
      gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Open"), -1);
    }
  else
    {
      g_autofree char *subtitle = g_strdup_printf (_("Not found · %s"), path);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_widget_add_css_class (row, "dim-label");
      icon = NULL;
    }
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 1);
  gtk_widget_set_tooltip_text (row, path);

  remove = gtk_button_new_from_icon_name ("window-close-symbolic");
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_add_css_class (remove, "circular");
  gtk_widget_set_tooltip_text (remove, _("Remove From Recent Projects"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (remove), "welcome.forget-recent");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (remove), "s", folder);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
  if (icon != NULL)
    adw_action_row_add_suffix (ADW_ACTION_ROW (row), icon);
  return row;
}

static void
rebuild_recent (GraftWelcomePage *self)
{
  g_auto (GStrv) recent = NULL;
  GtkWidget *child;
  guint shown = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->recent_list))) != NULL)
    gtk_list_box_remove (self->recent_list, child);
  if (self->settings != NULL)
    recent = g_settings_get_strv (self->settings, RECENT_KEY);
  for (guint i = 0; recent != NULL && recent[i] != NULL; i++)
    {
      if (recent[i][0] == '\0')
        continue;
      gtk_list_box_append (self->recent_list, make_recent_row (recent[i]));
      shown++;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->recent_group), shown > 0);
}

static void
set_recent (GraftWelcomePage *self, const char *folder, gboolean add)
{
  g_auto (GStrv) recent = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) result = NULL;
  guint n = 0;

  if (self->settings == NULL)
    return;
  recent = g_settings_get_strv (self->settings, RECENT_KEY);
  if (add)
    {
      g_strv_builder_add (builder, folder);
      n++;
    }
  for (guint i = 0; recent[i] != NULL && n < RECENT_MAX; i++)
    if (g_strcmp0 (recent[i], folder) != 0)
      {
        g_strv_builder_add (builder, recent[i]);
        n++;
      }
  result = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, RECENT_KEY, (const char *const *) result);
  /* ::changed rebuilds the list (a delayed backend may not emit it at once). */
  rebuild_recent (self);
}

void
graft_welcome_page_add_recent (GraftWelcomePage *self, const char *folder)
{
  g_autofree char *canonical = NULL;

  g_return_if_fail (GRAFT_IS_WELCOME_PAGE (self));
  g_return_if_fail (folder != NULL);

  canonical = g_canonicalize_filename (folder, NULL);
  set_recent (self, canonical, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */

static void
project_opened (GraftWelcomePage *self, GraftProjectObject *project)
{
  graft_welcome_page_add_recent (self, graft_project_object_get_folder (project));
  if (self->session != NULL)
    graft_project_object_set_session (project, self->session);
  if (graft_project_object_get_read_only (project))
    {
      g_autofree char *message =
        g_strdup_printf (_("The project is read-only: %s"),
                         graft_project_read_only_reason (graft_project_object_get_project (project)));
      toast (self, message);
    }
  g_signal_emit (self, signals[PROJECT_OPENED], 0, project);
}

static char *
explain_open_error (const char *folder, const GError *error)
{
  g_autofree char *name = project_display_name (folder);

  if (g_error_matches (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND))
    return g_strdup_printf (_("“%s” is not a Graft project"), name);
  if (g_error_matches (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT))
    return g_strdup_printf (_("“%s” holds a database that is not a Graft project"), name);
  if (g_error_matches (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_CORRUPT))
    return g_strdup_printf (_("The project “%s” is damaged"), name);
  if (g_error_matches (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS))
    return g_strdup_printf (_("There is already a project in “%s”"), name);
  return g_strdup_printf (_("Could not open “%s”: %s"), name, error->message);
}

gboolean
graft_welcome_page_open_project (GraftWelcomePage *self, const char *folder, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GraftProjectObject) project = NULL;

  g_return_val_if_fail (GRAFT_IS_WELCOME_PAGE (self), FALSE);
  g_return_val_if_fail (folder != NULL, FALSE);

  project = graft_project_object_open (folder, &local_error);
  if (project == NULL)
    {
      g_autofree char *message = explain_open_error (folder, local_error);
      toast (self, message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  project_opened (self, project);
  return TRUE;
}

gboolean
graft_welcome_page_create_project (GraftWelcomePage *self, const char *folder, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GraftProjectObject) project = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (GRAFT_IS_WELCOME_PAGE (self), FALSE);
  g_return_val_if_fail (folder != NULL, FALSE);

  name = project_display_name (folder);
  project = graft_project_object_create (folder, name, &local_error);
  if (project == NULL)
    {
      g_autofree char *message = explain_open_error (folder, local_error);
      toast (self, message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  project_opened (self, project);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The sample project                                                        */

char *
graft_welcome_page_get_sample_folder (void)
{
  return g_build_filename (g_get_user_data_dir (), "graft", "sample.graft", NULL);
}

typedef struct {
  char *folder;
  char *samples;
} SampleData;

static void
sample_data_free (gpointer data)
{
  SampleData *sample = data;
  g_free (sample->folder);
  g_free (sample->samples);
  g_free (sample);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* Made in a temporary folder beside the final one and renamed when complete, so an
 * interrupted first run never leaves a half sample project. */
static GraftProject *
make_sample (const char *folder, const char *samples, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (folder);
  g_autofree char *partial = NULL;
  g_autoptr (GraftProject) project = NULL;
  const char *const labelled[] = { "train", "validation" };
  GraftImportOptions options = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_NOW, NULL };

  if (g_mkdir_with_parents (parent, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", parent, g_strerror (saved_errno));
      return NULL;
    }
  partial = g_build_filename (parent, "sample.graft-XXXXXX", NULL);
  if (g_mkdtemp (partial) == NULL)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", parent, g_strerror (saved_errno));
      return NULL;
    }
  project = graft_project_create (partial, _("Sample Project"), error);
  if (project == NULL)
    goto fail;
  for (guint i = 0; i < G_N_ELEMENTS (labelled); i++)
    {
      g_autofree char *root = g_build_filename (samples, labelled[i], NULL);
      g_autoptr (GraftImportReport) report = NULL;

      if (!g_file_test (root, G_FILE_TEST_IS_DIR))
        continue;
      report = graft_import_image_folder (project, root, &options, error);
      if (report == NULL)
        goto fail;
    }
  {
    g_autofree char *root = g_build_filename (samples, "unlabelled", NULL);
    if (g_file_test (root, G_FILE_TEST_IS_DIR))
      {
        g_autoptr (GraftImportReport) report = graft_import_folder (project, root, &options, error);
        if (report == NULL)
          goto fail;
      }
  }
  /* The imports are not something to undo in a fresh sample. */
  g_clear_pointer (&project, graft_project_close);
  if (g_rename (partial, folder) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", folder, g_strerror (saved_errno));
      goto fail;
    }
  return graft_project_open (folder, error);

fail:
  g_clear_pointer (&project, graft_project_close);
  remove_tree (partial);
  return NULL;
}

static void
open_sample_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SampleData *sample = task_data;
  GError *error = NULL;
  GraftProject *project;

  if (graft_project_folder_has_project (sample->folder))
    project = graft_project_open (sample->folder, &error);
  else
    project = make_sample (sample->folder, sample->samples, &error);
  if (project == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, project, (GDestroyNotify) graft_project_close);
}

static void
set_busy (GraftWelcomePage *self, gboolean busy)
{
  if (self->busy == busy)
    return;
  self->busy = busy;
  gtk_widget_set_visible (GTK_WIDGET (self->sample_spinner), busy);
  gtk_spinner_set_spinning (self->sample_spinner, busy);
  gtk_label_set_text_with_mnemonic (self->sample_label,
                                    busy ? _("Preparing the _Sample Project…") : _("Open the _Sample Project"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "welcome.open-sample", !busy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void load_starter (GraftWelcomePage *self);

static void
on_sample_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (source);
  g_autoptr (GError) error = NULL;
  GraftProject *project = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (project == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("Could not prepare the sample project: %s"), error->message);
      toast (self, message);
      return;
    }
  {
    g_autoptr (GraftProjectObject) object = graft_project_object_new (project);
    g_autofree char *stored = graft_project_get_session_spec (project);
    project_opened (self, object);
    /* The starter model, unless the project remembers its own (its window restores it)
     * or the session has one already (a model opened before the project). The
     * session is the project's now, not the one before. */
    if (stored == NULL && self->session != NULL && graft_session_get_model (self->session) == NULL)
      load_starter (self);
  }
}

static void
on_starter_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GraftWelcomePage) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!graft_session_load_model_finish (GRAFT_SESSION (source), result, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *message = g_strdup_printf (_("Could not load the starter model: %s"), error->message);
      toast (self, message);
    }
}

static void
load_starter (GraftWelcomePage *self)
{
  g_autofree char *model = graft_application_find_data ("models/graft-starter.onnx");

  if (model == NULL)
    toast (self, _("The starter model is not installed"));
  else
    graft_session_load_model_async (self->session, model, self->cancellable, on_starter_loaded, g_object_ref (self));
}

void
graft_welcome_page_open_sample (GraftWelcomePage *self)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *samples = NULL;
  g_autofree char *folder = NULL;
  SampleData *data;

  g_return_if_fail (GRAFT_IS_WELCOME_PAGE (self));

  if (self->busy)
    return;
  folder = graft_welcome_page_get_sample_folder ();
  samples = graft_application_find_data ("samples");
  if (samples == NULL && !graft_project_folder_has_project (folder))
    {
      toast (self, _("The sample images are not installed"));
      return;
    }

  set_busy (self, TRUE);
  data = g_new0 (SampleData, 1);
  data->folder = g_steal_pointer (&folder);
  data->samples = g_steal_pointer (&samples);
  task = g_task_new (self, self->cancellable, on_sample_ready, NULL);
  g_task_set_source_tag (task, graft_welcome_page_open_sample);
  g_task_set_task_data (task, data, sample_data_free);
  g_task_run_in_thread (task, open_sample_thread);
}

gboolean
graft_welcome_page_get_busy (GraftWelcomePage *self)
{
  g_return_val_if_fail (GRAFT_IS_WELCOME_PAGE (self), FALSE);
  return self->busy;
}

/* ------------------------------------------------------------------------ */
/* Choosers                                                                  */

/* New Project names a folder to create (NAME.graft), Open Project one to open. */
static void
on_chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  GraftWelcomePage *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL && gtk_file_chooser_get_action (GTK_FILE_CHOOSER (dialog)) == GTK_FILE_CHOOSER_ACTION_SAVE)
        {
          g_autofree char *folder = g_str_has_suffix (path, ".graft") ? g_strdup (path)
                                                                      : g_strconcat (path, ".graft", NULL);
          graft_welcome_page_create_project (self, folder, NULL);
        }
      else if (path != NULL)
        graft_welcome_page_open_project (self, path, NULL);
    }
  g_clear_object (&self->chooser);
}

static void
show_chooser (GraftWelcomePage *self, const char *title, GtkFileChooserAction action, const char *accept_label)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (title, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, action,
                                               accept_label, _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  if (action == GTK_FILE_CHOOSER_ACTION_SAVE)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), _("Untitled Project.graft"));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
new_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  show_chooser (GRAFT_WELCOME_PAGE (widget), _("New Project"), GTK_FILE_CHOOSER_ACTION_SAVE, _("_Create"));
}

static void
open_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  show_chooser (GRAFT_WELCOME_PAGE (widget), _("Open Project"), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Open"));
}

static void
open_sample_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_welcome_page_open_sample (GRAFT_WELCOME_PAGE (widget));
}

static void
open_recent_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (widget);
  const char *folder = g_variant_get_string (parameter, NULL);

  if (!graft_project_folder_has_project (folder))
    {
      g_autofree char *name = project_display_name (folder);
      g_autofree char *message = g_strdup_printf (_("“%s” was not found"), name);
      toast (self, message);
      rebuild_recent (self);
      return;
    }
  graft_welcome_page_open_project (self, folder, NULL);
}

static void
forget_recent_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  set_recent (GRAFT_WELCOME_PAGE (widget), g_variant_get_string (parameter, NULL), FALSE);
}

/* ------------------------------------------------------------------------ */
/* The object                                                                */

static void
on_settings_changed (GSettings *settings, const char *key, gpointer user_data)
{
  rebuild_recent (GRAFT_WELCOME_PAGE (user_data));
}

void
graft_welcome_page_set_settings (GraftWelcomePage *self, GSettings *settings)
{
  g_return_if_fail (GRAFT_IS_WELCOME_PAGE (self));
  g_return_if_fail (settings == NULL || G_IS_SETTINGS (settings));

  if (self->settings == settings)
    return;
  if (self->settings != NULL)
    g_clear_signal_handler (&self->settings_changed_id, self->settings);
  g_set_object (&self->settings, settings);
  if (settings != NULL)
    {
      g_autoptr (GSettingsSchema) schema = NULL;
      g_object_get (settings, "settings-schema", &schema, NULL);
      if (schema != NULL && g_settings_schema_has_key (schema, RECENT_KEY))
        self->settings_changed_id = g_signal_connect (settings, "changed::" RECENT_KEY,
                                                      G_CALLBACK (on_settings_changed), self);
      else
        g_clear_object (&self->settings);
    }
  rebuild_recent (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTINGS]);
}

GSettings *
graft_welcome_page_get_settings (GraftWelcomePage *self)
{
  g_return_val_if_fail (GRAFT_IS_WELCOME_PAGE (self), NULL);
  return self->settings;
}

GraftSession *
graft_welcome_page_get_session (GraftWelcomePage *self)
{
  g_return_val_if_fail (GRAFT_IS_WELCOME_PAGE (self), NULL);
  return self->session;
}

void
graft_welcome_page_set_session (GraftWelcomePage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_WELCOME_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (g_set_object (&self->session, session))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

static void
graft_welcome_page_dispose (GObject *object)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->settings != NULL)
    g_clear_signal_handler (&self->settings_changed_id, self->settings);
  g_clear_object (&self->settings);
  g_clear_object (&self->session);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_WELCOME_PAGE);

  G_OBJECT_CLASS (graft_welcome_page_parent_class)->dispose (object);
}

static void
graft_welcome_page_finalize (GObject *object)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (graft_welcome_page_parent_class)->finalize (object);
}

static void
graft_welcome_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION: g_value_set_object (value, self->session); break;
    case PROP_SETTINGS: g_value_set_object (value, self->settings); break;
    case PROP_BUSY: g_value_set_boolean (value, self->busy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_welcome_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftWelcomePage *self = GRAFT_WELCOME_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION: graft_welcome_page_set_session (self, g_value_get_object (value)); break;
    case PROP_SETTINGS: graft_welcome_page_set_settings (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_welcome_page_class_init (GraftWelcomePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_welcome_page_dispose;
  object_class->finalize = graft_welcome_page_finalize;
  object_class->get_property = graft_welcome_page_get_property;
  object_class->set_property = graft_welcome_page_set_property;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SETTINGS] = g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                                                   G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftWelcomePage::project-opened:
   * @project: the project, open
   */
  signals[PROJECT_OPENED] = g_signal_new ("project-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 1, GRAFT_TYPE_PROJECT_OBJECT);
  /**
   * GraftWelcomePage::toast:
   * @message: what to tell the person, in plain words
   */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-welcome-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftWelcomePage, sample_button);
  gtk_widget_class_bind_template_child (widget_class, GraftWelcomePage, sample_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftWelcomePage, sample_label);
  gtk_widget_class_bind_template_child (widget_class, GraftWelcomePage, recent_group);
  gtk_widget_class_bind_template_child (widget_class, GraftWelcomePage, recent_list);

  gtk_widget_class_install_action (widget_class, "welcome.new", NULL, new_action);
  gtk_widget_class_install_action (widget_class, "welcome.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "welcome.open-sample", NULL, open_sample_action);
  gtk_widget_class_install_action (widget_class, "welcome.open-recent", "s", open_recent_action);
  gtk_widget_class_install_action (widget_class, "welcome.forget-recent", "s", forget_recent_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "welcome.new", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "welcome.open", NULL);
}

static void
graft_welcome_page_init (GraftWelcomePage *self)
{
  g_autoptr (GSettings) settings = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  settings = find_settings ();
  graft_welcome_page_set_settings (self, settings);
}

GtkWidget *
graft_welcome_page_new (void)
{
  return g_object_new (GRAFT_TYPE_WELCOME_PAGE, NULL);
}
