/* A run closed part way resumes in the same run record: the real GraftWindow under
 * Xvfb, on the bundled sample project (in a private XDG_DATA_HOME).
 *
 *   /app/resume/close-reopen-resume
 *       a run of 4 epochs with augmentation, paused in its second epoch: its checkpoint
 *       (runs/ID.checkpoint) and the curves of its first epoch are in the project
 *       already; the window closed (Stop and Close): stored as stopped; the sample
 *       opened in a new window: its row on the Results page has a Resume button, which
 *       continues it in the same record to its 4 epochs, its curves continued from the
 *       first epoch (one point per epoch, none twice); the stored model has the same
 *       weights as a run of the same settings never interrupted
 *
 *   /app/resume/killed-cli-run
 *       graft-cli train on the sample, killed (SIGKILL) after its first epoch: the app
 *       lists the run as interrupted with a Resume button, which finishes it in the
 *       same record with all its epochs
 *
 * Run under a display: dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" meson test app-resume */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "app-test-helpers.h"
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





#define EPOCHS 4

/* The spec of both runs: augmentation on, so that the backbone runs every epoch (slow
 * enough to close during the run) and the augmentation's random state must resume too. */
static void
prepare_spec (GraftWindow *window)
{
  GraftSession *session = graft_window_get_session (window);
  graft_session_get_spec (session)->augmentation.enabled = TRUE;
  graft_session_get_spec (session)->epochs = EPOCHS;
  graft_session_get_spec (session)->seed = 77;
  graft_session_spec_changed (session);
}

static GBytes *
model_weights (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = graft_model_load (path, &error);
  GByteArray *bytes = g_byte_array_new ();

  g_assert_no_error (error);
  for (int v = 0; v < graft_graph_value_count (model->graph); v++)
    {
      const graft_value *value = graft_graph_value (model->graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      g_byte_array_append (bytes, (const guint8 *) value->data, (guint) (count * sizeof (float)));
    }
  return g_byte_array_free_to_bytes (bytes);
}

/* The visible button of the Results page that resumes run_id, or NULL. */
static GtkWidget *
find_resume_button (GtkWidget *widget, gint64 run_id)
{
  if (GTK_IS_BUTTON (widget) && gtk_widget_get_visible (widget)
      && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), "results.resume-run") == 0)
    {
      GVariant *target = gtk_actionable_get_action_target_value (GTK_ACTIONABLE (widget));
      if (target != NULL && g_variant_get_int64 (target) == run_id)
        return widget;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_resume_button (child, run_id);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Pauses the run once its second epoch has begun: the window is then closed during it,
 * however fast the epochs are. */
static void
pause_in_second_epoch (GraftTraining *training, GParamSpec *pspec, gpointer user_data)
{
  if (graft_training_get_epoch (training) >= 2 && graft_training_get_state (training) == GRAFT_TRAINING_RUNNING)
    graft_training_pause (training);
}

static void
test_close_reopen_resume (void)
{
  GraftApplication *application = shared_application ();
  g_autofree char *sample = graft_welcome_page_get_sample_folder ();
  g_autofree char *checkpoint = NULL, *model_file = NULL, *expected_file = NULL;
  g_autoptr (GBytes) expected = NULL, resumed = NULL;
  GraftWindow *window = app_test_window_new (application);
  GraftTraining *training;
  GtkWidget *weak, *resume;
  gint64 run_id;
  int epochs_done;

  /* The run never interrupted. */
  app_test_open_sample (window);
  prepare_spec (window);
  app_test_train (window, EPOCHS);
  {
    GraftResultsPage *results = GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"));
    GraftRun run = { 0 };
    gint64 id = graft_results_page_get_shown_run_id (results);
    g_assert_true (graft_project_get_run (graft_project_object_get_project (app_test_window_project (window)), id, &run, NULL));
    expected_file = g_strdup (run.model_path);
    graft_run_clear (&run);
    expected = model_weights (expected_file);
  }

  /* The same, closed during its second or third epoch: Stop and Close. */
  training = graft_window_get_training (window);
  graft_window_show_page (window, "train");
  app_test_iterate_for (300);
  {
    gulong pause_id = g_signal_connect (training, "notify::epoch", G_CALLBACK (pause_in_second_epoch), NULL);
    g_assert_true (gtk_widget_activate (app_test_template_child (app_test_window_page (window, "train"), GRAFT_TYPE_TRAIN_PAGE,
                                                                 "start_button")));
    APP_TEST_WAIT_UNTIL (graft_training_get_state (training) == GRAFT_TRAINING_PAUSED, 120);
    g_signal_handler_disconnect (training, pause_id);
  }
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_PAUSED);
  {
    /* Already in the project while it trains: the checkpoint and the curves of the
     * epochs that ended (what a kill of the app would leave). */
    g_autoptr (GError) error = NULL;
    g_autoptr (GraftProject) project = graft_project_open (sample, &error);
    g_autoptr (GArray) runs = graft_project_list_runs (project, &error);
    const GraftRun *run = &g_array_index (runs, GraftRun, 0);
    g_autoptr (GArray) accuracy = graft_project_get_metric_series (project, run->id, "validation-accuracy", &error);
    g_autofree char *path = graft_run_checkpoint_file (project, run->id);
    g_assert_no_error (error);
    g_assert_cmpint (run->status, ==, GRAFT_RUN_RUNNING);
    g_assert_cmpuint (accuracy->len, >=, 1);
    g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  }
  weak = GTK_WIDGET (window);
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &weak);
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
    const GraftRun *run = &g_array_index (runs, GraftRun, 0); /* newest first */
    int epochs = 0;
    g_assert_no_error (error);
    g_assert_cmpint (run->status, ==, GRAFT_RUN_STOPPED);
    run_id = run->id;
    checkpoint = graft_run_checkpoint_file (project, run_id);
    g_assert_true (graft_checkpoint_get_epochs (checkpoint, &epochs_done, &epochs, &error));
    g_assert_no_error (error);
    g_test_message ("closed after %d of %d epochs", epochs_done, epochs);
    g_assert_cmpint (epochs_done, >=, 1);
    g_assert_cmpint (epochs_done, <, EPOCHS);
    g_assert_cmpint (epochs, ==, EPOCHS);
  }

  /* Reopened: Resume in its row continues it. */
  window = app_test_window_new (application);
  app_test_open_sample (window);
  training = graft_window_get_training (window);
  graft_window_show_page (window, "results");
  APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"))), 60);
  resume = find_resume_button (app_test_window_page (window, "results"), run_id);
  g_assert_nonnull (resume);
  app_test_save_shot (app_test_window_page (window, "results"), "resume-01-results-row.png");
  g_assert_true (gtk_widget_activate (resume));
  APP_TEST_WAIT_UNTIL (graft_training_is_busy (training), 10);
  g_assert_true (graft_training_is_busy (training));
  {
    /* The curves so far are on the Train page from the start. */
    GraftSeries *per_epoch = graft_training_get_series (training, "validation-accuracy");
    g_assert_cmpuint (graft_series_get_length (per_epoch), >=, (guint) epochs_done);
  }
  APP_TEST_WAIT_UNTIL (!graft_training_is_busy (training) && !graft_project_object_get_recording (app_test_window_project (window)), 180);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  app_test_save_shot (app_test_window_page (window, "train"), "resume-02-train-page.png");
  {
    GraftProject *project = graft_project_object_get_project (app_test_window_project (window));
    g_autoptr (GArray) accuracy = graft_project_get_metric_series (project, run_id, "validation-accuracy", NULL);
    g_autoptr (GArray) loss = graft_project_get_metric_series (project, run_id, "train-loss", NULL);
    GraftRun run = { 0 };
    g_assert_true (graft_project_get_run (project, run_id, &run, NULL));
    g_assert_cmpint (run.status, ==, GRAFT_RUN_FINISHED);
    g_assert_nonnull (strstr (run.metrics_json, "\"epochs_done\":4"));
    model_file = g_strdup (run.model_path);
    graft_run_clear (&run);
    /* One point per epoch, 1 to 4; the steps' curve goes on without a point twice. */
    g_assert_cmpuint (accuracy->len, ==, EPOCHS);
    for (guint i = 0; i < accuracy->len; i++)
      g_assert_cmpint (g_array_index (accuracy, GraftSeriesPoint, i).step, ==,
                       (gint64) (i + 1) * GRAFT_RUN_STEPS_PER_EPOCH);
    for (guint i = 1; i < loss->len; i++)
      g_assert_cmpint (g_array_index (loss, GraftSeriesPoint, i).step, >,
                       g_array_index (loss, GraftSeriesPoint, i - 1).step);
    g_assert_cmpint (g_array_index (loss, GraftSeriesPoint, loss->len - 1).step, ==,
                     (gint64) EPOCHS * GRAFT_RUN_STEPS_PER_EPOCH);
    g_assert_false (g_file_test (checkpoint, G_FILE_TEST_EXISTS)); /* finished: no checkpoint kept */
  }
  /* The run resumed and the run never interrupted: the same weights. */
  resumed = model_weights (model_file);
  g_assert_true (g_bytes_equal (expected, resumed));
  g_assert_null (find_resume_button (app_test_window_page (window, "results"), run_id));
  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (200);
}

static void
test_killed_cli_run (void)
{
  GraftApplication *application = shared_application ();
  g_autofree char *sample = graft_welcome_page_get_sample_folder ();
  const char *cli = g_getenv ("GRAFT_CLI");
  const char *argv[] = { cli, "train", sample, "--epochs", "3", "--threads", "2", "--json", NULL };
  g_autoptr (GError) error = NULL;
  GraftWindow *window;
  GraftTraining *training;
  GtkWidget *resume;
  GPid pid;
  int out_fd, wait_status;
  gboolean killed = FALSE;
  gint64 run_id;
  FILE *out;
  char *line = NULL;
  size_t size = 0;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("GRAFT_CLI is not set");
      return;
    }
  /* The sample as the app left it (the first test made it and its settings). */
  g_assert_true (g_file_test (sample, G_FILE_TEST_IS_DIR));
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD
                                           | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, NULL, &out_fd, NULL,
                                           &error));
  out = fdopen (out_fd, "r");
  while (getline (&line, &size, out) > 0)
    if (!killed && strstr (line, "\"event\":\"epoch\"") != NULL)
      {
        kill (pid, SIGKILL);
        killed = TRUE;
      }
  free (line);
  fclose (out);
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (killed && WIFSIGNALED (wait_status));
  {
    g_autoptr (GraftProject) project = graft_project_open (sample, &error);
    g_autoptr (GArray) runs = graft_project_list_runs (project, &error);
    g_assert_no_error (error);
    run_id = g_array_index (runs, GraftRun, 0).id;
    g_assert_cmpint (g_array_index (runs, GraftRun, 0).status, ==, GRAFT_RUN_RUNNING);
  }

  window = app_test_window_new (application);
  app_test_open_sample (window);
  training = graft_window_get_training (window);
  graft_window_show_page (window, "results");
  APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"))), 60);
  /* While another trainer holds the run (its lock, taken here), Resume is refused by name. */
  {
    GraftProjectObject *object = app_test_window_project (window);
    g_autoptr (GraftRunLock) lock = graft_run_lock (graft_project_object_get_project (object), run_id, &error);
    g_assert_no_error (error);
    g_assert_false (graft_project_object_resume_run (object, run_id, &error));
    g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_BUSY);
    g_assert_nonnull (strstr (error->message, "being trained by another process"));
    g_clear_error (&error);
    g_assert_false (graft_training_is_busy (training));
  }
  resume = find_resume_button (app_test_window_page (window, "results"), run_id);
  g_assert_nonnull (resume);
  g_assert_true (gtk_widget_activate (resume));
  APP_TEST_WAIT_UNTIL (graft_training_is_busy (training), 10);
  g_assert_true (graft_training_is_busy (training));
  APP_TEST_WAIT_UNTIL (!graft_training_is_busy (training) && !graft_project_object_get_recording (app_test_window_project (window)), 180);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  {
    GraftProject *project = graft_project_object_get_project (app_test_window_project (window));
    g_autoptr (GArray) accuracy = graft_project_get_metric_series (project, run_id, "validation-accuracy", NULL);
    /* Its time: the CLI's part (to its first epoch) and the app's. */
    g_autoptr (GArray) parts = graft_project_get_run_parts (project, run_id, NULL);
    g_assert_cmpuint (parts->len, ==, 2);
    g_assert_cmpint (g_array_index (parts, GraftRunPart, 0).epochs_done, ==, 1);
    g_assert_cmpint (g_array_index (parts, GraftRunPart, 1).from_epoch, ==, 1);
    g_assert_cmpint (g_array_index (parts, GraftRunPart, 1).epochs_done, ==, 3);
    GraftRun run = { 0 };
    g_assert_true (graft_project_get_run (project, run_id, &run, NULL));
    g_assert_cmpint (run.status, ==, GRAFT_RUN_FINISHED);
    g_assert_nonnull (strstr (run.metrics_json, "\"epochs_done\":3"));
    g_assert_true (g_file_test (run.model_path, G_FILE_TEST_IS_REGULAR));
    graft_run_clear (&run);
    g_assert_cmpuint (accuracy->len, ==, 3);
  }
  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (200);
}

int
main (int argc, char **argv)
{
  int status;

  if (!app_test_init_with_samples (&argc, &argv, "graft-resume-XXXXXX", &home))
    return 0;

  g_test_add_func ("/app/resume/close-reopen-resume", test_close_reopen_resume);
  g_test_add_func ("/app/resume/killed-cli-run", test_killed_cli_run);
  status = g_test_run ();

  g_clear_object (&application_instance);
  test_remove_tree (home);
  g_free (home);
  return status;
}
