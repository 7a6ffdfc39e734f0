/* onednn-backend.c: the layout decision and the oneDNN descriptors of a plan
 * (onednn-backend.h). The kernels are onednn.c's; this file wires them to op-table.h. */
#include "engine/onednn-backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/matmul.h"
#include "engine/onednn.h"
#include "engine/simd.h"

struct graft_onednn_backend {
  graft_op_backend ops;
  const graft_graph *graph;
  bool training, unfused;
  bool bf16;        /* GRAFT_PLAN_PRECISION_BF16: convolutions in bf16 (onednn.h) */
  int bf16_convs;   /* how many of the plan's convolutions do */
  int n_values;
  bool *blocked;
  /* Per node output: the built-in descriptor of a node that reads a blocked value
   * while running plain, wrapped with the reorders at its edge (edge_descriptor). */
  graft_op_descriptor *edges;
};

/* ------------------------------------------------------------------------ */
/* The layout decision                                                       */

static bool
spatial_4d (const graft_shape *s)
{
  return s->rank == 4 && s->dims[2] * s->dims[3] > 1;
}

static bool
is_channel_scale (const graft_shape *big, const graft_shape *small)
{
  return big->rank == 4 && small->rank == 4 && small->dims[0] == big->dims[0] && small->dims[1] == big->dims[1]
         && small->dims[2] == 1 && small->dims[3] == 1 && spatial_4d (big);
}

/* The activations whose f(0) is 0, so that they keep the padding channels zero. */
static bool
keeps_zero (const graft_activation_params *a)
{
  switch (a->kind)
    {
    case GRAFT_ACTIVATION_RELU:
    case GRAFT_ACTIVATION_LEAKY_RELU:
    case GRAFT_ACTIVATION_HARD_SWISH:
    case GRAFT_ACTIVATION_SWISH:
      return true;
    case GRAFT_ACTIVATION_CLIP:
      return a->alpha <= 0 && a->beta >= 0;
    default:
      return false;
    }
}

static bool
pool_supported (const graft_graph *graph, const graft_node *node)
{
  const graft_shape *x = &graft_graph_value (graph, node->inputs[0])->shape;
  graft_pool2d_params p = graft_node_pool2d_params (node, x);
  graft_error error;
  int pad_b, pad_r;
  if (graft_pool2d_setup (&p, &error) != GRAFT_OK)
    return false;
  pad_b = (p.oh - 1) * p.stride_h + p.kh - p.h - p.pad_top;
  pad_r = (p.ow - 1) * p.stride_w + p.kw - p.w - p.pad_left;
  /* What graft_onednn_pool_new refuses. */
  return node->attributes.op == GRAFT_OP_MAXPOOL || !p.count_include_pad
         || (pad_b <= p.pad_bottom && pad_r <= p.pad_right);
}

static int
concat_axis (const graft_node *node, int rank)
{
  int axis = node->attributes.concat.axis;
  return axis < 0 ? axis + rank : axis;
}

/* Whether the value's first dimension is the batch (an activation or the input): the
 * graph's shapes are at batch 1, where a constant (1,C,1,1) looks like a per-sample
 * (N,C,1,1) scale and a constant (1,C,H,W) like an operand of an elementwise Add. */
static bool
per_sample (const graft_graph *graph, int v)
{
  graft_value_kind kind = graft_graph_value (graph, v)->kind;
  return kind == GRAFT_VALUE_ACTIVATION || kind == GRAFT_VALUE_INPUT;
}

static bool can_block_output (const graft_graph *graph, const graft_node *node);

/* A Transpose from channels last (ConvNeXt's, after each block's MLP and each
 * LayerNorm2d) of a value that runs plain (the input, or a node's that cannot block its
 * output): it writes the blocked layout directly, and the layer scale, the residual Add
 * and the next convolution after it stay blocked. */
static bool
from_channels_last (const graft_graph *graph, const graft_node *node)
{
  const int *perm = node->attributes.transpose.perm;
  const graft_value *x = graft_graph_value (graph, node->inputs[0]);
  if (node->attributes.op != GRAFT_OP_TRANSPOSE || x->shape.rank != 4 || perm[0] != 0 || perm[1] != 3 || perm[2] != 1
      || perm[3] != 2)
    return false;
  return x->kind != GRAFT_VALUE_ACTIVATION || !can_block_output (graph, graft_graph_node (graph, x->producer));
}

/* Which input of a Mul is a per-channel factor shared by every sample, (C,1,1) or
 * (1,C,1,1), a parameter or constant (ConvNeXt's layer scale), times an activation
 * (N,C,H,W); -1 when none is. */
static int
layer_scale_input (const graft_graph *graph, const graft_node *node)
{
  if (node->attributes.op != GRAFT_OP_MUL || node->n_inputs != 2)
    return -1;
  for (int k = 0; k < 2; k++)
    {
      const graft_shape *x = &graft_graph_value (graph, node->inputs[1 - k])->shape;
      const graft_shape *s = &graft_graph_value (graph, node->inputs[k])->shape;
      if (per_sample (graph, node->inputs[k]) || !per_sample (graph, node->inputs[1 - k]) || !spatial_4d (x))
        continue;
      if ((s->rank == 3 && s->dims[0] == x->dims[1] && s->dims[1] == 1 && s->dims[2] == 1)
          || (s->rank == 4 && s->dims[0] == 1 && s->dims[1] == x->dims[1] && s->dims[2] == 1 && s->dims[3] == 1))
        return k;
    }
  return -1;
}

/* Whether the node can run in the backend with a blocked output, given the graph. */
static bool
can_block_output (const graft_graph *graph, const graft_node *node)
{
  const graft_shape *y = &graft_graph_value (graph, node->output)->shape;
  int block = graft_onednn_block ();

  if (!spatial_4d (y))
    return false;
  switch (node->attributes.op)
    {
    case GRAFT_OP_CONV:
    case GRAFT_OP_BATCHNORM:
      return true;
    case GRAFT_OP_ACTIVATION:
      return true;
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      return pool_supported (graph, node);
    case GRAFT_OP_ADD:
      return per_sample (graph, node->inputs[0]) && per_sample (graph, node->inputs[1])
             && graft_shape_equal (&graft_graph_value (graph, node->inputs[0])->shape,
                                   &graft_graph_value (graph, node->inputs[1])->shape);
    case GRAFT_OP_TRANSPOSE:
      return from_channels_last (graph, node);
    case GRAFT_OP_MUL:
      if (layer_scale_input (graph, node) >= 0)
        return true;
      if (!per_sample (graph, node->inputs[0]) || !per_sample (graph, node->inputs[1]))
        return false;
      {
        const graft_shape *a = &graft_graph_value (graph, node->inputs[0])->shape;
        const graft_shape *b = &graft_graph_value (graph, node->inputs[1])->shape;
        return graft_shape_equal (a, b) || is_channel_scale (a, b) || is_channel_scale (b, a);
      }
    case GRAFT_OP_CONCAT:
      if (concat_axis (node, y->rank) != 1)
        return false;
      for (int k = 0; k + 1 < node->n_inputs; k++)
        if (graft_graph_value (graph, node->inputs[k])->shape.dims[1] % block != 0)
          return false;
      return true;
    default:
      return false;
    }
}

/* Which inputs of a node whose output is blocked must be blocked too (the others are
 * parameters, or the plain (N,C,1,1) scale of a Mul, or a Conv's plain image). */
static bool
input_must_be_blocked (const graft_graph *graph, const graft_node *node, int k)
{
  const graft_shape *x = &graft_graph_value (graph, node->inputs[k])->shape;
  switch (node->attributes.op)
    {
    case GRAFT_OP_CONV:
      return k == 0;
    case GRAFT_OP_BATCHNORM:
    case GRAFT_OP_ACTIVATION:
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      return k == 0;
    case GRAFT_OP_MUL:
      return spatial_4d (x);
    case GRAFT_OP_TRANSPOSE:
      return false;
    default:
      return true;
    }
}

static void
decide_layouts (graft_onednn_backend *b)
{
  const graft_graph *graph = b->graph;
  int n_nodes = graft_graph_node_count (graph);
  bool changed = true;

  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      b->blocked[node->output] = can_block_output (graph, node);
    }
  /* Only ever from blocked to plain, so it ends. Kept values may stay blocked: the
   * plan hands them out in plain layout. The layout changes where a node that the
   * backend does not run reads a blocked value: a reorder at that edge. */
  while (changed)
    {
      changed = false;
      for (int i = 0; i < n_nodes; i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          bool out = b->blocked[node->output];
          for (int k = 0; k < node->n_inputs; k++)
            {
              int v = node->inputs[k];
              graft_value_kind kind = graft_graph_value (graph, v)->kind;
              if (kind != GRAFT_VALUE_ACTIVATION && kind != GRAFT_VALUE_INPUT)
                continue;
              /* A blocked value read by a node that runs plain stays blocked: that
               * node reads it through a plain copy (edge_descriptor), so that plain
               * layout does not spread up the network from a Flatten or an
               * unaligned Concat. */
              if (!b->blocked[v] && out && input_must_be_blocked (graph, node, k)
                  && !(node->attributes.op == GRAFT_OP_CONV && k == 0))
                {
                  /* A plain input where the node would want a blocked one: the node runs
                   * plain (a Conv reads a plain input, reordering it when it is not the
                   * image). */
                  b->blocked[node->output] = false;
                  changed = true;
                  break;
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Descriptors                                                               */

static graft_status
infer_shape (const graft_node *node, const graft_shape *const *in, graft_shape *out, graft_error *error)
{
  return graft_node_infer_shape (node, in, out, error);
}

/* The plan this descriptor serves: every node context's backend state starts with it. */
typedef struct {
  const graft_onednn_backend *backend;
} node_header;

/* After a fused activation whose f(0) is not 0: the padding channels back to zeros. */
static void
zero_padding_after (const graft_op_context *c)
{
  const graft_shape *y = c->output_shape;
  if (c->activation != NULL && !keeps_zero (c->activation))
    graft_onednn_zero_padding ((int) y->dims[0], (int) y->dims[1], (int) y->dims[2], (int) y->dims[3],
                               c->activation_output);
}

/* Whether the node's output is read by an Add whose output is blocked (so both its
 * operands are): a Conv or BatchNorm can then do that Add in its pass (the plan decides
 * whether it does: fuses_add). */
static bool
adds_after (const graft_onednn_backend *b, const graft_node *node)
{
  for (int i = 0; i < graft_graph_node_count (b->graph); i++)
    {
      const graft_node *add = graft_graph_node (b->graph, i);
      if (add->attributes.op == GRAFT_OP_ADD && add->n_inputs == 2 && b->blocked[add->output]
          && (add->inputs[0] == node->output || add->inputs[1] == node->output))
        return true;
    }
  return false;
}

/* Conv ------------------------------------------------------------------- */

typedef struct {
  node_header header;
  graft_conv2d_params p;
  graft_onednn_conv_config config;
  graft_onednn_conv *conv;
  graft_onednn_conv *fused;   /* forward with the activation as a post-op, made at the first fused forward */
  graft_activation_kind fused_kind;
  bool fused_tried;
  /* forward with a fused Add's residual as a post-op (and the activation, where
   * residual_activation), made at the first such forward */
  graft_onednn_conv *residual_conv;
  bool residual_tried, residual_activation;
  /* A plain input that is not the image (a graph input deep in a network, as the
   * boundary cache's suffix has): reordered into scratch, past the convolution's own. */
  bool reorder_src;
  size_t src_offset, dx_offset, src_floats;
} conv_node;

/* Set by descriptor_for for the setup that follows it (plans may be made on several
 * threads at once). */
static _Thread_local const graft_onednn_backend *current;

/* A node's state of size bytes (a struct that starts with a node_header), zeroed, for
 * the plan being set up, and set as c->state->backend so that the release frees it
 * whatever the setup does next; NULL with error when out of memory. */
static void *
node_new (graft_op_context *c, size_t size, graft_error *error)
{
  node_header *header = calloc (1, size);
  if (header == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  header->backend = current;
  c->state->backend = header;
  return header;
}

static bool
value_trainable (const graft_graph *graph, int v)
{
  const graft_value *value = graft_graph_value (graph, v);
  return value->kind == GRAFT_VALUE_PARAMETER && value->trainable;
}

/* How many node inputs read value v. */
static int
readers (const graft_graph *graph, int v)
{
  int count = 0;
  for (int i = 0; i < graft_graph_node_count (graph); i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        count += node->inputs[k] == v;
    }
  return count;
}

static graft_status
conv_setup (graft_op_context *c, graft_error *error)
{
  const graft_onednn_backend *b = current;
  const graft_graph *graph = b->graph;
  const graft_node *node = c->node;
  bool has_bias = node->n_inputs > 2;
  conv_node *cn = node_new (c, sizeof *cn, error);

  if (cn == NULL)
    return GRAFT_ERROR_OUT_OF_MEMORY;
  cn->p = graft_node_conv2d_params (node, c->input_shapes[0], c->input_shapes[1]);
  if (graft_conv2d_setup (&cn->p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  cn->config = (graft_onednn_conv_config) {
    .src_blocked = b->blocked[node->inputs[0]],
    .dst_blocked = true,
    .bias = has_bias,
    .backward_data = b->training && graft_graph_value (graph, node->inputs[0])->kind == GRAFT_VALUE_ACTIVATION,
    .backward_weights = b->training && (value_trainable (graph, node->inputs[1])
                                        || (has_bias && value_trainable (graph, node->inputs[2]))),
  };
  /* The plan overwrites dx (set_dx) when this node is its only writer, but in an
   * unfused plan. */
  cn->config.accumulate_dx = cn->config.backward_data && (b->unfused || readers (graph, node->inputs[0]) > 1);
  /* Frozen weights in a training plan do not change while it lives: reordered once. */
  cn->config.constant_weights = b->training && !cn->config.backward_weights;
  cn->config.bf16 = b->bf16;
  cn->reorder_src = !cn->config.src_blocked && cn->p.c > 4;
  if (cn->reorder_src)
    cn->config.src_blocked = true;
  cn->conv = graft_onednn_conv_new (&cn->p, &cn->config, error);
  if (cn->conv == NULL)
    return error != NULL ? error->status : GRAFT_ERROR_UNSUPPORTED;
  /* The count is the backend's, made for this plan and set up on this thread. */
  ((graft_onednn_backend *) b)->bf16_convs += graft_onednn_conv_is_bf16 (cn->conv);
  graft_size_align_floats (graft_onednn_conv_scratch_floats (cn->conv), &cn->src_offset);
  c->scratch_floats = cn->src_offset;
  if (cn->reorder_src)
    {
      graft_size_align_floats (graft_onednn_blocked_floats (cn->p.n, cn->p.c, cn->p.h, cn->p.w), &cn->src_floats);
      cn->dx_offset = cn->src_offset + cn->src_floats;
      c->scratch_floats = cn->dx_offset + (cn->config.backward_data ? cn->src_floats : 0);
    }
  return GRAFT_OK;
}

static void
conv_release (graft_op_context *c)
{
  conv_node *cn = c->state->backend;
  if (cn == NULL)
    return;
  graft_onednn_conv_free (cn->conv);
  graft_onednn_conv_free (cn->fused);
  graft_onednn_conv_free (cn->residual_conv);
  free (cn);
  c->state->backend = NULL;
}

/* With a fused Add (ResNet's and MobileNetV2's residual in graphs without BatchNorm): the
 * residual as oneDNN's binary post-op, and the activation after it where oneDNN gives the
 * same bits and its backward does not read the sum; else the convolution into the sum's
 * buffer, the Add over it, then the activation. */
static void
conv_forward_residual (const graft_op_context *c, conv_node *cn, const float *x, const float *bias)
{
  const graft_activation_params *act = c->activation;
  bool post_activation = act != NULL && c->pre_activation == NULL && graft_onednn_conv_fuses (act->kind);
  float *sum = act == NULL ? c->output : c->pre_activation != NULL ? c->pre_activation : c->activation_output;

  if (!cn->residual_tried)
    {
      graft_onednn_conv_config config = cn->config;
      config.residual = true;
      config.activation = post_activation ? act : NULL;
      config.training = config.backward_data || config.backward_weights;
      config.backward_data = config.backward_weights = false;
      cn->residual_conv = graft_onednn_conv_new (&cn->p, &config, NULL);
      /* Its weights are reordered into the scratch that setup asked for. */
      if (cn->residual_conv != NULL && graft_onednn_conv_scratch_floats (cn->residual_conv) > cn->src_offset)
        {
          graft_onednn_conv_free (cn->residual_conv);
          cn->residual_conv = NULL;
        }
      cn->residual_tried = true;
      cn->residual_activation = post_activation;
    }
  if (cn->residual_conv != NULL && cn->residual_activation)
    {
      graft_onednn_conv_forward_add (cn->residual_conv, x, c->inputs[1], bias, c->residual, c->activation_output,
                                     c->scratch);
      return;
    }
  if (cn->residual_conv != NULL)
    graft_onednn_conv_forward_add (cn->residual_conv, x, c->inputs[1], bias, c->residual, sum, c->scratch);
  else
    {
      graft_onednn_conv_forward (cn->conv, x, c->inputs[1], bias, sum, c->scratch);
      graft_onednn_add_into (c->output_count, c->residual, sum);
    }
  if (act != NULL)
    {
      graft_activation_forward (act, c->output_count, sum, c->activation_output);
      zero_padding_after (c);
    }
}

static void
conv_forward (const graft_op_context *c)
{
  conv_node *cn = c->state->backend;
  const float *bias = c->node->n_inputs > 2 ? c->inputs[2] : NULL;
  const float *x = c->inputs[0];

  if (cn->reorder_src)
    {
      graft_onednn_to_blocked (cn->p.n, cn->p.c, cn->p.h, cn->p.w, x, c->scratch + cn->src_offset);
      x = c->scratch + cn->src_offset;
    }
  if (c->residual != NULL)
    {
      conv_forward_residual (c, cn, x, bias);
      return;
    }
  if (c->activation == NULL)
    {
      graft_onednn_conv_forward (cn->conv, x, c->inputs[1], bias, c->output, c->scratch);
      return;
    }
  /* The activation as a post-op, when its backward does not read the convolution's
   * output (else that output is written and the activation runs over it after). */
  if (c->pre_activation == NULL && graft_onednn_conv_fuses (c->activation->kind)
      && (!cn->fused_tried || cn->fused_kind != c->activation->kind))
    {
      graft_onednn_conv_config config = cn->config;
      config.activation = c->activation;
      config.training = config.backward_data || config.backward_weights;
      config.backward_data = config.backward_weights = false;
      graft_onednn_conv_free (cn->fused);
      cn->fused = graft_onednn_conv_new (&cn->p, &config, NULL);
      /* Its weights are reordered into the scratch that setup asked for: when they
       * would not fit there (another format), the activation runs after. */
      if (cn->fused != NULL && graft_onednn_conv_scratch_floats (cn->fused) > cn->src_offset)
        {
          graft_onednn_conv_free (cn->fused);
          cn->fused = NULL;
        }
      cn->fused_tried = true;
      cn->fused_kind = c->activation->kind;
    }
  if (c->pre_activation == NULL && cn->fused != NULL)
    {
      graft_onednn_conv_forward (cn->fused, x, c->inputs[1], bias, c->activation_output, c->scratch);
      return;
    }
  {
    float *pre = c->pre_activation != NULL ? c->pre_activation : c->activation_output;
    graft_onednn_conv_forward (cn->conv, x, c->inputs[1], bias, pre, c->scratch);
    graft_activation_forward (c->activation, c->output_count, pre, c->activation_output);
    zero_padding_after (c);
  }
}

static void
conv_backward (const graft_op_context *c)
{
  conv_node *cn = c->state->backend;
  float *dbias = c->node->n_inputs > 2 ? c->gradients[2] : NULL;
  float *dx = c->gradients[0];
  const float *x = c->inputs[0];

  if (!cn->reorder_src)
    {
      graft_onednn_conv_backward (cn->conv, x, c->inputs[1], c->dy, dx, c->set_dx, c->gradients[1], dbias,
                                  c->scratch);
      return;
    }
  if (c->gradients[1] != NULL || dbias != NULL)
    {
      graft_onednn_to_blocked (cn->p.n, cn->p.c, cn->p.h, cn->p.w, x, c->scratch + cn->src_offset);
      graft_onednn_conv_backward (cn->conv, c->scratch + cn->src_offset, c->inputs[1], c->dy, NULL, false,
                                  c->gradients[1], dbias, c->scratch);
    }
  if (dx != NULL)
    {
      float *blocked = c->scratch + cn->dx_offset;
      graft_onednn_conv_backward (cn->conv, NULL, c->inputs[1], c->dy, blocked, true, NULL, NULL, c->scratch);
      graft_onednn_to_plain (cn->p.n, cn->p.c, cn->p.h, cn->p.w, blocked, dx, !c->set_dx);
    }
}

static const graft_op_descriptor conv_descriptor = {
  .name = "Conv",
  .min_inputs = 2, .max_inputs = 3,
  .fuses_activation = true,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .setup = conv_setup,
  .backward_needs = graft_op_needs_other_factor,
  .forward = conv_forward,
  .backward = conv_backward,
  .release = conv_release,
};

/* The same, where the Add after it adds another blocked value (adds_after). */
static const graft_op_descriptor conv_add_descriptor = {
  .name = "Conv",
  .min_inputs = 2, .max_inputs = 3,
  .fuses_activation = true,
  .fuses_add = true,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .setup = conv_setup,
  .backward_needs = graft_op_needs_other_factor,
  .forward = conv_forward,
  .backward = conv_backward,
  .release = conv_release,
};

/* BatchNormalization ------------------------------------------------------ */

typedef struct {
  node_header header;
  graft_batchnorm_params p;
  graft_onednn_batchnorm *bn;
} batchnorm_node;

static graft_status
batchnorm_setup (graft_op_context *c, graft_error *error)
{
  const graft_onednn_backend *b = current;
  const graft_shape *x = c->input_shapes[0];
  batchnorm_node *bn = node_new (c, sizeof *bn, error);

  if (bn == NULL)
    return GRAFT_ERROR_OUT_OF_MEMORY;
  bn->p = (graft_batchnorm_params) {
    .n = (int) x->dims[0], .c = (int) x->dims[1], .spatial = (size_t) (x->dims[2] * x->dims[3]),
    .epsilon = c->node->attributes.batchnorm.epsilon, .momentum = c->node->attributes.batchnorm.momentum,
  };
  c->state->batchnorm = bn->p;
  if (graft_batchnorm_setup (&bn->p, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  bn->bn = graft_onednn_batchnorm_new (&bn->p, (int) x->dims[2], (int) x->dims[3],
                                       b->training && c->node->batchnorm_batch_statistics, b->training, error);
  if (bn->bn == NULL)
    return error != NULL ? error->status : GRAFT_ERROR_UNSUPPORTED;
  c->scratch_floats = graft_onednn_batchnorm_scratch_floats (bn->bn);
  return GRAFT_OK;
}

static void
batchnorm_release (graft_op_context *c)
{
  batchnorm_node *bn = c->state->backend;
  if (bn == NULL)
    return;
  graft_onednn_batchnorm_free (bn->bn);
  free (bn);
  c->state->backend = NULL;
}

static size_t
batchnorm_saved_floats (const graft_op_context *c)
{
  return c->training && c->batch_statistics ? 2 * (size_t) c->input_shapes[0]->dims[1] : 0;
}

/* oneDNN's backward reads x whatever it computes. */
static void
batchnorm_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  (void) needs_output;
  for (int i = 0; i < c->node->n_inputs; i++)
    needs[0] |= wants[i];
}

static void
batchnorm_forward (const graft_op_context *c)
{
  batchnorm_node *bn = c->state->backend;
  float *const *in = c->inputs;
  float *y = c->activation != NULL ? c->activation_output : c->output;
  graft_onednn_batchnorm_forward (bn->bn, in[0], in[1], in[2], in[3], in[4], c->residual, c->activation,
                                  c->pre_activation, y,
                                  c->saved);
  zero_padding_after (c);
}

static void
batchnorm_backward (const graft_op_context *c)
{
  batchnorm_node *bn = c->state->backend;
  float *const *in = c->inputs, *const *d = c->gradients;
  /* With the fused ReLU's and Add's backward (backward_fused): the ReLU's mask from its
   * output, the Add's other gradient in the same pass as dx. */
  const float *relu_y = c->backward_fused && c->activation != NULL ? c->activation_output : NULL;
  graft_onednn_batchnorm_backward_fused (bn->bn, in[0], in[1], in[3], in[4], c->saved, c->dy, relu_y,
                                         c->backward_fused ? c->residual_gradient : NULL, c->set_residual, d[0],
                                         c->set_dx, d[1], d[2], c->scratch);
}

static const graft_op_descriptor batchnorm_descriptor = {
  .name = "BatchNormalization",
  .min_inputs = 5, .max_inputs = 5,
  .fuses_activation = true,
  .sets_dx = true,
  .fuses_backward = true,
  .infer_shape = infer_shape,
  .setup = batchnorm_setup,
  .saved_floats = batchnorm_saved_floats,
  .backward_needs = batchnorm_backward_needs,
  .forward = batchnorm_forward,
  .backward = batchnorm_backward,
  .release = batchnorm_release,
};

/* The same, where the Add after it adds another blocked value (ResNet's shortcut): the
 * sum in BatchNorm's loop (adds_after). */
static const graft_op_descriptor batchnorm_add_descriptor = {
  .name = "BatchNormalization",
  .min_inputs = 5, .max_inputs = 5,
  .fuses_activation = true,
  .fuses_add = true,
  .sets_dx = true,
  .fuses_backward = true,
  .infer_shape = infer_shape,
  .setup = batchnorm_setup,
  .saved_floats = batchnorm_saved_floats,
  .backward_needs = batchnorm_backward_needs,
  .forward = batchnorm_forward,
  .backward = batchnorm_backward,
  .release = batchnorm_release,
};



/* MaxPool, AveragePool --------------------------------------------------- */

typedef struct {
  node_header header;
  graft_onednn_pool *pool;
  bool accumulate_dx;   /* as the convolution's: scratch holds a whole dx only then */
} pool_node;

static graft_status
pool_setup (graft_op_context *c, graft_error *error)
{
  const graft_onednn_backend *b = current;
  pool_node *pn = node_new (c, sizeof *pn, error);

  if (pn == NULL)
    return GRAFT_ERROR_OUT_OF_MEMORY;
  c->state->pool = graft_node_pool2d_params (c->node, c->input_shapes[0]);
  if (graft_pool2d_setup (&c->state->pool, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  pn->pool = graft_onednn_pool_new (&c->state->pool, c->node->attributes.op == GRAFT_OP_MAXPOOL, b->training, error);
  if (pn->pool == NULL)
    return error != NULL ? error->status : GRAFT_ERROR_UNSUPPORTED;
  pn->accumulate_dx = b->training && (b->unfused || readers (b->graph, c->node->inputs[0]) > 1);
  c->scratch_floats = pn->accumulate_dx ? graft_onednn_pool_scratch_floats (pn->pool) : 0;
  return GRAFT_OK;
}

static void
pool_release (graft_op_context *c)
{
  pool_node *pn = c->state->backend;
  if (pn == NULL)
    return;
  graft_onednn_pool_free (pn->pool);
  free (pn);
  c->state->backend = NULL;
}

static void
pool_forward (const graft_op_context *c)
{
  pool_node *pn = c->state->backend;
  graft_onednn_pool_forward (pn->pool, c->inputs[0], c->output);
}

static void
pool_backward (const graft_op_context *c)
{
  pool_node *pn = c->state->backend;
  float *own = NULL;
  if (c->gradients[0] == NULL)
    return;
  if (!c->set_dx && !pn->accumulate_dx
      && (own = graft_floats_alloc (graft_onednn_pool_scratch_floats (pn->pool))) == NULL)
    return; /* out of memory where the plan promised set_dx: not reached */
  graft_onednn_pool_backward (pn->pool, c->dy, c->gradients[0], c->set_dx, own != NULL ? own : c->scratch);
  graft_floats_free (own);
}

static const graft_op_descriptor maxpool_descriptor = {
  .name = "MaxPool",
  .min_inputs = 1, .max_inputs = 1,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .setup = pool_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = pool_forward,
  .backward = pool_backward,
  .release = pool_release,
};

static const graft_op_descriptor avgpool_descriptor = {
  .name = "AveragePool",
  .min_inputs = 1, .max_inputs = 1,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .setup = pool_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = pool_forward,
  .backward = pool_backward,
  .release = pool_release,
};

/* GlobalAveragePool: blocked in, plain (N,C) out -------------------------- */

static void
mean_spatial_forward (const graft_op_context *c)
{
  const graft_shape *x = c->input_shapes[0];
  graft_onednn_mean_spatial_forward ((int) x->dims[0], (int) x->dims[1], (size_t) (x->dims[2] * x->dims[3]),
                                     c->inputs[0], c->output);
}

static void
mean_spatial_backward (const graft_op_context *c)
{
  const graft_shape *x = c->input_shapes[0];
  if (c->gradients[0] != NULL)
    graft_onednn_mean_spatial_backward ((int) x->dims[0], (int) x->dims[1], (size_t) (x->dims[2] * x->dims[3]),
                                        c->dy, c->gradients[0]);
}

static const graft_op_descriptor mean_spatial_descriptor = {
  .name = "GlobalAveragePool",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = infer_shape,
  .backward_needs = graft_op_needs_nothing,
  .forward = mean_spatial_forward,
  .backward = mean_spatial_backward,
};

/* Add of equal shapes: elementwise over the padded count ------------------ */

/* Floats per chunk of a fused Add: the sum is still in cache when the activation reads it. */
#define ADD_CHUNK 16384

GRAFT_SIMD_DISPATCH
static void
add_chunk (size_t count, const float *a, const float *b, float *y)
{
  for (size_t i = 0; i < count; i++)
    y[i] = a[i] + b[i];
}

/* With a fused activation (ResNet's residual Add and ReLU): the sum chunk by chunk, the
 * activation over each chunk while it is in cache, into the activation's output (the
 * sum itself only where the activation's backward reads it: pre_activation). */
static void
add_forward (const graft_op_context *c)
{
  const float *a = c->inputs[0], *b = c->inputs[1];
  const graft_activation_params *act = c->activation;
  float *sum = act == NULL ? c->output : c->pre_activation != NULL ? c->pre_activation : c->activation_output;
  size_t count = c->output_count, chunks = (count + ADD_CHUNK - 1) / ADD_CHUNK;

#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t k = 0; k < chunks; k++)
    {
      size_t start = k * ADD_CHUNK, n = count - start < ADD_CHUNK ? count - start : ADD_CHUNK;
      add_chunk (n, a + start, b + start, sum + start);
      if (act != NULL)
        graft_activation_forward_serial (act, n, sum + start, c->activation_output + start);
    }
  zero_padding_after (c);
}

/* The first writer of the first input's gradient copies dy there (set_dx), instead of
 * the plan clearing the buffer for it to add to (ResNet's bn2 output, read only by the
 * residual Add). */
static void
add_backward (const graft_op_context *c)
{
  float *dx = c->gradients[0];
  const float *dy = c->dy;
  size_t count = c->output_count;

  if (dx != NULL && c->set_dx)
    {
#pragma omp parallel for schedule(static) if (count > 32768)
      for (size_t i = 0; i < count; i++)
        dx[i] = dy[i];
    }
  else if (dx != NULL)
    graft_onednn_add_into (count, dy, dx);
  if (c->gradients[1] != NULL)
    graft_onednn_add_into (count, dy, c->gradients[1]);
}

static const graft_op_descriptor add_descriptor = {
  .name = "Add",
  .min_inputs = 2, .max_inputs = 2,
  .fuses_activation = true,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .backward_needs = graft_op_needs_nothing,
  .forward = add_forward,
  .backward = add_backward,
};

/* The activations whose f(0) is not 0 (Sigmoid, HardSigmoid): the built-in kernels
 * over the padded count, then zeros back into the padding channels. */

static void
activation_forward (const graft_op_context *c)
{
  const graft_shape *y = c->output_shape;
  graft_op_descriptor_for (GRAFT_OP_ACTIVATION)->forward (c);
  graft_onednn_zero_padding ((int) y->dims[0], (int) y->dims[1], (int) y->dims[2], (int) y->dims[3], c->output);
}

static void
activation_backward (const graft_op_context *c)
{
  graft_op_descriptor_for (GRAFT_OP_ACTIVATION)->backward (c);
}

static void
activation_backward_needs (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output)
{
  graft_op_descriptor_for (GRAFT_OP_ACTIVATION)->backward_needs (c, wants, needs, needs_output);
}

static const graft_op_descriptor activation_descriptor = {
  .name = "Activation",
  .min_inputs = 1, .max_inputs = 1,
  .sets_dx = true,
  .infer_shape = infer_shape,
  .backward_needs = activation_backward_needs,
  .forward = activation_forward,
  .backward = activation_backward,
};

/* Mul: a blocked (N,C,H,W) by a plain (N,C,1,1), either way round, or two blocked
 * values of one shape (Swish's x * sigmoid(x)) over the padded count -------- */

GRAFT_SIMD_DISPATCH
static void
mul_same_forward (size_t count, const float *a, const float *b, float *y)
{
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++)
    y[i] = a[i] * b[i];
}

GRAFT_SIMD_DISPATCH
static void
mul_same_backward (size_t count, const float *a, const float *b, const float *dy, float *da, float *db)
{
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++)
    {
      float g = dy[i];
      if (da != NULL)
        da[i] += g * b[i];
      if (db != NULL)
        db[i] += g * a[i];
    }
}

static void
mul_forward (const graft_op_context *c)
{
  int big = spatial_4d (c->input_shapes[0]) ? 0 : 1;
  const graft_shape *x = c->input_shapes[big];
  if (graft_shape_equal (c->input_shapes[0], c->input_shapes[1]))
    {
      mul_same_forward (c->output_count, c->inputs[0], c->inputs[1], c->output);
      return;
    }
  graft_onednn_scale_channels_forward ((int) x->dims[0], (int) x->dims[1], (size_t) (x->dims[2] * x->dims[3]),
                                       c->inputs[big], c->inputs[1 - big], c->output);
}

static void
mul_backward (const graft_op_context *c)
{
  int big = spatial_4d (c->input_shapes[0]) ? 0 : 1;
  const graft_shape *x = c->input_shapes[big];
  if (graft_shape_equal (c->input_shapes[0], c->input_shapes[1]))
    {
      /* x * x: both gradients land in one buffer, one after the other. */
      mul_same_backward (c->output_count, c->inputs[0], c->inputs[1], c->dy, c->gradients[0], NULL);
      mul_same_backward (c->output_count, c->inputs[0], c->inputs[1], c->dy, NULL, c->gradients[1]);
      return;
    }
  graft_onednn_scale_channels_backward ((int) x->dims[0], (int) x->dims[1], (size_t) (x->dims[2] * x->dims[3]),
                                        c->inputs[big], c->inputs[1 - big], c->dy, c->gradients[big],
                                        c->gradients[1 - big]);
}

static const graft_op_descriptor mul_descriptor = {
  .name = "Mul",
  .min_inputs = 2, .max_inputs = 2,
  .infer_shape = infer_shape,
  .backward_needs = graft_op_needs_other_factor,
  .writes_over_input = true,
  .forward = mul_forward,
  .backward = mul_backward,
};

/* Mul by a layer scale (layer_scale_input): the factor copied for each sample into
 * scratch, then the (N,C,1,1) kernels; its gradient summed over the samples in order. */

static graft_status
mul_scale_setup (graft_op_context *c, graft_error *error)
{
  int big = spatial_4d (c->input_shapes[0]) ? 0 : 1;
  const graft_shape *x = c->input_shapes[big];
  (void) error;
  c->scratch_floats = 2 * (size_t) x->dims[0] * (size_t) x->dims[1];
  return GRAFT_OK;
}

static void
mul_scale_expand (const graft_op_context *c, int big)
{
  const graft_shape *x = c->input_shapes[big];
  size_t channels = (size_t) x->dims[1];
  for (int64_t i = 0; i < x->dims[0]; i++)
    memcpy (c->scratch + (size_t) i * channels, c->inputs[1 - big], channels * sizeof (float));
}

/* y = x * g + r over one channel block of spatial positions: the Mul's product rounded,
 * then the Add's sum, as the two nodes would. */
GRAFT_SIMD_DISPATCH
static void
scale_add_block (size_t spatial, size_t b, const float *x, const float *g, const float *r, float *y)
{
  for (size_t k = 0; k < spatial; k++)
    for (size_t l = 0; l < b; l++)
      y[k * b + l] = x[k * b + l] * g[l] + r[k * b + l];
}

/* With the residual Add after it (fuses_add: ConvNeXt's block output, the layer scale's
 * product plus the block's input): one pass, block by block, then the activation after
 * the Add where the plan fused one. */
static void
mul_scale_forward (const graft_op_context *c)
{
  int big = spatial_4d (c->input_shapes[0]) ? 0 : 1;
  const graft_shape *x = c->input_shapes[big];
  const graft_activation_params *act = c->activation;
  size_t b = (size_t) graft_onednn_block (), channels = (size_t) x->dims[1], blocks = (channels + b - 1) / b;
  size_t spatial = (size_t) (x->dims[2] * x->dims[3]);
  float *sum = act == NULL ? c->output : c->pre_activation != NULL ? c->pre_activation : c->activation_output;

  mul_scale_expand (c, big);
  if (c->residual == NULL)
    {
      graft_onednn_scale_channels_forward ((int) x->dims[0], (int) channels, spatial, c->inputs[big], c->scratch,
                                           c->output);
      return;
    }
#pragma omp parallel for schedule(static) collapse(2)
  for (long i = 0; i < (long) x->dims[0]; i++)
    for (long cb = 0; cb < (long) blocks; cb++)
      {
        size_t offset = ((size_t) i * blocks + (size_t) cb) * spatial * b;
        float g[16] = { 0 };
        for (size_t l = 0; l < b && (size_t) cb * b + l < channels; l++)
          g[l] = c->scratch[(size_t) i * channels + (size_t) cb * b + l];
        scale_add_block (spatial, b, c->inputs[big] + offset, g, c->residual + offset, sum + offset);
        if (act != NULL)
          graft_activation_forward_serial (act, spatial * b, sum + offset, c->activation_output + offset);
      }
  zero_padding_after (c);
}

static void
mul_scale_backward (const graft_op_context *c)
{
  int big = spatial_4d (c->input_shapes[0]) ? 0 : 1;
  const graft_shape *x = c->input_shapes[big];
  size_t n = (size_t) x->dims[0], channels = (size_t) x->dims[1];
  float *ds = c->scratch + n * channels, *gradient = c->gradients[1 - big];

  mul_scale_expand (c, big);
  if (gradient != NULL)
    memset (ds, 0, n * channels * sizeof (float));
  graft_onednn_scale_channels_backward ((int) n, (int) channels, (size_t) (x->dims[2] * x->dims[3]), c->inputs[big],
                                        c->scratch, c->dy, c->gradients[big], gradient != NULL ? ds : NULL);
  if (gradient != NULL)
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < channels; j++)
        gradient[j] += ds[i * channels + j];
}

static const graft_op_descriptor mul_scale_descriptor = {
  .name = "Mul",
  .min_inputs = 2, .max_inputs = 2,
  .fuses_add = true,
  .infer_shape = infer_shape,
  .setup = mul_scale_setup,
  .backward_needs = graft_op_needs_other_factor,
  .forward = mul_scale_forward,
  .backward = mul_scale_backward,
};

/* Transpose from channels last (from_channels_last): plain (N,H,W,C) in, blocked out. */

static void
transpose_blocked_forward (const graft_op_context *c)
{
  const graft_shape *y = c->output_shape;
  graft_onednn_from_channels_last ((int) y->dims[0], (int) y->dims[1], (int) y->dims[2], (int) y->dims[3],
                                   c->inputs[0], c->output);
}

static void
transpose_blocked_backward (const graft_op_context *c)
{
  const graft_shape *y = c->output_shape;
  if (c->gradients[0] != NULL)
    graft_onednn_to_channels_last ((int) y->dims[0], (int) y->dims[1], (int) y->dims[2], (int) y->dims[3], c->dy,
                                   c->gradients[0], true);
}

static const graft_op_descriptor transpose_blocked_descriptor = {
  .name = "Transpose",
  .min_inputs = 1, .max_inputs = 1,
  .infer_shape = infer_shape,
  .backward_needs = graft_op_needs_nothing,
  .forward = transpose_blocked_forward,
  .backward = transpose_blocked_backward,
};

/* Concat of channels ------------------------------------------------------ */

typedef struct {
  node_header header;
  int *channels;
} concat_node;

static graft_status
concat_setup (graft_op_context *c, graft_error *error)
{
  concat_node *cn = node_new (c, sizeof *cn, error);
  if (cn == NULL)
    return GRAFT_ERROR_OUT_OF_MEMORY;
  if ((cn->channels = calloc ((size_t) c->node->n_inputs, sizeof (int))) == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory");   /* concat_release frees cn */
  for (int k = 0; k < c->node->n_inputs; k++)
    cn->channels[k] = (int) c->input_shapes[k]->dims[1];
  return GRAFT_OK;
}

static void
concat_release (graft_op_context *c)
{
  concat_node *cn = c->state->backend;
  if (cn == NULL)
    return;
  free (cn->channels);
  free (cn);
  c->state->backend = NULL;
}

static void
concat_forward (const graft_op_context *c)
{
  concat_node *cn = c->state->backend;
  const graft_shape *y = c->output_shape;
  graft_onednn_concat_forward ((int) y->dims[0], (size_t) (y->dims[2] * y->dims[3]), c->node->n_inputs, cn->channels,
                               (const float *const *) c->inputs, c->output);
}

static void
concat_backward (const graft_op_context *c)
{
  concat_node *cn = c->state->backend;
  const graft_shape *y = c->output_shape;
  graft_onednn_concat_backward ((int) y->dims[0], (size_t) (y->dims[2] * y->dims[3]), c->node->n_inputs,
                                cn->channels, c->dy, c->gradients);
}

static const graft_op_descriptor concat_descriptor = {
  .name = "Concat",
  .min_inputs = 1, .max_inputs = GRAFT_OP_ANY_INPUTS,
  .infer_shape = infer_shape,
  .setup = concat_setup,
  .backward_needs = graft_op_needs_nothing,
  .forward = concat_forward,
  .backward = concat_backward,
  .release = concat_release,
};

/* A node the backend does not run that reads blocked values -------------- */

/* Its built-in descriptor, run on plain copies of its blocked inputs made in scratch
 * past the built-in's own scratch; in backward, the gradients of those inputs are
 * computed plain there and reordered into the blocked gradients (added, or written
 * when the node is the first writer). The copy that backward reads is made again
 * from the blocked value, which the plan keeps for it: no memory beyond scratch. */
typedef struct {
  node_header header;
  const graft_op_descriptor *inner;
  int n_inputs;
  bool *reordered;
  size_t *copy_offset, *grad_offset;   /* floats into scratch */
} edge_node;

static void
edge_reorder_dims (const graft_shape *s, int *d)
{
  for (int k = 0; k < 4; k++)
    d[k] = (int) s->dims[k];
}

static graft_status
edge_setup (graft_op_context *c, graft_error *error)
{
  const graft_onednn_backend *b = current;
  const graft_node *node = c->node;
  edge_node *en = calloc (1, sizeof *en);
  size_t at;

  if (en == NULL || (en->reordered = calloc ((size_t) node->n_inputs, sizeof (bool))) == NULL
      || (en->copy_offset = calloc ((size_t) node->n_inputs, sizeof (size_t))) == NULL
      || (en->grad_offset = calloc ((size_t) node->n_inputs, sizeof (size_t))) == NULL)
    {
      if (en != NULL)
        {
          free (en->reordered);
          free (en->copy_offset);
        }
      free (en);
      return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory");
    }
  en->header.backend = b;
  en->inner = graft_op_descriptor_for (node->attributes.op);
  en->n_inputs = node->n_inputs;
  c->state->backend = en;   /* edge_release frees it, and what the built-in setup made */
  if (en->inner->setup != NULL && en->inner->setup (c, error) != GRAFT_OK)
    return error != NULL ? error->status : GRAFT_ERROR_SHAPE;
  graft_size_align_floats (c->scratch_floats, &at);
  for (int k = 0; k < node->n_inputs; k++)
    {
      const graft_shape *x = c->input_shapes[k];
      size_t count;
      if (!b->blocked[node->inputs[k]])
        continue;
      en->reordered[k] = true;
      graft_size_align_floats ((size_t) (x->dims[0] * x->dims[1] * x->dims[2] * x->dims[3]), &count);
      en->copy_offset[k] = at;
      at += count;
      if (b->training)
        {
          en->grad_offset[k] = at;
          at += count;
        }
    }
  c->scratch_floats = at;
  return GRAFT_OK;
}

static void
edge_release (graft_op_context *c)
{
  edge_node *en = c->state->backend;
  if (en == NULL)
    return;
  c->state->backend = NULL;
  if (en->inner->release != NULL)
    en->inner->release (c);
  free (en->reordered);
  free (en->copy_offset);
  free (en->grad_offset);
  free (en);
}

static void
edge_forward (const graft_op_context *c)
{
  edge_node *en = c->state->backend;
  graft_op_context inner = *c;
  float *inputs[en->n_inputs];

  for (int k = 0; k < en->n_inputs; k++)
    {
      int d[4];
      inputs[k] = c->inputs[k];
      if (!en->reordered[k])
        continue;
      inputs[k] = c->scratch + en->copy_offset[k];
      edge_reorder_dims (c->input_shapes[k], d);
      graft_onednn_to_plain (d[0], d[1], d[2], d[3], c->inputs[k], inputs[k], false);
    }
  inner.inputs = inputs;
  inner.state = c->state;
  en->inner->forward (&inner);
}

static void
edge_backward (const graft_op_context *c)
{
  edge_node *en = c->state->backend;
  int n = en->n_inputs;
  graft_op_context inner = *c;
  float *inputs[n], *gradients[n];
  bool wants[n], needs[n], needs_output = false;

  /* Every wrapped op has an input; saying so lets GCC see the arrays filled. */
  if (n < 1)
    return;
  for (int k = 0; k < n; k++)
    {
      wants[k] = c->gradients[k] != NULL;
      needs[k] = false;
    }
  en->inner->backward_needs (c, wants, needs, &needs_output);
  inner.set_dx = c->set_dx;
  for (int k = 0; k < n; k++)
    {
      int d[4];
      inputs[k] = c->inputs[k];
      gradients[k] = c->gradients[k];
      if (!en->reordered[k])
        continue;
      edge_reorder_dims (c->input_shapes[k], d);
      inputs[k] = c->scratch + en->copy_offset[k];
      if (needs[k])
        graft_onednn_to_plain (d[0], d[1], d[2], d[3], c->inputs[k], inputs[k], false);
      if (gradients[k] == NULL)
        continue;
      gradients[k] = c->scratch + en->grad_offset[k];
      /* The plain gradient starts from zero, or the built-in's overwriting form
       * writes it whole. */
      if (k == 0 && en->inner->sets_dx)
        inner.set_dx = true;
      else
        memset (gradients[k], 0, (size_t) d[0] * (size_t) d[1] * (size_t) d[2] * (size_t) d[3] * sizeof (float));
    }
  inner.inputs = inputs;
  inner.gradients = gradients;
  en->inner->backward (&inner);
  for (int k = 0; k < n; k++)
    {
      int d[4];
      if (!en->reordered[k] || c->gradients[k] == NULL)
        continue;
      edge_reorder_dims (c->input_shapes[k], d);
      if (k == 0 && c->set_dx)
        graft_onednn_to_blocked (d[0], d[1], d[2], d[3], gradients[k], c->gradients[k]);
      else
        graft_onednn_add_plain (d[0], d[1], d[2], d[3], gradients[k], c->gradients[k]);
    }
}

/* A Transpose to channels last (ConvNeXt's, after each depthwise convolution) reads the
 * blocked value straight into (N,H,W,C), one pass instead of a plain copy and a
 * transpose of it; its backward is the edge's. */
static bool
to_channels_last (const graft_node *node, const graft_shape *x)
{
  const int *perm = node->attributes.transpose.perm;
  return node->attributes.op == GRAFT_OP_TRANSPOSE && x->rank == 4 && perm[0] == 0 && perm[1] == 2 && perm[2] == 3
         && perm[3] == 1;
}

static void
transpose_forward (const graft_op_context *c)
{
  const graft_shape *x = c->input_shapes[0];
  graft_onednn_to_channels_last ((int) x->dims[0], (int) x->dims[1], (int) x->dims[2], (int) x->dims[3],
                                 c->inputs[0], c->output, false);
}

/* ------------------------------------------------------------------------ */

/* The edge descriptor of a node that runs plain, when it reads a blocked value;
 * else NULL (the built-in descriptor). */
static const graft_op_descriptor *
edge_descriptor (const graft_onednn_backend *b, const graft_node *node)
{
  const graft_op_descriptor *inner = graft_op_descriptor_for (node->attributes.op);
  graft_op_descriptor *edge = &b->edges[node->output];
  bool reads_blocked = false;

  for (int k = 0; k < node->n_inputs; k++)
    reads_blocked |= b->blocked[node->inputs[k]];
  if (!reads_blocked || inner == NULL)
    return NULL;
  *edge = *inner;
  edge->setup = edge_setup;
  edge->forward = edge_forward;
  edge->backward = edge_backward;
  edge->release = edge_release;
  return edge;
}

static const graft_op_descriptor *
descriptor_for (const graft_op_backend *ops, const graft_node *node, const graft_shape *const *input_shapes)
{
  const graft_onednn_backend *b = (const graft_onednn_backend *) ops;
  bool out = b->blocked[node->output];

  (void) input_shapes;
  current = b;
  switch (node->attributes.op)
    {
    case GRAFT_OP_CONV:
      if (out)
        return adds_after (b, node) ? &conv_add_descriptor : &conv_descriptor;
      return edge_descriptor (b, node);
    case GRAFT_OP_BATCHNORM:
      if (out)
        return adds_after (b, node) ? &batchnorm_add_descriptor : &batchnorm_descriptor;
      return edge_descriptor (b, node);
    case GRAFT_OP_MAXPOOL:
      return out ? &maxpool_descriptor : edge_descriptor (b, node);
    case GRAFT_OP_AVGPOOL:
      return out ? &avgpool_descriptor : edge_descriptor (b, node);
    case GRAFT_OP_ADD:
      return out ? &add_descriptor : edge_descriptor (b, node);
    case GRAFT_OP_MUL:
      if (out)
        return layer_scale_input (b->graph, node) >= 0 ? &mul_scale_descriptor : &mul_descriptor;
      return edge_descriptor (b, node);
    case GRAFT_OP_CONCAT:
      return out ? &concat_descriptor : edge_descriptor (b, node);
    case GRAFT_OP_MEAN_SPATIAL:
      return b->blocked[node->inputs[0]] ? &mean_spatial_descriptor : edge_descriptor (b, node);
    case GRAFT_OP_ACTIVATION:
      /* Those whose f(0) is 0 run the built-in descriptor over the padded count. */
      if (out)
        return keeps_zero (&node->attributes.activation) ? NULL : &activation_descriptor;
      return edge_descriptor (b, node);
    case GRAFT_OP_TRANSPOSE:
      if (out)
        return &transpose_blocked_descriptor;
      {
        const graft_op_descriptor *edge = edge_descriptor (b, node);
        if (edge != NULL && to_channels_last (node, &graft_graph_value (b->graph, node->inputs[0])->shape))
          b->edges[node->output].forward = transpose_forward;
        return edge;
      }
    case GRAFT_OP_MATMUL:
      /* Plain inputs: the MatMul kernels on oneDNN's sgemm (matmul.h). */
      {
        const graft_op_descriptor *edge = edge_descriptor (b, node);
        return edge != NULL ? edge : &graft_onednn_matmul_descriptor;
      }
    default:
      return edge_descriptor (b, node);
    }
}

graft_onednn_backend *
graft_onednn_backend_new (const graft_graph *graph, const graft_plan_options *options, graft_error *error)
{
  graft_onednn_backend *b;

  if (!graft_onednn_available ())
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED,
                            "the oneDNN backend needs a CPU with AVX2 or AVX-512 and a build with oneDNN"), NULL;
  b = calloc (1, sizeof *b);
  if (b == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  b->ops = (graft_op_backend) { .name = "onednn", .descriptor_for = descriptor_for, .data = b };
  b->graph = graph;
  b->training = options->mode == GRAFT_PLAN_TRAINING;
  b->unfused = options->unfused;
  b->bf16 = options->precision == GRAFT_PLAN_PRECISION_BF16;
  if (b->bf16 && !graft_onednn_bf16_available ())
    {
      free (b);
      return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED,
                              "bf16 precision needs a CPU with AVX512_BF16 or AMX, and this one has neither"),
             NULL;
    }
  b->n_values = graft_graph_value_count (graph);
  b->blocked = calloc ((size_t) (b->n_values ? b->n_values : 1), sizeof (bool));
  b->edges = calloc ((size_t) (b->n_values ? b->n_values : 1), sizeof *b->edges);
  if (b->blocked == NULL || b->edges == NULL)
    {
      free (b->blocked);
      free (b->edges);
      free (b);
      return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
    }
  decide_layouts (b);
  if (getenv ("GRAFT_ONEDNN_LAYOUTS") != NULL)
    {
      int spatial = 0, edges = 0;
      for (int v = 0; v < b->n_values; v++)
        spatial += graft_graph_value (graph, v)->kind == GRAFT_VALUE_ACTIVATION
                   && spatial_4d (&graft_graph_value (graph, v)->shape);
      for (int i = 0; i < graft_graph_node_count (graph); i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          bool reads = false;
          for (int k = 0; k < node->n_inputs; k++)
            reads |= b->blocked[node->inputs[k]];
          edges += reads && !b->blocked[node->output] && node->attributes.op != GRAFT_OP_MEAN_SPATIAL;
        }
      fprintf (stderr, "oneDNN layouts: %d of %d spatial activations blocked, %d plain nodes read blocked values\n",
               graft_onednn_backend_blocked_count (b), spatial, edges);
    }
  return b;
}

void
graft_onednn_backend_free (graft_onednn_backend *backend)
{
  if (backend == NULL)
    return;
  free (backend->blocked);
  free (backend->edges);
  free (backend);
}

const graft_op_backend *
graft_onednn_backend_ops (const graft_onednn_backend *backend)
{
  return &backend->ops;
}

bool
graft_onednn_backend_blocked (const graft_onednn_backend *backend, int value)
{
  return value >= 0 && value < backend->n_values && backend->blocked[value];
}

size_t
graft_onednn_backend_value_floats (const graft_onednn_backend *backend, int value, const graft_shape *shape,
                                   size_t count)
{
  if (!graft_onednn_backend_blocked (backend, value))
    return count;
  return graft_onednn_blocked_floats ((int) shape->dims[0], (int) shape->dims[1], (int) shape->dims[2],
                                      (int) shape->dims[3]);
}

int
graft_onednn_backend_bf16_count (const graft_onednn_backend *backend)
{
  return backend->bf16_convs;
}

int
graft_onednn_backend_blocked_count (const graft_onednn_backend *backend)
{
  int count = 0;
  for (int v = 0; v < backend->n_values; v++)
    count += backend->blocked[v];
  return count;
}
