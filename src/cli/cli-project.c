/* cli-project.c: graft-cli project and graft-cli runs: projects (src/project/) without
 * the app.
 *
 *   graft-cli project create DIR [--name NAME] [--import TREE|CSV|ZIP]... [--copy] [--json]
 *   graft-cli project import DIR TREE|CSV|ZIP... [--copy] [--json]
 *   graft-cli project export DIR --format imagefolder|csv --output OUT [--by-split] [--hardlink]
 *   graft-cli runs DIR [--json]
 *
 * An import is what the app's imports do (import.h): a folder is an ImageFolder tree
 * (each subfolder a class; images directly in it unlabelled), a .csv file path,label
 * rows, a .zip or .tm file (or a folder of them, with --teachable-machine) Teachable
 * Machine's samples. Each is one undo step; files left out are listed with the reason.
 * With --json: {"project", "imports": [{"source", "added", "already_present",
 * "labelled", "classes_added", "skipped": [{"path", "reason", "detail"}]}]}.
 *
 * export writes the labelled images as an ImageFolder tree (OUT/<class>/, or with
 * --by-split OUT/<train|validation|test>/<class>/) or every image as a CSV
 * (path,label,split), through export.h.
 *
 * runs lists the project's runs, newest first: id, status, strategy, epochs done of
 * planned, validation accuracy, when it was made and its model file; --json:
 * {"project", "runs": [{"id", "name", "status", "strategy", "epochs", "epochs_done",
 * "accuracy", "created", "finished", "model", "resumable_after_epoch", "exports":
 * [{"time", "path", "format", "sha256"}]}]} (the run's export history, oldest first; times as ISO
 * 8601, null when not known). A run stopped or killed with a whole checkpoint
 * (run-record.h) can be resumed ("graft-cli train DIR --resume --run N"): its
 * "resumable_after_epoch" is the epochs its checkpoint has done (null otherwise), and the
 * table is followed by a line for each such run.
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "project/export.h"
#include "project/import.h"
#include "project/project.h"
#include "project/run-record.h"
#include "train/spec.h"

/* ------------------------------------------------------------------------ */
/* Imports                                                                  */

typedef enum {
  SOURCE_TREE,
  SOURCE_CSV,
  SOURCE_TEACHABLE_MACHINE,
} SourceKind;

static gboolean
has_suffix_nocase (const char *path, const char *suffix)
{
  gsize n = strlen (path), m = strlen (suffix);
  return n >= m && g_ascii_strcasecmp (path + n - m, suffix) == 0;
}

/* What kind of import path is: FALSE with a message when it is none. */
static gboolean
source_kind (const char *path, gboolean teachable_machine, SourceKind *kind, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      *kind = teachable_machine ? SOURCE_TEACHABLE_MACHINE : SOURCE_TREE;
      return TRUE;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, _("%s: no such file or folder"), path);
      return FALSE;
    }
  if (has_suffix_nocase (path, ".csv"))
    *kind = SOURCE_CSV;
  else if (has_suffix_nocase (path, ".zip") || has_suffix_nocase (path, ".tm"))
    *kind = SOURCE_TEACHABLE_MACHINE;
  else
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("%s: not something to import (a folder of class folders, a .csv of path,label rows, or a "
                     "Teachable Machine .zip or .tm)"), path);
      return FALSE;
    }
  return TRUE;
}

static GraftImportReport *
import_one (GraftProject *project, const char *path, SourceKind kind, const GraftImportOptions *options,
            GError **error)
{
  switch (kind)
    {
    case SOURCE_TREE: return graft_import_image_folder (project, path, options, error);
    case SOURCE_CSV: return graft_import_csv (project, path, options, error);
    case SOURCE_TEACHABLE_MACHINE: return graft_import_teachable_machine (project, path, options, error);
    default: g_assert_not_reached ();
    }
}

static void
report_json (JsonBuilder *builder, const char *source, const GraftImportReport *report)
{
  json_builder_begin_object (builder);
  cli_json_set_file_name (builder, "source", source);
  json_builder_set_member_name (builder, "added");
  json_builder_add_int_value (builder, report->added);
  json_builder_set_member_name (builder, "already_present");
  json_builder_add_int_value (builder, report->already_present);
  json_builder_set_member_name (builder, "labelled");
  json_builder_add_int_value (builder, report->labelled);
  json_builder_set_member_name (builder, "classes_added");
  json_builder_add_int_value (builder, report->classes_added);
  json_builder_set_member_name (builder, "skipped");
  json_builder_begin_array (builder);
  for (guint i = 0; report->skipped != NULL && i < report->skipped->len; i++)
    {
      const GraftImportSkip *skip = &g_array_index (report->skipped, GraftImportSkip, i);
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "path", skip->path);
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, graft_skip_reason_to_string (skip->reason));
      json_builder_set_member_name (builder, "detail");
      cli_json_add_text (builder, skip->detail != NULL ? skip->detail : "");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* Why a file was left out, in words (graft_skip_reason_to_string is the JSON's name). */
static const char *
skip_reason_text (GraftSkipReason reason)
{
  switch (reason)
    {
    case GRAFT_SKIP_UNREADABLE: return _("unreadable");
    case GRAFT_SKIP_NOT_AN_IMAGE: return _("not an image");
    case GRAFT_SKIP_UNSUPPORTED: return _("unsupported image format");
    case GRAFT_SKIP_DUPLICATE: return _("duplicate");
    case GRAFT_SKIP_BAD_ROW: return _("bad CSV row");
    case GRAFT_SKIP_NOT_A_FILE: return _("not a file");
    case GRAFT_SKIP_LOOP: return _("folder loop");
    case GRAFT_SKIP_UNSAFE_NAME: return _("unsafe name in archive");
    default: return _("skipped");
    }
}

static void
report_text (const char *source, const GraftImportReport *report)
{
  guint skipped = report->skipped != NULL ? report->skipped->len : 0;
  g_autofree char *added = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%u image added", "%u images added", report->added), report->added);
  g_autofree char *labelled = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%u labelled", "%u labelled", report->labelled), report->labelled);
  g_autofree char *classes = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%u new class", "%u new classes", report->classes_added), report->classes_added);

  /* Translators: "photos: 12 images added, 10 labelled, 2 new classes". */
  printf (_("%s: %s, %s, %s"), source, added, labelled, classes);
  if (report->already_present > 0)
    printf (_(", %u already in the project"), report->already_present);
  printf (g_dngettext (GETTEXT_PACKAGE, ", %u left out\n", ", %u left out\n", skipped), skipped);
  for (guint i = 0; i < skipped; i++)
    {
      const GraftImportSkip *skip = &g_array_index (report->skipped, GraftImportSkip, i);
      if (skip->detail != NULL && skip->detail[0] != '\0')
        printf (_("  left out %s: %s (%s)\n"), skip->path, skip_reason_text (skip->reason), skip->detail);
      else
        printf (_("  left out %s: %s\n"), skip->path, skip_reason_text (skip->reason));
    }
}

/* Imports each of sources (checked first, so that a typo imports nothing) into project. */
static int
import_all (GraftProject *project, const char *folder, char **sources, gboolean copy, gboolean teachable_machine,
            gboolean json)
{
  g_autoptr (JsonBuilder) builder = json ? json_builder_new () : NULL;
  g_autoptr (GError) error = NULL;
  GraftImportOptions options = { .mode = copy ? GRAFT_IMPORT_COPY : GRAFT_IMPORT_REFERENCE,
                                 .hashing = GRAFT_HASH_AUTO };
  guint n = sources != NULL ? g_strv_length (sources) : 0;
  g_autofree SourceKind *kinds = g_new (SourceKind, MAX (1, n));

  for (guint i = 0; i < n; i++)
    if (!source_kind (sources[i], teachable_machine, &kinds[i], &error))
      return cli_fail (error);
  if (json)
    {
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "project", folder);
      json_builder_set_member_name (builder, "imports");
      json_builder_begin_array (builder);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftImportReport) report = import_one (project, sources[i], kinds[i], &options, &error);
      if (report == NULL)
        return cli_fail_printf ("%s: %s", sources[i], error->message);
      if (json)
        report_json (builder, sources[i], report);
      else
        report_text (sources[i], report);
    }
  if (json)
    {
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      cli_print_json (builder, TRUE);
    }
  return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* project create, import, export                                           */

static int
project_create (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_auto (GStrv) imports = NULL;
  gboolean copy = FALSE, teachable_machine = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, N_("The project's name (default: the folder's)"), "NAME" },
    { "import", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &imports,
      N_("Images to bring in: an ImageFolder tree, a CSV of path,label rows, or a Teachable Machine .zip/.tm "
         "(may be given again)"), "TREE|CSV|ZIP" },
    { "copy", 0, 0, G_OPTION_ARG_NONE, &copy, N_("Copy the images into the project (default: refer to them)"), NULL },
    { "teachable-machine", 0, 0, G_OPTION_ARG_NONE, &teachable_machine,
      N_("A folder given to --import holds Teachable Machine sample archives (or class folders)"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the imports' reports as JSON"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "project create", "DIR", N_("Creates a project in DIR (made if needed) and imports images into it."), entries);
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *default_name = NULL;
  int status;

  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("where? (give DIR)") : _("one project folder at a time"));
  /* Checked before the project exists: a typo leaves nothing behind. */
  for (guint i = 0; imports != NULL && imports[i] != NULL; i++)
    {
      SourceKind kind;
      if (!source_kind (imports[i], teachable_machine, &kind, &error))
        return cli_fail (error);
    }
  if (name == NULL)
    {
      g_autofree char *base = g_path_get_basename (argv[1]);
      default_name = g_strdup (base);
      if (g_str_has_suffix (default_name, ".graft"))
        default_name[strlen (default_name) - strlen (".graft")] = '\0';
    }
  project = graft_project_create (argv[1], name != NULL ? name : default_name, &error);
  if (project == NULL)
    return cli_fail (error);
  status = import_all (project, argv[1], imports, copy, teachable_machine, json);
  if (status == CLI_EXIT_OK && !json)
    printf (_("Created the project %s\n"), argv[1]);
  return status;
}

static GraftProject *
open_project (const char *folder, GError **error)
{
  if (!graft_project_folder_has_project (folder))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                   _("%s: no project here (graft-cli project create makes one)"), folder);
      return NULL;
    }
  return graft_project_open (folder, error);
}

static int
project_import (int argc, char **argv)
{
  gboolean copy = FALSE, teachable_machine = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "copy", 0, 0, G_OPTION_ARG_NONE, &copy, N_("Copy the images into the project (default: refer to them)"), NULL },
    { "teachable-machine", 0, 0, G_OPTION_ARG_NONE, &teachable_machine,
      N_("A folder holds Teachable Machine sample archives (or class folders)"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the imports' reports as JSON"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "project import", "DIR TREE|CSV|ZIP…",
    N_("Imports images into a project: ImageFolder trees, CSVs of path,label rows, Teachable Machine archives."),
    entries);
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GError) error = NULL;

  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc < 3)
    return cli_usage_error (context, "%s", argc < 2 ? _("which project? (give DIR TREE|CSV|ZIP...)")
                                                    : _("what to import? (give DIR TREE|CSV|ZIP...)"));
  project = open_project (argv[1], &error);
  if (project == NULL)
    return cli_fail (error);
  return import_all (project, argv[1], argv + 2, copy, teachable_machine, json);
}

static int
project_export (int argc, char **argv)
{
  g_autofree char *format = NULL, *output_path = NULL;
  gboolean by_split = FALSE, hardlink = FALSE;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, N_("imagefolder or csv"), "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_path,
      N_("The folder to write (imagefolder: new or empty) or the CSV file"), "OUT" },
    { "by-split", 0, 0, G_OPTION_ARG_NONE, &by_split, N_("imagefolder: OUT/<split>/<class>/ (train, validation, test)"),
      NULL },
    { "hardlink", 0, 0, G_OPTION_ARG_NONE, &hardlink, N_("imagefolder: hard links where the file system allows"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "project export", "DIR",
    N_("Writes the project's labelled images as an ImageFolder tree, or every image as a CSV (path,label,split)."),
    entries);
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GError) error = NULL;

  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which project? (give DIR)") : _("one project at a time"));
  if (format == NULL || (strcmp (format, "imagefolder") != 0 && strcmp (format, "csv") != 0))
    return format == NULL ? cli_usage_error (context, "%s", _("which format? (give --format imagefolder or csv)"))
                          : cli_usage_error (context, _("--format %s: give imagefolder or csv"), format);
  if (output_path == NULL)
    return cli_usage_error (context, "%s", _("where to? (give --output OUT)"));
  if ((by_split || hardlink) && strcmp (format, "csv") == 0)
    return cli_usage_error (context, "%s", _("--by-split and --hardlink are for --format imagefolder"));
  project = open_project (argv[1], &error);
  if (project == NULL)
    return cli_fail (error);
  if (strcmp (format, "csv") == 0)
    {
      if (!cli_check_output_location (output_path, 0, &error) || !graft_export_csv (project, output_path, &error))
        return cli_fail (error);
      printf (_("Wrote %s\n"), output_path);
      return CLI_EXIT_OK;
    }
  {
    guint exported = 0, missing = 0;
    if (!graft_export_image_folder (project, output_path, hardlink ? GRAFT_EXPORT_HARDLINK : GRAFT_EXPORT_COPY,
                                    by_split, &exported, &missing, &error))
      return cli_fail (error);
    printf (g_dngettext (GETTEXT_PACKAGE, "Wrote %u image to %s", "Wrote %u images to %s", exported), exported,
            output_path);
    if (missing > 0)
      printf (g_dngettext (GETTEXT_PACKAGE, "; %u image file was missing and is not in it",
                           "; %u image files were missing and are not in it", missing),
              missing);
    printf ("\n");
  }
  return CLI_EXIT_OK;
}

int
cli_project (int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run) (int argc, char **argv);
  } subcommands[] = {
    { "create", project_create },
    { "import", project_import },
    { "export", project_export },
  };

  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      printf ("%s", _("Usage: graft-cli project create DIR [--name NAME] [--import TREE|CSV|ZIP]... [--copy] [--json]\n"
                      "       graft-cli project import DIR TREE|CSV|ZIP... [--copy] [--json]\n"
                      "       graft-cli project export DIR --format imagefolder|csv --output OUT [--by-split]\n\n"
                      "Run 'graft-cli project SUBCOMMAND --help' for its options.\n"));
      return CLI_EXIT_OK;
    }
  if (argc < 2)
    {
      fprintf (stderr, "%s", _("graft-cli project: create, import or export? (graft-cli project --help)\n"));
      return CLI_EXIT_USAGE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (argv[1], subcommands[i].name) == 0)
      return subcommands[i].run (argc - 1, argv + 1);
  fprintf (stderr, _("graft-cli project: no subcommand '%s' (create, import or export)\n"), argv[1]);
  return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------------ */
/* runs                                                                     */

/* The JSON's names; the table shows them translated (the context "run status"). */
static const char *const status_names[] = { NC_ ("run status", "pending"), NC_ ("run status", "running"),
                                            NC_ ("run status", "finished"), NC_ ("run status", "failed"),
                                            NC_ ("run status", "stopped") };

typedef struct {
  char *strategy;         /* NULL when the spec does not say */
  int epochs, epochs_done;   /* -1 when not known */
  double accuracy;        /* NAN when not known */
} RunSummary;

static void
summarise (const GraftRun *run, RunSummary *summary)
{
  g_autoptr (JsonNode) metrics = run->metrics_json != NULL ? json_from_string (run->metrics_json, NULL) : NULL;
  g_autoptr (GraftSessionSpec) spec = run->spec_json != NULL ? graft_session_spec_from_json (run->spec_json, NULL)
                                                               : NULL;
  JsonObject *object = metrics != NULL && JSON_NODE_HOLDS_OBJECT (metrics) ? json_node_get_object (metrics) : NULL;

  *summary = (RunSummary) { NULL, -1, -1, NAN };
  if (spec != NULL)
    {
      summary->strategy = g_strdup (graft_strategy_to_string (spec->strategy));
      summary->epochs = spec->epochs;
    }
  if (object != NULL)
    {
      if (json_object_has_member (object, "epochs"))
        summary->epochs = (int) json_object_get_int_member (object, "epochs");
      if (json_object_has_member (object, "epochs_done"))
        summary->epochs_done = (int) json_object_get_int_member (object, "epochs_done");
      if (json_object_has_member (object, "accuracy"))
        summary->accuracy = json_object_get_double_member (object, "accuracy");
    }
}

static char *
iso_time (gint64 microseconds)
{
  g_autoptr (GDateTime) time = microseconds > 0 ? g_date_time_new_from_unix_local (microseconds / G_USEC_PER_SEC)
                                                : NULL;
  return time != NULL ? g_date_time_format (time, "%FT%T%:z") : NULL;
}

static void
member_time (JsonBuilder *builder, const char *name, gint64 microseconds)
{
  g_autofree char *text = iso_time (microseconds);
  json_builder_set_member_name (builder, name);
  if (text != NULL)
    json_builder_add_string_value (builder, text);
  else
    json_builder_add_null_value (builder);
}

static void
member_count (JsonBuilder *builder, const char *name, int value)
{
  json_builder_set_member_name (builder, name);
  if (value >= 0)
    json_builder_add_int_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* "exports": the run's export history (time, file, format, SHA-256), oldest first. */
static gboolean
add_exports (JsonBuilder *builder, GraftProject *project, gint64 run_id, GError **error)
{
  g_autoptr (GArray) exports = graft_project_list_exports (project, run_id, error);

  if (exports == NULL)
    return FALSE;
  json_builder_set_member_name (builder, "exports");
  json_builder_begin_array (builder);
  for (guint i = 0; i < exports->len; i++)
    {
      const GraftExportEntry *entry = &g_array_index (exports, GraftExportEntry, i);
      json_builder_begin_object (builder);
      member_time (builder, "time", entry->time);
      cli_json_set_file_name (builder, "path", entry->path);
      json_builder_set_member_name (builder, "format");
      json_builder_add_string_value (builder, entry->format);
      json_builder_set_member_name (builder, "sha256");
      json_builder_add_string_value (builder, entry->checksum);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return TRUE;
}

int
cli_runs (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "runs", "DIR", N_("Lists a project's training runs, newest first: id, status, strategy, epochs, accuracy."),
    entries);
  g_autoptr (GraftProject) project = NULL;
  g_autoptr (GArray) runs = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  GString *resumable_lines = NULL;  /* the runs that can be resumed, after the table */

  if (argc >= 2 && strcmp (argv[1], "import") == 0)
    return cli_runs_import (argc - 1, argv + 1);  /* cli-recipe.c */
  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which project? (give DIR)") : _("one project at a time"));
  project = open_project (argv[1], &error);
  if (project == NULL)
    return cli_fail (error);
  runs = graft_project_list_runs (project, &error);
  if (runs == NULL)
    return cli_fail (error);

  if (json)
    {
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "project", argv[1]);
      json_builder_set_member_name (builder, "runs");
      json_builder_begin_array (builder);
    }
  else if (runs->len == 0)
    printf (_("%s has no runs yet (graft-cli train %s makes one)\n"), argv[1], argv[1]);
  else
    {
      /* Translators: the headings of graft-cli runs' table. */
      cli_print_padded (_("ID"), 5);
      printf (" ");
      cli_print_padded (_("STATUS"), 9);
      printf (" ");
      cli_print_padded (_("STRATEGY"), 19);
      printf (" ");
      cli_print_padded (_("EPOCHS"), 9);
      printf (" ");
      cli_print_padded (_("ACCURACY"), 9);
      printf (" ");
      cli_print_padded (_("CREATED"), 20);
      printf (" %s\n", _("MODEL"));
    }
  for (guint i = 0; i < runs->len; i++)
    {
      const GraftRun *run = &g_array_index (runs, GraftRun, i);
      const char *status = (guint) run->status < G_N_ELEMENTS (status_names) ? status_names[run->status] : "pending";
      RunSummary summary;
      int resumable_after = -1;

      summarise (run, &summary);
      if (!graft_run_is_resumable (project, run, &resumable_after, NULL, NULL))
        resumable_after = -1;
      else
        {
          if (resumable_lines == NULL)
            resumable_lines = g_string_new (NULL);
          g_string_append_printf (resumable_lines,
                                  _("Run %lld can be resumed after epoch %d: graft-cli train %s --resume --run %lld\n"),
                                  (long long) run->id, resumable_after, argv[1], (long long) run->id);
        }
      if (json)
        {
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_int_value (builder, run->id);
          json_builder_set_member_name (builder, "name");
          cli_json_add_text (builder, run->name != NULL ? run->name : "");
          json_builder_set_member_name (builder, "status");
          json_builder_add_string_value (builder, status);
          json_builder_set_member_name (builder, "strategy");
          if (summary.strategy != NULL)
            json_builder_add_string_value (builder, summary.strategy);
          else
            json_builder_add_null_value (builder);
          member_count (builder, "epochs", summary.epochs);
          member_count (builder, "epochs_done", summary.epochs_done);
          json_builder_set_member_name (builder, "accuracy");
          cli_json_add_number (builder, summary.accuracy);
          member_time (builder, "created", run->created);
          member_time (builder, "finished", run->finished);
          if (run->model_path != NULL)
            cli_json_set_file_name (builder, "model", run->model_path);
          else
            {
              json_builder_set_member_name (builder, "model");
              json_builder_add_null_value (builder);
            }
          member_count (builder, "resumable_after_epoch", resumable_after);
          if (!add_exports (builder, project, run->id, &error))
            {
              if (resumable_lines != NULL)
                g_string_free (resumable_lines, TRUE);
              return cli_fail (error);
            }
          json_builder_end_object (builder);
        }
      else
        {
          g_autofree char *created = iso_time (run->created);
          g_autofree char *epochs = summary.epochs_done >= 0 ? g_strdup_printf ("%d/%d", summary.epochs_done,
                                                                                summary.epochs)
                                                             : summary.epochs >= 0 ? g_strdup_printf ("-/%d",
                                                                                                      summary.epochs)
                                                                                   : g_strdup ("-");
          g_autofree char *accuracy = isnan (summary.accuracy) ? g_strdup ("-")
                                                               : g_strdup_printf ("%.1f%%", 100 * summary.accuracy);
          if (created != NULL && strlen (created) > 19)
            created[19] = '\0';   /* the time zone: the terminal's own */
          printf ("%-5" G_GINT64_FORMAT " ", run->id);
          cli_print_padded (g_dpgettext2 (GETTEXT_PACKAGE, "run status", status), 9);
          printf (" %-19s %-9s %-9s %-20s %s\n", summary.strategy != NULL ? summary.strategy : "-", epochs, accuracy,
                  created != NULL ? created : "-", run->model_path != NULL ? run->model_path : "-");
        }
      g_free (summary.strategy);
    }
  if (json)
    {
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      cli_print_json (builder, TRUE);
    }
  else if (resumable_lines != NULL)
    printf ("%s", resumable_lines->str);
  if (resumable_lines != NULL)
    g_string_free (resumable_lines, TRUE);
  return CLI_EXIT_OK;
}
