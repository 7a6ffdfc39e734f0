/* graft-window.c: the main window.
 *
 * A project owns its state: a session (the model and the plan being prepared) and a
 * training (the run), which the window makes for each project it opens, hands to the
 * project (which stores the session's spec and records every run) and to every page,
 * so that nothing of one project shows in another. The first project takes the
 * session the window had before it (a model opened first is trained in it); a project
 * that remembers a spec gets it back, model included. Opening another project stops
 * the run of the one before (it is stored there as stopped). Closing the window during
 * a run asks first; Stop and Close stops the run and closes once it is stored.
 *
 * The window turns the pages' ::toast signals into toasts, keeps
 * the computer awake while a run trains, and says when a long run ends while the
 * window is in the background. It restores its size from the settings and saves it
 * on close. It gives its session the feature cache folder of the settings (over the
 * project's own cache folder) and has the cache trimmed after each run. It opens a
 * project or a model the application hands it.
 *
 * The header follows the main stack: on the start screen it shows the application's
 * name (and, with a project open, a button back to it), in the workspace the pages'
 * switcher with the project's name beside it. A toast replaces the one before it:
 * the newest message is the one that counts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-window.h"

#include <glib/gi18n.h>

#include "graft-data-page.h"
#include "graft-model-page.h"
#include "graft-recipe-dialog.h"
#include "graft-results-page.h"
#include "graft-schedule-page.h"
#include "graft-train-page.h"
#include "graft-welcome-page.h"
#include "train/dataset.h"

struct _GraftWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *main_stack;
  AdwViewStack *view_stack;
  AdwBin *welcome_bin;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar *switcher_bar;
  GtkButton *back_button;
  GtkLabel *project_label;

  char *application_title; /* the template's title, for the start screen */
  AdwToast *last_toast; /* weak: the toast shown last, until the overlay drops it */

  GSettings *settings; /* NULL when the schema is not installed */
  GraftProjectObject *project; /* the project open, NULL before the first */
  gboolean model_page_on_open; /* a model came before any project: show it then */
  GraftModelPage *model_page;
  GraftWelcomePage *welcome;
  GraftDataPage *data_page;
  GraftSchedulePage *schedule_page;
  GraftTrainPage *train_page;
  GraftResultsPage *results_page;
  GraftSession *session;       /* the open project's (before any: the one it will take) */
  GraftTraining *training;     /* the same */
  GCancellable *restoring;     /* the project's stored spec being restored */
  guint inhibit_cookie;
  gint64 run_started;
  gboolean closing;            /* Stop and Close: close once the run is stored */
  AdwMessageDialog *close_dialog;
};

G_DEFINE_FINAL_TYPE (GraftWindow, graft_window, ADW_TYPE_APPLICATION_WINDOW)

static void
graft_window_restore_state (GraftWindow *self)
{
  int width, height;

  if (self->settings == NULL)
    return;

  width = g_settings_get_int (self->settings, "window-width");
  height = g_settings_get_int (self->settings, "window-height");
  if (width > 0 && height > 0)
    gtk_window_set_default_size (GTK_WINDOW (self), width, height);
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

static void
graft_window_save_state (GraftWindow *self)
{
  int width, height;

  if (self->settings == NULL)
    return;

  /* The default size is the unmaximized size, which is what to restore. */
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  g_settings_delay (self->settings);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (GTK_WINDOW (self)));
  g_settings_apply (self->settings);
}

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static gboolean
dismiss_toast (gpointer data)
{
  g_autoptr (AdwToast) toast = g_weak_ref_get (data);

  if (toast != NULL) /* else the overlay is done with it */
    adw_toast_dismiss (toast);
  return G_SOURCE_REMOVE;
}

void
graft_window_toast (GraftWindow *self, const char *message)
{
  AdwToast *toast = adw_toast_new (message);

  /* The overlay would queue the new toast behind the one on screen: at high priority
   * it shows at once and puts the old one back in the queue, which then dismisses it.
   * Not at once: libadwaita 1.2 crashes when a toast is dismissed while its show
   * animation runs (a double unref in the animation's "done" handler), so 500 ms on,
   * when that animation is over. */
  if (self->last_toast != NULL)
    {
      GWeakRef *old = g_new0 (GWeakRef, 1);
      g_weak_ref_init (old, self->last_toast);
      g_timeout_add_full (G_PRIORITY_DEFAULT, 500, dismiss_toast, old, weak_ref_free);
    }
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_timeout (toast, 5);
  g_set_weak_pointer (&self->last_toast, toast);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_page_toast (GtkWidget *page, const char *message, GraftWindow *self)
{
  graft_window_toast (self, message);
}

void
graft_window_show_page (GraftWindow *self, const char *name)
{
  gtk_stack_set_visible_child_name (self->main_stack, "workspace");
  if (adw_view_stack_get_child_by_name (self->view_stack, name) != NULL)
    adw_view_stack_set_visible_child_name (self->view_stack, name);
}

void
graft_window_show_welcome (GraftWindow *self)
{
  gtk_stack_set_visible_child_name (self->main_stack, "welcome");
}

/* The header for what the main stack shows; see the top of the file. */
static void
update_header (GraftWindow *self)
{
  gboolean workspace = g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "workspace") == 0;
  g_autofree char *name = self->project != NULL ? graft_project_object_get_name (self->project) : NULL;

  adw_view_switcher_title_set_view_switcher_enabled (self->switcher_title, workspace);
  /* With the switcher off the title shows, which would reveal the bar too. */
  adw_view_switcher_bar_set_reveal (self->switcher_bar,
                                    workspace && adw_view_switcher_title_get_title_visible (self->switcher_title));
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), !workspace && name != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->project_label), workspace && name != NULL);
  if (name != NULL)
    {
      gtk_label_set_label (self->project_label, name);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->project_label),
                                   graft_project_object_get_folder (self->project));
    }
  gtk_window_set_title (GTK_WINDOW (self), workspace && name != NULL ? name : self->application_title);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-welcome", workspace);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-project", !workspace && name != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.train-elsewhere", name != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.import-run", name != NULL);
}

GraftSession *
graft_window_get_session (GraftWindow *self)
{
  return self->session;
}

GraftTraining *
graft_window_get_training (GraftWindow *self)
{
  return self->training;
}

void
graft_window_open_sample (GraftWindow *self)
{
  graft_welcome_page_open_sample (self->welcome);
}

/* The settings' folder wins over the project's cache folder (which project objects
 * give the session): one folder, one size limit. Without settings the session keeps
 * what it has. */
static void
apply_cache_folder (GraftWindow *self)
{
  g_autofree char *folder = NULL;

  if (self->settings == NULL)
    return;
  folder = g_settings_get_string (self->settings, "cache-folder");
  graft_session_set_cache_folder (self->session, folder);
}

static void
on_cache_folder_changed (GSettings *settings, const char *key, GraftWindow *self)
{
  apply_cache_folder (self);
}

static void on_training_state (GraftTraining *training, GParamSpec *pspec, GraftWindow *self);
static void on_training_finished (GraftTraining *training, GError *error, GraftWindow *self);

/* Makes session and training the ones every page shows and edits. */
static void
set_state_objects (GraftWindow *self, GraftSession *session, GraftTraining *training)
{
  if (self->training != NULL && self->training != training)
    g_signal_handlers_disconnect_by_data (self->training, self);
  g_set_object (&self->session, session);
  if (g_set_object (&self->training, training))
    {
      g_signal_connect (training, "notify::state", G_CALLBACK (on_training_state), self);
      g_signal_connect (training, "finished", G_CALLBACK (on_training_finished), self);
      on_training_state (training, NULL, self);
    }
  graft_welcome_page_set_session (self->welcome, session);
  graft_data_page_set_session (self->data_page, session);
  graft_model_page_set_session (self->model_page, session);
  graft_schedule_page_set_session (self->schedule_page, session);
  graft_train_page_set_session (self->train_page, session);
  graft_train_page_set_training (self->train_page, training);
  graft_results_page_set_session (self->results_page, session);
  graft_results_page_set_training (self->results_page, training);
}

static void
on_restored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GraftWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (graft_session_restore_finish (GRAFT_SESSION (source), result, &error)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  {
    /* Translators: a toast when a project is opened; the reason follows */
    g_autofree char *message = g_strdup_printf (_("Could not restore the project’s model: %s"), error->message);
    graft_window_toast (self, message);
  }
}

static void
on_project_opened (GraftWelcomePage *welcome, GraftProjectObject *project, GraftWindow *self)
{
  g_autofree char *name = graft_project_object_get_name (project);
  g_autofree char *stored = graft_project_get_session_spec (graft_project_object_get_project (project));

  if (self->restoring != NULL)
    g_cancellable_cancel (self->restoring);
  g_clear_object (&self->restoring);
  if (self->project != NULL)
    {
      /* The project before keeps its session and training: its run, stopped, is
       * stored there; this one gets its own. */
      g_autoptr (GraftSession) session = graft_session_new ();
      g_autoptr (GraftTraining) training = graft_training_new ();
      graft_training_stop (self->training);
      set_state_objects (self, session, training);
    }
  g_set_object (&self->project, project);
  graft_project_object_set_session (project, self->session);
  graft_project_object_set_training (project, self->training);
  apply_cache_folder (self);
  graft_data_page_set_project (self->data_page, project);
  graft_results_page_set_project (self->results_page, project);
  if (stored != NULL)
    {
      self->restoring = g_cancellable_new ();
      graft_session_restore_async (self->session, stored, self->restoring, on_restored, g_object_ref (self));
    }
  /* Export proposes "<project>.onnx". */
  graft_results_page_set_project_name (self->results_page, name);
  graft_window_show_page (self, self->model_page_on_open ? "model" : "data");
  update_header (self); /* the stack may have shown the workspace already */
  self->model_page_on_open = FALSE;
}

const char *
graft_window_get_project_folder (GraftWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_WINDOW (self), NULL);
  return self->project != NULL ? graft_project_object_get_folder (self->project) : NULL;
}

gboolean
graft_window_is_opening (GraftWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_WINDOW (self), FALSE);
  return graft_welcome_page_get_busy (self->welcome);
}

gboolean
graft_window_open_project (GraftWindow *self, const char *folder, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_WINDOW (self), FALSE);
  return graft_welcome_page_open_project (self->welcome, folder, error);
}

/* A model the Model page loaded (from its chooser, or opened from the file manager). */
static void
on_model_loaded (GraftModelPage *page, const char *path, GraftWindow *self)
{
  if (self->project != NULL)
    graft_window_show_page (self, "model");
  else
    {
      /* The session keeps the model: the project opened next trains it. */
      g_autofree char *name = g_filename_display_basename (path);
      g_autofree char *message = g_strdup_printf (_("Model “%s” loaded: open or create a project to train it"), name);
      self->model_page_on_open = TRUE;
      graft_window_toast (self, message);
    }
}

void
graft_window_open_model (GraftWindow *self, const char *path)
{
  g_return_if_fail (GRAFT_IS_WINDOW (self));
  g_return_if_fail (path != NULL);
  graft_model_page_load_model (self->model_page, path);
}

static void
show_welcome_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_show_welcome (GRAFT_WINDOW (widget));
}

static void
show_project_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  if (self->project != NULL)
    gtk_stack_set_visible_child_name (self->main_stack, "workspace");
}

static void
open_sample_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_open_sample (GRAFT_WINDOW (widget));
}

/* Train Elsewhere… and Import Run… (graft-recipe-dialog.h), for the open project. */
static void
recipe_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftWindow *self = GRAFT_WINDOW (widget);

  if (self->project == NULL)
    return;
  if (g_str_equal (action_name, "win.train-elsewhere"))
    graft_recipe_dialog_train_elsewhere (self, self->project);
  else
    graft_recipe_dialog_import_run (self, self->project);
}

static void
show_page_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_show_page (GRAFT_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
add_page (GraftWindow *self, GtkWidget *page, const char *name, const char *title, const char *icon)
{
  AdwViewStackPage *stack_page = adw_view_stack_add_titled (self->view_stack, page, name, title);

  adw_view_stack_page_set_icon_name (stack_page, icon);
  if (g_signal_lookup ("toast", G_OBJECT_TYPE (page)) != 0)
    g_signal_connect_object (page, "toast", G_CALLBACK (on_page_toast), self, 0);
}

/* Keeps the computer awake while training, and tells when a long run ends unseen. */
static void
on_training_state (GraftTraining *training, GParamSpec *pspec, GraftWindow *self)
{
  GtkApplication *application = gtk_window_get_application (GTK_WINDOW (self));
  gboolean busy = graft_training_is_busy (training);

  if (application == NULL)
    return;
  if (busy && self->inhibit_cookie == 0)
    {
      self->inhibit_cookie = gtk_application_inhibit (application, GTK_WINDOW (self), GTK_APPLICATION_INHIBIT_SUSPEND,
                                                      _("Training a model"));
      self->run_started = g_get_monotonic_time ();
    }
  else if (!busy && self->inhibit_cookie != 0)
    {
      gtk_application_uninhibit (application, self->inhibit_cookie);
      self->inhibit_cookie = 0;
    }
}

static void
on_training_finished (GraftTraining *training, GError *error, GraftWindow *self)
{
  GApplication *application = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  double minutes = (g_get_monotonic_time () - self->run_started) / 6e7;

  /* The run may have grown the feature cache past its size limit. */
  if (GRAFT_IS_APPLICATION (application))
    graft_application_trim_cache (GRAFT_APPLICATION (application));

  if (application == NULL || gtk_window_is_active (GTK_WINDOW (self)) || minutes < 1.0)
    return;
  {
    g_autoptr (GNotification) notification = g_notification_new (error == NULL ? _("Training finished")
                                                                               : _("Training failed"));
    if (error != NULL)
      g_notification_set_body (notification, error->message);
    g_notification_set_default_action_and_target (notification, "app.activate", NULL);
    g_application_send_notification (application, "training", notification);
  }
}

/* Stop and Close: the window closes once the run has ended and the project stored it. */
static void
close_when_stored (GraftWindow *self)
{
  if (!self->closing || graft_training_is_busy (self->training)
      || (self->project != NULL && graft_project_object_get_recording (self->project)))
    return;
  gtk_window_close (GTK_WINDOW (self));
}

static void
on_close_response (AdwMessageDialog *dialog, const char *response, GraftWindow *self)
{
  g_clear_weak_pointer (&self->close_dialog);
  if (g_strcmp0 (response, "stop") != 0)
    return;
  self->closing = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self), FALSE);
  if (self->project != NULL)
    g_signal_connect_object (self->project, "notify::recording", G_CALLBACK (close_when_stored), self,
                             G_CONNECT_SWAPPED);
  g_signal_connect_object (self->training, "finished", G_CALLBACK (close_when_stored), self, G_CONNECT_SWAPPED);
  graft_training_stop (self->training);
  if (graft_training_get_state (self->training) == GRAFT_TRAINING_PAUSED)
    graft_training_resume (self->training);
  close_when_stored (self);
}

/* Asks before a run is lost: Cancel keeps training, Stop and Close stores the run as
 * stopped and closes. */
static void
ask_before_closing (GraftWindow *self)
{
  AdwMessageDialog *dialog;

  if (self->close_dialog != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->close_dialog));
      return;
    }
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Stop training and close?"), NULL));
  adw_message_dialog_format_body (dialog, "%s",
                                  _("A model is training. Stopping keeps the run, with the weights of its last epoch, "
                                    "in the project."));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "stop", _("_Stop and Close"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "stop", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_close_response), self, 0);
  g_set_weak_pointer (&self->close_dialog, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

AdwMessageDialog *
graft_window_get_close_dialog (GraftWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_WINDOW (self), NULL);
  return self->close_dialog;
}

static gboolean
graft_window_close_request (GtkWindow *window)
{
  GraftWindow *self = GRAFT_WINDOW (window);

  if (graft_training_is_busy (self->training) && !graft_training_is_lr_finder (self->training))
    {
      if (!self->closing)
        ask_before_closing (self);
      return TRUE; /* not now */
    }
  if (self->closing && self->project != NULL && graft_project_object_get_recording (self->project))
    return TRUE; /* the run is being stored: close_when_stored closes */
  graft_window_save_state (self);
  graft_training_stop (self->training); /* an LR sweep */

  return GTK_WINDOW_CLASS (graft_window_parent_class)->close_request (window);
}

static void
graft_window_dispose (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  g_clear_weak_pointer (&self->last_toast);
  g_clear_weak_pointer (&self->close_dialog);
  if (self->restoring != NULL)
    g_cancellable_cancel (self->restoring);
  g_clear_object (&self->restoring);
  g_clear_pointer (&self->application_title, g_free);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  g_clear_object (&self->project);
  if (self->training != NULL)
    g_signal_handlers_disconnect_by_data (self->training, self);
  g_clear_object (&self->training);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (graft_window_parent_class)->dispose (object);
}

static void
graft_window_class_init (GraftWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = graft_window_dispose;
  window_class->close_request = graft_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, welcome_bin);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, back_button);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, project_label);

  gtk_widget_class_install_action (widget_class, "win.show-welcome", NULL, show_welcome_action);
  gtk_widget_class_install_action (widget_class, "win.show-project", NULL, show_project_action);
  gtk_widget_class_install_action (widget_class, "win.open-sample", NULL, open_sample_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);
  gtk_widget_class_install_action (widget_class, "win.train-elsewhere", NULL, recipe_action);
  gtk_widget_class_install_action (widget_class, "win.import-run", NULL, recipe_action);
}

static void
graft_window_init (GraftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->application_title = g_strdup (gtk_window_get_title (GTK_WINDOW (self)));

  self->welcome = GRAFT_WELCOME_PAGE (graft_welcome_page_new ());
  g_signal_connect_object (self->welcome, "project-opened", G_CALLBACK (on_project_opened), self, 0);
  g_signal_connect_object (self->welcome, "toast", G_CALLBACK (on_page_toast), self, 0);
  adw_bin_set_child (self->welcome_bin, GTK_WIDGET (self->welcome));
  self->data_page = GRAFT_DATA_PAGE (graft_data_page_new ());
  add_page (self, GTK_WIDGET (self->data_page), "data", _("Data"), "image-x-generic-symbolic");
  self->model_page = g_object_new (GRAFT_TYPE_MODEL_PAGE, NULL);
  g_signal_connect_object (self->model_page, "model-loaded", G_CALLBACK (on_model_loaded), self, 0);
  add_page (self, GTK_WIDGET (self->model_page), "model", _("Model"), "view-grid-symbolic");
  self->schedule_page = g_object_new (GRAFT_TYPE_SCHEDULE_PAGE, NULL);
  add_page (self, GTK_WIDGET (self->schedule_page), "schedule", _("Schedule"), "x-office-calendar-symbolic");
  self->train_page = g_object_new (GRAFT_TYPE_TRAIN_PAGE, NULL);
  add_page (self, GTK_WIDGET (self->train_page), "train", _("Train"), "media-playback-start-symbolic");
  self->results_page = GRAFT_RESULTS_PAGE (graft_results_page_new (NULL, NULL));
  add_page (self, GTK_WIDGET (self->results_page), "results", _("Results"), "emblem-ok-symbolic");
  {
    /* Before any project: a session for a model opened first, which the first project takes. */
    g_autoptr (GraftSession) session = graft_session_new ();
    g_autoptr (GraftTraining) training = graft_training_new ();
    set_state_objects (self, session, training);
  }
  gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  g_signal_connect_object (self->main_stack, "notify::visible-child-name", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->switcher_title, "notify::title-visible", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  update_header (self);
}

GraftWindow *
graft_window_new (GraftApplication *application)
{
  GraftWindow *self;
  GSettings *settings;

  g_return_val_if_fail (GRAFT_IS_APPLICATION (application), NULL);

  self = g_object_new (GRAFT_TYPE_WINDOW, "application", application, NULL);

  settings = graft_application_get_settings (application);
  if (settings != NULL)
    {
      self->settings = g_object_ref (settings);
      graft_welcome_page_set_settings (self->welcome, settings);
      g_signal_connect (settings, "changed::cache-folder", G_CALLBACK (on_cache_folder_changed), self);
      apply_cache_folder (self);
    }
  graft_window_restore_state (self);

  return self;
}
