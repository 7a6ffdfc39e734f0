/* ops.h: every operator of the engine, as a forward/backward pair.
 *
 * Conventions, for every op:
 * - Tensors are float32, row-major; images are NCHW.
 * - A shape comment above each pair says what every pointer holds.
 * - backward ACCUMULATES into its gradient outputs (dx += ..., dw += ...), so that
 *   a value consumed by several nodes gets the sum of their gradients. Every
 *   gradient output may be NULL, meaning "not needed": the op then skips that
 *   work entirely (a frozen weight gets no gradient, an input below the lowest
 *   trainable parameter gets none either).
 *   The first writer of a gradient buffer would have to clear it first: the _set_dx
 *   forms of Conv2d, BatchNormalization and the activations overwrite dx instead
 *   (every element of it; their other gradient outputs still accumulate), with the same
 *   values, as 0 + v is v. The plan uses them where an op is a buffer's first writer.
 * - Ops do not allocate. Ops that need temporary memory say how many floats of
 *   scratch they need; the plan hands them a 64-byte aligned block that large.
 * - Params structs are validated once by their _setup function, which computes the
 *   derived fields (output sizes) with overflow checks and returns a status;
 *   forward/backward then trust them and cannot fail.
 * - Every fast path has a naive reference in double precision, *_reference, with
 *   the same semantics (accumulating backward too). Tests compare the fast path
 *   with the reference, and the reference backward with central finite differences
 *   of the reference forward.
 * - Parallel loops use OpenMP with static schedules; reductions are done in a fixed
 *   order, so results do not depend on timing. OpenMP regions never call BLAS.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/random.h" /* graft_random_uniform, dropout's generator */
#include "engine/status.h"
#include "engine/tensor.h"

/* ------------------------------------------------------------------------ */
/* Conv2d (conv.c, conv-reference.c)                                         */

typedef struct {
  int n, c, h, w;              /* input */
  int m;                       /* output channels; divisible by groups */
  int kh, kw;                  /* kernel */
  int stride_h, stride_w;      /* >= 1 */
  int dilation_h, dilation_w;  /* >= 1 */
  int pad_top, pad_left, pad_bottom, pad_right; /* >= 0, may be asymmetric */
  int groups;                  /* >= 1, divides c and m; groups == c == m is depthwise */
  int oh, ow;                  /* output size, computed by setup */
} graft_conv2d_params;

graft_status graft_conv2d_setup (graft_conv2d_params *p, graft_error *error);
/* Floats of scratch that forward and backward need (the larger of the two). */
size_t graft_conv2d_scratch_floats (const graft_conv2d_params *p);

/* x is (N,C,H,W), w is (M,C/groups,KH,KW), bias is (M) or NULL, y is (N,M,OH,OW) */
void graft_conv2d_forward (const graft_conv2d_params *p, const float *x, const float *w,
                           const float *bias, float *y, float *scratch);
/* Conv2d and the activation that follows it in one pass (defined below: the activation
 * section): y = act(conv(x) + bias), applied to each block of output while it is still
 * in cache; pre (N,M,OH,OW), when not NULL, also receives conv(x) + bias, for an
 * activation backward that reads its input. act NULL is graft_conv2d_forward. */
typedef struct graft_activation_params graft_activation_params;
void graft_conv2d_forward_activation (const graft_conv2d_params *p, const float *x, const float *w,
                                      const float *bias, const graft_activation_params *act,
                                      float *pre, float *y, float *scratch);
/* dy is (N,M,OH,OW); dx (N,C,H,W), dw (M,C/groups,KH,KW), dbias (M) accumulate; each may be NULL.
 * x is only read when dw != NULL, w only when dx != NULL. */
void graft_conv2d_backward (const graft_conv2d_params *p, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *dbias, float *scratch);
void graft_conv2d_backward_set_dx (const graft_conv2d_params *p, const float *x, const float *w,
                                   const float *dy, float *dx, float *dw, float *dbias, float *scratch);
void graft_conv2d_forward_reference (const graft_conv2d_params *p, const double *x, const double *w,
                                     const double *bias, double *y);
void graft_conv2d_backward_reference (const graft_conv2d_params *p, const double *x, const double *w,
                                      const double *dy, double *dx, double *dw, double *dbias);

/* ------------------------------------------------------------------------ */
/* BatchNormalization (batchnorm.c, batchnorm-reference.c)                   */

typedef struct {
  int n, c;
  size_t spatial;   /* H*W (1 for (N,C) input) */
  float epsilon;    /* ONNX default 1e-5 */
  float momentum;   /* ONNX convention: running = running * momentum + batch * (1 - momentum); default 0.9 */
} graft_batchnorm_params;

graft_status graft_batchnorm_setup (graft_batchnorm_params *p, graft_error *error);

/* Training: x is (N,C,S) normalised with the batch statistics.
 * gamma, beta (C); running_mean, running_var (C) are updated in place with momentum,
 * running_var with the unbiased batch variance (as PyTorch does);
 * saved_mean, saved_invstd (C) receive the batch mean and 1/sqrt(var + eps) (biased var) for backward.
 * y is (N,C,S). */
void graft_batchnorm_forward_training (const graft_batchnorm_params *p, const float *x,
                                       const float *gamma, const float *beta,
                                       float *running_mean, float *running_var,
                                       float *y, float *saved_mean, float *saved_invstd);
/* Inference: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta. */
void graft_batchnorm_forward_inference (const graft_batchnorm_params *p, const float *x,
                                        const float *gamma, const float *beta,
                                        const float *running_mean, const float *running_var, float *y);
/* The same two, followed by an activation in the same pass, as for Conv2d above:
 * y = act(batchnorm(x)); pre, when not NULL, receives batchnorm(x). act NULL is the plain form. */
void graft_batchnorm_forward_training_activation (const graft_batchnorm_params *p, const float *x,
                                                  const float *gamma, const float *beta,
                                                  float *running_mean, float *running_var,
                                                  const graft_activation_params *act, float *pre,
                                                  float *y, float *saved_mean, float *saved_invstd);
void graft_batchnorm_forward_inference_activation (const graft_batchnorm_params *p, const float *x,
                                                   const float *gamma, const float *beta,
                                                   const float *running_mean, const float *running_var,
                                                   const graft_activation_params *act, float *pre, float *y);
/* Backward of the training form: dx (N,C,S), dgamma, dbeta (C) accumulate; each may be NULL. */
void graft_batchnorm_backward_training (const graft_batchnorm_params *p, const float *x,
                                        const float *gamma, const float *saved_mean,
                                        const float *saved_invstd, const float *dy,
                                        float *dx, float *dgamma, float *dbeta);
/* Backward of the inference form (running statistics are constants). */
void graft_batchnorm_backward_inference (const graft_batchnorm_params *p, const float *x,
                                         const float *gamma, const float *running_mean,
                                         const float *running_var, const float *dy,
                                         float *dx, float *dgamma, float *dbeta);
void graft_batchnorm_backward_training_set_dx (const graft_batchnorm_params *p, const float *x,
                                               const float *gamma, const float *saved_mean,
                                               const float *saved_invstd, const float *dy,
                                               float *dx, float *dgamma, float *dbeta);
void graft_batchnorm_backward_inference_set_dx (const graft_batchnorm_params *p, const float *x,
                                                const float *gamma, const float *running_mean,
                                                const float *running_var, const float *dy,
                                                float *dx, float *dgamma, float *dbeta);
/* References: same semantics. The training reference does not touch running stats. */
void graft_batchnorm_forward_training_reference (const graft_batchnorm_params *p, const double *x,
                                                 const double *gamma, const double *beta, double *y);
void graft_batchnorm_forward_inference_reference (const graft_batchnorm_params *p, const double *x,
                                                  const double *gamma, const double *beta,
                                                  const double *running_mean, const double *running_var,
                                                  double *y);
void graft_batchnorm_backward_training_reference (const graft_batchnorm_params *p, const double *x,
                                                  const double *gamma, const double *dy,
                                                  double *dx, double *dgamma, double *dbeta);
void graft_batchnorm_backward_inference_reference (const graft_batchnorm_params *p, const double *x,
                                                   const double *gamma, const double *running_mean,
                                                   const double *running_var, const double *dy,
                                                   double *dx, double *dgamma, double *dbeta);

/* ------------------------------------------------------------------------ */
/* Unary activations (activation.c, activation-reference.c)                  */

typedef enum {
  GRAFT_ACTIVATION_RELU,
  GRAFT_ACTIVATION_CLIP,          /* min(max(x, alpha), beta); Relu6 is alpha 0, beta 6 */
  GRAFT_ACTIVATION_LEAKY_RELU,    /* x >= 0 ? x : alpha * x (ONNX default alpha 0.01) */
  GRAFT_ACTIVATION_SIGMOID,
  GRAFT_ACTIVATION_HARD_SIGMOID,  /* max(0, min(1, alpha * x + beta)) (ONNX defaults 0.2, 0.5) */
  GRAFT_ACTIVATION_HARD_SWISH,    /* x * max(0, min(1, x / 6 + 1/2)) */
  /* x * sigmoid(x): no node has it; a plan runs ONNX's Sigmoid and Mul of a Conv's or
   * BatchNorm's output as this fused activation where neither runs backward (plan.c). */
  GRAFT_ACTIVATION_SWISH,
} graft_activation_kind;

struct graft_activation_params {
  graft_activation_kind kind;
  float alpha, beta;
};

/* x, y are (count); y may equal x (in place). */
void graft_activation_forward (const graft_activation_params *p, size_t count, const float *x, float *y);
/* The same on the calling thread only: for ops that fuse the activation into their own
 * parallel loops (an OpenMP region never opens another). */
void graft_activation_forward_serial (const graft_activation_params *p, size_t count, const float *x, float *y);
/* dx += f'(x) * dy. x is the forward input, y the forward output; each kind reads
 * only what graft_activation_backward_needs says it needs (the other may be NULL). */
void graft_activation_backward (const graft_activation_params *p, size_t count, const float *x,
                                const float *y, const float *dy, float *dx);
void graft_activation_backward_set_dx (const graft_activation_params *p, size_t count, const float *x,
                                       const float *y, const float *dy, float *dx);
/* Which forward tensors the backward of kind reads. */
void graft_activation_backward_needs (graft_activation_kind kind, bool *needs_x, bool *needs_y);
void graft_activation_forward_reference (const graft_activation_params *p, size_t count,
                                         const double *x, double *y);
void graft_activation_backward_reference (const graft_activation_params *p, size_t count,
                                          const double *x, const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Abs (unary.c, unary-reference.c)                                          */

/* x, y are (count); y may equal x. */
void graft_abs_forward (size_t count, const float *x, float *y);
/* dx += sign(x) * dy, with sign(0) = 0 (PyTorch's gradient at the kink); dx may be NULL. */
void graft_abs_backward (size_t count, const float *x, const float *dy, float *dx);
void graft_abs_forward_reference (size_t count, const double *x, double *y);
void graft_abs_backward_reference (size_t count, const double *x, const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Add and Mul with numpy broadcasting (elementwise.c, elementwise-reference.c) */

typedef struct {
  graft_shape a, b;   /* inputs */
  graft_shape y;      /* broadcast output shape, computed by setup */
} graft_broadcast_params;

/* Multidirectional (numpy) broadcasting; fails with a message on incompatible shapes. */
graft_status graft_broadcast_setup (graft_broadcast_params *p, graft_error *error);

/* a has shape a, b shape b, y shape y. Fast paths: equal shapes, and (N,C,1,1) with (N,C,H,W)
 * either way round (squeeze-excite); scalar b. */
void graft_add_forward (const graft_broadcast_params *p, const float *a, const float *b, float *y);
/* da (shape a) and db (shape b) accumulate dy summed over broadcast dims; either may be NULL. */
void graft_add_backward (const graft_broadcast_params *p, const float *dy, float *da, float *db);
void graft_mul_forward (const graft_broadcast_params *p, const float *a, const float *b, float *y);
/* da needs b, db needs a. */
void graft_mul_backward (const graft_broadcast_params *p, const float *a, const float *b,
                         const float *dy, float *da, float *db);
void graft_add_forward_reference (const graft_broadcast_params *p, const double *a, const double *b, double *y);
void graft_add_backward_reference (const graft_broadcast_params *p, const double *dy, double *da, double *db);
void graft_mul_forward_reference (const graft_broadcast_params *p, const double *a, const double *b, double *y);
void graft_mul_backward_reference (const graft_broadcast_params *p, const double *a, const double *b,
                                   const double *dy, double *da, double *db);

/* ------------------------------------------------------------------------ */
/* Pooling (pool.c, pool-reference.c)                                        */

typedef struct {
  int n, c, h, w;
  int kh, kw;
  int stride_h, stride_w;
  int pad_top, pad_left, pad_bottom, pad_right;
  bool ceil_mode;          /* output size rounds up; a window must start inside input or left/top padding */
  bool count_include_pad;  /* AveragePool: divide by the window size clipped to the padded input (PyTorch/ONNX) */
  int oh, ow;              /* computed by setup */
} graft_pool2d_params;

graft_status graft_pool2d_setup (graft_pool2d_params *p, graft_error *error);

/* x is (N,C,H,W), y is (N,C,OH,OW); argmax (N,C,OH,OW) receives the flat index (h*W+w)
 * of each maximum within its plane, for backward; argmax may be NULL (inference).
 * Ties go to the first index in row-major order. */
void graft_maxpool2d_forward (const graft_pool2d_params *p, const float *x, float *y, int32_t *argmax);
void graft_maxpool2d_backward (const graft_pool2d_params *p, const int32_t *argmax, const float *dy, float *dx);
void graft_avgpool2d_forward (const graft_pool2d_params *p, const float *x, float *y);
void graft_avgpool2d_backward (const graft_pool2d_params *p, const float *dy, float *dx);
void graft_maxpool2d_forward_reference (const graft_pool2d_params *p, const double *x, double *y);
void graft_maxpool2d_backward_reference (const graft_pool2d_params *p, const double *x, const double *dy, double *dx);
void graft_avgpool2d_forward_reference (const graft_pool2d_params *p, const double *x, double *y);
void graft_avgpool2d_backward_reference (const graft_pool2d_params *p, const double *dy, double *dx);

/* GlobalAveragePool and ReduceMean over (H,W): x is (planes = N*C, spatial = H*W), y is (planes). */
void graft_mean_spatial_forward (size_t planes, size_t spatial, const float *x, float *y);
void graft_mean_spatial_backward (size_t planes, size_t spatial, const float *dy, float *dx);
void graft_mean_spatial_forward_reference (size_t planes, size_t spatial, const double *x, double *y);
void graft_mean_spatial_backward_reference (size_t planes, size_t spatial, const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Data movement: Concat, Transpose, Slice (layout.c, layout-reference.c)  */

/* Concat along one axis. Viewing every input as (outer, inner[i]) where outer is the
 * product of the dims before the axis and inner[i] = dims[axis] * product of dims after,
 * y is (outer, sum inner[i]). For NCHW channel concat: outer = N, inner[i] = Ci*H*W. */
void graft_concat_forward (int n_inputs, size_t outer, const size_t *inner, const float *const *xs, float *y);
/* dxs[i] (outer, inner[i]) accumulate; an entry may be NULL. */
void graft_concat_backward (int n_inputs, size_t outer, const size_t *inner, const float *dy, float *const *dxs);
void graft_concat_forward_reference (int n_inputs, size_t outer, const size_t *inner, const double *const *xs, double *y);
void graft_concat_backward_reference (int n_inputs, size_t outer, const size_t *inner, const double *dy, double *const *dxs);

typedef struct {
  graft_shape x;              /* input shape */
  int perm[GRAFT_MAX_RANK];   /* y.dims[i] = x.dims[perm[i]] */
  graft_shape y;              /* computed by setup */
} graft_transpose_params;

graft_status graft_transpose_setup (graft_transpose_params *p, graft_error *error);
void graft_transpose_forward (const graft_transpose_params *p, const float *x, float *y);
void graft_transpose_backward (const graft_transpose_params *p, const float *dy, float *dx);
void graft_transpose_forward_reference (const graft_transpose_params *p, const double *x, double *y);
void graft_transpose_backward_reference (const graft_transpose_params *p, const double *dy, double *dx);

/* Slice: a contiguous range [start, end) of one axis, the others whole (ONNX Split
 * makes one per output; Slice with step 1). Viewing x as (outer, dims[axis], inner),
 * y is (outer, end - start, inner). ShuffleNet's channel split: axis 1 of (N,C,H,W). */
typedef struct {
  graft_shape x;         /* input shape */
  int axis;              /* negative counts from the end */
  int64_t start, end;    /* 0 <= start <= end <= x.dims[axis] */
  graft_shape y;         /* computed by setup, and: */
  size_t outer, inner;   /* product of the dims before the axis, and after it */
} graft_slice_params;

graft_status graft_slice_setup (graft_slice_params *p, graft_error *error);
/* x has shape p->x, y shape p->y */
void graft_slice_forward (const graft_slice_params *p, const float *x, float *y);
/* dy has shape p->y; the range [start, end) of dx (shape p->x) accumulates it, the
 * rest of dx is left as it is. dx may be NULL. */
void graft_slice_backward (const graft_slice_params *p, const float *dy, float *dx);
void graft_slice_forward_reference (const graft_slice_params *p, const double *x, double *y);
void graft_slice_backward_reference (const graft_slice_params *p, const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Gemm (gemm.c, gemm-reference.c)                                           */

typedef struct {
  int m, n, k;           /* Y is (M,N); op(A) is (M,K); op(B) is (K,N) */
  bool trans_a, trans_b; /* A is (K,M) when trans_a, B is (N,K) when trans_b */
  float alpha, beta;
  int c_rows, c_cols;    /* shape of C broadcast to (M,N): rows 1 or M, cols 1 or N; 0,0 = no C */
} graft_gemm_params;

graft_status graft_gemm_setup (graft_gemm_params *p, graft_error *error);

/* Y = alpha * op(A) op(B) + beta * C */
void graft_gemm_forward (const graft_gemm_params *p, const float *a, const float *b, const float *c, float *y);
/* da (shape of A) needs b; db (shape of B) needs a; dc (c_rows, c_cols) sums beta*dY; each may be NULL. */
void graft_gemm_backward (const graft_gemm_params *p, const float *a, const float *b, const float *dy,
                          float *da, float *db, float *dc);
void graft_gemm_forward_reference (const graft_gemm_params *p, const double *a, const double *b,
                                   const double *c, double *y);
void graft_gemm_backward_reference (const graft_gemm_params *p, const double *a, const double *b,
                                    const double *dy, double *da, double *db, double *dc);

/* ------------------------------------------------------------------------ */
/* Softmax, loss, dropout (softmax.c, softmax-reference.c)                   */

/* Softmax along the last axis: x, y are (rows, cols). */
void graft_softmax_forward (size_t rows, size_t cols, const float *x, float *y);
/* dx += y * (dy - sum(dy * y)) per row. */
void graft_softmax_backward (size_t rows, size_t cols, const float *y, const float *dy, float *dx);
void graft_softmax_forward_reference (size_t rows, size_t cols, const double *x, double *y);
void graft_softmax_backward_reference (size_t rows, size_t cols, const double *y, const double *dy, double *dx);

typedef struct {
  int n, classes;
  float label_smoothing;       /* epsilon in [0, 1) */
  const float *class_weights;  /* (classes) or NULL for all ones */
} graft_cross_entropy_params;

/* Softmax cross-entropy with PyTorch's semantics (nn.CrossEntropyLoss, reduction mean):
 *   loss_i = (1 - eps) * w[y_i] * -log p[i][y_i] + eps / K * sum_k w[k] * -log p[i][k]
 *   loss = sum_i loss_i / sum_i w[y_i]
 * logits is (N,K), labels (N) in 0..K-1; probs (N,K) receives the softmax for backward.
 * Returns the loss. Computed with log-sum-exp, stable for large logits. */
float graft_cross_entropy_forward (const graft_cross_entropy_params *p, const float *logits,
                                   const int32_t *labels, float *probs);
/* dlogits += dloss * d loss / d logits. */
void graft_cross_entropy_backward (const graft_cross_entropy_params *p, const float *probs,
                                   const int32_t *labels, float dloss, float *dlogits);
double graft_cross_entropy_forward_reference (const graft_cross_entropy_params *p, const double *logits,
                                              const int32_t *labels);
void graft_cross_entropy_backward_reference (const graft_cross_entropy_params *p, const double *logits,
                                             const int32_t *labels, double dloss, double *dlogits);

/* Inverted dropout: y = x * mask / (1 - ratio), where mask[i] = 0 with probability ratio.
 * The mask is a pure function of (seed, i) (a counter-based generator), so it does not
 * depend on the thread count. mask is (count) bytes. ratio in [0, 1). */
void graft_dropout_forward (float ratio, uint64_t seed, size_t count, const float *x, float *y, uint8_t *mask);
void graft_dropout_backward (float ratio, size_t count, const uint8_t *mask, const float *dy, float *dx);

/* ------------------------------------------------------------------------ */
/* LayerNormalization (layernorm.c, layernorm-reference.c)                   */

/* x is (rows, cols): each row is normalised over its cols (ONNX LayerNormalization
 * over the last axes, which are flattened into cols), then scaled and shifted by the
 * per-column scale and bias. */
typedef struct {
  size_t rows, cols;
  float epsilon;   /* > 0 and finite */
} graft_layernorm_params;

graft_status graft_layernorm_setup (const graft_layernorm_params *p, graft_error *error);

/* y = (x - mean) * rstd * scale + bias, with rstd = 1 / sqrt(var + epsilon) (the biased
 * variance); scale and bias (cols) may each be NULL (1 and 0); mean and rstd (rows)
 * receive the statistics for backward and may be NULL when no backward follows. */
void graft_layernorm_forward (const graft_layernorm_params *p, const float *x, const float *scale,
                              const float *bias, float *y, float *mean, float *rstd);
/* x, dy (rows, cols); mean, rstd from forward; scale as in forward. dx (rows, cols),
 * dscale and dbias (cols) accumulate; each may be NULL. */
void graft_layernorm_backward (const graft_layernorm_params *p, const float *x, const float *scale,
                               const float *mean, const float *rstd, const float *dy, float *dx,
                               float *dscale, float *dbias);
void graft_layernorm_forward_reference (const graft_layernorm_params *p, const double *x,
                                        const double *scale, const double *bias, double *y);
void graft_layernorm_backward_reference (const graft_layernorm_params *p, const double *x,
                                         const double *scale, const double *dy, double *dx,
                                         double *dscale, double *dbias);

/* ------------------------------------------------------------------------ */
/* GELU (gelu.c, gelu-reference.c)                                           */

/* The exact form, x * Phi(x) = x/2 (1 + erf(x / sqrt 2)) (PyTorch's default, exported as
 * Div/Erf/Add/Mul/Mul), or the tanh approximation,
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate='tanh'). */
typedef enum {
  GRAFT_GELU_ERF,
  GRAFT_GELU_TANH,
} graft_gelu_kind;

/* x, y (count). */
void graft_gelu_forward (graft_gelu_kind kind, size_t count, const float *x, float *y);
/* dx += dy * gelu'(x); dx may be NULL. */
void graft_gelu_backward (graft_gelu_kind kind, size_t count, const float *x, const float *dy, float *dx);
/* A Linear layer's epilogue, on one thread: each row of y (rows x cols) plus bias (cols),
 * then GELU of the sum when gelu is true, in place: the same floats as an Add and
 * graft_gelu_forward after it. */
void graft_gelu_bias_rows (bool gelu, graft_gelu_kind kind, size_t rows, size_t cols, const float *bias, float *y);
void graft_gelu_forward_reference (graft_gelu_kind kind, size_t count, const double *x, double *y);
void graft_gelu_backward_reference (graft_gelu_kind kind, size_t count, const double *x, const double *dy,
                                    double *dx);

/* ------------------------------------------------------------------------ */
/* Batched MatMul (matmul.c, with its reference)                             */

/* ONNX MatMul (numpy matmul) on A of shape (..., M, K) and B of shape (..., K, N), both
 * of rank 2 to GRAFT_MAX_RANK: the batch dims (all but the last two) broadcast as in
 * numpy (missing leading dims are 1). 1-D operands are not taken (the importer reshapes
 * them). _setup fills the derived fields. */
typedef struct {
  graft_shape a, b;            /* the operands' shapes */
  /* derived by _setup */
  graft_shape y;               /* (broadcast batch..., M, N) */
  size_t m, k, n, batch;       /* batch: the product of y's batch dims */
} graft_matmul_params;

graft_status graft_matmul_setup (graft_matmul_params *p, graft_error *error);

/* Y = A B, per batch index (each operand's matrix taken at the broadcast index). */
void graft_matmul_forward (const graft_matmul_params *p, const float *a, const float *b, float *y);
/* Y = A B + bias (N, added to each row), then GELU of it when gelu is true: a Linear
 * layer and the GELU after it in one pass, block of rows by block of rows while the
 * product is in cache (a Linear's weight: B has no batch). */
void graft_matmul_forward_bias (const graft_matmul_params *p, const float *a, const float *b, const float *bias,
                                bool gelu, graft_gelu_kind kind, float *y);
/* da += dY B^T, db += A^T dY, summed over the batch indices an operand is broadcast
 * along; da needs b, db needs a; each may be NULL. */
void graft_matmul_backward (const graft_matmul_params *p, const float *a, const float *b, const float *dy,
                            float *da, float *db);
void graft_matmul_forward_reference (const graft_matmul_params *p, const double *a, const double *b,
                                     double *y);
void graft_matmul_backward_reference (const graft_matmul_params *p, const double *a, const double *b,
                                      const double *dy, double *da, double *db);

/* ------------------------------------------------------------------------ */
/* Softmax on any axis (softmax-axis.c, with its reference)                 */

/* x, y are (outer, axis, inner): softmax over the middle index, for each outer and
 * inner index (ONNX Softmax-13 on any axis; inner 1 is graft_softmax_forward). */
void graft_softmax_axis_forward (size_t outer, size_t axis, size_t inner, const float *x, float *y);
/* dx += y * (dy - sum over the axis of dy * y); dx may be NULL. */
void graft_softmax_axis_backward (size_t outer, size_t axis, size_t inner, const float *y, const float *dy,
                                  float *dx);
void graft_softmax_axis_forward_reference (size_t outer, size_t axis, size_t inner, const double *x,
                                           double *y);
void graft_softmax_axis_backward_reference (size_t outer, size_t axis, size_t inner, const double *y,
                                            const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Resize (resize.c, resize-reference.c)                                     */

/* ONNX Resize of the last two axes of x (planes, in_h, in_w) to (planes, out_h, out_w):
 * each output coordinate maps to an input coordinate by the coordinate transformation
 * (per axis, with scale = output / input as the file gives it):
 *   half_pixel          (o + 0.5) / scale - 0.5
 *   pytorch_half_pixel  the same, but 0 when the output axis has length 1
 *   asymmetric          o / scale
 *   align_corners       o * (in - 1) / (out - 1), 0 when the output axis has length 1
 * then nearest takes the input index rounded by the rounding mode and clamped to the
 * axis, and linear interpolates between the two neighbours of the coordinate clamped to
 * [0, in - 1] (bilinear on the two axes). */
typedef enum {
  GRAFT_RESIZE_NEAREST,
  GRAFT_RESIZE_LINEAR,
} graft_resize_mode;

typedef enum {
  GRAFT_RESIZE_HALF_PIXEL,
  GRAFT_RESIZE_PYTORCH_HALF_PIXEL,
  GRAFT_RESIZE_ASYMMETRIC,
  GRAFT_RESIZE_ALIGN_CORNERS,
} graft_resize_coordinates;

typedef enum {
  GRAFT_RESIZE_ROUND_PREFER_FLOOR,  /* halves down, else to the nearest */
  GRAFT_RESIZE_ROUND_PREFER_CEIL,   /* halves up, else to the nearest */
  GRAFT_RESIZE_FLOOR,
  GRAFT_RESIZE_CEIL,
} graft_resize_rounding;

typedef struct {
  size_t planes;                     /* N * C */
  size_t in_h, in_w, out_h, out_w;   /* each at least 1 */
  double scale_h, scale_w;           /* positive and finite */
  graft_resize_mode mode;
  graft_resize_coordinates coordinates;
  graft_resize_rounding rounding;    /* nearest only */
} graft_resize_params;

graft_status graft_resize_setup (const graft_resize_params *p, graft_error *error);

void graft_resize_forward (const graft_resize_params *p, const float *x, float *y);
/* dx += the transpose of forward applied to dy; dx may be NULL. */
void graft_resize_backward (const graft_resize_params *p, const float *dy, float *dx);
void graft_resize_forward_reference (const graft_resize_params *p, const double *x, double *y);
void graft_resize_backward_reference (const graft_resize_params *p, const double *dy, double *dx);

/* ------------------------------------------------------------------------ */
/* Gather (gather.c, gather-reference.c)                                     */

/* ONNX Gather on axis: data seen as (outer, axis, inner), indices (count) hold whole
 * numbers (as floats; negative ones count from the end); y is (outer, count, inner) with
 * y[o][k] = data[o][indices[k]]. An index outside the axis gives zeros (and no gradient).
 * Swin's relative-position bias gathers its learned table by a constant index this way. */
typedef struct {
  size_t outer, axis, inner, count;
} graft_gather_params;

graft_status graft_gather_setup (const graft_gather_params *p, graft_error *error);

void graft_gather_forward (const graft_gather_params *p, const float *data, const float *indices, float *y);
/* ddata += the scatter of dy to the rows it was gathered from; ddata may be NULL. */
void graft_gather_backward (const graft_gather_params *p, const float *indices, const float *dy, float *ddata);
void graft_gather_forward_reference (const graft_gather_params *p, const double *data, const float *indices,
                                     double *y);
void graft_gather_backward_reference (const graft_gather_params *p, const float *indices, const double *dy,
                                      double *ddata);
