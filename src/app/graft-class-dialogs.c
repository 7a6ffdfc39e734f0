/* graft-class-dialogs.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-class-dialogs.h"

#include <glib/gi18n.h>

/* The store's palette (Tableau 10), then two more. */
const char *const graft_class_palette[GRAFT_CLASS_PALETTE_SIZE] = {
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1a5fb4", "#3d3846",
};
static const char *const swatch_names[GRAFT_CLASS_PALETTE_SIZE] = {
  N_("Blue"), N_("Orange"), N_("Red"), N_("Teal"), N_("Green"), N_("Yellow"),
  N_("Purple"), N_("Pink"), N_("Brown"), N_("Grey"), N_("Dark Blue"), N_("Dark Grey"),
};

static void
toast (GtkWidget *owner, const char *message)
{
  g_signal_emit_by_name (owner, "toast", message);
}

static void
toast_error (GtkWidget *owner, const char *what, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);
  toast (owner, message);
}

static GtkWindow *
toplevel (GtkWidget *owner)
{
  GtkRoot *root = gtk_widget_get_root (owner);
  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

typedef struct {
  GtkWidget *owner;
  GraftProjectObject *project;
  GraftClassDeleted deleted;
  gint64 class_id;
  GtkWidget *entry;
  GtkWidget *dropdown;
  GArray *targets;    /* gint64 class ids of the dropdown's rows */
} DialogData;

static void
dialog_data_free (gpointer data)
{
  DialogData *dialog = data;
  g_clear_pointer (&dialog->targets, g_array_unref);
  g_object_unref (dialog->owner);
  g_object_unref (dialog->project);
  g_free (dialog);
}

static void
on_entry_changed (GtkEditable *editable, AdwMessageDialog *dialog)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (editable)));
  adw_message_dialog_set_response_enabled (dialog, "ok", text[0] != '\0');
}

static GtkWidget *
name_dialog (GtkWidget *owner, const char *heading, const char *ok_label, const char *text, DialogData *data)
{
  GtkWidget *dialog = adw_message_dialog_new (toplevel (owner), heading, NULL);

  data->entry = gtk_entry_new ();
  gtk_entry_set_activates_default (GTK_ENTRY (data->entry), TRUE);
  gtk_editable_set_text (GTK_EDITABLE (data->entry), text != NULL ? text : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (data->entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Class name"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), data->entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "ok", ok_label, NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "ok", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "ok");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (data->entry, "changed", G_CALLBACK (on_entry_changed), dialog);
  on_entry_changed (GTK_EDITABLE (data->entry), ADW_MESSAGE_DIALOG (dialog));
  g_object_set_data_full (G_OBJECT (dialog), "graft-dialog", data, dialog_data_free);
  return dialog;
}

/* A class could not take name: taken already, or what (then why). */
static void
toast_name_error (GtkWidget *owner, const char *name, const char *what, const GError *error)
{
  if (g_error_matches (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS))
    {
      g_autofree char *message = g_strdup_printf (_("There is already a class called “%s”"), name);
      toast (owner, message);
    }
  else
    toast_error (owner, what, error);
}

static void
on_add_class_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  DialogData *data = g_object_get_data (G_OBJECT (dialog), "graft-dialog");
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;
  gint64 id;

  if (!g_str_equal (response, "ok") || data->project == NULL)
    return;
  name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (data->entry))));
  id = graft_project_object_add_class (data->project, name, NULL, &error);
  if (id == 0)
    toast_name_error (data->owner, name, _("Could not add the class"), error);
}

void
graft_class_dialogs_add (GtkWidget *owner, GraftProjectObject *project)
{
  DialogData *data = g_new0 (DialogData, 1);
  GtkWidget *dialog;

  data->owner = g_object_ref (owner);
  data->project = g_object_ref (project);
  dialog = name_dialog (owner, _("New Class"), _("_Add"), NULL, data);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog),
                               _("Images labelled with it teach the model what it looks like."));
  g_signal_connect (dialog, "response", G_CALLBACK (on_add_class_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_rename_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  DialogData *data = g_object_get_data (G_OBJECT (dialog), "graft-dialog");
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;

  if (!g_str_equal (response, "ok") || data->project == NULL)
    return;
  name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (data->entry))));
  if (!graft_project_object_rename_class (data->project, data->class_id, name, &error))
    toast_name_error (data->owner, name, _("Could not rename the class"), error);
}

void
graft_class_dialogs_rename (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass)
{
  DialogData *data;
  GtkWidget *dialog;

  data = g_new0 (DialogData, 1);
  data->owner = g_object_ref (owner);
  data->project = g_object_ref (project);
  data->class_id = graft_class_item_get_id (klass);
  dialog = name_dialog (owner, _("Rename Class"), _("_Rename"), graft_class_item_get_name (klass), data);
  g_signal_connect (dialog, "response", G_CALLBACK (on_rename_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_swatch_clicked (GtkButton *button, gpointer user_data)
{
  AdwMessageDialog *dialog = user_data;
  DialogData *data = g_object_get_data (G_OBJECT (dialog), "graft-dialog");
  const char *colour = g_object_get_data (G_OBJECT (button), "graft-colour");
  g_autoptr (GError) error = NULL;

  if (data->project != NULL
      && !graft_project_object_recolour_class (data->project, data->class_id, colour, &error))
    toast_error (data->owner, _("Could not change the colour"), error);
  gtk_window_close (GTK_WINDOW (dialog));
}

void
graft_class_dialogs_recolour (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass)
{
  g_autofree char *heading = NULL;
  DialogData *data;
  GtkWidget *dialog, *grid;

  data = g_new0 (DialogData, 1);
  data->owner = g_object_ref (owner);
  data->project = g_object_ref (project);
  data->class_id = graft_class_item_get_id (klass);
  heading = g_strdup_printf (_("Colour of “%s”"), graft_class_item_get_name (klass));
  dialog = adw_message_dialog_new (toplevel (owner), heading, _("Its labels and suggestions are drawn in it."));
  g_object_set_data_full (G_OBJECT (dialog), "graft-dialog", data, dialog_data_free);
  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
  gtk_widget_set_halign (grid, GTK_ALIGN_CENTER);
  for (guint i = 0; i < GRAFT_CLASS_PALETTE_SIZE; i++)
    {
      GtkWidget *button = gtk_button_new ();
      GtkWidget *swatch = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
      g_autofree char *css_name = g_strdup_printf ("graft-palette-%u", i);
      GdkRGBA rgba;
      g_autofree char *tip = NULL;

      gtk_widget_add_css_class (swatch, "graft-swatch");
      gtk_widget_add_css_class (swatch, "graft-swatch-large");
      gtk_widget_add_css_class (swatch, css_name);
      gtk_button_set_child (GTK_BUTTON (button), swatch);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_add_css_class (button, "circular");
      gdk_rgba_parse (&rgba, graft_class_palette[i]);
      tip = g_strdup (_(swatch_names[i]));
      gtk_widget_set_tooltip_text (button, tip);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, tip, -1);
      if (g_ascii_strcasecmp (graft_class_palette[i], graft_class_item_get_colour (klass)) == 0)
        gtk_widget_add_css_class (button, "suggested-action");
      g_object_set_data (G_OBJECT (button), "graft-colour", (gpointer) graft_class_palette[i]);
      g_signal_connect (button, "clicked", G_CALLBACK (on_swatch_clicked), dialog);
      gtk_grid_attach (GTK_GRID (grid), button, (int) (i % 6), (int) (i / 6), 1, 1);
    }
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), grid);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"));
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_merge_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  DialogData *data = g_object_get_data (G_OBJECT (dialog), "graft-dialog");
  g_autoptr (GError) error = NULL;
  guint selected, moved = 0;
  gint64 target;

  if (!g_str_equal (response, "ok") || data->project == NULL)
    return;
  selected = gtk_drop_down_get_selected (GTK_DROP_DOWN (data->dropdown));
  if (selected >= data->targets->len)
    return;
  target = g_array_index (data->targets, gint64, selected);
  if (!graft_project_object_merge_classes (data->project, data->class_id, target, &moved, &error))
    toast_error (data->owner, _("Could not merge the classes"), error);
}

void
graft_class_dialogs_merge (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass)
{
  GListModel *classes;
  g_autoptr (GtkStringList) names = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  DialogData *data;
  GtkWidget *dialog;
  guint n;

  classes = graft_project_object_get_classes (project);
  n = g_list_model_get_n_items (classes);
  if (n < 2)
    {
      toast (owner, _("There is no other class to merge into"));
      return;
    }
  data = g_new0 (DialogData, 1);
  data->owner = g_object_ref (owner);
  data->project = g_object_ref (project);
  data->class_id = graft_class_item_get_id (klass);
  data->targets = g_array_new (FALSE, FALSE, sizeof (gint64));
  names = gtk_string_list_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) other = g_list_model_get_item (classes, i);
      gint64 id = graft_class_item_get_id (other);
      if (id == data->class_id)
        continue;
      gtk_string_list_append (names, graft_class_item_get_name (other));
      g_array_append_val (data->targets, id);
    }
  heading = g_strdup_printf (_("Merge “%s”"), graft_class_item_get_name (klass));
  body = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "Its %u image will be labelled with the class chosen below, and “%s” will be deleted.",
                                       "Its %u images will be labelled with the class chosen below, and “%s” will be deleted.",
                                       graft_class_item_get_count (klass)),
                          graft_class_item_get_count (klass), graft_class_item_get_name (klass));
  dialog = adw_message_dialog_new (toplevel (owner), heading, body);
  g_object_set_data_full (G_OBJECT (dialog), "graft-dialog", data, dialog_data_free);
  data->dropdown = gtk_drop_down_new (G_LIST_MODEL (g_object_ref (names)), NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (data->dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Merge into"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), data->dropdown);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "ok", _("_Merge"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "ok", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "ok");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_merge_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_delete_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  DialogData *data = g_object_get_data (G_OBJECT (dialog), "graft-dialog");

  g_autoptr (GError) error = NULL;
  GraftClassItem *klass;
  g_autofree char *name = NULL;
  guint removed = 0;

  if (!g_str_equal (response, "delete"))
    return;
  klass = graft_project_object_find_class (data->project, data->class_id);
  name = klass != NULL ? g_strdup (graft_class_item_get_name (klass)) : NULL;
  if (!graft_project_object_delete_class (data->project, data->class_id, &removed, &error))
    toast_error (data->owner, _("Could not delete the class"), error);
  else if (data->deleted != NULL)
    data->deleted (data->owner, name != NULL ? name : "");
}

void
graft_class_dialogs_delete (GtkWidget *owner, GraftProjectObject *project, GraftClassItem *klass,
                            GraftClassDeleted deleted)
{
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  DialogData *data;
  GtkWidget *dialog;
  guint count;

  count = graft_project_count_labels (graft_project_object_get_project (project),
                                      graft_class_item_get_id (klass), NULL);
  heading = g_strdup_printf (_("Delete “%s”?"), graft_class_item_get_name (klass));
  if (count > 0)
    body = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Its label goes with it: %u image becomes unlabelled. The image stays in "
                                         "the project, and Undo brings the class and its label back.",
                                         "Its labels go with it: %u images become unlabelled. The images stay in "
                                         "the project, and Undo brings the class and its labels back.",
                                         count),
                            count);
  else
    body = g_strdup (_("No image is labelled with it. Undo brings it back."));
  data = g_new0 (DialogData, 1);
  data->owner = g_object_ref (owner);
  data->project = g_object_ref (project);
  data->deleted = deleted;
  data->class_id = graft_class_item_get_id (klass);
  dialog = adw_message_dialog_new (toplevel (owner), heading, body);
  g_object_set_data_full (G_OBJECT (dialog), "graft-dialog", data, dialog_data_free);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "delete", _("_Delete"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_delete_response), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

