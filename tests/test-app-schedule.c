/* The Schedule page with MobileNetV2: the timeline's cells follow the session's
 * ULMFiT and fastai presets cell by cell, its actions move, split and remove stages
 * and change a stage's unfreeze level (keeping stages strictly increasing), the keyboard
 * does the same, and the page's controls write the spec and follow it without feedback
 * loops, validating as they go. With GRAFT_SHOTS set, it saves
 * schedule-{ulmfit,fastai}-{light,dark}.png and schedule-{light,dark}.png there. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>

#include "../bench/mobilenet-v2.c"
#include "graft-schedule-page.h"
#include "graft-schedule-timeline.h"
#include "model/model-private.h"
#include "app-test-helpers.h"

static char *model_path;

static char *
write_mobilenet (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("graft-schedule-XXXXXX", &error);
  char *path = g_build_filename (folder, "mobilenet-v2.onnx", NULL);
  GraftModel *model = graft_model_new ();
  mobilenet_v2 net;

  g_assert_no_error (error);
  mobilenet_v2_build (&net, 10, 224, 7);
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

static GraftSession *
mobilenet_session (void)
{
  GraftSession *session = graft_session_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (graft_session_load_model (session, model_path, &error));
  g_assert_no_error (error);
  /* features.0 .. features.18; the classifier is replaced by the new head. */
  g_assert_cmpint (graft_session_get_n_blocks (session), ==, 19);
  return session;
}

static void
wait_for_frames (int ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

static void
count_emission (GraftSession *session, int *count)
{
  (*count)++;
}

/* Every cell of the grid against the session; the head always trains. */
static void
assert_cells_match (GraftScheduleTimeline *timeline, GraftSession *session)
{
  GraftSessionSpec *spec = graft_session_get_spec (session);
  int n_blocks = graft_session_get_n_blocks (session);

  for (int e = 0; e < spec->epochs; e++)
    {
      for (int b = 0; b < n_blocks; b++)
        {
          gboolean trains = graft_session_get_block_trains (session, b, e);
          g_assert_cmpint (graft_schedule_timeline_cell_trains (timeline, b, e), ==, trains);
          if (trains)
            g_assert_cmpfloat_with_epsilon (graft_schedule_timeline_cell_multiplier (timeline, b, e),
                                            graft_session_spec_block_lr_factor (
                                                spec, e, b, graft_session_get_block (session, b)->name, n_blocks),
                                            1e-12);
          else
            g_assert_cmpfloat (graft_schedule_timeline_cell_multiplier (timeline, b, e), ==, 0);
        }
      g_assert_true (graft_schedule_timeline_cell_trains (timeline, n_blocks, e));
      g_assert_cmpfloat (graft_schedule_timeline_cell_multiplier (timeline, n_blocks, e), ==, 1);
    }
  /* Outside the grid. */
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 0, spec->epochs));
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, n_blocks + 1, 0));
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, -1, 0));
}

static void
assert_stages_increase (const GraftSessionSpec *spec)
{
  g_assert_cmpint (spec->n_stages, >=, 1);
  g_assert_cmpint (spec->stages[0].epoch, ==, 0);
  for (int s = 1; s < spec->n_stages; s++)
    g_assert_cmpint (spec->stages[s].epoch, >, spec->stages[s - 1].epoch);
}

static void
test_presets (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  GtkWidget *widget = g_object_ref_sink (graft_schedule_timeline_new ());
  GraftScheduleTimeline *timeline = GRAFT_SCHEDULE_TIMELINE (widget);
  GraftSessionSpec *spec;
  g_autofree char *description = NULL;

  graft_schedule_timeline_set_session (timeline, session);
  g_assert_true (graft_schedule_timeline_get_session (timeline) == session);

  /* ULMFiT: one more block each epoch, top down; 19 multipliers and the head. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_ULMFIT);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->n_stages, ==, 20);
  g_assert_cmpint (spec->epochs, ==, 20);
  assert_cells_match (timeline, session);
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 18, 0));
  g_assert_true (graft_schedule_timeline_cell_trains (timeline, 18, 1));
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 0, 18));
  g_assert_true (graft_schedule_timeline_cell_trains (timeline, 0, 19));
  g_assert_cmpint (graft_schedule_timeline_get_n_curves (timeline), ==, 20);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 0);
  description = graft_schedule_timeline_describe (timeline);
  g_test_message ("%s", description);
  /* Blocks by the names their rows show ("features.18"), not "block 19". */
  {
    const char *bottom = graft_session_get_block (session, 0)->name;
    const char *top = graft_session_get_block (session, 18)->name;
    const char *below_top = graft_session_get_block (session, 17)->name;
    g_autofree char *start = g_strdup_printf ("Stage 1 from epoch 1: only the head trains. "
                                              "Stage 2 from epoch 2: %s and the head train. "
                                              "Stage 3 from epoch 3: %s to %s and the head train.",
                                              top, below_top, top);
    g_autofree char *end = g_strdup_printf ("Stage 20 from epoch 20: %s to %s and the head train.", bottom, top);
    g_assert_cmpstr (top, !=, "");
    g_assert_true (g_str_has_prefix (description, start));
    g_assert_true (g_str_has_suffix (description, end));
    g_assert_null (strstr (description, "block "));
  }
  g_clear_pointer (&description, g_free);

  /* fastai: the head for an epoch, then everything. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->n_stages, ==, 2);
  assert_cells_match (timeline, session);
  for (int b = 0; b < 19; b++)
    {
      g_assert_false (graft_schedule_timeline_cell_trains (timeline, b, 0));
      for (int e = 1; e < spec->epochs; e++)
        g_assert_true (graft_schedule_timeline_cell_trains (timeline, b, e));
    }
  g_assert_cmpint (graft_schedule_timeline_get_n_curves (timeline), ==, 20);
  description = graft_schedule_timeline_describe (timeline);
  {
    g_autofree char *expected = g_strdup_printf ("Stage 1 from epoch 1: only the head trains. "
                                                 "Stage 2 from epoch 2: %s to %s and the head train.",
                                                 graft_session_get_block (session, 0)->name,
                                                 graft_session_get_block (session, 18)->name);
    g_assert_cmpstr (description, ==, expected);
  }

  /* Fine-tuning: the top third trains at a tenth of the rate, one group and the head. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
  assert_cells_match (timeline, session);
  g_assert_cmpint (graft_schedule_timeline_get_n_curves (timeline), ==, 2);
  g_assert_cmpfloat_with_epsilon (graft_schedule_timeline_cell_multiplier (timeline, 18, 0), 0.1, 1e-6);

  /* A block switched off by hand (the freeze map's override) shows frozen. */
  graft_session_set_block_trains (session, 18, FALSE);
  assert_cells_match (timeline, session);
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 18, 3));

  /* Blocks above the cut go with the old classifier: never coloured, no curve. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  graft_session_set_cut_block (session, 15);
  g_assert_false (graft_session_get_block_trains (session, 17, 2));
  g_assert_true (graft_session_get_block_trains (session, 15, 2));
  /* The first stage still trains the head alone, counted below the new cut. */
  g_assert_cmpint (graft_session_get_spec (session)->stages[0].trainable_from, ==, 16);
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 17, 2));
  g_assert_true (graft_schedule_timeline_cell_trains (timeline, 15, 2));
  g_assert_cmpint (graft_schedule_timeline_get_n_curves (timeline), ==, 17);
  g_clear_pointer (&description, g_free);
  description = graft_schedule_timeline_describe (timeline);
  {
    g_autofree char *expected = g_strdup_printf ("Stage 1 from epoch 1: only the head trains. "
                                                 "Stage 2 from epoch 2: %s to %s and the head train.",
                                                 graft_session_get_block (session, 0)->name,
                                                 graft_session_get_block (session, 15)->name);
    g_assert_cmpstr (description, ==, expected);
  }

  /* Without a session, nothing trains. */
  graft_schedule_timeline_set_session (timeline, NULL);
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 0, 0));
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, -1);
  g_object_unref (widget);
}

static void
test_actions (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  GtkWidget *widget = g_object_ref_sink (graft_schedule_timeline_new ());
  GraftScheduleTimeline *timeline = GRAFT_SCHEDULE_TIMELINE (widget);
  GraftSessionSpec *spec;
  int emitted = 0;

  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  graft_schedule_timeline_set_session (timeline, session);
  g_signal_connect (session, "spec-changed", G_CALLBACK (count_emission), &emitted);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->epochs, ==, 5);

  /* Move the second stage to epoch 4 (3, 0-based): the backbone trains from there. */
  g_assert_true (gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 1, 3));
  g_assert_cmpint (spec->stages[1].epoch, ==, 3);
  g_assert_cmpint (emitted, ==, 1);
  assert_cells_match (timeline, session);
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 0, 2));
  g_assert_true (graft_schedule_timeline_cell_trains (timeline, 0, 3));

  /* Clamped: not onto or before stage 1, not past the last epoch; stage 1 stays put;
   * no change, no signal. */
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 1, 0);
  g_assert_cmpint (spec->stages[1].epoch, ==, 1);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 1, 99);
  g_assert_cmpint (spec->stages[1].epoch, ==, 4);
  g_assert_cmpint (emitted, ==, 3);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 1, 4);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 0, 2);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 7, 2);
  g_assert_cmpint (spec->stages[0].epoch, ==, 0);
  g_assert_cmpint (emitted, ==, 3);
  assert_cells_match (timeline, session);

  /* Split at epoch 3 (2, 0-based): a copy of stage 1 starting there; unfreeze its top
   * 10 blocks; remove it again. */
  g_assert_true (gtk_widget_activate_action (widget, "timeline.add-stage", "i", 2));
  g_assert_cmpint (spec->n_stages, ==, 3);
  g_assert_cmpint (spec->stages[1].epoch, ==, 2);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 19);
  g_assert_cmpint (spec->stages[2].epoch, ==, 4);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 1);
  assert_stages_increase (spec);
  gtk_widget_activate_action (widget, "timeline.set-unfreeze", "(ii)", 1, 9);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 9);
  assert_cells_match (timeline, session);
  g_assert_true (graft_schedule_timeline_cell_trains (timeline, 9, 2));
  g_assert_false (graft_schedule_timeline_cell_trains (timeline, 8, 2));
  gtk_widget_activate_action (widget, "timeline.set-unfreeze", "(ii)", 1, -5);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 0);
  gtk_widget_activate_action (widget, "timeline.set-unfreeze", "(ii)", 1, 99);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 19);
  /* No second stage at the same epoch, none at epoch 1 or past the end. */
  emitted = 0;
  gtk_widget_activate_action (widget, "timeline.add-stage", "i", 2);
  gtk_widget_activate_action (widget, "timeline.add-stage", "i", 0);
  gtk_widget_activate_action (widget, "timeline.add-stage", "i", 5);
  g_assert_cmpint (spec->n_stages, ==, 3);
  g_assert_cmpint (emitted, ==, 0);
  gtk_widget_activate_action (widget, "timeline.remove-stage", "i", 1);
  g_assert_cmpint (spec->n_stages, ==, 2);
  g_assert_cmpint (spec->stages[1].epoch, ==, 4);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 0);
  /* Stage 1 cannot go. */
  gtk_widget_activate_action (widget, "timeline.remove-stage", "i", 0);
  g_assert_cmpint (spec->n_stages, ==, 2);
  assert_cells_match (timeline, session);

  /* ULMFiT's stages are one epoch apart: a boundary cannot pass its neighbours. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_ULMFIT);
  spec = graft_session_get_spec (session);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 5, 12);
  g_assert_cmpint (spec->stages[5].epoch, ==, 5);
  gtk_widget_activate_action (widget, "timeline.remove-stage", "i", 6);
  gtk_widget_activate_action (widget, "timeline.move-stage", "(ii)", 5, 12);
  g_assert_cmpint (spec->stages[5].epoch, ==, 6);
  assert_stages_increase (spec);
  assert_cells_match (timeline, session);

  /* Selecting. */
  gtk_widget_activate_action (widget, "timeline.select-stage", "i", 3);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 3);
  gtk_widget_activate_action (widget, "timeline.select-stage", "i", 400);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, spec->n_stages - 1);

  g_signal_handlers_disconnect_by_func (session, count_emission, &emitted);
  g_object_unref (widget);
}

/* Sends a key press to the widget through its key controller. */
static gboolean
press_key (GtkWidget *widget, guint keyval, GdkModifierType state)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);
  gboolean handled = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && !handled; i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);
      if (GTK_IS_EVENT_CONTROLLER_KEY (controller))
        g_signal_emit_by_name (controller, "key-pressed", keyval, 0, state, &handled);
    }
  return handled;
}

static void
test_keyboard (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  GtkWidget *widget = g_object_ref_sink (graft_schedule_timeline_new ());
  GraftScheduleTimeline *timeline = GRAFT_SCHEDULE_TIMELINE (widget);
  GraftSessionSpec *spec;

  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  graft_schedule_timeline_set_session (timeline, session);
  spec = graft_session_get_spec (session);
  g_assert_true (gtk_widget_get_focusable (widget));

  g_assert_true (press_key (widget, GDK_KEY_Right, GDK_CONTROL_MASK));
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 1);
  g_assert_true (press_key (widget, GDK_KEY_Right, 0));
  g_assert_cmpint (spec->stages[1].epoch, ==, 2);
  press_key (widget, GDK_KEY_Left, 0);
  press_key (widget, GDK_KEY_Left, 0);
  g_assert_cmpint (spec->stages[1].epoch, ==, 1);
  /* Up freezes one more block at the bottom of the stage. */
  press_key (widget, GDK_KEY_Up, 0);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 1);
  press_key (widget, GDK_KEY_Down, 0);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 0);
  /* Insert splits the selected stage (epochs 2..5) in the middle; Delete removes it. */
  press_key (widget, GDK_KEY_Insert, 0);
  g_assert_cmpint (spec->n_stages, ==, 3);
  g_assert_cmpint (spec->stages[2].epoch, ==, 3);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 2);
  press_key (widget, GDK_KEY_Delete, 0);
  g_assert_cmpint (spec->n_stages, ==, 2);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 1);
  assert_stages_increase (spec);
  assert_cells_match (timeline, session);
  g_object_unref (widget);
}

static GtkEventController *
find_controller (GtkWidget *widget, GType type, guint button)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (controller, type)
          && gtk_gesture_single_get_button (GTK_GESTURE_SINGLE (controller)) == button)
        return GTK_EVENT_CONTROLLER (controller);
    }
  return NULL;
}

/* A drag from (x, y) by (dx, dy), as the drag gesture reports it. */
static void
drag (GtkWidget *widget, double x, double y, double dx, double dy)
{
  GtkEventController *gesture = find_controller (widget, GTK_TYPE_GESTURE_DRAG, GDK_BUTTON_PRIMARY);
  g_assert_nonnull (gesture);
  g_signal_emit_by_name (gesture, "drag-begin", x, y);
  g_signal_emit_by_name (gesture, "drag-update", dx / 2, dy / 2);
  g_signal_emit_by_name (gesture, "drag-update", dx, dy);
  g_signal_emit_by_name (gesture, "drag-end", dx, dy);
}

/* The pointer in a realised window: drag a boundary and an unfreeze edge, double-click
 * to split a stage, right-click for the stage's menu. */
static void
test_pointer (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  GtkWidget *window = gtk_window_new ();
  GtkWidget *widget = graft_schedule_timeline_new ();
  GraftScheduleTimeline *timeline = GRAFT_SCHEDULE_TIMELINE (widget);
  GtkEventController *click;
  GraftSessionSpec *spec;
  graphene_point_t boundary, edge, cell, next;
  GtkWidget *child;
  gboolean menu_shown = FALSE;

  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  spec = graft_session_get_spec (session);
  graft_schedule_timeline_set_session (timeline, session);
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  gtk_window_set_child (GTK_WINDOW (window), widget);
  gtk_window_present (GTK_WINDOW (window));
  wait_for_frames (300);
  g_assert_cmpint (gtk_widget_get_width (widget), >, 500);

  /* The boundary of stage 2, dragged two columns right. */
  g_assert_true (graft_schedule_timeline_get_stage_handles (timeline, 1, &boundary, &edge));
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 0, 1, &cell));
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 0, 2, &next));
  drag (widget, boundary.x, boundary.y, 2 * (next.x - cell.x), 0);
  g_assert_cmpint (spec->stages[1].epoch, ==, 3);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 1);
  assert_cells_match (timeline, session);

  /* Its unfreeze edge (all blocks: the bottom of the grid) dragged up five rows. */
  g_assert_true (graft_schedule_timeline_get_stage_handles (timeline, 1, &boundary, &edge));
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 1, 3, &next));
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 0, 3, &cell));
  drag (widget, edge.x, edge.y, 0, -5 * (cell.y - next.y));
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 5);
  assert_cells_match (timeline, session);

  /* A press on a cell selects its stage and drags nothing. */
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 10, 0, &cell));
  drag (widget, cell.x, cell.y, 200, 200);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 0);
  g_assert_cmpint (spec->stages[1].epoch, ==, 3);
  g_assert_cmpint (spec->stages[1].trainable_from, ==, 5);

  /* A double-click on epoch 2 (1, 0-based) splits stage 1 there. */
  click = find_controller (widget, GTK_TYPE_GESTURE_CLICK, GDK_BUTTON_PRIMARY);
  g_assert_true (graft_schedule_timeline_get_cell_center (timeline, 4, 1, &cell));
  g_signal_emit_by_name (click, "pressed", 2, (double) cell.x, (double) cell.y);
  g_assert_cmpint (spec->n_stages, ==, 3);
  g_assert_cmpint (spec->stages[1].epoch, ==, 1);
  g_assert_cmpint (spec->stages[2].epoch, ==, 3);
  assert_stages_increase (spec);

  /* A right-click on a boundary opens the stage's menu. */
  click = find_controller (widget, GTK_TYPE_GESTURE_CLICK, GDK_BUTTON_SECONDARY);
  g_assert_true (graft_schedule_timeline_get_stage_handles (timeline, 2, &boundary, NULL));
  g_signal_emit_by_name (click, "pressed", 1, (double) boundary.x, (double) boundary.y + 40);
  wait_for_frames (100);
  g_assert_cmpint (graft_schedule_timeline_get_selected_stage (timeline), ==, 2);
  for (child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_POPOVER_MENU (child) && gtk_widget_get_visible (child))
      {
        menu_shown = TRUE;
        gtk_popover_popdown (GTK_POPOVER (child));
      }
  g_assert_true (menu_shown);

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
screenshot (GtkWidget *window, const char *name)
{
  if (g_getenv ("GRAFT_SHOTS") == NULL)
    return;
  wait_for_frames (400);
  app_test_save_shot (window, name);
}

/* Depth-first search for a widget of type whose "title" is title. */
static GtkWidget *
find_row (GtkWidget *root, GType type, const char *title)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type) && g_object_class_find_property (G_OBJECT_GET_CLASS (root), "title"))
    {
      g_autofree char *text = NULL;
      g_object_get (root, "title", &text, NULL);
      if (g_strcmp0 (text, title) == 0)
        return root;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_row (child, type, title);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_type (GtkWidget *root, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_type (child, type);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The spin button of the row titled title. */
static GtkSpinButton *
row_spin (GtkWidget *page, const char *title)
{
  GtkWidget *row = find_row (page, ADW_TYPE_ACTION_ROW, title);
  g_assert_nonnull (row);
  return GTK_SPIN_BUTTON (find_type (row, GTK_TYPE_SPIN_BUTTON));
}

static void
test_page (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  AdwStyleManager *style = adw_style_manager_get_default ();
  GtkWidget *window, *box, *header, *page;
  GraftSessionSpec *spec;
  GtkSpinButton *epochs;
  AdwComboRow *kind, *optimizer;
  AdwEntryRow *lr;
  GtkWidget *factor_row, *momentum_row, *augmentation;
  GtkRange *factor;
  int emitted = 0;

  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_ULMFIT);
  window = adw_window_new ();
  gtk_window_set_decorated (GTK_WINDOW (window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 900);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_window_title_new ("Graft", "Schedule"));
  gtk_box_append (GTK_BOX (box), header);
  page = graft_schedule_page_new ();
  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (box), page);
  adw_window_set_content (ADW_WINDOW (window), box);
  graft_schedule_page_set_session (GRAFT_SCHEDULE_PAGE (page), session);
  g_assert_true (graft_schedule_page_get_session (GRAFT_SCHEDULE_PAGE (page)) == session);
  gtk_window_present (GTK_WINDOW (window));
  wait_for_frames (200);
  g_signal_connect (session, "spec-changed", G_CALLBACK (count_emission), &emitted);

  epochs = row_spin (page, "_Epochs");
  kind = ADW_COMBO_ROW (find_row (page, ADW_TYPE_COMBO_ROW, "_Schedule"));
  optimizer = ADW_COMBO_ROW (find_row (page, ADW_TYPE_COMBO_ROW, "_Optimizer"));
  lr = ADW_ENTRY_ROW (find_row (page, ADW_TYPE_ENTRY_ROW, "Base _Learning Rate"));
  factor_row = find_row (page, ADW_TYPE_ACTION_ROW, "_Discriminative Factor");
  factor = GTK_RANGE (find_type (factor_row, GTK_TYPE_SCALE));
  momentum_row = find_row (page, ADW_TYPE_ACTION_ROW, "_Momentum");
  augmentation = find_row (page, ADW_TYPE_EXPANDER_ROW, "_Augment Training Images");
  g_assert_nonnull (kind);
  g_assert_nonnull (lr);
  g_assert_nonnull (augmentation);

  /* The controls show the preset. */
  spec = graft_session_get_spec (session);
  g_assert_cmpfloat (gtk_spin_button_get_value (epochs), ==, 20);
  g_assert_cmpuint (adw_combo_row_get_selected (kind), ==, GRAFT_SCHEDULE_SLANTED_TRIANGULAR);
  /* Howard and Ruder's 2.6 per block, spread over two decades at most on MobileNetV2's 19. */
  g_assert_cmpfloat_with_epsilon (spec->discriminative_factor, powf (100.0f, 1.0f / 19), 1e-6);
  g_assert_cmpfloat_with_epsilon (gtk_range_get_value (factor), spec->discriminative_factor, 1e-2);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (lr)), ==, "1e-2");
  g_assert_true (gtk_widget_get_visible (find_row (page, ADW_TYPE_ACTION_ROW, "_Rising Part")));
  g_assert_false (gtk_widget_get_visible (find_row (page, ADW_TYPE_ACTION_ROW, "_Gamma")));
  g_assert_false (gtk_widget_get_visible (momentum_row));
  g_assert_true (adw_expander_row_get_enable_expansion (ADW_EXPANDER_ROW (augmentation)));
  g_assert_null (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)));
  screenshot (window, "schedule-ulmfit-light.png");
  screenshot (window, "schedule-light.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  screenshot (window, "schedule-ulmfit-dark.png");
  screenshot (window, "schedule-dark.png");
  if (g_getenv ("GRAFT_SHOTS") != NULL)
    {
      /* The rest of the settings. */
      GtkAdjustment *adjustment
        = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (find_type (page, GTK_TYPE_SCROLLED_WINDOW)));
      wait_for_frames (200);
      adw_expander_row_set_expanded (ADW_EXPANDER_ROW (augmentation), TRUE);
      wait_for_frames (300);
      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
      screenshot (window, "schedule-settings-dark.png");
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
      screenshot (window, "schedule-settings-light.png");
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
      gtk_adjustment_set_value (adjustment, 0);
      adw_expander_row_set_expanded (ADW_EXPANDER_ROW (augmentation), FALSE);
    }

  /* A control writes its field, once. */
  gtk_spin_button_set_value (epochs, 25);
  g_assert_cmpint (spec->epochs, ==, 25);
  g_assert_cmpint (emitted, ==, 1);
  adw_combo_row_set_selected (kind, GRAFT_SCHEDULE_STEP);
  g_assert_cmpint (spec->schedule.kind, ==, GRAFT_SCHEDULE_STEP);
  g_assert_true (gtk_widget_get_visible (find_row (page, ADW_TYPE_ACTION_ROW, "_Gamma")));
  g_assert_cmpint (emitted, ==, 2);
  gtk_range_set_value (factor, 2.0);
  g_assert_cmpfloat_with_epsilon (spec->discriminative_factor, 2.0, 1e-6);
  adw_combo_row_set_selected (optimizer, GRAFT_OPTIMIZER_SGD);
  g_assert_cmpint (spec->optimizer.kind, ==, GRAFT_OPTIMIZER_SGD);
  g_assert_cmpfloat_with_epsilon (spec->optimizer.momentum, 0.9, 1e-6);
  g_assert_true (gtk_widget_get_visible (momentum_row));
  emitted = 0;

  /* The learning rate: an invalid text is marked and changes nothing; a valid one in
   * any notation is taken. */
  gtk_editable_set_text (GTK_EDITABLE (lr), "fast");
  g_assert_nonnull (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (lr), "error"));
  g_assert_cmpfloat_with_epsilon (spec->optimizer.learning_rate, 1e-2, 1e-9);
  g_assert_cmpint (emitted, ==, 0);
  gtk_editable_set_text (GTK_EDITABLE (lr), "5E-4");
  g_assert_cmpfloat_with_epsilon (spec->optimizer.learning_rate, 5e-4, 1e-9);
  g_assert_null (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (lr), "error"));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (lr)), ==, "5E-4");
  gtk_editable_set_text (GTK_EDITABLE (lr), "0,0002");
  g_assert_cmpfloat_with_epsilon (spec->optimizer.learning_rate, 2e-4, 1e-9);
  g_assert_cmpint (emitted, ==, 2);

  /* BatchNorm: one of three. */
  {
    GtkWidget *row = find_row (page, ADW_TYPE_ACTION_ROW, "_Recalibrate");
    GtkCheckButton *check = GTK_CHECK_BUTTON (find_type (row, GTK_TYPE_CHECK_BUTTON));
    g_assert_cmpint (spec->batchnorm_policy, ==, GRAFT_BATCHNORM_FROZEN_INFERENCE);
    gtk_check_button_set_active (check, TRUE);
    g_assert_cmpint (spec->batchnorm_policy, ==, GRAFT_BATCHNORM_RECALIBRATE);
    g_assert_cmpint (emitted, ==, 3);
  }

  /* Each stage's learning rate and each block's factor, edited in their rows. */
  {
    GtkWidget *stages = find_row (page, ADW_TYPE_EXPANDER_ROW, "Learning Rate of Each _Stage");
    GtkWidget *blocks = find_row (page, ADW_TYPE_EXPANDER_ROW, "Learning-Rate Factor of Each Bloc_k");
    GtkWidget *stage2 = find_row (stages, ADW_TYPE_ACTION_ROW, "Stage 2");
    GtkWidget *block17 = find_row (blocks, ADW_TYPE_ACTION_ROW, "features.17");
    GtkEditable *entry = GTK_EDITABLE (find_type (stage2, GTK_TYPE_ENTRY));
    GtkSpinButton *spin = GTK_SPIN_BUTTON (find_type (block17, GTK_TYPE_SPIN_BUTTON));
    g_autofree char *json = NULL;
    g_autoptr (GraftSessionSpec) back = NULL;
    int n_blocks = graft_session_get_n_blocks (session);

    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (stages), TRUE);
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (blocks), TRUE);
    /* features.17 is second from the top: one over the discriminative factor squared. */
    g_assert_cmpfloat_with_epsilon (gtk_spin_button_get_value (spin), pow (spec->discriminative_factor, -2), 1e-4);
    g_assert_cmpstr (gtk_editable_get_text (entry), ==, "");
    gtk_editable_set_text (entry, "3e-3");
    g_assert_cmpfloat_with_epsilon (spec->stages[1].lr, 3e-3, 1e-9);
    {
      /* A letter typed after it: marked, and the spec keeps the number. */
      int position = -1;
      gtk_editable_insert_text (entry, "q", -1, &position);
    }
    g_assert_cmpstr (gtk_editable_get_text (entry), ==, "3e-3q");
    g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
    g_assert_cmpfloat_with_epsilon (spec->stages[1].lr, 3e-3, 1e-9);
    gtk_editable_set_text (entry, "0,004");
    g_assert_cmpfloat_with_epsilon (spec->stages[1].lr, 4e-3, 1e-9);
    g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
    gtk_spin_button_set_value (spin, 0.5);
    g_assert_cmpfloat (*(float *) g_hash_table_lookup (spec->block_lr_factors, "features.17"), ==, 0.5f);
    g_assert_cmpfloat (graft_session_spec_block_lr_factor (spec, 0, 17, "features.17", n_blocks), ==, 0.5f);
    {
      /* The bottom block's factor is tiny: shown and typed as "1.9e-6". */
      GtkSpinButton *bottom = GTK_SPIN_BUTTON (find_type (find_row (blocks, ADW_TYPE_ACTION_ROW, "features.0"),
                                                          GTK_TYPE_SPIN_BUTTON));
      g_assert_nonnull (strstr (gtk_editable_get_text (GTK_EDITABLE (bottom)), "e-"));
      gtk_editable_set_text (GTK_EDITABLE (bottom), "2e-3");
      gtk_spin_button_update (bottom);
      g_assert_cmpfloat_with_epsilon (*(float *) g_hash_table_lookup (spec->block_lr_factors, "features.0"), 2e-3,
                                      1e-9);
      g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (bottom)), ==, "2e-3");
      graft_session_spec_set_block_lr_factor (spec, "features.0", 0);
      graft_session_spec_changed (session);
    }
    /* The timeline follows the edited factor. */
    assert_cells_match (graft_schedule_page_get_timeline (GRAFT_SCHEDULE_PAGE (page)), session);
    /* In the spec's JSON and back. */
    json = graft_session_spec_to_json (spec);
    back = graft_session_spec_from_json (json, NULL);
    g_assert_nonnull (back);
    g_assert_cmpfloat (back->stages[1].lr, ==, 4e-3f);
    g_assert_cmpfloat (*(float *) g_hash_table_lookup (back->block_lr_factors, "features.17"), ==, 0.5f);
    {
      /* The rows in view, for the screenshot. */
      GtkWidget *scroller = gtk_widget_get_ancestor (blocks, GTK_TYPE_SCROLLED_WINDOW);
      GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
      graphene_point_t top;
      wait_for_frames (100);
      if (gtk_widget_compute_point (stages, gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scroller)),
                                    &GRAPHENE_POINT_INIT (0, 0), &top))
        gtk_adjustment_set_value (adjustment, top.y - 80);
      screenshot (window, "schedule-rates-dark.png");
      gtk_adjustment_set_value (adjustment, 0);
    }
    /* The reset button gives the spread back. */
    g_assert_true (gtk_widget_get_visible (g_object_get_data (G_OBJECT (block17), "graft-reset")));
    g_signal_emit_by_name (g_object_get_data (G_OBJECT (block17), "graft-reset"), "clicked");
    g_assert_false (g_hash_table_contains (spec->block_lr_factors, "features.17"));
    g_assert_cmpfloat_with_epsilon (gtk_spin_button_get_value (spin), pow (spec->discriminative_factor, -2), 1e-4);
    gtk_editable_set_text (entry, "");
    g_assert_cmpfloat (spec->stages[1].lr, ==, 0);
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (stages), FALSE);
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (blocks), FALSE);
  }

  /* A preset from elsewhere updates the controls without writing back. */
  emitted = 0;
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  spec = graft_session_get_spec (session);
  g_assert_cmpint (emitted, ==, 1);
  g_assert_cmpfloat (gtk_spin_button_get_value (epochs), ==, 5);
  g_assert_cmpuint (adw_combo_row_get_selected (kind), ==, GRAFT_SCHEDULE_ONE_CYCLE);
  g_assert_cmpuint (adw_combo_row_get_selected (optimizer), ==, GRAFT_OPTIMIZER_ADAMW);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (lr)), ==, "1e-2");
  g_assert_cmpfloat_with_epsilon (gtk_range_get_value (factor), spec->discriminative_factor, 1e-2);
  g_assert_cmpfloat_with_epsilon (spec->discriminative_factor, powf (100.0f, 1.0f / 19), 1e-6);

  /* An invalid spec from elsewhere is shown, and the clamped control does not write
   * its clamped value back. */
  spec->batch_size = 0;
  graft_session_spec_changed (session);
  g_assert_cmpint (spec->batch_size, ==, 0);
  g_assert_true (g_str_has_prefix (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)), "The batch size"));
  spec->batch_size = 32;
  graft_session_spec_changed (session);
  g_assert_null (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)));

  /* Augmentation off: the note about the embedding cache goes. */
  emitted = 0;
  adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (augmentation), FALSE);
  g_assert_false (spec->augmentation.enabled);
  g_assert_cmpint (emitted, ==, 1);
  adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (augmentation), TRUE);
  g_assert_true (spec->augmentation.enabled);

  /* Cached views: the spin writes augmentation.cached_views (fastai's preset keeps 0); the
   * row says what they cost and is insensitive while augmentation is off. */
  {
    GtkWidget *views_row = find_row (page, ADW_TYPE_ACTION_ROW, "Cached _Views");
    GtkSpinButton *views = row_spin (page, "Cached _Views");
    g_assert_nonnull (views);
    g_assert_cmpint (spec->cached_views, ==, 0);
    g_assert_cmpfloat (gtk_spin_button_get_value (views), ==, 0);
    g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (views_row)), "8 views"));
    g_assert_true (gtk_widget_get_sensitive (views_row));
    emitted = 0;
    gtk_spin_button_set_value (views, 4);
    g_assert_cmpint (spec->cached_views, ==, 4);
    g_assert_cmpint (emitted, ==, 1);
    gtk_spin_button_set_value (views, 1000);
    g_assert_cmpint (spec->cached_views, ==, GRAFT_MAX_CACHED_VIEWS);
    adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (augmentation), FALSE);
    g_assert_false (gtk_widget_get_sensitive (views_row));
    /* Kept for when augmentation comes back. */
    g_assert_cmpint (spec->cached_views, ==, GRAFT_MAX_CACHED_VIEWS);
    adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (augmentation), TRUE);
    g_assert_true (gtk_widget_get_sensitive (views_row));
    /* A spec from elsewhere shows. */
    spec->cached_views = 2;
    graft_session_spec_changed (session);
    g_assert_cmpfloat (gtk_spin_button_get_value (views), ==, 2);
  }

  /* The timeline in the page edits the same spec. */
  gtk_widget_activate_action (GTK_WIDGET (graft_schedule_page_get_timeline (GRAFT_SCHEDULE_PAGE (page))),
                              "timeline.move-stage", "(ii)", 1, 2);
  g_assert_cmpint (spec->stages[1].epoch, ==, 2);

  /* The screenshots of fastai's schedule, as the preset made it. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
  screenshot (window, "schedule-fastai-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  screenshot (window, "schedule-fastai-light.png");
  g_assert_true (gtk_check_button_get_active (
    GTK_CHECK_BUTTON (find_type (find_row (page, ADW_TYPE_ACTION_ROW, "_Inference Mode"), GTK_TYPE_CHECK_BUTTON))));

  /* A long run, edited: 150 epochs, a warm cosine, stages added by hand. */
  {
    GtkWidget *timeline = GTK_WIDGET (graft_schedule_page_get_timeline (GRAFT_SCHEDULE_PAGE (page)));
    graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
    spec = graft_session_get_spec (session);
    spec->epochs = 150;
    spec->schedule.kind = GRAFT_SCHEDULE_COSINE;
    spec->schedule.warmup_epochs = 5;
    spec->discriminative_factor = 1.5f;
    graft_session_spec_changed (session);
    gtk_widget_activate_action (timeline, "timeline.add-stage", "i", 30);
    gtk_widget_activate_action (timeline, "timeline.set-unfreeze", "(ii)", 1, 8);
    gtk_widget_activate_action (timeline, "timeline.add-stage", "i", 70);
    gtk_widget_activate_action (timeline, "timeline.set-unfreeze", "(ii)", 2, 0);
    g_assert_cmpint (spec->n_stages, ==, 3);
    assert_stages_increase (spec);
    assert_cells_match (GRAFT_SCHEDULE_TIMELINE (timeline), session);
    g_assert_null (graft_schedule_page_get_error (GRAFT_SCHEDULE_PAGE (page)));
    screenshot (window, "schedule-long-light.png");
    graft_session_set_strategy (session, GRAFT_STRATEGY_FEATURE_EXTRACTION);
    assert_cells_match (GRAFT_SCHEDULE_TIMELINE (timeline), session);
    g_assert_cmpint (graft_schedule_timeline_get_n_curves (GRAFT_SCHEDULE_TIMELINE (timeline)), ==, 1);
    screenshot (window, "schedule-feature-extraction-light.png");
    graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_FASTAI);
    graft_session_set_cut_block (session, 14);
    screenshot (window, "schedule-cut-light.png");
    gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
    graft_session_set_strategy (session, GRAFT_STRATEGY_PROGRESSIVE_ULMFIT);
    screenshot (window, "schedule-small-light.png");
  }
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);

  g_signal_handlers_disconnect_by_func (session, count_emission, &emitted);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The bf16 switch of the Run group writes the spec's precision where the CPU has
 * AVX512_BF16 or AMX; elsewhere it is insensitive and its tooltip says why. */
static void
test_precision (void)
{
  g_autoptr (GraftSession) session = mobilenet_session ();
  GtkWidget *window, *page, *row;
  GtkSwitch *toggle;
  GraftSessionSpec *spec;

  window = adw_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 900);
  page = graft_schedule_page_new ();
  adw_window_set_content (ADW_WINDOW (window), page);
  graft_schedule_page_set_session (GRAFT_SCHEDULE_PAGE (page), session);
  gtk_window_present (GTK_WINDOW (window));
  wait_for_frames (50);
  row = find_row (page, ADW_TYPE_ACTION_ROW, "b_f16 Mixed Precision");
  g_assert_nonnull (row);
  /* A row of the Run group, beside Seed, not inside the Seed row (where it once sat,
   * squeezing both at 1024 px). */
  g_assert_true (gtk_widget_get_parent (row) == gtk_widget_get_parent (find_row (page, ADW_TYPE_ACTION_ROW, "_Seed")));
  toggle = GTK_SWITCH (find_type (row, GTK_TYPE_SWITCH));
  spec = graft_session_get_spec (session);
  g_assert_cmpint (spec->precision, ==, GRAFT_PLAN_PRECISION_FP32);
  g_assert_false (gtk_switch_get_active (toggle));
  if (!graft_plan_bf16_supported ())
    {
      const char *tooltip = gtk_widget_get_tooltip_text (row);
      g_assert_false (gtk_widget_get_sensitive (row));
      g_assert_nonnull (tooltip);
      g_assert_nonnull (strstr (tooltip, "AVX512_BF16"));
    }
  else
    {
      g_assert_true (gtk_widget_get_sensitive (row));
      gtk_switch_set_active (toggle, TRUE);
      g_assert_cmpint (graft_session_get_spec (session)->precision, ==, GRAFT_PLAN_PRECISION_BF16);
      gtk_switch_set_active (toggle, FALSE);
      g_assert_cmpint (graft_session_get_spec (session)->precision, ==, GRAFT_PLAN_PRECISION_FP32);
    }
  gtk_window_destroy (GTK_WINDOW (window));
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

  g_test_add_func ("/app/schedule/presets", test_presets);
  g_test_add_func ("/app/schedule/actions", test_actions);
  g_test_add_func ("/app/schedule/keyboard", test_keyboard);
  g_test_add_func ("/app/schedule/pointer", test_pointer);
  g_test_add_func ("/app/schedule/page", test_page);
  g_test_add_func ("/app/schedule/precision", test_precision);
  result = g_test_run ();

  {
    g_autofree char *folder = g_path_get_dirname (model_path);
    g_unlink (model_path);
    g_rmdir (folder);
    g_free (model_path);
  }
  return result;
}
