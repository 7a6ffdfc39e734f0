/* test-cli-recipe.c: graft-cli recipe (a run handed to PyTorch's distributed training)
 * and graft-cli runs import (its result taken back), on the sample images and the
 * starter model. The PyTorch side (train.py against Graft's engine, torchrun) is
 * tests/check-recipe.py's; here the folder and the import, without torch: the import
 * takes a folder whose "trained" model is the recipe's initial one and whose event log
 * is written by the test.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "cli-test-helpers.h"
#include "model/model.h"

static char *folder;   /* the test's scratch folder */
static char *starter, *train_dir, *validation_dir;

static char *
source_file (const char *first, ...)
{
  /* G_TEST_SRCDIR is tests/; the data is beside it. */
  g_autofree char *root = g_path_get_dirname (g_getenv ("G_TEST_SRCDIR") != NULL ? g_getenv ("G_TEST_SRCDIR") : ".");
  GString *path = g_string_new (root);
  va_list args;
  va_start (args, first);
  for (const char *part = first; part != NULL; part = va_arg (args, const char *))
    g_string_append_printf (path, "/%s", part);
  va_end (args);
  return g_string_free (path, FALSE);
}

static JsonObject *
read_json_object (const char *path, JsonNode **keep)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  *keep = cli_test_parse (text);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (*keep));
  return json_node_get_object (*keep);
}

static char *
sha256_of (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

/* MODEL DATA -v VALDATA: the folder, its manifest, spec, blocks and model. */
static void
test_folder (void)
{
  g_autofree char *out = NULL, *err = NULL, *csv = NULL;
  g_autofree char *dir = g_build_filename (folder, "from-folder", NULL);
  g_autofree char *csv_path = g_build_filename (dir, "dataset.csv", NULL);
  g_autofree char *spec_path = g_build_filename (dir, "spec.json", NULL);
  g_autofree char *recipe_path = g_build_filename (dir, "graft-recipe.json", NULL);
  g_autofree char *model_path = g_build_filename (dir, "initial.onnx", NULL);
  g_autoptr (JsonNode) spec_node = NULL, recipe_node = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  JsonObject *spec, *recipe;
  JsonArray *blocks, *classes;
  const char *files[] = { "train.py", "README.md", "initial.onnx", "spec.json", "graft-recipe.json", "dataset.csv" };
  guint train = 0, validation = 0;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "recipe", starter, train_dir, "-v", validation_dir, "--preset", "fine-tune",
                            "--epochs", "3", "-o", dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "torchrun --standalone"));
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }

  /* The manifest: every labelled image once, its split, its content's hash. */
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  lines = g_strsplit (csv, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "path,label,split,sha256");
  for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_strv_length (fields), ==, 4);
      train += strcmp (fields[2], "train") == 0;
      validation += strcmp (fields[2], "validation") == 0;
      if (i == 1)
        {
          g_autofree char *image = source_file ("data", "samples", fields[0], NULL);
          g_autofree char *sha256 = sha256_of (image);
          g_assert_cmpstr (fields[3], ==, sha256);
          g_assert_true (g_str_has_prefix (fields[0], "train/"));
          g_assert_true (g_str_has_prefix (fields[0] + strlen ("train/"), fields[1]));
        }
    }
  g_assert_cmpuint (train, ==, 200);
  g_assert_cmpuint (validation, ==, 500);

  /* The spec, as graft-cli train would run it. */
  spec = read_json_object (spec_path, &spec_node);
  g_assert_cmpstr (json_object_get_string_member (spec, "strategy"), ==, "fine-tune");
  g_assert_cmpint (json_object_get_int_member (spec, "epochs"), ==, 3);

  /* The blocks: the backbone's, then the head, each with its parameters. */
  recipe = read_json_object (recipe_path, &recipe_node);
  classes = json_object_get_array_member (recipe, "classes");
  g_assert_cmpuint (json_array_get_length (classes), ==, 5);
  g_assert_cmpstr (json_array_get_string_element (classes, 0), ==, "Ankle boot");
  blocks = json_object_get_array_member (recipe, "blocks");
  g_assert_cmpuint (json_array_get_length (blocks), >, 2);
  {
    JsonObject *head = json_array_get_object_element (blocks, json_array_get_length (blocks) - 1);
    JsonObject *stem = json_array_get_object_element (blocks, 0);
    g_assert_true (json_object_get_boolean_member (head, "head"));
    g_assert_false (json_object_get_boolean_member (stem, "head"));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (head, "parameters")), ==, 2);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (stem, "batchnorm")), >, 0);
  }

  /* The model: the new head for the five classes, labelled. */
  model = graft_model_load (model_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_graph_value (model->graph, model->logits)->shape.dims[1], ==, 5);
  g_assert_nonnull (strstr (g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS), "Ankle boot"));

  /* Written again into the same folder: fine; into a folder of something else: refused. */
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", starter, train_dir, "-o", dir, "-q", NULL), ==, 0);
  {
    g_autofree char *other = g_build_filename (folder, "other", NULL);
    g_autofree char *file = g_build_filename (other, "notes.txt", NULL);
    g_autofree char *message = NULL;
    g_assert_cmpint (g_mkdir_with_parents (other, 0755), ==, 0);
    g_assert_true (g_file_set_contents (file, "mine", -1, NULL));
    g_assert_cmpint (run_cli (NULL, &message, "recipe", starter, train_dir, "-o", other, NULL), ==, 1);
    g_assert_nonnull (strstr (message, "is not empty"));
    g_assert_nonnull (strstr (message, other));
  }
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", starter, train_dir, NULL), ==, 2);
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", starter, train_dir, "-o", dir, "--preset", "nonsense", NULL), ==, 2);
}

static void
write_events (const char *path, int epochs, int steps, gboolean done)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (int e = 1; e <= epochs; e++)
    {
      for (int s = 1; s <= steps; s++)
        g_string_append_printf (text,
                                "{\"event\": \"step\", \"epoch\": %d, \"epochs\": %d, \"step\": %d, \"steps\": %d, "
                                "\"stage\": 1, \"loss\": %g, \"lr\": 0.01, \"images_per_second\": 100.0, "
                                "\"eta_seconds\": 1.0}\n", e, epochs, s, steps, 2.0 / (e * steps + s));
      g_string_append_printf (text,
                              "{\"event\": \"epoch\", \"epoch\": %d, \"epochs\": %d, \"stage\": 1, \"train_loss\": %g, "
                              "\"train_accuracy\": 0.5, \"validation_loss\": 1.0, \"validation_accuracy\": 0.5, "
                              "\"seconds\": 1.0, \"images_per_second\": 100.0, \"best\": true}\n", e, epochs, 1.0 / e);
    }
  if (done)
    g_string_append (text, "{\"event\": \"done\", \"output\": \"model.onnx\", \"validation_accuracy\": 0.5, "
                           "\"validation_loss\": 1.0, \"best_epoch\": 2, \"epochs_completed\": 2, "
                           "\"interrupted\": false, \"seconds\": 12.5, \"processes\": 2}\n");
  g_assert_true (g_file_set_contents (path, text->str, -1, NULL));
}

/* A project: recipe of its settings and of a stored run, then a finished folder imported. */
static void
test_project_import (void)
{
  g_autofree char *project = g_build_filename (folder, "sample.graft", NULL);
  g_autofree char *dir = g_build_filename (folder, "from-project", NULL);
  g_autofree char *run_dir = g_build_filename (folder, "from-run", NULL);
  g_autofree char *exported = g_build_filename (folder, "exported", NULL);
  g_autofree char *initial = g_build_filename (dir, "initial.onnx", NULL);
  g_autofree char *trained = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *events = g_build_filename (dir, "events.jsonl", NULL);
  g_autofree char *run_spec_path = g_build_filename (run_dir, "spec.json", NULL);
  g_autofree char *out = NULL, *err = NULL, *runs = NULL, *eval = NULL, *contents = NULL;
  g_autoptr (JsonNode) imported = NULL, listed = NULL, evaluated = NULL, run_spec = NULL;
  g_autofree char *validation_split = g_build_filename (exported, "validation", NULL);
  JsonArray *run_list;
  JsonObject *run;
  gsize length;

  if (!cli_test_ready ())
    return;
  g_assert_cmpint (run_cli (NULL, NULL, "project", "create", project, "--import", train_dir, NULL), ==, 0);
  g_assert_cmpint (run_cli (&out, &err, "recipe", project, "--model", starter, "--preset", "replace-top", "-o", dir,
                            "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");

  /* Nothing to import before train.py has run. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (NULL, &err, "runs", "import", project, dir, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "model.onnx"));
  g_assert_true (g_file_get_contents (initial, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (trained, contents, (gssize) length, NULL));
  write_events (events, 2, 3, FALSE);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (NULL, &err, "runs", "import", project, dir, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "has not finished"));
  write_events (events, 2, 3, TRUE);
  g_free (out);
  g_assert_cmpint (run_cli (&out, NULL, "runs", "import", project, dir, "--json", NULL), ==, 0);
  imported = cli_test_parse (out);

  /* Stored as a finished run of the project... */
  g_assert_cmpint (run_cli (&runs, NULL, "runs", project, "--json", NULL), ==, 0);
  listed = cli_test_parse (runs);
  run_list = json_object_get_array_member (json_node_get_object (listed), "runs");
  g_assert_cmpuint (json_array_get_length (run_list), ==, 1);
  run = json_array_get_object_element (run_list, 0);
  g_assert_cmpstr (json_object_get_string_member (run, "status"), ==, "finished");
  g_assert_cmpstr (json_object_get_string_member (run, "strategy"), ==, "replace-top");

  /* ... with the accuracy Graft measures on the project's validation split, not the log's 0.5. */
  g_assert_cmpint (run_cli (NULL, NULL, "project", "export", project, "--format", "imagefolder", "--by-split",
                            "--output", exported, NULL), ==, 0);
  g_assert_cmpint (run_cli (&eval, NULL, "eval", trained, validation_split, "--json", NULL), ==, 0);
  evaluated = cli_test_parse (eval);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (json_node_get_object (imported), "validation_accuracy"),
                                  json_object_get_double_member (json_node_get_object (evaluated), "accuracy"), 1e-9);

  /* A stored run's recipe takes its spec; options that would change it are refused. */
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", project, "--run", "1", "--preset", "fine-tune", "-o", run_dir, NULL),
                   ==, 2);
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", project, "--run", "7", "-o", run_dir, NULL), ==, 1);
  g_assert_cmpint (run_cli (NULL, NULL, "recipe", project, "--run", "1", "-o", run_dir, "-q", NULL), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (read_json_object (run_spec_path, &run_spec), "strategy"), ==,
                   "replace-top");
}

int
main (int argc, char **argv)
{
  int status;

  folder = cli_test_init (&argc, &argv, "graft-cli-recipe-XXXXXX");
  starter = source_file ("data", "models", "graft-starter.onnx", NULL);
  train_dir = source_file ("data", "samples", "train", NULL);
  validation_dir = source_file ("data", "samples", "validation", NULL);
  g_setenv ("XDG_CACHE_HOME", folder, TRUE);

  g_test_add_func ("/cli/recipe/folder", test_folder);
  g_test_add_func ("/cli/recipe/project-import", test_project_import);
  status = g_test_run ();
  {
    g_autofree char *command = g_strdup_printf ("rm -rf '%s'", folder);
    if (system (command) != 0)
      g_printerr ("could not remove %s\n", folder);
  }
  return status;
}
