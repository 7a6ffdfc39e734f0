/* graph.h: a network as a DAG of values and nodes.
 *
 * Values are graph inputs (fed per batch), parameters (learned; trainable or frozen),
 * buffers (state that is not learned by gradient, such as BatchNorm running statistics),
 * constants, and activations (each produced by exactly one node). A node reads any
 * values and produces one activation. Nodes can only consume values that already
 * exist, so the order in which nodes are added is a topological order and a graph
 * can never hold a cycle.
 *
 * The data of parameters, buffers and constants belongs to the graph. After
 * graft_graph_pack it lives in one 64-byte aligned allocation, carved per value.
 * Activations have no data here: a plan (plan.h) owns them, shaped for its batch.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/ops.h"
#include "engine/status.h"
#include "engine/tensor.h"

typedef enum {
  GRAFT_VALUE_INPUT,
  GRAFT_VALUE_PARAMETER,
  GRAFT_VALUE_BUFFER,
  GRAFT_VALUE_CONSTANT,
  GRAFT_VALUE_ACTIVATION,
} graft_value_kind;

typedef enum {
  GRAFT_OP_CONV,            /* x, w [, bias] */
  GRAFT_OP_BATCHNORM,       /* x, gamma, beta, running_mean (buffer), running_var (buffer) */
  GRAFT_OP_ACTIVATION,      /* x */
  GRAFT_OP_ADD,             /* a, b */
  GRAFT_OP_MUL,             /* a, b */
  GRAFT_OP_CONCAT,          /* x1 ... xk */
  GRAFT_OP_MAXPOOL,         /* x */
  GRAFT_OP_AVGPOOL,         /* x */
  GRAFT_OP_MEAN_SPATIAL,    /* x (N,C,H,W): GlobalAveragePool, ReduceMean over H,W */
  GRAFT_OP_RESHAPE,         /* x: Reshape (0 copies a dim, -1 is inferred), Identity with rank -1 */
  GRAFT_OP_FLATTEN,         /* x */
  GRAFT_OP_TRANSPOSE,       /* x */
  GRAFT_OP_GEMM,            /* a, b [, c] */
  GRAFT_OP_DROPOUT,         /* x: identity at inference */
  GRAFT_OP_SOFTMAX,         /* x, along the last axis */
  GRAFT_OP_SLICE,           /* x: a range of one axis (ONNX Split, one node per output; Slice) */
  GRAFT_OP_ABS,             /* x */
  GRAFT_OP_LAYERNORM,       /* x [, scale [, bias]]: over the axes from attributes.layernorm.axis */
  GRAFT_OP_GELU,            /* x */
  GRAFT_OP_MATMUL,          /* a, b: numpy matmul, batch dims broadcast */
  GRAFT_OP_SOFTMAX_AXIS,    /* x, along attributes.softmax_axis.axis */
  GRAFT_OP_RESIZE,          /* x (N,C,H,W) -> (N,C,out_h,out_w) */
  GRAFT_OP_GATHER,          /* data, indices (a constant of whole numbers): ONNX Gather on attributes.gather.axis */
  GRAFT_OP_COUNT
} graft_op;

typedef struct {
  graft_op op;
  union {
    struct {
      int kh, kw, stride_h, stride_w, dilation_h, dilation_w;
      int pad_top, pad_left, pad_bottom, pad_right;
      int groups;
    } conv;
    struct { float epsilon, momentum; } batchnorm;
    graft_activation_params activation;
    struct {
      int kh, kw, stride_h, stride_w;
      int pad_top, pad_left, pad_bottom, pad_right;
      bool ceil_mode, count_include_pad;
    } pool;
    struct { bool keep_dims; } mean_spatial;  /* (N,C,1,1) or (N,C) */
    struct { int rank; int64_t dims[GRAFT_MAX_RANK]; } reshape; /* rank -1: identity */
    struct { int axis; } flatten;              /* (prod dims < axis, prod dims >= axis) */
    struct { int axis; } concat;               /* negative counts from the end */
    struct { int perm[GRAFT_MAX_RANK]; } transpose;
    struct { bool trans_a, trans_b; float alpha, beta; } gemm;
    struct { float ratio; } dropout;
    struct { int axis; int64_t start, end; } slice; /* [start, end) of axis; negative axis counts from the end */
    struct { int axis; float epsilon; } layernorm;  /* first normalised axis; negative counts from the end */
    struct { graft_gelu_kind kind; } gelu;
    struct { int axis; } softmax_axis;             /* negative counts from the end */
    struct {
      graft_resize_mode mode;
      graft_resize_coordinates coordinates;
      graft_resize_rounding rounding;
      int64_t out_h, out_w;
      double scale_h, scale_w;                     /* output / input, as the file gives it */
    } resize;
    struct { int axis; } gather;                   /* negative counts from the end */
  };
} graft_node_attributes;

typedef struct {
  char *name;
  graft_value_kind kind;
  graft_shape shape;        /* inputs: as declared (dims[0] is the batch; a plan uses its own);
                               activations: as inferred from the declared input shapes */
  float *data;              /* parameters, buffers, constants */
  int producer;             /* node index for activations, -1 otherwise */
  bool trainable;           /* parameters: false = frozen */
  float lr_multiplier;      /* parameters: the optimizer's learning rate is multiplied by it */
} graft_value;

typedef struct {
  char *name;
  graft_node_attributes attributes;
  int *inputs;
  int n_inputs;
  int output;
  bool batchnorm_batch_statistics; /* BatchNorm in a training plan: batch statistics (true, the
                                      default) or running statistics (inference mode, for frozen blocks) */
} graft_node;

typedef struct graft_graph graft_graph;

graft_graph *graft_graph_new (void);
void graft_graph_free (graft_graph *graph);

/* Each returns the new value's index, or -1 with error set. Names are unique. */
int graft_graph_add_input (graft_graph *graph, const char *name, const graft_shape *shape, graft_error *error);
/* kind is PARAMETER, BUFFER or CONSTANT; data (count of shape floats) is copied, NULL gives zeros.
 * Parameters start trainable with lr multiplier 1. */
int graft_graph_add_tensor (graft_graph *graph, const char *name, graft_value_kind kind,
                            const graft_shape *shape, const float *data, graft_error *error);
/* Adds a node reading inputs and producing the activation output_name; checks the op's
 * arity and infers the output shape at batch 1 (so bad shapes fail here, by name).
 * Returns the output value's index. */
int graft_graph_add_node (graft_graph *graph, const char *name, const graft_node_attributes *attributes,
                          const int *inputs, int n_inputs, const char *output_name, graft_error *error);

int graft_graph_value_count (const graft_graph *graph);
int graft_graph_node_count (const graft_graph *graph);
const graft_value *graft_graph_value (const graft_graph *graph, int index);
const graft_node *graft_graph_node (const graft_graph *graph, int index);
/* -1 when there is no such value. */
int graft_graph_find_value (const graft_graph *graph, const char *name);
/* Parameter, buffer or constant data (count floats of its shape). */
float *graft_graph_tensor_data (graft_graph *graph, int value);

void graft_graph_set_trainable (graft_graph *graph, int value, bool trainable);
void graft_graph_set_lr_multiplier (graft_graph *graph, int value, float multiplier);
void graft_graph_set_batchnorm_batch_statistics (graft_graph *graph, int node, bool batch_statistics);

/* Number of parameter elements, all or trainable only. */
size_t graft_graph_parameter_count (const graft_graph *graph, bool trainable_only);

/* Moves the data of every parameter, buffer and constant into one allocation.
 * Plans pack their graph when they are created. */
graft_status graft_graph_pack (graft_graph *graph, graft_error *error);

/* The name of op, as ONNX spells it where there is one ("Conv", "BatchNormalization"...). */
const char *graft_op_name (graft_op op);
/* The same for a node, an activation by its kind ("Relu", "HardSwish"...). */
const char *graft_node_op_name (const graft_node *node);

/* Shape inference for one node: the output shape from the input shapes. Used by
 * graft_graph_add_node and by plans (which redo it for their batch size). */
graft_status graft_node_infer_shape (const graft_node *node, const graft_shape *const *input_shapes,
                                     graft_shape *output, graft_error *error);

/* The op params of a Conv node whose input x and weight w are (N,C,H,W) and
 * (M,C/groups,KH,KW), and of a MaxPool or AveragePool node whose input x is (N,C,H,W),
 * ready for their _setup: shape inference and plans build them here, the same way. */
graft_conv2d_params graft_node_conv2d_params (const graft_node *node, const graft_shape *x, const graft_shape *w);
graft_pool2d_params graft_node_pool2d_params (const graft_node *node, const graft_shape *x);
