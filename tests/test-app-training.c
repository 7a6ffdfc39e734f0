/* The app's training object: the run goes on in a worker while the main loop stays
 * responsive, the series grow, pause/stop work, and the result is there at the end. */
#include <glib.h>
#include <math.h>

#include "engine/parallel.h"
#include "graft-training.h"
#include "toy-images.h"
#include "toy-network.h"
#include "gradcheck.h"

static char *folder;

typedef struct {
  GMainLoop *loop;
  gint64 last_tick;
  gint64 worst_gap;
  int ticks;
  int epochs_seen;
  gboolean finished;
  GError *error;
  GraftTraining *training;
  int pause_at_epoch;
  gboolean paused_once;
  guint steps_per_epoch;      /* when set, checked at every ::epoch-finished */
  guint loss_points_at_finish;
  guint lr_finder_points_at_finish;
} Watch;

static gboolean
tick (gpointer user_data)
{
  Watch *w = user_data;
  gint64 now = g_get_monotonic_time ();
  if (w->last_tick > 0)
    w->worst_gap = MAX (w->worst_gap, now - w->last_tick);
  w->last_tick = now;
  w->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
resume_later (gpointer user_data)
{
  Watch *w = user_data;
  g_assert_cmpint (graft_training_get_state (w->training), ==, GRAFT_TRAINING_PAUSED);
  graft_training_resume (w->training);
  return G_SOURCE_REMOVE;
}

static void
on_epoch (GraftTraining *training, int epoch, gboolean best, Watch *w)
{
  w->epochs_seen++;
  g_assert_cmpint (epoch, ==, w->epochs_seen);
  /* Every step of the epoch is in the series when it is signalled. */
  if (w->steps_per_epoch > 0)
    g_assert_cmpuint (graft_series_get_length (graft_training_get_series (training, "train-loss")), ==,
                      (guint) epoch * w->steps_per_epoch);
  if (epoch == w->pause_at_epoch && !w->paused_once)
    {
      w->paused_once = TRUE;
      graft_training_pause (training);
      g_timeout_add (200, resume_later, w);
    }
}

static void
on_finished (GraftTraining *training, GError *error, Watch *w)
{
  w->finished = TRUE;
  w->loss_points_at_finish = graft_series_get_length (graft_training_get_series (training, "train-loss"));
  w->lr_finder_points_at_finish = graft_series_get_length (graft_training_get_series (training, "lr-finder"));
  if (error != NULL)
    w->error = g_error_copy (error);
  g_main_loop_quit (w->loop);
}

static void
load (GraftDataset **train, GraftDataset **validation)
{
  g_autofree char *t = g_build_filename (folder, "train", NULL);
  g_autofree char *v = g_build_filename (folder, "val", NULL);
  *train = graft_dataset_load_image_folder (t, NULL, NULL);
  *validation = graft_dataset_load_image_folder (v, (*train)->classes, NULL);
  g_assert_nonnull (*train);
  g_assert_nonnull (*validation);
}

/* Every gap between two ticks of a 10 ms timer stays under 50 ms while a full
 * fine-tuning run trains in the worker. */
static void
test_main_loop_stays_responsive (void)
{
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, model);
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GError) error = NULL;
  Watch w = { .loop = g_main_loop_new (NULL, FALSE), .training = training, .pause_at_epoch = 2,
              .steps_per_epoch = 6 };
  guint timer;
  GraftSeries *loss, *accuracy;

  load (&train, &validation);
  toy_preprocessing (spec);
  spec->epochs = 300;
  g_signal_connect (training, "epoch-finished", G_CALLBACK (on_epoch), &w);
  g_signal_connect (training, "finished", G_CALLBACK (on_finished), &w);
  timer = g_timeout_add (10, tick, &w);
  g_assert_true (graft_training_start (training, model, spec, train, validation, NULL, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_RUNNING);
  /* A second start while busy is refused. */
  g_assert_false (graft_training_start (training, model, spec, train, validation, NULL, FALSE, &error));
  g_clear_error (&error);
  g_main_loop_run (w.loop);
  g_source_remove (timer);

  g_test_message ("%d ticks, worst main-loop gap %.1f ms", w.ticks, w.worst_gap / 1000.0);
  g_assert_true (w.finished);
  g_assert_no_error (w.error);
  g_assert_true (w.paused_once);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  g_assert_cmpint (w.epochs_seen, ==, 300);
  g_assert_cmpint (w.worst_gap, <, 50000);
  loss = graft_training_get_series (training, "train-loss");
  accuracy = graft_training_get_series (training, "validation-accuracy");
  g_assert_cmpuint (graft_series_get_length (loss), ==, 300 * 6);
  /* ... and were all there when ::finished came. */
  g_assert_cmpuint (w.loss_points_at_finish, ==, 300 * 6);
  g_assert_cmpuint (graft_series_get_length (accuracy), ==, 300);
  g_assert_cmpfloat (graft_series_get_x (loss)[graft_series_get_length (loss) - 1], ==, 300.0);
  g_assert_nonnull (graft_training_get_model (training));
  g_assert_nonnull (graft_training_get_validation_metrics (training));
  g_assert_cmpfloat (graft_training_get_fraction (training), ==, 1.0);
  g_main_loop_unref (w.loop);
}

static void
test_stop (void)
{
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, model);
  g_autoptr (GraftTraining) training = graft_training_new ();
  Watch w = { .loop = g_main_loop_new (NULL, FALSE), .training = training };

  load (&train, &validation);
  toy_preprocessing (spec);
  spec->epochs = 500;
  g_signal_connect (training, "finished", G_CALLBACK (on_finished), &w);
  g_assert_true (graft_training_start (training, model, spec, train, validation, NULL, FALSE, NULL));
  graft_training_stop (training);
  g_main_loop_run (w.loop);
  g_assert_true (w.finished);
  g_assert_no_error (w.error);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  g_assert_cmpint (graft_training_get_epoch (training), <, 500);
  g_main_loop_unref (w.loop);
}

static void
test_lr_finder (void)
{
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, model);
  g_autoptr (GraftTraining) training = graft_training_new ();
  Watch w = { .loop = g_main_loop_new (NULL, FALSE), .training = training };

  load (&train, &validation);
  toy_preprocessing (spec);
  g_signal_connect (training, "finished", G_CALLBACK (on_finished), &w);
  g_assert_true (graft_training_start (training, model, spec, train, validation, NULL, TRUE, NULL));
  g_main_loop_run (w.loop);
  g_assert_no_error (w.error);
  g_assert_cmpuint (graft_series_get_length (graft_training_get_series (training, "lr-finder")), >, 10);
  /* The curve is in its series when ::finished comes. */
  g_assert_cmpuint (w.lr_finder_points_at_finish, ==,
                    graft_series_get_length (graft_training_get_series (training, "lr-finder")));
  g_assert_cmpfloat (graft_training_get_lr_suggestion (training), >, 0);
  g_main_loop_unref (w.loop);
}

/* A run that cannot converge ends in FAILED with the trainer's message. */
static void
test_failure (void)
{
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, model);
  g_autoptr (GraftTraining) training = graft_training_new ();
  Watch w = { .loop = g_main_loop_new (NULL, FALSE), .training = training };

  load (&train, &validation);
  toy_preprocessing (spec);
  spec->optimizer = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  spec->optimizer.learning_rate = 1e30f;
  spec->schedule.kind = GRAFT_SCHEDULE_CONSTANT;
  g_signal_connect (training, "finished", G_CALLBACK (on_finished), &w);
  g_assert_true (graft_training_start (training, model, spec, train, validation, NULL, FALSE, NULL));
  g_main_loop_run (w.loop);
  g_assert_nonnull (w.error);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FAILED);
  g_clear_error (&w.error);
  g_main_loop_unref (w.loop);
}

int
main (int argc, char **argv)
{
  int status;
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (2);
  folder = toy_image_folder_new (96, 48, FALSE);
  g_test_add_func ("/app/training/main-loop-stays-responsive", test_main_loop_stays_responsive);
  g_test_add_func ("/app/training/stop", test_stop);
  g_test_add_func ("/app/training/lr-finder", test_lr_finder);
  g_test_add_func ("/app/training/failure", test_failure);
  status = g_test_run ();
  test_remove_tree (folder);
  g_free (folder);
  return status;
}
