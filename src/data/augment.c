/* augment.c: random resized crop, flip, rotation, colour jitter; deterministic per seed. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "engine/ops.h"

#include "data/augment.h"
#include "data/preprocess-private.h"
#include "data/resample.h"

/* The k of graft_random_uniform (seed, k) for each decision: fixed, so that changing
 * one setting (say, turning rotation off) does not reshuffle the others. */
enum {
  DRAW_CROP = 0,          /* 4 per attempt, 10 attempts: area, ratio, top, left */
  DRAW_FLIP = 40,
  DRAW_ANGLE,
  DRAW_BRIGHTNESS,
  DRAW_CONTRAST,
  DRAW_SATURATION,
  DRAW_ORDER,             /* 2 draws */
};

#define CROP_ATTEMPTS 10
#define RATIO_MIN (3.0 / 4.0)
#define RATIO_MAX (4.0 / 3.0)
#define JITTER_MAX 10.0f

void
graft_augmentation_init_default (GraftAugmentation *aug)
{
  *aug = (GraftAugmentation) {
    .enabled = TRUE,
    .crop_scale_min = 0.08f,
    .flip = TRUE,
    .rotation_degrees = 10.0f,
    .brightness = 0.2f,
    .contrast = 0.2f,
    .saturation = 0.2f,
  };
}

void
graft_augmentation_init_none (GraftAugmentation *aug)
{
  *aug = (GraftAugmentation) { .enabled = FALSE };
}

gboolean
graft_augmentation_validate (const GraftAugmentation *aug, GError **error)
{
  if (!(aug->crop_scale_min >= 0.0f && aug->crop_scale_min <= 1.0f))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("augmentation: crop_scale_min must be between 0 and 1"));
      return FALSE;
    }
  if (!(aug->rotation_degrees >= 0.0f && aug->rotation_degrees <= 180.0f))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("augmentation: rotation_degrees must be between 0 and 180"));
      return FALSE;
    }
  const float strengths[3] = { aug->brightness, aug->contrast, aug->saturation };
  static const char *const names[3] = { "brightness", "contrast", "saturation" };
  for (int i = 0; i < 3; i++)
    if (!(strengths[i] >= 0.0f && strengths[i] <= JITTER_MAX))
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                     _("augmentation: %s must be between 0 and %g"), names[i], JITTER_MAX);
        return FALSE;
      }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

char *
graft_augmentation_to_json (const GraftAugmentation *aug)
{
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "{\"enabled\": %s, \"crop_scale_min\": ", aug->enabled ? "true" : "false");
  graft_json_append_float (out, aug->crop_scale_min);
  g_string_append_printf (out, ", \"flip\": %s, \"rotation_degrees\": ", aug->flip ? "true" : "false");
  graft_json_append_float (out, aug->rotation_degrees);
  g_string_append (out, ", \"brightness\": ");
  graft_json_append_float (out, aug->brightness);
  g_string_append (out, ", \"contrast\": ");
  graft_json_append_float (out, aug->contrast);
  g_string_append (out, ", \"saturation\": ");
  graft_json_append_float (out, aug->saturation);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static gboolean
read_float_member (JsonObject *object, const char *key, float *value, GError **error)
{
  double number;
  if (!json_object_has_member (object, key))
    return TRUE;
  if (!graft_json_read_number (object, "augmentation", key, &number, error))
    return FALSE;
  *value = (float) number;
  return TRUE;
}

static gboolean
read_bool_member (JsonObject *object, const char *key, gboolean *value, GError **error)
{
  if (!json_object_has_member (object, key))
    return TRUE;
  return graft_json_read_bool (object, "augmentation", key, value, error);
}

gboolean
graft_augmentation_from_json (const char *json, GraftAugmentation *aug_out, GError **error)
{
  g_autoptr (JsonObject) object = graft_json_parse_object (json, "augmentation", error);
  if (object == NULL)
    return FALSE;

  GraftAugmentation aug;
  graft_augmentation_init_default (&aug);
  if (!read_bool_member (object, "enabled", &aug.enabled, error)
      || !read_float_member (object, "crop_scale_min", &aug.crop_scale_min, error)
      || !read_bool_member (object, "flip", &aug.flip, error)
      || !read_float_member (object, "rotation_degrees", &aug.rotation_degrees, error)
      || !read_float_member (object, "brightness", &aug.brightness, error)
      || !read_float_member (object, "contrast", &aug.contrast, error)
      || !read_float_member (object, "saturation", &aug.saturation, error)
      || !graft_augmentation_validate (&aug, error))
    return FALSE;
  *aug_out = aug;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */

static double
uniform (guint64 seed, int k)
{
  return graft_random_uniform (seed, (uint64_t) k);
}

/* Python's round(): half to even (nearbyint in the default rounding mode). */
static int
round_even (double x)
{
  return (int) nearbyint (x);
}

static float
jitter_factor (float strength, guint64 seed, int k)
{
  if (strength <= 0.0f)
    return 1.0f;
  const double lo = MAX (0.0, 1.0 - strength), hi = 1.0 + strength;
  return (float) (lo + uniform (seed, k) * (hi - lo));
}

void
graft_augmentation_sample (const GraftAugmentation *aug, int width, int height, guint64 seed,
                           GraftAugmentationSample *sample)
{
  memset (sample, 0, sizeof *sample);

  /* torchvision's RandomResizedCrop.get_params. */
  if (aug->crop_scale_min > 0.0f && aug->crop_scale_min < 1.0f)
    {
      const double area = (double) width * height;
      const double log_lo = log (RATIO_MIN), log_hi = log (RATIO_MAX);
      sample->crop = TRUE;
      gboolean found = FALSE;
      for (int attempt = 0; attempt < CROP_ATTEMPTS && !found; attempt++)
        {
          const int k = DRAW_CROP + 4 * attempt;
          const double target = area * (aug->crop_scale_min + uniform (seed, k) * (1.0 - aug->crop_scale_min));
          const double ratio = exp (log_lo + uniform (seed, k + 1) * (log_hi - log_lo));
          const int w = round_even (sqrt (target * ratio));
          const int h = round_even (sqrt (target / ratio));
          if (w > 0 && w <= width && h > 0 && h <= height)
            {
              sample->crop_width = w;
              sample->crop_height = h;
              sample->crop_y = MIN ((int) (uniform (seed, k + 2) * (height - h + 1)), height - h);
              sample->crop_x = MIN ((int) (uniform (seed, k + 3) * (width - w + 1)), width - w);
              found = TRUE;
            }
        }
      if (!found)
        {
          /* Fallback: the central crop of the whole image, its ratio clamped. */
          const double in_ratio = (double) width / height;
          int w = width, h = height;
          if (in_ratio < RATIO_MIN)
            h = round_even (w / RATIO_MIN);
          else if (in_ratio > RATIO_MAX)
            w = round_even (h * RATIO_MAX);
          w = CLAMP (w, 1, width);
          h = CLAMP (h, 1, height);
          sample->crop_width = w;
          sample->crop_height = h;
          sample->crop_x = (width - w) / 2;
          sample->crop_y = (height - h) / 2;
        }
    }

  sample->flip = aug->flip && uniform (seed, DRAW_FLIP) < 0.5;
  sample->angle = aug->rotation_degrees > 0.0f
                    ? (float) ((2.0 * uniform (seed, DRAW_ANGLE) - 1.0) * aug->rotation_degrees)
                    : 0.0f;
  sample->brightness = jitter_factor (aug->brightness, seed, DRAW_BRIGHTNESS);
  sample->contrast = jitter_factor (aug->contrast, seed, DRAW_CONTRAST);
  sample->saturation = jitter_factor (aug->saturation, seed, DRAW_SATURATION);

  /* A random permutation of the three colour operations (Fisher-Yates). */
  int order[3] = { 0, 1, 2 };
  for (int i = 2; i > 0; i--)
    {
      const int j = MIN ((int) (uniform (seed, DRAW_ORDER + 2 - i) * (i + 1)), i);
      const int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  memcpy (sample->order, order, sizeof order);
}

/* ------------------------------------------------------------------------ */
/* Applying                                                                 */

/* Mirror, then rotate by angle degrees counter-clockwise about the centre; bilinear,
 * border replicated. src and dst are (side, side, 3). */
static void
flip_rotate (const float *src, float *dst, int side, gboolean flip, float angle)
{
  const gsize row = (gsize) side * 3;

  if (angle == 0.0f)
    {
      if (!flip)
        {
          memcpy (dst, src, row * side * sizeof (float));
          return;
        }
      /* A plain mirror: exact. */
      for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
          memcpy (dst + y * row + 3 * x, src + y * row + 3 * (side - 1 - x), 3 * sizeof (float));
      return;
    }

  const double theta = angle * G_PI / 180.0, c = cos (theta), s = sin (theta);
  const double centre = side / 2.0;
  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++)
      {
        /* Pixel centres at i + 0.5; (dx, dy) from the centre, y downwards. The content
         * turned counter-clockwise by theta: the source is the inverse rotation. */
        const double dx = x + 0.5 - centre, dy = y + 0.5 - centre;
        double sx = c * dx - s * dy, sy = s * dx + c * dy;
        if (flip)
          sx = -sx;
        /* Back to pixel indices (centre of pixel i is i + 0.5), clamped: border replicated. */
        double fx = CLAMP (sx + centre - 0.5, 0.0, side - 1.0);
        double fy = CLAMP (sy + centre - 0.5, 0.0, side - 1.0);
        const int x0 = MIN ((int) fx, side - 1), y0 = MIN ((int) fy, side - 1);
        const int x1 = MIN (x0 + 1, side - 1), y1 = MIN (y0 + 1, side - 1);
        const float ax = (float) (fx - x0), ay = (float) (fy - y0);
        const float *p00 = src + y0 * row + 3 * x0, *p01 = src + y0 * row + 3 * x1;
        const float *p10 = src + y1 * row + 3 * x0, *p11 = src + y1 * row + 3 * x1;
        float *out = dst + y * row + 3 * x;
        for (int k = 0; k < 3; k++)
          {
            const float top = p00[k] + ax * (p01[k] - p00[k]);
            const float bottom = p10[k] + ax * (p11[k] - p10[k]);
            out[k] = top + ay * (bottom - top);
          }
      }
}

static inline float
clamp255 (float v)
{
  return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

static inline float
luma (const float *p)
{
  return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

static void
colour_jitter (float *hwc, gsize pixels, const GraftAugmentationSample *sample)
{
  for (int step = 0; step < 3; step++)
    switch (sample->order[step])
      {
      case 0:
        if (sample->brightness != 1.0f)
          for (gsize i = 0; i < pixels * 3; i++)
            hwc[i] = clamp255 (hwc[i] * sample->brightness);
        break;
      case 1:
        if (sample->contrast != 1.0f)
          {
            double total = 0.0;
            for (gsize i = 0; i < pixels; i++)
              total += luma (hwc + 3 * i);
            const float mean = (float) (total / pixels), f = sample->contrast;
            for (gsize i = 0; i < pixels * 3; i++)
              hwc[i] = clamp255 (f * hwc[i] + (1.0f - f) * mean);
          }
        break;
      default:
        if (sample->saturation != 1.0f)
          {
            const float f = sample->saturation;
            for (gsize i = 0; i < pixels; i++)
              {
                float *p = hwc + 3 * i;
                const float grey = (1.0f - f) * luma (p);
                p[0] = clamp255 (f * p[0] + grey);
                p[1] = clamp255 (f * p[1] + grey);
                p[2] = clamp255 (f * p[2] + grey);
              }
          }
        break;
      }
}

void
graft_augment_apply (const GraftImage *image, const GraftPreprocessing *prep,
                     const GraftAugmentationSample *sample, float *out)
{
  const int size = prep->size;
  const gsize pixels = (gsize) size * size;
  float *hwc = g_new (float, pixels * 3);

  if (sample->crop)
    graft_resample_window (image, sample->crop_x, sample->crop_y, sample->crop_width, sample->crop_height,
                           size, size, 0, 0, size, size, hwc);
  else
    graft_resize_centre_crop (image, graft_preprocessing_resize_side (prep), size, hwc);

  if (sample->flip || sample->angle != 0.0f)
    {
      float *turned = g_new (float, pixels * 3);
      flip_rotate (hwc, turned, size, sample->flip, sample->angle);
      g_free (hwc);
      hwc = turned;
    }

  colour_jitter (hwc, pixels, sample);
  graft_normalise (hwc, size, prep, out);
  g_free (hwc);
}

void
graft_augment_preprocess (const GraftImage *image, const GraftPreprocessing *prep,
                          const GraftAugmentation *aug, guint64 seed, float *out)
{
  if (aug == NULL || !aug->enabled)
    {
      graft_preprocess (image, prep, out);
      return;
    }
  GraftAugmentationSample sample;
  graft_augmentation_sample (aug, image->width, image->height, seed, &sample);
  graft_augment_apply (image, prep, &sample, out);
}
