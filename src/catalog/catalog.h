/* catalog.h: the model catalog: well-known ImageNet classifiers that Graft downloads
 * on demand into the per-user data folder, verified before use.
 *
 * The catalog is data: data/catalog.json, compiled into libgraft as the resource
 * /io/github/graftlab/Graft/catalog.json, plus an optional user catalog beside the
 * downloaded models, $XDG_DATA_HOME/graft/catalog.json (g_get_user_data_dir ()), in the
 * same format. A user entry whose name is already in the catalog overrides that
 * entry member by member (a user file can move one model to a mirror by giving only
 * "name" and "url"); any other name adds an entry, which must then be complete.
 *
 * The format:
 *   {"catalog": 1, "models": [{
 *      "name": "mobilenetv2-7",            file-name safe: letters, digits, '.', '_', '-'
 *      "title": "MobileNetV2 1.0 (MXNet)", optional (the name)
 *      "description": "one line",
 *      "url": "https://...",               http or https
 *      "bytes": 14246826,                  the file's size
 *      "sha256": "c1c5...",                64 hexadecimal digits
 *      "licence": "Apache-2.0", "licence_source": "as listed by the ONNX Model Zoo" (optional),
 *      "source": "where the file comes from" (optional),
 *      "opset": 7, "input_name": "data", "output_name": "..." (optional: what the file should say),
 *      "input_size": 224,
 *      "preprocessing": {...},             as data/preprocess.h reads it (graft.preprocessing);
 *                                          its size must be input_size
 *      "preprocessing_note": "..." (optional),
 *      "cut": "value name",                where a new head is grafted (the classifier's input)
 *      "features": 1280,                   optional: channels at the cut
 *      "flops": 0.6e9, "parameters": 3.5e6, optional: 2 x multiply-adds per image, parameter count
 *      "support": "works" | "unsupported", optional ("works"): whether Graft can use it
 *      "support_note": "why not" (optional)
 *   }]}
 * Unknown members are ignored. Errors name the file, the entry and the member.
 *
 * Downloaded models live in $XDG_DATA_HOME/graft/models/NAME.onnx. A file counts as
 * downloaded once its size and SHA-256 match the catalog; the check (a second or so
 * for 100 MB) is remembered in NAME.onnx.verified beside it, keyed by the file's size
 * and modification time, so it runs once per file.
 */
#pragma once

#include <gio/gio.h>

#include "data/preprocess.h"
#include "model/model.h"

G_BEGIN_DECLS

#define GRAFT_CATALOG_ERROR (graft_catalog_error_quark ())
GQuark graft_catalog_error_quark (void);

typedef enum {
  GRAFT_CATALOG_ERROR_PARSE,      /* a catalog file is not JSON, or an entry is wrong */
  GRAFT_CATALOG_ERROR_NOT_FOUND,  /* no entry of that name, or the server answered 404 */
  GRAFT_CATALOG_ERROR_NETWORK,    /* the server cannot be reached, or the connection broke */
  GRAFT_CATALOG_ERROR_HTTP,       /* the server answered with another error status */
  GRAFT_CATALOG_ERROR_CHECKSUM,   /* the file's size or SHA-256 is not the catalog's */
  GRAFT_CATALOG_ERROR_IO,         /* reading or writing a local file failed (disk full...) */
  GRAFT_CATALOG_ERROR_NOT_DOWNLOADED, /* the model is not (or no longer) on disk */
} GraftCatalogError;

typedef struct {
  char *name;
  char *title;
  char *description;
  char *url;
  guint64 bytes;
  char *sha256;               /* lower case */
  char *licence;
  char *licence_source;       /* may be NULL */
  char *source;               /* may be NULL */
  int opset;                  /* 0: not given */
  char *input_name;           /* may be NULL */
  char *output_name;          /* may be NULL */
  int input_size;
  GraftPreprocessing preprocessing;
  char *preprocessing_json;   /* as graft_preprocessing_to_json writes it */
  char *preprocessing_note;   /* may be NULL */
  char *cut;
  int features;               /* 0: not given */
  double flops;               /* 0: not given */
  double parameters;          /* 0: not given */
  gboolean supported;         /* "support": "works" */
  char *support_note;         /* may be NULL */
  char *origin;               /* the file (or resource) that defined it, or last changed it */
  gboolean from_user;         /* defined or changed by the user catalog */
} GraftCatalogEntry;

GraftCatalogEntry *graft_catalog_entry_copy (const GraftCatalogEntry *entry);
void graft_catalog_entry_free (GraftCatalogEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftCatalogEntry, graft_catalog_entry_free)

typedef struct _GraftCatalog GraftCatalog;

/* An empty catalog. */
GraftCatalog *graft_catalog_new (void);
void graft_catalog_free (GraftCatalog *catalog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftCatalog, graft_catalog_free)

/* The bundled catalog only. */
GraftCatalog *graft_catalog_load_bundled (GError **error);
/* The bundled catalog and the user's (graft_catalog_user_file; a missing file is fine).
 * Fails, naming the file, when either is broken: callers that must go on can fall
 * back to graft_catalog_load_bundled. */
GraftCatalog *graft_catalog_load (GError **error);
/* The same for callers that must go on: when the user's file is broken, the bundled
 * catalog alone, with *user_error (may be NULL) saying why; NULL only when the bundled
 * catalog itself cannot be read (a broken build). */
GraftCatalog *graft_catalog_load_or_bundled (GError **user_error);

/* Adds the entries of a catalog file: as_user marks them as the user's and lets an
 * entry override an existing one member by member. Nothing is added when the file is
 * broken. origin names the file in messages. */
gboolean graft_catalog_add_data (GraftCatalog *catalog, const char *data, gssize length, const char *origin,
                                 gboolean as_user, GError **error);
gboolean graft_catalog_add_file (GraftCatalog *catalog, const char *path, gboolean as_user, GError **error);

/* The entries (const GraftCatalogEntry *), bundled ones in their order, then the user's new ones. */
guint graft_catalog_get_n_entries (const GraftCatalog *catalog);
const GraftCatalogEntry *graft_catalog_get_entry (const GraftCatalog *catalog, guint index);
/* NULL when there is none of that name. */
const GraftCatalogEntry *graft_catalog_find (const GraftCatalog *catalog, const char *name);
/* The same, with an error that lists the names there are. */
const GraftCatalogEntry *graft_catalog_lookup (const GraftCatalog *catalog, const char *name, GError **error);

/* $XDG_DATA_HOME/graft/catalog.json, $XDG_DATA_HOME/graft/models and the model's file there. */
char *graft_catalog_user_file (void);
char *graft_catalog_models_dir (void);
char *graft_catalog_model_path (const GraftCatalogEntry *entry);

/* Whether the model's file is there with the catalog's size and SHA-256. Uses the
 * .verified note when it matches the file's size and modification time; otherwise
 * hashes the file once (so it may take a second: call it off the main thread for
 * large files, or use graft_catalog_verify_async). */
gboolean graft_catalog_is_downloaded (const GraftCatalogEntry *entry);
/* The same with the reason when not: GRAFT_CATALOG_ERROR_NOT_DOWNLOADED when the file
 * is missing, GRAFT_CATALOG_ERROR_CHECKSUM when its size or SHA-256 differ. force:
 * hash the file even when the note says it was verified. path: the file to check (NULL:
 * graft_catalog_model_path). */
gboolean graft_catalog_verify (const GraftCatalogEntry *entry, const char *path, gboolean force,
                               GCancellable *cancellable, GError **error);
void graft_catalog_verify_async (const GraftCatalogEntry *entry, gboolean force, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean graft_catalog_verify_finish (GAsyncResult *result, GError **error);

/* SHA-256 of a file (lower-case hex), reading it in chunks; NULL with an error naming it. */
char *graft_catalog_file_sha256 (const char *path, GCancellable *cancellable, GError **error);

/* Records that path (with its current size and modification time) has the entry's
 * SHA-256, in path + ".verified". */
gboolean graft_catalog_write_verified_note (const GraftCatalogEntry *entry, const char *path, GError **error);

/* The entry whose downloaded file (graft_catalog_model_path) is path, comparing the two
 * paths canonicalised (absolute, without "." and "..", symbolic links resolved where the
 * files exist); NULL when path is no catalog model's file. It does not check the file:
 * graft_catalog_verify does. */
const GraftCatalogEntry *graft_catalog_find_file (const GraftCatalog *catalog, const char *path);

/* Puts the entry's preprocessing (entry->preprocessing_json) into model->metadata under
 * GRAFT_METADATA_PREPROCESSING when the file carries none, so that what reads the
 * metadata (the session spec, the embedding cache key, exports) gets the catalog's
 * preprocessing rather than a guess. TRUE when it added it; FALSE (nothing changed) when
 * the model has preprocessing of its own. */
gboolean graft_catalog_entry_annotate_model (const GraftCatalogEntry *entry, GraftModel *model);

/* Where a head goes on model (the entry's file, loaded): the value named by the entry's
 * cut, or, when the file has no value of that name (a cut name that was inferred, not
 * read from the real file), graft_model_default_cut; *named (may be NULL) says which.
 * -1 when there is neither. */
int graft_catalog_entry_find_cut (const GraftCatalogEntry *entry, const GraftModel *model, gboolean *named);

G_END_DECLS
