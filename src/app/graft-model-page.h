/* graft-model-page.h: the Model page: the pretrained model (starter or imported ONNX),
 * the strategy presets, the freeze map, the selected block's layers and the head
 * designer, all editing the session's spec.
 *
 * Actions: "model-page.load-starter", "model-page.import" (a file chooser),
 * "model-page.choose" (the GraftModelChooser dialog: catalog models, downloaded on demand;
 * the page keeps the dialog, so its downloads go on while it is hidden).
 * Signal ::toast (const char *message): something the person should read (a model that
 * could not be opened); the window shows it as an AdwToast.
 * Signal ::model-loaded (const char *path): a model the page loaded is the session's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-freeze-map.h"
#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_MODEL_PAGE (graft_model_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftModelPage, graft_model_page, GRAFT, MODEL_PAGE, AdwBin)

GtkWidget *graft_model_page_new (void);

GraftSession *graft_model_page_get_session (GraftModelPage *self);
void graft_model_page_set_session (GraftModelPage *self, GraftSession *session);

GraftFreezeMap *graft_model_page_get_freeze_map (GraftModelPage *self);

/* Loads the model at path into the session off the main thread (the page's spinner
 * shows meanwhile; a load started later cancels this one). Errors become ::toast in
 * plain words; success emits ::model-loaded. */
void graft_model_page_load_model (GraftModelPage *self, const char *path);

/* The bundled starter model, or NULL when it is not found (graft_application_find_data). */
char *graft_model_page_find_starter_model (void);

G_END_DECLS
