/* cli-inspect.c: graft-cli inspect MODEL.onnx [--json]
 *
 * What a model takes and gives, where it comes from, and its blocks and layers with
 * their output shapes (at batch 1), parameters and FLOPs (2 x multiply-adds per image;
 * see model-analysis.c for the convention).
 *
 * JSON keys are stable (tools read them):
 *   {"model", "input": {"name", "shape", "layout"}, "output": {"name", "shape"},
 *    "ir_version", "opset", "producer", "metadata": {key: value},
 *    "parameters", "flops",
 *    "blocks": [{"name", "first_node", "last_node", "parameters", "flops",
 *                "layers": [{"name", "op", "output_shape", "parameters", "flops"}]}]}
 */
#include "cli/cli.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static void
add_shape (JsonBuilder *builder, const graft_shape *shape)
{
  json_builder_begin_array (builder);
  for (int d = 0; d < shape->rank; d++)
    json_builder_add_int_value (builder, shape->dims[d]);
  json_builder_end_array (builder);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GPtrArray *
sorted_metadata_keys (const GraftModel *model)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  if (model->metadata != NULL)
    {
      g_hash_table_iter_init (&iter, model->metadata);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (keys, key);
    }
  g_ptr_array_sort (keys, compare_strings);
  return keys;
}

static char *
producer (const GraftModel *model)
{
  if (model->producer_name == NULL || model->producer_name[0] == '\0')
    return g_strdup ("");
  if (model->producer_version == NULL || model->producer_version[0] == '\0')
    return g_strdup (model->producer_name);
  return g_strdup_printf ("%s %s", model->producer_name, model->producer_version);
}

static void
totals (const GraftModel *model, guint64 *parameters, double *flops)
{
  *parameters = 0;
  *flops = 0;
  for (guint i = 0; i < model->layers->len; i++)
    {
      *parameters += g_array_index (model->layers, GraftLayerInfo, i).parameters;
      *flops += g_array_index (model->layers, GraftLayerInfo, i).flops;
    }
}

static void
print_json (const char *path, const GraftModel *model)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GPtrArray) keys = sorted_metadata_keys (model);
  g_autofree char *made_by = producer (model);
  guint64 parameters;
  double flops;

  totals (model, &parameters, &flops);
  json_builder_begin_object (builder);
  cli_json_set_file_name (builder, "model", path);

  json_builder_set_member_name (builder, "input");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, model->input_name);
  json_builder_set_member_name (builder, "shape");
  add_shape (builder, &graft_graph_value (model->graph, model->input)->shape);
  json_builder_set_member_name (builder, "layout");
  json_builder_add_string_value (builder, model->input_nhwc ? "NHWC" : "NCHW");
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "output");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, model->output_name);
  json_builder_set_member_name (builder, "shape");
  add_shape (builder, &graft_graph_value (model->graph, model->output)->shape);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "ir_version");
  json_builder_add_int_value (builder, model->ir_version);
  json_builder_set_member_name (builder, "opset");
  json_builder_add_int_value (builder, model->opset);
  json_builder_set_member_name (builder, "producer");
  json_builder_add_string_value (builder, made_by);
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  for (guint i = 0; i < keys->len; i++)
    {
      json_builder_set_member_name (builder, keys->pdata[i]);
      json_builder_add_string_value (builder, g_hash_table_lookup (model->metadata, keys->pdata[i]));
    }
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "parameters");
  json_builder_add_int_value (builder, (gint64) parameters);
  json_builder_set_member_name (builder, "flops");
  json_builder_add_double_value (builder, flops);

  json_builder_set_member_name (builder, "blocks");
  json_builder_begin_array (builder);
  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, block->name);
      json_builder_set_member_name (builder, "first_node");
      json_builder_add_int_value (builder, block->first_node);
      json_builder_set_member_name (builder, "last_node");
      json_builder_add_int_value (builder, block->last_node);
      json_builder_set_member_name (builder, "parameters");
      json_builder_add_int_value (builder, (gint64) block->parameters);
      json_builder_set_member_name (builder, "flops");
      json_builder_add_double_value (builder, block->flops);
      json_builder_set_member_name (builder, "layers");
      json_builder_begin_array (builder);
      for (int i = block->first_node; i <= block->last_node; i++)
        {
          const graft_node *node = graft_graph_node (model->graph, i);
          const GraftLayerInfo *info = &g_array_index (model->layers, GraftLayerInfo, i);
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, node->name);
          json_builder_set_member_name (builder, "op");
          json_builder_add_string_value (builder, graft_node_op_name (node));
          json_builder_set_member_name (builder, "output_shape");
          add_shape (builder, &info->output_shape);
          json_builder_set_member_name (builder, "parameters");
          json_builder_add_int_value (builder, (gint64) info->parameters);
          json_builder_set_member_name (builder, "flops");
          json_builder_add_double_value (builder, info->flops);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  /* Node names and metadata come from the file: cli_print_json makes them valid UTF-8. */
  cli_print_json (builder, TRUE);
}

/* 3504872 -> "3,504,872" */
static char *
thousands (guint64 value)
{
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  GString *out = g_string_new (NULL);
  gsize n = strlen (digits);
  for (gsize i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append_c (out, ',');
      g_string_append_c (out, digits[i]);
    }
  return g_string_free (out, FALSE);
}

#define MAX_NAME_WIDTH 60

/* name shortened in the middle to width bytes ("efficientnet-lite4/...BatchNorm:0"). */
static char *
ellipsize (const char *name, int width)
{
  int length = (int) strlen (name), head = (width - 3) / 2;
  if (length <= width)
    return g_strdup (name);
  return g_strdup_printf ("%.*s...%s", head, name, name + length - (width - 3 - head));
}

static void
print_row (int name_width, const char *name, const char *op, const char *shape, guint64 parameters,
           double flops)
{
  g_autofree char *count = thousands (parameters);
  g_autofree char *short_name = ellipsize (name, name_width);
  printf ("%-*s  %-18s  %-20s  %12s  %10.2f\n", name_width, short_name, op, shape, count, flops / 1e6);
}

static void
print_table (const char *path, const GraftModel *model)
{
  g_autoptr (GPtrArray) keys = sorted_metadata_keys (model);
  g_autofree char *made_by = producer (model);
  g_autofree char *total_parameters = NULL;
  char input[128], output[128];
  /* Translators: the heading of inspect's first column (blocks, and their layers under them). */
  const char *name_heading = _("block / layer");
  int name_width = (int) g_utf8_strlen (name_heading, -1);
  guint64 parameters;
  double flops;

  totals (model, &parameters, &flops);
  total_parameters = thousands (parameters);
  graft_shape_format (&graft_graph_value (model->graph, model->input)->shape, input, sizeof input);
  graft_shape_format (&graft_graph_value (model->graph, model->output)->shape, output, sizeof output);
  /* Translators: inspect's summary; the labels are padded to line up their values. */
  printf (_("model       %s\n"), path);
  printf (_("input       %s %s %s\n"), model->input_name, input, model->input_nhwc ? "NHWC" : "NCHW");
  printf (_("output      %s %s\n"), model->output_name, output);
  if (made_by[0] != '\0')
    printf (_("opset       %lld (IR %lld), made by %s\n"), (long long) model->opset, (long long) model->ir_version,
            made_by);
  else
    printf (_("opset       %lld (IR %lld)\n"), (long long) model->opset, (long long) model->ir_version);
  printf ("%s", _("metadata    "));
  for (guint i = 0; i < keys->len; i++)
    printf ("%s%s", i > 0 ? ", " : "", (const char *) keys->pdata[i]);
  printf ("%s\n", keys->len == 0 ? _("(none)") : "");
  printf (_("parameters  %s\n"), total_parameters);
  printf (_("FLOPs       %.3f G per image (2 x multiply-adds)\n\n"), flops / 1e9);

  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      name_width = MAX (name_width, (int) strlen (block->name));
      for (int i = block->first_node; i <= block->last_node; i++)
        name_width = MAX (name_width, 2 + (int) strlen (graft_graph_node (model->graph, i)->name));
    }
  name_width = MIN (name_width, MAX_NAME_WIDTH);
  cli_print_padded (name_heading, name_width);
  printf ("  ");
  cli_print_padded (_("op"), 18);
  printf ("  ");
  cli_print_padded (_("output shape"), 20);
  printf ("  ");
  cli_print_padded_right (_("parameters"), 12);
  printf ("  ");
  cli_print_padded_right (_("MFLOPs"), 10);
  printf ("\n");
  for (guint b = 0; b < model->blocks->len; b++)
    {
      const GraftBlock *block = &g_array_index (model->blocks, GraftBlock, b);
      print_row (name_width, block->name, "", "", block->parameters, block->flops);
      for (int i = block->first_node; i <= block->last_node; i++)
        {
          const graft_node *node = graft_graph_node (model->graph, i);
          const GraftLayerInfo *info = &g_array_index (model->layers, GraftLayerInfo, i);
          g_autofree char *short_name = ellipsize (node->name, name_width - 2);
          g_autofree char *name = g_strdup_printf ("  %s", short_name);
          char shape[128];
          graft_shape_format (&info->output_shape, shape, sizeof shape);
          print_row (name_width, name, graft_node_op_name (node), shape, info->parameters, info->flops);
        }
    }
  print_row (name_width, _("total"), "", "", parameters, flops);
}

int
cli_inspect (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON instead of a table"), NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = cli_option_context_new (
    "inspect", "MODEL.onnx", N_("Shows a model's input and output, its blocks and layers, parameters and FLOPs."),
    entries);
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;

  g_option_context_set_description (context, CLI_JSON_NAMES_HELP);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_usage_error (context, "%s", argc < 2 ? _("which model? (give MODEL.onnx)") : _("one model at a time"));
  model = graft_model_load (argv[1], &error);
  if (model == NULL)
    return cli_fail (error);
  if (model->layers == NULL || model->blocks == NULL || model->layers->len
      != (guint) graft_graph_node_count (model->graph))
    {
      if (!graft_model_analyse (model, &error))
        return cli_fail_printf ("%s: %s", argv[1], error->message);
    }
  if (json)
    print_json (argv[1], model);
  else
    print_table (argv[1], model);
  return CLI_EXIT_OK;
}
