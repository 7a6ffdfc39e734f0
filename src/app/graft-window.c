/* graft-window.c: the main window.
 *
 * It owns the session (the model and the plan being prepared) and the training (the
 * run), hands them to every page, turns the pages' ::toast signals into toasts, keeps
 * the computer awake while a run trains, and says when a long run ends while the
 * window is in the background. It restores its size from the settings and saves it
 * on close.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-window.h"

#include <glib/gi18n.h>

#include "graft-model-page.h"
#include "graft-results-page.h"
#include "graft-schedule-page.h"
#include "graft-train-page.h"
#include "train/dataset.h"

struct _GraftWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *main_stack;
  AdwViewStack *view_stack;
  AdwBin *welcome_bin;

  GSettings *settings; /* NULL when the schema is not installed */
  GraftSession *session;
  GraftTraining *training;
  guint inhibit_cookie;
  gint64 run_started;
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

void
graft_window_toast (GraftWindow *self, const char *message)
{
  AdwToast *toast = adw_toast_new (message);

  adw_toast_set_timeout (toast, 5);
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

static void
on_sample_model_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GraftWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!graft_session_load_model_finish (GRAFT_SESSION (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The starter model could not be loaded: %s"), error->message);
      graft_window_toast (self, message);
      return;
    }
  graft_window_show_page (self, "model");
}

void
graft_window_open_sample (GraftWindow *self)
{
  g_autofree char *model = graft_application_find_data ("models/graft-starter.onnx");
  g_autofree char *train_dir = graft_application_find_data ("samples/train");
  g_autofree char *validation_dir = graft_application_find_data ("samples/validation");
  g_autoptr (GError) error = NULL;
  GraftDataset *train = NULL, *validation = NULL;

  if (model == NULL || train_dir == NULL)
    {
      graft_window_toast (self, _("The sample project is not installed"));
      return;
    }
  train = graft_dataset_load_image_folder (train_dir, NULL, &error);
  if (train != NULL && validation_dir != NULL)
    validation = graft_dataset_load_image_folder (validation_dir, train->classes, &error);
  if (train == NULL || (validation_dir != NULL && validation == NULL))
    {
      graft_window_toast (self, error->message);
      g_clear_pointer (&train, graft_dataset_free);
      return;
    }
  graft_session_set_datasets (self->session, train, validation);
  graft_session_load_model_async (self->session, model, NULL, on_sample_model_loaded, g_object_ref (self));
}

static void
show_welcome_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_show_welcome (GRAFT_WINDOW (widget));
}

static void
open_sample_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_open_sample (GRAFT_WINDOW (widget));
}

static void
show_page_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_window_show_page (GRAFT_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

/* Until the project screens exist, the start screen offers the sample and a model. */
static GtkWidget *
make_welcome (GraftWindow *self)
{
  GtkWidget *status = adw_status_page_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *sample = gtk_button_new_with_mnemonic (_("Open the _Sample Project"));
  GtkWidget *model = gtk_button_new_with_mnemonic (_("Choose a _Model"));

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (status), "io.github.graftlab.Graft");
  adw_status_page_set_title (ADW_STATUS_PAGE (status), _("Teach a Model Your Own Classes"));
  adw_status_page_set_description (ADW_STATUS_PAGE (status),
                                   _("Label your photos, choose which layers of a pretrained network stay "
                                     "frozen, graft a new head on top and train it on this computer."));
  gtk_widget_add_css_class (sample, "suggested-action");
  gtk_widget_add_css_class (sample, "pill");
  gtk_widget_add_css_class (model, "pill");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (sample), "win.open-sample");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (model), "win.show-page");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (model), "s", "model");
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), sample);
  gtk_box_append (GTK_BOX (box), model);
  adw_status_page_set_child (ADW_STATUS_PAGE (status), box);
  return status;
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

static gboolean
graft_window_close_request (GtkWindow *window)
{
  GraftWindow *self = GRAFT_WINDOW (window);

  graft_window_save_state (self);
  graft_training_stop (self->training);

  return GTK_WINDOW_CLASS (graft_window_parent_class)->close_request (window);
}

static void
graft_window_dispose (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  g_clear_object (&self->settings);
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

  gtk_widget_class_install_action (widget_class, "win.show-welcome", NULL, show_welcome_action);
  gtk_widget_class_install_action (widget_class, "win.open-sample", NULL, open_sample_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);
}

static void
graft_window_init (GraftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->session = graft_session_new ();
  self->training = graft_training_new ();
  g_signal_connect (self->training, "notify::state", G_CALLBACK (on_training_state), self);
  g_signal_connect (self->training, "finished", G_CALLBACK (on_training_finished), self);

  adw_bin_set_child (self->welcome_bin, make_welcome (self));
  add_page (self, g_object_new (GRAFT_TYPE_MODEL_PAGE, "session", self->session, NULL), "model", _("Model"),
            "view-grid-symbolic");
  add_page (self, g_object_new (GRAFT_TYPE_SCHEDULE_PAGE, "session", self->session, NULL), "schedule",
            _("Schedule"), "x-office-calendar-symbolic");
  add_page (self,
            g_object_new (GRAFT_TYPE_TRAIN_PAGE, "session", self->session, "training", self->training, NULL),
            "train", _("Train"), "media-playback-start-symbolic");
  add_page (self, GTK_WIDGET (graft_results_page_new (self->session, self->training)), "results", _("Results"),
            "emblem-ok-symbolic");
  gtk_stack_set_visible_child_name (self->main_stack, "welcome");
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
    self->settings = g_object_ref (settings);
  graft_window_restore_state (self);

  return self;
}
