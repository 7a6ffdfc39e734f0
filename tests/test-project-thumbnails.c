/* Thumbnails: made off the main thread, delivered on it, cached on disk by content hash
 * and size, and reused from disk. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "project/thumbnails.h"
#include "train/embedding-cache.h"
#include "test-project-helpers.h"

typedef struct {
  int pending;
  GThread *main_thread;
  GPtrArray *images;     /* GraftImage *, in arrival order */
  GPtrArray *paths;      /* cache paths (or "") */
  GPtrArray *errors;     /* GError * or NULL */
} Waiter;

static void
waiter_init (Waiter *w)
{
  memset (w, 0, sizeof *w);
  w->main_thread = g_thread_self ();
  w->images = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_image_free);
  w->paths = g_ptr_array_new_with_free_func (g_free);
  w->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
}

static void
waiter_clear (Waiter *w)
{
  g_ptr_array_unref (w->images);
  g_ptr_array_unref (w->paths);
  /* errors may hold NULLs: free by hand */
  for (guint i = 0; i < w->errors->len; i++)
    if (g_ptr_array_index (w->errors, i) != NULL)
      g_error_free (g_ptr_array_index (w->errors, i));
  g_ptr_array_set_free_func (w->errors, NULL);
  g_ptr_array_unref (w->errors);
}

static void
on_ready (GraftImage *thumbnail, const char *cache_path, const GError *error, gpointer user_data)
{
  Waiter *w = user_data;
  g_assert_true (g_thread_self () == w->main_thread);
  g_ptr_array_add (w->images, thumbnail);
  g_ptr_array_add (w->paths, g_strdup (cache_path != NULL ? cache_path : ""));
  g_ptr_array_add (w->errors, error != NULL ? g_error_copy (error) : NULL);
  w->pending--;
}

static void
wait_all (Waiter *w)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (w->pending > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (w->pending, ==, 0);
}

static gint64
mtime_of (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gint64) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void
test_generated_once (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *cache = g_build_filename (dir, "cache", NULL);
  g_autofree char *png = g_build_filename (dir, "wide.png", NULL);
  g_autofree char *jpeg = g_build_filename (dir, "photo.jpg", NULL);
  g_autofree char *text = g_build_filename (dir, "not-an-image.png", NULL);
  write_png (png, 200, 100, 1);
  write_jpeg (jpeg, 640, 480, 2);
  write_bytes (text, "hello", 5);
  g_autoptr (GError) error = NULL;
  g_autofree char *png_hash = graft_file_sha256 (png, &error);
  g_autofree char *jpeg_hash = graft_file_sha256 (jpeg, &error);

  Waiter w;
  waiter_init (&w);
  GraftThumbnailer *thumbnailer = graft_thumbnailer_new (cache, 2);
  w.pending = 3;
  graft_thumbnailer_request (thumbnailer, png, png_hash, 64, NULL, on_ready, &w);
  graft_thumbnailer_request (thumbnailer, jpeg, jpeg_hash, 64, NULL, on_ready, &w);
  graft_thumbnailer_request (thumbnailer, text, NULL, 64, NULL, on_ready, &w);
  wait_all (&w);
  g_assert_cmpuint (graft_thumbnailer_count_generated (thumbnailer), ==, 2);
  g_assert_cmpuint (graft_thumbnailer_count_reused (thumbnailer), ==, 0);

  int errors = 0;
  for (guint i = 0; i < 3; i++)
    {
      GraftImage *image = g_ptr_array_index (w.images, i);
      GError *e = g_ptr_array_index (w.errors, i);
      if (e != NULL)
        {
          errors++;
          g_assert_null (image);
          g_assert_nonnull (strstr (e->message, "not-an-image.png"));
          continue;
        }
      g_assert_nonnull (image);
      g_assert_true (image->width == 64);
      g_assert_true (image->height == 32 || image->height == 48);
      g_assert_true (g_file_test (g_ptr_array_index (w.paths, i), G_FILE_TEST_IS_REGULAR));
    }
  g_assert_cmpint (errors, ==, 1);
  graft_thumbnailer_free (thumbnailer);

  g_autofree char *png_cached = graft_thumbnail_cache_path (cache, png_hash, 64);
  g_autofree char *jpeg_cached = graft_thumbnail_cache_path (cache, jpeg_hash, 64);
  g_assert_true (g_file_test (png_cached, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (jpeg_cached, G_FILE_TEST_IS_REGULAR));
  gint64 png_mtime = mtime_of (png_cached);
  GraftImage *first_png = NULL;
  for (guint i = 0; i < 3; i++)
    if (g_strcmp0 (g_ptr_array_index (w.paths, i), png_cached) == 0)
      first_png = g_ptr_array_index (w.images, i);
  g_assert_nonnull (first_png);
  g_assert_cmpint (first_png->height, ==, 32);

  /* A new thumbnailer (a new session of the app): from disk, not decoded again; the
   * hash may be left to it. */
  Waiter again;
  waiter_init (&again);
  thumbnailer = graft_thumbnailer_new (cache, 1);
  again.pending = 2;
  graft_thumbnailer_request (thumbnailer, png, png_hash, 64, NULL, on_ready, &again);
  graft_thumbnailer_request (thumbnailer, png, NULL, 64, NULL, on_ready, &again);
  wait_all (&again);
  g_assert_cmpuint (graft_thumbnailer_count_generated (thumbnailer), ==, 0);
  g_assert_cmpuint (graft_thumbnailer_count_reused (thumbnailer), ==, 2);
  g_assert_cmpint (mtime_of (png_cached), ==, png_mtime);
  GraftImage *reused = g_ptr_array_index (again.images, 0);
  g_assert_cmpint (reused->width, ==, first_png->width);
  g_assert_cmpint (reused->height, ==, first_png->height);
  g_assert_cmpmem (reused->rgb, (gsize) reused->width * reused->height * 3, first_png->rgb,
                   (gsize) first_png->width * first_png->height * 3);

  /* Another size is another thumbnail; a damaged cached file is made again. */
  again.pending = 1;
  graft_thumbnailer_request (thumbnailer, png, png_hash, 32, NULL, on_ready, &again);
  wait_all (&again);
  g_assert_cmpuint (graft_thumbnailer_count_generated (thumbnailer), ==, 1);
  write_bytes (jpeg_cached, "garbage", 7);
  again.pending = 1;
  graft_thumbnailer_request (thumbnailer, jpeg, jpeg_hash, 64, NULL, on_ready, &again);
  wait_all (&again);
  g_assert_cmpuint (graft_thumbnailer_count_generated (thumbnailer), ==, 2);
  GraftImage *remade = g_ptr_array_index (again.images, again.images->len - 1);
  g_assert_cmpint (remade->height, ==, 48);

  /* A cancelled request still calls back, with G_IO_ERROR_CANCELLED. */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  again.pending = 1;
  graft_thumbnailer_request (thumbnailer, jpeg, jpeg_hash, 64, cancellable, on_ready, &again);
  wait_all (&again);
  GError *last = g_ptr_array_index (again.errors, again.errors->len - 1);
  g_assert_error (last, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  graft_thumbnailer_free (thumbnailer);

  waiter_clear (&w);
  waiter_clear (&again);
  remove_tree (dir);
}

static void
test_scale (void)
{
  /* 4x2 image: left half 0, right half 200 -> 2x1: 0 and 200; area average of 3x1 -> 1x1. */
  g_autoptr (GraftImage) image = graft_image_new (4, 2, NULL);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 4; x++)
      for (int c = 0; c < 3; c++)
        image->rgb[(y * 4 + x) * 3 + c] = x < 2 ? 0 : 200;
  g_autoptr (GraftImage) half = graft_thumbnail_scale (image, 2);
  g_assert_cmpint (half->width, ==, 2);
  g_assert_cmpint (half->height, ==, 1);
  g_assert_cmpint (half->rgb[0], ==, 0);
  g_assert_cmpint (half->rgb[3], ==, 200);
  g_autoptr (GraftImage) same = graft_thumbnail_scale (image, 100);
  g_assert_cmpint (same->width, ==, 4);
  g_assert_cmpmem (same->rgb, 24, image->rgb, 24);
  /* 3 -> 2 columns: weights 2/3, 1/3 */
  g_autoptr (GraftImage) three = graft_image_new (3, 1, NULL);
  const guint8 values[] = { 0, 90, 180 };
  for (int x = 0; x < 3; x++)
    memset (three->rgb + x * 3, values[x], 3);
  g_autoptr (GraftImage) two = graft_thumbnail_scale (three, 2);
  g_assert_cmpint (two->width, ==, 2);
  g_assert_cmpint (two->rgb[0], ==, 30);    /* (0 * 1 + 90 * 0.5) / 1.5 */
  g_assert_cmpint (two->rgb[3], ==, 150);   /* (90 * 0.5 + 180 * 1) / 1.5 */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/project/thumbnails/generated-once", test_generated_once);
  g_test_add_func ("/project/thumbnails/scale", test_scale);
  return g_test_run ();
}
