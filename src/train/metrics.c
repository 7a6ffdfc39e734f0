/* metrics.c: confusion matrix, accuracy, mean loss, per-class precision/recall/F1.
 *
 * Conventions where the header leaves a choice:
 * - argmax: the first largest logit wins ties; a NaN logit is never greater than
 *   anything (NaN entries are skipped), and a row of NaN only predicts class 0;
 * - a NaN (or infinite) batch loss makes the mean loss NaN (or infinite) from then on,
 *   so a diverged batch is never hidden by the others; "not known" (NAN) therefore
 *   also gives NAN, which is what a caller that never knows the loss wants;
 * - labels outside [0, classes) are a caller's error: the batch is refused with a
 *   critical, nothing is counted;
 * - with no item, accuracy, loss and macro F1 are NAN (plots skip NaN points);
 * - macro F1 is the mean over the classes that have an item or a prediction (as
 *   scikit-learn's f1_score(average="macro") without labels=): a class absent from the
 *   validation set does not count as an F1 of 0.
 */
#include "train/metrics.h"

#include <math.h>
#include <string.h>

GraftMetrics *
graft_metrics_new (int classes)
{
  g_return_val_if_fail (classes > 0, NULL);
  GraftMetrics *metrics = g_new0 (GraftMetrics, 1);
  metrics->classes = classes;
  metrics->confusion = g_new0 (guint64, (gsize) classes * (gsize) classes);
  return metrics;
}

GraftMetrics *
graft_metrics_copy (const GraftMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NULL);
  GraftMetrics *copy = g_new0 (GraftMetrics, 1);
  *copy = *metrics;
  copy->confusion = g_memdup2 (metrics->confusion,
                               sizeof (guint64) * (gsize) metrics->classes * (gsize) metrics->classes);
  return copy;
}

void
graft_metrics_free (GraftMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_free (metrics->confusion);
  g_free (metrics);
}

void
graft_metrics_reset (GraftMetrics *metrics)
{
  g_return_if_fail (metrics != NULL);
  memset (metrics->confusion, 0, sizeof (guint64) * (gsize) metrics->classes * (gsize) metrics->classes);
  metrics->loss_sum = 0.0;
  metrics->count = 0;
}

int
graft_metrics_argmax (const float *row, int classes)
{
  int best = -1;
  for (int j = 0; j < classes; j++)
    {
      if (isnan (row[j]))
        continue;
      if (best < 0 || row[j] > row[best])
        best = j;
    }
  return best < 0 ? 0 : best;
}

void
graft_metrics_add (GraftMetrics *metrics, const float *logits, const int32_t *labels, int n, double mean_loss)
{
  g_return_if_fail (metrics != NULL);
  g_return_if_fail (n >= 0);
  if (n == 0)
    return;
  g_return_if_fail (logits != NULL && labels != NULL);
  const int classes = metrics->classes;
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= classes)
      {
        g_critical ("graft_metrics_add: label %d of item %d is not a class (0..%d)", (int) labels[i], i,
                    classes - 1);
        return;
      }
  for (int i = 0; i < n; i++)
    {
      int predicted = graft_metrics_argmax (logits + (gsize) i * (gsize) classes, classes);
      metrics->confusion[(gsize) labels[i] * (gsize) classes + (gsize) predicted]++;
    }
  metrics->loss_sum += mean_loss * (double) n;
  metrics->count += (guint64) n;
}

double
graft_metrics_accuracy (const GraftMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NAN);
  if (metrics->count == 0)
    return NAN;
  guint64 correct = 0;
  for (int k = 0; k < metrics->classes; k++)
    correct += metrics->confusion[(gsize) k * (gsize) metrics->classes + (gsize) k];
  return (double) correct / (double) metrics->count;
}

double
graft_metrics_loss (const GraftMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NAN);
  if (metrics->count == 0)
    return NAN;
  return metrics->loss_sum / (double) metrics->count;
}

static void
class_counts (const GraftMetrics *metrics, int klass, guint64 *true_positive, guint64 *support,
              guint64 *predicted)
{
  const gsize c = (gsize) metrics->classes;
  *true_positive = metrics->confusion[(gsize) klass * c + (gsize) klass];
  *support = 0;
  *predicted = 0;
  for (gsize j = 0; j < c; j++)
    {
      *support += metrics->confusion[(gsize) klass * c + j];
      *predicted += metrics->confusion[j * c + (gsize) klass];
    }
}

GraftClassMetrics
graft_metrics_class (const GraftMetrics *metrics, int klass)
{
  GraftClassMetrics result = { 0 };
  g_return_val_if_fail (metrics != NULL, result);
  g_return_val_if_fail (klass >= 0 && klass < metrics->classes, result);
  guint64 true_positive, support, predicted;
  class_counts (metrics, klass, &true_positive, &support, &predicted);
  result.support = support;
  result.precision = predicted > 0 ? (double) true_positive / (double) predicted : 0.0;
  result.recall = support > 0 ? (double) true_positive / (double) support : 0.0;
  double sum = result.precision + result.recall;
  result.f1 = sum > 0.0 ? 2.0 * result.precision * result.recall / sum : 0.0;
  return result;
}

double
graft_metrics_macro_f1 (const GraftMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NAN);
  double sum = 0.0;
  int present = 0;
  for (int k = 0; k < metrics->classes; k++)
    {
      guint64 true_positive, support, predicted;
      class_counts (metrics, k, &true_positive, &support, &predicted);
      if (support == 0 && predicted == 0)
        continue;
      sum += graft_metrics_class (metrics, k).f1;
      present++;
    }
  return present > 0 ? sum / present : NAN;
}
