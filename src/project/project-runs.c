/* project-runs.c: training runs, their metric series and trained models, and the
 * session spec the project remembers. Not part of the undo history: a run is a record
 * of what happened. */
#include "project/project-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>

static const char *const status_names[] = { "pending", "running", "finished", "failed", "stopped" };

static GraftRunStatus
status_from_name (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (name, status_names[i]) == 0)
      return (GraftRunStatus) i;
  return GRAFT_RUN_PENDING;
}

void
graft_run_clear (GraftRun *run)
{
  g_clear_pointer (&run->name, g_free);
  g_clear_pointer (&run->spec_json, g_free);
  g_clear_pointer (&run->metrics_json, g_free);
  g_clear_pointer (&run->model_path, g_free);
}

static gboolean
check_run (GraftProject *project, gint64 run_id, GError **error)
{
  GRAFT_STMT st = graft_project_statement (project, "SELECT 1 FROM runs WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, run_id);
  if (sqlite3_step (st) == SQLITE_ROW)
    return TRUE;
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND, "No run %" G_GINT64_FORMAT " in the project",
               run_id);
  return FALSE;
}

/* Opens a transaction and prepares sql in it; run_id, when not NULL, must name a run
 * first. NULL with error (the transaction rolled back) when any of that fails. */
static sqlite3_stmt *
begin_statement (GraftProject *project, const gint64 *run_id, const char *sql, GError **error)
{
  if (!graft_project_begin (project, error))
    return NULL;
  if (run_id != NULL && !check_run (project, *run_id, error))
    {
      graft_project_rollback (project);
      return NULL;
    }
  sqlite3_stmt *st = graft_project_statement (project, sql, error);
  if (st == NULL)
    graft_project_rollback (project);
  return st;
}

/* Steps st, the last statement of the transaction graft_project_begin opened, and commits
 * it (rolled back when the step fails); *rowid, when not NULL, is the row st inserted. */
static gboolean
step_and_commit (GraftProject *project, sqlite3_stmt *st, const char *what, gint64 *rowid, GError **error)
{
  if (!graft_project_step_done (project, st, what, error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  if (rowid != NULL)
    *rowid = sqlite3_last_insert_rowid (project->db);
  return graft_project_commit (project, error);
}

/* One statement in its own transaction: sql's ?1 is the run, ?2 the text or number. */
static gboolean
update_run (GraftProject *project, gint64 run_id, const char *sql, const char *text, gint64 number, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = begin_statement (project, &run_id, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, run_id);
  if (text != NULL)
    sqlite3_bind_text (st, 2, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_int64 (st, 2, number);
  sqlite3_bind_int64 (st, 3, g_get_real_time ());
  return step_and_commit (project, st, "cannot update the run", NULL, error);
}

gint64
graft_project_add_run (GraftProject *project, const char *name, const char *spec_json, GError **error)
{
  g_return_val_if_fail (spec_json != NULL, 0);
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = begin_statement (project, NULL,
                                   "INSERT INTO runs (name, spec, status, created) VALUES (?, ?, 'pending', ?)", error);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, name != NULL ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, spec_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, g_get_real_time ());
  gint64 id = 0;
  return step_and_commit (project, st, "cannot add the run", &id, error) ? id : 0;
}

gboolean
graft_project_set_run_status (GraftProject *project, gint64 run_id, GraftRunStatus status, GError **error)
{
  g_return_val_if_fail ((guint) status < G_N_ELEMENTS (status_names), FALSE);
  const char *sql = status == GRAFT_RUN_RUNNING
    ? "UPDATE runs SET status = ?2, started = ?3, finished = NULL WHERE id = ?1"
    : status == GRAFT_RUN_PENDING ? "UPDATE runs SET status = ?2 WHERE id = ?1 AND ?3 IS NOT NULL"
                                  : "UPDATE runs SET status = ?2, finished = ?3 WHERE id = ?1";
  return update_run (project, run_id, sql, status_names[status], 0, error);
}

gboolean
graft_project_set_run_metrics (GraftProject *project, gint64 run_id, const char *metrics_json, GError **error)
{
  g_return_val_if_fail (metrics_json != NULL, FALSE);
  return update_run (project, run_id, "UPDATE runs SET metrics = ?2 WHERE id = ?1 AND ?3 IS NOT NULL", metrics_json, 0,
                     error);
}

gboolean
graft_project_set_run_model_path (GraftProject *project, gint64 run_id, const char *model_path, GError **error)
{
  g_return_val_if_fail (model_path != NULL, FALSE);
  return update_run (project, run_id, "UPDATE runs SET model_path = ?2 WHERE id = ?1 AND ?3 IS NOT NULL", model_path, 0,
                     error);
}

#define RUN_COLUMNS "id, name, spec, status, created, started, finished, metrics, model_path FROM runs "

static void
read_run (sqlite3_stmt *st, GraftRun *run)
{
  run->id = sqlite3_column_int64 (st, 0);
  run->name = g_strdup ((const char *) sqlite3_column_text (st, 1));
  run->spec_json = g_strdup ((const char *) sqlite3_column_text (st, 2));
  run->status = status_from_name ((const char *) sqlite3_column_text (st, 3));
  run->created = sqlite3_column_int64 (st, 4);
  run->started = sqlite3_column_int64 (st, 5);
  run->finished = sqlite3_column_int64 (st, 6);
  run->metrics_json = g_strdup ((const char *) sqlite3_column_text (st, 7));
  run->model_path = g_strdup ((const char *) sqlite3_column_text (st, 8));
}

gboolean
graft_project_get_run (GraftProject *project, gint64 run_id, GraftRun *run, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT " RUN_COLUMNS "WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, run_id);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    {
      read_run (st, run);
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    return graft_project_fail (project, rc, "cannot read the run", error);
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND, "No run %" G_GINT64_FORMAT " in the project",
               run_id);
  return FALSE;
}

GArray *
graft_project_list_runs (GraftProject *project, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT " RUN_COLUMNS "ORDER BY id DESC", error);
  if (st == NULL)
    return NULL;
  GArray *runs = g_array_new (FALSE, TRUE, sizeof (GraftRun));
  g_array_set_clear_func (runs, (GDestroyNotify) graft_run_clear);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftRun run = { 0 };
      read_run (st, &run);
      g_array_append_val (runs, run);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (runs);
      graft_project_fail (project, rc, "cannot read the runs", error);
      return NULL;
    }
  return runs;
}

/* A model file the project owns: one in <folder>/runs/. A path elsewhere (a model
 * exported by hand) is the person's, and stays. */
static char *
owned_model_file (GraftProject *project, const char *model_path)
{
  g_autofree char *runs = g_build_filename (graft_project_get_folder (project), GRAFT_PROJECT_RUNS_FOLDER, NULL);
  g_autofree char *parent = NULL;

  if (model_path == NULL)
    return NULL;
  parent = g_path_get_dirname (model_path);
  return g_strcmp0 (parent, runs) == 0 ? g_strdup (model_path) : NULL;
}

gboolean
graft_project_delete_run (GraftProject *project, gint64 run_id, GError **error)
{
  g_autofree char *model_file = NULL;
  {
    GraftRun run = { 0 };
    if (!graft_project_get_run (project, run_id, &run, error))
      return FALSE;
    model_file = owned_model_file (project, run.model_path);
    graft_run_clear (&run);
  }
  if (!update_run (project, run_id, "DELETE FROM runs WHERE id = ?1 AND ?2 IS NOT NULL AND ?3 IS NOT NULL", NULL, 0,
                   error))
    return FALSE;
  /* After the row: a failed delete leaves the run whole. A file left behind by a
   * failed removal is only wasted space. */
  if (model_file != NULL && g_remove (model_file) != 0 && errno != ENOENT)
    g_debug ("%s: cannot remove: %s", model_file, g_strerror (errno));
  {
    /* Its checkpoint (run-record.h), when it was trained in this project. */
    g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".checkpoint", run_id);
    g_autofree char *checkpoint = g_build_filename (graft_project_get_folder (project), GRAFT_PROJECT_RUNS_FOLDER,
                                                    name, NULL);
    if (g_remove (checkpoint) != 0 && errno != ENOENT)
      g_debug ("%s: cannot remove: %s", checkpoint, g_strerror (errno));
  }
  return TRUE;
}

char *
graft_project_run_model_file (GraftProject *project, gint64 run_id)
{
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".onnx", run_id);
  return g_build_filename (graft_project_get_folder (project), GRAFT_PROJECT_RUNS_FOLDER, name, NULL);
}

gboolean
graft_project_save_run_model (GraftProject *project, gint64 run_id, GBytes *model, GError **error)
{
  g_autofree char *path = graft_project_run_model_file (project, run_id);
  g_autofree char *folder = g_path_get_dirname (path);
  g_autoptr (GError) local_error = NULL;
  gsize size;
  const char *data;

  g_return_val_if_fail (model != NULL, FALSE);
  if (graft_project_is_read_only (project))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY, "%s: the project is read-only (%s)",
                   graft_project_get_db_path (project), graft_project_read_only_reason (project));
      return FALSE;
    }
  {
    GraftRun run = { 0 };
    if (!graft_project_get_run (project, run_id, &run, error))
      return FALSE;
    graft_run_clear (&run);
  }
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, GRAFT_PROJECT_ERROR,
                   saved_errno == ENOSPC ? GRAFT_PROJECT_ERROR_DISK_FULL : GRAFT_PROJECT_ERROR_IO,
                   "%s: cannot create the folder: %s", folder, g_strerror (saved_errno));
      return FALSE;
    }
  data = g_bytes_get_data (model, &size);
  /* A temporary file renamed over the name once written and synced: the file is the
   * whole model or absent, never half of one. */
  if (!g_file_set_contents_full (path, data, (gssize) size,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, &local_error))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR,
                   g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOSPC) ? GRAFT_PROJECT_ERROR_DISK_FULL
                                                                                 : GRAFT_PROJECT_ERROR_IO,
                   "%s", local_error->message);
      return FALSE;
    }
  if (!graft_project_set_run_model_path (project, run_id, path, error))
    {
      g_remove (path);
      return FALSE;
    }
  return TRUE;
}

#define SESSION_SPEC_KEY "session_spec"

gboolean
graft_project_set_session_spec (GraftProject *project, const char *spec_json, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = begin_statement (project, NULL,
                                   spec_json != NULL
                                     ? "INSERT OR REPLACE INTO meta (key, value) VALUES ('" SESSION_SPEC_KEY "', ?)"
                                     : "DELETE FROM meta WHERE key = '" SESSION_SPEC_KEY "'",
                                   error);
  if (st == NULL)
    return FALSE;
  if (spec_json != NULL)
    sqlite3_bind_text (st, 1, spec_json, -1, SQLITE_TRANSIENT);
  return step_and_commit (project, st, "cannot store the session's settings", NULL, error);
}

char *
graft_project_get_session_spec (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  char *value = NULL;
  graft_project_meta_get (project, SESSION_SPEC_KEY, &value);
  return value;
}

gboolean
graft_project_append_metrics (GraftProject *project, gint64 run_id, const GraftMetricPoint *points, guint n,
                              GError **error)
{
  g_return_val_if_fail (points != NULL || n == 0, FALSE);
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = NULL;
  if (!graft_project_begin (project, error))
    return FALSE;
  if (!check_run (project, run_id, error))
    goto fail;
  st = graft_project_statement (project, "INSERT INTO metrics (run, step, name, value) VALUES (?, ?, ?, ?)", error);
  if (st == NULL)
    goto fail;
  for (guint i = 0; i < n; i++)
    {
      if (points[i].name == NULL)
        {
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, "A metric point needs a name");
          goto fail;
        }
      sqlite3_reset (st);
      sqlite3_bind_int64 (st, 1, run_id);
      sqlite3_bind_int64 (st, 2, points[i].step);
      sqlite3_bind_text (st, 3, points[i].name, -1, SQLITE_STATIC);
      sqlite3_bind_double (st, 4, points[i].value);
      int rc = sqlite3_step (st);
      if (rc != SQLITE_DONE)
        {
          graft_project_fail (project, rc, "cannot append the metrics", error);
          goto fail;
        }
    }
  sqlite3_reset (st);
  return graft_project_commit (project, error);

fail:
  graft_project_rollback (project);
  return FALSE;
}

/* Declared in run-record.h. */
gboolean
graft_project_trim_metrics (GraftProject *project, gint64 run_id, gint64 after_step, GError **error)
{
  return update_run (project, run_id, "DELETE FROM metrics WHERE run = ?1 AND step > ?2 AND ?3 IS NOT NULL", NULL,
                     after_step, error);
}

GArray *
graft_project_get_metric_series (GraftProject *project, gint64 run_id, const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT step, value FROM metrics WHERE run = ? AND name = ? ORDER BY step",
                                           error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, run_id);
  sqlite3_bind_text (st, 2, name, -1, SQLITE_TRANSIENT);
  GArray *series = g_array_new (FALSE, FALSE, sizeof (GraftSeriesPoint));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftSeriesPoint point = {
        .step = sqlite3_column_int64 (st, 0),
        .value = sqlite3_column_type (st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double (st, 1),
      };
      g_array_append_val (series, point);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (series);
      graft_project_fail (project, rc, "cannot read the metrics", error);
      return NULL;
    }
  return series;
}

char **
graft_project_get_metric_names (GraftProject *project, gint64 run_id, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT DISTINCT name FROM metrics WHERE run = ? ORDER BY name",
                                           error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, run_id);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (names, g_strdup ((const char *) sqlite3_column_text (st, 0)));
  if (rc != SQLITE_DONE)
    {
      graft_project_fail (project, rc, "cannot read the metrics", error);
      return NULL;
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* ---- Parts of a run ---------------------------------------------------------------------- */

gint64
graft_project_begin_run_part (GraftProject *project, gint64 run_id, int from_epoch, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = begin_statement (project, &run_id,
                                   "INSERT INTO run_parts (run, from_epoch, epochs_done, started) VALUES (?, ?, ?, ?)",
                                   error);
  if (st == NULL)
    return 0;
  sqlite3_bind_int64 (st, 1, run_id);
  sqlite3_bind_int (st, 2, from_epoch);
  sqlite3_bind_int (st, 3, from_epoch);
  sqlite3_bind_int64 (st, 4, g_get_real_time ());
  gint64 id = 0;
  return step_and_commit (project, st, "cannot add the run's part", &id, error) ? id : 0;
}

gboolean
graft_project_update_run_part (GraftProject *project, gint64 part_id, int epochs_done, double seconds,
                               GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "UPDATE run_parts SET epochs_done = ?, seconds = ? WHERE id = ?",
                                           error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int (st, 1, epochs_done);
  sqlite3_bind_double (st, 2, isfinite (seconds) && seconds > 0 ? seconds : 0);
  sqlite3_bind_int64 (st, 3, part_id);
  return graft_project_step_done (project, st, "cannot update the run's part", error);
}

GArray *
graft_project_get_run_parts (GraftProject *project, gint64 run_id, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT id, from_epoch, epochs_done, seconds, started FROM run_parts "
                                           "WHERE run = ? ORDER BY id",
                                           error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, run_id);
  GArray *parts = g_array_new (FALSE, FALSE, sizeof (GraftRunPart));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftRunPart part = {
        .id = sqlite3_column_int64 (st, 0),
        .from_epoch = sqlite3_column_int (st, 1),
        .epochs_done = sqlite3_column_int (st, 2),
        .seconds = sqlite3_column_double (st, 3),
        .started = sqlite3_column_int64 (st, 4),
      };
      g_array_append_val (parts, part);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (parts);
      graft_project_fail (project, rc, "cannot read the run's parts", error);
      return NULL;
    }
  return parts;
}

/* ---- Export history ---------------------------------------------------------------------- */

void
graft_export_entry_clear (GraftExportEntry *entry)
{
  g_clear_pointer (&entry->path, g_free);
  g_clear_pointer (&entry->format, g_free);
  g_clear_pointer (&entry->checksum, g_free);
}

gboolean
graft_project_add_export (GraftProject *project, gint64 run_id, const char *path, const char *format,
                          const char *checksum, GError **error)
{
  g_return_val_if_fail (path != NULL && format != NULL && checksum != NULL, FALSE);
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = begin_statement (project, &run_id,
                                   "INSERT INTO exports (run, time, path, format, checksum) VALUES (?, ?, ?, ?, ?)",
                                   error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, run_id);
  sqlite3_bind_int64 (st, 2, g_get_real_time ());
  sqlite3_bind_text (st, 3, path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 4, format, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 5, checksum, -1, SQLITE_TRANSIENT);
  return step_and_commit (project, st, "cannot record the export", NULL, error);
}

GArray *
graft_project_list_exports (GraftProject *project, gint64 run_id, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT id, coalesce(run, 0), time, path, format, checksum FROM exports "
                                           "WHERE ?1 = 0 OR run = ?1 ORDER BY id",
                                           error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, run_id);
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (GraftExportEntry));
  g_array_set_clear_func (entries, (GDestroyNotify) graft_export_entry_clear);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftExportEntry entry = {
        .id = sqlite3_column_int64 (st, 0),
        .run = sqlite3_column_int64 (st, 1),
        .time = sqlite3_column_int64 (st, 2),
        .path = g_strdup ((const char *) sqlite3_column_text (st, 3)),
        .format = g_strdup ((const char *) sqlite3_column_text (st, 4)),
        .checksum = g_strdup ((const char *) sqlite3_column_text (st, 5)),
      };
      g_array_append_val (entries, entry);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (entries);
      graft_project_fail (project, rc, "cannot read the export history", error);
      return NULL;
    }
  return entries;
}
