/* A project owns its state, keeps its runs, and a run is not lost by closing the window:
 * the real GraftWindow of a registered GraftApplication, under Xvfb, on the bundled
 * sample project (made in a private XDG_DATA_HOME from GRAFT_DATA_DIR, the source
 * tree's data folder, which is only read).
 *
 *   /app/projects/switch     train in the sample, then open another project: nothing of
 *                            the sample shows (Results empty, Export off, the Train
 *                            page's curves empty, the Model page without a model and
 *                            with the default head, no runs listed)
 *   /app/projects/reopen     train, close the window, open the sample in a new window:
 *                            the run is listed and opened, its evaluation is the one the
 *                            run had, Export writes it, the model, head and schedule are
 *                            back; deleting the run (Delete, then the dialog's Delete)
 *                            removes it and its model file
 *   /app/projects/close-during-run
 *                            closing while a run trains asks "Stop training and close?";
 *                            Cancel keeps training, Stop and Close stores the run as
 *                            stopped (with its model) and then closes
 *
 * Run under a display: dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" meson test app-projects */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-helpers.h"
#include "base/file-hash.h"
#include "engine/parallel.h"
#include "gradcheck.h"
#include "graft-application.h"
#include "graft-data-page.h"
#include "graft-model-page.h"
#include "graft-results-page.h"
#include "graft-train-page.h"
#include "graft-welcome-page.h"
#include "graft-window.h"
#include "model/model.h"

static char *home;   /* private XDG folders */
static GraftApplication *application_instance;   /* one per process: it registers once */

static GraftApplication *
shared_application (void)
{
  if (application_instance == NULL)
    application_instance = app_test_application_new ();
  return application_instance;
}



static const char *
stack_page (gpointer widget, GType type, const char *name)
{
  return gtk_stack_get_visible_child_name (GTK_STACK (app_test_template_child (widget, type, name)));
}

static guint
stored_runs (const char *folder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = graft_project_open (folder, &error);
  g_autoptr (GArray) runs = NULL;

  g_assert_no_error (error);
  runs = graft_project_list_runs (project, &error);
  g_assert_no_error (error);
  return runs->len;
}

/* Whether Export Model can be clicked: the split button's own button follows the
 * "results.export" action. */
static gboolean
export_enabled (GraftWindow *window)
{
  GtkWidget *split = app_test_template_child (app_test_window_page (window, "results"), GRAFT_TYPE_RESULTS_PAGE, "export_button");

  for (GtkWidget *child = gtk_widget_get_first_child (split); child != NULL; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_BUTTON (child))
      return gtk_widget_get_sensitive (child);
  g_assert_not_reached ();
}


static void
destroy_and_wait (GraftWindow *window, GraftProjectObject *project)
{
  GObject *weak = G_OBJECT (project);

  g_object_add_weak_pointer (weak, (gpointer *) &weak);
  gtk_window_destroy (GTK_WINDOW (window));
  APP_TEST_WAIT_UNTIL (weak == NULL, 30);
  /* The project object is gone: its store is closed. */
  g_assert_null (weak);
}

static void
test_switch (void)
{
  GraftApplication *application = shared_application ();
  g_autoptr (GError) error = NULL;
  g_autofree char *other = g_build_filename (home, "Other.graft", NULL);
  GraftWindow *window = app_test_window_new (application);
  GraftResultsPage *results;
  GraftSession *sample_session;
  GraftHeadSpec head = { .n_hidden = 1, .hidden = { 32 }, .activation = GRAFT_ACTIVATION_RELU };

  app_test_open_sample (window);
  results = GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"));
  sample_session = graft_window_get_session (window);
  graft_session_set_head (sample_session, &head);
  app_test_train (window, 2);
  g_assert_cmpstr (stack_page (results, GRAFT_TYPE_RESULTS_PAGE, "stack"), ==, "results");
  g_assert_true (export_enabled (window));
  g_assert_cmpuint (graft_results_page_get_n_runs (results), >=, 1);
  g_assert_cmpuint (graft_series_get_length (graft_training_get_series (graft_window_get_training (window),
                                                                        "train-loss-epoch")), ==, 2);
  app_test_save_shot (GTK_WIDGET (window), "projects-01-sample-trained.png");

  /* Another project: nothing of the sample anywhere. */
  {
    g_autoptr (GraftProjectObject) created = graft_project_object_create (other, "Other", &error);
    g_assert_no_error (error);
  }
  g_assert_true (graft_window_open_project (window, other, &error));
  g_assert_no_error (error);
  APP_TEST_WAIT_UNTIL (g_strcmp0 (graft_window_get_project_folder (window), other) == 0, 30);
  g_assert_cmpstr (graft_window_get_project_folder (window), ==, other);
  app_test_iterate_for (400);

  g_assert_true (graft_window_get_session (window) != sample_session);
  g_assert_true (graft_project_object_get_session (app_test_window_project (window)) == graft_window_get_session (window));
  /* Results: none, and no export of the sample's model. */
  g_assert_cmpstr (stack_page (results, GRAFT_TYPE_RESULTS_PAGE, "stack"), ==, "empty");
  g_assert_false (export_enabled (window));
  g_assert_cmpuint (graft_results_page_get_n_runs (results), ==, 0);
  g_assert_null (graft_results_page_get_metrics (results));
  /* Train: a training that has not run, with empty curves. */
  {
    GraftTraining *training = graft_window_get_training (window);
    GraftTrainPage *train_page = GRAFT_TRAIN_PAGE (app_test_window_page (window, "train"));
    g_assert_true (graft_train_page_get_training (train_page) == training);
    g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_IDLE);
    g_assert_cmpuint (graft_series_get_length (graft_training_get_series (training, "train-loss")), ==, 0);
    g_assert_cmpuint (graft_series_get_length (graft_training_get_series (training, "validation-accuracy")), ==, 0);
  }
  /* Model: no model, the default head. */
  {
    GraftModelPage *model_page = GRAFT_MODEL_PAGE (app_test_window_page (window, "model"));
    GraftSession *session = graft_window_get_session (window);
    g_assert_true (graft_model_page_get_session (model_page) == session);
    g_assert_null (graft_session_get_model (session));
    g_assert_cmpint (graft_session_get_spec (session)->head.n_hidden, ==, 0);
    g_assert_cmpstr (stack_page (model_page, GRAFT_TYPE_MODEL_PAGE, "stack"), ==, "empty");
  }
  graft_window_show_page (window, "results");
  app_test_iterate_for (600);
  app_test_save_shot (GTK_WIDGET (window), "projects-02-other-results.png");
  app_test_iterate_for (600);

  /* Back to the sample: its run is there again. */
  app_test_open_sample (window);
  APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (results) && graft_results_page_get_metrics (results) != NULL, 60);
  g_assert_cmpuint (graft_results_page_get_n_runs (results), >=, 1);
  g_assert_true (export_enabled (window));
  g_assert_cmpint (graft_session_get_spec (graft_window_get_session (window))->head.n_hidden, ==, 1);

  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (200);
}

static void
test_reopen (void)
{
  GraftApplication *application = shared_application ();
  g_autoptr (GError) error = NULL;
  g_autofree char *sample = graft_welcome_page_get_sample_folder ();
  g_autofree char *exported = g_build_filename (home, "reopened.onnx", NULL);
  g_autofree char *spec_before = NULL;
  g_autofree char *model_before = NULL;
  g_autofree char *model_file = NULL;
  g_autofree guint64 *confusion = NULL;
  int classes;
  gint64 run_id;
  guint runs_before;
  GraftWindow *window = app_test_window_new (application);
  GraftResultsPage *results;

  app_test_open_sample (window);
  results = GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"));
  APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (results), 60);
  runs_before = graft_results_page_get_n_runs (results);
  {
    /* Settings of the Model and Schedule pages, which the project is to remember. */
    GraftSession *session = graft_window_get_session (window);
    GraftHeadSpec head = { .n_hidden = 1, .hidden = { 24 }, .activation = GRAFT_ACTIVATION_RELU, .dropout = 0.25f };
    graft_session_set_head (session, &head);
    graft_session_get_spec (session)->optimizer.learning_rate = 0.0125f;
    graft_session_get_spec (session)->seed = 4242;
    graft_session_spec_changed (session);
  }
  app_test_train (window, 3);
  g_assert_cmpuint (graft_results_page_get_n_runs (results), ==, runs_before + 1);
  run_id = graft_results_page_get_run_id (results, runs_before);
  g_assert_cmpint (run_id, >, 0);
  g_assert_cmpint (graft_results_page_get_shown_run_id (results), ==, run_id);
  {
    const GraftMetrics *metrics = graft_results_page_get_metrics (results);
    classes = metrics->classes;
    confusion = g_memdup2 (metrics->confusion, sizeof (guint64) * classes * classes);
  }
  spec_before = graft_session_spec_to_json (graft_session_get_spec (graft_window_get_session (window)));
  model_before = g_strdup (graft_session_get_model_path (graft_window_get_session (window)));
  {
    GraftRun run = { 0 };
    g_assert_true (graft_project_get_run (graft_project_object_get_project (app_test_window_project (window)), run_id, &run,
                                          &error));
    g_assert_no_error (error);
    g_assert_cmpint (run.status, ==, GRAFT_RUN_FINISHED);
    g_assert_true (g_file_test (run.model_path, G_FILE_TEST_IS_REGULAR));
    model_file = g_strdup (run.model_path);
    graft_run_clear (&run);
  }
  destroy_and_wait (window, app_test_window_project (window));

  /* A new window, the sample again. */
  window = app_test_window_new (application);
  results = GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"));
  app_test_open_sample (window);
  APP_TEST_WAIT_UNTIL (g_strcmp0 (graft_session_get_model_path (graft_window_get_session (window)), model_before) == 0
                && !graft_results_page_is_busy (results) && graft_results_page_get_metrics (results) != NULL,
              60);
  /* The model and every setting are back. */
  g_assert_cmpstr (graft_session_get_model_path (graft_window_get_session (window)), ==, model_before);
  {
    g_autofree char *spec_after = graft_session_spec_to_json (graft_session_get_spec (graft_window_get_session (window)));
    g_assert_cmpstr (spec_after, ==, spec_before);
  }
  g_assert_cmpint (graft_session_get_spec (graft_window_get_session (window))->head.hidden[0], ==, 24);
  /* The run is listed and shown, evaluated as it was. */
  g_assert_cmpuint (graft_results_page_get_n_runs (results), ==, runs_before + 1);
  g_assert_cmpint (graft_results_page_get_run_id (results, runs_before), ==, run_id);
  g_assert_cmpint (graft_results_page_get_shown_run_id (results), ==, run_id);
  g_assert_cmpstr (stack_page (results, GRAFT_TYPE_RESULTS_PAGE, "stack"), ==, "results");
  {
    const GraftMetrics *metrics = graft_results_page_get_metrics (results);
    g_assert_cmpint (metrics->classes, ==, classes);
    g_assert_cmpmem (metrics->confusion, sizeof (guint64) * classes * classes, confusion,
                     sizeof (guint64) * classes * classes);
  }
  graft_window_show_page (window, "results");
  app_test_iterate_for (600);
  app_test_save_shot (GTK_WIDGET (window), "projects-03-reopened.png");
  app_test_iterate_for (600);
  /* Export works for it. */
  g_assert_true (export_enabled (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (results), "results.export-to", "s", exported));
  APP_TEST_WAIT_UNTIL (g_file_test (exported, G_FILE_TEST_EXISTS) && !graft_results_page_is_busy (results), 60);
  {
    g_autoptr (GraftModel) model = graft_model_load (exported, &error);
    g_assert_no_error (error);
    g_assert_nonnull (model);
  }
  /* In the run's export history, with the file's SHA-256. */
  {
    g_autoptr (GArray) exports = graft_project_list_exports (
      graft_project_object_get_project (app_test_window_project (window)), run_id, &error);
    g_autofree char *sha256 = graft_file_sha256 (exported, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (exports->len, ==, 1);
    g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).path, ==, exported);
    g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).format, ==, "onnx");
    g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).checksum, ==, sha256);
  }

  /* Delete: asked first, then gone with its model file. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (results), "results.delete-run", "x", run_id));
  {
    AdwMessageDialog *dialog = NULL;
    GListModel *toplevels = gtk_window_get_toplevels ();
    APP_TEST_WAIT_UNTIL (g_list_model_get_n_items (toplevels) > 1, 5);
    for (guint i = 0; i < g_list_model_get_n_items (toplevels) && dialog == NULL; i++)
      {
        g_autoptr (GObject) item = g_list_model_get_item (toplevels, i);
        if (ADW_IS_MESSAGE_DIALOG (item))
          dialog = ADW_MESSAGE_DIALOG (item);
      }
    g_assert_nonnull (dialog);
    adw_message_dialog_response (dialog, "delete");
    gtk_window_destroy (GTK_WINDOW (dialog));
  }
  app_test_iterate_for (200);
  g_assert_cmpuint (graft_results_page_get_n_runs (results), ==, runs_before);
  g_assert_false (g_file_test (model_file, G_FILE_TEST_EXISTS));
  g_assert_cmpint (graft_results_page_get_shown_run_id (results), !=, run_id);
  g_assert_cmpuint (stored_runs (sample), ==, runs_before);

  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (200);
}

static void
test_close_during_run (void)
{
  GraftApplication *application = shared_application ();
  g_autofree char *sample = graft_welcome_page_get_sample_folder ();
  GraftWindow *window = app_test_window_new (application);
  GraftTraining *training;
  GraftSession *session;
  GtkWidget *weak;
  guint runs_before;

  app_test_open_sample (window);
  runs_before = stored_runs (sample);
  training = graft_window_get_training (window);
  session = graft_window_get_session (window);
  /* With augmentation the backbone runs on every image of every epoch: slow enough to
   * close during the run. */
  graft_session_get_spec (session)->augmentation.enabled = TRUE;
  graft_session_get_spec (session)->epochs = 200;
  graft_session_spec_changed (session);
  graft_window_show_page (window, "train");
  app_test_iterate_for (300);
  g_assert_true (gtk_widget_activate (app_test_template_child (app_test_window_page (window, "train"), GRAFT_TYPE_TRAIN_PAGE,
                                                               "start_button")));
  APP_TEST_WAIT_UNTIL (graft_training_get_epoch (training) >= 1, 120);
  g_assert_true (graft_training_is_busy (training));

  weak = GTK_WIDGET (window);
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &weak);
  /* Close: asked, and Cancel keeps training. */
  gtk_window_close (GTK_WINDOW (window));
  app_test_iterate_for (200);
  g_assert_nonnull (weak);
  g_assert_nonnull (graft_window_get_close_dialog (window));
  g_assert_cmpstr (adw_message_dialog_get_heading (graft_window_get_close_dialog (window)), ==,
                   "Stop training and close?");
  app_test_save_shot (GTK_WIDGET (graft_window_get_close_dialog (window)), "projects-04-close-dialog.png");
  app_test_iterate_for (300);
  adw_message_dialog_response (graft_window_get_close_dialog (window), "cancel");
  app_test_iterate_for (300);
  g_assert_nonnull (weak);
  g_assert_true (graft_training_is_busy (training));
  g_assert_null (graft_window_get_close_dialog (window));

  /* Close again: Stop and Close stops the run, stores it, then closes. */
  gtk_window_close (GTK_WINDOW (window));
  app_test_iterate_for (100);
  g_assert_nonnull (graft_window_get_close_dialog (window));
  adw_message_dialog_response (graft_window_get_close_dialog (window), "stop");
  APP_TEST_WAIT_UNTIL (weak == NULL, 120);
  g_assert_null (weak);
  app_test_iterate_for (200);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftProject) project = graft_project_open (sample, &error);
    g_autoptr (GArray) runs = graft_project_list_runs (project, &error);
    const GraftRun *run;
    g_assert_no_error (error);
    g_assert_cmpuint (runs->len, ==, runs_before + 1);
    run = &g_array_index (runs, GraftRun, 0); /* newest first */
    g_assert_cmpint (run->status, ==, GRAFT_RUN_STOPPED);
    g_assert_nonnull (run->model_path);
    g_assert_true (g_file_test (run->model_path, G_FILE_TEST_IS_REGULAR));
    g_assert_nonnull (run->metrics_json);
  }
}

int
main (int argc, char **argv)
{
  int status;

  if (!app_test_init_with_samples (&argc, &argv, "graft-projects-XXXXXX", &home))
    return 0;

  g_test_add_func ("/app/projects/switch", test_switch);
  g_test_add_func ("/app/projects/reopen", test_reopen);
  g_test_add_func ("/app/projects/close-during-run", test_close_during_run);
  status = g_test_run ();

  g_clear_object (&application_instance);
  test_remove_tree (home);
  g_free (home);
  return status;
}
