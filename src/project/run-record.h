/* run-record.h: what a training run leaves, stored in its project the same way
 * whoever ran it: the app (GraftProjectObject records the runs of its GraftTraining)
 * and graft-cli train DIR.
 *
 * A run is a row of the runs table (graft_project_add_run with the session spec, then
 * RUNNING) and, when it ends:
 *   - its trained model as <folder>/runs/<id>.onnx (graft_project_save_run_model);
 *   - its curves as metric series named as the app's GraftTraining names them
 *     ("train-loss" per step, "train-loss-epoch", "train-accuracy", "validation-loss",
 *     "validation-accuracy" per epoch, "lr" per step), each point's step being its
 *     x (epochs, fractional for steps) times GRAFT_RUN_STEPS_PER_EPOCH;
 *   - its metrics record (JSON): classes (the model's output order), epochs,
 *     epochs_done, seconds (of every part of a resumed run), parts, and with validation images accuracy, count, loss_sum,
 *     confusion (row = true class, column = predicted) and validation (the images as
 *     [path, label], so that opening the run evaluates it on the same ones);
 *   - its status (finished, stopped or failed).
 * Then the model's predictions of the project's images (active.h,
 * graft_active_project_predict) give the suggestions and the active-learning queue.
 */
#pragma once

#include <glib.h>

#include "model/model.h"
#include "project/project.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/trainer.h"

G_BEGIN_DECLS

#define GRAFT_RUN_STEPS_PER_EPOCH 1000000

/* The series names, as GraftTraining names its series. */
extern const char *const graft_run_series_names[];
extern const guint graft_run_n_series;

/* The curves of a run, collected from the trainer's hooks (the same x values as
 * GraftTraining's series: a step at epoch + (step + 1) / steps, an epoch at epoch + 1). */
typedef struct _GraftRunCurves GraftRunCurves;

GraftRunCurves *graft_run_curves_new (void);
void graft_run_curves_free (GraftRunCurves *curves);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunCurves, graft_run_curves_free)
void graft_run_curves_add_step (GraftRunCurves *curves, const GraftStepEvent *event);
void graft_run_curves_add_epoch (GraftRunCurves *curves, const GraftEpochEvent *event);
/* Appends a point (x in epochs) of the series called name (one of graft_run_series_names). */
void graft_run_curves_add (GraftRunCurves *curves, const char *name, double x, double y);
/* The points so far (GraftMetricPoint, names static), owned by curves. */
GArray *graft_run_curves_get_points (GraftRunCurves *curves);
/* Epochs reported so far. */
int graft_run_curves_get_epochs_done (GraftRunCurves *curves);

typedef struct {
  GraftRunStatus status;            /* FINISHED, STOPPED or FAILED */
  GPtrArray *classes;               /* char *: the model's outputs, in order; nullable */
  int epochs;                       /* planned */
  int epochs_done;
  double seconds;
  const GraftMetrics *validation_metrics;  /* of the weights kept; nullable */
  const GraftDataset *validation;   /* nullable */
  GBytes *model;                    /* the trained model (ONNX); NULL: none (a failed run) */
  const GraftMetricPoint *points;   /* the curves */
  guint n_points;
  /* This part of the run (graft_project_begin_run_part), 0: none. graft_project_store_run
   * sets its time to seconds, and the record's seconds are then the sum of every part's
   * (a resumed run's time to its checkpoint in each earlier part, and this part's), with
   * the parts listed as "parts": [{from_epoch, epochs_done, seconds}]. */
  gint64 part;
  const GArray *parts;              /* GraftRunPart, for graft_run_metrics_to_json; nullable */
} GraftRunRecord;

/* The metrics record (see the top), newly allocated. */
char *graft_run_metrics_to_json (const GraftRunRecord *record);

/* Stores what a run left (model, metrics, curves, then the status), in that order, so
 * that a run marked finished has all of it. On an error the run is kept as failed.
 * Any thread. */
gboolean graft_project_store_run (GraftProject *project, gint64 run_id, const GraftRunRecord *record,
                                  GError **error);

/* The classes (char *) a stored run's model gives, from its metrics record; NULL when
 * the record has none. */
GPtrArray *graft_run_get_classes (const GraftRun *run);

/* The images a stored run was validated on, with its classes, from its metrics record
 * (the "validation" member); NULL when it has none. */
GraftDataset *graft_run_get_validation (const GraftRun *run);

/* Puts into model's metadata what a run's record knows and the model file lacks
 * (graft.labels from the record's classes, graft.preprocessing and graft.recipe from
 * its spec, graft.validation_accuracy), with train/export.h's one writer.
 * FALSE with error when the record's classes do not match the model's outputs. */
gboolean graft_run_describe_model (const GraftRun *run, GraftModel *model, GError **error);

/* Checkpoints: a run trained in a project writes its checkpoint (trainer.h, one file,
 * whole or absent) as <folder>/runs/<id>.checkpoint after every epoch. A run stopped,
 * closed or killed before its last epoch can be resumed from it, in the same run record;
 * a finished run's checkpoint is removed, and so is a deleted run's. */
char *graft_run_checkpoint_file (GraftProject *project, gint64 run_id);
/* Whether the run can be resumed: not finished, and its checkpoint is whole (epochs_done,
 * epochs, nullable, say where it is; a run killed after its last epoch but before it was
 * stored resumes to be stored). FALSE with error naming the file and what is wrong otherwise. */
gboolean graft_run_is_resumable (GraftProject *project, const GraftRun *run, int *epochs_done, int *epochs,
                                 GError **error);
/* The newest run that can be resumed and did not fail, 0 when none. */
gint64 graft_run_find_resumable (GraftProject *project, GError **error);
/* Removes the run's points past step (those of the epoch a checkpoint did not reach),
 * so that a resumed run's curves continue from its checkpoint. */
gboolean graft_project_trim_metrics (GraftProject *project, gint64 run_id, gint64 after_step, GError **error);
/* A resumed run's curves count the epochs its checkpoint had done. */
void graft_run_curves_set_epochs_done (GraftRunCurves *curves, int epochs_done);

/* Records in the project's export history (project.h) that the run's model was exported
 * to path in format ("onnx"), with the SHA-256 of the file as it now is; path is kept
 * absolute. Callers: graft-cli export PROJECT --run N and the Results page's Export,
 * after the file is written. FALSE with error naming the file when it cannot be read. */
gboolean graft_run_record_export (GraftProject *project, gint64 run_id, const char *path, const char *format,
                                  GError **error);

/* Who trains a run: a process that trains or resumes a run holds its lock (run-lock.c:
 * an exclusive flock on <folder>/runs/<id>.lock, let go by the kernel when the process
 * dies, kill -9 included) from before it reads the run's checkpoint until the run is
 * stored. Another process (graft-cli train --resume, the app's Resume, or another
 * window) is refused with GRAFT_PROJECT_ERROR_BUSY naming the run, the project and the
 * holder's pid, and leaves the run alone. */
typedef struct _GraftRunLock GraftRunLock;
GraftRunLock *graft_run_lock (GraftProject *project, gint64 run_id, GError **error);
void graft_run_lock_release (GraftRunLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunLock, graft_run_lock_release)

G_END_DECLS
