/* app-test-helpers.h: what UI tests share: running the main loop for a while, showing
 * a widget in a window, and saving screenshots when GRAFT_SHOTS names a folder. */
#pragma once

#include <adwaita.h>

/* Runs the default main context for about milliseconds. */
void app_test_iterate_for (int milliseconds);
/* Runs the default main context until condition (data) holds, or seconds pass; whether it
 * holds. app_test_flag_set: data is a gboolean * that became TRUE. */
typedef gboolean (*AppTestCondition) (gpointer data);
gboolean app_test_wait_until (AppTestCondition condition, gpointer data, int seconds);
gboolean app_test_flag_set (gpointer data);
/* A window of width x height holding child, presented and with child allocated. */
GtkWidget *app_test_show_in_window (GtkWidget *child, int width, int height);
/* Saves window as GRAFT_SHOTS/name right after its next frame; nothing without
 * GRAFT_SHOTS. */
void app_test_save_shot (GtkWidget *window, const char *name);
/* stem-light.png and stem-dark.png, with the style forced each way. */
void app_test_save_light_and_dark (GtkWidget *window, const char *stem);

#include "graft-application.h"
#include "graft-project-object.h"
#include "graft-window.h"

/* The template child name of widget (an instance of type); fails the test when there
 * is none. */
GtkWidget *app_test_template_child (gpointer widget, GType type, const char *name);
/* The first event controller of type on widget (the widget keeps it), or NULL. */
GtkEventController *app_test_find_controller (GtkWidget *widget, GType type);
/* A registered GraftApplication, as `graft` runs it but not unique, so that tests may
 * run side by side. */
GraftApplication *app_test_application_new (void);
/* "welcome" on the start screen, else the name of the visible page ("data", ...). */
const char *app_test_visible_page (GraftWindow *window);
/* Sets up a UI test on the sample project: private user folders (*home, removed by the
 * caller at the end), in-memory settings, the C locale, GTK and libadwaita, 2 engine
 * threads, and GRAFT_DATA_DIR on the source tree's data/. FALSE (after printing TAP's
 * skip and removing *home) without a display or without the sample images: main then
 * returns 0. */
gboolean app_test_init_with_samples (int *argc, char ***argv, const char *home_template, char **home);
/* The page of window's view stack called name ("data", "results", ...); fails the test
 * when there is none. */
GtkWidget *app_test_window_page (GraftWindow *window, const char *name);

/* The project open in window (its Data page's), or NULL on the start screen. */
GraftProjectObject *app_test_window_project (GraftWindow *window);
/* A new GraftWindow of application, 1360x860, presented and mapped. */
GraftWindow *app_test_window_new (GraftApplication *application);
/* Opens the sample project in window and waits until its model is loaded and its
 * training images are in the session (fails the test after two minutes). */
void app_test_open_sample (GraftWindow *window);
/* Sets the session's epochs, starts a run from the Train page and waits until it has
 * finished, the project has recorded it and the Results page shows its metrics. */
void app_test_train (GraftWindow *window, int epochs);

/* Runs the main context until condition (any expression) holds or seconds have passed;
 * the caller asserts the condition after it. */
#define APP_TEST_WAIT_UNTIL(condition, seconds) \
  G_STMT_START \
  { \
    gint64 wait_deadline_ = g_get_monotonic_time () + (gint64) (seconds) * G_USEC_PER_SEC; \
    while (!(condition) && g_get_monotonic_time () < wait_deadline_) \
      if (!g_main_context_iteration (NULL, FALSE)) \
        g_usleep (1000); \
  } \
  G_STMT_END
