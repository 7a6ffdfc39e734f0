/* trainer.h: the transfer-learning loop.
 *
 * A trainer takes a pretrained model, a session spec and labelled images, grafts the
 * head, and trains: stage by stage (progressive unfreezing re-plans the graph when the
 * trainable set changes), with per-block learning rates, the spec's schedule and
 * BatchNorm policy, and validation after every epoch. When the backbone stays frozen
 * and augmentation is off, it takes the fast path: the embeddings at the cut are
 * computed once per image (and kept in the embedding cache across runs), and only the
 * head trains, from memory.
 *
 * graft_trainer_run blocks; the app runs it in a worker thread. Hooks are called on
 * that thread. pause, resume and stop may be called from any thread.
 */
#pragma once

#include <glib.h>

#include "model/model.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/spec.h"

G_BEGIN_DECLS

typedef struct {
  int epoch, epochs;          /* 0-based epoch */
  int step, steps;            /* 0-based step within the epoch, steps per epoch */
  int stage;
  float loss;                 /* this batch's mean loss */
  float lr;                   /* the head's learning rate at this step */
  double images_per_second;   /* over the epoch so far */
  double eta_seconds;         /* for the whole run */
} GraftStepEvent;

typedef struct {
  int epoch, epochs;
  int stage;
  double train_loss, train_accuracy;
  double validation_loss, validation_accuracy; /* NAN without validation images */
  const GraftMetrics *validation;              /* confusion matrix, per class; NULL without */
  double seconds;                              /* this epoch's wall time */
  double images_per_second;
  gboolean best;                               /* the best validation so far */
} GraftEpochEvent;

typedef struct {
  void (*on_step) (const GraftStepEvent *event, gpointer user_data);
  void (*on_epoch) (const GraftEpochEvent *event, gpointer user_data);
  void (*on_stage) (int stage, int epoch, int trainable_from, gpointer user_data);
  void (*on_log) (const char *message, gpointer user_data);
  gboolean (*should_stop) (gpointer user_data);  /* polled every batch */
  gpointer user_data;
} GraftTrainerHooks;

typedef struct _GraftTrainer GraftTrainer;

/* base is copied from: the trainer grafts the head on its own copy. validation may be
 * NULL (then best == last). Classes are the train dataset's. */
GraftTrainer *graft_trainer_new (const GraftModel *base, const GraftSessionSpec *spec, const GraftDataset *train,
                                 const GraftDataset *validation, GError **error);
void graft_trainer_free (GraftTrainer *trainer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftTrainer, graft_trainer_free)

void graft_trainer_set_hooks (GraftTrainer *trainer, const GraftTrainerHooks *hooks);
/* Where embeddings are cached between runs; NULL (the default) keeps them in memory only. */
void graft_trainer_set_cache_folder (GraftTrainer *trainer, const char *folder);
/* The most bytes the boundary cache (the activations where the frozen layers meet the
 * trainable ones, kept for every image) may take, in memory and in the cache folder
 * (default GRAFT_TRAINER_DEFAULT_CACHE_LIMIT; G_MAXUINT64: no limit; 0: never cache).
 * A run whose activations would take more runs the frozen layers every epoch, and the
 * log says why. */
#define GRAFT_TRAINER_DEFAULT_CACHE_LIMIT (G_GUINT64_CONSTANT (2048) << 20)
void graft_trainer_set_cache_limit (GraftTrainer *trainer, guint64 bytes);
/* Image decoding threads beside the engine (default 2). */
void graft_trainer_set_decode_threads (GraftTrainer *trainer, int threads);

gboolean graft_trainer_run (GraftTrainer *trainer, GError **error);

/* Checkpoints: after every epoch the run goes into one file, path: its weights, the best
 * weights so far, the optimizer's state and where the run is, with the SHA-256 of all of
 * it. The file is written whole under a temporary name, synced and renamed over the
 * previous one, so a kill at any moment leaves the previous checkpoint or the new one,
 * never a mix. */
void graft_trainer_set_checkpoint_file (GraftTrainer *trainer, const char *path);
/* The same as folder/GRAFT_CHECKPOINT_FILE_NAME. */
#define GRAFT_CHECKPOINT_FILE_NAME "checkpoint.graft"
void graft_trainer_set_checkpoint_folder (GraftTrainer *trainer, const char *folder);
/* Picks up the run checkpointed in the file at path (made with the same spec and data):
 * the next graft_trainer_run starts after the last checkpointed epoch, with its weights,
 * optimizer state and best weights, and ends with the same bits as an uninterrupted
 * run. A file that is cut short, damaged, not a checkpoint or made for other settings or
 * images is refused (GRAFT_TRAIN_ERROR_INVALID, naming the file and what is wrong). */
gboolean graft_trainer_resume_from_file (GraftTrainer *trainer, const char *path, GError **error);
/* The same from folder/GRAFT_CHECKPOINT_FILE_NAME. */
gboolean graft_trainer_resume_from (GraftTrainer *trainer, const char *folder, GError **error);
/* Verifies the checkpoint at path and says how many epochs it has done of how many. */
gboolean graft_checkpoint_get_epochs (const char *path, int *epochs_done, int *epochs, GError **error);

void graft_trainer_pause (GraftTrainer *trainer);
void graft_trainer_resume (GraftTrainer *trainer);
void graft_trainer_stop (GraftTrainer *trainer);

/* The boundary cache: when the lowest trainable layer sits above frozen ones, the
 * frozen layers' output is computed once per image (per cached view with augmentation,
 * spec->cached_views) and kept (on disk under the cache folder, keyed like the embedding
 * cache; in memory without one), and the epochs that have it run only the trainable
 * layers. What the last run did: */
typedef struct {
  gboolean used;            /* at least one stage trained from the boundary */
  const char *boundary;     /* the value at the boundary (the last stage's), or NULL */
  const char *reason;       /* why the frozen layers ran every epoch, or NULL */
  guint64 images_found;     /* image views found in the cache when a stage began */
  guint64 images_computed;  /* image views whose frozen layers ran in this run */
  guint64 hits;             /* images trained or validated from the cache, every epoch counted */
  guint64 bytes;            /* what the rows take (the last stage's) */
} GraftBoundaryCacheReport;
/* Owned by the trainer, valid until the next run. */
void graft_trainer_get_boundary_cache_report (GraftTrainer *trainer, GraftBoundaryCacheReport *report);

/* Whether run takes the cached-embedding path. */
gboolean graft_trainer_uses_embedding_cache (GraftTrainer *trainer);
/* The model being trained: after run, with the best epoch's weights (the last epoch's
 * without validation). Owned by the trainer. */
GraftModel *graft_trainer_get_model (GraftTrainer *trainer);
/* Validation metrics of the weights get_model has (NULL without validation). */
const GraftMetrics *graft_trainer_get_validation_metrics (GraftTrainer *trainer);
/* Fraction of training step time spent waiting for decoded images. */
double graft_trainer_get_wait_fraction (GraftTrainer *trainer);

/* The learning-rate finder: an exponential sweep from start to end over at most steps
 * batches, stopped when the loss diverges (4x its best); weights are restored after.
 * Returns the learning rates and smoothed losses tried, and a suggestion: a tenth of
 * the rate with the lowest smoothed loss (fastai's "minimum / 10"). The on_step hook
 * hears each step tried (epoch 0 of 1, step of steps, its loss and rate). */
gboolean graft_trainer_find_lr (GraftTrainer *trainer, float start, float end, int steps, GArray **lrs,
                                GArray **losses, float *suggestion, GError **error);

/* Fills the model's metadata for export: labels, preprocessing, the recipe (the spec)
 * and the validation figures. */
void graft_trainer_describe_model (GraftTrainer *trainer);

/* Runs model over a dataset's labelled items: metrics, and when probabilities is not
 * NULL, the softmax of every item's logits ((n_items, classes), unlabelled included,
 * items that failed to decode left at NAN). */
GraftMetrics *graft_evaluate (GraftModel *model, const GraftDataset *dataset, const GraftPreprocessing *prep,
                              int batch_size, int decode_threads, float **probabilities, GError **error);

G_END_DECLS
