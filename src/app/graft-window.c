/* graft-window.c: the main window.
 *
 * For now it says what Graft is and that the training engine comes first.
 * It restores its size from the settings when created and saves it on close.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-window.h"

struct _GraftWindow
{
  AdwApplicationWindow parent_instance;

  GSettings *settings; /* NULL when the schema is not installed */
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
  g_settings_set_boolean (self->settings, "window-maximized",
                          gtk_window_is_maximized (GTK_WINDOW (self)));
  g_settings_apply (self->settings);
}

static gboolean
graft_window_close_request (GtkWindow *window)
{
  graft_window_save_state (GRAFT_WINDOW (window));

  return GTK_WINDOW_CLASS (graft_window_parent_class)->close_request (window);
}

static void
graft_window_dispose (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  g_clear_object (&self->settings);

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

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/graftlab/Graft/ui/graft-window.ui");
}

static void
graft_window_init (GraftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
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
