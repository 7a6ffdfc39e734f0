/* onnx-import.c: an ONNX ModelProto becomes a GraftModel.
 *
 * The file is not trusted. In order:
 *  1. protobuf-c unpacks it; IR version, default-domain opset and the graph are checked.
 *  2. Every initializer is inspected (type, dims, data length, external file) without
 *     being decoded; data is decoded when a node needs it.
 *  3. The one real graph input (a graph input without an initializer) becomes the
 *     engine input, declared at batch 1.
 *  4. Nodes are sorted topologically (Kahn, keeping file order where it is free), after
 *     checking that every tensor is produced once and every input exists.
 *  5. Each node is either folded at import (Constant, Shape, Gather, ... on constants:
 *     the tensors that describe shapes), or mapped to engine nodes. Folded shape
 *     tensors remember, per element, whether it is the batch size, so that a Reshape
 *     built from Shape(x) keeps working at any batch (it becomes 0 or -1).
 *  6. The model's fields are filled and graft_model_analyse runs.
 *
 * Constants (initializers, Constant nodes, folded results) enter the engine graph only
 * when a node reads them as a tensor, and with the kind that use gives them: weights
 * of Conv, Gemm and BatchNorm scale/bias are parameters, BatchNorm statistics are
 * buffers, other operands are constants. Initializer names are kept.
 */
#include "model/onnx-import-private.h"

/* ------------------------------------------------------------------------ */
/* The graph: names, inputs, order                                           */

static gboolean
check_model (Importer *im, const Onnx__ModelProto *proto, GError **error)
{
  gboolean found = FALSE;

  if (!proto->has_ir_version && proto->graph == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_PARSE, "is not an ONNX model (no IR version, no graph)");
  if (!proto->has_ir_version)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no IR version");
  if (proto->ir_version < MIN_IR_VERSION || proto->ir_version > MAX_IR_VERSION)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has IR version %" G_GINT64_FORMAT "; Graft reads IR versions %d to %d",
                         proto->ir_version, MIN_IR_VERSION, MAX_IR_VERSION);
  for (size_t i = 0; i < proto->n_opset_import; i++)
    {
      const Onnx__OperatorSetIdProto *o = proto->opset_import[i];
      if (!is_default_domain (o->domain))
        continue;
      if (found)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "imports the default ONNX opset twice");
      found = TRUE;
      im->opset = o->has_version ? o->version : 0;
    }
  if (!found)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "imports no opset of the default ONNX domain");
  if (im->opset < MIN_OPSET || im->opset > MAX_OPSET)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "uses ONNX opset %" G_GINT64_FORMAT "; Graft supports opsets %d to %d",
                         im->opset, MIN_OPSET, MAX_OPSET);
  if (proto->graph == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no graph");
  return TRUE;
}

static gboolean
read_initializers (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;

  for (size_t i = 0; i < g->n_initializer; i++)
    {
      const Onnx__TensorProto *t = g->initializer[i];
      TensorInfo info;
      Entry *entry;
      if (t->name == NULL || t->name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an initializer without a name (number %zu)", i);
      if (g_hash_table_contains (im->initializers, t->name))
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has two initializers named '%s'", t->name);
      if (!tensor_proto_inspect (im, t, t->name, &info, NULL, error))
        return FALSE;
      g_hash_table_insert (im->initializers, t->name, (gpointer) t);
      entry = define_entry (im, t->name, ENTRY_CONSTANT);
      entry->proto = t;
    }
  return TRUE;
}

static gboolean
read_input (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  const Onnx__ValueInfoProto *input = NULL;
  const Onnx__TensorShapeProto *shape_proto;
  graft_shape shape = { 0 };
  graft_error engine;
  int count = 0;

  for (size_t i = 0; i < g->n_input; i++)
    {
      const Onnx__ValueInfoProto *v = g->input[i];
      if (v->name == NULL || v->name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a graph input without a name");
      /* IR 3 lists initializers as inputs too: those are constants. */
      if (g_hash_table_contains (im->initializers, v->name))
        continue;
      for (size_t j = 0; j < i; j++)
        if (g_strcmp0 (g->input[j]->name, v->name) == 0)
          return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "lists the input '%s' twice", v->name);
      input = v;
      count++;
    }
  if (count == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, g->n_input == 0 ? "has no graph input"
                         : "has no graph input: every input it lists has an initializer");
  if (count > 1)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has %d graph inputs; Graft supports models with one input", count);
  if (input->type == NULL || input->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || input->type->tensor_type == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED, "input '%s' is not a tensor", input->name);
  if (input->type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' holds values of type %s; Graft supports float32 inputs",
                         input->name, data_type_name (input->type->tensor_type->elem_type));
  shape_proto = input->type->tensor_type->shape;
  if (shape_proto == NULL || shape_proto->n_dim == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' has no shape; Graft needs the input's size", input->name);
  if (shape_proto->n_dim > GRAFT_MAX_RANK)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "input '%s' has %zu dimensions; Graft supports at most %d",
                         input->name, shape_proto->n_dim, GRAFT_MAX_RANK);
  shape.rank = (int) shape_proto->n_dim;
  for (int d = 0; d < shape.rank; d++)
    {
      const Onnx__TensorShapeProto__Dimension *dim = shape_proto->dim[d];
      gboolean known = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      if (d == 0)
        {
          /* The batch: as the file says, or 1 when symbolic. Plans replace it. */
          if (known && (dim->dim_value < 0 || dim->dim_value > G_MAXINT32))
            return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                                 "input '%s' has the batch size %" G_GINT64_FORMAT, input->name, dim->dim_value);
          if (known && dim->dim_value == 0)
            return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                                 "input '%s' is empty (batch size 0), which Graft cannot run", input->name);
          im->file_batch = known ? dim->dim_value : 1;
          im->fixed_batch = known;
          shape.dims[0] = im->file_batch;
          continue;
        }
      if (!known)
        return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                             "input '%s' has a symbolic dimension %d ('%s'); Graft needs a fixed size "
                             "for every dimension but the batch", input->name, d,
                             dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                 && dim->dim_param != NULL ? dim->dim_param : "");
      if (dim->dim_value < 1 || dim->dim_value > G_MAXINT32)
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "input '%s' has the size %" G_GINT64_FORMAT " in dimension %d",
                             input->name, dim->dim_value, d);
      shape.dims[d] = dim->dim_value;
    }
  im->input_value = graft_graph_add_input (im->graph, input->name, &shape, &engine);
  if (im->input_value < 0)
    return engine_error (im, error, &engine);
  define_value (im, input->name, im->input_value);
  im->model->input = im->input_value;
  im->model->input_name = g_strdup (input->name);
  return TRUE;
}

static gboolean
is_known_tensor (Importer *im, const char *name)
{
  return g_hash_table_contains (im->producers, name) || g_hash_table_contains (im->entries, name);
}

/* Producers, uses, and the checks that make the order well defined. */
static gboolean
index_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;

  for (size_t i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *node = g->node[i];
      im->current = (int) i;
      if (node->op_type == NULL || node->op_type[0] == '\0')
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no op_type");
      if (node->n_input > MAX_NODE_INPUTS)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has %zu inputs; Graft accepts at most %d", node->n_input, MAX_NODE_INPUTS);
      if (node->n_output > MAX_NODE_INPUTS)
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "has %zu outputs; Graft accepts at most %d", node->n_output, MAX_NODE_INPUTS);
      if (output_name (node, 0) == NULL)
        return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has no output");
      for (size_t k = 0; k < node->n_output; k++)
        {
          const char *name = output_name (node, k);
          gpointer other;
          if (name == NULL)
            continue;
          if ((other = g_hash_table_lookup (im->producers, name)) != NULL)
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                               "writes '%s', which node '%s' writes too", name,
                               im->node_names[GPOINTER_TO_INT (other) - 1]);
          if (g_hash_table_contains (im->entries, name))
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                               "writes '%s', which is also a graph input or an initializer", name);
          g_hash_table_insert (im->producers, (gpointer) name, GINT_TO_POINTER ((int) i + 1));
        }
    }
  for (size_t i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *node = g->node[i];
      im->current = (int) i;
      for (size_t k = 0; k < node->n_input; k++)
        {
          const char *name = input_name (node, k);
          Use *use;
          if (name == NULL)
            continue;
          if (!is_known_tensor (im, name))
            return node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "reads '%s', which nothing produces", name);
          use = g_hash_table_lookup (im->uses, name);
          if (use == NULL)
            {
              use = g_new0 (Use, 1);
              g_hash_table_insert (im->uses, (gpointer) name, use);
            }
          use->count++;
          use->last_consumer = (int) i;
        }
    }
  im->current = -1;
  if (g->n_output == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "declares no graph output");
  if (g->n_output > 1)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has %zu graph outputs; Graft supports models with one output", g->n_output);
  for (size_t i = 0; i < g->n_output; i++)
    {
      const char *name = g->output[i]->name;
      Use *use;
      if (name == NULL || name[0] == '\0')
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has a graph output without a name");
      if (!is_known_tensor (im, name))
        return import_error (im, error, GRAFT_MODEL_ERROR_INVALID,
                             "declares the output '%s', which nothing produces", name);
      use = g_hash_table_lookup (im->uses, name);
      if (use == NULL)
        {
          use = g_new0 (Use, 1);
          use->last_consumer = -1;
          g_hash_table_insert (im->uses, (gpointer) name, use);
        }
      use->count++;
      use->last_consumer = -1;
    }
  if (g->n_node == 0)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "has an empty graph (no nodes)");
  return TRUE;
}

/* A min-heap of node indices, so that the order follows the file where it may. */
static void
heap_push (int *heap, int *n, int value)
{
  int i = (*n)++;
  heap[i] = value;
  while (i > 0 && heap[(i - 1) / 2] > heap[i])
    {
      int parent = (i - 1) / 2, swap = heap[parent];
      heap[parent] = heap[i];
      heap[i] = swap;
      i = parent;
    }
}

static int
heap_pop (int *heap, int *n)
{
  int top = heap[0], i = 0;

  heap[0] = heap[--(*n)];
  for (;;)
    {
      int left = 2 * i + 1, right = left + 1, smallest = i, swap;
      if (left < *n && heap[left] < heap[smallest])
        smallest = left;
      if (right < *n && heap[right] < heap[smallest])
        smallest = right;
      if (smallest == i)
        break;
      swap = heap[i];
      heap[i] = heap[smallest];
      heap[smallest] = swap;
      i = smallest;
    }
  return top;
}

static int
producer_of (Importer *im, const char *name)
{
  gpointer p = name != NULL ? g_hash_table_lookup (im->producers, name) : NULL;
  return p != NULL ? GPOINTER_TO_INT (p) - 1 : -1;
}

/* Kahn's algorithm; a cycle names one of its nodes. */
static int *
sort_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  int n = (int) g->n_node, n_heap = 0, n_sorted = 0;
  g_autofree int *pending = g_new0 (int, n), *first = g_new0 (int, n + 1), *heap = g_new (int, n);
  g_autofree int *edges = NULL, *fill = NULL;
  g_autofree int *order = g_new (int, n);
  size_t n_edges = 0;

  /* Edges producer -> consumer in CSR form. */
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      {
        int p = producer_of (im, input_name (g->node[i], k));
        if (p >= 0)
          {
            first[p + 1]++;
            pending[i]++;
            n_edges++;
          }
      }
  for (int i = 0; i < n; i++)
    first[i + 1] += first[i];
  edges = g_new (int, MAX (n_edges, 1));
  fill = g_memdup2 (first, (gsize) n * sizeof (int));
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      {
        int p = producer_of (im, input_name (g->node[i], k));
        if (p >= 0)
          edges[fill[p]++] = i;
      }

  for (int i = 0; i < n; i++)
    if (pending[i] == 0)
      heap_push (heap, &n_heap, i);
  while (n_heap > 0)
    {
      int i = heap_pop (heap, &n_heap);
      order[n_sorted++] = i;
      for (int e = first[i]; e < first[i + 1]; e++)
        if (--pending[edges[e]] == 0)
          heap_push (heap, &n_heap, edges[e]);
    }
  if (n_sorted < n)
    {
      /* Walk back from a node left over along left-over producers until one repeats:
       * that one is on a cycle. */
      g_autofree gboolean *visited = g_new0 (gboolean, n);
      int i = 0;
      while (pending[i] == 0)
        i++;
      while (!visited[i])
        {
          visited[i] = TRUE;
          for (size_t k = 0; k < g->node[i]->n_input; k++)
            {
              int p = producer_of (im, input_name (g->node[i], k));
              if (p >= 0 && pending[p] > 0)
                {
                  i = p;
                  break;
                }
            }
        }
      im->current = i;
      node_error (im, error, GRAFT_MODEL_ERROR_INVALID, "is part of a cycle: the graph is not acyclic");
      im->current = -1;
      return NULL;
    }
  return g_steal_pointer (&order);
}

static gboolean
import_nodes (Importer *im, GError **error)
{
  const Onnx__GraphProto *g = im->graph_proto;
  g_autofree int *order = sort_nodes (im, error);

  if (order == NULL)
    return FALSE;
  for (size_t k = 0; k < g->n_node; k++)
    {
      int i = order[k];
      const Onnx__NodeProto *node = g->node[i];
      const OpImporter *importer = NULL;
      gboolean ok;

      if (im->folded[i])
        continue;
      im->current = i;
      if (!is_default_domain (node->domain))
        return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                           "uses op '%s' of the domain '%s', which Graft does not support",
                           node->op_type, node->domain);
      for (size_t j = 0; j < n_node_importers && importer == NULL; j++)
        if (strcmp (node_importers[j].op_type, node->op_type) == 0)
          importer = &node_importers[j];
      if (importer == NULL)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                       "%s: node '%s' uses ONNX op '%s' (opset %" G_GINT64_FORMAT "), which Graft does not support",
                       im->name, im->node_names[i], node->op_type, im->opset);
          return FALSE;
        }
      for (size_t k = 0; k < node->n_input; k++)
        {
          const char *name = input_name (node, k);
          if (name != NULL && lookup (im, name) == NULL)
            return node_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                               "reads '%s', an output of node '%s' that Graft does not compute", name,
                               im->node_names[producer_of (im, name) >= 0 ? producer_of (im, name) : i]);
        }
      ok = importer->import != NULL ? importer->import (im, node, error)
                                    : importer->import_variant (im, node, importer->variant, error);
      if (!ok)
        return FALSE;
    }
  im->current = -1;
  return TRUE;
}

static gboolean
finish_model (Importer *im, const Onnx__ModelProto *proto, GError **error)
{
  GraftModel *model = im->model;
  const char *name = im->graph_proto->output[0]->name;
  Entry *out = lookup (im, name);
  const graft_value *value;

  if (out == NULL)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "never computes its output '%s'", name);
  if (out->kind == ENTRY_CONSTANT)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "has an output '%s' that does not depend on its input", name);
  if (out->kind == ENTRY_PADDED)
    return import_error (im, error, GRAFT_MODEL_ERROR_UNSUPPORTED,
                         "ends with a Pad ('%s'), which Graft can only fold into a following Conv", name);
  value = graft_graph_value (im->graph, out->value);
  if (value->kind == GRAFT_VALUE_INPUT)
    return import_error (im, error, GRAFT_MODEL_ERROR_INVALID, "computes nothing: its output is its input");
  model->output = out->value;
  model->output_name = g_strdup (name);
  model->logits = model->output;
  /* The logits are what a trailing Softmax reads (seen through identities). */
  while (value->producer >= 0)
    {
      const graft_node *last = graft_graph_node (im->graph, value->producer);
      if (last->attributes.op == GRAFT_OP_SOFTMAX)
        {
          model->logits = last->inputs[0];
          break;
        }
      if (!(last->attributes.op == GRAFT_OP_RESHAPE && last->attributes.reshape.rank < 0)
          && last->attributes.op != GRAFT_OP_DROPOUT)
        break;
      value = graft_graph_value (im->graph, last->inputs[0]);
    }

  model->ir_version = proto->ir_version;
  model->opset = im->opset;
  model->producer_name = g_strdup (proto->producer_name);
  model->producer_version = g_strdup (proto->producer_version);
  model->graph_name = g_strdup (im->graph_proto->name);
  for (size_t i = 0; i < proto->n_metadata_props; i++)
    {
      const Onnx__StringStringEntryProto *e = proto->metadata_props[i];
      if (e->key != NULL)
        g_hash_table_replace (model->metadata, g_strdup (e->key), g_strdup (e->value != NULL ? e->value : ""));
    }
  return TRUE;
}

GraftModel *
graft_model_load_from_data (const guint8 *data, gsize size, const char *base_dir, const char *name,
                            GError **error)
{
  Importer im = { 0 };
  Onnx__ModelProto *proto;
  GraftModel *model = NULL;
  gboolean ok;
  g_autoptr (GError) analyse_error = NULL;

  im.name = name != NULL ? name : "model";
  im.base_dir = base_dir;
  im.current = -1;
  im.input_value = -1;
  im.file_batch = 1;

  if (data == NULL || size == 0)
    {
      import_error (&im, error, GRAFT_MODEL_ERROR_PARSE, "is empty, not an ONNX model");
      return NULL;
    }
  proto = onnx__model_proto__unpack (NULL, size, data);
  if (proto == NULL)
    {
      import_error (&im, error, GRAFT_MODEL_ERROR_PARSE, "is not an ONNX model or is truncated");
      return NULL;
    }
  if (!check_model (&im, proto, error))
    {
      onnx__model_proto__free_unpacked (proto, NULL);
      return NULL;
    }

  im.graph_proto = proto->graph;
  im.model = model = graft_model_new ();
  im.graph = model->graph = graft_graph_new ();
  im.entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  im.uses = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  im.producers = g_hash_table_new (g_str_hash, g_str_equal);
  im.initializers = g_hash_table_new (g_str_hash, g_str_equal);
  im.node_names = g_new0 (char *, im.graph_proto->n_node + 1);
  im.folded = g_new0 (gboolean, im.graph_proto->n_node + 1);
  for (size_t i = 0; i < im.graph_proto->n_node; i++)
    {
      const Onnx__NodeProto *node = im.graph_proto->node[i];
      im.node_names[i] = node->name != NULL && node->name[0] != '\0'
                           ? g_strdup (node->name)
                           : g_strdup_printf ("%s_%zu", node->op_type != NULL ? node->op_type : "node", i);
    }

  ok = model->graph != NULL
       && read_initializers (&im, error)
       && read_input (&im, error)
       && index_nodes (&im, error)
       && import_nodes (&im, error)
       && finish_model (&im, proto, error);

  g_hash_table_unref (im.entries);
  g_hash_table_unref (im.uses);
  g_hash_table_unref (im.producers);
  g_hash_table_unref (im.initializers);
  g_strfreev (im.node_names);
  g_free (im.folded);
  onnx__model_proto__free_unpacked (proto, NULL);

  if (ok && !graft_model_analyse (model, &analyse_error))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, analyse_error->code, "%s: %s", im.name, analyse_error->message);
      ok = FALSE;
    }
  if (!ok)
    {
      graft_model_free (model);
      return NULL;
    }
  return model;
}
