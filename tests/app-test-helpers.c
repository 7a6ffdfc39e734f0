#include "app-test-helpers.h"

#include "engine/parallel.h"
#include "gradcheck.h"
#include "graft-data-page.h"
#include "graft-results-page.h"
#include "graft-train-page.h"

void
app_test_iterate_for (int milliseconds)
{
  gint64 end = g_get_monotonic_time () + milliseconds * 1000;
  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

gboolean
app_test_wait_until (AppTestCondition condition, gpointer data, int seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;

  while (!condition (data) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return condition (data);
}

gboolean
app_test_flag_set (gpointer data)
{
  return *(gboolean *) data;
}

GtkWidget *
app_test_show_in_window (GtkWidget *child, int width, int height)
{
  GtkWidget *window = gtk_window_new ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_set_child (GTK_WINDOW (window), child);
  gtk_window_present (GTK_WINDOW (window));
  while ((!gtk_widget_get_mapped (child) || gtk_widget_get_width (child) <= 1)
         && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  app_test_iterate_for (100);
  return window;
}

typedef struct {
  GtkWidget *window;
  const char *path;
  gboolean done;
} Shot;

/* Right after a frame, when every widget has its allocation (a running training
 * changes labels, and with them the layout, between frames). */
static void
take_shot (GdkFrameClock *clock, Shot *shot)
{
  GtkWidget *window = shot->window;
  GtkSnapshot *snapshot;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (window), height = gtk_widget_get_height (window);
  GdkRGBA background;

  if (shot->done)
    return;
  shot->done = TRUE;
  snapshot = gtk_snapshot_new ();
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (window), "window_bg_color", &background))
    gdk_rgba_parse (&background, "#fafafa");
  G_GNUC_END_IGNORE_DEPRECATIONS
  gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
  GTK_WIDGET_GET_CLASS (window)->snapshot (window, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, shot->path));
  g_test_message ("saved %s", shot->path);
}

void
app_test_save_shot (GtkWidget *window, const char *name)
{
  const char *shots = g_getenv ("GRAFT_SHOTS");
  g_autofree char *path = NULL;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);
  Shot shot = { window, NULL, FALSE };
  gulong id;

  if (shots == NULL)
    return;
  g_mkdir_with_parents (shots, 0755);
  path = g_build_filename (shots, name, NULL);
  shot.path = path;
  id = g_signal_connect (clock, "after-paint", G_CALLBACK (take_shot), &shot);
  gtk_widget_queue_draw (window);
  while (!shot.done)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (clock, id);
}

void
app_test_save_light_and_dark (GtkWidget *window, const char *stem)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  g_autofree char *light = g_strdup_printf ("%s-light.png", stem);
  g_autofree char *dark = g_strdup_printf ("%s-dark.png", stem);

  if (g_getenv ("GRAFT_SHOTS") == NULL)
    return;
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  app_test_iterate_for (150);
  app_test_save_shot (window, light);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  app_test_iterate_for (150);
  app_test_save_shot (window, dark);
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  app_test_iterate_for (50);
}

GtkWidget *
app_test_template_child (gpointer widget, GType type, const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (widget), type, name);
  if (object == NULL)
    g_error ("no template child “%s” in %s", name, g_type_name (type));
  return GTK_WIDGET (object);
}

GtkEventController *
app_test_find_controller (GtkWidget *widget, GType type)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GtkEventController) controller = g_list_model_get_item (controllers, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (controller, type))
        return controller; /* the widget keeps it */
    }
  return NULL;
}

GraftApplication *
app_test_application_new (void)
{
  GraftApplication *application = graft_application_new ();
  g_autoptr (GError) error = NULL;

  g_application_set_flags (G_APPLICATION (application),
                           g_application_get_flags (G_APPLICATION (application)) | G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (application), NULL, &error));
  g_assert_no_error (error);
  return application;
}

const char *
app_test_visible_page (GraftWindow *window)
{
  GtkStack *main_stack = GTK_STACK (app_test_template_child (window, GRAFT_TYPE_WINDOW, "main_stack"));
  AdwViewStack *view_stack = ADW_VIEW_STACK (app_test_template_child (window, GRAFT_TYPE_WINDOW, "view_stack"));

  if (g_strcmp0 (gtk_stack_get_visible_child_name (main_stack), "welcome") == 0)
    return "welcome";
  return adw_view_stack_get_visible_child_name (view_stack);
}

GtkWidget *
app_test_window_page (GraftWindow *window, const char *name)
{
  AdwViewStack *stack = ADW_VIEW_STACK (app_test_template_child (window, GRAFT_TYPE_WINDOW, "view_stack"));
  GtkWidget *child = adw_view_stack_get_child_by_name (stack, name);

  g_assert_nonnull (child);
  return child;
}

gboolean
app_test_init_with_samples (int *argc, char ***argv, const char *home_template, char **home)
{
  g_autofree char *data = NULL;
  g_autofree char *samples = NULL;

  *home = test_private_user_dirs (home_template, FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("LC_ALL", "C", TRUE);

  g_test_init (argc, argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      test_remove_tree (*home);
      return FALSE;
    }
  adw_init ();
  graft_set_num_threads (2);

  data = g_test_build_filename (G_TEST_DIST, "..", "data", NULL);
  samples = g_build_filename (data, "samples", NULL);
  if (!g_file_test (samples, G_FILE_TEST_IS_DIR))
    {
      g_print ("1..0 # SKIP no sample images in the source tree\n");
      test_remove_tree (*home);
      return FALSE;
    }
  g_setenv ("GRAFT_DATA_DIR", data, TRUE);
  return TRUE;
}

GraftProjectObject *
app_test_window_project (GraftWindow *window)
{
  return graft_data_page_get_project (GRAFT_DATA_PAGE (app_test_window_page (window, "data")));
}

GraftWindow *
app_test_window_new (GraftApplication *application)
{
  GraftWindow *window = graft_window_new (application);

  gtk_window_set_default_size (GTK_WINDOW (window), 1360, 860);
  gtk_window_present (GTK_WINDOW (window));
  APP_TEST_WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 10);
  return window;
}

static guint
train_images (GraftWindow *window)
{
  GraftDataset *train = graft_session_get_train_dataset (graft_window_get_session (window));
  return train != NULL ? train->items->len : 0;
}

void
app_test_open_sample (GraftWindow *window)
{
  graft_window_open_sample (window);
  APP_TEST_WAIT_UNTIL (app_test_window_project (window) != NULL
                       && graft_session_get_model (graft_window_get_session (window)) != NULL
                       && train_images (window) > 0,
                       120);
  g_assert_nonnull (graft_session_get_model (graft_window_get_session (window)));
  g_assert_cmpuint (train_images (window), >, 0);
}

void
app_test_train (GraftWindow *window, int epochs)
{
  GraftSession *session = graft_window_get_session (window);
  GraftTraining *training = graft_window_get_training (window);
  GtkWidget *start = app_test_template_child (app_test_window_page (window, "train"), GRAFT_TYPE_TRAIN_PAGE, "start_button");

  graft_session_get_spec (session)->epochs = epochs;
  graft_session_spec_changed (session);
  graft_window_show_page (window, "train");
  app_test_iterate_for (300);
  g_assert_true (gtk_widget_is_sensitive (start));
  g_assert_true (gtk_widget_activate (start));
  APP_TEST_WAIT_UNTIL (graft_training_is_busy (training), 10);
  if (!graft_training_is_busy (training))
    g_test_message ("not started: %s", gtk_label_get_label (GTK_LABEL (app_test_template_child (
                                         app_test_window_page (window, "train"), GRAFT_TYPE_TRAIN_PAGE, "error_label"))));
  APP_TEST_WAIT_UNTIL (!graft_training_is_busy (training) && !graft_project_object_get_recording (app_test_window_project (window)), 120);
  g_assert_cmpint (graft_training_get_state (training), ==, GRAFT_TRAINING_FINISHED);
  g_assert_false (graft_project_object_get_recording (app_test_window_project (window)));
  APP_TEST_WAIT_UNTIL (!graft_results_page_is_busy (GRAFT_RESULTS_PAGE (app_test_window_page (window, "results")))
                && graft_results_page_get_metrics (GRAFT_RESULTS_PAGE (app_test_window_page (window, "results"))) != NULL,
              60);
}
