/* spec.h: a training session, described completely by one serialisable spec.
 *
 * The spec is what a run is: it is stored (as JSON) with every run and in every
 * exported model's metadata, so a result can always be traced to how it was made
 * and made again. The four transfer-learning options are presets that fill a spec;
 * the person can then edit any field.
 *
 * Blocks are the model's blocks (model/model.h, GraftBlock), bottom (0) to top; the
 * new head is not a block of the backbone and always trains.
 */
#pragma once

#include <glib.h>

#include "data/augment.h"
#include "data/preprocess.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/plan.h"
#include "model/model.h"
#include "model/surgery.h"

G_BEGIN_DECLS

#define GRAFT_TRAIN_ERROR (graft_train_error_quark ())
GQuark graft_train_error_quark (void);

typedef enum {
  GRAFT_TRAIN_ERROR_INVALID,    /* a spec or an argument that makes no sense */
  GRAFT_TRAIN_ERROR_DATA,       /* not enough usable images, labels out of range */
  GRAFT_TRAIN_ERROR_DIVERGED,   /* the loss became NaN or infinite */
  GRAFT_TRAIN_ERROR_CANCELLED,
  GRAFT_TRAIN_ERROR_IO,
} GraftTrainError;

typedef enum {
  GRAFT_STRATEGY_FEATURE_EXTRACTION,
  GRAFT_STRATEGY_REPLACE_TOP,
  GRAFT_STRATEGY_FINE_TUNE,
  GRAFT_STRATEGY_PROGRESSIVE_ULMFIT,
  GRAFT_STRATEGY_PROGRESSIVE_FASTAI,
  GRAFT_STRATEGY_CUSTOM,
} GraftStrategy;

/* GraftHeadSpec, the new head, is model/surgery.h's. */

typedef enum {
  GRAFT_BATCHNORM_FROZEN_INFERENCE,      /* frozen blocks use running statistics (default) */
  GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS, /* frozen blocks normalise with the batch and update their statistics */
  GRAFT_BATCHNORM_RECALIBRATE,           /* running statistics recomputed on the training images first, then frozen */
} GraftBatchNormPolicy;

typedef enum {
  GRAFT_SCHEDULE_CONSTANT,
  GRAFT_SCHEDULE_STEP,                /* lr * gamma^(epoch / step_epochs) */
  GRAFT_SCHEDULE_COSINE,              /* cosine from lr down to lr * final_fraction */
  GRAFT_SCHEDULE_ONE_CYCLE,           /* cosine up from lr/div_factor to lr over pct_start, then down to lr/div_factor/final_div */
  GRAFT_SCHEDULE_SLANTED_TRIANGULAR,  /* ULMFiT: linear up over pct_start (cut_frac), then linear down, ratio 32 */
} GraftScheduleKind;

typedef struct {
  GraftScheduleKind kind;
  float warmup_epochs;       /* linear warm-up from 0 before the schedule, any kind */
  int step_epochs;           /* STEP */
  float gamma;               /* STEP */
  float final_fraction;      /* COSINE */
  float pct_start;           /* ONE_CYCLE, SLANTED_TRIANGULAR */
  float div_factor;          /* ONE_CYCLE (25), SLANTED_TRIANGULAR ratio (32) */
  float final_div_factor;    /* ONE_CYCLE (1e4) */
  gboolean restart_each_stage; /* the schedule runs over each unfreezing stage, not the whole run */
} GraftLrSchedule;

/* At epoch `epoch` (0-based) the blocks from `trainable_from` up train (with the
 * discriminative factor below them); blocks below stay frozen. trainable_from equal to
 * the number of blocks means the head only. */
typedef struct {
  int epoch;
  int trainable_from;
  float lr;                  /* 0: the spec's lr */
} GraftUnfreezeStage;

#define GRAFT_MAX_STAGES 64
#define GRAFT_MAX_CACHED_VIEWS 64

typedef struct {
  GraftStrategy strategy;
  char *model_path;          /* the ONNX file the run starts from */
  char *model_sha256;        /* its checksum, so a run is tied to the exact file */
  char *cut;                 /* value name the head is grafted on; NULL: the input of the model's classifier */
  GraftHeadSpec head;

  int n_stages;              /* at least one, stages[0].epoch == 0, epochs increasing */
  GraftUnfreezeStage stages[GRAFT_MAX_STAGES];
  GHashTable *block_overrides;     /* block name -> GINT_TO_POINTER (1 trainable, 2 frozen), over the stages */
  GHashTable *parameter_overrides; /* parameter name -> same, applied last */
  float discriminative_factor;     /* block b gets lr / factor^(blocks - b): each block down, one factor less (ULMFiT 2.6); 1 = none */
  float backbone_lr_fraction;      /* multiplies the lr of every backbone block (fine-tuning: 0.1); the head gets 1 */
  GraftBatchNormPolicy batchnorm_policy;  /* every block's, unless batchnorm_blocks names it */
  GHashTable *batchnorm_blocks;    /* block name -> GINT_TO_POINTER (policy + 1): the policy of that block */
  GHashTable *block_lr_factors;    /* block name -> float * (g_free): that block's lr multiplier, instead of the
                                    * one fraction and discriminative factor give */

  graft_optimizer_config optimizer; /* optimizer.learning_rate is the base lr */
  GraftLrSchedule schedule;
  int epochs;
  int batch_size;
  GraftPreprocessing preprocessing;
  GraftAugmentation augmentation;
  /* augmentation.cached_views in JSON: with augmentation on and frozen layers below the
   * trainable ones, the frozen layers' output is kept for this many augmented views of
   * each image (made in the first epochs, then one of them drawn per image and epoch
   * from the seed), so later epochs run only the trainable layers; 0: a fresh
   * augmentation every epoch, the frozen layers run every epoch. 0..GRAFT_MAX_CACHED_VIEWS.
   * Measured on the sample task (starter model, the fine-tune preset's augmentation
   * forced on, 10 epochs, seeds 1-6, best-epoch validation accuracy against fresh
   * augmentation): 4 views -1.4 points (sd 2.4), more than the 1-point budget, because the
   * epochs that repeat views lower the best epoch; 8 views -0.2 (sd 0.5), within it, and
   * 10 epochs took 1.3-1.6 s against 3.3-4.0 s fresh. The fine-tune preset keeps 8; the
   * progressive presets move the boundary every stage, where views are not reused. */
  int cached_views;
  guint64 seed;
  float validation_fraction;  /* of the labelled images, when the project has no split */
  int early_stopping_patience; /* epochs without validation improvement; 0: off */
  gboolean balanced_class_weights; /* weight classes by inverse frequency */
  float label_smoothing;
  /* "precision" in JSON: "fp32" (the default, and what a spec without the field means)
   * or "bf16": convolutions in bf16 mixed precision, the weights, their gradients and
   * the optimizer in f32 (engine/plan.h). bf16 needs a CPU with AVX512_BF16 or AMX and
   * the oneDNN backend; elsewhere training refuses it. */
  graft_plan_precision precision;
} GraftSessionSpec;

/* A preset for strategy on model (its blocks decide the stages and the spread, its
 * input size the augmentation). model may be NULL for a spec without a model yet
 * (stages then assume 1 block). */
GraftSessionSpec *graft_session_spec_new (GraftStrategy strategy, const GraftModel *model);
/* Inputs smaller than this many pixels a side train without augmentation by default. */
#define GRAFT_SMALL_INPUT 64
/* Turns a preset's augmentation off for small inputs (spec->preprocessing.size below
 * GRAFT_SMALL_INPUT): call it again after changing a preset's preprocessing. */
void graft_session_spec_adapt_augmentation (GraftSessionSpec *spec);
/* How many blocks at the top of the backbone Replace Top Layers removes: the blocks of
 * the last stage (the trailing blocks at the backbone's smallest spatial size, as
 * ResNet's layer4 or MobileNetV2's 7×7 inverted-residual blocks), at least one, at most
 * half of the backbone; 0 when model has no blocks to spare or when what is left ends
 * in tokens (a ViT's encoder layers) or in channels-last maps (Swin's stages): no head
 * can be grafted there. */
int graft_session_spec_replace_top_removed_blocks (const GraftModel *model);
/* The blocks of model below its classifier: the blocks a head grafted at the default
 * cut sits on (presets count with it). */
int graft_session_spec_backbone_blocks (const GraftModel *model);
GraftSessionSpec *graft_session_spec_copy (const GraftSessionSpec *spec);
void graft_session_spec_free (GraftSessionSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftSessionSpec, graft_session_spec_free)

gboolean graft_session_spec_validate (const GraftSessionSpec *spec, int n_blocks, GError **error);

char *graft_session_spec_to_json (const GraftSessionSpec *spec);
GraftSessionSpec *graft_session_spec_from_json (const char *json, GError **error);

const char *graft_strategy_to_string (GraftStrategy strategy);  /* "feature-extraction", ... */
const char *graft_strategy_get_title (GraftStrategy strategy);  /* "Feature Extraction", translated */
gboolean graft_strategy_from_string (const char *name, GraftStrategy *strategy);

/* The stage in force at epoch. */
const GraftUnfreezeStage *graft_session_spec_stage_at (const GraftSessionSpec *spec, int epoch);
/* Whether block (0 = bottom) trains at epoch, after overrides; name is the block's name. */
gboolean graft_session_spec_block_trains (const GraftSessionSpec *spec, int epoch, int block,
                                          const char *name, int n_blocks);
/* The lr multiplier of block at epoch: factor^-(distance below the top trainable block). */
float graft_session_spec_block_lr_multiplier (const GraftSessionSpec *spec, int epoch, int block, int n_blocks);
/* The same, unless block_lr_factors sets the block's (name; may be NULL). */
float graft_session_spec_block_lr_factor (const GraftSessionSpec *spec, int epoch, int block, const char *name,
                                          int n_blocks);
/* Sets (factor > 0) or clears (factor <= 0) the block's own lr multiplier. */
void graft_session_spec_set_block_lr_factor (GraftSessionSpec *spec, const char *name, float factor);

/* The BatchNorm policy of the block called name (NULL: the spec's). */
GraftBatchNormPolicy graft_session_spec_block_batchnorm (const GraftSessionSpec *spec, const char *name);
/* Sets the block's policy; the spec's own policy clears the block's entry. */
void graft_session_spec_set_block_batchnorm (GraftSessionSpec *spec, const char *name, GraftBatchNormPolicy policy);
/* Whether any block (or the spec's policy) uses policy. */
gboolean graft_session_spec_uses_batchnorm (const GraftSessionSpec *spec, GraftBatchNormPolicy policy);
const char *graft_batchnorm_policy_to_string (GraftBatchNormPolicy policy); /* "inference", ... */
const char *graft_precision_to_string (graft_plan_precision precision);  /* "fp32", "bf16" */
gboolean graft_precision_from_string (const char *name, graft_plan_precision *precision);

/* The learning rate at a point of the run: epoch (0-based), step within the epoch,
 * steps per epoch. Applies the stage's lr, warm-up and schedule. */
float graft_session_spec_lr_at (const GraftSessionSpec *spec, int epoch, int step, int steps_per_epoch);

G_END_DECLS
