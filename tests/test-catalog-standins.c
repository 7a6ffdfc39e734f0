/* The catalog's models work once downloaded: each stand-in made by
 * tests/fixtures/make-catalog-standins.py (same ops, opset, attribute forms, layout,
 * input, output and cut names as the real file; random weights, narrow) is imported,
 * run at batch 2, given a new head at its catalog entry's cut, the head trained a few
 * steps (Adam, the same batch: the loss must fall) with the backbone frozen, exported, imported again and run: the outputs of the
 * trained model and of its re-import must agree.
 *
 * A stand-in the catalog marks "unsupported" must fail to import with
 * GRAFT_MODEL_ERROR_UNSUPPORTED naming the op the manifest expects; if it imports,
 * the test fails so that the catalog and the README get updated.
 *
 * /catalog/standins/NAME, one per stand-in in $GRAFT_FIXTURES/catalog-standins.json;
 * skipped when the stand-ins were not made. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "catalog/catalog.h"
#include "engine/plan.h"
#include "model/model.h"
#include "model/surgery.h"

#define BATCH 2
#define CLASSES 3
#define STEPS 5

typedef struct {
  char *dir;
  char *name;
  char *file;
  char *cut;
  char *input_name;
  char *output_name;
  char *layout;
  char *expect;
  char *unsupported_op;
  gint64 opset;
} Standin;

static void
standin_free (gpointer data)
{
  Standin *s = data;
  g_free (s->dir);
  g_free (s->name);
  g_free (s->file);
  g_free (s->cut);
  g_free (s->input_name);
  g_free (s->output_name);
  g_free (s->layout);
  g_free (s->expect);
  g_free (s->unsupported_op);
  g_free (s);
}

static float *
random_floats (size_t count, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  float *data = g_new (float, count);
  for (size_t i = 0; i < count; i++)
    data[i] = (float) g_rand_double_range (rand, -1.5, 1.5);
  g_rand_free (rand);
  return data;
}

static size_t
input_count (GraftModel *model, int batch)
{
  graft_shape shape = graft_graph_value (model->graph, model->input)->shape;
  size_t count;
  shape.dims[0] = batch;
  g_assert_cmpint (graft_shape_count (&shape, &count, NULL), ==, GRAFT_OK);
  return count;
}

/* Runs model at BATCH on input; returns a copy of value and its element count. */
static float *
run (GraftModel *model, int value, const float *input, size_t *count)
{
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = BATCH, .keep = &value, .n_keep = 1 };
  graft_error error;
  graft_plan *plan = graft_plan_new (model->graph, &options, &error);
  graft_shape shape;
  const float *data;
  float *copy;

  if (plan == NULL)
    g_error ("plan: %s", error.message);
  if (graft_plan_set_input (plan, model->input, input, input_count (model, BATCH), &error) != GRAFT_OK
      || graft_plan_forward (plan, &error) != GRAFT_OK)
    g_error ("forward: %s", error.message);
  data = graft_plan_value_data (plan, value, &shape);
  g_assert_nonnull (data);
  g_assert_cmpint (shape.dims[0], ==, BATCH);
  g_assert_cmpint (graft_shape_count (&shape, count, NULL), ==, GRAFT_OK);
  copy = g_memdup2 (data, *count * sizeof (float));
  graft_plan_free (plan);
  for (size_t i = 0; i < *count; i++)
    g_assert_true (isfinite (copy[i]));
  return copy;
}

static float
max_abs (const float *a, size_t n)
{
  float m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmaxf (m, fabsf (a[i]));
  return m;
}

static void
test_standin (gconstpointer data)
{
  const Standin *s = data;
  g_autofree char *path = g_build_filename (s->dir, s->file, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (&error);
  g_autoptr (GraftModel) model = NULL, grafted = NULL, reloaded = NULL;
  g_autofree float *input = NULL, *output = NULL, *trained = NULL, *again = NULL, *head_before = NULL;
  g_autofree char *tmpdir = NULL, *saved = NULL;
  const GraftCatalogEntry *entry;
  GraftHeadSpec head = { .n_hidden = 0, .activation = GRAFT_ACTIVATION_RELU };
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = BATCH, .seed = 7 };
  graft_optimizer_state *state;
  graft_plan *plan;
  graft_error engine_error;
  int32_t labels[BATCH] = { 0, 2 };
  int cut, head_weight, frozen_probe = -1;
  size_t count, head_count, trained_count, again_count;
  float frozen_before = 0, first_loss = 0, last_loss = 0;
  gint64 size_dim;

  g_assert_no_error (error);
  entry = graft_catalog_find (catalog, s->name);
  if (entry == NULL)
    g_error ("the stand-in %s has no catalog entry", s->name);

  /* The stand-in and the catalog describe the same file. */
  g_assert_cmpstr (entry->cut, ==, s->cut);
  g_assert_cmpstr (entry->input_name, ==, s->input_name);
  g_assert_cmpstr (entry->output_name, ==, s->output_name);
  g_assert_cmpint (entry->opset, ==, s->opset);
  g_assert_cmpint (entry->preprocessing.nhwc, ==, strcmp (s->layout, "NHWC") == 0);
  g_assert_cmpint (entry->supported, ==, strcmp (s->expect, "works") == 0);

  model = graft_model_load (path, &error);
  if (strcmp (s->expect, "unsupported") == 0)
    {
      g_autofree char *quoted = g_strdup_printf ("'%s'", s->unsupported_op);
      if (model != NULL)
        g_error ("%s now imports: mark it \"works\" in data/catalog.json and the README's Model catalog", s->name);
      g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED);
      g_test_message ("unsupported, as expected: %s", error->message);
      g_assert_nonnull (strstr (error->message, quoted));
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpstr (model->input_name, ==, entry->input_name);
  if (entry->output_name != NULL)
    g_assert_cmpstr (model->output_name, ==, entry->output_name);
  g_assert_cmpint (model->opset, ==, entry->opset);
  g_assert_cmpint (model->input_nhwc, ==, entry->preprocessing.nhwc);
  size_dim = graft_graph_value (model->graph, model->input)->shape.dims[entry->preprocessing.nhwc ? 1 : 2];
  g_assert_cmpint (size_dim, ==, entry->input_size);

  /* Runs at batch 2, whatever batch the file declares. */
  input = random_floats (input_count (model, BATCH), 11);
  output = run (model, model->output, input, &count);
  g_assert_cmpuint (count, ==, (size_t) BATCH * 1000);
  g_assert_cmpfloat (max_abs (output, count), >, 0);

  /* A new head at the catalog's cut. */
  {
    gboolean named = FALSE;
    cut = graft_catalog_entry_find_cut (entry, model, &named);
    if (!named)
      g_error ("%s: no value named '%s' (the catalog's cut) after import", s->name, entry->cut);
    g_assert_cmpint (cut, ==, graft_graph_find_value (model->graph, entry->cut));
  }
  {
    /* A cut name the file does not have falls back to the classifier's input. */
    g_autoptr (GraftCatalogEntry) renamed = graft_catalog_entry_copy (entry);
    gboolean named = TRUE;
    g_free (renamed->cut);
    renamed->cut = g_strdup ("no such value");
    g_assert_cmpint (graft_catalog_entry_find_cut (renamed, model, &named), ==, graft_model_default_cut (model));
    g_assert_false (named);
  }
  g_test_message ("%s: cut '%s' %s the default cut", s->name, entry->cut,
                  cut == graft_model_default_cut (model) ? "is" : "is not");
  grafted = graft_model_graft_head (model, cut, &head, CLASSES, 42, &error);
  g_assert_no_error (error);
  g_assert_nonnull (grafted);

  /* Feature extraction: the backbone frozen, its BatchNorm in inference mode. */
  head_weight = -1;
  for (int v = 0; v < graft_graph_value_count (grafted->graph); v++)
    {
      const graft_value *value = graft_graph_value (grafted->graph, v);
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      if (g_str_has_prefix (value->name, "head."))
        {
          if (head_weight < 0 && value->shape.rank == 2)
            head_weight = v;
          continue;
        }
      graft_graph_set_trainable (grafted->graph, v, false);
      if (frozen_probe < 0)
        frozen_probe = v;
    }
  for (int n = 0; n < graft_graph_node_count (grafted->graph); n++)
    if (graft_graph_node (grafted->graph, n)->attributes.op == GRAFT_OP_BATCHNORM)
      graft_graph_set_batchnorm_batch_statistics (grafted->graph, n, false);
  g_assert_cmpint (head_weight, >=, 0);
  g_assert_cmpint (frozen_probe, >=, 0);
  {
    const graft_value *w = graft_graph_value (grafted->graph, head_weight);
    size_t n;
    graft_shape_count (&w->shape, &n, NULL);
    head_count = n;
    head_before = g_memdup2 (graft_graph_tensor_data (grafted->graph, head_weight), n * sizeof (float));
    frozen_before = graft_graph_tensor_data (grafted->graph, frozen_probe)[0];
  }

  /* A few steps of training. */
  training.loss_logits = grafted->logits;
  config.learning_rate = 1e-3f;
  plan = graft_plan_new (grafted->graph, &training, &engine_error);
  if (plan == NULL)
    g_error ("%s: training plan: %s", s->name, engine_error.message);
  state = graft_optimizer_state_new (&config, &engine_error);
  g_assert_nonnull (state);
  for (int step = 0; step < STEPS; step++)
    {
      float loss;
      if (graft_plan_set_input (plan, grafted->input, input, input_count (grafted, BATCH), &engine_error) != GRAFT_OK
          || graft_plan_forward (plan, &engine_error) != GRAFT_OK
          || graft_plan_backward (plan, labels, &loss, &engine_error) != GRAFT_OK
          || graft_optimizer_state_step (state, plan, config.learning_rate, NULL, &engine_error) != GRAFT_OK)
        g_error ("%s: training step %d: %s", s->name, step, engine_error.message);
      g_assert_true (isfinite (loss));
      g_test_message ("%s: step %d loss %.4f", s->name, step, loss);
      if (step == 0)
        first_loss = loss;
      last_loss = loss;
    }
  /* The same batch every step: the head fits it. */
  g_assert_cmpfloat (last_loss, <, first_loss);
  graft_optimizer_state_free (state);
  graft_plan_free (plan);
  {
    const float *now = graft_graph_tensor_data (grafted->graph, head_weight);
    gboolean changed = FALSE;
    for (size_t i = 0; i < head_count && !changed; i++)
      changed = now[i] != head_before[i];
    g_assert_true (changed);
    g_assert_cmpfloat (graft_graph_tensor_data (grafted->graph, frozen_probe)[0], ==, frozen_before);
  }
  trained = run (grafted, grafted->logits, input, &trained_count);
  g_assert_cmpuint (trained_count, ==, BATCH * CLASSES);

  /* Export, import again, same outputs. */
  tmpdir = g_dir_make_tmp ("graft-standin-XXXXXX", &error);
  g_assert_no_error (error);
  saved = g_build_filename (tmpdir, "grafted.onnx", NULL);
  g_assert_true (graft_model_save (grafted, saved, NULL, &error));
  g_assert_no_error (error);
  reloaded = graft_model_load (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reloaded->input_nhwc, ==, model->input_nhwc);
  again = run (reloaded, reloaded->logits, input, &again_count);
  g_assert_cmpuint (again_count, ==, trained_count);
  for (size_t i = 0; i < again_count; i++)
    g_assert_cmpfloat_with_epsilon (again[i], trained[i], 1e-4f * fmaxf (1.0f, max_abs (trained, trained_count)));
  g_unlink (saved);
  g_rmdir (tmpdir);
}

static char *
member_string (JsonObject *o, const char *key)
{
  return json_object_has_member (o, key) ? g_strdup (json_object_get_string_member (o, key)) : NULL;
}

static void
skip (gconstpointer reason)
{
  g_test_skip (reason);
}

int
main (int argc, char **argv)
{
  const char *dir = g_getenv ("GRAFT_FIXTURES");
  g_autofree char *manifest = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) standins = g_ptr_array_new_with_free_func (standin_free);
  JsonArray *array;

  g_test_init (&argc, &argv, NULL);
  if (dir != NULL)
    manifest = g_build_filename (dir, "catalog-standins.json", NULL);
  if (manifest == NULL || !g_file_test (manifest, G_FILE_TEST_EXISTS))
    {
      g_test_add_data_func ("/catalog/standins", "catalog stand-ins not made (tests/fixtures/"
                            "make-catalog-standins.py needs /usr/bin/python3 with onnx and numpy)", skip);
      return g_test_run ();
    }
  if (!json_parser_load_from_file (parser, manifest, &error))
    g_error ("%s: %s", manifest, error->message);
  array = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "standins");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);
      Standin *s = g_new0 (Standin, 1);
      g_autofree char *test_path = NULL;
      s->dir = g_strdup (dir);
      s->name = member_string (o, "name");
      s->file = member_string (o, "file");
      s->cut = member_string (o, "cut");
      s->input_name = member_string (o, "input_name");
      s->output_name = member_string (o, "output_name");
      s->layout = member_string (o, "layout");
      s->expect = member_string (o, "expect");
      s->unsupported_op = member_string (o, "unsupported_op");
      s->opset = json_object_get_int_member (o, "opset");
      g_ptr_array_add (standins, s);
      test_path = g_strdup_printf ("/catalog/standins/%s", s->name);
      g_test_add_data_func (test_path, s, test_standin);
    }
  return g_test_run ();
}
