/* graft-preferences-window.h: the preferences: training threads, and the feature
 * cache (size limit, folder, space used, clearing it). Every control is bound to the
 * application's settings; the application and the windows follow the settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "graft-application.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_PREFERENCES_WINDOW (graft_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (GraftPreferencesWindow, graft_preferences_window, GRAFT, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

/* The application must have settings (graft_application_get_settings). */
GtkWidget *graft_preferences_window_new (GraftApplication *application);

/* Measures the feature cache again, off the main thread (property "usage", the text
 * the Space Used row shows, changes when done; "measuring" is TRUE meanwhile). */
void graft_preferences_window_measure (GraftPreferencesWindow *self);
const char *graft_preferences_window_get_usage (GraftPreferencesWindow *self);
gboolean graft_preferences_window_get_measuring (GraftPreferencesWindow *self);

G_END_DECLS
