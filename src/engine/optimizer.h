/* optimizer.h: parameter updates with PyTorch's semantics (torch.optim.SGD, Adam,
 * AdamW) and global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
 *
 * graft_optimizer_update updates one parameter tensor with its gradient and its block
 * of state and never allocates; graft_optimizer_state (below) owns the state of every
 * trainable parameter of a graph, allocated as parameters start training, and steps the
 * parameters a plan has gradients for. Results do not depend on the thread count.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/status.h"

typedef enum {
  GRAFT_OPTIMIZER_SGD,
  GRAFT_OPTIMIZER_ADAM,
  GRAFT_OPTIMIZER_ADAMW,
} graft_optimizer_kind;

typedef struct {
  graft_optimizer_kind kind;
  float learning_rate;
  float momentum;       /* SGD; 0 = plain SGD (no dampening) */
  bool nesterov;        /* SGD; needs momentum > 0 */
  float beta1, beta2, epsilon; /* Adam, AdamW (defaults 0.9, 0.999, 1e-8) */
  float weight_decay;   /* SGD and Adam: L2 term added to the gradient; AdamW: decoupled (p -= lr*wd*p) */
  float max_grad_norm;  /* > 0: gradients are clipped by their global norm before the update */
} graft_optimizer_config;

/* PyTorch's defaults: lr 1e-2 for SGD (PyTorch has none), 1e-3 for Adam and AdamW;
 * weight decay 0, except 1e-2 for AdamW; no momentum; no clipping. */
graft_optimizer_config graft_optimizer_config_default (graft_optimizer_kind kind);

/* Rejects what PyTorch rejects, with a message: an unknown kind, a negative or
 * non-finite learning rate, momentum outside [0, 1), nesterov without momentum,
 * betas outside [0, 1), a negative epsilon or weight decay, a NaN max_grad_norm.
 * Only the fields the kind uses are checked. */
graft_status graft_optimizer_config_validate (const graft_optimizer_config *config, graft_error *error);

/* Floats of optimizer state per parameter element: SGD with momentum 1, without 0;
 * Adam/AdamW 2 (state holds exp_avg for all elements, then exp_avg_sq). */
int graft_optimizer_state_per_element (const graft_optimizer_config *config);

/* One update of one parameter tensor, with PyTorch's semantics (torch.optim.SGD / Adam / AdamW).
 * lr is the learning rate for this tensor (the schedule times its multiplier). step counts
 * from 1 (Adam bias correction; smaller values are taken as 1). grad_scale multiplies the
 * gradient first (global-norm clipping passes min(1, max_norm / norm)). state is
 * (state_per_element * count) zero-initialised floats. param, grad, state do not overlap. */
void graft_optimizer_update (const graft_optimizer_config *config, float lr, int64_t step, float grad_scale,
                             size_t count, float *param, const float *grad, float *state);

/* Sum of squares of grad, accumulated in double (for the global norm). It is reduced
 * in fixed chunks combined in order, so the result does not depend on the thread count. */
double graft_sum_of_squares (size_t count, const float *grad);

/* The multiplier that clips a global norm to max_norm (1 when norm <= max_norm or
 * max_norm <= 0); otherwise max_norm / (norm + 1e-6), as PyTorch's clip_grad_norm_.
 * A NaN norm gives NaN, an infinite one 0: callers check the norm first. */
float graft_clip_scale (double norm, float max_norm);

typedef struct graft_plan graft_plan; /* plan.h */

/* Optimizer state for the trainable parameters of a graph. It outlives plans: when the
 * trainable set changes (progressive unfreezing) a new plan is made and the state
 * follows it, keeping the moments of parameters that were already training. */
typedef struct graft_optimizer_state graft_optimizer_state;

graft_optimizer_state *graft_optimizer_state_new (const graft_optimizer_config *config, graft_error *error);
void graft_optimizer_state_free (graft_optimizer_state *state);
/* One optimizer step over every parameter that has a gradient in plan, with learning
 * rate lr * the parameter's lr multiplier, after clipping by global norm if configured.
 * Reports the global gradient norm (before clipping) when norm is not NULL. */
graft_status graft_optimizer_state_step (graft_optimizer_state *state, graft_plan *plan, float lr,
                                         double *norm, graft_error *error);
int64_t graft_optimizer_state_steps (const graft_optimizer_state *state);

/* The state as bytes (a checkpoint), and back. The bytes hold the moments of every
 * parameter by name and the step counts; reading checks every size. */
size_t graft_optimizer_state_serialized_size (const graft_optimizer_state *state);
void graft_optimizer_state_serialize (const graft_optimizer_state *state, void *buffer);
graft_optimizer_state *graft_optimizer_state_deserialize (const graft_optimizer_config *config, const void *data,
                                                          size_t size, graft_error *error);
