/* The embedding cache: round trip, keys, replaced and torn files, a full disk; file SHA-256. */
#include <glib.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "train/embedding-cache.h"
#include "train/spec.h"
#include "gradcheck.h"

#define MODEL "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PREPROCESSING "{\"size\":224,\"mean\":[0.485,0.456,0.406]}"
#define HEADER_SIZE 48

static char *
make_folder (void)
{
  g_autoptr (GError) error = NULL;
  char *folder = g_dir_make_tmp ("graft-cache-XXXXXX", &error);
  g_assert_no_error (error);
  return folder;
}

/* A fake image hash and embedding for index i: values with awkward bits (negative zero,
 * denormals, NaN payloads survive a byte-exact round trip). */
static char *
image_hash (int i)
{
  g_autofree char *text = g_strdup_printf ("image %d", i);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

static void
embedding (int i, int dim, float *out)
{
  for (int j = 0; j < dim; j++)
    out[j] = sinf ((float) (i * 131 + j)) * (float) (j + 1);
  if (dim > 3)
    {
      out[0] = -0.0f;
      out[1] = 1e-40f;   /* denormal */
      guint32 bits = 0x7fc01234u;
      memcpy (&out[2], &bits, 4);
    }
}

static goffset
file_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (goffset) st.st_size;
}

static void
insert_range (GraftEmbeddingCache *cache, int first, int last, int dim)
{
  float *values = g_new (float, dim);
  for (int i = first; i < last; i++)
    {
      g_autofree char *hash = image_hash (i);
      g_autoptr (GError) error = NULL;
      embedding (i, dim, values);
      g_assert_true (graft_embedding_cache_insert (cache, hash, values, &error));
      g_assert_no_error (error);
    }
  g_free (values);
}

static void
assert_range (GraftEmbeddingCache *cache, int first, int last, int dim)
{
  float *values = g_new (float, dim);
  for (int i = first; i < last; i++)
    {
      g_autofree char *hash = image_hash (i);
      const float *found = graft_embedding_cache_lookup (cache, hash);
      g_assert_nonnull (found);
      embedding (i, dim, values);
      g_assert_cmpmem (found, sizeof (float) * dim, values, sizeof (float) * dim);
    }
  g_free (values);
}

static void
test_round_trip (void)
{
  g_autofree char *folder = make_folder ();
  g_autofree char *nested = g_build_filename (folder, "a", "b", NULL);   /* created on open */
  const int dim = 37;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (nested, MODEL, "features.18", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    g_assert_cmpint (graft_embedding_cache_dim (cache), ==, dim);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 0);
    path = g_strdup (graft_embedding_cache_path (cache));
    g_assert_true (g_str_has_prefix (path, nested));
    g_assert_true (g_str_has_suffix (path, ".emb"));
    g_autofree char *base = g_path_get_basename (path);
    g_assert_cmpuint (strlen (base), ==, 16 + 4);
    g_assert_cmpint (file_size (path), ==, HEADER_SIZE);

    insert_range (cache, 0, 100, dim);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 100);
    assert_range (cache, 0, 100, dim);
    g_autofree char *absent = image_hash (1000);
    g_assert_null (graft_embedding_cache_lookup (cache, absent));
    g_assert_null (graft_embedding_cache_lookup (cache, "not a hash"));

    /* Upper-case hex finds the same record. */
    g_autofree char *hash = image_hash (5);
    g_autofree char *upper = g_ascii_strup (hash, -1);
    g_assert_true (graft_embedding_cache_lookup (cache, upper) == graft_embedding_cache_lookup (cache, hash));

    /* Inserting the same record again does not grow the file. */
    goffset before = file_size (path);
    insert_range (cache, 5, 6, dim);
    g_assert_cmpint (file_size (path), ==, before);
    g_assert_cmpint (before, ==, HEADER_SIZE + 100 * (64 + 4 * dim));

    /* Not a hash: an error, nothing written. */
    float values[37] = { 0 };
    g_assert_false (graft_embedding_cache_insert (cache, "abc", values, &error));
    g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_cmpint (file_size (path), ==, before);
  }
  /* Reopen: bit-identical. */
  g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (nested, MODEL, "features.18", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (graft_embedding_cache_path (cache), ==, path);
  g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 100);
  assert_range (cache, 0, 100, dim);

  /* A changed embedding: the last record wins, after a reopen too; the old pointer stays valid. */
  g_autofree char *hash = image_hash (7);
  const float *old = graft_embedding_cache_lookup (cache, hash);
  float old_first = old[3];
  float changed[37];
  embedding (7, dim, changed);
  changed[3] += 1.0f;
  g_assert_true (graft_embedding_cache_insert (cache, hash, changed, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (old[3], ==, old_first);
  g_assert_cmpmem (graft_embedding_cache_lookup (cache, hash), sizeof changed, changed, sizeof changed);
  g_clear_pointer (&cache, graft_embedding_cache_free);
  cache = graft_embedding_cache_open (nested, MODEL, "features.18", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 100);
  g_assert_cmpmem (graft_embedding_cache_lookup (cache, hash), sizeof changed, changed, sizeof changed);

  test_remove_tree (folder);
}

static void
test_keys (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;
  const int dim = 8;
  g_autoptr (GraftEmbeddingCache) base = graft_embedding_cache_open (folder, MODEL, "features.18", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  insert_range (base, 0, 3, dim);

  const char *models[] = { MODEL, "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", MODEL, MODEL, MODEL };
  const char *cuts[] = { "features.17", "features.18", "features.18", "features.1", "features.18\n" };
  const char *preprocessings[] = { PREPROCESSING, PREPROCESSING, "{\"size\":256}", "8" PREPROCESSING, PREPROCESSING };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autoptr (GraftEmbeddingCache) other = graft_embedding_cache_open (folder, models[i], cuts[i], preprocessings[i], dim, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (graft_embedding_cache_path (other), !=, graft_embedding_cache_path (base));
      g_assert_cmpuint (graft_embedding_cache_size (other), ==, 0);
    }
  /* The base file is untouched. */
  g_clear_pointer (&base, graft_embedding_cache_free);
  base = graft_embedding_cache_open (folder, MODEL, "features.18", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_embedding_cache_size (base), ==, 3);
  assert_range (base, 0, 3, dim);
  test_remove_tree (folder);
}

static void
test_wrong_header (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 16, &error);
    g_assert_no_error (error);
    insert_range (cache, 0, 10, 16);
    path = g_strdup (graft_embedding_cache_path (cache));
  }
  /* Another dim: the same file name, started afresh. */
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 12, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (graft_embedding_cache_path (cache), ==, path);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 0);
    g_assert_cmpint (file_size (path), ==, HEADER_SIZE);
    insert_range (cache, 0, 4, 12);
  }
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 12, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 4);
    assert_range (cache, 0, 4, 12);
  }
  /* Not a cache file at all, and a file shorter than a header. */
  const char *junk[] = { "this is not an embedding cache, but it is long enough to hold a header and more", "GRAFT", "" };
  for (guint j = 0; j < G_N_ELEMENTS (junk); j++)
    {
      g_assert_true (g_file_set_contents (path, junk[j], -1, &error));
      g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 12, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 0);
      g_assert_cmpint (file_size (path), ==, HEADER_SIZE);
      insert_range (cache, 0, 2, 12);
      g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 2 * (64 + 4 * 12));
    }
  test_remove_tree (folder);
}

static void
test_torn_record (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;
  const int dim = 20;
  const goffset record = 64 + 4 * dim;
  g_autofree char *path = NULL;
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    insert_range (cache, 0, 10, dim);
    path = g_strdup (graft_embedding_cache_path (cache));
  }
  /* Cut a few bytes off the last record, as a killed run would leave it. */
  g_assert_cmpint (truncate (path, HEADER_SIZE + 10 * record - 5), ==, 0);
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 9);
    assert_range (cache, 0, 9, dim);
    g_autofree char *lost = image_hash (9);
    g_assert_null (graft_embedding_cache_lookup (cache, lost));
    g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 9 * record);
    insert_range (cache, 9, 15, dim);
  }
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 15);
    assert_range (cache, 0, 15, dim);
  }
  /* Only a few bytes of a record (less than its hash). */
  {
    FILE *f = fopen (path, "ab");
    fwrite ("0123", 1, 4, f);
    fclose (f);
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 15);
    g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 15 * record);
  }
  /* A whole record of garbage (zeros, as after a power cut) is dropped too. */
  {
    FILE *f = fopen (path, "ab");
    for (goffset i = 0; i < record; i++)
      fputc (0, f);
    fclose (f);
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 15);
    g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 15 * record);
    assert_range (cache, 0, 15, dim);
  }
  test_remove_tree (folder);
}

/* A full disk, simulated with RLIMIT_FSIZE: the write fails part way, the file is cut
 * back to its last record, the embedding stays in memory and later writes work. */
static void
test_write_error (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;
  const int dim = 64;
  const goffset record = 64 + 4 * dim;
  g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  const char *path = graft_embedding_cache_path (cache);
  insert_range (cache, 0, 2, dim);

  struct rlimit saved, limited;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limited = saved;
  limited.rlim_cur = (rlim_t) (HEADER_SIZE + 2 * record + record / 2);
  if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur < limited.rlim_cur)
    {
      g_test_skip ("RLIMIT_FSIZE already lower than the test needs");
      test_remove_tree (folder);
      return;
    }
  void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limited), ==, 0);

  float values[64];
  embedding (2, dim, values);
  g_autofree char *hash = image_hash (2);
  gboolean ok = graft_embedding_cache_insert (cache, hash, values, &error);

  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);

  g_assert_false (ok);
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 2 * record);
  /* Still usable, the embedding kept in memory. */
  g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 3);
  assert_range (cache, 0, 3, dim);
  insert_range (cache, 3, 5, dim);
  g_assert_cmpint (file_size (path), ==, HEADER_SIZE + 4 * record);

  g_autoptr (GraftEmbeddingCache) again = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, dim, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_embedding_cache_size (again), ==, 4);
  assert_range (again, 0, 2, dim);
  assert_range (again, 3, 5, dim);
  g_assert_null (graft_embedding_cache_lookup (again, hash));
  test_remove_tree (folder);
}

static void
test_open_errors (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;

  /* The folder is a file. */
  g_autofree char *file = g_build_filename (folder, "file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, &error));
  g_autofree char *under_file = g_build_filename (file, "cache", NULL);
  g_assert_null (graft_embedding_cache_open (under_file, MODEL, "cut", PREPROCESSING, 4, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, under_file));
  g_clear_error (&error);

  /* A bad dim. */
  g_assert_null (graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 0, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
  g_clear_error (&error);

  /* The cache file is a folder. */
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 4, &error);
    g_assert_no_error (error);
    g_autofree char *path = g_strdup (graft_embedding_cache_path (cache));
    g_clear_pointer (&cache, graft_embedding_cache_free);
    g_assert_cmpint (g_remove (path), ==, 0);
    g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
    g_assert_null (graft_embedding_cache_open (folder, MODEL, "cut", PREPROCESSING, 4, &error));
    g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
    g_assert_nonnull (strstr (error->message, path));
    g_clear_error (&error);
  }
  test_remove_tree (folder);
}

/* SHA-256 */

static void
test_sha256 (void)
{
  g_autofree char *folder = make_folder ();
  g_autoptr (GError) error = NULL;

  /* A known value. */
  g_autofree char *abc = g_build_filename (folder, "abc", NULL);
  g_assert_true (g_file_set_contents (abc, "abc", 3, &error));
  g_autofree char *abc_sum = graft_file_sha256 (abc, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (abc_sum, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  /* An empty file. */
  g_autofree char *empty = g_build_filename (folder, "empty", NULL);
  g_assert_true (g_file_set_contents (empty, "", 0, &error));
  g_autofree char *empty_sum = graft_file_sha256 (empty, &error);
  g_assert_cmpstr (empty_sum, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  /* A file of several chunks and a bit, against sha256sum and GLib in one go. */
  const gsize size = 3 * 65536 + 12345;
  g_autofree guint8 *data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 2654435761u >> 13);
  g_autofree char *big = g_build_filename (folder, "big file.bin", NULL);
  g_assert_true (g_file_set_contents (big, (const char *) data, (gssize) size, &error));
  g_autofree char *big_sum = graft_file_sha256 (big, &error);
  g_assert_no_error (error);
  g_autofree char *expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
  g_assert_cmpstr (big_sum, ==, expected);
  g_autofree char *program = g_find_program_in_path ("sha256sum");
  if (program != NULL)
    {
      g_autofree char *quoted = g_shell_quote (big);
      g_autofree char *command = g_strdup_printf ("%s %s", program, quoted);
      g_autofree char *output = NULL;
      int status = 0;
      g_assert_true (g_spawn_command_line_sync (command, &output, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_cmpint (status, ==, 0);
      g_assert_cmpuint (strlen (output), >, 64);
      output[64] = '\0';
      g_assert_cmpstr (big_sum, ==, output);
    }

  /* A missing file, and a folder: errors naming them. */
  g_autofree char *missing = g_build_filename (folder, "missing.png", NULL);
  g_assert_null (graft_file_sha256 (missing, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);
  g_assert_null (graft_file_sha256 (folder, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_assert_nonnull (strstr (error->message, folder));
  g_clear_error (&error);

  test_remove_tree (folder);
}

/* A closed cache for model key `model` holding `records` embeddings of 16 floats, its
 * modification time set `age` seconds back. Returns its path; its size in *size. */
static char *
make_aged_cache (const char *folder, const char *model, int records, int age, goffset *size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, model, "features", PREPROCESSING, 16,
                                                                      &error);
  char *path;

  g_assert_no_error (error);
  insert_range (cache, 0, records, 16);
  path = g_strdup (graft_embedding_cache_path (cache));
  g_clear_pointer (&cache, graft_embedding_cache_free);
  {
    struct timespec times[2] = { { time (NULL) - age, 0 }, { time (NULL) - age, 0 } };
    g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
  }
  *size = file_size (path);
  return path;
}

static void
assert_measure (const char *folder, guint64 bytes, guint files)
{
  g_autoptr (GError) error = NULL;
  guint64 measured_bytes = 1;
  guint measured_files = 1;

  g_assert_true (graft_embedding_cache_measure (folder, &measured_bytes, &measured_files, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (measured_bytes, ==, bytes);
  g_assert_cmpuint (measured_files, ==, files);
}

/* The size limit: least recently used files go first, never the one kept or one open,
 * never a file that is not a cache file. */
static void
test_trim (void)
{
  g_autofree char *folder = make_folder ();
  g_autofree char *other = g_build_filename (folder, "thumbnail.png", NULL);
  g_autofree char *missing = g_build_filename (folder, "missing", NULL);
  g_autoptr (GError) error = NULL;
  goffset size_a, size_b, size_c, size_d;
  guint64 freed = 0;
  /* a oldest and smallest, then b, then c, newest and biggest. */
  g_autofree char *a = make_aged_cache (folder, "model a", 10, 300, &size_a);
  g_autofree char *b = make_aged_cache (folder, "model b", 20, 200, &size_b);
  g_autofree char *c = make_aged_cache (folder, "model c", 30, 100, &size_c);

  /* Not a cache file, and bigger than all of them: never counted, never deleted. */
  {
    g_autofree char *junk = g_malloc0 (100000);
    g_assert_true (g_file_set_contents (other, junk, 100000, &error));
    g_assert_no_error (error);
  }
  assert_measure (folder, (guint64) (size_a + size_b + size_c), 3);

  /* Within the limit: nothing goes. */
  g_assert_true (graft_embedding_cache_trim (folder, (guint64) (size_a + size_b + size_c), NULL, &freed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (freed, ==, 0);
  assert_measure (folder, (guint64) (size_a + size_b + size_c), 3);

  /* One byte short: a, the oldest, goes (deleting by size would take c). */
  g_assert_true (graft_embedding_cache_trim (folder, (guint64) (size_a + size_b + size_c - 1), NULL, &freed,
                                             &error));
  g_assert_no_error (error);
  g_assert_cmpuint (freed, ==, (guint64) size_a);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (b, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (c, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
  assert_measure (folder, (guint64) (size_b + size_c), 2);

  /* Opening a cache counts as using it: b, opened now, outlives c (which a smallest-first
   * rule would keep). */
  {
    g_autoptr (GraftEmbeddingCache) cache = graft_embedding_cache_open (folder, "model b", "features", PREPROCESSING,
                                                                        16, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_embedding_cache_size (cache), ==, 20);   /* reading did not change it */
  }
  g_assert_true (graft_embedding_cache_trim (folder, (guint64) size_b, NULL, &freed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (freed, ==, (guint64) size_c);
  g_assert_false (g_file_test (c, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (b, G_FILE_TEST_EXISTS));

  /* The file kept stays, even over the limit, even when it is the oldest. */
  g_clear_pointer (&c, g_free);
  c = make_aged_cache (folder, "model c", 30, 1000, &size_c);
  g_assert_true (graft_embedding_cache_trim (folder, 0, c, &freed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (freed, ==, (guint64) size_b);
  g_assert_true (g_file_test (c, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (b, G_FILE_TEST_EXISTS));
  assert_measure (folder, (guint64) size_c, 1);

  /* A cache open in this process (a run using it) stays too. */
  {
    g_autoptr (GraftEmbeddingCache) in_use = NULL;
    g_autofree char *d = make_aged_cache (folder, "model d", 5, 5000, &size_d);
    in_use = graft_embedding_cache_open (folder, "model d", "features", PREPROCESSING, 16, &error);
    g_assert_no_error (error);
    g_assert_true (graft_embedding_cache_trim (folder, 0, NULL, &freed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (freed, ==, (guint64) size_c);
    g_assert_true (g_file_test (d, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (c, G_FILE_TEST_EXISTS));
    /* Still usable after the trim. */
    insert_range (in_use, 5, 6, 16);
    g_clear_pointer (&in_use, graft_embedding_cache_free);
    /* Closed: it can go now. */
    g_assert_true (graft_embedding_cache_trim (folder, 0, NULL, &freed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (freed, ==, (guint64) size_d + 64 + 16 * 4);
    g_assert_false (g_file_test (d, G_FILE_TEST_EXISTS));
  }
  assert_measure (folder, 0, 0);
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));

  /* A missing folder is an empty cache. */
  g_assert_true (graft_embedding_cache_trim (missing, 0, NULL, &freed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (freed, ==, 0);
  assert_measure (missing, 0, 0);
  /* A file where the folder should be is an error. */
  g_assert_false (graft_embedding_cache_measure (other, NULL, NULL, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
  g_clear_error (&error);

  test_remove_tree (folder);
}

/* Writers sharing one cache file: four processes (and four caches of one process, on
 * threads), each opened before any wrote, all insert the same records, from different
 * starting points, at the same time. Each record is in the file once (each writer once
 * appended its own copy) and every writer finds every record. */
#define SHARED_WRITERS 4
#define SHARED_RECORDS 300
#define SHARED_DIM 16

typedef struct {
  const char *folder;
  int writer;
  int go;            /* a pipe's read end: writing starts when it closes (processes) */
  GMutex *lock;      /* held by the test until every thread is ready (threads) */
  gint *ready;
  gboolean ok;
} SharedWriter;

/* Inserts every record (from its own starting point) into cache; FALSE on an error or a
 * record missing afterwards. */
static gboolean
insert_all (GraftEmbeddingCache *cache, int writer)
{
  float values[SHARED_DIM];
  for (int k = 0; k < SHARED_RECORDS; k++)
    {
      int i = (k + writer * SHARED_RECORDS / SHARED_WRITERS) % SHARED_RECORDS;
      g_autofree char *hash = image_hash (i);
      embedding (i, SHARED_DIM, values);
      if (!graft_embedding_cache_insert (cache, hash, values, NULL))
        return FALSE;
    }
  for (int i = 0; i < SHARED_RECORDS; i++)
    {
      g_autofree char *hash = image_hash (i);
      const float *found = graft_embedding_cache_lookup (cache, hash);
      embedding (i, SHARED_DIM, values);
      if (found == NULL || memcmp (found, values, sizeof values) != 0)
        return FALSE;
    }
  return TRUE;
}

static GraftEmbeddingCache *
open_shared (const char *folder)
{
  return graft_embedding_cache_open (folder, MODEL, "features.18", PREPROCESSING, SHARED_DIM, NULL);
}

static gpointer
shared_thread (gpointer data)
{
  SharedWriter *w = data;
  g_autoptr (GraftEmbeddingCache) cache = open_shared (w->folder);
  g_atomic_int_inc (w->ready);
  g_mutex_lock (w->lock);   /* everyone open: go */
  g_mutex_unlock (w->lock);
  w->ok = cache != NULL && insert_all (cache, w->writer);
  return NULL;
}

static void
assert_each_record_once (const char *folder)
{
  g_autoptr (GraftEmbeddingCache) cache = open_shared (folder);
  g_assert_nonnull (cache);
  g_test_message ("%s: %" G_GINT64_FORMAT " bytes", graft_embedding_cache_path (cache),
                  (gint64) file_size (graft_embedding_cache_path (cache)));
  g_assert_cmpint (file_size (graft_embedding_cache_path (cache)), ==,
                   HEADER_SIZE + SHARED_RECORDS * (64 + 4 * SHARED_DIM));
  g_assert_cmpuint (graft_embedding_cache_size (cache), ==, SHARED_RECORDS);
  assert_range (cache, 0, SHARED_RECORDS, SHARED_DIM);
}

static void
test_shared_writers (void)
{
  /* Processes. */
  {
    g_autofree char *folder = make_folder ();
    pid_t pids[SHARED_WRITERS];
    int ready[2], go[2];
    char byte;

    g_assert_cmpint (pipe (ready), ==, 0);
    g_assert_cmpint (pipe (go), ==, 0);
    for (int w = 0; w < SHARED_WRITERS; w++)
      {
        pids[w] = fork ();
        g_assert_cmpint (pids[w], >=, 0);
        if (pids[w] == 0)
          {
            GraftEmbeddingCache *cache;
            gboolean ok;
            close (go[1]);
            cache = open_shared (folder);
            if (write (ready[1], "r", 1) != 1)
              _exit (2);
            while (read (go[0], &byte, 1) > 0)
              ;   /* until the test closes its end */
            ok = cache != NULL && insert_all (cache, w);
            graft_embedding_cache_free (cache);
            _exit (ok ? 0 : 1);
          }
      }
    close (go[0]);
    for (int w = 0; w < SHARED_WRITERS; w++)
      g_assert_cmpint (read (ready[0], &byte, 1), ==, 1);
    close (go[1]);   /* all open: go */
    for (int w = 0; w < SHARED_WRITERS; w++)
      {
        int status;
        g_assert_cmpint (waitpid (pids[w], &status, 0), ==, pids[w]);
        g_assert_true (WIFEXITED (status));
        g_assert_cmpint (WEXITSTATUS (status), ==, 0);
      }
    close (ready[0]);
    close (ready[1]);
    assert_each_record_once (folder);
    test_remove_tree (folder);
  }
  /* Threads, a cache each. */
  {
    g_autofree char *folder = make_folder ();
    SharedWriter writers[SHARED_WRITERS];
    GThread *threads[SHARED_WRITERS];
    GMutex lock;
    gint ready = 0;

    g_mutex_init (&lock);
    g_mutex_lock (&lock);
    for (int w = 0; w < SHARED_WRITERS; w++)
      {
        writers[w] = (SharedWriter) { .folder = folder, .writer = w, .lock = &lock, .ready = &ready };
        threads[w] = g_thread_new ("writer", shared_thread, &writers[w]);
      }
    while (g_atomic_int_get (&ready) < SHARED_WRITERS)
      g_usleep (1000);
    g_mutex_unlock (&lock);
    for (int w = 0; w < SHARED_WRITERS; w++)
      {
        g_thread_join (threads[w]);
        g_assert_true (writers[w].ok);
      }
    g_mutex_clear (&lock);
    assert_each_record_once (folder);
    test_remove_tree (folder);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/embedding-cache/round-trip", test_round_trip);
  g_test_add_func ("/train/embedding-cache/keys", test_keys);
  g_test_add_func ("/train/embedding-cache/wrong-header", test_wrong_header);
  g_test_add_func ("/train/embedding-cache/torn-record", test_torn_record);
  g_test_add_func ("/train/embedding-cache/write-error", test_write_error);
  g_test_add_func ("/train/embedding-cache/open-errors", test_open_errors);
  g_test_add_func ("/train/embedding-cache/trim", test_trim);
  g_test_add_func ("/train/embedding-cache/shared-writers", test_shared_writers);
  g_test_add_func ("/train/sha256/file", test_sha256);
  return g_test_run ();
}
