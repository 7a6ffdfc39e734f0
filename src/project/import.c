/* import.c: folder scans, ImageFolder trees, CSV lists, Teachable Machine archives and
 * loose files into a project. See import.h for the three phases. */
#include "config.h"

#include "project/import.h"

#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/folder-walk.h"
#include "base/regular-file.h"
#include "project/project-private.h"
#include "project/zip-reader.h"
#include "base/file-hash.h"

#include <json-glib/json-glib.h>

#define MAX_MEMBER_SIZE (512ull * 1024 * 1024)
#define COPY_CHUNK (256 * 1024)

typedef struct {
  char *path;          /* the file to reference (absolute); for copies, the copy */
  char *display;       /* what the report names */
  char *class_name;    /* nullable */
  gint64 size, mtime;
  GraftMagic magic;
  char *hash;          /* nullable until phase 2 */
  gboolean copied;     /* path is already the copy in images/ */
  gboolean skip;
} Candidate;

typedef struct {
  GraftProject *project;
  GraftImportOptions options;
  gint64 class_id;           /* labels everything (graft_import_files), 0: none */
  GPtrArray *candidates;     /* Candidate * */
  GraftImportReport *report;
  GPtrArray *created;        /* copies made by this import: removed on failure */
  GPtrArray *created_folders; /* folders made by this import, parents first: removed on failure if empty */
  GHashTable *seen_hashes;   /* hash -> display, within this import */
  char *images_folder;
} Import;

static void
candidate_free (Candidate *candidate)
{
  g_free (candidate->path);
  g_free (candidate->display);
  g_free (candidate->class_name);
  g_free (candidate->hash);
  g_free (candidate);
}

static void
skip_clear (GraftImportSkip *skip)
{
  g_free (skip->path);
  g_free (skip->detail);
}

void
graft_import_report_free (GraftImportReport *report)
{
  if (report == NULL)
    return;
  g_array_unref (report->skipped);
  g_free (report);
}

const char *
graft_skip_reason_to_string (GraftSkipReason reason)
{
  switch (reason)
    {
    case GRAFT_SKIP_UNREADABLE: return "unreadable";
    case GRAFT_SKIP_NOT_AN_IMAGE: return "not an image";
    case GRAFT_SKIP_UNSUPPORTED: return "unsupported image format";
    case GRAFT_SKIP_DUPLICATE: return "duplicate";
    case GRAFT_SKIP_BAD_ROW: return "bad CSV row";
    case GRAFT_SKIP_NOT_A_FILE: return "not a file";
    case GRAFT_SKIP_LOOP: return "folder loop";
    case GRAFT_SKIP_UNSAFE_NAME: return "unsafe name in archive";
    default: return "skipped";
    }
}

static void
import_init (Import *im, GraftProject *project, const GraftImportOptions *options)
{
  memset (im, 0, sizeof *im);
  im->project = project;
  if (options != NULL)
    im->options = *options;
  im->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) candidate_free);
  im->report = g_new0 (GraftImportReport, 1);
  im->report->skipped = g_array_new (FALSE, TRUE, sizeof (GraftImportSkip));
  g_array_set_clear_func (im->report->skipped, (GDestroyNotify) skip_clear);
  im->created = g_ptr_array_new_with_free_func (g_free);
  im->created_folders = g_ptr_array_new_with_free_func (g_free);
  im->seen_hashes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  im->images_folder = g_build_filename (graft_project_get_folder (project), "images", NULL);
}

/* Frees everything but the report, which it returns (or frees, on failure). */
static GraftImportReport *
import_finish (Import *im, gboolean ok)
{
  if (!ok)
    {
      for (guint i = 0; i < im->created->len; i++)
        g_remove (g_ptr_array_index (im->created, i));
      /* Children before parents; g_rmdir leaves a folder that is not empty (a copy that
       * another import made meanwhile). A full disk leaves no empty folders behind. */
      for (guint i = im->created_folders->len; i > 0; i--)
        g_rmdir (g_ptr_array_index (im->created_folders, i - 1));
    }
  g_ptr_array_unref (im->candidates);
  g_ptr_array_unref (im->created);
  g_ptr_array_unref (im->created_folders);
  g_hash_table_destroy (im->seen_hashes);
  g_free (im->images_folder);
  if (!ok)
    {
      graft_import_report_free (im->report);
      return NULL;
    }
  return im->report;
}

static void
add_skip (Import *im, const char *path, GraftSkipReason reason, const char *detail)
{
  GraftImportSkip skip = { .path = g_strdup (path), .reason = reason, .detail = g_strdup (detail) };
  g_array_append_val (im->report->skipped, skip);
}

static const char *
extension_for (GraftMagic magic)
{
  return magic == GRAFT_MAGIC_PNG ? "png" : "jpg";
}

/* Judges the first bytes; reports and returns FALSE when the file is not one we read
 * (read_error: why they could not be read, when got < 0). */
static gboolean
judge_head (Import *im, const char *display, const guint8 *head, gssize got, const GError *read_error,
            GraftMagic *magic)
{
  if (got < 0)
    {
      add_skip (im, display, GRAFT_SKIP_UNREADABLE, read_error->message);
      return FALSE;
    }
  const char *format = NULL;
  *magic = graft_project_sniff (head, (gsize) got, &format);
  switch (*magic)
    {
    case GRAFT_MAGIC_PNG:
    case GRAFT_MAGIC_JPEG:
      return TRUE;
    case GRAFT_MAGIC_EMPTY:
      add_skip (im, display, GRAFT_SKIP_NOT_AN_IMAGE, _("an empty file"));
      return FALSE;
    case GRAFT_MAGIC_OTHER_IMAGE:
      {
        /* Translators: %s is an image format's name, such as GIF or WebP. */
        g_autofree char *detail = g_strdup_printf (_("a %s image; Graft reads PNG and JPEG"), format);
        add_skip (im, display, GRAFT_SKIP_UNSUPPORTED, detail);
        return FALSE;
      }
    case GRAFT_MAGIC_UNKNOWN:
    default:
      add_skip (im, display, GRAFT_SKIP_NOT_AN_IMAGE, _("not a PNG or JPEG file (by its first bytes)"));
      return FALSE;
    }
}

/* A PNG ends with its IEND chunk; one cut short (a copy or a download stopped early)
 * is reported at import instead of entering the project, where it would show blank and
 * training would drop it in silence. tail: the file's last bytes. */
#define PNG_TAIL_BYTES 64

static gboolean
png_tail_complete (const guint8 *tail, gsize n)
{
  for (gsize i = 0; i + 4 <= n; i++)
    if (memcmp (tail + i, "IEND", 4) == 0)
      return TRUE;
  return FALSE;
}

/* Whether the PNG file at path (size bytes) has its end; TRUE when it cannot be told
 * (the hash or the decoder will say what is wrong then). */
static gboolean
png_file_complete (const char *path, goffset size)
{
  guint8 tail[PNG_TAIL_BYTES];
  gsize n = (gsize) MIN (size, (goffset) sizeof tail);
  int fd = graft_open_regular (path, NULL, NULL);
  gssize got;

  if (fd < 0)
    return TRUE;
  got = pread (fd, tail, n, size - (goffset) n);
  close (fd);
  return got != (gssize) n || png_tail_complete (tail, n);
}

#define TRUNCATED_PNG_DETAIL _("a truncated PNG file: it ends before its image data does")

/* A class name from a folder, an archive or a CSV cell: control characters become
 * spaces, invalid UTF-8 is repaired, the ends are trimmed. NULL when nothing is left. */
static char *
clean_class_name (const char *raw)
{
  char *name = g_utf8_make_valid (raw, -1);
  for (char *c = name; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = ' ';
  g_strstrip (name);
  if (*name == '\0')
    {
      g_free (name);
      return NULL;
    }
  return name;
}

static void
add_candidate_file (Import *im, const char *path, const struct stat *st, const char *class_name)
{
  guint8 head[GRAFT_MAGIC_BYTES];
  g_autoptr (GError) read_error = NULL;
  gssize got = graft_project_read_head (path, head, sizeof head, &read_error);
  GraftMagic magic;
  if (!judge_head (im, path, head, got, read_error, &magic))
    return;
  if (magic == GRAFT_MAGIC_PNG && !png_file_complete (path, st->st_size))
    {
      add_skip (im, path, GRAFT_SKIP_UNREADABLE, TRUNCATED_PNG_DETAIL);
      return;
    }
  Candidate *candidate = g_new0 (Candidate, 1);
  candidate->path = g_strdup (path);
  candidate->display = g_strdup (path);
  candidate->class_name = class_name != NULL ? clean_class_name (class_name) : NULL;
  candidate->size = st->st_size;
  candidate->mtime = graft_project_stat_mtime (st);
  candidate->magic = magic;
  g_ptr_array_add (im->candidates, candidate);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names in a folder, sorted (so that ids follow the names), hidden ones left out. */
static GPtrArray *
list_folder (const char *folder, GError **error)
{
  GDir *dir = g_dir_open (folder, 0, error);
  if (dir == NULL)
    return NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* A FIFO, a socket or a device: reported and counted, never opened. */
static void
skip_not_a_file (Import *im, const char *path, mode_t mode, const char *detail)
{
  add_skip (im, path, GRAFT_SKIP_NOT_A_FILE, detail);
  if (S_ISFIFO (mode))
    im->report->fifos++;
  else if (S_ISSOCK (mode))
    im->report->sockets++;
  else if (S_ISCHR (mode) || S_ISBLK (mode))
    im->report->device_files++;
}

/* A walk for this import: the project's own folder is left out. */
static GraftFolderWalk *
walk_new (Import *im)
{
  GraftFolderWalk *walk = graft_folder_walk_new ();
  graft_folder_walk_exclude (walk, graft_project_get_folder (im->project));
  return walk;
}

/* Phase 1 after a walk: what it left out, into the report. */
static void
take_walk_skips (Import *im, GraftFolderWalk *walk)
{
  GArray *skipped = graft_folder_walk_skipped (walk);
  for (guint i = 0; i < skipped->len; i++)
    {
      const GraftWalkSkip *skip = &g_array_index (skipped, GraftWalkSkip, i);
      switch (skip->kind)
        {
        case GRAFT_WALK_SKIP_SPECIAL:
          skip_not_a_file (im, skip->path, skip->mode, skip->detail);
          break;
        case GRAFT_WALK_SKIP_LOOP:
          add_skip (im, skip->path, GRAFT_SKIP_LOOP, skip->detail);
          break;
        case GRAFT_WALK_SKIP_DUPLICATE:
          add_skip (im, skip->path, GRAFT_SKIP_DUPLICATE, skip->detail);
          break;
        case GRAFT_WALK_SKIP_BROKEN_LINK:
        case GRAFT_WALK_SKIP_UNREADABLE:
        case GRAFT_WALK_SKIP_TOO_DEEP:
        default:
          add_skip (im, skip->path, GRAFT_SKIP_UNREADABLE, skip->detail);
          break;
        }
    }
}

/* Depth-first name order (each folder's entries sorted by name, a folder's files where
 * its name sorts): paths compared with '/' below every other byte. */
static int
compare_depth_first (gconstpointer a, gconstpointer b)
{
  const GraftWalkFile *x = *(const GraftWalkFile *const *) a, *y = *(const GraftWalkFile *const *) b;
  if (x->group != y->group)
    return x->group < y->group ? -1 : 1;
  const guchar *p = (const guchar *) x->path, *q = (const guchar *) y->path;
  while (*p != '\0' && *p == *q)
    p++, q++;
  int c = *p == '/' ? 1 : *p + 1, d = *q == '/' ? 1 : *q + 1;
  if (*p == '\0')
    c = 0;
  if (*q == '\0')
    d = 0;
  return c - d;
}

/* Phase 1 after a walk: the files of group (-1: all), with the class of their group
 * (class_names: char * per group, NULL entries; NULL: no classes), in depth-first name
 * order so that ids follow the names. */
static void
take_walk_files (Import *im, GraftFolderWalk *walk, int group, GPtrArray *class_names)
{
  GArray *all = graft_folder_walk_files (walk);
  g_autoptr (GPtrArray) files = g_ptr_array_sized_new (all->len);
  for (guint i = 0; i < all->len; i++)
    g_ptr_array_add (files, &g_array_index (all, GraftWalkFile, i));
  g_ptr_array_sort (files, compare_depth_first);
  for (guint i = 0; i < files->len; i++)
    {
      const GraftWalkFile *file = g_ptr_array_index (files, i);
      if (group >= 0 && file->group != group)
        continue;
      const char *class_name = class_names != NULL && file->group >= 0 && (guint) file->group < class_names->len
                                   ? g_ptr_array_index (class_names, file->group)
                                   : NULL;
      add_candidate_file (im, file->path, &file->st, class_name);
    }
}

static gboolean
check_folder (const char *folder, GError **error)
{
  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *display = g_filename_display_name (folder);
      g_set_error (error, GRAFT_PROJECT_ERROR, g_file_test (folder, G_FILE_TEST_EXISTS) ? GRAFT_PROJECT_ERROR_INVALID
                                                                                      : GRAFT_PROJECT_ERROR_NOT_FOUND,
                   _("%s: not a folder"), display);
      return FALSE;
    }
  if (access (folder, R_OK | X_OK) != 0)
    {
      g_autofree char *display = g_filename_display_name (folder);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("%s: cannot read: %s"), display, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* ---- Phase 2: hashing and copying ------------------------------------------------- */

/* A copy into images/ failed: names the folder and the file being copied. */
static gboolean
set_write_error (Import *im, const Candidate *candidate, int saved_errno, GError **error)
{
  g_autofree char *display = g_filename_display_name (im->images_folder);
  GraftProjectError code = saved_errno == ENOSPC || saved_errno == EDQUOT ? GRAFT_PROJECT_ERROR_DISK_FULL
                           : saved_errno == EROFS || saved_errno == EACCES ? GRAFT_PROJECT_ERROR_READ_ONLY
                                                                           : GRAFT_PROJECT_ERROR_IO;
  g_set_error (error, GRAFT_PROJECT_ERROR, code, _("%s: cannot copy %s into the project: %s; nothing was imported"),
               display, candidate->display, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize n)
{
  while (n > 0)
    {
      ssize_t put = write (fd, data, n);
      if (put < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      data += put;
      n -= (gsize) put;
    }
  return TRUE;
}

/* g_mkdir_with_parents that remembers the folders it made (0, or -1 and errno). */
static int
make_folder (Import *im, const char *folder)
{
  if (g_file_test (folder, G_FILE_TEST_IS_DIR))
    return 0;
  g_autofree char *parent = g_path_get_dirname (folder);
  if (strcmp (parent, folder) != 0 && make_folder (im, parent) != 0)
    return -1;
  if (g_mkdir (folder, 0755) == 0)
    {
      g_ptr_array_add (im->created_folders, g_strdup (folder));
      return 0;
    }
  return errno == EEXIST ? 0 : -1;
}

/* Copies a file (or bytes) into images/<2 hex>/<hash>.<ext>, hashing on the way. Returns
 * FALSE with error for write failures (fatal), FALSE without for a source that cannot
 * be read (reported). */
static gboolean
copy_in (Import *im, Candidate *candidate, GBytes *bytes, GError **error)
{
  if (make_folder (im, im->images_folder) != 0)
    return set_write_error (im, candidate, errno, error);
  g_autofree char *template = g_build_filename (im->images_folder, ".import-XXXXXX", NULL);
  int out = g_mkstemp_full (template, O_WRONLY | O_CLOEXEC, 0644);
  if (out < 0)
    return set_write_error (im, candidate, errno, error);
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gboolean ok = TRUE;
  int write_errno = 0;
  if (bytes != NULL)
    {
      gsize n;
      const guint8 *data = g_bytes_get_data (bytes, &n);
      g_checksum_update (checksum, data, (gssize) n);
      if (!write_all (out, data, n))
        ok = FALSE, write_errno = errno;
    }
  else
    {
      g_autoptr (GError) open_error = NULL;
      int in = graft_open_regular (candidate->path, NULL, &open_error);   /* replaced by a FIFO since the scan? */
      if (in < 0)
        {
          add_skip (im, candidate->display, GRAFT_SKIP_UNREADABLE, open_error->message);
          candidate->skip = TRUE;
          close (out);
          g_remove (template);
          return FALSE;
        }
      g_autofree guint8 *buffer = g_malloc (COPY_CHUNK);
      for (;;)
        {
          ssize_t got = read (in, buffer, COPY_CHUNK);
          if (got < 0 && errno == EINTR)
            continue;
          if (got < 0)
            {
              add_skip (im, candidate->display, GRAFT_SKIP_UNREADABLE, g_strerror (errno));
              candidate->skip = TRUE;
              close (in);
              close (out);
              g_remove (template);
              return FALSE;
            }
          if (got == 0)
            break;
          g_checksum_update (checksum, buffer, got);
          if (!write_all (out, buffer, (gsize) got))
            {
              ok = FALSE, write_errno = errno;
              break;
            }
        }
      close (in);
    }
  if (ok && fsync (out) != 0)
    ok = FALSE, write_errno = errno;
  if (close (out) != 0 && ok)
    ok = FALSE, write_errno = errno;
  if (!ok)
    {
      g_remove (template);
      return set_write_error (im, candidate, write_errno, error);
    }
  const char *hash = g_checksum_get_string (checksum);
  char sub[3] = { hash[0], hash[1], 0 };
  g_autofree char *folder = g_build_filename (im->images_folder, sub, NULL);
  g_autofree char *name = g_strdup_printf ("%s.%s", hash, extension_for (candidate->magic));
  g_autofree char *final = g_build_filename (folder, name, NULL);
  if (make_folder (im, folder) != 0)
    {
      int saved_errno = errno;
      g_remove (template);
      return set_write_error (im, candidate, saved_errno, error);
    }
  if (g_file_test (final, G_FILE_TEST_EXISTS))
    g_remove (template);    /* the same content is there already */
  else if (g_rename (template, final) != 0)
    {
      int saved_errno = errno;
      g_remove (template);
      return set_write_error (im, candidate, saved_errno, error);
    }
  else
    g_ptr_array_add (im->created, g_strdup (final));
  struct stat st;
  if (g_stat (final, &st) == 0)
    {
      candidate->size = st.st_size;
      candidate->mtime = graft_project_stat_mtime (&st);
    }
  g_free (candidate->path);
  candidate->path = g_steal_pointer (&final);
  candidate->hash = g_strdup (hash);
  candidate->copied = TRUE;
  return TRUE;
}

/* Skips a candidate whose content was seen earlier in this import. */
static void
check_seen (Import *im, Candidate *candidate)
{
  const char *first = g_hash_table_lookup (im->seen_hashes, candidate->hash);
  if (first != NULL)
    {
      g_autofree char *detail = g_strdup_printf (_("same content as %s"), first);
      add_skip (im, candidate->display, GRAFT_SKIP_DUPLICATE, detail);
      candidate->skip = TRUE;
      return;
    }
  g_hash_table_insert (im->seen_hashes, g_strdup (candidate->hash), g_strdup (candidate->display));
}

static gboolean
hash_and_copy (Import *im, GError **error)
{
  gboolean hash_now = im->options.hashing == GRAFT_HASH_NOW
                      || (im->options.hashing == GRAFT_HASH_AUTO && im->candidates->len <= GRAFT_IMPORT_HASH_NOW_LIMIT);
  for (guint i = 0; i < im->candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (im->candidates, i);
      if ((i & 255) == 0 && g_cancellable_set_error_if_cancelled (im->options.cancellable, error))
        return FALSE;
      if (candidate->skip)
        continue;
      if (candidate->hash == NULL && im->options.mode == GRAFT_IMPORT_COPY && !candidate->copied)
        {
          g_autoptr (GError) local_error = NULL;
          if (!copy_in (im, candidate, NULL, &local_error))
            {
              if (local_error != NULL)
                {
                  g_propagate_error (error, g_steal_pointer (&local_error));
                  return FALSE;
                }
              continue;
            }
        }
      else if (candidate->hash == NULL && hash_now)
        {
          g_autoptr (GError) local_error = NULL;
          candidate->hash = graft_file_sha256 (candidate->path, &local_error);
          if (candidate->hash == NULL)
            {
              add_skip (im, candidate->display, GRAFT_SKIP_UNREADABLE, local_error->message);
              candidate->skip = TRUE;
              continue;
            }
        }
      if (candidate->hash != NULL)
        check_seen (im, candidate);
    }
  return TRUE;
}

/* ---- Phase 3: one transaction ------------------------------------------------------ */

static gint64
class_for (Import *im, gint64 action, GHashTable *classes, const char *name, GError **error)
{
  gpointer found = g_hash_table_lookup (classes, name);
  if (found != NULL)
    return *(gint64 *) found;
  gint64 id = graft_project_find_class_locked (im->project, name);
  if (id == 0)
    {
      id = graft_project_add_class_locked (im->project, action, name, NULL, error);
      if (id == 0)
        return 0;
      im->report->classes_added++;
    }
  g_hash_table_insert (classes, g_strdup (name), g_memdup2 (&id, sizeof id));
  return id;
}

static gboolean
label_if_unlabelled (Import *im, gint64 action, gint64 image_id, gint64 class_id, gint64 now, GError **error)
{
  {
    GRAFT_STMT st = graft_project_statement (im->project, "SELECT label FROM images WHERE id = ?", error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64 (st, 1, image_id);
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 0) != SQLITE_NULL)
      return TRUE;
  }
  if (!graft_project_record_label (im->project, action, image_id, error)
      || !graft_project_write_label (im->project, image_id, class_id, GRAFT_LABEL_IMPORTED, now, error))
    return FALSE;
  im->report->labelled++;
  return TRUE;
}

static gboolean
store (Import *im, const char *what, GError **error)
{
  GraftProject *project = im->project;
  GRAFT_PROJECT_LOCK (project);
  g_autoptr (GHashTable) classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!graft_project_begin (project, error))
    return FALSE;
  gint64 action = graft_project_action_begin (project, "import", what, error);
  if (action == 0)
    goto fail;
  const gint64 now = g_get_real_time ();
  for (guint i = 0; i < im->candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (im->candidates, i);
      if ((i & 1023) == 0 && g_cancellable_set_error_if_cancelled (im->options.cancellable, error))
        goto fail;
      if (candidate->skip)
        continue;
      g_autofree char *stored = graft_project_store_path (project, candidate->path);
      if (candidate->hash != NULL)
        {
          g_autofree char *other = NULL;
          gint64 twin = graft_project_find_hash (project, candidate->hash, &other);
          if (twin != 0)
            {
              g_autofree char *other_stored = graft_project_store_path (project, other);
              if (strcmp (other_stored, stored) != 0)
                {
                  g_autofree char *detail = g_strdup_printf (_("same content as %s, already in the project"), other);
                  add_skip (im, candidate->display, GRAFT_SKIP_DUPLICATE, detail);
                  continue;
                }
            }
        }
      gint64 existing = 0;
      gint64 id = graft_project_insert_image (project, stored, candidate->hash, candidate->size, candidate->mtime,
                                              &existing, error);
      if (id == 0 && existing == 0)
        goto fail;
      if (id != 0)
        {
          if (!graft_project_record_new_image (project, action, id, error))
            goto fail;
          im->report->added++;
          if (candidate->hash == NULL)
            im->report->hash_pending++;
        }
      else
        {
          id = existing;
          im->report->already_present++;
        }
      gint64 class_id = im->class_id;
      if (class_id == 0 && candidate->class_name != NULL)
        {
          class_id = class_for (im, action, classes, candidate->class_name, error);
          if (class_id == 0)
            goto fail;
        }
      if (class_id != 0 && !label_if_unlabelled (im, action, id, class_id, now, error))
        goto fail;
    }
  if (im->report->added == 0 && im->report->labelled == 0 && im->report->classes_added == 0)
    {
      graft_project_rollback (project);   /* nothing changed: no empty undo step */
      return TRUE;
    }
  {
    /* The undo step's name is stored in the project, in English as the other actions'
     * (project-images.c, project-classes.c): not translated here. */
    g_autofree char *description = g_strdup_printf ("Import %u image%s %s", im->report->added,
                                                    im->report->added == 1 ? "" : "s", what);
    GRAFT_STMT st = graft_project_statement (project, "UPDATE actions SET description = ?2 WHERE id = ?1", error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_int64 (st, 1, action);
    sqlite3_bind_text (st, 2, description, -1, SQLITE_TRANSIENT);
    if (!graft_project_step_done (project, st, _("cannot record the import"), error))
      goto fail;
  }
  if (!graft_project_action_finish (project, action, error))
    goto fail;
  return graft_project_commit (project, error);

fail:
  graft_project_rollback (project);
  return FALSE;
}

static GraftImportReport *
run_import (Import *im, const char *what, GError **error)
{
  if (graft_project_is_read_only (im->project))
    {
      GRAFT_PROJECT_LOCK (im->project);
      graft_project_begin (im->project, error);
      return import_finish (im, FALSE);
    }
  if (!hash_and_copy (im, error) || !store (im, what, error))
    return import_finish (im, FALSE);
  return import_finish (im, TRUE);
}

static char *
from_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  return g_strdup_printf ("from “%s”", base);
}

/* ---- The kinds of import ------------------------------------------------------------- */

GraftImportReport *
graft_import_folder (GraftProject *project, const char *folder, const GraftImportOptions *options, GError **error)
{
  g_return_val_if_fail (project != NULL && folder != NULL, NULL);
  if (!check_folder (folder, error))
    return NULL;
  Import im;
  import_init (&im, project, options);
  g_autofree char *canonical = g_canonicalize_filename (folder, NULL);
  g_autoptr (GraftFolderWalk) walk = walk_new (&im);
  graft_folder_walk_add (walk, canonical, 0);
  graft_folder_walk_run (walk);
  take_walk_skips (&im, walk);
  take_walk_files (&im, walk, -1, NULL);
  g_autofree char *what = from_name (canonical);
  return run_import (&im, what, error);
}

GraftImportReport *
graft_import_image_folder (GraftProject *project, const char *root, const GraftImportOptions *options,
                           GError **error)
{
  g_return_val_if_fail (project != NULL && root != NULL, NULL);
  if (!check_folder (root, error))
    return NULL;
  g_autofree char *canonical = g_canonicalize_filename (root, NULL);
  g_autoptr (GPtrArray) names = list_folder (canonical, error);
  if (names == NULL)
    return NULL;
  Import im;
  import_init (&im, project, options);
  /* One walk for every class, so that a link from one class into another (or back up
   * to the root) cannot put images in the wrong class. */
  g_autoptr (GraftFolderWalk) walk = walk_new (&im);
  graft_folder_walk_protect (walk, canonical);
  g_autoptr (GPtrArray) class_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *child = g_build_filename (canonical, name, NULL);
      g_ptr_array_add (class_names, g_file_test (child, G_FILE_TEST_IS_DIR) ? g_filename_display_name (name) : NULL);
      graft_folder_walk_add (walk, child, (int) i);
    }
  graft_folder_walk_run (walk);
  take_walk_skips (&im, walk);
  take_walk_files (&im, walk, -1, class_names);
  g_autofree char *what = from_name (canonical);
  return run_import (&im, what, error);
}

/* RFC 4180 records: fields separated by commas, records by CRLF or LF, a field in
 * double quotes may hold commas, line breaks and "" for a quote. */
static GPtrArray *
csv_parse (const char *text, gsize length)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  GPtrArray *record = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gsize i = 0;
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  gboolean quoted = FALSE, field_started = FALSE;
  for (; i < length; i++)
    {
      char c = text[i];
      if (quoted)
        {
          if (c == '"')
            {
              if (i + 1 < length && text[i + 1] == '"')
                {
                  g_string_append_c (field, '"');
                  i++;
                }
              else
                quoted = FALSE;
            }
          else
            g_string_append_c (field, c);
          continue;
        }
      if (c == '"' && field->len == 0 && !field_started)
        {
          quoted = TRUE;
          field_started = TRUE;
        }
      else if (c == ',')
        {
          g_ptr_array_add (record, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          field_started = FALSE;
        }
      else if (c == '\n' || c == '\r')
        {
          if (c == '\r' && i + 1 < length && text[i + 1] == '\n')
            i++;
          g_ptr_array_add (record, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          field_started = FALSE;
          g_ptr_array_add (records, record);
          record = g_ptr_array_new_with_free_func (g_free);
        }
      else
        {
          g_string_append_c (field, c);
          field_started = TRUE;
        }
    }
  if (field->len > 0 || field_started || record->len > 0)
    {
      g_ptr_array_add (record, g_string_free (field, FALSE));
      g_ptr_array_add (records, record);
    }
  else
    {
      g_string_free (field, TRUE);
      g_ptr_array_unref (record);
    }
  return records;
}

static gboolean
is_header_word (const char *field, const char *const *words)
{
  g_autofree char *lower = g_ascii_strdown (field, -1);
  g_strstrip (lower);
  for (int i = 0; words[i] != NULL; i++)
    if (strcmp (lower, words[i]) == 0)
      return TRUE;
  return FALSE;
}

GraftImportReport *
graft_import_csv (GraftProject *project, const char *csv_path, const GraftImportOptions *options, GError **error)
{
  g_return_val_if_fail (project != NULL && csv_path != NULL, NULL);
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr (GError) local_error = NULL;
  if (!graft_file_get_contents (csv_path, &text, &length, &local_error))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR,
                   g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? GRAFT_PROJECT_ERROR_NOT_FOUND
                                                                                 : GRAFT_PROJECT_ERROR_IO,
                   "%s", local_error->message);
      return NULL;
    }
  g_autoptr (GPtrArray) records = csv_parse (text, length);
  g_autofree char *canonical = g_canonicalize_filename (csv_path, NULL);
  g_autofree char *base_folder = g_path_get_dirname (canonical);

  static const char *const path_words[] = { "path", "file", "filename", "file_name", "image", "image_path", NULL };
  static const char *const label_words[] = { "label", "class", "category", NULL };
  guint path_column = 0, label_column = 1, first = 0;
  if (records->len > 0)
    {
      GPtrArray *header = g_ptr_array_index (records, 0);
      if (header->len > 0 && is_header_word (g_ptr_array_index (header, 0), path_words))
        {
          first = 1;
          for (guint c = 1; c < header->len; c++)
            if (is_header_word (g_ptr_array_index (header, c), label_words))
              {
                label_column = c;
                break;
              }
        }
    }

  Import im;
  import_init (&im, project, options);
  for (guint r = first; r < records->len; r++)
    {
      GPtrArray *record = g_ptr_array_index (records, r);
      const char *path = record->len > path_column ? g_ptr_array_index (record, path_column) : "";
      const char *label = record->len > label_column ? g_ptr_array_index (record, label_column) : "";
      if (record->len == 1 && *path == '\0')
        continue;   /* a blank line */
      if (*path == '\0')
        {
          g_autofree char *where = g_strdup_printf ("%s:%u", canonical, r + 1);
          add_skip (&im, where, GRAFT_SKIP_BAD_ROW, _("no path in the row"));
          continue;
        }
      g_autofree char *absolute = g_path_is_absolute (path) ? g_canonicalize_filename (path, NULL)
                                                            : g_canonicalize_filename (path, base_folder);
      g_autofree char *class_name = g_strstrip (g_strdup (label));
      struct stat st;
      if (g_stat (absolute, &st) != 0)
        {
          add_skip (&im, absolute, GRAFT_SKIP_UNREADABLE, g_strerror (errno));
          continue;
        }
      if (S_ISDIR (st.st_mode))
        {
          add_skip (&im, absolute, GRAFT_SKIP_NOT_AN_IMAGE, _("a folder"));
          continue;
        }
      if (!S_ISREG (st.st_mode))
        {
          skip_not_a_file (&im, absolute, st.st_mode, graft_file_kind (st.st_mode));
          continue;
        }
      add_candidate_file (&im, absolute, &st, *class_name != '\0' ? class_name : NULL);
    }
  g_autofree char *what = from_name (canonical);
  return run_import (&im, what, error);
}

static gboolean
has_suffix_nocase (const char *name, const char *suffix)
{
  gsize n = strlen (name), m = strlen (suffix);
  return n > m && g_ascii_strcasecmp (name + n - m, suffix) == 0;
}

static gboolean
is_archive_name (const char *name)
{
  return has_suffix_nocase (name, ".zip") || has_suffix_nocase (name, ".tm");
}

static char *
archive_class_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  return g_filename_display_name (base);
}

/* A member to leave out without a word: folders, macOS resource forks, hidden files. */
static gboolean
member_ignored (const char *name)
{
  if (*name == '\0' || g_str_has_suffix (name, "/") || g_str_has_prefix (name, "__MACOSX/"))
    return TRUE;
  const char *base = strrchr (name, '/');
  base = base != NULL ? base + 1 : name;
  return base[0] == '.';
}

/* A member name that would leave the archive if it were unpacked: absolute ("/x",
 * "\\x", "C:x") or with a ".." component, with either separator. Such a name must not
 * become a class (".."), whatever the member holds. */
static gboolean
member_unsafe (const char *name)
{
  if (name[0] == '/' || name[0] == '\\' || (g_ascii_isalpha (name[0]) && name[1] == ':'))
    return TRUE;
  g_auto (GStrv) parts = g_strsplit_set (name, "/\\", -1);
  for (int i = 0; parts[i] != NULL; i++)
    if (strcmp (parts[i], "..") == 0)
      return TRUE;
  return FALSE;
}

/* Teachable Machine's model export ("Export Model", TensorFlow.js; the public library,
 * libraries/image/src/custom-mobilenet.ts, loads it): model.json, weights.bin and
 * metadata.json, whose "labels" name the classes. It holds no image: the error says so,
 * with its classes, instead of an import of nothing. NULL when the archive is not one. */
static char *
model_export_message (GraftZip *zip, const char *path)
{
  gint metadata = -1;
  gboolean model = FALSE;
  g_autoptr (GString) labels = g_string_new (NULL);
  g_autofree char *display = g_filename_display_name (path);

  for (guint i = 0; i < graft_zip_n_entries (zip); i++)
    {
      const char *name = graft_zip_entry (zip, i)->name;
      const char *base = strrchr (name, '/');
      base = base != NULL ? base + 1 : name;
      if (member_ignored (name))
        continue;
      if (strcmp (base, "model.json") == 0)
        model = TRUE;
      else if (strcmp (base, "metadata.json") == 0)
        metadata = (gint) i;
    }
  if (!model || metadata < 0)
    return NULL;
  {
    g_autoptr (GBytes) bytes = graft_zip_read (zip, (guint) metadata, 1 << 20, NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonNode *root;
    JsonArray *array;
    gsize n;
    const char *data = bytes != NULL ? g_bytes_get_data (bytes, &n) : NULL;

    if (data == NULL || !json_parser_load_from_data (parser, data, (gssize) n, NULL)
        || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root)
        || !json_object_has_member (json_node_get_object (root), "labels")
        || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "labels")))
      return NULL;
    array = json_object_get_array_member (json_node_get_object (root), "labels");
    for (guint i = 0; i < json_array_get_length (array) && i < 20; i++)
      {
        const char *label = json_node_get_value_type (json_array_get_element (array, i)) == G_TYPE_STRING
                              ? json_array_get_string_element (array, i) : "?";
        g_autofree char *valid = g_utf8_make_valid (label, -1);
        g_string_append_printf (labels, "%s%s", i > 0 ? ", " : "", valid);
      }
  }
  return g_strdup_printf (_("%s is a Teachable Machine model (model.json, metadata.json; classes %s), not its "
                            "images: import the images of each class (Download Samples) or their folders"),
                          display, labels->len > 0 ? labels->str : "—");
}

/* The archive's images, copied into the project at once (an archive member has no path
 * to reference). Fatal errors: writing the copies. */
static gboolean
scan_archive (Import *im, const char *path, gboolean fatal_open, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GraftZip) zip = graft_zip_open (path, &local_error);
  if (zip == NULL)
    {
      if (fatal_open)
        {
          g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, local_error->message);
          return FALSE;
        }
      add_skip (im, path, GRAFT_SKIP_UNREADABLE, local_error->message);
      return TRUE;
    }
  g_autofree char *default_class = archive_class_name (path);
  g_autofree char *model_message = model_export_message (zip, path);
  if (model_message != NULL)
    {
      if (fatal_open)
        {
          g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID, model_message);
          return FALSE;
        }
      add_skip (im, path, GRAFT_SKIP_NOT_AN_IMAGE, model_message);
      return TRUE;
    }
  /* An image in a top-level folder is of the class that folder names, as in the image
   * data set Teachable Machine hands its converter (snippets/converter/image/api.py reads
   * <label>/<image> for every label of metadata.json, hidden files left out), one folder
   * or several; an image at the top is of the archive's class (a class's samples). */

  for (guint i = 0; i < graft_zip_n_entries (zip); i++)
    {
      const GraftZipEntry *entry = graft_zip_entry (zip, i);
      if (member_unsafe (entry->name))
        {
          g_autofree char *display = g_strdup_printf ("%s/%s", path, entry->name);
          add_skip (im, display, GRAFT_SKIP_UNSAFE_NAME,
                    _("a member named outside the archive (absolute or with “..”)"));
          continue;
        }
      if (member_ignored (entry->name))
        continue;
      if (g_cancellable_set_error_if_cancelled (im->options.cancellable, error))
        return FALSE;
      g_autofree char *display = g_strdup_printf ("%s/%s", path, entry->name);
      g_autoptr (GError) member_error = NULL;
      g_autoptr (GBytes) bytes = graft_zip_read (zip, i, MAX_MEMBER_SIZE, &member_error);
      if (bytes == NULL)
        {
          add_skip (im, display, GRAFT_SKIP_UNREADABLE, member_error->message);
          continue;
        }
      gsize n;
      const guint8 *data = g_bytes_get_data (bytes, &n);
      GraftMagic magic;
      if (!judge_head (im, display, data, (gssize) MIN (n, GRAFT_MAGIC_BYTES), NULL, &magic))
        continue;
      if (magic == GRAFT_MAGIC_PNG && !png_tail_complete (data + n - MIN (n, PNG_TAIL_BYTES), MIN (n, PNG_TAIL_BYTES)))
        {
          add_skip (im, display, GRAFT_SKIP_UNREADABLE, TRUNCATED_PNG_DETAIL);
          continue;
        }
      Candidate *candidate = g_new0 (Candidate, 1);
      candidate->display = g_steal_pointer (&display);
      candidate->magic = magic;
      const char *slash = strchr (entry->name, '/');
      g_autofree char *raw_class = slash != NULL ? g_strndup (entry->name, (gsize) (slash - entry->name))
                                                              : g_strdup (default_class);
      candidate->class_name = clean_class_name (raw_class);
      g_autoptr (GError) copy_error = NULL;
      if (!copy_in (im, candidate, bytes, &copy_error))
        {
          candidate_free (candidate);
          if (copy_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&copy_error));
              return FALSE;
            }
          continue;
        }
      g_ptr_array_add (im->candidates, candidate);
    }
  return TRUE;
}

GraftImportReport *
graft_import_teachable_machine (GraftProject *project, const char *path, const GraftImportOptions *options,
                                GError **error)
{
  g_return_val_if_fail (project != NULL && path != NULL, NULL);
  g_autofree char *canonical = g_canonicalize_filename (path, NULL);
  g_autofree char *what = from_name (canonical);
  if (graft_project_is_read_only (project))
    {
      GRAFT_PROJECT_LOCK (project);
      graft_project_begin (project, error);
      return NULL;
    }
  Import im;
  import_init (&im, project, options);
  if (g_file_test (canonical, G_FILE_TEST_IS_REGULAR))
    {
      if (!scan_archive (&im, canonical, TRUE, error))
        return import_finish (&im, FALSE);
      return run_import (&im, what, error);
    }
  if (!check_folder (canonical, error))
    return import_finish (&im, FALSE);
  g_autoptr (GPtrArray) names = list_folder (canonical, error);
  if (names == NULL)
    return import_finish (&im, FALSE);
  /* Class folders and loose files in one walk; archives in name order between them. */
  g_autoptr (GraftFolderWalk) walk = walk_new (&im);
  graft_folder_walk_protect (walk, canonical);
  g_autoptr (GPtrArray) class_names = g_ptr_array_new_with_free_func (g_free);
  g_autofree gboolean *archive = g_new0 (gboolean, MAX (names->len, 1));
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *child = g_build_filename (canonical, name, NULL);
      gboolean folder = g_file_test (child, G_FILE_TEST_IS_DIR);
      g_ptr_array_add (class_names, folder ? g_filename_display_name (name) : NULL);
      archive[i] = !folder && is_archive_name (name) && g_file_test (child, G_FILE_TEST_IS_REGULAR);
      if (!archive[i])
        graft_folder_walk_add (walk, child, (int) i);
    }
  graft_folder_walk_run (walk);
  take_walk_skips (&im, walk);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child = g_build_filename (canonical, (const char *) g_ptr_array_index (names, i), NULL);
      if (!archive[i])
        take_walk_files (&im, walk, (int) i, class_names);
      else if (!scan_archive (&im, child, FALSE, error))
        return import_finish (&im, FALSE);
    }
  return run_import (&im, what, error);
}

GraftImportReport *
graft_import_files (GraftProject *project, const char *const *paths, guint n_paths, gint64 class_id,
                    const GraftImportOptions *options, GError **error)
{
  g_return_val_if_fail (project != NULL && (paths != NULL || n_paths == 0), NULL);
  if (class_id != 0)
    {
      GRAFT_PROJECT_LOCK (project);
      if (!graft_project_class_exists (project, class_id))
        {
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                       _("No class %lld in the project"), (long long) class_id);
          return NULL;
        }
    }
  Import im;
  import_init (&im, project, options);
  im.class_id = class_id;
  g_autoptr (GraftFolderWalk) walk = walk_new (&im);
  for (guint i = 0; i < n_paths; i++)
    {
      g_autofree char *canonical = g_canonicalize_filename (paths[i], NULL);
      graft_folder_walk_add (walk, canonical, (int) i);   /* one group each: their order kept */
    }
  graft_folder_walk_run (walk);
  take_walk_skips (&im, walk);
  take_walk_files (&im, walk, -1, NULL);
  g_autofree char *what = n_paths == 1 ? from_name (paths[0]) : g_strdup ("(dropped files)");
  return run_import (&im, what, error);
}

char *
graft_import_report_summary (const GraftImportReport *report)
{
  g_autofree char *added = NULL;
  guint skipped = report->skipped != NULL ? report->skipped->len : 0;

  if (report->added == 0 && skipped == 0 && report->already_present > 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The image was already in the project",
                                         "All %u images were already in the project", report->already_present),
                            report->already_present);
  if (report->added == 0 && skipped == 0)
    return g_strdup (_("No images found"));
  added = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image imported", "%u images imported", report->added),
                           report->added);
  if (skipped == 0)
    return g_steal_pointer (&added);
  /* Translators: "%s" is "12 images imported"; "%u skipped" counts files left out. */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s, %u skipped", "%s, %u skipped", skipped), added, skipped);
}
