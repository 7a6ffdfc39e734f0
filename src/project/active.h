/* active.h: what to label next. Pure functions over a model's outputs (probabilities
 * per image, optional embeddings), plus the same over a project's stored predictions.
 *
 * - Suggestion: the most probable class and its probability.
 * - Uncertainty, 0 (sure) .. 1 (no idea):
 *     margin:           1 - (p1 - p2), p1 >= p2 the two largest probabilities
 *     entropy:          -sum p log p / log k
 *     least confidence: (1 - p1) * k / (k - 1)
 * - The queue: the images ordered by uncertainty; with embeddings, the `pool` most
 *   uncertain are reordered by an uncertainty-weighted greedy k-centre (farthest-first):
 *   each next image maximises u_i * d_i, where d_i is its cosine distance (1 - cos) to
 *   the nearest image already queued (and to the labelled images, when given). Two
 *   near-identical doubts then are not next to each other at the top: the second one's
 *   d is about 0. Past the pool, images follow in order of uncertainty.
 * - Near-duplicates: exact ones by content hash; near ones by cosine similarity of the
 *   embeddings >= threshold (all pairs: O(n^2 dim), blocked through cblas_sgemm; about
 *   2 s for 10,000 images of dim 512 on two cores). A pair split between train and
 *   validation or test is flagged (it makes validation look better than it is) and
 *   listed first.
 */
#pragma once

#include <glib.h>

#include "data/preprocess.h"
#include "model/model.h"
#include "project/project.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_UNCERTAINTY_MARGIN,
  GRAFT_UNCERTAINTY_ENTROPY,
  GRAFT_UNCERTAINTY_LEAST_CONFIDENCE,
} GraftUncertainty;

/* probabilities: (n, k) row-major. classes and confidences: n each (either nullable). */
void graft_active_suggest (const float *probabilities, guint n, int k, int *classes, float *confidences);
/* One image's probabilities (k >= 1; k == 1 gives 0). */
float graft_active_uncertainty (const float *probabilities, int k, GraftUncertainty measure);

typedef struct {
  GraftUncertainty measure;
  guint length;      /* how many to return; 0: all */
  guint pool;        /* candidates reordered for diversity; 0: max (10 * length, 100) */
} GraftActiveQueueOptions;

/* Indices (guint) into the n images, most worth labelling first. embeddings (n, dim) and
 * labelled_embeddings (n_labelled, dim) are nullable; options NULL: margin, all, pool 100. */
GArray *graft_active_queue (const float *probabilities, guint n, int k, const float *embeddings, int dim,
                            const float *labelled_embeddings, guint n_labelled,
                            const GraftActiveQueueOptions *options);

typedef struct {
  guint a, b;            /* indices, a < b */
  float similarity;      /* cosine; 1 for exact duplicates */
  gboolean exact;        /* same content hash */
  gboolean across_splits;/* one in train, the other in validation or test */
} GraftNearDuplicate;

/* Pairs among n images: exact (hashes, nullable entries ignored; hashes itself
 * nullable) and near (embeddings nullable). splits (nullable): GraftSplit per image.
 * Sorted: across splits first, then by similarity, then by indices. */
GArray *graft_active_near_duplicates (const float *embeddings, guint n, int dim, const char *const *hashes,
                                      const int *splits, float threshold);

/* ---- Over a project ----------------------------------------------------------------- */

/* The queue over the unlabelled images that have predictions (with probabilities):
 * image ids (gint64), best first. The labelled images' stored embeddings count as
 * already covered. */
GArray *graft_active_project_queue (GraftProject *project, const GraftActiveQueueOptions *options, GError **error);

typedef struct {
  gint64 a, b;           /* image ids, a < b */
  float similarity;
  gboolean exact;
  gboolean across_splits;
} GraftDuplicatePair;

/* Exact duplicates among all hashed images, near ones among the images with stored
 * embeddings; sorted as graft_active_near_duplicates. GArray of GraftDuplicatePair. */
GArray *graft_active_project_duplicates (GraftProject *project, float threshold, GError **error);

/* What a trained model says of the project's images: for every image whose file is
 * there, its probabilities, the predicted class and the embedding (what the model's
 * classifier reads: the features its head was trained on), stored with
 * graft_project_set_predictions (run_id may be 0) in place of the older predictions.
 * Unlabelled images with a prediction are the suggestions; the embeddings feed the
 * diversity step of graft_active_project_queue, the labelled ones as what is covered.
 * classes: the names of the model's outputs, in order (a class no longer in the project
 * is not predicted). Images that cannot be decoded are passed over. Blocks (the app
 * calls it in a worker); cancellable nullable. stored (nullable): how many. */
gboolean graft_active_project_predict (GraftProject *project, gint64 run_id, GraftModel *model, GPtrArray *classes,
                                       const GraftPreprocessing *prep, GCancellable *cancellable, guint *stored,
                                       GError **error);

G_END_DECLS
