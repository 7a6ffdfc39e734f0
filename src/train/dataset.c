/* dataset.c: class names and (path, label) items; ImageFolder reading; a stable split.
 *
 * ImageFolder follows torchvision's find_classes and make_dataset:
 *   classes = sorted(d.name for d in os.scandir(root) if d.is_dir())
 *   for each class, for dir, _, names in sorted(os.walk(class_dir, followlinks=True)):
 *     for name in sorted(names): keep it if its extension is an image extension
 * Python sorts str by code point, which for UTF-8 names is the byte order of strcmp.
 * Note that sorted(os.walk(...)) orders the folders by their whole path, so "a-b" (0x2d)
 * comes before "a/x" (0x2f): the walk below collects every folder first, then sorts the
 * paths, rather than descending depth first.
 *
 * Differences from torchvision, on purpose:
 * - entries whose name starts with '.' (files and folders, classes included) are skipped:
 *   ".ipynb_checkpoints" or ".DS_Store" are not classes or images;
 * - only .png, .jpg and .jpeg (any case) are images: the decoders read PNG and JPEG only;
 * - a class folder with no image is a class with no item, not an error;
 * - a folder that cannot be read is an error naming it (os.walk skips it silently);
 * - the walk is base/folder-walk.h's: a symbolic link to a class folder, the root or a
 *   folder above it is not followed (os.walk with followlinks=True loops until the path
 *   is too long, and a/loop -> .. would pull every class into class a), each folder is
 *   entered once and each file (by device and inode) is an item once, where it really
 *   is rather than where a link reached it; FIFOs, sockets and device files are not
 *   items (reading one would block or never end). What is left out is in skipped.
 */
#include "train/dataset.h"

#include "base/folder-walk.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "train/spec.h"   /* GRAFT_TRAIN_ERROR */

static void
item_clear (gpointer data)
{
  GraftDatasetItem *item = data;
  g_clear_pointer (&item->path, g_free);
}

static void
skip_clear (gpointer data)
{
  GraftDatasetSkip *skip = data;
  g_clear_pointer (&skip->path, g_free);
  g_clear_pointer (&skip->reason, g_free);
}

GraftDataset *
graft_dataset_new (void)
{
  GraftDataset *dataset = g_new0 (GraftDataset, 1);
  dataset->classes = g_ptr_array_new_with_free_func (g_free);
  dataset->items = g_array_new (FALSE, TRUE, sizeof (GraftDatasetItem));
  g_array_set_clear_func (dataset->items, item_clear);
  dataset->skipped = g_array_new (FALSE, TRUE, sizeof (GraftDatasetSkip));
  g_array_set_clear_func (dataset->skipped, skip_clear);
  return dataset;
}

void
graft_dataset_free (GraftDataset *dataset)
{
  if (dataset == NULL)
    return;
  g_ptr_array_unref (dataset->classes);
  g_array_unref (dataset->items);
  g_array_unref (dataset->skipped);
  g_free (dataset);
}

int
graft_dataset_add_class (GraftDataset *dataset, const char *name)
{
  g_return_val_if_fail (dataset != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);
  for (guint i = 0; i < dataset->classes->len; i++)
    if (strcmp (g_ptr_array_index (dataset->classes, i), name) == 0)
      return (int) i;
  g_ptr_array_add (dataset->classes, g_strdup (name));
  return (int) dataset->classes->len - 1;
}

void
graft_dataset_add (GraftDataset *dataset, const char *path, int label)
{
  g_return_if_fail (dataset != NULL);
  g_return_if_fail (path != NULL);
  g_return_if_fail (label >= -1 && (label == -1 || (guint) label < dataset->classes->len));
  GraftDatasetItem item = { g_strdup (path), label };
  g_array_append_val (dataset->items, item);
}

GraftDataset *
graft_dataset_copy (const GraftDataset *dataset, int max_label)
{
  GraftDataset *copy;

  if (dataset == NULL)
    return NULL;
  copy = graft_dataset_new ();
  for (guint c = 0; c < dataset->classes->len; c++)
    graft_dataset_add_class (copy, g_ptr_array_index (dataset->classes, c));
  for (guint i = 0; i < dataset->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      if (max_label == G_MAXINT || (item->label >= 0 && item->label < max_label))
        graft_dataset_add (copy, item->path, item->label);
    }
  return copy;
}

guint
graft_dataset_size (const GraftDataset *dataset)
{
  g_return_val_if_fail (dataset != NULL, 0);
  return dataset->items->len;
}

guint *
graft_dataset_class_counts (const GraftDataset *dataset)
{
  g_return_val_if_fail (dataset != NULL, NULL);
  guint *counts = g_new0 (guint, MAX (dataset->classes->len, 1));
  for (guint i = 0; i < dataset->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      if (item->label >= 0 && (guint) item->label < dataset->classes->len)
        counts[item->label]++;
    }
  return counts;
}

/* ImageFolder */

static gboolean
is_image_name (const char *name)
{
  const char *dot = strrchr (name, '.');
  if (dot == NULL)
    return FALSE;
  return g_ascii_strcasecmp (dot, ".png") == 0 || g_ascii_strcasecmp (dot, ".jpg") == 0
         || g_ascii_strcasecmp (dot, ".jpeg") == 0;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
set_folder_error (GError **error, const char *folder, const char *what)
{
  g_autofree char *display = g_filename_display_name (folder);
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA, "%s: %s", display, what);
}

/* The names in folder not starting with '.' that are folders (following symbolic links,
 * as os.scandir's is_dir() does), sorted by strcmp: the classes. */
static gboolean
list_folder (const char *folder, GPtrArray *folders, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) dir = g_dir_open (folder, 0, &local_error);
  if (dir == NULL)
    {
      g_autofree char *display = g_filename_display_name (folder);
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "%s: cannot read the folder: %s", display,
                   local_error->message);
      return FALSE;
    }
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (name[0] == '.')
        continue;
      g_autofree char *path = g_build_filename (folder, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_ptr_array_add (folders, g_strdup (name));
    }
  g_ptr_array_sort (folders, compare_strings);
  return TRUE;
}

static void
add_skip (GraftDataset *dataset, const char *path, const char *reason)
{
  GraftDatasetSkip skip = { g_strdup (path), g_strdup (reason) };
  g_array_append_val (dataset->skipped, skip);
}

/* The images of every class folder that exists, in one walk (base/folder-walk.h), so
 * that a link from one class into another, or back up to the root, cannot pull images
 * into the wrong class, and no file is an item twice. */
static gboolean
add_images (GraftDataset *dataset, const char *root, GError **error)
{
  g_autoptr (GraftFolderWalk) walk = graft_folder_walk_new ();
  graft_folder_walk_protect (walk, root);
  for (guint c = 0; c < dataset->classes->len; c++)
    {
      g_autofree char *class_folder = g_build_filename (root, g_ptr_array_index (dataset->classes, c), NULL);
      if (g_file_test (class_folder, G_FILE_TEST_IS_DIR))
        graft_folder_walk_add (walk, class_folder, (int) c);
      /* else a given class with no folder here: no item */
    }
  graft_folder_walk_run (walk);

  GArray *skipped = graft_folder_walk_skipped (walk);
  for (guint i = 0; i < skipped->len; i++)
    {
      const GraftWalkSkip *skip = &g_array_index (skipped, GraftWalkSkip, i);
      g_autofree char *base = g_path_get_basename (skip->path);
      switch (skip->kind)
        {
        case GRAFT_WALK_SKIP_UNREADABLE:
          if (S_ISDIR (skip->mode))
            {
              g_autofree char *display = g_filename_display_name (skip->path);
              g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_IO, "%s: cannot read the folder: %s", display,
                           g_strerror (skip->error_code));
              return FALSE;
            }
          if (is_image_name (base))
            add_skip (dataset, skip->path, skip->detail);
          break;
        case GRAFT_WALK_SKIP_DUPLICATE:
        case GRAFT_WALK_SKIP_BROKEN_LINK:
          /* Other files are not items anyway. */
          if (is_image_name (base))
            add_skip (dataset, skip->path, skip->detail);
          break;
        case GRAFT_WALK_SKIP_SPECIAL:
        case GRAFT_WALK_SKIP_LOOP:
        case GRAFT_WALK_SKIP_TOO_DEEP:
        default:
          add_skip (dataset, skip->path, skip->detail);
          break;
        }
    }

  GArray *files = graft_folder_walk_files (walk);
  for (guint i = 0; i < files->len; i++)
    {
      const GraftWalkFile *file = &g_array_index (files, GraftWalkFile, i);
      if (!is_image_name (file->name))
        continue;
      GraftDatasetItem item = { g_strdup (file->path), file->group };
      g_array_append_val (dataset->items, item);
    }
  return TRUE;
}

static gboolean
valid_class_name (const char *name)
{
  return name != NULL && name[0] != '\0' && strchr (name, G_DIR_SEPARATOR) == NULL && strcmp (name, ".") != 0
         && strcmp (name, "..") != 0;
}

GPtrArray *
graft_dataset_image_folder_classes (const char *root, GError **error)
{
  g_return_val_if_fail (root != NULL, NULL);
  g_autoptr (GPtrArray) folders = g_ptr_array_new_with_free_func (g_free);
  if (!list_folder (root, folders, error))
    return NULL;
  return g_steal_pointer (&folders);
}

GraftDataset *
graft_dataset_load_image_folder (const char *root, GPtrArray *classes, GError **error)
{
  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GPtrArray) folders = graft_dataset_image_folder_classes (root, error);
  if (folders == NULL)
    return NULL;

  g_autoptr (GraftDataset) dataset = graft_dataset_new ();
  if (classes == NULL)
    {
      if (folders->len == 0)
        {
          set_folder_error (error, root, "no class folder (an ImageFolder tree has one folder per class)");
          return NULL;
        }
      for (guint i = 0; i < folders->len; i++)
        g_ptr_array_add (dataset->classes, g_strdup (g_ptr_array_index (folders, i)));
    }
  else
    {
      if (classes->len == 0)
        {
          g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID, "%s: no class given", root);
          return NULL;
        }
      gboolean any = FALSE;
      for (guint i = 0; i < classes->len; i++)
        {
          const char *name = g_ptr_array_index (classes, i);
          if (!valid_class_name (name))
            {
              g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID,
                           "%s: “%s” cannot be the name of a class folder", root, name ? name : "(null)");
              return NULL;
            }
          if ((guint) graft_dataset_add_class (dataset, name) != i)
            {
              g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_INVALID, "%s: class “%s” given twice", root,
                           name);
              return NULL;
            }
          g_autofree char *path = g_build_filename (root, name, NULL);
          any = any || g_file_test (path, G_FILE_TEST_IS_DIR);
        }
      if (!any)
        {
          set_folder_error (error, root, "none of the given classes has a folder here");
          return NULL;
        }
    }

  if (!add_images (dataset, root, error))
    return NULL;
  return g_steal_pointer (&dataset);
}

/* The split */

static guint64
splitmix64 (guint64 x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* FNV-1a 64 of the last two components of the path ("class/image.png"), then mixed
 * with the seed through splitmix64 (FNV-1a alone has weak high bits for short strings,
 * and the comparison uses the high bits). Only the end of the path counts, so the same
 * folder splits the same way wherever it is and however it was named ("data",
 * "./data", an absolute path). */
static guint64
split_hash (guint64 seed, const char *path)
{
  guint64 h = 0xcbf29ce484222325ull;
  const char *start = path + strlen (path);
  int separators = 0;
  while (start > path && separators < 2)
    {
      start--;
      if (*start == G_DIR_SEPARATOR && ++separators == 2)
        start++;
    }
  for (const unsigned char *p = (const unsigned char *) start; *p != '\0'; p++)
    {
      h ^= *p;
      h *= 0x100000001b3ull;
    }
  return splitmix64 (h ^ splitmix64 (seed));
}

static GraftDataset *
dataset_with_classes (const GraftDataset *dataset)
{
  GraftDataset *copy = graft_dataset_new ();
  for (guint i = 0; i < dataset->classes->len; i++)
    g_ptr_array_add (copy->classes, g_strdup (g_ptr_array_index (dataset->classes, i)));
  return copy;
}

void
graft_dataset_split (const GraftDataset *dataset, float validation_fraction, guint64 seed,
                     GraftDataset **train, GraftDataset **validation)
{
  g_return_if_fail (dataset != NULL);

  /* An item goes to validation when its hash < fraction * 2^64. */
  double fraction = validation_fraction;
  gboolean none = !(fraction > 0.0);   /* NaN too */
  gboolean all = fraction >= 1.0;
  guint64 threshold = (none || all) ? 0 : (guint64) ldexp (fraction, 64);

  GraftDataset *train_set = dataset_with_classes (dataset);
  GraftDataset *validation_set = dataset_with_classes (dataset);
  for (guint i = 0; i < dataset->items->len; i++)
    {
      const GraftDatasetItem *item = &g_array_index (dataset->items, GraftDatasetItem, i);
      if (item->label < 0)
        continue;
      gboolean to_validation = all || (!none && split_hash (seed, item->path) < threshold);
      GraftDatasetItem copy = { g_strdup (item->path), item->label };
      g_array_append_val ((to_validation ? validation_set : train_set)->items, copy);
    }
  if (train != NULL)
    *train = train_set;
  else
    graft_dataset_free (train_set);
  if (validation != NULL)
    *validation = validation_set;
  else
    graft_dataset_free (validation_set);
}
