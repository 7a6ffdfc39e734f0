/* export.c: the metadata of a trained model, and its export with verification. */
#include "config.h"

#include "train/export.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "train/metrics.h"
#include "train/trainer.h"

static void
put (GHashTable *metadata, gboolean replace, const char *key, char *value)
{
  if (!replace && g_hash_table_contains (metadata, key))
    g_free (value);
  else
    g_hash_table_insert (metadata, g_strdup (key), value);
}

void
graft_model_description_write (const GraftModelDescription *description, GHashTable *metadata,
                                gboolean replace)
{
  if (description->classes != NULL)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;

      json_builder_begin_array (builder);
      for (guint c = 0; c < description->classes->len; c++)
        json_builder_add_string_value (builder, g_ptr_array_index (description->classes, c));
      json_builder_end_array (builder);
      root = json_builder_get_root (builder);
      put (metadata, replace, GRAFT_METADATA_LABELS, json_to_string (root, FALSE));
    }
  if (description->spec != NULL)
    {
      put (metadata, replace, GRAFT_METADATA_PREPROCESSING,
           graft_preprocessing_to_json (&description->spec->preprocessing));
      put (metadata, replace, GRAFT_METADATA_RECIPE, graft_session_spec_to_json (description->spec));
    }
  if (!isnan (description->validation_accuracy))
    {
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];
      /* Not "%.4f": under a French locale that writes "0,8750", which no reader parses. */
      g_ascii_formatd (buffer, sizeof buffer, "%.4f", description->validation_accuracy);
      put (metadata, replace, GRAFT_METADATA_VALIDATION_ACCURACY, g_strdup (buffer));
    }
  else if (replace)
    g_hash_table_remove (metadata, GRAFT_METADATA_VALIDATION_ACCURACY);
}

gboolean
graft_export_model (GraftModel *model, const char *path, const GraftExportOptions *options,
                    const GraftExportReference *reference, GraftExportVerification *verification,
                    GError **error)
{
  g_autoptr (GraftModel) exported = NULL;
  g_autoptr (GraftMetrics) metrics = NULL;
  g_autofree float *probabilities = NULL;
  GraftExportVerification result = { 0 };
  int classes;

  if (verification != NULL)
    *verification = result;
  if (!graft_model_save (model, path, options, error))
    return FALSE;
  if (reference == NULL || reference->validation == NULL || reference->probabilities == NULL)
    return TRUE;

  /* The file, as another program would read it, on the same images. */
  exported = graft_model_load (path, error);
  if (exported == NULL)
    return FALSE;
  classes = (int) graft_graph_value (exported->graph, exported->logits)->shape.dims[1];
  if (classes != reference->classes)
    {
      g_autofree char *name = g_filename_display_name (path);
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_INVALID,
                   g_dngettext (GETTEXT_PACKAGE, "The exported file %s has %d outputs instead of %d",
                                "The exported file %s has %d outputs instead of %d", reference->classes),
                   name, classes, reference->classes);
      return FALSE;
    }
  metrics = graft_evaluate (exported, reference->validation, reference->preprocessing, reference->batch_size,
                            reference->decode_threads, &probabilities, error);
  if (metrics == NULL)
    return FALSE;
  for (guint i = 0; i < reference->validation->items->len; i++)
    {
      const float *a = reference->probabilities + (gsize) i * classes;
      const float *b = probabilities + (gsize) i * classes;
      int label = g_array_index (reference->validation->items, GraftDatasetItem, i).label;

      if (label < 0 || label >= classes || isnan (a[0]) || isnan (b[0]))
        continue;
      result.compared++;
      if (graft_metrics_argmax (a, classes) == graft_metrics_argmax (b, classes))
        result.agreed++;
      for (int k = 0; k < classes; k++)
        result.max_difference = MAX (result.max_difference, fabs ((double) a[k] - b[k]));
    }
  result.verified = TRUE;
  if (verification != NULL)
    *verification = result;
  return TRUE;
}
