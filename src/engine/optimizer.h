/* optimizer.h: parameter updates with PyTorch's semantics (torch.optim.SGD, Adam,
 * AdamW) and global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
 *
 * The plan owns the memory: parameters, gradients and a zero-initialised block of
 * optimizer state; these functions update one parameter tensor at a time and never
 * allocate. Results do not depend on the thread count.
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
