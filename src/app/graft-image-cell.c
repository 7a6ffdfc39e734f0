/* graft-image-cell.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-image-cell.h"

#include <glib/gi18n.h>

/* Image ids, as a drag carries them from the grid to a class. */

static GraftImageIds *
graft_image_ids_copy (GraftImageIds *ids)
{
  GraftImageIds *copy = g_new0 (GraftImageIds, 1);
  copy->ids = g_array_ref (ids->ids);
  return copy;
}

static void
graft_image_ids_free (GraftImageIds *ids)
{
  g_array_unref (ids->ids);
  g_free (ids);
}

G_DEFINE_BOXED_TYPE (GraftImageIds, graft_image_ids, graft_image_ids_copy, graft_image_ids_free)

typedef struct {
  const GraftImageCellHost *host;
  gpointer host_data;
} GraftImageCellFactory;

static char *
class_css_name (const char *prefix, gint64 id)
{
  return g_strdup_printf ("graft-%s-%" G_GINT64_FORMAT, prefix, id);
}

/* Removes the CSS classes starting with prefix from widget. */
static void
remove_css_prefix (GtkWidget *widget, const char *prefix)
{
  g_auto (GStrv) classes = gtk_widget_get_css_classes (widget);

  for (guint i = 0; classes[i] != NULL; i++)
    if (g_str_has_prefix (classes[i], prefix))
      gtk_widget_remove_css_class (widget, classes[i]);
}

void
graft_set_class_colour (GtkWidget *widget, const char *prefix, gint64 class_id)
{
  g_autofree char *full_prefix = g_strdup_printf ("graft-%s-", prefix);
  g_autofree char *name = class_css_name (prefix, class_id);

  if (gtk_widget_has_css_class (widget, name))
    return;
  remove_css_prefix (widget, full_prefix);
  if (class_id != 0)
    gtk_widget_add_css_class (widget, name);
}

typedef struct {
  GtkWidget *root;       /* GtkOverlay */
  GtkWidget *frame;
  GtkWidget *picture;
  GtkWidget *placeholder;
  GtkWidget *chip;
  GtkWidget *suggestion;
  GraftImageItem *item;  /* while bound */
  gulong changed_id;
  gulong paintable_id;
  const GraftImageCellHost *host;
  gpointer host_data;
} Cell;

static void
cell_update (Cell *cell)
{
  GraftImageItem *item = cell->item;
  GdkPaintable *paintable;
  g_autofree char *description = NULL;

  if (item == NULL)
    return;
  paintable = graft_image_item_get_paintable (item);
  gtk_picture_set_paintable (GTK_PICTURE (cell->picture), paintable);
  gtk_widget_set_visible (cell->placeholder, paintable == NULL);
  if (graft_image_item_get_missing (item) || graft_image_item_get_thumbnail_failed (item))
    {
      gtk_image_set_from_icon_name (GTK_IMAGE (cell->placeholder), "image-missing-symbolic");
      gtk_widget_add_css_class (cell->placeholder, "graft-thumb-missing");
    }
  else
    {
      gtk_image_set_from_icon_name (GTK_IMAGE (cell->placeholder), "image-x-generic-symbolic");
      gtk_widget_remove_css_class (cell->placeholder, "graft-thumb-missing");
    }

  if (graft_image_item_get_class_id (item) != 0)
    {
      gtk_label_set_text (GTK_LABEL (cell->chip), graft_image_item_get_class_name (item));
      graft_set_class_colour (cell->chip, "class", graft_image_item_get_class_id (item));
      gtk_widget_set_visible (cell->chip, TRUE);
      gtk_widget_set_visible (cell->suggestion, FALSE);
    }
  else
    {
      gtk_widget_set_visible (cell->chip, FALSE);
      if (graft_image_item_get_suggestion_id (item) != 0 && graft_image_item_get_suggestion_name (item) != NULL)
        {
          /* Translators: a suggested class and the model's confidence, e.g. "Shirt 87 %". */
          g_autofree char *text = g_strdup_printf (_("%s %.0f %%"), graft_image_item_get_suggestion_name (item),
                                                   graft_image_item_get_confidence (item) * 100);
          gtk_label_set_text (GTK_LABEL (cell->suggestion), text);
          graft_set_class_colour (cell->suggestion, "suggest", graft_image_item_get_suggestion_id (item));
          gtk_widget_set_visible (cell->suggestion, TRUE);
        }
      else
        gtk_widget_set_visible (cell->suggestion, FALSE);
    }
  description = graft_image_item_describe (item);
  gtk_widget_set_tooltip_text (cell->root, description);
  gtk_accessible_update_property (GTK_ACCESSIBLE (cell->root), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
}

static void
on_cell_item_changed (GraftImageItem *item, Cell *cell)
{
  cell_update (cell);
}

static void
on_cell_item_paintable (GraftImageItem *item, GParamSpec *pspec, Cell *cell)
{
  cell_update (cell);
}

static void
cell_free (gpointer data)
{
  Cell *cell = data;

  if (cell->item != NULL)
    {
      g_clear_signal_handler (&cell->changed_id, cell->item);
      g_clear_signal_handler (&cell->paintable_id, cell->item);
      g_clear_object (&cell->item);
    }
  g_free (cell);
}

static guint
cell_position (Cell *cell)
{
  GtkListItem *list_item = g_object_get_data (G_OBJECT (cell->root), "graft-list-item");
  return list_item != NULL ? gtk_list_item_get_position (list_item) : GTK_INVALID_LIST_POSITION;
}

/* Drag: what the host says (the selection when the cell is selected), else the cell's
 * image alone. */
static GdkContentProvider *
on_drag_prepare (GtkDragSource *source, double x, double y, gpointer user_data)
{
  Cell *cell = user_data;
  GraftImageIds ids = { NULL };
  GValue value = G_VALUE_INIT;
  GdkContentProvider *content;
  guint position = cell_position (cell);

  if (cell->item == NULL)
    return NULL;
  if (position != GTK_INVALID_LIST_POSITION && cell->host->drag_ids != NULL)
    ids.ids = cell->host->drag_ids (cell->host_data, position);
  if (ids.ids == NULL)
    {
      gint64 id = graft_image_item_get_id (cell->item);
      ids.ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_array_append_val (ids.ids, id);
    }
  if (graft_image_item_get_paintable (cell->item) != NULL)
    gtk_drag_source_set_icon (source, graft_image_item_get_paintable (cell->item), 16, 16);
  g_value_init (&value, graft_image_ids_get_type ());
  g_value_set_boxed (&value, &ids);
  content = gdk_content_provider_new_for_value (&value);
  g_value_unset (&value);
  g_array_unref (ids.ids);
  return content;
}

static void
on_cell_context (GtkGestureClick *gesture, int n_press, double x, double y, gpointer user_data)
{
  Cell *cell = user_data;
  guint position = cell_position (cell);

  if (position == GTK_INVALID_LIST_POSITION || cell->host->context_menu == NULL)
    return;
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  cell->host->context_menu (cell->host_data, position, cell->root, x, y);
}

static void
on_factory_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GraftImageCellFactory *factory_data = user_data;
  Cell *cell = g_new0 (Cell, 1);
  GtkDragSource *drag;
  GtkGesture *click;

  cell->host = factory_data->host;
  cell->host_data = factory_data->host_data;
  cell->root = gtk_overlay_new ();
  cell->frame = gtk_overlay_new ();
  gtk_widget_set_size_request (cell->frame, 148, 148);
  gtk_widget_set_halign (cell->frame, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (cell->frame, GTK_ALIGN_CENTER);
  gtk_widget_set_overflow (cell->frame, GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (cell->frame, "graft-thumb");
  cell->placeholder = gtk_image_new_from_icon_name ("image-x-generic-symbolic");
  gtk_image_set_pixel_size (GTK_IMAGE (cell->placeholder), 32);
  gtk_widget_add_css_class (cell->placeholder, "dim-label");
  gtk_overlay_set_child (GTK_OVERLAY (cell->frame), cell->placeholder);
  cell->picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (cell->picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (cell->picture), GTK_CONTENT_FIT_CONTAIN);
  gtk_overlay_add_overlay (GTK_OVERLAY (cell->frame), cell->picture);
  gtk_overlay_set_child (GTK_OVERLAY (cell->root), cell->frame);

  cell->chip = gtk_label_new (NULL);
  gtk_label_set_ellipsize (GTK_LABEL (cell->chip), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (cell->chip), 14);
  gtk_widget_set_halign (cell->chip, GTK_ALIGN_START);
  gtk_widget_set_valign (cell->chip, GTK_ALIGN_END);
  gtk_widget_set_margin_start (cell->chip, 6);
  gtk_widget_set_margin_end (cell->chip, 6);
  gtk_widget_set_margin_bottom (cell->chip, 6);
  gtk_widget_add_css_class (cell->chip, "graft-chip");
  gtk_widget_set_visible (cell->chip, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (cell->frame), cell->chip);

  cell->suggestion = gtk_label_new (NULL);
  gtk_label_set_ellipsize (GTK_LABEL (cell->suggestion), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (cell->suggestion), 14);
  gtk_widget_set_halign (cell->suggestion, GTK_ALIGN_START);
  gtk_widget_set_valign (cell->suggestion, GTK_ALIGN_END);
  gtk_widget_set_margin_start (cell->suggestion, 6);
  gtk_widget_set_margin_end (cell->suggestion, 6);
  gtk_widget_set_margin_bottom (cell->suggestion, 6);
  gtk_widget_add_css_class (cell->suggestion, "graft-chip");
  gtk_widget_add_css_class (cell->suggestion, "graft-suggestion");
  gtk_widget_set_visible (cell->suggestion, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (cell->frame), cell->suggestion);

  drag = gtk_drag_source_new ();
  gtk_drag_source_set_actions (drag, GDK_ACTION_COPY);
  g_signal_connect (drag, "prepare", G_CALLBACK (on_drag_prepare), cell);
  gtk_widget_add_controller (cell->root, GTK_EVENT_CONTROLLER (drag));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_cell_context), cell);
  gtk_widget_add_controller (cell->root, GTK_EVENT_CONTROLLER (click));

  g_object_set_data_full (G_OBJECT (cell->root), "graft-cell", cell, cell_free);
  g_object_set_data (G_OBJECT (cell->root), "graft-list-item", list_item);
  gtk_list_item_set_child (list_item, cell->root);
}

static void
on_factory_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *root = gtk_list_item_get_child (list_item);
  Cell *cell = g_object_get_data (G_OBJECT (root), "graft-cell");
  GraftImageItem *item = gtk_list_item_get_item (list_item);
  GraftProjectObject *project = cell->host->project (cell->host_data);

  cell->item = g_object_ref (item);
  cell->changed_id = g_signal_connect (item, "changed", G_CALLBACK (on_cell_item_changed), cell);
  cell->paintable_id = g_signal_connect (item, "notify::paintable", G_CALLBACK (on_cell_item_paintable), cell);
  if (project != NULL)
    graft_project_object_load_thumbnail (project, item);
  cell_update (cell);
}

static void
on_factory_unbind (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *root = gtk_list_item_get_child (list_item);
  Cell *cell = g_object_get_data (G_OBJECT (root), "graft-cell");
  GraftProjectObject *project;

  if (cell->item == NULL)
    return;
  project = cell->host->project (cell->host_data);
  if (project != NULL && graft_image_item_get_paintable (cell->item) == NULL)
    graft_project_object_cancel_thumbnail (project, cell->item);
  g_clear_signal_handler (&cell->changed_id, cell->item);
  g_clear_signal_handler (&cell->paintable_id, cell->item);
  g_clear_object (&cell->item);
  gtk_picture_set_paintable (GTK_PICTURE (cell->picture), NULL);
}

GtkListItemFactory *
graft_image_cell_factory_new (const GraftImageCellHost *host, gpointer host_data)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GraftImageCellFactory *data = g_new0 (GraftImageCellFactory, 1);

  g_return_val_if_fail (host != NULL && host->project != NULL, NULL);

  data->host = host;
  data->host_data = host_data;
  g_object_set_data_full (G_OBJECT (factory), "graft-image-cell-host", data, g_free);
  g_signal_connect (factory, "setup", G_CALLBACK (on_factory_setup), data);
  g_signal_connect (factory, "bind", G_CALLBACK (on_factory_bind), data);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_factory_unbind), data);
  return factory;
}
