/* graft-import-report.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-import-report.h"

#include <glib/gi18n.h>

const char *
graft_import_skip_reason_text (GraftSkipReason reason)
{
  switch (reason)
    {
    case GRAFT_SKIP_UNREADABLE: return _("Could not be read");
    case GRAFT_SKIP_NOT_AN_IMAGE: return _("Not an image");
    case GRAFT_SKIP_UNSUPPORTED: return _("An image format Graft does not read");
    case GRAFT_SKIP_DUPLICATE: return _("Already in the project");
    case GRAFT_SKIP_BAD_ROW: return _("A CSV row without a file");
    case GRAFT_SKIP_NOT_A_FILE: return _("Not a file");
    case GRAFT_SKIP_LOOP: return _("A link back to a folder already read");
    case GRAFT_SKIP_UNSAFE_NAME: return _("A name outside the archive's folder");
    default: return graft_skip_reason_to_string (reason);
    }
}

void
graft_import_report_present (GtkWindow *parent, const GraftImportReport *report)
{
  g_autofree char *summary = graft_import_report_summary (report);
  GtkWidget *dialog, *scroller, *list;
  guint skipped = report->skipped != NULL ? report->skipped->len : 0;
  g_autofree char *heading = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u File Skipped", "%u Files Skipped",
                                                           skipped),
                                              skipped);

  dialog = adw_message_dialog_new (parent, heading, summary);
  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  for (guint i = 0; i < skipped && i < 500; i++)
    {
      const GraftImportSkip *skip = &g_array_index (report->skipped, GraftImportSkip, i);
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *name = g_path_get_basename (skip->path);
      g_autofree char *display = g_filename_display_name (name);
      g_autofree char *reason = NULL;

      if (skip->detail != NULL && skip->detail[0] != '\0')
        /* Translators: why a file was skipped, then the details (in English, from the store). */
        reason = g_strdup_printf (_("%s (%s)"), graft_import_skip_reason_text (skip->reason), skip->detail);
      else
        reason = g_strdup (graft_import_skip_reason_text (skip->reason));
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), display);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), reason);
      gtk_widget_set_tooltip_text (row, skip->path);
      gtk_list_box_append (GTK_LIST_BOX (list), row);
    }
  if (skipped > 500)
    {
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *more = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "and %u more", "and %u more", skipped - 500),
                                                 skipped - 500);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), more);
      gtk_list_box_append (GTK_LIST_BOX (list), row);
    }
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 360);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), scroller);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_set_default_size (GTK_WINDOW (dialog), 480, -1);
  gtk_window_present (GTK_WINDOW (dialog));
}

GtkFileChooserNative *
graft_import_chooser_new (GtkWindow *parent, const char *what, GraftImportKind *kind)
{
  GtkFileChooserAction action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER;
  GtkFileChooserNative *chooser;
  const char *title;
  gboolean multiple = FALSE;

  if (g_str_equal (what, "folder"))
    *kind = GRAFT_IMPORT_KIND_FOLDER, title = _("Import a Folder of Images");
  else if (g_str_equal (what, "image-folder"))
    *kind = GRAFT_IMPORT_KIND_IMAGE_FOLDER, title = _("Import Class Folders");
  else if (g_str_equal (what, "csv"))
    *kind = GRAFT_IMPORT_KIND_CSV, title = _("Import a CSV Table"), action = GTK_FILE_CHOOSER_ACTION_OPEN;
  else if (g_str_equal (what, "teachable-machine"))
    *kind = GRAFT_IMPORT_KIND_TEACHABLE_MACHINE, title = _("Import a Teachable Machine Project"),
    action = GTK_FILE_CHOOSER_ACTION_OPEN;
  else
    *kind = GRAFT_IMPORT_KIND_FILES, title = _("Add Images"), action = GTK_FILE_CHOOSER_ACTION_OPEN, multiple = TRUE;

  chooser = gtk_file_chooser_native_new (title, parent, action, _("_Import"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), multiple);
  if (*kind == GRAFT_IMPORT_KIND_CSV)
    {
      g_autoptr (GtkFileFilter) csv = gtk_file_filter_new ();
      g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();
      gtk_file_filter_set_name (csv, _("CSV Tables"));
      gtk_file_filter_add_mime_type (csv, "text/csv");
      gtk_file_filter_add_suffix (csv, "csv");
      gtk_file_filter_set_name (all, _("All Files"));
      gtk_file_filter_add_pattern (all, "*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), csv);
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all);
    }
  else if (*kind == GRAFT_IMPORT_KIND_TEACHABLE_MACHINE)
    {
      g_autoptr (GtkFileFilter) archives = gtk_file_filter_new ();
      gtk_file_filter_set_name (archives, _("Teachable Machine Projects and ZIP Archives"));
      gtk_file_filter_add_suffix (archives, "tm");
      gtk_file_filter_add_suffix (archives, "zip");
      gtk_file_filter_add_mime_type (archives, "application/zip");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), archives);
    }
  else if (*kind == GRAFT_IMPORT_KIND_FILES)
    {
      g_autoptr (GtkFileFilter) images = gtk_file_filter_new ();
      gtk_file_filter_set_name (images, _("PNG and JPEG Images"));
      gtk_file_filter_add_mime_type (images, "image/png");
      gtk_file_filter_add_mime_type (images, "image/jpeg");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
    }
  return chooser;
}

char **
graft_import_chooser_get_paths (GtkFileChooser *chooser)
{
  g_autoptr (GListModel) files = gtk_file_chooser_get_files (chooser);
  GPtrArray *paths = g_ptr_array_new ();
  guint n = g_list_model_get_n_items (files);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GFile) file = g_list_model_get_item (files, i);
      char *path = g_file_get_path (file);
      if (path != NULL)
        g_ptr_array_add (paths, path);
    }
  g_ptr_array_add (paths, NULL);
  return (char **) g_ptr_array_free (paths, FALSE);
}
