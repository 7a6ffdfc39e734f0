/* graft-label-next.c: one image at a time (see graft-label-next.h).
 *
 * The queue is read again after every change to the labels (only while the page is
 * shown): the active-learning order over the images with predictions, then the
 * unlabelled images without one, in id order; skipped images go to the end. Images are
 * decoded off the main thread (at most 1024 pixels a side; tiny ones are enlarged
 * without smoothing, so a 28×28 image shows its pixels instead of a blur), and the next
 * one is decoded while the person looks at the current one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "graft-data-page.h"
#include "graft-label-next.h"
#include "graft-training.h"
#include "data/image.h"
#include "project/active.h"
#include "project/thumbnails.h"
#include "train/trainer.h"

#define DISPLAY_MAX_SIDE 1024
#define DISPLAY_MIN_SIDE 448     /* smaller images are enlarged (nearest) to about this */
#define MIN_LABELS_PER_CLASS 3

struct _GraftLabelNext
{
  AdwBin parent_instance;

  GtkLabel *progress_label;
  GtkWidget *retrain_box;
  GtkSpinner *retrain_spinner;
  GtkStack *stack;
  GtkPicture *picture;
  GtkSpinner *image_spinner;
  GtkLabel *name_label;
  GtkWidget *suggestion_box;
  GtkLabel *suggestion_chip;
  GtkLabel *confidence_label;
  GtkWidget *accept_button;
  GtkWidget *no_suggestion_label;
  GtkFlowBox *class_box;
  AdwStatusPage *done_status;

  GraftProjectObject *project;
  GraftSession *session;
  GtkCssProvider *class_css;

  GArray *queue;            /* gint64 image ids, the next first */
  GArray *skipped;          /* gint64, in the order they were skipped */
  GArray *history;          /* gint64, labelled here, for undo */
  gint64 pinned;            /* shown first (an undone label), 0: none */
  gint64 current;
  GraftImageItem *current_item;
  gulong current_changed_id;
  guint labelled;
  gboolean queue_dirty;

  GHashTable *textures;     /* image id -> GdkTexture (the current and the next) */
  GHashTable *loading;      /* image id -> GCancellable */
  GCancellable *cancellable;

  /* Retraining */
  GraftTraining *training;
  GraftDataset *retrain_classes;   /* the training dataset (its class order) */
  GraftSessionSpec *retrain_spec;
  guint labels_since_retrain;
  gboolean retraining;
};

G_DEFINE_FINAL_TYPE (GraftLabelNext, graft_label_next, ADW_TYPE_BIN)

enum { PROP_0, PROP_PROJECT, PROP_SESSION, PROP_LABELLED, PROP_RETRAINING, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { DONE, TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void show_current (GraftLabelNext *self);
static void label_with (GraftLabelNext *self, gint64 class_id);

static void
toast (GraftLabelNext *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

/* ------------------------------------------------------------------------ */
/* The queue                                                                 */

static void
build_queue (GraftLabelNext *self)
{
  GraftProject *project;
  g_autoptr (GArray) active = NULL;
  g_autoptr (GArray) unlabelled = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GHashTable) skipped = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) queue = g_array_new (FALSE, FALSE, sizeof (gint64));
  GraftImageQuery query = { .filter = GRAFT_FILTER_UNLABELLED };

  self->queue_dirty = FALSE;
  g_array_set_size (self->queue, 0);
  if (self->project == NULL)
    return;
  project = graft_project_object_get_project (self->project);
  active = graft_active_project_queue (project, NULL, NULL);
  unlabelled = graft_project_query_ids (project, &query, NULL);
  if (unlabelled == NULL)
    return;
  {
    /* The active queue only holds unlabelled images; keep those still unlabelled. */
    g_autoptr (GHashTable) open = g_hash_table_new (g_int64_hash, g_int64_equal);
    for (guint i = 0; i < unlabelled->len; i++)
      g_hash_table_add (open, &g_array_index (unlabelled, gint64, i));
    for (guint i = 0; active != NULL && i < active->len; i++)
      {
        gint64 *id = &g_array_index (active, gint64, i);
        if (g_hash_table_contains (open, id) && g_hash_table_add (seen, id))
          g_array_append_val (queue, *id);
      }
  }
  for (guint i = 0; i < unlabelled->len; i++)
    {
      gint64 *id = &g_array_index (unlabelled, gint64, i);
      if (g_hash_table_add (seen, id))
        g_array_append_val (queue, *id);
    }
  /* Skipped images after the others, in the order they were skipped. */
  for (guint i = 0; i < self->skipped->len; i++)
    g_hash_table_add (skipped, &g_array_index (self->skipped, gint64, i));
  for (guint i = 0; i < queue->len; i++)
    {
      gint64 id = g_array_index (queue, gint64, i);
      if (id != self->pinned && !g_hash_table_contains (skipped, &id))
        g_array_append_val (self->queue, id);
    }
  for (guint i = 0; i < self->skipped->len; i++)
    {
      gint64 id = g_array_index (self->skipped, gint64, i);
      if (g_hash_table_contains (seen, &id) && id != self->pinned)
        g_array_append_val (self->queue, id);
    }
  if (self->pinned != 0 && g_hash_table_contains (seen, &self->pinned))
    g_array_prepend_val (self->queue, self->pinned);
  self->pinned = 0;
}

/* ------------------------------------------------------------------------ */
/* Images                                                                    */

static void
load_image_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  const char *path = task_data;
  GError *error = NULL;
  g_autoptr (GraftImage) image = graft_image_load_at_least (path, DISPLAY_MAX_SIDE, &error);
  int side;

  if (image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  side = MAX (image->width, image->height);
  if (side > DISPLAY_MAX_SIDE)
    {
      GraftImage *scaled = graft_thumbnail_scale (image, DISPLAY_MAX_SIDE);
      graft_image_free (g_steal_pointer (&image));
      image = scaled;
    }
  else if (side < DISPLAY_MIN_SIDE / 2)
    {
      GraftImage *large = graft_image_enlarge_nearest (image, MAX (1, DISPLAY_MIN_SIDE / side));
      if (large != NULL)
        {
          graft_image_free (g_steal_pointer (&image));
          image = large;
        }
    }
  g_task_return_pointer (task, g_steal_pointer (&image), (GDestroyNotify) graft_image_free);
}

static void
on_image_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (source);
  gint64 id = *(gint64 *) user_data;
  g_autoptr (GError) error = NULL;
  GraftImage *image = g_task_propagate_pointer (G_TASK (result), &error);

  g_free (user_data);
  if (image == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_hash_table_remove (self->loading, &id);
  if (image != NULL)
    g_hash_table_insert (self->textures, g_memdup2 (&id, sizeof id), graft_texture_new_for_image (image));
  else
    g_debug ("Cannot show image %" G_GINT64_FORMAT ": %s", id, error->message);
  if (id == self->current)
    {
      gtk_picture_set_paintable (self->picture, g_hash_table_lookup (self->textures, &id));
      gtk_spinner_set_spinning (self->image_spinner, FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->image_spinner), FALSE);
      if (image == NULL)
        {
          g_autofree char *message = g_strdup_printf (_("Cannot show this image: %s"), error->message);
          gtk_label_set_text (self->name_label, message);
        }
    }
}

static void
request_image (GraftLabelNext *self, gint64 id)
{
  g_autoptr (GraftImageItem) item = NULL;
  g_autoptr (GTask) task = NULL;
  GCancellable *cancellable;

  if (id == 0 || g_hash_table_contains (self->textures, &id) || g_hash_table_contains (self->loading, &id))
    return;
  item = graft_project_object_get_image (self->project, id);
  if (item == NULL)
    return;
  cancellable = g_cancellable_new ();
  g_hash_table_insert (self->loading, g_memdup2 (&id, sizeof id), cancellable);
  task = g_task_new (self, cancellable, on_image_loaded, g_memdup2 (&id, sizeof id));
  g_task_set_task_data (task, g_strdup (graft_image_item_get_path (item)), g_free);
  g_task_run_in_thread (task, load_image_thread);
}

/* Keeps the textures and loads of the current and the next image only. */
static void
forget_images_except (GraftLabelNext *self, gint64 keep_a, gint64 keep_b)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->textures);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (*(gint64 *) key != keep_a && *(gint64 *) key != keep_b)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, self->loading);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (*(gint64 *) key != keep_a && *(gint64 *) key != keep_b)
      {
        g_cancellable_cancel (value);
        g_hash_table_iter_remove (&iter);
      }
}

/* ------------------------------------------------------------------------ */
/* Showing                                                                   */

static void
update_progress (GraftLabelNext *self)
{
  g_autofree char *done = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u labelled this session",
                                                        "%u labelled this session", self->labelled),
                                           self->labelled);
  guint left = self->project != NULL ? graft_project_object_count_images (self->project, GRAFT_FILTER_UNLABELLED, 0) : 0;
  g_autofree char *remaining = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u left", "%'u left", left), left);
  g_autofree char *text = g_strdup_printf ("%s · %s", done, remaining);

  gtk_label_set_text (self->progress_label, text);
}

static void
update_suggestion (GraftLabelNext *self)
{
  GraftImageItem *item = self->current_item;
  gboolean has = item != NULL && graft_image_item_get_suggestion_id (item) != 0
                 && graft_image_item_get_suggestion_name (item) != NULL;

  gtk_widget_set_visible (self->suggestion_box, has);
  gtk_widget_set_visible (self->no_suggestion_label, item != NULL && !has);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.accept", has);
  if (has)
    {
      g_autofree char *css = g_strdup_printf ("graft-class-%" G_GINT64_FORMAT, graft_image_item_get_suggestion_id (item));
      g_autofree char *confidence = g_strdup_printf (_("%.0f %% sure"), graft_image_item_get_confidence (item) * 100);
      g_auto (GStrv) classes = gtk_widget_get_css_classes (GTK_WIDGET (self->suggestion_chip));

      for (guint i = 0; classes[i] != NULL; i++)
        if (g_str_has_prefix (classes[i], "graft-class-"))
          gtk_widget_remove_css_class (GTK_WIDGET (self->suggestion_chip), classes[i]);
      gtk_widget_add_css_class (GTK_WIDGET (self->suggestion_chip), css);
      gtk_label_set_text (self->suggestion_chip, graft_image_item_get_suggestion_name (item));
      gtk_label_set_text (self->confidence_label, confidence);
    }
}

static void
on_current_changed (GraftImageItem *item, gpointer user_data)
{
  update_suggestion (GRAFT_LABEL_NEXT (user_data));
}

static void
set_current_item (GraftLabelNext *self, GraftImageItem *item)
{
  if (self->current_item != NULL)
    g_clear_signal_handler (&self->current_changed_id, self->current_item);
  g_set_object (&self->current_item, item);
  if (item != NULL)
    self->current_changed_id = g_signal_connect (item, "changed", G_CALLBACK (on_current_changed), self);
}

static void
show_current (GraftLabelNext *self)
{
  gint64 next = 0;
  g_autoptr (GraftImageItem) item = NULL;
  GdkTexture *texture;

  if (self->queue_dirty)
    build_queue (self);
  update_progress (self);
  if (self->queue->len == 0)
    {
      guint all = self->project != NULL ? graft_project_object_count_images (self->project, GRAFT_FILTER_ALL, 0) : 0;

      self->current = 0;
      set_current_item (self, NULL);
      forget_images_except (self, 0, 0);
      adw_status_page_set_title (self->done_status, all > 0 ? _("Every Image Is Labelled") : _("No Images Yet"));
      adw_status_page_set_description (self->done_status,
                                       all > 0 ? _("Train a model on your labels, or import more images to go on.")
                                               : _("Import images first: the unlabelled ones come here one at a time."));
      gtk_stack_set_visible_child_name (self->stack, "done");
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.skip", FALSE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.accept", FALSE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.label", FALSE);
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "image");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.skip", self->queue->len > 1);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "label-next.label", TRUE);

  self->current = g_array_index (self->queue, gint64, 0);
  if (self->queue->len > 1)
    next = g_array_index (self->queue, gint64, 1);
  item = graft_project_object_get_image (self->project, self->current);
  set_current_item (self, item);
  gtk_label_set_text (self->name_label, item != NULL ? graft_image_item_get_name (item) : "");
  if (item != NULL)
    {
      g_autofree char *description = graft_image_item_describe (item);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->picture), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
    }
  update_suggestion (self);

  forget_images_except (self, self->current, next);
  texture = g_hash_table_lookup (self->textures, &self->current);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (GTK_WIDGET (self->image_spinner), texture == NULL);
  gtk_spinner_set_spinning (self->image_spinner, texture == NULL);
  request_image (self, self->current);
  request_image (self, next);
}

/* ------------------------------------------------------------------------ */
/* Classes                                                                   */

static void
on_class_button_clicked (GtkButton *button, gpointer user_data)
{
  GraftLabelNext *self = user_data;
  gint64 id = *(gint64 *) g_object_get_data (G_OBJECT (button), "graft-class-id");

  label_with (self, id);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
rebuild_classes (GraftLabelNext *self)
{
  GListModel *classes = self->project != NULL ? graft_project_object_get_classes (self->project) : NULL;
  guint n = classes != NULL ? g_list_model_get_n_items (classes) : 0;
  g_autofree char *css = self->project != NULL ? graft_project_object_get_class_css (self->project) : g_strdup ("");
  GtkWidget *child;

  gtk_css_provider_load_from_data (self->class_css, css, -1);
  gtk_flow_box_set_min_children_per_line (self->class_box, CLAMP (n, 1, 5));
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->class_box))) != NULL)
    gtk_flow_box_remove (self->class_box, child);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) klass = g_list_model_get_item (classes, i);
      GtkWidget *button = gtk_button_new ();
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *swatch = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
      GtkWidget *name = gtk_label_new (graft_class_item_get_name (klass));
      g_autofree char *swatch_css = g_strdup_printf ("graft-class-%" G_GINT64_FORMAT, graft_class_item_get_id (klass));
      int key = graft_class_item_get_key (klass);
      GtkWidget *flow_child;

      gtk_widget_add_css_class (swatch, "graft-swatch");
      gtk_widget_add_css_class (swatch, swatch_css);
      gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
      gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (name), 18);
      gtk_box_append (GTK_BOX (box), swatch);
      gtk_box_append (GTK_BOX (box), name);
      if (key > 0)
        {
          g_autofree char *text = g_strdup_printf ("%d", key);
          GtkWidget *keycap = gtk_label_new (text);
          gtk_widget_add_css_class (keycap, "graft-keycap");
          gtk_widget_add_css_class (keycap, "dim-label");
          gtk_widget_set_valign (keycap, GTK_ALIGN_CENTER);
          gtk_box_append (GTK_BOX (box), keycap);
        }
      gtk_button_set_child (GTK_BUTTON (button), box);
      {
        g_autofree char *tip = key > 0 ? g_strdup_printf (_("Label as “%s” (%d)"), graft_class_item_get_name (klass), key)
                                       : g_strdup_printf (_("Label as “%s”"), graft_class_item_get_name (klass));
        gtk_widget_set_tooltip_text (button, tip);
        gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, tip, -1);
      }
      g_object_set_data_full (G_OBJECT (button), "graft-class-id",
                              g_memdup2 (&(gint64) { graft_class_item_get_id (klass) }, sizeof (gint64)), g_free);
      g_signal_connect (button, "clicked", G_CALLBACK (on_class_button_clicked), self);
      gtk_flow_box_append (self->class_box, button);
      flow_child = gtk_widget_get_parent (button);
      gtk_widget_set_focusable (flow_child, FALSE);
    }
}

/* ------------------------------------------------------------------------ */
/* Retraining the head as labels arrive                                      */

static void
set_retraining (GraftLabelNext *self, gboolean retraining)
{
  if (self->retraining == retraining)
    return;
  self->retraining = retraining;
  gtk_widget_set_visible (self->retrain_box, retraining);
  gtk_spinner_set_spinning (self->retrain_spinner, retraining);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRAINING]);
}

static void
on_predicted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftLabelNext *self = user_data;
  g_autoptr (GError) error = NULL;
  guint stored = 0;

  if (!graft_project_object_predict_finish (GRAFT_PROJECT_OBJECT (source), result, &stored, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Suggestions not updated: %s", error->message);
      /* The widget may be gone (its cancellable was cancelled): touch nothing of it. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    }
  g_debug ("Suggestions retrained: %u images predicted", stored);
  set_retraining (self, FALSE);
}

static void
on_retrain_finished (GraftTraining *training, GError *error, gpointer user_data)
{
  GraftLabelNext *self = user_data;
  g_autoptr (GBytes) model = graft_training_get_model_bytes (training);

  if (error != NULL || model == NULL || self->project == NULL
      || graft_training_get_state (training) == GRAFT_TRAINING_FAILED)
    {
      if (error != NULL)
        g_debug ("Retraining the suggestions failed: %s", error->message);
      set_retraining (self, FALSE);
      return;
    }
  {
    GraftSeries *accuracy = graft_training_get_series (training, "train-accuracy");
    guint n = accuracy != NULL ? graft_series_get_length (accuracy) : 0;
    g_debug ("Suggestions retrained: %s; training accuracy %.3f after %u epochs", graft_training_get_message (training),
             n > 0 ? graft_series_get_y (accuracy)[n - 1] : NAN, n);
  }
  /* The embeddings it stores give Label Next's queue its diversity. */
  graft_project_object_predict_async (self->project, model, self->retrain_classes->classes,
                                      &self->retrain_spec->preprocessing, self->cancellable, on_predicted, self);
}

gboolean
graft_label_next_retrain_now (GraftLabelNext *self, GError **error)
{
  GraftModel *model;
  GListModel *classes;
  guint ready = 0;
  g_autoptr (GraftDataset) train = NULL;
  GraftSessionSpec *spec;

  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), FALSE);

  if (self->retraining)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY, "A retraining is running");
      return FALSE;
    }
  model = self->session != NULL ? graft_session_get_model (self->session) : NULL;
  if (self->project == NULL || model == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "No project or no model");
      return FALSE;
    }
  classes = graft_project_object_get_classes (self->project);
  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) klass = g_list_model_get_item (classes, i);
      if (graft_class_item_get_count (klass) >= MIN_LABELS_PER_CLASS)
        ready++;
    }
  if (ready < 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Two classes need %d labels each first", MIN_LABELS_PER_CLASS);
      return FALSE;
    }
  train = graft_project_dataset (graft_project_object_get_project (self->project), GRAFT_SPLIT_NONE, error);
  if (train == NULL)
    return FALSE;

  /* Feature extraction on the person's cut, head and preprocessing: the embeddings come
   * from the cache, so only the head trains. */
  spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, model);
  {
    const GraftSessionSpec *session_spec = graft_session_get_spec (self->session);
    if (session_spec != NULL)
      {
        g_free (spec->cut);
        spec->cut = g_strdup (session_spec->cut);
        spec->head = session_spec->head;
        spec->preprocessing = session_spec->preprocessing;
        spec->seed = session_spec->seed;
      }
  }
  spec->early_stopping_patience = 0;
  if (self->training == NULL)
    {
      self->training = graft_training_new ();
      g_signal_connect (self->training, "finished", G_CALLBACK (on_retrain_finished), self);
    }
  if (!graft_training_start (self->training, model, spec, train, NULL, graft_session_get_cache_folder (self->session),
                             FALSE, error))
    {
      graft_session_spec_free (spec);
      return FALSE;
    }
  g_clear_pointer (&self->retrain_spec, graft_session_spec_free);
  self->retrain_spec = spec;
  g_clear_pointer (&self->retrain_classes, graft_dataset_free);
  self->retrain_classes = g_steal_pointer (&train);
  self->labels_since_retrain = 0;
  set_retraining (self, TRUE);
  return TRUE;
}

static void
count_label (GraftLabelNext *self, gint64 image)
{
  g_array_append_val (self->history, image);
  self->labelled++;
  self->labels_since_retrain++;
  /* The label's own labels-changed already redrew the progress, before this count. */
  update_progress (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELLED]);
  if (self->labels_since_retrain >= GRAFT_LABEL_NEXT_RETRAIN_EVERY && !self->retraining)
    {
      g_autoptr (GError) error = NULL;
      if (!graft_label_next_retrain_now (self, &error))
        g_debug ("No retraining yet: %s", error->message);
    }
}

gboolean
graft_label_next_get_retraining (GraftLabelNext *self)
{
  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), FALSE);
  return self->retraining;
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                   */

static void
label_with (GraftLabelNext *self, gint64 class_id)
{
  g_autoptr (GError) error = NULL;
  gint64 image = self->current;

  if (image == 0 || self->project == NULL)
    return;
  if (!graft_project_object_set_labels (self->project, &image, 1, class_id, &error))
    {
      g_autofree char *message = g_strdup_printf (_("Could not label the image: %s"), error->message);
      toast (self, message);
      return;
    }
  count_label (self, image);
}

static void
label_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (widget);
  int key = g_variant_get_int32 (parameter);
  GraftClassItem *klass = self->project != NULL ? graft_project_object_get_class_for_key (self->project, key) : NULL;

  if (klass == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("No class has the key %d"), key);
      toast (self, message);
      return;
    }
  label_with (self, graft_class_item_get_id (klass));
}

static void
accept_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (widget);
  g_autoptr (GError) error = NULL;
  gint64 image = self->current;
  guint accepted = 0;

  if (image == 0 || self->project == NULL || self->current_item == NULL
      || graft_image_item_get_suggestion_id (self->current_item) == 0)
    return;
  if (!graft_project_object_accept_suggestions (self->project, &image, 1, &accepted, &error))
    {
      g_autofree char *message = g_strdup_printf (_("Could not label the image: %s"), error->message);
      toast (self, message);
      return;
    }
  if (accepted > 0)
    count_label (self, image);
}

static void
skip_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (widget);
  gint64 image = self->current;

  if (image == 0)
    return;
  for (guint i = 0; i < self->skipped->len; i++)
    if (g_array_index (self->skipped, gint64, i) == image)
      {
        g_array_remove_index (self->skipped, i);
        break;
      }
  g_array_append_val (self->skipped, image);
  self->queue_dirty = TRUE;
  show_current (self);
}

static void
undo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (widget);
  g_autoptr (GError) error = NULL;

  if (self->project == NULL || !graft_project_object_get_can_undo (self->project))
    return;
  if (self->history->len > 0)
    {
      self->pinned = g_array_index (self->history, gint64, self->history->len - 1);
      g_array_remove_index (self->history, self->history->len - 1);
      if (self->labelled > 0)
        self->labelled--;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELLED]);
    }
  self->queue_dirty = TRUE;
  if (!graft_project_object_undo (self->project, &error))
    {
      g_autofree char *message = g_strdup_printf (_("Could not undo: %s"), error->message);
      toast (self, message);
    }
  show_current (self);
}

static void
leave_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_signal_emit (widget, signals[DONE], 0);
}

/* ------------------------------------------------------------------------ */
/* Project                                                                   */

static void
on_labels_changed (GraftProjectObject *project, gpointer user_data)
{
  GraftLabelNext *self = user_data;

  self->queue_dirty = TRUE;
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    show_current (self);
}

static void
on_classes_changed (GraftProjectObject *project, gpointer user_data)
{
  GraftLabelNext *self = user_data;

  rebuild_classes (self);
  update_suggestion (self);
}

GraftProjectObject *
graft_label_next_get_project (GraftLabelNext *self)
{
  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), NULL);
  return self->project;
}

void
graft_label_next_set_project (GraftLabelNext *self, GraftProjectObject *project)
{
  g_return_if_fail (GRAFT_IS_LABEL_NEXT (self));
  g_return_if_fail (project == NULL || GRAFT_IS_PROJECT_OBJECT (project));

  if (self->project == project)
    return;
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->training != NULL && graft_training_is_busy (self->training))
    graft_training_stop (self->training);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  set_retraining (self, FALSE);
  g_set_object (&self->project, project);
  if (project != NULL)
    {
      g_signal_connect (project, "labels-changed", G_CALLBACK (on_labels_changed), self);
      g_signal_connect (project, "images-changed", G_CALLBACK (on_labels_changed), self);
      g_signal_connect (project, "classes-changed", G_CALLBACK (on_classes_changed), self);
    }
  rebuild_classes (self);
  graft_label_next_restart (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROJECT]);
}

GraftSession *
graft_label_next_get_session (GraftLabelNext *self)
{
  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), NULL);
  return self->session;
}

void
graft_label_next_set_session (GraftLabelNext *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_LABEL_NEXT (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (g_set_object (&self->session, session))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

gint64
graft_label_next_get_current (GraftLabelNext *self)
{
  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), 0);
  return self->current;
}

guint
graft_label_next_get_labelled (GraftLabelNext *self)
{
  g_return_val_if_fail (GRAFT_IS_LABEL_NEXT (self), 0);
  return self->labelled;
}

void
graft_label_next_restart (GraftLabelNext *self)
{
  g_return_if_fail (GRAFT_IS_LABEL_NEXT (self));

  self->labelled = 0;
  self->pinned = 0;
  g_array_set_size (self->skipped, 0);
  g_array_set_size (self->history, 0);
  self->queue_dirty = TRUE;
  show_current (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELLED]);
}

/* ------------------------------------------------------------------------ */
/* The object                                                                */

static void
graft_label_next_map (GtkWidget *widget)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (widget);

  GTK_WIDGET_CLASS (graft_label_next_parent_class)->map (widget);
  if (self->queue_dirty)
    show_current (self);
}

static void
graft_label_next_dispose (GObject *object)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->training != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->training, self);
      if (graft_training_is_busy (self->training))
        graft_training_stop (self->training);
    }
  if (self->loading != NULL)
    forget_images_except (self, 0, 0);
  set_current_item (self, NULL);
  if (self->class_css != NULL)
    gtk_style_context_remove_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->class_css));
  g_clear_object (&self->class_css);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_LABEL_NEXT);
  g_clear_object (&self->training);
  g_clear_object (&self->project);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (graft_label_next_parent_class)->dispose (object);
}

static void
graft_label_next_finalize (GObject *object)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (object);

  g_array_unref (self->queue);
  g_array_unref (self->skipped);
  g_array_unref (self->history);
  g_hash_table_unref (self->textures);
  g_hash_table_unref (self->loading);
  g_clear_pointer (&self->retrain_classes, graft_dataset_free);
  g_clear_pointer (&self->retrain_spec, graft_session_spec_free);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (graft_label_next_parent_class)->finalize (object);
}

static void
graft_label_next_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (object);

  switch (prop_id)
    {
    case PROP_PROJECT: g_value_set_object (value, self->project); break;
    case PROP_SESSION: g_value_set_object (value, self->session); break;
    case PROP_LABELLED: g_value_set_uint (value, self->labelled); break;
    case PROP_RETRAINING: g_value_set_boolean (value, self->retraining); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_label_next_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftLabelNext *self = GRAFT_LABEL_NEXT (object);

  switch (prop_id)
    {
    case PROP_PROJECT: graft_label_next_set_project (self, g_value_get_object (value)); break;
    case PROP_SESSION: graft_label_next_set_session (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
add_shortcut (GtkShortcutController *controller, guint keyval, GdkModifierType modifiers, const char *action,
              GVariant *arguments)
{
  GtkShortcut *shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keyval, modifiers), gtk_named_action_new (action));

  if (arguments != NULL)
    gtk_shortcut_set_arguments (shortcut, arguments);
  gtk_shortcut_controller_add_shortcut (controller, shortcut);
}

static void
graft_label_next_class_init (GraftLabelNextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_label_next_dispose;
  object_class->finalize = graft_label_next_finalize;
  object_class->get_property = graft_label_next_get_property;
  object_class->set_property = graft_label_next_set_property;
  widget_class->map = graft_label_next_map;

  properties[PROP_PROJECT] = g_param_spec_object ("project", NULL, NULL, GRAFT_TYPE_PROJECT_OBJECT,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABELLED] = g_param_spec_uint ("labelled", NULL, NULL, 0, G_MAXUINT, 0,
                                                 G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RETRAINING] = g_param_spec_boolean ("retraining", NULL, NULL, FALSE,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftLabelNext::done:
   *
   * The person leaves Label next (Escape, the back button).
   */
  signals[DONE] = g_signal_new ("done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                G_TYPE_NONE, 0);
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-label-next.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, progress_label);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, retrain_box);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, retrain_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, picture);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, image_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, name_label);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, suggestion_box);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, suggestion_chip);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, confidence_label);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, accept_button);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, no_suggestion_label);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, class_box);
  gtk_widget_class_bind_template_child (widget_class, GraftLabelNext, done_status);

  gtk_widget_class_install_action (widget_class, "label-next.accept", NULL, accept_action);
  gtk_widget_class_install_action (widget_class, "label-next.label", "i", label_action);
  gtk_widget_class_install_action (widget_class, "label-next.skip", NULL, skip_action);
  gtk_widget_class_install_action (widget_class, "label-next.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "label-next.leave", NULL, leave_action);
}

static void
graft_label_next_init (GraftLabelNext *self)
{
  GtkEventController *controller;

  graft_data_page_ensure_style ();
  gtk_widget_init_template (GTK_WIDGET (self));
  self->queue = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->skipped = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->history = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->textures = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->loading = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->cancellable = g_cancellable_new ();
  self->class_css = gtk_css_provider_new ();
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->class_css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  /* Keys first, before a focused button takes Space or Enter for itself. */
  controller = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_Return, 0, "label-next.accept", NULL);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_KP_Enter, 0, "label-next.accept", NULL);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_space, 0, "label-next.skip", NULL);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_Escape, 0, "label-next.leave", NULL);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_z, GDK_CONTROL_MASK, "label-next.undo", NULL);
  for (int key = 1; key <= 9; key++)
    {
      add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_0 + key, 0, "label-next.label",
                    g_variant_new_int32 (key));
      add_shortcut (GTK_SHORTCUT_CONTROLLER (controller), GDK_KEY_KP_0 + key, 0, "label-next.label",
                    g_variant_new_int32 (key));
    }
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
}

GtkWidget *
graft_label_next_new (void)
{
  return g_object_new (GRAFT_TYPE_LABEL_NEXT, NULL);
}
