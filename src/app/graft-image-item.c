/* graft-image-item.c: one image of a project (see graft-image-item.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "graft-image-item.h"

struct _GraftImageItem
{
  GObject parent_instance;

  gint64 id;
  char *path;
  char *name;
  char *hash;
  gboolean missing;

  gint64 class_id;
  char *class_name;
  char *class_colour;
  GraftLabelSource source;
  GraftSplit split;

  gint64 suggestion_id;
  char *suggestion_name;
  char *suggestion_colour;
  double confidence;

  GdkPaintable *paintable;
  gboolean thumbnail_failed;
};

G_DEFINE_FINAL_TYPE (GraftImageItem, graft_image_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_PATH,
  PROP_NAME,
  PROP_MISSING,
  PROP_CLASS_ID,
  PROP_CLASS_NAME,
  PROP_CLASS_COLOUR,
  PROP_SUGGESTION_ID,
  PROP_SUGGESTION_NAME,
  PROP_SUGGESTION_COLOUR,
  PROP_CONFIDENCE,
  PROP_PAINTABLE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
graft_image_item_finalize (GObject *object)
{
  GraftImageItem *self = GRAFT_IMAGE_ITEM (object);

  g_free (self->path);
  g_free (self->name);
  g_free (self->hash);
  g_free (self->class_name);
  g_free (self->class_colour);
  g_free (self->suggestion_name);
  g_free (self->suggestion_colour);
  g_clear_object (&self->paintable);

  G_OBJECT_CLASS (graft_image_item_parent_class)->finalize (object);
}

static void
graft_image_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftImageItem *self = GRAFT_IMAGE_ITEM (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_MISSING: g_value_set_boolean (value, self->missing); break;
    case PROP_CLASS_ID: g_value_set_int64 (value, self->class_id); break;
    case PROP_CLASS_NAME: g_value_set_string (value, self->class_name); break;
    case PROP_CLASS_COLOUR: g_value_set_string (value, self->class_colour); break;
    case PROP_SUGGESTION_ID: g_value_set_int64 (value, self->suggestion_id); break;
    case PROP_SUGGESTION_NAME: g_value_set_string (value, self->suggestion_name); break;
    case PROP_SUGGESTION_COLOUR: g_value_set_string (value, self->suggestion_colour); break;
    case PROP_CONFIDENCE: g_value_set_double (value, self->confidence); break;
    case PROP_PAINTABLE: g_value_set_object (value, self->paintable); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_image_item_class_init (GraftImageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = graft_image_item_finalize;
  object_class->get_property = graft_image_item_get_property;

  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_MISSING] = g_param_spec_boolean ("missing", NULL, NULL, FALSE, flags);
  properties[PROP_CLASS_ID] = g_param_spec_int64 ("class-id", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_CLASS_NAME] = g_param_spec_string ("class-name", NULL, NULL, NULL, flags);
  properties[PROP_CLASS_COLOUR] = g_param_spec_string ("class-colour", NULL, NULL, NULL, flags);
  properties[PROP_SUGGESTION_ID] = g_param_spec_int64 ("suggestion-id", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_SUGGESTION_NAME] = g_param_spec_string ("suggestion-name", NULL, NULL, NULL, flags);
  properties[PROP_SUGGESTION_COLOUR] = g_param_spec_string ("suggestion-colour", NULL, NULL, NULL, flags);
  properties[PROP_CONFIDENCE] = g_param_spec_double ("confidence", NULL, NULL, 0, 1, 0, flags);
  properties[PROP_PAINTABLE] = g_param_spec_object ("paintable", NULL, NULL, GDK_TYPE_PAINTABLE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftImageItem::changed:
   *
   * The label, the suggestion or the file's state changed (emitted once after the
   * notify:: signals of an update).
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
}

static void
graft_image_item_init (GraftImageItem *self)
{
}

GraftImageItem *
graft_image_item_new (const GraftImageInfo *info)
{
  GraftImageItem *self;

  g_return_val_if_fail (info != NULL, NULL);

  self = g_object_new (GRAFT_TYPE_IMAGE_ITEM, NULL);
  self->id = info->id;
  self->path = g_strdup (info->path);
  {
    g_autofree char *base = g_path_get_basename (info->path);
    self->name = g_filename_display_name (base);
  }
  self->hash = g_strdup (info->hash);
  self->missing = info->missing;
  self->class_id = info->class_id;
  self->source = info->source;
  self->split = info->split;
  self->suggestion_id = info->suggestion;
  self->confidence = info->confidence;
  return self;
}

static gboolean
set_string (char **field, const char *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

void
graft_image_item_update (GraftImageItem *self, const GraftImageInfo *info, const char *class_name,
                         const char *class_colour, const char *suggestion_name, const char *suggestion_colour)
{
  gboolean changed = FALSE;

  g_return_if_fail (GRAFT_IS_IMAGE_ITEM (self));
  g_return_if_fail (info != NULL && info->id == self->id);

  g_object_freeze_notify (G_OBJECT (self));
  if (g_strcmp0 (self->path, info->path) != 0)
    {
      g_autofree char *base = g_path_get_basename (info->path);
      g_free (self->name);
      self->name = g_filename_display_name (base);
      set_string (&self->path, info->path);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
      changed = TRUE;
    }
  if (info->hash != NULL)
    set_string (&self->hash, info->hash);
  if (self->missing != info->missing)
    {
      self->missing = info->missing;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MISSING]);
      changed = TRUE;
    }
  self->source = info->source;
  self->split = info->split;
  if (self->class_id != info->class_id)
    {
      self->class_id = info->class_id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLASS_ID]);
      changed = TRUE;
    }
  if (set_string (&self->class_name, info->class_id != 0 ? class_name : NULL))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLASS_NAME]);
      changed = TRUE;
    }
  if (set_string (&self->class_colour, info->class_id != 0 ? class_colour : NULL))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLASS_COLOUR]);
      changed = TRUE;
    }
  if (self->suggestion_id != info->suggestion)
    {
      self->suggestion_id = info->suggestion;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUGGESTION_ID]);
      changed = TRUE;
    }
  if (set_string (&self->suggestion_name, info->suggestion != 0 ? suggestion_name : NULL))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUGGESTION_NAME]);
      changed = TRUE;
    }
  if (set_string (&self->suggestion_colour, info->suggestion != 0 ? suggestion_colour : NULL))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUGGESTION_COLOUR]);
      changed = TRUE;
    }
  if (self->confidence != info->confidence)
    {
      self->confidence = CLAMP (info->confidence, 0.f, 1.f);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFIDENCE]);
      changed = TRUE;
    }
  g_object_thaw_notify (G_OBJECT (self));
  if (changed)
    g_signal_emit (self, signals[CHANGED], 0);
}

gint64
graft_image_item_get_id (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), 0);
  return self->id;
}

const char *
graft_image_item_get_path (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->path;
}

const char *
graft_image_item_get_name (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->name;
}

const char *
graft_image_item_get_hash (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->hash;
}

gboolean
graft_image_item_get_missing (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), FALSE);
  return self->missing;
}

gint64
graft_image_item_get_class_id (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), 0);
  return self->class_id;
}

const char *
graft_image_item_get_class_name (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->class_name;
}

const char *
graft_image_item_get_class_colour (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->class_colour;
}

GraftLabelSource
graft_image_item_get_label_source (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), GRAFT_LABEL_NONE);
  return self->source;
}

GraftSplit
graft_image_item_get_split (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), GRAFT_SPLIT_NONE);
  return self->split;
}

gint64
graft_image_item_get_suggestion_id (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), 0);
  return self->suggestion_id;
}

const char *
graft_image_item_get_suggestion_name (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->suggestion_name;
}

const char *
graft_image_item_get_suggestion_colour (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->suggestion_colour;
}

double
graft_image_item_get_confidence (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), 0);
  return self->confidence;
}

GdkPaintable *
graft_image_item_get_paintable (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);
  return self->paintable;
}

void
graft_image_item_set_paintable (GraftImageItem *self, GdkPaintable *paintable)
{
  g_return_if_fail (GRAFT_IS_IMAGE_ITEM (self));
  g_return_if_fail (paintable == NULL || GDK_IS_PAINTABLE (paintable));

  if (g_set_object (&self->paintable, paintable))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAINTABLE]);
}

gboolean
graft_image_item_get_thumbnail_failed (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), FALSE);
  return self->thumbnail_failed;
}

void
graft_image_item_set_thumbnail_failed (GraftImageItem *self, gboolean failed)
{
  g_return_if_fail (GRAFT_IS_IMAGE_ITEM (self));
  if (self->thumbnail_failed == failed)
    return;
  self->thumbnail_failed = failed;
  g_signal_emit (self, signals[CHANGED], 0);
}

char *
graft_image_item_describe (GraftImageItem *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_ITEM (self), NULL);

  if (self->missing)
    /* Translators: an image whose file is gone; %s is its file name. */
    return g_strdup_printf (_("%s, file not found"), self->name);
  if (self->class_id != 0 && self->class_name != NULL)
    /* Translators: the first %s is a file name, the second a class name. */
    return g_strdup_printf (_("%s, labelled %s"), self->name, self->class_name);
  if (self->suggestion_id != 0 && self->suggestion_name != NULL)
    /* Translators: a file name, a class name and a percentage, e.g. "0042.png, unlabelled, suggested Shirt (87 %)". */
    return g_strdup_printf (_("%s, unlabelled, suggested %s (%.0f %%)"), self->name, self->suggestion_name,
                            self->confidence * 100);
  /* Translators: %s is a file name. */
  return g_strdup_printf (_("%s, unlabelled"), self->name);
}

GraftImage *
graft_image_enlarge_nearest (const GraftImage *image, int factor)
{
  GraftImage *out;

  g_return_val_if_fail (image != NULL && factor >= 1, NULL);

  out = graft_image_new (image->width * factor, image->height * factor, NULL);
  if (out == NULL)
    return NULL;
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *in_row = image->rgb + (gsize) y * image->width * 3;
      gsize out_stride = (gsize) out->width * 3;
      guint8 *out_row = out->rgb + (gsize) y * factor * out_stride;

      for (int x = 0; x < out->width; x++)
        memcpy (out_row + x * 3, in_row + (x / factor) * 3, 3);
      /* The other factor - 1 rows of the block are the same. */
      for (int r = 1; r < factor; r++)
        memcpy (out_row + r * out_stride, out_row, out_stride);
    }
  return out;
}

static void
free_image_bytes (gpointer data)
{
  graft_image_free (data);
}

GdkTexture *
graft_texture_new_for_image (GraftImage *image)
{
  gsize stride;
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (image != NULL, NULL);

  stride = (gsize) image->width * 3;
  bytes = g_bytes_new_with_free_func (image->rgb, stride * image->height, free_image_bytes, image);
  return gdk_memory_texture_new (image->width, image->height, GDK_MEMORY_R8G8B8, bytes, stride);
}
