/* graft-train-page.c
 *
 * The page follows two objects: the session (what will run: ::model-changed,
 * ::spec-changed, ::datasets-changed update the summary and whether a run can start)
 * and the training (the run: its properties drive the progress, its series feed the
 * plots, ::finished ends a run with a toast).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-train-page.h"

#include <glib/gi18n.h>
#include <math.h>

#include "data/image.h"
#include "data/preprocess.h"
#include "graft-format.h"

struct _GraftTrainPage
{
  AdwBin parent_instance;

  GraftSession *session;
  GraftTraining *training;
  GSignalGroup *session_signals;
  GSignalGroup *training_signals;

  /* The run in progress, as it was started. */
  gboolean lr_finder_running;
  gboolean last_run_lr_finder;
  gboolean stop_requested;
  gboolean plan_changed; /* since the last run ended: its status no longer applies */
  int run_stages;

  /* Which training and validation images the loader can decode: path -> "" (it can)
   * or the decoder's message naming the file. Filled off the main thread by a probe of
   * the paths not in it yet, which decodes each image as the loader will
   * (update_summary starts it). */
  GHashTable *decodable;
  GCancellable *probe;

  /* Template children. */
  GtkStack *stack;
  AdwStatusPage *missing_page;
  GtkLabel *strategy_label;
  GtkLabel *plan_label;
  GtkLabel *optimizer_label;
  GtkLabel *data_label;
  GtkButton *find_lr_button;
  GtkButton *stop_button;
  GtkButton *pause_button;
  GtkButton *start_button;
  GtkStack *start_label_stack;
  GtkLabel *progress_title;
  GtkLabel *progress_detail;
  GtkProgressBar *progress_bar;
  GtkLabel *message_label;
  int message_epoch;     /* the run's epoch when message_label's line came */
  GtkLabel *cache_label;
  GtkWidget *error_box;
  GtkLabel *error_label;
  GtkButton *error_close_button;
  GraftPlot *loss_plot;
  GraftPlot *accuracy_plot;
  GraftPlot *lr_plot;
  GtkRevealer *lr_finder_revealer;
  GraftPlot *lr_finder_plot;
  GtkLabel *lr_suggestion_label;
  GtkButton *use_lr_button;
};

G_DEFINE_FINAL_TYPE (GraftTrainPage, graft_train_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, PROP_TRAINING, N_PROPS };
enum { TOAST, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void update_actions (GraftTrainPage *self);
static void update_progress (GraftTrainPage *self);

/* --- words ---------------------------------------------------------------------- */

char *
graft_format_learning_rate (double lr)
{
  int exponent;
  double mantissa;

  if (!(lr > 0) || !isfinite (lr))
    return g_strdup_printf ("%g", lr);
  if (lr >= 0.1 && lr < 1000)
    return g_strdup_printf ("%.2g", lr);
  exponent = (int) floor (log10 (lr));
  mantissa = lr / pow (10, exponent);
  if (mantissa >= 9.95)
    {
      mantissa /= 10;
      exponent++;
    }
  return g_strdup_printf ("%.1fe%d", mantissa, exponent);
}

char *
graft_format_time_left (double seconds)
{
  if (!(seconds > 0) || !isfinite (seconds))
    return NULL;
  if (seconds < 60)
    return g_strdup (_("less than a minute left"));
  if (seconds < 90 * 60)
    {
      int minutes = (int) round (seconds / 60);
      /* Translators: an estimate of the time a run still needs */
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "about %d min left", "about %d min left", minutes),
                              minutes);
    }
  if (seconds < 10 * 3600)
    {
      int hours = (int) (seconds / 3600);
      int minutes = (int) round ((seconds - hours * 3600) / 60);
      if (minutes == 60)
        {
          hours++;
          minutes = 0;
        }
      /* Translators: an estimate of the time a run still needs: "about 2 h 5 min left" */
      return g_strdup_printf (_("about %d h %d min left"), hours, minutes);
    }
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "about %d hour left", "about %d hours left",
                                       (int) round (seconds / 3600)),
                          (int) round (seconds / 3600));
}

static const char *
optimizer_name (graft_optimizer_kind kind)
{
  switch (kind)
    {
    case GRAFT_OPTIMIZER_SGD:
      return "SGD";
    case GRAFT_OPTIMIZER_ADAM:
      return "Adam";
    case GRAFT_OPTIMIZER_ADAMW:
    default:
      return "AdamW";
    }
}

static const char *
schedule_name (GraftScheduleKind kind)
{
  switch (kind)
    {
    case GRAFT_SCHEDULE_CONSTANT:
      return _("constant");
    case GRAFT_SCHEDULE_STEP:
      return _("step decay");
    case GRAFT_SCHEDULE_COSINE:
      return _("cosine decay");
    case GRAFT_SCHEDULE_ONE_CYCLE:
      return _("one-cycle");
    case GRAFT_SCHEDULE_SLANTED_TRIANGULAR:
    default:
      return _("slanted triangular");
    }
}

/* "Head only", "Head and the top 3 of 17 blocks", "All 17 blocks and the head",
 * counting the blocks that train at any epoch of the run; head_only says whether none
 * does. */
static char *
describe_trained_blocks (GraftSession *session, const GraftSessionSpec *spec, gboolean *head_only)
{
  int n_blocks = graft_session_get_n_blocks (session);
  int trained = 0, lowest = n_blocks;
  gboolean contiguous = TRUE;

  for (int b = 0; b < n_blocks; b++)
    {
      gboolean trains = FALSE;
      for (int e = 0; e < MAX (1, spec->epochs) && !trains; e++)
        trains = graft_session_get_block_trains (session, b, e);
      if (trains)
        {
          if (trained > 0 && b != lowest + trained)
            contiguous = FALSE;
          if (trained == 0)
            lowest = b;
          trained++;
        }
    }
  if (trained > 0 && lowest + trained != n_blocks)
    contiguous = FALSE;
  *head_only = trained == 0;
  if (trained == 0)
    return g_strdup (_("Head only"));
  if (trained == n_blocks)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The head and the %d block", "The head and all %d blocks",
                                         n_blocks),
                            n_blocks);
  if (contiguous)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The head and the top %d of %d blocks",
                                         "The head and the top %d of %d blocks", n_blocks),
                            trained, n_blocks);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The head and %d of %d blocks", "The head and %d of %d blocks",
                                       n_blocks),
                          trained, n_blocks);
}

static guint
labelled_items (const GraftDataset *dataset, guint *classes_with_items)
{
  guint labelled = 0;
  *classes_with_items = 0;
  if (dataset == NULL)
    return 0;
  g_autofree guint *counts = graft_dataset_class_counts (dataset);
  for (guint c = 0; c < dataset->classes->len; c++)
    if (counts[c] > 0)
      {
        (*classes_with_items)++;
        labelled += counts[c];
      }
  return labelled;
}

/* --- what the loader can decode ------------------------------------------------------ */

typedef struct {
  GPtrArray *paths;
  int min_side;
  GPtrArray *messages;   /* per path: NULL when it decodes, else why not */
} Probe;

static void
probe_free (gpointer data)
{
  Probe *probe = data;
  g_ptr_array_unref (probe->paths);
  g_clear_pointer (&probe->messages, g_ptr_array_unref);
  g_free (probe);
}

/* In a worker: decodes each image as the loader does (graft_image_load_at_least at the
 * preprocessing's resize side), so that the page counts what training will use. */
static void
probe_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Probe *probe = data;

  probe->messages = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < probe->paths->len && !g_cancellable_is_cancelled (cancellable); i++)
    {
      g_autoptr (GError) error = NULL;
      GraftImage *image = graft_image_load_at_least (g_ptr_array_index (probe->paths, i), probe->min_side, &error);
      g_clear_pointer (&image, graft_image_free);
      g_ptr_array_add (probe->messages, error != NULL ? g_strdup (error->message) : NULL);
    }
  g_task_return_boolean (task, !g_cancellable_is_cancelled (cancellable));
}

static void update_summary (GraftTrainPage *self);

static void
probe_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (source);
  Probe *probe = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    return;   /* cancelled: the page is going away */
  for (guint i = 0; i < probe->messages->len; i++)
    {
      const char *message = g_ptr_array_index (probe->messages, i);
      g_hash_table_insert (self->decodable, g_strdup (g_ptr_array_index (probe->paths, i)),
                           g_strdup (message != NULL ? message : ""));
    }
  g_clear_object (&self->probe);
  update_summary (self);
}

/* How many of the labelled images of a dataset the loader cannot decode (0 while none
 * is known to fail), their messages in unreadable; starts a probe of the paths not known
 * yet (one at a time: the next starts when it ends). What is known holds for the
 * session: another project probes again. */
static guint
count_undecodable (GraftTrainPage *self, const GraftDataset *train, GPtrArray *unreadable)
{
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  guint count = 0;

  if (train == NULL)
    return 0;
  for (guint i = 0; i < train->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (train->items, GraftDatasetItem, i);
      const char *message;
      if (item->label < 0 || item->label >= (int) train->classes->len)
        continue;
      message = g_hash_table_lookup (self->decodable, item->path);
      if (message == NULL)
        g_ptr_array_add (unknown, g_strdup (item->path));
      else if (message[0] != '\0')
        {
          count++;
          g_ptr_array_add (unreadable, (gpointer) message);
        }
    }
  /* Only while the page shows, and not while a run decodes the same images (its log
   * names what it skips): a project of many images is not decoded twice at once, nor at
   * all before the person looks here. */
  if (unknown->len > 0 && self->probe == NULL && gtk_widget_get_mapped (GTK_WIDGET (self))
      && (self->training == NULL || !graft_training_is_busy (self->training)))
    {
      Probe *probe = g_new0 (Probe, 1);
      g_autoptr (GTask) task = NULL;
      probe->paths = g_steal_pointer (&unknown);
      probe->min_side = graft_preprocessing_resize_side (&graft_session_get_spec (self->session)->preprocessing);
      self->probe = g_cancellable_new ();
      task = g_task_new (self, self->probe, probe_done, NULL);
      g_task_set_task_data (task, probe, probe_free);
      g_task_run_in_thread (task, probe_thread);
    }
  return count;
}

/* A heading and the first ten messages, one a line, after what tooltip has. */
static void
append_unreadable (GString *tooltip, const char *heading, GPtrArray *messages)
{
  if (tooltip->len > 0)
    g_string_append (tooltip, "\n\n");
  g_string_append (tooltip, heading);
  for (guint i = 0; i < messages->len && i < 10; i++)
    g_string_append_printf (tooltip, "\n%s", (const char *) g_ptr_array_index (messages, i));
  if (messages->len > 10)
    {
      g_string_append_c (tooltip, '\n');
      g_string_append_printf (tooltip, g_dngettext (GETTEXT_PACKAGE, "and %u more", "and %u more", messages->len - 10),
                              messages->len - 10);
    }
}

/* What a run still needs, one line each; NULL when it can start. */
static char *
missing_for_a_run (GraftTrainPage *self)
{
  GString *missing = g_string_new (NULL);
  GraftDataset *train = self->session != NULL ? graft_session_get_train_dataset (self->session) : NULL;
  guint classes = 0;
  guint labelled = labelled_items (train, &classes);

  if (self->session == NULL || graft_session_get_model (self->session) == NULL)
    g_string_append (missing, _("Choose a pretrained model on the Model page."));
  if (labelled == 0)
    {
      if (missing->len > 0)
        g_string_append_c (missing, '\n');
      g_string_append (missing, _("Label some images on the Data page."));
    }
  else if (classes < 2)
    {
      if (missing->len > 0)
        g_string_append_c (missing, '\n');
      g_string_append (missing, _("Label images of at least two classes: the model learns to tell them apart."));
    }
  if (missing->len == 0)
    {
      g_string_free (missing, TRUE);
      return NULL;
    }
  return g_string_free (missing, FALSE);
}

/* --- the summary ------------------------------------------------------------------ */

static void
update_summary (GraftTrainPage *self)
{
  g_autofree char *missing = missing_for_a_run (self);
  gboolean busy = self->training != NULL && graft_training_is_busy (self->training);
  GraftSessionSpec *spec;
  GraftDataset *train, *validation;
  g_autofree char *blocks = NULL;
  g_autofree char *lr = NULL;
  g_autofree char *epochs = NULL;
  g_autofree char *batch = NULL;
  g_autofree char *plan = NULL;
  g_autofree char *stages = NULL;
  guint classes = 0, n_train, n_validation, unused;
  gboolean head_only = FALSE;

  if (missing != NULL && !busy)
    {
      adw_status_page_set_description (self->missing_page, missing);
      gtk_stack_set_visible_child_name (self->stack, "missing");
      update_actions (self);
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "ready");
  if (self->session == NULL)
    return;

  spec = graft_session_get_spec (self->session);
  gtk_label_set_label (self->strategy_label, graft_strategy_get_title (spec->strategy));
  blocks = describe_trained_blocks (self->session, spec, &head_only);
  lr = graft_format_learning_rate (spec->optimizer.learning_rate);
  epochs = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d epoch", "%d epochs", spec->epochs), spec->epochs);
  /* Translators: the number of images in each training step */
  batch = g_strdup_printf (_("batches of %d"), spec->batch_size);
  if (spec->n_stages > 1)
    stages = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "unfrozen in %d stage", "unfrozen in %d stages",
                                           spec->n_stages),
                              spec->n_stages);
  if (stages != NULL)
    {
      char *with_stages = g_strdup_printf ("%s, %s", blocks, stages);
      g_free (blocks);
      blocks = with_stages;
    }
  plan = g_strdup_printf ("%s · %s · %s", blocks, epochs, batch);
  if (spec->augmentation.enabled)
    {
      /* Augmented images differ every epoch, so the features of a frozen backbone
       * cannot be cached: a head-only run then runs the backbone each epoch too (the
       * trainer's own test for its fast path). */
      gboolean cache_lost = head_only && spec->batchnorm_policy != GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS;
      const char *augmented;
      char *with_augmented;

      if (cache_lost)
        /* Translators: in the run's summary, after "Head only · 30 epochs · batches of 32" */
        augmented = _("augmented: no feature cache");
      else
        /* Translators: in the run's summary: the training images are augmented */
        augmented = _("augmented");
      with_augmented = g_strdup_printf ("%s · %s", plan, augmented);
      g_free (plan);
      plan = with_augmented;
    }
  gtk_label_set_label (self->plan_label, plan);
  {
    /* Translators: "Learning rate 3.0e-3 with Adam, one-cycle schedule" */
    g_autofree char *optimizer = g_strdup_printf (_("Learning rate %s with %s, %s schedule"), lr,
                                                  optimizer_name (spec->optimizer.kind),
                                                  schedule_name (spec->schedule.kind));
    gtk_label_set_label (self->optimizer_label, optimizer);
  }

  train = graft_session_get_train_dataset (self->session);
  validation = graft_session_get_validation_dataset (self->session);
  n_train = labelled_items (train, &classes);
  n_validation = labelled_items (validation, &unused);
  {
    /* Training and evaluation drop an image they cannot decode (the trainer's log says
     * "Skipped"): the counts say what is used, the tooltip which files are left out
     * and why. */
    g_autoptr (GPtrArray) bad_train = g_ptr_array_new ();
    g_autoptr (GPtrArray) bad_validation = g_ptr_array_new ();
    guint n_bad_train = count_undecodable (self, train, bad_train);
    guint n_bad_validation = count_undecodable (self, validation, bad_validation);
    g_autoptr (GString) tooltip = g_string_new (NULL);
    g_autofree char *images = NULL;
    g_autofree char *checks = NULL;

    if (n_bad_train == 0)
      images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u training image", "%u training images", n_train),
                                n_train);
    else
      {
        g_autofree char *left_out = g_strdup_printf (
          /* Translators: after "15 of 16 training images", in brackets */
          g_dngettext (GETTEXT_PACKAGE, "%u cannot be read", "%u cannot be read", n_bad_train), n_bad_train);
        g_autofree char *used = g_strdup_printf (
          /* Translators: the training images that can be read, of all of them: "15 of 16 training images" */
          g_dngettext (GETTEXT_PACKAGE, "%u of %u training image", "%u of %u training images", n_train),
          n_train - n_bad_train, n_train);
        images = g_strdup_printf ("%s (%s)", used, left_out);
        append_unreadable (tooltip,
                           g_dngettext (GETTEXT_PACKAGE, "Training leaves out this image, which cannot be read:",
                                        "Training leaves out these images, which cannot be read:", n_bad_train),
                           bad_train);
      }
    if (n_validation == 0)
      checks = g_strdup (_("no validation images"));
    else if (n_bad_validation == 0)
      checks = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u for validation", "%u for validation", n_validation),
                                n_validation);
    else
      {
        g_autofree char *left_out = g_strdup_printf (
          g_dngettext (GETTEXT_PACKAGE, "%u cannot be read", "%u cannot be read", n_bad_validation),
          n_bad_validation);
        g_autofree char *used = g_strdup_printf (
          /* Translators: the validation images that can be read, of all of them: "3 of 4 for validation" */
          g_dngettext (GETTEXT_PACKAGE, "%u of %u for validation", "%u of %u for validation", n_validation),
          n_validation - n_bad_validation, n_validation);
        checks = g_strdup_printf ("%s (%s)", used, left_out);
        append_unreadable (tooltip,
                           g_dngettext (GETTEXT_PACKAGE, "Validation leaves out this image, which cannot be read:",
                                        "Validation leaves out these images, which cannot be read:",
                                        n_bad_validation),
                           bad_validation);
      }
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->data_label), tooltip->len > 0 ? tooltip->str : NULL);
    /* In the warning colour, not dimmed, while some images cannot be read. */
    if (tooltip->len > 0)
      {
        gtk_widget_add_css_class (GTK_WIDGET (self->data_label), "warning");
        gtk_widget_remove_css_class (GTK_WIDGET (self->data_label), "dim-label");
      }
    else
      {
        gtk_widget_remove_css_class (GTK_WIDGET (self->data_label), "warning");
        gtk_widget_add_css_class (GTK_WIDGET (self->data_label), "dim-label");
      }
    g_autofree char *kinds = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u class", "%u classes", classes),
                                              classes);
    g_autofree char *text = g_strdup_printf ("%s, %s, %s", images, checks, kinds);
    gtk_label_set_label (self->data_label, text);
  }

  /* The epoch axis spans the planned run while none goes on. */
  if (!busy)
    {
      graft_plot_set_x_range (self->loss_plot, 0, spec->epochs);
      graft_plot_set_x_range (self->accuracy_plot, 0, spec->epochs);
      graft_plot_set_x_range (self->lr_plot, 0, spec->epochs);
    }
  update_actions (self);
  update_progress (self);
}

/* The images are probed once the page shows. */
static void
on_map (GtkWidget *widget)
{
  update_summary (GRAFT_TRAIN_PAGE (widget));
}

/* --- progress and actions ---------------------------------------------------------- */

static void
update_actions (GraftTrainPage *self)
{
  GraftTrainingState state = self->training != NULL ? graft_training_get_state (self->training) : GRAFT_TRAINING_IDLE;
  gboolean busy = state == GRAFT_TRAINING_RUNNING || state == GRAFT_TRAINING_PAUSED;
  gboolean ready = self->session != NULL && self->training != NULL;
  g_autofree char *missing = missing_for_a_run (self);
  float suggestion = self->training != NULL ? graft_training_get_lr_suggestion (self->training) : 0;

  ready = ready && missing == NULL;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.start", ready && !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.pause", busy && !self->lr_finder_running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.stop", busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.find-lr", ready && !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.use-suggested-lr",
                                 self->session != NULL && !busy && suggestion > 0);

  if (state == GRAFT_TRAINING_PAUSED)
    {
      gtk_button_set_icon_name (self->pause_button, "media-playback-start-symbolic");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button), _("Resume"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->pause_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Resume"), -1);
    }
  else
    {
      gtk_button_set_icon_name (self->pause_button, "media-playback-pause-symbolic");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button), _("Pause"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->pause_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Pause"), -1);
    }
  gtk_stack_set_visible_child_name (self->start_label_stack,
                                    (state == GRAFT_TRAINING_FINISHED || state == GRAFT_TRAINING_FAILED)
                                        && !self->plan_changed
                                      ? "again"
                                      : "start");
}

static gboolean
busy_state (GraftTrainingState state)
{
  return state == GRAFT_TRAINING_RUNNING || state == GRAFT_TRAINING_PAUSED;
}

/* Scrolls the page so that the learning-rate finder's card, under the plots, is in view:
 * its result would otherwise land below the fold. Once the revealer has opened and laid
 * out its card (a frame after), from a tick callback. */
static gboolean
scroll_to_lr_finder_tick (GtkWidget *revealer, GdkFrameClock *clock, gpointer user_data)
{
  GtkWidget *scrolled = gtk_widget_get_ancestor (revealer, GTK_TYPE_SCROLLED_WINDOW);
  guint *frames_revealed = user_data;
  GtkWidget *content;
  graphene_rect_t bounds;

  if (scrolled == NULL)
    return G_SOURCE_REMOVE;
  if (!gtk_revealer_get_child_revealed (GTK_REVEALER (revealer)) || ++*frames_revealed < 2)
    return G_SOURCE_CONTINUE;
  content = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scrolled));
  if (content != NULL && gtk_widget_compute_bounds (revealer, content, &bounds))
    /* Its bottom at the bottom of the view, or its top at the top if it is taller. */
    gtk_adjustment_clamp_page (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled)),
                               bounds.origin.y, bounds.origin.y + bounds.size.height);
  return G_SOURCE_REMOVE;
}

static void
scroll_to_lr_finder (GraftTrainPage *self)
{
  gtk_widget_add_tick_callback (GTK_WIDGET (self->lr_finder_revealer), scroll_to_lr_finder_tick,
                                g_new0 (guint, 1), g_free);
}

/* After a run: whether its frozen layers ran once per image (the boundary cache, see
 * trainer.h) and how many images came from the cache, or why they ran every epoch;
 * NULL when no layer was frozen below a trained one (nothing to say). */
/* The block of model whose node makes value (the freeze boundary: an ONNX export names
 * it "/layer3/layer3.0/relu_1/Relu_output_0", a person knows "layer3.0"), else value. */
static const char *
boundary_block_name (const GraftModel *model, const char *value)
{
  int v = model != NULL && model->graph != NULL && value != NULL ? graft_graph_find_value (model->graph, value) : -1;
  int producer = v >= 0 ? graft_graph_value (model->graph, v)->producer : -1;

  if (producer >= 0 && model->blocks != NULL)
    for (guint b = 0; b < model->blocks->len; b++)
      {
        const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
        if (block->first_node <= producer && producer <= block->last_node)
          return block->name;
      }
  return value != NULL ? value : "?";
}

static char *
describe_boundary_cache (GraftTraining *training, const GraftModel *model)
{
  GraftBoundaryCacheReport report = { 0 };

  if (training == NULL || !graft_training_get_boundary_cache_report (training, &report))
    return NULL;
  if (report.used)
    {
      guint64 total = report.hits + report.images_computed;
      g_autofree char *hits = graft_format_count_exact (report.hits);
      g_autofree char *all = graft_format_count_exact (total);
      g_autofree char *size = g_format_size (report.bytes);

      /* Translators: the last frozen block ("layer3.0"), the size of
       * what is kept ("12.8 MB"), then two counts: "1,400 of 1,400 images" */
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "Frozen layers up to %s run once per image (%s kept): %s of %s image "
                                           "from the cache, every epoch counted",
                                           "Frozen layers up to %s run once per image (%s kept): %s of %s images "
                                           "from the cache, every epoch counted",
                                           (gulong) MIN (total, G_MAXULONG)),
                              boundary_block_name (model, report.boundary), size, hits, all);
    }
  if (report.reason != NULL)
    /* Translators: the reason comes from the trainer, such as "the activations at relu1
     * of 700 images would take 11 MB, more than the cache's limit of 1.0 MB" */
    return g_strdup_printf (_("Frozen layers run every epoch: %s"), report.reason);
  return NULL;
}

static void
update_cache_label (GraftTrainPage *self, GraftTrainingState state)
{
  g_autofree char *text = NULL;

  if (state == GRAFT_TRAINING_FINISHED && !self->last_run_lr_finder)
    text = describe_boundary_cache (self->training,
                                    self->session != NULL ? graft_session_get_model (self->session) : NULL);
  gtk_label_set_label (self->cache_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->cache_label), text != NULL);
  /* The summary restates the run's start notes ("The frozen layers run once per image:
   * training from /layer3/..."): a log line older than the last epoch goes once it shows.
   * A line from the end of the run ("Stopped early: ...") stays. */
  if (text != NULL && self->message_epoch < graft_training_get_epoch (self->training))
    gtk_widget_set_visible (GTK_WIDGET (self->message_label), FALSE);
}

static void
update_progress (GraftTrainPage *self)
{
  GraftTraining *t = self->training;
  GraftTrainingState state = t != NULL ? graft_training_get_state (t) : GRAFT_TRAINING_IDLE;
  g_autofree char *title = NULL;
  g_autofree char *detail = NULL;
  int epoch = t != NULL ? graft_training_get_epoch (t) : 0;
  int epochs = t != NULL ? graft_training_get_epochs (t) : 0;
  int stage = t != NULL ? graft_training_get_stage (t) : 0;

  if (self->plan_changed && !busy_state (state))
    {
      /* Another plan was chosen since the last run: what that run did is on the Results
       * page, not under this plan. */
      gtk_label_set_label (self->progress_title, _("Ready to train"));
      gtk_label_set_label (self->progress_detail, "");
      gtk_progress_bar_set_fraction (self->progress_bar, 0);
      gtk_widget_set_visible (GTK_WIDGET (self->cache_label), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->message_label), FALSE);
      return;
    }
  update_cache_label (self, state);
  if (self->lr_finder_running && busy_state (state))
    {
      /* The sweep's steps move the bar (graft_trainer_find_lr's step hook). */
      g_autofree char *percent = g_strdup_printf (_("%.0f %% of the learning rates tried"),
                                                  100 * graft_training_get_fraction (t));
      gtk_label_set_label (self->progress_title, _("Finding a learning rate…"));
      gtk_label_set_label (self->progress_detail, percent);
      gtk_progress_bar_set_fraction (self->progress_bar, graft_training_get_fraction (t));
      return;
    }

  switch (state)
    {
    case GRAFT_TRAINING_IDLE:
      title = g_strdup (_("Ready to train"));
      break;
    case GRAFT_TRAINING_RUNNING:
    case GRAFT_TRAINING_PAUSED:
      if (epoch == 0)
        title = g_strdup (state == GRAFT_TRAINING_PAUSED ? _("Paused") : _("Starting…"));
      else
        {
          g_autofree char *where = g_strdup_printf (_("Epoch %d of %d"), epoch, epochs);
          g_autofree char *stage_text = self->run_stages > 1 && stage > 0
                                          ? g_strdup_printf (_("stage %d of %d"), stage, self->run_stages)
                                          : NULL;
          if (state == GRAFT_TRAINING_PAUSED)
            /* Translators: "Paused at epoch 3 of 10" */
            title = g_strdup_printf (_("Paused at epoch %d of %d"), epoch, epochs);
          else if (stage_text != NULL)
            title = g_strdup_printf ("%s · %s", where, stage_text);
          else
            title = g_steal_pointer (&where);
        }
      if (state == GRAFT_TRAINING_RUNNING && graft_training_get_images_per_second (t) > 0)
        {
          g_autofree char *left = graft_format_time_left (graft_training_get_eta_seconds (t));
          /* Translators: training speed */
          g_autofree char *rate = g_strdup_printf ("%'.0f", graft_training_get_images_per_second (t));
          g_autofree char *speed = g_strdup_printf (_("%s images/s"), rate);
          detail = left != NULL ? g_strdup_printf ("%s · %s", speed, left) : g_steal_pointer (&speed);
        }
      break;
    case GRAFT_TRAINING_FINISHED:
      if (self->last_run_lr_finder)
        {
          float suggestion = graft_training_get_lr_suggestion (t);
          title = g_strdup (_("Learning rates tried"));
          if (suggestion > 0)
            {
              g_autofree char *lr = graft_format_learning_rate (suggestion);
              detail = g_strdup_printf (_("Suggested: %s"), lr);
            }
        }
      else if (self->stop_requested)
        {
          /* The epochs completed, as the Results page counts them: not the one it stopped in. */
          GraftSeries *per_epoch = graft_training_get_series (t, "train-loss-epoch");
          int done = per_epoch != NULL ? (int) graft_series_get_length (per_epoch) : MAX (0, epoch - 1);
          title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Stopped after %d of %d epoch",
                                                "Stopped after %d of %d epochs", epochs),
                                   done, epochs);
        }
      else
        title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Finished %d epoch", "Finished %d epochs", epochs),
                                 epochs);
      {
        const GraftMetrics *metrics = graft_training_get_validation_metrics (t);
        if (metrics != NULL && metrics->count > 0 && !self->last_run_lr_finder)
          /* Translators: %.0f %% is an accuracy such as "94 %", %.3f a loss */
          detail = g_strdup_printf (_("Validation accuracy %.0f %% · loss %.3f"), 100 * graft_metrics_accuracy (metrics),
                                    graft_metrics_loss (metrics));
      }
      break;
    case GRAFT_TRAINING_FAILED:
      title = g_strdup (self->last_run_lr_finder ? _("The learning-rate finder failed") : _("Training failed"));
      break;
    }
  gtk_label_set_label (self->progress_title, title);
  gtk_label_set_label (self->progress_detail, detail != NULL ? detail : "");
  gtk_progress_bar_set_fraction (self->progress_bar, t != NULL ? graft_training_get_fraction (t) : 0);
}

static void
on_training_message (GraftTrainPage *self)
{
  const char *message = graft_training_get_message (self->training);
  self->message_epoch = graft_training_get_epoch (self->training);
  gtk_label_set_label (self->message_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->message_label), message != NULL && *message != '\0');
}

static void
show_error (GraftTrainPage *self, const char *message)
{
  gtk_label_set_label (self->error_label, message);
  gtk_widget_set_visible (self->error_box, message != NULL);
}

static void
toast (GraftTrainPage *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

static void
show_suggestion (GraftTrainPage *self)
{
  float suggestion = graft_training_get_lr_suggestion (self->training);
  g_autofree char *lr = NULL;
  g_autofree char *text = NULL;
  g_autofree char *button = NULL;
  g_autofree char *marker = NULL;

  if (!(suggestion > 0))
    {
      gtk_label_set_label (self->lr_suggestion_label, _("No learning rate could be suggested: the loss never fell."));
      gtk_widget_set_visible (GTK_WIDGET (self->use_lr_button), FALSE);
      graft_plot_set_marker (self->lr_finder_plot, NAN, NULL);
      return;
    }
  lr = graft_format_learning_rate (suggestion);
  /* Translators: %s is a learning rate such as 3.0e-3 */
  text = g_strdup_printf (_("The loss is lowest around ten times %s: that rate is a safe one to start from."), lr);
  /* Translators: a button; %s is a learning rate such as 3.0e-3 */
  button = g_strdup_printf (_("_Use %s"), lr);
  /* Translators: the marker on the LR finder's plot; %s is a learning rate */
  marker = g_strdup_printf (_("Suggested: %s"), lr);
  gtk_label_set_label (self->lr_suggestion_label, text);
  gtk_button_set_label (self->use_lr_button, button);
  gtk_button_set_use_underline (self->use_lr_button, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->use_lr_button), TRUE);
  graft_plot_set_marker (self->lr_finder_plot, suggestion, marker);
}

static void
on_training_finished (GraftTraining *training, GError *error, GraftTrainPage *self)
{
  gboolean lr_finder = self->lr_finder_running;

  self->lr_finder_running = FALSE;
  if (error != NULL)
    {
      show_error (self, error->message);
      toast (self, lr_finder ? _("The learning-rate finder failed") : _("Training failed"));
      if (lr_finder)
        gtk_label_set_label (self->lr_suggestion_label, "");
    }
  else if (lr_finder)
    {
      float suggestion = graft_training_get_lr_suggestion (training);
      show_suggestion (self);
      if (suggestion > 0)
        {
          g_autofree char *lr = graft_format_learning_rate (suggestion);
          g_autofree char *message = g_strdup_printf (_("Suggested learning rate: %s"), lr);
          toast (self, message);
        }
    }
  else if (self->stop_requested)
    toast (self, _("Training stopped"));
  else
    {
      const GraftMetrics *metrics = graft_training_get_validation_metrics (training);
      if (metrics != NULL && metrics->count > 0)
        {
          /* Translators: a toast; %.0f %% is the validation accuracy, such as "94 %" */
          g_autofree char *message = g_strdup_printf (_("Training finished: %.0f %% validation accuracy"),
                                                      100 * graft_metrics_accuracy (metrics));
          toast (self, message);
        }
      else
        toast (self, _("Training finished"));
    }
  update_progress (self);
  update_actions (self);
  if (lr_finder)
    scroll_to_lr_finder (self);
}

static void
on_training_state (GraftTrainPage *self)
{
  update_actions (self);
  update_progress (self);
  /* The summary follows the spec again once the run is over. */
  if (!graft_training_is_busy (self->training))
    update_summary (self);
}

/* Another model or spec: the last run's status (its epochs, its accuracy) belongs to a
 * plan no longer shown, so the page says it is ready to train this one. */
static void
on_plan_changed (GraftTrainPage *self)
{
  if (self->training != NULL && !graft_training_is_busy (self->training)
      && graft_training_get_state (self->training) != GRAFT_TRAINING_IDLE)
    self->plan_changed = TRUE;
  update_summary (self);
}

/* --- actions ----------------------------------------------------------------- */

static gboolean
start (GraftTrainPage *self, gboolean lr_finder)
{
  GraftSessionSpec *spec;
  g_autoptr (GError) error = NULL;

  if (self->session == NULL || self->training == NULL || graft_training_is_busy (self->training))
    return FALSE;
  spec = graft_session_get_spec (self->session);
  show_error (self, NULL);
  self->stop_requested = FALSE;
  self->plan_changed = FALSE;
  self->lr_finder_running = lr_finder;
  self->last_run_lr_finder = lr_finder;
  self->run_stages = spec->n_stages;
  if (!lr_finder)
    {
      graft_plot_set_x_range (self->loss_plot, 0, spec->epochs);
      graft_plot_set_x_range (self->accuracy_plot, 0, spec->epochs);
      graft_plot_set_x_range (self->lr_plot, 0, spec->epochs);
    }
  else
    {
      graft_plot_set_marker (self->lr_finder_plot, NAN, NULL);
      gtk_label_set_label (self->lr_suggestion_label, "");
      gtk_widget_set_visible (GTK_WIDGET (self->use_lr_button), FALSE);
      gtk_revealer_set_reveal_child (self->lr_finder_revealer, TRUE);
    }
  if (!graft_training_start (self->training, graft_session_get_model (self->session), spec,
                             graft_session_get_train_dataset (self->session),
                             graft_session_get_validation_dataset (self->session),
                             graft_session_get_cache_folder (self->session), lr_finder, &error))
    {
      g_autofree char *message = g_strdup_printf (_("Training could not start: %s"), error->message);
      self->lr_finder_running = FALSE;
      show_error (self, message);
      toast (self, message);
      update_actions (self);
      return FALSE;
    }
  update_actions (self);
  update_progress (self);
  return TRUE;
}

static void
action_start (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  start (GRAFT_TRAIN_PAGE (widget), FALSE);
}

static void
action_find_lr (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  start (GRAFT_TRAIN_PAGE (widget), TRUE);
}

static void
action_pause (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (widget);
  if (self->training == NULL)
    return;
  if (graft_training_get_state (self->training) == GRAFT_TRAINING_PAUSED)
    graft_training_resume (self->training);
  else
    graft_training_pause (self->training);
}

static void
action_stop (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (widget);
  if (self->training == NULL || !graft_training_is_busy (self->training))
    return;
  self->stop_requested = TRUE;
  graft_training_stop (self->training);
  /* A paused run must wake up to see the request. */
  if (graft_training_get_state (self->training) == GRAFT_TRAINING_PAUSED)
    graft_training_resume (self->training);
  gtk_label_set_label (self->progress_title, _("Stopping…"));
}

static void
action_use_suggested_lr (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (widget);
  float suggestion;
  g_autofree char *lr = NULL;
  g_autofree char *message = NULL;

  if (self->session == NULL || self->training == NULL)
    return;
  suggestion = graft_training_get_lr_suggestion (self->training);
  if (!(suggestion > 0))
    return;
  graft_session_get_spec (self->session)->optimizer.learning_rate = suggestion;
  graft_session_spec_changed (self->session);
  lr = graft_format_learning_rate (suggestion);
  message = g_strdup_printf (_("Learning rate set to %s"), lr);
  toast (self, message);
}

static void
on_error_close (GraftTrainPage *self)
{
  show_error (self, NULL);
}

/* --- properties -------------------------------------------------------------------- */

static void
attach_series (GraftTrainPage *self)
{
  GraftPlot *plots[] = { self->loss_plot, self->accuracy_plot, self->lr_plot, self->lr_finder_plot };
  for (gsize i = 0; i < G_N_ELEMENTS (plots); i++)
    graft_plot_remove_all_series (plots[i]);
  if (self->training == NULL)
    return;
  graft_plot_add_series_with_color (self->loss_plot, graft_training_get_series (self->training, "train-loss"),
                                    GRAFT_PLOT_LINE | GRAFT_PLOT_FAINT, GRAFT_PLOT_COLOR_BLUE);
  graft_plot_add_series_with_color (self->loss_plot, graft_training_get_series (self->training, "train-loss-epoch"),
                                    GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_BLUE);
  graft_plot_add_series_with_color (self->loss_plot, graft_training_get_series (self->training, "validation-loss"),
                                    GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_ORANGE);
  graft_plot_add_series_with_color (self->accuracy_plot,
                                    graft_training_get_series (self->training, "train-accuracy"),
                                    GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_BLUE);
  graft_plot_add_series_with_color (self->accuracy_plot,
                                    graft_training_get_series (self->training, "validation-accuracy"),
                                    GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_ORANGE);
  graft_plot_add_series_with_color (self->lr_plot, graft_training_get_series (self->training, "lr"),
                                    GRAFT_PLOT_LINE, GRAFT_PLOT_COLOR_GREEN);
  graft_plot_add_series_with_color (self->lr_finder_plot, graft_training_get_series (self->training, "lr-finder"),
                                    GRAFT_PLOT_LINE, GRAFT_PLOT_COLOR_PURPLE);
}

void
graft_train_page_set_session (GraftTrainPage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_TRAIN_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (!g_set_object (&self->session, session))
    return;
  g_signal_group_set_target (self->session_signals, session);
  if (self->probe != NULL)
    g_cancellable_cancel (self->probe);
  g_clear_object (&self->probe);
  g_hash_table_remove_all (self->decodable);
  update_summary (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftSession *
graft_train_page_get_session (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return self->session;
}

void
graft_train_page_set_training (GraftTrainPage *self, GraftTraining *training)
{
  g_return_if_fail (GRAFT_IS_TRAIN_PAGE (self));
  g_return_if_fail (training == NULL || GRAFT_IS_TRAINING (training));

  if (!g_set_object (&self->training, training))
    return;
  self->lr_finder_running = FALSE;
  self->stop_requested = FALSE;
  self->plan_changed = FALSE;
  g_signal_group_set_target (self->training_signals, training);
  attach_series (self);
  gtk_revealer_set_reveal_child (self->lr_finder_revealer,
                                 training != NULL
                                   && graft_series_get_length (graft_training_get_series (training, "lr-finder")) > 0);
  if (training != NULL && graft_training_get_lr_suggestion (training) > 0)
    show_suggestion (self);
  update_summary (self);
  update_progress (self);
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRAINING]);
}

GraftTraining *
graft_train_page_get_training (GraftTrainPage *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  return self->training;
}

GraftPlot *
graft_train_page_get_plot (GraftTrainPage *self, const char *name)
{
  g_return_val_if_fail (GRAFT_IS_TRAIN_PAGE (self), NULL);
  if (g_str_equal (name, "loss"))
    return self->loss_plot;
  if (g_str_equal (name, "accuracy"))
    return self->accuracy_plot;
  if (g_str_equal (name, "lr"))
    return self->lr_plot;
  if (g_str_equal (name, "lr-finder"))
    return self->lr_finder_plot;
  return NULL;
}

static void
graft_train_page_dispose (GObject *object)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (object);

  if (self->session_signals != NULL)
    g_signal_group_set_target (self->session_signals, NULL);
  if (self->training_signals != NULL)
    g_signal_group_set_target (self->training_signals, NULL);
  g_clear_object (&self->session_signals);
  g_clear_object (&self->training_signals);
  g_clear_object (&self->session);
  g_clear_object (&self->training);
  if (self->probe != NULL)
    g_cancellable_cancel (self->probe);
  g_clear_object (&self->probe);
  g_clear_pointer (&self->decodable, g_hash_table_unref);

  G_OBJECT_CLASS (graft_train_page_parent_class)->dispose (object);
}

static void
graft_train_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_TRAINING:
      g_value_set_object (value, self->training);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_train_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftTrainPage *self = GRAFT_TRAIN_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_train_page_set_session (self, g_value_get_object (value));
      break;
    case PROP_TRAINING:
      graft_train_page_set_training (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_train_page_class_init (GraftTrainPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = graft_train_page_dispose;
  object_class->get_property = graft_train_page_get_property;
  object_class->set_property = graft_train_page_set_property;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION, flags);
  properties[PROP_TRAINING] = g_param_spec_object ("training", NULL, NULL, GRAFT_TYPE_TRAINING, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (message) for the window to show in a toast. */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (GRAFT_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-train-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, missing_page);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, strategy_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, plan_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, optimizer_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, data_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, find_lr_button);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, stop_button);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, pause_button);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, start_button);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, start_label_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, progress_title);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, progress_detail);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, message_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, cache_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, error_box);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, error_close_button);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, loss_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, accuracy_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, lr_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, lr_finder_revealer);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, lr_finder_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, lr_suggestion_label);
  gtk_widget_class_bind_template_child (widget_class, GraftTrainPage, use_lr_button);

  gtk_widget_class_install_action (widget_class, "train.start", NULL, action_start);
  gtk_widget_class_install_action (widget_class, "train.pause", NULL, action_pause);
  gtk_widget_class_install_action (widget_class, "train.stop", NULL, action_stop);
  gtk_widget_class_install_action (widget_class, "train.find-lr", NULL, action_find_lr);
  gtk_widget_class_install_action (widget_class, "train.use-suggested-lr", NULL, action_use_suggested_lr);
}

static void
graft_train_page_init (GraftTrainPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->decodable = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);

  self->session_signals = g_signal_group_new (GRAFT_TYPE_SESSION);
  g_signal_group_connect_swapped (self->session_signals, "model-changed", G_CALLBACK (on_plan_changed), self);
  g_signal_group_connect_swapped (self->session_signals, "spec-changed", G_CALLBACK (on_plan_changed), self);
  g_signal_group_connect_swapped (self->session_signals, "datasets-changed", G_CALLBACK (update_summary), self);

  self->training_signals = g_signal_group_new (GRAFT_TYPE_TRAINING);
  g_signal_group_connect_swapped (self->training_signals, "notify::state", G_CALLBACK (on_training_state), self);
  g_signal_group_connect_swapped (self->training_signals, "notify::fraction", G_CALLBACK (update_progress), self);
  g_signal_group_connect_swapped (self->training_signals, "notify::epoch", G_CALLBACK (update_progress), self);
  g_signal_group_connect_swapped (self->training_signals, "notify::stage", G_CALLBACK (update_progress), self);
  g_signal_group_connect_swapped (self->training_signals, "notify::eta-seconds", G_CALLBACK (update_progress),
                                  self);
  g_signal_group_connect_swapped (self->training_signals, "notify::message", G_CALLBACK (on_training_message),
                                  self);
  g_signal_group_connect (self->training_signals, "finished", G_CALLBACK (on_training_finished), self);

  g_signal_connect_swapped (self->error_close_button, "clicked", G_CALLBACK (on_error_close), self);

  update_summary (self);
  update_actions (self);
  update_progress (self);
}

GtkWidget *
graft_train_page_new (GraftSession *session, GraftTraining *training)
{
  return g_object_new (GRAFT_TYPE_TRAIN_PAGE, "session", session, "training", training, NULL);
}
