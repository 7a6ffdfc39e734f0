/* test-cli: graft-cli as benchmarks and other tools use it: spawned, on a small ONNX
 * file written by onnx.helper (Debian's /usr/bin/python3 with python3-onnx; the tests
 * skip without it). The binary is $GRAFT_CLI. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-test-helpers.h"
#include "engine/parallel.h"
#include "engine/plan.h"
#include "model/model.h"
#include "model/npy.h"

/* A small CNN with torchvision-like names: conv-BN-Relu6, a depthwise conv, a 1x1 conv,
 * a residual Add, global pooling and a Gemm classifier. Input (N,3,16,16), 5 classes. */
static const char model_script[] =
  "import sys\n"
  "import numpy as np\n"
  "import onnx\n"
  "from onnx import helper, numpy_helper, TensorProto\n"
  "rng = np.random.default_rng(0)\n"
  "inits = []\n"
  "def init(name, shape, scale=0.3, offset=0.0):\n"
  "    a = (rng.standard_normal(shape) * scale + offset).astype(np.float32)\n"
  "    inits.append(numpy_helper.from_array(a, name))\n"
  "    return name\n"
  "def const(name, value):\n"
  "    return helper.make_node('Constant', [], [name], name=name,\n"
  "        value=numpy_helper.from_array(np.array(value, dtype=np.float32), name))\n"
  "nodes = [\n"
  "  helper.make_node('Conv', ['input', init('features.0.0.weight', (8, 3, 3, 3))], ['c0'],\n"
  "                   name='features.0.0', pads=[1, 1, 1, 1], strides=[2, 2], kernel_shape=[3, 3]),\n"
  "  helper.make_node('BatchNormalization', ['c0', init('features.0.1.weight', (8,), 0.1, 1.0),\n"
  "                   init('features.0.1.bias', (8,)), init('features.0.1.running_mean', (8,)),\n"
  "                   init('features.0.1.running_var', (8,), 0.1, 1.0)], ['b0'], name='features.0.1'),\n"
  "  const('clip_min', 0.0), const('clip_max', 6.0),\n"
  "  helper.make_node('Clip', ['b0', 'clip_min', 'clip_max'], ['r0'], name='features.0.2'),\n"
  "  helper.make_node('Conv', ['r0', init('features.1.conv.0.weight', (8, 1, 3, 3))], ['c1'],\n"
  "                   name='features.1.conv.0', pads=[1, 1, 1, 1], group=8, kernel_shape=[3, 3]),\n"
  "  helper.make_node('Relu', ['c1'], ['r1'], name='features.1.conv.1'),\n"
  "  helper.make_node('Conv', ['r1', init('features.1.conv.2.weight', (8, 8, 1, 1))], ['c2'],\n"
  "                   name='features.1.conv.2', kernel_shape=[1, 1]),\n"
  "  helper.make_node('Add', ['c2', 'r0'], ['a1'], name='features.1.add'),\n"
  "  helper.make_node('GlobalAveragePool', ['a1'], ['g'], name='pool'),\n"
  "  helper.make_node('Flatten', ['g'], ['f'], name='flatten', axis=1),\n"
  "  helper.make_node('Gemm', ['f', init('classifier.weight', (5, 8)), init('classifier.bias', (5,))],\n"
  "                   ['logits'], name='classifier', transB=1),\n"
  "]\n"
  "graph = helper.make_graph(nodes, 'tiny',\n"
  "    [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 3, 16, 16])],\n"
  "    [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 5])], inits)\n"
  "model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)],\n"
  "                          producer_name='graft-test', producer_version='1')\n"
  "model.ir_version = 7\n"
  "helper.set_model_props(model, {'graft.labels': '[\"a\",\"b\",\"c\",\"d\",\"e\"]'})\n"
  "onnx.checker.check_model(model)\n"
  "onnx.save(model, sys.argv[1])\n";

/* Parameters of the model above (BatchNorm running statistics are buffers). */
#define TINY_PARAMETERS (216 + 8 + 8 + 72 + 64 + 40 + 5)

static char *work_dir;
static char *model_path;
static char *skip_reason;

static gboolean
ready (void)
{
  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return FALSE;
    }
  return TRUE;
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("not JSON (%s): %s", error->message, text);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

static void
test_inspect_json (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *input;
  JsonArray *blocks, *shape;
  gint64 sum = 0;
  int layers = 0;

  if (!ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "inspect", model_path, "--json", NULL), ==, 0);
  root = parse_object (parser, out);
  g_assert_cmpint (json_object_get_int_member (root, "parameters"), ==, TINY_PARAMETERS);
  g_assert_cmpint (json_object_get_int_member (root, "opset"), ==, 13);
  g_assert_cmpfloat (json_object_get_double_member (root, "flops"), >, 0);
  input = json_object_get_object_member (root, "input");
  g_assert_cmpstr (json_object_get_string_member (input, "name"), ==, "input");
  shape = json_object_get_array_member (input, "shape");
  g_assert_cmpint (json_array_get_length (shape), ==, 4);
  g_assert_cmpint (json_array_get_int_element (shape, 3), ==, 16);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "output"), "name"), ==,
                   "logits");
  g_assert_true (json_object_has_member (json_object_get_object_member (root, "metadata"), "graft.labels"));
  blocks = json_object_get_array_member (root, "blocks");
  g_assert_cmpint (json_array_get_length (blocks), >=, 2);
  for (guint b = 0; b < json_array_get_length (blocks); b++)
    {
      JsonObject *block = json_array_get_object_element (blocks, b);
      JsonArray *block_layers = json_object_get_array_member (block, "layers");
      gint64 block_sum = 0;
      for (guint i = 0; i < json_array_get_length (block_layers); i++)
        {
          JsonObject *layer = json_array_get_object_element (block_layers, i);
          g_assert_true (json_object_has_member (layer, "name"));
          g_assert_true (json_object_has_member (layer, "op"));
          g_assert_true (json_object_has_member (layer, "output_shape"));
          g_assert_true (json_object_has_member (layer, "flops"));
          block_sum += json_object_get_int_member (layer, "parameters");
          layers++;
        }
      g_assert_cmpint (json_object_get_int_member (block, "parameters"), ==, block_sum);
      sum += block_sum;
    }
  g_assert_cmpint (sum, ==, TINY_PARAMETERS);
  g_assert_cmpint (layers, >=, 9);
  /* The blocks follow the names: features.0, features.1, then the classifier. */
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (blocks, 0), "name"), ==,
                   "features.0");
}

static void
test_inspect_table (void)
{
  g_autofree char *out = NULL, *err = NULL;
  if (!ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "inspect", model_path, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "features.1.conv.0"));
  g_assert_nonnull (strstr (out, "total"));
  g_assert_nonnull (strstr (out, "413"));
  g_assert_nonnull (strstr (out, "graft.labels"));
}

static void
test_infer (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *x_path = g_build_filename (work_dir, "x.npy", NULL);
  g_autofree char *y_path = g_build_filename (work_dir, "y.npy", NULL);
  g_autofree float *cli_output = NULL;
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  graft_shape x_shape = graft_shape_4d (3, 3, 16, 16), y_shape, plan_shape;
  graft_plan_options options = { .mode = GRAFT_PLAN_INFERENCE, .batch = 3 };
  float x[3 * 3 * 16 * 16];
  graft_error engine_error;
  graft_plan *plan;
  const float *expected;
  double scale = 0;

  if (!ready ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = 2.0f * graft_random_uniform (5, i) - 1.0f;
  g_assert_true (graft_npy_write (x_path, &x_shape, x, &error));
  g_assert_no_error (error);
  g_assert_cmpint (run_cli (&out, &err, "infer", model_path, "--input", x_path, "--output", y_path,
                            "--threads", "1", NULL), ==, 0);
  g_assert_true (graft_npy_read (y_path, &y_shape, &cli_output, &error));
  g_assert_no_error (error);
  g_assert_cmpint (y_shape.rank, ==, 2);
  g_assert_cmpint (y_shape.dims[0], ==, 3);
  g_assert_cmpint (y_shape.dims[1], ==, 5);

  /* The same in this process. */
  graft_set_num_threads (1);
  model = graft_model_load (model_path, &error);
  g_assert_no_error (error);
  options.keep = &model->output;
  options.n_keep = 1;
  plan = graft_plan_new (model->graph, &options, &engine_error);
  g_assert_nonnull (plan);
  g_assert_cmpint (graft_plan_set_input (plan, model->input, x, G_N_ELEMENTS (x), &engine_error), ==, GRAFT_OK);
  g_assert_cmpint (graft_plan_forward (plan, &engine_error), ==, GRAFT_OK);
  expected = graft_plan_value_data (plan, model->output, &plan_shape);
  g_assert_true (graft_shape_equal (&plan_shape, &y_shape));
  for (int i = 0; i < 15; i++)
    scale = MAX (scale, fabs (expected[i]));
  g_assert_cmpfloat (scale, >, 1e-3); /* not all zeros */
  for (int i = 0; i < 15; i++)
    g_assert_cmpfloat_with_epsilon (cli_output[i], expected[i], 1e-5 * (1 + scale));
  graft_plan_free (plan);
  g_unlink (x_path);
  g_unlink (y_path);
}

static void
test_infer_bad_input (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *x_path = g_build_filename (work_dir, "wrong.npy", NULL);
  g_autofree char *y_path = g_build_filename (work_dir, "never.npy", NULL);
  g_autoptr (GError) error = NULL;
  graft_shape shape = graft_shape_4d (1, 3, 8, 8);
  float x[3 * 8 * 8] = { 0 };

  if (!ready ())
    return;
  g_assert_true (graft_npy_write (x_path, &shape, x, &error));
  g_assert_cmpint (run_cli (&out, &err, "infer", model_path, "--input", x_path, "--output", y_path, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "wrong.npy"));
  g_assert_nonnull (strstr (err, "(1, 3, 16, 16)"));
  g_assert_false (g_file_test (y_path, G_FILE_TEST_EXISTS));
  g_free (err);
  err = NULL;
  g_assert_cmpint (run_cli (NULL, &err, "infer", model_path, "--output", y_path, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--input"));
  g_unlink (x_path);
}

static void
test_bench (void)
{
  static const char *const modes[] = { "forward", "train", "head" };
  if (!ready ())
    return;
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *root;
      g_assert_cmpint (run_cli (&out, &err, "bench", model_path, "--batch", "2", "--size", "16", "--threads", "1",
                                "--mode", modes[m], "--repeats", "3", "--json", NULL), ==, 0);
      root = parse_object (parser, out);
      g_assert_cmpstr (json_object_get_string_member (root, "mode"), ==, modes[m]);
      g_assert_cmpint (json_object_get_int_member (root, "batch"), ==, 2);
      g_assert_cmpint (json_object_get_int_member (root, "threads"), ==, 1);
      g_assert_cmpfloat (json_object_get_double_member (root, "images_per_second"), >, 0);
      g_assert_cmpfloat (json_object_get_double_member (root, "ms_per_batch"), >, 0);
      g_assert_cmpfloat (json_object_get_double_member (root, "peak_rss_mib"), >, 0);
      g_assert_cmpfloat (json_object_get_double_member (root, "activation_mib"), >, 0);
      g_assert_true (json_object_has_member (root, "model"));
    }
}

/* A model whose file name is not UTF-8 (byte 0xff): inspect and bench --json stay valid
 * UTF-8, the name's bytes percent-encoded in "model_bytes". */
static void
test_json_non_utf8_name (void)
{
  g_autofree char *odd = g_build_filename (work_dir, "model-\xff.onnx", NULL);
  const char *const commands[] = { "bench", "inspect" };

  if (!ready ())
    return;
  g_assert_cmpint (symlink (model_path, odd), ==, 0);
  for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
    {
      g_autofree char *out = NULL, *bytes = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *root;
      if (c == 0)
        g_assert_cmpint (run_cli (&out, NULL, "bench", odd, "--size", "16", "--threads", "1", "--repeats", "1",
                                  "--json", NULL), ==, 0);
      else
        g_assert_cmpint (run_cli (&out, NULL, "inspect", odd, "--json", NULL), ==, 0);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      root = parse_object (parser, out);
      g_assert_cmpstr (json_object_get_string_member (root, "model"), !=, odd);
      bytes = g_uri_unescape_string (json_object_get_string_member (root, "model_bytes"), NULL);
      g_assert_cmpstr (bytes, ==, odd);
      g_test_message ("%s: model %s, model_bytes %s", commands[c], json_object_get_string_member (root, "model"),
                      json_object_get_string_member (root, "model_bytes"));
    }
  g_unlink (odd);
}

/* OpenMP's threads wait passively unless the user asked otherwise (graft_prefer_passive_wait:
 * the variable must be set before libgomp loads, so graft-cli runs itself again). */
static void
test_bench_wait_policy (void)
{
  static const char *const given[] = { NULL, "active" };
  static const char *const expected[] = { "passive", "active" };
  if (!ready ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (given); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (given[i] != NULL)
        g_setenv ("OMP_WAIT_POLICY", given[i], TRUE);
      else
        g_unsetenv ("OMP_WAIT_POLICY");
      g_assert_cmpint (run_cli (&out, &err, "bench", model_path, "--batch", "1", "--size", "16", "--threads", "1",
                                "--repeats", "1", "--json", NULL), ==, 0);
      g_assert_cmpstr (json_object_get_string_member (parse_object (parser, out), "omp_wait_policy"), ==, expected[i]);
    }
  g_unsetenv ("OMP_WAIT_POLICY");
}

static void
test_bench_wrong_size (void)
{
  g_autofree char *out = NULL, *err = NULL;
  if (!ready ())
    return;
  g_assert_cmpint (run_cli (&out, &err, "bench", model_path, "--size", "32", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "16x16"));
  g_free (err);
  err = NULL;
  g_assert_cmpint (run_cli (NULL, &err, "bench", model_path, "--mode", "sideways", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "sideways"));
}

static void
test_bad_model (void)
{
  g_autofree char *missing = NULL, *garbage = NULL;
  static const char *const commands[] = { "inspect", "bench" };
  if (cli_path == NULL)
    {
      g_test_skip ("GRAFT_CLI is not set");
      return;
    }
  missing = g_build_filename (work_dir, "no-such-model.onnx", NULL);
  garbage = g_build_filename (work_dir, "garbage.onnx", NULL);
  g_assert_true (g_file_set_contents (garbage, "\xff\xff\xff\xff this is not protobuf", -1, NULL));
  for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
    {
      g_autofree char *out = NULL, *err = NULL, *err2 = NULL;
      g_assert_cmpint (run_cli (&out, &err, commands[c], missing, NULL), ==, 1);
      g_assert_nonnull (strstr (err, missing));
      g_assert_cmpint (run_cli (NULL, &err2, commands[c], garbage, NULL), ==, 1);
      g_assert_nonnull (strstr (err2, "garbage.onnx"));
    }
  g_unlink (garbage);
}

static void
test_usage (void)
{
  g_autofree char *out = NULL, *err = NULL, *help = NULL, *version = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
  if (cli_path == NULL)
    {
      g_test_skip ("GRAFT_CLI is not set");
      return;
    }
  g_assert_cmpint (run_cli (&out, &err, "frobnicate", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "frobnicate"));
  g_assert_cmpint (run_cli (NULL, &e2, NULL), ==, 2);
  g_assert_cmpint (run_cli (NULL, &e3, "inspect", "--no-such-option", "x.onnx", NULL), ==, 2);
  g_assert_cmpint (run_cli (NULL, &e4, "inspect", NULL), ==, 2);
  g_assert_cmpint (run_cli (&help, NULL, "help", NULL), ==, 0);
  g_assert_nonnull (strstr (help, "inspect"));
  g_assert_nonnull (strstr (help, "bench"));
  g_assert_cmpint (run_cli (&version, NULL, "version", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (version, "graft-cli "));
  g_free (help);
  help = NULL;
  g_assert_cmpint (run_cli (&help, NULL, "help", "bench", NULL), ==, 0);
  g_assert_nonnull (strstr (help, "--mode"));
}

/* Writes the test model with onnx.helper; sets skip_reason when that is not possible. */
static void
make_model (void)
{
  g_autofree char *script = g_build_filename (work_dir, "make-model.py", NULL);
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "/usr/bin/python3", script, NULL, NULL };
  int wait_status;

  model_path = g_build_filename (work_dir, "tiny.onnx", NULL);
  argv[2] = model_path;
  if (cli_path == NULL)
    {
      skip_reason = g_strdup ("GRAFT_CLI is not set");
      return;
    }
  if (!g_file_set_contents (script, model_script, -1, &error))
    g_error ("%s", error->message);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &wait_status, &error)
      || !WIFEXITED (wait_status) || WEXITSTATUS (wait_status) != 0)
    skip_reason = g_strdup_printf ("cannot write a test model with /usr/bin/python3 and onnx: %s",
                                   error != NULL ? error->message : err);
  g_unlink (script);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  cli_test_find_cli ();
  work_dir = g_dir_make_tmp ("graft-cli-XXXXXX", &error);
  g_assert_no_error (error);
  make_model ();

  g_test_add_func ("/model/cli/inspect/json", test_inspect_json);
  g_test_add_func ("/model/cli/inspect/table", test_inspect_table);
  g_test_add_func ("/model/cli/infer", test_infer);
  g_test_add_func ("/model/cli/infer/bad-input", test_infer_bad_input);
  g_test_add_func ("/model/cli/bench", test_bench);
  g_test_add_func ("/model/cli/bench-wait-policy", test_bench_wait_policy);
  g_test_add_func ("/model/cli/bench/wrong-size", test_bench_wrong_size);
  g_test_add_func ("/model/cli/json/non-utf8-name", test_json_non_utf8_name);
  g_test_add_func ("/model/cli/bad-model", test_bad_model);
  g_test_add_func ("/model/cli/usage", test_usage);
  status = g_test_run ();

  g_unlink (model_path);
  g_rmdir (work_dir);
  g_free (model_path);
  g_free (work_dir);
  g_free (cli_path);
  g_free (skip_reason);
  return status;
}
