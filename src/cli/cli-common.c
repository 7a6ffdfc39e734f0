/* cli-common.c: option parsing, messages and small helpers shared by the commands. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "base/regular-file.h"
#include "catalog/catalog.h"
#include "engine/parallel.h"

/* The preprocessing options of the commands that read images for a model (see
 * cli_model_preprocessing): as given, checked when the model's preprocessing is known. */
static struct {
  char *file;
  int size, resize;
  char *mean, *std;
  gboolean bgr, rgb;
} prep_options;

static const char *const prep_commands[] = { "train", "lr-find", "eval", "predict", "export", NULL };

static GOptionGroup *
preprocessing_group (void)
{
  static const GOptionEntry entries[] = {
    { "preprocess", 0, 0, G_OPTION_ARG_FILENAME, &prep_options.file,
      N_("The model's preprocessing from a JSON file ({\"size\": 224, \"resize\": 256, \"mean\": [..], \"std\": [..], "
         "\"channels\": \"BGR\"}); the flags below go over it"), "FILE.json" },
    { "size", 0, 0, G_OPTION_ARG_INT, &prep_options.size, N_("Side of the centre crop the model takes, in pixels"), "N" },
    { "resize", 0, 0, G_OPTION_ARG_INT, &prep_options.resize, N_("Shorter side before the centre crop, in pixels"), "N" },
    { "mean", 0, 0, G_OPTION_ARG_STRING, &prep_options.mean, N_("Per-channel mean, after scaling to 0..1 (R,G,B)"),
      "R,G,B" },
    { "std", 0, 0, G_OPTION_ARG_STRING, &prep_options.std, N_("Per-channel standard deviation (R,G,B)"), "R,G,B" },
    { "bgr", 0, 0, G_OPTION_ARG_NONE, &prep_options.bgr, N_("The model takes channels in B, G, R order"), NULL },
    { "rgb", 0, 0, G_OPTION_ARG_NONE, &prep_options.rgb, N_("The model takes channels in R, G, B order"), NULL },
    { NULL },
  };
  GOptionGroup *group = g_option_group_new (
      "preprocessing", N_("Preprocessing (default: the model's graft.preprocessing metadata, else ImageNet's at its size):"),
      N_("Show the preprocessing options"), NULL, NULL);
  /* GOption translates the group's texts and its entries' descriptions at --help time. */
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  return group;
}

GOptionContext *
cli_option_context_new (const char *command, const char *parameters, const char *summary,
                        const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);
  g_autofree char *prgname = g_strdup_printf ("graft-cli %s", command);
  g_set_prgname (prgname);
  /* The summary (marked N_() by each command), the parameters and the entries'
   * descriptions are translated by GOption when --help prints them. */
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (g_strv_contains (prep_commands, command))
    g_option_context_add_group (context, preprocessing_group ());
  return context;
}

/* "0.5,0.5,0.5" (or one number for all three). */
static gboolean
parse_triple (const char *option, const char *text, float out[3], GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  guint n = g_strv_length (parts);

  if (n != 1 && n != 3)
    goto bad;
  for (guint i = 0; i < 3; i++)
    {
      const char *part = g_strstrip (parts[n == 1 ? 0 : i]);
      char *end = NULL;
      double value = g_ascii_strtod (part, &end);
      if (*part == '\0' || end == NULL || *end != '\0' || !isfinite (value))
        goto bad;
      out[i] = (float) value;
    }
  return TRUE;
bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("%s '%s': give three numbers separated by commas, such as 0.485,0.456,0.406"), option, text);
  return FALSE;
}

gboolean
cli_preprocessing_overridden (void)
{
  return prep_options.file != NULL || prep_options.size != 0 || prep_options.resize != 0 || prep_options.mean != NULL
         || prep_options.std != NULL || prep_options.bgr || prep_options.rgb;
}

gboolean
cli_apply_preprocessing_options (GraftPreprocessing *prep, GError **error)
{
  if (prep_options.bgr && prep_options.rgb)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("--bgr and --rgb cannot both be given"));
      return FALSE;
    }
  if (prep_options.file != NULL)
    {
      /* The file's members over the preprocessing so far, so that a file that gives only
       * the mean keeps the size. */
      g_autofree char *text = NULL, *current = graft_preprocessing_to_json (prep), *merged = NULL;
      g_autoptr (JsonParser) file_parser = json_parser_new ();
      g_autoptr (JsonParser) current_parser = json_parser_new ();
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GList) members = NULL;
      JsonObject *file_object, *object;

      if (!graft_file_get_contents (prep_options.file, &text, NULL, error))
        return FALSE;
      if (!json_parser_load_from_data (file_parser, text, -1, &local_error)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (file_parser)))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("%s: not a JSON object%s%s"),
                       prep_options.file, local_error != NULL ? ": " : "",
                       local_error != NULL ? local_error->message : "");
          return FALSE;
        }
      json_parser_load_from_data (current_parser, current, -1, NULL);
      file_object = json_node_get_object (json_parser_get_root (file_parser));
      object = json_node_get_object (json_parser_get_root (current_parser));
      members = json_object_get_members (file_object);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (object, l->data, json_node_copy (json_object_get_member (file_object, l->data)));
      merged = json_to_string (json_parser_get_root (current_parser), FALSE);
      if (!graft_preprocessing_from_json (merged, prep, &local_error))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: %s", prep_options.file,
                       local_error->message);
          return FALSE;
        }
    }
  if (prep_options.size != 0)
    {
      if (prep_options.size < 1 || prep_options.size > GRAFT_PREPROCESSING_MAX_SIZE)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("--size %d: give 1 to %d pixels"),
                       prep_options.size, GRAFT_PREPROCESSING_MAX_SIZE);
          return FALSE;
        }
      /* The resize keeps its ratio to the crop (ImageNet's 256 for 224). */
      if (prep_options.resize == 0)
        prep->resize = prep->resize > prep->size
                           ? MIN (GRAFT_PREPROCESSING_MAX_SIZE,
                                  (int) ((gint64) prep_options.size * prep->resize / MAX (1, prep->size)))
                           : prep_options.size;
      prep->size = prep_options.size;
    }
  if (prep_options.resize != 0)
    {
      if (prep_options.resize < prep->size || prep_options.resize > GRAFT_PREPROCESSING_MAX_SIZE)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--resize %d: give %d (the crop's side) to %d pixels"), prep_options.resize, prep->size,
                       GRAFT_PREPROCESSING_MAX_SIZE);
          return FALSE;
        }
      prep->resize = prep_options.resize;
    }
  if (prep_options.mean != NULL && !parse_triple ("--mean", prep_options.mean, prep->mean, error))
    return FALSE;
  if (prep_options.std != NULL && !parse_triple ("--std", prep_options.std, prep->std, error))
    return FALSE;
  if (prep_options.bgr || prep_options.rgb)
    prep->bgr = prep_options.bgr;
  return graft_preprocessing_validate (prep, error);
}

gboolean
cli_parse (GOptionContext *context, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_usage_error (context, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

int
cli_usage_error (GOptionContext *context, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* Translators: a usage error, "graft-cli train: --lr nan is not a number (...)". */
  fprintf (stderr, _("%s: %s\n"), g_get_prgname (), message);
  fprintf (stderr, _("Try '%s --help' for the options.\n"), g_get_prgname ());
  (void) context;
  return CLI_EXIT_USAGE;
}

int
cli_fail (const GError *error)
{
  fprintf (stderr, _("graft-cli: %s\n"), error->message);
  return CLI_EXIT_FAILURE;
}

int
cli_fail_printf (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, _("graft-cli: %s\n"), message);
  return CLI_EXIT_FAILURE;
}

int
cli_option_double (GOptionContext *context, const char *option, const char *text, double above, double at_most,
                   double *value)
{
  char *end = NULL;
  double number;

  errno = 0;
  number = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || isnan (number))
    return cli_usage_error (context, _("%s %s is not a number (give one above %g and at most %g)"), option, text, above,
                            at_most);
  if (!isfinite (number) || errno == ERANGE)
    return cli_usage_error (context, _("%s %s is not a finite number (give one above %g and at most %g)"), option, text,
                            above, at_most);
  if (!(number > above && number <= at_most))
    return cli_usage_error (context, _("%s %s is out of range (give a number above %g and at most %g)"), option, text,
                            above, at_most);
  *value = number;
  return CLI_EXIT_OK;
}

int
cli_option_int64 (GOptionContext *context, const char *option, const char *text, gint64 min, gint64 max,
                  gint64 *value)
{
  g_autoptr (GError) error = NULL;
  gint64 number;

  if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &number, &error))
    return cli_usage_error (context, _("%s %s is not a whole number (give one from %lld to %lld)"), option, text,
                            (long long) min, (long long) max);
  if (number < min || number > max)
    return cli_usage_error (context, _("%s %s is out of range (give a whole number from %lld to %lld)"), option, text,
                            (long long) min, (long long) max);
  *value = number;
  return CLI_EXIT_OK;
}

gboolean
cli_set_threads (int threads)
{
  if (threads < 0 || threads > 4096)
    return FALSE;
  if (threads > 0)
    graft_set_num_threads (threads);
  return TRUE;
}

void
cli_model_input_size (const GraftModel *model, gint64 *height, gint64 *width)
{
  const graft_shape *shape = &graft_graph_value (model->graph, model->input)->shape;
  *height = *width = -1;
  if (shape->rank != 4)
    return;
  *height = model->input_nhwc ? shape->dims[1] : shape->dims[2];
  *width = model->input_nhwc ? shape->dims[2] : shape->dims[3];
}

int
cli_model_classes (const GraftModel *model)
{
  const graft_shape *shape = &graft_graph_value (model->graph, model->logits)->shape;
  if (shape->rank != 2 || shape->dims[1] < 1 || shape->dims[1] > G_MAXINT)
    return -1;
  return (int) shape->dims[1];
}

gboolean
cli_model_labels (const GraftModel *model, const char *path, GPtrArray **labels, GError **error)
{
  const char *text = model->metadata != NULL ? g_hash_table_lookup (model->metadata, GRAFT_METADATA_LABELS) : NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GPtrArray) names = NULL;
  JsonArray *array;
  int classes = cli_model_classes (model);

  *labels = NULL;
  if (text == NULL)
    return TRUE;
  if (!json_parser_load_from_data (parser, text, -1, NULL) || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("%s: its %s metadata is not a JSON array of names"), path, GRAFT_METADATA_LABELS);
      return FALSE;
    }
  array = json_node_get_array (json_parser_get_root (parser));
  names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                       _("%s: label %u of its %s metadata is not a string"), path, i + 1, GRAFT_METADATA_LABELS);
          return FALSE;
        }
      g_ptr_array_add (names, g_strdup (json_node_get_string (element)));
    }
  if (classes < 0 || (int) names->len != classes)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("%s: its %s metadata names %u classes, but the model gives %d"), path, GRAFT_METADATA_LABELS,
                   names->len, classes);
      return FALSE;
    }
  *labels = g_steal_pointer (&names);
  return TRUE;
}

gboolean
cli_check_preprocessing (const GraftModel *model, const char *path, const GraftPreprocessing *prep, GError **error)
{
  const graft_shape *shape = &graft_graph_value (model->graph, model->input)->shape;
  gint64 height, width, channels;

  if (!graft_preprocessing_validate (prep, error))
    return FALSE;
  cli_model_input_size (model, &height, &width);
  if (shape->rank != 4)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_UNSUPPORTED,
                   _("%s: its input is not a batch of images (rank %d, not 4)"), path, shape->rank);
      return FALSE;
    }
  channels = model->input_nhwc ? shape->dims[3] : shape->dims[1];
  if (height != prep->size || width != prep->size)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("%s takes %lldx%lld images, but the preprocessing makes %dx%d"),
                   path, (long long) height, (long long) width, prep->size, prep->size);
      return FALSE;
    }
  if (channels != graft_preprocessing_channels (prep))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("%s takes %lld channels, but the preprocessing makes %d"), path, (long long) channels,
                   graft_preprocessing_channels (prep));
      return FALSE;
    }
  if (!model->input_nhwc != !prep->nhwc)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   _("%s takes %s images, but the preprocessing makes %s"), path, model->input_nhwc ? "NHWC" : "NCHW",
                   prep->nhwc ? "NHWC" : "NCHW");
      return FALSE;
    }
  return TRUE;
}

GraftCatalogEntry *
cli_catalog_entry_for_file (const char *path)
{
  g_autoptr (GraftCatalog) catalog = NULL;
  g_autoptr (GError) error = NULL;
  const GraftCatalogEntry *entry;

  catalog = graft_catalog_load_or_bundled (&error);
  if (error != NULL)
    {
      fprintf (stderr, _("graft-cli: note: %s; using the bundled catalog only\n"), error->message);
      g_clear_error (&error);
    }
  if (catalog == NULL)
    return NULL;
  entry = graft_catalog_find_file (catalog, path);
  if (entry == NULL)
    return NULL;
  if (!graft_catalog_verify (entry, path, FALSE, NULL, &error))
    {
      fprintf (stderr, _("graft-cli: note: %s; the catalog's preprocessing and cut are not used\n"), error->message);
      return NULL;
    }
  return graft_catalog_entry_copy (entry);
}

/* A catalog model's file (graft-cli models download NAME) says nothing of its
 * preprocessing: the catalog does (EfficientNet-Lite4 takes NHWC images normalised its own
 * way). When path is a catalog model's file, verified, the entry's preprocessing goes into
 * the model's metadata, so that what trains, caches or exports it carries the catalog's
 * preprocessing rather than a guess. */
void
cli_annotate_from_catalog (const GraftModel *model, const char *path)
{
  g_autoptr (GraftCatalogEntry) entry = NULL;

  if (model->metadata != NULL && g_hash_table_contains (model->metadata, GRAFT_METADATA_PREPROCESSING))
    return;
  entry = cli_catalog_entry_for_file (path);
  /* The metadata table belongs to the model; filling it in is no change to the graph. */
  if (entry != NULL)
    graft_catalog_entry_annotate_model (entry, (GraftModel *) model);
}

char *
cli_catalog_cut (const GraftCatalogEntry *entry, const GraftModel *model)
{
  gboolean named = FALSE;
  int value = graft_catalog_entry_find_cut (entry, model, &named);

  return value >= 0 && named ? g_strdup (graft_graph_value (model->graph, value)->name) : NULL;
}

gboolean
cli_model_preprocessing (const GraftModel *model, const char *path, GraftPreprocessing *prep,
                         gboolean *from_metadata, GError **error)
{
  const char *text = NULL;
  g_autoptr (GError) local_error = NULL;

  if (model->metadata != NULL)
    text = g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING);

  if (from_metadata != NULL)
    *from_metadata = text != NULL;
  if (text != NULL)
    {
      if (!graft_preprocessing_from_json (text, prep, &local_error))
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID, _("%s: its %s metadata: %s"), path,
                       GRAFT_METADATA_PREPROCESSING, local_error->message);
          return FALSE;
        }
    }
  else
    {
      const graft_shape *shape = &graft_graph_value (model->graph, model->input)->shape;
      gint64 height, width;
      graft_preprocessing_init_imagenet (prep);
      cli_model_input_size (model, &height, &width);
      /* ImageNet's 224 crop of a 256 resize, at the model's own size. */
      if (height == width && height >= 1 && height <= GRAFT_PREPROCESSING_MAX_SIZE && height != prep->size)
        {
          prep->size = (int) height;
          prep->resize = MIN (GRAFT_PREPROCESSING_MAX_SIZE, (int) (height * 256 + 112) / 224);
        }
      prep->nhwc = model->input_nhwc;
      if (shape->rank == 4 && (model->input_nhwc ? shape->dims[3] : shape->dims[1]) == 1)
        prep->grey = TRUE;
    }
  /* What the person said goes over what the file said or what was guessed. */
  if (cli_preprocessing_overridden ())
    {
      if (!cli_apply_preprocessing_options (prep, &local_error))
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, local_error->message);
          return FALSE;
        }
      if (from_metadata != NULL)
        *from_metadata = TRUE;
    }
  return cli_check_preprocessing (model, path, prep, error);
}

void
cli_json_add_number (JsonBuilder *builder, double value)
{
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
cli_json_add_text (JsonBuilder *builder, const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  json_builder_add_string_value (builder, valid);
}

char *
cli_percent_encode (const char *bytes)
{
  return g_uri_escape_string (bytes, "/", FALSE);
}

static gboolean
is_displayed_as_is (const char *path)
{
  g_autofree char *display = g_filename_display_name (path);
  return strcmp (display, path) == 0;
}

static void
add_file_name (JsonBuilder *builder, const char *path)
{
  g_autofree char *display = g_filename_display_name (path);
  json_builder_add_string_value (builder, display);
}

void
cli_json_set_file_name (JsonBuilder *builder, const char *member, const char *path)
{
  json_builder_set_member_name (builder, member);
  add_file_name (builder, path);
  if (!is_displayed_as_is (path))
    {
      g_autofree char *bytes_member = g_strconcat (member, "_bytes", NULL);
      g_autofree char *encoded = cli_percent_encode (path);
      json_builder_set_member_name (builder, bytes_member);
      json_builder_add_string_value (builder, encoded);
    }
}

void
cli_json_set_file_names (JsonBuilder *builder, const char *member, GPtrArray *paths)
{
  gboolean all_as_is = TRUE;

  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; i < paths->len; i++)
    {
      add_file_name (builder, g_ptr_array_index (paths, i));
      all_as_is = all_as_is && is_displayed_as_is (g_ptr_array_index (paths, i));
    }
  json_builder_end_array (builder);
  if (!all_as_is)
    {
      g_autofree char *bytes_member = g_strconcat (member, "_bytes", NULL);
      json_builder_set_member_name (builder, bytes_member);
      json_builder_begin_array (builder);
      for (guint i = 0; i < paths->len; i++)
        {
          g_autofree char *encoded = cli_percent_encode (g_ptr_array_index (paths, i));
          json_builder_add_string_value (builder, encoded);
        }
      json_builder_end_array (builder);
    }
}

/* A copy of node whose strings and member names are all UTF-8: the last guard, for
 * strings that came from files (node names, metadata) rather than file names. */
static JsonNode *
valid_utf8_copy (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node), *copy = json_object_new ();
        g_autoptr (GList) members = json_object_get_members (object);
        JsonNode *result = json_node_new (JSON_NODE_OBJECT);
        for (GList *l = members; l != NULL; l = l->next)
          {
            g_autofree char *name = g_utf8_make_valid (l->data, -1);
            json_object_set_member (copy, name, valid_utf8_copy (json_object_get_member (object, l->data)));
          }
        json_node_take_object (result, copy);
        return result;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node), *copy = json_array_sized_new (json_array_get_length (array));
        JsonNode *result = json_node_new (JSON_NODE_ARRAY);
        for (guint i = 0; i < json_array_get_length (array); i++)
          json_array_add_element (copy, valid_utf8_copy (json_array_get_element (array, i)));
        json_node_take_array (result, copy);
        return result;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING
          && !g_utf8_validate (json_node_get_string (node), -1, NULL))
        {
          g_autofree char *valid = g_utf8_make_valid (json_node_get_string (node), -1);
          JsonNode *result = json_node_new (JSON_NODE_VALUE);
          json_node_set_string (result, valid);
          return result;
        }
      return json_node_copy (node);
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

void
cli_print_json (JsonBuilder *builder, gboolean pretty)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) built = json_builder_get_root (builder);
  g_autoptr (JsonNode) root = valid_utf8_copy (built);
  g_autofree char *text = NULL;
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, pretty);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
  fflush (stdout);
}

char *
cli_missing_names (GPtrArray *names, GPtrArray *known)
{
  GString *missing = NULL;

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      gboolean found = FALSE;
      for (guint k = 0; k < known->len && !found; k++)
        found = strcmp (name, g_ptr_array_index (known, k)) == 0;
      if (found)
        continue;
      if (missing == NULL)
        missing = g_string_new (NULL);
      else
        g_string_append (missing, ", ");
      g_string_append (missing, name);
    }
  return missing != NULL ? g_string_free (missing, FALSE) : NULL;
}

void
cli_print_padded (const char *text, int width)
{
  printf ("%s%*s", text, MAX (0, width - (int) g_utf8_strlen (text, -1)), "");
}

void
cli_print_padded_right (const char *text, int width)
{
  printf ("%*s%s", MAX (0, width - (int) g_utf8_strlen (text, -1)), "", text);
}

int
cli_load_image_folder (const char *path, GPtrArray *classes, GraftDataset **out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GraftDataset) dataset = NULL;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return cli_fail_printf (g_file_test (path, G_FILE_TEST_EXISTS)
                                ? _("%s: not a folder (images are read from an ImageFolder tree: one folder per class)")
                                : _("%s: no such folder"),
                            path);
  dataset = graft_dataset_load_image_folder (path, classes, &error);
  if (dataset == NULL)
    return cli_fail (error);
  /* What the walk left out (FIFOs, devices, loops, a file reached twice) is said on
   * stderr, so that --json output stays one document. */
  for (guint i = 0; dataset->skipped != NULL && i < dataset->skipped->len; i++)
    {
      const GraftDatasetSkip *skip = &g_array_index (dataset->skipped, GraftDatasetSkip, i);
      g_autofree char *display = g_filename_display_name (skip->path);

      g_printerr (_("graft-cli: skipped %s: %s\n"), display, skip->reason);
    }
  if (graft_dataset_size (dataset) == 0)
    return cli_fail_printf (_("%s: no images (.png, .jpg, .jpeg) in its class folders"), path);
  *out = g_steal_pointer (&dataset);
  return CLI_EXIT_OK;
}

gboolean
cli_check_output_location (const char *path, gint64 needed_bytes, GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);
  g_autofree char *probe = NULL;
  struct statvfs fs;
  struct stat st;
  int fd, saved_errno;

  if (g_stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, _("Cannot write %s: it is a folder"), path);
      return FALSE;
    }
  if (g_stat (folder, &st) != 0)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("Cannot write %s: there is no folder %s"), path,
                     folder);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), _("Cannot write %s: %s (%s)"), path,
                     folder, g_strerror (saved_errno));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, _("Cannot write %s: %s is not a folder"), path, folder);
      return FALSE;
    }
  /* The file will be a temporary file in this folder, renamed into place: try one. */
  probe = g_build_filename (folder, ".graft-write-test-XXXXXX", NULL);
  fd = g_mkstemp_full (probe, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), _("Cannot write %s: no file can be "
                     "created in %s (%s)"), path, folder, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  g_unlink (probe);
  if (needed_bytes > 0 && statvfs (folder, &fs) == 0 && (guint64) fs.f_bavail * fs.f_frsize < (guint64) needed_bytes)
    {
      g_autofree char *free_text = g_format_size ((guint64) fs.f_bavail * fs.f_frsize);
      g_autofree char *needed_text = g_format_size ((guint64) needed_bytes);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, _("Cannot write %s: only %s are free in %s, and the file "
                     "needs about %s"), path, free_text, folder, needed_text);
      return FALSE;
    }
  return TRUE;
}
