/* project.c: opening, creating and migrating the project database; errors, statements,
 * transactions, paths.
 *
 * Schema history (PRAGMA user_version; PRAGMA application_id is 'GRFT'):
 *   1  meta, classes, images, labels, runs, metrics: the first store.
 *   2  classes.deleted (kept as tombstones for undo; names unique among live classes),
 *      images.mtime / missing / label / suggestion (label and suggestion are copies of
 *      labels.class and predictions.class kept by triggers, so that the grid's queries
 *      are single partial-index range scans), labels.source, runs.name / created /
 *      model_path, predictions, the undo history, the indexes of the grid.
 *   3  run_parts (the parts of a resumed run and the time of each), exports (every model
 *      exported from a run: when, where, which format, its SHA-256).
 * A new project is made by running every migration from 0, so the path from version 1
 * is the one every project takes. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "project/project-private.h"

#include "base/regular-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRAFT_APPLICATION_ID 0x47524654 /* 'GRFT' */

G_DEFINE_QUARK (graft-project-error-quark, graft_project_error)

const char *
graft_split_name (GraftSplit split)
{
  switch (split)
    {
    case GRAFT_SPLIT_TRAIN: return "train";
    case GRAFT_SPLIT_VALIDATION: return "validation";
    case GRAFT_SPLIT_TEST: return "test";
    case GRAFT_SPLIT_NONE:
    default: return "none";
    }
}

/* ---- Errors ------------------------------------------------------------------------ */

gboolean
graft_project_fail (GraftProject *project, int rc, const char *what, GError **error)
{
  const int primary = rc & 0xff;
  const int system_errno = project->db != NULL ? sqlite3_system_errno (project->db) : 0;
  const char *message = project->db != NULL ? sqlite3_errmsg (project->db) : sqlite3_errstr (rc);
  g_autofree char *display = g_filename_display_name (project->db_path);
  GraftProjectError code = GRAFT_PROJECT_ERROR_FAILED;
  g_autofree char *text = NULL;

  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && (system_errno == ENOSPC || system_errno == EDQUOT)))
    {
      code = GRAFT_PROJECT_ERROR_DISK_FULL;
      text = g_strdup_printf ("%s: %s: the disk is full; nothing was changed", display, what);
    }
  else if (primary == SQLITE_READONLY || (primary == SQLITE_IOERR && system_errno == EROFS)
           || (primary == SQLITE_CANTOPEN && system_errno == EROFS))
    {
      code = GRAFT_PROJECT_ERROR_READ_ONLY;
      text = g_strdup_printf ("%s: %s: the project is read-only (%s); nothing was changed", display, what,
                              project->read_only_reason != NULL ? project->read_only_reason : message);
    }
  else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    {
      code = GRAFT_PROJECT_ERROR_CORRUPT;
      text = g_strdup_printf ("%s: %s: the project database is damaged (%s)", display, what, message);
    }
  else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    {
      code = GRAFT_PROJECT_ERROR_BUSY;
      text = g_strdup_printf ("%s: %s: another program is using the project (%s)", display, what, message);
    }
  else if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN)
    {
      code = GRAFT_PROJECT_ERROR_IO;
      text = g_strdup_printf ("%s: %s: %s%s%s", display, what, message, system_errno != 0 ? ": " : "",
                              system_errno != 0 ? g_strerror (system_errno) : "");
    }
  else if (primary == SQLITE_CONSTRAINT)
    {
      code = GRAFT_PROJECT_ERROR_INVALID;
      text = g_strdup_printf ("%s: %s: %s", display, what, message);
    }
  else
    text = g_strdup_printf ("%s: %s: %s", display, what, message);

  g_set_error_literal (error, GRAFT_PROJECT_ERROR, code, text);
  return FALSE;
}

/* ---- Statements and transactions ---------------------------------------------------- */

sqlite3_stmt *
graft_project_statement (GraftProject *project, const char *sql, GError **error)
{
  sqlite3_stmt *statement = g_hash_table_lookup (project->statements, sql);
  if (statement != NULL)
    {
      sqlite3_reset (statement);
      sqlite3_clear_bindings (statement);
      return statement;
    }
  int rc = sqlite3_prepare_v3 (project->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL);
  if (rc != SQLITE_OK)
    {
      graft_project_fail (project, rc, "cannot prepare a query", error);
      return NULL;
    }
  g_hash_table_insert (project->statements, g_strdup (sql), statement);
  return statement;
}

gboolean
graft_project_exec (GraftProject *project, const char *sql, const char *what, GError **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (project->db, sql, NULL, NULL, &message);
  sqlite3_free (message);
  if (rc != SQLITE_OK)
    return graft_project_fail (project, rc, what, error);
  return TRUE;
}

gboolean
graft_project_step_done (GraftProject *project, sqlite3_stmt *statement, const char *what, GError **error)
{
  int rc = sqlite3_step (statement);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      sqlite3_reset (statement);
      return graft_project_fail (project, rc, what, error);
    }
  sqlite3_reset (statement);
  return TRUE;
}

gboolean
graft_project_begin (GraftProject *project, GError **error)
{
  if (project->read_only)
    {
      g_autofree char *display = g_filename_display_name (project->db_path);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY,
                   _("%s: the project is open read-only (%s); nothing was changed"), display,
                   project->read_only_reason);
      return FALSE;
    }
  int rc = sqlite3_exec (project->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return graft_project_fail (project, rc, "cannot start a change", error);
  return TRUE;
}

void
graft_project_rollback (GraftProject *project)
{
  /* SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR, ...). */
  if (!sqlite3_get_autocommit (project->db))
    sqlite3_exec (project->db, "ROLLBACK", NULL, NULL, NULL);
}

gboolean
graft_project_commit (GraftProject *project, GError **error)
{
  int rc = sqlite3_exec (project->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      graft_project_fail (project, rc, "cannot save the change", error);
      graft_project_rollback (project);
      return FALSE;
    }
  return TRUE;
}

/* ---- Schema ------------------------------------------------------------------------- */

static const char schema_v1[] =
  "PRAGMA application_id = 1196574292;\n" /* GRAFT_APPLICATION_ID */
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
  "CREATE TABLE classes (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,\n"
  "  colour TEXT NOT NULL DEFAULT '#808080', position INTEGER NOT NULL DEFAULT 0);\n"
  "CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, hash TEXT,\n"
  "  size INTEGER NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0, split INTEGER NOT NULL DEFAULT 0);\n"
  "CREATE TABLE labels (image INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,\n"
  "  class INTEGER NOT NULL REFERENCES classes(id), time INTEGER NOT NULL DEFAULT 0);\n"
  "CREATE INDEX labels_class ON labels(class);\n"
  "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL,\n"
  "  status TEXT NOT NULL DEFAULT 'pending', started INTEGER, finished INTEGER, metrics TEXT);\n"
  "CREATE TABLE metrics (run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
  "  step INTEGER NOT NULL, name TEXT NOT NULL, value REAL);\n"
  "INSERT INTO meta (key, value) VALUES ('application', 'graft');\n";

static const char schema_v2[] =
  "ALTER TABLE classes ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;\n"
  "CREATE UNIQUE INDEX classes_live_name ON classes(name) WHERE deleted = 0;\n"
  "ALTER TABLE images ADD COLUMN mtime INTEGER NOT NULL DEFAULT 0;\n"
  "ALTER TABLE images ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;\n"
  "ALTER TABLE images ADD COLUMN label INTEGER;\n"
  "ALTER TABLE images ADD COLUMN suggestion INTEGER;\n"
  "ALTER TABLE labels ADD COLUMN source INTEGER NOT NULL DEFAULT 1;\n"
  "ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';\n"
  "ALTER TABLE runs ADD COLUMN created INTEGER NOT NULL DEFAULT 0;\n"
  "ALTER TABLE runs ADD COLUMN model_path TEXT;\n"
  "UPDATE images SET label = (SELECT class FROM labels WHERE labels.image = images.id);\n"
  "UPDATE runs SET created = coalesce(started, 0);\n"
  "CREATE INDEX images_label ON images(label, id) WHERE label IS NOT NULL;\n"
  "CREATE INDEX images_labelled ON images(id) WHERE label IS NOT NULL;\n"
  "CREATE INDEX images_unlabelled ON images(id) WHERE label IS NULL;\n"
  "CREATE INDEX images_suggested ON images(suggestion, id) WHERE label IS NULL AND suggestion IS NOT NULL;\n"
  "CREATE INDEX images_suggested_any ON images(id) WHERE label IS NULL AND suggestion IS NOT NULL;\n"
  "CREATE INDEX images_split ON images(split, id) WHERE label IS NOT NULL;\n"
  "CREATE INDEX images_hash ON images(hash) WHERE hash IS NOT NULL;\n"
  "CREATE INDEX images_unhashed ON images(id) WHERE hash IS NULL AND missing = 0;\n"
  "CREATE INDEX metrics_series ON metrics(run, name, step);\n"
  "CREATE TABLE predictions (image INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,\n"
  "  run INTEGER REFERENCES runs(id) ON DELETE SET NULL, class INTEGER NOT NULL REFERENCES classes(id),\n"
  "  confidence REAL NOT NULL, probabilities BLOB, embedding BLOB);\n"
  "CREATE INDEX predictions_class ON predictions(class);\n"
  "CREATE TRIGGER labels_insert AFTER INSERT ON labels BEGIN\n"
  "  UPDATE images SET label = NEW.class WHERE id = NEW.image; END;\n"
  "CREATE TRIGGER labels_update AFTER UPDATE OF class ON labels BEGIN\n"
  "  UPDATE images SET label = NEW.class WHERE id = NEW.image; END;\n"
  "CREATE TRIGGER labels_delete AFTER DELETE ON labels BEGIN\n"
  "  UPDATE images SET label = NULL WHERE id = OLD.image; END;\n"
  "CREATE TRIGGER predictions_insert AFTER INSERT ON predictions BEGIN\n"
  "  UPDATE images SET suggestion = NEW.class WHERE id = NEW.image; END;\n"
  "CREATE TRIGGER predictions_update AFTER UPDATE OF class ON predictions BEGIN\n"
  "  UPDATE images SET suggestion = NEW.class WHERE id = NEW.image; END;\n"
  "CREATE TRIGGER predictions_delete AFTER DELETE ON predictions BEGIN\n"
  "  UPDATE images SET suggestion = NULL WHERE id = OLD.image; END;\n"
  "CREATE TABLE actions (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,\n"
  "  description TEXT NOT NULL, time INTEGER NOT NULL, undone INTEGER NOT NULL DEFAULT 0);\n"
  "CREATE TABLE undo_labels (action INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,\n"
  "  image INTEGER NOT NULL, old_class INTEGER, old_source INTEGER, old_time INTEGER,\n"
  "  new_class INTEGER, new_source INTEGER, new_time INTEGER, PRIMARY KEY (action, image)) WITHOUT ROWID;\n"
  "CREATE TABLE undo_classes (action INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,\n"
  "  class INTEGER NOT NULL, old_name TEXT, old_colour TEXT, old_position INTEGER, old_deleted INTEGER,\n"
  "  new_name TEXT, new_colour TEXT, new_position INTEGER, new_deleted INTEGER,\n"
  "  PRIMARY KEY (action, class)) WITHOUT ROWID;\n"
  "CREATE TABLE undo_images (action INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,\n"
  "  image INTEGER NOT NULL, old_present INTEGER NOT NULL, new_present INTEGER,\n"
  "  path TEXT, hash TEXT, size INTEGER, mtime INTEGER, added INTEGER, split INTEGER, missing INTEGER,\n"
  "  PRIMARY KEY (action, image)) WITHOUT ROWID;\n"
  "INSERT OR IGNORE INTO meta (key, value) VALUES ('split_validation', '0.2');\n"
  "INSERT OR IGNORE INTO meta (key, value) VALUES ('split_test', '0');\n"
  "INSERT OR IGNORE INTO meta (key, value) VALUES ('split_seed', '0');\n";

static const char schema_v3[] =
  "CREATE TABLE run_parts (id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
  "  run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, from_epoch INTEGER NOT NULL,\n"
  "  epochs_done INTEGER NOT NULL, seconds REAL NOT NULL DEFAULT 0, started INTEGER NOT NULL);\n"
  "CREATE INDEX run_parts_run ON run_parts(run, id);\n"
  "CREATE TABLE exports (id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
  "  run INTEGER REFERENCES runs(id) ON DELETE SET NULL, time INTEGER NOT NULL, path TEXT NOT NULL,\n"
  "  format TEXT NOT NULL, checksum TEXT NOT NULL);\n"
  "CREATE INDEX exports_run ON exports(run, id);\n";

/* migrations[v] takes a database from version v to v + 1. */
static const char *const migrations[GRAFT_PROJECT_SCHEMA_VERSION] = {
  schema_v1,
  schema_v2,
  schema_v3,
};

static gboolean
migrate (GraftProject *project, int from, GError **error)
{
  if (!graft_project_begin (project, error))
    return FALSE;
  for (int v = from; v < GRAFT_PROJECT_SCHEMA_VERSION; v++)
    {
      char *message = NULL;
      int rc = sqlite3_exec (project->db, migrations[v], NULL, NULL, &message);
      if (rc != SQLITE_OK)
        {
          g_autofree char *what = g_strdup_printf ("cannot upgrade the project from schema %d to %d", v, v + 1);
          graft_project_fail (project, rc, what, error);
          sqlite3_free (message);
          graft_project_rollback (project);
          return FALSE;
        }
    }
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", GRAFT_PROJECT_SCHEMA_VERSION);
  if (!graft_project_exec (project, sql, "cannot upgrade the project", error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  if (!graft_project_commit (project, error))
    return FALSE;
  project->schema_version = GRAFT_PROJECT_SCHEMA_VERSION;
  return TRUE;
}

/* ---- Checkpoints off the labelling path ------------------------------------------------ */

/* SQLite's own checkpoint runs inside the commit that makes the WAL reach 1000 pages:
 * that one label would wait for the database file to be written and fsynced (tens of
 * ms). Instead a WAL hook wakes a thread with its own connection that runs a PASSIVE
 * checkpoint (it never blocks a writer; the next writer restarts the WAL after it). */
#define CHECKPOINT_PAGES 1000

static int
wal_hook (void *data, sqlite3 *db, const char *name, int pages)
{
  GraftProject *project = data;
  if (pages >= CHECKPOINT_PAGES)
    {
      g_mutex_lock (&project->checkpoint_mutex);
      project->checkpoint_wanted = TRUE;
      g_cond_signal (&project->checkpoint_cond);
      g_mutex_unlock (&project->checkpoint_mutex);
    }
  return SQLITE_OK;
}

/* The checkpointer's own connection, or NULL. */
static sqlite3 *
open_checkpoint_connection (const char *db_path)
{
  sqlite3 *db = NULL;
  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      sqlite3_close (db);
      return NULL;
    }
  sqlite3_busy_timeout (db, 1000);
  /* A connection that has read nothing has not opened the WAL yet: its checkpoint would
   * do nothing (and return SQLITE_OK). One read opens it. */
  if (sqlite3_exec (db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK)
    {
      sqlite3_close (db);
      return NULL;
    }
  return db;
}

static gpointer
checkpointer (gpointer data)
{
  GraftProject *project = data;
  sqlite3 *db = NULL;
  g_mutex_lock (&project->checkpoint_mutex);
  while (!project->checkpoint_stop)
    {
      while (!project->checkpoint_wanted && !project->checkpoint_stop)
        g_cond_wait (&project->checkpoint_cond, &project->checkpoint_mutex);
      if (project->checkpoint_stop)
        break;
      project->checkpoint_wanted = FALSE;
      g_mutex_unlock (&project->checkpoint_mutex);
      if (db == NULL)
        db = open_checkpoint_connection (project->db_path);
      if (db != NULL)
        sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      g_mutex_lock (&project->checkpoint_mutex);
    }
  g_mutex_unlock (&project->checkpoint_mutex);
  if (db != NULL)
    sqlite3_close (db);
  return NULL;
}

static void
start_checkpointer (GraftProject *project)
{
  sqlite3_wal_hook (project->db, wal_hook, project);
  project->checkpoint_thread = g_thread_new ("graft-checkpoint", checkpointer, project);
}

static void
stop_checkpointer (GraftProject *project)
{
  if (project->checkpoint_thread == NULL)
    return;
  g_mutex_lock (&project->checkpoint_mutex);
  project->checkpoint_stop = TRUE;
  g_cond_signal (&project->checkpoint_cond);
  g_mutex_unlock (&project->checkpoint_mutex);
  g_thread_join (project->checkpoint_thread);
  project->checkpoint_thread = NULL;
}

/* ---- Opening ------------------------------------------------------------------------ */

static int
pragma_int (GraftProject *project, const char *pragma, int *value)
{
  sqlite3_stmt *statement = NULL;
  int rc = sqlite3_prepare_v2 (project->db, pragma, -1, &statement, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (statement);
      if (rc == SQLITE_ROW)
        {
          *value = sqlite3_column_int (statement, 0);
          rc = SQLITE_OK;
        }
    }
  sqlite3_finalize (statement);
  return rc;
}

static void
free_statement (gpointer statement)
{
  sqlite3_finalize (statement);
}

static GraftProject *
project_new (const char *folder, const char *db_path)
{
  GraftProject *project = g_new0 (GraftProject, 1);
  g_rec_mutex_init (&project->lock);
  g_mutex_init (&project->hash_mutex);
  g_mutex_init (&project->checkpoint_mutex);
  g_cond_init (&project->checkpoint_cond);
  project->folder = g_canonicalize_filename (folder, NULL);
  project->db_path = g_canonicalize_filename (db_path, NULL);
  project->cache_folder = g_build_filename (project->folder, "cache", NULL);
  project->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_statement);
  return project;
}

static void
project_free (GraftProject *project)
{
  stop_checkpointer (project);
  g_hash_table_destroy (project->statements);
  if (project->db != NULL)
    sqlite3_close_v2 (project->db);
  g_free (project->folder);
  g_free (project->db_path);
  g_free (project->cache_folder);
  g_free (project->read_only_reason);
  g_clear_object (&project->hash_cancellable);
  g_mutex_clear (&project->hash_mutex);
  g_mutex_clear (&project->checkpoint_mutex);
  g_cond_clear (&project->checkpoint_cond);
  g_rec_mutex_clear (&project->lock);
  g_free (project);
}

static gboolean
set_not_a_project (GraftProject *project, const char *why, GError **error)
{
  g_autofree char *display = g_filename_display_name (project->db_path);
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT, _("%s: not a Graft project (%s)"),
               display, why);
  return FALSE;
}

static gboolean
connect (GraftProject *project, gboolean create, GError **error)
{
  if (project->db != NULL)
    {
      g_hash_table_remove_all (project->statements);
      sqlite3_close_v2 (project->db);
      project->db = NULL;
    }
  /* The database and the journals SQLite opens beside it must be regular files (or not
   * be there yet): SQLite would block on a FIFO, or read a device as a journal. */
  static const char *const suffixes[] = { "", "-wal", "-journal", "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (project->db_path, suffixes[i], NULL);
      g_autoptr (GError) local = NULL;
      if (!graft_file_regular_or_absent (path, &local))
        {
          g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT, local->message);
          return FALSE;
        }
    }
  int flags = project->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create)
    flags |= SQLITE_OPEN_CREATE;
  /* In a folder that cannot be written, SQLite cannot make the WAL's -shm file: a
   * project that was closed cleanly (no -wal left) is opened as immutable. With a -wal
   * left over, SQLite reads it the read-only way (no labels are skipped). */
  g_autofree char *uri = NULL;
  if (project->immutable)
    {
      g_autofree char *escaped = g_uri_escape_string (project->db_path, "/", FALSE);
      uri = g_strdup_printf ("file:%s?immutable=1", escaped);
      flags |= SQLITE_OPEN_URI;
    }
  int rc = sqlite3_open_v2 (uri != NULL ? uri : project->db_path, &project->db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK)
    return graft_project_fail (project, rc, "cannot open", error);
  sqlite3_extended_result_codes (project->db, 1);
  sqlite3_busy_timeout (project->db, 5000);
  if (!graft_project_exec (project, "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
                                    "PRAGMA cache_size = -16384", "cannot open", error))
    return FALSE;
  return TRUE;
}

static gboolean
folder_writable (const char *folder, const char *db_path)
{
  return access (folder, W_OK) == 0 && access (db_path, W_OK) == 0;
}

/* WAL and the durability settings, on a writable connection. */
static gboolean
set_journal (GraftProject *project, GError **error)
{
  sqlite3_stmt *statement = NULL;
  int rc = sqlite3_prepare_v2 (project->db, "PRAGMA journal_mode = WAL", -1, &statement, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (statement);
  gboolean wal = rc == SQLITE_ROW && g_ascii_strcasecmp ((const char *) sqlite3_column_text (statement, 0), "wal") == 0;
  sqlite3_finalize (statement);
  if (rc != SQLITE_ROW)
    return graft_project_fail (project, rc, "cannot switch the journal to WAL", error);
  if (!wal)
    {
      g_autofree char *display = g_filename_display_name (project->db_path);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO,
                   _("%s: the file system does not support SQLite's WAL journal"), display);
      return FALSE;
    }
  return graft_project_exec (project, "PRAGMA synchronous = FULL", "cannot open", error);
}

static gboolean
quick_check (GraftProject *project, GError **error)
{
  sqlite3_stmt *statement = NULL;
  int rc = sqlite3_prepare_v2 (project->db, "PRAGMA quick_check(3)", -1, &statement, NULL);
  g_autoptr (GString) problems = g_string_new (NULL);
  if (rc == SQLITE_OK)
    {
      while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
        {
          const char *line = (const char *) sqlite3_column_text (statement, 0);
          if (g_strcmp0 (line, "ok") != 0)
            g_string_append_printf (problems, "%s%s", problems->len > 0 ? "; " : "", line);
        }
    }
  sqlite3_finalize (statement);
  if (rc != SQLITE_DONE && rc != SQLITE_OK)
    return graft_project_fail (project, rc, "cannot read", error);
  if (problems->len > 0)
    {
      g_autofree char *display = g_filename_display_name (project->db_path);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_CORRUPT,
                   _("%s: the project database is damaged (%s)"), display, problems->str);
      return FALSE;
    }
  return TRUE;
}

static void
ensure_cache_folder (GraftProject *project)
{
  if (!project->read_only)
    g_mkdir_with_parents (project->cache_folder, 0755);
}

gboolean
graft_project_folder_has_project (const char *folder)
{
  g_autofree char *db = g_build_filename (folder, GRAFT_PROJECT_DB_NAME, NULL);
  return g_file_test (db, G_FILE_TEST_IS_REGULAR);
}

GraftProject *
graft_project_open (const char *folder, GError **error)
{
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *db_path = NULL;
  g_autofree char *project_folder = NULL;
  if (g_file_test (folder, G_FILE_TEST_IS_REGULAR))
    {
      db_path = g_strdup (folder);
      project_folder = g_path_get_dirname (folder);
    }
  else
    {
      db_path = g_build_filename (folder, GRAFT_PROJECT_DB_NAME, NULL);
      project_folder = g_strdup (folder);
    }
  GraftProject *project = project_new (project_folder, db_path);
  g_autofree char *display = g_filename_display_name (project->db_path);

  struct stat st;
  if (g_stat (project->db_path, &st) != 0)
    {
      int saved_errno = errno;
      g_autofree char *folder_display = g_filename_display_name (project->folder);
      if (saved_errno == ENOENT)
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                     _("%s: no Graft project here (no %s)"), folder_display, GRAFT_PROJECT_DB_NAME);
      else
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("%s: cannot read: %s"), display,
                     g_strerror (saved_errno));
      project_free (project);
      return NULL;
    }

  /* The SQLite header, before SQLite sees the file; a project.db that is a FIFO or a
   * device is refused here (SQLite's open would wait on a FIFO for ever). */
  guint8 head[16];
  g_autoptr (GError) read_error = NULL;
  gssize got = graft_project_read_head (project->db_path, head, sizeof head, &read_error);
  if (got < 0)
    {
      g_set_error_literal (error, GRAFT_PROJECT_ERROR,
                           g_error_matches (read_error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE)
                               ? GRAFT_PROJECT_ERROR_NOT_A_PROJECT
                               : GRAFT_PROJECT_ERROR_IO,
                           read_error->message);
      project_free (project);
      return NULL;
    }
  if (got < 16 || memcmp (head, "SQLite format 3", 16) != 0)
    {
      set_not_a_project (project, got == 0 ? "an empty file" : "not an SQLite database", error);
      project_free (project);
      return NULL;
    }

  if (!folder_writable (project->folder, project->db_path))
    {
      project->read_only = TRUE;
      project->read_only_reason = g_strdup ("the folder or project.db is read-only");
      g_autofree char *wal = g_strconcat (project->db_path, "-wal", NULL);
      GStatBuf wal_stat;
      project->immutable = access (project->folder, W_OK) != 0
                           && (g_stat (wal, &wal_stat) != 0 || wal_stat.st_size == 0);
    }
  if (!connect (project, FALSE, error))
    {
      project_free (project);
      return NULL;
    }

  int application_id = 0, version = 0;
  int rc = pragma_int (project, "PRAGMA application_id", &application_id);
  if (rc == SQLITE_OK)
    rc = pragma_int (project, "PRAGMA user_version", &version);
  if (rc != SQLITE_OK)
    {
      if ((rc & 0xff) == SQLITE_NOTADB)
        set_not_a_project (project, "not an SQLite database", error);
      else
        graft_project_fail (project, rc, "cannot read", error);
      project_free (project);
      return NULL;
    }
  if (application_id != GRAFT_APPLICATION_ID)
    {
      set_not_a_project (project, "an SQLite database of another program", error);
      project_free (project);
      return NULL;
    }
  project->schema_version = version;

  if (version > GRAFT_PROJECT_SCHEMA_VERSION && !project->read_only)
    {
      project->read_only = TRUE;
      project->read_only_reason = g_strdup_printf ("written by a newer Graft (schema %d; this one reads up to %d)",
                                                   version, GRAFT_PROJECT_SCHEMA_VERSION);
      if (!connect (project, FALSE, error))
        {
          project_free (project);
          return NULL;
        }
    }
  if (!project->read_only && !set_journal (project, error))
    {
      project_free (project);
      return NULL;
    }
  if (!quick_check (project, error))
    {
      project_free (project);
      return NULL;
    }
  if (version < GRAFT_PROJECT_SCHEMA_VERSION)
    {
      if (project->read_only)
        {
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY,
                       _("%s: a project from an older Graft (schema %d) must be upgraded, but %s"), display, version,
                       project->read_only_reason);
          project_free (project);
          return NULL;
        }
      if (version < 1)
        {
          set_not_a_project (project, "no Graft schema in it", error);
          project_free (project);
          return NULL;
        }
      if (!migrate (project, version, error))
        {
          project_free (project);
          return NULL;
        }
    }
  ensure_cache_folder (project);
  if (!project->read_only)
    start_checkpointer (project);
  return project;
}

GraftProject *
graft_project_create (const char *folder, const char *name, GError **error)
{
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *db_path = g_build_filename (folder, GRAFT_PROJECT_DB_NAME, NULL);
  g_autofree char *folder_display = g_filename_display_name (folder);
  if (g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS, _("%s: a project is already there"),
                   folder_display);
      return NULL;
    }
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, GRAFT_PROJECT_ERROR,
                   saved_errno == EROFS || saved_errno == EACCES ? GRAFT_PROJECT_ERROR_READ_ONLY
                   : saved_errno == ENOSPC ? GRAFT_PROJECT_ERROR_DISK_FULL : GRAFT_PROJECT_ERROR_IO,
                   _("%s: cannot create the project folder: %s"), folder_display, g_strerror (saved_errno));
      return NULL;
    }
  GraftProject *project = project_new (folder, db_path);
  if (!connect (project, TRUE, error) || !set_journal (project, error) || !migrate (project, 0, error))
    {
      project_free (project);
      g_remove (db_path);
      g_autofree char *wal = g_strconcat (db_path, "-wal", NULL);
      g_autofree char *shm = g_strconcat (db_path, "-shm", NULL);
      g_remove (wal);
      g_remove (shm);
      return NULL;
    }
  g_autofree char *created = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time ());
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                           ((guint64) g_random_int () << 32) | g_random_int ());
  const char *keys[] = { "name", "created", "split_seed" };
  const char *values[] = { name != NULL ? name : "", created, seed };
  gboolean ok = graft_project_begin (project, error);
  for (int i = 0; ok && i < 3; i++)
    {
      GRAFT_STMT st = graft_project_statement (project, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", error);
      ok = st != NULL;
      if (ok)
        {
          sqlite3_bind_text (st, 1, keys[i], -1, SQLITE_STATIC);
          sqlite3_bind_text (st, 2, values[i], -1, SQLITE_TRANSIENT);
          ok = graft_project_step_done (project, st, "cannot write the project's name", error);
        }
    }
  if (ok)
    ok = graft_project_commit (project, error);
  else if (project->db != NULL)
    graft_project_rollback (project);
  if (!ok)
    {
      project_free (project);
      g_remove (db_path);
      return NULL;
    }
  ensure_cache_folder (project);
  start_checkpointer (project);
  return project;
}

void
graft_project_close (GraftProject *project)
{
  if (project == NULL)
    return;
  g_mutex_lock (&project->hash_mutex);
  GThread *thread = g_steal_pointer (&project->hash_thread);
  if (project->hash_cancellable != NULL)
    g_cancellable_cancel (project->hash_cancellable);
  g_mutex_unlock (&project->hash_mutex);
  if (thread != NULL)
    g_thread_join (thread);

  stop_checkpointer (project);
  g_rec_mutex_lock (&project->lock);
  g_hash_table_remove_all (project->statements);
  if (project->db != NULL && !project->read_only)
    sqlite3_wal_checkpoint_v2 (project->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  g_rec_mutex_unlock (&project->lock);
  project_free (project);
}

const char *
graft_project_get_folder (GraftProject *project)
{
  return project->folder;
}

const char *
graft_project_get_db_path (GraftProject *project)
{
  return project->db_path;
}

const char *
graft_project_get_cache_folder (GraftProject *project)
{
  ensure_cache_folder (project);
  return project->cache_folder;
}

gboolean
graft_project_is_read_only (GraftProject *project)
{
  return project->read_only;
}

const char *
graft_project_read_only_reason (GraftProject *project)
{
  return project->read_only_reason;
}

int
graft_project_schema_version (GraftProject *project)
{
  return project->schema_version;
}

const char *
graft_project_meta_get (GraftProject *project, const char *key, char **value)
{
  *value = NULL;
  GRAFT_STMT st = graft_project_statement (project, "SELECT value FROM meta WHERE key = ?", NULL);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step (st) == SQLITE_ROW)
    *value = g_strdup ((const char *) sqlite3_column_text (st, 0));
  return *value;
}

char *
graft_project_get_name (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  char *value = NULL;
  graft_project_meta_get (project, "name", &value);
  return value != NULL ? value : g_strdup ("");
}

gboolean
graft_project_set_name (GraftProject *project, const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  GRAFT_STMT st = graft_project_statement (project, "INSERT OR REPLACE INTO meta (key, value) VALUES ('name', ?)", error);
  if (st == NULL)
    {
      graft_project_rollback (project);
      return FALSE;
    }
  sqlite3_bind_text (st, 1, name, -1, SQLITE_TRANSIENT);
  if (!graft_project_step_done (project, st, "cannot rename the project", error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  return graft_project_commit (project, error);
}

gboolean
graft_project_set_power_safe (GraftProject *project, gboolean power_safe, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (project->read_only)
    return TRUE;
  return graft_project_exec (project, power_safe ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                             "cannot change the durability", error);
}

gboolean
graft_project_check_integrity (GraftProject *project, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  sqlite3_stmt *statement = NULL;
  int rc = sqlite3_prepare_v2 (project->db, "PRAGMA integrity_check(5)", -1, &statement, NULL);
  g_autoptr (GString) problems = g_string_new (NULL);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
      {
        const char *line = (const char *) sqlite3_column_text (statement, 0);
        if (g_strcmp0 (line, "ok") != 0)
          g_string_append_printf (problems, "%s%s", problems->len > 0 ? "; " : "", line);
      }
  sqlite3_finalize (statement);
  if (rc != SQLITE_DONE)
    return graft_project_fail (project, rc, "cannot check the database", error);
  if (problems->len > 0)
    {
      g_autofree char *display = g_filename_display_name (project->db_path);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_CORRUPT,
                   _("%s: the project database is damaged (%s)"), display, problems->str);
      return FALSE;
    }
  return TRUE;
}

/* ---- Paths and files ---------------------------------------------------------------- */

char *
graft_project_store_path (GraftProject *project, const char *path)
{
  g_autofree char *canonical = g_canonicalize_filename (path, NULL);
  gsize n = strlen (project->folder);
  if (strncmp (canonical, project->folder, n) == 0 && canonical[n] == G_DIR_SEPARATOR)
    return g_strdup (canonical + n + 1);
  return g_steal_pointer (&canonical);
}

char *
graft_project_resolve_path (GraftProject *project, const char *stored)
{
  if (g_path_is_absolute (stored))
    return g_strdup (stored);
  return g_build_filename (project->folder, stored, NULL);
}

gssize
graft_project_read_head (const char *path, guint8 *head, gsize n, GError **error)
{
  int fd = graft_open_regular (path, NULL, error);
  if (fd < 0)
    return -1;
  gsize total = 0;
  while (total < n)
    {
      ssize_t got = read (fd, head + total, n - total);
      if (got < 0)
        {
          if (errno == EINTR)
            continue;
          int saved_errno = errno;
          close (fd);
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), _("%s: cannot read: %s"), display,
                       g_strerror (saved_errno));
          return -1;
        }
      if (got == 0)
        break;
      total += (gsize) got;
    }
  close (fd);
  return (gssize) total;
}

GraftMagic
graft_project_sniff (const guint8 *head, gsize n, const char **format)
{
  const char *name = NULL;
  GraftMagic magic = GRAFT_MAGIC_UNKNOWN;
  if (n == 0)
    magic = GRAFT_MAGIC_EMPTY;
  else if (n >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0)
    magic = GRAFT_MAGIC_PNG, name = "PNG";
  else if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    magic = GRAFT_MAGIC_JPEG, name = "JPEG";
  else if (n >= 6 && (memcmp (head, "GIF87a", 6) == 0 || memcmp (head, "GIF89a", 6) == 0))
    magic = GRAFT_MAGIC_OTHER_IMAGE, name = "GIF";
  else if (n >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0)
    magic = GRAFT_MAGIC_OTHER_IMAGE, name = "WebP";
  else if (n >= 4 && (memcmp (head, "II*\0", 4) == 0 || memcmp (head, "MM\0*", 4) == 0))
    magic = GRAFT_MAGIC_OTHER_IMAGE, name = "TIFF";
  else if (n >= 12 && memcmp (head + 4, "ftyp", 4) == 0
           && (memcmp (head + 8, "heic", 4) == 0 || memcmp (head + 8, "heix", 4) == 0
               || memcmp (head + 8, "mif1", 4) == 0 || memcmp (head + 8, "avif", 4) == 0))
    magic = GRAFT_MAGIC_OTHER_IMAGE, name = memcmp (head + 8, "avif", 4) == 0 ? "AVIF" : "HEIF";
  else if (n >= 2 && head[0] == 'B' && head[1] == 'M')
    magic = GRAFT_MAGIC_OTHER_IMAGE, name = "BMP";
  if (format != NULL)
    *format = name;
  return magic;
}

gint64
graft_project_stat_mtime (const void *stat_buf)
{
  const struct stat *st = stat_buf;
  return (gint64) st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;
}
