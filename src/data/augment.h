/* augment.h: training-time augmentation, torchvision's recipe, deterministic per seed.
 *
 * graft_augment_preprocess composes, in torchvision's order:
 *   RandomResizedCrop(size, scale=(crop_scale_min, 1), ratio=(3/4, 4/3))
 *     (the crop is resized to size x size with the same antialiased filter as
 *     preprocessing; with crop_scale_min <= 0 or >= 1 there is no random crop and the
 *     eval transform, resize + centre crop, is used instead)
 *   -> RandomHorizontalFlip (p = 1/2, when flip)
 *   -> RandomRotation(rotation_degrees) (counter-clockwise for a positive angle,
 *     bilinear sampling through the inverse map; the border is replicated, not black)
 *   -> ColorJitter(brightness, contrast, saturation) (each factor uniform in
 *     [max(0, 1 - s), 1 + s], applied in a random order, clamped to 0..255 after each;
 *     contrast blends with the mean luma of the image, saturation with each pixel's luma)
 *   -> normalisation as in preprocessing (channels, mean, std, layout).
 * Every random number comes from graft_random_uniform (seed, k) (engine/ops.h) with a
 * fixed k per decision, so the result is a pure function of (image, parameters, seed):
 * the same on any thread, in any order.
 */
#pragma once

#include <glib.h>

#include "data/data-error.h"
#include "data/image.h"
#include "data/preprocess.h"

G_BEGIN_DECLS

typedef struct {
  gboolean enabled;
  float crop_scale_min;     /* random resized crop area fraction, crop_scale_min..1; 0: no random crop */
  gboolean flip;            /* horizontal flip with probability 1/2 */
  float rotation_degrees;   /* angle uniform in [-rotation_degrees, rotation_degrees]; 0: none */
  float brightness, contrast, saturation;  /* ColorJitter strengths, 0: none */
} GraftAugmentation;

/* What one seed decided: useful to tests and to show a person what happens. */
typedef struct {
  gboolean crop;            /* FALSE: resize + centre crop */
  int crop_x, crop_y, crop_width, crop_height;   /* in the image, when crop */
  gboolean flip;
  float angle;              /* degrees, counter-clockwise */
  float brightness, contrast, saturation;        /* factors, 1 = unchanged */
  int order[3];             /* order of the colour operations: 0 brightness, 1 contrast, 2 saturation */
} GraftAugmentationSample;

/* Enabled: crop_scale_min 0.08, flip, rotation 10 degrees, brightness, contrast and
 * saturation 0.2 (torchvision's crop and flip, fastai-like rotation and lighting). */
void graft_augmentation_init_default (GraftAugmentation *aug);
/* Disabled, every strength zero. */
void graft_augmentation_init_none (GraftAugmentation *aug);

/* Ranges: crop_scale_min 0..1, rotation_degrees 0..180, jitter strengths 0..10. */
gboolean graft_augmentation_validate (const GraftAugmentation *aug, GError **error);

/* {"enabled": true, "crop_scale_min": 0.08, "flip": true, "rotation_degrees": 10,
 *  "brightness": 0.2, "contrast": 0.2, "saturation": 0.2}
 * Reading: missing keys keep graft_augmentation_init_default's values, unknown keys are
 * ignored, wrong types or ranges are GRAFT_DATA_ERROR_INVALID naming the key. */
char *graft_augmentation_to_json (const GraftAugmentation *aug);
gboolean graft_augmentation_from_json (const char *json, GraftAugmentation *aug, GError **error);

/* The random decisions for an image of width x height under seed. aug must be valid. */
void graft_augmentation_sample (const GraftAugmentation *aug, int width, int height, guint64 seed,
                                GraftAugmentationSample *sample);

/* Applies sample to image and normalises into out (graft_preprocessing_floats (prep)). */
void graft_augment_apply (const GraftImage *image, const GraftPreprocessing *prep,
                          const GraftAugmentationSample *sample, float *out);

/* graft_augmentation_sample + graft_augment_apply; with aug disabled (or NULL), exactly
 * graft_preprocess. */
void graft_augment_preprocess (const GraftImage *image, const GraftPreprocessing *prep,
                               const GraftAugmentation *aug, guint64 seed, float *out);

G_END_DECLS
