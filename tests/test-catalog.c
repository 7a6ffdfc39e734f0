/* The model catalog: the bundled data, the user catalog, verification, and downloads
 * against an HTTP server on 127.0.0.1 started by the test (a SoupServer in this
 * process, on a random port): a whole download, a connection cut mid-way then resumed
 * with Range, a server that ignores Range, a part that is already whole (416), a wrong
 * checksum, a 404, a slow server cancelled and resumed, and no server at all.
 *
 * XDG_DATA_HOME is a temporary folder, emptied before each test, so models and user
 * catalogs never touch the real one. (Not G_TEST_OPTION_ISOLATE_DIRS: GLib 2.74 leaks
 * there, which the sanitizer build reports.) */
#include <glib.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/download.h"
#include "base/file-hash.h"
#include "model/model-private.h"
#include "gradcheck.h"

#define CONTENT_SIZE (1536 * 1024 + 123)

/* ------------------------------------------------------------------------ */
/* The test server                                                          */

typedef enum {
  SERVE_WHOLE,          /* honours Range */
  SERVE_IGNORE_RANGE,   /* always 200 with the whole file */
  SERVE_CUT,            /* sends cut_after bytes of the body, then closes; then serves whole */
  SERVE_SLOW,           /* 4 KiB at once, then 1 KiB every 20 ms */
  SERVE_NOT_FOUND,
} ServeMode;

typedef struct {
  SoupServer *server;
  char *base_url;
  GBytes *content;
  ServeMode mode;
  gsize cut_after;
  int requests;
  char *last_range;     /* the Range header of the last request, or NULL */
  GIOStream *slow_stream;
  guint slow_source;
  gsize slow_offset;
} TestServer;

static gboolean
write_text (GOutputStream *out, const char *text)
{
  return g_output_stream_write_all (out, text, strlen (text), NULL, NULL, NULL);
}

static gboolean
slow_write (gpointer data)
{
  TestServer *ts = data;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (ts->content, &size);
  gsize n = MIN (1024, size - ts->slow_offset);
  GOutputStream *out = g_io_stream_get_output_stream (ts->slow_stream);

  if (n == 0 || !g_output_stream_write_all (out, bytes + ts->slow_offset, n, NULL, NULL, NULL))
    {
      /* Done, or the client went away (cancelled). */
      g_io_stream_close (ts->slow_stream, NULL, NULL);
      g_clear_object (&ts->slow_stream);
      ts->slow_source = 0;
      return G_SOURCE_REMOVE;
    }
  ts->slow_offset += n;
  return G_SOURCE_CONTINUE;
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  TestServer *ts = data;
  const char *range = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Range");
  gsize size;
  const guint8 *bytes = g_bytes_get_data (ts->content, &size);
  guint64 start = 0;
  g_autofree char *head = NULL;
  g_autoptr (GIOStream) io = NULL;
  GOutputStream *out;
  gsize end;

  ts->requests++;
  g_free (ts->last_range);
  ts->last_range = g_strdup (range);
  if (range != NULL && ts->mode != SERVE_IGNORE_RANGE)
    g_assert_cmpint (sscanf (range, "bytes=%" G_GUINT64_FORMAT "-", &start), ==, 1);

  io = soup_server_message_steal_connection (msg);
  out = g_io_stream_get_output_stream (io);
  if (ts->mode == SERVE_NOT_FOUND)
    {
      write_text (out, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
      g_io_stream_close (io, NULL, NULL);
      return;
    }
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

  switch (ts->mode)
    {
    case SERVE_SLOW:
      end = MIN (size, start + 4096);
      g_output_stream_write_all (out, bytes + start, end - start, NULL, NULL, NULL);
      ts->slow_offset = end;
      ts->slow_stream = g_steal_pointer (&io);
      ts->slow_source = g_timeout_add (20, slow_write, ts);
      return;
    case SERVE_CUT:
      end = MIN (size, start + ts->cut_after);
      ts->mode = SERVE_WHOLE;
      break;
    default:
      end = size;
      break;
    }
  /* The client reads in its own thread: blocking writes here are fine. */
  g_output_stream_write_all (out, bytes + start, end - start, NULL, NULL, NULL);
  g_io_stream_close (io, NULL, NULL);
}

static GBytes *
make_content (gsize size, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, size);
}

static TestServer *
test_server_new (void)
{
  TestServer *ts = g_new0 (TestServer, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  ts->content = make_content (CONTENT_SIZE, 42);
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
  if (ts->slow_source != 0)
    g_source_remove (ts->slow_source);
  if (ts->slow_stream != NULL)
    g_io_stream_close (ts->slow_stream, NULL, NULL);
  g_clear_object (&ts->slow_stream);
  soup_server_disconnect (ts->server);
  g_object_unref (ts->server);
  g_bytes_unref (ts->content);
  g_free (ts->base_url);
  g_free (ts->last_range);
  g_free (ts);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_free)

static char *
content_sha256 (GBytes *content)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, content);
}

/* A catalog with one entry "test-model" at url, of size bytes and with sha256. */
static GraftCatalog *
one_entry_catalog (const char *url, gsize bytes, const char *sha256)
{
  GraftCatalog *catalog = graft_catalog_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
    "{\"catalog\": 1, \"models\": [{\"name\": \"test-model\", \"description\": \"generated bytes\", "
    "\"url\": \"%s\", \"bytes\": %zu, \"sha256\": \"%s\", \"licence\": \"CC0-1.0\", \"input_size\": 224, "
    "\"preprocessing\": {\"size\": 224}, \"cut\": \"features\"}]}", url, bytes, sha256);
  g_assert_true (graft_catalog_add_data (catalog, json, -1, "test catalog", TRUE, &error));
  g_assert_no_error (error);
  return catalog;
}

static GraftCatalog *
server_catalog (TestServer *ts, const char *sha256)
{
  g_autofree char *url = g_strconcat (ts->base_url, "/models/test-model.onnx", NULL);
  g_autofree char *digest = content_sha256 (ts->content);
  return one_entry_catalog (url, g_bytes_get_size (ts->content), sha256 != NULL ? sha256 : digest);
}

static gsize
file_size (const char *path)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    return 0;
  return (gsize) st.st_size;
}

typedef struct {
  int events;
  GraftDownloadProgress last;
  guint64 cancel_after;     /* cancel once this many bytes are in (0: never) */
  GCancellable *cancellable;
  gboolean saw_rate;
} ProgressLog;

static void
on_progress (GraftDownload *download, gpointer data)
{
  ProgressLog *log = data;
  GraftDownloadProgress p;
  graft_download_get_progress (download, &p);
  /* Always on the thread that started the download. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_assert_cmpuint (p.received, >=, log->last.received);
  g_assert_cmpuint (p.received, <=, p.total);
  if (p.rate > 0)
    {
      log->saw_rate = TRUE;
      g_assert_cmpfloat (p.eta, >=, 0);
    }
  log->last = p;
  log->events++;
  if (log->cancel_after > 0 && p.received >= log->cancel_after)
    g_cancellable_cancel (log->cancellable);
}

static gboolean
download (const GraftCatalogEntry *entry, ProgressLog *log, GError **error)
{
  g_autoptr (GraftDownload) dl = graft_download_new (entry, NULL);
  g_signal_connect (dl, "progress", G_CALLBACK (on_progress), log);
  return graft_download_run (dl, log->cancellable, error);
}

/* ------------------------------------------------------------------------ */
/* The catalog                                                              */

static void
fresh_data_dir (void)
{
  g_autofree char *graft = g_build_filename (g_get_user_data_dir (), "graft", NULL);
  test_remove_tree (graft);
}

static void
test_bundled (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (&error);
  g_autoptr (GBytes) global = NULL;
  static const char *const names[] = { "mobilenetv2-7", "mobilenetv2-12", "resnet18-v1-7", "resnet50-v1-12",
                                       "squeezenet1.1-7", "efficientnet-lite4-11", "shufflenet-v2-12",
                                       "densenet-12", "convnext_tiny_in22ft1k_Opset17",
                                       "vit_base_patch16_224_Opset17" };
  const GraftCatalogEntry *entry;

  g_assert_no_error (error);
  g_assert_cmpuint (graft_catalog_get_n_entries (catalog), ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *url = g_strdup_printf ("https://huggingface.co/onnxmodelzoo/%s/resolve/main/%s.onnx",
                                              names[i], names[i]);
      entry = graft_catalog_get_entry (catalog, i);
      g_assert_cmpstr (entry->name, ==, names[i]);
      g_assert_cmpstr (entry->url, ==, url);
      g_assert_cmpuint (strlen (entry->sha256), ==, 64);
      g_assert_cmpint (entry->input_size, ==, 224);
      g_assert_cmpint (entry->preprocessing.size, ==, 224);
      g_assert_nonnull (entry->cut);
      g_assert_nonnull (entry->licence);
      /* The zoo's TurnkeyML exports have no README: their export script labels the licence. */
      if (g_str_has_suffix (names[i], "_Opset17"))
        g_assert_true (g_str_has_prefix (entry->licence_source, "as labelled by the ONNX Model Zoo's export script"));
      else
        g_assert_cmpstr (entry->licence_source, ==, "as listed by the ONNX Model Zoo");
      g_assert_cmpfloat (entry->flops, >, 1e8);
      g_assert_false (entry->from_user);
      g_assert_true (graft_catalog_find (catalog, names[i]) == entry);
    }
  entry = graft_catalog_find (catalog, "resnet50-v1-12");
  g_assert_cmpuint (entry->bytes, ==, 102576593);
  g_assert_cmpstr (entry->sha256, ==, "3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526");
  /* EfficientNet-Lite4: NHWC, (x - 127) / 128 on 0..255. */
  entry = graft_catalog_find (catalog, "efficientnet-lite4-11");
  g_assert_true (entry->preprocessing.nhwc);
  g_assert_cmpfloat (entry->preprocessing.mean[0], ==, 127.0f);
  g_assert_cmpfloat (entry->preprocessing.std[2], ==, 128.0f);
  g_assert_cmpfloat (entry->preprocessing.scale, ==, 1.0f);
  g_assert_cmpstr (entry->licence, ==, "MIT");
  /* The MXNet models: ImageNet mean and std on 0..1, NCHW. */
  entry = graft_catalog_find (catalog, "mobilenetv2-7");
  g_assert_false (entry->preprocessing.nhwc);
  g_assert_cmpfloat_with_epsilon (entry->preprocessing.mean[0], 0.485f, 1e-6);
  g_assert_cmpfloat_with_epsilon (entry->preprocessing.scale, 1.0f / 255, 1e-7);
  g_assert_true (entry->supported);
  /* ShuffleNet V2's channel split (ONNX Split) imports: every bundled model works. */
  entry = graft_catalog_find (catalog, "shufflenet-v2-12");
  g_assert_true (entry->supported);
  g_assert_null (entry->support_note);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_true (graft_catalog_get_entry (catalog, i)->supported);
  /* ConvNeXt-Tiny: size and SHA-256 of the Git LFS pointer in github.com/onnx/models
   * (Computer_Vision/convnext_tiny_in22ft1k_Opset17_timm), timm's preprocessing (bicubic
   * to 256, crop 224), the features after the head's LayerNorm; the file names its input
   * after the forward argument, and its output by a number nobody published. */
  entry = graft_catalog_find (catalog, "convnext_tiny_in22ft1k_Opset17");
  g_assert_cmpuint (entry->bytes, ==, 114434309);
  g_assert_cmpstr (entry->sha256, ==, "d11e7f119644d14484acb73a961d93183ef3f35d827dea71228dcdce1f30d246");
  g_assert_nonnull (strstr (entry->source, "69d69010b7ed6ba9438c392943d2715026792d40"));
  g_assert_nonnull (strstr (entry->source, "Computer_Vision/convnext_tiny_in22ft1k_Opset17_timm/"));
  g_assert_cmpint (entry->opset, ==, 17);
  g_assert_cmpstr (entry->input_name, ==, "x");
  g_assert_null (entry->output_name);
  g_assert_cmpstr (entry->cut, ==, "/head/flatten/Flatten_output_0");
  g_assert_cmpint (entry->features, ==, 768);
  g_assert_cmpint (entry->preprocessing.resize, ==, 256);
  g_assert_false (entry->preprocessing.nhwc);
  g_assert_cmpfloat_with_epsilon (entry->preprocessing.std[2], 0.225f, 1e-6);
  g_assert_cmpstr (entry->licence, ==, "Apache-2.0");
  /* ViT-B/16: the LFS pointer in the zoo's skip/ folder (not validated by the zoo, which
   * the description says), timm's preprocessing (mean and std 0.5, crop_pct 0.9), the
   * class token x[:, 0] as the features. */
  entry = graft_catalog_find (catalog, "vit_base_patch16_224_Opset17");
  g_assert_cmpuint (entry->bytes, ==, 346368034);
  g_assert_cmpstr (entry->sha256, ==, "c10a69bdef419b4159a3297d7a5ab2ba9e14bb25392aae474a996c534dae30ad");
  g_assert_nonnull (strstr (entry->source, "Computer_Vision/skip/vit_base_patch16_224_Opset17_timm/"));
  g_assert_nonnull (strstr (entry->source, "b1eeaa1ac722dcc1cd1a8284bde34393dab61c3d"));
  g_assert_nonnull (strstr (entry->description, "skip/"));
  g_assert_cmpint (entry->opset, ==, 17);
  g_assert_cmpstr (entry->input_name, ==, "x");
  g_assert_null (entry->output_name);
  g_assert_cmpstr (entry->cut, ==, "/Gather_output_0");
  g_assert_cmpint (entry->features, ==, 768);
  g_assert_cmpint (entry->preprocessing.resize, ==, 248);
  g_assert_cmpfloat_with_epsilon (entry->preprocessing.mean[0], 0.5f, 1e-6);
  g_assert_cmpfloat_with_epsilon (entry->preprocessing.std[1], 0.5f, 1e-6);
  g_assert_null (graft_catalog_find (catalog, "resnet1000"));
  g_assert_null (graft_catalog_lookup (catalog, "resnet1000", &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "mobilenetv2-7"));

  /* The resource is registered for everyone (the app looks it up by path). */
  global = g_resources_lookup_data ("/io/github/graftlab/Graft/catalog.json", G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  g_assert_nonnull (global);
}

static void
write_user_catalog (const char *json)
{
  g_autofree char *path = graft_catalog_user_file ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, json, -1, &error);
  g_assert_no_error (error);
}

static void
test_user_catalog (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GraftCatalog) bundled = graft_catalog_load_bundled (NULL);
  g_autofree char *user_file = graft_catalog_user_file ();
  const GraftCatalogEntry *entry, *original;

  /* No user file: the bundled catalog. */
  catalog = graft_catalog_load (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_catalog_get_n_entries (catalog), ==, graft_catalog_get_n_entries (bundled));
  g_clear_pointer (&catalog, graft_catalog_free);

  write_user_catalog (
    "{\"catalog\": 1, \"models\": ["
    " {\"name\": \"mobilenetv2-7\", \"url\": \"http://mirror.example.org/mnv2.onnx\", \"title\": \"Mirrored\"},"
    " {\"name\": \"densenet-12\", \"support\": \"unsupported\", \"support_note\": \"Not on this machine.\"},"
    " {\"name\": \"my-net\", \"description\": \"mine\", \"url\": \"https://example.org/my-net.onnx\","
    "  \"bytes\": 1234, \"sha256\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
    "  \"licence\": \"CC-BY-4.0\", \"input_size\": 160, \"cut\": \"pool\","
    "  \"preprocessing\": {\"size\": 160, \"resize\": 182, \"channels\": \"BGR\"}}]}");
  catalog = graft_catalog_load (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_catalog_get_n_entries (catalog), ==, graft_catalog_get_n_entries (bundled) + 1);

  /* Overridden member by member: the rest is the bundled entry's. */
  entry = graft_catalog_find (catalog, "mobilenetv2-7");
  original = graft_catalog_find (bundled, "mobilenetv2-7");
  g_assert_cmpstr (entry->url, ==, "http://mirror.example.org/mnv2.onnx");
  g_assert_cmpstr (entry->title, ==, "Mirrored");
  g_assert_cmpstr (entry->sha256, ==, original->sha256);
  g_assert_cmpuint (entry->bytes, ==, original->bytes);
  g_assert_cmpstr (entry->cut, ==, original->cut);
  g_assert_true (entry->from_user);
  g_assert_cmpstr (entry->origin, ==, user_file);
  g_assert_true (graft_catalog_get_entry (catalog, 0) == entry); /* keeps its place */
  /* A user file can say that a model does not work, and why. */
  entry = graft_catalog_find (catalog, "densenet-12");
  g_assert_false (entry->supported);
  g_assert_cmpstr (entry->support_note, ==, "Not on this machine.");
  g_assert_true (graft_catalog_find (bundled, "densenet-12")->supported);

  /* Added, at the end. */
  entry = graft_catalog_get_entry (catalog, graft_catalog_get_n_entries (catalog) - 1);
  g_assert_cmpstr (entry->name, ==, "my-net");
  g_assert_cmpstr (entry->sha256, ==, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  g_assert_true (entry->preprocessing.bgr);
  g_assert_cmpint (entry->preprocessing.resize, ==, 182);
  g_assert_true (entry->supported);
  g_assert_true (entry->from_user);
}

static void
expect_parse_error (const char *json, const char *const *fragments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autofree char *user_file = graft_catalog_user_file ();

  write_user_catalog (json);
  catalog = graft_catalog_load (&error);
  g_assert_null (catalog);
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE);
  g_test_message ("%s", error->message);
  /* The message names the file, then what is wrong. */
  g_assert_true (g_str_has_prefix (error->message, user_file));
  for (int i = 0; fragments[i] != NULL; i++)
    if (strstr (error->message, fragments[i]) == NULL)
      g_error ("'%s' is not in the message: %s", fragments[i], error->message);
}

static void
test_parse_errors (void)
{
  static const char *const syntax[] = { "not a valid catalog file", NULL };
  static const char *const not_object[] = { "must hold a JSON object", NULL };
  static const char *const format[] = { "\"catalog\" must be 1", NULL };
  static const char *const missing_sha[] = { "model 1 (\"new-net\")", "\"sha256\" is missing", NULL };
  static const char *const bad_sha[] = { "model 2 (\"resnet18-v1-7\")", "64 hexadecimal digits", NULL };
  static const char *const bad_name[] = { "model 1", "the name must be", NULL };
  static const char *const bad_url[] = { "\"url\" must be an http or https address", NULL };
  static const char *const bad_prep[] = { "\"mobilenetv2-7\"", "preprocessing", NULL };
  static const char *const size_mismatch[] = { "\"input_size\" is 299", NULL };
  static const char *const twice[] = { "names this model twice", NULL };
  static const char *const bad_bytes[] = { "\"bytes\"", NULL };
  g_autoptr (GraftCatalog) catalog = graft_catalog_new ();
  g_autoptr (GError) error = NULL;

  expect_parse_error ("{\"catalog\": 1, \"models\": [", syntax);
  expect_parse_error ("[1, 2]", not_object);
  expect_parse_error ("{\"catalog\": 2, \"models\": []}", format);
  expect_parse_error ("{\"models\": [{\"name\": \"new-net\", \"description\": \"d\", \"url\": \"https://x.org/a\","
                      " \"bytes\": 1, \"licence\": \"MIT\", \"input_size\": 224, \"preprocessing\": {},"
                      " \"cut\": \"c\"}]}", missing_sha);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\"}, {\"name\": \"resnet18-v1-7\", \"sha256\": \"abc\"}]}",
                      bad_sha);
  expect_parse_error ("{\"models\": [{\"name\": \"../../etc/passwd\"}]}", bad_name);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\", \"url\": \"file:///etc/passwd\"}]}", bad_url);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\", \"preprocessing\": {\"layout\": \"CHWN\"}}]}",
                      bad_prep);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\", \"input_size\": 299}]}", size_mismatch);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\"}, {\"name\": \"mobilenetv2-7\"}]}", twice);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\", \"bytes\": -5}]}", bad_bytes);
  expect_parse_error ("{\"models\": [{\"name\": \"mobilenetv2-7\", \"bytes\": 1.5}]}", bad_bytes);

  /* A broken file adds nothing, even when its first entries are fine. */
  g_assert_false (graft_catalog_add_data (catalog,
                                          "{\"models\": [{\"name\": \"a\", \"description\": \"d\", "
                                          "\"url\": \"https://x.org/a\", \"bytes\": 1, \"sha256\": \""
                                          "0000000000000000000000000000000000000000000000000000000000000000\", "
                                          "\"licence\": \"MIT\", \"input_size\": 224, \"preprocessing\": {}, "
                                          "\"cut\": \"c\"}, {\"name\": \"b\"}]}", -1, "two.json", FALSE, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, "two.json: model 2 (\"b\")"));
  g_assert_cmpuint (graft_catalog_get_n_entries (catalog), ==, 0);
}

static void
test_verify (void)
{
  g_autoptr (GBytes) content = make_content (100000, 7);
  g_autofree char *sha = content_sha256 (content);
  g_autoptr (GraftCatalog) catalog = one_entry_catalog ("https://example.org/m.onnx", 100000, sha);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *note = g_strconcat (path, ".verified", NULL);
  g_autofree char *models = graft_catalog_models_dir ();
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *changed = g_memdup2 (g_bytes_get_data (content, NULL), 100000);
  GStatBuf st;

  g_assert_true (g_str_has_prefix (path, g_get_user_data_dir ()));
  g_assert_true (g_str_has_suffix (path, "/graft/models/test-model.onnx"));
  g_assert_false (graft_catalog_is_downloaded (entry));
  g_assert_false (graft_catalog_verify (entry, NULL, FALSE, NULL, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_DOWNLOADED);
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (content, NULL), 100000, NULL));
  g_assert_true (graft_catalog_is_downloaded (entry));
  g_assert_true (g_file_test (note, G_FILE_TEST_EXISTS));
  g_assert_true (graft_catalog_is_downloaded (entry)); /* from the note */

  /* The note is keyed by size and modification time: a changed file is hashed again. */
  changed[500] ^= 0xff;
  g_assert_true (g_file_set_contents (path, (const char *) changed, 100000, NULL));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  {
    /* Make sure the modification time differs, whatever the clock's resolution. */
    g_autoptr (GFile) file = g_file_new_for_path (path);
    g_assert_true (g_file_set_attribute_uint64 (file, G_FILE_ATTRIBUTE_TIME_MODIFIED, (guint64) st.st_mtime + 5,
                                                G_FILE_QUERY_INFO_NONE, NULL, NULL));
  }
  g_assert_false (graft_catalog_is_downloaded (entry));
  g_assert_false (graft_catalog_verify (entry, NULL, FALSE, NULL, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (error->message, "SHA-256"));
  g_assert_false (g_file_test (note, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* A file of the wrong size is not even hashed. */
  g_assert_true (g_file_set_contents (path, "short", -1, NULL));
  g_assert_false (graft_catalog_verify (entry, NULL, TRUE, NULL, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (error->message, "5 bytes"));
}

/* Files are hashed in chunks (1 MiB): a file of several chunks and a part one, an empty
 * file, and a missing one, whose error says the model is not downloaded. */
static void
test_checksum_file (void)
{
  gsize sizes[] = { (1 << 20) * 2 + 12345, 0 };
  g_autofree char *models = graft_catalog_models_dir ();
  g_autofree char *path = g_build_filename (models, "hashed.bin", NULL);
  g_autofree char *missing = g_build_filename (models, "missing.bin", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint64 size = 1;

  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) content = make_content (sizes[i], 3);
      g_autofree char *want = content_sha256 (content);
      g_autofree char *got = NULL;

      g_assert_true (g_file_set_contents (path, g_bytes_get_data (content, NULL), (gssize) sizes[i], NULL));
      got = graft_catalog_file_sha256 (path, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (got, ==, want);
      /* The same through a checksum the caller keeps, with the count of bytes. */
      g_checksum_reset (checksum);
      g_assert_true (graft_file_checksum (checksum, path, &size, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (size, ==, sizes[i]);
      g_assert_cmpstr (g_checksum_get_string (checksum), ==, want);
    }

  g_assert_false (graft_file_checksum (checksum, missing, &size, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (size, ==, 0);
  g_clear_error (&error);
  g_assert_null (graft_catalog_file_sha256 (missing, NULL, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_DOWNLOADED);
  g_assert_true (g_str_has_prefix (error->message, missing));
  g_clear_error (&error);

  /* A FIFO is refused, not waited on: as a file to hash and as a catalog file. */
  g_autofree char *pipe = g_build_filename (models, "pipe.json", NULL);
  g_assert_cmpint (mkfifo (pipe, 0600), ==, 0);
  alarm (30);   /* a regression blocks in open(): SIGALRM fails the test instead of hanging */
  g_assert_false (graft_file_checksum (checksum, pipe, &size, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_assert_nonnull (strstr (error->message, "pipe.json is not a regular file (a FIFO)"));
  g_clear_error (&error);
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (&error);
  g_assert_no_error (error);
  g_assert_false (graft_catalog_add_file (catalog, pipe, TRUE, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file (a FIFO)"));
  alarm (0);
  g_unlink (pipe);
}

/* A model's downloaded file is found back from its path, however the path is spelt. */
static void
test_find_file (void)
{
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (NULL);
  g_autofree char *models = graft_catalog_models_dir ();
  g_autofree char *parent = g_path_get_dirname (models);
  const GraftCatalogEntry *resnet = graft_catalog_find (catalog, "resnet18-v1-7");
  const GraftCatalogEntry *entry;
  g_autofree char *path = graft_catalog_model_path (resnet);
  g_autofree char *dotted = g_build_filename (models, "..", "models", ".", "resnet18-v1-7.onnx", NULL);
  g_autofree char *link_dir = g_build_filename (parent, "linked", NULL);
  g_autofree char *linked = g_build_filename (link_dir, "resnet18-v1-7.onnx", NULL);
  g_autofree char *other = g_build_filename (models, "resnet18-v1-7.onnx.part", NULL);
  g_autofree char *cwd = g_get_current_dir ();

  g_assert_nonnull (resnet);
  /* The file need not be there (nor its folder). */
  g_assert_true (graft_catalog_find_file (catalog, path) == resnet);
  g_assert_true (graft_catalog_find_file (catalog, dotted) == resnet);

  /* Each entry finds its own file. */
  for (guint i = 0; i < graft_catalog_get_n_entries (catalog); i++)
    {
      g_autofree char *file = graft_catalog_model_path (graft_catalog_get_entry (catalog, i));
      g_assert_true (graft_catalog_find_file (catalog, file) == graft_catalog_get_entry (catalog, i));
    }

  /* Through a symbolic link to the folder, and relative to the current folder. */
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  g_assert_cmpint (symlink (models, link_dir), ==, 0);
  g_assert_true (graft_catalog_find_file (catalog, linked) == resnet);
  g_assert_cmpint (g_chdir (models), ==, 0);
  entry = graft_catalog_find_file (catalog, "resnet18-v1-7.onnx");
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_true (entry == resnet);

  /* Anything else is no catalog model. */
  g_assert_null (graft_catalog_find_file (catalog, other));
  g_assert_null (graft_catalog_find_file (catalog, "/tmp/resnet18-v1-7.onnx"));
  g_assert_null (graft_catalog_find_file (catalog, models));
  g_assert_null (graft_catalog_find_file (catalog, ""));
  g_unlink (link_dir);
}

/* A catalog model's preprocessing goes into the model's metadata, unless it has its own. */
static void
test_annotate (void)
{
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (NULL);
  const GraftCatalogEntry *efficientnet = graft_catalog_find (catalog, "efficientnet-lite4-11");
  const GraftCatalogEntry *mobilenet = graft_catalog_find (catalog, "mobilenetv2-7");
  g_autoptr (GraftModel) model = graft_model_new ();
  g_autoptr (GraftModel) own = graft_model_new ();
  g_autoptr (GError) error = NULL;
  GraftPreprocessing prep;
  const char *text;

  g_assert_true (graft_catalog_entry_annotate_model (efficientnet, model));
  text = g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING);
  g_assert_nonnull (text);
  g_assert_true (graft_preprocessing_from_json (text, &prep, &error));
  g_assert_no_error (error);
  /* EfficientNet-Lite4: NHWC, (x - 127) / 128 on 0..255, not ImageNet's. */
  g_assert_true (prep.nhwc);
  g_assert_cmpint (prep.size, ==, 224);
  g_assert_cmpfloat (prep.mean[0], ==, 127.0f);
  g_assert_cmpfloat (prep.std[1], ==, 128.0f);
  g_assert_cmpfloat (prep.scale, ==, 1.0f);
  g_assert_cmpmem (&prep, sizeof prep, &efficientnet->preprocessing, sizeof prep);
  /* Once there, it stays: another entry does not replace it. */
  g_assert_false (graft_catalog_entry_annotate_model (mobilenet, model));
  g_assert_cmpstr (g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING), ==, text);

  /* A file with preprocessing of its own keeps it. */
  g_hash_table_insert (own->metadata, g_strdup (GRAFT_METADATA_PREPROCESSING), g_strdup ("{\"size\": 32}"));
  g_assert_false (graft_catalog_entry_annotate_model (efficientnet, own));
  g_assert_cmpstr (g_hash_table_lookup (own->metadata, GRAFT_METADATA_PREPROCESSING), ==, "{\"size\": 32}");
  g_assert_cmpuint (g_hash_table_size (own->metadata), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Downloads                                                                */

static void
assert_downloaded (const GraftCatalogEntry *entry, GBytes *content)
{
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autofree char *note = g_strconcat (path, ".verified", NULL);
  g_autofree char *data = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  g_assert_cmpmem (data, size, g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (note, G_FILE_TEST_EXISTS));
  g_assert_true (graft_catalog_is_downloaded (entry));
}

static void
test_download_whole (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  g_assert_true (download (entry, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ts->requests, ==, 1);
  g_assert_null (ts->last_range);
  g_assert_cmpint (log.events, >=, 2);
  g_assert_cmpuint (log.last.received, ==, CONTENT_SIZE);
  g_assert_cmpuint (log.last.total, ==, CONTENT_SIZE);
  g_assert_cmpuint (log.last.resumed_from, ==, 0);
  assert_downloaded (entry, ts->content);
}

static void
test_download_resume (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autofree char *range = NULL;
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };
  const gsize cut = 600000;

  ts->mode = SERVE_CUT;
  ts->cut_after = cut;
  g_assert_false (download (entry, &log, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "resumes"));
  g_assert_cmpuint (file_size (part), ==, cut);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* Again: the request asks for the rest, and the whole file is verified. */
  memset (&log, 0, sizeof log);
  g_assert_true (download (entry, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ts->requests, ==, 2);
  range = g_strdup_printf ("bytes=%zu-", cut);
  g_assert_cmpstr (ts->last_range, ==, range);
  g_assert_cmpuint (log.last.resumed_from, ==, cut);
  g_assert_cmpuint (log.last.received, ==, CONTENT_SIZE);
  assert_downloaded (entry, ts->content);
}

static void
test_download_range_ignored (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autofree char *models = graft_catalog_models_dir ();
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  /* A part from before, and a server that answers 200 to a Range request. */
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_set_contents (part, g_bytes_get_data (ts->content, NULL), 1000, NULL));
  ts->mode = SERVE_IGNORE_RANGE;
  g_assert_true (download (entry, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ts->last_range, ==, "bytes=1000-");
  assert_downloaded (entry, ts->content);
}

static void
test_download_part_complete (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autofree char *models = graft_catalog_models_dir ();
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  /* The whole file is in the part already: the server answers 416. */
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_set_contents (part, g_bytes_get_data (ts->content, NULL), CONTENT_SIZE, NULL));
  g_assert_true (download (entry, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ts->requests, ==, 1);
  assert_downloaded (entry, ts->content);
}

static void
test_download_checksum (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog =
    server_catalog (ts, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  g_assert_false (download (entry, &log, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "SHA-256"));
  g_assert_nonnull (strstr (error->message, "The partial file was deleted"));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (log.last.verifying || log.last.received == CONTENT_SIZE);
}

static void
test_download_size_mismatch (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autofree char *url = g_strconcat (ts->base_url, "/m.onnx", NULL);
  g_autofree char *sha = content_sha256 (ts->content);
  /* The catalog says fewer bytes than the server has: refused before writing. */
  g_autoptr (GraftCatalog) catalog = one_entry_catalog (url, CONTENT_SIZE - 10, sha);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  g_assert_false (download (entry, &log, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (error->message, "bytes"));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_download_not_found (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };

  ts->mode = SERVE_NOT_FOUND;
  g_assert_false (download (entry, &log, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "not found at"));
  g_assert_nonnull (strstr (error->message, entry->url));
  g_assert_nonnull (strstr (error->message, "404"));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_download_cancel (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autofree char *path = graft_catalog_model_path (entry);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };
  gsize kept;

  ts->mode = SERVE_SLOW;
  log.cancellable = cancellable;
  log.cancel_after = 8192;
  g_assert_false (download (entry, &log, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "kept"));
  kept = file_size (part);
  g_assert_cmpuint (kept, >=, 8192);
  g_assert_cmpuint (kept, <, CONTENT_SIZE);
  g_assert_cmpuint (log.last.received, ==, kept);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* The part resumes. */
  ts->mode = SERVE_WHOLE;
  memset (&log, 0, sizeof log);
  g_assert_true (download (entry, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.last.resumed_from, ==, kept);
  assert_downloaded (entry, ts->content);
}

static void
test_download_no_network (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  ProgressLog log = { 0 };
  guint16 port;

  /* A port nobody listens on: take one, then let it go. */
  g_assert_true (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, &error));
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_listener_close (listener);
  url = g_strdup_printf ("http://127.0.0.1:%u/m.onnx", port);
  catalog = one_entry_catalog (url, 10, "0000000000000000000000000000000000000000000000000000000000000000");
  g_assert_false (download (graft_catalog_find (catalog, "test-model"), &log, &error));
  g_assert_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "No network"));
  g_assert_nonnull (strstr (error->message, "bundled starter model still works"));
}

static void
on_first_done (GObject *source, GAsyncResult *result, gpointer data)
{
  gboolean *done = data;
  g_autoptr (GError) error = NULL;
  g_assert_false (graft_download_finish (GRAFT_DOWNLOAD (source), result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  *done = TRUE;
}

static void
test_download_busy (void)
{
  g_autoptr (TestServer) ts = test_server_new ();
  g_autoptr (GraftCatalog) catalog = server_catalog (ts, NULL);
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, "test-model");
  g_autoptr (GraftDownload) dl = graft_download_new (entry, NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  gboolean first_done = FALSE;

  ts->mode = SERVE_SLOW;
  graft_download_start_async (dl, cancellable, on_first_done, &first_done);
  /* A second start while the first runs is refused. */
  g_assert_false (graft_download_run (dl, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_cancellable_cancel (cancellable);
  while (!first_done)
    g_main_context_iteration (NULL, TRUE);
}

static const struct {
  const char *path;
  void (*func) (void);
} tests[] = {
  { "/catalog/bundled", test_bundled },
  { "/catalog/user-catalog", test_user_catalog },
  { "/catalog/parse-errors", test_parse_errors },
  { "/catalog/verify", test_verify },
  { "/catalog/checksum-file", test_checksum_file },
  { "/catalog/find-file", test_find_file },
  { "/catalog/annotate", test_annotate },
  { "/catalog/download/whole", test_download_whole },
  { "/catalog/download/resume", test_download_resume },
  { "/catalog/download/range-ignored", test_download_range_ignored },
  { "/catalog/download/part-complete", test_download_part_complete },
  { "/catalog/download/checksum", test_download_checksum },
  { "/catalog/download/size-mismatch", test_download_size_mismatch },
  { "/catalog/download/not-found", test_download_not_found },
  { "/catalog/download/cancel", test_download_cancel },
  { "/catalog/download/no-network", test_download_no_network },
  { "/catalog/download/busy", test_download_busy },
};

/* Every test starts with an empty data folder. */
static void
run_fresh (gconstpointer data)
{
  fresh_data_dir ();
  tests[GPOINTER_TO_UINT (data)].func ();
}

int
main (int argc, char **argv)
{
  g_autofree char *data_home = NULL;
  int status;

  /* Loopback only: no proxy from the environment or the desktop. */
  test_no_proxy ();
  data_home = test_private_user_dirs ("graft-test-catalog-XXXXXX", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpstr (g_get_user_data_dir (), ==, data_home);
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    g_test_add_data_func (tests[i].path, GUINT_TO_POINTER (i), run_fresh);
  status = g_test_run ();
  test_remove_tree (data_home);
  return status;
}
