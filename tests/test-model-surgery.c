/* Cutting a network and grafting a new head. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "engine/plan.h"
#include "gradcheck.h"
#include "model/model-private.h"
#include "model/surgery.h"
#include "toy-network.h"

static GraftModel *
toy_model (void)
{
  GraftModel *model = graft_model_new ();
  toy_network net;
  toy_network_build (&net, 0.2f, 7);
  model->graph = net.graph;
  model->input = net.input;
  model->output = model->logits = net.logits;
  model->input_name = g_strdup ("image");
  model->output_name = g_strdup ("fc");
  g_hash_table_insert (model->metadata, g_strdup ("graft.labels"), g_strdup ("[\"a\",\"b\",\"c\"]"));
  g_assert_true (graft_model_analyse (model, NULL));
  return model;
}

/* Runs model on a fixed batch and returns a copy of value. */
static float *
run (GraftModel *model, int value, int batch, graft_shape *shape)
{
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = batch, .keep = &value, .n_keep = 1 };
  size_t count = (size_t) batch * TOY_CHANNELS * TOY_SIZE * TOY_SIZE, out_count;
  g_autofree float *images = test_floats (count);
  int32_t labels[8];
  graft_error error;
  graft_plan *plan = graft_plan_new (model->graph, &options, &error);
  float *copy;
  g_assert_nonnull (plan);
  toy_batch (batch, 3, images, labels);
  g_assert_cmpint (graft_plan_set_input (plan, model->input, images, count, &error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
  graft_plan_value_data (plan, value, shape);
  graft_shape_count (shape, &out_count, NULL);
  copy = g_memdup2 (graft_plan_value_data (plan, value, NULL), out_count * sizeof (float));
  graft_plan_free (plan);
  return copy;
}

static void
test_default_cut (void)
{
  g_autoptr (GraftModel) model = toy_model ();
  int classifier = graft_model_find_classifier (model);
  int cut = graft_model_default_cut (model);
  g_assert_cmpstr (graft_graph_node (model->graph, classifier)->name, ==, "fc");
  /* The classifier reads the dropout; the cut is before it. */
  g_assert_cmpstr (graft_graph_value (model->graph, cut)->name, ==, "features");
}

static void
test_mlp_head (void)
{
  g_autoptr (GraftModel) base = toy_model ();
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  GraftHeadSpec head = { .n_hidden = 1, .hidden = { 32 }, .activation = GRAFT_ACTIVATION_RELU,
                         .dropout = 0.2f, .batchnorm = TRUE };
  int base_nodes = graft_graph_node_count (base->graph);
  int cut = graft_model_default_cut (base);
  guint64 backbone = graft_graph_parameter_count (base->graph, false) - (3 * 16 + 3);
  g_autofree float *base_features = NULL, *features = NULL, *logits = NULL;
  graft_shape shape;
  const GraftBlock *last;

  model = graft_model_graft_head (base, cut, &head, 5, 42, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_graph_node_count (base->graph), ==, base_nodes); /* base untouched */
  g_assert_cmpuint (graft_head_parameter_count (&head, 16, 5), ==, 16 * 32 + 32 + 2 * 32 + 32 * 5 + 5);
  g_assert_cmpuint (graft_graph_parameter_count (model->graph, false), ==,
                    backbone + graft_head_parameter_count (&head, 16, 5));
  last = &g_array_index (model->blocks, GraftBlock, model->blocks->len - 1);
  g_assert_cmpstr (last->name, ==, "head");
  g_assert_cmpint (last->last_node, ==, graft_graph_node_count (model->graph) - 1);
  g_assert_cmpstr (g_hash_table_lookup (model->metadata, "graft.labels"), ==, "[\"a\",\"b\",\"c\"]");

  /* The kept part computes exactly what it computed before. */
  base_features = run (base, cut, 4, &shape);
  features = run (model, graft_graph_find_value (model->graph, "features"), 4, &shape);
  g_assert_cmpmem (base_features, 4 * 16 * sizeof (float), features, 4 * 16 * sizeof (float));
  logits = run (model, model->logits, 4, &shape);
  g_assert_cmpint (shape.rank, ==, 2);
  g_assert_cmpint (shape.dims[1], ==, 5);

  /* PyTorch's nn.Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  {
    int w = graft_graph_find_value (model->graph, "head.0.weight");
    const float *data = graft_graph_tensor_data (model->graph, w);
    float bound = 1.0f / sqrtf (16), low = 1, high = -1;
    for (int i = 0; i < 32 * 16; i++)
      {
        low = fminf (low, data[i]);
        high = fmaxf (high, data[i]);
      }
    g_assert_cmpfloat (low, >=, -bound);
    g_assert_cmpfloat (high, <=, bound);
    g_assert_cmpfloat (high - low, >, bound);
  }
}

static void
test_cut_on_feature_map (void)
{
  g_autoptr (GraftModel) base = toy_model ();
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  GraftHeadSpec head = { 0 };
  int cut = graft_graph_find_value (base->graph, "pool"); /* (N,8,4,4) */
  graft_shape shape;
  g_autofree float *logits = NULL;

  model = graft_model_graft_head (base, cut, &head, 4, 1, &error);
  g_assert_no_error (error);
  /* Nothing after the pool survives: no depthwise conv, no concat. */
  g_assert_cmpint (graft_graph_find_value (model->graph, "dwconv"), ==, -1);
  g_assert_cmpint (graft_graph_find_value (model->graph, "concat"), ==, -1);
  logits = run (model, model->logits, 2, &shape);
  g_assert_cmpint (shape.dims[0], ==, 2);
  g_assert_cmpint (shape.dims[1], ==, 4);
}

static void
test_errors (void)
{
  g_autoptr (GraftModel) base = toy_model ();
  GraftHeadSpec head = { 0 };
  GError *error = NULL;
  g_assert_null (graft_model_graft_head (base, graft_graph_find_value (base->graph, "conv1.weight"), &head, 3, 1, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (graft_model_graft_head (base, graft_model_default_cut (base), &head, 1, 1, &error));
  g_assert_nonnull (strstr (error->message, "two classes"));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/surgery/default-cut", test_default_cut);
  g_test_add_func ("/model/surgery/mlp-head", test_mlp_head);
  g_test_add_func ("/model/surgery/cut-on-feature-map", test_cut_on_feature_map);
  g_test_add_func ("/model/surgery/errors", test_errors);
  return g_test_run ();
}
