/* The whole app, end to end, as a person drives it: the real GraftWindow of a registered
 * GraftApplication, under Xvfb. From the start screen the Sample Project button opens
 * the bundled sample (copied first into a temporary GRAFT_DATA_DIR, with a private
 * XDG_DATA_HOME for the project it makes); on the Data page an unlabelled image is
 * selected in the grid and labelled with key 2; on the Model page the Feature
 * Extraction preset is clicked, a block of the freeze map is clicked (trainable) and
 * Space freezes it again, then the preset is clicked once more; on the Schedule page
 * the epochs are typed in; on the Train page Start runs on the starter model while the
 * loss series and the progress grow, and Stop ends it; on the Results page the model
 * is exported to ONNX, verified by the page, and read back here.
 *
 * How each step reaches the app (GTK 4.8 cannot synthesise input events):
 *   - buttons: gtk_widget_activate on the real GtkButton / GtkToggleButton (the sample
 *     button, the strategy presets, Start, Stop);
 *   - page switches: the window's "win.show-page" action (what the view switcher does);
 *   - the sidebar's Unlabelled row: gtk_list_box_select_row (what a click on it does);
 *   - the grid: its "list.select-item" action (what a click on a thumbnail does);
 *   - key 2 on the Data page: the page's own shortcut for GDK_KEY_2, looked up in its
 *     shortcut controller and activated with its arguments;
 *   - the freeze map click: "drag-begin" at the centre of the block's area (from
 *     graft_freeze_map_get_block_area) and "drag-end" emitted on the map's own
 *     GtkGestureDrag, so its hit testing and click handler run; Space: "key-pressed"
 *     emitted on the map's own GtkEventControllerKey;
 *   - the epochs: gtk_spin_button_set_value on the Schedule page's spin button;
 *   - the export: the Results page's "results.export-to" action (the Export button
 *     opens a file chooser, which a test cannot answer).
 *
 * With GRAFT_SHOTS set, a screenshot of the window at each step goes there as
 * e2e-NN-<step>.png.
 *
 * Run under a display: dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" meson test app-e2e */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "app-test-helpers.h"
#include "data/preprocess.h"
#include "engine/parallel.h"
#include "graft-application.h"
#include "graft-data-page.h"
#include "graft-freeze-map.h"
#include "graft-model-page.h"
#include "graft-results-page.h"
#include "graft-schedule-page.h"
#include "graft-train-page.h"
#include "graft-welcome-page.h"
#include "graft-window.h"
#include "model/model.h"
#include "gradcheck.h"

/* Epochs typed in on the Schedule page. With augmentation on, the frozen backbone runs
 * on every image of every epoch (no embedding cache), so an epoch takes a noticeable
 * moment and Stop comes while the run trains; without it the sample's head trains
 * hundreds of epochs a second. */
#define RUN_EPOCHS 30
/* Epochs the run is watched for before Stop. */
#define WATCH_EPOCHS 2

static char *home;        /* private XDG folders */
static char *data_copy;   /* the copy of data/samples and data/models: GRAFT_DATA_DIR */

/* ---- waiting and finding ---- */



static void
show_page (GraftWindow *window, const char *name)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-page", "s", name));
  g_assert_cmpstr (app_test_visible_page (window), ==, name);
  app_test_iterate_for (300);
}

/* What a click on a button does: GtkButton::activate shows the button pressed, then
 * emits ::clicked a moment later. */
static void
on_clicked (GtkButton *button, gboolean *clicked)
{
  *clicked = TRUE;
}

static void
click (GtkWidget *button)
{
  gboolean clicked = FALSE;
  gulong id = g_signal_connect (button, "clicked", G_CALLBACK (on_clicked), &clicked);

  g_assert_true (gtk_widget_is_sensitive (button));
  g_assert_true (gtk_widget_activate (button));
  APP_TEST_WAIT_UNTIL (clicked, 5);
  g_signal_handler_disconnect (button, id);
  g_assert_true (clicked);
}

/* What a key press that reaches widget does: its own shortcut for keyval (with no
 * modifier), activated as its shortcut controller would. FALSE when it has none. */
static gboolean
press_key (GtkWidget *widget, guint keyval)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GtkEventController) controller = g_list_model_get_item (controllers, i);
      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint k = 0; k < g_list_model_get_n_items (G_LIST_MODEL (controller)); k++)
        {
          g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), k);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (shortcut);
          if (GTK_IS_KEYVAL_TRIGGER (trigger)
              && gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == keyval
              && gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)) == 0)
            return gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), GTK_SHORTCUT_ACTION_EXCLUSIVE,
                                                 widget, gtk_shortcut_get_arguments (shortcut));
        }
    }
  return FALSE;
}

/* ---- the sample data, copied ---- */

static void
copy_tree (GFile *from, GFile *to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFileEnumerator) children = NULL;
  GFileInfo *info;

  g_assert_true (g_file_make_directory_with_parents (to, NULL, &error) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS));
  g_clear_error (&error);
  children = g_file_enumerate_children (from, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, &error);
  g_assert_no_error (error);
  while ((info = g_file_enumerator_next_file (children, NULL, &error)) != NULL)
    {
      g_autoptr (GFile) source = g_file_get_child (from, g_file_info_get_name (info));
      g_autoptr (GFile) target = g_file_get_child (to, g_file_info_get_name (info));
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        copy_tree (source, target);
      else
        {
          g_assert_true (g_file_copy (source, target, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
          g_assert_no_error (error);
        }
      g_object_unref (info);
    }
  g_assert_no_error (error);
}

/* The class folders of the sample's train images, sorted. */
static GPtrArray *
sample_classes (void)
{
  g_autofree char *train = g_build_filename (data_copy, "samples", "train", NULL);
  g_autoptr (GDir) dir = g_dir_open (train, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  return names;
}

/* ---- what the test listens to ---- */

typedef struct {
  GPtrArray *toasts;
  guint datasets_changed;
  guint spec_changed;
  guint loss_changes;
} Seen;

static void
on_toast (GtkWidget *source, const char *message, Seen *seen)
{
  g_test_message ("toast: %s", message);
  g_ptr_array_add (seen->toasts, g_strdup (message));
}

static const char *
last_toast (Seen *seen)
{
  return seen->toasts->len > 0 ? g_ptr_array_index (seen->toasts, seen->toasts->len - 1) : "";
}

static void
count (gpointer instance, guint *counter)
{
  (*counter)++;
}

static guint
dataset_images (GraftSession *session)
{
  GraftDataset *train = graft_session_get_train_dataset (session);
  GraftDataset *validation = graft_session_get_validation_dataset (session);
  return (train != NULL ? graft_dataset_size (train) : 0) + (validation != NULL ? graft_dataset_size (validation) : 0);
}

static gboolean
sensitive (GtkWidget *page_widget, GType type, const char *name)
{
  return gtk_widget_is_sensitive (app_test_template_child (page_widget, type, name));
}

/* GTK warns when the session bus has no portal to keep the computer awake with (the
 * window inhibits suspend while a run trains): the test's private bus has none. That
 * warning is logged, not fatal; every other message goes the usual way. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  if ((level & G_LOG_LEVEL_WARNING) != 0 && g_strcmp0 (domain, "Gtk") == 0 && message != NULL
      && strstr (message, "org.freedesktop.portal.Inhibit") != NULL)
    {
      g_test_message ("(not fatal here) %s", message);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* ---- the run ---- */

static void
test_end_to_end (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftApplication) application = NULL;
  g_autoptr (GPtrArray) classes = sample_classes ();
  g_autofree char *exported = NULL;
  Seen seen = { g_ptr_array_new_with_free_func (g_free), 0, 0, 0 };
  GraftWindow *window;
  GraftSession *session;
  GraftTraining *training;
  GtkWidget *welcome, *data_page, *model_page, *schedule_page, *train_page, *results_page;
  GraftProjectObject *project;
  gint64 labelled_id;
  gint64 started;

  /* The application, as `graft` runs it (not unique: tests may run side by side). */
  application = app_test_application_new ();
  window = graft_window_new (application);
  gtk_window_set_default_size (GTK_WINDOW (window), 1360, 860);
  gtk_window_present (GTK_WINDOW (window));
  APP_TEST_WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)) && gtk_widget_get_width (GTK_WIDGET (window)) > 1, 10);
  app_test_iterate_for (300);
  session = graft_window_get_session (window);
  training = graft_window_get_training (window);
  g_signal_connect (session, "datasets-changed", G_CALLBACK (count), &seen.datasets_changed);
  g_signal_connect (session, "spec-changed", G_CALLBACK (count), &seen.spec_changed);

  data_page = app_test_window_page (window, "data");
  model_page = app_test_window_page (window, "model");
  schedule_page = app_test_window_page (window, "schedule");
  train_page = app_test_window_page (window, "train");
  results_page = app_test_window_page (window, "results");
  /* Toasts as the window gets them: from the pages' ::toast signals. */
  g_signal_connect (data_page, "toast", G_CALLBACK (on_toast), &seen);
  g_signal_connect (model_page, "toast", G_CALLBACK (on_toast), &seen);
  g_signal_connect (train_page, "toast", G_CALLBACK (on_toast), &seen);
  g_signal_connect (results_page, "toast", G_CALLBACK (on_toast), &seen);

  /* 1. The start screen; the Sample Project button. */
  g_assert_cmpstr (app_test_visible_page (window), ==, "welcome");
  welcome = adw_bin_get_child (ADW_BIN (app_test_template_child (window, GRAFT_TYPE_WINDOW, "welcome_bin")));
  g_assert_true (GRAFT_IS_WELCOME_PAGE (welcome));
  g_signal_connect (welcome, "toast", G_CALLBACK (on_toast), &seen);
  /* No page switcher and no project name before a project is open. */
  g_assert_false (adw_view_switcher_title_get_view_switcher_enabled (
    ADW_VIEW_SWITCHER_TITLE (app_test_template_child (window, GRAFT_TYPE_WINDOW, "switcher_title"))));
  g_assert_false (gtk_widget_get_visible (app_test_template_child (window, GRAFT_TYPE_WINDOW, "project_label")));
  app_test_save_shot (GTK_WIDGET (window), "e2e-01-welcome.png");
  started = g_get_monotonic_time ();
  click (app_test_template_child (welcome, GRAFT_TYPE_WELCOME_PAGE, "sample_button"));
  g_assert_true (graft_welcome_page_get_busy (GRAFT_WELCOME_PAGE (welcome)));
  APP_TEST_WAIT_UNTIL (g_strcmp0 (app_test_visible_page (window), "data") == 0 && graft_session_get_model (session) != NULL
                && dataset_images (session) > 0,
              120);
  g_test_message ("sample open in %.1f s", (g_get_monotonic_time () - started) / 1e6);
  g_assert_cmpstr (app_test_visible_page (window), ==, "data");
  g_assert_false (graft_welcome_page_get_busy (GRAFT_WELCOME_PAGE (welcome)));
  g_assert_nonnull (graft_session_get_model (session));
  {
    g_autofree char *starter = g_build_filename (data_copy, "models", "graft-starter.onnx", NULL);
    g_assert_cmpstr (graft_session_get_model_path (session), ==, starter);
  }
  project = graft_data_page_get_project (GRAFT_DATA_PAGE (data_page));
  g_assert_nonnull (project);
  g_assert_cmpuint (g_list_model_get_n_items (graft_project_object_get_classes (project)), ==, classes->len);
  g_assert_cmpuint (graft_project_object_count_images (project, GRAFT_FILTER_ALL, 0), ==, 1000);
  g_assert_cmpuint (graft_project_object_count_images (project, GRAFT_FILTER_UNLABELLED, 0), ==, 300);
  g_assert_cmpuint (dataset_images (session), ==, 700);
  {
    /* The header names the project, and so do the window's title and the export. */
    GtkLabel *project_label = GTK_LABEL (app_test_template_child (window, GRAFT_TYPE_WINDOW, "project_label"));
    const char *name = gtk_label_get_label (project_label);
    g_assert_true (adw_view_switcher_title_get_view_switcher_enabled (
      ADW_VIEW_SWITCHER_TITLE (app_test_template_child (window, GRAFT_TYPE_WINDOW, "switcher_title"))));
    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (project_label)));
    g_assert_cmpstr (name, !=, "");
    g_assert_nonnull (strstr (gtk_window_get_title (GTK_WINDOW (window)), name));
    g_assert_cmpstr (graft_results_page_get_project_name (GRAFT_RESULTS_PAGE (results_page)), ==, name);
  }

  /* 2. Data: the Unlabelled row of the sidebar, the first thumbnail, key 2. */
  {
    GtkListBox *filters = GTK_LIST_BOX (app_test_template_child (data_page, GRAFT_TYPE_DATA_PAGE, "filter_list"));
    GtkSelectionModel *selection = graft_data_page_get_selection (GRAFT_DATA_PAGE (data_page));
    GtkWidget *grid = GTK_WIDGET (graft_data_page_get_grid_view (GRAFT_DATA_PAGE (data_page)));
    GraftClassItem *klass = graft_project_object_get_class_for_key (project, 2);
    GraftImageFilter filter;
    GraftImageInfo info;
    guint datasets_before = seen.datasets_changed;
    gboolean found = FALSE;

    for (int i = 0; !found; i++)
      {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index (filters, i);
        g_assert_nonnull (row);
        /* The row whose title reads Unlabelled. */
        for (GtkWidget *c = gtk_widget_get_first_child (gtk_list_box_row_get_child (row)); c != NULL;
             c = gtk_widget_get_next_sibling (c))
          if (GTK_IS_LABEL (c) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (c)), "Unlabelled") == 0)
            found = TRUE;
        if (found)
          gtk_list_box_select_row (filters, row);
      }
    filter = graft_data_page_get_filter (GRAFT_DATA_PAGE (data_page), NULL);
    g_assert_cmpint (filter, ==, GRAFT_FILTER_UNLABELLED);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 300);
    {
      g_autoptr (GraftImageItem) item = g_list_model_get_item (G_LIST_MODEL (selection), 0);
      labelled_id = graft_image_item_get_id (item);
    }
    /* The images are the copy's, never data/samples. */
    g_assert_true (graft_project_get_image (graft_project_object_get_project (project), labelled_id, &info, &error));
    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (info.path, data_copy));
    graft_image_info_clear (&info);

    gtk_widget_grab_focus (grid);
    g_assert_true (gtk_widget_activate_action (grid, "list.select-item", "(ubb)", 0, FALSE, FALSE));
    g_assert_true (gtk_selection_model_is_selected (selection, 0));
    app_test_iterate_for (1500); /* thumbnails */
    app_test_save_shot (GTK_WIDGET (window), "e2e-02-data-selected.png");

    g_assert_nonnull (klass);
    g_test_message ("key 2 is “%s”", graft_class_item_get_name (klass));
    g_assert_true (press_key (data_page, GDK_KEY_2));
    g_assert_true (graft_project_get_image (graft_project_object_get_project (project), labelled_id, &info, &error));
    g_assert_no_error (error);
    g_assert_cmpint (info.class_id, ==, graft_class_item_get_id (klass));
    g_assert_cmpint (info.source, ==, GRAFT_LABEL_PERSON);
    graft_image_info_clear (&info);
    g_assert_cmpuint (graft_project_object_count_images (project, GRAFT_FILTER_UNLABELLED, 0), ==, 299);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 299);
    /* The labelled image reaches the session's datasets (after the page's short delay). */
    APP_TEST_WAIT_UNTIL (seen.datasets_changed > datasets_before && dataset_images (session) == 701, 10);
    g_assert_cmpuint (dataset_images (session), ==, 701);
    app_test_iterate_for (500);
    app_test_save_shot (GTK_WIDGET (window), "e2e-03-data-labelled.png");
  }

  /* 3. Model: the Feature Extraction preset, a click on a block, Space, the preset again. */
  show_page (window, "model");
  {
    GraftFreezeMap *map = graft_model_page_get_freeze_map (GRAFT_MODEL_PAGE (model_page));
    GtkWidget *preset = app_test_template_child (model_page, GRAFT_TYPE_MODEL_PAGE, "strategy_feature_extraction");
    GtkEventController *drag = app_test_find_controller (GTK_WIDGET (map), GTK_TYPE_GESTURE_DRAG);
    GtkEventController *keys = app_test_find_controller (GTK_WIDGET (map), GTK_TYPE_EVENT_CONTROLLER_KEY);
    int block = graft_session_get_cut_block (session);
    const char *block_name = graft_session_get_block (session, block)->name;
    graphene_rect_t area;
    gboolean handled = FALSE;
    GHashTable *overrides;

    g_assert_nonnull (drag);
    g_assert_nonnull (keys);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (map)));
    if (!gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (preset)))
      click (preset);
    g_assert_true (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (preset)));
    g_assert_cmpint (graft_session_get_spec (session)->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
    g_assert_cmpuint (g_hash_table_size (graft_session_get_spec (session)->block_overrides), ==, 0);
    g_assert_false (graft_session_get_block_trains (session, block, 0));

    /* A click on the block the head sits on: it trains. */
    g_assert_true (graft_freeze_map_get_block_area (map, block, &area));
    g_test_message ("clicking block %d “%s” at (%.0f, %.0f)", block, block_name,
                    area.origin.x + area.size.width / 2, area.origin.y + area.size.height / 2);
    g_signal_emit_by_name (drag, "drag-begin", (double) (area.origin.x + area.size.width / 2),
                           (double) (area.origin.y + area.size.height / 2));
    g_signal_emit_by_name (drag, "drag-end", 0.0, 0.0);
    overrides = graft_session_get_spec (session)->block_overrides;
    g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (overrides, block_name)), ==, 1);
    g_assert_cmpuint (g_hash_table_size (overrides), ==, 1);
    g_assert_true (graft_session_get_block_trains (session, block, 0));
    g_assert_cmpint (graft_session_get_spec (session)->strategy, ==, GRAFT_STRATEGY_CUSTOM);
    g_assert_cmpint (graft_freeze_map_get_selected (map), ==, block);
    g_assert_false (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (preset)));
    app_test_iterate_for (300);
    app_test_save_shot (GTK_WIDGET (window), "e2e-04-model-block-trains.png");

    /* Space on the selected block: frozen again, as an override. */
    g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_space, 0u, (GdkModifierType) 0, &handled);
    g_assert_true (handled);
    overrides = graft_session_get_spec (session)->block_overrides;
    g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (overrides, block_name)), ==, 2);
    g_assert_false (graft_session_get_block_trains (session, block, 0));

    /* The preset again: its plan, without overrides (the run takes the fast path). */
    click (preset);
    g_assert_cmpint (graft_session_get_spec (session)->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
    g_assert_cmpuint (g_hash_table_size (graft_session_get_spec (session)->block_overrides), ==, 0);
    app_test_iterate_for (300);
    app_test_save_shot (GTK_WIDGET (window), "e2e-05-model-preset.png");
  }

  /* 4. Schedule: the epochs, typed in; augmentation, switched on in its row. */
  show_page (window, "schedule");
  {
    GtkSpinButton *epochs = GTK_SPIN_BUTTON (app_test_template_child (schedule_page, GRAFT_TYPE_SCHEDULE_PAGE, "epochs_spin"));
    AdwExpanderRow *augmentation = ADW_EXPANDER_ROW (app_test_template_child (schedule_page, GRAFT_TYPE_SCHEDULE_PAGE,
                                                                     "augmentation_row"));
    guint before = seen.spec_changed;

    gtk_spin_button_set_value (epochs, RUN_EPOCHS);
    g_assert_cmpint (graft_session_get_spec (session)->epochs, ==, RUN_EPOCHS);
    g_assert_cmpuint (seen.spec_changed, >, before);
    g_assert_false (graft_session_get_spec (session)->augmentation.enabled);
    adw_expander_row_set_enable_expansion (augmentation, TRUE);
    g_assert_true (graft_session_get_spec (session)->augmentation.enabled);
    g_assert_cmpint (graft_session_get_spec (session)->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
    app_test_iterate_for (300);
    app_test_save_shot (GTK_WIDGET (window), "e2e-06-schedule.png");
  }

  /* 5. Train: Start, the curves and the progress grow, Stop. */
  show_page (window, "train");
  {
    GType type = GRAFT_TYPE_TRAIN_PAGE;
    GraftSeries *loss = graft_training_get_series (training, "train-loss");
    GraftPlot *loss_plot = graft_train_page_get_plot (GRAFT_TRAIN_PAGE (train_page), "loss");
    GtkProgressBar *progress = GTK_PROGRESS_BAR (app_test_template_child (train_page, type, "progress_bar"));
    GtkLabel *progress_title = GTK_LABEL (app_test_template_child (train_page, type, "progress_title"));
    g_autofree char *expected_title = NULL;
    gboolean plotted = FALSE;
    guint points_1, points_2;
    double fraction_1, fraction_2;
    int epoch_1, epoch_2;

    g_assert_nonnull (loss);
    g_signal_connect (loss, "changed", G_CALLBACK (count), &seen.loss_changes);
    g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (app_test_template_child (train_page, type, "stack"))), ==,
                     "ready");
    g_assert_true (sensitive (train_page, type, "start_button"));
    g_assert_false (sensitive (train_page, type, "stop_button"));
    g_assert_false (sensitive (train_page, type, "pause_button"));
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (app_test_template_child (train_page, type, "strategy_label"))), ==,
                     "Feature Extraction");

    started = g_get_monotonic_time ();
    click (app_test_template_child (train_page, type, "start_button"));
    g_assert_true (graft_training_is_busy (training));
    app_test_iterate_for (20);
    g_assert_false (sensitive (train_page, type, "start_button"));
    g_assert_true (sensitive (train_page, type, "stop_button"));
    g_assert_true (sensitive (train_page, type, "pause_button"));
    g_assert_false (sensitive (train_page, type, "find_lr_button"));
    for (guint i = 0; i < graft_plot_get_n_series (loss_plot); i++)
      plotted = plotted || graft_plot_get_series (loss_plot, i) == loss;
    g_assert_true (plotted);

    /* The first steps in: points on the curve, the progress under way. */
    APP_TEST_WAIT_UNTIL (graft_training_get_epoch (training) >= 1 && graft_series_get_length (loss) > 0, 60);
    points_1 = graft_series_get_length (loss);
    fraction_1 = gtk_progress_bar_get_fraction (progress);
    epoch_1 = graft_training_get_epoch (training);
    g_test_message ("first points after %.1f s: %u loss points, epoch %d, progress %.4f, “%s”",
                    (g_get_monotonic_time () - started) / 1e6, points_1, epoch_1, fraction_1,
                    gtk_label_get_label (progress_title));
    g_assert_true (graft_training_is_busy (training));
    g_assert_cmpuint (points_1, >, 0);
    g_assert_cmpfloat (fraction_1, >, 0);
    app_test_save_shot (GTK_WIDGET (window), "e2e-07-train-first-epoch.png");

    /* A few epochs on: more points, further along. */
    APP_TEST_WAIT_UNTIL (graft_training_get_epoch (training) >= epoch_1 + WATCH_EPOCHS || !graft_training_is_busy (training),
                60);
    g_assert_true (graft_training_is_busy (training));
    app_test_iterate_for (50);
    points_2 = graft_series_get_length (loss);
    fraction_2 = gtk_progress_bar_get_fraction (progress);
    epoch_2 = graft_training_get_epoch (training);
    g_test_message ("after %.1f s: %u loss points (%u changes), epoch %d, progress %.4f, “%s”",
                    (g_get_monotonic_time () - started) / 1e6, points_2, seen.loss_changes, epoch_2, fraction_2,
                    gtk_label_get_label (progress_title));
    g_assert_cmpuint (points_2, >, points_1);
    g_assert_cmpuint (seen.loss_changes, >=, 2);
    g_assert_cmpint (epoch_2, >, epoch_1);
    g_assert_cmpfloat (fraction_2, >, fraction_1);
    g_assert_cmpfloat (fraction_2, <, 1.0);
    g_assert_true (g_str_has_prefix (gtk_label_get_label (progress_title), "Epoch "));
    expected_title = g_strdup_printf (" of %d", RUN_EPOCHS);
    g_assert_true (g_str_has_suffix (gtk_label_get_label (progress_title), expected_title));
    {
      guint n = 0;
      const float *path = NULL;
      for (guint i = 0; i < graft_plot_get_n_series (loss_plot); i++)
        if (graft_plot_get_series (loss_plot, i) == loss)
          path = graft_plot_get_path (loss_plot, i, &n);
      g_assert_nonnull (path);
      g_assert_cmpuint (n, >, 1);
    }
    g_assert_cmpuint (graft_series_get_length (graft_training_get_series (training, "validation-accuracy")), >=,
                      (guint) epoch_1);
    app_test_save_shot (GTK_WIDGET (window), "e2e-08-train-running.png");

    /* Stop: the run ends as stopped, the controls come back. */
    click (app_test_template_child (train_page, type, "stop_button"));
    APP_TEST_WAIT_UNTIL (!graft_training_is_busy (training), 60);
    app_test_iterate_for (100);
    g_test_message ("stopped at epoch %d of %d after %.1f s", graft_training_get_epoch (training), RUN_EPOCHS,
                    (g_get_monotonic_time () - started) / 1e6);
    g_assert_false (graft_training_is_busy (training));
    g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
    g_assert_cmpint (graft_training_get_epoch (training), <, RUN_EPOCHS);
    g_assert_nonnull (graft_training_get_model (training));
    g_assert_cmpstr (last_toast (&seen), ==, "Training stopped");
    {
      /* The epochs completed, in the words and the number the Results page uses. */
      guint completed = graft_series_get_length (graft_training_get_series (training, "train-loss-epoch"));
      g_autofree char *stopped = g_strdup_printf ("Stopped after %u of %d epochs", completed, RUN_EPOCHS);
      g_assert_cmpstr (gtk_label_get_label (progress_title), ==, stopped);
    }
    /* The bar stays where the run stopped. */
    g_assert_true (graft_training_was_stopped (training));
    g_assert_cmpfloat (gtk_progress_bar_get_fraction (progress), <, 1.0);
    g_assert_cmpfloat (graft_training_get_fraction (training), <, 1.0);
    g_assert_true (sensitive (train_page, type, "start_button"));
    /* The button's labels are a stack as wide as the wider, so Pause and Stop stay put. */
    {
      GtkStack *labels = GTK_STACK (app_test_template_child (train_page, type, "start_label_stack"));
      g_assert_cmpstr (gtk_stack_get_visible_child_name (labels), ==, "again");
      g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (gtk_stack_get_visible_child (labels))), ==, "_Train Again");
    }
    g_assert_false (sensitive (train_page, type, "stop_button"));
    g_assert_false (sensitive (train_page, type, "pause_button"));
    g_assert_true (sensitive (train_page, type, "find_lr_button"));
    /* Nothing grows any more. */
    points_2 = graft_series_get_length (loss);
    app_test_iterate_for (300);
    g_assert_cmpuint (graft_series_get_length (loss), ==, points_2);
    app_test_save_shot (GTK_WIDGET (window), "e2e-09-train-stopped.png");
  }

  /* 6. Results: the evaluation of the stopped run, the export, and the file. */
  show_page (window, "results");
  {
    GType type = GRAFT_TYPE_RESULTS_PAGE;
    GraftResultsPage *results = GRAFT_RESULTS_PAGE (results_page);
    g_autoptr (GraftModel) model = NULL;
    g_autoptr (GraftModel) starter = NULL;
    g_autoptr (JsonNode) labels = NULL;
    g_autoptr (GraftSessionSpec) recipe = NULL;
    g_autofree char *starter_path = g_build_filename (data_copy, "models", "graft-starter.onnx", NULL);
    g_autofree char *expected = NULL;
    /* The session's datasets are made again when the run's suggestions are stored (the
     * project changed): they are looked up where they are used, never kept across a wait. */
    GraftPreprocessing prep, starter_prep;
    const GraftMetrics *metrics;
    JsonArray *array;
    const char *text;

    APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (results) && graft_results_page_get_metrics (results) != NULL, 120);
    g_assert_false (graft_results_page_is_busy (results));
    metrics = graft_results_page_get_metrics (results);
    g_assert_nonnull (metrics);
    g_assert_cmpint (metrics->classes, ==, (int) classes->len);
    g_assert_cmpuint (metrics->count, ==, graft_dataset_size (graft_session_get_validation_dataset (session)));
    g_test_message ("validation accuracy of the stopped run: %.3f", graft_metrics_accuracy (metrics));
    g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (app_test_template_child (results_page, type, "stack"))), ==,
                     "results");
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (app_test_template_child (results_page, type, "title_label"))), ==,
                     "Run 1: Feature Extraction");
    g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (app_test_template_child (results_page, type,
                                                                                     "subtitle_label"))),
                                     "stopped after "));
    {
      /* It counts the epochs completed: the epoch the run stopped in is not one of them. */
      guint completed = graft_series_get_length (graft_training_get_series (training, "train-loss-epoch"));
      g_autofree char *done = g_strdup_printf ("stopped after %u of %d epochs", completed, RUN_EPOCHS);
      g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (app_test_template_child (results_page, type,
                                                                                       "subtitle_label"))),
                                       done));
    }
    app_test_iterate_for (500);
    app_test_save_shot (GTK_WIDGET (window), "e2e-10-results.png");

    exported = g_build_filename (home, "sample-classifier.onnx", NULL);
    g_assert_true (gtk_widget_activate_action (results_page, "results.export-to", "s", exported));
    g_assert_true (graft_results_page_is_busy (results));
    APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (results), 120);
    g_assert_false (graft_results_page_is_busy (results));
    /* The page's verification: the file, loaded back and run on every validation image,
     * predicts what the app predicts. */
    expected = g_strdup_printf ("Exported and verified: the file agrees with the app on 100 %% of %u images",
                                graft_dataset_size (graft_session_get_validation_dataset (session)));
    g_assert_cmpstr (last_toast (&seen), ==, expected);
    text = gtk_label_get_label (GTK_LABEL (app_test_template_child (results_page, type, "export_label")));
    g_test_message ("%s", text);
    g_assert_true (g_str_has_prefix (text, "Exported to "));
    g_assert_nonnull (strstr (text, exported));
    g_assert_nonnull (strstr (text, "for 100 % of them"));
    /* Identical probabilities read as 0, not as 0.0e+00. */
    g_assert_null (strstr (text, "e+00"));
    app_test_iterate_for (300);
    app_test_save_shot (GTK_WIDGET (window), "e2e-11-exported.png");

    /* The file, as another program reads it. */
    g_assert_true (g_file_test (exported, G_FILE_TEST_IS_REGULAR));
    model = graft_model_load (exported, &error);
    g_assert_no_error (error);
    g_assert_nonnull (model);
    g_assert_cmpint (graft_graph_value (model->graph, model->logits)->shape.dims[1], ==, (int) classes->len);
    /* Labels: the sample's classes, in the order of the outputs. */
    text = g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS);
    g_assert_nonnull (text);
    labels = json_from_string (text, &error);
    g_assert_no_error (error);
    array = json_node_get_array (labels);
    g_assert_cmpuint (json_array_get_length (array), ==, classes->len);
    for (guint c = 0; c < classes->len; c++)
      {
        const char *name = json_array_get_string_element (array, c);
        guint index;
        g_assert_cmpstr (name, ==, g_ptr_array_index (graft_session_get_train_dataset (session)->classes, c));
        g_assert_true (g_ptr_array_find_with_equal_func (classes, name, g_str_equal, &index));
      }
    /* Preprocessing: the starter model's (32 × 32, its mean and std), as trained. */
    starter = graft_model_load (starter_path, &error);
    g_assert_no_error (error);
    text = g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING);
    g_assert_nonnull (text);
    g_assert_true (graft_preprocessing_from_json (text, &prep, &error));
    g_assert_no_error (error);
    g_assert_true (graft_preprocessing_from_json (g_hash_table_lookup (starter->metadata, GRAFT_METADATA_PREPROCESSING),
                                                  &starter_prep, &error));
    g_assert_no_error (error);
    g_test_message ("preprocessing: %s", text);
    g_assert_cmpint (prep.size, ==, 32);
    g_assert_cmpint (prep.size, ==, starter_prep.size);
    g_assert_cmpint (prep.resize, ==, starter_prep.resize);
    g_assert_cmpint (prep.grey, ==, starter_prep.grey);
    g_assert_cmpint (prep.bgr, ==, starter_prep.bgr);
    g_assert_cmpfloat (prep.scale, ==, starter_prep.scale);
    for (int k = 0; k < 3; k++)
      {
        g_assert_cmpfloat (prep.mean[k], ==, starter_prep.mean[k]);
        g_assert_cmpfloat (prep.std[k], ==, starter_prep.std[k]);
      }
    /* The recipe: the run's plan. */
    text = g_hash_table_lookup (model->metadata, GRAFT_METADATA_RECIPE);
    g_assert_nonnull (text);
    recipe = graft_session_spec_from_json (text, &error);
    g_assert_no_error (error);
    g_assert_cmpint (recipe->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
    g_assert_cmpint (recipe->epochs, ==, RUN_EPOCHS);
    g_assert_nonnull (g_hash_table_lookup (model->metadata, "graft.validation_accuracy"));
  }

  g_signal_handlers_disconnect_by_data (session, &seen);
  g_signal_handlers_disconnect_by_data (graft_training_get_series (training, "train-loss"), &seen);
  {
    GtkWidget *listened[] = { welcome, data_page, model_page, train_page, results_page };
    for (guint i = 0; i < G_N_ELEMENTS (listened); i++)
      g_signal_handlers_disconnect_by_data (listened[i], &seen);
  }
  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (100);
  g_ptr_array_unref (seen.toasts);
}

int
main (int argc, char **argv)
{
  g_autofree char *source_data = NULL;
  int status;

  /* Before GLib reads them: private user folders (the sample project is made in the
   * data home), and a copy of the bundled data, so that nothing in the source tree is
   * touched. */
  home = test_private_user_dirs ("graft-e2e-XXXXXX", FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);

  g_log_set_writer_func (log_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      test_remove_tree (home);
      return 0;
    }
  adw_init ();
  graft_set_num_threads (2);

  source_data = g_test_build_filename (G_TEST_DIST, "..", "data", NULL);
  data_copy = g_build_filename (home, "data", NULL);
  {
    const char *const parts[] = { "samples", "models" };
    for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
      {
        g_autofree char *from_path = g_build_filename (source_data, parts[i], NULL);
        g_autofree char *to_path = g_build_filename (data_copy, parts[i], NULL);
        g_autoptr (GFile) from = g_file_new_for_path (from_path);
        g_autoptr (GFile) to = g_file_new_for_path (to_path);
        if (!g_file_test (from_path, G_FILE_TEST_IS_DIR))
          {
            g_print ("1..0 # SKIP no %s in the source tree\n", from_path);
            test_remove_tree (home);
            return 0;
          }
        copy_tree (from, to);
      }
  }
  g_setenv ("GRAFT_DATA_DIR", data_copy, TRUE);

  g_test_add_func ("/app/e2e/sample-to-exported-model", test_end_to_end);
  status = g_test_run ();

  test_remove_tree (home);
  g_free (home);
  g_free (data_copy);
  return status;
}
