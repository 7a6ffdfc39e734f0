/* active.c: suggestions, the labelling queue and near-duplicates (see active.h). */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "project/active.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "data/loader.h"
#include "engine/plan.h"
#include "model/surgery.h"
#include "project/project-private.h"

#define SIMILARITY_BLOCK 512

void
graft_active_suggest (const float *probabilities, guint n, int k, int *classes, float *confidences)
{
  for (guint i = 0; i < n; i++)
    {
      const float *p = probabilities + (gsize) i * k;
      int best = 0;
      for (int c = 1; c < k; c++)
        if (p[c] > p[best])
          best = c;
      if (classes != NULL)
        classes[i] = best;
      if (confidences != NULL)
        confidences[i] = k > 0 ? p[best] : 0.0f;
    }
}

float
graft_active_uncertainty (const float *p, int k, GraftUncertainty measure)
{
  if (k <= 1)
    return 0.0f;
  float p1 = -INFINITY, p2 = -INFINITY;
  for (int c = 0; c < k; c++)
    {
      if (p[c] > p1)
        {
          p2 = p1;
          p1 = p[c];
        }
      else if (p[c] > p2)
        p2 = p[c];
    }
  switch (measure)
    {
    case GRAFT_UNCERTAINTY_ENTROPY:
      {
        double h = 0;
        for (int c = 0; c < k; c++)
          if (p[c] > 0)
            h -= p[c] * log (p[c]);
        return (float) CLAMP (h / log (k), 0.0, 1.0);
      }
    case GRAFT_UNCERTAINTY_LEAST_CONFIDENCE:
      return CLAMP ((1.0f - p1) * k / (k - 1), 0.0f, 1.0f);
    case GRAFT_UNCERTAINTY_MARGIN:
    default:
      return CLAMP (1.0f - (p1 - p2), 0.0f, 1.0f);
    }
}

typedef struct {
  guint index;
  float uncertainty;
} Ranked;

static int
compare_ranked (gconstpointer a, gconstpointer b)
{
  const Ranked *x = a, *y = b;
  if (x->uncertainty != y->uncertainty)
    return x->uncertainty > y->uncertainty ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Unit-length copy of rows (zero rows stay zero). */
static float *
normalised (const float *rows, guint n, int dim)
{
  float *out = g_new (float, (gsize) n * dim);
  for (guint i = 0; i < n; i++)
    {
      const float *x = rows + (gsize) i * dim;
      double norm = 0;
      for (int d = 0; d < dim; d++)
        norm += (double) x[d] * x[d];
      float scale = norm > 0 ? (float) (1.0 / sqrt (norm)) : 0.0f;
      for (int d = 0; d < dim; d++)
        out[(gsize) i * dim + d] = x[d] * scale;
    }
  return out;
}

static float
dot (const float *a, const float *b, int dim)
{
  float s = 0;
  for (int d = 0; d < dim; d++)
    s += a[d] * b[d];
  return s;
}

GArray *
graft_active_queue (const float *probabilities, guint n, int k, const float *embeddings, int dim,
                    const float *labelled_embeddings, guint n_labelled, const GraftActiveQueueOptions *options)
{
  g_return_val_if_fail (probabilities != NULL || n == 0, NULL);
  GraftActiveQueueOptions o = { GRAFT_UNCERTAINTY_MARGIN, 0, 0 };
  if (options != NULL)
    o = *options;
  guint length = o.length == 0 || o.length > n ? n : o.length;
  guint pool = o.pool != 0 ? o.pool : MAX (10 * length, 100);
  pool = MIN (pool, n);

  g_autoptr (GArray) ranked = g_array_sized_new (FALSE, FALSE, sizeof (Ranked), n);
  for (guint i = 0; i < n; i++)
    {
      Ranked r = { i, graft_active_uncertainty (probabilities + (gsize) i * k, k, o.measure) };
      g_array_append_val (ranked, r);
    }
  g_array_sort (ranked, compare_ranked);

  GArray *queue = g_array_sized_new (FALSE, FALSE, sizeof (guint), length);
  if (embeddings == NULL || dim <= 0 || pool <= 1)
    {
      for (guint i = 0; i < length; i++)
        g_array_append_val (queue, g_array_index (ranked, Ranked, i).index);
      return queue;
    }

  /* The pool, unit length; d[i]: cosine distance to the nearest centre so far. */
  g_autofree float *units = g_new (float, (gsize) pool * dim);
  for (guint i = 0; i < pool; i++)
    {
      guint index = g_array_index (ranked, Ranked, i).index;
      memcpy (units + (gsize) i * dim, embeddings + (gsize) index * dim, sizeof (float) * dim);
    }
  g_autofree float *pool_units = normalised (units, pool, dim);
  g_autofree float *distance = g_new (float, pool);
  g_autofree gboolean *taken = g_new0 (gboolean, pool);
  for (guint i = 0; i < pool; i++)
    distance[i] = 2.0f;   /* farther than any cosine distance: "no centre yet" */
  if (labelled_embeddings != NULL && n_labelled > 0)
    {
      g_autofree float *labelled = normalised (labelled_embeddings, n_labelled, dim);
      for (guint j = 0; j < n_labelled; j++)
        for (guint i = 0; i < pool; i++)
          {
            float dj = 1.0f - dot (pool_units + (gsize) i * dim, labelled + (gsize) j * dim, dim);
            if (dj < distance[i])
              distance[i] = MAX (dj, 0.0f);
          }
    }

  guint chosen = 0;
  while (chosen < MIN (length, pool))
    {
      gint best = -1;
      float best_score = -1;
      for (guint i = 0; i < pool; i++)
        {
          if (taken[i])
            continue;
          const float u = g_array_index (ranked, Ranked, i).uncertainty;
          /* "no centre yet" counts as distance 1, so the first pick is the most uncertain */
          const float score = u * MIN (distance[i], 1.0f) + 1e-6f * u;
          if (score > best_score)
            {
              best_score = score;
              best = (gint) i;
            }
        }
      if (best < 0)
        break;
      taken[best] = TRUE;
      g_array_append_val (queue, g_array_index (ranked, Ranked, best).index);
      chosen++;
      const float *centre = pool_units + (gsize) best * dim;
      for (guint i = 0; i < pool; i++)
        if (!taken[i])
          {
            float di = 1.0f - dot (pool_units + (gsize) i * dim, centre, dim);
            if (di < distance[i])
              distance[i] = MAX (di, 0.0f);
          }
    }
  for (guint i = pool; queue->len < length && i < n; i++)
    g_array_append_val (queue, g_array_index (ranked, Ranked, i).index);
  return queue;
}

static int
compare_pairs (gconstpointer a, gconstpointer b)
{
  const GraftNearDuplicate *x = a, *y = b;
  if (x->across_splits != y->across_splits)
    return x->across_splits ? -1 : 1;
  if (x->similarity != y->similarity)
    return x->similarity > y->similarity ? -1 : 1;
  if (x->a != y->a)
    return x->a < y->a ? -1 : 1;
  return x->b < y->b ? -1 : x->b > y->b;
}

static gboolean
across (const int *splits, guint a, guint b)
{
  if (splits == NULL)
    return FALSE;
  int x = splits[a], y = splits[b];
  return (x == GRAFT_SPLIT_TRAIN && (y == GRAFT_SPLIT_VALIDATION || y == GRAFT_SPLIT_TEST))
         || (y == GRAFT_SPLIT_TRAIN && (x == GRAFT_SPLIT_VALIDATION || x == GRAFT_SPLIT_TEST));
}

GArray *
graft_active_near_duplicates (const float *embeddings, guint n, int dim, const char *const *hashes, const int *splits,
                              float threshold)
{
  GArray *pairs = g_array_new (FALSE, FALSE, sizeof (GraftNearDuplicate));
  g_autoptr (GHashTable) exact = g_hash_table_new (g_int64_hash, g_int64_equal);  /* a * n + b */
  g_autoptr (GArray) keys = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (hashes != NULL)
    {
      g_autoptr (GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
      for (guint i = 0; i < n; i++)
        {
          if (hashes[i] == NULL)
            continue;
          GArray *group = g_hash_table_lookup (groups, hashes[i]);
          if (group == NULL)
            {
              group = g_array_new (FALSE, FALSE, sizeof (guint));
              g_hash_table_insert (groups, (gpointer) hashes[i], group);
            }
          for (guint j = 0; j < group->len; j++)
            {
              guint a = g_array_index (group, guint, j);
              GraftNearDuplicate pair = { a, i, 1.0f, TRUE, across (splits, a, i) };
              g_array_append_val (pairs, pair);
              gint64 key = (gint64) a * n + i;
              g_array_append_val (keys, key);
            }
          g_array_append_val (group, i);
        }
      for (guint i = 0; i < keys->len; i++)
        g_hash_table_add (exact, &g_array_index (keys, gint64, i));
    }

  if (embeddings != NULL && dim > 0 && n > 1)
    {
      g_autofree float *units = normalised (embeddings, n, dim);
      g_autofree float *block = g_new (float, (gsize) SIMILARITY_BLOCK * n);
      for (guint start = 0; start < n; start += SIMILARITY_BLOCK)
        {
          guint rows = MIN (SIMILARITY_BLOCK, n - start);
          /* block (rows, n) = units[start:start+rows] (rows, dim) x units^T (dim, n) */
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) n, dim, 1.0f,
                       units + (gsize) start * dim, dim, units, dim, 0.0f, block, (int) n);
          for (guint r = 0; r < rows; r++)
            {
              guint a = start + r;
              for (guint b = a + 1; b < n; b++)
                {
                  float s = block[(gsize) r * n + b];
                  if (s < threshold)
                    continue;
                  gint64 key = (gint64) a * n + b;
                  if (g_hash_table_contains (exact, &key))
                    continue;
                  GraftNearDuplicate pair = { a, b, MIN (s, 1.0f), FALSE, across (splits, a, b) };
                  g_array_append_val (pairs, pair);
                }
            }
        }
    }
  g_array_sort (pairs, compare_pairs);
  return pairs;
}

/* ---- Over a project ----------------------------------------------------------------- */

GArray *
graft_active_project_queue (GraftProject *project, const GraftActiveQueueOptions *options, GError **error)
{
  g_autoptr (GraftPredictionSet) unlabelled = graft_project_get_predictions (project, TRUE, error);
  if (unlabelled == NULL)
    return NULL;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (unlabelled->ids->len == 0)
    return ids;
  if (unlabelled->probabilities == NULL)
    {
      g_array_unref (ids);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   _("The stored predictions have no probabilities (or not the same number of classes)"));
      return NULL;
    }
  /* The labelled images' embeddings: what is already covered. */
  g_autofree float *labelled = NULL;
  guint n_labelled = 0;
  if (unlabelled->embeddings != NULL)
    {
      g_autoptr (GraftPredictionSet) all = graft_project_get_predictions (project, FALSE, error);
      if (all == NULL)
        {
          g_array_unref (ids);
          return NULL;
        }
      if (all->embeddings != NULL && all->dim == unlabelled->dim)
        {
          g_autoptr (GHashTable) is_unlabelled = g_hash_table_new (g_int64_hash, g_int64_equal);
          for (guint i = 0; i < unlabelled->ids->len; i++)
            g_hash_table_add (is_unlabelled, &g_array_index (unlabelled->ids, gint64, i));
          labelled = g_new (float, (gsize) all->ids->len * all->dim);
          for (guint i = 0; i < all->ids->len; i++)
            if (!g_hash_table_contains (is_unlabelled, &g_array_index (all->ids, gint64, i)))
              memcpy (labelled + (gsize) n_labelled++ * all->dim, all->embeddings + (gsize) i * all->dim,
                      sizeof (float) * all->dim);
        }
    }
  g_autoptr (GArray) queue = graft_active_queue (unlabelled->probabilities, unlabelled->ids->len, unlabelled->k,
                                                 unlabelled->embeddings, unlabelled->dim, labelled, n_labelled, options);
  for (guint i = 0; i < queue->len; i++)
    g_array_append_val (ids, g_array_index (unlabelled->ids, gint64, g_array_index (queue, guint, i)));
  return ids;
}

static int
compare_id_pairs (gconstpointer a, gconstpointer b)
{
  const GraftDuplicatePair *x = a, *y = b;
  if (x->across_splits != y->across_splits)
    return x->across_splits ? -1 : 1;
  if (x->similarity != y->similarity)
    return x->similarity > y->similarity ? -1 : 1;
  if (x->a != y->a)
    return x->a < y->a ? -1 : 1;
  return x->b < y->b ? -1 : x->b > y->b;
}

GArray *
graft_active_project_duplicates (GraftProject *project, float threshold, GError **error)
{
  GArray *result = g_array_new (FALSE, FALSE, sizeof (GraftDuplicatePair));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* Exact: every hashed image, embeddings or not. */
  g_autoptr (GPtrArray) groups = graft_project_duplicate_groups (project, error);
  if (groups == NULL)
    {
      g_array_unref (result);
      return NULL;
    }
  for (guint g = 0; g < groups->len; g++)
    {
      GArray *group = g_ptr_array_index (groups, g);
      g_autofree int *splits = g_new0 (int, group->len);
      for (guint i = 0; i < group->len; i++)
        {
          GraftImageInfo info = { 0 };
          if (graft_project_get_image (project, g_array_index (group, gint64, i), &info, NULL))
            splits[i] = info.split;
          graft_image_info_clear (&info);
        }
      for (guint i = 0; i < group->len; i++)
        for (guint j = i + 1; j < group->len; j++)
          {
            GraftDuplicatePair pair = { g_array_index (group, gint64, i), g_array_index (group, gint64, j), 1.0f, TRUE,
                                        across (splits, i, j) };
            g_array_append_val (result, pair);
            g_hash_table_add (seen, g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, pair.a, pair.b));
          }
    }

  /* Near: the images with stored embeddings. */
  g_autoptr (GraftPredictionSet) all = graft_project_get_predictions (project, FALSE, error);
  if (all == NULL)
    {
      g_array_unref (result);
      return NULL;
    }
  if (all->embeddings != NULL)
    {
      g_autoptr (GArray) near = graft_active_near_duplicates (all->embeddings, all->ids->len, all->dim, NULL,
                                                              (const int *) all->splits->data, threshold);
      for (guint i = 0; i < near->len; i++)
        {
          const GraftNearDuplicate *d = &g_array_index (near, GraftNearDuplicate, i);
          GraftDuplicatePair pair = { g_array_index (all->ids, gint64, d->a), g_array_index (all->ids, gint64, d->b),
                                      d->similarity, FALSE, d->across_splits };
          g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, pair.a, pair.b);
          if (!g_hash_table_contains (seen, key))
            g_array_append_val (result, pair);
        }
    }
  /* Same order as graft_active_near_duplicates: across first, then similarity. */
  g_array_sort (result, compare_id_pairs);
  return result;
}

/* ---- Predictions of a trained model --------------------------------------------------- */

#define PREDICT_BATCH 32
#define PREDICT_DECODE_THREADS 2
#define PREDICT_STORE_CHUNK 512   /* predictions stored per transaction */

static gboolean
engine_ok (graft_status status, const graft_error *engine_error, GError **error)
{
  if (status == GRAFT_OK)
    return TRUE;
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_FAILED, _("Cannot run the model: %s"),
               engine_error->message);
  return FALSE;
}

typedef struct {
  GArray *predictions;   /* GraftPrediction, pointing into probabilities and embeddings */
  float *probabilities;  /* (PREDICT_STORE_CHUNK, k) */
  float *embeddings;     /* (PREDICT_STORE_CHUNK, dim), NULL without */
} PredictChunk;

static gboolean
flush_chunk (GraftProject *project, gint64 run_id, PredictChunk *chunk, guint *stored, GError **error)
{
  if (chunk->predictions->len == 0)
    return TRUE;
  if (!graft_project_set_predictions (project, run_id, (const GraftPrediction *) (gpointer) chunk->predictions->data,
                                      chunk->predictions->len, error))
    return FALSE;
  *stored += chunk->predictions->len;
  g_array_set_size (chunk->predictions, 0);
  return TRUE;
}

gboolean
graft_active_project_predict (GraftProject *project, gint64 run_id, GraftModel *model, GPtrArray *classes,
                              const GraftPreprocessing *prep, GCancellable *cancellable, guint *stored_out,
                              GError **error)
{
  const graft_shape *logits_shape = &graft_graph_value (model->graph, model->logits)->shape;
  GraftImageQuery query = { .filter = GRAFT_FILTER_ALL };
  g_autoptr (GArray) images = NULL;
  g_autofree gint64 *class_ids = NULL;
  g_autofree GraftLoaderItem *items = NULL;
  g_autofree gint64 *item_ids = NULL;
  g_autoptr (GraftLoader) loader = NULL;
  g_autoptr (GraftBatch) batch = NULL;
  GraftLoaderOptions options;
  PredictChunk chunk = { 0 };
  graft_plan *plans[2] = { NULL, NULL };
  int plan_batches[2] = { 0, 0 };
  int embedding, keep[2], k, dim = 0;
  guint n_items = 0, stored = 0;
  gsize item_floats = graft_preprocessing_floats (prep);
  g_autoptr (GError) local_error = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (classes != NULL, FALSE);
  if (stored_out != NULL)
    *stored_out = 0;
  k = logits_shape->rank == 2 ? (int) logits_shape->dims[1] : -1;
  if (k < 1 || k != (int) classes->len)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   _("The model gives %d class scores for %u classes"), k, classes->len);
      return FALSE;
    }
  /* The model's outputs are its classes in their order; a class deleted since gets no
   * prediction. */
  class_ids = g_new0 (gint64, k);
  for (int c = 0; c < k; c++)
    class_ids[c] = graft_project_find_class (project, g_ptr_array_index (classes, c));

  /* The embedding: what the classifier reads (before any Dropout), the features the
   * head was trained on; its width is the diversity step's dimension. */
  embedding = graft_model_default_cut (model);
  if (embedding >= 0)
    {
      const graft_shape *shape = &graft_graph_value (model->graph, embedding)->shape;
      gint64 width = 1;
      for (int d = 1; d < shape->rank; d++)
        width *= shape->dims[d];
      if (shape->rank >= 2 && width > 0 && width <= 1 << 16)
        dim = (int) width;
      else
        embedding = -1;
    }

  images = graft_project_query_images (project, &query, 0, G_MAXUINT, error);
  if (images == NULL)
    return FALSE;
  items = g_new (GraftLoaderItem, MAX (1, images->len));
  item_ids = g_new (gint64, MAX (1, images->len));
  for (guint i = 0; i < images->len; i++)
    {
      const GraftImageInfo *info = &g_array_index (images, GraftImageInfo, i);
      if (info->missing)
        continue;
      items[n_items] = (GraftLoaderItem) { info->path, -1 };
      item_ids[n_items++] = info->id;
    }
  /* Predictions of an older model go, also for images this one cannot read. */
  if (!graft_project_clear_predictions (project, error))
    return FALSE;
  if (n_items == 0)
    return TRUE;

  graft_loader_options_init (&options);
  options.preprocessing = *prep;
  graft_augmentation_init_none (&options.augmentation);
  options.batch_size = PREDICT_BATCH;
  options.shuffle = FALSE;
  options.threads = PREDICT_DECODE_THREADS;
  loader = graft_loader_new (items, n_items, &options, error);
  if (loader == NULL)
    return FALSE;

  keep[0] = model->logits;
  keep[1] = embedding;
  chunk.predictions = g_array_new (FALSE, TRUE, sizeof (GraftPrediction));
  chunk.probabilities = g_new (float, (gsize) (PREDICT_STORE_CHUNK + PREDICT_BATCH) * k);
  chunk.embeddings = dim > 0 ? g_new (float, (gsize) (PREDICT_STORE_CHUNK + PREDICT_BATCH) * dim) : NULL;
  graft_loader_start_epoch (loader, 0);
  for (;;)
    {
      graft_plan *plan = NULL;
      graft_error engine_error;
      const float *logits, *features = NULL;
      int n;

      g_clear_pointer (&batch, graft_batch_free);
      if (!graft_loader_next (loader, &batch, &local_error) || batch == NULL)
        break;
      n = batch->size;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      for (int p = 0; p < 2; p++)
        if (plans[p] != NULL && plan_batches[p] == n)
          plan = plans[p];
      if (plan == NULL)
        {
          /* Two plans at most: the full batch and the last, smaller one. */
          graft_plan_options plan_options = { .mode = GRAFT_PLAN_INFERENCE, .batch = n, .keep = keep,
                                              .n_keep = embedding >= 0 ? 2 : 1, .loss_logits = model->logits };
          g_clear_pointer (&plans[1], graft_plan_free);
          plans[1] = plans[0];
          plan_batches[1] = plan_batches[0];
          plans[0] = plan = graft_plan_new (model->graph, &plan_options, &engine_error);
          plan_batches[0] = n;
          if (plan == NULL)
            {
              ok = engine_ok (engine_error.status, &engine_error, error);
              break;
            }
        }
      if (!engine_ok (graft_plan_set_input (plan, model->input, batch->images, item_floats * (gsize) n, &engine_error),
                      &engine_error, error)
          || !engine_ok (graft_plan_forward (plan, &engine_error), &engine_error, error))
        {
          ok = FALSE;
          break;
        }
      logits = graft_plan_value_data (plan, model->logits, NULL);
      if (embedding >= 0)
        features = graft_plan_value_data (plan, embedding, NULL);
      for (int i = 0; i < n; i++)
        {
          const float *row = logits + (gsize) i * k;
          guint slot = chunk.predictions->len;
          float *p = chunk.probabilities + (gsize) slot * k;
          GraftPrediction prediction = { 0 };
          float max = row[0];
          double sum = 0;
          int best = 0;

          for (int c = 1; c < k; c++)
            max = fmaxf (max, row[c]);
          for (int c = 0; c < k; c++)
            sum += exp (row[c] - max);
          for (int c = 0; c < k; c++)
            {
              p[c] = (float) (exp (row[c] - max) / sum);
              if (p[c] > p[best])
                best = c;
            }
          if (!isfinite (p[best]) || class_ids[best] == 0)
            continue;
          prediction.image_id = item_ids[batch->indices[i]];
          prediction.class_id = class_ids[best];
          prediction.confidence = p[best];
          prediction.probabilities = p;
          prediction.n_probabilities = k;
          if (features != NULL)
            {
              float *e = chunk.embeddings + (gsize) slot * dim;
              memcpy (e, features + (gsize) i * dim, sizeof (float) * dim);
              prediction.embedding = e;
              prediction.dim = dim;
            }
          g_array_append_val (chunk.predictions, prediction);
        }
      if (chunk.predictions->len >= PREDICT_STORE_CHUNK && !flush_chunk (project, run_id, &chunk, &stored, error))
        {
          ok = FALSE;
          break;
        }
    }
  if (ok && local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      ok = FALSE;
    }
  if (ok)
    ok = flush_chunk (project, run_id, &chunk, &stored, error);
  graft_loader_stop (loader);
  for (int p = 0; p < 2; p++)
    g_clear_pointer (&plans[p], graft_plan_free);
  g_array_unref (chunk.predictions);
  g_free (chunk.probabilities);
  g_free (chunk.embeddings);
  if (stored_out != NULL)
    *stored_out = stored;
  return ok;
}
