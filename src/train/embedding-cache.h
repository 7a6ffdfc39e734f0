/* embedding-cache.h: the backbone's output at the cut, computed once per image.
 *
 * When everything below the head is frozen and augmentation is off, an image always
 * gives the same embedding, so it is computed once and kept on disk: one file per
 * (model checksum, cut, preprocessing) under the cache folder, named by a hash of the
 * three (a change of any gives another file), holding records (image content hash ->
 * dim floats). A record is appended when it is computed, so a killed run loses at most
 * the record being written; a torn last record is ignored when the file is read back.
 * Runs may share the folder (processes and threads): appends are locked, and a record
 * that another run wrote first is not written again.
 */
#pragma once

#include <glib.h>

/* The cache is keyed by images' content hashes: graft_file_sha256. */
#include "base/file-hash.h"

G_BEGIN_DECLS

typedef struct _GraftEmbeddingCache GraftEmbeddingCache;

/* Opens (creating the folder and file as needed) the cache for this model, cut and
 * preprocessing, and reads what it holds. A file whose header does not match (another
 * dim, another key, not a cache file) is replaced. */
GraftEmbeddingCache *graft_embedding_cache_open (const char *folder, const char *model_sha256, const char *cut,
                                                 const char *preprocessing_json, int dim, GError **error);
void graft_embedding_cache_free (GraftEmbeddingCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftEmbeddingCache, graft_embedding_cache_free)

int graft_embedding_cache_dim (const GraftEmbeddingCache *cache);
guint graft_embedding_cache_size (const GraftEmbeddingCache *cache);
const char *graft_embedding_cache_path (const GraftEmbeddingCache *cache);

/* The embedding of the image with this content hash, or NULL. Valid until the cache is freed. */
const float *graft_embedding_cache_lookup (GraftEmbeddingCache *cache, const char *image_hash);
/* Stores (and appends to the file) an embedding of dim floats. */
gboolean graft_embedding_cache_insert (GraftEmbeddingCache *cache, const char *image_hash,
                                       const float *embedding, GError **error);

/* Cache files are recognised by their names (16 lowercase hex digits, ".emb"): other
 * files in the folder (a project's thumbnails, say) are never counted or deleted.
 *
 * Opening a cache sets its file's modification time to now, and every insert appends,
 * so the modification time says when a model, cut and preprocessing were last used.
 * graft_embedding_cache_trim deletes the files used least recently (oldest modification
 * time first) until the cache files in folder take at most max_bytes; it never deletes
 * keep_path (may be NULL) nor a file that a GraftEmbeddingCache of this process holds
 * open (a run in progress), so the folder may stay above max_bytes. A missing folder is
 * an empty cache. freed (may be NULL) gets the bytes deleted. A file that cannot be
 * deleted is skipped and reported in error once the others are done (FALSE). Safe to
 * call from any thread. max_bytes 0 clears the cache (but for the files kept). */
gboolean graft_embedding_cache_trim (const char *folder, guint64 max_bytes, const char *keep_path, guint64 *freed,
                                     GError **error);
/* The bytes and the number of cache files in folder (0 and 0 when it is missing). */
gboolean graft_embedding_cache_measure (const char *folder, guint64 *bytes, guint *files, GError **error);


G_END_DECLS
