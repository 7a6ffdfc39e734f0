/* tensor.h: shapes with overflow-checked sizes, and 64-byte aligned memory.
 *
 * Tensors are float32, row-major, NCHW for images. The engine does not allocate
 * per tensor: a plan allocates one block per role (parameters, gradients,
 * optimizer state, activations, scratch) and carves it into tensors.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/status.h"

#define GRAFT_MAX_RANK 6
#define GRAFT_ALIGNMENT 64
/* Offsets inside an arena are multiples of this many floats (64 bytes). */
#define GRAFT_ALIGNMENT_FLOATS (GRAFT_ALIGNMENT / sizeof (float))

typedef struct {
  int rank;
  int64_t dims[GRAFT_MAX_RANK];
} graft_shape;

/* Builds a shape from rank and dims (a convenience for tests and importers). */
graft_shape graft_shape_make (int rank, const int64_t *dims);
graft_shape graft_shape_4d (int64_t n, int64_t c, int64_t h, int64_t w);
graft_shape graft_shape_2d (int64_t rows, int64_t cols);

bool graft_shape_equal (const graft_shape *a, const graft_shape *b);

/* Number of elements of shape, with every dim checked (0 <= dim) and the product
 * checked for overflow, including its size in bytes as float32. */
graft_status graft_shape_count (const graft_shape *shape, size_t *count, graft_error *error);

/* Writes "(2, 3, 224, 224)" into buffer. */
void graft_shape_format (const graft_shape *shape, char *buffer, size_t size);

/* a * b and a + b on size_t, returning false on overflow. */
bool graft_size_mul (size_t a, size_t b, size_t *result);
bool graft_size_add (size_t a, size_t b, size_t *result);

/* Rounds count up to a multiple of GRAFT_ALIGNMENT_FLOATS; false on overflow. */
bool graft_size_align_floats (size_t count, size_t *result);

/* 64-byte aligned, zero-filled allocation of count floats; NULL on failure or overflow.
 * count 0 gives a valid, freeable pointer. */
float *graft_floats_alloc (size_t count);
void graft_floats_free (float *data);
