/* cli-infer.c: graft-cli infer MODEL.onnx --input X.npy --output Y.npy [--threads T]
 *
 * X is float32 in the layout the model takes: (N,C,H,W), or (N,H,W,C) for a model
 * whose file takes NHWC. Everything but N must match the model's declared input.
 * Y is the model's output for the N images, float32.
 */
#include "cli/cli.h"

#include "engine/plan.h"
#include "model/npy.h"

int
cli_infer (int argc, char **argv)
{
  g_autofree char *input_path = NULL, *output_path = NULL;
  int threads = 0;
  const GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_path, N_("The images, a float32 .npy file"), "X.npy" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_path, N_("Where to write the output, as .npy"), "Y.npy" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, N_("Threads (default: one per CPU)"), "T" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "infer", "MODEL.onnx", N_("Runs a model on a batch of images from a NumPy file and writes its output."), entries);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *images = NULL;
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE };
  graft_plan *plan;
  graft_error engine_error;
  graft_shape shape, declared, output_shape;
  const float *output;
  size_t count;
  char have[128], want[128];
  gboolean ok;

  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which model? (give MODEL.onnx)") : _("one model at a time"));
  if (input_path == NULL || output_path == NULL)
    return cli_usage_error (context, "%s", _("both --input and --output are needed"));
  if (!cli_set_threads (threads))
    return cli_usage_error (context, _("--threads %d is not a thread count"), threads);

  model = graft_model_load (argv[1], &error);
  if (model == NULL)
    return cli_fail (error);
  if (!graft_npy_read (input_path, &shape, &images, &error))
    return cli_fail (error);

  declared = graft_graph_value (model->graph, model->input)->shape;
  graft_shape_format (&shape, have, sizeof have);
  declared.dims[0] = 1;
  graft_shape_format (&declared, want, sizeof want);
  ok = shape.rank == declared.rank && shape.rank >= 1 && shape.dims[0] >= 1 && shape.dims[0] <= G_MAXINT32;
  for (int d = 1; ok && d < shape.rank; d++)
    ok = shape.dims[d] == declared.dims[d];
  if (!ok)
    return cli_fail_printf (_("%s holds an array of shape %s; %s takes N images of shape %s (%s), N >= 1"),
                            input_path, have, argv[1], want, model->input_nhwc ? "NHWC" : "NCHW");

  options.batch = (int) shape.dims[0];
  options.keep = &model->output;
  options.n_keep = 1;
  plan = graft_plan_new (model->graph, &options, &engine_error);
  if (plan == NULL)
    return cli_fail_printf (_("%s: cannot run at batch %d: %s"), argv[1], options.batch, engine_error.message);
  graft_shape_count (&shape, &count, NULL);
  if (graft_plan_set_input (plan, model->input, images, count, &engine_error) != GRAFT_OK
      || graft_plan_forward (plan, &engine_error) != GRAFT_OK)
    {
      graft_plan_free (plan);
      return cli_fail_printf ("%s: %s", argv[1], engine_error.message);
    }
  output = graft_plan_value_data (plan, model->output, &output_shape);
  ok = output != NULL && graft_npy_write (output_path, &output_shape, output, &error);
  graft_plan_free (plan);
  if (!ok)
    return error != NULL ? cli_fail (error) : cli_fail_printf (_("%s: the plan kept no output"), argv[1]);
  return CLI_EXIT_OK;
}
