#include "engine/plan.h"

#include "engine/op-table.h"
#ifdef GRAFT_HAVE_ONEDNN
#include "engine/onednn-backend.h"
#include "engine/onednn.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Time steps of a training step, used for lifetimes: forward of node i runs at i,
 * the loss at n, backward of node i at 2n - i. Kept values live to the end. */
#define FORWARD_STEP(i) (i)
#define LOSS_STEP(n) (n)
#define BACKWARD_STEP(n, i) (2 * (n) - (i))
#define LAST_STEP(n) (2 * (n) + 1)

/* What GRAFT_PLAN_KERNELS_AUTO picks where oneDNN is available: oneDNN on x86-64, where
 * its jit kernels run (elsewhere it would run its reference loops). */
#if defined(__x86_64__)
#define GRAFT_PLAN_AUTO_ONEDNN true
#else
#define GRAFT_PLAN_AUTO_ONEDNN false
#endif

typedef struct {
  size_t size;     /* floats, a multiple of the alignment */
  size_t offset;   /* floats into the activation arena */
  int start, end;  /* inclusive lifetime */
} slot;

typedef struct {
  graft_shape shape;     /* at this batch */
  size_t count;
  int data_slot;         /* inputs and activations; -1 otherwise */
  int grad_slot;         /* activations whose gradient is needed; -1 otherwise */
  bool requires_grad;    /* depends on a trainable parameter */
  bool leads_to_loss;
  bool kept;
  float *data;
  float *grad;
} value_plan;

/* A node as the plan runs it: its descriptor (built-in or a backend's) and the context
 * the descriptor's functions receive, made once when the plan is. */
typedef struct {
  const graft_op_descriptor *descriptor;
  graft_op_context context;
  graft_op_state state;
  bool backward;
  /* Fused forward: a Conv or BatchNorm runs the Activation node right after it in the
   * same pass (fuses is that node, or -1); the Activation node then does nothing in
   * forward (fused_into is its producer, or -1). fused_keeps_input: the activation's
   * backward reads its input, so the producer writes its own output too. */
  int fuses, fused_into;
  bool fused_keeps_input;
  /* fuses is a Sigmoid whose output and this node's are multiplied by the node after
   * it (Swish): this node writes that product, and both nodes do nothing in forward. */
  bool fuses_swish;
  /* The Add right after the node, which adds the node's output to another value, runs in
   * its pass (fuses_add is that node, or -1); fuses, when set, is then the Activation after
   * the Add. */
  int fuses_add;
  /* Its backward runs the fused Add's and ReLU's backward too (descriptor fuses_backward),
   * which then do nothing in backward: the gradients between them get no memory. */
  bool fuses_backward;
  /* A MatMul's bias Add (fuses_bias) and the Gelu after it (fuses_gelu), or -1: the
   * MatMul writes the last one's output (is_bias_add). */
  int fuses_bias, fuses_gelu;
  int aux_slot;           /* what forward saves for backward (BN statistics, max-pool argmax, dropout mask) */
} node_plan;

struct graft_plan {
  graft_graph *graph;
  graft_plan_options options;
  float *class_weights;
  int n_values, n_nodes;
  value_plan *values;
  node_plan *nodes;
  slot *slots;
  int n_slots, slots_capacity;
  int probs_slot;
  float *probs;
  float *activations;
  size_t activation_floats, activation_floats_unshared;
  float *gradients;
  size_t gradient_floats;
  float *scratch;
  size_t scratch_floats;
  /* Every node's input shapes, data and gradient pointers (its context's arrays), in
   * node order. */
  const graft_shape **node_shapes;
  float **node_inputs;
  float **node_gradients;
  uint64_t forward_count;
  int backward_nodes;
  /* The oneDNN backend the plan chose (options.kernels), which gives some values a
   * blocked layout; kept blocked values are handed out plain, through these copies. */
  struct graft_onednn_backend *onednn;
  float **plain_copies;
};

/* Floats of a value's buffer: its count, or the padded count of a blocked value. */
static size_t
value_floats (const graft_plan *plan, int v)
{
#ifdef GRAFT_HAVE_ONEDNN
  if (plan->onednn != NULL)
    return graft_onednn_backend_value_floats (plan->onednn, v, &plan->values[v].shape, plan->values[v].count);
#endif
  return plan->values[v].count;
}

/* Whether the plan runs oneDNN: options.kernels, where AUTO is GRAFT_ENGINE_BACKEND
 * (portable or onednn), else oneDNN when the build has it, on x86-64 with AVX2 or
 * AVX-512. */
static graft_status
choose_kernels (const graft_plan_options *options, bool *onednn, graft_error *error)
{
  graft_plan_kernels kernels = options->kernels;
  const char *env = getenv ("GRAFT_ENGINE_BACKEND");
  bool available = false;

#ifdef GRAFT_HAVE_ONEDNN
  available = graft_onednn_available ();
#endif
  if (kernels == GRAFT_PLAN_KERNELS_AUTO && env != NULL && *env != '\0')
    {
      if (strcmp (env, "portable") == 0)
        kernels = GRAFT_PLAN_KERNELS_PORTABLE;
      else if (strcmp (env, "onednn") == 0)
        kernels = GRAFT_PLAN_KERNELS_ONEDNN;
      else
        return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                                "GRAFT_ENGINE_BACKEND is '%s': it takes portable or onednn", env);
    }
  if (kernels == GRAFT_PLAN_KERNELS_ONEDNN && !available)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED,
                            "the oneDNN backend is not available (a build without oneDNN, or a CPU without AVX2)");
  *onednn = kernels == GRAFT_PLAN_KERNELS_ONEDNN || (kernels == GRAFT_PLAN_KERNELS_AUTO && available && GRAFT_PLAN_AUTO_ONEDNN);
  /* The portable kernels have no bf16 path: refusing says so, where running f32 would
   * give results and timings the person did not ask for under bf16's name. */
  if (options->precision == GRAFT_PLAN_PRECISION_BF16 && !*onednn)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED,
                            "bf16 precision runs on the oneDNN backend only, and this plan runs the portable kernels");
  return GRAFT_OK;
}

static bool
is_tensor (graft_value_kind kind)
{
  return kind == GRAFT_VALUE_PARAMETER || kind == GRAFT_VALUE_BUFFER || kind == GRAFT_VALUE_CONSTANT;
}

static int
add_slot (graft_plan *plan, size_t count, int start, int end)
{
  size_t size;
  if (!graft_size_align_floats (count, &size))
    return -2;
  if (plan->n_slots == plan->slots_capacity)
    {
      int capacity = plan->slots_capacity ? plan->slots_capacity * 2 : 128;
      slot *slots = realloc (plan->slots, (size_t) capacity * sizeof *slots);
      if (slots == NULL)
        return -2;
      plan->slots = slots;
      plan->slots_capacity = capacity;
    }
  plan->slots[plan->n_slots] = (slot) { .size = size, .start = start, .end = end };
  return plan->n_slots++;
}

static void
extend (graft_plan *plan, int slot_index, int step)
{
  if (slot_index >= 0 && plan->slots[slot_index].end < step)
    plan->slots[slot_index].end = step;
}

/* Infers the node's output shape at this batch, picks its descriptor (the backend's, else the built-in one), fills the part of
 * its context that setup reads, and sets it up. */
static graft_status
setup_node (graft_plan *plan, int index, float **inputs_at, graft_error *error)
{
  const graft_node *node = graft_graph_node (plan->graph, index);
  node_plan *np = &plan->nodes[index];
  const graft_op_backend *backend = plan->options.backend;
  const graft_shape **shapes = plan->node_shapes + (inputs_at - plan->node_inputs);
  value_plan *out = &plan->values[node->output];

  for (int k = 0; k < node->n_inputs; k++)
    shapes[k] = &plan->values[node->inputs[k]].shape;
  if (graft_node_infer_shape (node, shapes, &out->shape, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  if (backend != NULL && backend->descriptor_for != NULL)
    np->descriptor = backend->descriptor_for (backend, node, shapes);
  if (np->descriptor == NULL)
    np->descriptor = graft_op_descriptor_for (node->attributes.op);
  if (np->descriptor == NULL)
    return graft_error_set (error, GRAFT_ERROR_UNSUPPORTED, "node '%s' has an unknown op", node->name);
  if (graft_shape_count (&out->shape, &out->count, error) != GRAFT_OK)
    return GRAFT_ERROR_SHAPE;
  out->count = value_floats (plan, node->output);
  np->context = (graft_op_context) {
    .node = node, .index = plan->options.node_index_base + index, .input_shapes = shapes,
    .output_shape = &out->shape, .output_count = out->count,
    .training = plan->options.mode == GRAFT_PLAN_TRAINING,
    .state = &np->state,
    .inputs = inputs_at,
    .gradients = plan->node_gradients + (inputs_at - plan->node_inputs),
  };
  return np->descriptor->setup != NULL ? np->descriptor->setup (&np->context, error) : GRAFT_OK;
}

/* Places every slot at the lowest offset that no slot with an overlapping lifetime
 * uses, largest first. */
static graft_status
assign_offsets (graft_plan *plan, graft_error *error)
{
  int n = plan->n_slots;
  int *order = malloc ((size_t) (n ? n : 1) * sizeof (int));
  int *placed = malloc ((size_t) (n ? n : 1) * sizeof (int));
  int n_placed = 0;
  size_t total = 0, unshared = 0;

  if (order == NULL || placed == NULL)
    {
      free (order);
      free (placed);
      return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory planning activations");
    }
  for (int i = 0; i < n; i++)
    order[i] = i;
  /* Insertion sort by size, descending, stable: a few hundred slots. */
  for (int i = 1; i < n; i++)
    {
      int key = order[i], j = i - 1;
      while (j >= 0 && plan->slots[order[j]].size < plan->slots[key].size)
        {
          order[j + 1] = order[j];
          j--;
        }
      order[j + 1] = key;
    }
  for (int k = 0; k < n; k++)
    {
      slot *s = &plan->slots[order[k]];
      size_t offset = 0;
      bool moved = true;
      unshared += s->size;
      while (moved)
        {
          moved = false;
          for (int q = 0; q < n_placed; q++)
            {
              const slot *o = &plan->slots[placed[q]];
              if (o->start <= s->end && s->start <= o->end
                  && o->offset < offset + s->size && offset < o->offset + o->size)
                {
                  offset = o->offset + o->size;
                  moved = true;
                }
            }
        }
      s->offset = offset;
      placed[n_placed++] = order[k];
      if (offset + s->size > total)
        total = offset + s->size;
    }
  free (order);
  free (placed);
  plan->activation_floats = total;
  plan->activation_floats_unshared = unshared;
  return GRAFT_OK;
}

void
graft_plan_free (graft_plan *plan)
{
  if (plan == NULL)
    return;
  if (plan->nodes != NULL)
    for (int i = 0; i < plan->n_nodes; i++)
      if (plan->nodes[i].descriptor != NULL && plan->nodes[i].descriptor->release != NULL)
        plan->nodes[i].descriptor->release (&plan->nodes[i].context);
  free (plan->nodes);
  free (plan->values);
  free (plan->slots);
  free (plan->class_weights);
  free (plan->node_shapes);
  free (plan->node_inputs);
  free (plan->node_gradients);
  graft_floats_free (plan->activations);
  graft_floats_free (plan->gradients);
  graft_floats_free (plan->scratch);
#ifdef GRAFT_HAVE_ONEDNN
  graft_onednn_backend_free (plan->onednn);
#endif
  if (plan->plain_copies != NULL)
    for (int v = 0; v < plan->n_values; v++)
      graft_floats_free (plan->plain_copies[v]);
  free (plan->plain_copies);
  free (plan);
}

static graft_status
out_of_memory (graft_error *error, const char *what, size_t floats)
{
  return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY,
                          "not enough memory for %s (%.1f MiB)", what, floats * 4.0 / 1048576.0);
}

/* How many node inputs and kept values read value v. */
static int
value_readers (const graft_plan *plan, const graft_plan_options *options, int v)
{
  int readers = 0;
  for (int k = 0; k < options->n_keep; k++)
    readers += options->keep[k] == v;
  for (int j = 0; j < plan->n_nodes; j++)
    {
      const graft_node *reader = graft_graph_node (plan->graph, j);
      for (int k = 0; k < reader->n_inputs; k++)
        readers += reader->inputs[k] == v;
    }
  return readers;
}

/* Whether nodes i + 1 and i + 2 are Swish as ONNX writes it, y * Sigmoid (y) of node i's
 * output y, read by nothing else, that the producer can write as one activation: only
 * where neither node runs backward (inference, or a frozen part), since Mul's and
 * Sigmoid's backwards would read y and the sigmoid, which the fused pass does not write,
 * and only where the product is laid out as y is (the same floats in the backend). */
static bool
is_swish (const graft_plan *plan, const graft_plan_options *options, int i)
{
  const graft_graph *graph = plan->graph;
  const graft_node *sigmoid, *mul;
  int v = graft_graph_node (graph, i)->output, s;

  if (i + 2 >= plan->n_nodes || plan->nodes[i + 1].backward || plan->nodes[i + 2].backward)
    return false;
  sigmoid = graft_graph_node (graph, i + 1);
  mul = graft_graph_node (graph, i + 2);
  s = sigmoid->output;
  if (sigmoid->attributes.op != GRAFT_OP_ACTIVATION || sigmoid->attributes.activation.kind != GRAFT_ACTIVATION_SIGMOID
      || sigmoid->inputs[0] != v || mul->attributes.op != GRAFT_OP_MUL
      || !((mul->inputs[0] == v && mul->inputs[1] == s) || (mul->inputs[0] == s && mul->inputs[1] == v)))
    return false;
  return value_readers (plan, options, v) == 2 && value_readers (plan, options, s) == 1
         && s != options->loss_logits && mul->output != options->loss_logits
         && graft_shape_equal (&plan->values[v].shape, &plan->values[mul->output].shape)
         && plan->values[v].count == plan->values[mul->output].count;
}

/* Whether node i + 1 is an Add of node i's output (read by nothing else) and another
 * value of the same layout, which node i can add in its pass; *other is that value. */
static bool
is_residual_add (const graft_plan *plan, const graft_plan_options *options, int i, int *other)
{
  const graft_graph *graph = plan->graph;
  const graft_node *add;
  int v = graft_graph_node (graph, i)->output;

  if (!plan->nodes[i].descriptor->fuses_add || i + 1 >= plan->n_nodes)
    return false;
  add = graft_graph_node (graph, i + 1);
  if (add->attributes.op != GRAFT_OP_ADD || add->n_inputs != 2 || add->inputs[0] == add->inputs[1]
      || (add->inputs[0] != v && add->inputs[1] != v))
    return false;
  *other = add->inputs[0] == v ? add->inputs[1] : add->inputs[0];
  return value_readers (plan, options, v) == 1 && v != options->loss_logits && add->output != options->loss_logits
         && graft_graph_value (graph, *other)->kind == GRAFT_VALUE_ACTIVATION
         && graft_shape_equal (&plan->values[v].shape, &plan->values[*other].shape)
         && plan->values[v].count == plan->values[*other].count
         && plan->values[v].count == plan->values[add->output].count;
}

/* Whether node i + 1 adds a bias to node i's output (read by nothing else): a parameter
 * or constant of the output's last dim (a Linear layer's, after a MatMul), which node i
 * can add in its pass. Only where neither node runs backward (inference, a frozen
 * part): the Add's backward would read the gradient of node i's unwritten output. */
static bool
is_bias_add (const graft_plan *plan, const graft_plan_options *options, int i)
{
  const graft_graph *graph = plan->graph;
  const graft_node *add;
  const graft_value *bias;
  int v = graft_graph_node (graph, i)->output;
  const graft_shape *y = &plan->values[v].shape;

  if (!plan->nodes[i].descriptor->fuses_bias || i + 1 >= plan->n_nodes || plan->nodes[i].backward
      || plan->nodes[i + 1].backward)
    return false;
  add = graft_graph_node (graph, i + 1);
  if (add->attributes.op != GRAFT_OP_ADD || add->n_inputs != 2 || add->inputs[0] == add->inputs[1]
      || (add->inputs[0] != v && add->inputs[1] != v))
    return false;
  bias = graft_graph_value (graph, add->inputs[add->inputs[0] == v ? 1 : 0]);
  if ((bias->kind != GRAFT_VALUE_PARAMETER && bias->kind != GRAFT_VALUE_CONSTANT) || bias->shape.rank < 1
      || bias->shape.rank > y->rank || bias->shape.dims[bias->shape.rank - 1] != y->dims[y->rank - 1])
    return false;
  for (int d = 0; d + 1 < bias->shape.rank; d++)
    if (bias->shape.dims[d] != 1)
      return false;
  return value_readers (plan, options, v) == 1 && v != options->loss_logits && add->output != options->loss_logits
         && plan->values[add->output].count == plan->values[v].count;
}

/* Finds the pairs that run as one pass, an op whose descriptor fuses an activation
 * (Conv, BatchNorm; the oneDNN backend's Add) and the Activation after it: the
 * activation is the next node and the only reader of the producer's output, which is
 * not kept. The activation's backward is unchanged; when it reads its input (Clip,
 * HardSwish...) the fused pass writes the producer's output as well. Sigmoid and Mul
 * after it (is_swish) run as the Swish activation, as a triple. */
static void
plan_fusions (graft_plan *plan, const graft_plan_options *options)
{
  const graft_graph *graph = plan->graph;

  for (int i = 0; i < plan->n_nodes; i++)
    plan->nodes[i].fuses = plan->nodes[i].fused_into = plan->nodes[i].fuses_add = plan->nodes[i].fuses_bias
      = plan->nodes[i].fuses_gelu = -1;
  if (plan->options.unfused)
    return;
  for (int i = 0; i + 1 < plan->n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (graph, i), *next = graft_graph_node (graph, i + 1);
      int v = node->output, other;
      bool needs_x, needs_y;

      /* A Linear's bias Add, and the Gelu after it when it is the Add's only reader. */
      if (plan->nodes[i].fused_into < 0 && is_bias_add (plan, options, i))
        {
          const graft_node *gelu = i + 2 < plan->n_nodes ? graft_graph_node (graph, i + 2) : NULL;
          plan->nodes[i].fuses_bias = i + 1;
          plan->nodes[i + 1].fused_into = i;
          if (gelu != NULL && gelu->attributes.op == GRAFT_OP_GELU && gelu->inputs[0] == next->output
              && !plan->nodes[i + 2].backward && value_readers (plan, options, next->output) == 1)
            {
              plan->nodes[i].fuses_gelu = i + 2;
              plan->nodes[i + 2].fused_into = i;
            }
          continue;
        }

      /* A residual Add (BatchNorm's output plus the shortcut), and the Activation after it
       * when it is the Add's only reader. */
      if (plan->nodes[i].fused_into < 0 && is_residual_add (plan, options, i, &other))
        {
          const graft_node *act = i + 2 < plan->n_nodes ? graft_graph_node (graph, i + 2) : NULL;
          plan->nodes[i].fuses_add = i + 1;
          plan->nodes[i + 1].fused_into = i;
          if (act != NULL && act->attributes.op == GRAFT_OP_ACTIVATION && act->inputs[0] == next->output
              && value_readers (plan, options, next->output) == 1 && next->output != options->loss_logits)
            {
              graft_activation_backward_needs (act->attributes.activation.kind, &needs_x, &needs_y);
              plan->nodes[i].fuses = i + 2;
              plan->nodes[i].fused_keeps_input = plan->nodes[i + 2].backward && needs_x;
              plan->nodes[i + 2].fused_into = i;
            }
          continue;
        }

      if (!plan->nodes[i].descriptor->fuses_activation
          || next->attributes.op != GRAFT_OP_ACTIVATION || next->inputs[0] != v
          || plan->nodes[i].fused_into >= 0 || v == plan->options.loss_logits)
        continue;
      if (is_swish (plan, options, i))
        {
          plan->nodes[i].fuses = i + 1;
          plan->nodes[i].fuses_swish = true;
          plan->nodes[i + 1].fused_into = plan->nodes[i + 2].fused_into = i;
          continue;
        }
      if (value_readers (plan, options, v) != 1)
        continue;
      graft_activation_backward_needs (next->attributes.activation.kind, &needs_x, &needs_y);
      plan->nodes[i].fuses = i + 1;
      plan->nodes[i].fused_keeps_input = plan->nodes[i + 1].backward && needs_x;
      plan->nodes[i + 1].fused_into = i;
    }
  /* Backward in one pass where the descriptor can (BatchNorm on oneDNN): a fused Add, a
   * fused ReLU, or both; the nodes after it run backward whenever it does. */
  for (int i = 0; i < plan->n_nodes; i++)
    {
      node_plan *np = &plan->nodes[i];
      np->fuses_backward = np->descriptor->fuses_backward && np->backward && !np->fuses_swish
                           && (np->fuses_add >= 0 || np->fuses >= 0)
                           && (np->fuses < 0
                               || graft_graph_node (graph, np->fuses)->attributes.activation.kind
                                    == GRAFT_ACTIVATION_RELU);
    }
}

/* Whether node i's backward runs in its producer's (fuses_backward). */
static bool
backward_fused_into (const graft_plan *plan, int i)
{
  return plan->nodes[i].fused_into >= 0 && plan->nodes[plan->nodes[i].fused_into].fuses_backward;
}

/* The value whose gradient a fuses_backward node reads: the output of the last node it
 * fuses. */
static int
backward_fused_output (const graft_plan *plan, int i)
{
  const node_plan *np = &plan->nodes[i];
  return graft_graph_node (plan->graph, np->fuses >= 0 ? np->fuses : np->fuses_add)->output;
}

/* Whether nothing writes value v (an activation): the output of a node whose fused
 * activation's backward does not read it, and the sigmoid of a fused Swish. It then gets
 * no memory (its data is NULL), where it would be live beside the fused pass's output. */
static bool
never_written (const graft_plan *plan, int v)
{
  int producer = graft_graph_value (plan->graph, v)->producer;
  const node_plan *np = &plan->nodes[producer], *into = np->fused_into >= 0 ? &plan->nodes[np->fused_into] : NULL;
  if (np->fuses_add >= 0 || np->fuses_bias >= 0 || (np->fuses >= 0 && !np->fused_keeps_input))
    return true;
  /* A fused bias Add's sum, when a Gelu follows it in the same pass. */
  if (into != NULL && into->fuses_bias == producer)
    return into->fuses_gelu >= 0;
  /* A fused Add's sum, when its fused activation's backward does not read it. */
  if (into != NULL && into->fuses_add == producer)
    return into->fuses >= 0 && !into->fused_keeps_input;
  return into != NULL && into->fuses_swish && into->fuses == producer;
}

/* The input whose memory node i's output can be (or -1): where the descriptor writes over
 * an input (writes_over_input), the input is an activation of the output's shape and
 * size that no later node or kept value reads, and nothing that touches it runs backward
 * (inference, a frozen part). Squeeze-excite's channel scale then writes in cache lines
 * it has just read, instead of a second tensor as large as the network's largest.
 * Unfused plans do not, so that the test of fusions compares this too. */
static int
written_over (const graft_plan *plan, const graft_plan_options *options, int i)
{
  const graft_graph *graph = plan->graph;
  const graft_node *node = graft_graph_node (graph, i);
  const node_plan *np = &plan->nodes[i];
  int y = node->output;

  if (plan->options.unfused || !np->descriptor->writes_over_input || np->backward || np->fused_into >= 0
      || np->fuses >= 0 || np->fuses_add >= 0)
    return -1;
  for (int k = 0; k < node->n_inputs; k++)
    {
      int x = node->inputs[k];
      const graft_value *value = graft_graph_value (graph, x);
      bool ok = value->kind == GRAFT_VALUE_ACTIVATION && plan->values[x].data_slot >= 0
                && x != options->loss_logits && !plan->nodes[value->producer].backward
                && graft_shape_equal (&plan->values[x].shape, &plan->values[y].shape)
                && plan->values[x].count == plan->values[y].count;
      for (int j = 0; ok && j < node->n_inputs; j++)
        ok = j == k || node->inputs[j] != x;
      for (int j = 0; ok && j < options->n_keep; j++)
        ok = options->keep[j] != x;
      for (int j = 0; ok && j < plan->n_nodes; j++)
        {
          const graft_node *reader = graft_graph_node (graph, j);
          for (int m = 0; ok && m < reader->n_inputs; m++)
            ok = reader->inputs[m] != x || j == i || (j < i && !plan->nodes[j].backward);
        }
      if (ok)
        return x;
    }
  return -1;
}

static float *
gradient_of (graft_plan *plan, int value)
{
  value_plan *vp = &plan->values[value];
  return vp->requires_grad ? vp->grad : NULL;
}

/* Whether the backward at step is the first to write value's gradient (whose buffer
 * then holds whatever its slot held before). */
static bool
first_gradient_writer (const graft_plan *plan, int value, int step)
{
  const value_plan *vp = &plan->values[value];
  return vp->grad_slot >= 0 && plan->slots[vp->grad_slot].start == step;
}

static void
zero_gradient_slot (graft_plan *plan, int value, int step)
{
  value_plan *vp = &plan->values[value];
  if (first_gradient_writer (plan, value, step))
    memset (vp->grad, 0, vp->count * sizeof (float));
}

/* The rest of node i's context, once every buffer has its place: data, gradients and
 * saved tensors, the fused activation, and whether backward overwrites dx. */
static void
fill_context (graft_plan *plan, int i)
{
  node_plan *np = &plan->nodes[i];
  graft_op_context *c = &np->context;
  const graft_node *node = c->node;
  value_plan *out = &plan->values[node->output];
  float **inputs = (float **) c->inputs, **gradients = (float **) c->gradients;

  for (int k = 0; k < node->n_inputs; k++)
    {
      inputs[k] = plan->values[node->inputs[k]].data;
      gradients[k] = gradient_of (plan, node->inputs[k]);
    }
  c->output = out->data;
  c->scratch = plan->scratch;
  c->saved = np->aux_slot >= 0 ? plan->activations + plan->slots[np->aux_slot].offset : NULL;
  c->seed = plan->options.seed;
  c->step = &plan->forward_count;
  if (np->fuses_add >= 0)
    {
      /* The node writes the Add's output (or the activation's after it), from its own
       * result plus the Add's other operand. */
      const graft_node *add = graft_graph_node (plan->graph, np->fuses_add);
      value_plan *sum = &plan->values[add->output];
      c->residual = plan->values[add->inputs[add->inputs[0] == node->output ? 1 : 0]].data;
      c->output = sum->data;
      if (np->fuses >= 0)
        {
          c->activation = &graft_graph_node (plan->graph, np->fuses)->attributes.activation;
          c->activation_output = plan->values[graft_graph_node (plan->graph, np->fuses)->output].data;
          c->pre_activation = np->fused_keeps_input ? sum->data : NULL;
        }
    }
  else if (np->fuses_bias >= 0)
    {
      const graft_node *add = graft_graph_node (plan->graph, np->fuses_bias);
      const graft_node *last = np->fuses_gelu >= 0 ? graft_graph_node (plan->graph, np->fuses_gelu) : add;
      c->bias = plan->values[add->inputs[add->inputs[0] == node->output ? 1 : 0]].data;
      c->gelu = np->fuses_gelu >= 0 ? &last->attributes.gelu.kind : NULL;
      c->output = plan->values[last->output].data;
    }
  else if (np->fuses_swish)
    {
      static const graft_activation_params swish = { GRAFT_ACTIVATION_SWISH, 0, 0 };
      c->activation = &swish;
      c->activation_output = plan->values[graft_graph_node (plan->graph, np->fuses + 1)->output].data;
      c->pre_activation = NULL;
    }
  else if (np->fuses >= 0)
    {
      /* The producer writes the activation's output; its own output only when the
       * activation's backward reads it. */
      const graft_node *next = graft_graph_node (plan->graph, np->fuses);
      c->activation = &next->attributes.activation;
      c->activation_output = plan->values[next->output].data;
      c->pre_activation = np->fused_keeps_input ? out->data : NULL;
    }
  c->dy = out->grad;
  if (np->fuses_backward)
    {
      c->backward_fused = true;
      c->dy = plan->values[backward_fused_output (plan, i)].grad;
      if (np->fuses_add >= 0)
        {
          /* Written where the Add's backward would have written it: nothing runs between. */
          const graft_node *add = graft_graph_node (plan->graph, np->fuses_add);
          int other = add->inputs[add->inputs[0] == node->output ? 1 : 0];
          c->residual_gradient = gradient_of (plan, other);
          c->set_residual = first_gradient_writer (plan, other, BACKWARD_STEP (plan->n_nodes, np->fuses_add));
        }
    }
  /* First writer overwrites: Conv, BatchNorm and the activations write every element of
   * dx in their _set_dx forms, so the first of them to write a gradient buffer needs no
   * memset of it beforehand (unless the node reads the same value twice). */
  c->set_dx = np->backward && np->descriptor->sets_dx && gradients[0] != NULL && !plan->options.unfused
              && first_gradient_writer (plan, node->inputs[0], BACKWARD_STEP (plan->n_nodes, i));
  for (int k = 1; k < node->n_inputs; k++)
    c->set_dx &= node->inputs[k] != node->inputs[0];
}

graft_plan *
graft_plan_new (graft_graph *graph, const graft_plan_options *options, graft_error *error)
{
  graft_plan *plan;
  int n, n_values, over;
  bool training = options->mode == GRAFT_PLAN_TRAINING;
  size_t n_inputs = 0;

  if (options->batch < 1)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "the batch size must be at least 1"), NULL;
  if (graft_graph_pack (graph, error) != GRAFT_OK)
    return NULL;

  plan = calloc (1, sizeof *plan);
  if (plan == NULL)
    return graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory"), NULL;
  plan->graph = graph;
  plan->options = *options;
  plan->options.keep = NULL;
  plan->options.class_weights = NULL;
  plan->n_nodes = n = graft_graph_node_count (graph);
  plan->n_values = n_values = graft_graph_value_count (graph);
  plan->probs_slot = -1;
  plan->values = calloc ((size_t) (n_values ? n_values : 1), sizeof (value_plan));
  plan->nodes = calloc ((size_t) (n ? n : 1), sizeof (node_plan));
  if (plan->values == NULL || plan->nodes == NULL)
    goto oom;
  for (int i = 0; i < n; i++)
    n_inputs += (size_t) graft_graph_node (graph, i)->n_inputs;
  plan->node_shapes = calloc (n_inputs ? n_inputs : 1, sizeof *plan->node_shapes);
  plan->node_inputs = calloc (n_inputs ? n_inputs : 1, sizeof *plan->node_inputs);
  plan->node_gradients = calloc (n_inputs ? n_inputs : 1, sizeof *plan->node_gradients);
  if (plan->node_shapes == NULL || plan->node_inputs == NULL || plan->node_gradients == NULL)
    goto oom;

  /* Shapes at this batch. */
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      value_plan *vp = &plan->values[v];
      vp->data_slot = vp->grad_slot = -1;
      if (value->kind == GRAFT_VALUE_INPUT)
        {
          vp->shape = value->shape;
          vp->shape.dims[0] = options->batch;
        }
      else if (is_tensor (value->kind))
        {
          vp->shape = value->shape;
          vp->data = value->data;
          vp->requires_grad = training && value->kind == GRAFT_VALUE_PARAMETER && value->trainable;
        }
    }
  if (options->backend == NULL)
    {
      bool onednn = false;
      if (choose_kernels (options, &onednn, error) != GRAFT_OK)
        goto fail;
#ifdef GRAFT_HAVE_ONEDNN
      if (onednn)
        {
          if ((plan->onednn = graft_onednn_backend_new (graph, options, error)) == NULL)
            goto fail;
          plan->options.backend = graft_onednn_backend_ops (plan->onednn);
        }
#endif
    }
  for (int i = 0, at = 0; i < n; at += graft_graph_node (graph, i)->n_inputs, i++)
    if (setup_node (plan, i, plan->node_inputs + at, error) != GRAFT_OK)
      goto fail;
  for (int v = 0; v < n_values; v++)
    {
      if (graft_shape_count (&plan->values[v].shape, &plan->values[v].count, error) != GRAFT_OK)
        goto fail;
      plan->values[v].count = value_floats (plan, v);
    }

  /* Which values need gradients, which nodes run backward. */
  if (training)
    {
      const graft_value *logits = graft_graph_value (graph, options->loss_logits);
      if (logits == NULL || logits->kind != GRAFT_VALUE_ACTIVATION
          || plan->values[options->loss_logits].shape.rank != 2)
        {
          graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                           "a training plan needs (N, classes) logits for its loss");
          goto fail;
        }
      for (int i = 0; i < n; i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          for (int k = 0; k < node->n_inputs; k++)
            plan->values[node->output].requires_grad |= plan->values[node->inputs[k]].requires_grad;
        }
      plan->values[options->loss_logits].leads_to_loss = true;
      for (int i = n - 1; i >= 0; i--)
        {
          const graft_node *node = graft_graph_node (graph, i);
          if (plan->values[node->output].leads_to_loss)
            for (int k = 0; k < node->n_inputs; k++)
              plan->values[node->inputs[k]].leads_to_loss = true;
        }
      for (int i = 0; i < n; i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          value_plan *out = &plan->values[node->output];
          plan->nodes[i].backward = plan->nodes[i].context.backward = out->requires_grad && out->leads_to_loss;
          plan->backward_nodes += plan->nodes[i].backward;
        }
      if (options->class_weights != NULL)
        {
          size_t k = plan->values[options->loss_logits].shape.dims[1];
          plan->class_weights = malloc (k * sizeof (float));
          if (plan->class_weights == NULL)
            goto oom;
          memcpy (plan->class_weights, options->class_weights, k * sizeof (float));
        }
    }
  for (int i = 0; i < n; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      plan->nodes[i].context.batch_statistics = training && node->batchnorm_batch_statistics;
    }
  plan_fusions (plan, options);

  /* Lifetimes of inputs and activations. */
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      value_plan *vp = &plan->values[v];
      if (value->kind == GRAFT_VALUE_ACTIVATION && never_written (plan, v))
        continue;
      if (value->kind == GRAFT_VALUE_ACTIVATION && (over = written_over (plan, options, value->producer)) >= 0)
        {
          vp->data_slot = plan->values[over].data_slot;
          continue;
        }
      if (value->kind == GRAFT_VALUE_INPUT || value->kind == GRAFT_VALUE_ACTIVATION)
        {
          int start = value->kind == GRAFT_VALUE_INPUT ? 0 : FORWARD_STEP (value->producer);
          /* A fused activation's output is written when its producer runs. */
          if (value->kind == GRAFT_VALUE_ACTIVATION && plan->nodes[value->producer].fused_into >= 0)
            start = FORWARD_STEP (plan->nodes[value->producer].fused_into);
          if ((vp->data_slot = add_slot (plan, vp->count, start, start)) < 0)
            goto oom;
        }
    }
  for (int k = 0; k < options->n_keep; k++)
    {
      if (graft_graph_value (graph, options->keep[k]) == NULL)
        {
          graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "a kept value does not exist");
          goto fail;
        }
      plan->values[options->keep[k]].kept = true;
      extend (plan, plan->values[options->keep[k]].data_slot, LAST_STEP (n));
    }
  if (training)
    extend (plan, plan->values[options->loss_logits].data_slot, LOSS_STEP (n));
  for (int i = 0; i < n; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        extend (plan, plan->values[node->inputs[k]].data_slot, FORWARD_STEP (i));
    }
  for (int i = 0; i < n; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      node_plan *np = &plan->nodes[i];
      bool wants[node->n_inputs], needs[node->n_inputs], needs_output;
      int step = BACKWARD_STEP (n, i);
      size_t aux = 0;

      if (np->descriptor->saved_floats != NULL)
        aux = np->descriptor->saved_floats (&np->context);
      np->aux_slot = -1;
      if (aux > 0 && (np->aux_slot = add_slot (plan, aux, FORWARD_STEP (i),
                                               np->backward ? step : FORWARD_STEP (i))) < 0)
        goto oom;
      if (np->context.scratch_floats > plan->scratch_floats)
        plan->scratch_floats = np->context.scratch_floats;
      if (!np->backward)
        continue;
      for (int k = 0; k < node->n_inputs; k++)
        {
          wants[k] = plan->values[node->inputs[k]].requires_grad;
          needs[k] = false;
        }
      needs_output = false;
      np->descriptor->backward_needs (&np->context, wants, needs, &needs_output);
      for (int k = 0; k < node->n_inputs; k++)
        if (needs[k])
          extend (plan, plan->values[node->inputs[k]].data_slot, step);
      if (needs_output)
        extend (plan, plan->values[node->output].data_slot, step);
      /* The fused ReLU's output masks the gradient in this node's backward. */
      if (np->fuses_backward && np->fuses >= 0)
        extend (plan, plan->values[graft_graph_node (graph, np->fuses)->output].data_slot, step);
    }

  /* Gradients of activations: from the first backward that writes them to their
   * producer's backward. */
  if (training)
    {
      for (int v = 0; v < n_values; v++)
        {
          const graft_value *value = graft_graph_value (graph, v);
          value_plan *vp = &plan->values[v];
          int start = LAST_STEP (n), end = BACKWARD_STEP (n, value->producer);
          if (value->kind != GRAFT_VALUE_ACTIVATION || !vp->requires_grad || !vp->leads_to_loss)
            continue;
          /* Inside a fused backward, only the last fused node's output has a gradient,
           * read where the pass runs. */
          if (plan->nodes[value->producer].fuses_backward)
            continue;
          if (backward_fused_into (plan, value->producer))
            {
              int into = plan->nodes[value->producer].fused_into;
              if (backward_fused_output (plan, into) != v)
                continue;
              end = BACKWARD_STEP (n, into);
            }
          if (v == options->loss_logits)
            start = LOSS_STEP (n);
          for (int i = value->producer + 1; i < n; i++)
            {
              const graft_node *node = graft_graph_node (graph, i);
              if (!plan->nodes[i].backward)
                continue;
              for (int k = 0; k < node->n_inputs; k++)
                if (node->inputs[k] == v && BACKWARD_STEP (n, i) < start)
                  start = BACKWARD_STEP (n, i);
            }
          if ((vp->grad_slot = add_slot (plan, vp->count, start, end)) < 0)
            goto oom;
        }
      if ((plan->probs_slot = add_slot (plan, plan->values[options->loss_logits].count,
                                        LOSS_STEP (n), LOSS_STEP (n))) < 0)
        goto oom;
    }

  if (assign_offsets (plan, error) != GRAFT_OK)
    goto fail;
  plan->activations = graft_floats_alloc (plan->activation_floats);
  if (plan->activations == NULL)
    {
      out_of_memory (error, "activations", plan->activation_floats);
      goto fail;
    }
  plan->scratch = graft_floats_alloc (plan->scratch_floats);
  if (plan->scratch == NULL)
    {
      out_of_memory (error, "scratch memory", plan->scratch_floats);
      goto fail;
    }
  for (int v = 0; v < n_values; v++)
    {
      value_plan *vp = &plan->values[v];
      if (vp->data_slot >= 0)
        vp->data = plan->activations + plan->slots[vp->data_slot].offset;
      if (vp->grad_slot >= 0)
        vp->grad = plan->activations + plan->slots[vp->grad_slot].offset;
    }
  if (plan->probs_slot >= 0)
    plan->probs = plan->activations + plan->slots[plan->probs_slot].offset;

  /* Parameter gradients: trainable parameters read by a node that runs backward. */
  if (training)
    {
      size_t total = 0, size;
      for (int i = 0; i < n; i++)
        {
          const graft_node *node = graft_graph_node (graph, i);
          if (!plan->nodes[i].backward)
            continue;
          for (int k = 0; k < node->n_inputs; k++)
            {
              value_plan *vp = &plan->values[node->inputs[k]];
              if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER
                  && vp->requires_grad && vp->grad_slot == -1)
                {
                  vp->grad_slot = -3; /* marks a parameter gradient, carved below */
                  graft_size_align_floats (vp->count, &size);
                  total += size;
                }
            }
        }
      plan->gradient_floats = total;
      plan->gradients = graft_floats_alloc (total);
      if (plan->gradients == NULL)
        {
          out_of_memory (error, "gradients", total);
          goto fail;
        }
      total = 0;
      for (int v = 0; v < n_values; v++)
        if (plan->values[v].grad_slot == -3)
          {
            plan->values[v].grad = plan->gradients + total;
            graft_size_align_floats (plan->values[v].count, &size);
            total += size;
          }
    }
  for (int i = 0; i < n; i++)
    fill_context (plan, i);
#ifdef GRAFT_HAVE_ONEDNN
  /* Kept values that are blocked are read in plain layout, through a copy. */
  if (plan->onednn != NULL && options->n_keep > 0)
    {
      plan->plain_copies = calloc ((size_t) n_values, sizeof (float *));
      if (plan->plain_copies == NULL)
        goto oom;
      for (int k = 0; k < options->n_keep; k++)
        {
          int v = options->keep[k];
          size_t count;
          if (!graft_onednn_backend_blocked (plan->onednn, v) || plan->plain_copies[v] != NULL)
            continue;
          if (graft_shape_count (&plan->values[v].shape, &count, error) != GRAFT_OK)
            goto fail;
          if ((plan->plain_copies[v] = graft_floats_alloc (count)) == NULL)
            goto oom;
        }
    }
#endif
  return plan;

oom:
  graft_error_set (error, GRAFT_ERROR_OUT_OF_MEMORY, "out of memory planning the graph");
fail:
  graft_plan_free (plan);
  return NULL;
}

graft_status
graft_plan_set_input (graft_plan *plan, int value, const float *data, size_t count, graft_error *error)
{
  const graft_value *v = graft_graph_value (plan->graph, value);
  if (v == NULL || v->kind != GRAFT_VALUE_INPUT)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "value %d is not a graph input", value);
  if (count != plan->values[value].count)
    return graft_error_set (error, GRAFT_ERROR_SHAPE, "input '%s' takes %zu values, not %zu",
                            v->name, plan->values[value].count, count);
  memcpy (plan->values[value].data, data, count * sizeof (float));
  return GRAFT_OK;
}

static void
run_forward (graft_plan *plan, int i)
{
  node_plan *np = &plan->nodes[i];
  if (np->fused_into < 0) /* else its producer ran it */
    np->descriptor->forward (&np->context);
}

void
graft_plan_set_step (graft_plan *plan, uint64_t step)
{
  plan->forward_count = step;
}

graft_status
graft_plan_forward (graft_plan *plan, graft_error *error)
{
  plan->forward_count++;
  for (int i = 0; i < plan->n_nodes; i++)
    run_forward (plan, i);
  return GRAFT_OK;
}

static void
run_backward (graft_plan *plan, int i)
{
  node_plan *np = &plan->nodes[i];
  const graft_node *node = np->context.node;
  int step = BACKWARD_STEP (plan->n_nodes, i);

  for (int k = np->context.set_dx ? 1 : 0; k < node->n_inputs; k++)
    zero_gradient_slot (plan, node->inputs[k], step);
  np->descriptor->backward (&np->context);
}

graft_status
graft_plan_backward (graft_plan *plan, const int32_t *labels, float *loss, graft_error *error)
{
  int logits = plan->options.loss_logits;
  value_plan *lp = &plan->values[logits];
  graft_cross_entropy_params p;
  float value;

  if (plan->options.mode != GRAFT_PLAN_TRAINING)
    return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT, "backward needs a training plan");
  p = (graft_cross_entropy_params) {
    .n = (int) lp->shape.dims[0], .classes = (int) lp->shape.dims[1],
    .label_smoothing = plan->options.label_smoothing, .class_weights = plan->class_weights,
  };
  for (int i = 0; i < p.n; i++)
    if (labels[i] < 0 || labels[i] >= p.classes)
      return graft_error_set (error, GRAFT_ERROR_INVALID_ARGUMENT,
                              "label %d of sample %d is outside 0..%d", labels[i], i, p.classes - 1);
  value = graft_cross_entropy_forward (&p, lp->data, labels, plan->probs);
  if (loss != NULL)
    *loss = value;
  if (!isfinite (value))
    return graft_error_set (error, GRAFT_ERROR_NUMERIC, "the loss is %g: training diverged", value);
  if (plan->gradient_floats > 0)
    memset (plan->gradients, 0, plan->gradient_floats * sizeof (float));
  if (lp->grad == NULL)
    return GRAFT_OK; /* nothing trainable below the loss */
  zero_gradient_slot (plan, logits, LOSS_STEP (plan->n_nodes));
  graft_cross_entropy_backward (&p, plan->probs, labels, 1.0f, lp->grad);
  for (int i = plan->n_nodes - 1; i >= 0; i--)
    if (plan->nodes[i].backward && !backward_fused_into (plan, i))
      run_backward (plan, i);
  return GRAFT_OK;
}

const float *
graft_plan_value_data (const graft_plan *plan, int value, graft_shape *shape)
{
  const graft_value *v = graft_graph_value (plan->graph, value);
  if (v == NULL)
    return NULL;
  if (!is_tensor (v->kind) && !plan->values[value].kept && v->kind != GRAFT_VALUE_INPUT)
    return NULL;
  if (shape != NULL)
    *shape = plan->values[value].shape;
#ifdef GRAFT_HAVE_ONEDNN
  if (plan->plain_copies != NULL && plan->plain_copies[value] != NULL)
    {
      const graft_shape *s = &plan->values[value].shape;
      graft_onednn_to_plain ((int) s->dims[0], (int) s->dims[1], (int) s->dims[2], (int) s->dims[3],
                             plan->values[value].data, plan->plain_copies[value], false);
      return plan->plain_copies[value];
    }
#endif
  return plan->values[value].data;
}

const char *
graft_plan_kernels_name (const graft_plan *plan)
{
  return plan->options.backend != NULL ? plan->options.backend->name : "portable";
}

const float *
graft_plan_gradient (const graft_plan *plan, int value)
{
  const graft_value *v = graft_graph_value (plan->graph, value);
  if (v == NULL || v->kind != GRAFT_VALUE_PARAMETER)
    return NULL;
  return plan->values[value].grad;
}

bool
graft_plan_node_runs_backward (const graft_plan *plan, int node)
{
  return node >= 0 && node < plan->n_nodes && plan->nodes[node].backward;
}

int
graft_plan_fused_nodes (const graft_plan *plan)
{
  int count = 0;
  for (int i = 0; i < plan->n_nodes; i++)
    count += plan->nodes[i].fused_into >= 0;
  return count;
}

bool
graft_plan_bf16_supported (void)
{
#ifdef GRAFT_HAVE_ONEDNN
  return graft_onednn_bf16_available ();
#else
  return false;
#endif
}

int
graft_plan_bf16_nodes (const graft_plan *plan)
{
#ifdef GRAFT_HAVE_ONEDNN
  if (plan->onednn != NULL)
    return graft_onednn_backend_bf16_count (plan->onednn);
#endif
  (void) plan;
  return 0;
}

int
graft_plan_fused_backward_nodes (const graft_plan *plan)
{
  int count = 0;
  for (int i = 0; i < plan->n_nodes; i++)
    count += plan->nodes[i].backward && backward_fused_into (plan, i);
  return count;
}

void
graft_plan_memory_usage (const graft_plan *plan, graft_plan_memory *memory)
{
  memory->activation_floats = plan->activation_floats;
  memory->activation_floats_unshared = plan->activation_floats_unshared;
  memory->gradient_floats = plan->gradient_floats;
  memory->scratch_floats = plan->scratch_floats;
  memory->backward_nodes = plan->backward_nodes;
}

graft_graph *
graft_plan_graph (const graft_plan *plan)
{
  return plan->graph;
}
