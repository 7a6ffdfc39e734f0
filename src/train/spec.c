#include "config.h"

#include "train/spec.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (graft-train-error-quark, graft_train_error)

static const char *const strategy_names[] = {
  [GRAFT_STRATEGY_FEATURE_EXTRACTION] = "feature-extraction",
  [GRAFT_STRATEGY_REPLACE_TOP] = "replace-top",
  [GRAFT_STRATEGY_FINE_TUNE] = "fine-tune",
  [GRAFT_STRATEGY_PROGRESSIVE_ULMFIT] = "progressive-ulmfit",
  [GRAFT_STRATEGY_PROGRESSIVE_FASTAI] = "progressive-fastai",
  [GRAFT_STRATEGY_CUSTOM] = "custom",
};

static const char *const schedule_names[] = {
  [GRAFT_SCHEDULE_CONSTANT] = "constant",
  [GRAFT_SCHEDULE_STEP] = "step",
  [GRAFT_SCHEDULE_COSINE] = "cosine",
  [GRAFT_SCHEDULE_ONE_CYCLE] = "one-cycle",
  [GRAFT_SCHEDULE_SLANTED_TRIANGULAR] = "slanted-triangular",
};

static const char *const batchnorm_names[] = {
  [GRAFT_BATCHNORM_FROZEN_INFERENCE] = "inference",
  [GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS] = "batch-statistics",
  [GRAFT_BATCHNORM_RECALIBRATE] = "recalibrate",
};

static const char *const optimizer_names[] = {
  [GRAFT_OPTIMIZER_SGD] = "sgd",
  [GRAFT_OPTIMIZER_ADAM] = "adam",
  [GRAFT_OPTIMIZER_ADAMW] = "adamw",
};

static const struct {
  graft_activation_kind kind;
  const char *name;
} activation_names[] = {
  { GRAFT_ACTIVATION_RELU, "relu" },
  { GRAFT_ACTIVATION_LEAKY_RELU, "leaky-relu" },
  { GRAFT_ACTIVATION_HARD_SWISH, "hard-swish" },
  { GRAFT_ACTIVATION_SIGMOID, "sigmoid" },
};

static int
lookup (const char *const *names, int n, const char *name)
{
  for (int i = 0; i < n; i++)
    if (names[i] != NULL && name != NULL && strcmp (names[i], name) == 0)
      return i;
  return -1;
}

const char *
graft_strategy_get_title (GraftStrategy strategy)
{
  switch (strategy)
    {
    case GRAFT_STRATEGY_FEATURE_EXTRACTION:
      return _("Feature Extraction");
    case GRAFT_STRATEGY_REPLACE_TOP:
      return _("Replace Top Layers");
    case GRAFT_STRATEGY_FINE_TUNE:
      return _("Fine-Tuning");
    case GRAFT_STRATEGY_PROGRESSIVE_ULMFIT:
      return _("Progressive Unfreezing (ULMFiT)");
    case GRAFT_STRATEGY_PROGRESSIVE_FASTAI:
      return _("Progressive Unfreezing (fastai)");
    case GRAFT_STRATEGY_CUSTOM:
    default:
      return _("Custom Plan");
    }
}

const char *
graft_strategy_to_string (GraftStrategy strategy)
{
  return strategy >= 0 && strategy <= GRAFT_STRATEGY_CUSTOM ? strategy_names[strategy] : "custom";
}

/* Indexed by graft_plan_precision, as strategy_names by GraftStrategy. */
static const char *const precision_names[] = {
  [GRAFT_PLAN_PRECISION_FP32] = "fp32",
  [GRAFT_PLAN_PRECISION_BF16] = "bf16",
};

const char *
graft_precision_to_string (graft_plan_precision precision)
{
  return precision_names[precision];
}

gboolean
graft_precision_from_string (const char *name, graft_plan_precision *precision)
{
  int i = lookup (precision_names, G_N_ELEMENTS (precision_names), name);
  if (i < 0)
    return FALSE;
  *precision = (graft_plan_precision) i;
  return TRUE;
}

gboolean
graft_strategy_from_string (const char *name, GraftStrategy *strategy)
{
  int i = lookup (strategy_names, G_N_ELEMENTS (strategy_names), name);
  if (i < 0)
    return FALSE;
  *strategy = (GraftStrategy) i;
  return TRUE;
}

static GHashTable *
overrides_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

int
graft_session_spec_backbone_blocks (const GraftModel *model)
{
  int classifier, blocks;
  if (model == NULL || model->blocks == NULL || model->blocks->len == 0)
    return 1;
  blocks = (int) model->blocks->len;
  classifier = model->graph != NULL ? graft_model_find_classifier (model) : -1;
  /* The block holding the classifier is replaced by the new head. */
  if (classifier >= 0 && g_array_index (model->blocks, GraftBlock, blocks - 1).first_node <= classifier)
    blocks--;
  return MAX (1, blocks);
}

static GHashTable *
factors_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* The node whose output is block b's: its last node, or, where that only moves or pools
 * data, the node inside the block that it reads. The parameterless nodes at a block's
 * end belong to the next layer: ConvNeXt's permute for the next stage's LayerNorm, the
 * pooling after Swin's last stage and, in a model whose maps are (N, H, W, C) (Swin),
 * the slices and Concat with which patch merging starts. */
static int
block_output_node (const GraftModel *model, int b)
{
  const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
  gboolean channels_last = graft_model_pools_channels_last (model);
  int n = block->last_node;
  while (n > block->first_node)
    {
      const graft_node *node = graft_graph_node (model->graph, n);
      graft_op op = node->attributes.op;
      int producer;
      if (op != GRAFT_OP_TRANSPOSE && op != GRAFT_OP_RESHAPE && op != GRAFT_OP_FLATTEN && op != GRAFT_OP_MEAN_SPATIAL
          && !(channels_last && (op == GRAFT_OP_SLICE || op == GRAFT_OP_CONCAT)))
        break;
      producer = graft_graph_value (model->graph, node->inputs[0])->producer;
      if (producer < block->first_node || producer >= n)
        break;
      n = producer;
    }
  return n;
}

/* The smallest H × W above 1×1 that a node of block b outputs (global pooling, flatten
 * and fully connected layers do not count); 1 when none does. When channels_last, the
 * H × W of the block's output (N, H, W, C) alone: inside, Swin's windows and attention
 * scores are rank-4 tensors of other kinds. */
static gint64
block_spatial (const GraftModel *model, int b, gboolean channels_last)
{
  const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
  gint64 smallest = 1;
  for (int n = channels_last ? block_output_node (model, b) : block->first_node;
       n <= (channels_last ? block_output_node (model, b) : block->last_node) && n < (int) model->layers->len; n++)
    {
      const graft_shape *shape = &g_array_index (model->layers, GraftLayerInfo, n).output_shape;
      gint64 area = shape->rank != 4 ? 1 : channels_last ? shape->dims[1] * shape->dims[2] : shape->dims[2] * shape->dims[3];
      if (area > 1 && (smallest == 1 || area < smallest))
        smallest = area;
    }
  return smallest;
}

/* The rank of block b's output (4 when its last node has no layer information). */
static int
block_output_rank (const GraftModel *model, int b)
{
  int n;
  if (b < 0 || b >= (int) model->blocks->len)
    return 0;
  n = block_output_node (model, b);
  return n < (int) model->layers->len ? g_array_index (model->layers, GraftLayerInfo, n).output_shape.rank : 4;
}

int
graft_session_spec_replace_top_removed_blocks (const GraftModel *model)
{
  int blocks = graft_session_spec_backbone_blocks (model), removed = 1;
  gboolean channels_last;
  gint64 last;

  if (model == NULL || model->graph == NULL || model->blocks == NULL || blocks < 2
      || (int) model->blocks->len < blocks)
    return 0;
  if (model->layers == NULL || model->layers->len == 0)
    return 1;
  /* The last stage: the trailing blocks that work at the backbone's last resolution
   * (Swin's: its (N, H, W, C) maps' H × W). */
  channels_last = graft_model_pools_channels_last (model);
  last = block_spatial (model, blocks - 1, channels_last);
  while (removed < blocks && block_spatial (model, blocks - 1 - removed, channels_last) == last)
    removed++;
  removed = CLAMP (removed, 1, blocks / 2);
  /* A transformer's encoder layers all output tokens (N, tokens, features) at one
   * resolution: the top layer goes. */
  if (block_output_rank (model, blocks - 2) == 3)
    removed = 1;
  /* A head is grafted on (N, features), a map or tokens (surgery.h): fewer blocks go
   * where the block below outputs something else. */
  while (removed > 0)
    {
      int rank = block_output_rank (model, blocks - removed - 1);
      if (rank >= 2 && rank <= 4)
        break;
      removed--;
    }
  return removed;
}

GraftSessionSpec *
graft_session_spec_new (GraftStrategy strategy, const GraftModel *model)
{
  GraftSessionSpec *spec = g_new0 (GraftSessionSpec, 1);
  int blocks = graft_session_spec_backbone_blocks (model);

  spec->strategy = strategy;
  spec->head.activation = GRAFT_ACTIVATION_RELU;
  spec->block_overrides = overrides_new ();
  spec->parameter_overrides = overrides_new ();
  spec->batchnorm_blocks = overrides_new ();
  spec->block_lr_factors = factors_new ();
  spec->discriminative_factor = 1.0f;
  spec->backbone_lr_fraction = 1.0f;
  spec->batchnorm_policy = GRAFT_BATCHNORM_FROZEN_INFERENCE;
  spec->optimizer = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  /* The head's rate; backbone blocks get less (fraction, discriminative factor). A new
   * head is far from converged after a few epochs at 1e-3 (bench/parity-torch.py). */
  spec->optimizer.learning_rate = 1e-2f;
  spec->optimizer.weight_decay = 1e-4f;
  spec->schedule = (GraftLrSchedule) {
    .kind = GRAFT_SCHEDULE_COSINE, .step_epochs = 5, .gamma = 0.1f, .final_fraction = 0.01f,
    .pct_start = 0.25f, .div_factor = 25.0f, .final_div_factor = 1e4f,
  };
  spec->epochs = 10;
  spec->batch_size = 32;
  graft_preprocessing_init_imagenet (&spec->preprocessing);
  graft_augmentation_init_none (&spec->augmentation);
  spec->seed = 1;
  spec->validation_fraction = 0.2f;
  spec->n_stages = 1;
  spec->stages[0] = (GraftUnfreezeStage) { .epoch = 0, .trainable_from = blocks };

  switch (strategy)
    {
    case GRAFT_STRATEGY_FEATURE_EXTRACTION:
      /* Backbone frozen, no augmentation: the embeddings are computed once and cached. */
      spec->epochs = 20;
      break;
    case GRAFT_STRATEGY_REPLACE_TOP:
      {
        /* The top block(s) go; the new head is grafted on the output of what is left and
         * trains alone. */
        int removed = graft_session_spec_replace_top_removed_blocks (model);
        if (removed > 0)
          {
            const graft_node *last = graft_graph_node (model->graph, block_output_node (model, blocks - removed - 1));
            spec->cut = g_strdup (graft_graph_value (model->graph, last->output)->name);
            spec->stages[0].trainable_from = blocks - removed;
          }
      }
      spec->head.n_hidden = 1;
      spec->head.hidden[0] = 256;
      spec->head.dropout = 0.2f;
      spec->epochs = 20;
      break;
    case GRAFT_STRATEGY_FINE_TUNE:
      /* The top third of the blocks train, ten times slower than the head. */
      spec->stages[0].trainable_from = MAX (0, blocks - MAX (1, blocks / 3));
      spec->backbone_lr_fraction = 0.1f;
      spec->schedule.kind = GRAFT_SCHEDULE_ONE_CYCLE;
      spec->schedule.pct_start = 0.25f;
      graft_augmentation_init_default (&spec->augmentation);
      spec->augmentation.crop_scale_min = 0.35f; /* fastai's: the whole object mostly stays in view */
      /* The frozen lower blocks run once per cached view, not every epoch (see spec.h's
       * cached_views for the measurement behind 8). */
      spec->cached_views = 8;
      spec->epochs = 10;
      break;
    case GRAFT_STRATEGY_PROGRESSIVE_ULMFIT:
      /* One more block per epoch, top down; each block lower gets lr / 2.6 (Howard and
       * Ruder's factor, for their 4 layers), but never spread over more than fastai's two
       * decades: 2.6 compounded over MobileNetV2's 19 blocks left its lowest at 1.3e-8 of
       * the head's rate, frozen in all but name. A slanted triangular cycle per stage. */
      spec->n_stages = MIN (blocks + 1, GRAFT_MAX_STAGES);
      for (int s = 0; s < spec->n_stages; s++)
        spec->stages[s] = (GraftUnfreezeStage) { .epoch = s, .trainable_from = MAX (0, blocks - s) };
      spec->epochs = spec->n_stages;
      spec->discriminative_factor = blocks > 0 ? MIN (2.6f, powf (100.0f, 1.0f / (float) blocks)) : 2.6f;
      spec->schedule.kind = GRAFT_SCHEDULE_SLANTED_TRIANGULAR;
      spec->schedule.pct_start = 0.1f;
      spec->schedule.div_factor = 32.0f;
      spec->schedule.restart_each_stage = TRUE;
      graft_augmentation_init_default (&spec->augmentation);
      spec->augmentation.crop_scale_min = 0.35f;
      break;
    case GRAFT_STRATEGY_PROGRESSIVE_FASTAI:
      /* fastai's fine_tune: one epoch of the head alone, then every block with learning
       * rates spread geometrically from base/100 (bottom) to base/2 (top), one-cycle each. */
      spec->n_stages = 2;
      spec->stages[1] = (GraftUnfreezeStage) { .epoch = 1, .trainable_from = 0,
                                               .lr = spec->optimizer.learning_rate / 2 };
      spec->discriminative_factor = blocks > 0 ? powf (100.0f, 1.0f / (float) blocks) : 1.0f;
      spec->schedule.kind = GRAFT_SCHEDULE_ONE_CYCLE;
      spec->schedule.restart_each_stage = TRUE;
      graft_augmentation_init_default (&spec->augmentation);
      spec->augmentation.crop_scale_min = 0.35f;
      spec->epochs = 5;
      break;
    case GRAFT_STRATEGY_CUSTOM:
      break;
    }
  {
    const char *prep = model != NULL && model->metadata != NULL
                           ? g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING)
                           : NULL;
    if (prep != NULL)
      graft_preprocessing_from_json (prep, &spec->preprocessing, NULL);
    else if (model != NULL && model->graph != NULL && model->input >= 0)
      {
        /* A file that does not say: ImageNet's normalisation at the model's own size and
         * layout (as graft-cli assumes), which the Model page shows as assumed. */
        const graft_shape *shape = &graft_graph_value (model->graph, model->input)->shape;
        gint64 h = model->input_nhwc ? shape->dims[1] : shape->dims[2];
        gint64 w = model->input_nhwc ? shape->dims[2] : shape->dims[3];
        gint64 c = model->input_nhwc ? shape->dims[3] : shape->dims[1];
        if (shape->rank == 4 && h == w && h >= 1 && h <= GRAFT_PREPROCESSING_MAX_SIZE
            && h != spec->preprocessing.size)
          {
            spec->preprocessing.size = (int) h;
            spec->preprocessing.resize = MIN (GRAFT_PREPROCESSING_MAX_SIZE, (int) (h * 256 + 112) / 224);
          }
        spec->preprocessing.nhwc = model->input_nhwc;
        spec->preprocessing.grey = shape->rank == 4 && c == 1;
      }
  }
  graft_session_spec_adapt_augmentation (spec);
  return spec;
}

void
graft_session_spec_adapt_augmentation (GraftSessionSpec *spec)
{
  /* The recipe suits photos of 224 pixels: a random crop of a third of a 32-pixel image
   * keeps a few pixels of it. On the sample (32 pixels, 40 images a class, seeds 1-3,
   * mean validation accuracy), fine-tune / ULMFiT / fastai scored 68.3 / 75.1 / 58.3 %
   * with it, 82.6 / 83.8 / 76.9 % with flips alone, 79.5 / 81.7 / 71.5 % with flips, a
   * crop of 80 % and jitter 0.1, and 83.7 / 85.9 / 79.2 % without augmentation, against
   * 77.7 % for feature extraction: below GRAFT_SMALL_INPUT pixels the presets train
   * without it. */
  if (spec->augmentation.enabled && spec->preprocessing.size < GRAFT_SMALL_INPUT)
    graft_augmentation_init_none (&spec->augmentation);
}

static GHashTable *
overrides_copy (GHashTable *table)
{
  GHashTable *copy = overrides_new ();
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), value);
  return copy;
}

GraftSessionSpec *
graft_session_spec_copy (const GraftSessionSpec *spec)
{
  GraftSessionSpec *copy = g_memdup2 (spec, sizeof *spec);
  copy->model_path = g_strdup (spec->model_path);
  copy->model_sha256 = g_strdup (spec->model_sha256);
  copy->cut = g_strdup (spec->cut);
  copy->block_overrides = overrides_copy (spec->block_overrides);
  copy->parameter_overrides = overrides_copy (spec->parameter_overrides);
  copy->batchnorm_blocks = overrides_copy (spec->batchnorm_blocks);
  copy->block_lr_factors = factors_new ();
  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init (&iter, spec->block_lr_factors);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_insert (copy->block_lr_factors, g_strdup (key), g_memdup2 (value, sizeof (float)));
  }
  return copy;
}

void
graft_session_spec_free (GraftSessionSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->model_path);
  g_free (spec->model_sha256);
  g_free (spec->cut);
  g_clear_pointer (&spec->block_overrides, g_hash_table_unref);
  g_clear_pointer (&spec->parameter_overrides, g_hash_table_unref);
  g_clear_pointer (&spec->batchnorm_blocks, g_hash_table_unref);
  g_clear_pointer (&spec->block_lr_factors, g_hash_table_unref);
  g_free (spec);
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  char *message;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID, message);
  g_free (message);
  return FALSE;
}

gboolean
graft_session_spec_validate (const GraftSessionSpec *spec, int n_blocks, GError **error)
{
  graft_error engine_error;

  if (spec->epochs < 1 || spec->epochs > 10000)
    return invalid (error, "the number of epochs must be between 1 and 10000, not %d", spec->epochs);
  if (spec->batch_size < 1 || spec->batch_size > 4096)
    return invalid (error, "the batch size must be between 1 and 4096, not %d", spec->batch_size);
  if (graft_optimizer_config_validate (&spec->optimizer, &engine_error) != GRAFT_OK)
    return invalid (error, "optimizer: %s", engine_error.message);
  if (!(spec->optimizer.learning_rate > 0))
    return invalid (error, "the learning rate must be positive");
  if (spec->n_stages < 1 || spec->n_stages > GRAFT_MAX_STAGES || spec->stages[0].epoch != 0)
    return invalid (error, "the schedule needs a first stage at epoch 0");
  for (int s = 0; s < spec->n_stages; s++)
    {
      const GraftUnfreezeStage *stage = &spec->stages[s];
      if (s > 0 && stage->epoch <= spec->stages[s - 1].epoch)
        return invalid (error, "stage %d starts at epoch %d, not after the stage before it", s + 1, stage->epoch + 1);
      if (stage->trainable_from < 0 || stage->trainable_from > n_blocks)
        return invalid (error, "stage %d unfreezes from block %d, but the model has %d blocks", s + 1,
                        stage->trainable_from + 1, n_blocks);
      if (!(stage->lr >= 0) || !isfinite (stage->lr))
        return invalid (error, "stage %d has a negative learning rate", s + 1);
    }
  if (!(spec->discriminative_factor >= 1.0f && spec->discriminative_factor <= 100.0f))
    return invalid (error, "the discriminative factor must be between 1 and 100");
  if (!(spec->backbone_lr_fraction > 0.0f && spec->backbone_lr_fraction <= 1.0f))
    return invalid (error, "the backbone learning-rate fraction must be in (0, 1]");
  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init (&iter, spec->block_lr_factors);
    while (g_hash_table_iter_next (&iter, &key, &value))
      if (!(*(float *) value > 0.0f && *(float *) value <= 100.0f))
        return invalid (error, "the learning-rate factor of block %s must be above 0 and at most 100, not %g",
                        (const char *) key, *(float *) value);
  }
  if (spec->head.n_hidden < 0 || spec->head.n_hidden > GRAFT_HEAD_MAX_HIDDEN)
    return invalid (error, "the head can have at most %d hidden layers", GRAFT_HEAD_MAX_HIDDEN);
  for (int i = 0; i < spec->head.n_hidden; i++)
    if (spec->head.hidden[i] < 1 || spec->head.hidden[i] > 65536)
      return invalid (error, "hidden layer %d of the head must have 1 to 65536 units", i + 1);
  if (!(spec->head.dropout >= 0 && spec->head.dropout <= 0.9f))
    return invalid (error, "the head's dropout must be between 0 and 0.9");
  if (!(spec->validation_fraction >= 0 && spec->validation_fraction < 1))
    return invalid (error, "the validation fraction must be in [0, 1)");
  if (!(spec->label_smoothing >= 0 && spec->label_smoothing < 1))
    return invalid (error, "label smoothing must be in [0, 1)");
  if (spec->early_stopping_patience < 0)
    return invalid (error, "early stopping patience cannot be negative");
  if (spec->schedule.kind == GRAFT_SCHEDULE_STEP && spec->schedule.step_epochs < 1)
    return invalid (error, "a step schedule needs a step of at least one epoch");
  if ((spec->schedule.kind == GRAFT_SCHEDULE_ONE_CYCLE || spec->schedule.kind == GRAFT_SCHEDULE_SLANTED_TRIANGULAR)
      && !(spec->schedule.pct_start > 0 && spec->schedule.pct_start < 1 && spec->schedule.div_factor >= 1))
    return invalid (error, "a cyclic schedule needs a warm part between 0 and 1 and a factor of at least 1");
  if (!(spec->schedule.warmup_epochs >= 0))
    return invalid (error, "warm-up cannot be negative");
  if (!graft_preprocessing_validate (&spec->preprocessing, error))
    return FALSE;
  if (!graft_augmentation_validate (&spec->augmentation, error))
    return FALSE;
  if (spec->cached_views < 0 || spec->cached_views > GRAFT_MAX_CACHED_VIEWS)
    return invalid (error, "augmentation.cached_views must be between 0 and %d", GRAFT_MAX_CACHED_VIEWS);
  return TRUE;
}

const GraftUnfreezeStage *
graft_session_spec_stage_at (const GraftSessionSpec *spec, int epoch)
{
  int s = 0;
  while (s + 1 < spec->n_stages && spec->stages[s + 1].epoch <= epoch)
    s++;
  return &spec->stages[s];
}

gboolean
graft_session_spec_block_trains (const GraftSessionSpec *spec, int epoch, int block, const char *name,
                                 int n_blocks)
{
  gpointer override = name != NULL ? g_hash_table_lookup (spec->block_overrides, name) : NULL;
  if (override != NULL)
    return GPOINTER_TO_INT (override) == 1;
  return block >= graft_session_spec_stage_at (spec, epoch)->trainable_from && block < n_blocks;
}

float
graft_session_spec_block_lr_multiplier (const GraftSessionSpec *spec, int epoch, int block, int n_blocks)
{
  return spec->backbone_lr_fraction * powf (spec->discriminative_factor, -(float) (n_blocks - block));
}

float
graft_session_spec_block_lr_factor (const GraftSessionSpec *spec, int epoch, int block, const char *name,
                                    int n_blocks)
{
  const float *factor = name != NULL ? g_hash_table_lookup (spec->block_lr_factors, name) : NULL;
  return factor != NULL ? *factor : graft_session_spec_block_lr_multiplier (spec, epoch, block, n_blocks);
}

void
graft_session_spec_set_block_lr_factor (GraftSessionSpec *spec, const char *name, float factor)
{
  if (factor > 0 && isfinite (factor))
    g_hash_table_insert (spec->block_lr_factors, g_strdup (name), g_memdup2 (&factor, sizeof factor));
  else
    g_hash_table_remove (spec->block_lr_factors, name);
}

GraftBatchNormPolicy
graft_session_spec_block_batchnorm (const GraftSessionSpec *spec, const char *name)
{
  gpointer policy = name != NULL ? g_hash_table_lookup (spec->batchnorm_blocks, name) : NULL;
  return policy != NULL ? (GraftBatchNormPolicy) (GPOINTER_TO_INT (policy) - 1) : spec->batchnorm_policy;
}

void
graft_session_spec_set_block_batchnorm (GraftSessionSpec *spec, const char *name, GraftBatchNormPolicy policy)
{
  if (policy == spec->batchnorm_policy)
    g_hash_table_remove (spec->batchnorm_blocks, name);
  else
    g_hash_table_insert (spec->batchnorm_blocks, g_strdup (name), GINT_TO_POINTER (policy + 1));
}

gboolean
graft_session_spec_uses_batchnorm (const GraftSessionSpec *spec, GraftBatchNormPolicy policy)
{
  GHashTableIter iter;
  gpointer value;
  if (spec->batchnorm_policy == policy)
    return TRUE;
  g_hash_table_iter_init (&iter, spec->batchnorm_blocks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (GPOINTER_TO_INT (value) - 1 == (int) policy)
      return TRUE;
  return FALSE;
}

const char *
graft_batchnorm_policy_to_string (GraftBatchNormPolicy policy)
{
  return policy >= 0 && policy < G_N_ELEMENTS (batchnorm_names) ? batchnorm_names[policy] : "inference";
}

float
graft_session_spec_lr_at (const GraftSessionSpec *spec, int epoch, int step, int steps_per_epoch)
{
  const GraftUnfreezeStage *stage = graft_session_spec_stage_at (spec, epoch);
  const GraftLrSchedule *sc = &spec->schedule;
  float base = stage->lr > 0 ? stage->lr : spec->optimizer.learning_rate;
  int span_start = 0, span_end = spec->epochs;
  double position, length, t, m = 1.0;

  if (sc->restart_each_stage)
    {
      span_start = stage->epoch;
      for (int s = 0; s < spec->n_stages; s++)
        if (spec->stages[s].epoch > stage->epoch)
          {
            span_end = MIN (spec->stages[s].epoch, spec->epochs);
            break;
          }
    }
  length = MAX (1, span_end - span_start);
  position = (epoch - span_start) + (steps_per_epoch > 0 ? (double) step / steps_per_epoch : 0.0);
  if (sc->warmup_epochs > 0 && position < sc->warmup_epochs)
    return (float) (base * (position + 1.0 / MAX (1, steps_per_epoch)) / sc->warmup_epochs);
  t = CLAMP (position / length, 0.0, 1.0);
  switch (sc->kind)
    {
    case GRAFT_SCHEDULE_CONSTANT:
      break;
    case GRAFT_SCHEDULE_STEP:
      m = pow (sc->gamma, floor ((epoch - span_start) / (double) sc->step_epochs));
      break;
    case GRAFT_SCHEDULE_COSINE:
      m = sc->final_fraction + (1 - sc->final_fraction) * 0.5 * (1 + cos (G_PI * t));
      break;
    case GRAFT_SCHEDULE_ONE_CYCLE:
      {
        double low = 1.0 / sc->div_factor, end = low / sc->final_div_factor;
        if (t < sc->pct_start)
          m = low + (1 - low) * 0.5 * (1 - cos (G_PI * t / sc->pct_start));
        else
          m = end + (1 - end) * 0.5 * (1 + cos (G_PI * (t - sc->pct_start) / (1 - sc->pct_start)));
      }
      break;
    case GRAFT_SCHEDULE_SLANTED_TRIANGULAR:
      {
        double p = t < sc->pct_start ? t / sc->pct_start : 1 - (t - sc->pct_start) / (1 - sc->pct_start);
        m = (1 + p * (sc->div_factor - 1)) / sc->div_factor;
      }
      break;
    }
  return (float) (base * m);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */

static void
add_overrides (JsonBuilder *builder, const char *member, GHashTable *table)
{
  g_autoptr (GList) keys = g_hash_table_get_keys (table);
  json_builder_set_member_name (builder, member);
  json_builder_begin_object (builder);
  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_string_value (builder,
                                     GPOINTER_TO_INT (g_hash_table_lookup (table, l->data)) == 1 ? "trainable" : "frozen");
    }
  json_builder_end_object (builder);
}

static void
add_embedded (JsonBuilder *builder, const char *member, char *json)
{
  JsonNode *node = json_from_string (json, NULL);
  json_builder_set_member_name (builder, member);
  if (node != NULL)
    json_builder_add_value (builder, node);
  else
    json_builder_add_null_value (builder);
  g_free (json);
}

char *
graft_session_spec_to_json (const GraftSessionSpec *spec)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  const char *activation = "relu";

  for (gsize i = 0; i < G_N_ELEMENTS (activation_names); i++)
    if (activation_names[i].kind == spec->head.activation)
      activation = activation_names[i].name;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "strategy");
  json_builder_add_string_value (b, graft_strategy_to_string (spec->strategy));
  json_builder_set_member_name (b, "model");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, spec->model_path);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, spec->model_sha256);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "cut");
  json_builder_add_string_value (b, spec->cut);

  json_builder_set_member_name (b, "head");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "hidden");
  json_builder_begin_array (b);
  for (int i = 0; i < spec->head.n_hidden; i++)
    json_builder_add_int_value (b, spec->head.hidden[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "activation");
  json_builder_add_string_value (b, activation);
  json_builder_set_member_name (b, "dropout");
  json_builder_add_double_value (b, spec->head.dropout);
  json_builder_set_member_name (b, "batchnorm");
  json_builder_add_boolean_value (b, spec->head.batchnorm);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "stages");
  json_builder_begin_array (b);
  for (int s = 0; s < spec->n_stages; s++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "epoch");
      json_builder_add_int_value (b, spec->stages[s].epoch);
      json_builder_set_member_name (b, "trainable_from");
      json_builder_add_int_value (b, spec->stages[s].trainable_from);
      json_builder_set_member_name (b, "lr");
      json_builder_add_double_value (b, spec->stages[s].lr);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  add_overrides (b, "block_overrides", spec->block_overrides);
  add_overrides (b, "parameter_overrides", spec->parameter_overrides);
  json_builder_set_member_name (b, "discriminative_factor");
  json_builder_add_double_value (b, spec->discriminative_factor);
  json_builder_set_member_name (b, "backbone_lr_fraction");
  json_builder_add_double_value (b, spec->backbone_lr_fraction);
  json_builder_set_member_name (b, "batchnorm_policy");
  json_builder_add_string_value (b, batchnorm_names[spec->batchnorm_policy]);
  {
    g_autoptr (GList) keys = g_list_sort (g_hash_table_get_keys (spec->batchnorm_blocks), (GCompareFunc) strcmp);
    json_builder_set_member_name (b, "batchnorm_blocks");
    json_builder_begin_object (b);
    for (GList *l = keys; l != NULL; l = l->next)
      {
        json_builder_set_member_name (b, l->data);
        json_builder_add_string_value (b, graft_batchnorm_policy_to_string (
                                              graft_session_spec_block_batchnorm (spec, l->data)));
      }
    json_builder_end_object (b);
  }
  {
    g_autoptr (GList) keys = g_list_sort (g_hash_table_get_keys (spec->block_lr_factors), (GCompareFunc) strcmp);
    json_builder_set_member_name (b, "block_lr_factors");
    json_builder_begin_object (b);
    for (GList *l = keys; l != NULL; l = l->next)
      {
        json_builder_set_member_name (b, l->data);
        json_builder_add_double_value (b, *(float *) g_hash_table_lookup (spec->block_lr_factors, l->data));
      }
    json_builder_end_object (b);
  }

  json_builder_set_member_name (b, "optimizer");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, optimizer_names[spec->optimizer.kind]);
  json_builder_set_member_name (b, "lr");
  json_builder_add_double_value (b, spec->optimizer.learning_rate);
  json_builder_set_member_name (b, "momentum");
  json_builder_add_double_value (b, spec->optimizer.momentum);
  json_builder_set_member_name (b, "nesterov");
  json_builder_add_boolean_value (b, spec->optimizer.nesterov);
  json_builder_set_member_name (b, "beta1");
  json_builder_add_double_value (b, spec->optimizer.beta1);
  json_builder_set_member_name (b, "beta2");
  json_builder_add_double_value (b, spec->optimizer.beta2);
  json_builder_set_member_name (b, "epsilon");
  json_builder_add_double_value (b, spec->optimizer.epsilon);
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_double_value (b, spec->optimizer.weight_decay);
  json_builder_set_member_name (b, "max_grad_norm");
  json_builder_add_double_value (b, spec->optimizer.max_grad_norm);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "schedule");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, schedule_names[spec->schedule.kind]);
  json_builder_set_member_name (b, "warmup_epochs");
  json_builder_add_double_value (b, spec->schedule.warmup_epochs);
  json_builder_set_member_name (b, "step_epochs");
  json_builder_add_int_value (b, spec->schedule.step_epochs);
  json_builder_set_member_name (b, "gamma");
  json_builder_add_double_value (b, spec->schedule.gamma);
  json_builder_set_member_name (b, "final_fraction");
  json_builder_add_double_value (b, spec->schedule.final_fraction);
  json_builder_set_member_name (b, "pct_start");
  json_builder_add_double_value (b, spec->schedule.pct_start);
  json_builder_set_member_name (b, "div_factor");
  json_builder_add_double_value (b, spec->schedule.div_factor);
  json_builder_set_member_name (b, "final_div_factor");
  json_builder_add_double_value (b, spec->schedule.final_div_factor);
  json_builder_set_member_name (b, "restart_each_stage");
  json_builder_add_boolean_value (b, spec->schedule.restart_each_stage);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, spec->epochs);
  json_builder_set_member_name (b, "batch_size");
  json_builder_add_int_value (b, spec->batch_size);
  add_embedded (b, "preprocessing", graft_preprocessing_to_json (&spec->preprocessing));
  {
    /* The augmentation's own members, and how many views of it the boundary cache keeps. */
    g_autofree char *augmentation = graft_augmentation_to_json (&spec->augmentation);
    JsonNode *node = json_from_string (augmentation, NULL);
    if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
      json_object_set_int_member (json_node_get_object (node), "cached_views", spec->cached_views);
    json_builder_set_member_name (b, "augmentation");
    if (node != NULL)
      json_builder_add_value (b, node);
    else
      json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) spec->seed);
  json_builder_set_member_name (b, "validation_fraction");
  json_builder_add_double_value (b, spec->validation_fraction);
  json_builder_set_member_name (b, "early_stopping_patience");
  json_builder_add_int_value (b, spec->early_stopping_patience);
  json_builder_set_member_name (b, "balanced_class_weights");
  json_builder_add_boolean_value (b, spec->balanced_class_weights);
  json_builder_set_member_name (b, "label_smoothing");
  json_builder_add_double_value (b, spec->label_smoothing);
  json_builder_set_member_name (b, "precision");
  json_builder_add_string_value (b, graft_precision_to_string (spec->precision));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/* Reading: every member is optional (the preset's value stays); a member of the wrong
 * type is an error naming it. */
typedef struct {
  JsonObject *object;
  const char *where;
  GError **error;
  gboolean ok;
} reader;

static JsonNode *
member (reader *r, const char *name, JsonNodeType type)
{
  JsonNode *node;
  if (!r->ok || r->object == NULL || !json_object_has_member (r->object, name))
    return NULL;
  node = json_object_get_member (r->object, name);
  if (JSON_NODE_TYPE (node) == JSON_NODE_NULL)
    return NULL;
  if (JSON_NODE_TYPE (node) != type)
    {
      r->ok = invalid (r->error, "%s%s has the wrong type", r->where, name);
      return NULL;
    }
  return node;
}

static void
read_number (reader *r, const char *name, float *out)
{
  JsonNode *node = member (r, name, JSON_NODE_VALUE);
  if (node == NULL)
    return;
  if (json_node_get_value_type (node) != G_TYPE_DOUBLE && json_node_get_value_type (node) != G_TYPE_INT64)
    r->ok = invalid (r->error, "%s%s must be a number", r->where, name);
  else
    *out = (float) json_node_get_double (node);
}

static void
read_int (reader *r, const char *name, int *out)
{
  JsonNode *node = member (r, name, JSON_NODE_VALUE);
  if (node == NULL)
    return;
  if (json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < G_MININT
      || json_node_get_int (node) > G_MAXINT)
    r->ok = invalid (r->error, "%s%s must be a whole number", r->where, name);
  else
    *out = (int) json_node_get_int (node);
}

static void
read_bool (reader *r, const char *name, gboolean *out)
{
  JsonNode *node = member (r, name, JSON_NODE_VALUE);
  if (node == NULL)
    return;
  if (json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    r->ok = invalid (r->error, "%s%s must be true or false", r->where, name);
  else
    *out = json_node_get_boolean (node);
}

static const char *
read_string (reader *r, const char *name)
{
  JsonNode *node = member (r, name, JSON_NODE_VALUE);
  if (node == NULL)
    return NULL;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    {
      r->ok = invalid (r->error, "%s%s must be a string", r->where, name);
      return NULL;
    }
  return json_node_get_string (node);
}

static void
read_enum (reader *r, const char *name, const char *const *names, int n, int *out)
{
  const char *value = read_string (r, name);
  int i;
  if (value == NULL)
    return;
  i = lookup (names, n, value);
  if (i < 0)
    r->ok = invalid (r->error, "%s%s: unknown value '%s'", r->where, name, value);
  else
    *out = i;
}

static reader
sub_reader (reader *r, const char *name, const char *where)
{
  JsonNode *node = member (r, name, JSON_NODE_OBJECT);
  return (reader) { node ? json_node_get_object (node) : NULL, where, r->error, r->ok };
}

static void
read_overrides (reader *r, const char *name, GHashTable *table)
{
  JsonNode *node = member (r, name, JSON_NODE_OBJECT);
  g_autoptr (GList) members = NULL;
  if (node == NULL)
    return;
  members = json_object_get_members (json_node_get_object (node));
  for (GList *l = members; l != NULL && r->ok; l = l->next)
    {
      const char *value = json_object_get_string_member_with_default (json_node_get_object (node), l->data, "");
      if (strcmp (value, "trainable") == 0)
        g_hash_table_insert (table, g_strdup (l->data), GINT_TO_POINTER (1));
      else if (strcmp (value, "frozen") == 0)
        g_hash_table_insert (table, g_strdup (l->data), GINT_TO_POINTER (2));
      else
        r->ok = invalid (r->error, "%s.%s must be \"trainable\" or \"frozen\"", name, (const char *) l->data);
    }
}

static char *
member_as_json (reader *r, const char *name)
{
  JsonNode *node = member (r, name, JSON_NODE_OBJECT);
  return node != NULL ? json_to_string (node, FALSE) : NULL;
}

GraftSessionSpec *
graft_session_spec_from_json (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GraftSessionSpec) spec = NULL;
  GraftStrategy strategy = GRAFT_STRATEGY_CUSTOM;
  reader r, sub;
  JsonNode *node;
  int kind;
  g_autofree char *prep = NULL, *aug = NULL;

  if (!json_parser_load_from_data (parser, json, -1, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return invalid (error, "a training spec must be a JSON object"), NULL;
  r = (reader) { json_node_get_object (json_parser_get_root (parser)), "", error, TRUE };
  {
    const char *name = read_string (&r, "strategy");
    if (name != NULL && !graft_strategy_from_string (name, &strategy))
      return invalid (error, "unknown strategy '%s'", name), NULL;
  }
  spec = graft_session_spec_new (strategy, NULL);
  sub = sub_reader (&r, "model", "model.");
  spec->model_path = g_strdup (read_string (&sub, "path"));
  spec->model_sha256 = g_strdup (read_string (&sub, "sha256"));
  r.ok &= sub.ok;
  spec->cut = g_strdup (read_string (&r, "cut"));

  sub = sub_reader (&r, "head", "head.");
  if ((node = member (&sub, "hidden", JSON_NODE_ARRAY)) != NULL)
    {
      JsonArray *hidden = json_node_get_array (node);
      if (json_array_get_length (hidden) > GRAFT_HEAD_MAX_HIDDEN)
        return invalid (error, "the head can have at most %d hidden layers", GRAFT_HEAD_MAX_HIDDEN), NULL;
      spec->head.n_hidden = (int) json_array_get_length (hidden);
      for (int i = 0; i < spec->head.n_hidden; i++)
        spec->head.hidden[i] = (int) json_array_get_int_element (hidden, (guint) i);
    }
  {
    const char *activation = read_string (&sub, "activation");
    if (activation != NULL)
      {
        gboolean found = FALSE;
        for (gsize i = 0; i < G_N_ELEMENTS (activation_names); i++)
          if (strcmp (activation_names[i].name, activation) == 0)
            spec->head.activation = activation_names[i].kind, found = TRUE;
        if (!found)
          sub.ok = invalid (error, "head.activation: unknown value '%s'", activation);
      }
  }
  read_number (&sub, "dropout", &spec->head.dropout);
  read_bool (&sub, "batchnorm", &spec->head.batchnorm);
  r.ok &= sub.ok;

  if ((node = member (&r, "stages", JSON_NODE_ARRAY)) != NULL)
    {
      JsonArray *stages = json_node_get_array (node);
      guint n = json_array_get_length (stages);
      if (n < 1 || n > GRAFT_MAX_STAGES)
        return invalid (error, "a spec needs 1 to %d stages", GRAFT_MAX_STAGES), NULL;
      spec->n_stages = (int) n;
      for (guint s = 0; s < n && r.ok; s++)
        {
          JsonNode *stage = json_array_get_element (stages, s);
          reader sr = { JSON_NODE_HOLDS_OBJECT (stage) ? json_node_get_object (stage) : NULL, "stages[].", error, TRUE };
          if (sr.object == NULL)
            return invalid (error, "stage %u is not an object", s + 1), NULL;
          spec->stages[s] = (GraftUnfreezeStage) { 0 };
          read_int (&sr, "epoch", &spec->stages[s].epoch);
          read_int (&sr, "trainable_from", &spec->stages[s].trainable_from);
          read_number (&sr, "lr", &spec->stages[s].lr);
          r.ok &= sr.ok;
        }
    }
  read_overrides (&r, "block_overrides", spec->block_overrides);
  read_overrides (&r, "parameter_overrides", spec->parameter_overrides);
  read_number (&r, "discriminative_factor", &spec->discriminative_factor);
  read_number (&r, "backbone_lr_fraction", &spec->backbone_lr_fraction);
  kind = spec->batchnorm_policy;
  read_enum (&r, "batchnorm_policy", batchnorm_names, G_N_ELEMENTS (batchnorm_names), &kind);
  spec->batchnorm_policy = kind;
  if ((node = member (&r, "batchnorm_blocks", JSON_NODE_OBJECT)) != NULL)
    {
      reader br = { json_node_get_object (node), "batchnorm_blocks.", error, TRUE };
      g_autoptr (GList) members = json_object_get_members (br.object);
      for (GList *l = members; l != NULL && br.ok; l = l->next)
        {
          int policy = -1;
          read_enum (&br, l->data, batchnorm_names, G_N_ELEMENTS (batchnorm_names), &policy);
          if (br.ok && policy >= 0)
            g_hash_table_insert (spec->batchnorm_blocks, g_strdup (l->data), GINT_TO_POINTER (policy + 1));
        }
      r.ok &= br.ok;
    }
  if ((node = member (&r, "block_lr_factors", JSON_NODE_OBJECT)) != NULL)
    {
      reader fr = { json_node_get_object (node), "block_lr_factors.", error, TRUE };
      g_autoptr (GList) members = json_object_get_members (fr.object);
      for (GList *l = members; l != NULL && fr.ok; l = l->next)
        {
          float factor = NAN;
          read_number (&fr, l->data, &factor);
          if (fr.ok && !(factor > 0.0f && factor <= 100.0f))
            fr.ok = invalid (error, "block_lr_factors.%s must be above 0 and at most 100", (const char *) l->data);
          else if (fr.ok)
            graft_session_spec_set_block_lr_factor (spec, l->data, factor);
        }
      r.ok &= fr.ok;
    }

  sub = sub_reader (&r, "optimizer", "optimizer.");
  kind = spec->optimizer.kind;
  read_enum (&sub, "kind", optimizer_names, G_N_ELEMENTS (optimizer_names), &kind);
  if (kind != (int) spec->optimizer.kind)
    {
      float lr = spec->optimizer.learning_rate;
      spec->optimizer = graft_optimizer_config_default (kind);
      spec->optimizer.learning_rate = lr;
    }
  read_number (&sub, "lr", &spec->optimizer.learning_rate);
  read_number (&sub, "momentum", &spec->optimizer.momentum);
  {
    gboolean nesterov = spec->optimizer.nesterov;
    read_bool (&sub, "nesterov", &nesterov);
    spec->optimizer.nesterov = nesterov;
  }
  read_number (&sub, "beta1", &spec->optimizer.beta1);
  read_number (&sub, "beta2", &spec->optimizer.beta2);
  read_number (&sub, "epsilon", &spec->optimizer.epsilon);
  read_number (&sub, "weight_decay", &spec->optimizer.weight_decay);
  read_number (&sub, "max_grad_norm", &spec->optimizer.max_grad_norm);
  r.ok &= sub.ok;

  sub = sub_reader (&r, "schedule", "schedule.");
  kind = spec->schedule.kind;
  read_enum (&sub, "kind", schedule_names, G_N_ELEMENTS (schedule_names), &kind);
  spec->schedule.kind = kind;
  read_number (&sub, "warmup_epochs", &spec->schedule.warmup_epochs);
  read_int (&sub, "step_epochs", &spec->schedule.step_epochs);
  read_number (&sub, "gamma", &spec->schedule.gamma);
  read_number (&sub, "final_fraction", &spec->schedule.final_fraction);
  read_number (&sub, "pct_start", &spec->schedule.pct_start);
  read_number (&sub, "div_factor", &spec->schedule.div_factor);
  read_number (&sub, "final_div_factor", &spec->schedule.final_div_factor);
  read_bool (&sub, "restart_each_stage", &spec->schedule.restart_each_stage);
  r.ok &= sub.ok;

  read_int (&r, "epochs", &spec->epochs);
  read_int (&r, "batch_size", &spec->batch_size);
  prep = member_as_json (&r, "preprocessing");
  if (r.ok && prep != NULL && !graft_preprocessing_from_json (prep, &spec->preprocessing, error))
    return NULL;
  aug = member_as_json (&r, "augmentation");
  if (r.ok && aug != NULL && !graft_augmentation_from_json (aug, &spec->augmentation, error))
    return NULL;
  sub = sub_reader (&r, "augmentation", "augmentation.");
  read_int (&sub, "cached_views", &spec->cached_views);
  r.ok &= sub.ok;
  if ((node = member (&r, "seed", JSON_NODE_VALUE)) != NULL)
    spec->seed = (guint64) json_node_get_int (node);
  read_number (&r, "validation_fraction", &spec->validation_fraction);
  read_int (&r, "early_stopping_patience", &spec->early_stopping_patience);
  read_bool (&r, "balanced_class_weights", &spec->balanced_class_weights);
  read_number (&r, "label_smoothing", &spec->label_smoothing);
  kind = GRAFT_PLAN_PRECISION_FP32;   /* a spec from before the field: fp32 */
  read_enum (&r, "precision", precision_names, G_N_ELEMENTS (precision_names), &kind);
  spec->precision = (graft_plan_precision) kind;
  if (!r.ok)
    return NULL;
  return g_steal_pointer (&spec);
}
