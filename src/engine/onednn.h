/* onednn.h: the oneDNN backend's operators, in blocked channel layouts.
 *
 * A blocked value (N,C,H,W) is stored as oneDNN's nChw16c (or nChw8c): channels in
 * blocks of graft_onednn_block () with the channel fastest, (N, ceil(C/B), H, W, B);
 * the channels past C in the last block are padding and hold zeros. Every writer of a
 * blocked value writes its padding as zeros, so that the elementwise ops (whose f(0) is
 * 0) can run over the padded count, and a convolution never reads garbage there.
 *
 * The contract is ops.h's: backward accumulates into its gradient outputs unless
 * set_dx says the op is the buffer's first writer; any gradient output may be NULL;
 * parameters (weights, bias, gamma, beta) and their gradients stay plain, as the graph
 * keeps them. Unlike ops.h's operators, these are objects: creating one builds and
 * caches its oneDNN primitives for one shape (once per plan node), and it owns what its
 * forward must keep for backward (max-pooling's workspace). An object is used by one
 * thread at a time. They are built only with oneDNN (GRAFT_HAVE_ONEDNN); without it
 * graft_onednn_available () is false and the rest must not be called.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "engine/ops.h"

/* Whether oneDNN is built in and works on this CPU. */
bool graft_onednn_available (void);
/* The channel block of the layout oneDNN's convolutions pick here ("format_tag any"):
 * 16 with AVX-512, 8 with AVX2; 0 when unavailable. */
int graft_onednn_block (void);
/* Whether oneDNN runs bf16 convolutions in hardware here: the CPU has AVX512_BF16 or
 * AMX (oneDNN's effective ISA, which DNNL_MAX_CPU_ISA can lower). oneDNN would emulate
 * bf16 on plain AVX-512, slower than f32, so that does not count. */
bool graft_onednn_bf16_available (void);
/* oneDNN's version and CPU runtime, e.g. "2.6.3 (OpenMP)". */
const char *graft_onednn_describe (void);

/* Floats of a blocked (N,C,H,W) value: N * ceil(C/B)*B * H*W. */
size_t graft_onednn_blocked_floats (int n, int c, int h, int w);
/* plain (N,C,H,W) to blocked, padding written as zeros. */
void graft_onednn_to_blocked (int n, int c, int h, int w, const float *plain, float *blocked);
/* blocked to plain (N,C,H,W): overwrites plain, or adds to it when accumulate. */
void graft_onednn_to_plain (int n, int c, int h, int w, const float *blocked, float *plain, bool accumulate);
/* blocked (N,C,H,W) to channels-last (N,H,W,C), ONNX Transpose with perm (0,2,3,1):
 * overwrites nhwc, or adds to it when accumulate; and back (perm (0,3,1,2)), padding
 * written as zeros. */
void graft_onednn_to_channels_last (int n, int c, int h, int w, const float *blocked, float *nhwc, bool accumulate);
void graft_onednn_from_channels_last (int n, int c, int h, int w, const float *nhwc, float *blocked);

/* blocked += plain (N,C,H,W); the padding is left as it is. */
void graft_onednn_add_plain (int n, int c, int h, int w, const float *plain, float *blocked);

/* dst += src over count floats (plain or blocked alike, padding included). */
void graft_onednn_add_into (size_t count, const float *restrict src, float *restrict dst);

/* Writes zeros into the padding channels (after an elementwise op whose f(0) is not 0). */
void graft_onednn_zero_padding (int n, int c, int h, int w, float *blocked);

/* Conv2d. x in the layout src_blocked says (a plain input serves a stem convolution
 * on the image, which oneDNN reads as it is), y and its gradient in dst_blocked's. */
typedef struct {
  bool src_blocked, dst_blocked;
  bool bias;                 /* the node has a bias input */
  /* Fused after the convolution in forward (NULL: none): ReLU, Clip or LeakyRelu
   * (graft_onednn_conv_fuses says which). */
  const graft_activation_params *activation;
  bool backward_data, backward_weights;   /* which backward passes will run */
  /* backward may accumulate into dx (set_dx false: x has other readers, or an unfused
   * plan): scratch then holds a whole dx; without it such a call allocates one. */
  bool accumulate_dx;
  bool training;             /* forward as for training even without backward passes */
  /* The weights never change while the object lives (a frozen layer): they are
   * reordered to the primitive's format once, into buffers the object keeps, not at
   * every use into scratch. */
  bool constant_weights;
  /* Forward adds a value in y's layout to the convolution's result, before the activation
   * (a residual Add after it, as oneDNN's binary post-op): graft_onednn_conv_forward_add. */
  bool residual;
  /* bf16 mixed precision: the convolution reads x (or dy) and the weights as bf16 and
   * accumulates in f32; y, dx, dw and dbias stay f32. x and dy are rounded to bf16
   * into scratch at each call, the weights when they are reordered (once per step, or
   * once for constant weights). Where the CPU lacks bf16 or oneDNN has only its
   * reference loops for the shape, the object computes in f32
   * (graft_onednn_conv_is_bf16 says which). */
  bool bf16;
} graft_onednn_conv_config;

typedef struct graft_onednn_conv graft_onednn_conv;

bool graft_onednn_conv_fuses (graft_activation_kind kind);
/* NULL with GRAFT_ERROR_UNSUPPORTED when oneDNN cannot express it. */
graft_onednn_conv *graft_onednn_conv_new (const graft_conv2d_params *p, const graft_onednn_conv_config *config,
                                          graft_error *error);
void graft_onednn_conv_free (graft_onednn_conv *conv);
/* Floats of scratch that forward and backward need. */
size_t graft_onednn_conv_scratch_floats (const graft_onednn_conv *conv);
/* w is plain (M,C/groups,KH,KW), bias plain (M) or NULL. */
void graft_onednn_conv_forward (graft_onednn_conv *conv, const float *x, const float *w, const float *bias,
                                float *y, float *scratch);
/* y = activation (conv (x) + residual), for an object made with config.residual. */
void graft_onednn_conv_forward_add (graft_onednn_conv *conv, const float *x, const float *w, const float *bias,
                                    const float *residual, float *y, float *scratch);
/* dx (x's layout) is overwritten when set_dx, else accumulates; dw, dbias (plain) accumulate. */
void graft_onednn_conv_backward (graft_onednn_conv *conv, const float *x, const float *w, const float *dy,
                                 float *dx, bool set_dx, float *dw, float *dbias, float *scratch);
/* Floats the object holds between steps: the reordered copies of constant weights
 * (weights that may change are reordered into scratch at each use). */
size_t graft_onednn_conv_held_floats (const graft_onednn_conv *conv);
/* Whether the object computes in bf16 (config.bf16 and the CPU and shape allow it). */
bool graft_onednn_conv_is_bf16 (const graft_onednn_conv *conv);
/* The oneDNN implementations chosen ("jit:avx512_core" ...), for tests and benchmarks. */
const char *graft_onednn_conv_implementation (const graft_onednn_conv *conv);

/* BatchNormalization of a blocked (N,C,H,W) value (the engine's own loops over the
 * blocked layout; see onednn.c). */
typedef struct graft_onednn_batchnorm graft_onednn_batchnorm;

graft_onednn_batchnorm *graft_onednn_batchnorm_new (const graft_batchnorm_params *p, int h, int w,
                                                    bool batch_statistics, bool backward, graft_error *error);
void graft_onednn_batchnorm_free (graft_onednn_batchnorm *bn);
size_t graft_onednn_batchnorm_scratch_floats (const graft_onednn_batchnorm *bn);
/* Batch statistics: saved (2C) receives the batch mean and biased variance for
 * backward, and the running statistics are updated as graft_batchnorm_forward_training
 * does; otherwise running statistics normalise and saved is not used. residual (blocked
 * like x), when not NULL, is added in the same pass (a residual Add after it), and act,
 * when not NULL, applied after: y = act(bn(x) + residual), and pre (when not NULL) gets
 * bn(x) + residual. */
void graft_onednn_batchnorm_forward (graft_onednn_batchnorm *bn, const float *x, const float *gamma,
                                     const float *beta, float *running_mean, float *running_var,
                                     const float *residual, const graft_activation_params *act, float *pre,
                                     float *y, float *saved);
void graft_onednn_batchnorm_backward (graft_onednn_batchnorm *bn, const float *x, const float *gamma,
                                      const float *running_mean, const float *running_var,
                                      const float *saved, const float *dy, float *dx, bool set_dx,
                                      float *dgamma, float *dbeta, float *scratch);
/* The same, with the backward of a fused Add and ReLU after it (the forward's residual
 * and act): dy is then the gradient of the ReLU's output relu_y, which masks it (NULL: no
 * ReLU, dy is the Add's output's gradient), and dresidual (when not NULL) the gradient of
 * the Add's other operand, which gets the masked dy: overwritten when set_residual, else
 * added to. */
void graft_onednn_batchnorm_backward_fused (graft_onednn_batchnorm *bn, const float *x, const float *gamma,
                                            const float *running_mean, const float *running_var,
                                            const float *saved, const float *dy, const float *relu_y,
                                            float *dresidual, bool set_residual, float *dx, bool set_dx,
                                            float *dgamma, float *dbeta, float *scratch);

/* MaxPool and AveragePool of a blocked value. NULL with GRAFT_ERROR_UNSUPPORTED for
 * what oneDNN cannot express (an average with count_include_pad whose ceil_mode
 * window passes the padding). */
typedef struct graft_onednn_pool graft_onednn_pool;

graft_onednn_pool *graft_onednn_pool_new (const graft_pool2d_params *p, bool max, bool backward, graft_error *error);
void graft_onednn_pool_free (graft_onednn_pool *pool);
size_t graft_onednn_pool_scratch_floats (const graft_onednn_pool *pool);
void graft_onednn_pool_forward (graft_onednn_pool *pool, const float *x, float *y);
void graft_onednn_pool_backward (graft_onednn_pool *pool, const float *dy, float *dx, bool set_dx, float *scratch);

/* GlobalAveragePool of a blocked (N,C,H,W) value into a plain (N,C); backward
 * accumulates into blocked dx. */
void graft_onednn_mean_spatial_forward (int n, int c, size_t spatial, const float *x, float *y);
void graft_onednn_mean_spatial_backward (int n, int c, size_t spatial, const float *dy, float *dx);

/* y = x * s for a blocked (N,C,H,W) x and a plain (N,C) s (squeeze-excite's Mul). dx
 * (blocked) and ds (plain) accumulate; either may be NULL. */
void graft_onednn_scale_channels_forward (int n, int c, size_t spatial, const float *x, const float *s, float *y);
void graft_onednn_scale_channels_backward (int n, int c, size_t spatial, const float *x, const float *s,
                                           const float *dy, float *dx, float *ds);

/* Channel Concat of blocked values whose channel counts, but for the last, are
 * multiples of the block. dxs[i] accumulate; an entry may be NULL. */
void graft_onednn_concat_forward (int n, size_t spatial, int k, const int *c, const float *const *xs, float *y);
void graft_onednn_concat_backward (int n, size_t spatial, int k, const int *c, const float *dy, float *const *dxs);
