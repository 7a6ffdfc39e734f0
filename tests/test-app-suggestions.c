/* Suggestions after a run, through the app: the real GraftWindow of a registered
 * GraftApplication, under Xvfb, on the bundled sample project (made in a private
 * XDG_DATA_HOME from GRAFT_DATA_DIR, the source tree's data folder, which is only read).
 *
 *   /app/suggestions/after-run   train the sample: its unlabelled images are suggested
 *                                (the Data page's Suggested count and filter), each
 *                                prediction stored with its embedding; Label Next shows
 *                                the first image of the active-learning queue (uncertainty
 *                                with diversity over the embeddings) with its suggestion
 *                                chip; labelling it counts "1 labelled this session" at
 *                                once (the count was one behind)
 *
 * Run under a display: dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" meson test app-suggestions */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-helpers.h"
#include "engine/parallel.h"
#include "gradcheck.h"
#include "graft-application.h"
#include "graft-data-page.h"
#include "graft-label-next.h"
#include "graft-results-page.h"
#include "graft-train-page.h"
#include "graft-window.h"
#include "project/active.h"

static char *home;   /* private XDG folders */



static void
test_after_run (void)
{
  g_autoptr (GraftApplication) application = app_test_application_new ();
  g_autoptr (GError) error = NULL;
  GraftWindow *window = app_test_window_new (application);
  GraftSession *session;
  GraftTraining *training;
  GraftProjectObject *project;
  GraftDataPage *data_page;
  GraftLabelNext *label_next;
  GraftImageQuery unlabelled_query = { .filter = GRAFT_FILTER_UNLABELLED };
  guint unlabelled, suggested;
  gint64 shown;

  app_test_open_sample (window);
  project = app_test_window_project (window);
  session = graft_window_get_session (window);
  training = graft_window_get_training (window);
  g_assert_nonnull (project);
  g_assert_nonnull (graft_session_get_model (session));
  unlabelled = graft_project_count_images (graft_project_object_get_project (project), &unlabelled_query, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unlabelled, >, 0);
  /* Nothing suggested before a model has been trained. */
  g_assert_cmpuint (graft_project_object_count_images (project, GRAFT_FILTER_SUGGESTED, 0), ==, 0);

  /* Train on the Train page. */
  graft_session_get_spec (session)->epochs = 3;
  graft_session_spec_changed (session);
  graft_window_show_page (window, "train");
  app_test_iterate_for (300);
  g_assert_true (gtk_widget_activate (app_test_template_child (app_test_window_page (window, "train"), GRAFT_TYPE_TRAIN_PAGE,
                                                               "start_button")));
  APP_TEST_WAIT_UNTIL (graft_training_is_busy (training), 10);
  APP_TEST_WAIT_UNTIL (!graft_training_is_busy (training) && !graft_project_object_get_recording (project), 180);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  g_assert_false (graft_project_object_get_recording (project));
  app_test_iterate_for (300);

  /* Every unlabelled image is suggested, and the Suggested filter lists them. */
  suggested = graft_project_object_count_images (project, GRAFT_FILTER_SUGGESTED, 0);
  g_test_message ("%u of %u unlabelled images suggested", suggested, unlabelled);
  g_assert_cmpuint (suggested, ==, unlabelled);
  data_page = GRAFT_DATA_PAGE (app_test_window_page (window, "data"));
  graft_window_show_page (window, "data");
  graft_data_page_set_filter (data_page, GRAFT_FILTER_SUGGESTED, 0);
  app_test_iterate_for (300);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (graft_data_page_get_selection (data_page))), ==,
                    suggested);
  app_test_save_shot (GTK_WIDGET (window), "suggestions-01-suggested.png");

  /* The predictions carry embeddings: the queue's diversity step gets them. */
  {
    g_autoptr (GraftPredictionSet) set = graft_project_get_predictions (graft_project_object_get_project (project),
                                                                        TRUE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (set->ids->len, ==, unlabelled);
    g_assert_nonnull (set->probabilities);
    g_assert_nonnull (set->embeddings);
    g_assert_cmpint (set->dim, >, 0);
  }

  /* Label Next proposes the queue's first image, with its suggestion. */
  label_next = graft_data_page_get_label_next (data_page);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (data_page), "data.label-next", NULL));
  app_test_iterate_for (300);
  shown = graft_label_next_get_current (label_next);
  g_assert_cmpint (shown, !=, 0);
  {
    g_autoptr (GArray) queue = graft_active_project_queue (graft_project_object_get_project (project), NULL, &error);
    g_autoptr (GraftImageItem) item = graft_project_object_get_image (project, shown);
    g_assert_no_error (error);
    g_assert_cmpuint (queue->len, ==, unlabelled);
    g_assert_cmpint (shown, ==, g_array_index (queue, gint64, 0));
    g_assert_cmpint (graft_image_item_get_suggestion_id (item), !=, 0);
    g_assert_true (gtk_widget_get_visible (app_test_template_child (label_next, GRAFT_TYPE_LABEL_NEXT,
                                                                    "suggestion_box")));
    g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (app_test_template_child (label_next, GRAFT_TYPE_LABEL_NEXT,
                                                                             "suggestion_chip"))),
                     ==, graft_image_item_get_suggestion_name (item));
  }
  app_test_save_shot (GTK_WIDGET (window), "suggestions-02-label-next.png");

  /* Labelling counts at once. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (label_next), "label-next.label", "i", 1));
  app_test_iterate_for (200);
  g_assert_cmpuint (graft_label_next_get_labelled (label_next), ==, 1);
  {
    const char *progress = gtk_label_get_text (GTK_LABEL (app_test_template_child (label_next, GRAFT_TYPE_LABEL_NEXT,
                                                                                   "progress_label")));
    g_test_message ("progress: %s", progress);
    g_assert_true (g_str_has_prefix (progress, "1 labelled this session"));
  }
  g_assert_cmpint (graft_label_next_get_current (label_next), !=, shown);

  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (300);
}

int
main (int argc, char **argv)
{
  int status;

  if (!app_test_init_with_samples (&argc, &argv, "graft-suggestions-XXXXXX", &home))
    return 0;

  g_test_add_func ("/app/suggestions/after-run", test_after_run);
  status = g_test_run ();

  test_remove_tree (home);
  g_free (home);
  return status;
}
