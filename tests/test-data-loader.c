/* The batch loader (src/data/loader.h): every item once per epoch with its label,
 * orders that depend on seed and epoch only, identical batches whatever the thread
 * count, corrupt files skipped and reported. Uses the images of tests/data/images. */
#include <glib.h>
#include <string.h>

#include "data/image.h"
#include "data/loader.h"

#include "test-project-helpers.h"

/* Decodable images of several formats and sizes; labels are made up. */
static const char *const good_names[] = {
  "png-rgb.png", "png-palette.png", "png-grey.png", "png-grey-alpha.png", "png-rgba16.png",
  "png-interlaced.png", "png-exif6.png", "jpeg-baseline.jpg", "jpeg-progressive.jpg",
  "jpeg-grey.jpg", "jpeg-cmyk.jpg", "jpeg-exif6.jpg", "jpeg-exif3.jpg", "jpeg-large.jpg",
  "resize-land.png", "resize-port.png", "resize-small.png",
};

typedef struct {
  GPtrArray *paths;          /* owned strings */
  GArray *items;             /* GraftLoaderItem, paths borrowed from paths */
} ItemList;

static void
item_list_free (ItemList *list)
{
  g_ptr_array_unref (list->paths);
  g_array_unref (list->items);
  g_free (list);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ItemList, item_list_free)

static void
item_list_add (ItemList *list, const char *name, gint32 label)
{
  char *path = g_test_build_filename (G_TEST_DIST, "data", "images", name, NULL);
  g_ptr_array_add (list->paths, path);
  GraftLoaderItem item = { path, label };
  g_array_append_val (list->items, item);
}

/* n items cycling through the good images, label 100 + i; bad names (NULL-terminated)
 * inserted at the given positions. */
static ItemList *
make_items (guint n, const char *const *bad, const guint *bad_positions)
{
  ItemList *list = g_new0 (ItemList, 1);
  list->paths = g_ptr_array_new_with_free_func (g_free);
  list->items = g_array_new (FALSE, FALSE, sizeof (GraftLoaderItem));
  guint b = 0;
  for (guint i = 0; i < n; i++)
    {
      if (bad != NULL && bad[b] != NULL && bad_positions[b] == i)
        {
          item_list_add (list, bad[b], -1);
          b++;
        }
      else
        item_list_add (list, good_names[i % G_N_ELEMENTS (good_names)], 100 + (gint32) i);
    }
  return list;
}

static void
small_options (GraftLoaderOptions *options)
{
  graft_loader_options_init (options);
  options->preprocessing.size = 16;
  options->preprocessing.resize = 20;
  options->batch_size = 8;
  options->seed = 1234;
}

static GraftLoader *
new_loader (ItemList *list, const GraftLoaderOptions *options)
{
  g_autoptr (GError) error = NULL;
  GraftLoader *loader = graft_loader_new ((const GraftLoaderItem *) list->items->data, list->items->len,
                                          options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loader);
  return loader;
}

/* All batches of one epoch, concatenated. */
typedef struct {
  GArray *sizes;       /* int */
  GArray *indices;     /* guint */
  GArray *labels;      /* gint32 */
  GArray *floats;      /* float */
} Epoch;

static void
epoch_free (Epoch *epoch)
{
  g_array_unref (epoch->sizes);
  g_array_unref (epoch->indices);
  g_array_unref (epoch->labels);
  g_array_unref (epoch->floats);
  g_free (epoch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Epoch, epoch_free)

static Epoch *
run_epoch (GraftLoader *loader, guint number)
{
  Epoch *epoch = g_new0 (Epoch, 1);
  epoch->sizes = g_array_new (FALSE, FALSE, sizeof (int));
  epoch->indices = g_array_new (FALSE, FALSE, sizeof (guint));
  epoch->labels = g_array_new (FALSE, FALSE, sizeof (gint32));
  epoch->floats = g_array_new (FALSE, FALSE, sizeof (float));

  graft_loader_start_epoch (loader, number);
  GraftBatch *batch = NULL;
  g_autoptr (GError) error = NULL;
  while (graft_loader_next (loader, &batch, &error))
    {
      g_assert_no_error (error);
      g_assert_cmpint (batch->size, >, 0);
      g_assert_cmpint (batch->channels, ==, 3);
      g_assert_cmpint (batch->height, ==, 16);
      g_array_append_val (epoch->sizes, batch->size);
      g_array_append_vals (epoch->indices, batch->indices, batch->size);
      g_array_append_vals (epoch->labels, batch->labels, batch->size);
      g_array_append_vals (epoch->floats, batch->images, (guint) batch->size * 3 * 16 * 16);
      graft_batch_free (batch);
    }
  g_assert_no_error (error);
  g_assert_null (batch);
  /* After the end: still the end. */
  g_assert_false (graft_loader_next (loader, &batch, &error));
  g_assert_no_error (error);
  return epoch;
}

static void
assert_same_epoch (const Epoch *a, const Epoch *b)
{
  g_assert_cmpmem (a->sizes->data, a->sizes->len * sizeof (int), b->sizes->data, b->sizes->len * sizeof (int));
  g_assert_cmpmem (a->indices->data, a->indices->len * sizeof (guint), b->indices->data,
                   b->indices->len * sizeof (guint));
  g_assert_cmpmem (a->labels->data, a->labels->len * sizeof (gint32), b->labels->data,
                   b->labels->len * sizeof (gint32));
  g_assert_cmpmem (a->floats->data, a->floats->len * sizeof (float), b->floats->data,
                   b->floats->len * sizeof (float));
}

static void
test_every_item_once (void)
{
  g_autoptr (ItemList) list = make_items (37, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  g_autoptr (GraftLoader) loader = new_loader (list, &options);
  g_autoptr (Epoch) epoch = run_epoch (loader, 0);

  /* 37 = 4 x 8 + 5: the last, partial batch is returned. */
  g_assert_cmpuint (epoch->sizes->len, ==, 5);
  for (guint b = 0; b < 4; b++)
    g_assert_cmpint (g_array_index (epoch->sizes, int, b), ==, 8);
  g_assert_cmpint (g_array_index (epoch->sizes, int, 4), ==, 5);

  g_assert_cmpuint (epoch->indices->len, ==, 37);
  g_autofree int *seen = g_new0 (int, 37);
  for (guint k = 0; k < 37; k++)
    {
      const guint index = g_array_index (epoch->indices, guint, k);
      g_assert_cmpuint (index, <, 37);
      seen[index]++;
      g_assert_cmpint (g_array_index (epoch->labels, gint32, k), ==, 100 + (gint32) index);

      /* The floats are that item's preprocessing (no augmentation here). */
      const GraftLoaderItem *item = &g_array_index (list->items, GraftLoaderItem, index);
      g_autoptr (GraftImage) image = graft_image_load_at_least (item->path, 20, NULL);
      float expected[3 * 16 * 16];
      graft_preprocess (image, &options.preprocessing, expected);
      g_assert_cmpmem (&g_array_index (epoch->floats, float, (gsize) k * 768), sizeof expected,
                       expected, sizeof expected);
    }
  for (guint i = 0; i < 37; i++)
    g_assert_cmpint (seen[i], ==, 1);
  g_assert_cmpuint (graft_loader_get_failures (loader)->len, ==, 0);
  g_assert_cmpfloat (graft_loader_wait_seconds (loader), >=, 0.0);
}

static gboolean
same_indices (const Epoch *a, const Epoch *b)
{
  return a->indices->len == b->indices->len
         && memcmp (a->indices->data, b->indices->data, a->indices->len * sizeof (guint)) == 0;
}

static void
test_order (void)
{
  g_autoptr (ItemList) list = make_items (30, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  g_autoptr (GraftLoader) a = new_loader (list, &options);
  g_autoptr (GraftLoader) b = new_loader (list, &options);

  g_autoptr (Epoch) a0 = run_epoch (a, 0);
  g_autoptr (Epoch) a1 = run_epoch (a, 1);
  g_autoptr (Epoch) b1 = run_epoch (b, 1);   /* another loader, straight to epoch 1 */
  g_autoptr (Epoch) b0 = run_epoch (b, 0);
  g_autoptr (Epoch) a0again = run_epoch (a, 0);
  assert_same_epoch (a0, b0);
  assert_same_epoch (a1, b1);
  assert_same_epoch (a0, a0again);
  g_assert_false (same_indices (a0, a1));

  /* The order is the announced one. */
  guint order[30];
  graft_loader_epoch_order (a, 1, order);
  g_assert_cmpmem (order, sizeof order, a1->indices->data, sizeof order);

  /* Another seed, another order; no shuffle, the items' order. */
  options.seed = 99;
  g_autoptr (GraftLoader) c = new_loader (list, &options);
  g_autoptr (Epoch) c0 = run_epoch (c, 0);
  g_assert_false (same_indices (a0, c0));
  options.shuffle = FALSE;
  g_autoptr (GraftLoader) d = new_loader (list, &options);
  g_autoptr (Epoch) d3 = run_epoch (d, 3);
  for (guint i = 0; i < 30; i++)
    g_assert_cmpuint (g_array_index (d3->indices, guint, i), ==, i);
}

static void
test_threads_identical (void)
{
  g_autoptr (ItemList) list = make_items (41, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  graft_augmentation_init_default (&options.augmentation);

  Epoch *runs[3][2];
  const int threads[3] = { 1, 3, 0 };
  for (int t = 0; t < 3; t++)
    {
      options.threads = threads[t];
      g_autoptr (GraftLoader) loader = new_loader (list, &options);
      for (guint e = 0; e < 2; e++)
        runs[t][e] = run_epoch (loader, e);
    }
  for (int t = 1; t < 3; t++)
    for (guint e = 0; e < 2; e++)
      assert_same_epoch (runs[0][e], runs[t][e]);
  /* Augmentation differs between epochs for the same item. */
  g_assert_true (memcmp (runs[0][0]->floats->data, runs[0][1]->floats->data,
                         runs[0][0]->floats->len * sizeof (float)) != 0);
  for (int t = 0; t < 3; t++)
    for (guint e = 0; e < 2; e++)
      epoch_free (runs[t][e]);
}

/* Eight workers share the decoders' total memory budget: what they hold at once (each
 * decode, and its image until it is preprocessed) never exceeds it; they wait for each
 * other instead, and the batches are the same as with no budget. */
static void
test_memory_budget (void)
{
  g_autofree char *folder = make_temp_dir ();
  g_autoptr (ItemList) list = g_new0 (ItemList, 1);
  list->paths = g_ptr_array_new_with_free_func (g_free);
  list->items = g_array_new (FALSE, FALSE, sizeof (GraftLoaderItem));
  for (int i = 0; i < 24; i++)
    {
      /* 800x600: about 2.5 MB each to decode (file, buffers, 1.4 MB of pixels). */
      char *path = g_strdup_printf ("%s/%02d.png", folder, i);
      write_png (path, 800, 600, (guint) i);
      g_ptr_array_add (list->paths, path);
      GraftLoaderItem item = { path, i };
      g_array_append_val (list->items, item);
    }
  GraftLoaderOptions options;
  small_options (&options);
  options.decode_min_side = 0;   /* full size */
  graft_augmentation_init_default (&options.augmentation);
  options.threads = 8;
  options.queue_batches = 4;

  g_autoptr (GraftLoader) free_loader = new_loader (list, &options);
  graft_image_memory_peak (TRUE);
  g_autoptr (Epoch) reference = run_epoch (free_loader, 0);
  const gsize free_peak = graft_image_memory_peak (TRUE);

  /* Room for one decode at a time. */
  const gsize total = (gsize) 4 << 20;
  graft_image_set_memory_limits (total, total);
  g_autoptr (GraftLoader) loader = new_loader (list, &options);
  g_autoptr (Epoch) epoch = run_epoch (loader, 0);
  const gsize peak = graft_image_memory_peak (TRUE);
  graft_image_set_memory_limits (0, 0);

  g_test_message ("8 threads held at most %" G_GSIZE_FORMAT " KiB of %" G_GSIZE_FORMAT " KiB (%" G_GSIZE_FORMAT
                  " KiB with the default total)", peak >> 10, total >> 10, free_peak >> 10);
  g_assert_cmpuint (peak, <=, total);
  g_assert_cmpuint (peak, >=, (gsize) 2 << 20);
  g_assert_cmpuint (graft_image_memory_peak (FALSE), ==, 0);   /* all released */
  assert_same_epoch (reference, epoch);
  remove_tree (folder);
}

static void
on_failure (GraftLoader *loader, const GraftLoaderFailure *failure, gpointer user_data)
{
  GPtrArray *reported = user_data;
  g_ptr_array_add (reported, g_strdup (failure->message));
}

static void
test_corrupt_files_skipped (void)
{
  static const char *const bad[] = { "truncated.jpg", "text.jpg", "no-such-file.png", "huge.png", NULL };
  static const guint positions[] = { 0, 9, 10, 22 };
  g_autoptr (ItemList) list = make_items (27, bad, positions);
  GraftLoaderOptions options;
  small_options (&options);
  options.shuffle = FALSE;

  g_autoptr (Epoch) reference = NULL;
  for (int threads = 0; threads <= 3; threads++)
    {
      options.threads = threads;
      g_autoptr (GraftLoader) loader = new_loader (list, &options);
      g_autoptr (GPtrArray) reported = g_ptr_array_new_with_free_func (g_free);
      graft_loader_set_failure_func (loader, on_failure, g_ptr_array_ref (reported),
                                     (GDestroyNotify) g_ptr_array_unref);
      g_autoptr (Epoch) epoch = run_epoch (loader, 0);

      /* 23 good items: batches of 8, 8, 7, each bad item's place taken by the next. */
      g_assert_cmpuint (epoch->indices->len, ==, 23);
      g_assert_cmpuint (epoch->sizes->len, ==, 3);
      g_assert_cmpint (g_array_index (epoch->sizes, int, 0), ==, 8);
      g_assert_cmpint (g_array_index (epoch->sizes, int, 1), ==, 8);
      g_assert_cmpuint (g_array_index (epoch->indices, guint, 0), ==, 1);
      g_assert_cmpuint (g_array_index (epoch->indices, guint, 8), ==, 11);
      for (guint k = 0; k < epoch->indices->len; k++)
        {
          const guint index = g_array_index (epoch->indices, guint, k);
          for (int b = 0; b < 4; b++)
            g_assert_cmpuint (index, !=, positions[b]);
          g_assert_cmpint (g_array_index (epoch->labels, gint32, k), >=, 100);
        }

      GPtrArray *failures = graft_loader_get_failures (loader);
      g_assert_cmpuint (failures->len, ==, 4);
      g_assert_cmpuint (reported->len, ==, 4);
      for (guint f = 0; f < 4; f++)
        {
          const GraftLoaderFailure *failure = g_ptr_array_index (failures, f);
          g_assert_cmpuint (failure->index, ==, positions[f]);
          g_assert_true (g_str_has_suffix (failure->path, bad[f]));
          g_assert_true (g_str_has_prefix (failure->message, failure->path));
          g_assert_cmpstr (failure->message, ==, g_ptr_array_index (reported, f));
          if (threads == 0)
            g_test_message ("%s", failure->message);
        }
      g_assert_nonnull (strstr (((GraftLoaderFailure *) g_ptr_array_index (failures, 0))->message, "truncated"));
      g_assert_nonnull (strstr (((GraftLoaderFailure *) g_ptr_array_index (failures, 1))->message,
                                "not a PNG or JPEG image"));

      if (reference == NULL)
        reference = g_steal_pointer (&epoch);
      else
        assert_same_epoch (reference, epoch);

      /* A new epoch starts a new list. */
      graft_loader_start_epoch (loader, 1);
      g_assert_cmpuint (graft_loader_get_failures (loader)->len, ==, 0);
    }
}

static void
test_drop_last (void)
{
  g_autoptr (ItemList) list = make_items (37, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  options.drop_last = TRUE;
  g_autoptr (GraftLoader) loader = new_loader (list, &options);
  g_autoptr (Epoch) epoch = run_epoch (loader, 0);
  g_assert_cmpuint (epoch->sizes->len, ==, 4);
  g_assert_cmpuint (epoch->indices->len, ==, 32);
}

static void
test_stop_and_restart (void)
{
  g_autoptr (ItemList) list = make_items (50, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  options.threads = 3;
  options.queue_batches = 2;
  g_autoptr (GraftLoader) loader = new_loader (list, &options);
  g_autoptr (Epoch) full = run_epoch (loader, 2);

  /* Stop after one batch: next() ends; the epoch restarts from its beginning. */
  graft_loader_start_epoch (loader, 2);
  GraftBatch *batch = NULL;
  g_assert_true (graft_loader_next (loader, &batch, NULL));
  graft_batch_free (batch);
  graft_loader_stop (loader);
  graft_loader_stop (loader);
  g_assert_false (graft_loader_next (loader, &batch, NULL));
  g_assert_null (batch);
  g_autoptr (Epoch) again = run_epoch (loader, 2);
  assert_same_epoch (full, again);

  /* Restart in the middle of an epoch, and free a loader whose workers are busy. */
  graft_loader_start_epoch (loader, 5);
  g_assert_true (graft_loader_next (loader, &batch, NULL));
  graft_batch_free (batch);
  g_autoptr (Epoch) third = run_epoch (loader, 2);
  assert_same_epoch (full, third);
  graft_loader_start_epoch (loader, 3);
}

static void
test_tight_queue (void)
{
  /* Batch 1, a one-batch queue, more threads than slots: every hand-over contended. */
  g_autoptr (ItemList) list = make_items (60, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  options.batch_size = 1;
  options.queue_batches = 1;
  options.threads = 4;
  graft_augmentation_init_default (&options.augmentation);
  g_autoptr (GraftLoader) a = new_loader (list, &options);
  options.threads = 0;
  g_autoptr (GraftLoader) b = new_loader (list, &options);
  g_autoptr (Epoch) ea = run_epoch (a, 7);
  g_autoptr (Epoch) eb = run_epoch (b, 7);
  assert_same_epoch (ea, eb);

  /* Batches larger than the data: one partial batch. */
  options.batch_size = 100;
  options.threads = 2;
  g_autoptr (GraftLoader) c = new_loader (list, &options);
  graft_loader_start_epoch (c, 0);
  GraftBatch *batch = NULL;
  g_assert_true (graft_loader_next (c, &batch, NULL));
  g_assert_cmpint (batch->size, ==, 60);
  graft_batch_free (batch);
  g_assert_false (graft_loader_next (c, &batch, NULL));
}

static void
test_misuse (void)
{
  g_autoptr (ItemList) list = make_items (5, NULL, NULL);
  GraftLoaderOptions options;
  small_options (&options);
  g_autoptr (GError) error = NULL;

  g_autoptr (GraftLoader) loader = new_loader (list, &options);
  GraftBatch *batch = NULL;
  g_assert_false (graft_loader_next (loader, &batch, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
  g_clear_error (&error);

  GraftLoaderOptions bad = options;
  bad.batch_size = 0;
  g_assert_null (graft_loader_new ((const GraftLoaderItem *) list->items->data, 5, &bad, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
  g_clear_error (&error);
  bad = options;
  bad.preprocessing.resize = 8;
  g_assert_null (graft_loader_new ((const GraftLoaderItem *) list->items->data, 5, &bad, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
  g_clear_error (&error);
  bad = options;
  bad.augmentation.crop_scale_min = 2.0f;
  g_assert_null (graft_loader_new ((const GraftLoaderItem *) list->items->data, 5, &bad, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
  g_clear_error (&error);

  /* No items: an empty epoch. */
  g_autoptr (GraftLoader) empty = graft_loader_new (NULL, 0, &options, &error);
  g_assert_no_error (error);
  graft_loader_start_epoch (empty, 0);
  g_assert_false (graft_loader_next (empty, &batch, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/loader/every-item-once", test_every_item_once);
  g_test_add_func ("/data/loader/order", test_order);
  g_test_add_func ("/data/loader/threads-identical", test_threads_identical);
  g_test_add_func ("/data/loader/memory-budget", test_memory_budget);
  g_test_add_func ("/data/loader/corrupt-files-skipped", test_corrupt_files_skipped);
  g_test_add_func ("/data/loader/drop-last", test_drop_last);
  g_test_add_func ("/data/loader/stop-and-restart", test_stop_and_restart);
  g_test_add_func ("/data/loader/tight-queue", test_tight_queue);
  g_test_add_func ("/data/loader/misuse", test_misuse);
  return g_test_run ();
}
