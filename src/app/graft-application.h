/* graft-application.h: the Graft application object.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_APPLICATION (graft_application_get_type ())

G_DECLARE_FINAL_TYPE (GraftApplication, graft_application, GRAFT, APPLICATION, AdwApplication)

GraftApplication *graft_application_new          (void);
/* The application's settings, or NULL when the schema is not installed. */
GSettings        *graft_application_get_settings (GraftApplication *self);

G_END_DECLS
