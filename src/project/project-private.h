/* project-private.h: what the files of src/project/ share (not for the app). */
#pragma once

#include <sqlite3.h>

#include "project/project.h"

G_BEGIN_DECLS

struct _GraftProject {
  GRecMutex lock;             /* every public call holds it */
  sqlite3 *db;
  char *folder;
  char *db_path;
  char *cache_folder;
  gboolean read_only;
  gboolean immutable;         /* opened with ?immutable=1 (a read-only folder, no WAL left) */
  char *read_only_reason;
  int schema_version;
  GHashTable *statements;     /* SQL text -> sqlite3_stmt * (persistent, cached) */

  /* checkpoints in a thread of their own (project.c) */
  GThread *checkpoint_thread;
  GMutex checkpoint_mutex;
  GCond checkpoint_cond;
  gboolean checkpoint_wanted;
  gboolean checkpoint_stop;

  /* background hashing */
  GMutex hash_mutex;
  GThread *hash_thread;
  GCancellable *hash_cancellable;
  gint hash_running;
};

#define GRAFT_PROJECT_LOCK(p) g_autoptr (GRecMutexLocker) graft_project_locker_ = g_rec_mutex_locker_new (&(p)->lock)

/* A statement variable that is reset when it goes out of scope, so that no statement
 * is left holding a read transaction open:  GRAFT_STMT st = graft_project_statement (...); */
static inline void
graft_project_stmt_release (sqlite3_stmt **statement)
{
  if (*statement != NULL)
    sqlite3_reset (*statement);
}
#define GRAFT_STMT __attribute__ ((cleanup (graft_project_stmt_release))) sqlite3_stmt *

/* Sets error from an SQLite result code (and the connection's message), naming
 * project.db; what says what was being done. Always returns FALSE. */
gboolean graft_project_fail (GraftProject *project, int rc, const char *what, GError **error);

/* A cached prepared statement, reset and with its bindings cleared; NULL on error. */
sqlite3_stmt *graft_project_statement (GraftProject *project, const char *sql, GError **error);
/* Runs SQL without results (one or more statements); what names it in errors. */
gboolean graft_project_exec (GraftProject *project, const char *sql, const char *what, GError **error);
/* Steps a statement that returns no rows (SQLITE_DONE expected). */
gboolean graft_project_step_done (GraftProject *project, sqlite3_stmt *statement, const char *what, GError **error);

/* BEGIN IMMEDIATE; READ_ONLY error when the project is read-only. */
gboolean graft_project_begin (GraftProject *project, GError **error);
/* COMMIT; on failure the transaction is rolled back (nothing changed). */
gboolean graft_project_commit (GraftProject *project, GError **error);
void graft_project_rollback (GraftProject *project);

/* ---- The undo history (project-undo.c) --------------------------------------------- */

/* A new action inside the current transaction: clears the redo stack, prunes beyond
 * GRAFT_PROJECT_UNDO_DEPTH. Returns its id, 0 on error. */
gint64 graft_project_action_begin (GraftProject *project, const char *kind, const char *description, GError **error);
/* Snapshots the current state of an image's label / a class / an image before the
 * action changes it (the first snapshot of each in an action wins). */
gboolean graft_project_record_label (GraftProject *project, gint64 action, gint64 image_id, GError **error);
gboolean graft_project_record_labels_of_class (GraftProject *project, gint64 action, gint64 class_id, GError **error);
gboolean graft_project_record_class (GraftProject *project, gint64 action, gint64 class_id, GError **error);
gboolean graft_project_record_image (GraftProject *project, gint64 action, gint64 image_id, GError **error);
/* Records an image that the action added (it did not exist before). */
gboolean graft_project_record_new_image (GraftProject *project, gint64 action, gint64 image_id, GError **error);
/* Records a class the action created (it did not exist before). */
gboolean graft_project_record_new_class (GraftProject *project, gint64 action, gint64 class_id, GError **error);
/* Fills in the state after the action, for redo. Call before commit. */
gboolean graft_project_action_finish (GraftProject *project, gint64 action, GError **error);

/* ---- Shared helpers ----------------------------------------------------------------- */

/* Writes a label (insert or update), or removes it. No undo record. */
gboolean graft_project_write_label (GraftProject *project, gint64 image_id, gint64 class_id, GraftLabelSource source,
                                    gint64 time, GError **error);
gboolean graft_project_remove_label (GraftProject *project, gint64 image_id, GError **error);

/* Whether a live class has this id. */
gboolean graft_project_class_exists (GraftProject *project, gint64 class_id);
/* Adds a class inside the current transaction and action (recorded). 0 on error. */
gint64 graft_project_add_class_locked (GraftProject *project, gint64 action, const char *name, const char *colour,
                                       GError **error);
gint64 graft_project_find_class_locked (GraftProject *project, const char *name);

/* The path as stored: relative to the project folder when inside it, else absolute
 * (canonical). And back. */
char *graft_project_store_path (GraftProject *project, const char *path);
char *graft_project_resolve_path (GraftProject *project, const char *stored);

/* Inserts an image row; returns the new id, 0 when the path is already there (existing
 * set to its id) or on error (error set). hash may be NULL. */
gint64 graft_project_insert_image (GraftProject *project, const char *stored_path, const char *hash, gint64 size,
                                   gint64 mtime, gint64 *existing, GError **error);
/* The id of an image with this content hash, or 0. */
gint64 graft_project_find_hash (GraftProject *project, const char *hash, char **path);

const char *graft_project_meta_get (GraftProject *project, const char *key, char **value);

/* What the first bytes of a file say it is. */
typedef enum {
  GRAFT_MAGIC_UNKNOWN,
  GRAFT_MAGIC_EMPTY,
  GRAFT_MAGIC_PNG,
  GRAFT_MAGIC_JPEG,
  GRAFT_MAGIC_OTHER_IMAGE,   /* GIF, BMP, WebP, TIFF, HEIF: an image Graft does not read */
} GraftMagic;

#define GRAFT_MAGIC_BYTES 16
/* format (nullable): "PNG", "JPEG", "GIF", ... */
GraftMagic graft_project_sniff (const guint8 *head, gsize n, const char **format);
/* Reads the first bytes of a regular file: -1 and error (G_IO_ERROR, naming the file)
 * when it cannot be opened or read, or is a FIFO, a device, a folder. */
gssize graft_project_read_head (const char *path, guint8 *head, gsize n, GError **error);

/* Micro-seconds from a struct stat's mtime. */
gint64 graft_project_stat_mtime (const void *stat_buf);

G_END_DECLS
