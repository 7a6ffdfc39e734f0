/* npy.h: NumPy .npy files of float32, the way tensors go in and out of graft-cli.
 *
 * Reads format versions 1.0, 2.0 and 3.0 with dtype '<f4' in C order, rank 0 to
 * GRAFT_MAX_RANK; anything else (big-endian, Fortran order, other dtypes, a header
 * that is not the dict NumPy writes, data shorter or longer than the shape) is refused
 * with a GError in the GRAFT_MODEL_ERROR domain naming the file. Writes version 1.0
 * (2.0 when the header would not fit), as numpy.save does.
 */
#pragma once

#include <glib.h>

#include "engine/tensor.h"

G_BEGIN_DECLS

/* Reads path; on success *data (g_free) holds the elements of *shape. */
gboolean graft_npy_read (const char *path, graft_shape *shape, float **data, GError **error);
/* The same from memory; name is used in messages. */
gboolean graft_npy_read_from_data (const guint8 *bytes, gsize size, const char *name,
                                   graft_shape *shape, float **data, GError **error);

/* Writes shape and data (the elements of shape) to path, through a temporary file. */
gboolean graft_npy_write (const char *path, const graft_shape *shape, const float *data, GError **error);
GBytes *graft_npy_write_to_bytes (const graft_shape *shape, const float *data, GError **error);

G_END_DECLS
