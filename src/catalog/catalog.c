/* catalog.c: the model catalog (see catalog.h). */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "catalog/catalog.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/graft-catalog-resources.h"
#include "base/regular-file.h"
#include "base/file-hash.h"
#include "model/surgery.h"

#define CATALOG_RESOURCE "/io/github/graftlab/Graft/catalog.json"
#define CATALOG_FORMAT 1
#define MAX_NAME_LENGTH 100
#define MAX_BYTES (G_GUINT64_CONSTANT (1) << 40)  /* 1 TiB: anything larger is a typo */
#define VERIFIED_SUFFIX ".verified"

G_DEFINE_QUARK (graft-catalog-error-quark, graft_catalog_error)

struct _GraftCatalog {
  GPtrArray *entries;   /* GraftCatalogEntry * */
  GPtrArray *objects;   /* JsonObject *, the merged JSON of each entry (for user overrides) */
};

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */

void
graft_catalog_entry_free (GraftCatalogEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->title);
  g_free (entry->description);
  g_free (entry->url);
  g_free (entry->sha256);
  g_free (entry->licence);
  g_free (entry->licence_source);
  g_free (entry->source);
  g_free (entry->input_name);
  g_free (entry->output_name);
  g_free (entry->preprocessing_json);
  g_free (entry->preprocessing_note);
  g_free (entry->cut);
  g_free (entry->support_note);
  g_free (entry->origin);
  g_free (entry);
}

GraftCatalogEntry *
graft_catalog_entry_copy (const GraftCatalogEntry *entry)
{
  GraftCatalogEntry *copy = g_new (GraftCatalogEntry, 1);
  *copy = *entry;
  copy->name = g_strdup (entry->name);
  copy->title = g_strdup (entry->title);
  copy->description = g_strdup (entry->description);
  copy->url = g_strdup (entry->url);
  copy->sha256 = g_strdup (entry->sha256);
  copy->licence = g_strdup (entry->licence);
  copy->licence_source = g_strdup (entry->licence_source);
  copy->source = g_strdup (entry->source);
  copy->input_name = g_strdup (entry->input_name);
  copy->output_name = g_strdup (entry->output_name);
  copy->preprocessing_json = g_strdup (entry->preprocessing_json);
  copy->preprocessing_note = g_strdup (entry->preprocessing_note);
  copy->cut = g_strdup (entry->cut);
  copy->support_note = g_strdup (entry->support_note);
  copy->origin = g_strdup (entry->origin);
  return copy;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

typedef struct {
  const char *origin;
  guint index;          /* 1-based, for messages */
  const char *name;     /* may be NULL while unknown */
} Where;

static gboolean G_GNUC_PRINTF (3, 4)
entry_error (const Where *where, GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (where->name != NULL)
    g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE, _("%s: model %u (\"%s\"): %s"),
                 where->origin, where->index, where->name, message);
  else
    g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE, _("%s: model %u: %s"), where->origin,
                 where->index, message);
  return FALSE;
}

/* A string member: *value is NULL when it is absent and not required. */
static gboolean
read_string (JsonObject *object, const Where *where, const char *key, gboolean required, char **value,
             GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  *value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        return entry_error (where, error, "\"%s\" is missing", key);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return entry_error (where, error, "\"%s\" must be a string", key);
  if (required && json_node_get_string (node)[0] == '\0')
    return entry_error (where, error, "\"%s\" is empty", key);
  *value = g_strdup (json_node_get_string (node));
  return TRUE;
}

/* A number member, checked to lie in [min, max]; integer: it must be a JSON integer. */
static gboolean
read_number (JsonObject *object, const Where *where, const char *key, gboolean required, gboolean integer,
             double min, double max, double *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  GType type;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        return entry_error (where, error, "\"%s\" is missing", key);
      *value = 0;
      return TRUE;
    }
  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type == G_TYPE_INT64)
    *value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE && !integer)
    *value = json_node_get_double (node);
  else
    return entry_error (where, error, "\"%s\" must be %s", key, integer ? "an integer" : "a number");
  if (!isfinite (*value) || *value < min || *value > max)
    return entry_error (where, error, integer ? "\"%s\" is %.0f; it must lie between %.0f and %.0f"
                        : "\"%s\" is %g; it must lie between %g and %g", key, *value, min, max);
  return TRUE;
}

static gboolean
name_is_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > MAX_NAME_LENGTH || name[0] == '.' || name[0] == '-')
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
url_is_valid (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme;
  if (uri == NULL || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  return g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "http") == 0;
}

static char *
normalise_sha256 (const char *text)
{
  if (strlen (text) != 64)
    return NULL;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (text[i]))
      return NULL;
  return g_ascii_strdown (text, -1);
}

static GraftCatalogEntry *
parse_entry (JsonObject *object, const char *origin, guint index, gboolean from_user, GError **error)
{
  g_autoptr (GraftCatalogEntry) entry = g_new0 (GraftCatalogEntry, 1);
  Where where = { origin, index, NULL };
  g_autofree char *sha256 = NULL, *support = NULL;
  JsonNode *prep_node;
  g_autoptr (JsonGenerator) generator = NULL;
  g_autofree char *prep_text = NULL;
  g_autoptr (GError) prep_error = NULL;
  double number;

  if (!read_string (object, &where, "name", TRUE, &entry->name, error))
    return NULL;
  where.name = entry->name;
  if (!name_is_valid (entry->name))
    {
      entry_error (&where, error, "the name must be 1 to %d letters, digits, '.', '_' or '-', not starting "
                   "with '.' or '-' (it names the downloaded file)", MAX_NAME_LENGTH);
      return NULL;
    }
  if (!read_string (object, &where, "title", FALSE, &entry->title, error)
      || !read_string (object, &where, "description", TRUE, &entry->description, error)
      || !read_string (object, &where, "url", TRUE, &entry->url, error)
      || !read_string (object, &where, "sha256", TRUE, &sha256, error)
      || !read_string (object, &where, "licence", TRUE, &entry->licence, error)
      || !read_string (object, &where, "licence_source", FALSE, &entry->licence_source, error)
      || !read_string (object, &where, "source", FALSE, &entry->source, error)
      || !read_string (object, &where, "input_name", FALSE, &entry->input_name, error)
      || !read_string (object, &where, "output_name", FALSE, &entry->output_name, error)
      || !read_string (object, &where, "preprocessing_note", FALSE, &entry->preprocessing_note, error)
      || !read_string (object, &where, "cut", TRUE, &entry->cut, error)
      || !read_string (object, &where, "support", FALSE, &support, error)
      || !read_string (object, &where, "support_note", FALSE, &entry->support_note, error))
    return NULL;
  if (entry->title == NULL)
    entry->title = g_strdup (entry->name);
  if (!url_is_valid (entry->url))
    {
      entry_error (&where, error, "\"url\" must be an http or https address with a host, not '%s'", entry->url);
      return NULL;
    }
  if ((entry->sha256 = normalise_sha256 (sha256)) == NULL)
    {
      entry_error (&where, error, "\"sha256\" must be 64 hexadecimal digits");
      return NULL;
    }
  if (support == NULL || strcmp (support, "works") == 0)
    entry->supported = TRUE;
  else if (strcmp (support, "unsupported") == 0)
    entry->supported = FALSE;
  else
    {
      entry_error (&where, error, "\"support\" must be \"works\" or \"unsupported\", not \"%s\"", support);
      return NULL;
    }

  if (!read_number (object, &where, "bytes", TRUE, TRUE, 1, (double) MAX_BYTES, &number, error))
    return NULL;
  entry->bytes = (guint64) number;
  if (!read_number (object, &where, "input_size", TRUE, TRUE, 1, GRAFT_PREPROCESSING_MAX_SIZE, &number, error))
    return NULL;
  entry->input_size = (int) number;
  if (!read_number (object, &where, "opset", FALSE, TRUE, 0, 1000, &number, error))
    return NULL;
  entry->opset = (int) number;
  if (!read_number (object, &where, "features", FALSE, TRUE, 0, G_MAXINT, &number, error))
    return NULL;
  entry->features = (int) number;
  if (!read_number (object, &where, "flops", FALSE, FALSE, 0, 1e18, &entry->flops, error)
      || !read_number (object, &where, "parameters", FALSE, FALSE, 0, 1e15, &entry->parameters, error))
    return NULL;

  prep_node = json_object_get_member (object, "preprocessing");
  if (prep_node == NULL || !JSON_NODE_HOLDS_OBJECT (prep_node))
    {
      entry_error (&where, error, prep_node == NULL ? "\"preprocessing\" is missing"
                   : "\"preprocessing\" must be an object such as {\"size\": 224, \"mean\": [...], ...}");
      return NULL;
    }
  generator = json_generator_new ();
  json_generator_set_root (generator, prep_node);
  prep_text = json_generator_to_data (generator, NULL);
  if (!graft_preprocessing_from_json (prep_text, &entry->preprocessing, &prep_error)
      || !graft_preprocessing_validate (&entry->preprocessing, &prep_error))
    {
      entry_error (&where, error, "%s", prep_error->message);
      return NULL;
    }
  if (entry->preprocessing.size != entry->input_size)
    {
      entry_error (&where, error, "its preprocessing makes %dx%d images, but \"input_size\" is %d",
                   entry->preprocessing.size, entry->preprocessing.size, entry->input_size);
      return NULL;
    }
  entry->preprocessing_json = graft_preprocessing_to_json (&entry->preprocessing);
  entry->origin = g_strdup (origin);
  entry->from_user = from_user;
  return g_steal_pointer (&entry);
}

/* ------------------------------------------------------------------------ */
/* Catalogs                                                                 */

GraftCatalog *
graft_catalog_new (void)
{
  GraftCatalog *catalog = g_new0 (GraftCatalog, 1);
  catalog->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_catalog_entry_free);
  catalog->objects = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  return catalog;
}

void
graft_catalog_free (GraftCatalog *catalog)
{
  if (catalog == NULL)
    return;
  g_ptr_array_unref (catalog->entries);
  g_ptr_array_unref (catalog->objects);
  g_free (catalog);
}

static int
find_index (const GraftCatalog *catalog, const char *name)
{
  for (guint i = 0; i < catalog->entries->len; i++)
    {
      const GraftCatalogEntry *entry = g_ptr_array_index (catalog->entries, i);
      if (strcmp (entry->name, name) == 0)
        return (int) i;
    }
  return -1;
}

/* A copy of base with the members of over put on top. */
static JsonObject *
merge_objects (JsonObject *base, JsonObject *over)
{
  JsonObject *merged = json_object_new ();
  GList *members;

  members = json_object_get_members (base);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (merged, l->data, json_node_copy (json_object_get_member (base, l->data)));
  g_list_free (members);
  members = json_object_get_members (over);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (merged, l->data, json_node_copy (json_object_get_member (over, l->data)));
  g_list_free (members);
  return merged;
}

gboolean
graft_catalog_add_data (GraftCatalog *catalog, const char *data, gssize length, const char *origin,
                        gboolean as_user, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;
  g_autoptr (GPtrArray) new_entries = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_catalog_entry_free);
  g_autoptr (GPtrArray) new_objects = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr (GArray) replaces = g_array_new (FALSE, FALSE, sizeof (int));
  JsonNode *root, *models_node, *format_node;
  JsonObject *root_object;
  JsonArray *models;

  if (!json_parser_load_from_data (parser, data, length, &json_error))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE, _("%s: not a valid catalog file: %s"),
                   origin, json_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE,
                   _("%s: not a catalog file: it must hold a JSON object {\"catalog\": %d, \"models\": [...]}"), origin,
                   CATALOG_FORMAT);
      return FALSE;
    }
  root_object = json_node_get_object (root);
  format_node = json_object_get_member (root_object, "catalog");
  if (format_node != NULL
      && (!JSON_NODE_HOLDS_VALUE (format_node) || json_node_get_value_type (format_node) != G_TYPE_INT64
          || json_node_get_int (format_node) != CATALOG_FORMAT))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE,
                   _("%s: \"catalog\" must be %d, the only format this version of Graft reads"), origin, CATALOG_FORMAT);
      return FALSE;
    }
  models_node = json_object_get_member (root_object, "models");
  if (models_node == NULL || !JSON_NODE_HOLDS_ARRAY (models_node))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE,
                   _("%s: \"models\" must be a list of models"), origin);
      return FALSE;
    }
  models = json_node_get_array (models_node);
  for (guint i = 0; i < json_array_get_length (models); i++)
    {
      JsonNode *node = json_array_get_element (models, i);
      g_autoptr (JsonObject) object = NULL;
      GraftCatalogEntry *entry;
      Where where = { origin, i + 1, NULL };
      JsonNode *name_node;
      const char *name;
      int existing = -1;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return entry_error (&where, error, "each model must be a JSON object");
      object = json_object_ref (json_node_get_object (node));
      name_node = json_object_get_member (object, "name");
      if (name_node == NULL || !JSON_NODE_HOLDS_VALUE (name_node)
          || json_node_get_value_type (name_node) != G_TYPE_STRING)
        return entry_error (&where, error, "\"name\" is missing, or not a string");
      name = json_node_get_string (name_node);
      for (guint k = 0; k < new_entries->len; k++)
        if (strcmp (((GraftCatalogEntry *) g_ptr_array_index (new_entries, k))->name, name) == 0)
          {
            where.name = name;
            return entry_error (&where, error, "the file names this model twice");
          }
      existing = find_index (catalog, name);
      if (existing >= 0 && !as_user)
        {
          where.name = name;
          return entry_error (&where, error, "the catalog has this model already");
        }
      if (existing >= 0)
        {
          JsonObject *merged = merge_objects (g_ptr_array_index (catalog->objects, existing), object);
          json_object_unref (object);
          object = merged;
        }
      entry = parse_entry (object, origin, i + 1, as_user, error);
      if (entry == NULL)
        return FALSE;
      g_ptr_array_add (new_entries, entry);
      g_ptr_array_add (new_objects, g_steal_pointer (&object));
      g_array_append_val (replaces, existing);
    }
  /* All parsed: only now change the catalog. */
  for (guint k = 0; k < replaces->len; k++)
    {
      int existing = g_array_index (replaces, int, k);
      GraftCatalogEntry *entry = g_ptr_array_steal_index (new_entries, 0);
      JsonObject *object = g_ptr_array_steal_index (new_objects, 0);
      if (existing >= 0)
        {
          graft_catalog_entry_free (g_ptr_array_index (catalog->entries, existing));
          json_object_unref (g_ptr_array_index (catalog->objects, existing));
          g_ptr_array_index (catalog->entries, existing) = entry;
          g_ptr_array_index (catalog->objects, existing) = object;
        }
      else
        {
          g_ptr_array_add (catalog->entries, entry);
          g_ptr_array_add (catalog->objects, object);
        }
    }
  return TRUE;
}

gboolean
graft_catalog_add_file (GraftCatalog *catalog, const char *path, gboolean as_user, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local = NULL;
  gsize length;

  if (!graft_file_get_contents (path, &contents, &length, &local))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, _("%s: cannot read the catalog file: %s"),
                   path, local->message);
      return FALSE;
    }
  if (length > G_MAXSSIZE)
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_PARSE, _("%s: too large for a catalog"), path);
      return FALSE;
    }
  return graft_catalog_add_data (catalog, contents, (gssize) length, path, as_user, error);
}

GraftCatalog *
graft_catalog_load_bundled (GError **error)
{
  g_autoptr (GraftCatalog) catalog = graft_catalog_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local = NULL;
  gsize size;
  const char *data;

  /* Referring to the resource by its getter links it (and its constructor, which
   * registers it for g_resources_lookup_data) into programs that use the catalog. */
  bytes = g_resource_lookup_data (graft_catalog_get_resource (), CATALOG_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                  &local);
  if (bytes == NULL)
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, "resource://%s: %s", CATALOG_RESOURCE,
                   local->message);
      return NULL;
    }
  data = g_bytes_get_data (bytes, &size);
  if (!graft_catalog_add_data (catalog, data, (gssize) size, "resource://" CATALOG_RESOURCE, FALSE, error))
    return NULL;
  return g_steal_pointer (&catalog);
}

GraftCatalog *
graft_catalog_load (GError **error)
{
  g_autoptr (GraftCatalog) catalog = graft_catalog_load_bundled (error);
  g_autofree char *user = graft_catalog_user_file ();

  if (catalog == NULL)
    return NULL;
  if (g_file_test (user, G_FILE_TEST_EXISTS) && !graft_catalog_add_file (catalog, user, TRUE, error))
    return NULL;
  return g_steal_pointer (&catalog);
}

GraftCatalog *
graft_catalog_load_or_bundled (GError **user_error)
{
  GraftCatalog *catalog = graft_catalog_load (user_error);

  return catalog != NULL ? catalog : graft_catalog_load_bundled (NULL);
}

guint
graft_catalog_get_n_entries (const GraftCatalog *catalog)
{
  return catalog->entries->len;
}

const GraftCatalogEntry *
graft_catalog_get_entry (const GraftCatalog *catalog, guint index)
{
  g_return_val_if_fail (index < catalog->entries->len, NULL);
  return g_ptr_array_index (catalog->entries, index);
}

const GraftCatalogEntry *
graft_catalog_find (const GraftCatalog *catalog, const char *name)
{
  int i = find_index (catalog, name);
  return i >= 0 ? g_ptr_array_index (catalog->entries, i) : NULL;
}

const GraftCatalogEntry *
graft_catalog_lookup (const GraftCatalog *catalog, const char *name, GError **error)
{
  const GraftCatalogEntry *entry = graft_catalog_find (catalog, name);
  g_autoptr (GString) names = NULL;

  if (entry != NULL)
    return entry;
  names = g_string_new (NULL);
  for (guint i = 0; i < catalog->entries->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            ((GraftCatalogEntry *) g_ptr_array_index (catalog->entries, i))->name);
  g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_NOT_FOUND,
               _("the catalog has no model named '%s' (it has: %s)"), name, names->len > 0 ? names->str : "none");
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

char *
graft_catalog_user_file (void)
{
  return g_build_filename (g_get_user_data_dir (), "graft", "catalog.json", NULL);
}

char *
graft_catalog_models_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "graft", "models", NULL);
}

char *
graft_catalog_model_path (const GraftCatalogEntry *entry)
{
  g_autofree char *dir = graft_catalog_models_dir ();
  g_autofree char *file = g_strconcat (entry->name, ".onnx", NULL);
  return g_build_filename (dir, file, NULL);
}

char *
graft_catalog_file_sha256 (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *sha256 = graft_file_sha256_cancellable (path, cancellable, &local);

  if (sha256 == NULL)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, GRAFT_CATALOG_ERROR, g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                     ? GRAFT_CATALOG_ERROR_NOT_DOWNLOADED : GRAFT_CATALOG_ERROR_IO,
                     _("%s: cannot read it: %s"), path, local->message);
      return NULL;
    }
  return sha256;
}

/* The file's size and modification time (microseconds); FALSE when it is not there. */
static gboolean
file_stamp (const char *path, guint64 *size, gint64 *mtime_usec, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GError) local = NULL;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED "," G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                            G_FILE_QUERY_INFO_NONE, NULL, &local);
  if (info == NULL)
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                   ? GRAFT_CATALOG_ERROR_NOT_DOWNLOADED : GRAFT_CATALOG_ERROR_IO,
                   "%s: %s", path, local->message);
      return FALSE;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, _("%s: not a regular file"), path);
      return FALSE;
    }
  *size = (guint64) g_file_info_get_size (info);
  *mtime_usec = (gint64) g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED) * G_USEC_PER_SEC
                + g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC);
  return TRUE;
}

/* The note: "graft-verified 1\nsize mtime_usec sha256\n". */
static char *
verified_note_text (guint64 size, gint64 mtime_usec, const char *sha256)
{
  return g_strdup_printf ("graft-verified 1\n%" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %s\n", size, mtime_usec,
                          sha256);
}

/* The note for path as it was when stamped (size, mtime). */
static gboolean
write_note (const GraftCatalogEntry *entry, const char *path, guint64 size, gint64 mtime, GError **error)
{
  g_autofree char *note_path = g_strconcat (path, VERIFIED_SUFFIX, NULL);
  g_autofree char *text = verified_note_text (size, mtime, entry->sha256);
  g_autoptr (GError) local = NULL;

  if (!g_file_set_contents (note_path, text, -1, &local))
    {
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_IO, _("%s: cannot write it: %s"), note_path,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
graft_catalog_write_verified_note (const GraftCatalogEntry *entry, const char *path, GError **error)
{
  guint64 size;
  gint64 mtime;

  return file_stamp (path, &size, &mtime, error) && write_note (entry, path, size, mtime, error);
}

static gboolean
verified_note_matches (const GraftCatalogEntry *entry, const char *path, guint64 size, gint64 mtime)
{
  g_autofree char *note_path = g_strconcat (path, VERIFIED_SUFFIX, NULL);
  g_autofree char *contents = NULL;
  g_autofree char *expected = verified_note_text (size, mtime, entry->sha256);

  if (!graft_file_get_contents (note_path, &contents, NULL, NULL))
    return FALSE;
  return strcmp (contents, expected) == 0;
}

gboolean
graft_catalog_verify (const GraftCatalogEntry *entry, const char *path, gboolean force, GCancellable *cancellable,
                      GError **error)
{
  g_autofree char *default_path = NULL;
  g_autofree char *note_path = NULL;
  g_autofree char *sha256 = NULL;
  guint64 size;
  gint64 mtime;

  if (path == NULL)
    path = default_path = graft_catalog_model_path (entry);
  note_path = g_strconcat (path, VERIFIED_SUFFIX, NULL);
  if (!file_stamp (path, &size, &mtime, error))
    return FALSE;
  if (size != entry->bytes)
    {
      g_unlink (note_path);
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM,
                   _("%s: %llu bytes, but the catalog's %s has %llu: the file is incomplete or not that model"),
                   path, (unsigned long long) size, entry->name, (unsigned long long) entry->bytes);
      return FALSE;
    }
  if (!force && verified_note_matches (entry, path, size, mtime))
    return TRUE;
  sha256 = graft_catalog_file_sha256 (path, cancellable, error);
  if (sha256 == NULL)
    return FALSE;
  if (strcmp (sha256, entry->sha256) != 0)
    {
      g_unlink (note_path);
      g_set_error (error, GRAFT_CATALOG_ERROR, GRAFT_CATALOG_ERROR_CHECKSUM,
                   _("%s: its SHA-256 is %s, but the catalog's %s has %s: the file is damaged or not that model"),
                   path, sha256, entry->name, entry->sha256);
      return FALSE;
    }
  /* Stamped as it was before it was hashed: a file changed meanwhile is hashed again next
   * time. A note that cannot be written only costs a new check next time. */
  write_note (entry, path, size, mtime, NULL);
  return TRUE;
}

gboolean
graft_catalog_is_downloaded (const GraftCatalogEntry *entry)
{
  return graft_catalog_verify (entry, NULL, FALSE, NULL, NULL);
}

typedef struct {
  GraftCatalogEntry *entry;
  gboolean force;
} VerifyData;

static void
verify_data_free (VerifyData *data)
{
  graft_catalog_entry_free (data->entry);
  g_free (data);
}

static void
verify_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  VerifyData *data = task_data;
  GError *error = NULL;
  if (graft_catalog_verify (data->entry, NULL, data->force, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
graft_catalog_verify_async (const GraftCatalogEntry *entry, gboolean force, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  VerifyData *data = g_new0 (VerifyData, 1);
  data->entry = graft_catalog_entry_copy (entry);
  data->force = force;
  g_task_set_source_tag (task, graft_catalog_verify_async);
  g_task_set_task_data (task, data, (GDestroyNotify) verify_data_free);
  g_task_run_in_thread (task, verify_thread);
}

gboolean
graft_catalog_verify_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

int
graft_catalog_entry_find_cut (const GraftCatalogEntry *entry, const GraftModel *model, gboolean *named)
{
  int cut = graft_graph_find_value (model->graph, entry->cut);
  if (named != NULL)
    *named = cut >= 0;
  if (cut >= 0)
    return cut;
  return graft_model_default_cut (model);
}

/* Absolute, without "." and "..", and with symbolic links resolved when the file (or,
 * failing that, its folder) exists. */
static char *
canonical_path (const char *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  char *resolved = realpath (absolute, NULL);

  if (resolved != NULL)
    {
      char *copy = g_strdup (resolved);
      free (resolved);
      return copy;
    }
  /* Not there (yet): the folder may be. */
  dir = g_path_get_dirname (absolute);
  base = g_path_get_basename (absolute);
  resolved = realpath (dir, NULL);
  if (resolved != NULL)
    {
      char *joined = g_build_filename (resolved, base, NULL);
      free (resolved);
      return joined;
    }
  return g_steal_pointer (&absolute);
}

const GraftCatalogEntry *
graft_catalog_find_file (const GraftCatalog *catalog, const char *path)
{
  g_autofree char *wanted = NULL;

  g_return_val_if_fail (catalog != NULL, NULL);
  if (path == NULL || path[0] == '\0')
    return NULL;
  wanted = canonical_path (path);
  for (guint i = 0; i < catalog->entries->len; i++)
    {
      const GraftCatalogEntry *entry = g_ptr_array_index (catalog->entries, i);
      g_autofree char *model_path = graft_catalog_model_path (entry);
      g_autofree char *canonical = canonical_path (model_path);
      if (strcmp (canonical, wanted) == 0)
        return entry;
    }
  return NULL;
}

gboolean
graft_catalog_entry_annotate_model (const GraftCatalogEntry *entry, GraftModel *model)
{
  g_return_val_if_fail (entry != NULL && model != NULL, FALSE);
  if (model->metadata == NULL)
    model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_contains (model->metadata, GRAFT_METADATA_PREPROCESSING))
    return FALSE;
  g_hash_table_insert (model->metadata, g_strdup (GRAFT_METADATA_PREPROCESSING),
                       g_strdup (entry->preprocessing_json));
  return TRUE;
}
