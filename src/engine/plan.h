/* plan.h: a graph made ready to run at one batch size, for inference or training.
 *
 * Creating a plan infers every shape, decides which nodes run backward and which
 * activations must be kept for it, and carves memory by walking the graph: one
 * allocation for activations (and their gradients, and what backward saves), one for
 * parameter gradients (trainable parameters only), one for scratch. Activation
 * buffers share memory whenever their lifetimes do not overlap, so inference keeps
 * only live activations.
 *
 * Training: backward runs from the loss down to the lowest trainable parameter and
 * stops there. A node runs backward only if one of its inputs needs a gradient (a
 * trainable parameter, or an activation that depends on one) and its output leads to
 * the loss; a frozen parameter gets no gradient buffer, no update and no weight decay.
 *
 * A plan refers to its graph: do not change the graph's structure or trainable flags
 * while a plan of it is alive (create a new plan instead; they are cheap).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/graph.h"
#include "engine/optimizer.h" /* the optimizer state that steps a plan's parameters */

typedef enum {
  GRAFT_PLAN_INFERENCE,
  GRAFT_PLAN_TRAINING,
} graft_plan_mode;

/* Which kernels run the nodes. AUTO is the environment's GRAFT_ENGINE_BACKEND
 * (portable or onednn: for tests and benchmarks), else oneDNN where the build has it on
 * x86-64 with AVX2 or AVX-512, else the portable kernels; ONEDNN fails where the build
 * has no oneDNN or the CPU has neither AVX2 nor AVX-512. */
typedef enum {
  GRAFT_PLAN_KERNELS_AUTO,
  GRAFT_PLAN_KERNELS_PORTABLE,
  GRAFT_PLAN_KERNELS_ONEDNN,   /* oneDNN in blocked channel layouts (onednn-backend.h) */
} graft_plan_kernels;

/* The arithmetic of the plan's convolutions. BF16 is mixed precision on the oneDNN
 * backend: convolutions read their inputs and weights rounded to bf16 and accumulate in
 * f32; the weights, their gradients, the optimizer and every other op stay f32. It needs
 * a CPU with AVX512_BF16 or AMX (graft_plan_bf16_supported); the portable kernels refuse
 * it (GRAFT_ERROR_UNSUPPORTED) rather than run f32 under its name. */
typedef enum {
  GRAFT_PLAN_PRECISION_FP32,
  GRAFT_PLAN_PRECISION_BF16,
} graft_plan_precision;

typedef struct {
  graft_plan_mode mode;
  int batch;                  /* replaces dims[0] of every graph input */
  const int *keep;            /* values readable after forward (outputs, embeddings) */
  int n_keep;
  /* Training: softmax cross-entropy on this (N, K) value against the labels given to
   * graft_plan_backward. */
  int loss_logits;
  float label_smoothing;
  const float *class_weights; /* (K) or NULL; copied */
  uint64_t seed;              /* dropout masks: seed, step and node give the mask */
  /* Added to a node's index where the index picks a mask: a graph cut from a larger one
   * (the layers above a frozen part, train/boundary-cache.h) gives its nodes the indices
   * they have in the whole graph, so that it draws the masks the whole graph would. */
  int node_index_base;
  /* Run every node on its own (no Conv or BatchNorm with the Activation after it in one
   * pass), and clear every gradient buffer before its first writer adds to it (instead
   * of that writer overwriting it). The results are the same; tests compare the two. */
  bool unfused;
  /* Kernels other than the built-in ones (op-table.h): asked first for each node's
   * descriptor. NULL: the built-in descriptors run every node. */
  const struct graft_op_backend *backend;
  /* When backend is NULL: the built-in kernels, or the oneDNN backend. */
  graft_plan_kernels kernels;
  graft_plan_precision precision;
} graft_plan_options;

/* Whether GRAFT_PLAN_PRECISION_BF16 can run here: a build with oneDNN on a CPU with
 * AVX512_BF16 or AMX. */
bool graft_plan_bf16_supported (void);

typedef struct graft_plan graft_plan;

graft_plan *graft_plan_new (graft_graph *graph, const graft_plan_options *options, graft_error *error);
void graft_plan_free (graft_plan *plan);

/* Copies a batch into the graph input value (count floats of its shape at this batch). */
graft_status graft_plan_set_input (graft_plan *plan, int value, const float *data, size_t count,
                                   graft_error *error);
graft_status graft_plan_forward (graft_plan *plan, graft_error *error);
/* Training: cross-entropy of loss_logits against labels (batch entries in 0..K-1), then
 * backward. Parameter gradients are overwritten, not accumulated across calls.
 * Fails with GRAFT_ERROR_NUMERIC when the loss is not finite. */
graft_status graft_plan_backward (graft_plan *plan, const int32_t *labels, float *loss, graft_error *error);

/* Sets the step number that, with the seed and the node, picks dropout masks (it
 * counts forward passes otherwise). A trainer sets the global step so that a resumed
 * run draws the masks an uninterrupted one would. */
void graft_plan_set_step (graft_plan *plan, uint64_t step);

/* The data of a kept value (or a parameter) after forward, and its shape at this batch;
 * NULL if the value is not kept. */
const float *graft_plan_value_data (const graft_plan *plan, int value, graft_shape *shape);
/* The gradient of a trainable parameter after backward; NULL if it has none (frozen). */
const float *graft_plan_gradient (const graft_plan *plan, int value);
/* How many convolutions compute in bf16 (GRAFT_PLAN_PRECISION_BF16 on the oneDNN
 * backend; a shape oneDNN has no bf16 kernel for computes in f32). */
int graft_plan_bf16_nodes (const graft_plan *plan);
/* The kernels the plan runs: "portable", "onednn" or its backend's name. */
const char *graft_plan_kernels_name (const graft_plan *plan);
/* The graph the plan runs. */
graft_graph *graft_plan_graph (const graft_plan *plan);
/* Whether the node runs backward in this plan. */
bool graft_plan_node_runs_backward (const graft_plan *plan, int node);
/* How many nodes run inside another node's forward pass (fused activations; tests). */
int graft_plan_fused_nodes (const graft_plan *plan);
/* How many nodes run backward inside another node's backward pass (an Add and a ReLU
 * in BatchNorm's on oneDNN; tests). */
int graft_plan_fused_backward_nodes (const graft_plan *plan);

typedef struct {
  size_t activation_floats;  /* activations, their gradients and saved tensors, after sharing */
  size_t activation_floats_unshared; /* what they would take without sharing */
  size_t gradient_floats;    /* parameter gradients */
  size_t scratch_floats;
  int backward_nodes;        /* nodes that run backward */
} graft_plan_memory;

void graft_plan_memory_usage (const graft_plan *plan, graft_plan_memory *memory);
