/* The Train page on a real run: a session with the toy model (saved as ONNX and
 * loaded back), the toy ImageFolder, a GraftTraining; start from the page's action,
 * watch the plots fill and the progress reach the last epoch, pause and resume, run
 * the LR finder and use its suggestion, stop a run, and show a failure. Screenshots
 * mid-run and at the end, light and dark, go to GRAFT_SHOTS when it names a folder.
 *
 * Run under a display: xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- meson test app-train-page */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>

#include "app-test-helpers.h"
#include "engine/parallel.h"
#include "graft-application.h"
#include "graft-train-page.h"
#include "toy-images.h"
#include "toy-network.h"
#include "gradcheck.h"

static char *folder;
static char *model_path;
static char *cache_folder;

/* The toy session, with extra and extra_validation (file paths, or NULL) labelled as
 * the first class in the training and the validation images. */
static GraftSession *
toy_session_with (const char *extra, const char *extra_validation)
{
  GraftSession *session = graft_session_new ();
  g_autofree char *t = g_build_filename (folder, "train", NULL);
  g_autofree char *v = g_build_filename (folder, "val", NULL);
  g_autoptr (GError) error = NULL;
  GraftDataset *train, *validation;

  g_assert_true (graft_session_load_model (session, model_path, &error));
  g_assert_no_error (error);
  train = graft_dataset_load_image_folder (t, NULL, &error);
  g_assert_no_error (error);
  validation = graft_dataset_load_image_folder (v, train->classes, &error);
  g_assert_no_error (error);
  if (extra != NULL)
    graft_dataset_add (train, extra, 0);
  if (extra_validation != NULL)
    graft_dataset_add (validation, extra_validation, 0);
  graft_session_set_datasets (session, train, validation);
  graft_session_set_cache_folder (session, cache_folder);
  toy_preprocessing (graft_session_get_spec (session));
  graft_session_spec_changed (session);
  return session;
}

static GraftSession *
toy_session (void)
{
  return toy_session_with (NULL, NULL);
}

static GtkWidget *
child (GtkWidget *page, const char *name)
{
  GObject *object = gtk_widget_get_template_child (page, GRAFT_TYPE_TRAIN_PAGE, name);
  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static gboolean
action_enabled (GtkWidget *page, const char *button)
{
  /* A button with an action is sensitive exactly when its action is enabled. */
  return gtk_widget_get_sensitive (child (page, button));
}

static void
record_toast (GraftTrainPage *page, const char *message, GPtrArray *toasts)
{
  g_test_message ("toast: %s", message);
  g_ptr_array_add (toasts, g_strdup (message));
}

static gboolean
wait_until_idle (GraftTraining *training, int seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  while (graft_training_is_busy (training) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  app_test_iterate_for (50);
  return !graft_training_is_busy (training);
}

static const char *
last_toast (GPtrArray *toasts)
{
  return toasts->len > 0 ? g_ptr_array_index (toasts, toasts->len - 1) : "";
}

/* Without a model or labelled images, the page says what is missing and cannot start. */
static void
test_missing (void)
{
  g_autoptr (GraftSession) session = graft_session_new ();
  g_autoptr (GraftTraining) training = graft_training_new ();
  GtkWidget *page = graft_train_page_new (session, training);
  GtkWidget *window = app_test_show_in_window (page, 900, 700);
  const char *description;

  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (child (page, "stack"))), ==, "missing");
  description = adw_status_page_get_description (ADW_STATUS_PAGE (child (page, "missing_page")));
  g_assert_nonnull (strstr (description, "model"));
  g_assert_nonnull (strstr (description, "Label"));
  g_assert_false (action_enabled (page, "start_button"));
  app_test_save_light_and_dark (window, "train-page-missing");

  /* With the model and the images it becomes ready. */
  g_object_unref (session);
  session = toy_session ();
  graft_train_page_set_session (GRAFT_TRAIN_PAGE (page), session);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (child (page, "stack"))), ==, "ready");
  g_assert_true (action_enabled (page, "start_button"));
  g_assert_false (action_enabled (page, "stop_button"));
  g_assert_false (action_enabled (page, "pause_button"));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_run (void)
{
  g_autoptr (GraftSession) session = toy_session ();
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GPtrArray) toasts = g_ptr_array_new_with_free_func (g_free);
  GraftSessionSpec *spec = graft_session_get_spec (session);
  GtkWidget *page = graft_train_page_new (session, training);
  GtkWidget *window = app_test_show_in_window (page, 1100, 1280);
  GraftPlot *loss = graft_train_page_get_plot (GRAFT_TRAIN_PAGE (page), "loss");
  GraftPlot *accuracy = graft_train_page_get_plot (GRAFT_TRAIN_PAGE (page), "accuracy");
  GraftPlot *lr = graft_train_page_get_plot (GRAFT_TRAIN_PAGE (page), "lr");
  GraftPlot *finder = graft_train_page_get_plot (GRAFT_TRAIN_PAGE (page), "lr-finder");
  g_autofree char *expected = NULL;
  float suggestion;
  gint64 deadline;

  /* Fine-tuning, long enough to look at mid-run (the toy trains about 300 epochs a second). */
  graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
  spec = graft_session_get_spec (session);
  toy_preprocessing (spec);
  spec->epochs = 600;
  graft_session_spec_changed (session);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "strategy_label"))), ==, "Fine-Tuning");
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (child (page, "plan_label"))), "600 epochs"));
  g_signal_connect (page, "toast", G_CALLBACK (record_toast), toasts);

  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  g_assert_true (graft_training_is_busy (training));
  app_test_iterate_for (20);
  g_assert_false (action_enabled (page, "start_button"));
  g_assert_true (action_enabled (page, "stop_button"));
  g_assert_true (action_enabled (page, "pause_button"));
  g_assert_false (action_enabled (page, "find_lr_button"));

  /* Pause and resume from the page. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (graft_training_get_epoch (training) < 3 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (gtk_widget_activate_action (page, "train.pause", NULL));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_PAUSED);
  app_test_iterate_for (50);
  g_assert_cmpstr (gtk_widget_get_tooltip_text (child (page, "pause_button")), ==, "Resume");
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), "Paused at epoch"));
  g_assert_true (gtk_widget_activate_action (page, "train.pause", NULL));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_RUNNING);

  /* Mid-run, as it runs. */
  while (graft_training_get_epoch (training) < spec->epochs / 4 && graft_training_is_busy (training))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (graft_training_is_busy (training));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), "Epoch "));
  app_test_save_light_and_dark (window, "train-page-running");

  g_assert_true (wait_until_idle (training, 240));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);

  /* The plots have the run's series, full. */
  g_assert_cmpuint (graft_plot_get_n_series (loss), ==, 3);
  g_assert_cmpuint (graft_plot_get_n_series (accuracy), ==, 2);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (graft_series_get_length (graft_plot_get_series (loss, i)), >=, (guint) spec->epochs);
  g_assert_cmpuint (graft_series_get_length (graft_plot_get_series (accuracy, 1)), ==, (guint) spec->epochs);
  g_assert_cmpuint (graft_series_get_length (graft_plot_get_series (lr, 0)), >, (guint) spec->epochs);
  {
    guint n;
    const float *path = graft_plot_get_path (loss, 0, &n);
    g_assert_nonnull (path);
    g_assert_cmpuint (n, >, 10);
  }
  /* The progress shows the last epoch, and a toast says how it went. */
  expected = g_strdup_printf ("Finished %d epochs", spec->epochs);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), ==, expected);
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (child (page, "progress_bar"))), ==, 1.0);
  g_assert_cmpint (graft_training_get_epoch (training), ==, spec->epochs);
  g_assert_true (g_str_has_prefix (last_toast (toasts), "Training finished: "));
  g_assert_true (g_str_has_suffix (last_toast (toasts), "% validation accuracy"));
  g_assert_true (action_enabled (page, "start_button"));
  g_assert_false (action_enabled (page, "stop_button"));

  /* The LR finder: its curve, the suggestion marked, and a button that uses it. */
  g_assert_true (gtk_widget_activate_action (page, "train.find-lr", NULL));
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (child (page, "lr_finder_revealer"))));
  g_assert_false (action_enabled (page, "pause_button"));
  g_assert_true (wait_until_idle (training, 120));
  g_assert_cmpuint (graft_series_get_length (graft_plot_get_series (finder, 0)), >, 10);
  suggestion = graft_training_get_lr_suggestion (training);
  g_assert_cmpfloat (suggestion, >, 0);
  g_assert_true (gtk_widget_get_visible (child (page, "use_lr_button")));
  g_assert_true (g_str_has_prefix (gtk_button_get_label (GTK_BUTTON (child (page, "use_lr_button"))), "_Use "));
  g_assert_true (g_str_has_prefix (last_toast (toasts), "Suggested learning rate: "));
  /* The epoch curves stay as they were. */
  g_assert_cmpuint (graft_series_get_length (graft_plot_get_series (accuracy, 1)), ==, (guint) spec->epochs);
  app_test_iterate_for (400); /* the revealer's animation */
  app_test_save_light_and_dark (window, "train-page");
  g_assert_true (gtk_widget_activate_action (page, "train.use-suggested-lr", NULL));
  g_assert_cmpfloat (graft_session_get_spec (session)->optimizer.learning_rate, ==, suggestion);
  g_assert_true (g_str_has_prefix (last_toast (toasts), "Learning rate set to "));
  {
    g_autofree char *lr_text = graft_format_learning_rate (suggestion);
    g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (child (page, "optimizer_label"))), lr_text));
  }

  /* Stop a run: it ends as stopped, with what it learnt so far. */
  spec = graft_session_get_spec (session);
  spec->epochs = 2000;
  graft_session_spec_changed (session);
  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (graft_training_get_epoch (training) < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (gtk_widget_activate_action (page, "train.stop", NULL));
  g_assert_true (wait_until_idle (training, 60));
  g_assert_cmpstr (last_toast (toasts), ==, "Training stopped");
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), "Stopped after "));

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Where a widget is in its window. */
static graphene_rect_t
bounds_in_window (GtkWidget *widget)
{
  graphene_rect_t bounds;
  g_assert_true (gtk_widget_compute_bounds (widget, GTK_WIDGET (gtk_widget_get_root (widget)), &bounds));
  return bounds;
}

static void
record_fraction (GraftTraining *training, GParamSpec *pspec, GArray *fractions)
{
  double fraction = graft_training_get_fraction (training);
  g_array_append_val (fractions, fraction);
}

/* After a run, another plan: the page no longer shows the run's status under it, and the
 * main button's label changes without moving Pause and Stop. The learning-rate finder's
 * bar moves step by step, and its result is scrolled into view. */
static void
test_plan_change (void)
{
  g_autoptr (GraftSession) session = toy_session ();
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GArray) fractions = g_array_new (FALSE, FALSE, sizeof (double));
  GraftSessionSpec *spec;
  GtkWidget *page = graft_train_page_new (session, training);
  GtkWidget *window = app_test_show_in_window (page, 1000, 600);
  GtkStack *label_stack = GTK_STACK (child (page, "start_label_stack"));
  GtkAdjustment *vadjustment;
  graphene_rect_t pause_ready, pause_after, stop_after, finder, view;
  guint moving = 0;

  graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
  spec = graft_session_get_spec (session);
  toy_preprocessing (spec);
  spec->epochs = 5;
  graft_session_spec_changed (session);
  app_test_iterate_for (50);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (label_stack), ==, "start");
  pause_ready = bounds_in_window (child (page, "pause_button"));

  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  g_assert_true (wait_until_idle (training, 60));
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), ==, "Finished 5 epochs");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (label_stack), ==, "again");
  app_test_iterate_for (50);
  pause_after = bounds_in_window (child (page, "pause_button"));
  stop_after = bounds_in_window (child (page, "stop_button"));
  /* "Train Again" is narrower than "Start Training": the buttons beside it stay put. */
  g_assert_cmpfloat (pause_after.origin.x, ==, pause_ready.origin.x);
  g_assert_cmpfloat (pause_after.size.width, ==, pause_ready.size.width);

  /* Another plan: the last run's epochs and accuracy no longer show under it. */
  spec->epochs = 7;
  graft_session_spec_changed (session);
  app_test_iterate_for (50);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), ==, "Ready to train");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "progress_detail"))), ==, "");
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (child (page, "progress_bar"))), ==, 0);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (label_stack), ==, "start");
  g_assert_cmpfloat (bounds_in_window (child (page, "stop_button")).origin.x, ==, stop_after.origin.x);

  /* The finder: its bar follows its steps (not a pulse), and it ends in view. */
  g_signal_connect (training, "notify::fraction", G_CALLBACK (record_fraction), fractions);
  g_assert_true (gtk_widget_activate_action (page, "train.find-lr", NULL));
  g_assert_true (wait_until_idle (training, 120));
  g_signal_handlers_disconnect_by_func (training, record_fraction, fractions);
  for (guint i = 0; i < fractions->len; i++)
    if (g_array_index (fractions, double, i) > 0 && g_array_index (fractions, double, i) < 1)
      moving++;
  g_test_message ("%u fractions between 0 and 1 of %u", moving, fractions->len);
  /* Steps are drained in batches, but the bar moves before the end; it went from 0 to 1
   * at once before. On a busy machine the worker may finish the sweep before the main
   * loop drains twice: only the last step's drain and the end's can read 1, so from three
   * notifications on, one of them must be a step before the last. */
  if (fractions->len >= 3)
    g_assert_cmpuint (moving, >=, 1);
  else
    g_test_message ("the sweep came in %u batches: the bar's motion cannot be seen", fractions->len);
  app_test_iterate_for (500); /* the revealer's animation */
  vadjustment = gtk_scrolled_window_get_vadjustment (
    GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (child (page, "lr_finder_revealer"), GTK_TYPE_SCROLLED_WINDOW)));
  g_assert_cmpfloat (gtk_adjustment_get_value (vadjustment), >, 0);
  finder = bounds_in_window (child (page, "lr_suggestion_label"));
  view = bounds_in_window (gtk_widget_get_ancestor (child (page, "lr_finder_revealer"), GTK_TYPE_SCROLLED_WINDOW));
  g_assert_cmpfloat (finder.origin.y, >=, view.origin.y);
  g_assert_cmpfloat (finder.origin.y + finder.size.height, <=, view.origin.y + view.size.height + 0.5);
  app_test_save_light_and_dark (window, "train-page-lr-finder-in-view");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A run that diverges: the message shows in the page and in a toast. */
static void
test_failure (void)
{
  g_autoptr (GraftSession) session = toy_session ();
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GPtrArray) toasts = g_ptr_array_new_with_free_func (g_free);
  GraftSessionSpec *spec = graft_session_get_spec (session);
  GtkWidget *page = graft_train_page_new (session, training);
  GtkWidget *window = app_test_show_in_window (page, 1100, 800);

  spec->strategy = GRAFT_STRATEGY_CUSTOM;
  spec->optimizer = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  spec->optimizer.learning_rate = 1e30f;
  spec->schedule.kind = GRAFT_SCHEDULE_CONSTANT;
  graft_session_spec_changed (session);
  g_signal_connect (page, "toast", G_CALLBACK (record_toast), toasts);
  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  g_assert_true (wait_until_idle (training, 60));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FAILED);
  g_assert_true (gtk_widget_get_visible (child (page, "error_box")));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page, "error_label"))), "Training diverged"));
  g_assert_cmpstr (last_toast (toasts), ==, "Training failed");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page, "progress_title"))), ==, "Training failed");
  app_test_save_light_and_dark (window, "train-page-failed");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A run of the page on the sample (starter model, its train and validation images) and
 * the boundary cache's report of it, after checking that the page shows it. */
static void
run_sample (GtkWidget *page, GraftTraining *training, GraftBoundaryCacheReport *report)
{
  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  g_assert_true (wait_until_idle (training, 300));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  g_assert_true (graft_training_get_boundary_cache_report (training, report));
  g_assert_true (gtk_widget_get_visible (child (page, "cache_label")));
  g_test_message ("cache: %s", gtk_label_get_label (GTK_LABEL (child (page, "cache_label"))));
}

/* The boundary cache in the app: fine-tuning the sample with frozen lower blocks for 2
 * epochs, the page says whether the frozen layers ran once per image and how many images
 * came from the cache; the run keeps to the "cache-size-mb" setting (0: no limit). */
static void
test_boundary_cache (void)
{
  g_autofree char *sample = g_test_build_filename (G_TEST_DIST, "..", "data", NULL);
  g_autofree char *starter = g_build_filename (sample, "models", "graft-starter.onnx", NULL);
  g_autofree char *t = g_build_filename (sample, "samples", "train", NULL);
  g_autofree char *v = g_build_filename (sample, "samples", "validation", NULL);
  g_autofree char *cache = g_build_filename (cache_folder, "boundary", NULL);
  g_autoptr (GSettings) settings = graft_application_new_settings ();
  g_autoptr (GraftSession) session = NULL;
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GError) error = NULL;
  GraftBoundaryCacheReport report;
  GraftSessionSpec *spec;
  GraftDataset *train, *validation;
  GtkWidget *page, *window;
  const char *text;
  guint images;

  if (!g_file_test (starter, G_FILE_TEST_IS_REGULAR) || !g_file_test (t, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no sample in the source tree");
      return;
    }
  g_assert_nonnull (settings);
  session = graft_session_new ();
  g_assert_true (graft_session_load_model (session, starter, &error));
  g_assert_no_error (error);
  train = graft_dataset_load_image_folder (t, NULL, &error);
  g_assert_no_error (error);
  validation = graft_dataset_load_image_folder (v, train->classes, &error);
  g_assert_no_error (error);
  images = train->items->len + validation->items->len;
  graft_session_set_datasets (session, train, validation);
  graft_session_set_cache_folder (session, cache);
  graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
  spec = graft_session_get_spec (session);
  spec->epochs = 2;
  graft_augmentation_init_none (&spec->augmentation);
  graft_session_spec_changed (session);
  page = graft_train_page_new (session, training);
  window = app_test_show_in_window (page, 1100, 900);
  g_assert_false (gtk_widget_get_visible (child (page, "cache_label")));

  /* A limit of 1 MiB is less than the activations take: the frozen layers run every
   * epoch, and the page says why. */
  g_settings_set_int (settings, "cache-size-mb", 1);
  run_sample (page, training, &report);
  g_assert_false (report.used);
  text = gtk_label_get_label (GTK_LABEL (child (page, "cache_label")));
  g_assert_true (g_str_has_prefix (text, "Frozen layers run every epoch: "));
  {
    g_autofree char *limit = g_format_size (1 << 20);
    g_autofree char *expected = g_strdup_printf ("limit of %s", limit);
    g_assert_nonnull (strstr (text, expected));
  }

  /* 0 means no limit (never "never cache"): the frozen layers run once per image, in the
   * first epoch; the second reads every image from the cache. */
  g_settings_set_int (settings, "cache-size-mb", 0);
  run_sample (page, training, &report);
  g_assert_true (report.used);
  g_assert_cmpuint (report.images_computed, ==, images);
  g_assert_cmpuint (report.images_found, ==, 0);
  g_assert_cmpuint (report.hits, ==, images);
  {
    g_autofree char *counts = g_strdup_printf ("%'u of %'u images from the cache", images, 2 * images);
    text = gtk_label_get_label (GTK_LABEL (child (page, "cache_label")));
    g_assert_true (g_str_has_prefix (text, "Frozen layers up to "));
    /* The boundary is named by its block, as the Model page names it. */
    g_assert_nonnull (strstr (text, "up to layer3.0 run"));
    g_assert_nonnull (strstr (text, counts));
  }

  /* Again, under the default limit: every image comes from the cache folder. */
  g_settings_reset (settings, "cache-size-mb");
  run_sample (page, training, &report);
  g_assert_true (report.used);
  g_assert_cmpuint (report.images_found, ==, images);
  g_assert_cmpuint (report.images_computed, ==, 0);
  g_assert_cmpuint (report.hits, ==, 2 * images);
  {
    g_autofree char *counts = g_strdup_printf ("%'u of %'u images from the cache", 2 * images, 2 * images);
    g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (child (page, "cache_label"))), counts));
  }
  /* The trainer's start-of-run line says the same with the ONNX value's name: it goes. */
  g_assert_false (gtk_widget_get_visible (child (page, "message_label")));
  app_test_save_light_and_dark (window, "train-page-boundary-cache");

  /* A new run hides what the last one said until it ends. */
  spec->epochs = 2000;
  graft_session_spec_changed (session);
  g_assert_true (gtk_widget_activate_action (page, "train.start", NULL));
  app_test_iterate_for (20);
  g_assert_false (gtk_widget_get_visible (child (page, "cache_label")));
  g_assert_true (gtk_widget_activate_action (page, "train.stop", NULL));
  g_assert_true (wait_until_idle (training, 60));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Images that cannot be decoded (PNGs cut short) are dropped by training and by the
 * validation: the summary counts what is used ("96 of 97 training images (1 cannot be
 * read), 48 of 49 for validation (1 cannot be read)", it said "97 training images, 49
 * for validation") and names the files in its tooltip. */
static void
test_unreadable (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("graft-unreadable-XXXXXX", &error);
  g_autofree char *cut = g_build_filename (tmp, "cut.png", NULL);
  g_autofree char *cut_validation = g_build_filename (tmp, "cut-validation.png", NULL);
  g_autoptr (GraftSession) session = NULL;
  g_autoptr (GraftTraining) training = graft_training_new ();
  GtkWidget *page, *window, *label;
  GraftDataset *train;
  g_autofree char *contents = NULL;
  g_autofree char *expected = NULL;
  const char *tooltip;
  gsize length;
  guint n, n_validation;

  g_assert_no_error (error);
  session = toy_session ();
  train = graft_session_get_train_dataset (session);
  g_assert_true (g_file_get_contents (g_array_index (train->items, GraftDatasetItem, 0).path, &contents, &length,
                                      &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (cut, contents, (gssize) (length * 2 / 3), &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (cut_validation, contents, (gssize) (length / 2), &error));
  g_assert_no_error (error);
  g_clear_object (&session);
  session = toy_session_with (cut, cut_validation);
  n = graft_session_get_train_dataset (session)->items->len;
  n_validation = graft_session_get_validation_dataset (session)->items->len;

  page = graft_train_page_new (session, training);
  window = app_test_show_in_window (page, 900, 700);
  label = child (page, "data_label");
  APP_TEST_WAIT_UNTIL (strstr (gtk_label_get_label (GTK_LABEL (label)), " of ") != NULL
                         && strstr (strstr (gtk_label_get_label (GTK_LABEL (label)), " of ") + 1, " of ") != NULL,
                       30);
  g_test_message ("%s", gtk_label_get_label (GTK_LABEL (label)));
  expected = g_strdup_printf ("%u of %u training images (1 cannot be read), %u of %u for validation (1 cannot be "
                              "read), ",
                              n - 1, n, n_validation - 1, n_validation);
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (label)), expected));
  tooltip = gtk_widget_get_tooltip_text (label);
  g_assert_nonnull (tooltip);
  g_test_message ("tooltip: %s", tooltip);
  g_assert_nonnull (strstr (tooltip, "cut.png"));
  g_assert_nonnull (strstr (tooltip, "Validation leaves out"));
  g_assert_nonnull (strstr (tooltip, "cut-validation.png"));
  g_assert_true (strstr (tooltip, "cut.png") < strstr (tooltip, "Validation leaves out"));
  app_test_save_light_and_dark (window, "train-page-unreadable");

  /* Without them, every image is used and the tooltip goes. */
  graft_train_page_set_session (GRAFT_TRAIN_PAGE (page), NULL);
  g_clear_object (&session);
  session = toy_session ();
  graft_train_page_set_session (GRAFT_TRAIN_PAGE (page), session);
  app_test_iterate_for (200);
  g_free (expected);
  expected = g_strdup_printf ("%u training images, %u for validation, ", n - 1, n_validation - 1);
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (label)), expected));
  g_assert_null (gtk_widget_get_tooltip_text (label));
  gtk_window_destroy (GTK_WINDOW (window));
  test_remove_tree (tmp);
}

static void
test_words (void)
{
  g_autofree char *a = graft_format_time_left (20);
  g_autofree char *b = graft_format_time_left (125);
  g_autofree char *c = graft_format_time_left (2 * 3600 + 5 * 60);
  g_autofree char *d = graft_format_learning_rate (3e-3);
  g_autofree char *e = graft_format_learning_rate (0.00099999);
  g_autofree char *f = graft_format_time_left (0);

  g_assert_cmpstr (a, ==, "less than a minute left");
  g_assert_cmpstr (b, ==, "about 2 min left");
  g_assert_cmpstr (c, ==, "about 2 h 5 min left");
  g_assert_cmpstr (d, ==, "3.0e-3");
  g_assert_cmpstr (e, ==, "1.0e-3");
  g_assert_null (f);
}

int
main (int argc, char **argv)
{
  int status;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = NULL;

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  graft_set_num_threads (2);
  folder = toy_image_folder_new (96, 48, FALSE);
  tmp = g_dir_make_tmp ("graft-train-page-XXXXXX", &error);
  g_assert_no_error (error);
  model_path = g_build_filename (tmp, "toy.onnx", NULL);
  cache_folder = g_build_filename (tmp, "cache", NULL);
  model = toy_pretrained_model ();
  g_assert_true (graft_model_save (model, model_path, NULL, &error));
  g_assert_no_error (error);

  g_test_add_func ("/app/train-page/words", test_words);
  g_test_add_func ("/app/train-page/missing", test_missing);
  g_test_add_func ("/app/train-page/run", test_run);
  g_test_add_func ("/app/train-page/plan-change", test_plan_change);
  g_test_add_func ("/app/train-page/failure", test_failure);
  g_test_add_func ("/app/train-page/boundary-cache", test_boundary_cache);
  g_test_add_func ("/app/train-page/unreadable", test_unreadable);
  status = g_test_run ();
  test_remove_tree (folder);
  test_remove_tree (tmp);
  g_free (folder);
  g_free (model_path);
  g_free (cache_folder);
  return status;
}
