/* The Results page on real runs: the toy model (saved as ONNX and loaded into a
 * session), the toy ImageFolder, a GraftTraining run to the end; then the page's
 * confusion matrix, per-class table and gallery of mistakes are checked against the
 * evaluation, a confusion cell filters the gallery (by click and by keyboard), the
 * model is exported (with and without a softmax output) and verified, the curves are
 * exported, a second run is compared with the first, and failures (an unwritable
 * folder) come back as toasts naming the file. Also: a session without validation
 * images, a page created after the run, and the confusion view alone with many
 * classes. Screenshots, light and dark, go to GRAFT_SHOTS when it names a folder.
 *
 * Run under a display: xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- meson test app-results */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "app-test-helpers.h"
#include "engine/parallel.h"
#include "graft-plot.h"
#include "graft-class-table.h"
#include "graft-mistakes-gallery.h"
#include "graft-results-page.h"
#include "toy-images.h"
#include "toy-network.h"
#include "gradcheck.h"

static char *folder;
static char *model_path;
static char *cache_folder;
static char *tmp;

static GraftSession *
toy_session (gboolean with_validation)
{
  GraftSession *session = graft_session_new ();
  g_autofree char *t = g_build_filename (folder, "train", NULL);
  g_autofree char *v = g_build_filename (folder, "val", NULL);
  g_autoptr (GError) error = NULL;
  GraftDataset *train, *validation = NULL;

  g_assert_true (graft_session_load_model (session, model_path, &error));
  g_assert_no_error (error);
  train = graft_dataset_load_image_folder (t, NULL, &error);
  g_assert_no_error (error);
  if (with_validation)
    {
      validation = graft_dataset_load_image_folder (v, train->classes, &error);
      g_assert_no_error (error);
    }
  graft_session_set_datasets (session, train, validation);
  graft_session_set_cache_folder (session, cache_folder);
  toy_preprocessing (graft_session_get_spec (session));
  graft_session_spec_changed (session);
  return session;
}

static void
set_plan (GraftSession *session, GraftStrategy strategy, int epochs)
{
  GraftSessionSpec *spec;

  graft_session_set_strategy (session, strategy);
  spec = graft_session_get_spec (session);
  toy_preprocessing (spec);
  spec->epochs = epochs;
  /* A slow learning rate, so that the toy run still makes mistakes to show. */
  spec->optimizer.learning_rate = 1e-3f;
  graft_session_spec_changed (session);
}

/* A run to its end, as the Train page starts one. */
static void
run_training (GraftSession *session, GraftTraining *training, gboolean lr_finder)
{
  g_autoptr (GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 240 * G_USEC_PER_SEC;

  g_assert_true (graft_training_start (training, graft_session_get_model (session), graft_session_get_spec (session),
                                       graft_session_get_train_dataset (session),
                                       graft_session_get_validation_dataset (session),
                                       graft_session_get_cache_folder (session), lr_finder, &error));
  g_assert_no_error (error);
  while (graft_training_is_busy (training) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
  g_assert_false (graft_training_is_busy (training));
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
}

static void
wait_until_idle (GraftResultsPage *page)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  app_test_iterate_for (20);
  while (graft_results_page_is_busy (page) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
  g_assert_false (graft_results_page_is_busy (page));
  app_test_iterate_for (50);
}

static GtkWidget *
child (GtkWidget *page, const char *name)
{
  /* The page's own widgets, or those of the classes it is made of. */
  static const struct { const char *name; GType (*type) (void); } parts[] = {
    { "class_table", graft_class_table_get_type },
    { "gallery", graft_mistakes_gallery_get_type },
  };
  GObject *object = gtk_widget_get_template_child (page, GRAFT_TYPE_RESULTS_PAGE, name);

  for (gsize i = 0; object == NULL && i < G_N_ELEMENTS (parts); i++)
    {
      GObject *part = gtk_widget_get_template_child (page, GRAFT_TYPE_RESULTS_PAGE, parts[i].name);
      g_assert_nonnull (part);
      object = gtk_widget_get_template_child (GTK_WIDGET (part), parts[i].type (), name);
    }
  if (object == NULL)
    g_error ("the Results page has no widget called %s", name);
  return GTK_WIDGET (object);
}

static const char *
visible_child (GtkWidget *page, const char *stack)
{
  return gtk_stack_get_visible_child_name (GTK_STACK (child (page, stack)));
}

static void
record_toast (GraftResultsPage *page, const char *message, GPtrArray *toasts)
{
  g_test_message ("toast: %s", message);
  g_ptr_array_add (toasts, g_strdup (message));
}

static const char *
last_toast (GPtrArray *toasts)
{
  return toasts->len > 0 ? g_ptr_array_index (toasts, toasts->len - 1) : "";
}

static guint
labelled (const GraftDataset *dataset)
{
  guint n = 0;
  for (guint i = 0; i < dataset->items->len; i++)
    n += g_array_index (dataset->items, GraftDatasetItem, i).label >= 0;
  return n;
}

static guint64
trace (const GraftMetrics *m)
{
  guint64 t = 0;
  for (int c = 0; c < m->classes; c++)
    t += m->confusion[(gsize) c * m->classes + c];
  return t;
}

static guint64
sum (const GraftMetrics *m)
{
  guint64 s = 0;
  for (int i = 0; i < m->classes * m->classes; i++)
    s += m->confusion[i];
  return s;
}

/* The gallery's items, as the page's private type exposes them: through properties
 * only, so check what a cell shows through the confusion view's counts instead. */
static guint
gallery_count (GraftResultsPage *page)
{
  return g_list_model_get_n_items (graft_results_page_get_gallery (page));
}

static gboolean
first_thumbnail_loaded (GraftResultsPage *page)
{
  g_autoptr (GObject) item = g_list_model_get_item (graft_results_page_get_gallery (page), 0);
  g_autoptr (GdkPaintable) paintable = NULL;

  if (item == NULL)
    return FALSE;
  g_object_get (item, "paintable", &paintable, NULL);
  return paintable != NULL;
}

static void
check_exported_file (const char *path, GraftSession *session, const GraftMetrics *metrics, gboolean softmax)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = graft_model_load (path, &error);
  const char *labels, *preprocessing, *recipe, *accuracy;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *array;
  GraftPreprocessing prep;
  g_autoptr (GraftSessionSpec) spec = NULL;
  GraftDataset *train = graft_session_get_train_dataset (session);

  g_assert_no_error (error);
  g_assert_nonnull (model);
  labels = g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS);
  preprocessing = g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING);
  recipe = g_hash_table_lookup (model->metadata, GRAFT_METADATA_RECIPE);
  accuracy = g_hash_table_lookup (model->metadata, "graft.validation_accuracy");
  g_assert_nonnull (labels);
  g_assert_nonnull (preprocessing);
  g_assert_nonnull (recipe);

  node = json_from_string (labels, &error);
  g_assert_no_error (error);
  array = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (array), ==, train->classes->len);
  for (guint c = 0; c < train->classes->len; c++)
    g_assert_cmpstr (json_array_get_string_element (array, c), ==, g_ptr_array_index (train->classes, c));

  g_assert_true (graft_preprocessing_from_json (preprocessing, &prep, &error));
  g_assert_no_error (error);
  g_assert_cmpint (prep.size, ==, graft_session_get_spec (session)->preprocessing.size);
  g_assert_cmpfloat (prep.std[0], ==, graft_session_get_spec (session)->preprocessing.std[0]);

  spec = graft_session_spec_from_json (recipe, &error);
  g_assert_no_error (error);
  g_assert_cmpint (spec->strategy, ==, graft_session_get_spec (session)->strategy);
  g_assert_cmpint (spec->epochs, ==, graft_session_get_spec (session)->epochs);

  if (metrics != NULL)
    {
      g_assert_nonnull (accuracy);
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (accuracy, NULL), graft_metrics_accuracy (metrics), 1e-4);
    }
  else
    g_assert_null (accuracy);
  if (softmax)
    g_assert_cmpint (model->output, !=, model->logits);
  else
    g_assert_cmpint (model->output, ==, model->logits);
}

static void
test_results (void)
{
  g_autoptr (GraftSession) session = toy_session (TRUE);
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GPtrArray) toasts = g_ptr_array_new_with_free_func (g_free);
  GtkWidget *page_widget = graft_results_page_new (session, training);
  GraftResultsPage *page = GRAFT_RESULTS_PAGE (page_widget);
  GraftConfusionView *view = graft_results_page_get_confusion_view (page);
  GtkWidget *window;
  const GraftMetrics *metrics;
  const GraftMetrics *trainer_metrics;
  GraftDataset *validation = graft_session_get_validation_dataset (session);
  guint64 mistakes;
  int worst_t = -1, worst_p = -1;
  guint64 worst = 0;
  g_autofree char *expected = NULL;
  g_autofree char *onnx = g_build_filename (tmp, "toy-classifier.onnx", NULL);
  g_autofree char *onnx_softmax = g_build_filename (tmp, "toy-classifier-softmax.onnx", NULL);
  g_autofree char *csv = g_build_filename (tmp, "toy-curves.csv", NULL);
  g_autofree char *png = g_build_filename (tmp, "toy-curves.png", NULL);
  gint64 deadline;

  graft_results_page_set_project_name (page, "toy");
  g_signal_connect (page, "toast", G_CALLBACK (record_toast), toasts);
  window = app_test_show_in_window (page_widget, 1180, 1720);
  g_assert_cmpstr (visible_child (page_widget, "stack"), ==, "empty");
  g_assert_false (gtk_widget_get_sensitive (child (page_widget, "curves_button")));
  app_test_save_light_and_dark (window, "results-empty");

  /* A short feature-extraction run: good, not perfect, so there are mistakes. */
  set_plan (session, GRAFT_STRATEGY_FEATURE_EXTRACTION, 20);
  run_training (session, training, FALSE);
  g_assert_cmpstr (visible_child (page_widget, "stack"), ==, "results");
  wait_until_idle (page);
  g_assert_cmpstr (visible_child (page_widget, "evaluation_stack"), ==, "metrics");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "title_label"))), ==,
                   "Run 1: Feature Extraction");
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page_widget, "subtitle_label"))),
                                   "20 epochs in "));

  /* The confusion matrix counts every validation image once. */
  metrics = graft_results_page_get_metrics (page);
  g_assert_nonnull (metrics);
  g_assert_cmpint (metrics->classes, ==, 3);
  g_assert_cmpuint (sum (metrics), ==, labelled (validation));
  g_assert_cmpuint (metrics->count, ==, labelled (validation));
  g_assert_cmpint (graft_confusion_view_get_classes (view), ==, 3);
  g_assert_cmpuint (graft_confusion_view_get_total (view), ==, labelled (validation));
  g_assert_true (graft_confusion_view_get_shows_counts (view));
  /* The page's evaluation of its copy of the model agrees with the trainer's own. */
  trainer_metrics = graft_training_get_validation_metrics (training);
  g_assert_nonnull (trainer_metrics);
  g_test_message ("accuracy: page %.4f, trainer %.4f", graft_metrics_accuracy (metrics),
                  graft_metrics_accuracy (trainer_metrics));
  g_assert_cmpfloat (fabs (graft_metrics_accuracy (metrics) - graft_metrics_accuracy (trainer_metrics)), <=,
                     1.0 / labelled (validation) + 1e-9);

  /* The headline figures and the per-class table. */
  expected = g_strdup_printf ("%" G_GUINT64_FORMAT, metrics->count);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "images_value"))), ==, expected);
  g_assert_true (g_str_has_suffix (gtk_label_get_label (GTK_LABEL (child (page_widget, "accuracy_value"))), " %"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (gtk_column_view_get_model (
                      GTK_COLUMN_VIEW (child (page_widget, "class_view"))))),
                    ==, 3);
  /* The table never scrolls by itself, so the scroll wheel over it scrolls the page. */
  {
    GtkPolicyType horizontal, vertical;
    gtk_scrolled_window_get_policy (GTK_SCROLLED_WINDOW (child (page_widget, "scroller")), &horizontal, &vertical);
    g_assert_cmpint (vertical, ==, GTK_POLICY_NEVER);
    g_assert_cmpint (gtk_widget_get_height (child (page_widget, "class_view")), >=,
                     gtk_widget_get_height (child (page_widget, "scroller")));
  }
  /* Sorted by recall, lowest first, from its column (what a click on the header does). */
  {
    GtkColumnView *class_view = GTK_COLUMN_VIEW (child (page_widget, "class_view"));
    GListModel *rows = G_LIST_MODEL (gtk_column_view_get_model (class_view));
    g_autoptr (GtkColumnViewColumn) recall = g_list_model_get_item (gtk_column_view_get_columns (class_view), 2);
    double previous = -1;

    g_assert_cmpstr (gtk_column_view_column_get_title (recall), ==, "Recall");
    gtk_column_view_sort_by_column (class_view, recall, GTK_SORT_ASCENDING);
    for (guint i = 0; i < g_list_model_get_n_items (rows); i++)
      {
        g_autoptr (GObject) row = g_list_model_get_item (rows, i);
        double value;
        g_object_get (row, "recall", &value, NULL);
        g_assert_cmpfloat (value, >=, previous);
        previous = value;
      }
    gtk_column_view_sort_by_column (class_view, NULL, GTK_SORT_ASCENDING);
  }

  /* The gallery: the mistakes, most confident first. */
  mistakes = metrics->count - trace (metrics);
  g_test_message ("%" G_GUINT64_FORMAT " mistakes of %" G_GUINT64_FORMAT, mistakes, metrics->count);
  g_assert_cmpuint (mistakes, >, 0);
  g_assert_cmpuint (gallery_count (page), ==, mistakes);
  g_assert_cmpstr (visible_child (page_widget, "gallery_stack"), ==, "grid");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "gallery_title"))), ==, "Mistakes");
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!first_thumbnail_loaded (page) && g_get_monotonic_time () < deadline)
    app_test_iterate_for (10);
  g_assert_true (first_thumbnail_loaded (page));

  /* A click on a mistake shows it in the app, in one window reused by the next click
   * (not an external viewer per click). */
  {
    GtkWidget *gallery_box = child (page_widget, "gallery_box");
    GtkFlowBoxChild *first = gtk_flow_box_get_child_at_index (GTK_FLOW_BOX (gallery_box), 0);
    GtkFlowBoxChild *second = gtk_flow_box_get_child_at_index (GTK_FLOW_BOX (gallery_box), 1);
    GraftImageViewer *viewer;
    guint viewers = 0;
    GListModel *toplevels = gtk_window_get_toplevels ();   /* not ours */

    g_assert_null (graft_results_page_get_image_viewer (page));
    g_assert_nonnull (first);
    g_signal_emit_by_name (gallery_box, "child-activated", first);
    viewer = graft_results_page_get_image_viewer (page);
    g_assert_nonnull (viewer);
    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (viewer)));
    if (second != NULL)
      {
        g_autoptr (GObject) item = g_list_model_get_item (graft_results_page_get_gallery (page), 1);
        g_signal_emit_by_name (gallery_box, "child-activated", second);
        g_assert_true (graft_results_page_get_image_viewer (page) == viewer);
        g_assert_nonnull (graft_image_viewer_get_path (viewer));
      }
    for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
      {
        g_autoptr (GObject) w = g_list_model_get_item (toplevels, i);
        viewers += GRAFT_IS_IMAGE_VIEWER (w) && gtk_widget_get_visible (GTK_WIDGET (w));
      }
    g_assert_cmpuint (viewers, ==, 1);

    /* A small image is shown enlarged by a whole factor, each pixel a square block (not
     * blurred by the picture's smooth scaling): the first row matches the file's. */
    {
      GtkPicture *picture = GTK_PICTURE (gtk_widget_get_template_child (GTK_WIDGET (viewer), GRAFT_TYPE_IMAGE_VIEWER,
                                                                        "picture"));
      GdkPaintable *paintable = gtk_picture_get_paintable (picture);
      g_autoptr (GdkPixbuf) source = gdk_pixbuf_new_from_file (graft_image_viewer_get_path (viewer), NULL);
      g_autofree guchar *shown = NULL;
      int width, factor, channels;
      const guchar *pixels;

      g_assert_nonnull (source);
      g_assert_true (GDK_IS_TEXTURE (paintable));
      width = gdk_texture_get_width (GDK_TEXTURE (paintable));
      factor = width / gdk_pixbuf_get_width (source);
      g_assert_cmpint (factor, >, 1);
      g_assert_cmpint (width, ==, factor * gdk_pixbuf_get_width (source));
      g_assert_cmpint (gdk_texture_get_height (GDK_TEXTURE (paintable)), ==, factor * gdk_pixbuf_get_height (source));
      shown = g_malloc ((gsize) width * gdk_texture_get_height (GDK_TEXTURE (paintable)) * 4);
      gdk_texture_download (GDK_TEXTURE (paintable), shown, (gsize) width * 4);
      channels = gdk_pixbuf_get_n_channels (source);
      pixels = gdk_pixbuf_read_pixels (source);
      for (int x = 0; x < width; x++)
        {
          /* gdk_texture_download gives B, G, R, A (Cairo's ARGB32 in little-endian order) */
          const guchar *want = pixels + (gsize) (x / factor) * channels;
          const guchar *got = shown + (gsize) x * 4;
          g_assert_cmpint (got[2], ==, want[0]);
          g_assert_cmpint (got[1], ==, want[1]);
          g_assert_cmpint (got[0], ==, want[2]);
        }
    }
    app_test_iterate_for (300);
    app_test_save_shot (GTK_WIDGET (viewer), "results-viewer.png");
    gtk_window_close (GTK_WINDOW (viewer));
  }

  /* A click on a cell shows its images; a second click goes back to every mistake. */
  for (int t = 0; t < 3; t++)
    for (int p = 0; p < 3; p++)
      if (t != p && metrics->confusion[t * 3 + p] > worst)
        {
          worst = metrics->confusion[t * 3 + p];
          worst_t = t;
          worst_p = p;
        }
  g_signal_emit_by_name (view, "cell-activated", worst_t, worst_p);
  g_assert_cmpuint (gallery_count (page), ==, worst);
  g_assert_true (gtk_widget_get_visible (child (page_widget, "show_all_button")));
  {
    int t, p;
    g_assert_true (graft_confusion_view_get_selected (view, &t, &p));
    g_assert_cmpint (t, ==, worst_t);
    g_assert_cmpint (p, ==, worst_p);
  }
  app_test_iterate_for (200);
  app_test_save_light_and_dark (window, "results-cell");
  g_signal_emit_by_name (view, "cell-activated", worst_t, worst_p);
  g_assert_cmpuint (gallery_count (page), ==, mistakes);
  g_assert_false (gtk_widget_get_visible (child (page_widget, "show_all_button")));
  /* A diagonal cell shows the images classified correctly. */
  graft_results_page_filter_gallery (page, 1, 1);
  g_assert_cmpuint (gallery_count (page), ==, metrics->confusion[1 * 3 + 1]);
  g_assert_true (gtk_widget_activate_action (page_widget, "results.show-all-mistakes", NULL));
  g_assert_cmpuint (gallery_count (page), ==, mistakes);

  /* An empty cell: the gallery says so in words, none of it clipped. */
  {
    int empty = -1;
    GtkWidget *none;
    int minimum, natural;

    for (int c = 0; c < 9 && empty < 0; c++)
      if (metrics->confusion[c] == 0)
        empty = c;
    g_assert_cmpint (empty, >=, 0);
    graft_results_page_filter_gallery (page, empty / 3, empty % 3);
    app_test_iterate_for (200);
    g_assert_cmpuint (gallery_count (page), ==, 0);
    g_assert_cmpstr (visible_child (page_widget, "gallery_stack"), ==, "none");
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "gallery_empty_title"))), ==, "No Images");
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "gallery_empty_description"))), ==,
                     "No validation image fell in this cell.");
    none = child (page_widget, "gallery_empty");
    gtk_widget_measure (none, GTK_ORIENTATION_VERTICAL, gtk_widget_get_width (none), &minimum, &natural, NULL, NULL);
    g_assert_true (gtk_widget_get_mapped (child (page_widget, "gallery_empty_description")));
    g_assert_cmpint (gtk_widget_get_height (child (page_widget, "gallery_empty_description")), >, 0);
    /* measure counts the margins, the height does not. */
    g_assert_cmpint (gtk_widget_get_height (none), >=,
                     natural - gtk_widget_get_margin_top (none) - gtk_widget_get_margin_bottom (none));
    {
      /* Scrolled to it, for the screenshot. */
      GtkWidget *scrolled = gtk_widget_get_ancestor (none, GTK_TYPE_SCROLLED_WINDOW);
      GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
      graphene_point_t at;
      g_assert_true (gtk_widget_compute_point (none, gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scrolled)),
                                               &GRAPHENE_POINT_INIT (0, 0), &at));
      gtk_adjustment_set_value (adjustment, at.y - 200);
      app_test_iterate_for (200);
    }
    app_test_save_light_and_dark (window, "results-empty-cell");
    graft_results_page_filter_gallery (page, -1, -1);
  }

  /* The keyboard: from the first cell, right then Enter is (true 0, predicted 1). */
  gtk_widget_grab_focus (GTK_WIDGET (view));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "confusion.move", "(ii)", 1, 0));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "confusion.move", "(ii)", 0, -5));
  {
    int t, p;
    graft_confusion_view_get_cursor (view, &t, &p);
    g_assert_cmpint (t, ==, 0);
    g_assert_cmpint (p, ==, 1);
  }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "confusion.activate", NULL));
  g_assert_cmpuint (gallery_count (page), ==, metrics->confusion[1]);
  graft_results_page_filter_gallery (page, -1, -1);

  /* A point in the middle of cell (2, 1) is that cell. */
  {
    double cell = graft_confusion_view_get_cell_size (view);
    int t = -1, p = -1;
    gboolean found = FALSE;
    g_assert_cmpfloat (cell, >=, 28);
    for (double y = 0; y < gtk_widget_get_height (GTK_WIDGET (view)) && !found; y += 1)
      for (double x = 0; x < gtk_widget_get_width (GTK_WIDGET (view)) && !found; x += 1)
        found = graft_confusion_view_cell_at (view, x, y, &t, &p);
    g_assert_true (found);
    g_assert_cmpint (t, ==, 0);
    g_assert_cmpint (p, ==, 0);
  }
  app_test_save_light_and_dark (window, "results");

  /* Export, and the verification: the file predicts what the app predicts. */
  g_assert_true (gtk_widget_get_sensitive (child (page_widget, "curves_button")));
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-to", "s", onnx));
  g_assert_true (graft_results_page_is_busy (page));
  wait_until_idle (page);
  g_free (expected);
  expected = g_strdup_printf ("Exported and verified: the file agrees with the app on 100 %% of %u images",
                              labelled (validation));
  g_assert_cmpstr (last_toast (toasts), ==, expected);
  check_exported_file (onnx, session, metrics, FALSE);
  g_assert_true (gtk_widget_get_visible (child (page_widget, "export_label")));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (child (page_widget, "export_label"))),
                                   "Exported to "));
  {
    /* The largest difference is a number in words: "the same probabilities" when there
     * is none, never "differ by at most 0.". */
    const char *detail = gtk_label_get_label (GTK_LABEL (child (page_widget, "export_label")));
    const char *most = strstr (detail, "differ by at most ");
    g_test_message ("%s", detail);
    if (most == NULL)
      g_assert_true (g_str_has_suffix (detail, ", with the same probabilities."));
    else
      g_assert_nonnull (strchr (most, 'e'));
    g_assert_null (strstr (detail, "at most 0."));
  }

  /* With a softmax output: probabilities out, the same predictions. */
  gtk_switch_set_active (GTK_SWITCH (gtk_widget_get_template_child (page_widget, GRAFT_TYPE_RESULTS_PAGE,
                                                                    "softmax_switch")),
                         TRUE);
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-to", "s", onnx_softmax));
  wait_until_idle (page);
  g_assert_cmpstr (last_toast (toasts), ==, expected);
  check_exported_file (onnx_softmax, session, metrics, TRUE);

  /* An unwritable place: a toast naming the file. */
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-to", "s", "/nonexistent-folder/bad.onnx"));
  wait_until_idle (page);
  g_assert_true (g_str_has_prefix (last_toast (toasts), "Could not export “bad.onnx”: No such file or directory"));

  /* The curves: CSV in long form, and a PNG. */
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-curves-to", "s", csv));
  wait_until_idle (page);
  g_assert_cmpstr (last_toast (toasts), ==, "Curves exported to “toy-curves.csv” and “toy-curves.png”");
  {
    g_autofree char *contents = NULL;
    g_auto (GStrv) lines = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GdkTexture) texture = NULL;
    guint validation_rows = 0, loss_rows = 0;

    g_assert_true (g_file_get_contents (csv, &contents, NULL, &error));
    lines = g_strsplit (contents, "\n", -1);
    g_assert_cmpstr (lines[0], ==, "series,epoch,value");
    for (int i = 1; lines[i] != NULL; i++)
      {
        if (g_str_has_prefix (lines[i], "validation-accuracy,"))
          validation_rows++;
        if (g_str_has_prefix (lines[i], "train-loss,"))
          loss_rows++;
      }
    g_assert_cmpuint (validation_rows, ==, 20);
    g_assert_cmpuint (loss_rows, ==, graft_series_get_length (graft_training_get_series (training, "train-loss")));
    texture = gdk_texture_new_from_filename (png, &error);
    g_assert_no_error (error);
    g_assert_cmpint (gdk_texture_get_width (texture), ==, 2400);
    if (g_getenv ("GRAFT_SHOTS") != NULL)
      {
        g_autofree char *copy = g_build_filename (g_getenv ("GRAFT_SHOTS"), "results-curves.png", NULL);
        g_assert_true (gdk_texture_save_to_png (texture, copy));
      }
  }
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-curves-to", "s", "/nonexistent-folder/c.csv"));
  wait_until_idle (page);
  g_assert_true (g_str_has_prefix (last_toast (toasts), "Could not export the curves to “c.csv”: "));

  /* A second run, fine-tuning; then the comparison of both. */
  set_plan (session, GRAFT_STRATEGY_FINE_TUNE, 30);
  run_training (session, training, FALSE);
  wait_until_idle (page);
  g_assert_cmpuint (graft_results_page_get_n_runs (page), ==, 2);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "title_label"))), ==, "Run 2: Fine-Tuning");
  g_assert_cmpuint (graft_confusion_view_get_total (view), ==, labelled (validation));
  metrics = graft_results_page_get_metrics (page);
  g_assert_cmpuint (gallery_count (page), ==, metrics->count - trace (metrics));
  graft_results_page_set_run_compared (page, 0, TRUE);
  graft_results_page_set_run_compared (page, 1, TRUE);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (child (page_widget, "compare_revealer"))));
  g_assert_cmpuint (graft_plot_get_n_series (GRAFT_PLOT (child (page_widget, "compare_accuracy_plot"))), ==, 2);
  {
    const char *differences = gtk_label_get_text (GTK_LABEL (child (page_widget, "differences_label")));
    g_test_message ("%s", differences);
    g_assert_true (g_str_has_prefix (differences, "What differs between runs 1 → 2:"));
    /* Named settings, the ones a person knows first: strategy, then epochs, then the rest. */
    g_assert_true (g_str_has_prefix (differences, "What differs between runs 1 → 2:\n"
                                                  "Strategy  \"feature-extraction\" → \"fine-tune\"\n"
                                                  "Epochs  20 → 30\n"));
    g_assert_null (strstr (differences, "schedule.pct_start"));
    g_assert_null (strstr (differences, "\nschedule."));
  }
  app_test_iterate_for (400);
  app_test_save_light_and_dark (window, "results-compare");

  /* A learning-rate sweep is not a run: the results stay. */
  run_training (session, training, TRUE);
  wait_until_idle (page);
  g_assert_cmpuint (graft_results_page_get_n_runs (page), ==, 2);
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (child (page_widget, "title_label"))), ==, "Run 2: Fine-Tuning");
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-to", "s", onnx));
  wait_until_idle (page);
  g_assert_cmpstr (last_toast (toasts), ==, expected);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Without validation images the page says so, and the model still exports. */
static void
test_no_validation (void)
{
  g_autoptr (GraftSession) session = toy_session (FALSE);
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GPtrArray) toasts = g_ptr_array_new_with_free_func (g_free);
  GtkWidget *page_widget = graft_results_page_new (session, training);
  GraftResultsPage *page = GRAFT_RESULTS_PAGE (page_widget);
  GtkWidget *window = app_test_show_in_window (page_widget, 1000, 700);
  g_autofree char *onnx = g_build_filename (tmp, "no-validation.onnx", NULL);

  g_signal_connect (page, "toast", G_CALLBACK (record_toast), toasts);
  set_plan (session, GRAFT_STRATEGY_FEATURE_EXTRACTION, 2);
  run_training (session, training, FALSE);
  wait_until_idle (page);
  g_assert_cmpstr (visible_child (page_widget, "evaluation_stack"), ==, "no-validation");
  g_assert_null (graft_results_page_get_metrics (page));
  app_test_save_light_and_dark (window, "results-no-validation");
  g_assert_true (gtk_widget_activate_action (page_widget, "results.export-to", "s", onnx));
  wait_until_idle (page);
  g_assert_cmpstr (last_toast (toasts), ==,
                   "Exported “no-validation.onnx” (not verified: there are no validation images)");
  check_exported_file (onnx, session, NULL, FALSE);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A page shown after the run finished takes its results. */
static void
test_late_page (void)
{
  g_autoptr (GraftSession) session = toy_session (TRUE);
  g_autoptr (GraftTraining) training = graft_training_new ();
  GtkWidget *page_widget;
  GtkWidget *window;

  set_plan (session, GRAFT_STRATEGY_FEATURE_EXTRACTION, 2);
  run_training (session, training, FALSE);
  page_widget = graft_results_page_new (session, training);
  window = app_test_show_in_window (page_widget, 1000, 900);
  wait_until_idle (GRAFT_RESULTS_PAGE (page_widget));
  g_assert_cmpstr (visible_child (page_widget, "evaluation_stack"), ==, "metrics");
  g_assert_cmpuint (graft_confusion_view_get_total (graft_results_page_get_confusion_view (GRAFT_RESULTS_PAGE (page_widget))),
                    ==, labelled (graft_session_get_validation_dataset (session)));
  gtk_window_destroy (GTK_WINDOW (window));
}

static guint
count_children (GtkWidget *widget)
{
  guint n = 0;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    n++;
  return n;
}

/* Many mistakes: the gallery shows a page of them and more on demand, and the main
 * loop keeps turning while the page evaluates and decodes thumbnails. */
static void
test_many_mistakes (void)
{
  g_autofree char *many = toy_image_folder_new (96, 160, FALSE);
  g_autofree char *t = g_build_filename (many, "train", NULL);
  g_autofree char *v = g_build_filename (many, "val", NULL);
  g_autoptr (GraftSession) session = graft_session_new ();
  g_autoptr (GraftTraining) training = graft_training_new ();
  g_autoptr (GError) error = NULL;
  GraftDataset *train, *validation;
  GtkWidget *page_widget, *window, *gallery_box;
  GraftResultsPage *page;
  const GraftMetrics *metrics;
  guint mistakes;
  gint64 last, gap = 0, deadline;

  g_assert_true (graft_session_load_model (session, model_path, &error));
  train = graft_dataset_load_image_folder (t, NULL, &error);
  g_assert_no_error (error);
  validation = graft_dataset_load_image_folder (v, train->classes, &error);
  g_assert_no_error (error);
  graft_session_set_datasets (session, train, validation);
  graft_session_set_cache_folder (session, cache_folder);
  page_widget = graft_results_page_new (session, training);
  page = GRAFT_RESULTS_PAGE (page_widget);
  window = app_test_show_in_window (page_widget, 1180, 1000);
  set_plan (session, GRAFT_STRATEGY_FEATURE_EXTRACTION, 2);
  run_training (session, training, FALSE);

  /* From ::finished until the thumbnails are in, no main-loop iteration waits long. */
  last = g_get_monotonic_time ();
  deadline = last + 60 * G_USEC_PER_SEC;
  while ((graft_results_page_is_busy (page) || !first_thumbnail_loaded (page)) && g_get_monotonic_time () < deadline)
    {
      gint64 now;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (500);
      now = g_get_monotonic_time ();
      gap = MAX (gap, now - last);
      last = now;
    }
  g_test_message ("longest main-loop iteration while evaluating: %.1f ms", gap / 1e3);
  g_assert_cmpint (gap, <, 250 * 1000);
  wait_until_idle (page);

  metrics = graft_results_page_get_metrics (page);
  mistakes = (guint) (metrics->count - trace (metrics));
  g_test_message ("%u mistakes of %u", mistakes, (guint) metrics->count);
  g_assert_cmpuint (mistakes, >, 48);
  g_assert_cmpuint (gallery_count (page), ==, mistakes);
  gallery_box = child (page_widget, "gallery_box");
  g_assert_cmpuint (count_children (gallery_box), ==, 48);
  g_assert_true (gtk_widget_get_visible (child (page_widget, "more_button")));
  g_assert_true (gtk_widget_activate_action (page_widget, "results.show-more", NULL));
  g_assert_cmpuint (count_children (gallery_box), ==, MIN (mistakes, 96));
  /* A new filter starts from one page again. */
  graft_results_page_filter_gallery (page, 0, 0);
  g_assert_cmpuint (count_children (gallery_box), ==, MIN (48, metrics->confusion[0]));
  graft_results_page_filter_gallery (page, -1, -1);
  g_assert_cmpuint (count_children (gallery_box), ==, 48);
  gtk_window_destroy (GTK_WINDOW (window));
  test_remove_tree (many);
}

static void
on_cell (GraftConfusionView *view, int t, int p, int *cell)
{
  cell[0] = t;
  cell[1] = p;
}

/* The view alone: many classes with long names fit, counts go when they do not. */
static void
test_confusion_view (void)
{
  const int n = 12;
  g_autofree guint64 *counts = g_new0 (guint64, n * n);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GtkWidget *view = graft_confusion_view_new ();
  GtkWidget *window;
  int cell[2] = { -1, -1 };
  int t, p;

  for (int i = 0; i < n; i++)
    {
      g_ptr_array_add (names, g_strdup_printf (i % 3 == 0 ? "a rather long class name %d" : "class %d", i));
      for (int j = 0; j < n; j++)
        counts[i * n + j] = i == j ? (guint64) (20 + i) : (guint64) ((i * 7 + j * 3) % 5 == 0 ? (i + j) % 4 : 0);
    }
  g_ptr_array_add (names, NULL);
  graft_confusion_view_set_matrix (GRAFT_CONFUSION_VIEW (view), counts, n, (const char *const *) names->pdata);
  gtk_widget_set_margin_top (view, 12);
  gtk_widget_set_margin_bottom (view, 12);
  gtk_widget_set_margin_start (view, 12);
  gtk_widget_set_margin_end (view, 12);
  window = app_test_show_in_window (view, 620, 400);
  g_signal_connect (view, "cell-activated", G_CALLBACK (on_cell), cell);
  g_assert_cmpfloat (graft_confusion_view_get_cell_size (GRAFT_CONFUSION_VIEW (view)), >=, 16);
  /* The height follows the width: the window grew to show the whole grid. */
  g_assert_cmpint (gtk_widget_get_height (view), >=,
                   (int) (n * graft_confusion_view_get_cell_size (GRAFT_CONFUSION_VIEW (view))));

  /* Keyboard: End, Page Down reach the last cell; moves are clamped. */
  g_assert_true (gtk_widget_activate_action (view, "confusion.move", "(ii)", 1 << 20, 0));
  g_assert_true (gtk_widget_activate_action (view, "confusion.move", "(ii)", 0, 1 << 20));
  graft_confusion_view_get_cursor (GRAFT_CONFUSION_VIEW (view), &t, &p);
  g_assert_cmpint (t, ==, n - 1);
  g_assert_cmpint (p, ==, n - 1);
  g_assert_true (gtk_widget_activate_action (view, "confusion.move", "(ii)", -2, -1));
  g_assert_true (gtk_widget_activate_action (view, "confusion.activate", NULL));
  g_assert_cmpint (cell[0], ==, n - 2);
  g_assert_cmpint (cell[1], ==, n - 3);
  gtk_widget_grab_focus (view);
  app_test_save_light_and_dark (window, "confusion-view");

  /* 60 classes in a small window: tiny cells, no counts, and no complaint. */
  {
    const int m = 60;
    g_autofree guint64 *many = g_new0 (guint64, m * m);
    g_autoptr (GPtrArray) many_names = g_ptr_array_new_with_free_func (g_free);
    for (int i = 0; i < m; i++)
      {
        g_ptr_array_add (many_names, g_strdup_printf ("species %d", i));
        many[i * m + i] = 10;
        many[i * m + (i + 1) % m] = 2;
      }
    graft_confusion_view_set_matrix (GRAFT_CONFUSION_VIEW (view), many, m, (const char *const *) many_names->pdata);
    app_test_iterate_for (200);
    g_assert_false (graft_confusion_view_get_shows_counts (GRAFT_CONFUSION_VIEW (view)));
    g_assert_cmpuint (graft_confusion_view_get_total (GRAFT_CONFUSION_VIEW (view)), ==, (guint64) m * 12);
    app_test_save_light_and_dark (window, "confusion-view-many");
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  int status;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;

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
  tmp = g_dir_make_tmp ("graft-results-XXXXXX", &error);
  g_assert_no_error (error);
  model_path = g_build_filename (tmp, "toy.onnx", NULL);
  cache_folder = g_build_filename (tmp, "cache", NULL);
  model = toy_pretrained_model ();
  g_assert_true (graft_model_save (model, model_path, NULL, &error));
  g_assert_no_error (error);

  g_test_add_func ("/app/results/confusion-view", test_confusion_view);
  g_test_add_func ("/app/results/run", test_results);
  g_test_add_func ("/app/results/no-validation", test_no_validation);
  g_test_add_func ("/app/results/late-page", test_late_page);
  g_test_add_func ("/app/results/many-mistakes", test_many_mistakes);
  status = g_test_run ();

  test_remove_tree (folder);
  test_remove_tree (tmp);
  g_free (folder);
  g_free (tmp);
  g_free (model_path);
  g_free (cache_folder);
  return status;
}
