/* regular-file.c: see regular-file.h. */
#include "config.h"

#include "base/regular-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <unistd.h>

const char *
graft_file_kind (mode_t mode)
{
  if (S_ISFIFO (mode))
    return _("a FIFO");
  if (S_ISSOCK (mode))
    return _("a socket");
  if (S_ISCHR (mode))
    return _("a character device");
  if (S_ISBLK (mode))
    return _("a block device");
  if (S_ISDIR (mode))
    return _("a folder");
  if (S_ISLNK (mode))
    return _("a symbolic link");
  return _("a regular file");
}

static void
set_errno_error (GError **error, const char *path, const char *format, int saved_errno)
{
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), format, display, g_strerror (saved_errno));
}

static gboolean
check_regular (const char *path, mode_t mode, GError **error)
{
  if (S_ISREG (mode))
    return TRUE;
  g_autofree char *display = g_filename_display_name (path);
  g_set_error (error, G_IO_ERROR, S_ISDIR (mode) ? G_IO_ERROR_IS_DIRECTORY : G_IO_ERROR_NOT_REGULAR_FILE,
               _("%s is not a regular file (%s)"), display, graft_file_kind (mode));
  return FALSE;
}

int
graft_open_regular (const char *path, struct stat *st, GError **error)
{
  struct stat local;
  if (st == NULL)
    st = &local;
  g_return_val_if_fail (path != NULL, -1);

  /* Refuse what stat already shows, so that a device is never opened at all. */
  if (g_stat (path, st) != 0)
    {
      set_errno_error (error, path, _("%s: cannot open: %s"), errno);
      return -1;
    }
  if (!check_regular (path, st->st_mode, error))
    return -1;
  /* The file may have been replaced since: O_NONBLOCK keeps open() from waiting for a
   * FIFO's writer, fstat says what was opened. */
  int fd = g_open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      set_errno_error (error, path, _("%s: cannot open: %s"), errno);
      return -1;
    }
  if (fstat (fd, st) != 0)
    {
      int saved_errno = errno;
      close (fd);
      set_errno_error (error, path, _("%s: cannot read: %s"), saved_errno);
      return -1;
    }
  if (!check_regular (path, st->st_mode, error))
    {
      close (fd);
      return -1;
    }
  int flags = fcntl (fd, F_GETFL);
  if (flags < 0 || fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    {
      int saved_errno = errno;
      close (fd);
      set_errno_error (error, path, _("%s: cannot read: %s"), saved_errno);
      return -1;
    }
  return fd;
}

gboolean
graft_file_regular_or_absent (const char *path, GError **error)
{
  struct stat st;
  if (g_stat (path, &st) != 0)
    return TRUE;   /* nothing there, or nothing we can say: the opener will tell */
  return check_regular (path, st.st_mode, error);
}

gboolean
graft_file_get_contents (const char *path, char **contents, gsize *length, GError **error)
{
  g_return_val_if_fail (contents != NULL, FALSE);
  *contents = NULL;
  if (length != NULL)
    *length = 0;

  struct stat st;
  int fd = graft_open_regular (path, &st, error);
  if (fd < 0)
    return FALSE;
  /* The size fstat gave, plus room to see the end (or a file that grew). */
  gsize capacity = (st.st_size > 0 && (guint64) st.st_size < G_MAXSIZE - 2) ? (gsize) st.st_size + 1 : 4096;
  gsize size = 0;
  char *data = g_malloc (capacity + 1);
  for (;;)
    {
      if (size == capacity)
        {
          if (capacity > G_MAXSIZE / 2 - 1)
            {
              g_free (data);
              close (fd);
              set_errno_error (error, path, _("%s: cannot read: %s"), EFBIG);
              return FALSE;
            }
          capacity *= 2;
          data = g_realloc (data, capacity + 1);
        }
      ssize_t got = read (fd, data + size, capacity - size);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          int saved_errno = errno;
          g_free (data);
          close (fd);
          set_errno_error (error, path, _("%s: cannot read: %s"), saved_errno);
          return FALSE;
        }
      if (got == 0)
        break;
      size += (gsize) got;
    }
  close (fd);
  data[size] = '\0';
  *contents = data;
  if (length != NULL)
    *length = size;
  return TRUE;
}

GMappedFile *
graft_mapped_file_new (const char *path, GError **error)
{
  int fd = graft_open_regular (path, NULL, error);
  if (fd < 0)
    return NULL;
  g_autoptr (GError) local = NULL;
  GMappedFile *file = g_mapped_file_new_from_fd (fd, FALSE, &local);
  close (fd);   /* the mapping keeps what it needs */
  if (file == NULL)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("%s: cannot read: %s"), display, local->message);
    }
  return file;
}
