/* The session spec: presets, validation, JSON round trip, schedules and stages. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "../bench/mobilenet-v2.c"
#include "model/model-private.h"
#include "train/spec.h"

static GraftModel *
model_with_blocks (int n)
{
  GraftModel *model = g_new0 (GraftModel, 1);
  model->blocks = g_array_new (FALSE, TRUE, sizeof (GraftBlock));
  g_array_set_size (model->blocks, (guint) n);
  return model;
}

static void
free_model (GraftModel *model)
{
  g_array_unref (model->blocks);
  g_free (model);
}

static void
test_presets_validate (void)
{
  GraftModel *model = model_with_blocks (10);
  for (int s = GRAFT_STRATEGY_FEATURE_EXTRACTION; s <= GRAFT_STRATEGY_CUSTOM; s++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (s, model);
      g_autoptr (GError) error = NULL;
      if (!graft_session_spec_validate (spec, 10, &error))
        g_error ("preset %s: %s", graft_strategy_to_string (s), error->message);
    }
  free_model (model);
}

static void
test_feature_extraction (void)
{
  GraftModel *model = model_with_blocks (10);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, model);
  for (int b = 0; b < 10; b++)
    g_assert_false (graft_session_spec_block_trains (spec, 0, b, NULL, 10));
  g_assert_false (spec->augmentation.enabled); /* so that embeddings can be cached */
  free_model (model);
}

static void
test_fine_tune (void)
{
  GraftModel *model = model_with_blocks (9);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, model);
  /* The top third trains, ten times slower than the head. */
  for (int b = 0; b < 9; b++)
    g_assert_cmpint (graft_session_spec_block_trains (spec, 3, b, NULL, 9), ==, b >= 6);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (spec, 0, 8, 9), 0.1, 1e-6);
  /* Overrides win over the stage. */
  g_hash_table_insert (spec->block_overrides, g_strdup ("features.2"), GINT_TO_POINTER (1));
  g_hash_table_insert (spec->block_overrides, g_strdup ("features.8"), GINT_TO_POINTER (2));
  g_assert_true (graft_session_spec_block_trains (spec, 0, 2, "features.2", 9));
  g_assert_false (graft_session_spec_block_trains (spec, 0, 8, "features.8", 9));
  free_model (model);
}

static void
test_ulmfit (void)
{
  GraftModel *model = model_with_blocks (4);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, model);
  /* Epoch 0: head only; then one more block per epoch, top down. */
  g_assert_cmpint (spec->epochs, ==, 5);
  for (int epoch = 0; epoch < 5; epoch++)
    for (int b = 0; b < 4; b++)
      g_assert_cmpint (graft_session_spec_block_trains (spec, epoch, b, NULL, 4), ==, b >= 4 - epoch);
  /* Each block down gets lr / 2.6 more. */
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (spec, 4, 3, 4), 1 / 2.6, 1e-6);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (spec, 4, 0, 4), pow (2.6, -4), 1e-7);
  free_model (model);

  /* On 19 blocks 2.6 would compound to 1.3e-8: the spread stops at two decades. */
  model = model_with_blocks (19);
  g_autoptr (GraftSessionSpec) deep = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, model);
  g_assert_cmpfloat (deep->discriminative_factor, <, 2.6f);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (deep, 19, 0, 19), 0.01, 1e-6);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (deep, 19, 18, 19),
                                  1 / deep->discriminative_factor, 1e-6);
  free_model (model);
}

static void
test_fastai (void)
{
  GraftModel *model = model_with_blocks (5);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_FASTAI, model);
  float base = spec->optimizer.learning_rate;
  /* One epoch of the head, then all blocks, lrs spread over two decades. */
  g_assert_false (graft_session_spec_block_trains (spec, 0, 4, NULL, 5));
  g_assert_true (graft_session_spec_block_trains (spec, 1, 0, NULL, 5));
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_multiplier (spec, 1, 0, 5), 0.01, 1e-6);
  /* One-cycle per stage: stage 2 starts low, peaks at base / 2. */
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 1, 0, 100), base / 2 / 25, base * 1e-3);
  free_model (model);
}

/* MobileNetV2 at 224 (blocks features.0 .. features.18, then the classifier). */
static GraftModel *
mobilenet (void)
{
  g_autoptr (GError) error = NULL;
  GraftModel *model = graft_model_new ();
  mobilenet_v2 net;
  mobilenet_v2_build (&net, 1000, 224, 7);
  model->graph = net.graph;
  model->input = net.input;
  model->output = model->logits = net.logits;
  g_assert_true (graft_model_analyse (model, &error));
  g_assert_no_error (error);
  return model;
}

static void
test_replace_top_cut (void)
{
  g_autoptr (GraftModel) model = mobilenet ();
  g_autoptr (GraftSessionSpec) replace = graft_session_spec_new (GRAFT_STRATEGY_REPLACE_TOP, model);
  int blocks = graft_session_spec_backbone_blocks (model);
  const GraftBlock *kept;
  g_assert_cmpint (blocks, ==, 19);
  /* The last stage (the 7×7 blocks features.14 to features.18) is removed: the head is
   * grafted on features.13's output and trains alone on it. */
  g_assert_cmpint (graft_session_spec_replace_top_removed_blocks (model), ==, 5);
  kept = &g_array_index (model->blocks, GraftBlock, 13);
  g_assert_cmpstr (kept->name, ==, "features.13");
  g_assert_nonnull (replace->cut);
  g_assert_cmpint (graft_graph_value (model->graph, graft_graph_find_value (model->graph, replace->cut))->producer, ==,
                   kept->last_node);
  g_assert_cmpint (replace->stages[0].trainable_from, ==, 14);
  g_assert_cmpint (replace->head.n_hidden, ==, 1);
  g_assert_true (graft_session_spec_validate (replace, 14, NULL));
  /* The other presets graft at the classifier's input (the default cut). */
  for (int s = GRAFT_STRATEGY_FEATURE_EXTRACTION; s <= GRAFT_STRATEGY_CUSTOM; s++)
    if (s != GRAFT_STRATEGY_REPLACE_TOP)
      {
        g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (s, model);
        g_assert_null (spec->cut);
      }
  /* A model with no layer analysis, or too few blocks, loses at most half of them. */
  {
    GraftModel *two = model_with_blocks (1);
    g_assert_cmpint (graft_session_spec_replace_top_removed_blocks (two), ==, 0);
    free_model (two);
  }
}

/* Augmentation that suits 224-pixel photos is off for small inputs (it cost the sample's
 * 32-pixel images 10 to 20 points). */
static void
test_augmentation_adapts (void)
{
  GraftModel *model = model_with_blocks (6);
  model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int s = GRAFT_STRATEGY_FINE_TUNE; s <= GRAFT_STRATEGY_PROGRESSIVE_FASTAI; s++)
    {
      g_autoptr (GraftSessionSpec) photos = graft_session_spec_new (s, model);
      g_autoptr (GraftSessionSpec) small = NULL;
      g_assert_cmpint (photos->preprocessing.size, ==, 224);
      g_assert_true (photos->augmentation.enabled);
      /* Fine-tuning keeps its frozen blocks' output for 8 augmented views (spec.h says why);
       * the progressive presets move the boundary each stage and keep none. */
      g_assert_cmpint (photos->cached_views, ==, s == GRAFT_STRATEGY_FINE_TUNE ? 8 : 0);
      g_hash_table_insert (model->metadata, g_strdup (GRAFT_METADATA_PREPROCESSING),
                           g_strdup ("{\"size\": 32, \"resize\": 32}"));
      small = graft_session_spec_new (s, model);
      g_assert_cmpint (small->preprocessing.size, ==, 32);
      g_assert_false (small->augmentation.enabled);
      g_hash_table_remove (model->metadata, GRAFT_METADATA_PREPROCESSING);
      /* And when the preprocessing changes after the preset. */
      photos->preprocessing.size = 48;
      graft_session_spec_adapt_augmentation (photos);
      g_assert_false (photos->augmentation.enabled);
    }
  g_hash_table_unref (model->metadata);
  free_model (model);
}

static void
test_batchnorm_blocks (void)
{
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, NULL);
  g_autoptr (GraftSessionSpec) back = NULL, copy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;

  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "layer4.0"), ==, GRAFT_BATCHNORM_FROZEN_INFERENCE);
  g_assert_false (graft_session_spec_uses_batchnorm (spec, GRAFT_BATCHNORM_RECALIBRATE));
  graft_session_spec_set_block_batchnorm (spec, "layer4.0", GRAFT_BATCHNORM_RECALIBRATE);
  graft_session_spec_set_block_batchnorm (spec, "layer3.0", GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS);
  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "layer4.0"), ==, GRAFT_BATCHNORM_RECALIBRATE);
  g_assert_cmpint (graft_session_spec_block_batchnorm (spec, "layer1.0"), ==, GRAFT_BATCHNORM_FROZEN_INFERENCE);
  g_assert_true (graft_session_spec_uses_batchnorm (spec, GRAFT_BATCHNORM_RECALIBRATE));
  json = graft_session_spec_to_json (spec);
  g_assert_nonnull (strstr (json, "\"layer4.0\" : \"recalibrate\""));
  back = graft_session_spec_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_session_spec_block_batchnorm (back, "layer4.0"), ==, GRAFT_BATCHNORM_RECALIBRATE);
  g_assert_cmpint (graft_session_spec_block_batchnorm (back, "layer3.0"), ==, GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS);
  copy = graft_session_spec_copy (back);
  g_assert_cmpint (graft_session_spec_block_batchnorm (copy, "layer3.0"), ==, GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS);
  /* Setting a block back to the spec's policy removes its entry. */
  graft_session_spec_set_block_batchnorm (copy, "layer3.0", GRAFT_BATCHNORM_FROZEN_INFERENCE);
  g_assert_cmpuint (g_hash_table_size (copy->batchnorm_blocks), ==, 1);
  g_clear_pointer (&back, graft_session_spec_free);
  back = graft_session_spec_from_json ("{\"batchnorm_blocks\": {\"layer2.0\": \"sometimes\"}}", &error);
  g_assert_null (back);
  g_assert_nonnull (strstr (error->message, "layer2.0"));
}

static void
test_block_lr_factors (void)
{
  GraftModel *model = model_with_blocks (4);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, model);
  g_autoptr (GraftSessionSpec) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL, *again = NULL;

  /* Without an entry, the spread of the preset; with one, the block's own factor. */
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_factor (spec, 4, 3, "layer4", 4), 1 / 2.6, 1e-6);
  graft_session_spec_set_block_lr_factor (spec, "layer4", 0.5f);
  graft_session_spec_set_block_lr_factor (spec, "layer1", 0.02f);
  g_assert_cmpfloat (graft_session_spec_block_lr_factor (spec, 4, 3, "layer4", 4), ==, 0.5f);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_factor (spec, 4, 2, "layer3", 4), pow (2.6, -2), 1e-6);
  /* And each stage's own learning rate. */
  spec->stages[2].lr = 3e-3f;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 2, 1, 10) / graft_session_spec_lr_at (spec, 3, 1, 10),
                                  3e-3 / spec->optimizer.learning_rate, 1e-5);
  json = graft_session_spec_to_json (spec);
  back = graft_session_spec_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (graft_session_spec_block_lr_factor (back, 4, 3, "layer4", 4), ==, 0.5f);
  g_assert_cmpfloat (graft_session_spec_block_lr_factor (back, 4, 0, "layer1", 4), ==, 0.02f);
  g_assert_cmpfloat (back->stages[2].lr, ==, 3e-3f);
  g_assert_true (graft_session_spec_validate (back, 4, NULL));
  again = graft_session_spec_to_json (back);
  g_assert_cmpstr (json, ==, again);
  /* Clearing an entry gives the spread back. */
  graft_session_spec_set_block_lr_factor (back, "layer4", 0);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_block_lr_factor (back, 4, 3, "layer4", 4), 1 / 2.6, 1e-6);
  g_clear_pointer (&back, graft_session_spec_free);
  back = graft_session_spec_from_json ("{\"block_lr_factors\": {\"layer2\": -1}}", &error);
  g_assert_null (back);
  g_assert_nonnull (strstr (error->message, "layer2"));
  free_model (model);
}

static void
test_schedules (void)
{
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_CUSTOM, NULL);
  float lr = spec->optimizer.learning_rate = 0.1f;
  spec->epochs = 10;

  spec->schedule.kind = GRAFT_SCHEDULE_CONSTANT;
  g_assert_cmpfloat (graft_session_spec_lr_at (spec, 7, 3, 10), ==, lr);

  spec->schedule.kind = GRAFT_SCHEDULE_STEP;
  spec->schedule.step_epochs = 4;
  spec->schedule.gamma = 0.5f;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 3, 9, 10), lr, 1e-7);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 4, 0, 10), lr / 2, 1e-7);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 9, 0, 10), lr / 4, 1e-7);

  spec->schedule.kind = GRAFT_SCHEDULE_COSINE;
  spec->schedule.final_fraction = 0;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 0, 0, 10), lr, 1e-7);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 5, 0, 10), lr / 2, 1e-6);

  spec->schedule.kind = GRAFT_SCHEDULE_ONE_CYCLE;
  spec->schedule.pct_start = 0.3f;
  spec->schedule.div_factor = 25;
  spec->schedule.final_div_factor = 1e4f;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 0, 0, 10), lr / 25, 1e-7);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 3, 0, 10), lr, 1e-6);
  g_assert_cmpfloat (graft_session_spec_lr_at (spec, 9, 9, 10), <, lr / 1000);

  spec->schedule.kind = GRAFT_SCHEDULE_SLANTED_TRIANGULAR;
  spec->schedule.pct_start = 0.1f;
  spec->schedule.div_factor = 32;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 0, 0, 10), lr / 32, 1e-7);
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 1, 0, 10), lr, 1e-6);

  /* Linear warm-up before any schedule. */
  spec->schedule.kind = GRAFT_SCHEDULE_CONSTANT;
  spec->schedule.warmup_epochs = 2;
  g_assert_cmpfloat_with_epsilon (graft_session_spec_lr_at (spec, 0, 9, 10), lr / 2, 1e-6);
  g_assert_cmpfloat (graft_session_spec_lr_at (spec, 2, 0, 10), ==, lr);
}

static void
test_json_round_trip (void)
{
  GraftModel *model = model_with_blocks (6);
  for (int s = GRAFT_STRATEGY_FEATURE_EXTRACTION; s <= GRAFT_STRATEGY_CUSTOM; s++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (s, model);
      g_autoptr (GraftSessionSpec) back = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *json = NULL, *again = NULL;
      spec->model_path = g_strdup ("/models/mobilenet.onnx");
      spec->model_sha256 = g_strdup ("abc123");
      spec->cut = g_strdup ("features.17");
      spec->head.n_hidden = 2;
      spec->head.hidden[0] = 128, spec->head.hidden[1] = 64;
      spec->head.activation = GRAFT_ACTIVATION_HARD_SWISH;
      spec->head.batchnorm = TRUE;
      spec->seed = 1234567890123ull;
      spec->label_smoothing = 0.1f;
      g_hash_table_insert (spec->parameter_overrides, g_strdup ("features.0.1.weight"), GINT_TO_POINTER (2));
      json = graft_session_spec_to_json (spec);
      back = graft_session_spec_from_json (json, &error);
      g_assert_no_error (error);
      again = graft_session_spec_to_json (back);
      g_assert_cmpstr (json, ==, again);
      g_assert_cmpint (back->strategy, ==, s);
      g_assert_cmpint (back->n_stages, ==, spec->n_stages);
      g_assert_cmpuint (back->seed, ==, spec->seed);
      g_assert_true (graft_session_spec_validate (back, 6, NULL));
    }
  free_model (model);
}

/* "precision" is stored and read back; a spec from before the field (none) is fp32; an
 * unknown value is an error that names the field. */
static void
test_json_precision (void)
{
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, NULL);
  g_autoptr (GraftSessionSpec) back = NULL, old = NULL, bad = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  graft_plan_precision precision;

  g_assert_cmpint (spec->precision, ==, GRAFT_PLAN_PRECISION_FP32);
  spec->precision = GRAFT_PLAN_PRECISION_BF16;
  json = graft_session_spec_to_json (spec);
  g_assert_nonnull (strstr (json, "\"precision\" : \"bf16\""));
  back = graft_session_spec_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->precision, ==, GRAFT_PLAN_PRECISION_BF16);
  old = graft_session_spec_from_json ("{\"strategy\": \"fine-tune\", \"epochs\": 3}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (old->precision, ==, GRAFT_PLAN_PRECISION_FP32);
  bad = graft_session_spec_from_json ("{\"precision\": \"fp16\"}", &error);
  g_assert_null (bad);
  g_assert_nonnull (strstr (error->message, "precision"));
  g_assert_true (graft_precision_from_string ("bf16", &precision));
  g_assert_cmpint (precision, ==, GRAFT_PLAN_PRECISION_BF16);
  g_assert_false (graft_precision_from_string ("half", &precision));
}

static void
test_json_errors (void)
{
  static const char *const bad[][2] = {
    { "[1, 2]", "object" },
    { "{\"strategy\": \"magic\"}", "magic" },
    { "{\"epochs\": \"ten\"}", "epochs" },
    { "{\"optimizer\": {\"kind\": \"rmsprop\"}}", "rmsprop" },
    { "{\"head\": {\"hidden\": [1, 2, 3, 4, 5]}}", "hidden" },
    { "{\"block_overrides\": {\"features.1\": \"maybe\"}}", "features.1" },
    { "{\"schedule\": {\"kind\": 3}}", "schedule.kind" },
    { "{\"stages\": []}", "stages" },
    { "{\"preprocessing\": {\"size\": \"big\"}}", "size" },
    { "{", "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_from_json (bad[i][0], &error);
      g_assert_null (spec);
      g_assert_nonnull (error);
      if (strstr (error->message, bad[i][1]) == NULL)
        g_error ("'%s' gave '%s', which does not mention '%s'", bad[i][0], error->message, bad[i][1]);
    }
}

static void
test_validate_errors (void)
{
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, NULL);
  g_autoptr (GError) error = NULL;
  spec->n_stages = 2;
  spec->stages[1].epoch = 0;
  g_assert_false (graft_session_spec_validate (spec, 1, &error));
  g_assert_nonnull (strstr (error->message, "stage 2"));
  g_clear_error (&error);
  spec->stages[1].epoch = 1;
  spec->stages[1].trainable_from = 7;
  g_assert_false (graft_session_spec_validate (spec, 3, &error));
  g_assert_nonnull (strstr (error->message, "3 blocks"));
  g_clear_error (&error);
  spec->stages[1].trainable_from = 0;
  spec->optimizer.learning_rate = -1;
  g_assert_false (graft_session_spec_validate (spec, 3, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/spec/presets-validate", test_presets_validate);
  g_test_add_func ("/train/spec/feature-extraction", test_feature_extraction);
  g_test_add_func ("/train/spec/fine-tune", test_fine_tune);
  g_test_add_func ("/train/spec/ulmfit", test_ulmfit);
  g_test_add_func ("/train/spec/fastai", test_fastai);
  g_test_add_func ("/train/spec/schedules", test_schedules);
  g_test_add_func ("/train/spec/replace-top-cut", test_replace_top_cut);
  g_test_add_func ("/train/spec/batchnorm-blocks", test_batchnorm_blocks);
  g_test_add_func ("/train/spec/augmentation-adapts", test_augmentation_adapts);
  g_test_add_func ("/train/spec/block-lr-factors", test_block_lr_factors);
  g_test_add_func ("/train/spec/json-round-trip", test_json_round_trip);
  g_test_add_func ("/train/spec/json-errors", test_json_errors);
  g_test_add_func ("/train/spec/json-precision", test_json_precision);
  g_test_add_func ("/train/spec/validate-errors", test_validate_errors);
  return g_test_run ();
}
