/* The project store: schema and migration, read-only and broken files, classes, labels,
 * undo and redo, the grid's queries, splits, runs and metric series. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "project/project.h"
#include "test-project-helpers.h"

typedef struct {
  char *dir;
  char *folder;         /* the project */
  char *images;         /* image files */
  GraftProject *project;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = make_temp_dir ();
  f->folder = g_build_filename (f->dir, "project", NULL);
  f->images = g_build_filename (f->dir, "images", NULL);
  g_autoptr (GError) error = NULL;
  f->project = graft_project_create (f->folder, "Test", &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->project);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  graft_project_close (f->project);
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->folder);
  g_free (f->images);
}

static void
reopen (Fixture *f)
{
  graft_project_close (f->project);
  g_autoptr (GError) error = NULL;
  f->project = graft_project_open (f->folder, &error);
  g_assert_no_error (error);
}

/* n PNG files image-<i>.png with distinct content, added one by one. */
static GArray *
add_images (Fixture *f, guint n, guint first_seed)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("image-%04u.png", first_seed + i);
      g_autofree char *path = g_build_filename (f->images, name, NULL);
      write_png (path, 4, 4, first_seed + i);
      g_autoptr (GError) error = NULL;
      gint64 id = graft_project_add_image (f->project, path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (id, >, 0);
      g_array_append_val (ids, id);
    }
  return ids;
}

static gint64
label_of (GraftProject *project, gint64 image)
{
  GraftImageInfo info = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (graft_project_get_image (project, image, &info, &error));
  gint64 class_id = info.class_id;
  graft_image_info_clear (&info);
  return class_id;
}

static GraftClass *
find_listed (GArray *classes, gint64 id)
{
  for (guint i = 0; i < classes->len; i++)
    if (g_array_index (classes, GraftClass, i).id == id)
      return &g_array_index (classes, GraftClass, i);
  return NULL;
}

/* ---- Opening ---------------------------------------------------------------------- */

static void
test_create_open (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (graft_project_schema_version (f->project), ==, GRAFT_PROJECT_SCHEMA_VERSION);
  g_assert_false (graft_project_is_read_only (f->project));
  g_autofree char *db = g_build_filename (f->folder, "project.db", NULL);
  g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
  g_assert_true (graft_project_folder_has_project (f->folder));
  g_assert_false (graft_project_folder_has_project (graft_project_get_cache_folder (f->project)));
  g_assert_true (g_file_test (graft_project_get_cache_folder (f->project), G_FILE_TEST_IS_DIR));
  g_autofree char *name = graft_project_get_name (f->project);
  g_assert_cmpstr (name, ==, "Test");

  g_autoptr (GError) error = NULL;
  g_assert_true (graft_project_set_name (f->project, "Renamed", &error));
  g_assert_no_error (error);
  reopen (f);
  g_autofree char *renamed = graft_project_get_name (f->project);
  g_assert_cmpstr (renamed, ==, "Renamed");
  g_assert_true (graft_project_check_integrity (f->project, &error));

  /* The WAL journal, foreign keys. */
  sqlite3 *db_handle = NULL;
  g_assert_cmpint (sqlite3_open_v2 (db, &db_handle, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2 (db_handle, "PRAGMA journal_mode", -1, &st, NULL);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "wal");
  sqlite3_finalize (st);
  sqlite3_close (db_handle);

  /* Opening by the database's path works too. */
  GraftProject *by_file = graft_project_open (db, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (graft_project_get_folder (by_file), ==, graft_project_get_folder (f->project));
  graft_project_close (by_file);

  /* A second create in the same folder. */
  GraftProject *again = graft_project_create (f->folder, "Again", &error);
  g_assert_null (again);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS);
  g_clear_error (&error);

  /* A folder without a project. */
  g_autofree char *empty = g_build_filename (f->dir, "empty", NULL);
  g_mkdir (empty, 0755);
  g_assert_null (graft_project_open (empty, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "empty"));
}

static void
test_not_a_project (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* Text in project.db */
  g_autofree char *text_folder = g_build_filename (f->dir, "text", NULL);
  g_autofree char *text_db = g_build_filename (text_folder, "project.db", NULL);
  write_bytes (text_db, "hello, this is not a database\n", 30);
  g_assert_null (graft_project_open (text_folder, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT);
  g_assert_nonnull (strstr (error->message, text_db));
  g_assert_nonnull (strstr (error->message, "not an SQLite database"));
  g_clear_error (&error);

  /* An empty file */
  g_autofree char *empty_db = g_build_filename (f->dir, "empty", "project.db", NULL);
  write_bytes (empty_db, "", 0);
  g_assert_null (graft_project_open (empty_db, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT);
  g_clear_error (&error);

  /* Another program's SQLite database */
  g_autofree char *other_folder = g_build_filename (f->dir, "other", NULL);
  g_mkdir (other_folder, 0755);
  g_autofree char *other_db = g_build_filename (other_folder, "project.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (other_db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  g_assert_null (graft_project_open (other_folder, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT);
  g_assert_nonnull (strstr (error->message, other_db));
  g_assert_nonnull (strstr (error->message, "another program"));
}

/* A project.db, or a journal beside it, that is a FIFO: refused before SQLite opens it
 * (opening a FIFO for reading waits for a writer, for ever). */
static void
test_fifo (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  alarm (30);   /* a regression blocks in open(): SIGALRM fails the test instead of hanging */

  g_autofree char *folder = g_build_filename (f->dir, "fifo", NULL);
  g_autofree char *db = g_build_filename (folder, "project.db", NULL);
  g_assert_cmpint (g_mkdir (folder, 0755), ==, 0);
  g_assert_cmpint (mkfifo (db, 0600), ==, 0);
  g_assert_null (graft_project_open (folder, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT);
  g_autofree char *expected = g_strdup_printf ("%s is not a regular file (a FIFO)", db);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  /* Nor is one created over it. */
  g_assert_null (graft_project_create (folder, "x", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS);
  g_clear_error (&error);

  /* A project whose write-ahead log is a FIFO. */
  g_autofree char *wal_folder = g_build_filename (f->dir, "wal", NULL);
  graft_project_close (graft_project_create (wal_folder, "wal", &error));
  g_assert_no_error (error);
  g_autofree char *wal = g_build_filename (wal_folder, "project.db-wal", NULL);
  g_remove (wal);
  g_assert_cmpint (mkfifo (wal, 0600), ==, 0);
  g_assert_null (graft_project_open (wal_folder, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_A_PROJECT);
  g_assert_nonnull (strstr (error->message, "project.db-wal is not a regular file (a FIFO)"));
  g_clear_error (&error);
  alarm (0);
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* Enough pages: a run with a long spec and many metric points. */
  g_autofree char *spec = g_strnfill (20000, 'x');
  gint64 run = graft_project_add_run (f->project, "big", spec, &error);
  g_assert_no_error (error);
  GraftMetricPoint points[2000];
  for (int i = 0; i < 2000; i++)
    points[i] = (GraftMetricPoint) { i, i % 2 ? "train/loss" : "validation/loss", i * 0.5 };
  g_assert_true (graft_project_append_metrics (f->project, run, points, 2000, &error));
  graft_project_close (f->project);
  f->project = NULL;

  g_autofree char *db = g_build_filename (f->folder, "project.db", NULL);
  g_autofree char *contents = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (db, &contents, &n, NULL));
  g_assert_cmpuint (n, >, 40000);
  /* Garbage over everything past the first two pages. */
  for (gsize i = 8192; i < n; i++)
    contents[i] = (char) (0xa5 ^ (i * 31));
  write_bytes (db, contents, n);

  f->project = graft_project_open (f->folder, &error);
  g_assert_null (f->project);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, db));
  g_assert_nonnull (strstr (error->message, "damaged"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* The file itself was left alone. */
  g_autofree char *after = NULL;
  gsize after_n = 0;
  g_assert_true (g_file_get_contents (db, &after, &after_n, NULL));
  g_assert_cmpuint (after_n, ==, n);
  g_assert_cmpmem (after, after_n, contents, n);
}

static void
test_newer_version (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  g_assert_no_error (error);
  graft_project_close (f->project);
  f->project = NULL;

  g_autofree char *db_path = g_build_filename (f->folder, "project.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  f->project = graft_project_open (f->folder, &error);
  g_assert_no_error (error);
  g_assert_true (graft_project_is_read_only (f->project));
  g_assert_nonnull (strstr (graft_project_read_only_reason (f->project), "newer Graft"));
  g_assert_nonnull (strstr (graft_project_read_only_reason (f->project), "99"));
  g_assert_cmpint (graft_project_schema_version (f->project), ==, 99);
  /* Reading works, */
  g_autoptr (GArray) classes = graft_project_list_classes (f->project, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (classes->len, ==, 1);
  g_assert_cmpstr (g_array_index (classes, GraftClass, 0).name, ==, "cat");
  /* changing does not, with a message naming the file. */
  g_assert_cmpint (graft_project_add_class (f->project, "dog", NULL, &error), ==, 0);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_assert_nonnull (strstr (error->message, db_path));
  g_assert_nonnull (strstr (error->message, "newer Graft"));
  g_clear_error (&error);
  g_assert_false (graft_project_rename_class (f->project, cat, "kitten", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_assert_false (graft_project_can_undo (f->project));
  graft_project_close (f->project);

  /* The file keeps its version. */
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &st, NULL);
  sqlite3_step (st);
  g_assert_cmpint (sqlite3_column_int (st, 0), ==, 99);
  sqlite3_finalize (st);
  sqlite3_close (db);
  f->project = NULL;
}

/* Schema 1 as the first Graft wrote it, typed out here on purpose (not taken from the
 * library), with data in it. */
static void
test_migrate_v1 (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *db_path = g_build_filename (dir, "project.db", NULL);
  g_autofree char *image_a = g_build_filename (dir, "a.png", NULL);
  g_autofree char *image_b = g_build_filename (dir, "b.png", NULL);
  write_png (image_a, 4, 4, 1);
  write_png (image_b, 4, 4, 2);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  const char *v1 =
    "PRAGMA application_id = 1196574292;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE classes (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    "  colour TEXT NOT NULL DEFAULT '#808080', position INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, hash TEXT,"
    "  size INTEGER NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0, split INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE labels (image INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,"
    "  class INTEGER NOT NULL REFERENCES classes(id), time INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX labels_class ON labels(class);"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending', started INTEGER, finished INTEGER, metrics TEXT);"
    "CREATE TABLE metrics (run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL, name TEXT NOT NULL, value REAL);"
    "INSERT INTO meta VALUES ('application', 'graft'), ('name', 'Old project');"
    "INSERT INTO classes (name, colour, position) VALUES ('cat', '#ff0000', 0), ('dog', '#00ff00', 1);"
    "INSERT INTO images (path, size, added, split) VALUES ('a.png', 10, 5, 1), ('b.png', 10, 6, 2);"
    "INSERT INTO labels VALUES (1, 2, 1000);"
    "INSERT INTO runs (spec, status, started, finished, metrics) VALUES ('{}', 'finished', 10, 20, '{\"acc\":0.9}');"
    "INSERT INTO metrics VALUES (1, 0, 'train/loss', 2.0), (1, 1, 'train/loss', 1.0);"
    "PRAGMA user_version = 1;";
  g_assert_cmpint (sqlite3_exec (db, v1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_schema_version (project), ==, GRAFT_PROJECT_SCHEMA_VERSION);
  g_assert_false (graft_project_is_read_only (project));
  g_autofree char *name = graft_project_get_name (project);
  g_assert_cmpstr (name, ==, "Old project");

  g_autoptr (GArray) classes = graft_project_list_classes (project, &error);
  g_assert_cmpuint (classes->len, ==, 2);
  g_assert_cmpstr (g_array_index (classes, GraftClass, 0).name, ==, "cat");
  g_assert_cmpuint (g_array_index (classes, GraftClass, 0).count, ==, 0);
  g_assert_cmpstr (g_array_index (classes, GraftClass, 1).name, ==, "dog");
  g_assert_cmpuint (g_array_index (classes, GraftClass, 1).count, ==, 1);

  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (project, 1, &info, &error));
  g_assert_cmpstr (info.path, ==, image_a);
  g_assert_cmpint (info.class_id, ==, 2);
  g_assert_cmpint (info.source, ==, GRAFT_LABEL_PERSON);
  g_assert_cmpint (info.label_time, ==, 1000);
  g_assert_cmpint (info.split, ==, GRAFT_SPLIT_TRAIN);
  graft_image_info_clear (&info);

  /* The grid's queries see the migrated labels (the denormalised column was filled). */
  GraftImageQuery query = { GRAFT_FILTER_UNLABELLED };
  g_assert_cmpuint (graft_project_count_images (project, &query, &error), ==, 1);
  query = (GraftImageQuery) { GRAFT_FILTER_CLASS, 2 };
  g_assert_cmpuint (graft_project_count_images (project, &query, &error), ==, 1);

  g_autoptr (GArray) runs = graft_project_list_runs (project, &error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpint (g_array_index (runs, GraftRun, 0).status, ==, GRAFT_RUN_FINISHED);
  g_assert_cmpstr (g_array_index (runs, GraftRun, 0).metrics_json, ==, "{\"acc\":0.9}");
  g_autoptr (GArray) series = graft_project_get_metric_series (project, 1, "train/loss", &error);
  g_assert_cmpuint (series->len, ==, 2);

  /* And it works as a new one does: label, undo. */
  g_assert_true (graft_project_set_label (project, 2, 1, GRAFT_LABEL_PERSON, &error));
  g_assert_no_error (error);
  g_assert_true (graft_project_undo (project, &error));
  g_assert_cmpint (label_of (project, 2), ==, 0);
  g_assert_true (graft_project_check_integrity (project, &error));
  graft_project_close (project);

  project = graft_project_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_schema_version (project), ==, GRAFT_PROJECT_SCHEMA_VERSION);
  graft_project_close (project);
  remove_tree (dir);
}

/* A project as schema 2 left it (every project before the export history and the parts
 * of a run: schema 3 only adds those two tables), with a run: opened, it is upgraded in
 * place, its run kept, and records exports and parts; a deleted run's exports stay. */
static void
test_migrate_v2 (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *db_path = g_build_filename (dir, "project.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) exports = NULL, parts = NULL, runs = NULL;
  GraftProject *project = graft_project_create (dir, "Old", &error);
  const char checksum[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  gint64 run, part;
  sqlite3 *db = NULL;

  g_assert_no_error (error);
  run = graft_project_add_run (project, "kept", "{}", &error);
  g_assert_cmpint (run, >, 0);
  g_assert_true (graft_project_set_run_metrics (project, run, "{\"seconds\":3}", &error));
  graft_project_close (project);
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "DROP TABLE exports; DROP TABLE run_parts; PRAGMA user_version = 2;", NULL, NULL,
                                 NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  project = graft_project_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_schema_version (project), ==, 3);
  g_assert_false (graft_project_is_read_only (project));
  runs = graft_project_list_runs (project, &error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpstr (g_array_index (runs, GraftRun, 0).name, ==, "kept");
  g_assert_cmpstr (g_array_index (runs, GraftRun, 0).metrics_json, ==, "{\"seconds\":3}");

  g_assert_true (graft_project_add_export (project, run, "/tmp/out.onnx", "onnx", checksum, &error));
  g_assert_no_error (error);
  g_assert_false (graft_project_add_export (project, run + 1, "/tmp/other.onnx", "onnx", checksum, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  part = graft_project_begin_run_part (project, run, 0, &error);
  g_assert_cmpint (part, >, 0);
  g_assert_true (graft_project_update_run_part (project, part, 2, 1.5, &error));
  parts = graft_project_get_run_parts (project, run, &error);
  g_assert_cmpuint (parts->len, ==, 1);
  g_assert_cmpint (g_array_index (parts, GraftRunPart, 0).epochs_done, ==, 2);
  g_assert_cmpfloat (g_array_index (parts, GraftRunPart, 0).seconds, ==, 1.5);
  g_assert_true (graft_project_check_integrity (project, &error));
  graft_project_close (project);

  /* Reopened: schema 3, the history there; the run deleted, its export stays (run 0). */
  project = graft_project_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_schema_version (project), ==, 3);
  exports = graft_project_list_exports (project, run, &error);
  g_assert_cmpuint (exports->len, ==, 1);
  g_assert_cmpint (g_array_index (exports, GraftExportEntry, 0).run, ==, run);
  g_assert_cmpint (g_array_index (exports, GraftExportEntry, 0).time, >, 0);
  g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).path, ==, "/tmp/out.onnx");
  g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).format, ==, "onnx");
  g_assert_cmpstr (g_array_index (exports, GraftExportEntry, 0).checksum, ==, checksum);
  g_clear_pointer (&exports, g_array_unref);
  g_assert_true (graft_project_delete_run (project, run, &error));
  exports = graft_project_list_exports (project, 0, &error);
  g_assert_cmpuint (exports->len, ==, 1);
  g_assert_cmpint (g_array_index (exports, GraftExportEntry, 0).run, ==, 0);
  g_clear_pointer (&parts, g_array_unref);
  parts = graft_project_get_run_parts (project, run, &error);
  g_assert_cmpuint (parts->len, ==, 0);
  graft_project_close (project);
  remove_tree (dir);
}

/* ---- Classes ---------------------------------------------------------------------- */

static void
test_classes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  g_assert_no_error (error);
  gint64 dog = graft_project_add_class (f->project, "dog", "#00FF00", &error);
  g_assert_no_error (error);
  gint64 bird = graft_project_add_class (f->project, "bird", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_find_class (f->project, "dog"), ==, dog);

  /* Bad ones */
  g_assert_cmpint (graft_project_add_class (f->project, "cat", NULL, &error), ==, 0);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpint (graft_project_add_class (f->project, "", NULL, &error), ==, 0);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (graft_project_add_class (f->project, "fish", "red", &error), ==, 0);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (graft_project_rename_class (f->project, dog, "cat", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (graft_project_rename_class (f->project, 999, "x", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr (GArray) classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 3);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, cat);
  g_assert_cmpint (g_array_index (classes, GraftClass, 1).id, ==, dog);
  g_assert_cmpint (g_array_index (classes, GraftClass, 2).id, ==, bird);
  g_assert_cmpstr (g_array_index (classes, GraftClass, 0).colour, ==, "#4e79a7");
  g_assert_cmpstr (g_array_index (classes, GraftClass, 1).colour, ==, "#00ff00");
  g_clear_pointer (&classes, g_array_unref);

  /* Rename, recolour, move; each undone and redone. */
  g_assert_true (graft_project_rename_class (f->project, cat, "kitten", &error));
  g_autofree char *description = graft_project_undo_description (f->project);
  g_assert_cmpstr (description, ==, "Rename class “cat” to “kitten”");
  g_assert_true (graft_project_recolour_class (f->project, cat, "#123456", &error));
  g_assert_true (graft_project_move_class (f->project, bird, 0, &error));
  g_assert_no_error (error);

  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, bird);
  g_assert_cmpint (g_array_index (classes, GraftClass, 1).id, ==, cat);
  g_assert_cmpint (g_array_index (classes, GraftClass, 2).id, ==, dog);
  g_assert_cmpstr (find_listed (classes, cat)->name, ==, "kitten");
  g_assert_cmpstr (find_listed (classes, cat)->colour, ==, "#123456");
  g_clear_pointer (&classes, g_array_unref);

  g_assert_true (graft_project_undo (f->project, &error)); /* move */
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, cat);
  g_assert_cmpint (g_array_index (classes, GraftClass, 2).id, ==, bird);
  g_clear_pointer (&classes, g_array_unref);
  g_assert_true (graft_project_undo (f->project, &error)); /* recolour */
  g_assert_true (graft_project_undo (f->project, &error)); /* rename */
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpstr (find_listed (classes, cat)->name, ==, "cat");
  g_assert_cmpstr (find_listed (classes, cat)->colour, ==, "#4e79a7");
  g_clear_pointer (&classes, g_array_unref);
  g_assert_true (graft_project_can_redo (f->project));
  g_assert_true (graft_project_redo (f->project, &error)); /* rename */
  g_assert_true (graft_project_redo (f->project, &error)); /* recolour */
  g_assert_true (graft_project_redo (f->project, &error)); /* move */
  g_assert_false (graft_project_redo (f->project, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOTHING_TO_UNDO);
  g_clear_error (&error);
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, bird);
  g_assert_cmpstr (find_listed (classes, cat)->name, ==, "kitten");
  g_assert_cmpstr (find_listed (classes, cat)->colour, ==, "#123456");
  g_clear_pointer (&classes, g_array_unref);

  /* Undo an add: the class goes; redo: it comes back with its id. */
  gint64 fish = graft_project_add_class (f->project, "fish", NULL, &error);
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpint (graft_project_find_class (f->project, "fish"), ==, 0);
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpint (graft_project_find_class (f->project, "fish"), ==, fish);

  /* Undo everything, down to an empty project. */
  while (graft_project_can_undo (f->project))
    g_assert_true (graft_project_undo (f->project, &error));
  g_assert_no_error (error);
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 0);
  g_assert_false (graft_project_undo (f->project, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOTHING_TO_UNDO);
}

/* ---- Labels and undo ----------------------------------------------------------------- */

static void
test_labels (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 6, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  gint64 dog = graft_project_add_class (f->project, "dog", NULL, &error);
  g_assert_no_error (error);

  gint64 before = g_get_real_time ();
  g_assert_true (graft_project_set_label (f->project, id[0], cat, GRAFT_LABEL_PERSON, &error));
  g_assert_no_error (error);
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (f->project, id[0], &info, &error));
  g_assert_cmpint (info.class_id, ==, cat);
  g_assert_cmpint (info.source, ==, GRAFT_LABEL_PERSON);
  g_assert_cmpint (info.label_time, >=, before);
  g_assert_nonnull (info.hash);
  g_assert_cmpuint (strlen (info.hash), ==, 64);
  graft_image_info_clear (&info);

  /* Relabel, clear, many at once. */
  g_assert_true (graft_project_set_label (f->project, id[0], dog, GRAFT_LABEL_PERSON, &error));
  g_assert_cmpint (label_of (f->project, id[0]), ==, dog);
  g_assert_true (graft_project_clear_label (f->project, id[0], &error));
  g_assert_cmpint (label_of (f->project, id[0]), ==, 0);
  g_assert_true (graft_project_set_labels (f->project, id, 4, cat, GRAFT_LABEL_PERSON, &error));
  g_autofree char *description = graft_project_undo_description (f->project);
  g_assert_cmpstr (description, ==, "Label 4 images as “cat”");
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (label_of (f->project, id[i]), ==, cat);
  g_assert_cmpuint (graft_project_count_labels (f->project, cat, &error), ==, 4);

  /* A missing image or class: nothing changes. */
  gint64 bad[] = { id[4], 99999 };
  g_assert_false (graft_project_set_labels (f->project, bad, 2, dog, GRAFT_LABEL_PERSON, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (label_of (f->project, id[4]), ==, 0);
  g_assert_false (graft_project_set_label (f->project, id[4], 12345, GRAFT_LABEL_PERSON, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Undo the four, the clear, the relabel, the label: back to nothing; then redo all. */
  g_assert_true (graft_project_undo (f->project, &error));
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (label_of (f->project, id[i]), ==, 0);
  g_assert_true (graft_project_undo (f->project, &error)); /* clear */
  g_assert_cmpint (label_of (f->project, id[0]), ==, dog);
  g_assert_true (graft_project_undo (f->project, &error)); /* relabel */
  g_assert_cmpint (label_of (f->project, id[0]), ==, cat);
  g_assert_true (graft_project_undo (f->project, &error)); /* label */
  g_assert_cmpint (label_of (f->project, id[0]), ==, 0);
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpint (label_of (f->project, id[0]), ==, 0);
  g_assert_true (graft_project_redo (f->project, &error));
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (label_of (f->project, id[i]), ==, cat);

  /* A new action drops the redo stack. */
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_true (graft_project_can_redo (f->project));
  g_assert_true (graft_project_set_label (f->project, id[5], dog, GRAFT_LABEL_PERSON, &error));
  g_assert_false (graft_project_can_redo (f->project));

  /* The history survives closing the project. */
  reopen (f);
  g_assert_true (graft_project_can_undo (f->project));
  g_autofree char *after = graft_project_undo_description (f->project);
  g_assert_cmpstr (after, ==, "Label an image as “dog”");
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpint (label_of (f->project, id[5]), ==, 0);
  g_assert_true (graft_project_check_integrity (f->project, &error));
}

static void
test_accept_suggestions (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 3, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  gint64 dog = graft_project_add_class (f->project, "dog", NULL, &error);
  GraftPrediction predictions[] = {
    { id[0], cat, 0.9f },
    { id[1], dog, 0.6f },
  };
  g_assert_true (graft_project_set_predictions (f->project, 0, predictions, 2, &error));
  g_assert_no_error (error);
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (f->project, id[1], &info, &error));
  g_assert_cmpint (info.suggestion, ==, dog);
  g_assert_cmpfloat_with_epsilon (info.confidence, 0.6, 1e-6);
  graft_image_info_clear (&info);

  guint accepted = 0;
  g_assert_true (graft_project_accept_suggestions (f->project, id, 3, &accepted, &error));
  g_assert_cmpuint (accepted, ==, 2);
  g_assert_true (graft_project_get_image (f->project, id[0], &info, &error));
  g_assert_cmpint (info.class_id, ==, cat);
  g_assert_cmpint (info.source, ==, GRAFT_LABEL_SUGGESTION);
  graft_image_info_clear (&info);
  g_assert_cmpint (label_of (f->project, id[2]), ==, 0);
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpint (label_of (f->project, id[0]), ==, 0);
  g_assert_cmpint (label_of (f->project, id[1]), ==, 0);
}

static void
test_merge_undo (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 6, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  gint64 kitten = graft_project_add_class (f->project, "kitten", NULL, &error);
  gint64 dog = graft_project_add_class (f->project, "dog", NULL, &error);
  g_assert_true (graft_project_set_labels (f->project, id, 2, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_true (graft_project_set_labels (f->project, id + 2, 3, kitten, GRAFT_LABEL_SUGGESTION, &error));
  g_assert_true (graft_project_set_label (f->project, id[5], dog, GRAFT_LABEL_PERSON, &error));
  g_assert_false (graft_project_merge_classes (f->project, cat, cat, NULL, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_clear_error (&error);

  guint moved = 0;
  g_assert_true (graft_project_merge_classes (f->project, kitten, cat, &moved, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (moved, ==, 3);
  g_assert_cmpint (graft_project_find_class (f->project, "kitten"), ==, 0);
  g_autoptr (GArray) classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 2);
  g_assert_cmpuint (find_listed (classes, cat)->count, ==, 5);
  g_assert_cmpint (find_listed (classes, dog)->position, ==, 1);
  g_clear_pointer (&classes, g_array_unref);

  g_assert_true (graft_project_undo (f->project, &error));
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 3);
  g_assert_cmpint (g_array_index (classes, GraftClass, 1).id, ==, kitten);
  g_assert_cmpuint (find_listed (classes, kitten)->count, ==, 3);
  g_assert_cmpuint (find_listed (classes, cat)->count, ==, 2);
  g_clear_pointer (&classes, g_array_unref);
  for (int i = 2; i < 5; i++)
    {
      GraftImageInfo info = { 0 };
      g_assert_true (graft_project_get_image (f->project, id[i], &info, &error));
      g_assert_cmpint (info.class_id, ==, kitten);
      g_assert_cmpint (info.source, ==, GRAFT_LABEL_SUGGESTION);
      graft_image_info_clear (&info);
    }
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpuint (graft_project_count_labels (f->project, cat, &error), ==, 5);
  g_assert_cmpint (graft_project_find_class (f->project, "kitten"), ==, 0);
}

static void
test_delete_undo (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 5, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", "#aa0000", &error);
  gint64 dog = graft_project_add_class (f->project, "dog", NULL, &error);
  gint64 bird = graft_project_add_class (f->project, "bird", NULL, &error);
  g_assert_true (graft_project_set_labels (f->project, id, 3, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_true (graft_project_set_label (f->project, id[3], dog, GRAFT_LABEL_PERSON, &error));
  GraftPrediction prediction = { id[4], cat, 0.7f };
  g_assert_true (graft_project_set_predictions (f->project, 0, &prediction, 1, &error));

  g_assert_cmpuint (graft_project_count_labels (f->project, cat, &error), ==, 3);
  guint removed = 0;
  g_assert_true (graft_project_delete_class (f->project, cat, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 3);
  g_autofree char *description = graft_project_undo_description (f->project);
  g_assert_cmpstr (description, ==, "Delete class “cat” and its 3 labels");
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (label_of (f->project, id[i]), ==, 0);
  g_autoptr (GArray) classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 2);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, dog);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).position, ==, 0);
  g_clear_pointer (&classes, g_array_unref);
  /* A new class may take the deleted one's name. */
  GraftImageQuery suggested = { GRAFT_FILTER_SUGGESTED };
  g_assert_cmpuint (graft_project_count_images (f->project, &suggested, &error), ==, 0);

  g_assert_true (graft_project_undo (f->project, &error));
  classes = graft_project_list_classes (f->project, &error);
  g_assert_cmpuint (classes->len, ==, 3);
  g_assert_cmpint (g_array_index (classes, GraftClass, 0).id, ==, cat);
  g_assert_cmpstr (g_array_index (classes, GraftClass, 0).name, ==, "cat");
  g_assert_cmpstr (g_array_index (classes, GraftClass, 0).colour, ==, "#aa0000");
  g_assert_cmpint (g_array_index (classes, GraftClass, 2).id, ==, bird);
  g_assert_cmpuint (g_array_index (classes, GraftClass, 0).count, ==, 3);
  g_clear_pointer (&classes, g_array_unref);
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (label_of (f->project, id[i]), ==, cat);
  g_assert_cmpint (label_of (f->project, id[3]), ==, dog);

  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpint (graft_project_find_class (f->project, "cat"), ==, 0);
  g_assert_cmpuint (graft_project_count_labels (f->project, cat, &error), ==, 0);
  gint64 cat2 = graft_project_add_class (f->project, "cat", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cat2, !=, cat);
  g_assert_true (graft_project_undo (f->project, &error)); /* the new cat */
  g_assert_true (graft_project_undo (f->project, &error)); /* the delete */
  g_assert_cmpint (graft_project_find_class (f->project, "cat"), ==, cat);
  g_assert_true (graft_project_check_integrity (f->project, &error));
}

static void
test_remove_images_undo (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 4, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  g_assert_true (graft_project_set_labels (f->project, id, 2, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_true (graft_project_reset_splits (f->project, 0.5, 0.0, 7, &error));
  GraftImageInfo before = { 0 };
  g_assert_true (graft_project_get_image (f->project, id[1], &before, &error));

  g_assert_true (graft_project_remove_images (f->project, id + 1, 2, &error));
  g_assert_no_error (error);
  GraftImageQuery all = { GRAFT_FILTER_ALL };
  g_assert_cmpuint (graft_project_count_images (f->project, &all, &error), ==, 2);
  GraftImageInfo info = { 0 };
  g_assert_false (graft_project_get_image (f->project, id[1], &info, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpuint (graft_project_count_images (f->project, &all, &error), ==, 4);
  g_assert_true (graft_project_get_image (f->project, id[1], &info, &error));
  g_assert_cmpstr (info.path, ==, before.path);
  g_assert_cmpstr (info.hash, ==, before.hash);
  g_assert_cmpint (info.class_id, ==, cat);
  g_assert_cmpint (info.split, ==, before.split);
  g_assert_cmpint (info.added, ==, before.added);
  graft_image_info_clear (&info);
  graft_image_info_clear (&before);
  g_assert_cmpint (label_of (f->project, id[2]), ==, 0);
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpuint (graft_project_count_images (f->project, &all, &error), ==, 2);
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpint (label_of (f->project, id[1]), ==, cat);
}

/* ---- Queries -------------------------------------------------------------------------- */

static void
assert_ids (GArray *rows, const gint64 *expected, guint n)
{
  g_assert_cmpuint (rows->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_array_index (rows, GraftImageInfo, i).id, ==, expected[i]);
}

static void
test_queries (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = add_images (f, 20, 0);
  const gint64 *id = (const gint64 *) ids->data;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  gint64 dog = graft_project_add_class (f->project, "dog", NULL, &error);
  /* cats: 0, 3, 6, 9, 12, 15, 18; dogs: 1, 4, 7; unlabelled: the rest */
  for (int i = 0; i < 20; i += 3)
    g_assert_true (graft_project_set_label (f->project, id[i], cat, GRAFT_LABEL_PERSON, &error));
  for (int i = 1; i < 10; i += 3)
    g_assert_true (graft_project_set_label (f->project, id[i], dog, GRAFT_LABEL_PERSON, &error));
  /* predictions: 2 (dog), 5 (cat), 8 (cat), and 0 (labelled: not a suggestion) */
  GraftPrediction predictions[] = {
    { id[2], dog, 0.8f }, { id[5], cat, 0.55f }, { id[8], cat, 0.9f }, { id[0], dog, 0.6f },
  };
  g_assert_true (graft_project_set_predictions (f->project, 0, predictions, 4, &error));

  GraftImageQuery query = { GRAFT_FILTER_CLASS, cat };
  g_autoptr (GArray) page = graft_project_query_images (f->project, &query, 0, 3, &error);
  g_assert_no_error (error);
  assert_ids (page, (gint64[]) { id[0], id[3], id[6] }, 3);
  g_assert_cmpint (g_array_index (page, GraftImageInfo, 0).class_id, ==, cat);
  g_assert_true (g_str_has_suffix (g_array_index (page, GraftImageInfo, 0).path, "image-0000.png"));
  gint64 last = g_array_index (page, GraftImageInfo, 2).id;
  g_clear_pointer (&page, g_array_unref);
  page = graft_project_query_images (f->project, &query, last, 3, &error);
  assert_ids (page, (gint64[]) { id[9], id[12], id[15] }, 3);
  g_clear_pointer (&page, g_array_unref);
  g_assert_cmpuint (graft_project_count_images (f->project, &query, &error), ==, 7);

  query = (GraftImageQuery) { GRAFT_FILTER_UNLABELLED };
  g_assert_cmpuint (graft_project_count_images (f->project, &query, &error), ==, 10);
  page = graft_project_query_images (f->project, &query, id[10], 100, &error);
  assert_ids (page, (gint64[]) { id[11], id[13], id[14], id[16], id[17], id[19] }, 6);
  g_clear_pointer (&page, g_array_unref);

  query = (GraftImageQuery) { GRAFT_FILTER_LABELLED };
  g_assert_cmpuint (graft_project_count_images (f->project, &query, &error), ==, 10);

  query = (GraftImageQuery) { GRAFT_FILTER_SUGGESTED };
  page = graft_project_query_images (f->project, &query, 0, 100, &error);
  assert_ids (page, (gint64[]) { id[2], id[5], id[8] }, 3);
  g_assert_cmpint (g_array_index (page, GraftImageInfo, 0).suggestion, ==, dog);
  g_assert_cmpfloat_with_epsilon (g_array_index (page, GraftImageInfo, 1).confidence, 0.55, 1e-6);
  g_clear_pointer (&page, g_array_unref);
  query = (GraftImageQuery) { GRAFT_FILTER_SUGGESTED, cat };
  page = graft_project_query_images (f->project, &query, 0, 100, &error);
  assert_ids (page, (gint64[]) { id[5], id[8] }, 2);
  g_clear_pointer (&page, g_array_unref);
  /* Labelling a suggested image takes it out of the suggestions. */
  g_assert_true (graft_project_set_label (f->project, id[5], cat, GRAFT_LABEL_PERSON, &error));
  g_assert_cmpuint (graft_project_count_images (f->project, &query, &error), ==, 1);

  query = (GraftImageQuery) { GRAFT_FILTER_ALL };
  g_autoptr (GArray) all = graft_project_query_ids (f->project, &query, &error);
  g_assert_cmpuint (all->len, ==, 20);
  for (guint i = 0; i < 20; i++)
    g_assert_cmpint (g_array_index (all, gint64, i), ==, id[i]);

  g_assert_true (graft_project_reset_splits (f->project, 0.3, 0.0, 1, &error));
  guint in_train = 0, in_validation = 0;
  query = (GraftImageQuery) { GRAFT_FILTER_SPLIT, .split = GRAFT_SPLIT_TRAIN };
  in_train = graft_project_count_images (f->project, &query, &error);
  query = (GraftImageQuery) { GRAFT_FILTER_SPLIT, .split = GRAFT_SPLIT_VALIDATION };
  in_validation = graft_project_count_images (f->project, &query, &error);
  g_assert_cmpuint (in_train + in_validation, ==, 11);
  g_assert_cmpuint (in_validation, >=, 2);

  /* Duplicate content */
  g_autofree char *copy = g_build_filename (f->images, "copy.png", NULL);
  g_autofree char *original = g_build_filename (f->images, "image-0003.png", NULL);
  g_free (copy_to (original, copy));
  gint64 twin = graft_project_add_image (f->project, copy, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) groups = graft_project_duplicate_groups (f->project, &error);
  g_assert_cmpuint (groups->len, ==, 1);
  GArray *group = g_ptr_array_index (groups, 0);
  g_assert_cmpuint (group->len, ==, 2);
  g_assert_cmpint (g_array_index (group, gint64, 0), ==, id[3]);
  g_assert_cmpint (g_array_index (group, gint64, 1), ==, twin);
  /* The same path again gives the same id. */
  g_assert_cmpint (graft_project_add_image (f->project, copy, &error), ==, twin);
  g_assert_cmpint (graft_project_find_image (f->project, copy), ==, twin);
}

/* ---- Splits ------------------------------------------------------------------------- */

static void
assert_stratified (GraftProject *project, double validation, double test)
{
  g_autoptr (GError) error = NULL;
  guint n_classes = 0;
  g_autofree guint *counts = graft_project_split_counts (project, &n_classes, &error);
  g_assert_no_error (error);
  for (guint c = 0; c < n_classes; c++)
    {
      guint *row = counts + c * 4;
      g_assert_cmpuint (row[GRAFT_SPLIT_NONE], ==, 0);
      guint n = row[1] + row[2] + row[3];
      double targets[4] = { 0, n * (1 - validation - test), n * validation, n * test };
      for (int s = 1; s <= 3; s++)
        {
          double difference = row[s] - targets[s];
          if (difference < -1.0 - 1e-9 || difference > 1.0 + 1e-9)
            g_error ("class %u split %d: %u images, target %.2f (of %u)", c, s, row[s], targets[s], n);
        }
    }
}

static void
test_splits (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const double validation = 0.2, test = 0.1;
  gint64 classes[3];
  classes[0] = graft_project_add_class (f->project, "a", NULL, &error);
  classes[1] = graft_project_add_class (f->project, "b", NULL, &error);
  classes[2] = graft_project_add_class (f->project, "c", NULL, &error);
  g_assert_true (graft_project_reset_splits (f->project, validation, test, 42, &error));
  double v, t;
  guint64 seed;
  graft_project_get_split_fractions (f->project, &v, &t, &seed);
  g_assert_cmpfloat (v, ==, validation);
  g_assert_cmpfloat (t, ==, test);
  g_assert_cmpuint (seed, ==, 42);

  g_autoptr (GHashTable) assigned = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  guint seed_image = 0;
  /* Rounds of adding and labelling images, uneven per class. */
  const guint per_round[4][3] = { { 17, 5, 9 }, { 3, 11, 1 }, { 8, 0, 23 }, { 1, 1, 1 } };
  for (int round = 0; round < 4; round++)
    {
      for (int c = 0; c < 3; c++)
        {
          if (per_round[round][c] == 0)
            continue;
          g_autoptr (GArray) ids = add_images (f, per_round[round][c], seed_image);
          seed_image += per_round[round][c];
          g_assert_true (graft_project_set_labels (f->project, (gint64 *) ids->data, ids->len, classes[c],
                                                   GRAFT_LABEL_PERSON, &error));
        }
      guint count = 0;
      g_assert_true (graft_project_assign_splits (f->project, &count, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (count, ==, per_round[round][0] + per_round[round][1] + per_round[round][2]);
      assert_stratified (f->project, validation, test);

      /* No image that had a split moved. */
      GraftImageQuery query = { GRAFT_FILTER_LABELLED };
      g_autoptr (GArray) rows = graft_project_query_images (f->project, &query, 0, 10000, &error);
      for (guint i = 0; i < rows->len; i++)
        {
          const GraftImageInfo *info = &g_array_index (rows, GraftImageInfo, i);
          g_assert_cmpint (info->split, !=, GRAFT_SPLIT_NONE);
          gpointer previous = g_hash_table_lookup (assigned, &info->id);
          if (previous != NULL)
            g_assert_cmpint (GPOINTER_TO_INT (previous), ==, info->split);
          else
            g_hash_table_insert (assigned, g_memdup2 (&info->id, sizeof info->id), GINT_TO_POINTER (info->split));
        }
    }
  /* Nothing new: nothing assigned. */
  guint count = 99;
  g_assert_true (graft_project_assign_splits (f->project, &count, &error));
  g_assert_cmpuint (count, ==, 0);

  /* The same seed on another project gives the same assignment for the same contents. */
  GraftImageQuery query = { GRAFT_FILTER_SPLIT, .split = GRAFT_SPLIT_VALIDATION };
  guint in_validation = graft_project_count_images (f->project, &query, &error);
  g_assert_true (graft_project_reset_splits (f->project, validation, test, 42, &error));
  g_assert_cmpuint (graft_project_count_images (f->project, &query, &error), ==, in_validation);
  assert_stratified (f->project, validation, test);

  /* Datasets for the trainer */
  g_autoptr (GraftDataset) train = graft_project_dataset (f->project, GRAFT_SPLIT_TRAIN, &error);
  g_autoptr (GraftDataset) val = graft_project_dataset (f->project, GRAFT_SPLIT_VALIDATION, &error);
  g_autoptr (GraftDataset) everything = graft_project_dataset (f->project, GRAFT_SPLIT_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (train->classes->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (train->classes, 1), ==, "b");
  g_assert_cmpuint (graft_dataset_size (val), ==, in_validation);
  g_assert_cmpuint (graft_dataset_size (everything), ==, seed_image);
  g_assert_cmpuint (graft_dataset_size (train) + graft_dataset_size (val), <, seed_image);
  const GraftDatasetItem *item = &g_array_index (everything->items, GraftDatasetItem, 0);
  g_assert_true (g_path_is_absolute (item->path));
  g_assert_true (g_file_test (item->path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (item->label, ==, 0);

  g_assert_false (graft_project_reset_splits (f->project, 0.7, 0.4, 1, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
}

/* ---- Runs and metric series --------------------------------------------------------- */

static void
test_runs (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 run = graft_project_add_run (f->project, "first", "{\"epochs\": 3}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (run, >, 0);
  GraftRun info = { 0 };
  g_assert_true (graft_project_get_run (f->project, run, &info, &error));
  g_assert_cmpint (info.status, ==, GRAFT_RUN_PENDING);
  g_assert_cmpint (info.created, >, 0);
  g_assert_cmpint (info.started, ==, 0);
  g_assert_null (info.metrics_json);
  graft_run_clear (&info);

  g_assert_true (graft_project_set_run_status (f->project, run, GRAFT_RUN_RUNNING, &error));
  /* A trainer's hook buffers points and hands them over in batches. */
  const char *names[] = { "train/loss", "train/accuracy", "validation/loss" };
  for (int batch = 0; batch < 50; batch++)
    {
      GraftMetricPoint points[300];
      for (int i = 0; i < 300; i++)
        {
          int step = batch * 100 + i / 3;
          points[i] = (GraftMetricPoint) { step, names[i % 3], step * 0.25 + i % 3 };
        }
      g_assert_true (graft_project_append_metrics (f->project, run, points, 300, &error));
      g_assert_no_error (error);
    }
  g_assert_true (graft_project_set_run_metrics (f->project, run, "{\"accuracy\": 0.93}", &error));
  g_assert_true (graft_project_set_run_model_path (f->project, run, "/models/first.onnx", &error));
  g_assert_true (graft_project_set_run_status (f->project, run, GRAFT_RUN_FINISHED, &error));

  g_assert_true (graft_project_get_run (f->project, run, &info, &error));
  g_assert_cmpint (info.status, ==, GRAFT_RUN_FINISHED);
  g_assert_cmpint (info.started, >, 0);
  g_assert_cmpint (info.finished, >=, info.started);
  g_assert_cmpstr (info.name, ==, "first");
  g_assert_cmpstr (info.spec_json, ==, "{\"epochs\": 3}");
  g_assert_cmpstr (info.metrics_json, ==, "{\"accuracy\": 0.93}");
  g_assert_cmpstr (info.model_path, ==, "/models/first.onnx");
  graft_run_clear (&info);

  g_autoptr (GArray) series = graft_project_get_metric_series (f->project, run, "train/accuracy", &error);
  g_assert_cmpuint (series->len, ==, 5000);
  for (guint i = 0; i < series->len; i++)
    {
      const GraftSeriesPoint *p = &g_array_index (series, GraftSeriesPoint, i);
      g_assert_cmpint (p->step, ==, (gint64) i);
      g_assert_cmpfloat_with_epsilon (p->value, i * 0.25 + 1, 1e-9);
    }
  g_auto (GStrv) metric_names = graft_project_get_metric_names (f->project, run, &error);
  g_assert_cmpuint (g_strv_length (metric_names), ==, 3);
  g_assert_cmpstr (metric_names[0], ==, "train/accuracy");

  gint64 second = graft_project_add_run (f->project, "second", "{}", &error);
  g_autoptr (GArray) runs = graft_project_list_runs (f->project, &error);
  g_assert_cmpuint (runs->len, ==, 2);
  g_assert_cmpint (g_array_index (runs, GraftRun, 0).id, ==, second);

  GraftMetricPoint bad = { 0, "x", 1 };
  g_assert_false (graft_project_append_metrics (f->project, 999, &bad, 1, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (graft_project_delete_run (f->project, run, &error));
  g_clear_pointer (&series, g_array_unref);
  series = graft_project_get_metric_series (f->project, run, "train/accuracy", &error);
  g_assert_cmpuint (series->len, ==, 0);
  g_assert_false (graft_project_get_run (f->project, run, &info, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
}

/* ---- Checkpoints ---------------------------------------------------------------------- */

static goffset
file_size (const char *folder, const char *name)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  GStatBuf st;
  return g_stat (path, &st) == 0 ? (goffset) st.st_size : -1;
}

/* Waits (up to 10 s) for project.db to grow past size and then keep its size for 0.2 s
 * (the checkpoint is done, or nearly); returns its size. */
static goffset
wait_for_database_growth (Fixture *f, goffset size)
{
  goffset now = file_size (f->folder, GRAFT_PROJECT_DB_NAME);
  int steady = 0;
  for (int i = 0; i < 1000 && (now <= size || steady < 20); i++)
    {
      g_usleep (10000);
      goffset next = file_size (f->folder, GRAFT_PROJECT_DB_NAME);
      steady = next == now ? steady + 1 : 0;
      now = next;
    }
  return now;
}

/* Once the WAL passes 1000 pages, the checkpoint thread copies it into project.db while
 * the project is open, each time (not only when it closes). */
static void
test_checkpoints (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 run = graft_project_add_run (f->project, "big", "{}", &error);
  g_assert_no_error (error);
  goffset db_size = file_size (f->folder, GRAFT_PROJECT_DB_NAME);
  g_autofree GraftMetricPoint *points = g_new (GraftMetricPoint, 100000);

  for (int round = 0; round < 3; round++)
    {
      /* About 1500 pages of WAL in one commit. */
      for (int i = 0; i < 100000; i++)
        points[i] = (GraftMetricPoint) { round * 100000 + i, "train/loss", i * 0.5 };
      g_assert_true (graft_project_append_metrics (f->project, run, points, 100000, &error));
      g_assert_no_error (error);
      goffset grown = wait_for_database_growth (f, db_size);
      g_assert_cmpint (grown, >, db_size);
      db_size = grown;
    }
  g_assert_true (graft_project_check_integrity (f->project, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/project/store/create-open", test_create_open);
  ADD ("/project/store/not-a-project", test_not_a_project);
  ADD ("/project/store/fifo", test_fifo);
  ADD ("/project/store/corrupt", test_corrupt);
  ADD ("/project/store/newer-version", test_newer_version);
  g_test_add_func ("/project/store/migrate-v1", test_migrate_v1);
  g_test_add_func ("/project/store/migrate-v2", test_migrate_v2);
  ADD ("/project/store/classes", test_classes);
  ADD ("/project/store/labels", test_labels);
  ADD ("/project/store/accept-suggestions", test_accept_suggestions);
  ADD ("/project/store/merge-undo", test_merge_undo);
  ADD ("/project/store/delete-undo", test_delete_undo);
  ADD ("/project/store/remove-images-undo", test_remove_images_undo);
  ADD ("/project/store/queries", test_queries);
  ADD ("/project/store/splits", test_splits);
  ADD ("/project/store/runs", test_runs);
  ADD ("/project/store/checkpoints", test_checkpoints);
#undef ADD
  return g_test_run ();
}
