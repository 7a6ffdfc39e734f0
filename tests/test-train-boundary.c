/* The boundary cache: fine-tuning the top of the toy network runs the frozen layers
 * once per image (and per cached view), gives the weights the uncached run gives,
 * never reuses activations of another model, boundary, preprocessing or image, follows
 * stages that move the boundary, and steps aside when it would exceed its limit; the LR
 * finder sweeps over it; dropout above it draws the uncached run's masks. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "engine/parallel.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model-private.h"
#include "train/boundary-cache.h"
#include "train/trainer.h"
#include "toy-images.h"
#include "toy-network.h"

static char *folder;   /* ImageFolder of the toy task: train/ and val/, 3 classes */

static void
on_log (const char *message, gpointer user_data)
{
  g_string_append_printf (user_data, "%s\n", message);
}

/* Fine-tuning the top blocks of the toy model, augmentation off, no dropout. */
static GraftSessionSpec *
fine_tune_spec (const GraftModel *base)
{
  GraftSessionSpec *spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  toy_preprocessing (spec);
  graft_augmentation_init_none (&spec->augmentation);
  spec->epochs = 3;
  spec->optimizer.learning_rate = 1e-2f;
  spec->model_sha256 = g_strdup ("0000000000000000000000000000000000000000000000000000000000000001");
  return spec;
}

typedef struct {
  GraftBoundaryCacheReport report;
  char *boundary;
  GString *log;
  GraftTrainer *trainer;
  GraftModel *model;   /* the trainer's */
} run_result;

static void
run_result_clear (run_result *r)
{
  g_free (r->boundary);
  if (r->log != NULL)
    g_string_free (r->log, TRUE);
  graft_trainer_free (r->trainer);
  memset (r, 0, sizeof *r);
}

static void
run (const GraftModel *base, const GraftSessionSpec *spec, const GraftDataset *train, const GraftDataset *validation,
     const char *cache, guint64 limit, run_result *r)
{
  GraftTrainer *trainer;
  g_autoptr (GError) error = NULL;
  GraftTrainerHooks hooks = { 0 };

  memset (r, 0, sizeof *r);
  r->log = g_string_new (NULL);
  hooks.on_log = on_log;
  hooks.user_data = r->log;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_no_error (error);
  g_assert_false (graft_trainer_uses_embedding_cache (trainer));
  graft_trainer_set_hooks (trainer, &hooks);
  graft_trainer_set_cache_folder (trainer, cache);
  graft_trainer_set_cache_limit (trainer, limit);
  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_no_error (error);
  graft_trainer_get_boundary_cache_report (trainer, &r->report);
  r->boundary = g_strdup (r->report.boundary);
  r->report.boundary = r->boundary;
  r->report.reason = NULL;
  r->trainer = trainer;
  r->model = graft_trainer_get_model (trainer);
  g_test_message ("%s", r->log->str);
}

/* Every parameter and buffer of a equals b's within rel, relative to the tensor's largest value. */
static void
assert_same_weights (GraftModel *a, GraftModel *b, double rel)
{
  int compared = 0;
  for (int v = 0; v < graft_graph_value_count (a->graph); v++)
    {
      const graft_value *value = graft_graph_value (a->graph, v);
      int w = graft_graph_find_value (b->graph, value->name);
      const float *x, *y;
      size_t count;
      double largest = 0, diff = 0;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      g_assert_cmpint (w, >=, 0);
      graft_shape_count (&value->shape, &count, NULL);
      x = value->data;
      y = graft_graph_value (b->graph, w)->data;
      for (size_t i = 0; i < count; i++)
        {
          largest = fmax (largest, fabs (x[i]));
          diff = fmax (diff, fabs ((double) x[i] - y[i]));
        }
      if (diff > rel * fmax (largest, 1e-6))
        g_error ("%s differs by %g (largest value %g)", value->name, diff, largest);
      compared++;
    }
  g_assert_cmpint (compared, >, 4);
}

static void
assert_weights_moved (GraftModel *trained, const GraftModel *base, const char *name, gboolean moved)
{
  int v = graft_graph_find_value (trained->graph, name), w = graft_graph_find_value (base->graph, name);
  size_t count;
  g_assert_cmpint (v, >=, 0);
  g_assert_cmpint (w, >=, 0);
  graft_shape_count (&graft_graph_value (base->graph, w)->shape, &count, NULL);
  g_assert_cmpint (memcmp (graft_graph_value (trained->graph, v)->data, graft_graph_value (base->graph, w)->data,
                           count * sizeof (float)) != 0, ==, moved);
}

static void
test_find (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  graft_graph *graph = base->graph;
  int split, value, conv2 = -1, se_reduce = -1;
  char *reason = NULL;

  for (int i = 0; i < graft_graph_node_count (graph); i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER)
          graft_graph_set_trainable (graph, node->inputs[k], FALSE);
      graft_graph_set_batchnorm_batch_statistics (graph, i, FALSE);
      if (g_str_equal (node->name, "conv2"))
        conv2 = i;
      if (g_str_equal (node->name, "se.reduce"))
        se_reduce = i;
    }
  /* Nothing trains: no boundary, and nothing to say. */
  g_assert_false (graft_boundary_find (graph, &split, &value, &reason));
  g_assert_null (reason);

  /* Training from conv2, inside the residual block: relu1 is both the block's input
   * and its skip path, one value. */
  graft_graph_set_trainable (graph, graft_graph_find_value (graph, "conv2.weight"), TRUE);
  g_assert_true (graft_boundary_find (graph, &split, &value, &reason));
  g_assert_cmpint (split, ==, conv2);
  g_assert_cmpstr (graft_graph_value (graph, value)->name, ==, "relu1");

  /* Training from se.reduce only: two values cross there (the pooled gate and relu2),
   * so the split goes down to the squeeze-excite block's start, where relu2 alone does. */
  graft_graph_set_trainable (graph, graft_graph_find_value (graph, "conv2.weight"), FALSE);
  graft_graph_set_trainable (graph, graft_graph_find_value (graph, "se.reduce.weight"), TRUE);
  g_assert_true (graft_boundary_find (graph, &split, &value, &reason));
  g_assert_cmpint (split, <, se_reduce);
  g_assert_cmpstr (graft_graph_value (graph, value)->name, ==, "relu2");

  /* A frozen BatchNorm that normalises with the batch changes from step to step. */
  graft_graph_set_batchnorm_batch_statistics (graph, 1, TRUE);
  g_assert_false (graft_boundary_find (graph, &split, &value, &reason));
  g_assert_nonnull (reason);
  g_assert_nonnull (strstr (reason, "bn1"));
  g_free (reason);
}

/* The frozen prefix folds each inference-mode BatchNorm into the Conv before it and
 * computes what the unfolded layers compute. */
static void
test_fold (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  graft_graph *graph = base->graph;
  int split = 0, value = 0, batchnorms = 0;
  graft_graph *plain, *folded;
  graft_plan *plans[2];
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = 4 };
  g_autofree float *images = test_floats (4 * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
  int32_t labels[4];
  GError *error = NULL;
  const float *out[2];
  graft_shape shape;
  size_t count;

  for (int i = 0; i < graft_graph_node_count (graph); i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER)
          graft_graph_set_trainable (graph, node->inputs[k], g_str_has_prefix (node->name, "dwconv"));
      graft_graph_set_batchnorm_batch_statistics (graph, i, FALSE);
    }
  g_assert_true (graft_boundary_find (graph, &split, &value, NULL));
  plain = graft_subgraph_extract (graph, base->input, 0, split, &error);
  g_assert_no_error (error);
  folded = graft_subgraph_extract_frozen (graph, base->input, 0, split, &error);
  g_assert_no_error (error);
  for (int i = 0; i < graft_graph_node_count (folded); i++)
    batchnorms += graft_graph_node (folded, i)->attributes.op == GRAFT_OP_BATCHNORM;
  g_assert_cmpint (batchnorms, ==, 0);
  g_assert_cmpint (graft_graph_node_count (folded), ==, graft_graph_node_count (plain) - 2); /* bn1, bn2 */

  toy_batch (4, 77, images, labels);
  for (int g = 0; g < 2; g++)
    {
      graft_graph *sub = g == 0 ? plain : folded;
      int keep = graft_graph_find_value (sub, graft_graph_value (graph, value)->name);
      g_assert_cmpint (keep, >=, 0);
      options.keep = &keep;
      options.n_keep = 1;
      plans[g] = graft_plan_new (sub, &options, NULL);
      g_assert_nonnull (plans[g]);
      g_assert_cmpint (graft_plan_set_input (plans[g], graft_graph_find_value (sub, "image"), images,
                                             4 * TOY_CHANNELS * TOY_SIZE * TOY_SIZE, NULL), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plans[g], NULL), ==, GRAFT_OK);
      out[g] = graft_plan_value_data (plans[g], keep, &shape);
    }
  graft_shape_count (&shape, &count, NULL);
  g_assert_cmpuint (count, >, 0);
  {
    g_autofree double *want = g_new (double, count);
    test_to_double (out[0], want, count);
    test_assert_close ("folded prefix", out[1], want, count, 1e-5, 1e-5);
  }
  for (int g = 0; g < 2; g++)
    graft_plan_free (plans[g]);
  graft_graph_free (plain);
  graft_graph_free (folded);
}

/* The same weights with and without the cache; the frozen layers run once per image. */
static void
test_parity (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  run_result cached, uncached;
  guint n_train, n_validation;

  toy_image_folder_load (folder, &train, &validation);
  n_train = train->items->len - 1; /* one broken file */
  n_validation = validation->items->len;
  run (base, spec, train, validation, NULL, G_MAXUINT64, &cached);
  /* A limit of 0 bytes: the cache is off and the log says why. */
  run (base, spec, train, validation, NULL, 0, &uncached);

  g_assert_true (cached.report.used);
  g_assert_nonnull (cached.report.boundary);
  /* Every image went through the frozen layers once, in the first epoch; the other
   * epochs (and validations) came from the cache. */
  g_assert_cmpuint (cached.report.images_computed, ==, n_train + n_validation);
  g_assert_cmpuint (cached.report.hits, ==, (spec->epochs - 1) * (n_train + n_validation));
  g_assert_nonnull (strstr (cached.log->str, "The frozen layers run once per image"));

  g_assert_false (uncached.report.used);
  g_assert_cmpuint (uncached.report.images_computed, ==, 0);
  if (strstr (uncached.log->str, "more than the cache's limit") == NULL)
    g_error ("the log does not say why the cache is off: %s", uncached.log->str);

  /* The frozen layers stayed frozen, the trainable ones moved, and alike. */
  assert_weights_moved (cached.model, base, "conv1.weight", FALSE);
  assert_weights_moved (cached.model, base, "dwconv.weight", TRUE);
  assert_same_weights (cached.model, uncached.model, 1e-5);
  run_result_clear (&cached);
  run_result_clear (&uncached);
}

/* Training from the second block: the boundary is relu2, the residual block's output
 * (8x8x8 values per image). */
static GraftSessionSpec *
stale_spec (const GraftModel *base)
{
  GraftSessionSpec *spec = fine_tune_spec (base);
  spec->stages[0].trainable_from = 1;
  spec->epochs = 1;
  return spec;
}

/* A second run reads the activations back; another model, boundary, preprocessing or a
 * changed image never does. */
static void
test_stale (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autofree char *cache = g_build_filename (folder, "boundary-cache", NULL);
  guint n_train, n_validation, n;
  run_result first, r;

  toy_image_folder_load (folder, &train, &validation);
  n_train = train->items->len - 1;
  n_validation = validation->items->len;
  n = n_train + n_validation;
  {
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    spec->epochs = 2;
    run (base, spec, train, validation, cache, G_MAXUINT64, &first);
    g_assert_cmpstr (first.report.boundary, ==, "relu2");
    g_assert_cmpuint (first.report.images_found, ==, 0);
    g_assert_cmpuint (first.report.images_computed, ==, n);

    /* The same run again: everything from the cache, nothing computed, the same weights. */
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    g_assert_cmpuint (r.report.images_found, ==, n);
    g_assert_cmpuint (r.report.images_computed, ==, 0);
    assert_same_weights (first.model, r.model, 1e-5);
    run_result_clear (&r);
  }
  {
    /* Another model file (another checksum). */
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    spec->model_sha256[63] = '2';
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    g_assert_cmpuint (r.report.images_found, ==, 0);
    run_result_clear (&r);
  }
  {
    /* The same checksum, but other frozen weights. */
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    float *w = graft_graph_tensor_data (base->graph, graft_graph_find_value (base->graph, "conv1.weight"));
    float kept = w[0];
    w[0] += 0.5f;
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    w[0] = kept;
    g_assert_cmpstr (r.report.boundary, ==, first.report.boundary);
    g_assert_cmpuint (r.report.images_found, ==, 0);
    run_result_clear (&r);
  }
  {
    /* Another boundary with as many values per image: conv2 trains too, so the
     * boundary goes down to relu1, 8x8x8 like relu2. */
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    g_hash_table_insert (spec->parameter_overrides, g_strdup ("conv2.weight"), GINT_TO_POINTER (1));
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    g_assert_true (r.report.used);
    g_assert_cmpstr (r.report.boundary, ==, "relu1");
    g_assert_cmpuint (r.report.images_found, ==, 0);
    run_result_clear (&r);
  }
  {
    /* Other preprocessing. */
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    spec->preprocessing.mean[0] += 0.125f;
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    g_assert_cmpuint (r.report.images_found, ==, 0);
    run_result_clear (&r);
  }
  {
    /* A changed image: only it is computed again. */
    g_autoptr (GraftSessionSpec) spec = stale_spec (base);
    const GraftDatasetItem *item = &g_array_index (train->items, GraftDatasetItem, 0);
    float image[TOY_CHANNELS * TOY_SIZE * TOY_SIZE];
    int32_t label;
    toy_batch (1, 987654, image, &label);
    toy_write_png (item->path, image);
    run (base, spec, train, validation, cache, G_MAXUINT64, &r);
    g_assert_cmpuint (r.report.images_found, ==, n - 1);
    g_assert_cmpuint (r.report.images_computed, ==, 1);
    run_result_clear (&r);
  }
  run_result_clear (&first);
}

/* Stages: the boundary moves down with the stage that unfreezes more, and the rows at
 * the new boundary are made in that stage's first epoch; a stage that keeps the
 * boundary keeps the rows. The weights match the uncached run's. */
static void
test_stages (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  int top = spec->stages[0].trainable_from;
  run_result cached, uncached;
  guint n;

  toy_image_folder_load (folder, &train, &validation);
  n = train->items->len - 1 + validation->items->len;
  spec->epochs = 6;
  spec->n_stages = 3;
  spec->stages[0] = (GraftUnfreezeStage) { .epoch = 0, .trainable_from = top };
  spec->stages[1] = (GraftUnfreezeStage) { .epoch = 2, .trainable_from = top, .lr = 5e-3f };
  spec->stages[2] = (GraftUnfreezeStage) { .epoch = 4, .trainable_from = MAX (0, top - 1) };
  run (base, spec, train, validation, NULL, G_MAXUINT64, &cached);
  run (base, spec, train, validation, NULL, 0, &uncached);
  g_assert_true (cached.report.used);
  /* Once per image at the first boundary (the second stage keeps it), once at the lower one. */
  g_assert_cmpuint (cached.report.images_computed, ==, 2 * n);
  g_assert_cmpuint (cached.report.hits, ==, 4 * n);
  assert_same_weights (cached.model, uncached.model, 1e-5);
  run_result_clear (&cached);
  run_result_clear (&uncached);
}

/* Augmentation with cached views: the first `views` epochs make them, later epochs
 * draw from them; the same seed gives the same weights; 0 views means fresh
 * augmentation and says so. */
static void
test_views (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  g_autofree char *cache = g_build_filename (folder, "views-cache", NULL);
  run_result a, b, fresh;
  guint n_train, n_validation;

  toy_image_folder_load (folder, &train, &validation);
  n_train = train->items->len - 1;
  n_validation = validation->items->len;
  graft_augmentation_init_default (&spec->augmentation);
  spec->augmentation.crop_scale_min = 0.6f;
  spec->augmentation.rotation_degrees = 0;
  spec->cached_views = 2;
  spec->epochs = 5;
  {
    /* The setting is part of the spec, as augmentation.cached_views. */
    g_autofree char *json = graft_session_spec_to_json (spec);
    g_autoptr (GraftSessionSpec) back = graft_session_spec_from_json (json, NULL);
    g_autoptr (GError) error = NULL;
    g_assert_nonnull (back);
    g_assert_cmpint (back->cached_views, ==, 2);
    g_assert_nonnull (strstr (json, "\"cached_views\" : 2"));
    back->cached_views = GRAFT_MAX_CACHED_VIEWS + 1;
    g_assert_false (graft_session_spec_validate (back, 3, &error));
    g_assert_nonnull (strstr (error->message, "cached_views"));
  }
  run (base, spec, train, validation, NULL, G_MAXUINT64, &a);
  g_assert_true (a.report.used);
  g_assert_cmpuint (a.report.images_computed, ==, 2 * n_train + n_validation);
  g_assert_cmpuint (a.report.hits, ==, 3 * n_train + 4 * n_validation);
  /* On disk, then read back: the same views, the same weights. */
  run (base, spec, train, validation, cache, G_MAXUINT64, &b);
  assert_same_weights (a.model, b.model, 1e-5);
  run_result_clear (&b);
  run (base, spec, train, validation, cache, G_MAXUINT64, &b);
  g_assert_cmpuint (b.report.images_found, ==, 2 * n_train + n_validation);
  g_assert_cmpuint (b.report.images_computed, ==, 0);
  assert_same_weights (a.model, b.model, 1e-5);

  spec->cached_views = 0;
  run (base, spec, train, validation, NULL, G_MAXUINT64, &fresh);
  g_assert_false (fresh.report.used);
  g_assert_nonnull (strstr (fresh.log->str, "cached_views"));
  run_result_clear (&a);
  run_result_clear (&b);
  run_result_clear (&fresh);
}

static int epochs_seen;

static void
count_epoch (const GraftEpochEvent *event, gpointer user_data)
{
  epochs_seen++;
}

static gboolean
stop_after_two_epochs (gpointer user_data)
{
  return epochs_seen >= 2;
}

/* A run with cached views stopped after two epochs and resumed (in a new trainer, with
 * no cache left) makes the views it needs again and ends with the same bits. */
static void
test_resume (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  g_autofree char *checkpoints = g_build_filename (folder, "checkpoints", NULL);
  GraftTrainerHooks stopping = { .on_epoch = count_epoch, .should_stop = stop_after_two_epochs };
  GraftBoundaryCacheReport report;
  g_autoptr (GError) error = NULL;
  run_result expected;

  toy_image_folder_load (folder, &train, &validation);
  graft_augmentation_init_default (&spec->augmentation);
  spec->augmentation.crop_scale_min = 0.6f;
  spec->augmentation.rotation_degrees = 0;
  spec->cached_views = 2;
  spec->epochs = 4;
  run (base, spec, train, validation, NULL, G_MAXUINT64, &expected);
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    graft_trainer_set_checkpoint_folder (trainer, checkpoints);
    graft_trainer_set_hooks (trainer, &stopping);
    epochs_seen = 0;
    g_assert_true (graft_trainer_run (trainer, &error));
    g_assert_no_error (error);
    g_assert_cmpint (epochs_seen, ==, 2);
  }
  {
    g_autoptr (GraftTrainer) trainer = graft_trainer_new (base, spec, train, validation, &error);
    g_assert_true (graft_trainer_resume_from (trainer, checkpoints, &error));
    g_assert_true (graft_trainer_run (trainer, &error));
    g_assert_no_error (error);
    graft_trainer_get_boundary_cache_report (trainer, &report);
    /* Both views of every training image, made again for epochs 2 and 3. */
    g_assert_true (report.used);
    g_assert_cmpuint (report.images_computed, ==, 2 * (train->items->len - 1) + validation->items->len);
    assert_same_weights (expected.model, graft_trainer_get_model (trainer), 0);
  }
  run_result_clear (&expected);
}

/* The LR finder sweeps over what the run trains: from the boundary, the frozen layers
 * run once per image, and the run that follows finds their activations in the cache. */
static void
test_lr_finder (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  g_autofree char *cache = g_build_filename (folder, "lr-finder-cache", NULL);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GArray) lrs = NULL, losses = NULL;
  g_autoptr (GError) error = NULL;
  GraftBoundaryCacheReport report;
  float suggestion;
  guint n_train, n_validation;

  toy_image_folder_load (folder, &train, &validation);
  n_train = train->items->len - 1; /* one broken file */
  n_validation = validation->items->len;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_no_error (error);
  graft_trainer_set_cache_folder (trainer, cache);
  g_assert_true (graft_trainer_find_lr (trainer, 1e-4f, 1.0f, 12, &lrs, &losses, &suggestion, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lrs->len, >=, 2);
  graft_trainer_get_boundary_cache_report (trainer, &report);
  g_assert_true (report.used);
  g_assert_cmpuint (report.images_computed, ==, n_train);
  /* Its weights are back as they were: the run starts from the model. */
  assert_weights_moved (graft_trainer_get_model (trainer), base, "dwconv.weight", FALSE);

  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_no_error (error);
  graft_trainer_get_boundary_cache_report (trainer, &report);
  g_assert_true (report.used);
  g_assert_cmpuint (report.images_found, ==, n_train);
  g_assert_cmpuint (report.images_computed, ==, n_validation);
}

/* A dropout above the boundary draws, with the cache, the masks it draws without: its
 * plan numbers the nodes as the whole graph does. */
static void
test_dropout (void)
{
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = fine_tune_spec (base);
  run_result cached, uncached;

  /* The new head's dropout (the model's own goes with the head it replaces). */
  spec->head.dropout = 0.5f;
  toy_image_folder_load (folder, &train, &validation);
  run (base, spec, train, validation, NULL, G_MAXUINT64, &cached);
  run (base, spec, train, validation, NULL, 0, &uncached);
  g_assert_true (cached.report.used);
  g_assert_false (uncached.report.used);
  assert_same_weights (cached.model, uncached.model, 1e-5);
  run_result_clear (&cached);
  run_result_clear (&uncached);
}

int
main (int argc, char **argv)
{
  int status;
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (2);
  folder = toy_image_folder_new (96, 48, TRUE);
  g_test_add_func ("/train/boundary/find", test_find);
  g_test_add_func ("/train/boundary/fold", test_fold);
  g_test_add_func ("/train/boundary/parity", test_parity);
  g_test_add_func ("/train/boundary/stale", test_stale);
  g_test_add_func ("/train/boundary/stages", test_stages);
  g_test_add_func ("/train/boundary/views", test_views);
  g_test_add_func ("/train/boundary/resume", test_resume);
  g_test_add_func ("/train/boundary/lr-finder", test_lr_finder);
  g_test_add_func ("/train/boundary/dropout", test_dropout);
  status = g_test_run ();
  test_remove_tree (folder);
  g_free (folder);
  return status;
}
