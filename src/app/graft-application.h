/* graft-application.h: the Graft application object.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_APPLICATION (graft_application_get_type ())

G_DECLARE_FINAL_TYPE (GraftApplication, graft_application, GRAFT, APPLICATION, AdwApplication)

GraftApplication *graft_application_new          (void);
/* The application's settings, or NULL when the schema is not installed. */
GSettings        *graft_application_get_settings (GraftApplication *self);
/* New settings of the application's schema: the installed one, else the one compiled in
 * the build tree (an uninstalled build, tests); NULL without either. */
GSettings        *graft_application_new_settings (void);

/* The feature cache folder the "cache-folder" setting names, or the default one. */
char             *graft_application_get_cache_folder (GraftApplication *self);
/* Trims the feature cache to the "cache-size-mb" limit in a worker thread (nothing when
 * the limit is 0); ::cache-trimmed (guint64 freed bytes) follows on the main thread.
 * Done by itself when the limit or the folder changes, and by windows after each run. */
void              graft_application_trim_cache (GraftApplication *self);

/* The path of a file of Graft's bundled data ("models/graft-starter.onnx",
 * "samples/train"): under $GRAFT_DATA_DIR, the installed datadir's graft/, or the
 * source tree's data/ when Graft runs from its build folder; NULL when missing. */
char *graft_application_find_data (const char *relative);

G_END_DECLS
