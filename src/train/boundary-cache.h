/* boundary-cache.h: the activations at the freeze boundary, computed once per image.
 *
 * When fine-tuning trains only the top of a network, everything below the lowest
 * trainable layer gives the same output for the same image in every epoch (frozen
 * weights, BatchNorm in inference mode, no dropout). The trainer splits the graph at
 * the freeze boundary: a frozen prefix (input -> boundary value), run in an inference
 * plan only for images whose boundary activations are not known yet, and a trainable
 * suffix (boundary value -> logits), trained from the stored activations.
 *
 * The store keeps rows of the boundary value (dim floats), keyed by image content hash
 * and view (augmented views: the trainer keeps a fixed number per image). With a cache
 * folder they go to an embedding-cache file (embedding-cache.h), keyed by the model's
 * checksum, the boundary (its value name and a digest of the frozen prefix: its nodes
 * and every weight it reads), the preprocessing (and the augmentation and seed for
 * augmented views): a later run with the same model, boundary, preprocessing and
 * images reads them back instead of running the prefix at all.
 */
#pragma once

#include <glib.h>

#include "engine/graph.h"

G_BEGIN_DECLS

/* Where graph splits into a frozen prefix and a trainable suffix: split is the first
 * node of the suffix, value the one activation below split that nodes at or above it
 * read. Chosen as high as possible but not above the lowest node that reads a
 * trainable parameter. FALSE when there is no such split; then *reason (may be NULL:
 * nothing is frozen, no reason to give) says why, for the log. */
gboolean graft_boundary_find (const graft_graph *graph, int *split, int *value, char **reason);

/* The nodes [first, end) of full as a graph of their own whose input is input (an
 * activation or input of full, batch dimension free), named as in full; parameters,
 * buffers and constants are copied with their trainable flags and lr multipliers,
 * nodes with their BatchNorm mode, in order: node i of the result is node first + i of
 * full (a training plan's node_index_base = first draws full's dropout masks). NULL with
 * an error when a node of the range reads an activation or input of full other than
 * input. */
graft_graph *graft_subgraph_extract (const graft_graph *full, int input, int first, int end, GError **error);
/* The same for frozen layers that run in inference plans only: a Conv whose output only
 * an inference-mode BatchNorm reads becomes one Conv with the BatchNorm folded into its
 * weight and bias (named like the BatchNorm's output), so the frozen prefix makes one
 * pass over each activation less. */
graft_graph *graft_subgraph_extract_frozen (const graft_graph *full, int input, int first, int end,
                                            GError **error);

/* SHA-256 (hex) of what decides the boundary value: the prefix's nodes (op, inputs,
 * output shape) and the data of every parameter, buffer and constant they read. */
char *graft_boundary_prefix_digest (const graft_graph *graph, int split);

typedef struct _GraftBoundaryStore GraftBoundaryStore;

/* A store of rows of dim floats, keyed by image content hash and view. folder may be
 * NULL (memory only). key_model: the model's checksum; key_boundary: the boundary
 * value's name and the prefix digest; key_inputs: the preprocessing, and for augmented
 * views the augmentation and seed too. A folder that cannot be used is reported in
 * *warning (may be NULL); the store then works in memory. */
GraftBoundaryStore *graft_boundary_store_new (const char *folder, const char *key_model, const char *key_boundary,
                                              const char *key_inputs, int dim, char **warning);
void graft_boundary_store_free (GraftBoundaryStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftBoundaryStore, graft_boundary_store_free)

int graft_boundary_store_dim (const GraftBoundaryStore *store);
/* The cache file, or NULL in memory. */
const char *graft_boundary_store_path (const GraftBoundaryStore *store);
/* The row of an image's view, or NULL. Valid until the store is freed. */
const float *graft_boundary_store_lookup (GraftBoundaryStore *store, const char *image_hash, int view);
/* Keeps a copy of row for an image's view and returns it (valid until the store is
 * freed). image_hash NULL (an image that could not be hashed) keeps it in memory
 * where no lookup finds it. A row the cache file cannot take stays in memory, and
 * error says why (for the log). */
const float *graft_boundary_store_insert (GraftBoundaryStore *store, const char *image_hash, int view,
                                          const float *row, GError **error);

/* Bytes rows of dim floats take (in memory, and on disk with their record headers). */
guint64 graft_boundary_store_bytes (guint64 rows, int dim);

G_END_DECLS
