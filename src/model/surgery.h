/* surgery.h: cutting a pretrained network and grafting a new head on it.
 *
 * "Replace the top layers": keep every node the cut value depends on, drop the rest,
 * and add a new head: [GlobalAveragePool when the cut is (N,C,H,W)] then, for each
 * hidden layer, [Dropout] Gemm [BatchNormalization] activation, and last [Dropout]
 * Gemm to the classes. Feature extraction is the same with the cut at the input of the
 * model's own classifier and a linear head.
 */
#pragma once

#include <glib.h>

#include "engine/ops.h"
#include "model/model.h"

G_BEGIN_DECLS

#define GRAFT_HEAD_MAX_HIDDEN 4

typedef struct {
  int n_hidden;                         /* 0: linear */
  int hidden[GRAFT_HEAD_MAX_HIDDEN];
  graft_activation_kind activation;     /* RELU, LEAKY_RELU, HARD_SWISH, SIGMOID */
  float dropout;                        /* before each Gemm, 0..0.9 */
  gboolean batchnorm;                   /* after each hidden Gemm */
} GraftHeadSpec;

/* The node index of the model's classifier: its last Gemm with parameters, or, without
 * one, its last parameterised node when that is a Conv (SqueezeNet); -1 if none. */
int graft_model_find_classifier (const GraftModel *model);

/* The value a head is grafted on by default: the classifier's input, before any
 * Dropout that feeds it; -1 when the model has no classifier. */
int graft_model_default_cut (const GraftModel *model);

/* Whether the model's feature maps are (N, H, W, C): its classifier's global pooling
 * reads them through a Transpose to (N, C, H, W), as Swin's does. */
gboolean graft_model_pools_channels_last (const GraftModel *model);

/* Parameter elements of the head for an input of `features` values. */
guint64 graft_head_parameter_count (const GraftHeadSpec *head, guint64 features, int classes);

/* A new model: base's nodes up to cut, then head (parameters "head.N.weight",
 * "head.N.bias" ..., initialised as PyTorch initialises nn.Linear, from seed). The cut
 * is (N, features), (N, C, H, W) or, in a model that pools channels last, (N, H, W, C)
 * (both averaged over H and W), or a transformer's tokens (N, tokens, features), of
 * which the head reads the first (ViT's class token). Its
 * output and logits are the head's (N, classes); its blocks are base's, cut down to the
 * nodes kept, then one block "head". Parameters keep their names, data, trainable flags
 * and lr multipliers; base is not changed. */
GraftModel *graft_model_graft_head (const GraftModel *base, int cut, const GraftHeadSpec *head,
                                    int classes, guint64 seed, GError **error);

G_END_DECLS
