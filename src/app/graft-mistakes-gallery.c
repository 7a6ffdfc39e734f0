/* graft-mistakes-gallery.c
 *
 * One GListStore of every labelled validation image with its prediction (most
 * confident first), behind a GtkFilterListModel (the mistakes, or one cell of the
 * confusion matrix) and a GtkSliceListModel (the pages shown), bound to a GtkFlowBox.
 * The image objects (GraftGalleryImage) are private to this file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-mistakes-gallery.h"

#include <glib/gi18n.h>
#include <math.h>

#include "data/image.h"
#include "graft-format.h"
#include "train/metrics.h"

#define THUMBNAIL_SIZE 120

/* --- an image of the gallery -------------------------------------------------------- */

#define GRAFT_TYPE_GALLERY_IMAGE (graft_gallery_image_get_type ())
G_DECLARE_FINAL_TYPE (GraftGalleryImage, graft_gallery_image, GRAFT, GALLERY_IMAGE, GObject)

struct _GraftGalleryImage
{
  GObject parent_instance;

  guint index;               /* in the validation dataset */
  char *path;
  int true_class, predicted_class;
  float confidence;          /* the probability of the predicted class */
  char *true_name, *predicted_name;
  GdkPaintable *paintable;   /* the thumbnail, once decoded */
  char *error;               /* why it could not be */
  GCancellable *loading;     /* while it is being decoded */
};

G_DEFINE_FINAL_TYPE (GraftGalleryImage, graft_gallery_image, G_TYPE_OBJECT)

enum { IMAGE_PROP_0, IMAGE_PROP_PAINTABLE, IMAGE_N_PROPS };
static GParamSpec *image_properties[IMAGE_N_PROPS];

static void
graft_gallery_image_finalize (GObject *object)
{
  GraftGalleryImage *self = GRAFT_GALLERY_IMAGE (object);

  if (self->loading != NULL)
    g_cancellable_cancel (self->loading);
  g_clear_object (&self->loading);
  g_clear_object (&self->paintable);
  g_free (self->path);
  g_free (self->true_name);
  g_free (self->predicted_name);
  g_free (self->error);
  G_OBJECT_CLASS (graft_gallery_image_parent_class)->finalize (object);
}

static void
graft_gallery_image_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftGalleryImage *self = GRAFT_GALLERY_IMAGE (object);

  switch (prop_id)
    {
    case IMAGE_PROP_PAINTABLE:
      g_value_set_object (value, self->paintable);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_gallery_image_class_init (GraftGalleryImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = graft_gallery_image_finalize;
  object_class->get_property = graft_gallery_image_get_property;
  image_properties[IMAGE_PROP_PAINTABLE] =
    g_param_spec_object ("paintable", NULL, NULL, GDK_TYPE_PAINTABLE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, IMAGE_N_PROPS, image_properties);
}

static void
graft_gallery_image_init (GraftGalleryImage *self)
{
}

/* --- the gallery ---------------------------------------------------------------- */

struct _GraftMistakesGallery
{
  AdwBin parent_instance;

  GListStore *images;        /* GraftGalleryImage, most confident first */
  GtkCustomFilter *filter;
  GtkFilterListModel *gallery;
  GtkSliceListModel *page;   /* the first images of the gallery, as many as shown */
  int filter_true, filter_predicted;
  int classes;
  GPtrArray *names;          /* char *: the class names */

  /* Template children. */
  GtkLabel *gallery_title;
  GtkLabel *gallery_subtitle;
  GtkWidget *show_all_button;
  GtkStack *gallery_stack;
  GtkFlowBox *gallery_box;
  GtkButton *more_button;
  GtkWidget *gallery_empty;
  GtkImage *gallery_empty_icon;
  GtkLabel *gallery_empty_title;
  GtkLabel *gallery_empty_description;
};

G_DEFINE_FINAL_TYPE (GraftMistakesGallery, graft_mistakes_gallery, ADW_TYPE_BIN)

enum { FILTER_CHANGED, IMAGE_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *
class_name (GraftMistakesGallery *self, int c)
{
  return c >= 0 && (guint) c < self->names->len ? g_ptr_array_index (self->names, c) : "?";
}

typedef struct {
  char *path;
  int side;
} ThumbnailData;

typedef struct {
  GBytes *pixels;            /* RGB */
  int side;
} Thumbnail;

static void
thumbnail_data_free (gpointer data)
{
  ThumbnailData *d = data;
  g_free (d->path);
  g_free (d);
}

static void
thumbnail_free (gpointer data)
{
  Thumbnail *t = data;
  g_bytes_unref (t->pixels);
  g_free (t);
}

/* The centre square (what the model sees, near enough), box-filtered down to side,
 * or enlarged by a whole factor without smoothing when it is smaller (small images
 * stay sharp). */
static void
thumbnail_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ThumbnailData *d = task_data;
  GError *error = NULL;
  g_autoptr (GraftImage) image = NULL;
  Thumbnail *thumbnail;
  guint8 *out;
  int s, x0, y0, side;

  if (g_task_return_error_if_cancelled (task))
    return;
  image = graft_image_load_at_least (d->path, d->side, &error);
  if (image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  s = MIN (image->width, image->height);
  x0 = (image->width - s) / 2;
  y0 = (image->height - s) / 2;
  side = s >= d->side ? d->side : s * ((d->side + s - 1) / s);
  out = g_malloc ((gsize) side * side * 3);
  for (int oy = 0; oy < side; oy++)
    {
      int sy0 = y0 + (int) ((gint64) oy * s / side);
      int sy1 = MAX (sy0 + 1, y0 + (int) ((gint64) (oy + 1) * s / side));
      for (int ox = 0; ox < side; ox++)
        {
          int sx0 = x0 + (int) ((gint64) ox * s / side);
          int sx1 = MAX (sx0 + 1, x0 + (int) ((gint64) (ox + 1) * s / side));
          guint sum[3] = { 0, 0, 0 };
          guint n = (guint) ((sy1 - sy0) * (sx1 - sx0));
          for (int y = sy0; y < sy1; y++)
            for (int x = sx0; x < sx1; x++)
              for (int c = 0; c < 3; c++)
                sum[c] += image->rgb[((gsize) y * image->width + x) * 3 + c];
          for (int c = 0; c < 3; c++)
            out[((gsize) oy * side + ox) * 3 + c] = (guint8) ((sum[c] + n / 2) / n);
        }
    }
  thumbnail = g_new0 (Thumbnail, 1);
  thumbnail->pixels = g_bytes_new_take (out, (gsize) side * side * 3);
  thumbnail->side = side;
  g_task_return_pointer (task, thumbnail, thumbnail_free);
}

static void
on_thumbnail (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GraftGalleryImage *image = GRAFT_GALLERY_IMAGE (source);
  g_autoptr (GError) error = NULL;
  Thumbnail *thumbnail = g_task_propagate_pointer (G_TASK (result), &error);

  g_clear_object (&image->loading);
  if (thumbnail == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        image->error = g_strdup (error->message);
      return;
    }
  g_clear_object (&image->paintable);
  image->paintable = GDK_PAINTABLE (gdk_memory_texture_new (thumbnail->side, thumbnail->side, GDK_MEMORY_R8G8B8,
                                                            thumbnail->pixels, (gsize) thumbnail->side * 3));
  thumbnail_free (thumbnail);
  g_object_notify_by_pspec (G_OBJECT (image), image_properties[IMAGE_PROP_PAINTABLE]);
}

static void
start_thumbnail (GraftMistakesGallery *self, GraftGalleryImage *image)
{
  g_autoptr (GTask) task = NULL;
  ThumbnailData *data = g_new0 (ThumbnailData, 1);

  data->path = g_strdup (image->path);
  data->side = THUMBNAIL_SIZE * gtk_widget_get_scale_factor (GTK_WIDGET (self));
  image->loading = g_cancellable_new ();
  task = g_task_new (image, image->loading, on_thumbnail, NULL);
  g_task_set_source_tag (task, start_thumbnail);
  g_task_set_task_data (task, data, thumbnail_data_free);
  g_task_run_in_thread (task, thumbnail_thread);
}

static void
on_gallery_widget_destroy (GtkWidget *box, GraftGalleryImage *image)
{
  /* Gone before its thumbnail came (a new filter, a new run): not needed any more. */
  if (image->loading != NULL)
    g_cancellable_cancel (image->loading);
}

/* One image of the gallery: the thumbnail, the predicted and the true class, the
 * confidence. */
static GtkWidget *
create_gallery_widget (gpointer item, gpointer user_data)
{
  GraftMistakesGallery *self = user_data;
  GraftGalleryImage *image = item;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *predicted_label, *true_label, *confidence_label;
  g_autofree char *predicted = NULL;
  g_autofree char *truth = NULL;
  g_autofree char *percent = graft_format_percent (image->confidence);
  g_autofree char *confidence = NULL;
  g_autofree char *basename = g_filename_display_basename (image->path);
  g_autofree char *description = NULL;

  /* Translators: under a thumbnail: the class the model chose */
  predicted = g_strdup_printf (_("Predicted: %s"), image->predicted_name);
  /* Translators: under a thumbnail: the image's label */
  truth = g_strdup_printf (_("True: %s"), image->true_name);
  /* Translators: under a thumbnail: "87 % confident" */
  confidence = g_strdup_printf (_("%s confident"), percent);
  predicted_label = gtk_label_new (predicted);
  true_label = gtk_label_new (truth);
  confidence_label = gtk_label_new (confidence);

  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_COVER);
  gtk_widget_set_size_request (picture, THUMBNAIL_SIZE, THUMBNAIL_SIZE);
  gtk_widget_set_halign (picture, GTK_ALIGN_CENTER);
  gtk_widget_set_overflow (picture, GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (picture, "thumbnail");
  gtk_widget_set_margin_bottom (picture, 4);
  for (GtkWidget **l = (GtkWidget *[]) { true_label, predicted_label, confidence_label, NULL }; *l != NULL; l++)
    {
      gtk_label_set_ellipsize (GTK_LABEL (*l), PANGO_ELLIPSIZE_END);
      gtk_label_set_xalign (GTK_LABEL (*l), 0);
      gtk_label_set_max_width_chars (GTK_LABEL (*l), 14);
      gtk_widget_add_css_class (*l, "caption");
    }
  gtk_widget_add_css_class (predicted_label, "heading");
  gtk_widget_add_css_class (confidence_label, "dim-label");
  gtk_widget_add_css_class (confidence_label, "numeric");
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (GTK_BOX (box), predicted_label);
  gtk_box_append (GTK_BOX (box), true_label);
  gtk_box_append (GTK_BOX (box), confidence_label);
  gtk_widget_set_tooltip_text (box, basename);
  /* Translators: the accessible name of a thumbnail: "0042.jpg: cat, predicted dog, 87 % confident" */
  description = g_strdup_printf (_("%s: %s, predicted %s, %s confident"), basename, image->true_name,
                                 image->predicted_name, percent);
  gtk_accessible_update_property (GTK_ACCESSIBLE (box), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);

  g_object_bind_property (image, "paintable", picture, "paintable", G_BINDING_SYNC_CREATE);
  g_signal_connect_object (box, "destroy", G_CALLBACK (on_gallery_widget_destroy), image, 0);
  if (image->paintable == NULL && image->loading == NULL && image->error == NULL)
    start_thumbnail (self, image);
  return box;
}

/* A click (or Enter) on an image: whoever shows the gallery opens it. */
static void
on_gallery_child_activated (GtkFlowBox *box, GtkFlowBoxChild *child, GraftMistakesGallery *self)
{
  g_autoptr (GraftGalleryImage) image = g_list_model_get_item (G_LIST_MODEL (self->page),
                                                               (guint) gtk_flow_box_child_get_index (child));

  if (image != NULL)
    g_signal_emit (self, signals[IMAGE_ACTIVATED], 0, image->path, image->true_class, image->predicted_class,
                   (double) image->confidence);
}

static gboolean
gallery_filter_func (gpointer item, gpointer user_data)
{
  GraftMistakesGallery *self = user_data;
  GraftGalleryImage *image = item;

  if (self->filter_true < 0)
    return image->true_class != image->predicted_class;
  return image->true_class == self->filter_true && image->predicted_class == self->filter_predicted;
}

static void
update_gallery_header (GraftMistakesGallery *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->gallery));
  gboolean filtered = self->filter_true >= 0;
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;

  if (!filtered)
    {
      title = g_strdup (_("Mistakes"));
      if (n > 0)
        subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image the model got wrong",
                                                 "%u images the model got wrong, the most confident mistakes first", n),
                                    n);
      gtk_image_set_from_icon_name (self->gallery_empty_icon, "emblem-ok-symbolic");
      gtk_label_set_label (self->gallery_empty_title, _("No Mistakes"));
      gtk_label_set_label (self->gallery_empty_description, _("Every validation image was classified correctly."));
    }
  else
    {
      const char *true_name = class_name (self, self->filter_true);
      const char *predicted_name = class_name (self, self->filter_predicted);
      if (self->filter_true == self->filter_predicted)
        /* Translators: the gallery's title when it shows one cell of the confusion matrix */
        title = g_strdup_printf (_("“%s” Classified Correctly"), true_name);
      else
        /* Translators: the gallery's title when it shows one cell of the confusion matrix */
        title = g_strdup_printf (_("“%s” Classified as “%s”"), true_name, predicted_name);
      if (n > 0)
        subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u image in this cell",
                                                 "%u images in this cell, the most confident first", n),
                                    n);
      gtk_image_set_from_icon_name (self->gallery_empty_icon, "image-x-generic-symbolic");
      gtk_label_set_label (self->gallery_empty_title, _("No Images"));
      gtk_label_set_label (self->gallery_empty_description, _("No validation image fell in this cell."));
    }
  gtk_label_set_label (self->gallery_title, title);
  gtk_label_set_label (self->gallery_subtitle, subtitle != NULL ? subtitle : "");
  gtk_widget_set_visible (GTK_WIDGET (self->gallery_subtitle), subtitle != NULL);
  gtk_widget_set_visible (self->show_all_button, filtered);
  gtk_stack_set_visible_child_name (self->gallery_stack, n > 0 ? "grid" : "none");
  {
    guint shown = gtk_slice_list_model_get_size (self->page);
    guint more = n > shown ? MIN (n - shown, GRAFT_MISTAKES_GALLERY_PAGE) : 0;
    if (more > 0)
      {
        /* Translators: a button under the gallery */
        g_autofree char *label = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Show %u More Image",
                                                               "Show %u More Images", more),
                                                  more);
        gtk_button_set_label (self->more_button, label);
      }
    gtk_widget_set_visible (GTK_WIDGET (self->more_button), more > 0);
  }
}

static int
compare_confidence (gconstpointer a, gconstpointer b)
{
  const GraftGalleryImage *x = *(GraftGalleryImage *const *) a;
  const GraftGalleryImage *y = *(GraftGalleryImage *const *) b;

  if (x->confidence != y->confidence)
    return x->confidence > y->confidence ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

void
graft_mistakes_gallery_set_predictions (GraftMistakesGallery *self, const GraftDataset *validation,
                                        const float *probabilities, int classes, const char *const *names)
{
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_items = validation != NULL && probabilities != NULL ? validation->items->len : 0;

  g_return_if_fail (GRAFT_IS_MISTAKES_GALLERY (self));

  g_ptr_array_set_size (self->names, 0);
  for (int c = 0; names != NULL && c < classes; c++)
    g_ptr_array_add (self->names, g_strdup (names[c] != NULL ? names[c] : "?"));
  self->classes = classes;
  for (guint i = 0; i < n_items; i++)
    {
      const GraftDatasetItem *item = &g_array_index (validation->items, GraftDatasetItem, i);
      const float *row = probabilities + (gsize) i * classes;
      GraftGalleryImage *image;
      int predicted;

      if (item->label < 0 || item->label >= classes || isnan (row[0]))
        continue;
      predicted = graft_metrics_argmax (row, classes);
      image = g_object_new (GRAFT_TYPE_GALLERY_IMAGE, NULL);
      image->index = i;
      image->path = g_strdup (item->path);
      image->true_class = item->label;
      image->predicted_class = predicted;
      image->confidence = row[predicted];
      image->true_name = g_strdup (class_name (self, item->label));
      image->predicted_name = g_strdup (class_name (self, predicted));
      g_ptr_array_add (images, image);
    }
  g_ptr_array_sort (images, compare_confidence);
  self->filter_true = self->filter_predicted = -1;
  g_list_store_splice (self->images, 0, g_list_model_get_n_items (G_LIST_MODEL (self->images)), images->pdata,
                       images->len);
  graft_mistakes_gallery_set_filter (self, -1, -1);
}

void
graft_mistakes_gallery_set_filter (GraftMistakesGallery *self, int true_class, int predicted_class)
{
  g_return_if_fail (GRAFT_IS_MISTAKES_GALLERY (self));

  if (true_class < 0 || predicted_class < 0 || true_class >= self->classes || predicted_class >= self->classes)
    true_class = predicted_class = -1;
  self->filter_true = true_class;
  self->filter_predicted = predicted_class;
  gtk_slice_list_model_set_size (self->page, GRAFT_MISTAKES_GALLERY_PAGE);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_gallery_header (self);
}

void
graft_mistakes_gallery_get_filter (GraftMistakesGallery *self, int *true_class, int *predicted_class)
{
  g_return_if_fail (GRAFT_IS_MISTAKES_GALLERY (self));
  if (true_class != NULL)
    *true_class = self->filter_true;
  if (predicted_class != NULL)
    *predicted_class = self->filter_predicted;
}

void
graft_mistakes_gallery_show_more (GraftMistakesGallery *self)
{
  g_return_if_fail (GRAFT_IS_MISTAKES_GALLERY (self));
  gtk_slice_list_model_set_size (self->page, gtk_slice_list_model_get_size (self->page) + GRAFT_MISTAKES_GALLERY_PAGE);
  update_gallery_header (self);
}

GListModel *
graft_mistakes_gallery_get_images (GraftMistakesGallery *self)
{
  g_return_val_if_fail (GRAFT_IS_MISTAKES_GALLERY (self), NULL);
  return G_LIST_MODEL (self->gallery);
}

static void
action_show_more (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  graft_mistakes_gallery_show_more (GRAFT_MISTAKES_GALLERY (widget));
}

static void
action_show_all_mistakes (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftMistakesGallery *self = GRAFT_MISTAKES_GALLERY (widget);

  graft_mistakes_gallery_set_filter (self, -1, -1);
  g_signal_emit (self, signals[FILTER_CHANGED], 0, -1, -1);
}

static void
graft_mistakes_gallery_dispose (GObject *object)
{
  GraftMistakesGallery *self = GRAFT_MISTAKES_GALLERY (object);

  if (self->gallery_box != NULL)
    gtk_flow_box_bind_model (self->gallery_box, NULL, NULL, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_MISTAKES_GALLERY);
  g_clear_object (&self->page);
  g_clear_object (&self->gallery);
  g_clear_object (&self->filter);
  g_clear_object (&self->images);
  G_OBJECT_CLASS (graft_mistakes_gallery_parent_class)->dispose (object);
}

static void
graft_mistakes_gallery_finalize (GObject *object)
{
  GraftMistakesGallery *self = GRAFT_MISTAKES_GALLERY (object);

  g_ptr_array_unref (self->names);
  G_OBJECT_CLASS (graft_mistakes_gallery_parent_class)->finalize (object);
}

static void
graft_mistakes_gallery_class_init (GraftMistakesGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_mistakes_gallery_dispose;
  object_class->finalize = graft_mistakes_gallery_finalize;

  signals[FILTER_CHANGED] = g_signal_new ("filter-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                          NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[IMAGE_ACTIVATED] = g_signal_new ("image-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                           NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_INT, G_TYPE_INT,
                                           G_TYPE_DOUBLE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/graftlab/Graft/ui/graft-mistakes-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_title);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_subtitle);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, show_all_button);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_stack);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_box);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, more_button);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_empty);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_empty_icon);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_empty_title);
  gtk_widget_class_bind_template_child (widget_class, GraftMistakesGallery, gallery_empty_description);
  gtk_widget_class_install_action (widget_class, "gallery.show-all-mistakes", NULL, action_show_all_mistakes);
  gtk_widget_class_install_action (widget_class, "gallery.show-more", NULL, action_show_more);
}

static void
graft_mistakes_gallery_init (GraftMistakesGallery *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->names = g_ptr_array_new_with_free_func (g_free);
  self->filter_true = self->filter_predicted = -1;
  self->images = g_list_store_new (GRAFT_TYPE_GALLERY_IMAGE);
  self->filter = gtk_custom_filter_new (gallery_filter_func, self, NULL);
  self->gallery = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->images)),
                                             GTK_FILTER (g_object_ref (self->filter)));
  self->page = gtk_slice_list_model_new (G_LIST_MODEL (g_object_ref (self->gallery)), 0,
                                         GRAFT_MISTAKES_GALLERY_PAGE);
  gtk_flow_box_bind_model (self->gallery_box, G_LIST_MODEL (self->page), create_gallery_widget, self, NULL);
  g_signal_connect (self->gallery_box, "child-activated", G_CALLBACK (on_gallery_child_activated), self);
  g_signal_connect_swapped (self->gallery, "items-changed", G_CALLBACK (update_gallery_header), self);
  update_gallery_header (self);
}

GtkWidget *
graft_mistakes_gallery_new (void)
{
  return g_object_new (GRAFT_TYPE_MISTAKES_GALLERY, NULL);
}
