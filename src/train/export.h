/* export.h: a trained model leaves Graft.
 *
 * - The metadata a trained model carries (graft.labels, graft.preprocessing,
 *   graft.recipe, graft.validation_accuracy) has one writer,
 *   graft_model_description_write, used by the trainer (graft_trainer_describe_model),
 *   the app's Results page, and graft-cli export of a project's run
 *   (graft_run_describe_model), so that a model says the same whoever exported it.
 *   Numbers are written with g_ascii_formatd: "0.8750" under every locale, never the
 *   decimal comma of the person's.
 * - graft_export_model writes the model (graft_model_save) and, given what the model
 *   predicted before (graft_evaluate's probabilities of the validation images), verifies
 *   the file: read back as another program would read it and run on the same images, it
 *   must give the same number of classes; the report says on how many images it
 *   predicts the same class, and the largest difference of a probability.
 */
#pragma once

#include <glib.h>

#include "model/model.h"
#include "train/dataset.h"
#include "train/spec.h"

G_BEGIN_DECLS

#define GRAFT_METADATA_VALIDATION_ACCURACY "graft.validation_accuracy"   /* "0.8750" */

/* What a trained model's metadata says about it. */
typedef struct {
  const GPtrArray *classes;        /* char *: the names of the model's outputs, in order; NULL: not written */
  const GraftSessionSpec *spec;    /* its preprocessing and the whole spec as the recipe; NULL: not written */
  double validation_accuracy;      /* in [0, 1]; NAN: no validation (the key is removed) */
} GraftModelDescription;

/* Writes description into metadata (key -> value, both g_free'd). With replace, every
 * key the description has is written and graft.validation_accuracy removed when it is
 * NAN; without, keys metadata already holds keep their values (a stored file's own). */
void graft_model_description_write (const GraftModelDescription *description, GHashTable *metadata,
                                    gboolean replace);

/* What the model gave before it was written, to verify the file with. */
typedef struct {
  const GraftDataset *validation;       /* the images */
  const GraftPreprocessing *preprocessing;
  const float *probabilities;           /* (validation items, classes); rows of NAN (failed images) are skipped */
  int classes;
  int batch_size;
  int decode_threads;
} GraftExportReference;

typedef struct {
  gboolean verified;                    /* the file was read back and run on the images */
  guint compared;                       /* labelled images both runs decoded */
  guint agreed;                         /* of them, those given the same class */
  double max_difference;                /* the largest difference of a probability; 0: the same bits */
} GraftExportVerification;

/* Writes model to path (graft_model_save with options). With reference (nullable),
 * then reads the file back and runs it on reference's images, filling verification
 * (nullable; cleared first). FALSE with error when the file cannot be written, read
 * back, or gives another number of classes, or the images cannot be evaluated (the file
 * stays written). */
gboolean graft_export_model (GraftModel *model, const char *path, const GraftExportOptions *options,
                             const GraftExportReference *reference, GraftExportVerification *verification,
                             GError **error);

G_END_DECLS
