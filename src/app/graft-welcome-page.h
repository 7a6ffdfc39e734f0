/* graft-welcome-page.h: the start screen: the sample project, a new project, an existing
 * one, and the recent ones (GSettings "recent-projects").
 *
 * Actions: "welcome.new" (a file chooser names the new project folder, NAME.graft),
 * "welcome.open" (a folder chooser: a .graft folder), "welcome.open-sample",
 * "welcome.open-recent" (s: the folder), "welcome.forget-recent" (s).
 * Signals:
 *   ::project-opened (GraftProjectObject *project): a project is open; when the page has
 *       a session, the project's session is already set to it.
 *   ::toast (const char *message): something the person should read.
 *
 * The sample project lives in g_get_user_data_dir()/graft/sample.graft: made on first use
 * from the bundled images (samples/train and samples/validation labelled, by folder,
 * samples/unlabelled without labels), opened again afterwards. The starter model
 * (models/graft-starter.onnx) is loaded into the session at the same time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-project-object.h"
#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_WELCOME_PAGE (graft_welcome_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftWelcomePage, graft_welcome_page, GRAFT, WELCOME_PAGE, AdwBin)

GtkWidget *graft_welcome_page_new (void);

GraftSession *graft_welcome_page_get_session (GraftWelcomePage *self);
void graft_welcome_page_set_session (GraftWelcomePage *self, GraftSession *session);

/* The settings holding "recent-projects" (property "settings"). By default the
 * application's, else the schema found in the build tree; NULL without a schema. */
GSettings *graft_welcome_page_get_settings (GraftWelcomePage *self);
void graft_welcome_page_set_settings (GraftWelcomePage *self, GSettings *settings);

/* Opens (or creates: graft_welcome_page_create_project) the project in folder, adds it to
 * the recent projects and emits ::project-opened. FALSE with error (also shown as a
 * toast) when it cannot. */
gboolean graft_welcome_page_open_project (GraftWelcomePage *self, const char *folder, GError **error);
gboolean graft_welcome_page_create_project (GraftWelcomePage *self, const char *folder, GError **error);
/* Opens the sample project (made first when missing, in a worker thread) and loads the
 * starter model; ::project-opened follows. */
void graft_welcome_page_open_sample (GraftWelcomePage *self);
/* Whether the sample project is being prepared (property "busy"). */
gboolean graft_welcome_page_get_busy (GraftWelcomePage *self);

/* Puts folder first in the recent projects (ten kept). */
void graft_welcome_page_add_recent (GraftWelcomePage *self, const char *folder);

/* Where the sample project lives: g_get_user_data_dir()/graft/sample.graft. */
char *graft_welcome_page_get_sample_folder (void);

G_END_DECLS
