/* project.h: the project store. A project is a folder:
 *
 *   <folder>/project.db     SQLite (WAL journal, foreign keys on, synchronous=FULL, busy
 *                           timeout 5 s): classes, images, labels, splits, runs, metric
 *                           series, predictions and the undo history
 *   <folder>/cache/         thumbnails (thumbnails.h), embeddings: anything that can be
 *                           computed again
 *   <folder>/images/        images copied into the project (import.h, GRAFT_IMPORT_COPY),
 *                           named by their content hash
 *
 * Nothing is ever lost:
 * - Every user action (a label, a class change, an import, a removal) is one SQLite
 *   transaction and one undo step. A call that returned TRUE has committed: its
 *   change survives the process being killed right after (synchronous=FULL also makes it
 *   survive a power cut; see graft_project_set_power_safe). A call that failed changed
 *   nothing. WAL checkpoints run in a thread of their own, not inside a label's commit.
 * - The undo history lives in the database (tables actions, undo_labels, undo_classes,
 *   undo_images): it survives closing the project; the newest 1000 actions are kept.
 *   A new action clears what could be redone.
 * - A full disk or a read-only folder gives GRAFT_PROJECT_ERROR_DISK_FULL or
 *   _READ_ONLY, naming project.db, and the project stays as it was.
 *
 * The schema has a version (PRAGMA user_version) and migrations from every older
 * version. A database from a newer Graft is opened read-only (graft_project_is_read_only,
 * graft_project_read_only_reason say so); every change then fails with
 * GRAFT_PROJECT_ERROR_READ_ONLY. A file that is not a Graft project (PRAGMA
 * application_id) or is corrupt (PRAGMA quick_check at open) is an error naming it.
 *
 * Images are referenced where they are (the stored path is relative to the project
 * folder when inside it, absolute otherwise) or copied in. Each has a content hash
 * (SHA-256): a moved file is found again by graft_project_relink, duplicates are seen by
 * graft_project_duplicate_groups. An import by folder scan stores size and mtime only and
 * leaves the hash to a later pass (graft_project_hash_pending, or a background thread:
 * graft_project_start_hashing) so that 100,000 files import in seconds.
 *
 * Threads: a GraftProject may be used from several threads; each call takes the
 * project's lock. Identifiers are SQLite rowids (> 0); 0 means none. Times are
 * microseconds since the Unix epoch (g_get_real_time).
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "train/dataset.h"

G_BEGIN_DECLS

#define GRAFT_PROJECT_ERROR (graft_project_error_quark ())

typedef enum {
  GRAFT_PROJECT_ERROR_NOT_FOUND,       /* no project in the folder; no such image, class or run */
  GRAFT_PROJECT_ERROR_NOT_A_PROJECT,   /* a file that is not a Graft project database */
  GRAFT_PROJECT_ERROR_CORRUPT,         /* a Graft project whose database is damaged */
  GRAFT_PROJECT_ERROR_READ_ONLY,       /* a change to a project opened read-only */
  GRAFT_PROJECT_ERROR_DISK_FULL,       /* the change did not fit: nothing was changed */
  GRAFT_PROJECT_ERROR_IO,              /* a file could not be read or written */
  GRAFT_PROJECT_ERROR_BUSY,            /* another program held the database too long */
  GRAFT_PROJECT_ERROR_EXISTS,          /* a project in that folder; a class of that name */
  GRAFT_PROJECT_ERROR_INVALID,         /* bad arguments: empty name, bad colour, merge into itself */
  GRAFT_PROJECT_ERROR_NOTHING_TO_UNDO, /* undo (or redo) with an empty stack */
  GRAFT_PROJECT_ERROR_FAILED,          /* anything else SQLite reports */
} GraftProjectError;

GQuark graft_project_error_quark (void);

#define GRAFT_PROJECT_SCHEMA_VERSION 3
#define GRAFT_PROJECT_DB_NAME "project.db"
#define GRAFT_PROJECT_UNDO_DEPTH 1000

typedef struct _GraftProject GraftProject;

typedef enum {
  GRAFT_SPLIT_NONE = 0,        /* not assigned (unlabelled, or labelled since the last assignment) */
  GRAFT_SPLIT_TRAIN = 1,
  GRAFT_SPLIT_VALIDATION = 2,
  GRAFT_SPLIT_TEST = 3,
} GraftSplit;

const char *graft_split_name (GraftSplit split);   /* "train", "validation", "test", "none" */

typedef enum {
  GRAFT_LABEL_NONE = 0,
  GRAFT_LABEL_PERSON = 1,      /* set by a person */
  GRAFT_LABEL_SUGGESTION = 2,  /* a model's suggestion that a person accepted */
  GRAFT_LABEL_IMPORTED = 3,    /* from an ImageFolder tree, a CSV or a Teachable Machine export */
} GraftLabelSource;

/* ---- Opening ---------------------------------------------------------------------- */

/* Creates the folder (and parents) if needed, then project.db and cache/. A folder that
 * already holds a project.db is GRAFT_PROJECT_ERROR_EXISTS. */
GraftProject *graft_project_create (const char *folder, const char *name, GError **error);
/* folder: the project folder, or the path of its project.db. Migrates an older schema
 * (in one transaction; a failed migration leaves the file as it was). */
GraftProject *graft_project_open (const char *folder, GError **error);
/* Whether folder holds a project (its project.db), without opening it. */
gboolean graft_project_folder_has_project (const char *folder);
/* Stops the background hashing, checkpoints the WAL and closes. NULL is ignored. */
void graft_project_close (GraftProject *project);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftProject, graft_project_close)

const char *graft_project_get_folder (GraftProject *project);
const char *graft_project_get_db_path (GraftProject *project);
/* <folder>/cache, created if missing (when writable). */
const char *graft_project_get_cache_folder (GraftProject *project);
/* Newly allocated. */
char *graft_project_get_name (GraftProject *project);
gboolean graft_project_set_name (GraftProject *project, const char *name, GError **error);

gboolean graft_project_is_read_only (GraftProject *project);
/* Why it is read-only ("written by a newer Graft (schema 3; this one reads up to 2)",
 * "the folder is read-only"), or NULL. */
const char *graft_project_read_only_reason (GraftProject *project);
/* The schema version of the file as opened (after migration). */
int graft_project_schema_version (GraftProject *project);
/* TRUE (the default): a change that returned survives a power cut (synchronous=FULL:
 * one fsync of the WAL per change). FALSE: it survives the process being killed, but
 * the last changes before a power cut may be lost (the database stays consistent:
 * synchronous=NORMAL); for disks where an fsync takes many milliseconds. */
gboolean graft_project_set_power_safe (GraftProject *project, gboolean power_safe, GError **error);

/* PRAGMA integrity_check: TRUE when "ok"; otherwise GRAFT_PROJECT_ERROR_CORRUPT with
 * SQLite's first complaints. */
gboolean graft_project_check_integrity (GraftProject *project, GError **error);

/* ---- Classes ---------------------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *name;
  char *colour;       /* "#rrggbb" */
  int position;       /* 0-based order */
  guint count;        /* labelled images */
} GraftClass;

void graft_class_clear (GraftClass *klass);

/* colour: "#rrggbb", or NULL for the next colour of a palette. Returns the id, 0 on
 * error (GRAFT_PROJECT_ERROR_EXISTS for a name in use, _INVALID for an empty one). */
gint64 graft_project_add_class (GraftProject *project, const char *name, const char *colour, GError **error);
gboolean graft_project_rename_class (GraftProject *project, gint64 class_id, const char *name, GError **error);
gboolean graft_project_recolour_class (GraftProject *project, gint64 class_id, const char *colour, GError **error);
/* Moves the class to position (clamped), shifting the others. */
gboolean graft_project_move_class (GraftProject *project, gint64 class_id, int position, GError **error);
/* Moves every label of source to target and deletes source. moved (nullable): how many. */
gboolean graft_project_merge_classes (GraftProject *project, gint64 source_id, gint64 target_id,
                                      guint *moved, GError **error);
/* Deletes the class and its labels (the images stay, unlabelled). labels_removed
 * (nullable): how many labels went. Undo brings class and labels back. Predictions of
 * the class are dropped (they are recomputed by the next run). */
gboolean graft_project_delete_class (GraftProject *project, gint64 class_id, guint *labels_removed, GError **error);
/* The live classes in order, with their counts. GArray of GraftClass (clear func set). */
GArray *graft_project_list_classes (GraftProject *project, GError **error);
/* The id of the live class called name, or 0. */
gint64 graft_project_find_class (GraftProject *project, const char *name);
/* Labels of a class: what delete would remove ("delete 'cat' and its 312 labels?"). */
guint graft_project_count_labels (GraftProject *project, gint64 class_id, GError **error);

/* ---- Labels ----------------------------------------------------------------------- */

gboolean graft_project_set_label (GraftProject *project, gint64 image_id, gint64 class_id,
                                  GraftLabelSource source, GError **error);
gboolean graft_project_clear_label (GraftProject *project, gint64 image_id, GError **error);
/* Labels many images at once (one transaction, one undo step); class_id 0 clears. */
gboolean graft_project_set_labels (GraftProject *project, const gint64 *image_ids, guint n_images,
                                   gint64 class_id, GraftLabelSource source, GError **error);
/* Labels each image with its predicted class (source GRAFT_LABEL_SUGGESTION); images
 * without a prediction are left alone. accepted (nullable): how many were labelled. */
gboolean graft_project_accept_suggestions (GraftProject *project, const gint64 *image_ids, guint n_images,
                                           guint *accepted, GError **error);

/* ---- Undo and redo ---------------------------------------------------------------- */

gboolean graft_project_can_undo (GraftProject *project);
gboolean graft_project_can_redo (GraftProject *project);
/* "Label 3 images as “cat”", for the menu; newly allocated, NULL when nothing. */
char *graft_project_undo_description (GraftProject *project);
char *graft_project_redo_description (GraftProject *project);
/* One transaction each. GRAFT_PROJECT_ERROR_NOTHING_TO_UNDO on an empty stack. */
gboolean graft_project_undo (GraftProject *project, GError **error);
gboolean graft_project_redo (GraftProject *project, GError **error);

/* ---- Images ----------------------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *path;                /* absolute */
  char *hash;                /* SHA-256 in hex; NULL until hashed */
  gint64 size;               /* bytes */
  gint64 mtime;              /* µs, as seen when added */
  gint64 added;
  gint64 class_id;           /* 0: unlabelled */
  GraftLabelSource source;
  gint64 label_time;
  GraftSplit split;
  gint64 suggestion;         /* predicted class, 0: none */
  float confidence;          /* of the suggestion */
  gboolean missing;          /* the file was not found by the last hashing pass */
} GraftImageInfo;

void graft_image_info_clear (GraftImageInfo *info);

/* Adds one image where it is (no copy), after checking it is a PNG or JPEG by its first
 * bytes; hashes it now. Returns the id (the existing id when the path is already in the
 * project), 0 on error. For many files and copies, see import.h. */
gint64 graft_project_add_image (GraftProject *project, const char *path, GError **error);
/* Removes images (their labels and predictions go with them; the files stay on disk).
 * One undo step: undo brings the images and their labels back. */
gboolean graft_project_remove_images (GraftProject *project, const gint64 *image_ids, guint n_images,
                                      GError **error);
gboolean graft_project_get_image (GraftProject *project, gint64 image_id, GraftImageInfo *info, GError **error);
/* The id of the image with this path (absolute, or relative to the project), or 0. */
gint64 graft_project_find_image (GraftProject *project, const char *path);

/* What the grid shows. Pages are rowid ranges: ids > after_id in increasing order. */
typedef enum {
  GRAFT_FILTER_ALL,
  GRAFT_FILTER_CLASS,        /* labelled as class_id */
  GRAFT_FILTER_LABELLED,
  GRAFT_FILTER_UNLABELLED,
  GRAFT_FILTER_SUGGESTED,    /* unlabelled with a prediction (of class_id, or any when 0) */
  GRAFT_FILTER_SPLIT,        /* labelled and in split */
} GraftImageFilter;

typedef struct {
  GraftImageFilter filter;
  gint64 class_id;
  GraftSplit split;
} GraftImageQuery;

/* At most limit images after after_id (0: from the start), in id order. GArray of
 * GraftImageInfo (clear func set). Indexed: the cost does not grow with the depth. */
GArray *graft_project_query_images (GraftProject *project, const GraftImageQuery *query,
                                    gint64 after_id, guint limit, GError **error);
/* Every matching id, in order (for a list model that fetches rows as they scroll in). */
GArray *graft_project_query_ids (GraftProject *project, const GraftImageQuery *query, GError **error);
guint graft_project_count_images (GraftProject *project, const GraftImageQuery *query, GError **error);

/* Groups of images with the same content hash: a GPtrArray of GArray (gint64 ids,
 * lowest first), only the hashed images. */
GPtrArray *graft_project_duplicate_groups (GraftProject *project, GError **error);

/* ---- Hashing (lazy) and relinking ------------------------------------------------- */

/* Hashes up to max (0: all) images that have no hash yet, in batches of 256 (each batch
 * one transaction; the lock is not held while files are read). A file that cannot be
 * read is marked missing. Returns how many were hashed; -1 on error or cancellation. */
gint64 graft_project_hash_pending (GraftProject *project, GCancellable *cancellable, guint max, GError **error);
/* The same in a background thread; close stops it. Starting it twice is harmless. */
void graft_project_start_hashing (GraftProject *project);
void graft_project_wait_hashing (GraftProject *project);
guint graft_project_count_unhashed (GraftProject *project);

/* Finds images whose file is gone in folder (recursively): by content hash (only files
 * of the same size are hashed), or, for images never hashed, by name, size and mtime.
 * relinked (nullable): how many were found. Not an undo step (nothing is lost). */
gboolean graft_project_relink (GraftProject *project, const char *folder, guint *relinked, GError **error);

/* ---- Splits ----------------------------------------------------------------------- */

/* Assigns a split to every labelled image that has none, stratified per class: each new
 * image goes to the split furthest below its target (count x fraction) for its class,
 * the images taken in the order of a hash of (seed, content hash or path). Images that
 * have a split keep it, so adding images never moves the others, and each class stays
 * within one image of its targets. A relabelled image keeps its split. assigned
 * (nullable): how many got one. */
gboolean graft_project_assign_splits (GraftProject *project, guint *assigned, GError **error);
/* Stores the fractions and seed and assigns every labelled image again (the one call
 * that moves images between splits). Fractions >= 0, validation + test < 1. */
gboolean graft_project_reset_splits (GraftProject *project, double validation, double test,
                                     guint64 seed, GError **error);
void graft_project_get_split_fractions (GraftProject *project, double *validation, double *test, guint64 *seed);
/* Labelled images per class and split: counts[i * 4 + split] for the i-th live class in
 * order (graft_project_list_classes); n_classes set. Newly allocated. */
guint *graft_project_split_counts (GraftProject *project, guint *n_classes, GError **error);

/* The labelled images (absolute paths) of a split (GRAFT_SPLIT_NONE: all labelled) as a
 * dataset for the trainer: classes in the project's order. Assigns missing splits first
 * when the project is writable (otherwise unassigned images count as train). */
GraftDataset *graft_project_dataset (GraftProject *project, GraftSplit split, GError **error);

/* ---- Predictions (for suggestions and active learning) ---------------------------- */

typedef struct {
  gint64 image_id;
  gint64 class_id;             /* the predicted class */
  float confidence;
  const float *probabilities;  /* nullable: n_probabilities floats */
  int n_probabilities;
  const float *embedding;      /* nullable: dim floats */
  int dim;
} GraftPrediction;

/* Stores (replaces) predictions, in one transaction. run_id may be 0. */
gboolean graft_project_set_predictions (GraftProject *project, gint64 run_id, const GraftPrediction *predictions,
                                        guint n, GError **error);
gboolean graft_project_clear_predictions (GraftProject *project, GError **error);

/* Predictions as stored, for active.h: ids (gint64), probabilities ((n, k) floats,
 * NULL when any image lacks them or k differs), embeddings ((n, dim), same rule). Only
 * unlabelled images when unlabelled_only. Free with graft_prediction_set_free. */
typedef struct {
  GArray *ids;
  float *probabilities;
  int k;
  float *embeddings;
  int dim;
  GArray *splits;              /* GraftSplit per image (int) */
  GPtrArray *hashes;           /* char * or NULL per image */
} GraftPredictionSet;

GraftPredictionSet *graft_project_get_predictions (GraftProject *project, gboolean unlabelled_only, GError **error);
void graft_prediction_set_free (GraftPredictionSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftPredictionSet, graft_prediction_set_free)

/* ---- Runs and metric series ------------------------------------------------------- */

typedef enum {
  GRAFT_RUN_PENDING,
  GRAFT_RUN_RUNNING,
  GRAFT_RUN_FINISHED,
  GRAFT_RUN_FAILED,
  GRAFT_RUN_STOPPED,
} GraftRunStatus;

typedef struct {
  gint64 id;
  char *name;
  char *spec_json;
  GraftRunStatus status;
  gint64 created, started, finished;   /* 0 when not yet */
  char *metrics_json;                  /* final metrics, NULL until finished */
  char *model_path;                    /* the trained model's file, NULL until saved */
} GraftRun;

void graft_run_clear (GraftRun *run);

gint64 graft_project_add_run (GraftProject *project, const char *name, const char *spec_json, GError **error);
/* RUNNING sets started; FINISHED, FAILED and STOPPED set finished. */
gboolean graft_project_set_run_status (GraftProject *project, gint64 run_id, GraftRunStatus status, GError **error);
gboolean graft_project_set_run_metrics (GraftProject *project, gint64 run_id, const char *metrics_json, GError **error);
gboolean graft_project_set_run_model_path (GraftProject *project, gint64 run_id, const char *model_path,
                                           GError **error);
gboolean graft_project_get_run (GraftProject *project, gint64 run_id, GraftRun *run, GError **error);
/* GArray of GraftRun, newest first (clear func set). */
GArray *graft_project_list_runs (GraftProject *project, GError **error);
/* Deletes the run, its series and its model file when the project owns it (one in
 * runs/; not an undo step). */
gboolean graft_project_delete_run (GraftProject *project, gint64 run_id, GError **error);

/* The trained models of runs live in <folder>/runs/<id>.onnx. */
#define GRAFT_PROJECT_RUNS_FOLDER "runs"
char *graft_project_run_model_file (GraftProject *project, gint64 run_id);
/* Writes model (ONNX bytes) as the run's model file, atomically (a synced temporary
 * file renamed over the name: the file is the whole model or absent) and sets the
 * run's model_path to it. Any thread. */
gboolean graft_project_save_run_model (GraftProject *project, gint64 run_id, GBytes *model, GError **error);

/* The session spec (JSON, spec.h) the project was last prepared with: model, cut,
 * head, strategy, schedule. NULL forgets it. get: newly allocated, NULL when none. */
gboolean graft_project_set_session_spec (GraftProject *project, const char *spec_json, GError **error);
char *graft_project_get_session_spec (GraftProject *project);

typedef struct {
  gint64 step;
  const char *name;            /* "train/loss", "validation/accuracy", ... */
  double value;
} GraftMetricPoint;

/* Appends points in one transaction through a cached prepared statement (about a
 * microsecond a point): hand over what a trainer hook buffered, not one point a call. */
gboolean graft_project_append_metrics (GraftProject *project, gint64 run_id, const GraftMetricPoint *points,
                                       guint n, GError **error);

typedef struct {
  gint64 step;
  double value;
} GraftSeriesPoint;

/* The series of one name, in step order. GArray of GraftSeriesPoint. */
GArray *graft_project_get_metric_series (GraftProject *project, gint64 run_id, const char *name, GError **error);
/* The names a run has series for, sorted. NULL-terminated, g_strfreev. */
char **graft_project_get_metric_names (GraftProject *project, gint64 run_id, GError **error);

/* The parts of a run. A run resumed from its checkpoint trains in parts, each from an
 * epoch (0 for the first part). Each part's time is kept, updated at every epoch's end
 * (so that a part killed later counts up to its last epoch) and when the run is stored;
 * a run's seconds are the sum of its parts' (run-record.h). begin: the part's id, 0
 * with error. */
typedef struct {
  gint64 id;
  int from_epoch, epochs_done;
  double seconds;
  gint64 started;              /* g_get_real_time () */
} GraftRunPart;

gint64 graft_project_begin_run_part (GraftProject *project, gint64 run_id, int from_epoch, GError **error);
gboolean graft_project_update_run_part (GraftProject *project, gint64 part_id, int epochs_done, double seconds,
                                        GError **error);
/* GArray of GraftRunPart, first part first. */
GArray *graft_project_get_run_parts (GraftProject *project, gint64 run_id, GError **error);

/* The export history: every model exported from a run (graft-cli export PROJECT --run N,
 * the app's Export), recorded by train/export.h's graft_run_export_record. A deleted
 * run's exports stay, with run 0. */
typedef struct {
  gint64 id, run;
  gint64 time;                 /* g_get_real_time () */
  char *path;                  /* the file written */
  char *format;                /* "onnx", ... */
  char *checksum;              /* SHA-256 of the file written, hex */
} GraftExportEntry;

void graft_export_entry_clear (GraftExportEntry *entry);
gboolean graft_project_add_export (GraftProject *project, gint64 run_id, const char *path, const char *format,
                                   const char *checksum, GError **error);
/* GArray of GraftExportEntry (clear func set), oldest first; run_id 0: of every run. */
GArray *graft_project_list_exports (GraftProject *project, gint64 run_id, GError **error);

G_END_DECLS
