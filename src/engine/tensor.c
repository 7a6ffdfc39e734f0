#include "engine/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

graft_shape
graft_shape_make (int rank, const int64_t *dims)
{
  graft_shape shape = { .rank = rank };
  for (int i = 0; i < rank && i < GRAFT_MAX_RANK; i++)
    shape.dims[i] = dims[i];
  return shape;
}

graft_shape
graft_shape_4d (int64_t n, int64_t c, int64_t h, int64_t w)
{
  graft_shape shape = { .rank = 4, .dims = { n, c, h, w } };
  return shape;
}

graft_shape
graft_shape_2d (int64_t rows, int64_t cols)
{
  graft_shape shape = { .rank = 2, .dims = { rows, cols } };
  return shape;
}

bool
graft_shape_equal (const graft_shape *a, const graft_shape *b)
{
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

bool
graft_size_mul (size_t a, size_t b, size_t *result)
{
  return !__builtin_mul_overflow (a, b, result);
}

bool
graft_size_add (size_t a, size_t b, size_t *result)
{
  return !__builtin_add_overflow (a, b, result);
}

bool
graft_size_align_floats (size_t count, size_t *result)
{
  size_t padded;
  if (!graft_size_add (count, GRAFT_ALIGNMENT_FLOATS - 1, &padded))
    return false;
  *result = padded / GRAFT_ALIGNMENT_FLOATS * GRAFT_ALIGNMENT_FLOATS;
  return true;
}

void
graft_shape_format (const graft_shape *shape, char *buffer, size_t size)
{
  size_t used = 0;
  if (size == 0)
    return;
  buffer[0] = '\0';
  used += (size_t) snprintf (buffer + used, size - used, "(");
  for (int i = 0; i < shape->rank && used < size; i++)
    used += (size_t) snprintf (buffer + used, size - used, i ? ", %lld" : "%lld",
                               (long long) shape->dims[i]);
  if (used < size)
    snprintf (buffer + used, size - used, ")");
}

graft_status
graft_shape_count (const graft_shape *shape, size_t *count, graft_error *error)
{
  size_t total = 1;
  char text[160];

  if (shape->rank < 0 || shape->rank > GRAFT_MAX_RANK)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "rank %d is outside 0..%d",
                            shape->rank, GRAFT_MAX_RANK);
  for (int i = 0; i < shape->rank; i++)
    {
      if (shape->dims[i] < 0)
        {
          graft_shape_format (shape, text, sizeof text);
          return graft_error_set (error, GRAFT_ERROR_SHAPE,
                                  "shape %s has a negative dimension", text);
        }
      if ((uint64_t) shape->dims[i] > SIZE_MAX || !graft_size_mul (total, (size_t) shape->dims[i], &total))
        goto overflow;
    }
  /* The byte size must fit too, with room for alignment. */
  if (total > (SIZE_MAX / sizeof (float)) - GRAFT_ALIGNMENT)
    goto overflow;
  *count = total;
  return GRAFT_OK;

overflow:
  graft_shape_format (shape, text, sizeof text);
  return graft_error_set (error, GRAFT_ERROR_OVERFLOW,
                          "shape %s has more elements than memory can address", text);
}

float *
graft_floats_alloc (size_t count)
{
  size_t bytes;
  void *data;

  if (!graft_size_align_floats (count == 0 ? 1 : count, &count)
      || !graft_size_mul (count, sizeof (float), &bytes))
    return NULL;
  data = aligned_alloc (GRAFT_ALIGNMENT, bytes);
  if (data != NULL)
    memset (data, 0, bytes);
  return data;
}

void
graft_floats_free (float *data)
{
  free (data);
}
