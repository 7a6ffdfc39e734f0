/* gather-reference.c: ONNX Gather from its definition, in double, one output element at
 * a time: the reference for gather.c. */
#include "engine/ops.h"

/* The row of index on an axis of length axis, or -1 (outside, or not a whole number). */
static long long
row_of (float index, size_t axis)
{
  long long i;
  if (!(index > -9e15f && index < 9e15f))
    return -1;
  i = (long long) index;
  if ((float) i != index)
    return -1;
  if (i < 0)
    i += (long long) axis;
  return i >= 0 && i < (long long) axis ? i : -1;
}

void
graft_gather_forward_reference (const graft_gather_params *p, const double *data, const float *indices, double *y)
{
  for (size_t o = 0; o < p->outer; o++)
    for (size_t k = 0; k < p->count; k++)
      for (size_t i = 0; i < p->inner; i++)
        {
          long long row = row_of (indices[k], p->axis);
          y[(o * p->count + k) * p->inner + i] = row < 0 ? 0.0 : data[(o * p->axis + (size_t) row) * p->inner + i];
        }
}

void
graft_gather_backward_reference (const graft_gather_params *p, const float *indices, const double *dy, double *ddata)
{
  if (ddata == NULL)
    return;
  for (size_t o = 0; o < p->outer; o++)
    for (size_t r = 0; r < p->axis; r++)
      for (size_t i = 0; i < p->inner; i++)
        {
          double sum = 0;
          for (size_t k = 0; k < p->count; k++)
            if (row_of (indices[k], p->axis) == (long long) r)
              sum += dy[(o * p->count + k) * p->inner + i];
          ddata[(o * p->axis + r) * p->inner + i] += sum;
        }
}
