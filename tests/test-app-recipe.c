/* Train Elsewhere… and Import Run… through the app: the real GraftWindow on the sample
 * project, under Xvfb (graft-recipe-dialog.c runs graft-cli, from GRAFT_CLI).
 *
 *   /app/recipe/write-import   the main menu has both items; the recipe of the open
 *                              project is written into a folder (the message dialog shows
 *                              the torchrun command); that folder, "trained" (its initial
 *                              model as model.onnx, an event log written here), is
 *                              imported: the project has one more run, ::runs-changed
 *                              says which
 *
 * Run under a display: dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" meson test app-recipe */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-helpers.h"
#include "gradcheck.h"
#include "graft-application.h"
#include "graft-recipe-dialog.h"
#include "graft-session.h"
#include "graft-window.h"
#include "train/spec.h"

static char *home;   /* private XDG folders */

static AdwMessageDialog *
find_message_dialog (const char *heading)
{
  GListModel *toplevels = gtk_window_get_toplevels (); /* not ours */
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (window)
          && g_strcmp0 (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (window)), heading) == 0)
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

/* The titles of the toasts the window shows, for a test's message: graft-cli's errors
 * come as toasts. */
static void
collect_toasts (GtkWidget *widget, GString *out, gboolean in_toast)
{
  in_toast = in_toast || g_strcmp0 (gtk_widget_get_css_name (widget), "toast") == 0;
  if (in_toast && GTK_IS_LABEL (widget))
    g_string_append_printf (out, "[%s] ", gtk_label_get_label (GTK_LABEL (widget)));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    collect_toasts (child, out, in_toast);
}

static gboolean
menu_has_action (GMenuModel *menu, const char *action)
{
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autofree char *name = NULL;
      g_autoptr (GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);
      if (section != NULL && menu_has_action (section, action))
        return TRUE;
      if (g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_ACTION, "s", &name) && g_strcmp0 (name, action) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The menu of the header's menu button (the primary menu). */
static GMenuModel *
primary_menu (GtkWidget *widget)
{
  if (GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)) != NULL)
    return gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GMenuModel *menu = primary_menu (child);
      if (menu != NULL)
        return menu;
    }
  return NULL;
}

static void
on_runs_changed (GraftProjectObject *project, gint64 run_id, gint64 *last)
{
  *last = run_id;
}

static guint
count_runs (GraftProjectObject *project)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) runs = graft_project_list_runs (graft_project_object_get_project (project), &error);
  g_assert_no_error (error);
  return runs->len;
}

static void
test_write_import (void)
{
  g_autoptr (GraftApplication) application = app_test_application_new ();
  GraftWindow *window = app_test_window_new (application);
  g_autofree char *folder = g_build_filename (home, "Sample Recipe", NULL);
  g_autofree char *marker = g_build_filename (folder, "graft-recipe.json", NULL);
  g_autofree char *initial = g_build_filename (folder, "initial.onnx", NULL);
  g_autofree char *trained = g_build_filename (folder, "model.onnx", NULL);
  g_autofree char *events = g_build_filename (folder, "events.jsonl", NULL);
  g_autofree char *contents = NULL;
  GraftProjectObject *project;
  AdwMessageDialog *dialog;
  g_autoptr (GString) toasts = g_string_new (NULL);
  gint64 changed = 0;
  guint runs_before;
  gsize length;

  if (g_getenv ("GRAFT_CLI") == NULL)
    {
      g_test_skip ("GRAFT_CLI is not set");
      gtk_window_destroy (GTK_WINDOW (window));
      return;
    }
  {
    GMenuModel *menu = primary_menu (GTK_WIDGET (window));
    g_assert_nonnull (menu);
    g_assert_true (menu_has_action (menu, "win.train-elsewhere"));
    g_assert_true (menu_has_action (menu, "win.import-run"));
  }

  app_test_open_sample (window);
  project = app_test_window_project (window);
  g_assert_nonnull (project);

  /* A change of the moment before: the project stores the session's spec 400 ms after it
   * changes, but the recipe has it at once. */
  graft_session_get_spec (graft_window_get_session (window))->epochs = 7;
  graft_session_spec_changed (graft_window_get_session (window));
  graft_recipe_dialog_write_to (window, project, folder);
  /* The dialog, or graft-cli's error in a toast. */
  APP_TEST_WAIT_UNTIL ((dialog = find_message_dialog ("Recipe Written")) != NULL
                         || (g_string_truncate (toasts, 0), collect_toasts (GTK_WIDGET (window), toasts, FALSE),
                             toasts->len > 0),
                       120);
  if (dialog == NULL)
    g_test_message ("no recipe; the window says: %s", toasts->str);
  g_assert_nonnull (dialog);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  {
    g_autofree char *spec_path = g_build_filename (folder, "spec.json", NULL);
    g_autofree char *spec_json = NULL;
    g_autoptr (GraftSessionSpec) spec = NULL;
    g_assert_true (g_file_get_contents (spec_path, &spec_json, NULL, NULL));
    spec = graft_session_spec_from_json (spec_json, NULL);
    g_assert_nonnull (spec);
    g_assert_cmpint (spec->epochs, ==, 7);
  }
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "torchrun --standalone"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), folder));
  gtk_window_destroy (GTK_WINDOW (dialog));

  /* "Trained": the initial model and a two-epoch log. */
  g_assert_true (g_file_get_contents (initial, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (trained, contents, (gssize) length, NULL));
  g_assert_true (g_file_set_contents (
    events,
    "{\"event\": \"step\", \"epoch\": 1, \"epochs\": 2, \"step\": 1, \"steps\": 1, \"stage\": 1, \"loss\": 1.5, "
    "\"lr\": 0.01, \"images_per_second\": 10.0, \"eta_seconds\": 1.0}\n"
    "{\"event\": \"epoch\", \"epoch\": 1, \"epochs\": 2, \"stage\": 1, \"train_loss\": 1.5, \"train_accuracy\": 0.4, "
    "\"validation_loss\": 1.4, \"validation_accuracy\": 0.5, \"seconds\": 1.0, \"images_per_second\": 10.0, "
    "\"best\": true}\n"
    "{\"event\": \"done\", \"output\": \"model.onnx\", \"validation_accuracy\": 0.5, \"validation_loss\": 1.4, "
    "\"best_epoch\": 1, \"epochs_completed\": 1, \"interrupted\": false, \"seconds\": 2.0, \"processes\": 2}\n",
    -1, NULL));
  runs_before = count_runs (project);
  g_signal_connect (project, "runs-changed", G_CALLBACK (on_runs_changed), &changed);
  graft_recipe_dialog_import_from (window, project, folder);
  APP_TEST_WAIT_UNTIL (changed != 0, 120);
  g_assert_cmpint (changed, >, 0);
  g_assert_cmpuint (count_runs (project), ==, runs_before + 1);
  g_signal_handlers_disconnect_by_func (project, on_runs_changed, &changed);

  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (300);
}

int
main (int argc, char **argv)
{
  int status;

  if (!app_test_init_with_samples (&argc, &argv, "graft-app-recipe-XXXXXX", &home))
    return 0;

  g_test_add_func ("/app/recipe/write-import", test_write_import);
  status = g_test_run ();

  test_remove_tree (home);
  g_free (home);
  return status;
}
