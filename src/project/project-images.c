/* project-images.c: images, the grid's queries, lazy hashing, relinking, splits, the
 * dataset for a run, and predictions. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "project/project-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file-hash.h"

#define HASH_BATCH 256

void
graft_image_info_clear (GraftImageInfo *info)
{
  g_clear_pointer (&info->path, g_free);
  g_clear_pointer (&info->hash, g_free);
}

#define IMAGE_COLUMNS \
  "i.id, i.path, i.hash, i.size, i.mtime, i.added, i.label, l.source, l.time, i.split, i.suggestion," \
  " p.confidence, i.missing FROM images i LEFT JOIN labels l ON l.image = i.id" \
  " LEFT JOIN predictions p ON p.image = i.id "

static void
read_image_row (GraftProject *project, sqlite3_stmt *st, GraftImageInfo *info)
{
  memset (info, 0, sizeof *info);
  info->id = sqlite3_column_int64 (st, 0);
  info->path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 1));
  if (sqlite3_column_type (st, 2) != SQLITE_NULL)
    info->hash = g_strdup ((const char *) sqlite3_column_text (st, 2));
  info->size = sqlite3_column_int64 (st, 3);
  info->mtime = sqlite3_column_int64 (st, 4);
  info->added = sqlite3_column_int64 (st, 5);
  info->class_id = sqlite3_column_int64 (st, 6);
  info->source = info->class_id != 0 ? (GraftLabelSource) sqlite3_column_int (st, 7) : GRAFT_LABEL_NONE;
  info->label_time = sqlite3_column_int64 (st, 8);
  info->split = (GraftSplit) sqlite3_column_int (st, 9);
  info->suggestion = sqlite3_column_int64 (st, 10);
  info->confidence = (float) sqlite3_column_double (st, 11);
  info->missing = sqlite3_column_int (st, 12) != 0;
}

/* ---- Adding and removing ------------------------------------------------------------ */

gint64
graft_project_insert_image (GraftProject *project, const char *stored_path, const char *hash, gint64 size,
                            gint64 mtime, gint64 *existing, GError **error)
{
  if (existing != NULL)
    *existing = 0;
  GRAFT_STMT st = graft_project_statement (project,
                                           "INSERT INTO images (path, hash, size, mtime, added) VALUES (?, ?, ?, ?, ?) "
                                           "ON CONFLICT (path) DO NOTHING",
                                           error);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, stored_path, -1, SQLITE_TRANSIENT);
  if (hash != NULL)
    sqlite3_bind_text (st, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, size);
  sqlite3_bind_int64 (st, 4, mtime);
  sqlite3_bind_int64 (st, 5, g_get_real_time ());
  if (!graft_project_step_done (project, st, "cannot add the image", error))
    return 0;
  if (sqlite3_changes (project->db) == 0)
    {
      if (existing != NULL)
        {
          GRAFT_STMT find = graft_project_statement (project, "SELECT id FROM images WHERE path = ?", error);
          if (find == NULL)
            return 0;
          sqlite3_bind_text (find, 1, stored_path, -1, SQLITE_TRANSIENT);
          if (sqlite3_step (find) == SQLITE_ROW)
            *existing = sqlite3_column_int64 (find, 0);
        }
      return 0;
    }
  return sqlite3_last_insert_rowid (project->db);
}

gint64
graft_project_find_hash (GraftProject *project, const char *hash, char **path)
{
  if (path != NULL)
    *path = NULL;
  GRAFT_STMT st = graft_project_statement (project, "SELECT id, path FROM images WHERE hash = ? ORDER BY id LIMIT 1",
                                           NULL);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, hash, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (st) != SQLITE_ROW)
    return 0;
  if (path != NULL)
    *path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 1));
  return sqlite3_column_int64 (st, 0);
}

gint64
graft_project_add_image (GraftProject *project, const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, 0);
  g_autofree char *display = g_filename_display_name (path);
  guint8 head[GRAFT_MAGIC_BYTES];
  g_autoptr (GError) read_error = NULL;
  gssize got = graft_project_read_head (path, head, sizeof head, &read_error);
  if (got < 0)
    {
      /* The message names the file. */
      g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, read_error->message);
      return 0;
    }
  const char *format = NULL;
  GraftMagic magic = graft_project_sniff (head, (gsize) got, &format);
  if (magic != GRAFT_MAGIC_PNG && magic != GRAFT_MAGIC_JPEG)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, _("%s: not a PNG or JPEG image%s%s%s"), display,
                   format != NULL ? " (a " : "", format != NULL ? format : "", format != NULL ? " image)" : "");
      return 0;
    }
  struct stat st;
  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("%s: cannot read: %s"), display, g_strerror (errno));
      return 0;
    }
  g_autofree char *hash = graft_file_sha256 (path, error);
  if (hash == NULL)
    return 0;

  GRAFT_PROJECT_LOCK (project);
  g_autofree char *stored = graft_project_store_path (project, path);
  if (!graft_project_begin (project, error))
    return 0;
  g_autofree char *basename = g_path_get_basename (path);
  g_autofree char *description = g_strdup_printf ("Add “%s”", basename);
  gint64 action = graft_project_action_begin (project, "add-images", description, error);
  gint64 existing = 0;
  gint64 id = action != 0 ? graft_project_insert_image (project, stored, hash, st.st_size,
                                                        graft_project_stat_mtime (&st), &existing, error)
                          : 0;
  if (id == 0 && existing != 0)
    {
      graft_project_rollback (project);
      return existing;
    }
  if (id == 0 || !graft_project_record_new_image (project, action, id, error)
      || !graft_project_action_finish (project, action, error))
    {
      graft_project_rollback (project);
      return 0;
    }
  if (!graft_project_commit (project, error))
    return 0;
  return id;
}

gboolean
graft_project_remove_images (GraftProject *project, const gint64 *image_ids, guint n_images, GError **error)
{
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  g_autofree char *description = n_images == 1 ? g_strdup ("Remove an image")
                                               : g_strdup_printf ("Remove %u images", n_images);
  gint64 action = graft_project_action_begin (project, "remove-images", description, error);
  if (action == 0)
    goto fail;
  for (guint i = 0; i < n_images; i++)
    {
      if (!graft_project_record_label (project, action, image_ids[i], error)
          || !graft_project_record_image (project, action, image_ids[i], error))
        goto fail;
      GRAFT_STMT st = graft_project_statement (project, "DELETE FROM images WHERE id = ?", error);
      if (st == NULL)
        goto fail;
      sqlite3_bind_int64 (st, 1, image_ids[i]);
      if (!graft_project_step_done (project, st, "cannot remove the image", error))
        goto fail;
    }
  /* Labels recorded for images that did not exist would come back as nothing: drop them. */
  {
    GRAFT_STMT st = graft_project_statement (project, "DELETE FROM undo_labels WHERE action = ?1 AND NOT EXISTS "
                                             "(SELECT 1 FROM undo_images u WHERE u.action = ?1 AND u.image = undo_labels.image)",
                                             error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_int64 (st, 1, action);
    if (!graft_project_step_done (project, st, "cannot record the removal", error))
      goto fail;
  }
  if (!graft_project_action_finish (project, action, error))
    goto fail;
  return graft_project_commit (project, error);

fail:
  graft_project_rollback (project);
  return FALSE;
}

gboolean
graft_project_get_image (GraftProject *project, gint64 image_id, GraftImageInfo *info, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT " IMAGE_COLUMNS "WHERE i.id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, image_id);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    {
      read_image_row (project, st, info);
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    return graft_project_fail (project, rc, "cannot read the image", error);
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND, _("No image %lld in the project"),
               (long long) image_id);
  return FALSE;
}

gint64
graft_project_find_image (GraftProject *project, const char *path)
{
  GRAFT_PROJECT_LOCK (project);
  g_autofree char *absolute = g_path_is_absolute (path) ? g_strdup (path) : g_build_filename (project->folder, path, NULL);
  g_autofree char *stored = graft_project_store_path (project, absolute);
  GRAFT_STMT st = graft_project_statement (project, "SELECT id FROM images WHERE path = ?", NULL);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, stored, -1, SQLITE_TRANSIENT);
  return sqlite3_step (st) == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : 0;
}

/* ---- Queries ------------------------------------------------------------------------ */

/* The WHERE of each filter, written so that SQLite takes its partial index:
 * images_label (label, id), images_labelled (id), images_unlabelled (id),
 * images_suggested (suggestion, id), images_suggested_any (id), images_split (split, id). */
static const char *
filter_sql (const GraftImageQuery *query, gboolean *has_parameter)
{
  *has_parameter = FALSE;
  switch (query->filter)
    {
    case GRAFT_FILTER_CLASS:
      *has_parameter = TRUE;
      return "i.label = ?3";
    case GRAFT_FILTER_LABELLED:
      return "i.label IS NOT NULL";
    case GRAFT_FILTER_UNLABELLED:
      return "i.label IS NULL";
    case GRAFT_FILTER_SUGGESTED:
      if (query->class_id != 0)
        {
          *has_parameter = TRUE;
          return "i.label IS NULL AND i.suggestion = ?3";
        }
      return "i.label IS NULL AND i.suggestion IS NOT NULL";
    case GRAFT_FILTER_SPLIT:
      *has_parameter = TRUE;
      return "i.label IS NOT NULL AND i.split = ?3";
    case GRAFT_FILTER_ALL:
    default:
      return "1";
    }
}

static void
bind_filter (sqlite3_stmt *st, const GraftImageQuery *query, gboolean has_parameter)
{
  if (!has_parameter)
    return;
  sqlite3_bind_int64 (st, 3, query->filter == GRAFT_FILTER_SPLIT ? (gint64) query->split : query->class_id);
}

GArray *
graft_project_query_images (GraftProject *project, const GraftImageQuery *query, gint64 after_id, guint limit,
                            GError **error)
{
  g_return_val_if_fail (query != NULL, NULL);
  GRAFT_PROJECT_LOCK (project);
  gboolean has_parameter;
  const char *where = filter_sql (query, &has_parameter);
  g_autofree char *sql = g_strdup_printf ("SELECT " IMAGE_COLUMNS "WHERE %s AND i.id > ?1 ORDER BY i.id LIMIT ?2", where);
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, after_id);
  sqlite3_bind_int64 (st, 2, limit);
  bind_filter (st, query, has_parameter);
  GArray *rows = g_array_sized_new (FALSE, TRUE, sizeof (GraftImageInfo), MIN (limit, 4096));
  g_array_set_clear_func (rows, (GDestroyNotify) graft_image_info_clear);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftImageInfo info;
      read_image_row (project, st, &info);
      g_array_append_val (rows, info);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (rows);
      graft_project_fail (project, rc, "cannot read the images", error);
      return NULL;
    }
  return rows;
}

GArray *
graft_project_query_ids (GraftProject *project, const GraftImageQuery *query, GError **error)
{
  g_return_val_if_fail (query != NULL, NULL);
  GRAFT_PROJECT_LOCK (project);
  gboolean has_parameter;
  const char *where = filter_sql (query, &has_parameter);
  g_autofree char *sql = g_strdup_printf ("SELECT i.id FROM images i WHERE %s ORDER BY i.id", where);
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return NULL;
  bind_filter (st, query, has_parameter);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (st, 0);
      g_array_append_val (ids, id);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (ids);
      graft_project_fail (project, rc, "cannot read the images", error);
      return NULL;
    }
  return ids;
}

guint
graft_project_count_images (GraftProject *project, const GraftImageQuery *query, GError **error)
{
  g_return_val_if_fail (query != NULL, 0);
  GRAFT_PROJECT_LOCK (project);
  gboolean has_parameter;
  const char *where = filter_sql (query, &has_parameter);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM images i WHERE %s", where);
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return 0;
  bind_filter (st, query, has_parameter);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    {
      graft_project_fail (project, rc, "cannot count the images", error);
      return 0;
    }
  return (guint) sqlite3_column_int64 (st, 0);
}

GPtrArray *
graft_project_duplicate_groups (GraftProject *project, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT hash, id FROM images WHERE hash IN "
                                           "(SELECT hash FROM images WHERE hash IS NOT NULL GROUP BY hash HAVING count(*) > 1) "
                                           "ORDER BY hash, id",
                                           error);
  if (st == NULL)
    return NULL;
  GPtrArray *groups = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autofree char *last = NULL;
  GArray *group = NULL;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      const char *hash = (const char *) sqlite3_column_text (st, 0);
      if (group == NULL || g_strcmp0 (hash, last) != 0)
        {
          group = g_array_new (FALSE, FALSE, sizeof (gint64));
          g_ptr_array_add (groups, group);
          g_free (last);
          last = g_strdup (hash);
        }
      gint64 id = sqlite3_column_int64 (st, 1);
      g_array_append_val (group, id);
    }
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_unref (groups);
      graft_project_fail (project, rc, "cannot read the images", error);
      return NULL;
    }
  return groups;
}

/* ---- Lazy hashing ------------------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *path;
  char *hash;
  gint64 size, mtime;
} HashJob;

static void
hash_job_clear (HashJob *job)
{
  g_free (job->path);
  g_free (job->hash);
}

gint64
graft_project_hash_pending (GraftProject *project, GCancellable *cancellable, guint max, GError **error)
{
  gint64 hashed = 0;
  gint64 after = 0;
  for (;;)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;
      g_autoptr (GArray) jobs = g_array_new (FALSE, TRUE, sizeof (HashJob));
      g_array_set_clear_func (jobs, (GDestroyNotify) hash_job_clear);
      guint batch = max > 0 ? MIN (HASH_BATCH, max - (guint) hashed) : HASH_BATCH;
      if (batch == 0)
        break;
      {
        GRAFT_PROJECT_LOCK (project);
        if (project->read_only)
          {
            graft_project_begin (project, error); /* sets the read-only error */
            return -1;
          }
        GRAFT_STMT st = graft_project_statement (project,
                                                 "SELECT id, path FROM images WHERE hash IS NULL AND missing = 0 "
                                                 "AND id > ? ORDER BY id LIMIT ?",
                                                 error);
        if (st == NULL)
          return -1;
        sqlite3_bind_int64 (st, 1, after);
        sqlite3_bind_int (st, 2, (int) batch);
        while (sqlite3_step (st) == SQLITE_ROW)
          {
            HashJob job = { .id = sqlite3_column_int64 (st, 0) };
            job.path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 1));
            g_array_append_val (jobs, job);
          }
      }
      if (jobs->len == 0)
        break;
      /* Read the files without the lock. */
      for (guint i = 0; i < jobs->len; i++)
        {
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return -1;
          HashJob *job = &g_array_index (jobs, HashJob, i);
          struct stat st;
          if (g_stat (job->path, &st) == 0)
            {
              job->size = st.st_size;
              job->mtime = graft_project_stat_mtime (&st);
              job->hash = graft_file_sha256 (job->path, NULL);
            }
          after = job->id;
        }
      {
        GRAFT_PROJECT_LOCK (project);
        if (!graft_project_begin (project, error))
          return -1;
        for (guint i = 0; i < jobs->len; i++)
          {
            HashJob *job = &g_array_index (jobs, HashJob, i);
            GRAFT_STMT st = graft_project_statement (project,
                                                     job->hash != NULL
                                                       ? "UPDATE images SET hash = ?2, size = ?3, mtime = ?4 WHERE id = ?1"
                                                       : "UPDATE images SET missing = 1 WHERE id = ?1",
                                                     error);
            if (st == NULL)
              {
                graft_project_rollback (project);
                return -1;
              }
            sqlite3_bind_int64 (st, 1, job->id);
            if (job->hash != NULL)
              {
                sqlite3_bind_text (st, 2, job->hash, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64 (st, 3, job->size);
                sqlite3_bind_int64 (st, 4, job->mtime);
              }
            if (!graft_project_step_done (project, st, "cannot store the content hash", error))
              {
                graft_project_rollback (project);
                return -1;
              }
            if (job->hash != NULL)
              hashed++;
          }
        if (!graft_project_commit (project, error))
          return -1;
      }
    }
  return hashed;
}

static gpointer
hash_thread (gpointer data)
{
  GraftProject *project = data;
  g_mutex_lock (&project->hash_mutex);
  GCancellable *cancellable = g_object_ref (project->hash_cancellable);
  g_mutex_unlock (&project->hash_mutex);
  g_autoptr (GError) error = NULL;
  if (graft_project_hash_pending (project, cancellable, 0, &error) < 0
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("Hashing the project's images stopped: %s", error->message);
  g_object_unref (cancellable);
  g_atomic_int_set (&project->hash_running, 0);
  return NULL;
}

void
graft_project_start_hashing (GraftProject *project)
{
  g_mutex_lock (&project->hash_mutex);
  if (project->hash_thread != NULL && g_atomic_int_get (&project->hash_running))
    {
      g_mutex_unlock (&project->hash_mutex);
      return;
    }
  GThread *finished = g_steal_pointer (&project->hash_thread);
  g_mutex_unlock (&project->hash_mutex);
  if (finished != NULL)
    g_thread_join (finished);

  g_mutex_lock (&project->hash_mutex);
  if (project->hash_thread == NULL)
    {
      g_clear_object (&project->hash_cancellable);
      project->hash_cancellable = g_cancellable_new ();
      g_atomic_int_set (&project->hash_running, 1);
      project->hash_thread = g_thread_new ("graft-hash", hash_thread, project);
    }
  g_mutex_unlock (&project->hash_mutex);
}

void
graft_project_wait_hashing (GraftProject *project)
{
  g_mutex_lock (&project->hash_mutex);
  GThread *thread = g_steal_pointer (&project->hash_thread);
  g_mutex_unlock (&project->hash_mutex);
  if (thread != NULL)
    g_thread_join (thread);
}

guint
graft_project_count_unhashed (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT count(*) FROM images WHERE hash IS NULL AND missing = 0",
                                           NULL);
  if (st == NULL || sqlite3_step (st) != SQLITE_ROW)
    return 0;
  return (guint) sqlite3_column_int64 (st, 0);
}

/* ---- Relinking ---------------------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *hash;
  char *basename;
  gint64 size;
  char *found;          /* the new path, once found */
} MissingImage;

static void
missing_image_free (MissingImage *m)
{
  g_free (m->hash);
  g_free (m->basename);
  g_free (m->found);
  g_free (m);
}

typedef struct {
  GHashTable *by_size;      /* gint64 * size -> GPtrArray of MissingImage (not owned) */
  GHashTable *by_hash;      /* hash -> MissingImage */
  guint left;
} RelinkState;

static void
relink_scan (RelinkState *state, const char *folder, int depth)
{
  if (depth > 64 || state->left == 0)
    return;
  GDir *dir = g_dir_open (folder, 0, NULL);
  if (dir == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL && state->left > 0)
    {
      if (name[0] == '.')
        continue;
      g_autofree char *path = g_build_filename (folder, name, NULL);
      struct stat st;
      if (g_lstat (path, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          relink_scan (state, path, depth + 1);
          continue;
        }
      if (!S_ISREG (st.st_mode))
        continue;
      gint64 size = st.st_size;
      GPtrArray *candidates = g_hash_table_lookup (state->by_size, &size);
      if (candidates == NULL)
        continue;
      g_autofree char *hash = NULL;
      for (guint i = 0; i < candidates->len; i++)
        {
          MissingImage *m = g_ptr_array_index (candidates, i);
          if (m->found != NULL)
            continue;
          if (m->hash != NULL)
            {
              if (hash == NULL)
                hash = graft_file_sha256 (path, NULL);
              if (hash == NULL)
                break;
              MissingImage *match = g_hash_table_lookup (state->by_hash, hash);
              if (match != NULL && match->found == NULL)
                {
                  match->found = g_strdup (path);
                  state->left--;
                  break;
                }
            }
          else if (strcmp (m->basename, name) == 0)
            {
              m->found = g_strdup (path);
              state->left--;
              break;
            }
        }
    }
  g_dir_close (dir);
}

gboolean
graft_project_relink (GraftProject *project, const char *folder, guint *relinked, GError **error)
{
  g_return_val_if_fail (folder != NULL, FALSE);
  if (relinked != NULL)
    *relinked = 0;
  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *display = g_filename_display_name (folder);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND, _("%s: not a folder"), display);
      return FALSE;
    }
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func ((GDestroyNotify) missing_image_free);
  {
    GRAFT_PROJECT_LOCK (project);
    if (project->read_only)
      return graft_project_begin (project, error);
    GRAFT_STMT st = graft_project_statement (project, "SELECT id, path, hash, size FROM images", error);
    if (st == NULL)
      return FALSE;
    while (sqlite3_step (st) == SQLITE_ROW)
      {
        g_autofree char *path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 1));
        if (g_file_test (path, G_FILE_TEST_EXISTS))
          continue;
        MissingImage *m = g_new0 (MissingImage, 1);
        m->id = sqlite3_column_int64 (st, 0);
        if (sqlite3_column_type (st, 2) != SQLITE_NULL)
          m->hash = g_strdup ((const char *) sqlite3_column_text (st, 2));
        m->basename = g_path_get_basename (path);
        m->size = sqlite3_column_int64 (st, 3);
        g_ptr_array_add (missing, m);
      }
  }
  if (missing->len == 0)
    return TRUE;

  RelinkState state = {
    .by_size = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) g_ptr_array_unref),
    .by_hash = g_hash_table_new (g_str_hash, g_str_equal),
    .left = missing->len,
  };
  for (guint i = 0; i < missing->len; i++)
    {
      MissingImage *m = g_ptr_array_index (missing, i);
      GPtrArray *list = g_hash_table_lookup (state.by_size, &m->size);
      if (list == NULL)
        {
          list = g_ptr_array_new ();
          g_hash_table_insert (state.by_size, &m->size, list);
        }
      g_ptr_array_add (list, m);
      if (m->hash != NULL)
        g_hash_table_insert (state.by_hash, m->hash, m);
    }
  relink_scan (&state, folder, 0);
  g_hash_table_destroy (state.by_size);
  g_hash_table_destroy (state.by_hash);

  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  guint count = 0;
  for (guint i = 0; i < missing->len; i++)
    {
      MissingImage *m = g_ptr_array_index (missing, i);
      if (m->found == NULL)
        continue;
      g_autofree char *stored = graft_project_store_path (project, m->found);
      GRAFT_STMT st = graft_project_statement (project,
                                               "UPDATE OR IGNORE images SET path = ?2, missing = 0 WHERE id = ?1", error);
      if (st == NULL)
        {
          graft_project_rollback (project);
          return FALSE;
        }
      sqlite3_bind_int64 (st, 1, m->id);
      sqlite3_bind_text (st, 2, stored, -1, SQLITE_TRANSIENT);
      if (!graft_project_step_done (project, st, "cannot store the new path", error))
        {
          graft_project_rollback (project);
          return FALSE;
        }
      count += (guint) sqlite3_changes (project->db);
    }
  if (!graft_project_commit (project, error))
    return FALSE;
  if (relinked != NULL)
    *relinked = count;
  return TRUE;
}

/* ---- Splits ------------------------------------------------------------------------- */

static guint64
split_order_key (guint64 seed, const char *key)
{
  /* FNV-1a, then splitmix64 with the seed: the same on every machine. */
  guint64 h = 0xcbf29ce484222325ull;
  for (const guchar *c = (const guchar *) key; *c != '\0'; c++)
    h = (h ^ *c) * 0x100000001b3ull;
  guint64 z = h ^ (seed + 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
meta_double (GraftProject *project, const char *key, double fallback)
{
  g_autofree char *value = NULL;
  if (graft_project_meta_get (project, key, &value) == NULL)
    return fallback;
  return g_ascii_strtod (value, NULL);
}

void
graft_project_get_split_fractions (GraftProject *project, double *validation, double *test, guint64 *seed)
{
  GRAFT_PROJECT_LOCK (project);
  if (validation != NULL)
    *validation = meta_double (project, "split_validation", 0.2);
  if (test != NULL)
    *test = meta_double (project, "split_test", 0.0);
  if (seed != NULL)
    {
      g_autofree char *value = NULL;
      graft_project_meta_get (project, "split_seed", &value);
      *seed = value != NULL ? g_ascii_strtoull (value, NULL, 10) : 0;
    }
}

typedef struct {
  gint64 id;
  guint64 key;
} SplitCandidate;

static int
compare_candidates (gconstpointer a, gconstpointer b)
{
  const SplitCandidate *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gboolean
assign_locked (GraftProject *project, guint *assigned, GError **error)
{
  double validation, test;
  guint64 seed;
  graft_project_get_split_fractions (project, &validation, &test, &seed);
  const double fraction[4] = { 0, 1.0 - validation - test, validation, test };
  guint total = 0;

  g_autoptr (GArray) classes = g_array_new (FALSE, FALSE, sizeof (gint64));
  {
    GRAFT_STMT st = graft_project_statement (project, "SELECT id FROM classes WHERE deleted = 0", error);
    if (st == NULL)
      return FALSE;
    while (sqlite3_step (st) == SQLITE_ROW)
      {
        gint64 id = sqlite3_column_int64 (st, 0);
        g_array_append_val (classes, id);
      }
  }
  for (guint c = 0; c < classes->len; c++)
    {
      gint64 class_id = g_array_index (classes, gint64, c);
      guint counts[4] = { 0 };
      g_autoptr (GArray) fresh = g_array_new (FALSE, FALSE, sizeof (SplitCandidate));
      {
        GRAFT_STMT st = graft_project_statement (project,
                                                 "SELECT id, split, coalesce(hash, path) FROM images WHERE label = ?",
                                                 error);
        if (st == NULL)
          return FALSE;
        sqlite3_bind_int64 (st, 1, class_id);
        while (sqlite3_step (st) == SQLITE_ROW)
          {
            int split = sqlite3_column_int (st, 1);
            if (split >= GRAFT_SPLIT_TRAIN && split <= GRAFT_SPLIT_TEST)
              counts[split]++;
            else
              {
                SplitCandidate candidate = {
                  .id = sqlite3_column_int64 (st, 0),
                  .key = split_order_key (seed, (const char *) sqlite3_column_text (st, 2)),
                };
                g_array_append_val (fresh, candidate);
              }
          }
      }
      g_array_sort (fresh, compare_candidates);
      for (guint i = 0; i < fresh->len; i++)
        {
          const SplitCandidate *candidate = &g_array_index (fresh, SplitCandidate, i);
          const double n = counts[1] + counts[2] + counts[3] + 1;
          int best = GRAFT_SPLIT_TRAIN;
          double best_deficit = -INFINITY;
          for (int s = GRAFT_SPLIT_TRAIN; s <= GRAFT_SPLIT_TEST; s++)
            {
              if (fraction[s] <= 0)
                continue;
              double deficit = n * fraction[s] - counts[s];
              if (deficit > best_deficit + 1e-12)
                {
                  best_deficit = deficit;
                  best = s;
                }
            }
          counts[best]++;
          GRAFT_STMT st = graft_project_statement (project, "UPDATE images SET split = ?2 WHERE id = ?1", error);
          if (st == NULL)
            return FALSE;
          sqlite3_bind_int64 (st, 1, candidate->id);
          sqlite3_bind_int (st, 2, best);
          if (!graft_project_step_done (project, st, "cannot assign the split", error))
            return FALSE;
          total++;
        }
    }
  if (assigned != NULL)
    *assigned = total;
  return TRUE;
}

gboolean
graft_project_assign_splits (GraftProject *project, guint *assigned, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (assigned != NULL)
    *assigned = 0;
  if (!graft_project_begin (project, error))
    return FALSE;
  if (!assign_locked (project, assigned, error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  return graft_project_commit (project, error);
}

gboolean
graft_project_reset_splits (GraftProject *project, double validation, double test, guint64 seed, GError **error)
{
  if (!(validation >= 0 && test >= 0 && validation + test < 1))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   _("Split fractions must be >= 0 and leave some images for training (validation %g, test %g)"),
                   validation, test);
      return FALSE;
    }
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  char v[G_ASCII_DTOSTR_BUF_SIZE], t[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *s = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  const char *keys[] = { "split_validation", "split_test", "split_seed" };
  const char *values[] = { g_ascii_dtostr (v, sizeof v, validation), g_ascii_dtostr (t, sizeof t, test), s };
  for (int i = 0; i < 3; i++)
    {
      GRAFT_STMT st = graft_project_statement (project, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", error);
      if (st == NULL)
        goto fail;
      sqlite3_bind_text (st, 1, keys[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (st, 2, values[i], -1, SQLITE_TRANSIENT);
      if (!graft_project_step_done (project, st, "cannot store the split fractions", error))
        goto fail;
    }
  if (!graft_project_exec (project, "UPDATE images SET split = 0 WHERE split <> 0", "cannot reset the splits", error)
      || !assign_locked (project, NULL, error))
    goto fail;
  return graft_project_commit (project, error);

fail:
  graft_project_rollback (project);
  return FALSE;
}

guint *
graft_project_split_counts (GraftProject *project, guint *n_classes, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  g_autoptr (GArray) classes = graft_project_list_classes (project, error);
  if (classes == NULL)
    return NULL;
  guint *counts = g_new0 (guint, MAX (classes->len, 1) * 4);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT label, split, count(*) FROM images WHERE label IS NOT NULL "
                                           "GROUP BY label, split",
                                           error);
  if (st == NULL)
    {
      g_free (counts);
      return NULL;
    }
  while (sqlite3_step (st) == SQLITE_ROW)
    {
      gint64 label = sqlite3_column_int64 (st, 0);
      int split = sqlite3_column_int (st, 1);
      for (guint c = 0; c < classes->len; c++)
        if (g_array_index (classes, GraftClass, c).id == label && split >= 0 && split <= 3)
          counts[c * 4 + (guint) split] = (guint) sqlite3_column_int64 (st, 2);
    }
  *n_classes = classes->len;
  return counts;
}

GraftDataset *
graft_project_dataset (GraftProject *project, GraftSplit split, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!project->read_only && !graft_project_assign_splits (project, NULL, error))
    return NULL;
  g_autoptr (GArray) classes = graft_project_list_classes (project, error);
  if (classes == NULL)
    return NULL;
  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  g_autoptr (GHashTable) index = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint c = 0; c < classes->len; c++)
    {
      const GraftClass *klass = &g_array_index (classes, GraftClass, c);
      int i = graft_dataset_add_class (dataset, klass->name);
      g_hash_table_insert (index, g_memdup2 (&klass->id, sizeof klass->id), GINT_TO_POINTER (i + 1));
    }
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT path, label, split FROM images WHERE label IS NOT NULL ORDER BY id",
                                           error);
  if (st == NULL)
    return NULL;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 label = sqlite3_column_int64 (st, 1);
      int image_split = sqlite3_column_int (st, 2);
      if (image_split == GRAFT_SPLIT_NONE)
        image_split = GRAFT_SPLIT_TRAIN;
      if (split != GRAFT_SPLIT_NONE && image_split != (int) split)
        continue;
      int i = GPOINTER_TO_INT (g_hash_table_lookup (index, &label));
      if (i == 0)
        continue;
      g_autofree char *path = graft_project_resolve_path (project, (const char *) sqlite3_column_text (st, 0));
      graft_dataset_add (dataset, path, i - 1);
    }
  if (rc != SQLITE_DONE)
    {
      graft_project_fail (project, rc, "cannot read the labels", error);
      return NULL;
    }
  return g_steal_pointer (&dataset);
}

/* ---- Predictions -------------------------------------------------------------------- */

gboolean
graft_project_set_predictions (GraftProject *project, gint64 run_id, const GraftPrediction *predictions, guint n,
                               GError **error)
{
  g_return_val_if_fail (predictions != NULL || n == 0, FALSE);
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      const GraftPrediction *p = &predictions[i];
      GRAFT_STMT st = graft_project_statement (project,
                                               "INSERT INTO predictions (image, run, class, confidence, probabilities, embedding) "
                                               "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM images WHERE id = ?1) "
                                               "AND EXISTS (SELECT 1 FROM classes WHERE id = ?3 AND deleted = 0) "
                                               "AND (?2 IS NULL OR EXISTS (SELECT 1 FROM runs WHERE id = ?2)) "
                                               "ON CONFLICT (image) DO UPDATE SET run = excluded.run, class = excluded.class,"
                                               " confidence = excluded.confidence, probabilities = excluded.probabilities,"
                                               " embedding = excluded.embedding",
                                               error);
      if (st == NULL)
        {
          graft_project_rollback (project);
          return FALSE;
        }
      sqlite3_bind_int64 (st, 1, p->image_id);
      if (run_id > 0)
        sqlite3_bind_int64 (st, 2, run_id);
      sqlite3_bind_int64 (st, 3, p->class_id);
      sqlite3_bind_double (st, 4, p->confidence);
      if (p->probabilities != NULL && p->n_probabilities > 0)
        sqlite3_bind_blob (st, 5, p->probabilities, p->n_probabilities * (int) sizeof (float), SQLITE_TRANSIENT);
      if (p->embedding != NULL && p->dim > 0)
        sqlite3_bind_blob (st, 6, p->embedding, p->dim * (int) sizeof (float), SQLITE_TRANSIENT);
      if (!graft_project_step_done (project, st, "cannot store the predictions", error))
        {
          graft_project_rollback (project);
          return FALSE;
        }
    }
  return graft_project_commit (project, error);
}

gboolean
graft_project_clear_predictions (GraftProject *project, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  if (!graft_project_exec (project, "DELETE FROM predictions", "cannot clear the predictions", error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  return graft_project_commit (project, error);
}

void
graft_prediction_set_free (GraftPredictionSet *set)
{
  if (set == NULL)
    return;
  g_array_unref (set->ids);
  g_array_unref (set->splits);
  g_ptr_array_unref (set->hashes);
  g_free (set->probabilities);
  g_free (set->embeddings);
  g_free (set);
}

GraftPredictionSet *
graft_project_get_predictions (GraftProject *project, gboolean unlabelled_only, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           unlabelled_only
                                             ? "SELECT p.image, p.probabilities, p.embedding, i.split, i.hash FROM predictions p "
                                               "JOIN images i ON i.id = p.image WHERE i.label IS NULL ORDER BY p.image"
                                             : "SELECT p.image, p.probabilities, p.embedding, i.split, i.hash FROM predictions p "
                                               "JOIN images i ON i.id = p.image ORDER BY p.image",
                                           error);
  if (st == NULL)
    return NULL;
  GraftPredictionSet *set = g_new0 (GraftPredictionSet, 1);
  set->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  set->splits = g_array_new (FALSE, FALSE, sizeof (int));
  set->hashes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GByteArray) probabilities = g_byte_array_new ();
  g_autoptr (GByteArray) embeddings = g_byte_array_new ();
  int k = -1, dim = -1;
  gboolean have_probabilities = TRUE, have_embeddings = TRUE;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (st, 0);
      g_array_append_val (set->ids, id);
      int split = sqlite3_column_int (st, 3);
      g_array_append_val (set->splits, split);
      g_ptr_array_add (set->hashes, sqlite3_column_type (st, 4) != SQLITE_NULL
                                      ? g_strdup ((const char *) sqlite3_column_text (st, 4)) : NULL);
      int bytes = sqlite3_column_bytes (st, 1);
      const void *blob = sqlite3_column_blob (st, 1);
      if (have_probabilities && blob != NULL && bytes > 0 && (k < 0 || bytes == k * 4))
        {
          k = bytes / 4;
          g_byte_array_append (probabilities, blob, (guint) (k * 4));
        }
      else
        have_probabilities = FALSE;
      bytes = sqlite3_column_bytes (st, 2);
      blob = sqlite3_column_blob (st, 2);
      if (have_embeddings && blob != NULL && bytes > 0 && (dim < 0 || bytes == dim * 4))
        {
          dim = bytes / 4;
          g_byte_array_append (embeddings, blob, (guint) (dim * 4));
        }
      else
        have_embeddings = FALSE;
    }
  if (rc != SQLITE_DONE)
    {
      graft_prediction_set_free (set);
      graft_project_fail (project, rc, "cannot read the predictions", error);
      return NULL;
    }
  if (have_probabilities && k > 0)
    {
      set->k = k;
      set->probabilities = (float *) g_byte_array_free (g_steal_pointer (&probabilities), FALSE);
    }
  if (have_embeddings && dim > 0)
    {
      set->dim = dim;
      set->embeddings = (float *) g_byte_array_free (g_steal_pointer (&embeddings), FALSE);
    }
  return set;
}
