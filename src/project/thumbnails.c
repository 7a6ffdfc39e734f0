/* thumbnails.c: see thumbnails.h. */
#include "project/thumbnails.h"

#include <errno.h>
#include <math.h>
#include <glib/gstdio.h>
#include <png.h>
#include <string.h>
#include <unistd.h>

#include "base/file-hash.h"

#define MAX_THUMBNAIL_SIDE 2048

struct _GraftThumbnailer {
  char *cache_folder;
  GThreadPool *pool;
  gint generated;
  gint reused;
};

typedef struct {
  char *cache_folder;
  char *image_path;
  char *hash;
  int size;
  GCancellable *cancellable;
  GMainContext *context;
  GraftThumbnailReady callback;
  gpointer user_data;
  /* results */
  GraftImage *thumbnail;
  char *cache_path;
  GError *error;
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;
  g_free (job->cache_folder);
  g_free (job->image_path);
  g_free (job->hash);
  g_clear_object (&job->cancellable);
  if (job->context != NULL)
    g_main_context_unref (job->context);
  if (job->thumbnail != NULL)
    graft_image_free (job->thumbnail);
  g_free (job->cache_path);
  g_clear_error (&job->error);
  g_free (job);
}

char *
graft_thumbnail_cache_path (const char *cache_folder, const char *hash, int size)
{
  char sub[3] = { hash[0], hash[0] != '\0' ? hash[1] : '\0', '\0' };
  g_autofree char *size_name = g_strdup_printf ("%d", size);
  g_autofree char *name = g_strdup_printf ("%s.png", hash);
  return g_build_filename (cache_folder, "thumbnails", size_name, sub, name, NULL);
}

/* Area average along one axis: out[o] = mean of in over [o * scale, (o + 1) * scale). */
static void
area_weights (int in_size, int out_size, int **first, int **count, float **weights, int *max_taps)
{
  const double scale = (double) in_size / out_size;
  const int taps = (int) ceil (scale) + 1;
  *first = g_new (int, out_size);
  *count = g_new (int, out_size);
  *weights = g_new0 (float, (gsize) out_size * taps);
  *max_taps = taps;
  for (int o = 0; o < out_size; o++)
    {
      const double start = o * scale, end = (o + 1) * scale;
      int i0 = (int) floor (start);
      int n = 0;
      for (int i = i0; i < in_size && i < end; i++)
        {
          double overlap = MIN (end, i + 1.0) - MAX (start, (double) i);
          if (overlap <= 0)
            continue;
          if (n == 0)
            (*first)[o] = i;
          (*weights)[(gsize) o * taps + n] = (float) (overlap / scale);
          n++;
          if (n == taps)
            break;
        }
      (*count)[o] = n;
    }
}

GraftImage *
graft_thumbnail_scale (const GraftImage *image, int max_side)
{
  int width = image->width, height = image->height;
  if (width > max_side || height > max_side)
    {
      if (width >= height)
        {
          height = MAX (1, (int) ((gint64) height * max_side / width));
          width = max_side;
        }
      else
        {
          width = MAX (1, (int) ((gint64) width * max_side / height));
          height = max_side;
        }
    }
  GraftImage *out = graft_image_new (width, height, NULL);
  if (out == NULL)
    return NULL;
  if (width == image->width && height == image->height)
    {
      memcpy (out->rgb, image->rgb, (gsize) width * height * 3);
      return out;
    }
  g_autofree int *x_first = NULL, *x_count = NULL, *y_first = NULL, *y_count = NULL;
  g_autofree float *x_weights = NULL, *y_weights = NULL;
  int x_taps, y_taps;
  area_weights (image->width, width, &x_first, &x_count, &x_weights, &x_taps);
  area_weights (image->height, height, &y_first, &y_count, &y_weights, &y_taps);
  /* Horizontal pass into floats (image->height, width, 3), then vertical. */
  g_autofree float *rows = g_new (float, (gsize) image->height * width * 3);
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *src = image->rgb + (gsize) y * image->width * 3;
      float *dst = rows + (gsize) y * width * 3;
      for (int x = 0; x < width; x++)
        {
          float r = 0, g = 0, b = 0;
          for (int t = 0; t < x_count[x]; t++)
            {
              const float w = x_weights[(gsize) x * x_taps + t];
              const guint8 *p = src + (gsize) (x_first[x] + t) * 3;
              r += w * p[0];
              g += w * p[1];
              b += w * p[2];
            }
          dst[x * 3] = r;
          dst[x * 3 + 1] = g;
          dst[x * 3 + 2] = b;
        }
    }
  for (int y = 0; y < height; y++)
    {
      guint8 *dst = out->rgb + (gsize) y * width * 3;
      for (int x = 0; x < width * 3; x++)
        {
          float v = 0;
          for (int t = 0; t < y_count[y]; t++)
            v += y_weights[(gsize) y * y_taps + t] * rows[(gsize) (y_first[y] + t) * width * 3 + x];
          dst[x] = (guint8) CLAMP ((int) (v + 0.5f), 0, 255);
        }
    }
  return out;
}

static GraftImage *
read_cached (const char *path)
{
  png_image png;
  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&png, path))
    return NULL;
  png.format = PNG_FORMAT_RGB;
  if (png.width == 0 || png.height == 0 || png.width > MAX_THUMBNAIL_SIDE || png.height > MAX_THUMBNAIL_SIDE)
    {
      png_image_free (&png);
      return NULL;
    }
  GraftImage *image = graft_image_new ((int) png.width, (int) png.height, NULL);
  if (image == NULL)
    {
      png_image_free (&png);
      return NULL;
    }
  if (!png_image_finish_read (&png, NULL, image->rgb, (png_int_32) (png.width * 3), NULL))
    {
      png_image_free (&png);
      graft_image_free (image);
      return NULL;
    }
  return image;
}

static gboolean
write_cached (const GraftImage *image, const char *path, GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "%s: %s", folder,
                   g_strerror (saved_errno));
      return FALSE;
    }
  g_autofree char *temporary = g_strdup_printf ("%s.%p.tmp", path, (void *) g_thread_self ());
  png_image png;
  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = (png_uint_32) image->width;
  png.height = (png_uint_32) image->height;
  png.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file (&png, temporary, 0, image->rgb, image->width * 3, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write the thumbnail: %s", temporary, png.message);
      png_image_free (&png);
      g_remove (temporary);
      return FALSE;
    }
  if (g_rename (temporary, path) != 0)
    {
      int saved_errno = errno;
      g_remove (temporary);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "%s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

GraftImage *
graft_thumbnail_make (const char *cache_folder, const char *image_path, const char *hash, int size,
                      gboolean *from_cache, char **cache_path, GError **error)
{
  g_return_val_if_fail (cache_folder != NULL && image_path != NULL, NULL);
  if (from_cache != NULL)
    *from_cache = FALSE;
  if (cache_path != NULL)
    *cache_path = NULL;
  size = CLAMP (size, 1, MAX_THUMBNAIL_SIDE);
  g_autofree char *computed = NULL;
  if (hash == NULL)
    {
      computed = graft_file_sha256 (image_path, error);
      if (computed == NULL)
        return NULL;
      hash = computed;
    }
  g_autofree char *path = graft_thumbnail_cache_path (cache_folder, hash, size);
  GraftImage *cached = read_cached (path);
  if (cached != NULL)
    {
      if (from_cache != NULL)
        *from_cache = TRUE;
      if (cache_path != NULL)
        *cache_path = g_steal_pointer (&path);
      return cached;
    }
  g_autoptr (GraftImage) full = graft_image_load_at_least (image_path, size, error);
  if (full == NULL)
    return NULL;
  GraftImage *thumbnail = graft_thumbnail_scale (full, size);
  if (thumbnail == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE, "%s: cannot make a thumbnail", image_path);
      return NULL;
    }
  g_autoptr (GError) write_error = NULL;
  if (write_cached (thumbnail, path, &write_error))
    {
      if (cache_path != NULL)
        *cache_path = g_steal_pointer (&path);
    }
  else
    g_debug ("Thumbnail not cached: %s", write_error->message);
  return thumbnail;
}

static gboolean
deliver (gpointer data)
{
  Job *job = data;
  job->callback (g_steal_pointer (&job->thumbnail), job->cache_path, job->error, job->user_data);
  return G_SOURCE_REMOVE;
}

static void
work (gpointer data, gpointer pool_data)
{
  Job *job = data;
  GraftThumbnailer *thumbnailer = pool_data;
  if (!g_cancellable_set_error_if_cancelled (job->cancellable, &job->error))
    {
      gboolean from_cache = FALSE;
      job->thumbnail = graft_thumbnail_make (job->cache_folder, job->image_path, job->hash, job->size, &from_cache,
                                             &job->cache_path, &job->error);
      if (job->thumbnail != NULL)
        g_atomic_int_inc (from_cache ? &thumbnailer->reused : &thumbnailer->generated);
    }
  /* An idle source, not g_main_context_invoke: that one would run the callback right
   * here when the context is the global default one and nobody holds it. */
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (source, deliver, job, job_free);
  g_source_set_static_name (source, "[graft] thumbnail ready");
  g_source_attach (source, job->context);
  g_source_unref (source);
}

GraftThumbnailer *
graft_thumbnailer_new (const char *cache_folder, int threads)
{
  g_return_val_if_fail (cache_folder != NULL, NULL);
  if (threads <= 0)
    threads = MAX (1, (int) g_get_num_processors () - 1);
  GraftThumbnailer *thumbnailer = g_new0 (GraftThumbnailer, 1);
  thumbnailer->cache_folder = g_strdup (cache_folder);
  thumbnailer->pool = g_thread_pool_new_full (work, thumbnailer, job_free, threads, FALSE, NULL);
  return thumbnailer;
}

void
graft_thumbnailer_free (GraftThumbnailer *thumbnailer)
{
  if (thumbnailer == NULL)
    return;
  g_thread_pool_free (thumbnailer->pool, TRUE, TRUE);
  g_free (thumbnailer->cache_folder);
  g_free (thumbnailer);
}

void
graft_thumbnailer_request (GraftThumbnailer *thumbnailer, const char *image_path, const char *hash, int size,
                           GCancellable *cancellable, GraftThumbnailReady callback, gpointer user_data)
{
  g_return_if_fail (thumbnailer != NULL && image_path != NULL && callback != NULL);
  Job *job = g_new0 (Job, 1);
  job->cache_folder = g_strdup (thumbnailer->cache_folder);
  job->image_path = g_strdup (image_path);
  job->hash = g_strdup (hash);
  job->size = size;
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  job->context = g_main_context_ref_thread_default ();
  job->callback = callback;
  job->user_data = user_data;
  g_thread_pool_push (thumbnailer->pool, job, NULL);
}

guint
graft_thumbnailer_count_generated (GraftThumbnailer *thumbnailer)
{
  return (guint) g_atomic_int_get (&thumbnailer->generated);
}

guint
graft_thumbnailer_count_reused (GraftThumbnailer *thumbnailer)
{
  return (guint) g_atomic_int_get (&thumbnailer->reused);
}
