/* layout.c: Concat, Transpose and Slice.
 *
 * Slice copies, for each of the `outer` rows (the dims before the axis), one
 * contiguous run of (end - start) * inner floats; rows go to threads statically, and
 * backward adds each run back into its own range of dx, so no two items touch the
 * same element.
 *
 * Transpose first simplifies the permutation: dims of size 1 are dropped, and
 * neighbouring output dims that are also neighbours, in order, in the input are
 * merged. What is left is one of two shapes of work:
 * - the last output dim is contiguous in the input too: a set of contiguous runs,
 *   copied as blocks. ShuffleNet's channel shuffle, (N, g, C/g, H, W) with perm
 *   (0, 2, 1, 3, 4), becomes runs of H*W floats;
 * - otherwise a batch of 2D transposes between the output's innermost dim and the
 *   input's innermost dim, done in cache-sized tiles. NHWC -> NCHW, perm
 *   (0, 3, 1, 2), becomes N transposes of (H*W, C).
 * Work is split into independent items (runs, or tile rows), statically over
 * threads; every element is written by exactly one item, so the backward
 * accumulation is deterministic.
 */
#include "engine/ops.h"

#include <string.h>

/* Below this many elements, threads cost more than they save. */
#define LAYOUT_PARALLEL_THRESHOLD 65536
/* Side of a transpose tile, in floats: two 32x32 tiles fit easily in L1. */
#define TILE 32
/* Items handed to a thread at once, so that small runs share one index decode. */
#define RUNS_PER_CHUNK 64

/* ------------------------------------------------------------------------ */
/* Concat                                                                    */

static size_t
concat_offset (const size_t *inner, int i)
{
  size_t offset = 0;
  for (int k = 0; k < i; k++)
    offset += inner[k];
  return offset;
}

/* xs[i] is (outer, inner[i]), y is (outer, sum inner) */
void
graft_concat_forward (int n_inputs, size_t outer, const size_t *inner, const float *const *xs, float *y)
{
  size_t total = concat_offset (inner, n_inputs);
  size_t items = outer * (size_t) (n_inputs > 0 ? n_inputs : 0);

  /* One item per (outer row, input): a block copy. */
#pragma omp parallel for schedule(static) if (outer * total > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t item = 0; item < items; item++)
    {
      size_t o = item / (size_t) n_inputs;
      int i = (int) (item % (size_t) n_inputs);
      if (inner[i] > 0)
        memcpy (y + o * total + concat_offset (inner, i), xs[i] + o * inner[i], inner[i] * sizeof (float));
    }
}

/* dy is (outer, sum inner); dxs[i] (outer, inner[i]) accumulate, NULL ones are skipped. */
void
graft_concat_backward (int n_inputs, size_t outer, const size_t *inner, const float *dy, float *const *dxs)
{
  size_t total = concat_offset (inner, n_inputs);
  size_t items = outer * (size_t) (n_inputs > 0 ? n_inputs : 0);

#pragma omp parallel for schedule(static) if (outer * total > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t item = 0; item < items; item++)
    {
      size_t o = item / (size_t) n_inputs;
      int i = (int) (item % (size_t) n_inputs);
      float *restrict d;
      const float *restrict g;
      if (dxs[i] == NULL)
        continue;
      d = dxs[i] + o * inner[i];
      g = dy + o * total + concat_offset (inner, i);
      for (size_t j = 0; j < inner[i]; j++)
        d[j] += g[j];
    }
}

/* ------------------------------------------------------------------------ */
/* Transpose                                                                 */

graft_status
graft_transpose_setup (graft_transpose_params *p, graft_error *error)
{
  bool used[GRAFT_MAX_RANK] = { false };
  graft_status status;
  size_t count;

  status = graft_shape_count (&p->x, &count, error);
  if (status != GRAFT_OK)
    return status;
  for (int k = 0; k < p->x.rank; k++)
    {
      int from = p->perm[k];
      if (from < 0 || from >= p->x.rank)
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "transpose: perm[%d] = %d is outside 0..%d", k, from, p->x.rank - 1);
      if (used[from])
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "transpose: perm names axis %d twice, it is not a permutation", from);
      used[from] = true;
    }
  p->y.rank = p->x.rank;
  for (int k = 0; k < GRAFT_MAX_RANK; k++)
    p->y.dims[k] = k < p->x.rank ? p->x.dims[p->perm[k]] : 0;
  return GRAFT_OK;
}

/* The simplified transpose: output dims in order, each with its size and its
 * strides in x and in y. */
typedef struct {
  int rank;
  size_t size[GRAFT_MAX_RANK];
  size_t xs[GRAFT_MAX_RANK];
  size_t ys[GRAFT_MAX_RANK];
} walk_dims;

static size_t
transpose_simplify (const graft_transpose_params *p, walk_dims *d)
{
  size_t xstride[GRAFT_MAX_RANK], count = 1, stride = 1;
  int rank = 0;

  for (int k = p->x.rank - 1; k >= 0; k--)
    {
      xstride[k] = stride;
      stride *= (size_t) p->x.dims[k];
    }
  for (int k = 0; k < p->y.rank; k++)
    {
      size_t size = (size_t) p->y.dims[k], xs = xstride[p->perm[k]];
      count *= size;
      if (size == 1)
        continue;
      if (rank > 0 && d->xs[rank - 1] == xs * size)
        {
          /* Contiguous in x after the previous dim: one longer dim. */
          d->size[rank - 1] *= size;
          d->xs[rank - 1] = xs;
          continue;
        }
      d->size[rank] = size;
      d->xs[rank] = xs;
      rank++;
    }
  d->rank = rank;
  stride = 1;
  for (int k = rank - 1; k >= 0; k--)
    {
      d->ys[k] = stride;
      stride *= d->size[k];
    }
  return count;
}

/* Sets counter and the offsets of item, a flat index over d's dims. */
static void
walk_decode (const walk_dims *d, size_t item, size_t *counter, size_t *xoff, size_t *yoff)
{
  *xoff = 0;
  *yoff = 0;
  for (int k = d->rank - 1; k >= 0; k--)
    {
      counter[k] = item % d->size[k];
      item /= d->size[k];
      *xoff += counter[k] * d->xs[k];
      *yoff += counter[k] * d->ys[k];
    }
}

/* Steps counter and the offsets to the next item. */
static inline void
walk_next (const walk_dims *d, size_t *counter, size_t *xoff, size_t *yoff)
{
  for (int k = d->rank - 1; k >= 0; k--)
    {
      counter[k]++;
      *xoff += d->xs[k];
      *yoff += d->ys[k];
      if (counter[k] < d->size[k])
        return;
      *xoff -= d->size[k] * d->xs[k];
      *yoff -= d->size[k] * d->ys[k];
      counter[k] = 0;
    }
}

/* Forward: y = x transposed. Backward: dx += dy transposed back. The walks below
 * do one or the other, depending on whether x is given. */
typedef struct {
  const float *x;
  float *y;
  float *dx;
  const float *dy;
} transpose_io;

/* Contiguous runs of length run: outer holds the other dims. */
static void
transpose_runs (const walk_dims *outer, size_t run, const transpose_io *io)
{
  size_t items = 1, chunks;
  for (int k = 0; k < outer->rank; k++)
    items *= outer->size[k];
  chunks = (items + RUNS_PER_CHUNK - 1) / RUNS_PER_CHUNK;

#pragma omp parallel for schedule(static) if (items * run > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t chunk = 0; chunk < chunks; chunk++)
    {
      size_t counter[GRAFT_MAX_RANK], xoff, yoff;
      size_t first = chunk * RUNS_PER_CHUNK;
      size_t last = first + RUNS_PER_CHUNK < items ? first + RUNS_PER_CHUNK : items;

      walk_decode (outer, first, counter, &xoff, &yoff);
      for (size_t item = first; item < last; item++)
        {
          if (io->x != NULL)
            memcpy (io->y + yoff, io->x + xoff, run * sizeof (float));
          else
            {
              float *restrict d = io->dx + xoff;
              const float *restrict g = io->dy + yoff;
              for (size_t j = 0; j < run; j++)
                d[j] += g[j];
            }
          walk_next (outer, counter, &xoff, &yoff);
        }
    }
}

/* One tile row of a 2D transpose: rows [0, nq) of q (contiguous in x, stride ys_q
 * in y) against all of b (contiguous in y, stride xs_b in x). */
static void
transpose_tile_row (const float *restrict x, float *restrict y, size_t nq, size_t nb,
                    size_t ys_q, size_t xs_b)
{
  for (size_t b0 = 0; b0 < nb; b0 += TILE)
    {
      size_t b1 = b0 + TILE < nb ? b0 + TILE : nb;
      for (size_t q = 0; q < nq; q++)
        for (size_t b = b0; b < b1; b++)
          y[q * ys_q + b] = x[q + b * xs_b];
    }
}

static void
transpose_tile_row_backward (float *restrict dx, const float *restrict dy, size_t nq, size_t nb,
                             size_t ys_q, size_t xs_b)
{
  for (size_t b0 = 0; b0 < nb; b0 += TILE)
    {
      size_t b1 = b0 + TILE < nb ? b0 + TILE : nb;
      /* Writes run along q, contiguous in dx. */
      for (size_t b = b0; b < b1; b++)
        for (size_t q = 0; q < nq; q++)
          dx[q + b * xs_b] += dy[q * ys_q + b];
    }
}

/* A batch of 2D transposes: dim q of d is contiguous in x, the last dim b in y. */
static void
transpose_tiles (const walk_dims *d, int q, const transpose_io *io)
{
  int b = d->rank - 1;
  size_t size_q = d->size[q], size_b = d->size[b];
  size_t tiles_q = (size_q + TILE - 1) / TILE;
  size_t ys_q = d->ys[q], xs_b = d->xs[b];
  walk_dims outer = { 0 };
  size_t items = 1;

  /* The other dims, then the tile rows along q as the last, fastest dim. */
  for (int k = 0; k < d->rank; k++)
    if (k != q && k != b)
      {
        outer.size[outer.rank] = d->size[k];
        outer.xs[outer.rank] = d->xs[k];
        outer.ys[outer.rank] = d->ys[k];
        items *= d->size[k];
        outer.rank++;
      }
  outer.size[outer.rank] = tiles_q;
  outer.xs[outer.rank] = TILE;  /* q is contiguous in x */
  outer.ys[outer.rank] = TILE * ys_q;
  outer.rank++;
  items *= tiles_q;

#pragma omp parallel for schedule(static) if (items * TILE * size_b > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t item = 0; item < items; item++)
    {
      size_t counter[GRAFT_MAX_RANK], xoff, yoff, nq;
      walk_decode (&outer, item, counter, &xoff, &yoff);
      nq = size_q - counter[outer.rank - 1] * TILE;
      if (nq > TILE)
        nq = TILE;
      if (io->x != NULL)
        transpose_tile_row (io->x + xoff, io->y + yoff, nq, size_b, ys_q, xs_b);
      else
        transpose_tile_row_backward (io->dx + xoff, io->dy + yoff, nq, size_b, ys_q, xs_b);
    }
}

static void
transpose_walk (const graft_transpose_params *p, const transpose_io *io)
{
  walk_dims d;
  size_t count = transpose_simplify (p, &d);
  int q = -1;

  if (count == 0)
    return;
  if (d.rank == 0)
    {
      /* A single element. */
      if (io->x != NULL)
        io->y[0] = io->x[0];
      else
        io->dx[0] += io->dy[0];
      return;
    }
  if (d.xs[d.rank - 1] == 1)
    {
      size_t run = d.size[d.rank - 1];
      d.rank--;
      transpose_runs (&d, run, io);
      return;
    }
  /* Some dim has x stride 1: the innermost input dim of size > 1. */
  for (int k = 0; k < d.rank; k++)
    if (d.xs[k] == 1)
      q = k;
  transpose_tiles (&d, q, io);
}

/* x has shape p->x, y shape p->y with y.dims[i] = x.dims[perm[i]]. */
void
graft_transpose_forward (const graft_transpose_params *p, const float *x, float *y)
{
  transpose_io io = { .x = x, .y = y };
  transpose_walk (p, &io);
}

/* dy has shape p->y; dx (shape p->x) accumulates the inverse permutation of dy. */
void
graft_transpose_backward (const graft_transpose_params *p, const float *dy, float *dx)
{
  transpose_io io = { .dx = dx, .dy = dy };
  if (dx == NULL)
    return;
  transpose_walk (p, &io);
}

/* ------------------------------------------------------------------------ */
/* Slice                                                                     */

graft_status
graft_slice_setup (graft_slice_params *p, graft_error *error)
{
  graft_status status;
  size_t count;
  int axis;

  status = graft_shape_count (&p->x, &count, error);
  if (status != GRAFT_OK)
    return status;
  axis = p->axis < 0 ? p->axis + p->x.rank : p->axis;
  if (p->x.rank < 1 || axis < 0 || axis >= p->x.rank)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "slice: axis %d is outside a rank-%d tensor", p->axis, p->x.rank);
  if (p->start < 0 || p->start > p->end || p->end > p->x.dims[axis])
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                            "slice: the range [%lld, %lld) is not inside the axis %d of size %lld",
                            (long long) p->start, (long long) p->end, axis, (long long) p->x.dims[axis]);
  p->axis = axis;
  p->y = p->x;
  p->y.dims[axis] = p->end - p->start;
  for (int k = p->x.rank; k < GRAFT_MAX_RANK; k++)
    p->y.dims[k] = 0;
  p->outer = 1;
  p->inner = 1;
  for (int k = 0; k < axis; k++)
    p->outer *= (size_t) p->x.dims[k];
  for (int k = axis + 1; k < p->x.rank; k++)
    p->inner *= (size_t) p->x.dims[k];
  return GRAFT_OK;
}

/* x has shape p->x, y shape p->y: y[o, j, i] = x[o, start + j, i] */
void
graft_slice_forward (const graft_slice_params *p, const float *x, float *y)
{
  size_t dim = (size_t) p->x.dims[p->axis];
  size_t run = (size_t) (p->end - p->start) * p->inner;
  size_t offset = (size_t) p->start * p->inner;

  if (run == 0)
    return;
#pragma omp parallel for schedule(static) if (p->outer * run > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t o = 0; o < p->outer; o++)
    memcpy (y + o * run, x + o * dim * p->inner + offset, run * sizeof (float));
}

/* dy has shape p->y; dx[o, start + j, i] += dy[o, j, i], nothing else of dx changes. */
void
graft_slice_backward (const graft_slice_params *p, const float *dy, float *dx)
{
  size_t dim = (size_t) p->x.dims[p->axis];
  size_t run = (size_t) (p->end - p->start) * p->inner;
  size_t offset = (size_t) p->start * p->inner;

  if (dx == NULL || run == 0)
    return;
#pragma omp parallel for schedule(static) if (p->outer * run > LAYOUT_PARALLEL_THRESHOLD)
  for (size_t o = 0; o < p->outer; o++)
    {
      float *restrict d = dx + o * dim * p->inner + offset;
      const float *restrict g = dy + o * run;
      for (size_t j = 0; j < run; j++)
        d[j] += g[j];
    }
}
