/* cli-common.c: option parsing, messages and small helpers shared by the commands. */
#include "cli/cli.h"

#include <stdio.h>

#include "engine/parallel.h"

GOptionContext *
cli_option_context_new (const char *command, const char *parameters, const char *summary,
                        const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);
  g_autofree char *prgname = g_strdup_printf ("graft-cli %s", command);
  g_set_prgname (prgname);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

gboolean
cli_parse (GOptionContext *context, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_usage_error (context, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

int
cli_usage_error (GOptionContext *context, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "%s: %s\n", g_get_prgname (), message);
  fprintf (stderr, "Try '%s --help' for the options.\n", g_get_prgname ());
  (void) context;
  return CLI_EXIT_USAGE;
}

int
cli_fail (const GError *error)
{
  fprintf (stderr, "graft-cli: %s\n", error->message);
  return CLI_EXIT_FAILURE;
}

int
cli_fail_printf (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "graft-cli: %s\n", message);
  return CLI_EXIT_FAILURE;
}

gboolean
cli_set_threads (int threads)
{
  if (threads < 0 || threads > 4096)
    return FALSE;
  if (threads > 0)
    graft_set_num_threads (threads);
  return TRUE;
}

const char *
cli_node_op_name (const graft_node *node)
{
  if (node->attributes.op != GRAFT_OP_ACTIVATION)
    return graft_op_name (node->attributes.op);
  switch (node->attributes.activation.kind)
    {
    case GRAFT_ACTIVATION_RELU: return "Relu";
    case GRAFT_ACTIVATION_CLIP: return "Clip";
    case GRAFT_ACTIVATION_LEAKY_RELU: return "LeakyRelu";
    case GRAFT_ACTIVATION_SIGMOID: return "Sigmoid";
    case GRAFT_ACTIVATION_HARD_SIGMOID: return "HardSigmoid";
    case GRAFT_ACTIVATION_HARD_SWISH: return "HardSwish";
    }
  return graft_op_name (node->attributes.op);
}

void
cli_model_input_size (const GraftModel *model, gint64 *height, gint64 *width)
{
  const graft_shape *shape = &graft_graph_value (model->graph, model->input)->shape;
  *height = *width = -1;
  if (shape->rank != 4)
    return;
  *height = model->input_nhwc ? shape->dims[1] : shape->dims[2];
  *width = model->input_nhwc ? shape->dims[2] : shape->dims[3];
}
