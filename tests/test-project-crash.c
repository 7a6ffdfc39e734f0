/* Nothing is lost: a labelling burst killed with SIGKILL at random moments, many times;
 * a full disk; a read-only folder.
 *
 * The crash test runs this same binary as the child (--labelling-burst FOLDER RUN RECORD):
 * it labels images one call after another (single labels, batches, clears) and, after
 * each call returns, appends "image class" lines to RECORD with one write(). The parent
 * kills it with SIGKILL after a random delay, then checks PRAGMA integrity_check and that
 * every recorded label is in the database (each image is labelled at most once a run, so
 * the database must hold exactly what was recorded, plus at most the one call that
 * committed but was killed before it could write its record).
 *
 * The disk-full and read-only tests mount a small tmpfs (root in a container that allows
 * it); where mounting is not allowed they are skipped with a message. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "project/import.h"
#include "project/project.h"
#include "test-project-helpers.h"

#define N_IMAGES 6000
#define N_CLASSES 4
#define N_RUNS 30

/* Files that pass the magic-bytes check and end as a PNG ends (nothing here decodes them). */
static void
write_fake_images (const char *folder, guint n)
{
  g_mkdir_with_parents (folder, 0755);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("img-%05u.png", i);
      g_autofree char *path = g_build_filename (folder, name, NULL);
      char data[32];
      memcpy (data, "\x89PNG\r\n\x1a\n", 8);
      g_snprintf (data + 8, sizeof data - 8, "%08u", i);
      memcpy (data + 16, "IEND", 4);
      write_bytes (path, data, 20);
    }
}

/* ---- The child ------------------------------------------------------------------------ */

static void
record (int fd, const gint64 *images, guint n, gint64 class_id)
{
  GString *line = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (line, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", images[i], class_id);
  /* one write: the record of a call is there whole or not at all (O_APPEND, < PIPE_BUF) */
  if (write (fd, line->str, line->len) != (ssize_t) line->len)
    _exit (3);
  g_string_free (line, TRUE);
}

static int
labelling_burst (const char *folder, int run, const char *record_path)
{
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_open (folder, &error);
  if (project == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 2;
    }
  int fd = open (record_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return 2;
  g_autoptr (GArray) classes = graft_project_list_classes (project, &error);
  GraftImageQuery all = { GRAFT_FILTER_ALL };
  g_autoptr (GArray) ids = graft_project_query_ids (project, &all, &error);
  const gint64 *id = (const gint64 *) ids->data;
  const guint n = ids->len;
  const guint start = (guint) (run * 397) % n;
  guint i = 0;
  while (i < n)
    {
      gint64 class_id = g_array_index (classes, GraftClass, (run + i) % classes->len).id;
      if (i % 11 == 10 && i + 5 <= n)
        {
          gint64 batch[5];
          for (int b = 0; b < 5; b++)
            batch[b] = id[(start + i + b) % n];
          if (!graft_project_set_labels (project, batch, 5, class_id, GRAFT_LABEL_PERSON, &error))
            return 4;
          record (fd, batch, 5, class_id);
          i += 5;
        }
      else if (i % 7 == 6)
        {
          gint64 image = id[(start + i) % n];
          if (!graft_project_clear_label (project, image, &error))
            return 4;
          record (fd, &image, 1, 0);
          i++;
        }
      else
        {
          gint64 image = id[(start + i) % n];
          if (!graft_project_set_label (project, image, class_id, GRAFT_LABEL_PERSON, &error))
            return 4;
          record (fd, &image, 1, class_id);
          i++;
        }
    }
  close (fd);
  graft_project_close (project);
  return 0;
}

/* ---- The parent ----------------------------------------------------------------------- */

static GHashTable *
read_labels (GraftProject *project)
{
  GHashTable *labels = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  GraftImageQuery all = { GRAFT_FILTER_ALL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = graft_project_query_images (project, &all, 0, 1000000, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++)
    {
      const GraftImageInfo *info = &g_array_index (rows, GraftImageInfo, i);
      g_hash_table_insert (labels, g_memdup2 (&info->id, sizeof info->id), g_memdup2 (&info->class_id, sizeof (gint64)));
    }
  return labels;
}

static void
test_killed_bursts (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *folder = g_build_filename (dir, "project", NULL);
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  write_fake_images (images, N_IMAGES);
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_create (folder, "Crash", &error);
  g_assert_no_error (error);
  GraftImportOptions later = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_LATER };
  g_autoptr (GraftImportReport) report = graft_import_folder (project, images, &later, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report->added, ==, N_IMAGES);
  for (int c = 0; c < N_CLASSES; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%d", c);
      graft_project_add_class (project, name, NULL, &error);
      g_assert_no_error (error);
    }
  GHashTable *expected = read_labels (project);
  graft_project_close (project);

  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());
  guint total_recorded = 0, killed = 0;
  for (int run = 0; run < N_RUNS; run++)
    {
      g_autofree char *record_path = g_strdup_printf ("%s/record-%d.txt", dir, run);
      g_autofree char *run_text = g_strdup_printf ("%d", run);
      const char *argv[] = { "/proc/self/exe", "--labelling-burst", folder, run_text, record_path, NULL };
      GPid pid;
      g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error));
      g_assert_no_error (error);
      g_usleep (g_rand_int_range (rand, 20, 400) * 1000);
      kill (pid, SIGKILL);
      int status = 0;
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_spawn_close_pid (pid);
      if (WIFSIGNALED (status))
        {
          g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
          killed++;
        }
      else
        g_assert_cmpint (WEXITSTATUS (status), ==, 0);

      /* What the child said had returned. */
      g_autofree char *text = NULL;
      if (!g_file_get_contents (record_path, &text, NULL, NULL))
        text = g_strdup ("");
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
      guint recorded = 0;
      for (int l = 0; lines[l] != NULL; l++)
        {
          gint64 image, class_id;
          if (sscanf (lines[l], "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &image, &class_id) != 2)
            continue;
          g_hash_table_insert (expected, g_memdup2 (&image, sizeof image), g_memdup2 (&class_id, sizeof class_id));
          recorded++;
        }
      total_recorded += recorded;

      project = graft_project_open (folder, &error);
      g_assert_no_error (error);
      g_assert_true (graft_project_check_integrity (project, &error));
      g_assert_no_error (error);
      GHashTable *actual = read_labels (project);
      /* Every recorded label is there; at most one unrecorded call (a batch of 5) differs. */
      guint differing = 0;
      GHashTableIter iter;
      gpointer key, value;
      g_hash_table_iter_init (&iter, expected);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          gint64 *have = g_hash_table_lookup (actual, key);
          g_assert_nonnull (have);
          if (*have != *(gint64 *) value)
            differing++;
        }
      g_assert_cmpuint (differing, <=, 5);
      /* Those labels came from the last call; they stand from now on. */
      g_hash_table_unref (expected);
      expected = actual;
      /* The undo history is usable after a crash too. */
      if (graft_project_can_undo (project))
        {
          g_assert_true (graft_project_undo (project, &error));
          g_assert_true (graft_project_redo (project, &error));
          g_assert_no_error (error);
        }
      graft_project_close (project);
      g_test_message ("run %d: %u labels recorded, %u unrecorded change(s), %s", run, recorded, differing,
                      WIFSIGNALED (status) ? "killed" : "finished");
    }
  g_assert_cmpuint (killed, >=, N_RUNS / 2);
  g_assert_cmpuint (total_recorded, >, 0);
  g_hash_table_unref (expected);
  g_rand_free (rand);
  remove_tree (dir);
}

/* ---- Disk full and read-only ------------------------------------------------------------ */

static char *
mount_tmpfs (const char *size)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *options = g_strdup_printf ("size=%s,mode=0755", size);
  if (mount ("tmpfs", dir, "tmpfs", 0, options) != 0)
    {
      g_autofree char *message = g_strdup_printf ("cannot mount a tmpfs (%s): needs root in a mount namespace",
                                                  g_strerror (errno));
      g_test_skip (message);
      g_rmdir (dir);
      return NULL;
    }
  return g_steal_pointer (&dir);
}

static void
unmount_tmpfs (const char *dir)
{
  umount2 (dir, MNT_DETACH);
  g_rmdir (dir);
}

static guint
count_files (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return g_file_test (path, G_FILE_TEST_IS_REGULAR) ? 1 : 0;
  guint n = 0;
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      n += count_files (child);
    }
  if (dir != NULL)
    g_dir_close (dir);
  return n;
}

static void
fill_disk (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  char block[4096];
  memset (block, 0x5a, sizeof block);
  while (write (fd, block, sizeof block) > 0)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  /* the last partial page, too */
  while (write (fd, block, 1) > 0)
    ;
  close (fd);
}

static void
test_disk_full (void)
{
  g_autofree char *mountpoint = mount_tmpfs ("2m");
  if (mountpoint == NULL)
    return;
  g_autofree char *outside = make_temp_dir ();
  g_autofree char *images = g_build_filename (outside, "images", NULL);
  g_autofree char *more = g_build_filename (outside, "more", NULL);
  write_fake_images (images, 100);
  g_mkdir_with_parents (more, 0755);
  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/more-%u.png", more, i);
      write_png (path, 8, 8, i);
    }
  g_autofree char *folder = g_build_filename (mountpoint, "project", NULL);
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_create (folder, "Full", &error);
  g_assert_no_error (error);
  g_autoptr (GraftImportReport) report = graft_import_folder (project, images, NULL, &error);
  g_assert_no_error (error);
  gint64 cat = graft_project_add_class (project, "cat", NULL, &error);
  GraftImageQuery all = { GRAFT_FILTER_ALL };
  g_autoptr (GArray) ids = graft_project_query_ids (project, &all, &error);
  const gint64 *id = (const gint64 *) ids->data;
  g_assert_true (graft_project_set_labels (project, id, 10, cat, GRAFT_LABEL_PERSON, &error));
  graft_project_close (project);
  project = graft_project_open (folder, &error);
  g_assert_no_error (error);
  GHashTable *before = read_labels (project);
  g_autofree char *db_path = g_build_filename (folder, "project.db", NULL);

  g_autofree char *filler = g_build_filename (mountpoint, "filler", NULL);
  fill_disk (filler);

  /* Each change fails with a clear message and changes nothing. */
  gint64 many[50];
  for (int i = 0; i < 50; i++)
    many[i] = id[50 + i];
  g_assert_false (graft_project_set_labels (project, many, 50, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_DISK_FULL);
  g_assert_nonnull (strstr (error->message, db_path));
  g_assert_nonnull (strstr (error->message, "disk is full"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (graft_project_add_class (project, "dog with a long name to need room", NULL, &error), ==, 0);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_DISK_FULL);
  g_clear_error (&error);
  g_autoptr (GraftImportReport) failed = graft_import_folder (project, more, NULL, &error);
  g_assert_null (failed);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_DISK_FULL);
  g_clear_error (&error);
  GraftImportOptions copy = { GRAFT_IMPORT_COPY, GRAFT_HASH_AUTO };
  g_autoptr (GraftImportReport) failed_copy = graft_import_folder (project, more, &copy, &error);
  g_assert_null (failed_copy);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_DISK_FULL);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (graft_project_undo (project, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_DISK_FULL);
  g_clear_error (&error);

  GHashTable *during = read_labels (project);
  g_assert_cmpuint (g_hash_table_size (during), ==, g_hash_table_size (before));
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert_cmpint (*(gint64 *) g_hash_table_lookup (during, key), ==, *(gint64 *) value);
  g_hash_table_unref (during);
  g_assert_true (graft_project_check_integrity (project, &error));
  /* The copies made before the disk filled up were removed. */
  g_autofree char *copies = g_build_filename (folder, "images", NULL);
  g_assert_cmpuint (count_files (copies), ==, 0);

  /* Room again: it works, and after reopening everything is there. */
  g_remove (filler);
  g_assert_true (graft_project_set_labels (project, many, 50, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_no_error (error);
  graft_project_close (project);
  project = graft_project_open (folder, &error);
  g_assert_no_error (error);
  g_assert_true (graft_project_check_integrity (project, &error));
  g_assert_cmpuint (graft_project_count_labels (project, cat, &error), ==, 60);
  graft_project_close (project);
  g_hash_table_unref (before);
  remove_tree (outside);
  unmount_tmpfs (mountpoint);
}

static void
test_read_only (void)
{
  g_autofree char *mountpoint = mount_tmpfs ("4m");
  if (mountpoint == NULL)
    return;
  g_autofree char *folder = g_build_filename (mountpoint, "project", NULL);
  g_autofree char *images = g_build_filename (mountpoint, "images", NULL);
  write_fake_images (images, 20);
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_create (folder, "Read-only", &error);
  g_assert_no_error (error);
  g_autoptr (GraftImportReport) report = graft_import_folder (project, images, NULL, &error);
  gint64 cat = graft_project_add_class (project, "cat", NULL, &error);
  GraftImageQuery all = { GRAFT_FILTER_ALL };
  g_autoptr (GArray) ids = graft_project_query_ids (project, &all, &error);
  const gint64 *id = (const gint64 *) ids->data;
  g_assert_true (graft_project_set_labels (project, id, 5, cat, GRAFT_LABEL_PERSON, &error));
  graft_project_close (project);

  if (mount (NULL, mountpoint, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
    {
      g_test_skip ("cannot remount the tmpfs read-only");
      unmount_tmpfs (mountpoint);
      return;
    }
  g_autofree char *db_path = g_build_filename (folder, "project.db", NULL);
  project = graft_project_open (folder, &error);
  g_assert_no_error (error);
  g_assert_true (graft_project_is_read_only (project));
  g_assert_nonnull (strstr (graft_project_read_only_reason (project), "read-only"));
  /* Everything reads, */
  g_assert_cmpuint (graft_project_count_labels (project, cat, &error), ==, 5);
  g_autoptr (GArray) classes = graft_project_list_classes (project, &error);
  g_assert_cmpuint (classes->len, ==, 1);
  g_assert_true (graft_project_check_integrity (project, &error));
  /* nothing writes, each with a message naming the file. */
  g_assert_false (graft_project_set_label (project, id[10], cat, GRAFT_LABEL_PERSON, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_assert_nonnull (strstr (error->message, db_path));
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (graft_project_undo (project, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_autoptr (GraftImportReport) failed = graft_import_folder (project, images, NULL, &error);
  g_assert_null (failed);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_cmpint (graft_project_hash_pending (project, NULL, 0, &error), ==, -1);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_autoptr (GraftDataset) dataset = graft_project_dataset (project, GRAFT_SPLIT_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 5);
  graft_project_close (project);

  /* A new project in a read-only folder: a clear error. */
  g_autofree char *other = g_build_filename (mountpoint, "other", NULL);
  g_assert_null (graft_project_create (other, "x", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ_ONLY);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* Writable again: as it was. */
  g_assert_cmpint (mount (NULL, mountpoint, NULL, MS_REMOUNT, NULL), ==, 0);
  project = graft_project_open (folder, &error);
  g_assert_no_error (error);
  g_assert_false (graft_project_is_read_only (project));
  g_assert_cmpuint (graft_project_count_labels (project, cat, &error), ==, 5);
  g_assert_true (graft_project_set_label (project, id[10], cat, GRAFT_LABEL_PERSON, &error));
  graft_project_close (project);
  unmount_tmpfs (mountpoint);
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[1], "--labelling-burst") == 0)
    return labelling_burst (argv[2], atoi (argv[3]), argv[4]);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/project/crash/killed-bursts", test_killed_bursts);
  g_test_add_func ("/project/crash/disk-full", test_disk_full);
  g_test_add_func ("/project/crash/read-only", test_read_only);
  return g_test_run ();
}
