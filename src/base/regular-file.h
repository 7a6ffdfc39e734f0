/* regular-file.h: opening a file for reading only if it is a regular file.
 *
 * open() on a FIFO with no writer blocks forever, and reading a character device such as
 * /dev/zero never ends: a path that names an image, a model, its external data, a JSON
 * file or a project database is opened non-blocking, checked with fstat, and refused
 * unless it is a regular file; only then is O_NONBLOCK cleared and the file read. A
 * path is also stat()ed first, so that a device file is not even opened (opening some
 * devices has effects of its own).
 *
 * Errors are G_IO_ERROR, the file's name in the message: from errno for a file that
 * cannot be opened (NOT_FOUND, PERMISSION_DENIED, ...), IS_DIRECTORY for a folder and
 * NOT_REGULAR_FILE for the rest: "/data/x.png is not a regular file (a FIFO)". */
#pragma once

#include <gio/gio.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* "a FIFO", "a socket", "a character device", "a block device", "a folder", "a symbolic
 * link", "a regular file" (translated). */
const char *graft_file_kind (mode_t mode);

/* A descriptor open for reading (O_CLOEXEC, blocking), or -1 and error. st (nullable)
 * gets the file's fstat. */
int graft_open_regular (const char *path, struct stat *st, GError **error);

/* TRUE when path is a regular file or names nothing (a file about to be created, a
 * journal that is not there); FALSE and the error above for a FIFO, a device, a folder.
 * For paths that another library opens: SQLite's database and journals. */
gboolean graft_file_regular_or_absent (const char *path, GError **error);

/* g_file_get_contents for regular files only: the contents, NUL-terminated; length may
 * be NULL. */
gboolean graft_file_get_contents (const char *path, char **contents, gsize *length, GError **error);

/* g_mapped_file_new (read-only) for regular files only. */
GMappedFile *graft_mapped_file_new (const char *path, GError **error);

G_END_DECLS
