/* graft-head-designer.h: the new head (linear, or an MLP with hidden sizes, activation,
 * dropout and BatchNorm), its parameter count live, applied to the session's spec as
 * it is edited (graft_session_set_head).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_HEAD_DESIGNER (graft_head_designer_get_type ())
G_DECLARE_FINAL_TYPE (GraftHeadDesigner, graft_head_designer, GRAFT, HEAD_DESIGNER, AdwBin)

GtkWidget *graft_head_designer_new (void);

GraftSession *graft_head_designer_get_session (GraftHeadDesigner *self);
void graft_head_designer_set_session (GraftHeadDesigner *self, GraftSession *session);

G_END_DECLS
