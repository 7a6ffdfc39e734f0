/* The trainer end to end on the toy network and a folder of toy images: both paths
 * (cached embeddings and full training), stages, stop, divergence, the LR finder. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "engine/parallel.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model-private.h"
#include "train/embedding-cache.h"
#include "train/trainer.h"
#include "toy-images.h"
#include "toy-network.h"

static char *folder;   /* ImageFolder of the toy task: train/ and val/, 3 classes */

typedef struct {
  int steps, epochs, stages, logs;
  int trainable_from[16];
  double last_validation_accuracy;
  double first_train_loss, last_train_loss;
  int stop_after_steps;
  GString *log;
} events;

static void
on_step (const GraftStepEvent *event, gpointer user_data)
{
  events *e = user_data;
  g_assert_cmpint (event->step, <, event->steps);
  g_assert_true (isfinite (event->loss));
  g_assert_cmpfloat (event->lr, >, 0);
  e->steps++;
}

static void
on_epoch (const GraftEpochEvent *event, gpointer user_data)
{
  events *e = user_data;
  if (e->epochs == 0)
    e->first_train_loss = event->train_loss;
  e->last_train_loss = event->train_loss;
  e->last_validation_accuracy = event->validation_accuracy;
  g_assert_nonnull (event->validation);
  e->epochs++;
}

static void
on_stage (int stage, int epoch, int trainable_from, gpointer user_data)
{
  events *e = user_data;
  if (e->stages < 16)
    e->trainable_from[e->stages] = trainable_from;
  e->stages++;
}

static void
on_log (const char *message, gpointer user_data)
{
  events *e = user_data;
  g_string_append_printf (e->log, "%s\n", message);
  e->logs++;
}

static gboolean
stop_now (gpointer user_data)
{
  events *e = user_data;
  return e->stop_after_steps > 0 && e->steps >= e->stop_after_steps;
}

static GraftTrainerHooks
hooks_for (events *e)
{
  GraftTrainerHooks hooks = { on_step, on_epoch, on_stage, on_log, stop_now, e };
  if (e->log == NULL)
    e->log = g_string_new (NULL);
  return hooks;
}

static GBytes *
tensor_bytes (GraftModel *model, const char *name)
{
  int v = graft_graph_find_value (model->graph, name);
  size_t count;
  g_assert_cmpint (v, >=, 0);
  graft_shape_count (&graft_graph_value (model->graph, v)->shape, &count, NULL);
  return g_bytes_new (graft_graph_tensor_data (model->graph, v), count * sizeof (float));
}

static void
test_feature_extraction (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autofree char *cache = g_build_filename (folder, "cache", NULL);
  g_autoptr (GBytes) conv_before = tensor_bytes (base, "conv1.weight");
  g_autoptr (GBytes) head_first = NULL;
  events e = { 0 };

  toy_image_folder_load (folder, &train, &validation);
  for (int run = 0; run < 2; run++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, base);
      g_autoptr (GraftTrainer) trainer = NULL;
      g_autoptr (GError) error = NULL;
      GraftTrainerHooks hooks = hooks_for (&e);
      g_autoptr (GBytes) conv_after = NULL;
      g_autoptr (GBytes) head = NULL;

      toy_preprocessing (spec);
      spec->optimizer.learning_rate = 3e-2f;
      spec->epochs = 15;
      trainer = graft_trainer_new (base, spec, train, validation, &error);
      g_assert_no_error (error);
      g_assert_true (graft_trainer_uses_embedding_cache (trainer));
      graft_trainer_set_hooks (trainer, &hooks);
      graft_trainer_set_cache_folder (trainer, cache);
      g_string_truncate (e.log, 0);
      e.epochs = 0;
      g_assert_true (graft_trainer_run (trainer, &error));
      g_assert_no_error (error);
      g_test_message ("run %d: loss %.3f -> %.3f, validation accuracy %.3f", run, e.first_train_loss,
                      e.last_train_loss, e.last_validation_accuracy);
      g_assert_cmpint (e.epochs, ==, 15);
      g_assert_cmpfloat (e.last_train_loss, <, e.first_train_loss);
      g_assert_cmpfloat (e.last_validation_accuracy, >=, 0.8);
      /* The broken file was reported by name, once. */
      if (run == 0)
        g_assert_nonnull (strstr (e.log->str, "broken.png"));
      else
        /* Everything came from the cache: only the broken file is tried again. */
        {
          if (strstr (e.log->str, "Computing the features of 1 image\n") == NULL)
            g_error ("features computed again: %s", e.log->str);
        }
      /* The backbone did not move; the head did, identically in both runs. */
      conv_after = tensor_bytes (graft_trainer_get_model (trainer), "conv1.weight");
      g_assert_true (g_bytes_equal (conv_before, conv_after));
      head = tensor_bytes (graft_trainer_get_model (trainer), "head.0.weight");
      if (run == 0)
        head_first = g_bytes_ref (head);
      else
        g_assert_true (g_bytes_equal (head_first, head));
      g_assert_nonnull (graft_trainer_get_validation_metrics (trainer));
    }
  g_string_free (e.log, TRUE);
}

static void
test_fine_tune (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) frozen_before = tensor_bytes (base, "conv1.weight");
  g_autoptr (GBytes) frozen_after = NULL;
  events e = { 0 };
  GraftTrainerHooks hooks = hooks_for (&e);
  GraftModel *model;
  int moved = 0;

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  spec->augmentation.crop_scale_min = 0.6f;
  spec->augmentation.rotation_degrees = 0;
  spec->epochs = 4;
  spec->optimizer.learning_rate = 1e-2f;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_no_error (error);
  g_assert_false (graft_trainer_uses_embedding_cache (trainer));
  graft_trainer_set_hooks (trainer, &hooks);
  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_no_error (error);
  g_assert_cmpint (e.epochs, ==, 4);
  g_assert_cmpint (e.steps, ==, 4 * 6); /* 96 images - 1 broken... 95 in batches of 16 */
  model = graft_trainer_get_model (trainer);
  /* The bottom block stays frozen; some of the top blocks moved. */
  frozen_after = tensor_bytes (model, "conv1.weight");
  g_assert_true (g_bytes_equal (frozen_before, frozen_after));
  for (int b = 0; b + 1 < (int) model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (model->graph, n);
          for (int k = 0; k < node->n_inputs; k++)
            {
              const graft_value *value = graft_graph_value (model->graph, node->inputs[k]);
              int in_base = graft_graph_find_value (base->graph, value->name);
              size_t count;
              if (value->kind != GRAFT_VALUE_PARAMETER)
                continue;
              graft_shape_count (&value->shape, &count, NULL);
              moved += memcmp (value->data, graft_graph_tensor_data (base->graph, in_base), count * sizeof (float)) != 0;
            }
        }
    }
  g_assert_cmpint (moved, >, 0);
  g_string_free (e.log, TRUE);
}

static void
test_progressive_stages (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  events e = { 0 };
  GraftTrainerHooks hooks = hooks_for (&e);
  int blocks = (int) base->blocks->len - 1;

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  graft_augmentation_init_none (&spec->augmentation);
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_no_error (error);
  graft_trainer_set_hooks (trainer, &hooks);
  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_cmpint (e.stages, ==, spec->n_stages);
  /* One more block per stage, from the head alone down to everything. */
  for (int s = 0; s < MIN (e.stages, 16); s++)
    g_assert_cmpint (e.trainable_from[s], ==, MAX (0, blocks + 1 - 1 - s));
  g_string_free (e.log, TRUE);
}

static void
test_stop (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  events e = { .stop_after_steps = 3 };
  GraftTrainerHooks hooks = hooks_for (&e);

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  graft_trainer_set_hooks (trainer, &hooks);
  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_cmpint (e.steps, ==, 3);
  g_assert_cmpint (e.epochs, ==, 0);
  g_assert_nonnull (strstr (e.log->str, "stopped"));
  g_string_free (e.log, TRUE);
}

static void
test_diverges (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  GraftModel *model;

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  spec->optimizer = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  spec->optimizer.learning_rate = 1e30f;
  spec->schedule.kind = GRAFT_SCHEDULE_CONSTANT;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_false (graft_trainer_run (trainer, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DIVERGED);
  g_assert_nonnull (strstr (error->message, "learning rate"));
  /* The weights are the last good ones: finite. */
  model = graft_trainer_get_model (trainer);
  for (int v = 0; v < graft_graph_value_count (model->graph); v++)
    {
      const graft_value *value = graft_graph_value (model->graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      for (size_t i = 0; i < count; i++)
        g_assert_true (isfinite (value->data[i]));
    }
}

/* The sweep's step hook: each step tried, in order, for a progress bar. */
static void
count_sweep_step (const GraftStepEvent *event, gpointer user_data)
{
  GArray *steps = user_data;
  g_assert_cmpint (event->epochs, ==, 1);
  g_assert_cmpint (event->steps, ==, 100);
  g_assert_cmpint (event->step, ==, (int) steps->len);
  g_array_append_val (steps, event->lr);
}

static void
test_lr_finder (void)
{
  g_autoptr (GArray) steps = g_array_new (FALSE, FALSE, sizeof (float));
  GraftTrainerHooks hooks = { .on_step = count_sweep_step, .user_data = NULL };
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) lrs = NULL;
  g_autoptr (GArray) losses = NULL;
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  float suggestion = 0;

  toy_image_folder_load (folder, &train, &validation);
  /* Labels that have nothing to do with the images: no learning rate makes the loss
   * vanish, and large ones make it explode, as on real data. */
  for (guint i = 0; i < train->items->len; i++)
    g_array_index (train->items, GraftDatasetItem, i).label = (int) ((i * 7919u) % TOY_CLASSES);
  toy_preprocessing (spec);
  graft_augmentation_init_none (&spec->augmentation);
  spec->optimizer = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  spec->optimizer.momentum = 0.9f;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  before = tensor_bytes (graft_trainer_get_model (trainer), "head.0.weight");
  hooks.user_data = steps;
  graft_trainer_set_hooks (trainer, &hooks);
  g_assert_true (graft_trainer_find_lr (trainer, 1e-5f, 1e4f, 100, &lrs, &losses, &suggestion, &error));
  g_assert_no_error (error);
  /* One step event per rate tried, with that rate. */
  g_assert_cmpuint (steps->len, ==, lrs->len);
  for (guint i = 0; i < steps->len; i++)
    g_assert_cmpfloat (g_array_index (steps, float, i), ==, g_array_index (lrs, float, i));
  g_test_message ("%u points, suggestion %g", lrs->len, suggestion);
  for (guint i = 0; i < lrs->len; i += 8)
    g_test_message ("lr %g loss %g", g_array_index (lrs, float, i), g_array_index (losses, float, i));
  g_assert_cmpuint (lrs->len, >=, 10);
  g_assert_cmpuint (lrs->len, ==, losses->len);
  /* The sweep stops once the loss blows up, before the end of the range. */
  g_assert_cmpuint (lrs->len, <, 100);
  g_assert_cmpfloat (suggestion, >, 1e-4f);
  g_assert_cmpfloat (suggestion, <, g_array_index (lrs, float, lrs->len - 1));
  after = tensor_bytes (graft_trainer_get_model (trainer), "head.0.weight");
  g_assert_true (g_bytes_equal (before, after)); /* weights restored */
}

static void
test_evaluate (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_CUSTOM, base);
  g_autoptr (GraftMetrics) metrics = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *probabilities = NULL;

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  metrics = graft_evaluate (base, validation, &spec->preprocessing, 16, 2, &probabilities, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (metrics->count, ==, validation->items->len);
  for (guint i = 0; i < validation->items->len; i++)
    {
      double sum = 0;
      for (int k = 0; k < TOY_CLASSES; k++)
        sum += probabilities[i * TOY_CLASSES + k];
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
    }
}

static int resume_epochs_seen;

static void
count_epoch (const GraftEpochEvent *event, gpointer user_data)
{
  resume_epochs_seen++;
}

static gboolean
stop_after_two_epochs (gpointer user_data)
{
  return resume_epochs_seen >= 2;
}

static GBytes *
all_weights (GraftModel *model)
{
  GByteArray *bytes = g_byte_array_new ();
  for (int v = 0; v < graft_graph_value_count (model->graph); v++)
    {
      const graft_value *value = graft_graph_value (model->graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      g_byte_array_append (bytes, (const guint8 *) value->data, (guint) (count * sizeof (float)));
    }
  return g_byte_array_free_to_bytes (bytes);
}

/* A run stopped after two epochs and resumed from its checkpoint ends with the same
 * bits as one that was never interrupted (augmentation and dropout included). */
static void
test_resume (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_autofree char *uninterrupted = g_build_filename (folder, "checkpoints-a", NULL);
  g_autofree char *interrupted = g_build_filename (folder, "checkpoints-b", NULL);
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GBytes) resumed = NULL;
  g_autoptr (GError) error = NULL;
  GraftTrainerHooks counting = { .on_epoch = count_epoch, .should_stop = stop_after_two_epochs };

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  spec->epochs = 4;
  spec->augmentation.crop_scale_min = 0.6f;
  spec->head.dropout = 0.3f;
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    graft_trainer_set_checkpoint_folder (trainer, uninterrupted);
    g_assert_true (graft_trainer_run (trainer, &error));
    g_assert_no_error (error);
    expected = all_weights (graft_trainer_get_model (trainer));
  }
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    g_autofree char *state = g_build_filename (interrupted, GRAFT_CHECKPOINT_FILE_NAME, NULL);
    g_autofree char *contents = NULL;
    graft_trainer_set_checkpoint_folder (trainer, interrupted);
    graft_trainer_set_hooks (trainer, &counting);
    resume_epochs_seen = 0;
    g_assert_true (graft_trainer_run (trainer, &error));
    g_assert_cmpint (resume_epochs_seen, ==, 2);
    g_assert_true (g_file_get_contents (state, &contents, NULL, NULL));
    g_assert_nonnull (strstr (contents, "\"epoch\": 1,"));
    g_assert_null (g_strrstr (contents, "graft-tmp"));
  }
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    GraftTrainerHooks only_counting = { .on_epoch = count_epoch };
    resume_epochs_seen = 0;
    graft_trainer_set_hooks (trainer, &only_counting);
    g_assert_true (graft_trainer_resume_from (trainer, interrupted, &error));
    g_assert_no_error (error);
    g_assert_true (graft_trainer_run (trainer, &error));
    g_assert_no_error (error);
    g_assert_cmpint (resume_epochs_seen, ==, 2);
    resumed = all_weights (graft_trainer_get_model (trainer));
  }
  g_assert_true (g_bytes_equal (expected, resumed));

  /* A folder that holds no checkpoint is an error, not a fresh start. */
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, NULL);
    g_autoptr (GError) resume_error = NULL;
    g_assert_false (graft_trainer_resume_from (trainer, folder, &resume_error));
    g_assert_nonnull (resume_error);
  }
}

/* Resumes path in a new trainer: the final weights, or NULL and the error. */
static GBytes *
resume_weights (GraftModel *base, GraftSessionSpec *spec, GraftDataset *train, GraftDataset *validation,
                const char *path, GError **error)
{
  g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, error);
  if (!graft_trainer_resume_from_file (trainer, path, error) || !graft_trainer_run (trainer, error))
    return NULL;
  return all_weights (graft_trainer_get_model (trainer));
}

/* A checkpoint is valid whole or not at all. A kill while it is written leaves the
 * previous checkpoint and a temporary file beside it (resumed to the same bits), or the
 * new one; a file cut short at any point, or damaged anywhere, is refused with a message
 * that names it, never resumed to a different result. */
static void
test_checkpoint_whole (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_autofree char *dir = g_build_filename (folder, "checkpoints-whole", NULL);
  g_autofree char *path = g_build_filename (dir, "run.checkpoint", NULL);
  g_autofree char *leftover = g_build_filename (dir, "run.checkpoint.graft-tmp.host.99999.AbCdEf", NULL);
  g_autofree char *good = NULL;
  gsize size = 0;
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GError) error = NULL;
  GraftTrainerHooks counting = { .on_epoch = count_epoch, .should_stop = stop_after_two_epochs };
  int done = 0, epochs = 0;

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  spec->epochs = 3;
  spec->head.dropout = 0.3f;
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    g_assert_true (graft_trainer_run (trainer, &error));
    expected = all_weights (graft_trainer_get_model (trainer));
  }
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    graft_trainer_set_checkpoint_file (trainer, path);
    graft_trainer_set_hooks (trainer, &counting);
    resume_epochs_seen = 0;
    g_assert_true (graft_trainer_run (trainer, &error));
  }
  g_assert_true (graft_checkpoint_get_epochs (path, &done, &epochs, &error));
  g_assert_cmpint (done, ==, 2);
  g_assert_cmpint (epochs, ==, 3);
  g_assert_true (g_file_get_contents (path, &good, &size, NULL));

  /* Killed before the rename: the previous checkpoint and part of the new one. */
  g_assert_true (g_file_set_contents (leftover, good, (gssize) size / 2, NULL));
  {
    g_autoptr (GBytes) resumed = resume_weights (base, spec, train, validation, path, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (expected, resumed));
  }

  /* Cut short anywhere (the header, each section, the digest), or one byte changed. */
  for (int k = 0; k <= 40; k++)
    {
      gsize cut = k == 40 ? size - 1 : size * (gsize) k / 40;
      g_autoptr (GError) cut_error = NULL;
      g_autoptr (GBytes) resumed = NULL;
      g_assert_true (g_file_set_contents (path, good, (gssize) cut, NULL));
      resumed = resume_weights (base, spec, train, validation, path, &cut_error);
      g_assert_null (resumed);
      g_assert_error (cut_error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
      g_assert_nonnull (strstr (cut_error->message, "run.checkpoint"));
      if (k == 20)
        g_test_message ("%s", cut_error->message);
    }
  for (int k = 1; k < 20; k++)
    {
      g_autofree char *damaged = g_memdup2 (good, size);
      g_autoptr (GError) damage_error = NULL;
      g_autoptr (GBytes) resumed = NULL;
      damaged[size * (gsize) k / 20] ^= 0x10;
      g_assert_true (g_file_set_contents (path, damaged, (gssize) size, NULL));
      resumed = resume_weights (base, spec, train, validation, path, &damage_error);
      g_assert_null (resumed);
      g_assert_error (damage_error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
      g_assert_nonnull (strstr (damage_error->message, "run.checkpoint"));
    }

  /* Whole, it resumes; with other settings, it is refused. */
  g_assert_true (g_file_set_contents (path, good, (gssize) size, NULL));
  {
    g_autoptr (GBytes) resumed = resume_weights (base, spec, train, validation, path, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (expected, resumed));
  }
  spec->seed++;
  {
    g_autoptr (GError) other_error = NULL;
    g_autoptr (GBytes) resumed = resume_weights (base, spec, train, validation, path, &other_error);
    g_assert_null (resumed);
    g_assert_error (other_error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
  }
  test_remove_tree (dir);
}

/* The name of the block of model that reads value. */
static const char *
block_reading (GraftModel *model, const char *value)
{
  int v = graft_graph_find_value (model->graph, value);
  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      for (int n = block->first_node; n <= block->last_node; n++)
        for (int k = 0; k < graft_graph_node (model->graph, n)->n_inputs; k++)
          if (graft_graph_node (model->graph, n)->inputs[k] == v)
            return block->name;
    }
  g_assert_not_reached ();
}

/* Recalibration acts on the fast path (cached embeddings), per block: a block set to
 * keep its statistics keeps them under a spec that recalibrates the others; a block set
 * to recalibrate gets new ones, and its embeddings are not taken from the cache of a run
 * without them. */
static void
test_recalibrate_feature_extraction (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autofree char *cache = g_build_filename (folder, "recalibrate-cache", NULL);
  g_autoptr (GBytes) bn1_before = tensor_bytes (base, "bn1.running_mean");
  const char *bn1_block = block_reading (base, "bn1.running_mean");
  events e = { 0 };

  toy_image_folder_load (folder, &train, &validation);
  for (int run = 0; run < 2; run++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, base);
      g_autoptr (GraftTrainer) trainer = NULL;
      g_autoptr (GError) error = NULL;
      GraftTrainerHooks hooks = hooks_for (&e);
      g_autoptr (GBytes) bn1_after = NULL;

      toy_preprocessing (spec);
      spec->epochs = 2;
      spec->batchnorm_policy = GRAFT_BATCHNORM_RECALIBRATE;
      graft_session_spec_set_block_batchnorm (spec, bn1_block, run == 0 ? GRAFT_BATCHNORM_FROZEN_INFERENCE
                                                                         : GRAFT_BATCHNORM_RECALIBRATE);
      trainer = graft_trainer_new (base, spec, train, validation, &error);
      g_assert_no_error (error);
      g_assert_true (graft_trainer_uses_embedding_cache (trainer));
      graft_trainer_set_hooks (trainer, &hooks);
      graft_trainer_set_cache_folder (trainer, cache);
      g_string_truncate (e.log, 0);
      g_assert_true (graft_trainer_run (trainer, &error));
      g_assert_no_error (error);
      bn1_after = tensor_bytes (graft_trainer_get_model (trainer), "bn1.running_mean");
      g_assert_cmpint (g_bytes_equal (bn1_before, bn1_after), ==, run == 0);
      if (run == 1)
        {
          g_assert_nonnull (strstr (e.log->str, "Recalibrating"));
          /* Every image's features again (the broken one fails again), none from run 0's cache. */
          if (strstr (e.log->str, "Computing the features of 1 image\n") != NULL)
            g_error ("features of the run without recalibration reused: %s", e.log->str);
        }
    }
  g_string_free (e.log, TRUE);
}

/* With a frozen, recalibrated block below a trainable one, the boundary cache (which
 * folds the frozen BatchNorms) uses the recalibrated statistics: the run ends where the
 * same run without the cache ends. */
static void
test_recalibrate_boundary_cache (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GBytes) bn1_before = tensor_bytes (base, "bn1.running_mean");
  double loss[2] = { 0 };

  toy_image_folder_load (folder, &train, &validation);
  for (int run = 0; run < 2; run++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_CUSTOM, base);
      g_autoptr (GraftTrainer) trainer = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) bn1_after = NULL;
      GraftBoundaryCacheReport report;
      const GraftMetrics *metrics;
      events e = { 0 };
      GraftTrainerHooks hooks = hooks_for (&e);

      toy_preprocessing (spec);
      spec->epochs = 2;
      spec->optimizer.learning_rate = 1e-2f;
      spec->stages[0].trainable_from = graft_session_spec_backbone_blocks (base) - 1;
      graft_session_spec_set_block_batchnorm (spec, block_reading (base, "bn1.running_mean"),
                                              GRAFT_BATCHNORM_RECALIBRATE);
      trainer = graft_trainer_new (base, spec, train, validation, &error);
      g_assert_no_error (error);
      g_assert_false (graft_trainer_uses_embedding_cache (trainer));
      graft_trainer_set_hooks (trainer, &hooks);
      if (run == 1)
        graft_trainer_set_cache_limit (trainer, 0);
      g_assert_true (graft_trainer_run (trainer, &error));
      g_assert_no_error (error);
      graft_trainer_get_boundary_cache_report (trainer, &report);
      g_test_message ("run %d: boundary cache %s (%s)", run, report.used ? "used" : "not used",
                      report.reason != NULL ? report.reason : "");
      g_assert_cmpint (report.used, ==, run == 0);
      bn1_after = tensor_bytes (graft_trainer_get_model (trainer), "bn1.running_mean");
      g_assert_false (g_bytes_equal (bn1_before, bn1_after));
      metrics = graft_trainer_get_validation_metrics (trainer);
      loss[run] = graft_metrics_loss (metrics);
      g_string_free (e.log, TRUE);
    }
  g_test_message ("validation loss with the boundary cache %.6f, without %.6f", loss[0], loss[1]);
  g_assert_cmpfloat (fabs (loss[0] - loss[1]), <, 1e-3 * MAX (1.0, loss[1]));
}

int
main (int argc, char **argv)
{
  int status;
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (2);
  folder = toy_image_folder_new (96, 48, TRUE);
  g_test_add_func ("/train/trainer/feature-extraction", test_feature_extraction);
  g_test_add_func ("/train/trainer/fine-tune", test_fine_tune);
  g_test_add_func ("/train/trainer/progressive-stages", test_progressive_stages);
  g_test_add_func ("/train/trainer/stop", test_stop);
  g_test_add_func ("/train/trainer/diverges", test_diverges);
  g_test_add_func ("/train/trainer/lr-finder", test_lr_finder);
  g_test_add_func ("/train/trainer/evaluate", test_evaluate);
  g_test_add_func ("/train/trainer/resume", test_resume);
  g_test_add_func ("/train/trainer/checkpoint-whole", test_checkpoint_whole);
  g_test_add_func ("/train/trainer/recalibrate-feature-extraction", test_recalibrate_feature_extraction);
  g_test_add_func ("/train/trainer/recalibrate-boundary-cache", test_recalibrate_boundary_cache);
  status = g_test_run ();
  test_remove_tree (folder);
  g_free (folder);
  return status;
}
