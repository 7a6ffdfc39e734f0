/* cli.h: the commands of graft-cli and what they share.
 *
 * Each command is a function taking the arguments after "graft-cli" (argv[0] is the
 * command's name) and returning the exit status: 0 on success, 1 when the work
 * failed (the message is on stderr), 2 on a usage error; train adds 3 (the loss
 * diverged) and 130 (interrupted by Ctrl+C, after saving); eval and predict add 4 (done,
 * but some images could not be read: they are listed).
 */
#pragma once

/* GETTEXT_PACKAGE and _(): every command's messages and --help are translated. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "catalog/catalog.h"
#include "data/preprocess.h"
#include "model/model.h"
#include "project/project.h"
#include "train/dataset.h"
#include "train/trainer.h"

G_BEGIN_DECLS

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_DIVERGED 3
#define CLI_EXIT_SKIPPED 4        /* eval, predict: the output covers only the images that could be read */
#define CLI_EXIT_INTERRUPTED 130  /* 128 + SIGINT */

int cli_inspect (int argc, char **argv);
int cli_infer (int argc, char **argv);
int cli_bench (int argc, char **argv);
int cli_train (int argc, char **argv);
int cli_lr_find (int argc, char **argv);
int cli_eval (int argc, char **argv);
int cli_predict (int argc, char **argv);
int cli_export (int argc, char **argv);
int cli_models (int argc, char **argv);
int cli_project (int argc, char **argv);   /* cli-project.c */
int cli_runs (int argc, char **argv);
int cli_recipe (int argc, char **argv);      /* cli-recipe.c */
int cli_runs_import (int argc, char **argv); /* cli-recipe.c: graft-cli runs import PROJECT DIR */

/* The run graft-cli train would make (cli-train.c), for graft-cli recipe: new adds
 * train's options that decide a run to context (--validation, --epochs, --lr, --preset,
 * --spec, --batch, --seed, --threads, ...); the loads give the model, spec and datasets
 * as train makes them, from MODEL.onnx DATA or from a project's splits (model_path and
 * base_spec, the settings it remembers or a stored run's spec, as train PROJECT takes
 * them): CLI_EXIT_OK, or the exit status after the message. */
typedef struct CliTrainSetup CliTrainSetup;
CliTrainSetup *cli_train_setup_new (GOptionContext *context);
void cli_train_setup_free (CliTrainSetup *setup);
int cli_train_setup_load_folder (CliTrainSetup *setup, GOptionContext *context, const char *model_path,
                                 const char *data_path);
int cli_train_setup_load_project (CliTrainSetup *setup, GOptionContext *context, GraftProject *project,
                                  const char *folder, const char *model_path, const char *base_spec);
/* Whether an option that changes the spec (--preset, --spec, --epochs, --batch, --lr, --seed) was given. */
gboolean cli_train_setup_changes_spec (const CliTrainSetup *setup);
/* The trainer train would run (the head grafted, not trained yet). */
GraftTrainer *cli_train_setup_trainer (CliTrainSetup *setup, GError **error);
GraftSessionSpec *cli_train_setup_get_spec (CliTrainSetup *setup);
const GraftDataset *cli_train_setup_get_dataset (CliTrainSetup *setup, gboolean validation);

/* Ctrl+C and SIGTERM (cli-signals.c): the first one is taken, and the process ends
 * CLI_WATCHDOG_MS later whatever it is doing; a second one ends it at once. */
#define CLI_WATCHDOG_MS 700
/* Catches SIGINT and SIGTERM until cli_signals_release: cli_signals_received then says
 * which came first (0: none), for a should_stop hook to poll. */
void cli_signals_catch (void);
void cli_signals_release (void);
int cli_signals_received (void);
/* For a command that takes the signals through its main loop (g_unix_signal_add):
 * prepare the watchdog before, arm it when the signal comes. */
void cli_signals_prepare_watchdog (void);
void cli_signals_arm_watchdog (int signal_number);

/* A GOptionContext for a command: "Usage: graft-cli COMMAND [OPTION…] parameters". */
GOptionContext *cli_option_context_new (const char *command, const char *parameters, const char *summary,
                                        const GOptionEntry *entries);
/* Parses argv; FALSE after printing a usage error (exit with CLI_EXIT_USAGE). */
gboolean cli_parse (GOptionContext *context, int *argc, char ***argv);
/* Prints "graft-cli COMMAND: message" and the command's usage line to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error (GOptionContext *context, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Prints "graft-cli: message" to stderr; returns CLI_EXIT_FAILURE. */
int cli_fail (const GError *error);
int cli_fail_printf (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* A number option given as text (G_OPTION_ARG_STRING, NULL when not given: no value
 * doubles as "not given"). *value gets it when it is a finite number with
 * above < value <= at_most; else a usage error naming the option ("--lr nan is not a
 * number") and CLI_EXIT_USAGE. GOption's own G_OPTION_ARG_DOUBLE takes "nan" and "inf". */
int cli_option_double (GOptionContext *context, const char *option, const char *text, double above, double at_most,
                       double *value);
/* The same for a whole number from min to max (decimal). */
int cli_option_int64 (GOptionContext *context, const char *option, const char *text, gint64 min, gint64 max,
                      gint64 *value);

/* Sets the engine's threads; threads <= 0 keeps the default. FALSE on a bad count. */
gboolean cli_set_threads (int threads);

/* The op of a node as ONNX names it, with activations by kind ("Relu", "Clip"). */
/* The input's H and W, whatever its layout. */
void cli_model_input_size (const GraftModel *model, gint64 *height, gint64 *width);

/* The classes the model's logits give ((N, classes)), or -1 when they are not 2-D. */
int cli_model_classes (const GraftModel *model);
/* The model's graft.labels (char *, one per class): *labels is NULL, and TRUE returned,
 * when it has none; FALSE when they are not a JSON array of strings or their number is
 * not the model's classes. path names the model in messages. */
gboolean cli_model_labels (const GraftModel *model, const char *path, GPtrArray **labels, GError **error);
/* The preprocessing the model wants: its graft.preprocessing, else ImageNet's
 * (graft_preprocessing_init_imagenet) at the model's input size and layout; checked
 * with cli_check_preprocessing. *from_metadata (may be NULL) says which. A catalog
 * model's preprocessing counts only once it is in the metadata: call
 * cli_annotate_from_catalog (or graft_catalog_entry_annotate_model) first. */
/* The preprocessing options (--preprocess FILE, --size, --resize, --mean, --std, --bgr,
 * --rgb), which cli_option_context_new adds to train, lr-find, eval, predict and export,
 * go over it (and *from_metadata is then TRUE: the person said so). */
gboolean cli_preprocessing_overridden (void);
gboolean cli_apply_preprocessing_options (GraftPreprocessing *prep, GError **error);
gboolean cli_model_preprocessing (const GraftModel *model, const char *path, GraftPreprocessing *prep,
                                  gboolean *from_metadata, GError **error);
/* The catalog entry (a copy) whose downloaded file path is, once verified (by its
 * verified note, else by hashing it): then the file's SHA-256 is the entry's. NULL when
 * path is no catalog model's file, or does not match its entry (a note on stderr). */
GraftCatalogEntry *cli_catalog_entry_for_file (const char *path);
/* When the model has no graft.preprocessing and path is a catalog model's downloaded,
 * verified file, puts the entry's there (in memory). */
void cli_annotate_from_catalog (const GraftModel *model, const char *path);
/* The value the entry names as the cut (where the head goes), if the model has it;
 * NULL otherwise. */
char *cli_catalog_cut (const GraftCatalogEntry *entry, const GraftModel *model);
/* Whether prep gives what the model's input takes: size x size, its channels, its layout. */
gboolean cli_check_preprocessing (const GraftModel *model, const char *path, const GraftPreprocessing *prep,
                                  GError **error);

/* Whether a file can be written at path, before the work that makes it: its folder
 * exists, a file can be created there (a test file, removed at once: access() says yes
 * to root on a read-only mount's folders), path is no folder, and at least
 * needed_bytes are free (0: not checked). FALSE with a message naming path otherwise. */
gboolean cli_check_output_location (const char *path, gint64 needed_bytes, GError **error);

/* Reads an ImageFolder tree (classes as graft_dataset_load_image_folder takes them):
 * CLI_EXIT_OK, or CLI_EXIT_FAILURE after a message naming the folder (also when it
 * holds no image). */
int cli_load_image_folder (const char *path, GPtrArray *classes, GraftDataset **dataset);

/* The names (char *) that known (char *) lacks, comma-separated, or NULL when it has
 * them all. */
char *cli_missing_names (GPtrArray *names, GPtrArray *known);

/* Text padded with spaces to width characters, after it (left-aligned) or before it
 * (right-aligned), for the columns of a table: printf's %-*s counts bytes, and a
 * translated heading may hold "é". */
void cli_print_padded (const char *text, int width);
void cli_print_padded_right (const char *text, int width);

/* JSON output: a number, or null when it is not finite (JSON has no NaN). */
void cli_json_add_number (JsonBuilder *builder, double value);
/* JSON output is UTF-8, always (json-glib writes a string's bytes as they are). Text that
 * may hold a file name (a message): bytes that are not UTF-8 become U+FFFD. */
void cli_json_add_text (JsonBuilder *builder, const char *text);
/* A file name as the member called member: as g_filename_display_name shows it; when
 * that is not the name itself (its bytes are not UTF-8), member_bytes ("image_bytes")
 * holds the name's bytes percent-encoded (cli_percent_encode), so that a script can
 * get the file back. */
void cli_json_set_file_name (JsonBuilder *builder, const char *member, const char *path);
/* An array of file names the same way: member_bytes, an array of every name
 * percent-encoded, is there when one of them is not UTF-8. */
void cli_json_set_file_names (JsonBuilder *builder, const char *member, GPtrArray *paths);
/* RFC 3986 percent-encoding of bytes: every byte but A-Z a-z 0-9 - . _ ~ / as %XX
 * (Python: urllib.parse.unquote_to_bytes gives the bytes back). */
char *cli_percent_encode (const char *bytes);
/* What --help says of file names in JSON output. */
#define CLI_JSON_NAMES_HELP                                                                                         \
  N_("JSON output is valid UTF-8: a file name that is not UTF-8 is shown with U+FFFD for its bad bytes, and its "   \
  "exact bytes are given percent-encoded (RFC 3986, every byte but A-Z a-z 0-9 - . _ ~ / as %XX) in a member of " \
  "the same name ending in _bytes (\"image_bytes\"; for an array of names, \"skipped_bytes\", every name).")
/* Prints the builder's root on stdout, on one line (or indented), and flushes. Strings and
 * member names that are not UTF-8 (a model's node names, say) are made valid first. */
void cli_print_json (JsonBuilder *builder, gboolean pretty);

G_END_DECLS
