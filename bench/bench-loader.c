/* bench-loader.c: decode + preprocess throughput of the image loader (src/data/).
 *
 *   bench-loader [--folder DIR] [--count N] [--size S] [--epochs E] [--train-ms MS] [--no-large]
 *
 * Without --folder it writes N (default 64) synthetic 640x480 JPEGs (quality 90,
 * 4:2:0, gradients + texture + noise) to a temporary folder, and 4 synthetic 4000x3000 (12-megapixel) JPEGs
 * for the reduced-size decode, and removes them at the end.
 *
 * It prints images/s and CPU time per image (all threads; robust to other load on the
 * machine, unlike images/s) for: decoding alone (full size; at least S * 8/7, DCT-scaled);
 * preprocessing alone (resize to S * 8/7, centre crop S, normalise); then the loader
 * (decode + preprocess through its worker threads, batch 16) with 1 and 2 threads,
 * without and with augmentation, and with JPEG scaling off. With --train-ms MS, the
 * consumer also "trains": after each batch it runs a fixed OpenMP workload on every
 * core (static schedule, like the engine's ops) calibrated to take MS ms alone, and
 * the run reports how much longer the epochs took than that many steps alone: the
 * cost of decoding beside training on the same cores (threads = 0: decoding in the
 * consumer, between steps).
 *
 * Synthetic 640x480 files weigh ~108 kB (noisier than most photos, so entropy decoding
 * is if anything overcounted); 4000x3000 ones ~3.1 MB, like a 12 MP phone JPEG. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>

#include "data/image.h"
#include "data/loader.h"
#include "data/preprocess.h"

static double
now (void)
{
  return g_get_monotonic_time () * 1e-6;
}

/* CPU seconds of the whole process (every thread): robust to other load on the machine. */
static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Smooth shapes, a texture and noise; deterministic per index. */
static gboolean
write_jpeg (const char *path, int width, int height, guint32 seed)
{
  FILE *file = fopen (path, "wb");
  if (file == NULL)
    return FALSE;
  struct jpeg_compress_struct info;
  struct jpeg_error_mgr error;
  info.err = jpeg_std_error (&error);
  jpeg_create_compress (&info);
  jpeg_stdio_dest (&info, file);
  info.image_width = width;
  info.image_height = height;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults (&info);
  jpeg_set_quality (&info, 90, TRUE);
  jpeg_start_compress (&info, TRUE);

  GRand *rand = g_rand_new_with_seed (seed);
  const double fx = g_rand_double_range (rand, 0.01, 0.05), fy = g_rand_double_range (rand, 0.01, 0.05);
  const double phase = g_rand_double_range (rand, 0, 6.28);
  const double scale = 640.0 / width;
  guint8 *row = g_malloc ((gsize) width * 3);
  while (info.next_scanline < info.image_height)
    {
      const int y = (int) info.next_scanline;
      for (int x = 0; x < width; x++)
        {
          const double u = x * scale, v = y * scale;
          const double base = 110 + 60 * sin (u * fx + phase) * cos (v * fy);
          const double texture = 25 * sin (u * 0.9 + v * 0.35) * sin (v * 0.7 - u * 0.2);
          for (int c = 0; c < 3; c++)
            {
              const double noise = (g_rand_double (rand) - 0.5) * 24;
              const double value = base + (c - 1) * 30 * cos (u * 0.02 * (c + 1)) + texture + noise;
              row[3 * x + c] = (guint8) CLAMP (value, 0, 255);
            }
        }
      JSAMPROW rows[1] = { row };
      jpeg_write_scanlines (&info, rows, 1);
    }
  jpeg_finish_compress (&info);
  jpeg_destroy_compress (&info);
  g_free (row);
  g_rand_free (rand);
  return fclose (file) == 0;
}

static GPtrArray *
make_images (const char *folder, const char *stem, int count, int width, int height, guint64 *bytes)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < count; i++)
    {
      char *path = g_strdup_printf ("%s/%s-%03d.jpg", folder, stem, i);
      if (!write_jpeg (path, width, height, (guint32) (i + 1) * 7919u + (guint32) width))
        {
          fprintf (stderr, "cannot write %s\n", path);
          exit (1);
        }
      GStatBuf st;
      if (g_stat (path, &st) == 0)
        *bytes += (guint64) st.st_size;
      g_ptr_array_add (paths, path);
    }
  return paths;
}

static GPtrArray *
list_folder (const char *folder)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  GDir *dir = g_dir_open (folder, 0, NULL);
  if (dir == NULL)
    {
      fprintf (stderr, "cannot open %s\n", folder);
      exit (1);
    }
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".jpg") || g_str_has_suffix (name, ".jpeg") || g_str_has_suffix (name, ".png"))
      g_ptr_array_add (paths, g_build_filename (folder, name, NULL));
  g_dir_close (dir);
  g_ptr_array_sort (paths, (GCompareFunc) g_strcmp0);
  return paths;
}

static void
decode_rate (const char *what, GPtrArray *paths, int min_side, int repeats)
{
  double start = now (), cpu_start = cpu_now ();
  int width = 0, height = 0;
  for (int r = 0; r < repeats; r++)
    for (guint i = 0; i < paths->len; i++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (GraftImage) image = graft_image_load_at_least (g_ptr_array_index (paths, i), min_side, &error);
        if (image == NULL)
          {
            fprintf (stderr, "%s\n", error->message);
            exit (1);
          }
        width = image->width, height = image->height;
      }
  const double seconds = now () - start, cpu = cpu_now () - cpu_start;
  const double n = (double) paths->len * repeats;
  printf ("  %-44s %8.1f images/s  (%.2f ms CPU each, decoded %dx%d)\n", what, n / seconds, 1000 * cpu / n,
          width, height);
}

/* A fixed amount of work on every core, in an OpenMP loop with a static schedule (as
 * the engine's ops are): when a decode thread takes a core, the step takes longer. */
static double
train_step_work (long units)
{
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+:total)
  for (long i = 0; i < units; i++)
    {
      double x = i * 1e-9;
      for (int k = 0; k < 1000; k++)
        x = x * 0.999999 + 1e-7;
      total += x;
    }
  return total;
}

static volatile double work_sink;
static long train_units;       /* units that take train_ms alone */
static double train_alone_s;   /* what one step measured alone */

static void
calibrate_train_step (double ms)
{
  const long probe = 20000;
  train_step_work (probe);   /* wakes the OpenMP threads */
  double start = now ();
  work_sink = train_step_work (probe);
  const double per_unit = (now () - start) / probe;
  train_units = (long) (ms / 1000 / per_unit);
  /* The median of five steps alone. */
  double times[5];
  for (int r = 0; r < 5; r++)
    {
      start = now ();
      work_sink = train_step_work (train_units);
      times[r] = now () - start;
    }
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      if (times[j] < times[i])
        {
          const double t = times[i];
          times[i] = times[j];
          times[j] = t;
        }
  train_alone_s = times[2];
}

static void
loader_rate (const char *what, GPtrArray *paths, const GraftLoaderOptions *base, int threads, int epochs,
             double train_ms)
{
  GraftLoaderOptions options = *base;
  options.threads = threads;
  GArray *items = g_array_new (FALSE, FALSE, sizeof (GraftLoaderItem));
  for (guint i = 0; i < paths->len; i++)
    {
      GraftLoaderItem item = { g_ptr_array_index (paths, i), (gint32) (i % 10) };
      g_array_append_val (items, item);
    }
  g_autoptr (GError) error = NULL;
  GraftLoader *loader = graft_loader_new ((GraftLoaderItem *) items->data, items->len, &options, &error);
  if (loader == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      exit (1);
    }

  int images = 0, batches = 0;
  const double start = now (), cpu_start = cpu_now ();
  for (int e = 0; e < epochs; e++)
    {
      graft_loader_start_epoch (loader, (guint) e);
      GraftBatch *batch;
      while (graft_loader_next (loader, &batch, NULL))
        {
          images += batch->size;
          batches++;
          graft_batch_free (batch);
          if (train_ms > 0)
            work_sink = train_step_work (train_units);
        }
    }
  const double seconds = now () - start, cpu = cpu_now () - cpu_start;
  const double wait = graft_loader_wait_seconds (loader);
  if (train_ms > 0)
    printf ("  %-34s %d thread%s  %.2f s for %d steps of %.0f ms alone: %+.1f%% (%.3f s of it waiting in next())\n",
            what, threads, threads == 1 ? " " : "s", seconds, batches, 1000 * train_alone_s,
            100 * (seconds / (batches * train_alone_s) - 1), wait);
  else
    printf ("  %-34s %d thread%s  %8.1f images/s  (%.2f ms CPU each; consumer waited %.0f%% of the time)\n",
            what, threads, threads == 1 ? " " : "s", images / seconds, 1000 * cpu / images, 100 * wait / seconds);
  graft_loader_free (loader);
  g_array_unref (items);
}

int
main (int argc, char **argv)
{
  g_autofree char *folder = NULL;
  int count = 64, size = 224, epochs = 3;
  double train_ms = 0;
  gboolean no_large = FALSE;
  GOptionEntry entries[] = {
    { "folder", 0, 0, G_OPTION_ARG_FILENAME, &folder, "Images to read (default: generated 640x480 JPEGs)", "DIR" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "Images to generate (64)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Crop side (224)", "S" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "Epochs per loader run (3)", "E" },
    { "train-ms", 0, 0, G_OPTION_ARG_DOUBLE, &train_ms, "Simulate a train step of MS ms per batch of 16", "MS" },
    { "no-large", 0, 0, G_OPTION_ARG_NONE, &no_large, "Skip the 12-megapixel images", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- image loader throughput");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }

  GraftLoaderOptions options;
  graft_loader_options_init (&options);
  options.preprocessing.size = size;
  options.preprocessing.resize = (int) lround (size * 256.0 / 224.0);
  options.batch_size = 16;
  const int resize = options.preprocessing.resize;

  g_autofree char *tmp = NULL;
  GPtrArray *paths, *large = NULL;
  guint64 bytes = 0, large_bytes = 0;
  if (folder != NULL)
    paths = list_folder (folder);
  else
    {
      tmp = g_dir_make_tmp ("graft-bench-loader-XXXXXX", NULL);
      printf ("writing %d 640x480 JPEGs to %s ...\n", count, tmp);
      paths = make_images (tmp, "vga", count, 640, 480, &bytes);
      printf ("  mean size %.1f kB\n", bytes / 1024.0 / count);
      if (!no_large)
        {
          large = make_images (tmp, "12mp", 4, 4000, 3000, &large_bytes);
          printf ("  and 4 4000x3000 JPEGs, mean size %.0f kB\n", large_bytes / 1024.0 / 4);
        }
    }
  if (paths->len == 0)
    {
      fprintf (stderr, "no images\n");
      return 1;
    }
  printf ("%u images, crop %d of a %d resize, batch 16, %d cores (OMP: %d threads)\n\n", paths->len, size, resize,
          g_get_num_processors (), omp_get_max_threads ());

  printf ("one thread, no loader:\n");
  decode_rate ("decode, full size", paths, 0, 2);
  g_autofree char *scaled = g_strdup_printf ("decode, at least %d (DCT scaling)", resize);
  decode_rate (scaled, paths, resize, 2);
  decode_rate ("decode, at least 240 (1/2 of VGA)", paths, 240, 2);
  if (large != NULL)
    {
      decode_rate ("12 MP decode, full size", large, 0, 1);
      decode_rate (scaled, large, resize, 3);
    }

  {
    g_autoptr (GraftImage) image = graft_image_load (g_ptr_array_index (paths, 0), NULL);
    float *out = g_new (float, graft_preprocessing_floats (&options.preprocessing));
    const int repeats = 100;
    double start = now (), cpu_start = cpu_now ();
    for (int r = 0; r < repeats; r++)
      graft_preprocess (image, &options.preprocessing, out);
    double seconds = now () - start, cpu = cpu_now () - cpu_start;
    printf ("  %-44s %8.1f images/s  (%.2f ms CPU each, from %dx%d)\n", "preprocess (resize, crop, normalise)",
            repeats / seconds, 1000 * cpu / repeats, image->width, image->height);
    GraftAugmentation aug;
    graft_augmentation_init_default (&aug);
    start = now (), cpu_start = cpu_now ();
    for (int r = 0; r < repeats; r++)
      graft_augment_preprocess (image, &options.preprocessing, &aug, (guint64) r, out);
    seconds = now () - start, cpu = cpu_now () - cpu_start;
    printf ("  %-44s %8.1f images/s  (%.2f ms CPU each)\n", "augment + preprocess (default augmentation)",
            repeats / seconds, 1000 * cpu / repeats);
    g_free (out);
  }

  printf ("\nloader, decode + preprocess, %d epochs:\n", epochs);
  GraftLoaderOptions eval = options, train = options;
  graft_augmentation_init_default (&train.augmentation);
  GraftLoaderOptions full = train;
  full.decode_min_side = 0;
  for (int threads = 1; threads <= 2; threads++)
    loader_rate ("eval (resize + centre crop)", paths, &eval, threads, epochs, 0);
  for (int threads = 1; threads <= 2; threads++)
    loader_rate ("train (default augmentation)", paths, &train, threads, epochs, 0);
  for (int threads = 1; threads <= 2; threads++)
    loader_rate ("train, full-size decode", paths, &full, threads, epochs, 0);
  if (large != NULL)
    for (int threads = 1; threads <= 2; threads++)
      loader_rate ("12 MP, train", large, &train, threads, 4, 0);

  if (train_ms > 0)
    {
      calibrate_train_step (train_ms);
      printf ("\nloader beside a simulated train step (a fixed OpenMP workload on every core, %.0f ms alone,\n"
              "per batch of 16), %d epochs:\n", 1000 * train_alone_s, epochs);
      for (int threads = 0; threads <= 2; threads++)
        loader_rate ("train (default augmentation)", paths, &train, threads, epochs, train_ms);
    }

  if (tmp != NULL)
    {
      for (guint i = 0; i < paths->len; i++)
        g_remove (g_ptr_array_index (paths, i));
      for (guint i = 0; large != NULL && i < large->len; i++)
        g_remove (g_ptr_array_index (large, i));
      g_rmdir (tmp);
    }
  g_ptr_array_unref (paths);
  if (large != NULL)
    g_ptr_array_unref (large);
  return 0;
}
