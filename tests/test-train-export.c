/* train/export.h: a trained model's metadata has one writer, so a model says the same
 * about itself whoever exported it: the trainer (graft_trainer_describe_model, what
 * graft-cli train and the app's training write), the Results page (a description from
 * its own evaluation, then graft_export_model with verification) and graft-cli export
 * of a project's run (graft_run_describe_model from the stored record). The numbers
 * are locale-independent: the exports run under a French LC_NUMERIC. */
#include <glib.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "project/project.h"
#include "project/run-record.h"
#include "toy-images.h"
#include "train/export.h"
#include "train/trainer.h"

static const char *const described_keys[] = {
  GRAFT_METADATA_LABELS,
  GRAFT_METADATA_PREPROCESSING,
  GRAFT_METADATA_RECIPE,
  GRAFT_METADATA_VALIDATION_ACCURACY,
};

/* Switches LC_NUMERIC to French (a decimal comma), generating the locale into a
 * temporary folder with localedef when the system has none; FALSE when neither works. */
static gboolean
use_french_numbers (const char *folder)
{
  g_autofree char *locales = NULL;
  g_autofree char *target = NULL;
  const char *argv[] = { "localedef", "-i", "fr_FR", "-f", "UTF-8", NULL, NULL };
  int status = -1;

  if (setlocale (LC_NUMERIC, "fr_FR.UTF-8") != NULL)
    return TRUE;
  locales = g_build_filename (folder, "locales", NULL);
  target = g_build_filename (locales, "fr_FR.UTF-8", NULL);
  g_mkdir_with_parents (locales, 0700);
  argv[5] = target;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  /* glibc reads LOCPATH at each setlocale. */
  g_setenv ("LOCPATH", locales, TRUE);
  return setlocale (LC_NUMERIC, "fr_FR.UTF-8") != NULL;
}

static GHashTable *
metadata_of (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = graft_model_load (path, &error);
  g_assert_no_error (error);
  return g_hash_table_ref (model->metadata);
}

static void
test_same_metadata (void)
{
  g_autofree char *folder = toy_image_folder_new (24, 12, FALSE);
  g_autofree char *trainer_path = g_build_filename (folder, "trainer.onnx", NULL);
  g_autofree char *page_path = g_build_filename (folder, "page.onnx", NULL);
  g_autofree char *run_path = g_build_filename (folder, "run.onnx", NULL);
  g_autofree char *project_folder = g_build_filename (folder, "project", NULL);
  g_autoptr (GraftModel) base = toy_pretrained_model ();
  g_autoptr (GraftDataset) train = NULL;
  g_autoptr (GraftDataset) validation = NULL;
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, base);
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) from_trainer = NULL, from_page = NULL, from_run = NULL;
  g_autofree char *spec_json = NULL;
  GraftExportVerification verification;
  gboolean french;
  GraftModel *trained;
  double accuracy;
  char *end;

  french = use_french_numbers (folder);
  if (!french)
    g_test_message ("no French locale (fr_FR.UTF-8), and localedef could not make one: numbers checked in C only");
  else
    g_assert_cmpstr (localeconv ()->decimal_point, ==, ",");

  toy_image_folder_load (folder, &train, &validation);
  toy_preprocessing (spec);
  spec->optimizer.learning_rate = 3e-2f;
  spec->epochs = 4;
  trainer = graft_trainer_new (base, spec, train, validation, &error);
  g_assert_no_error (error);
  g_assert_true (graft_trainer_run (trainer, &error));
  g_assert_no_error (error);
  trained = graft_trainer_get_model (trainer);

  /* 1. The trainer's (graft-cli train, the app's training). */
  graft_trainer_describe_model (trainer);
  g_assert_true (graft_export_model (trained, trainer_path, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* 2. The Results page's: its own evaluation of the model, the description from it,
   * then the export verified on the same images. */
  {
    g_autofree float *probabilities = NULL;
    g_autoptr (GraftMetrics) metrics = graft_evaluate (trained, validation, &spec->preprocessing, 8, 2,
                                                       &probabilities, &error);
    GraftModelDescription description = {
      .classes = train->classes,
      .spec = spec,
      .validation_accuracy = graft_metrics_accuracy (metrics),
    };
    GraftExportReference reference = {
      .validation = validation,
      .preprocessing = &spec->preprocessing,
      .probabilities = probabilities,
      .classes = (int) train->classes->len,
      .batch_size = 8,
      .decode_threads = 2,
    };

    g_assert_no_error (error);
    g_hash_table_remove_all (trained->metadata);
    graft_model_description_write (&description, trained->metadata, TRUE);
    g_assert_true (graft_export_model (trained, page_path, NULL, &reference, &verification, &error));
    g_assert_no_error (error);
    g_assert_true (verification.verified);
    g_assert_cmpuint (verification.compared, ==, validation->items->len);
    g_assert_cmpuint (verification.agreed, ==, verification.compared);
    g_assert_cmpfloat (verification.max_difference, <, 1e-5);
  }

  /* 3. graft-cli export PROJECT --run N: the run as a project stores it, then its
   * model, stripped of its metadata, described from the record. */
  {
    g_autoptr (GraftProject) project = graft_project_create (project_folder, "export", &error);
    g_autoptr (GBytes) bytes = NULL;
    g_autoptr (GraftModel) stored = NULL;
    GraftRun run = { 0 };
    GraftRunRecord record = {
      .status = GRAFT_RUN_FINISHED,
      .classes = train->classes,
      .epochs = spec->epochs,
      .epochs_done = spec->epochs,
      .seconds = 1,
      .validation_metrics = graft_trainer_get_validation_metrics (trainer),
      .validation = validation,
    };
    gint64 run_id;

    g_assert_no_error (error);
    spec_json = graft_session_spec_to_json (spec);
    run_id = graft_project_add_run (project, "run", spec_json, &error);
    g_assert_no_error (error);
    g_hash_table_remove_all (trained->metadata);
    record.model = bytes = graft_model_save_to_bytes (trained, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (graft_project_store_run (project, run_id, &record, &error));
    g_assert_no_error (error);
    g_assert_true (graft_project_get_run (project, run_id, &run, &error));
    g_assert_no_error (error);
    stored = graft_model_load (run.model_path, &error);
    g_assert_no_error (error);
    g_hash_table_remove_all (stored->metadata);
    g_assert_true (graft_run_describe_model (&run, stored, &error));
    g_assert_no_error (error);
    g_assert_true (graft_export_model (stored, run_path, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    graft_run_clear (&run);
  }

  from_trainer = metadata_of (trainer_path);
  from_page = metadata_of (page_path);
  from_run = metadata_of (run_path);
  for (gsize k = 0; k < G_N_ELEMENTS (described_keys); k++)
    {
      const char *value = g_hash_table_lookup (from_trainer, described_keys[k]);
      g_test_message ("%s = %s", described_keys[k], value);
      g_assert_nonnull (value);
      g_assert_cmpstr (g_hash_table_lookup (from_page, described_keys[k]), ==, value);
      g_assert_cmpstr (g_hash_table_lookup (from_run, described_keys[k]), ==, value);
    }
  /* The accuracy is read back as a number in any locale: "0.8333", never "0,8333". */
  accuracy = g_ascii_strtod (g_hash_table_lookup (from_trainer, GRAFT_METADATA_VALIDATION_ACCURACY), &end);
  g_assert_cmpint (*end, ==, '\0');
  g_assert_cmpfloat (accuracy, >, 0);
  g_assert_cmpfloat (accuracy, <=, 1);
  g_assert_cmpfloat (fabs (accuracy - graft_metrics_accuracy (graft_trainer_get_validation_metrics (trainer))), <,
                     1e-4);
  /* The recipe's numbers too: it parses back into the same spec. */
  {
    g_autoptr (GraftSessionSpec) recipe = graft_session_spec_from_json (g_hash_table_lookup (from_run,
                                                                                             GRAFT_METADATA_RECIPE),
                                                                        &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (recipe->optimizer.learning_rate, ==, spec->optimizer.learning_rate);
  }
  setlocale (LC_NUMERIC, "C");
  test_remove_tree (folder);
}

/* The writer alone: replace or keep, and no accuracy without validation. */
static void
test_description_write (void)
{
  g_autoptr (GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) classes = g_ptr_array_new_with_free_func (g_free);
  GraftModelDescription description = { .classes = classes, .validation_accuracy = 0.875 };

  g_ptr_array_add (classes, g_strdup ("cat"));
  g_ptr_array_add (classes, g_strdup ("dog \"big\""));
  g_hash_table_insert (metadata, g_strdup (GRAFT_METADATA_LABELS), g_strdup ("[\"old\"]"));
  g_hash_table_insert (metadata, g_strdup ("other"), g_strdup ("kept"));
  graft_model_description_write (&description, metadata, FALSE);
  g_assert_cmpstr (g_hash_table_lookup (metadata, GRAFT_METADATA_LABELS), ==, "[\"old\"]");
  g_assert_cmpstr (g_hash_table_lookup (metadata, GRAFT_METADATA_VALIDATION_ACCURACY), ==, "0.8750");
  graft_model_description_write (&description, metadata, TRUE);
  g_assert_cmpstr (g_hash_table_lookup (metadata, GRAFT_METADATA_LABELS), ==, "[\"cat\",\"dog \\\"big\\\"\"]");
  g_assert_false (g_hash_table_contains (metadata, GRAFT_METADATA_PREPROCESSING));
  description.validation_accuracy = NAN;
  graft_model_description_write (&description, metadata, FALSE);
  g_assert_cmpstr (g_hash_table_lookup (metadata, GRAFT_METADATA_VALIDATION_ACCURACY), ==, "0.8750");
  graft_model_description_write (&description, metadata, TRUE);
  g_assert_false (g_hash_table_contains (metadata, GRAFT_METADATA_VALIDATION_ACCURACY));
  g_assert_cmpstr (g_hash_table_lookup (metadata, "other"), ==, "kept");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/export/description-write", test_description_write);
  g_test_add_func ("/train/export/same-metadata", test_same_metadata);
  return g_test_run ();
}
