/* graft-preferences-window.c: the preferences window.
 *
 * The spin buttons are bound to the "threads" and "cache-size-mb" keys, the folder row
 * shows "cache-folder" (the default folder when it is empty). The space used is
 * measured in a worker thread when the window opens, when the folder changes, after
 * the application trimmed the cache, and after Clear Cache (also a worker thread: a
 * trim to zero bytes, which spares the files a run has open).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-preferences-window.h"

#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "graft-session.h"
#include "train/embedding-cache.h"

struct _GraftPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GtkSpinButton *threads_spin;
  GtkSpinButton *cache_size_spin;
  AdwActionRow *folder_row;
  GtkButton *reset_folder_button;
  AdwActionRow *usage_row;
  GtkButton *clear_button;

  GraftApplication *application; /* weak: the application outlives its windows */
  GSettings *settings;
  GtkFileChooserNative *chooser;
  GCancellable *cancellable;     /* cancelled on dispose */
  guint measure_serial;          /* results of an older measure are dropped */
  gboolean measuring, clearing;
  guint64 usage_bytes;
  guint usage_files;
  char *usage;
};

G_DEFINE_FINAL_TYPE (GraftPreferencesWindow, graft_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_USAGE,
  PROP_MEASURING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- Spin buttons: 0 reads as a word ---------------------------------------------- */

static char *
threads_text (int threads)
{
  /* What the engine takes for "automatic" (engine/parallel.h). */
  long online = sysconf (_SC_NPROCESSORS_ONLN);
  int cores = online > 0 ? (int) online : 1;

  if (threads == 0)
    return g_strdup_printf (ngettext ("Automatic (%d core)", "Automatic (%d cores)", cores), cores);
  return g_strdup_printf ("%d", threads);
}

static char *
cache_size_text (int megabytes)
{
  if (megabytes == 0)
    return g_strdup (_("No limit"));
  return g_strdup_printf ("%d", megabytes);
}

/* A number typed in, or 0 (the automatic count, no limit) for anything else. */
static int
parse_spin_text (GtkSpinButton *spin, double *new_value)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (spin));
  char *end = NULL;
  gint64 value;

  while (g_ascii_isspace (*text))
    text++;
  value = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != '\0' && !g_ascii_isspace (*end)))
    value = 0;
  *new_value = (double) value;
  return TRUE;
}

static int
on_threads_input (GtkSpinButton *spin, double *new_value, GraftPreferencesWindow *self)
{
  return parse_spin_text (spin, new_value);
}

static gboolean
on_threads_output (GtkSpinButton *spin, GraftPreferencesWindow *self)
{
  g_autofree char *text = threads_text ((int) gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)));

  if (g_strcmp0 (text, gtk_editable_get_text (GTK_EDITABLE (spin))) != 0)
    gtk_editable_set_text (GTK_EDITABLE (spin), text);
  return TRUE;
}

static int
on_cache_size_input (GtkSpinButton *spin, double *new_value, GraftPreferencesWindow *self)
{
  return parse_spin_text (spin, new_value);
}

static gboolean
on_cache_size_output (GtkSpinButton *spin, GraftPreferencesWindow *self)
{
  g_autofree char *text = cache_size_text ((int) gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)));

  if (g_strcmp0 (text, gtk_editable_get_text (GTK_EDITABLE (spin))) != 0)
    gtk_editable_set_text (GTK_EDITABLE (spin), text);
  return TRUE;
}

/* Wide enough for the word and for the largest number. */
static void
size_spin (GtkSpinButton *spin, const char *word, int largest)
{
  g_autofree char *number = g_strdup_printf ("%d", largest);

  gtk_editable_set_width_chars (GTK_EDITABLE (spin), MAX (g_utf8_strlen (word, -1), (glong) strlen (number)));
}

/* ---- The folder -------------------------------------------------------------------- */

static char *
current_folder (GraftPreferencesWindow *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "cache-folder");

  if (folder[0] == '\0')
    return graft_session_get_default_cache_folder ();
  return g_steal_pointer (&folder);
}

/* The folder as people read it: ~ for the home folder. */
static char *
display_folder (const char *folder)
{
  const char *home = g_get_home_dir ();
  gsize length = strlen (home);

  if (length > 1 && g_str_has_prefix (folder, home) && folder[length] == G_DIR_SEPARATOR)
    {
      g_autofree char *rest = g_filename_display_name (folder + length);
      return g_strconcat ("~", rest, NULL);
    }
  return g_filename_display_name (folder);
}

static gboolean
map_folder_subtitle (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *folder = g_variant_get_string (variant, NULL);

  if (folder[0] == '\0')
    {
      g_autofree char *fallback = graft_session_get_default_cache_folder ();
      g_autofree char *display = display_folder (fallback);
      /* Translators: the folder the feature cache uses when none was chosen */
      g_value_take_string (value, g_strdup_printf (_("%s (default)"), display));
    }
  else
    g_value_take_string (value, display_folder (folder));
  return TRUE;
}

static void
update_reset_folder (GraftPreferencesWindow *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "cache-folder");

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preferences.reset-folder", folder[0] != '\0');
}

static void
on_chooser_response (GtkNativeDialog *dialog, int response, GraftPreferencesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autofree char *fallback = graft_session_get_default_cache_folder ();

      if (path == NULL)
        adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                          adw_toast_new (_("Graft can only use folders stored on this computer")));
      else
        g_settings_set_string (self->settings, "cache-folder", g_str_equal (path, fallback) ? "" : path);
    }
  g_clear_object (&self->chooser);
}

static void
choose_folder_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (widget);
  g_autofree char *folder = NULL;

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Feature Cache Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Select"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  folder = current_folder (self);
  if (g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GFile) file = g_file_new_for_path (folder);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), file, NULL);
    }
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
reset_folder_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (widget);

  g_settings_reset (self->settings, "cache-folder");
}

/* ---- Space used, and clearing -------------------------------------------------------- */

typedef struct {
  guint64 bytes;
  guint files;
} Usage;

static void
measure_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Usage *usage = g_new0 (Usage, 1);
  GError *error = NULL;

  if (graft_embedding_cache_measure (task_data, &usage->bytes, &usage->files, &error))
    g_task_return_pointer (task, usage, g_free);
  else
    {
      g_free (usage);
      g_task_return_error (task, error);
    }
}

static void
update_clear_button (GraftPreferencesWindow *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preferences.clear-cache",
                                 !self->clearing && !self->measuring && self->usage_files > 0);
}

static void
set_usage (GraftPreferencesWindow *self, const char *usage)
{
  g_free (self->usage);
  self->usage = g_strdup (usage);
  adw_action_row_set_subtitle (self->usage_row, usage);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USAGE]);
}

static void
set_measuring (GraftPreferencesWindow *self, gboolean measuring)
{
  if (self->measuring == measuring)
    return;
  self->measuring = measuring;
  update_clear_button (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MEASURING]);
}

typedef struct {
  GraftPreferencesWindow *window; /* a reference, dropped on the main thread */
  guint serial;
} MeasureCall;

static void
on_measured (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MeasureCall *call = user_data;
  GraftPreferencesWindow *self = call->window;
  g_autoptr (GError) error = NULL;
  g_autofree Usage *usage = g_task_propagate_pointer (G_TASK (result), &error);

  if (call->serial == self->measure_serial && !g_cancellable_is_cancelled (self->cancellable))
    {
      if (usage == NULL)
        {
          g_autofree char *message = g_strdup_printf (_("Could not measure the cache: %s"), error->message);
          self->usage_bytes = 0;
          self->usage_files = 0;
          set_usage (self, message);
        }
      else
        {
          g_autofree char *size = g_format_size_full (usage->bytes, G_FORMAT_SIZE_IEC_UNITS);
          g_autofree char *text = NULL;

          self->usage_bytes = usage->bytes;
          self->usage_files = usage->files;
          if (usage->files == 0)
            text = g_strdup (_("Empty"));
          else
            /* Translators: "1.2 GiB in 4 files" */
            text = g_strdup_printf (ngettext ("%s in %u file", "%s in %u files", usage->files), size, usage->files);
          set_usage (self, text);
        }
      set_measuring (self, FALSE);
    }
  g_object_unref (self);
  g_free (call);
}

void
graft_preferences_window_measure (GraftPreferencesWindow *self)
{
  g_autoptr (GTask) task = NULL;
  MeasureCall *call;

  g_return_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self));

  call = g_new0 (MeasureCall, 1);
  call->window = g_object_ref (self);
  call->serial = ++self->measure_serial;
  set_measuring (self, TRUE);
  /* No source object: the last reference to the task may go in the worker, and a
   * widget must not be finalized there. */
  task = g_task_new (NULL, self->cancellable, on_measured, call);
  g_task_set_source_tag (task, graft_preferences_window_measure);
  g_task_set_task_data (task, current_folder (self), g_free);
  g_task_run_in_thread (task, measure_thread);
}

static void
clear_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  guint64 *freed = g_new0 (guint64, 1);
  GError *error = NULL;

  if (graft_embedding_cache_trim (task_data, 0, NULL, freed, &error))
    g_task_return_pointer (task, freed, g_free);
  else
    {
      g_free (freed);
      g_task_return_error (task, error);
    }
}

static void
on_cleared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftPreferencesWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree guint64 *freed = g_task_propagate_pointer (G_TASK (result), &error);

  self->clearing = FALSE;
  if (!g_cancellable_is_cancelled (self->cancellable))
    {
      g_autofree char *message = NULL;

      if (freed == NULL)
        message = g_strdup_printf (_("Could not clear the cache: %s"), error->message);
      else
        {
          g_autofree char *size = g_format_size_full (*freed, G_FORMAT_SIZE_IEC_UNITS);
          message = g_strdup_printf (_("%s freed"), size);
        }
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      graft_preferences_window_measure (self);
    }
  g_object_unref (self);
}

static void
clear_cache_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (widget);
  g_autoptr (GTask) task = NULL;

  if (self->clearing)
    return;
  self->clearing = TRUE;
  update_clear_button (self);
  task = g_task_new (NULL, self->cancellable, on_cleared, g_object_ref (self));
  g_task_set_source_tag (task, clear_cache_action);
  g_task_set_task_data (task, current_folder (self), g_free);
  g_task_run_in_thread (task, clear_thread);
}

static void
on_cache_folder_changed (GSettings *settings, const char *key, GraftPreferencesWindow *self)
{
  update_reset_folder (self);
  graft_preferences_window_measure (self);
}

static void
on_cache_trimmed (GraftApplication *application, guint64 freed, GraftPreferencesWindow *self)
{
  graft_preferences_window_measure (self);
}

/* ---- The object ---------------------------------------------------------------------- */

const char *
graft_preferences_window_get_usage (GraftPreferencesWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), NULL);
  return self->usage;
}

gboolean
graft_preferences_window_get_measuring (GraftPreferencesWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), FALSE);
  return self->measuring;
}

static void
graft_preferences_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_USAGE:
      g_value_set_string (value, self->usage);
      break;
    case PROP_MEASURING:
      g_value_set_boolean (value, self->measuring);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_preferences_window_dispose (GObject *object)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  if (self->application != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->application, self);
      g_object_remove_weak_pointer (G_OBJECT (self->application), (gpointer *) &self->application);
      self->application = NULL;
    }
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (graft_preferences_window_parent_class)->dispose (object);
}

static void
graft_preferences_window_finalize (GObject *object)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_free (self->usage);

  G_OBJECT_CLASS (graft_preferences_window_parent_class)->finalize (object);
}

static void
graft_preferences_window_class_init (GraftPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = graft_preferences_window_get_property;
  object_class->dispose = graft_preferences_window_dispose;
  object_class->finalize = graft_preferences_window_finalize;

  properties[PROP_USAGE] = g_param_spec_string ("usage", NULL, NULL, NULL, flags);
  properties[PROP_MEASURING] = g_param_spec_boolean ("measuring", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/graftlab/Graft/ui/graft-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, cache_size_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, folder_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, reset_folder_button);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, usage_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, clear_button);
  gtk_widget_class_bind_template_callback (widget_class, on_threads_input);
  gtk_widget_class_bind_template_callback (widget_class, on_threads_output);
  gtk_widget_class_bind_template_callback (widget_class, on_cache_size_input);
  gtk_widget_class_bind_template_callback (widget_class, on_cache_size_output);

  gtk_widget_class_install_action (widget_class, "preferences.choose-folder", NULL, choose_folder_action);
  gtk_widget_class_install_action (widget_class, "preferences.reset-folder", NULL, reset_folder_action);
  gtk_widget_class_install_action (widget_class, "preferences.clear-cache", NULL, clear_cache_action);
}

static void
graft_preferences_window_init (GraftPreferencesWindow *self)
{
  g_autofree char *automatic = threads_text (0);
  g_autofree char *unlimited = cache_size_text (0);

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  size_spin (self->threads_spin, automatic, 1024);
  size_spin (self->cache_size_spin, unlimited, 1048576);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preferences.clear-cache", FALSE);
}

GtkWidget *
graft_preferences_window_new (GraftApplication *application)
{
  GraftPreferencesWindow *self;
  GSettings *settings;

  g_return_val_if_fail (GRAFT_IS_APPLICATION (application), NULL);
  settings = graft_application_get_settings (application);
  g_return_val_if_fail (settings != NULL, NULL);

  self = g_object_new (GRAFT_TYPE_PREFERENCES_WINDOW, NULL);
  self->settings = g_object_ref (settings);
  self->application = application;
  g_object_add_weak_pointer (G_OBJECT (application), (gpointer *) &self->application);

  g_settings_bind (settings, "threads", gtk_spin_button_get_adjustment (self->threads_spin), "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "cache-size-mb", gtk_spin_button_get_adjustment (self->cache_size_spin), "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (settings, "cache-folder", self->folder_row, "subtitle", G_SETTINGS_BIND_GET,
                                map_folder_subtitle, NULL, NULL, NULL);
  update_reset_folder (self);
  g_signal_connect (settings, "changed::cache-folder", G_CALLBACK (on_cache_folder_changed), self);
  g_signal_connect (application, "cache-trimmed", G_CALLBACK (on_cache_trimmed), self);

  graft_preferences_window_measure (self);
  return GTK_WIDGET (self);
}
