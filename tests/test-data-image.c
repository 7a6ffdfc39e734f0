/* Image decoding, EXIF orientation, preprocessing and augmentation (src/data/).
 *
 * The images and the pixels they should decode to are made by
 * tests/data/images/make-images.py (PIL, torchvision, ImageMagick) and committed.
 * PNG must match exactly. JPEG is compared with PIL's decoding: both run the system's
 * libjpeg-turbo with the same settings (islow IDCT, fancy upsampling), so they agree
 * to within JPEG_TOLERANCE (a different libjpeg build could differ by a few levels). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/resource.h>

#include "data/augment.h"
#include "data/image-private.h"
#include "data/image.h"
#include "data/preprocess.h"

#include "test-project-helpers.h"

#define JPEG_TOLERANCE 2

static char *
image_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "images", name, NULL);
}

static char *
expected_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "images", "expected", name, NULL);
}

/* A binary PPM (P6, maxval 255) as written by make-images.py. */
static GraftImage *
read_ppm (const char *name)
{
  g_autofree char *path = expected_path (name);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  int width = 0, height = 0, maxval = 0, offset = 0;
  g_assert_cmpint (sscanf (contents, "P6 %d %d %d%n", &width, &height, &maxval, &offset), ==, 3);
  g_assert_cmpint (maxval, ==, 255);
  offset++;   /* the single whitespace after maxval */
  g_assert_cmpuint (length, ==, (gsize) offset + (gsize) width * height * 3);
  GraftImage *image = graft_image_new (width, height, NULL);
  memcpy (image->rgb, contents + offset, (gsize) width * height * 3);
  return image;
}

static float *
read_floats (const char *name, gsize count)
{
  g_autofree char *path = expected_path (name);
  char *contents = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, count * sizeof (float));
  return (float *) contents;   /* little-endian float32, this machine's order */
}

static GraftImage *
load_ok (const char *name)
{
  g_autofree char *path = image_path (name);
  g_autoptr (GError) error = NULL;
  GraftImage *image = graft_image_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  return image;
}

static int
max_difference (const GraftImage *a, const GraftImage *b, double *mean)
{
  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  const gsize n = (gsize) a->width * a->height * 3;
  int worst = 0;
  double total = 0;
  for (gsize i = 0; i < n; i++)
    {
      const int d = abs ((int) a->rgb[i] - (int) b->rgb[i]);
      worst = MAX (worst, d);
      total += d;
    }
  if (mean != NULL)
    *mean = total / n;
  return worst;
}

static char *
ppm_name (const char *image_name)
{
  g_autofree char *stem = g_strndup (image_name, strrchr (image_name, '.') - image_name);
  return g_strconcat (stem, ".ppm", NULL);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

static void
test_png_variants (void)
{
  static const char *const names[] = {
    "png-rgb.png", "png-palette.png", "png-palette4.png", "png-palette-trns.png",
    "png-grey.png", "png-grey1.png", "png-grey-alpha.png", "png-rgba.png",
    "png-grey16.png", "png-rgba16.png", "png-interlaced.png", "png-interlaced-rgba16.png",
    "png-exif6.png",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GraftImage) image = load_ok (names[i]);
      g_autofree char *expected_name = ppm_name (names[i]);
      g_autoptr (GraftImage) expected = read_ppm (expected_name);
      g_test_message ("%s: %dx%d", names[i], image->width, image->height);
      g_assert_cmpint (max_difference (image, expected, NULL), ==, 0);
    }
}

static void
test_jpeg_variants (void)
{
  static const char *const names[] = {
    "jpeg-baseline.jpg", "jpeg-444.jpg", "jpeg-odd.jpg", "jpeg-progressive.jpg",
    "jpeg-grey.jpg", "jpeg-cmyk.jpg", "jpeg-cmyk-im.jpg",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GraftImage) image = load_ok (names[i]);
      g_autofree char *expected_name = ppm_name (names[i]);
      g_autoptr (GraftImage) expected = read_ppm (expected_name);
      double mean;
      const int worst = max_difference (image, expected, &mean);
      g_test_message ("%s: %dx%d, max difference from PIL %d, mean %.4f", names[i], image->width,
                      image->height, worst, mean);
      g_assert_cmpint (worst, <=, JPEG_TOLERANCE);
    }
}

static void
test_exif_orientations (void)
{
  g_autoptr (GraftImage) upright = read_ppm ("exif-upright.ppm");

  for (int o = 1; o <= 8; o++)
    {
      g_autofree char *name = g_strdup_printf ("jpeg-exif%d.jpg", o);
      g_autofree char *expected_name = g_strdup_printf ("jpeg-exif%d.ppm", o);
      g_autoptr (GraftImage) image = load_ok (name);
      g_autoptr (GraftImage) expected = read_ppm (expected_name);
      double mean_pil, mean_upright;
      const int worst_pil = max_difference (image, expected, &mean_pil);
      /* Upright whatever the orientation: JPEG noise only (a wrong transform moves
       * quadrants of very different colours: a mean difference of ~100). */
      max_difference (image, upright, &mean_upright);
      g_test_message ("orientation %d: %dx%d, max difference from PIL %d, mean from upright %.2f",
                      o, image->width, image->height, worst_pil, mean_upright);
      g_assert_cmpint (worst_pil, <=, JPEG_TOLERANCE);
      g_assert_cmpfloat (mean_upright, <, 3.0);
      /* The white bar near the top left of the upright image. */
      const guint8 *bar = image->rgb + ((gsize) 5 * image->width + 10) * 3;
      g_assert_cmpint (bar[0], >, 220);
      g_assert_cmpint (bar[1], >, 220);
      g_assert_cmpint (bar[2], >, 220);
    }
}

static void
test_exif_hostile_files (void)
{
  /* Malformed EXIF is ignored: the image comes out as stored. */
  static const char *const names[] = { "jpeg-exif-hostile.jpg", "jpeg-exif-badoffset.jpg" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GraftImage) image = load_ok (names[i]);
      g_autofree char *expected_name = ppm_name (names[i]);
      g_autoptr (GraftImage) expected = read_ppm (expected_name);
      g_assert_cmpint (max_difference (image, expected, NULL), <=, JPEG_TOLERANCE);
    }
}

/* A TIFF block: IFD0 with entries (tag, type, count, value). */
static GByteArray *
make_tiff (gboolean big_endian, guint32 ifd_offset, guint16 claimed_count, const guint16 (*entries)[4],
           int n_entries)
{
  GByteArray *out = g_byte_array_new ();
  const guint8 order[2] = { big_endian ? 'M' : 'I', big_endian ? 'M' : 'I' };
  g_byte_array_append (out, order, 2);
#define PUT16(v)                                                                        \
  do {                                                                                  \
    guint16 x_ = (v);                                                                   \
    guint8 b_[2] = { big_endian ? x_ >> 8 : x_ & 0xff, big_endian ? x_ & 0xff : x_ >> 8 }; \
    g_byte_array_append (out, b_, 2);                                                   \
  } while (0)
#define PUT32(v)                                                                        \
  do {                                                                                  \
    guint32 y_ = (v);                                                                   \
    if (big_endian) { PUT16 (y_ >> 16); PUT16 (y_ & 0xffff); }                          \
    else { PUT16 (y_ & 0xffff); PUT16 (y_ >> 16); }                                     \
  } while (0)
  PUT16 (42);
  PUT32 (ifd_offset);
  while (out->len < ifd_offset && out->len < 64)
    {
      guint8 zero = 0;
      g_byte_array_append (out, &zero, 1);
    }
  PUT16 (claimed_count);
  for (int i = 0; i < n_entries; i++)
    {
      PUT16 (entries[i][0]);
      PUT16 (entries[i][1]);
      PUT32 (entries[i][2]);
      PUT16 (entries[i][3]);
      PUT16 (0);
    }
  PUT32 (0);
#undef PUT16
#undef PUT32
  return out;
}

static void
test_exif_parser (void)
{
  const guint16 ok3[][4] = { { 0x010f, 2, 4, 0 }, { 0x0112, 3, 1, 3 } };
  const guint16 ok6[][4] = { { 0x0112, 3, 1, 6 } };
  const guint16 long_type[][4] = { { 0x0112, 4, 1, 6 } };
  const guint16 two_values[][4] = { { 0x0112, 3, 2, 6 } };
  const guint16 value9[][4] = { { 0x0112, 3, 1, 9 } };

  for (int big = 0; big <= 1; big++)
    {
      g_autoptr (GByteArray) a = make_tiff (big, 8, 2, ok3, 2);
      g_assert_cmpint (graft_exif_orientation_from_tiff (a->data, a->len), ==, 3);
      /* Every prefix: no read past the end (ASan), and 1 unless the entry is whole. */
      for (guint len = 0; len < a->len; len++)
        {
          const int o = graft_exif_orientation_from_tiff (a->data, len);
          g_assert_true (o == 1 || o == 3);
          if (len < 8 + 2 + 24)
            g_assert_cmpint (o, ==, 1);
        }
      g_autoptr (GByteArray) b = make_tiff (big, 8, 1, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (b->data, b->len), ==, 6);
      /* A count larger than the block: the block is broken, ignored. */
      g_autoptr (GByteArray) c = make_tiff (big, 8, 0xffff, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (c->data, c->len), ==, 1);
      g_autoptr (GByteArray) c2 = make_tiff (big, 8, 2, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (c2->data, c2->len), ==, 1);
      g_autoptr (GByteArray) d = make_tiff (big, 8, 1, long_type, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (d->data, d->len), ==, 1);
      g_autoptr (GByteArray) e = make_tiff (big, 8, 1, two_values, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (e->data, e->len), ==, 1);
      g_autoptr (GByteArray) f = make_tiff (big, 8, 1, value9, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (f->data, f->len), ==, 1);
      /* IFD offsets past the end, at the very end, or wrapping around. */
      g_autoptr (GByteArray) g = make_tiff (big, 0xfffffff0u, 1, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (g->data, g->len), ==, 1);
      g_autoptr (GByteArray) h = make_tiff (big, 0xffffffffu, 1, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (h->data, h->len), ==, 1);
      g_autoptr (GByteArray) i = make_tiff (big, 4, 1, ok6, 1);
      g_assert_cmpint (graft_exif_orientation_from_tiff (i->data, i->len), ==, 1);
    }

  /* Not TIFF at all. */
  g_assert_cmpint (graft_exif_orientation_from_tiff ((const guint8 *) "XX*\0\0\0\0\x08", 8), ==, 1);
  g_assert_cmpint (graft_exif_orientation_from_tiff (NULL, 0), ==, 1);

  /* APP1: "Exif\0\0" then TIFF; anything else is not EXIF (0). */
  g_autoptr (GByteArray) tiff = make_tiff (FALSE, 8, 1, ok6, 1);
  g_autoptr (GByteArray) app1 = g_byte_array_new ();
  g_byte_array_append (app1, (const guint8 *) "Exif\0\0", 6);
  g_byte_array_append (app1, tiff->data, tiff->len);
  g_assert_cmpint (graft_exif_orientation_from_app1 (app1->data, app1->len), ==, 6);
  g_assert_cmpint (graft_exif_orientation_from_app1 (app1->data, 5), ==, 0);
  g_assert_cmpint (graft_exif_orientation_from_app1 ((const guint8 *) "http://ns.adobe.com/xap/1.0/", 28), ==, 0);

  /* Random bytes after a valid header: whatever comes out is 1..8 (ASan watches reads). */
  GRand *rand = g_rand_new_with_seed (42);
  guint8 buffer[96];
  for (int round = 0; round < 20000; round++)
    {
      const gsize len = g_rand_int_range (rand, 0, sizeof buffer + 1);
      for (gsize k = 0; k < len; k++)
        buffer[k] = (guint8) g_rand_int_range (rand, 0, 256);
      if (len >= 8)
        {
          memcpy (buffer, round % 2 ? "MM\0*" : "II*\0", 4);
          buffer[round % 2 ? 7 : 4] = (guint8) g_rand_int_range (rand, 0, 100);
          buffer[round % 2 ? 4 : 7] = buffer[round % 2 ? 5 : 6] = 0;
          buffer[round % 2 ? 6 : 5] = 0;
        }
      const int o = graft_exif_orientation_from_tiff (buffer, len);
      g_assert_cmpint (o, >=, 1);
      g_assert_cmpint (o, <=, 8);
    }
  g_rand_free (rand);
}

typedef struct {
  const char *name;
  GraftDataError code;
  const char *reason;
} ErrorCase;

static void
test_errors_name_the_file (void)
{
  static const ErrorCase cases[] = {
    { "truncated.png", GRAFT_DATA_ERROR_CORRUPT, "truncated" },
    { "truncated.jpg", GRAFT_DATA_ERROR_CORRUPT, "truncated" },
    { "badcrc.png", GRAFT_DATA_ERROR_CORRUPT, "CRC" },
    { "baddata.png", GRAFT_DATA_ERROR_CORRUPT, "corrupt PNG file" },
    { "text.jpg", GRAFT_DATA_ERROR_FORMAT, "not a PNG or JPEG image" },
    { "empty.png", GRAFT_DATA_ERROR_FORMAT, "empty" },
    { "huge.png", GRAFT_DATA_ERROR_TOO_LARGE, "40000" },
    { "huge.jpg", GRAFT_DATA_ERROR_TOO_LARGE, "40000" },
    { "no-such-file.png", GRAFT_DATA_ERROR_IO, "No such file" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = image_path (cases[i].name);
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftImage) image = graft_image_load (path, &error);
      g_assert_null (image);
      g_assert_error (error, GRAFT_DATA_ERROR, (gint) cases[i].code);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, path));
      g_assert_nonnull (strstr (error->message, cases[i].reason));
    }

  /* A folder. */
  g_autofree char *folder = image_path ("expected");
  g_autoptr (GError) error = NULL;
  g_assert_null (graft_image_load (folder, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "a folder"));
  g_clear_error (&error);

  /* A device that never ends is not read. */
  g_assert_null (graft_image_load ("/dev/zero", &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_IO);
  g_assert_cmpstr (error->message, ==, "/dev/zero is not a regular file (a character device)");
  g_clear_error (&error);

  /* Other formats get named. */
  static const guint8 gif[] = "GIF89a\x01\0\x01\0\0\0\0";
  g_assert_null (graft_image_load_from_data (gif, sizeof gif, "anim.png", 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==, "anim.png: GIF images are not supported (only PNG and JPEG)");
  g_clear_error (&error);

  /* No name: "image". */
  g_assert_null (graft_image_load_from_data ((const guint8 *) "hello", 5, NULL, 0, &error));
  g_assert_cmpstr (error->message, ==, "image: not a PNG or JPEG image");
}

/* Every prefix of a file, and files with random bytes changed: errors or images,
 * never a crash, a hang or a read out of bounds (run under ASan too). */
/* A FIFO named like an image, with no writer: opening it for reading would wait for
 * ever; it is refused at once, by name. */
static void
test_fifo (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = g_dir_make_tmp ("graft-fifo-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (folder, "x.png", NULL);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);

  alarm (30);   /* a regression blocks in open(): SIGALRM fails the test instead of hanging */
  g_assert_null (graft_image_load (path, &error));
  alarm (0);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_IO);
  g_autofree char *expected = g_strdup_printf ("%s is not a regular file (a FIFO)", path);
  g_assert_cmpstr (error->message, ==, expected);

  g_unlink (path);
  g_rmdir (folder);
}

static void
test_damaged_files (void)
{
  static const char *const names[] = { "jpeg-progressive.jpg", "jpeg-baseline.jpg", "png-interlaced.png",
                                       "png-palette.png", "jpeg-exif6.jpg" };
  GRand *rand = g_rand_new_with_seed (7);
  for (gsize n = 0; n < G_N_ELEMENTS (names); n++)
    {
      g_autofree char *path = image_path (names[n]);
      g_autofree guint8 *data = NULL;
      gsize size = 0;
      g_assert_true (g_file_get_contents (path, (char **) &data, &size, NULL));

      int failed = 0;
      for (gsize len = 0; len < size; len++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (GraftImage) image = graft_image_load_from_data (data, len, names[n], 0, &error);
          g_assert_true ((image == NULL) != (error == NULL));
          failed += image == NULL;
        }
      /* Most prefixes fail (only one lacking the very end of the trailer may pass). */
      g_assert_cmpint (failed, >=, (int) size - 16);

      g_autofree guint8 *copy = g_malloc (size);
      for (int round = 0; round < 300; round++)
        {
          memcpy (copy, data, size);
          const int changes = g_rand_int_range (rand, 1, 6);
          for (int c = 0; c < changes; c++)
            copy[g_rand_int_range (rand, 2, (gint32) size)] = (guint8) g_rand_int_range (rand, 0, 256);
          g_autoptr (GError) error = NULL;
          g_autoptr (GraftImage) image = graft_image_load_from_data (copy, size, names[n], 0, &error);
          g_assert_true ((image == NULL) != (error == NULL));
          if (error != NULL)
            g_assert_true (g_str_has_prefix (error->message, names[n]));
        }
    }
  g_rand_free (rand);
}

/* Whether reduced is full reduced by the integer factor f, each pixel the rounded mean
 * of its box (partial boxes at the right and bottom edges), as PIL's Image.reduce(). */
static gboolean
is_box_reduced (const GraftImage *full, const GraftImage *reduced, int f)
{
  if (reduced->width != (full->width + f - 1) / f || reduced->height != (full->height + f - 1) / f)
    return FALSE;
  for (int y = 0; y < reduced->height; y++)
    for (int x = 0; x < reduced->width; x++)
      for (int k = 0; k < 3; k++)
        {
          int total = 0, count = 0;
          for (int sy = y * f; sy < MIN ((y + 1) * f, full->height); sy++)
            for (int sx = x * f; sx < MIN ((x + 1) * f, full->width); sx++, count++)
              total += full->rgb[((gsize) sy * full->width + sx) * 3 + k];
          if (reduced->rgb[((gsize) y * reduced->width + x) * 3 + k] != (total + count / 2) / count)
            return FALSE;
        }
  return TRUE;
}

/* reduced is full box-reduced by some integer factor (several can give one size). */
static void
assert_box_reduced (const GraftImage *full, const GraftImage *reduced)
{
  gboolean found = FALSE;
  for (int f = 1; f <= MAX (full->width, full->height) && !found; f++)
    found = is_box_reduced (full, reduced, f);
  g_assert_true (found);
}

static void
test_load_at_least (void)
{
  g_autofree char *path = image_path ("jpeg-large.jpg");
  struct { int min_side, width, height; const char *expected; } cases[] = {
    { 96, 128, 96, "jpeg-large-128x96.ppm" },     /* 1/2 */
    { 48, 64, 48, "jpeg-large-64x48.ppm" },       /* 1/4 */
    { 20, 32, 24, NULL },                         /* 1/8 */
    { 150, 256, 192, NULL },                      /* 7/8 would do; only 1/8, 1/4, 1/2 are used */
    { 97, 256, 192, NULL },
    { 192, 256, 192, NULL },
    { 500, 256, 192, NULL },                      /* never upscaled */
    { 0, 256, 192, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftImage) image = graft_image_load_at_least (path, cases[i].min_side, &error);
      g_assert_no_error (error);
      g_assert_cmpint (image->width, ==, cases[i].width);
      g_assert_cmpint (image->height, ==, cases[i].height);
      if (cases[i].expected != NULL)
        {
          g_autoptr (GraftImage) expected = read_ppm (cases[i].expected);
          const int worst = max_difference (image, expected, NULL);
          g_test_message ("min side %d: max difference from PIL's draft decode %d", cases[i].min_side, worst);
          g_assert_cmpint (worst, <=, JPEG_TOLERANCE);
        }
    }

  /* The shorter side of a rotated image is the same: orientation 6 (stored 32x48) at 1/2. */
  g_autofree char *exif6 = image_path ("jpeg-exif6.jpg");
  g_autoptr (GraftImage) rotated = graft_image_load_at_least (exif6, 16, NULL);
  g_assert_cmpint (rotated->width, ==, 24);
  g_assert_cmpint (rotated->height, ==, 16);

  /* PNG: the largest integer factor that keeps the shorter side >= min_side, each
   * pixel the rounded mean of its box (partial boxes at the edges), as PIL's reduce(). */
  static const char *const pngs[] = { "png-rgb.png", "png-interlaced.png", "png-rgba.png",
                                      "png-interlaced-rgba16.png", "png-palette-trns.png" };
  for (gsize i = 0; i < G_N_ELEMENTS (pngs); i++)
    for (int min_side = 1; min_side <= 13; min_side += 3)
      {
        g_autoptr (GraftImage) full = load_ok (pngs[i]);
        g_autofree char *png = image_path (pngs[i]);
        g_autoptr (GError) error = NULL;
        g_autoptr (GraftImage) reduced = graft_image_load_at_least (png, min_side, &error);
        g_assert_no_error (error);
        const int f = MAX (1, MIN (full->width, full->height) / min_side);
        g_assert_cmpint (MIN (reduced->width, reduced->height), >=, MIN (min_side, MIN (full->width, full->height)));
        g_assert_true (is_box_reduced (full, reduced, f));
      }
}

static void
test_load_from_bytes (void)
{
  g_autofree char *path = image_path ("png-rgba.png");
  char *contents = NULL;
  gsize size = 0;
  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_autoptr (GBytes) bytes = g_bytes_new_take (contents, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImage) image = graft_image_load_from_bytes (bytes, "in-memory.png", 0, &error);
  g_assert_no_error (error);
  g_autoptr (GraftImage) expected = read_ppm ("png-rgba.ppm");
  g_assert_cmpint (max_difference (image, expected, NULL), ==, 0);

  g_assert_null (graft_image_new (40000, 1, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (graft_image_new (20000, 20000, &error));   /* 400 Mpx */
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
}

/* ------------------------------------------------------------------------ */
/* Memory budget                                                            */

/* A width x height 16-bit RGBA PNG of zeros (transparent black): deflate takes it to
 * about 1/1000 of its pixels' size. Z_RLE: the same ratio, several times faster. */
static void
write_zero_png16 (const char *path, int width, int height)
{
  FILE *file = fopen (path, "wb");
  g_assert_nonnull (file);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  png_init_io (png, file);
  png_set_compression_level (png, 9);
  png_set_compression_strategy (png, 3 /* Z_RLE */);
  png_set_filter (png, 0, PNG_FILTER_NONE);
  png_set_IHDR (png, info, (png_uint_32) width, (png_uint_32) height, 16, PNG_COLOR_TYPE_RGB_ALPHA,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  g_autofree guint8 *row = g_malloc0 ((gsize) width * 8);
  for (int y = 0; y < height; y++)
    png_write_row (png, row);
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  g_assert_cmpint (fclose (file), ==, 0);
}

/* The file: 30000x6600 16-bit RGBA in 1.5 MB (1.6 GB of samples, 594 MB as
 * 8-bit RGB) took 1.37 GB to decode. The decode runs in a fresh process (the test
 * program run again for .../subprocess), whose peak resident memory (getrusage) must
 * stay within 256 MB in all, the program's own included; the image comes out at a
 * reduced size, every pixel transparent black over grey 128. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

static void
test_budget_huge_png_subprocess (void)
{
  const char *path = g_getenv ("GRAFT_TEST_HUGE_PNG");
  const char *report = g_getenv ("GRAFT_TEST_HUGE_PNG_REPORT");
  g_assert_nonnull (path);
  g_assert_nonnull (report);
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  const long before_kib = usage.ru_maxrss;
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImage) image = graft_image_load (path, &error);
  getrusage (RUSAGE_SELF, &usage);
  g_assert_no_error (error);
  g_autofree char *figures = g_strdup_printf ("decoded at %dx%d; peak RSS %ld KiB, %ld KiB before the decode",
                                              image->width, image->height, usage.ru_maxrss, before_kib);
  g_assert_true (g_file_set_contents (report, figures, -1, NULL));

#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer's start-up alone is near 200 MB: count what the decode added. */
  g_assert_cmpint (usage.ru_maxrss - before_kib, <=, 256 * 1024);
#else
  g_assert_cmpint (usage.ru_maxrss, <=, 256 * 1024);
#endif
  /* Reduced by an integer factor, to within the limit, and every pixel right. */
  g_assert_cmpint (image->width, <, 30000);
  g_assert_cmpint (30000 / image->width, ==, 6600 / image->height);
  g_assert_cmpuint ((gsize) image->width * image->height * 3, <=, GRAFT_IMAGE_MEMORY_LIMIT);
  for (gsize i = 0, n = (gsize) image->width * image->height * 3; i < n; i++)
    if (image->rgb[i] != 128)
      g_assert_cmpint (image->rgb[i], ==, 128);
}

static void
test_budget_huge_png (void)
{
  g_autofree char *folder = make_temp_dir ();
  g_autofree char *path = g_build_filename (folder, "huge.png", NULL);
  g_autofree char *report = g_build_filename (folder, "report.txt", NULL);
  write_zero_png16 (path, 30000, 6600);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_test_message ("%s: %" G_GINT64_FORMAT " bytes", path, (gint64) st.st_size);

  g_setenv ("GRAFT_TEST_HUGE_PNG", path, TRUE);
  g_setenv ("GRAFT_TEST_HUGE_PNG_REPORT", report, TRUE);
  g_test_trap_subprocess ("/data/image/budget/huge-png/subprocess", 0, G_TEST_SUBPROCESS_DEFAULT);
  g_autofree char *figures = NULL;
  if (g_file_get_contents (report, &figures, NULL, NULL))
    g_test_message ("%s", figures);
  g_test_trap_assert_passed ();

  /* For a 224-pixel model, far less: the box that reaches 224 on the shorter side. */
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImage) small = graft_image_load_at_least (path, 224, &error);
  g_assert_no_error (error);
  g_assert_cmpint (small->height, ==, (6600 + 6600 / 224 - 1) / (6600 / 224));
  g_assert_cmpint (small->width, ==, (30000 + 6600 / 224 - 1) / (6600 / 224));
  remove_tree (folder);
}

/* A white 5000x5000 one-bit PNG (3 KB) reduced as far as min_side 1 allows: the boxes
 * are large (a sum of 4096 x 4096 samples of 255 is near 2^32), and every pixel must
 * still read 255. */
static void
test_budget_large_boxes (void)
{
  g_autofree char *folder = make_temp_dir ();
  g_autofree char *path = g_build_filename (folder, "white.png", NULL);
  FILE *file = fopen (path, "wb");
  g_assert_nonnull (file);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  png_init_io (png, file);
  png_set_compression_level (png, 9);
  png_set_IHDR (png, info, 5000, 5000, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  guint8 row[625];
  memset (row, 0xff, sizeof row);
  for (int y = 0; y < 5000; y++)
    png_write_row (png, row);
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  g_assert_cmpint (fclose (file), ==, 0);

  for (int min_side = 1; min_side <= 4; min_side++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GraftImage) image = graft_image_load_at_least (path, min_side, &error);
      g_assert_no_error (error);
      g_assert_cmpint (MIN (image->width, image->height), >=, min_side);
      g_test_message ("min side %d: %dx%d", min_side, image->width, image->height);
      for (gsize i = 0; i < (gsize) image->width * image->height * 3; i++)
        g_assert_cmpint (image->rgb[i], ==, 255);
    }
  remove_tree (folder);
}

/* Found by fuzz-image: a 112-byte PNG whose eXIf chunk declares 603979802 bytes. libpng
 * allocates a chunk's length before reading it; every libpng allocation now counts
 * against the decode's memory, so the chunk is skipped instead (and the file is
 * truncated). The seed corpus holds the file too, where fuzz-image's 512 MB malloc
 * limit catches the allocation (meson test --suite fuzz). */
static void
test_budget_huge_chunk (void)
{
  static const char base64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAUAAAADCAAAAAB+XZokJAAAGmVYSWZNTQAqAAAAAAAhARIAAwAAAAEABgAAAAAAANZnS2kAAAAQSURBVHja"
    "Y2BgZGJmYUApAQECAB/UUFz5AAAAAElFTkQ6rkJggg==";
  gsize size = 0;
  g_autofree guint8 *data = g_base64_decode (base64, &size);
  g_assert_cmpuint (size, ==, 112);
  g_autoptr (GError) error = NULL;
  graft_image_memory_peak (TRUE);
  g_autoptr (GraftImage) image = graft_image_load_from_data (data, size, "chunk.png", 0, &error);
  g_assert_null (image);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  g_assert_cmpstr (error->message, ==, "chunk.png: truncated PNG file");
  g_assert_cmpuint (graft_image_memory_peak (TRUE), <=, (gsize) 2 << 20);
}

/* A 512x512 progressive JPEG (its coefficients take 786 KB) after 2.6 MB of APP1
 * markers: libjpeg keeps them, and counts them against its memory limit, which must
 * leave room for them (else the coefficients are refused as "backing store not
 * supported"). */
static void
test_budget_jpeg_markers (void)
{
  g_autofree char *folder = make_temp_dir ();
  g_autofree char *path = g_build_filename (folder, "progressive.jpg", NULL);
  FILE *file = fopen (path, "wb");
  g_assert_nonnull (file);
  struct jpeg_compress_struct info;
  struct jpeg_error_mgr jerr;
  info.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&info);
  jpeg_stdio_dest (&info, file);
  info.image_width = info.image_height = 512;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults (&info);
  jpeg_simple_progression (&info);
  jpeg_start_compress (&info, TRUE);
  g_autofree guint8 *marker = g_malloc0 (65533);
  memcpy (marker, "NotExif", 7);
  for (int i = 0; i < 40; i++)
    jpeg_write_marker (&info, JPEG_APP0 + 1, marker, 65533);
  guint8 row[512 * 3];
  while (info.next_scanline < info.image_height)
    {
      for (int x = 0; x < 512 * 3; x++)
        row[x] = (guint8) (x + info.next_scanline);
      JSAMPROW rows[1] = { row };
      jpeg_write_scanlines (&info, rows, 1);
    }
  jpeg_finish_compress (&info);
  jpeg_destroy_compress (&info);
  g_assert_cmpint (fclose (file), ==, 0);

  g_autoptr (GError) error = NULL;
  g_autoptr (GraftImage) image = graft_image_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (image->width, ==, 512);
  remove_tree (folder);
}

/* A JPEG header that declares 10848x8256 (90 megapixels) followed by almost nothing:
 * refused before decoding, with the file's name and its dimensions. */
static void
test_budget_huge_jpeg (void)
{
  g_autofree char *folder = make_temp_dir ();
  g_autofree char *real = g_build_filename (folder, "real.jpg", NULL);
  write_jpeg (real, 64, 64, 3);
  g_autofree guint8 *data = NULL;
  gsize size = 0;
  g_assert_true (g_file_get_contents (real, (char **) &data, &size, NULL));

  /* The SOF0 marker's height and width; then keep the header and 10 bytes of scan. */
  gsize sof = 0, sos = 0;
  for (gsize i = 2; i + 1 < size; i++)
    {
      if (data[i] == 0xff && data[i + 1] == 0xc0 && sof == 0)
        sof = i;
      if (data[i] == 0xff && data[i + 1] == 0xda && sos == 0)
        sos = i;
    }
  g_assert_cmpuint (sof, >, 0);
  g_assert_cmpuint (sos, >, sof);
  data[sof + 5] = 8256 >> 8;
  data[sof + 6] = 8256 & 0xff;
  data[sof + 7] = 10848 >> 8;
  data[sof + 8] = 10848 & 0xff;
  const gsize scan_header = 2 + ((gsize) data[sos + 2] << 8 | data[sos + 3]);
  const gsize cut = sos + scan_header + 10;
  data[cut] = 0xff;
  data[cut + 1] = 0xd9;
  const gsize length = cut + 2;
  g_test_message ("a %" G_GSIZE_FORMAT "-byte JPEG declaring 10848x8256", length);

  g_autoptr (GError) error = NULL;
  graft_image_memory_peak (TRUE);
  g_autoptr (GraftImage) image = graft_image_load_from_data (data, length, "huge.jpg", 0, &error);
  g_assert_null (image);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "huge.jpg: truncated JPEG file"));
  g_assert_nonnull (strstr (error->message, "10848x8256"));
  /* Refused before any pixel memory was counted (or allocated). */
  g_assert_cmpuint (graft_image_memory_peak (TRUE), ==, 0);
  remove_tree (folder);
}

/* Lower and lower limits: the decoders pick smaller sizes (JPEG 1/2, 1/4, 1/8; PNG an
 * integer box factor), never hold more than the limit, and at last refuse, naming the
 * file, its dimensions and the limit. */
static void
test_budget_limits (void)
{
  static const char *const names[] = { "jpeg-large.jpg", "jpeg-progressive.jpg", "png-interlaced-rgba16.png",
                                       "png-rgb.png", "png-exif6.png" };
  for (gsize n = 0; n < G_N_ELEMENTS (names); n++)
    {
      g_autofree char *path = image_path (names[n]);
      graft_image_set_memory_limits (0, 0);
      g_autoptr (GraftImage) full = load_ok (names[n]);
      int previous = full->width, sizes = 0;
      gboolean refused = FALSE;
      for (gsize limit = 1400 << 10; limit >= 900 << 10; limit -= 1 << 10)
        {
          graft_image_set_memory_limits (limit, 0);
          graft_image_memory_peak (TRUE);
          g_autoptr (GError) error = NULL;
          g_autoptr (GraftImage) image = graft_image_load (path, &error);
          g_assert_cmpuint (graft_image_memory_peak (TRUE), <=, limit);
          if (image == NULL)
            {
              g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
              g_assert_true (g_str_has_prefix (error->message, path));
              /* The dimensions as stored (a turned image's are the other way round). */
              g_autofree char *dimensions = g_strdup_printf ("%dx%d", full->width, full->height);
              g_autofree char *turned = g_strdup_printf ("%dx%d", full->height, full->width);
              g_autofree char *limit_is = g_strdup_printf ("the limit is %" G_GSIZE_FORMAT " KB", limit >> 10);
              g_assert_true (strstr (error->message, dimensions) != NULL || strstr (error->message, turned) != NULL);
              g_assert_nonnull (strstr (error->message, limit_is));
              if (!refused)
                g_test_message ("%s", error->message);
              refused = TRUE;
              continue;
            }
          g_assert_false (refused);   /* a larger limit never refuses what a smaller one decodes */
          g_assert_no_error (error);
          g_assert_cmpint (image->width, <=, previous);
          if (image->width < previous)
            {
              g_test_message ("%s at %" G_GSIZE_FORMAT " KiB: %dx%d", names[n], limit >> 10, image->width,
                              image->height);
              sizes++;
            }
          previous = image->width;
          if (names[n][0] == 'j')
            {
              g_assert_cmpint (full->width % image->width, ==, 0);
              g_assert_cmpint ((full->width / image->width) & (full->width / image->width - 1), ==, 0);
              g_assert_cmpint (full->height / (full->width / image->width), ==, image->height);
            }
          else if (strstr (names[n], "exif") == NULL)
            assert_box_reduced (full, image);
        }
      g_assert_true (refused);
      g_assert_cmpint (sizes, >=, 1);
    }
  graft_image_set_memory_limits (0, 0);
}

/* The total: threads that each hold a part wait while the rest would exceed it. */
static gpointer
hold_and_release (gpointer data)
{
  for (int i = 0; i < 200; i++)
    {
      GraftImageBudget budget = { 0 };
      graft_image_budget_hold (&budget, 300 + (gsize) (i % 7) * 100);
      g_usleep (10);
      graft_image_budget_hold (&budget, 100);   /* shrinking never waits */
      graft_image_budget_release (&budget);
    }
  return NULL;
}

static void
test_budget_total (void)
{
  graft_image_set_memory_limits (1000, 2000);
  graft_image_memory_peak (TRUE);
  GThread *threads[8];
  for (int i = 0; i < 8; i++)
    threads[i] = g_thread_new ("hold", hold_and_release, NULL);
  for (int i = 0; i < 8; i++)
    g_thread_join (threads[i]);
  const gsize peak = graft_image_memory_peak (TRUE);
  g_test_message ("peak held %" G_GSIZE_FORMAT " of 2000", peak);
  g_assert_cmpuint (peak, <=, 2000);
  g_assert_cmpuint (peak, >=, 900);
  g_assert_cmpuint (graft_image_memory_peak (FALSE), ==, 0);
  graft_image_set_memory_limits (0, 0);
}

/* ------------------------------------------------------------------------ */
/* Preprocessing                                                            */

static void
plain_preprocessing (GraftPreprocessing *prep, int resize, int size)
{
  graft_preprocessing_init_imagenet (prep);
  prep->size = size;
  prep->resize = resize;
  for (int c = 0; c < 3; c++)
    prep->mean[c] = 0.0f, prep->std[c] = 1.0f;
}

static void
test_preprocess_matches_torchvision (void)
{
  struct { const char *source; int resize, size; } cases[] = {
    { "land", 64, 56 }, { "land", 100, 40 }, { "port", 61, 33 }, { "small", 45, 40 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *source = g_strdup_printf ("resize-%s.png", cases[i].source);
      g_autoptr (GraftImage) image = load_ok (source);
      GraftPreprocessing prep;
      plain_preprocessing (&prep, cases[i].resize, cases[i].size);
      const gsize n = graft_preprocessing_floats (&prep);
      g_autofree float *out = g_new (float, n);
      graft_preprocess (image, &prep, out);

      for (int kind = 0; kind < 2; kind++)
        {
          g_autofree char *name = g_strdup_printf ("resize-%s-r%d-s%d-%s.f32", cases[i].source, cases[i].resize,
                                                   cases[i].size, kind == 0 ? "pil" : "tensor");
          g_autofree float *expected = read_floats (name, n);
          double total = 0, worst = 0;
          for (gsize k = 0; k < n; k++)
            {
              const double d = fabs ((double) out[k] - expected[k]);
              total += d;
              worst = MAX (worst, d);
            }
          g_test_message ("%s: mean difference %.3f/255, max %.3f/255", name, total / n * 255, worst * 255);
          if (kind == 0)
            {
              /* PIL rounds to 8 bits after each pass; we do not. */
              g_assert_cmpfloat (total / n, <, 1.0 / 255);
              g_assert_cmpfloat (worst, <=, 2.0 / 255);
            }
          else
            {
              /* torchvision's float path: the same filter, in float. */
              g_assert_cmpfloat (worst, <, 1e-4);
            }
        }
    }
}

/* A direct double-precision evaluation of the same definition (PIL's weights, each
 * output pixel a weighted sum over the 2-D footprint), for a steep downscale that the
 * fixtures do not cover. */
static void
reference_resize (const GraftImage *image, int nw, int nh, int left, int top, int size, double *out)
{
  const double sx = (double) image->width / nw, sy = (double) image->height / nh;
  const double fx = MAX (sx, 1.0), fy = MAX (sy, 1.0);
  for (int oy = 0; oy < size; oy++)
    for (int ox = 0; ox < size; ox++)
      {
        const double cx = (left + ox + 0.5) * sx, cy = (top + oy + 0.5) * sy;
        double acc[3] = { 0, 0, 0 }, total = 0;
        for (int y = 0; y < image->height; y++)
          for (int x = 0; x < image->width; x++)
            {
              if (x < (int) (cx - fx + 0.5) || x >= (int) (cx + fx + 0.5)
                  || y < (int) (cy - fy + 0.5) || y >= (int) (cy + fy + 0.5))
                continue;
              const double wx = MAX (0.0, 1.0 - fabs ((x - cx + 0.5) / fx));
              const double wy = MAX (0.0, 1.0 - fabs ((y - cy + 0.5) / fy));
              for (int c = 0; c < 3; c++)
                acc[c] += wx * wy * image->rgb[((gsize) y * image->width + x) * 3 + c];
              total += wx * wy;
            }
        for (int c = 0; c < 3; c++)
          out[((gsize) c * size + oy) * size + ox] = acc[c] / total;
      }
}

static void
test_preprocess_reference (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  g_autoptr (GraftImage) image = graft_image_new (301, 203, NULL);
  for (gsize i = 0; i < (gsize) 301 * 203 * 3; i++)
    image->rgb[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);

  /* 203 -> 27: a factor of 7.5; 301 -> int(27 * 301 / 203) = 40; crop 24 at (8, 2). */
  GraftPreprocessing prep;
  plain_preprocessing (&prep, 27, 24);
  prep.scale = 1.0f;
  g_autofree float *out = g_new (float, 3 * 24 * 24);
  graft_preprocess (image, &prep, out);
  g_autofree double *expected = g_new (double, 3 * 24 * 24);
  reference_resize (image, 40, 27, 8, 2, 24, expected);
  double worst = 0;
  for (int k = 0; k < 3 * 24 * 24; k++)
    worst = MAX (worst, fabs (out[k] - expected[k]));
  g_test_message ("largest difference from the reference: %g (of 255)", worst);
  g_assert_cmpfloat (worst, <, 1e-3);
}

static void
test_preprocess_layouts (void)
{
  g_autoptr (GraftImage) image = load_ok ("resize-land.png");
  GraftPreprocessing rgb;
  graft_preprocessing_init_imagenet (&rgb);
  rgb.size = 32;
  rgb.resize = 40;
  const int s = 32, pixels = s * s;
  g_autofree float *a = g_new (float, 3 * pixels);
  graft_preprocess (image, &rgb, a);

  /* Normalisation: undo it and compare with mean 0, std 1. */
  GraftPreprocessing raw = rgb;
  for (int c = 0; c < 3; c++)
    raw.mean[c] = 0.0f, raw.std[c] = 1.0f;
  g_autofree float *r = g_new (float, 3 * pixels);
  graft_preprocess (image, &raw, r);
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < pixels; i++)
      g_assert_cmpfloat (fabsf (a[c * pixels + i] - (r[c * pixels + i] - rgb.mean[c]) / rgb.std[c]), <, 1e-5);

  /* BGR: channel planes swapped; mean and std are in output order. */
  GraftPreprocessing bgr = raw;
  bgr.bgr = TRUE;
  g_autofree float *b = g_new (float, 3 * pixels);
  graft_preprocess (image, &bgr, b);
  for (int c = 0; c < 3; c++)
    g_assert_cmpmem (b + c * pixels, pixels * sizeof (float), r + (2 - c) * pixels, pixels * sizeof (float));

  /* NHWC: the same numbers, interleaved. */
  GraftPreprocessing nhwc = rgb;
  nhwc.nhwc = TRUE;
  g_autofree float *h = g_new (float, 3 * pixels);
  graft_preprocess (image, &nhwc, h);
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < pixels; i++)
      g_assert_cmpfloat (h[3 * i + c], ==, a[c * pixels + i]);

  /* Grey: one channel, luma, mean[0] and std[0]. */
  GraftPreprocessing grey = raw;
  grey.grey = TRUE;
  grey.mean[0] = 0.5f;
  grey.std[0] = 0.25f;
  g_assert_cmpuint (graft_preprocessing_floats (&grey), ==, (gsize) pixels);
  g_autofree float *g = g_new (float, pixels);
  graft_preprocess (image, &grey, g);
  for (int i = 0; i < pixels; i++)
    {
      const float luma = 0.299f * r[i] + 0.587f * r[pixels + i] + 0.114f * r[2 * pixels + i];
      g_assert_cmpfloat (fabsf (g[i] - (luma - 0.5f) / 0.25f), <, 1e-4);
    }

  /* resize 0 means size: the whole shorter side, no crop along it. */
  GraftPreprocessing zero = raw;
  zero.resize = 0;
  g_assert_cmpint (graft_preprocessing_resize_side (&zero), ==, 32);
  GraftPreprocessing same = raw;
  same.resize = 32;
  g_autofree float *z0 = g_new (float, 3 * pixels);
  g_autofree float *z1 = g_new (float, 3 * pixels);
  graft_preprocess (image, &zero, z0);
  graft_preprocess (image, &same, z1);
  g_assert_cmpmem (z0, 3 * pixels * sizeof (float), z1, 3 * pixels * sizeof (float));
}

static void
test_preprocessing_json (void)
{
  GraftPreprocessing prep, back;
  g_autoptr (GError) error = NULL;

  graft_preprocessing_init_imagenet (&prep);
  g_autofree char *json = graft_preprocessing_to_json (&prep);
  g_test_message ("%s", json);
  g_assert_cmpstr (json, ==,
                   "{\"size\": 224, \"resize\": 256, \"crop\": \"center\", \"mean\": [0.485, 0.456, 0.406], "
                   "\"std\": [0.229, 0.224, 0.225], \"scale\": 0.003921569, \"channels\": \"RGB\", "
                   "\"layout\": \"NCHW\"}");
  g_assert_true (graft_preprocessing_from_json (json, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&prep, sizeof prep, &back, sizeof back);

  /* Caffe-style: BGR, 0..255, NHWC. */
  prep = (GraftPreprocessing) { .size = 227, .resize = 0, .mean = { 103.939f, 116.779f, 123.68f },
                                .std = { 1, 1, 1 }, .scale = 1.0f, .bgr = TRUE, .nhwc = TRUE };
  g_autofree char *caffe = graft_preprocessing_to_json (&prep);
  g_test_message ("%s", caffe);
  g_assert_true (graft_preprocessing_from_json (caffe, &back, &error));
  g_assert_cmpint (back.size, ==, 227);
  g_assert_cmpint (graft_preprocessing_resize_side (&back), ==, 227);
  g_assert_true (back.bgr && back.nhwc && !back.grey);
  g_assert_cmpmem (back.mean, sizeof back.mean, prep.mean, sizeof prep.mean);
  g_assert_cmpfloat (back.scale, ==, 1.0f);

  /* Grey with one mean and std; missing keys keep the defaults. */
  g_assert_true (graft_preprocessing_from_json ("{\"size\": 28, \"channels\": \"L\", \"mean\": [0.5], \"std\": [0.5], "
                                                "\"extra\": {\"ignored\": true}}", &back, &error));
  g_assert_true (back.grey);
  g_assert_cmpint (back.size, ==, 28);
  g_assert_cmpint (back.resize, ==, 256);
  g_assert_cmpfloat (back.mean[2], ==, 0.5f);
  g_autofree char *grey = graft_preprocessing_to_json (&back);
  g_assert_nonnull (strstr (grey, "\"mean\": [0.5], \"std\": [0.5]"));

  static const struct { const char *json, *reason; } bad[] = {
    { "{", "invalid JSON" },
    { "[1, 2]", "must be an object" },
    { "{\"size\": \"224\"}", "\"size\"" },
    { "{\"size\": 22.5}", "\"size\"" },
    { "{\"size\": 0}", "\"size\"" },
    { "{\"size\": 224, \"resize\": 200}", "resize 200" },
    { "{\"crop\": \"random\"}", "\"crop\"" },
    { "{\"channels\": \"RGBA\"}", "\"channels\"" },
    { "{\"layout\": \"CHW\"}", "\"layout\"" },
    { "{\"mean\": [1, 2]}", "\"mean\"" },
    { "{\"std\": [0.2, 0, 0.2]}", "std non-zero" },
    { "{\"scale\": null}", "\"scale\"" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      GraftPreprocessing untouched = prep;
      g_assert_false (graft_preprocessing_from_json (bad[i].json, &untouched, &e));
      g_assert_error (e, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
      g_test_message ("%s -> %s", bad[i].json, e->message);
      g_assert_nonnull (strstr (e->message, bad[i].reason));
      g_assert_cmpmem (&untouched, sizeof untouched, &prep, sizeof prep);
    }
}

/* ------------------------------------------------------------------------ */
/* Augmentation                                                             */

static void
small_preprocessing (GraftPreprocessing *prep)
{
  graft_preprocessing_init_imagenet (prep);
  prep->size = 48;
  prep->resize = 56;
}

static void
test_augment_deterministic (void)
{
  g_autoptr (GraftImage) image = load_ok ("resize-land.png");
  GraftPreprocessing prep;
  GraftAugmentation aug;
  small_preprocessing (&prep);
  graft_augmentation_init_default (&aug);
  const gsize n = graft_preprocessing_floats (&prep);
  g_autofree float *a = g_new (float, n);
  g_autofree float *b = g_new (float, n);
  g_autofree float *c = g_new (float, n);

  for (guint64 seed = 0; seed < 20; seed++)
    {
      graft_augment_preprocess (image, &prep, &aug, seed, a);
      graft_augment_preprocess (image, &prep, &aug, seed, b);
      g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
      graft_augment_preprocess (image, &prep, &aug, seed + 1000, c);
      g_assert_true (memcmp (a, c, n * sizeof (float)) != 0);
      for (gsize k = 0; k < n; k++)
        g_assert_true (isfinite (a[k]));
    }
}

static void
test_augment_disabled (void)
{
  g_autoptr (GraftImage) image = load_ok ("resize-port.png");
  GraftPreprocessing prep;
  GraftAugmentation aug;
  small_preprocessing (&prep);
  const gsize n = graft_preprocessing_floats (&prep);
  g_autofree float *plain = g_new (float, n);
  g_autofree float *out = g_new (float, n);
  graft_preprocess (image, &prep, plain);

  graft_augmentation_init_default (&aug);
  aug.enabled = FALSE;
  graft_augment_preprocess (image, &prep, &aug, 5, out);
  g_assert_cmpmem (plain, n * sizeof (float), out, n * sizeof (float));

  /* Enabled with every strength zero: the eval transform exactly. */
  graft_augmentation_init_none (&aug);
  aug.enabled = TRUE;
  graft_augment_preprocess (image, &prep, &aug, 5, out);
  g_assert_cmpmem (plain, n * sizeof (float), out, n * sizeof (float));
}

static void
test_augment_flip (void)
{
  g_autoptr (GraftImage) image = load_ok ("resize-land.png");
  GraftPreprocessing prep;
  GraftAugmentation aug;
  small_preprocessing (&prep);
  graft_augmentation_init_none (&aug);
  aug.enabled = TRUE;
  aug.flip = TRUE;
  const int s = prep.size;
  const gsize n = graft_preprocessing_floats (&prep);
  g_autofree float *plain = g_new (float, n);
  g_autofree float *out = g_new (float, n);
  graft_preprocess (image, &prep, plain);

  int flipped = 0;
  for (guint64 seed = 0; seed < 64; seed++)
    {
      GraftAugmentationSample sample;
      graft_augmentation_sample (&aug, image->width, image->height, seed, &sample);
      graft_augment_preprocess (image, &prep, &aug, seed, out);
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < s; y++)
          for (int x = 0; x < s; x++)
            {
              const float want = plain[((gsize) c * s + y) * s + (sample.flip ? s - 1 - x : x)];
              g_assert_cmpfloat (out[((gsize) c * s + y) * s + x], ==, want);
            }
      flipped += sample.flip;
    }
  g_test_message ("%d of 64 flipped", flipped);
  g_assert_cmpint (flipped, >, 16);
  g_assert_cmpint (flipped, <, 48);
}

static void
test_augment_rotation_direction (void)
{
  /* A quarter turn through the general (bilinear) path equals the exact permutation:
   * counter-clockwise, out(x, y) = in(s - 1 - y, x). */
  g_autoptr (GraftImage) image = load_ok ("resize-small.png");
  GraftPreprocessing prep;
  plain_preprocessing (&prep, 30, 30);
  const int s = 30;
  const gsize n = graft_preprocessing_floats (&prep);
  g_autofree float *plain = g_new (float, n);
  g_autofree float *out = g_new (float, n);
  graft_preprocess (image, &prep, plain);

  GraftAugmentationSample sample = { .angle = 90.0f, .brightness = 1, .contrast = 1, .saturation = 1,
                                     .order = { 0, 1, 2 } };
  graft_augment_apply (image, &prep, &sample, out);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++)
        g_assert_cmpfloat (fabsf (out[((gsize) c * s + y) * s + x] - plain[((gsize) c * s + x) * s + (s - 1 - y)]),
                           <, 1e-4);

  /* Flip then rotate: out(x, y) = flipped(s - 1 - y, x) = in(y, x). */
  sample.flip = TRUE;
  graft_augment_apply (image, &prep, &sample, out);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++)
        g_assert_cmpfloat (fabsf (out[((gsize) c * s + y) * s + x] - plain[((gsize) c * s + x) * s + y]), <, 1e-4);

  /* A small angle keeps the centre and stays in range (border replicated, no black). */
  sample.flip = FALSE;
  sample.angle = 7.0f;
  graft_augment_apply (image, &prep, &sample, out);
  float lo = G_MAXFLOAT, hi = -G_MAXFLOAT, plo = G_MAXFLOAT, phi = -G_MAXFLOAT;
  for (gsize k = 0; k < n; k++)
    {
      lo = MIN (lo, out[k]), hi = MAX (hi, out[k]);
      plo = MIN (plo, plain[k]), phi = MAX (phi, plain[k]);
    }
  g_assert_cmpfloat (lo, >=, plo - 1e-5f);
  g_assert_cmpfloat (hi, <=, phi + 1e-5f);
}

static void
test_augment_colour (void)
{
  g_autoptr (GraftImage) image = load_ok ("resize-small.png");
  GraftPreprocessing prep;
  plain_preprocessing (&prep, 30, 30);
  prep.scale = 1.0f;
  const gsize pixels = 30 * 30, n = 3 * pixels;
  g_autofree float *plain = g_new (float, n);
  g_autofree float *out = g_new (float, n);
  graft_preprocess (image, &prep, plain);

  GraftAugmentationSample sample = { .brightness = 1.5f, .contrast = 1, .saturation = 1, .order = { 2, 0, 1 } };
  graft_augment_apply (image, &prep, &sample, out);
  for (gsize k = 0; k < n; k++)
    g_assert_cmpfloat (fabsf (out[k] - MIN (plain[k] * 1.5f, 255.0f)), <, 1e-3);

  /* Contrast 0: every pixel the mean luma. Saturation 0: every pixel grey. */
  sample = (GraftAugmentationSample) { .brightness = 1, .contrast = 0, .saturation = 1, .order = { 0, 1, 2 } };
  graft_augment_apply (image, &prep, &sample, out);
  for (gsize k = 1; k < n; k++)
    g_assert_cmpfloat (fabsf (out[k] - out[0]), <, 1e-3);
  sample = (GraftAugmentationSample) { .brightness = 1, .contrast = 1, .saturation = 0, .order = { 0, 1, 2 } };
  graft_augment_apply (image, &prep, &sample, out);
  for (gsize i = 0; i < pixels; i++)
    {
      const float luma = 0.299f * plain[i] + 0.587f * plain[pixels + i] + 0.114f * plain[2 * pixels + i];
      for (int c = 0; c < 3; c++)
        g_assert_cmpfloat (fabsf (out[c * pixels + i] - luma), <, 1e-3);
    }
}

static void
test_augment_sampling (void)
{
  GraftAugmentation aug;
  graft_augmentation_init_default (&aug);
  const int w = 300, h = 200;
  int flips = 0, fallbacks = 0;
  double area_total = 0;
  int seen_order[3][3] = { { 0 } };

  for (guint64 seed = 0; seed < 4000; seed++)
    {
      GraftAugmentationSample s;
      graft_augmentation_sample (&aug, w, h, seed, &s);
      g_assert_true (s.crop);
      g_assert_cmpint (s.crop_x, >=, 0);
      g_assert_cmpint (s.crop_y, >=, 0);
      g_assert_cmpint (s.crop_width, >=, 1);
      g_assert_cmpint (s.crop_height, >=, 1);
      g_assert_cmpint (s.crop_x + s.crop_width, <=, w);
      g_assert_cmpint (s.crop_y + s.crop_height, <=, h);
      const double fraction = (double) s.crop_width * s.crop_height / (w * h);
      const double ratio = (double) s.crop_width / s.crop_height;
      if (s.crop_width == 267 && s.crop_height == 200)
        fallbacks++;   /* the central 4:3 crop: all ten attempts missed */
      else
        {
          g_assert_cmpfloat (fraction, >=, 0.075);
          g_assert_cmpfloat (ratio, >=, 0.70);
          g_assert_cmpfloat (ratio, <=, 1.40);
        }
      area_total += fraction;
      flips += s.flip;
      g_assert_cmpfloat (fabsf (s.angle), <=, 10.0f);
      g_assert_cmpfloat (s.brightness, >=, 0.8f);
      g_assert_cmpfloat (s.brightness, <=, 1.2f);
      g_assert_cmpfloat (s.contrast, >=, 0.8f);
      g_assert_cmpfloat (s.saturation, <=, 1.2f);
      g_assert_cmpint (s.order[0] + s.order[1] + s.order[2], ==, 3);
      g_assert_true (s.order[0] != s.order[1] && s.order[1] != s.order[2] && s.order[0] != s.order[2]);
      for (int k = 0; k < 3; k++)
        seen_order[k][s.order[k]]++;
    }
  g_test_message ("flips %d / 4000, mean area %.3f, fallbacks %d", flips, area_total / 4000, fallbacks);
  g_assert_cmpint (flips, >, 1800);
  g_assert_cmpint (flips, <, 2200);
  g_assert_cmpint (fallbacks, <, 40);
  for (int k = 0; k < 3; k++)
    for (int op = 0; op < 3; op++)
      g_assert_cmpint (seen_order[k][op], >, 1000);

  /* No random crop when crop_scale_min is 0. */
  aug.crop_scale_min = 0.0f;
  GraftAugmentationSample s;
  graft_augmentation_sample (&aug, w, h, 1, &s);
  g_assert_false (s.crop);
}

static void
test_augmentation_json (void)
{
  GraftAugmentation aug, back;
  g_autoptr (GError) error = NULL;
  graft_augmentation_init_default (&aug);
  g_autofree char *json = graft_augmentation_to_json (&aug);
  g_test_message ("%s", json);
  g_assert_cmpstr (json, ==,
                   "{\"enabled\": true, \"crop_scale_min\": 0.08, \"flip\": true, \"rotation_degrees\": 10, "
                   "\"brightness\": 0.2, \"contrast\": 0.2, \"saturation\": 0.2}");
  g_assert_true (graft_augmentation_from_json (json, &back, &error));
  g_assert_cmpmem (&aug, sizeof aug, &back, sizeof back);

  graft_augmentation_init_none (&aug);
  aug.saturation = 0.7f;
  g_autofree char *none = graft_augmentation_to_json (&aug);
  g_assert_true (graft_augmentation_from_json (none, &back, &error));
  g_assert_cmpmem (&aug, sizeof aug, &back, sizeof back);

  static const char *const bad[] = {
    "{\"enabled\": 1}", "{\"crop_scale_min\": 1.5}", "{\"rotation_degrees\": -3}",
    "{\"brightness\": \"lots\"}", "{\"flip\": null}", "nonsense",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      g_assert_false (graft_augmentation_from_json (bad[i], &back, &e));
      g_assert_error (e, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
      g_test_message ("%s -> %s", bad[i], e->message);
      g_assert_true (g_str_has_prefix (e->message, "augmentation: "));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/image/png", test_png_variants);
  g_test_add_func ("/data/image/jpeg", test_jpeg_variants);
  g_test_add_func ("/data/image/exif/orientations", test_exif_orientations);
  g_test_add_func ("/data/image/exif/hostile-files", test_exif_hostile_files);
  g_test_add_func ("/data/image/exif/parser", test_exif_parser);
  g_test_add_func ("/data/image/errors", test_errors_name_the_file);
  g_test_add_func ("/data/image/fifo", test_fifo);
  g_test_add_func ("/data/image/damaged", test_damaged_files);
  g_test_add_func ("/data/image/at-least", test_load_at_least);
  g_test_add_func ("/data/image/from-bytes", test_load_from_bytes);
  g_test_add_func ("/data/image/budget/huge-png", test_budget_huge_png);
  g_test_add_func ("/data/image/budget/huge-png/subprocess", test_budget_huge_png_subprocess);
  g_test_add_func ("/data/image/budget/huge-jpeg", test_budget_huge_jpeg);
  g_test_add_func ("/data/image/budget/large-boxes", test_budget_large_boxes);
  g_test_add_func ("/data/image/budget/huge-chunk", test_budget_huge_chunk);
  g_test_add_func ("/data/image/budget/jpeg-markers", test_budget_jpeg_markers);
  g_test_add_func ("/data/image/budget/limits", test_budget_limits);
  g_test_add_func ("/data/image/budget/total", test_budget_total);
  g_test_add_func ("/data/preprocess/torchvision", test_preprocess_matches_torchvision);
  g_test_add_func ("/data/preprocess/reference", test_preprocess_reference);
  g_test_add_func ("/data/preprocess/layouts", test_preprocess_layouts);
  g_test_add_func ("/data/preprocess/json", test_preprocessing_json);
  g_test_add_func ("/data/augment/deterministic", test_augment_deterministic);
  g_test_add_func ("/data/augment/disabled", test_augment_disabled);
  g_test_add_func ("/data/augment/flip", test_augment_flip);
  g_test_add_func ("/data/augment/rotation", test_augment_rotation_direction);
  g_test_add_func ("/data/augment/colour", test_augment_colour);
  g_test_add_func ("/data/augment/sampling", test_augment_sampling);
  g_test_add_func ("/data/augment/json", test_augmentation_json);
  return g_test_run ();
}
