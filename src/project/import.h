/* import.h: bringing images into a project (taking them out again: export.h).
 *
 * Every import is one transaction and one undo step (undo removes the images it added,
 * the classes it created and the labels it set). It works in three phases:
 *   1. scan, without the project's lock: list the files, stat them, read their first 16
 *      bytes (PNG or JPEG by magic bytes, never by name) and a PNG's last 64 (a PNG
 *      cut short, without its IEND chunk, is skipped as unreadable: in the project it
 *      would show blank and training would drop it). Nothing is decoded.
 *   2. hash (GRAFT_HASH_NOW) or copy into <project>/images/ (GRAFT_IMPORT_COPY, hashed
 *      while copying), still without the lock.
 *   3. one transaction: insert the images (prepared statements), create classes, set labels.
 * With GRAFT_HASH_LATER, only size and mtime are stored, and the content hash is left
 * to graft_project_hash_pending / graft_project_start_hashing; duplicates are then seen
 * by graft_project_duplicate_groups instead of being skipped. GRAFT_HASH_AUTO hashes now
 * when the import has at most GRAFT_IMPORT_HASH_NOW_LIMIT files, later otherwise: a
 * folder scan of 100,000 files takes seconds, not the minutes hashing would.
 *
 * Nothing that is not an image stops an import: each file left out is in the report
 * with the reason. Files already in the project (same path) are counted, not repeated;
 * an import with a label labels them only if they have no label yet (a person's label
 * is never overwritten). Hidden files and folders (".name") and the project's own
 * folder are passed over silently. Folders are read with base/folder-walk.h: symbolic
 * links are followed, except a link back up the tree or into a folder already read
 * (reported as a loop); a file reached twice (a link, a hard link) is imported once,
 * where it really is; FIFOs, sockets and device files are reported, never opened.
 *
 * On an error (disk full, read-only project) the project is left as it was, and copies
 * made into images/ are removed, with the folders made for them (when empty).
 */
#pragma once

#include "project/project.h"

G_BEGIN_DECLS

#define GRAFT_IMPORT_HASH_NOW_LIMIT 2000

typedef enum {
  GRAFT_IMPORT_REFERENCE,    /* the images stay where they are */
  GRAFT_IMPORT_COPY,         /* copied to <project>/images/<2 hex>/<sha256>.<ext> */
} GraftImportMode;

typedef enum {
  GRAFT_HASH_AUTO,
  GRAFT_HASH_NOW,
  GRAFT_HASH_LATER,
} GraftImportHashing;

typedef struct {
  GraftImportMode mode;
  GraftImportHashing hashing;
  GCancellable *cancellable;   /* nullable: a cancelled import changes nothing */
} GraftImportOptions;

typedef enum {
  GRAFT_SKIP_UNREADABLE,       /* could not be opened or read (or does not exist) */
  GRAFT_SKIP_NOT_AN_IMAGE,     /* its first bytes are not those of an image (or it is empty) */
  GRAFT_SKIP_UNSUPPORTED,      /* an image Graft does not read: GIF, WebP, TIFF, BMP, HEIF, AVIF */
  GRAFT_SKIP_DUPLICATE,        /* the same content as an image in the project or earlier in the import */
  GRAFT_SKIP_BAD_ROW,          /* a CSV row without a path */
  GRAFT_SKIP_NOT_A_FILE,       /* a FIFO, a socket or a device file ("a FIFO", ... in detail) */
  GRAFT_SKIP_LOOP,             /* a link to a folder above it or already read: not followed */
  GRAFT_SKIP_UNSAFE_NAME,      /* an archive member named by an absolute path or with ".." */
} GraftSkipReason;

typedef struct {
  char *path;                  /* the file (for archives: archive/member) */
  GraftSkipReason reason;
  char *detail;                /* "a GIF image", "same content as /photos/a.jpg", strerror, ... */
} GraftImportSkip;

typedef struct {
  guint added;                 /* images new to the project */
  guint already_present;       /* files whose path was already in the project */
  guint labelled;              /* labels set */
  guint classes_added;
  guint hash_pending;          /* added without a hash (GRAFT_HASH_LATER) */
  guint fifos;                 /* FIFOs skipped (GRAFT_SKIP_NOT_A_FILE, in skipped too) */
  guint device_files;          /* character and block devices skipped (likewise) */
  guint sockets;               /* sockets skipped (likewise) */
  GArray *skipped;             /* GraftImportSkip, in scan order */
} GraftImportReport;

void graft_import_report_free (GraftImportReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImportReport, graft_import_report_free)
/* "unreadable", "not an image", "unsupported image format", "duplicate", "bad CSV row",
 * "not a file", "folder loop", "unsafe name in archive" */
const char *graft_skip_reason_to_string (GraftSkipReason reason);

/* options may be NULL (reference, hash auto). Each returns NULL and sets error only
 * when nothing could be imported at all (the folder cannot be read, the project is
 * read-only, the disk is full): then the project is unchanged. */

/* A folder of images, recursively; no labels. */
GraftImportReport *graft_import_folder (GraftProject *project, const char *folder, const GraftImportOptions *options,
                                        GError **error);
/* An ImageFolder tree: each subfolder of root is a class (its name), its images (at any
 * depth) that class's; images directly in root are added unlabelled. */
GraftImportReport *graft_import_image_folder (GraftProject *project, const char *root,
                                              const GraftImportOptions *options, GError **error);
/* A CSV of path,label (RFC 4180: quoted fields, "" inside quotes, CRLF or LF, a UTF-8
 * BOM). A first row whose first field is path, file, filename or image (any case) is a
 * header, and then the label column is the one called label or class. Relative paths
 * are relative to the CSV's folder. An empty label adds the image unlabelled. */
GraftImportReport *graft_import_csv (GraftProject *project, const char *csv_path, const GraftImportOptions *options,
                                     GError **error);
/* Teachable Machine's image samples. Teachable Machine saves each class's samples
 * ("Download Samples") as a ZIP archive of images; this takes:
 *   - a .zip file: an image in a top-level folder is of the class the folder names (the
 *     layout of the image data set Teachable Machine's converter reads, <label>/<image>,
 *     snippets/converter/image/api.py in its public repository; a zipped ImageFolder),
 *     one folder or several; an image at the top is of a class named after the archive
 *     (file name without .zip: a class's samples);
 *   - a folder of such archives, and of class folders (archives already unpacked): each
 *     archive and each subfolder is a class.
 * Members are always copied into the project (they have no path of their own). Other
 * members (JSON, ...) are reported as not images; members named by an absolute path or
 * with a ".." component ("../../x.png") are reported and neither read nor made a class.
 * Teachable Machine's model export (model.json, weights.bin, metadata.json with its
 * "labels", as libraries/image/src/custom-mobilenet.ts loads it) holds no image: given
 * directly it is an error naming its classes, in a folder a skipped archive saying so.
 * The layout inside Teachable Machine's project file (.tm) is not in its public
 * repository: a .tm is read as a ZIP archive by the same rule. */
GraftImportReport *graft_import_teachable_machine (GraftProject *project, const char *path,
                                                   const GraftImportOptions *options, GError **error);
/* Loose files and folders (what drag and drop hands over); folders are scanned like
 * graft_import_folder. class_id (0: none) labels everything added. */
GraftImportReport *graft_import_files (GraftProject *project, const char *const *paths, guint n_paths,
                                       gint64 class_id, const GraftImportOptions *options, GError **error);

/* "120 images imported, 3 skipped": the report in one line, in the person's language
 * (the Data page's toast); newly allocated. */
char *graft_import_report_summary (const GraftImportReport *report);

G_END_DECLS
