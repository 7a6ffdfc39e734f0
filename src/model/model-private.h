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

/* Writes data to path whole or not at all (graft_model_save's writer): under no name
 * first (O_TMPFILE, when anonymous_first and the file system has it), else as a
 * temporary file NAME.graft-tmp.HOST.PID.XXXXXX beside path; synced, then renamed over
 * path. Temporary files of this pattern left in the folder by killed processes (same
 * host, PID gone) are removed first. A G_FILE_ERROR on failure; path is then untouched. */
gboolean graft_model_write_file (const char *path, const void *data, gsize size, gboolean anonymous_first,
                                 GError **error);

G_END_DECLS
