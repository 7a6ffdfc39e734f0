/* graft-recipe-dialog.h: Train Elsewhere… and Import Run…, the window's actions that
 * hand the open project's run to PyTorch's distributed training and take the result
 * back.
 *
 * Train Elsewhere asks for a folder and writes the recipe of the project's current
 * plan there (the model and settings the project remembers: the session's, stored as
 * they change) with `graft-cli recipe PROJECT -o DIR`, then shows the torchrun command
 * that runs it. Import Run asks for a finished recipe folder and stores it as a run of
 * the project with `graft-cli runs import PROJECT DIR` (Graft measures its accuracy
 * again); the Results page lists it (::runs-changed). graft-cli runs in a subprocess,
 * never on the main thread; the outcome is a toast of the window.
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"
#include "graft-window.h"

G_BEGIN_DECLS

void graft_recipe_dialog_train_elsewhere (GraftWindow *window, GraftProjectObject *project);
void graft_recipe_dialog_import_run (GraftWindow *window, GraftProjectObject *project);
/* The same once the folder is chosen: writes the recipe into folder (then shows the
 * command in a message dialog), or imports the recipe folder (then emits the project's
 * ::runs-changed). */
void graft_recipe_dialog_write_to (GraftWindow *window, GraftProjectObject *project, const char *folder);
void graft_recipe_dialog_import_from (GraftWindow *window, GraftProjectObject *project, const char *folder);

/* The graft-cli beside the running program (installed, or in the build tree), else
 * $GRAFT_CLI, else the one in PATH; NULL when there is none. */
char *graft_recipe_dialog_find_cli (void);

G_END_DECLS
