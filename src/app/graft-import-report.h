/* graft-import-report.h: the Data page's imports around the project's: the file
 * chooser of each kind of import (its title and filters), and what an import left out,
 * in the person's language: the "N Files Skipped" dialog (each file with why), which the
 * import's toast opens with its Details button.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"

G_BEGIN_DECLS

/* Why a file was skipped, translated. */
const char *graft_import_skip_reason_text (GraftSkipReason reason);
/* Presents the dialog listing report's skipped files (the first 500), modal to parent. */
void graft_import_report_present (GtkWindow *parent, const GraftImportReport *report);

/* A modal chooser for an import of what ("folder", "image-folder", "csv",
 * "teachable-machine", anything else: image files), not shown yet; kind: the import it
 * is for. */
GtkFileChooserNative *graft_import_chooser_new (GtkWindow *parent, const char *what, GraftImportKind *kind);
/* The local paths chosen, NULL-terminated (g_strfreev). */
char **graft_import_chooser_get_paths (GtkFileChooser *chooser);

G_END_DECLS
