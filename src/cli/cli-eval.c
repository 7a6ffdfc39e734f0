/* cli-eval.c: graft-cli eval and graft-cli predict.
 *
 *   graft-cli eval MODEL.onnx DATA [--batch N] [--threads N] [--decode-threads N] [--json]
 *   graft-cli eval PROJECT --run N [...]
 *   graft-cli predict MODEL.onnx IMAGE... [--top K] [--batch N] [--threads N]
 *                                          [--decode-threads N] [--json]
 *
 * The model's classes are named by its graft.labels metadata; the images are prepared
 * as its graft.preprocessing says (else ImageNet's at its input size).
 *
 * eval: DATA is an ImageFolder tree whose class folders are mapped to the model's
 * labels by name (a folder that is not a label is an error listing them; a label
 * without a folder just has no image). A model without labels takes the folders in
 * name order as its classes 0, 1, ... (said on stderr). Prints accuracy, loss (mean
 * cross-entropy), per-class precision, recall, F1 and support, and the confusion
 * matrix (rows: true class, columns: predicted). Images that cannot be read are
 * skipped, listed on stderr (and under "skipped" with --json), and make the exit status
 * 4 (CLI_EXIT_SKIPPED); none read is a failure (1). --json prints one object:
 *   {"model", "data", "images", "skipped": [paths], "accuracy", "loss", "macro_f1",
 *    "classes": [{"name", "precision", "recall", "f1", "support"}],
 *    "confusion": [[count, ...], ...], "predictions": [{"image", "label", "predicted"}]}
 * (each image's true and predicted class, as indices of "classes"; predicted is null for
 * an image that could not be read).
 *
 * eval PROJECT --run N evaluates a stored run as the app's Results page does when it opens
 * it: the run's model file with its record's classes (graft_run_describe_model), on the
 * images the run was validated on (its metrics record), prepared with the run's spec's
 * preprocessing, in batches of the run's batch size (at most 64) unless --batch says;
 * "data" is the project, and "run" its number.
 *
 * predict: the K (default 5) most probable classes of each image, with their
 * probabilities (softmax of the logits); classes are named by the labels, or "class N"
 * (from 0) without them. An image that cannot be read is reported (on stderr, and with
 * an "error" in the JSON), the others are still predicted, and the exit status is 4
 * as for eval (1 when no image could be read). --json prints one object:
 *   {"model", "predictions": [{"image", "top": [{"label", "class", "probability"}]}
 *                             or {"image", "error"}]}
 * File names in JSON: see CLI_JSON_NAMES_HELP ("image_bytes" and the like).
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "project/project.h"
#include "project/run-record.h"
#include "train/trainer.h"

#define MAX_MATRIX_CLASSES 30

typedef struct {
  int batch, threads, decode_threads;
  gboolean json;
} EvalOptions;

static void
add_eval_entries (GOptionContext *context, EvalOptions *o)
{
  const GOptionEntry entries[] = {
    { "batch", 'b', 0, G_OPTION_ARG_INT, &o->batch, N_("Images per batch (default 32)"), "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o->threads, N_("Engine threads (default: one per CPU)"), "N" },
    { "decode-threads", 0, 0, G_OPTION_ARG_INT, &o->decode_threads, N_("Image decoding threads (default 2)"), "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, N_("Print JSON"), NULL },
    { NULL },
  };
  g_option_context_add_main_entries (context, entries, NULL);
}

/* What --help says of the exit status; eval and predict agree. */
static const char exit_status_help[] =
  N_("Exit status: 0 when every image was read; 4 when some could not be (each is named on stderr and in the JSON), "
     "the output covering the others; 1 when none could be read or the work failed; 2 on a usage error.");

/* Sets it and the file names' note as the context's description (translated here: GOption
 * would look the two together up as one message). */
static void
set_exit_status_help (GOptionContext *context)
{
  g_autofree char *text = g_strconcat (_(exit_status_help), "\n\n", _(CLI_JSON_NAMES_HELP), NULL);
  g_option_context_set_description (context, text);
}

static int
check_eval_options (GOptionContext *context, const EvalOptions *o)
{
  if (o->batch < 1 || o->batch > 4096)
    return cli_usage_error (context, _("--batch %d is not between 1 and 4096"), o->batch);
  if (!cli_set_threads (o->threads))
    return cli_usage_error (context, _("--threads %d is not a thread count"), o->threads);
  if (o->decode_threads < 0 || o->decode_threads > 64)
    return cli_usage_error (context, _("--decode-threads %d is not between 0 and 64"), o->decode_threads);
  return CLI_EXIT_OK;
}

/* The model, its classes, labels (NULL without) and preprocessing. */
static int
load_classifier (const char *path, GraftModel **model, int *classes, GPtrArray **labels, GraftPreprocessing *prep)
{
  g_autoptr (GError) error = NULL;
  *model = graft_model_load (path, &error);
  if (*model == NULL)
    return cli_fail (error);
  *classes = cli_model_classes (*model);
  if (*classes < 1)
    return cli_fail_printf (_("%s: its output is not a (N, classes) array of class scores"), path);
  cli_annotate_from_catalog (*model, path);
  if (!cli_model_labels (*model, path, labels, &error) || !cli_model_preprocessing (*model, path, prep, NULL, &error))
    return cli_fail (error);
  return CLI_EXIT_OK;
}

static char *
class_name (GPtrArray *labels, int c)
{
  return labels != NULL ? g_strdup (g_ptr_array_index (labels, c)) : g_strdup_printf ("class %d", c);
}

/* Why an image gave no prediction: the decoder's message. */
static char *
unreadable_reason (const char *path)
{
  g_autoptr (GError) error = NULL;
  GraftImage *image = graft_image_load (path, &error);
  if (image != NULL)
    {
      graft_image_free (image);
      return g_strdup_printf (_("%s: could not be read"), path);
    }
  return g_strdup (error->message);
}

/* ------------------------------------------------------------------------ */
/* eval                                                                      */

/* DATA's items with the model's class indices. */
static int
map_classes (const char *model_path, const char *data_path, GraftDataset *folder, GPtrArray *labels, int classes,
             GraftDataset **out)
{
  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  g_autofree int *index = g_new (int, folder->classes->len);

  for (int c = 0; c < classes; c++)
    g_ptr_array_add (dataset->classes, labels == NULL && (guint) c < folder->classes->len
                                         ? g_strdup (g_ptr_array_index (folder->classes, c))
                                         : class_name (labels, c));
  if (labels != NULL)
    {
      g_autofree char *unknown = cli_missing_names (folder->classes, labels);
      if (unknown != NULL)
        {
          g_autoptr (GString) known = g_string_new (NULL);
          for (guint c = 0; c < labels->len; c++)
            g_string_append_printf (known, "%s%s", c > 0 ? ", " : "", (const char *) g_ptr_array_index (labels, c));
          return cli_fail_printf (_("%s has class folders that are not among the labels of %s (%s): %s"), data_path,
                                  model_path, known->str, unknown);
        }
      /* Every folder is a label now. */
      for (guint f = 0; f < folder->classes->len; f++)
        for (index[f] = 0; strcmp (g_ptr_array_index (folder->classes, f), g_ptr_array_index (labels, index[f])) != 0;
             index[f]++)
          ;
    }
  else
    {
      if ((int) folder->classes->len > classes)
        return cli_fail_printf (_("%s has %u class folders, but %s gives only %d classes (and has no %s metadata "
                                  "to name them)"), data_path, folder->classes->len, model_path, classes,
                                GRAFT_METADATA_LABELS);
      fprintf (stderr, _("graft-cli: %s has no %s metadata; taking the class folders of %s in name order as its "
                         "classes 0 to %u\n"), model_path, GRAFT_METADATA_LABELS, data_path, folder->classes->len - 1);
      for (guint f = 0; f < folder->classes->len; f++)
        index[f] = (int) f;
    }
  for (guint i = 0; i < folder->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (folder->items, GraftDatasetItem, i);
      graft_dataset_add (dataset, item->path, item->label >= 0 ? index[item->label] : -1);
    }
  *out = g_steal_pointer (&dataset);
  return CLI_EXIT_OK;
}

static void
print_eval_json (const char *model_path, const char *data_path, gint64 run_id, const GraftDataset *dataset,
                 const GraftMetrics *metrics, const float *probabilities, GPtrArray *skipped)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  cli_json_set_file_name (builder, "model", model_path);
  cli_json_set_file_name (builder, "data", data_path);
  if (run_id > 0)
    {
      json_builder_set_member_name (builder, "run");
      json_builder_add_int_value (builder, run_id);
    }
  json_builder_set_member_name (builder, "images");
  json_builder_add_int_value (builder, (gint64) metrics->count);
  cli_json_set_file_names (builder, "skipped", skipped);
  json_builder_set_member_name (builder, "accuracy");
  cli_json_add_number (builder, graft_metrics_accuracy (metrics));
  json_builder_set_member_name (builder, "loss");
  cli_json_add_number (builder, graft_metrics_loss (metrics));
  json_builder_set_member_name (builder, "macro_f1");
  cli_json_add_number (builder, graft_metrics_macro_f1 (metrics));
  json_builder_set_member_name (builder, "classes");
  json_builder_begin_array (builder);
  for (int c = 0; c < metrics->classes; c++)
    {
      GraftClassMetrics m = graft_metrics_class (metrics, c);
      json_builder_begin_object (builder);
      /* A class folder's name, unless the model's labels name the class. */
      cli_json_set_file_name (builder, "name", g_ptr_array_index (dataset->classes, c));
      json_builder_set_member_name (builder, "precision");
      cli_json_add_number (builder, m.precision);
      json_builder_set_member_name (builder, "recall");
      cli_json_add_number (builder, m.recall);
      json_builder_set_member_name (builder, "f1");
      cli_json_add_number (builder, m.f1);
      json_builder_set_member_name (builder, "support");
      json_builder_add_int_value (builder, (gint64) m.support);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "confusion");
  json_builder_begin_array (builder);
  for (int t = 0; t < metrics->classes; t++)
    {
      json_builder_begin_array (builder);
      for (int c = 0; c < metrics->classes; c++)
        json_builder_add_int_value (builder, (gint64) metrics->confusion[(size_t) t * metrics->classes + c]);
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "predictions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < dataset->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      const float *row = probabilities + (size_t) i * metrics->classes;
      int best = 0;
      for (int c = 1; c < metrics->classes; c++)
        if (row[c] > row[best])
          best = c;
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "image", item->path);
      json_builder_set_member_name (builder, "label");
      json_builder_add_int_value (builder, item->label);
      json_builder_set_member_name (builder, "predicted");
      if (isnan (row[0]))
        json_builder_add_null_value (builder);
      else
        json_builder_add_int_value (builder, best);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  cli_print_json (builder, TRUE);
}

static void
print_eval_table (const char *model_path, const char *data_path, const GraftDataset *dataset,
                  const GraftMetrics *metrics)
{
  /* Translators: the last row of eval's table of classes, under their names. */
  const char *macro = _("macro average");
  int classes = metrics->classes, name_width = (int) g_utf8_strlen (macro, -1), count_width = 5;
  guint64 correct = 0, largest = 0;

  for (int c = 0; c < classes; c++)
    {
      name_width = MAX (name_width, (int) g_utf8_strlen (g_ptr_array_index (dataset->classes, c), -1));
      correct += metrics->confusion[(size_t) c * classes + c];
    }
  name_width = MIN (name_width, 40);
  /* Translators: eval's report; the labels are padded to line up their values. */
  printf (_("model     %s\n"), model_path);
  printf (g_dngettext (GETTEXT_PACKAGE, "data      %s: %llu image\n", "data      %s: %llu images\n",
                       (unsigned long) metrics->count),
          data_path, (unsigned long long) metrics->count);
  printf (_("accuracy  %.2f%% (%llu of %llu)\n"), 100 * graft_metrics_accuracy (metrics), (unsigned long long) correct,
          (unsigned long long) metrics->count);
  printf (_("loss      %.4f\n\n"), graft_metrics_loss (metrics));

  /* Translators: the headings of eval's table of classes; keep each within 9 characters. */
  cli_print_padded (_("class"), name_width);
  printf ("  ");
  cli_print_padded_right (_("precision"), 9);
  printf ("  ");
  cli_print_padded_right (_("recall"), 9);
  printf ("  ");
  cli_print_padded_right (_("F1"), 9);
  printf ("  ");
  cli_print_padded_right (_("support"), 9);
  printf ("\n");
  for (int c = 0; c < classes; c++)
    {
      GraftClassMetrics m = graft_metrics_class (metrics, c);
      const char *name = g_ptr_array_index (dataset->classes, c);
      /* printf pads bytes, not characters: pad by hand for UTF-8 names. */
      int pad = MAX (0, name_width - (int) g_utf8_strlen (name, -1));
      printf ("%s%*s  %9.3f  %9.3f  %9.3f  %9" G_GUINT64_FORMAT "\n", name, pad, "", m.precision, m.recall, m.f1,
              m.support);
    }
  cli_print_padded (macro, name_width);
  printf ("  %9s  %9s  %9.3f  %9" G_GUINT64_FORMAT "\n\n", "", "",
          graft_metrics_macro_f1 (metrics), metrics->count);

  if (classes > MAX_MATRIX_CLASSES)
    {
      printf (_("confusion matrix: %d classes, too many for a table (--json has it)\n"), classes);
      return;
    }
  for (size_t i = 0; i < (size_t) classes * classes; i++)
    largest = MAX (largest, metrics->confusion[i]);
  while (largest >= 100000)
    largest /= 10, count_width++;
  printf (_("confusion matrix (rows: true class, columns: predicted class)\n"));
  printf ("%*s", name_width + 6, "");
  for (int c = 0; c < classes; c++)
    printf ("  %*d", count_width, c);
  printf ("\n");
  for (int t = 0; t < classes; t++)
    {
      const char *name = g_ptr_array_index (dataset->classes, t);
      int pad = MAX (0, name_width - (int) g_utf8_strlen (name, -1));
      printf ("%4d  %s%*s", t, name, pad, "");
      for (int c = 0; c < classes; c++)
        printf ("  %*" G_GUINT64_FORMAT, count_width, metrics->confusion[(size_t) t * classes + c]);
      printf ("\n");
    }
}

/* A project's stored run as the Results page opens it: its model described by its record,
 * its validation images, its preprocessing and evaluation batch (see the top). */
static int
load_run (const char *folder, gint64 run_id, GraftModel **model, int *classes, GraftDataset **dataset,
          GraftPreprocessing *prep, int *batch, char **model_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = graft_project_open (folder, &error);
  g_autoptr (GraftSessionSpec) spec = NULL;
  GraftRun run = { 0 };
  int status = CLI_EXIT_OK;

  if (project == NULL || !graft_project_get_run (project, run_id, &run, &error))
    return cli_fail (error);
  if (run.model_path == NULL || !g_file_test (run.model_path, G_FILE_TEST_IS_REGULAR))
    status = run.model_path != NULL
                 ? cli_fail_printf (_("%s: run %lld has no model file: missing %s"), folder, (long long) run_id,
                                    run.model_path)
                 : cli_fail_printf (_("%s: run %lld has no model file (it did not finish)"), folder,
                                    (long long) run_id);
  else if ((*model = graft_model_load (run.model_path, &error)) == NULL
           || !graft_run_describe_model (&run, *model, &error))
    status = cli_fail (error);
  else if ((*classes = cli_model_classes (*model)) < 1)
    status = cli_fail_printf (_("%s: its output is not a (N, classes) array of class scores"), run.model_path);
  else if ((*dataset = graft_run_get_validation (&run)) == NULL || (*dataset)->items->len == 0)
    status = cli_fail_printf (_("%s: run %lld has no validation images to evaluate on (its "
                                "project had none when it trained)"), folder, (long long) run_id);
  else if ((spec = graft_session_spec_from_json (run.spec_json != NULL ? run.spec_json : "", &error)) == NULL)
    status = cli_fail_printf (_("%s: run %lld: %s"), folder, (long long) run_id, error->message);
  else
    {
      *prep = spec->preprocessing;
      if (*batch <= 0)
        *batch = CLAMP (spec->batch_size, 1, 64);
      *model_path = g_strdup (run.model_path);
    }
  graft_run_clear (&run);
  return status;
}

int
cli_eval (int argc, char **argv)
{
  EvalOptions o = { .batch = 0, .decode_threads = 2 };
  g_autofree char *run_text = NULL;
  const GOptionEntry run_entries[] = {
    { "run", 0, 0, G_OPTION_ARG_STRING, &run_text, N_("With PROJECT: the stored run to evaluate"), "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "eval", "MODEL.onnx DATA | PROJECT --run N",
    N_("Measures a classifier on an ImageFolder tree, or a project's stored run on its validation images: accuracy, "
       "loss, per-class precision, recall and F1, and the confusion matrix."),
    run_entries);
  g_autofree char *run_model_path = NULL;
  const char *model_path, *data_path;
  gint64 run_id = 0;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GPtrArray) labels = NULL;
  g_autoptr (GraftDataset) folder = NULL;
  g_autoptr (GraftDataset) dataset = NULL;
  g_autoptr (GraftMetrics) metrics = NULL;
  g_autoptr (GPtrArray) skipped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree float *probabilities = NULL;
  GraftPreprocessing prep;
  int classes, status;

  set_exit_status_help (context);
  add_eval_entries (context, &o);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc == 2 && graft_project_folder_has_project (argv[1]))
    {
      if (run_text == NULL)
        return cli_usage_error (context, _("which run of %s? (give --run N; graft-cli runs lists them)"), argv[1]);
      if ((status = cli_option_int64 (context, "--run", run_text, 1, G_MAXINT64, &run_id)) != CLI_EXIT_OK)
        return status;
      if ((status = load_run (argv[1], run_id, &model, &classes, &dataset, &prep, &o.batch, &run_model_path))
          != CLI_EXIT_OK)
        return status;
      if ((status = check_eval_options (context, &o)) != CLI_EXIT_OK)
        return status;
    }
  else if (run_text != NULL)
    return cli_usage_error (context, _("--run is for a project folder; %s holds no project"), argv[1]);
  else
    {
      if (argc != 3)
        return cli_usage_error (context, "%s", argc < 2   ? _("which model? (give MODEL.onnx DATA)")
                                               : argc < 3 ? _("which images? (give MODEL.onnx DATA)")
                                                          : _("one model and one image folder"));
      if (o.batch == 0)
        o.batch = 32;
      if ((status = check_eval_options (context, &o)) != CLI_EXIT_OK)
        return status;
      if ((status = load_classifier (argv[1], &model, &classes, &labels, &prep)) != CLI_EXIT_OK)
        return status;
      if ((status = cli_load_image_folder (argv[2], NULL, &folder)) != CLI_EXIT_OK)
        return status;
      if ((status = map_classes (argv[1], argv[2], folder, labels, classes, &dataset)) != CLI_EXIT_OK)
        return status;
    }

  model_path = run_model_path != NULL ? run_model_path : argv[1];
  data_path = run_model_path != NULL ? argv[1] : argv[2];
  metrics = graft_evaluate (model, dataset, &prep, o.batch, o.decode_threads, &probabilities, &error);
  if (metrics == NULL)
    return cli_fail_printf ("%s: %s", model_path, error->message);
  for (guint i = 0; i < dataset->items->len; i++)
    if (isnan (probabilities[(size_t) i * classes]))
      {
        const char *path = g_array_index (dataset->items, GraftDatasetItem, i).path;
        g_autofree char *reason = unreadable_reason (path);
        fprintf (stderr, _("graft-cli: skipped %s\n"), reason);
        g_ptr_array_add (skipped, g_strdup (path));
      }
  if (metrics->count == 0)
    return cli_fail_printf (_("%s: none of its %u images could be read"), data_path, dataset->items->len);
  if (o.json)
    print_eval_json (model_path, data_path, run_id, dataset, metrics, probabilities, skipped);
  else
    print_eval_table (model_path, data_path, dataset, metrics);
  if (skipped->len > 0)
    {
      fprintf (stderr, _("graft-cli: %u of %u images could not be read; the figures are of the other %llu\n"),
               skipped->len, dataset->items->len, (unsigned long long) metrics->count);
      return CLI_EXIT_SKIPPED;
    }
  return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* predict                                                                   */

typedef struct {
  int index;
  float probability;
} Ranked;

static int
compare_ranked (gconstpointer a, gconstpointer b)
{
  const Ranked *x = a, *y = b;
  if (x->probability != y->probability)
    return x->probability < y->probability ? 1 : -1;
  return x->index - y->index;
}

int
cli_predict (int argc, char **argv)
{
  EvalOptions o = { .batch = 32, .decode_threads = 2 };
  int top = 5;
  const GOptionEntry entries[] = {
    { "top", 'k', 0, G_OPTION_ARG_INT, &top, N_("How many classes per image, most probable first (default 5)"), "K" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "predict", "MODEL.onnx IMAGE...", N_("Prints the most probable classes of images, with their probabilities."),
    entries);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GPtrArray) labels = NULL;
  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  g_autoptr (GraftMetrics) metrics = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree float *probabilities = NULL;
  g_autofree Ranked *ranked = NULL;
  GraftPreprocessing prep;
  int classes, status, n_images, n_skipped = 0;

  set_exit_status_help (context);
  add_eval_entries (context, &o);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 3)
    return cli_usage_error (context, "%s", argc < 2 ? _("which model? (give MODEL.onnx IMAGE...)")
                                                    : _("which images? (give MODEL.onnx IMAGE...)"));
  if (top < 1)
    return cli_usage_error (context, _("--top %d: give at least 1"), top);
  if ((status = check_eval_options (context, &o)) != CLI_EXIT_OK)
    return status;
  if ((status = load_classifier (argv[1], &model, &classes, &labels, &prep)) != CLI_EXIT_OK)
    return status;

  n_images = argc - 2;
  top = MIN (top, classes);
  for (int c = 0; c < classes; c++)
    g_ptr_array_add (dataset->classes, class_name (labels, c));
  for (int i = 0; i < n_images; i++)
    graft_dataset_add (dataset, argv[2 + i], -1);
  metrics = graft_evaluate (model, dataset, &prep, o.batch, o.decode_threads, &probabilities, &error);
  if (metrics == NULL)
    return cli_fail_printf ("%s: %s", argv[1], error->message);

  ranked = g_new (Ranked, classes);
  if (o.json)
    {
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "model", argv[1]);
      json_builder_set_member_name (builder, "predictions");
      json_builder_begin_array (builder);
    }
  for (int i = 0; i < n_images; i++)
    {
      const char *path = argv[2 + i];
      const float *row = probabilities + (size_t) i * classes;
      if (isnan (row[0]))
        {
          g_autofree char *reason = unreadable_reason (path);
          fprintf (stderr, _("graft-cli: %s\n"), reason);
          n_skipped++;
          if (o.json)
            {
              json_builder_begin_object (builder);
              cli_json_set_file_name (builder, "image", path);
              json_builder_set_member_name (builder, "error");
              cli_json_add_text (builder, reason);
              json_builder_end_object (builder);
            }
          continue;
        }
      for (int c = 0; c < classes; c++)
        ranked[c] = (Ranked) { c, row[c] };
      qsort (ranked, (size_t) classes, sizeof *ranked, compare_ranked);
      if (o.json)
        {
          json_builder_begin_object (builder);
          cli_json_set_file_name (builder, "image", path);
          json_builder_set_member_name (builder, "top");
          json_builder_begin_array (builder);
          for (int k = 0; k < top; k++)
            {
              json_builder_begin_object (builder);
              json_builder_set_member_name (builder, "label");
              json_builder_add_string_value (builder, g_ptr_array_index (dataset->classes, ranked[k].index));
              json_builder_set_member_name (builder, "class");
              json_builder_add_int_value (builder, ranked[k].index);
              json_builder_set_member_name (builder, "probability");
              cli_json_add_number (builder, ranked[k].probability);
              json_builder_end_object (builder);
            }
          json_builder_end_array (builder);
          json_builder_end_object (builder);
        }
      else
        {
          printf ("%s\n", path);
          for (int k = 0; k < top; k++)
            printf ("  %6.2f%%  %s\n", 100 * ranked[k].probability,
                    (const char *) g_ptr_array_index (dataset->classes, ranked[k].index));
        }
    }
  if (o.json)
    {
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      cli_print_json (builder, TRUE);
    }
  fflush (stdout);
  if (n_skipped == n_images)
    return cli_fail_printf (_("none of the %d images could be read"), n_images);
  if (n_skipped > 0)
    {
      fprintf (stderr, _("graft-cli: %d of %d images could not be read; the others were predicted\n"), n_skipped,
               n_images);
      return CLI_EXIT_SKIPPED;
    }
  return CLI_EXIT_OK;
}
