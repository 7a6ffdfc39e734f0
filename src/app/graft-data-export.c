/* graft-data-export.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-data-export.h"

#include <glib/gi18n.h>

#include "project/export.h"

typedef struct {
  GraftProjectObject *project;
  char *dest;
  GraftDataExportFormat format;
  guint exported;
  guint missing;
} ExportData;

static void
export_data_free (gpointer data)
{
  ExportData *export = data;
  g_object_unref (export->project);
  g_free (export->dest);
  g_free (export);
}

gboolean
graft_data_export_format_from_string (const char *what, GraftDataExportFormat *format)
{
  if (g_str_equal (what, "image-folder"))
    *format = GRAFT_DATA_EXPORT_IMAGE_FOLDER;
  else if (g_str_equal (what, "image-folder-by-split"))
    *format = GRAFT_DATA_EXPORT_IMAGE_FOLDER_BY_SPLIT;
  else if (g_str_equal (what, "csv"))
    *format = GRAFT_DATA_EXPORT_CSV;
  else
    return FALSE;
  return TRUE;
}

static void
export_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ExportData *export = task_data;
  GraftProject *project = graft_project_object_get_project (export->project);
  GError *error = NULL;
  gboolean ok;

  if (export->format == GRAFT_DATA_EXPORT_CSV)
    ok = graft_export_csv (project, export->dest, &error);
  else
    ok = graft_export_image_folder (project, export->dest, GRAFT_EXPORT_COPY,
                                    export->format == GRAFT_DATA_EXPORT_IMAGE_FOLDER_BY_SPLIT, &export->exported,
                                    &export->missing, &error);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
graft_data_export_start (GraftProjectObject *project, GraftDataExportFormat format, const char *dest,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  ExportData *export;

  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (project));

  export = g_new0 (ExportData, 1);
  export->project = g_object_ref (project);
  export->dest = g_strdup (dest);
  export->format = format;
  /* The CSV has a row for every image; graft_export_csv does not count them. */
  if (format == GRAFT_DATA_EXPORT_CSV)
    export->exported = graft_project_object_count_images (project, GRAFT_FILTER_ALL, 0);
  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, graft_data_export_start);
  g_task_set_task_data (task, export, export_data_free);
  g_task_run_in_thread (task, export_thread);
}

char *
graft_data_export_finish (GAsyncResult *result, GError **error)
{
  ExportData *export = g_task_get_task_data (G_TASK (result));
  char *message;

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  message = g_strdup_printf (ngettext ("Exported %u image to %s", "Exported %u images to %s", export->exported),
                             export->exported, export->dest);
  if (export->missing > 0)
    {
      /* Each count with its own plural: "Exported 1 image to …; 3 files were missing". */
      g_autofree char *missing = g_strdup_printf (ngettext ("%u file was missing", "%u files were missing",
                                                            export->missing),
                                                  export->missing);
      /* Translators: an export's result, then what was missing ("Exported 4 images to …; 1
       * file was missing"). */
      g_autofree char *both = g_strdup_printf (_("%s; %s"), message, missing);
      g_free (message);
      message = g_steal_pointer (&both);
    }
  return message;
}
