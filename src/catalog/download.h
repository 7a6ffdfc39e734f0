/* download.h: fetching a catalog model over HTTP(S) with libsoup 3, off the main thread.
 *
 * graft_download_start_async runs the transfer in a worker thread, which has its own
 * GMainContext and SoupSession: soup_session_send_async, then the body read in 64 KiB
 * chunks by an async read loop and written to NAME.onnx.part beside the destination,
 * hashed (SHA-256) as it goes. The caller's main loop never waits: the "progress"
 * signal and the completion callback run on the main context that was the thread
 * default when the download started.
 *
 * - Resume: when a .part file is there, its bytes are hashed first and the request
 *   asks for the rest (Range: bytes=N-). 206 appends; 200 (the server ignores ranges)
 *   starts again from zero; 416 (nothing left to send) means the part is whole, and it
 *   is verified.
 * - Verification: the size and the SHA-256 of the whole file must be the catalog's
 *   before it is renamed into place (an atomic rename in the same folder), and a
 *   NAME.onnx.verified note is written beside it (see catalog.h). A mismatch deletes
 *   the .part file and says so.
 * - Cancel (the GCancellable), a broken connection or a full disk keep the .part file,
 *   so the next download resumes; the error says how much was kept.
 * - Errors, in plain words: GRAFT_CATALOG_ERROR_NETWORK ("No network: ... the bundled
 *   starter model still works"), _NOT_FOUND (HTTP 404/410), _HTTP (other statuses),
 *   _CHECKSUM, _IO (disk full...); G_IO_ERROR_CANCELLED when cancelled.
 * Proxies come from the environment / desktop settings (GProxyResolver).
 */
#pragma once

#include <gio/gio.h>

#include "catalog/catalog.h"

G_BEGIN_DECLS

typedef struct {
  guint64 received;      /* bytes of the file so far, a resumed part included */
  guint64 total;         /* the catalog's size */
  guint64 resumed_from;  /* bytes that were already there when this download started */
  double rate;           /* bytes per second over the last seconds; 0 while unknown */
  double eta;            /* seconds left at that rate; -1 while unknown */
  gboolean verifying;    /* the body is in; hashing or renaming */
} GraftDownloadProgress;

#define GRAFT_TYPE_DOWNLOAD (graft_download_get_type ())
G_DECLARE_FINAL_TYPE (GraftDownload, graft_download, GRAFT, DOWNLOAD, GObject)

/* A download of entry (copied) to destination (NULL: graft_catalog_model_path). */
GraftDownload *graft_download_new (const GraftCatalogEntry *entry, const char *destination);

const GraftCatalogEntry *graft_download_get_entry (GraftDownload *self);
const char *graft_download_get_destination (GraftDownload *self);
/* The .part file: destination + ".part". */
const char *graft_download_get_part_path (GraftDownload *self);
/* The latest progress (also while it runs; thread-safe). */
void graft_download_get_progress (GraftDownload *self, GraftDownloadProgress *progress);

/* Starts the download; one at a time per object. "progress" is emitted at most every
 * 100 ms, and once more at the end, before callback. */
void graft_download_start_async (GraftDownload *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
/* TRUE when the verified file is at the destination. */
gboolean graft_download_finish (GraftDownload *self, GAsyncResult *result, GError **error);

/* The same, blocking the calling thread (for tools and tests); progress is emitted
 * on the calling thread's default main context, which it iterates. */
gboolean graft_download_run (GraftDownload *self, GCancellable *cancellable, GError **error);

G_END_DECLS
