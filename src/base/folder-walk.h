/* folder-walk.h: the files under one or more folders, each file once, without loops.
 *
 * The one walk behind ImageFolder datasets (src/train/dataset.c) and folder imports
 * (src/project/import.c). Symbolic links are followed, to files and to folders, except
 * a link to a folder that is a top, one of a top's ancestors (a/loop -> .. inside a
 * class folder would pull every class into it) or a folder already walked. Every folder
 * is entered once and every file listed once (both by device and inode): the real
 * folders and files of every top are walked first, links after, so that a file reached
 * both directly and through a link belongs where it really is. Hidden entries (".name")
 * are passed over in silence; what else is left out (FIFOs, sockets, device files,
 * loops, files seen twice, broken links, folders that cannot be read or are too deep)
 * is listed with the reason. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

#define GRAFT_FOLDER_WALK_MAX_DEPTH 64

typedef enum {
  GRAFT_WALK_SKIP_SPECIAL,       /* a FIFO, a socket or a device file (mode says which) */
  GRAFT_WALK_SKIP_LOOP,          /* a link to a top, an ancestor of one, or a folder already walked */
  GRAFT_WALK_SKIP_DUPLICATE,     /* a file already listed under another path */
  GRAFT_WALK_SKIP_BROKEN_LINK,   /* a symbolic link to nothing */
  GRAFT_WALK_SKIP_UNREADABLE,    /* a folder that cannot be listed, or an entry that cannot be stat()ed */
  GRAFT_WALK_SKIP_TOO_DEEP,      /* a folder more than GRAFT_FOLDER_WALK_MAX_DEPTH below its top */
} GraftWalkSkipKind;

typedef struct {
  char *path;
  GraftWalkSkipKind kind;
  mode_t mode;         /* the file's type (SPECIAL) */
  int error_code;      /* errno (UNREADABLE) */
  char *detail;        /* in English: "a FIFO", "a link to /data, which contains it", ... */
} GraftWalkSkip;

typedef struct {
  char *path;          /* folder/name */
  char *folder;        /* the folder it was found in (the path it was reached by) */
  const char *name;    /* within path */
  int group;           /* the group of the top it was found under */
  struct stat st;      /* of the file (a link's target) */
} GraftWalkFile;

typedef struct _GraftFolderWalk GraftFolderWalk;

GraftFolderWalk *graft_folder_walk_new (void);
void graft_folder_walk_free (GraftFolderWalk *walk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftFolderWalk, graft_folder_walk_free)

/* A folder that no link may lead into (with its ancestors), without walking it: the
 * root of an ImageFolder tree whose class folders are the tops. */
void graft_folder_walk_protect (GraftFolderWalk *walk, const char *folder);
/* A folder to pass over in silence (a project's own folder). */
void graft_folder_walk_exclude (GraftFolderWalk *walk, const char *folder);
/* A top: a folder to walk or a single file; its files get group. Protected as above. */
void graft_folder_walk_add (GraftFolderWalk *walk, const char *path, int group);

/* Walks every top added. Then: */
void graft_folder_walk_run (GraftFolderWalk *walk);
/* GraftWalkFile, sorted by group, then folder path, then name (strcmp: torchvision's
 * sorted(os.walk(...)) order). */
GArray *graft_folder_walk_files (GraftFolderWalk *walk);
/* GraftWalkSkip, in the order they were met. */
GArray *graft_folder_walk_skipped (GraftFolderWalk *walk);

G_END_DECLS
