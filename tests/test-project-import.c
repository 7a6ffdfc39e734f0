/* Imports (folder scan, ImageFolder, CSV, Teachable Machine archives, loose files, copies)
 * with their skip reports; lazy hashing and duplicates; relinking moved files; export. */
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "project/export.h"
#include "project/import.h"
#include "project/project.h"
#include "project/zip-reader.h"
#include "train/embedding-cache.h"
#include "test-project-helpers.h"

typedef struct {
  char *dir;
  char *folder;
  char *source;      /* files to import */
  GraftProject *project;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = make_temp_dir ();
  f->folder = g_build_filename (f->dir, "project", NULL);
  f->source = g_build_filename (f->dir, "source", NULL);
  g_mkdir (f->source, 0755);
  g_autoptr (GError) error = NULL;
  f->project = graft_project_create (f->folder, "Import", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  graft_project_close (f->project);
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->folder);
  g_free (f->source);
}

static char *
src (Fixture *f, const char *relative)
{
  return g_build_filename (f->source, relative, NULL);
}

static const GraftImportSkip *
find_skip (const GraftImportReport *report, const char *suffix)
{
  for (guint i = 0; i < report->skipped->len; i++)
    {
      const GraftImportSkip *skip = &g_array_index (report->skipped, GraftImportSkip, i);
      if (g_str_has_suffix (skip->path, suffix))
        return skip;
    }
  return NULL;
}

static void
assert_skip (const GraftImportReport *report, const char *suffix, GraftSkipReason reason)
{
  const GraftImportSkip *skip = find_skip (report, suffix);
  if (skip == NULL)
    g_error ("%s was not reported as skipped", suffix);
  g_test_message ("skipped %s: %s (%s)", skip->path, graft_skip_reason_to_string (skip->reason), skip->detail);
  g_assert_cmpint (skip->reason, ==, reason);
  g_assert_nonnull (skip->detail);
}

static guint
count (GraftProject *project, GraftImageFilter filter, gint64 class_id)
{
  GraftImageQuery query = { filter, class_id };
  g_autoptr (GError) error = NULL;
  guint n = graft_project_count_images (project, &query, &error);
  g_assert_no_error (error);
  return n;
}

static gint64
label_of_path (GraftProject *project, const char *path)
{
  gint64 id = graft_project_find_image (project, path);
  g_assert_cmpint (id, >, 0);
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (project, id, &info, NULL));
  gint64 class_id = info.class_id;
  graft_image_info_clear (&info);
  return class_id;
}

/* A mixed folder: 3 PNG, 2 JPEG, a copy of one PNG, and things that are not images. */
static void
make_mixed_folder (Fixture *f)
{
  const char *pngs[] = { "a.png", "nested/b.png", "nested/deeper/c.PNG" };
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *path = src (f, pngs[i]);
      write_png (path, 6, 5, i + 1);
    }
  g_autofree char *j1 = src (f, "d.jpg");
  g_autofree char *j2 = src (f, "nested/e.jpeg");
  write_jpeg (j1, 16, 8, 1);
  write_jpeg (j2, 8, 16, 2);
  g_autofree char *a = src (f, "a.png");
  g_autofree char *twin = src (f, "nested/a-copy.png");
  g_free (copy_to (a, twin));
  g_autofree char *text = src (f, "notes.txt");
  write_bytes (text, "some notes\n", 11);
  g_autofree char *fake = src (f, "fake.jpg");
  write_bytes (fake, "<html>not a jpeg</html>", 23);
  g_autofree char *empty = src (f, "empty.png");
  write_bytes (empty, "", 0);
  g_autofree char *gif = src (f, "anim.gif");
  write_bytes (gif, "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 13);
  g_autofree char *webp = src (f, "photo.webp");
  write_bytes (webp, "RIFF\x10\x00\x00\x00WEBPVP8 ", 16);
  g_autofree char *hidden = src (f, ".DS_Store");
  write_bytes (hidden, "junk", 4);
  g_autofree char *broken = src (f, "broken-link.png");
  g_assert_cmpint (symlink ("/nonexistent/target.png", broken), ==, 0);
}

static void
test_folder (Fixture *f, gconstpointer data)
{
  make_mixed_folder (f);
  g_autoptr (GError) error = NULL;
  GraftImportOptions options = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_NOW };
  g_autoptr (GraftImportReport) report = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 5);
  g_assert_cmpuint (report->hash_pending, ==, 0);
  g_assert_cmpuint (report->skipped->len, ==, 7);
  assert_skip (report, "notes.txt", GRAFT_SKIP_NOT_AN_IMAGE);
  assert_skip (report, "fake.jpg", GRAFT_SKIP_NOT_AN_IMAGE);
  assert_skip (report, "empty.png", GRAFT_SKIP_NOT_AN_IMAGE);
  assert_skip (report, "anim.gif", GRAFT_SKIP_UNSUPPORTED);
  assert_skip (report, "photo.webp", GRAFT_SKIP_UNSUPPORTED);
  assert_skip (report, "broken-link.png", GRAFT_SKIP_UNREADABLE);
  assert_skip (report, "a-copy.png", GRAFT_SKIP_DUPLICATE);
  g_assert_nonnull (strstr (find_skip (report, "a-copy.png")->detail, "a.png"));
  g_assert_null (find_skip (report, ".DS_Store"));
  g_assert_cmpuint (count (f->project, GRAFT_FILTER_UNLABELLED, 0), ==, 5);
  g_autofree char *undo = graft_project_undo_description (f->project);
  g_assert_cmpstr (undo, ==, "Import 5 images from “source”");

  /* The same folder again: nothing new, no undo step. */
  g_autoptr (GraftImportReport) again = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->added, ==, 0);
  g_assert_cmpuint (again->already_present, ==, 5);
  g_autofree char *undo_after = graft_project_undo_description (f->project);
  g_assert_cmpstr (undo_after, ==, undo);

  /* Undo removes the import, redo brings it back with the same ids. */
  g_autofree char *a = src (f, "a.png");
  gint64 id_a = graft_project_find_image (f->project, a);
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpuint (count (f->project, GRAFT_FILTER_ALL, 0), ==, 0);
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpuint (count (f->project, GRAFT_FILTER_ALL, 0), ==, 5);
  g_assert_cmpint (graft_project_find_image (f->project, a), ==, id_a);

  /* Not a folder */
  g_autofree char *missing = src (f, "no-such-folder");
  g_assert_null (graft_import_folder (f->project, missing, NULL, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
}

static void
test_lazy_hashing (Fixture *f, gconstpointer data)
{
  make_mixed_folder (f);
  g_autoptr (GError) error = NULL;
  GraftImportOptions options = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_LATER };
  g_autoptr (GraftImportReport) report = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_no_error (error);
  /* Without hashes, the copy is not known as one yet. */
  g_assert_cmpuint (report->added, ==, 6);
  g_assert_cmpuint (report->hash_pending, ==, 6);
  g_assert_cmpuint (graft_project_count_unhashed (f->project), ==, 6);
  g_autoptr (GPtrArray) none = graft_project_duplicate_groups (f->project, &error);
  g_assert_cmpuint (none->len, ==, 0);

  graft_project_start_hashing (f->project);
  graft_project_start_hashing (f->project);   /* harmless */
  graft_project_wait_hashing (f->project);
  g_assert_cmpuint (graft_project_count_unhashed (f->project), ==, 0);
  g_autofree char *a = src (f, "a.png");
  g_autofree char *twin = src (f, "nested/a-copy.png");
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (f->project, graft_project_find_image (f->project, a), &info, &error));
  g_autofree char *expected = graft_file_sha256 (a, &error);
  g_assert_cmpstr (info.hash, ==, expected);
  graft_image_info_clear (&info);
  g_autoptr (GPtrArray) groups = graft_project_duplicate_groups (f->project, &error);
  g_assert_cmpuint (groups->len, ==, 1);
  GArray *group = g_ptr_array_index (groups, 0);
  g_assert_cmpint (g_array_index (group, gint64, 0), ==, graft_project_find_image (f->project, a));
  g_assert_cmpint (g_array_index (group, gint64, 1), ==, graft_project_find_image (f->project, twin));

  /* A file gone before its hash: marked missing, not retried forever. */
  g_autofree char *late = src (f, "late/late.png");
  write_png (late, 3, 3, 77);
  g_autoptr (GraftImportReport) second = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_cmpuint (second->added, ==, 1);
  g_remove (late);
  g_assert_cmpint (graft_project_hash_pending (f->project, NULL, 0, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_project_count_unhashed (f->project), ==, 0);
  g_assert_true (graft_project_get_image (f->project, graft_project_find_image (f->project, late), &info, &error));
  g_assert_true (info.missing);
  g_assert_null (info.hash);
  graft_image_info_clear (&info);

  /* A cancelled pass stops with an error. */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  g_assert_cmpint (graft_project_hash_pending (f->project, cancellable, 0, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* An ImageFolder tree of 15 images with a/loop -> .. (the root), a FIFO named x.png, a
 * link to a character device and a hard link: 15 images in their own classes, and the
 * report says what was left out and counts the FIFO and the device. */
static void
test_special_files_and_loops (Fixture *f, gconstpointer data)
{
  const char *classes[] = { "a", "b", "c" };
  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 5; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s/%u.png", classes[c], i);
        g_autofree char *path = src (f, name);
        write_png (path, 4, 4, c * 5 + i + 1);
      }
  g_autofree char *loop = src (f, "a/loop");
  g_assert_cmpint (symlink ("..", loop), ==, 0);
  g_autofree char *fifo = src (f, "a/x.png");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_autofree char *device = src (f, "b/null.png");
  g_assert_cmpint (symlink ("/dev/null", device), ==, 0);
  g_autofree char *first = src (f, "a/0.png");
  g_autofree char *hard = src (f, "c/hard.png");
  g_assert_cmpint (link (first, hard), ==, 0);

  alarm (60);   /* reading the FIFO would block: SIGALRM fails the test instead of hanging */
  g_autoptr (GError) error = NULL;
  GraftImportOptions options = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_LATER };
  g_autoptr (GraftImportReport) report = graft_import_image_folder (f->project, f->source, &options, &error);
  alarm (0);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 15);
  g_assert_cmpuint (report->classes_added, ==, 3);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpuint (count (f->project, GRAFT_FILTER_CLASS, graft_project_find_class (f->project, classes[c])), ==, 5);
  assert_skip (report, "a/loop", GRAFT_SKIP_LOOP);
  assert_skip (report, "a/x.png", GRAFT_SKIP_NOT_A_FILE);
  g_assert_cmpstr (find_skip (report, "a/x.png")->detail, ==, "a FIFO");
  assert_skip (report, "b/null.png", GRAFT_SKIP_NOT_A_FILE);
  assert_skip (report, "c/hard.png", GRAFT_SKIP_DUPLICATE);
  g_assert_cmpuint (report->skipped->len, ==, 4);
  g_assert_cmpuint (report->fifos, ==, 1);
  g_assert_cmpuint (report->device_files, ==, 1);
  g_assert_cmpuint (report->sockets, ==, 0);

  /* The same for a folder import, and a FIFO listed in a CSV. */
  g_autoptr (GraftImportReport) again = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->added, ==, 0);
  g_assert_cmpuint (again->already_present, ==, 15);
  g_assert_cmpuint (again->fifos, ==, 1);
  g_assert_cmpuint (again->device_files, ==, 1);
  assert_skip (again, "a/loop", GRAFT_SKIP_LOOP);
  g_autofree char *csv = g_build_filename (f->dir, "list.csv", NULL);
  g_autofree char *csv_text = g_strdup_printf ("%s,a\n%s,b\n", fifo, device);
  write_bytes (csv, csv_text, strlen (csv_text));
  g_autoptr (GraftImportReport) listed = graft_import_csv (f->project, csv, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (listed->fifos, ==, 1);
  g_assert_cmpuint (listed->device_files, ==, 1);
  assert_skip (listed, "a/x.png", GRAFT_SKIP_NOT_A_FILE);
}

static void
test_image_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = src (f, "cat/1.png");
  g_autofree char *c2 = src (f, "cat/2.png");
  g_autofree char *d1 = src (f, "dog/deep/1.jpg");
  g_autofree char *loose = src (f, "loose.png");
  g_autofree char *bad = src (f, "dog/readme.md");
  write_png (c1, 4, 4, 1);
  write_png (c2, 4, 4, 2);
  write_jpeg (d1, 8, 8, 3);
  write_png (loose, 4, 4, 4);
  write_bytes (bad, "# dogs\n", 7);

  /* c2 is already in the project with a person's label: that label stays. */
  g_autoptr (GError) error = NULL;
  gint64 bird = graft_project_add_class (f->project, "bird", NULL, &error);
  gint64 c2_id = graft_project_add_image (f->project, c2, &error);
  g_assert_true (graft_project_set_label (f->project, c2_id, bird, GRAFT_LABEL_PERSON, &error));

  g_autoptr (GraftImportReport) report = graft_import_image_folder (f->project, f->source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 3);
  g_assert_cmpuint (report->already_present, ==, 1);
  g_assert_cmpuint (report->classes_added, ==, 2);
  g_assert_cmpuint (report->labelled, ==, 2);
  g_assert_cmpuint (report->skipped->len, ==, 1);
  assert_skip (report, "readme.md", GRAFT_SKIP_NOT_AN_IMAGE);

  gint64 cat = graft_project_find_class (f->project, "cat");
  gint64 dog = graft_project_find_class (f->project, "dog");
  g_assert_cmpint (cat, >, 0);
  g_assert_cmpint (dog, >, 0);
  g_assert_cmpint (label_of_path (f->project, c1), ==, cat);
  g_assert_cmpint (label_of_path (f->project, c2), ==, bird);
  g_assert_cmpint (label_of_path (f->project, d1), ==, dog);
  g_assert_cmpint (label_of_path (f->project, loose), ==, 0);
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (f->project, graft_project_find_image (f->project, c1), &info, &error));
  g_assert_cmpint (info.source, ==, GRAFT_LABEL_IMPORTED);
  graft_image_info_clear (&info);

  /* One undo takes back images, classes and labels. */
  g_assert_true (graft_project_undo (f->project, &error));
  g_assert_cmpint (graft_project_find_class (f->project, "cat"), ==, 0);
  g_assert_cmpuint (count (f->project, GRAFT_FILTER_ALL, 0), ==, 1);
  g_assert_cmpint (label_of_path (f->project, c2), ==, bird);
  g_assert_true (graft_project_redo (f->project, &error));
  g_assert_cmpint (label_of_path (f->project, d1), ==, dog);
}

static void
test_csv (Fixture *f, gconstpointer data)
{
  g_autofree char *a = src (f, "imgs/a.png");
  g_autofree char *b = src (f, "imgs/b, with comma.png");
  g_autofree char *c = src (f, "imgs/c \"quoted\".jpg");
  g_autofree char *d = src (f, "imgs/d.png");
  g_autofree char *e = g_build_filename (f->dir, "elsewhere", "e.png", NULL);
  write_png (a, 4, 4, 1);
  write_png (b, 4, 4, 2);
  write_jpeg (c, 8, 8, 3);
  write_png (d, 4, 4, 4);
  write_png (e, 4, 4, 5);
  g_autofree char *csv = g_strdup_printf ("\xef\xbb\xbfPath,Label\r\n"
                                          "imgs/a.png,cat\r\n"
                                          "\"imgs/b, with comma.png\",\"big \"\"dog\"\"\"\r\n"
                                          "\"imgs/c \"\"quoted\"\".jpg\",cat\n"
                                          "imgs/d.png,\n"
                                          "%s,\"multi\nline\"\n"
                                          ",orphan\n"
                                          "imgs/missing.png,cat\n"
                                          "\n",
                                          e);
  g_autofree char *csv_path = src (f, "labels.csv");
  write_bytes (csv_path, csv, strlen (csv));

  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImportReport) report = graft_import_csv (f->project, csv_path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 5);
  g_assert_cmpuint (report->labelled, ==, 4);
  g_assert_cmpuint (report->classes_added, ==, 3);
  g_assert_cmpuint (report->skipped->len, ==, 2);
  assert_skip (report, "missing.png", GRAFT_SKIP_UNREADABLE);
  assert_skip (report, "labels.csv:7", GRAFT_SKIP_BAD_ROW);

  gint64 cat = graft_project_find_class (f->project, "cat");
  gint64 dog = graft_project_find_class (f->project, "big \"dog\"");
  gint64 multi = graft_project_find_class (f->project, "multi line");
  g_assert_cmpint (dog, >, 0);
  g_assert_cmpint (label_of_path (f->project, a), ==, cat);
  g_assert_cmpint (label_of_path (f->project, b), ==, dog);
  g_assert_cmpint (label_of_path (f->project, c), ==, cat);
  g_assert_cmpint (label_of_path (f->project, d), ==, 0);

  /* Control characters in a class name become spaces. */
  g_assert_cmpint (multi, >, 0);
  g_assert_cmpint (label_of_path (f->project, e), ==, multi);
}

static gboolean
has_hash (GraftProject *project, const char *hash)
{
  GraftImageQuery query = { GRAFT_FILTER_ALL };
  g_autoptr (GArray) rows = graft_project_query_images (project, &query, 0, 100000, NULL);
  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (g_array_index (rows, GraftImageInfo, i).hash, hash) == 0)
      return TRUE;
  return FALSE;
}

/* ---- A minimal ZIP writer (stored or deflated members) ----------------------------- */

typedef struct {
  GByteArray *data;
  GByteArray *central;
  guint16 count;
} ZipWriter;

static void
put16 (GByteArray *a, guint16 v)
{
  guint8 b[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (a, b, 2);
}

static void
put32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (a, b, 4);
}

static void
zip_add (ZipWriter *zip, const char *name, const guint8 *content, gsize n, gboolean deflate)
{
  g_autoptr (GBytes) packed = NULL;
  if (deflate)
    {
      g_autoptr (GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW, 6);
      g_autofree guint8 *out = g_malloc (n * 2 + 64);
      gsize read = 0, written = 0;
      GConverterResult result = g_converter_convert (G_CONVERTER (compressor), content, n, out, n * 2 + 64,
                                                     G_CONVERTER_INPUT_AT_END, &read, &written, NULL);
      g_assert_cmpint (result, ==, G_CONVERTER_FINISHED);
      packed = g_bytes_new (out, written);
    }
  else
    packed = g_bytes_new (content, n);
  guint32 crc = graft_crc32 (0, content, n);
  guint32 offset = zip->data->len;
  gsize packed_n = g_bytes_get_size (packed);
  put32 (zip->data, 0x04034b50);
  put16 (zip->data, 20);
  put16 (zip->data, 0);
  put16 (zip->data, deflate ? 8 : 0);
  put32 (zip->data, 0);
  put32 (zip->data, crc);
  put32 (zip->data, (guint32) packed_n);
  put32 (zip->data, (guint32) n);
  put16 (zip->data, (guint16) strlen (name));
  put16 (zip->data, 0);
  g_byte_array_append (zip->data, (const guint8 *) name, (guint) strlen (name));
  g_byte_array_append (zip->data, g_bytes_get_data (packed, NULL), (guint) packed_n);

  put32 (zip->central, 0x02014b50);
  put16 (zip->central, 20);
  put16 (zip->central, 20);
  put16 (zip->central, 0);
  put16 (zip->central, deflate ? 8 : 0);
  put32 (zip->central, 0);
  put32 (zip->central, crc);
  put32 (zip->central, (guint32) packed_n);
  put32 (zip->central, (guint32) n);
  put16 (zip->central, (guint16) strlen (name));
  put16 (zip->central, 0);
  put16 (zip->central, 0);
  put16 (zip->central, 0);
  put16 (zip->central, 0);
  put32 (zip->central, 0);
  put32 (zip->central, offset);
  g_byte_array_append (zip->central, (const guint8 *) name, (guint) strlen (name));
  zip->count++;
}

static void
zip_add_file (ZipWriter *zip, const char *name, const char *path, gboolean deflate)
{
  g_autofree char *content = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (path, &content, &n, NULL));
  zip_add (zip, name, (const guint8 *) content, n, deflate);
}

static void
zip_write (ZipWriter *zip, const char *path)
{
  guint32 cd_offset = zip->data->len;
  g_byte_array_append (zip->data, zip->central->data, zip->central->len);
  put32 (zip->data, 0x06054b50);
  put16 (zip->data, 0);
  put16 (zip->data, 0);
  put16 (zip->data, zip->count);
  put16 (zip->data, zip->count);
  put32 (zip->data, zip->central->len);
  put32 (zip->data, cd_offset);
  put16 (zip->data, 0);
  write_bytes (path, zip->data->data, zip->data->len);
  g_byte_array_unref (zip->data);
  g_byte_array_unref (zip->central);
}

static ZipWriter
zip_new (void)
{
  return (ZipWriter) { g_byte_array_new (), g_byte_array_new (), 0 };
}

/* Members named ../../x.png, /abs/y.png, cat/../../z.png or ..\\w.png: reported, never a
 * class called "..", nothing written outside the project. */
static void
test_zip_unsafe_names (Fixture *f, gconstpointer data)
{
  g_autofree char *scratch = g_build_filename (f->dir, "scratch", NULL);
  g_autofree char *p1 = g_build_filename (scratch, "1.png", NULL);
  g_autofree char *p2 = g_build_filename (scratch, "2.png", NULL);
  g_autofree char *p3 = g_build_filename (scratch, "3.png", NULL);
  write_png (p1, 5, 5, 1);
  write_png (p2, 5, 5, 2);
  write_png (p3, 5, 5, 3);
  g_autofree char *archive = g_build_filename (f->dir, "zipped", "classes.zip", NULL);
  ZipWriter zip = zip_new ();
  zip_add_file (&zip, "cat/1.png", p1, TRUE);
  zip_add_file (&zip, "dog/2.png", p2, FALSE);
  zip_add_file (&zip, "../../x.png", p3, FALSE);
  zip_add_file (&zip, "/abs/y.png", p3, FALSE);
  zip_add_file (&zip, "cat/../../z.png", p3, TRUE);
  zip_add_file (&zip, "..\\w.png", p3, FALSE);
  zip_write (&zip, archive);

  g_autoptr (GError) error = NULL;
  GraftImportOptions options = { GRAFT_IMPORT_COPY, GRAFT_HASH_NOW };
  g_autoptr (GraftImportReport) report = graft_import_teachable_machine (f->project, archive, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 2);
  g_assert_cmpuint (report->classes_added, ==, 2);
  g_assert_cmpint (graft_project_find_class (f->project, ".."), ==, 0);
  g_assert_cmpint (graft_project_find_class (f->project, "cat"), >, 0);
  g_assert_cmpint (graft_project_find_class (f->project, "dog"), >, 0);
  assert_skip (report, "classes.zip/../../x.png", GRAFT_SKIP_UNSAFE_NAME);
  assert_skip (report, "classes.zip//abs/y.png", GRAFT_SKIP_UNSAFE_NAME);
  assert_skip (report, "classes.zip/cat/../../z.png", GRAFT_SKIP_UNSAFE_NAME);
  assert_skip (report, "classes.zip/..\\w.png", GRAFT_SKIP_UNSAFE_NAME);
  g_assert_cmpuint (report->skipped->len, ==, 4);
  g_autofree char *outside = g_build_filename (f->dir, "x.png", NULL);
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
}

/* A copy that fails part way (a full disk) fails the import and leaves no empty folder
 * behind: neither images/ nor the images/<2 hex>/ made for a copy that was taken back.
 * RLIMIT_FSIZE with SIGXFSZ ignored makes write() fail (EFBIG) as ENOSPC would. */
static void
test_full_disk_leaves_no_folders (Fixture *f, gconstpointer data)
{
  g_autofree char *small = src (f, "a-small.png");
  write_png (small, 4, 4, 1);
  g_autofree char *big = src (f, "b-big.png");
  const gsize n = 256 * 1024;
  g_autofree guint8 *bytes = g_malloc (n);
  memcpy (bytes, "\x89PNG\r\n\x1a\n", 8);   /* imports sniff, they do not decode */
  for (gsize i = 8; i < n; i++)
    bytes[i] = (guint8) ((i * 2654435761u) >> 13);
  memcpy (bytes + n - 12, "\0\0\0\0IEND\xae\x42\x60\x82", 12);   /* and look at its end */
  write_bytes (big, bytes, n);
  g_autofree char *images = g_build_filename (graft_project_get_folder (f->project), "images", NULL);
  g_assert_false (g_file_test (images, G_FILE_TEST_EXISTS));

  struct rlimit old, limit;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old), ==, 0);
  limit = old;
  limit.rlim_cur = 64 * 1024;
  void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  GraftImportOptions options = { GRAFT_IMPORT_COPY, GRAFT_HASH_NOW };
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImportReport) report = graft_import_folder (f->project, f->source, &options, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old), ==, 0);
  signal (SIGXFSZ, old_handler);

  g_assert_null (report);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "b-big.png"));
  g_assert_cmpuint (count (f->project, GRAFT_FILTER_ALL, 0), ==, 0);
  g_assert_false (g_file_test (images, G_FILE_TEST_EXISTS));
}

static void
test_teachable_machine (Fixture *f, gconstpointer data)
{
  g_autofree char *scratch = g_build_filename (f->dir, "scratch", NULL);
  g_autofree char *p1 = g_build_filename (scratch, "1.png", NULL);
  g_autofree char *p2 = g_build_filename (scratch, "2.jpg", NULL);
  g_autofree char *p3 = g_build_filename (scratch, "3.png", NULL);
  g_autofree char *p4 = g_build_filename (scratch, "4.png", NULL);
  write_png (p1, 5, 5, 1);
  write_jpeg (p2, 8, 8, 2);
  write_png (p3, 5, 5, 3);
  write_png (p4, 5, 5, 4);

  /* A folder as Teachable Machine's "Download Samples" leaves it: one archive per class,
   * plus a class already unpacked and a broken archive. */
  g_autofree char *samples = g_build_filename (f->dir, "samples", NULL);
  g_autofree char *cat_zip = g_build_filename (samples, "Cat.zip", NULL);
  ZipWriter zip = zip_new ();
  zip_add_file (&zip, "1.png", p1, TRUE);
  zip_add_file (&zip, "2.jpg", p2, FALSE);
  zip_add (&zip, "metadata.json", (const guint8 *) "{}", 2, TRUE);
  zip_add (&zip, "__MACOSX/._1.png", (const guint8 *) "xx", 2, FALSE);
  zip_write (&zip, cat_zip);
  g_autofree char *dog_zip = g_build_filename (samples, "Dog.zip", NULL);
  zip = zip_new ();
  zip_add_file (&zip, "Dog/3.png", p3, TRUE);
  zip_write (&zip, dog_zip);
  g_autofree char *bird = g_build_filename (samples, "Bird", "4.png", NULL);
  g_free (copy_to (p4, bird));
  g_autofree char *broken = g_build_filename (samples, "Broken.zip", NULL);
  write_bytes (broken, "PK\x03\x04 this is not really a zip", 30);

  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImportReport) report = graft_import_teachable_machine (f->project, samples, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 4);
  g_assert_cmpuint (report->classes_added, ==, 3);
  g_assert_cmpuint (report->labelled, ==, 4);
  assert_skip (report, "Cat.zip/metadata.json", GRAFT_SKIP_NOT_AN_IMAGE);
  assert_skip (report, "Broken.zip", GRAFT_SKIP_UNREADABLE);
  g_assert_cmpuint (report->skipped->len, ==, 2);

  gint64 cat = graft_project_find_class (f->project, "Cat");
  gint64 dog = graft_project_find_class (f->project, "Dog");
  gint64 bird_class = graft_project_find_class (f->project, "Bird");
  g_assert_cmpuint (graft_project_count_labels (f->project, cat, &error), ==, 2);
  g_assert_cmpuint (graft_project_count_labels (f->project, dog, &error), ==, 1);
  g_assert_cmpuint (graft_project_count_labels (f->project, bird_class, &error), ==, 1);
  /* Members were copied into the project, named by content. */
  GraftImageQuery query = { GRAFT_FILTER_CLASS, cat };
  g_autoptr (GArray) rows = graft_project_query_images (f->project, &query, 0, 10, &error);
  for (guint i = 0; i < rows->len; i++)
    {
      const GraftImageInfo *info = &g_array_index (rows, GraftImageInfo, i);
      g_assert_true (g_str_has_prefix (info->path, graft_project_get_folder (f->project)));
      g_assert_true (g_file_test (info->path, G_FILE_TEST_IS_REGULAR));
      g_autofree char *base = g_path_get_basename (info->path);
      g_assert_true (g_str_has_prefix (base, info->hash));
    }
  g_autofree char *expected = graft_file_sha256 (p2, &error);
  g_assert_true (has_hash (f->project, expected));

  /* A zipped ImageFolder, by path: two top-level folders are the classes. */
  g_autofree char *set_zip = g_build_filename (f->dir, "set.zip", NULL);
  g_autofree char *p5 = g_build_filename (scratch, "5.png", NULL);
  g_autofree char *p6 = g_build_filename (scratch, "6.png", NULL);
  write_png (p5, 5, 5, 5);
  write_png (p6, 5, 5, 6);
  zip = zip_new ();
  zip_add_file (&zip, "apple/5.png", p5, TRUE);
  zip_add_file (&zip, "pear/x/6.png", p6, TRUE);
  zip_add_file (&zip, "pear/1.png", p1, TRUE);   /* already in the project (Cat) */
  zip_write (&zip, set_zip);
  g_autoptr (GraftImportReport) second = graft_import_teachable_machine (f->project, set_zip, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (second->added, ==, 2);
  g_assert_cmpuint (second->already_present, ==, 1);
  g_assert_cmpint (graft_project_find_class (f->project, "apple"), >, 0);
  g_assert_cmpint (graft_project_find_class (f->project, "pear"), >, 0);

  /* A broken archive given directly is an error naming it. */
  g_assert_null (graft_import_teachable_machine (f->project, broken, NULL, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "Broken.zip"));
}

/* The layouts Teachable Machine's public repository (googlecreativelab/
 * teachablemachine-community) documents for image projects, built here:
 *   - the image data set its converter reads (snippets/converter/image/api.py,
 *     representative_dataset_gen): a folder per label of metadata.json, <label>/<image>,
 *     hidden files left out; one label or several;
 *   - the model export (libraries/image/src/custom-mobilenet.ts, loadFromFiles): model.json,
 *     weights.bin and metadata.json, its fields as the Metadata interface names them. */
static void
test_teachable_machine_documented (Fixture *f, gconstpointer data)
{
  g_autofree char *scratch = g_build_filename (f->dir, "scratch", NULL);
  g_autofree char *p1 = g_build_filename (scratch, "1.png", NULL);
  g_autofree char *p2 = g_build_filename (scratch, "2.png", NULL);
  g_autofree char *p3 = g_build_filename (scratch, "3.png", NULL);
  g_autofree char *dataset = g_build_filename (f->dir, "dataset.zip", NULL);
  g_autofree char *one_label = g_build_filename (f->dir, "data.zip", NULL);
  g_autofree char *model = g_build_filename (f->dir, "exports", "tm-my-image-model.zip", NULL);
  g_autofree char *exports = g_build_filename (f->dir, "exports", NULL);
  const char metadata[] =
    "{\"tfjsVersion\":\"1.3.1\",\"tmVersion\":\"2.4.7\",\"packageVersion\":\"0.8.4\","
    "\"packageName\":\"@teachablemachine/image\",\"timeStamp\":\"2024-03-01T10:00:00.000Z\","
    "\"userMetadata\":{},\"modelName\":\"tm-my-image-model\",\"labels\":[\"Class 1\",\"Class 2\"],"
    "\"imageSize\":224}";
  const char model_json[] = "{\"modelTopology\":{\"class_name\":\"Sequential\"},\"weightsManifest\":"
                            "[{\"paths\":[\"weights.bin\"],\"weights\":[]}]}";
  const guint8 weights[16] = { 0 };
  g_autoptr (GError) error = NULL;
  ZipWriter zip;

  write_png (p1, 5, 5, 11);
  write_png (p2, 5, 5, 12);
  write_png (p3, 5, 5, 13);
  zip = zip_new ();
  zip_add_file (&zip, "Class 1/1.png", p1, TRUE);
  zip_add (&zip, "Class 1/.DS_Store", (const guint8 *) "xx", 2, FALSE);
  zip_add_file (&zip, "Class 2/2.png", p2, FALSE);
  zip_write (&zip, dataset);
  /* One label: its folder names the class, not the archive. */
  zip = zip_new ();
  zip_add_file (&zip, "Class 3/3.png", p3, TRUE);
  zip_write (&zip, one_label);
  zip = zip_new ();
  zip_add (&zip, "model.json", (const guint8 *) model_json, strlen (model_json), TRUE);
  zip_add (&zip, "weights.bin", weights, sizeof weights, FALSE);
  zip_add (&zip, "metadata.json", (const guint8 *) metadata, strlen (metadata), TRUE);
  zip_write (&zip, model);

  {
    g_autoptr (GraftImportReport) report = graft_import_teachable_machine (f->project, dataset, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (report->added, ==, 2);
    g_assert_cmpuint (report->skipped->len, ==, 0);
  }
  {
    g_autoptr (GraftImportReport) report = graft_import_teachable_machine (f->project, one_label, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (report->added, ==, 1);
  }
  for (int c = 1; c <= 3; c++)
    {
      g_autofree char *name = g_strdup_printf ("Class %d", c);
      gint64 id = graft_project_find_class (f->project, name);
      g_assert_cmpint (id, >, 0);
      g_assert_cmpuint (graft_project_count_labels (f->project, id, &error), ==, 1);
    }
  g_assert_cmpint (graft_project_find_class (f->project, "data"), ==, 0);
  g_assert_cmpint (graft_project_find_class (f->project, "dataset"), ==, 0);

  /* The model export: no images, and the message says what it is, with its classes. */
  g_assert_null (graft_import_teachable_machine (f->project, model, NULL, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "tm-my-image-model.zip"));
  g_assert_nonnull (strstr (error->message, "Teachable Machine model"));
  g_assert_nonnull (strstr (error->message, "Class 1, Class 2"));
  g_clear_error (&error);
  /* In a folder of archives: skipped, saying so. */
  {
    g_autoptr (GraftImportReport) report = graft_import_teachable_machine (f->project, exports, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (report->added, ==, 0);
    g_assert_cmpuint (report->skipped->len, ==, 1);
    assert_skip (report, "tm-my-image-model.zip", GRAFT_SKIP_NOT_AN_IMAGE);
    g_assert_nonnull (strstr (g_array_index (report->skipped, GraftImportSkip, 0).detail, "Teachable Machine model"));
  }
  g_assert_cmpint (graft_project_find_class (f->project, "tm-my-image-model"), ==, 0);
}

static void
test_files_and_copy (Fixture *f, gconstpointer data)
{
  g_autofree char *a = src (f, "a.png");
  g_autofree char *b = src (f, "b.jpg");
  g_autofree char *c = src (f, "sub/c.png");
  g_autofree char *a_again = src (f, "other/a.png");
  write_png (a, 4, 4, 1);
  write_jpeg (b, 8, 8, 2);
  write_png (c, 4, 4, 3);
  g_free (copy_to (a, a_again));
  g_autofree char *sub = src (f, "sub");
  g_autofree char *missing = src (f, "missing.png");
  g_autoptr (GError) error = NULL;
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);

  const char *paths[] = { a, b, sub, a_again, missing };
  GraftImportOptions copy = { GRAFT_IMPORT_COPY, GRAFT_HASH_AUTO };
  g_autoptr (GraftImportReport) report = graft_import_files (f->project, paths, 5, cat, &copy, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 3);
  g_assert_cmpuint (report->labelled, ==, 3);
  assert_skip (report, "other/a.png", GRAFT_SKIP_DUPLICATE);
  assert_skip (report, "missing.png", GRAFT_SKIP_UNREADABLE);

  /* The copies live in the project; the originals can go. */
  g_remove (a);
  g_remove (b);
  GraftImageQuery query = { GRAFT_FILTER_CLASS, cat };
  g_autoptr (GArray) rows = graft_project_query_images (f->project, &query, 0, 10, &error);
  g_assert_cmpuint (rows->len, ==, 3);
  g_autofree char *images = g_build_filename (f->folder, "images", NULL);
  for (guint i = 0; i < rows->len; i++)
    {
      const GraftImageInfo *info = &g_array_index (rows, GraftImageInfo, i);
      g_assert_true (g_str_has_prefix (info->path, images));
      g_assert_true (g_file_test (info->path, G_FILE_TEST_IS_REGULAR));
      g_autofree char *hash = graft_file_sha256 (info->path, &error);
      g_assert_cmpstr (hash, ==, info->hash);
    }
  /* Stored relative to the project: the project folder can move. */
  graft_project_close (f->project);
  g_autofree char *moved = g_build_filename (f->dir, "moved-project", NULL);
  g_assert_cmpint (g_rename (f->folder, moved), ==, 0);
  f->project = graft_project_open (moved, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) after = graft_project_query_images (f->project, &query, 0, 10, &error);
  g_assert_cmpuint (after->len, ==, 3);
  g_assert_true (g_str_has_prefix (g_array_index (after, GraftImageInfo, 0).path, moved));
  g_assert_true (g_file_test (g_array_index (after, GraftImageInfo, 0).path, G_FILE_TEST_IS_REGULAR));
  graft_project_close (f->project);
  g_assert_cmpint (g_rename (moved, f->folder), ==, 0);
  f->project = graft_project_open (f->folder, &error);
  g_assert_no_error (error);
}

static void
test_relink (Fixture *f, gconstpointer data)
{
  g_autofree char *a = src (f, "photos/a.png");
  g_autofree char *b = src (f, "photos/b.png");
  g_autofree char *c = src (f, "late/c.png");
  write_png (a, 4, 4, 1);
  write_png (b, 4, 4, 2);
  write_png (c, 4, 4, 3);
  g_autofree char *photos = src (f, "photos");
  g_autofree char *late = src (f, "late");
  g_autoptr (GError) error = NULL;
  GraftImportOptions now = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_NOW };
  GraftImportOptions later = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_LATER };
  g_autoptr (GraftImportReport) r1 = graft_import_folder (f->project, photos, &now, &error);
  g_autoptr (GraftImportReport) r2 = graft_import_folder (f->project, late, &later, &error);
  gint64 id_a = graft_project_find_image (f->project, a);
  gint64 id_c = graft_project_find_image (f->project, c);
  gint64 cat = graft_project_add_class (f->project, "cat", NULL, &error);
  g_assert_true (graft_project_set_label (f->project, id_a, cat, GRAFT_LABEL_PERSON, &error));

  /* Move everything, renaming a (found by hash) but not c (never hashed: name and size). */
  g_autofree char *archive = g_build_filename (f->dir, "archive", NULL);
  g_autofree char *new_a = g_build_filename (archive, "2023", "renamed-a.png", NULL);
  g_autofree char *new_b = g_build_filename (archive, "b.png", NULL);
  g_autofree char *new_c = g_build_filename (archive, "old", "c.png", NULL);
  make_parent (new_a);
  make_parent (new_c);
  g_assert_cmpint (g_rename (a, new_a), ==, 0);
  g_assert_cmpint (g_rename (b, new_b), ==, 0);
  g_assert_cmpint (g_rename (c, new_c), ==, 0);
  g_autofree char *decoy = g_build_filename (archive, "decoy.png", NULL);
  write_png (decoy, 4, 4, 9);

  guint relinked = 0;
  g_assert_true (graft_project_relink (f->project, archive, &relinked, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (relinked, ==, 3);
  GraftImageInfo info = { 0 };
  g_assert_true (graft_project_get_image (f->project, id_a, &info, &error));
  g_assert_cmpstr (info.path, ==, new_a);
  g_assert_cmpint (info.class_id, ==, cat);
  graft_image_info_clear (&info);
  g_assert_true (graft_project_get_image (f->project, id_c, &info, &error));
  g_assert_cmpstr (info.path, ==, new_c);
  graft_image_info_clear (&info);
  g_assert_cmpint (graft_project_find_image (f->project, new_b), >, 0);
  /* Nothing left to find. */
  g_assert_true (graft_project_relink (f->project, archive, &relinked, &error));
  g_assert_cmpuint (relinked, ==, 0);
}

/* An image replaced by a FIFO after its import: export counts it as missing instead of
 * waiting on it for ever. */
static void
test_export_fifo (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = src (f, "cat/x.png");
  g_autofree char *c2 = src (f, "cat/y.png");
  write_png (c1, 4, 4, 1);
  write_png (c2, 4, 4, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImportReport) report = graft_import_image_folder (f->project, f->source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, 2);
  g_assert_cmpint (g_remove (c2), ==, 0);
  g_assert_cmpint (mkfifo (c2, 0600), ==, 0);

  g_autofree char *out = g_build_filename (f->dir, "export", NULL);
  guint exported = 0, missing = 0;
  alarm (30);   /* a regression blocks in open(): SIGALRM fails the test instead of hanging */
  g_assert_true (graft_export_image_folder (f->project, out, GRAFT_EXPORT_COPY, FALSE, &exported, &missing, &error));
  alarm (0);
  g_assert_no_error (error);
  g_assert_cmpuint (exported, ==, 1);
  g_assert_cmpuint (missing, ==, 1);
}

static void
test_export (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = src (f, "cat/x.png");
  g_autofree char *c2 = src (f, "cat/sub/x.png");   /* the same name twice in one class */
  g_autofree char *d1 = src (f, "dog/y.jpg");
  g_autofree char *u = src (f, "unlabelled, \"odd\".png");
  write_png (c1, 4, 4, 1);
  write_png (c2, 4, 4, 2);
  write_jpeg (d1, 8, 8, 3);
  write_png (u, 4, 4, 4);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImportReport) report = graft_import_image_folder (f->project, f->source, NULL, &error);
  g_assert_cmpuint (report->added, ==, 4);
  gint64 dog = graft_project_find_class (f->project, "dog");
  g_assert_true (graft_project_rename_class (f->project, dog, "big/dog", &error));

  /* ImageFolder, copies */
  g_autofree char *out = g_build_filename (f->dir, "export", NULL);
  guint exported = 0, missing = 0;
  g_assert_true (graft_export_image_folder (f->project, out, GRAFT_EXPORT_COPY, FALSE, &exported, &missing, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (exported, ==, 3);
  g_assert_cmpuint (missing, ==, 0);
  g_autofree char *e1 = g_build_filename (out, "cat", "x.png", NULL);
  g_autofree char *e3 = g_build_filename (out, "big_dog", "y.jpg", NULL);
  g_assert_true (g_file_test (e1, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (e3, G_FILE_TEST_IS_REGULAR));
  /* The image added later (cat/x.png: "sub" sorts first) gets its id in the name. */
  gint64 id1 = graft_project_find_image (f->project, c1), id2 = graft_project_find_image (f->project, c2);
  g_assert_cmpint (id2, <, id1);
  g_autofree char *e2 = g_strdup_printf ("%s/cat/x-%" G_GINT64_FORMAT ".png", out, id1);
  g_assert_true (g_file_test (e2, G_FILE_TEST_IS_REGULAR));
  g_autofree char *h1 = graft_file_sha256 (e2, &error);
  g_autofree char *h2 = graft_file_sha256 (c1, &error);
  g_assert_cmpstr (h1, ==, h2);

  /* Read back as a dataset, the way graft-cli reads ImageFolder trees. */
  g_autoptr (GraftDataset) back = graft_dataset_load_image_folder (out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_dataset_size (back), ==, 3);

  /* Hard links, by split */
  g_autofree char *linked = g_build_filename (f->dir, "linked", NULL);
  g_assert_true (graft_export_image_folder (f->project, linked, GRAFT_EXPORT_HARDLINK, TRUE, &exported, NULL, &error));
  g_assert_cmpuint (exported, ==, 3);
  g_autofree char *train_cat = g_build_filename (linked, "train", "cat", NULL);
  g_autofree char *validation = g_build_filename (linked, "validation", NULL);
  g_assert_true (g_file_test (train_cat, G_FILE_TEST_IS_DIR) || g_file_test (validation, G_FILE_TEST_IS_DIR));
  /* the source of d1 now has a second name in the export */
  GStatBuf st;
  g_assert_cmpint (g_stat (d1, &st), ==, 0);
  g_assert_cmpuint (st.st_nlink, ==, 2);
  g_autoptr (GraftDataset) whole = graft_project_dataset (f->project, GRAFT_SPLIT_NONE, &error);
  g_assert_cmpuint (graft_dataset_size (whole), ==, 3);

  /* A missing source file is counted, not fatal. */
  g_remove (d1);
  g_autofree char *out2 = g_build_filename (f->dir, "export2", NULL);
  g_assert_true (graft_export_image_folder (f->project, out2, GRAFT_EXPORT_COPY, FALSE, &exported, &missing, &error));
  g_assert_cmpuint (exported, ==, 2);
  g_assert_cmpuint (missing, ==, 1);
  write_jpeg (d1, 8, 8, 3);

  /* CSV, and back into another project */
  g_autofree char *csv = g_build_filename (f->dir, "labels.csv", NULL);
  g_assert_true (graft_export_csv (f->project, csv, &error));
  g_assert_no_error (error);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (csv, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "path,label,split\r\n"));
  g_assert_nonnull (strstr (text, "/unlabelled, \"\"odd\"\".png\",,\r\n"));
  g_assert_nonnull (strstr (text, ",big/dog,"));

  g_autofree char *other_folder = g_build_filename (f->dir, "other", NULL);
  g_autoptr (GraftProject) other = graft_project_create (other_folder, "Other", &error);
  g_autoptr (GraftImportReport) imported = graft_import_csv (other, csv, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imported->added, ==, 4);
  g_assert_cmpuint (imported->labelled, ==, 3);
  g_assert_cmpuint (imported->skipped->len, ==, 0);
  gint64 other_dog = graft_project_find_class (other, "big/dog");
  g_assert_cmpint (label_of_path (other, d1), ==, other_dog);
  g_assert_cmpint (label_of_path (other, u), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/project/import/folder", test_folder);
  ADD ("/project/import/lazy-hashing", test_lazy_hashing);
  ADD ("/project/import/image-folder", test_image_folder);
  ADD ("/project/import/special-files-and-loops", test_special_files_and_loops);
  ADD ("/project/import/csv", test_csv);
  ADD ("/project/import/teachable-machine", test_teachable_machine);
  ADD ("/project/import/teachable-machine-documented", test_teachable_machine_documented);
  ADD ("/project/import/zip-unsafe-names", test_zip_unsafe_names);
  ADD ("/project/import/full-disk-leaves-no-folders", test_full_disk_leaves_no_folders);
  ADD ("/project/import/files-and-copy", test_files_and_copy);
  ADD ("/project/import/relink", test_relink);
  ADD ("/project/export/image-folder-and-csv", test_export);
  ADD ("/project/export/fifo", test_export_fifo);
#undef ADD
  return g_test_run ();
}
