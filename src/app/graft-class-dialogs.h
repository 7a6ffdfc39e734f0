/* graft-class-dialogs.h: the dialogs that add, rename, recolour, merge and delete a
 * project's classes (the Data page's class menu and its "+" button).
 *
 * Each dialog is modal to owner's window and, when answered, acts on project (one undo
 * step each). What goes wrong is said in owner's "toast" signal (a string, as
 * GraftDataPage has); owner and project are kept while a dialog is open.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"

G_BEGIN_DECLS

/* The colours a class can take, as "#rrggbb". */
#define GRAFT_CLASS_PALETTE_SIZE 12
extern const char *const graft_class_palette[GRAFT_CLASS_PALETTE_SIZE];

/* Called after the delete dialog deleted the class called name. */
typedef void (*GraftClassDeleted) (GtkWidget *owner, const char *name);

void graft_class_dialogs_add (GtkWidget *owner, GraftProjectObject *project);
void graft_class_dialogs_rename (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass);
void graft_class_dialogs_recolour (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass);
void graft_class_dialogs_merge (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass);
/* Says how many labels go with it; deleted (nullable) offers the undo. */
void graft_class_dialogs_delete (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass,
                                 GraftClassDeleted deleted);

G_END_DECLS
