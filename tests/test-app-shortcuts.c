/* test-app-shortcuts.c: the Keyboard Shortcuts window lists the keys a person labels
 * with (1 to 9, 0 and Backspace, Ctrl+Z, Delete on the Data page; Space, Return, Escape in
 * Label Next), not only the five general ones, and every accelerator it shows parses.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "graft-application.h"

/* The accelerators of ui/help-overlay.ui, each "a...b" range and space-separated
 * alternative expanded to single accelerators. */
static GPtrArray *
shown_accelerators (GtkBuilder *builder)
{
  GPtrArray *shown = g_ptr_array_new_with_free_func (g_free);
  GSList *objects = gtk_builder_get_objects (builder);

  for (GSList *l = objects; l != NULL; l = l->next)
    {
      g_autofree char *accelerator = NULL;
      g_auto (GStrv) parts = NULL;

      if (!GTK_IS_SHORTCUTS_SHORTCUT (l->data))
        continue;
      g_object_get (l->data, "accelerator", &accelerator, NULL);
      if (accelerator == NULL || *accelerator == '\0')
        continue;
      parts = g_strsplit (accelerator, " ", -1);
      for (int i = 0; parts[i] != NULL; i++)
        {
          const char *range = strstr (parts[i], "...");
          if (range != NULL)
            {
              /* "1...9": one accelerator per key of the range. */
              g_autofree char *first = g_strndup (parts[i], range - parts[i]);
              const char *last = range + 3;
              g_assert_cmpuint (strlen (first), ==, 1);
              g_assert_cmpuint (strlen (last), ==, 1);
              for (char c = first[0]; c <= last[0]; c++)
                g_ptr_array_add (shown, g_strdup_printf ("%c", c));
            }
          else
            g_ptr_array_add (shown, g_strdup (parts[i]));
        }
    }
  g_slist_free (objects);
  return shown;
}

static gboolean
shows (GPtrArray *shown, guint keyval, GdkModifierType modifiers)
{
  for (guint i = 0; i < shown->len; i++)
    {
      guint key = 0;
      GdkModifierType mods = 0;
      if (gtk_accelerator_parse (g_ptr_array_index (shown, i), &key, &mods) && key == keyval && mods == modifiers)
        return TRUE;
    }
  return FALSE;
}

static void
test_labelling_keys (void)
{
  g_autoptr (GtkBuilder) builder = gtk_builder_new_from_resource ("/io/github/graftlab/Graft/gtk/help-overlay.ui");
  g_autoptr (GPtrArray) shown = shown_accelerators (builder);

  /* Every accelerator shown is one GTK can parse (a typo shows an empty key cap). */
  for (guint i = 0; i < shown->len; i++)
    {
      guint key = 0;
      GdkModifierType mods = 0;
      g_test_message ("shown: %s", (char *) g_ptr_array_index (shown, i));
      g_assert_true (gtk_accelerator_parse (g_ptr_array_index (shown, i), &key, &mods));
      g_assert_cmpuint (key, !=, 0);
    }

  /* The Data page's keys (graft-data-page.c's bindings) and Label Next's
   * (graft-label-next.c's shortcut controller). */
  for (guint key = GDK_KEY_0; key <= GDK_KEY_9; key++)
    g_assert_true (shows (shown, key, 0));
  g_assert_true (shows (shown, GDK_KEY_BackSpace, 0));
  g_assert_true (shows (shown, GDK_KEY_z, GDK_CONTROL_MASK));
  g_assert_true (shows (shown, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK));
  g_assert_true (shows (shown, GDK_KEY_Delete, 0));
  g_assert_true (shows (shown, GDK_KEY_space, 0));
  g_assert_true (shows (shown, GDK_KEY_Return, 0));
  g_assert_true (shows (shown, GDK_KEY_Escape, 0));
  g_assert_true (shows (shown, GDK_KEY_F10, 0));
}

int
main (int argc, char **argv)
{
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  g_test_add_func ("/app/shortcuts/labelling-keys", test_labelling_keys);
  return g_test_run ();
}
