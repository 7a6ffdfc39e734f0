/* export.c: a project's labelled images as an ImageFolder tree, or a CSV. */
#include "project/export.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "base/regular-file.h"
#include "project/project-private.h"

#define COPY_CHUNK (256 * 1024)

static GraftProjectError
code_for_errno (int saved_errno)
{
  switch (saved_errno)
    {
    case ENOSPC:
    case EDQUOT: return GRAFT_PROJECT_ERROR_DISK_FULL;
    case EROFS:
    case EACCES:
    case EPERM: return GRAFT_PROJECT_ERROR_READ_ONLY;
    default: return GRAFT_PROJECT_ERROR_IO;
    }
}

static gboolean
set_errno_error (GError **error, const char *path, const char *what, int saved_errno)
{
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, GRAFT_PROJECT_ERROR, code_for_errno (saved_errno), "%s: %s: %s", display, what,
               g_strerror (saved_errno));
  return FALSE;
}

/* Copies source to dest (which must not exist). A source that cannot be opened is
 * reported through *missing_source, not as an error. */
static gboolean
copy_file (const char *source, const char *dest, gboolean *missing_source, GError **error)
{
  *missing_source = FALSE;
  /* A source that is gone, or is no longer a regular file (a FIFO would block). */
  int in = graft_open_regular (source, NULL, NULL);
  if (in < 0)
    {
      *missing_source = TRUE;
      return FALSE;
    }
  int out = g_open (dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0)
    {
      int saved_errno = errno;
      close (in);
      return set_errno_error (error, dest, "cannot create", saved_errno);
    }
  g_autofree guint8 *buffer = g_malloc (COPY_CHUNK);
  for (;;)
    {
      ssize_t got = read (in, buffer, COPY_CHUNK);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          int saved_errno = errno;
          close (in);
          close (out);
          g_remove (dest);
          return set_errno_error (error, source, "cannot read", saved_errno);
        }
      if (got == 0)
        break;
      for (ssize_t done = 0; done < got;)
        {
          ssize_t put = write (out, buffer + done, (size_t) (got - done));
          if (put < 0 && errno == EINTR)
            continue;
          if (put < 0)
            {
              int saved_errno = errno;
              close (in);
              close (out);
              g_remove (dest);
              return set_errno_error (error, dest, "cannot write", saved_errno);
            }
          done += put;
        }
    }
  close (in);
  if (close (out) != 0)
    {
      int saved_errno = errno;
      g_remove (dest);
      return set_errno_error (error, dest, "cannot write", saved_errno);
    }
  return TRUE;
}

static char *
safe_folder_name (const char *name)
{
  char *safe = g_strdup (*name != '\0' ? name : "_");
  for (char *c = safe; *c != '\0'; c++)
    if (*c == G_DIR_SEPARATOR)
      *c = '_';
  if (safe[0] == '.')
    safe[0] = '_';
  return safe;
}

typedef struct {
  char *path;
  char *class_name;
  GraftSplit split;
  gint64 id;
} ExportItem;

static void
export_item_clear (ExportItem *item)
{
  g_free (item->path);
  g_free (item->class_name);
}

gboolean
graft_export_image_folder (GraftProject *project, const char *dest, GraftExportMode mode, gboolean by_split,
                           guint *exported, guint *missing, GError **error)
{
  g_return_val_if_fail (project != NULL && dest != NULL, FALSE);
  if (exported != NULL)
    *exported = 0;
  if (missing != NULL)
    *missing = 0;
  if (by_split && !graft_project_is_read_only (project) && !graft_project_assign_splits (project, NULL, error))
    return FALSE;

  /* Read the list first; the files are written without the project's lock. */
  g_autoptr (GArray) items = g_array_new (FALSE, TRUE, sizeof (ExportItem));
  g_array_set_clear_func (items, (GDestroyNotify) export_item_clear);
  {
    GRAFT_PROJECT_LOCK (project);
    GRAFT_STMT st = graft_project_statement (project,
                                             "SELECT i.id, i.path, c.name, i.split FROM images i "
                                             "JOIN classes c ON c.id = i.label WHERE i.label IS NOT NULL ORDER BY i.id",
                                             error);
    if (st == NULL)
      return FALSE;
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
      {
        ExportItem item = {
          .id = sqlite3_column_int64 (st, 0),
          .path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 1)),
          .class_name = safe_folder_name ((const char *) sqlite3_column_text (st, 2)),
          .split = (GraftSplit) sqlite3_column_int (st, 3),
        };
        if (item.split == GRAFT_SPLIT_NONE)
          item.split = GRAFT_SPLIT_TRAIN;
        g_array_append_val (items, item);
      }
    if (rc != SQLITE_DONE)
      return graft_project_fail (project, rc, "cannot read the labels", error);
  }

  g_autoptr (GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint count = 0, lost = 0;
  for (guint i = 0; i < items->len; i++)
    {
      const ExportItem *item = &g_array_index (items, ExportItem, i);
      g_autofree char *folder = by_split ? g_build_filename (dest, graft_split_name (item->split), item->class_name, NULL)
                                         : g_build_filename (dest, item->class_name, NULL);
      if (!g_hash_table_contains (folders, folder))
        {
          if (g_mkdir_with_parents (folder, 0755) != 0)
            {
              set_errno_error (error, folder, "cannot create the folder", errno);
              goto fail;
            }
          g_hash_table_add (folders, g_strdup (folder));
        }
      g_autofree char *base = g_path_get_basename (item->path);
      g_autofree char *target = g_build_filename (folder, base, NULL);
      if (g_hash_table_contains (used, target) || g_file_test (target, G_FILE_TEST_EXISTS))
        {
          const char *dot = strrchr (base, '.');
          g_autofree char *stem = dot != NULL && dot != base ? g_strndup (base, (gsize) (dot - base)) : g_strdup (base);
          g_autofree char *name = g_strdup_printf ("%s-%" G_GINT64_FORMAT "%s", stem, item->id,
                                                   dot != NULL && dot != base ? dot : "");
          g_free (target);
          target = g_build_filename (folder, name, NULL);
        }
      gboolean done = FALSE;
      if (mode == GRAFT_EXPORT_HARDLINK && link (item->path, target) == 0)
        done = TRUE;
      if (!done)
        {
          gboolean missing_source = FALSE;
          if (!copy_file (item->path, target, &missing_source, error))
            {
              if (missing_source)
                {
                  lost++;
                  continue;
                }
              goto fail;
            }
        }
      g_hash_table_add (used, g_strdup (target));
      g_ptr_array_add (created, g_steal_pointer (&target));
      count++;
    }
  if (exported != NULL)
    *exported = count;
  if (missing != NULL)
    *missing = lost;
  return TRUE;

fail:
  for (guint i = 0; i < created->len; i++)
    g_remove (g_ptr_array_index (created, i));
  return FALSE;
}

static void
csv_field (GString *out, const char *field)
{
  if (strpbrk (field, ",\"\r\n") == NULL)
    {
      g_string_append (out, field);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = field; *c != '\0'; c++)
    {
      if (*c == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

gboolean
graft_export_csv (GraftProject *project, const char *csv_path, GError **error)
{
  g_return_val_if_fail (project != NULL && csv_path != NULL, FALSE);
  g_autoptr (GString) out = g_string_new ("path,label,split\r\n");
  {
    GRAFT_PROJECT_LOCK (project);
    GRAFT_STMT st = graft_project_statement (project,
                                             "SELECT i.path, c.name, i.split FROM images i "
                                             "LEFT JOIN classes c ON c.id = i.label ORDER BY i.id",
                                             error);
    if (st == NULL)
      return FALSE;
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
      {
        g_autofree char *path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 0));
        const char *label = (const char *) sqlite3_column_text (st, 1);
        int split = sqlite3_column_int (st, 2);
        csv_field (out, path);
        g_string_append_c (out, ',');
        csv_field (out, label != NULL ? label : "");
        g_string_append_c (out, ',');
        if (label != NULL && split != GRAFT_SPLIT_NONE)
          g_string_append (out, graft_split_name ((GraftSplit) split));
        g_string_append (out, "\r\n");
      }
    if (rc != SQLITE_DONE)
      return graft_project_fail (project, rc, "cannot read the images", error);
  }
  g_autoptr (GError) local_error = NULL;
  if (!g_file_set_contents_full (csv_path, out->str, (gssize) out->len, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                 &local_error))
    {
      GraftProjectError code = GRAFT_PROJECT_ERROR_IO;
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
        code = GRAFT_PROJECT_ERROR_DISK_FULL;
      else if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_ROFS)
               || g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_ACCES))
        code = GRAFT_PROJECT_ERROR_READ_ONLY;
      g_set_error_literal (error, GRAFT_PROJECT_ERROR, code, local_error->message);
      return FALSE;
    }
  return TRUE;
}
