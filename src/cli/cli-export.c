/* cli-export.c: graft-cli export MODEL.onnx --output OUT.onnx [--softmax]
 *                                [--labels a,b,c] [--preprocessing JSON|FILE]
 *                graft-cli export PROJECT --run N --output OUT.onnx [...]
 *
 * Given a project folder and --run N, the model is that run's stored model
 * (runs/N.onnx), with what the run's record knows and the file lacks (labels,
 * preprocessing, recipe: graft_run_describe_model) put into its metadata. The file
 * written is then verified as the app's Results page verifies its exports
 * (train/export.h): read back and run on the run's validation images, it must predict
 * what the stored model predicts; a line on stdout says on how many images it does.
 * The export goes into the project's export history (time, run, file, format, SHA-256:
 * graft_run_record_export), which graft-cli runs --json lists per run.
 *
 * Rewrites a model as Graft writes models (graft_model_save), with its metadata set:
 * turns a plain ONNX file into one that carries its class names and preprocessing.
 *   --labels      the class names, comma-separated, one per class of the model's output
 *                 (stored as graft.labels, a JSON array); spaces around names are dropped
 *   --preprocessing  graft.preprocessing: JSON ({"size": 224, "resize": 256, ...}, see
 *                 data/preprocess.h), or a file holding it when the value does not start
 *                 with '{'; missing keys take ImageNet's values; it must make the
 *                 model's input size, channels and layout
 *   --softmax     append a Softmax: the output are probabilities
 * Metadata the model had (labels, preprocessing, recipe, others) is kept unless replaced.
 */
#include "base/regular-file.h"
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "project/project.h"
#include "project/run-record.h"
#include "train/export.h"
#include "train/trainer.h"

/* a, b , c -> ["a", "b", "c"] as JSON; NULL after a usage message. */
static char *
labels_json (GOptionContext *context, const char *text, int classes, const char *model_path, int *status)
{
  g_auto (GStrv) names = g_strsplit (text, ",", -1);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  guint n = g_strv_length (names);

  for (guint i = 0; i < n; i++)
    {
      g_strstrip (names[i]);
      if (names[i][0] == '\0')
        {
          *status = cli_usage_error (context, _("--labels: label %u is empty"), i + 1);
          return NULL;
        }
      for (guint k = 0; k < i; k++)
        if (strcmp (names[k], names[i]) == 0)
          {
            *status = cli_usage_error (context, _("--labels: '%s' is given twice"), names[i]);
            return NULL;
          }
    }
  if ((int) n != classes)
    {
      *status = cli_fail_printf (_("%s gives %d classes, but --labels names %u"), model_path, classes, n);
      return NULL;
    }
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    json_builder_add_string_value (builder, names[i]);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* The project's export history gets the file written from its run (run-record.h). */
static int
record_export (const char *folder, gint64 run_id, const char *output_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = graft_project_open (folder, &error);

  if (project == NULL || !graft_run_record_export (project, run_id, output_path, "onnx", &error))
    return cli_fail_printf (_("%s was written, but the project %s could not record it: %s"), output_path, folder,
                            error->message);
  return CLI_EXIT_OK;
}

int
cli_export (int argc, char **argv)
{
  g_autofree char *output_path = NULL, *labels = NULL, *preprocessing = NULL, *run_text = NULL;
  g_autofree char *run_model_path = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) run_spec = NULL;
  gint64 run_id = 0;
  gboolean softmax = FALSE;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_path, N_("Where to write the model"), "OUT.onnx" },
    { "run", 'r', 0, G_OPTION_ARG_STRING, &run_text, N_("With a project folder: the run whose model to export"), "N" },
    { "softmax", 0, 0, G_OPTION_ARG_NONE, &softmax, N_("Append a Softmax: output probabilities"), NULL },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &labels, N_("Class names, comma-separated, one per class"), "a,b,c" },
    { "preprocessing", 0, 0, G_OPTION_ARG_STRING, &preprocessing,
      N_("The preprocessing, as JSON or a JSON file"), "JSON" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "export", "MODEL.onnx | PROJECT --run N",
    N_("Rewrites a model, or a project's run's model, with its class names and preprocessing in its metadata, "
       "optionally with a Softmax output."),
    entries);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *labels_value = NULL;
  GraftExportOptions options = { 0 };
  const char *model_path;
  int classes, status = CLI_EXIT_OK;

  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which model? (give MODEL.onnx)") : _("one model at a time"));
  if (output_path == NULL)
    return cli_usage_error (context, "%s", _("where to? (give --output OUT.onnx)"));

  if (graft_project_folder_has_project (argv[1]))
    {
      g_autoptr (GraftProject) project = NULL;
      GraftRun run = { 0 };

      if (run_text == NULL)
        return cli_usage_error (context, _("which run of %s? (give --run N; graft-cli runs lists them)"), argv[1]);
      if ((status = cli_option_int64 (context, "--run", run_text, 1, G_MAXINT64, &run_id)) != CLI_EXIT_OK)
        return status;
      project = graft_project_open (argv[1], &error);
      if (project == NULL || !graft_project_get_run (project, run_id, &run, &error))
        return cli_fail (error);
      if (run.model_path == NULL || !g_file_test (run.model_path, G_FILE_TEST_IS_REGULAR))
        {
          status = run.model_path != NULL
                       ? cli_fail_printf (_("%s: run %lld has no model file: missing %s"), argv[1], (long long) run_id,
                                          run.model_path)
                       : cli_fail_printf (_("%s: run %lld has no model file (it did not finish)"), argv[1],
                                          (long long) run_id);
          graft_run_clear (&run);
          return status;
        }
      model = graft_model_load (run.model_path, &error);
      if (model == NULL || !graft_run_describe_model (&run, model, &error))
        {
          graft_run_clear (&run);
          return cli_fail (error);
        }
      run_model_path = g_strdup (run.model_path);
      validation = graft_run_get_validation (&run);
      if (run.spec_json != NULL)
        run_spec = graft_session_spec_from_json (run.spec_json, NULL);
      graft_run_clear (&run);
    }
  else if (run_text != NULL)
    return cli_usage_error (context, _("--run is for a project folder; %s holds no project"), argv[1]);
  else
    {
      model = graft_model_load (argv[1], &error);
      if (model == NULL)
        return cli_fail (error);
    }
  model_path = run_model_path != NULL ? run_model_path : argv[1];
  classes = cli_model_classes (model);
  if (labels != NULL)
    {
      if (classes < 1)
        return cli_fail_printf (_("%s: its output is not a (N, classes) array of class scores, so it takes no labels"),
                                model_path);
      labels_value = labels_json (context, labels, classes, model_path, &status);
      if (labels_value == NULL)
        return status;
      g_hash_table_replace (model->metadata, g_strdup (GRAFT_METADATA_LABELS), g_steal_pointer (&labels_value));
    }
  if (preprocessing != NULL)
    {
      g_autofree char *text = NULL;
      const char *json = preprocessing;
      GraftPreprocessing prep;
      if (*g_strchug (preprocessing) != '{')
        {
          if (!graft_file_get_contents (preprocessing, &text, NULL, &error))
            return cli_fail_printf (_("--preprocessing: %s"), error->message);
          json = text;
        }
      if (!graft_preprocessing_from_json (json, &prep, &error))
        return cli_fail_printf (_("--preprocessing: %s"), error->message);
      if (!cli_check_preprocessing (model, model_path, &prep, &error))
        return cli_fail_printf (_("--preprocessing: %s"), error->message);
      g_hash_table_replace (model->metadata, g_strdup (GRAFT_METADATA_PREPROCESSING),
                            graft_preprocessing_to_json (&prep));
    }
  else if (!g_hash_table_contains (model->metadata, GRAFT_METADATA_PREPROCESSING))
    /* A catalog model's file: its entry's preprocessing goes into the export. */
    cli_annotate_from_catalog (model, model_path);
  if (preprocessing == NULL && g_hash_table_contains (model->metadata, GRAFT_METADATA_PREPROCESSING))
    {
      GraftPreprocessing prep;
      if (!cli_model_preprocessing (model, model_path, &prep, NULL, &error))
        return cli_fail (error);
    }

  options.softmax_output = softmax;
  if (validation != NULL && run_spec != NULL && cli_model_classes (model) == (int) validation->classes->len)
    {
      /* What the run's model predicts, to verify the file with. */
      g_autofree float *probabilities = NULL;
      g_autoptr (GraftMetrics) metrics = graft_evaluate (model, validation, &run_spec->preprocessing,
                                                         CLAMP (run_spec->batch_size, 1, 64), 2, &probabilities,
                                                         &error);
      GraftExportReference reference = {
        .validation = validation,
        .preprocessing = &run_spec->preprocessing,
        .probabilities = probabilities,
        .classes = cli_model_classes (model),
        .batch_size = CLAMP (run_spec->batch_size, 1, 64),
        .decode_threads = 2,
      };
      GraftExportVerification verification;

      if (metrics == NULL)
        return cli_fail_printf ("%s: %s", model_path, error->message);
      if (!graft_export_model (model, output_path, &options, &reference, &verification, &error))
        return cli_fail (error);
      if (verification.compared > 0)
        {
          char difference[G_ASCII_DTOSTR_BUF_SIZE];
          g_ascii_formatd (difference, sizeof difference, "%.1e", verification.max_difference);
          guint differing = verification.compared - verification.agreed;
          if (verification.max_difference > 0)
            printf (g_dngettext (GETTEXT_PACKAGE,
                                 "Verified %s: read back, it predicts the same class as run %lld's model for %u of "
                                 "%u validation image, probabilities differing by at most %s\n",
                                 "Verified %s: read back, it predicts the same class as run %lld's model for %u of "
                                 "%u validation images, probabilities differing by at most %s\n",
                                 verification.compared),
                    output_path, (long long) run_id, verification.agreed, verification.compared, difference);
          else
            printf (g_dngettext (GETTEXT_PACKAGE,
                                 "Verified %s: read back, it predicts the same class as run %lld's model for %u of "
                                 "%u validation image, with the same probabilities\n",
                                 "Verified %s: read back, it predicts the same class as run %lld's model for %u of "
                                 "%u validation images, with the same probabilities\n",
                                 verification.compared),
                    output_path, (long long) run_id, verification.agreed, verification.compared);
          if (differing > 0)
            g_printerr (g_dngettext (GETTEXT_PACKAGE, "%s predicts another class than run %lld's model for %u image\n",
                                     "%s predicts another class than run %lld's model for %u images\n", differing),
                        output_path, (long long) run_id, differing);
        }
      return record_export (argv[1], run_id, output_path);
    }
  if (!graft_export_model (model, output_path, &options, NULL, NULL, &error))
    return cli_fail (error);
  return run_id != 0 ? record_export (argv[1], run_id, output_path) : CLI_EXIT_OK;
}
