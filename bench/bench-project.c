/* bench-project.c: the project store at scale (src/project/).
 *
 *   bench-project [--count N] [--labels L] [--folder DIR] [--keep]
 *
 * Writes N (default 100,000) tiny JPEG files (the same 8x8 JPEG, 300-odd bytes) in
 * nested folders (N / 1000 folders of 1000, two levels deep) under a temporary folder
 * in /tmp (or DIR), then times:
 *   - the import by folder scan (stat + first 16 bytes of every file, no decoding, one
 *     transaction; content hashes are left to the lazy pass);
 *   - a label operation (graft_project_set_label: one transaction, one undo step, with
 *     synchronous=FULL), L times (default 1,000) on random images: median and p99;
 *     the same with synchronous=NORMAL (graft_project_set_power_safe FALSE: no fsync,
 *     what the disk's fsync latency costs), and undo;
 *   - the grid's queries (200 rows with paths, labels and suggestions) for one class,
 *     the unlabelled images and the suggested ones (and labelled, one split): the first
 *     page and a deep page (after the id 90% of the way down), 50 times each: median and
 *     worst; counts per class; all ids of a class (for a list model);
 *   - the lazy hashing pass over 10,000 of the files.
 * The project has 10 classes; 60% of the images are labelled, 20% more have a
 * suggestion (a prediction), before the timed label operations.
 * The disk's fsync latency is printed too: with synchronous=FULL every label waits for one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>

#include "project/import.h"
#include "project/project.h"

static double
now (void)
{
  return g_get_monotonic_time () * 1e-6;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
percentile (double *values, guint n, double p)
{
  qsort (values, n, sizeof (double), compare_doubles);
  guint i = (guint) (p * (n - 1) + 0.5);
  return values[MIN (i, n - 1)];
}

static guint8 *
tiny_jpeg (unsigned long *size)
{
  struct jpeg_compress_struct info;
  struct jpeg_error_mgr error;
  info.err = jpeg_std_error (&error);
  jpeg_create_compress (&info);
  unsigned char *buffer = NULL;
  jpeg_mem_dest (&info, &buffer, size);
  info.image_width = 8;
  info.image_height = 8;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults (&info);
  jpeg_set_quality (&info, 75, TRUE);
  jpeg_start_compress (&info, TRUE);
  guint8 row[24];
  for (int i = 0; i < 24; i++)
    row[i] = (guint8) (i * 10);
  while (info.next_scanline < info.image_height)
    {
      JSAMPROW rows[1] = { row };
      jpeg_write_scanlines (&info, rows, 1);
    }
  jpeg_finish_compress (&info);
  jpeg_destroy_compress (&info);
  return buffer;
}

static void
remove_tree (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      GDir *dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
    }
  g_remove (path);
}

static double
fsync_latency (const char *folder)
{
  g_autofree char *path = g_build_filename (folder, "fsync-probe", NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return -1;
  char block[4096] = { 0 };
  double start = now ();
  for (int i = 0; i < 50; i++)
    {
      if (write (fd, block, sizeof block) < 0 || fdatasync (fd) != 0)
        break;
    }
  double elapsed = (now () - start) / 50;
  close (fd);
  g_remove (path);
  return elapsed;
}

typedef struct {
  const char *name;
  double median, worst;
  const char *target;
  const char *unit;
} Row;

static GArray *rows;

static void
add_row (const char *name, double median, double worst, const char *unit, const char *target)
{
  Row row = { g_strdup (name), median, worst, target, unit };
  g_array_append_val (rows, row);
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "bench-project: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

/* The query, timed: the first page and the page after the id 90% of the way. */
static void
time_query (GraftProject *project, const char *name, const GraftImageQuery *query, int repeats)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = graft_project_query_ids (project, query, &error);
  if (ids == NULL)
    die ("query ids", error);
  gint64 deep_after = ids->len > 0 ? g_array_index (ids, gint64, (guint) (ids->len * 0.9)) : 0;
  for (int deep = 0; deep < 2; deep++)
    {
      g_autofree double *times = g_new (double, repeats);
      guint got = 0;
      for (int r = 0; r < repeats; r++)
        {
          double start = now ();
          g_autoptr (GArray) page = graft_project_query_images (project, query, deep ? deep_after : 0, 200, &error);
          times[r] = now () - start;
          if (page == NULL)
            die ("query", error);
          got = page->len;
        }
      g_autofree char *label = g_strdup_printf ("query %s, %s page (%u of %u rows)", name, deep ? "deep" : "first", got,
                                                ids->len);
      double worst = percentile (times, repeats, 1.0);
      add_row (label, percentile (times, repeats, 0.5) * 1e3, worst * 1e3, "ms", "< 20 ms");
    }
}

int
main (int argc, char **argv)
{
  gint count = 100000, labels = 1000;
  g_autofree char *parent = NULL;
  gboolean keep = FALSE;
  GOptionEntry entries[] = {
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "Images (default 100000)", "N" },
    { "labels", 0, 0, G_OPTION_ARG_INT, &labels, "Timed label operations (default 1000)", "L" },
    { "folder", 0, 0, G_OPTION_ARG_FILENAME, &parent, "Where to write the files (default /tmp)", "DIR" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the generated files and project", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- project store benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error);
  count = MAX (count, 1000);
  labels = MAX (labels, 10);
  rows = g_array_new (FALSE, FALSE, sizeof (Row));

  g_autofree char *template = g_build_filename (parent != NULL ? parent : g_get_tmp_dir (), "graft-bench-XXXXXX", NULL);
  char *root = g_mkdtemp (template);
  if (root == NULL)
    die ("temporary folder", NULL);
  g_autofree char *images = g_build_filename (root, "images", NULL);
  g_autofree char *folder = g_build_filename (root, "project", NULL);

  /* The files */
  unsigned long jpeg_size = 0;
  guint8 *jpeg = tiny_jpeg (&jpeg_size);
  double start = now ();
  for (int i = 0; i < count; i++)
    {
      char relative[64];
      g_snprintf (relative, sizeof relative, "group-%02d/folder-%03d/image-%06d.jpg", i / 10000, (i / 1000) % 10, i);
      g_autofree char *path = g_build_filename (images, relative, NULL);
      if (i % 1000 == 0)
        {
          g_autofree char *dir = g_path_get_dirname (path);
          g_mkdir_with_parents (dir, 0755);
        }
      int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || write (fd, jpeg, jpeg_size) != (ssize_t) jpeg_size)
        die ("writing the images", NULL);
      close (fd);
    }
  free (jpeg);
  double generation = now () - start;
  printf ("bench-project: %d files of %lu bytes written in %.1f s under %s\n", count, jpeg_size, generation, root);
  double fsync_ms = fsync_latency (root) * 1e3;
  printf ("bench-project: fdatasync on that disk: %.2f ms\n", fsync_ms);
  fflush (stdout);

  g_autoptr (GraftProject) project = graft_project_create (folder, "bench", &error);
  if (project == NULL)
    die ("create", error);

  /* Import */
  start = now ();
  g_autoptr (GraftImportReport) report = graft_import_folder (project, images, NULL, &error);
  double import_time = now () - start;
  if (report == NULL)
    die ("import", error);
  if (report->added != (guint) count)
    fprintf (stderr, "bench-project: %u added, %u skipped (expected %d)\n", report->added, report->skipped->len, count);
  g_autofree char *import_name = g_strdup_printf ("import %d files by folder scan (one transaction)", count);
  add_row (import_name, import_time, import_time, "s", "< 60 s");

  /* Classes, 60% labelled, 20% more suggested */
  gint64 classes[10];
  for (int c = 0; c < 10; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%d", c);
      classes[c] = graft_project_add_class (project, name, NULL, &error);
      if (classes[c] == 0)
        die ("add class", error);
    }
  GraftImageQuery all_query = { GRAFT_FILTER_ALL };
  g_autoptr (GArray) all = graft_project_query_ids (project, &all_query, &error);
  GRand *rand = g_rand_new_with_seed (1);
  const gint64 *ids = (const gint64 *) all->data;
  guint n = all->len;
  g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (int c = 0; c < 10; c++)
    {
      g_array_set_size (batch, 0);
      for (guint i = 0; i < n; i++)
        if (i % 10 < 6 && (int) (i / 7 % 10) == c)
          g_array_append_val (batch, ids[i]);
      if (!graft_project_set_labels (project, (gint64 *) batch->data, batch->len, classes[c], GRAFT_LABEL_PERSON, &error))
        die ("label many", error);
    }
  g_autoptr (GArray) predictions = g_array_new (FALSE, FALSE, sizeof (GraftPrediction));
  for (guint i = 0; i < n; i++)
    if (i % 10 == 6 || i % 10 == 7)
      {
        GraftPrediction p = { ids[i], classes[i % 10 == 6 ? i % 3 : 5 + i % 5], 0.5f + (i % 50) * 0.01f };
        g_array_append_val (predictions, p);
      }
  if (!graft_project_set_predictions (project, 0, (GraftPrediction *) predictions->data, predictions->len, &error))
    die ("predictions", error);
  if (!graft_project_reset_splits (project, 0.2, 0.1, 3, &error))
    die ("splits", error);

  /* Label operations (times is also used for the 20 runs of the counts below) */
  g_autofree double *times = g_new (double, MAX (labels, 20));
  for (int i = 0; i < labels; i++)
    {
      gint64 image = ids[g_rand_int_range (rand, 0, (gint32) n)];
      gint64 class_id = classes[g_rand_int_range (rand, 0, 10)];
      double t = now ();
      if (!graft_project_set_label (project, image, class_id, GRAFT_LABEL_PERSON, &error))
        die ("label", error);
      times[i] = now () - t;
    }
  g_autofree char *label_name = g_strdup_printf ("label one image (%d operations)", labels);
  double label_median = percentile (times, labels, 0.5);
  add_row (label_name, label_median * 1e3, percentile (times, labels, 0.99) * 1e3, "ms", "< 5 ms");
  printf ("bench-project: label times: p90 %.2f ms, p95 %.2f ms, worst %.2f ms\n", percentile (times, labels, 0.9) * 1e3,
          percentile (times, labels, 0.95) * 1e3, percentile (times, labels, 1.0) * 1e3);

  /* The same without an fsync per label (graft_project_set_power_safe FALSE). */
  if (!graft_project_set_power_safe (project, FALSE, &error))
    die ("synchronous", error);
  for (int i = 0; i < labels; i++)
    {
      gint64 image = ids[g_rand_int_range (rand, 0, (gint32) n)];
      gint64 class_id = classes[g_rand_int_range (rand, 0, 10)];
      double t = now ();
      if (!graft_project_set_label (project, image, class_id, GRAFT_LABEL_PERSON, &error))
        die ("label", error);
      times[i] = now () - t;
    }
  g_autofree char *normal_name = g_strdup_printf ("label one image, not power-safe (synchronous=NORMAL)");
  add_row (normal_name, percentile (times, labels, 0.5) * 1e3, percentile (times, labels, 0.99) * 1e3, "ms", "");
  if (!graft_project_set_power_safe (project, TRUE, &error))
    die ("synchronous", error);
  int undos = MIN (labels, 200);
  for (int i = 0; i < undos; i++)
    {
      double t = now ();
      if (!graft_project_undo (project, &error))
        die ("undo", error);
      times[i] = now () - t;
    }
  g_autofree char *undo_name = g_strdup_printf ("undo a label (%d operations)", undos);
  add_row (undo_name, percentile (times, undos, 0.5) * 1e3, percentile (times, undos, 0.99) * 1e3, "ms", "");
  g_array_set_size (batch, 0);
  for (int i = 0; i < 1000; i++)
    g_array_append_val (batch, ids[g_rand_int_range (rand, 0, (gint32) n)]);
  double t = now ();
  if (!graft_project_set_labels (project, (gint64 *) batch->data, batch->len, classes[1], GRAFT_LABEL_PERSON, &error))
    die ("label many", error);
  t = now () - t;
  add_row ("label 1000 images at once", t * 1e3, t * 1e3, "ms", "");

  /* Queries */
  GraftImageQuery query = { GRAFT_FILTER_CLASS, classes[3] };
  time_query (project, "one class", &query, 50);
  query = (GraftImageQuery) { GRAFT_FILTER_UNLABELLED };
  time_query (project, "unlabelled", &query, 50);
  query = (GraftImageQuery) { GRAFT_FILTER_SUGGESTED };
  time_query (project, "suggested", &query, 50);
  query = (GraftImageQuery) { GRAFT_FILTER_SUGGESTED, classes[1] };
  time_query (project, "suggested as one class", &query, 50);
  query = (GraftImageQuery) { GRAFT_FILTER_SPLIT, .split = GRAFT_SPLIT_VALIDATION };
  time_query (project, "validation split", &query, 50);
  query = (GraftImageQuery) { GRAFT_FILTER_ALL };
  time_query (project, "all", &query, 50);

  for (int i = 0; i < 20; i++)
    {
      t = now ();
      g_autoptr (GArray) listed = graft_project_list_classes (project, &error);
      times[i] = now () - t;
    }
  add_row ("counts per class (list classes)", percentile (times, 20, 0.5) * 1e3, percentile (times, 20, 1.0) * 1e3,
           "ms", "< 20 ms");
  for (int i = 0; i < 20; i++)
    {
      t = now ();
      query = (GraftImageQuery) { GRAFT_FILTER_UNLABELLED };
      graft_project_count_images (project, &query, &error);
      times[i] = now () - t;
    }
  add_row ("count unlabelled", percentile (times, 20, 0.5) * 1e3, percentile (times, 20, 1.0) * 1e3, "ms", "< 20 ms");
  guint class_size = 0;
  for (int i = 0; i < 20; i++)
    {
      t = now ();
      query = (GraftImageQuery) { GRAFT_FILTER_CLASS, classes[3] };
      g_autoptr (GArray) class_ids = graft_project_query_ids (project, &query, &error);
      class_size = class_ids->len;
      times[i] = now () - t;
    }
  g_autofree char *ids_name = g_strdup_printf ("all ids of one class (%u)", class_size);
  add_row (ids_name, percentile (times, 20, 0.5) * 1e3, percentile (times, 20, 1.0) * 1e3, "ms", "");

  /* Lazy hashing */
  t = now ();
  gint64 hashed = graft_project_hash_pending (project, NULL, 10000, &error);
  t = now () - t;
  if (hashed < 0)
    die ("hash", error);
  g_autofree char *hash_name = g_strdup_printf ("lazy hashing, %" G_GINT64_FORMAT " files", hashed);
  add_row (hash_name, t, t, "s", "");

  if (!graft_project_check_integrity (project, &error))
    die ("integrity", error);

  printf ("\n%-58s %10s %10s  %s\n", "operation", "median", "p99/worst", "target");
  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);
      printf ("%-58s %7.2f %-2s %7.2f %-2s  %s\n", row->name, row->median, row->unit, row->worst, row->unit,
              row->target);
    }
  printf ("\nfiles %d, labelled 60%% + suggested 20%%, 10 classes; fdatasync %.2f ms; synchronous=FULL, WAL\n", count,
          fsync_ms);
  g_rand_free (rand);
  graft_project_close (g_steal_pointer (&project));
  if (!keep)
    remove_tree (root);
  else
    printf ("kept %s\n", root);
  return 0;
}
