/* Training end to end on the toy network: it learns, frozen parameters never move,
 * and the same seed gives the same bits. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "engine/parallel.h"
#include "engine/plan.h"
#include "gradcheck.h"
#include "toy-network.h"

#define BATCH 16

typedef struct {
  float loss_first, loss_last;  /* mean over the first and last 10 steps */
  double accuracy;              /* on a held-out batch, inference plan */
} run_result;

static run_result
train (toy_network *net, const graft_optimizer_config *config, int steps, uint64_t seed)
{
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = BATCH, .seed = seed };
  graft_plan_options inference = { .mode = GRAFT_PLAN_INFERENCE, .batch = 256 };
  size_t count = (size_t) BATCH * TOY_CHANNELS * TOY_SIZE * TOY_SIZE;
  float *images = test_floats (count * 16);
  int32_t labels[256];
  graft_optimizer_state *state;
  graft_error error;
  graft_plan *plan;
  run_result result = { 0 };
  const float *logits;
  int correct = 0;

  training.loss_logits = net->logits;
  plan = graft_plan_new (net->graph, &training, &error);
  g_assert_nonnull (plan);
  state = graft_optimizer_state_new (config, &error);
  g_assert_nonnull (state);
  for (int step = 0; step < steps; step++)
    {
      float loss;
      toy_batch (BATCH, seed * 1000 + (uint64_t) step, images, labels);
      g_assert_cmpint (graft_plan_set_input (plan, net->input, images, count, &error), ==, GRAFT_OK);
      g_assert_cmpint (graft_plan_forward (plan, &error), ==, GRAFT_OK);
      if (graft_plan_backward (plan, labels, &loss, &error) != GRAFT_OK)
        g_error ("step %d: %s", step, error.message);
      g_assert_cmpint (graft_optimizer_state_step (state, plan, config->learning_rate, NULL, &error), ==, GRAFT_OK);
      if (step < 10)
        result.loss_first += loss / 10;
      if (step >= steps - 10)
        result.loss_last += loss / 10;
    }
  graft_plan_free (plan);
  graft_optimizer_state_free (state);

  inference.keep = &net->logits, inference.n_keep = 1;
  plan = graft_plan_new (net->graph, &inference, &error);
  toy_batch (256, 424242, images, labels);
  graft_plan_set_input (plan, net->input, images, count * 16, &error);
  graft_plan_forward (plan, &error);
  logits = graft_plan_value_data (plan, net->logits, NULL);
  for (int i = 0; i < 256; i++)
    {
      int best = 0;
      for (int k = 1; k < TOY_CLASSES; k++)
        if (logits[i * TOY_CLASSES + k] > logits[i * TOY_CLASSES + best])
          best = k;
      correct += best == labels[i];
    }
  result.accuracy = correct / 256.0;
  graft_plan_free (plan);
  g_free (images);
  return result;
}

/* A small CNN with BN and a residual add learns the toy task. */
static void
test_learns (void)
{
  toy_network net;
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  run_result result;

  config.learning_rate = 1e-2f;
  toy_network_build (&net, 0.1f, 1);
  result = train (&net, &config, 150, 1);
  g_test_message ("loss %.3f -> %.3f, held-out accuracy %.3f", result.loss_first, result.loss_last,
                  result.accuracy);
  g_assert_cmpfloat (result.loss_first, >, 0.9);
  g_assert_cmpfloat (result.loss_last, <, 0.15);
  g_assert_cmpfloat (result.accuracy, >=, 0.95);
  toy_network_free (&net);
}

/* SGD with Nesterov momentum and clipping learns it too. */
static void
test_learns_sgd (void)
{
  toy_network net;
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_SGD);
  run_result result;

  config.learning_rate = 0.05f;
  config.momentum = 0.9f;
  config.nesterov = true;
  config.max_grad_norm = 5.0f;
  toy_network_build (&net, 0.0f, 2);
  result = train (&net, &config, 150, 2);
  g_test_message ("loss %.3f -> %.3f, held-out accuracy %.3f", result.loss_first, result.loss_last,
                  result.accuracy);
  g_assert_cmpfloat (result.loss_last, <, 0.2);
  g_assert_cmpfloat (result.accuracy, >=, 0.9);
  toy_network_free (&net);
}

/* A frozen parameter stays bit-identical through 50 AdamW steps with weight decay,
 * while the trainable ones move. */
static void
test_frozen_stays (void)
{
  toy_network net;
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  float *before_conv, *before_gamma, *before_fc;

  config.learning_rate = 1e-2f;
  config.weight_decay = 0.1f;
  toy_network_build (&net, 0.1f, 4);
  graft_graph_pack (net.graph, NULL);
  graft_graph_set_trainable (net.graph, net.conv1_weight, false);
  graft_graph_set_trainable (net.graph, net.bn1_gamma, false);
  before_conv = g_memdup2 (graft_graph_tensor_data (net.graph, net.conv1_weight), 8 * 3 * 9 * sizeof (float));
  before_gamma = g_memdup2 (graft_graph_tensor_data (net.graph, net.bn1_gamma), 8 * sizeof (float));
  before_fc = g_memdup2 (graft_graph_tensor_data (net.graph, net.fc_weight), 48 * sizeof (float));
  train (&net, &config, 50, 4);
  g_assert_cmpmem (before_conv, 8 * 3 * 9 * sizeof (float),
                   graft_graph_tensor_data (net.graph, net.conv1_weight), 8 * 3 * 9 * sizeof (float));
  g_assert_cmpmem (before_gamma, 8 * sizeof (float), graft_graph_tensor_data (net.graph, net.bn1_gamma),
                   8 * sizeof (float));
  g_assert_true (memcmp (before_fc, graft_graph_tensor_data (net.graph, net.fc_weight), 48 * sizeof (float)) != 0);
  g_free (before_conv);
  g_free (before_gamma);
  g_free (before_fc);
  toy_network_free (&net);
}

static GBytes *
parameters_of (toy_network *net)
{
  GByteArray *bytes = g_byte_array_new ();
  for (int v = 0; v < graft_graph_value_count (net->graph); v++)
    {
      const graft_value *value = graft_graph_value (net->graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      g_byte_array_append (bytes, (const guint8 *) value->data, (guint) (count * sizeof (float)));
    }
  return g_byte_array_free_to_bytes (bytes);
}

/* Two runs with the same seed and thread count give the same bits (dropout included). */
static void
test_deterministic (void)
{
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  GBytes *runs[3];

  config.learning_rate = 5e-3f;
  for (int r = 0; r < 3; r++)
    {
      toy_network net;
      toy_network_build (&net, 0.3f, 9);
      train (&net, &config, 20, r < 2 ? 9 : 10);
      runs[r] = parameters_of (&net);
      toy_network_free (&net);
    }
  g_assert_true (g_bytes_equal (runs[0], runs[1]));
  g_assert_false (g_bytes_equal (runs[0], runs[2]));
  for (int r = 0; r < 3; r++)
    g_bytes_unref (runs[r]);
}

/* Progressive unfreezing: a new plan with more trainable parameters keeps the
 * optimizer state of those already training. */
static void
test_unfreeze_keeps_state (void)
{
  toy_network net;
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAM);
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = BATCH };
  size_t count = (size_t) BATCH * TOY_CHANNELS * TOY_SIZE * TOY_SIZE;
  float *images = test_floats (count);
  int32_t labels[BATCH];
  graft_optimizer_state *state = graft_optimizer_state_new (&config, NULL);
  graft_error error;

  toy_network_build (&net, 0.0f, 5);
  toy_network_freeze_backbone (&net);
  training.loss_logits = net.logits;
  for (int stage = 0; stage < 2; stage++)
    {
      graft_plan *plan = graft_plan_new (net.graph, &training, &error);
      for (int step = 0; step < 3; step++)
        {
          toy_batch (BATCH, (uint64_t) step, images, labels);
          graft_plan_set_input (plan, net.input, images, count, &error);
          graft_plan_forward (plan, &error);
          g_assert_cmpint (graft_plan_backward (plan, labels, NULL, &error), ==, GRAFT_OK);
          g_assert_cmpint (graft_optimizer_state_step (state, plan, 1e-3f, NULL, &error), ==, GRAFT_OK);
        }
      graft_plan_free (plan);
      graft_graph_set_trainable (net.graph, net.conv2_weight, true);
    }
  g_assert_cmpint (graft_optimizer_state_steps (state), ==, 6);
  graft_optimizer_state_free (state);
  toy_network_free (&net);
  g_free (images);
}

/* The optimizer state survives serialisation bit for bit; damaged bytes are refused. */
static void
test_optimizer_state_bytes (void)
{
  toy_network net;
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .batch = BATCH };
  size_t count = (size_t) BATCH * TOY_CHANNELS * TOY_SIZE * TOY_SIZE;
  float *images = test_floats (count);
  int32_t labels[BATCH];
  graft_optimizer_state *state = graft_optimizer_state_new (&config, NULL), *copy;
  graft_error error;
  graft_plan *plan;
  size_t size;
  uint8_t *bytes, *again;

  toy_network_build (&net, 0.0f, 6);
  training.loss_logits = net.logits;
  plan = graft_plan_new (net.graph, &training, &error);
  for (int step = 0; step < 3; step++)
    {
      toy_batch (BATCH, (uint64_t) step, images, labels);
      graft_plan_set_input (plan, net.input, images, count, &error);
      graft_plan_forward (plan, &error);
      graft_plan_backward (plan, labels, NULL, &error);
      graft_optimizer_state_step (state, plan, 1e-3f, NULL, &error);
    }
  size = graft_optimizer_state_serialized_size (state);
  bytes = g_malloc (size);
  again = g_malloc (size);
  graft_optimizer_state_serialize (state, bytes);
  copy = graft_optimizer_state_deserialize (&config, bytes, size, &error);
  g_assert_nonnull (copy);
  g_assert_cmpint (graft_optimizer_state_steps (copy), ==, 3);
  g_assert_cmpuint (graft_optimizer_state_serialized_size (copy), ==, size);
  graft_optimizer_state_serialize (copy, again);
  g_assert_cmpmem (bytes, size, again, size);
  for (size_t cut = 0; cut < size; cut += 1 + size / 50)
    g_assert_null (graft_optimizer_state_deserialize (&config, bytes, cut, &error));
  config.kind = GRAFT_OPTIMIZER_SGD;
  config.momentum = 0;
  g_assert_null (graft_optimizer_state_deserialize (&config, bytes, size, &error));
  graft_optimizer_state_free (copy);
  graft_optimizer_state_free (state);
  graft_plan_free (plan);
  toy_network_free (&net);
  g_free (bytes);
  g_free (again);
  g_free (images);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  graft_set_num_threads (2);
  g_test_add_func ("/engine/train/learns", test_learns);
  g_test_add_func ("/engine/train/learns-sgd", test_learns_sgd);
  g_test_add_func ("/engine/train/frozen-stays", test_frozen_stays);
  g_test_add_func ("/engine/train/deterministic", test_deterministic);
  g_test_add_func ("/engine/train/unfreeze-keeps-state", test_unfreeze_keeps_state);
  g_test_add_func ("/engine/train/optimizer-state-bytes", test_optimizer_state_bytes);
  return g_test_run ();
}
