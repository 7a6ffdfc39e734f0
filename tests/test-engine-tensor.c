/* Shapes, overflow-checked sizes and aligned memory. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "engine/tensor.h"

static void
test_count (void)
{
  graft_shape shape = graft_shape_4d (2, 3, 224, 224);
  size_t count = 0;
  graft_error error;

  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_OK);
  g_assert_cmpuint (count, ==, 2 * 3 * 224 * 224);

  shape = graft_shape_make (0, NULL);
  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_OK);
  g_assert_cmpuint (count, ==, 1);

  shape = graft_shape_2d (5, 0);
  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_OK);
  g_assert_cmpuint (count, ==, 0);
}

static void
test_overflow (void)
{
  /* Each dim is fine on its own; the product is not. */
  graft_shape shape = graft_shape_4d (INT64_C (1) << 20, INT64_C (1) << 20, INT64_C (1) << 20, 16);
  size_t count = 7;
  graft_error error;

  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_ERROR_OVERFLOW);
  g_assert_nonnull (strstr (error.message, "1048576"));
  g_assert_cmpuint (count, ==, 7);

  /* Fits in size_t as elements, but not as bytes. */
  shape = graft_shape_2d (INT64_C (1) << 31, INT64_C (1) << 31);
  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_ERROR_OVERFLOW);

  shape = graft_shape_2d (3, -1);
  g_assert_cmpint (graft_shape_count (&shape, &count, &error), ==, GRAFT_ERROR_SHAPE);
  g_assert_nonnull (strstr (error.message, "negative"));

  shape.rank = GRAFT_MAX_RANK + 1;
  g_assert_cmpint (graft_shape_count (&shape, &count, NULL), ==, GRAFT_ERROR_SHAPE);
}

static void
test_size_helpers (void)
{
  size_t r;
  g_assert_true (graft_size_mul (3, 5, &r) && r == 15);
  g_assert_false (graft_size_mul (SIZE_MAX / 2 + 1, 2, &r));
  g_assert_false (graft_size_add (SIZE_MAX, 1, &r));
  g_assert_true (graft_size_align_floats (1, &r) && r == GRAFT_ALIGNMENT_FLOATS);
  g_assert_true (graft_size_align_floats (16, &r) && r == 16);
  g_assert_true (graft_size_align_floats (17, &r) && r == 32);
  g_assert_false (graft_size_align_floats (SIZE_MAX - 3, &r));
}

static void
test_alloc (void)
{
  float *data = graft_floats_alloc (1000);
  g_assert_nonnull (data);
  g_assert_cmpuint ((uintptr_t) data % GRAFT_ALIGNMENT, ==, 0);
  for (int i = 0; i < 1000; i++)
    g_assert_cmpfloat (data[i], ==, 0.0f);
  graft_floats_free (data);

  data = graft_floats_alloc (0);
  g_assert_nonnull (data);
  graft_floats_free (data);

  g_assert_null (graft_floats_alloc (SIZE_MAX / 2));
}

static void
test_format (void)
{
  graft_shape shape = graft_shape_4d (1, 3, 224, 224);
  char text[64];
  graft_shape_format (&shape, text, sizeof text);
  g_assert_cmpstr (text, ==, "(1, 3, 224, 224)");
  graft_shape_format (&shape, text, 6);
  g_assert_cmpuint (strlen (text), <=, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/tensor/count", test_count);
  g_test_add_func ("/engine/tensor/overflow", test_overflow);
  g_test_add_func ("/engine/tensor/size-helpers", test_size_helpers);
  g_test_add_func ("/engine/tensor/alloc", test_alloc);
  g_test_add_func ("/engine/tensor/format", test_format);
  return g_test_run ();
}
