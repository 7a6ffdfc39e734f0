/* graft-data-export.h: what graft-cli project export writes, from the Data page's menu:
 * the labelled images as class folders (optionally under train/validation/test), or
 * every image as a CSV row (project/export.h), in a worker thread. The files are
 * copied, not hard-linked: editing an exported image must not change the project's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "graft-project-object.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_DATA_EXPORT_IMAGE_FOLDER,
  GRAFT_DATA_EXPORT_IMAGE_FOLDER_BY_SPLIT,
  GRAFT_DATA_EXPORT_CSV,
} GraftDataExportFormat;

/* "image-folder", "image-folder-by-split", "csv" (the data.export action's parameter). */
gboolean graft_data_export_format_from_string (const char *what, GraftDataExportFormat *format);
/* Exports project's images to dest (a folder, or the CSV file) in a worker thread. */
void graft_data_export_start (GraftProjectObject *project, GraftDataExportFormat format, const char *dest,
                              GAsyncReadyCallback callback, gpointer user_data);
/* What was exported, in words for a toast ("Exported 4 images to …; 1 file was
 * missing"); NULL with error when nothing was. */
char *graft_data_export_finish (GAsyncResult *result, GError **error);

G_END_DECLS
