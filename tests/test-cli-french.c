/* test-cli-french.c: an uninstalled build speaks the build's translations.
 *
 * The README runs build/src/app/graft; meson compiles the catalogues to
 * build/po/LANG/LC_MESSAGES/graft.mo, while LOCALEDIR (PREFIX/share/locale) holds none
 * until the build is installed. graft_locale_dir_for picks the build's po/ for a program
 * inside the build tree and LOCALEDIR otherwise; graft-cli and the app, run from this
 * build under LANGUAGE=fr, print French.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "base/text-domain.h"
#include "gradcheck.h"

static void
test_choice (void)
{
  g_autofree char *root = g_dir_make_tmp ("graft-text-domain-XXXXXX", NULL);
  g_autofree char *po = g_build_filename (root, "po", NULL);
  g_autofree char *exe = g_build_filename (root, "src", "app", "graft", NULL);
  g_autofree char *sibling = g_strconcat (root, "2", G_DIR_SEPARATOR_S, "graft", NULL);
  g_autofree char *chosen = NULL;

  g_assert_nonnull (root);
  /* Without build/po (nothing compiled yet): the installed folder. */
  chosen = graft_locale_dir_for (exe, root, "/usr/share/locale");
  g_assert_cmpstr (chosen, ==, "/usr/share/locale");
  g_clear_pointer (&chosen, g_free);

  g_assert_cmpint (g_mkdir (po, 0700), ==, 0);
  chosen = graft_locale_dir_for (exe, root, "/usr/share/locale");
  g_assert_cmpstr (chosen, ==, po);
  g_clear_pointer (&chosen, g_free);

  /* Installed elsewhere, a folder whose name merely starts like the build's, no build. */
  chosen = graft_locale_dir_for ("/usr/bin/graft", root, "/usr/share/locale");
  g_assert_cmpstr (chosen, ==, "/usr/share/locale");
  g_clear_pointer (&chosen, g_free);
  chosen = graft_locale_dir_for (sibling, root, "/usr/share/locale");
  g_assert_cmpstr (chosen, ==, "/usr/share/locale");
  g_clear_pointer (&chosen, g_free);
  chosen = graft_locale_dir_for (exe, NULL, "/usr/share/locale");
  g_assert_cmpstr (chosen, ==, "/usr/share/locale");
  g_clear_pointer (&chosen, g_free);

  g_rmdir (po);
  g_rmdir (root);
}

/* Runs argv under French messages (LANGUAGE is ignored in the "C" locale: C.UTF-8
 * underneath, always there with glibc); its stdout and stderr together. */
static char *
run_in_french (char **argv)
{
  g_auto (GStrv) env = g_get_environ ();
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  env = g_environ_setenv (env, "LANGUAGE", "fr", TRUE);
  env = g_environ_setenv (env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_unsetenv (env, "LANG");
  g_assert_true (g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s: %s%s", argv[0], out, err);
  return g_strconcat (out, err, NULL);
}

static void
test_cli (void)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  char *unknown[] = { (char *) cli, (char *) "no-such-command", NULL };
  char *help[] = { (char *) cli, (char *) "help", NULL };
  g_autofree char *said = NULL;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  said = run_in_french (unknown);
  g_assert_nonnull (strstr (said, "commande inconnue « no-such-command »"));
  g_clear_pointer (&said, g_free);
  said = run_in_french (help);
  g_assert_nonnull (strstr (said, "Commandes :"));
  g_assert_nonnull (strstr (said, "afficher la version"));
  g_assert_null (strstr (said, "print the version"));
}

/* A command's usage error and its --help (GOption's summary, option descriptions and the
 * preprocessing group, in graft's text domain), and a failure's message and progress words:
 * graft-cli's own strings, not only the layers' below it. */
static void
test_commands (void)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autofree char *folder = NULL, *missing = NULL;
  char *bad_epochs[] = { (char *) cli, (char *) "train", (char *) "--epochs", (char *) "abc", (char *) "a.onnx",
                         (char *) "data", (char *) "--output", (char *) "out.onnx", NULL };
  char *eval_help[] = { (char *) cli, (char *) "eval", (char *) "--help-all", NULL };
  char *project_help[] = { (char *) cli, (char *) "project", (char *) "--help", NULL };
  char *no_project[] = { (char *) cli, (char *) "runs", NULL, NULL };
  char *models_list[] = { (char *) cli, (char *) "models", (char *) "list", NULL };
  g_autofree char *said = NULL;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  folder = g_dir_make_tmp ("graft-french-XXXXXX", NULL);
  g_assert_nonnull (folder);
  missing = g_build_filename (folder, "no-such-folder", NULL);
  no_project[2] = missing;
  said = run_in_french (bad_epochs);
  g_assert_nonnull (
      strstr (said, "graft-cli train : --epochs abc n’est pas un nombre entier (donnez-en un de 1 à 10000)"));
  g_assert_nonnull (strstr (said, "Essayez « graft-cli train --help » pour voir les options."));
  g_assert_null (strstr (said, "is not a whole number"));
  g_clear_pointer (&said, g_free);

  said = run_in_french (eval_help);
  /* The summary, an entry of the command, one of the preprocessing group, the description. */
  g_assert_nonnull (strstr (said, "Mesure un classifieur sur une arborescence ImageFolder"));
  g_assert_nonnull (strstr (said, "Images par lot (32 par défaut)"));
  g_assert_nonnull (strstr (said, "Le modèle prend les canaux dans l’ordre B, G, R"));
  g_assert_nonnull (strstr (said, "Code de sortie : 0 quand chaque image a été lue"));
  g_assert_null (strstr (said, "Images per batch"));
  g_assert_null (strstr (said, "Measures a classifier"));
  g_clear_pointer (&said, g_free);

  said = run_in_french (project_help);
  g_assert_nonnull (strstr (said, "Lancez « graft-cli project SOUS-COMMANDE --help » pour ses options."));
  g_clear_pointer (&said, g_free);

  /* A table's headings and its closing line (the bundled catalog: no network). */
  said = run_in_french (models_list);
  g_assert_nonnull (strstr (said, "NOM"));
  g_assert_nonnull (strstr (said, "DESCRIPTION"));
  g_assert_nonnull (strstr (said, "Les modèles vont dans"));
  g_assert_null (strstr (said, "Models go to"));
  {
    /* The columns line up with the longest name (ConvNeXt's is 30 characters). */
    const char *short_row = strstr (said, "\nmobilenetv2-7 "), *long_row = strstr (said, "\nconvnext_tiny_in22ft1k_Opset17 ");
    g_assert_nonnull (short_row);
    g_assert_nonnull (long_row);
    g_assert_cmpint (strstr (short_row, " MB ") - short_row, ==, strstr (long_row, " MB ") - long_row);
  }
  g_clear_pointer (&said, g_free);

  said = run_in_french (no_project);
  g_assert_nonnull (strstr (said, "no-such-folder : aucun projet ici (graft-cli project create en crée un)"));
  g_assert_null (strstr (said, "no project here"));
  g_rmdir (folder);
}

/* The importer's reasons for leaving files out (src/project/import.c) and graft-cli's
 * report of an import, counts included. */
static void
test_import (void)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autofree char *folder = NULL, *tree = NULL, *cats = NULL, *empty = NULL, *gif = NULL, *project = NULL;
  g_autofree char *said = NULL;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  folder = g_dir_make_tmp ("graft-french-XXXXXX", NULL);
  g_assert_nonnull (folder);
  tree = g_build_filename (folder, "tree", NULL);
  cats = g_build_filename (tree, "cats", NULL);
  empty = g_build_filename (cats, "empty.png", NULL);
  gif = g_build_filename (cats, "moving.png", NULL);
  project = g_build_filename (folder, "project", NULL);
  g_assert_cmpint (g_mkdir_with_parents (cats, 0700), ==, 0);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (g_file_set_contents (gif, "GIF89a\x01\0\x01\0", 10, NULL));
  {
    char *create[] = { (char *) cli, (char *) "project", (char *) "create", project, (char *) "--import", tree, NULL };
    said = run_in_french (create);
  }
  g_assert_nonnull (strstr (said, "0 image ajoutée, 0 étiquetée, 0 nouvelle classe, 2 écartés"));
  g_assert_nonnull (strstr (said, "empty.png : pas une image (un fichier vide)"));
  g_assert_nonnull (strstr (said, "moving.png : format d’image non pris en charge (une image GIF ; Graft lit le PNG et "
                                  "le JPEG)"));
  g_assert_null (strstr (said, "an empty file"));
  g_assert_null (strstr (said, "left out"));

  test_remove_tree (folder);
}

/* The layers' error messages (catalog, data), as graft-cli and the app show them. */
static void
test_errors (void)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "..", "data", "models", "graft-starter.onnx", NULL);
  g_autofree char *folder = NULL, *empty = NULL;
  char *unknown_model[] = { (char *) cli, (char *) "models", (char *) "path", (char *) "no-such-model", NULL };
  char *predict[] = { (char *) cli, (char *) "predict", model, NULL, NULL };
  g_autofree char *said = NULL;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  /* Made after the check: a skipped test leaves no folder behind. */
  folder = g_dir_make_tmp ("graft-french-XXXXXX", NULL);
  g_assert_nonnull (folder);
  empty = g_build_filename (folder, "empty.png", NULL);
  predict[3] = empty;
  said = run_in_french (unknown_model);
  g_assert_nonnull (strstr (said, "le catalogue n’a aucun modèle nommé « no-such-model »"));
  g_clear_pointer (&said, g_free);
  if (g_file_test (model, G_FILE_TEST_IS_REGULAR))
    {
      g_assert_true (g_file_set_contents (empty, "", 0, NULL));
      said = run_in_french (predict);
      g_assert_nonnull (strstr (said, "pas une image PNG ou JPEG (le fichier est vide)"));
      g_unlink (empty);
    }
  g_rmdir (folder);
}

static void
test_app (void)
{
  g_autofree char *app = g_test_build_filename (G_TEST_BUILT, "..", "src", "app", "graft", NULL);
  char *help[] = { app, (char *) "--help", NULL };
  g_autofree char *said = NULL;

  if (!g_file_test (app, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("the app is not built");
      return;
    }
  /* The --sample option's description, in the app's own text domain. */
  said = run_in_french (help);
  g_assert_nonnull (strstr (said, "Ouvrir le projet d’exemple"));
  g_assert_null (strstr (said, "Open the sample project"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/french/locale-dir", test_choice);
  g_test_add_func ("/cli/french/graft-cli", test_cli);
  g_test_add_func ("/cli/french/commands", test_commands);
  g_test_add_func ("/cli/french/import", test_import);
  g_test_add_func ("/cli/french/errors", test_errors);
  g_test_add_func ("/cli/french/app", test_app);
  return g_test_run ();
}
