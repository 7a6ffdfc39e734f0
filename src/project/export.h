/* export.h: taking a project's images out again, as other tools read them: an
 * ImageFolder tree of class folders (optionally by split) or a CSV table
 * (import.h brings them in). graft-cli project export and the Data page's Export use it.
 */
#pragma once

#include "project/project.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_EXPORT_COPY,
  GRAFT_EXPORT_HARDLINK,       /* a hard link where the file system allows it, a copy elsewhere */
} GraftExportMode;

/* The labelled images as an ImageFolder tree: dest/<class>/<file name>, or with by_split
 * dest/<train|validation|test>/<class>/<file name> (splits are assigned first). A name
 * taken twice becomes <stem>-<image id>.<ext>; '/' and a leading '.' in class names
 * become '_'. Missing source files are skipped and counted in missing. On an error the
 * files written so far are removed. */
gboolean graft_export_image_folder (GraftProject *project, const char *dest, GraftExportMode mode, gboolean by_split,
                                    guint *exported, guint *missing, GError **error);
/* Every image as "path,label,split" rows (absolute paths; empty label and split when
 * none) under a header, RFC 4180 quoting; written atomically. */
gboolean graft_export_csv (GraftProject *project, const char *csv_path, GError **error);

G_END_DECLS
