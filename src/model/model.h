/* model.h: a pretrained network as Graft knows it: the engine graph built from an
 * ONNX file, what the file said about itself, and the blocks a person freezes.
 *
 * Initializer names survive import, training and export, so a freeze plan or a
 * schedule can refer to parameters by name.
 */
#pragma once

#include <glib.h>

#include "engine/graph.h"

G_BEGIN_DECLS

#define GRAFT_MODEL_ERROR (graft_model_error_quark ())
GQuark graft_model_error_quark (void);

typedef enum {
  GRAFT_MODEL_ERROR_IO,          /* cannot read or write the file */
  GRAFT_MODEL_ERROR_PARSE,       /* not a protobuf ModelProto, or truncated */
  GRAFT_MODEL_ERROR_INVALID,     /* well-formed protobuf, but not a valid model (missing inputs, cycles, bad shapes) */
  GRAFT_MODEL_ERROR_UNSUPPORTED, /* valid ONNX that Graft cannot run: names the op, node and opset */
} GraftModelError;

/* A run of consecutive nodes (in graph order) that a person freezes or trains as one. */
typedef struct {
  char *name;           /* "features.3", "layer2.1", or "block 7" where names say nothing */
  int first_node;       /* inclusive node indices in the graph */
  int last_node;
  guint64 parameters;   /* parameter elements read by its nodes */
  double flops;         /* multiply-adds x 2, per image, at the model's input size */
} GraftBlock;

/* Per node, at batch 1 and the model's input size. */
typedef struct {
  graft_shape output_shape;
  guint64 parameters;
  double flops;
} GraftLayerInfo;

typedef struct {
  graft_graph *graph;
  int input;            /* the graph input value; (N,C,H,W), or (N,H,W,C) when the file takes NHWC */
  int output;           /* the value the file names as its output */
  int logits;           /* the output before a trailing Softmax (== output when there is none) */
  char *input_name;
  char *output_name;
  gboolean input_nhwc;  /* the file's input is NHWC (a Transpose to NCHW follows it) */
  gint64 ir_version;
  gint64 opset;         /* of the default ("" / "ai.onnx") domain */
  char *producer_name;
  char *producer_version;
  char *graph_name;
  GHashTable *metadata; /* metadata_props: key -> value (both char *) */
  GArray *blocks;       /* GraftBlock */
  GArray *layers;       /* GraftLayerInfo, one per graph node */
} GraftModel;

/* Reads an ONNX file. External data files are resolved only inside the model's folder. */
GraftModel *graft_model_load (const char *path, GError **error);
/* The same from memory; base_dir (may be NULL: external data is then refused) is where
 * external data files live. name is used in messages. */
GraftModel *graft_model_load_from_data (const guint8 *data, gsize size, const char *base_dir,
                                        const char *name, GError **error);
void graft_model_free (GraftModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftModel, graft_model_free)

/* Fills model->layers and model->blocks from the graph (called by load; call again
 * after changing the graph). */
gboolean graft_model_analyse (GraftModel *model, GError **error);

/* Writing. */
typedef struct {
  gboolean softmax_output;  /* append a Softmax to the logits: outputs are probabilities */
  const char *producer_version; /* NULL: Graft's version */
} GraftExportOptions;

/* Writes model as ONNX (opset 13, or 14 when a HardSwish needs it; IR 7): BatchNormalization in inference form, the batch
 * dimension of input and output dynamic ("N"), initializers under their names, and
 * model->metadata as metadata_props. The file is written to a temporary name and renamed,
 * so a failure never leaves a half-written model behind. */
gboolean graft_model_save (GraftModel *model, const char *path, const GraftExportOptions *options,
                           GError **error);
/* The same into memory. */
GBytes *graft_model_save_to_bytes (GraftModel *model, const GraftExportOptions *options, GError **error);

/* Metadata keys Graft writes (values are JSON where structured). */
#define GRAFT_METADATA_LABELS "graft.labels"               /* ["cat", "dog"] */
#define GRAFT_METADATA_PREPROCESSING "graft.preprocessing" /* {"size":224,"resize":256,"crop":"center","mean":[..],"std":[..],"channels":"RGB","layout":"NCHW","scale":0.00392} */
#define GRAFT_METADATA_RECIPE "graft.recipe"               /* the training session spec */
#define GRAFT_METADATA_VERSION "graft.version"

G_END_DECLS
