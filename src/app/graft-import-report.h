/* graft-import-report.h: what an import left out, in the person's language: the
 * "N Files Skipped" dialog (each file with why), which the Data page's import toast
 * opens with its Details button.
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

G_END_DECLS
