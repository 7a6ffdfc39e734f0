/* graft-results-page.c
 *
 * What the page shows comes from one Results: the run's spec, classes and validation
 * images (copied when the run started), the page's own copy of the trained model
 * (serialised on the main thread when the run finishes, parsed back in the worker),
 * and what graft_evaluate found. Workers only ever see a Results (reference counted)
 * and plain data; widgets are touched on the main thread. A generation number drops
 * the answer of an evaluation that a newer run has overtaken.
 *
 * The gallery of mistakes (GraftMistakesGallery) shows the validation images with the
 * evaluation's predictions: mistakes by default, or one cell of the confusion matrix
 * (a click on a cell).
 *
 * With a project set, the page shows that project's runs only: setting it drops every
 * result and run of the project before, lists the runs the project stored (each can be
 * opened: its trained model is read from the project and evaluated on the validation
 * images it was validated on; or deleted), and opens the newest. A run that ends here
 * gets its stored id when the project has stored it (::runs-changed).
 *
 * The per-class table is a GraftClassTable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-results-page.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "base/regular-file.h"
#include "graft-class-table.h"
#include "graft-format.h"
#include "graft-image-viewer.h"
#include "graft-mistakes-gallery.h"
#include "graft-plot.h"
#include "train/export.h"
#include "train/trainer.h"

#define DECODE_THREADS 2
#define MAX_EVALUATION_BATCH 64
#define MAX_DIFFERENCES 8

static const char *const curve_names[] = {
  "train-loss", "train-loss-epoch", "validation-loss", "train-accuracy", "validation-accuracy", "lr",
};

/* --- what a run left: shared with the workers ------------------------------------ */

typedef struct {
  GraftSessionSpec *spec;
  GPtrArray *classes;        /* char *: the model's outputs (the train dataset's classes) */
  GraftDataset *validation;  /* NULL without validation images */
  GraftModel *model;         /* the page's own copy; set by the evaluation worker */
  int outputs;
  GraftMetrics *metrics;     /* NULL without validation images */
  float *probabilities;      /* (validation items, outputs); NAN for images that failed */
} Results;

static void
results_clear (gpointer data)
{
  Results *r = data;

  g_clear_pointer (&r->spec, graft_session_spec_free);
  g_clear_pointer (&r->classes, g_ptr_array_unref);
  g_clear_pointer (&r->validation, graft_dataset_free);
  g_clear_pointer (&r->model, graft_model_free);
  g_clear_pointer (&r->metrics, graft_metrics_free);
  g_clear_pointer (&r->probabilities, g_free);
}

static Results *
results_ref (Results *r)
{
  return g_atomic_rc_box_acquire (r);
}

static void
results_unref (Results *r)
{
  g_atomic_rc_box_release_full (r, results_clear);
}

static const char *
results_class_name (Results *r, int c)
{
  return r->classes != NULL && c >= 0 && (guint) c < r->classes->len ? g_ptr_array_index (r->classes, c) : "?";
}

/* --- a finished run, for the list and the comparison --------------------------- */

typedef struct {
  int number;                /* the stored run's id once stored; its place in the list before */
  gint64 id;                 /* in the project; 0: not stored (yet) */
  char *model_path;          /* the stored run's model file */
  char *metrics_json;        /* the stored run's metrics (classes, validation images) */
  GtkWidget *row;
  GtkWidget *open_button;
  GraftStrategy strategy;
  char *spec_json;
  double accuracy;           /* NAN without validation images */
  int epochs_done, epochs;
  double seconds;            /* NAN when the start was not seen */
  GDateTime *finished;
  GHashTable *series;        /* curve name -> GraftSeries (copies) */
  GraftSeries *compare_accuracy, *compare_loss; /* the same, labelled "Run n" */
  GtkCheckButton *check;
  const char *note;          /* "failed", "interrupted": a stored run without a model */
  gboolean resumable;        /* stopped, closed or killed with a checkpoint */
  GtkWidget *resume_button;
} Run;

static void
run_free (gpointer data)
{
  Run *run = data;

  g_free (run->spec_json);
  g_free (run->model_path);
  g_free (run->metrics_json);
  g_clear_pointer (&run->finished, g_date_time_unref);
  g_clear_pointer (&run->series, g_hash_table_unref);
  g_clear_object (&run->compare_accuracy);
  g_clear_object (&run->compare_loss);
  g_free (run);
}

/* --- the page ---------------------------------------------------------------------- */

struct _GraftResultsPage
{
  AdwBin parent_instance;

  GraftSession *session;
  GraftTraining *training;
  GSignalGroup *training_signals;
  GraftProjectObject *project;
  gulong runs_changed_id;
  char *project_name;

  /* The run going on, as it started. */
  gboolean run_in_progress;
  GraftSessionSpec *run_spec;
  GPtrArray *run_classes;
  GraftDataset *run_validation;
  gint64 run_started;

  Results *results;          /* shown, or being evaluated */
  Run *shown_run;
  guint generation;
  GCancellable *cancellable; /* of the evaluation under way */
  gboolean evaluating;
  gboolean exporting_model;
  gboolean exporting_curves;
  GPtrArray *runs;           /* Run */


  /* Template children. */
  GtkStack *stack;
  GtkLabel *title_label;
  GtkLabel *subtitle_label;
  GtkLabel *export_label;
  GtkSpinner *export_spinner;
  GtkWidget *curves_button;
  AdwSplitButton *export_button;
  GtkSwitch *softmax_switch;
  GtkStack *evaluation_stack;
  GtkSpinner *evaluation_spinner;
  AdwStatusPage *failed_page;
  GtkLabel *accuracy_value;
  GtkLabel *f1_value;
  GtkLabel *loss_value;
  GtkLabel *images_value;
  GtkLabel *mistakes_value;
  GraftConfusionView *confusion_view;
  GraftClassTable *class_table;
  GraftMistakesGallery *gallery;
  GraftImageViewer *viewer;  /* a mistake shown large, once opened (weak) */
  AdwPreferencesGroup *runs_group;
  GtkRevealer *compare_revealer;
  GraftPlot *compare_accuracy_plot;
  GraftPlot *compare_loss_plot;
  GtkLabel *differences_label;
};

G_DEFINE_FINAL_TYPE (GraftResultsPage, graft_results_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, PROP_TRAINING, PROP_PROJECT_NAME, PROP_PROJECT, N_PROPS };
enum { TOAST, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void update_actions (GraftResultsPage *self);

static void
toast (GraftResultsPage *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

/* --- words ---------------------------------------------------------------------- */

static char *
format_duration (double seconds)
{
  int s;

  if (!isfinite (seconds) || seconds < 0)
    return NULL;
  s = (int) round (seconds);
  if (s < 60)
    /* Translators: a duration in seconds */
    return g_strdup_printf (_("%d s"), MAX (1, s));
  if (s < 3600)
    /* Translators: a duration, "2 min 5 s" */
    return g_strdup_printf (_("%d min %d s"), s / 60, s % 60);
  /* Translators: a duration, "1 h 5 min" */
  return g_strdup_printf (_("%d h %d min"), s / 3600, (s % 3600) / 60);
}

/* "20 epochs in 14 s", "stopped after 3 of 20 epochs, 5 s" */
static char *
describe_epochs (Run *run)
{
  g_autofree char *duration = format_duration (run->seconds);
  g_autofree char *epochs = NULL;

  if (run->epochs_done < run->epochs)
    epochs = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "stopped after %d of %d epoch",
                                           "stopped after %d of %d epochs", run->epochs),
                              run->epochs_done, run->epochs);
  else
    epochs = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d epoch", "%d epochs", run->epochs_done),
                              run->epochs_done);
  if (duration == NULL)
    return g_steal_pointer (&epochs);
  /* Translators: "20 epochs in 14 s" */
  return g_strdup_printf (_("%s in %s"), epochs, duration);
}

static guint
labelled_items (const GraftDataset *dataset, int classes)
{
  guint n = 0;

  if (dataset == NULL)
    return 0;
  for (guint i = 0; i < dataset->items->len; i++)
    {
      int label = g_array_index (dataset->items, GraftDatasetItem, i).label;
      if (label >= 0 && (classes <= 0 || label < classes))
        n++;
    }
  return n;
}

static GPtrArray *
class_names_copy (const GraftDataset *dataset)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  if (dataset != NULL)
    for (guint c = 0; c < dataset->classes->len; c++)
      g_ptr_array_add (names, g_strdup (g_ptr_array_index (dataset->classes, c)));
  return names;
}

static GraftSeries *
series_copy (GraftSeries *series, const char *label)
{
  GraftSeries *copy = graft_series_new (graft_series_get_name (series),
                                        label != NULL ? label : graft_series_get_label (series));
  graft_series_append_many (copy, graft_series_get_x (series), graft_series_get_y (series),
                            graft_series_get_length (series));
  return copy;
}

/* --- the header ------------------------------------------------------------------ */

static void
update_header (GraftResultsPage *self)
{
  Run *run = self->shown_run;
  Results *r = self->results;
  g_autofree char *title = NULL;
  g_autofree char *epochs = NULL;
  g_autofree char *time = NULL;
  g_autofree char *images = NULL;
  g_autofree char *subtitle = NULL;

  if (r == NULL || run == NULL)
    return;
  /* Translators: the title of the Results page: "Run 2: Fine-Tuning" */
  title = g_strdup_printf (_("Run %d: %s"), run->number, graft_strategy_get_title (r->spec->strategy));
  epochs = describe_epochs (run);
  time = run->finished != NULL ? g_date_time_format (run->finished, "%X") : g_strdup ("—");
  {
    guint n = self->session != NULL ? labelled_items (graft_session_get_train_dataset (self->session), 0) : 0;
    if (n > 0)
      images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u training image", "%u training images", n), n);
  }
  /* Translators: "finished at 14:03" */
  {
    g_autofree char *finished = g_strdup_printf (_("finished at %s"), time);
    if (images != NULL)
      subtitle = g_strdup_printf ("%s · %s · %s", epochs, images, finished);
    else
      subtitle = g_strdup_printf ("%s · %s", epochs, finished);
  }
  gtk_label_set_label (self->title_label, title);
  gtk_label_set_label (self->subtitle_label, subtitle);
}

/* --- the run as it starts and finishes ------------------------------------------ */

static void
clear_captured_run (GraftResultsPage *self)
{
  g_clear_pointer (&self->run_spec, graft_session_spec_free);
  g_clear_pointer (&self->run_classes, g_ptr_array_unref);
  g_clear_pointer (&self->run_validation, graft_dataset_free);
}

/* What the run was started with: the session may change while it trains. */
static void
capture_run (GraftResultsPage *self)
{
  clear_captured_run (self);
  self->run_started = g_get_monotonic_time ();
  if (self->session == NULL)
    return;
  self->run_spec = graft_session_spec_copy (graft_session_get_spec (self->session));
  self->run_classes = class_names_copy (graft_session_get_train_dataset (self->session));
  self->run_validation = graft_dataset_copy (graft_session_get_validation_dataset (self->session), G_MAXINT);
}

static void
on_training_state (GraftResultsPage *self)
{
  gboolean busy = graft_training_is_busy (self->training);

  if (busy && !self->run_in_progress)
    capture_run (self);
  self->run_in_progress = busy;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.resume-run", !busy);
}

static void update_comparison (GraftResultsPage *self);

static void
on_compare_toggled (GtkCheckButton *check, GraftResultsPage *self)
{
  update_comparison (self);
}

/* The run's curves, copied when it finishes (GraftTraining has appended every point
 * by then), before anything else (a new run) can clear them. */
static void
copy_series (GraftResultsPage *self, Run *run)
{
  g_autofree char *label = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (curve_names); i++)
    {
      GraftSeries *series = graft_training_get_series (self->training, curve_names[i]);
      if (series != NULL)
        g_hash_table_insert (run->series, (gpointer) curve_names[i], series_copy (series, NULL));
    }
  /* Translators: a run in the comparison's legend */
  label = g_strdup_printf (_("Run %d"), run->number);
  if (g_hash_table_contains (run->series, "validation-accuracy"))
    run->compare_accuracy = series_copy (g_hash_table_lookup (run->series, "validation-accuracy"), label);
  if (g_hash_table_contains (run->series, "validation-loss"))
    run->compare_loss = series_copy (g_hash_table_lookup (run->series, "validation-loss"), label);
}

static void on_open_clicked (GtkButton *button, GraftResultsPage *self);

/* The row's title and line, after its number or figures changed. */
static void
update_run_row (Run *run)
{
  g_autofree char *title = NULL;
  g_autofree char *epochs = NULL;
  g_autofree char *time = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *accessible = NULL;

  title = g_strdup_printf (_("Run %d: %s"), run->number, graft_strategy_get_title (run->strategy));
  epochs = describe_epochs (run);
  time = run->finished != NULL ? g_date_time_format (run->finished, "%X") : g_strdup ("—");
  if (run->note != NULL)
    subtitle = g_strdup_printf ("%s · %s", run->note, time);
  else if (isfinite (run->accuracy))
    {
      g_autofree char *accuracy = graft_format_percent (run->accuracy);
      /* Translators: a run's line: "93.8 % validation accuracy · 20 epochs in 14 s · 14:03" */
      subtitle = g_strdup_printf (_("%s validation accuracy · %s · %s"), accuracy, epochs, time);
    }
  else
    subtitle = g_strdup_printf ("%s · %s", epochs, time);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (run->row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (run->row), subtitle);
  /* Translators: the accessible name of a run's check box */
  accessible = g_strdup_printf (_("Compare run %d"), run->number);
  gtk_accessible_update_property (GTK_ACCESSIBLE (run->check), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  gtk_widget_set_visible (run->open_button, run->model_path != NULL);
  if (run->id != 0)
    {
      g_autofree char *open = g_strdup_printf (_("Open run %d"), run->number);
      g_autofree char *delete = g_strdup_printf (_("Delete run %d"), run->number);
      GtkWidget *delete_button = g_object_get_data (G_OBJECT (run->row), "delete-button");
      gtk_accessible_update_property (GTK_ACCESSIBLE (run->open_button), GTK_ACCESSIBLE_PROPERTY_LABEL, open, -1);
      gtk_accessible_update_property (GTK_ACCESSIBLE (delete_button), GTK_ACCESSIBLE_PROPERTY_LABEL, delete, -1);
      gtk_actionable_set_action_target (GTK_ACTIONABLE (delete_button), "x", run->id);
      gtk_widget_set_visible (delete_button, TRUE);
    }
  if (run->id != 0 && run->resumable)
    {
      /* Translators: the accessible name of a run's Resume button */
      g_autofree char *resume = g_strdup_printf (_("Resume run %d"), run->number);
      gtk_accessible_update_property (GTK_ACCESSIBLE (run->resume_button), GTK_ACCESSIBLE_PROPERTY_LABEL, resume, -1);
      gtk_actionable_set_action_target (GTK_ACTIONABLE (run->resume_button), "x", run->id);
    }
  gtk_widget_set_visible (run->resume_button, run->id != 0 && run->resumable);
}

/* A row in the Runs group for run (its fields set), at the end of the list. */
static void
append_run_row (GraftResultsPage *self, Run *run)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *check = gtk_check_button_new ();
  GtkWidget *open = gtk_button_new_with_label (_("Open"));
  GtkWidget *delete = gtk_button_new_from_icon_name ("user-trash-symbolic");
  GtkWidget *resume = gtk_button_new_with_mnemonic (_("_Resume"));

  gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
  g_signal_connect (check, "toggled", G_CALLBACK (on_compare_toggled), self);
  gtk_widget_set_valign (open, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (open, _("Show this run’s results"));
  g_object_set_data (G_OBJECT (open), "run", run);
  g_signal_connect (open, "clicked", G_CALLBACK (on_open_clicked), self);
  /* A run stopped, closed or killed goes on from its last checkpoint. */
  gtk_widget_set_valign (resume, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (resume, _("Continue this run from its last completed epoch"));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (resume), "x", (gint64) 0);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (resume), "results.resume-run");
  gtk_widget_set_visible (resume, FALSE);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), resume);
  run->resume_button = resume;
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), open);
  gtk_widget_set_valign (delete, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (delete, "flat");
  gtk_widget_set_tooltip_text (delete, _("Delete Run"));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (delete), "x", (gint64) 0);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (delete), "results.delete-run");
  gtk_widget_set_visible (delete, FALSE);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), delete);
  g_object_set_data (G_OBJECT (row), "delete-button", delete);
  run->row = row;
  run->check = GTK_CHECK_BUTTON (check);
  run->open_button = open;
  g_ptr_array_add (self->runs, run);
  update_run_row (run);
  adw_preferences_group_add (self->runs_group, row);
  gtk_widget_set_visible (GTK_WIDGET (self->runs_group), TRUE);
}

static Run *
add_run (GraftResultsPage *self, Results *r)
{
  Run *run = g_new0 (Run, 1);
  const GraftMetrics *metrics = graft_training_get_validation_metrics (self->training);

  run->number = self->runs->len > 0 ? ((Run *) g_ptr_array_index (self->runs, self->runs->len - 1))->number + 1 : 1;
  run->strategy = r->spec->strategy;
  run->spec_json = graft_session_spec_to_json (r->spec);
  run->accuracy = metrics != NULL && metrics->count > 0 ? graft_metrics_accuracy (metrics) : NAN;
  {
    /* Epochs completed: a run stopped during its third epoch has done two. */
    GraftSeries *per_epoch = graft_training_get_series (self->training, "train-loss-epoch");
    run->epochs_done = per_epoch != NULL ? (int) graft_series_get_length (per_epoch)
                                         : graft_training_get_epoch (self->training);
  }
  run->epochs = graft_training_get_epochs (self->training);
  run->seconds = self->run_started > 0 ? (g_get_monotonic_time () - self->run_started) / 1e6 : NAN;
  run->finished = g_date_time_new_now_local ();
  run->series = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  copy_series (self, run);
  append_run_row (self, run);
  return run;
}

/* --- evaluation ------------------------------------------------------------------ */

typedef struct {
  GBytes *model_bytes;       /* or */
  char *model_path;          /* a stored run's file */
  Results *results;
} EvaluateData;

static void
evaluate_data_free (gpointer data)
{
  EvaluateData *d = data;
  g_clear_pointer (&d->model_bytes, g_bytes_unref);
  g_free (d->model_path);
  results_unref (d->results);
  g_free (d);
}

static int
evaluation_batch (const GraftSessionSpec *spec)
{
  return CLAMP (spec->batch_size, 1, MAX_EVALUATION_BATCH);
}

static void
evaluate_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  EvaluateData *d = task_data;
  Results *r = d->results;
  GError *error = NULL;
  gsize size;
  const guint8 *data;

  graft_training_apply_threads ();   /* the "threads" setting, for this thread's OpenMP */
  if (d->model_bytes == NULL)
    {
      char *contents;
      if (!graft_file_get_contents (d->model_path, &contents, &size, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      d->model_bytes = g_bytes_new_take (contents, size);
    }
  data = g_bytes_get_data (d->model_bytes, &size);
  r->model = graft_model_load_from_data (data, size, NULL, _("the trained model"), &error);
  if (r->model == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  r->outputs = (int) graft_graph_value (r->model->graph, r->model->logits)->shape.dims[1];
  if (g_task_return_error_if_cancelled (task))
    return;
  if (labelled_items (r->validation, r->outputs) > 0)
    {
      r->metrics = graft_evaluate (r->model, r->validation, &r->spec->preprocessing, evaluation_batch (r->spec),
                                   DECODE_THREADS, &r->probabilities, &error);
      if (r->metrics == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
    }
  g_task_return_boolean (task, TRUE);
}

static void
show_figures (GraftResultsPage *self)
{
  const GraftMetrics *m = self->results->metrics;
  guint64 correct = 0;
  g_autofree char *accuracy = graft_format_percent (graft_metrics_accuracy (m));
  g_autofree char *f1 = g_strdup_printf ("%.2f", graft_metrics_macro_f1 (m));
  double loss = graft_metrics_loss (m);
  g_autofree char *loss_text = isfinite (loss) ? g_strdup_printf ("%.3f", loss) : g_strdup ("—");
  g_autofree char *images = g_strdup_printf ("%" G_GUINT64_FORMAT, m->count);
  g_autofree char *mistakes = NULL;

  for (int c = 0; c < m->classes; c++)
    correct += m->confusion[(gsize) c * m->classes + c];
  mistakes = g_strdup_printf ("%" G_GUINT64_FORMAT, m->count - correct);
  gtk_label_set_label (self->accuracy_value, accuracy);
  gtk_label_set_label (self->f1_value, f1);
  gtk_label_set_label (self->loss_value, loss_text);
  gtk_label_set_label (self->images_value, images);
  gtk_label_set_label (self->mistakes_value, mistakes);
}

static void
show_metrics (GraftResultsPage *self)
{
  Results *r = self->results;
  g_autofree const char **names = NULL;

  if (r->metrics == NULL)
    {
      gtk_stack_set_visible_child_name (self->evaluation_stack, "no-validation");
      return;
    }
  show_figures (self);
  names = g_new0 (const char *, r->metrics->classes + 1);
  for (int c = 0; c < r->metrics->classes; c++)
    names[c] = results_class_name (r, c);
  graft_confusion_view_set_matrix (self->confusion_view, r->metrics->confusion, r->metrics->classes, names);
  graft_class_table_set_metrics (self->class_table, r->metrics, names);
  graft_mistakes_gallery_set_predictions (self->gallery, r->validation, r->probabilities, r->outputs, names);
  graft_results_page_filter_gallery (self, -1, -1);
  gtk_stack_set_visible_child_name (self->evaluation_stack, "metrics");
}

static void
on_evaluated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (source);
  guint generation = GPOINTER_TO_UINT (user_data);
  g_autoptr (GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  if (generation != self->generation)
    return; /* a newer run's results replaced these */
  self->evaluating = FALSE;
  gtk_spinner_stop (self->evaluation_spinner);
  if (!ok)
    {
      adw_status_page_set_description (self->failed_page, error->message);
      gtk_stack_set_visible_child_name (self->evaluation_stack, "failed");
    }
  else
    show_metrics (self);
  update_actions (self);
}

static void
clear_shown_results (GraftResultsPage *self)
{
  graft_mistakes_gallery_set_predictions (self->gallery, NULL, NULL, 0, NULL);
  graft_class_table_set_metrics (self->class_table, NULL, NULL);
  graft_confusion_view_set_matrix (self->confusion_view, NULL, 0, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->export_label), FALSE);
}

/* Takes the training's model (a copy: the training frees its own at the next start)
 * and evaluates it. */
static void show_results (GraftResultsPage *self, Results *r, GBytes *bytes, const char *path);

static void
take_results (GraftResultsPage *self)
{
  g_autoptr (GBytes) bytes = graft_training_get_model_bytes (self->training);
  Results *r;

  /* The worker serialised the model; parsing it back happens in the evaluation thread. */
  if (bytes == NULL)
    return;

  r = g_atomic_rc_box_new0 (Results);
  r->spec = self->run_spec != NULL ? g_steal_pointer (&self->run_spec)
            : self->session != NULL ? graft_session_spec_copy (graft_session_get_spec (self->session))
                                    : graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, NULL);
  if (self->run_classes != NULL)
    r->classes = g_steal_pointer (&self->run_classes);
  else
    r->classes = class_names_copy (self->session != NULL ? graft_session_get_train_dataset (self->session) : NULL);
  if (self->run_validation != NULL)
    r->validation = g_steal_pointer (&self->run_validation);
  else if (self->session != NULL)
    r->validation = graft_dataset_copy (graft_session_get_validation_dataset (self->session), G_MAXINT);

  self->shown_run = add_run (self, r);
  self->run_started = 0;
  show_results (self, r, g_steal_pointer (&bytes), NULL);
}

/* Shows r (taken) for self->shown_run: the model (bytes, or the file at path) is
 * parsed and evaluated in a worker. */
static void
show_results (GraftResultsPage *self, Results *r, GBytes *bytes, const char *path)
{
  g_autoptr (GTask) task = NULL;
  EvaluateData *data;

  self->generation++;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_pointer (&self->results, results_unref);
  self->results = r;
  for (guint i = 0; i < self->runs->len; i++)
    {
      Run *run = g_ptr_array_index (self->runs, i);
      gtk_widget_set_sensitive (run->open_button, run != self->shown_run);
    }

  clear_shown_results (self);
  update_header (self);
  gtk_stack_set_visible_child_name (self->stack, "results");
  self->evaluating = TRUE;
  gtk_spinner_start (self->evaluation_spinner);
  gtk_stack_set_visible_child_name (self->evaluation_stack, "evaluating");
  update_actions (self);

  data = g_new0 (EvaluateData, 1);
  data->model_bytes = bytes;
  data->model_path = g_strdup (path);
  data->results = results_ref (r);
  task = g_task_new (self, self->cancellable, on_evaluated, GUINT_TO_POINTER (self->generation));
  g_task_set_source_tag (task, show_results);
  g_task_set_task_data (task, data, evaluate_data_free);
  g_task_run_in_thread (task, evaluate_thread);
}

/* A run ended. A learning-rate sweep has no epoch, and a run stopped before its first
 * epoch has nothing to show. */
static void
on_training_finished (GraftTraining *training, GError *error, GraftResultsPage *self)
{
  self->run_in_progress = FALSE;
  if (error == NULL && graft_training_get_epoch (training) >= 1)
    take_results (self);
  clear_captured_run (self);
}

/* --- the gallery ---------------------------------------------------------------- */

void
graft_results_page_filter_gallery (GraftResultsPage *self, int true_class, int predicted_class)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));

  if (self->results == NULL || self->results->metrics == NULL)
    true_class = predicted_class = -1;
  graft_mistakes_gallery_set_filter (self->gallery, true_class, predicted_class);
  graft_mistakes_gallery_get_filter (self->gallery, &true_class, &predicted_class);
  graft_confusion_view_set_selected (self->confusion_view, true_class, predicted_class);
  update_actions (self);
}

/* A second click on the shown cell goes back to every mistake. */
static void
on_cell_activated (GraftConfusionView *view, int true_class, int predicted_class, GraftResultsPage *self)
{
  int shown_true, shown_predicted;

  graft_mistakes_gallery_get_filter (self->gallery, &shown_true, &shown_predicted);
  if (shown_true == true_class && shown_predicted == predicted_class)
    graft_results_page_filter_gallery (self, -1, -1);
  else
    graft_results_page_filter_gallery (self, true_class, predicted_class);
}

/* The gallery's Show All Mistakes: no cell selected any more. */
static void
on_gallery_filter_changed (GraftMistakesGallery *gallery, int true_class, int predicted_class,
                           GraftResultsPage *self)
{
  graft_confusion_view_set_selected (self->confusion_view, true_class, predicted_class);
  update_actions (self);
}

/* A click on an image opens it in the app's image viewer, one window reused, where it
 * can be relabelled when the run's project is open. */
static void
on_gallery_image_activated (GraftMistakesGallery *gallery, const char *path, int true_class, int predicted_class,
                            double confidence, GraftResultsPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (self->viewer == NULL)
    {
      self->viewer = graft_image_viewer_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL);
      g_object_add_weak_pointer (G_OBJECT (self->viewer), (gpointer *) &self->viewer);
    }
  graft_image_viewer_show (self->viewer, self->project, path, results_class_name (self->results, true_class),
                           results_class_name (self->results, predicted_class), confidence);
  gtk_window_present (GTK_WINDOW (self->viewer));
}

GraftImageViewer *
graft_results_page_get_image_viewer (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->viewer;
}

/* --- export of the model --------------------------------------------------------- */

typedef struct {
  Results *results;
  char *path;
  gboolean softmax;
  GraftProjectObject *project;   /* with run_id: the project whose export history gets the file */
  gint64 run_id;
  /* Out. */
  GraftExportVerification verification;
} ExportData;

static void
export_data_free (gpointer data)
{
  ExportData *d = data;
  results_unref (d->results);
  g_free (d->path);
  g_clear_object (&d->project);
  g_free (d);
}

/* The metadata graft_trainer_describe_model writes, from what the page has. */
static void
describe_model (Results *r)
{
  GraftModelDescription description = {
    .classes = r->classes,
    .spec = r->spec,
    .validation_accuracy = r->metrics != NULL ? graft_metrics_accuracy (r->metrics) : NAN,
  };

  graft_model_description_write (&description, r->model->metadata, TRUE);
}

static void
export_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ExportData *d = task_data;
  Results *r = d->results;
  GraftExportOptions options = { .softmax_output = d->softmax };
  GraftExportReference reference = {
    .validation = r->validation,
    .preprocessing = &r->spec->preprocessing,
    .probabilities = r->probabilities,
    .classes = r->outputs,
    .batch_size = evaluation_batch (r->spec),
    .decode_threads = DECODE_THREADS,
  };
  GError *error = NULL;

  graft_training_apply_threads ();   /* the "threads" setting, for this thread's OpenMP */
  if (!graft_export_model (r->model, d->path, &options, r->metrics != NULL ? &reference : NULL, &d->verification,
                           &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* The project's export history (run-record.h); the file is written whatever it says. */
  if (d->project != NULL
      && !graft_run_record_export (graft_project_object_get_project (d->project), d->run_id, d->path, "onnx", &error))
    {
      g_warning ("Cannot record the export of run %" G_GINT64_FORMAT ": %s", d->run_id, error->message);
      g_clear_error (&error);
    }
  g_task_return_boolean (task, TRUE);
}

/* The last part of a chained message ("Cannot write …: Failed to create …: No space
 * left on device"), when the message names the file anyway: the toast names it. */
static const char *
short_reason (const GError *error, const char *path)
{
  const char *last = g_strrstr (error->message, ": ");
  g_autofree char *name = g_filename_display_basename (path);

  if (last != NULL && last[2] != '\0' && strstr (error->message, name) != NULL)
    return last + 2;
  return error->message;
}

static void
on_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (source);
  ExportData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_filename_display_basename (d->path);
  g_autofree char *message = NULL;
  g_autofree char *detail = NULL;
  const GraftExportVerification *v = &d->verification;

  self->exporting_model = FALSE;
  gtk_widget_set_visible (GTK_WIDGET (self->export_spinner), self->exporting_curves);
  update_actions (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Translators: a toast: the file, then what went wrong */
      message = g_strdup_printf (_("Could not export “%s”: %s"), name, short_reason (error, d->path));
      gtk_label_set_label (self->export_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->export_label), TRUE);
      toast (self, message);
      return;
    }
  if (!v->verified && labelled_items (d->results->validation, d->results->outputs) > 0)
    {
      /* Translators: a toast: the evaluation on the validation images had failed */
      message = g_strdup_printf (_("Exported “%s” (not verified: the validation images could not be read)"), name);
      detail = g_strdup_printf (_("Exported to %s."), d->path);
    }
  else if (!v->verified)
    {
      /* Translators: a toast */
      message = g_strdup_printf (_("Exported “%s” (not verified: there are no validation images)"), name);
      detail = g_strdup_printf (_("Exported to %s."), d->path);
    }
  else
    {
      g_autofree char *agreement = graft_format_percent (v->compared > 0 ? (double) v->agreed / v->compared : 1.0);

      if (v->agreed == v->compared)
        /* Translators: a toast: "… agrees with the app on 100 % of 120 images" */
        message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                "Exported and verified: the file agrees with the app on %s of %u image",
                                                "Exported and verified: the file agrees with the app on %s of %u images",
                                                v->compared),
                                   agreement, v->compared);
      else
        /* Translators: a toast: "… agrees with the app on only 97.5 % of 120 images" */
        message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                "Exported, but the file agrees with the app on only %s of %u image",
                                                "Exported, but the file agrees with the app on only %s of %u images",
                                                v->compared),
                                   agreement, v->compared);
      if (v->max_difference > 0)
        {
          char difference[32];
          g_snprintf (difference, sizeof difference, "%.1e", v->max_difference);
          /* Translators: under the title after an export: the path, the agreement, and a number like 3.2e-07 */
          detail = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                 "Exported to %s. Run again on %u validation image, the file predicts "
                                                 "the same class as the app for %s of them; probabilities differ by at "
                                                 "most %s.",
                                                 "Exported to %s. Run again on %u validation images, the file predicts "
                                                 "the same class as the app for %s of them; probabilities differ by at "
                                                 "most %s.",
                                                 v->compared),
                                    d->path, v->compared, agreement, difference);
        }
      else
        /* Translators: under the title after an export: the path and the agreement; the file gave the very
         * same probabilities as the app */
        detail = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                               "Exported to %s. Run again on %u validation image, the file predicts "
                                               "the same class as the app for %s of them, with the same probabilities.",
                                               "Exported to %s. Run again on %u validation images, the file predicts "
                                               "the same class as the app for %s of them, with the same probabilities.",
                                               v->compared),
                                  d->path, v->compared, agreement);
    }
  gtk_label_set_label (self->export_label, detail);
  gtk_widget_set_visible (GTK_WIDGET (self->export_label), TRUE);
  toast (self, message);
}

static void
export_to (GraftResultsPage *self, const char *path)
{
  g_autoptr (GTask) task = NULL;
  ExportData *data;

  if (self->results == NULL || self->results->model == NULL || self->evaluating)
    {
      toast (self, _("There is no trained model to export yet"));
      return;
    }
  if (self->exporting_model)
    return;
  describe_model (self->results);
  data = g_new0 (ExportData, 1);
  data->results = results_ref (self->results);
  data->path = g_strdup (path);
  data->softmax = gtk_switch_get_active (self->softmax_switch);
  if (self->project != NULL && (data->run_id = graft_results_page_get_shown_run_id (self)) != 0)
    data->project = g_object_ref (self->project);
  self->exporting_model = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (self->export_spinner), TRUE);
  gtk_spinner_start (self->export_spinner);
  update_actions (self);
  task = g_task_new (self, NULL, on_exported, NULL);
  g_task_set_source_tag (task, export_to);
  g_task_set_task_data (task, data, export_data_free);
  g_task_run_in_thread (task, export_thread);
}

/* --- export of the curves ----------------------------------------------------- */

typedef struct {
  char *name;
  char *label;
  double *x, *y;
  guint n;
} Curve;

typedef struct {
  char *csv_path;
  char *png_path;
  GPtrArray *curves;         /* Curve */
  cairo_surface_t *picture;  /* the curves as GraftPlot draws them, made on the main thread */
} CurvesData;

static void
curve_free (gpointer data)
{
  Curve *c = data;
  g_free (c->name);
  g_free (c->label);
  g_free (c->x);
  g_free (c->y);
  g_free (c);
}

static void
curves_data_free (gpointer data)
{
  CurvesData *d = data;
  g_free (d->csv_path);
  g_free (d->png_path);
  g_ptr_array_unref (d->curves);
  g_clear_pointer (&d->picture, cairo_surface_destroy);
  g_free (d);
}

static gboolean
write_csv (CurvesData *d, GError **error)
{
  GString *csv = g_string_new ("series,epoch,value\n");
  gboolean ok;

  for (guint i = 0; i < d->curves->len; i++)
    {
      Curve *c = g_ptr_array_index (d->curves, i);
      for (guint k = 0; k < c->n; k++)
        {
          char x[G_ASCII_DTOSTR_BUF_SIZE], y[G_ASCII_DTOSTR_BUF_SIZE];
          g_ascii_formatd (x, sizeof x, "%.6g", c->x[k]);
          if (isfinite (c->y[k]))
            g_ascii_formatd (y, sizeof y, "%.9g", c->y[k]);
          else
            y[0] = '\0';
          g_string_append_printf (csv, "%s,%s,%s\n", c->name, x, y);
        }
    }
  ok = g_file_set_contents (d->csv_path, csv->str, (gssize) csv->len, error);
  g_string_free (csv, TRUE);
  return ok;
}

static cairo_status_t
append_png (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

/* The two panels of the Train page, loss and accuracy, as GraftPlot draws them, side
 * by side on white: 1200 x 440 at twice the resolution. */
static cairo_surface_t *
draw_curves (GHashTable *series, int epochs)
{
  const int width = 1200, height = 440, scale = 2;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width * scale, height * scale);
  cairo_t *cr = cairo_create (surface);
  GraftPlot *loss = g_object_ref_sink (GRAFT_PLOT (graft_plot_new ()));
  GraftPlot *accuracy = g_object_ref_sink (GRAFT_PLOT (graft_plot_new ()));
  const struct {
    GraftPlot *plot;
    const char *name;
    GraftPlotStyle style;
    GraftPlotColor color;
  } lines[] = {
    { loss, "train-loss", GRAFT_PLOT_LINE | GRAFT_PLOT_FAINT, GRAFT_PLOT_COLOR_BLUE },
    { loss, "train-loss-epoch", GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_BLUE },
    { loss, "validation-loss", GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_ORANGE },
    { accuracy, "train-accuracy", GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_BLUE },
    { accuracy, "validation-accuracy", GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS, GRAFT_PLOT_COLOR_ORANGE },
  };

  graft_plot_set_title (loss, _("Loss"));
  graft_plot_set_y_label (loss, _("Cross-entropy loss"));
  graft_plot_set_title (accuracy, _("Accuracy"));
  graft_plot_set_y_label (accuracy, _("Accuracy (%)"));
  graft_plot_set_y_factor (accuracy, 100);
  graft_plot_set_y_range (accuracy, 0, 100);
  for (GraftPlot **p = (GraftPlot *[]) { loss, accuracy, NULL }; *p != NULL; p++)
    {
      graft_plot_set_x_label (*p, _("Epoch"));
      graft_plot_set_x_integer_ticks (*p, TRUE);
      if (epochs > 0)
        graft_plot_set_x_range (*p, 0, epochs);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      GraftSeries *s = g_hash_table_lookup (series, lines[i].name);
      if (s != NULL)
        graft_plot_add_series_with_color (lines[i].plot, s, lines[i].style, lines[i].color);
    }

  cairo_scale (cr, scale, scale);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  graft_plot_draw (loss, cr, width / 2, height);
  cairo_translate (cr, width / 2, 0);
  graft_plot_draw (accuracy, cr, width / 2, height);
  cairo_destroy (cr);
  g_object_unref (loss);
  g_object_unref (accuracy);
  return surface;
}

static gboolean
write_png (CurvesData *d, GError **error)
{
  g_autoptr (GByteArray) png = g_byte_array_new ();
  cairo_status_t status = cairo_surface_write_to_png_stream (d->picture, append_png, png);

  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", cairo_status_to_string (status));
      return FALSE;
    }
  return g_file_set_contents (d->png_path, (const char *) png->data, (gssize) png->len, error);
}

static void
export_curves_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  CurvesData *d = task_data;
  GError *error = NULL;

  if (!write_csv (d, &error) || !write_png (d, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_curves_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (source);
  CurvesData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autofree char *csv = g_filename_display_basename (d->csv_path);
  g_autofree char *png = g_filename_display_basename (d->png_path);
  g_autofree char *message = NULL;

  self->exporting_curves = FALSE;
  gtk_widget_set_visible (GTK_WIDGET (self->export_spinner), self->exporting_model);
  update_actions (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Translators: a toast: the file, then what went wrong */
      message = g_strdup_printf (_("Could not export the curves to “%s”: %s"), csv, short_reason (error, d->csv_path));
      gtk_label_set_label (self->export_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->export_label), TRUE);
    }
  else
    /* Translators: a toast naming the two files written */
    message = g_strdup_printf (_("Curves exported to “%s” and “%s”"), csv, png);
  toast (self, message);
}

static void
export_curves_to (GraftResultsPage *self, const char *path)
{
  g_autoptr (GTask) task = NULL;
  CurvesData *d;

  if (self->shown_run == NULL)
    {
      toast (self, _("There are no curves to export yet"));
      return;
    }
  if (self->exporting_curves)
    return;
  d = g_new0 (CurvesData, 1);
  d->csv_path = g_strdup (path);
  if (g_str_has_suffix (path, ".csv") || g_str_has_suffix (path, ".CSV"))
    d->png_path = g_strdup_printf ("%.*s.png", (int) strlen (path) - 4, path);
  else
    d->png_path = g_strdup_printf ("%s.png", path);
  d->curves = g_ptr_array_new_with_free_func (curve_free);
  for (gsize i = 0; i < G_N_ELEMENTS (curve_names); i++)
    {
      GraftSeries *series = g_hash_table_lookup (self->shown_run->series, curve_names[i]);
      Curve *c;
      if (series == NULL)
        continue;
      c = g_new0 (Curve, 1);
      c->name = g_strdup (curve_names[i]);
      c->label = g_strdup (graft_series_get_label (series));
      c->n = graft_series_get_length (series);
      c->x = g_memdup2 (graft_series_get_x (series), sizeof (double) * MAX (1, c->n));
      c->y = g_memdup2 (graft_series_get_y (series), sizeof (double) * MAX (1, c->n));
      g_ptr_array_add (d->curves, c);
    }
  d->picture = draw_curves (self->shown_run->series, self->shown_run->epochs);
  self->exporting_curves = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (self->export_spinner), TRUE);
  gtk_spinner_start (self->export_spinner);
  update_actions (self);
  task = g_task_new (self, NULL, on_curves_exported, NULL);
  g_task_set_source_tag (task, export_curves_to);
  g_task_set_task_data (task, d, curves_data_free);
  g_task_run_in_thread (task, export_curves_thread);
}

/* --- file dialogs ----------------------------------------------------------------- */

typedef void (*ExportFunc) (GraftResultsPage *self, const char *path);

static void
on_save_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  g_autoptr (GraftResultsPage) self = user_data;
  ExportFunc export = g_object_get_data (G_OBJECT (dialog), "export");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL)
        export (self, path);
      else
        toast (self, _("Graft can only export to a local folder"));
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
ask_for_file (GraftResultsPage *self, const char *title, const char *suffix, const char *filter_name,
              const char *pattern, ExportFunc export)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *dialog;
  GtkFileFilter *filter = gtk_file_filter_new ();
  g_autofree char *name = g_strdup_printf ("%s-%s", self->project_name != NULL ? self->project_name : "graft",
                                           suffix);

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  dialog = gtk_file_chooser_native_new (title, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), name);
  gtk_file_filter_set_name (filter, filter_name);
  gtk_file_filter_add_pattern (filter, pattern);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_object_unref (filter);
  g_object_set_data (G_OBJECT (dialog), "export", export);
  g_signal_connect (dialog, "response", G_CALLBACK (on_save_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
  G_GNUC_END_IGNORE_DEPRECATIONS
}

/* --- runs and their comparison ----------------------------------------------------- */

/* Leaf values of a JSON tree by path ("optimizer.learning_rate", "stages[1].epoch"),
 * keys in document order. */
static void
flatten_json (JsonNode *node, const char *path, GHashTable *values, GPtrArray *keys)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);
      for (GList *l = members; l != NULL; l = l->next)
        {
          g_autofree char *child = path != NULL ? g_strdup_printf ("%s.%s", path, (char *) l->data)
                                                : g_strdup (l->data);
          flatten_json (json_object_get_member (object, l->data), child, values, keys);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          g_autofree char *child = g_strdup_printf ("%s[%u]", path != NULL ? path : "", i);
          flatten_json (json_array_get_element (array, i), child, values, keys);
        }
    }
  else if (path != NULL)
    {
      char *text;
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          /* Float fields saved as doubles: 0.1f reads 0.10000000149011612. */
          char buffer[G_ASCII_DTOSTR_BUF_SIZE];
          text = g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.6g", json_node_get_double (node)));
        }
      else
        text = json_to_string (node, FALSE);
      if (!g_hash_table_contains (values, path))
        g_ptr_array_add (keys, g_strdup (path));
      g_hash_table_insert (values, g_strdup (path), text);
    }
}

/* The spec's settings as a person reads them, in the order that matters most: a key of
 * the run's spec ("schedule.pct_start"), or a prefix of keys ending in '.' or '[' whose
 * rest is shown after the name ("block_lr_factors.layer4.0"). Unknown keys come last,
 * as they are. */
static const struct {
  const char *key;
  const char *name;
} setting_names[] = {
  { "strategy", N_("Strategy") },
  { "epochs", N_("Epochs") },
  { "optimizer.lr", N_("Learning rate") },
  { "batch_size", N_("Batch size") },
  { "cut", N_("Cut") },
  { "stages[", N_("Unfreezing stage") },
  { "head.hidden[", N_("Head’s hidden layer") },
  { "head.dropout", N_("Head’s dropout") },
  { "head.activation", N_("Head’s activation") },
  { "head.batchnorm", N_("Head’s BatchNorm") },
  { "augmentation.", N_("Augmentation") },
  { "optimizer.kind", N_("Optimizer") },
  { "optimizer.weight_decay", N_("Weight decay") },
  { "optimizer.momentum", N_("Momentum") },
  { "schedule.kind", N_("Schedule") },
  { "schedule.pct_start", N_("Share of the cycle spent warming up") },
  { "schedule.warmup_epochs", N_("Warm-up epochs") },
  { "schedule.div_factor", N_("Starting rate, as a fraction of the peak (divisor)") },
  { "schedule.final_fraction", N_("Final rate, as a fraction of the peak") },
  { "schedule.restart_each_stage", N_("Schedule restarts at each stage") },
  { "discriminative_factor", N_("Slowdown from one block to the one below") },
  { "backbone_lr_fraction", N_("Blocks’ share of the learning rate") },
  { "block_lr_factors.", N_("Learning-rate factor") },
  { "batchnorm_policy", N_("BatchNorm") },
  { "batchnorm_blocks.", N_("BatchNorm of a block") },
  { "early_stopping_patience", N_("Early stopping patience") },
  { "validation_fraction", N_("Share of images for validation") },
  { "balanced_class_weights", N_("Balanced class weights") },
  { "precision", N_("Precision (fp32, or bf16 convolutions)") },
  { "seed", N_("Seed") },
  { "preprocessing.", N_("Preprocessing") },
  { "model.", N_("Model") },
};

/* The index of key's entry in setting_names (G_N_ELEMENTS when none), and the part of the
 * key after a prefix entry ("layer4.0"), or NULL. */
static guint
setting_rank (const char *key, const char **rest)
{
  *rest = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (setting_names); i++)
    {
      const char *name = setting_names[i].key;
      size_t length = strlen (name);
      gboolean prefix = name[length - 1] == '.' || name[length - 1] == '[';

      if (prefix ? strncmp (key, name, length) == 0 : strcmp (key, name) == 0)
        {
          *rest = prefix ? key + length : NULL;
          return i;
        }
    }
  return G_N_ELEMENTS (setting_names);
}

/* "Learning-rate factor (layer4.0)" in the UI's language; the key in monospace when it
 * has no name. Markup. */
static char *
setting_name_markup (const char *key)
{
  const char *rest;
  guint rank = setting_rank (key, &rest);
  g_autofree char *escaped = NULL;

  if (rank == G_N_ELEMENTS (setting_names))
    {
      escaped = g_markup_escape_text (key, -1);
      return g_strdup_printf ("<tt>%s</tt>", escaped);
    }
  if (rest != NULL && g_str_equal (setting_names[rank].key, "stages["))
    {
      /* "stages[1].trainable_from": the second stage's lowest trained block. */
      guint stage = 0;
      char field[64] = "";
      g_autofree char *plain = NULL;
      if (sscanf (rest, "%u].%63s", &stage, field) == 2)
        {
          const char *what = g_str_equal (field, "trainable_from") ? _("its lowest trained block")
                             : g_str_equal (field, "epoch")        ? _("its first epoch")
                             : g_str_equal (field, "lr")           ? _("its learning rate")
                                                                   : field;
          /* Translators: "Unfreezing stage 2, its first epoch" */
          plain = g_strdup_printf (_("Unfreezing stage %u, %s"), stage + 1, what);
          return g_markup_escape_text (plain, -1);
        }
    }
  if (rest != NULL && *rest != '\0')
    {
      /* "head.hidden[0]": "0]" reads "0". */
      g_autofree char *detail = g_strdelimit (g_strdup (rest), "[]", ' ');
      g_autofree char *plain = NULL;
      g_strstrip (detail);
      /* Translators: a setting's name and which one: "Learning-rate factor (layer4.0)" */
      plain = g_strdup_printf (_("%s (%s)"), _(setting_names[rank].name), detail);
      return g_markup_escape_text (plain, -1);
    }
  return g_markup_escape_text (_(setting_names[rank].name), -1);
}

static int
compare_setting_rank (gconstpointer a, gconstpointer b)
{
  const char *rest;
  guint ra = setting_rank (*(const char *const *) a, &rest);
  guint rb = setting_rank (*(const char *const *) b, &rest);
  return ra < rb ? -1 : ra > rb;
}

static char *
describe_differences (GPtrArray *runs)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) tables = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GString *text = g_string_new (NULL);
  guint differing = 0;

  for (guint r = 0; r < runs->len; r++)
    {
      Run *run = g_ptr_array_index (runs, r);
      GHashTable *values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autoptr (GPtrArray) run_keys = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (JsonNode) root = json_from_string (run->spec_json, NULL);
      if (root != NULL)
        flatten_json (root, NULL, values, run_keys);
      for (guint k = 0; k < run_keys->len; k++)
        if (!g_hash_table_contains (seen, g_ptr_array_index (run_keys, k)))
          {
            char *key = g_strdup (g_ptr_array_index (run_keys, k));
            g_ptr_array_add (keys, key);
            g_hash_table_add (seen, key);
          }
      g_ptr_array_add (tables, values);
    }
  /* The settings a person knows first (strategy, epochs, learning rate...), the
   * rest in the spec's order after them: g_ptr_array_sort is stable. */
  g_ptr_array_sort (keys, compare_setting_rank);
  for (guint k = 0; k < keys->len; k++)
    {
      const char *key = g_ptr_array_index (keys, k);
      const char *first = g_hash_table_lookup (g_ptr_array_index (tables, 0), key);
      gboolean same = TRUE;

      for (guint r = 1; r < tables->len && same; r++)
        same = g_strcmp0 (first, g_hash_table_lookup (g_ptr_array_index (tables, r), key)) == 0;
      if (same)
        continue;
      differing++;
      if (differing > MAX_DIFFERENCES)
        continue;
      {
        g_autofree char *name = setting_name_markup (key);
        g_string_append_printf (text, "\n%s  ", name);
      }
      for (guint r = 0; r < tables->len; r++)
        {
          const char *value = g_hash_table_lookup (g_ptr_array_index (tables, r), key);
          g_autofree char *escaped = g_markup_escape_text (value != NULL ? value : "—", -1);
          g_string_append_printf (text, "%s%s", r > 0 ? " → " : "", escaped);
        }
    }
  if (differing == 0)
    {
      g_string_free (text, TRUE);
      return g_strdup (_("These runs were trained with the same plan."));
    }
  if (differing > MAX_DIFFERENCES)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, "and %u more setting", "and %u more settings",
                                                 differing - MAX_DIFFERENCES),
                              differing - MAX_DIFFERENCES);
    }
  {
    GString *numbers = g_string_new (NULL);
    for (guint r = 0; r < runs->len; r++)
      g_string_append_printf (numbers, "%s%d", r > 0 ? " → " : "", ((Run *) g_ptr_array_index (runs, r))->number);
    /* Translators: followed by one line per setting: "epochs: 5 → 20"; %s lists the runs, "1 → 3" */
    {
      g_autofree char *head = g_strdup_printf (_("What differs between runs %s:"), numbers->str);
      g_autofree char *escaped = g_markup_escape_text (head, -1);
      g_autofree char *bold = g_strdup_printf ("<b>%s</b>", escaped);
      g_string_prepend (text, bold);
    }
    g_string_free (numbers, TRUE);
  }
  return g_string_free (text, FALSE);
}

static void
update_comparison (GraftResultsPage *self)
{
  g_autoptr (GPtrArray) chosen = g_ptr_array_new ();

  for (guint i = 0; i < self->runs->len; i++)
    {
      Run *run = g_ptr_array_index (self->runs, i);
      if (gtk_check_button_get_active (run->check))
        g_ptr_array_add (chosen, run);
    }
  graft_plot_remove_all_series (self->compare_accuracy_plot);
  graft_plot_remove_all_series (self->compare_loss_plot);
  for (guint i = 0; i < chosen->len; i++)
    {
      Run *run = g_ptr_array_index (chosen, i);
      if (run->compare_accuracy != NULL)
        graft_plot_add_series (self->compare_accuracy_plot, run->compare_accuracy, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS);
      if (run->compare_loss != NULL)
        graft_plot_add_series (self->compare_loss_plot, run->compare_loss, GRAFT_PLOT_LINE | GRAFT_PLOT_POINTS);
    }
  if (chosen->len >= 2)
    {
      g_autofree char *differences = describe_differences (chosen);
      gtk_label_set_label (self->differences_label, differences);
    }
  else
    gtk_label_set_label (self->differences_label, _("Tick another run to see what differs in its plan."));
  gtk_revealer_set_reveal_child (self->compare_revealer, chosen->len > 0);
}

guint
graft_results_page_get_n_runs (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), 0);
  return self->runs->len;
}

void
graft_results_page_set_run_compared (GraftResultsPage *self, guint run, gboolean compared)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));
  g_return_if_fail (run < self->runs->len);
  gtk_check_button_set_active (((Run *) g_ptr_array_index (self->runs, run))->check, compared);
}

/* --- the project's stored runs ----------------------------------------------------- */

static void
set_compare_series (Run *run)
{
  /* Translators: a run in the comparison's legend */
  g_autofree char *label = g_strdup_printf (_("Run %d"), run->number);

  g_clear_object (&run->compare_accuracy);
  g_clear_object (&run->compare_loss);
  if (g_hash_table_contains (run->series, "validation-accuracy"))
    run->compare_accuracy = series_copy (g_hash_table_lookup (run->series, "validation-accuracy"), label);
  if (g_hash_table_contains (run->series, "validation-loss"))
    run->compare_loss = series_copy (g_hash_table_lookup (run->series, "validation-loss"), label);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_object_ref (json_node_get_object (root)) : NULL;
}

static Run *
run_from_store (GraftResultsPage *self, const GraftRun *stored)
{
  Run *run = g_new0 (Run, 1);
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_from_json (stored->spec_json, NULL);
  g_autoptr (JsonObject) metrics = parse_object (stored->metrics_json);
  GraftProject *project = graft_project_object_get_project (self->project);

  run->id = stored->id;
  run->number = (int) stored->id;
  run->strategy = spec != NULL ? spec->strategy : GRAFT_STRATEGY_CUSTOM;
  run->spec_json = g_strdup (stored->spec_json);
  run->metrics_json = g_strdup (stored->metrics_json);
  if ((stored->status == GRAFT_RUN_FINISHED || stored->status == GRAFT_RUN_STOPPED) && stored->model_path != NULL
      && g_file_test (stored->model_path, G_FILE_TEST_IS_REGULAR))
    run->model_path = g_strdup (stored->model_path);
  run->accuracy = metrics != NULL && json_object_has_member (metrics, "accuracy")
                    ? json_object_get_double_member (metrics, "accuracy") : NAN;
  run->epochs = metrics != NULL ? (int) json_object_get_int_member_with_default (metrics, "epochs", 0)
                                : spec != NULL ? spec->epochs : 0;
  run->epochs_done = metrics != NULL ? (int) json_object_get_int_member_with_default (metrics, "epochs_done", 0) : 0;
  run->seconds = metrics != NULL ? json_object_get_double_member_with_default (metrics, "seconds", NAN) : NAN;
  if (stored->finished > 0)
    run->finished = g_date_time_new_from_unix_local (stored->finished / G_USEC_PER_SEC);
  if (stored->status == GRAFT_RUN_FAILED)
    /* Translators: a stored run's line: it ended with an error */
    run->note = _("failed");
  else if (stored->status == GRAFT_RUN_RUNNING || stored->status == GRAFT_RUN_PENDING)
    /* Translators: a stored run's line: the app was closed or killed while it trained */
    run->note = _("interrupted");
  else if (run->model_path == NULL)
    /* Translators: a stored run's line: its model file is gone */
    run->note = _("model file missing");
  run->resumable = graft_project_object_can_resume_run (self->project, stored->id);
  run->series = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  for (gsize i = 0; i < G_N_ELEMENTS (curve_names); i++)
    {
      g_autoptr (GArray) points = graft_project_get_metric_series (project, stored->id, curve_names[i], NULL);
      GraftSeries *series;
      if (points == NULL || points->len == 0)
        continue;
      series = graft_series_new (curve_names[i], NULL);
      for (guint k = 0; k < points->len; k++)
        {
          const GraftSeriesPoint *point = &g_array_index (points, GraftSeriesPoint, k);
          graft_series_append (series, (double) point->step / GRAFT_RUN_STEPS_PER_EPOCH, point->value);
        }
      g_hash_table_insert (run->series, (gpointer) curve_names[i], series);
    }
  set_compare_series (run);
  return run;
}

static Run *
find_run (GraftResultsPage *self, gint64 id)
{
  for (guint i = 0; i < self->runs->len; i++)
    {
      Run *run = g_ptr_array_index (self->runs, i);
      if (run->id == id)
        return run;
    }
  return NULL;
}

/* What a stored run was: its spec, its classes and the images it was validated on. */
static Results *
results_from_run (Run *run)
{
  Results *r = g_atomic_rc_box_new0 (Results);
  g_autoptr (JsonObject) metrics = parse_object (run->metrics_json);
  JsonArray *classes = metrics != NULL && json_object_has_member (metrics, "classes")
                         ? json_object_get_array_member (metrics, "classes") : NULL;
  JsonArray *validation = metrics != NULL && json_object_has_member (metrics, "validation")
                            ? json_object_get_array_member (metrics, "validation") : NULL;

  r->spec = graft_session_spec_from_json (run->spec_json, NULL);
  if (r->spec == NULL)
    r->spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, NULL);
  r->classes = g_ptr_array_new_with_free_func (g_free);
  for (guint c = 0; classes != NULL && c < json_array_get_length (classes); c++)
    g_ptr_array_add (r->classes, g_strdup (json_array_get_string_element (classes, c)));
  if (validation != NULL && json_array_get_length (validation) > 0)
    {
      r->validation = graft_dataset_new ();
      for (guint c = 0; c < r->classes->len; c++)
        graft_dataset_add_class (r->validation, g_ptr_array_index (r->classes, c));
      for (guint i = 0; i < json_array_get_length (validation); i++)
        {
          JsonArray *item = json_array_get_array_element (validation, i);
          if (item != NULL && json_array_get_length (item) == 2)
            graft_dataset_add (r->validation, json_array_get_string_element (item, 0),
                               (int) json_array_get_int_element (item, 1));
        }
    }
  return r;
}

static void
open_run (GraftResultsPage *self, Run *run)
{
  if (run->model_path == NULL)
    return;
  self->shown_run = run;
  show_results (self, results_from_run (run), NULL, run->model_path);
}

static void
on_open_clicked (GtkButton *button, GraftResultsPage *self)
{
  open_run (self, g_object_get_data (G_OBJECT (button), "run"));
}

gboolean
graft_results_page_open_run (GraftResultsPage *self, gint64 run_id)
{
  Run *run;

  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), FALSE);
  run = find_run (self, run_id);
  if (run == NULL || run->model_path == NULL)
    return FALSE;
  open_run (self, run);
  return TRUE;
}

gint64
graft_results_page_get_shown_run_id (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), 0);
  return self->shown_run != NULL ? self->shown_run->id : 0;
}

gint64
graft_results_page_get_run_id (GraftResultsPage *self, guint run)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), 0);
  g_return_val_if_fail (run < self->runs->len, 0);
  return ((Run *) g_ptr_array_index (self->runs, run))->id;
}

static void
remove_run (GraftResultsPage *self, Run *run)
{
  if (run == self->shown_run)
    {
      /* Nothing of a deleted run stays on screen, nor can it be exported. */
      self->generation++;
      if (self->cancellable != NULL)
        g_cancellable_cancel (self->cancellable);
      self->evaluating = FALSE;
      self->shown_run = NULL;
      g_clear_pointer (&self->results, results_unref);
      clear_shown_results (self);
      gtk_stack_set_visible_child_name (self->stack, "empty");
    }
  adw_preferences_group_remove (self->runs_group, run->row);
  g_ptr_array_remove (self->runs, run);
  gtk_widget_set_visible (GTK_WIDGET (self->runs_group), self->runs->len > 0);
  update_comparison (self);
  update_actions (self);
}

/* Every run and result goes: another project's must not show. */
static void
clear_runs (GraftResultsPage *self)
{
  self->generation++;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->evaluating = FALSE;
  gtk_spinner_stop (self->evaluation_spinner);
  self->shown_run = NULL;
  g_clear_pointer (&self->results, results_unref);
  clear_captured_run (self);
  self->run_in_progress = self->training != NULL && graft_training_is_busy (self->training);
  while (self->runs->len > 0)
    {
      Run *run = g_ptr_array_index (self->runs, self->runs->len - 1);
      adw_preferences_group_remove (self->runs_group, run->row);
      g_ptr_array_remove_index (self->runs, self->runs->len - 1);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->runs_group), FALSE);
  clear_shown_results (self);
  gtk_stack_set_visible_child_name (self->stack, "empty");
  update_comparison (self);
  update_actions (self);
}

/* The project's runs, oldest first; the newest with a model is opened. */
static void
load_stored_runs (GraftResultsPage *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) runs = graft_project_list_runs (graft_project_object_get_project (self->project), &error);
  Run *newest = NULL;

  if (runs == NULL)
    {
      g_warning ("%s", error->message);
      return;
    }
  for (guint i = runs->len; i-- > 0;)
    {
      const GraftRun *stored = &g_array_index (runs, GraftRun, i);
      Run *run;
      if (stored->status == GRAFT_RUN_RUNNING && graft_project_object_get_recording (self->project))
        continue; /* the run going on: it shows when it ends */
      run = run_from_store (self, stored);
      append_run_row (self, run);
      if (run->model_path != NULL)
        newest = run;
    }
  if (newest != NULL)
    open_run (self, newest);
}

/* A run ended here was stored (it takes its id), or a run was deleted. */
static void
on_runs_changed (GraftProjectObject *project, gint64 run_id, GraftResultsPage *self)
{
  GraftRun stored = { 0 };
  Run *run = find_run (self, run_id);

  if (!graft_project_get_run (graft_project_object_get_project (project), run_id, &stored, NULL))
    {
      if (run != NULL)
        remove_run (self, run);
      return;
    }
  if (run != NULL && stored.status != GRAFT_RUN_RUNNING)
    {
      /* A resumed run ended: the row its end added (its curves from the first epoch)
       * takes the place of the row it had. */
      for (guint i = self->runs->len; i-- > 0;)
        if (((Run *) g_ptr_array_index (self->runs, i))->id == 0)
          {
            remove_run (self, run);
            run = NULL;
            break;
          }
    }
  if (run == NULL)
    {
      /* The newest run of this page not yet stored is the one the project stored. */
      for (guint i = self->runs->len; i-- > 0 && run == NULL;)
        if (((Run *) g_ptr_array_index (self->runs, i))->id == 0)
          run = g_ptr_array_index (self->runs, i);
      if (run == NULL)
        {
          append_run_row (self, run_from_store (self, &stored));
          graft_run_clear (&stored);
          return;
        }
      run->id = run_id;
      run->number = (int) run_id;
      set_compare_series (run);
      update_header (self);
    }
  g_free (run->model_path);
  run->model_path = stored.model_path != NULL && g_file_test (stored.model_path, G_FILE_TEST_IS_REGULAR)
                      ? g_strdup (stored.model_path) : NULL;
  g_free (run->metrics_json);
  run->metrics_json = g_strdup (stored.metrics_json);
  run->resumable = graft_project_object_can_resume_run (project, run_id);
  update_run_row (run);
  gtk_widget_set_sensitive (run->open_button, run != self->shown_run);
  update_comparison (self);
  graft_run_clear (&stored);
}

void
graft_results_page_set_project (GraftResultsPage *self, GraftProjectObject *project)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));
  g_return_if_fail (project == NULL || GRAFT_IS_PROJECT_OBJECT (project));

  if (self->project == project)
    return;
  if (self->project != NULL)
    g_clear_signal_handler (&self->runs_changed_id, self->project);
  g_set_object (&self->project, project);
  clear_runs (self);
  if (project != NULL)
    {
      self->runs_changed_id = g_signal_connect (project, "runs-changed", G_CALLBACK (on_runs_changed), self);
      load_stored_runs (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROJECT]);
}

GraftProjectObject *
graft_results_page_get_project (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->project;
}

static void
on_delete_response (AdwMessageDialog *dialog, const char *response, GraftResultsPage *self)
{
  gint64 run_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "run-id"));
  g_autoptr (GError) error = NULL;

  if (g_strcmp0 (response, "delete") != 0 || self->project == NULL)
    return;
  if (!graft_project_object_delete_run (self->project, run_id, &error))
    {
      /* Translators: a toast; the reason follows */
      g_autofree char *message = g_strdup_printf (_("Could not delete the run: %s"), error->message);
      toast (self, message);
    }
}

static void
action_resume_run (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (widget);
  gint64 run_id = g_variant_get_int64 (parameter);
  g_autoptr (GError) error = NULL;

  if (self->project == NULL || find_run (self, run_id) == NULL)
    return;
  if (!graft_project_object_resume_run (self->project, run_id, &error))
    {
      /* Translators: a toast; the reason follows */
      g_autofree char *message = g_strdup_printf (_("Could not resume the run: %s"), error->message);
      toast (self, message);
      return;
    }
  /* Its curves go on on the Train page. */
  gtk_widget_activate_action (widget, "win.show-page", "s", "train");
}

static void
action_delete_run (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (widget);
  gint64 run_id = g_variant_get_int64 (parameter);
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog;
  g_autofree char *heading = NULL;

  if (find_run (self, run_id) == NULL)
    return;
  /* Translators: the question before a run is deleted */
  heading = g_strdup_printf (_("Delete run %d?"), (int) run_id);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, heading,
                                                       _("Its trained model and curves are removed from the "
                                                         "project. This cannot be undone.")));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "delete", _("_Delete"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data (G_OBJECT (dialog), "run-id", GSIZE_TO_POINTER ((gsize) run_id));
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_delete_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* --- actions ---------------------------------------------------------------------- */

static void
update_actions (GraftResultsPage *self)
{
  gboolean model = self->results != NULL && self->results->model != NULL && !self->evaluating;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.export", model && !self->exporting_model);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.export-to", model && !self->exporting_model);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.export-curves",
                                 self->shown_run != NULL && !self->exporting_curves);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.export-curves-to",
                                 self->shown_run != NULL && !self->exporting_curves);
  {
    int shown_true;
    graft_mistakes_gallery_get_filter (self->gallery, &shown_true, NULL);
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "results.show-all-mistakes", shown_true >= 0);
  }
}

static void
action_export (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  /* Translators: the title of the file chooser */
  ask_for_file (GRAFT_RESULTS_PAGE (widget), _("Export Model"), "classifier.onnx", _("ONNX models"), "*.onnx",
                export_to);
}

static void
action_export_to (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  export_to (GRAFT_RESULTS_PAGE (widget), g_variant_get_string (parameter, NULL));
}

static void
action_export_curves (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  /* Translators: the title of the file chooser */
  ask_for_file (GRAFT_RESULTS_PAGE (widget), _("Export Curves"), "curves.csv", _("CSV files"), "*.csv",
                export_curves_to);
}

static void
action_export_curves_to (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  export_curves_to (GRAFT_RESULTS_PAGE (widget), g_variant_get_string (parameter, NULL));
}

static void
action_show_more (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_mistakes_gallery_show_more (GRAFT_RESULTS_PAGE (widget)->gallery);
}

static void
action_show_all_mistakes (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_results_page_filter_gallery (GRAFT_RESULTS_PAGE (widget), -1, -1);
}

/* --- properties and the rest of the API --------------------------------------------- */

void
graft_results_page_set_session (GraftResultsPage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (!g_set_object (&self->session, session))
    return;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftSession *
graft_results_page_get_session (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->session;
}

void
graft_results_page_set_training (GraftResultsPage *self, GraftTraining *training)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));
  g_return_if_fail (training == NULL || GRAFT_IS_TRAINING (training));

  if (!g_set_object (&self->training, training))
    return;
  g_signal_group_set_target (self->training_signals, training);
  clear_captured_run (self);
  self->run_in_progress = training != NULL && graft_training_is_busy (training);
  if (self->run_in_progress)
    capture_run (self);
  /* Shown after a run finished: its results are there to take. */
  else if (training != NULL && graft_training_get_state (training) == GRAFT_TRAINING_FINISHED
           && graft_training_get_epoch (training) >= 1 && self->results == NULL)
    take_results (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRAINING]);
}

GraftTraining *
graft_results_page_get_training (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->training;
}

void
graft_results_page_set_project_name (GraftResultsPage *self, const char *name)
{
  g_return_if_fail (GRAFT_IS_RESULTS_PAGE (self));
  if (g_strcmp0 (self->project_name, name) == 0)
    return;
  g_free (self->project_name);
  self->project_name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROJECT_NAME]);
}

const char *
graft_results_page_get_project_name (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->project_name;
}

gboolean
graft_results_page_is_busy (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), FALSE);
  return self->evaluating || self->exporting_model || self->exporting_curves;
}

const GraftMetrics *
graft_results_page_get_metrics (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->results != NULL && !self->evaluating ? self->results->metrics : NULL;
}

GListModel *
graft_results_page_get_gallery (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return graft_mistakes_gallery_get_images (self->gallery);
}

GraftConfusionView *
graft_results_page_get_confusion_view (GraftResultsPage *self)
{
  g_return_val_if_fail (GRAFT_IS_RESULTS_PAGE (self), NULL);
  return self->confusion_view;
}

GtkWidget *
graft_results_page_new (GraftSession *session, GraftTraining *training)
{
  return g_object_new (GRAFT_TYPE_RESULTS_PAGE, "session", session, "training", training, NULL);
}

static void
graft_results_page_dispose (GObject *object)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (object);

  if (self->viewer != NULL)
    {
      GtkWindow *viewer = GTK_WINDOW (self->viewer);
      g_object_remove_weak_pointer (G_OBJECT (self->viewer), (gpointer *) &self->viewer);
      self->viewer = NULL;
      gtk_window_destroy (viewer);
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->training_signals != NULL)
    g_signal_group_set_target (self->training_signals, NULL);
  g_clear_object (&self->training_signals);
  g_clear_object (&self->session);
  g_clear_object (&self->training);
  if (self->project != NULL)
    g_clear_signal_handler (&self->runs_changed_id, self->project);
  g_clear_object (&self->project);

  G_OBJECT_CLASS (graft_results_page_parent_class)->dispose (object);
}

static void
graft_results_page_finalize (GObject *object)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (object);

  clear_captured_run (self);
  g_clear_pointer (&self->results, results_unref);
  g_ptr_array_unref (self->runs);
  g_free (self->project_name);

  G_OBJECT_CLASS (graft_results_page_parent_class)->finalize (object);
}

static void
graft_results_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_TRAINING:
      g_value_set_object (value, self->training);
      break;
    case PROP_PROJECT_NAME:
      g_value_set_string (value, self->project_name);
      break;
    case PROP_PROJECT:
      g_value_set_object (value, self->project);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_results_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftResultsPage *self = GRAFT_RESULTS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_results_page_set_session (self, g_value_get_object (value));
      break;
    case PROP_TRAINING:
      graft_results_page_set_training (self, g_value_get_object (value));
      break;
    case PROP_PROJECT_NAME:
      graft_results_page_set_project_name (self, g_value_get_string (value));
      break;
    case PROP_PROJECT:
      graft_results_page_set_project (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_results_page_class_init (GraftResultsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = graft_results_page_dispose;
  object_class->finalize = graft_results_page_finalize;
  object_class->get_property = graft_results_page_get_property;
  object_class->set_property = graft_results_page_set_property;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION, flags);
  properties[PROP_TRAINING] = g_param_spec_object ("training", NULL, NULL, GRAFT_TYPE_TRAINING, flags);
  properties[PROP_PROJECT_NAME] = g_param_spec_string ("project-name", NULL, NULL, NULL, flags);
  properties[PROP_PROJECT] = g_param_spec_object ("project", NULL, NULL, GRAFT_TYPE_PROJECT_OBJECT, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (message) for the window to show in a toast. */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (GRAFT_TYPE_CONFUSION_VIEW);
  g_type_ensure (GRAFT_TYPE_CLASS_TABLE);
  g_type_ensure (GRAFT_TYPE_MISTAKES_GALLERY);
  g_type_ensure (GRAFT_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-results-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, export_label);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, export_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, curves_button);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, export_button);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, softmax_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, evaluation_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, evaluation_spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, failed_page);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, accuracy_value);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, f1_value);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, loss_value);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, images_value);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, mistakes_value);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, confusion_view);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, class_table);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, gallery);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, runs_group);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, compare_revealer);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, compare_accuracy_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, compare_loss_plot);
  gtk_widget_class_bind_template_child (widget_class, GraftResultsPage, differences_label);

  gtk_widget_class_install_action (widget_class, "results.export", NULL, action_export);
  gtk_widget_class_install_action (widget_class, "results.export-to", "s", action_export_to);
  gtk_widget_class_install_action (widget_class, "results.export-curves", NULL, action_export_curves);
  gtk_widget_class_install_action (widget_class, "results.export-curves-to", "s", action_export_curves_to);
  gtk_widget_class_install_action (widget_class, "results.show-all-mistakes", NULL, action_show_all_mistakes);
  gtk_widget_class_install_action (widget_class, "results.show-more", NULL, action_show_more);
  gtk_widget_class_install_action (widget_class, "results.delete-run", "x", action_delete_run);
  gtk_widget_class_install_action (widget_class, "results.resume-run", "x", action_resume_run);

  gtk_widget_class_set_css_name (widget_class, "graftresultspage");
}

static void
add_style (void)
{
  static gsize done = 0;
  GdkDisplay *display = gdk_display_get_default ();

  if (display == NULL || !g_once_init_enter (&done))
    return;
  {
    GtkCssProvider *provider = gtk_css_provider_new ();
    gtk_css_provider_load_from_data (provider,
                                     "graftresultspage .figure { padding: 14px 6px 12px 6px; }\n"
                                     "graftresultspage .thumbnail { border-radius: 8px;"
                                     " background-color: alpha(currentColor, 0.08); }\n",
                                     -1);
    gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref (provider);
  }
  g_once_init_leave (&done, 1);
}

static void
graft_results_page_init (GraftResultsPage *self)
{
  add_style ();
  gtk_widget_init_template (GTK_WIDGET (self));

  self->runs = g_ptr_array_new_with_free_func (run_free);
  self->training_signals = g_signal_group_new (GRAFT_TYPE_TRAINING);
  g_signal_group_connect_swapped (self->training_signals, "notify::state", G_CALLBACK (on_training_state), self);
  g_signal_group_connect (self->training_signals, "finished", G_CALLBACK (on_training_finished), self);
  g_signal_connect (self->gallery, "filter-changed", G_CALLBACK (on_gallery_filter_changed), self);
  g_signal_connect (self->gallery, "image-activated", G_CALLBACK (on_gallery_image_activated), self);
  g_signal_connect (self->confusion_view, "cell-activated", G_CALLBACK (on_cell_activated), self);

  graft_plot_set_y_factor (self->compare_accuracy_plot, 100);
  graft_plot_set_y_range (self->compare_accuracy_plot, 0, 100);
  graft_plot_set_x_integer_ticks (self->compare_accuracy_plot, TRUE);
  graft_plot_set_x_integer_ticks (self->compare_loss_plot, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->runs_group), FALSE);
  update_actions (self);
}
