/* app-test-helpers.h: what UI tests share: running the main loop for a while, showing
 * a widget in a window, and saving screenshots when GRAFT_SHOTS names a folder. */
#pragma once

#include <adwaita.h>

/* Runs the default main context for about milliseconds. */
void app_test_iterate_for (int milliseconds);
/* A window of width x height holding child, presented and with child allocated. */
GtkWidget *app_test_show_in_window (GtkWidget *child, int width, int height);
/* Saves window as GRAFT_SHOTS/name right after its next frame; nothing without
 * GRAFT_SHOTS. */
void app_test_save_shot (GtkWidget *window, const char *name);
/* stem-light.png and stem-dark.png, with the style forced each way. */
void app_test_save_light_and_dark (GtkWidget *window, const char *stem);
