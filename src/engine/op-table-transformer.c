/* op-table-transformer.c: the descriptors (op-table.h) of the ops of vision
 * transformers and ConvNeXt: LayerNorm, GELU, batched MatMul, Softmax on any axis.
 * op-table.c's table points at them. */
#include "engine/matmul.h"
#include "engine/op-table.h"

static graft_status
transformer_shape_error (graft_error *error, const graft_node *node, const char *what, const graft_shape *shape)
{
  char text[160] = "";
  if (shape != NULL)
    graft_shape_format (shape, text, sizeof text);
  return graft_error_set (error, GRAFT_ERROR_SHAPE, "%s node '%s': %s %s",
                          graft_op_name (node->attributes.op), node->name, what, text);
}

static size_t
elements (const graft_shape *s)
{
  size_t n = 1;
  for (int d = 0; d < s->rank; d++)
    n *= (size_t) s->dims[d];
  return n;
}

/* An axis of a shape of rank rank, negative counting from the end; -1 when outside. */
static int
resolve_axis (int axis, int rank)
{
  if (axis < 0)
    axis += rank;
  return axis >= 0 && axis < rank ? axis : -1;
}

/* ------------------------------------------------------------------------ */
/* LayerNorm: x, scale [, bias], over the axes from attributes.layernorm.axis */

/* rows and cols of x split at the first normalised axis. */
static bool
layernorm_split (const graft_node *node, const graft_shape *x, size_t *rows, size_t *cols)
{
  int axis = resolve_axis (node->attributes.layernorm.axis, x->rank);
  if (axis < 0)
    return false;
  *rows = *cols = 1;
  for (int d = 0; d < x->rank; d++)
    *(d < axis ? rows : cols) *= (size_t) x->dims[d];
  return true;
}

static graft_status
layernorm_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  size_t rows, cols;
  if (!layernorm_split (node, in[0], &rows, &cols))
    return transformer_shape_error (error, node, "normalises from an axis outside its input", in[0]);
  for (int i = 1; i < node->n_inputs; i++)
    if (elements (in[i]) != cols)
      return transformer_shape_error (error, node, "has a scale or bias that does not match the normalised axes:",
                                      in[i]);
  *out = *in[0];
  return GRAFT_OK;
}

static graft_status
layernorm_setup (graft_op_context *c, graft_error *error)
{
  graft_layernorm_params *p = &c->state->layernorm;
  layernorm_split (c->node, c->input_shapes[0], &p->rows, &p->cols);
  p->epsilon = c->node->attributes.layernorm.epsilon;
  return graft_layernorm_setup (p, error);
}

/* The mean and reciprocal deviation of each row, for backward. */
static size_t
layernorm_saved_floats (const graft_op_context *c)
{
  size_t rows = 0, cols = 0;
  layernorm_split (c->node, c->input_shapes[0], &rows, &cols);
  return c->backward ? 2 * rows : 0;
}

static void
layernorm_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) needs_output;
  bool any = false;
  for (int i = 0; i < c->node->n_inputs; i++)
    any = any || wants[i];
  needs[0] = any;
  if (c->node->n_inputs > 1)
    needs[1] = wants[0];
}

static void
layernorm_forward (const graft_op_context *c)
{
  const graft_layernorm_params *p = &c->state->layernorm;
  int n = c->node->n_inputs;
  graft_layernorm_forward (p, c->inputs[0], n > 1 ? c->inputs[1] : NULL, n > 2 ? c->inputs[2] : NULL, c->output,
                           c->saved, c->saved != NULL ? c->saved + p->rows : NULL);
}

static void
layernorm_backward (const graft_op_context *c)
{
  const graft_layernorm_params *p = &c->state->layernorm;
  int n = c->node->n_inputs;
  graft_layernorm_backward (p, c->inputs[0], n > 1 ? c->inputs[1] : NULL, c->saved, c->saved + p->rows, c->dy,
                            c->gradients[0], n > 1 ? c->gradients[1] : NULL, n > 2 ? c->gradients[2] : NULL);
}

const graft_op_descriptor graft_layernorm_descriptor = {
  .name = "LayerNormalization",
  .min_inputs = 1, .max_inputs = 3,
  .infer_shape = layernorm_infer_shape,
  .setup = layernorm_setup,
  .saved_floats = layernorm_saved_floats,
  .backward_needs = layernorm_backward_needs,
  .forward = layernorm_forward,
  .backward = layernorm_backward,
};

/* ------------------------------------------------------------------------ */
/* GELU: x                                                                   */

static graft_status
gelu_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  graft_gelu_kind kind = node->attributes.gelu.kind;
  if (kind != GRAFT_GELU_ERF && kind != GRAFT_GELU_TANH)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "Gelu node '%s': unknown form %d", node->name,
                            (int) kind);
  *out = *in[0];
  return GRAFT_OK;
}

static void
gelu_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs_output;
  needs[0] = wants[0];
}

static void
gelu_forward (const graft_op_context *c)
{
  graft_gelu_forward (c->node->attributes.gelu.kind, c->output_count, c->inputs[0], c->output);
}

static void
gelu_backward (const graft_op_context *c)
{
  graft_gelu_backward (c->node->attributes.gelu.kind, c->output_count, c->inputs[0], c->dy, c->gradients[0]);
}

const graft_op_descriptor graft_gelu_descriptor = {
  .name = "Gelu",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = gelu_infer_shape,
  .backward_needs = gelu_backward_needs,
  .forward = gelu_forward,
  .backward = gelu_backward,
};

/* ------------------------------------------------------------------------ */
/* MatMul: a, b (numpy matmul, batch dims broadcast)                          */

static graft_status
matmul_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  graft_matmul_params p = { *in[0], *in[1] };
  graft_error inner = { 0 };
  if (graft_matmul_setup (&p, &inner) != GRAFT_OK)
    return graft_error_set (error, inner.status, "MatMul node '%s': %s", node->name, inner.message);
  *out = p.y;
  return GRAFT_OK;
}

static graft_status
matmul_setup (graft_op_context *c, graft_error *error)
{
  c->state->matmul = (graft_matmul_params) { *c->input_shapes[0], *c->input_shapes[1] };
  return graft_matmul_setup (&c->state->matmul, error);
}

static void
matmul_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs_output;
  needs[0] = wants[1];
  needs[1] = wants[0];
}

/* With a fused bias Add and Gelu (plan.c's is_bias_add): the Linear layer in one pass. */
static void
matmul_forward (const graft_op_context *c)
{
  if (c->bias != NULL)
    graft_matmul_forward_bias (&c->state->matmul, c->inputs[0], c->inputs[1], c->bias, c->gelu != NULL,
                               c->gelu != NULL ? *c->gelu : GRAFT_GELU_ERF, c->output);
  else
    graft_matmul_forward (&c->state->matmul, c->inputs[0], c->inputs[1], c->output);
}

static void
matmul_backward (const graft_op_context *c)
{
  graft_matmul_backward (&c->state->matmul, c->inputs[0], c->inputs[1], c->dy, c->gradients[0], c->gradients[1]);
}

const graft_op_descriptor graft_matmul_descriptor = {
  .name = "MatMul",
  .min_inputs = 2, .max_inputs = 2,
  .fuses_bias = true,
  .infer_shape = matmul_infer_shape,
  .setup = matmul_setup,
  .backward_needs = matmul_backward_needs,
  .forward = matmul_forward,
  .backward = matmul_backward,
};

#ifdef GRAFT_HAVE_ONEDNN
static void
matmul_forward_onednn (const graft_op_context *c)
{
  if (c->bias != NULL)
    graft_matmul_forward_bias_onednn (&c->state->matmul, c->inputs[0], c->inputs[1], c->bias, c->gelu != NULL,
                                      c->gelu != NULL ? *c->gelu : GRAFT_GELU_ERF, c->output);
  else
    graft_matmul_forward_onednn (&c->state->matmul, c->inputs[0], c->inputs[1], c->output);
}

static void
matmul_backward_onednn (const graft_op_context *c)
{
  graft_matmul_backward_onednn (&c->state->matmul, c->inputs[0], c->inputs[1], c->dy, c->gradients[0],
                                c->gradients[1]);
}

const graft_op_descriptor graft_onednn_matmul_descriptor = {
  .name = "MatMul",
  .min_inputs = 2, .max_inputs = 2,
  .fuses_bias = true,
  .infer_shape = matmul_infer_shape,
  .setup = matmul_setup,
  .backward_needs = matmul_backward_needs,
  .forward = matmul_forward_onednn,
  .backward = matmul_backward_onednn,
};
#endif

/* ------------------------------------------------------------------------ */
/* Softmax on any axis: x                                                     */

static graft_status
softmax_axis_infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out,
                          graft_error *error)
{
  if (resolve_axis (node->attributes.softmax_axis.axis, in[0]->rank) < 0)
    return transformer_shape_error (error, node, "has an axis outside its input", in[0]);
  *out = *in[0];
  return GRAFT_OK;
}

static graft_status
softmax_axis_setup (graft_op_context *c, graft_error *error)
{
  const graft_shape *x = c->input_shapes[0];
  int axis = resolve_axis (c->node->attributes.softmax_axis.axis, x->rank);
  (void) error;
  c->state->softmax_axis.outer = c->state->softmax_axis.inner = 1;
  for (int d = 0; d < x->rank; d++)
    if (d < axis)
      c->state->softmax_axis.outer *= (size_t) x->dims[d];
    else if (d > axis)
      c->state->softmax_axis.inner *= (size_t) x->dims[d];
  c->state->softmax_axis.axis = (size_t) x->dims[axis];
  return GRAFT_OK;
}

static void
softmax_axis_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) c;
  (void) needs;
  *needs_output = wants[0];
}

static void
softmax_axis_forward (const graft_op_context *c)
{
  graft_softmax_axis_forward (c->state->softmax_axis.outer, c->state->softmax_axis.axis, c->state->softmax_axis.inner,
                              c->inputs[0], c->output);
}

static void
softmax_axis_backward (const graft_op_context *c)
{
  graft_softmax_axis_backward (c->state->softmax_axis.outer, c->state->softmax_axis.axis,
                               c->state->softmax_axis.inner, c->output, c->dy, c->gradients[0]);
}

const graft_op_descriptor graft_softmax_axis_descriptor = {
  .name = "SoftmaxAxis",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = softmax_axis_infer_shape,
  .setup = softmax_axis_setup,
  .backward_needs = softmax_axis_backward_needs,
  .forward = softmax_axis_forward,
  .backward = softmax_axis_backward,
};
