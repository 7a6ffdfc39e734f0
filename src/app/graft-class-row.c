/* graft-class-row.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-class-row.h"

#include <glib/gi18n.h>

#include "graft-image-cell.h"

typedef struct {
  GraftClassItem *klass;
  GtkWidget *swatch;
  GtkWidget *name;
  GtkWidget *count;
  GtkWidget *key;
  const GraftClassRowHost *host;
  gpointer host_data;
} ClassRow;

static void
class_row_update (ClassRow *row)
{
  g_autofree char *count = g_strdup_printf ("%'u", graft_class_item_get_count (row->klass));
  int key = graft_class_item_get_key (row->klass);
  GtkWidget *list_row = gtk_widget_get_ancestor (row->name, GTK_TYPE_LIST_BOX_ROW);
  g_autofree char *description = NULL;

  gtk_label_set_text (GTK_LABEL (row->name), graft_class_item_get_name (row->klass));
  gtk_label_set_text (GTK_LABEL (row->count), count);
  graft_set_class_colour (row->swatch, "class", graft_class_item_get_id (row->klass));
  if (key > 0)
    {
      g_autofree char *text = g_strdup_printf ("%d", key);
      gtk_label_set_text (GTK_LABEL (row->key), text);
      /* Translators: a class in the sidebar: its name, how many images, its number key. */
      description = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s, %u image, key %d", "%s, %u images, key %d",
                                                  graft_class_item_get_count (row->klass)),
                                     graft_class_item_get_name (row->klass), graft_class_item_get_count (row->klass),
                                     key);
    }
  else
    description = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s, %u image", "%s, %u images",
                                                graft_class_item_get_count (row->klass)),
                                   graft_class_item_get_name (row->klass), graft_class_item_get_count (row->klass));
  gtk_widget_set_visible (row->key, key > 0);
  if (list_row != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (list_row), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
}

static void
on_class_notify (GraftClassItem *klass, GParamSpec *pspec, ClassRow *row)
{
  class_row_update (row);
}

static void
class_row_free (gpointer data)
{
  ClassRow *row = data;
  g_signal_handlers_disconnect_by_data (row->klass, row);
  g_object_unref (row->klass);
  g_free (row);
}

static gboolean
on_class_drop (GtkDropTarget *target, const GValue *value, double x, double y, gpointer user_data)
{
  ClassRow *row = user_data;

  if (G_VALUE_HOLDS (value, graft_image_ids_get_type ()) && row->host->label_dropped != NULL)
    {
      GraftImageIds *ids = g_value_get_boxed (value);
      return row->host->label_dropped (row->host_data, row->klass, ids->ids);
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) && row->host->import_dropped != NULL)
    return row->host->import_dropped (row->host_data, row->klass, g_value_get_boxed (value));
  return FALSE;
}

static void
on_class_row_context (GtkGestureClick *gesture, int n_press, double x, double y, gpointer user_data)
{
  ClassRow *row = user_data;
  GtkWidget *list_row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture));

  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  if (row->host->context_menu != NULL)
    row->host->context_menu (row->host_data, list_row, x, y);
}

GtkWidget *
graft_class_row_new (GraftClassItem *klass, const GraftClassRowHost *host, gpointer host_data)
{
  ClassRow *row = g_new0 (ClassRow, 1);
  GtkWidget *list_row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkDropTarget *drop;
  GtkGesture *click;
  GType types[] = { 0, GDK_TYPE_FILE_LIST };

  row->klass = g_object_ref (klass);
  row->host = host;
  row->host_data = host_data;
  row->swatch = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_set_valign (row->swatch, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (row->swatch, "graft-swatch");
  row->name = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (row->name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (row->name), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (row->name, TRUE);
  row->count = gtk_label_new (NULL);
  gtk_widget_add_css_class (row->count, "dim-label");
  gtk_widget_add_css_class (row->count, "numeric");
  row->key = gtk_label_new (NULL);
  gtk_widget_set_valign (row->key, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (row->key, "graft-keycap");
  gtk_widget_add_css_class (row->key, "dim-label");
  gtk_box_append (GTK_BOX (box), row->swatch);
  gtk_box_append (GTK_BOX (box), row->name);
  gtk_box_append (GTK_BOX (box), row->count);
  gtk_box_append (GTK_BOX (box), row->key);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (list_row), box);
  g_object_set_data_full (G_OBJECT (list_row), "graft-class-row", row, class_row_free);
  g_signal_connect (klass, "notify", G_CALLBACK (on_class_notify), row);
  class_row_update (row);

  types[0] = graft_image_ids_get_type ();
  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, types, G_N_ELEMENTS (types));
  g_signal_connect (drop, "drop", G_CALLBACK (on_class_drop), row);
  gtk_widget_add_controller (list_row, GTK_EVENT_CONTROLLER (drop));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_class_row_context), row);
  gtk_widget_add_controller (list_row, GTK_EVENT_CONTROLLER (click));
  return list_row;
}

GraftClassItem *
graft_class_row_get_class (GtkWidget *list_row)
{
  ClassRow *row = g_object_get_data (G_OBJECT (list_row), "graft-class-row");
  return row != NULL ? row->klass : NULL;
}
