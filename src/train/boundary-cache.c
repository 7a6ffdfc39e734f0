/* boundary-cache.c: the freeze boundary, the frozen prefix and trainable suffix as
 * graphs of their own, and the store of boundary activations (memory, and the
 * embedding cache's files on disk). */
#include "config.h"

#include "train/boundary-cache.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "train/embedding-cache.h"
#include "train/spec.h"   /* GRAFT_TRAIN_ERROR */

static gboolean
reads_trainable (const graft_graph *graph, const graft_node *node)
{
  for (int k = 0; k < node->n_inputs; k++)
    {
      const graft_value *value = graft_graph_value (graph, node->inputs[k]);
      if (value->kind == GRAFT_VALUE_PARAMETER && value->trainable)
        return TRUE;
    }
  return FALSE;
}

gboolean
graft_boundary_find (const graft_graph *graph, int *split, int *value, char **reason)
{
  int n = graft_graph_node_count (graph), n_values = graft_graph_value_count (graph);
  int first_trainable = -1, crossing_at_first = 0;
  g_autofree int *last_read = g_new (int, MAX (1, n_values));

  if (reason != NULL)
    *reason = NULL;
  for (int i = 0; i < n && first_trainable < 0; i++)
    if (reads_trainable (graph, graft_graph_node (graph, i)))
      first_trainable = i;
  if (first_trainable <= 0)
    return FALSE; /* nothing frozen below what trains (or nothing trains) */

  for (int v = 0; v < n_values; v++)
    last_read[v] = -1;
  for (int i = 0; i < n; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        last_read[node->inputs[k]] = i;
    }
  /* The highest split at or below the first trainable node where one value crosses:
   * in a residual network, a block's output (its input and the skip path's are the
   * same value), never a point inside the block. */
  for (int s = first_trainable; s >= 1; s--)
    {
      int crossing = 0, found = -1;
      for (int v = 0; v < n_values && crossing < 2; v++)
        {
          const graft_value *candidate = graft_graph_value (graph, v);
          gboolean below = candidate->kind == GRAFT_VALUE_INPUT
                           || (candidate->kind == GRAFT_VALUE_ACTIVATION && candidate->producer < s);
          if (below && last_read[v] >= s)
            {
              crossing++;
              found = v;
            }
        }
      if (s == first_trainable)
        crossing_at_first = crossing;
      if (crossing != 1)
        continue;
      if (graft_graph_value (graph, found)->kind != GRAFT_VALUE_ACTIVATION)
        break; /* the trainable part reads the image itself */
      /* What the prefix computes must not change from one step to the next. */
      for (int i = 0; i < s; i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          if (node->attributes.op == GRAFT_OP_DROPOUT && node->attributes.dropout.ratio > 0)
            {
              if (reason != NULL)
                *reason = g_strdup_printf (_("the frozen layers include dropout (%s), which differs at every step"),
                                           node->name);
              return FALSE;
            }
          if (node->attributes.op == GRAFT_OP_BATCHNORM && node->batchnorm_batch_statistics)
            {
              if (reason != NULL)
                *reason = g_strdup_printf (
                    _("the frozen BatchNorm %s normalises with each batch's statistics, which differ at every step"),
                    node->name);
              return FALSE;
            }
        }
      *split = s;
      *value = found;
      return TRUE;
    }
  if (reason != NULL)
    *reason = g_strdup_printf (_("the frozen layers hand %d values to the trainable ones at %s, and no point "
                                 "below it hands over one"),
                               crossing_at_first, graft_graph_node (graph, first_trainable)->name);
  return FALSE;
}

/* The BatchNorm node (index) that conv's output goes to and nothing else, when it runs in
 * inference mode and the convolution's weight is its own: the two can be one
 * convolution. -1 otherwise. readers counts every value's readers in the whole graph. */
static int
foldable_batchnorm (const graft_graph *full, int conv, int end, const int *readers)
{
  const graft_node *node = graft_graph_node (full, conv);
  int next = conv + 1;
  const graft_node *bn;
  if (node->attributes.op != GRAFT_OP_CONV || next >= end || readers[node->output] != 1)
    return -1;
  bn = graft_graph_node (full, next);
  if (bn->attributes.op != GRAFT_OP_BATCHNORM || bn->inputs[0] != node->output || bn->batchnorm_batch_statistics
      || readers[node->inputs[1]] != 1 || graft_graph_value (full, node->inputs[1])->data == NULL)
    return -1;
  for (int k = 1; k < 5; k++)
    if (graft_graph_value (full, bn->inputs[k])->data == NULL)
      return -1;
  if (node->n_inputs > 2 && (readers[node->inputs[2]] != 1 || graft_graph_value (full, node->inputs[2])->data == NULL))
    return -1;
  return next;
}

/* Adds conv with bn folded in: w' = w * s, b' = (b - mean) * s + beta, s = gamma /
 * sqrt(var + eps) per output channel, computed in double. Its output has bn's name. */
static int
add_folded_conv (graft_graph *graph, const graft_graph *full, const graft_node *conv, const graft_node *bn,
                 int x, graft_error *engine_error)
{
  const graft_value *w = graft_graph_value (full, conv->inputs[1]);
  const float *gamma = graft_graph_value (full, bn->inputs[1])->data;
  const float *beta = graft_graph_value (full, bn->inputs[2])->data;
  const float *mean = graft_graph_value (full, bn->inputs[3])->data;
  const float *var = graft_graph_value (full, bn->inputs[4])->data;
  const float *bias = conv->n_inputs > 2 ? graft_graph_value (full, conv->inputs[2])->data : NULL;
  int m = (int) w->shape.dims[0];
  size_t count = 0, per_channel;
  graft_shape bias_shape = graft_shape_make (1, (int64_t[]) { m });
  g_autofree float *folded = NULL, *folded_bias = g_new (float, MAX (1, m));
  g_autofree char *bias_name = g_strconcat (conv->name, ".folded_bias", NULL);
  int inputs[3];

  graft_shape_count (&w->shape, &count, NULL);
  per_channel = count / (size_t) MAX (1, m);
  folded = g_new (float, MAX (1, count));
  for (int c = 0; c < m; c++)
    {
      double scale = gamma[c] / sqrt ((double) var[c] + (double) bn->attributes.batchnorm.epsilon);
      for (size_t k = 0; k < per_channel; k++)
        folded[(size_t) c * per_channel + k] = (float) (w->data[(size_t) c * per_channel + k] * scale);
      folded_bias[c] = (float) (((bias != NULL ? bias[c] : 0.0) - mean[c]) * scale + beta[c]);
    }
  inputs[0] = x;
  inputs[1] = graft_graph_add_tensor (graph, w->name, GRAFT_VALUE_PARAMETER, &w->shape, folded, engine_error);
  inputs[2] = graft_graph_add_tensor (graph, bias_name, GRAFT_VALUE_PARAMETER, &bias_shape, folded_bias,
                                      engine_error);
  if (inputs[1] < 0 || inputs[2] < 0)
    return -1;
  graft_graph_set_trainable (graph, inputs[1], FALSE);
  graft_graph_set_trainable (graph, inputs[2], FALSE);
  return graft_graph_add_node (graph, conv->name, &conv->attributes, inputs, 3,
                               graft_graph_value (full, bn->output)->name, engine_error);
}

static graft_graph *
extract (const graft_graph *full, int input, int first, int end, gboolean fold, GError **error)
{
  const graft_value *in = graft_graph_value (full, input);
  int n_values = graft_graph_value_count (full);
  g_autofree int *map = g_new (int, MAX (1, n_values));
  g_autofree int *readers = g_new0 (int, MAX (1, n_values));
  graft_shape shape = in->shape;
  graft_error engine_error;
  graft_graph *graph = graft_graph_new ();

  for (int v = 0; v < n_values; v++)
    map[v] = -1;
  for (int i = 0; i < graft_graph_node_count (full); i++)
    {
      const graft_node *node = graft_graph_node (full, i);
      for (int k = 0; k < node->n_inputs; k++)
        readers[node->inputs[k]]++;
    }
  shape.dims[0] = 1; /* plans set the batch */
  map[input] = graft_graph_add_input (graph, in->name, &shape, &engine_error);
  if (map[input] < 0)
    goto fail;
  for (int i = first; i < end; i++)
    {
      const graft_node *node = graft_graph_node (full, i);
      g_autofree int *inputs = NULL;
      int bn = fold ? foldable_batchnorm (full, i, end, readers) : -1;
      if (bn >= 0 && map[node->inputs[0]] >= 0)
        {
          const graft_node *batchnorm = graft_graph_node (full, bn);
          map[batchnorm->output] = add_folded_conv (graph, full, node, batchnorm, map[node->inputs[0]], &engine_error);
          if (map[batchnorm->output] < 0)
            goto fail;
          i = bn;
          continue;
        }
      inputs = g_new (int, MAX (1, node->n_inputs));
      for (int k = 0; k < node->n_inputs; k++)
        {
          const graft_value *value = graft_graph_value (full, node->inputs[k]);
          if (map[node->inputs[k]] < 0)
            {
              if (value->kind == GRAFT_VALUE_ACTIVATION || value->kind == GRAFT_VALUE_INPUT)
                {
                  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                               "%s reads %s, which is neither %s nor computed after it", node->name, value->name,
                               in->name);
                  graft_graph_free (graph);
                  return NULL;
                }
              map[node->inputs[k]] = graft_graph_add_tensor (graph, value->name, value->kind, &value->shape,
                                                             value->data, &engine_error);
              if (map[node->inputs[k]] < 0)
                goto fail;
              if (value->kind == GRAFT_VALUE_PARAMETER)
                {
                  graft_graph_set_trainable (graph, map[node->inputs[k]], value->trainable);
                  graft_graph_set_lr_multiplier (graph, map[node->inputs[k]], value->lr_multiplier);
                }
            }
          inputs[k] = map[node->inputs[k]];
        }
      map[node->output] = graft_graph_add_node (graph, node->name, &node->attributes, inputs, node->n_inputs,
                                                graft_graph_value (full, node->output)->name, &engine_error);
      if (map[node->output] < 0)
        goto fail;
      graft_graph_set_batchnorm_batch_statistics (graph, graft_graph_node_count (graph) - 1,
                                                  node->batchnorm_batch_statistics);
    }
  return graph;

fail:
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID, "%s", engine_error.message);
  graft_graph_free (graph);
  return NULL;
}

graft_graph *
graft_subgraph_extract (const graft_graph *full, int input, int first, int end, GError **error)
{
  return extract (full, input, first, end, FALSE, error);
}

graft_graph *
graft_subgraph_extract_frozen (const graft_graph *full, int input, int first, int end, GError **error)
{
  return extract (full, input, first, end, TRUE, error);
}

static void
checksum_int (GChecksum *checksum, gint64 x)
{
  guint64 le = GUINT64_TO_LE ((guint64) x);
  g_checksum_update (checksum, (const guchar *) &le, sizeof le);
}

char *
graft_boundary_prefix_digest (const graft_graph *graph, int split)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  int n_values = graft_graph_value_count (graph);
  g_autofree gboolean *seen = g_new0 (gboolean, MAX (1, n_values));

  for (int i = 0; i < split; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      const graft_value *out = graft_graph_value (graph, node->output);
      checksum_int (checksum, node->attributes.op);
      checksum_int (checksum, node->n_inputs);
      for (int k = 0; k < node->n_inputs; k++)
        {
          const graft_value *value = graft_graph_value (graph, node->inputs[k]);
          g_checksum_update (checksum, (const guchar *) value->name, (gssize) strlen (value->name) + 1);
          if (seen[node->inputs[k]] || value->data == NULL)
            continue;
          seen[node->inputs[k]] = TRUE;
          {
            size_t count = 0;
            graft_shape_count (&value->shape, &count, NULL);
            checksum_int (checksum, (gint64) count);
            /* Weights as stored: little-endian float32 on every machine Graft runs on. */
            g_checksum_update (checksum, (const guchar *) value->data, (gssize) (count * sizeof (float)));
          }
        }
      checksum_int (checksum, out->shape.rank);
      for (int d = 1; d < out->shape.rank; d++)
        checksum_int (checksum, out->shape.dims[d]);
    }
  return g_strdup (g_checksum_get_string (checksum));
}

/* ---- The store ------------------------------------------------------------------- */

struct _GraftBoundaryStore {
  GraftEmbeddingCache *disk;   /* NULL: memory only */
  GHashTable *memory;          /* record hash -> row, without disk */
  GPtrArray *blocks;           /* rows kept in memory */
  int dim;
};

GraftBoundaryStore *
graft_boundary_store_new (const char *folder, const char *key_model, const char *key_boundary,
                          const char *key_inputs, int dim, char **warning)
{
  GraftBoundaryStore *store = g_new0 (GraftBoundaryStore, 1);

  if (warning != NULL)
    *warning = NULL;
  store->dim = dim;
  store->blocks = g_ptr_array_new_with_free_func (g_free);
  if (folder != NULL)
    {
      g_autoptr (GError) error = NULL;
      /* "boundary" keeps these files apart from the embeddings at a cut of the same name. */
      g_autofree char *cut = g_strconcat ("boundary\n", key_boundary, NULL);
      store->disk = graft_embedding_cache_open (folder, key_model, cut, key_inputs, dim, &error);
      if (store->disk == NULL && warning != NULL)
        *warning = g_strdup (error->message);
    }
  if (store->disk == NULL)
    store->memory = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return store;
}

void
graft_boundary_store_free (GraftBoundaryStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->disk, graft_embedding_cache_free);
  g_clear_pointer (&store->memory, g_hash_table_unref);
  g_ptr_array_unref (store->blocks);
  g_free (store);
}

int
graft_boundary_store_dim (const GraftBoundaryStore *store)
{
  return store->dim;
}

const char *
graft_boundary_store_path (const GraftBoundaryStore *store)
{
  return store->disk != NULL ? graft_embedding_cache_path (store->disk) : NULL;
}

/* The record's hash: the image's content hash for view 0, a hash of it and the view
 * for the others (one file holds every view). */
static char *
record_hash (const char *image_hash, int view)
{
  g_autofree char *text = NULL;
  if (view == 0)
    return g_ascii_strdown (image_hash, -1);
  text = g_strdup_printf ("%s\nview %d", image_hash, view);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

const float *
graft_boundary_store_lookup (GraftBoundaryStore *store, const char *image_hash, int view)
{
  g_autofree char *key = NULL;
  if (image_hash == NULL)
    return NULL;
  key = record_hash (image_hash, view);
  if (store->disk != NULL)
    return graft_embedding_cache_lookup (store->disk, key);
  return g_hash_table_lookup (store->memory, key);
}

const float *
graft_boundary_store_insert (GraftBoundaryStore *store, const char *image_hash, int view, const float *row,
                             GError **error)
{
  g_autofree char *key = image_hash != NULL ? record_hash (image_hash, view) : NULL;
  float *copy;

  if (key != NULL && store->disk != NULL)
    {
      const float *kept;
      gboolean written = graft_embedding_cache_insert (store->disk, key, row, error);
      kept = graft_embedding_cache_lookup (store->disk, key);
      if (kept != NULL)
        return kept;
      if (written)
        g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "%s: a record written is not found again",
                     graft_embedding_cache_path (store->disk));
    }
  copy = g_memdup2 (row, (gsize) store->dim * sizeof (float));
  g_ptr_array_add (store->blocks, copy);
  if (key != NULL && store->memory != NULL)
    g_hash_table_replace (store->memory, g_steal_pointer (&key), copy);
  return copy;
}

guint64
graft_boundary_store_bytes (guint64 rows, int dim)
{
  return rows * (64 + (guint64) dim * sizeof (float));
}
