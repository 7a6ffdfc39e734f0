/* fuzz-image.c: libFuzzer target for the PNG and JPEG decoders and what works on their
 * images: the antialiased resize, preprocessing and augmentation.
 *
 * Each input is decoded with graft_image_load_from_data, at a reduced size or at full
 * size (min_side taken from a hash of the input, so that one file always takes the same
 * path). An image that decodes is then preprocessed (resize, centre crop, normalise)
 * and augmented (random resized crop, flip, rotation, colour jitter) at a small model
 * size, both chosen from the hash too. PNG chunk CRCs are put right before decoding
 * for most inputs (see fix_png_crcs).
 *
 * A crash, a sanitizer report, a leak, a g_critical, a refusal without a
 * GRAFT_DATA_ERROR message naming the input, an image outside the limits, a decode
 * that held more than the memory limit, or a float that is not finite is a bug.
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/augment.h"
#include "data/image.h"
#include "data/preprocess.h"

#define NAME "fuzz.img"

/* FUZZ_IMAGE_VERBOSE=1 in the environment: one line per input on stderr saying what
 * became of it (to check that a corpus reaches the resize and augmentation). */
static gboolean verbose;

#define report(...) G_STMT_START { if (verbose) g_printerr (__VA_ARGS__); } G_STMT_END

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  verbose = g_getenv ("FUZZ_IMAGE_VERBOSE") != NULL;
  /* A g_return_if_fail or g_critical on hostile data is a bug: make it a crash. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK);
  return 0;
}

/* FNV-1a of the first and last bytes: the options of this input. */
static guint32
options_hash (const uint8_t *data, size_t size)
{
  guint32 h = 2166136261u;
  for (size_t i = 0; i < size && i < 32; i++)
    h = (h ^ data[i]) * 16777619u;
  for (size_t i = size > 32 ? size - 32 : size; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  return h;
}

/* libpng refuses a critical chunk whose CRC is wrong, so that nearly every mutation
 * of a PNG would stop there. For three inputs in four the CRCs are put right first
 * (on a copy), so that the fuzzer reaches the decoder behind them. */
static guint8 *
fix_png_crcs (const uint8_t *data, size_t size)
{
  static const guint8 magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  if (size < 8 || memcmp (data, magic, 8) != 0)
    return NULL;
  guint8 *copy = g_memdup2 (data, size);
  size_t at = 8;
  while (size - at >= 12)
    {
      const guint32 length = (guint32) copy[at] << 24 | (guint32) copy[at + 1] << 16
                             | (guint32) copy[at + 2] << 8 | copy[at + 3];
      if (length > size - at - 12)
        break;
      const guint32 crc = (guint32) crc32 (0, copy + at + 4, length + 4);
      guint8 *out = copy + at + 8 + length;
      out[0] = crc >> 24;
      out[1] = crc >> 16;
      out[2] = crc >> 8;
      out[3] = crc;
      at += 12 + (size_t) length;
    }
  return copy;
}

static void
check_finite (const float *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!isfinite (out[i]))
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const int min_sides[] = { 0, 1, 16, 40 };
  const guint32 h = options_hash (data, size);
  const int min_side = min_sides[h & 3];
  g_autoptr (GError) error = NULL;

  g_autofree guint8 *fixed = (h >> 22) & 3 ? fix_png_crcs (data, size) : NULL;
  if (fixed != NULL)
    data = fixed;

  graft_image_memory_peak (TRUE);
  g_autoptr (GraftImage) image = graft_image_load_from_data (data, size, NAME, min_side, &error);
  /* The decode kept to its memory limit (and released what it held). */
  if (graft_image_memory_peak (TRUE) > GRAFT_IMAGE_MEMORY_LIMIT || graft_image_memory_peak (FALSE) != 0)
    abort ();
  if (image == NULL)
    {
      /* Every failure must say why, and name the input. */
      if (error == NULL || error->domain != GRAFT_DATA_ERROR || error->message == NULL
          || !g_str_has_prefix (error->message, NAME ": "))
        abort ();
      report ("fuzz-image: refused: %s\n", error->message);
      return 0;
    }
  if (error != NULL || image->width < 1 || image->height < 1 || image->width > GRAFT_IMAGE_MAX_SIDE
      || image->height > GRAFT_IMAGE_MAX_SIDE || image->rgb == NULL)
    abort ();
  /* The pixels are all written (MSan would say so; here, reading them all lets ASan
   * catch a short buffer). */
  guint sum = 0;
  for (gsize i = 0, n = (gsize) image->width * image->height * 3; i < n; i++)
    sum += image->rgb[i];

  GraftPreprocessing prep;
  graft_preprocessing_init_imagenet (&prep);
  prep.size = 1 + (int) ((h >> 2) % 40);
  prep.resize = (h >> 8) & 1 ? prep.size + (int) ((h >> 9) % 24) : 0;
  prep.grey = ((h >> 14) & 7) == 0;
  prep.nhwc = (h >> 17) & 1;
  if (!graft_preprocessing_validate (&prep, NULL))
    abort ();
  const gsize floats = graft_preprocessing_floats (&prep);
  g_autofree float *out = g_new (float, floats);
  graft_preprocess (image, &prep, out);
  check_finite (out, floats);

  GraftAugmentation aug;
  graft_augmentation_init_default (&aug);
  aug.crop_scale_min = (h >> 18) & 1 ? 0.08f : 0.0f;
  aug.rotation_degrees = (float) ((h >> 19) % 181);
  graft_augment_preprocess (image, &prep, &aug, h, out);
  check_finite (out, floats);

  report ("fuzz-image: %dx%d (min side %d, sum %u) -> %d, augmented\n", image->width, image->height,
          min_side, sum, prep.size);
  return 0;
}
