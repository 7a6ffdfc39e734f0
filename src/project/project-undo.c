/* project-undo.c: the undo history, kept in the database.
 *
 * An action (table actions) is one user action: a label, a class change, an import, a
 * removal. While it runs, the state of everything it is about to change is copied into
 * undo_labels / undo_classes / undo_images (the "old" columns); when it is done, the
 * state after it is filled in (the "new" columns). Undo sets every recorded thing to
 * its old state, redo to its new state, in this order:
 *   1. classes (a class that did not exist is left as a tombstone, deleted = 1)
 *   2. images that must exist are inserted again (with their ids)
 *   3. labels
 *   4. images that must not exist are copied into the undo row, then deleted
 * so that labels always find their image and class. Undo and redo are each one
 * transaction. The stack is linear: a new action drops what could be redone, and only
 * the newest GRAFT_PROJECT_UNDO_DEPTH actions are kept.
 */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "project/project-private.h"

gint64
graft_project_action_begin (GraftProject *project, const char *kind, const char *description, GError **error)
{
  if (!graft_project_exec (project, "DELETE FROM actions WHERE undone = 1", "cannot record the action", error))
    return 0;
  GRAFT_STMT st = graft_project_statement (project,
                                           "INSERT INTO actions (kind, description, time) VALUES (?, ?, ?)", error);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, description, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, g_get_real_time ());
  if (!graft_project_step_done (project, st, "cannot record the action", error))
    return 0;
  gint64 action = sqlite3_last_insert_rowid (project->db);

  GRAFT_STMT prune = graft_project_statement (project, "DELETE FROM actions WHERE id <= ?", error);
  if (prune == NULL)
    return 0;
  sqlite3_bind_int64 (prune, 1, action - GRAFT_PROJECT_UNDO_DEPTH);
  if (!graft_project_step_done (project, prune, "cannot trim the undo history", error))
    return 0;
  return action;
}

static gboolean
run_two_ids (GraftProject *project, const char *sql, gint64 a, gint64 b, GError **error)
{
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, a);
  sqlite3_bind_int64 (st, 2, b);
  return graft_project_step_done (project, st, "cannot record the change for undo", error);
}

gboolean
graft_project_record_label (GraftProject *project, gint64 action, gint64 image_id, GError **error)
{
  return run_two_ids (project,
                      "INSERT OR IGNORE INTO undo_labels (action, image, old_class, old_source, old_time) "
                      "SELECT ?1, ?2, l.class, l.source, l.time FROM (SELECT 1) LEFT JOIN labels l ON l.image = ?2",
                      action, image_id, error);
}

gboolean
graft_project_record_labels_of_class (GraftProject *project, gint64 action, gint64 class_id, GError **error)
{
  return run_two_ids (project,
                      "INSERT OR IGNORE INTO undo_labels (action, image, old_class, old_source, old_time) "
                      "SELECT ?1, image, class, source, time FROM labels WHERE class = ?2",
                      action, class_id, error);
}

gboolean
graft_project_record_class (GraftProject *project, gint64 action, gint64 class_id, GError **error)
{
  return run_two_ids (project,
                      "INSERT OR IGNORE INTO undo_classes (action, class, old_name, old_colour, old_position, old_deleted) "
                      "SELECT ?1, id, name, colour, position, deleted FROM classes WHERE id = ?2",
                      action, class_id, error);
}

gboolean
graft_project_record_new_class (GraftProject *project, gint64 action, gint64 class_id, GError **error)
{
  return run_two_ids (project, "INSERT OR IGNORE INTO undo_classes (action, class, old_deleted) VALUES (?1, ?2, 1)",
                      action, class_id, error);
}

gboolean
graft_project_record_image (GraftProject *project, gint64 action, gint64 image_id, GError **error)
{
  return run_two_ids (project,
                      "INSERT OR IGNORE INTO undo_images (action, image, old_present, path, hash, size, mtime, added,"
                      " split, missing) "
                      "SELECT ?1, id, 1, path, hash, size, mtime, added, split, missing FROM images WHERE id = ?2",
                      action, image_id, error);
}

gboolean
graft_project_record_new_image (GraftProject *project, gint64 action, gint64 image_id, GError **error)
{
  return run_two_ids (project, "INSERT OR IGNORE INTO undo_images (action, image, old_present) VALUES (?1, ?2, 0)",
                      action, image_id, error);
}

static gboolean
run_action_sql (GraftProject *project, const char *sql, gint64 action, GError **error)
{
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, action);
  return graft_project_step_done (project, st, "cannot apply the undo history", error);
}

gboolean
graft_project_action_finish (GraftProject *project, gint64 action, GError **error)
{
  return run_action_sql (project,
                         "UPDATE undo_labels SET (new_class, new_source, new_time) = "
                         "(SELECT class, source, time FROM labels WHERE image = undo_labels.image) WHERE action = ?1",
                         action, error)
         && run_action_sql (project,
                            "UPDATE undo_classes SET (new_name, new_colour, new_position, new_deleted) = "
                            "(SELECT name, colour, position, deleted FROM classes WHERE id = undo_classes.class) "
                            "WHERE action = ?1",
                            action, error)
         && run_action_sql (project,
                            "UPDATE undo_images SET new_present = "
                            "EXISTS (SELECT 1 FROM images WHERE id = undo_images.image) WHERE action = ?1",
                            action, error);
}

/* The statements that set everything an action recorded to one side's state: "old_"
 * for undo, "new_" for redo. */
static gboolean
apply_state (GraftProject *project, gint64 action, const char *side, GError **error)
{
  const char *templates[] = {
    /* 1. classes */
    "UPDATE classes SET deleted = 1 WHERE id IN "
    "(SELECT class FROM undo_classes WHERE action = ?1 AND %1$sdeleted = 1)",
    "UPDATE classes SET name = coalesce(u.%1$sname, classes.name), colour = coalesce(u.%1$scolour, classes.colour),"
    " position = coalesce(u.%1$sposition, classes.position), deleted = 0 "
    "FROM undo_classes u WHERE u.action = ?1 AND u.class = classes.id AND u.%1$sdeleted = 0",
    /* 2. images that must exist */
    "INSERT INTO images (id, path, hash, size, mtime, added, split, missing) "
    "SELECT image, path, hash, coalesce(size, 0), coalesce(mtime, 0), coalesce(added, 0), coalesce(split, 0),"
    " coalesce(missing, 0) "
    "FROM undo_images u WHERE u.action = ?1 AND u.%1$spresent = 1 AND u.path IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM images WHERE id = u.image)",
    /* 3. labels */
    "DELETE FROM labels WHERE image IN (SELECT image FROM undo_labels WHERE action = ?1 AND %1$sclass IS NULL)",
    "INSERT INTO labels (image, class, source, time) "
    "SELECT image, %1$sclass, %1$ssource, %1$stime FROM undo_labels u "
    "WHERE u.action = ?1 AND u.%1$sclass IS NOT NULL AND EXISTS (SELECT 1 FROM images WHERE id = u.image) "
    "ON CONFLICT (image) DO UPDATE SET class = excluded.class, source = excluded.source, time = excluded.time",
    /* 4. images that must not exist: keep their row for the way back */
    "UPDATE undo_images SET (path, hash, size, mtime, added, split, missing) = "
    "(SELECT path, hash, size, mtime, added, split, missing FROM images WHERE id = undo_images.image) "
    "WHERE action = ?1 AND %1$spresent = 0 AND EXISTS (SELECT 1 FROM images WHERE id = undo_images.image)",
    "DELETE FROM images WHERE id IN (SELECT image FROM undo_images WHERE action = ?1 AND %1$spresent = 0)",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (templates); i++)
    {
      g_autofree char *sql = g_strdup_printf (templates[i], side);
      if (!run_action_sql (project, sql, action, error))
        return FALSE;
    }
  return TRUE;
}

static gint64
next_action (GraftProject *project, gboolean redo, char **description)
{
  GRAFT_STMT st = graft_project_statement (project,
                                           redo ? "SELECT id, description FROM actions WHERE undone = 1 ORDER BY id LIMIT 1"
                                                : "SELECT id, description FROM actions WHERE undone = 0 ORDER BY id DESC LIMIT 1",
                                           NULL);
  if (description != NULL)
    *description = NULL;
  if (st == NULL || sqlite3_step (st) != SQLITE_ROW)
    return 0;
  if (description != NULL)
    *description = g_strdup ((const char *) sqlite3_column_text (st, 1));
  return sqlite3_column_int64 (st, 0);
}

static gboolean
undo_or_redo (GraftProject *project, gboolean redo, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!graft_project_begin (project, error))
    return FALSE;
  gint64 action = next_action (project, redo, NULL);
  if (action == 0)
    {
      graft_project_rollback (project);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOTHING_TO_UNDO,
                   redo ? _("Nothing to redo") : "Nothing to undo");
      return FALSE;
    }
  GRAFT_STMT mark = NULL;
  if (!apply_state (project, action, redo ? "new_" : "old_", error)
      || (mark = graft_project_statement (project, "UPDATE actions SET undone = ?2 WHERE id = ?1", error)) == NULL)
    {
      graft_project_rollback (project);
      return FALSE;
    }
  sqlite3_bind_int64 (mark, 1, action);
  sqlite3_bind_int (mark, 2, redo ? 0 : 1);
  if (!graft_project_step_done (project, mark, "cannot record the undo", error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  return graft_project_commit (project, error);
}

gboolean
graft_project_undo (GraftProject *project, GError **error)
{
  return undo_or_redo (project, FALSE, error);
}

gboolean
graft_project_redo (GraftProject *project, GError **error)
{
  return undo_or_redo (project, TRUE, error);
}

gboolean
graft_project_can_undo (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  return !project->read_only && next_action (project, FALSE, NULL) != 0;
}

gboolean
graft_project_can_redo (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  return !project->read_only && next_action (project, TRUE, NULL) != 0;
}

char *
graft_project_undo_description (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  char *description = NULL;
  next_action (project, FALSE, &description);
  return description;
}

char *
graft_project_redo_description (GraftProject *project)
{
  GRAFT_PROJECT_LOCK (project);
  char *description = NULL;
  next_action (project, TRUE, &description);
  return description;
}
