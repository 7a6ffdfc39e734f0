/* dataset.h: labelled images for a run: class names and (path, label) items.
 *
 * The project store (src/project/) is where people's labels live; a dataset is what a
 * run reads, made from a project or straight from an ImageFolder tree (graft-cli).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *path;
  int label;            /* index into classes; -1: unlabelled */
} GraftDatasetItem;

typedef struct {
  char *path;
  char *reason;         /* in English: "a FIFO", "a link back up the tree to /data, not followed", ... */
} GraftDatasetSkip;

typedef struct {
  GPtrArray *classes;   /* char * */
  GArray *items;        /* GraftDatasetItem */
  GArray *skipped;      /* GraftDatasetSkip: what reading an ImageFolder tree left out (FIFOs,
                         * sockets and device files, links that loop, images reached twice,
                         * broken links); empty otherwise, and in copies */
} GraftDataset;

GraftDataset *graft_dataset_new (void);
void graft_dataset_free (GraftDataset *dataset);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftDataset, graft_dataset_free)

/* The index of the class called name, added at the end if it is new. */
int graft_dataset_add_class (GraftDataset *dataset, const char *name);
void graft_dataset_add (GraftDataset *dataset, const char *path, int label);
guint graft_dataset_size (const GraftDataset *dataset);
/* A copy with the same classes and the items whose label is in [0, max_label)
 * (G_MAXINT: every item, unlabelled ones included); NULL for NULL. */
GraftDataset *graft_dataset_copy (const GraftDataset *dataset, int max_label);
/* Items per class (classes->len entries, newly allocated). */
guint *graft_dataset_class_counts (const GraftDataset *dataset);

/* An ImageFolder tree, as torchvision reads it: one subfolder per class, classes in
 * the order of their names, images (.png, .jpg, .jpeg, any case) anywhere inside each
 * class folder, in name order. classes may name the classes and their order (e.g. to
 * read a validation folder with the training folder's classes); NULL reads them from
 * the folders. Other files are ignored. A root that cannot be read, or has no class
 * folder, is an error naming it. Links are followed except back up the tree or into a
 * folder already read, each file is an item once, and what is left out is in skipped. */
GraftDataset *graft_dataset_load_image_folder (const char *root, GPtrArray *classes, GError **error);
/* The class folders of an ImageFolder tree (char *, in name order), as
 * graft_dataset_load_image_folder finds them, without reading the folders' contents; an
 * error naming root when it cannot be read. */
GPtrArray *graft_dataset_image_folder_classes (const char *root, GError **error);

/* Splits the labelled items into training and validation. An item goes to validation
 * when a hash of (seed, path) falls below the fraction, so each item's side depends
 * only on itself: adding images never moves the others. Unlabelled items go to neither. */
void graft_dataset_split (const GraftDataset *dataset, float validation_fraction, guint64 seed,
                          GraftDataset **train, GraftDataset **validation);

G_END_DECLS
