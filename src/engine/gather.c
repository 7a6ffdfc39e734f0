/* gather.c: ONNX Gather of a tensor by constant indices, and its op-table descriptor.
 * Swin's relative-position bias is a learned table gathered by a constant index: kept as
 * this op, the table learns (folded to a constant, it would not). Indices are checked as
 * they are read: one outside the axis gives zeros, never a read outside data. */
#include "engine/op-table.h"

#include <math.h>
#include <string.h>

graft_status
graft_gather_setup (const graft_gather_params *p, graft_error *error)
{
  size_t n;

  if (p->axis < 1 || p->outer < 1 || p->inner < 1)
    return graft_error_set (error, GRAFT_ERROR_SHAPE,
                            "gather: outer (%zu), axis (%zu) and inner (%zu) must all be at least 1", p->outer,
                            p->axis, p->inner);
  if (!graft_size_mul (p->outer, p->axis, &n) || !graft_size_mul (n, p->inner, &n) || n > SIZE_MAX / sizeof (float)
      || !graft_size_mul (p->outer, p->count, &n) || !graft_size_mul (n, p->inner, &n)
      || n > SIZE_MAX / sizeof (float))
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "gather: the tensors are larger than memory can address");
  return GRAFT_OK;
}

/* The row index[k] stands for on an axis of length axis, or -1 when it is outside. */
static long long
row_of (float index, size_t axis)
{
  double i = index;
  if (!(fabs (i) < 9e15) || i != floor (i))
    return -1;
  if (i < 0)
    i += (double) axis;
  return i >= 0 && i < (double) axis ? (long long) i : -1;
}

void
graft_gather_forward (const graft_gather_params *p, const float *data, const float *indices, float *y)
{
  for (size_t o = 0; o < p->outer; o++)
    for (size_t k = 0; k < p->count; k++)
      {
        long long row = row_of (indices[k], p->axis);
        float *out = y + (o * p->count + k) * p->inner;
        if (row < 0)
          memset (out, 0, p->inner * sizeof (float));
        else
          memcpy (out, data + (o * p->axis + (size_t) row) * p->inner, p->inner * sizeof (float));
      }
}

void
graft_gather_backward (const graft_gather_params *p, const float *indices, const float *dy, float *ddata)
{
  if (ddata == NULL)
    return;
  for (size_t o = 0; o < p->outer; o++)
    for (size_t k = 0; k < p->count; k++)
      {
        long long row = row_of (indices[k], p->axis);
        const float *g = dy + (o * p->count + k) * p->inner;
        float *d = ddata + (o * p->axis + (size_t) row) * p->inner;
        if (row < 0)
          continue;
        for (size_t i = 0; i < p->inner; i++)
          d[i] += g[i];
      }
}

/* ------------------------------------------------------------------------ */
/* The descriptor: data, indices (a constant) -> data's dims before the axis, the
 * indices' dims, data's dims after the axis                                   */

static graft_status
gather_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  int axis = node->attributes.gather.axis, rank = in[0]->rank;

  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "Gather node '%s': the axis %d is outside rank %d",
                            node->name, node->attributes.gather.axis, rank);
  if (rank - 1 + in[1]->rank > GRAFT_MAX_RANK)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "Gather node '%s': the output would have rank %d",
                            node->name, rank - 1 + in[1]->rank);
  out->rank = 0;
  for (int d = 0; d < axis; d++)
    out->dims[out->rank++] = in[0]->dims[d];
  for (int d = 0; d < in[1]->rank; d++)
    out->dims[out->rank++] = in[1]->dims[d];
  for (int d = axis + 1; d < rank; d++)
    out->dims[out->rank++] = in[0]->dims[d];
  return GRAFT_OK;
}

static graft_status
gather_setup (graft_op_context *c, graft_error *error)
{
  const graft_shape *data = c->input_shapes[0], *indices = c->input_shapes[1];
  graft_gather_params *p = &c->state->gather;
  int axis = c->node->attributes.gather.axis < 0 ? c->node->attributes.gather.axis + data->rank
                                                 : c->node->attributes.gather.axis;

  p->outer = p->inner = p->count = 1;
  for (int d = 0; d < data->rank; d++)
    if (d < axis)
      p->outer *= (size_t) data->dims[d];
    else if (d > axis)
      p->inner *= (size_t) data->dims[d];
  p->axis = (size_t) data->dims[axis];
  for (int d = 0; d < indices->rank; d++)
    p->count *= (size_t) indices->dims[d];
  return graft_gather_setup (p, error);
}

static void
gather_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs_output;
  needs[1] = wants[0];
}

static void
gather_forward (const graft_op_context *c)
{
  graft_gather_forward (&c->state->gather, c->inputs[0], c->inputs[1], c->output);
}

static void
gather_backward (const graft_op_context *c)
{
  graft_gather_backward (&c->state->gather, c->inputs[1], c->dy, c->gradients[0]);
}

const graft_op_descriptor graft_gather_descriptor = {
  .name = "Gather",
  .min_inputs = 2, .max_inputs = 2,
  .infer_shape = gather_infer_shape,
  .setup = gather_setup,
  .backward_needs = gather_backward_needs,
  .forward = gather_forward,
  .backward = gather_backward,
};
