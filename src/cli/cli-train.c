/* cli-train.c: graft-cli train and graft-cli lr-find.
 *
 *   graft-cli train MODEL.onnx DATA --output OUT.onnx [--validation VALDATA]
 *       [--preset NAME] [--spec SPEC.json] [--epochs N] [--batch N] [--lr X] [--seed N]
 *       [--threads N] [--decode-threads N] [--cache-dir DIR] [--cache-size MB] [--softmax] [--json]
 *       [--save-spec SPEC.json] [--precision fp32|bf16]
 *   graft-cli lr-find MODEL.onnx DATA [--preset NAME] [--spec SPEC.json] [--start X]
 *       [--end X] [--steps N] [--batch N] [--seed N] [--threads N] [--decode-threads N]
 *       [--cache-dir DIR] [--json]
 *
 *   graft-cli train PROJECT [--model MODEL.onnx] [the options above]
 *   graft-cli train PROJECT --resume [--run N] [--threads N] [--json] [--output OUT.onnx]
 *
 * With a project folder (src/project/) in place of MODEL.onnx DATA, the run is the
 * app's: the project's train and validation splits (graft_project_dataset, splits of new
 * labels assigned first), the model and settings the project remembers (its session
 * spec; --model, --preset or --spec start from a preset instead), the embedding cache in
 * the project's cache folder; the run is stored in the project as the app stores its
 * runs (run-record.h: spec, curves, metrics record, runs/ID.onnx, status: finished,
 * stopped when interrupted, failed), then the trained model's predictions of the
 * project's images (the suggestions, with embeddings for Label Next). --output writes a
 * copy; the "done" event adds "run", "project", "model" (the stored file) and
 * "predictions". A project that remembers no settings takes the run's.
 *
 * A project run writes its checkpoint (trainer.h: one file, whole or absent) as
 * runs/ID.checkpoint at every epoch's end, and stores its curves so far with it. --resume
 * continues the newest run that was stopped (Ctrl+C, the app closed) or killed after an
 * epoch (or run N) in the same run record, with its own spec and the same images; with
 * the same --threads it ends with the same weights as a run never interrupted. A
 * checkpoint that is damaged, cut short or made for other settings or images is refused
 * by name, never resumed to a different result.
 *
 * DATA (and VALDATA) are ImageFolder trees: one subfolder per class. Without
 * --validation, the spec's validation_fraction of DATA is held out (graft_dataset_split,
 * with the spec's seed); lr-find sweeps over the same training part.
 *
 * The session spec: the preset NAME (feature-extraction, the default, replace-top,
 * fine-tune, progressive-ulmfit, progressive-fastai) built on the model, with the
 * preprocessing of the model's graft.preprocessing metadata (else ImageNet's at the
 * model's input size). --spec SPEC.json puts the fields the file gives over that preset
 * (objects member by member, everything else whole; a null keeps the preset's value),
 * so a short file ({"strategy": "fine-tune", "epochs": 3}) gets the stages and the
 * preprocessing of this model; a file from --save-spec gives every field. The file's
 * "strategy", when it has one, picks the preset (--preset may not say otherwise).
 * Then the flags: --epochs, --batch, --seed set their fields; --lr sets the base
 * learning rate and scales the stages' own learning rates with it. The model's path
 * and SHA-256 go into the spec, which the output carries as graft.recipe.
 *
 * train output, on a terminal: a progress line rewritten in place (epoch, step, the
 * epoch's running loss, the last validation accuracy, images/s, ETA), a line per
 * epoch (train and validation loss and accuracy, "best"), the trainer's messages and
 * a summary. Not on a terminal: the same without the progress line. With --json, only
 * JSON on stdout, one object per line:
 *   {"event": "stage", "stage", "epoch", "trainable_from", "blocks"}
 *   {"event": "step", "epoch", "epochs", "step", "steps", "stage", "loss", "lr",
 *    "images_per_second", "eta_seconds"}
 *   {"event": "epoch", "epoch", "epochs", "stage", "train_loss", "train_accuracy",
 *    "validation_loss", "validation_accuracy", "seconds", "images_per_second", "best"}
 *   {"event": "log", "message"}
 *   {"event": "boundary_cache", "used", "boundary", "reason", "images_found",
 *    "images_computed", "hits"}  (the frozen layers' output kept per image: trainer.h)
 *   {"event": "done", "output", "validation_accuracy", "validation_loss", "best_epoch",
 *    "epochs_completed", "interrupted", "seconds"}
 *   {"event": "error", "message", "exit_status"}  (the message is on stderr too)
 * File names in JSON: see CLI_JSON_NAMES_HELP ("output_bytes" and the like).
 * Epochs, steps and stages count from 1; trainable_from is the first trainable block,
 * from 0 (bottom) to blocks (the head alone). Numbers that are not known (validation
 * without validation images) are null.
 *
 * Ctrl+C (SIGINT) or SIGTERM stops the run after the batch at hand; the best weights
 * so far (the last ones when no epoch has been validated yet) are saved as usual and
 * the exit status is 130 (143 for SIGTERM). A second Ctrl+C quits at once, and so does
 * a run still busy 0.7 s after the signal (a long batch, a blocked read: cli-signals.c),
 * without saving: the process always ends within a second, and never leaves a
 * half-written output.
 *
 * --output is checked before anything is loaded: its folder must exist and take a new
 * file, and have about the model file's size free; otherwise train fails at once.
 *
 * Exit status: 0 done, 1 failed (the message names the file or the problem), 2 usage,
 * 3 the loss diverged (nothing saved), 130 interrupted.
 *
 * lr-find prints "lr loss" rows (the smoothed loss at each learning rate tried) and the
 * suggestion as a comment line; with --json one object:
 *   {"model", "data", "strategy", "lrs": [..], "losses": [..], "suggestion",
 *    "boundary_cache": {as the train event}}
 * The trainer's messages go to stderr.
 */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "base/regular-file.h"
#include "project/active.h"
#include "project/run-record.h"
#include "train/embedding-cache.h"
#include "train/trainer.h"

/* ------------------------------------------------------------------------ */
/* The session: options, spec, data                                         */

#define NOT_GIVEN G_MININT

typedef struct {
  char *preset;
  char *spec_path;
  char *validation_path;
  char *cache_dir;
  /* Number options as given (NULL: not given), parsed by check_options into the fields
   * below: no value of a number stands for "not given" (--lr nan was once ignored). */
  char *epochs_text, *batch_text, *decode_threads_text, *lr_text, *seed_text, *cache_size_text;
  char *precision_text;                /* the spec's precision: fp32 or bf16 */
  int threads;
  int epochs, batch, decode_threads, cache_size;   /* NOT_GIVEN when not given */
  double lr;                           /* NAN when not given */
  gint64 seed;                         /* -1 when not given */
  graft_plan_precision precision;      /* parsed from precision_text, when given */
} SessionOptions;

static void
session_options_init (SessionOptions *o)
{
  *o = (SessionOptions) { .epochs = NOT_GIVEN, .batch = NOT_GIVEN, .threads = 0, .decode_threads = NOT_GIVEN,
                          .cache_size = NOT_GIVEN, .lr = NAN, .seed = -1 };
}

static void
session_options_clear (SessionOptions *o)
{
  g_free (o->preset);
  g_free (o->spec_path);
  g_free (o->validation_path);
  g_free (o->cache_dir);
  g_free (o->epochs_text);
  g_free (o->batch_text);
  g_free (o->decode_threads_text);
  g_free (o->lr_text);
  g_free (o->seed_text);
  g_free (o->cache_size_text);
  g_free (o->precision_text);
}

typedef struct {
  GraftModel *model;
  GraftSessionSpec *spec;
  GraftDataset *train;
  GraftDataset *validation;   /* NULL: none */
  char *cache_dir;            /* NULL: in memory only */
} Session;

static void
session_clear (Session *s)
{
  g_clear_pointer (&s->model, graft_model_free);
  g_clear_pointer (&s->spec, graft_session_spec_free);
  g_clear_pointer (&s->train, graft_dataset_free);
  g_clear_pointer (&s->validation, graft_dataset_free);
  g_clear_pointer (&s->cache_dir, g_free);
}

static const char *const preset_names[] = {
  "feature-extraction", "replace-top", "fine-tune", "progressive-ulmfit", "progressive-fastai",
};

static gboolean
preset_from_string (const char *name, GraftStrategy *strategy)
{
  for (guint i = 0; i < G_N_ELEMENTS (preset_names); i++)
    if (strcmp (name, preset_names[i]) == 0)
      return graft_strategy_from_string (name, strategy);
  return FALSE;
}

/* A whole-number option from min to max into *value (left alone when not given). */
static int
int_option (GOptionContext *context, const char *option, const char *text, int min, int max, int *value)
{
  gint64 number;
  int status;
  if (text == NULL)
    return CLI_EXIT_OK;
  if ((status = cli_option_int64 (context, option, text, min, max, &number)) == CLI_EXIT_OK)
    *value = (int) number;
  return status;
}

/* Checks and parses the flags' values: CLI_EXIT_OK, or CLI_EXIT_USAGE after the message. */
static int
check_options (GOptionContext *context, SessionOptions *o, GraftStrategy *strategy)
{
  int status;

  *strategy = GRAFT_STRATEGY_FEATURE_EXTRACTION;
  if (o->preset != NULL && !preset_from_string (o->preset, strategy))
    return cli_usage_error (context, _("no preset '%s' (feature-extraction, replace-top, fine-tune, "
                                       "progressive-ulmfit or progressive-fastai)"), o->preset);
  if ((status = int_option (context, "--epochs", o->epochs_text, 1, 10000, &o->epochs)) != CLI_EXIT_OK
      || (status = int_option (context, "--batch", o->batch_text, 1, 4096, &o->batch)) != CLI_EXIT_OK
      || (status = int_option (context, "--decode-threads", o->decode_threads_text, 0, 64, &o->decode_threads))
           != CLI_EXIT_OK
      || (status = int_option (context, "--cache-size", o->cache_size_text, 0, G_MAXINT, &o->cache_size))
           != CLI_EXIT_OK)
    return status;
  if (o->lr_text != NULL
      && (status = cli_option_double (context, "--lr", o->lr_text, 0, 1e30, &o->lr)) != CLI_EXIT_OK)
    return status;
  if (o->lr_text != NULL && (float) o->lr == 0)
    return cli_usage_error (context, _("--lr %s is too small (the learning rate is a 32-bit float)"), o->lr_text);
  if (o->seed_text != NULL
      && (status = cli_option_int64 (context, "--seed", o->seed_text, 0, G_MAXINT64, &o->seed)) != CLI_EXIT_OK)
    return status;
  if (!cli_set_threads (o->threads))
    return cli_usage_error (context, _("--threads %d is not a thread count"), o->threads);
  if (o->precision_text != NULL && !graft_precision_from_string (o->precision_text, &o->precision))
    return cli_usage_error (context, _("--precision is fp32 or bf16, not '%s'"), o->precision_text);
  if (o->precision_text != NULL && o->precision == GRAFT_PLAN_PRECISION_BF16 && !graft_plan_bf16_supported ())
    return cli_fail_printf (_("--precision bf16 needs a CPU with AVX512_BF16 or AMX and a build with oneDNN; "
                              "this one has not (use fp32)"));
  return CLI_EXIT_OK;
}

/* The member called name when it is a string, else NULL. */
static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_has_member (object, name) ? json_object_get_member (object, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Puts from's members over into's: objects member by member, the rest whole; null
 * members are skipped. At the top, an optimizer of another kind replaces the preset's
 * whole (its other fields are the new kind's defaults). */
static void
merge_objects (JsonObject *into, JsonObject *from, gboolean top)
{
  g_autoptr (GList) members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (from, name);
      JsonNode *old = json_object_has_member (into, name) ? json_object_get_member (into, name) : NULL;
      if (JSON_NODE_HOLDS_NULL (node))
        continue;
      if (old != NULL && JSON_NODE_HOLDS_OBJECT (old) && JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *old_object = json_node_get_object (old), *new_object = json_node_get_object (node);
          gboolean replace = top && strcmp (name, "optimizer") == 0 && json_object_has_member (new_object, "kind")
                             && g_strcmp0 (string_member (new_object, "kind"), string_member (old_object, "kind")) != 0;
          if (!replace)
            {
              merge_objects (old_object, new_object, FALSE);
              continue;
            }
        }
      json_object_set_member (into, name, json_node_copy (node));
    }
}

/* The preset for strategy on the model, with prep. */
static GraftSessionSpec *
preset_spec (GraftStrategy strategy, const GraftModel *model, const GraftPreprocessing *prep)
{
  GraftSessionSpec *spec = graft_session_spec_new (strategy, model);
  spec->preprocessing = *prep;
  graft_session_spec_adapt_augmentation (spec);
  return spec;
}

/* The spec from SPEC.json over the preset (see the top of the file). */
static int
spec_from_file (GOptionContext *context, const SessionOptions *o, GraftStrategy strategy, const GraftModel *model,
                const GraftPreprocessing *prep, GraftSessionSpec **out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonParser) preset_parser = json_parser_new ();
  g_autoptr (GraftSessionSpec) preset = NULL;
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL, *preset_json = NULL, *merged = NULL;
  JsonObject *object;
  const char *name;

  if (!graft_file_get_contents (o->spec_path, &text, NULL, &error))
    return cli_fail (error);
  if (!json_parser_load_from_data (parser, text, -1, &error))
    return cli_fail_printf (_("%s: not JSON: %s"), o->spec_path, error->message);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return cli_fail_printf (_("%s: a training spec is a JSON object"), o->spec_path);
  object = json_node_get_object (json_parser_get_root (parser));
  name = string_member (object, "strategy");
  if (name != NULL)
    {
      GraftStrategy named;
      if (!graft_strategy_from_string (name, &named))
        return cli_fail_printf (_("%s: strategy: unknown value '%s'"), o->spec_path, name);
      if (o->preset != NULL && named != strategy)
        return cli_usage_error (context, "--preset %s and the \"strategy\" of %s, \"%s\", disagree", o->preset,
                                o->spec_path, name);
      strategy = named;
    }
  preset = preset_spec (strategy, model, prep);
  preset_json = graft_session_spec_to_json (preset);
  if (!json_parser_load_from_data (preset_parser, preset_json, -1, &error))
    return cli_fail_printf (_("the %s preset: %s"), graft_strategy_to_string (strategy), error->message);
  merge_objects (json_node_get_object (json_parser_get_root (preset_parser)), object, TRUE);
  json_generator_set_root (generator, json_parser_get_root (preset_parser));
  merged = json_generator_to_data (generator, NULL);
  *out = graft_session_spec_from_json (merged, &error);
  if (*out == NULL)
    return cli_fail_printf ("%s: %s", o->spec_path, error->message);
  return CLI_EXIT_OK;
}

/* The class folders of validation_path that DATA lacks, or NULL. */
static char *
extra_classes (const char *validation_path, GPtrArray *classes)
{
  g_autoptr (GPtrArray) names = graft_dataset_image_folder_classes (validation_path, NULL);
  return names != NULL ? cli_missing_names (names, classes) : NULL;
}

/* Model and spec for a run; CLI_EXIT_OK or the exit status after the message.
 * base_spec (nullable): the spec a project remembers, taken instead of the preset when
 * neither --preset nor --spec is given. */
static int
session_load_model (GOptionContext *context, SessionOptions *o, const char *model_path, const char *base_spec,
                    Session *s)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftCatalogEntry) entry = NULL;
  GraftPreprocessing prep;
  GraftStrategy strategy;
  int status;

  if ((status = check_options (context, o, &strategy)) != CLI_EXIT_OK)
    return status;
  if (o->spec_path != NULL && !g_file_test (o->spec_path, G_FILE_TEST_EXISTS))
    return cli_fail_printf (_("%s: no such file"), o->spec_path);

  s->model = graft_model_load (model_path, &error);
  if (s->model == NULL)
    return cli_fail (error);
  /* A catalog model's file, looked up and verified once: its entry gives the
   * preprocessing (when the file has none), the cut and the checksum. */
  entry = cli_catalog_entry_for_file (model_path);
  if (entry != NULL)
    graft_catalog_entry_annotate_model (entry, s->model);
  if (!cli_model_preprocessing (s->model, model_path, &prep, NULL, &error))
    return cli_fail (error);

  if (o->spec_path != NULL)
    {
      if ((status = spec_from_file (context, o, strategy, s->model, &prep, &s->spec)) != CLI_EXIT_OK)
        return status;
    }
  else if (base_spec != NULL && o->preset == NULL)
    {
      s->spec = graft_session_spec_from_json (base_spec, &error);
      if (s->spec == NULL)
        return cli_fail_printf (_("the project's training settings: %s"), error->message);
    }
  else
    s->spec = preset_spec (strategy, s->model, &prep);
  /* A catalog model: the head goes where its entry says, unless a spec says otherwise. */
  if (s->spec->cut == NULL && entry != NULL)
    s->spec->cut = cli_catalog_cut (entry, s->model);

  {
    /* A verified catalog file's checksum is its entry's: no need to read it again. */
    g_autofree char *sha256 = entry != NULL ? g_strdup (entry->sha256) : graft_file_sha256 (model_path, &error);
    if (sha256 == NULL)
      return cli_fail (error);
    if (s->spec->model_sha256 != NULL && s->spec->model_sha256[0] != '\0'
        && g_ascii_strcasecmp (s->spec->model_sha256, sha256) != 0)
      fprintf (stderr, _("graft-cli: note: %s was made for another model file (%s); using it on %s\n"),
               o->spec_path != NULL ? o->spec_path : _("the project's training settings"),
               s->spec->model_path != NULL ? s->spec->model_path : _("its SHA-256 differs"), model_path);
    g_free (s->spec->model_path);
    s->spec->model_path = g_strdup (model_path);
    g_free (s->spec->model_sha256);
    s->spec->model_sha256 = g_steal_pointer (&sha256);
  }
  if (o->epochs != NOT_GIVEN)
    s->spec->epochs = o->epochs;
  if (o->batch != NOT_GIVEN)
    s->spec->batch_size = o->batch;
  if (o->seed >= 0)
    s->spec->seed = (guint64) o->seed;
  if (!isnan (o->lr) && s->spec->optimizer.learning_rate > 0)
    {
      /* Stage learning rates are relative to the base (fastai's second stage is base / 2). */
      float scale = (float) o->lr / s->spec->optimizer.learning_rate;
      for (int i = 0; i < s->spec->n_stages; i++)
        s->spec->stages[i].lr *= scale;
    }
  if (!isnan (o->lr))
    s->spec->optimizer.learning_rate = (float) o->lr;
  if (o->precision_text != NULL)
    s->spec->precision = o->precision;
  /* --preprocess, --size, --mean...: over a spec file's or the project's too. */
  if (cli_preprocessing_overridden ())
    s->spec->preprocessing = prep;
  if (!cli_check_preprocessing (s->model, model_path, &s->spec->preprocessing, &error))
    return o->spec_path != NULL ? cli_fail_printf ("%s: %s", o->spec_path, error->message) : cli_fail (error);
  if (s->spec->cut == NULL
      && !graft_session_spec_validate (s->spec, graft_session_spec_backbone_blocks (s->model), &error))
    return cli_fail_printf ("%s: %s", o->spec_path != NULL ? o->spec_path : _("the training session"), error->message);
  return CLI_EXIT_OK;
}

/* Model, spec and data (an ImageFolder tree) for a run; CLI_EXIT_OK or the exit status
 * after the message. */
static int
session_load (GOptionContext *context, SessionOptions *o, const char *model_path, const char *data_path,
              Session *s)
{
  g_autoptr (GraftDataset) all = NULL;
  int status;

  if ((status = session_load_model (context, o, model_path, NULL, s)) != CLI_EXIT_OK)
    return status;
  if ((status = cli_load_image_folder (data_path, NULL, &all)) != CLI_EXIT_OK)
    return status;
  if (all->classes->len < 2)
    return cli_fail_printf (_("%s: a classifier needs at least two class folders; found only '%s'"), data_path,
                            (const char *) g_ptr_array_index (all->classes, 0));
  if (o->validation_path != NULL)
    {
      g_autofree char *extra = extra_classes (o->validation_path, all->classes);
      if (extra != NULL)
        return cli_fail_printf (_("%s has class folders that %s lacks: %s"), o->validation_path, data_path, extra);
      if ((status = cli_load_image_folder (o->validation_path, all->classes, &s->validation)) != CLI_EXIT_OK)
        return status;
      s->train = g_steal_pointer (&all);
    }
  else
    {
      graft_dataset_split (all, s->spec->validation_fraction, s->spec->seed, &s->train, &s->validation);
      if (graft_dataset_size (s->validation) == 0)
        g_clear_pointer (&s->validation, graft_dataset_free);
      if (graft_dataset_size (s->train) == 0)
        return cli_fail_printf (_("%s: all %u images went to validation (validation_fraction %g); "
                                  "nothing is left to train on"), data_path, graft_dataset_size (all),
                                s->spec->validation_fraction);
    }
  if (o->cache_dir == NULL)
    s->cache_dir = g_build_filename (g_get_user_cache_dir (), "graft", "embeddings", NULL);
  else if (o->cache_dir[0] != '\0')
    s->cache_dir = g_strdup (o->cache_dir);
  return CLI_EXIT_OK;
}

static int project_datasets (GraftProject *project, const char *folder, Session *s);

static GraftTrainer *
session_trainer (Session *s, const SessionOptions *o, GError **error)
{
  GraftTrainer *trainer = graft_trainer_new (s->model, s->spec, s->train, s->validation, error);
  if (trainer == NULL)
    return NULL;
  graft_trainer_set_cache_folder (trainer, s->cache_dir);
  if (o->decode_threads != NOT_GIVEN)
    graft_trainer_set_decode_threads (trainer, o->decode_threads);
  if (o->cache_size != NOT_GIVEN)
    graft_trainer_set_cache_limit (trainer, (guint64) o->cache_size << 20);
  return trainer;
}

static void
add_session_entries (GOptionContext *context, SessionOptions *o)
{
  const GOptionEntry entries[] = {
    { "preset", 'p', 0, G_OPTION_ARG_STRING, &o->preset,
      N_("feature-extraction (default), replace-top, fine-tune, progressive-ulmfit or progressive-fastai"), "NAME" },
    { "spec", 0, 0, G_OPTION_ARG_FILENAME, &o->spec_path, N_("A training spec (JSON) over the preset"), "SPEC.json" },
    { "batch", 'b', 0, G_OPTION_ARG_STRING, &o->batch_text, N_("Images per batch (default: the spec's)"), "N" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &o->seed_text, N_("Seed of the split, the head and the shuffles"), "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o->threads, N_("Engine threads (default: one per CPU)"), "N" },
    { "decode-threads", 0, 0, G_OPTION_ARG_STRING, &o->decode_threads_text, N_("Image decoding threads (default 2)"),
      "N" },
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->cache_dir,
      N_("Where cached features live (default ~/.cache/graft/embeddings; \"\": memory only)"), "DIR" },
    { "cache-size", 0, 0, G_OPTION_ARG_STRING, &o->cache_size_text,
      N_("Most MiB the frozen layers' cached output may take (default 2048; 0: not cached)"), "MB" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &o->precision_text,
      N_("fp32 or bf16: convolutions in bf16 mixed precision, needs AVX512_BF16 or AMX (default: the spec's)"),
      "P" },
    { NULL },
  };
  g_option_context_add_main_entries (context, entries, NULL);
}

/* For graft-cli recipe (cli.h): the same options, the same loading, the same run. */
struct CliTrainSetup {
  SessionOptions options;
  Session session;
};

CliTrainSetup *
cli_train_setup_new (GOptionContext *context)
{
  CliTrainSetup *setup = g_new0 (CliTrainSetup, 1);
  SessionOptions *o = &setup->options;
  const GOptionEntry entries[] = {
    { "validation", 'v', 0, G_OPTION_ARG_FILENAME, &o->validation_path,
      N_("Validation images, an ImageFolder tree (default: hold out the spec's validation_fraction of DATA)"),
      "VALDATA" },
    { "epochs", 'e', 0, G_OPTION_ARG_STRING, &o->epochs_text, N_("Epochs (default: the spec's)"), "N" },
    { "lr", 0, 0, G_OPTION_ARG_STRING, &o->lr_text, N_("Base learning rate, above 0 (default: the spec's)"), "X" },
    { NULL },
  };
  session_options_init (o);
  g_option_context_add_main_entries (context, entries, NULL);
  add_session_entries (context, o);
  return setup;
}

void
cli_train_setup_free (CliTrainSetup *setup)
{
  if (setup == NULL)
    return;
  session_clear (&setup->session);
  session_options_clear (&setup->options);
  g_free (setup);
}

int
cli_train_setup_load_folder (CliTrainSetup *setup, GOptionContext *context, const char *model_path,
                             const char *data_path)
{
  return session_load (context, &setup->options, model_path, data_path, &setup->session);
}

int
cli_train_setup_load_project (CliTrainSetup *setup, GOptionContext *context, GraftProject *project,
                              const char *folder, const char *model_path, const char *base_spec)
{
  int status = session_load_model (context, &setup->options, model_path, base_spec, &setup->session);
  return status != CLI_EXIT_OK ? status : project_datasets (project, folder, &setup->session);
}

gboolean
cli_train_setup_changes_spec (const CliTrainSetup *setup)
{
  const SessionOptions *o = &setup->options;
  return o->preset != NULL || o->spec_path != NULL || o->epochs_text != NULL || o->batch_text != NULL
         || o->lr_text != NULL || o->seed_text != NULL || o->precision_text != NULL;
}

GraftTrainer *
cli_train_setup_trainer (CliTrainSetup *setup, GError **error)
{
  return session_trainer (&setup->session, &setup->options, error);
}

GraftSessionSpec *
cli_train_setup_get_spec (CliTrainSetup *setup)
{
  return setup->session.spec;
}

const GraftDataset *
cli_train_setup_get_dataset (CliTrainSetup *setup, gboolean validation)
{
  return validation ? setup->session.validation : setup->session.train;
}

/* ------------------------------------------------------------------------ */
/* Ctrl+C                                                                   */

/* The trainer's should_stop hook, between batches: a SIGINT or SIGTERM came
 * (cli-signals.c; its watchdog ends a run that does not stop in time). */
static gboolean
stop_requested (gpointer user_data)
{
  (void) user_data;
  return cli_signals_received () != 0;
}

/* ------------------------------------------------------------------------ */
/* train                                                                    */

typedef struct {
  gboolean json;
  gboolean terminal;     /* stdout is a terminal: the progress line */
  gboolean line_open;    /* the progress line is on screen */
  gint64 last_draw;
  int blocks;
  double loss_sum;       /* this epoch's step losses */
  int loss_count, loss_epoch;
  int epochs_completed, best_epoch;
  double last_validation_accuracy;
  GraftRunCurves *curves;  /* train DIR: the run's curves, stored in the project */
  GraftProject *project;   /* train DIR: the curves go in at every epoch's end (its checkpoint's) */
  gint64 run_id;
  guint points_stored;     /* of curves */
  gint64 part;             /* train DIR: this part of the run (a resumed run has several) */
  gint64 part_started;     /* monotonic */
} Progress;

/* The curves so far into the project, at an epoch's end: its checkpoint is written, so a
 * run killed later resumes with the curves that lead to it. */
static void
store_curves (Progress *p)
{
  g_autoptr (GError) error = NULL;
  GArray *points = graft_run_curves_get_points (p->curves);
  /* This part's time so far: a part killed later counts up to this epoch. */
  if (p->project != NULL && p->part != 0
      && !graft_project_update_run_part (p->project, p->part, graft_run_curves_get_epochs_done (p->curves),
                                         (g_get_monotonic_time () - p->part_started) / 1e6, &error))
    {
      fprintf (stderr, _("graft-cli: note: %s\n"), error->message);
      g_clear_error (&error);
    }
  if (p->project == NULL || points->len == p->points_stored)
    return;
  if (!graft_project_append_metrics (p->project, p->run_id,
                                     &g_array_index (points, GraftMetricPoint, p->points_stored),
                                     points->len - p->points_stored, &error))
    {
      fprintf (stderr, _("graft-cli: note: the curves are stored at the end: %s\n"), error->message);
      return;
    }
  p->points_stored = points->len;
}

static char *
format_duration (double seconds)
{
  gint64 s = isfinite (seconds) && seconds > 0 ? (gint64) (seconds + 0.5) : 0;
  if (s >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", s / 3600, (int) (s / 60 % 60), (int) (s % 60));
  return g_strdup_printf ("%d:%02d", (int) (s / 60), (int) (s % 60));
}

static void
close_line (Progress *p)
{
  if (p->line_open)
    {
      printf ("\r\033[K");
      p->line_open = FALSE;
    }
}


static JsonBuilder *
event_begin (const char *name)
{
  JsonBuilder *builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, name);
  return builder;
}

static void
event_end (JsonBuilder *builder)
{
  json_builder_end_object (builder);
  cli_print_json (builder, FALSE);
  g_object_unref (builder);
}

static void
member_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
member_number (JsonBuilder *builder, const char *name, double value)
{
  json_builder_set_member_name (builder, name);
  cli_json_add_number (builder, value);
}

/* The members of the "done" event that every run has: its validation figures, best
 * epoch, epochs completed, whether a signal interrupted it, and its duration. */
static void
add_run_outcome (JsonBuilder *builder, const Progress *p, const GraftMetrics *best, int interrupted_by,
                 gint64 started)
{
  member_number (builder, "validation_accuracy", best != NULL ? graft_metrics_accuracy (best) : NAN);
  member_number (builder, "validation_loss", best != NULL ? graft_metrics_loss (best) : NAN);
  json_builder_set_member_name (builder, "best_epoch");
  if (p->best_epoch > 0)
    json_builder_add_int_value (builder, p->best_epoch);
  else
    json_builder_add_null_value (builder);
  member_int (builder, "epochs_completed", p->epochs_completed);
  json_builder_set_member_name (builder, "interrupted");
  json_builder_add_boolean_value (builder, interrupted_by != 0);
  member_number (builder, "seconds", (g_get_monotonic_time () - started) / 1e6);
}

/* ": validation accuracy 93.1%, loss 0.2345 (epoch 4)", or "" for a run without
 * validation images. */
/* What the run (or LR sweep) did with the boundary cache: "used", "boundary", "reason",
 * "images_found", "images_computed", "hits". */
static void
add_boundary_cache (JsonBuilder *builder, GraftTrainer *trainer)
{
  GraftBoundaryCacheReport cache;

  graft_trainer_get_boundary_cache_report (trainer, &cache);
  json_builder_set_member_name (builder, "used");
  json_builder_add_boolean_value (builder, cache.used);
  json_builder_set_member_name (builder, "boundary");
  if (cache.boundary != NULL)
    cli_json_add_text (builder, cache.boundary);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "reason");
  if (cache.reason != NULL)
    cli_json_add_text (builder, cache.reason);
  else
    json_builder_add_null_value (builder);
  member_int (builder, "images_found", (gint64) cache.images_found);
  member_int (builder, "images_computed", (gint64) cache.images_computed);
  member_int (builder, "hits", (gint64) cache.hits);
}

static char *
format_run_figures (const Progress *p, const GraftMetrics *best)
{
  return best != NULL ? g_strdup_printf (_(": validation accuracy %.1f%%, loss %.4f (epoch %d)"),
                                         100 * graft_metrics_accuracy (best), graft_metrics_loss (best), p->best_epoch)
                      : g_strdup ("");
}

static void
say (Progress *p, const char *message)
{
  if (p->json)
    {
      JsonBuilder *builder = event_begin ("log");
      json_builder_set_member_name (builder, "message");
      cli_json_add_text (builder, message);
      event_end (builder);
      return;
    }
  close_line (p);
  printf ("%s\n", message);
  fflush (stdout);
}

static void G_GNUC_PRINTF (2, 3)
say_printf (Progress *p, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  say (p, message);
}

static void
on_step (const GraftStepEvent *event, gpointer user_data)
{
  Progress *p = user_data;
  gint64 now = g_get_monotonic_time ();

  if (p->loss_epoch != event->epoch)
    p->loss_sum = 0, p->loss_count = 0, p->loss_epoch = event->epoch;
  p->loss_sum += event->loss;
  p->loss_count++;
  if (p->curves != NULL)
    graft_run_curves_add_step (p->curves, event);
  if (p->json)
    {
      JsonBuilder *builder = event_begin ("step");
      member_int (builder, "epoch", event->epoch + 1);
      member_int (builder, "epochs", event->epochs);
      member_int (builder, "step", event->step + 1);
      member_int (builder, "steps", event->steps);
      member_int (builder, "stage", event->stage + 1);
      member_number (builder, "loss", event->loss);
      member_number (builder, "lr", event->lr);
      member_number (builder, "images_per_second", event->images_per_second);
      member_number (builder, "eta_seconds", event->eta_seconds);
      event_end (builder);
      return;
    }
  if (!p->terminal || (now - p->last_draw < 100000 && event->step + 1 < event->steps))
    return;
  {
    g_autofree char *eta = format_duration (event->eta_seconds);
    g_autofree char *validation = isnan (p->last_validation_accuracy)
                                    ? g_strdup ("")
                                    : g_strdup_printf (_("  val acc %.1f%%"), 100 * p->last_validation_accuracy);
    printf ("\r\033[K");
    /* Translators: the progress line drawn over itself while an epoch runs. */
    printf (_("epoch %d/%d  step %d/%d  loss %.4f%s  %.0f img/s  ETA %s"), event->epoch + 1, event->epochs,
            event->step + 1, event->steps, p->loss_sum / p->loss_count, validation, event->images_per_second, eta);
    fflush (stdout);
    p->line_open = TRUE;
    p->last_draw = now;
  }
}

static void
on_epoch (const GraftEpochEvent *event, gpointer user_data)
{
  Progress *p = user_data;

  p->epochs_completed = event->epoch + 1;
  if (event->best)
    p->best_epoch = event->epoch + 1;
  if (!isnan (event->validation_accuracy))
    p->last_validation_accuracy = event->validation_accuracy;
  if (p->curves != NULL)
    {
      graft_run_curves_add_epoch (p->curves, event);
      store_curves (p);
    }
  if (p->json)
    {
      JsonBuilder *builder = event_begin ("epoch");
      member_int (builder, "epoch", event->epoch + 1);
      member_int (builder, "epochs", event->epochs);
      member_int (builder, "stage", event->stage + 1);
      member_number (builder, "train_loss", event->train_loss);
      member_number (builder, "train_accuracy", event->train_accuracy);
      member_number (builder, "validation_loss", event->validation_loss);
      member_number (builder, "validation_accuracy", event->validation_accuracy);
      member_number (builder, "seconds", event->seconds);
      member_number (builder, "images_per_second", event->images_per_second);
      json_builder_set_member_name (builder, "best");
      json_builder_add_boolean_value (builder, event->best);
      event_end (builder);
      return;
    }
  close_line (p);
  {
    char digits[16];
    int width = snprintf (digits, sizeof digits, "%d", event->epochs);
    g_autofree char *validation = NULL;
    if (!isnan (event->validation_accuracy))
      validation = g_strdup_printf (_("  val loss %.4f  acc %5.1f%%%s"), event->validation_loss,
                                    100 * event->validation_accuracy, event->best ? _("  best") : "");
    printf (_("epoch %*d/%d  train loss %.4f  acc %5.1f%%%s  (%.1f s, %.0f img/s)\n"), width, event->epoch + 1,
            event->epochs, event->train_loss, 100 * event->train_accuracy, validation != NULL ? validation : "",
            event->seconds, event->images_per_second);
  }
  fflush (stdout);
}

/* Blocks first..last (from 0) as a person counts them: "block 3", "blocks 1-2". */
static const char *
block_range (int first, int last, char *buffer, gsize size)
{
  if (first == last)
    g_snprintf (buffer, size, _("block %d"), first + 1);
  else
    g_snprintf (buffer, size, _("blocks %d-%d"), first + 1, last + 1);
  return buffer;
}

static void
on_stage (int stage, int epoch, int trainable_from, gpointer user_data)
{
  Progress *p = user_data;
  char range[64];
  if (p->json)
    {
      JsonBuilder *builder = event_begin ("stage");
      member_int (builder, "stage", stage + 1);
      member_int (builder, "epoch", epoch + 1);
      member_int (builder, "trainable_from", trainable_from);
      member_int (builder, "blocks", p->blocks);
      event_end (builder);
      return;
    }
  if (trainable_from >= p->blocks)
    say_printf (p, _("Stage %d from epoch %d: training the head; %s frozen"), stage + 1, epoch + 1,
                block_range (0, p->blocks - 1, range, sizeof range));
  else if (trainable_from <= 0)
    say_printf (p, _("Stage %d from epoch %d: training the head and %s"), stage + 1, epoch + 1,
                block_range (0, p->blocks - 1, range, sizeof range));
  else
    {
      char frozen[64];
      say_printf (p, _("Stage %d from epoch %d: training the head and %s; %s frozen"), stage + 1, epoch + 1,
                  block_range (trainable_from, p->blocks - 1, range, sizeof range),
                  block_range (0, trainable_from - 1, frozen, sizeof frozen));
    }
}

static void
on_log (const char *message, gpointer user_data)
{
  say (user_data, message);
}

/* Prints the failure (and the error event with --json); returns status. */
static int
train_failed (Progress *p, int status, const char *format, ...) G_GNUC_PRINTF (3, 4);

static int
train_failed (Progress *p, int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  close_line (p);
  fflush (stdout);
  fprintf (stderr, _("graft-cli: %s\n"), message);
  if (p->json)
    {
      JsonBuilder *builder = event_begin ("error");
      json_builder_set_member_name (builder, "message");
      cli_json_add_text (builder, message);
      member_int (builder, "exit_status", status);
      event_end (builder);
    }
  return status;
}

/* ------------------------------------------------------------------------ */
/* train DIR: a project's labels and splits, the run stored in the project   */

typedef struct {
  const char *folder;
  const char *model_path;       /* --model, or NULL: the project's */
  const char *output_path;      /* --output (a copy of the trained model), or NULL */
  const char *save_spec_path;
  gboolean json, softmax;
  gboolean resume;              /* --resume: continue a run from its checkpoint */
  const char *resume_run_text;  /* --run N, or NULL: the newest resumable run */
} ProjectRunOptions;

/* The project's train and validation splits, as the app builds them (graft_project_dataset
 * assigns the splits of new labels first). */
static int
project_datasets (GraftProject *project, const char *folder, Session *s)
{
  g_autoptr (GError) error = NULL;
  guint classes_with_images = 0;

  s->train = graft_project_dataset (project, GRAFT_SPLIT_TRAIN, &error);
  if (s->train == NULL)
    return cli_fail_printf ("%s: %s", folder, error->message);
  s->validation = graft_project_dataset (project, GRAFT_SPLIT_VALIDATION, &error);
  if (s->validation == NULL)
    return cli_fail_printf ("%s: %s", folder, error->message);
  if (graft_dataset_size (s->validation) == 0)
    g_clear_pointer (&s->validation, graft_dataset_free);
  {
    g_autofree guint *counts = graft_dataset_class_counts (s->train);
    for (guint c = 0; c < s->train->classes->len; c++)
      classes_with_images += counts[c] > 0;
  }
  if (graft_dataset_size (s->train) == 0)
    return cli_fail_printf (_("%s: no labelled images to train on (label some, or import a labelled tree)"), folder);
  if (classes_with_images < 2)
    return cli_fail_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "%s: a classifier needs labelled images of at least two classes; "
                                         "%u class has them",
                                         "%s: a classifier needs labelled images of at least two classes; "
                                         "%u classes have them",
                                         classes_with_images),
                            folder, classes_with_images);
  return CLI_EXIT_OK;
}

/* What the run left, stored as the app stores its runs (run-record.h). */
static gboolean
store_project_run (GraftProject *project, gint64 run_id, GraftRunStatus status, Session *s, Progress *p,
                   GraftTrainer *trainer, GBytes *model, double seconds, GError **error)
{
  GArray *points = graft_run_curves_get_points (p->curves);
  GraftRunRecord record = {
    .status = status,
    .classes = s->train->classes,
    .epochs = s->spec->epochs,
    .epochs_done = graft_run_curves_get_epochs_done (p->curves),
    .seconds = seconds,
    .validation_metrics = trainer != NULL && model != NULL ? graft_trainer_get_validation_metrics (trainer) : NULL,
    .validation = s->validation,
    .model = model,
    .part = p->part,
    /* Those store_curves has not stored yet. */
    .points = &g_array_index (points, GraftMetricPoint, p->points_stored),
    .n_points = points->len - p->points_stored,
  };
  return graft_project_store_run (project, run_id, &record, error);
}

static int
train_project (GOptionContext *context, SessionOptions *o, const ProjectRunOptions *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GraftRunLock) run_lock = NULL;  /* held until the run is stored */
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GraftRunCurves) curves = graft_run_curves_new ();
  g_autoptr (GBytes) model_bytes = NULL;
  g_autofree char *base_spec = NULL, *model_path = NULL, *spec_json = NULL, *run_file = NULL;
  Session s = { 0 };
  Progress p = { .last_validation_accuracy = NAN, .loss_epoch = -1, .json = r->json, .curves = curves };
  GraftTrainerHooks hooks = { on_step, on_epoch, on_stage, on_log, stop_requested, &p };
  const GraftMetrics *best;
  gint64 started, run_id, resume_id = 0;
  guint predicted = 0;
  gboolean ok;
  int status, interrupted_by, resume_epochs_done = 0;

  project = graft_project_open (r->folder, &error);
  if (project == NULL)
    return cli_fail (error);
  if (graft_project_is_read_only (project))
    return cli_fail_printf (_("%s: the project is read-only (%s): the run could not be stored"),
                            graft_project_get_db_path (project), graft_project_read_only_reason (project));
  if (r->resume)
    {
      GraftRun run = { 0 };
      g_autoptr (GraftSessionSpec) run_spec = NULL;
      if (r->model_path != NULL || o->preset != NULL || o->spec_path != NULL || o->epochs_text != NULL
          || o->batch_text != NULL || o->lr_text != NULL || o->seed_text != NULL || r->save_spec_path != NULL)
        return cli_usage_error (context, "%s", _("--resume continues a run with its own model and settings: "
                                                 "--model, --preset, --spec, --epochs, --batch, --lr, --seed and "
                                                 "--save-spec cannot change them"));
      if (o->precision_text != NULL)
        return cli_usage_error (context, "%s", _("--resume continues a run with its own precision: drop --precision"));
      if (r->resume_run_text != NULL)
        {
          char *end = NULL;
          errno = 0;
          resume_id = g_ascii_strtoll (r->resume_run_text, &end, 10);
          if (errno != 0 || end == r->resume_run_text || *end != '\0' || resume_id <= 0)
            return cli_usage_error (context, _("--run %s is not a run number"), r->resume_run_text);
        }
      else if ((resume_id = graft_run_find_resumable (project, &error)) == 0)
        return error != NULL ? cli_fail (error)
                             : cli_fail_printf (_("%s: no run can be resumed (none was stopped after an epoch "
                                                  "with its checkpoint; 'graft-cli runs %s' lists them)"),
                                                r->folder, r->folder);
      /* Held until the run is stored: a run another process still trains is left alone. */
      if ((run_lock = graft_run_lock (project, resume_id, &error)) == NULL)
        return cli_fail (error);
      if (!graft_project_get_run (project, resume_id, &run, &error)
          || !graft_run_is_resumable (project, &run, &resume_epochs_done, NULL, &error))
        {
          graft_run_clear (&run);
          return cli_fail_printf ("%s: %s", r->folder, error->message);
        }
      base_spec = g_steal_pointer (&run.spec_json);
      graft_run_clear (&run);
      run_spec = base_spec != NULL ? graft_session_spec_from_json (base_spec, &error) : NULL;
      if (run_spec == NULL || run_spec->model_path == NULL || run_spec->model_path[0] == '\0')
        return cli_fail_printf (_("%s: run %lld does not say which model it trained"), r->folder,
                                (long long) resume_id);
      model_path = g_strdup (run_spec->model_path);
    }
  else
    base_spec = graft_project_get_session_spec (project);
  if (model_path != NULL)
    ;
  else if (r->model_path != NULL)
    model_path = g_strdup (r->model_path);
  else if (base_spec != NULL)
    {
      g_autoptr (GraftSessionSpec) remembered = graft_session_spec_from_json (base_spec, NULL);
      if (remembered != NULL && remembered->model_path != NULL && remembered->model_path[0] != '\0')
        model_path = g_strdup (remembered->model_path);
    }
  if (model_path == NULL)
    return cli_usage_error (context, _("which model? %s remembers none (give --model MODEL.onnx)"), r->folder);
  if (r->output_path != NULL && !cli_check_output_location (r->output_path, 0, &error))
    return cli_fail (error);
  /* The project's settings go with the model they were made for; another model starts
   * from the preset. */
  if ((status = session_load_model (context, o, model_path, r->model_path == NULL ? base_spec : NULL, &s))
        != CLI_EXIT_OK
      || (status = project_datasets (project, r->folder, &s)) != CLI_EXIT_OK)
    goto out;
  if (o->cache_dir == NULL)
    s.cache_dir = g_strdup (graft_project_get_cache_folder (project));
  else if (o->cache_dir[0] != '\0')
    s.cache_dir = g_strdup (o->cache_dir);

  p.terminal = !r->json && isatty (STDOUT_FILENO);
  trainer = session_trainer (&s, o, &error);
  if (trainer == NULL)
    {
      status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  p.blocks = (int) graft_trainer_get_model (trainer)->blocks->len - 1;
  graft_trainer_set_hooks (trainer, &hooks);
  spec_json = graft_session_spec_to_json (s.spec);
  if (r->save_spec_path != NULL)
    {
      g_autofree char *text = g_strconcat (spec_json, "\n", NULL);
      if (!g_file_set_contents (r->save_spec_path, text, -1, &error))
        {
          status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
    }
  if (resume_id != 0)
    {
      /* The same run goes on: its curves past the checkpoint (a part of an epoch) go. */
      g_autofree char *checkpoint = graft_run_checkpoint_file (project, resume_id);
      run_id = resume_id;
      if (!graft_trainer_resume_from_file (trainer, checkpoint, &error)
          || !graft_project_trim_metrics (project, run_id, (gint64) resume_epochs_done * GRAFT_RUN_STEPS_PER_EPOCH,
                                          &error)
          || !graft_project_set_run_status (project, run_id, GRAFT_RUN_RUNNING, &error))
        {
          status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
      graft_run_curves_set_epochs_done (curves, resume_epochs_done);
    }
  else
    {
      run_id = graft_project_add_run (project, NULL, spec_json, &error);
      if (run_id == 0 || (run_lock = graft_run_lock (project, run_id, &error)) == NULL
          || !graft_project_set_run_status (project, run_id, GRAFT_RUN_RUNNING, &error))
        {
          status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
    }
  {
    g_autofree char *checkpoint = graft_run_checkpoint_file (project, run_id);
    graft_trainer_set_checkpoint_file (trainer, checkpoint);
  }
  p.project = project;
  p.run_id = run_id;
  if ((p.part = graft_project_begin_run_part (project, run_id, resume_epochs_done, &error)) == 0)
    {
      status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  /* A project that remembers no settings takes this run's, so that the app opens it
   * with this model. */
  if (base_spec == NULL && !graft_project_set_session_spec (project, spec_json, &error))
    {
      fprintf (stderr, _("graft-cli: note: %s\n"), error->message);
      g_clear_error (&error);
    }
  if (!r->json)
    {
      printf (g_dngettext (GETTEXT_PACKAGE, "Project %s: %u training image of %u classes",
                           "Project %s: %u training images of %u classes", graft_dataset_size (s.train)),
              r->folder, graft_dataset_size (s.train), s.train->classes->len);
      if (s.validation != NULL)
        printf (g_dngettext (GETTEXT_PACKAGE, "; %u validation image", "; %u validation images",
                             graft_dataset_size (s.validation)),
                graft_dataset_size (s.validation));
      else
        printf (_("; no validation images"));
      if (resume_id != 0)
        printf (_("; run %lld resumed after epoch %d of %d\n"), (long long) run_id, resume_epochs_done,
                s.spec->epochs);
      else
        printf (_("; run %lld\n"), (long long) run_id);
      fflush (stdout);
    }

  p.part_started = started = g_get_monotonic_time ();
  cli_signals_catch ();
  ok = graft_trainer_run (trainer, &error);
  interrupted_by = cli_signals_received ();
  if (!ok)
    {
      g_autoptr (GError) store_error = NULL;
      cli_signals_release ();
      /* The run stays in the project, as failed (or stopped before it began). */
      if (!store_project_run (project, run_id,
                              g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CANCELLED) ? GRAFT_RUN_STOPPED
                                                                                                     : GRAFT_RUN_FAILED,
                              &s, &p, NULL, NULL, (g_get_monotonic_time () - started) / 1e6, &store_error))
        fprintf (stderr, _("graft-cli: %s\n"), store_error->message);
      if (g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DIVERGED))
        status = train_failed (&p, CLI_EXIT_DIVERGED, _("%s Run %lld is stored as failed; try a lower "
                                 "--lr ('graft-cli lr-find' suggests one)."), error->message, (long long) run_id);
      else if (g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CANCELLED))
        status = train_failed (&p, 128 + (interrupted_by != 0 ? interrupted_by : SIGINT),
                               _("Interrupted before training began; run %lld is stored as stopped."),
                               (long long) run_id);
      else
        status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }

  /* Stored, still catching Ctrl+C (the first one); a second one quits at once. */
  graft_trainer_describe_model (trainer);
  model_bytes = graft_model_save_to_bytes (graft_trainer_get_model (trainer), NULL, &error);
  ok = model_bytes != NULL
       && store_project_run (project, run_id, interrupted_by != 0 ? GRAFT_RUN_STOPPED : GRAFT_RUN_FINISHED, &s, &p,
                             trainer, model_bytes, (g_get_monotonic_time () - started) / 1e6, &error);
  if (ok && r->output_path != NULL)
    {
      GraftExportOptions export_options = { .softmax_output = r->softmax };
      ok = graft_model_save (graft_trainer_get_model (trainer), r->output_path, &export_options, &error);
    }
  cli_signals_release ();
  if (!ok)
    {
      status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  /* Suggestions: the trained model's predictions and embeddings of the project's
   * images, as the app stores them after a run. A failure loses nothing of the run. */
  if (!graft_active_project_predict (project, run_id, graft_trainer_get_model (trainer), s.train->classes,
                                     &s.spec->preprocessing, NULL, &predicted, &error))
    {
      say_printf (&p, _("No suggestions stored: %s"), error->message);
      g_clear_error (&error);
    }
  run_file = graft_project_run_model_file (project, run_id);
  best = graft_trainer_get_validation_metrics (trainer);
  status = interrupted_by != 0 ? 128 + interrupted_by : CLI_EXIT_OK;
  if (r->json)
    {
      JsonBuilder *builder = event_begin ("done");
      member_int (builder, "run", run_id);
      cli_json_set_file_name (builder, "project", r->folder);
      cli_json_set_file_name (builder, "model", run_file);
      if (r->output_path != NULL)
        cli_json_set_file_name (builder, "output", r->output_path);
      member_int (builder, "predictions", predicted);
      add_run_outcome (builder, &p, best, interrupted_by, started);
      event_end (builder);
    }
  else
    {
      g_autofree char *took = format_duration ((g_get_monotonic_time () - started) / 1e6);
      g_autofree char *figures = format_run_figures (&p, best);
      close_line (&p);
      if (interrupted_by != 0)
        printf (g_dngettext (GETTEXT_PACKAGE, "Interrupted: stored run %lld (%s)%s, in %s; %u image given a suggestion\n",
                             "Interrupted: stored run %lld (%s)%s, in %s; %u images given a suggestion\n", predicted),
                (long long) run_id, run_file, figures, took, predicted);
      else
        printf (g_dngettext (GETTEXT_PACKAGE, "Stored run %lld (%s)%s, in %s; %u image given a suggestion\n",
                             "Stored run %lld (%s)%s, in %s; %u images given a suggestion\n", predicted),
                (long long) run_id, run_file, figures, took, predicted);
      fflush (stdout);
    }
  if (interrupted_by != 0)
    fprintf (stderr, _("graft-cli: interrupted; run %lld was stored as stopped\n"), (long long) run_id);

out:
  session_clear (&s);
  return status;
}

int
cli_train (int argc, char **argv)
{
  SessionOptions o;
  g_autofree char *output_path = NULL, *save_spec_path = NULL, *model_option = NULL;
  g_autofree char *resume_run_text = NULL;
  gboolean json = FALSE, softmax = FALSE, resume = FALSE;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_path,
      N_("Where to write the trained model (with a project: a copy of the one stored in it)"), "OUT.onnx" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_option,
      N_("With a project: the pretrained model (default: the one the project remembers)"), "MODEL.onnx" },
    { "validation", 'v', 0, G_OPTION_ARG_FILENAME, &o.validation_path,
      N_("Validation images, an ImageFolder tree (default: hold out the spec's validation_fraction of DATA)"),
      "VALDATA" },
    { "epochs", 'e', 0, G_OPTION_ARG_STRING, &o.epochs_text, N_("Epochs (default: the spec's)"), "N" },
    { "lr", 0, 0, G_OPTION_ARG_STRING, &o.lr_text, N_("Base learning rate, above 0 (default: the spec's)"), "X" },
    { "softmax", 0, 0, G_OPTION_ARG_NONE, &softmax, N_("Make the saved model output probabilities"), NULL },
    { "save-spec", 0, 0, G_OPTION_ARG_FILENAME, &save_spec_path, N_("Write the run's spec (JSON) here"), "SPEC.json" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON events, one per line"), NULL },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &resume,
      N_("With a project: continue a stopped, closed or killed run from its last checkpoint (the newest such run, "
      "or --run N), with its own settings"), NULL },
    { "run", 0, 0, G_OPTION_ARG_STRING, &resume_run_text, N_("With --resume: the run to continue"), "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  GraftExportOptions export_options = { 0 };
  Session s = { 0 };
  Progress p = { .last_validation_accuracy = NAN, .loss_epoch = -1 };
  GraftTrainerHooks hooks = { on_step, on_epoch, on_stage, on_log, stop_requested, &p };
  const GraftMetrics *best;
  gint64 started;
  gboolean ok;
  int status, interrupted_by;

  session_options_init (&o);
  context = cli_option_context_new ("train", "MODEL.onnx DATA | PROJECT",
                                    N_("Trains a new head (and, as the preset or spec says, more of the model) on an "
                                       "ImageFolder tree, and saves the trained model. Given a project folder instead, "
                                       "trains on its labels and splits with the model and settings it remembers (or "
                                       "--model, --preset, --spec), and stores the run in it (graft-cli runs lists "
                                       "them): the model as runs/ID.onnx, curves, metrics, and its predictions of the "
                                       "project's images (the suggestions)."),
                                    entries);
  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  add_session_entries (context, &o);
  if (!cli_parse (context, &argc, &argv))
    {
      session_options_clear (&o);
      return CLI_EXIT_USAGE;
    }
  if (argc == 2 && graft_project_folder_has_project (argv[1]))
    {
      ProjectRunOptions r = { argv[1], model_option, output_path, save_spec_path, json, softmax, resume,
                              resume_run_text };
      status = train_project (context, &o, &r);
      goto out;
    }
  if (model_option != NULL)
    status = cli_usage_error (context, "%s", _("--model is for a project folder (give MODEL.onnx DATA, or PROJECT)"));
  else if (resume || resume_run_text != NULL)
    status = cli_usage_error (context, "%s", _("--resume and --run are for a project folder (give PROJECT)"));
  else if (argc != 3)
    status = cli_usage_error (context, "%s", argc < 2   ? _("which model? (give MODEL.onnx DATA)")
                                             : argc < 3 ? _("which images? (give MODEL.onnx DATA)")
                                                        : _("one model and one image folder"));
  else if (output_path == NULL)
    status = cli_usage_error (context, "%s", _("where to? (give --output OUT.onnx)"));
  else
    {
      /* Found now, not after the last epoch: the trained model is about the size of the
       * one it starts from. */
      GStatBuf model_stat;
      gint64 needed = g_stat (argv[1], &model_stat) == 0 ? (gint64) model_stat.st_size : 0;
      if (!cli_check_output_location (output_path, needed, &error))
        status = cli_fail (error);
      else
        status = session_load (context, &o, argv[1], argv[2], &s);
    }
  if (status != CLI_EXIT_OK)
    goto out;

  p.json = json;
  p.terminal = !json && isatty (STDOUT_FILENO);
  trainer = session_trainer (&s, &o, &error);
  if (trainer == NULL)
    {
      status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  p.blocks = (int) graft_trainer_get_model (trainer)->blocks->len - 1;
  graft_trainer_set_hooks (trainer, &hooks);
  if (save_spec_path != NULL)
    {
      g_autofree char *spec_json = graft_session_spec_to_json (s.spec);
      g_autofree char *text = g_strconcat (spec_json, "\n", NULL);
      if (!g_file_set_contents (save_spec_path, text, -1, &error))
        {
          status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
    }
  if (!json)
    {
      printf (g_dngettext (GETTEXT_PACKAGE, "Data: %u training image of %u classes from %s",
                           "Data: %u training images of %u classes from %s", graft_dataset_size (s.train)),
              graft_dataset_size (s.train), s.train->classes->len, argv[2]);
      if (s.validation != NULL)
        printf (g_dngettext (GETTEXT_PACKAGE, "; %u validation image from %s", "; %u validation images from %s",
                             graft_dataset_size (s.validation)),
                graft_dataset_size (s.validation),
                o.validation_path != NULL ? o.validation_path : _("the same folder"));
      else
        printf (_("; no validation images"));
      printf ("\n");
      fflush (stdout);
    }

  started = g_get_monotonic_time ();
  cli_signals_catch ();
  ok = graft_trainer_run (trainer, &error);
  interrupted_by = cli_signals_received ();
  if (!ok)
    {
      cli_signals_release ();
      if (g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DIVERGED))
        status = train_failed (&p, CLI_EXIT_DIVERGED, _("%s Nothing was saved; try a lower --lr "
                                                        "('graft-cli lr-find' suggests one)."), error->message);
      else if (g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CANCELLED))
        status = train_failed (&p, 128 + (interrupted_by != 0 ? interrupted_by : SIGINT),
                               "%s", _("Interrupted before training began; nothing was saved."));
      else
        status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }

  /* Save, still catching Ctrl+C (the first one); a second one quits at once. */
  graft_trainer_describe_model (trainer);
  export_options.softmax_output = softmax;
  ok = graft_model_save (graft_trainer_get_model (trainer), output_path, &export_options, &error);
  cli_signals_release ();
  if (!ok)
    {
      status = train_failed (&p, CLI_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  best = graft_trainer_get_validation_metrics (trainer);
  status = interrupted_by != 0 ? 128 + interrupted_by : CLI_EXIT_OK;
  if (json)
    {
      JsonBuilder *builder = event_begin ("boundary_cache");
      add_boundary_cache (builder, trainer);
      event_end (builder);
      builder = event_begin ("done");
      cli_json_set_file_name (builder, "output", output_path);
      add_run_outcome (builder, &p, best, interrupted_by, started);
      event_end (builder);
    }
  else
    {
      g_autofree char *took = format_duration ((g_get_monotonic_time () - started) / 1e6);
      g_autofree char *figures = format_run_figures (&p, best);
      close_line (&p);
      if (interrupted_by == 0)
        printf (_("Saved %s%s, in %s\n"), output_path, figures, took);
      else if (p.epochs_completed > 0)
        printf (best != NULL ? _("Interrupted after %d of %d epochs: saved the best weights so far to %s%s\n")
                             : _("Interrupted after %d of %d epochs: saved the last weights so far to %s%s\n"),
                p.epochs_completed, s.spec->epochs, output_path, figures);
      else
        printf (_("Interrupted during the first epoch: saved the weights so far (not validated) to %s\n"),
                output_path);
      fflush (stdout);
    }
  if (interrupted_by != 0)
    fprintf (stderr, _("graft-cli: interrupted; %s was saved\n"), output_path);

out:
  session_clear (&s);
  session_options_clear (&o);
  return status;
}

/* ------------------------------------------------------------------------ */
/* lr-find                                                                  */

static void
log_to_stderr (const char *message, gpointer user_data)
{
  (void) user_data;
  fprintf (stderr, "%s\n", message);
}

int
cli_lr_find (int argc, char **argv)
{
  SessionOptions o;
  double start = 1e-6, end = 10;
  g_autofree char *start_text = NULL, *end_text = NULL;
  int steps = 100;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "start", 0, 0, G_OPTION_ARG_STRING, &start_text, N_("Lowest learning rate tried (default 1e-6)"), "X" },
    { "end", 0, 0, G_OPTION_ARG_STRING, &end_text, N_("Highest learning rate tried (default 10)"), "X" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("Batches in the sweep, at most (default 100)"), "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) lrs = NULL;
  g_autoptr (GArray) losses = NULL;
  GraftTrainerHooks hooks = { NULL, NULL, NULL, log_to_stderr, stop_requested, NULL };
  Session s = { 0 };
  float suggestion = 0;
  gboolean ok;
  int status, interrupted_by;

  session_options_init (&o);
  context = cli_option_context_new ("lr-find", "MODEL.onnx DATA",
                                    N_("Sweeps the learning rate up exponentially over a few batches, prints the loss "
                                       "at each rate and suggests one (a tenth of the rate with the lowest loss)."),
                                    entries);
  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  add_session_entries (context, &o);
  if (!cli_parse (context, &argc, &argv))
    {
      session_options_clear (&o);
      return CLI_EXIT_USAGE;
    }
  status = CLI_EXIT_OK;
  if (start_text != NULL)
    status = cli_option_double (context, "--start", start_text, 0, 1e30, &start);
  if (status == CLI_EXIT_OK && end_text != NULL)
    status = cli_option_double (context, "--end", end_text, 0, 1e30, &end);
  if (status == CLI_EXIT_OK)
    {
      if (argc != 3)
        status = cli_usage_error (context, "%s", argc < 2   ? _("which model? (give MODEL.onnx DATA)")
                                                 : argc < 3 ? _("which images? (give MODEL.onnx DATA)")
                                                            : _("one model and one image folder"));
      else if (!(end > start))
        status = cli_usage_error (context, _("--start %g and --end %g: the sweep needs start < end"), start, end);
      else if (steps < 2 || steps > 100000)
        status = cli_usage_error (context, _("--steps %d is not between 2 and 100000"), steps);
      else
        status = session_load (context, &o, argv[1], argv[2], &s);
    }
  if (status != CLI_EXIT_OK)
    goto out;

  trainer = session_trainer (&s, &o, &error);
  if (trainer == NULL)
    {
      status = cli_fail (error);
      goto out;
    }
  graft_trainer_set_hooks (trainer, &hooks);
  cli_signals_catch ();
  ok = graft_trainer_find_lr (trainer, (float) start, (float) end, steps, &lrs, &losses, &suggestion, &error);
  cli_signals_release ();
  if (!ok)
    {
      status = g_error_matches (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CANCELLED)
                 ? (fprintf (stderr, _("graft-cli: interrupted\n")),
                    128 + (cli_signals_received () != 0 ? cli_signals_received () : SIGINT))
                 : cli_fail (error);
      goto out;
    }
  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "model", argv[1]);
      cli_json_set_file_name (builder, "data", argv[2]);
      json_builder_set_member_name (builder, "strategy");
      json_builder_add_string_value (builder, graft_strategy_to_string (s.spec->strategy));
      json_builder_set_member_name (builder, "lrs");
      json_builder_begin_array (builder);
      for (guint i = 0; i < lrs->len; i++)
        cli_json_add_number (builder, g_array_index (lrs, float, i));
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "losses");
      json_builder_begin_array (builder);
      for (guint i = 0; i < losses->len; i++)
        cli_json_add_number (builder, g_array_index (losses, float, i));
      json_builder_end_array (builder);
      member_number (builder, "suggestion", suggestion);
      /* The sweep trains from the boundary as the run would (its activations cached). */
      json_builder_set_member_name (builder, "boundary_cache");
      json_builder_begin_object (builder);
      add_boundary_cache (builder, trainer);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      cli_print_json (builder, TRUE);
    }
  else
    {
      printf ("# lr          loss\n");
      for (guint i = 0; i < lrs->len; i++)
        printf ("%-12.4e  %.6f\n", g_array_index (lrs, float, i), g_array_index (losses, float, i));
      /* Translators: after the table of rates and losses; keep the leading "# ". */
      printf (_("# suggested learning rate: %.3g\n"), suggestion);
    }
  interrupted_by = cli_signals_received ();
  status = interrupted_by != 0 ? 128 + interrupted_by : CLI_EXIT_OK;
  if (interrupted_by != 0)
    fprintf (stderr, _("graft-cli: interrupted; the sweep above is partial\n"));

out:
  session_clear (&s);
  session_options_clear (&o);
  return status;
}
