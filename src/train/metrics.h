/* metrics.h: what a classifier got right and wrong: loss, accuracy, the confusion
 * matrix and per-class precision, recall and F1. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
  int classes;
  guint64 *confusion;   /* (classes, classes): row = true class, column = predicted */
  double loss_sum;      /* sum of per-batch mean losses x batch sizes */
  guint64 count;
} GraftMetrics;

typedef struct {
  double precision, recall, f1;
  guint64 support;      /* true items of the class */
} GraftClassMetrics;

GraftMetrics *graft_metrics_new (int classes);
GraftMetrics *graft_metrics_copy (const GraftMetrics *metrics);
void graft_metrics_free (GraftMetrics *metrics);
void graft_metrics_reset (GraftMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftMetrics, graft_metrics_free)

/* The class a row of logits or probabilities predicts: the first largest, NaN entries
 * skipped (a row of NaN: 0). */
int graft_metrics_argmax (const float *row, int classes);

/* Adds n predictions: logits (n, classes) (graft_metrics_argmax), labels (n),
 * and the batch's mean loss (NAN when not known). */
void graft_metrics_add (GraftMetrics *metrics, const float *logits, const int32_t *labels, int n,
                        double mean_loss);

double graft_metrics_accuracy (const GraftMetrics *metrics);
double graft_metrics_loss (const GraftMetrics *metrics);  /* mean over items; NAN when none */
/* Precision is 0 when nothing was predicted as the class, recall 0 when it has no item. */
GraftClassMetrics graft_metrics_class (const GraftMetrics *metrics, int klass);
double graft_metrics_macro_f1 (const GraftMetrics *metrics);

G_END_DECLS
