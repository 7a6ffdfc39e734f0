/* fuzz-onnx.c: libFuzzer target for the ONNX importer and the engine behind it.
 *
 * Each input is taken as an ONNX file and read with graft_model_load_from_data (no
 * base folder, so external data is refused). A file the importer accepts is then run:
 * an inference plan at batch 2 and one forward pass on zeros, to catch engine crashes
 * on odd graphs. A graph whose activations (all of them, before sharing, plus the
 * largest convolution scratch) would take more than 256 MB at batch 2, or whose
 * forward pass would cost more than FUZZ_MAX_WORK multiply-adds, is imported but
 * not run: the shapes are inferred here first, with the engine's own functions,
 * before the plan allocates anything.
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/plan.h"
#include "model/model.h"

#define FUZZ_BATCH 2
#define FUZZ_MAX_BYTES ((size_t) 256 << 20)
/* Multiply-adds (or element visits) of one forward pass: keeps each run well under
 * a second under ASan. */
#define FUZZ_MAX_WORK 2e8

/* FUZZ_ONNX_VERBOSE=1 in the environment: one line per input on stderr saying how far
 * it got (to check that a corpus reaches the engine). */
static gboolean verbose;

#define report(...) G_STMT_START { if (verbose) g_printerr (__VA_ARGS__); } G_STMT_END

/* cost += a * b * c, saturating at a large value instead of overflowing. */
static void
add_work (double *cost, double a, double b, double c)
{
  *cost += a * b * c;
  if (*cost > 1e30)
    *cost = 1e30;
}

/* Infers every value's shape at batch FUZZ_BATCH as a plan would, and estimates the
 * memory and work of a forward pass. Returns FALSE when the model must not be run
 * because it is too large; TRUE otherwise (including when a shape does not fit:
 * graft_plan_new then fails the same way, before allocating). */
static gboolean
small_enough (const graft_graph *graph)
{
  int n_values = graft_graph_value_count (graph);
  int n_nodes = graft_graph_node_count (graph);
  g_autofree graft_shape *shapes = g_new0 (graft_shape, MAX (n_values, 1));
  size_t total = 0, scratch = 0;
  double work = 0;

  for (int v = 0; v < n_values; v++)
    {
      const graft_value *value = graft_graph_value (graph, v);
      shapes[v] = value->shape;
      if (value->kind == GRAFT_VALUE_INPUT)
        shapes[v].dims[0] = FUZZ_BATCH;
    }
  for (int i = 0; i < n_nodes; i++)
    {
      const graft_node *node = graft_graph_node (graph, i);
      const graft_node_attributes *a = &node->attributes;
      g_autofree const graft_shape **inputs = g_new0 (const graft_shape *, MAX (node->n_inputs, 1));
      graft_shape *y = &shapes[node->output];
      const graft_shape *x;
      size_t count;

      for (int k = 0; k < node->n_inputs; k++)
        inputs[k] = &shapes[node->inputs[k]];
      if (graft_node_infer_shape (node, inputs, y, NULL) != GRAFT_OK
          || graft_shape_count (y, &count, NULL) != GRAFT_OK
          || !graft_size_align_floats (count, &count))
        return TRUE;
      if (count > FUZZ_MAX_BYTES / sizeof (float))
        return FALSE;
      x = inputs[0];
      switch (a->op)
        {
        case GRAFT_OP_CONV:
          {
            graft_conv2d_params p;
            const graft_shape *w = inputs[1];
            if (x->rank != 4 || w->rank != 4)
              return TRUE;
            p = graft_node_conv2d_params (node, x, w);
            if (graft_conv2d_setup (&p, NULL) != GRAFT_OK)
              return TRUE;
            scratch = MAX (scratch, graft_conv2d_scratch_floats (&p));
            if (scratch > FUZZ_MAX_BYTES / sizeof (float))
              return FALSE;
            add_work (&work, (double) count, (double) (p.c / MAX (p.groups, 1)), (double) p.kh * p.kw);
          }
          break;
        case GRAFT_OP_MAXPOOL:
        case GRAFT_OP_AVGPOOL:
          add_work (&work, (double) count, a->pool.kh, a->pool.kw);
          break;
        case GRAFT_OP_GEMM:
          if (x->rank == 2)
            add_work (&work, (double) count, (double) (a->gemm.trans_a ? x->dims[0] : x->dims[1]), 1);
          break;
        default:
          for (int k = 0; k < node->n_inputs; k++)
            {
              size_t input_count;
              if (graft_shape_count (inputs[k], &input_count, NULL) == GRAFT_OK)
                add_work (&work, (double) input_count, 1, 1);
            }
          add_work (&work, (double) count, 1, 1);
          break;
        }
      if (!graft_size_add (total, count, &total) || total > FUZZ_MAX_BYTES / sizeof (float))
        return FALSE;
    }
  for (int v = 0; v < n_values; v++)
    {
      size_t count;
      if (graft_graph_value (graph, v)->kind != GRAFT_VALUE_INPUT)
        continue;
      if (graft_shape_count (&shapes[v], &count, NULL) != GRAFT_OK
          || !graft_size_align_floats (count, &count))
        return TRUE;
      if (!graft_size_add (total, count, &total) || total > FUZZ_MAX_BYTES / sizeof (float))
        return FALSE;
    }
  if (!graft_size_add (total, scratch, &total) || total > FUZZ_MAX_BYTES / sizeof (float))
    return FALSE;
  return work <= FUZZ_MAX_WORK;
}

/* An inference plan at batch FUZZ_BATCH, zeros in, one forward pass. Errors are
 * fine (the engine may refuse what the importer accepted); crashes are not. */
static void
run_forward (GraftModel *model)
{
  graft_plan_options options = { 0 };
  graft_plan_memory memory;
  graft_error error;
  graft_plan *plan;
  int keep[2] = { model->output, model->logits };

  if (!small_enough (model->graph))
    {
      report ("fuzz-onnx: imported; too large to run at batch %d\n", FUZZ_BATCH);
      return;
    }
  options.mode = GRAFT_PLAN_INFERENCE;
  options.batch = FUZZ_BATCH;
  options.keep = keep;
  options.n_keep = model->logits != model->output ? 2 : 1;
  options.seed = 1;
  plan = graft_plan_new (model->graph, &options, &error);
  if (plan == NULL)
    {
      report ("fuzz-onnx: imported; no plan: %s\n", error.message);
      return;
    }
  graft_plan_memory_usage (plan, &memory);
  if ((memory.activation_floats + memory.scratch_floats) > FUZZ_MAX_BYTES / sizeof (float))
    abort (); /* the estimate above is an upper bound: it must hold */

  for (int v = 0; v < graft_graph_value_count (model->graph); v++)
    {
      graft_shape shape;
      size_t count;
      g_autofree float *zeros = NULL;

      if (graft_graph_value (model->graph, v)->kind != GRAFT_VALUE_INPUT)
        continue;
      shape = graft_graph_value (model->graph, v)->shape;
      shape.dims[0] = FUZZ_BATCH;
      if (graft_shape_count (&shape, &count, &error) != GRAFT_OK)
        goto out;
      zeros = g_new0 (float, MAX (count, 1));
      if (graft_plan_set_input (plan, v, zeros, count, &error) != GRAFT_OK)
        goto out;
    }
  if (graft_plan_forward (plan, &error) == GRAFT_OK)
    {
      graft_shape shape;
      char text[128];
      if (graft_plan_value_data (plan, model->output, &shape) == NULL)
        abort (); /* a kept value must be readable */
      graft_shape_format (&shape, text, sizeof text);
      report ("fuzz-onnx: imported; forward at batch %d gives %s\n", FUZZ_BATCH, text);
      graft_plan_free (plan);
      return;
    }
out:
  report ("fuzz-onnx: imported; forward failed: %s\n", error.message);
  graft_plan_free (plan);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* One thread: runs are reproducible and crashes point at one stack. */
  graft_set_num_threads (1);
  verbose = g_getenv ("FUZZ_ONNX_VERBOSE") != NULL;
  /* A g_return_if_fail or g_critical on hostile data is a bug: make it a crash. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftModel) model = NULL;

  model = graft_model_load_from_data (data, size, NULL, "fuzz", &error);
  if (model == NULL)
    {
      /* Every failure must say why. */
      if (error == NULL || error->domain != GRAFT_MODEL_ERROR || error->message == NULL
          || error->message[0] == '\0')
        abort ();
      report ("fuzz-onnx: refused: %s\n", error->message);
      return 0;
    }
  if (error != NULL)
    abort (); /* success with an error set */
  run_forward (model);
  return 0;
}
