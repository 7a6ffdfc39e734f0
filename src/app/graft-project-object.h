/* graft-project-object.h: an open project (src/project/) as the app sees it.
 *
 * GraftProjectObject owns a GraftProject and is the one way the pages change it, so that
 * every change is followed by the right signal:
 *   ::classes-changed   classes added, renamed, recoloured, moved, merged or deleted
 *                       (not for counts alone: a label changes those, and each
 *                       GraftClassItem notifies its "count")
 *   ::labels-changed    labels or predictions (suggestions) changed
 *   ::images-changed    images added (imports) or removed
 *   ::runs-changed      a run stored or deleted (its id)
 * An undo or redo emits labels-changed and images-changed, and classes-changed when the
 * classes themselves changed. The class list (GraftClassItem) is updated in
 * place, so a row keeps its object while its count changes. Image lists (GraftImageItem) are
 * made for a filter and fetch their rows from the store page by page as they are asked
 * for: 100,000 images cost an array of ids, not 100,000 objects.
 *
 * With a session set, the project's labelled images go to it as datasets
 * (graft_session_set_datasets: the train and validation splits, after
 * graft_project_assign_splits), 300 ms after the last change to labels or images, built
 * in a worker thread; the session's cache folder is the project's.
 *
 * Thumbnails are made off the main thread (src/project/thumbnails.h, cached on disk in
 * the project's cache folder) and the newest few hundred are kept in memory.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "graft-image-item.h"
#include "graft-session.h"
#include "graft-training.h"
#include "project/import.h"
#include "project/project.h"
#include "project/run-record.h"

G_BEGIN_DECLS

/* ---- A class, as the sidebar shows it ------------------------------------------------ */

#define GRAFT_TYPE_CLASS_ITEM (graft_class_item_get_type ())
G_DECLARE_FINAL_TYPE (GraftClassItem, graft_class_item, GRAFT, CLASS_ITEM, GObject)

/* Properties: id (int64), name, colour ("#rrggbb"), position (0-based), count (labelled
 * images), key (1..9: the number key that labels with it, 0: none). */
gint64 graft_class_item_get_id (GraftClassItem *self);
const char *graft_class_item_get_name (GraftClassItem *self);
const char *graft_class_item_get_colour (GraftClassItem *self);
int graft_class_item_get_position (GraftClassItem *self);
guint graft_class_item_get_count (GraftClassItem *self);
int graft_class_item_get_key (GraftClassItem *self);
/* The colour as RGBA (opaque grey when it does not parse). */
void graft_class_item_get_rgba (GraftClassItem *self, GdkRGBA *rgba);

/* ---- The project --------------------------------------------------------------------- */

#define GRAFT_TYPE_PROJECT_OBJECT (graft_project_object_get_type ())
G_DECLARE_FINAL_TYPE (GraftProjectObject, graft_project_object, GRAFT, PROJECT_OBJECT, GObject)

/* Takes project (closed when the object is finalized). */
GraftProjectObject *graft_project_object_new (GraftProject *project);
/* graft_project_create / graft_project_open, wrapped. */
GraftProjectObject *graft_project_object_create (const char *folder, const char *name, GError **error);
GraftProjectObject *graft_project_object_open (const char *folder, GError **error);

GraftProject *graft_project_object_get_project (GraftProjectObject *self);
const char *graft_project_object_get_folder (GraftProjectObject *self);
void graft_project_object_save_spec (GraftProjectObject *self);
/* Property "name" (newly allocated here). */
char *graft_project_object_get_name (GraftProjectObject *self);
gboolean graft_project_object_get_read_only (GraftProjectObject *self);

/* Property "session": where the datasets go. NULL: none. */
GraftSession *graft_project_object_get_session (GraftProjectObject *self);
void graft_project_object_set_session (GraftProjectObject *self, GraftSession *session);

/* Property "training": the runs of training are recorded in the project. When a run
 * starts (not an LR sweep) a run is added with the session's spec; when it ends
 * (finished, stopped or failed) its trained model (runs/<id>.onnx, written
 * atomically), its curves (metric series named as GraftTraining's, step = x x
 * GRAFT_RUN_STEPS_PER_EPOCH), its metrics (JSON: classes, epochs, epochs_done, seconds,
 * accuracy, count, loss_sum, confusion rows, the validation images as [path, label])
 * and its status are stored off the main thread (graft_project_store_run, as graft-cli
 * train DIR stores its runs); then the trained model predicts the project's images
 * (graft_active_project_predict: suggestions, and embeddings for Label Next's
 * diversity), ::labels-changed is emitted when it did, and ::runs-changed (run id).
 * Property "recording" is TRUE from the start of a run until it is stored;
 * meanwhile the object keeps itself (and its store) alive.
 * The session's spec is stored in the project 400 ms after each change of it, at the
 * start of each run, and when the session or the object goes. */
GraftTraining *graft_project_object_get_training (GraftProjectObject *self);
void graft_project_object_set_training (GraftProjectObject *self, GraftTraining *training);
gboolean graft_project_object_get_recording (GraftProjectObject *self);
/* Deletes a stored run (not the one being recorded) and its model file; emits
 * ::runs-changed. */
gboolean graft_project_object_delete_run (GraftProjectObject *self, gint64 run_id, GError **error);
/* Whether the stored run was stopped, closed or killed with a checkpoint (run-record.h)
 * and is not the run going on. */
gboolean graft_project_object_can_resume_run (GraftProjectObject *self, gint64 run_id);
/* Continues the stored run from its checkpoint, in the same run record, with its own
 * model and settings and the session's images; its curves so far are in the training's
 * series. FALSE with error (naming the checkpoint and what is wrong) when it cannot. */
gboolean graft_project_object_resume_run (GraftProjectObject *self, gint64 run_id, GError **error);

/* The classes in order: a GListModel of GraftClassItem (owned by self). */
GListModel *graft_project_object_get_classes (GraftProjectObject *self);
GraftClassItem *graft_project_object_find_class (GraftProjectObject *self, gint64 class_id);
/* The class with number key key (1..9), or NULL. */
GraftClassItem *graft_project_object_get_class_for_key (GraftProjectObject *self, int key);

/* CSS for the classes' colours, for a GtkCssProvider: .graft-class-ID (background in the
 * class colour, a legible text colour on it) and .graft-suggest-ID (border in the colour). */
char *graft_project_object_get_class_css (GraftProjectObject *self);

/* A new GListModel of GraftImageItem: the images that filter (GRAFT_FILTER_ALL,
 * _CLASS with class_id, _UNLABELLED, _SUGGESTED with class_id 0 for any, _LABELLED),
 * in id order. It follows the project's changes by itself (items-changed only where
 * rows came or went). */
GListModel *graft_project_object_list_images (GraftProjectObject *self, GraftImageFilter filter, gint64 class_id);
guint graft_project_object_count_images (GraftProjectObject *self, GraftImageFilter filter, gint64 class_id);
/* The item of an image (shared with the lists that show it), or a new one; NULL when the
 * image is not in the project. */
GraftImageItem *graft_project_object_get_image (GraftProjectObject *self, gint64 image_id);

/* Asks for item's thumbnail (size: fit in size x size pixels) unless it is there or on its
 * way; it arrives as the item's paintable. graft_project_object_cancel_thumbnail drops
 * the request (an item scrolled out of view). */
void graft_project_object_load_thumbnail (GraftProjectObject *self, GraftImageItem *item);
void graft_project_object_cancel_thumbnail (GraftProjectObject *self, GraftImageItem *item);
#define GRAFT_THUMBNAIL_SIZE 192

/* ---- Changes (each one undo step; FALSE with error when nothing changed) ------------- */

/* class_id 0 clears the labels. */
gboolean graft_project_object_set_labels (GraftProjectObject *self, const gint64 *image_ids, guint n_images,
                                          gint64 class_id, GError **error);
gboolean graft_project_object_accept_suggestions (GraftProjectObject *self, const gint64 *image_ids,
                                                  guint n_images, guint *accepted, GError **error);
gboolean graft_project_object_remove_images (GraftProjectObject *self, const gint64 *image_ids, guint n_images,
                                             GError **error);

gint64 graft_project_object_add_class (GraftProjectObject *self, const char *name, const char *colour,
                                       GError **error);
gboolean graft_project_object_rename_class (GraftProjectObject *self, gint64 class_id, const char *name,
                                            GError **error);
gboolean graft_project_object_recolour_class (GraftProjectObject *self, gint64 class_id, const char *colour,
                                              GError **error);
gboolean graft_project_object_move_class (GraftProjectObject *self, gint64 class_id, int position,
                                          GError **error);
gboolean graft_project_object_merge_classes (GraftProjectObject *self, gint64 source_id, gint64 target_id,
                                             guint *moved, GError **error);
gboolean graft_project_object_delete_class (GraftProjectObject *self, gint64 class_id, guint *labels_removed,
                                            GError **error);

/* Properties "can-undo" and "can-redo". Descriptions newly allocated, NULL when none. */
gboolean graft_project_object_get_can_undo (GraftProjectObject *self);
gboolean graft_project_object_get_can_redo (GraftProjectObject *self);
char *graft_project_object_get_undo_description (GraftProjectObject *self);
char *graft_project_object_get_redo_description (GraftProjectObject *self);
gboolean graft_project_object_undo (GraftProjectObject *self, GError **error);
gboolean graft_project_object_redo (GraftProjectObject *self, GError **error);

/* Stores a model's predictions (suggestions and the active-learning queue) and emits
 * ::labels-changed. */
gboolean graft_project_object_set_predictions (GraftProjectObject *self, const GraftPrediction *predictions,
                                               guint n, GError **error);

/* Runs model (ONNX: a classifier of classes, their names in its output order) over the
 * project's images in a worker (graft_active_project_predict: probabilities and
 * embeddings), storing its predictions in place of the older ones; ::labels-changed
 * follows, before callback. */
void graft_project_object_predict_async (GraftProjectObject *self, GBytes *model, GPtrArray *classes,
                                         const GraftPreprocessing *preprocessing, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
/* stored (nullable): how many images got a prediction. */
gboolean graft_project_object_predict_finish (GraftProjectObject *self, GAsyncResult *result, guint *stored,
                                              GError **error);

/* ---- Imports, in a worker thread ----------------------------------------------------- */

typedef enum {
  GRAFT_IMPORT_KIND_FOLDER,        /* paths[0]: a folder of images, unlabelled */
  GRAFT_IMPORT_KIND_IMAGE_FOLDER,  /* paths[0]: one subfolder per class */
  GRAFT_IMPORT_KIND_CSV,           /* paths[0]: path,label rows */
  GRAFT_IMPORT_KIND_FILES,         /* paths: files and folders (drag and drop); class_id labels them */
  GRAFT_IMPORT_KIND_TEACHABLE_MACHINE, /* paths[0]: a Teachable Machine .zip or .tm, or a folder of them */
} GraftImportKind;

/* Runs the import off the main thread; on the main thread again, the signals for what
 * changed are emitted before callback runs. */
void graft_project_object_import_async (GraftProjectObject *self, GraftImportKind kind, const char *const *paths,
                                        gint64 class_id, GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
/* The report (free with graft_import_report_free), or NULL with error. */
GraftImportReport *graft_project_object_import_finish (GraftProjectObject *self, GAsyncResult *result,
                                                       GError **error);

G_END_DECLS
