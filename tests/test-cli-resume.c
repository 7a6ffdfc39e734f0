/* test-cli-resume: graft-cli train PROJECT --resume, spawned as scripts use it
 * ($GRAFT_CLI). A project run writes runs/ID.checkpoint at every epoch's end; a run
 * killed (SIGKILL) or stopped (SIGINT) and resumed ends with the same weights as a run
 * never interrupted (same seed and threads), in the same run record, its curves
 * continued; a kill at every rename, link and fsync of the run (strace's syscall
 * injection) leaves a run that resumes to the same weights or is refused by name.
 *
 *   /cli/resume/killed-after-epoch   kill -9 after the second of four epochs, runs (it says
 *                                    it can be resumed), --resume, export
 *   /cli/resume/stopped              Ctrl+C, then --resume --run N
 *   /cli/resume/kill-at-every-write  strace -e inject=...:signal=SIGKILL:when=K
 *   /cli/resume/refusals             a damaged checkpoint, a finished run, bad options
 *   /cli/resume/locked               a run another process still trains is refused, naming
 *                                    the project and that process; once it is killed, resumed
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-test-helpers.h"
#include "gradcheck.h"
#include "model/model.h"
#include "project/project.h"
#include "project/run-record.h"
#include "toy-images.h"
#include "toy-network.h"

#define N_LABELLED 48
#define EPOCHS "4"

static char *folder;       /* base.onnx, tree/, pristine.graft, ... */
static char *base_path;
static char *pristine;     /* a project made from tree/, copied for each run */
static GBytes *expected;   /* the weights of a run never interrupted */
static gint64 expected_run;
static GArray *expected_accuracy; /* its validation-accuracy series */
static int scenario;

static const char *const class_names[TOY_CLASSES] = { "horizontal", "vertical", "diagonal" };

static void
write_tree (const char *root)
{
  g_autofree float *images = test_floats ((size_t) N_LABELLED * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
  g_autofree int32_t *labels = g_new (int32_t, N_LABELLED);

  toy_batch (N_LABELLED, 300, images, labels);
  for (int c = 0; c < TOY_CLASSES; c++)
    {
      g_autofree char *dir = g_build_filename (root, class_names[c], NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    }
  for (int i = 0; i < N_LABELLED; i++)
    {
      g_autofree char *name = g_strdup_printf ("%03d.png", i);
      g_autofree char *path = g_build_filename (root, class_names[labels[i]], name, NULL);
      toy_write_png (path, images + (size_t) i * TOY_CHANNELS * TOY_SIZE * TOY_SIZE);
    }
}

/* A copy of the pristine project (the same images, splits and settings). */
static char *
fresh_project (void)
{
  g_autofree char *name = g_strdup_printf ("p%d.graft", scenario++);
  char *path = g_build_filename (folder, name, NULL);
  const char *argv[] = { "cp", "-a", pristine, path, NULL };
  int wait_status;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &wait_status,
                               NULL));
  g_assert_true (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0);
  return path;
}

/* The arguments of a run's first part: graft-cli train PROJECT ... */
static GPtrArray *
train_argv (const char *project)
{
  GPtrArray *argv = g_ptr_array_new ();
  const char *args[] = { "train", project, "--model", base_path, "--preset", "fine-tune", "--epochs", EPOCHS, "--lr",
                         "0.03", "--batch", "16", "--seed", "1", "--threads", "2", "--json" };
  g_ptr_array_add (argv, cli_path);
  for (guint i = 0; i < G_N_ELEMENTS (args); i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  return argv;
}

static GBytes *
all_weights (GraftModel *model)
{
  GByteArray *bytes = g_byte_array_new ();
  for (int v = 0; v < graft_graph_value_count (model->graph); v++)
    {
      const graft_value *value = graft_graph_value (model->graph, v);
      size_t count;
      if (value->kind != GRAFT_VALUE_PARAMETER && value->kind != GRAFT_VALUE_BUFFER)
        continue;
      graft_shape_count (&value->shape, &count, NULL);
      g_byte_array_append (bytes, (const guint8 *) value->data, (guint) (count * sizeof (float)));
    }
  return g_byte_array_free_to_bytes (bytes);
}

/* The weights of the run's stored model; its status and validation-accuracy series. */
static GBytes *
run_weights (const char *project_dir, gint64 run_id, GraftRunStatus *status, GArray **accuracy)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftProject) project = graft_project_open (project_dir, &error);
  g_autoptr (GraftModel) model = NULL;
  g_autofree char *path = NULL;
  GraftRun run = { 0 };

  g_assert_no_error (error);
  g_assert_true (graft_project_get_run (project, run_id, &run, &error));
  if (status != NULL)
    *status = run.status;
  graft_run_clear (&run);
  if (accuracy != NULL)
    *accuracy = graft_project_get_metric_series (project, run_id, "validation-accuracy", &error);
  path = graft_project_run_model_file (project, run_id);
  model = graft_model_load (path, &error);
  g_assert_no_error (error);
  return all_weights (model);
}

/* The "run" of the last line that has one (the done event). */
static gint64
run_of (const char *out)
{
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  gint64 run = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonNode) node = lines[i][0] == '{' ? json_from_string (lines[i], NULL) : NULL;
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) && json_object_has_member (json_node_get_object (node), "run"))
        run = json_object_get_int_member (json_node_get_object (node), "run");
    }
  return run;
}

/* Starts a run's first part and sends it signal when its epoch event "epoch": after
 * is printed; returns the wait status. */
static int
signal_after_epoch (const char *project, int after, int signal_number)
{
  g_autoptr (GPtrArray) argv = train_argv (project);
  g_autoptr (GError) error = NULL;
  GPid pid;
  int out_fd, wait_status;
  FILE *out;
  char *line = NULL;
  size_t size = 0;
  gboolean sent = FALSE;

  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &pid, NULL, &out_fd, NULL, &error));
  out = fdopen (out_fd, "r");
  while (getline (&line, &size, out) > 0)
    {
      g_autoptr (JsonNode) node = json_from_string (line, NULL);
      JsonObject *object = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      if (!sent && object != NULL && g_strcmp0 (json_object_get_string_member_with_default (object, "event", ""),
                                                "epoch") == 0
          && json_object_get_int_member (object, "epoch") == after)
        {
          kill (pid, signal_number);
          sent = TRUE;
        }
    }
  free (line);
  fclose (out);
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (sent);
  return wait_status;
}

static void
test_killed_after_epoch (void)
{
  g_autofree char *project = NULL, *out = NULL, *err = NULL, *checkpoint = NULL;
  g_autoptr (GBytes) resumed = NULL;
  g_autoptr (GArray) accuracy = NULL;
  GraftRunStatus status;
  int wait_status;

  if (!cli_test_ready ())
    return;
  project = fresh_project ();
  wait_status = signal_after_epoch (project, 2, SIGKILL);
  g_assert_true (WIFSIGNALED (wait_status) && WTERMSIG (wait_status) == SIGKILL);
  checkpoint = g_build_filename (project, "runs", "1.checkpoint", NULL);
  g_assert_true (g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR));
  /* runs says it can be resumed, and how. */
  g_assert_cmpint (run_cli (&out, &err, "runs", project, "--json", NULL), ==, 0);
  {
    g_autoptr (JsonNode) listed = json_from_string (out, NULL);
    JsonArray *runs = json_object_get_array_member (json_node_get_object (listed), "runs");
    JsonObject *run = json_array_get_object_element (runs, 0);
    g_assert_cmpint (json_object_get_int_member (run, "resumable_after_epoch"), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (run, "status"), ==, "running");
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "runs", project, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Run 1 can be resumed after epoch 2"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--threads", "2", "--json", NULL), ==, 0);
  g_assert_cmpint (run_of (out), ==, 1); /* the same run record */
  resumed = run_weights (project, 1, &status, &accuracy);
  g_assert_cmpint (status, ==, GRAFT_RUN_FINISHED);
  g_assert_true (g_bytes_equal (expected, resumed));
  /* Its time: both parts', the killed one up to its last epoch (its checkpoint). */
  {
    g_autoptr (GraftProject) opened = graft_project_open (project, NULL);
    g_autoptr (GArray) parts = graft_project_get_run_parts (opened, 1, NULL);
    g_autoptr (JsonNode) metrics = NULL;
    JsonObject *m;
    JsonArray *listed;
    GraftRun run = { 0 };
    const GraftRunPart *first, *second;

    g_assert_nonnull (parts);
    g_assert_cmpuint (parts->len, ==, 2);
    first = &g_array_index (parts, GraftRunPart, 0);
    second = &g_array_index (parts, GraftRunPart, 1);
    g_assert_cmpint (first->from_epoch, ==, 0);
    g_assert_cmpint (first->epochs_done, ==, 2);
    g_assert_cmpint (second->from_epoch, ==, 2);
    g_assert_cmpint (second->epochs_done, ==, 4);
    g_assert_cmpfloat (first->seconds, >, 0);
    g_assert_cmpfloat (second->seconds, >, 0);
    g_assert_true (graft_project_get_run (opened, 1, &run, NULL));
    metrics = cli_test_parse (run.metrics_json);
    graft_run_clear (&run);
    m = json_node_get_object (metrics);
    g_assert_cmpfloat_with_epsilon (json_object_get_double_member (m, "seconds"), first->seconds + second->seconds,
                                    1e-9);
    listed = json_object_get_array_member (m, "parts");
    g_assert_cmpuint (json_array_get_length (listed), ==, 2);
    g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (listed, 0), "epochs_done"), ==, 2);
  }
  /* Its curves: epochs 1 and 2 from the first part, 3 and 4 from the second, the same
   * figures as the run never interrupted. */
  g_assert_cmpuint (accuracy->len, ==, expected_accuracy->len);
  for (guint i = 0; i < accuracy->len; i++)
    {
      g_assert_cmpint (g_array_index (accuracy, GraftSeriesPoint, i).step, ==,
                       g_array_index (expected_accuracy, GraftSeriesPoint, i).step);
      g_assert_cmpfloat (g_array_index (accuracy, GraftSeriesPoint, i).value, ==,
                         g_array_index (expected_accuracy, GraftSeriesPoint, i).value);
    }
  /* Exported, it is the same model. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    g_autofree char *exported = g_build_filename (project, "exported.onnx", NULL);
    g_autoptr (GraftModel) model = NULL;
    g_autoptr (GBytes) weights = NULL;
    g_assert_cmpint (run_cli (&out, &err, "export", project, "--run", "1", "-o", exported, NULL), ==, 0);
    model = graft_model_load (exported, NULL);
    g_assert_nonnull (model);
    weights = all_weights (model);
    g_assert_true (g_bytes_equal (expected, weights));
  }
  /* A finished run keeps no checkpoint, and cannot be resumed again. */
  g_assert_false (g_file_test (checkpoint, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "no run can be resumed"));
}

static void
test_stopped (void)
{
  g_autofree char *project = NULL, *out = NULL, *err = NULL;
  g_autoptr (GBytes) resumed = NULL;
  GraftRunStatus status;
  int wait_status;

  if (!cli_test_ready ())
    return;
  project = fresh_project ();
  wait_status = signal_after_epoch (project, 1, SIGINT);
  g_assert_true (WIFEXITED (wait_status));
  g_assert_cmpint (WEXITSTATUS (wait_status), ==, 128 + SIGINT);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--run", "1", "--threads", "2", "--json", NULL),
                   ==, 0);
  resumed = run_weights (project, 1, &status, NULL);
  g_assert_cmpint (status, ==, GRAFT_RUN_FINISHED);
  g_assert_true (g_bytes_equal (expected, resumed));
}

/* strace works here (ptrace may be refused in a container). */
static gboolean
strace_works (void)
{
  const char *argv[] = { "strace", "-f", "-qq", "-o", "/dev/null", "true", NULL };
  g_autofree char *path = g_find_program_in_path ("strace");
  int wait_status;
  if (path == NULL)
    return FALSE;
  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                       | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &wait_status, NULL)
         && WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0;
}

/* Kills the run at the when-th call of syscall (strace injects SIGKILL there); FALSE
 * when the run got through (fewer calls). Then --resume: the same weights, or a clear
 * refusal when no checkpoint was complete yet. */
static gboolean
kill_at (const char *syscall, int when, int *resumed_count, int *refused_count)
{
  g_autofree char *project = fresh_project ();
  g_autofree char *inject = g_strdup_printf ("inject=%s:signal=SIGKILL:when=%d", syscall, when);
  g_autofree char *trace = g_strdup_printf ("trace=%s", syscall);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GPtrArray) train = train_argv (project);
  g_autofree char *out = NULL, *err = NULL;
  g_auto (GStrv) env = NULL;
  int wait_status, status;

  for (const char *const *a = (const char *const[]) { "strace", "-f", "-qq", "-o", "/dev/null", "-e", NULL }; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, trace);
  g_ptr_array_add (argv, "-e");
  g_ptr_array_add (argv, inject);
  for (guint i = 0; i < train->len; i++)
    g_ptr_array_add (argv, train->pdata[i]);
  g_ptr_array_add (argv, NULL);
  /* LeakSanitizer cannot work under ptrace: a sanitized graft-cli would fail at its exit. */
  {
    g_autofree char *asan = g_strconcat (g_getenv ("ASAN_OPTIONS") != NULL ? g_getenv ("ASAN_OPTIONS") : "",
                                         ":detect_leaks=0", NULL);
    env = g_environ_setenv (g_get_environ (), "ASAN_OPTIONS", asan, TRUE);
  }
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                               | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &wait_status, NULL));
  /* strace exits as its tracee did: killed by SIGKILL, or 0 when it got through. */
  if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0)
    return FALSE;
  status = run_cli (&out, &err, "train", project, "--resume", "--threads", "2", "--json", NULL);
  if (status == 0)
    {
      g_autoptr (GBytes) resumed = run_weights (project, run_of (out), NULL, NULL);
      g_assert_cmpint (run_of (out), ==, 1);
      g_assert_true (g_bytes_equal (expected, resumed));
      ++*resumed_count;
    }
  else
    {
      /* Killed before its first checkpoint was whole: nothing to resume, and it says so. */
      g_assert_cmpint (status, ==, 1);
      g_assert_true (strstr (err, "no run can be resumed") != NULL);
      ++*refused_count;
    }
  return TRUE;
}

static void
test_kill_at_every_write (void)
{
  const char *syscalls[] = { "rename", "linkat", "fsync" };

  if (!cli_test_ready ())
    return;
  if (!strace_works ())
    {
      g_test_skip ("strace is missing or cannot trace here");
      return;
    }
  for (guint s = 0; s < G_N_ELEMENTS (syscalls); s++)
    {
      int resumed = 0, refused = 0, when = 1;
      while (when <= 60 && kill_at (syscalls[s], when, &resumed, &refused))
        when++;
      g_test_message ("%s: killed at each of %d calls: %d resumed to the same weights, %d refused (no checkpoint yet)",
                      syscalls[s], when - 1, resumed, refused);
      /* Every epoch's checkpoint is renamed into place: at least four kill points. */
      g_assert_cmpint (when - 1, >=, 4);
      g_assert_cmpint (resumed, >=, 3);
    }
}

/* A second trainer while the first still trains (stopped with SIGSTOP after its first
 * epoch, so that it holds the run whatever the machine's speed): refused by name, the
 * run untouched; killed, the first lets the run go (the kernel drops its lock) and the
 * run resumes to the weights of a run never interrupted. */
static void
test_locked (void)
{
  g_autofree char *project = NULL, *out = NULL, *err = NULL, *pid_text = NULL, *checkpoint = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GBytes) resumed = NULL;
  g_autoptr (GError) error = NULL;
  GraftRunStatus status;
  GPid pid;
  int out_fd, wait_status;
  FILE *stream;
  char *line = NULL;
  size_t size = 0;
  gboolean stopped = FALSE;

  if (!cli_test_ready ())
    return;
  project = fresh_project ();
  argv = train_argv (project);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &pid, NULL, &out_fd, NULL, &error));
  stream = fdopen (out_fd, "r");
  while (!stopped && getline (&line, &size, stream) > 0)
    {
      g_autoptr (JsonNode) node = json_from_string (line, NULL);
      JsonObject *object = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      if (object != NULL && g_strcmp0 (json_object_get_string_member_with_default (object, "event", ""), "epoch") == 0)
        {
          kill (pid, SIGSTOP);
          stopped = TRUE;
        }
    }
  g_assert_true (stopped);
  checkpoint = g_build_filename (project, "runs", "1.checkpoint", NULL);
  g_assert_true (g_file_get_contents (checkpoint, &before, NULL, NULL));

  /* Named or the newest: refused, with the project and the trainer's pid. */
  pid_text = g_strdup_printf ("pid %d", (int) pid);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--run", "1", "--threads", "2", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Run 1 of the project"));
  g_assert_nonnull (strstr (err, project));
  g_assert_nonnull (strstr (err, pid_text));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--threads", "2", NULL), ==, 1);
  g_assert_nonnull (strstr (err, pid_text));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* The run is as the first trainer left it. */
  g_assert_true (g_file_get_contents (checkpoint, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  {
    g_autoptr (GraftProject) opened = graft_project_open (project, &error);
    GraftRun run = { 0 };
    g_assert_no_error (error);
    g_assert_true (graft_project_get_run (opened, 1, &run, &error));
    g_assert_cmpint (run.status, ==, GRAFT_RUN_RUNNING);
    graft_run_clear (&run);
  }

  /* Killed, it holds nothing. */
  kill (pid, SIGKILL);
  while (getline (&line, &size, stream) > 0)
    ;
  free (line);
  fclose (stream);
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (WIFSIGNALED (wait_status) && WTERMSIG (wait_status) == SIGKILL);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--threads", "2", "--json", NULL), ==, 0);
  g_assert_cmpint (run_of (out), ==, 1);
  resumed = run_weights (project, 1, &status, NULL);
  g_assert_cmpint (status, ==, GRAFT_RUN_FINISHED);
  g_assert_true (g_bytes_equal (expected, resumed));
  /* The lock file goes with the run's end. */
  {
    g_autofree char *lock = g_build_filename (project, "runs", "1.lock", NULL);
    g_assert_false (g_file_test (lock, G_FILE_TEST_EXISTS));
  }
}

static void
test_refusals (void)
{
  g_autofree char *project = NULL, *out = NULL, *err = NULL, *checkpoint = NULL, *contents = NULL;
  gsize length;

  if (!cli_test_ready ())
    return;
  project = fresh_project ();
  (void) signal_after_epoch (project, 2, SIGKILL);
  checkpoint = g_build_filename (project, "runs", "1.checkpoint", NULL);

  /* Settings cannot change on resume. */
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--epochs", "9", NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--run", "x", NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);

  /* A checkpoint cut short is refused by name; the run is not touched. */
  g_assert_true (g_file_get_contents (checkpoint, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (checkpoint, contents, (gssize) length - 100, NULL));
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--run", "1", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "1.checkpoint"));
  g_assert_nonnull (strstr (err, "cut short"));
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  /* Put back whole, it resumes. */
  g_assert_true (g_file_set_contents (checkpoint, contents, (gssize) length, NULL));
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--threads", "2", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  /* A finished run cannot be resumed. */
  g_assert_cmpint (run_cli (&out, &err, "train", project, "--resume", "--run", "1", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "finished"));
}

int
main (int argc, char **argv)
{
  int status;
  g_autofree char *tree = NULL;

  g_test_init (&argc, &argv, NULL);
  cli_test_find_cli ();
  folder = g_dir_make_tmp ("graft-cli-resume-XXXXXX", NULL);
  g_assert_nonnull (folder);
  base_path = g_build_filename (folder, "base.onnx", NULL);
  tree = g_build_filename (folder, "tree", NULL);
  pristine = g_build_filename (folder, "pristine.graft", NULL);
  {
    g_autoptr (GraftModel) model = toy_pretrained_model ();
    g_autoptr (GError) error = NULL;
    GraftExportOptions export_options = { 0 };
    model->ir_version = 7;
    model->opset = 13;
    g_assert_true (graft_model_save (model, base_path, &export_options, &error));
  }
  write_tree (tree);
  g_setenv ("XDG_CACHE_HOME", folder, TRUE);
  if (cli_path != NULL)
    {
      g_autofree char *out = NULL, *err = NULL, *project = NULL;
      g_autoptr (GPtrArray) argv_train = NULL;
      g_assert_cmpint (run_cli (&out, &err, "project", "create", pristine, "--import", tree, NULL), ==, 0);
      /* The run never interrupted. */
      project = fresh_project ();
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      argv_train = train_argv (project);
      g_ptr_array_add (argv_train, NULL);
      {
        int wait_status;
        g_autofree char *stdout_text = NULL;
        g_assert_true (g_spawn_sync (NULL, (char **) argv_train->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                     &stdout_text, NULL, &wait_status, NULL));
        g_assert_true (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0);
        expected_run = run_of (stdout_text);
      }
      expected = run_weights (project, expected_run, NULL, &expected_accuracy);
      g_assert_cmpuint (expected_accuracy->len, ==, 4);
    }

  g_test_add_func ("/cli/resume/killed-after-epoch", test_killed_after_epoch);
  g_test_add_func ("/cli/resume/stopped", test_stopped);
  g_test_add_func ("/cli/resume/kill-at-every-write", test_kill_at_every_write);
  g_test_add_func ("/cli/resume/refusals", test_refusals);
  g_test_add_func ("/cli/resume/locked", test_locked);
  status = g_test_run ();

  test_remove_tree (folder);
  g_free (folder);
  g_free (base_path);
  g_free (pristine);
  g_clear_pointer (&expected, g_bytes_unref);
  g_clear_pointer (&expected_accuracy, g_array_unref);
  g_free (cli_path);
  return status;
}
