/* file-hash.h: a file's bytes fed to a checksum, in chunks: the one loop behind the
 * content hashes of images and models (graft_file_sha256) and the catalog's download
 * verification. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Feeds the bytes of the file at path to checksum, 64 KiB at a time; *size (may be NULL)
 * gets how many it read, also when it fails. Errors are G_IO_ERROR (NOT_FOUND,
 * IS_DIRECTORY, NOT_REGULAR_FILE for a FIFO or a device, ... naming the file),
 * G_IO_ERROR_CANCELLED between chunks. */
gboolean graft_file_checksum (GChecksum *checksum, const char *path, guint64 *size, GCancellable *cancellable,
                              GError **error);

G_END_DECLS
