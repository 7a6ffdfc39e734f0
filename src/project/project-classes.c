/* project-classes.c: classes and labels; each call one transaction and one undo step.
 *
 * A deleted or merged class stays in the table as a tombstone (deleted = 1) so that
 * undo can bring it back with its id; names are unique among live classes only. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "project/project-private.h"

#include <string.h>

/* Tableau 10: distinct, readable on light and dark backgrounds. */
static const char *const palette[] = {
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};

void
graft_class_clear (GraftClass *klass)
{
  g_clear_pointer (&klass->name, g_free);
  g_clear_pointer (&klass->colour, g_free);
}

static gboolean
colour_valid (const char *colour)
{
  if (colour == NULL || strlen (colour) != 7 || colour[0] != '#')
    return FALSE;
  for (int i = 1; i < 7; i++)
    if (!g_ascii_isxdigit (colour[i]))
      return FALSE;
  return TRUE;
}

static gboolean
check_name (const char *name, GError **error)
{
  if (name == NULL || *name == '\0' || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, _("A class needs a name"));
      return FALSE;
    }
  for (const char *c = name; *c != '\0'; c++)
    if ((guchar) *c < 0x20)
      {
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                     _("A class name cannot hold control characters"));
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_colour (const char *colour, GError **error)
{
  if (!colour_valid (colour))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   _("“%s” is not a colour of the form #rrggbb"), colour != NULL ? colour : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
graft_project_class_exists (GraftProject *project, gint64 class_id)
{
  GRAFT_STMT st = graft_project_statement (project, "SELECT 1 FROM classes WHERE id = ? AND deleted = 0", NULL);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, class_id);
  return sqlite3_step (st) == SQLITE_ROW;
}

static gboolean
check_class (GraftProject *project, gint64 class_id, GError **error)
{
  if (!graft_project_class_exists (project, class_id))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND, _("No class %lld in the project"),
                   (long long) class_id);
      return FALSE;
    }
  return TRUE;
}

static char *
class_name (GraftProject *project, gint64 class_id)
{
  GRAFT_STMT st = graft_project_statement (project, "SELECT name FROM classes WHERE id = ?", NULL);
  if (st == NULL)
    return g_strdup ("?");
  sqlite3_bind_int64 (st, 1, class_id);
  if (sqlite3_step (st) != SQLITE_ROW)
    return g_strdup ("?");
  return g_strdup ((const char *) sqlite3_column_text (st, 0));
}

gint64
graft_project_find_class_locked (GraftProject *project, const char *name)
{
  GRAFT_STMT st = graft_project_statement (project, "SELECT id FROM classes WHERE name = ? AND deleted = 0", NULL);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, name, -1, SQLITE_TRANSIENT);
  return sqlite3_step (st) == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : 0;
}

gint64
graft_project_find_class (GraftProject *project, const char *name)
{
  g_return_val_if_fail (name != NULL, 0);
  GRAFT_PROJECT_LOCK (project);
  return graft_project_find_class_locked (project, name);
}

static gboolean
check_name_free (GraftProject *project, const char *name, gint64 except, GError **error)
{
  gint64 other = graft_project_find_class_locked (project, name);
  if (other != 0 && other != except)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS, _("There is already a class called “%s”"), name);
      return FALSE;
    }
  return TRUE;
}

gint64
graft_project_add_class_locked (GraftProject *project, gint64 action, const char *name, const char *colour,
                                GError **error)
{
  if (!check_name (name, error) || (colour != NULL && !check_colour (colour, error))
      || !check_name_free (project, name, 0, error))
    return 0;
  int live = 0;
  {
    GRAFT_STMT st = graft_project_statement (project, "SELECT count(*) FROM classes WHERE deleted = 0", error);
    if (st == NULL)
      return 0;
    if (sqlite3_step (st) == SQLITE_ROW)
      live = sqlite3_column_int (st, 0);
  }
  if (colour == NULL)
    colour = palette[live % G_N_ELEMENTS (palette)];
  GRAFT_STMT st = graft_project_statement (project, "INSERT INTO classes (name, colour, position) VALUES (?, lower(?), ?)",
                                           error);
  if (st == NULL)
    return 0;
  sqlite3_bind_text (st, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, colour, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (st, 3, live);
  if (!graft_project_step_done (project, st, "cannot add the class", error))
    return 0;
  gint64 id = sqlite3_last_insert_rowid (project->db);
  if (!graft_project_record_new_class (project, action, id, error))
    return 0;
  return id;
}

/* Runs one user action: begin, action row, body, finish, commit; rollback on failure. */
typedef gboolean (*ActionBody) (GraftProject *project, gint64 action, gpointer data, GError **error);

static gboolean
run_action (GraftProject *project, const char *kind, const char *description, ActionBody body, gpointer data,
            GError **error)
{
  if (!graft_project_begin (project, error))
    return FALSE;
  gint64 action = graft_project_action_begin (project, kind, description, error);
  if (action == 0 || !body (project, action, data, error) || !graft_project_action_finish (project, action, error))
    {
      graft_project_rollback (project);
      return FALSE;
    }
  return graft_project_commit (project, error);
}

typedef struct {
  gint64 class_id;
  gint64 other_id;
  const char *text;
  const char *colour;
  int position;
  guint count;
} ClassData;

static gboolean
add_class_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  d->class_id = graft_project_add_class_locked (project, action, d->text, d->colour, error);
  return d->class_id != 0;
}

gint64
graft_project_add_class (GraftProject *project, const char *name, const char *colour, GError **error)
{
  g_return_val_if_fail (project != NULL, 0);
  GRAFT_PROJECT_LOCK (project);
  if (!check_name (name, error) || (colour != NULL && !check_colour (colour, error)))
    return 0;
  ClassData d = { .text = name, .colour = colour };
  g_autofree char *description = g_strdup_printf ("Add class “%s”", name);
  if (!run_action (project, "add-class", description, add_class_body, &d, error))
    return 0;
  return d.class_id;
}

/* Compacts the positions of the live classes to 0..n-1 in their order, recording each. */
static gboolean
renumber_classes (GraftProject *project, gint64 action, gint64 moving, int position, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  {
    GRAFT_STMT st = graft_project_statement (project,
                                             "SELECT id FROM classes WHERE deleted = 0 ORDER BY position, id", error);
    if (st == NULL)
      return FALSE;
    while (sqlite3_step (st) == SQLITE_ROW)
      {
        gint64 id = sqlite3_column_int64 (st, 0);
        if (id != moving)
          g_array_append_val (ids, id);
      }
  }
  if (moving != 0)
    g_array_insert_val (ids, (guint) CLAMP (position, 0, (int) ids->len), moving);
  for (guint i = 0; i < ids->len; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);
      if (!graft_project_record_class (project, action, id, error))
        return FALSE;
      GRAFT_STMT st = graft_project_statement (project, "UPDATE classes SET position = ?2 WHERE id = ?1", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, id);
      sqlite3_bind_int (st, 2, (int) i);
      if (!graft_project_step_done (project, st, "cannot reorder the classes", error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
update_class_text (GraftProject *project, gint64 action, gint64 class_id, const char *sql, const char *text,
                   GError **error)
{
  if (!graft_project_record_class (project, action, class_id, error))
    return FALSE;
  GRAFT_STMT st = graft_project_statement (project, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, class_id);
  sqlite3_bind_text (st, 2, text, -1, SQLITE_TRANSIENT);
  return graft_project_step_done (project, st, "cannot change the class", error);
}

static gboolean
rename_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  return update_class_text (project, action, d->class_id, "UPDATE classes SET name = ?2 WHERE id = ?1", d->text, error);
}

gboolean
graft_project_rename_class (GraftProject *project, gint64 class_id, const char *name, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!check_name (name, error) || !check_class (project, class_id, error)
      || !check_name_free (project, name, class_id, error))
    return FALSE;
  g_autofree char *old = class_name (project, class_id);
  g_autofree char *description = g_strdup_printf ("Rename class “%s” to “%s”", old, name);
  ClassData d = { .class_id = class_id, .text = name };
  return run_action (project, "rename-class", description, rename_body, &d, error);
}

static gboolean
recolour_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  return update_class_text (project, action, d->class_id, "UPDATE classes SET colour = lower(?2) WHERE id = ?1",
                            d->text, error);
}

gboolean
graft_project_recolour_class (GraftProject *project, gint64 class_id, const char *colour, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!check_colour (colour, error) || !check_class (project, class_id, error))
    return FALSE;
  g_autofree char *old = class_name (project, class_id);
  g_autofree char *description = g_strdup_printf ("Change the colour of “%s”", old);
  ClassData d = { .class_id = class_id, .text = colour };
  return run_action (project, "recolour-class", description, recolour_body, &d, error);
}

static gboolean
move_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  return renumber_classes (project, action, d->class_id, d->position, error);
}

gboolean
graft_project_move_class (GraftProject *project, gint64 class_id, int position, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (!check_class (project, class_id, error))
    return FALSE;
  g_autofree char *old = class_name (project, class_id);
  g_autofree char *description = g_strdup_printf ("Move class “%s”", old);
  ClassData d = { .class_id = class_id, .position = position };
  return run_action (project, "move-class", description, move_body, &d, error);
}

/* Deletes a class (a tombstone) after recording it and the others' positions. */
static gboolean
tombstone_class (GraftProject *project, gint64 action, gint64 class_id, GError **error)
{
  if (!graft_project_record_class (project, action, class_id, error))
    return FALSE;
  GRAFT_STMT st = graft_project_statement (project, "UPDATE classes SET deleted = 1 WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, class_id);
  if (!graft_project_step_done (project, st, "cannot delete the class", error))
    return FALSE;
  return renumber_classes (project, action, 0, 0, error);
}

static gboolean
merge_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  if (!graft_project_record_labels_of_class (project, action, d->class_id, error))
    return FALSE;
  {
    GRAFT_STMT st = graft_project_statement (project, "UPDATE labels SET class = ?2 WHERE class = ?1", error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64 (st, 1, d->class_id);
    sqlite3_bind_int64 (st, 2, d->other_id);
    if (!graft_project_step_done (project, st, "cannot move the labels", error))
      return FALSE;
    d->count = (guint) sqlite3_changes (project->db);
  }
  {
    /* Predictions are derived data: they follow the merge and are not part of undo. */
    GRAFT_STMT st = graft_project_statement (project, "UPDATE predictions SET class = ?2 WHERE class = ?1", error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64 (st, 1, d->class_id);
    sqlite3_bind_int64 (st, 2, d->other_id);
    if (!graft_project_step_done (project, st, "cannot move the predictions", error))
      return FALSE;
  }
  return tombstone_class (project, action, d->class_id, error);
}

gboolean
graft_project_merge_classes (GraftProject *project, gint64 source_id, gint64 target_id, guint *moved, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (moved != NULL)
    *moved = 0;
  if (!check_class (project, source_id, error) || !check_class (project, target_id, error))
    return FALSE;
  if (source_id == target_id)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, _("A class cannot be merged into itself"));
      return FALSE;
    }
  g_autofree char *source = class_name (project, source_id);
  g_autofree char *target = class_name (project, target_id);
  g_autofree char *description = g_strdup_printf ("Merge “%s” into “%s”", source, target);
  ClassData d = { .class_id = source_id, .other_id = target_id };
  if (!run_action (project, "merge-classes", description, merge_body, &d, error))
    return FALSE;
  if (moved != NULL)
    *moved = d.count;
  return TRUE;
}

static gboolean
delete_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  ClassData *d = data;
  if (!graft_project_record_labels_of_class (project, action, d->class_id, error))
    return FALSE;
  {
    GRAFT_STMT st = graft_project_statement (project, "DELETE FROM labels WHERE class = ?", error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64 (st, 1, d->class_id);
    if (!graft_project_step_done (project, st, "cannot remove the labels", error))
      return FALSE;
    d->count = (guint) sqlite3_changes (project->db);
  }
  {
    GRAFT_STMT st = graft_project_statement (project, "DELETE FROM predictions WHERE class = ?", error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64 (st, 1, d->class_id);
    if (!graft_project_step_done (project, st, "cannot remove the predictions", error))
      return FALSE;
  }
  return tombstone_class (project, action, d->class_id, error);
}

gboolean
graft_project_delete_class (GraftProject *project, gint64 class_id, guint *labels_removed, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  if (labels_removed != NULL)
    *labels_removed = 0;
  if (!check_class (project, class_id, error))
    return FALSE;
  g_autofree char *name = class_name (project, class_id);
  guint count = graft_project_count_labels (project, class_id, NULL);
  g_autofree char *description = count > 0
    ? g_strdup_printf (g_dngettext (NULL, "Delete class “%s” and its label", "Delete class “%s” and its %u labels", count),
                       name, count)
    : g_strdup_printf ("Delete class “%s”", name);
  ClassData d = { .class_id = class_id };
  if (!run_action (project, "delete-class", description, delete_body, &d, error))
    return FALSE;
  if (labels_removed != NULL)
    *labels_removed = d.count;
  return TRUE;
}

GArray *
graft_project_list_classes (GraftProject *project, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project,
                                           "SELECT c.id, c.name, c.colour, c.position,"
                                           " (SELECT count(*) FROM images WHERE label = c.id) "
                                           "FROM classes c WHERE c.deleted = 0 ORDER BY c.position, c.id",
                                           error);
  if (st == NULL)
    return NULL;
  GArray *classes = g_array_new (FALSE, TRUE, sizeof (GraftClass));
  g_array_set_clear_func (classes, (GDestroyNotify) graft_class_clear);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      GraftClass klass = {
        .id = sqlite3_column_int64 (st, 0),
        .name = g_strdup ((const char *) sqlite3_column_text (st, 1)),
        .colour = g_strdup ((const char *) sqlite3_column_text (st, 2)),
        .position = sqlite3_column_int (st, 3),
        .count = (guint) sqlite3_column_int64 (st, 4),
      };
      g_array_append_val (classes, klass);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (classes);
      graft_project_fail (project, rc, "cannot read the classes", error);
      return NULL;
    }
  return classes;
}

guint
graft_project_count_labels (GraftProject *project, gint64 class_id, GError **error)
{
  GRAFT_PROJECT_LOCK (project);
  GRAFT_STMT st = graft_project_statement (project, "SELECT count(*) FROM images WHERE label = ?", error);
  if (st == NULL)
    return 0;
  sqlite3_bind_int64 (st, 1, class_id);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    {
      graft_project_fail (project, rc, "cannot count the labels", error);
      return 0;
    }
  return (guint) sqlite3_column_int64 (st, 0);
}

/* ---- Labels ------------------------------------------------------------------------- */

gboolean
graft_project_write_label (GraftProject *project, gint64 image_id, gint64 class_id, GraftLabelSource source,
                           gint64 time, GError **error)
{
  GRAFT_STMT st = graft_project_statement (project,
                                           "INSERT INTO labels (image, class, source, time) VALUES (?, ?, ?, ?) "
                                           "ON CONFLICT (image) DO UPDATE SET class = excluded.class,"
                                           " source = excluded.source, time = excluded.time",
                                           error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, image_id);
  sqlite3_bind_int64 (st, 2, class_id);
  sqlite3_bind_int (st, 3, source);
  sqlite3_bind_int64 (st, 4, time);
  return graft_project_step_done (project, st, "cannot write the label", error);
}

gboolean
graft_project_remove_label (GraftProject *project, gint64 image_id, GError **error)
{
  GRAFT_STMT st = graft_project_statement (project, "DELETE FROM labels WHERE image = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, image_id);
  return graft_project_step_done (project, st, "cannot clear the label", error);
}

static gboolean
image_exists (GraftProject *project, gint64 image_id)
{
  GRAFT_STMT st = graft_project_statement (project, "SELECT 1 FROM images WHERE id = ?", NULL);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, image_id);
  return sqlite3_step (st) == SQLITE_ROW;
}

typedef struct {
  const gint64 *images;
  guint n;
  gint64 class_id;
  GraftLabelSource source;
  guint count;
} LabelData;

static gboolean
label_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  LabelData *d = data;
  const gint64 now = g_get_real_time ();
  for (guint i = 0; i < d->n; i++)
    {
      if (!image_exists (project, d->images[i]))
        {
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                       _("No image %lld in the project"), (long long) d->images[i]);
          return FALSE;
        }
      if (!graft_project_record_label (project, action, d->images[i], error))
        return FALSE;
      gboolean ok = d->class_id != 0
        ? graft_project_write_label (project, d->images[i], d->class_id, d->source, now, error)
        : graft_project_remove_label (project, d->images[i], error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

gboolean
graft_project_set_labels (GraftProject *project, const gint64 *image_ids, guint n_images, gint64 class_id,
                          GraftLabelSource source, GError **error)
{
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  GRAFT_PROJECT_LOCK (project);
  if (class_id != 0 && !check_class (project, class_id, error))
    return FALSE;
  if (class_id != 0 && (source < GRAFT_LABEL_PERSON || source > GRAFT_LABEL_IMPORTED))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, _("A label needs a source"));
      return FALSE;
    }
  g_autofree char *description = NULL;
  if (class_id != 0)
    {
      g_autofree char *name = class_name (project, class_id);
      description = n_images == 1 ? g_strdup_printf ("Label an image as “%s”", name)
                                  : g_strdup_printf ("Label %u images as “%s”", n_images, name);
    }
  else
    description = n_images == 1 ? g_strdup ("Clear a label") : g_strdup_printf ("Clear %u labels", n_images);
  LabelData d = { .images = image_ids, .n = n_images, .class_id = class_id, .source = source };
  return run_action (project, class_id != 0 ? "label" : "clear-label", description, label_body, &d, error);
}

gboolean
graft_project_set_label (GraftProject *project, gint64 image_id, gint64 class_id, GraftLabelSource source,
                         GError **error)
{
  g_return_val_if_fail (class_id != 0, FALSE);
  return graft_project_set_labels (project, &image_id, 1, class_id, source, error);
}

gboolean
graft_project_clear_label (GraftProject *project, gint64 image_id, GError **error)
{
  return graft_project_set_labels (project, &image_id, 1, 0, GRAFT_LABEL_NONE, error);
}

static gboolean
accept_body (GraftProject *project, gint64 action, gpointer data, GError **error)
{
  LabelData *d = data;
  const gint64 now = g_get_real_time ();
  for (guint i = 0; i < d->n; i++)
    {
      gint64 suggestion = 0;
      {
        GRAFT_STMT st = graft_project_statement (project,
                                                 "SELECT p.class FROM predictions p JOIN classes c ON c.id = p.class "
                                                 "WHERE p.image = ? AND c.deleted = 0",
                                                 error);
        if (st == NULL)
          return FALSE;
        sqlite3_bind_int64 (st, 1, d->images[i]);
        if (sqlite3_step (st) == SQLITE_ROW)
          suggestion = sqlite3_column_int64 (st, 0);
      }
      if (suggestion == 0)
        continue;
      if (!graft_project_record_label (project, action, d->images[i], error)
          || !graft_project_write_label (project, d->images[i], suggestion, GRAFT_LABEL_SUGGESTION, now, error))
        return FALSE;
      d->count++;
    }
  return TRUE;
}

gboolean
graft_project_accept_suggestions (GraftProject *project, const gint64 *image_ids, guint n_images, guint *accepted,
                                  GError **error)
{
  g_return_val_if_fail (image_ids != NULL || n_images == 0, FALSE);
  GRAFT_PROJECT_LOCK (project);
  if (accepted != NULL)
    *accepted = 0;
  g_autofree char *description = n_images == 1 ? g_strdup ("Accept a suggestion")
                                               : g_strdup_printf ("Accept %u suggestions", n_images);
  LabelData d = { .images = image_ids, .n = n_images };
  if (!run_action (project, "accept-suggestions", description, accept_body, &d, error))
    return FALSE;
  if (accepted != NULL)
    *accepted = d.count;
  return TRUE;
}
