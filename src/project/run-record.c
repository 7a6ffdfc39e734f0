/* run-record.c: a run's curves, metrics record and model, stored (see run-record.h). */
#include "config.h"

#include "project/run-record.h"

#include <json-glib/json-glib.h>
#include <errno.h>
#include <math.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "base/file-hash.h"
#include "data/preprocess.h"
#include "train/export.h"
#include "train/spec.h"

const char *const graft_run_series_names[] = {
  "train-loss", "train-loss-epoch", "validation-loss", "train-accuracy", "validation-accuracy", "lr",
};
const guint graft_run_n_series = G_N_ELEMENTS (graft_run_series_names);

struct _GraftRunCurves {
  GArray *points;       /* GraftMetricPoint */
  int epochs_done;
};

GraftRunCurves *
graft_run_curves_new (void)
{
  GraftRunCurves *curves = g_new0 (GraftRunCurves, 1);
  curves->points = g_array_new (FALSE, FALSE, sizeof (GraftMetricPoint));
  return curves;
}

void
graft_run_curves_free (GraftRunCurves *curves)
{
  if (curves == NULL)
    return;
  g_array_unref (curves->points);
  g_free (curves);
}

void
graft_run_curves_add (GraftRunCurves *curves, const char *name, double x, double y)
{
  for (guint i = 0; i < graft_run_n_series; i++)
    if (g_str_equal (name, graft_run_series_names[i]))
      {
        /* The static name: the points outlive the caller's string. */
        GraftMetricPoint point = { llround (x * GRAFT_RUN_STEPS_PER_EPOCH), graft_run_series_names[i], y };
        g_array_append_val (curves->points, point);
        return;
      }
  g_return_if_reached ();
}

void
graft_run_curves_add_step (GraftRunCurves *curves, const GraftStepEvent *event)
{
  double x = event->epoch + (event->step + 1.0) / MAX (1, event->steps);
  graft_run_curves_add (curves, "train-loss", x, event->loss);
  graft_run_curves_add (curves, "lr", x, event->lr);
}

void
graft_run_curves_add_epoch (GraftRunCurves *curves, const GraftEpochEvent *event)
{
  double x = event->epoch + 1.0;
  graft_run_curves_add (curves, "train-loss-epoch", x, event->train_loss);
  graft_run_curves_add (curves, "train-accuracy", x, event->train_accuracy);
  graft_run_curves_add (curves, "validation-loss", x, event->validation_loss);
  graft_run_curves_add (curves, "validation-accuracy", x, event->validation_accuracy);
  curves->epochs_done = MAX (curves->epochs_done, event->epoch + 1);
}

GArray *
graft_run_curves_get_points (GraftRunCurves *curves)
{
  return curves->points;
}

int
graft_run_curves_get_epochs_done (GraftRunCurves *curves)
{
  return curves->epochs_done;
}

void
graft_run_curves_set_epochs_done (GraftRunCurves *curves, int epochs_done)
{
  curves->epochs_done = epochs_done;
}

char *
graft_run_metrics_to_json (const GraftRunRecord *record)
{
  const GraftMetrics *m = record->validation_metrics;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; record->classes != NULL && c < record->classes->len; c++)
    json_builder_add_string_value (b, g_ptr_array_index (record->classes, c));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, record->epochs);
  json_builder_set_member_name (b, "epochs_done");
  json_builder_add_int_value (b, record->epochs_done);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, isfinite (record->seconds) ? record->seconds : 0);
  if (record->parts != NULL)
    {
      json_builder_set_member_name (b, "parts");
      json_builder_begin_array (b);
      for (guint i = 0; i < record->parts->len; i++)
        {
          const GraftRunPart *part = &g_array_index (record->parts, GraftRunPart, i);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "from_epoch");
          json_builder_add_int_value (b, part->from_epoch);
          json_builder_set_member_name (b, "epochs_done");
          json_builder_add_int_value (b, part->epochs_done);
          json_builder_set_member_name (b, "seconds");
          json_builder_add_double_value (b, part->seconds);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  if (m != NULL && m->count > 0)
    {
      json_builder_set_member_name (b, "accuracy");
      json_builder_add_double_value (b, graft_metrics_accuracy (m));
      json_builder_set_member_name (b, "count");
      json_builder_add_int_value (b, (gint64) m->count);
      json_builder_set_member_name (b, "loss_sum");
      json_builder_add_double_value (b, isfinite (m->loss_sum) ? m->loss_sum : 0);
      /* Row = true class, column = predicted. */
      json_builder_set_member_name (b, "confusion");
      json_builder_begin_array (b);
      for (int t = 0; t < m->classes; t++)
        {
          json_builder_begin_array (b);
          for (int p = 0; p < m->classes; p++)
            json_builder_add_int_value (b, (gint64) m->confusion[(gsize) t * m->classes + p]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  /* The images it was validated on, so that opening the run later evaluates it on
   * the same ones. */
  json_builder_set_member_name (b, "validation");
  json_builder_begin_array (b);
  for (guint i = 0; record->validation != NULL && i < record->validation->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (record->validation->items, GraftDatasetItem, i);
      json_builder_begin_array (b);
      json_builder_add_string_value (b, item->path);
      json_builder_add_int_value (b, item->label);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

gboolean
graft_project_store_run (GraftProject *project, gint64 run_id, const GraftRunRecord *record, GError **error)
{
  g_autofree char *metrics_json = NULL;
  g_autoptr (GArray) parts = NULL;
  GraftRunRecord summed = *record;
  GError *local_error = NULL;

  g_return_val_if_fail (record != NULL, FALSE);
  /* This part's time, then the run's: the sum of its parts'. */
  if (record->part != 0)
    {
      if (graft_project_update_run_part (project, record->part, record->epochs_done, record->seconds, &local_error)
          && (parts = graft_project_get_run_parts (project, run_id, &local_error)) != NULL)
        {
          summed.seconds = 0;
          for (guint i = 0; i < parts->len; i++)
            summed.seconds += g_array_index (parts, GraftRunPart, i).seconds;
          summed.parts = parts;
        }
      else
        {
          /* Only the figure is less complete: this part's time. */
          g_warning ("Run %" G_GINT64_FORMAT ": %s", run_id, local_error->message);
          g_clear_error (&local_error);
        }
    }
  if (record->status != GRAFT_RUN_FAILED)
    metrics_json = graft_run_metrics_to_json (&summed);
  if ((record->model != NULL && !graft_project_save_run_model (project, run_id, record->model, &local_error))
      || (metrics_json != NULL && !graft_project_set_run_metrics (project, run_id, metrics_json, &local_error))
      || (record->n_points > 0
          && !graft_project_append_metrics (project, run_id, record->points, record->n_points, &local_error)))
    {
      /* The run is kept as failed: its row says what it was. */
      graft_project_set_run_status (project, run_id, GRAFT_RUN_FAILED, NULL);
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (!graft_project_set_run_status (project, run_id, record->status, error))
    return FALSE;
  /* A finished run is not resumed: its checkpoint is only weight. */
  if (record->status == GRAFT_RUN_FINISHED)
    {
      g_autofree char *checkpoint = graft_run_checkpoint_file (project, run_id);
      g_remove (checkpoint);
    }
  return TRUE;
}

/* The metrics record's root object, or NULL. */
static JsonNode *
metrics_root (const GraftRun *run)
{
  JsonNode *root;

  if (run->metrics_json == NULL)
    return NULL;
  root = json_from_string (run->metrics_json, NULL);
  if (root != NULL && !JSON_NODE_HOLDS_OBJECT (root))
    g_clear_pointer (&root, json_node_unref);
  return root;
}

GPtrArray *
graft_run_get_classes (const GraftRun *run)
{
  g_autoptr (JsonNode) root = metrics_root (run);
  JsonObject *object = root != NULL ? json_node_get_object (root) : NULL;
  JsonArray *array;
  GPtrArray *classes;

  if (object == NULL || !json_object_has_member (object, "classes")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "classes")))
    return NULL;
  array = json_object_get_array_member (object, "classes");
  if (json_array_get_length (array) == 0)
    return NULL;
  classes = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_ptr_array_unref (classes);
          return NULL;
        }
      g_ptr_array_add (classes, g_strdup (json_node_get_string (node)));
    }
  return classes;
}

GraftDataset *
graft_run_get_validation (const GraftRun *run)
{
  g_autoptr (GPtrArray) classes = graft_run_get_classes (run);
  g_autoptr (JsonNode) root = metrics_root (run);
  JsonObject *object = root != NULL ? json_node_get_object (root) : NULL;
  JsonArray *array;
  GraftDataset *validation;

  if (classes == NULL || object == NULL || !json_object_has_member (object, "validation")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "validation")))
    return NULL;
  array = json_object_get_array_member (object, "validation");
  if (json_array_get_length (array) == 0)
    return NULL;
  validation = graft_dataset_new ();
  for (guint c = 0; c < classes->len; c++)
    graft_dataset_add_class (validation, g_ptr_array_index (classes, c));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonArray *item = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
      JsonNode *path = item != NULL && json_array_get_length (item) == 2 ? json_array_get_element (item, 0) : NULL;
      if (path != NULL && JSON_NODE_HOLDS_VALUE (path) && json_node_get_value_type (path) == G_TYPE_STRING)
        graft_dataset_add (validation, json_node_get_string (path), (int) json_array_get_int_element (item, 1));
    }
  return validation;
}

gboolean
graft_run_describe_model (const GraftRun *run, GraftModel *model, GError **error)
{
  g_autoptr (GPtrArray) classes = graft_run_get_classes (run);
  g_autoptr (GraftSessionSpec) spec = run->spec_json != NULL ? graft_session_spec_from_json (run->spec_json, NULL)
                                                               : NULL;
  g_autoptr (JsonNode) root = metrics_root (run);
  JsonObject *object = root != NULL ? json_node_get_object (root) : NULL;
  const graft_value *logits = graft_graph_value (model->graph, model->logits);
  GraftModelDescription description = {
    .classes = classes,
    .spec = spec,
    .validation_accuracy = object != NULL && json_object_has_member (object, "accuracy")
                             ? json_object_get_double_member (object, "accuracy") : NAN,
  };

  if (classes != NULL && !g_hash_table_contains (model->metadata, GRAFT_METADATA_LABELS)
      && (logits->shape.rank != 2 || logits->shape.dims[1] != (gint64) classes->len))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "%s: run %" G_GINT64_FORMAT " names %u classes, but its model gives another number",
                   run->model_path != NULL ? run->model_path : "the run's model", run->id, classes->len);
      return FALSE;
    }
  /* What the file says stays: only what it lacks is added. */
  graft_model_description_write (&description, model->metadata, FALSE);
  return TRUE;
}

char *
graft_run_checkpoint_file (GraftProject *project, gint64 run_id)
{
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".checkpoint", run_id);
  return g_build_filename (graft_project_get_folder (project), GRAFT_PROJECT_RUNS_FOLDER, name, NULL);
}

gboolean
graft_run_is_resumable (GraftProject *project, const GraftRun *run, int *epochs_done_out, int *epochs_out,
                        GError **error)
{
  g_autofree char *path = graft_run_checkpoint_file (project, run->id);
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, run->id);
  int epochs_done = 0, epochs = 0;

  if (run->status == GRAFT_RUN_FINISHED)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   _("Run %s is finished: there is nothing to resume"), id);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                   _("Run %s has no checkpoint (%s): it stopped before its first epoch ended"), id,
                   display);
      return FALSE;
    }
  if (!graft_checkpoint_get_epochs (path, &epochs_done, &epochs, error))
    return FALSE;
  if (epochs_done_out != NULL)
    *epochs_done_out = epochs_done;
  if (epochs_out != NULL)
    *epochs_out = epochs;
  return TRUE;
}

gint64
graft_run_find_resumable (GraftProject *project, GError **error)
{
  g_autoptr (GArray) runs = graft_project_list_runs (project, error);
  if (runs == NULL)
    return 0;
  for (guint i = 0; i < runs->len; i++)
    {
      const GraftRun *run = &g_array_index (runs, GraftRun, i);
      /* A failed run (a diverged loss) is resumed only when asked for by its id. */
      if (run->status != GRAFT_RUN_FAILED && graft_run_is_resumable (project, run, NULL, NULL, NULL))
        return run->id;
    }
  return 0;
}

gboolean
graft_run_record_export (GraftProject *project, gint64 run_id, const char *path, const char *format, GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *checksum = graft_file_sha256 (absolute, error);

  return checksum != NULL && graft_project_add_export (project, run_id, absolute, format, checksum, error);
}
