/* Datasets (ImageFolder reading, the stable split) and classification metrics. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/dataset.h"
#include "train/metrics.h"
#include "train/spec.h"
#include "gradcheck.h"

/* Helpers */

static void
touch (const char *root, const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, "x", 1, &error));
  g_assert_no_error (error);
}

static void
make_folder (const char *root, const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
}

static void
assert_item (const GraftDataset *dataset, guint i, const char *root, const char *relative, int label)
{
  g_assert_cmpuint (i, <, dataset->items->len);
  const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
  g_autofree char *expected = g_build_filename (root, relative, NULL);
  g_assert_cmpstr (item->path, ==, expected);
  g_assert_cmpint (item->label, ==, label);
}

/* A tree with classes in mixed case, nested folders, mixed-case extensions, hidden
 * files and folders, files that are not images, a file at the root and an empty class. */
static char *
make_image_folder (void)
{
  g_autoptr (GError) error = NULL;
  char *root = g_dir_make_tmp ("graft-imagefolder-XXXXXX", &error);
  g_assert_no_error (error);
  touch (root, "cat/a.png");
  touch (root, "cat/B.JPG");
  touch (root, "cat/c.jpeg");
  touch (root, "cat/.hidden.png");
  touch (root, "cat/notes.txt");
  touch (root, "cat/png");              /* no extension */
  touch (root, "cat/sub/d.PNG");
  touch (root, "cat/sub/deeper/f.Jpeg");
  touch (root, "cat/sub-x/e.jpg");
  touch (root, "cat/.thumbs/g.png");    /* hidden folder inside a class */
  make_folder (root, "cat/folder.png");  /* a folder named like an image */
  touch (root, "dog/x.jpg");
  touch (root, "dog/x.jpg.txt");
  touch (root, "Bird/z.png");
  touch (root, ".git/y.png");           /* hidden folder: not a class */
  touch (root, "root.png");             /* not in a class folder */
  make_folder (root, "empty");
  return root;
}

/* Dataset basics */

static void
test_dataset_basics (void)
{
  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  g_assert_cmpint (graft_dataset_add_class (dataset, "a"), ==, 0);
  g_assert_cmpint (graft_dataset_add_class (dataset, "b"), ==, 1);
  g_assert_cmpint (graft_dataset_add_class (dataset, "a"), ==, 0);
  g_assert_cmpuint (dataset->classes->len, ==, 2);
  graft_dataset_add (dataset, "1.png", 0);
  graft_dataset_add (dataset, "2.png", 1);
  graft_dataset_add (dataset, "3.png", 1);
  graft_dataset_add (dataset, "4.png", -1);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 4);
  g_autofree guint *counts = graft_dataset_class_counts (dataset);
  g_assert_cmpuint (counts[0], ==, 1);
  g_assert_cmpuint (counts[1], ==, 2);
}

/* ImageFolder */

static void
test_image_folder (void)
{
  g_autofree char *root = make_image_folder ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftDataset) dataset = graft_dataset_load_image_folder (root, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (dataset);

  /* Byte order: upper case first; hidden folders are not classes. */
  g_assert_cmpuint (dataset->classes->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 0), ==, "Bird");
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 1), ==, "cat");
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 2), ==, "dog");
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 3), ==, "empty");

  /* torchvision's order: sorted(os.walk(class)) sorts the folders by their whole path,
   * so "cat/sub-x" ('-' is 0x2d) comes before "cat/sub/deeper" ('/' is 0x2f); the
   * files of each folder in byte order. */
  guint i = 0;
  assert_item (dataset, i++, root, "Bird/z.png", 0);
  assert_item (dataset, i++, root, "cat/B.JPG", 1);
  assert_item (dataset, i++, root, "cat/a.png", 1);
  assert_item (dataset, i++, root, "cat/c.jpeg", 1);
  assert_item (dataset, i++, root, "cat/sub/d.PNG", 1);
  assert_item (dataset, i++, root, "cat/sub-x/e.jpg", 1);
  assert_item (dataset, i++, root, "cat/sub/deeper/f.Jpeg", 1);
  assert_item (dataset, i++, root, "dog/x.jpg", 2);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, i);

  g_autofree guint *counts = graft_dataset_class_counts (dataset);
  g_assert_cmpuint (counts[0], ==, 1);
  g_assert_cmpuint (counts[1], ==, 6);
  g_assert_cmpuint (counts[2], ==, 1);
  g_assert_cmpuint (counts[3], ==, 0);

  test_remove_tree (root);
}

static void
test_image_folder_given_classes (void)
{
  g_autofree char *root = make_image_folder ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = g_ptr_array_new ();
  g_ptr_array_add (classes, "dog");
  g_ptr_array_add (classes, "missing");
  g_ptr_array_add (classes, "cat");
  g_autoptr (GraftDataset) dataset = graft_dataset_load_image_folder (root, classes, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (dataset->classes->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 0), ==, "dog");
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 1), ==, "missing");
  g_assert_cmpstr (g_ptr_array_index (dataset->classes, 2), ==, "cat");
  assert_item (dataset, 0, root, "dog/x.jpg", 0);
  assert_item (dataset, 1, root, "cat/B.JPG", 2);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 7);   /* no Bird */
  g_autofree guint *counts = graft_dataset_class_counts (dataset);
  g_assert_cmpuint (counts[0], ==, 1);
  g_assert_cmpuint (counts[1], ==, 0);
  g_assert_cmpuint (counts[2], ==, 6);

  /* A class given twice, or a name that is not a folder name, is refused. */
  g_autoptr (GPtrArray) twice = g_ptr_array_new ();
  g_ptr_array_add (twice, "dog");
  g_ptr_array_add (twice, "dog");
  g_assert_null (graft_dataset_load_image_folder (root, twice, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (GPtrArray) escape = g_ptr_array_new ();
  g_ptr_array_add (escape, "../x");
  g_assert_null (graft_dataset_load_image_folder (root, escape, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID);
  g_clear_error (&error);

  /* None of the given classes here: an error naming the root. */
  g_autoptr (GPtrArray) others = g_ptr_array_new ();
  g_ptr_array_add (others, "horse");
  g_assert_null (graft_dataset_load_image_folder (root, others, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, root));

  test_remove_tree (root);
}

static void
test_image_folder_symlink_loop (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-imagefolder-XXXXXX", &error);
  g_assert_no_error (error);
  touch (root, "a/1.png");
  touch (root, "a/sub/2.png");
  g_autofree char *link = g_build_filename (root, "a", "sub", "loop", NULL);
  g_assert_cmpint (symlink ("..", link), ==, 0);   /* a/sub/loop -> a */
  g_autoptr (GraftDataset) dataset = graft_dataset_load_image_folder (root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 2);
  test_remove_tree (root);
}

/* The skipped entry whose path ends with suffix; its reason contains reason. */
static void
assert_skipped (const GraftDataset *dataset, const char *suffix, const char *reason)
{
  for (guint i = 0; i < dataset->skipped->len; i++)
    {
      const GraftDatasetSkip *skip = &g_array_index (dataset->skipped, GraftDatasetSkip, i);
      if (g_str_has_suffix (skip->path, suffix))
        {
          g_test_message ("%s: %s", skip->path, skip->reason);
          g_assert_nonnull (strstr (skip->reason, reason));
          return;
        }
    }
  g_error ("%s is not among the %u skipped entries", suffix, dataset->skipped->len);
}

/* a/loop -> .. inside a class folder is the root: following it pulled every class's
 * images into class a (15 images became 23). */
static void
test_image_folder_link_to_root (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-imagefolder-XXXXXX", &error);
  g_assert_no_error (error);
  const char *classes[] = { "a", "b", "c" };
  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 5; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s/%u.png", classes[c], i);
        touch (root, name);
      }
  g_autofree char *link = g_build_filename (root, "a", "loop", NULL);
  g_assert_cmpint (symlink ("..", link), ==, 0);
  g_autofree char *up = g_build_filename (root, "b", "up", NULL);
  g_assert_cmpint (symlink ("../..", up), ==, 0);   /* above the root */

  g_autoptr (GraftDataset) dataset = graft_dataset_load_image_folder (root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->classes->len, ==, 3);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 15);
  g_autofree guint *counts = graft_dataset_class_counts (dataset);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpuint (counts[c], ==, 5);
  g_assert_cmpuint (dataset->skipped->len, ==, 2);
  assert_skipped (dataset, "a/loop", "back up the tree");
  assert_skipped (dataset, "b/up", "back up the tree");
  test_remove_tree (root);
}

/* Links between classes: a file or folder of class b linked from class a stays b's; a
 * FIFO named like an image is not an item (the loader would block opening it). */
static void
test_image_folder_links_and_fifos (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-imagefolder-XXXXXX", &error);
  g_assert_no_error (error);
  touch (root, "a/1.png");
  touch (root, "b/2.png");
  touch (root, "b/sub/3.png");
  touch (root, "outside/4.png");
  g_autofree char *file_link = g_build_filename (root, "a", "2-link.png", NULL);
  g_assert_cmpint (symlink ("../b/2.png", file_link), ==, 0);
  g_autofree char *folder_link = g_build_filename (root, "a", "b-sub", NULL);
  g_assert_cmpint (symlink ("../b/sub", folder_link), ==, 0);
  g_autofree char *outside_link = g_build_filename (root, "b", "elsewhere", NULL);
  g_assert_cmpint (symlink ("../outside", outside_link), ==, 0);   /* a class of its own too */
  g_autofree char *hard = g_build_filename (root, "b", "hard.png", NULL);
  g_autofree char *one = g_build_filename (root, "a", "1.png", NULL);
  g_assert_cmpint (link (one, hard), ==, 0);
  g_autofree char *fifo = g_build_filename (root, "a", "x.png", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  g_autoptr (GraftDataset) dataset = graft_dataset_load_image_folder (root, NULL, &error);
  g_assert_no_error (error);
  guint i = 0;
  assert_item (dataset, i++, root, "a/1.png", 0);
  assert_item (dataset, i++, root, "b/2.png", 1);
  assert_item (dataset, i++, root, "b/sub/3.png", 1);
  assert_item (dataset, i++, root, "outside/4.png", 2);
  g_assert_cmpuint (graft_dataset_size (dataset), ==, i);
  assert_skipped (dataset, "a/x.png", "a FIFO");
  assert_skipped (dataset, "a/2-link.png", "the same file as");
  assert_skipped (dataset, "a/b-sub", "already listed");
  assert_skipped (dataset, "b/hard.png", "the same file as");
  assert_skipped (dataset, "b/elsewhere", "already listed");
  g_assert_cmpuint (dataset->skipped->len, ==, 5);
  test_remove_tree (root);
}

static void
test_image_folder_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("graft-imagefolder-XXXXXX", &error);
  g_assert_no_error (error);

  /* Missing root. */
  g_autofree char *missing = g_build_filename (root, "nowhere", NULL);
  g_assert_null (graft_dataset_load_image_folder (missing, NULL, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* A root that is a file. */
  touch (root, "file.png");
  g_autofree char *file = g_build_filename (root, "file.png", NULL);
  g_assert_null (graft_dataset_load_image_folder (file, NULL, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, file));
  g_clear_error (&error);

  /* A root with images but no class folder (hidden folders do not count). */
  touch (root, ".hidden/a.png");
  g_assert_null (graft_dataset_load_image_folder (root, NULL, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, root));
  g_clear_error (&error);

  /* A class folder that cannot be read is named (root ignores permissions). */
  if (geteuid () != 0)
    {
      touch (root, "locked/inner/a.png");
      g_autofree char *locked = g_build_filename (root, "locked", "inner", NULL);
      g_assert_cmpint (g_chmod (locked, 0), ==, 0);
      g_assert_null (graft_dataset_load_image_folder (root, NULL, &error));
      g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO);
      g_assert_nonnull (strstr (error->message, locked));
      g_clear_error (&error);
      g_chmod (locked, 0755);
    }

  test_remove_tree (root);
}

/* The split */

static GraftDataset *
synthetic_dataset (guint first, guint n, guint step, int classes)
{
  GraftDataset *dataset = graft_dataset_new ();
  for (int c = 0; c < classes; c++)
    {
      g_autofree char *name = g_strdup_printf ("class%d", c);
      graft_dataset_add_class (dataset, name);
    }
  for (guint i = first; i < first + n * step; i += step)
    {
      g_autofree char *path = g_strdup_printf ("/data/images/class%u/img_%05u.jpg", i % (guint) classes, i);
      graft_dataset_add (dataset, path, (int) (i % (guint) classes));
    }
  return dataset;
}

static GHashTable *
path_set (const GraftDataset *dataset)
{
  GHashTable *set = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < dataset->items->len; i++)
    g_hash_table_add (set, g_array_index (dataset->items, GraftDatasetItem, i).path);
  return set;
}

static void
test_split_stable (void)
{
  /* Old: every other index; new: all of them, so new items sit between old ones. */
  g_autoptr (GraftDataset) old = synthetic_dataset (0, 1000, 2, 3);
  g_autoptr (GraftDataset) superset = synthetic_dataset (0, 2000, 1, 3);
  GraftDataset *old_train, *old_validation, *new_train, *new_validation;
  graft_dataset_split (old, 0.25f, 42, &old_train, &old_validation);
  graft_dataset_split (superset, 0.25f, 42, &new_train, &new_validation);
  g_assert_cmpuint (old_train->items->len + old_validation->items->len, ==, 1000);
  g_assert_cmpuint (new_train->items->len + new_validation->items->len, ==, 2000);
  g_assert_cmpuint (old_validation->items->len, >, 0);
  g_assert_cmpuint (old_train->items->len, >, 0);

  g_autoptr (GHashTable) new_train_set = path_set (new_train);
  g_autoptr (GHashTable) new_validation_set = path_set (new_validation);
  for (guint i = 0; i < old_train->items->len; i++)
    g_assert_true (g_hash_table_contains (new_train_set, g_array_index (old_train->items, GraftDatasetItem, i).path));
  for (guint i = 0; i < old_validation->items->len; i++)
    g_assert_true (
        g_hash_table_contains (new_validation_set, g_array_index (old_validation->items, GraftDatasetItem, i).path));

  /* Classes and labels travel; item order is kept. */
  g_assert_cmpuint (new_train->classes->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (new_validation->classes, 2), ==, "class2");
  for (guint i = 0; i < new_validation->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (new_validation->items, GraftDatasetItem, i);
      guint index;
      g_assert_cmpint (sscanf (strrchr (item->path, '_') + 1, "%u", &index), ==, 1);
      g_assert_cmpint (item->label, ==, (int) (index % 3));
    }

  /* The same seed gives the same split; another seed another one. */
  GraftDataset *again_train, *again_validation, *other_train, *other_validation;
  graft_dataset_split (superset, 0.25f, 42, &again_train, &again_validation);
  graft_dataset_split (superset, 0.25f, 43, &other_train, &other_validation);
  g_assert_cmpuint (again_validation->items->len, ==, new_validation->items->len);
  for (guint i = 0; i < again_validation->items->len; i++)
    g_assert_cmpstr (g_array_index (again_validation->items, GraftDatasetItem, i).path, ==,
                     g_array_index (new_validation->items, GraftDatasetItem, i).path);
  g_autoptr (GHashTable) other_validation_set = path_set (other_validation);
  guint shared = 0;
  for (guint i = 0; i < new_validation->items->len; i++)
    shared += g_hash_table_contains (other_validation_set, g_array_index (new_validation->items, GraftDatasetItem, i).path);
  g_assert_cmpuint (shared, <, new_validation->items->len * 2 / 3);   /* about a quarter expected */

  graft_dataset_free (old_train);
  graft_dataset_free (old_validation);
  graft_dataset_free (new_train);
  graft_dataset_free (new_validation);
  graft_dataset_free (again_train);
  graft_dataset_free (again_validation);
  graft_dataset_free (other_train);
  graft_dataset_free (other_validation);
}

static void
test_split_fraction (void)
{
  g_autoptr (GraftDataset) dataset = synthetic_dataset (0, 10000, 1, 10);
  const float fractions[] = { 0.05f, 0.2f, 0.5f, 0.9f };
  const guint64 seeds[] = { 0, 1, 0xdeadbeefcafeull };
  for (guint f = 0; f < G_N_ELEMENTS (fractions); f++)
    for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
      {
        GraftDataset *train, *validation;
        graft_dataset_split (dataset, fractions[f], seeds[s], &train, &validation);
        double n = 10000, p = fractions[f];
        double sigma = sqrt (n * p * (1 - p));
        double got = validation->items->len;
        if (fabs (got - n * p) > 3 * sigma)
          g_error ("fraction %g seed %" G_GUINT64_FORMAT ": %g in validation, expected %g ± %g", p, seeds[s], got,
                   n * p, 3 * sigma);
        g_assert_cmpuint (train->items->len + validation->items->len, ==, 10000);
        graft_dataset_free (train);
        graft_dataset_free (validation);
      }

  /* 0 and 1 are exact. */
  GraftDataset *train, *validation;
  graft_dataset_split (dataset, 0.0f, 7, &train, &validation);
  g_assert_cmpuint (validation->items->len, ==, 0);
  g_assert_cmpuint (train->items->len, ==, 10000);
  graft_dataset_free (train);
  graft_dataset_free (validation);
  graft_dataset_split (dataset, 1.0f, 7, &train, &validation);
  g_assert_cmpuint (validation->items->len, ==, 10000);
  g_assert_cmpuint (train->items->len, ==, 0);
  graft_dataset_free (train);
  graft_dataset_free (validation);

  /* Either side may be NULL. */
  graft_dataset_split (dataset, 0.5f, 7, NULL, &validation);
  graft_dataset_free (validation);
  graft_dataset_split (dataset, 0.5f, 7, &train, NULL);
  graft_dataset_free (train);
}

static void
test_split_unlabelled (void)
{
  g_autoptr (GraftDataset) dataset = synthetic_dataset (0, 100, 1, 2);
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *path = g_strdup_printf ("/data/unlabelled/%d.png", i);
      graft_dataset_add (dataset, path, -1);
    }
  g_assert_cmpuint (graft_dataset_size (dataset), ==, 150);
  const float fractions[] = { 0.0f, 0.3f, 1.0f };
  for (guint f = 0; f < G_N_ELEMENTS (fractions); f++)
    {
      GraftDataset *train, *validation;
      graft_dataset_split (dataset, fractions[f], 3, &train, &validation);
      g_assert_cmpuint (train->items->len + validation->items->len, ==, 100);
      for (guint i = 0; i < train->items->len; i++)
        g_assert_cmpint (g_array_index (train->items, GraftDatasetItem, i).label, >=, 0);
      for (guint i = 0; i < validation->items->len; i++)
        g_assert_cmpint (g_array_index (validation->items, GraftDatasetItem, i).label, >=, 0);
      graft_dataset_free (train);
      graft_dataset_free (validation);
    }
}

/* Metrics */

static void
test_metrics_example (void)
{
  /* 3 classes, 8 items:
   *   true 0: predicted 0, 0, 1
   *   true 1: predicted 1, 2
   *   true 2: predicted 2, 2, 0
   * confusion = [[2 1 0] [0 1 1] [1 0 2]], accuracy 5/8. */
  const float logits[8 * 3] = {
    3, 1, 0,     /* 0 -> 0 */
    0.5f, 0, 0,  /* 0 -> 0 */
    0, 2, 1,     /* 0 -> 1 */
    -1, 4, 3,    /* 1 -> 1 */
    0, 1, 1.5f,  /* 1 -> 2 */
    0, 0, 9,     /* 2 -> 2 */
    1, 2, 3,     /* 2 -> 2 */
    7, 6, 5,     /* 2 -> 0 */
  };
  const int32_t labels[8] = { 0, 0, 0, 1, 1, 2, 2, 2 };
  g_autoptr (GraftMetrics) metrics = graft_metrics_new (3);
  g_assert_true (isnan (graft_metrics_loss (metrics)));
  g_assert_true (isnan (graft_metrics_accuracy (metrics)));
  /* Two batches of 5 and 3 items, mean losses 1.0 and 2.0: mean 11/8. */
  graft_metrics_add (metrics, logits, labels, 5, 1.0);
  graft_metrics_add (metrics, logits + 5 * 3, labels + 5, 3, 2.0);

  const guint64 expected[9] = { 2, 1, 0, 0, 1, 1, 1, 0, 2 };
  for (int i = 0; i < 9; i++)
    g_assert_cmpuint (metrics->confusion[i], ==, expected[i]);
  g_assert_cmpuint (metrics->count, ==, 8);
  g_assert_cmpfloat_with_epsilon (graft_metrics_accuracy (metrics), 5.0 / 8.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (graft_metrics_loss (metrics), 11.0 / 8.0, 1e-12);

  /* class 0: P = 2/3 (column 2,0,1), R = 2/3; class 1: P = 1/2, R = 1/2; class 2: P = 2/3, R = 2/3. */
  GraftClassMetrics c0 = graft_metrics_class (metrics, 0);
  GraftClassMetrics c1 = graft_metrics_class (metrics, 1);
  GraftClassMetrics c2 = graft_metrics_class (metrics, 2);
  g_assert_cmpfloat_with_epsilon (c0.precision, 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c0.recall, 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c0.f1, 2.0 / 3.0, 1e-12);
  g_assert_cmpuint (c0.support, ==, 3);
  g_assert_cmpfloat_with_epsilon (c1.precision, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (c1.recall, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (c1.f1, 0.5, 1e-12);
  g_assert_cmpuint (c1.support, ==, 2);
  g_assert_cmpfloat_with_epsilon (c2.precision, 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c2.recall, 2.0 / 3.0, 1e-12);
  g_assert_cmpuint (c2.support, ==, 3);
  g_assert_cmpfloat_with_epsilon (graft_metrics_macro_f1 (metrics), (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-12);

  /* Copy is deep; reset empties. */
  g_autoptr (GraftMetrics) copy = graft_metrics_copy (metrics);
  graft_metrics_reset (metrics);
  g_assert_cmpuint (metrics->count, ==, 0);
  g_assert_cmpuint (metrics->confusion[0], ==, 0);
  g_assert_true (isnan (graft_metrics_macro_f1 (metrics)));
  g_assert_cmpuint (copy->confusion[0], ==, 2);
  g_assert_cmpuint (copy->count, ==, 8);
  g_assert_cmpfloat_with_epsilon (graft_metrics_accuracy (copy), 5.0 / 8.0, 1e-12);
}

static void
test_metrics_precision_recall_asymmetric (void)
{
  /* 2 classes: true 0 x4 all predicted 0; true 1 x2: one predicted 0, one 1.
   * class 0: P = 4/5, R = 1, F1 = 8/9; class 1: P = 1, R = 1/2, F1 = 2/3. */
  const float logits[6 * 2] = { 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1 };
  const int32_t labels[6] = { 0, 0, 0, 0, 1, 1 };
  g_autoptr (GraftMetrics) metrics = graft_metrics_new (2);
  graft_metrics_add (metrics, logits, labels, 6, 0.5);
  GraftClassMetrics c0 = graft_metrics_class (metrics, 0);
  GraftClassMetrics c1 = graft_metrics_class (metrics, 1);
  g_assert_cmpfloat_with_epsilon (c0.precision, 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (c0.recall, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c0.f1, 8.0 / 9.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c1.precision, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (c1.recall, 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (c1.f1, 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (graft_metrics_macro_f1 (metrics), (8.0 / 9.0 + 2.0 / 3.0) / 2, 1e-12);
  g_assert_cmpfloat_with_epsilon (graft_metrics_loss (metrics), 0.5, 1e-12);
}

static void
test_metrics_edge_cases (void)
{
  g_autoptr (GraftMetrics) metrics = graft_metrics_new (3);
  /* Ties go to the first index; NaN never wins; all NaN predicts 0. */
  const float logits[4 * 3] = {
    1, 1, 1,          /* -> 0 */
    0, 5, 5,          /* -> 1 */
    NAN, 1, 2,        /* -> 2 */
    NAN, NAN, NAN,    /* -> 0 */
  };
  const int32_t labels[4] = { 2, 2, 2, 2 };
  graft_metrics_add (metrics, logits, labels, 4, NAN);
  g_assert_cmpuint (metrics->confusion[2 * 3 + 0], ==, 2);
  g_assert_cmpuint (metrics->confusion[2 * 3 + 1], ==, 1);
  g_assert_cmpuint (metrics->confusion[2 * 3 + 2], ==, 1);
  g_assert_true (isnan (graft_metrics_loss (metrics)));   /* loss not known */
  g_assert_cmpfloat_with_epsilon (graft_metrics_accuracy (metrics), 0.25, 1e-12);

  /* A class never predicted has precision 0; a class with no item recall 0. */
  GraftClassMetrics c1 = graft_metrics_class (metrics, 1);
  g_assert_cmpfloat (c1.precision, ==, 0.0);
  g_assert_cmpfloat (c1.recall, ==, 0.0);
  g_assert_cmpfloat (c1.f1, ==, 0.0);
  g_assert_cmpuint (c1.support, ==, 0);

  /* An empty batch changes nothing. */
  graft_metrics_add (metrics, NULL, NULL, 0, 1.0);
  g_assert_cmpuint (metrics->count, ==, 4);

  /* Macro F1 is over the classes that appear: here all three (0 and 1 as predictions). */
  g_autoptr (GraftMetrics) two = graft_metrics_new (4);
  const float l2[2 * 4] = { 1, 0, 0, 0, 0, 1, 0, 0 };
  const int32_t y2[2] = { 0, 1 };
  graft_metrics_add (two, l2, y2, 2, 0.1);
  g_assert_cmpfloat_with_epsilon (graft_metrics_macro_f1 (two), 1.0, 1e-12);
}

/* The same images split the same way wherever their folder is and however it is named. */
static void
test_split_location_independent (void)
{
  const char *const roots[] = { "data", "./data", "/home/someone/photos/data" };
  guint validation_sizes[3];
  g_autoptr (GPtrArray) first = g_ptr_array_new_with_free_func (g_free);

  for (int r = 0; r < 3; r++)
    {
      g_autoptr (GraftDataset) dataset = graft_dataset_new ();
      GraftDataset *train = NULL, *validation = NULL;
      graft_dataset_add_class (dataset, "cat");
      graft_dataset_add_class (dataset, "dog");
      for (int i = 0; i < 200; i++)
        {
          g_autofree char *path = g_strdup_printf ("%s/%s/img%03d.png", roots[r], i % 2 ? "dog" : "cat", i);
          graft_dataset_add (dataset, path, i % 2);
        }
      graft_dataset_split (dataset, 0.25f, 7, &train, &validation);
      validation_sizes[r] = validation->items->len;
      for (guint i = 0; i < validation->items->len; i++)
        {
          const char *path = g_array_index (validation->items, GraftDatasetItem, i).path;
          const char *tail = strstr (path, r == 0 ? "data/" : "data/") + 5;
          if (r == 0)
            g_ptr_array_add (first, g_strdup (tail));
          else
            g_assert_cmpstr (tail, ==, g_ptr_array_index (first, i));
        }
      graft_dataset_free (train);
      graft_dataset_free (validation);
    }
  g_assert_cmpuint (validation_sizes[0], ==, validation_sizes[1]);
  g_assert_cmpuint (validation_sizes[0], ==, validation_sizes[2]);
  g_assert_cmpuint (validation_sizes[0], >, 20);
}

/* A copy keeps the classes and the items whose label is below the limit; G_MAXINT keeps
 * them all, unlabelled ones included. */
static void
test_dataset_copy (void)
{
  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  g_autoptr (GraftDataset) all = NULL;
  g_autoptr (GraftDataset) labelled = NULL;

  graft_dataset_add_class (dataset, "cat");
  graft_dataset_add_class (dataset, "dog");
  graft_dataset_add_class (dataset, "fox");
  graft_dataset_add (dataset, "a.png", 0);
  graft_dataset_add (dataset, "b.png", -1);
  graft_dataset_add (dataset, "c.png", 2);
  graft_dataset_add (dataset, "d.png", 1);

  all = graft_dataset_copy (dataset, G_MAXINT);
  g_assert_cmpuint (all->classes->len, ==, 3);
  g_assert_cmpuint (graft_dataset_size (all), ==, 4);
  g_assert_cmpstr (g_array_index (all->items, GraftDatasetItem, 1).path, ==, "b.png");
  g_assert_cmpint (g_array_index (all->items, GraftDatasetItem, 1).label, ==, -1);

  labelled = graft_dataset_copy (dataset, 2);
  g_assert_cmpuint (labelled->classes->len, ==, 3);
  g_assert_cmpuint (graft_dataset_size (labelled), ==, 2);
  g_assert_cmpstr (g_array_index (labelled->items, GraftDatasetItem, 0).path, ==, "a.png");
  g_assert_cmpstr (g_array_index (labelled->items, GraftDatasetItem, 1).path, ==, "d.png");
  g_assert_cmpint (g_array_index (labelled->items, GraftDatasetItem, 1).label, ==, 1);

  g_assert_null (graft_dataset_copy (NULL, G_MAXINT));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/dataset/basics", test_dataset_basics);
  g_test_add_func ("/train/dataset/copy", test_dataset_copy);
  g_test_add_func ("/train/dataset/image-folder", test_image_folder);
  g_test_add_func ("/train/dataset/image-folder-given-classes", test_image_folder_given_classes);
  g_test_add_func ("/train/dataset/image-folder-symlink-loop", test_image_folder_symlink_loop);
  g_test_add_func ("/train/dataset/image-folder-link-to-root", test_image_folder_link_to_root);
  g_test_add_func ("/train/dataset/image-folder-links-and-fifos", test_image_folder_links_and_fifos);
  g_test_add_func ("/train/dataset/image-folder-errors", test_image_folder_errors);
  g_test_add_func ("/train/dataset/split-stable", test_split_stable);
  g_test_add_func ("/train/dataset/split-fraction", test_split_fraction);
  g_test_add_func ("/train/dataset/split-unlabelled", test_split_unlabelled);
  g_test_add_func ("/train/dataset/split-location-independent", test_split_location_independent);
  g_test_add_func ("/train/metrics/example", test_metrics_example);
  g_test_add_func ("/train/metrics/asymmetric", test_metrics_precision_recall_asymmetric);
  g_test_add_func ("/train/metrics/edge-cases", test_metrics_edge_cases);
  return g_test_run ();
}
