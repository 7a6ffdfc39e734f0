#include "base/file-hash.h"

#include "base/regular-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define CHUNK_SIZE (64 * 1024)

static gboolean
fail (GError **error, const char *path, const char *what, int saved_errno)
{
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s: %s", display, what,
               g_strerror (saved_errno));
  return FALSE;
}

gboolean
graft_file_checksum (GChecksum *checksum, const char *path, guint64 *size, GCancellable *cancellable,
                     GError **error)
{
  g_autofree guint8 *buffer = NULL;
  gboolean ok = TRUE;
  int fd;

  if (size != NULL)
    *size = 0;
  /* Only a regular file: a FIFO would block the open, a device never end. */
  fd = graft_open_regular (path, NULL, error);
  if (fd < 0)
    return FALSE;
  buffer = g_malloc (CHUNK_SIZE);
  for (;;)
    {
      ssize_t got;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      got = read (fd, buffer, CHUNK_SIZE);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          ok = fail (error, path, "cannot read", errno);
          break;
        }
      if (got == 0)
        break;
      g_checksum_update (checksum, buffer, (gssize) got);
      if (size != NULL)
        *size += (guint64) got;
    }
  close (fd);
  return ok;
}

char *
graft_file_sha256_cancellable (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!graft_file_checksum (checksum, path, NULL, cancellable, error))
    return NULL;
  return g_strdup (g_checksum_get_string (checksum));
}

char *
graft_file_sha256 (const char *path, GError **error)
{
  return graft_file_sha256_cancellable (path, NULL, error);
}
