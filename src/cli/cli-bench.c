/* cli-bench.c: graft-cli bench MODEL.onnx --batch B --size S --threads T
 *                              --mode forward|train|head [--repeats R] [--json]
 *                              [--precision fp32|bf16]
 *
 * Times what a transfer-learning run costs on this machine, on random images:
 *   forward  an inference plan (forward only);
 *   train    every parameter trainable, BatchNorm with batch statistics:
 *            forward + backward (cross-entropy on the model's logits, random labels)
 *            + an AdamW step;
 *   head     only the model's last layer with parameters trainable (its weight and
 *            bias: the classifier), BatchNorm in inference mode; forward + backward
 *            + AdamW step.
 * One warm-up run, then R timed runs (default 5); reports the median. Peak memory is
 * the process's peak resident set (getrusage ru_maxrss) and the plan's activation
 * memory.
 *
 * The model runs at its declared input size: S, when given, must match it.
 *
 * --precision bf16 runs the convolutions in bf16 mixed precision (engine/plan.h); it
 * fails where the CPU lacks AVX512_BF16/AMX or the portable kernels run.
 *
 * --json prints {"model", "mode", "batch", "size", "threads", "repeats", "precision",
 * "bf16_convolutions",
 * "images_per_second", "ms_per_batch", "peak_rss_mib", "activation_mib",
 * "gradient_mib", "backward_nodes", "openblas" (its configuration, core and threading),
 * "simd" (the engine's kernels this CPU runs)}.
 */
#include "cli/cli.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/parallel.h"
#include "engine/plan.h"
#include "engine/simd.h"
#include "train/spec.h"

typedef enum {
  MODE_FORWARD,
  MODE_TRAIN,
  MODE_HEAD,
} BenchMode;

static const char *const mode_names[] = { "forward", "train", "head" };

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The last node that reads a parameter: the classifier. */
static int
last_parameterized_node (const graft_graph *graph)
{
  for (int i = graft_graph_node_count (graph) - 1; i >= 0; i--)
    {
      const graft_node *node = graft_graph_node (graph, i);
      for (int k = 0; k < node->n_inputs; k++)
        if (graft_graph_value (graph, node->inputs[k])->kind == GRAFT_VALUE_PARAMETER)
          return i;
    }
  return -1;
}

/* Makes the graph ready for mode: which parameters train, and how BatchNorm runs. */
static gboolean
prepare_graph (GraftModel *model, BenchMode mode, GError **error)
{
  graft_graph *graph = model->graph;
  int head = last_parameterized_node (graph);
  const graft_node *head_node = head >= 0 ? graft_graph_node (graph, head) : NULL;

  if (mode != MODE_FORWARD && head < 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                   _("the model has no parameters to train"));
      return FALSE;
    }
  for (int v = 0; v < graft_graph_value_count (graph); v++)
    {
      gboolean trainable = mode == MODE_TRAIN;
      if (graft_graph_value (graph, v)->kind != GRAFT_VALUE_PARAMETER)
        continue;
      if (mode == MODE_HEAD)
        for (int k = 0; k < head_node->n_inputs; k++)
          trainable |= head_node->inputs[k] == v;
      graft_graph_set_trainable (graph, v, trainable);
    }
  for (int i = 0; i < graft_graph_node_count (graph); i++)
    graft_graph_set_batchnorm_batch_statistics (graph, i, mode == MODE_TRAIN);
  return TRUE;
}

static double
now_seconds (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}

int
cli_bench (int argc, char **argv)
{
  int batch = 1, size = 0, threads = 0, repeats = 5;
  gboolean json = FALSE;
  g_autofree char *mode_name = NULL, *precision_name = NULL;
  const GOptionEntry entries[] = {
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, N_("Images per batch (default 1)"), "B" },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, N_("Image size; must be the model's (default: the model's)"), "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, N_("Threads (default: one per CPU)"), "T" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode_name, N_("forward (default), train or head"), "MODE" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats, N_("Timed runs after one warm-up (default 5)"), "R" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name,
      N_("fp32 (default) or bf16: convolutions in bf16 mixed precision (needs AVX512_BF16 or AMX)"), "P" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "bench", "MODEL.onnx", N_("Times inference or a training step of a model on random images."), entries);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *images = NULL;
  g_autofree int32_t *labels = NULL;
  g_autofree double *times = NULL;
  graft_plan_options options = { 0 };
  const char *kernels = "portable";  /* the engine backend that ran (GRAFT_ENGINE_BACKEND) */
  graft_optimizer_config config = graft_optimizer_config_default (GRAFT_OPTIMIZER_ADAMW);
  graft_optimizer_state *state = NULL;
  graft_plan_memory memory;
  graft_plan *plan;
  graft_error engine_error;
  graft_shape input_shape;
  BenchMode mode = MODE_FORWARD;
  struct rusage usage;
  gint64 height, width;
  size_t count;
  double median, peak_rss;
  int classes = 0, status = CLI_EXIT_OK, bf16_nodes = 0;

  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which model? (give MODEL.onnx)") : _("one model at a time"));
  if (mode_name != NULL)
    {
      int m = 0;
      while (m < (int) G_N_ELEMENTS (mode_names) && strcmp (mode_name, mode_names[m]) != 0)
        m++;
      if (m == (int) G_N_ELEMENTS (mode_names))
        return cli_usage_error (context, _("--mode is forward, train or head, not '%s'"), mode_name);
      mode = (BenchMode) m;
    }
  if (precision_name != NULL && !graft_precision_from_string (precision_name, &options.precision))
    return cli_usage_error (context, _("--precision is fp32 or bf16, not '%s'"), precision_name);
  if (options.precision == GRAFT_PLAN_PRECISION_BF16 && !graft_plan_bf16_supported ())
    return cli_fail_printf (_("--precision bf16 needs a CPU with AVX512_BF16 or AMX and a build with oneDNN; "
                              "this one has not (use fp32)"));
  if (batch < 1 || batch > 65536)
    return cli_usage_error (context, _("--batch %d is not a batch size"), batch);
  if (repeats < 1 || repeats > 100000)
    return cli_usage_error (context, _("--repeats %d is not a number of runs"), repeats);
  if (size < 0)
    return cli_usage_error (context, _("--size %d is not an image size"), size);
  if (!cli_set_threads (threads))
    return cli_usage_error (context, _("--threads %d is not a thread count"), threads);

  model = graft_model_load (argv[1], &error);
  if (model == NULL)
    return cli_fail (error);
  cli_model_input_size (model, &height, &width);
  if (size > 0 && height < 0)
    return cli_fail_printf (_("%s does not take images (its input is not 4-dimensional): drop --size"), argv[1]);
  if (size > 0 && (height != size || width != size))
    return cli_fail_printf (_("%s takes %lldx%lld images, not %dx%d (Graft runs a model at its declared input size)"),
                            argv[1], (long long) height, (long long) width, size, size);
  if (mode != MODE_FORWARD)
    {
      const graft_shape *logits = &graft_graph_value (model->graph, model->logits)->shape;
      if (logits->rank != 2 || logits->dims[1] < 1 || logits->dims[1] > G_MAXINT32)
        {
          char text[128];
          graft_shape_format (logits, text, sizeof text);
          return cli_fail_printf (_("%s: the logits have shape %s, not (N, classes): cannot train on them"),
                                  argv[1], text);
        }
      classes = (int) logits->dims[1];
    }
  if (!prepare_graph (model, mode, &error))
    return cli_fail_printf ("%s: %s", argv[1], error->message);

  /* Random images in [-1, 1) and labels, the same every run. */
  input_shape = graft_graph_value (model->graph, model->input)->shape;
  input_shape.dims[0] = batch;
  if (graft_shape_count (&input_shape, &count, &engine_error) != GRAFT_OK)
    return cli_fail_printf ("%s: %s", argv[1], engine_error.message);
  images = g_try_new (float, MAX (count, 1));
  if (images == NULL)
    return cli_fail_printf (_("out of memory for a batch of %d images"), batch);
  for (size_t i = 0; i < count; i++)
    images[i] = 2.0f * graft_random_uniform (7, i) - 1.0f;
  labels = g_new (int32_t, batch);
  for (int i = 0; i < batch; i++)
    labels[i] = MIN ((int32_t) (graft_random_uniform (11, (uint64_t) i) * (float) classes), classes - 1);

  options.mode = mode == MODE_FORWARD ? GRAFT_PLAN_INFERENCE : GRAFT_PLAN_TRAINING;
  options.batch = batch;
  options.keep = &model->output;
  options.n_keep = 1;
  options.loss_logits = model->logits;
  options.seed = 1;
  plan = graft_plan_new (model->graph, &options, &engine_error);
  if (plan == NULL)
    return cli_fail_printf (_("%s: cannot make a %s plan at batch %d: %s"), argv[1], mode_names[mode], batch,
                            engine_error.message);
  kernels = graft_plan_kernels_name (plan);
  bf16_nodes = graft_plan_bf16_nodes (plan);
  if (mode != MODE_FORWARD)
    {
      config.learning_rate = 1e-4f;
      state = graft_optimizer_state_new (&config, &engine_error);
      if (state == NULL)
        {
          graft_plan_free (plan);
          return cli_fail_printf ("%s", engine_error.message);
        }
    }

  times = g_new (double, repeats);
  for (int r = 0; r <= repeats && status == CLI_EXIT_OK; r++)
    {
      double start = now_seconds ();
      float loss;
      if (graft_plan_set_input (plan, model->input, images, count, &engine_error) != GRAFT_OK
          || graft_plan_forward (plan, &engine_error) != GRAFT_OK
          || (state != NULL && graft_plan_backward (plan, labels, &loss, &engine_error) != GRAFT_OK)
          || (state != NULL && graft_optimizer_state_step (state, plan, config.learning_rate, NULL,
                                                           &engine_error) != GRAFT_OK))
        status = cli_fail_printf ("%s: %s", argv[1], engine_error.message);
      else if (r > 0) /* the first run warms up */
        times[r - 1] = (now_seconds () - start) * 1e3;
    }
  graft_plan_memory_usage (plan, &memory);
  graft_plan_free (plan);
  graft_optimizer_state_free (state);
  if (status != CLI_EXIT_OK)
    return status;

  qsort (times, (size_t) repeats, sizeof (double), compare_doubles);
  median = repeats % 2 == 1 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2;
  getrusage (RUSAGE_SELF, &usage);
  peak_rss = (double) usage.ru_maxrss / 1024.0; /* Linux reports KiB */

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      cli_json_set_file_name (builder, "model", argv[1]);
      json_builder_set_member_name (builder, "mode");
      json_builder_add_string_value (builder, mode_names[mode]);
      json_builder_set_member_name (builder, "batch");
      json_builder_add_int_value (builder, batch);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, height);
      json_builder_set_member_name (builder, "threads");
      json_builder_add_int_value (builder, graft_get_num_threads ());
      /* graft_prefer_passive_wait sets it when the user did not. */
      json_builder_set_member_name (builder, "omp_wait_policy");
      json_builder_add_string_value (builder, g_getenv ("OMP_WAIT_POLICY"));
      json_builder_set_member_name (builder, "openblas");
      json_builder_add_string_value (builder, graft_openblas_description ());
      json_builder_set_member_name (builder, "backend");
      json_builder_add_string_value (builder, kernels);
      json_builder_set_member_name (builder, "simd");
      json_builder_add_string_value (builder, graft_simd_level ());
      json_builder_set_member_name (builder, "repeats");
      json_builder_add_int_value (builder, repeats);
      json_builder_set_member_name (builder, "precision");
      json_builder_add_string_value (builder, graft_precision_to_string (options.precision));
      json_builder_set_member_name (builder, "bf16_convolutions");
      json_builder_add_int_value (builder, bf16_nodes);
      json_builder_set_member_name (builder, "images_per_second");
      json_builder_add_double_value (builder, batch / (median / 1e3));
      json_builder_set_member_name (builder, "ms_per_batch");
      json_builder_add_double_value (builder, median);
      json_builder_set_member_name (builder, "peak_rss_mib");
      json_builder_add_double_value (builder, peak_rss);
      json_builder_set_member_name (builder, "activation_mib");
      json_builder_add_double_value (builder, memory.activation_floats * 4.0 / 1048576);
      json_builder_set_member_name (builder, "gradient_mib");
      json_builder_add_double_value (builder, memory.gradient_floats * 4.0 / 1048576);
      json_builder_set_member_name (builder, "backward_nodes");
      json_builder_add_int_value (builder, memory.backward_nodes);
      json_builder_end_object (builder);
      cli_print_json (builder, FALSE);
    }
  else
    {
      printf (_("%s: %s, batch %d, %lldx%lld, %d threads, median of %d\n"), argv[1], mode_names[mode], batch,
              (long long) height, (long long) width, graft_get_num_threads (), repeats);
      printf ("  OpenBLAS: %s\n", graft_openblas_description ());
      printf (_("  engine kernels: %s\n"), graft_simd_level ());
      if (options.precision == GRAFT_PLAN_PRECISION_BF16)
        printf (_("  precision: bf16 (%d convolutions in bf16)\n"), bf16_nodes);
      printf (_("  %.2f ms per batch, %.1f images/s\n"), median, batch / (median / 1e3));
      printf (_("  peak RSS %.1f MiB; activations %.1f MiB, gradients %.1f MiB (plan)\n"), peak_rss,
              memory.activation_floats * 4.0 / 1048576, memory.gradient_floats * 4.0 / 1048576);
    }
  return CLI_EXIT_OK;
}
