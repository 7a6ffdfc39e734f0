/* cli.h: the commands of graft-cli and what they share.
 *
 * Each command is a function taking the arguments after "graft-cli" (argv[0] is the
 * command's name) and returning the exit status: 0 on success, 1 when the work
 * failed (the message is on stderr), 2 on a usage error.
 */
#pragma once

#include <glib.h>

#include "model/model.h"

G_BEGIN_DECLS

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

int cli_inspect (int argc, char **argv);
int cli_infer (int argc, char **argv);
int cli_bench (int argc, char **argv);

/* A GOptionContext for a command: "Usage: graft-cli COMMAND [OPTION…] parameters". */
GOptionContext *cli_option_context_new (const char *command, const char *parameters, const char *summary,
                                        const GOptionEntry *entries);
/* Parses argv; FALSE after printing a usage error (exit with CLI_EXIT_USAGE). */
gboolean cli_parse (GOptionContext *context, int *argc, char ***argv);
/* Prints "graft-cli COMMAND: message" and the command's usage line to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error (GOptionContext *context, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Prints "graft-cli: message" to stderr; returns CLI_EXIT_FAILURE. */
int cli_fail (const GError *error);
int cli_fail_printf (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Sets the engine's threads; threads <= 0 keeps the default. FALSE on a bad count. */
gboolean cli_set_threads (int threads);

/* The op of a node as ONNX names it, with activations by kind ("Relu", "Clip"). */
const char *cli_node_op_name (const graft_node *node);
/* The input's H and W, whatever its layout. */
void cli_model_input_size (const GraftModel *model, gint64 *height, gint64 *width);

G_END_DECLS
