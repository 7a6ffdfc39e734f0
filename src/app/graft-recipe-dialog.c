/* graft-recipe-dialog.c: Train Elsewhere… and Import Run… (see the header). */
#include "config.h"

#include "graft-recipe-dialog.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

typedef enum { TRAIN_ELSEWHERE, IMPORT_RUN } RecipeAction;

typedef struct {
  GraftWindow *window;            /* weak */
  GraftProjectObject *project;    /* strong */
  RecipeAction action;
  char *folder;
  GtkFileChooserNative *chooser;
} RecipeRequest;

static void
recipe_request_free (RecipeRequest *r)
{
  g_clear_weak_pointer (&r->window);
  g_clear_object (&r->project);
  g_clear_object (&r->chooser);
  g_free (r->folder);
  g_free (r);
}

char *
graft_recipe_dialog_find_cli (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  const char *env = g_getenv ("GRAFT_CLI");

  if (self != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self);
      /* Installed: bindir/graft-cli; in the build tree: src/app/graft -> src/cli/graft-cli. */
      const char *const candidates[] = { "graft-cli", "../cli/graft-cli" };
      for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
        {
          g_autofree char *path = g_build_filename (dir, candidates[i], NULL);
          if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test (path, G_FILE_TEST_IS_DIR))
            return g_canonicalize_filename (path, NULL);
        }
    }
  if (env != NULL && g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup (env);
  return g_find_program_in_path ("graft-cli");
}

static void
toast (RecipeRequest *r, const char *message)
{
  if (r->window != NULL)
    graft_window_toast (r->window, message);
}

/* The last line graft-cli wrote on stderr, without its "graft-cli: " prefix. */
static char *
cli_message (const char *err)
{
  g_auto (GStrv) lines = g_strsplit (err != NULL ? err : "", "\n", -1);
  const char *last = "";
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_strstrip (lines[i])[0] != '\0' && !g_str_has_prefix (lines[i], "Try "))
      last = lines[i];
  if (g_str_has_prefix (last, "graft-cli: "))
    last += strlen ("graft-cli: ");
  return g_strdup (last);
}

static void
show_command (RecipeRequest *r)
{
  g_autofree char *command = g_strdup_printf ("torchrun --standalone --nproc_per_node=N %s/train.py", r->folder);
  /* Translators: %s is the torchrun command that runs the recipe */
  g_autofree char *body = g_strdup_printf (_("Run it on a machine with PyTorch 1.13 or later (README.md in the folder "
                                             "says how on several machines or a cluster):\n\n%s\n\nThen bring the "
                                             "result back with Import Run…"),
                                           command);
  AdwMessageDialog *dialog;

  if (r->window == NULL)
    return;
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (r->window), _("Recipe Written"), body));
  adw_message_dialog_set_body_use_markup (dialog, FALSE);
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_cli_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RecipeRequest *r = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, &err, &error))
    toast (r, error->message);
  else if (!g_subprocess_get_if_exited (G_SUBPROCESS (source)) || g_subprocess_get_exit_status (G_SUBPROCESS (source)) != 0)
    {
      g_autofree char *message = cli_message (err);
      toast (r, message);
    }
  else if (r->action == TRAIN_ELSEWHERE)
    show_command (r);
  else
    {
      g_autoptr (JsonNode) node = json_from_string (out, NULL);
      JsonObject *object = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      gint64 run = object != NULL ? json_object_get_int_member_with_default (object, "run", 0) : 0;
      double accuracy = object != NULL ? json_object_get_double_member_with_default (object, "validation_accuracy", -1)
                                       : -1;
      g_autofree char *message = NULL;
      if (accuracy >= 0)
        /* Translators: a toast; %d is the run's number, %.1f its accuracy in percent */
        message = g_strdup_printf (_("Run %d imported: validation accuracy %.1f%%"), (int) run, 100 * accuracy);
      else
        /* Translators: a toast; %d is the run's number */
        message = g_strdup_printf (_("Run %d imported"), (int) run);
      toast (r, message);
      g_signal_emit_by_name (r->project, "runs-changed", run);
    }
  recipe_request_free (r);
}

static void
run_cli (RecipeRequest *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *cli = graft_recipe_dialog_find_cli ();
  const char *project = graft_project_object_get_folder (r->project);

  if (cli == NULL)
    {
      toast (r, _("graft-cli is not installed: it writes and imports recipes"));
      recipe_request_free (r);
      return;
    }
  if (r->action == TRAIN_ELSEWHERE)
    {
      /* graft-cli reads the settings from the project: the last change must be there. */
      graft_project_object_save_spec (r->project);
      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, cli,
                                  "recipe", project, "-o", r->folder, "-q", NULL);
    }
  else
    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, cli, "runs",
                                "import", project, r->folder, "--json", NULL);
  if (process == NULL)
    {
      toast (r, error->message);
      recipe_request_free (r);
      return;
    }
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_cli_done, r);
}

/* A folder chosen for a recipe that is neither empty nor a recipe's: the recipe goes
 * into a new folder inside it, named after the project. */
static char *
recipe_folder_in (const char *chosen, GraftProjectObject *project)
{
  g_autoptr (GDir) dir = g_dir_open (chosen, 0, NULL);
  g_autofree char *marker = g_build_filename (chosen, "graft-recipe.json", NULL);
  g_autofree char *name = NULL, *base = NULL;
  if (dir == NULL || g_dir_read_name (dir) == NULL || g_file_test (marker, G_FILE_TEST_EXISTS))
    return g_strdup (chosen);
  name = graft_project_object_get_name (project);
  /* Translators: the folder a recipe is written into; %s is the project's name */
  base = g_strdup_printf (_("%s Recipe"), name != NULL ? name : "Graft");
  for (int i = 1;; i++)
    {
      g_autofree char *leaf = i == 1 ? g_strdup (base) : g_strdup_printf ("%s %d", base, i);
      char *path = g_build_filename (chosen, leaf, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return path;
      g_free (path);
    }
}

static void
on_folder_chosen (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  RecipeRequest *r = user_data;
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  path = file != NULL ? g_file_get_path (file) : NULL;
  if (path == NULL)
    {
      recipe_request_free (r);
      return;
    }
  r->folder = r->action == TRAIN_ELSEWHERE ? recipe_folder_in (path, r->project) : g_steal_pointer (&path);
  run_cli (r);
}

static RecipeRequest *
recipe_request_new (GraftWindow *window, GraftProjectObject *project, RecipeAction action)
{
  RecipeRequest *r = g_new0 (RecipeRequest, 1);
  g_set_weak_pointer (&r->window, window);
  r->project = g_object_ref (project);
  r->action = action;
  return r;
}

void
graft_recipe_dialog_write_to (GraftWindow *window, GraftProjectObject *project, const char *folder)
{
  RecipeRequest *r;
  g_return_if_fail (GRAFT_IS_WINDOW (window) && GRAFT_IS_PROJECT_OBJECT (project) && folder != NULL);
  r = recipe_request_new (window, project, TRAIN_ELSEWHERE);
  r->folder = g_strdup (folder);
  run_cli (r);
}

void
graft_recipe_dialog_import_from (GraftWindow *window, GraftProjectObject *project, const char *folder)
{
  RecipeRequest *r;
  g_return_if_fail (GRAFT_IS_WINDOW (window) && GRAFT_IS_PROJECT_OBJECT (project) && folder != NULL);
  r = recipe_request_new (window, project, IMPORT_RUN);
  r->folder = g_strdup (folder);
  run_cli (r);
}

static void
choose_folder (GraftWindow *window, GraftProjectObject *project, RecipeAction action)
{
  RecipeRequest *r;

  g_return_if_fail (GRAFT_IS_WINDOW (window));
  if (project == NULL)
    return;
  r = recipe_request_new (window, project, action);
  r->chooser = gtk_file_chooser_native_new (action == TRAIN_ELSEWHERE ? _("Train Elsewhere: Choose a Folder")
                                                                      : _("Import Run: Choose the Recipe Folder"),
                                            GTK_WINDOW (window), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                            action == TRAIN_ELSEWHERE ? _("_Write Recipe") : _("_Import"),
                                            _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (r->chooser), TRUE);
  g_signal_connect (r->chooser, "response", G_CALLBACK (on_folder_chosen), r);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (r->chooser));
}

void
graft_recipe_dialog_train_elsewhere (GraftWindow *window, GraftProjectObject *project)
{
  choose_folder (window, project, TRAIN_ELSEWHERE);
}

void
graft_recipe_dialog_import_run (GraftWindow *window, GraftProjectObject *project)
{
  choose_folder (window, project, IMPORT_RUN);
}
