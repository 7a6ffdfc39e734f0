/* matmul.h: the batched MatMul (matmul.c) on oneDNN's sgemm, for the oneDNN backend's
 * MatMul descriptor (op-table-transformer.c). The portable kernels and their
 * references are in ops.h. */
#pragma once

#include <stdbool.h>

#include "engine/op-table.h"
#include "engine/ops.h"

/* C = op(A) op(B) + beta C in row-major storage, op transposing when asked. */
typedef void graft_matmul_gemm_func (bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                                     const float *b, int ldb, float beta, float *c, int ldc);

#ifdef GRAFT_HAVE_ONEDNN
/* graft_matmul_forward and graft_matmul_backward with oneDNN's dnnl_sgemm in place
 * of OpenBLAS's: the same products, the same order of accumulation. */
void graft_matmul_forward_onednn (const graft_matmul_params *p, const float *a, const float *b, float *y);
void graft_matmul_forward_bias_onednn (const graft_matmul_params *p, const float *a, const float *b, const float *bias,
                                       bool gelu, graft_gelu_kind kind, float *y);
void graft_matmul_backward_onednn (const graft_matmul_params *p, const float *a, const float *b, const float *dy,
                                   float *da, float *db);

/* op-table-transformer.c: the MatMul descriptor that the oneDNN backend hands out
 * for a MatMul whose inputs are plain (every MatMul of ViT, Swin and ConvNeXt). */
extern const graft_op_descriptor graft_onednn_matmul_descriptor;
#endif
