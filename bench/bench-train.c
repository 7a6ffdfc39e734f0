/* bench-train: MobileNetV2 at 224x224 on the CPU, timing what training costs in the
 * three shapes a transfer-learning run takes: inference forward, a train step with
 * only the head trainable (feature extraction / replace top layers), and a train step
 * with everything trainable (fine-tuning). bench/torch-train.py times the same in
 * PyTorch, for the ratio.
 *
 *   build/bench/bench-train [--batch 16] [--threads 2] [--repeats 5] [--size 224]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/parallel.h"
#include "engine/plan.h"
#include "mobilenet-v2.h"

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
compare (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
check (graft_status status, const graft_error *error)
{
  if (status != GRAFT_OK)
    {
      fprintf (stderr, "bench-train: %s\n", error->message);
      exit (1);
    }
}

/* Median milliseconds of repeats runs of forward (+ backward + step when training). */
static double
time_plan (graft_plan *plan, mobilenet_v2 *net, const float *images, size_t count,
           const int32_t *labels, graft_optimizer_state *state, int repeats, graft_plan_memory *memory)
{
  double times[64];
  graft_error error;
  for (int r = 0; r <= repeats; r++)
    {
      double start = now ();
      check (graft_plan_set_input (plan, net->input, images, count, &error), &error);
      check (graft_plan_forward (plan, &error), &error);
      if (state != NULL)
        {
          float loss;
          check (graft_plan_backward (plan, labels, &loss, &error), &error);
          check (graft_optimizer_state_step (state, plan, 1e-3f, NULL, &error), &error);
        }
      if (r > 0) /* the first run warms up */
        times[r - 1] = (now () - start) * 1e3;
    }
  graft_plan_memory_usage (plan, memory);
  qsort (times, (size_t) repeats, sizeof (double), compare);
  return times[repeats / 2];
}

int
main (int argc, char **argv)
{
  int batch = 16, threads = 2, repeats = 5, size = 224;
  mobilenet_v2 net;
  graft_error error;
  graft_plan_options inference = { .mode = GRAFT_PLAN_INFERENCE };
  graft_plan_options training = { .mode = GRAFT_PLAN_TRAINING, .seed = 1 };
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  graft_optimizer_state *state;
  graft_plan_memory memory[3];
  graft_plan *plan;
  double forward_ms, head_ms, full_ms;
  float *images;
  int32_t *labels;
  size_t count;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
        batch = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--repeats") == 0 && i + 1 < argc)
        repeats = atoi (argv[++i]);
      else if (strcmp (argv[i], "--size") == 0 && i + 1 < argc)
        size = atoi (argv[++i]);
      else
        {
          fprintf (stderr, "usage: bench-train [--batch N] [--threads N] [--repeats N] [--size N]\n");
          return 2;
        }
    }
  if (repeats < 1 || repeats > 64 || batch < 1)
    return 2;
  graft_set_num_threads (threads);
  mobilenet_v2_build (&net, 10, size, 42);
  count = (size_t) batch * 3 * size * size;
  images = malloc (count * sizeof (float));
  labels = malloc ((size_t) batch * sizeof (int32_t));
  for (size_t i = 0; i < count; i++)
    images[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  for (int i = 0; i < batch; i++)
    labels[i] = i % 10;
  inference.batch = training.batch = batch;
  inference.keep = &net.logits, inference.n_keep = 1;
  training.loss_logits = net.logits;

  plan = graft_plan_new (net.graph, &inference, &error);
  check (plan ? GRAFT_OK : error.status, &error);
  forward_ms = time_plan (plan, &net, images, count, NULL, NULL, repeats, &memory[0]);
  graft_plan_free (plan);

  /* Head only: the backbone frozen, its BatchNorms in inference mode. */
  for (int v = 0; v < graft_graph_value_count (net.graph); v++)
    graft_graph_set_trainable (net.graph, v, v == net.head_weight || v == net.head_bias);
  for (int i = 0; i < graft_graph_node_count (net.graph); i++)
    graft_graph_set_batchnorm_batch_statistics (net.graph, i, false);
  plan = graft_plan_new (net.graph, &training, &error);
  check (plan ? GRAFT_OK : error.status, &error);
  state = graft_optimizer_state_new (&config, &error);
  head_ms = time_plan (plan, &net, images, count, labels, state, repeats, &memory[1]);
  graft_plan_free (plan);
  graft_optimizer_state_free (state);

  /* Everything trainable, BatchNorm with batch statistics. */
  for (int v = 0; v < graft_graph_value_count (net.graph); v++)
    graft_graph_set_trainable (net.graph, v, true);
  for (int i = 0; i < graft_graph_node_count (net.graph); i++)
    graft_graph_set_batchnorm_batch_statistics (net.graph, i, true);
  plan = graft_plan_new (net.graph, &training, &error);
  check (plan ? GRAFT_OK : error.status, &error);
  state = graft_optimizer_state_new (&config, &error);
  full_ms = time_plan (plan, &net, images, count, labels, state, repeats, &memory[2]);
  graft_plan_free (plan);
  graft_optimizer_state_free (state);

  printf ("MobileNetV2 %dx%d, batch %d, %d threads, median of %d\n", size, size, batch, threads, repeats);
  printf ("%-28s %10s %14s %16s %10s\n", "", "ms", "vs forward", "activations MiB", "backward");
  printf ("%-28s %10.1f %14.2f %16.1f %10d\n", "inference forward", forward_ms, 1.0,
          memory[0].activation_floats * 4.0 / 1048576, memory[0].backward_nodes);
  printf ("%-28s %10.1f %14.2f %16.1f %10d\n", "train step, head only", head_ms, head_ms / forward_ms,
          memory[1].activation_floats * 4.0 / 1048576, memory[1].backward_nodes);
  printf ("%-28s %10.1f %14.2f %16.1f %10d\n", "train step, all layers", full_ms, full_ms / forward_ms,
          memory[2].activation_floats * 4.0 / 1048576, memory[2].backward_nodes);
  printf ("(activations without lifetime sharing: %.1f / %.1f / %.1f MiB)\n",
          memory[0].activation_floats_unshared * 4.0 / 1048576,
          memory[1].activation_floats_unshared * 4.0 / 1048576,
          memory[2].activation_floats_unshared * 4.0 / 1048576);
  mobilenet_v2_free (&net);
  free (images);
  free (labels);
  return 0;
}
