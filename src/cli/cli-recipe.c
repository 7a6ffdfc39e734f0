/* cli-recipe.c: graft-cli recipe and graft-cli runs import: a run handed to PyTorch's
 * distributed training (torchrun, DistributedDataParallel), and its result taken back.
 *
 *   graft-cli recipe MODEL.onnx DATA -o DIR [--validation VALDATA] [train's options]
 *   graft-cli recipe PROJECT -o DIR [--model MODEL.onnx] [train's options]
 *   graft-cli recipe PROJECT --run N -o DIR          (a stored run's spec)
 *   graft-cli runs import PROJECT DIR [--json]
 *
 * recipe takes what graft-cli train takes (the same options, parsed and loaded by
 * cli-train.c) and, instead of training, writes a folder that trains the same run with
 * `torchrun --standalone --nproc_per_node=N DIR/train.py` and writes DIR/model.onnx:
 *   initial.onnx       the model as Graft would train it: cut, new head grafted with the
 *                      spec's seed, initial weights, graft.labels/preprocessing/recipe
 *   spec.json          the session spec (graft_session_spec_to_json)
 *   graft-recipe.json  what train.py needs of Graft's analysis: the classes, the blocks
 *                      (each with its parameters and BatchNorm layers, the head last),
 *                      where the images are (data_root), Graft's version
 *   dataset.csv        path (relative to data_root), label, split (train|validation),
 *                      sha256 of the file's content
 *   train.py, README.md  copied from Graft's template (data/recipe/, installed in
 *                      $datadir/graft/recipe)
 * --copy-images copies the images into DIR/images/ so that the folder alone travels.
 *
 * runs import stores a finished recipe folder as a run of the project, as graft-cli
 * train PROJECT stores its runs (run-record.h): its spec, its curves from the event log
 * train.py wrote (DIR/events.jsonl: the events of graft-cli train --json), the model
 * DIR/model.onnx, and metrics measured again by Graft's engine on the project's
 * validation split (not taken from the log); then the model's predictions of the
 * project's images, as after any run.
 */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "base/regular-file.h"
#include "project/active.h"
#include "project/run-record.h"
#include "train/embedding-cache.h"

#define RECIPE_FORMAT 1
#define RECIPE_FILE "graft-recipe.json"

/* ------------------------------------------------------------------------ */
/* The template                                                             */

/* The folder holding train.py and README.md: $GRAFT_DATA_DIR/recipe, the installed
 * datadir's graft/recipe, or the source tree's data/recipe for a build run in place. */
static char *
find_template (void)
{
  const char *env = g_getenv ("GRAFT_DATA_DIR");
  const char *const *dirs = g_get_system_data_dirs ();
  g_autofree char *local = g_build_filename (g_get_user_data_dir (), "graft", "recipe", "train.py", NULL);

  if (env != NULL)
    {
      g_autofree char *path = g_build_filename (env, "recipe", "train.py", NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_path_get_dirname (path);
    }
  for (int i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], "graft", "recipe", "train.py", NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_path_get_dirname (path);
    }
#ifdef GRAFT_SOURCE_DATA_DIR
  {
    g_autofree char *path = g_build_filename (GRAFT_SOURCE_DATA_DIR, "recipe", "train.py", NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      return g_path_get_dirname (path);
  }
#endif
  return NULL;
}

static gboolean
copy_file (const char *from, const char *to, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  if (!graft_file_get_contents (from, &contents, &length, error))
    return FALSE;
  return g_file_set_contents (to, contents, (gssize) length, error);
}

/* ------------------------------------------------------------------------ */
/* The manifest                                                             */

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void
csv_field (GString *line, const char *text)
{
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (line, text);
      return;
    }
  g_string_append_c (line, '"');
  for (const char *c = text; *c != '\0'; c++)
    {
      if (*c == '"')
        g_string_append_c (line, '"');
      g_string_append_c (line, *c);
    }
  g_string_append_c (line, '"');
}

/* The deepest folder holding every image (absolute), so that the manifest's paths are
 * relative and the images can move with a new root. */
static char *
common_root (GPtrArray *paths)
{
  char *root = NULL;
  for (guint i = 0; i < paths->len; i++)
    {
      g_autofree char *dir = g_path_get_dirname (g_ptr_array_index (paths, i));
      if (root == NULL)
        root = g_steal_pointer (&dir);
      else
        while (!(g_str_has_prefix (dir, root) && (dir[strlen (root)] == '\0' || dir[strlen (root)] == '/'
                                                   || strcmp (root, "/") == 0)))
          {
            char *up = g_path_get_dirname (root);
            g_free (root);
            root = up;
          }
    }
  return root != NULL ? root : g_strdup ("/");
}

static char *
absolute (const char *path)
{
  g_autofree char *cwd = NULL;
  if (g_path_is_absolute (path))
    return g_canonicalize_filename (path, NULL);
  cwd = g_get_current_dir ();
  return g_canonicalize_filename (path, cwd);
}

static const char *
relative_to (const char *path, const char *root)
{
  gsize n = strlen (root);
  if (strcmp (root, "/") == 0)
    return path + 1;
  return g_str_has_prefix (path, root) && path[n] == '/' ? path + n + 1 : path;
}

/* dataset.csv, and the images under DIR/images when copy_images; *root gets data_root. */
static gboolean
write_manifest (const char *dir, const GraftDataset *train, const GraftDataset *validation, gboolean copy_images,
                char **root_out, guint *count, GError **error)
{
  const GraftDataset *sets[2] = { train, validation };
  const char *split_names[2] = { "train", "validation" };
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) csv = g_string_new ("path,label,split,sha256\n");
  g_autofree char *root = NULL, *csv_path = g_build_filename (dir, "dataset.csv", NULL);
  guint k = 0;

  for (int s = 0; s < 2; s++)
    for (guint i = 0; sets[s] != NULL && i < sets[s]->items->len; i++)
      g_ptr_array_add (paths, absolute (g_array_index (sets[s]->items, GraftDatasetItem, i).path));
  root = common_root (paths);
  for (int s = 0; s < 2; s++)
    for (guint i = 0; sets[s] != NULL && i < sets[s]->items->len; i++, k++)
      {
        const GraftDatasetItem *item = &g_array_index (sets[s]->items, GraftDatasetItem, i);
        const char *path = g_ptr_array_index (paths, k);
        const char *relative = relative_to (path, root);
        g_autofree char *sha256 = NULL;
        if (item->label < 0)
          continue;
        sha256 = graft_file_sha256 (path, error);
        if (sha256 == NULL)
          return FALSE;
        if (copy_images)
          {
            g_autofree char *to = g_build_filename (dir, "images", relative, NULL);
            g_autofree char *to_dir = g_path_get_dirname (to);
            if (g_mkdir_with_parents (to_dir, 0755) != 0)
              {
                int saved = errno;
                g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), _("%s: cannot create the folder: %s"),
                             to_dir, g_strerror (saved));
                return FALSE;
              }
            if (!copy_file (path, to, error))
              return FALSE;
          }
        csv_field (csv, relative);
        g_string_append_c (csv, ',');
        csv_field (csv, g_ptr_array_index (sets[s]->classes, item->label));
        g_string_append_printf (csv, ",%s,%s\n", split_names[s], sha256);
        (*count)++;
      }
  *root_out = copy_images ? g_strdup ("images") : g_steal_pointer (&root);
  return g_file_set_contents (csv_path, csv->str, (gssize) csv->len, error);
}

/* ------------------------------------------------------------------------ */
/* graft-recipe.json                                                        */

static char *
recipe_json (const GraftModel *model, const GPtrArray *classes, const char *data_root, guint images)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  const graft_graph *graph = model->graph;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, RECIPE_FORMAT);
  json_builder_set_member_name (b, "graft_version");
  json_builder_add_string_value (b, GRAFT_VERSION);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, "initial.onnx");
  json_builder_set_member_name (b, "output");
  json_builder_add_string_value (b, "model.onnx");
  json_builder_set_member_name (b, "manifest");
  json_builder_add_string_value (b, "dataset.csv");
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, images);
  json_builder_set_member_name (b, "data_root");
  cli_json_add_text (b, data_root);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; c < classes->len; c++)
    cli_json_add_text (b, g_ptr_array_index (classes, c));
  json_builder_end_array (b);
  /* The backbone's blocks bottom up, then the head: which parameters each block's
   * nodes read, and its BatchNorm layers (by their scale's name), as the trainer's
   * apply_stage walks them. */
  json_builder_set_member_name (b, "blocks");
  json_builder_begin_array (b);
  for (guint i = 0; i < model->blocks->len; i++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, i);
      g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      cli_json_add_text (b, block->name);
      json_builder_set_member_name (b, "head");
      json_builder_add_boolean_value (b, i + 1 == model->blocks->len);
      json_builder_set_member_name (b, "parameters");
      json_builder_begin_array (b);
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (graph, n);
          for (int k = 0; k < node->n_inputs; k++)
            {
              const graft_value *value = graft_graph_value (graph, node->inputs[k]);
              if (value->kind != GRAFT_VALUE_PARAMETER
                  || g_hash_table_contains (seen, GINT_TO_POINTER (node->inputs[k] + 1)))
                continue;
              g_hash_table_add (seen, GINT_TO_POINTER (node->inputs[k] + 1));
              cli_json_add_text (b, value->name);
            }
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "batchnorm");
      json_builder_begin_array (b);
      for (int n = block->first_node; n <= block->last_node; n++)
        {
          const graft_node *node = graft_graph_node (graph, n);
          if (node->attributes.op == GRAFT_OP_BATCHNORM && node->n_inputs > 1)
            cli_json_add_text (b, graft_graph_value (graph, node->inputs[1])->name);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/* A folder to write the recipe into: new, empty, or an earlier recipe's. */
static gboolean
prepare_folder (const char *dir, GError **error)
{
  g_autoptr (GDir) listing = NULL;
  g_autofree char *marker = g_build_filename (dir, RECIPE_FILE, NULL);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), _("%s: cannot create the folder: %s"), dir,
                   g_strerror (saved));
      return FALSE;
    }
  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    return TRUE;
  listing = g_dir_open (dir, 0, error);
  if (listing == NULL)
    return FALSE;
  if (g_dir_read_name (listing) != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                   _("%s is not empty and holds no recipe: choose a new or empty folder"), dir);
      return FALSE;
    }
  return TRUE;
}

/* Writes the recipe of the run setup holds into dir. */
static int
write_recipe (CliTrainSetup *setup, const char *dir, gboolean copy_images, gboolean quiet)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autofree char *template_dir = find_template ();
  g_autofree char *spec_json = NULL, *spec_text = NULL, *recipe = NULL, *data_root = NULL;
  g_autofree char *model_path = g_build_filename (dir, "initial.onnx", NULL);
  g_autofree char *spec_path = g_build_filename (dir, "spec.json", NULL);
  g_autofree char *recipe_path = g_build_filename (dir, RECIPE_FILE, NULL);
  const GraftDataset *train = cli_train_setup_get_dataset (setup, FALSE);
  const GraftDataset *validation = cli_train_setup_get_dataset (setup, TRUE);
  const char *files[] = { "train.py", "README.md" };
  GraftModel *model;
  guint images = 0;

  if (template_dir == NULL)
    return cli_fail_printf ("%s", _("the recipe's template (recipe/train.py) is not installed: set GRAFT_DATA_DIR to "
                                  "Graft's data folder"));
  trainer = cli_train_setup_trainer (setup, &error);
  if (trainer == NULL || !prepare_folder (dir, &error))
    return cli_fail (error);
  /* The model as the trainer would start: the head grafted, labels, preprocessing and
   * the recipe in its metadata. */
  graft_trainer_describe_model (trainer);
  model = graft_trainer_get_model (trainer);
  if (!graft_model_save (model, model_path, NULL, &error))
    return cli_fail (error);
  spec_json = graft_session_spec_to_json (cli_train_setup_get_spec (setup));
  spec_text = g_strconcat (spec_json, "\n", NULL);
  if (!g_file_set_contents (spec_path, spec_text, -1, &error)
      || !write_manifest (dir, train, validation, copy_images, &data_root, &images, &error))
    return cli_fail (error);
  recipe = recipe_json (model, train->classes, data_root, images);
  if (!g_file_set_contents (recipe_path, recipe, -1, &error))
    return cli_fail (error);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *from = g_build_filename (template_dir, files[i], NULL);
      g_autofree char *to = g_build_filename (dir, files[i], NULL);
      if (!copy_file (from, to, &error))
        return cli_fail (error);
    }
  if (!quiet)
    {
      printf (g_dngettext (GETTEXT_PACKAGE,
                           "Wrote %s: %u image of %u classes (%u for validation), the model with its new head, the "
                           "spec and train.py.\nRun it with: torchrun --standalone --nproc_per_node=N %s/train.py\n",
                           "Wrote %s: %u images of %u classes (%u for validation), the model with its new head, the "
                           "spec and train.py.\nRun it with: torchrun --standalone --nproc_per_node=N %s/train.py\n",
                           images),
              dir, images, train->classes->len, validation != NULL ? graft_dataset_size (validation) : 0, dir);
    }
  return CLI_EXIT_OK;
}

int
cli_recipe (int argc, char **argv)
{
  g_autofree char *output = NULL, *model_option = NULL, *run_text = NULL;
  gboolean copy_images = FALSE, quiet = FALSE;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_("The folder to write (new, empty or an earlier recipe's)"),
      "DIR" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_option,
      N_("With a project: the pretrained model (default: the one the project remembers)"), "MODEL.onnx" },
    { "run", 0, 0, G_OPTION_ARG_STRING, &run_text, N_("With a project: the spec and model of its stored run N"), "N" },
    { "copy-images", 0, 0, G_OPTION_ARG_NONE, &copy_images,
      N_("Copy the images into DIR/images, so that the folder alone can travel"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, N_("Print nothing on success"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = NULL;
  g_autofree char *base_spec = NULL, *model_path = NULL;
  CliTrainSetup *setup;
  int status;

  context = cli_option_context_new ("recipe", "MODEL.onnx DATA | PROJECT",
                                    N_("Writes a folder that trains the run graft-cli train would (same options) with "
                                       "PyTorch's distributed training: torchrun --standalone --nproc_per_node=N "
                                       "DIR/train.py writes DIR/model.onnx, which 'graft-cli runs import PROJECT DIR' "
                                       "takes back into a project."),
                                    entries);
  setup = cli_train_setup_new (context);
  if (!cli_parse (context, &argc, &argv))
    {
      cli_train_setup_free (setup);
      return CLI_EXIT_USAGE;
    }
  if (output == NULL)
    status = cli_usage_error (context, "%s", _("where to? (give -o DIR)"));
  else if (argc == 2 && graft_project_folder_has_project (argv[1]))
    {
      project = graft_project_open (argv[1], &error);
      if (project == NULL)
        status = cli_fail (error);
      else if (run_text != NULL)
        {
          GraftRun run = { 0 };
          g_autoptr (GraftSessionSpec) run_spec = NULL;
          gint64 run_id;
          char *end = NULL;
          errno = 0;
          run_id = g_ascii_strtoll (run_text, &end, 10);
          if (errno != 0 || end == run_text || *end != '\0' || run_id <= 0)
            status = cli_usage_error (context, _("--run %s is not a run number"), run_text);
          else if (model_option != NULL || cli_train_setup_changes_spec (setup))
            status = cli_usage_error (context, "%s", _("--run takes the run's own model and settings: --model, "
                                                       "--preset, --spec, --epochs, --batch, --lr and --seed cannot "
                                                       "change them"));
          else if (!graft_project_get_run (project, run_id, &run, &error))
            status = cli_fail_printf ("%s: %s", argv[1], error->message);
          else
            {
              base_spec = g_steal_pointer (&run.spec_json);
              run_spec = base_spec != NULL ? graft_session_spec_from_json (base_spec, NULL) : NULL;
              if (run_spec == NULL || run_spec->model_path == NULL || run_spec->model_path[0] == '\0')
                status = cli_fail_printf (_("%s: run %lld does not say which model it trained"), argv[1],
                                          (long long) run_id);
              else
                {
                  model_path = g_strdup (run_spec->model_path);
                  status = CLI_EXIT_OK;
                }
            }
          graft_run_clear (&run);
        }
      else
        {
          /* The project's settings and model, as graft-cli train PROJECT takes them. */
          base_spec = graft_project_get_session_spec (project);
          if (model_option != NULL)
            model_path = g_strdup (model_option);
          else if (base_spec != NULL)
            {
              g_autoptr (GraftSessionSpec) remembered = graft_session_spec_from_json (base_spec, NULL);
              if (remembered != NULL && remembered->model_path != NULL && remembered->model_path[0] != '\0')
                model_path = g_strdup (remembered->model_path);
            }
          status = model_path != NULL ? CLI_EXIT_OK
                                      : cli_usage_error (context, _("which model? %s remembers none (give --model "
                                                                    "MODEL.onnx)"), argv[1]);
        }
      if (status == CLI_EXIT_OK)
        status = cli_train_setup_load_project (setup, context, project, argv[1], model_path,
                                               model_option == NULL ? base_spec : NULL);
    }
  else if (model_option != NULL || run_text != NULL)
    status = cli_usage_error (context, "%s", _("--model and --run are for a project folder (give PROJECT)"));
  else if (argc != 3)
    status = cli_usage_error (context, "%s", argc < 2   ? _("which model? (give MODEL.onnx DATA, or PROJECT)")
                                             : argc < 3 ? _("which images? (give MODEL.onnx DATA)")
                                                        : _("one model and one image folder"));
  else
    status = cli_train_setup_load_folder (setup, context, argv[1], argv[2]);
  if (status == CLI_EXIT_OK)
    status = write_recipe (setup, output, copy_images, quiet);
  cli_train_setup_free (setup);
  return status;
}

/* ------------------------------------------------------------------------ */
/* runs import                                                              */

static double
number_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_has_member (object, name) ? json_object_get_member (object, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NAN;
  return json_node_get_double (node);
}

static int
int_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_has_member (object, name) ? json_object_get_member (object, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return -1;
  return (int) json_node_get_int (node);
}

typedef struct {
  int epochs_done, epochs;
  double seconds;
  gboolean done, interrupted;
} EventLog;

/* The curves of DIR/events.jsonl (train.py's --json events, one per line). */
static gboolean
read_events (const char *path, GraftRunCurves *curves, EventLog *log, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!graft_file_get_contents (path, &text, NULL, error))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonNode) node = NULL;
      JsonObject *event;
      const char *name;
      if (g_strstrip (lines[i])[0] == '\0')
        continue;
      node = json_from_string (lines[i], NULL);
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s, line %u: not a JSON event"), path, i + 1);
          return FALSE;
        }
      event = json_node_get_object (node);
      name = json_object_get_string_member_with_default (event, "event", "");
      if (strcmp (name, "step") == 0)
        {
          GraftStepEvent step = {
            .epoch = int_member (event, "epoch") - 1, .epochs = int_member (event, "epochs"),
            .step = int_member (event, "step") - 1, .steps = int_member (event, "steps"),
            .stage = int_member (event, "stage") - 1, .loss = (float) number_member (event, "loss"),
            .lr = (float) number_member (event, "lr"),
          };
          if (step.epoch < 0 || step.step < 0 || step.steps < 1)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s, line %u: a step event without its epoch "
                             "and step"), path, i + 1);
              return FALSE;
            }
          graft_run_curves_add_step (curves, &step);
        }
      else if (strcmp (name, "epoch") == 0)
        {
          GraftEpochEvent epoch = {
            .epoch = int_member (event, "epoch") - 1, .epochs = int_member (event, "epochs"),
            .stage = int_member (event, "stage") - 1,
            .train_loss = number_member (event, "train_loss"),
            .train_accuracy = number_member (event, "train_accuracy"),
            .validation_loss = number_member (event, "validation_loss"),
            .validation_accuracy = number_member (event, "validation_accuracy"),
            .seconds = number_member (event, "seconds"),
            .images_per_second = number_member (event, "images_per_second"),
          };
          if (epoch.epoch < 0)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s, line %u: an epoch event without its epoch"),
                           path, i + 1);
              return FALSE;
            }
          graft_run_curves_add_epoch (curves, &epoch);
          log->epochs_done = epoch.epoch + 1;
          log->epochs = epoch.epochs;
        }
      else if (strcmp (name, "done") == 0)
        {
          log->done = TRUE;
          log->seconds = number_member (event, "seconds");
          log->interrupted = json_object_get_boolean_member_with_default (event, "interrupted", FALSE);
        }
    }
  return TRUE;
}

int
cli_runs_import (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the run as JSON"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "runs import", "PROJECT DIR",
    N_("Stores a recipe folder trained elsewhere (graft-cli recipe, then torchrun DIR/train.py) as a run of the "
       "project: its spec, its curves from DIR/events.jsonl, DIR/model.onnx, and its accuracy measured again on the "
       "project's validation images."),
    entries);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GraftRunCurves) curves = graft_run_curves_new ();
  g_autoptr (GPtrArray) labels = NULL;
  g_autoptr (GraftDataset) train = NULL, validation = NULL;
  g_autoptr (GraftMetrics) metrics = NULL;
  g_autoptr (GBytes) model_bytes = NULL;
  g_autofree char *spec_path = NULL, *spec_text = NULL, *events_path = NULL, *model_path = NULL;
  g_autofree char *run_file = NULL;
  g_autoptr (GraftSessionSpec) spec = NULL;
  GraftPreprocessing prep;
  EventLog log = { 0 };
  gint64 run_id;
  guint predicted = 0;
  GArray *points;

  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 3)
    return cli_usage_error (context, "%s", argc < 2   ? _("which project? (give PROJECT DIR)")
                                           : argc < 3 ? _("which recipe folder? (give PROJECT DIR)")
                                                      : _("one project and one recipe folder"));
  spec_path = g_build_filename (argv[2], "spec.json", NULL);
  events_path = g_build_filename (argv[2], "events.jsonl", NULL);
  model_path = g_build_filename (argv[2], "model.onnx", NULL);
  if (!g_file_test (model_path, G_FILE_TEST_EXISTS))
    return cli_fail_printf (_("%s: no trained model (model.onnx): has train.py finished there?"), argv[2]);
  if (!graft_file_get_contents (spec_path, &spec_text, NULL, &error))
    return cli_fail (error);
  spec = graft_session_spec_from_json (spec_text, &error);
  if (spec == NULL)
    return cli_fail_printf ("%s: %s", spec_path, error->message);
  if (!read_events (events_path, curves, &log, &error))
    return cli_fail (error);
  if (!log.done)
    return cli_fail_printf (_("%s: the run has not finished (no done event)"), events_path);

  project = graft_project_open (argv[1], &error);
  if (project == NULL)
    return cli_fail (error);
  if (graft_project_is_read_only (project))
    return cli_fail_printf (_("%s: the project is read-only (%s): the run could not be stored"),
                            graft_project_get_db_path (project), graft_project_read_only_reason (project));
  model = graft_model_load (model_path, &error);
  if (model == NULL || !cli_model_labels (model, model_path, &labels, &error)
      || !cli_model_preprocessing (model, model_path, &prep, NULL, &error))
    return cli_fail (error);
  {
    /* The spec train.py ran (its graft.recipe: --epochs may have changed spec.json's). */
    const char *ran = g_hash_table_lookup (model->metadata, GRAFT_METADATA_RECIPE);
    GraftSessionSpec *ran_spec = ran != NULL ? graft_session_spec_from_json (ran, NULL) : NULL;
    if (ran_spec != NULL)
      {
        graft_session_spec_free (spec);
        spec = ran_spec;
      }
  }
  train = graft_project_dataset (project, GRAFT_SPLIT_TRAIN, &error);
  validation = train != NULL ? graft_project_dataset (project, GRAFT_SPLIT_VALIDATION, &error) : NULL;
  if (validation == NULL)
    return cli_fail_printf ("%s: %s", argv[1], error->message);
  if (labels == NULL || labels->len != train->classes->len)
    return cli_fail_printf (_("%s gives %d classes, %s has %u"), model_path,
                            labels != NULL ? (int) labels->len : cli_model_classes (model), argv[1],
                            train->classes->len);
  for (guint c = 0; c < labels->len; c++)
    if (strcmp (g_ptr_array_index (labels, c), g_ptr_array_index (train->classes, c)) != 0)
      return cli_fail_printf (_("%s: class %u is '%s', the project's is '%s'"), model_path, c + 1,
                              (const char *) g_ptr_array_index (labels, c),
                              (const char *) g_ptr_array_index (train->classes, c));
  /* Graft's own figures: the project's validation images through Graft's engine. */
  if (graft_dataset_size (validation) > 0)
    {
      metrics = graft_evaluate (model, validation, &prep, 32, 2, NULL, &error);
      if (metrics == NULL)
        return cli_fail (error);
    }
  else
    g_clear_pointer (&validation, graft_dataset_free);
  {
    g_autofree char *contents = NULL;
    gsize length;
    if (!graft_file_get_contents (model_path, &contents, &length, &error))
      return cli_fail (error);
    model_bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  }
  {
    g_autofree char *stored_spec = graft_session_spec_to_json (spec);
    run_id = graft_project_add_run (project, NULL, stored_spec, &error);
  }
  if (run_id == 0 || !graft_project_set_run_status (project, run_id, GRAFT_RUN_RUNNING, &error))
    return cli_fail (error);
  points = graft_run_curves_get_points (curves);
  {
    GraftRunRecord record = {
      .status = log.interrupted ? GRAFT_RUN_STOPPED : GRAFT_RUN_FINISHED,
      .classes = train->classes,
      .epochs = spec->epochs,
      .epochs_done = log.epochs_done,
      .seconds = isfinite (log.seconds) ? log.seconds : 0,
      .validation_metrics = metrics,
      .validation = validation,
      .model = model_bytes,
      .points = (const GraftMetricPoint *) points->data,
      .n_points = points->len,
    };
    if (!graft_project_store_run (project, run_id, &record, &error))
      return cli_fail (error);
  }
  if (!graft_active_project_predict (project, run_id, model, train->classes, &prep, NULL, &predicted, &error))
    {
      fprintf (stderr, _("graft-cli: note: no suggestions stored: %s\n"), error->message);
      g_clear_error (&error);
    }
  run_file = graft_project_run_model_file (project, run_id);
  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "run");
      json_builder_add_int_value (builder, run_id);
      cli_json_set_file_name (builder, "project", argv[1]);
      cli_json_set_file_name (builder, "model", run_file);
      json_builder_set_member_name (builder, "epochs_completed");
      json_builder_add_int_value (builder, log.epochs_done);
      json_builder_set_member_name (builder, "validation_accuracy");
      cli_json_add_number (builder, metrics != NULL ? graft_metrics_accuracy (metrics) : NAN);
      json_builder_set_member_name (builder, "validation_loss");
      cli_json_add_number (builder, metrics != NULL ? graft_metrics_loss (metrics) : NAN);
      json_builder_set_member_name (builder, "predictions");
      json_builder_add_int_value (builder, predicted);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
    }
  else if (metrics != NULL)
    printf (g_dngettext (GETTEXT_PACKAGE,
                         "Stored run %lld (%s): %d epoch, validation accuracy %.1f%%, loss %.4f (measured by Graft)\n",
                         "Stored run %lld (%s): %d epochs, validation accuracy %.1f%%, loss %.4f (measured by Graft)\n",
                         log.epochs_done),
            (long long) run_id, run_file, log.epochs_done, 100 * graft_metrics_accuracy (metrics),
            graft_metrics_loss (metrics));
  else
    printf (g_dngettext (GETTEXT_PACKAGE, "Stored run %lld (%s): %d epoch, no validation images\n",
                         "Stored run %lld (%s): %d epochs, no validation images\n", log.epochs_done),
            (long long) run_id, run_file, log.epochs_done);
  return CLI_EXIT_OK;
}
