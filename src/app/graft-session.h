/* graft-session.h: what the person is preparing: the pretrained model, and the
 * session spec (strategy, freeze plan, head, schedule) that pages edit together.
 *
 * Pages edit the spec through the setters here (or directly, followed by
 * graft_session_spec_changed) and follow ::spec-changed, so the freeze map, the
 * schedule timeline and the train page always show the same plan.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "model/model.h"
#include "train/dataset.h"
#include "train/spec.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_SESSION (graft_session_get_type ())
G_DECLARE_FINAL_TYPE (GraftSession, graft_session, GRAFT, SESSION, GObject)

GraftSession *graft_session_new (void);

/* Loads an ONNX model off the main thread; on success the session's model is replaced,
 * the spec is rebuilt for it (same strategy) and ::model-changed is emitted. */
void graft_session_load_model_async (GraftSession *self, const char *path, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean graft_session_load_model_finish (GraftSession *self, GAsyncResult *result, GError **error);
/* The same, synchronously (tests, the command line). */
gboolean graft_session_load_model (GraftSession *self, const char *path, GError **error);

/* Takes a spec a project stored (JSON): its model is loaded off the main thread, then
 * the spec is taken whole (model, cut, head, strategy, schedule), with ::model-changed
 * and ::spec-changed. A spec without a model is taken at once. */
void graft_session_restore_async (GraftSession *self, const char *spec_json, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean graft_session_restore_finish (GraftSession *self, GAsyncResult *result, GError **error);

GraftModel *graft_session_get_model (GraftSession *self);   /* NULL before a model is loaded */
const char *graft_session_get_model_path (GraftSession *self);
/* The catalog's title of a downloaded catalog model ("ResNet-18 v1" rather than
 * "resnet18-v1-7"), found when it was loaded; NULL for another file. */
const char *graft_session_get_model_title (GraftSession *self);
/* Blocks of the model below its classifier (what the freeze map shows), and their names. */
int graft_session_get_n_blocks (GraftSession *self);
const GraftBlock *graft_session_get_block (GraftSession *self, int block);

GraftSessionSpec *graft_session_get_spec (GraftSession *self);
/* Emits ::spec-changed after a direct edit of the spec. */
void graft_session_spec_changed (GraftSession *self);

/* A preset for strategy on the current model (keeps the cut and the head). */
void graft_session_set_strategy (GraftSession *self, GraftStrategy strategy);
/* Whether block trains at epoch (after overrides), and a per-block override: the
 * block trains (or stays frozen) in every stage. */
gboolean graft_session_get_block_trains (GraftSession *self, int block, int epoch);
void graft_session_set_block_trains (GraftSession *self, int block, gboolean trains);
/* Blocks first..last (inclusive) all trainable or all frozen (shift-click). */
void graft_session_set_block_range_trains (GraftSession *self, int first, int last, gboolean trains);
/* Cuts the network after block (its last node's output); -1 for the default cut. */
void graft_session_set_cut_block (GraftSession *self, int block);
int graft_session_get_cut_block (GraftSession *self);
void graft_session_set_head (GraftSession *self, const GraftHeadSpec *head);

/* The labelled images a run trains and validates on (taken, the session frees them),
 * from the open project or the sample folder; ::datasets-changed follows. */
void graft_session_set_datasets (GraftSession *self, GraftDataset *train, GraftDataset *validation);
GraftDataset *graft_session_get_train_dataset (GraftSession *self);
GraftDataset *graft_session_get_validation_dataset (GraftSession *self);
/* Where embeddings are cached between runs; never NULL. The window sets it from the
 * "cache-folder" setting; NULL or "" means the default folder. */
const char *graft_session_get_cache_folder (GraftSession *self);
void graft_session_set_cache_folder (GraftSession *self, const char *folder);
/* The default: $XDG_CACHE_HOME/graft/embeddings. */
char *graft_session_get_default_cache_folder (void);

G_END_DECLS
