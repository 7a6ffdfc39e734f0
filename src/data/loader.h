/* loader.h: batches of preprocessed images, decoded by worker threads ahead of the
 * consumer.
 *
 * Determinism: the order of an epoch is a function of (seed, epoch) only (identity
 * when shuffle is off); the augmentation of an item is a function of (seed, epoch,
 * item index) only; items that fail to decode are skipped and their places taken by
 * the next items in the order. So the batches of an epoch - their items, labels and
 * every float - do not depend on the number of threads or on their timing.
 *
 * Threads: `threads` workers (GThread) decode and preprocess items in epoch order into
 * a bounded ring of queue_batches * batch_size slots; graft_loader_next takes the next
 * batch_size decoded items in order, copies them into a batch and frees their slots.
 * Workers never run more than the ring ahead of the consumer. threads = 0 decodes in
 * graft_loader_next itself. Workers use no OpenMP, so they run beside the engine.
 *
 * Failures: an item that cannot be decoded is skipped, never fatal. Each is reported
 * in order, from graft_loader_next (on the consumer's thread), to the failure function
 * if one is set, and kept in a list of the current epoch's failures.
 *
 * JPEG decoding uses libjpeg's DCT scaling (graft_image_load_at_least) down to
 * decode_min_side: by default the preprocessing's resize side, for training too (the
 * random crop then works on an image whose shorter side is >= resize, as with fastai's
 * presizing); PNG by an integer box filter to the same side. 0 decodes at full size.
 *
 * Memory: every decode, and the image until it has been preprocessed, is counted in
 * the decoders' shared budget (image.h: at most GRAFT_IMAGE_MEMORY_LIMIT for one image,
 * GRAFT_IMAGE_MEMORY_TOTAL for all at once); a worker that would take the total over it
 * waits, so 64 threads need no more memory than a few.
 *
 * A loader is used from one consumer thread; it is not safe to call it from several.
 */
#pragma once

#include <glib.h>

#include "data/augment.h"
#include "data/data-error.h"
#include "data/preprocess.h"

G_BEGIN_DECLS

typedef struct {
  const char *path;
  gint32 label;
} GraftLoaderItem;

typedef struct {
  GraftPreprocessing preprocessing;
  GraftAugmentation augmentation;   /* may be disabled */
  int batch_size;                   /* >= 1 */
  guint64 seed;
  gboolean shuffle;
  gboolean drop_last;               /* drop a last batch smaller than batch_size */
  int threads;                      /* decode threads, 0..64; 0: decode in graft_loader_next */
  int queue_batches;                /* ring depth in batches, 1..16 (default 3) */
  int decode_min_side;              /* -1: the resize side; 0: full size; > 0: that */
} GraftLoaderOptions;

typedef struct {
  int size;                 /* images in this batch (batch_size, or fewer for the last) */
  int channels, height, width;
  gboolean nhwc;            /* images is (size, height, width, channels) instead of NCHW */
  float *images;            /* (size, channels, height, width) */
  gint32 *labels;           /* (size) */
  guint *indices;           /* (size) index of each image in the loader's items */
} GraftBatch;

typedef struct {
  guint index;              /* in the loader's items */
  char *path;
  char *message;            /* names the file and the reason */
} GraftLoaderFailure;

typedef struct _GraftLoader GraftLoader;

/* Called from graft_loader_next, on the consumer's thread, once per failed item. */
typedef void (*GraftLoaderFailureFunc) (GraftLoader *loader, const GraftLoaderFailure *failure,
                                        gpointer user_data);

/* ImageNet preprocessing, augmentation off, batch 16, seed 0, shuffle, 2 threads,
 * 3 batches deep, decode_min_side -1. */
void graft_loader_options_init (GraftLoaderOptions *options);

/* Copies items (paths too) and options; validates options. */
GraftLoader *graft_loader_new (const GraftLoaderItem *items, guint n_items,
                               const GraftLoaderOptions *options, GError **error);
void graft_loader_free (GraftLoader *loader);

void graft_loader_set_failure_func (GraftLoader *loader, GraftLoaderFailureFunc func,
                                    gpointer user_data, GDestroyNotify destroy);

guint graft_loader_get_n_items (GraftLoader *loader);
const GraftLoaderOptions *graft_loader_get_options (GraftLoader *loader);

/* The item order of an epoch (n_items indices), as start_epoch will use it. */
void graft_loader_epoch_order (GraftLoader *loader, guint epoch, guint *order);
/* The augmentation seed of an item in an epoch. */
guint64 graft_loader_item_seed (GraftLoader *loader, guint epoch, guint index);

/* Starts (or restarts) an epoch: stops a running one, shuffles, starts the workers. */
void graft_loader_start_epoch (GraftLoader *loader, guint epoch);

/* The next batch, owned by the caller (graft_batch_free). FALSE at the end of the
 * epoch (batch set to NULL, no error), or with an error when no epoch was started. */
gboolean graft_loader_next (GraftLoader *loader, GraftBatch **batch, GError **error);

/* Stops the workers and drops what they decoded; next() then returns FALSE until the
 * next start_epoch. Safe to call at any time, also twice. */
void graft_loader_stop (GraftLoader *loader);

/* Seconds the consumer has spent waiting in graft_loader_next for decoded items, since
 * the loader was made (with threads = 0: the time spent decoding there). */
double graft_loader_wait_seconds (GraftLoader *loader);

/* Failures of the current epoch so far, in order (GraftLoaderFailure *). */
GPtrArray *graft_loader_get_failures (GraftLoader *loader);

void graft_batch_free (GraftBatch *batch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftBatch, graft_batch_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftLoader, graft_loader_free)

G_END_DECLS
