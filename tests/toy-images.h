/* toy-images.h: the toy task as files, for tests of what reads images from disk: an
 * ImageFolder of 8x8 PNGs (train/ and val/, one folder per class), a toy model
 * pretrained on the task, and the preprocessing that matches the files. */
#pragma once

#include <glib.h>

#include "model/model.h"
#include "train/dataset.h"
#include "train/spec.h"

/* Writes a (3,8,8) toy image as an 8-bit RGB PNG: pixel = (v + 0.5) * 160. */
void toy_write_png (const char *path, const float *image);
/* A new temporary folder with train/ (n_train images) and val/ (n_val images), classes
 * "horizontal", "vertical", "diagonal"; with broken, train/vertical/broken.png is not
 * an image. */
char *toy_image_folder_new (int n_train, int n_val, gboolean broken);
/* The train/ and val/ datasets of a folder made by toy_image_folder_new (val with
 * train's classes); fails the test when either cannot be read. */
void toy_image_folder_load (const char *folder, GraftDataset **train, GraftDataset **validation);
/* The toy network briefly trained on the task, as a GraftModel with blocks and with
 * the toy preprocessing in its metadata. */
GraftModel *toy_pretrained_model (void);
/* Sets spec's preprocessing to the toy files' and a batch of 16. */
void toy_preprocessing (GraftSessionSpec *spec);
