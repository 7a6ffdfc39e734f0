/* graft-project-object.c: an open project as the app sees it (see graft-project-object.h).
 *
 * Three kinds of object live here:
 *   GraftClassItem      one class, updated in place when the store's classes change
 *   GraftImageList      (private) a GListModel over the ids of one filter; its rows are
 *                       made from the store a page at a time when asked for
 *   GraftProjectObject  the project: the store, the live items, the thumbnails, the
 *                       datasets handed to the session, the session's spec stored
 *                       after each change, and the runs of its training recorded
 *
 * Every live GraftImageItem is in one table (id -> item, weak), so the grid, Label next
 * and every list share one object per image, and a change refreshes each live item once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "graft-project-object.h"
#include "project/active.h"
#include "project/thumbnails.h"

#define IMAGE_PAGE 64              /* rows fetched from the store at once */
#define LIST_RECENT_ITEMS 256      /* items a list keeps alive after fetching them */
#define TEXTURE_CACHE_SIZE 600     /* thumbnails kept in memory */
#define DATASETS_DELAY_MS 300
#define SPEC_SAVE_DELAY_MS 400     /* the session's spec is stored this long after its last change */

/* ------------------------------------------------------------------------ */
/* GraftClassItem                                                            */

struct _GraftClassItem
{
  GObject parent_instance;

  gint64 id;
  char *name;
  char *colour;
  int position;
  guint count;
};

G_DEFINE_FINAL_TYPE (GraftClassItem, graft_class_item, G_TYPE_OBJECT)

enum { CLASS_PROP_0, CLASS_PROP_ID, CLASS_PROP_NAME, CLASS_PROP_COLOUR, CLASS_PROP_POSITION, CLASS_PROP_COUNT,
       CLASS_PROP_KEY, CLASS_N_PROPS };
static GParamSpec *class_properties[CLASS_N_PROPS];

static void
graft_class_item_finalize (GObject *object)
{
  GraftClassItem *self = GRAFT_CLASS_ITEM (object);

  g_free (self->name);
  g_free (self->colour);
  G_OBJECT_CLASS (graft_class_item_parent_class)->finalize (object);
}

static void
graft_class_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftClassItem *self = GRAFT_CLASS_ITEM (object);

  switch (prop_id)
    {
    case CLASS_PROP_ID: g_value_set_int64 (value, self->id); break;
    case CLASS_PROP_NAME: g_value_set_string (value, self->name); break;
    case CLASS_PROP_COLOUR: g_value_set_string (value, self->colour); break;
    case CLASS_PROP_POSITION: g_value_set_int (value, self->position); break;
    case CLASS_PROP_COUNT: g_value_set_uint (value, self->count); break;
    case CLASS_PROP_KEY: g_value_set_int (value, graft_class_item_get_key (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_class_item_class_init (GraftClassItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = graft_class_item_finalize;
  object_class->get_property = graft_class_item_get_property;

  class_properties[CLASS_PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, flags);
  class_properties[CLASS_PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  class_properties[CLASS_PROP_COLOUR] = g_param_spec_string ("colour", NULL, NULL, NULL, flags);
  class_properties[CLASS_PROP_POSITION] = g_param_spec_int ("position", NULL, NULL, 0, G_MAXINT, 0, flags);
  class_properties[CLASS_PROP_COUNT] = g_param_spec_uint ("count", NULL, NULL, 0, G_MAXUINT, 0, flags);
  class_properties[CLASS_PROP_KEY] = g_param_spec_int ("key", NULL, NULL, 0, 9, 0, flags);
  g_object_class_install_properties (object_class, CLASS_N_PROPS, class_properties);
}

static void
graft_class_item_init (GraftClassItem *self)
{
}

static GraftClassItem *
class_item_new (const GraftClass *klass)
{
  GraftClassItem *self = g_object_new (GRAFT_TYPE_CLASS_ITEM, NULL);

  self->id = klass->id;
  self->name = g_strdup (klass->name);
  self->colour = g_strdup (klass->colour);
  self->position = klass->position;
  self->count = klass->count;
  return self;
}

/* Takes klass's fields (same id); notifies what changed. TRUE when more than the count
 * changed (the name, the colour or the position). */
static gboolean
class_item_update (GraftClassItem *self, const GraftClass *klass)
{
  gboolean changed = FALSE;

  g_object_freeze_notify (G_OBJECT (self));
  if (g_strcmp0 (self->name, klass->name) != 0)
    {
      g_free (self->name);
      self->name = g_strdup (klass->name);
      g_object_notify_by_pspec (G_OBJECT (self), class_properties[CLASS_PROP_NAME]);
      changed = TRUE;
    }
  if (g_strcmp0 (self->colour, klass->colour) != 0)
    {
      g_free (self->colour);
      self->colour = g_strdup (klass->colour);
      g_object_notify_by_pspec (G_OBJECT (self), class_properties[CLASS_PROP_COLOUR]);
      changed = TRUE;
    }
  if (self->position != klass->position)
    {
      gboolean key_changed = (self->position < 9) != (klass->position < 9) || klass->position < 9;
      self->position = klass->position;
      g_object_notify_by_pspec (G_OBJECT (self), class_properties[CLASS_PROP_POSITION]);
      if (key_changed)
        g_object_notify_by_pspec (G_OBJECT (self), class_properties[CLASS_PROP_KEY]);
      changed = TRUE;
    }
  if (self->count != klass->count)
    {
      self->count = klass->count;
      g_object_notify_by_pspec (G_OBJECT (self), class_properties[CLASS_PROP_COUNT]);
    }
  g_object_thaw_notify (G_OBJECT (self));
  return changed;
}

gint64
graft_class_item_get_id (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), 0);
  return self->id;
}

const char *
graft_class_item_get_name (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), NULL);
  return self->name;
}

const char *
graft_class_item_get_colour (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), NULL);
  return self->colour;
}

int
graft_class_item_get_position (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), 0);
  return self->position;
}

guint
graft_class_item_get_count (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), 0);
  return self->count;
}

int
graft_class_item_get_key (GraftClassItem *self)
{
  g_return_val_if_fail (GRAFT_IS_CLASS_ITEM (self), 0);
  return self->position < 9 ? self->position + 1 : 0;
}

void
graft_class_item_get_rgba (GraftClassItem *self, GdkRGBA *rgba)
{
  g_return_if_fail (GRAFT_IS_CLASS_ITEM (self));
  if (self->colour == NULL || !gdk_rgba_parse (rgba, self->colour))
    *rgba = (GdkRGBA) { 0.6f, 0.6f, 0.6f, 1.f };
}

/* ------------------------------------------------------------------------ */
/* The project object: fields                                                */

struct _GraftProjectObject
{
  GObject parent_instance;

  GraftProject *project;
  GraftSession *session;

  GListStore *classes;            /* GraftClassItem */
  GHashTable *live_items;         /* image id -> GraftImageItem (weak) */
  GPtrArray *lists;               /* GraftImageList (weak) */

  GraftThumbnailer *thumbnailer;
  GHashTable *pending;            /* image id -> ThumbnailRequest (owned by the thumbnailer's job) */
  GHashTable *textures;           /* image id -> TextureEntry */
  GQueue texture_order;           /* gint64 * (the TextureEntry's), most recently used first */

  guint datasets_source;
  guint datasets_generation;
  GCancellable *cancellable;      /* cancelled on dispose */

  gulong spec_changed_id, model_changed_id;  /* on session */
  guint spec_save_source;
  GraftTraining *training;
  gulong state_id, finished_id, epoch_id;   /* on training */
  struct _Recording *recording;   /* the run going on */
  guint storing;                  /* runs that ended, being stored */
  gint64 resume_run_id;           /* the stored run the start under way continues, or 0 */
  int resume_epochs_done;
  GraftRunLock *resume_lock;      /* that run's lock (run-record.h), until its recording takes it */

  gboolean can_undo, can_redo;
};

G_DEFINE_FINAL_TYPE (GraftProjectObject, graft_project_object, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_SESSION, PROP_TRAINING, PROP_RECORDING, PROP_CAN_UNDO, PROP_CAN_REDO, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { CLASSES_CHANGED, LABELS_CHANGED, IMAGES_CHANGED, RUNS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* What a change may have touched besides the classes (refresh_classes finds whether
 * they changed). */
typedef enum {
  CHANGED_CLASSES_ONLY = 0,
  CHANGED_LABELS = 1 << 0,
  CHANGED_IMAGES = 1 << 1,
  CHANGED_PREDICTIONS = 1 << 2,   /* the lists and signals of labels, not the datasets */
  CHANGED_ALL = CHANGED_LABELS | CHANGED_IMAGES,
} Changes;

static void register_item (GraftProjectObject *self, GraftImageItem *item);
static GraftImageItem *live_lookup (GraftProjectObject *self, gint64 id);
static void refresh_item (GraftProjectObject *self, GraftImageItem *item, const GraftImageInfo *info);
static void schedule_datasets (GraftProjectObject *self);

/* ------------------------------------------------------------------------ */
/* GraftImageList: a filter's images, fetched as they are asked for           */

#define GRAFT_TYPE_IMAGE_LIST (graft_image_list_get_type ())
G_DECLARE_FINAL_TYPE (GraftImageList, graft_image_list, GRAFT, IMAGE_LIST, GObject)

struct _GraftImageList
{
  GObject parent_instance;

  GraftProjectObject *owner;      /* strong */
  GraftImageQuery query;
  GArray *ids;                    /* gint64, increasing */
  GQueue recent;                  /* GraftImageItem (strong), newest first */
};

static void graft_image_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GraftImageList, graft_image_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, graft_image_list_model_init))

static void
graft_image_list_finalize (GObject *object)
{
  GraftImageList *self = GRAFT_IMAGE_LIST (object);

  g_queue_clear_full (&self->recent, g_object_unref);
  g_clear_pointer (&self->ids, g_array_unref);
  if (self->owner != NULL)
    g_ptr_array_remove (self->owner->lists, self);
  g_clear_object (&self->owner);
  G_OBJECT_CLASS (graft_image_list_parent_class)->finalize (object);
}

static void
graft_image_list_class_init (GraftImageListClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = graft_image_list_finalize;
}

static void
graft_image_list_init (GraftImageList *self)
{
  g_queue_init (&self->recent);
}

static GType
graft_image_list_get_item_type (GListModel *model)
{
  return GRAFT_TYPE_IMAGE_ITEM;
}

static guint
graft_image_list_get_n_items (GListModel *model)
{
  return GRAFT_IMAGE_LIST (model)->ids->len;
}

static void
list_keep (GraftImageList *self, GraftImageItem *item)
{
  g_queue_push_head (&self->recent, g_object_ref (item));
  while (self->recent.length > LIST_RECENT_ITEMS)
    g_object_unref (g_queue_pop_tail (&self->recent));
}

static gpointer
graft_image_list_get_item (GListModel *model, guint position)
{
  GraftImageList *self = GRAFT_IMAGE_LIST (model);
  GraftProjectObject *owner = self->owner;
  g_autoptr (GArray) rows = NULL;
  GraftImageItem *item;
  gint64 id;

  if (position >= self->ids->len)
    return NULL;
  id = g_array_index (self->ids, gint64, position);
  item = live_lookup (owner, id);
  if (item != NULL)
    return g_object_ref (item);

  /* Not alive: fetch the page that starts here, so that the rows scrolling in next are
   * ready too. */
  rows = graft_project_query_images (owner->project, &self->query,
                                     position > 0 ? g_array_index (self->ids, gint64, position - 1) : 0, IMAGE_PAGE,
                                     NULL);
  for (guint i = 0; rows != NULL && i < rows->len; i++)
    {
      const GraftImageInfo *info = &g_array_index (rows, GraftImageInfo, i);
      GraftImageItem *row;

      if (g_hash_table_contains (owner->live_items, &info->id))
        continue;
      row = graft_image_item_new (info);
      register_item (owner, row);
      refresh_item (owner, row, info);
      list_keep (self, row);
      g_object_unref (row);
    }
  item = live_lookup (owner, id);
  if (item != NULL)
    return g_object_ref (item);
  /* The store changed under the list (the refresh is on its way): make the row alone. */
  item = graft_project_object_get_image (owner, id);
  if (item == NULL)
    {
      GraftImageInfo gone = { .id = id, .path = (char *) "" };
      item = graft_image_item_new (&gone);
      graft_image_item_set_thumbnail_failed (item, TRUE);
    }
  return item;
}

static void
graft_image_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = graft_image_list_get_item_type;
  iface->get_n_items = graft_image_list_get_n_items;
  iface->get_item = graft_image_list_get_item;
}

typedef struct {
  guint position, removed, added;
} Run;

/* Reads the ids again and tells the views only where rows came or went: both arrays
 * are in id order, so a merge finds the runs. During each items-changed the model is
 * already what it says (the runs before it applied, the ones after not yet). */
static void
graft_image_list_refresh (GraftImageList *self)
{
  g_autoptr (GArray) fresh = graft_project_query_ids (self->owner->project, &self->query, NULL);
  g_autoptr (GArray) runs = g_array_new (FALSE, FALSE, sizeof (Run));
  const gint64 *old_ids, *new_ids;
  guint n_old, n_new, i = 0, j = 0;

  if (fresh == NULL)
    return;
  old_ids = (const gint64 *) (gpointer) self->ids->data;
  new_ids = (const gint64 *) (gpointer) fresh->data;
  n_old = self->ids->len;
  n_new = fresh->len;
  while (i < n_old || j < n_new)
    {
      Run run = { j, 0, 0 };

      if (i < n_old && j < n_new && old_ids[i] == new_ids[j])
        {
          i++, j++;
          continue;
        }
      while ((i < n_old || j < n_new) && !(i < n_old && j < n_new && old_ids[i] == new_ids[j]))
        {
          if (j >= n_new || (i < n_old && old_ids[i] < new_ids[j]))
            i++, run.removed++;
          else
            j++, run.added++;
        }
      g_array_append_val (runs, run);
    }
  if (runs->len == 0)
    return;
  if (runs->len > 32)
    {
      GArray *previous = self->ids;
      self->ids = g_steal_pointer (&fresh);
      g_array_unref (previous);
      g_list_model_items_changed (G_LIST_MODEL (self), 0, n_old, n_new);
      return;
    }
  for (guint r = 0; r < runs->len; r++)
    {
      const Run *run = &g_array_index (runs, Run, r);
      if (run->removed > 0)
        g_array_remove_range (self->ids, run->position, run->removed);
      if (run->added > 0)
        g_array_insert_vals (self->ids, run->position, new_ids + run->position, run->added);
      g_list_model_items_changed (G_LIST_MODEL (self), run->position, run->removed, run->added);
    }
}

/* ------------------------------------------------------------------------ */
/* Live items                                                                */

/* One entry of live_items: the item (weak) and what its weak-ref callback needs. */
typedef struct {
  GraftProjectObject *owner;
  GraftImageItem *item;
  gint64 id;
} LiveEntry;

static void
on_item_finalized (gpointer data, GObject *where_the_object_was)
{
  LiveEntry *entry = data;

  g_hash_table_remove (entry->owner->live_items, &entry->id);   /* frees entry */
}

static void
register_item (GraftProjectObject *self, GraftImageItem *item)
{
  LiveEntry *entry = g_new0 (LiveEntry, 1);

  entry->owner = self;
  entry->item = item;
  entry->id = graft_image_item_get_id (item);
  g_hash_table_insert (self->live_items, &entry->id, entry);
  g_object_weak_ref (G_OBJECT (item), on_item_finalized, entry);
}

static GraftImageItem *
live_lookup (GraftProjectObject *self, gint64 id)
{
  LiveEntry *entry = g_hash_table_lookup (self->live_items, &id);

  return entry != NULL ? entry->item : NULL;
}

typedef struct {
  GdkTexture *texture;
  GList *link;                    /* in texture_order; data points at id */
  gint64 id;
} TextureEntry;

static void
texture_entry_free (gpointer data)
{
  TextureEntry *entry = data;
  g_object_unref (entry->texture);
  g_free (entry);
}

/* Fills the item's label and suggestion names from the class list, and its thumbnail
 * from the cache when it is there. */
static void
refresh_item (GraftProjectObject *self, GraftImageItem *item, const GraftImageInfo *info)
{
  GraftClassItem *klass = info->class_id != 0 ? graft_project_object_find_class (self, info->class_id) : NULL;
  GraftClassItem *suggestion = info->suggestion != 0 ? graft_project_object_find_class (self, info->suggestion) : NULL;
  TextureEntry *entry;

  graft_image_item_update (item, info, klass != NULL ? klass->name : NULL, klass != NULL ? klass->colour : NULL,
                           suggestion != NULL ? suggestion->name : NULL, suggestion != NULL ? suggestion->colour : NULL);
  if (graft_image_item_get_paintable (item) == NULL
      && (entry = g_hash_table_lookup (self->textures, &info->id)) != NULL)
    graft_image_item_set_paintable (item, GDK_PAINTABLE (entry->texture));
}

static void
refresh_live_items (GraftProjectObject *self)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  /* Strong refs first: an update's handlers may drop the last other ref of an item. */
  g_hash_table_iter_init (&iter, self->live_items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (items, g_object_ref (((LiveEntry *) value)->item));
  for (guint i = 0; i < items->len; i++)
    {
      GraftImageItem *item = g_ptr_array_index (items, i);
      GraftImageInfo info;

      if (graft_project_get_image (self->project, graft_image_item_get_id (item), &info, NULL))
        {
          refresh_item (self, item, &info);
          graft_image_info_clear (&info);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Classes                                                                   */

/* Reads the classes again; TRUE when more than their counts changed. */
static gboolean
refresh_classes (GraftProjectObject *self)
{
  g_autoptr (GArray) classes = graft_project_list_classes (self->project, NULL);
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->classes));
  gboolean same_ids, changed = FALSE;

  if (classes == NULL)
    return FALSE;
  same_ids = n_old == classes->len;
  for (guint i = 0; same_ids && i < classes->len; i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (G_LIST_MODEL (self->classes), i);
      same_ids = item->id == g_array_index (classes, GraftClass, i).id;
    }
  if (same_ids)
    {
      /* Counts, names and colours: in place, so rows keep their objects. */
      for (guint i = 0; i < classes->len; i++)
        {
          g_autoptr (GraftClassItem) item = g_list_model_get_item (G_LIST_MODEL (self->classes), i);
          changed |= class_item_update (item, &g_array_index (classes, GraftClass, i));
        }
      return changed;
    }
  {
    /* Classes came, went or moved: reuse the objects of the classes that stay. */
    g_autoptr (GPtrArray) fresh = g_ptr_array_new_with_free_func (g_object_unref);
    for (guint i = 0; i < classes->len; i++)
      {
        const GraftClass *klass = &g_array_index (classes, GraftClass, i);
        GraftClassItem *item = graft_project_object_find_class (self, klass->id);
        if (item != NULL)
          {
            g_object_ref (item);
            class_item_update (item, klass);
          }
        else
          item = class_item_new (klass);
        g_ptr_array_add (fresh, item);
      }
    g_list_store_splice (self->classes, 0, n_old, fresh->pdata, fresh->len);
  }
  return TRUE;
}

GraftClassItem *
graft_project_object_find_class (GraftProjectObject *self, gint64 class_id)
{
  guint n;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->classes));
  for (guint i = 0; i < n; i++)
    {
      GraftClassItem *item = g_list_model_get_item (G_LIST_MODEL (self->classes), i);
      g_object_unref (item);   /* the store keeps it */
      if (item->id == class_id)
        return item;
    }
  return NULL;
}

GraftClassItem *
graft_project_object_get_class_for_key (GraftProjectObject *self, int key)
{
  GraftClassItem *item;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  if (key < 1 || key > 9 || (guint) key > g_list_model_get_n_items (G_LIST_MODEL (self->classes)))
    return NULL;
  item = g_list_model_get_item (G_LIST_MODEL (self->classes), key - 1);
  g_object_unref (item);
  return item;
}

char *
graft_project_object_get_class_css (GraftProjectObject *self)
{
  GString *css = g_string_new (NULL);
  guint n;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->classes));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GraftClassItem) item = g_list_model_get_item (G_LIST_MODEL (self->classes), i);
      GdkRGBA rgba;
      double luminance;
      g_autofree char *colour = NULL;

      graft_class_item_get_rgba (item, &rgba);
      colour = gdk_rgba_to_string (&rgba);
      /* Relative luminance (sRGB, roughly): dark text on light colours. */
      luminance = 0.2126 * rgba.red + 0.7152 * rgba.green + 0.0722 * rgba.blue;
      g_string_append_printf (css,
                              ".graft-class-%" G_GINT64_FORMAT " { background-color: %s; color: %s; }\n"
                              ".graft-suggest-%" G_GINT64_FORMAT " { border-color: %s; }\n",
                              item->id, colour, luminance > 0.55 ? "rgba(0, 0, 0, 0.8)" : "#ffffff", item->id, colour);
    }
  return g_string_free (css, FALSE);
}

GListModel *
graft_project_object_get_classes (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return G_LIST_MODEL (self->classes);
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                   */

static void
update_undo_state (GraftProjectObject *self)
{
  gboolean can_undo = graft_project_can_undo (self->project);
  gboolean can_redo = graft_project_can_redo (self->project);

  if (can_undo != self->can_undo)
    {
      self->can_undo = can_undo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
    }
  if (can_redo != self->can_redo)
    {
      self->can_redo = can_redo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
    }
}

/* Whether a list's rows may have come or gone: All images changes with the images
 * alone, every other filter with the labels (or predictions) too. */
static gboolean
list_may_change (GraftImageList *list, Changes changes)
{
  if (changes & CHANGED_IMAGES)
    return TRUE;
  return (changes & (CHANGED_LABELS | CHANGED_PREDICTIONS)) && list->query.filter != GRAFT_FILTER_ALL;
}

/* After every change: classes (their counts follow labels), live items, the lists the
 * change may touch, then the signals (::classes-changed only when more than counts
 * changed), the undo state and the datasets. */
static void
emit_changes (GraftProjectObject *self, Changes changes)
{
  gboolean classes_changed;

  g_object_ref (self);
  classes_changed = refresh_classes (self);
  refresh_live_items (self);
  {
    g_autoptr (GPtrArray) lists = g_ptr_array_new_with_free_func (g_object_unref);
    for (guint i = 0; i < self->lists->len; i++)
      if (list_may_change (g_ptr_array_index (self->lists, i), changes))
        g_ptr_array_add (lists, g_object_ref (g_ptr_array_index (self->lists, i)));
    for (guint i = 0; i < lists->len; i++)
      graft_image_list_refresh (g_ptr_array_index (lists, i));
  }
  if (classes_changed)
    g_signal_emit (self, signals[CLASSES_CHANGED], 0);
  if (changes & (CHANGED_LABELS | CHANGED_PREDICTIONS))
    g_signal_emit (self, signals[LABELS_CHANGED], 0);
  if (changes & CHANGED_IMAGES)
    g_signal_emit (self, signals[IMAGES_CHANGED], 0);
  update_undo_state (self);
  /* Stored predictions change no label, split or class: the datasets stay as they are. */
  if (changes != CHANGED_PREDICTIONS)
    schedule_datasets (self);
  g_object_unref (self);
}

gboolean
graft_project_object_set_labels (GraftProjectObject *self, const gint64 *image_ids, guint n_images, gint64 class_id,
                                 GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (n_images == 0)
    return TRUE;
  if (!graft_project_set_labels (self->project, image_ids, n_images, class_id, GRAFT_LABEL_PERSON, error))
    return FALSE;
  emit_changes (self, CHANGED_LABELS);
  return TRUE;
}

gboolean
graft_project_object_accept_suggestions (GraftProjectObject *self, const gint64 *image_ids, guint n_images,
                                         guint *accepted, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_accept_suggestions (self->project, image_ids, n_images, accepted, error))
    return FALSE;
  emit_changes (self, CHANGED_LABELS);
  return TRUE;
}

gboolean
graft_project_object_remove_images (GraftProjectObject *self, const gint64 *image_ids, guint n_images,
                                    GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_remove_images (self->project, image_ids, n_images, error))
    return FALSE;
  emit_changes (self, CHANGED_ALL);
  return TRUE;
}

gint64
graft_project_object_add_class (GraftProjectObject *self, const char *name, const char *colour, GError **error)
{
  gint64 id;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), 0);

  id = graft_project_add_class (self->project, name, colour, error);
  if (id != 0)
    emit_changes (self, CHANGED_CLASSES_ONLY);
  return id;
}

gboolean
graft_project_object_rename_class (GraftProjectObject *self, gint64 class_id, const char *name, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_rename_class (self->project, class_id, name, error))
    return FALSE;
  emit_changes (self, CHANGED_CLASSES_ONLY);
  return TRUE;
}

gboolean
graft_project_object_recolour_class (GraftProjectObject *self, gint64 class_id, const char *colour, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_recolour_class (self->project, class_id, colour, error))
    return FALSE;
  emit_changes (self, CHANGED_CLASSES_ONLY);
  return TRUE;
}

gboolean
graft_project_object_move_class (GraftProjectObject *self, gint64 class_id, int position, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_move_class (self->project, class_id, position, error))
    return FALSE;
  emit_changes (self, CHANGED_CLASSES_ONLY);
  return TRUE;
}

gboolean
graft_project_object_merge_classes (GraftProjectObject *self, gint64 source_id, gint64 target_id, guint *moved,
                                    GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_merge_classes (self->project, source_id, target_id, moved, error))
    return FALSE;
  emit_changes (self, CHANGED_LABELS);
  return TRUE;
}

gboolean
graft_project_object_delete_class (GraftProjectObject *self, gint64 class_id, guint *labels_removed, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_delete_class (self->project, class_id, labels_removed, error))
    return FALSE;
  emit_changes (self, CHANGED_LABELS);
  return TRUE;
}

gboolean
graft_project_object_get_can_undo (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);
  return self->can_undo;
}

gboolean
graft_project_object_get_can_redo (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);
  return self->can_redo;
}

char *
graft_project_object_get_undo_description (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return graft_project_undo_description (self->project);
}

char *
graft_project_object_get_redo_description (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return graft_project_redo_description (self->project);
}

gboolean
graft_project_object_undo (GraftProjectObject *self, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_undo (self->project, error))
    return FALSE;
  emit_changes (self, CHANGED_ALL);
  return TRUE;
}

gboolean
graft_project_object_redo (GraftProjectObject *self, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_redo (self->project, error))
    return FALSE;
  emit_changes (self, CHANGED_ALL);
  return TRUE;
}

gboolean
graft_project_object_set_predictions (GraftProjectObject *self, const GraftPrediction *predictions, guint n,
                                      GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (!graft_project_set_predictions (self->project, 0, predictions, n, error))
    return FALSE;
  emit_changes (self, CHANGED_LABELS);
  return TRUE;
}

typedef struct {
  GraftProject *project;   /* a reference on the object keeps it open */
  GBytes *model;           /* ONNX */
  GPtrArray *classes;
  GraftPreprocessing preprocessing;
  guint stored;
} PredictTask;

static void
predict_task_free (gpointer data)
{
  PredictTask *t = data;
  g_bytes_unref (t->model);
  g_ptr_array_unref (t->classes);
  g_free (t);
}

static void
predict_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PredictTask *t = task_data;
  GError *error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (t->model, &size);
  /* A model of its own: the caller's may be freed by its next run meanwhile. */
  g_autoptr (GraftModel) model = graft_model_load_from_data (data, size, NULL, "the trained model", &error);

  graft_training_apply_threads ();   /* the "threads" setting, for this thread's OpenMP */
  if (model == NULL
      || !graft_active_project_predict (t->project, 0, model, t->classes, &t->preprocessing, cancellable,
                                     &t->stored, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_predicted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (source);
  GTask *outer = user_data;
  GError *error = NULL;

  /* Whatever was stored before a failure shows too. */
  emit_changes (self, CHANGED_PREDICTIONS);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (outer, error);
  else
    g_task_return_boolean (outer, TRUE);
  g_object_unref (outer);
}

void
graft_project_object_predict_async (GraftProjectObject *self, GBytes *model, GPtrArray *classes,
                                    const GraftPreprocessing *preprocessing, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GTask *outer;
  PredictTask *t;

  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (model != NULL && classes != NULL && preprocessing != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, graft_project_object_predict_async);
  t = g_new0 (PredictTask, 1);
  t->project = self->project;
  t->model = g_bytes_ref (model);
  t->classes = g_ptr_array_new_with_free_func (g_free);
  for (guint c = 0; c < classes->len; c++)
    g_ptr_array_add (t->classes, g_strdup (g_ptr_array_index (classes, c)));
  t->preprocessing = *preprocessing;
  g_task_set_task_data (outer, t, predict_task_free);
  task = g_task_new (self, cancellable, on_predicted, outer);
  g_task_set_task_data (task, t, NULL);
  g_task_run_in_thread (task, predict_thread);
}

gboolean
graft_project_object_predict_finish (GraftProjectObject *self, GAsyncResult *result, guint *stored, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  if (stored != NULL)
    *stored = ((PredictTask *) g_task_get_task_data (G_TASK (result)))->stored;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Images                                                                    */

GListModel *
graft_project_object_list_images (GraftProjectObject *self, GraftImageFilter filter, gint64 class_id)
{
  GraftImageList *list;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);

  list = g_object_new (GRAFT_TYPE_IMAGE_LIST, NULL);
  list->owner = g_object_ref (self);
  list->query.filter = filter;
  list->query.class_id = class_id;
  list->ids = graft_project_query_ids (self->project, &list->query, NULL);
  if (list->ids == NULL)
    list->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_ptr_array_add (self->lists, list);
  return G_LIST_MODEL (list);
}

guint
graft_project_object_count_images (GraftProjectObject *self, GraftImageFilter filter, gint64 class_id)
{
  GraftImageQuery query = { .filter = filter, .class_id = class_id };

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), 0);
  return graft_project_count_images (self->project, &query, NULL);
}

GraftImageItem *
graft_project_object_get_image (GraftProjectObject *self, gint64 image_id)
{
  GraftImageItem *item;
  GraftImageInfo info;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);

  item = live_lookup (self, image_id);
  if (item != NULL)
    return g_object_ref (item);
  if (!graft_project_get_image (self->project, image_id, &info, NULL))
    return NULL;
  item = graft_image_item_new (&info);
  register_item (self, item);
  refresh_item (self, item, &info);
  graft_image_info_clear (&info);
  return item;
}

/* ------------------------------------------------------------------------ */
/* Thumbnails                                                                */

typedef struct {
  GWeakRef owner;
  gint64 id;
  GCancellable *cancellable;
} ThumbnailRequest;

static void
thumbnail_request_free (ThumbnailRequest *request)
{
  g_weak_ref_clear (&request->owner);
  g_clear_object (&request->cancellable);
  g_free (request);
}

/* Thumbnails of tiny images (MNIST-size) are enlarged without smoothing: the grid then
 * shows their pixels, not a blur. */
#define THUMBNAIL_MIN_SIDE 96

static GdkTexture *
texture_from_image (GraftImage *image)
{
  int side = MAX (image->width, image->height);
  int factor = (2 * THUMBNAIL_MIN_SIDE + side - 1) / side;

  if (side < THUMBNAIL_MIN_SIDE && factor >= 2)
    {
      GraftImage *large = graft_image_enlarge_nearest (image, factor);
      if (large != NULL)
        {
          graft_image_free (image);
          image = large;
        }
    }
  return graft_texture_new_for_image (image);
}

static void
cache_texture (GraftProjectObject *self, gint64 id, GdkTexture *texture)
{
  TextureEntry *entry = g_hash_table_lookup (self->textures, &id);

  if (entry != NULL)
    {
      g_set_object (&entry->texture, texture);
      g_queue_unlink (&self->texture_order, entry->link);
      g_queue_push_head_link (&self->texture_order, entry->link);
      return;
    }
  entry = g_new0 (TextureEntry, 1);
  entry->id = id;
  entry->texture = g_object_ref (texture);
  g_queue_push_head (&self->texture_order, &entry->id);
  entry->link = self->texture_order.head;
  g_hash_table_insert (self->textures, &entry->id, entry);
  while (self->texture_order.length > TEXTURE_CACHE_SIZE)
    {
      gint64 *oldest = g_queue_pop_tail (&self->texture_order);
      g_hash_table_remove (self->textures, oldest);
    }
}

static void
on_thumbnail_ready (GraftImage *thumbnail, const char *cache_path, const GError *error, gpointer user_data)
{
  ThumbnailRequest *request = user_data;
  g_autoptr (GraftProjectObject) self = g_weak_ref_get (&request->owner);

  if (self != NULL && !g_cancellable_is_cancelled (request->cancellable))
    {
      GraftImageItem *item = live_lookup (self, request->id);

      if (g_hash_table_lookup (self->pending, &request->id) == request)
        g_hash_table_remove (self->pending, &request->id);
      if (thumbnail != NULL)
        {
          g_autoptr (GdkTexture) texture = texture_from_image (g_steal_pointer (&thumbnail));
          cache_texture (self, request->id, texture);
          if (item != NULL)
            graft_image_item_set_paintable (item, GDK_PAINTABLE (texture));
        }
      else if (item != NULL)
        {
          g_debug ("No thumbnail for image %" G_GINT64_FORMAT ": %s", request->id,
                   error != NULL ? error->message : "unknown error");
          graft_image_item_set_thumbnail_failed (item, TRUE);
        }
    }
  if (thumbnail != NULL)
    graft_image_free (thumbnail);
  thumbnail_request_free (request);
}

void
graft_project_object_load_thumbnail (GraftProjectObject *self, GraftImageItem *item)
{
  ThumbnailRequest *request;
  TextureEntry *entry;
  gint64 id;

  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (GRAFT_IS_IMAGE_ITEM (item));

  id = graft_image_item_get_id (item);
  if (graft_image_item_get_paintable (item) != NULL || graft_image_item_get_thumbnail_failed (item)
      || g_hash_table_contains (self->pending, &id))
    return;
  if ((entry = g_hash_table_lookup (self->textures, &id)) != NULL)
    {
      g_queue_unlink (&self->texture_order, entry->link);
      g_queue_push_head_link (&self->texture_order, entry->link);
      graft_image_item_set_paintable (item, GDK_PAINTABLE (entry->texture));
      return;
    }
  if (self->thumbnailer == NULL || graft_image_item_get_path (item)[0] == '\0')
    return;
  request = g_new0 (ThumbnailRequest, 1);
  g_weak_ref_init (&request->owner, self);
  request->id = id;
  request->cancellable = g_cancellable_new ();
  g_hash_table_insert (self->pending, g_memdup2 (&id, sizeof id), request);
  graft_thumbnailer_request (self->thumbnailer, graft_image_item_get_path (item), graft_image_item_get_hash (item),
                             GRAFT_THUMBNAIL_SIZE, request->cancellable, on_thumbnail_ready, request);
}

void
graft_project_object_cancel_thumbnail (GraftProjectObject *self, GraftImageItem *item)
{
  ThumbnailRequest *request;
  gint64 id;

  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (GRAFT_IS_IMAGE_ITEM (item));

  id = graft_image_item_get_id (item);
  request = g_hash_table_lookup (self->pending, &id);
  if (request == NULL)
    return;
  /* The job still runs its callback (cancelled), which frees the request. */
  g_cancellable_cancel (request->cancellable);
  g_hash_table_remove (self->pending, &id);
}

/* ------------------------------------------------------------------------ */
/* Datasets for the session                                                  */

typedef struct {
  GraftDataset *train;
  GraftDataset *validation;
} Datasets;

static void
datasets_free (gpointer data)
{
  Datasets *datasets = data;
  g_clear_pointer (&datasets->train, graft_dataset_free);
  g_clear_pointer (&datasets->validation, graft_dataset_free);
  g_free (datasets);
}

static Datasets *
build_datasets (GraftProject *project, GError **error)
{
  Datasets *datasets = g_new0 (Datasets, 1);

  /* graft_project_dataset assigns the splits of new labels first. */
  datasets->train = graft_project_dataset (project, GRAFT_SPLIT_TRAIN, error);
  if (datasets->train == NULL)
    goto fail;
  datasets->validation = graft_project_dataset (project, GRAFT_SPLIT_VALIDATION, error);
  if (datasets->validation == NULL)
    goto fail;
  return datasets;

fail:
  datasets_free (datasets);
  return NULL;
}

static void
build_datasets_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GraftProject *project = task_data;
  GError *error = NULL;
  Datasets *datasets = build_datasets (project, &error);

  if (datasets == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, datasets, datasets_free);
}

static void
hand_datasets (GraftProjectObject *self, Datasets *datasets)
{
  if (self->session == NULL)
    return;
  graft_session_set_datasets (self->session, g_steal_pointer (&datasets->train),
                              g_steal_pointer (&datasets->validation));
}

static void
on_datasets_built (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (source);
  guint generation = GPOINTER_TO_UINT (user_data);
  g_autoptr (GError) error = NULL;
  Datasets *datasets = g_task_propagate_pointer (G_TASK (result), &error);

  if (datasets == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot build the datasets of %s: %s", graft_project_get_folder (self->project), error->message);
      return;
    }
  /* A newer change started another build: its datasets will do. */
  if (generation == self->datasets_generation)
    hand_datasets (self, datasets);
  datasets_free (datasets);
}

static gboolean
on_datasets_timeout (gpointer user_data)
{
  GraftProjectObject *self = user_data;
  g_autoptr (GTask) task = NULL;

  self->datasets_source = 0;
  if (self->session == NULL)
    return G_SOURCE_REMOVE;
  task = g_task_new (self, self->cancellable, on_datasets_built, GUINT_TO_POINTER (++self->datasets_generation));
  g_task_set_source_tag (task, on_datasets_timeout);
  g_task_set_task_data (task, self->project, NULL);   /* the task holds self, which holds the project */
  g_task_run_in_thread (task, build_datasets_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_datasets (GraftProjectObject *self)
{
  if (self->session == NULL)
    return;
  g_clear_handle_id (&self->datasets_source, g_source_remove);
  self->datasets_source = g_timeout_add (DATASETS_DELAY_MS, on_datasets_timeout, self);
  g_source_set_name_by_id (self->datasets_source, "[graft] project datasets");
}

/* ------------------------------------------------------------------------ */
/* Imports                                                                   */

typedef struct {
  GraftImportKind kind;
  char **paths;
  gint64 class_id;
} ImportData;

static void
import_data_free (gpointer data)
{
  ImportData *import = data;
  g_strfreev (import->paths);
  g_free (import);
}

static void
import_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GraftProjectObject *self = source;
  ImportData *import = task_data;
  GraftImportOptions options = { GRAFT_IMPORT_REFERENCE, GRAFT_HASH_AUTO, cancellable };
  GError *error = NULL;
  GraftImportReport *report = NULL;

  switch (import->kind)
    {
    case GRAFT_IMPORT_KIND_FOLDER:
      report = graft_import_folder (self->project, import->paths[0], &options, &error);
      break;
    case GRAFT_IMPORT_KIND_IMAGE_FOLDER:
      report = graft_import_image_folder (self->project, import->paths[0], &options, &error);
      break;
    case GRAFT_IMPORT_KIND_CSV:
      report = graft_import_csv (self->project, import->paths[0], &options, &error);
      break;
    case GRAFT_IMPORT_KIND_FILES:
      report = graft_import_files (self->project, (const char *const *) import->paths,
                                   g_strv_length (import->paths), import->class_id, &options, &error);
      break;
    case GRAFT_IMPORT_KIND_TEACHABLE_MACHINE:
      report = graft_import_teachable_machine (self->project, import->paths[0], &options, &error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (report == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, report, (GDestroyNotify) graft_import_report_free);
}

static void
on_import_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (source);
  GTask *outer = user_data;
  GError *error = NULL;
  GraftImportReport *report = g_task_propagate_pointer (G_TASK (result), &error);

  if (report != NULL)
    {
      if (report->added > 0 || report->labelled > 0 || report->classes_added > 0)
        emit_changes (self, CHANGED_ALL);
      if (report->hash_pending > 0)
        graft_project_start_hashing (self->project);
      g_task_return_pointer (outer, report, (GDestroyNotify) graft_import_report_free);
    }
  else
    g_task_return_error (outer, error);
  g_object_unref (outer);
}

void
graft_project_object_import_async (GraftProjectObject *self, GraftImportKind kind, const char *const *paths,
                                   gint64 class_id, GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *outer, *inner;
  ImportData *import;

  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (paths != NULL && paths[0] != NULL);

  /* The worker's task returns to on_import_done, which emits the signals on the main
   * thread before the caller's callback runs. */
  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, graft_project_object_import_async);
  import = g_new0 (ImportData, 1);
  import->kind = kind;
  import->paths = g_strdupv ((char **) paths);
  import->class_id = class_id;
  inner = g_task_new (self, cancellable, on_import_done, outer);
  g_task_set_task_data (inner, import, import_data_free);
  g_task_set_return_on_cancel (inner, FALSE);
  g_task_run_in_thread (inner, import_thread);
  g_object_unref (inner);
}

GraftImportReport *
graft_project_object_import_finish (GraftProjectObject *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* The session's spec, stored                                                */

static void
save_spec_now (GraftProjectObject *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;

  g_clear_handle_id (&self->spec_save_source, g_source_remove);
  if (self->session == NULL || graft_project_is_read_only (self->project))
    return;
  json = graft_session_spec_to_json (graft_session_get_spec (self->session));
  if (!graft_project_set_session_spec (self->project, json, &error))
    g_warning ("%s", error->message);
}

static gboolean
on_spec_save_timeout (gpointer data)
{
  GraftProjectObject *self = data;

  self->spec_save_source = 0;
  save_spec_now (self);
  return G_SOURCE_REMOVE;
}

/* What the session holds now is stored at once, for a process that reads the project
 * next (graft-cli recipe), whatever the delay. */
void
graft_project_object_save_spec (GraftProjectObject *self)
{
  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  save_spec_now (self);
}

static void
on_session_spec_changed (GraftProjectObject *self)
{
  g_clear_handle_id (&self->spec_save_source, g_source_remove);
  self->spec_save_source = g_timeout_add (SPEC_SAVE_DELAY_MS, on_spec_save_timeout, self);
  g_source_set_name_by_id (self->spec_save_source, "[graft] project spec");
}

/* ------------------------------------------------------------------------ */
/* Runs, recorded                                                            */

/* What a run started with (the session may change while it trains), and then what it
 * left, handed to the thread that stores it. */
typedef struct _Recording {
  gint64 run_id;                  /* 0: the store refused it (read-only) */
  char *spec_json;
  GPtrArray *classes;             /* char * */
  GraftDataset *validation;       /* NULL without validation images */
  GraftPreprocessing preprocessing;
  gint64 started;                 /* monotonic */
  gint64 stored_steps;            /* its points up to this step are stored (epochs ended, or a
                                   * resumed run's checkpoint) */
  /* At the end. */
  GraftRunRecord record;          /* points to the fields below */
  GraftMetrics *metrics;
  GArray *points;                 /* GraftMetricPoint (names static) */
  guint predicted;                /* images given a prediction after the run */
  GraftRunLock *lock;             /* no other process trains the run until it is stored */
  gint64 part;                    /* this part of the run (a resumed run has several), or 0 */
} Recording;

static void
recording_free (Recording *r)
{
  g_free (r->spec_json);
  g_clear_pointer (&r->classes, g_ptr_array_unref);
  g_clear_pointer (&r->validation, graft_dataset_free);
  g_clear_pointer (&r->record.model, g_bytes_unref);
  g_clear_pointer (&r->metrics, graft_metrics_free);
  g_clear_pointer (&r->points, g_array_unref);
  g_clear_pointer (&r->lock, graft_run_lock_release);
  g_free (r);
}

/* The training's series as the store keeps them (run-record.h: the same names). */
static GArray *
run_points (GraftTraining *training)
{
  g_autoptr (GraftRunCurves) curves = graft_run_curves_new ();

  for (guint i = 0; i < graft_run_n_series; i++)
    {
      GraftSeries *series = graft_training_get_series (training, graft_run_series_names[i]);
      guint n = series != NULL ? graft_series_get_length (series) : 0;
      const double *x = n > 0 ? graft_series_get_x (series) : NULL;
      const double *y = n > 0 ? graft_series_get_y (series) : NULL;

      for (guint k = 0; k < n; k++)
        graft_run_curves_add (curves, graft_run_series_names[i], x[k], y[k]);
    }
  return g_array_ref (graft_run_curves_get_points (curves));
}

static void
store_run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GraftProjectObject *self = source;
  Recording *r = task_data;
  GError *error = NULL;

  if (!graft_project_store_run (self->project, r->run_id, &r->record, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* The trained model's predictions of the project's images: the suggestions and
   * the active-learning queue (with the embeddings for its diversity step). */
  if (r->record.model != NULL && r->classes != NULL && r->classes->len > 0)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (r->record.model, &size);
      g_autoptr (GraftModel) model = graft_model_load_from_data (data, size, NULL, "the trained model", &error);

      graft_training_apply_threads ();
      if (model == NULL
          || !graft_active_project_predict (self->project, r->run_id, model, r->classes, &r->preprocessing,
                                            cancellable, &r->predicted, &error))
        {
          g_warning ("No suggestions from run %" G_GINT64_FORMAT ": %s", r->run_id, error->message);
          g_clear_error (&error);
        }
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_run_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (source);
  Recording *r = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("Cannot store run %" G_GINT64_FORMAT ": %s", r->run_id, error->message);
  else if (r->predicted > 0)
    emit_changes (self, CHANGED_PREDICTIONS);
  self->storing--;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORDING]);
  g_signal_emit (self, signals[RUNS_CHANGED], 0, r->run_id);
}

static void
on_training_state (GraftTraining *training, GParamSpec *pspec, GraftProjectObject *self)
{
  g_autoptr (GError) error = NULL;
  Recording *r;

  if (!graft_training_is_busy (training) || self->recording != NULL || graft_training_is_lr_finder (training))
    return;
  r = g_new0 (Recording, 1);
  r->started = g_get_monotonic_time ();
  if (self->session != NULL)
    {
      GraftDataset *train = graft_session_get_train_dataset (self->session);
      r->spec_json = graft_session_spec_to_json (graft_session_get_spec (self->session));
      r->preprocessing = graft_session_get_spec (self->session)->preprocessing;
      r->classes = g_ptr_array_new_with_free_func (g_free);
      for (guint c = 0; train != NULL && c < train->classes->len; c++)
        g_ptr_array_add (r->classes, g_strdup (g_ptr_array_index (train->classes, c)));
      r->validation = graft_dataset_copy (graft_session_get_validation_dataset (self->session), G_MAXINT);
      /* The spec a run trained with is the project's, whatever the delay. */
      save_spec_now (self);
    }
  else
    r->spec_json = g_strdup ("{}");
  if (self->resume_run_id != 0)
    {
      /* The same run goes on: its points past the checkpoint (a part of an epoch) go. */
      r->run_id = self->resume_run_id;
      r->stored_steps = (gint64) self->resume_epochs_done * GRAFT_RUN_STEPS_PER_EPOCH;
      r->lock = g_steal_pointer (&self->resume_lock);
      if (!graft_project_trim_metrics (self->project, r->run_id, r->stored_steps, &error)
          || !graft_project_set_run_status (self->project, r->run_id, GRAFT_RUN_RUNNING, &error))
        g_warning ("Cannot record the resumed run: %s", error->message);
      self->resume_run_id = 0;
    }
  else if (!graft_project_is_read_only (self->project))
    {
      r->run_id = graft_project_add_run (self->project, NULL, r->spec_json, &error);
      if (r->run_id == 0 || (r->lock = graft_run_lock (self->project, r->run_id, &error)) == NULL
          || !graft_project_set_run_status (self->project, r->run_id, GRAFT_RUN_RUNNING, &error))
        g_warning ("Cannot record the run: %s", error->message);
    }
  g_clear_error (&error);
  if (r->run_id != 0
      && (r->part = graft_project_begin_run_part (self->project, r->run_id,
                                                  (int) (r->stored_steps / GRAFT_RUN_STEPS_PER_EPOCH), &error)) == 0)
    g_warning ("Cannot record the run's time: %s", error->message);
  if (r->run_id != 0)
    {
      /* A checkpoint at every epoch's end: a run stopped, closed or killed resumes. */
      g_autofree char *checkpoint = graft_run_checkpoint_file (self->project, r->run_id);
      graft_training_set_checkpoint_file (training, checkpoint);
    }
  self->recording = r;
  /* The project stays open until its run is stored, whoever lets it go meanwhile. */
  g_object_ref (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORDING]);
}

/* An epoch ended, its checkpoint written: the curves up to it go into the project, so
 * that a run killed later (the app with it) resumes with the curves that lead there. */
static void
on_training_epoch (GraftTraining *training, int epochs_done, gboolean best, GraftProjectObject *self)
{
  Recording *r = self->recording;
  g_autoptr (GArray) points = NULL;
  g_autoptr (GError) error = NULL;
  gint64 until = (gint64) epochs_done * GRAFT_RUN_STEPS_PER_EPOCH;
  guint kept = 0;

  if (r == NULL || r->run_id == 0 || graft_training_is_lr_finder (training) || until <= r->stored_steps)
    return;
  /* This part's time so far: a part killed later counts up to this epoch. */
  if (r->part != 0
      && !graft_project_update_run_part (self->project, r->part, epochs_done,
                                         (g_get_monotonic_time () - r->started) / 1e6, &error))
    {
      g_warning ("Cannot store the time of run %" G_GINT64_FORMAT ": %s", r->run_id, error->message);
      g_clear_error (&error);
    }
  points = run_points (training);
  for (guint i = 0; i < points->len; i++)
    {
      const GraftMetricPoint *point = &g_array_index (points, GraftMetricPoint, i);
      if (point->step > r->stored_steps && point->step <= until)
        g_array_index (points, GraftMetricPoint, kept++) = *point;
    }
  if (kept > 0
      && !graft_project_append_metrics (self->project, r->run_id, (const GraftMetricPoint *) (gpointer) points->data,
                                        kept, &error))
    {
      /* They are stored with the rest at the end. */
      g_warning ("Cannot store the curves of run %" G_GINT64_FORMAT " so far: %s", r->run_id, error->message);
      return;
    }
  r->stored_steps = until;
}

static void
on_training_finished (GraftTraining *training, GError *error, GraftProjectObject *self)
{
  Recording *r = self->recording;
  g_autoptr (GTask) task = NULL;

  if (r == NULL || graft_training_is_lr_finder (training))
    return;
  if (r->run_id == 0)
    {
      self->recording = NULL;
      recording_free (r);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORDING]);
      g_object_unref (self);
      return;
    }
  r->record.status = error != NULL ? GRAFT_RUN_FAILED
                     : graft_training_was_stopped (training) ? GRAFT_RUN_STOPPED : GRAFT_RUN_FINISHED;
  r->record.model = error == NULL ? graft_training_get_model_bytes (training) : NULL;
  if (graft_training_get_validation_metrics (training) != NULL)
    r->metrics = graft_metrics_copy (graft_training_get_validation_metrics (training));
  r->points = run_points (training);
  if (r->stored_steps > 0)
    {
      /* Stored already: the curves up to the last epoch's end (or a resumed run's
       * checkpoint). */
      guint kept = 0;
      for (guint i = 0; i < r->points->len; i++)
        if (g_array_index (r->points, GraftMetricPoint, i).step > r->stored_steps)
          g_array_index (r->points, GraftMetricPoint, kept++) = g_array_index (r->points, GraftMetricPoint, i);
      g_array_set_size (r->points, kept);
    }
  r->record.classes = r->classes;
  r->record.epochs = graft_training_get_epochs (training);
  {
    GraftSeries *per_epoch = graft_training_get_series (training, "train-loss-epoch");
    r->record.epochs_done = per_epoch != NULL ? (int) graft_series_get_length (per_epoch) : 0;
  }
  r->record.seconds = (g_get_monotonic_time () - r->started) / 1e6;
  r->record.part = r->part;
  r->record.validation_metrics = r->metrics;
  r->record.validation = r->validation;
  r->record.points = (const GraftMetricPoint *) (gpointer) r->points->data;
  r->record.n_points = r->points->len;
  self->recording = NULL;
  self->storing++;
  task = g_task_new (self, NULL, on_run_stored, NULL);
  g_task_set_source_tag (task, on_training_finished);
  /* The task holds the project (and its store) until the run is stored; the reference
   * taken at the start goes with the recording. */
  g_task_set_task_data (task, r, (GDestroyNotify) recording_free);
  g_task_run_in_thread (task, store_run_thread);
  g_object_unref (self);
}

GraftTraining *
graft_project_object_get_training (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return self->training;
}

void
graft_project_object_set_training (GraftProjectObject *self, GraftTraining *training)
{
  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (training == NULL || GRAFT_IS_TRAINING (training));

  if (self->training == training)
    return;
  if (self->training != NULL)
    {
      g_clear_signal_handler (&self->state_id, self->training);
      g_clear_signal_handler (&self->finished_id, self->training);
      g_clear_signal_handler (&self->epoch_id, self->training);
      g_clear_object (&self->training);
    }
  if (training != NULL)
    {
      self->training = g_object_ref (training);
      self->state_id = g_signal_connect (training, "notify::state", G_CALLBACK (on_training_state), self);
      self->finished_id = g_signal_connect (training, "finished", G_CALLBACK (on_training_finished), self);
      self->epoch_id = g_signal_connect (training, "epoch-finished", G_CALLBACK (on_training_epoch), self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRAINING]);
}

gboolean
graft_project_object_get_recording (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);
  return self->recording != NULL || self->storing > 0;
}

gboolean
graft_project_object_delete_run (GraftProjectObject *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);

  if (self->recording != NULL && self->recording->run_id == run_id)
    {
      g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                           _("The run is still going on"));
      return FALSE;
    }
  if (!graft_project_delete_run (self->project, run_id, error))
    return FALSE;
  g_signal_emit (self, signals[RUNS_CHANGED], 0, run_id);
  return TRUE;
}

gboolean
graft_project_object_can_resume_run (GraftProjectObject *self, gint64 run_id)
{
  g_autofree char *checkpoint = NULL;
  GraftRun run = { 0 };
  gboolean can;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);
  if ((self->recording != NULL && self->recording->run_id == run_id) || graft_project_is_read_only (self->project)
      || !graft_project_get_run (self->project, run_id, &run, NULL))
    return FALSE;
  /* The checkpoint is verified when the run resumes; here, only whether there is one. */
  checkpoint = graft_run_checkpoint_file (self->project, run_id);
  can = run.status != GRAFT_RUN_FINISHED && run.status != GRAFT_RUN_PENDING
        && g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR);
  graft_run_clear (&run);
  return can;
}

gboolean
graft_project_object_resume_run (GraftProjectObject *self, gint64 run_id, GError **error)
{
  g_autoptr (GraftSessionSpec) spec = NULL;
  g_autoptr (GraftModel) loaded = NULL;
  g_autofree char *checkpoint = NULL;
  g_autoptr (GraftRunLock) lock = NULL;
  const GraftModel *model;
  GraftRun run = { 0 };
  int epochs_done = 0;
  gboolean ok;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), FALSE);
  if (self->training == NULL || self->session == NULL || graft_training_is_busy (self->training)
      || self->recording != NULL)
    {
      g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                           _("Another run is going on: stop it first"));
      return FALSE;
    }
  /* Not a run another process (graft-cli, another window) still trains. */
  if ((lock = graft_run_lock (self->project, run_id, error)) == NULL
      || !graft_project_get_run (self->project, run_id, &run, error))
    return FALSE;
  ok = graft_run_is_resumable (self->project, &run, &epochs_done, NULL, error)
       && (spec = graft_session_spec_from_json (run.spec_json != NULL ? run.spec_json : "", error)) != NULL;
  graft_run_clear (&run);
  if (!ok)
    return FALSE;
  /* The run's own model and settings; the project's images as they are (the checkpoint
   * refuses others). */
  model = graft_session_get_model (self->session);
  if (model == NULL || spec->model_path == NULL
      || g_strcmp0 (graft_session_get_spec (self->session)->model_path, spec->model_path) != 0)
    {
      if (spec->model_path == NULL || (loaded = graft_model_load (spec->model_path, error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                                 _("The run does not say which model it trained"));
          return FALSE;
        }
      model = loaded;
    }
  checkpoint = graft_run_checkpoint_file (self->project, run_id);
  graft_training_set_resume_from (self->training, checkpoint);
  self->resume_run_id = run_id;
  self->resume_epochs_done = epochs_done;
  g_clear_pointer (&self->resume_lock, graft_run_lock_release);
  self->resume_lock = g_steal_pointer (&lock);
  if (!graft_training_start (self->training, model, spec, graft_session_get_train_dataset (self->session),
                             graft_session_get_validation_dataset (self->session),
                             graft_session_get_cache_folder (self->session), FALSE, error))
    {
      self->resume_run_id = 0;
      g_clear_pointer (&self->resume_lock, graft_run_lock_release);
      return FALSE;
    }
  /* Its curves so far, before the points of the epochs to come. */
  for (guint i = 0; i < graft_run_n_series; i++)
    {
      GraftSeries *series = graft_training_get_series (self->training, graft_run_series_names[i]);
      g_autoptr (GArray) points = graft_project_get_metric_series (self->project, run_id, graft_run_series_names[i],
                                                                   NULL);
      for (guint k = 0; series != NULL && points != NULL && k < points->len; k++)
        {
          const GraftSeriesPoint *point = &g_array_index (points, GraftSeriesPoint, k);
          graft_series_append (series, (double) point->step / GRAFT_RUN_STEPS_PER_EPOCH, point->value);
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The object                                                                */

static void
graft_project_object_dispose (GObject *object)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->datasets_source, g_source_remove);
  if (self->thumbnailer != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->pending);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_cancellable_cancel (((ThumbnailRequest *) value)->cancellable);
      g_hash_table_remove_all (self->pending);
      g_clear_pointer (&self->thumbnailer, graft_thumbnailer_free);
    }
  /* A change of the last moments is stored before the project closes. */
  if (self->spec_save_source != 0)
    save_spec_now (self);
  graft_project_object_set_training (self, NULL);
  if (self->session != NULL)
    {
      g_clear_signal_handler (&self->spec_changed_id, self->session);
      g_clear_signal_handler (&self->model_changed_id, self->session);
    }
  g_clear_object (&self->session);

  G_OBJECT_CLASS (graft_project_object_parent_class)->dispose (object);
}

static void
graft_project_object_finalize (GObject *object)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (object);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->live_items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_object_weak_unref (G_OBJECT (((LiveEntry *) value)->item), on_item_finalized, value);
  g_hash_table_unref (self->live_items);
  g_clear_pointer (&self->resume_lock, graft_run_lock_release);
  g_ptr_array_unref (self->lists);
  g_hash_table_unref (self->pending);
  g_queue_clear (&self->texture_order);
  g_hash_table_unref (self->textures);
  g_clear_object (&self->classes);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->project, graft_project_close);

  G_OBJECT_CLASS (graft_project_object_parent_class)->finalize (object);
}

static void
graft_project_object_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_take_string (value, graft_project_object_get_name (self)); break;
    case PROP_SESSION: g_value_set_object (value, self->session); break;
    case PROP_TRAINING: g_value_set_object (value, self->training); break;
    case PROP_RECORDING: g_value_set_boolean (value, graft_project_object_get_recording (self)); break;
    case PROP_CAN_UNDO: g_value_set_boolean (value, self->can_undo); break;
    case PROP_CAN_REDO: g_value_set_boolean (value, self->can_redo); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_project_object_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftProjectObject *self = GRAFT_PROJECT_OBJECT (object);

  switch (prop_id)
    {
    case PROP_SESSION: graft_project_object_set_session (self, g_value_get_object (value)); break;
    case PROP_TRAINING: graft_project_object_set_training (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_project_object_class_init (GraftProjectObjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = graft_project_object_dispose;
  object_class->finalize = graft_project_object_finalize;
  object_class->get_property = graft_project_object_get_property;
  object_class->set_property = graft_project_object_set_property;

  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TRAINING] = g_param_spec_object ("training", NULL, NULL, GRAFT_TYPE_TRAINING,
                                                   G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RECORDING] = g_param_spec_boolean ("recording", NULL, NULL, FALSE,
                                                     G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAN_UNDO] = g_param_spec_boolean ("can-undo", NULL, NULL, FALSE,
                                                    G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAN_REDO] = g_param_spec_boolean ("can-redo", NULL, NULL, FALSE,
                                                    G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CLASSES_CHANGED] = g_signal_new ("classes-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                           NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[LABELS_CHANGED] = g_signal_new ("labels-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[IMAGES_CHANGED] = g_signal_new ("images-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* (run id) a run was stored or deleted. */
  signals[RUNS_CHANGED] = g_signal_new ("runs-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                        NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
graft_project_object_init (GraftProjectObject *self)
{
  self->classes = g_list_store_new (GRAFT_TYPE_CLASS_ITEM);
  self->live_items = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  self->lists = g_ptr_array_new ();
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->textures = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, texture_entry_free);
  g_queue_init (&self->texture_order);
  self->cancellable = g_cancellable_new ();
}

GraftProjectObject *
graft_project_object_new (GraftProject *project)
{
  GraftProjectObject *self;

  g_return_val_if_fail (project != NULL, NULL);

  self = g_object_new (GRAFT_TYPE_PROJECT_OBJECT, NULL);
  self->project = project;
  self->thumbnailer = graft_thumbnailer_new (graft_project_get_cache_folder (project), 0);
  refresh_classes (self);
  self->can_undo = graft_project_can_undo (project);
  self->can_redo = graft_project_can_redo (project);
  return self;
}

GraftProjectObject *
graft_project_object_create (const char *folder, const char *name, GError **error)
{
  GraftProject *project = graft_project_create (folder, name, error);

  return project != NULL ? graft_project_object_new (project) : NULL;
}

GraftProjectObject *
graft_project_object_open (const char *folder, GError **error)
{
  GraftProject *project = graft_project_open (folder, error);

  return project != NULL ? graft_project_object_new (project) : NULL;
}

GraftProject *
graft_project_object_get_project (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return self->project;
}

const char *
graft_project_object_get_folder (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return graft_project_get_folder (self->project);
}

char *
graft_project_object_get_name (GraftProjectObject *self)
{
  char *name;

  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  name = graft_project_get_name (self->project);
  if (name == NULL || name[0] == '\0')
    {
      g_autofree char *base = g_path_get_basename (graft_project_get_folder (self->project));
      g_free (name);
      if (g_str_has_suffix (base, ".graft"))
        base[strlen (base) - strlen (".graft")] = '\0';
      name = g_filename_display_name (base);
    }
  return name;
}

gboolean
graft_project_object_get_read_only (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), TRUE);
  return graft_project_is_read_only (self->project);
}

GraftSession *
graft_project_object_get_session (GraftProjectObject *self)
{
  g_return_val_if_fail (GRAFT_IS_PROJECT_OBJECT (self), NULL);
  return self->session;
}

void
graft_project_object_set_session (GraftProjectObject *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_PROJECT_OBJECT (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  if (self->session != NULL)
    {
      if (self->spec_save_source != 0)
        save_spec_now (self);
      g_clear_signal_handler (&self->spec_changed_id, self->session);
      g_clear_signal_handler (&self->model_changed_id, self->session);
      g_clear_object (&self->session);
    }
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (on_session_spec_changed),
                                                        self);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed",
                                                         G_CALLBACK (on_session_spec_changed), self);
      graft_session_set_cache_folder (session, graft_project_get_cache_folder (self->project));
      schedule_datasets (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}
