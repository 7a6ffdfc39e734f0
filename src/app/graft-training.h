/* graft-training.h: a training run seen from the app.
 *
 * graft_training_start runs the trainer (src/train/trainer.h) in a worker thread. The
 * trainer's hooks, on that thread, append events to a locked buffer and schedule at
 * most one idle callback; the callback drains the buffer on the main thread into the
 * series and properties below, which plots and progress bars follow. The main loop
 * never waits on the worker: stop only asks, and ::finished comes when the worker is
 * done. ::epoch-finished and ::finished are emitted once every point before them is
 * in the series (the LR sweep's curve included).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "graft-series.h"
#include "model/model.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/spec.h"
#include "train/trainer.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_TRAINING_IDLE,
  GRAFT_TRAINING_RUNNING,
  GRAFT_TRAINING_PAUSED,
  GRAFT_TRAINING_FINISHED,   /* ran to the end, or stopped by the person (weights kept) */
  GRAFT_TRAINING_FAILED,
} GraftTrainingState;

#define GRAFT_TYPE_TRAINING (graft_training_get_type ())
G_DECLARE_FINAL_TYPE (GraftTraining, graft_training, GRAFT, TRAINING, GObject)

GraftTraining *graft_training_new (void);

/* The engine's thread count for the app (the "threads" setting; 0 = one per core).
 * OpenMP keeps its count per calling thread, so every app thread that runs the engine
 * (a run, an evaluation, a prediction) calls graft_training_apply_threads first; a run
 * started here does so itself. set also applies it to the calling thread and to
 * OpenBLAS. Until set is called, apply leaves the engine's count alone. Any thread. */
void graft_training_set_threads (int threads);
int graft_training_get_threads (void);   /* -1 before set */
void graft_training_apply_threads (void);

/* Starts a run (or, with lr_finder, a learning-rate sweep) on copies of its inputs.
 * Fails (FALSE with error) only when the run cannot start; later failures arrive as
 * state FAILED with the error in ::finished. */
gboolean graft_training_start (GraftTraining *self, const GraftModel *model, const GraftSessionSpec *spec,
                               const GraftDataset *train, const GraftDataset *validation,
                               const char *cache_folder, gboolean lr_finder, GError **error);
/* The next start continues the run checkpointed there (trainer.h); a checkpoint that does
 * not fit makes the start fail, naming it. */
void graft_training_set_resume_from (GraftTraining *self, const char *checkpoint);
/* Where the run being started writes its checkpoints: call from a "notify::state"
 * handler of the start (the worker begins after it). */
void graft_training_set_checkpoint_file (GraftTraining *self, const char *path);
void graft_training_pause (GraftTraining *self);
void graft_training_resume (GraftTraining *self);
void graft_training_stop (GraftTraining *self);

GraftTrainingState graft_training_get_state (GraftTraining *self);
gboolean graft_training_is_busy (GraftTraining *self);   /* running or paused */
double graft_training_get_fraction (GraftTraining *self);
int graft_training_get_epoch (GraftTraining *self);      /* 1-based, 0 before the first */
int graft_training_get_epochs (GraftTraining *self);
int graft_training_get_stage (GraftTraining *self);      /* 1-based */
double graft_training_get_images_per_second (GraftTraining *self);
double graft_training_get_eta_seconds (GraftTraining *self);
const char *graft_training_get_message (GraftTraining *self);  /* the last log line */
float graft_training_get_lr_suggestion (GraftTraining *self);  /* after an LR sweep; 0 otherwise */

/* Series: "train-loss" (per step, x in epochs), "train-loss-epoch", "validation-loss",
 * "train-accuracy", "validation-accuracy" (per epoch), "lr" (per step), and
 * "lr-finder" (x = learning rate, y = smoothed loss). NULL for an unknown name. */
GraftSeries *graft_training_get_series (GraftTraining *self, const char *name);

/* After a finished run: the trained model (owned by self, valid until the next start)
 * and its validation metrics (NULL without validation images). */
GraftModel *graft_training_get_model (GraftTraining *self);
/* The same model as ONNX (a new reference), serialised by the worker at the end of the
 * run, so that keeping a copy costs the main thread nothing; NULL before a run ends. */
GBytes *graft_training_get_model_bytes (GraftTraining *self);
/* Whether the run going on (or the last one) is a learning-rate sweep. */
gboolean graft_training_is_lr_finder (GraftTraining *self);
/* Whether the last run ended because graft_training_stop was called. */
gboolean graft_training_was_stopped (GraftTraining *self);
const GraftMetrics *graft_training_get_validation_metrics (GraftTraining *self);
/* After a run: whether its frozen layers ran once per image (the boundary cache, under
 * the "cache-size-mb" setting) and how many images came from it; the strings are valid
 * until the next start. FALSE while a run goes on or before the first. */
gboolean graft_training_get_boundary_cache_report (GraftTraining *self, GraftBoundaryCacheReport *report);

G_END_DECLS
