/* Active learning: suggestions, uncertainty, the labelling queue with diversity, and
 * near-duplicates (flagged across train and validation). */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "project/active.h"
#include "project/import.h"
#include "project/project.h"
#include "model/surgery.h"
#include "test-project-helpers.h"
#include "toy-images.h"
#include "toy-network.h"

static void
test_uncertainty (void)
{
  const float sure[] = { 0.98f, 0.01f, 0.01f };
  const float split[] = { 0.45f, 0.45f, 0.10f };
  const float flat[] = { 1 / 3.0f, 1 / 3.0f, 1 / 3.0f };
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (sure, 3, GRAFT_UNCERTAINTY_MARGIN), 1 - 0.97, 1e-6);
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (split, 3, GRAFT_UNCERTAINTY_MARGIN), 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (flat, 3, GRAFT_UNCERTAINTY_ENTROPY), 1.0, 1e-5);
  double h = -(0.98 * log (0.98) + 2 * 0.01 * log (0.01)) / log (3);
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (sure, 3, GRAFT_UNCERTAINTY_ENTROPY), h, 1e-5);
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (flat, 3, GRAFT_UNCERTAINTY_LEAST_CONFIDENCE), 1.0, 1e-5);
  g_assert_cmpfloat_with_epsilon (graft_active_uncertainty (sure, 3, GRAFT_UNCERTAINTY_LEAST_CONFIDENCE),
                                  0.02 * 3 / 2, 1e-5);
  g_assert_cmpfloat (graft_active_uncertainty (sure, 1, GRAFT_UNCERTAINTY_MARGIN), ==, 0);

  const float probabilities[] = { 0.1f, 0.7f, 0.2f, 0.5f, 0.25f, 0.25f };
  int classes[2];
  float confidences[2];
  graft_active_suggest (probabilities, 2, 3, classes, confidences);
  g_assert_cmpint (classes[0], ==, 1);
  g_assert_cmpfloat (confidences[0], ==, 0.7f);
  g_assert_cmpint (classes[1], ==, 0);
  g_assert_cmpfloat (confidences[1], ==, 0.5f);
}

static void
test_queue_uncertain_first (void)
{
  /* Two classes: margins 0.9, 0.0, 0.2, 0.6, 0.02 */
  const float probabilities[] = { 0.95f, 0.05f, 0.5f, 0.5f, 0.6f, 0.4f, 0.8f, 0.2f, 0.51f, 0.49f };
  const guint expected[] = { 1, 4, 2, 3, 0 };
  for (int measure = GRAFT_UNCERTAINTY_MARGIN; measure <= GRAFT_UNCERTAINTY_LEAST_CONFIDENCE; measure++)
    {
      GraftActiveQueueOptions options = { measure, 0, 0 };
      g_autoptr (GArray) queue = graft_active_queue (probabilities, 5, 2, NULL, 0, NULL, 0, &options);
      g_assert_cmpuint (queue->len, ==, 5);
      for (int i = 0; i < 5; i++)
        g_assert_cmpuint (g_array_index (queue, guint, i), ==, expected[i]);
    }
  GraftActiveQueueOptions three = { GRAFT_UNCERTAINTY_MARGIN, 3, 0 };
  g_autoptr (GArray) top = graft_active_queue (probabilities, 5, 2, NULL, 0, NULL, 0, &three);
  g_assert_cmpuint (top->len, ==, 3);
}

static void
test_queue_diversity (void)
{
  /* 0 and 1: the two most uncertain, and the same picture (near-identical embeddings);
   * 2: a little less uncertain, a different picture; 3, 4: sure. */
  const float probabilities[] = { 0.5f, 0.5f, 0.51f, 0.49f, 0.6f, 0.4f, 0.9f, 0.1f, 0.95f, 0.05f };
  const float embeddings[] = {
    1.0f, 0.0f, 0.0f, 0.0f,
    0.999f, 0.02f, 0.0f, 0.0f,
    0.0f, 1.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 1.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 1.0f,
  };
  g_autoptr (GArray) plain = graft_active_queue (probabilities, 5, 2, NULL, 0, NULL, 0, NULL);
  g_assert_cmpuint (g_array_index (plain, guint, 0), ==, 0);
  g_assert_cmpuint (g_array_index (plain, guint, 1), ==, 1);

  g_autoptr (GArray) diverse = graft_active_queue (probabilities, 5, 2, embeddings, 4, NULL, 0, NULL);
  g_assert_cmpuint (diverse->len, ==, 5);
  g_assert_cmpuint (g_array_index (diverse, guint, 0), ==, 0);   /* uncertain first */
  g_assert_cmpuint (g_array_index (diverse, guint, 1), ==, 2);   /* not the copy of 0 */
  g_assert_cmpuint (g_array_index (diverse, guint, 4), ==, 1);   /* the copy comes last */

  /* What is already labelled counts as covered: a labelled picture like 0 and 1 sends 2 first. */
  const float labelled[] = { 0.99f, 0.01f, 0.0f, 0.0f };
  g_autoptr (GArray) covered = graft_active_queue (probabilities, 5, 2, embeddings, 4, labelled, 1, NULL);
  g_assert_cmpuint (g_array_index (covered, guint, 0), ==, 2);

  /* A pool of 2: the rest follows by uncertainty. */
  GraftActiveQueueOptions options = { GRAFT_UNCERTAINTY_MARGIN, 0, 2 };
  g_autoptr (GArray) small = graft_active_queue (probabilities, 5, 2, embeddings, 4, NULL, 0, &options);
  const guint expected[] = { 0, 1, 2, 3, 4 };
  for (int i = 0; i < 5; i++)
    g_assert_cmpuint (g_array_index (small, guint, i), ==, expected[i]);
}

static void
test_near_duplicates (void)
{
  const float embeddings[] = {
    1.0f, 0.0f, 0.0f,          /* 0 */
    0.999f, 0.03f, 0.0f,       /* 1: near 0, same split */
    0.0f, 1.0f, 0.0f,          /* 2 */
    0.0f, 0.98f, 0.1f,         /* 3: near 2, across splits */
    0.0f, 0.0f, 1.0f,          /* 4 */
    0.5f, 0.5f, 0.7f,          /* 5 */
    -0.5f, 0.5f, 0.7f,         /* 6: same hash as 5, different embedding */
  };
  const char *hashes[] = { "h0", "h1", "h2", "h3", "h4", "same", "same" };
  const int splits[] = { GRAFT_SPLIT_TRAIN, GRAFT_SPLIT_TRAIN, GRAFT_SPLIT_TRAIN, GRAFT_SPLIT_VALIDATION,
                         GRAFT_SPLIT_TEST, GRAFT_SPLIT_TRAIN, GRAFT_SPLIT_TEST };
  g_autoptr (GArray) pairs = graft_active_near_duplicates (embeddings, 7, 3, hashes, splits, 0.95f);
  g_assert_cmpuint (pairs->len, ==, 3);
  const GraftNearDuplicate *p = (const GraftNearDuplicate *) pairs->data;
  g_assert_cmpuint (p[0].a, ==, 5);
  g_assert_cmpuint (p[0].b, ==, 6);
  g_assert_true (p[0].exact);
  g_assert_true (p[0].across_splits);
  g_assert_cmpuint (p[1].a, ==, 2);
  g_assert_cmpuint (p[1].b, ==, 3);
  g_assert_false (p[1].exact);
  g_assert_true (p[1].across_splits);
  g_assert_cmpfloat (p[1].similarity, >, 0.95f);
  g_assert_cmpuint (p[2].a, ==, 0);
  g_assert_cmpuint (p[2].b, ==, 1);
  g_assert_false (p[2].across_splits);

  /* Without splits or hashes: near ones only, by similarity. */
  g_autoptr (GArray) plain = graft_active_near_duplicates (embeddings, 7, 3, NULL, NULL, 0.95f);
  g_assert_cmpuint (plain->len, ==, 2);
  g_assert_cmpuint (g_array_index (plain, GraftNearDuplicate, 0).a, ==, 0);

  /* More rows than one sgemm block, against a naive loop. */
  const guint n = 700, dim = 8;
  g_autofree float *many = g_new (float, n * dim);
  GRand *rand = g_rand_new_with_seed (5);
  for (guint i = 0; i < n * dim; i++)
    many[i] = (float) g_rand_double_range (rand, -1, 1);
  for (guint i = 0; i < 20; i++)   /* plant near copies */
    for (guint d = 0; d < dim; d++)
      many[(i * 33 + 17) * dim + d] = many[(i * 29) * dim + d] + 0.001f * (float) d;
  g_rand_free (rand);
  g_autoptr (GArray) found = graft_active_near_duplicates (many, n, (int) dim, NULL, NULL, 0.99f);
  guint naive = 0;
  for (guint a = 0; a < n; a++)
    for (guint b = a + 1; b < n; b++)
      {
        double dot = 0, na = 0, nb = 0;
        for (guint d = 0; d < dim; d++)
          {
            dot += many[a * dim + d] * many[b * dim + d];
            na += many[a * dim + d] * many[a * dim + d];
            nb += many[b * dim + d] * many[b * dim + d];
          }
        if (dot / sqrt (na * nb) >= 0.99)
          naive++;
      }
  g_assert_cmpuint (naive, >=, 19);
  g_assert_cmpuint (found->len, ==, naive);
}

static gint64
add_png (GraftProject *project, const char *folder, const char *name, guint seed)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  write_png (path, 4, 4, seed);
  g_autoptr (GError) error = NULL;
  gint64 id = graft_project_add_image (project, path, &error);
  g_assert_no_error (error);
  return id;
}

static void
test_project_queue_and_duplicates (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *folder = g_build_filename (dir, "project", NULL);
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autoptr (GError) error = NULL;
  GraftProject *project = graft_project_create (folder, "Active", &error);
  g_assert_no_error (error);
  gint64 cat = graft_project_add_class (project, "cat", NULL, &error);
  gint64 dog = graft_project_add_class (project, "dog", NULL, &error);

  /* 10 labelled cats (half in validation), 4 unlabelled images. */
  gint64 labelled[10], unlabelled[4];
  for (int i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("cat-%d.png", i);
      labelled[i] = add_png (project, images, name, (guint) i);
    }
  g_assert_true (graft_project_set_labels (project, labelled, 10, cat, GRAFT_LABEL_PERSON, &error));
  g_assert_true (graft_project_reset_splits (project, 0.5, 0.0, 11, &error));
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("new-%d.png", i);
      unlabelled[i] = add_png (project, images, name, (guint) (100 + i));
    }
  /* An exact copy of new-0 (both unlabelled: not across splits). */
  g_autofree char *original = g_build_filename (images, "new-0.png", NULL);
  g_autofree char *copy = g_build_filename (images, "copy-of-new-0.png", NULL);
  g_free (copy_to (original, copy));
  gint64 twin = graft_project_add_image (project, copy, &error);

  /* Which labelled images went to train and which to validation. */
  gint64 in_train = 0, in_validation = 0;
  for (int i = 0; i < 10; i++)
    {
      GraftImageInfo info = { 0 };
      g_assert_true (graft_project_get_image (project, labelled[i], &info, &error));
      if (info.split == GRAFT_SPLIT_TRAIN && in_train == 0)
        in_train = labelled[i];
      if (info.split == GRAFT_SPLIT_VALIDATION && in_validation == 0)
        in_validation = labelled[i];
      graft_image_info_clear (&info);
    }
  g_assert_cmpint (in_train, >, 0);
  g_assert_cmpint (in_validation, >, 0);

  /* Predictions: embeddings of dim 4 (the labelled ones in the first three axes); a train
   * image and a validation image alike. */
  g_autoptr (GArray) predictions = g_array_new (FALSE, TRUE, sizeof (GraftPrediction));
  float embeddings[16][4] = { { 0 } };
  float probabilities[16][2];
  guint k = 0;
  for (int i = 0; i < 10; i++, k++)
    {
      double angle = i * 0.6;
      gboolean alike = labelled[i] == in_train || labelled[i] == in_validation;
      embeddings[k][0] = alike ? 0.1f : (float) cos (angle);
      embeddings[k][1] = alike ? 0.0f : (float) sin (angle);
      embeddings[k][2] = alike ? 5.0f : 0.0f;
      probabilities[k][0] = 0.9f;
      probabilities[k][1] = 0.1f;
      GraftPrediction p = { labelled[i], cat, 0.9f, probabilities[k], 2, embeddings[k], 4 };
      g_array_append_val (predictions, p);
    }
  /* Unlabelled: 0 and 1 the most uncertain and alike; 2 less uncertain, elsewhere; 3 sure. */
  const float unlabelled_embeddings[4][4] = { { 0, 0, 0, 1 }, { 0.01f, 0, 0, 1 }, { 0, 0, -1, 0 }, { 1, 0, 0, 0 } };
  const float unlabelled_probabilities[4][2] = { { 0.5f, 0.5f }, { 0.52f, 0.48f }, { 0.4f, 0.6f }, { 0.99f, 0.01f } };
  for (int i = 0; i < 4; i++, k++)
    {
      memcpy (embeddings[k], unlabelled_embeddings[i], sizeof embeddings[k]);
      memcpy (probabilities[k], unlabelled_probabilities[i], sizeof probabilities[k]);
      GraftPrediction p = { unlabelled[i], probabilities[k][0] > 0.5f ? cat : dog, MAX (probabilities[k][0], probabilities[k][1]),
                            probabilities[k], 2, embeddings[k], 4 };
      g_array_append_val (predictions, p);
    }
  gint64 run = graft_project_add_run (project, "run", "{}", &error);
  g_assert_true (graft_project_set_predictions (project, run, (GraftPrediction *) predictions->data, predictions->len,
                                                &error));
  g_assert_no_error (error);

  g_autoptr (GArray) queue = graft_active_project_queue (project, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (queue->len, ==, 4);
  g_assert_cmpint (g_array_index (queue, gint64, 0), ==, unlabelled[0]);
  g_assert_cmpint (g_array_index (queue, gint64, 1), ==, unlabelled[2]);   /* not the look-alike of 0 */

  g_autoptr (GArray) pairs = graft_active_project_duplicates (project, 0.98f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pairs->len, >=, 3);
  const GraftDuplicatePair *first = &g_array_index (pairs, GraftDuplicatePair, 0);
  g_assert_true (first->across_splits);
  g_assert_cmpint (first->a, ==, MIN (in_train, in_validation));
  g_assert_cmpint (first->b, ==, MAX (in_train, in_validation));
  gboolean exact_found = FALSE, near_unlabelled = FALSE;
  for (guint i = 0; i < pairs->len; i++)
    {
      const GraftDuplicatePair *pair = &g_array_index (pairs, GraftDuplicatePair, i);
      if (pair->exact && pair->a == unlabelled[0] && pair->b == twin)
        exact_found = !pair->across_splits;
      if (!pair->exact && pair->a == unlabelled[0] && pair->b == unlabelled[1])
        near_unlabelled = TRUE;
    }
  g_assert_true (exact_found);
  g_assert_true (near_unlabelled);

  graft_project_close (project);
  remove_tree (dir);
}

/* A trained model's predictions of a project's images (what the app and graft-cli train
 * store after a run): every image gets probabilities and an embedding (the classifier's
 * input), the unlabelled ones are suggested, and the queue's diversity step gets the
 * embeddings. */
static void
test_project_predict (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *images = toy_image_folder_new (30, 12, FALSE);
  g_autofree char *train = g_build_filename (images, "train", NULL);
  g_autofree char *val = g_build_filename (images, "val", NULL);
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *folder = g_build_filename (dir, "p.graft", NULL);
  g_autoptr (GraftModel) model = toy_pretrained_model ();
  g_autoptr (GraftSessionSpec) spec = graft_session_spec_new (GRAFT_STRATEGY_FEATURE_EXTRACTION, model);
  g_autoptr (GPtrArray) classes = g_ptr_array_new ();
  GraftProject *project = graft_project_create (folder, "p", &error);
  GraftImageQuery suggested = { .filter = GRAFT_FILTER_SUGGESTED };
  const graft_shape *cut_shape;
  int dim = 1, right = 0, labelled = 0;
  guint stored = 0;

  g_assert_no_error (error);
  toy_preprocessing (spec);
  /* The toy model's outputs, in order (toy-images.c names them so). */
  g_ptr_array_add (classes, "horizontal");
  g_ptr_array_add (classes, "vertical");
  g_ptr_array_add (classes, "diagonal");
  {
    g_autoptr (GraftImportReport) labelled_report = graft_import_image_folder (project, train, NULL, &error);
    g_autoptr (GraftImportReport) unlabelled_report = graft_import_folder (project, val, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (labelled_report->added, ==, 30);
    g_assert_cmpuint (unlabelled_report->added, ==, 12);
  }
  g_assert_cmpuint (graft_project_count_images (project, &suggested, NULL), ==, 0);

  g_assert_true (graft_active_project_predict (project, 0, model, classes, &spec->preprocessing, NULL, &stored,
                                               &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stored, ==, 42);
  g_assert_cmpuint (graft_project_count_images (project, &suggested, NULL), ==, 12);

  /* The embedding is what the classifier reads. */
  cut_shape = &graft_graph_value (model->graph, graft_model_default_cut (model))->shape;
  for (int d = 1; d < cut_shape->rank; d++)
    dim *= (int) cut_shape->dims[d];
  {
    g_autoptr (GraftPredictionSet) all = graft_project_get_predictions (project, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (all->ids->len, ==, 42);
    g_assert_nonnull (all->probabilities);
    g_assert_cmpint (all->k, ==, 3);
    g_assert_nonnull (all->embeddings);
    g_assert_cmpint (all->dim, ==, dim);
    /* The classes map to the project's: the labelled images are mostly predicted as
     * labelled (the toy model knows the task; chance is a third). */
    for (guint i = 0; i < all->ids->len; i++)
      {
        GraftImageInfo info = { 0 };
        g_assert_true (graft_project_get_image (project, g_array_index (all->ids, gint64, i), &info, &error));
        if (info.class_id != 0)
          {
            labelled++;
            right += info.suggestion == info.class_id;
          }
        graft_image_info_clear (&info);
      }
    g_assert_cmpint (labelled, ==, 30);
    g_test_message ("%d of %d labelled images predicted as labelled", right, labelled);
    g_assert_cmpint (right, >=, labelled * 2 / 3);
  }
  {
    /* The queue is the one with diversity over the stored embeddings (the labelled
     * images' as already covered). */
    g_autoptr (GraftPredictionSet) unlabelled = graft_project_get_predictions (project, TRUE, &error);
    g_autoptr (GraftPredictionSet) all = graft_project_get_predictions (project, FALSE, &error);
    g_autoptr (GArray) queue = graft_active_project_queue (project, NULL, &error);
    g_autoptr (GArray) expected = NULL;
    g_autofree float *covered = g_new (float, (gsize) all->ids->len * dim);
    guint n_covered = 0;

    g_assert_no_error (error);
    g_assert_nonnull (unlabelled->embeddings);
    g_assert_cmpint (unlabelled->dim, ==, dim);
    for (guint i = 0; i < all->ids->len; i++)
      {
        gboolean open = FALSE;
        for (guint j = 0; j < unlabelled->ids->len; j++)
          open |= g_array_index (unlabelled->ids, gint64, j) == g_array_index (all->ids, gint64, i);
        if (!open)
          memcpy (covered + (gsize) n_covered++ * dim, all->embeddings + (gsize) i * dim, sizeof (float) * dim);
      }
    g_assert_cmpuint (n_covered, ==, 30);
    expected = graft_active_queue (unlabelled->probabilities, unlabelled->ids->len, unlabelled->k,
                                   unlabelled->embeddings, unlabelled->dim, covered, n_covered, NULL);
    g_assert_cmpuint (queue->len, ==, 12);
    for (guint i = 0; i < queue->len; i++)
      g_assert_cmpint (g_array_index (queue, gint64, i), ==,
                       g_array_index (unlabelled->ids, gint64, g_array_index (expected, guint, i)));
  }

  /* A class the project no longer has is not predicted. */
  g_ptr_array_index (classes, 2) = "gone";
  g_assert_true (graft_active_project_predict (project, 0, model, classes, &spec->preprocessing, NULL, &stored,
                                               &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stored, <, 42);
  /* The number of outputs must match. */
  g_ptr_array_set_size (classes, 2);
  g_assert_false (graft_active_project_predict (project, 0, model, classes, &spec->preprocessing, NULL, &stored,
                                                &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);

  graft_project_close (project);
  remove_tree (dir);
  remove_tree (images);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/project/active/uncertainty", test_uncertainty);
  g_test_add_func ("/project/active/queue-uncertain-first", test_queue_uncertain_first);
  g_test_add_func ("/project/active/queue-diversity", test_queue_diversity);
  g_test_add_func ("/project/active/near-duplicates", test_near_duplicates);
  g_test_add_func ("/project/active/project", test_project_queue_and_duplicates);
  g_test_add_func ("/project/active/predict", test_project_predict);
  return g_test_run ();
}
