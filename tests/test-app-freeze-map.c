/* The freeze map on MobileNetV2 (19 backbone blocks from 900 to 470 K parameters):
 * its layout (every block readable, none overlapping, heavier blocks taller), clicks,
 * Shift ranges and the cut, through the same code paths as the pointer (the widget's
 * actions), checked against the session's spec. */
#include <adwaita.h>
#include <glib/gstdio.h>

#include "../bench/mobilenet-v2.c"
#include "graft-format.h"
#include "graft-freeze-map.h"
#include "model/model-private.h"
#include "app-test-helpers.h"

static char *model_path;

/* MobileNetV2 with seeded weights, written as ONNX so that the session loads it from a
 * path, as the app does. */
static char *
write_mobilenet (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("graft-freeze-map-XXXXXX", &error);
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

typedef struct {
  GtkWidget *window;
  GraftFreezeMap *map;
  GraftSession *session;
  int selected_signals;
  int last_selected;
} Fixture;

static void
wait_for_frames (void)
{
  gint64 end = g_get_monotonic_time () + 200 * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

static void
on_block_selected (GraftFreezeMap *map, int block, Fixture *f)
{
  f->selected_signals++;
  f->last_selected = block;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  f->session = graft_session_new ();
  g_assert_true (graft_session_load_model (f->session, model_path, &error));
  g_assert_no_error (error);
  f->map = GRAFT_FREEZE_MAP (graft_freeze_map_new ());
  graft_freeze_map_set_session (f->map, f->session);
  g_signal_connect (f->map, "block-selected", G_CALLBACK (on_block_selected), f);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (f->map));
  f->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (f->window), 420, 860);
  gtk_window_set_child (GTK_WINDOW (f->window), scrolled);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_for_frames ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_object_unref (f->session);
}

static void
toggle (Fixture *f, int block)
{
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.toggle", "i", block);
}

static void
test_layout (Fixture *f, gconstpointer data)
{
  int n = graft_session_get_n_blocks (f->session);
  graphene_rect_t area, above, head;
  double cut;

  g_assert_cmpint (n, ==, 19);
  g_assert_true (graft_freeze_map_get_block_area (f->map, n, &head));
  for (int b = 0; b < n; b++)
    {
      g_assert_true (graft_freeze_map_get_block_area (f->map, b, &area));
      /* Readable and clickable, however small the block. */
      g_assert_cmpfloat (area.size.height, >=, 22);
      g_assert_cmpfloat (area.size.width, >=, 200);
      /* Bottom to top, never overlapping, under the head. */
      g_assert_cmpfloat (area.origin.y, >, head.origin.y + head.size.height);
      if (b + 1 < n)
        {
          g_assert_true (graft_freeze_map_get_block_area (f->map, b + 1, &above));
          g_assert_cmpfloat (above.origin.y + above.size.height, <=, area.origin.y);
        }
    }
  g_assert_false (graft_freeze_map_get_block_area (f->map, n + 1, &area));
  /* Heights follow the parameters: features.17 (474 K) is taller than features.0 (928),
   * and features.15 and .16 (320 K each) are equal. */
  {
    graphene_rect_t small, big, a, b;
    graft_freeze_map_get_block_area (f->map, 0, &small);
    graft_freeze_map_get_block_area (f->map, 17, &big);
    graft_freeze_map_get_block_area (f->map, 15, &a);
    graft_freeze_map_get_block_area (f->map, 16, &b);
    g_test_message ("features.0: %.0f px, features.17: %.0f px", small.size.height, big.size.height);
    g_assert_cmpfloat (big.size.height, >, small.size.height * 1.5);
    g_assert_cmpfloat (a.size.height, ==, b.size.height);
  }
  /* The cut handle sits between the top block and the head by default. */
  cut = graft_freeze_map_get_cut_position (f->map);
  graft_freeze_map_get_block_area (f->map, n - 1, &area);
  g_assert_cmpfloat (cut, <, area.origin.y);
  g_assert_cmpfloat (cut, >, head.origin.y + head.size.height);

  /* By FLOPs the heights change; the minimum still holds. */
  graft_freeze_map_set_measure (f->map, GRAFT_FREEZE_MAP_MEASURE_FLOPS);
  for (int b = 0; b < n; b++)
    {
      g_assert_true (graft_freeze_map_get_block_area (f->map, b, &area));
      g_assert_cmpfloat (area.size.height, >=, 22);
    }
}

static void
test_toggle (Fixture *f, gconstpointer data)
{
  GraftSessionSpec *spec = graft_session_get_spec (f->session);

  /* Feature extraction: every block frozen. */
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
  for (int b = 0; b < 19; b++)
    g_assert_false (graft_session_get_block_trains (f->session, b, 0));

  toggle (f, 5);
  g_assert_true (graft_session_get_block_trains (f->session, 5, 0));
  g_assert_false (graft_session_get_block_trains (f->session, 4, 0));
  g_assert_false (graft_session_get_block_trains (f->session, 6, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 5);
  g_assert_cmpint (f->last_selected, ==, 5);
  g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (spec->block_overrides, "features.5")), ==, 1);

  /* Shift+click from the last toggled block: the range takes its state. */
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.extend", "i", 9);
  for (int b = 0; b < 19; b++)
    g_assert_cmpint (graft_session_get_block_trains (f->session, b, 0), ==, b >= 5 && b <= 9);

  /* A second click freezes it again; downward ranges work too. */
  toggle (f, 7);
  g_assert_false (graft_session_get_block_trains (f->session, 7, 0));
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.extend", "i", 5);
  for (int b = 0; b < 19; b++)
    g_assert_cmpint (graft_session_get_block_trains (f->session, b, 0), ==, b >= 8 && b <= 9);

  /* The head is selectable but not a block to freeze. */
  toggle (f, 19);
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 19);
  g_assert_cmpint (f->last_selected, ==, 19);
}

static void
test_cut (Fixture *f, gconstpointer data)
{
  GraftSessionSpec *spec = graft_session_get_spec (f->session);
  graphene_rect_t below, above;
  double cut;

  g_assert_null (spec->cut);
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.set-cut", "i", 12);
  spec = graft_session_get_spec (f->session);
  g_assert_nonnull (spec->cut);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 12);
  /* features.12 ends with its residual Add. */
  g_assert_cmpstr (spec->cut, ==, "features.12.add");
  wait_for_frames ();
  cut = graft_freeze_map_get_cut_position (f->map);
  graft_freeze_map_get_block_area (f->map, 12, &below);
  graft_freeze_map_get_block_area (f->map, 13, &above);
  g_assert_cmpfloat (cut, >, above.origin.y + above.size.height);
  g_assert_cmpfloat (cut, <, below.origin.y);

  /* A block above the cut is removed: a click selects it but changes nothing. */
  toggle (f, 15);
  g_assert_false (graft_session_get_block_trains (f->session, 15, 0));
  g_assert_null (g_hash_table_lookup (spec->block_overrides, "features.15"));

  /* Back to the top: the default cut (the classifier's input). */
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.set-cut", "i", 18);
  g_assert_null (graft_session_get_spec (f->session)->cut);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 18);
}

static void
test_epoch (Fixture *f, gconstpointer data)
{
  /* ULMFiT: one more block per epoch from the top. */
  graft_session_set_strategy (f->session, GRAFT_STRATEGY_PROGRESSIVE_ULMFIT);
  g_assert_false (graft_session_get_block_trains (f->session, 18, 0));
  graft_freeze_map_set_epoch (f->map, 3);
  g_assert_cmpint (graft_freeze_map_get_epoch (f->map), ==, 3);
  /* Toggling shows and edits the state at the map's epoch. */
  g_assert_true (graft_session_get_block_trains (f->session, 17, 3));
  toggle (f, 17);
  g_assert_false (graft_session_get_block_trains (f->session, 17, 3));
}

/* The pointer, through the map's own drag gesture handlers: a press and release on a
 * block toggles it; a drag of the cut handle moves the cut to the nearest boundary. */
static void
test_pointer (Fixture *f, gconstpointer data)
{
  GtkEventController *drag = app_test_find_controller (GTK_WIDGET (f->map), GTK_TYPE_GESTURE_DRAG);
  graphene_rect_t area, target;
  double cut_y;

  g_assert_nonnull (drag);
  graft_freeze_map_get_block_area (f->map, 6, &area);
  g_signal_emit_by_name (drag, "drag-begin", (double) area.origin.x + 40, (double) area.origin.y + area.size.height / 2);
  g_signal_emit_by_name (drag, "drag-end", 1.0, 1.0);
  g_assert_true (graft_session_get_block_trains (f->session, 6, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 6);

  /* A press that moves away is not a click. */
  g_signal_emit_by_name (drag, "drag-begin", (double) area.origin.x + 40, (double) area.origin.y + area.size.height / 2);
  g_signal_emit_by_name (drag, "drag-end", 0.0, 200.0);
  g_assert_true (graft_session_get_block_trains (f->session, 6, 0));

  /* Drag the cut from above features.18 to just above features.10. */
  cut_y = graft_freeze_map_get_cut_position (f->map);
  graft_freeze_map_get_block_area (f->map, 10, &target);
  g_signal_emit_by_name (drag, "drag-begin", (double) area.origin.x + area.size.width - 20, cut_y);
  g_signal_emit_by_name (drag, "drag-update", 0.0, (double) target.origin.y - 2 - cut_y);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 18);  /* not until the release */
  g_signal_emit_by_name (drag, "drag-end", 0.0, (double) target.origin.y - 2 - cut_y);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 10);
  g_assert_cmpstr (graft_session_get_spec (f->session)->cut, ==, "features.10.add");
}

/* The keyboard, through the map's key controller. */
static gboolean
press (Fixture *f, guint keyval, GdkModifierType state)
{
  GtkEventController *keys = app_test_find_controller (GTK_WIDGET (f->map), GTK_TYPE_EVENT_CONTROLLER_KEY);
  gboolean handled = FALSE;
  g_signal_emit_by_name (keys, "key-pressed", keyval, 0, state, &handled);
  return handled;
}

static void
test_keyboard (Fixture *f, gconstpointer data)
{
  g_assert_true (gtk_widget_get_focusable (GTK_WIDGET (f->map)));
  graft_freeze_map_set_selected (f->map, 3);
  g_assert_true (press (f, GDK_KEY_Up, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 4);
  g_assert_true (press (f, GDK_KEY_space, 0));
  g_assert_true (graft_session_get_block_trains (f->session, 4, 0));
  /* Shift+Up extends what Space did. */
  g_assert_true (press (f, GDK_KEY_Up, GDK_SHIFT_MASK));
  g_assert_true (press (f, GDK_KEY_Up, GDK_SHIFT_MASK));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 6);
  for (int b = 0; b < 19; b++)
    g_assert_cmpint (graft_session_get_block_trains (f->session, b, 0), ==, b >= 4 && b <= 6);
  g_assert_true (press (f, GDK_KEY_Down, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 5);
  /* Control+Down moves the cut down one block. */
  g_assert_true (press (f, GDK_KEY_Down, GDK_CONTROL_MASK));
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 17);
  g_assert_true (press (f, GDK_KEY_Home, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 19);
  g_assert_true (press (f, GDK_KEY_End, 0));
  g_assert_cmpint (graft_freeze_map_get_selected (f->map), ==, 0);
  g_assert_false (press (f, GDK_KEY_a, 0));
}

/* Each preset sets its cut on the map: Replace Top Layers removes the last stage
 * (features.14 to 18), and Feature Extraction puts the cut back under the head. */
static void
test_presets_cut (Fixture *f, gconstpointer data)
{
  graphene_rect_t area, head;
  graft_freeze_map_get_block_area (f->map, 19, &head);
  graft_session_set_strategy (f->session, GRAFT_STRATEGY_REPLACE_TOP);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 13);
  graft_freeze_map_get_block_area (f->map, 14, &area);
  g_assert_cmpfloat (graft_freeze_map_get_cut_position (f->map), >, area.origin.y + area.size.height);
  graft_freeze_map_get_block_area (f->map, 13, &area);
  g_assert_cmpfloat (graft_freeze_map_get_cut_position (f->map), <, area.origin.y);
  graft_session_set_strategy (f->session, GRAFT_STRATEGY_FEATURE_EXTRACTION);
  g_assert_cmpint (graft_session_get_cut_block (f->session), ==, 18);
  graft_freeze_map_get_block_area (f->map, 18, &area);
  g_assert_cmpfloat (graft_freeze_map_get_cut_position (f->map), <, area.origin.y);
  g_assert_cmpfloat (graft_freeze_map_get_cut_position (f->map), >, head.origin.y + head.size.height);
  /* The cut dragged down under feature extraction: still the head alone, and a spec the
   * trainer takes (blocks counted below the cut). */
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.set-cut", "i", 10);
  g_assert_cmpint (graft_session_get_spec (f->session)->stages[0].trainable_from, ==, 11);
  g_assert_true (graft_session_spec_validate (graft_session_get_spec (f->session), 11, NULL));
  /* Replace Top Layers with the cut dragged back up: the blocks it keeps stay frozen. */
  graft_session_set_strategy (f->session, GRAFT_STRATEGY_REPLACE_TOP);
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.set-cut", "i", 16);
  for (int b = 0; b <= 16; b++)
    g_assert_false (graft_session_get_block_trains (f->session, b, 0));
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.set-cut", "i", 18);
  for (int b = 0; b < 19; b++)
    g_assert_false (graft_session_get_block_trains (f->session, b, 0));
}

/* A block's BatchNorm policy, set on the map (B, or the action): running statistics,
 * batch statistics, recalibrated, and back; the other blocks keep the spec's. */
static void
test_batchnorm (Fixture *f, gconstpointer data)
{
  GraftSessionSpec *spec;
  graft_freeze_map_set_selected (f->map, 12);
  g_assert_true (press (f, GDK_KEY_b, 0));
  spec = graft_session_get_spec (f->session);
  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "features.12"), ==,
                   GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS);
  gtk_widget_activate_action (GTK_WIDGET (f->map), "freeze-map.cycle-batchnorm", "i", 12);
  spec = graft_session_get_spec (f->session);
  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "features.12"), ==, GRAFT_BATCHNORM_RECALIBRATE);
  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "features.11"), ==, GRAFT_BATCHNORM_FROZEN_INFERENCE);
  g_assert_cmpstr (graft_freeze_map_describe_batchnorm (GRAFT_BATCHNORM_RECALIBRATE), ==, "BatchNorm: recalibrated");
  graft_freeze_map_set_selected (f->map, 3);
  g_assert_true (press (f, GDK_KEY_b, 0));
  app_test_save_shot (f->window, "freeze-map-batchnorm.png");
  g_assert_true (press (f, GDK_KEY_b, 0));
  g_assert_true (press (f, GDK_KEY_b, 0));
  graft_freeze_map_set_selected (f->map, 12);
  g_assert_true (press (f, GDK_KEY_B, 0));
  g_assert_cmpint (graft_session_spec_block_batchnorm (graft_session_get_spec (f->session), "features.12"), ==,
                   GRAFT_BATCHNORM_FROZEN_INFERENCE);
  g_assert_cmpuint (g_hash_table_size (graft_session_get_spec (f->session)->batchnorm_blocks), ==, 0);
}

static void
test_format (void)
{
  static const struct { double value; const char *text; } cases[] = {
    { 0, "0" }, { 928, "928" }, { 8832, "8.8 K" }, { 54272, "54.3 K" }, { 473920, "474 K" },
    { 2.2e6, "2.2 M" }, { 999.6, "1.0 K" }, { 1.1e9, "1.1 G" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = graft_format_count (cases[i].value);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
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
  model_path = write_mobilenet ();

  g_test_add_func ("/app/freeze-map/format", test_format);
  g_test_add ("/app/freeze-map/layout", Fixture, NULL, fixture_set_up, test_layout, fixture_tear_down);
  g_test_add ("/app/freeze-map/toggle", Fixture, NULL, fixture_set_up, test_toggle, fixture_tear_down);
  g_test_add ("/app/freeze-map/cut", Fixture, NULL, fixture_set_up, test_cut, fixture_tear_down);
  g_test_add ("/app/freeze-map/pointer", Fixture, NULL, fixture_set_up, test_pointer, fixture_tear_down);
  g_test_add ("/app/freeze-map/keyboard", Fixture, NULL, fixture_set_up, test_keyboard, fixture_tear_down);
  g_test_add ("/app/freeze-map/epoch", Fixture, NULL, fixture_set_up, test_epoch, fixture_tear_down);
  g_test_add ("/app/freeze-map/presets-cut", Fixture, NULL, fixture_set_up, test_presets_cut, fixture_tear_down);
  g_test_add ("/app/freeze-map/batchnorm", Fixture, NULL, fixture_set_up, test_batchnorm, fixture_tear_down);
  result = g_test_run ();

  {
    g_autofree char *folder = g_path_get_dirname (model_path);
    g_unlink (model_path);
    g_rmdir (folder);
    g_free (model_path);
  }
  return result;
}
