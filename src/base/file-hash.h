/* file-hash.h: a file's bytes fed to a checksum, in chunks: the one home of file
 * hashing, behind the content hashes of images and models (graft_file_sha256: project
 * imports, thumbnails, the embedding cache's keys, a model's checksum) and the
 * catalog's verification and download resume. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Feeds the bytes of the file at path to checksum, 64 KiB at a time; *size (may be NULL)
 * gets how many it read, also when it fails. Errors are G_IO_ERROR (NOT_FOUND,
 * IS_DIRECTORY, NOT_REGULAR_FILE for a FIFO or a device, ... naming the file),
 * G_IO_ERROR_CANCELLED between chunks. */
gboolean graft_file_checksum (GChecksum *checksum, const char *path, guint64 *size, GCancellable *cancellable,
                              GError **error);

/* The SHA-256 of the file's bytes as 64 lower-case hexadecimal digits, NULL with a
 * G_IO_ERROR naming the file (as graft_file_checksum) when it cannot be read. */
char *graft_file_sha256 (const char *path, GError **error);
/* The same, stopped between chunks when cancellable is cancelled (G_IO_ERROR_CANCELLED). */
char *graft_file_sha256_cancellable (const char *path, GCancellable *cancellable, GError **error);

G_END_DECLS
