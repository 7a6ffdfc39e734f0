/* graft-class-table.c
 *
 * One row object per class (GraftClassTableRow, private to this file) in a GListStore,
 * behind the column view's sorter.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-class-table.h"

#include <glib/gi18n.h>

/* --- a row -------------------------------------------------------------------------- */

#define GRAFT_TYPE_CLASS_TABLE_ROW (graft_class_table_row_get_type ())
G_DECLARE_FINAL_TYPE (GraftClassTableRow, graft_class_table_row, GRAFT, CLASS_TABLE_ROW, GObject)

struct _GraftClassTableRow
{
  GObject parent_instance;

  char *name;
  double precision, recall, f1;
  guint support;
};

G_DEFINE_FINAL_TYPE (GraftClassTableRow, graft_class_table_row, G_TYPE_OBJECT)

enum { ROW_PROP_0, ROW_PROP_NAME, ROW_PROP_PRECISION, ROW_PROP_RECALL, ROW_PROP_F1, ROW_PROP_SUPPORT, ROW_N_PROPS };
static GParamSpec *row_properties[ROW_N_PROPS];

static void
graft_class_table_row_finalize (GObject *object)
{
  g_free (GRAFT_CLASS_TABLE_ROW (object)->name);
  G_OBJECT_CLASS (graft_class_table_row_parent_class)->finalize (object);
}

static void
graft_class_table_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftClassTableRow *self = GRAFT_CLASS_TABLE_ROW (object);

  switch (prop_id)
    {
    case ROW_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case ROW_PROP_PRECISION:
      g_value_set_double (value, self->precision);
      break;
    case ROW_PROP_RECALL:
      g_value_set_double (value, self->recall);
      break;
    case ROW_PROP_F1:
      g_value_set_double (value, self->f1);
      break;
    case ROW_PROP_SUPPORT:
      g_value_set_uint (value, self->support);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_class_table_row_class_init (GraftClassTableRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = graft_class_table_row_finalize;
  object_class->get_property = graft_class_table_row_get_property;
  row_properties[ROW_PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  row_properties[ROW_PROP_PRECISION] = g_param_spec_double ("precision", NULL, NULL, 0, 1, 0, flags);
  row_properties[ROW_PROP_RECALL] = g_param_spec_double ("recall", NULL, NULL, 0, 1, 0, flags);
  row_properties[ROW_PROP_F1] = g_param_spec_double ("f1", NULL, NULL, 0, 1, 0, flags);
  row_properties[ROW_PROP_SUPPORT] = g_param_spec_uint ("support", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, ROW_N_PROPS, row_properties);
}

static void
graft_class_table_row_init (GraftClassTableRow *self)
{
}

/* --- the table ---------------------------------------------------------------------- */

struct _GraftClassTable
{
  AdwBin parent_instance;

  GListStore *rows;          /* GraftClassTableRow */

  /* Template children. */
  GtkScrolledWindow *scroller;
  GtkColumnView *class_view;
};

G_DEFINE_FINAL_TYPE (GraftClassTable, graft_class_table, ADW_TYPE_BIN)

static void
class_cell_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const char *property = user_data;
  GtkWidget *label = gtk_label_new (NULL);

  if (g_str_equal (property, "name"))
    {
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
    }
  else
    {
      gtk_label_set_xalign (GTK_LABEL (label), 1);
      gtk_widget_add_css_class (label, "numeric");
    }
  gtk_list_item_set_child (item, label);
}

static void
class_cell_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const char *property = user_data;
  GraftClassTableRow *row = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  g_autofree char *text = NULL;

  if (g_str_equal (property, "name"))
    text = g_strdup (row->name);
  else if (g_str_equal (property, "support"))
    text = g_strdup_printf ("%u", row->support);
  else
    {
      double value = g_str_equal (property, "precision") ? row->precision
                     : g_str_equal (property, "recall")  ? row->recall
                                                         : row->f1;
      text = g_strdup_printf ("%.2f", value);
    }
  gtk_label_set_label (GTK_LABEL (label), text);
  gtk_widget_set_tooltip_text (label, g_str_equal (property, "name") ? row->name : NULL);
}

static void
add_column (GraftClassTable *self, const char *title, const char *property, gboolean expand)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *column;
  GtkExpression *expression = gtk_property_expression_new (GRAFT_TYPE_CLASS_TABLE_ROW, NULL, property);
  GtkSorter *sorter;

  g_signal_connect (factory, "setup", G_CALLBACK (class_cell_setup), (gpointer) property);
  g_signal_connect (factory, "bind", G_CALLBACK (class_cell_bind), (gpointer) property);
  column = gtk_column_view_column_new (title, factory);
  if (g_str_equal (property, "name"))
    sorter = GTK_SORTER (gtk_string_sorter_new (expression));
  else
    /* The first click sorts lowest first: the weakest classes on top. */
    sorter = GTK_SORTER (gtk_numeric_sorter_new (expression));
  gtk_column_view_column_set_sorter (column, sorter);
  gtk_column_view_column_set_expand (column, expand);
  gtk_column_view_append_column (self->class_view, column);
  g_object_unref (sorter);
  g_object_unref (column);
}

void
graft_class_table_set_metrics (GraftClassTable *self, const GraftMetrics *metrics, const char *const *names)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_if_fail (GRAFT_IS_CLASS_TABLE (self));

  for (int c = 0; metrics != NULL && c < metrics->classes; c++)
    {
      GraftClassTableRow *row = g_object_new (GRAFT_TYPE_CLASS_TABLE_ROW, NULL);
      GraftClassMetrics cm = graft_metrics_class (metrics, c);
      row->name = g_strdup (names != NULL && names[c] != NULL ? names[c] : "?");
      row->precision = cm.precision;
      row->recall = cm.recall;
      row->f1 = cm.f1;
      row->support = (guint) cm.support;
      g_ptr_array_add (rows, row);
    }
  g_list_store_splice (self->rows, 0, g_list_model_get_n_items (G_LIST_MODEL (self->rows)), rows->pdata, rows->len);
}

static void
graft_class_table_dispose (GObject *object)
{
  GraftClassTable *self = GRAFT_CLASS_TABLE (object);

  if (self->class_view != NULL)
    gtk_column_view_set_model (self->class_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_CLASS_TABLE);
  g_clear_object (&self->rows);
  G_OBJECT_CLASS (graft_class_table_parent_class)->dispose (object);
}

static void
graft_class_table_class_init (GraftClassTableClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_class_table_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-class-table.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftClassTable, scroller);
  gtk_widget_class_bind_template_child (widget_class, GraftClassTable, class_view);
}

static void
graft_class_table_init (GraftClassTable *self)
{
  GtkSortListModel *sorted;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_list_store_new (GRAFT_TYPE_CLASS_TABLE_ROW);
  add_column (self, _("Class"), "name", TRUE);
  add_column (self, _("Precision"), "precision", FALSE);
  add_column (self, _("Recall"), "recall", FALSE);
  add_column (self, _("F1"), "f1", FALSE);
  /* Translators: a column: the number of validation images of the class */
  add_column (self, _("Images"), "support", FALSE);
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->rows)),
                                    g_object_ref (gtk_column_view_get_sorter (self->class_view)));
  gtk_column_view_set_model (self->class_view, GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (sorted))));
}

GtkWidget *
graft_class_table_new (void)
{
  return g_object_new (GRAFT_TYPE_CLASS_TABLE, NULL);
}
