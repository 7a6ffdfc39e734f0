/* onnx-import-private.h: what the importer's files share.
 *
 * onnx-import.c          the driver: model checks, initializers, the input, node order
 * onnx-import-support.c  messages, attributes, entries (ONNX names), shape helpers
 * onnx-import-tensor.c   tensors known at import and TensorProto decoding
 * onnx-import-fold.c     folding on constants and the ops folded at import
 * onnx-import-ops.c      the ops that become engine nodes, and the table of importers
 *
 * See onnx-import.c for the order of work and how constants enter the engine graph.
 */
#pragma once

#include "model/model.h"
#include "model/model-private.h"
#include "model/onnx.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

G_BEGIN_DECLS

#define MIN_IR_VERSION 3
#define MAX_IR_VERSION 9
#define MIN_OPSET 7
#define MAX_OPSET 17
#define MAX_NODE_INPUTS 65536
#define MAX_FOLDED_ELEMENTS ((size_t) 1 << 24)
/* Per image: no real image model comes near this (a 1 GiB tensor), and a plan would
 * try to allocate it. */
#define MAX_ACTIVATION_ELEMENTS ((size_t) 1 << 28)
/* Decoded initializers larger than this are dropped once the engine has its copy. */
#define KEEP_DECODED_ELEMENTS 4096

/* Per element of an integer constant: what it is at batch sizes other than 1. */
enum {
  ELEMENT_STATIC,   /* the same at every batch size */
  ELEMENT_BATCH,    /* the batch size itself */
  ELEMENT_DERIVED,  /* computed from the batch size */
};

typedef enum {
  TENSOR_FLOAT,
  TENSOR_INT,
} TensorType;

typedef struct {
  TensorType type;
  graft_shape shape;
  size_t count;
  float *floats;   /* TENSOR_FLOAT */
  gint64 *ints;    /* TENSOR_INT */
  guint8 *flags;   /* TENSOR_INT: ELEMENT_* per element */
} Tensor;

/* What tensor_proto_inspect finds out about a TensorProto. */
typedef struct {
  TensorType type;
  gint32 data_type;
  graft_shape shape;
  size_t count;
  size_t element_size;   /* bytes per element in raw or external data */
} TensorInfo;

typedef enum {
  ENTRY_VALUE,     /* an engine value: the input or an activation */
  ENTRY_CONSTANT,  /* known at import */
  ENTRY_PADDED,    /* an engine value with zero padding still to apply (Pad before Conv) */
} EntryKind;

typedef struct {
  EntryKind kind;
  char *name;                      /* the ONNX tensor name */
  int value;                       /* VALUE, PADDED: the engine value; CONSTANT: once materialised, else -1 */
  int pads[4];                     /* PADDED: top, left, bottom, right */
  const Onnx__TensorProto *proto;  /* CONSTANT from an initializer or a Constant node: decoded on demand */
  Tensor *tensor;                  /* CONSTANT: the data, when decoded */
} Entry;

typedef struct {
  guint count;        /* node inputs and graph outputs that read the tensor */
  int last_consumer;  /* file index of the last node reading it; -1 for a graph output */
} Use;

typedef struct {
  const char *name;        /* for messages */
  const char *base_dir;    /* external data; NULL refuses it */
  gint64 opset;
  const Onnx__GraphProto *graph_proto;
  GraftModel *model;
  graft_graph *graph;
  GHashTable *entries;     /* ONNX name -> Entry */
  GHashTable *uses;        /* ONNX name -> Use */
  GHashTable *producers;   /* ONNX name -> GINT_TO_POINTER (file index + 1) */
  GHashTable *initializers; /* ONNX name -> const Onnx__TensorProto */
  char **node_names;       /* per file index: the node's name, or op_type + index */
  gboolean *folded;        /* per file index: already imported with an earlier node */
  int current;             /* file index of the node being imported, -1 outside nodes */
  int input_value;
  gint64 file_batch;       /* the batch size the file declares (1 when symbolic) */
  gboolean fixed_batch;    /* the file declares a number there, not a symbol */
} Importer;

typedef gboolean (*NodeImporter) (Importer *im, const Onnx__NodeProto *node, GError **error);
/* One importer for several ops: variant says which (an activation kind, '+' for Add...). */
typedef gboolean (*VariantImporter) (Importer *im, const Onnx__NodeProto *node, int variant, GError **error);

/* Each op with either its own importer or a shared one and the variant to pass it. */
typedef struct {
  const char *op_type;
  NodeImporter import;
  VariantImporter import_variant;
  int variant;
} OpImporter;

/* Hidden: the importer's own names (lookup, add_node...) stay inside the programs that
 * link libgraft and cannot clash with a shared library's. */
#pragma GCC visibility push(hidden)

/* onnx-import-ops.c: every op the importer knows; the driver looks each node up here. */
extern const OpImporter node_importers[];
extern const size_t n_node_importers;

/* onnx-import-support.c */
gboolean import_error (Importer *im, GError **error, GraftModelError code, const char *format,
                       ...) G_GNUC_PRINTF (4, 5);
const char *op_type_of (const Onnx__NodeProto *node);
gboolean is_default_domain (const char *domain);
gboolean node_error (Importer *im, GError **error, GraftModelError code, const char *format,
                     ...) G_GNUC_PRINTF (4, 5);
gboolean engine_error (Importer *im, GError **error, const graft_error *engine);
const char *data_type_name (gint32 type);
const Onnx__AttributeProto *find_attribute (const Onnx__NodeProto *node, const char *name);
gboolean attribute_type_is (const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType type);
gboolean attribute_int (Importer *im, const Onnx__NodeProto *node, const char *name, gint64 fallback,
                        gint64 *out, GError **error);
gboolean attribute_float (Importer *im, const Onnx__NodeProto *node, const char *name, float fallback,
                          float *out, GError **error);
gboolean attribute_ints (Importer *im, const Onnx__NodeProto *node, const char *name, const gint64 **values,
                         size_t *count, GError **error);
gboolean attribute_string (Importer *im, const Onnx__NodeProto *node, const char *name, const char *fallback,
                           char **out, GError **error);
gboolean attribute_int_list (Importer *im, const Onnx__NodeProto *node, const char *name, size_t n,
                             int fallback, int lo, int hi, int *out, gboolean *present, GError **error);
void entry_free (Entry *entry);
Entry *lookup (Importer *im, const char *name);
Entry *define_entry (Importer *im, const char *name, EntryKind kind);
void define_value (Importer *im, const char *name, int value);
void define_constant (Importer *im, const char *name, Tensor *tensor);
const Tensor *entry_tensor (Importer *im, Entry *entry, GError **error);
const char *input_name (const Onnx__NodeProto *node, size_t i);
const char *output_name (const Onnx__NodeProto *node, size_t i);
guint use_count (Importer *im, const char *name);
gboolean is_graph_output (Importer *im, const char *name);
Entry *input_entry (Importer *im, const Onnx__NodeProto *node, size_t i);
gboolean is_constant (Entry *entry);
gboolean check_input_count (Importer *im, const Onnx__NodeProto *node, size_t min, size_t max, GError **error);
gboolean check_extra_outputs (Importer *im, const Onnx__NodeProto *node, size_t computed, const char *what,
                              GError **error);
int materialise (Importer *im, Entry *entry, graft_value_kind kind, GError **error);
int value_input (Importer *im, const Onnx__NodeProto *node, size_t i, graft_value_kind constant_kind,
                 GError **error);
const Tensor *constant_input (Importer *im, const Onnx__NodeProto *node, size_t i, const char *role, GError **error);
const graft_shape *value_shape (Importer *im, int value);
int add_node (Importer *im, const char *suffix, const graft_node_attributes *attributes, const int *inputs,
              int n_inputs, const char *output, GError **error);
gboolean define_alias (Importer *im, const char *suffix, const Entry *x, const char *output, GError **error);
gboolean constant_ints (Importer *im, const Tensor *t, const char *role, const gint64 **values,
                        const guint8 **flags, size_t *count, GError **error);
gboolean constant_scalar (Importer *im, const Tensor *t, const char *role, double *out, GError **error);
gboolean axes_argument (Importer *im, const Onnx__NodeProto *node, gboolean from_input, const gint64 **axes,
                        size_t *n_axes, gboolean *present, GError **error);
gboolean normalise_axis (Importer *im, gint64 axis, int rank, int *out, GError **error);
gboolean unsqueeze_shape (Importer *im, const graft_shape *in, const gint64 *axes, size_t n_axes,
                          graft_shape *out, int *moved, GError **error);
gboolean squeeze_shape (Importer *im, const graft_shape *in, const gint64 *axes, size_t n_axes, gboolean present,
                        gboolean keep_first, graft_shape *out, GError **error);

/* onnx-import-tensor.c */
void tensor_free (Tensor *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Tensor, tensor_free)
Tensor *tensor_new (Importer *im, TensorType type, const graft_shape *shape, GError **error);
Tensor *tensor_copy (const Tensor *t);
double tensor_get (const Tensor *t, size_t i);
void shape_strides (const graft_shape *shape, size_t *strides);
void tensor_copy_element (Tensor *dst, size_t to, const Tensor *src, size_t from);
gboolean tensor_proto_inspect (Importer *im, const Onnx__TensorProto *t, const char *tensor_name,
                               TensorInfo *info, guint8 **external, GError **error);
Tensor *tensor_proto_decode (Importer *im, const Onnx__TensorProto *t, const char *tensor_name, GError **error);

/* onnx-import-fold.c */
Tensor *fold_reshape_to (Importer *im, const Tensor *in, const graft_shape *shape, GError **error);
Tensor *fold_binary (Importer *im, char op, const Tensor *a, const Tensor *b, GError **error);
Tensor *fold_concat (Importer *im, const Tensor *const *parts, size_t n, gint64 axis_attribute, GError **error);
gboolean all_inputs_constant (Importer *im, const Onnx__NodeProto *node);
gboolean import_constant (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_shape (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_gather (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_cast (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_slice (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_split (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_constant_of_shape (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean batch_dims (Importer *im, int value, const graft_shape *at_one, guint8 *flags);
gboolean import_mod (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_pow (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_sqrt (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_not (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_range (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_scatter_nd (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean fold_transpose (Importer *im, const Onnx__NodeProto *node, const Tensor *x, const gint64 *perm, size_t n,
                         GError **error);
gboolean fold_pad (Importer *im, const Onnx__NodeProto *node, const Tensor *x, const gint64 *pads, size_t n,
                   double value, GError **error);

/* onnx-import-ops.c: the importers the chains fall back to. */
gboolean import_reduce_mean (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_binary (Importer *im, const Onnx__NodeProto *node, int op, GError **error);

/* onnx-import-transformer.c: LayerNorm and GELU recognised in PyTorch's op chains, the
 * ONNX LayerNormalization op, and the ReduceMean and Div that start those chains. */
gboolean import_layer_normalization (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_reduce_mean_or_layernorm (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_div_or_gelu (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_mul_or_gelu (Importer *im, const Onnx__NodeProto *node, GError **error);
int swin_relative_bias (Importer *im, const Onnx__NodeProto *node, Entry *bias, Entry *scores, GError **error);
gboolean is_parameter_name (const char *name);
int gather_parameter (Importer *im, Entry *table, const Tensor *indices, int axis, const char *indices_name,
                      const char *output, GError **error);
gboolean import_equal (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_where (Importer *im, const Onnx__NodeProto *node, GError **error);
gboolean import_expand (Importer *im, const Onnx__NodeProto *node, GError **error);
size_t broadcast_index (const graft_shape *out, const graft_shape *in, size_t i);
gboolean broadcast_shape (Importer *im, const graft_shape *const *in, int n, graft_shape *out, GError **error);
guint8 element_flag (const Tensor *t, size_t i);

#pragma GCC visibility pop

G_END_DECLS
