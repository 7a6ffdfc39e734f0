/* model-private.h: helpers shared inside the model layer (not installed, not for the app). */
#pragma once

#include "model/model.h"

G_BEGIN_DECLS

/* An empty model: no graph yet, input/output/logits -1 and an empty metadata table
 * (key -> value, both owned). Free with graft_model_free. */
GraftModel *graft_model_new (void);

/* Infers the output shape of every node, in graph order, into shapes (one per value,
 * filled beforehand: the graph's inputs at the size wanted, tensors as they are).
 * FALSE (error set, may be NULL) at the first node that does not infer. */
gboolean graft_model_infer_shapes (const graft_graph *graph, graft_shape *shapes, graft_error *error);

/* Sets block->parameters and block->flops: the sums over layers (GraftLayerInfo) of its
 * nodes, first_node to last_node. */
void graft_block_sum_layers (GraftBlock *block, const GArray *layers);

G_END_DECLS
