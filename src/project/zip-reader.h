/* zip-reader.h: reading the members of a ZIP archive (private to src/project/).
 *
 * Enough for Teachable Machine's sample archives and zipped image folders: the central
 * directory, stored (method 0) and deflated (method 8) members, through GIO's raw
 * zlib decompressor; CRC-32 checked. Not supported, with an error naming the archive:
 * encryption, ZIP64, other methods, multi-disk archives. The file is memory-mapped. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *name;           /* as stored, made valid UTF-8; folders end with '/' */
  guint16 method;
  guint16 flags;
  guint32 crc;
  guint64 compressed_size;
  guint64 size;
  guint64 local_offset;
} GraftZipEntry;

typedef struct _GraftZip GraftZip;

/* Errors: G_IO_ERROR from opening (NOT_REGULAR_FILE for a FIFO or a device, never
 * waited on); G_IO_ERROR_INVALID_DATA for a bad or unsupported
 * archive, the archive's name (and the member's) in the message. */
GraftZip *graft_zip_open (const char *path, GError **error);
void graft_zip_free (GraftZip *zip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftZip, graft_zip_free)

guint graft_zip_n_entries (const GraftZip *zip);
const GraftZipEntry *graft_zip_entry (const GraftZip *zip, guint i);
/* The member's bytes; members larger than max_size are refused. */
GBytes *graft_zip_read (GraftZip *zip, guint i, guint64 max_size, GError **error);

/* CRC-32 (IEEE, as zip and PNG use). */
guint32 graft_crc32 (guint32 crc, const guint8 *data, gsize n);

G_END_DECLS
