/* test-cli-project: graft-cli on projects, spawned as scripts use it ($GRAFT_CLI): a
 * project created with an ImageFolder tree of toy PNGs (three classes, and unlabelled
 * images at the tree's top), trained with the toy network (tests/toy-images.h), its
 * runs listed, a run exported; the run as the store API sees it, like a run of the app.
 *
 *   /cli/project/create-train-runs-export   the whole flow
 *   /cli/project/export-data                ImageFolder and CSV exports of the project
 *   /cli/project/errors                     what cannot be done says so
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "base/file-hash.h"
#include "cli-test-helpers.h"
#include "gradcheck.h"
#include "model/model.h"
#include "project/active.h"
#include "project/project.h"
#include "project/run-record.h"
#include "train/spec.h"
#include "train/trainer.h"
#include "toy-images.h"
#include "toy-network.h"

#define N_LABELLED 60
#define N_UNLABELLED 12

static char *folder;       /* base.onnx, tree/, ... */
static char *base_path;
static char *tree;         /* tree/<class>/NNN.png and tree/loose-NN.png */
static char *project_dir;  /* made by the first test */

static const char *const class_names[TOY_CLASSES] = { "horizontal", "vertical", "diagonal" };

static void
write_tree (const char *root)
{
  int n = N_LABELLED + N_UNLABELLED;
  g_autofree float *images = test_floats ((size_t) n * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
  g_autofree int32_t *labels = g_new (int32_t, n);

  toy_batch (n, 300, images, labels);
  for (int c = 0; c < TOY_CLASSES; c++)
    {
      g_autofree char *dir = g_build_filename (root, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *name = i < N_LABELLED ? g_strdup_printf ("%03d.png", i) : g_strdup_printf ("loose-%02d.png", i);
      g_autofree char *path = i < N_LABELLED ? g_build_filename (root, class_names[labels[i]], name, NULL)
                                             : g_build_filename (root, name, NULL);
      toy_write_png (path, images + (size_t) i * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
    }
}

/* The "done" event of train --json output. */
static JsonObject *
done_event (const char *out)
{
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  JsonObject *done = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonNode) node = NULL;
      if (lines[i][0] == '\0')
        continue;
      node = cli_test_parse (lines[i]);
      if (g_strcmp0 (json_object_get_string_member (json_node_get_object (node), "event"), "done") == 0)
        done = json_object_ref (json_node_get_object (node));
    }
  g_assert_nonnull (done);
  return done;
}

static GraftProject *
open_project (void)
{
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_open (project_dir, &error);
  g_assert_no_error (error);
  return project;
}

static void
test_flow (void)
{
  g_autofree char *out = NULL, *err = NULL, *exported = g_build_filename (folder, "exported.onnx", NULL);
  g_autoptr (JsonNode) created = NULL, listed = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *report, *done, *run_object;
  JsonArray *runs;
  gint64 run_id, second_run;
  g_autofree char *run_file = NULL;

  if (!cli_test_ready ())
    return;
  project_dir = g_build_filename (folder, "toy.graft", NULL);

  /* create --import */
  g_assert_cmpint (run_cli (&out, &err, "project", "create", project_dir, "--import", tree, "--json", NULL), ==, 0);
  created = cli_test_parse (out);
  report = json_array_get_object_element (json_object_get_array_member (json_node_get_object (created), "imports"), 0);
  g_assert_cmpint (json_object_get_int_member (report, "added"), ==, N_LABELLED + N_UNLABELLED);
  g_assert_cmpint (json_object_get_int_member (report, "labelled"), ==, N_LABELLED);
  g_assert_cmpint (json_object_get_int_member (report, "classes_added"), ==, TOY_CLASSES);
  g_assert_true (graft_project_folder_has_project (project_dir));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* train DIR: the project's labels and splits, the run stored in it. */
  g_assert_cmpint (run_cli (&out, &err, "train", project_dir, "--model", base_path, "--epochs", "12", "--lr", "0.03",
                            "--batch", "16", "--seed", "1", "--json", NULL),
                   ==, 0);
  done = done_event (out);
  run_id = json_object_get_int_member (done, "run");
  g_assert_cmpint (run_id, >, 0);
  g_assert_cmpint (json_object_get_int_member (done, "epochs_completed"), ==, 12);
  g_assert_cmpint (json_object_get_int_member (done, "predictions"), ==, N_LABELLED + N_UNLABELLED);
  run_file = g_strdup (json_object_get_string_member (done, "model"));
  g_assert_true (g_file_test (run_file, G_FILE_TEST_IS_REGULAR));
  json_object_unref (done);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* The run as the store API lists it, stored as the app stores its runs. */
  {
    g_autoptr (GraftProject) project = open_project ();
    g_autoptr (GArray) stored = graft_project_list_runs (project, &error);
    g_auto (GStrv) names = NULL;
    g_autoptr (GArray) steps = NULL;
    g_autoptr (JsonNode) metrics = NULL;
    g_autoptr (GraftSessionSpec) spec = NULL;
    g_autoptr (GraftSessionSpec) remembered = NULL;
    g_autofree char *remembered_json = NULL;
    g_autofree char *runs_folder = g_build_filename (project_dir, GRAFT_PROJECT_RUNS_FOLDER, NULL);
    g_autofree char *run_folder = NULL;
    GraftImageQuery suggested = { .filter = GRAFT_FILTER_SUGGESTED };
    const GraftRun *run;
    JsonObject *m;
    const char *const app_series[] = { "lr", "train-accuracy", "train-loss", "train-loss-epoch",
                                       "validation-accuracy", "validation-loss" };

    g_assert_no_error (error);
    g_assert_cmpuint (stored->len, ==, 1);
    run = &g_array_index (stored, GraftRun, 0);
    g_assert_cmpint (run->id, ==, run_id);
    g_assert_cmpint (run->status, ==, GRAFT_RUN_FINISHED);
    g_assert_cmpint (run->started, >, 0);
    g_assert_cmpint (run->finished, >=, run->started);
    g_assert_cmpstr (run->model_path, ==, run_file);
    run_folder = g_path_get_dirname (run->model_path);
    g_assert_cmpstr (run_folder, ==, runs_folder);
    spec = graft_session_spec_from_json (run->spec_json, &error);
    g_assert_no_error (error);
    g_assert_cmpint (spec->epochs, ==, 12);
    g_assert_cmpstr (spec->model_path, ==, base_path);
    /* The metrics record the Results page reads. */
    metrics = cli_test_parse (run->metrics_json);
    m = json_node_get_object (metrics);
    g_assert_cmpint (json_array_get_length (json_object_get_array_member (m, "classes")), ==, TOY_CLASSES);
    g_assert_cmpint (json_object_get_int_member (m, "epochs"), ==, 12);
    g_assert_cmpint (json_object_get_int_member (m, "epochs_done"), ==, 12);
    g_assert_true (json_object_has_member (m, "accuracy"));
    g_assert_cmpint (json_array_get_length (json_object_get_array_member (m, "confusion")), ==, TOY_CLASSES);
    g_assert_cmpint (json_array_get_length (json_object_get_array_member (m, "validation")), ==,
                     json_object_get_int_member (m, "count"));
    /* Curves under the names and steps of the app's series. */
    names = graft_project_get_metric_names (project, run_id, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (app_series));
    for (guint i = 0; i < G_N_ELEMENTS (app_series); i++)
      g_assert_cmpstr (names[i], ==, app_series[i]);
    steps = graft_project_get_metric_series (project, run_id, "train-loss-epoch", &error);
    g_assert_cmpuint (steps->len, ==, 12);
    g_assert_cmpint (g_array_index (steps, GraftSeriesPoint, 11).step, ==, 12 * 1000000);
    /* The project remembers the settings it was first trained with. */
    remembered_json = graft_project_get_session_spec (project);
    g_assert_nonnull (remembered_json);
    remembered = graft_session_spec_from_json (remembered_json, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (remembered->model_path, ==, base_path);
    /* Suggestions: every unlabelled image, with embeddings for the diversity step. */
    g_assert_cmpuint (graft_project_count_images (project, &suggested, &error), ==, N_UNLABELLED);
    {
      g_autoptr (GraftPredictionSet) set = graft_project_get_predictions (project, TRUE, &error);
      g_autoptr (GArray) queue = graft_active_project_queue (project, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (set->embeddings);
      g_assert_cmpint (set->dim, >, 0);
      g_assert_cmpuint (queue->len, ==, N_UNLABELLED);
    }
  }

  /* runs --json */
  g_assert_cmpint (run_cli (&out, &err, "runs", project_dir, "--json", NULL), ==, 0);
  listed = cli_test_parse (out);
  runs = json_object_get_array_member (json_node_get_object (listed), "runs");
  g_assert_cmpuint (json_array_get_length (runs), ==, 1);
  run_object = json_array_get_object_element (runs, 0);
  g_assert_cmpint (json_object_get_int_member (run_object, "id"), ==, run_id);
  g_assert_cmpstr (json_object_get_string_member (run_object, "status"), ==, "finished");
  g_assert_cmpstr (json_object_get_string_member (run_object, "strategy"), ==, "feature-extraction");
  g_assert_cmpint (json_object_get_int_member (run_object, "epochs"), ==, 12);
  g_assert_cmpint (json_object_get_int_member (run_object, "epochs_done"), ==, 12);
  g_assert_cmpfloat (json_object_get_double_member (run_object, "accuracy"), >, 0.5);
  g_assert_cmpstr (json_object_get_string_member (run_object, "model"), ==, run_file);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (run_object, "exports")), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* and as text */
  g_assert_cmpint (run_cli (&out, &err, "runs", project_dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "finished"));
  g_assert_nonnull (strstr (out, "feature-extraction"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* export DIR --run N: the model loads with the project's labels, in the model's
   * output order, and its preprocessing. */
  {
    g_autofree char *run_text = g_strdup_printf ("%" G_GINT64_FORMAT, run_id);
    g_autoptr (GraftModel) model = NULL;
    g_autoptr (JsonNode) labels = NULL;
    g_autoptr (GraftProject) project = NULL;
    g_autoptr (GArray) classes = NULL;
    JsonArray *array;

    g_assert_cmpint (run_cli (&out, &err, "export", project_dir, "--run", run_text, "-o", exported, NULL), ==, 0);
    /* Verified as the app verifies its exports: read back, on the run's validation images. */
    g_test_message ("%s", out);
    g_assert_nonnull (strstr (out, "Verified "));
    g_assert_nonnull (strstr (out, "'s model for "));
    model = graft_model_load (exported, &error);
    g_assert_no_error (error);
    labels = cli_test_parse (g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS));
    array = json_node_get_array (labels);
    project = open_project ();
    classes = graft_project_list_classes (project, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (json_array_get_length (array), ==, classes->len);
    for (guint c = 0; c < classes->len; c++)
      g_assert_cmpstr (json_array_get_string_element (array, c), ==, g_array_index (classes, GraftClass, c).name);
    g_assert_nonnull (g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING));
    g_assert_cmpint (graft_graph_value (model->graph, model->logits)->shape.dims[1], ==, TOY_CLASSES);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }
  /* The export is in the run's history, with the file's SHA-256. */
  {
    g_autoptr (JsonNode) history = NULL;
    g_autofree char *sha256 = graft_file_sha256 (exported, &error);
    JsonArray *exports;
    JsonObject *entry;

    g_assert_no_error (error);
    g_assert_cmpint (run_cli (&out, &err, "runs", project_dir, "--json", NULL), ==, 0);
    history = cli_test_parse (out);
    exports = json_object_get_array_member (
      json_array_get_object_element (json_object_get_array_member (json_node_get_object (history), "runs"), 0),
      "exports");
    g_assert_cmpuint (json_array_get_length (exports), ==, 1);
    entry = json_array_get_object_element (exports, 0);
    g_assert_cmpstr (json_object_get_string_member (entry, "path"), ==, exported);
    g_assert_cmpstr (json_object_get_string_member (entry, "format"), ==, "onnx");
    g_assert_cmpstr (json_object_get_string_member (entry, "sha256"), ==, sha256);
    g_assert_nonnull (json_object_get_string_member (entry, "time"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }
  /* eval PROJECT --run N gives what the Results page finds when it opens the run: the
   * run's model described by its record, graft_evaluate on the run's validation images
   * with its spec's preprocessing, in batches of its batch size (at most 64), 2 decoding
   * threads. The same accuracy, confusion matrix and prediction of every image. */
  {
    g_autofree char *run_text = g_strdup_printf ("%" G_GINT64_FORMAT, run_id);
    g_autoptr (GraftProject) project = open_project ();
    g_autoptr (GraftModel) model = NULL;
    g_autoptr (GraftDataset) validation = NULL;
    g_autoptr (GraftSessionSpec) spec = NULL;
    g_autoptr (GraftMetrics) metrics = NULL;
    g_autoptr (JsonNode) evaluated = NULL;
    g_autofree float *probabilities = NULL;
    GraftRun run = { 0 };
    JsonObject *e;
    JsonArray *confusion, *predictions;
    int classes;

    g_assert_true (graft_project_get_run (project, run_id, &run, &error));
    model = graft_model_load (run.model_path, &error);
    g_assert_no_error (error);
    g_assert_true (graft_run_describe_model (&run, model, &error));
    validation = graft_run_get_validation (&run);
    spec = graft_session_spec_from_json (run.spec_json, &error);
    graft_run_clear (&run);
    g_assert_nonnull (validation);
    g_assert_nonnull (spec);
    metrics = graft_evaluate (model, validation, &spec->preprocessing, CLAMP (spec->batch_size, 1, 64), 2,
                              &probabilities, &error);
    g_assert_no_error (error);
    classes = metrics->classes;

    g_assert_cmpint (run_cli (&out, &err, "eval", project_dir, "--run", run_text, "--json", NULL), ==, 0);
    evaluated = cli_test_parse (out);
    e = json_node_get_object (evaluated);
    g_assert_cmpint (json_object_get_int_member (e, "run"), ==, run_id);
    g_assert_cmpint (json_object_get_int_member (e, "images"), ==, (gint64) metrics->count);
    g_assert_cmpfloat (json_object_get_double_member (e, "accuracy"), ==, graft_metrics_accuracy (metrics));
    confusion = json_object_get_array_member (e, "confusion");
    g_assert_cmpint (json_array_get_length (confusion), ==, classes);
    for (int t = 0; t < classes; t++)
      for (int c = 0; c < classes; c++)
        g_assert_cmpint (json_array_get_int_element (json_array_get_array_element (confusion, t), c), ==,
                         (gint64) metrics->confusion[t * classes + c]);
    predictions = json_object_get_array_member (e, "predictions");
    g_assert_cmpuint (json_array_get_length (predictions), ==, validation->items->len);
    for (guint i = 0; i < validation->items->len; i++)
      {
        JsonObject *p = json_array_get_object_element (predictions, i);
        const GraftDatasetItem *item = &g_array_index (validation->items, GraftDatasetItem, i);
        const float *row = probabilities + (gsize) i * classes;
        int best = 0;
        for (int c = 1; c < classes; c++)
          if (row[c] > row[best])
            best = c;
        g_assert_cmpstr (json_object_get_string_member (p, "image"), ==, item->path);
        g_assert_cmpint (json_object_get_int_member (p, "label"), ==, item->label);
        g_assert_cmpint (json_object_get_int_member (p, "predicted"), ==, best);
      }
    /* And the figures stored with the run when it ended. */
    {
      GraftRun stored = { 0 };
      g_autoptr (JsonNode) record = NULL;
      g_assert_true (graft_project_get_run (project, run_id, &stored, &error));
      record = cli_test_parse (stored.metrics_json);
      graft_run_clear (&stored);
      g_assert_cmpfloat (json_object_get_double_member (json_node_get_object (record), "accuracy"), ==,
                         json_object_get_double_member (e, "accuracy"));
    }
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  /* Again without --model: the project's remembered model and settings. */
  g_assert_cmpint (run_cli (&out, &err, "train", project_dir, "--epochs", "2", "--json", NULL), ==, 0);
  done = done_event (out);
  second_run = json_object_get_int_member (done, "run");
  g_assert_cmpint (second_run, >, run_id);
  json_object_unref (done);
  {
    g_autoptr (GraftProject) project = open_project ();
    g_autoptr (GArray) stored = graft_project_list_runs (project, &error);
    g_assert_cmpuint (stored->len, ==, 2);
    g_assert_cmpint (g_array_index (stored, GraftRun, 0).id, ==, second_run);
    g_assert_cmpint (g_array_index (stored, GraftRun, 0).status, ==, GRAFT_RUN_FINISHED);
  }
}

static guint
count_files (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  if (dir == NULL)
    return 1;   /* a file */
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      n += count_files (child);
    }
  return n;
}

static void
test_export_data (void)
{
  g_autofree char *out = NULL, *err = NULL, *csv = g_build_filename (folder, "images.csv", NULL);
  g_autofree char *copy = g_build_filename (folder, "copy", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!cli_test_ready () || project_dir == NULL)
    {
      g_test_skip ("no project");
      return;
    }
  g_assert_cmpint (run_cli (&out, &err, "project", "export", project_dir, "--format", "csv", "-o", csv, NULL), ==, 0);
  g_assert_true (g_file_get_contents (csv, &text, NULL, NULL));
  lines = g_strsplit (g_strchomp (text), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + N_LABELLED + N_UNLABELLED);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (&out, &err, "project", "export", project_dir, "--format", "imagefolder", "-o", copy, NULL),
                   ==, 0);
  g_assert_cmpuint (count_files (copy), ==, N_LABELLED);
  for (int c = 0; c < TOY_CLASSES; c++)
    {
      g_autofree char *class_dir = g_build_filename (copy, class_names[c], NULL);
      g_assert_true (g_file_test (class_dir, G_FILE_TEST_IS_DIR));
    }
}

static void
test_errors (void)
{
  g_autofree char *empty = g_build_filename (folder, "empty.graft", NULL);
  g_autofree char *missing = g_build_filename (folder, "missing.graft", NULL);
  g_autofree char *output = g_build_filename (folder, "never.onnx", NULL);

  if (!cli_test_ready ())
    return;
#define EXPECT(status, fragment, ...)                                                      \
  G_STMT_START                                                                             \
  {                                                                                        \
    g_autofree char *out_ = NULL, *err_ = NULL;                                            \
    g_assert_cmpint (run_cli (&out_, &err_, __VA_ARGS__, NULL), ==, status);               \
    if (strstr (err_, fragment) == NULL)                                                   \
      g_error ("expected '%s' in: %s", fragment, err_);                                   \
  }                                                                                        \
  G_STMT_END
  EXPECT (0, "", "project", "create", empty);
  EXPECT (1, "no labelled images", "train", empty, "--model", base_path);
  EXPECT (2, "remembers none", "train", empty);
  EXPECT (1, "no such file", "project", "create", missing, "--import", "/no/such/tree");
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  EXPECT (1, "no project here", "runs", missing);
  EXPECT (2, "--run", "export", empty, "-o", output);
  EXPECT (1, "No run 99", "export", empty, "--run", "99", "-o", output);
  EXPECT (2, "--run", "eval", empty);
  EXPECT (1, "No run 99", "eval", empty, "--run", "99");
  EXPECT (2, "--format", "project", "export", empty, "--format", "zip", "-o", output);
  EXPECT (2, "create, import or export", "project", "delete", empty);
#undef EXPECT
  g_assert_false (g_file_test (output, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  int status;

  folder = cli_test_init (&argc, &argv, "graft-cli-project-XXXXXX");
  base_path = g_build_filename (folder, "base.onnx", NULL);
  tree = g_build_filename (folder, "tree", NULL);
  {
    g_autoptr (GraftModel) model = toy_pretrained_model ();
    g_autoptr (GError) error = NULL;
    GraftExportOptions export_options = { 0 };
    model->ir_version = 7;
    model->opset = 13;
    g_assert_true (graft_model_save (model, base_path, &export_options, &error));
    g_assert_no_error (error);
  }
  write_tree (tree);
  /* Embedding caches go to the project's cache folder: nothing in the user's. */
  g_setenv ("XDG_CACHE_HOME", folder, TRUE);

  g_test_add_func ("/cli/project/create-train-runs-export", test_flow);
  g_test_add_func ("/cli/project/export-data", test_export_data);
  g_test_add_func ("/cli/project/errors", test_errors);
  status = g_test_run ();

  test_remove_tree (folder);
  g_free (folder);
  g_free (base_path);
  g_free (tree);
  g_free (project_dir);
  return status;
}
