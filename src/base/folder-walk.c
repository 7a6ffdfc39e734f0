/* folder-walk.c: see folder-walk.h. */
#include "base/folder-walk.h"

#include "base/regular-file.h"

#include <dirent.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  dev_t dev;
  ino_t ino;
} FileId;

typedef struct {
  char *path;
  int group;
} Top;

typedef struct {
  char *path;
  int group;
  int depth;
} PendingLink;

/* A file found, before duplicates are taken out. */
typedef struct {
  GraftWalkFile file;
  gboolean via_link;   /* a link to a file, or found below a link to a folder */
} Found;

struct _GraftFolderWalk {
  GArray *tops;               /* Top */
  GHashTable *protected;      /* FileId -> path: tops and their ancestors */
  GHashTable *excluded;       /* FileId -> path */
  GHashTable *visited;        /* FileId -> path: folders walked */
  GQueue links;               /* PendingLink *: links to folders, walked after every real folder */
  GArray *found;              /* Found */
  GArray *files;              /* GraftWalkFile: the result */
  GArray *skipped;            /* GraftWalkSkip */
  gboolean ran;
};

static guint
file_id_hash (gconstpointer key)
{
  const FileId *id = key;
  return (guint) id->ino * 31u + (guint) id->dev;
}

static gboolean
file_id_equal (gconstpointer a, gconstpointer b)
{
  const FileId *x = a, *y = b;
  return x->dev == y->dev && x->ino == y->ino;
}

static GHashTable *
id_table_new (void)
{
  return g_hash_table_new_full (file_id_hash, file_id_equal, g_free, g_free);
}

static void
id_table_add (GHashTable *table, const struct stat *st, const char *path)
{
  FileId id = { st->st_dev, st->st_ino };
  if (!g_hash_table_contains (table, &id))
    g_hash_table_insert (table, g_memdup2 (&id, sizeof id), g_strdup (path));
}

static const char *
id_table_lookup (GHashTable *table, const struct stat *st)
{
  FileId id = { st->st_dev, st->st_ino };
  return g_hash_table_lookup (table, &id);
}

static void
walk_file_clear (GraftWalkFile *file)
{
  g_free (file->path);
  g_free (file->folder);
}

static void
found_clear (Found *found)
{
  walk_file_clear (&found->file);
}

static void
walk_skip_clear (GraftWalkSkip *skip)
{
  g_free (skip->path);
  g_free (skip->detail);
}

static void
top_clear (Top *top)
{
  g_free (top->path);
}

static void
pending_link_free (PendingLink *link)
{
  g_free (link->path);
  g_free (link);
}

GraftFolderWalk *
graft_folder_walk_new (void)
{
  GraftFolderWalk *walk = g_new0 (GraftFolderWalk, 1);
  walk->tops = g_array_new (FALSE, TRUE, sizeof (Top));
  g_array_set_clear_func (walk->tops, (GDestroyNotify) top_clear);
  walk->protected = id_table_new ();
  walk->excluded = id_table_new ();
  walk->visited = id_table_new ();
  g_queue_init (&walk->links);
  walk->found = g_array_new (FALSE, TRUE, sizeof (Found));
  g_array_set_clear_func (walk->found, (GDestroyNotify) found_clear);
  walk->files = g_array_new (FALSE, TRUE, sizeof (GraftWalkFile));
  g_array_set_clear_func (walk->files, (GDestroyNotify) walk_file_clear);
  walk->skipped = g_array_new (FALSE, TRUE, sizeof (GraftWalkSkip));
  g_array_set_clear_func (walk->skipped, (GDestroyNotify) walk_skip_clear);
  return walk;
}

void
graft_folder_walk_free (GraftFolderWalk *walk)
{
  if (walk == NULL)
    return;
  g_array_unref (walk->tops);
  g_hash_table_destroy (walk->protected);
  g_hash_table_destroy (walk->excluded);
  g_hash_table_destroy (walk->visited);
  g_queue_clear_full (&walk->links, (GDestroyNotify) pending_link_free);
  g_array_unref (walk->found);
  g_array_unref (walk->files);
  g_array_unref (walk->skipped);
  g_free (walk);
}

/* The folder and every folder above it, by identity (a path may reach its own ancestor
 * by another name: a link, a bind mount). */
void
graft_folder_walk_protect (GraftFolderWalk *walk, const char *folder)
{
  g_return_if_fail (walk != NULL && folder != NULL);
  g_autofree char *path = g_canonicalize_filename (folder, NULL);
  for (;;)
    {
      struct stat st;
      if (g_stat (path, &st) == 0 && S_ISDIR (st.st_mode))
        id_table_add (walk->protected, &st, path);
      g_autofree char *parent = g_path_get_dirname (path);
      if (strcmp (parent, path) == 0)
        break;
      g_free (path);
      path = g_steal_pointer (&parent);
    }
}

void
graft_folder_walk_exclude (GraftFolderWalk *walk, const char *folder)
{
  g_return_if_fail (walk != NULL && folder != NULL);
  struct stat st;
  if (g_stat (folder, &st) == 0)
    id_table_add (walk->excluded, &st, folder);
}

void
graft_folder_walk_add (GraftFolderWalk *walk, const char *path, int group)
{
  g_return_if_fail (walk != NULL && path != NULL && !walk->ran);
  Top top = { g_strdup (path), group };
  g_array_append_val (walk->tops, top);
  graft_folder_walk_protect (walk, path);
}

static void
add_skip (GraftFolderWalk *walk, const char *path, GraftWalkSkipKind kind, mode_t mode, int error_code,
          char *detail /* owned */)
{
  GraftWalkSkip skip = { g_strdup (path), kind, mode, error_code, detail };
  g_array_append_val (walk->skipped, skip);
}

static void
add_found (GraftFolderWalk *walk, const char *folder, const char *path, const struct stat *st, int group,
           gboolean via_link)
{
  Found found = { { g_strdup (path), g_strdup (folder), NULL, group, *st }, via_link };
  found.file.name = found.file.path + strlen (folder);
  while (*found.file.name == G_DIR_SEPARATOR)
    found.file.name++;
  g_array_append_val (walk->found, found);
}

static void
skip_special (GraftFolderWalk *walk, const char *path, mode_t mode)
{
  add_skip (walk, path, GRAFT_WALK_SKIP_SPECIAL, mode, 0, g_strdup (graft_file_kind (mode)));
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Enters a folder already marked visited: its files, its real subfolders depth first,
 * and its links to folders queued for later. */
static void
walk_folder (GraftFolderWalk *walk, const char *folder, int group, int depth, gboolean via_link)
{
  DIR *dir = opendir (folder);
  if (dir == NULL)
    {
      int saved_errno = errno;
      add_skip (walk, folder, GRAFT_WALK_SKIP_UNREADABLE, S_IFDIR, saved_errno,
                g_strdup_printf ("cannot read the folder: %s", g_strerror (saved_errno)));
      return;
    }
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  errno = 0;
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      g_ptr_array_add (names, g_strdup (entry->d_name));
  int read_errno = errno;
  closedir (dir);
  if (read_errno != 0)
    {
      add_skip (walk, folder, GRAFT_WALK_SKIP_UNREADABLE, S_IFDIR, read_errno,
                g_strdup_printf ("cannot read the folder: %s", g_strerror (read_errno)));
      return;
    }
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (folder, g_ptr_array_index (names, i), NULL);
      struct stat st;
      if (g_lstat (path, &st) != 0)
        {
          int saved_errno = errno;
          add_skip (walk, path, GRAFT_WALK_SKIP_UNREADABLE, 0, saved_errno, g_strdup (g_strerror (saved_errno)));
          continue;
        }
      if (S_ISLNK (st.st_mode))
        {
          if (g_stat (path, &st) != 0)
            {
              add_skip (walk, path, GRAFT_WALK_SKIP_BROKEN_LINK, S_IFLNK, errno, g_strdup ("a broken symbolic link"));
              continue;
            }
          if (S_ISDIR (st.st_mode))
            {
              PendingLink *link = g_new (PendingLink, 1);
              *link = (PendingLink) { g_strdup (path), group, depth + 1 };
              g_queue_push_tail (&walk->links, link);
            }
          else if (S_ISREG (st.st_mode))
            add_found (walk, folder, path, &st, group, TRUE);
          else
            skip_special (walk, path, st.st_mode);
          continue;
        }
      if (S_ISREG (st.st_mode))
        add_found (walk, folder, path, &st, group, via_link);
      else if (S_ISDIR (st.st_mode))
        {
          if (id_table_lookup (walk->excluded, &st) != NULL)
            continue;
          const char *seen = id_table_lookup (walk->visited, &st);
          if (seen != NULL)
            {
              /* A bind mount, or a top inside another top. */
              add_skip (walk, path, GRAFT_WALK_SKIP_LOOP, S_IFDIR, 0, g_strdup_printf ("the folder %s, already listed", seen));
              continue;
            }
          if (depth + 1 > GRAFT_FOLDER_WALK_MAX_DEPTH)
            {
              add_skip (walk, path, GRAFT_WALK_SKIP_TOO_DEEP, S_IFDIR, 0,
                        g_strdup_printf ("more than %d folders deep", GRAFT_FOLDER_WALK_MAX_DEPTH));
              continue;
            }
          id_table_add (walk->visited, &st, path);
          walk_folder (walk, path, group, depth + 1, via_link);
        }
      else
        skip_special (walk, path, st.st_mode);
    }
}

static void
walk_top (GraftFolderWalk *walk, const Top *top)
{
  struct stat st;
  if (g_stat (top->path, &st) != 0)
    {
      int saved_errno = errno;
      add_skip (walk, top->path, GRAFT_WALK_SKIP_UNREADABLE, 0, saved_errno, g_strdup (g_strerror (saved_errno)));
      return;
    }
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *folder = g_path_get_dirname (top->path);
      add_found (walk, folder, top->path, &st, top->group, FALSE);
      return;
    }
  if (!S_ISDIR (st.st_mode))
    {
      skip_special (walk, top->path, st.st_mode);
      return;
    }
  if (id_table_lookup (walk->excluded, &st) != NULL)
    return;
  const char *seen = id_table_lookup (walk->visited, &st);
  if (seen != NULL)
    {
      add_skip (walk, top->path, GRAFT_WALK_SKIP_LOOP, S_IFDIR, 0, g_strdup_printf ("the folder %s, already listed", seen));
      return;
    }
  id_table_add (walk->visited, &st, top->path);
  walk_folder (walk, top->path, top->group, 0, FALSE);
}

/* Whether the folder st is one of the folders above path (by their names: path is
 * a top joined with the names that led to it). */
static gboolean
is_above (const struct stat *folder, const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  for (;;)
    {
      struct stat st;
      if (g_stat (dir, &st) == 0 && st.st_dev == folder->st_dev && st.st_ino == folder->st_ino)
        return TRUE;
      g_autofree char *parent = g_path_get_dirname (dir);
      if (strcmp (parent, dir) == 0)
        return FALSE;
      g_free (dir);
      dir = g_steal_pointer (&parent);
    }
}

static void
walk_link (GraftFolderWalk *walk, const PendingLink *link)
{
  struct stat st;
  if (g_stat (link->path, &st) != 0 || !S_ISDIR (st.st_mode))
    {
      /* Changed since it was listed. */
      add_skip (walk, link->path, GRAFT_WALK_SKIP_BROKEN_LINK, S_IFLNK, errno, g_strdup ("a broken symbolic link"));
      return;
    }
  if (id_table_lookup (walk->excluded, &st) != NULL)
    return;
  /* A top or a folder above one: a loop when it contains the link, else (another top)
   * a folder listed already. */
  const char *up = id_table_lookup (walk->protected, &st);
  const char *seen = id_table_lookup (walk->visited, &st);
  if (up != NULL && (seen == NULL || is_above (&st, link->path)))
    {
      add_skip (walk, link->path, GRAFT_WALK_SKIP_LOOP, S_IFLNK, 0,
                g_strdup_printf ("a link back up the tree to %s, not followed", up));
      return;
    }
  if (seen != NULL)
    {
      add_skip (walk, link->path, GRAFT_WALK_SKIP_LOOP, S_IFLNK, 0,
                g_strdup_printf ("a link to %s, a folder already listed", seen));
      return;
    }
  if (link->depth > GRAFT_FOLDER_WALK_MAX_DEPTH)
    {
      add_skip (walk, link->path, GRAFT_WALK_SKIP_TOO_DEEP, S_IFLNK, 0,
                g_strdup_printf ("more than %d folders deep", GRAFT_FOLDER_WALK_MAX_DEPTH));
      return;
    }
  id_table_add (walk->visited, &st, link->path);
  walk_folder (walk, link->path, link->group, link->depth, TRUE);
}

static int
compare_files (gconstpointer a, gconstpointer b)
{
  const GraftWalkFile *x = a, *y = b;
  if (x->group != y->group)
    return x->group < y->group ? -1 : 1;
  int c = strcmp (x->folder, y->folder);
  return c != 0 ? c : strcmp (x->name, y->name);
}

void
graft_folder_walk_run (GraftFolderWalk *walk)
{
  g_return_if_fail (walk != NULL && !walk->ran);
  walk->ran = TRUE;
  for (guint i = 0; i < walk->tops->len; i++)
    walk_top (walk, &g_array_index (walk->tops, Top, i));
  PendingLink *link;
  while ((link = g_queue_pop_head (&walk->links)) != NULL)
    {
      walk_link (walk, link);
      pending_link_free (link);
    }

  /* Each file once: where it really is first, then what links reached. */
  g_autoptr (GHashTable) files = id_table_new ();
  g_autofree gboolean *keep = g_new0 (gboolean, MAX (walk->found->len, 1));
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < walk->found->len; i++)
      {
        Found *found = &g_array_index (walk->found, Found, i);
        if (found->via_link != (pass == 1))
          continue;
        const char *first = id_table_lookup (files, &found->file.st);
        if (first != NULL)
          {
            add_skip (walk, found->file.path, GRAFT_WALK_SKIP_DUPLICATE, found->file.st.st_mode, 0,
                      g_strdup_printf ("the same file as %s", first));
            continue;
          }
        id_table_add (files, &found->file.st, found->file.path);
        keep[i] = TRUE;
      }
  for (guint i = 0; i < walk->found->len; i++)
    if (keep[i])
      {
        Found *found = &g_array_index (walk->found, Found, i);
        g_array_append_val (walk->files, found->file);
        memset (&found->file, 0, sizeof found->file);   /* moved */
      }
  g_array_set_size (walk->found, 0);
  g_array_sort (walk->files, compare_files);
}

GArray *
graft_folder_walk_files (GraftFolderWalk *walk)
{
  g_return_val_if_fail (walk != NULL, NULL);
  return walk->files;
}

GArray *
graft_folder_walk_skipped (GraftFolderWalk *walk)
{
  g_return_val_if_fail (walk != NULL, NULL);
  return walk->skipped;
}
