/* model-analysis.c: what each layer of a model costs, and the blocks a person freezes.
 *
 * Layers. For every node, at batch 1 and the model's declared input size:
 * - the output shape, from shape inference over the graph in order, with the batch
 *   dimension of every graph input replaced by 1;
 * - the parameter elements it reads: PARAMETER values only (not BatchNorm running
 *   statistics, which are buffers), each counted once in the whole model, by the first
 *   node that reads it;
 * - FLOPs per image. Convention: 2 x multiply-adds for Conv (2*M*OH*OW*(C/g)*KH*KW) and
 *   Gemm (2*M*N*K), biases not counted; one op per output element for BatchNormalization,
 *   activations, Add, Mul and Softmax; one op per window element for pools (output
 *   elements x KH*KW, input elements for the global mean); nothing for data movement
 *   (Reshape, Flatten, Transpose, Concat, Dropout).
 *
 * Blocks: contiguous node ranges in graph order, chosen one of two ways.
 *
 * By name, when parameter names mean something: at least half of the parameters have
 * a dotted name with an index component (PyTorch state_dict names): all digits, or
 * word_digits with two more components after it (torchvision ViT's "encoder_layer_0").
 * - A node's key is the name of its first parameter cut after the first index
 *   component that follows the first component ("features.3.conv.0.0.weight" ->
 *   "features.3", "layer2.1.conv1.weight" -> "layer2.1",
 *   "encoder.layers.encoder_layer_0.ln_1.weight" -> "encoder.layers.encoder_layer_0");
 *   with no such component, the name without its last component ("conv1.weight" ->
 *   "conv1", "fc.bias" -> "fc").
 * - A node whose first parameter has no dot in its name ("onnx::Conv_538"), or that has
 *   no parameters, joins the block of the node before it (at the start, the next one).
 * - A new block starts whenever the key changes, so a key that comes back after another
 *   block starts a new block.
 * - Stem: when the model begins with two or more blocks whose keys have no index
 *   (ResNet's conv1, bn1 with its relu and maxpool) and indexed blocks follow, or with
 *   two or more blocks of a module named "stem" (timm's ConvNeXt: stem.0, stem.1), those
 *   leading blocks become one block named "stem".
 * - Downsampling: a block whose first parameters are KEY.downsample.* and whose later
 *   ones are not (timm's stages.N.downsample, then stages.N.blocks) is split in two,
 *   KEY.downsample and KEY, as torchvision's ConvNeXt and Swin number them apart, when
 *   the rest of the block reads its output (ResNet's layerN.0.downsample, a shortcut that
 *   only the residual Add reads, stays in its block).
 * - Final norm: a block without weights (no Conv, Gemm or MatMul with parameters: the
 *   LayerNorm after ViT's last encoder layer, "encoder.ln", ConvNeXt's "classifier.0",
 *   Swin's "norm") just before the last block joins the block before it, so that the
 *   presets' top blocks are encoder layers and stages, not a lone norm.
 *
 * By structure, otherwise (torch's folded exports, MXNet's "resnetv15_conv0_weight"):
 * - a block ends after each residual join: an Add whose two inputs are both activations;
 * - a block ends after a MaxPool or AveragePool that makes H x W smaller;
 * - a new stage starts at a Conv or pool whose output H x W (> 1) is smaller than that
 *   of any earlier stage: a block starts there, unless the current block began right
 *   after a residual join or pool (then the unit that began there keeps its downsampling
 *   node: MobileNetV2's expansion conv stays with its strided depthwise conv);
 * - the classifier (the last Gemm with parameters; without one, the last node with
 *   parameters if it is a Conv, as in SqueezeNet) and every node after it form the
 *   block "head";
 * - a block without a Conv or Gemm that has parameters (only pools, activations, or a
 *   lone BatchNormalization such as the one MXNet's pre-activation ResNets put on the
 *   input) joins the block before it (at the start, the next);
 * - the others are named "block 1", "block 2"...
 */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "model/model.h"
#include "model/model-private.h"
#include "model/surgery.h"

#include <string.h>

typedef struct {
  int first_node, last_node;
  char *key;          /* named: the key; NULL for a block not keyed yet */
  gboolean indexed;   /* named: the key has an all-digit component */
} BlockRange;

static void
block_clear (gpointer data)
{
  GraftBlock *block = data;
  g_clear_pointer (&block->name, g_free);
}

static gboolean
is_number (const char *text)
{
  if (*text == '\0')
    return FALSE;
  for (; *text != '\0'; text++)
    if (!g_ascii_isdigit (*text))
      return FALSE;
  return TRUE;
}

/* A component that numbers a layer: all digits ("3"), or a word, an underscore and
 * digits ("encoder_layer_0", torchvision's ViT) when at least two components follow it
 * (so that "ln_1.weight" is not a layer number, only the name of a parameter's owner). */
static gboolean
is_index (GStrv parts, int i)
{
  const char *underscore;
  if (is_number (parts[i]))
    return TRUE;
  underscore = strrchr (parts[i], '_');
  return underscore != NULL && underscore != parts[i] && is_number (underscore + 1) && parts[i + 1] != NULL
         && parts[i + 2] != NULL;
}

/* A dotted name with a component that numbers a layer, as PyTorch's state_dict names
 * have. */
static gboolean
is_meaningful_name (const char *name)
{
  g_auto (GStrv) parts = NULL;
  if (name == NULL || strchr (name, '.') == NULL)
    return FALSE;
  parts = g_strsplit (name, ".", -1);
  for (int i = 0; parts[i] != NULL; i++)
    if (is_index (parts, i))
      return TRUE;
  return FALSE;
}

/* The block key of a parameter name (see the top of the file), or NULL when the name
 * has no dot. */
static char *
block_key (const char *name, gboolean *indexed)
{
  g_auto (GStrv) parts = NULL;
  guint n;
  *indexed = FALSE;
  if (name == NULL || strchr (name, '.') == NULL)
    return NULL;
  parts = g_strsplit (name, ".", -1);
  n = g_strv_length (parts);
  for (guint i = 1; i < n; i++)
    if (is_index (parts, (int) i))
      {
        char *saved = parts[i + 1];
        char *key;
        parts[i + 1] = NULL;
        key = g_strjoinv (".", parts);
        parts[i + 1] = saved;
        *indexed = TRUE;
        return key;
      }
  {
    char *last = parts[n - 1];
    char *key;
    parts[n - 1] = NULL;
    key = g_strjoinv (".", parts);
    parts[n - 1] = last;
    return key;
  }
}

static double
shape_elements (const graft_shape *shape)
{
  double count = 1;
  for (int d = 0; d < shape->rank; d++)
    count *= (double) shape->dims[d];
  return count;
}

static gint64
spatial (const graft_shape *shape)
{
  return shape->rank == 4 ? shape->dims[2] * shape->dims[3] : -1;
}

/* FLOPs of one node at batch 1 (shapes: of every value); see the convention at the top
 * of the file. */
static double
node_flops (const graft_node *node, const graft_shape *shapes)
{
  const graft_node_attributes *a = &node->attributes;
  const graft_shape *out = &shapes[node->output];
  switch (a->op)
    {
    case GRAFT_OP_CONV:
      {
        /* out is (N,M,OH,OW), w is (M,C/g,KH,KW) */
        const graft_shape *w = &shapes[node->inputs[1]];
        return 2.0 * shape_elements (out) * (double) w->dims[1] * (double) w->dims[2] * (double) w->dims[3];
      }
    case GRAFT_OP_GEMM:
      {
        const graft_shape *x = &shapes[node->inputs[0]];
        double k = (double) (a->gemm.trans_a ? x->dims[0] : x->dims[1]);
        return 2.0 * shape_elements (out) * k;
      }
    case GRAFT_OP_MATMUL:
      {
        const graft_shape *x = &shapes[node->inputs[0]];
        return 2.0 * shape_elements (out) * (double) x->dims[x->rank - 1];
      }
    case GRAFT_OP_LAYERNORM:
    case GRAFT_OP_GELU:
    case GRAFT_OP_SOFTMAX_AXIS:
    case GRAFT_OP_BATCHNORM:
    case GRAFT_OP_ACTIVATION:
    case GRAFT_OP_ADD:
    case GRAFT_OP_MUL:
    case GRAFT_OP_SOFTMAX:
    case GRAFT_OP_ABS:
      return shape_elements (out);
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      return shape_elements (out) * a->pool.kh * a->pool.kw;
    case GRAFT_OP_RESIZE:
      /* bilinear: a window of 2x2; nearest moves data */
      return a->resize.mode == GRAFT_RESIZE_LINEAR ? 4 * shape_elements (out) : 0;
    case GRAFT_OP_MEAN_SPATIAL:
      return shape_elements (&shapes[node->inputs[0]]);
    case GRAFT_OP_RESHAPE:
    case GRAFT_OP_FLATTEN:
    case GRAFT_OP_TRANSPOSE:
    case GRAFT_OP_CONCAT:
    case GRAFT_OP_SLICE:
    case GRAFT_OP_DROPOUT:
    case GRAFT_OP_GATHER:
    case GRAFT_OP_COUNT:
      break;
    }
  return 0;
}

/* The first parameter a node reads, or -1. */
static int
first_parameter (const graft_graph *graph, const graft_node *node)
{
  for (int i = 0; i < node->n_inputs; i++)
    if (graft_graph_value (graph, node->inputs[i])->kind == GRAFT_VALUE_PARAMETER)
      return node->inputs[i];
  return -1;
}

static void
range_clear (gpointer data)
{
  BlockRange *range = data;
  g_clear_pointer (&range->key, g_free);
}

static GArray *
ranges_new (void)
{
  GArray *ranges = g_array_new (FALSE, TRUE, sizeof (BlockRange));
  g_array_set_clear_func (ranges, range_clear);
  return ranges;
}

static void
ranges_append (GArray *ranges, int first, int last, char *key, gboolean indexed)
{
  BlockRange range = { first, last, key, indexed };
  g_array_append_val (ranges, range);
}

/* Whether a range holds a Conv, Gemm or MatMul with parameters (a Linear layer on
 * tokens is exported as MatMul and Add). */
static gboolean
range_has_weights (const graft_graph *graph, const BlockRange *range)
{
  for (int i = range->first_node; i <= range->last_node; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      if ((node->attributes.op == GRAFT_OP_CONV || node->attributes.op == GRAFT_OP_GEMM
           || node->attributes.op == GRAFT_OP_MATMUL)
          && first_parameter (graph, node) >= 0)
        return TRUE;
    }
  return FALSE;
}

/* Whether a node of [split, last] other than an Add reads a value that [first, split)
 * produced: the nodes before split are a step the rest runs through (timm's
 * stages.N.downsample), not a branch beside it that only a residual Add joins. */
static gboolean
range_feeds_sequentially (const graft_graph *graph, int first, int split, int last)
{
  for (int i = split; i <= last; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      if (node->attributes.op == GRAFT_OP_ADD)
        continue;
      for (int k = 0; k < node->n_inputs; k++)
        {
          int producer = graft_graph_value (graph, node->inputs[k])->producer;
          if (producer >= first && producer < split)
            return TRUE;
        }
    }
  return FALSE;
}

/* Blocks by parameter name. */
static GArray *
blocks_by_name (const graft_graph *graph)
{
  GArray *ranges = ranges_new ();
  int n_nodes = graft_graph_node_count (graph);
  int leading = 0;

  ranges_append (ranges, 0, -1, NULL, FALSE);
  for (int i = 0; i < n_nodes; i++)
    {
      BlockRange *current = &g_array_index (ranges, BlockRange, ranges->len - 1);
      int parameter = first_parameter (graph, graft_graph_node (graph, i));
      gboolean indexed = FALSE;
      char *key = parameter >= 0 ? block_key (graft_graph_value (graph, parameter)->name, &indexed) : NULL;

      if (key == NULL || current->key == NULL || strcmp (key, current->key) == 0)
        {
          current->last_node = i;
          if (current->key == NULL && key != NULL)
            {
              current->key = key;
              current->indexed = indexed;
            }
          else
            g_free (key);
          continue;
        }
      ranges_append (ranges, i, i, key, indexed);
    }

  /* The stem: leading blocks whose keys have no index, when indexed ones follow; or
   * leading blocks of one module named "stem" (timm's ConvNeXt: stem.0, its Conv, and
   * stem.1, its LayerNorm, as torchvision's features.0 holds both). */
  while (leading < (int) ranges->len && !g_array_index (ranges, BlockRange, leading).indexed)
    leading++;
  if (leading == 0)
    while (leading < (int) ranges->len && g_array_index (ranges, BlockRange, leading).key != NULL
           && g_str_has_prefix (g_array_index (ranges, BlockRange, leading).key, "stem."))
      leading++;
  if (leading >= 2 && leading < (int) ranges->len)
    {
      BlockRange *stem = &g_array_index (ranges, BlockRange, 0);
      stem->last_node = g_array_index (ranges, BlockRange, leading - 1).last_node;
      g_free (stem->key);
      stem->key = g_strdup ("stem");
      g_array_remove_range (ranges, 1, (guint) leading - 1);
    }

  /* A stage that begins with its downsampling (timm's stages.N.downsample, then
   * stages.N.blocks) is two blocks, as torchvision's ConvNeXt and Swin have it (features.4
   * the downsampling, features.5 the stage), so that the presets act on the same depth. */
  for (guint r = 0; r < ranges->len; r++)
    {
      BlockRange *range = &g_array_index (ranges, BlockRange, r);
      g_autofree char *prefix = NULL;
      int split = -1;
      gboolean leads = FALSE;
      if (range->key == NULL || !range->indexed)
        continue;
      prefix = g_strconcat (range->key, ".downsample.", NULL);
      for (int i = range->first_node; i <= range->last_node; i++)
        {
          int parameter = first_parameter (graph, graft_graph_node (graph, i));
          const char *name = parameter >= 0 ? graft_graph_value (graph, parameter)->name : NULL;
          if (name == NULL || strchr (name, '.') == NULL)
            continue;
          if (g_str_has_prefix (name, prefix))
            {
              leads = TRUE;
              continue;
            }
          if (leads)
            split = i;
          break;
        }
      /* Only a downsampling the stage runs through: ResNet's layerN.0.downsample is the
       * shortcut branch beside the block, which nothing but the residual Add reads. */
      if (split > range->first_node && !range_feeds_sequentially (graph, range->first_node, split, range->last_node))
        split = -1;
      if (split > range->first_node)
        {
          BlockRange rest = { split, range->last_node, g_strdup (range->key), TRUE };
          char *downsample = g_strconcat (range->key, ".downsample", NULL);
          range->last_node = split - 1;
          g_free (range->key);
          range->key = downsample;
          g_array_insert_val (ranges, r + 1, rest);
          r++;
        }
    }

  /* The final norm joins the last layer or stage. */
  if (ranges->len >= 3 && !range_has_weights (graph, &g_array_index (ranges, BlockRange, ranges->len - 2)))
    {
      g_array_index (ranges, BlockRange, ranges->len - 3).last_node =
          g_array_index (ranges, BlockRange, ranges->len - 2).last_node;
      g_array_remove_index (ranges, ranges->len - 2);
    }
  return ranges;
}

/* Blocks by graph structure; shapes are the batch-1 shapes of every value, classifier
 * the node graft_model_find_classifier gives (-1: none). */
static GArray *
blocks_by_structure (const graft_graph *graph, const graft_shape *shapes, int classifier)
{
  GArray *ranges = ranges_new ();
  int n_nodes = graft_graph_node_count (graph);
  int body_end = classifier >= 0 ? classifier : n_nodes;
  gint64 stage = G_MAXINT64;
  gboolean after_join = FALSE; /* the current block began after a residual join or a pool */
  int start = 0;

  for (int i = 0; i < body_end; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      graft_op op = node->attributes.op;
      gint64 in = spatial (&shapes[node->inputs[0]]), out = spatial (&shapes[node->output]);
      gboolean smaller = in > 0 && out > 0 && out < in;
      gboolean ends = FALSE;

      if (smaller && out > 1 && out < stage
          && (op == GRAFT_OP_CONV || op == GRAFT_OP_MAXPOOL || op == GRAFT_OP_AVGPOOL))
        {
          stage = out;
          if (!after_join && i > start)
            {
              ranges_append (ranges, start, i - 1, NULL, FALSE);
              start = i;
            }
        }
      if (op == GRAFT_OP_ADD
          && graft_graph_value (graph, node->inputs[0])->kind == GRAFT_VALUE_ACTIVATION
          && graft_graph_value (graph, node->inputs[1])->kind == GRAFT_VALUE_ACTIVATION)
        ends = TRUE;
      if (smaller && (op == GRAFT_OP_MAXPOOL || op == GRAFT_OP_AVGPOOL))
        ends = TRUE;
      if (ends)
        {
          ranges_append (ranges, start, i, NULL, FALSE);
          start = i + 1;
          after_join = TRUE;
        }
    }
  if (start < body_end)
    ranges_append (ranges, start, body_end - 1, NULL, FALSE);
  if (classifier >= 0)
    ranges_append (ranges, classifier, n_nodes - 1, g_strdup ("head"), FALSE);
  return ranges;
}

/* Structural blocks without weights join the block before them (the first one, the
 * next). Named blocks and the head keep their place. */
static void
merge_weightless (GArray *ranges, const graft_graph *graph)
{
  guint i = 0;
  while (ranges->len > 1 && i < ranges->len)
    {
      BlockRange *range = &g_array_index (ranges, BlockRange, i);
      if (range->key != NULL || range_has_weights (graph, range))
        {
          i++;
          continue;
        }
      if (i > 0 && g_array_index (ranges, BlockRange, i - 1).key == NULL)
        g_array_index (ranges, BlockRange, i - 1).last_node = range->last_node;
      else if (i + 1 < ranges->len && g_array_index (ranges, BlockRange, i + 1).key == NULL)
        g_array_index (ranges, BlockRange, i + 1).first_node = range->first_node;
      else
        {
          i++;
          continue;
        }
      g_array_remove_index (ranges, i);
    }
}

gboolean
graft_model_infer_shapes (const graft_graph *graph, graft_shape *shapes, graft_error *error)
{
  int n_nodes = graft_graph_node_count (graph);

  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      const graft_shape *stack[16];
      g_autofree const graft_shape **heap = NULL;
      const graft_shape **in = stack;

      if (node->n_inputs > (int) G_N_ELEMENTS (stack))
        in = heap = g_new (const graft_shape *, node->n_inputs);
      for (int k = 0; k < node->n_inputs; k++)
        in[k] = &shapes[node->inputs[k]];
      if (graft_node_infer_shape (node, in, &shapes[node->output], error) != GRAFT_OK)
        return FALSE;
    }
  return TRUE;
}

void
graft_block_sum_layers (GraftBlock *block, const GArray *layers)
{
  block->parameters = 0;
  block->flops = 0;
  for (int i = block->first_node; i <= block->last_node; i++)
    {
      const GraftLayerInfo *info = &g_array_index (layers, GraftLayerInfo, i);
      block->parameters += info->parameters;
      block->flops += info->flops;
    }
}

gboolean
graft_model_analyse (GraftModel *model, GError **error)
{
  const graft_graph *graph;
  g_autofree graft_shape *shapes = NULL;
  g_autofree gboolean *counted = NULL;
  g_autoptr (GArray) ranges = NULL;
  graft_error engine_error;
  int n_values, n_nodes, meaningful = 0, total = 0, block_number = 0;

  g_return_val_if_fail (model != NULL, FALSE);
  if (model->graph == NULL)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("the model has no graph to analyse"));
      return FALSE;
    }
  graph = model->graph;
  n_values = graft_graph_value_count (graph);
  n_nodes = graft_graph_node_count (graph);

  /* Shapes at batch 1. */
  shapes = g_new0 (graft_shape, MAX (n_values, 1));
  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      shapes[v] = value->shape;
      if (value->kind == GRAFT_VALUE_INPUT && shapes[v].rank > 0)
        shapes[v].dims[0] = 1;
      if (value->kind == GRAFT_VALUE_PARAMETER && is_meaningful_name (value->name))
        meaningful++;
      if (value->kind == GRAFT_VALUE_PARAMETER)
        total++;
    }

  if (model->layers == NULL)
    model->layers = g_array_new (FALSE, TRUE, sizeof (GraftLayerInfo));
  g_array_set_size (model->layers, 0);
  if (model->blocks == NULL)
    model->blocks = g_array_new (FALSE, TRUE, sizeof (GraftBlock));
  g_array_set_clear_func (model->blocks, block_clear);
  g_array_set_size (model->blocks, 0);

  /* Models whose first dimension is not a batch (some of ONNX's own operator tests)
   * do not infer at batch 1: then the shapes are the graph's, at its declared size. */
  if (!graft_model_infer_shapes (graph, shapes, NULL))
    {
      for (int v = 0; v < n_values; v++)
        shapes[v] = graft_graph_value (graph, v)->shape;
      if (!graft_model_infer_shapes (graph, shapes, &engine_error))
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                       _("cannot infer the shapes of the model: %s"), engine_error.message);
          return FALSE;
        }
    }

  counted = g_new0 (gboolean, MAX (n_values, 1));
  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      GraftLayerInfo info = { 0 };

      info.output_shape = shapes[node->output];
      info.flops = node_flops (node, shapes);
      for (int k = 0; k < node->n_inputs; k++)
        {
          int v = node->inputs[k];
          size_t count = 0;
          if (graft_graph_value (graph, v)->kind != GRAFT_VALUE_PARAMETER || counted[v])
            continue;
          counted[v] = TRUE;
          graft_shape_count (&shapes[v], &count, NULL);
          info.parameters += count;
        }
      g_array_append_val (model->layers, info);
    }
  if (n_nodes == 0)
    return TRUE;

  if (total > 0 && meaningful * 2 >= total)
    ranges = blocks_by_name (graph);
  else
    ranges = blocks_by_structure (graph, shapes, graft_model_find_classifier (model));
  merge_weightless (ranges, graph);

  for (guint b = 0; b < ranges->len; b++)
    {
      const BlockRange *range = &g_array_index (ranges, BlockRange, b);
      GraftBlock block = { 0 };
      block.first_node = range->first_node;
      block.last_node = range->last_node;
      block.name = range->key != NULL ? g_strdup (range->key) : g_strdup_printf ("block %d", ++block_number);
      graft_block_sum_layers (&block, model->layers);
      g_array_append_val (model->blocks, block);
    }
  return TRUE;
}
