/* embedding-cache.h: the backbone's output at the cut, computed once per image.
 *
 * When everything below the head is frozen and augmentation is off, an image always
 * gives the same embedding, so it is computed once and kept on disk: one file per
 * (model checksum, cut, preprocessing) under the cache folder, named by a hash of the
 * three (a change of any gives another file), holding records (image content hash ->
 * dim floats). A record is appended when it is computed, so a killed run loses at most
 * the record being written; a torn last record is ignored when the file is read back.
 */
#pragma once

#include <glib.h>

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

/* The SHA-256 of a file's content, in hex (the image and model checksums). */
char *graft_file_sha256 (const char *path, GError **error);

G_END_DECLS
