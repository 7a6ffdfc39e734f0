#include "toy-images.h"

#include <glib/gstdio.h>
#include <png.h>
#include <stdio.h>

#include "data/preprocess.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model-private.h"
#include "toy-network.h"

void
toy_write_png (const char *path, const float *image)
{
  FILE *file = fopen (path, "wb");
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  guint8 rows[TOY_SIZE][TOY_SIZE * 3];
  png_bytep pointers[TOY_SIZE];

  g_assert_nonnull (file);
  for (int y = 0; y < TOY_SIZE; y++)
    {
      for (int x = 0; x < TOY_SIZE; x++)
        for (int c = 0; c < 3; c++)
          {
            float v = image[(c * TOY_SIZE + y) * TOY_SIZE + x];
            rows[y][x * 3 + c] = (guint8) CLAMP ((v + 0.5f) * 160.0f, 0, 255);
          }
      pointers[y] = rows[y];
    }
  png_init_io (png, file);
  png_set_IHDR (png, info, TOY_SIZE, TOY_SIZE, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  png_write_image (png, pointers);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (file);
}

char *
toy_image_folder_new (int n_train, int n_val, gboolean broken)
{
  static const char *const names[TOY_CLASSES] = { "horizontal", "vertical", "diagonal" };
  const int counts[2] = { n_train, n_val };
  char *folder = g_dir_make_tmp ("graft-toy-XXXXXX", NULL);

  g_assert_nonnull (folder);
  for (int split = 0; split < 2; split++)
    {
      int n = counts[split];
      g_autofree float *images = test_floats ((size_t) n * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
      g_autofree int32_t *labels = g_new (int32_t, MAX (1, n));
      toy_batch (n, 100 + (uint64_t) split, images, labels);
      for (int c = 0; c < TOY_CLASSES; c++)
        {
          g_autofree char *dir = g_build_filename (folder, split ? "val" : "train", names[c], NULL);
          g_mkdir_with_parents (dir, 0755);
        }
      for (int i = 0; i < n; i++)
        {
          g_autofree char *name = g_strdup_printf ("%03d.png", i);
          g_autofree char *path = g_build_filename (folder, split ? "val" : "train", names[labels[i]], name, NULL);
          toy_write_png (path, images + (size_t) i * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
        }
    }
  if (broken)
    {
      g_autofree char *path = g_build_filename (folder, "train", "vertical", "broken.png", NULL);
      g_file_set_contents (path, "not an image", -1, NULL);
    }
  return folder;
}

static void
toy_preprocessing_values (GraftPreprocessing *prep)
{
  graft_preprocessing_init_imagenet (prep);
  prep->size = TOY_SIZE;
  prep->resize = TOY_SIZE;
  for (int c = 0; c < 3; c++)
    {
      prep->mean[c] = 0.5f * 160;
      prep->std[c] = 160;
    }
  prep->scale = 1;
}

GraftModel *
toy_pretrained_model (void)
{
  GraftModel *model = graft_model_new ();
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_plan_options options = { .mode = GRAFT_PLAN_TRAINING, .batch = 16, .seed = 3 };
  g_autofree float *images = test_floats (16 * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
  GraftPreprocessing prep;
  int32_t labels[16];
  graft_optimizer_state *state;
  graft_plan *plan;
  toy_network net;

  toy_network_build (&net, 0.0f, 21);
  options.loss_logits = net.logits;
  plan = graft_plan_new (net.graph, &options, NULL);
  config.learning_rate = 1e-2f;
  state = graft_optimizer_state_new (&config, NULL);
  for (int step = 0; step < 40; step++)
    {
      toy_batch (16, 5000 + (uint64_t) step, images, labels);
      graft_plan_set_input (plan, net.input, images, 16 * TOY_CHANNELS * TOY_SIZE * TOY_SIZE, NULL);
      graft_plan_forward (plan, NULL);
      graft_plan_backward (plan, labels, NULL, NULL);
      graft_optimizer_state_step (state, plan, config.learning_rate, NULL, NULL);
    }
  graft_plan_free (plan);
  graft_optimizer_state_free (state);
  model->graph = net.graph;
  model->input = net.input;
  model->output = model->logits = net.logits;
  model->input_name = g_strdup ("image");
  model->output_name = g_strdup ("fc");
  toy_preprocessing_values (&prep);
  g_hash_table_insert (model->metadata, g_strdup (GRAFT_METADATA_PREPROCESSING), graft_preprocessing_to_json (&prep));
  g_assert_true (graft_model_analyse (model, NULL));
  return model;
}

void
toy_preprocessing (GraftSessionSpec *spec)
{
  toy_preprocessing_values (&spec->preprocessing);
  spec->batch_size = 16;
}

void
toy_image_folder_load (const char *folder, GraftDataset **train, GraftDataset **validation)
{
  g_autofree char *train_dir = g_build_filename (folder, "train", NULL);
  g_autofree char *val_dir = g_build_filename (folder, "val", NULL);
  GError *error = NULL;

  *train = graft_dataset_load_image_folder (train_dir, NULL, &error);
  g_assert_no_error (error);
  *validation = graft_dataset_load_image_folder (val_dir, (*train)->classes, &error);
  g_assert_no_error (error);
}
