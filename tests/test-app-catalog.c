/* The model chooser and catalog models in the app, against an HTTP server on 127.0.0.1
 * started by the test (a SoupServer in this process, as in test-catalog.c).
 *
 * The server has a small valid model: the starter model without its graft.preprocessing,
 * as a catalog model's file would be. A user catalog in a temporary $XDG_DATA_HOME names
 * it three times: "test-good" (right size and SHA-256, served in 8 KiB pieces so that
 * the progress shows), "test-bad" (a wrong SHA-256) and "test-slow" (1 KiB every 20 ms,
 * to be cancelled, then resumed).
 *
 * The Model page's "Choose Model…" opens the chooser; a download shows its progress in
 * its row and goes on while the dialog is hidden; the wrong checksum shows an error in
 * its row and leaves no file; a cancelled download keeps its .part, offers to resume,
 * and resumes with a Range request; Use loads the model, and the session has the
 * catalog's preprocessing and cut. The layer list's names are not cut short at 1000 px.
 * With GRAFT_SHOTS=dir: chooser-light.png, chooser-downloading-{light,dark}.png, chooser-after-light.png,
 * model-page-catalog-1000.png. */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app-test-helpers.h"
#include "catalog/catalog.h"
#include "graft-model-chooser.h"
#include "graft-model-page.h"
#include "gradcheck.h"

#define GOOD_CUT "/layer3/layer3.0/relu_1/Relu_output_0"
#define WRONG_SHA256 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------------------ */
/* The server                                                               */

typedef struct {
  GIOStream *io;
  GBytes *content;
  gsize offset, end, chunk;
  guint source;
} Transfer;

typedef struct {
  SoupServer *server;
  char *base_url;
  GBytes *content;
  gboolean slow_is_fast;      /* /slow.onnx serves at once (to resume) */
  char *slow_range;           /* the Range header of the last /slow.onnx request */
  int requests;
  GPtrArray *transfers;       /* Transfer * */
} TestServer;

static gboolean
write_text (GOutputStream *out, const char *text)
{
  return g_output_stream_write_all (out, text, strlen (text), NULL, NULL, NULL);
}

static void
transfer_stop (Transfer *t)
{
  if (t->source != 0)
    g_source_remove (t->source);
  t->source = 0;
  if (t->io != NULL)
    g_io_stream_close (t->io, NULL, NULL);
  g_clear_object (&t->io);
}

static void
transfer_free (Transfer *t)
{
  transfer_stop (t);
  g_free (t);
}

static gboolean
transfer_write (gpointer data)
{
  Transfer *t = data;
  const guint8 *bytes = g_bytes_get_data (t->content, NULL);
  gsize n = MIN (t->chunk, t->end - t->offset);

  if (n == 0 || !g_output_stream_write_all (g_io_stream_get_output_stream (t->io), bytes + t->offset, n, NULL, NULL,
                                            NULL))
    {
      /* Done, or the client went away (cancelled). */
      t->source = 0;
      transfer_stop (t);
      return G_SOURCE_REMOVE;
    }
  t->offset += n;
  return G_SOURCE_CONTINUE;
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  TestServer *ts = data;
  const char *range = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Range");
  gsize size;
  guint64 start = 0;
  g_autofree char *head = NULL;
  g_autoptr (GIOStream) io = NULL;
  GOutputStream *out;
  Transfer *t;

  g_bytes_get_data (ts->content, &size);
  ts->requests++;
  if (strcmp (path, "/slow.onnx") == 0)
    {
      g_free (ts->slow_range);
      ts->slow_range = g_strdup (range);
    }
  if (range != NULL)
    g_assert_cmpint (sscanf (range, "bytes=%" G_GUINT64_FORMAT "-", &start), ==, 1);

  io = soup_server_message_steal_connection (msg);
  out = g_io_stream_get_output_stream (io);
  if (start >= size)
    {
      head = g_strdup_printf ("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%zu\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n", size);
      write_text (out, head);
      g_io_stream_close (io, NULL, NULL);
      return;
    }
  if (start > 0)
    head = g_strdup_printf ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %" G_GUINT64_FORMAT "-%zu/%zu\r\n"
                            "Content-Length: %" G_GUINT64_FORMAT "\r\nContent-Type: application/octet-stream\r\n"
                            "Connection: close\r\n\r\n", start, size - 1, size, (guint64) size - start);
  else
    head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nContent-Type: application/octet-stream\r\n"
                            "Accept-Ranges: bytes\r\nConnection: close\r\n\r\n", size);
  write_text (out, head);

  t = g_new0 (Transfer, 1);
  t->content = ts->content;
  t->offset = start;
  t->end = size;
  if (strcmp (path, "/good.onnx") == 0)
    t->chunk = 8 * 1024;       /* 400 kB/s: about three seconds */
  else if (strcmp (path, "/slow.onnx") == 0 && !ts->slow_is_fast)
    t->chunk = 1024;           /* 50 KB/s: it never ends in the test */
  else
    t->chunk = size;           /* at once */
  t->io = g_steal_pointer (&io);
  t->source = g_timeout_add (20, transfer_write, t);
  g_ptr_array_add (ts->transfers, t);
}

static GBytes *
make_model_bytes (void)
{
  g_autofree char *starter = graft_model_page_find_starter_model ();
  g_autoptr (GraftModel) model = NULL;
  g_autoptr (GError) error = NULL;
  GBytes *bytes;

  g_assert_nonnull (starter);
  model = graft_model_load (starter, &error);
  g_assert_no_error (error);
  /* As the files of the ONNX Model Zoo: nothing says how to prepare the images. */
  g_assert_true (g_hash_table_remove (model->metadata, GRAFT_METADATA_PREPROCESSING));
  bytes = graft_model_save_to_bytes (model, NULL, &error);
  g_assert_no_error (error);
  return bytes;
}

static TestServer *
test_server_new (void)
{
  TestServer *ts = g_new0 (TestServer, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  ts->content = make_model_bytes ();
  ts->transfers = g_ptr_array_new_with_free_func ((GDestroyNotify) transfer_free);
  ts->server = soup_server_new ("server-header", "graft-test ", NULL);
  soup_server_add_handler (ts->server, NULL, server_handler, ts, NULL);
  soup_server_listen_local (ts->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (ts->server);
  g_assert_nonnull (uris);
  ts->base_url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return ts;
}

static void
test_server_free (TestServer *ts)
{
  g_ptr_array_unref (ts->transfers);
  soup_server_disconnect (ts->server);
  g_object_unref (ts->server);
  g_bytes_unref (ts->content);
  g_free (ts->base_url);
  g_free (ts->slow_range);
  g_free (ts);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_free)

/* The user catalog: three entries for the server's model. */
static void
write_user_catalog (TestServer *ts)
{
  g_autofree char *path = graft_catalog_user_file ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, ts->content);
  g_autoptr (GString) json = g_string_new ("{\"catalog\": 1, \"models\": [");
  g_autoptr (GError) error = NULL;
  const struct { const char *name, *title, *file, *sha256; } entries[] = {
    { "test-good", "Test Classifier", "good.onnx", sha256 },
    { "test-bad", "Damaged Classifier", "bad.onnx", WRONG_SHA256 },
    { "test-slow", "Slow Classifier", "slow.onnx", sha256 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    g_string_append_printf (json,
      "%s{\"name\": \"%s\", \"title\": \"%s\", \"description\": \"The starter model served from 127.0.0.1.\", "
      "\"url\": \"%s/%s\", \"bytes\": %zu, \"sha256\": \"%s\", \"licence\": \"CC0-1.0\", \"input_size\": 32, "
      "\"preprocessing\": {\"size\": 32, \"resize\": 40, \"mean\": [0.5, 0.4, 0.3], \"std\": [0.2, 0.25, 0.3], "
      "\"channels\": \"BGR\"}, \"cut\": \"" GOOD_CUT "\", \"flops\": 33e6, \"parameters\": 308181}",
      i > 0 ? ", " : "", entries[i].name, entries[i].title, ts->base_url, entries[i].file,
      g_bytes_get_size (ts->content), entries[i].sha256);
  /* A model Graft cannot run (every bundled one runs): listed, not downloadable. */
  g_string_append_printf (json,
    ", {\"name\": \"test-unsupported\", \"description\": \"A model with an op Graft lacks.\", "
    "\"url\": \"%s/good.onnx\", \"bytes\": %zu, \"sha256\": \"%s\", \"licence\": \"CC0-1.0\", \"input_size\": 32, "
    "\"preprocessing\": {\"size\": 32}, \"cut\": \"" GOOD_CUT "\", \"support\": \"unsupported\", "
    "\"support_note\": \"Graft cannot import it: it uses the ONNX op Loop.\"}",
    ts->base_url, g_bytes_get_size (ts->content), sha256);
  g_string_append (json, "]}");
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, json->str, -1, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */
/* Widgets                                                                  */

/* Depth-first: a widget of type whose label (buttons, labels) is text; NULL text: any;
 * visible_only: skip hidden ones. */
static GtkWidget *
find_widget (GtkWidget *root, GType type, const char *text, gboolean visible_only)
{
  if (visible_only && !gtk_widget_get_visible (root))
    return NULL;
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    {
      const char *label = NULL;
      if (GTK_IS_BUTTON (root))
        label = gtk_button_get_label (GTK_BUTTON (root));
      else if (GTK_IS_LABEL (root))
        label = gtk_label_get_label (GTK_LABEL (root));
      if (text == NULL || g_strcmp0 (label, text) == 0)
        return root;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type, text, visible_only);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A visible label under root whose text contains fragment. */
static GtkWidget *
find_label_containing (GtkWidget *root, const char *fragment)
{
  if (!gtk_widget_get_visible (root))
    return NULL;
  if (GTK_IS_LABEL (root) && strstr (gtk_label_get_text (GTK_LABEL (root)), fragment) != NULL)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label_containing (child, fragment);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
visible_button (GtkWidget *row, const char *label)
{
  return find_widget (row, GTK_TYPE_BUTTON, label, TRUE);
}

static GtkWidget *
find_by_tooltip (GtkWidget *root, const char *tooltip)
{
  if (!gtk_widget_get_visible (root))
    return NULL;
  if (g_strcmp0 (gtk_widget_get_tooltip_text (root), tooltip) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_tooltip (child, tooltip);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Scrolls the dialog so that row is at the top (for the screenshots). */
static void
scroll_to (GtkWidget *row)
{
  GtkWidget *scroller = gtk_widget_get_ancestor (row, GTK_TYPE_SCROLLED_WINDOW);
  GtkWidget *child = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scroller));
  GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  graphene_point_t point;

  g_assert_true (gtk_widget_compute_point (row, child, &GRAPHENE_POINT_INIT (0, 0), &point));
  /* The viewport's coordinates are those of what is in view. */
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_value (adjustment) + point.y - 40);
  app_test_iterate_for (100);
}

static void
click (GtkWidget *button)
{
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static void
wait_until (AppTestCondition condition, gpointer data, int seconds, const char *what)
{
  if (!app_test_wait_until (condition, data, seconds))
    g_error ("timed out waiting for %s", what);
}

static gboolean
row_offers_use (gpointer row)
{
  return visible_button (row, _("_Use")) != NULL;
}

static gboolean
row_offers_retry (gpointer row)
{
  return visible_button (row, _("_Retry")) != NULL;
}

static gboolean
row_offers_resume (gpointer row)
{
  return visible_button (row, _("_Resume")) != NULL;
}

static gboolean
row_progress_shows (gpointer row)
{
  GtkWidget *bar = find_widget (row, GTK_TYPE_PROGRESS_BAR, NULL, TRUE);
  /* "160.0 kB of 1.3 MB · 800.0 kB/s · about 2 seconds left" */
  return bar != NULL && gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar)) > 0.15
         && find_label_containing (row, "/s · ") != NULL;
}

typedef struct {
  const char *path;
  guint64 size;
} PartWait;

static gboolean
part_has (gpointer data)
{
  PartWait *w = data;
  GStatBuf st;
  return g_stat (w->path, &st) == 0 && (guint64) st.st_size >= w->size;
}

static GtkWidget *
find_chooser (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* transfer none */
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);
      if (GRAFT_IS_MODEL_CHOOSER (window))
        return GTK_WIDGET (window);
    }
  return NULL;
}

static gboolean
session_has_model (gpointer data)
{
  GraftSession *session = ((gpointer *) data)[0];
  const char *path = ((gpointer *) data)[1];
  return g_strcmp0 (graft_session_get_model_path (session), path) == 0;
}

static void
on_toast (GtkWidget *page, const char *message, GPtrArray *toasts)
{
  g_test_message ("toast: %s", message);
  g_ptr_array_add (toasts, g_strdup (message));
}

static guint64
file_size (const char *path)
{
  GStatBuf st;
  return g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
}

/* Layer names in the list cut short (ellipsized); *names counts those shown. */
static int
count_cut_names (GtkWidget *root, int *names)
{
  int cut = 0;
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root) && gtk_widget_has_css_class (root, "layer-name"))
    {
      (*names)++;
      g_test_message ("layer %s: %s", gtk_label_get_text (GTK_LABEL (root)), gtk_widget_get_tooltip_text (root));
      /* The whole name is in the tooltip. */
      g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (root), "/layer2/layer2.0/"));
      g_assert_cmpint (gtk_widget_get_width (root), >=, 80);
      if (pango_layout_is_ellipsized (gtk_label_get_layout (GTK_LABEL (root))))
        {
          g_test_message ("cut short: %s (%d px)", gtk_label_get_text (GTK_LABEL (root)), gtk_widget_get_width (root));
          cut++;
        }
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    cut += count_cut_names (child, names);
  return cut;
}

/* ------------------------------------------------------------------------ */
/* The test                                                                 */

static void
test_chooser (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftSession) session = graft_session_new ();
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GPtrArray) toasts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const GraftCatalogEntry *good_entry;
  GtkWidget *page, *window, *chooser, *good, *bad, *slow, *unsupported, *label;
  g_autofree char *good_path = NULL, *bad_path = NULL, *slow_path = NULL;
  g_autofree char *good_part = NULL, *bad_part = NULL, *slow_part = NULL;
  GraftSessionSpec *spec;
  GraftModel *model;
  gpointer loaded[2];
  guint64 kept;

  write_user_catalog (ts);
  catalog = graft_catalog_load (&error);
  g_assert_no_error (error);
  good_entry = graft_catalog_find (catalog, "test-good");
  g_assert_nonnull (good_entry);
  good_path = graft_catalog_model_path (good_entry);
  bad_path = graft_catalog_model_path (graft_catalog_find (catalog, "test-bad"));
  slow_path = graft_catalog_model_path (graft_catalog_find (catalog, "test-slow"));
  good_part = g_strconcat (good_path, ".part", NULL);
  bad_part = g_strconcat (bad_path, ".part", NULL);
  slow_part = g_strconcat (slow_path, ".part", NULL);

  page = graft_model_page_new ();
  graft_model_page_set_session (GRAFT_MODEL_PAGE (page), session);
  g_signal_connect (page, "toast", G_CALLBACK (on_toast), toasts);
  window = app_test_show_in_window (page, 1000, 760);

  /* "Choose Model…" (or "More Models…" before a model is loaded) opens the chooser. */
  g_assert_null (find_chooser ());
  g_assert_true (gtk_widget_activate_action (page, "model-page.choose", NULL));
  chooser = find_chooser ();
  g_assert_nonnull (chooser);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (chooser)) == GTK_WINDOW (window));
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (chooser)));
  app_test_iterate_for (300);
  g_assert_true (gtk_widget_get_mapped (chooser));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (chooser)), ==, _("Choose a Model"));

  /* The bundled catalog's models are listed, and the user's; a model Graft cannot run
   * is insensitive and says why. */
  g_assert_nonnull (graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "mobilenetv2-7"));
  g_assert_true (gtk_widget_get_sensitive (graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser),
                                                                        "shufflenet-v2-12")));
  unsupported = graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "test-unsupported");
  g_assert_nonnull (unsupported);
  g_assert_false (gtk_widget_get_sensitive (unsupported));
  g_assert_nonnull (find_label_containing (unsupported, "Loop"));
  g_assert_null (visible_button (unsupported, _("_Download")));
  good = graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "test-good");
  bad = graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "test-bad");
  slow = graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "test-slow");
  g_assert_nonnull (good);
  g_assert_nonnull (bad);
  g_assert_nonnull (slow);
  g_assert_null (graft_model_chooser_get_row (GRAFT_MODEL_CHOOSER (chooser), "no-such-model"));
  /* Size, FLOPs, parameters and licence. */
  g_assert_nonnull (find_label_containing (good, "MB · 33.0 MFLOPs · 308 K parameters · CC0-1.0"));
  g_assert_null (visible_button (good, _("_Use")));
  app_test_save_shot (chooser, "chooser-light.png");

  /* Downloading: the row shows the progress, with a Cancel button. */
  click (visible_button (good, _("_Download")));
  g_assert_cmpuint (graft_model_chooser_get_n_downloads (GRAFT_MODEL_CHOOSER (chooser)), ==, 1);
  g_assert_nonnull (visible_button (good, _("_Cancel")));
  g_assert_null (visible_button (good, _("_Download")));
  wait_until (row_progress_shows, good, 20, "the good download's progress");
  label = find_label_containing (good, "/s · ");
  g_test_message ("progress: %s", gtk_label_get_text (GTK_LABEL (label)));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (label)), " of "));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (label)), "left"));
  scroll_to (good);
  app_test_save_light_and_dark (chooser, "chooser-downloading");

  /* Hidden, the dialog goes on downloading; the page says when it is done. */
  gtk_window_close (GTK_WINDOW (chooser));
  app_test_iterate_for (50);
  g_assert_false (gtk_widget_get_visible (chooser));
  g_assert_true (find_chooser () == chooser);
  wait_until (row_offers_use, good, 30, "the good download to finish");
  g_assert_true (g_file_test (good_path, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (good_part, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (file_size (good_path), ==, g_bytes_get_size (ts->content));
  g_assert_cmpuint (toasts->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (toasts, 0), "Test Classifier"));
  g_assert_cmpuint (graft_model_chooser_get_n_downloads (GRAFT_MODEL_CHOOSER (chooser)), ==, 0);

  /* The same dialog comes back. */
  g_assert_true (gtk_widget_activate_action (page, "model-page.choose", NULL));
  g_assert_true (find_chooser () == chooser);
  g_assert_true (gtk_widget_get_visible (chooser));
  app_test_iterate_for (100);
  g_assert_nonnull (visible_button (good, _("_Use")));

  /* A wrong checksum: an error in the row, Retry, and no file left behind. */
  click (visible_button (bad, _("_Download")));
  wait_until (row_offers_retry, bad, 30, "the bad download to fail");
  label = find_label_containing (bad, "checksum");
  g_assert_nonnull (label);
  g_assert_true (gtk_widget_has_css_class (label, "error"));
  g_test_message ("error: %s (%s)", gtk_label_get_text (GTK_LABEL (label)), gtk_widget_get_tooltip_text (label));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (label), "SHA-256"));
  g_assert_false (g_file_test (bad_path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (bad_part, G_FILE_TEST_EXISTS));
  g_assert_null (visible_button (bad, _("_Use")));
  g_assert_cmpuint (toasts->len, ==, 1);   /* the dialog is in view: no toast */

  /* Cancelled: the part stays, and the row offers to resume. */
  click (visible_button (slow, _("_Download")));
  {
    PartWait w = { slow_part, 8192 };
    wait_until (part_has, &w, 30, "the slow download to start");
  }
  click (visible_button (slow, _("_Cancel")));
  wait_until (row_offers_resume, slow, 30, "the slow download to stop");
  kept = file_size (slow_part);
  g_test_message ("kept %" G_GUINT64_FORMAT " bytes", kept);
  g_assert_cmpuint (kept, >=, 8192);
  g_assert_cmpuint (kept, <, g_bytes_get_size (ts->content));
  g_assert_false (g_file_test (slow_path, G_FILE_TEST_EXISTS));
  g_assert_nonnull (find_label_containing (slow, "Paused"));
  g_assert_null (ts->slow_range);
  scroll_to (good);
  app_test_save_shot (chooser, "chooser-after-light.png");

  /* Resume asks for the rest. */
  ts->slow_is_fast = TRUE;
  click (visible_button (slow, _("_Resume")));
  wait_until (row_offers_use, slow, 30, "the resumed download to finish");
  {
    g_autofree char *range = g_strdup_printf ("bytes=%" G_GUINT64_FORMAT "-", kept);
    g_assert_cmpstr (ts->slow_range, ==, range);
  }
  g_assert_cmpuint (file_size (slow_path), ==, g_bytes_get_size (ts->content));
  g_assert_false (g_file_test (slow_part, G_FILE_TEST_EXISTS));

  /* Remove deletes the file; the row offers to download again. */
  click (find_by_tooltip (slow, _("Remove the downloaded file")));
  g_assert_false (g_file_test (slow_path, G_FILE_TEST_EXISTS));
  g_assert_nonnull (visible_button (slow, _("_Download")));

  /* Use: the dialog closes and the page loads the model, with the catalog's preprocessing
   * and cut rather than guesses. */
  click (visible_button (good, _("_Use")));
  g_assert_false (gtk_widget_get_visible (chooser));
  loaded[0] = session;
  loaded[1] = good_path;
  wait_until (session_has_model, loaded, 30, "the model to load");
  model = graft_session_get_model (session);
  g_assert_cmpstr (g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING), ==,
                   good_entry->preprocessing_json);
  spec = graft_session_get_spec (session);
  g_assert_true (spec->preprocessing.bgr);
  g_assert_cmpint (spec->preprocessing.size, ==, 32);
  g_assert_cmpint (spec->preprocessing.resize, ==, 40);
  g_assert_cmpfloat_with_epsilon (spec->preprocessing.mean[1], 0.4f, 1e-6);
  g_assert_cmpfloat_with_epsilon (spec->preprocessing.std[2], 0.3f, 1e-6);
  g_assert_cmpstr (spec->cut, ==, GOOD_CUT);
  /* The file's checksum is the verified entry's (no second hash of the file). */
  g_assert_cmpstr (spec->model_sha256, ==, good_entry->sha256);
  g_assert_cmpint (graft_session_get_cut_block (session), ==, 3);   /* layer3.0 */
  g_assert_cmpstr (graft_session_get_block (session, 3)->name, ==, "layer3.0");
  /* The page calls it by the catalog's title. */
  app_test_iterate_for (50);
  g_assert_nonnull (find_widget (page, GTK_TYPE_LABEL, "Test Classifier", TRUE));
  /* A strategy keeps the cut. */
  graft_session_set_strategy (session, GRAFT_STRATEGY_FINE_TUNE);
  g_assert_cmpstr (graft_session_get_spec (session)->cut, ==, GOOD_CUT);

  /* The same file loaded by another name (a link) is the same catalog model. */
  {
    g_autofree char *dir = g_dir_make_tmp ("graft-app-catalog-XXXXXX", NULL);
    g_autofree char *link = g_build_filename (dir, "linked.onnx", NULL);
    g_assert_cmpint (symlink (good_path, link), ==, 0);
    g_assert_true (graft_session_load_model (session, link, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (graft_session_get_spec (session)->cut, ==, GOOD_CUT);
    g_assert_true (graft_session_get_spec (session)->preprocessing.bgr);
    g_unlink (link);
    g_rmdir (dir);
  }
  /* The starter model keeps its own preprocessing, and the default cut. */
  {
    g_autofree char *starter = graft_model_page_find_starter_model ();
    g_assert_true (graft_session_load_model (session, starter, &error));
    g_assert_no_error (error);
    g_assert_false (graft_session_get_spec (session)->preprocessing.bgr);
    g_assert_null (graft_session_get_spec (session)->cut);
  }

  /* The layer list at 1000 px (the details shown): layer2.0's long names are whole. */
  g_assert_true (graft_session_load_model (session, good_path, &error));
  gtk_widget_activate_action (GTK_WIDGET (graft_model_page_get_freeze_map (GRAFT_MODEL_PAGE (page))),
                              "freeze-map.select", "i", 2);
  /* Below about 1100 px the page shows the freeze map and the details one at a time. */
  {
    AdwLeaflet *leaflet = ADW_LEAFLET (app_test_template_child (page, GRAFT_TYPE_MODEL_PAGE, "leaflet"));
    if (adw_leaflet_get_folded (leaflet))
      adw_leaflet_set_visible_child_name (leaflet, "details");
  }
  app_test_iterate_for (300);
  {
    int names = 0;
    int cut = count_cut_names (page, &names);
    g_test_message ("%d layer names shown, %d cut short", names, cut);
    g_assert_cmpint (names, >=, 5);
    g_assert_cmpint (cut, ==, 0);
  }
  app_test_save_shot (window, "model-page-catalog-1000.png");

  gtk_window_destroy (GTK_WINDOW (window));
  app_test_iterate_for (50);
  /* The page took its dialog with it. */
  g_assert_null (find_chooser ());
}

int
main (int argc, char **argv)
{
  g_autofree char *data_home = NULL;
  int status;

  /* Loopback only: no proxy from the environment or the desktop. Set before anything
   * reads the data folder (g_get_user_data_dir caches it). */
  test_no_proxy ();
  data_home = test_private_user_dirs ("graft-test-app-catalog-XXXXXX", TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      test_remove_tree (data_home);
      return 0;
    }
  adw_init ();
  g_assert_cmpstr (g_get_user_data_dir (), ==, data_home);
  g_test_add_func ("/app/catalog/chooser", test_chooser);
  status = g_test_run ();
  test_remove_tree (data_home);
  return status;
}
