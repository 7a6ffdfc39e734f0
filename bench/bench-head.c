/* bench-head: how long feature extraction takes once the embeddings are cached.
 *
 * Builds MobileNetV2 (1280 features), fills the embedding cache for N images
 * (random embeddings, as if computed before), then runs the feature-extraction
 * preset for E epochs through the real trainer: every image comes from the cache, so
 * this times the head's training alone.
 *
 *   build/bench/bench-head [--images 5000] [--epochs 20] [--classes 10] [--threads 2]
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/parallel.h"
#include "mobilenet-v2.h"
#include "model/model-private.h"
#include "train/embedding-cache.h"
#include "train/trainer.h"

static double epoch_seconds;

static void
on_epoch (const GraftEpochEvent *event, gpointer user_data)
{
  epoch_seconds += event->seconds;
}

int
main (int argc, char **argv)
{
  int images = 5000, epochs = 20, classes = 10, threads = 2;
  g_autofree char *folder = g_dir_make_tmp ("graft-bench-head-XXXXXX", NULL);
  g_autofree char *cache_dir = g_build_filename (folder, "cache", NULL);
  g_autoptr (GraftModel) model = graft_model_new ();
  g_autoptr (GraftDataset) train = graft_dataset_new ();
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GraftTrainer) trainer = NULL;
  g_autoptr (GraftEmbeddingCache) cache = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *prep = NULL;
  g_autofree float *embedding = g_new (float, 1280);
  GraftTrainerHooks hooks = { .on_epoch = on_epoch };
  mobilenet_v2 net;
  gint64 start;
  double total;

  for (int i = 1; i + 1 < argc; i += 2)
    {
      if (strcmp (argv[i], "--images") == 0)
        images = atoi (argv[i + 1]);
      else if (strcmp (argv[i], "--epochs") == 0)
        epochs = atoi (argv[i + 1]);
      else if (strcmp (argv[i], "--classes") == 0)
        classes = atoi (argv[i + 1]);
      else if (strcmp (argv[i], "--threads") == 0)
        threads = atoi (argv[i + 1]);
    }
  graft_set_num_threads (threads);
  mobilenet_v2_build (&net, 1000, 224, 1);
  model->graph = net.graph;
  model->input = net.input;
  model->output = model->logits = net.logits;
  if (!graft_model_analyse (model, &error))
    g_error ("%s", error->message);

  spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, model);
  spec->epochs = epochs;
  spec->validation_fraction = 0;
  spec->model_sha256 = g_strdup ("bench");
  for (int c = 0; c < classes; c++)
    {
      g_autofree char *name = g_strdup_printf ("class%d", c);
      graft_dataset_add_class (train, name);
    }
  prep = graft_preprocessing_to_json (&spec->preprocessing);
  cache = graft_embedding_cache_open (cache_dir, "bench", "pool", prep, 1280, &error);
  if (cache == NULL)
    g_error ("%s", error->message);
  for (int i = 0; i < images; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/image%05d.jpg", folder, i);
      g_autofree char *content = g_strdup_printf ("image %d", i);
      g_autofree char *hash = NULL;
      int label = i % classes;
      g_file_set_contents (path, content, -1, NULL);
      hash = graft_file_sha256 (path, NULL);
      /* Embeddings that separate the classes a little, like real features. */
      for (int d = 0; d < 1280; d++)
        embedding[d] = (float) g_random_double_range (-1, 1) + (d % classes == label ? 0.5f : 0.0f);
      if (!graft_embedding_cache_insert (cache, hash, embedding, &error))
        g_error ("%s", error->message);
      graft_dataset_add (train, path, label);
    }
  g_clear_pointer (&cache, graft_embedding_cache_free);

  trainer = graft_trainer_new (model, spec, train, NULL, &error);
  if (trainer == NULL)
    g_error ("%s", error->message);
  graft_trainer_set_cache_folder (trainer, cache_dir);
  graft_trainer_set_hooks (trainer, &hooks);
  start = g_get_monotonic_time ();
  if (!graft_trainer_run (trainer, &error))
    g_error ("%s", error->message);
  total = (g_get_monotonic_time () - start) / 1e6;
  printf ("feature extraction from cached embeddings: %d images x %d features, %d classes, %d epochs, "
          "batch %d, %d threads\n", images, 1280, classes, epochs, spec->batch_size, threads);
  printf ("  training the head: %.3f s (%.1f ms per epoch)\n", epoch_seconds, epoch_seconds * 1000 / epochs);
  printf ("  whole run, with hashing %d files and reading the cache: %.3f s\n", images, total);
  for (int i = 0; i < images; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/image%05d.jpg", folder, i);
      g_remove (path);
    }
  return 0;
}
