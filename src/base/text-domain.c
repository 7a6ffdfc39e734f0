/* text-domain.c: binding the message catalogues of an installed or an uninstalled build.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"
#include "base/text-domain.h"

#include <glib/gi18n-lib.h>
#include <string.h>

char *
graft_locale_dir_for (const char *executable, const char *build_root, const char *installed)
{
  if (executable != NULL && build_root != NULL && *build_root != '\0')
    {
      g_autofree char *root = g_canonicalize_filename (build_root, "/");
      g_autofree char *exe = g_canonicalize_filename (executable, "/");
      size_t length = strlen (root);

      if (strncmp (exe, root, length) == 0 && exe[length] == G_DIR_SEPARATOR)
        {
          char *po = g_build_filename (root, "po", NULL);
          if (g_file_test (po, G_FILE_TEST_IS_DIR))
            return po;
          g_free (po);
        }
    }
  return g_strdup (installed);
}

const char *
graft_bind_text_domain (const char *build_root)
{
  /* realpath of the running program: a symbolic link to build/src/app/graft elsewhere
   * still runs from the build tree. */
  g_autofree char *executable = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *folder = graft_locale_dir_for (executable, build_root, LOCALEDIR);
  const char *bound = bindtextdomain (GETTEXT_PACKAGE, folder);

  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  return bound;
}
