#include "model/surgery.h"

#include "config.h"
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "model/model-private.h"

static gboolean
has_parameter (const graft_graph *graph, const graft_node *node)
{
  for (int k = 0; k < node->n_inputs; k++)
    if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER)
      return TRUE;
  return FALSE;
}

int
graft_model_find_classifier (const GraftModel *model)
{
  const graft_graph *graph = model->graph;
  int n = graft_graph_node_count (graph);
  for (int i = n - 1; i >= 0; i--)
    {
      const graft_node *node = graft_graph_node (graph, i);
      if (node->attributes.op == GRAFT_OP_GEMM && has_parameter (graph, node))
        return i;
    }
  for (int i = n - 1; i >= 0; i--)
    {
      const graft_node *node = graft_graph_node (graph, i);
      if (has_parameter (graph, node))
        return node->attributes.op == GRAFT_OP_CONV ? i : -1;
    }
  return -1;
}

int
graft_model_default_cut (const GraftModel *model)
{
  int classifier = graft_model_find_classifier (model);
  int value;
  if (classifier < 0)
    return -1;
  value = graft_graph_node (model->graph, classifier)->inputs[0];
  for (;;)
    {
      const graft_value *v = graft_graph_value (model->graph, value);
      const graft_node *producer = v->producer >= 0 ? graft_graph_node (model->graph, v->producer) : NULL;
      if (producer == NULL || producer->attributes.op != GRAFT_OP_DROPOUT)
        return value;
      value = producer->inputs[0];
    }
}

guint64
graft_head_parameter_count (const GraftHeadSpec *head, guint64 features, int classes)
{
  guint64 total = 0, in = features;
  for (int i = 0; i < head->n_hidden; i++)
    {
      total += in * (guint64) head->hidden[i] + (guint64) head->hidden[i];
      if (head->batchnorm)
        total += 2 * (guint64) head->hidden[i];
      in = (guint64) head->hidden[i];
    }
  return total + in * (guint64) classes + (guint64) classes;
}

typedef struct {
  graft_graph *graph;
  guint64 seed;
  guint64 counter;
  GError **error;
} head_builder;

static gboolean
engine_failed (head_builder *b, int result, const graft_error *error)
{
  if (result >= 0)
    return FALSE;
  g_set_error (b->error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("cannot graft the head: %s"),
               error->message);
  return TRUE;
}

/* A tensor uniform in [-bound, bound] (bound 0: filled with fill). */
static int
head_tensor (head_builder *b, const char *name, graft_value_kind kind, graft_shape shape, float bound, float fill)
{
  size_t count;
  g_autofree float *data = NULL;
  graft_error error;
  int value;

  graft_shape_count (&shape, &count, NULL);
  data = g_new (float, count ? count : 1);
  for (size_t i = 0; i < count; i++)
    data[i] = bound > 0 ? bound * (2 * graft_random_uniform (b->seed, b->counter++) - 1) : fill;
  value = graft_graph_add_tensor (b->graph, name, kind, &shape, data, &error);
  return engine_failed (b, value, &error) ? -1 : value;
}

static int
head_node (head_builder *b, const char *name, graft_node_attributes attributes, const int *inputs, int n)
{
  graft_error error;
  int value = graft_graph_add_node (b->graph, name, &attributes, inputs, n, name, &error);
  return engine_failed (b, value, &error) ? -1 : value;
}

/* [Dropout] Gemm (PyTorch's nn.Linear initialisation). */
static int
head_linear (head_builder *b, int layer, int x, gint64 in, gint64 out, float dropout)
{
  g_autofree char *weight = g_strdup_printf ("head.%d.weight", layer);
  g_autofree char *bias = g_strdup_printf ("head.%d.bias", layer);
  g_autofree char *name = g_strdup_printf ("head.%d", layer);
  g_autofree char *dropout_name = g_strdup_printf ("head.%d.dropout", layer);
  float bound = 1.0f / sqrtf ((float) in);
  int inputs[3];

  if (dropout > 0)
    {
      x = head_node (b, dropout_name, (graft_node_attributes) { .op = GRAFT_OP_DROPOUT, .dropout = { dropout } },
                     &x, 1);
      if (x < 0)
        return -1;
    }
  inputs[0] = x;
  inputs[1] = head_tensor (b, weight, GRAFT_VALUE_PARAMETER, graft_shape_2d (out, in), bound, 0);
  inputs[2] = head_tensor (b, bias, GRAFT_VALUE_PARAMETER, graft_shape_make (1, &out), bound, 0);
  if (inputs[1] < 0 || inputs[2] < 0)
    return -1;
  return head_node (b, name, (graft_node_attributes) { .op = GRAFT_OP_GEMM, .gemm = { false, true, 1, 1 } },
                    inputs, 3);
}

/* Copies the nodes that compute cut (and the values they read) into a new graph. */
static graft_graph *
copy_prefix (const graft_graph *base, int cut, int *new_input, int *new_cut, GError **error)
{
  int n_values = graft_graph_value_count (base), n_nodes = graft_graph_node_count (base);
  g_autofree gboolean *needed = g_new0 (gboolean, n_nodes);
  g_autofree int *map = g_new (int, n_values);
  graft_graph *graph = graft_graph_new ();
  graft_error engine_error;

  for (int v = 0; v < n_values; v++)
    map[v] = -1;
  if (graft_graph_value (base, cut)->producer >= 0)
    needed[graft_graph_value (base, cut)->producer] = TRUE;
  for (int i = n_nodes - 1; i >= 0; i--)
    if (needed[i])
      {
        const graft_node *node = graft_graph_node (base, i);
        for (int k = 0; k < node->n_inputs; k++)
          {
            int producer = graft_graph_value (base, node->inputs[k])->producer;
            if (producer >= 0)
              needed[producer] = TRUE;
          }
      }
  *new_input = -1;
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (base, v);
      if (value->kind == GRAFT_VALUE_INPUT)
        map[v] = *new_input = graft_graph_add_input (graph, value->name, &value->shape, &engine_error);
    }
  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node;
      g_autofree int *inputs = NULL;
      if (!needed[i])
        continue;
      node = graft_graph_node (base, i);
      inputs = g_new (int, node->n_inputs);
      for (int k = 0; k < node->n_inputs; k++)
        {
          int v = node->inputs[k];
          const graft_value *value = graft_graph_value (base, v);
          if (map[v] < 0)
            {
              map[v] = graft_graph_add_tensor (graph, value->name, value->kind, &value->shape, value->data,
                                               &engine_error);
              if (map[v] < 0)
                goto fail;
              graft_graph_set_trainable (graph, map[v], value->trainable);
              graft_graph_set_lr_multiplier (graph, map[v], value->lr_multiplier);
            }
          inputs[k] = map[v];
        }
      map[node->output] = graft_graph_add_node (graph, node->name, &node->attributes, inputs, node->n_inputs,
                                                graft_graph_value (base, node->output)->name, &engine_error);
      if (map[node->output] < 0)
        goto fail;
      graft_graph_set_batchnorm_batch_statistics (graph, graft_graph_node_count (graph) - 1,
                                                  node->batchnorm_batch_statistics);
    }
  *new_cut = map[cut];
  return graph;

fail:
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("cannot cut the model: %s"), engine_error.message);
  graft_graph_free (graph);
  return NULL;
}

gboolean
graft_model_pools_channels_last (const GraftModel *model)
{
  int n_nodes = model != NULL && model->graph != NULL ? graft_graph_node_count (model->graph) : 0;
  for (int i = n_nodes - 1; i >= 0; i--)
    {
      const graft_node *pool = graft_graph_node (model->graph, i);
      if (pool->attributes.op != GRAFT_OP_MEAN_SPATIAL)
        continue;
      for (int k = i - 1; k >= 0; k--)
        {
          const graft_node *node = graft_graph_node (model->graph, k);
          const int *perm = node->attributes.transpose.perm;
          if (node->output != pool->inputs[0])
            continue;
          return node->attributes.op == GRAFT_OP_TRANSPOSE && perm[0] == 0 && perm[1] == 3 && perm[2] == 1
                 && perm[3] == 2;
        }
      return FALSE;
    }
  return FALSE;
}

GraftModel *
graft_model_graft_head (const GraftModel *base, int cut, const GraftHeadSpec *head, int classes,
                        guint64 seed, GError **error)
{
  g_autoptr (GraftModel) model = NULL;
  const graft_value *cut_value = graft_graph_value (base->graph, cut);
  head_builder b;
  gboolean channels_last;
  int x, head_start, layer = 0;
  gint64 features;
  GHashTableIter iter;
  gpointer key, value;

  if (cut_value == NULL || cut_value->kind != GRAFT_VALUE_ACTIVATION)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("the head must be grafted on a layer's output"));
      return NULL;
    }
  if (cut_value->shape.rank < 2 || cut_value->shape.rank > 4)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("cannot graft a head on '%s': it is neither (N, features), tokens (N, tokens, features) "
                     "nor a map (N, C, H, W)"), cut_value->name);
      return NULL;
    }
  channels_last = cut_value->shape.rank == 4 && graft_model_pools_channels_last (base);
  if (classes < 2)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("a classifier needs at least two classes"));
      return NULL;
    }
  model = graft_model_new ();
  model->graph = copy_prefix (base->graph, cut, &model->input, &x, error);
  if (model->graph == NULL)
    return NULL;
  model->input_name = g_strdup (base->input_name);
  model->input_nhwc = base->input_nhwc;
  model->ir_version = base->ir_version;
  model->opset = base->opset;
  model->producer_name = g_strdup (base->producer_name);
  model->producer_version = g_strdup (base->producer_version);
  model->graph_name = g_strdup (base->graph_name);
  g_hash_table_iter_init (&iter, base->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (model->metadata, g_strdup (key), g_strdup (value));

  b = (head_builder) { model->graph, seed, 0, error };
  head_start = graft_graph_node_count (model->graph);
  features = cut_value->shape.dims[channels_last ? 3 : cut_value->shape.rank == 3 ? 2 : 1];
  if (channels_last)
    {
      /* (N, H, W, C) to (N, C, H, W), as Swin's own classifier pools. */
      x = head_node (&b, "head.channels_first",
                     (graft_node_attributes) { .op = GRAFT_OP_TRANSPOSE, .transpose = { { 0, 3, 1, 2 } } }, &x, 1);
      if (x < 0)
        return NULL;
    }
  if (cut_value->shape.rank == 4)
    {
      x = head_node (&b, "head.pool", (graft_node_attributes) { .op = GRAFT_OP_MEAN_SPATIAL, .mean_spatial = { false } },
                     &x, 1);
      if (x < 0)
        return NULL;
    }
  if (cut_value->shape.rank == 3)
    {
      /* The first token (ViT's class token, which its own classifier reads), as (N, features). */
      x = head_node (&b, "head.token",
                     (graft_node_attributes) { .op = GRAFT_OP_SLICE, .slice = { 1, 0, 1 } }, &x, 1);
      if (x < 0)
        return NULL;
      x = head_node (&b, "head.token.flat",
                     (graft_node_attributes) { .op = GRAFT_OP_FLATTEN, .flatten = { 1 } }, &x, 1);
      if (x < 0)
        return NULL;
    }
  for (int i = 0; i < head->n_hidden; i++, layer++)
    {
      g_autofree char *act_name = g_strdup_printf ("head.%d.act", layer);
      x = head_linear (&b, layer, x, features, head->hidden[i], i == 0 ? 0.0f : head->dropout);
      if (x < 0)
        return NULL;
      if (head->batchnorm)
        {
          g_autofree char *bn = g_strdup_printf ("head.%d.bn", layer);
          char *names[4] = {
            g_strdup_printf ("head.%d.bn.weight", layer), g_strdup_printf ("head.%d.bn.bias", layer),
            g_strdup_printf ("head.%d.bn.running_mean", layer), g_strdup_printf ("head.%d.bn.running_var", layer),
          };
          gint64 width = head->hidden[i];
          int inputs[5] = { x };
          inputs[1] = head_tensor (&b, names[0], GRAFT_VALUE_PARAMETER, graft_shape_make (1, &width), 0, 1);
          inputs[2] = head_tensor (&b, names[1], GRAFT_VALUE_PARAMETER, graft_shape_make (1, &width), 0, 0);
          inputs[3] = head_tensor (&b, names[2], GRAFT_VALUE_BUFFER, graft_shape_make (1, &width), 0, 0);
          inputs[4] = head_tensor (&b, names[3], GRAFT_VALUE_BUFFER, graft_shape_make (1, &width), 0, 1);
          for (int k = 0; k < 4; k++)
            g_free (names[k]);
          if (inputs[1] < 0 || inputs[2] < 0 || inputs[3] < 0 || inputs[4] < 0)
            return NULL;
          x = head_node (&b, bn, (graft_node_attributes) { .op = GRAFT_OP_BATCHNORM, .batchnorm = { 1e-5f, 0.9f } },
                         inputs, 5);
          if (x < 0)
            return NULL;
        }
      x = head_node (&b, act_name,
                     (graft_node_attributes) { .op = GRAFT_OP_ACTIVATION,
                                               .activation = { head->activation,
                                                               head->activation == GRAFT_ACTIVATION_LEAKY_RELU ? 0.01f : 0,
                                                               0 } },
                     &x, 1);
      if (x < 0)
        return NULL;
      features = head->hidden[i];
    }
  x = head_linear (&b, layer, x, features, classes, head->dropout);
  if (x < 0)
    return NULL;
  model->output = model->logits = x;
  model->output_name = g_strdup (graft_graph_value (model->graph, x)->name);

  if (!graft_model_analyse (model, error))
    return NULL;
  /* Everything from the first node of the head on is one block, "head". */
  {
    GraftBlock head_block = { .name = g_strdup ("head"), .first_node = head_start,
                              .last_node = graft_graph_node_count (model->graph) - 1 };
    guint i = 0;
    graft_block_sum_layers (&head_block, model->layers);
    while (i < model->blocks->len && g_array_index (model->blocks, GraftBlock, i).last_node < head_start)
      i++;
    if (i < model->blocks->len && g_array_index (model->blocks, GraftBlock, i).first_node < head_start)
      {
        GraftBlock *partial = &g_array_index (model->blocks, GraftBlock, i);
        partial->last_node = head_start - 1;
        graft_block_sum_layers (partial, model->layers);
        i++;
      }
    if (i < model->blocks->len)
      g_array_remove_range (model->blocks, i, model->blocks->len - i);
    g_array_append_val (model->blocks, head_block);
  }
  return g_steal_pointer (&model);
}
