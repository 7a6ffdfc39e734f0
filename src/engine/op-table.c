/* op-table.c: the descriptor of every op (op-table.h), one section per op, and the
 * table that indexes them by graft_op. Each section wraps the op's kernels in ops.h.
 */
#include "engine/op-table.h"
#include "engine/random.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Shared pieces                                                              */

static graft_status
shape_error (graft_error *error, const graft_node *node, const char *what, const graft_shape *shape)
{
  char text[160] = "";
  if (shape != NULL)
    graft_shape_format (shape, text, sizeof text);
  return graft_error_set (error, GRAFT_ERROR_SHAPE, "%s node '%s': %s %s",
                          graft_op_name (node->attributes.op), node->name, what, text);
}

static bool
expect_count (const graft_shape *shape, int64_t count)
{
  return shape->rank == 1 && shape->dims[0] == count;
}

static graft_status
same_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  (void) node;
  (void) error;
  *out = *in[0];
  return GRAFT_OK;
}

/* Backward reads neither the inputs nor the output (sums, copies, pools by saved index). */
void
graft_op_needs_nothing (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) wants;
  (void) needs;
  (void) needs_output;
}

/* Products: the gradient of each of two factors reads the other. */
void
graft_op_needs_other_factor (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs_output;
  needs[0] = wants[1];
  needs[1] = wants[0];
}

static void
copy_forward (const graft_op_context *c)
{
  memcpy (c->output, c->inputs[0], c->output_count * sizeof (float));
}

static void
add_into (size_t count, const float *restrict dy, float *restrict dx)
{
  for (size_t i = 0; i < count; i++)
    dx[i] += dy[i];
}

static void
copy_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    add_into (c->output_count, c->dy, c->gradients[0]);
}

/* ------------------------------------------------------------------------ */
/* Conv: x, w [, bias]                                                       */

static bool
int_dims (const graft_shape *x)
{
  for (int d = 0; d < x->rank; d++)
    if (x->dims[d] > INT32_MAX)
      return false;
  return true;
}

static graft_status
conv_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *x = in[0], *w = in[1];
  graft_conv2d_params p;

  if (x->rank != 4 || !int_dims (x))
    return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
  if (w->rank != 4 || w->dims[0] > INT32_MAX || w->dims[2] != a->conv.kh || w->dims[3] != a->conv.kw
      || a->conv.groups < 1 || w->dims[1] * a->conv.groups != x->dims[1])
    return shape_error (error, node, "has a weight that does not fit its input:", w);
  if (node->n_inputs == 3 && !expect_count (in[2], w->dims[0]))
    return shape_error (error, node, "has a bias of the wrong size:", in[2]);
  p = graft_node_conv2d_params (node, x, w);
  if (graft_conv2d_setup (&p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  *out = graft_shape_4d (p.n, p.m, p.oh, p.ow);
  return GRAFT_OK;
}

static graft_status
conv_setup (graft_op_context *c, graft_error *error)
{
  graft_conv2d_params *p = &c->state->conv;
  *p = graft_node_conv2d_params (c->node, c->input_shapes[0], c->input_shapes[1]);
  if (graft_conv2d_setup (p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  c->scratch_floats = graft_conv2d_scratch_floats (p);
  if (c->scratch_floats == SIZE_MAX)
    return graft_error_set (error, GRAFT_ERROR_OVERFLOW, "Conv node '%s' needs too much memory", c->node->name);
  return GRAFT_OK;
}

static void
conv_forward (const graft_op_context *c)
{
  const float *bias = c->node->n_inputs > 2 ? c->inputs[2] : NULL;
  float *y = c->activation != NULL ? c->activation_output : c->output;
  graft_conv2d_forward_activation (&c->state->conv, c->inputs[0], c->inputs[1], bias, c->activation,
                                   c->pre_activation, y, c->scratch);
}

static void
conv_backward (const graft_op_context *c)
{
  float *dbias = c->node->n_inputs > 2 ? c->gradients[2] : NULL;
  (c->set_dx ? graft_conv2d_backward_set_dx : graft_conv2d_backward) (
    &c->state->conv, c->inputs[0], c->inputs[1], c->dy, c->gradients[0], c->gradients[1], dbias, c->scratch);
}

static const graft_op_descriptor conv_descriptor = {
  .name = "Conv",
  .min_inputs = 2, .max_inputs = 3,
  .fuses_activation = true,
  .sets_dx = true,
  .infer_shape = conv_infer_shape,
  .setup = conv_setup,
  .backward_needs = graft_op_needs_other_factor,   /* dw reads x, dx reads w */
  .forward = conv_forward,
  .backward = conv_backward,
};

/* ------------------------------------------------------------------------ */
/* BatchNormalization: x, gamma, beta, running_mean, running_var              */

static graft_status
batchnorm_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out,
                       graft_error *error)
{
  const graft_shape *x = in[0];
  if (x->rank < 2)
    return shape_error (error, node, "expects an (N,C,...) input, not", x);
  for (int i = 1; i < 5; i++)
    if (!expect_count (in[i], x->dims[1]))
      return shape_error (error, node, "has a parameter that does not match the channels:", in[i]);
  *out = *x;
  return GRAFT_OK;
}

static graft_status
batchnorm_setup (graft_op_context *c, graft_error *error)
{
  const graft_shape *x = c->input_shapes[0];
  size_t spatial = 1;
  for (int d = 2; d < x->rank; d++)
    spatial *= (size_t) x->dims[d];
  c->state->batchnorm = (graft_batchnorm_params) {
    .n = (int) x->dims[0], .c = (int) x->dims[1], .spatial = spatial,
    .epsilon = c->node->attributes.batchnorm.epsilon, .momentum = c->node->attributes.batchnorm.momentum,
  };
  return graft_batchnorm_setup (&c->state->batchnorm, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

/* The batch mean and 1/std, in training with batch statistics. */
static size_t
batchnorm_saved_floats (const graft_op_context *c)
{
  return c->training && c->batch_statistics ? 2 * (size_t) c->state->batchnorm.c : 0;
}

static void
batchnorm_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  bool any = false;
  (void) needs_output;
  for (int i = 0; i < c->node->n_inputs; i++)
    any |= wants[i];
  needs[0] = c->batch_statistics ? any : wants[1];
}

static void
batchnorm_forward (const graft_op_context *c)
{
  const graft_batchnorm_params *p = &c->state->batchnorm;
  float *y = c->activation != NULL ? c->activation_output : c->output;
  float *const *in = c->inputs;
  if (c->batch_statistics)
    graft_batchnorm_forward_training_activation (p, in[0], in[1], in[2], in[3], in[4], c->activation,
                                                 c->pre_activation, y, c->saved, c->saved + p->c);
  else
    graft_batchnorm_forward_inference_activation (p, in[0], in[1], in[2], in[3], in[4], c->activation,
                                                  c->pre_activation, y);
}

static void
batchnorm_backward (const graft_op_context *c)
{
  const graft_batchnorm_params *p = &c->state->batchnorm;
  float *const *in = c->inputs, *const *d = c->gradients;
  if (c->batch_statistics)
    (c->set_dx ? graft_batchnorm_backward_training_set_dx : graft_batchnorm_backward_training) (
      p, in[0], in[1], c->saved, c->saved + p->c, c->dy, d[0], d[1], d[2]);
  else
    (c->set_dx ? graft_batchnorm_backward_inference_set_dx : graft_batchnorm_backward_inference) (
      p, in[0], in[1], in[3], in[4], c->dy, d[0], d[1], d[2]);
}

static const graft_op_descriptor batchnorm_descriptor = {
  .name = "BatchNormalization",
  .min_inputs = 5, .max_inputs = 5,
  .fuses_activation = true,
  .sets_dx = true,
  .infer_shape = batchnorm_infer_shape,
  .setup = batchnorm_setup,
  .saved_floats = batchnorm_saved_floats,
  .backward_needs = batchnorm_backward_needs,
  .forward = batchnorm_forward,
  .backward = batchnorm_backward,
};

/* ------------------------------------------------------------------------ */
/* Activation: x                                                              */

static void
activation_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) wants;
  graft_activation_backward_needs (c->node->attributes.activation.kind, &needs[0], needs_output);
}

static void
activation_forward (const graft_op_context *c)
{
  graft_activation_forward (&c->node->attributes.activation, c->output_count, c->inputs[0], c->output);
}

static void
activation_backward (const graft_op_context *c)
{
  (c->set_dx ? graft_activation_backward_set_dx : graft_activation_backward) (
    &c->node->attributes.activation, c->output_count, c->inputs[0], c->output, c->dy, c->gradients[0]);
}

static const graft_op_descriptor activation_descriptor = {
  .name = "Activation",
  .min_inputs = 1, .max_inputs = 1,
  .sets_dx = true,
  .infer_shape = same_shape,
  .backward_needs = activation_backward_needs,
  .forward = activation_forward,
  .backward = activation_backward,
};

/* ------------------------------------------------------------------------ */
/* Add, Mul: a, b with numpy broadcasting                                     */

static graft_status
broadcast_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  graft_broadcast_params p = { .a = *in[0], .b = *in[1] };
  (void) node;
  if (graft_broadcast_setup (&p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  *out = p.y;
  return GRAFT_OK;
}

static graft_status
broadcast_setup (graft_op_context *c, graft_error *error)
{
  c->state->broadcast = (graft_broadcast_params) { .a = *c->input_shapes[0], .b = *c->input_shapes[1] };
  return graft_broadcast_setup (&c->state->broadcast, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

static void
add_forward (const graft_op_context *c)
{
  graft_add_forward (&c->state->broadcast, c->inputs[0], c->inputs[1], c->output);
}

static void
add_backward (const graft_op_context *c)
{
  graft_add_backward (&c->state->broadcast, c->dy, c->gradients[0], c->gradients[1]);
}

static const graft_op_descriptor add_descriptor = {
  .name = "Add",
  .min_inputs = 2, .max_inputs = 2,
  .infer_shape = broadcast_infer_shape,
  .setup = broadcast_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = add_forward,
  .backward = add_backward,
};

static void
mul_forward (const graft_op_context *c)
{
  graft_mul_forward (&c->state->broadcast, c->inputs[0], c->inputs[1], c->output);
}

static void
mul_backward (const graft_op_context *c)
{
  graft_mul_backward (&c->state->broadcast, c->inputs[0], c->inputs[1], c->dy, c->gradients[0], c->gradients[1]);
}

static const graft_op_descriptor mul_descriptor = {
  .name = "Mul",
  .min_inputs = 2, .max_inputs = 2,
  .infer_shape = broadcast_infer_shape,
  .setup = broadcast_setup,
  .backward_needs = graft_op_needs_other_factor,
  .writes_over_input = true,
  .forward = mul_forward,
  .backward = mul_backward,
};

/* ------------------------------------------------------------------------ */
/* Concat: x1 ... xk                                                          */

static graft_status
concat_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *x = in[0];
  int axis = a->concat.axis < 0 ? a->concat.axis + x->rank : a->concat.axis;
  graft_shape y = *x;

  if (axis < 0 || axis >= x->rank)
    return shape_error (error, node, "has an axis outside the input's rank:", x);
  for (int i = 1; i < node->n_inputs; i++)
    {
      if (in[i]->rank != x->rank)
        return shape_error (error, node, "joins inputs of different ranks:", in[i]);
      for (int d = 0; d < x->rank; d++)
        if (d != axis && in[i]->dims[d] != x->dims[d])
          return shape_error (error, node, "joins inputs that differ off the axis:", in[i]);
      if (__builtin_add_overflow (y.dims[axis], in[i]->dims[axis], &y.dims[axis]))
        return shape_error (error, node, "overflows on the axis:", in[i]);
    }
  *out = y;
  return GRAFT_OK;
}

static graft_status
concat_setup (graft_op_context *c, graft_error *error)
{
  const graft_node *node = c->node;
  const graft_shape *x = c->input_shapes[0];
  int axis = node->attributes.concat.axis < 0 ? node->attributes.concat.axis + x->rank : node->attributes.concat.axis;
  size_t *inner = calloc ((size_t) node->n_inputs, sizeof (size_t));

  if (inner == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory");
  c->state->concat.inner = inner;
  c->state->concat.outer = 1;
  for (int d = 0; d < axis; d++)
    c->state->concat.outer *= (size_t) x->dims[d];
  for (int i = 0; i < node->n_inputs; i++)
    {
      const graft_shape *s = c->input_shapes[i];
      inner[i] = 1;
      for (int d = axis; d < s->rank; d++)
        inner[i] *= (size_t) s->dims[d];
    }
  return GRAFT_OK;
}

static void
concat_forward (const graft_op_context *c)
{
  graft_concat_forward (c->node->n_inputs, c->state->concat.outer, c->state->concat.inner,
                        (const float *const *) c->inputs, c->output);
}

static void
concat_backward (const graft_op_context *c)
{
  graft_concat_backward (c->node->n_inputs, c->state->concat.outer, c->state->concat.inner, c->dy, c->gradients);
}

static void
concat_release (graft_op_context *c)
{
  free (c->state->concat.inner);
  c->state->concat.inner = NULL;
}

static const graft_op_descriptor concat_descriptor = {
  .name = "Concat",
  .min_inputs = 1, .max_inputs = GRAFT_OP_ANY_INPUTS,
  .infer_shape = concat_infer_shape,
  .setup = concat_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = concat_forward,
  .backward = concat_backward,
  .release = concat_release,
};

/* ------------------------------------------------------------------------ */
/* MaxPool, AveragePool: x                                                    */

static graft_status
pool_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_shape *x = in[0];
  graft_pool2d_params p;
  if (x->rank != 4 || !int_dims (x))
    return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
  p = graft_node_pool2d_params (node, x);
  if (graft_pool2d_setup (&p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  *out = graft_shape_4d (p.n, p.c, p.oh, p.ow);
  return GRAFT_OK;
}

static graft_status
pool_setup (graft_op_context *c, graft_error *error)
{
  c->state->pool = graft_node_pool2d_params (c->node, c->input_shapes[0]);
  return graft_pool2d_setup (&c->state->pool, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

/* The argmax of every output (int32), for backward. */
static size_t
maxpool_saved_floats (const graft_op_context *c)
{
  return c->backward ? c->output_count : 0;
}

static void
maxpool_forward (const graft_op_context *c)
{
  graft_maxpool2d_forward (&c->state->pool, c->inputs[0], c->output, (int32_t *) c->saved);
}

static void
maxpool_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    graft_maxpool2d_backward (&c->state->pool, (const int32_t *) c->saved, c->dy, c->gradients[0]);
}

static const graft_op_descriptor maxpool_descriptor = {
  .name = "MaxPool",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = pool_infer_shape,
  .setup = pool_setup,
  .saved_floats = maxpool_saved_floats,
  .backward_needs = graft_op_needs_nothing,
  .forward = maxpool_forward,
  .backward = maxpool_backward,
};

static void
avgpool_forward (const graft_op_context *c)
{
  graft_avgpool2d_forward (&c->state->pool, c->inputs[0], c->output);
}

static void
avgpool_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    graft_avgpool2d_backward (&c->state->pool, c->dy, c->gradients[0]);
}

static const graft_op_descriptor avgpool_descriptor = {
  .name = "AveragePool",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = pool_infer_shape,
  .setup = pool_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = avgpool_forward,
  .backward = avgpool_backward,
};

/* ------------------------------------------------------------------------ */
/* GlobalAveragePool, ReduceMean over H,W: x (N,C,H,W)                        */

static graft_status
mean_spatial_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out,
                          graft_error *error)
{
  const graft_shape *x = in[0];
  if (x->rank != 4)
    return shape_error (error, node, "expects an (N,C,H,W) input, not", x);
  *out = node->attributes.mean_spatial.keep_dims ? graft_shape_4d (x->dims[0], x->dims[1], 1, 1)
                                                 : graft_shape_2d (x->dims[0], x->dims[1]);
  return GRAFT_OK;
}

static graft_status
mean_spatial_setup (graft_op_context *c, graft_error *error)
{
  const graft_shape *s = c->input_shapes[0];
  (void) error;
  c->state->mean_spatial.planes = (size_t) (s->dims[0] * s->dims[1]);
  c->state->mean_spatial.spatial = (size_t) (s->dims[2] * s->dims[3]);
  return GRAFT_OK;
}

static void
mean_spatial_forward (const graft_op_context *c)
{
  graft_mean_spatial_forward (c->state->mean_spatial.planes, c->state->mean_spatial.spatial, c->inputs[0],
                              c->output);
}

static void
mean_spatial_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    graft_mean_spatial_backward (c->state->mean_spatial.planes, c->state->mean_spatial.spatial, c->dy,
                                 c->gradients[0]);
}

static const graft_op_descriptor mean_spatial_descriptor = {
  .name = "GlobalAveragePool",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = mean_spatial_infer_shape,
  .setup = mean_spatial_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = mean_spatial_forward,
  .backward = mean_spatial_backward,
};

/* ------------------------------------------------------------------------ */
/* Reshape, Flatten: x, the data copied                                       */

static graft_status
reshape_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *x = in[0];
  graft_shape y = { .rank = a->reshape.rank };
  size_t total, known = 1;
  int infer = -1;

  if (a->reshape.rank < 0)
    {
      *out = *x;
      return GRAFT_OK;
    }
  if (a->reshape.rank > GRAFT_MAX_RANK)
    return shape_error (error, node, "has too many dimensions for", x);
  graft_shape_count (x, &total, NULL);
  for (int d = 0; d < y.rank; d++)
    {
      int64_t dim = a->reshape.dims[d];
      if (dim == 0)
        {
          if (d >= x->rank)
            return shape_error (error, node, "copies a dimension its input lacks:", x);
          dim = x->dims[d];
        }
      else if (dim == -1)
        {
          if (infer >= 0)
            return shape_error (error, node, "infers more than one dimension for", x);
          infer = d;
          y.dims[d] = 1;
          continue;
        }
      else if (dim < 0)
        return shape_error (error, node, "has a negative dimension for", x);
      y.dims[d] = dim;
      if (!graft_size_mul (known, (size_t) dim, &known))
        return shape_error (error, node, "overflows reshaping", x);
    }
  if (infer >= 0)
    {
      if (known == 0 || total % known != 0)
        return shape_error (error, node, "cannot infer a dimension reshaping", x);
      y.dims[infer] = (int64_t) (total / known);
    }
  else if (known != total)
    return shape_error (error, node, "changes the number of elements of", x);
  *out = y;
  return GRAFT_OK;
}

static const graft_op_descriptor reshape_descriptor = {
  .name = "Reshape",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = reshape_infer_shape,
  .backward_needs = graft_op_needs_nothing,
  .forward = copy_forward,
  .backward = copy_backward,
};

static graft_status
flatten_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_shape *x = in[0];
  int axis = node->attributes.flatten.axis < 0 ? node->attributes.flatten.axis + x->rank : node->attributes.flatten.axis;
  size_t outer = 1, inner = 1;
  if (axis < 0 || axis > x->rank)
    return shape_error (error, node, "has an axis outside the rank of", x);
  for (int d = 0; d < x->rank; d++)
    {
      if (d < axis)
        outer *= (size_t) x->dims[d];
      else
        inner *= (size_t) x->dims[d];
    }
  *out = graft_shape_2d ((int64_t) outer, (int64_t) inner);
  return GRAFT_OK;
}

static const graft_op_descriptor flatten_descriptor = {
  .name = "Flatten",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = flatten_infer_shape,
  .backward_needs = graft_op_needs_nothing,
  .forward = copy_forward,
  .backward = copy_backward,
};

/* ------------------------------------------------------------------------ */
/* Transpose: x                                                               */

static graft_status
transpose_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  graft_transpose_params p = { .x = *in[0] };
  memcpy (p.perm, node->attributes.transpose.perm, sizeof p.perm);
  if (graft_transpose_setup (&p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  *out = p.y;
  return GRAFT_OK;
}

static graft_status
transpose_setup (graft_op_context *c, graft_error *error)
{
  c->state->transpose.x = *c->input_shapes[0];
  memcpy (c->state->transpose.perm, c->node->attributes.transpose.perm, sizeof c->state->transpose.perm);
  return graft_transpose_setup (&c->state->transpose, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

static void
transpose_forward (const graft_op_context *c)
{
  graft_transpose_forward (&c->state->transpose, c->inputs[0], c->output);
}

static void
transpose_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    graft_transpose_backward (&c->state->transpose, c->dy, c->gradients[0]);
}

static const graft_op_descriptor transpose_descriptor = {
  .name = "Transpose",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = transpose_infer_shape,
  .setup = transpose_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = transpose_forward,
  .backward = transpose_backward,
};

/* ------------------------------------------------------------------------ */
/* Slice: x, a range of one axis                                              */

static graft_slice_params
slice_params (const graft_node *node, const graft_shape *x)
{
  const graft_node_attributes *a = &node->attributes;
  return (graft_slice_params) { .x = *x, .axis = a->slice.axis, .start = a->slice.start, .end = a->slice.end };
}

static graft_status
slice_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  graft_slice_params p = slice_params (node, in[0]);
  if (graft_slice_setup (&p, NULL) != GRAFT_OK)
    {
      char text[160];
      graft_shape_format (in[0], text, sizeof text);
      return graft_error_set (error, GRAFT_ERROR_SHAPE, "%s node '%s': the range [%lld, %lld) of axis %d "
                              "is not inside its input %s", graft_op_name (a->op), node->name,
                              (long long) a->slice.start, (long long) a->slice.end, a->slice.axis, text);
    }
  *out = p.y;
  return GRAFT_OK;
}

static graft_status
slice_setup (graft_op_context *c, graft_error *error)
{
  c->state->slice = slice_params (c->node, c->input_shapes[0]);
  return graft_slice_setup (&c->state->slice, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

static void
slice_forward (const graft_op_context *c)
{
  graft_slice_forward (&c->state->slice, c->inputs[0], c->output);
}

static void
slice_backward (const graft_op_context *c)
{
  graft_slice_backward (&c->state->slice, c->dy, c->gradients[0]);
}

static const graft_op_descriptor slice_descriptor = {
  .name = "Slice",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = slice_infer_shape,
  .setup = slice_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = slice_forward,
  .backward = slice_backward,
};

/* ------------------------------------------------------------------------ */
/* Gemm: a, b [, c]                                                           */

static graft_status
gemm_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *x = in[0], *b = in[1];
  int64_t m, k, k2, n;

  if (x->rank != 2 || b->rank != 2)
    return shape_error (error, node, "multiplies matrices only; got", x->rank != 2 ? x : b);
  m = a->gemm.trans_a ? x->dims[1] : x->dims[0];
  k = a->gemm.trans_a ? x->dims[0] : x->dims[1];
  k2 = a->gemm.trans_b ? b->dims[1] : b->dims[0];
  n = a->gemm.trans_b ? b->dims[0] : b->dims[1];
  if (k != k2)
    return shape_error (error, node, "has inner dimensions that differ; B is", b);
  if (node->n_inputs == 3)
    {
      const graft_shape *c = in[2];
      int64_t rows = c->rank == 2 ? c->dims[0] : 1;
      int64_t cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
      if (c->rank > 2 || (rows != 1 && rows != m) || (cols != 1 && cols != n))
        return shape_error (error, node, "has a C that does not broadcast to (M,N):", c);
    }
  *out = graft_shape_2d (m, n);
  return GRAFT_OK;
}

static graft_status
gemm_setup (graft_op_context *c, graft_error *error)
{
  const graft_node_attributes *a = &c->node->attributes;
  const graft_shape *x = c->input_shapes[0], *y = c->output_shape;
  graft_gemm_params *p = &c->state->gemm;

  *p = (graft_gemm_params) {
    .m = (int) y->dims[0], .n = (int) y->dims[1],
    .k = (int) (a->gemm.trans_a ? x->dims[0] : x->dims[1]),
    .trans_a = a->gemm.trans_a, .trans_b = a->gemm.trans_b,
    .alpha = a->gemm.alpha, .beta = a->gemm.beta,
  };
  if (c->node->n_inputs == 3)
    {
      const graft_shape *s = c->input_shapes[2];
      p->c_rows = s->rank == 2 ? (int) s->dims[0] : 1;
      p->c_cols = s->rank >= 1 ? (int) s->dims[s->rank - 1] : 1;
    }
  return graft_gemm_setup (p, error) == GRAFT_OK ? GRAFT_OK : GRAFT_ERROR_SHAPE;
}

static void
gemm_forward (const graft_op_context *c)
{
  graft_gemm_forward (&c->state->gemm, c->inputs[0], c->inputs[1], c->node->n_inputs > 2 ? c->inputs[2] : NULL,
                      c->output);
}

static void
gemm_backward (const graft_op_context *c)
{
  graft_gemm_backward (&c->state->gemm, c->inputs[0], c->inputs[1], c->dy, c->gradients[0], c->gradients[1],
                       c->node->n_inputs > 2 ? c->gradients[2] : NULL);
}

static const graft_op_descriptor gemm_descriptor = {
  .name = "Gemm",
  .min_inputs = 2, .max_inputs = 3,
  .infer_shape = gemm_infer_shape,
  .setup = gemm_setup,
  .backward_needs = graft_op_needs_other_factor,
  .forward = gemm_forward,
  .backward = gemm_backward,
};

/* ------------------------------------------------------------------------ */
/* Dropout: x, the identity at inference                                      */

/* The mask, one byte per element (allocated in training even when the node does not
 * run backward: forward writes it). */
static size_t
dropout_saved_floats (const graft_op_context *c)
{
  return c->training ? (c->output_count + 3) / 4 : 0;
}

static void
dropout_forward (const graft_op_context *c)
{
  float ratio = c->node->attributes.dropout.ratio;
  /* The mask is a function of the seed, the step and the node. */
  if (c->training && ratio > 0)
    graft_dropout_forward (ratio, graft_random_derive (c->seed, *c->step, (uint64_t) c->index), c->output_count,
                           c->inputs[0], c->output, (uint8_t *) c->saved);
  else
    copy_forward (c);
}

static void
dropout_backward (const graft_op_context *c)
{
  float ratio = c->node->attributes.dropout.ratio;
  if (c->gradients[0] == NULL)
    return;
  if (ratio > 0)
    graft_dropout_backward (ratio, c->output_count, (const uint8_t *) c->saved, c->dy, c->gradients[0]);
  else
    add_into (c->output_count, c->dy, c->gradients[0]);
}

static const graft_op_descriptor dropout_descriptor = {
  .name = "Dropout",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = same_shape,
  .saved_floats = dropout_saved_floats,
  .backward_needs = graft_op_needs_nothing,
  .forward = dropout_forward,
  .backward = dropout_backward,
};

/* ------------------------------------------------------------------------ */
/* Softmax: x, along the last axis                                            */

static graft_status
softmax_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  if (in[0]->rank < 1)
    return shape_error (error, node, "needs at least one axis, not", in[0]);
  *out = *in[0];
  return GRAFT_OK;
}

static graft_status
softmax_setup (graft_op_context *c, graft_error *error)
{
  size_t cols = (size_t) c->output_shape->dims[c->output_shape->rank - 1];
  (void) error;
  c->state->softmax.cols = cols;
  c->state->softmax.rows = cols ? c->output_count / cols : 0;
  return GRAFT_OK;
}

static void
softmax_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) wants;
  (void) needs;
  *needs_output = true;
}

static void
softmax_forward (const graft_op_context *c)
{
  graft_softmax_forward (c->state->softmax.rows, c->state->softmax.cols, c->inputs[0], c->output);
}

static void
softmax_backward (const graft_op_context *c)
{
  if (c->gradients[0] != NULL)
    graft_softmax_backward (c->state->softmax.rows, c->state->softmax.cols, c->output, c->dy, c->gradients[0]);
}

static const graft_op_descriptor softmax_descriptor = {
  .name = "Softmax",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = softmax_infer_shape,
  .setup = softmax_setup,
  .backward_needs = softmax_backward_needs,
  .forward = softmax_forward,
  .backward = softmax_backward,
};

/* ------------------------------------------------------------------------ */
/* Abs: x                                                                     */

static void
needs_input (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs_output;
  needs[0] = wants[0];
}

static void
abs_forward (const graft_op_context *c)
{
  graft_abs_forward (c->output_count, c->inputs[0], c->output);
}

static void
abs_backward (const graft_op_context *c)
{
  graft_abs_backward (c->output_count, c->inputs[0], c->dy, c->gradients[0]);
}

static const graft_op_descriptor abs_descriptor = {
  .name = "Abs",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = same_shape,
  .backward_needs = needs_input,
  .forward = abs_forward,
  .backward = abs_backward,
};

/* ------------------------------------------------------------------------ */
/* The table                                                                  */

static const graft_op_descriptor *const descriptors[] = {
  [GRAFT_OP_CONV] = &conv_descriptor,
  [GRAFT_OP_BATCHNORM] = &batchnorm_descriptor,
  [GRAFT_OP_ACTIVATION] = &activation_descriptor,
  [GRAFT_OP_ADD] = &add_descriptor,
  [GRAFT_OP_MUL] = &mul_descriptor,
  [GRAFT_OP_CONCAT] = &concat_descriptor,
  [GRAFT_OP_MAXPOOL] = &maxpool_descriptor,
  [GRAFT_OP_AVGPOOL] = &avgpool_descriptor,
  [GRAFT_OP_MEAN_SPATIAL] = &mean_spatial_descriptor,
  [GRAFT_OP_RESHAPE] = &reshape_descriptor,
  [GRAFT_OP_FLATTEN] = &flatten_descriptor,
  [GRAFT_OP_TRANSPOSE] = &transpose_descriptor,
  [GRAFT_OP_GEMM] = &gemm_descriptor,
  [GRAFT_OP_DROPOUT] = &dropout_descriptor,
  [GRAFT_OP_SOFTMAX] = &softmax_descriptor,
  [GRAFT_OP_SLICE] = &slice_descriptor,
  [GRAFT_OP_ABS] = &abs_descriptor,
  [GRAFT_OP_LAYERNORM] = &graft_layernorm_descriptor,
  [GRAFT_OP_GELU] = &graft_gelu_descriptor,
  [GRAFT_OP_MATMUL] = &graft_matmul_descriptor,
  [GRAFT_OP_SOFTMAX_AXIS] = &graft_softmax_axis_descriptor,
  [GRAFT_OP_RESIZE] = &graft_resize_descriptor,
  [GRAFT_OP_GATHER] = &graft_gather_descriptor,
};

/* One entry per op: an op added to the enum after the last entry makes the table
 * short; one added before it leaves a NULL, which the op-table test finds. */
_Static_assert (sizeof descriptors / sizeof descriptors[0] == GRAFT_OP_COUNT,
                "every graft_op needs a descriptor in op-table.c");

const graft_op_descriptor *
graft_op_descriptor_for (graft_op op)
{
  return (int) op >= 0 && op < GRAFT_OP_COUNT ? descriptors[op] : NULL;
}
