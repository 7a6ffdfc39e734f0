/* main.c: entry point of graft, the GTK application.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "engine/parallel.h"
#include "graft-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GraftApplication) application = NULL;

  graft_prefer_passive_wait (argv);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  application = graft_application_new ();

  return g_application_run (G_APPLICATION (application), argc, argv);
}
