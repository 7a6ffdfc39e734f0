/* graft-schedule-page.h: the Schedule page: the unfreezing timeline with its
 * learning-rate preview, and every training setting of the session's spec (epochs,
 * schedule, learning rates, optimizer, BatchNorm policy, augmentation, regularisation).
 *
 * Every control is bound to the session's spec: a change writes the field and emits
 * graft_session_spec_changed; ::spec-changed from elsewhere (a preset on the model page)
 * updates the controls without writing back. The first problem graft_session_spec_validate
 * finds is shown at the top of the settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-schedule-timeline.h"
#include "graft-session.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_SCHEDULE_PAGE (graft_schedule_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftSchedulePage, graft_schedule_page, GRAFT, SCHEDULE_PAGE, AdwBin)

GtkWidget *graft_schedule_page_new (void);

GraftSession *graft_schedule_page_get_session (GraftSchedulePage *self);
void graft_schedule_page_set_session (GraftSchedulePage *self, GraftSession *session);

GraftScheduleTimeline *graft_schedule_page_get_timeline (GraftSchedulePage *self);

/* The message shown for an invalid spec, NULL when it is valid (tests). */
const char *graft_schedule_page_get_error (GraftSchedulePage *self);

G_END_DECLS
