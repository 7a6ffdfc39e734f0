/* graft-cli: Graft's work without a display.
 *
 *   graft-cli inspect MODEL.onnx [--json]
 *   graft-cli infer MODEL.onnx --input X.npy --output Y.npy [--threads T]
 *   graft-cli bench MODEL.onnx [--batch B] [--size S] [--threads T] [--mode forward|train|head]
 *                              [--repeats R] [--json]
 *   graft-cli train MODEL.onnx DATA --output OUT.onnx [--validation VALDATA] [--preset P]
 *                   [--spec SPEC.json] [--epochs N] [--batch N] [--lr X] [--seed N]
 *                   [--threads N] [--decode-threads N] [--cache-dir DIR] [--softmax]
 *                   [--json] [--save-spec SPEC.json]
 *   graft-cli lr-find MODEL.onnx DATA [--preset P] [--spec SPEC.json] [--start X] [--end X]
 *                     [--steps N] [--json]
 *   graft-cli eval MODEL.onnx DATA [--batch N] [--json]
 *   graft-cli predict MODEL.onnx IMAGE... [--top K] [--json]
 *   graft-cli export MODEL.onnx --output OUT.onnx [--softmax] [--labels a,b,c]
 *                    [--preprocessing JSON]
 *   graft-cli train PROJECT [--model MODEL.onnx] [--preset P] [--spec SPEC.json] [--epochs N] ...
 *                   [--output OUT.onnx] [--json]    (the run is stored in the project)
 *   graft-cli export PROJECT --run N --output OUT.onnx [--softmax]
 *   graft-cli project create DIR [--import TREE|CSV|ZIP]... | import DIR SOURCE... |
 *                     export DIR --format imagefolder|csv --output OUT
 *   graft-cli runs PROJECT [--json]
 *   graft-cli runs import PROJECT DIR [--json]   (a recipe folder trained elsewhere)
 *   graft-cli recipe MODEL.onnx DATA | PROJECT [--run N] -o DIR [train's options]
 *   graft-cli models [list | download NAME | path NAME | verify NAME] [--json]
 *   graft-cli version
 *   graft-cli help [COMMAND]
 *
 * Exit status: 0 on success, 1 when the work failed (the reason is on stderr), 2 on a
 * usage error; train also 3 when the loss diverged and 130 when interrupted (after
 * saving); eval and predict also 4 when some images could not be read (each is named on
 * stderr and in the JSON; the output covers the others; none read is 1). The help and the
 * errors of the layers below are translated (GETTEXT_PACKAGE; run from the build tree, the
 * catalogues of build/po); numbers are always printed in the C locale (1.5, never 1,5), and
 * so is JSON. Benchmarks and other tools rely on
 * these commands, their options and their JSON keys: change them only with their users.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "base/text-domain.h"
#include "cli/cli.h"
#include "engine/parallel.h"

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static int run_version (int argc, char **argv);
static int run_help (int argc, char **argv);

static const Command commands[] = {
  { "inspect", cli_inspect, N_("show a model's input, output, blocks, layers, parameters and FLOPs") },
  { "infer", cli_infer, N_("run a model on images from a .npy file, write its output as .npy") },
  { "bench", cli_bench, N_("time inference or a training step (forward, train, head)") },
  { "train", cli_train, N_("train a model on an ImageFolder tree, or a project's labels (the run stored in it)") },
  { "lr-find", cli_lr_find, N_("sweep the learning rate and suggest one") },
  { "eval", cli_eval, N_("measure a classifier on an ImageFolder tree (accuracy, per class, confusion)") },
  { "predict", cli_predict, N_("print the most probable classes of images") },
  { "export", cli_export, N_("rewrite a model (or a project's run) with labels, preprocessing or a Softmax output") },
  { "project", cli_project, N_("create a project, import images into it, export it as ImageFolder or CSV") },
  { "runs", cli_runs, N_("list a project's training runs (id, status, strategy, epochs, accuracy); runs import") },
  { "recipe", cli_recipe, N_("write a folder that trains the same run with PyTorch (torchrun, DDP) elsewhere") },
  { "models", cli_models, N_("list, download (resumable, verified) and locate the catalog's ImageNet models") },
  { "version", run_version, N_("print the version") },
  { "help", run_help, N_("show this help, or a command's (help COMMAND)") },
};

static void
usage (FILE *out)
{
  fputs (_("Usage: graft-cli COMMAND [OPTIONS]\n\nCommands:\n"), out);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fputs (_("\nExit status: 0 done; 1 failed (the reason is on stderr); 2 usage error; 3 the loss diverged "
           "(train);\n4 some images could not be read, the output covers the others (eval, predict);\n"
           "130 or 143 interrupted by Ctrl+C or SIGTERM (train, lr-find).\n"), out);
  fprintf (out, "\n%s\n", _(CLI_JSON_NAMES_HELP));
  fputs (_("\nRun 'graft-cli COMMAND --help' for a command's options.\n"), out);
}

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int
run_version (int argc, char **argv)
{
  (void) argv;
  if (argc != 1)
    {
      fputs (_("graft-cli version: takes no arguments\n"), stderr);
      return CLI_EXIT_USAGE;
    }
  printf ("graft-cli %s (%d threads)\n", GRAFT_VERSION, graft_get_num_threads ());
  return CLI_EXIT_OK;
}

static int
run_help (int argc, char **argv)
{
  const Command *command;
  if (argc < 2)
    {
      usage (stdout);
      return CLI_EXIT_OK;
    }
  command = find_command (argv[1]);
  if (command == NULL || argc > 2)
    {
      fprintf (stderr, _("graft-cli help: no command '%s'\n"), argv[1]);
      usage (stderr);
      return CLI_EXIT_USAGE;
    }
  if (command->run == run_help || command->run == run_version)
    {
      printf ("graft-cli %s: %s\n", command->name, _(command->summary));
      return CLI_EXIT_OK;
    }
  {
    char *help_argv[] = { argv[1], (char *) "--help", NULL };
    return command->run (2, help_argv);
  }
}

int
main (int argc, char **argv)
{
  const Command *command;

  graft_prefer_passive_wait (argv);
  setlocale (LC_ALL, "");
  /* Numbers stay in the C locale: train's "loss 1.8439" lines, JSON and the values read
   * back by scripts must not depend on the locale (French would print "1,8439"). */
  setlocale (LC_NUMERIC, "C");
  graft_bind_text_domain (GRAFT_BUILD_ROOT);
  if (argc < 2)
    {
      usage (stderr);
      return CLI_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (stdout);
      return CLI_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    return run_version (1, argv + 1);
  command = find_command (argv[1]);
  if (command == NULL)
    {
      fprintf (stderr, _("graft-cli: unknown command '%s'\n"), argv[1]);
      usage (stderr);
      return CLI_EXIT_USAGE;
    }
  return command->run (argc - 1, argv + 1);
}
