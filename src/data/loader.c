/* loader.c: worker threads decode items in epoch order into a ring of slots; the
 * consumer takes them in the same order. See loader.h for the guarantees.
 *
 * Positions 0..n-1 of an epoch's order are claimed by workers in increasing order,
 * position p going to slot p % capacity, and only while p < consumed + capacity, so a
 * slot is never reused before the consumer is done with it. A slot's floats are
 * written by one worker outside the lock and published by setting its state under
 * the lock; the consumer reads them after seeing that state under the lock. */
#include <string.h>

#include "data/image-private.h"
#include "data/loader.h"
#include "engine/random.h"

typedef enum {
  SLOT_EMPTY,
  SLOT_BUSY,
  SLOT_DONE,
} SlotState;

typedef struct {
  SlotState state;
  float *data;        /* floats per image; allocated on first use */
  GError *error;      /* set when the item could not be decoded */
} Slot;

struct _GraftLoader {
  GraftLoaderItem *items;     /* paths owned */
  guint n_items;
  GraftLoaderOptions options;
  gsize floats;               /* per image */
  int min_side;               /* for graft_image_load_at_least */

  GMutex mutex;
  GCond ready;                /* a slot became SLOT_DONE */
  GCond space;                /* the consumer freed a slot, or the workers must stop */
  Slot *slots;
  guint capacity;
  guint *order;               /* (n_items) this epoch's item order */
  guint epoch;
  gboolean started;           /* an epoch was started at least once */
  gboolean running;           /* the current epoch has not been stopped */
  gboolean stopping;
  guint next_claim;           /* next position a worker takes */
  guint consumed;             /* next position the consumer takes */
  GThread **threads;
  int n_threads;

  double wait_seconds;
  GPtrArray *failures;        /* GraftLoaderFailure *, this epoch */
  GraftLoaderFailureFunc failure_func;
  gpointer failure_data;
  GDestroyNotify failure_destroy;
};

void
graft_loader_options_init (GraftLoaderOptions *options)
{
  memset (options, 0, sizeof *options);
  graft_preprocessing_init_imagenet (&options->preprocessing);
  graft_augmentation_init_none (&options->augmentation);
  options->batch_size = 16;
  options->seed = 0;
  options->shuffle = TRUE;
  options->drop_last = FALSE;
  options->threads = 2;
  options->queue_batches = 3;
  options->decode_min_side = -1;
}

static void
failure_free (gpointer data)
{
  GraftLoaderFailure *failure = data;
  g_free (failure->path);
  g_free (failure->message);
  g_free (failure);
}

GraftLoader *
graft_loader_new (const GraftLoaderItem *items, guint n_items, const GraftLoaderOptions *options,
                  GError **error)
{
  g_return_val_if_fail (items != NULL || n_items == 0, NULL);
  g_return_val_if_fail (options != NULL, NULL);

  if (!graft_preprocessing_validate (&options->preprocessing, error)
      || !graft_augmentation_validate (&options->augmentation, error))
    return NULL;
  if (options->batch_size < 1 || options->batch_size > 65536)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "loader: batch size %d is out of range (1..65536)", options->batch_size);
      return NULL;
    }
  if (options->threads < 0 || options->threads > 64)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "loader: %d threads is out of range (0..64)", options->threads);
      return NULL;
    }
  if (options->queue_batches < 0 || options->queue_batches > 16)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "loader: a queue of %d batches is out of range (1..16)", options->queue_batches);
      return NULL;
    }
  if (options->decode_min_side < -1 || options->decode_min_side > GRAFT_IMAGE_MAX_SIDE)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "loader: decode_min_side %d is out of range", options->decode_min_side);
      return NULL;
    }
  for (guint i = 0; i < n_items; i++)
    if (items[i].path == NULL)
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID, "loader: item %u has no path", i);
        return NULL;
      }

  GraftLoader *loader = g_new0 (GraftLoader, 1);
  loader->options = *options;
  if (loader->options.queue_batches == 0)
    loader->options.queue_batches = 3;
  loader->n_items = n_items;
  loader->items = g_new0 (GraftLoaderItem, MAX (n_items, 1));
  for (guint i = 0; i < n_items; i++)
    {
      loader->items[i].path = g_strdup (items[i].path);
      loader->items[i].label = items[i].label;
    }
  loader->floats = graft_preprocessing_floats (&options->preprocessing);
  loader->min_side = options->decode_min_side == -1 ? graft_preprocessing_resize_side (&options->preprocessing)
                                                     : options->decode_min_side;
  g_mutex_init (&loader->mutex);
  g_cond_init (&loader->ready);
  g_cond_init (&loader->space);
  loader->capacity = (guint) loader->options.queue_batches * (guint) options->batch_size;
  loader->slots = g_new0 (Slot, loader->capacity);
  loader->order = g_new (guint, MAX (n_items, 1));
  loader->failures = g_ptr_array_new_with_free_func (failure_free);
  return loader;
}

void
graft_loader_set_failure_func (GraftLoader *loader, GraftLoaderFailureFunc func, gpointer user_data,
                               GDestroyNotify destroy)
{
  if (loader->failure_destroy != NULL)
    loader->failure_destroy (loader->failure_data);
  loader->failure_func = func;
  loader->failure_data = user_data;
  loader->failure_destroy = destroy;
}

guint
graft_loader_get_n_items (GraftLoader *loader)
{
  return loader->n_items;
}

const GraftLoaderOptions *
graft_loader_get_options (GraftLoader *loader)
{
  return &loader->options;
}

void
graft_loader_epoch_order (GraftLoader *loader, guint epoch, guint *order)
{
  const guint n = loader->n_items;
  for (guint i = 0; i < n; i++)
    order[i] = i;
  if (!loader->options.shuffle)
    return;
  /* Fisher-Yates driven by a counter-based hash of (seed, epoch, i). */
  const guint64 key = graft_random_mix64 (graft_random_mix64 (loader->options.seed ^ 0x53485546464c45ull)
                                          + epoch * 0x9e3779b97f4a7c15ull);
  for (guint i = n - 1; i > 0 && n > 1; i--)
    {
      const guint j = (guint) (graft_random_mix64 (key + (guint64) i * 0xd1b54a32d192ed03ull) % ((guint64) i + 1));
      const guint t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
}

guint64
graft_loader_item_seed (GraftLoader *loader, guint epoch, guint index)
{
  return graft_random_mix64 (graft_random_mix64 (graft_random_mix64 (loader->options.seed ^ 0x4155474d454e54ull)
                                                 + epoch) + index);
}

/* Decodes and preprocesses item index of epoch into out. The image stays counted in
 * the decoders' shared memory budget until it is freed, so the workers together hold
 * no more than its total (a worker whose decode would exceed it waits). */
static gboolean
decode_item (GraftLoader *loader, guint epoch, guint index, float *out, GError **error)
{
  GraftImageBudget budget = { 0 };
  GraftImage *image = graft_image_load_budgeted (loader->items[index].path, loader->min_side, &budget, error);
  if (image != NULL)
    graft_augment_preprocess (image, &loader->options.preprocessing, &loader->options.augmentation,
                              graft_loader_item_seed (loader, epoch, index), out);
  graft_image_free (image);
  graft_image_budget_release (&budget);
  return image != NULL;
}

static gpointer
worker_main (gpointer data)
{
  GraftLoader *loader = data;

  g_mutex_lock (&loader->mutex);
  for (;;)
    {
      while (!loader->stopping && loader->next_claim < loader->n_items
             && loader->next_claim >= loader->consumed + loader->capacity)
        g_cond_wait (&loader->space, &loader->mutex);
      if (loader->stopping || loader->next_claim >= loader->n_items)
        break;

      const guint position = loader->next_claim++;
      Slot *slot = &loader->slots[position % loader->capacity];
      const guint index = loader->order[position], epoch = loader->epoch;
      slot->state = SLOT_BUSY;
      if (slot->data == NULL)
        slot->data = g_new (float, loader->floats);
      g_mutex_unlock (&loader->mutex);

      GError *error = NULL;
      decode_item (loader, epoch, index, slot->data, &error);

      g_mutex_lock (&loader->mutex);
      slot->error = error;
      slot->state = SLOT_DONE;
      g_cond_broadcast (&loader->ready);
    }
  g_mutex_unlock (&loader->mutex);
  return NULL;
}

void
graft_loader_stop (GraftLoader *loader)
{
  g_mutex_lock (&loader->mutex);
  loader->stopping = TRUE;
  g_cond_broadcast (&loader->space);
  g_mutex_unlock (&loader->mutex);

  for (int i = 0; i < loader->n_threads; i++)
    g_thread_join (loader->threads[i]);
  g_clear_pointer (&loader->threads, g_free);
  loader->n_threads = 0;

  for (guint i = 0; i < loader->capacity; i++)
    {
      g_clear_error (&loader->slots[i].error);
      loader->slots[i].state = SLOT_EMPTY;
    }
  loader->stopping = FALSE;
  loader->running = FALSE;
}

void
graft_loader_start_epoch (GraftLoader *loader, guint epoch)
{
  graft_loader_stop (loader);

  graft_loader_epoch_order (loader, epoch, loader->order);
  loader->epoch = epoch;
  loader->next_claim = 0;
  loader->consumed = 0;
  loader->started = TRUE;
  loader->running = TRUE;
  g_ptr_array_set_size (loader->failures, 0);

  /* No more threads than items or slots could keep busy. */
  const int wanted = (int) MIN ((guint) loader->options.threads, MIN (loader->n_items, loader->capacity));
  loader->threads = g_new0 (GThread *, MAX (wanted, 1));
  for (int i = 0; i < wanted; i++)
    {
      GThread *thread = g_thread_try_new ("graft-loader", worker_main, loader, NULL);
      if (thread == NULL)
        break;   /* fewer threads; with none, next() decodes itself */
      loader->threads[loader->n_threads++] = thread;
    }
}

static void
report_failure (GraftLoader *loader, guint index, const GError *error)
{
  GraftLoaderFailure *failure = g_new0 (GraftLoaderFailure, 1);
  failure->index = index;
  failure->path = g_strdup (loader->items[index].path);
  failure->message = g_strdup (error->message);
  g_ptr_array_add (loader->failures, failure);
  if (loader->failure_func != NULL)
    loader->failure_func (loader, failure, loader->failure_data);
}

gboolean
graft_loader_next (GraftLoader *loader, GraftBatch **batch_out, GError **error)
{
  g_return_val_if_fail (batch_out != NULL, FALSE);
  *batch_out = NULL;

  if (!loader->started)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "loader: graft_loader_next called before graft_loader_start_epoch");
      return FALSE;
    }
  if (!loader->running || loader->consumed >= loader->n_items)
    return FALSE;

  const GraftPreprocessing *prep = &loader->options.preprocessing;
  const int capacity = loader->options.batch_size;
  GraftBatch *batch = g_new0 (GraftBatch, 1);
  batch->channels = graft_preprocessing_channels (prep);
  batch->height = batch->width = prep->size;
  batch->nhwc = prep->nhwc;
  batch->images = g_new (float, loader->floats * capacity);
  batch->labels = g_new (gint32, capacity);
  batch->indices = g_new (guint, capacity);

  while (batch->size < capacity && loader->consumed < loader->n_items)
    {
      const guint position = loader->consumed;
      const guint index = loader->order[position];
      float *dst = batch->images + loader->floats * batch->size;
      gboolean ok;

      if (loader->n_threads == 0)
        {
          /* No workers: decode here; the time counts as waiting. */
          GError *decode_error = NULL;
          const gint64 start = g_get_monotonic_time ();
          ok = decode_item (loader, loader->epoch, index, dst, &decode_error);
          loader->wait_seconds += (g_get_monotonic_time () - start) * 1e-6;
          if (!ok)
            {
              report_failure (loader, index, decode_error);
              g_error_free (decode_error);
            }
          loader->consumed++;
        }
      else
        {
          Slot *slot = &loader->slots[position % loader->capacity];
          g_mutex_lock (&loader->mutex);
          if (slot->state != SLOT_DONE)
            {
              const gint64 start = g_get_monotonic_time ();
              while (slot->state != SLOT_DONE)
                g_cond_wait (&loader->ready, &loader->mutex);
              loader->wait_seconds += (g_get_monotonic_time () - start) * 1e-6;
            }
          g_mutex_unlock (&loader->mutex);

          /* The slot is ours until consumed moves past it. */
          GError *decode_error = slot->error;
          slot->error = NULL;
          ok = decode_error == NULL;
          if (ok)
            memcpy (dst, slot->data, loader->floats * sizeof (float));
          else
            {
              report_failure (loader, index, decode_error);
              g_error_free (decode_error);
            }

          g_mutex_lock (&loader->mutex);
          slot->state = SLOT_EMPTY;
          loader->consumed++;
          g_cond_broadcast (&loader->space);
          g_mutex_unlock (&loader->mutex);
        }

      if (ok)
        {
          batch->labels[batch->size] = loader->items[index].label;
          batch->indices[batch->size] = index;
          batch->size++;
        }
    }

  if (batch->size == 0 || (batch->size < capacity && loader->options.drop_last))
    {
      graft_batch_free (batch);
      return FALSE;
    }
  *batch_out = batch;
  return TRUE;
}

double
graft_loader_wait_seconds (GraftLoader *loader)
{
  return loader->wait_seconds;
}

GPtrArray *
graft_loader_get_failures (GraftLoader *loader)
{
  return loader->failures;
}

void
graft_batch_free (GraftBatch *batch)
{
  if (batch == NULL)
    return;
  g_free (batch->images);
  g_free (batch->labels);
  g_free (batch->indices);
  g_free (batch);
}

void
graft_loader_free (GraftLoader *loader)
{
  if (loader == NULL)
    return;
  graft_loader_stop (loader);
  if (loader->failure_destroy != NULL)
    loader->failure_destroy (loader->failure_data);
  for (guint i = 0; i < loader->capacity; i++)
    g_free (loader->slots[i].data);
  g_free (loader->slots);
  for (guint i = 0; i < loader->n_items; i++)
    g_free ((char *) loader->items[i].path);
  g_free (loader->items);
  g_free (loader->order);
  g_ptr_array_unref (loader->failures);
  g_mutex_clear (&loader->mutex);
  g_cond_clear (&loader->ready);
  g_cond_clear (&loader->space);
  g_free (loader);
}
