/* elementwise-reference.c: Add and Mul with numpy broadcasting, in double, by
 * decomposing every output index into its multi-index. */
#include "engine/ops.h"

/* The flat index into an operand of shape s (right-aligned against y, dims of 1
 * broadcast) of the element that the y multi-index idx reads. */
static size_t
operand_index (const graft_shape *s, const graft_shape *y, const int64_t *idx)
{
  int offset = y->rank - s->rank;
  size_t flat = 0;
  for (int k = 0; k < s->rank; k++)
    flat = flat * (size_t) s->dims[k] + (size_t) (s->dims[k] == 1 ? 0 : idx[k + offset]);
  return flat;
}

static size_t
shape_elements (const graft_shape *s)
{
  size_t count = 1;
  for (int k = 0; k < s->rank; k++)
    count *= (size_t) s->dims[k];
  return count;
}

/* Multi-index of the flat y index i. */
static void
unflatten (const graft_shape *y, size_t i, int64_t *idx)
{
  for (int k = y->rank - 1; k >= 0; k--)
    {
      idx[k] = (int64_t) (i % (size_t) y->dims[k]);
      i /= (size_t) y->dims[k];
    }
}

void
graft_add_forward_reference (const graft_broadcast_params *p, const double *a, const double *b, double *y)
{
  size_t count = shape_elements (&p->y);
  int64_t idx[GRAFT_MAX_RANK];
  for (size_t i = 0; i < count; i++)
    {
      unflatten (&p->y, i, idx);
      y[i] = a[operand_index (&p->a, &p->y, idx)] + b[operand_index (&p->b, &p->y, idx)];
    }
}

void
graft_mul_forward_reference (const graft_broadcast_params *p, const double *a, const double *b, double *y)
{
  size_t count = shape_elements (&p->y);
  int64_t idx[GRAFT_MAX_RANK];
  for (size_t i = 0; i < count; i++)
    {
      unflatten (&p->y, i, idx);
      y[i] = a[operand_index (&p->a, &p->y, idx)] * b[operand_index (&p->b, &p->y, idx)];
    }
}

void
graft_add_backward_reference (const graft_broadcast_params *p, const double *dy, double *da, double *db)
{
  size_t count = shape_elements (&p->y);
  int64_t idx[GRAFT_MAX_RANK];
  for (size_t i = 0; i < count; i++)
    {
      unflatten (&p->y, i, idx);
      if (da != NULL)
        da[operand_index (&p->a, &p->y, idx)] += dy[i];
      if (db != NULL)
        db[operand_index (&p->b, &p->y, idx)] += dy[i];
    }
}

void
graft_mul_backward_reference (const graft_broadcast_params *p, const double *a, const double *b,
                              const double *dy, double *da, double *db)
{
  size_t count = shape_elements (&p->y);
  int64_t idx[GRAFT_MAX_RANK];
  for (size_t i = 0; i < count; i++)
    {
      size_t ia, ib;
      unflatten (&p->y, i, idx);
      ia = operand_index (&p->a, &p->y, idx);
      ib = operand_index (&p->b, &p->y, idx);
      if (da != NULL)
        da[ia] += dy[i] * b[ib];
      if (db != NULL)
        db[ib] += dy[i] * a[ia];
    }
}
