/* embedding-cache.c: embeddings at the cut, kept on disk in an append-only file.
 *
 * File <folder>/<first 16 hex digits of the key>.emb:
 *   header (48 bytes): "GRAFTEMB", version u32 LE (1), dim u32 LE,
 *                      key: 32 bytes, SHA-256 of model_sha256 "\n" cut "\n" preprocessing_json
 *   records:           64 lowercase hex digits (the image's SHA-256), dim float32 LE
 * A record is appended with one write() on a descriptor opened with O_APPEND. Opening
 * reads every complete record and truncates the file after the last one, so a record
 * torn by a killed run is dropped and later appends stay aligned; a record whose hash is
 * not 64 hex digits is taken as the start of garbage and dropped with what follows.
 * A header that does not match (another version, dim or key, or not a cache file at all)
 * means the file is rewritten empty: it is a cache, nothing is lost that cannot be
 * computed again. A write that fails (disk full) truncates the file back to its last
 * complete record and returns an error; the embedding is still kept in memory.
 *
 * Several processes may share a file (four trainers on one machine): opening and every
 * append hold an exclusive flock on it. An append first reads the records that others
 * appended since (and cuts off a record torn by a writer that died), and a record whose
 * hash is now there is not written again: the writer that lost the race keeps the
 * winner's copy and discards its own, so each record is in the file once (each of four
 * trainers once appended its own copy of every record). The same hash twice in a file
 * (an older file) is harmless: the last record wins.
 *
 * Lookups and inserts may come from several threads (a mutex guards the table and the
 * descriptor); the floats a lookup returns are never moved or freed before the cache.
 *
 * Size limit: opening touches the file (futimens), appends move its modification time
 * too, so trimming by oldest modification time drops what was used least recently. The
 * files open in this process are listed by device and inode (a folder may be named
 * several ways), and trimming passes over them.
 */
#include "train/embedding-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/spec.h"   /* GRAFT_TRAIN_ERROR */

#define MAGIC "GRAFTEMB"
#define MAGIC_SIZE 8
#define VERSION 1u
#define KEY_SIZE 32
#define HEADER_SIZE (MAGIC_SIZE + 4 + 4 + KEY_SIZE)
#define HASH_CHARS 64
#define MAX_DIM (1 << 24)
#define READ_CHUNK (1 << 20)

struct _GraftEmbeddingCache {
  GMutex mutex;
  char *path;
  gboolean registered;    /* in open_files: dev and ino below */
  dev_t dev;
  ino_t ino;
  int dim;
  int fd;
  gsize record_size;
  goffset file_size;      /* header + complete records: where the next record goes */
  GHashTable *table;      /* char *hash (owned) -> float * (owned by blocks) */
  GPtrArray *blocks;      /* float arrays, freed with the cache */
};

static void
set_io_error (GError **error, const char *path, const char *what, int saved_errno)
{
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "%s: %s: %s", display, what, g_strerror (saved_errno));
}

/* The cache files open in this process, by device and inode. */
typedef struct {
  dev_t dev;
  ino_t ino;
} FileId;

static GMutex open_files_lock;
static GArray *open_files;   /* FileId, one per open cache (the same file may be open twice) */

static void
open_files_add (dev_t dev, ino_t ino)
{
  FileId id = { dev, ino };
  g_mutex_lock (&open_files_lock);
  if (open_files == NULL)
    open_files = g_array_new (FALSE, FALSE, sizeof (FileId));
  g_array_append_val (open_files, id);
  g_mutex_unlock (&open_files_lock);
}

static void
open_files_remove (dev_t dev, ino_t ino)
{
  g_mutex_lock (&open_files_lock);
  for (guint i = 0; open_files != NULL && i < open_files->len; i++)
    {
      FileId *id = &g_array_index (open_files, FileId, i);
      if (id->dev == dev && id->ino == ino)
        {
          g_array_remove_index_fast (open_files, i);
          break;
        }
    }
  g_mutex_unlock (&open_files_lock);
}

static gboolean
open_files_contains (dev_t dev, ino_t ino)
{
  gboolean found = FALSE;
  g_mutex_lock (&open_files_lock);
  for (guint i = 0; open_files != NULL && i < open_files->len && !found; i++)
    {
      FileId *id = &g_array_index (open_files, FileId, i);
      found = id->dev == dev && id->ino == ino;
    }
  g_mutex_unlock (&open_files_lock);
  return found;
}

static gboolean
write_all (int fd, const void *data, gsize size, int *saved_errno)
{
  const guint8 *p = data;
  while (size > 0)
    {
      ssize_t written = write (fd, p, size);
      if (written < 0)
        {
          if (errno == EINTR)
            continue;
          *saved_errno = errno;
          return FALSE;
        }
      if (written == 0)
        {
          *saved_errno = ENOSPC;
          return FALSE;
        }
      p += written;
      size -= (gsize) written;
    }
  return TRUE;
}

/* Reads up to size bytes at offset; returns the number read (short only at the end), -1 on error. */
static gssize
read_at (int fd, void *data, gsize size, goffset offset)
{
  guint8 *p = data;
  gsize done = 0;
  while (done < size)
    {
      ssize_t got = pread (fd, p + done, size - done, (off_t) (offset + (goffset) done));
      if (got < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (got == 0)
        break;
      done += (gsize) got;
    }
  return (gssize) done;
}

static void
make_header (guint8 header[HEADER_SIZE], int dim, const guint8 key[KEY_SIZE])
{
  memcpy (header, MAGIC, MAGIC_SIZE);
  guint32 version = GUINT32_TO_LE (VERSION);
  guint32 dim_le = GUINT32_TO_LE ((guint32) dim);
  memcpy (header + MAGIC_SIZE, &version, 4);
  memcpy (header + MAGIC_SIZE + 4, &dim_le, 4);
  memcpy (header + MAGIC_SIZE + 8, key, KEY_SIZE);
}

static gboolean
is_lower_hex (const char *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return FALSE;
  return TRUE;
}

/* The hash in lowercase into out (65 bytes); FALSE if it is not 64 hex digits. */
static gboolean
normalise_hash (const char *hash, char out[HASH_CHARS + 1])
{
  if (hash == NULL)
    return FALSE;
  for (int i = 0; i < HASH_CHARS; i++)
    {
      if (!g_ascii_isxdigit (hash[i]))
        return FALSE;
      out[i] = g_ascii_tolower (hash[i]);
    }
  if (hash[HASH_CHARS] != '\0')
    return FALSE;
  out[HASH_CHARS] = '\0';
  return TRUE;
}

static void
floats_from_le (float *out, const guint8 *in, int dim)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  memcpy (out, in, sizeof (float) * (gsize) dim);
#else
  for (int i = 0; i < dim; i++)
    {
      guint32 bits;
      memcpy (&bits, in + 4 * (gsize) i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (out + i, &bits, 4);
    }
#endif
}

static void
floats_to_le (guint8 *out, const float *in, int dim)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  memcpy (out, in, sizeof (float) * (gsize) dim);
#else
  for (int i = 0; i < dim; i++)
    {
      guint32 bits;
      memcpy (&bits, in + i, 4);
      bits = GUINT32_TO_LE (bits);
      memcpy (out + 4 * (gsize) i, &bits, 4);
    }
#endif
}

/* Reads the records from start (the end of a complete record) to file_size into the
 * table; returns where the valid part of the file ends (header + complete records), or
 * -1 with errno set. */
static goffset
read_records (GraftEmbeddingCache *cache, goffset start, goffset file_size)
{
  goffset available = (file_size - start) / (goffset) cache->record_size;
  if (available <= 0)
    return start;

  float *block = g_try_new (float, (gsize) available * (gsize) cache->dim);
  if (block == NULL)
    {
      errno = ENOMEM;
      return -1;
    }
  g_ptr_array_add (cache->blocks, block);

  gsize per_chunk = MAX (1, READ_CHUNK / cache->record_size);
  g_autofree guint8 *buffer = g_malloc (per_chunk * cache->record_size);
  goffset offset = start;
  goffset done = 0;
  while (done < available)
    {
      gsize want = (gsize) MIN ((goffset) per_chunk, available - done);
      gssize got = read_at (cache->fd, buffer, want * cache->record_size, offset);
      if (got < 0)
        return -1;
      gsize records = (gsize) got / cache->record_size;
      for (gsize r = 0; r < records; r++)
        {
          const guint8 *record = buffer + r * cache->record_size;
          if (!is_lower_hex ((const char *) record, HASH_CHARS))
            return offset;   /* garbage from here on */
          float *values = block + (gsize) done * (gsize) cache->dim;
          floats_from_le (values, record + HASH_CHARS, cache->dim);
          g_hash_table_insert (cache->table, g_strndup ((const char *) record, HASH_CHARS), values);
          offset += (goffset) cache->record_size;
          done++;
        }
      if (records < want)
        break;   /* the file shrank while being read */
    }
  return offset;
}

/* The exclusive lock that opening and appending hold, between processes (and between
 * caches of one process: flock belongs to the open file, not the process). FALSE
 * where the file system has no locks: the cache then works as before, unshared. */
static gboolean
lock_file (GraftEmbeddingCache *cache)
{
  while (flock (cache->fd, LOCK_EX) != 0)
    if (errno != EINTR)
      return FALSE;
  return TRUE;
}

static void
unlock_file (GraftEmbeddingCache *cache, gboolean locked)
{
  if (locked)
    (void) flock (cache->fd, LOCK_UN);
}

/* Under the lock, before an append: reads what other processes appended since this
 * cache last wrote or read, and cuts off a record torn by one that died while writing,
 * so that the append starts where a record does. */
static gboolean
catch_up (GraftEmbeddingCache *cache, GError **error)
{
  struct stat st;
  goffset valid;

  if (fstat (cache->fd, &st) != 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return FALSE;
    }
  if ((goffset) st.st_size == cache->file_size)
    return TRUE;
  if ((goffset) st.st_size < cache->file_size)
    {
      /* Emptied under us (another process found its header wrong): start on a record. */
      goffset size = (goffset) st.st_size;
      cache->file_size = size < HEADER_SIZE ? size
                                            : HEADER_SIZE + (size - HEADER_SIZE) / (goffset) cache->record_size
                                                              * (goffset) cache->record_size;
      if (cache->file_size < HEADER_SIZE)
        {
          set_io_error (error, cache->path, "the embedding cache was emptied while in use", ESTALE);
          return FALSE;
        }
      return TRUE;
    }
  valid = read_records (cache, cache->file_size, (goffset) st.st_size);
  if (valid < 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return FALSE;
    }
  if (valid != (goffset) st.st_size && ftruncate (cache->fd, (off_t) valid) != 0)
    {
      set_io_error (error, cache->path, "cannot cut a torn record off the embedding cache", errno);
      return FALSE;
    }
  cache->file_size = valid;
  return TRUE;
}

/* Empties the file and writes the header. */
static gboolean
reset_file (GraftEmbeddingCache *cache, const guint8 header[HEADER_SIZE], GError **error)
{
  int saved_errno = 0;
  if (ftruncate (cache->fd, 0) != 0)
    {
      set_io_error (error, cache->path, "cannot empty the embedding cache", errno);
      return FALSE;
    }
  if (!write_all (cache->fd, header, HEADER_SIZE, &saved_errno))
    {
      set_io_error (error, cache->path, "cannot write the embedding cache", saved_errno);
      (void) ftruncate (cache->fd, 0);
      return FALSE;
    }
  cache->file_size = HEADER_SIZE;
  return TRUE;
}

/* The rest of graft_embedding_cache_open, under the file's lock: cache, or NULL. */
static GraftEmbeddingCache *
open_locked (GraftEmbeddingCache *cache, const guint8 key[KEY_SIZE], GError **error)
{
  struct stat st;
  int dim = cache->dim;

  if (fstat (cache->fd, &st) != 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return NULL;
    }

  guint8 expected[HEADER_SIZE], found[HEADER_SIZE];
  make_header (expected, dim, key);
  gssize got = st.st_size >= HEADER_SIZE ? read_at (cache->fd, found, HEADER_SIZE, 0) : 0;
  if (got < 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return NULL;
    }
  if (got != HEADER_SIZE || memcmp (found, expected, HEADER_SIZE) != 0)
    return reset_file (cache, expected, error) ? cache : NULL;

  goffset valid = read_records (cache, HEADER_SIZE, (goffset) st.st_size);
  if (valid < 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return NULL;
    }
  if (valid != (goffset) st.st_size && ftruncate (cache->fd, (off_t) valid) != 0)
    {
      set_io_error (error, cache->path, "cannot cut a torn record off the embedding cache", errno);
      return NULL;
    }
  cache->file_size = valid;
  return cache;
}

GraftEmbeddingCache *
graft_embedding_cache_open (const char *folder, const char *model_sha256, const char *cut,
                            const char *preprocessing_json, int dim, GError **error)
{
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (dim <= 0 || dim > MAX_DIM)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                   "embedding cache: dimension %d out of range (1..%d)", dim, MAX_DIM);
      return NULL;
    }

  /* The key. */
  guint8 key[KEY_SIZE];
  gsize key_size = KEY_SIZE;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) (model_sha256 ? model_sha256 : ""), -1);
  g_checksum_update (checksum, (const guchar *) "\n", 1);
  g_checksum_update (checksum, (const guchar *) (cut ? cut : ""), -1);
  g_checksum_update (checksum, (const guchar *) "\n", 1);
  g_checksum_update (checksum, (const guchar *) (preprocessing_json ? preprocessing_json : ""), -1);
  g_checksum_get_digest (checksum, key, &key_size);
  g_assert (key_size == KEY_SIZE);
  char name[16 + sizeof ".emb"];
  for (int i = 0; i < 8; i++)
    g_snprintf (name + 2 * i, 3, "%02x", key[i]);
  memcpy (name + 16, ".emb", sizeof ".emb");

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      set_io_error (error, folder, "cannot create the embedding cache folder", errno);
      return NULL;
    }

  g_autoptr (GraftEmbeddingCache) cache = g_new0 (GraftEmbeddingCache, 1);
  g_mutex_init (&cache->mutex);
  cache->fd = -1;
  cache->path = g_build_filename (folder, name, NULL);
  cache->dim = dim;
  cache->record_size = HASH_CHARS + sizeof (float) * (gsize) dim;
  cache->table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cache->blocks = g_ptr_array_new_with_free_func (g_free);

  cache->fd = g_open (cache->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (cache->fd < 0)
    {
      set_io_error (error, cache->path, "cannot open the embedding cache", errno);
      return NULL;
    }
  struct stat st;
  if (fstat (cache->fd, &st) != 0)
    {
      set_io_error (error, cache->path, "cannot read the embedding cache", errno);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_autofree char *display = g_filename_display_name (cache->path);
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "%s: the embedding cache is not a regular file",
                   display);
      return NULL;
    }
  cache->dev = st.st_dev;
  cache->ino = st.st_ino;
  cache->registered = TRUE;
  open_files_add (cache->dev, cache->ino);
  /* Used now: trimming deletes the files used least recently first. A cache whose file
   * cannot be touched still works. */
  (void) futimens (cache->fd, NULL);

  /* Checked, read and cut under the lock: another process may be appending. */
  gboolean locked = lock_file (cache);
  GraftEmbeddingCache *opened = open_locked (cache, key, error);
  unlock_file (cache, locked);
  if (opened == NULL)
    return NULL;
  return g_steal_pointer (&cache);
}

void
graft_embedding_cache_free (GraftEmbeddingCache *cache)
{
  if (cache == NULL)
    return;
  if (cache->registered)
    open_files_remove (cache->dev, cache->ino);
  if (cache->fd >= 0)
    close (cache->fd);
  g_clear_pointer (&cache->table, g_hash_table_unref);
  g_clear_pointer (&cache->blocks, g_ptr_array_unref);
  g_free (cache->path);
  g_mutex_clear (&cache->mutex);
  g_free (cache);
}

int
graft_embedding_cache_dim (const GraftEmbeddingCache *cache)
{
  g_return_val_if_fail (cache != NULL, 0);
  return cache->dim;
}

guint
graft_embedding_cache_size (const GraftEmbeddingCache *cache)
{
  g_return_val_if_fail (cache != NULL, 0);
  GraftEmbeddingCache *mutable_cache = (GraftEmbeddingCache *) cache;
  g_mutex_lock (&mutable_cache->mutex);
  guint size = g_hash_table_size (cache->table);
  g_mutex_unlock (&mutable_cache->mutex);
  return size;
}

const char *
graft_embedding_cache_path (const GraftEmbeddingCache *cache)
{
  g_return_val_if_fail (cache != NULL, NULL);
  return cache->path;
}

const float *
graft_embedding_cache_lookup (GraftEmbeddingCache *cache, const char *image_hash)
{
  g_return_val_if_fail (cache != NULL, NULL);
  char hash[HASH_CHARS + 1];
  if (!normalise_hash (image_hash, hash))
    return NULL;
  g_mutex_lock (&cache->mutex);
  const float *values = g_hash_table_lookup (cache->table, hash);
  g_mutex_unlock (&cache->mutex);
  return values;
}

gboolean
graft_embedding_cache_insert (GraftEmbeddingCache *cache, const char *image_hash, const float *embedding,
                              GError **error)
{
  g_return_val_if_fail (cache != NULL, FALSE);
  g_return_val_if_fail (embedding != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  char hash[HASH_CHARS + 1];
  if (!normalise_hash (image_hash, hash))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                   "embedding cache: “%s” is not a SHA-256 in hex", image_hash ? image_hash : "(null)");
      return FALSE;
    }
  const gsize bytes = sizeof (float) * (gsize) cache->dim;

  g_mutex_lock (&cache->mutex);
  const float *old = g_hash_table_lookup (cache->table, hash);
  if (old != NULL && memcmp (old, embedding, bytes) == 0)
    {
      g_mutex_unlock (&cache->mutex);
      return TRUE;   /* already there, bit for bit */
    }

  gboolean locked = lock_file (cache);
  if (locked && !catch_up (cache, error))
    {
      unlock_file (cache, locked);
      g_mutex_unlock (&cache->mutex);
      return FALSE;
    }
  const float *now = g_hash_table_lookup (cache->table, hash);
  if (now != NULL && (old == NULL || memcmp (now, embedding, bytes) == 0))
    {
      /* Another process wrote it meanwhile: its copy stays, this one is dropped. */
      unlock_file (cache, locked);
      g_mutex_unlock (&cache->mutex);
      return TRUE;
    }

  /* Memory first: even if the file cannot take it, this run keeps the embedding. */
  float *values = g_memdup2 (embedding, bytes);
  g_ptr_array_add (cache->blocks, values);
  g_hash_table_insert (cache->table, g_strdup (hash), values);

  g_autofree guint8 *record = g_malloc (cache->record_size);
  memcpy (record, hash, HASH_CHARS);
  floats_to_le (record + HASH_CHARS, embedding, cache->dim);
  int saved_errno = 0;
  gboolean ok = write_all (cache->fd, record, cache->record_size, &saved_errno);
  if (ok)
    cache->file_size += (goffset) cache->record_size;
  else
    {
      set_io_error (error, cache->path, "cannot write to the embedding cache", saved_errno);
      /* Drop what part of the record made it, so the next append starts on a record. */
      (void) ftruncate (cache->fd, (off_t) cache->file_size);
    }
  unlock_file (cache, locked);
  g_mutex_unlock (&cache->mutex);
  return ok;
}

/* ---- Size limit ------------------------------------------------------------------ */

typedef struct {
  char *path;
  guint64 size;
  gint64 mtime_ns;
  dev_t dev;
  ino_t ino;
} CacheFile;

static void
cache_file_clear (gpointer data)
{
  g_free (((CacheFile *) data)->path);
}

static gboolean
is_cache_file_name (const char *name)
{
  return strlen (name) == 16 + strlen (".emb") && is_lower_hex (name, 16) && g_str_equal (name + 16, ".emb");
}

/* The cache files in folder (an empty array when the folder is missing). */
static GArray *
list_cache_files (const char *folder, GError **error)
{
  g_autoptr (GArray) files = g_array_new (FALSE, FALSE, sizeof (CacheFile));
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_array_set_clear_func (files, cache_file_clear);
  dir = g_dir_open (folder, 0, &local_error);
  if (dir == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&files);
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "cannot read the embedding cache folder: %s",
                   local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      CacheFile file = { 0 };
      struct stat st;
      if (!is_cache_file_name (name))
        continue;
      file.path = g_build_filename (folder, name, NULL);
      if (g_lstat (file.path, &st) != 0 || !S_ISREG (st.st_mode))
        {
          g_free (file.path);
          continue;   /* gone meanwhile, or not ours */
        }
      file.size = (guint64) st.st_size;
      file.mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
      file.dev = st.st_dev;
      file.ino = st.st_ino;
      g_array_append_val (files, file);
    }
  return g_steal_pointer (&files);
}

static int
compare_least_recent_first (gconstpointer a, gconstpointer b)
{
  const CacheFile *x = a, *y = b;
  if (x->mtime_ns != y->mtime_ns)
    return x->mtime_ns < y->mtime_ns ? -1 : 1;
  return strcmp (x->path, y->path);
}

gboolean
graft_embedding_cache_measure (const char *folder, guint64 *bytes, guint *files, GError **error)
{
  g_autoptr (GArray) list = NULL;
  guint64 total = 0;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (bytes != NULL)
    *bytes = 0;
  if (files != NULL)
    *files = 0;
  list = list_cache_files (folder, error);
  if (list == NULL)
    return FALSE;
  for (guint i = 0; i < list->len; i++)
    total += g_array_index (list, CacheFile, i).size;
  if (bytes != NULL)
    *bytes = total;
  if (files != NULL)
    *files = list->len;
  return TRUE;
}

gboolean
graft_embedding_cache_trim (const char *folder, guint64 max_bytes, const char *keep_path, guint64 *freed,
                            GError **error)
{
  g_autoptr (GArray) list = NULL;
  g_autoptr (GError) first_error = NULL;
  struct stat keep;
  gboolean has_keep = FALSE;
  guint64 total = 0, deleted = 0;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (freed != NULL)
    *freed = 0;
  list = list_cache_files (folder, error);
  if (list == NULL)
    return FALSE;
  if (keep_path != NULL && g_stat (keep_path, &keep) == 0)
    has_keep = TRUE;
  for (guint i = 0; i < list->len; i++)
    total += g_array_index (list, CacheFile, i).size;
  g_array_sort (list, compare_least_recent_first);

  for (guint i = 0; i < list->len && total > max_bytes; i++)
    {
      const CacheFile *file = &g_array_index (list, CacheFile, i);
      if (has_keep && file->dev == keep.st_dev && file->ino == keep.st_ino)
        continue;
      if (open_files_contains (file->dev, file->ino))
        continue;   /* a run is reading and appending to it */
      if (g_unlink (file->path) != 0 && errno != ENOENT)
        {
          if (first_error == NULL)
            set_io_error (&first_error, file->path, "cannot delete from the embedding cache", errno);
          continue;
        }
      total -= file->size;
      deleted += file->size;
    }
  if (freed != NULL)
    *freed = deleted;
  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  return TRUE;
}
