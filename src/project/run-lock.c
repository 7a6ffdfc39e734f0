/* run-lock.c: who trains a run (see run-record.h, graft_run_lock).
 *
 * The lock is an exclusive flock on <folder>/runs/<id>.lock, which holds the pid of its
 * holder as text. flock belongs to the open file, so the kernel lets it go when the
 * holder dies, however it dies (kill -9 included): a dead trainer never blocks a resume.
 * The holder removes the file before it lets go; whoever opened the file meanwhile and
 * then gets the lock finds that its file is no longer the one at the path, and opens
 * again (otherwise two processes could each hold a lock, on two files). */
#include "config.h"

#include "project/run-record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

struct _GraftRunLock {
  char *path;
  int fd;
};

static char *
lock_file (GraftProject *project, gint64 run_id)
{
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".lock", run_id);
  return g_build_filename (graft_project_get_folder (project), GRAFT_PROJECT_RUNS_FOLDER, name, NULL);
}

/* The pid written in the lock file at path, 0 when it cannot be read. */
static long
holder_pid (const char *path)
{
  g_autofree char *contents = NULL;
  char *end = NULL;
  long pid;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  pid = strtol (contents, &end, 10);
  return end != contents && pid > 0 ? pid : 0;
}

GraftRunLock *
graft_run_lock (GraftProject *project, gint64 run_id, GError **error)
{
  g_autofree char *path = lock_file (project, run_id);
  g_autofree char *folder = g_path_get_dirname (path);
  g_autofree char *display = g_filename_display_name (path);

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved = errno;
      g_autofree char *folder_display = g_filename_display_name (folder);
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("Cannot create the folder %s: %s"),
                   folder_display, g_strerror (saved));
      return NULL;
    }
  for (;;)
    {
      struct stat held, at_path;
      int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      int rc;

      if (fd < 0)
        {
          int saved = errno;
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("Cannot open the run's lock file %s: %s"),
                       display, g_strerror (saved));
          return NULL;
        }
      while ((rc = flock (fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
      if (rc != 0)
        {
          int saved = errno;
          long pid = saved == EWOULDBLOCK ? holder_pid (path) : 0;
          close (fd);
          if (saved != EWOULDBLOCK)
            g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_IO, _("Cannot lock the run's lock file %s: %s"),
                         display, g_strerror (saved));
          else if (pid > 0)
            g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_BUSY,
                         _("Run %lld of the project %s is being trained by another process (pid %ld): "
                           "wait until it ends or stop it, then resume the run"),
                         (long long) run_id, graft_project_get_folder (project), pid);
          else
            g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_BUSY,
                         _("Run %lld of the project %s is being trained by another process: "
                           "wait until it ends or stop it, then resume the run"),
                         (long long) run_id, graft_project_get_folder (project));
          return NULL;
        }
      /* The file locked may have been removed by the holder that let it go. */
      if (fstat (fd, &held) == 0 && g_lstat (path, &at_path) == 0 && held.st_dev == at_path.st_dev
          && held.st_ino == at_path.st_ino)
        {
          GraftRunLock *lock = g_new0 (GraftRunLock, 1);
          char pid[32];
          int n = g_snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
          /* The pid is what the next one is told; the lock itself does not depend on it. */
          if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, (size_t) n, 0) != n)
            g_debug ("cannot write the pid into %s: %s", path, g_strerror (errno));
          lock->path = g_steal_pointer (&path);
          lock->fd = fd;
          return lock;
        }
      close (fd);
    }
}

void
graft_run_lock_release (GraftRunLock *lock)
{
  if (lock == NULL)
    return;
  /* Removed while still held (see the top). */
  g_unlink (lock->path);
  close (lock->fd);
  g_free (lock->path);
  g_free (lock);
}
