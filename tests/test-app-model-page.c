/* The Model page with MobileNetV2 in a 1400×900 window: a click on a block in the freeze
 * map changes the spec, the cut moves, strategy buttons, the layer list's check boxes and
 * the head designer edit the same spec. With GRAFT_SHOTS set, it saves
 * model-page-light.png and model-page-dark.png there. */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "../bench/mobilenet-v2.c"
#include "graft-format.h"
#include "graft-freeze-map.h"
#include "graft-head-designer.h"
#include "graft-model-page.h"
#include "model/surgery.h"
#include "model/model-private.h"
#include "app-test-helpers.h"

static char *model_path;

static char *
write_mobilenet (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("graft-model-page-XXXXXX", &error);
  char *path = g_build_filename (folder, "mobilenet-v2.onnx", NULL);
  GraftModel *model = graft_model_new ();
  mobilenet_v2 net;

  g_assert_no_error (error);
  mobilenet_v2_build (&net, 1000, 224, 7);
  model->graph = net.graph;
  model->input = net.input;
  model->output = model->logits = net.logits;
  model->input_name = g_strdup ("input");
  model->output_name = g_strdup ("classifier.1");
  g_assert_true (graft_model_analyse (model, &error));
  g_assert_no_error (error);
  g_assert_true (graft_model_save (model, path, NULL, &error));
  g_assert_no_error (error);
  graft_model_free (model);
  return path;
}

static void
wait_for_frames (int ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

/* Depth-first search for a widget of type whose "label" or "title" is text (NULL: any). */
static GtkWidget *
find_widget (GtkWidget *root, GType type, const char *text)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    {
      g_autofree char *label = NULL;
      if (text == NULL)
        return root;
      if (g_object_class_find_property (G_OBJECT_GET_CLASS (root), "title") != NULL)
        g_object_get (root, "title", &label, NULL);
      else if (g_object_class_find_property (G_OBJECT_GET_CLASS (root), "label") != NULL)
        g_object_get (root, "label", &label, NULL);
      if (g_strcmp0 (label, text) == 0)
        return root;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The active strategy button, or NULL. */
static GtkWidget *
find_active_toggle (GtkWidget *root)
{
  const char *const strategies[] = {
    _("_Feature Extraction"), _("_Replace Top Layers"), _("Fine-_Tune"), _("Progressive (_ULMFiT)"),
    _("Progressive (fast_ai)"), NULL,
  };
  if (GTK_IS_TOGGLE_BUTTON (root) && gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (root))
      && gtk_button_get_label (GTK_BUTTON (root)) != NULL
      && g_strv_contains (strategies, gtk_button_get_label (GTK_BUTTON (root))))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_active_toggle (child);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
collect_checks (GtkWidget *root, GPtrArray *checks)
{
  if (GTK_IS_CHECK_BUTTON (root) && gtk_widget_get_visible (root) && gtk_widget_get_sensitive (root))
    g_ptr_array_add (checks, root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    collect_checks (child, checks);
}

/* No label under root shows a bare count of 1000 or more ("153600", "153,600"): counts
 * read as graft_format_count writes them ("154 K"), on every part of the page. */
static void
assert_no_bare_counts (GtkWidget *root)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root))
    {
      const char *text = gtk_label_get_text (GTK_LABEL (root));
      guint digits = 0;
      gboolean bare = text[0] != '\0';
      for (const char *c = text; *c != '\0'; c++)
        if (g_ascii_isdigit (*c))
          digits++;
        else if (*c != ',' && *c != '.' && *c != ' ')
          bare = FALSE;
      if (bare && digits >= 4)
        g_error ("a count reads \"%s\", not as graft_format_count writes it", text);
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    assert_no_bare_counts (child);
}

static void
screenshot (GtkWidget *window, const char *name)
{
  if (g_getenv ("GRAFT_SHOTS") == NULL)
    return;
  wait_for_frames (400);
  app_test_save_shot (window, name);
}

static void
on_toast (GraftModelPage *page, const char *message, char **last)
{
  g_free (*last);
  *last = g_strdup (message);
}

static void
test_page (void)
{
  g_autoptr (GraftSession) session = graft_session_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *toast = NULL;
  g_autoptr (GPtrArray) checks = g_ptr_array_new ();
  GtkWidget *window, *box, *header, *page, *button, *row;
  GraftFreezeMap *map;
  GraftSessionSpec *spec;
  int overrides;
  g_autofree char *broken = g_dir_make_tmp ("graft-broken-XXXXXX", NULL);
  g_autofree char *models = g_build_filename (broken, "models", NULL);
  g_autofree char *bad = g_build_filename (models, "graft-starter.onnx", NULL);
  g_autofree char *installed = NULL;

  /* A broken starter model, found through GRAFT_DATA_DIR (unless one is installed). */
  g_unsetenv ("GRAFT_DATA_DIR");
  installed = graft_model_page_find_starter_model ();
  g_assert_cmpint (g_mkdir_with_parents (models, 0700), ==, 0);
  g_assert_true (g_file_set_contents (bad, "this is not protobuf", -1, NULL));
  g_setenv ("GRAFT_DATA_DIR", broken, TRUE);

  page = graft_model_page_new ();
  g_signal_connect (page, "toast", G_CALLBACK (on_toast), &toast);
  graft_model_page_set_session (GRAFT_MODEL_PAGE (page), session);

  window = adw_window_new ();
  gtk_window_set_decorated (GTK_WINDOW (window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 900);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_window_title_new ("Graft", NULL));
  gtk_box_append (GTK_BOX (box), header);
  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (box), page);
  adw_window_set_content (ADW_WINDOW (window), box);
  gtk_window_present (GTK_WINDOW (window));
  wait_for_frames (300);

  /* Without a model, the page offers to choose one. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (find_widget (page, GTK_TYPE_STACK, NULL))), ==,
                   "empty");
  screenshot (window, "model-page-empty.png");
  g_assert_true (graft_session_load_model (session, model_path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (find_widget (page, GTK_TYPE_STACK, NULL))), ==,
                   "model");
  wait_for_frames (300);

  {
    int minimum, natural;
    gtk_widget_measure (page, GTK_ORIENTATION_HORIZONTAL, -1, &minimum, &natural, NULL, NULL);
    g_test_message ("page width: minimum %d, natural %d", minimum, natural);
  }
  map = graft_model_page_get_freeze_map (GRAFT_MODEL_PAGE (page));
  g_assert_true (graft_freeze_map_get_session (map) == session);
  /* The page starts on the block the head is grafted on. */
  g_assert_cmpint (graft_freeze_map_get_selected (map), ==, 18);

  /* A click on a block (the gesture's handler, through the map's action). */
  g_assert_false (graft_session_get_block_trains (session, 14, 0));
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.toggle", "i", 14);
  g_assert_true (graft_session_get_block_trains (session, 14, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (map), ==, 14);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_CUSTOM);

  /* The layer list shows features.14's layers; its check boxes override one layer. */
  wait_for_frames (200);
  collect_checks (find_widget (page, GTK_TYPE_COLUMN_VIEW, NULL), checks);
  g_assert_cmpuint (checks->len, >=, 3);   /* three convolutions and three BatchNorms */
  g_assert_true (gtk_check_button_get_active (g_ptr_array_index (checks, 0)));
  gtk_check_button_set_active (g_ptr_array_index (checks, 0), FALSE);
  spec = graft_session_get_spec (session);
  overrides = (int) g_hash_table_size (spec->parameter_overrides);
  g_assert_cmpint (overrides, ==, 1);   /* the first conv's weight */
  g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (spec->parameter_overrides, "features.14.conv.0.0.weight")), ==, 2);
  /* Toggling the whole block again gives the layer back to its block. */
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.toggle", "i", 14);
  g_assert_cmpint (g_hash_table_size (graft_session_get_spec (session)->parameter_overrides), ==, 0);

  /* Dragging the cut (through the map's action). */
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.set-cut", "i", 16);
  g_assert_cmpstr (graft_session_get_spec (session)->cut, ==, "features.16.add");
  g_assert_cmpint (graft_session_get_cut_block (session), ==, 16);

  /* A strategy button sets the preset with its cut: fine-tuning grafts at the model's
   * classifier, whatever cut was dragged before. */
  button = find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("Fine-_Tune"));
  g_assert_nonnull (button);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (button), TRUE);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_FINE_TUNE);
  g_assert_null (spec->cut);
  g_assert_cmpint (graft_session_get_cut_block (session), ==, 18);
  g_assert_true (graft_session_get_block_trains (session, 16, 0));
  g_assert_false (graft_session_get_block_trains (session, 0, 0));
  /* A block edited by hand over a preset keeps the preset's name; a preset chosen again
   * starts over from it. */
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.toggle", "i", 2);
  g_assert_true (graft_session_get_block_trains (session, 2, 0));
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("_Feature Extraction"))),
                                TRUE);
  g_assert_false (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (button)));
  g_assert_false (graft_session_get_block_trains (session, 2, 0));
  /* Unfreezing a block of feature extraction makes the plan custom: no preset is active. */
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.toggle", "i", 2);
  g_assert_cmpint (graft_session_get_spec (session)->strategy, ==, GRAFT_STRATEGY_CUSTOM);
  g_assert_null (find_active_toggle (page));
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (button), TRUE);
  g_assert_true (find_active_toggle (page) == button);

  /* The head designer: a perceptron with one hidden layer of 256. */
  row = find_widget (page, ADW_TYPE_COMBO_ROW, _("_Type"));
  g_assert_nonnull (row);
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "A linear layer"));
  adw_combo_row_set_selected (ADW_COMBO_ROW (row), 1);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->head.n_hidden, ==, 1);
  g_assert_cmpint (spec->head.hidden[0], ==, 256);
  /* The type's subtitle follows the choice. */
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "A perceptron"));
  /* Its parameter count reads as the freeze map's head row and every count on the page
   * does ("328 K"; it read "328450" beside "328 K"), the exact figure in its tooltip. */
  {
    GtkWidget *designer = find_widget (page, GRAFT_TYPE_HEAD_DESIGNER, NULL);
    GtkWidget *label = app_test_template_child (designer, GRAFT_TYPE_HEAD_DESIGNER, "parameters_label");
    guint64 features = 0, count;
    int classes = 0;
    g_autofree char *shown = NULL;
    g_autofree char *exact = NULL;

    g_assert_true (graft_freeze_map_head_inputs (session, &features, &classes));
    count = graft_head_parameter_count (&graft_session_get_spec (session)->head, features, classes);
    g_assert_cmpuint (count, >=, 1000);
    shown = graft_format_count ((double) count);
    exact = graft_format_count_exact (count);
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (label)), ==, shown);
    g_assert_cmpstr (gtk_widget_get_tooltip_text (label), ==, exact);
    wait_for_frames (100);
    assert_no_bare_counts (page);
  }
  row = find_widget (page, ADW_TYPE_ACTION_ROW, _("_BatchNorm"));
  gtk_switch_set_active (GTK_SWITCH (find_widget (row, GTK_TYPE_SWITCH, NULL)), TRUE);
  g_assert_true (graft_session_get_spec (session)->head.batchnorm);
  adw_combo_row_set_selected (ADW_COMBO_ROW (row = find_widget (page, ADW_TYPE_COMBO_ROW, _("_Activation"))), 2);
  g_assert_cmpint (graft_session_get_spec (session)->head.activation, ==, GRAFT_ACTIVATION_HARD_SWISH);
  /* A preset that brings its own head shows it in the designer. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("_Replace Top Layers"))),
                                TRUE);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_REPLACE_TOP);
  g_assert_cmpint (adw_combo_row_get_selected (ADW_COMBO_ROW (find_widget (page, ADW_TYPE_COMBO_ROW, _("_Type")))), ==,
                   spec->head.n_hidden > 0 ? 1 : 0);
  /* Replace Top Layers removes the last stage (features.14 to 18, at 7×7): the cut moves
   * below it, on the freeze map too, and only the new head trains. */
  g_assert_cmpstr (spec->cut, ==, "features.13.add");
  g_assert_cmpint (graft_session_get_cut_block (session), ==, 13);
  wait_for_frames (100);
  {
    graphene_rect_t above, below;
    double cut_y = graft_freeze_map_get_cut_position (map);
    g_assert_true (graft_freeze_map_get_block_area (map, 14, &above));
    g_assert_true (graft_freeze_map_get_block_area (map, 13, &below));
    /* Blocks are drawn top down: the cut lies between features.14 and features.13. */
    g_assert_cmpfloat (cut_y, >=, above.origin.y + above.size.height);
    g_assert_cmpfloat (cut_y, <=, below.origin.y);
  }
  for (int b = 0; b < 14; b++)
    g_assert_false (graft_session_get_block_trains (session, b, 0));
  screenshot (window, "model-page-replace-top.png");
  /* Feature extraction moves the cut back to the classifier's input. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("_Feature Extraction"))),
                                TRUE);
  g_assert_null (graft_session_get_spec (session)->cut);
  g_assert_cmpint (graft_session_get_cut_block (session), ==, 18);
  {
    graphene_rect_t top;
    g_assert_true (graft_freeze_map_get_block_area (map, 18, &top));
    g_assert_cmpfloat (graft_freeze_map_get_cut_position (map), <=, top.origin.y);
  }

  /* Preprocessing: the file says nothing, so ImageNet's is shown as assumed; the person
   * sets the mean, the deviation and the channel order, which go into the spec (stored
   * with the project, written in the export's metadata). */
  {
    GtkWidget *group = find_widget (page, ADW_TYPE_PREFERENCES_GROUP, _("Preprocessing"));
    GtkWidget *mean = find_widget (page, ADW_TYPE_ENTRY_ROW, _("_Mean (R, G, B)"));
    GtkWidget *std = find_widget (page, ADW_TYPE_ENTRY_ROW, _("Standard _Deviation (R, G, B)"));
    GtkWidget *channels = find_widget (page, ADW_TYPE_COMBO_ROW, _("_Channel Order"));
    g_autofree char *json = NULL;
    g_autoptr (GraftSessionSpec) back = NULL;

    g_assert_nonnull (group);
    g_assert_nonnull (strstr (adw_preferences_group_get_description (ADW_PREFERENCES_GROUP (group)), "assumed"));
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (mean)), ==, "0.485, 0.456, 0.406");
    spec = graft_session_get_spec (session);
    g_assert_cmpint (spec->preprocessing.size, ==, 224);
    gtk_editable_set_text (GTK_EDITABLE (mean), "0,5; 0,5; 0,5");
    g_assert_cmpfloat (spec->preprocessing.mean[2], ==, 0.5f);
    gtk_editable_set_text (GTK_EDITABLE (std), "0.25 zero");
    g_assert_true (gtk_widget_has_css_class (std, "error"));
    gtk_editable_set_text (GTK_EDITABLE (std), "0.25");
    g_assert_false (gtk_widget_has_css_class (std, "error"));
    g_assert_cmpfloat (spec->preprocessing.std[1], ==, 0.25f);
    adw_combo_row_set_selected (ADW_COMBO_ROW (channels), 1);
    g_assert_true (spec->preprocessing.bgr);
    json = graft_session_spec_to_json (spec);
    back = graft_session_spec_from_json (json, &error);
    g_assert_no_error (error);
    g_assert_true (back->preprocessing.bgr);
    g_assert_cmpfloat (back->preprocessing.std[0], ==, 0.25f);
    {
      GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (
          GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (group, GTK_TYPE_SCROLLED_WINDOW)));
      wait_for_frames (100);
      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
      screenshot (window, "model-page-preprocessing.png");
      gtk_adjustment_set_value (adjustment, 0);
    }
  }

  /* What the screenshots show: fine-tuning the top blocks of MobileNetV2 with a small
   * perceptron head, cut at the default place, features.17's layers listed. */
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.set-cut", "i", 18);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("Fine-_Tune"))), TRUE);
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.set-cut", "i", 16);
  adw_combo_row_set_selected (ADW_COMBO_ROW (find_widget (page, ADW_TYPE_COMBO_ROW, _("_Type"))), 1);
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.select", "i", 19);
  wait_for_frames (100);
  gtk_widget_activate_action (GTK_WIDGET (map), "freeze-map.select", "i", 15);
  screenshot (window, g_getenv ("GRAFT_TEST_LOCALEDIR") != NULL ? "model-page-translated-light.png"
                                                                 : "model-page-light.png");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
  screenshot (window, "model-page-dark.png");
  {
    /* The head designer, at the bottom of the right-hand side. */
    GtkWidget *designer_scroller = gtk_widget_get_ancestor (find_widget (page, ADW_TYPE_COMBO_ROW, _("_Type")),
                                                            GTK_TYPE_SCROLLED_WINDOW);
    GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (designer_scroller));
    gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
    screenshot (window, "model-page-head-dark.png");
    gtk_adjustment_set_value (adjustment, 0);
  }
  /* By FLOPs, with a linear head and the plan of feature extraction. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("FLOPs"))), TRUE);
  g_assert_cmpint (graft_freeze_map_get_measure (map), ==, GRAFT_FREEZE_MAP_MEASURE_FLOPS);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("Progressive (_ULMFiT)"))),
                                TRUE);
  graft_freeze_map_set_epoch (map, 4);
  screenshot (window, "model-page-flops-dark.png");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_widget (page, GTK_TYPE_TOGGLE_BUTTON, _("Parameters"))), TRUE);
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);

  /* A file that is not a model: the person is told, in words, and keeps the model.
   * Through the starter action, with GRAFT_DATA_DIR pointing at a broken starter model
   * (unless a real one is installed, which is found first). */
  if (installed == NULL)
    {
      gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      g_assert_true (gtk_widget_activate_action (page, "model-page.load-starter", NULL));
      while (toast == NULL && g_get_monotonic_time () < end)
        g_main_context_iteration (NULL, TRUE);
      g_assert_nonnull (toast);
      g_test_message ("toast: %s", toast);
      g_assert_nonnull (strstr (toast, "graft-starter.onnx"));
      g_assert_nonnull (graft_session_get_model (session));
      g_assert_cmpstr (graft_session_get_model_path (session), ==, model_path);
    }
  g_unsetenv ("GRAFT_DATA_DIR");
  g_unlink (bad);
  g_rmdir (models);
  g_rmdir (broken);

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_starter_lookup (void)
{
  g_autofree char *folder = g_dir_make_tmp ("graft-data-XXXXXX", NULL);
  g_autofree char *models = g_build_filename (folder, "models", NULL);
  g_autofree char *path = g_build_filename (models, "graft-starter.onnx", NULL);
  g_autofree char *found = NULL;
  g_autofree char *previous = g_strdup (g_getenv ("GRAFT_DATA_DIR"));

  g_assert_cmpint (g_mkdir_with_parents (models, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  g_setenv ("GRAFT_DATA_DIR", folder, TRUE);
  found = graft_model_page_find_starter_model ();
  /* An installed starter model wins over the uninstalled one. */
  g_assert_nonnull (found);
  g_assert_true (g_str_equal (found, path) || g_str_has_suffix (found, "/graft/models/graft-starter.onnx"));
  if (previous != NULL)
    g_setenv ("GRAFT_DATA_DIR", previous, TRUE);
  else
    g_unsetenv ("GRAFT_DATA_DIR");
  g_unlink (path);
  g_rmdir (models);
  g_rmdir (folder);
}

int
main (int argc, char **argv)
{
  int result;

  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  /* GRAFT_TEST_LOCALEDIR (e.g. build/po) with LANGUAGE=fr: the page in French. */
  if (g_getenv ("GRAFT_TEST_LOCALEDIR") != NULL)
    {
      bindtextdomain ("graft", g_getenv ("GRAFT_TEST_LOCALEDIR"));
      bind_textdomain_codeset ("graft", "UTF-8");
      textdomain ("graft");
    }
  model_path = write_mobilenet ();

  g_test_add_func ("/app/model-page/starter-lookup", test_starter_lookup);
  g_test_add_func ("/app/model-page/page", test_page);
  result = g_test_run ();

  {
    g_autofree char *folder = g_path_get_dirname (model_path);
    g_unlink (model_path);
    g_rmdir (folder);
    g_free (model_path);
  }
  return result;
}
