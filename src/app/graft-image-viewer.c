/* graft-image-viewer.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-image-viewer.h"

#include <glib/gi18n.h>

#include "graft-format.h"

struct _GraftImageViewer
{
  AdwWindow parent_instance;

  GraftProjectObject *project;
  char *path;
  gint64 image_id;             /* in the project, 0 when it is not there */
  char *predicted_name;

  /* Template children. */
  AdwWindowTitle *window_title;
  GtkPicture *picture;
  GtkLabel *verdict_label;
  GtkLabel *relabel_hint;
  GtkFlowBox *class_buttons;
};

G_DEFINE_FINAL_TYPE (GraftImageViewer, graft_image_viewer, ADW_TYPE_WINDOW)

/* About the width the picture has in the window (560 px wide). */
#define VIEW_SIZE 512

/* Shows the image at path. A small image (the sample's are 28 px) is first enlarged by a
 * whole factor, each pixel a square block, so that the picture's own smooth scaling does not
 * blur it: the pixels the model saw stay visible, as in the gallery's thumbnails. An image
 * GdkPixbuf cannot read goes to GtkPicture as it is. */
static void
show_picture (GraftImageViewer *self, const char *path)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new_from_file (path, NULL);
  g_autoptr (GdkPixbuf) oriented = NULL;
  g_autoptr (GdkPixbuf) scaled = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  int side, factor;

  if (pixbuf == NULL)
    {
      gtk_picture_set_filename (self->picture, path);
      return;
    }
  oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  side = MAX (gdk_pixbuf_get_width (oriented), gdk_pixbuf_get_height (oriented));
  factor = VIEW_SIZE * gtk_widget_get_scale_factor (GTK_WIDGET (self)) / MAX (side, 1);
  if (factor > 1)
    scaled = gdk_pixbuf_scale_simple (oriented, gdk_pixbuf_get_width (oriented) * factor,
                                      gdk_pixbuf_get_height (oriented) * factor, GDK_INTERP_NEAREST);
  texture = gdk_texture_new_for_pixbuf (scaled != NULL ? scaled : oriented);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
}

static void
show_label (GraftImageViewer *self, const char *label)
{
  g_autofree char *verdict = NULL;

  if (label != NULL && self->predicted_name != NULL && g_strcmp0 (label, self->predicted_name) != 0)
    /* Translators: in the image viewer: the image's label, then the class the model chose */
    verdict = g_strdup_printf (_("Labelled “%s”, predicted “%s”"), label, self->predicted_name);
  else if (label != NULL)
    /* Translators: in the image viewer: the label the model predicted too */
    verdict = g_strdup_printf (_("Labelled “%s”, predicted correctly"), label);
  else
    /* Translators: in the image viewer: an image without a label */
    verdict = g_strdup_printf (_("Unlabelled, predicted “%s”"), self->predicted_name != NULL ? self->predicted_name
                                                                                          : "?");
  gtk_label_set_label (self->verdict_label, verdict);
}

/* Highlights the button of the image's class (none when it is unlabelled), so that the person
 * sees which label a click would change. */
static void
mark_class (GraftImageViewer *self, gint64 class_id)
{
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->class_buttons)); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *button = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (c));
      gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (button), "graft-class-id"));

      if (id == class_id && class_id != 0)
        gtk_widget_add_css_class (button, "suggested-action");
      else
        gtk_widget_remove_css_class (button, "suggested-action");
    }
}

static void
on_class_clicked (GtkButton *button, GraftImageViewer *self)
{
  gint64 class_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (button), "graft-class-id"));
  g_autoptr (GError) error = NULL;
  GraftClassItem *klass;

  if (self->project == NULL || self->image_id == 0)
    return;
  if (!graft_project_object_set_labels (self->project, &self->image_id, 1, class_id, &error))
    {
      gtk_label_set_label (self->relabel_hint, error->message);
      return;
    }
  klass = graft_project_object_find_class (self->project, class_id);
  mark_class (self, class_id);
  show_label (self, klass != NULL ? graft_class_item_get_name (klass) : NULL);
  gtk_label_set_label (self->relabel_hint, _("Relabelled: the next run learns from the new label (Undo on the Data "
                                             "page takes it back)."));
}

static void
fill_class_buttons (GraftImageViewer *self)
{
  GtkWidget *child;
  GListModel *classes;
  GraftImageInfo info;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->class_buttons))) != NULL)
    gtk_flow_box_remove (self->class_buttons, child);
  if (self->project == NULL || self->image_id == 0)
    {
      gtk_label_set_label (self->relabel_hint, self->project == NULL
                                                 ? _("Open the run’s project to relabel its images.")
                                                 : _("This image is not in the open project."));
      return;
    }
  gtk_label_set_label (self->relabel_hint, _("A wrong label? Choose the right class:"));
  classes = graft_project_object_get_classes (self->project);
  for (guint i = 0; i < g_list_model_get_n_items (classes); i++)
    {
      g_autoptr (GraftClassItem) klass = g_list_model_get_item (classes, i);
      GtkWidget *button = gtk_button_new_with_label (graft_class_item_get_name (klass));

      gtk_widget_add_css_class (button, "pill");
      g_object_set_data (G_OBJECT (button), "graft-class-id", GSIZE_TO_POINTER (graft_class_item_get_id (klass)));
      g_signal_connect (button, "clicked", G_CALLBACK (on_class_clicked), self);
      gtk_flow_box_append (self->class_buttons, button);
    }
  if (graft_project_get_image (graft_project_object_get_project (self->project), self->image_id, &info, NULL))
    {
      mark_class (self, info.class_id);
      graft_image_info_clear (&info);
    }
}

void
graft_image_viewer_show (GraftImageViewer *self, GraftProjectObject *project, const char *path,
                         const char *true_name, const char *predicted_name, double confidence)
{
  g_autofree char *name = NULL;
  g_autofree char *percent = graft_format_percent (confidence);
  g_autofree char *subtitle = NULL;

  g_return_if_fail (GRAFT_IS_IMAGE_VIEWER (self));
  g_return_if_fail (path != NULL);

  g_set_object (&self->project, project);
  g_free (self->path);
  self->path = g_strdup (path);
  g_free (self->predicted_name);
  self->predicted_name = g_strdup (predicted_name);
  self->image_id = project != NULL ? graft_project_find_image (graft_project_object_get_project (project), path) : 0;

  name = g_filename_display_basename (path);
  /* Translators: under the image viewer's title: the model's confidence, "87 % confident" */
  subtitle = g_strdup_printf (_("%s confident"), percent);
  adw_window_title_set_title (self->window_title, name);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  show_picture (self, path);
  gtk_picture_set_alternative_text (self->picture, name);
  show_label (self, true_name);
  fill_class_buttons (self);
}

const char *
graft_image_viewer_get_path (GraftImageViewer *self)
{
  g_return_val_if_fail (GRAFT_IS_IMAGE_VIEWER (self), NULL);
  return self->path;
}

static void
graft_image_viewer_dispose (GObject *object)
{
  GraftImageViewer *self = GRAFT_IMAGE_VIEWER (object);

  g_clear_object (&self->project);
  G_OBJECT_CLASS (graft_image_viewer_parent_class)->dispose (object);
}

static void
graft_image_viewer_finalize (GObject *object)
{
  GraftImageViewer *self = GRAFT_IMAGE_VIEWER (object);

  g_free (self->path);
  g_free (self->predicted_name);
  G_OBJECT_CLASS (graft_image_viewer_parent_class)->finalize (object);
}

static void
graft_image_viewer_class_init (GraftImageViewerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_image_viewer_dispose;
  object_class->finalize = graft_image_viewer_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-image-viewer.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftImageViewer, window_title);
  gtk_widget_class_bind_template_child (widget_class, GraftImageViewer, picture);
  gtk_widget_class_bind_template_child (widget_class, GraftImageViewer, verdict_label);
  gtk_widget_class_bind_template_child (widget_class, GraftImageViewer, relabel_hint);
  gtk_widget_class_bind_template_child (widget_class, GraftImageViewer, class_buttons);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
graft_image_viewer_init (GraftImageViewer *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GraftImageViewer *
graft_image_viewer_new (GtkWindow *parent)
{
  return g_object_new (GRAFT_TYPE_IMAGE_VIEWER, "transient-for", parent, NULL);
}
