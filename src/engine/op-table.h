/* op-table.h: what the graph and the plan know about each op, in one place.
 *
 * Every graft_op has one descriptor: its name, how many inputs it takes, its shape
 * inference, and the functions a plan calls to set it up and run it forward and
 * backward, with what that backward reads of the forward. graph.c and plan.c have no
 * per-op switches: they look the op up here. The kernels stay in ops.h; descriptors
 * wrap them.
 *
 * Adding an op: its kernels in ops.h (with a double reference and tests), its value in
 * graft_op (graph.h, with its attributes if it has any), and its descriptor in the
 * table (op-table.c). A missing entry is a NULL that graft_op_descriptor_for returns
 * and test-engine-graph's /engine/graph/op-table catches; a table longer than the
 * enum does not compile.
 *
 * A second backend (one that runs some ops in its own kernels and layouts) supplies
 * its own descriptors through a graft_op_backend chosen in graft_plan_options: the plan
 * asks it first for each node, and uses the descriptors here where it has none.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/graph.h"
#include "engine/ops.h"
#include "engine/status.h"

/* What a node's setup computes once per plan: the op's params for its _setup'd
 * kernels. backend is for a second backend's own per-node state (primitives,
 * reordered weights), freed by its descriptor's release. */
typedef struct {
  union {
    graft_conv2d_params conv;
    graft_batchnorm_params batchnorm;
    graft_broadcast_params broadcast;
    graft_pool2d_params pool;
    graft_transpose_params transpose;
    graft_slice_params slice;
    graft_gemm_params gemm;
    struct { size_t outer; size_t *inner; } concat;    /* inner: one per input, freed by release */
    struct { size_t planes, spatial; } mean_spatial;
    struct { size_t rows, cols; } softmax;
    graft_layernorm_params layernorm;
    graft_matmul_params matmul;
    struct { size_t outer, axis, inner; } softmax_axis;
    graft_resize_params resize;
    graft_gather_params gather;
  };
  void *backend;
} graft_op_state;

/* The plan's view of one node, made when the plan is: every pointer stays valid for
 * the plan's life, so running a node is one call. Filled in the order the plan learns
 * it: node, shapes and mode before setup; the rest before forward. */
typedef struct {
  const graft_node *node;            /* attributes, inputs */
  int index;                         /* the node's index in the graph */
  const graft_shape *const *input_shapes; /* n_inputs, at the plan's batch */
  const graft_shape *output_shape;
  size_t output_count;
  bool training;                     /* a training plan */
  bool batch_statistics;             /* BatchNorm: normalise with batch statistics */
  bool backward;                     /* the node runs backward in this plan */
  graft_op_state *state;             /* setup writes it; forward and backward read it */
  size_t scratch_floats;             /* setup: the scratch forward and backward need */

  float *const *inputs;              /* data of each input (BatchNorm updates its running statistics) */
  float *output;                     /* the node's own output */
  float *scratch;                    /* scratch_floats floats, shared by every node */
  float *saved;                      /* saved_floats floats that forward keeps for backward, or NULL */
  uint64_t seed;                     /* the plan's seed (dropout) */
  const uint64_t *step;              /* the plan's forward count (dropout) */

  /* Fusion (forward, descriptors with fuses_activation): when activation is not NULL,
   * forward applies it and writes the result to activation_output, and its own output
   * to pre_activation unless that is NULL (the activation's backward does not read it). */
  const graft_activation_params *activation;
  float *activation_output;
  float *pre_activation;
  /* Fusion of the Add after the node (descriptors with fuses_add): when residual is not
   * NULL, forward adds it (the Add's other operand, in the output's layout) to its result
   * before the activation, and output is the Add's output: the node's own output is not
   * written. */
  const float *residual;
  /* Fused backward (descriptors with fuses_backward, where the plan chose it): backward
   * runs the fused Add's and ReLU's backward in its pass, which the plan then skips.
   * dy is the gradient of the last fused node's output: the ReLU's (activation_output
   * is the ReLU's output, whose sign masks dy), or the Add's where no ReLU is fused.
   * residual_gradient is the gradient of the Add's other operand (NULL when there is no
   * Add or it needs none), overwritten where set_residual, else added to. */
  bool backward_fused;
  float *residual_gradient;
  bool set_residual;
  /* Fusion of a Linear layer's bias Add and the Gelu after it (descriptors with
   * fuses_bias, where neither runs backward): when bias is not NULL, forward adds it to
   * each row of its result, then applies GELU of kind *gelu unless gelu is NULL, and
   * output is the last fused node's output: the node's own output is not written. */
  const float *bias;
  const graft_gelu_kind *gelu;

  /* Backward: dy is the output's gradient; gradients[k] is input k's gradient buffer, or
   * NULL when it is not needed. Gradients accumulate, except that with set_dx
   * (descriptors with sets_dx, when this node is the first writer of gradients[0])
   * backward overwrites gradients[0]. */
  const float *dy;
  float *const *gradients;
  bool set_dx;
} graft_op_context;

#define GRAFT_OP_ANY_INPUTS (-1)

typedef struct {
  const char *name;                  /* as ONNX spells it where there is one */
  int min_inputs, max_inputs;        /* max_inputs GRAFT_OP_ANY_INPUTS: no limit */
  bool fuses_activation;             /* forward can apply a following Activation in the same pass */
  bool fuses_add;                    /* forward can add a following Add's other operand (residual) */
  bool fuses_bias;                   /* forward can add a following per-column bias and apply a Gelu (bias) */
  bool sets_dx;                      /* backward has the overwriting form (see set_dx) */
  bool fuses_backward;               /* backward can run its fused Add's and ReLU's (backward_fused) */
  /* forward reads each element of an input of the output's shape only to write the same
   * element of the output (Mul), so the output may be that input's memory */
  bool writes_over_input;
  /* The output shape from the input shapes; names the node in its errors. */
  graft_status (*infer_shape) (const graft_node *node, const graft_shape *const *in, graft_shape *out,
                               graft_error *error);
  /* Fills c->state and c->scratch_floats from the node and the shapes at the plan's
   * batch; NULL when the op has nothing to set up. */
  graft_status (*setup) (graft_op_context *c, graft_error *error);
  /* Floats that forward saves for backward (and needs in forward: BatchNorm's batch
   * statistics, dropout's mask), given c's mode and backward flag; NULL for none. */
  size_t (*saved_floats) (const graft_op_context *c);
  /* Which inputs (needs[k]) and whether the output (*needs_output) backward reads,
   * given which input gradients are wanted; both start false. */
  void (*backward_needs) (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output);
  void (*forward) (const graft_op_context *c);
  void (*backward) (const graft_op_context *c);
  /* Frees what setup allocated in c->state; NULL when it allocates nothing. */
  void (*release) (graft_op_context *c);
} graft_op_descriptor;

/* Descriptors defined outside op-table.c (op-table-transformer.c, resize.c, gather.c). */
extern const graft_op_descriptor graft_layernorm_descriptor, graft_gelu_descriptor, graft_matmul_descriptor,
  graft_softmax_axis_descriptor;
/* resize.c, gather.c */
extern const graft_op_descriptor graft_resize_descriptor, graft_gather_descriptor;

/* backward_needs of the descriptors whose backward reads neither the inputs nor the
 * output (sums, copies), and of products (each factor's gradient reads the other);
 * the oneDNN backend's descriptors share them. */
void graft_op_needs_nothing (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output);
void graft_op_needs_other_factor (const graft_op_context *c, const bool *wants, bool *needs, bool *needs_output);

/* The built-in descriptor of op, or NULL when op is not one. */
const graft_op_descriptor *graft_op_descriptor_for (graft_op op);

/* A second set of kernels (another library, other layouts). descriptor_for returns its
 * descriptor for a node, from the node and its input shapes at the plan's batch, or
 * NULL to leave the node to the built-in descriptors. */
typedef struct graft_op_backend {
  const char *name;
  const graft_op_descriptor *(*descriptor_for) (const struct graft_op_backend *backend, const graft_node *node,
                                                const graft_shape *const *input_shapes);
  void *data;
} graft_op_backend;
