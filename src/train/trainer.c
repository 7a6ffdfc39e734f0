#include "config.h"

#include "train/trainer.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "base/regular-file.h"
#include "data/loader.h"
#include "engine/plan.h"
#include "model/model-private.h"
#include "model/surgery.h"
#include "train/boundary-cache.h"
#include "train/embedding-cache.h"
#include "train/export.h"

/* Plans live at one batch size; the last batch of an epoch may be smaller, and gets its
 * own plan (kept for the next epoch). */
typedef struct {
  graft_plan *plans[2];
  int batches[2];
} plan_pair;

/* The boundary path: the activations at the freeze boundary of every item (and view),
 * from the store, or computed by the frozen prefix from the loader's images in the
 * epochs that still miss some. */
typedef struct {
  GraftBoundaryStore *store;   /* the run's (not owned) */
  graft_graph *prefix;         /* the run's (not owned): input -> boundary */
  int prefix_input, prefix_output;
  plan_pair plans;             /* inference plans of the prefix */
  int views;                   /* rows per item: 1, or the cached augmented views */
  gboolean augmented;
  guint64 seed;
  char **hashes;               /* per item: the image's content hash; NULL in memory (the run's) */
  const float **rows;          /* (n_items, views): NULL where not known yet */
  gboolean *failed;            /* per item: did not decode */
  gint32 *labels;              /* per item */
  guint epoch;
  gboolean building;           /* this epoch reads images and runs the prefix */
  gboolean filling;            /* views are missing past the epochs that make them */
  GError *store_error;         /* the first row the cache file could not take */
  guint64 found, computed, hits;
} boundary_data;

/* Where batches come from: the image loader (the full path), embeddings in memory
 * (the head-only path), or boundary activations (the loader's order, with boundary set). */
typedef struct {
  /* loader path */
  GraftLoader *loader;
  boundary_data *boundary;
  /* embedding path: rows of dim floats, one per item */
  const float *embeddings;
  const gint32 *labels;
  guint n_items;
  int dim;
  int batch_size;
  gsize item_floats;     /* floats per item: the preprocessed image, or dim */
  guint64 seed;
  gboolean shuffle;
  guint *order;
  guint position;
  float *buffer;
  gint32 *label_buffer;
  guint *index_buffer;
} batch_source;

/* A graph being trained: the full model, or the head alone over embeddings. */
typedef struct {
  graft_graph *graph;
  int input;
  int logits;
  int first_head_node;   /* nodes from here on are the new head */
  int node_base;         /* the layers above the boundary: where their first node is in the model's graph
                          * (their plans draw the dropout masks the whole graph would) */
} training_graph;

struct _GraftTrainer {
  GraftModel *model;           /* base with the new head */
  GraftSessionSpec *spec;
  GraftDataset *train;
  GraftDataset *validation;    /* may be NULL */
  int classes;
  int cut;                     /* value the head is grafted on */
  int embedding;               /* value cached on the fast path: the cut, or the head's pooled cut */
  int head_first_node;
  int n_blocks;                /* backbone blocks (the head excluded) */
  GraftTrainerHooks hooks;
  char *cache_folder;
  guint64 cache_limit;         /* bytes the boundary cache may take */
  int decode_threads;
  float *class_weights;
  GraftMetrics *best_metrics;
  double wait_seconds, step_seconds;

  char *checkpoint_path;
  GBytes *checkpoint_best;     /* the best weights so far (ONNX), for every later checkpoint */
  /* Set by graft_trainer_resume_from_file: where the next run starts. */
  int start_epoch;
  guint64 start_step;
  double resume_best_accuracy, resume_best_loss;
  int resume_without_improvement;
  gboolean resuming;
  GBytes *resume_last, *resume_best, *resume_optimizer;
  char *resume_name;           /* the checkpoint's name, for messages */

  /* What the last run did with the boundary cache. */
  gboolean boundary_used;
  char *boundary_name, *boundary_reason;
  guint64 boundary_found, boundary_computed, boundary_hits, boundary_bytes;

  GMutex lock;
  GCond resumed;
  gboolean paused;
  gint stop_requested;
};

static void
log_message (GraftTrainer *trainer, const char *format, ...) G_GNUC_PRINTF (2, 3);
static void resume_clear (GraftTrainer *trainer);

static void
log_message (GraftTrainer *trainer, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (trainer->hooks.on_log != NULL)
    trainer->hooks.on_log (message, trainer->hooks.user_data);
  else
    g_debug ("%s", message);
}

GraftTrainer *
graft_trainer_new (const GraftModel *base, const GraftSessionSpec *spec, const GraftDataset *train,
                   const GraftDataset *validation, GError **error)
{
  g_autoptr (GraftModel) model = NULL;
  GraftTrainer *trainer;
  int cut, classes = (int) train->classes->len, n_blocks;
  const GraftBlock *last;

  if (classes < 2)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "a classifier needs at least two classes; this dataset has %d", classes);
      return NULL;
    }
  if (validation != NULL && validation->classes->len != train->classes->len)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "the validation images have %u classes, the training images %d",
                   validation->classes->len, classes);
      return NULL;
    }
  if (spec->cut != NULL)
    {
      cut = graft_graph_find_value (base->graph, spec->cut);
      if (cut < 0)
        {
          g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                       "the model has no layer output called '%s' to graft the head on", spec->cut);
          return NULL;
        }
    }
  else if ((cut = graft_model_default_cut (base)) < 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                   "the model has no classifier to replace; choose where to graft the head");
      return NULL;
    }
  if (spec->precision == GRAFT_PLAN_PRECISION_BF16 && !graft_plan_bf16_supported ())
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                   "the spec asks for bf16 precision, which needs a CPU with AVX512_BF16 or AMX (and a build "
                   "with oneDNN); this one has neither: train in fp32");
      return NULL;
    }
  model = graft_model_graft_head (base, cut, &spec->head, classes, spec->seed, error);
  if (model == NULL)
    return NULL;
  n_blocks = (int) model->blocks->len - 1;
  if (!graft_session_spec_validate (spec, n_blocks, error))
    return NULL;

  trainer = g_new0 (GraftTrainer, 1);
  trainer->spec = graft_session_spec_copy (spec);
  trainer->classes = classes;
  trainer->n_blocks = n_blocks;
  last = &g_array_index (model->blocks, GraftBlock, model->blocks->len - 1);
  trainer->head_first_node = last->first_node;
  trainer->cut = graft_graph_find_value (model->graph, graft_graph_value (base->graph, cut)->name);
  /* The embedding is what the head's first layer reads, (N, features): the cut, or what
   * the head makes of a map or tokens before it (surgery.c: a global average, after a
   * Transpose for Swin's (N, H, W, C) maps; a ViT's class token, sliced and flattened). */
  trainer->embedding = trainer->cut;
  for (int n = trainer->head_first_node; n < graft_graph_node_count (model->graph); n++)
    {
      const graft_node *node = graft_graph_node (model->graph, n);
      graft_op op = node->attributes.op;
      if (op != GRAFT_OP_MEAN_SPATIAL && op != GRAFT_OP_TRANSPOSE && op != GRAFT_OP_SLICE && op != GRAFT_OP_FLATTEN)
        break;
      trainer->embedding = node->output;
    }
  trainer->model = g_steal_pointer (&model);
  trainer->train = graft_dataset_copy (train, classes);
  trainer->validation = validation != NULL ? graft_dataset_copy (validation, classes) : NULL;
  trainer->decode_threads = 2;
  trainer->cache_limit = GRAFT_TRAINER_DEFAULT_CACHE_LIMIT;
  g_mutex_init (&trainer->lock);
  g_cond_init (&trainer->resumed);
  if (spec->balanced_class_weights)
    {
      g_autofree guint *counts = graft_dataset_class_counts (trainer->train);
      guint n = graft_dataset_size (trainer->train);
      trainer->class_weights = g_new (float, classes);
      for (int c = 0; c < classes; c++)
        trainer->class_weights[c] = counts[c] > 0 ? (float) n / ((float) classes * counts[c]) : 0.0f;
    }
  return trainer;
}

void
graft_trainer_free (GraftTrainer *trainer)
{
  if (trainer == NULL)
    return;
  graft_model_free (trainer->model);
  graft_session_spec_free (trainer->spec);
  graft_dataset_free (trainer->train);
  if (trainer->validation != NULL)
    graft_dataset_free (trainer->validation);
  g_free (trainer->cache_folder);
  g_free (trainer->checkpoint_path);
  g_clear_pointer (&trainer->checkpoint_best, g_bytes_unref);
  resume_clear (trainer);
  g_free (trainer->boundary_name);
  g_free (trainer->boundary_reason);
  g_free (trainer->class_weights);
  if (trainer->best_metrics != NULL)
    graft_metrics_free (trainer->best_metrics);
  g_mutex_clear (&trainer->lock);
  g_cond_clear (&trainer->resumed);
  g_free (trainer);
}

void
graft_trainer_set_hooks (GraftTrainer *trainer, const GraftTrainerHooks *hooks)
{
  trainer->hooks = *hooks;
}

void
graft_trainer_set_cache_folder (GraftTrainer *trainer, const char *folder)
{
  g_free (trainer->cache_folder);
  trainer->cache_folder = g_strdup (folder);
}

void
graft_trainer_set_cache_limit (GraftTrainer *trainer, guint64 bytes)
{
  trainer->cache_limit = bytes;
}

void
graft_trainer_get_boundary_cache_report (GraftTrainer *trainer, GraftBoundaryCacheReport *report)
{
  *report = (GraftBoundaryCacheReport) {
    .used = trainer->boundary_used, .boundary = trainer->boundary_name, .reason = trainer->boundary_reason,
    .images_found = trainer->boundary_found, .images_computed = trainer->boundary_computed,
    .hits = trainer->boundary_hits, .bytes = trainer->boundary_bytes,
  };
}

void
graft_trainer_set_checkpoint_file (GraftTrainer *trainer, const char *path)
{
  g_free (trainer->checkpoint_path);
  trainer->checkpoint_path = g_strdup (path);
}

void
graft_trainer_set_checkpoint_folder (GraftTrainer *trainer, const char *folder)
{
  g_free (trainer->checkpoint_path);
  trainer->checkpoint_path = folder != NULL ? g_build_filename (folder, GRAFT_CHECKPOINT_FILE_NAME, NULL) : NULL;
}

void
graft_trainer_set_decode_threads (GraftTrainer *trainer, int threads)
{
  trainer->decode_threads = CLAMP (threads, 0, 64);
}

GraftModel *
graft_trainer_get_model (GraftTrainer *trainer)
{
  return trainer->model;
}

const GraftMetrics *
graft_trainer_get_validation_metrics (GraftTrainer *trainer)
{
  return trainer->best_metrics;
}

double
graft_trainer_get_wait_fraction (GraftTrainer *trainer)
{
  return trainer->step_seconds > 0 ? trainer->wait_seconds / trainer->step_seconds : 0.0;
}

void
graft_trainer_pause (GraftTrainer *trainer)
{
  g_mutex_lock (&trainer->lock);
  trainer->paused = TRUE;
  g_mutex_unlock (&trainer->lock);
}

void
graft_trainer_resume (GraftTrainer *trainer)
{
  g_mutex_lock (&trainer->lock);
  trainer->paused = FALSE;
  g_cond_broadcast (&trainer->resumed);
  g_mutex_unlock (&trainer->lock);
}

void
graft_trainer_stop (GraftTrainer *trainer)
{
  g_atomic_int_set (&trainer->stop_requested, 1);
  graft_trainer_resume (trainer);
}

/* Waits while paused; TRUE when the run must stop. Called between batches. */
static gboolean
should_stop (GraftTrainer *trainer)
{
  g_mutex_lock (&trainer->lock);
  while (trainer->paused && !g_atomic_int_get (&trainer->stop_requested))
    g_cond_wait (&trainer->resumed, &trainer->lock);
  g_mutex_unlock (&trainer->lock);
  if (trainer->hooks.should_stop != NULL && trainer->hooks.should_stop (trainer->hooks.user_data))
    g_atomic_int_set (&trainer->stop_requested, 1);
  return g_atomic_int_get (&trainer->stop_requested) != 0;
}

/* ------------------------------------------------------------------------ */
/* Which parameters train                                                   */

/* The backbone is frozen for the whole run when no stage and no override trains a
 * block of it. */
static gboolean
backbone_always_frozen (GraftTrainer *trainer)
{
  const GraftSessionSpec *spec = trainer->spec;
  if (g_hash_table_size (spec->parameter_overrides) > 0)
    return FALSE;
  for (int epoch = 0; epoch < spec->epochs; epoch++)
    for (int b = 0; b < trainer->n_blocks; b++)
      if (graft_session_spec_block_trains (spec, epoch, b,
                                           g_array_index (trainer->model->blocks, GraftBlock, b).name,
                                           trainer->n_blocks))
        return FALSE;
  return TRUE;
}

gboolean
graft_trainer_uses_embedding_cache (GraftTrainer *trainer)
{
  if (!backbone_always_frozen (trainer) || trainer->spec->augmentation.enabled)
    return FALSE;
  /* A frozen block that normalises with each batch gives no fixed embedding. */
  for (int b = 0; b < trainer->n_blocks; b++)
    if (graft_session_spec_block_batchnorm (trainer->spec, g_array_index (trainer->model->blocks, GraftBlock, b).name)
        == GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS)
      return FALSE;
  return TRUE;
}

/* Whether a block of the backbone has its BatchNorm statistics recalibrated. */
static gboolean
recalibrates (GraftTrainer *trainer)
{
  for (int b = 0; b < trainer->n_blocks; b++)
    if (graft_session_spec_block_batchnorm (trainer->spec, g_array_index (trainer->model->blocks, GraftBlock, b).name)
        == GRAFT_BATCHNORM_RECALIBRATE)
      return TRUE;
  return FALSE;
}

/* Sets trainable flags, lr multipliers and BatchNorm modes of the full model for epoch. */
static void
apply_stage (GraftTrainer *trainer, int epoch)
{
  const GraftSessionSpec *spec = trainer->spec;
  graft_graph *graph = trainer->model->graph;

  for (guint b = 0; b < trainer->model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (trainer->model->blocks, GraftBlock, b);
      gboolean head = (int) b == trainer->n_blocks;
      gboolean trains = head || graft_session_spec_block_trains (spec, epoch, (int) b, block->name, trainer->n_blocks);
      float multiplier = head ? 1.0f
                              : graft_session_spec_block_lr_factor (spec, epoch, (int) b, block->name, trainer->n_blocks);
      gboolean batch_statistics = trains || graft_session_spec_block_batchnorm (spec, block->name)
                                                == GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS;
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (graph, n);
          for (int k = 0; k < node->n_inputs; k++)
            {
              const graft_value *value = graft_graph_value (graph, node->inputs[k]);
              gpointer override;
              gboolean param_trains = trains;
              if (value->kind != GRAFT_VALUE_PARAMETER)
                continue;
              override = g_hash_table_lookup (spec->parameter_overrides, value->name);
              if (override != NULL)
                param_trains = GPOINTER_TO_INT (override) == 1;
              graft_graph_set_trainable (graph, node->inputs[k], param_trains);
              graft_graph_set_lr_multiplier (graph, node->inputs[k], multiplier);
            }
          if (node->attributes.op == GRAFT_OP_BATCHNORM)
            graft_graph_set_batchnorm_batch_statistics (graph, n, batch_statistics);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Weight snapshots                                                          */

typedef struct {
  GArray *values;   /* int: value index */
  GArray *data;     /* float: their data, one after the other */
} snapshot;

static void
snapshot_take (graft_graph *graph, snapshot *s)
{
  if (s->values == NULL)
    {
      s->values = g_array_new (FALSE, FALSE, sizeof (int));
      s->data = g_array_new (FALSE, FALSE, sizeof (float));
    }
  g_array_set_size (s->values, 0);
  g_array_set_size (s->data, 0);
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      g_array_append_val (s->values, v);
      g_array_append_vals (s->data, value->data, (guint) count);
    }
}

static void
snapshot_restore (graft_graph *graph, const snapshot *s)
{
  size_t offset = 0;
  for (guint i = 0; s->values != NULL && i < s->values->len; i++)
    {
      int v = g_array_index (s->values, int, i);
      size_t count;
      graft_shape_count (&graft_graph_value (graph, v)->shape, &count, NULL);
      memcpy (graft_graph_tensor_data (graph, v), &g_array_index (s->data, float, offset), count * sizeof (float));
      offset += count;
    }
}

static void
snapshot_clear (snapshot *s)
{
  g_clear_pointer (&s->values, g_array_unref);
  g_clear_pointer (&s->data, g_array_unref);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */

static GraftLoaderItem *
loader_items (const GraftDataset *dataset)
{
  GraftLoaderItem *items = g_new (GraftLoaderItem, MAX (1, dataset->items->len));
  for (guint i = 0; i < dataset->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      items[i] = (GraftLoaderItem) { item->path, item->label };
    }
  return items;
}

static void
report_failure (GraftLoader *loader, const GraftLoaderFailure *failure, gpointer user_data)
{
  log_message (user_data, _("Skipped %s"), failure->message);
}

static GraftLoader *
make_loader (GraftTrainer *trainer, const GraftDataset *dataset, gboolean training, GError **error)
{
  GraftLoaderOptions options;
  g_autofree GraftLoaderItem *items = loader_items (dataset);
  GraftLoader *loader;

  graft_loader_options_init (&options);
  options.preprocessing = trainer->spec->preprocessing;
  if (training)
    options.augmentation = trainer->spec->augmentation;
  else
    graft_augmentation_init_none (&options.augmentation);
  options.batch_size = trainer->spec->batch_size;
  options.seed = trainer->spec->seed;
  options.shuffle = training;
  options.drop_last = FALSE;
  options.threads = trainer->decode_threads;
  loader = graft_loader_new (items, dataset->items->len, &options, error);
  if (loader != NULL)
    graft_loader_set_failure_func (loader, report_failure, trainer, NULL);
  return loader;
}

static void boundary_start_epoch (batch_source *source, guint epoch);
static gboolean boundary_next (batch_source *source, GraftBatch **held, const float **inputs, const gint32 **labels,
                               const guint **indices, int *n, GError **error);
static void boundary_data_free (boundary_data *bd);

static void
source_start_epoch (batch_source *source, guint epoch)
{
  source->position = 0;
  if (source->boundary != NULL)
    {
      boundary_start_epoch (source, epoch);
      return;
    }
  if (source->loader != NULL)
    {
      graft_loader_start_epoch (source->loader, epoch);
      return;
    }
  for (guint i = 0; i < source->n_items; i++)
    source->order[i] = i;
  if (source->shuffle)
    for (guint i = source->n_items; i > 1; i--)
      {
        /* Fisher-Yates from the counter-based generator: a function of seed and epoch. */
        guint j = (guint) (graft_random_uniform (source->seed ^ (0x5bd1e995ull * (epoch + 1)), i) * i);
        guint t = source->order[i - 1];
        source->order[i - 1] = source->order[MIN (j, i - 1)];
        source->order[MIN (j, i - 1)] = t;
      }
}

/* The next batch: images (or embeddings), labels, indices and its size; FALSE at the
 * end of the epoch. Memory stays valid until the next call. */
static gboolean
source_next (batch_source *source, GraftBatch **held, const float **inputs, const gint32 **labels,
             const guint **indices, int *n, GError **error)
{
  if (source->boundary != NULL)
    return boundary_next (source, held, inputs, labels, indices, n, error);
  if (source->loader != NULL)
    {
      g_clear_pointer (held, graft_batch_free);
      if (!graft_loader_next (source->loader, held, error) || *held == NULL)
        return FALSE;
      *inputs = (*held)->images;
      *labels = (*held)->labels;
      *indices = (*held)->indices;
      *n = (*held)->size;
      return TRUE;
    }
  if (source->position >= source->n_items)
    return FALSE;
  *n = (int) MIN ((guint) source->batch_size, source->n_items - source->position);
  for (int i = 0; i < *n; i++)
    {
      guint item = source->order[source->position + (guint) i];
      memcpy (source->buffer + (size_t) i * source->dim, source->embeddings + (size_t) item * source->dim,
              (size_t) source->dim * sizeof (float));
      source->label_buffer[i] = source->labels[item];
      source->index_buffer[i] = item;
    }
  source->position += (guint) *n;
  *inputs = source->buffer;
  *labels = source->label_buffer;
  *indices = source->index_buffer;
  return TRUE;
}

static void
source_clear (batch_source *source)
{
  g_clear_pointer (&source->boundary, boundary_data_free);
  g_clear_pointer (&source->loader, graft_loader_free);
  g_clear_pointer (&source->order, g_free);
  g_clear_pointer (&source->buffer, g_free);
  g_clear_pointer (&source->label_buffer, g_free);
  g_clear_pointer (&source->index_buffer, g_free);
}

static void
embedding_source (batch_source *source, const float *embeddings, const gint32 *labels, guint n, int dim,
                  int batch_size, guint64 seed, gboolean shuffle)
{
  *source = (batch_source) {
    .embeddings = embeddings, .labels = labels, .n_items = n, .dim = dim, .batch_size = batch_size,
    .item_floats = (gsize) dim, .seed = seed, .shuffle = shuffle,
  };
  source->order = g_new (guint, MAX (1, n));
  source->buffer = g_new (float, (size_t) batch_size * dim);
  source->label_buffer = g_new (gint32, batch_size);
  source->index_buffer = g_new (guint, batch_size);
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                     */

static gboolean
engine_ok (graft_status status, const graft_error *engine_error, GError **error)
{
  if (status == GRAFT_OK)
    return TRUE;
  g_set_error (error, GRAFT_TRAIN_ERROR,
               status == GRAFT_ERROR_NUMERIC ? GRAFT_TRAIN_ERROR_DIVERGED : GRAFT_TRAIN_ERROR_INVALID,
               "%s", engine_error->message);
  return FALSE;
}

static graft_plan *
plan_for (plan_pair *pair, training_graph *tg, const graft_plan_options *base, int batch, const int *keep,
          int n_keep, GError **error)
{
  graft_plan_options options = *base;
  graft_error engine_error;
  for (int i = 0; i < 2; i++)
    if (pair->plans[i] != NULL && pair->batches[i] == batch)
      return pair->plans[i];
  if (pair->plans[1] != NULL)
    graft_plan_free (pair->plans[1]);
  pair->plans[1] = pair->plans[0];
  pair->batches[1] = pair->batches[0];
  options.batch = batch;
  options.keep = keep;
  options.n_keep = n_keep;
  options.loss_logits = tg->logits;
  options.node_index_base = tg->node_base;
  pair->plans[0] = graft_plan_new (tg->graph, &options, &engine_error);
  pair->batches[0] = batch;
  if (pair->plans[0] == NULL)
    engine_ok (engine_error.status, &engine_error, error);
  return pair->plans[0];
}

static void
plan_pair_clear (plan_pair *pair)
{
  for (int i = 0; i < 2; i++)
    g_clear_pointer (&pair->plans[i], graft_plan_free);
}

/* Puts a batch (floats in all) into the plan's input and runs the plan forward. */
static gboolean
plan_forward (graft_plan *plan, int input, const float *inputs, gsize floats, GError **error)
{
  graft_error engine_error;
  return engine_ok (graft_plan_set_input (plan, input, inputs, floats, &engine_error), &engine_error, error)
         && engine_ok (graft_plan_forward (plan, &engine_error), &engine_error, error);
}

/* ------------------------------------------------------------------------ */
/* Boundary activations                                                      */

/* The view of item used in epoch: the one made in that epoch while there are fewer
 * than views, then one of them drawn from the seed. */
static int
view_at (const boundary_data *bd, guint epoch, guint item)
{
  if (bd->views == 1)
    return 0;
  if (epoch < (guint) bd->views)
    return (int) epoch;
  return MIN (bd->views - 1, (int) (graft_random_uniform (bd->seed ^ 0x5649455753ull,
                                                          (guint64) epoch * 0x100000001b3ull + item) * bd->views));
}

static void
boundary_data_free (boundary_data *bd)
{
  plan_pair_clear (&bd->plans);
  g_free (bd->rows);
  g_free (bd->failed);
  g_free (bd->labels);
  g_clear_error (&bd->store_error);
  g_free (bd);
}

static void
boundary_start_epoch (batch_source *source, guint epoch)
{
  boundary_data *bd = source->boundary;
  gboolean missing = FALSE;

  bd->epoch = epoch;
  for (guint i = 0; i < source->n_items && !missing; i++)
    missing = !bd->failed[i] && bd->rows[(gsize) i * bd->views + view_at (bd, epoch, i)] == NULL;
  bd->building = missing && (!bd->augmented || epoch < (guint) bd->views);
  bd->filling = missing && !bd->building;
  if (bd->building)
    graft_loader_start_epoch (source->loader, epoch);
  else
    graft_loader_epoch_order (source->loader, epoch, source->order);
}

/* Runs the prefix over the images of a batch whose rows for view (-1: the epoch's view
 * of each item) are missing, and keeps their rows. */
static gboolean
boundary_compute (batch_source *source, const GraftBatch *batch, int view, GError **error)
{
  boundary_data *bd = source->boundary;
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE };
  training_graph tg = { bd->prefix, bd->prefix_input, bd->prefix_output, 0 };
  gsize image_floats = (gsize) batch->channels * batch->height * batch->width;
  g_autofree guint *missing = g_new (guint, MAX (1, batch->size));
  g_autofree float *images = NULL;
  graft_plan *plan;
  const float *out;
  int n = 0;

  for (int b = 0; b < batch->size; b++)
    {
      guint item = batch->indices[b];
      if (bd->rows[(gsize) item * bd->views + (view >= 0 ? view : view_at (bd, bd->epoch, item))] == NULL)
        missing[n++] = (guint) b;
    }
  if (n == 0)
    return TRUE;
  if (n < batch->size)
    {
      images = g_new (float, (gsize) n * image_floats);
      for (int k = 0; k < n; k++)
        memcpy (images + (gsize) k * image_floats, batch->images + (gsize) missing[k] * image_floats,
                image_floats * sizeof (float));
    }
  plan = plan_for (&bd->plans, &tg, &options, n, &bd->prefix_output, 1, error);
  if (plan == NULL
      || !plan_forward (plan, bd->prefix_input, images != NULL ? images : batch->images, (gsize) n * image_floats,
                        error))
    return FALSE;
  out = graft_plan_value_data (plan, bd->prefix_output, NULL);
  for (int k = 0; k < n; k++)
    {
      guint item = batch->indices[missing[k]];
      int v = view >= 0 ? view : view_at (bd, bd->epoch, item);
      g_autoptr (GError) store_error = NULL;
      bd->rows[(gsize) item * bd->views + v] = graft_boundary_store_insert (
          bd->store, bd->hashes != NULL ? bd->hashes[item] : NULL, v, out + (gsize) k * source->dim, &store_error);
      if (store_error != NULL && bd->store_error == NULL)
        bd->store_error = g_steal_pointer (&store_error);
    }
  bd->computed += (guint64) n;
  return TRUE;
}

/* Makes every missing view of every item: one pass of the loader per view, in the
 * epoch that made that view (a run resumed past those epochs with a cold cache). */
static gboolean
boundary_fill (batch_source *source, GError **error)
{
  boundary_data *bd = source->boundary;
  for (int v = 0; v < bd->views; v++)
    {
      gboolean missing = FALSE;
      g_autoptr (GraftBatch) batch = NULL;
      for (guint i = 0; i < source->n_items && !missing; i++)
        missing = !bd->failed[i] && bd->rows[(gsize) i * bd->views + v] == NULL;
      if (!missing)
        continue;
      graft_loader_start_epoch (source->loader, (guint) v);
      while (graft_loader_next (source->loader, &batch, error) && batch != NULL)
        {
          if (!boundary_compute (source, batch, v, error))
            return FALSE;
          g_clear_pointer (&batch, graft_batch_free);
        }
      if (error != NULL && *error != NULL)
        return FALSE;
      for (guint i = 0; i < source->n_items; i++)
        if (bd->rows[(gsize) i * bd->views + v] == NULL)
          bd->failed[i] = TRUE;
    }
  graft_loader_stop (source->loader);
  return TRUE;
}

static gboolean
boundary_next (batch_source *source, GraftBatch **held, const float **inputs, const gint32 **labels,
               const guint **indices, int *n, GError **error)
{
  boundary_data *bd = source->boundary;

  if (bd->filling)
    {
      if (!boundary_fill (source, error))
        return FALSE;
      bd->filling = FALSE;
      graft_loader_epoch_order (source->loader, bd->epoch, source->order);
    }
  if (bd->building)
    {
      guint64 computed = bd->computed;
      g_clear_pointer (held, graft_batch_free);
      if (!graft_loader_next (source->loader, held, error) || *held == NULL)
        {
          /* What the loader skipped did not decode: later epochs skip it too. */
          for (guint i = 0; i < source->n_items && (error == NULL || *error == NULL); i++)
            if (bd->rows[(gsize) i * bd->views + view_at (bd, bd->epoch, i)] == NULL)
              bd->failed[i] = TRUE;
          return FALSE;
        }
      if (!boundary_compute (source, *held, -1, error))
        return FALSE;
      /* The batch as the loader made it, every row now known. */
      *n = (*held)->size;
      for (int b = 0; b < *n; b++)
        {
          guint item = (*held)->indices[b];
          memcpy (source->buffer + (gsize) b * source->dim,
                  bd->rows[(gsize) item * bd->views + view_at (bd, bd->epoch, item)],
                  (gsize) source->dim * sizeof (float));
        }
      bd->hits += (guint64) *n - (bd->computed - computed);
      *inputs = source->buffer;
      *labels = (*held)->labels;
      *indices = (*held)->indices;
      return TRUE;
    }
  /* From memory, in the loader's order of the epoch, skipping what did not decode as
   * the loader does. */
  *n = 0;
  while (source->position < source->n_items && *n < source->batch_size)
    {
      guint item = source->order[source->position++];
      const float *row = bd->rows[(gsize) item * bd->views + view_at (bd, bd->epoch, item)];
      if (bd->failed[item] || row == NULL)
        continue;
      memcpy (source->buffer + (gsize) *n * source->dim, row, (gsize) source->dim * sizeof (float));
      source->label_buffer[*n] = bd->labels[item];
      source->index_buffer[*n] = item;
      (*n)++;
    }
  bd->hits += (guint64) *n;
  *inputs = source->buffer;
  *labels = source->label_buffer;
  *indices = source->index_buffer;
  return *n > 0;
}

/* Runs tg in inference over a source and accumulates metrics. */
static gboolean
evaluate_source (training_graph *tg, batch_source *source, GraftMetrics *metrics, int classes, float *probabilities,
                 GError **error)
{
  plan_pair plans = { 0 };
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE };
  g_autoptr (GraftBatch) held = NULL;
  const float *inputs;
  const gint32 *labels;
  const guint *indices;
  int n;
  gboolean ok = TRUE;

  source_start_epoch (source, 0);
  while (ok && source_next (source, &held, &inputs, &labels, &indices, &n, error))
    {
      graft_plan *plan = plan_for (&plans, tg, &options, n, &tg->logits, 1, error);
      const float *logits;
      if (plan == NULL)
        {
          ok = FALSE;
          break;
        }
      ok = plan_forward (plan, tg->input, inputs, source->item_floats * (gsize) n, error);
      if (!ok)
        break;
      logits = graft_plan_value_data (plan, tg->logits, NULL);
      for (int i = 0; i < n; i++)
        {
          const float *row = logits + (size_t) i * classes;
          float max = row[0];
          double sum = 0;
          for (int k = 1; k < classes; k++)
            max = fmaxf (max, row[k]);
          for (int k = 0; k < classes; k++)
            sum += exp (row[k] - max);
          if (probabilities != NULL)
            for (int k = 0; k < classes; k++)
              probabilities[(size_t) indices[i] * classes + k] = (float) (exp (row[k] - max) / sum);
          /* Unlabelled items (predictions only) count in no metric. */
          if (metrics != NULL && labels[i] >= 0 && labels[i] < classes)
            graft_metrics_add (metrics, row, labels + i, 1, -(row[labels[i]] - max - log (sum)));
        }
    }
  if (source->loader != NULL)
    graft_loader_stop (source->loader);
  plan_pair_clear (&plans);
  return ok && (error == NULL || *error == NULL);
}

/* ------------------------------------------------------------------------ */
/* The head alone, over embeddings                                           */

/* A graph of the head's nodes reading an input named like the embedding value. */
static gboolean
build_head_graph (GraftTrainer *trainer, training_graph *tg, GError **error)
{
  graft_graph *full = trainer->model->graph;
  const graft_value *embedding = graft_graph_value (full, trainer->embedding);

  tg->graph = graft_subgraph_extract (full, trainer->embedding, embedding->producer + 1, graft_graph_node_count (full),
                                      error);
  if (tg->graph == NULL)
    return FALSE;
  tg->input = graft_graph_find_value (tg->graph, embedding->name);
  tg->logits = graft_graph_find_value (tg->graph, graft_graph_value (full, trainer->model->logits)->name);
  tg->first_head_node = 0;
  return TRUE;
}

/* Copies the parameters and buffers of from into the tensors of to that have their names. */
static void
copy_weights (graft_graph *from, graft_graph *to)
{
  for (int v = 0; v < graft_graph_value_count (from); v++)
    {
      const graft_value *value = graft_graph_value (from, v);
      int target;
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      target = graft_graph_find_value (to, value->name);
      if (target < 0)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      memcpy (graft_graph_tensor_data (to, target), value->data, count * sizeof (float));
    }
}

/* Copies the head graph's (or the trainable suffix's) tensors back into the full model, by name. */
static void
copy_head_back (GraftTrainer *trainer, training_graph *tg)
{
  copy_weights (tg->graph, trainer->model->graph);
}

/* The embedding of every item of dataset (n_items, dim), from the cache where it has
 * them; failed items are marked with label -1. */
static float *
compute_embeddings (GraftTrainer *trainer, GraftDataset *dataset, GraftEmbeddingCache *cache, gint32 *labels,
                    GError **error)
{
  graft_graph *graph = trainer->model->graph;
  int dim = (int) graft_graph_value (graph, trainer->embedding)->shape.dims[1];
  guint n = dataset->items->len, missing = 0;
  g_autofree float *embeddings = g_new (float, (size_t) MAX (1, n) * dim);
  g_autofree char **hashes = g_new0 (char *, n + 1);
  g_autoptr (GraftDataset) todo = graft_dataset_new ();
  g_autoptr (GArray) todo_index = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GraftLoader) loader = NULL;
  g_autoptr (GraftBatch) batch = NULL;
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE };
  plan_pair plans = { 0 };
  training_graph tg = { graph, trainer->model->input, trainer->embedding, 0 };
  gboolean ok = TRUE;

  for (guint c = 0; c < dataset->classes->len; c++)
    graft_dataset_add_class (todo, g_ptr_array_index (dataset->classes, c));
  for (guint i = 0; i < n; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      const float *cached = NULL;
      labels[i] = item->label;
      if (cache != NULL)
        {
          hashes[i] = graft_file_sha256 (item->path, NULL);
          if (hashes[i] != NULL)
            cached = graft_embedding_cache_lookup (cache, hashes[i]);
        }
      if (cached != NULL)
        memcpy (embeddings + (size_t) i * dim, cached, (size_t) dim * sizeof (float));
      else
        {
          graft_dataset_add (todo, item->path, item->label);
          g_array_append_val (todo_index, i);
          labels[i] = -1; /* until computed */
          missing++;
        }
    }
  if (missing > 0)
    {
      loader = make_loader (trainer, todo, FALSE, error);
      if (loader == NULL)
        goto out;
      graft_loader_start_epoch (loader, 0);
      log_message (trainer, g_dngettext (GETTEXT_PACKAGE, "Computing the features of %u image",
                                         "Computing the features of %u images", missing),
                   missing);
      while (ok)
        {
          graft_plan *plan;
          const float *out;
          g_clear_pointer (&batch, graft_batch_free);
          if (!graft_loader_next (loader, &batch, error) || batch == NULL)
            break;
          if (should_stop (trainer))
            {
              g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CANCELLED, _("Training was stopped"));
              ok = FALSE;
              break;
            }
          plan = plan_for (&plans, &tg, &options, batch->size, &trainer->embedding, 1, error);
          ok = plan != NULL
               && plan_forward (plan, tg.input, batch->images,
                                graft_preprocessing_floats (&trainer->spec->preprocessing) * (gsize) batch->size,
                                error);
          if (!ok)
            break;
          out = graft_plan_value_data (plan, trainer->embedding, NULL);
          for (int b = 0; b < batch->size; b++)
            {
              guint i = g_array_index (todo_index, guint, batch->indices[b]);
              memcpy (embeddings + (size_t) i * dim, out + (size_t) b * dim, (size_t) dim * sizeof (float));
              labels[i] = g_array_index (dataset->items, GraftDatasetItem, i).label;
              if (cache != NULL && hashes[i] != NULL)
                {
                  g_autoptr (GError) cache_error = NULL;
                  if (!graft_embedding_cache_insert (cache, hashes[i], out + (size_t) b * dim, &cache_error))
                    log_message (trainer, "%s", cache_error->message);
                }
            }
        }
    }
out:
  plan_pair_clear (&plans);
  for (guint i = 0; i < n; i++)
    g_free (hashes[i]);
  if (!ok || (error != NULL && *error != NULL))
    return NULL;
  return g_steal_pointer (&embeddings);
}


/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */

/* One file holds a checkpoint, so that it is valid as a whole or not at all:
 *
 *   GRAFT-CHECKPOINT 1\n
 *   {"epoch": .., "epochs": .., "step": .., "best_accuracy": .., "best_loss": ..,
 *    "epochs_without_improvement": .., "spec_sha256": "..", "train_items": ..,
 *    "sections": {"last": BYTES, "best": BYTES, "optimizer": BYTES}}\n
 *   the sections, in that order: the weights (ONNX), the best weights so far (ONNX,
 *   empty without validation), the optimizer's state (graft_optimizer_state_serialize)
 *   sha256 HEX\n   (of everything before it)
 *
 * It is written whole under a temporary name, synced and renamed over the previous one
 * (graft_model_write_file), so a kill at any moment leaves the previous checkpoint or
 * the new one; the digest catches a file cut short or damaged anyway. */

#define CHECKPOINT_MAGIC "GRAFT-CHECKPOINT 1\n"
#define CHECKPOINT_TRAILER_SIZE (sizeof "sha256 " - 1 + 64 + 1)

/* Copies the parameters and buffers of the ONNX model in bytes into graph, by name;
 * names graph does not have are skipped. name is the file, for messages. */
static gboolean
load_weights (graft_graph *graph, GBytes *bytes, const char *name, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autoptr (GraftModel) saved = graft_model_load_from_data (data, size, NULL, name, error);
  if (saved == NULL)
    return FALSE;
  for (int v = 0; v < graft_graph_value_count (saved->graph); v++)
    {
      const graft_value *value = graft_graph_value (saved->graph, v);
      int target;
      size_t count, target_count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      target = graft_graph_find_value (graph, value->name);
      if (target < 0)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      graft_shape_count (&graft_graph_value (graph, target)->shape, &target_count, NULL);
      if (count != target_count)
        {
          g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                       _("%s: “%s” has %zu values, the model being trained %zu"), name, value->name, count,
                       target_count);
          return FALSE;
        }
      memcpy (graft_graph_tensor_data (graph, target), value->data, count * sizeof (float));
    }
  return TRUE;
}

/* The SHA-256 of the spec as JSON: a checkpoint fits only a run of the same spec. */
static char *
spec_digest (const GraftSessionSpec *spec)
{
  g_autofree char *json = graft_session_spec_to_json (spec);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, json, -1);
}

static void
resume_clear (GraftTrainer *trainer)
{
  trainer->resuming = FALSE;
  g_clear_pointer (&trainer->resume_last, g_bytes_unref);
  g_clear_pointer (&trainer->resume_best, g_bytes_unref);
  g_clear_pointer (&trainer->resume_optimizer, g_bytes_unref);
  g_clear_pointer (&trainer->resume_name, g_free);
}

static gboolean
write_checkpoint (GraftTrainer *trainer, int epoch, guint64 step, gboolean best, double best_accuracy,
                  double best_loss, int without_improvement, graft_optimizer_state *optimizer, GError **error)
{
  g_autofree char *display = g_filename_display_name (trainer->checkpoint_path);
  g_autofree char *folder = g_path_get_dirname (trainer->checkpoint_path);
  g_autofree char *digest = spec_digest (trainer->spec);
  g_autofree char *header = NULL;
  g_autoptr (GBytes) last = NULL;
  g_autoptr (GByteArray) file = g_byte_array_new ();
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GError) local_error = NULL;
  GraftExportOptions options = { 0 };
  gsize optimizer_size = graft_optimizer_state_serialized_size (optimizer), last_size, best_size = 0;
  const guint8 *data;
  guint offset;
  int fd;

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, _("Cannot create the checkpoint folder %s: %s"),
                   folder, g_strerror (errno));
      return FALSE;
    }
  last = graft_model_save_to_bytes (trainer->model, &options, error);
  if (last == NULL)
    return FALSE;
  if (best)
    {
      g_clear_pointer (&trainer->checkpoint_best, g_bytes_unref);
      trainer->checkpoint_best = g_bytes_ref (last);
    }
  if (trainer->checkpoint_best != NULL && best_accuracy >= 0)
    best_size = g_bytes_get_size (trainer->checkpoint_best);
  last_size = g_bytes_get_size (last);
  /* One buffer (GByteArray) holds the file. */
  if ((guint64) last_size + best_size + optimizer_size > G_MAXUINT - 4096)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO,
                   _("Cannot write the checkpoint %s: the model is too large for one"), display);
      return FALSE;
    }
  header = g_strdup_printf ("{\"epoch\": %d, \"epochs\": %d, \"step\": %" G_GUINT64_FORMAT ", "
                            "\"best_accuracy\": %.17g, \"best_loss\": %.17g, \"epochs_without_improvement\": %d, "
                            "\"spec_sha256\": \"%s\", \"train_items\": %u, "
                            "\"sections\": {\"last\": %" G_GSIZE_FORMAT ", \"best\": %" G_GSIZE_FORMAT
                            ", \"optimizer\": %" G_GSIZE_FORMAT "}}\n",
                            epoch, trainer->spec->epochs, step, isfinite (best_accuracy) ? best_accuracy : -1.0,
                            isfinite (best_loss) ? best_loss : 1e300, without_improvement, digest,
                            graft_dataset_size (trainer->train), last_size, best_size, optimizer_size);
  g_byte_array_append (file, (const guint8 *) CHECKPOINT_MAGIC, sizeof CHECKPOINT_MAGIC - 1);
  g_byte_array_append (file, (const guint8 *) header, (guint) strlen (header));
  g_byte_array_append (file, g_bytes_get_data (last, NULL), (guint) last_size);
  if (best_size > 0)
    g_byte_array_append (file, g_bytes_get_data (trainer->checkpoint_best, NULL), (guint) best_size);
  offset = file->len;
  g_byte_array_set_size (file, offset + (guint) optimizer_size);
  graft_optimizer_state_serialize (optimizer, file->data + offset);
  g_checksum_update (checksum, file->data, file->len);
  {
    g_autofree char *trailer = g_strdup_printf ("sha256 %s\n", g_checksum_get_string (checksum));
    g_byte_array_append (file, (const guint8 *) trailer, (guint) strlen (trailer));
  }
  data = file->data;
  if (!graft_model_write_file (trainer->checkpoint_path, data, file->len, TRUE, &local_error))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, _("Cannot write the checkpoint %s: %s"), display,
                   local_error->message);
      return FALSE;
    }
  /* The rename itself survives a power cut only once the folder is synced. */
  fd = open (folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
  return TRUE;
}

static gboolean
checkpoint_invalid (GError **error, const char *display, const char *what)
{
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
               /* Translators: the checkpoint file, then what is wrong with it. */
               _("%s cannot be resumed: %s"), display, what);
  return FALSE;
}

/* Reads and verifies the checkpoint at path: header (the parsed JSON object, the caller
 * unrefs it) and the sections. */
static gboolean
checkpoint_read (const char *path, JsonObject **header_out, GBytes **last, GBytes **best, GBytes **optimizer,
                 GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *text = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) whole = NULL;
  JsonObject *header, *sections;
  const char *newline;
  gsize length = 0, magic = sizeof CHECKPOINT_MAGIC - 1, header_end;
  gint64 sizes[3];
  const char *names[3] = { "last", "best", "optimizer" };

  if (!graft_file_get_contents (path, &text, &length, error))
    return FALSE;
  if (length < magic || memcmp (text, CHECKPOINT_MAGIC, magic) != 0)
    return checkpoint_invalid (error, display, _("it is not a Graft checkpoint"));
  if (length < magic + CHECKPOINT_TRAILER_SIZE || memcmp (text + length - CHECKPOINT_TRAILER_SIZE, "sha256 ", 7) != 0
      || text[length - 1] != '\n')
    return checkpoint_invalid (error, display, _("it is cut short (it was not written completely)"));
  {
    g_autofree char *digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text,
                                                           length - CHECKPOINT_TRAILER_SIZE);
    if (memcmp (digest, text + length - CHECKPOINT_TRAILER_SIZE + 7, 64) != 0)
      return checkpoint_invalid (error, display,
                                 _("its contents do not match their SHA-256 (the file is damaged or incomplete)"));
  }
  length -= CHECKPOINT_TRAILER_SIZE;
  newline = memchr (text + magic, '\n', length - magic);
  if (newline == NULL || !json_parser_load_from_data (parser, text + magic, newline - (text + magic), NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return checkpoint_invalid (error, display, _("its header is not valid"));
  header = json_node_get_object (json_parser_get_root (parser));
  sections = json_object_has_member (header, "sections")
                 && JSON_NODE_HOLDS_OBJECT (json_object_get_member (header, "sections"))
               ? json_object_get_object_member (header, "sections") : NULL;
  header_end = (gsize) (newline + 1 - text);
  for (int i = 0; i < 3; i++)
    {
      sizes[i] = sections != NULL ? json_object_get_int_member_with_default (sections, names[i], -1) : -1;
      if (sizes[i] < 0 || (guint64) sizes[i] > length)
        return checkpoint_invalid (error, display, _("its header is not valid"));
    }
  if ((guint64) sizes[0] + (guint64) sizes[1] + (guint64) sizes[2] != length - header_end || sizes[0] == 0
      || sizes[2] == 0)
    return checkpoint_invalid (error, display, _("its sections do not add up to its size"));
  whole = g_bytes_new_take (g_steal_pointer (&text), length);
  *last = g_bytes_new_from_bytes (whole, header_end, (gsize) sizes[0]);
  *best = sizes[1] > 0 ? g_bytes_new_from_bytes (whole, header_end + (gsize) sizes[0], (gsize) sizes[1]) : NULL;
  *optimizer = g_bytes_new_from_bytes (whole, header_end + (gsize) (sizes[0] + sizes[1]), (gsize) sizes[2]);
  *header_out = json_object_ref (header);
  return TRUE;
}

gboolean
graft_checkpoint_get_epochs (const char *path, int *epochs_done, int *epochs, GError **error)
{
  g_autoptr (JsonObject) header = NULL;
  g_autoptr (GBytes) last = NULL, best = NULL, optimizer = NULL;
  if (!checkpoint_read (path, &header, &last, &best, &optimizer, error))
    return FALSE;
  if (epochs_done != NULL)
    *epochs_done = (int) json_object_get_int_member_with_default (header, "epoch", -1) + 1;
  if (epochs != NULL)
    *epochs = (int) json_object_get_int_member_with_default (header, "epochs", 0);
  return TRUE;
}

gboolean
graft_trainer_resume_from_file (GraftTrainer *trainer, const char *path, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *digest = spec_digest (trainer->spec);
  g_autoptr (JsonObject) header = NULL;
  g_autoptr (GBytes) last = NULL, best = NULL, optimizer = NULL;
  const char *spec_sha256;
  int start_epoch;

  resume_clear (trainer);
  if (!checkpoint_read (path, &header, &last, &best, &optimizer, error))
    return FALSE;
  spec_sha256 = json_object_get_string_member_with_default (header, "spec_sha256", "");
  if (strcmp (spec_sha256, digest) != 0)
    return checkpoint_invalid (error, display, _("it was made with other training settings"));
  if (json_object_get_int_member_with_default (header, "train_items", -1) != graft_dataset_size (trainer->train))
    return checkpoint_invalid (error, display, _("it was made with other training images"));
  start_epoch = (int) json_object_get_int_member_with_default (header, "epoch", -1) + 1;
  if (start_epoch < 1 || start_epoch > trainer->spec->epochs)
    return checkpoint_invalid (error, display, _("its epoch does not fit this run"));
  trainer->resume_best_accuracy = json_object_get_double_member_with_default (header, "best_accuracy", -1);
  if (trainer->resume_best_accuracy >= 0 && best == NULL)
    return checkpoint_invalid (error, display, _("its best weights are missing"));
  if (!load_weights (trainer->model->graph, last, display, error))
    return FALSE;
  trainer->start_epoch = start_epoch;
  trainer->start_step = (guint64) json_object_get_int_member_with_default (header, "step", 0);
  trainer->resume_best_loss = json_object_get_double_member_with_default (header, "best_loss", INFINITY);
  trainer->resume_without_improvement =
      (int) json_object_get_int_member_with_default (header, "epochs_without_improvement", 0);
  trainer->resume_last = g_steal_pointer (&last);
  trainer->resume_best = g_steal_pointer (&best);
  trainer->resume_optimizer = g_steal_pointer (&optimizer);
  trainer->resume_name = g_steal_pointer (&display);
  trainer->resuming = TRUE;
  /* The checkpoints after this one keep its best weights until a better epoch. */
  g_clear_pointer (&trainer->checkpoint_best, g_bytes_unref);
  if (trainer->resume_best != NULL)
    trainer->checkpoint_best = g_bytes_ref (trainer->resume_best);
  return TRUE;
}

gboolean
graft_trainer_resume_from (GraftTrainer *trainer, const char *folder, GError **error)
{
  g_autofree char *path = g_build_filename (folder, GRAFT_CHECKPOINT_FILE_NAME, NULL);
  return graft_trainer_resume_from_file (trainer, path, error);
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */

typedef struct {
  GraftTrainer *trainer;
  training_graph tg;
  batch_source train_source;
  batch_source validation_source;
  gboolean has_validation;
  graft_optimizer_state *optimizer;
  gboolean full;          /* training the full model (not the head over embeddings) */
  gint64 started;
  int total_steps, done_steps;
  /* The boundary path (full only): tg is then the trainable suffix, a graph of its own. */
  gboolean boundary_allowed;
  int boundary_value;     /* in the model's graph; -1: the frozen layers run every epoch */
  graft_graph *prefix;
  GraftBoundaryStore *plain_store, *view_store;
  char **train_hashes, **validation_hashes;
} run_state;

/* The graph that holds the run's weights: the model's, with the trainable suffix's
 * copied back first. Snapshots are taken there, so they survive a stage that moves the
 * boundary. */
static graft_graph *
weights_home (run_state *rs)
{
  if (!rs->full || rs->tg.graph == rs->trainer->model->graph)
    return rs->tg.graph;
  copy_head_back (rs->trainer, &rs->tg);
  return rs->trainer->model->graph;
}

/* After weights were restored into weights_home: the suffix gets them too. */
static void
weights_restored (run_state *rs)
{
  if (rs->full && rs->tg.graph != rs->trainer->model->graph)
    copy_weights (rs->trainer->model->graph, rs->tg.graph);
}

/* Images' content hashes (the cache's keys), NULL where a file cannot be read. */
static char **
dataset_hashes (const GraftDataset *dataset)
{
  char **hashes = g_new0 (char *, dataset->items->len + 1);
  for (guint i = 0; i < dataset->items->len; i++)
    hashes[i] = graft_file_sha256 (g_array_index (dataset->items, GraftDatasetItem, i).path, NULL);
  return hashes;
}

static void
boundary_attach (run_state *rs, batch_source *source, const GraftDataset *dataset, GraftBoundaryStore *store,
                 int views, gboolean augmented, char **hashes, int dim)
{
  const GraftSessionSpec *spec = rs->trainer->spec;
  boundary_data *bd = g_new0 (boundary_data, 1);
  guint n = dataset->items->len;

  bd->store = store;
  bd->prefix = rs->prefix;
  bd->prefix_input = graft_graph_find_value (rs->prefix, graft_graph_value (rs->trainer->model->graph,
                                                                            rs->trainer->model->input)->name);
  bd->prefix_output = graft_graph_find_value (rs->prefix, graft_graph_value (rs->trainer->model->graph,
                                                                             rs->boundary_value)->name);
  bd->views = views;
  bd->augmented = augmented;
  bd->seed = spec->seed;
  bd->hashes = hashes;
  bd->rows = g_new0 (const float *, (gsize) MAX (1, n) * views);
  bd->failed = g_new0 (gboolean, MAX (1, n));
  bd->labels = g_new (gint32, MAX (1, n));
  for (guint i = 0; i < n; i++)
    {
      bd->labels[i] = g_array_index (dataset->items, GraftDatasetItem, i).label;
      for (int v = 0; v < views && hashes != NULL; v++)
        {
          bd->rows[(gsize) i * views + v] = graft_boundary_store_lookup (store, hashes[i], v);
          bd->found += bd->rows[(gsize) i * views + v] != NULL;
        }
    }
  source->boundary = bd;
  source->n_items = n;
  source->dim = dim;
  source->item_floats = (gsize) dim;
  source->batch_size = spec->batch_size;
  g_free (source->order);
  g_free (source->buffer);
  g_free (source->label_buffer);
  g_free (source->index_buffer);
  source->order = g_new (guint, MAX (1, n));
  source->buffer = g_new (float, (gsize) spec->batch_size * dim);
  source->label_buffer = g_new (gint32, spec->batch_size);
  source->index_buffer = g_new (guint, spec->batch_size);
}

/* Back to the images: what the source's boundary data did goes into the report. */
static void
boundary_detach (run_state *rs, batch_source *source)
{
  GraftTrainer *trainer = rs->trainer;
  boundary_data *bd = source->boundary;
  if (bd == NULL)
    return;
  trainer->boundary_found += bd->found;
  trainer->boundary_computed += bd->computed;
  trainer->boundary_hits += bd->hits;
  if (bd->store_error != NULL)
    log_message (trainer, _("The boundary cache keeps some activations in memory only: %s"), bd->store_error->message);
  g_clear_pointer (&source->boundary, boundary_data_free);
  source->item_floats = graft_preprocessing_floats (&trainer->spec->preprocessing);
}

static void
boundary_off (run_state *rs)
{
  boundary_detach (rs, &rs->train_source);
  boundary_detach (rs, &rs->validation_source);
  g_clear_pointer (&rs->prefix, graft_graph_free);
  g_clear_pointer (&rs->plain_store, graft_boundary_store_free);
  g_clear_pointer (&rs->view_store, graft_boundary_store_free);
  rs->boundary_value = -1;
}

/* Logs why the frozen layers run every epoch, once per reason. */
static void
boundary_reason (GraftTrainer *trainer, char *reason)
{
  if (reason == NULL || g_strcmp0 (reason, trainer->boundary_reason) == 0)
    {
      g_free (reason);
      return;
    }
  log_message (trainer, _("The frozen layers run every epoch: %s"), reason);
  g_free (trainer->boundary_reason);
  trainer->boundary_reason = reason;
}

/* Splits the model at value: the frozen prefix, the stores and the sources' rows. FALSE
 * on an error; the boundary may stay off (rs->boundary_value -1) with a reason logged. */
static gboolean
boundary_on (run_state *rs, int split, int value, GError **error)
{
  GraftTrainer *trainer = rs->trainer;
  const GraftSessionSpec *spec = trainer->spec;
  graft_graph *model = trainer->model->graph;
  const graft_value *boundary = graft_graph_value (model, value);
  gboolean augmented = spec->augmentation.enabled;
  int views = augmented ? spec->cached_views : 1;
  guint n_train = trainer->train->items->len;
  guint n_validation = rs->has_validation ? trainer->validation->items->len : 0;
  guint64 rows = (guint64) n_train * views + n_validation, bytes, dim = 1;
  g_autofree char *digest = NULL, *key_boundary = NULL, *prep = NULL, *warning = NULL;
  const char *key_model = spec->model_sha256 != NULL ? spec->model_sha256
                          : trainer->model->graph_name != NULL ? trainer->model->graph_name : "";

  for (int d = 1; d < boundary->shape.rank; d++)
    dim *= (guint64) boundary->shape.dims[d];
  bytes = graft_boundary_store_bytes (rows, (int) MIN (dim, G_MAXINT));
  if (dim > (1u << 24))
    {
      g_autofree char *values = g_strdup_printf ("%" G_GUINT64_FORMAT, dim);
      /* Translators: the layer output's name, then a number of values. */
      boundary_reason (trainer, g_strdup_printf (_("the activations at %s have %s values per image, too many to keep"),
                                                 boundary->name, values));
      return TRUE;
    }
  if (bytes > trainer->cache_limit)
    {
      g_autofree char *need = g_format_size (bytes), *limit = g_format_size (trainer->cache_limit);
      boundary_reason (trainer,
                       g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                     "the activations at %s of %u image would take %s, more than the "
                                                     "cache's limit of %s",
                                                     "the activations at %s of %u images would take %s, more than "
                                                     "the cache's limit of %s",
                                                     n_train + n_validation),
                                        boundary->name, n_train + n_validation, need, limit));
      return TRUE;
    }
  rs->prefix = graft_subgraph_extract_frozen (model, trainer->model->input, 0, split, error);
  if (rs->prefix == NULL)
    return FALSE;
  rs->boundary_value = value;
  digest = graft_boundary_prefix_digest (model, split);
  key_boundary = g_strdup_printf ("%s\n%s", boundary->name, digest);
  prep = graft_preprocessing_to_json (&spec->preprocessing);
  if (trainer->cache_folder != NULL && rs->train_hashes == NULL)
    {
      rs->train_hashes = dataset_hashes (trainer->train);
      if (rs->has_validation)
        rs->validation_hashes = dataset_hashes (trainer->validation);
    }
  rs->plain_store = graft_boundary_store_new (trainer->cache_folder, key_model, key_boundary, prep, (int) dim,
                                              &warning);
  if (warning != NULL)
    log_message (trainer, "%s", warning);
  if (augmented)
    {
      g_autofree char *augmentation = graft_augmentation_to_json (&spec->augmentation);
      g_autofree char *key_inputs = g_strdup_printf ("%s\n%s\nseed %" G_GUINT64_FORMAT, prep, augmentation,
                                                     spec->seed);
      g_clear_pointer (&warning, g_free);
      rs->view_store = graft_boundary_store_new (trainer->cache_folder, key_model, key_boundary, key_inputs,
                                                 (int) dim, &warning);
      if (warning != NULL)
        log_message (trainer, "%s", warning);
    }
  boundary_attach (rs, &rs->train_source, trainer->train, augmented ? rs->view_store : rs->plain_store, views,
                   augmented, rs->train_hashes, (int) dim);
  if (rs->has_validation)
    boundary_attach (rs, &rs->validation_source, trainer->validation, rs->plain_store, 1, FALSE,
                     rs->validation_hashes, (int) dim);
  trainer->boundary_used = TRUE;
  g_free (trainer->boundary_name);
  trainer->boundary_name = g_strdup (boundary->name);
  trainer->boundary_bytes = bytes;
  {
    guint64 found = rs->train_source.boundary->found
                    + (rs->validation_source.boundary != NULL ? rs->validation_source.boundary->found : 0);
    g_autofree char *size = g_format_size (bytes);
    guint shown = (guint) MIN (found, G_MAXUINT);
    /* Translators: the layer output's name, the size of its cached values ("12.8 MB"), a count. */
    log_message (trainer,
                 g_dngettext (GETTEXT_PACKAGE,
                              "The frozen layers run once per image: training from %s (%s; %u image view found in "
                              "the cache)",
                              "The frozen layers run once per image: training from %s (%s; %u image views found in "
                              "the cache)",
                              shown),
                 boundary->name, size, shown);
  }
  return TRUE;
}

/* A new stage: the model's trainable set for epoch, and where it meets the frozen
 * layers. The rows stay while the boundary does; a boundary moved down gets new ones,
 * made in this stage's first epoch. */
static gboolean
begin_stage (run_state *rs, int epoch, GError **error)
{
  GraftTrainer *trainer = rs->trainer;
  graft_graph *model = trainer->model->graph;
  int split = -1, value = -1;
  char *reason = NULL;

  if (rs->tg.graph != model)
    {
      copy_head_back (trainer, &rs->tg);
      graft_graph_free (rs->tg.graph);
    }
  rs->tg = (training_graph) { model, trainer->model->input, trainer->model->logits, trainer->head_first_node };
  apply_stage (trainer, epoch);
  if (!rs->boundary_allowed)
    return TRUE;
  if (!graft_boundary_find (model, &split, &value, &reason))
    {
      boundary_off (rs);
      boundary_reason (trainer, reason);
      return TRUE;
    }
  if (trainer->spec->augmentation.enabled && trainer->spec->cached_views == 0)
    {
      boundary_off (rs);
      boundary_reason (trainer, g_strdup (_("augmentation makes every epoch's images new, and no augmented views "
                                            "are cached (augmentation.cached_views is 0)")));
      return TRUE;
    }
  if (value != rs->boundary_value)
    {
      boundary_off (rs);
      if (!boundary_on (rs, split, value, error))
        return FALSE;
    }
  if (rs->boundary_value >= 0)
    {
      const char *name = graft_graph_value (model, value)->name;
      graft_graph *suffix = graft_subgraph_extract (model, value, split, graft_graph_node_count (model), error);
      if (suffix == NULL)
        return FALSE;
      rs->tg = (training_graph) {
        suffix, graft_graph_find_value (suffix, name),
        graft_graph_find_value (suffix, graft_graph_value (model, trainer->model->logits)->name), 0, split,
      };
    }
  return TRUE;
}

static int
steps_per_epoch (run_state *rs)
{
  guint n = rs->full ? graft_loader_get_n_items (rs->train_source.loader) : rs->train_source.n_items;
  return (int) ((n + (guint) rs->trainer->spec->batch_size - 1) / (guint) rs->trainer->spec->batch_size);
}

static gboolean
recalibrate_batchnorm (run_state *rs, GError **error)
{
  GraftTrainer *trainer = rs->trainer;
  graft_graph *graph = trainer->model->graph;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .seed = trainer->spec->seed };
  plan_pair plans = { 0 };
  g_autoptr (GraftBatch) held = NULL;
  const float *inputs;
  const gint32 *labels;
  const guint *indices;
  int n;
  gboolean ok = TRUE;

  /* The BatchNorms of the blocks to recalibrate (and the new head's) normalise with the
   * batch and update their running statistics; the others use theirs; nothing trains. */
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    graft_graph_set_trainable (graph, v, FALSE);
  for (guint b = 0; b < trainer->model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (trainer->model->blocks, GraftBlock, b);
      gboolean recalibrate = (int) b == trainer->n_blocks
                             || graft_session_spec_block_batchnorm (trainer->spec, block->name)
                                    == GRAFT_BATCHNORM_RECALIBRATE;
      for (int i = block->first_node; i <= block->last_node; i++)
        graft_graph_set_batchnorm_batch_statistics (graph, i, recalibrate);
    }
  log_message (trainer, _("Recalibrating BatchNorm statistics on the training images"));
  source_start_epoch (&rs->train_source, 0);
  while (ok && source_next (&rs->train_source, &held, &inputs, &labels, &indices, &n, error))
    {
      graft_plan *plan = plan_for (&plans, &rs->tg, &options, n, NULL, 0, error);
      ok = plan != NULL && plan_forward (plan, rs->tg.input, inputs, rs->train_source.item_floats * (gsize) n, error);
    }
  graft_loader_stop (rs->train_source.loader);
  plan_pair_clear (&plans);
  return ok && (error == NULL || *error == NULL);
}

static gboolean
run_loop (run_state *rs, GError **error)
{
  GraftTrainer *trainer = rs->trainer;
  const GraftSessionSpec *spec = trainer->spec;
  /* The precision is the training steps' (and the LR finder's); validation, the
   * frozen layers' cached outputs and BatchNorm recalibration run in f32. */
  graft_plan_options options = {
    .mode = GRAFT_PLAN_TRAINING, .label_smoothing = spec->label_smoothing,
    .class_weights = trainer->class_weights, .seed = spec->seed, .precision = spec->precision,
  };
  plan_pair plans = { 0 };
  snapshot best = { 0 }, last_good = { 0 };
  double best_accuracy = trainer->start_epoch > 0 ? trainer->resume_best_accuracy : -1;
  double best_loss = trainer->start_epoch > 0 ? trainer->resume_best_loss : INFINITY;
  int epochs_without_improvement = trainer->start_epoch > 0 ? trainer->resume_without_improvement : 0;
  int stage_index = -1, steps = steps_per_epoch (rs);
  guint64 global_step = trainer->start_step;
  gboolean ok = TRUE;
  g_autoptr (GraftMetrics) train_metrics = graft_metrics_new (trainer->classes);
  g_autoptr (GraftMetrics) validation_metrics = graft_metrics_new (trainer->classes);
  g_autoptr (GraftBatch) held = NULL;

  rs->total_steps = steps * (spec->epochs - trainer->start_epoch);
  if (!trainer->resuming)
    g_clear_pointer (&trainer->checkpoint_best, g_bytes_unref);
  if (trainer->resuming && best_accuracy >= 0 && trainer->resume_best != NULL)
    {
      /* The best weights so far come from the checkpoint's best section. */
      if (!load_weights (rs->tg.graph, trainer->resume_best, trainer->resume_name, error))
        return FALSE;
      snapshot_take (weights_home (rs), &best);
      if (!load_weights (rs->tg.graph, trainer->resume_last, trainer->resume_name, error))
        return FALSE;
    }
  snapshot_take (weights_home (rs), &last_good);
  rs->started = g_get_monotonic_time ();
  for (int epoch = trainer->start_epoch; epoch < spec->epochs && ok; epoch++)
    {
      const GraftUnfreezeStage *stage = graft_session_spec_stage_at (spec, epoch);
      int s = (int) (stage - spec->stages);
      gint64 epoch_start = g_get_monotonic_time ();
      int step = 0, images = 0;
      const float *inputs;
      const gint32 *labels;
      const guint *indices;
      int n;
      GraftEpochEvent event = { .epoch = epoch, .epochs = spec->epochs, .stage = s };

      if (s != stage_index)
        {
          /* A new stage: a new trainable set, so new plans; the optimizer keeps the
           * moments of the parameters that were already training. */
          stage_index = s;
          plan_pair_clear (&plans);
          if (rs->full && !begin_stage (rs, epoch, error))
            {
              ok = FALSE;
              break;
            }
          if (trainer->hooks.on_stage != NULL)
            trainer->hooks.on_stage (s, epoch, stage->trainable_from, trainer->hooks.user_data);
        }
      graft_metrics_reset (train_metrics);
      source_start_epoch (&rs->train_source, (guint) epoch);
      while (ok)
        {
          graft_error engine_error = { GRAFT_OK };
          graft_plan *plan;
          float loss, lr;
          gint64 step_start = g_get_monotonic_time ();
          double waited = rs->full ? graft_loader_wait_seconds (rs->train_source.loader) : 0;

          if (should_stop (trainer))
            break;
          if (!source_next (&rs->train_source, &held, &inputs, &labels, &indices, &n, error))
            {
              ok = error == NULL || *error == NULL;
              break;
            }
          if (rs->full)
            trainer->wait_seconds += graft_loader_wait_seconds (rs->train_source.loader) - waited;
          plan = plan_for (&plans, &rs->tg, &options, n, &rs->tg.logits, 1, error);
          if (plan == NULL)
            {
              ok = FALSE;
              break;
            }
          lr = graft_session_spec_lr_at (spec, epoch, step, steps);
          graft_plan_set_step (plan, global_step++);
          if (!plan_forward (plan, rs->tg.input, inputs, rs->train_source.item_floats * (gsize) n, error))
            {
              ok = FALSE;
              break;
            }
          if (graft_plan_backward (plan, labels, &loss, &engine_error) == GRAFT_OK
              && loss > 1000 * logf ((float) trainer->classes))
            {
              /* A thousand times the loss of a uniform guess: as lost as a NaN. */
              engine_error.status = GRAFT_ERROR_NUMERIC;
            }
          if (engine_error.status == GRAFT_ERROR_NUMERIC
              || graft_optimizer_state_step (rs->optimizer, plan, lr, NULL, &engine_error) != GRAFT_OK)
            {
              if (engine_error.status == GRAFT_ERROR_NUMERIC)
                {
                  snapshot_restore (weights_home (rs), &last_good);
                  weights_restored (rs);
                  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DIVERGED,
                               _("Training diverged at epoch %d, step %d: the loss exploded. "
                                 "The learning rate (%g) is probably too high. The weights of the last good "
                                 "epoch were restored."),
                               epoch + 1, step + 1, lr);
                }
              else
                engine_ok (engine_error.status, &engine_error, error);
              ok = FALSE;
              break;
            }
          graft_metrics_add (train_metrics, graft_plan_value_data (plan, rs->tg.logits, NULL), labels, n, loss);
          images += n;
          rs->done_steps++;
          trainer->step_seconds += (g_get_monotonic_time () - step_start) / 1e6;
          if (trainer->hooks.on_step != NULL)
            {
              double elapsed = (g_get_monotonic_time () - epoch_start) / 1e6;
              double run_elapsed = (g_get_monotonic_time () - rs->started) / 1e6;
              GraftStepEvent step_event = {
                .epoch = epoch, .epochs = spec->epochs, .step = step, .steps = steps, .stage = s,
                .loss = loss, .lr = lr, .images_per_second = elapsed > 0 ? images / elapsed : 0,
                .eta_seconds = run_elapsed / rs->done_steps * (rs->total_steps - rs->done_steps),
              };
              trainer->hooks.on_step (&step_event, trainer->hooks.user_data);
            }
          step++;
        }
      if (!ok || g_atomic_int_get (&trainer->stop_requested))
        break;

      snapshot_take (weights_home (rs), &last_good);
      event.train_loss = graft_metrics_loss (train_metrics);
      event.train_accuracy = graft_metrics_accuracy (train_metrics);
      event.validation_loss = event.validation_accuracy = NAN;
      event.seconds = (g_get_monotonic_time () - epoch_start) / 1e6;
      event.images_per_second = event.seconds > 0 ? images / event.seconds : 0;
      if (rs->has_validation)
        {
          graft_metrics_reset (validation_metrics);
          if (!evaluate_source (&rs->tg, &rs->validation_source, validation_metrics, trainer->classes, NULL, error))
            {
              ok = FALSE;
              break;
            }
          event.validation_loss = graft_metrics_loss (validation_metrics);
          event.validation_accuracy = graft_metrics_accuracy (validation_metrics);
          event.validation = validation_metrics;
          if (event.validation_accuracy > best_accuracy
              || (event.validation_accuracy == best_accuracy && event.validation_loss < best_loss))
            {
              best_accuracy = event.validation_accuracy;
              best_loss = event.validation_loss;
              snapshot_take (weights_home (rs), &best);
              if (trainer->best_metrics != NULL)
                graft_metrics_free (trainer->best_metrics);
              trainer->best_metrics = graft_metrics_copy (validation_metrics);
              event.best = TRUE;
              epochs_without_improvement = 0;
            }
          else
            epochs_without_improvement++;
        }
      else
        event.best = TRUE;
      if (trainer->checkpoint_path != NULL)
        {
          if (!rs->full)
            copy_head_back (trainer, &rs->tg);
          else
            weights_home (rs);
          if (!write_checkpoint (trainer, epoch, global_step, event.best && rs->has_validation, best_accuracy,
                                 best_loss, epochs_without_improvement, rs->optimizer, error))
            {
              ok = FALSE;
              break;
            }
        }
      if (trainer->hooks.on_epoch != NULL)
        trainer->hooks.on_epoch (&event, trainer->hooks.user_data);
      if (spec->early_stopping_patience > 0 && epochs_without_improvement >= spec->early_stopping_patience)
        {
          log_message (trainer,
                       g_dngettext (GETTEXT_PACKAGE,
                                    "Stopped early: no improvement on the validation images for %d epoch",
                                    "Stopped early: no improvement on the validation images for %d epochs",
                                    epochs_without_improvement),
                       epochs_without_improvement);
          break;
        }
    }
  if (ok && best.values != NULL)
    {
      snapshot_restore (weights_home (rs), &best);
      weights_restored (rs);
    }
  if (!rs->full)
    copy_head_back (trainer, &rs->tg);
  else
    weights_home (rs);
  plan_pair_clear (&plans);
  snapshot_clear (&best);
  snapshot_clear (&last_good);
  if (rs->full)
    graft_loader_stop (rs->train_source.loader);
  if (ok && g_atomic_int_get (&trainer->stop_requested))
    log_message (trainer, _("Training was stopped"));
  return ok;
}

static void
run_state_clear (run_state *rs)
{
  boundary_off (rs);
  source_clear (&rs->train_source);
  source_clear (&rs->validation_source);
  g_clear_pointer (&rs->optimizer, graft_optimizer_state_free);
  if (rs->tg.graph != NULL && rs->tg.graph != rs->trainer->model->graph)
    graft_graph_free (rs->tg.graph);
  g_clear_pointer (&rs->train_hashes, g_strfreev);
  g_clear_pointer (&rs->validation_hashes, g_strfreev);
}

static gboolean
prepare (GraftTrainer *trainer, run_state *rs, gboolean for_lr_finder, float **train_embeddings,
         gint32 **train_labels, float **validation_embeddings, gint32 **validation_labels, GError **error)
{
  const GraftSessionSpec *spec = trainer->spec;
  graft_error engine_error;

  *rs = (run_state) { .trainer = trainer, .boundary_value = -1 };
  /* The report is the last run's or LR sweep's. */
  trainer->boundary_used = FALSE;
  g_clear_pointer (&trainer->boundary_name, g_free);
  g_clear_pointer (&trainer->boundary_reason, g_free);
  trainer->boundary_found = trainer->boundary_computed = trainer->boundary_hits = trainer->boundary_bytes = 0;
  if (graft_dataset_size (trainer->train) == 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA, _("There are no labelled images to train on"));
      return FALSE;
    }
  if (trainer->resuming && !for_lr_finder)
    {
      gsize size;
      const void *bytes = g_bytes_get_data (trainer->resume_optimizer, &size);
      rs->optimizer = graft_optimizer_state_deserialize (&spec->optimizer, bytes, size, &engine_error);
    }
  else
    rs->optimizer = graft_optimizer_state_new (&spec->optimizer, &engine_error);
  if (rs->optimizer == NULL)
    return engine_ok (engine_error.status, &engine_error, error);
  rs->has_validation = !for_lr_finder && trainer->validation != NULL && graft_dataset_size (trainer->validation) > 0;
  rs->full = !graft_trainer_uses_embedding_cache (trainer);
  /* The LR finder's sweep trains what the run would train: from the boundary too. */
  rs->boundary_allowed = rs->full;

  if (rs->full)
    {
      rs->tg = (training_graph) { trainer->model->graph, trainer->model->input, trainer->model->logits,
                                  trainer->head_first_node };
      rs->train_source.loader = make_loader (trainer, trainer->train, TRUE, error);
      rs->train_source.item_floats = graft_preprocessing_floats (&spec->preprocessing);
      rs->validation_source.item_floats = rs->train_source.item_floats;
      if (rs->train_source.loader == NULL)
        return FALSE;
      if (rs->has_validation)
        {
          rs->validation_source.loader = make_loader (trainer, trainer->validation, FALSE, error);
          if (rs->validation_source.loader == NULL)
            return FALSE;
        }
      if (recalibrates (trainer) && !for_lr_finder && trainer->start_epoch == 0 && !recalibrate_batchnorm (rs, error))
        return FALSE;
      apply_stage (trainer, 0);
      return TRUE;
    }

  /* The fast path: embeddings once, then the head alone. */
  {
    g_autoptr (GraftEmbeddingCache) cache = NULL;
    int dim = (int) graft_graph_value (trainer->model->graph, trainer->embedding)->shape.dims[1];
    g_autofree char *statistics = NULL;
    if (recalibrates (trainer))
      {
        /* Recalibrated statistics change the embeddings: the frozen blocks run once over
         * the training images first (on every run, resumed ones too: the result depends
         * only on the images and the seed), and the cache is keyed by the weights with
         * the new statistics. */
        gboolean recalibrated;
        rs->tg = (training_graph) { trainer->model->graph, trainer->model->input, trainer->model->logits,
                                    trainer->head_first_node };
        rs->train_source.loader = make_loader (trainer, trainer->train, TRUE, error);
        rs->train_source.item_floats = graft_preprocessing_floats (&spec->preprocessing);
        recalibrated = rs->train_source.loader != NULL && recalibrate_batchnorm (rs, error);
        source_clear (&rs->train_source);
        rs->train_source = (batch_source) { 0 };
        rs->tg = (training_graph) { 0 };
        if (!recalibrated)
          return FALSE;
        statistics = graft_boundary_prefix_digest (trainer->model->graph, trainer->head_first_node);
      }
    if (trainer->cache_folder != NULL)
      {
        g_autoptr (GError) cache_error = NULL;
        g_autofree char *prep = graft_preprocessing_to_json (&spec->preprocessing);
        g_autofree char *model_key = g_strconcat (spec->model_sha256 != NULL ? spec->model_sha256
                                                                             : trainer->model->graph_name != NULL
                                                                                   ? trainer->model->graph_name
                                                                                   : "",
                                                  statistics != NULL ? ":recalibrated:" : NULL, statistics, NULL);
        cache = graft_embedding_cache_open (trainer->cache_folder, model_key != NULL ? model_key : "",
                                            graft_graph_value (trainer->model->graph, trainer->embedding)->name, prep,
                                            dim, &cache_error);
        if (cache == NULL)
          log_message (trainer, "%s", cache_error->message);
      }
    for (int b = 0; b < trainer->n_blocks; b++)
      {
        const GraftBlock *block = &g_array_index (trainer->model->blocks, GraftBlock, b);
        for (int n = block->first_node; n <= block->last_node; n++)
          graft_graph_set_batchnorm_batch_statistics (trainer->model->graph, n, FALSE);
      }
    *train_labels = g_new (gint32, MAX (1, trainer->train->items->len));
    *train_embeddings = compute_embeddings (trainer, trainer->train, cache, *train_labels, error);
    if (*train_embeddings == NULL)
      return FALSE;
    if (rs->has_validation)
      {
        *validation_labels = g_new (gint32, MAX (1, trainer->validation->items->len));
        *validation_embeddings = compute_embeddings (trainer, trainer->validation, cache, *validation_labels, error);
        if (*validation_embeddings == NULL)
          return FALSE;
      }
    if (!build_head_graph (trainer, &rs->tg, error))
      return FALSE;
    embedding_source (&rs->train_source, *train_embeddings, *train_labels, trainer->train->items->len, dim,
                      spec->batch_size, spec->seed, TRUE);
    if (rs->has_validation)
      embedding_source (&rs->validation_source, *validation_embeddings, *validation_labels,
                        trainer->validation->items->len, dim, spec->batch_size, spec->seed, FALSE);
    /* Items whose image failed to decode have label -1: drop them from the sources. */
    for (int pass = 0; pass < 2; pass++)
      {
        batch_source *source = pass == 0 ? &rs->train_source : &rs->validation_source;
        gint32 *labels = pass == 0 ? *train_labels : *validation_labels;
        float *embeddings = pass == 0 ? *train_embeddings : *validation_embeddings;
        guint kept = 0;
        if (embeddings == NULL)
          continue;
        for (guint i = 0; i < source->n_items; i++)
          if (labels[i] >= 0)
            {
              memmove (embeddings + (size_t) kept * dim, embeddings + (size_t) i * dim, (size_t) dim * sizeof (float));
              labels[kept++] = labels[i];
            }
        source->n_items = kept;
      }
  }
  return TRUE;
}

gboolean
graft_trainer_run (GraftTrainer *trainer, GError **error)
{
  run_state rs;
  g_autofree float *train_embeddings = NULL, *validation_embeddings = NULL;
  g_autofree gint32 *train_labels = NULL, *validation_labels = NULL;
  gboolean ok;

  ok = prepare (trainer, &rs, FALSE, &train_embeddings, &train_labels, &validation_embeddings, &validation_labels,
                error);
  if (ok)
    {
      guint n_images = rs.train_source.loader != NULL ? graft_loader_get_n_items (rs.train_source.loader)
                                                       : rs.train_source.n_items;
      g_autofree char *blocks = g_strdup_printf (
        rs.full ? g_dngettext (GETTEXT_PACKAGE, "%d block below the head", "%d blocks below the head", trainer->n_blocks)
                : g_dngettext (GETTEXT_PACKAGE, "%d block frozen", "%d blocks frozen", trainer->n_blocks),
        trainer->n_blocks);
      /* Translators: the strategy, the number of images, then "N blocks below the head" or "N blocks frozen". */
      log_message (trainer, rs.full ? g_dngettext (GETTEXT_PACKAGE, "Training %s: %u image, %s", "Training %s: %u images, %s",
                                                   n_images)
                                    : g_dngettext (GETTEXT_PACKAGE, "Training the head of %s on cached features of %u image (%s)",
                                                   "Training the head of %s on cached features of %u images (%s)", n_images),
                   graft_strategy_get_title (trainer->spec->strategy), n_images, blocks);
      ok = run_loop (&rs, error);
    }
  run_state_clear (&rs);
  /* A stop asked for before or during this run ends it; the next run starts afresh,
   * not from the checkpoint this one may have resumed. */
  g_atomic_int_set (&trainer->stop_requested, 0);
  trainer->start_epoch = 0;
  trainer->start_step = 0;
  resume_clear (trainer);
  return ok;
}

gboolean
graft_trainer_find_lr (GraftTrainer *trainer, float start, float end, int steps, GArray **lrs_out,
                       GArray **losses_out, float *suggestion, GError **error)
{
  run_state rs;
  g_autofree float *train_embeddings = NULL, *validation_embeddings = NULL;
  g_autofree gint32 *train_labels = NULL, *validation_labels = NULL;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .seed = trainer->spec->seed,
                                 .precision = trainer->spec->precision };
  g_autoptr (GArray) lrs = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) losses = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GraftBatch) held = NULL;
  plan_pair plans = { 0 };
  snapshot saved = { 0 };
  double smoothed = 0, best = INFINITY;
  gboolean ok;
  int epoch = 0;

  if (!(start > 0 && end > start) || steps < 2)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                   "the learning-rate sweep needs 0 < start < end and at least two steps");
      return FALSE;
    }
  ok = prepare (trainer, &rs, TRUE, &train_embeddings, &train_labels, &validation_embeddings, &validation_labels,
                error);
  /* The first stage's trainable set, over the boundary cache as the run's first epoch
   * would be (its activations are then the run's cache hits). */
  if (ok && rs.full)
    ok = begin_stage (&rs, 0, error);
  if (ok)
    snapshot_take (rs.tg.graph, &saved);
  source_start_epoch (&rs.train_source, 0);
  for (int step = 0; ok && step < steps; step++)
    {
      const float *inputs;
      const gint32 *labels;
      const guint *indices;
      int n;
      float loss, lr = start * powf (end / start, (float) step / (float) (steps - 1));
      graft_error engine_error;
      graft_plan *plan;

      if (should_stop (trainer))
        break;
      if (!source_next (&rs.train_source, &held, &inputs, &labels, &indices, &n, error))
        {
          if (error != NULL && *error != NULL)
            ok = FALSE;
          else
            source_start_epoch (&rs.train_source, (guint) ++epoch); /* another pass */
          step--;
          continue;
        }
      plan = plan_for (&plans, &rs.tg, &options, n, &rs.tg.logits, 1, error);
      if (plan == NULL || !plan_forward (plan, rs.tg.input, inputs, rs.train_source.item_floats * (gsize) n, error))
        {
          ok = FALSE;
          break;
        }
      if (graft_plan_backward (plan, labels, &loss, &engine_error) != GRAFT_OK)
        break; /* diverged: the sweep ends here */
      smoothed = 0.98 * smoothed + 0.02 * loss;
      {
        float debiased = (float) (smoothed / (1 - pow (0.98, step + 1)));
        g_array_append_val (lrs, lr);
        g_array_append_val (losses, debiased);
        if (debiased < best)
          best = debiased;
        /* The sweep's progress (one "epoch" of steps batches), for a progress bar. */
        if (trainer->hooks.on_step != NULL)
          {
            GraftStepEvent event = { .epoch = 0, .epochs = 1, .step = step, .steps = steps, .loss = loss, .lr = lr };
            trainer->hooks.on_step (&event, trainer->hooks.user_data);
          }
        if (step > 4 && debiased > 4 * best)
          break;
      }
      if (graft_optimizer_state_step (rs.optimizer, plan, lr, NULL, &engine_error) != GRAFT_OK)
        break;
    }
  plan_pair_clear (&plans);
  if (rs.full && rs.train_source.loader != NULL)
    graft_loader_stop (rs.train_source.loader);
  if (saved.values != NULL)
    snapshot_restore (rs.tg.graph, &saved);
  snapshot_clear (&saved);
  run_state_clear (&rs);
  if (!ok)
    return FALSE;
  /* fastai's "minimum / 10": a tenth of the rate where the smoothed loss is lowest,
   * which stays well clear of the blow-up and is robust to the noisy start. */
  {
    guint minimum = 0;
    for (guint i = 0; i < losses->len; i++)
      if (g_array_index (losses, float, i) < g_array_index (losses, float, minimum))
        minimum = i;
    *suggestion = lrs->len > 0 ? MAX (start, g_array_index (lrs, float, minimum) / 10) : start;
  }
  if (lrs_out != NULL)
    *lrs_out = g_steal_pointer (&lrs);
  if (losses_out != NULL)
    *losses_out = g_steal_pointer (&losses);
  return TRUE;
}

void
graft_trainer_describe_model (GraftTrainer *trainer)
{
  GraftModelDescription description = {
    .classes = trainer->train->classes,
    .spec = trainer->spec,
    .validation_accuracy = trainer->best_metrics != NULL ? graft_metrics_accuracy (trainer->best_metrics) : NAN,
  };

  graft_model_description_write (&description, trainer->model->metadata, TRUE);
}

GraftMetrics *
graft_evaluate (GraftModel *model, const GraftDataset *dataset, const GraftPreprocessing *prep, int batch_size,
                int decode_threads, float **probabilities, GError **error)
{
  int classes = (int) graft_graph_value (model->graph, model->logits)->shape.dims[1];
  g_autoptr (GraftMetrics) metrics = graft_metrics_new (classes);
  g_autofree GraftLoaderItem *items = loader_items (dataset);
  g_autofree float *probs = NULL;
  GraftLoaderOptions options;
  batch_source source = { 0 };
  training_graph tg = { model->graph, model->input, model->logits, 0 };
  gboolean ok;

  graft_loader_options_init (&options);
  options.preprocessing = *prep;
  graft_augmentation_init_none (&options.augmentation);
  options.batch_size = batch_size;
  options.shuffle = FALSE;
  options.threads = decode_threads;
  source.loader = graft_loader_new (items, dataset->items->len, &options, error);
  source.item_floats = graft_preprocessing_floats (prep);
  if (source.loader == NULL)
    return NULL;
  if (probabilities != NULL)
    {
      probs = g_new (float, (size_t) MAX (1, dataset->items->len) * classes);
      for (size_t i = 0; i < (size_t) dataset->items->len * classes; i++)
        probs[i] = NAN;
    }
  ok = evaluate_source (&tg, &source, metrics, classes, probs, error);
  source_clear (&source);
  if (!ok)
    return NULL;
  if (probabilities != NULL)
    *probabilities = g_steal_pointer (&probs);
  return g_steal_pointer (&metrics);
}
