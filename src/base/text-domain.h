/* text-domain.h: where Graft's programs find their message catalogues.
 *
 * Installed, the catalogues are in LOCALEDIR (PREFIX/share/locale). An uninstalled
 * program run from its build tree (build/src/app/graft, as the README runs it, or
 * build/src/cli/graft-cli) finds nothing there: meson writes the catalogues it compiles
 * to build/po/LANG/LC_MESSAGES/graft.mo, and that is where such a program must look, as
 * it finds its GSettings schema in build/data and its bundled data in the source tree. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The folder to bind GETTEXT_PACKAGE to: build_root/po when executable lies inside
 * build_root (and build_root/po exists), installed otherwise. build_root may be NULL
 * (a program built without one). Newly allocated. */
char *graft_locale_dir_for (const char *executable, const char *build_root, const char *installed);

/* Binds GETTEXT_PACKAGE (UTF-8) for this process, from /proc/self/exe and build_root as
 * graft_locale_dir_for says, and makes it the default domain. Returns the folder bound. */
const char *graft_bind_text_domain (const char *build_root);

G_END_DECLS
