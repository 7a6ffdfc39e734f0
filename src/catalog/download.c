/* download.c: catalog downloads with libsoup 3 in a worker thread (see download.h). */
#include "catalog/download.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "base/file-hash.h"

#define CHUNK_SIZE 65536
#define PROGRESS_INTERVAL_USEC (100 * 1000)
#define RATE_SAMPLES 32              /* at least 100 ms apart: a window of about 3 s */
#define RATE_MIN_SPAN_USEC (250 * 1000)
#define IO_TIMEOUT_SECONDS 60
#define MAX_ATTEMPTS 3               /* requests per download (a 206 at the wrong offset restarts) */

#ifndef GRAFT_VERSION
#define GRAFT_VERSION "0"
#endif

struct _GraftDownload {
  GObject parent_instance;
  GraftCatalogEntry *entry;
  char *destination;
  char *part_path;
  GMainContext *caller_context;      /* where "progress" and the callback run */
  GMutex lock;                       /* guards progress */
  GraftDownloadProgress progress;
  gboolean running;
};

G_DEFINE_FINAL_TYPE (GraftDownload, graft_download, G_TYPE_OBJECT)

enum {
  SIGNAL_PROGRESS,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------------ */
/* The object                                                               */

static void
graft_download_finalize (GObject *object)
{
  GraftDownload *self = GRAFT_DOWNLOAD (object);
  graft_catalog_entry_free (self->entry);
  g_free (self->destination);
  g_free (self->part_path);
  g_clear_pointer (&self->caller_context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (graft_download_parent_class)->finalize (object);
}

static void
graft_download_class_init (GraftDownloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = graft_download_finalize;

  /**
   * GraftDownload::progress:
   *
   * Emitted on the main context the download was started from, at most every
   * 100 ms, and once at the end; read it with graft_download_get_progress().
   */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                           NULL, G_TYPE_NONE, 0);
}

static void
graft_download_init (GraftDownload *self)
{
  g_mutex_init (&self->lock);
  self->progress.eta = -1;
}

GraftDownload *
graft_download_new (const GraftCatalogEntry *entry, const char *destination)
{
  GraftDownload *self;
  g_return_val_if_fail (entry != NULL, NULL);
  self = g_object_new (GRAFT_TYPE_DOWNLOAD, NULL);
  self->entry = graft_catalog_entry_copy (entry);
  self->destination = destination != NULL ? g_strdup (destination) : graft_catalog_model_path (entry);
  self->part_path = g_strconcat (self->destination, ".part", NULL);
  self->progress.total = entry->bytes;
  return self;
}

const GraftCatalogEntry *
graft_download_get_entry (GraftDownload *self)
{
  g_return_val_if_fail (GRAFT_IS_DOWNLOAD (self), NULL);
  return self->entry;
}

const char *
graft_download_get_destination (GraftDownload *self)
{
  g_return_val_if_fail (GRAFT_IS_DOWNLOAD (self), NULL);
  return self->destination;
}

const char *
graft_download_get_part_path (GraftDownload *self)
{
  g_return_val_if_fail (GRAFT_IS_DOWNLOAD (self), NULL);
  return self->part_path;
}

void
graft_download_get_progress (GraftDownload *self, GraftDownloadProgress *progress)
{
  g_return_if_fail (GRAFT_IS_DOWNLOAD (self));
  g_mutex_lock (&self->lock);
  *progress = self->progress;
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* The job, in the worker thread                                            */

typedef struct {
  GraftDownload *self;          /* a reference */
  const GraftCatalogEntry *entry;
  char *host;
  GMainContext *context;        /* the worker's */
  GMainLoop *loop;
  GCancellable *cancellable;    /* may be NULL */
  SoupSession *session;
  SoupMessage *message;
  GInputStream *body;
  GOutputStream *out;
  GChecksum *checksum;          /* over the bytes of the .part file so far */
  guint64 received;
  guint64 resumed_from;
  int attempts;
  GError *error;                /* the outcome, once finished */
  gint64 last_post;
  gint64 sample_time[RATE_SAMPLES];
  guint64 sample_bytes[RATE_SAMPLES];
  int n_samples, next_sample;
} Job;

static void
job_free (Job *job)
{
  g_clear_object (&job->self);
  g_free (job->host);
  g_clear_pointer (&job->checksum, g_checksum_free);
  g_clear_object (&job->cancellable);
  g_clear_error (&job->error);
  g_free (job);
}

/* "1.6 MB", "9 kB" (ASCII: messages go to terminals in any locale). */
static char *
format_size (guint64 bytes)
{
  if (bytes < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  if (bytes < 1000 * 1000)
    return g_strdup_printf ("%.0f kB", (double) bytes / 1e3);
  return g_strdup_printf ("%.1f MB", (double) bytes / 1e6);
}

static gboolean
emit_progress (gpointer data)
{
  g_signal_emit (GRAFT_DOWNLOAD (data), signals[SIGNAL_PROGRESS], 0);
  return G_SOURCE_REMOVE;
}

/* Records the progress and, at most every 100 ms (or when forced), emits it on the
 * caller's context. */
static void
post_progress (Job *job, gboolean force, gboolean verifying)
{
  GraftDownload *self = job->self;
  gint64 now = g_get_monotonic_time ();
  GraftDownloadProgress p = { 0 };
  int oldest;

  if (!force && job->last_post != 0 && now - job->last_post < PROGRESS_INTERVAL_USEC)
    return;
  job->last_post = now;
  job->sample_time[job->next_sample] = now;
  job->sample_bytes[job->next_sample] = job->received;
  job->next_sample = (job->next_sample + 1) % RATE_SAMPLES;
  if (job->n_samples < RATE_SAMPLES)
    job->n_samples++;
  oldest = (job->next_sample - job->n_samples + RATE_SAMPLES) % RATE_SAMPLES;

  p.received = job->received;
  p.total = job->entry->bytes;
  p.resumed_from = job->resumed_from;
  p.verifying = verifying;
  p.eta = -1;
  if (now - job->sample_time[oldest] >= RATE_MIN_SPAN_USEC && job->received >= job->sample_bytes[oldest])
    {
      p.rate = (double) (job->received - job->sample_bytes[oldest]) * G_USEC_PER_SEC
               / (double) (now - job->sample_time[oldest]);
      if (p.rate > 0)
        p.eta = (double) (p.total > p.received ? p.total - p.received : 0) / p.rate;
    }
  g_mutex_lock (&self->lock);
  self->progress = p;
  g_mutex_unlock (&self->lock);
  g_main_context_invoke_full (self->caller_context, G_PRIORITY_DEFAULT, emit_progress, g_object_ref (self),
                              g_object_unref);
}

/* Ends the job with error (taken; NULL: success). */
static void
finish (Job *job, GError *error)
{
  g_clear_error (&job->error);
  job->error = error;
  g_main_loop_quit (job->loop);
}

static GError *
cancelled_error (Job *job)
{
  g_autofree char *received = format_size (job->received);
  g_autofree char *total = format_size (job->entry->bytes);
  if (job->received > 0)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "Download of %s cancelled: %s of %s kept in %s; the next download resumes from there",
                        job->entry->name, received, total, job->self->part_path);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Download of %s cancelled", job->entry->name);
}

/* An error from sending the request: no network, no such host, refused, TLS... */
static GError *
send_error (Job *job, GError *error)
{
  g_autoptr (GError) cause = error;
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return cancelled_error (job);
  if (cause->domain == G_RESOLVER_ERROR)
    return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK,
                        "No network: cannot find the server %s to download %s (%s). The bundled starter model "
                        "still works.", job->host, job->entry->name, cause->message);
  if (cause->domain == G_TLS_ERROR)
    return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK,
                        "Cannot make a secure connection to %s to download %s (%s). The bundled starter model "
                        "still works.", job->host, job->entry->name, cause->message);
  return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK,
                      "No network: cannot reach %s to download %s (%s). The bundled starter model still works.",
                      job->host, job->entry->name, cause->message);
}

/* The connection broke (or closed early) while the body came in. */
static GError *
broken_error (Job *job, const char *reason)
{
  g_autofree char *received = format_size (job->received);
  g_autofree char *total = format_size (job->entry->bytes);
  return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NETWORK,
                      "The connection to %s broke after %s of %s of %s (%s). What came is kept in %s: run "
                      "the download again and it resumes from there.", job->host, received, total,
                      job->entry->name, reason, job->self->part_path);
}

static GError *
write_error (Job *job, const char *path, GError *error)
{
  g_autoptr (GError) cause = error;
  g_autofree char *received = format_size (job->received);
  g_autofree char *total = format_size (job->entry->bytes);
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return cancelled_error (job);
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO,
                        "The disk is full: cannot write %s (%s of %s of %s are in). Free some space and "
                        "run the download again: it resumes from there.", path, received, total,
                        job->entry->name);
  return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, "Cannot write %s: %s", path, cause->message);
}

/* Deletes the .part file after a mismatch; the message says so. */
static GError *
mismatch_error (Job *job, const char *what)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GFile) part = g_file_new_for_path (job->self->part_path);
  gboolean deleted;

  if (job->out != NULL)
    g_output_stream_close (job->out, NULL, NULL);
  g_clear_object (&job->out);
  deleted = g_file_delete (part, NULL, &local) || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  return g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM,
                      "The download of %s from %s failed verification: %s. %s The file on the server may have "
                      "changed since the catalog was written, or the transfer was damaged.", job->entry->name,
                      job->entry->url, what,
                      deleted ? "The partial file was deleted." : "The partial file could not be deleted.");
}

/* Hashes the existing .part file (resume), and checks the disk has room for the rest. */
static gboolean
prepare (Job *job)
{
  const char *part_path = job->self->part_path;
  g_autofree char *dir = g_path_get_dirname (job->self->destination);
  g_autoptr (GFile) dir_file = g_file_new_for_path (dir);
  g_autoptr (GFileInfo) fs_info = NULL;
  GStatBuf st;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, "Cannot create the folder %s: %s",
                                dir, g_strerror (saved)));
      return FALSE;
    }
  if (g_stat (part_path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0)
    {
      if ((guint64) st.st_size > job->entry->bytes)
        g_unlink (part_path);  /* longer than the model: not ours */
      else
        {
          gboolean hashed = graft_file_checksum (job->checksum, part_path, &job->received, job->cancellable,
                                                         NULL);
          if (g_cancellable_is_cancelled (job->cancellable))
            {
              job->received = (guint64) st.st_size;  /* still there, for the next time */
              finish (job, cancelled_error (job));
              return FALSE;
            }
          if (!hashed || job->received != (guint64) st.st_size)
            {
              /* Unreadable: start again. */
              g_checksum_reset (job->checksum);
              job->received = 0;
              g_unlink (part_path);
            }
        }
    }
  job->resumed_from = job->received;

  fs_info = g_file_query_filesystem_info (dir_file, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, NULL, NULL);
  if (fs_info != NULL && g_file_info_has_attribute (fs_info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE))
    {
      guint64 free_bytes = g_file_info_get_attribute_uint64 (fs_info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
      guint64 needed = job->entry->bytes - job->received;
      if (free_bytes < needed)
        {
          g_autofree char *needed_text = format_size (needed);
          g_autofree char *free_text = format_size (free_bytes);
          finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO,
                                    "The disk is full: %s needs %s more, but %s has %s free.",
                                    job->entry->name, needed_text, dir, free_text));
          return FALSE;
        }
    }
  return TRUE;
}

static void send_request (Job *job);
static void read_next (Job *job);

/* The body is in (or the server says there is nothing left): verify, then move into place. */
static void
complete (Job *job)
{
  g_autoptr (GError) local = NULL;
  const char *sha256;

  if (job->out != NULL && !g_output_stream_close (job->out, NULL, &local))
    {
      g_clear_object (&job->out);
      finish (job, write_error (job, job->self->part_path, g_steal_pointer (&local)));
      return;
    }
  g_clear_object (&job->out);
  post_progress (job, TRUE, TRUE);
  if (job->received != job->entry->bytes)
    {
      g_autofree char *what = g_strdup_printf ("the server sent %" G_GUINT64_FORMAT " bytes, the catalog lists %"
                                               G_GUINT64_FORMAT, job->received, job->entry->bytes);
      finish (job, mismatch_error (job, what));
      return;
    }
  sha256 = g_checksum_get_string (job->checksum);
  if (strcmp (sha256, job->entry->sha256) != 0)
    {
      g_autofree char *what = g_strdup_printf ("its SHA-256 is %s, the catalog lists %s", sha256, job->entry->sha256);
      finish (job, mismatch_error (job, what));
      return;
    }
  if (g_rename (job->self->part_path, job->self->destination) != 0)
    {
      int saved = errno;
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, "Cannot move %s to %s: %s",
                                job->self->part_path, job->self->destination, g_strerror (saved)));
      return;
    }
  graft_catalog_write_verified_note (job->entry, job->self->destination, NULL);
  finish (job, NULL);
}

static void
write_chunk (Job *job, gsize size, GBytes *bytes)
{
  g_autoptr (GError) local = NULL;
  gsize written = 0;

  if (!g_output_stream_write_all (job->out, g_bytes_get_data (bytes, NULL), size, &written, job->cancellable,
                                  &local))
    {
      job->received += written;  /* on disk: the next download re-reads the part anyway */
      finish (job, write_error (job, job->self->part_path, g_steal_pointer (&local)));
      return;
    }
  g_checksum_update (job->checksum, g_bytes_get_data (bytes, NULL), size);
  job->received += size;
  post_progress (job, FALSE, FALSE);
  read_next (job);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Job *job = data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &local);
  gsize size;

  if (bytes == NULL)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish (job, cancelled_error (job));
      else
        finish (job, broken_error (job, local->message));
      return;
    }
  size = g_bytes_get_size (bytes);
  if (size == 0)
    {
      if (job->received < job->entry->bytes)
        finish (job, broken_error (job, "the server closed the connection early"));
      else
        complete (job);
      return;
    }
  if (size > job->entry->bytes - job->received)
    {
      g_autofree char *what = g_strdup_printf ("the server sends more than the %" G_GUINT64_FORMAT
                                               " bytes the catalog lists", job->entry->bytes);
      finish (job, mismatch_error (job, what));
      return;
    }
  write_chunk (job, size, bytes);
}

static void
read_next (Job *job)
{
  g_input_stream_read_bytes_async (job->body, CHUNK_SIZE, G_PRIORITY_DEFAULT, job->cancellable, on_read, job);
}

/* Opens the .part file: appending after a 206, from zero otherwise. */
static gboolean
open_part (Job *job, gboolean append)
{
  g_autoptr (GFile) part = g_file_new_for_path (job->self->part_path);
  g_autoptr (GError) local = NULL;

  if (append)
    job->out = G_OUTPUT_STREAM (g_file_append_to (part, G_FILE_CREATE_NONE, job->cancellable, &local));
  else
    job->out = G_OUTPUT_STREAM (g_file_replace (part, NULL, FALSE, G_FILE_CREATE_NONE, job->cancellable, &local));
  if (job->out == NULL)
    {
      finish (job, write_error (job, job->self->part_path, g_steal_pointer (&local)));
      return FALSE;
    }
  return TRUE;
}

static void
start_over (Job *job)
{
  g_checksum_reset (job->checksum);
  job->received = 0;
  job->resumed_from = 0;
  job->n_samples = 0;
  job->next_sample = 0;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  Job *job = data;
  GError *local = NULL;
  SoupMessageHeaders *headers;
  guint status;

  job->body = soup_session_send_finish (SOUP_SESSION (source), result, &local);
  if (job->body == NULL)
    {
      finish (job, send_error (job, local));
      return;
    }
  status = soup_message_get_status (job->message);
  headers = soup_message_get_response_headers (job->message);
  if (status == SOUP_STATUS_PARTIAL_CONTENT && job->received > 0)
    {
      goffset start = -1, end = -1, length = -1;
      if (!soup_message_headers_get_content_range (headers, &start, &end, &length)
          || start != (goffset) job->received)
        {
          /* Not the part asked for: ask for the whole file. */
          g_clear_object (&job->body);
          g_clear_object (&job->message);
          g_unlink (job->self->part_path);
          start_over (job);
          send_request (job);
          return;
        }
      if (length >= 0 && (guint64) length != job->entry->bytes)
        {
          g_autofree char *what = g_strdup_printf ("the server's file has %" G_GOFFSET_FORMAT
                                                   " bytes, the catalog lists %" G_GUINT64_FORMAT,
                                                   length, job->entry->bytes);
          finish (job, mismatch_error (job, what));
          return;
        }
      if (!open_part (job, TRUE))
        return;
    }
  else if (status == SOUP_STATUS_OK)
    {
      if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
          && (guint64) soup_message_headers_get_content_length (headers) != job->entry->bytes)
        {
          g_autofree char *what = g_strdup_printf ("the server's file has %" G_GOFFSET_FORMAT
                                                   " bytes, the catalog lists %" G_GUINT64_FORMAT,
                                                   soup_message_headers_get_content_length (headers),
                                                   job->entry->bytes);
          finish (job, mismatch_error (job, what));
          return;
        }
      start_over (job);  /* the server sends the whole file, whatever was asked */
      if (!open_part (job, FALSE))
        return;
    }
  else if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && job->received > 0)
    {
      /* Nothing after the part: it should be the whole file. */
      complete (job);
      return;
    }
  else if (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_GONE)
    {
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_FOUND,
                                "%s was not found at %s (HTTP %u %s): the catalog entry may be out of date.",
                                job->entry->name, job->entry->url, status, soup_status_get_phrase (status)));
      return;
    }
  else
    {
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_HTTP,
                                "The server %s answered HTTP %u %s for %s.", job->host, status,
                                soup_message_get_reason_phrase (job->message) != NULL
                                ? soup_message_get_reason_phrase (job->message) : soup_status_get_phrase (status),
                                job->entry->url));
      return;
    }
  post_progress (job, TRUE, FALSE);
  read_next (job);
}

static void
send_request (Job *job)
{
  if (++job->attempts > MAX_ATTEMPTS)
    {
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_HTTP,
                                "The server %s keeps answering with the wrong part of %s.", job->host,
                                job->entry->url));
      return;
    }
  job->message = soup_message_new (SOUP_METHOD_GET, job->entry->url);
  if (job->message == NULL)
    {
      finish (job, g_error_new (GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE, "%s: not a URL Graft can download",
                                job->entry->url));
      return;
    }
  soup_message_headers_replace (soup_message_get_request_headers (job->message), "Accept-Encoding", "identity");
  if (job->received > 0)
    soup_message_headers_set_range (soup_message_get_request_headers (job->message), (goffset) job->received, -1);
  soup_session_send_async (job->session, job->message, G_PRIORITY_DEFAULT, job->cancellable, on_sent, job);
}

static void
download_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Job *job = task_data;
  g_autoptr (GUri) uri = g_uri_parse (job->entry->url, G_URI_FLAGS_NONE, NULL);

  job->host = g_strdup (uri != NULL && g_uri_get_host (uri) != NULL ? g_uri_get_host (uri) : job->entry->url);
  job->context = g_main_context_new ();
  g_main_context_push_thread_default (job->context);
  job->loop = g_main_loop_new (job->context, FALSE);

  if (prepare (job))
    {
      /* Created here, so that it belongs to this thread's context. */
      job->session = soup_session_new_with_options ("timeout", IO_TIMEOUT_SECONDS,
                                                    "user-agent", "Graft/" GRAFT_VERSION " ", NULL);
      soup_session_remove_feature_by_type (job->session, SOUP_TYPE_CONTENT_DECODER);
      send_request (job);
      g_main_loop_run (job->loop);
    }

  if (job->out != NULL)
    g_output_stream_close (job->out, NULL, NULL);  /* keep what came in, for a resume */
  g_clear_object (&job->out);
  if (job->body != NULL)
    g_input_stream_close (job->body, NULL, NULL);
  g_clear_object (&job->body);
  g_clear_object (&job->message);
  if (job->session != NULL)
    soup_session_abort (job->session);
  g_clear_object (&job->session);
  while (g_main_context_pending (job->context))
    g_main_context_iteration (job->context, FALSE);
  g_main_context_pop_thread_default (job->context);
  g_clear_pointer (&job->loop, g_main_loop_unref);
  g_clear_pointer (&job->context, g_main_context_unref);

  post_progress (job, TRUE, FALSE);
  if (job->error != NULL)
    g_task_return_error (task, g_steal_pointer (&job->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_task_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GraftDownload *self = GRAFT_DOWNLOAD (source);
  GTask *outer = data;
  GError *error = NULL;

  self->running = FALSE;
  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_boolean (outer, TRUE);
  else
    g_task_return_error (outer, error);
  g_object_unref (outer);
}

void
graft_download_start_async (GraftDownload *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *outer, *inner;
  Job *job;

  g_return_if_fail (GRAFT_IS_DOWNLOAD (self));
  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, graft_download_start_async);
  /* Our cancel message says what was kept; GTask's own would not. */
  g_task_set_check_cancellable (outer, FALSE);
  if (self->running)
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_PENDING, "The download of %s is already running",
                               self->entry->name);
      g_object_unref (outer);
      return;
    }
  self->running = TRUE;
  g_clear_pointer (&self->caller_context, g_main_context_unref);
  self->caller_context = g_main_context_ref_thread_default ();

  job = g_new0 (Job, 1);
  job->self = g_object_ref (self);
  job->entry = self->entry;
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  job->checksum = g_checksum_new (G_CHECKSUM_SHA256);

  /* The inner task runs the worker; its result comes back on this context and
   * completes the outer one, after the last "progress". */
  inner = g_task_new (self, NULL, on_task_done, outer);
  g_task_set_task_data (inner, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (inner, download_thread);
  g_object_unref (inner);
}

gboolean
graft_download_finish (GraftDownload *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct {
  gboolean done;
  GAsyncResult *result;
} RunState;

static void
on_run_done (GObject *source, GAsyncResult *result, gpointer data)
{
  RunState *state = data;
  state->result = g_object_ref (result);
  state->done = TRUE;
}

gboolean
graft_download_run (GraftDownload *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  RunState state = { FALSE, NULL };
  gboolean ok;

  graft_download_start_async (self, cancellable, on_run_done, &state);
  while (!state.done)
    g_main_context_iteration (context, TRUE);
  ok = graft_download_finish (self, state.result, error);
  g_object_unref (state.result);
  return ok;
}
