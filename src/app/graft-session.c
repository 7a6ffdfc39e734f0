/* graft-session.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-session.h"

#include <glib/gi18n.h>

#include "catalog/catalog.h"
#include "model/surgery.h"
#include "train/embedding-cache.h"

struct _GraftSession
{
  GObject parent_instance;

  GraftModel *model;
  int n_blocks;       /* blocks below the classifier: the freeze map asks for it often */
  char *model_path;
  char *model_title;  /* the catalog's, for a catalog model's file */
  char *feature_cut;  /* the catalog's cut, where presets that keep the backbone's top graft the head */
  GraftSessionSpec *spec;
  GraftDataset *train;
  GraftDataset *validation;
  char *cache_folder;
};

G_DEFINE_FINAL_TYPE (GraftSession, graft_session, G_TYPE_OBJECT)

enum { MODEL_CHANGED, SPEC_CHANGED, DATASETS_CHANGED, N_SIGNALS };

static guint signals[N_SIGNALS];

static void
graft_session_finalize (GObject *object)
{
  GraftSession *self = GRAFT_SESSION (object);

  g_clear_pointer (&self->model, graft_model_free);
  g_clear_pointer (&self->spec, graft_session_spec_free);
  g_free (self->model_path);
  g_free (self->model_title);
  g_free (self->feature_cut);
  g_clear_pointer (&self->train, graft_dataset_free);
  g_clear_pointer (&self->validation, graft_dataset_free);
  g_free (self->cache_folder);

  G_OBJECT_CLASS (graft_session_parent_class)->finalize (object);
}

static void
graft_session_class_init (GraftSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = graft_session_finalize;

  signals[MODEL_CHANGED] = g_signal_new ("model-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                         NULL, NULL, G_TYPE_NONE, 0);
  signals[SPEC_CHANGED] = g_signal_new ("spec-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                        NULL, NULL, G_TYPE_NONE, 0);
  signals[DATASETS_CHANGED] = g_signal_new ("datasets-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                            NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
graft_session_init (GraftSession *self)
{
  self->spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, NULL);
  self->cache_folder = graft_session_get_default_cache_folder ();
}

GraftSession *
graft_session_new (void)
{
  return g_object_new (GRAFT_TYPE_SESSION, NULL);
}

typedef struct {
  GraftModel *model;
  char *sha256;
  char *title;        /* the catalog's title, when path is a catalog model's file */
  char *cut;          /* the catalog's cut, when the model is a catalog model's file */
} LoadResult;

static void
load_result_free (LoadResult *result)
{
  g_clear_pointer (&result->model, graft_model_free);
  g_free (result->sha256);
  g_free (result->title);
  g_free (result->cut);
  g_free (result);
}

/* Loads the model at path. A catalog model's file says nothing of its preprocessing or
 * of where a head goes: the catalog does. When path is the downloaded file of a catalog
 * entry, the result gets the entry's title; when the file is verified as the entry's
 * (graft_catalog_verify: its .verified note, else one hash), its SHA-256 is the entry's,
 * the model's metadata gets the entry's preprocessing (unless the file has its own) and
 * the result the entry's cut, when the file has a value of that name. Any other file is
 * hashed. */
static LoadResult *
load_result_new (const char *path, GError **error)
{
  LoadResult *result = g_new0 (LoadResult, 1);
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GError) catalog_error = NULL;
  const GraftCatalogEntry *entry = NULL;
  gboolean named = FALSE;

  result->model = graft_model_load (path, error);
  if (result->model == NULL)
    {
      load_result_free (result);
      return NULL;
    }
  catalog = graft_catalog_load_or_bundled (&catalog_error);
  if (catalog_error != NULL)
    g_debug ("%s; using the bundled catalog", catalog_error->message);
  if (catalog != NULL)
    entry = graft_catalog_find_file (catalog, path);
  if (entry != NULL)
    {
      result->title = g_strdup (entry->title);
      if (graft_catalog_verify (entry, path, FALSE, NULL, NULL))
        {
          result->sha256 = g_strdup (entry->sha256);
          graft_catalog_entry_annotate_model (entry, result->model);
          if (graft_catalog_entry_find_cut (entry, result->model, &named) >= 0 && named)
            result->cut = g_strdup (entry->cut);
        }
    }
  if (result->sha256 == NULL && (result->sha256 = graft_file_sha256 (path, error)) == NULL)
    {
      load_result_free (result);
      return NULL;
    }
  return result;
}

static void
load_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  LoadResult *result = load_result_new (task_data, &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) load_result_free);
}

/* Takes the model of result, and restored as the spec when given (a spec the project
 * stored), else a spec rebuilt for the model with the same strategy and head. */
static void
adopt_model (GraftSession *self, const char *path, LoadResult *result, GraftSessionSpec *restored)
{
  GraftStrategy strategy = self->spec->strategy;
  GraftSessionSpec *spec;

  g_clear_pointer (&self->model, graft_model_free);
  self->model = g_steal_pointer (&result->model);
  self->n_blocks = graft_session_spec_backbone_blocks (self->model);
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  g_free (self->model_title);
  self->model_title = g_steal_pointer (&result->title);
  g_free (self->feature_cut);
  self->feature_cut = g_steal_pointer (&result->cut);

  if (restored != NULL)
    {
      spec = restored;
      g_free (spec->model_path);
      spec->model_path = g_strdup (path);
      g_free (spec->model_sha256);
      spec->model_sha256 = g_steal_pointer (&result->sha256);
    }
  else
    {
      spec = graft_session_spec_new (strategy, self->model);
      spec->head = self->spec->head;
      spec->model_path = g_strdup (path);
      spec->model_sha256 = g_steal_pointer (&result->sha256);
      if (spec->cut == NULL)
        spec->cut = g_strdup (self->feature_cut);
    }
  graft_session_spec_free (self->spec);
  self->spec = spec;
  g_signal_emit (self, signals[MODEL_CHANGED], 0);
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

void
graft_session_load_model_async (GraftSession *self, const char *path, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, graft_session_load_model_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, load_in_thread);
}

gboolean
graft_session_load_model_finish (GraftSession *self, GAsyncResult *result, GError **error)
{
  LoadResult *loaded = g_task_propagate_pointer (G_TASK (result), error);

  if (loaded == NULL)
    return FALSE;
  adopt_model (self, g_task_get_task_data (G_TASK (result)), loaded, NULL);
  load_result_free (loaded);
  return TRUE;
}

gboolean
graft_session_load_model (GraftSession *self, const char *path, GError **error)
{
  LoadResult *loaded = load_result_new (path, error);

  if (loaded == NULL)
    return FALSE;
  adopt_model (self, path, loaded, NULL);
  load_result_free (loaded);
  return TRUE;
}

typedef struct {
  char *path;
  GraftSessionSpec *spec;
} RestoreData;

static void
restore_data_free (gpointer data)
{
  RestoreData *d = data;
  g_free (d->path);
  g_clear_pointer (&d->spec, graft_session_spec_free);
  g_free (d);
}

static void
restore_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  RestoreData *d = task_data;
  GError *error = NULL;
  LoadResult *result = load_result_new (d->path, &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) load_result_free);
}

void
graft_session_restore_async (GraftSession *self, const char *spec_json, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  GraftSessionSpec *spec;
  RestoreData *d;

  g_return_if_fail (GRAFT_IS_SESSION (self));
  g_return_if_fail (spec_json != NULL);

  g_task_set_source_tag (task, graft_session_restore_async);
  spec = graft_session_spec_from_json (spec_json, &error);
  if (spec == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (spec->model_path == NULL)
    {
      /* Settings made before any model was chosen: nothing to load. */
      graft_session_spec_free (self->spec);
      self->spec = spec;
      g_signal_emit (self, signals[SPEC_CHANGED], 0);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  d = g_new0 (RestoreData, 1);
  d->path = g_strdup (spec->model_path);
  d->spec = spec;
  g_task_set_task_data (task, d, restore_data_free);
  g_task_run_in_thread (task, restore_in_thread);
}

gboolean
graft_session_restore_finish (GraftSession *self, GAsyncResult *result, GError **error)
{
  RestoreData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) local_error = NULL;
  LoadResult *loaded = g_task_propagate_pointer (G_TASK (result), &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (loaded == NULL) /* nothing to load */
    return TRUE;
  adopt_model (self, d->path, loaded, g_steal_pointer (&d->spec));
  load_result_free (loaded);
  return TRUE;
}

GraftModel *
graft_session_get_model (GraftSession *self)
{
  return self->model;
}

const char *
graft_session_get_model_path (GraftSession *self)
{
  return self->model_path;
}

const char *
graft_session_get_model_title (GraftSession *self)
{
  return self->model_title;
}

int
graft_session_get_n_blocks (GraftSession *self)
{
  return self->model != NULL ? self->n_blocks : 0;
}

const GraftBlock *
graft_session_get_block (GraftSession *self, int block)
{
  if (self->model == NULL || block < 0 || block >= graft_session_get_n_blocks (self))
    return NULL;
  return &g_array_index (self->model->blocks, GraftBlock, block);
}

GraftSessionSpec *
graft_session_get_spec (GraftSession *self)
{
  return self->spec;
}

void
graft_session_spec_changed (GraftSession *self)
{
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

void
graft_session_set_strategy (GraftSession *self, GraftStrategy strategy)
{
  GraftSessionSpec *spec = graft_session_spec_new (strategy, self->model);

  spec->model_path = g_strdup (self->spec->model_path);
  spec->model_sha256 = g_strdup (self->spec->model_sha256);
  /* Each preset sets its cut: Replace Top Layers' own, the others the model's. */
  if (spec->cut == NULL)
    spec->cut = g_strdup (self->feature_cut);
  if (strategy != GRAFT_STRATEGY_REPLACE_TOP)
    spec->head = self->spec->head;
  graft_session_spec_free (self->spec);
  self->spec = spec;
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

gboolean
graft_session_get_block_trains (GraftSession *self, int block, int epoch)
{
  const GraftBlock *b = graft_session_get_block (self, block);
  /* A block above the cut is removed: it does not run, let alone train. */
  if (b == NULL || block > graft_session_get_cut_block (self))
    return FALSE;
  return graft_session_spec_block_trains (self->spec, epoch, block, b->name, graft_session_get_n_blocks (self));
}

static void
set_override (GraftSession *self, int block, gboolean trains)
{
  const GraftBlock *b = graft_session_get_block (self, block);
  if (b != NULL)
    g_hash_table_insert (self->spec->block_overrides, g_strdup (b->name), GINT_TO_POINTER (trains ? 1 : 2));
}

void
graft_session_set_block_trains (GraftSession *self, int block, gboolean trains)
{
  set_override (self, block, trains);
  if (self->spec->strategy == GRAFT_STRATEGY_FEATURE_EXTRACTION && trains)
    self->spec->strategy = GRAFT_STRATEGY_CUSTOM;
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

void
graft_session_set_block_range_trains (GraftSession *self, int first, int last, gboolean trains)
{
  for (int b = MIN (first, last); b <= MAX (first, last); b++)
    set_override (self, b, trains);
  if (self->spec->strategy == GRAFT_STRATEGY_FEATURE_EXTRACTION && trains)
    self->spec->strategy = GRAFT_STRATEGY_CUSTOM;
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

void
graft_session_set_cut_block (GraftSession *self, int block)
{
  const GraftBlock *b = graft_session_get_block (self, block);
  int kept_before = graft_session_get_cut_block (self) + 1, kept;

  g_clear_pointer (&self->spec->cut, g_free);
  if (b != NULL && block < graft_session_get_n_blocks (self) - 1)
    {
      const graft_node *last = graft_graph_node (self->model->graph, b->last_node);
      self->spec->cut = g_strdup (graft_graph_value (self->model->graph, last->output)->name);
    }
  /* Stages count blocks below the cut: one that trained the head alone still does, and
   * none unfreezes a block the cut removed (the trainer refuses that). */
  kept = graft_session_get_cut_block (self) + 1;
  for (int s = 0; self->model != NULL && s < self->spec->n_stages; s++)
    self->spec->stages[s].trainable_from = self->spec->stages[s].trainable_from >= kept_before
                                               ? kept
                                               : MIN (self->spec->stages[s].trainable_from, kept);
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

int
graft_session_get_cut_block (GraftSession *self)
{
  int value;
  if (self->model == NULL || self->spec->cut == NULL)
    return graft_session_get_n_blocks (self) - 1;
  value = graft_graph_find_value (self->model->graph, self->spec->cut);
  for (int b = 0; b < graft_session_get_n_blocks (self); b++)
    {
      const GraftBlock *block = graft_session_get_block (self, b);
      if (value >= 0 && graft_graph_value (self->model->graph, value)->producer >= block->first_node
          && graft_graph_value (self->model->graph, value)->producer <= block->last_node)
        return b;
    }
  return graft_session_get_n_blocks (self) - 1;
}

void
graft_session_set_head (GraftSession *self, const GraftHeadSpec *head)
{
  self->spec->head = *head;
  g_signal_emit (self, signals[SPEC_CHANGED], 0);
}

void
graft_session_set_datasets (GraftSession *self, GraftDataset *train, GraftDataset *validation)
{
  g_clear_pointer (&self->train, graft_dataset_free);
  g_clear_pointer (&self->validation, graft_dataset_free);
  self->train = train;
  self->validation = validation;
  g_signal_emit (self, signals[DATASETS_CHANGED], 0);
}

GraftDataset *
graft_session_get_train_dataset (GraftSession *self)
{
  return self->train;
}

GraftDataset *
graft_session_get_validation_dataset (GraftSession *self)
{
  return self->validation;
}

const char *
graft_session_get_cache_folder (GraftSession *self)
{
  return self->cache_folder;
}

void
graft_session_set_cache_folder (GraftSession *self, const char *folder)
{
  g_return_if_fail (GRAFT_IS_SESSION (self));

  g_free (self->cache_folder);
  if (folder == NULL || folder[0] == '\0')
    self->cache_folder = graft_session_get_default_cache_folder ();
  else
    self->cache_folder = g_strdup (folder);
}

char *
graft_session_get_default_cache_folder (void)
{
  return g_build_filename (g_get_user_cache_dir (), "graft", "embeddings", NULL);
}
