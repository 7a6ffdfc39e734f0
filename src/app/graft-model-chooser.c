/* graft-model-chooser.c: the "Choose a Model" dialog (see graft-model-chooser.h).
 *
 * The starter and import rows are in the template; the catalog's rows are made here,
 * one AdwPreferencesRow per entry, each with a CatalogRow: the entry, its widgets, its
 * state and its download. A CatalogRow is reference counted, because a download's or a
 * check's callback may come after the dialog is gone: the callback holds a reference,
 * and finds row->chooser NULL when the dialog was disposed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-model-chooser.h"

#include <glib/gi18n.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>

#include "catalog/catalog.h"
#include "catalog/download.h"
#include "graft-format.h"
#include "graft-freeze-map.h"
#include "graft-model-page.h"

typedef enum {
  ROW_CHECKING,     /* the file is there; its checksum is being checked */
  ROW_ABSENT,       /* not downloaded (maybe a .part to resume) */
  ROW_DOWNLOADING,
  ROW_FAILED,       /* the last download failed: message says why */
  ROW_DOWNLOADED,   /* verified */
  ROW_UNSUPPORTED,  /* Graft cannot run it: message says why */
} RowState;

typedef struct {
  GraftModelChooser *chooser;   /* NULL once the dialog is disposed */
  GraftCatalogEntry *entry;
  char *path;
  char *part_path;
  RowState state;
  GraftDownload *download;
  GCancellable *cancellable;    /* of the download or of the check */
  gulong progress_id;

  GtkWidget *row;
  GtkWidget *details;
  GtkWidget *progress_box;
  GtkWidget *progress_bar;
  GtkWidget *status;
  GtkWidget *message;
  GtkWidget *spinner;
  GtkWidget *action_button;     /* Download, Resume or Retry */
  GtkWidget *cancel_button;
  GtkWidget *use_button;
  GtkWidget *remove_button;
} CatalogRow;

struct _GraftModelChooser
{
  AdwWindow parent_instance;

  AdwPreferencesGroup *bundled_group;
  AdwPreferencesGroup *catalog_group;
  GtkWidget *starter_row;
  GtkWidget *starter_button;
  GtkWidget *starter_message;

  GraftCatalog *catalog;
  GPtrArray *rows;              /* CatalogRow *, one reference each */
};

G_DEFINE_FINAL_TYPE (GraftModelChooser, graft_model_chooser, ADW_TYPE_WINDOW)

enum { MODEL_CHOSEN, IMPORT_REQUESTED, TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void row_update (CatalogRow *row);

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */

static void
catalog_row_clear (CatalogRow *row)
{
  graft_catalog_entry_free (row->entry);
  g_free (row->path);
  g_free (row->part_path);
  if (row->download != NULL)
    g_clear_signal_handler (&row->progress_id, row->download);
  g_clear_object (&row->download);
  g_clear_object (&row->cancellable);
}

static CatalogRow *
catalog_row_ref (CatalogRow *row)
{
  return g_rc_box_acquire (row);
}

static void
catalog_row_unref (CatalogRow *row)
{
  g_rc_box_release_full (row, (GDestroyNotify) catalog_row_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CatalogRow, catalog_row_unref)

static guint64
file_size (const char *path)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    return 0;
  return (guint64) st.st_size;
}

/* "about 20 seconds left", rounded so that it does not flicker. */
static char *
format_time_left (double seconds)
{
  int s = (int) ceil (seconds);
  int m, h;

  if (s <= 10)
    return g_strdup_printf (ngettext ("about %d second left", "about %d seconds left", MAX (s, 1)), MAX (s, 1));
  if (s < 60)
    {
      s = (s + 4) / 5 * 5;
      return g_strdup_printf (ngettext ("about %d second left", "about %d seconds left", s), s);
    }
  m = (s + 30) / 60;
  if (m < 90)
    return g_strdup_printf (ngettext ("about %d minute left", "about %d minutes left", m), m);
  h = (m + 30) / 60;
  return g_strdup_printf (ngettext ("about %d hour left", "about %d hours left", h), h);
}

/* "12.3 MB of 46.8 MB · 2.1 MB/s · about 20 seconds left" */
static char *
format_progress (const GraftDownloadProgress *p)
{
  g_autofree char *received = g_format_size (p->received);
  g_autofree char *total = g_format_size (p->total);
  g_autoptr (GString) text = g_string_new (NULL);

  if (p->verifying)
    return g_strdup (_("Checking the download…"));
  /* Translators: download progress, "12.3 MB of 46.8 MB". */
  g_string_append_printf (text, _("%s of %s"), received, total);
  if (p->rate > 0)
    {
      g_autofree char *rate = g_format_size ((guint64) p->rate);
      g_string_append (text, " · ");
      /* Translators: a download rate, "2.1 MB/s". */
      g_string_append_printf (text, _("%s/s"), rate);
    }
  if (p->rate > 0 && p->eta >= 0)
    {
      g_autofree char *left = format_time_left (p->eta);
      g_string_append (text, " · ");
      g_string_append (text, left);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* What went wrong, in words a person acts on; error->message (English, with the file
 * names and statuses) goes in the tooltip. */
static char *
explain_download_error (const GError *error)
{
  if (error->domain == GRAFT_CATALOG_ERROR)
    switch (error->code)
      {
      case GRAFT_CATALOG_ERROR_NETWORK:
        return g_strdup (_("The server could not be reached, or the connection broke. Check the network and retry: "
                           "what was downloaded is kept."));
      case GRAFT_CATALOG_ERROR_NOT_FOUND:
        return g_strdup (_("The model is no longer at its address (the server answered “not found”): the catalog "
                           "may be out of date."));
      case GRAFT_CATALOG_ERROR_HTTP:
        return g_strdup (_("The server refused the download. Retry later."));
      case GRAFT_CATALOG_ERROR_CHECKSUM:
        return g_strdup (_("The downloaded file is not the catalog’s model: its size or checksum differs, so it "
                           "was deleted. The file on the server may have changed."));
      case GRAFT_CATALOG_ERROR_IO:
        return g_strdup (_("The model could not be saved: the disk may be full. What was downloaded is kept."));
      case GRAFT_CATALOG_ERROR_PARSE:
        return g_strdup (_("The catalog gives an address Graft cannot download from."));
      default:
        break;
      }
  return g_strdup (error->message);
}

static void
set_message (CatalogRow *row, const char *text, const char *tooltip, gboolean is_error)
{
  gtk_label_set_text (GTK_LABEL (row->message), text != NULL ? text : "");
  gtk_widget_set_tooltip_text (row->message, tooltip);
  gtk_widget_set_visible (row->message, text != NULL && text[0] != '\0');
  if (is_error)
    {
      gtk_widget_add_css_class (row->message, "error");
      gtk_widget_remove_css_class (row->message, "dim-label");
    }
  else
    {
      gtk_widget_remove_css_class (row->message, "error");
      gtk_widget_add_css_class (row->message, "dim-label");
    }
}

static void
update_progress (CatalogRow *row)
{
  GraftDownloadProgress p;
  g_autofree char *text = NULL;

  if (row->download == NULL)
    return;
  graft_download_get_progress (row->download, &p);
  if (p.total == 0)
    p.total = row->entry->bytes;
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (row->progress_bar),
                                 p.total > 0 ? CLAMP ((double) p.received / (double) p.total, 0.0, 1.0) : 0.0);
  text = p.received == 0 && p.rate <= 0 && !p.verifying ? g_strdup (_("Connecting…")) : format_progress (&p);
  gtk_label_set_text (GTK_LABEL (row->status), text);
}

/* The row's widgets for its state. A failed row keeps its message. */
static void
row_update (CatalogRow *row)
{
  RowState state = row->state;
  const char *action = NULL;

  gtk_widget_set_visible (row->spinner, state == ROW_CHECKING);
  gtk_spinner_set_spinning (GTK_SPINNER (row->spinner), state == ROW_CHECKING);
  gtk_widget_set_visible (row->progress_box, state == ROW_DOWNLOADING);
  gtk_widget_set_visible (row->cancel_button, state == ROW_DOWNLOADING);
  gtk_widget_set_visible (row->use_button, state == ROW_DOWNLOADED);
  gtk_widget_set_visible (row->remove_button, state == ROW_DOWNLOADED);
  gtk_widget_set_sensitive (row->row, state != ROW_UNSUPPORTED);

  switch (state)
    {
    case ROW_ABSENT:
      {
        guint64 kept = file_size (row->part_path);
        if (kept > 0 && kept < row->entry->bytes)
          {
            g_autofree char *have = g_format_size (kept);
            g_autofree char *total = g_format_size (row->entry->bytes);
            g_autofree char *text = NULL;
            /* Translators: a download cancelled earlier, "Paused with 2.1 MB of 46.8 MB downloaded." */
            text = g_strdup_printf (_("Paused with %s of %s downloaded: it resumes from there."), have, total);
            set_message (row, text, NULL, FALSE);
            action = _("_Resume");
          }
        else
          {
            set_message (row, NULL, NULL, FALSE);
            action = _("_Download");
          }
      }
      break;
    case ROW_FAILED:
      action = _("_Retry");
      break;
    case ROW_UNSUPPORTED:
      set_message (row, row->entry->support_note != NULL ? row->entry->support_note
                                                          : _("Graft cannot run this model yet."), NULL, FALSE);
      break;
    case ROW_DOWNLOADING:
      set_message (row, NULL, NULL, FALSE);
      update_progress (row);
      break;
    case ROW_CHECKING:
    case ROW_DOWNLOADED:
    default:
      set_message (row, NULL, NULL, FALSE);
      break;
    }
  gtk_widget_set_visible (row->action_button, action != NULL);
  if (action != NULL)
    gtk_button_set_label (GTK_BUTTON (row->action_button), action);
}

static void
on_download_progress (GraftDownload *download, CatalogRow *row)
{
  if (row->chooser != NULL && row->state == ROW_DOWNLOADING)
    update_progress (row);
}

static void
on_download_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (CatalogRow) row = data;
  GraftModelChooser *self = row->chooser;
  g_autoptr (GError) error = NULL;
  gboolean ok = graft_download_finish (GRAFT_DOWNLOAD (source), result, &error);
  g_autofree char *toast = NULL;

  if (row->download == GRAFT_DOWNLOAD (source))
    {
      g_clear_signal_handler (&row->progress_id, row->download);
      g_clear_object (&row->download);
      g_clear_object (&row->cancellable);
    }
  if (self == NULL)
    return;
  if (ok)
    {
      row->state = ROW_DOWNLOADED;
      /* Translators: a toast, when the dialog is hidden. */
      toast = g_strdup_printf (_("“%s” is downloaded and ready to use"), row->entry->title);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    row->state = ROW_ABSENT;
  else
    {
      g_autofree char *text = explain_download_error (error);
      g_debug ("Download of %s failed: %s", row->entry->name, error->message);
      row->state = ROW_FAILED;
      row_update (row);
      set_message (row, text, error->message, TRUE);
      /* Translators: a toast, when the dialog is hidden: the model's title, then why. */
      toast = g_strdup_printf (_("Could not download “%s”: %s"), row->entry->title, text);
    }
  row_update (row);
  if (toast != NULL && !gtk_widget_get_visible (GTK_WIDGET (self)))
    g_signal_emit (self, signals[TOAST], 0, toast);
}

static void
start_download (CatalogRow *row)
{
  if (row->state == ROW_DOWNLOADING || row->state == ROW_UNSUPPORTED)
    return;
  g_clear_object (&row->cancellable);
  row->download = graft_download_new (row->entry, row->path);
  row->cancellable = g_cancellable_new ();
  row->progress_id = g_signal_connect (row->download, "progress", G_CALLBACK (on_download_progress), row);
  row->state = ROW_DOWNLOADING;
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (row->progress_bar),
                                 (double) MIN (file_size (row->part_path), row->entry->bytes)
                                 / (double) MAX (row->entry->bytes, 1));
  row_update (row);
  graft_download_start_async (row->download, row->cancellable, on_download_done, catalog_row_ref (row));
}

static void
on_check_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (CatalogRow) row = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = graft_catalog_verify_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || row->chooser == NULL
      || row->state != ROW_CHECKING)
    return;
  g_clear_object (&row->cancellable);
  row->state = ok ? ROW_DOWNLOADED : ROW_ABSENT;
  row_update (row);
  if (!ok && g_error_matches (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM))
    set_message (row, _("The file on this computer is damaged or not this model: download it again."),
                 error->message, TRUE);
}

/* Whether the model is on this computer: hashing a large file takes a second, so off the
 * main thread (once per file: the .verified note remembers it). */
static void
check_row (CatalogRow *row)
{
  if (row->state == ROW_DOWNLOADING || row->state == ROW_CHECKING)
    return;
  if (!row->entry->supported)
    row->state = ROW_UNSUPPORTED;
  else if (!g_file_test (row->path, G_FILE_TEST_EXISTS))
    row->state = ROW_ABSENT;
  else
    {
      row->state = ROW_CHECKING;
      g_clear_object (&row->cancellable);
      row->cancellable = g_cancellable_new ();
      graft_catalog_verify_async (row->entry, FALSE, row->cancellable, on_check_done, catalog_row_ref (row));
    }
  row_update (row);
}

static void
on_action_clicked (GtkButton *button, CatalogRow *row)
{
  start_download (row);
}

static void
on_cancel_clicked (GtkButton *button, CatalogRow *row)
{
  if (row->cancellable != NULL)
    g_cancellable_cancel (row->cancellable);
}

static void
on_use_clicked (GtkButton *button, CatalogRow *row)
{
  GraftModelChooser *self = row->chooser;
  g_autofree char *path = g_strdup (row->path);

  if (self == NULL)
    return;
  gtk_window_close (GTK_WINDOW (self));
  g_signal_emit (self, signals[MODEL_CHOSEN], 0, path);
}

static void
on_remove_clicked (GtkButton *button, CatalogRow *row)
{
  GraftModelChooser *self = row->chooser;
  g_autofree char *note = g_strconcat (row->path, ".verified", NULL);
  g_autofree char *toast = NULL;

  if (self == NULL || row->state != ROW_DOWNLOADED)
    return;
  if (g_unlink (row->path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      /* Translators: the file could not be deleted: its path, then why. */
      toast = g_strdup_printf (_("Could not remove “%s”: %s"), row->path, g_strerror (saved));
      g_signal_emit (self, signals[TOAST], 0, toast);
      return;
    }
  g_unlink (note);
  row->state = ROW_ABSENT;
  row_update (row);
}

/* "14.2 MB · 600 MFLOPs · 3.5 M parameters · Apache-2.0 licence" */
static char *
describe_entry (const GraftCatalogEntry *entry)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *size = g_format_size (entry->bytes);

  g_string_append (text, size);
  if (entry->flops > 0)
    {
      g_autofree char *flops = graft_format_count (entry->flops);
      g_string_append (text, " · ");
      /* Translators: computation per image; the count has its prefix and a space already: "600 MFLOPs". */
      g_string_append_printf (text, _("%sFLOPs"), flops);
    }
  if (entry->parameters > 0)
    {
      g_autofree char *parameters = graft_format_count (entry->parameters);
      g_string_append (text, " · ");
      g_string_append_printf (text, _("%s parameters"), parameters);
    }
  g_string_append (text, " · ");
  /* Translators: the model's licence, "Apache-2.0 licence". */
  g_string_append_printf (text, _("%s licence"), entry->licence);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
describe_source (const GraftCatalogEntry *entry)
{
  g_autoptr (GString) text = g_string_new (NULL);

  if (entry->source != NULL)
    g_string_append (text, entry->source);
  if (entry->licence_source != NULL)
    {
      if (text->len > 0)
        g_string_append (text, "\n");
      /* Translators: "Licence Apache-2.0, as listed by the ONNX Model Zoo" (the second part is not translated). */
      g_string_append_printf (text, _("Licence %s, %s"), entry->licence, entry->licence_source);
    }
  if (entry->preprocessing_note != NULL)
    {
      if (text->len > 0)
        g_string_append (text, "\n");
      g_string_append (text, entry->preprocessing_note);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static GtkWidget *
new_label (const char *text, const char *style)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  if (style != NULL)
    gtk_widget_add_css_class (label, style);
  return label;
}

static GtkWidget *
new_button (const char *label, const char *style, GCallback callback, CatalogRow *row)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  if (style != NULL)
    gtk_widget_add_css_class (button, style);
  g_signal_connect (button, "clicked", callback, row);
  return button;
}

/* A row of the list: title, description and details on the left, the actions box on
 * the right, and *box (vertical) to add lines below them. */
static GtkWidget *
new_model_row (const char *title, const char *description, const char *details, GtkWidget **details_label,
               GtkWidget **actions, GtkWidget **box)
{
  GtkWidget *row = adw_preferences_row_new ();
  GtkWidget *top, *text, *label;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  gtk_widget_set_margin_start (*box, 12);
  gtk_widget_set_margin_end (*box, 12);
  gtk_widget_set_margin_top (*box, 10);
  gtk_widget_set_margin_bottom (*box, 10);
  top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  gtk_widget_set_hexpand (text, TRUE);
  gtk_widget_set_valign (text, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (text), new_label (title, "heading"));
  gtk_box_append (GTK_BOX (text), new_label (description, NULL));
  label = new_label (details, "caption");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_widget_add_css_class (label, "numeric");
  gtk_box_append (GTK_BOX (text), label);
  gtk_box_append (GTK_BOX (top), text);
  *actions = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_valign (*actions, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (top), *actions);
  gtk_box_append (GTK_BOX (*box), top);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), *box);
  if (details_label != NULL)
    *details_label = label;
  return row;
}

static CatalogRow *
add_catalog_row (GraftModelChooser *self, const GraftCatalogEntry *entry)
{
  CatalogRow *row = g_rc_box_new0 (CatalogRow);
  GtkWidget *box, *actions;
  g_autofree char *details = describe_entry (entry);
  g_autofree char *source = describe_source (entry);

  row->chooser = self;
  row->entry = graft_catalog_entry_copy (entry);
  row->path = graft_catalog_model_path (entry);
  row->part_path = g_strconcat (row->path, ".part", NULL);
  row->state = ROW_ABSENT;

  row->row = new_model_row (entry->title, entry->description, details, &row->details, &actions, &box);
  if (source[0] != '\0')
    gtk_widget_set_tooltip_text (row->details, source);
  row->spinner = gtk_spinner_new ();
  row->action_button = new_button (_("_Download"), NULL, G_CALLBACK (on_action_clicked), row);
  row->cancel_button = new_button (_("_Cancel"), NULL, G_CALLBACK (on_cancel_clicked), row);
  row->use_button = new_button (_("_Use"), "suggested-action", G_CALLBACK (on_use_clicked), row);
  row->remove_button = gtk_button_new_from_icon_name ("user-trash-symbolic");
  gtk_widget_set_valign (row->remove_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (row->remove_button, "flat");
  gtk_widget_set_tooltip_text (row->remove_button, _("Remove the downloaded file"));
  g_signal_connect (row->remove_button, "clicked", G_CALLBACK (on_remove_clicked), row);
  {
    /* Translators: accessible label of a row's button, with the model's title. */
    g_autofree char *label = g_strdup_printf (_("Remove the download of %s"), entry->title);
    gtk_accessible_update_property (GTK_ACCESSIBLE (row->remove_button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  }
  gtk_box_append (GTK_BOX (actions), row->spinner);
  gtk_box_append (GTK_BOX (actions), row->remove_button);
  gtk_box_append (GTK_BOX (actions), row->action_button);
  gtk_box_append (GTK_BOX (actions), row->cancel_button);
  gtk_box_append (GTK_BOX (actions), row->use_button);

  row->progress_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  row->progress_bar = gtk_progress_bar_new ();
  row->status = new_label (NULL, "caption");
  gtk_widget_add_css_class (row->status, "numeric");
  gtk_box_append (GTK_BOX (row->progress_box), row->progress_bar);
  gtk_box_append (GTK_BOX (row->progress_box), row->status);
  gtk_box_append (GTK_BOX (box), row->progress_box);

  row->message = new_label (NULL, "caption");
  gtk_box_append (GTK_BOX (box), row->message);

  g_object_set_data (G_OBJECT (row->row), "graft-catalog-row", row);
  adw_preferences_group_add (self->catalog_group, row->row);
  g_ptr_array_add (self->rows, row);
  check_row (row);
  return row;
}

/* ------------------------------------------------------------------------ */
/* The dialog                                                                */

static void
on_starter_clicked (GraftModelChooser *self)
{
  g_autofree char *path = graft_model_page_find_starter_model ();

  if (path == NULL)
    return;
  gtk_window_close (GTK_WINDOW (self));
  g_signal_emit (self, signals[MODEL_CHOSEN], 0, path);
}

static void
on_import_activated (GraftModelChooser *self)
{
  gtk_window_close (GTK_WINDOW (self));
  g_signal_emit (self, signals[IMPORT_REQUESTED], 0);
}

/* What data/models/README.md says of the bundled model. */
#define STARTER_FLOPS 32.55e6
#define STARTER_PARAMETERS 308181

static void
add_starter_row (GraftModelChooser *self)
{
  g_autofree char *path = graft_model_page_find_starter_model ();
  g_autofree char *flops = graft_format_count (STARTER_FLOPS);
  g_autofree char *parameters = graft_format_count (STARTER_PARAMETERS);
  g_autofree char *size = g_format_size (path != NULL ? file_size (path) : 0);
  g_autoptr (GString) details = g_string_new (size);
  GtkWidget *box, *actions;

  g_string_append (details, " · ");
  g_string_append_printf (details, _("%sFLOPs"), flops);
  g_string_append (details, " · ");
  g_string_append_printf (details, _("%s parameters"), parameters);
  g_string_append (details, " · ");
  g_string_append (details, _("comes with Graft"));
  self->starter_row = new_model_row (_("Starter Model"),
                                     _("A small ResNet for 32 × 32 images, trained by Graft on five kinds of "
                                       "clothing. It trains in minutes on a laptop."),
                                     details->str, NULL, &actions, &box);
  self->starter_button = gtk_button_new_with_mnemonic (_("_Use"));
  gtk_widget_set_valign (self->starter_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->starter_button, "suggested-action");
  g_signal_connect_swapped (self->starter_button, "clicked", G_CALLBACK (on_starter_clicked), self);
  gtk_box_append (GTK_BOX (actions), self->starter_button);
  self->starter_message = new_label (_("The starter model is not installed."), "caption");
  gtk_widget_add_css_class (self->starter_message, "error");
  gtk_box_append (GTK_BOX (box), self->starter_message);
  adw_preferences_group_add (self->bundled_group, self->starter_row);
}

/* Files may have come or gone since the dialog was last shown (graft-cli models). */
static void
on_show (GraftModelChooser *self)
{
  g_autofree char *starter = graft_model_page_find_starter_model ();

  gtk_widget_set_sensitive (self->starter_button, starter != NULL);
  gtk_widget_set_visible (self->starter_message, starter == NULL);
  for (guint i = 0; i < self->rows->len; i++)
    {
      CatalogRow *row = g_ptr_array_index (self->rows, i);
      gboolean exists = g_file_test (row->path, G_FILE_TEST_EXISTS);
      if ((row->state == ROW_ABSENT && exists) || (row->state == ROW_DOWNLOADED && !exists))
        check_row (row);
      else if (row->state == ROW_ABSENT)
        row_update (row);   /* a .part may have come or gone */
    }
}

GtkWidget *
graft_model_chooser_get_row (GraftModelChooser *self, const char *name)
{
  g_return_val_if_fail (GRAFT_IS_MODEL_CHOOSER (self), NULL);
  for (guint i = 0; i < self->rows->len; i++)
    {
      CatalogRow *row = g_ptr_array_index (self->rows, i);
      if (g_strcmp0 (row->entry->name, name) == 0)
        return row->row;
    }
  return NULL;
}

guint
graft_model_chooser_get_n_downloads (GraftModelChooser *self)
{
  guint n = 0;

  g_return_val_if_fail (GRAFT_IS_MODEL_CHOOSER (self), 0);
  for (guint i = 0; i < self->rows->len; i++)
    if (((CatalogRow *) g_ptr_array_index (self->rows, i))->state == ROW_DOWNLOADING)
      n++;
  return n;
}

GtkWidget *
graft_model_chooser_new (void)
{
  return g_object_new (GRAFT_TYPE_MODEL_CHOOSER, NULL);
}

static void
graft_model_chooser_dispose (GObject *object)
{
  GraftModelChooser *self = GRAFT_MODEL_CHOOSER (object);

  if (self->rows != NULL)
    {
      /* Downloads stop, keeping their .part files; late callbacks see no dialog. */
      for (guint i = 0; i < self->rows->len; i++)
        {
          CatalogRow *row = g_ptr_array_index (self->rows, i);
          if (row->cancellable != NULL)
            g_cancellable_cancel (row->cancellable);
          row->chooser = NULL;
        }
      g_clear_pointer (&self->rows, g_ptr_array_unref);
    }
  g_clear_pointer (&self->catalog, graft_catalog_free);
  G_OBJECT_CLASS (graft_model_chooser_parent_class)->dispose (object);
}

static void
graft_model_chooser_class_init (GraftModelChooserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_model_chooser_dispose;

  /**
   * GraftModelChooser::model-chosen:
   * @path: the model's file
   */
  signals[MODEL_CHOSEN] = g_signal_new ("model-chosen", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                        NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[IMPORT_REQUESTED] = g_signal_new ("import-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                            NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * GraftModelChooser::toast:
   * @message: what to tell the person
   */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-model-chooser.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftModelChooser, bundled_group);
  gtk_widget_class_bind_template_child (widget_class, GraftModelChooser, catalog_group);
  gtk_widget_class_bind_template_callback (widget_class, on_import_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
graft_model_chooser_init (GraftModelChooser *self)
{
  g_autoptr (GError) error = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) catalog_row_unref);
  add_starter_row (self);
  self->catalog = graft_catalog_load_or_bundled (&error);
  if (error != NULL)
    {
      g_autofree char *description = NULL;
      g_warning ("%s", error->message);
      /* Translators: the user's catalog file could not be read: why (in English). */
      description = g_strdup_printf (_("Your own catalog file could not be read, so only Graft’s models are listed. %s"),
                                     error->message);
      adw_preferences_group_set_description (self->catalog_group, description);
    }
  if (self->catalog != NULL)
    for (guint i = 0; i < graft_catalog_get_n_entries (self->catalog); i++)
      add_catalog_row (self, graft_catalog_get_entry (self->catalog, i));
  g_signal_connect (self, "show", G_CALLBACK (on_show), NULL);
  on_show (self);
}
