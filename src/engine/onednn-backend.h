/* onednn-backend.h: the oneDNN backend as a graft_op_backend (op-table.h) for one plan.
 *
 * Made from the graph when the plan is, it first decides each value's layout: a 4-D
 * activation whose producer and every reader the backend runs in blocked form (Conv,
 * BatchNorm, Max/AveragePool, the activations whose f(0) is 0, Add of equal shapes,
 * squeeze-excite's Mul, aligned channel Concat; GlobalAveragePool reads it) is blocked
 * (onednn.h), everything else is plain: graph inputs, what the head computes (Flatten,
 * Gemm, Reshape...), 1x1 planes. The layout changes therefore happen where the graph
 * changes kind — the stem convolution reads the plain image, the global average writes
 * a plain (N,C) — and never around a layer. A node that runs plain but reads a blocked
 * value (a Flatten, an unaligned Concat, a broadcast by a constant) reads it through a
 * plain copy made for it (and reorders its gradient back), instead of turning the value
 * and its producers plain. Then it answers the plan's descriptor_for with its
 * descriptors for the nodes that touch a blocked value.
 * Activations on blocked values run the built-in descriptor over the padded count.
 */
#pragma once

#include "engine/op-table.h"
#include "engine/plan.h"

typedef struct graft_onednn_backend graft_onednn_backend;

/* NULL with error set when oneDNN is not available. */
graft_onednn_backend *graft_onednn_backend_new (const graft_graph *graph, const graft_plan_options *options,
                                                graft_error *error);
void graft_onednn_backend_free (graft_onednn_backend *backend);
const graft_op_backend *graft_onednn_backend_ops (const graft_onednn_backend *backend);
/* Whether value is blocked; its floats at shape (the plan's batch): count, or the padded
 * count of a blocked value. */
bool graft_onednn_backend_blocked (const graft_onednn_backend *backend, int value);
size_t graft_onednn_backend_value_floats (const graft_onednn_backend *backend, int value, const graft_shape *shape,
                                          size_t count);
/* How many convolutions compute in bf16 (tests and benchmarks). */
int graft_onednn_backend_bf16_count (const graft_onednn_backend *backend);
/* How many values are blocked (tests and benchmarks). */
int graft_onednn_backend_blocked_count (const graft_onednn_backend *backend);
