/* graft-data-page.c: the Data page (see graft-data-page.h).
 *
 * The grid shows a GraftProjectObject image list (rows fetched from the store as they
 * scroll in) through a GtkMultiSelection; each cell asks for its thumbnail when bound
 * and drops the request when unbound, so scrolling fast through 100,000 images only
 * makes the thumbnails that stay in view. Class colours are CSS classes
 * (graft_project_object_get_class_css) in a provider of the page's own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "graft-data-page.h"

#include "graft-class-dialogs.h"
#include "graft-class-row.h"
#include "graft-data-export.h"
#include "graft-image-cell.h"
#include "graft-import-report.h"

/* ------------------------------------------------------------------------ */
/* The page                                                                  */

struct _GraftDataPage
{
  AdwBin parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *mode_stack;
  GtkListBox *filter_list;
  GtkListBox *class_list;
  GtkWidget *no_classes_label;
  GtkLabel *title_label;
  GtkLabel *subtitle_label;
  GtkWidget *import_progress;
  GtkSpinner *import_spinner;
  GtkMenuButton *import_button;
  GtkButton *label_next_button;
  GtkStack *content_stack;
  GtkGridView *grid_view;
  AdwStatusPage *empty_status;
  GtkWidget *empty_buttons;
  GtkRevealer *selection_revealer;
  GtkLabel *selection_label;
  GtkWidget *accept_button;
  GtkMenuButton *label_as_button;
  GraftLabelNext *label_next;

  GraftProjectObject *project;
  GraftSession *session;
  GtkMultiSelection *selection;
  GListModel *images;                 /* the filter's list */
  GraftImageFilter filter;
  gint64 filter_class;
  GtkWidget *filter_rows[3];          /* All, Unlabelled, Suggested */
  GtkLabel *filter_counts[3];
  guint counts[3];                    /* their images, read when labels or images change */
  GtkCssProvider *class_css;
  GMenu *label_menu;                  /* "Label As" items, one per class */
  GMenu *context_menu;
  GtkWidget *context_popover;
  GtkWidget *class_popover;
  GtkFileChooserNative *chooser;
  GCancellable *cancellable;
  guint importing;
  gboolean exporting;   /* one export at a time */
  gboolean syncing_sidebar;
};

G_DEFINE_FINAL_TYPE (GraftDataPage, graft_data_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_PROJECT, PROP_SESSION, PROP_IMPORTING, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

enum { FILTER_ROW_ALL, FILTER_ROW_UNLABELLED, FILTER_ROW_SUGGESTED };


static void update_header (GraftDataPage *self);
static void apply_project (GraftDataPage *self);
static void update_selection_bar (GraftDataPage *self);
static gboolean import_dropped_files (GraftDataPage *self, GSList *files, gint64 class_id);

static void
toast (GraftDataPage *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

static void
toast_error (GraftDataPage *self, const char *what, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);
  toast (self, message);
}

static GtkWindow *
toplevel (GraftDataPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Style                                                                     */

static const char page_css[] =
  ".graft-image-grid { background: none; }\n"
  ".graft-image-grid > child { padding: 6px; margin: 3px; border-radius: 12px; }\n"
  ".graft-image-grid > child:selected { background-color: alpha(@accent_bg_color, 0.2); }\n"
  ".graft-image-grid > child:selected .graft-thumb { outline: 3px solid @accent_bg_color; outline-offset: 1px;"
  "  border-radius: 8px; }\n"
  ".graft-thumb { border-radius: 8px; background-color: alpha(currentColor, 0.06); }\n"
  ".graft-thumb-missing { color: @warning_color; }\n"
  ".graft-chip { border-radius: 999px; padding: 1px 8px; font-size: 0.8em; font-weight: bold;"
  "  box-shadow: 0 1px 2px alpha(black, 0.25); }\n"
  ".graft-chip.graft-suggestion { background-color: alpha(@view_bg_color, 0.92); color: @view_fg_color;"
  "  border: 2px dashed; padding: 0 7px; font-weight: normal; }\n"
  ".graft-swatch { min-width: 12px; min-height: 12px; border-radius: 999px; }\n"
  ".graft-swatch-large { min-width: 32px; min-height: 32px; }\n"
  ".graft-class-row-count { font-feature-settings: \"tnum\"; }\n"
  ".navigation-sidebar > row:drop(active) { box-shadow: inset 0 0 0 2px @accent_bg_color; }\n"
  ".graft-data-page:drop(active) { box-shadow: inset 0 0 0 3px @accent_bg_color; }\n"
  ".graft-keycap { font-size: 0.8em; font-feature-settings: \"tnum\"; min-width: 1.4em; padding: 0 4px;"
  "  border-radius: 5px; border: 1px solid alpha(currentColor, 0.2); box-shadow: inset 0 -1px alpha(currentColor, 0.2); }\n";

void
graft_data_page_ensure_style (void)
{
  static gboolean done;
  g_autoptr (GtkCssProvider) provider = NULL;
  g_autoptr (GString) css = NULL;

  if (done)
    return;
  done = TRUE;
  css = g_string_new (page_css);
  /* The palette's swatches in the colour dialog. */
  for (guint i = 0; i < GRAFT_CLASS_PALETTE_SIZE; i++)
    g_string_append_printf (css, ".graft-palette-%u { background-color: %s; }\n", i, graft_class_palette[i]);
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_data (provider, css->str, -1);
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

static void
update_class_css (GraftDataPage *self)
{
  g_autofree char *css = self->project != NULL ? graft_project_object_get_class_css (self->project) : g_strdup ("");

  gtk_css_provider_load_from_data (self->class_css, css, -1);
}

/* ------------------------------------------------------------------------ */
/* Selection                                                                 */

/* The selected image ids, in grid order. */
static GArray *
selected_ids (GraftDataPage *self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GtkBitset) selected = NULL;
  GtkBitsetIter iter;
  guint position;

  if (self->selection == NULL)
    return ids;
  selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  for (gboolean ok = gtk_bitset_iter_init_first (&iter, selected, &position); ok;
       ok = gtk_bitset_iter_next (&iter, &position))
    {
      g_autoptr (GraftImageItem) item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);
      if (item != NULL)
        {
          gint64 id = graft_image_item_get_id (item);
          g_array_append_val (ids, id);
        }
    }
  return ids;
}

static guint
first_selected_position (GraftDataPage *self)
{
  g_autoptr (GtkBitset) selected = NULL;

  if (self->selection == NULL)
    return G_MAXUINT;
  selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  return gtk_bitset_is_empty (selected) ? G_MAXUINT : gtk_bitset_get_minimum (selected);
}

/* After a change removed the labelled images from the view (Unlabelled, a class): the
 * image now at the old position is selected, so the next key labels the next image.
 * When one image was labelled and stays in view (All Images, its own class), the
 * selection moves on to the image after it, in the same way. */
static void
advance_selection (GraftDataPage *self, guint position, guint n_labelled)
{
  guint n;
  g_autoptr (GtkBitset) selected = NULL;

  if (position == G_MAXUINT || self->selection == NULL)
    return;
  selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  if (!gtk_bitset_is_empty (selected))
    {
      /* A batch stays selected; the last image keeps the selection. */
      if (n_labelled != 1 || gtk_bitset_get_size (selected) != 1 || gtk_bitset_get_minimum (selected) + 1 >= n)
        return;
      position = gtk_bitset_get_minimum (selected) + 1;
    }
  if (n == 0)
    return;
  position = MIN (position, n - 1);
  gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), position, TRUE);
  gtk_widget_activate_action (GTK_WIDGET (self->grid_view), "list.scroll-to-item", "u", position);
}

static void
label_selection (GraftDataPage *self, gint64 class_id)
{
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GError) error = NULL;
  guint position;

  if (self->project == NULL)
    return;
  ids = selected_ids (self);
  if (ids->len == 0)
    {
      toast (self, _("Select images first"));
      return;
    }
  position = first_selected_position (self);
  if (!graft_project_object_set_labels (self->project, (const gint64 *) (gpointer) ids->data, ids->len, class_id,
                                        &error))
    {
      toast_error (self, _("Could not label the images"), error);
      return;
    }
  advance_selection (self, position, ids->len);
}

/* ------------------------------------------------------------------------ */
/* The grid's cells (graft-image-cell.c), and what they ask of the page        */

/* A drag from a selected image carries the selection. */
static GArray *
cell_drag_ids (gpointer user_data, guint position)
{
  GraftDataPage *self = user_data;

  if (self->selection == NULL || !gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->selection), position))
    return NULL;
  return selected_ids (self);
}

/* A right click outside the selection selects that image alone, then the menu. */
static void
cell_context_menu (gpointer user_data, guint position, GtkWidget *cell, double x, double y)
{
  GraftDataPage *self = user_data;
  double gx, gy;

  if (self->selection == NULL)
    return;
  if (!gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->selection), position))
    gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), position, TRUE);
  if (!gtk_widget_translate_coordinates (cell, GTK_WIDGET (self->grid_view), x, y, &gx, &gy))
    gx = gy = 0;
  gtk_popover_set_pointing_to (GTK_POPOVER (self->context_popover), &(GdkRectangle) { (int) gx, (int) gy, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->context_popover));
}

static GraftProjectObject *
cell_project (gpointer user_data)
{
  return GRAFT_DATA_PAGE (user_data)->project;
}

static const GraftImageCellHost cell_host = { cell_drag_ids, cell_context_menu, cell_project };

/* ------------------------------------------------------------------------ */
/* The sidebar                                                               */

static GtkWidget *
make_filter_row (const char *icon_name, const char *title, GtkLabel **count_label)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *icon = gtk_image_new_from_icon_name (icon_name);
  GtkWidget *label = gtk_label_new (title);
  GtkWidget *count = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_add_css_class (count, "dim-label");
  gtk_widget_add_css_class (count, "numeric");
  gtk_box_append (GTK_BOX (box), icon);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), count);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  *count_label = GTK_LABEL (count);
  return row;
}

/* A drop of images on a class row labels them with it. */
static gboolean
class_row_label_dropped (gpointer user_data, GraftClassItem *klass, GArray *ids)
{
  GraftDataPage *self = user_data;
  g_autoptr (GError) error = NULL;
  guint position;

  if (self->project == NULL)
    return FALSE;
  position = first_selected_position (self);
  if (!graft_project_object_set_labels (self->project, (const gint64 *) (gpointer) ids->data, ids->len,
                                        graft_class_item_get_id (klass), &error))
    {
      toast_error (self, _("Could not label the images"), error);
      return FALSE;
    }
  advance_selection (self, position, 0);
  return TRUE;
}

/* Files dropped on a class row: imported and labelled with it. */
static gboolean
class_row_import_dropped (gpointer user_data, GraftClassItem *klass, GSList *files)
{
  GraftDataPage *self = user_data;

  return self->project != NULL && import_dropped_files (self, files, graft_class_item_get_id (klass));
}

static void popup_class_menu (GraftDataPage *self, GtkWidget *list_row, double x, double y);

static void
class_row_context_menu (gpointer user_data, GtkWidget *list_row, double x, double y)
{
  popup_class_menu (GRAFT_DATA_PAGE (user_data), list_row, x, y);
}

static const GraftClassRowHost class_row_host = {
  class_row_label_dropped, class_row_import_dropped, class_row_context_menu,
};

static GtkWidget *
create_class_row (gpointer item, gpointer user_data)
{
  return graft_class_row_new (GRAFT_CLASS_ITEM (item), &class_row_host, user_data);
}

/* The class menu of list_row, pointing at (x, y) in the row. The popover belongs to the
 * class list, which outlives the rows (a deleted class takes its row with it). */
static void
popup_class_menu (GraftDataPage *self, GtkWidget *list_row, double x, double y)
{
  GraftClassItem *klass = graft_class_row_get_class (list_row);
  g_autoptr (GMenu) menu = g_menu_new ();
  g_autoptr (GMenu) section = g_menu_new ();
  g_autoptr (GMenuItem) item = NULL;
  gint64 id;
  double lx, ly;

  if (klass == NULL)
    return;
  id = graft_class_item_get_id (klass);
  item = g_menu_item_new (_("_Rename…"), NULL);
  g_menu_item_set_action_and_target_value (item, "data.rename-class", g_variant_new_int64 (id));
  g_menu_append_item (menu, item);
  g_clear_object (&item);
  item = g_menu_item_new (_("Change _Colour…"), NULL);
  g_menu_item_set_action_and_target_value (item, "data.recolour-class", g_variant_new_int64 (id));
  g_menu_append_item (menu, item);
  g_clear_object (&item);
  item = g_menu_item_new (_("_Merge Into…"), NULL);
  g_menu_item_set_action_and_target_value (item, "data.merge-class", g_variant_new_int64 (id));
  g_menu_append_item (menu, item);
  g_clear_object (&item);
  item = g_menu_item_new (_("_Delete…"), NULL);
  g_menu_item_set_action_and_target_value (item, "data.delete-class", g_variant_new_int64 (id));
  g_menu_append_item (section, item);
  g_menu_append_section (menu, NULL, G_MENU_MODEL (section));

  if (!gtk_widget_translate_coordinates (list_row, GTK_WIDGET (self->class_list), x, y, &lx, &ly))
    lx = ly = 0;
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->class_popover), G_MENU_MODEL (menu));
  gtk_popover_set_pointing_to (GTK_POPOVER (self->class_popover), &(GdkRectangle) { (int) lx, (int) ly, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->class_popover));
}

/* The widget with the keyboard focus, when it is inside ancestor. */
static GtkWidget *
focus_inside (GtkWidget *ancestor)
{
  GtkRoot *root = gtk_widget_get_root (ancestor);
  GtkWidget *focus = root != NULL ? gtk_root_get_focus (root) : NULL;

  return focus != NULL && (focus == ancestor || gtk_widget_is_ancestor (focus, ancestor)) ? focus : NULL;
}

/* Menu or Shift+F10 on the class list: the focused row's menu. */
static gboolean
on_class_menu_key (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (user_data);
  GtkWidget *focus = focus_inside (GTK_WIDGET (self->class_list));
  GtkWidget *list_row = focus != NULL ? gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_BOX_ROW) : NULL;

  if (list_row == NULL)
    list_row = GTK_WIDGET (gtk_list_box_get_selected_row (self->class_list));
  if (list_row == NULL)
    return FALSE;
  popup_class_menu (self, list_row, gtk_widget_get_width (list_row) / 2.0, gtk_widget_get_height (list_row) / 2.0);
  return TRUE;
}

/* Menu or Shift+F10 on the grid: the context menu at the focused image. */
static gboolean
on_grid_menu_key (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (user_data);
  GtkWidget *focus = focus_inside (GTK_WIDGET (self->grid_view));
  GtkWidget *cell = NULL;
  graphene_rect_t bounds;

  /* The focus is on the grid's child (GtkListItemWidget); the cell is inside it. */
  for (GtkWidget *w = focus; w != NULL && cell == NULL; w = gtk_widget_get_first_child (w))
    if (g_object_get_data (G_OBJECT (w), "graft-cell") != NULL)
      cell = w;
  if (cell == NULL || self->selection == NULL)
    return FALSE;
  {
    GtkListItem *list_item = g_object_get_data (G_OBJECT (cell), "graft-list-item");
    guint position = gtk_list_item_get_position (list_item);
    if (position != GTK_INVALID_LIST_POSITION
        && !gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->selection), position))
      gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), position, TRUE);
  }
  if (!gtk_widget_compute_bounds (cell, GTK_WIDGET (self->grid_view), &bounds))
    return FALSE;
  gtk_popover_set_pointing_to (GTK_POPOVER (self->context_popover),
                               &(GdkRectangle) { (int) (bounds.origin.x + bounds.size.width / 2),
                                                 (int) (bounds.origin.y + bounds.size.height / 2), 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->context_popover));
  return TRUE;
}

/* Counts the images of the three filters again (self->counts, which the header and the
 * empty state read too) and shows them in the sidebar. */
static void
update_filter_counts (GraftDataPage *self)
{
  const GraftImageFilter filters[] = { GRAFT_FILTER_ALL, GRAFT_FILTER_UNLABELLED, GRAFT_FILTER_SUGGESTED };

  for (guint i = 0; i < G_N_ELEMENTS (filters); i++)
    {
      g_autofree char *text = NULL;

      self->counts[i] = self->project != NULL ? graft_project_object_count_images (self->project, filters[i], 0) : 0;
      if (self->project != NULL)
        text = g_strdup_printf ("%'u", self->counts[i]);
      gtk_label_set_text (self->filter_counts[i], text != NULL ? text : "");
    }
}

/* Rebuilds the "Label As" menu: one item per class, its number key as accelerator. */
static void
update_label_menu (GraftDataPage *self)
{
  GListModel *classes = self->project != NULL ? graft_project_object_get_classes (self->project) : NULL;
  guint n = classes != NULL ? g_list_model_get_n_items (classes) : 0;

  g_menu_remove_all (self->label_menu);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) klass = g_list_model_get_item (classes, i);
      g_autoptr (GMenuItem) item = g_menu_item_new (graft_class_item_get_name (klass), NULL);
      g_menu_item_set_action_and_target_value (item, "data.label-class",
                                               g_variant_new_int64 (graft_class_item_get_id (klass)));
      if (graft_class_item_get_key (klass) > 0)
        {
          g_autofree char *accel = g_strdup_printf ("%d", graft_class_item_get_key (klass));
          g_menu_item_set_attribute (item, "accel", "s", accel);
        }
      g_menu_append_item (self->label_menu, item);
    }
  gtk_widget_set_visible (self->no_classes_label, n == 0);
}

/* The sidebar's selection follows the filter (set from code or by a click). */
static void
sync_sidebar (GraftDataPage *self)
{
  self->syncing_sidebar = TRUE;
  if (self->filter == GRAFT_FILTER_CLASS)
    {
      GtkListBoxRow *row = NULL;
      GListModel *classes = self->project != NULL ? graft_project_object_get_classes (self->project) : NULL;
      guint n = classes != NULL ? g_list_model_get_n_items (classes) : 0;

      gtk_list_box_unselect_all (self->filter_list);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (GraftClassItem) klass = g_list_model_get_item (classes, i);
          if (graft_class_item_get_id (klass) == self->filter_class)
            row = gtk_list_box_get_row_at_index (self->class_list, (int) i);
        }
      gtk_list_box_select_row (self->class_list, row);
    }
  else
    {
      int index = self->filter == GRAFT_FILTER_UNLABELLED ? FILTER_ROW_UNLABELLED
                  : self->filter == GRAFT_FILTER_SUGGESTED ? FILTER_ROW_SUGGESTED
                                                           : FILTER_ROW_ALL;
      gtk_list_box_unselect_all (self->class_list);
      gtk_list_box_select_row (self->filter_list, GTK_LIST_BOX_ROW (self->filter_rows[index]));
    }
  self->syncing_sidebar = FALSE;
}

static void
on_filter_row_selected (GtkListBox *box, GtkListBoxRow *row, gpointer user_data)
{
  GraftDataPage *self = user_data;
  int index;

  if (self->syncing_sidebar || row == NULL)
    return;
  index = gtk_list_box_row_get_index (row);
  graft_data_page_set_filter (self,
                              index == FILTER_ROW_UNLABELLED ? GRAFT_FILTER_UNLABELLED
                              : index == FILTER_ROW_SUGGESTED ? GRAFT_FILTER_SUGGESTED
                                                              : GRAFT_FILTER_ALL,
                              0);
}

static void
on_class_row_selected (GtkListBox *box, GtkListBoxRow *row, gpointer user_data)
{
  GraftDataPage *self = user_data;
  GraftClassItem *klass;

  if (self->syncing_sidebar || row == NULL)
    return;
  klass = graft_class_row_get_class (GTK_WIDGET (row));
  if (klass != NULL)
    graft_data_page_set_filter (self, GRAFT_FILTER_CLASS, graft_class_item_get_id (klass));
}

/* ------------------------------------------------------------------------ */
/* Header, empty states, selection bar                                       */

static void
update_empty_state (GraftDataPage *self)
{
  guint n = self->images != NULL ? g_list_model_get_n_items (self->images) : 0;
  const char *icon = "folder-pictures-symbolic", *title = NULL;
  g_autofree char *description = NULL;
  gboolean buttons = FALSE;

  if (n > 0)
    {
      gtk_stack_set_visible_child_name (self->content_stack, "grid");
      return;
    }
  if (self->project == NULL)
    {
      title = _("No Project Open");
      description = g_strdup (_("Open or create a project from the start screen."));
    }
  else if (self->counts[FILTER_ROW_ALL] == 0)
    {
      title = _("Add Images");
      description = g_strdup (_("Drop images or folders here, or import a folder with one subfolder of images per "
                                "class: the subfolders become the classes."));
      buttons = TRUE;
    }
  else
    switch (self->filter)
      {
      case GRAFT_FILTER_UNLABELLED:
        icon = "emblem-ok-symbolic";
        title = _("Every Image Is Labelled");
        description = g_strdup (_("Add more images to go on labelling."));
        break;
      case GRAFT_FILTER_SUGGESTED:
        icon = "semi-starred-symbolic";
        title = _("No Suggestions Yet");
        description = g_strdup (_("A model trained on your labels suggests classes for the unlabelled images. "
                                  "Label a few images of each class in Label Next to get suggestions."));
        break;
      case GRAFT_FILTER_CLASS:
        {
          GraftClassItem *klass = graft_project_object_find_class (self->project, self->filter_class);
          icon = "image-x-generic-symbolic";
          title = _("No Images in This Class");
          if (klass != NULL && graft_class_item_get_key (klass) > 0)
            description = g_strdup_printf (_("Select images in All Images or Unlabelled and press %d, or drag them "
                                             "onto “%s”."),
                                           graft_class_item_get_key (klass), graft_class_item_get_name (klass));
          else if (klass != NULL)
            description = g_strdup_printf (_("Select images in All Images or Unlabelled and drag them onto “%s”."),
                                           graft_class_item_get_name (klass));
          break;
        }
      default:
        title = _("No Images");
        break;
      }
  adw_status_page_set_icon_name (self->empty_status, icon);
  adw_status_page_set_title (self->empty_status, title);
  adw_status_page_set_description (self->empty_status, description);
  gtk_widget_set_visible (self->empty_buttons, buttons);
  gtk_stack_set_visible_child_name (self->content_stack, "empty");
}

static void
update_header (GraftDataPage *self)
{
  guint n = self->images != NULL ? g_list_model_get_n_items (self->images) : 0;
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  guint unlabelled = 0;

  switch (self->filter)
    {
    case GRAFT_FILTER_UNLABELLED:
      title = g_strdup (_("Unlabelled"));
      break;
    case GRAFT_FILTER_SUGGESTED:
      title = g_strdup (_("Suggested"));
      break;
    case GRAFT_FILTER_CLASS:
      {
        GraftClassItem *klass = self->project != NULL ? graft_project_object_find_class (self->project, self->filter_class)
                                                      : NULL;
        title = g_strdup (klass != NULL ? graft_class_item_get_name (klass) : "");
        break;
      }
    default:
      title = g_strdup (_("All Images"));
      break;
    }
  gtk_label_set_text (self->title_label, title);
  if (self->project != NULL)
    {
      guint all = self->counts[FILTER_ROW_ALL];
      unlabelled = self->counts[FILTER_ROW_UNLABELLED];
      if (self->filter == GRAFT_FILTER_ALL)
        subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u image, %'u labelled", "%'u images, %'u labelled",
                                                 all),
                                    all, all - unlabelled);
      else
        subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u image", "%'u images", n), n);
    }
  gtk_label_set_text (self->subtitle_label, subtitle != NULL ? subtitle : "");
  if (unlabelled > 0)
    gtk_widget_add_css_class (GTK_WIDGET (self->label_next_button), "suggested-action");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->label_next_button), "suggested-action");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.label-next", self->project != NULL);
  update_empty_state (self);
}

static void
update_selection_bar (GraftDataPage *self)
{
  g_autoptr (GtkBitset) selected = NULL;
  guint64 n = 0;
  gboolean any_suggestion = FALSE;

  if (self->selection != NULL)
    {
      selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
      n = gtk_bitset_get_size (selected);
    }
  if (n > 0)
    {
      g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u image selected",
                                                            "%'u images selected", (gulong) n),
                                               (guint) n);
      gtk_label_set_text (self->selection_label, text);
      /* Accepting suggestions is offered when some of the selection has one (checked on
       * the first 200, which is what a person can see anyway). */
      if (self->project != NULL)
        {
          GtkBitsetIter iter;
          guint position, seen = 0;
          for (gboolean ok = gtk_bitset_iter_init_first (&iter, selected, &position); ok && !any_suggestion && seen < 200;
               ok = gtk_bitset_iter_next (&iter, &position), seen++)
            {
              g_autoptr (GraftImageItem) item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);
              any_suggestion = item != NULL && graft_image_item_get_class_id (item) == 0
                               && graft_image_item_get_suggestion_id (item) != 0;
            }
        }
    }
  gtk_revealer_set_reveal_child (self->selection_revealer, n > 0);
  gtk_widget_set_visible (self->accept_button, any_suggestion);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.accept-suggestions", any_suggestion);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.remove-images", n > 0);
}

static void
on_selection_changed (GtkSelectionModel *model, guint position, guint n_items, gpointer user_data)
{
  update_selection_bar (GRAFT_DATA_PAGE (user_data));
}

static void
on_images_items_changed (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  GraftDataPage *self = user_data;

  update_selection_bar (self);
}

/* ------------------------------------------------------------------------ */
/* Filters                                                                   */

void
graft_data_page_set_filter (GraftDataPage *self, GraftImageFilter filter, gint64 class_id)
{
  g_autoptr (GListModel) images = NULL;

  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));

  if (filter != GRAFT_FILTER_CLASS)
    class_id = 0;
  self->filter = filter;
  self->filter_class = class_id;
  if (self->images != NULL)
    g_signal_handlers_disconnect_by_func (self->images, on_images_items_changed, self);
  g_clear_object (&self->images);
  if (self->project != NULL)
    {
      self->images = graft_project_object_list_images (self->project, filter, class_id);
      g_signal_connect (self->images, "items-changed", G_CALLBACK (on_images_items_changed), self);
    }
  gtk_multi_selection_set_model (self->selection, self->images);
  /* Another filter starts at its top. */
  if (self->images != NULL && g_list_model_get_n_items (self->images) > 0)
    gtk_widget_activate_action (GTK_WIDGET (self->grid_view), "list.scroll-to-item", "u", 0);
  sync_sidebar (self);
  update_header (self);
  update_selection_bar (self);
}

GraftImageFilter
graft_data_page_get_filter (GraftDataPage *self, gint64 *class_id)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), GRAFT_FILTER_ALL);
  if (class_id != NULL)
    *class_id = self->filter_class;
  return self->filter;
}

/* ------------------------------------------------------------------------ */
/* Project signals                                                           */

static void
update_undo_actions (GraftDataPage *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.undo",
                                 self->project != NULL && graft_project_object_get_can_undo (self->project));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.redo",
                                 self->project != NULL && graft_project_object_get_can_redo (self->project));
}

static void
on_project_undo_notify (GraftProjectObject *project, GParamSpec *pspec, gpointer user_data)
{
  update_undo_actions (GRAFT_DATA_PAGE (user_data));
}

static void
on_classes_changed (GraftProjectObject *project, gpointer user_data)
{
  GraftDataPage *self = user_data;

  update_class_css (self);
  update_label_menu (self);
  /* A class shown that is gone: back to all images. */
  if (self->filter == GRAFT_FILTER_CLASS && graft_project_object_find_class (project, self->filter_class) == NULL)
    graft_data_page_set_filter (self, GRAFT_FILTER_ALL, 0);
  else
    sync_sidebar (self);
  update_header (self);
}

static void
on_labels_or_images_changed (GraftProjectObject *project, gpointer user_data)
{
  GraftDataPage *self = user_data;

  update_filter_counts (self);
  update_header (self);
  update_selection_bar (self);
}

/* ------------------------------------------------------------------------ */
/* Imports                                                                   */

void
graft_data_page_show_import_report (GraftDataPage *self, const GraftImportReport *report)
{
  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  graft_import_report_present (toplevel (self), report);
}

static void
free_report_closure (gpointer data, GClosure *closure)
{
  graft_import_report_free (data);
}

static void
on_details_clicked (AdwToast *toast, gpointer user_data)
{
  GraftDataPage *self = g_object_get_data (G_OBJECT (toast), "graft-page");
  GraftImportReport *report = user_data;

  if (self != NULL)
    graft_data_page_show_import_report (self, report);
}

static void
set_importing (GraftDataPage *self, gboolean starting)
{
  if (starting)
    self->importing++;
  else if (self->importing > 0)
    self->importing--;
  gtk_widget_set_visible (self->import_progress, self->importing > 0);
  gtk_spinner_set_spinning (self->import_spinner, self->importing > 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMPORTING]);
}

static void
on_import_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GraftDataPage) self = user_data;
  g_autoptr (GError) error = NULL;
  GraftImportReport *report = graft_project_object_import_finish (GRAFT_PROJECT_OBJECT (source), result, &error);
  g_autofree char *summary = NULL;

  set_importing (self, FALSE);
  if (report == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        toast_error (self, _("Nothing was imported"), error);
      return;
    }
  summary = graft_import_report_summary (report);
  if (report->skipped != NULL && report->skipped->len > 0)
    {
      AdwToast *toast = adw_toast_new (summary);
      adw_toast_set_button_label (toast, _("_Details"));
      adw_toast_set_timeout (toast, 10);
      g_object_set_data (G_OBJECT (toast), "graft-page", self);
      g_signal_connect_data (toast, "button-clicked", G_CALLBACK (on_details_clicked), report, free_report_closure, 0);
      adw_toast_overlay_add_toast (self->toast_overlay, toast);
      report = NULL;
    }
  else
    toast (self, summary);
  g_clear_pointer (&report, graft_import_report_free);
}

static void
start_import (GraftDataPage *self, GraftImportKind kind, const char *const *paths, gint64 class_id)
{
  if (self->project == NULL || paths == NULL || paths[0] == NULL)
    return;
  set_importing (self, TRUE);
  graft_project_object_import_async (self->project, kind, paths, class_id, self->cancellable, on_import_done,
                                     g_object_ref (self));
}

void
graft_data_page_import_files (GraftDataPage *self, const char *const *paths, gint64 class_id)
{
  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  start_import (self, GRAFT_IMPORT_KIND_FILES, paths, class_id);
}

/* Files dropped on the page or on a class: the ones on this computer are imported. */
static gboolean
import_dropped_files (GraftDataPage *self, GSList *files, gint64 class_id)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (GSList *l = files; l != NULL; l = l->next)
    {
      char *path = g_file_get_path (l->data);
      if (path != NULL)
        g_ptr_array_add (paths, path);
    }
  if (paths->len == 0)
    return FALSE;
  g_ptr_array_add (paths, NULL);
  graft_data_page_import_files (self, (const char *const *) paths->pdata, class_id);
  return TRUE;
}

gboolean
graft_data_page_get_importing (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), FALSE);
  return self->importing > 0;
}

static void
on_chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  GraftDataPage *self = user_data;
  GraftImportKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "graft-import-kind"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_auto (GStrv) paths = graft_import_chooser_get_paths (GTK_FILE_CHOOSER (dialog));
      start_import (self, kind, (const char *const *) paths, 0);
    }
  g_clear_object (&self->chooser);
}

static void
import_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftImportKind kind;

  if (self->project == NULL)
    return;
  g_clear_object (&self->chooser);
  self->chooser = graft_import_chooser_new (toplevel (self), g_variant_get_string (parameter, NULL), &kind);
  g_object_set_data (G_OBJECT (self->chooser), "graft-import-kind", GINT_TO_POINTER (kind));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* ------------------------------------------------------------------------ */
/* Export                                                                    */

static void
on_export_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GraftDataPage) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = graft_data_export_finish (result, &error);

  self->exporting = FALSE;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export", self->project != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export-to", self->project != NULL);
  if (message == NULL)
    toast_error (self, _("Nothing was exported"), error);
  else
    toast (self, message);
}

static void
start_export (GraftDataPage *self, GraftDataExportFormat format, const char *dest)
{
  if (self->project == NULL || self->exporting)
    return;
  self->exporting = TRUE;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export-to", FALSE);
  graft_data_export_start (self->project, format, dest, on_export_done, g_object_ref (self));
}

static void
on_export_chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  GraftDataPage *self = user_data;
  GraftDataExportFormat format = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "graft-export-format"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        start_export (self, format, path);
    }
  g_clear_object (&self->chooser);
}

/* "data.export" ("image-folder", "image-folder-by-split" or "csv"): asks where. */
static void
export_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftDataExportFormat format;

  if (self->project == NULL || !graft_data_export_format_from_string (g_variant_get_string (parameter, NULL), &format))
    return;
  g_clear_object (&self->chooser);
  if (format == GRAFT_DATA_EXPORT_CSV)
    {
      g_autofree char *name = graft_project_object_get_name (self->project);
      g_autofree char *file_name = g_strdup_printf ("%s.csv", name);
      g_autoptr (GtkFileFilter) csv = gtk_file_filter_new ();

      self->chooser = gtk_file_chooser_native_new (_("Export a CSV Table"), toplevel (self),
                                                   GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), file_name);
      gtk_file_filter_set_name (csv, _("CSV Tables"));
      gtk_file_filter_add_mime_type (csv, "text/csv");
      gtk_file_filter_add_suffix (csv, "csv");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), csv);
    }
  else
    self->chooser = gtk_file_chooser_native_new (format == GRAFT_DATA_EXPORT_IMAGE_FOLDER_BY_SPLIT
                                                   ? _("Export Class Folders by Split")
                                                   : _("Export Class Folders"),
                                                 toplevel (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                 _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_object_set_data (G_OBJECT (self->chooser), "graft-export-format", GINT_TO_POINTER (format));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_export_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* "data.export-to" (format, destination): exports without asking (tests, scripts). */
static void
export_to_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  const char *what, *dest;
  GraftDataExportFormat format;

  g_variant_get (parameter, "(&s&s)", &what, &dest);
  if (dest[0] != '\0' && graft_data_export_format_from_string (what, &format))
    start_export (self, format, dest);
}

static gboolean
on_page_drop (GtkDropTarget *target, const GValue *value, double x, double y, gpointer user_data)
{
  GraftDataPage *self = user_data;

  if (self->project == NULL || !G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  return import_dropped_files (self, g_value_get_boxed (value), 0);
}

/* ------------------------------------------------------------------------ */
/* Class dialogs                                                             */

static GraftClassItem *
class_from_parameter (GraftDataPage *self, GVariant *parameter)
{
  return self->project != NULL ? graft_project_object_find_class (self->project, g_variant_get_int64 (parameter))
                               : NULL;
}

static void
add_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);

  if (self->project != NULL)
    graft_class_dialogs_add (widget, self->project);
}

static void
rename_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftClassItem *klass = class_from_parameter (self, parameter);

  if (klass != NULL)
    graft_class_dialogs_rename (widget, self->project, klass);
}

static void
recolour_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftClassItem *klass = class_from_parameter (self, parameter);

  if (klass != NULL)
    graft_class_dialogs_recolour (widget, self->project, klass);
}

static void
merge_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftClassItem *klass = class_from_parameter (self, parameter);

  if (klass != NULL)
    graft_class_dialogs_merge (widget, self->project, klass);
}

static void
on_undo_toast_clicked (AdwToast *toast, gpointer user_data)
{
  GraftDataPage *self = user_data;

  gtk_widget_activate_action (GTK_WIDGET (self), "data.undo", NULL);
}

/* A class deleted: a toast whose button undoes it. */
static void
on_class_deleted (GtkWidget *widget, const char *name)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  g_autofree char *title = g_strdup_printf (_("“%s” deleted"), name);
  AdwToast *toast = adw_toast_new (title);

  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (on_undo_toast_clicked), self, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
delete_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  GraftClassItem *klass = class_from_parameter (self, parameter);

  if (klass != NULL)
    graft_class_dialogs_delete (widget, self->project, klass, on_class_deleted);
}

/* ------------------------------------------------------------------------ */
/* Other actions                                                             */

static void
label_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  int key = g_variant_get_int32 (parameter);
  GraftClassItem *klass;

  if (self->project == NULL)
    return;
  if (key == 0)
    {
      label_selection (self, 0);
      return;
    }
  klass = graft_project_object_get_class_for_key (self->project, key);
  if (klass == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("No class has the key %d"), key);
      toast (self, message);
      return;
    }
  label_selection (self, graft_class_item_get_id (klass));
}

static void
label_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  label_selection (GRAFT_DATA_PAGE (widget), g_variant_get_int64 (parameter));
}

static void
accept_suggestions_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  g_autoptr (GArray) ids = selected_ids (self);
  g_autoptr (GError) error = NULL;
  guint accepted = 0, position = first_selected_position (self);

  if (self->project == NULL || ids->len == 0)
    return;
  if (!graft_project_object_accept_suggestions (self->project, (const gint64 *) (gpointer) ids->data, ids->len,
                                                &accepted, &error))
    {
      toast_error (self, _("Could not accept the suggestions"), error);
      return;
    }
  advance_selection (self, position, ids->len);
}

static void
remove_images_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  g_autoptr (GArray) ids = selected_ids (self);
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  AdwToast *toast;

  if (self->project == NULL || ids->len == 0)
    return;
  if (!graft_project_object_remove_images (self->project, (const gint64 *) (gpointer) ids->data, ids->len, &error))
    {
      toast_error (self, _("Could not remove the images"), error);
      return;
    }
  title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image removed from the project",
                                        "%u images removed from the project", ids->len),
                           ids->len);
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _("_Undo"));
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (on_undo_toast_clicked), self, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
undo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  g_autoptr (GError) error = NULL;

  if (self->project == NULL || !graft_project_object_get_can_undo (self->project))
    return;
  if (!graft_project_object_undo (self->project, &error))
    toast_error (self, _("Could not undo"), error);
}

static void
redo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);
  g_autoptr (GError) error = NULL;

  if (self->project == NULL || !graft_project_object_get_can_redo (self->project))
    return;
  if (!graft_project_object_redo (self->project, &error))
    toast_error (self, _("Could not redo"), error);
}

static void
label_next_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);

  if (self->project == NULL)
    return;
  graft_label_next_restart (self->label_next);
  gtk_stack_set_visible_child_name (self->mode_stack, "label-next");
  gtk_widget_grab_focus (GTK_WIDGET (self->label_next));
}

static void
show_grid_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (widget);

  gtk_stack_set_visible_child_name (self->mode_stack, "grid");
  gtk_widget_grab_focus (GTK_WIDGET (self->grid_view));
}

static void
on_label_next_done (GraftLabelNext *label_next, gpointer user_data)
{
  show_grid_action (GTK_WIDGET (user_data), NULL, NULL);
}

static void
on_label_next_toast (GraftLabelNext *label_next, const char *message, gpointer user_data)
{
  toast (GRAFT_DATA_PAGE (user_data), message);
}

/* ------------------------------------------------------------------------ */
/* Properties                                                                */

GraftProjectObject *
graft_data_page_get_project (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return self->project;
}

void
graft_data_page_set_project (GraftDataPage *self, GraftProjectObject *project)
{
  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  g_return_if_fail (project == NULL || GRAFT_IS_PROJECT_OBJECT (project));

  if (self->project == project)
    return;
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  apply_project (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROJECT]);
}

/* Shows self->project (NULL: none). */
static void
apply_project (GraftDataPage *self)
{
  GraftProjectObject *project = self->project;

  if (project != NULL)
    {
      g_signal_connect (project, "classes-changed", G_CALLBACK (on_classes_changed), self);
      g_signal_connect (project, "labels-changed", G_CALLBACK (on_labels_or_images_changed), self);
      g_signal_connect (project, "images-changed", G_CALLBACK (on_labels_or_images_changed), self);
      g_signal_connect (project, "notify::can-undo", G_CALLBACK (on_project_undo_notify), self);
      g_signal_connect (project, "notify::can-redo", G_CALLBACK (on_project_undo_notify), self);
      if (self->session != NULL && graft_project_object_get_session (project) == NULL)
        graft_project_object_set_session (project, self->session);
    }
  gtk_list_box_bind_model (self->class_list, project != NULL ? graft_project_object_get_classes (project) : NULL,
                           create_class_row, self, NULL);
  graft_label_next_set_project (self->label_next, project);
  update_class_css (self);
  update_label_menu (self);
  update_filter_counts (self);
  update_undo_actions (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.import", project != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export", project != NULL && !self->exporting);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.export-to", project != NULL && !self->exporting);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "data.add-class", project != NULL);
  gtk_stack_set_visible_child_name (self->mode_stack, "grid");
  graft_data_page_set_filter (self, GRAFT_FILTER_ALL, 0);
}

GraftSession *
graft_data_page_get_session (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return self->session;
}

void
graft_data_page_set_session (GraftDataPage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_DATA_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (!g_set_object (&self->session, session))
    return;
  if (session != NULL && self->project != NULL && graft_project_object_get_session (self->project) == NULL)
    graft_project_object_set_session (self->project, session);
  graft_label_next_set_session (self->label_next, session);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GtkSelectionModel *
graft_data_page_get_selection (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return GTK_SELECTION_MODEL (self->selection);
}

GtkGridView *
graft_data_page_get_grid_view (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return self->grid_view;
}

GraftLabelNext *
graft_data_page_get_label_next (GraftDataPage *self)
{
  g_return_val_if_fail (GRAFT_IS_DATA_PAGE (self), NULL);
  return self->label_next;
}

static void
graft_data_page_dispose (GObject *object)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->project != NULL)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->images != NULL)
    g_signal_handlers_disconnect_by_func (self->images, on_images_items_changed, self);
  if (self->class_list != NULL)
    gtk_list_box_bind_model (self->class_list, NULL, NULL, NULL, NULL);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_clear_pointer (&self->context_popover, gtk_widget_unparent);
  g_clear_pointer (&self->class_popover, gtk_widget_unparent);
  if (self->class_css != NULL)
    gtk_style_context_remove_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->class_css));
  g_clear_object (&self->class_css);
  /* The toast overlay is both AdwBin's child and a bound template child: AdwBin lets go
   * of it first, so that dispose_template's unparent is the only one. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_DATA_PAGE);
  g_clear_object (&self->selection);
  g_clear_object (&self->images);
  g_clear_object (&self->project);
  g_clear_object (&self->session);
  g_clear_object (&self->label_menu);
  g_clear_object (&self->context_menu);

  G_OBJECT_CLASS (graft_data_page_parent_class)->dispose (object);
}

static void
graft_data_page_finalize (GObject *object)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (graft_data_page_parent_class)->finalize (object);
}

static void
graft_data_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (object);

  switch (prop_id)
    {
    case PROP_PROJECT: g_value_set_object (value, self->project); break;
    case PROP_SESSION: g_value_set_object (value, self->session); break;
    case PROP_IMPORTING: g_value_set_boolean (value, self->importing > 0); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_data_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftDataPage *self = GRAFT_DATA_PAGE (object);

  switch (prop_id)
    {
    case PROP_PROJECT: graft_data_page_set_project (self, g_value_get_object (value)); break;
    case PROP_SESSION: graft_data_page_set_session (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_data_page_class_init (GraftDataPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_data_page_dispose;
  object_class->finalize = graft_data_page_finalize;
  object_class->get_property = graft_data_page_get_property;
  object_class->set_property = graft_data_page_set_property;

  properties[PROP_PROJECT] = g_param_spec_object ("project", NULL, NULL, GRAFT_TYPE_PROJECT_OBJECT,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_IMPORTING] = g_param_spec_boolean ("importing", NULL, NULL, FALSE,
                                                     G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftDataPage::toast:
   * @message: what to tell the person, in plain words
   */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (GRAFT_TYPE_LABEL_NEXT);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-data-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, mode_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, filter_list);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, class_list);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, no_classes_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, import_progress);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, import_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, import_button);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, label_next_button);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, content_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, grid_view);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, empty_status);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, empty_buttons);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, selection_revealer);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, selection_label);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, accept_button);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, label_as_button);
  gtk_widget_class_bind_template_child (widget_class, GraftDataPage, label_next);

  gtk_widget_class_install_action (widget_class, "data.label", "i", label_action);
  gtk_widget_class_install_action (widget_class, "data.label-class", "x", label_class_action);
  gtk_widget_class_install_action (widget_class, "data.accept-suggestions", NULL, accept_suggestions_action);
  gtk_widget_class_install_action (widget_class, "data.remove-images", NULL, remove_images_action);
  gtk_widget_class_install_action (widget_class, "data.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "data.redo", NULL, redo_action);
  gtk_widget_class_install_action (widget_class, "data.import", "s", import_action);
  gtk_widget_class_install_action (widget_class, "data.export", "s", export_action);
  gtk_widget_class_install_action (widget_class, "data.export-to", "(ss)", export_to_action);
  gtk_widget_class_install_action (widget_class, "data.add-class", NULL, add_class_action);
  gtk_widget_class_install_action (widget_class, "data.rename-class", "x", rename_class_action);
  gtk_widget_class_install_action (widget_class, "data.recolour-class", "x", recolour_class_action);
  gtk_widget_class_install_action (widget_class, "data.merge-class", "x", merge_class_action);
  gtk_widget_class_install_action (widget_class, "data.delete-class", "x", delete_class_action);
  gtk_widget_class_install_action (widget_class, "data.label-next", NULL, label_next_action);
  gtk_widget_class_install_action (widget_class, "data.show-grid", NULL, show_grid_action);

  for (int key = 0; key <= 9; key++)
    {
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0 + key, 0, "data.label", "i", key);
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_0 + key, 0, "data.label", "i", key);
    }
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_BackSpace, 0, "data.label", "i", 0);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "data.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "data.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "data.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "data.remove-images", NULL);

}

static void
graft_data_page_init (GraftDataPage *self)
{
  GtkListItemFactory *factory;
  GtkDropTarget *drop;
  g_autoptr (GMenu) section = NULL;

  graft_data_page_ensure_style ();
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_add_css_class (GTK_WIDGET (self), "graft-data-page");
  self->cancellable = g_cancellable_new ();

  self->class_css = gtk_css_provider_new ();
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->class_css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  /* The filters. */
  self->filter_rows[FILTER_ROW_ALL] = make_filter_row ("image-x-generic-symbolic", _("All Images"),
                                                       &self->filter_counts[FILTER_ROW_ALL]);
  self->filter_rows[FILTER_ROW_UNLABELLED] = make_filter_row ("checkbox-symbolic", _("Unlabelled"),
                                                              &self->filter_counts[FILTER_ROW_UNLABELLED]);
  self->filter_rows[FILTER_ROW_SUGGESTED] = make_filter_row ("semi-starred-symbolic", _("Suggested"),
                                                             &self->filter_counts[FILTER_ROW_SUGGESTED]);
  for (guint i = 0; i < G_N_ELEMENTS (self->filter_rows); i++)
    gtk_list_box_append (self->filter_list, self->filter_rows[i]);
  g_signal_connect (self->filter_list, "row-selected", G_CALLBACK (on_filter_row_selected), self);
  g_signal_connect (self->class_list, "row-selected", G_CALLBACK (on_class_row_selected), self);

  /* The grid. */
  self->selection = gtk_multi_selection_new (NULL);
  g_signal_connect (self->selection, "selection-changed", G_CALLBACK (on_selection_changed), self);
  factory = graft_image_cell_factory_new (&cell_host, self);
  gtk_grid_view_set_factory (self->grid_view, factory);
  g_object_unref (factory);
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (self->selection));

  /* Menus: "Label As" (the selection bar and the context menu). */
  self->label_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (self->label_as_button, G_MENU_MODEL (self->label_menu));
  self->context_menu = g_menu_new ();
  g_menu_append_submenu (self->context_menu, _("Label _As"), G_MENU_MODEL (self->label_menu));
  {
    g_autoptr (GMenuItem) item = g_menu_item_new (_("C_lear Label"), NULL);
    g_menu_item_set_action_and_target_value (item, "data.label", g_variant_new_int32 (0));
    g_menu_item_set_attribute (item, "accel", "s", "0");
    g_menu_append_item (self->context_menu, item);
  }
  g_menu_append (self->context_menu, _("_Accept Suggestions"), "data.accept-suggestions");
  section = g_menu_new ();
  {
    g_autoptr (GMenuItem) item = g_menu_item_new (_("_Remove From Project"), "data.remove-images");
    g_menu_item_set_attribute (item, "accel", "s", "Delete");
    g_menu_append_item (section, item);
  }
  g_menu_append_section (self->context_menu, NULL, G_MENU_MODEL (section));
  self->context_popover = gtk_popover_menu_new_from_model (G_MENU_MODEL (self->context_menu));
  gtk_popover_set_has_arrow (GTK_POPOVER (self->context_popover), FALSE);
  gtk_widget_set_halign (self->context_popover, GTK_ALIGN_START);
  gtk_widget_set_parent (self->context_popover, GTK_WIDGET (self->grid_view));

  self->class_popover = gtk_popover_menu_new_from_model (NULL);
  gtk_popover_set_has_arrow (GTK_POPOVER (self->class_popover), FALSE);
  gtk_widget_set_halign (self->class_popover, GTK_ALIGN_START);
  gtk_widget_set_parent (self->class_popover, GTK_WIDGET (self->class_list));

  /* The context menus from the keyboard too. */
  {
    GtkEventController *keys = gtk_shortcut_controller_new ();
    GtkShortcutTrigger *trigger = gtk_alternative_trigger_new (gtk_keyval_trigger_new (GDK_KEY_Menu, 0),
                                                               gtk_keyval_trigger_new (GDK_KEY_F10, GDK_SHIFT_MASK));
    gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
                                          gtk_shortcut_new (trigger, gtk_callback_action_new (on_grid_menu_key, self, NULL)));
    gtk_widget_add_controller (GTK_WIDGET (self->grid_view), keys);
    keys = gtk_shortcut_controller_new ();
    trigger = gtk_alternative_trigger_new (gtk_keyval_trigger_new (GDK_KEY_Menu, 0),
                                           gtk_keyval_trigger_new (GDK_KEY_F10, GDK_SHIFT_MASK));
    gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
                                          gtk_shortcut_new (trigger, gtk_callback_action_new (on_class_menu_key, self, NULL)));
    gtk_widget_add_controller (GTK_WIDGET (self->class_list), keys);
  }

  /* Files dropped anywhere on the page are imported. */
  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_page_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  g_signal_connect (self->label_next, "done", G_CALLBACK (on_label_next_done), self);
  g_signal_connect (self->label_next, "toast", G_CALLBACK (on_label_next_toast), self);

  apply_project (self);
  update_undo_actions (self);
  update_selection_bar (self);
}

GtkWidget *
graft_data_page_new (void)
{
  return g_object_new (GRAFT_TYPE_DATA_PAGE, NULL);
}
