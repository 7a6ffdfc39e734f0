/* cli-test-helpers.h: running graft-cli from the tests of its commands
 * (tests/test-cli*.c). Static functions: each test includes it once. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "engine/parallel.h"

/* The graft-cli to run (from GRAFT_CLI), set by the test's main. */
static char *cli_path;

/* Sets cli_path from GRAFT_CLI where that names an executable; else NULL, and the tests
 * that run graft-cli skip (cli_test_ready). */
static G_GNUC_UNUSED void
cli_test_find_cli (void)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  cli_path = cli != NULL && g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup (cli) : NULL;
}

/* The start of a test's main: the test framework, two engine threads (as on a small
 * machine), cli_path; returns a new scratch folder made from template. */
static G_GNUC_UNUSED char *
cli_test_init (int *argc, char ***argv, const char *template)
{
  char *folder;

  g_test_init (argc, argv, NULL);
  graft_set_num_threads (2);
  cli_test_find_cli ();
  folder = g_dir_make_tmp (template, NULL);
  g_assert_nonnull (folder);
  return folder;
}

/* Runs graft-cli with args (NULL-terminated); returns its exit status. */
static G_GNUC_UNUSED int
run_cli (char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  const char *arg;
  int wait_status;
  va_list args;

  g_ptr_array_add (argv, cli_path);
  va_start (args, err);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &stdout_text, &stderr_text,
                     &wait_status, &error))
    g_error ("cannot run %s: %s", cli_path, error->message);
  {
    /* File names in the messages may not be UTF-8; TAP readers want it. */
    g_autofree char *shown = g_utf8_make_valid (stderr_text, -1);
    g_test_message ("stderr: %s", shown);
  }
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  g_assert_true (WIFEXITED (wait_status));
  return WEXITSTATUS (wait_status);
}

/* Whether graft-cli can be run: skips the test (and says so) when GRAFT_CLI is unset. */
static G_GNUC_UNUSED gboolean
cli_test_ready (void)
{
  if (cli_path == NULL)
    {
      g_test_skip ("GRAFT_CLI is not set");
      return FALSE;
    }
  return TRUE;
}

/* text parsed as JSON; fails the test, showing text, when it is not. */
static G_GNUC_UNUSED JsonNode *
cli_test_parse (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);
  if (node == NULL)
    g_error ("not JSON (%s): %s", error->message, text);
  return node;
}
