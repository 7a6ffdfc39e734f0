/* test-cli-train: graft-cli's train, lr-find, eval, predict and export, spawned as
 * scripts use them ($GRAFT_CLI), on the toy network (tests/toy-network.h) saved as
 * ONNX and a folder of 8x8 toy PNGs (three classes: a horizontal bar, a vertical bar, a
 * diagonal, on noise). */
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-test-helpers.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model-private.h"
#include "train/embedding-cache.h"
#include "train/spec.h"
#include "toy-images.h"
#include "toy-network.h"

static char *folder;       /* base.onnx, train/, val/, ... */
static char *base_path;    /* the pretrained toy network, with graft.preprocessing */
static char *train_dir, *val_dir, *cache_dir;
static char *trained_path; /* made by /cli/train/json */

static const char *const class_names[TOY_CLASSES] = { "horizontal", "vertical", "diagonal" };
/* As ImageFolder orders them: by name. */
static const char *const sorted_names[TOY_CLASSES] = { "diagonal", "horizontal", "vertical" };

/* ------------------------------------------------------------------------ */
/* The toy setup                                                            */

/* n toy images under root/<class>/NNN.png. */
static void
write_image_folder (const char *root, int n, uint64_t seed)
{
  g_autofree float *images = test_floats ((size_t) n * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
  g_autofree int32_t *labels = g_new (int32_t, n);
  toy_batch (n, seed, images, labels);
  for (int c = 0; c < TOY_CLASSES; c++)
    {
      g_autofree char *dir = g_build_filename (root, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("%03d.png", i);
      g_autofree char *path = g_build_filename (root, class_names[labels[i]], name, NULL);
      toy_write_png (path, images + (size_t) i * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
    }
}

/* The toy network, briefly pretrained on the toy task so that its features mean
 * something (as in test-train-trainer.c), saved as ONNX with the toy preprocessing. */
static void
write_base_model (const char *path)
{
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GError) error = NULL;
  GraftExportOptions export_options = { 0 };

  model->ir_version = 7;
  model->opset = 13;
  model->producer_name = g_strdup ("Graft tests");
  model->graph_name = g_strdup ("toy");
  g_assert_true (graft_model_save (model, path, &export_options, &error));
  g_assert_no_error (error);
}


/* ------------------------------------------------------------------------ */
/* Running graft-cli                                                        */

static char *
metadata (GraftModel *model, const char *key)
{
  return g_strdup (g_hash_table_lookup (model->metadata, key));
}

static char *
write_temp (const char *name, const char *contents)
{
  char *path = g_build_filename (folder, name, NULL);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

/* ------------------------------------------------------------------------ */
/* train                                                                    */

static void
test_train_json (void)
{
  g_autofree char *out = NULL, *err = NULL, *spec_path = g_build_filename (folder, "saved-spec.json", NULL);
  g_autofree char *recipe = NULL, *labels = NULL, *sha = NULL, *saved = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GraftSessionSpec) saved_spec = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) labels_node = NULL;
  JsonObject *done = NULL;
  int steps = 0, epochs = 0, stages = 0, logs = 0, objects = 0;

  if (!cli_test_ready ())
    return;
  trained_path = g_build_filename (folder, "trained.onnx", NULL);
  g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--validation", val_dir, "--output",
                            trained_path, "--json", "--epochs", "15", "--lr", "0.03", "--batch", "16", "--seed", "1",
                            "--cache-dir", cache_dir, "--save-spec", spec_path, NULL),
                   ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonNode) node = NULL;
      JsonObject *object;
      const char *event;
      if (lines[i][0] == '\0')
        {
          g_assert_null (lines[i + 1]); /* only the end of the last line */
          continue;
        }
      node = cli_test_parse (lines[i]);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      object = json_node_get_object (node);
      event = json_object_get_string_member (object, "event");
      g_assert_null (done); /* "done" comes last */
      objects++;
      if (strcmp (event, "step") == 0)
        {
          g_assert_true (isfinite (json_object_get_double_member (object, "loss")));
          g_assert_cmpint (json_object_get_int_member (object, "step"), <=,
                           json_object_get_int_member (object, "steps"));
          steps++;
        }
      else if (strcmp (event, "epoch") == 0)
        {
          epochs++;
          g_assert_cmpint (json_object_get_int_member (object, "epoch"), ==, epochs);
          g_assert_cmpint (json_object_get_int_member (object, "epochs"), ==, 15);
          g_assert_true (json_object_has_member (object, "validation_accuracy"));
          g_assert_true (json_object_has_member (object, "best"));
        }
      else if (strcmp (event, "stage") == 0)
        stages++;
      else if (strcmp (event, "log") == 0)
        {
          g_assert_nonnull (json_object_get_string_member (object, "message"));
          logs++;
        }
      else if (strcmp (event, "done") == 0)
        done = json_object_ref (object);
      else if (strcmp (event, "boundary_cache") == 0)
        /* Feature extraction: the embedding cache serves, nothing trains below the head. */
        g_assert_false (json_object_get_boolean_member (object, "used"));
      else
        g_error ("unexpected event %s", event);
    }
  g_assert_nonnull (done);
  g_assert_cmpint (epochs, ==, 15);
  g_assert_cmpint (stages, ==, 1);
  g_assert_cmpint (steps, ==, 15 * 6); /* 96 images in batches of 16 */
  g_assert_cmpint (logs, >=, 1);
  g_assert_cmpstr (json_object_get_string_member (done, "output"), ==, trained_path);
  g_assert_cmpfloat (json_object_get_double_member (done, "validation_accuracy"), >=, 0.8);
  g_assert_false (json_object_get_boolean_member (done, "interrupted"));
  g_assert_cmpint (json_object_get_int_member (done, "epochs_completed"), ==, 15);
  json_object_unref (done);

  /* The model: labels are the folder names, the recipe a spec tied to the base model. */
  model = graft_model_load (trained_path, &error);
  g_assert_no_error (error);
  labels = metadata (model, GRAFT_METADATA_LABELS);
  g_assert_nonnull (labels);
  labels_node = cli_test_parse (labels);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (labels_node));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (labels_node)), ==, TOY_CLASSES);
  for (int c = 0; c < TOY_CLASSES; c++)
    g_assert_cmpstr (json_array_get_string_element (json_node_get_array (labels_node), c), ==, sorted_names[c]);
  g_assert_nonnull (g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING));
  recipe = metadata (model, GRAFT_METADATA_RECIPE);
  g_assert_nonnull (recipe);
  spec = graft_session_spec_from_json (recipe, &error);
  g_assert_no_error (error);
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_FEATURE_EXTRACTION);
  g_assert_cmpint (spec->epochs, ==, 15);
  g_assert_cmpint (spec->batch_size, ==, 16);
  g_assert_cmpfloat_with_epsilon (spec->optimizer.learning_rate, 0.03, 1e-6);
  g_assert_cmpint (spec->preprocessing.size, ==, TOY_SIZE);
  g_assert_cmpfloat (spec->preprocessing.std[0], ==, 160);
  g_assert_cmpstr (spec->model_path, ==, base_path);
  sha = graft_file_sha256 (base_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (spec->model_sha256, ==, sha);
  g_assert_cmpint (graft_graph_value (model->graph, model->logits)->shape.dims[1], ==, TOY_CLASSES);

  /* --save-spec wrote the same spec. */
  g_assert_true (g_file_get_contents (spec_path, &saved, NULL, &error));
  saved_spec = graft_session_spec_from_json (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (saved_spec->model_sha256, ==, sha);
  g_assert_cmpint (saved_spec->epochs, ==, 15);
}

/* A short spec file gets this model's stages and preprocessing (the preset's); flags
 * go over it; without --validation a part of DATA is held out. */
static void
test_train_spec_file (void)
{
  g_autofree char *out = NULL, *err = NULL, *saved = NULL;
  g_autofree char *spec_path = write_temp ("short-spec.json", "{\"strategy\": \"fine-tune\", \"epochs\": 3, "
                                                              "\"augmentation\": {\"enabled\": true, "
                                                              "\"crop_scale_min\": 0.6}}");
  g_autofree char *saved_path = g_build_filename (folder, "fine-tune-spec.json", NULL);
  g_autofree char *output = g_build_filename (folder, "fine-tuned.onnx", NULL);
  g_autoptr (GraftModel) base = NULL;
  g_autoptr (GraftSessionSpec) preset = NULL;
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--spec", spec_path, "--batch", "32",
                            "--output", output, "--cache-dir", cache_dir, "--save-spec", saved_path, NULL),
                   ==, 0);
  g_test_message ("%s", out);
  g_assert_nonnull (strstr (out, "epoch 3/3"));
  g_assert_nonnull (strstr (out, "Saved"));
  g_assert_true (g_file_get_contents (saved_path, &saved, NULL, NULL));
  spec = graft_session_spec_from_json (saved, &error);
  g_assert_no_error (error);
  base = graft_model_load (base_path, &error);
  g_assert_no_error (error);
  preset = graft_session_spec_new (GRAFT_STRATEGY_FINE_TUNE, base);
  g_assert_cmpint (spec->strategy, ==, GRAFT_STRATEGY_FINE_TUNE);
  g_assert_cmpint (spec->epochs, ==, 3);
  g_assert_cmpint (spec->batch_size, ==, 32);
  g_assert_cmpint (spec->n_stages, ==, preset->n_stages);
  g_assert_cmpint (spec->stages[0].trainable_from, ==, preset->stages[0].trainable_from);
  g_assert_cmpfloat (spec->backbone_lr_fraction, ==, preset->backbone_lr_fraction);
  g_assert_cmpint (spec->preprocessing.size, ==, TOY_SIZE);
  g_assert_true (spec->augmentation.enabled);
  g_assert_cmpfloat_with_epsilon (spec->augmentation.crop_scale_min, 0.6, 1e-6);
  g_assert_cmpfloat (spec->augmentation.rotation_degrees, ==, preset->augmentation.rotation_degrees);
  model = graft_model_load (output, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_hash_table_lookup (model->metadata, "graft.validation_accuracy"));
}

/* --precision: bf16 trains and is stored in the saved spec where the CPU has
 * AVX512_BF16 or AMX; elsewhere it is refused by name; an unknown precision is a usage
 * error. */
static void
test_train_precision (void)
{
  g_autofree char *out = NULL, *err = NULL, *saved = NULL;
  g_autofree char *saved_path = g_build_filename (folder, "bf16-spec.json", NULL);
  g_autofree char *output = g_build_filename (folder, "bf16.onnx", NULL);
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--precision", "fp16", "--output", output,
                            NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--precision is fp32 or bf16, not 'fp16'"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = run_cli (&out, &err, "train", base_path, train_dir, "--preset", "fine-tune", "--epochs", "2",
                    "--precision", "bf16", "--output", output, "--cache-dir", cache_dir, "--save-spec", saved_path,
                    NULL);
  if (!graft_plan_bf16_supported ())
    {
      g_assert_cmpint (status, !=, 0);
      g_assert_nonnull (strstr (err, "AVX512_BF16"));
      g_test_skip ("this CPU has neither AVX512_BF16 nor AMX: bf16 training was refused, as it should be");
      return;
    }
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "epoch 2/2"));
  g_assert_true (g_file_get_contents (saved_path, &saved, NULL, NULL));
  spec = graft_session_spec_from_json (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpint (spec->precision, ==, GRAFT_PLAN_PRECISION_BF16);
}

/* A catalog model (its file downloaded into $XDG_DATA_HOME/graft/models and verified):
 * the head goes on the value its entry names as the cut, not on the default cut. */
static void
test_train_catalog_cut (void)
{
  g_autofree char *data_home = g_build_filename (folder, "xdg-data", NULL);
  g_autofree char *models = g_build_filename (data_home, "graft", "models", NULL);
  g_autofree char *catalog_path = g_build_filename (data_home, "graft", "catalog.json", NULL);
  g_autofree char *model_path = g_build_filename (models, "toy-catalog.onnx", NULL);
  g_autofree char *spec_path = g_build_filename (folder, "catalog-spec.json", NULL);
  g_autofree char *output = g_build_filename (folder, "catalog-trained.onnx", NULL);
  g_autofree char *contents = NULL, *sha256 = NULL, *catalog = NULL, *saved = NULL, *out = NULL, *err = NULL;
  g_autofree char *prep_json = NULL;
  g_autoptr (GraftModel) base = NULL;
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_get_contents (base_path, &contents, &length, &error));
  g_assert_true (g_file_set_contents (model_path, contents, (gssize) length, &error));
  sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  base = graft_model_load (base_path, &error);
  g_assert_no_error (error);
  prep_json = g_strdup (g_hash_table_lookup (base->metadata, "graft.preprocessing"));
  catalog = g_strdup_printf ("{\"catalog\": 1, \"models\": [{\"name\": \"toy-catalog\", \"description\": \"toy\", "
                             "\"url\": \"http://127.0.0.1:9/toy-catalog.onnx\", \"bytes\": %" G_GSIZE_FORMAT ", "
                             "\"sha256\": \"%s\", \"licence\": \"CC0-1.0\", \"input_size\": %d, "
                             "\"preprocessing\": %s, \"cut\": \"concat\"}]}",
                             length, sha256, TOY_SIZE, prep_json);
  g_assert_true (g_file_set_contents (catalog_path, catalog, -1, &error));

  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_assert_cmpint (run_cli (&out, &err, "train", model_path, train_dir, "--epochs", "1", "--output", output,
                            "--cache-dir", cache_dir, "--save-spec", spec_path, NULL),
                   ==, 0);
  {
    /* The same file without its own preprocessing: graft-cli export writes the entry's. */
    g_autofree char *plain_path = g_build_filename (models, "toy-plain.onnx", NULL);
    g_autofree char *plain = NULL, *plain_sha256 = NULL, *plain_catalog = NULL;
    g_autoptr (GraftModel) exported = NULL;
    GraftExportOptions options = { 0 };
    gsize plain_length;
    GraftPreprocessing prep;

    g_hash_table_remove (base->metadata, "graft.preprocessing");
    g_assert_true (graft_model_save (base, plain_path, &options, &error));
    g_assert_true (g_file_get_contents (plain_path, &plain, &plain_length, &error));
    plain_sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) plain, plain_length);
    plain_catalog = g_strdup_printf ("{\"catalog\": 1, \"models\": [{\"name\": \"toy-plain\", \"description\": "
                                     "\"toy\", \"url\": \"http://127.0.0.1:9/toy-plain.onnx\", \"bytes\": %"
                                     G_GSIZE_FORMAT ", \"sha256\": \"%s\", \"licence\": \"CC0-1.0\", "
                                     "\"input_size\": %d, \"preprocessing\": %s, \"cut\": \"concat\"}]}",
                                     plain_length, plain_sha256, TOY_SIZE, prep_json);
    g_assert_true (g_file_set_contents (catalog_path, plain_catalog, -1, &error));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_cli (NULL, &err, "export", plain_path, "--output", output, NULL), ==, 0);
    exported = graft_model_load (output, &error);
    g_assert_no_error (error);
    g_assert_true (graft_preprocessing_from_json (g_hash_table_lookup (exported->metadata, "graft.preprocessing"),
                                                  &prep, &error));
    g_assert_cmpint (prep.size, ==, TOY_SIZE);
  }
  g_unsetenv ("XDG_DATA_HOME");
  g_assert_true (g_file_get_contents (spec_path, &saved, NULL, NULL));
  spec = graft_session_spec_from_json (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (spec->cut, ==, "concat");
  /* The checksum comes from the verified entry, and is the file's. */
  g_assert_cmpstr (spec->model_sha256, ==, sha256);

  /* The same file outside the catalog's folder keeps the default cut. */
  g_clear_pointer (&spec, graft_session_spec_free);
  g_clear_pointer (&saved, g_free);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--epochs", "1", "--output", output,
                            "--cache-dir", cache_dir, "--save-spec", spec_path, NULL),
                   ==, 0);
  g_assert_true (g_file_get_contents (spec_path, &saved, NULL, NULL));
  spec = graft_session_spec_from_json (saved, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (spec->cut, !=, "concat");
}

static void
test_train_diverges (void)
{
  g_autofree char *err = NULL;
  g_autofree char *spec_path = write_temp ("sgd-spec.json", "{\"optimizer\": {\"kind\": \"sgd\"}, "
                                                            "\"schedule\": {\"kind\": \"constant\"}}");
  g_autofree char *output = g_build_filename (folder, "diverged.onnx", NULL);

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (NULL, &err, "train", base_path, train_dir, "--preset", "fine-tune", "--spec",
                            spec_path, "--lr", "1e30", "--epochs", "2", "--output", output, NULL),
                   ==, 3);
  g_assert_nonnull (strstr (err, "diverged"));
  g_assert_false (g_file_test (output, G_FILE_TEST_EXISTS));
}

/* An output that cannot be written fails at once, before the first epoch, naming
 * the path (it once trained every epoch first). */
static void
test_train_output_location (void)
{
  g_autofree char *missing = g_build_filename (folder, "no-such-folder", "out.onnx", NULL);
  g_autofree char *read_only = g_build_filename (folder, "read-only", NULL);
  g_autofree char *in_read_only = g_build_filename (read_only, "out.onnx", NULL);
  g_autofree char *in_file = g_build_filename (base_path, "out.onnx", NULL);
  const char *outputs[] = { in_read_only, missing, train_dir, in_file };
  const char *reasons[] = { "no file can be created", "there is no folder", "it is a folder", "is not a folder" };

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (g_mkdir (read_only, 0555), ==, 0);
  g_assert_cmpint (g_chmod (read_only, 0555), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      if (i == 0 && geteuid () == 0)
        {
          g_test_message ("root writes in a 0555 folder: that case is not tested");
          continue;
        }
      g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--epochs", "3", "--json", "--cache-dir",
                                cache_dir, "--output", outputs[i], NULL),
                       ==, 1);
      g_assert_nonnull (strstr (err, outputs[i]));
      g_assert_nonnull (strstr (err, reasons[i]));
      /* Nothing trained: no step, epoch or stage event. */
      g_assert_null (strstr (out, "\"event\""));
      g_assert_false (g_file_test (outputs[i], G_FILE_TEST_IS_REGULAR));
    }
}

/* Ctrl+C: the run stops, the best weights so far are saved, exit status 130. */
static void
test_train_interrupt (void)
{
  g_autofree char *output = g_build_filename (folder, "interrupted.onnx", NULL);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autofree char *last = NULL;
  char *line;
  gboolean signalled = FALSE;

  if (!cli_test_ready ())
    return;
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, cli_path,
                              "train", base_path, train_dir, "--validation", val_dir, "--preset", "fine-tune",
                              "--epochs", "10000", "--output", output, "--json", NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  while ((line = g_data_input_stream_read_line (lines, NULL, NULL, &error)) != NULL)
    {
      if (!signalled && strstr (line, "\"event\":\"epoch\"") != NULL)
        {
          g_subprocess_send_signal (process, SIGINT);
          signalled = TRUE;
        }
      g_free (last);
      last = line;
    }
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_true (signalled);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 130);
  g_assert_nonnull (last);
  {
    g_autoptr (JsonNode) node = cli_test_parse (last);
    JsonObject *done = json_node_get_object (node);
    g_assert_cmpstr (json_object_get_string_member (done, "event"), ==, "done");
    g_assert_true (json_object_get_boolean_member (done, "interrupted"));
    g_assert_cmpint (json_object_get_int_member (done, "epochs_completed"), >=, 1);
    g_assert_cmpint (json_object_get_int_member (done, "epochs_completed"), <, 10000);
  }
  model = graft_model_load (output, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS));
}

typedef struct {
  gboolean done;
} WaitState;

static void
on_waited (GObject *source, GAsyncResult *result, gpointer data)
{
  WaitState *state = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  state->done = TRUE;
}

/* Seconds until process ends, or -1 (and it is killed) when it is still there after
 * limit seconds. */
static double
wait_at_most (GSubprocess *process, double limit)
{
  WaitState state = { FALSE };
  gint64 start = g_get_monotonic_time ();
  double took;

  g_subprocess_wait_async (process, NULL, on_waited, &state);
  while (!state.done && g_get_monotonic_time () - start < limit * 1e6)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  took = (g_get_monotonic_time () - start) / 1e6;
  if (state.done)
    return took;
  g_subprocess_force_exit (process);
  while (!state.done)
    g_main_context_iteration (NULL, TRUE);
  return -1;
}

/* Files in folder whose names start with prefix (an output and its temporary files). */
static guint
count_files (const char *prefix)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      {
        g_test_message ("%s", name);
        n++;
      }
  return n;
}

/* SIGTERM ends a run within a second: a run that polls its stop hook stops and saves
 * (143); one blocked in a write to a full pipe (its stdout is read by no one), where
 * nothing polls, is ended by the watchdog (143 as well) without leaving any part of
 * its output. It once waited there for ever. */
static void
test_train_sigterm (void)
{
  g_autofree char *saved = g_build_filename (folder, "sigterm-saved.onnx", NULL);
  g_autofree char *blocked = g_build_filename (folder, "sigterm-blocked.onnx", NULL);
  g_autoptr (GError) error = NULL;
  double took;

  if (!cli_test_ready ())
    return;
  {
    g_autoptr (GSubprocess) process = NULL;
    g_autoptr (GDataInputStream) lines = NULL;
    g_autoptr (GraftModel) model = NULL;
    char *line;
    gint64 signalled = 0;

    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, cli_path,
                                "train", base_path, train_dir, "--preset", "fine-tune", "--epochs", "10000",
                                "--output", saved, "--json", NULL);
    g_assert_no_error (error);
    lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
    while ((line = g_data_input_stream_read_line (lines, NULL, NULL, &error)) != NULL)
      {
        if (signalled == 0 && strstr (line, "\"event\":\"epoch\"") != NULL)
          {
            g_subprocess_send_signal (process, SIGTERM);
            signalled = g_get_monotonic_time ();
          }
        g_free (line);
      }
    g_assert_cmpint (signalled, >, 0);
    g_assert_cmpfloat (wait_at_most (process, 10), >=, 0);
    took = (g_get_monotonic_time () - signalled) / 1e6;
    g_test_message ("a polling run ended %.3f s after SIGTERM", took);
    g_assert_cmpfloat (took, <, 1.0);
    g_assert_true (g_subprocess_get_if_exited (process));
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 143);
    model = graft_model_load (saved, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (count_files ("sigterm-saved.onnx"), ==, 1);
  }
  {
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_autoptr (GSubprocess) process = NULL;
    int fds[2], fd, queued = 0;
    gint64 start = g_get_monotonic_time ();

    g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
    fd = fds[0];
    g_subprocess_launcher_take_stdout_fd (launcher, fds[1]);
    process = g_subprocess_launcher_spawn (launcher, &error, cli_path, "train", base_path, train_dir, "--preset",
                                           "fine-tune", "--epochs", "10000", "--output", blocked, "--json", NULL);
    g_assert_no_error (error);
    g_clear_object (&launcher); /* closes the write end here */
    /* Until the pipe is full (64 KiB on Linux) and the run waits in write(). */
    while (queued < 60000 && g_get_monotonic_time () - start < 60 * G_USEC_PER_SEC)
      {
        g_usleep (20000);
        g_assert_cmpint (ioctl (fd, FIONREAD, &queued), ==, 0);
      }
    g_assert_cmpint (queued, >=, 60000);
    g_usleep (200000);
    g_subprocess_send_signal (process, SIGTERM);
    took = wait_at_most (process, 5);
    g_test_message ("a run blocked in write() ended %.3f s after SIGTERM", took);
    g_assert_cmpfloat (took, >=, 0);
    g_assert_cmpfloat (took, <, 1.0);
    g_assert_true (g_subprocess_get_if_exited (process));
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 143);
    g_assert_cmpuint (count_files ("sigterm-blocked.onnx"), ==, 0);
    close (fd);
  }
}

/* ------------------------------------------------------------------------ */
/* eval, predict, lr-find, export                                           */

static void
test_eval (void)
{
  g_autofree char *out = NULL, *err = NULL, *table = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *root;
  JsonArray *classes, *confusion;
  gint64 total = 0, support = 0;

  if (!cli_test_ready () || trained_path == NULL)
    {
      g_test_skip ("needs the model of /cli/train/json");
      return;
    }
  g_assert_cmpint (run_cli (&out, &err, "eval", trained_path, val_dir, "--json", "--batch", "7", NULL), ==, 0);
  node = cli_test_parse (out);
  root = json_node_get_object (node);
  g_test_message ("accuracy %g", json_object_get_double_member (root, "accuracy"));
  g_assert_cmpfloat (json_object_get_double_member (root, "accuracy"), >=, 0.8);
  g_assert_cmpint (json_object_get_int_member (root, "images"), ==, 48);
  g_assert_true (isfinite (json_object_get_double_member (root, "loss")));
  classes = json_object_get_array_member (root, "classes");
  g_assert_cmpuint (json_array_get_length (classes), ==, TOY_CLASSES);
  for (int c = 0; c < TOY_CLASSES; c++)
    {
      JsonObject *klass = json_array_get_object_element (classes, c);
      g_assert_cmpstr (json_object_get_string_member (klass, "name"), ==, sorted_names[c]);
      g_assert_cmpfloat (json_object_get_double_member (klass, "f1"), >=, 0);
      support += json_object_get_int_member (klass, "support");
    }
  g_assert_cmpint (support, ==, 48);
  confusion = json_object_get_array_member (root, "confusion");
  g_assert_cmpuint (json_array_get_length (confusion), ==, TOY_CLASSES);
  for (int t = 0; t < TOY_CLASSES; t++)
    for (int c = 0; c < TOY_CLASSES; c++)
      total += json_array_get_int_element (json_array_get_array_element (confusion, t), c);
  g_assert_cmpint (total, ==, 48);

  g_assert_cmpint (run_cli (&table, NULL, "eval", trained_path, val_dir, NULL), ==, 0);
  g_assert_nonnull (strstr (table, "accuracy"));
  g_assert_nonnull (strstr (table, "precision"));
  g_assert_nonnull (strstr (table, "confusion matrix"));
  g_assert_nonnull (strstr (table, "horizontal"));
}

/* A folder that is not among the model's labels is named; a model without labels
 * takes the folders in order. */
static void
test_eval_classes (void)
{
  g_autofree char *extra = g_build_filename (folder, "val-extra", NULL);
  g_autofree char *circle = g_build_filename (extra, "circle", NULL);
  g_autofree char *err = NULL, *err2 = NULL, *out = NULL;

  if (!cli_test_ready () || trained_path == NULL)
    {
      g_test_skip ("needs the model of /cli/train/json");
      return;
    }
  write_image_folder (extra, 12, 700);
  g_assert_cmpint (g_mkdir_with_parents (circle, 0755), ==, 0);
  {
    g_autofree char *image = g_build_filename (circle, "0.png", NULL);
    float pixels[TOY_CHANNELS * TOY_SIZE * TOY_SIZE] = { 0 };
    toy_write_png (image, pixels);
  }
  g_assert_cmpint (run_cli (NULL, &err, "eval", trained_path, extra, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "circle"));
  g_assert_null (strstr (err, "horizontal:"));

  /* The base model has no labels: the three folders are its classes 0, 1, 2. */
  g_assert_cmpint (run_cli (&out, &err2, "eval", base_path, val_dir, "--json", NULL), ==, 0);
  g_assert_nonnull (strstr (err2, GRAFT_METADATA_LABELS));
}

/* The path of the first val image of a class. */
static char *
val_image (const char *klass)
{
  g_autofree char *dir = g_build_filename (val_dir, klass, NULL);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_assert_cmpuint (names->len, >, 0);
  return g_build_filename (dir, (const char *) g_ptr_array_index (names, 0), NULL);
}

/* Images that cannot be read: eval and predict both measure the others, list them and
 * exit with 4 (eval once said 0 and predict 1); none read is 1 for both. */
static void
test_eval_skipped (void)
{
  g_autofree char *tree = g_build_filename (folder, "val-broken", NULL);
  g_autofree char *broken = g_build_filename (tree, "horizontal", "broken.png", NULL);
  g_autofree char *fifo = g_build_filename (tree, "horizontal", "pipe.png", NULL);
  g_autofree char *only_broken = g_build_filename (folder, "only-broken", NULL);
  g_autofree char *only_broken_class = g_build_filename (only_broken, "horizontal", NULL);
  g_autofree char *only_broken_image = g_build_filename (only_broken_class, "broken.png", NULL);
  g_autofree char *good = NULL;
  g_autofree char *out = NULL, *err = NULL, *help = NULL, *predict_out = NULL;
  g_autoptr (JsonNode) node = NULL, predict_node = NULL;
  JsonArray *skipped, *predictions;

  if (!cli_test_ready () || trained_path == NULL)
    {
      g_test_skip ("needs the model of /cli/train/json");
      return;
    }
  good = val_image ("horizontal");
  write_image_folder (tree, 12, 702);
  g_assert_true (g_file_set_contents (broken, "not a PNG at all", -1, NULL));
  /* A FIFO with an image's name is left out by the folder walk, and said on stderr. */
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_cmpint (run_cli (&out, &err, "eval", trained_path, tree, "--json", NULL), ==, 4);
  g_assert_nonnull (strstr (err, "broken.png"));
  g_assert_nonnull (strstr (err, "skipped"));
  g_assert_nonnull (strstr (err, "pipe.png: a FIFO"));
  node = cli_test_parse (out);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "images"), ==, 12);
  skipped = json_object_get_array_member (json_node_get_object (node), "skipped");
  g_assert_cmpuint (json_array_get_length (skipped), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (skipped, 0), ==, broken);

  g_assert_cmpint (run_cli (&predict_out, NULL, "predict", trained_path, broken, good, "--json", NULL), ==, 4);
  predict_node = cli_test_parse (predict_out);
  predictions = json_object_get_array_member (json_node_get_object (predict_node), "predictions");
  g_assert_cmpuint (json_array_get_length (predictions), ==, 2);
  g_assert_true (json_object_has_member (json_array_get_object_element (predictions, 0), "error"));

  g_assert_cmpint (g_mkdir_with_parents (only_broken_class, 0755), ==, 0);
  g_assert_true (g_file_set_contents (only_broken_image, "not a PNG", -1, NULL));
  g_assert_cmpint (run_cli (NULL, NULL, "eval", trained_path, only_broken, NULL), ==, 1);
  g_assert_cmpint (run_cli (NULL, NULL, "predict", trained_path, only_broken_image, NULL), ==, 1);

  /* --help says so, for both. */
  g_assert_cmpint (run_cli (&help, NULL, "eval", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (help, "4 when some could not be"));
  g_clear_pointer (&help, g_free);
  g_assert_cmpint (run_cli (&help, NULL, "predict", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (help, "4 when some could not be"));
}

static void
test_predict (void)
{
  g_autofree char *out = NULL, *err = NULL, *table = NULL, *err2 = NULL, *out3 = NULL;
  g_autofree char *horizontal = NULL, *vertical = NULL;
  g_autofree char *missing = g_build_filename (folder, "missing.png", NULL);
  g_autoptr (JsonNode) node = NULL;
  JsonArray *predictions;
  const char *expected[2] = { "horizontal", "vertical" };

  if (!cli_test_ready () || trained_path == NULL)
    {
      g_test_skip ("needs the model of /cli/train/json");
      return;
    }
  horizontal = val_image ("horizontal");
  vertical = val_image ("vertical");
  g_assert_cmpint (run_cli (&out, &err, "predict", trained_path, horizontal, vertical, "--top", "2", "--json", NULL),
                   ==, 0);
  node = cli_test_parse (out);
  predictions = json_object_get_array_member (json_node_get_object (node), "predictions");
  g_assert_cmpuint (json_array_get_length (predictions), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *prediction = json_array_get_object_element (predictions, i);
      JsonArray *top = json_object_get_array_member (prediction, "top");
      JsonObject *first = json_array_get_object_element (top, 0);
      g_assert_cmpstr (json_object_get_string_member (prediction, "image"), ==, i == 0 ? horizontal : vertical);
      g_assert_cmpuint (json_array_get_length (top), ==, 2);
      g_assert_cmpstr (json_object_get_string_member (first, "label"), ==, expected[i]);
      g_assert_cmpfloat (json_object_get_double_member (first, "probability"), >,
                         json_object_get_double_member (json_array_get_object_element (top, 1), "probability"));
      g_assert_cmpfloat (json_object_get_double_member (first, "probability"), <=, 1.0);
    }

  /* Text; an image that cannot be read is reported, the others still predicted: exit
   * status 4, as eval's (/cli/eval/skipped); none read is 1. */
  g_assert_cmpint (run_cli (&table, &err2, "predict", trained_path, missing, horizontal, "--top", "1", NULL), ==, 4);
  g_assert_nonnull (strstr (err2, "missing.png"));
  g_assert_nonnull (strstr (table, "horizontal"));
  g_assert_cmpint (run_cli (NULL, NULL, "predict", trained_path, missing, "--json", NULL), ==, 1);

  /* Without labels: "class N". */
  g_assert_cmpint (run_cli (&out3, NULL, "predict", base_path, horizontal, "--top", "3", NULL), ==, 0);
  g_assert_nonnull (strstr (out3, "class 0"));
  g_assert_nonnull (strstr (out3, "class 2"));
}

/* stdout of a --json command: valid UTF-8, and JSON. */
static JsonNode *
parse_utf8 (const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  return cli_test_parse (text);
}

/* The file a member_bytes member names. */
static char *
unescape_member (JsonObject *object, const char *member)
{
  g_autofree char *name = g_strconcat (member, "_bytes", NULL);
  g_assert_true (json_object_has_member (object, name));
  return g_uri_unescape_string (json_object_get_string_member (object, name), NULL);
}

/* File names that are not UTF-8 (byte 0xff) make valid JSON: shown lossily, their bytes
 * kept percent-encoded in a *_bytes member (json-glib once wrote the raw bytes). */
static void
test_json_non_utf8 (void)
{
  g_autofree char *tree = g_build_filename (folder, "names-\xff", NULL);
  g_autofree char *odd_class = g_build_filename (tree, "vert\xfeical", NULL);
  g_autofree char *plain_class = g_build_filename (tree, "vertical", NULL);
  g_autofree char *odd_image = g_build_filename (tree, "horizontal", "\xff.png", NULL);
  g_autofree char *broken = g_build_filename (tree, "horizontal", "bad-\xff.png", NULL);
  g_autofree char *missing = g_build_filename (folder, "missing-\xfe.png", NULL);
  g_autofree char *odd_model = g_build_filename (folder, "model-\xff.onnx", NULL);
  g_autofree char *output = g_build_filename (folder, "trained-\xff.onnx", NULL);
  g_autofree char *good = NULL, *contents = NULL, *eval_out = NULL, *predict_out = NULL, *train_out = NULL;
  g_autofree char *inspect_out = NULL, *lr_out = NULL, *bytes = NULL;
  g_autoptr (JsonNode) eval_node = NULL, predict_node = NULL, inspect_node = NULL, lr_node = NULL;
  g_auto (GStrv) lines = NULL;
  JsonObject *root, *klass, *prediction;
  JsonArray *skipped, *classes, *predictions;
  gsize length;
  gboolean done = FALSE;

  if (!cli_test_ready ())
    return;
  good = val_image ("horizontal");
  write_image_folder (tree, 12, 703);
  g_assert_cmpint (g_rename (plain_class, odd_class), ==, 0);
  g_assert_true (g_file_get_contents (good, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (odd_image, contents, (gssize) length, NULL));
  g_assert_true (g_file_set_contents (broken, "not a PNG", -1, NULL));
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (base_path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (odd_model, contents, (gssize) length, NULL));

  /* eval: the model, the folder, a class folder and a skipped image. */
  g_assert_cmpint (run_cli (&eval_out, NULL, "eval", odd_model, tree, "--json", NULL), ==, 4);
  eval_node = parse_utf8 (eval_out);
  root = json_node_get_object (eval_node);
  bytes = unescape_member (root, "model");
  g_assert_cmpstr (bytes, ==, odd_model);
  g_clear_pointer (&bytes, g_free);
  bytes = unescape_member (root, "data");
  g_assert_cmpstr (bytes, ==, tree);
  g_clear_pointer (&bytes, g_free);
  skipped = json_object_get_array_member (root, "skipped");
  g_assert_cmpuint (json_array_get_length (skipped), ==, 1);
  g_assert_nonnull (strstr (json_array_get_string_element (skipped, 0), "bad-\xef\xbf\xbd.png")); /* U+FFFD */
  bytes = g_uri_unescape_string (
    json_array_get_string_element (json_object_get_array_member (root, "skipped_bytes"), 0), NULL);
  g_assert_cmpstr (bytes, ==, broken);
  g_clear_pointer (&bytes, g_free);
  classes = json_object_get_array_member (root, "classes");
  klass = json_array_get_object_element (classes, 2); /* folders in byte order: vert\xfeical last */
  g_assert_cmpstr (json_object_get_string_member (klass, "name"), ==, "vert\xef\xbf\xbdical");
  bytes = unescape_member (klass, "name");
  g_assert_cmpstr (bytes, ==, "vert\xfeical");
  g_clear_pointer (&bytes, g_free);
  g_assert_false (json_object_has_member (json_array_get_object_element (classes, 0), "name_bytes"));

  /* predict: a readable image and a missing one (its error names it). */
  g_assert_cmpint (run_cli (&predict_out, NULL, "predict", odd_model, odd_image, missing, "--json", NULL), ==, 4);
  predict_node = parse_utf8 (predict_out);
  predictions = json_object_get_array_member (json_node_get_object (predict_node), "predictions");
  g_assert_cmpuint (json_array_get_length (predictions), ==, 2);
  prediction = json_array_get_object_element (predictions, 0);
  g_assert_true (json_object_has_member (prediction, "top"));
  bytes = unescape_member (prediction, "image");
  g_assert_cmpstr (bytes, ==, odd_image);
  g_clear_pointer (&bytes, g_free);
  prediction = json_array_get_object_element (predictions, 1);
  g_assert_nonnull (strstr (json_object_get_string_member (prediction, "error"), "missing-"));
  bytes = unescape_member (prediction, "image");
  g_assert_cmpstr (bytes, ==, missing);
  g_clear_pointer (&bytes, g_free);

  /* train: every line of events, and the output's name in "done". */
  g_assert_cmpint (run_cli (&train_out, NULL, "train", odd_model, tree, "--epochs", "1", "--json", "--cache-dir",
                            cache_dir, "--output", output, NULL),
                   ==, 0);
  g_assert_true (g_file_test (output, G_FILE_TEST_IS_REGULAR));
  lines = g_strsplit (train_out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonNode) node = NULL;
      if (lines[i][0] == '\0')
        continue;
      node = parse_utf8 (lines[i]);
      if (g_strcmp0 (json_object_get_string_member (json_node_get_object (node), "event"), "done") == 0)
        {
          bytes = unescape_member (json_node_get_object (node), "output");
          g_assert_cmpstr (bytes, ==, output);
          g_clear_pointer (&bytes, g_free);
          done = TRUE;
        }
    }
  g_assert_true (done);

  /* lr-find and inspect. */
  g_assert_cmpint (run_cli (&lr_out, NULL, "lr-find", odd_model, tree, "--json", "--steps", "5", "--cache-dir",
                            cache_dir, NULL),
                   ==, 0);
  lr_node = parse_utf8 (lr_out);
  bytes = unescape_member (json_node_get_object (lr_node), "data");
  g_assert_cmpstr (bytes, ==, tree);
  g_clear_pointer (&bytes, g_free);
  g_assert_cmpint (run_cli (&inspect_out, NULL, "inspect", odd_model, "--json", NULL), ==, 0);
  inspect_node = parse_utf8 (inspect_out);
  bytes = unescape_member (json_node_get_object (inspect_node), "model");
  g_assert_cmpstr (bytes, ==, odd_model);
}

static void
test_lr_find (void)
{
  g_autofree char *out = NULL, *err = NULL, *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *root;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "lr-find", base_path, train_dir, "--json", "--steps", "60", "--start", "1e-5",
                            "--end", "1e4", "--batch", "16", "--cache-dir", cache_dir, NULL),
                   ==, 0);
  node = cli_test_parse (out);
  root = json_node_get_object (node);
  g_test_message ("suggestion %g", json_object_get_double_member (root, "suggestion"));
  g_assert_cmpfloat (json_object_get_double_member (root, "suggestion"), >, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "lrs")), >=, 5);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "lrs")), ==,
                    json_array_get_length (json_object_get_array_member (root, "losses")));
  g_assert_cmpfloat (json_array_get_double_element (json_object_get_array_member (root, "lrs"), 0), ==, 1e-5f);

  g_assert_cmpint (run_cli (&text, NULL, "lr-find", base_path, train_dir, "--steps", "20", "--cache-dir", cache_dir,
                            NULL),
                   ==, 0);
  g_assert_nonnull (strstr (text, "# suggested learning rate"));

  /* Fine-tuning the top: the sweep trains from the boundary, as the run would. */
  {
    g_autofree char *fine = NULL;
    g_autoptr (JsonNode) swept = NULL;
    JsonObject *cache;
    g_assert_cmpint (run_cli (&fine, NULL, "lr-find", base_path, train_dir, "--json", "--steps", "8", "--preset",
                              "fine-tune", "--batch", "16", "--cache-dir", cache_dir, NULL),
                     ==, 0);
    swept = cli_test_parse (fine);
    cache = json_object_get_object_member (json_node_get_object (swept), "boundary_cache");
    g_assert_true (json_object_get_boolean_member (cache, "used"));
    g_assert_cmpint (json_object_get_int_member (cache, "images_found") + json_object_get_int_member (cache,
                                                                                                      "images_computed"),
                     >, 0);
  }
}

static void
test_export (void)
{
  g_autofree char *output = g_build_filename (folder, "exported.onnx", NULL);
  g_autofree char *err = NULL, *err2 = NULL, *err3 = NULL, *labels = NULL, *prep_text = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  GraftPreprocessing prep;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (NULL, &err, "export", base_path, "--output", output, "--softmax", "--labels",
                            "bar, pillar ,slash", "--preprocessing", "{\"size\": 8, \"resize\": 10}", NULL),
                   ==, 0);
  model = graft_model_load (output, &error);
  g_assert_no_error (error);
  labels = metadata (model, GRAFT_METADATA_LABELS);
  g_assert_cmpstr (labels, ==, "[\"bar\",\"pillar\",\"slash\"]");
  prep_text = metadata (model, GRAFT_METADATA_PREPROCESSING);
  g_assert_true (graft_preprocessing_from_json (prep_text, &prep, &error));
  g_assert_cmpint (prep.size, ==, 8);
  g_assert_cmpint (prep.resize, ==, 10);
  g_assert_cmpint (model->output, !=, model->logits); /* a Softmax after the logits */

  /* Labels must be one per class; the preprocessing must make the model's input. */
  g_assert_cmpint (run_cli (NULL, &err2, "export", base_path, "--output", output, "--labels", "a,b", NULL), ==, 1);
  g_assert_nonnull (strstr (err2, "3 classes"));
  g_assert_cmpint (run_cli (NULL, &err3, "export", base_path, "--output", output, "--preprocessing",
                            "{\"size\": 9}", NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err3, "8x8"));
  g_assert_cmpint (run_cli (NULL, NULL, "export", base_path, "--output", output, "--labels", "a,,b", NULL), ==, 2);
  g_assert_cmpint (run_cli (NULL, NULL, "export", base_path, NULL), ==, 2);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                */

static void
test_bad_input (void)
{
  g_autofree char *missing_model = g_build_filename (folder, "no-such-model.onnx", NULL);
  g_autofree char *empty = g_build_filename (folder, "empty", NULL);
  g_autofree char *no_images = g_build_filename (folder, "no-images", NULL);
  g_autofree char *more_classes = g_build_filename (folder, "more-classes", NULL);
  g_autofree char *output = g_build_filename (folder, "never.onnx", NULL);
  g_autofree char *bad_type = write_temp ("bad-type.json", "{\"epochs\": \"ten\"}");
  g_autofree char *bad_kind = write_temp ("bad-kind.json", "{\"optimizer\": {\"kind\": \"rmsprop\"}}");
  g_autofree char *bad_range = write_temp ("bad-range.json", "{\"head\": {\"dropout\": 2}}");
  g_autofree char *not_json = write_temp ("not-json.json", "{epochs: 3");
  g_autofree char *named = write_temp ("named.json", "{\"strategy\": \"feature-extraction\"}");
  char *err = NULL;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  {
    g_autofree char *a = g_build_filename (no_images, "a", NULL);
    g_autofree char *b = g_build_filename (no_images, "b", NULL);
    g_autofree char *note = g_build_filename (no_images, "a", "README.txt", NULL);
    g_mkdir_with_parents (a, 0755);
    g_mkdir_with_parents (b, 0755);
    g_file_set_contents (note, "not an image", -1, NULL);
  }
  {
    /* Validation classes the training images lack. */
    g_autofree char *circle = g_build_filename (more_classes, "circle", NULL);
    g_autofree char *square = g_build_filename (more_classes, "square", NULL);
    g_mkdir_with_parents (circle, 0755);
    g_mkdir_with_parents (square, 0755);
  }

#define EXPECT(status, needle, ...)                                       \
  do                                                                      \
    {                                                                     \
      g_assert_cmpint (run_cli (NULL, &err, __VA_ARGS__, NULL), ==, status); \
      const char *wanted = (needle);                                      \
      if (wanted != NULL && strstr (err, wanted) == NULL)                 \
        g_error ("stderr lacks '%s': %s", wanted, err);                   \
      g_clear_pointer (&err, g_free);                                     \
    }                                                                     \
  while (0)

  EXPECT (1, missing_model, "train", missing_model, train_dir, "--output", output);
  EXPECT (1, missing_model, "eval", missing_model, val_dir);
  EXPECT (1, missing_model, "predict", missing_model, val_dir);
  EXPECT (1, missing_model, "lr-find", missing_model, train_dir);
  EXPECT (1, missing_model, "export", missing_model, "--output", output);
  EXPECT (1, "no class folder", "train", base_path, empty, "--output", output);
  EXPECT (1, empty, "eval", trained_path != NULL ? trained_path : base_path, empty);
  EXPECT (1, "no images", "train", base_path, no_images, "--output", output);
  EXPECT (1, "no such folder", "train", base_path, "/nonexistent/graft-data", "--output", output);
  EXPECT (1, "lacks: circle, square", "train", base_path, train_dir, "--validation", more_classes, "--output",
          output);
  EXPECT (2, "no preset 'transfer-magic'", "train", base_path, train_dir, "--preset", "transfer-magic", "--output",
          output);
  EXPECT (2, "no preset", "lr-find", base_path, train_dir, "--preset", "custom");
  EXPECT (2, "--output", "train", base_path, train_dir);
  EXPECT (2, NULL, "train", base_path, "--output", output);
  EXPECT (2, "--epochs", "train", base_path, train_dir, "--epochs", "0", "--output", output);
  EXPECT (2, "--lr", "train", base_path, train_dir, "--lr", "-1", "--output", output);
  /* No value of a number option means "not given": NaN was once taken as no --lr. */
  EXPECT (2, "--lr nan is not a number", "train", base_path, train_dir, "--lr", "nan", "--output", output);
  EXPECT (2, "--lr inf is not a finite number", "train", base_path, train_dir, "--lr", "inf", "--output", output);
  EXPECT (2, "--lr -infinity", "train", base_path, train_dir, "--lr", "-infinity", "--output", output);
  EXPECT (2, "--lr 1e400", "train", base_path, train_dir, "--lr", "1e400", "--output", output);
  EXPECT (2, "--lr 0 is out of range", "train", base_path, train_dir, "--lr", "0", "--output", output);
  EXPECT (2, "--lr 1e-60 is too small", "train", base_path, train_dir, "--lr", "1e-60", "--output", output);
  EXPECT (2, "--lr fast is not a number", "train", base_path, train_dir, "--lr", "fast", "--output", output);
  EXPECT (2, "--lr 0.1x is not a number", "train", base_path, train_dir, "--lr", "0.1x", "--output", output);
  EXPECT (2, "--start nan", "lr-find", base_path, train_dir, "--start", "nan");
  EXPECT (2, "--end inf", "lr-find", base_path, train_dir, "--end", "inf");
  EXPECT (2, "--start -1", "lr-find", base_path, train_dir, "--start", "-1");
  EXPECT (2, "--epochs -2147483648", "train", base_path, train_dir, "--epochs", "-2147483648", "--output", output);
  EXPECT (2, "--epochs 2.5", "train", base_path, train_dir, "--epochs", "2.5", "--output", output);
  EXPECT (2, "--batch 0x10", "train", base_path, train_dir, "--batch", "0x10", "--output", output);
  EXPECT (2, "--seed -1", "train", base_path, train_dir, "--seed", "-1", "--output", output);
  EXPECT (2, "--decode-threads 65", "train", base_path, train_dir, "--decode-threads", "65", "--output", output);
  EXPECT (2, NULL, "train", base_path, train_dir, "--no-such-option", "--output", output);
  EXPECT (2, "--steps", "lr-find", base_path, train_dir, "--steps", "1");
  EXPECT (1, "epochs", "train", base_path, train_dir, "--spec", bad_type, "--output", output);
  EXPECT (1, "optimizer.kind", "train", base_path, train_dir, "--spec", bad_kind, "--output", output);
  EXPECT (1, "dropout", "train", base_path, train_dir, "--spec", bad_range, "--output", output);
  EXPECT (1, "not-json.json", "train", base_path, train_dir, "--spec", not_json, "--output", output);
  EXPECT (1, "missing-spec.json", "train", base_path, train_dir, "--spec", "missing-spec.json", "--output", output);
  EXPECT (2, "disagree", "train", base_path, train_dir, "--preset", "fine-tune", "--spec", named, "--output",
          output);
#undef EXPECT
  g_assert_false (g_file_test (output, G_FILE_TEST_EXISTS));
}

/* The preprocessing options: a file that gives only the mean keeps the model's size,
 * flags go over it, the trained model records the result; values that make no sense
 * are refused by name. */
static void
test_train_preprocess (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *prep_path = write_temp ("prep.json", "{\"mean\": [0.5, 0.5, 0.5]}");
  g_autofree char *output = g_build_filename (folder, "preprocessed.onnx", NULL);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  GraftPreprocessing prep;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "train", base_path, train_dir, "--validation", val_dir, "--epochs", "1",
                            "--preprocess", prep_path, "--std", "0.25,0.5,0.75", "--bgr", "--output", output,
                            "--cache-dir", cache_dir, NULL),
                   ==, 0);
  model = graft_model_load (output, &error);
  g_assert_no_error (error);
  g_assert_true (graft_preprocessing_from_json (g_hash_table_lookup (model->metadata, "graft.preprocessing"), &prep,
                                                &error));
  g_assert_no_error (error);
  g_assert_cmpint (prep.size, ==, TOY_SIZE);
  g_assert_cmpfloat (prep.mean[1], ==, 0.5f);
  g_assert_cmpfloat (prep.std[0], ==, 0.25f);
  g_assert_cmpfloat (prep.std[2], ==, 0.75f);
  g_assert_true (prep.bgr);
  /* eval reads the model's (now BGR) preprocessing; --rgb goes over it. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "eval", output, val_dir, "--rgb", NULL), ==, 0);
  /* A size the model does not take, a mean that is not three numbers, both orders. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (NULL, &err, "eval", output, val_dir, "--size", "40", NULL), !=, 0);
  g_assert_nonnull (strstr (err, "40x40"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (NULL, &err, "predict", output, val_dir, "--mean", "0.5,zero,0.5", NULL), !=, 0);
  g_assert_nonnull (strstr (err, "--mean"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (NULL, &err, "eval", output, val_dir, "--bgr", "--rgb", NULL), !=, 0);
  g_assert_nonnull (strstr (err, "--bgr and --rgb"));
}

int
main (int argc, char **argv)
{
  int status;

  folder = cli_test_init (&argc, &argv, "graft-cli-train-XXXXXX");
  base_path = g_build_filename (folder, "base.onnx", NULL);
  train_dir = g_build_filename (folder, "train", NULL);
  val_dir = g_build_filename (folder, "val", NULL);
  cache_dir = g_build_filename (folder, "cache", NULL);
  write_base_model (base_path);
  write_image_folder (train_dir, 96, 100);
  write_image_folder (val_dir, 48, 101);

  g_test_add_func ("/cli/train/json", test_train_json);
  g_test_add_func ("/cli/train/spec-file", test_train_spec_file);
  g_test_add_func ("/cli/train/precision", test_train_precision);
  g_test_add_func ("/cli/train/catalog-cut", test_train_catalog_cut);
  g_test_add_func ("/cli/train/diverges", test_train_diverges);
  g_test_add_func ("/cli/train/interrupt", test_train_interrupt);
  g_test_add_func ("/cli/train/output-location", test_train_output_location);
  g_test_add_func ("/cli/train/sigterm", test_train_sigterm);
  g_test_add_func ("/cli/eval/metrics", test_eval);
  g_test_add_func ("/cli/eval/classes", test_eval_classes);
  g_test_add_func ("/cli/predict/top", test_predict);
  g_test_add_func ("/cli/eval/skipped", test_eval_skipped);
  g_test_add_func ("/cli/json/non-utf8", test_json_non_utf8);
  g_test_add_func ("/cli/lr-find/json", test_lr_find);
  g_test_add_func ("/cli/export/metadata", test_export);
  g_test_add_func ("/cli/train/bad-input", test_bad_input);
  g_test_add_func ("/cli/train/preprocess", test_train_preprocess);
  status = g_test_run ();

  test_remove_tree (folder);
  g_free (folder);
  g_free (base_path);
  g_free (train_dir);
  g_free (val_dir);
  g_free (cache_dir);
  g_free (trained_path);
  g_free (cli_path);
  return status;
}
