/* graft-training.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-training.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/parallel.h"
#include "graft-application.h"
#include "train/trainer.h"

typedef enum { EVENT_STEP, EVENT_EPOCH, EVENT_STAGE, EVENT_LOG, EVENT_FINISHED } EventKind;

typedef struct {
  EventKind kind;
  GraftStepEvent step;
  GraftEpochEvent epoch;      /* epoch.validation is not kept: it is the worker's */
  int stage;
  char *message;
  GError *error;              /* EVENT_FINISHED */
} Event;

struct _GraftTraining
{
  GObject parent_instance;

  GraftTrainingState state;
  double fraction;
  int epoch, epochs, stage;
  double images_per_second, eta_seconds;
  char *message;
  float lr_suggestion;
  GHashTable *series;          /* name -> GraftSeries */

  GraftTrainer *trainer;       /* owned; used by the worker while busy */
  GThread *worker;
  gboolean lr_finder;
  gboolean stop_requested;
  GBytes *model_bytes;         /* the trained model as ONNX, serialised by the worker */
  GArray *lr_finder_x;         /* the sweep's points (double), from the worker to the */
  GArray *lr_finder_y;         /* drain of its last event */
  char *resume_from;           /* the checkpoint the next start continues, or NULL */

  GMutex lock;                 /* guards events and idle_id */
  GArray *events;              /* Event */
  guint idle_id;
};

G_DEFINE_FINAL_TYPE (GraftTraining, graft_training, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_FRACTION,
  PROP_EPOCH,
  PROP_EPOCHS,
  PROP_STAGE,
  PROP_IMAGES_PER_SECOND,
  PROP_ETA_SECONDS,
  PROP_MESSAGE,
  N_PROPS
};
enum { EPOCH_FINISHED, FINISHED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static int engine_threads = -1;   /* atomic; -1: not set, leave the engine alone */

void
graft_training_set_threads (int threads)
{
  g_atomic_int_set (&engine_threads, MAX (threads, 0));
  graft_set_num_threads (threads);
}

int
graft_training_get_threads (void)
{
  return g_atomic_int_get (&engine_threads);
}

void
graft_training_apply_threads (void)
{
  int threads = g_atomic_int_get (&engine_threads);

  if (threads >= 0)
    graft_set_num_threads (threads);
}

static void
event_clear (gpointer data)
{
  Event *event = data;
  g_clear_pointer (&event->message, g_free);
  g_clear_error (&event->error);
}

static const struct {
  const char *name;
  const char *label;
} series_names[] = {
  { "train-loss", N_("Training loss") },
  { "train-loss-epoch", N_("Training loss (epoch)") },
  { "validation-loss", N_("Validation loss") },
  { "train-accuracy", N_("Training accuracy") },
  { "validation-accuracy", N_("Validation accuracy") },
  { "lr", N_("Learning rate") },
  { "lr-finder", N_("Loss by learning rate") },
};

static void
set_state (GraftTraining *self, GraftTrainingState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Steps drained since the last flush, appended to their series at once. */
typedef struct {
  GArray *x, *loss, *lr;
} PendingSteps;

static void
flush_steps (GraftTraining *self, PendingSteps *steps)
{
  if (steps->x->len == 0)
    return;
  graft_series_append_many (g_hash_table_lookup (self->series, "train-loss"), (double *) steps->x->data,
                            (double *) steps->loss->data, steps->x->len);
  graft_series_append_many (g_hash_table_lookup (self->series, "lr"), (double *) steps->x->data,
                            (double *) steps->lr->data, steps->x->len);
  g_array_set_size (steps->x, 0);
  g_array_set_size (steps->loss, 0);
  g_array_set_size (steps->lr, 0);
}

/* Main thread: turns the worker's events into series, properties and signals. Steps
 * are batched into one append per series, flushed before an epoch or the end is
 * signalled, so that a handler of ::epoch-finished or ::finished sees every step
 * before it. */
static gboolean
drain_events (gpointer user_data)
{
  GraftTraining *self = user_data;
  g_autoptr (GArray) events = NULL;
  g_autoptr (GArray) steps_x = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) steps_loss = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) steps_lr = g_array_new (FALSE, FALSE, sizeof (double));
  PendingSteps steps = { steps_x, steps_loss, steps_lr };

  g_mutex_lock (&self->lock);
  events = self->events;
  self->events = g_array_new (FALSE, TRUE, sizeof (Event));
  g_array_set_clear_func (self->events, event_clear);
  self->idle_id = 0;
  g_mutex_unlock (&self->lock);

  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = &g_array_index (events, Event, i);
      switch (event->kind)
        {
        case EVENT_STEP:
          {
            const GraftStepEvent *s = &event->step;
            double x = s->epoch + (s->step + 1.0) / MAX (1, s->steps);
            if (self->lr_finder)
              {
                /* The sweep's steps move the bar; its curve comes whole at the end. */
                self->fraction = (s->step + 1.0) / MAX (1, s->steps);
                g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
                break;
              }
            g_array_append_val (steps.x, x);
            g_array_append_vals (steps.loss, &(double) { s->loss }, 1);
            g_array_append_vals (steps.lr, &(double) { s->lr }, 1);
            self->fraction = x / MAX (1, s->epochs);
            self->images_per_second = s->images_per_second;
            self->eta_seconds = s->eta_seconds;
            self->epoch = s->epoch + 1;
            self->epochs = s->epochs;
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGES_PER_SECOND]);
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA_SECONDS]);
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCH]);
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCHS]);
          }
          break;
        case EVENT_EPOCH:
          {
            const GraftEpochEvent *e = &event->epoch;
            double x = e->epoch + 1.0;
            flush_steps (self, &steps);
            graft_series_append (g_hash_table_lookup (self->series, "train-loss-epoch"), x, e->train_loss);
            graft_series_append (g_hash_table_lookup (self->series, "train-accuracy"), x, e->train_accuracy);
            graft_series_append (g_hash_table_lookup (self->series, "validation-loss"), x, e->validation_loss);
            graft_series_append (g_hash_table_lookup (self->series, "validation-accuracy"), x,
                                 e->validation_accuracy);
            g_signal_emit (self, signals[EPOCH_FINISHED], 0, e->epoch + 1, e->best);
          }
          break;
        case EVENT_STAGE:
          self->stage = event->stage + 1;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
          break;
        case EVENT_LOG:
          g_free (self->message);
          self->message = g_strdup (event->message);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
          break;
        case EVENT_FINISHED:
          g_thread_join (self->worker);
          self->worker = NULL;
          flush_steps (self, &steps);
          /* The sweep's curve, handed over whole: the series is only touched here. */
          if (self->lr_finder_x != NULL)
            graft_series_append_many (g_hash_table_lookup (self->series, "lr-finder"),
                                      (double *) self->lr_finder_x->data, (double *) self->lr_finder_y->data,
                                      self->lr_finder_x->len);
          g_clear_pointer (&self->lr_finder_x, g_array_unref);
          g_clear_pointer (&self->lr_finder_y, g_array_unref);
          /* A stopped run's bar stays where it stopped. */
          if (event->error == NULL && !self->stop_requested)
            {
              self->fraction = 1.0;
              g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
            }
          set_state (self, event->error == NULL ? GRAFT_TRAINING_FINISHED : GRAFT_TRAINING_FAILED);
          g_signal_emit (self, signals[FINISHED], 0, event->error);
          g_object_unref (self); /* the worker's reference */
          break;
        }
    }
  flush_steps (self, &steps);
  g_object_thaw_notify (G_OBJECT (self));
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* Worker thread: queue an event, and an idle to drain them if none is pending. */
static void
push_event (GraftTraining *self, Event *event)
{
  g_mutex_lock (&self->lock);
  g_array_append_val (self->events, *event);
  if (self->idle_id == 0)
    self->idle_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, drain_events, g_object_ref (self), NULL);
  g_mutex_unlock (&self->lock);
}

static void
on_step (const GraftStepEvent *step, gpointer user_data)
{
  Event event = { .kind = EVENT_STEP, .step = *step };
  push_event (user_data, &event);
}

static void
on_epoch (const GraftEpochEvent *epoch, gpointer user_data)
{
  Event event = { .kind = EVENT_EPOCH, .epoch = *epoch };
  event.epoch.validation = NULL;
  push_event (user_data, &event);
}

static void
on_stage (int stage, int epoch, int trainable_from, gpointer user_data)
{
  Event event = { .kind = EVENT_STAGE, .stage = stage };
  push_event (user_data, &event);
}

static void
on_log (const char *message, gpointer user_data)
{
  Event event = { .kind = EVENT_LOG, .message = g_strdup (message) };
  push_event (user_data, &event);
}

static gpointer
run_worker (gpointer user_data)
{
  GraftTraining *self = user_data;
  Event event = { .kind = EVENT_FINISHED };
  GError *error = NULL;

  /* Training yields to the interface: this thread, and the OpenMP threads it starts
   * (they inherit it), run at a lower priority than the main loop. */
  setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
  graft_training_apply_threads ();

  if (self->lr_finder)
    {
      g_autoptr (GArray) lrs = NULL;
      g_autoptr (GArray) losses = NULL;
      float suggestion = 0;
      if (graft_trainer_find_lr (self->trainer, 1e-6f, 10.0f, 100, &lrs, &losses, &suggestion, &error))
        {
          /* Handed over with the last event: the series is only touched on the main thread. */
          self->lr_finder_x = g_array_sized_new (FALSE, FALSE, sizeof (double), lrs->len);
          self->lr_finder_y = g_array_sized_new (FALSE, FALSE, sizeof (double), lrs->len);
          for (guint i = 0; i < lrs->len; i++)
            {
              double x = g_array_index (lrs, float, i), y = g_array_index (losses, float, i);
              g_array_append_val (self->lr_finder_x, x);
              g_array_append_val (self->lr_finder_y, y);
            }
          self->lr_suggestion = suggestion;
        }
    }
  else if (graft_trainer_run (self->trainer, &error))
    {
      /* Serialised here, so that whoever keeps the result (the results page) does not
       * copy a large model's weights on the main thread. */
      g_autoptr (GError) save_error = NULL;
      /* With its labels, preprocessing and recipe, so that the run's stored model file
       * says what it is (graft-cli export DIR --run N writes it as it is). */
      graft_trainer_describe_model (self->trainer);
      self->model_bytes = graft_model_save_to_bytes (graft_trainer_get_model (self->trainer), NULL, &save_error);
      if (self->model_bytes == NULL)
        g_warning ("Cannot serialise the trained model: %s", save_error->message);
    }
  event.error = error;
  push_event (self, &event);
  return NULL;
}

static void
graft_training_dispose (GObject *object)
{
  GraftTraining *self = GRAFT_TRAINING (object);

  /* The worker and every pending idle hold a reference, so this runs only when the
   * worker has finished and its last event has been drained. */
  g_clear_pointer (&self->series, g_hash_table_unref);

  G_OBJECT_CLASS (graft_training_parent_class)->dispose (object);
}

static void
graft_training_finalize (GObject *object)
{
  GraftTraining *self = GRAFT_TRAINING (object);

  g_clear_pointer (&self->trainer, graft_trainer_free);
  g_free (self->resume_from);
  g_clear_pointer (&self->model_bytes, g_bytes_unref);
  g_clear_pointer (&self->lr_finder_x, g_array_unref);
  g_clear_pointer (&self->lr_finder_y, g_array_unref);
  g_clear_pointer (&self->events, g_array_unref);
  g_free (self->message);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (graft_training_parent_class)->finalize (object);
}

static void
graft_training_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftTraining *self = GRAFT_TRAINING (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_FRACTION:
      g_value_set_double (value, self->fraction);
      break;
    case PROP_EPOCH:
      g_value_set_int (value, self->epoch);
      break;
    case PROP_EPOCHS:
      g_value_set_int (value, self->epochs);
      break;
    case PROP_STAGE:
      g_value_set_int (value, self->stage);
      break;
    case PROP_IMAGES_PER_SECOND:
      g_value_set_double (value, self->images_per_second);
      break;
    case PROP_ETA_SECONDS:
      g_value_set_double (value, self->eta_seconds);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_training_class_init (GraftTrainingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = graft_training_dispose;
  object_class->finalize = graft_training_finalize;
  object_class->get_property = graft_training_get_property;

  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, GRAFT_TRAINING_IDLE, GRAFT_TRAINING_FAILED,
                                             GRAFT_TRAINING_IDLE, flags);
  properties[PROP_FRACTION] = g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0, flags);
  properties[PROP_EPOCH] = g_param_spec_int ("epoch", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_EPOCHS] = g_param_spec_int ("epochs", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_STAGE] = g_param_spec_int ("stage", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_IMAGES_PER_SECOND] = g_param_spec_double ("images-per-second", NULL, NULL, 0, G_MAXDOUBLE, 0,
                                                            flags);
  properties[PROP_ETA_SECONDS] = g_param_spec_double ("eta-seconds", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (epoch, best) after each epoch's validation. */
  signals[EPOCH_FINISHED] = g_signal_new ("epoch-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_BOOLEAN);
  /* (error) when the run ends: NULL when it finished or was stopped. */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
graft_training_init (GraftTraining *self)
{
  g_mutex_init (&self->lock);
  self->events = g_array_new (FALSE, TRUE, sizeof (Event));
  g_array_set_clear_func (self->events, event_clear);
  self->series = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  for (gsize i = 0; i < G_N_ELEMENTS (series_names); i++)
    g_hash_table_insert (self->series, (gpointer) series_names[i].name,
                         graft_series_new (series_names[i].name, _(series_names[i].label)));
}

GraftTraining *
graft_training_new (void)
{
  return g_object_new (GRAFT_TYPE_TRAINING, NULL);
}

/* The boundary cache's limit: the feature cache's size setting ("cache-size-mb", as the
 * application trims the cache folder to it; 0 there means no limit). */
static guint64
cache_limit_bytes (void)
{
  GApplication *application = g_application_get_default ();
  g_autoptr (GSettings) settings = NULL;
  int megabytes;

  if (GRAFT_IS_APPLICATION (application) && graft_application_get_settings (GRAFT_APPLICATION (application)) != NULL)
    settings = g_object_ref (graft_application_get_settings (GRAFT_APPLICATION (application)));
  else
    settings = graft_application_new_settings ();
  if (settings == NULL)
    return GRAFT_TRAINER_DEFAULT_CACHE_LIMIT;
  megabytes = g_settings_get_int (settings, "cache-size-mb");
  return megabytes <= 0 ? G_MAXUINT64 : (guint64) megabytes << 20;
}

gboolean
graft_training_start (GraftTraining *self, const GraftModel *model, const GraftSessionSpec *spec,
                      const GraftDataset *train, const GraftDataset *validation, const char *cache_folder,
                      gboolean lr_finder, GError **error)
{
  GraftTrainerHooks hooks = { on_step, on_epoch, on_stage, on_log, NULL, self };
  GHashTableIter iter;
  gpointer series;

  g_return_val_if_fail (GRAFT_IS_TRAINING (self), FALSE);
  if (graft_training_is_busy (self))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY, _("A run is already going on"));
      return FALSE;
    }
  g_clear_pointer (&self->trainer, graft_trainer_free);
  g_clear_pointer (&self->model_bytes, g_bytes_unref);
  self->stop_requested = FALSE;
  self->trainer = graft_trainer_new (model, spec, train, validation, error);
  if (self->trainer != NULL && self->resume_from != NULL && !lr_finder
      && !graft_trainer_resume_from_file (self->trainer, self->resume_from, error))
    g_clear_pointer (&self->trainer, graft_trainer_free);
  g_clear_pointer (&self->resume_from, g_free);
  if (self->trainer == NULL)
    return FALSE;
  graft_trainer_set_hooks (self->trainer, &hooks);
  graft_trainer_set_cache_folder (self->trainer, cache_folder);
  graft_trainer_set_cache_limit (self->trainer, cache_limit_bytes ());

  g_object_freeze_notify (G_OBJECT (self));
  if (lr_finder)
    graft_series_clear (g_hash_table_lookup (self->series, "lr-finder"));
  else
    {
      g_hash_table_iter_init (&iter, self->series);
      while (g_hash_table_iter_next (&iter, NULL, &series))
        if (!g_str_equal (graft_series_get_name (series), "lr-finder"))
          graft_series_clear (series);
    }
  self->lr_finder = lr_finder;
  self->fraction = 0;
  self->epoch = self->stage = 0;
  self->epochs = spec->epochs;
  self->images_per_second = self->eta_seconds = 0;
  self->lr_suggestion = 0;
  g_clear_pointer (&self->message, g_free);
  for (int p = PROP_FRACTION; p < N_PROPS; p++)
    g_object_notify_by_pspec (G_OBJECT (self), properties[p]);
  set_state (self, GRAFT_TRAINING_RUNNING);
  g_object_thaw_notify (G_OBJECT (self));

  /* The worker's reference is given back by the last drain (EVENT_FINISHED joins it). */
  self->worker = g_thread_new ("graft-training", run_worker, g_object_ref (self));
  return TRUE;
}

void
graft_training_set_resume_from (GraftTraining *self, const char *checkpoint)
{
  g_return_if_fail (GRAFT_IS_TRAINING (self));
  g_free (self->resume_from);
  self->resume_from = g_strdup (checkpoint);
}

void
graft_training_set_checkpoint_file (GraftTraining *self, const char *path)
{
  g_return_if_fail (GRAFT_IS_TRAINING (self));
  /* Before the worker runs: the trainer is not shared yet. */
  g_return_if_fail (self->trainer != NULL && self->worker == NULL);
  graft_trainer_set_checkpoint_file (self->trainer, path);
}

void
graft_training_pause (GraftTraining *self)
{
  g_return_if_fail (GRAFT_IS_TRAINING (self));
  if (self->state != GRAFT_TRAINING_RUNNING || self->trainer == NULL)
    return;
  graft_trainer_pause (self->trainer);
  set_state (self, GRAFT_TRAINING_PAUSED);
}

void
graft_training_resume (GraftTraining *self)
{
  g_return_if_fail (GRAFT_IS_TRAINING (self));
  if (self->state != GRAFT_TRAINING_PAUSED)
    return;
  graft_trainer_resume (self->trainer);
  set_state (self, GRAFT_TRAINING_RUNNING);
}

void
graft_training_stop (GraftTraining *self)
{
  g_return_if_fail (GRAFT_IS_TRAINING (self));
  if (graft_training_is_busy (self))
    {
      self->stop_requested = TRUE;
      graft_trainer_stop (self->trainer);
    }
}

GraftTrainingState
graft_training_get_state (GraftTraining *self)
{
  return self->state;
}

gboolean
graft_training_is_busy (GraftTraining *self)
{
  return self->state == GRAFT_TRAINING_RUNNING || self->state == GRAFT_TRAINING_PAUSED;
}

double
graft_training_get_fraction (GraftTraining *self)
{
  return self->fraction;
}

int
graft_training_get_epoch (GraftTraining *self)
{
  return self->epoch;
}

int
graft_training_get_epochs (GraftTraining *self)
{
  return self->epochs;
}

int
graft_training_get_stage (GraftTraining *self)
{
  return self->stage;
}

double
graft_training_get_images_per_second (GraftTraining *self)
{
  return self->images_per_second;
}

double
graft_training_get_eta_seconds (GraftTraining *self)
{
  return self->eta_seconds;
}

const char *
graft_training_get_message (GraftTraining *self)
{
  return self->message;
}

float
graft_training_get_lr_suggestion (GraftTraining *self)
{
  return self->lr_suggestion;
}

GraftSeries *
graft_training_get_series (GraftTraining *self, const char *name)
{
  g_return_val_if_fail (GRAFT_IS_TRAINING (self), NULL);
  return self->series != NULL ? g_hash_table_lookup (self->series, name) : NULL;
}

GraftModel *
graft_training_get_model (GraftTraining *self)
{
  if (self->trainer == NULL || graft_training_is_busy (self))
    return NULL;
  return graft_trainer_get_model (self->trainer);
}

GBytes *
graft_training_get_model_bytes (GraftTraining *self)
{
  if (self->model_bytes == NULL || graft_training_is_busy (self))
    return NULL;
  return g_bytes_ref (self->model_bytes);
}

gboolean
graft_training_is_lr_finder (GraftTraining *self)
{
  g_return_val_if_fail (GRAFT_IS_TRAINING (self), FALSE);
  return self->lr_finder;
}

gboolean
graft_training_was_stopped (GraftTraining *self)
{
  return self->stop_requested;
}

const GraftMetrics *
graft_training_get_validation_metrics (GraftTraining *self)
{
  if (self->trainer == NULL || graft_training_is_busy (self))
    return NULL;
  return graft_trainer_get_validation_metrics (self->trainer);
}

gboolean
graft_training_get_boundary_cache_report (GraftTraining *self, GraftBoundaryCacheReport *report)
{
  g_return_val_if_fail (GRAFT_IS_TRAINING (self), FALSE);
  if (self->trainer == NULL || graft_training_is_busy (self))
    return FALSE;
  graft_trainer_get_boundary_cache_report (self->trainer, report);
  return TRUE;
}
