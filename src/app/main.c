/* main.c: entry point of graft, the GTK application.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "base/text-domain.h"
#include "engine/parallel.h"
#include "graft-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GraftApplication) application = NULL;

  graft_prefer_passive_wait (argv);
  setlocale (LC_ALL, "");
  /* Installed, LOCALEDIR; run from the build tree (build/src/app/graft), the catalogues
   * meson compiled in build/po, beside build/data where the schema is found. */
  {
    g_autofree char *build_root = g_path_get_dirname (GRAFT_BUILD_SCHEMA_DIR);
    graft_bind_text_domain (build_root);
  }

  application = graft_application_new ();

  return g_application_run (G_APPLICATION (application), argc, argv);
}
