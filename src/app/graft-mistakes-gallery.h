/* graft-mistakes-gallery.h: the Results page's gallery of validation images: the
 * mistakes (the most confident first) by default, or the images of one cell of the
 * confusion matrix; a page of thumbnails at a time (Show More adds one).
 *
 * Each image shows its thumbnail (decoded off the main thread when its cell is made,
 * cancelled when the cell goes first), the predicted and the true class and the
 * confidence.
 *
 * Signals:
 *   filter-changed (int true_class, int predicted_class)
 *                        the gallery's own Show All Mistakes button went back to
 *                        every mistake (-1, -1)
 *   image-activated (const char *path, int true_class, int predicted_class, double confidence)
 *                        an image was clicked (or Enter pressed on it)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "train/dataset.h"

G_BEGIN_DECLS

/* Images the gallery shows at first, and adds with each Show More. */
#define GRAFT_MISTAKES_GALLERY_PAGE 48

#define GRAFT_TYPE_MISTAKES_GALLERY (graft_mistakes_gallery_get_type ())
G_DECLARE_FINAL_TYPE (GraftMistakesGallery, graft_mistakes_gallery, GRAFT, MISTAKES_GALLERY, AdwBin)

GtkWidget *graft_mistakes_gallery_new (void);

/* The validation images and what the model gave them: probabilities (items, classes),
 * NAN rows for images that failed; names[c] names class c. The images without a
 * label are left out. NULL validation or probabilities empties the gallery. Shows
 * every mistake. */
void graft_mistakes_gallery_set_predictions (GraftMistakesGallery *self, const GraftDataset *validation,
                                             const float *probabilities, int classes, const char *const *names);
/* Shows the images of one confusion cell; -1, -1 (or a class out of range) every mistake. */
void graft_mistakes_gallery_set_filter (GraftMistakesGallery *self, int true_class, int predicted_class);
/* The cell shown, -1 for both when it shows the mistakes. */
void graft_mistakes_gallery_get_filter (GraftMistakesGallery *self, int *true_class, int *predicted_class);
/* One page more of thumbnails. */
void graft_mistakes_gallery_show_more (GraftMistakesGallery *self);
/* The images the filter lets through (every page), GObjects with a "paintable" property. */
GListModel *graft_mistakes_gallery_get_images (GraftMistakesGallery *self);

G_END_DECLS
