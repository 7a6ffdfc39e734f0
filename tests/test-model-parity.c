/* Imported models against PyTorch and the ONNX node tests.
 *
 * /model/parity/NAME: every fixture listed in $GRAFT_FIXTURES/manifest.json (made by
 * tests/fixtures/make-fixtures.py: torchvision exports, Model Zoo style graphs) is
 * loaded with graft_model_load and run by an inference plan at the fixture's batch;
 * the output must match the reference within the fixture's tolerance, relative to the
 * output's scale (max |graft - reference| / max |reference|). The model is then run
 * again at batches 1 and 3 (the input's rows 0 and 0,1,0), which proves that the batch
 * dimension is really dynamic. Without fixtures the test skips. Where the manifest says
 * so, a fixture also checks the blocks the analysis finds ("blocks": their names, in
 * order), the blocks each preset acts on ("presets": fine-tune's trainable blocks,
 * ULMFiT's first unfrozen ones, those Replace Top Layers removes, fastai's backbone)
 * and that Graft's own export of it imports again and gives the same output
 * ("round_trip": true; transformers, whose LayerNorm and GELU export differently).
 *
 * /model/onnx-node/test_*: the node tests of ONNX's backend test data (Debian's
 * libonnx-testdata; $GRAFT_ONNX_NODE_TESTS overrides the folder) whose nodes all use
 * ops Graft imports. Inputs after the first become initializers (weights, shapes,
 * clip bounds), the first is the batch input. A test skips when the importer (or the
 * plan) says the model is unsupported, or when its data is not float32; a wrong
 * number, a wrong shape or any other error fails.
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "engine/optimizer.h"
#include "engine/plan.h"
#include "model/model.h"
#include "model/npy.h"
#include "model/onnx.pb-c.h"
#include "train/spec.h"

#define DEFAULT_NODE_TESTS "/usr/share/libonnx-testdata/data/node"

/* ------------------------------------------------------------------------ */
/* Comparing and running                                                      */

/* max |a - b| and max |b| over count elements; NaN in a counts as infinitely far. */
static void
compare (const float *a, const float *b, size_t count, double *max_diff, double *max_ref)
{
  *max_diff = 0;
  *max_ref = 0;
  for (size_t i = 0; i < count; i++)
    {
      double d = fabs ((double) a[i] - (double) b[i]);

      if (!isfinite (d))
        d = INFINITY;
      if (d > *max_diff)
        *max_diff = d;
      if (fabs ((double) b[i]) > *max_ref)
        *max_ref = fabs ((double) b[i]);
    }
}

static size_t
shape_count (const graft_shape *shape)
{
  size_t count = 0;

  if (graft_shape_count (shape, &count, NULL) != GRAFT_OK)
    return 0;
  return count;
}

/* Runs model at batch on input (batch rows); on success returns the output (g_free)
 * and its shape. On failure returns NULL and sets error, or *unsupported when the plan
 * says GRAFT_ERROR_UNSUPPORTED. */
static float *
run_model (GraftModel *model, int batch, const float *input, size_t input_count,
           graft_shape *out_shape, gboolean *unsupported, char **error)
{
  graft_plan_options options = {
    .mode = GRAFT_PLAN_INFERENCE,
    .batch = batch,
    .keep = &model->output,
    .n_keep = 1,
  };
  graft_error err;
  graft_plan *plan;
  const float *out;
  float *copy = NULL;

  if (unsupported)
    *unsupported = FALSE;
  plan = graft_plan_new (model->graph, &options, &err);
  if (plan == NULL)
    {
      if (unsupported)
        *unsupported = err.status == GRAFT_ERROR_UNSUPPORTED;
      *error = g_strdup_printf ("no plan at batch %d: %s", batch, err.message);
      return NULL;
    }
  if (graft_plan_set_input (plan, model->input, input, input_count, &err) != GRAFT_OK
      || graft_plan_forward (plan, &err) != GRAFT_OK)
    {
      *error = g_strdup_printf ("batch %d: %s", batch, err.message);
      graft_plan_free (plan);
      return NULL;
    }
  out = graft_plan_value_data (plan, model->output, out_shape);
  if (out == NULL)
    *error = g_strdup_printf ("batch %d: the output is not readable after forward", batch);
  else
    copy = g_memdup2 (out, shape_count (out_shape) * sizeof (float));
  graft_plan_free (plan);
  return copy;
}

/* ------------------------------------------------------------------------ */
/* Fixtures from make-fixtures.py                                             */

typedef struct {
  char *name;
  char *file;
  char *input;
  char *output;
  char *layout;
  char *logits;      /* name of the value before a trailing Softmax, or NULL */
  int batch;
  double tolerance;
  char *description;
  char **blocks;     /* NULL-terminated expected block names, or NULL */
  JsonNode *presets; /* preset -> the block names it acts on (see check_presets), or NULL */
  gboolean round_trip;
} Fixture;

static char *fixtures_dir;

static void
fixture_free (gpointer data)
{
  Fixture *f = data;

  g_free (f->name);
  g_free (f->file);
  g_free (f->input);
  g_free (f->output);
  g_free (f->layout);
  g_free (f->logits);
  g_free (f->description);
  g_strfreev (f->blocks);
  g_clear_pointer (&f->presets, json_node_unref);
  g_free (f);
}

/* Rows of data (shape[0] rows) picked by rows[0..n-1], into a new buffer. */
static float *
pick_rows (const float *data, size_t row_size, const int *rows, int n)
{
  float *out = g_new (float, row_size * n);

  for (int i = 0; i < n; i++)
    memcpy (out + i * row_size, data + rows[i] * row_size, row_size * sizeof (float));
  return out;
}

/* The blocks the analysis finds are the manifest's, by name and in order. */
static void
check_blocks (const Fixture *f, GraftModel *model)
{
  g_autoptr (GString) found = g_string_new (NULL);
  g_autofree char *want = g_strjoinv (" ", f->blocks);

  for (guint i = 0; i < model->blocks->len; i++)
    g_string_append_printf (found, "%s%s", i ? " " : "", g_array_index (model->blocks, GraftBlock, i).name);
  g_test_message ("%s: blocks %s", f->name, found->str);
  g_assert_cmpstr (found->str, ==, want);
}

/* Block names first..last-1, space-separated. */
static char *
block_names (GraftModel *model, int first, int last)
{
  GString *names = g_string_new (NULL);
  for (int i = first; i < last; i++)
    g_string_append_printf (names, "%s%s", i > first ? " " : "", g_array_index (model->blocks, GraftBlock, i).name);
  return g_string_free (names, FALSE);
}

/* The blocks each preset acts on are the manifest's: fine-tune's trainable blocks,
 * the blocks ULMFiT's second stage (the first after the head alone) trains, the blocks
 * Replace Top Layers removes, and the backbone fastai spreads its rates over. */
static void
check_presets (const Fixture *f, GraftModel *model)
{
  JsonObject *o = json_node_get_object (f->presets);
  int backbone = graft_session_spec_backbone_blocks (model);
  static const struct { const char *name; GraftStrategy strategy; } presets[] = {
    { "fine-tune", GRAFT_STRATEGY_FINE_TUNE },
    { "ulmfit", GRAFT_STRATEGY_PROGRESSIVE_ULMFIT },
    { "replace-top", GRAFT_STRATEGY_REPLACE_TOP },
    { "fastai", GRAFT_STRATEGY_PROGRESSIVE_FASTAI },
  };

  for (guint p = 0; p < G_N_ELEMENTS (presets); p++)
    {
      g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (presets[p].strategy, model);
      g_autoptr (GString) want = g_string_new (NULL);
      g_autofree char *found = NULL;
      JsonArray *names;
      int first = 0;

      if (!json_object_has_member (o, presets[p].name))
        continue;
      names = json_object_get_array_member (o, presets[p].name);
      for (guint k = 0; k < json_array_get_length (names); k++)
        g_string_append_printf (want, "%s%s", k ? " " : "", json_array_get_string_element (names, k));
      switch (presets[p].strategy)
        {
        case GRAFT_STRATEGY_FINE_TUNE:
          first = spec->stages[0].trainable_from;
          break;
        case GRAFT_STRATEGY_PROGRESSIVE_ULMFIT:
          g_assert_cmpint (spec->n_stages, >=, 2);
          first = spec->stages[1].trainable_from;
          break;
        case GRAFT_STRATEGY_REPLACE_TOP:
          first = backbone - graft_session_spec_replace_top_removed_blocks (model);
          /* the new head's cut is a value a head can be grafted on */
          if (spec->cut != NULL)
            {
              int cut = graft_graph_find_value (model->graph, spec->cut);
              g_assert_cmpint (cut, >=, 0);
              g_assert_cmpint (graft_graph_value (model->graph, cut)->shape.rank, >=, 2);
              g_assert_cmpint (graft_graph_value (model->graph, cut)->shape.rank, <=, 4);
            }
          break;
        default:
          first = 0;
          break;
        }
      found = block_names (model, first, backbone);
      g_test_message ("%s: %s acts on blocks '%s'", f->name, presets[p].name, found);
      g_assert_cmpstr (found, ==, want->str);
    }
}

/* Replace Top Layers' head grafts where its preset cuts (a CNN's map, Swin's (N, H, W, C)
 * map, a ViT's tokens), reads as many features as the cut has channels, and trains: a
 * step of the new model at the fixture's batch gives a finite loss and the head's weight
 * a gradient. */
static void
check_replace_top_head (const Fixture *f, GraftModel *model, const float *input, size_t input_row)
{
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_REPLACE_TOP, model);
  g_autoptr (GraftModel) grafted = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree int32_t *labels = g_new0 (int32_t, f->batch);
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = f->batch };
  const graft_shape *cut_shape;
  graft_error engine;
  graft_plan *plan;
  gint64 channels;
  float loss;
  int cut, weight;

  if (spec->cut == NULL)
    return;
  cut = graft_graph_find_value (model->graph, spec->cut);
  g_assert_cmpint (cut, >=, 0);
  cut_shape = &graft_graph_value (model->graph, cut)->shape;
  /* A stage's output, not the permute with which the next layer starts (ConvNeXt's
   * (N, H, W, C) for its LayerNorm, where a head would average over W and C). */
  {
    const graft_node *producer = graft_graph_node (model->graph, graft_graph_value (model->graph, cut)->producer);
    g_assert_cmpint (producer->attributes.op, !=, GRAFT_OP_TRANSPOSE);
    g_assert_cmpint (producer->attributes.op, !=, GRAFT_OP_RESHAPE);
  }
  channels = cut_shape->rank == 3 ? cut_shape->dims[2]
             : cut_shape->rank == 4 && graft_model_pools_channels_last (model) ? cut_shape->dims[3]
                                                                             : cut_shape->dims[1];
  grafted = graft_model_graft_head (model, cut, &spec->head, 3, 7, &error);
  g_assert_no_error (error);
  weight = graft_graph_find_value (grafted->graph, "head.0.weight");
  g_assert_cmpint (weight, >=, 0);
  g_test_message ("%s: Replace Top Layers grafts on '%s' (rank %d, %" G_GINT64_FORMAT " features)", f->name,
                  spec->cut, cut_shape->rank, channels);
  g_assert_cmpint (graft_graph_value (grafted->graph, weight)->shape.dims[1], ==, channels);
  for (int n = 0; n < f->batch; n++)
    labels[n] = n % 3;
  options.loss_logits = grafted->logits;
  plan = graft_plan_new (grafted->graph, &options, &engine);
  if (plan == NULL)
    g_error ("%s: %s", f->name, engine.message);
  g_assert_cmpint (graft_plan_set_input (plan, grafted->input, input, input_row * f->batch, &engine), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &engine), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &engine), ==, GRAFT_OK);
  g_assert_true (isfinite (loss));
  g_assert_nonnull (graft_plan_gradient (plan, weight));
  graft_plan_free (plan);
}

/* Graft's export of the model imports again and gives the same output at the fixture's
 * batch (within 1e-5 relative). */
static void
check_round_trip (const Fixture *f, GraftModel *model, const float *input, size_t input_row)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = graft_model_save_to_bytes (model, NULL, &error);
  g_autoptr (GraftModel) again = NULL;
  g_autofree float *before = NULL, *after = NULL;
  g_autofree char *message = NULL;
  graft_shape before_shape, after_shape;
  double max_diff, max_ref;
  gsize size;
  const guint8 *data;

  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &size);
  again = graft_model_load_from_data (data, size, NULL, f->name, &error);
  g_assert_no_error (error);
  before = run_model (model, f->batch, input, input_row * f->batch, &before_shape, NULL, &message);
  after = run_model (again, f->batch, input, input_row * f->batch, &after_shape, NULL, &message);
  g_assert_nonnull (before);
  g_assert_nonnull (after);
  g_assert_true (graft_shape_equal (&before_shape, &after_shape));
  compare (after, before, shape_count (&before_shape), &max_diff, &max_ref);
  g_test_message ("%s: exported and imported again: max |difference| %.3g (%zu bytes)", f->name, max_diff, size);
  g_assert_cmpfloat (max_diff, <=, 1e-5 * MAX (max_ref, 1e-6));
}

/* Swin's relative-position bias tables (folded to constants by torch's export) come
 * back as parameters, one per block, and learn: with everything but the top stage
 * (features.7) frozen, as fine-tuning it leaves the model, a training step gives the top
 * stage's tables a gradient and the lower ones none. */
static void
check_relative_bias_learns (const Fixture *f, GraftModel *model, const float *input, size_t input_row)
{
  graft_graph *graph = model->graph;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = f->batch, .loss_logits = model->logits };
  g_autofree int32_t *labels = g_new0 (int32_t, f->batch);
  int tables = 0, top = -1, lower = -1;
  graft_error error;
  graft_plan *plan;
  const float *gradient;
  double largest = 0;
  size_t count;
  float loss;

  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      if (value->kind == GRAFT_VALUE_PARAMETER)
        graft_graph_set_trainable (graph, v, g_str_has_prefix (value->name, "features.7."));
      if (!g_str_has_suffix (value->name, ".relative_position_bias_table"))
        continue;
      g_assert_cmpint (value->kind, ==, GRAFT_VALUE_PARAMETER);
      tables++;
      if (g_str_has_prefix (value->name, "features.7.") && top < 0)
        top = v;
      if (g_str_has_prefix (value->name, "features.1.") && lower < 0)
        lower = v;
    }
  g_test_message ("%s: %d relative-position bias tables", f->name, tables);
  g_assert_cmpint (tables, ==, 8);
  g_assert_cmpint (top, >=, 0);
  g_assert_cmpint (lower, >=, 0);
  for (int n = 0; n < f->batch; n++)
    labels[n] = n % 10;
  plan = graft_plan_new (graph, &options, &error);
  if (plan == NULL)
    g_error ("%s: %s", f->name, error.message);
  g_assert_cmpint (graft_plan_set_input (plan, model->input, input, input_row * f->batch, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &error), ==, GRAFT_OK);
  gradient = graft_plan_gradient (plan, top);
  g_assert_nonnull (gradient);
  g_assert_null (graft_plan_gradient (plan, lower));
  graft_shape_count (&graft_graph_value (graph, top)->shape, &count, NULL);
  for (size_t i = 0; i < count; i++)
    largest = MAX (largest, fabs (gradient[i]));
  g_test_message ("%s: loss %.4f, largest gradient of %s %.3g", f->name, loss, graft_graph_value (graph, top)->name,
                  largest);
  g_assert_cmpfloat (largest, >, 0);
  graft_plan_free (plan);
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    if (graft_graph_value (graph, v)->kind == GRAFT_VALUE_PARAMETER)
      graft_graph_set_trainable (graph, v, true);
}

static void
test_fixture (gconstpointer data)
{
  const Fixture *f = data;
  g_autofree char *model_path = g_build_filename (fixtures_dir, f->file, NULL);
  g_autofree char *input_path = g_build_filename (fixtures_dir, f->input, NULL);
  g_autofree char *output_path = g_build_filename (fixtures_dir, f->output, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autofree float *input = NULL;
  g_autofree float *expected = NULL;
  graft_shape input_shape, expected_shape;
  size_t input_row, expected_row;
  gint64 start;
  /* The fixture's batch first, then 1 and 3 (rows 0 and 0,1,0 of the input). */
  static const int rows_1[] = { 0 };
  static const int rows_3[] = { 0, 1, 0 };
  struct { int batch; const int *rows; } runs[] = { { 0, NULL }, { 1, rows_1 }, { 3, rows_3 } };

  g_test_message ("%s: %s", f->name, f->description);
  graft_npy_read (input_path, &input_shape, &input, &error);
  g_assert_no_error (error);
  graft_npy_read (output_path, &expected_shape, &expected, &error);
  g_assert_no_error (error);
  g_assert_cmpint (input_shape.rank, >=, 1);
  g_assert_cmpint (input_shape.dims[0], ==, f->batch);
  g_assert_cmpint (expected_shape.dims[0], ==, f->batch);
  g_assert_cmpint (f->batch, >=, 2);
  input_row = shape_count (&input_shape) / f->batch;
  expected_row = shape_count (&expected_shape) / f->batch;

  start = g_get_monotonic_time ();
  model = graft_model_load (model_path, &error);
  if (model == NULL)
    {
      g_test_fail_printf ("%s: import failed (error %d): %s", f->name, error ? error->code : -1,
                          error ? error->message : "no message");
      return;
    }
  g_test_message ("%s: loaded in %.0f ms (%d nodes)", f->name,
                  (g_get_monotonic_time () - start) / 1e3, graft_graph_node_count (model->graph));
  if (g_strcmp0 (f->layout, "NHWC") == 0)
    g_assert_true (model->input_nhwc);
  else
    g_assert_false (model->input_nhwc);
  if (f->logits != NULL)
    g_assert_cmpint (model->logits, !=, model->output);

  runs[0].batch = f->batch;
  for (size_t r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      int batch = runs[r].batch;
      g_autofree float *batch_input = NULL;
      g_autofree float *batch_expected = NULL;
      g_autofree float *out = NULL;
      g_autofree char *message = NULL;
      graft_shape out_shape;
      double max_diff, max_ref, relative;

      if (runs[r].rows != NULL)
        {
          batch_input = pick_rows (input, input_row, runs[r].rows, batch);
          batch_expected = pick_rows (expected, expected_row, runs[r].rows, batch);
        }
      else
        {
          batch_input = g_memdup2 (input, input_row * batch * sizeof (float));
          batch_expected = g_memdup2 (expected, expected_row * batch * sizeof (float));
        }
      start = g_get_monotonic_time ();
      out = run_model (model, batch, batch_input, input_row * batch, &out_shape, NULL, &message);
      if (out == NULL)
        {
          g_test_fail_printf ("%s: %s", f->name, message);
          return;
        }
      if (out_shape.rank != expected_shape.rank || out_shape.dims[0] != batch
          || shape_count (&out_shape) != expected_row * batch)
        {
          char got[128], want[128];

          expected_shape.dims[0] = batch;
          graft_shape_format (&out_shape, got, sizeof got);
          graft_shape_format (&expected_shape, want, sizeof want);
          g_test_fail_printf ("%s: at batch %d the output is %s, expected %s", f->name, batch, got, want);
          return;
        }
      compare (out, batch_expected, expected_row * batch, &max_diff, &max_ref);
      relative = max_ref > 0 ? max_diff / max_ref : max_diff;
      g_test_message ("%s: batch %d: max |graft - torch| %.3g, max |torch| %.3g, relative %.3g (%.0f ms)",
                      f->name, batch, max_diff, max_ref, relative, (g_get_monotonic_time () - start) / 1e3);
      if (!(relative <= f->tolerance))
        {
          g_test_fail_printf ("%s: at batch %d max |graft - torch| = %.3g, max |torch| = %.3g: relative %.3g > %.3g",
                              f->name, batch, max_diff, max_ref, relative, f->tolerance);
          return;
        }
    }
  if (f->blocks != NULL)
    check_blocks (f, model);
  if (f->presets != NULL)
    {
      check_presets (f, model);
      check_replace_top_head (f, model, input, input_row);
    }
  if (f->round_trip)
    check_round_trip (f, model, input, input_row);
  if (g_str_has_prefix (f->name, "swin_small_dims") || g_str_has_prefix (f->name, "swin_padded"))
    check_relative_bias_learns (f, model, input, input_row);
}

static void
test_skip_all (gconstpointer data)
{
  g_test_skip ((const char *) data);
}

static char *
member_string (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* Adds one test per fixture of the manifest; returns the number added. */
static int
add_fixture_tests (void)
{
  const char *dir = g_getenv ("GRAFT_FIXTURES");
  g_autofree char *manifest = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *list;
  int added = 0;

  if (dir == NULL || *dir == '\0')
    {
      g_test_add_data_func_full ("/model/parity/fixtures", g_strdup ("fixtures not generated (GRAFT_FIXTURES is not set)"),
                                 test_skip_all, g_free);
      return 0;
    }
  fixtures_dir = g_strdup (dir);
  manifest = g_build_filename (dir, "manifest.json", NULL);
  if (!g_file_test (manifest, G_FILE_TEST_EXISTS))
    {
      g_test_add_data_func_full ("/model/parity/fixtures", g_strdup_printf ("fixtures not generated (no %s)", manifest),
                                 test_skip_all, g_free);
      return 0;
    }
  if (!json_parser_load_from_file (parser, manifest, &error))
    g_error ("%s: %s", manifest, error->message);
  if (JSON_NODE_TYPE (json_parser_get_root (parser)) != JSON_NODE_OBJECT)
    g_error ("%s: not a JSON object", manifest);
  root = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (root, "fixtures")
      || JSON_NODE_TYPE (json_object_get_member (root, "fixtures")) != JSON_NODE_ARRAY)
    g_error ("%s: no \"fixtures\" array", manifest);
  list = json_object_get_array_member (root, "fixtures");
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *node = json_array_get_element (list, i);
      JsonObject *o;
      Fixture *f;
      g_autofree char *path = NULL;

      if (JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
        g_error ("%s: fixture %u is not an object", manifest, i);
      o = json_node_get_object (node);
      f = g_new0 (Fixture, 1);
      f->name = member_string (o, "name");
      f->file = member_string (o, "file");
      f->input = member_string (o, "input");
      f->output = member_string (o, "output");
      f->layout = member_string (o, "layout");
      f->logits = member_string (o, "logits");
      f->description = member_string (o, "description");
      if (f->description == NULL)
        f->description = g_strdup ("");
      f->batch = json_object_has_member (o, "batch") ? json_object_get_int_member (o, "batch") : 0;
      f->round_trip = json_object_has_member (o, "round_trip") && json_object_get_boolean_member (o, "round_trip");
      if (json_object_has_member (o, "blocks"))
        {
          JsonArray *names = json_object_get_array_member (o, "blocks");
          f->blocks = g_new0 (char *, json_array_get_length (names) + 1);
          for (guint k = 0; k < json_array_get_length (names); k++)
            f->blocks[k] = g_strdup (json_array_get_string_element (names, k));
        }
      if (json_object_has_member (o, "presets"))
        f->presets = json_node_copy (json_object_get_member (o, "presets"));
      f->tolerance = json_object_has_member (o, "tolerance") ? json_object_get_double_member (o, "tolerance") : 1e-4;
      if (f->name == NULL || f->file == NULL || f->input == NULL || f->output == NULL || f->layout == NULL
          || strchr (f->name, '/') != NULL)
        g_error ("%s: fixture %u lacks name, file, input, output or layout", manifest, i);
      path = g_strdup_printf ("/model/parity/%s", f->name);
      g_test_add_data_func_full (path, f, test_fixture, fixture_free);
      added++;
    }
  return added;
}

/* ------------------------------------------------------------------------ */
/* ONNX node tests                                                            */

/* Ops Graft imports (onnx-facts.md §2.3 and the engine's ops). A node test whose nodes
 * all use these is run; its verdict decides whether the importer really does. */
static const char *const supported_ops[] = {
  "Conv", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
  "HardSwish", "Add", "Mul", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool",
  "Flatten", "Reshape", "Transpose", "Gemm", "MatMul", "Softmax", "Dropout", "Identity",
  "Squeeze", "Unsqueeze", "Shape", "Gather", "Constant", "Slice", "Split", "Resize", "Upsample",
};

/* Node tests whose expected values follow ONNX's reference implementation where ONNX
 * Runtime and PyTorch (the exporter of the models Graft reads) do otherwise. */
static const struct {
  const char *name, *why;
} node_tests_differing[] = {
  { "test_resize_downsample_scales_linear_align_corners",
    "align_corners with scales that give a fractional size: the reference maps with (in - 1) / (in * scale - 1), "
    "ONNX Runtime and PyTorch with the output's whole length, (in - 1) / (out - 1), as Graft does "
    "(ONNX Runtime gives [0, 3] for the row [0, 1, 2, 3] at scale 0.6, the reference [0, 2.14])" },
};

typedef struct {
  char *name;
  char *dir;
} NodeTest;

static void
node_test_free (gpointer data)
{
  NodeTest *t = data;

  g_free (t->name);
  g_free (t->dir);
  g_free (t);
}

static Onnx__ModelProto *
read_model_proto (const char *path, char **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(GError) gerror = NULL;
  Onnx__ModelProto *model;

  if (!g_file_get_contents (path, &contents, &length, &gerror))
    {
      *error = g_strdup (gerror->message);
      return NULL;
    }
  model = onnx__model_proto__unpack (NULL, length, (const uint8_t *) contents);
  if (model == NULL)
    *error = g_strdup_printf ("%s: not a ModelProto", path);
  return model;
}

static Onnx__TensorProto *
read_tensor_proto (const char *path, char **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(GError) gerror = NULL;
  Onnx__TensorProto *tensor;

  if (!g_file_get_contents (path, &contents, &length, &gerror))
    {
      *error = g_strdup (gerror->message);
      return NULL;
    }
  tensor = onnx__tensor_proto__unpack (NULL, length, (const uint8_t *) contents);
  if (tensor == NULL)
    *error = g_strdup_printf ("%s: not a TensorProto", path);
  return tensor;
}

/* The float32 data of tensor as a shape and a new buffer; NULL (with *why) when it
 * is not float32 or does not fit. */
static float *
tensor_floats (const Onnx__TensorProto *tensor, graft_shape *shape, char **why)
{
  size_t count = 1;
  float *data;

  if (!tensor->has_data_type || tensor->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    {
      *why = g_strdup_printf ("tensor '%s' is of ONNX type %d, not float32", tensor->name,
                              tensor->has_data_type ? tensor->data_type : 0);
      return NULL;
    }
  if (tensor->n_dims > GRAFT_MAX_RANK)
    {
      *why = g_strdup_printf ("tensor '%s' has rank %zu", tensor->name, tensor->n_dims);
      return NULL;
    }
  shape->rank = (int) tensor->n_dims;
  for (size_t i = 0; i < tensor->n_dims; i++)
    {
      if (tensor->dims[i] < 0 || !graft_size_mul (count, (size_t) tensor->dims[i], &count)
          || count > (size_t) 1 << 28)
        {
          *why = g_strdup_printf ("tensor '%s' has a bad shape", tensor->name);
          return NULL;
        }
      shape->dims[i] = tensor->dims[i];
    }
  data = g_new0 (float, count ? count : 1);
  if (count == 0)
    ;
  else if (tensor->has_raw_data && tensor->raw_data.len == count * sizeof (float))
    memcpy (data, tensor->raw_data.data, count * sizeof (float)); /* little-endian hosts */
  else if (!tensor->has_raw_data && tensor->n_float_data == count)
    memcpy (data, tensor->float_data, count * sizeof (float));
  else
    {
      *why = g_strdup_printf ("tensor '%s' has %zu raw bytes and %zu floats for %zu elements",
                              tensor->name, tensor->has_raw_data ? tensor->raw_data.len : 0,
                              tensor->n_float_data, count);
      g_free (data);
      return NULL;
    }
  return data;
}

static void
tensor_proto_free (gpointer tensor)
{
  onnx__tensor_proto__free_unpacked (tensor, NULL);
}

static gboolean
is_tensor_input (const Onnx__ValueInfoProto *input)
{
  return input->type != NULL && input->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
         && input->type->tensor_type != NULL;
}

static void
test_node (gconstpointer data)
{
  const NodeTest *t = data;
  g_autofree char *model_path = g_build_filename (t->dir, "model.onnx", NULL);
  g_autofree char *set_dir = g_build_filename (t->dir, "test_data_set_0", NULL);
  g_autofree char *message = NULL;
  g_autofree char *why = NULL;
  g_autofree guint8 *packed = NULL;
  g_autofree float *input = NULL;
  g_autofree float *expected = NULL;
  g_autofree float *out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func (tensor_proto_free);
  Onnx__ModelProto *proto;
  Onnx__GraphProto *graph;
  Onnx__TensorProto **initializers, **saved_initializers;
  Onnx__ValueInfoProto **saved_inputs;
  char **saved_names;
  size_t n_saved_initializers, n_saved_inputs, packed_size, n_inputs;
  graft_shape input_shape, expected_shape, out_shape;
  gboolean unsupported;
  double max_diff, max_ref, relative;
  int output_index = -1;

  proto = read_model_proto (model_path, &message);
  g_assert_nonnull (proto);
  graph = proto->graph;
  g_assert_nonnull (graph);

  /* Graph inputs that are not initializers, in order; their data is input_K.pb. */
  n_inputs = graph->n_input;
  for (size_t i = 0; i < graph->n_input; i++)
    {
      g_autofree char *file = g_strdup_printf ("input_%zu.pb", i);
      g_autofree char *path = g_build_filename (set_dir, file, NULL);
      Onnx__TensorProto *tensor;

      for (size_t k = 0; k < graph->n_initializer; k++)
        if (g_strcmp0 (graph->initializer[k]->name, graph->input[i]->name) == 0)
          g_error ("%s: input '%s' has an initializer; not expected in node tests", t->name,
                   graph->input[i]->name);
      if (!is_tensor_input (graph->input[i]))
        {
          g_test_skip_printf ("input '%s' is not a tensor", graph->input[i]->name);
          onnx__model_proto__free_unpacked (proto, NULL);
          return;
        }
      tensor = read_tensor_proto (path, &message);
      if (tensor == NULL)
        g_error ("%s: %s", t->name, message);
      g_ptr_array_add (inputs, tensor);
    }
  if (n_inputs == 0)
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      g_test_skip ("the model has no input");
      return;
    }
  input = tensor_floats (g_ptr_array_index (inputs, 0), &input_shape, &why);
  if (input == NULL || input_shape.rank == 0)
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      g_test_skip_printf ("the first input is not a float32 tensor with a batch dimension (%s)",
                          why ? why : "rank 0");
      return;
    }

  /* Inputs after the first become initializers named like them. */
  saved_initializers = graph->initializer;
  n_saved_initializers = graph->n_initializer;
  saved_inputs = graph->input;
  n_saved_inputs = graph->n_input;
  saved_names = g_new0 (char *, n_inputs);
  initializers = g_new0 (Onnx__TensorProto *, n_saved_initializers + n_inputs);
  if (n_saved_initializers)
    memcpy (initializers, saved_initializers, n_saved_initializers * sizeof *initializers);
  for (size_t i = 1; i < n_inputs; i++)
    {
      Onnx__TensorProto *tensor = g_ptr_array_index (inputs, i);

      saved_names[i] = tensor->name;
      tensor->name = saved_inputs[i]->name;
      initializers[n_saved_initializers + i - 1] = tensor;
    }
  graph->initializer = initializers;
  graph->n_initializer = n_saved_initializers + n_inputs - 1;
  graph->n_input = 1;
  packed_size = onnx__model_proto__get_packed_size (proto);
  packed = g_malloc (packed_size);
  onnx__model_proto__pack (proto, packed);
  graph->initializer = saved_initializers;
  graph->n_initializer = n_saved_initializers;
  graph->input = saved_inputs;
  graph->n_input = n_saved_inputs;
  for (size_t i = 1; i < n_inputs; i++)
    ((Onnx__TensorProto *) g_ptr_array_index (inputs, i))->name = saved_names[i];
  g_free (saved_names);
  g_free (initializers);

  model = graft_model_load_from_data (packed, packed_size, NULL, t->name, &error);
  if (model == NULL && g_error_matches (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED))
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      g_test_skip_printf ("unsupported: %s", error->message);
      return;
    }
  if (model == NULL)
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      g_test_fail_printf ("%s: import failed (error %d): %s", t->name, error->code, error->message);
      return;
    }

  for (size_t i = 0; i < graph->n_output; i++)
    if (g_strcmp0 (graph->output[i]->name, model->output_name) == 0)
      output_index = (int) i;
  if (output_index < 0)
    {
      g_test_fail_printf ("%s: the model's output '%s' is not a graph output", t->name, model->output_name);
      onnx__model_proto__free_unpacked (proto, NULL);
      return;
    }
  onnx__model_proto__free_unpacked (proto, NULL);
  {
    g_autofree char *file = g_strdup_printf ("output_%d.pb", output_index);
    g_autofree char *path = g_build_filename (set_dir, file, NULL);
    Onnx__TensorProto *tensor = read_tensor_proto (path, &message);

    if (tensor == NULL)
      g_error ("%s: %s", t->name, message);
    expected = tensor_floats (tensor, &expected_shape, &why);
    onnx__tensor_proto__free_unpacked (tensor, NULL);
    if (expected == NULL)
      {
        g_test_skip_printf ("the output is not float32 (%s)", why);
        return;
      }
  }

  out = run_model (model, (int) input_shape.dims[0], input, shape_count (&input_shape), &out_shape,
                   &unsupported, &message);
  if (out == NULL && unsupported)
    {
      g_test_skip_printf ("unsupported by the plan: %s", message);
      return;
    }
  if (out == NULL)
    {
      g_test_fail_printf ("%s: %s", t->name, message);
      return;
    }
  if (!graft_shape_equal (&out_shape, &expected_shape))
    {
      char got[128], want[128];

      graft_shape_format (&out_shape, got, sizeof got);
      graft_shape_format (&expected_shape, want, sizeof want);
      g_test_fail_printf ("%s: the output is %s, expected %s", t->name, got, want);
      return;
    }
  compare (out, expected, shape_count (&expected_shape), &max_diff, &max_ref);
  relative = max_diff / MAX (max_ref, 1e-6);
  g_test_message ("%s: max |graft - onnx| %.3g, max |onnx| %.3g", t->name, max_diff, max_ref);
  if (!(relative <= 1e-4))
    g_test_fail_printf ("%s: max |graft - expected| = %.3g, max |expected| = %.3g: relative %.3g > 1e-4",
                        t->name, max_diff, max_ref, relative);
}

static gboolean
uses_supported_ops_only (const Onnx__ModelProto *model)
{
  if (model->graph == NULL || model->graph->n_node == 0)
    return FALSE;
  for (size_t i = 0; i < model->graph->n_node; i++)
    {
      const Onnx__NodeProto *node = model->graph->node[i];
      gboolean found = FALSE;

      if (node->domain != NULL && node->domain[0] != '\0' && strcmp (node->domain, "ai.onnx") != 0)
        return FALSE;
      for (size_t k = 0; k < G_N_ELEMENTS (supported_ops) && !found; k++)
        found = g_strcmp0 (node->op_type, supported_ops[k]) == 0;
      if (!found)
        return FALSE;
    }
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
add_node_tests (void)
{
  const char *root = g_getenv ("GRAFT_ONNX_NODE_TESTS");
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;
  int added = 0;

  if (root == NULL || *root == '\0')
    root = DEFAULT_NODE_TESTS;
  dir = g_dir_open (root, 0, NULL);
  if (dir == NULL)
    {
      g_test_add_data_func_full ("/model/onnx-node/tests",
                                 g_strdup_printf ("ONNX node tests not found: no %s (Debian: libonnx-testdata)", root),
                                 test_skip_all, g_free);
      return 0;
    }
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *test_dir = g_build_filename (root, name, NULL);
      g_autofree char *model_path = g_build_filename (test_dir, "model.onnx", NULL);
      g_autofree char *message = NULL;
      g_autofree char *path = NULL;
      Onnx__ModelProto *model;
      NodeTest *t;

      if (!g_file_test (model_path, G_FILE_TEST_IS_REGULAR))
        continue;
      model = read_model_proto (model_path, &message);
      if (model == NULL)
        continue;
      if (!uses_supported_ops_only (model))
        {
          onnx__model_proto__free_unpacked (model, NULL);
          continue;
        }
      onnx__model_proto__free_unpacked (model, NULL);
      path = g_strdup_printf ("/model/onnx-node/%s", name);
      for (size_t k = 0; k < G_N_ELEMENTS (node_tests_differing); k++)
        if (strcmp (name, node_tests_differing[k].name) == 0)
          {
            g_test_add_data_func_full (path, g_strdup (node_tests_differing[k].why), test_skip_all, g_free);
            g_clear_pointer (&path, g_free);
            break;
          }
      if (path == NULL)
        continue;
      t = g_new0 (NodeTest, 1);
      t->name = g_strdup (name);
      t->dir = g_steal_pointer (&test_dir);
      g_test_add_data_func_full (path, t, test_node, node_test_free);
      added++;
    }
  return added;
}

/* ------------------------------------------------------------------------ */
/* timm's ConvNeXt (the catalog's convnext_tiny_in22ft1k_Opset17 stand-in)         */

/* The block holding the last Conv with stride 2 (the last downsampling), or -1. */
static int
last_downsampling_block (GraftModel *model)
{
  for (int n = graft_graph_node_count (model->graph) - 1; n >= 0; n--)
    {
      const graft_node *node = graft_graph_node (model->graph, n);
      if (node->attributes.op != GRAFT_OP_CONV || node->attributes.conv.stride_h != 2)
        continue;
      for (guint b = 0; b < model->blocks->len; b++)
        if (g_array_index (model->blocks, GraftBlock, b).first_node <= n
            && n <= g_array_index (model->blocks, GraftBlock, b).last_node)
          return (int) b;
    }
  return -1;
}

/* timm's ConvNeXt as torchvision's: its two stem modules (stem.0, the Conv, and stem.1,
 * its LayerNorm) one block, each stage's downsampling a block before the stage, so
 * that fine-tune trains the last downsampling and the last stage (3 of the 18 ConvNeXt
 * blocks), as on torchvision's features.6 and features.7, not stages.2 and stages.3 (12
 * of 18); and its layer scales, which torch folds into anonymous "onnx::Mul_N"
 * initializers, learn: a fine-tune step changes those of the stages it trains and
 * leaves the others. */
static void
test_timm_convnext (void)
{
  g_autofree char *path = g_build_filename (fixtures_dir, "catalog-standins", "convnext_tiny_in22ft1k_Opset17.onnx", NULL);
  g_autofree char *torchvision_path = g_build_filename (fixtures_dir, "convnext_small_dims-opset17.onnx", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autofree char *names = NULL, *trained = NULL;
  g_autofree float *input = NULL;
  g_autofree float **before = NULL;
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 2, .seed = 3 };
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_optimizer_state *state;
  graft_graph *graph;
  graft_plan *plan;
  graft_error engine;
  int32_t labels[2] = { 1, 7 };
  int backbone, from, scales = 0, changed = 0, kept = 0;
  size_t row;
  float loss;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("catalog stand-ins not made (tests/fixtures/make-catalog-standins.py)");
      return;
    }
  model = graft_model_load (path, &error);
  g_assert_no_error (error);
  names = block_names (model, 0, (int) model->blocks->len);
  g_test_message ("timm ConvNeXt blocks: %s", names);
  g_assert_cmpstr (names, ==, "stem stages.0 stages.1.downsample stages.1 stages.2.downsample stages.2 "
                              "stages.3.downsample stages.3 head.fc");
  backbone = graft_session_spec_backbone_blocks (model);
  spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, model);
  from = spec->stages[0].trainable_from;
  trained = block_names (model, from, backbone);
  g_test_message ("timm ConvNeXt: fine-tune trains %s", trained);
  g_assert_cmpstr (trained, ==, "stages.3.downsample stages.3");
  g_assert_cmpint (from, ==, last_downsampling_block (model));
  if (g_file_test (torchvision_path, G_FILE_TEST_EXISTS))
    {
      /* torchvision's: fine-tune starts at the last downsampling too. */
      g_autoptr (GraftModel) tv = graft_model_load (torchvision_path, &error);
      g_autoptr (GraftSessionSpec) tv_spec = NULL;
      g_assert_no_error (error);
      tv_spec = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, tv);
      g_assert_cmpint (tv_spec->stages[0].trainable_from, ==, last_downsampling_block (tv));
    }

  /* The fine-tune preset's trainable parameters: those of blocks from `from` on. */
  graph = model->graph;
  before = g_new0 (float *, graft_graph_value_count (graph));
  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (graph, n);
          for (int k = 0; k < node->n_inputs; k++)
            if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER)
              graft_graph_set_trainable (graph, node->inputs[k], (int) b >= from);
        }
    }
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      size_t count;
      if (!g_str_has_prefix (value->name, "onnx::Mul_"))
        continue;
      g_assert_cmpint (value->kind, ==, GRAFT_VALUE_PARAMETER);
      graft_shape_count (&value->shape, &count, NULL);
      before[v] = g_memdup2 (graft_graph_tensor_data (graph, v), count * sizeof (float));
      scales++;
    }
  g_assert_cmpint (scales, ==, 18);

  row = shape_count (&graft_graph_value (graph, model->input)->shape);
  input = g_new (float, 2 * row);
  for (size_t i = 0; i < 2 * row; i++)
    input[i] = (float) sin ((double) i * 0.37);
  options.loss_logits = model->logits;
  plan = graft_plan_new (graph, &options, &engine);
  if (plan == NULL)
    g_error ("timm ConvNeXt: %s", engine.message);
  state = graft_optimizer_state_new (&config, &engine);
  g_assert_nonnull (state);
  g_assert_cmpint (graft_plan_set_input (plan, model->input, input, 2 * row, &engine), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &engine), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_backward (plan, labels, &loss, &engine), ==, GRAFT_OK);
  g_assert_cmpint (graft_optimizer_state_step (state, plan, 1e-3f, NULL, &engine), ==, GRAFT_OK);
  graft_optimizer_state_free (state);
  graft_plan_free (plan);

  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      const float *now;
      gboolean differs = FALSE;
      size_t count;
      if (before[v] == NULL)
        continue;
      now = graft_graph_tensor_data (graph, v);
      graft_shape_count (&value->shape, &count, NULL);
      for (size_t i = 0; i < count; i++)
        differs = differs || now[i] != before[v][i];
      if (value->trainable)
        {
          g_assert_true (differs);
          changed++;
        }
      else
        {
          g_assert_false (differs);
          kept++;
        }
      g_free (before[v]);
    }
  g_test_message ("timm ConvNeXt: loss %.4f; a fine-tune step changed %d layer scales and kept %d", loss, changed,
                  kept);
  /* stages.3's three blocks train; stages.0-2's fifteen do not. */
  g_assert_cmpint (changed, ==, 3);
  g_assert_cmpint (kept, ==, 15);
}

/* timm's ViT (the catalog's vit_base_patch16_224_Opset17 stand-in) names its class token
 * and position embedding "cls_token" and "pos_embed", without a dot: both learn, as
 * torchvision's encoder.pos_embedding does, and belong to the first block. */
static void
test_timm_vit_embeddings (void)
{
  g_autofree char *path = g_build_filename (fixtures_dir, "catalog-standins", "vit_base_patch16_224_Opset17.onnx", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;
  const GraftBlock *first;
  int pos, cls;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("catalog stand-ins not made (tests/fixtures/make-catalog-standins.py)");
      return;
    }
  model = graft_model_load (path, &error);
  g_assert_no_error (error);
  pos = graft_graph_find_value (model->graph, "pos_embed");
  cls = graft_graph_find_value (model->graph, "cls_token");
  g_assert_cmpint (pos, >=, 0);
  g_assert_cmpint (cls, >=, 0);
  g_assert_cmpint (graft_graph_value (model->graph, pos)->kind, ==, GRAFT_VALUE_PARAMETER);
  g_assert_cmpint (graft_graph_value (model->graph, cls)->kind, ==, GRAFT_VALUE_PARAMETER);
  first = &g_array_index (model->blocks, GraftBlock, 0);
  g_test_message ("timm ViT: first block %s, %" G_GUINT64_FORMAT " parameters", first->name, first->parameters);
  /* patch_embed.proj (32 x 3 x 16 x 16 and 32), cls_token (32), pos_embed (197 x 32) */
  g_assert_cmpuint (first->parameters, ==, 32 * 3 * 16 * 16 + 32 + 32 + 197 * 32);
}

int
main (int argc, char **argv)
{
  g_autofree char **args = g_new0 (char *, argc + 2);
  int n_args = argc, result;

  /* Keep going after a failure: each fixture's verdict is worth seeing. */
  memcpy (args, argv, argc * sizeof *argv);
  args[n_args++] = (char *) "--keep-going";
  argv = args;
  g_test_init (&n_args, &argv, NULL);
  if (add_fixture_tests () > 0 || fixtures_dir != NULL)
    {
      g_test_add_func ("/model/parity/timm-convnext-blocks", test_timm_convnext);
      g_test_add_func ("/model/parity/timm-vit-embeddings", test_timm_vit_embeddings);
    }
  add_node_tests ();
  result = g_test_run ();
  g_free (fixtures_dir);
  return result;
}
