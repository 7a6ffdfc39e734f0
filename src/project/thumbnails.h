/* thumbnails.h: small pictures of a project's images for the grid, made off the main
 * thread and kept on disk.
 *
 * A thumbnail fits in size x size (aspect kept, never enlarged), area-averaged from the
 * image decoded at a reduced scale where JPEG allows it. It is cached as a PNG at
 *   <cache folder>/thumbnails/<size>/<first 2 hex digits>/<sha256 of the content>.png
 * so a moved or renamed image keeps its thumbnail and a changed one gets a new one. The
 * file is written under a temporary name and renamed: a killed process never leaves a
 * half thumbnail; an unreadable cached file is made again.
 *
 * Requests go to a GThreadPool; the callback runs on the main context that was the
 * thread-default one when the request was made (an idle source attached to it), exactly
 * once per request: with the thumbnail, or with an error (G_IO_ERROR_CANCELLED when the
 * cancellable fired first).
 */
#pragma once

#include <gio/gio.h>

#include "data/image.h"

G_BEGIN_DECLS

typedef struct _GraftThumbnailer GraftThumbnailer;

/* thumbnail: transfer full (free with graft_image_free), NULL on error. cache_path: the
 * PNG on disk (NULL on error). */
typedef void (*GraftThumbnailReady) (GraftImage *thumbnail, const char *cache_path, const GError *error,
                                     gpointer user_data);

/* threads <= 0: the number of processors less one, at least one. */
GraftThumbnailer *graft_thumbnailer_new (const char *cache_folder, int threads);
/* Waits for the jobs that are running; jobs not started yet are dropped without a
 * callback. Callbacks already queued on their main context still run. */
void graft_thumbnailer_free (GraftThumbnailer *thumbnailer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftThumbnailer, graft_thumbnailer_free)

/* hash: the image's SHA-256 (the project has it); NULL: computed in the worker. */
void graft_thumbnailer_request (GraftThumbnailer *thumbnailer, const char *image_path, const char *hash, int size,
                                GCancellable *cancellable, GraftThumbnailReady callback, gpointer user_data);

/* Thumbnails made (decoded and written) and reused (read from the cache) so far. */
guint graft_thumbnailer_count_generated (GraftThumbnailer *thumbnailer);
guint graft_thumbnailer_count_reused (GraftThumbnailer *thumbnailer);

/* Where the thumbnail of that content and size lives. */
char *graft_thumbnail_cache_path (const char *cache_folder, const char *hash, int size);

/* The work of one request, synchronously (any thread). from_cache and cache_path
 * nullable. Errors: GRAFT_DATA_ERROR from decoding, G_IO_ERROR / G_FILE_ERROR from the
 * cache. A cache that cannot be written still gives the thumbnail (cache_path NULL). */
GraftImage *graft_thumbnail_make (const char *cache_folder, const char *image_path, const char *hash, int size,
                                  gboolean *from_cache, char **cache_path, GError **error);

/* Area-averaging downscale to fit in max_side x max_side (aspect kept, never enlarged). */
GraftImage *graft_thumbnail_scale (const GraftImage *image, int max_side);

G_END_DECLS
