/* layout-reference.c: naive double-precision Concat, Transpose and Slice, straight from
 * the definitions, used only by tests to check layout.c. */
#include "engine/ops.h"

/* xs[i] is (outer, inner[i]), y (outer, sum inner) */
void
graft_concat_forward_reference (int n_inputs, size_t outer, const size_t *inner, const double *const *xs, double *y)
{
  size_t total = 0;
  for (int i = 0; i < n_inputs; i++)
    total += inner[i];
  for (size_t o = 0; o < outer; o++)
    {
      size_t offset = 0;
      for (int i = 0; i < n_inputs; i++)
        {
          for (size_t j = 0; j < inner[i]; j++)
            y[o * total + offset + j] = xs[i][o * inner[i] + j];
          offset += inner[i];
        }
    }
}

/* dy is (outer, sum inner); dxs[i] (outer, inner[i]) accumulate, NULL ones are skipped. */
void
graft_concat_backward_reference (int n_inputs, size_t outer, const size_t *inner, const double *dy, double *const *dxs)
{
  size_t total = 0;
  for (int i = 0; i < n_inputs; i++)
    total += inner[i];
  for (size_t o = 0; o < outer; o++)
    {
      size_t offset = 0;
      for (int i = 0; i < n_inputs; i++)
        {
          if (dxs[i] != NULL)
            for (size_t j = 0; j < inner[i]; j++)
              dxs[i][o * inner[i] + j] += dy[o * total + offset + j];
          offset += inner[i];
        }
    }
}

/* The offset in x of the element of y at flat index i: unravel i over y's dims,
 * then y index k is x index perm[k]. */
static size_t
reference_x_offset (const graft_transpose_params *p, size_t i)
{
  int64_t index[GRAFT_MAX_RANK] = { 0 };
  size_t offset = 0;

  for (int k = p->y.rank - 1; k >= 0; k--)
    {
      index[p->perm[k]] = (int64_t) (i % (size_t) p->y.dims[k]);
      i /= (size_t) p->y.dims[k];
    }
  for (int k = 0; k < p->x.rank; k++)
    offset = offset * (size_t) p->x.dims[k] + (size_t) index[k];
  return offset;
}

static size_t
reference_count (const graft_shape *shape)
{
  size_t count = 1;
  for (int k = 0; k < shape->rank; k++)
    count *= (size_t) shape->dims[k];
  return count;
}

/* x has shape p->x, y shape p->y */
void
graft_transpose_forward_reference (const graft_transpose_params *p, const double *x, double *y)
{
  size_t count = reference_count (&p->y);
  for (size_t i = 0; i < count; i++)
    y[i] = x[reference_x_offset (p, i)];
}

/* dy has shape p->y; dx (shape p->x) accumulates. */
void
graft_transpose_backward_reference (const graft_transpose_params *p, const double *dy, double *dx)
{
  size_t count = reference_count (&p->y);
  if (dx == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    dx[reference_x_offset (p, i)] += dy[i];
}

/* The offset in x of the element of y at flat index i: unravel i over y's dims, then
 * the axis index moves by start. Reads the shapes, the axis and start, never the
 * outer and inner sizes the fast path uses. */
static size_t
reference_slice_offset (const graft_slice_params *p, size_t i)
{
  int64_t index[GRAFT_MAX_RANK] = { 0 };
  size_t offset = 0;

  for (int k = p->y.rank - 1; k >= 0; k--)
    {
      index[k] = (int64_t) (i % (size_t) p->y.dims[k]);
      i /= (size_t) p->y.dims[k];
    }
  index[p->axis] += p->start;
  for (int k = 0; k < p->x.rank; k++)
    offset = offset * (size_t) p->x.dims[k] + (size_t) index[k];
  return offset;
}

/* x has shape p->x, y shape p->y */
void
graft_slice_forward_reference (const graft_slice_params *p, const double *x, double *y)
{
  size_t count = reference_count (&p->y);
  for (size_t i = 0; i < count; i++)
    y[i] = x[reference_slice_offset (p, i)];
}

/* dy has shape p->y; dx (shape p->x) accumulates into the sliced range. */
void
graft_slice_backward_reference (const graft_slice_params *p, const double *dy, double *dx)
{
  size_t count = reference_count (&p->y);
  if (dx == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    dx[reference_slice_offset (p, i)] += dy[i];
}
