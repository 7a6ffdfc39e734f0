/* preprocess.h: an image to a model's input tensor, as torchvision's eval transform
 * does it: Resize(resize) -> CenterCrop(size) -> ToTensor -> Normalize(mean, std).
 *
 * - Resize: the shorter side becomes `resize`, the longer one int(resize * long /
 *   short) (torchvision's rounding down). The filter is PIL's BILINEAR with antialiasing:
 *   a separable triangle filter whose support grows with the downscale factor, the
 *   same weights as PIL's Image.resize and torchvision's resize(antialias=True); done
 *   in float (PIL rounds to 8 bits after each pass, so the two differ by well under
 *   1/255 on average). Only the pixels the crop keeps are computed.
 * - Centre crop: offsets round((w - size) / 2) with Python's round-half-to-even, as
 *   torchvision's center_crop.
 * - Normalise: v = (pixel * scale - mean[c]) / std[c], pixel in 0..255.
 * - Output: float32 (C, size, size) (NCHW, one image), or (size, size, C) when nhwc.
 *   C is 3 (RGB, or BGR when bgr) or 1 when grey (luma 0.299 R + 0.587 G + 0.114 B,
 *   PIL's convert("L"), normalised with mean[0], std[0]).
 */
#pragma once

#include <glib.h>

#include "data/data-error.h"
#include "data/image.h"

G_BEGIN_DECLS

#define GRAFT_PREPROCESSING_MAX_SIZE 4096

typedef struct {
  int size;          /* crop side: the model's input is size x size */
  int resize;        /* shorter side before the centre crop; 0 means size; never below size */
  float mean[3];
  float std[3];
  float scale;       /* pixel (0..255) * scale before mean and std: 1/255 for torchvision */
  gboolean bgr;      /* channel order B, G, R (Caffe-style models) */
  gboolean nhwc;     /* (size, size, C) instead of (C, size, size) */
  gboolean grey;     /* one channel, luma */
} GraftPreprocessing;

/* ImageNet as torchvision's models want it: 224 crop of a 256 resize, mean
 * (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), scale 1/255, RGB, NCHW. */
void graft_preprocessing_init_imagenet (GraftPreprocessing *prep);

/* Checks ranges (size 1..4096, resize 0 or size..4096, std non-zero and finite, ...). */
gboolean graft_preprocessing_validate (const GraftPreprocessing *prep, GError **error);

/* The side the image is resized to before the crop: resize, or size when resize is 0. */
int graft_preprocessing_resize_side (const GraftPreprocessing *prep);
/* Channels of the output (1 or 3), and floats per image. */
int graft_preprocessing_channels (const GraftPreprocessing *prep);
gsize graft_preprocessing_floats (const GraftPreprocessing *prep);

/* JSON, as stored in a model's metadata:
 *   {"size": 224, "resize": 256, "crop": "center", "mean": [..3], "std": [..3],
 *    "scale": 0.00392156, "channels": "RGB" | "BGR" | "L", "layout": "NCHW" | "NHWC"}
 * Reading: missing keys keep the ImageNet defaults; unknown keys are ignored; wrong
 * types or values are errors (GRAFT_DATA_ERROR_INVALID) naming the key. "mean" and
 * "std" may have one element (used for every channel). */
char *graft_preprocessing_to_json (const GraftPreprocessing *prep);
gboolean graft_preprocessing_from_json (const char *json, GraftPreprocessing *prep, GError **error);

/* Writes graft_preprocessing_floats (prep) floats to out. prep must be valid. */
void graft_preprocess (const GraftImage *image, const GraftPreprocessing *prep, float *out);

G_END_DECLS
