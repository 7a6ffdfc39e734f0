/* cli-models.c: graft-cli models [list | download NAME | path NAME | verify NAME] [--json]
 *
 * The model catalog (src/catalog): ImageNet classifiers Graft downloads on demand.
 *   list            every model: name, size, licence, whether it is downloaded (a .part
 *                   file shows as a percentage), what it is; the default
 *   download NAME   fetches it into $XDG_DATA_HOME/graft/models, verified (size and
 *                   SHA-256) before it is moved into place; an interrupted download
 *                   (Ctrl+C, a broken connection) resumes next time. A progress line on
 *                   a terminal (stderr)
 *   path NAME       prints the downloaded model's path (exit 1 when it is not there)
 *   verify NAME     hashes the downloaded file again and compares it with the catalog
 *   --json          one JSON object on stdout (download: one per line, events
 *                   {"event": "progress"|"done"|"error", ...})
 * The user catalog ($XDG_DATA_HOME/graft/catalog.json) extends the bundled one.
 * Exit status: 0, 1 (failed: the reason on stderr), 2 (usage), 130 (Ctrl+C).
 */
#include "cli/cli.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/download.h"

static void
add_string_or_null (JsonBuilder *builder, const char *key, const char *value)
{
  json_builder_set_member_name (builder, key);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* A file name (with key_bytes when it is not UTF-8), or null. */
static void
add_file_name_or_null (JsonBuilder *builder, const char *key, const char *path)
{
  if (path != NULL)
    cli_json_set_file_name (builder, key, path);
  else
    add_string_or_null (builder, key, NULL);
}

/* Bytes of the .part file, or 0. */
static guint64
part_bytes (const GraftCatalogEntry *entry)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  GStatBuf st;
  if (g_stat (part, &st) != 0)
    return 0;
  return (guint64) st.st_size;
}

static void
add_entry_json (JsonBuilder *builder, const GraftCatalogEntry *entry, gboolean downloaded)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autoptr (JsonParser) parser = json_parser_new ();

  json_builder_begin_object (builder);
  add_string_or_null (builder, "name", entry->name);
  add_string_or_null (builder, "title", entry->title);
  add_string_or_null (builder, "description", entry->description);
  add_string_or_null (builder, "url", entry->url);
  json_builder_set_member_name (builder, "bytes");
  json_builder_add_int_value (builder, (gint64) entry->bytes);
  add_string_or_null (builder, "sha256", entry->sha256);
  add_string_or_null (builder, "licence", entry->licence);
  add_string_or_null (builder, "licence_source", entry->licence_source);
  add_string_or_null (builder, "source", entry->source);
  json_builder_set_member_name (builder, "input_size");
  json_builder_add_int_value (builder, entry->input_size);
  json_builder_set_member_name (builder, "preprocessing");
  if (json_parser_load_from_data (parser, entry->preprocessing_json, -1, NULL))
    json_builder_add_value (builder, json_node_copy (json_parser_get_root (parser)));
  else
    json_builder_add_null_value (builder);
  add_string_or_null (builder, "cut", entry->cut);
  json_builder_set_member_name (builder, "features");
  json_builder_add_int_value (builder, entry->features);
  json_builder_set_member_name (builder, "flops");
  cli_json_add_number (builder, entry->flops);
  json_builder_set_member_name (builder, "parameters");
  cli_json_add_number (builder, entry->parameters);
  json_builder_set_member_name (builder, "supported");
  json_builder_add_boolean_value (builder, entry->supported);
  add_string_or_null (builder, "support_note", entry->support_note);
  json_builder_set_member_name (builder, "from_user");
  json_builder_add_boolean_value (builder, entry->from_user);
  json_builder_set_member_name (builder, "downloaded");
  json_builder_add_boolean_value (builder, downloaded);
  json_builder_set_member_name (builder, "part_bytes");
  json_builder_add_int_value (builder, (gint64) part_bytes (entry));
  add_file_name_or_null (builder, "path", path);
  json_builder_end_object (builder);
}

static int
models_list (const GraftCatalog *catalog, gboolean json)
{
  guint n = graft_catalog_get_n_entries (catalog);
  int name_width = 22; /* at least; the zoo's newer names (convnext_tiny_in22ft1k_Opset17) are longer */

  for (guint i = 0; i < n; i++)
    name_width = MAX (name_width, (int) strlen (graft_catalog_get_entry (catalog, i)->name));

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autofree char *dir = graft_catalog_models_dir ();
      g_autofree char *user = graft_catalog_user_file ();
      json_builder_begin_object (builder);
      add_file_name_or_null (builder, "models_dir", dir);
      add_file_name_or_null (builder, "user_catalog", user);
      json_builder_set_member_name (builder, "models");
      json_builder_begin_array (builder);
      for (guint i = 0; i < n; i++)
        {
          const GraftCatalogEntry *entry = graft_catalog_get_entry (catalog, i);
          add_entry_json (builder, entry, graft_catalog_is_downloaded (entry));
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
      return CLI_EXIT_OK;
    }

  /* Translators: the headings of graft-cli models' table. */
  cli_print_padded (_("NAME"), name_width);
  printf (" ");
  cli_print_padded_right (_("SIZE"), 9);
  printf (" ");
  cli_print_padded_right (_("GFLOPS"), 7);
  printf ("  ");
  cli_print_padded (_("LICENCE"), 13);
  printf (" ");
  cli_print_padded (_("STATE"), 12);
  printf (" %s\n", _("DESCRIPTION"));
  for (guint i = 0; i < n; i++)
    {
      const GraftCatalogEntry *entry = graft_catalog_get_entry (catalog, i);
      g_autofree char *state = NULL;
      guint64 part = part_bytes (entry);
      if (graft_catalog_is_downloaded (entry))
        state = g_strdup (_("downloaded"));
      else if (part > 0 && part <= entry->bytes)
        state = g_strdup_printf (_("partial %d%%"), (int) (100.0 * (double) part / (double) entry->bytes));
      else
        state = g_strdup ("-");
      printf ("%-*s %6.1f MB %7.2f  %-13s ", name_width, entry->name, (double) entry->bytes / 1e6,
              entry->flops / 1e9, entry->licence);
      cli_print_padded (state, 12);
      printf (" %s: %s%s%s\n", entry->title, entry->description, entry->supported ? "" : _(" [not usable yet] "),
              entry->supported || entry->support_note == NULL ? "" : entry->support_note);
    }
  {
    g_autofree char *dir = graft_catalog_models_dir ();
    printf (_("\nModels go to %s. Licences are as listed by the ONNX Model Zoo.\n"), dir);
  }
  return CLI_EXIT_OK;
}

typedef struct {
  gboolean json;
  gboolean terminal;
  gboolean line_open;
  GCancellable *cancellable;
  gboolean interrupted;
} DownloadUi;

static void
on_progress (GraftDownload *download, gpointer data)
{
  DownloadUi *ui = data;
  GraftDownloadProgress p;

  graft_download_get_progress (download, &p);
  if (ui->json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, "progress");
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, graft_download_get_entry (download)->name);
      json_builder_set_member_name (builder, "received");
      json_builder_add_int_value (builder, (gint64) p.received);
      json_builder_set_member_name (builder, "total");
      json_builder_add_int_value (builder, (gint64) p.total);
      json_builder_set_member_name (builder, "resumed_from");
      json_builder_add_int_value (builder, (gint64) p.resumed_from);
      json_builder_set_member_name (builder, "rate");
      cli_json_add_number (builder, p.rate);
      json_builder_set_member_name (builder, "eta");
      if (p.eta >= 0)
        cli_json_add_number (builder, p.eta);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "verifying");
      json_builder_add_boolean_value (builder, p.verifying);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
      return;
    }
  if (!ui->terminal)
    return;
  {
    g_autoptr (GString) line = g_string_new (NULL);
    double percent = p.total > 0 ? 100.0 * (double) p.received / (double) p.total : 0;
    g_string_append_printf (line, _("%s: %5.1f%%  %.1f of %.1f MB"), graft_download_get_entry (download)->name,
                            percent, (double) p.received / 1e6, (double) p.total / 1e6);
    if (p.verifying)
      g_string_append (line, _("  verifying"));
    else
      {
        if (p.rate > 0)
          g_string_append_printf (line, "  %.2f MB/s", p.rate / 1e6);
        if (p.eta >= 0)
          g_string_append_printf (line, _("  %d:%02d left"), (int) p.eta / 60, (int) p.eta % 60);
      }
    /* Rewrites the line: carriage return, then erase to the end of the line. */
    fprintf (stderr, "\r\033[K%s", line->str);
    fflush (stderr);
    ui->line_open = TRUE;
  }
}

static gboolean
on_interrupt (gpointer data)
{
  DownloadUi *ui = data;
  ui->interrupted = TRUE;
  /* The cancelled download keeps its .part file; the watchdog ends the process if
   * the download thread does not finish in time. */
  cli_signals_arm_watchdog (SIGINT);
  g_cancellable_cancel (ui->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
print_event (const char *event, const char *name, const char *path, const char *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_string_or_null (builder, "event", event);
  add_string_or_null (builder, "name", name);
  if (path != NULL)
    add_file_name_or_null (builder, "path", path);
  if (message != NULL)
    {
      json_builder_set_member_name (builder, "message");
      cli_json_add_text (builder, message);
    }
  json_builder_end_object (builder);
  cli_print_json (builder, FALSE);
}

static int
models_download (const GraftCatalogEntry *entry, gboolean json)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autoptr (GraftDownload) download = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  DownloadUi ui = { .json = json, .terminal = isatty (STDERR_FILENO), .cancellable = cancellable };
  guint sigint, sigterm;
  gboolean ok;

  if (!entry->supported)
    {
      if (entry->support_note != NULL)
        fprintf (stderr, _("graft-cli: note: Graft cannot use %s yet: %s\n"), entry->name, entry->support_note);
      else
        fprintf (stderr, _("graft-cli: note: Graft cannot use %s yet\n"), entry->name);
    }
  if (graft_catalog_is_downloaded (entry))
    {
      if (json)
        print_event ("done", entry->name, path, "already downloaded");
      else
        printf (_("%s is already downloaded and verified: %s\n"), entry->name, path);
      return CLI_EXIT_OK;
    }
  download = graft_download_new (entry, NULL);
  g_signal_connect (download, "progress", G_CALLBACK (on_progress), &ui);
  cli_signals_prepare_watchdog ();
  sigint = g_unix_signal_add (SIGINT, on_interrupt, &ui);
  sigterm = g_unix_signal_add (SIGTERM, on_interrupt, &ui);
  ok = graft_download_run (download, cancellable, &error);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (ui.line_open)
    fprintf (stderr, "\n");
  if (!ok)
    {
      if (json)
        print_event ("error", entry->name, NULL, error->message);
      fprintf (stderr, _("graft-cli: %s\n"), error->message);
      return ui.interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_FAILURE;
    }
  if (json)
    print_event ("done", entry->name, path, NULL);
  else
    printf (_("%s: downloaded and verified: %s\n"), entry->name, path);
  return CLI_EXIT_OK;
}

static int
models_path (const GraftCatalogEntry *entry, gboolean json)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  gboolean downloaded = graft_catalog_is_downloaded (entry);

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      add_string_or_null (builder, "name", entry->name);
      add_string_or_null (builder, "path", path);
      json_builder_set_member_name (builder, "downloaded");
      json_builder_add_boolean_value (builder, downloaded);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
    }
  else if (downloaded)
    printf ("%s\n", path);
  if (!downloaded)
    {
      fprintf (stderr, _("graft-cli: %s is not downloaded (it would be %s): run 'graft-cli models download %s'\n"),
               entry->name, path, entry->name);
      return CLI_EXIT_FAILURE;
    }
  return CLI_EXIT_OK;
}

static int
models_verify (const GraftCatalogEntry *entry, gboolean json)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autoptr (GError) error = NULL;
  gboolean ok = graft_catalog_verify (entry, NULL, TRUE, NULL, &error);

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      add_string_or_null (builder, "name", entry->name);
      add_file_name_or_null (builder, "path", path);
      json_builder_set_member_name (builder, "ok");
      json_builder_add_boolean_value (builder, ok);
      add_string_or_null (builder, "message", ok ? NULL : error->message);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
    }
  else if (ok)
    printf (_("%s: OK (%llu bytes, SHA-256 %s)\n"), path, (unsigned long long) entry->bytes, entry->sha256);
  if (!ok)
    return cli_fail (error);
  return CLI_EXIT_OK;
}

int
cli_models (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON on stdout"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "models", "[list | download NAME | path NAME | verify NAME]",
    N_("The model catalog: ImageNet classifiers downloaded on demand into the user's data folder, "
       "verified before use (list, download, path, verify)."),
    entries);
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GError) error = NULL;
  const GraftCatalogEntry *entry;
  const char *action;

  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  action = argc >= 2 ? argv[1] : "list";
  if (strcmp (action, "list") != 0 && strcmp (action, "download") != 0 && strcmp (action, "path") != 0
      && strcmp (action, "verify") != 0)
    return cli_usage_error (context, _("no action '%s' (list, download, path, verify)"), action);
  if (strcmp (action, "list") == 0 ? argc > 2 : argc != 3)
    return strcmp (action, "list") == 0 ? cli_usage_error (context, "%s", _("list takes no name"))
                                        : cli_usage_error (context, _("%s takes one model name"), action);

  catalog = graft_catalog_load (&error);
  if (catalog == NULL)
    return cli_fail (error);
  if (strcmp (action, "list") == 0)
    return models_list (catalog, json);
  entry = graft_catalog_lookup (catalog, argv[2], &error);
  if (entry == NULL)
    return cli_fail (error);
  if (strcmp (action, "download") == 0)
    return models_download (entry, json);
  if (strcmp (action, "path") == 0)
    return models_path (entry, json);
  return models_verify (entry, json);
}
